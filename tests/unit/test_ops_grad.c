/*
 * test_ops_grad.c — every op's backward against central finite differences.
 *
 * The scalar loss is a seeded random projection of the op's output,
 * L = sum_i r_i y_i (computed in double over the float32 output), so dy = r.
 * Each gradient is sampled at up to SAMPLES indices and must satisfy
 *     |numeric - analytic| <= 1e-2 max(|numeric|, |analytic|) + 1e-3 scale
 * (ug_check in util_grad.c; scale = the gradient's largest magnitude).
 * Parameter gradients are checked as (after - before) on buffers pre-filled
 * with random values, which also checks that they are accumulated; input
 * gradients are pre-filled with NaN, which checks that they are overwritten.
 * Weights are slices of wider buffers (ld > width) wherever the op allows,
 * and the whole wider buffer is sampled: entries outside the slice must get
 * exactly zero gradient.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ops.h"
#include "runtime/rng.h"
#include "runtime/threads.h"
#include "util_grad.h"

#define SAMPLES 40

static rt_rng rng;

/* Checks an accumulated parameter gradient: after - before. */
static void check_accum(const char *what, ug_loss_fn f, void *ctx, float *param,
			size_t n, const float *after, const float *before)
{
	float *g = malloc(n * sizeof(float));
	assert_non_null(g);
	for (size_t i = 0; i < n; i++)
		g[i] = after[i] - before[i];
	int fails = ug_check(what, f, ctx, param, n, g, &rng, SAMPLES);
	free(g);
	assert_int_equal(fails, 0);
}

/* Checks an input gradient. */
static void check_input(const char *what, ug_loss_fn f, void *ctx, float *x, size_t n,
			const float *dx)
{
	assert_int_equal(ug_check(what, f, ctx, x, n, dx, &rng, SAMPLES), 0);
}

/* A buffer of n NaNs: an op that must overwrite it leaves none. */
static float *nan_buf(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = NAN;
	return p;
}

/* A projection that is zero outside the [rows, cols] part of a [rows, ld] buffer. */
static float *proj_strided(size_t rows, size_t cols, size_t ld)
{
	float *r = ug_rand(&rng, rows * ld, -1.0f, 1.0f);
	for (size_t i = 0; i < rows; i++)
		for (size_t j = cols; j < ld; j++)
			r[i * ld + j] = 0.0f;
	return r;
}

/* NaN inside [rows, cols], zero in the padding columns. */
static float *nan_strided(size_t rows, size_t cols, size_t ld)
{
	float *p = nan_buf(rows * ld);
	for (size_t i = 0; i < rows; i++)
		for (size_t j = cols; j < ld; j++)
			p[i * ld + j] = 0.0f;
	return p;
}

/* ---- linear ------------------------------------------------------------ */

typedef struct lin_ctx {
	rt_linear_p p;
	float *x, *w, *b, *y, *r;
} lin_ctx;

static double lin_loss(void *c)
{
	lin_ctx *k = c;
	rt_linear_forward(&k->p, k->x, k->w, k->b, k->y);
	return ug_dot(k->y, k->r, (size_t)k->p.m * k->p.ldy);
}

static void run_linear(rt_linear_p p)
{
	size_t nx = (size_t)p.m * p.ldx, nw = (size_t)p.cin * p.ldw, ny = (size_t)p.m * p.ldy;
	lin_ctx k = {p, ug_rand(&rng, nx, -1, 1), ug_rand(&rng, nw, -1, 1),
		     ug_rand(&rng, (size_t)p.ldw, -1, 1), ug_rand(&rng, ny, -1, 1),
		     proj_strided((size_t)p.m, (size_t)p.cout, (size_t)p.ldy)};
	float *dx = nan_strided((size_t)p.m, (size_t)p.cin, (size_t)p.ldx);
	float *dw0 = ug_rand(&rng, nw, -0.01f, 0.01f), *dw = ug_copy(dw0, nw);
	float *db0 = ug_rand(&rng, (size_t)p.ldw, -0.01f, 0.01f), *db = ug_copy(db0, (size_t)p.ldw);
	lin_loss(&k);
	rt_linear_backward(&k.p, k.x, k.w, k.r, dx, dw, db);
	check_input("linear dx", lin_loss, &k, k.x, nx, dx);
	check_accum("linear dw", lin_loss, &k, k.w, nw, dw, dw0);
	check_accum("linear db", lin_loss, &k, k.b, (size_t)p.ldw, db, db0);
	free(k.x), free(k.w), free(k.b), free(k.y), free(k.r);
	free(dx), free(dw0), free(dw), free(db0), free(db);
}

