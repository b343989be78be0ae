/*
 * test_ops.c — op forwards against naive double-precision references,
 * batch-norm statistics, reproducibility across thread counts and the
 * arena (the thread pool itself: test_threads.c).
 *
 * A forward passes when max |ours - ref| / max |ref| <= TOL (float32 ops
 * with float accumulation over at most a few hundred terms).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/arena.h"
#include "runtime/ops.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"
#include "runtime/threads.h"
#include "util_grad.h"
#include "util_near.h"

#define TOL 1e-5

static rt_rng rng;

static double *dbuf(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof(double));
	assert_non_null(p);
	return p;
}

static void expect_close(const char *what, const float *got, const double *ref, size_t n)
{
	double e = ug_max_rel(got, ref, n);
	if (!(e <= TOL))
		print_error("%s: max relative error %g > %g\n", what, e, TOL);
	assert_true(e <= TOL);
}

static void test_linear_forward(void **state)
{
	(void)state;
	int m = 9, cin = 5, cout = 6, ldx = 7, ldw = 10, ldy = 8;
	float *x = ug_rand(&rng, (size_t)m * ldx, -1, 1), *w = ug_rand(&rng, (size_t)cin * ldw, -1, 1);
	float *b = ug_rand(&rng, (size_t)cout, -1, 1), *y = ug_rand(&rng, (size_t)m * ldy, -1, 1);
	float *pad = ug_copy(y, (size_t)m * ldy);
	rt_linear_p p = {m, cin, cout, ldx, ldw, ldy};
	rt_linear_forward(&p, x, w, b, y);
	double *ref = dbuf((size_t)m * cout);
	float *got = malloc((size_t)m * cout * sizeof(float));
	for (int i = 0; i < m; i++)
		for (int j = 0; j < cout; j++) {
			double s = b[j];
			for (int k = 0; k < cin; k++)
				s += (double)x[i * ldx + k] * w[k * ldw + j];
			ref[i * cout + j] = s;
			got[i * cout + j] = y[i * ldy + j];
		}
	expect_close("linear", got, ref, (size_t)m * cout);
	for (int i = 0; i < m; i++) /* columns past cout are not written */
		for (int j = cout; j < ldy; j++)
			assert_true(y[i * ldy + j] == pad[i * ldy + j]);
	free(x), free(w), free(b), free(y), free(pad), free(ref), free(got);
}

static void test_conv2d_forward(void **state)
{
	(void)state;
	static const rt_conv2d_p ps[] = {
		{2, 7, 6, 3, 5, 3, 2, 1, 8}, {1, 5, 5, 2, 4, 5, 1, 2, 4}, {3, 4, 3, 4, 2, 1, 1, 0, 3},
	};
	for (size_t t = 0; t < sizeof ps / sizeof ps[0]; t++) {
		rt_conv2d_p p = ps[t];
		int ho = rt_conv_out_size(p.h, p.k, p.stride, p.pad);
		int wo = rt_conv_out_size(p.w, p.k, p.stride, p.pad);
		size_t ny = (size_t)p.n * ho * wo * p.cout;
		float *x = ug_rand(&rng, (size_t)p.n * p.h * p.w * p.cin, -1, 1);
		float *w = ug_rand(&rng, (size_t)p.k * p.k * p.cin * p.ldw, -1, 1);
		float *y = malloc(ny * sizeof(float));
		float *ws = malloc((rt_conv2d_workspace(&p) + 1) * sizeof(float));
		rt_conv2d_forward(&p, x, w, y, ws);
		double *ref = dbuf(ny);
		for (int n = 0; n < p.n; n++)
			for (int oh = 0; oh < ho; oh++)
				for (int ow = 0; ow < wo; ow++)
					for (int co = 0; co < p.cout; co++) {
						double s = 0;
						for (int ki = 0; ki < p.k; ki++)
							for (int kj = 0; kj < p.k; kj++) {
								int ih = oh * p.stride - p.pad + ki;
								int iw = ow * p.stride - p.pad + kj;
								if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.w)
									continue;
								for (int ci = 0; ci < p.cin; ci++)
									s += (double)x[((n * p.h + ih) * p.w + iw) * p.cin + ci] *
									     w[((ki * p.k + kj) * p.cin + ci) * p.ldw + co];
							}
						ref[((n * ho + oh) * wo + ow) * p.cout + co] = s;
					}
		expect_close("conv2d", y, ref, ny);
		free(x), free(w), free(y), free(ws), free(ref);
	}
}

