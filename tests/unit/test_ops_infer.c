/*
 * test_ops_infer.c — the inference kernels (ops.h, "inference") against
 * naive double-precision references: pointwise with bias, every
 * activation and a residual over all or some columns, at every shape class
 * the tiling distinguishes (whole 6 x 16 tiles, row and column remainders,
 * columns past a vector), and with its rows stored as the pixels of
 * bordered images; dense convolutions through im2col and without;
 * depthwise at kernels 1 to 9 and strides 1 and 2, on maps narrower than
 * a block and rows of several blocks, with channel counts that leave a
 * partial vector and NaN in the padding lanes (which must never reach an
 * output); squeeze-excite in place.  Outputs outside the written region must be left alone.  All of
 * it twice, on 8-float vectors and, where the CPU has AVX-512, on 16-float
 * ones, which must also give the same bits as the 8-float ones.
 *
 * A kernel passes when max |ours - ref| / max |ref| <= TOL.
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

#define TOL 1e-5

static rt_rng rng;

static double *dbuf(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof(double));
	assert_non_null(p);
	return p;
}

static double act_ref(rt_act a, double v)
{
	if (a == RT_ACT_RELU)
		return v > 0 ? v : 0;
	if (a == RT_ACT_HSWISH)
		return v * fmin(fmax(v + 3, 0), 6) / 6;
	return v;
}

static void expect_close(const char *what, int cas, const float *got, const double *ref, size_t n)
{
	double e = ug_max_rel(got, ref, n);
	if (!(e <= TOL))
		print_error("%s case %d: max relative error %g > %g\n", what, cas, e, TOL);
	assert_true(e <= TOL);
}

static void test_pw_infer(void **state)
{
	(void)state;
	/* m, cin, cout, act, residual columns (-1: none), bias */
	static const int cases[][6] = {
		{12, 16, 32, RT_ACT_NONE, -1, 1},  {13, 5, 16, RT_ACT_RELU, -1, 1},
		{7, 9, 24, RT_ACT_HSWISH, 24, 1},  {1, 3, 10, RT_ACT_NONE, -1, 0},
		{100, 48, 40, RT_ACT_RELU, 17, 1}, {6, 1, 37, RT_ACT_HSWISH, 37, 1},
		{5, 20, 3, RT_ACT_RELU, 2, 0},     {200, 64, 192, RT_ACT_HSWISH, -1, 1},
		/* 16 q + 8 columns end in tiles of 24: residuals ending in each vector */
		{30, 72, 72, RT_ACT_RELU, 70, 1},  {9, 24, 24, RT_ACT_NONE, -1, 0},
		{11, 5, 56, RT_ACT_HSWISH, 45, 1}, {2, 8, 24, RT_ACT_RELU, 5, 1},
	};
	for (int t = 0; t < (int)(sizeof cases / sizeof cases[0]); t++) {
		int m = cases[t][0], cin = cases[t][1], cout = cases[t][2];
		int ldx = cin + t % 3, ldw = cout + t % 2, ldy = cout + 2, cr = cases[t][4];
		int ldr = (cr > 0 ? cr : 1) + 1;
		rt_act act = (rt_act)cases[t][3];
		float *x = ug_rand(&rng, (size_t)m * ldx, -1, 1);
		float *w = ug_rand(&rng, (size_t)cin * ldw, -1, 1);
		float *b = cases[t][5] ? ug_rand(&rng, (size_t)cout, -1, 1) : NULL;
		float *r = cr >= 0 ? ug_rand(&rng, (size_t)m * ldr, -2, 2) : NULL;
		float *y = ug_rand(&rng, (size_t)m * ldy, -1, 1), *y0 = ug_copy(y, (size_t)m * ldy);
		rt_pw_p p = {.m = m,
			     .cin = cin,
			     .cout = cout,
			     .ldx = ldx,
			     .ldw = ldw,
			     .ldy = ldy,
			     .act = act,
			     .r = r,
			     .ldr = ldr,
			     .cr = cr < 0 ? 0 : cr};
		rt_pw_infer(&p, x, w, b, y);
		double *ref = dbuf((size_t)m * cout);
		float *got = malloc((size_t)m * cout * sizeof(float));
		for (int i = 0; i < m; i++)
			for (int j = 0; j < cout; j++) {
				double s = b ? b[j] : 0;
				for (int k = 0; k < cin; k++)
					s += (double)x[i * ldx + k] * w[k * ldw + j];
				if (r && j < cr)
					s += r[i * ldr + j];
				ref[i * cout + j] = act_ref(act, s);
				got[i * cout + j] = y[i * ldy + j];
			}
		expect_close("pointwise", t, got, ref, (size_t)m * cout);
		for (int i = 0; i < m; i++) /* columns past cout are not written */
			for (int j = cout; j < ldy; j++)
				assert_true(y[i * ldy + j] == y0[i * ldy + j]);
		free(x), free(w), free(b), free(r), free(y), free(y0), free(ref), free(got);
	}
}

