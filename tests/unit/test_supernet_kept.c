/*
 * test_supernet_kept.c — the kernels a supernet keeps between forwards
 * outside TRAIN mode (supernet.h, sn_supernet_weights_changed): reused
 * forwards give bit for bit what a fresh supernet with the same weights
 * gives, on both tiny spaces (depthwise transform chains 7 -> 5 -> 3,
 * cropped and sliced dense convs); they are really reused (a write through
 * a kept pointer is not seen until sn_supernet_weights_changed); and the
 * training loop's pattern (parameter list taken once, forwards in TRAIN or
 * RECAL mode, backward, SGD step, then EVAL) never sees stale kernels, with
 * the same gradients as without any kept kernel.
 *
 * The reference is a second supernet of the same space whose weights and
 * statistics are copied from the first through sn_supernet_weights (which
 * drops whatever it kept) before each comparison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "runtime/optim.h"
#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"
#include "util_grad.h"
#include "util_supernet_fixture.h"

#define C 2
#define R 6
#define NCLS 3
#define N 2

typedef struct pair {
	ir_space *s;
	sn_supernet *a, *ref;
	float *x;
	rt_rng rng;
} pair;

static void pair_init(pair *p, ir_space *s)
{
	char err[256];
	p->s = s;
	p->a = sn_supernet_new(s, NCLS, R, R, N, 3, err, sizeof err);
	p->ref = sn_supernet_new(s, NCLS, R, R, N, 4, err, sizeof err);
	assert_non_null(p->a);
	assert_non_null(p->ref);
	rt_rng_seed(&p->rng, 11);
	/* every weight perturbed, so the transforms are not identities */
	float *w = sn_supernet_weights(p->a);
	for (size_t i = 0; i < sn_supernet_nparams(p->a); i++)
		w[i] += (float)(0.1 * rt_rng_normal(&p->rng));
	p->x = ug_rand(&p->rng, (size_t)N * R * R * C, -1, 1);
}

static void pair_free(pair *p)
{
	sn_supernet_free(p->a);
	sn_supernet_free(p->ref);
	tiny_space_free(p->s);
	free(p->x);
}

/* The reference's EVAL logits for sub with a's current weights and stats. */
static void fresh(pair *p, const sn_subnet *sub, float *y)
{
	memcpy(sn_supernet_weights(p->ref), sn_supernet_weights(p->a),
	       sn_supernet_nparams(p->a) * sizeof(float));
	memcpy(sn_supernet_stats(p->ref), sn_supernet_stats(p->a),
	       sn_supernet_nstats(p->a) * sizeof(float));
	sn_supernet_set_subnet(p->ref, sub);
	memcpy(y, sn_supernet_forward(p->ref, p->x, N, RT_BN_MODE_EVAL), N * NCLS * sizeof(float));
}

/* A random subnet with some kernel below the largest (so something is kept). */
static void small_kernel_subnet(pair *p, sn_subnet *sub)
{
	sn_subnet mx;
	sn_subnet_max(p->s, &mx);
	do
		sn_subnet_random(p->s, &p->rng, sub);
	while (sn_subnet_equal(sub, &mx));
}

/* Subnets in turn, each evaluated three times (the first forward derives
 * the kernels, the next reuse them), with recalibration in between. */
static void check_matches_fresh(ir_space *s)
{
	pair p;
	pair_init(&p, s);
	float y[N * NCLS], want[N * NCLS];
	sn_subnet subs[2];
	for (int trial = 0; trial < 40; trial++) {
		sn_subnet *sub = &subs[trial % 2];
		if (trial < 20 || trial % 4 == 0)
			sn_subnet_random(s, &p.rng, sub);
		sn_supernet_set_subnet(p.a, sub);
		if (trial % 3 == 0) {
			sn_supernet_recal_begin(p.a);
			sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_RECAL);
		}
		fresh(&p, sub, want);
		for (int rep = 0; rep < 3; rep++) {
			memcpy(y, sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL), sizeof y);
			assert_memory_equal(y, want, sizeof y);
		}
	}
	pair_free(&p);
}

static void test_matches_fresh_mbconv(void **state)
{
	(void)state;
	check_matches_fresh(tiny_space(C, R));
}

static void test_matches_fresh_resnet(void **state)
{
	(void)state;
	check_matches_fresh(tiny_resnet_space(C, R));
}

/* A write through a pointer kept across an EVAL forward is not seen until
 * sn_supernet_weights_changed: proof that the kernels are reused. */