/* Naive depthwise conv with "same" padding. */
static void dw_ref(const rt_dwconv_p *p, const float *x, const float *w, const float *b,
		   double *ref)
{
	int pad = p->k / 2;
	int ho = rt_conv_out_size(p->h, p->k, p->stride, pad);
	int wo = rt_conv_out_size(p->w, p->k, p->stride, pad);
	for (int n = 0; n < p->n; n++)
		for (int oh = 0; oh < ho; oh++)
			for (int ow = 0; ow < wo; ow++)
				for (int c = 0; c < p->c; c++) {
					double s = b ? b[c] : 0.0;
					for (int ki = 0; ki < p->k; ki++)
						for (int kj = 0; kj < p->k; kj++) {
							int ih = oh * p->stride - pad + ki;
							int iw = ow * p->stride - pad + kj;
							if (ih >= 0 && ih < p->h && iw >= 0 && iw < p->w)
								s += (double)x[((n * p->h + ih) * p->w + iw) * p->c + c] *
								     w[(ki * p->k + kj) * p->ldw + c];
						}
					ref[((n * ho + oh) * wo + ow) * p->c + c] = s;
				}
}

static void test_dwconv_forward(void **state)
{
	(void)state;
	static const rt_dwconv_p ps[] = {
		{2, 9, 7, 21, 3, 1, 24}, {1, 8, 8, 40, 5, 2, 48}, {2, 5, 6, 7, 7, 1, 7},
		{1, 1, 1, 16, 3, 2, 16}, {4, 14, 14, 96, 3, 1, 96}, /* threaded */
	};
	for (size_t t = 0; t < sizeof ps / sizeof ps[0]; t++) {
		rt_dwconv_p p = ps[t];
		int ho = rt_conv_out_size(p.h, p.k, p.stride, p.k / 2);
		int wo = rt_conv_out_size(p.w, p.k, p.stride, p.k / 2);
		size_t ny = (size_t)p.n * ho * wo * p.c;
		float *x = ug_rand(&rng, (size_t)p.n * p.h * p.w * p.c, -1, 1);
		float *w = ug_rand(&rng, (size_t)p.k * p.k * p.ldw, -1, 1);
		float *b = t % 2 ? ug_rand(&rng, (size_t)p.c, -1, 1) : NULL;
		float *y = malloc(ny * sizeof(float));
		double *ref = dbuf(ny);
		rt_dwconv_forward(&p, x, w, b, y);
		dw_ref(&p, x, w, b, ref);
		expect_close("dwconv", y, ref, ny);
		free(x), free(w), free(b), free(y), free(ref);
	}
}

static void test_bn_statistics(void **state)
{
	(void)state;
	int m = 50, c = 20, ldx = 23;
	float *x = ug_rand(&rng, (size_t)m * ldx, -1, 3), *y = malloc((size_t)m * ldx * sizeof(float));
	float *g = ug_rand(&rng, (size_t)c, 0.5f, 1.5f), *b = ug_rand(&rng, (size_t)c, -1, 1);
	float *rm = ug_rand(&rng, (size_t)c, -1, 1), *rv = ug_rand(&rng, (size_t)c, 0.5f, 2);
	float *rm0 = ug_copy(rm, (size_t)c), *rv0 = ug_copy(rv, (size_t)c);
	float sm[20], si[20];
	double mean[20], var[20];
	for (int j = 0; j < c; j++) {
		double s = 0, q = 0;
		for (int i = 0; i < m; i++)
			s += x[i * ldx + j];
		mean[j] = s / m;
		for (int i = 0; i < m; i++)
			q += (x[i * ldx + j] - mean[j]) * (x[i * ldx + j] - mean[j]);
		var[j] = q / m;
	}
	/* TRAIN: batch statistics, momentum update with the unbiased variance */
	rt_bn_p p = {m, c, ldx, 1e-5f, 0.1f, RT_BN_MODE_TRAIN, 0};
	rt_bn_forward(&p, x, g, b, rm, rv, sm, si, y);
	for (int j = 0; j < c; j++) {
		assert_near(sm[j], mean[j], 1e-6);
		assert_near(rm[j], 0.9 * rm0[j] + 0.1 * mean[j], 1e-6);
		assert_near(rv[j], 0.9 * rv0[j] + 0.1 * var[j] * m / (m - 1), 1e-6);
		for (int i = 0; i < m; i++) {
			double r = g[j] * (x[i * ldx + j] - mean[j]) / sqrt(var[j] + 1e-5) + b[j];
			assert_near(y[i * ldx + j], r, 1e-5);
		}
	}
	/* RECAL: two batches (x, then 2x + 1) give the mean of their statistics */
	float *x2 = malloc((size_t)m * ldx * sizeof(float));
	for (size_t i = 0; i < (size_t)m * ldx; i++)
		x2[i] = 2 * x[i] + 1;
	p.mode = RT_BN_MODE_RECAL;
	p.batches_seen = 0;
	rt_bn_forward(&p, x, g, b, rm, rv, sm, si, y);
	p.batches_seen = 1;
	rt_bn_forward(&p, x2, g, b, rm, rv, sm, si, y);
	for (int j = 0; j < c; j++) {
		assert_near(rm[j], (mean[j] + 2 * mean[j] + 1) / 2, 1e-5);
		assert_near(rv[j], (var[j] + 4 * var[j]) / 2 * m / (m - 1), 1e-5);
	}
	/* EVAL: running statistics, left unchanged */
	float *rm1 = ug_copy(rm, (size_t)c), *rv1 = ug_copy(rv, (size_t)c);
	p.mode = RT_BN_MODE_EVAL;
	rt_bn_forward(&p, x, g, b, rm, rv, sm, si, y);
	assert_memory_equal(rm, rm1, (size_t)c * sizeof(float));
	assert_memory_equal(rv, rv1, (size_t)c * sizeof(float));
	for (int j = 0; j < c; j++)
		for (int i = 0; i < m; i++) {
			double r = g[j] * (x[i * ldx + j] - rm[j]) / sqrt(rv[j] + 1e-5) + b[j];
			assert_near(y[i * ldx + j], r, 1e-5);
		}
	/* in place */
	float *xi = ug_copy(x, (size_t)m * ldx);
	rt_bn_forward(&p, xi, g, b, rm, rv, sm, si, xi);
	for (int i = 0; i < m; i++)
		assert_memory_equal(xi + i * ldx, y + i * ldx, (size_t)c * sizeof(float));
	free(x), free(y), free(g), free(b), free(rm), free(rv), free(rm0), free(rv0);
	free(x2), free(rm1), free(rv1), free(xi);
}