static void test_linear_grad(void **state)
{
	(void)state;
	run_linear((rt_linear_p){5, 7, 3, 7, 3, 3});
	run_linear((rt_linear_p){6, 7, 3, 9, 11, 5}); /* sliced: ld > width */
	run_linear((rt_linear_p){1, 4, 1, 4, 2, 1});  /* batch 1, one output */
}

/* ---- dense conv ------------------------------------------------------- */

typedef struct conv_ctx {
	rt_conv2d_p p;
	size_t ny;
	float *x, *w, *y, *r, *ws;
} conv_ctx;

static double conv_loss(void *c)
{
	conv_ctx *k = c;
	rt_conv2d_forward(&k->p, k->x, k->w, k->y, k->ws);
	return ug_dot(k->y, k->r, k->ny);
}

static void run_conv(rt_conv2d_p p)
{
	int ho = rt_conv_out_size(p.h, p.k, p.stride, p.pad);
	int wo = rt_conv_out_size(p.w, p.k, p.stride, p.pad);
	size_t nx = (size_t)p.n * p.h * p.w * p.cin;
	size_t nw = (size_t)p.k * p.k * p.cin * p.ldw;
	size_t ny = (size_t)p.n * ho * wo * p.cout;
	size_t nws = rt_conv2d_workspace(&p);
	conv_ctx k = {p, ny, ug_rand(&rng, nx, -1, 1), ug_rand(&rng, nw, -1, 1),
		      nan_buf(ny), ug_rand(&rng, ny, -1, 1), nan_buf(nws)};
	float *dx = nan_buf(nx);
	float *dw0 = ug_rand(&rng, nw, -0.01f, 0.01f), *dw = ug_copy(dw0, nw);
	conv_loss(&k);
	rt_conv2d_backward(&k.p, k.x, k.w, k.r, dx, dw, k.ws);
	check_input("conv2d dx", conv_loss, &k, k.x, nx, dx);
	check_accum("conv2d dw", conv_loss, &k, k.w, nw, dw, dw0);
	free(k.x), free(k.w), free(k.y), free(k.r), free(k.ws);
	free(dx), free(dw0), free(dw);
}

static void test_conv2d_grad(void **state)
{
	(void)state;
	/* n h w cin cout k stride pad ldw */
	run_conv((rt_conv2d_p){2, 5, 6, 3, 4, 3, 1, 1, 6});
	run_conv((rt_conv2d_p){2, 7, 5, 2, 3, 3, 2, 1, 3});
	run_conv((rt_conv2d_p){1, 7, 9, 2, 3, 5, 2, 2, 5});
	run_conv((rt_conv2d_p){1, 6, 6, 1, 2, 7, 1, 3, 2});
	run_conv((rt_conv2d_p){2, 3, 4, 5, 3, 1, 1, 0, 7}); /* 1x1: no im2col */
	run_conv((rt_conv2d_p){2, 5, 5, 3, 2, 1, 2, 0, 2}); /* 1x1 stride 2 */
	run_conv((rt_conv2d_p){1, 1, 1, 3, 4, 3, 1, 1, 4}); /* 1x1 map */
}

/* ---- depthwise conv --------------------------------------------------- */

typedef struct dw_ctx {
	rt_dwconv_p p;
	size_t ny;
	float *x, *w, *b, *y, *r;
} dw_ctx;

static double dw_loss(void *c)
{
	dw_ctx *k = c;
	rt_dwconv_forward(&k->p, k->x, k->w, k->b, k->y);
	return ug_dot(k->y, k->r, k->ny);
}

static void run_dw(rt_dwconv_p p)
{
	int ho = rt_conv_out_size(p.h, p.k, p.stride, p.k / 2);
	int wo = rt_conv_out_size(p.w, p.k, p.stride, p.k / 2);
	size_t nx = (size_t)p.n * p.h * p.w * p.c, nw = (size_t)p.k * p.k * p.ldw;
	size_t ny = (size_t)p.n * ho * wo * p.c;
	dw_ctx k = {p, ny, ug_rand(&rng, nx, -1, 1), ug_rand(&rng, nw, -1, 1),
		    ug_rand(&rng, (size_t)p.ldw, -1, 1), nan_buf(ny), ug_rand(&rng, ny, -1, 1)};
	float *dx = nan_buf(nx);
	float *dw0 = ug_rand(&rng, nw, -0.01f, 0.01f), *dw = ug_copy(dw0, nw);
	float *db0 = ug_rand(&rng, (size_t)p.ldw, -0.01f, 0.01f), *db = ug_copy(db0, (size_t)p.ldw);
	dw_loss(&k);
	rt_dwconv_backward(&k.p, k.x, k.w, k.r, dx, dw, db);
	check_input("dwconv dx", dw_loss, &k, k.x, nx, dx);
	check_accum("dwconv dw", dw_loss, &k, k.w, nw, dw, dw0);
	check_accum("dwconv db", dw_loss, &k, k.b, (size_t)p.ldw, db, db0);
	free(k.x), free(k.w), free(k.b), free(k.y), free(k.r);
	free(dx), free(dw0), free(dw), free(db0), free(db);
}