/* Rows of y laid out as pixels of bordered images (grp_w): the expand
 * convolution writing straight into the depthwise kernel's input; cout
 * columns of rows of ldy floats. */
static void pw_grouped(int cout, int ldy)
{
	int n = 2, h = 3, w = 5, cin = 7, ld_row = 8 * ldy, ld_img = 5 * ld_row;
	int m = n * h * w;
	size_t ny = (size_t)n * ld_img;
	float *x = ug_rand(&rng, (size_t)m * cin, -1, 1),
	      *wt = ug_rand(&rng, (size_t)cin * cout, -1, 1);
	float *b = ug_rand(&rng, (size_t)cout, -1, 1), *y = malloc(ny * sizeof(float));
	for (size_t i = 0; i < ny; i++)
		y[i] = 7.0f;
	rt_pw_p p = {.m = m,
		     .cin = cin,
		     .cout = cout,
		     .ldx = cin,
		     .ldw = cout,
		     .ldy = ldy,
		     .act = RT_ACT_RELU,
		     .grp_w = w,
		     .grp_h = h,
		     .ld_row = (size_t)ld_row,
		     .ld_img = (size_t)ld_img};
	rt_pw_infer(&p, x, wt, b, y);
	double *ref = dbuf((size_t)m * cout);
	float *got = malloc((size_t)m * cout * sizeof(float));
	size_t written = 0;
	for (int i = 0; i < m; i++) {
		int img = i / (h * w), q = i / w % h, j = i % w;
		float *yr = y + (size_t)img * ld_img + (size_t)q * ld_row + (size_t)j * ldy;
		for (int c = 0; c < cout; c++) {
			double sum = b[c];
			for (int k = 0; k < cin; k++)
				sum += (double)x[i * cin + k] * wt[k * cout + c];
			ref[i * cout + c] = act_ref(RT_ACT_RELU, sum);
			got[i * cout + c] = yr[c];
		}
		written += (size_t)cout;
	}
	expect_close("pointwise grouped", cout, got, ref, (size_t)m * cout);
	size_t untouched = 0; /* everything else keeps its 7 */
	for (size_t i = 0; i < ny; i++)
		untouched += y[i] == 7.0f;
	assert_int_equal(untouched + written, ny);
	free(x), free(wt), free(b), free(y), free(ref), free(got);
}

static void test_pw_infer_grouped(void **state)
{
	(void)state;
	pw_grouped(13, 16);
	pw_grouped(24, 24); /* tiles of 24 columns */
	pw_grouped(56, 56);
	pw_grouped(64, rt_dw_infer_pstride(64)); /* as the depthwise images are */
}

