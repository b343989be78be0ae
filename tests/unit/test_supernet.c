/*
 * test_supernet.c — the supernet on tiny hand-built spaces
 * (util_supernet_fixture.h): gene strings, exact costs, a whole-network
 * gradient check for non-largest subnets of both spaces, weight sharing,
 * and batch-norm recalibration touching statistics only.
 *
 * Gradient check: L = sum_i r_i logits_i (r seeded) in TRAIN mode at batch
 * 2, so dlogits = r; 12 entries of every parameter tensor are compared with
 * central differences of step 1e-3 (net_check: relative error 2e-2, plus
 * 1e-2 times the tensor's largest gradient, plus 4e-5 for the rounding
 * noise of a float32 central difference through a dozen layers, measured at
 * about 1.5e-5 on these spaces; ug_check's per-op floor is tighter).
 * The layers' ReLUs are swapped for h-swish there: with a few hundred ReLU
 * inputs per weight, a central difference of step 1e-3 straddles a kink
 * often enough to miss by 10% (RESIDUAL's and SE's fixed ReLUs stay; ReLU's
 * own backward is checked in test_ops_grad).
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

#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"
#include "util_grad.h"
#include "util_supernet_fixture.h"

#define C 2
#define R 6
#define NCLS 3

/* The gene vector used by the gradient check: smaller resolution, both
 * stages at full depth, mixed kernels (including the 7 -> 5 -> 3 chain),
 * mixed expands, the smaller width. */
static const char *const GRAD_GENES = "r4:d2,2:k3,5,5,3:e2,3,3,2:w4";

static void test_gene_string(void **state)
{
	(void)state;
	ir_space *s = tiny_space(C, R);
	char err[256], buf[SN_GENE_STRLEN];
	sn_subnet a, b;
	assert_int_equal(sn_space_check(s, NCLS, err, sizeof err), 0);
	sn_subnet_max(s, &a);
	assert_true(sn_subnet_format(s, &a, buf, sizeof buf) > 0);
	assert_string_equal(buf, "r6:d2,2:k5,5,7,7:e3,3,3,3:w6");
	sn_subnet_min(s, &a);
	sn_subnet_format(s, &a, buf, sizeof buf);
	assert_string_equal(buf, "r4:d1,1:k3,3,3,3:e2,2,2,2:w4");
	rt_rng rng;
	rt_rng_seed(&rng, 7);
	for (int i = 0; i < 50; i++) {
		sn_subnet_random(s, &rng, &a);
		sn_subnet_format(s, &a, buf, sizeof buf);
		assert_int_equal(sn_subnet_parse(s, buf, &b, err, sizeof err), 0);
		assert_true(sn_subnet_equal(&a, &b));
	}
	/* errors name the offending part */
	assert_int_equal(sn_subnet_parse(s, "r6:d2,3:k5,5,7,7:e3,3,3,3:w6", &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "s2.depth = 3 is not one of {1, 2}"));
	assert_int_equal(sn_subnet_parse(s, "r6:d2,2:k5,5,7:e3,3,3,3:w6", &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "too few values"));
	assert_int_equal(sn_subnet_parse(s, "r6:d2,2:x5:k5,5,7,7:e3,3,3,3:w6", &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "'x5'"));
	assert_int_equal(sn_subnet_parse(s, "r6:d2,2:k5,5,7,7:e3,3,3,3", &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "group 'w' is missing"));
	assert_int_equal(sn_subnet_parse(s, "r6:d2,2,1:k5,5,7,7:e3,3,3,3:w6", &b, err, sizeof err), -1);
	assert_non_null(strstr(err, "too many"));
	assert_int_equal(sn_subnet_parse_spec(s, "random:x", &b, err, sizeof err), -1);
	assert_int_equal(sn_subnet_parse_spec(s, "random:12", &b, err, sizeof err), 0);
	/* numbers as sn_subnet_format writes them: "inf" matched any value */
	static const char *const odd[] = {
		"rinf:d2,2:k5,5,7,7:e3,3,3,3:w6", "r6:d2,2:k5,5,7,7:e3,3,3,3:wnan",
		"r0x6:d2,2:k5,5,7,7:e3,3,3,3:w6", "r 6:d2,2:k5,5,7,7:e3,3,3,3:w6",
		"r+6:d2,2:k5,5,7,7:e3,3,3,3:w6",  "r6:d2,2:k5,5,7,7:e3,3,3,3:w6:",
	};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		if (sn_subnet_parse(s, odd[i], &b, err, sizeof err) != -1)
			fail_msg("'%s' was taken", odd[i]);
	}
	assert_non_null(strstr(err, "ends with ':'"));
	assert_int_equal(sn_subnet_parse(s, "r6.0:d2,2:k5,5,7,7:e3,3,3,3:w6", &b, err, sizeof err), 0);
	tiny_space_free(s);
}