static void test_dwconv_grad(void **state)
{
	(void)state;
	static const int ks[] = {1, 3, 5, 7};
	for (int i = 0; i < 4; i++) {
		for (int s = 1; s <= 2; s++) {
			/* n h w c k stride ldw: c = 5 (< one block), 17 (block + 1) */
			run_dw((rt_dwconv_p){2, 6, 5, 5, ks[i], s, 8});
			run_dw((rt_dwconv_p){1, 7, 9, 17, ks[i], s, 17});
			run_dw((rt_dwconv_p){1, 1, 1, 3, ks[i], s, 4}); /* 1x1 map */
		}
	}
	run_dw((rt_dwconv_p){2, 3, 4, 32, 3, 1, 40}); /* two full blocks, sliced */
}

/* ---- batch norm ------------------------------------------------------ */

typedef struct bn_ctx {
	rt_bn_p p;
	float *x, *gamma, *beta, *rm, *rv, *sm, *si, *y, *r;
} bn_ctx;

static double bn_loss(void *c)
{
	bn_ctx *k = c;
	rt_bn_forward(&k->p, k->x, k->gamma, k->beta, k->rm, k->rv, k->sm, k->si, k->y);
	return ug_dot(k->y, k->r, (size_t)k->p.m * k->p.ldx);
}

static void run_bn(rt_bn_p p)
{
	size_t nx = (size_t)p.m * p.ldx, c = (size_t)p.c;
	bn_ctx k = {p, ug_rand(&rng, nx, -2, 3), ug_rand(&rng, c, 0.5f, 1.5f),
		    ug_rand(&rng, c, -1, 1), ug_rand(&rng, c, -0.5f, 0.5f),
		    ug_rand(&rng, c, 0.5f, 2.0f), nan_buf(c), nan_buf(c),
		    ug_rand(&rng, nx, -1, 1), proj_strided((size_t)p.m, c, (size_t)p.ldx)};
	float *dx = nan_strided((size_t)p.m, c, (size_t)p.ldx);
	float *dg0 = ug_rand(&rng, c, -0.01f, 0.01f), *dg = ug_copy(dg0, c);
	float *db0 = ug_rand(&rng, c, -0.01f, 0.01f), *db = ug_copy(db0, c);
	bn_loss(&k);
	rt_bn_backward(&k.p, k.x, k.gamma, k.sm, k.si, k.r, dx, dg, db);
	check_input("bn dx", bn_loss, &k, k.x, nx, dx);
	check_accum("bn dgamma", bn_loss, &k, k.gamma, c, dg, dg0);
	check_accum("bn dbeta", bn_loss, &k, k.beta, c, db, db0);
	free(k.x), free(k.gamma), free(k.beta), free(k.rm), free(k.rv), free(k.sm);
	free(k.si), free(k.y), free(k.r), free(dx), free(dg0), free(dg), free(db0), free(db);
}

static void test_bn_grad(void **state)
{
	(void)state;
	for (int mode = 0; mode < RT_BN_MODE_COUNT; mode++) {
		run_bn((rt_bn_p){13, 19, 21, 1e-5f, 0.1f, (rt_bn_mode)mode, 3});
		/* m = 2 would make x-hat = +-1 whatever x: a gradient of ~0 */
		run_bn((rt_bn_p){4, 3, 3, 1e-5f, 0.1f, (rt_bn_mode)mode, 0});
		run_bn((rt_bn_p){40, 33, 33, 1e-5f, 0.1f, (rt_bn_mode)mode, 1});
	}
}

/* ---- activations, add, pool -------------------------------------------- */

typedef void (*act_fwd)(size_t, const float *, float *);
typedef void (*act_bwd)(size_t, const float *, const float *, float *);

typedef struct act_ctx {
	act_fwd f;
	size_t n;
	float *x, *y, *r;
} act_ctx;

static double act_loss(void *c)
{
	act_ctx *k = c;
	k->f(k->n, k->x, k->y);
	return ug_dot(k->y, k->r, k->n);
}

