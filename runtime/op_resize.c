/*
 * op_resize.c — bilinear resize of NHWC maps with half-pixel centres, as
 * PyTorch's interpolate(mode="bilinear", align_corners=False) (see ops.h).
 */
#include "runtime/ops.h"

#include <assert.h>
#include <string.h>

#include "runtime/op_util.h"

/* Source taps of output index `o`: i0, i1 and the weight of i1. */
static void resize_taps(int in, int out, int o, int *i0, int *i1, float *l1)
{
	float scale = (float)in / (float)out;
	float src = scale * ((float)o + 0.5f) - 0.5f;
	if (src < 0.0f)
		src = 0.0f;
	int lo = (int)src;
	if (lo > in - 1)
		lo = in - 1;
	*i0 = lo;
	*i1 = lo < in - 1 ? lo + 1 : lo;
	*l1 = src - (float)lo;
}

typedef struct rs_job {
	const rt_resize_p *p;
	const float *src;
	float *dst;
} rs_job;

/* Columns whose taps a row pass computes once, not once per row. */
#define RS_TAPS_MAX 1024

RT_KERNEL static void rs_fwd_rows(void *ctx, int64_t b, int64_t e)
{
	const rs_job *j = ctx;
	const rt_resize_p *p = j->p;
	int C = p->c;
	int tx0[RS_TAPS_MAX], tx1[RS_TAPS_MAX];
	float tl[RS_TAPS_MAX];
	int kept = p->wo <= RS_TAPS_MAX;
	for (int ox = 0; kept && ox < p->wo; ox++)
		resize_taps(p->w, p->wo, ox, &tx0[ox], &tx1[ox], &tl[ox]);
	for (int64_t r = b; r < e; r++) { /* r = n * ho + oy */
		int n = (int)(r / p->ho), oy = (int)(r % p->ho);
		int y0, y1, x0, x1;
		float ly, lx;
		resize_taps(p->h, p->ho, oy, &y0, &y1, &ly);
		const float *r0 = j->src + ((size_t)n * p->h + y0) * p->w * C;
		const float *r1 = j->src + ((size_t)n * p->h + y1) * p->w * C;
		float *restrict out = j->dst + (size_t)r * p->wo * C;
		for (int ox = 0; ox < p->wo; ox++) {
			if (kept)
				x0 = tx0[ox], x1 = tx1[ox], lx = tl[ox];
			else
				resize_taps(p->w, p->wo, ox, &x0, &x1, &lx);
			float w00 = (1.0f - ly) * (1.0f - lx), w01 = (1.0f - ly) * lx;
			float w10 = ly * (1.0f - lx), w11 = ly * lx;
			const float *restrict a = r0 + (size_t)x0 * C, *restrict bb = r0 + (size_t)x1 * C;
			const float *restrict c = r1 + (size_t)x0 * C, *restrict d = r1 + (size_t)x1 * C;
			float *restrict o = out + (size_t)ox * C;
			for (int ch = 0; ch < C; ch++)
				o[ch] = w00 * a[ch] + w01 * bb[ch] + w10 * c[ch] + w11 * d[ch];
		}
	}
}

/* One image at a time: scattering within an image stays on one thread. */
RT_KERNEL static void rs_bwd_images(void *ctx, int64_t b, int64_t e)
{
	const rs_job *j = ctx;
	const rt_resize_p *p = j->p;
	int C = p->c;
	for (int64_t n = b; n < e; n++) {
		float *dx = j->dst + (size_t)n * p->h * p->w * C;
		memset(dx, 0, (size_t)p->h * p->w * C * sizeof(float));
		for (int oy = 0; oy < p->ho; oy++) {
			int y0, y1, x0, x1;
			float ly, lx;
			resize_taps(p->h, p->ho, oy, &y0, &y1, &ly);
			const float *g = j->src + ((size_t)n * p->ho + oy) * p->wo * C;
			for (int ox = 0; ox < p->wo; ox++) {
				resize_taps(p->w, p->wo, ox, &x0, &x1, &lx);
				const float *restrict gv = g + (size_t)ox * C;
				float wt[4] = {(1.0f - ly) * (1.0f - lx), (1.0f - ly) * lx,
					       ly * (1.0f - lx), ly * lx};
				size_t off[4] = {((size_t)y0 * p->w + x0) * C, ((size_t)y0 * p->w + x1) * C,
						 ((size_t)y1 * p->w + x0) * C, ((size_t)y1 * p->w + x1) * C};
				for (int t = 0; t < 4; t++) {
					float *restrict d = dx + off[t];
					for (int ch = 0; ch < C; ch++)
						d[ch] += wt[t] * gv[ch];
				}
			}
		}
	}
}

static void rs_check(const rt_resize_p *p)
{
	assert(p->n > 0 && p->h > 0 && p->w > 0 && p->c > 0 && p->ho > 0 && p->wo > 0);
}

void rt_resize_forward(const rt_resize_p *p, const float *x, float *y)
{
	rs_check(p);
	rs_job j = {p, x, y};
	int64_t rows = (int64_t)p->n * p->ho;
	rt_op_parallel(rows, rows * p->wo * p->c * 4, rs_fwd_rows, &j);
}

void rt_resize_backward(const rt_resize_p *p, const float *dy, float *dx)
{
	rs_check(p);
	rs_job j = {p, dy, dx};
	rt_op_parallel(p->n, (int64_t)p->n * p->ho * p->wo * p->c * 4, rs_bwd_images, &j);
}