static void test_cost(void **state)
{
	(void)state;
	ir_space *s = tiny_space(C, R);
	sn_subnet sub;
	sn_plan plan;
	sn_cost cost;
	sn_subnet_min(s, &sub);
	sn_plan_build(s, NCLS, &sub, &plan);
	sn_plan_cost(s, &plan, &cost);
	/* min: res 4; stem 4x4 conv 3x3 2->4; s1.b0 4->8 (e2) at 4x4, dw3 s2
	 * -> 2x2, 8->6; s2.b0 6->12 at 2x2, dw3, SE 12/3, 12->4; fc 4->3 */
	double macs = 16.0 * 9 * 2 * 4 + (16.0 * 4 * 8 + 4.0 * 9 * 8 + 4.0 * 8 * 6) +
		      (4.0 * 6 * 12 + 4.0 * 9 * 12 + 2.0 * 12 * 3 + 4.0 * 12 * 4) + 4 * 3;
	double params = (9.0 * 2 * 4 + 8) + (4.0 * 8 + 16 + 9 * 8 + 16 + 8 * 6 + 12) +
			(6.0 * 12 + 24 + 9 * 12 + 24 + 2 * 12 * 3 + 3 + 12 + 12 * 4 + 8) +
			(4.0 * 3 + 3);
	assert_true(fabs(cost.macs - macs) < 0.5);
	assert_true(fabs(cost.params - params) < 0.5);
	sn_subnet_max(s, &sub);
	sn_plan_build(s, NCLS, &sub, &plan);
	assert_int_equal(plan.layer[3].shortcut, 1);
	assert_int_equal(plan.layer[1].shortcut, 0);
	assert_int_equal(plan.layer[3].mid, 18);
	assert_int_equal(plan.layer[3].se_r, 4);
	tiny_space_free(s);
}

typedef struct gctx {
	sn_supernet *sn;
	const float *x;
	const float *r;
	int n;
} gctx;

static double loss_fn(void *ctx)
{
	gctx *g = ctx;
	const float *y = sn_supernet_forward(g->sn, g->x, g->n, RT_BN_MODE_TRAIN);
	return ug_dot(y, g->r, (size_t)g->n * NCLS);
}

/* Like ug_check, with the step and noise floor of a whole network (above);
 * returns how many of the sampled entries of param[0, n) fail. */
static int net_check(const char *what, gctx *g, float *param, size_t n, const float *grad,
		     double scale, rt_rng *rng)
{
	int fails = 0, count = n < 12 ? (int)n : 12;
	for (int s = 0; s < count; s++) {
		size_t i = n < 12 ? (size_t)s : rt_rng_below(rng, n);
		float p0 = param[i], pp = p0 + 1e-3f, pm = p0 - 1e-3f;
		param[i] = pp;
		double lp = loss_fn(g);
		param[i] = pm;
		double lm = loss_fn(g);
		param[i] = p0;
		double num = (lp - lm) / ((double)pp - (double)pm), ana = grad[i];
		double tol = 2e-2 * fmax(fabs(num), fabs(ana)) + 1e-2 * scale + 4e-5;
		if (!(fabs(num - ana) <= tol)) {
			print_message("# %s[%zu]: numeric %.6g analytic %.6g (tol %.3g)\n", what, i,
				      num, ana, tol);
			fails++;
		}
	}
	return fails;
}