static void test_conv2d_infer(void **state)
{
	(void)state;
	static const rt_conv2d_p ps[] = {
		{2, 7, 6, 3, 5, 3, 2, 1, 8},
		{1, 28, 28, 1, 16, 3, 1, 1, 16},
		{3, 5, 4, 4, 6, 1, 2, 0, 6},
		{2, 4, 3, 4, 9, 1, 1, 0, 9},
		{2, 6, 7, 2, 17, 3, 2, 0, 17},   /* read in place, a partial strip */
		{1, 5, 5, 240, 9, 3, 1, 1, 9},   /* too many taps: im2col */
		{1, 9, 8, 5, 24, 5, 1, 2, 32},   /* ldw > cout */
	};
	for (int t = 0; t < (int)(sizeof ps / sizeof ps[0]); t++) {
		rt_conv2d_p p = ps[t];
		rt_act act = (rt_act)(t % RT_ACT_COUNT);
		int ho = rt_conv_out_size(p.h, p.k, p.stride, p.pad);
		int wo = rt_conv_out_size(p.w, p.k, p.stride, p.pad);
		int cr = t % 2 ? p.cout - 1 : 0;
		size_t rows = (size_t)p.n * ho * wo, ny = rows * p.cout;
		float *x = ug_rand(&rng, (size_t)p.n * p.h * p.w * p.cin, -1, 1);
		float *w = ug_rand(&rng, (size_t)p.k * p.k * p.cin * p.ldw, -1, 1);
		float *b = ug_rand(&rng, (size_t)p.cout, -1, 1);
		float *r = cr ? ug_rand(&rng, rows * cr, -1, 1) : NULL;
		float *y = malloc(ny * sizeof(float));
		float *ws = malloc((rt_conv2d_infer_workspace(&p) + 1) * sizeof(float));
		rt_conv2d_infer(&p, act, r, cr, cr, x, w, b, y, ws);
		double *ref = dbuf(ny);
		for (int n = 0; n < p.n; n++)
			for (int oh = 0; oh < ho; oh++)
				for (int ow = 0; ow < wo; ow++)
					for (int co = 0; co < p.cout; co++) {
						size_t row = ((size_t)n * ho + oh) * wo + ow;
						double s = b[co] + (co < cr ? r[row * cr + co] : 0);
						for (int ki = 0; ki < p.k; ki++)
							for (int kj = 0; kj < p.k; kj++) {
								int ih = oh * p.stride - p.pad + ki;
								int iw = ow * p.stride - p.pad + kj;
								if (ih < 0 || ih >= p.h || iw < 0 ||
								    iw >= p.w)
									continue;
								for (int ci = 0; ci < p.cin; ci++)
									s += (double)x
										     [((n * p.h +
											ih) * p.w +
										       iw) * p.cin +
										      ci] *
									     w[((ki * p.k + kj) *
											p.cin +
										ci) * p.ldw +
									       co];
							}
						ref[row * p.cout + co] = act_ref(act, s);
					}
		expect_close("conv2d", t, y, ref, ny);
		free(x), free(w), free(b), free(r), free(y), free(ws), free(ref);
	}
}

