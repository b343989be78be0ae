/*
 * opbench.c — the inference kernels one layer at a time (bench/infer_ops):
 * rt_pw_infer and rt_dw_infer_padded at the shapes the subnets of
 * bench/infer run at batch 1, on the calling thread, best of REPS rounds
 * of ITERS calls, as microseconds and GFLOP/s (2 flops a multiply-add).
 *
 *   opbench REPS ITERS
 *
 * prints one line a layer: "pw M CIN COUT ACT GRP us gflops" or
 * "dw H W C K S us gflops" (GRP: the rows' width when they are pixels of
 * the bordered images a depthwise layer reads, else 0), then
 * "peak gflops" (a register-only loop of 8-float multiply-adds, where the
 * CPU has FMA; 0 where not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/ops.h"

/* A BASE_BUILDDIR's librt may predate it: its pixels were cp floats apart. */
#pragma weak rt_dw_infer_pstride

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(size_t n)
{
	float *p = malloc((n + 64) * sizeof *p);
	if (!p)
		exit(1);
	for (size_t i = 0; i < n + 64; i++)
		p[i] = 0.01f * (float)(i % 13) - 0.05f;
	return p;
}

/* pointwise: m, cin, cout, act, grp (bordered rows of that width, 0: none) */
static const int pws[][5] = {
	{576, 16, 64, RT_ACT_RELU, 24},	  {144, 64, 24, RT_ACT_NONE, 0},
	{144, 24, 72, RT_ACT_RELU, 12},	  {144, 72, 24, RT_ACT_NONE, 0},
	{144, 24, 72, RT_ACT_HSWISH, 12}, {36, 72, 48, RT_ACT_NONE, 0},
	{36, 48, 144, RT_ACT_HSWISH, 6},  {36, 144, 48, RT_ACT_NONE, 0},
	{196, 24, 96, RT_ACT_RELU, 14},	  {49, 192, 48, RT_ACT_NONE, 0},
};
/* depthwise: h, w, c, k, stride */
static const int dws[][5] = {
	{14, 14, 96, 7, 1}, {7, 7, 192, 7, 1},	{28, 28, 96, 7, 2}, {12, 12, 72, 5, 1},
	{24, 24, 64, 5, 2}, {6, 6, 144, 5, 1},	{16, 16, 96, 7, 1}, {10, 10, 64, 3, 1},
};

static double best_of(int reps, int iters, void (*call)(void *), void *ctx)
{
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t = now();
		for (int i = 0; i < iters; i++)
			call(ctx);
		t = (now() - t) / iters;
		if (t < best)
			best = t;
	}
	return best;
}

typedef struct pw_call {
	rt_pw_p p;
	float *x, *w, *b, *y;
} pw_call;

static void run_pw(void *ctx)
{
	pw_call *c = ctx;
	rt_pw_infer(&c->p, c->x, c->w, c->b, c->y);
}

typedef struct dw_call {
	rt_dw_infer_p p;
	float *xp, *w, *b, *y;
} dw_call;

static void run_dw(void *ctx)
{
	dw_call *c = ctx;
	rt_dw_infer_padded(&c->p, c->xp, c->w, c->b, c->y);
}

typedef float v8 __attribute__((vector_size(32)));

/* Twelve chains of 8-float multiply-adds in registers (enough to cover
 * two pipes' latency): the FMA peak.  The values shrink towards 0.5, never
 * to denormals. */
__attribute__((target("avx2,fma"))) static double fma_peak(void)
{
	const v8 m = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, c = m * 0.5f;
	v8 a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m,
	   a10 = m, a11 = m;
	const long n = 20000000;
	double t = now();
	for (long k = 0; k < n; k++) {
#define F(a) a = __builtin_ia32_vfmaddps256(a, m, c)
		F(a0), F(a1), F(a2), F(a3), F(a4), F(a5), F(a6), F(a7), F(a8), F(a9), F(a10),
			F(a11);
#undef F
		__asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
				 "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
	}
	t = now() - t;
	return 2.0 * 8 * 12 * (double)n / t / 1e9;
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 200, iters = argc > 2 ? atoi(argv[2]) : 20;
	if (reps < 1 || iters < 1) {
		fprintf(stderr, "usage: opbench REPS ITERS\n");
		return 2;
	}
	for (size_t s = 0; s < sizeof pws / sizeof pws[0]; s++) {
		int m = pws[s][0], cin = pws[s][1], cout = pws[s][2], grp = pws[s][4];
		pw_call c = {.p = {.m = m, .cin = cin, .cout = cout, .ldx = cin, .ldw = cout,
				   .ldy = cout, .act = (rt_act)pws[s][3]}};
		size_t ny = (size_t)m * cout;
		if (grp > 0) { /* as the expand writes a 5x5 depthwise layer's images */
			rt_dw_infer_p dp = {1, m / grp, grp, cout, 5, 1, RT_ACT_NONE};
			size_t row, img, interior;
			rt_dw_infer_layout(&dp, &row, &img, &interior);
			c.p.ldy = rt_dw_infer_pstride ? rt_dw_infer_pstride(cout)
						       : rt_dw_infer_cpad(cout);
			c.p.grp_w = grp;
			c.p.grp_h = m / grp;
			c.p.ld_row = row;
			c.p.ld_img = img;
			ny = img;
		}
		c.x = filled((size_t)m * cin);
		c.w = filled((size_t)cin * cout);
		c.b = filled((size_t)cout);
		c.y = filled(ny);
		double t = best_of(reps, iters, run_pw, &c);
		printf("pw %d %d %d %d %d %.3f %.1f\n", m, cin, cout, pws[s][3], grp, t * 1e6,
		       2.0 * m * cin * cout / t / 1e9);
		free(c.x), free(c.w), free(c.b), free(c.y);
	}
	for (size_t s = 0; s < sizeof dws / sizeof dws[0]; s++) {
		dw_call c = {.p = {1, dws[s][0], dws[s][1], dws[s][2], dws[s][3], dws[s][4],
				   RT_ACT_HSWISH}};
		int cp = rt_dw_infer_cpad(c.p.c), pad = c.p.k / 2;
		int ho = rt_conv_out_size(c.p.h, c.p.k, c.p.stride, pad);
		int wo = rt_conv_out_size(c.p.w, c.p.k, c.p.stride, pad);
		c.xp = filled(rt_dw_infer_workspace(&c.p));
		c.w = filled((size_t)c.p.k * c.p.k * cp);
		c.b = filled((size_t)cp);
		c.y = filled((size_t)ho * wo * c.p.c);
		double t = best_of(reps, iters, run_dw, &c);
		printf("dw %d %d %d %d %d %.3f %.1f\n", c.p.h, c.p.w, c.p.c, c.p.k, c.p.stride,
		       t * 1e6, 2.0 * ho * wo * c.p.c * c.p.k * c.p.k / t / 1e9);
		free(c.xp), free(c.w), free(c.b), free(c.y);
	}
	__builtin_cpu_init();
	printf("peak %.1f\n", __builtin_cpu_supports("fma") ? fma_peak() : 0.0);
	return 0;
}
