/*
 * test_search.c — spec search and answer picking (runtime/search.h) on the
 * std mbnet space with a predictor fitted to a synthetic truth (accuracy a
 * smooth function of MACs, as in test_predictor) and this host's latency
 * table: constraints hold, the front is non-dominated and beats random
 * sampling, four objectives switch to NSGA-III, infeasible specs get the
 * nearest subnet, and missing metric sources are named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/cost.h"
#include "runtime/search.h"
#include "tests/unit/util_arch.h"
#include "util_near.h"

#define NCLASSES 10

typedef struct fixture {
	ir_module *mod;
	search_ctx ctx;
	pred_model *pred;
	lat_table *lut;
} fixture;

static double truth(const ir_space *s, const sn_subnet *sub)
{
	search_metrics m;
	assert_int_equal(search_metrics_compute(s, NCLASSES, sub, NULL, &m), 0);
	return 0.75 + 0.15 * tanh((log(m.macs) - 15.8) / 0.5);
}

static int setup(void **state)
{
	fixture *F = calloc(1, sizeof(*F));
	F->mod = ua_compile("import \"std/spaces.arch\";\n"
			    "import \"std/datasets.arch\";\n"
			    "task t { data = fashion_mnist; space = mbnet; }\n");
	if (!F->mod)
		return -1;
	const ir_space *s = &F->mod->spaces[0];
	int d = pred_encode_width(s), n = 120;
	double *x = malloc((size_t)n * d * sizeof(double)), y[120];
	rt_rng r;
	rt_rng_seed(&r, 31);
	for (int i = 0; i < n; i++) {
		sn_subnet sub;
		sn_subnet_random(s, &r, &sub);
		pred_encode(s, &sub, x + (size_t)i * d);
		y[i] = truth(s, &sub) + 0.005 * rt_rng_normal(&r);
	}
	pred_settings ps;
	pred_settings_init(&ps);
	ps.kind = PRED_KIND_RBF;
	char err[256];
	F->pred = pred_train(&ps, n, d, x, y, err, sizeof(err));
	free(x);
	F->lut = lat_table_new("test", "0");
	if (!F->pred || !F->lut ||
	    lat_table_build(F->lut, s, NCLASSES, s->resolution, 1, NULL, NULL, err, sizeof(err)) < 0)
		return -1;
	search_ctx c = {.space = s, .nclasses = NCLASSES, .predictor = F->pred, .lut = F->lut,
			.in_res = s->resolution};
	F->ctx = c;
	*state = F;
	return 0;
}

static int teardown(void **state)
{
	fixture *F = *state;
	pred_model_free(F->pred);
	lat_table_free(F->lut);
	ir_module_free(F->mod);
	free(F);
	return 0;
}

static ir_metric acc_macs_m[] = {IR_METRIC_ACCURACY, IR_METRIC_MACS};
static int acc_macs_max[] = {1, 0};
static const ir_objective acc_macs = {"acc_macs", 2, acc_macs_m, acc_macs_max};

static search_eval ev(double acc, double macs, double lat)
{
	search_eval e = {{0}};
	e.v[IR_METRIC_ACCURACY] = acc;
	e.v[IR_METRIC_MACS] = macs;
	e.v[IR_METRIC_LATENCY] = lat;
	e.v[IR_METRIC_PARAMS] = NAN;
	return e;
}

static void test_violation_by_hand(void **state)
{
	(void)state;
	ir_constraint c[3] = {{IR_METRIC_MACS, IR_CMP_LE, 2e6},
			      {IR_METRIC_ACCURACY, IR_CMP_GE, 0.8},
			      {IR_METRIC_LATENCY, IR_CMP_EQ, 0}};
	search_eval e = ev(0.6, 3e6, 0.5e-3);
	/* (3M - 2M) / 2M = 0.5; (0.8 - 0.6) / 0.8 = 0.25; |0.5ms - 0| / 1. */
	assert_near(search_violation(&e, c, 1), 0.5, 1e-12);
	assert_near(search_violation(&e, c + 1, 1), 0.25, 1e-12);
	assert_near(search_violation(&e, c, 3), 0.75 + 0.5e-3, 1e-12);
	e = ev(0.9, 1e6, 0);
	assert_near(search_violation(&e, c, 3), 0, 0);
	/* A metric nobody measured violates what reads it. */
	ir_constraint p = {IR_METRIC_PARAMS, IR_CMP_LE, 5e4};
	assert_near(search_violation(&e, &p, 1), 1, 0);
}