static void test_activations(void **state)
{
	(void)state;
	static const float xs[] = {-4, -3, -1.5f, 0, 0.5f, 3, 4.25f};
	static const float relu[] = {0, 0, 0, 0, 0.5f, 3, 4.25f};
	static const float hsig[] = {0, 0, 0.25f, 0.5f, 3.5f / 6, 1, 1};
	float y[7];
	rt_relu_forward(7, xs, y);
	for (int i = 0; i < 7; i++)
		assert_near(y[i], relu[i], 0);
	rt_hsigmoid_forward(7, xs, y);
	for (int i = 0; i < 7; i++)
		assert_near(y[i], hsig[i], 1e-7);
	rt_hswish_forward(7, xs, y);
	for (int i = 0; i < 7; i++)
		assert_near(y[i], xs[i] * hsig[i], 1e-6);
	/* the kinks follow PyTorch */
	static const float kx[] = {-3, 0, 3};
	static const float one[] = {1, 1, 1};
	float d[3];
	rt_relu_backward(3, kx, one, d);
	assert_true(d[1] == 0.0f);
	rt_hswish_backward(3, kx, one, d);
	assert_near(d[0], -0.5f, 1e-7);
	assert_near(d[2], 1.5f, 1e-7);
	rt_hsigmoid_backward(3, kx, one, d);
	assert_true(d[0] == 0.0f && d[2] == 0.0f);
	/* add */
	float a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, s[5];
	rt_add_forward(5, a, b, s);
	rt_add_inplace(5, a, s);
	for (int i = 0; i < 5; i++)
		assert_near(s[i], 2 * a[i] + b[i], 0);
}

static void test_pool_resize(void **state)
{
	(void)state;
	int n = 3, hw = 10, c = 5;
	float *x = ug_rand(&rng, (size_t)n * hw * c, -1, 1), y[15];
	double ref[15] = {0};
	rt_avgpool_forward(n, hw, c, x, y);
	for (int i = 0; i < n; i++)
		for (int p = 0; p < hw; p++)
			for (int j = 0; j < c; j++)
				ref[i * c + j] += x[(i * hw + p) * c + j] / 10.0;
	expect_close("avgpool", y, ref, 15);
	free(x);
	/* same size: identity */
	rt_resize_p rp = {2, 5, 4, 3, 5, 4};
	float *a = ug_rand(&rng, 120, -1, 1), *b = malloc(120 * sizeof(float));
	rt_resize_forward(&rp, a, b);
	assert_memory_equal(a, b, 120 * sizeof(float));
	/* 2 -> 4 in one dimension: PyTorch gives a0, .75a0+.25a1, .25a0+.75a1, a1 */
	rt_resize_p up = {1, 1, 2, 1, 1, 4};
	float src[2] = {1.0f, 5.0f}, dst[4];
	rt_resize_forward(&up, src, dst);
	assert_near(dst[0], 1.0f, 1e-6);
	assert_near(dst[1], 2.0f, 1e-6);
	assert_near(dst[2], 4.0f, 1e-6);
	assert_near(dst[3], 5.0f, 1e-6);
	/* 4 -> 2: samples at 0.5 and 2.5 */
	rt_resize_p down = {1, 4, 1, 1, 2, 1};
	float s4[4] = {0, 2, 4, 8}, d2[2];
	rt_resize_forward(&down, s4, d2);
	assert_near(d2[0], 1.0f, 1e-6);
	assert_near(d2[1], 6.0f, 1e-6);
	free(a), free(b);
}