static void test_dw_infer(void **state)
{
	(void)state;
	static const rt_dw_infer_p ps[] = {
		{2, 9, 7, 21, 3, 1, RT_ACT_RELU},
		{1, 8, 8, 40, 5, 2, RT_ACT_HSWISH},
		{2, 5, 6, 7, 7, 1, RT_ACT_NONE},
		{1, 1, 1, 16, 3, 2, RT_ACT_RELU},
		{2, 14, 14, 96, 7, 2, RT_ACT_HSWISH},
		{1, 7, 7, 192, 7, 1, RT_ACT_HSWISH},
		{3, 6, 11, 8, 5, 1, RT_ACT_RELU},
		{1, 10, 9, 13, 9, 2, RT_ACT_NONE},
		{2, 3, 5, 1, 1, 1, RT_ACT_RELU},
		{1, 13, 3, 24, 3, 2, RT_ACT_NONE},
		/* rows of several blocks */
		{1, 5, 37, 24, 7, 1, RT_ACT_RELU},
		{2, 4, 40, 40, 5, 2, RT_ACT_HSWISH},
		{1, 3, 16, 8, 3, 1, RT_ACT_NONE},
		/* rows ending in a block of 12 (9-12 outputs left) */
		{1, 12, 12, 72, 7, 1, RT_ACT_HSWISH},
		{2, 5, 18, 16, 7, 2, RT_ACT_RELU},
		{1, 20, 20, 24, 3, 2, RT_ACT_NONE},
		{1, 3, 10, 8, 3, 1, RT_ACT_RELU},
		{1, 5, 12, 20, 9, 1, RT_ACT_HSWISH},
		{1, 4, 44, 8, 5, 2, RT_ACT_RELU},
	};
	for (int t = 0; t < (int)(sizeof ps / sizeof ps[0]); t++) {
		rt_dw_infer_p p = ps[t];
		int pad = p.k / 2, cp = rt_dw_infer_cpad(p.c), kk = p.k * p.k;
		assert_true(cp >= p.c && cp % 8 == 0 && cp - p.c < 8);
		/* bordered pixels an odd number of vectors apart (cache sets) */
		int pst = rt_dw_infer_pstride(p.c);
		assert_true(pst == cp || pst == cp + 8);
		assert_true(pst / 8 % 2 == 1);
		int ho = rt_conv_out_size(p.h, p.k, p.stride, pad);
		int wo = rt_conv_out_size(p.w, p.k, p.stride, pad);
		size_t ny = (size_t)p.n * ho * wo * p.c;
		float *x = ug_rand(&rng, (size_t)p.n * p.h * p.w * p.c, -1, 1);
		float *w = ug_rand(&rng, (size_t)kk * cp, -1, 1);
		float *b = ug_rand(&rng, (size_t)cp, -1, 1);
		for (int c = p.c; c < cp; c++) { /* padding lanes: never in an output */
			b[c] = NAN;
			for (int k = 0; k < kk; k++)
				w[k * cp + c] = NAN;
		}
		float *y = malloc((ny + 8) * sizeof(float));
		for (size_t i = 0; i < ny + 8; i++)
			y[i] = 7.0f;
		float *ws = malloc(rt_dw_infer_workspace(&p) * sizeof(float));
		rt_dw_infer(&p, x, w, b, y, ws);
		double *ref = dbuf(ny);
		for (int n = 0; n < p.n; n++)
			for (int oh = 0; oh < ho; oh++)
				for (int ow = 0; ow < wo; ow++)
					for (int c = 0; c < p.c; c++) {
						double s = b[c];
						for (int ki = 0; ki < p.k; ki++)
							for (int kj = 0; kj < p.k; kj++) {
								int ih = oh * p.stride - pad + ki;
								int iw = ow * p.stride - pad + kj;
								if (ih >= 0 && ih < p.h &&
								    iw >= 0 && iw < p.w)
									s += (double)x[((n * p.h +
											 ih) * p.w +
											iw) * p.c +
										       c] *
									     w[(ki * p.k + kj) *
										       cp +
									       c];
							}
						ref[((n * ho + oh) * wo + ow) * p.c + c] =
							act_ref(p.act, s);
					}
		expect_close("depthwise", t, y, ref, ny);
		for (size_t i = ny; i < ny + 8; i++) /* nothing written past the map */
			assert_true(y[i] == 7.0f);
		free(x), free(w), free(b), free(y), free(ws), free(ref);
	}
}

static void test_se_infer(void **state)
{
	(void)state;
	static const rt_se_p ps[] = {{2, 6, 5, 3, 4, 7}, {3, 49, 96, 24, 24, 96}};
	for (int t = 0; t < (int)(sizeof ps / sizeof ps[0]); t++) {
		rt_se_p p = ps[t];
		size_t nx = (size_t)p.n * p.hw * p.c;
		float *x = ug_rand(&rng, nx, -2, 2), *want = malloc(nx * sizeof(float));
		float *w1 = ug_rand(&rng, (size_t)p.c * p.ldw1, -1, 1);
		float *b1 = ug_rand(&rng, (size_t)p.r, -1, 1);
		float *w2 = ug_rand(&rng, (size_t)p.r * p.ldw2, -1, 1);
		float *b2 = ug_rand(&rng, (size_t)p.c, -1, 1);
		float *ws = malloc(rt_se_workspace(&p) * sizeof(float));
		float *wi = malloc(rt_se_infer_workspace(&p) * sizeof(float));
		rt_se_forward(&p, x, w1, b1, w2, b2, want, ws);
		rt_se_infer(&p, x, w1, b1, w2, b2, wi);
		double *ref = dbuf(nx);
		for (size_t i = 0; i < nx; i++)
			ref[i] = want[i];
		expect_close("squeeze-excite", t, x, ref, nx);
		free(x), free(want), free(w1), free(b1), free(w2), free(b2), free(ws), free(wi);
		free(ref);
	}
}