static void grad_check(ir_space *(*make)(int, int), const char *genes)
{
	ir_space *s = make(C, R);
	for (int i = 0; i < s->nlayers; i++)
		if (s->layers[i].act == IR_ACT_RELU)
			s->layers[i].act = IR_ACT_HSWISH;
	char err[256];
	sn_supernet *sn = sn_supernet_new(s, NCLS, R, R, 4, 11, err, sizeof err);
	assert_non_null(sn);
	sn_subnet sub;
	assert_int_equal(sn_subnet_parse(s, genes, &sub, err, sizeof err), 0);
	sn_supernet_set_subnet(sn, &sub);
	rt_rng rng;
	rt_rng_seed(&rng, 3);
	/* perturb the transforms and BN so their gradients are not trivial */
	int np;
	rt_param *params = sn_supernet_params(sn, &np);
	for (int i = 0; i < np; i++)
		if (params[i].no_decay)
			for (size_t j = 0; j < params[i].n; j++)
				params[i].w[j] += (float)(0.2 * rt_rng_normal(&rng));
	int n = 2;
	float *x = ug_rand(&rng, (size_t)n * R * R * C, -1, 1);
	float *r = ug_rand(&rng, (size_t)n * NCLS, -1, 1);
	gctx g = { sn, x, r, n };
	sn_supernet_zero_grad(sn);
	loss_fn(&g);
	sn_supernet_backward(sn, r);
	float *grad = ug_copy(sn_supernet_grads(sn), sn_supernet_nparams(sn));
	int fails = 0;
	size_t off = 0;
	for (int i = 0; i < np; i++) {
		char what[64];
		snprintf(what, sizeof what, "%s tensor %d", genes, i);
		double scale = 1e-3;
		for (size_t j = 0; j < params[i].n; j++)
			scale = fmax(scale, fabs(grad[off + j]));
		fails += net_check(what, &g, params[i].w, params[i].n, grad + off, scale, &rng);
		off += params[i].n;
	}
	assert_int_equal(fails, 0);
	free(grad);
	free(x);
	free(r);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

static void test_grad_subnet(void **state)
{
	(void)state;
	grad_check(tiny_space, GRAD_GENES);
}

/* Residual blocks with projection and mismatched identity shortcuts, a
 * cropped stem kernel, an MBCONV without expand conv and a dense layer. */
static void test_grad_resnet_subnet(void **state)
{
	(void)state;
	grad_check(tiny_resnet_space, "r4:d2:k1,3:e0.5:w8,4,6");
	grad_check(tiny_resnet_space, "r6:d2:k3,5:e1:w4,8,10");
}

static void test_grad_max(void **state)
{
	(void)state;
	grad_check(tiny_space, "r6:d2,2:k5,5,7,7:e3,3,3,3:w6");
}

/* Does the subnet use weight (row, col) of s2.b1's expand conv?  Rows are
 * input channels, columns expanded channels. */
static int uses_expand_weight(const ir_space *s, const sn_subnet *sub, int row, int col)
{
	sn_plan plan;
	sn_plan_build(s, NCLS, sub, &plan);
	const sn_layer_plan *p = &plan.layer[4];
	return p->active && row < p->cin && col < p->mid;
}

static void test_weight_sharing(void **state)
{
	(void)state;
	ir_space *s = tiny_space(C, R);
	char err[256];
	sn_supernet *sn = sn_supernet_new(s, NCLS, R, R, 4, 5, err, sizeof err);
	assert_non_null(sn);
	int np;
	rt_param *params = sn_supernet_params(sn, &np);
	/* Decayed tensors of 108 floats, in layout order: the stem [3*3*2, 6],
	 * then each block's expand [6, 18] and project [18, 6]; s2.b1's expand
	 * is the second to last of the nine. */
	int t = -1, seen = 0, last = -1, before_last = -1;
	for (int i = 0; i < np; i++)
		if (params[i].n == (size_t)6 * 18 && !params[i].no_decay) {
			seen++;
			before_last = last;
			last = i;
		}
	assert_int_equal(seen, 9);
	t = before_last;
	rt_rng rng;
	rt_rng_seed(&rng, 9);
	float *x = ug_rand(&rng, (size_t)2 * R * R * C, -1, 1);
	int checked_used = 0, checked_unused = 0;
	for (int trial = 0; trial < 60; trial++) {
		sn_subnet sub;
		sn_subnet_random(s, &rng, &sub);
		int row = (int)rt_rng_below(&rng, 6), col = (int)rt_rng_below(&rng, 18);
		sn_supernet_set_subnet(sn, &sub);
		float before[2 * NCLS], after[2 * NCLS];
		memcpy(before, sn_supernet_forward(sn, x, 2, RT_BN_MODE_EVAL), sizeof before);
		/* a write through a pointer kept across forwards: the supernet
		 * is told, as sn_supernet_weights_changed asks */
		float *w = &params[t].w[row * 18 + col];
		float saved = *w;
		*w += 0.5f;
		sn_supernet_weights_changed(sn);
		memcpy(after, sn_supernet_forward(sn, x, 2, RT_BN_MODE_EVAL), sizeof after);
		*w = saved;
		sn_supernet_weights_changed(sn);
		int changed = 0;
		for (int k = 0; k < 2 * NCLS; k++)
			changed |= before[k] != after[k];
		int used = uses_expand_weight(s, &sub, row, col);
		assert_int_equal(changed, used);
		if (used)
			checked_used++;
		else
			checked_unused++;
	}
	assert_true(checked_used > 5 && checked_unused > 5);
	free(x);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

static void test_recalibration(void **state)
{
	(void)state;
	ir_space *s = tiny_space(C, R);
	char err[256];
	sn_supernet *sn = sn_supernet_new(s, NCLS, R, R, 8, 5, err, sizeof err);
	assert_non_null(sn);
	size_t np = sn_supernet_nparams(sn), ns = sn_supernet_nstats(sn);
	float *w0 = ug_copy(sn_supernet_weights(sn), np);
	float *st0 = ug_copy(sn_supernet_stats(sn), ns);
	sn_subnet sub;
	sn_subnet_min(s, &sub);
	sn_supernet_set_subnet(sn, &sub);
	rt_rng rng;
	rt_rng_seed(&rng, 1);
	float *x = ug_rand(&rng, (size_t)8 * R * R * C, -1, 2);
	sn_supernet_recal_begin(sn);
	for (int b = 0; b < 3; b++)
		sn_supernet_forward(sn, x + (size_t)b * 2 * R * R * C, 2, RT_BN_MODE_RECAL);
	assert_memory_equal(w0, sn_supernet_weights(sn), np * sizeof(float));
	/* some statistics changed; the largest subnet's extra channels did not */
	float *st = sn_supernet_stats(sn);
	size_t changed = 0;
	for (size_t i = 0; i < ns; i++)
		changed += st[i] != st0[i];
	assert_true(changed > 0 && changed < ns);
	/* recalibrating the same sample twice gives the same statistics */
	float *st1 = ug_copy(st, ns);
	sn_supernet_recal_begin(sn);
	for (int b = 0; b < 3; b++)
		sn_supernet_forward(sn, x + (size_t)b * 2 * R * R * C, 2, RT_BN_MODE_RECAL);
	assert_memory_equal(st1, st, ns * sizeof(float));
	free(st1);
	free(w0);
	free(st0);
	free(x);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

/* A TRAIN forward and backward of sub on x (batch 2) from zeroed
 * gradients: the logits and the gradients (malloc'd copies). */
static void train_pass(sn_supernet *sn, const sn_subnet *sub, const float *x,
		       const float *dlogits, float *logits, float **grads)
{
	sn_supernet_set_subnet(sn, sub);
	sn_supernet_zero_grad(sn);
	memcpy(logits, sn_supernet_forward(sn, x, 2, RT_BN_MODE_TRAIN), 2 * NCLS * sizeof(float));
	sn_supernet_backward(sn, dlogits);
	*grads = ug_copy(sn_supernet_grads(sn), sn_supernet_nparams(sn));
}

static void test_replica(void **state)
{
	(void)state;
	ir_space *s = tiny_space(C, R);
	char err[256];
	sn_supernet *sn = sn_supernet_new(s, NCLS, R, R, 4, 5, err, sizeof err);
	assert_non_null(sn);
	size_t np = sn_supernet_nparams(sn), ns = sn_supernet_nstats(sn);
	float *st0 = sn_supernet_stats(sn);
	for (size_t i = 0; i < ns; i++) /* statistics a replica starts from */
		st0[i] += 0.25f * (float)(i % 7);
	sn_supernet *rep = sn_supernet_replica(sn, err, sizeof err);
	assert_non_null(rep);
	assert_true(sn_supernet_is_replica(rep) && !sn_supernet_is_replica(sn));
	assert_int_equal(sn_supernet_nparams(rep), np);
	assert_memory_equal(sn_supernet_stats(rep), st0, ns * sizeof(float));
	assert_ptr_equal(sn_supernet_weights(rep), sn_supernet_weights(sn));
	assert_null(sn_supernet_momentum(rep));
	float *w0 = ug_copy(sn_supernet_weights(sn), np), *stm = ug_copy(st0, ns);

	rt_rng rng;
	rt_rng_seed(&rng, 3);
	float *x = ug_rand(&rng, (size_t)2 * R * R * C, -1, 1);
	float *dl = ug_rand(&rng, 2 * NCLS, -1, 1);
	for (int trial = 0; trial < 6; trial++) {
		sn_subnet sub;
		if (trial == 0)
			sn_subnet_max(s, &sub);
		else
			sn_subnet_random(s, &rng, &sub);
		float la[2 * NCLS], lb[2 * NCLS], *ga, *gb;
		float *str = ug_copy(sn_supernet_stats(rep), ns);
		train_pass(rep, &sub, x, dl, lb, &gb);
		/* the replica wrote its own statistics, not its supernet's */
		assert_memory_not_equal(sn_supernet_stats(rep), str, ns * sizeof(float));
		assert_memory_equal(sn_supernet_stats(sn), stm, ns * sizeof(float));
		train_pass(sn, &sub, x, dl, la, &ga);
		assert_memory_equal(la, lb, sizeof la);
		assert_memory_equal(ga, gb, np * sizeof(float));
		assert_memory_equal(sn_supernet_weights(sn), w0, np * sizeof(float));
		free(ga);
		free(gb);
		free(str);
		memcpy(stm, sn_supernet_stats(sn), ns * sizeof(float));
	}
	/* the supernet's new weights are the replica's */
	float *w = sn_supernet_weights(sn);
	for (size_t i = 0; i < np; i++)
		w[i] *= 0.5f;
	sn_subnet mx;
	sn_subnet_max(s, &mx);
	float la[2 * NCLS], lb[2 * NCLS], *ga, *gb;
	train_pass(sn, &mx, x, dl, la, &ga);
	train_pass(rep, &mx, x, dl, lb, &gb);
	assert_memory_equal(la, lb, sizeof la);
	assert_memory_equal(ga, gb, np * sizeof(float));
	free(ga);
	free(gb);
	free(w0);
	free(stm);
	free(x);
	free(dl);
	sn_supernet_free(rep);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

int main(void)
{
	rt_threads_init(1, NULL, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gene_string),
		cmocka_unit_test(test_cost),
		cmocka_unit_test(test_grad_subnet),
		cmocka_unit_test(test_grad_max),
		cmocka_unit_test(test_grad_resnet_subnet),
		cmocka_unit_test(test_weight_sharing),
		cmocka_unit_test(test_recalibration),
		cmocka_unit_test(test_replica),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rt_threads_shutdown();
	return rc;
}