static void test_se_forward(void **state)
{
	(void)state;
	rt_se_p p = {2, 6, 5, 3, 4, 7};
	size_t nx = (size_t)p.n * p.hw * p.c;
	float *x = ug_rand(&rng, nx, -2, 2), *y = malloc(nx * sizeof(float));
	float *w1 = ug_rand(&rng, (size_t)p.c * p.ldw1, -1, 1), *b1 = ug_rand(&rng, 4, -1, 1);
	float *w2 = ug_rand(&rng, (size_t)p.r * p.ldw2, -1, 1), *b2 = ug_rand(&rng, 7, -1, 1);
	float *ws = malloc(rt_se_workspace(&p) * sizeof(float));
	rt_se_forward(&p, x, w1, b1, w2, b2, y, ws);
	double *ref = dbuf(nx);
	for (int n = 0; n < p.n; n++) {
		double pool[5] = {0}, hid[3], gate[5];
		for (int i = 0; i < p.hw; i++)
			for (int c = 0; c < p.c; c++)
				pool[c] += x[(n * p.hw + i) * p.c + c] / (double)p.hw;
		for (int r = 0; r < p.r; r++) {
			double s = b1[r];
			for (int c = 0; c < p.c; c++)
				s += pool[c] * w1[c * p.ldw1 + r];
			hid[r] = s > 0 ? s : 0;
		}
		for (int c = 0; c < p.c; c++) {
			double s = b2[c];
			for (int r = 0; r < p.r; r++)
				s += hid[r] * w2[r * p.ldw2 + c];
			gate[c] = fmin(fmax(s + 3, 0), 6) / 6;
		}
		for (int i = 0; i < p.hw; i++)
			for (int c = 0; c < p.c; c++)
				ref[(n * p.hw + i) * p.c + c] = x[(n * p.hw + i) * p.c + c] * gate[c];
	}
	expect_close("se", y, ref, nx);
	free(x), free(y), free(w1), free(b1), free(w2), free(b2), free(ws), free(ref);
}

static void test_losses(void **state)
{
	(void)state;
	int n = 3, k = 4;
	float z[12] = {1, 2, 3, 4, -1, 0, 5, 0.5f, 2, 2, 2, 2};
	int labels[3] = {3, 0, 1};
	float eps = 0.1f;
	double want = 0;
	int right = 0;
	for (int i = 0; i < n; i++) {
		double lse = 0;
		for (int j = 0; j < k; j++)
			lse += exp(z[i * k + j]);
		lse = log(lse);
		for (int j = 0; j < k; j++) {
			double t = (j == labels[i] ? 1 - eps : 0) + eps / k;
			want -= t * (z[i * k + j] - lse) / n;
		}
	}
	right = 1; /* row 0's arg-max is its label; row 2 ties go to index 0 */
	int correct = -1;
	double got = rt_xent_forward_backward(n, k, k, z, labels, eps, NULL, &correct);
	assert_near(got, want, 1e-6 * fabs(want)); /* the op sums in float */
	assert_int_equal(correct, right);
	/* KL to the student's own distribution is 0, and to a one-hot is the CE */
	float q[12];
	rt_softmax_forward(n, k, k, z, q);
	for (int i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < k; j++)
			s += q[i * k + j];
		assert_near(s, 1.0, 1e-6);
	}
	assert_near(rt_kl_forward_backward(n, k, k, z, q, NULL), 0.0, 1e-6);
	memset(q, 0, sizeof q);
	for (int i = 0; i < n; i++)
		q[i * k + labels[i]] = 1.0f;
	assert_near(rt_kl_forward_backward(n, k, k, z, q, NULL),
		    rt_xent_forward_backward(n, k, k, z, labels, 0, NULL, NULL), 1e-9);
}

