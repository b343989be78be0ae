/*
 * op_dwconv.c — depthwise k x k convolution, NHWC (see ops.h).
 *
 * Forward: one output row per work item; each output pixel accumulates its
 * k x k taps over a block of RT_CBLOCK channels held in registers, so y is
 * written once.  Backward: one channel block per work item, so every dx and
 * dw entry is summed by one thread in a fixed order (reproducible for any
 * thread count) and no per-thread partial buffers are needed.
 */
#include "runtime/ops.h"

#include <assert.h>
#include <string.h>

#include "runtime/op_util.h"

typedef struct dw_job {
	const rt_dwconv_p *p;
	int ho, wo, pad;
	const float *x, *w, *bias, *dy;
	float *y, *dx, *dw, *db;
} dw_job;

static void dw_check(const rt_dwconv_p *p)
{
	assert(p->n > 0 && p->h > 0 && p->w > 0 && p->c > 0);
	assert(p->k > 0 && p->k % 2 == 1 && (p->stride == 1 || p->stride == 2));
	assert(p->ldw >= p->c);
}

/*
 * Output row (n, oh): for each pixel, channels [c0, c0 + nb) accumulate in
 * acc over the valid taps.  Inner loops are over contiguous channels.
 */
RT_KERNEL static void dw_fwd_row(const dw_job *j, int n, int oh)
{
	const rt_dwconv_p *p = j->p;
	int k = p->k, s = p->stride, C = p->c;
	/* taps ki with 0 <= oh * s - pad + ki < h */
	int ki_lo = j->pad - oh * s > 0 ? j->pad - oh * s : 0;
	int ki_hi = p->h + j->pad - oh * s < k ? p->h + j->pad - oh * s : k;
	float *restrict yrow = j->y + ((size_t)n * j->ho + oh) * j->wo * C;
	for (int ow = 0; ow < j->wo; ow++) {
		int kj_lo = j->pad - ow * s > 0 ? j->pad - ow * s : 0;
		int kj_hi = p->w + j->pad - ow * s < k ? p->w + j->pad - ow * s : k;
		float *restrict out = yrow + (size_t)ow * C;
		for (int c0 = 0; c0 < C; c0 += RT_CBLOCK) {
			int nb = C - c0 < RT_CBLOCK ? C - c0 : RT_CBLOCK;
			float acc[RT_CBLOCK];
			for (int c = 0; c < RT_CBLOCK; c++)
				acc[c] = 0.0f;
			if (j->bias != NULL)
				for (int c = 0; c < nb; c++)
					acc[c] = j->bias[c0 + c];
			for (int ki = ki_lo; ki < ki_hi; ki++) {
				int ih = oh * s - j->pad + ki;
				const float *restrict xrow =
					j->x + (((size_t)n * p->h + ih) * p->w) * C + c0;
				const float *restrict wrow = j->w + (size_t)ki * k * p->ldw + c0;
				for (int kj = kj_lo; kj < kj_hi; kj++) {
					int iw = ow * s - j->pad + kj;
					const float *restrict xv = xrow + (size_t)iw * C;
					const float *restrict wv = wrow + (size_t)kj * p->ldw;
					if (nb == RT_CBLOCK) {
						for (int c = 0; c < RT_CBLOCK; c++)
							acc[c] += xv[c] * wv[c];
					} else {
						for (int c = 0; c < nb; c++)
							acc[c] += xv[c] * wv[c];
					}
				}
			}
			for (int c = 0; c < nb; c++)
				out[c0 + c] = acc[c];
		}
	}
}

static void dw_fwd_rows(void *ctx, int64_t b, int64_t e)
{
	const dw_job *j = ctx;
	for (int64_t r = b; r < e; r++)
		dw_fwd_row(j, (int)(r / j->ho), (int)(r % j->ho));
}

void rt_dwconv_forward(const rt_dwconv_p *p, const float *x, const float *w,
		       const float *bias, float *y)
{
	dw_check(p);
	dw_job j = {.p = p, .pad = p->k / 2, .x = x, .w = w, .bias = bias, .y = y};
	j.ho = rt_conv_out_size(p->h, p->k, p->stride, j.pad);
	j.wo = rt_conv_out_size(p->w, p->k, p->stride, j.pad);
	int64_t rows = (int64_t)p->n * j.ho;
	rt_op_parallel(rows, rows * j.wo * p->c * p->k * p->k, dw_fwd_rows, &j);
}

/*
 * Channels [c0, c0 + nb) over the whole batch: dx is cleared then scattered
 * into; dw and db are summed in local accumulators (taps x block) and added
 * once at the end.  `dwacc` has room for k * k * RT_CBLOCK floats.
 */
