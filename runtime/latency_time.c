/*
 * latency_time.c — timing one layer shape: the ops the EVAL forward of a
 * supernet or an extracted model runs for that layer (extract.h lists them),
 * at batch 1, on buffers and weights of exactly that shape.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/latency_priv.h"
#include "runtime/ops.h"
#include "runtime/rng.h"

#define WARMUP 2

/* Everything a layer's ops read and write, sized for the key. */
typedef struct bench {
	const lat_key *k;
	float *x, *e, *d, *se, *y, *t, *ws;
	float *w1, *w2, *w3, *s1, *s1b, *s2, *s2b, *bias;
	float *bn_g, *bn_b, *bn_m, *bn_v, *save_m, *save_s; /* one set, widest C */
} bench;

static void bn_eval(bench *b, int m, int c, float *z)
{
	rt_bn_p p = {.m = m, .c = c, .ldx = c, .eps = 1e-5f, .mode = RT_BN_MODE_EVAL};
	rt_bn_forward(&p, z, b->bn_g, b->bn_b, b->bn_m, b->bn_v, b->save_m, b->save_s, z);
}

static void act(int a, size_t n, float *z)
{
	if (a == IR_ACT_RELU)
		rt_relu_forward(n, z, z);
	else if (a == IR_ACT_HSWISH)
		rt_hswish_forward(n, z, z);
}

static void conv(bench *b, int h, int cin, int cout, int k, int stride, const float *x,
		 const float *w, float *y)
{
	rt_conv2d_p p = {.n = 1, .h = h, .w = h, .cin = cin, .cout = cout, .k = k,
			 .stride = stride, .pad = k / 2, .ldw = cout};
	rt_conv2d_forward(&p, x, w, y, b->ws);
}

static void linear(int m, int cin, int cout, const float *x, const float *w, const float *bias,
		   float *y)
{
	rt_linear_p p = {.m = m, .cin = cin, .cout = cout, .ldx = cin, .ldw = cout, .ldy = cout};
	rt_linear_forward(&p, x, w, bias, y);
}

/* y[:, :min(cy, cx)] += x[:, :min(cy, cx)] row by row. */
static void add_rows(size_t rows, int cy, int cx, const float *x, float *y)
{
	if (cy == cx) {
		rt_add_inplace(rows * (size_t)cy, x, y);
		return;
	}
	int c = cy < cx ? cy : cx;
	for (size_t r = 0; r < rows; r++)
		for (int j = 0; j < c; j++)
			y[r * (size_t)cy + (size_t)j] += x[r * (size_t)cx + (size_t)j];
}