/* ---- reproducibility and threads --------------------------------------- */

/* Runs a threaded workload (dwconv, bn, hswish, forward and backward). */
static void workload(float *out, size_t *len)
{
	rt_rng r;
	rt_rng_seed(&r, 7);
	rt_dwconv_p p = {4, 14, 14, 40, 5, 1, 40};
	size_t nx = (size_t)4 * 14 * 14 * 40;
	float *x = ug_rand(&r, nx, -1, 1), *w = ug_rand(&r, 25 * 40, -1, 1);
	float *dy = ug_rand(&r, nx, -1, 1);
	float g[40], b[40], rm[40] = {0}, rv[40], sm[40], si[40];
	for (int i = 0; i < 40; i++)
		g[i] = 1, b[i] = 0, rv[i] = 1;
	size_t o = 0;
	rt_dwconv_forward(&p, x, w, NULL, out + o);
	o += nx;
	rt_bn_p bp = {(int)(nx / 40), 40, 40, 1e-5f, 0.1f, RT_BN_MODE_TRAIN, 0};
	rt_bn_forward(&bp, out, g, b, rm, rv, sm, si, out + o);
	rt_hswish_forward(nx, out + o, out + o + nx);
	o += 2 * nx;
	memset(out + o, 0, (25 * 40 + 40) * sizeof(float));
	rt_dwconv_backward(&p, x, w, dy, out + o + 25 * 40 + 40, out + o, out + o + 25 * 40);
	o += 25 * 40 + 40 + nx;
	rt_bn_backward(&bp, out, g, sm, si, dy, out + o, rm, rv);
	o += nx;
	*len = o;
	free(x), free(w), free(dy);
}

static void test_reproducible_threads(void **state)
{
	(void)state;
	size_t cap = (size_t)4 * 14 * 14 * 40 * 6 + 2000, l1, l2;
	float *a = malloc(cap * sizeof(float)), *b = malloc(cap * sizeof(float));
	assert_int_equal(rt_threads_init(1, NULL, 0), 1);
	workload(a, &l1);
	assert_int_equal(rt_threads_init(2, NULL, 0), 2);
	workload(b, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(a, b, l1 * sizeof(float));
	workload(b, &l2);
	assert_memory_equal(a, b, l1 * sizeof(float));
	free(a), free(b);
}

static void test_arena(void **state)
{
	(void)state;
	rt_arena m;
	rt_arena_init_measure(&m);
	rt_tensor a = rt_tensor_new(&m, 2, 3, 3, 5);
	size_t mark = rt_arena_mark(&m);
	rt_tensor b = rt_tensor_new(&m, 1, 1, 1, 7);
	rt_arena_reset(&m, mark);
	rt_tensor c = rt_tensor_new(&m, 1, 2, 2, 3);
	assert_null(a.data);
	assert_null(b.data);
	assert_null(c.data);
	assert_int_equal(rt_tensor_numel(&a), 90);
	assert_int_equal(rt_tensor_rows(&a), 18);
	size_t need = rt_arena_peak(&m);
	assert_int_equal(need, 384 + 64); /* 90 floats -> 384 bytes, then max(7, 12) floats */

	rt_arena r;
	assert_int_equal(rt_arena_init(&r, need), 0);
	a = rt_tensor_new(&r, 2, 3, 3, 5);
	mark = rt_arena_mark(&r);
	b = rt_tensor_new(&r, 1, 1, 1, 7);
	rt_arena_reset(&r, mark);
	c = rt_tensor_new(&r, 1, 2, 2, 3);
	assert_non_null(a.data);
	assert_true(c.data == b.data);
	assert_int_equal((uintptr_t)c.data % RT_ARENA_ALIGN, 0);
	rt_tensor_fill(&c, 2.5f);
	assert_true(c.data[11] == 2.5f);
	assert_null(rt_arena_alloc(&r, 1)); /* full */
	rt_arena_free(&r);
}

static int setup(void **state)
{
	(void)state;
	rt_rng_seed(&rng, 42);
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
		cmocka_unit_test(test_linear_forward),     cmocka_unit_test(test_conv2d_forward),
		cmocka_unit_test(test_dwconv_forward),     cmocka_unit_test(test_bn_statistics),
		cmocka_unit_test(test_activations),        cmocka_unit_test(test_pool_resize),
		cmocka_unit_test(test_se_forward),         cmocka_unit_test(test_losses),
		cmocka_unit_test(test_reproducible_threads), cmocka_unit_test(test_arena),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