static void check_reused(ir_space *s)
{
	pair p;
	pair_init(&p, s);
	float *w = sn_supernet_weights(p.a);
	size_t np = sn_supernet_nparams(p.a);
	float before[N * NCLS], stale[N * NCLS], y[N * NCLS], want[N * NCLS];
	sn_subnet sub; /* the smallest: transformed, cropped and sliced kernels */
	sn_subnet_min(s, &sub);
	sn_supernet_set_subnet(p.a, &sub);
	memcpy(before, sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL), sizeof before);
	for (size_t i = 0; i < np; i++)
		w[i] *= 1.5f;
	memcpy(stale, sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL), sizeof stale);
	fresh(&p, &sub, want);
	assert_memory_not_equal(stale, want, sizeof want);
	assert_memory_not_equal(stale, before, sizeof before);
	sn_supernet_weights_changed(p.a);
	memcpy(y, sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL), sizeof y);
	assert_memory_equal(y, want, sizeof want);
	pair_free(&p);
}

static void test_reused_mbconv(void **state)
{
	(void)state;
	check_reused(tiny_space(C, R));
}

static void test_reused_resnet(void **state)
{
	(void)state;
	check_reused(tiny_resnet_space(C, R));
}

/* The training loop's pattern with the parameter list taken once: an EVAL
 * forward keeps kernels, then `mode` forward, backward and SGD steps; the
 * next EVAL forward must see the new weights, and the gradients must be
 * those of a supernet that never kept anything. */
static void check_training(ir_space *s, rt_bn_mode mode)
{
	pair p;
	pair_init(&p, s);
	int nparams;
	rt_param *params = sn_supernet_params(p.a, &nparams);
	size_t np = sn_supernet_nparams(p.a);
	rt_sgd o = { .momentum = 0.9, .wd = 1e-4, .nesterov = 1 };
	float dl[N * NCLS], y[N * NCLS], want[N * NCLS];
	for (int i = 0; i < N * NCLS; i++)
		dl[i] = (float)rt_rng_normal(&p.rng);
	for (int step = 0; step < 6; step++) {
		sn_subnet sub;
		small_kernel_subnet(&p, &sub);
		sn_supernet_set_subnet(p.a, &sub);
		sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL); /* keeps kernels */
		/* the gradient a supernet without kept kernels computes */
		memcpy(sn_supernet_weights(p.ref), sn_supernet_weights(p.a), np * sizeof(float));
		memcpy(sn_supernet_stats(p.ref), sn_supernet_stats(p.a),
		       sn_supernet_nstats(p.a) * sizeof(float));
		sn_supernet_set_subnet(p.ref, &sub);
		sn_supernet_zero_grad(p.ref);
		if (mode == RT_BN_MODE_RECAL)
			sn_supernet_recal_begin(p.ref);
		sn_supernet_forward(p.ref, p.x, N, mode);
		sn_supernet_backward(p.ref, dl);
		sn_supernet_set_subnet(p.a, &sub);
		sn_supernet_zero_grad(p.a);
		if (mode == RT_BN_MODE_RECAL)
			sn_supernet_recal_begin(p.a);
		sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL); /* keeps them again */
		sn_supernet_forward(p.a, p.x, N, mode);
		sn_supernet_backward(p.a, dl);
		assert_memory_equal(sn_supernet_grads(p.a), sn_supernet_grads(p.ref),
				    np * sizeof(float));
		rt_sgd_step(&o, params, nparams, 0.5);
		memcpy(y, sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL), sizeof y);
		fresh(&p, &sub, want);
		assert_memory_equal(y, want, sizeof want);
	}
	pair_free(&p);
}

static void test_training_mbconv(void **state)
{
	(void)state;
	check_training(tiny_space(C, R), RT_BN_MODE_TRAIN);
	check_training(tiny_space(C, R), RT_BN_MODE_RECAL);
}

static void test_training_resnet(void **state)
{
	(void)state;
	check_training(tiny_resnet_space(C, R), RT_BN_MODE_TRAIN);
	check_training(tiny_resnet_space(C, R), RT_BN_MODE_RECAL);
}

/* Sorting permutes weights under the kept kernels: they must go. */
static void test_sort_drops(void **state)
{
	(void)state;
	pair p;
	pair_init(&p, tiny_space(C, R));
	float y[N * NCLS], want[N * NCLS];
	sn_subnet sub;
	small_kernel_subnet(&p, &sub);
	sn_supernet_set_subnet(p.a, &sub);
	sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL);
	assert_int_equal(sn_supernet_sort_channels(p.a), 0);
	memcpy(y, sn_supernet_forward(p.a, p.x, N, RT_BN_MODE_EVAL), sizeof y);
	fresh(&p, &sub, want);
	assert_memory_equal(y, want, sizeof want);
	pair_free(&p);
}

int main(void)
{
	rt_threads_init(1, NULL, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_fresh_mbconv),
		cmocka_unit_test(test_matches_fresh_resnet),
		cmocka_unit_test(test_reused_mbconv),
		cmocka_unit_test(test_reused_resnet),
		cmocka_unit_test(test_training_mbconv),
		cmocka_unit_test(test_training_resnet),
		cmocka_unit_test(test_sort_drops),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rt_threads_shutdown();
	return rc;
}