/*
 * A single image's larger layers are split over the pool (by blocks of
 * rows, or of columns where y is laid out as bordered images, the shortcut
 * then covering part of a block): one thread and two give the same bits,
 * and write nothing else.
 */
static void split_pw(rt_pw_p p, size_t ny)
{
	float *x = ug_rand(&rng, (size_t)p.m * p.ldx, -1, 1);
	float *w = ug_rand(&rng, (size_t)p.cin * p.ldw, -1, 1);
	float *b = ug_rand(&rng, (size_t)p.cout, -1, 1);
	float *r = ug_rand(&rng, (size_t)p.m * p.ldr, -1, 1);
	float *y[2] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float))};
	p.r = r;
	for (int t = 0; t < 2; t++) {
		for (size_t i = 0; i < ny; i++)
			y[t][i] = 7.0f;
		assert_int_equal(rt_threads_init(t + 1, NULL, 0), t + 1);
		rt_pw_infer(&p, x, w, b, y[t]);
	}
	assert_memory_equal(y[0], y[1], ny * sizeof(float));
	free(x), free(w), free(b), free(r), free(y[0]), free(y[1]);
}

static void test_split_same_bits(void **state)
{
	(void)state;
	/* plain rows: 5 blocks of rows, a shortcut on 40 of 70 columns */
	split_pw((rt_pw_p){.m = 100, .cin = 64, .cout = 70, .ldx = 64, .ldw = 72, .ldy = 75,
			   .act = RT_ACT_HSWISH, .ldr = 40, .cr = 40},
		 (size_t)100 * 75);
	/* bordered images: 4 blocks of columns, the shortcut ending inside the third */
	int h = 14, w = 14, ldy = 152, ld_row = 20 * ldy, ld_img = 20 * ld_row;
	split_pw((rt_pw_p){.m = h * w, .cin = 24, .cout = 150, .ldx = 24, .ldw = 150,
			   .ldy = ldy, .act = RT_ACT_RELU, .ldr = 100, .cr = 100, .grp_w = w,
			   .grp_h = h, .ld_row = (size_t)ld_row, .ld_img = (size_t)ld_img},
		 (size_t)ld_img);
	/* depthwise, stride 1 and 2: blocks of output rows */
	for (int s = 1; s <= 2; s++) {
		rt_dw_infer_p dp = {1, 14, 14, 72, 7, s, RT_ACT_HSWISH};
		int cp = rt_dw_infer_cpad(dp.c), ho = (14 - 1) / s + 1;
		size_t nx = (size_t)dp.h * dp.w * dp.c, ny = (size_t)ho * ho * dp.c;
		float *x = ug_rand(&rng, nx, -1, 1);
		float *wt = ug_rand(&rng, (size_t)49 * cp, -1, 1), *b = ug_rand(&rng, (size_t)cp, -1, 1);
		float *ws = malloc(rt_dw_infer_workspace(&dp) * sizeof(float));
		float *y[2] = {calloc(ny, sizeof(float)), calloc(ny, sizeof(float))};
		for (int t = 0; t < 2; t++) {
			assert_int_equal(rt_threads_init(t + 1, NULL, 0), t + 1);
			rt_dw_infer(&dp, x, wt, b, y[t], ws);
		}
		assert_memory_equal(y[0], y[1], ny * sizeof(float));
		free(x), free(wt), free(b), free(ws), free(y[0]), free(y[1]);
	}
}

/*
 * The AVX-512 kernels compute every sum in the order the 8-float ones do,
 * with fused multiply-adds as the 8-float ones' AVX2 and AVX-512 builds
 * use: on a CPU with AVX-512 both give the same bits.
 */