/* Inputs in [-5, 5], kept 0.05 away from the kinks at -3, 0 and 3. */
static void run_act(const char *what, act_fwd f, act_bwd b)
{
	size_t n = 301;
	act_ctx k = {f, n, ug_rand(&rng, n, -5, 5), nan_buf(n), ug_rand(&rng, n, -1, 1)};
	for (size_t i = 0; i < n; i++)
		for (float kink = -3.0f; kink <= 3.0f; kink += 3.0f)
			if (fabsf(k.x[i] - kink) < 0.05f)
				k.x[i] = kink + 0.1f;
	float *dx = nan_buf(n);
	b(n, k.x, k.r, dx);
	check_input(what, act_loss, &k, k.x, n, dx);
	/* in place: dx may be dy */
	float *g = ug_copy(k.r, n);
	b(n, k.x, g, g);
	assert_memory_equal(g, dx, n * sizeof(float));
	free(k.x), free(k.y), free(k.r), free(dx), free(g);
}

static void test_activation_grad(void **state)
{
	(void)state;
	run_act("relu dx", rt_relu_forward, rt_relu_backward);
	run_act("hswish dx", rt_hswish_forward, rt_hswish_backward);
	run_act("hsigmoid dx", rt_hsigmoid_forward, rt_hsigmoid_backward);
}

typedef struct pool_ctx {
	int n, hw, c;
	float *x, *y, *r;
} pool_ctx;

static double pool_loss(void *c)
{
	pool_ctx *k = c;
	rt_avgpool_forward(k->n, k->hw, k->c, k->x, k->y);
	return ug_dot(k->y, k->r, (size_t)k->n * k->c);
}

static void test_avgpool_grad(void **state)
{
	(void)state;
	static const int shapes[][3] = {{2, 7, 5}, {1, 1, 3}, {3, 49, 300}};
	for (int s = 0; s < 3; s++) {
		pool_ctx k = {shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL, NULL};
		size_t nx = (size_t)k.n * k.hw * k.c, ny = (size_t)k.n * k.c;
		k.x = ug_rand(&rng, nx, -1, 1), k.y = nan_buf(ny), k.r = ug_rand(&rng, ny, -1, 1);
		float *dx = nan_buf(nx);
		rt_avgpool_backward(k.n, k.hw, k.c, k.r, dx);
		check_input("avgpool dx", pool_loss, &k, k.x, nx, dx);
		free(k.x), free(k.y), free(k.r), free(dx);
	}
}

/* ---- resize ---------------------------------------------------------- */

typedef struct rs_ctx {
	rt_resize_p p;
	size_t ny;
	float *x, *y, *r;
} rs_ctx;

static double rs_loss(void *c)
{
	rs_ctx *k = c;
	rt_resize_forward(&k->p, k->x, k->y);
	return ug_dot(k->y, k->r, k->ny);
}

static void test_resize_grad(void **state)
{
	(void)state;
	static const rt_resize_p ps[] = {
		{2, 5, 7, 3, 8, 11}, {1, 9, 6, 4, 4, 5}, {1, 1, 1, 2, 3, 3}, {2, 4, 4, 3, 4, 4},
	};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
		rt_resize_p p = ps[i];
		size_t nx = (size_t)p.n * p.h * p.w * p.c, ny = (size_t)p.n * p.ho * p.wo * p.c;
		rs_ctx k = {p, ny, ug_rand(&rng, nx, -1, 1), nan_buf(ny), ug_rand(&rng, ny, -1, 1)};
		float *dx = nan_buf(nx);
		rt_resize_backward(&k.p, k.r, dx);
		check_input("resize dx", rs_loss, &k, k.x, nx, dx);
		free(k.x), free(k.y), free(k.r), free(dx);
	}
}

/* ---- squeeze-excite -------------------------------------------------- */

typedef struct se_ctx {
	rt_se_p p;
	size_t nx;
	float *x, *w1, *b1, *w2, *b2, *y, *r, *ws;
} se_ctx;

static double se_loss(void *c)
{
	se_ctx *k = c;
	rt_se_forward(&k->p, k->x, k->w1, k->b1, k->w2, k->b2, k->y, k->ws);
	return ug_dot(k->y, k->r, k->nx);
}

