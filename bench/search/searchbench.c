/*
 * searchbench.c — how fast a spec is answered, for bench/search/run.
 *
 *   searchbench AIR SPACE
 *
 * On SPACE (10 classes, images of its largest side), with an accuracy
 * predictor (auto: MLP or RBF by 5-fold Kendall tau) fitted to 200 random
 * subnets and this host's latency table:
 *   1. a warm archive: the front of one unconstrained search over
 *      (accuracy, MACs, latency), population 100, 50 generations;
 *   2. answers from it to 1,000 random specs (MACs and latency bounds);
 *   3. targeted searches for 20 random specs (population 40, 10
 *      generations, seeded with the archive's members);
 *   4. for scale, OFA's evolution finder's budget (population 100, 500
 *      generations) with the same predictor.
 * Accuracies are synthetic (0.75 + 0.15 tanh((ln MACs - mean) / 0.5) plus
 * noise): without a trained supernet they stand in for measured ones, and
 * the times do not depend on their values.  Prints key=value lines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/ir.h"
#include "runtime/archive.h"
#include "runtime/cost.h"
#include "runtime/search.h"

#define NCLASSES 10
#define NTRAIN 200
#define NSPECS 1000
#define NTARGETED 20

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "searchbench: %s: %s\n", what, err);
	exit(1);
}

/* Median and maximum of v[0..n) (sorts v). */
static void stats(double *v, int n, double *med, double *max)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	*med = v[n / 2];
	*max = v[n - 1];
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: searchbench AIR SPACE\n");
		return 1;
	}
	char err[512];
	ir_module *mod = ir_binary_load(argv[1], err, sizeof(err));
	if (!mod)
		die(argv[1], err);
	const ir_space *s = NULL;
	for (int i = 0; i < mod->nspaces; i++)
		if (strcmp(mod->spaces[i].name, argv[2]) == 0)
			s = &mod->spaces[i];
	if (!s || sn_space_check(s, NCLASSES, err, sizeof(err)) != 0)
		die(argv[2], s ? err : "no such space");

	/* Synthetic training pairs, centred on the space's own MACs. */
	int d = pred_encode_width(s);
	double *x = malloc((size_t)NTRAIN * d * sizeof(double)), y[NTRAIN], lm[NTRAIN], mean = 0;
	sn_plan *plan = malloc(sizeof(*plan));
	if (!x || !plan)
		die("memory", "out of memory");
	rt_rng r;
	rt_rng_seed(&r, 2026);
	for (int i = 0; i < NTRAIN; i++) {
		sn_subnet sub;
		search_metrics m;
		sn_subnet_random(s, &r, &sub);
		search_metrics_compute(s, NCLASSES, &sub, plan, &m);
		pred_encode(s, &sub, x + (size_t)i * d);
		lm[i] = log(m.macs);
		mean += lm[i] / NTRAIN;
	}
	for (int i = 0; i < NTRAIN; i++)
		y[i] = 0.75 + 0.15 * tanh((lm[i] - mean) / 0.5) + 0.005 * rt_rng_normal(&r);
	pred_settings ps;
	pred_settings_init(&ps);
	double t0 = now_s();
	pred_model *pred = pred_train(&ps, NTRAIN, d, x, y, err, sizeof(err));
	if (!pred)
		die("predictor", err);
	printf("space=%s\npredictor=%s\npredictor_train_s=%.2f\n", s->name,
	       pred_kind_names[pred_model_kind(pred)], now_s() - t0);

	lat_table *lut = lat_table_new("bench", "0");
	t0 = now_s();
	if (!lut || lat_table_build(lut, s, NCLASSES, s->resolution, 5, NULL, NULL, err,
				    sizeof(err)) < 0)
		die("latency table", err);
	/* calibrated as archd's tables are (lat_table_open), so the latency
	 * constraints below are judged on the same predictions */
	if (lat_table_calibrate(lut, s, NCLASSES, s->resolution, 5, err, sizeof(err)) < 0)
		die("latency calibration", err);
	double scale = 1;
	lat_table_calibration(lut, s, s->resolution, &scale);
	printf("lut_entries=%d\nlut_build_s=%.2f\nlut_scale=%.3f\n", lat_table_size(lut),
	       now_s() - t0, scale);

	search_ctx ctx = {.space = s, .nclasses = NCLASSES, .predictor = pred, .lut = lut,
			  .in_res = s->resolution};
	ir_metric mt[3] = {IR_METRIC_ACCURACY, IR_METRIC_MACS, IR_METRIC_LATENCY};
	int mx[3] = {1, 0, 0};
	ir_objective obj = {"default", 3, mt, mx};
	moo_settings ms;
	moo_settings_init(&ms);
	ms.pop = 100;
	ms.generations = 50;
	t0 = now_s();
	search_result *front = search_run(&ctx, &obj, NULL, 0, &ms, NULL, 0, err, sizeof(err));
	if (!front)
		die("archive search", err);
	double archive_s = now_s() - t0;
	search_archive *arch = search_archive_new(s);
	for (int i = 0; i < front->n; i++) {
		search_member m = {.sub = front->subs[i], .eval = front->evals[i],
				   .predicted = front->evals[i].v[IR_METRIC_ACCURACY]};
		if (!arch || search_archive_add(arch, &m) < 0)
			die("archive", "out of memory");
	}
	printf("archive_members=%d\narchive_search_s=%.2f\n", search_archive_size(arch), archive_s);

	/* Spec bounds drawn between the archive's smallest and largest. */
	double lo[2] = {INFINITY, INFINITY}, hi[2] = {0, 0};
	ir_metric bounded[2] = {IR_METRIC_MACS, IR_METRIC_LATENCY};
	for (int i = 0; i < search_archive_size(arch); i++)
		for (int k = 0; k < 2; k++) {
			double v = search_archive_member(arch, i)->eval.v[bounded[k]];
			lo[k] = v < lo[k] ? v : lo[k];
			hi[k] = v > hi[k] ? v : hi[k];
		}
	double *tv = malloc(NSPECS * sizeof(double));
	int answered = 0;
	for (int q = 0; q < NSPECS; q++) {
		ir_constraint c[2];
		for (int k = 0; k < 2; k++) {
			c[k].metric = bounded[k];
			c[k].cmp = IR_CMP_LE;
			c[k].value = lo[k] + rt_rng_uniform(&r) * (hi[k] - lo[k]);
		}
		int near, tight;
		t0 = now_s();
		int a = search_archive_answer(arch, &obj, c, 2, &near, &tight);
		tv[q] = now_s() - t0;
		answered += a >= 0;
	}
	double med, max;
	stats(tv, NSPECS, &med, &max);
	printf("archive_answer_median_us=%.2f\narchive_answer_max_us=%.2f\narchive_answered=%d/%d\n",
	       med * 1e6, max * 1e6, answered, NSPECS);

	sn_subnet *seeds = malloc((size_t)search_archive_size(arch) * sizeof(sn_subnet));
	int nseeds = search_archive_size(arch) < 40 ? search_archive_size(arch) : 40;
	for (int i = 0; i < nseeds; i++)
		seeds[i] = search_archive_member(arch, i)->sub;
	ms.pop = 40;
	ms.generations = 10;
	int feasible = 0;
	for (int q = 0; q < NTARGETED; q++) {
		ir_constraint c[2];
		for (int k = 0; k < 2; k++) {
			c[k].metric = bounded[k];
			c[k].cmp = IR_CMP_LE;
			c[k].value = lo[k] + rt_rng_uniform(&r) * (hi[k] - lo[k]);
		}
		ms.seed = (uint64_t)q + 1;
		t0 = now_s();
		search_result *res = search_run(&ctx, &obj, c, 2, &ms, seeds, nseeds, err, sizeof(err));
		tv[q] = now_s() - t0;
		if (!res)
			die("targeted search", err);
		feasible += res->feasible;
		search_result_free(res);
	}
	stats(tv, NTARGETED, &med, &max);
	printf("targeted_search_median_ms=%.1f\ntargeted_search_max_ms=%.1f\n"
	       "targeted_feasible=%d/%d\n",
	       med * 1e3, max * 1e3, feasible, NTARGETED);

	ms.pop = 100;
	ms.generations = 500;
	ms.seed = 1;
	t0 = now_s();
	search_result *big = search_run(&ctx, &obj, NULL, 0, &ms, NULL, 0, err, sizeof(err));
	if (!big)
		die("OFA-budget search", err);
	printf("ofa_budget_search_s=%.2f\nofa_budget_evaluations=%ld\n", now_s() - t0,
	       big->evaluations);
	search_result_free(big);
	search_result_free(front);
	search_archive_free(arch);
	lat_table_free(lut);
	pred_model_free(pred);
	free(seeds);
	free(tv);
	free(plan);
	free(x);
	ir_module_free(mod);
	return 0;
}