static void test_pick_by_hand(void **state)
{
	(void)state;
	search_eval c[4] = {ev(0.90, 3e6, 2e-3), ev(0.85, 1.5e6, 0.9e-3), ev(0.85, 1.2e6, 0.8e-3),
			    ev(0.80, 0.5e6, 0.4e-3)};
	ir_constraint spec[2] = {{IR_METRIC_MACS, IR_CMP_LE, 2e6},
				 {IR_METRIC_LATENCY, IR_CMP_LE, 1e-3}};
	int near, tight;
	/* 0 misses both; 1 and 2 tie on accuracy, 2 has fewer MACs. */
	assert_int_equal(search_pick(c, 4, &acc_macs, spec, 2, &near, &tight), 2);
	assert_int_equal(near, -1);
	/* No constraint: the most accurate. */
	assert_int_equal(search_pick(c, 4, &acc_macs, NULL, 0, &near, &tight), 0);
	/* Nothing has 100K MACs and 0.1 ms: the nearest is 3 (violation
	 * 4 + 3), and it misses the MACs bound by the most: (0.5M - 0.1M) /
	 * 0.1M = 4 against (0.4 ms - 0.1 ms) / 0.1 ms = 3 for latency. */
	ir_constraint hard[2] = {{IR_METRIC_MACS, IR_CMP_LE, 1e5},
				 {IR_METRIC_LATENCY, IR_CMP_LE, 1e-4}};
	assert_int_equal(search_pick(c, 4, &acc_macs, hard, 2, &near, &tight), -1);
	assert_int_equal(near, 3);
	assert_int_equal(tight, 0);
	assert_int_equal(search_pick(c, 0, &acc_macs, hard, 2, &near, &tight), -1);
	assert_int_equal(near, -1);
}

static moo_settings settings(int pop, int gens)
{
	moo_settings ms;
	moo_settings_init(&ms);
	ms.pop = pop;
	ms.generations = gens;
	ms.seed = 3;
	return ms;
}

/* Max accuracy, min MACs, MACs <= the median subnet's: every member meets
 * it, none dominates another, and the most accurate one beats 400 random
 * feasible subnets (the same evaluation budget as the search). */
static void test_constrained_front(void **state)
{
	fixture *F = *state;
	const ir_space *s = F->ctx.space;
	sn_plan *plan = malloc(sizeof(*plan));
	double macs[401];
	search_eval rnd[400];
	rt_rng r;
	rt_rng_seed(&r, 8);
	char err[256];
	for (int i = 0; i < 400; i++) {
		sn_subnet sub;
		sn_subnet_random(s, &r, &sub);
		assert_int_equal(search_evaluate(&F->ctx, &sub, plan, &rnd[i], err, sizeof(err)), 0);
		macs[i] = rnd[i].v[IR_METRIC_MACS];
	}
	double sorted[400];
	memcpy(sorted, macs, sizeof(sorted));
	for (int i = 1; i < 400; i++)
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			double t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	ir_constraint spec = {IR_METRIC_MACS, IR_CMP_LE, sorted[200]};
	double best_random = 0;
	for (int i = 0; i < 400; i++)
		if (macs[i] <= spec.value && rnd[i].v[IR_METRIC_ACCURACY] > best_random)
			best_random = rnd[i].v[IR_METRIC_ACCURACY];

	moo_settings ms = settings(40, 9);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	search_result *res = search_run(&F->ctx, &acc_macs, &spec, 1, &ms, NULL, 0, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!res)
		fail_msg("%s", err);
	double ms_taken = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(res->feasible);
	assert_int_equal(res->evaluations, 400);
	assert_int_equal(res->algo, MOO_ALGO_NSGA2);
	double best = 0;
	for (int a = 0; a < res->n; a++) {
		const search_eval *e = &res->evals[a];
		assert_true(e->v[IR_METRIC_MACS] <= spec.value);
		assert_true(e->v[IR_METRIC_LATENCY] > 0);
		for (int b = 0; b < res->n; b++) {
			const search_eval *o = &res->evals[b];
			int dominates = o->v[IR_METRIC_ACCURACY] >= e->v[IR_METRIC_ACCURACY] &&
					o->v[IR_METRIC_MACS] <= e->v[IR_METRIC_MACS] &&
					(o->v[IR_METRIC_ACCURACY] > e->v[IR_METRIC_ACCURACY] ||
					 o->v[IR_METRIC_MACS] < e->v[IR_METRIC_MACS]);
			assert_false(dominates);
		}
		if (e->v[IR_METRIC_ACCURACY] > best)
			best = e->v[IR_METRIC_ACCURACY];
	}
	printf("# macs <= %.0f: %d on the front in %.1f ms (400 evaluations); best predicted "
	       "accuracy %.4f, best of 400 random %.4f\n",
	       spec.value, res->n, ms_taken, best, best_random);
	assert_true(best >= best_random);
	search_result_free(res);
	free(plan);
}