static void run_se(rt_se_p p)
{
	size_t nx = (size_t)p.n * p.hw * p.c;
	size_t nw1 = (size_t)p.c * p.ldw1, nw2 = (size_t)p.r * p.ldw2;
	se_ctx k = {p, nx, ug_rand(&rng, nx, -2, 2), ug_rand(&rng, nw1, -1, 1),
		    ug_rand(&rng, (size_t)p.ldw1, -0.5f, 0.5f), ug_rand(&rng, nw2, -1, 1),
		    ug_rand(&rng, (size_t)p.ldw2, -1, 1), nan_buf(nx),
		    ug_rand(&rng, nx, -1, 1), nan_buf(rt_se_workspace(&p))};
	float *dx = nan_buf(nx);
	float *g[4], *g0[4];
	size_t len[4] = {nw1, (size_t)p.ldw1, nw2, (size_t)p.ldw2};
	for (int i = 0; i < 4; i++) {
		g0[i] = ug_rand(&rng, len[i], -0.01f, 0.01f);
		g[i] = ug_copy(g0[i], len[i]);
	}
	se_loss(&k);
	rt_se_backward(&k.p, k.x, k.w1, k.w2, k.r, dx, g[0], g[1], g[2], g[3], k.ws);
	check_input("se dx", se_loss, &k, k.x, nx, dx);
	check_accum("se dw1", se_loss, &k, k.w1, nw1, g[0], g0[0]);
	check_accum("se db1", se_loss, &k, k.b1, len[1], g[1], g0[1]);
	check_accum("se dw2", se_loss, &k, k.w2, nw2, g[2], g0[2]);
	check_accum("se db2", se_loss, &k, k.b2, len[3], g[3], g0[3]);
	for (int i = 0; i < 4; i++)
		free(g[i]), free(g0[i]);
	free(k.x), free(k.w1), free(k.b1), free(k.w2), free(k.b2), free(k.y), free(k.r);
	free(k.ws), free(dx);
}

static void test_se_grad(void **state)
{
	(void)state;
	run_se((rt_se_p){2, 5, 6, 3, 3, 6});
	run_se((rt_se_p){3, 4, 7, 2, 5, 10}); /* sliced c and r */
	run_se((rt_se_p){1, 1, 4, 1, 1, 4});  /* batch 1, 1x1 map */
}

/* ---- losses ----------------------------------------------------------- */

typedef struct loss_ctx {
	int n, k, ld;
	float *z, *q;
	int *labels;
	float smoothing;
} loss_ctx;

static double xent_loss(void *c)
{
	loss_ctx *k = c;
	return rt_xent_forward_backward(k->n, k->k, k->ld, k->z, k->labels, k->smoothing,
					NULL, NULL);
}

static double kl_loss(void *c)
{
	loss_ctx *k = c;
	return rt_kl_forward_backward(k->n, k->k, k->ld, k->z, k->q, NULL);
}

static void run_losses(int n, int kk, int ld, float smoothing)
{
	loss_ctx k = {n, kk, ld, ug_rand(&rng, (size_t)n * ld, -3, 3), NULL, NULL, smoothing};
	k.labels = malloc((size_t)n * sizeof(int));
	assert_non_null(k.labels);
	for (int i = 0; i < n; i++)
		k.labels[i] = (int)rt_rng_below(&rng, (uint64_t)kk);
	/* teacher probabilities: a softmax of other logits, one zero entry */
	k.q = ug_rand(&rng, (size_t)n * ld, -2, 2);
	rt_softmax_forward(n, kk, ld, k.q, k.q);
	if (kk > 1) {
		float *q0 = k.q;
		q0[1] += q0[0];
		q0[0] = 0.0f;
	}
	float *d = nan_strided((size_t)n, (size_t)kk, (size_t)ld);
	rt_xent_forward_backward(n, kk, ld, k.z, k.labels, smoothing, d, NULL);
	check_input("xent dlogits", xent_loss, &k, k.z, (size_t)n * ld, d);
	rt_kl_forward_backward(n, kk, ld, k.z, k.q, d);
	check_input("kl dlogits", kl_loss, &k, k.z, (size_t)n * ld, d);
	free(k.z), free(k.q), free(k.labels), free(d);
}

static void test_loss_grad(void **state)
{
	(void)state;
	run_losses(4, 10, 10, 0.1f);
	run_losses(3, 7, 9, 0.0f);
	run_losses(1, 2, 2, 0.3f);
}

static int setup(void **state)
{
	(void)state;
	rt_rng_seed(&rng, 20261122);
	return rt_threads_init(2, NULL, 0) == 2 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rt_threads_shutdown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_grad),     cmocka_unit_test(test_conv2d_grad),
		cmocka_unit_test(test_dwconv_grad),     cmocka_unit_test(test_bn_grad),
		cmocka_unit_test(test_activation_grad), cmocka_unit_test(test_avgpool_grad),
		cmocka_unit_test(test_resize_grad),     cmocka_unit_test(test_se_grad),
		cmocka_unit_test(test_loss_grad),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