RT_KERNEL static void dw_bwd_block(const dw_job *j, int c0, int nb, float *restrict dwacc)
{
	const rt_dwconv_p *p = j->p;
	int k = p->k, s = p->stride, C = p->c, pad = j->pad;
	double dbacc[RT_CBLOCK];
	for (int c = 0; c < RT_CBLOCK; c++)
		dbacc[c] = 0.0;
	for (int t = 0; t < k * k * RT_CBLOCK; t++)
		dwacc[t] = 0.0f;
	if (j->dx != NULL)
		for (size_t px = 0; px < (size_t)p->n * p->h * p->w; px++)
			memset(j->dx + px * C + c0, 0, (size_t)nb * sizeof(float));
	for (int n = 0; n < p->n; n++) {
		for (int oh = 0; oh < j->ho; oh++) {
			int ki_lo = pad - oh * s > 0 ? pad - oh * s : 0;
			int ki_hi = p->h + pad - oh * s < k ? p->h + pad - oh * s : k;
			const float *dyrow = j->dy + ((size_t)n * j->ho + oh) * j->wo * C + c0;
			for (int ow = 0; ow < j->wo; ow++) {
				int kj_lo = pad - ow * s > 0 ? pad - ow * s : 0;
				int kj_hi = p->w + pad - ow * s < k ? p->w + pad - ow * s : k;
				const float *restrict g = dyrow + (size_t)ow * C;
				float gv[RT_CBLOCK];
				for (int c = 0; c < RT_CBLOCK; c++)
					gv[c] = 0.0f;
				for (int c = 0; c < nb; c++)
					gv[c] = g[c];
				for (int c = 0; c < RT_CBLOCK; c++)
					dbacc[c] += gv[c];
				for (int ki = ki_lo; ki < ki_hi; ki++) {
					int ih = oh * s - pad + ki;
					size_t rowoff = (((size_t)n * p->h + ih) * p->w) * C + c0;
					for (int kj = kj_lo; kj < kj_hi; kj++) {
						size_t off = rowoff + (size_t)(ow * s - pad + kj) * C;
						const float *restrict xv = j->x + off;
						float *restrict acc = dwacc + (ki * k + kj) * RT_CBLOCK;
						if (nb == RT_CBLOCK) {
							for (int c = 0; c < RT_CBLOCK; c++)
								acc[c] += xv[c] * gv[c];
						} else {
							for (int c = 0; c < nb; c++)
								acc[c] += xv[c] * gv[c];
						}
						if (j->dx == NULL)
							continue;
						float *restrict dv = j->dx + off;
						const float *restrict wv =
							j->w + (size_t)(ki * k + kj) * p->ldw + c0;
						if (nb == RT_CBLOCK) {
							for (int c = 0; c < RT_CBLOCK; c++)
								dv[c] += wv[c] * gv[c];
						} else {
							for (int c = 0; c < nb; c++)
								dv[c] += wv[c] * gv[c];
						}
					}
				}
			}
		}
	}
	if (j->dw != NULL)
		for (int t = 0; t < k * k; t++)
			for (int c = 0; c < nb; c++)
				j->dw[(size_t)t * p->ldw + c0 + c] += dwacc[t * RT_CBLOCK + c];
	if (j->db != NULL)
		for (int c = 0; c < nb; c++)
			j->db[c0 + c] += (float)dbacc[c];
}

/* Kernels up to this size keep their dw accumulators on the stack. */
#define DW_MAX_STACK_K 11

static void dw_bwd_blocks(void *ctx, int64_t b, int64_t e)
{
	const dw_job *j = ctx;
	float dwacc[DW_MAX_STACK_K * DW_MAX_STACK_K * RT_CBLOCK];
	for (int64_t blk = b; blk < e; blk++) {
		int c0 = (int)blk * RT_CBLOCK;
		int nb = j->p->c - c0 < RT_CBLOCK ? j->p->c - c0 : RT_CBLOCK;
		dw_bwd_block(j, c0, nb, dwacc);
	}
}

void rt_dwconv_backward(const rt_dwconv_p *p, const float *x, const float *w,
			const float *dy, float *dx, float *dw, float *db)
{
	dw_check(p);
	assert(p->k <= DW_MAX_STACK_K);
	dw_job j = {.p = p, .pad = p->k / 2, .x = x, .w = w, .dy = dy,
		    .dx = dx, .dw = dw, .db = db};
	j.ho = rt_conv_out_size(p->h, p->k, p->stride, j.pad);
	j.wo = rt_conv_out_size(p->w, p->k, p->stride, j.pad);
	int64_t blocks = (p->c + RT_CBLOCK - 1) / RT_CBLOCK;
	int64_t work = (int64_t)p->n * j.ho * j.wo * p->c * p->k * p->k;
	rt_op_parallel(blocks, work, dw_bwd_blocks, &j);
}