static void test_latency_constraint(void **state)
{
	fixture *F = *state;
	sn_subnet sub;
	sn_subnet_min(F->ctx.space, &sub);
	sn_plan *plan = malloc(sizeof(*plan));
	search_eval e;
	char err[256];
	assert_int_equal(search_evaluate(&F->ctx, &sub, plan, &e, err, sizeof(err)), 0);
	/* Twice the smallest subnet's predicted latency: reachable. */
	ir_constraint spec = {IR_METRIC_LATENCY, IR_CMP_LE, 2 * e.v[IR_METRIC_LATENCY]};
	moo_settings ms = settings(20, 5);
	search_result *res = search_run(&F->ctx, &acc_macs, &spec, 1, &ms, &sub, 1, err, sizeof(err));
	assert_non_null(res);
	assert_true(res->feasible);
	for (int a = 0; a < res->n; a++)
		assert_true(res->evals[a].v[IR_METRIC_LATENCY] <= spec.value);
	search_result_free(res);
	free(plan);
}

static void test_four_objectives(void **state)
{
	fixture *F = *state;
	ir_metric m[4] = {IR_METRIC_ACCURACY, IR_METRIC_MACS, IR_METRIC_LATENCY, IR_METRIC_MEMORY};
	int mx[4] = {1, 0, 0, 0};
	ir_objective obj = {"four", 4, m, mx};
	moo_settings ms = settings(20, 3);
	char err[256];
	search_result *res = search_run(&F->ctx, &obj, NULL, 0, &ms, NULL, 0, err, sizeof(err));
	assert_non_null(res);
	assert_int_equal(res->algo, MOO_ALGO_NSGA3);
	assert_true(res->feasible && res->n >= 1);
	search_result_free(res);
}

static void test_infeasible_and_missing(void **state)
{
	fixture *F = *state;
	char err[256];
	moo_settings ms = settings(12, 3);
	ir_constraint impossible = {IR_METRIC_MACS, IR_CMP_LE, 1};
	search_result *res =
		search_run(&F->ctx, &acc_macs, &impossible, 1, &ms, NULL, 0, err, sizeof(err));
	assert_non_null(res);
	assert_false(res->feasible);
	assert_int_equal(res->n, 1);
	search_result_free(res);

	search_ctx no_lut = F->ctx;
	no_lut.lut = NULL;
	ir_constraint lat = {IR_METRIC_LATENCY, IR_CMP_LE, 1e-3};
	assert_null(search_run(&no_lut, &acc_macs, &lat, 1, &ms, NULL, 0, err, sizeof(err)));
	assert_string_equal(err, "latency is needed but there is no latency table");
	search_ctx no_pred = F->ctx;
	no_pred.predictor = NULL;
	assert_null(search_run(&no_pred, &acc_macs, NULL, 0, &ms, NULL, 0, err, sizeof(err)));
	assert_string_equal(err, "accuracy is needed but there is no accuracy predictor");
	ir_objective empty = {"none", 0, NULL, NULL};
	assert_null(search_run(&F->ctx, &empty, NULL, 0, &ms, NULL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "no terms"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_violation_by_hand),
		cmocka_unit_test(test_pick_by_hand),
		cmocka_unit_test(test_constrained_front),
		cmocka_unit_test(test_latency_constraint),
		cmocka_unit_test(test_four_objectives),
		cmocka_unit_test(test_infeasible_and_missing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