static void same_bits(int cout, rt_dw_infer_p dp)
{
	rt_pw_p pp = {.m = 53,
		      .cin = 40,
		      .cout = cout,
		      .ldx = 41,
		      .ldw = cout,
		      .ldy = cout + 2,
		      .act = RT_ACT_HSWISH,
		      .ldr = 70,
		      .cr = cout < 70 ? cout : 70};
	float *x = ug_rand(&rng, (size_t)pp.m * pp.ldx, -1, 1);
	float *w = ug_rand(&rng, (size_t)pp.cin * pp.ldw, -1, 1);
	float *b = ug_rand(&rng, (size_t)pp.cout, -1, 1);
	float *r = ug_rand(&rng, (size_t)pp.m * pp.ldr, -1, 1);
	size_t ny = (size_t)pp.m * pp.ldy;
	float *y[2] = {calloc(ny, sizeof(float)), calloc(ny, sizeof(float))};
	pp.r = r;
	int cp = rt_dw_infer_cpad(dp.c), pad = dp.k / 2;
	float *dx = ug_rand(&rng, (size_t)dp.n * dp.h * dp.w * dp.c, -1, 1);
	float *dw = ug_rand(&rng, (size_t)dp.k * dp.k * cp, -1, 1);
	float *db = ug_rand(&rng, (size_t)cp, -1, 1);
	float *ws = malloc(rt_dw_infer_workspace(&dp) * sizeof(float));
	size_t nd = (size_t)dp.n * rt_conv_out_size(dp.h, dp.k, dp.stride, pad) *
		    rt_conv_out_size(dp.w, dp.k, dp.stride, pad) * dp.c;
	float *dy[2] = {calloc(nd, sizeof(float)), calloc(nd, sizeof(float))};
	for (int wide = 0; wide < 2; wide++) {
		rt_infer_set_avx512(wide);
		rt_pw_infer(&pp, x, w, b, y[wide]);
		rt_dw_infer(&dp, dx, dw, db, dy[wide], ws);
	}
	rt_infer_set_avx512(true);
	assert_memory_equal(y[0], y[1], ny * sizeof(float));
	assert_memory_equal(dy[0], dy[1], nd * sizeof(float));
	free(x), free(w), free(b), free(r), free(y[0]), free(y[1]);
	free(dx), free(dw), free(db), free(ws), free(dy[0]), free(dy[1]);
}

static void test_wide_same_bits(void **state)
{
	(void)state;
	same_bits(75, (rt_dw_infer_p){2, 11, 29, 56, 7, 1, RT_ACT_HSWISH});
	/* tiles of 24 columns; rows ending in a block of 12 (AVX2) of pixels
	 * 72 floats apart for 64 channels */
	same_bits(72, (rt_dw_infer_p){2, 24, 24, 64, 5, 2, RT_ACT_RELU});
	same_bits(24, (rt_dw_infer_p){1, 12, 12, 64, 7, 1, RT_ACT_HSWISH});
}

/* The kernels run twice: on 8-float vectors, then, where the CPU has
 * AVX-512, on 16-float ones. */
int main(void)
{
	rt_rng_seed(&rng, 77);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pw_infer),     cmocka_unit_test(test_pw_infer_grouped),
		cmocka_unit_test(test_conv2d_infer), cmocka_unit_test(test_dw_infer),
		cmocka_unit_test(test_se_infer),     cmocka_unit_test(test_split_same_bits),
	};
	const struct CMUnitTest both[] = {cmocka_unit_test(test_wide_same_bits)};
	rt_infer_set_avx512(false);
	int failed = cmocka_run_group_tests_name("8-float vectors", tests, NULL, NULL);
	if (!rt_infer_set_avx512(true)) {
		print_message("# no AVX-512 on this CPU: its kernels are not tested here\n");
		return failed;
	}
	failed += cmocka_run_group_tests_name("AVX-512", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("AVX-512 against 8-float vectors", both, NULL, NULL);
	return failed;
}