/* One forward of the key's layer. */
static void run(bench *b)
{
	const lat_key *k = b->k;
	int hw = k->h * k->h, hwo = k->ho * k->ho;
	switch (k->kind) {
	case IR_BLOCK_CONV:
		conv(b, k->h, k->cin, k->cout, k->k, k->stride, b->x, b->w1, b->y);
		bn_eval(b, hwo, k->cout, b->y);
		act(k->act, (size_t)hwo * k->cout, b->y);
		break;
	case IR_BLOCK_MBCONV: {
		const float *e = b->x;
		if (k->has_expand) {
			linear(hw, k->cin, k->mid, b->x, b->w1, NULL, b->e);
			bn_eval(b, hw, k->mid, b->e);
			act(k->act, (size_t)hw * k->mid, b->e);
			e = b->e;
		}
		rt_dwconv_p dp = {.n = 1, .h = k->h, .w = k->h, .c = k->mid, .k = k->k,
				  .stride = k->stride, .ldw = k->mid};
		rt_dwconv_forward(&dp, e, b->w2, NULL, b->d);
		bn_eval(b, hwo, k->mid, b->d);
		act(k->act, (size_t)hwo * k->mid, b->d);
		const float *t = b->d;
		if (k->se_r) {
			rt_se_p sp = {.n = 1, .hw = hwo, .c = k->mid, .r = k->se_r, .ldw1 = k->se_r,
				      .ldw2 = k->mid};
			rt_se_forward(&sp, b->d, b->s1, b->s1b, b->s2, b->s2b, b->se, b->ws);
			t = b->se;
		}
		linear(hwo, k->mid, k->cout, t, b->w3, NULL, b->y);
		bn_eval(b, hwo, k->cout, b->y);
		if (k->shortcut)
			rt_add_inplace((size_t)hwo * k->cout, b->x, b->y);
		break;
	}
	case IR_BLOCK_RESIDUAL:
		conv(b, k->h, k->cin, k->mid, k->k, k->stride, b->x, b->w1, b->e);
		bn_eval(b, hwo, k->mid, b->e);
		rt_relu_forward((size_t)hwo * k->mid, b->e, b->e);
		conv(b, k->ho, k->mid, k->cout, k->k, 1, b->e, b->w2, b->y);
		bn_eval(b, hwo, k->cout, b->y);
		if (k->shortcut == 2) {
			conv(b, k->h, k->cin, k->cout, 1, k->stride, b->x, b->w3, b->t);
			bn_eval(b, hwo, k->cout, b->t);
			rt_add_inplace((size_t)hwo * k->cout, b->t, b->y);
		} else {
			add_rows((size_t)hwo, k->cout, k->cin, b->x, b->y);
		}
		rt_relu_forward((size_t)hwo * k->cout, b->y, b->y);
		break;
	case IR_BLOCK_POOL:
		rt_avgpool_forward(1, hw, k->cin, b->x, b->y);
		break;
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
		linear(1, k->cin, k->cout, b->x, b->w1, k->kind == IR_BLOCK_FC ? b->bias : NULL, b->y);
		if (k->kind == IR_BLOCK_DENSE)
			bn_eval(b, 1, k->cout, b->y);
		act(k->act, (size_t)k->cout, b->y);
		break;
	case LAT_KIND_RESIZE: {
		rt_resize_p rp = {.n = 1, .h = k->h, .w = k->h, .c = k->cin, .ho = k->ho, .wo = k->ho};
		rt_resize_forward(&rp, b->x, b->y);
		break;
	}
	default:
		break;
	}
}

static size_t max3(size_t a, size_t b, size_t c)
{
	size_t m = a > b ? a : b;
	return m > c ? m : c;
}

/* Floats of the largest weight matrix the key's layer reads. */
static size_t weight_floats(const lat_key *k)
{
	size_t kk = (size_t)k->k * k->k, cin = (size_t)k->cin, mid = (size_t)k->mid,
	       cout = (size_t)k->cout;
	switch (k->kind) {
	case IR_BLOCK_CONV:
		return kk * cin * cout;
	case IR_BLOCK_MBCONV:
		return max3(cin * mid, kk * mid, mid * cout);
	case IR_BLOCK_RESIDUAL:
		return max3(kk * cin * mid, kk * mid * cout, cin * cout);
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
		return cin * cout;
	default:
		return 0;
	}
}

/* Floats of convolution and SE workspace the key's layer needs. */
static size_t workspace_floats(const lat_key *k)
{
	size_t ws = 0;
	if (k->kind == IR_BLOCK_CONV || k->kind == IR_BLOCK_RESIDUAL) {
		int c1out = k->kind == IR_BLOCK_CONV ? k->cout : k->mid;
		rt_conv2d_p c1 = {.n = 1, .h = k->h, .w = k->h, .cin = k->cin, .cout = c1out,
				  .k = k->k, .stride = k->stride, .pad = k->k / 2, .ldw = c1out};
		ws = rt_conv2d_workspace(&c1);
	}
	if (k->kind == IR_BLOCK_RESIDUAL) {
		rt_conv2d_p c2 = {.n = 1, .h = k->ho, .w = k->ho, .cin = k->mid, .cout = k->cout,
				  .k = k->k, .stride = 1, .pad = k->k / 2, .ldw = k->cout};
		rt_conv2d_p c3 = {.n = 1, .h = k->h, .w = k->h, .cin = k->cin, .cout = k->cout,
				  .k = 1, .stride = k->stride, .pad = 0, .ldw = k->cout};
		ws = max3(ws, rt_conv2d_workspace(&c2), rt_conv2d_workspace(&c3));
	}
	if (k->kind == IR_BLOCK_MBCONV && k->se_r) {
		rt_se_p sp = {.n = 1, .hw = k->ho * k->ho, .c = k->mid, .r = k->se_r,
			      .ldw1 = k->se_r, .ldw2 = k->mid};
		ws = ws > rt_se_workspace(&sp) ? ws : rt_se_workspace(&sp);
	}
	return ws;
}

/* A buffer of n floats (at least one) in [-1, 1). */
static float *buf(rt_rng *r, size_t n)
{
	n = n ? n : 1;
	float *p = malloc(n * sizeof(float));
	if (p)
		for (size_t i = 0; i < n; i++)
			p[i] = (float)(2 * rt_rng_uniform(r) - 1);
	return p;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int lat_time_key(const lat_key *k, int reps, double *us)
{
	rt_rng r;
	rt_rng_seed(&r, 1);
	/* Every activation buffer holds the largest map the layer touches. */
	size_t cmax = max3((size_t)k->cin, (size_t)k->mid, (size_t)k->cout);
	size_t hw = (size_t)k->h * k->h, hwo = (size_t)k->ho * k->ho;
	size_t act_n = (hw > hwo ? hw : hwo) * cmax, w_n = weight_floats(k);
	bench b = {.k = k};
	b.x = buf(&r, act_n);
	b.e = buf(&r, act_n);
	b.d = buf(&r, act_n);
	b.se = buf(&r, act_n);
	b.y = buf(&r, act_n);
	b.t = buf(&r, act_n);
	b.ws = buf(&r, workspace_floats(k));
	b.w1 = buf(&r, w_n);
	b.w2 = buf(&r, w_n);
	b.w3 = buf(&r, w_n);
	b.s1 = buf(&r, (size_t)k->mid * k->se_r);
	b.s1b = buf(&r, (size_t)k->se_r);
	b.s2 = buf(&r, (size_t)k->se_r * k->mid);
	b.s2b = buf(&r, (size_t)k->mid);
	b.bias = buf(&r, (size_t)k->cout);
	b.bn_g = buf(&r, cmax);
	b.bn_b = buf(&r, cmax);
	b.bn_m = buf(&r, cmax);
	b.bn_v = buf(&r, cmax);
	b.save_m = buf(&r, cmax);
	b.save_s = buf(&r, cmax);
	double *t = malloc((size_t)reps * sizeof(double));
	float *all[] = {b.x, b.e, b.d, b.se, b.y, b.t, b.ws, b.w1, b.w2, b.w3, b.s1, b.s1b, b.s2,
			b.s2b, b.bias, b.bn_g, b.bn_b, b.bn_m, b.bn_v, b.save_m, b.save_s};
	int n = (int)(sizeof(all) / sizeof(all[0])), ok = t != NULL;
	for (int i = 0; i < n; i++)
		ok &= all[i] != NULL;
	if (ok) {
		/* Positive variances: a sane normalisation, no NaNs to slow it. */
		for (size_t i = 0; i < cmax; i++)
			b.bn_v[i] = 1.0f + 0.5f * b.bn_v[i];
		for (int i = 0; i < WARMUP; i++)
			run(&b);
		for (int i = 0; i < reps; i++) {
			double t0 = now_us();
			run(&b);
			t[i] = now_us() - t0;
		}
		qsort(t, (size_t)reps, sizeof(double), cmp_double);
		*us = t[reps / 2];
	}
	for (int i = 0; i < n; i++)
		free(all[i]);
	free(t);
	return ok ? 0 : -1;
}
