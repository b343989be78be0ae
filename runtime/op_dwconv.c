/*
 * op_dwconv.c — depthwise k x k convolution, NHWC (see ops.h).
 *
 * All loops run over vectors of 8 channels (GCC vector extensions, loaded
 * and stored with memcpy, so no alignment is assumed; a last partial vector
 * is padded with zeros).  Three jobs, each partitioned so that every output
 * element is summed by one thread in a fixed order (results do not depend on
 * the thread count):
 *
 * - forward, one output row (n, oh) per item: an output pixel starts from
 *   the bias and adds its taps in (ki, kj) order.  Where four neighbouring
 *   outputs need no padding they are computed together, so each weight
 *   vector is loaded once for four outputs and the four sums are
 *   independent chains; other pixels go one at a time, with the even and
 *   the odd kj summed apart (two chains) and added at the end.
 * - input gradient, one input row (n, ih) per item, as a gather: dx at a
 *   pixel sums dy * w over the outputs whose window covers it (a stride-1
 *   dx is the forward with the kernel flipped, and takes the same four-wide
 *   path).  Nothing is scattered, so dx needs no clearing.
 * - weight and bias gradients, one block of 16 channels (a cache line of
 *   each pixel) per item, summed over the whole batch in local
 *   accumulators and added to dw and db once.  Along an output row each
 *   dy vector is loaded once for the k taps of a kernel row, whose k sums
 *   stay in registers: 1 + 1/k loads per multiply-add instead of 2.
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

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

/* ---- forward ------------------------------------------------------------- */

/*
 * Output row (n, oh), channels [c0, c0 + nb).  `xr[ki]` is input row
 * oh * s - pad + ki (NULL when outside the map), offset to channel c0.
 */
RT_INLINE void dw_fwd_vec(const dw_job *j, const float *const *xr, float *yrow, int c0,
			    int nb)
{
	const rt_dwconv_p *p = j->p;
	int k = p->k, s = p->stride, C = p->c, pad = j->pad;
	size_t ldw = (size_t)p->ldw;
	const float *wc = j->w + c0;
	v8 b0 = {0};
	if (j->bias != NULL)
		b0 = LDN(j->bias + c0, nb);
	int ow = 0;
	while (ow < j->wo) {
		int iw0 = ow * s - pad;
		if (nb == VW && iw0 >= 0 && (ow + 3) * s - pad + k <= p->w) {
			/* four outputs, no padding: taps shared across the four */
			v8 a0 = b0, a1 = b0, a2 = b0, a3 = b0;
			for (int ki = 0; ki < k; ki++) {
				if (xr[ki] == NULL)
					continue;
				const float *xp = xr[ki] + (size_t)iw0 * C;
				const float *wp = wc + (size_t)ki * k * ldw;
				for (int kj = 0; kj < k; kj++) {
					v8 wv = LD(wp + (size_t)kj * ldw);
					const float *xq = xp + (size_t)kj * C;
					a0 += LD(xq) * wv;
					a1 += LD(xq + (size_t)s * C) * wv;
					a2 += LD(xq + (size_t)2 * s * C) * wv;
					a3 += LD(xq + (size_t)3 * s * C) * wv;
				}
			}
			float *out = yrow + (size_t)ow * C + c0;
			ST(out, a0);
			ST(out + C, a1);
			ST(out + 2 * (size_t)C, a2);
			ST(out + 3 * (size_t)C, a3);
			ow += 4;
			continue;
		}
		/* one pixel: even and odd kj in two sums (two dependency chains) */
		int kj_lo = imax(0, -iw0), kj_hi = imin(k, p->w - iw0);
		v8 a = b0, a1 = {0};
		for (int ki = 0; ki < k; ki++) {
			if (xr[ki] == NULL)
				continue;
			const float *wp = wc + (size_t)ki * k * ldw;
			int kj = kj_lo;
			for (; kj + 1 < kj_hi; kj += 2) {
				a += LDN(xr[ki] + (size_t)(iw0 + kj) * C, nb) *
				     LDN(wp + (size_t)kj * ldw, nb);
				a1 += LDN(xr[ki] + (size_t)(iw0 + kj + 1) * C, nb) *
				      LDN(wp + (size_t)(kj + 1) * ldw, nb);
			}
			if (kj < kj_hi)
				a += LDN(xr[ki] + (size_t)(iw0 + kj) * C, nb) *
				     LDN(wp + (size_t)kj * ldw, nb);
		}
		STN(yrow + (size_t)ow * C + c0, a + a1, nb);
		ow++;
	}
}

/*
 * Each kernel body is instantiated twice: for full vectors (nb a constant
 * 8, so every load is one vector load and the sums stay in registers) and
 * for a last partial vector.
 */
RT_KERNEL static void dw_fwd_full(const dw_job *j, const float *const *xr, float *yrow, int c0)
{
	dw_fwd_vec(j, xr, yrow, c0, VW);
}

RT_KERNEL static void dw_fwd_part(const dw_job *j, const float *const *xr, float *yrow, int c0,
				  int nb)
{
	dw_fwd_vec(j, xr, yrow, c0, nb);
}

/* Kernels up to this size keep per-row pointers and accumulators on the stack. */
#define DW_MAX_K 11

static void dw_fwd_rows(void *ctx, int64_t b, int64_t e)
{
	const dw_job *j = ctx;
	const rt_dwconv_p *p = j->p;
	const float *xr[DW_MAX_K];
	for (int64_t r = b; r < e; r++) {
		int n = (int)(r / j->ho), oh = (int)(r % j->ho);
		for (int ki = 0; ki < p->k; ki++) {
			int ih = oh * p->stride - j->pad + ki;
			xr[ki] = ih < 0 || ih >= p->h ? NULL
						      : j->x + ((size_t)n * p->h + ih) * p->w * p->c;
		}
		float *yrow = j->y + (size_t)r * j->wo * p->c;
		for (int c0 = 0; c0 < p->c; c0 += VW) {
			const float *xc[DW_MAX_K];
			for (int ki = 0; ki < p->k; ki++)
				xc[ki] = xr[ki] ? xr[ki] + c0 : NULL;
			if (p->c - c0 >= VW)
				dw_fwd_full(j, xc, yrow, c0);
			else
				dw_fwd_part(j, xc, yrow, c0, p->c - c0);
		}
	}
}

void rt_dwconv_forward(const rt_dwconv_p *p, const float *x, const float *w,
		       const float *bias, float *y)
{
	dw_check(p);
	assert(p->k <= DW_MAX_K);
	dw_job j = {.p = p, .pad = p->k / 2, .x = x, .w = w, .bias = bias, .y = y};
	j.ho = rt_conv_out_size(p->h, p->k, p->stride, j.pad);
	j.wo = rt_conv_out_size(p->w, p->k, p->stride, j.pad);
	int64_t rows = (int64_t)p->n * j.ho;
	rt_op_parallel(rows, rows * j.wo * p->c * p->k * p->k, dw_fwd_rows, &j);
}

/* ---- input gradient ---------------------------------------------------- */

/*
 * Input row (n, ih), channels [c0, c0 + nb).  `gr[ki]` is the dy row
 * (ih + pad - ki) / s when that is a whole output row (else NULL), offset to
 * channel c0.  dx[iw] = sum over ki, kj of gr[ki][(iw + pad - kj) / s] *
 * w[ki][kj] for the kj where that is a whole output column.
 */
RT_INLINE void dw_bwd_dx_vec(const dw_job *j, const float *const *gr, float *dxrow, int c0,
			       int nb)
{
	const rt_dwconv_p *p = j->p;
	int k = p->k, s = p->stride, C = p->c, pad = j->pad, wo = j->wo;
	size_t ldw = (size_t)p->ldw;
	const float *wc = j->w + c0;
	/* Pixels iw, iw + s, iw + 2s, ... use the same taps kj (those with
	 * kj = iw + pad mod s), at consecutive output columns: walk each
	 * residue class mod s, four pixels at a time where all taps fall inside. */
	for (int r = 0; r < s; r++) {
		int iw = r;
		while (iw < p->w) {
			int t0 = iw + pad, kj0 = t0 % s, kjl = kj0 + (k - 1 - kj0) / s * s;
			/* (kj0 >= k: no tap reaches this pixel, k = 1 with stride 2) */
			if (nb == VW && kj0 < k && iw + 3 * s < p->w && t0 - kjl >= 0 &&
			    (t0 - kj0) / s + 3 < wo) {
				v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
				for (int ki = 0; ki < k; ki++) {
					if (gr[ki] == NULL)
						continue;
					const float *wp = wc + (size_t)ki * k * ldw;
					for (int kj = kj0; kj <= kjl; kj += s) {
						v8 wv = LD(wp + (size_t)kj * ldw);
						const float *g = gr[ki] + (size_t)((t0 - kj) / s) * C;
						a0 += LD(g) * wv;
						a1 += LD(g + C) * wv;
						a2 += LD(g + 2 * (size_t)C) * wv;
						a3 += LD(g + 3 * (size_t)C) * wv;
					}
				}
				float *out = dxrow + (size_t)iw * C + c0;
				ST(out, a0);
				ST(out + (size_t)s * C, a1);
				ST(out + 2 * (size_t)s * C, a2);
				ST(out + 3 * (size_t)s * C, a3);
				iw += 4 * s;
				continue;
			}
			v8 a = {0}, a1 = {0};
			/* kj with t0 - kj >= 0, divisible by s, and (t0 - kj) / s < wo */
			int kj_lo = imax(0, t0 - (wo - 1) * s), kj_hi = imin(k - 1, t0);
			kj_lo += ((t0 - kj_lo) % s + s) % s;
			for (int ki = 0; ki < k; ki++) {
				if (gr[ki] == NULL)
					continue;
				const float *wp = wc + (size_t)ki * k * ldw;
				int o = (t0 - kj_lo) / s; /* the output column of tap kj */
				int kj = kj_lo;
				for (; kj + s <= kj_hi; kj += 2 * s, o -= 2) {
					a += LDN(gr[ki] + (size_t)o * C, nb) * LDN(wp + (size_t)kj * ldw, nb);
					a1 += LDN(gr[ki] + (size_t)(o - 1) * C, nb) *
					      LDN(wp + (size_t)(kj + s) * ldw, nb);
				}
				if (kj <= kj_hi)
					a += LDN(gr[ki] + (size_t)o * C, nb) * LDN(wp + (size_t)kj * ldw, nb);
			}
			STN(dxrow + (size_t)iw * C + c0, a + a1, nb);
			iw += s;
		}
	}
}

RT_KERNEL static void dw_bwd_dx_full(const dw_job *j, const float *const *gr, float *dxrow,
				     int c0)
{
	dw_bwd_dx_vec(j, gr, dxrow, c0, VW);
}

RT_KERNEL static void dw_bwd_dx_part(const dw_job *j, const float *const *gr, float *dxrow,
				     int c0, int nb)
{
	dw_bwd_dx_vec(j, gr, dxrow, c0, nb);
}

static void dw_bwd_dx_rows(void *ctx, int64_t b, int64_t e)
{
	const dw_job *j = ctx;
	const rt_dwconv_p *p = j->p;
	const float *gr[DW_MAX_K], *gc[DW_MAX_K];
	for (int64_t r = b; r < e; r++) {
		int n = (int)(r / p->h), ih = (int)(r % p->h);
		for (int ki = 0; ki < p->k; ki++) {
			int t = ih + j->pad - ki;
			gr[ki] = t < 0 || t % p->stride != 0 || t / p->stride >= j->ho
					 ? NULL
					 : j->dy + ((size_t)n * j->ho + t / p->stride) * j->wo * p->c;
		}
		float *dxrow = j->dx + (size_t)r * p->w * p->c;
		for (int c0 = 0; c0 < p->c; c0 += VW) {
			for (int ki = 0; ki < p->k; ki++)
				gc[ki] = gr[ki] ? gr[ki] + c0 : NULL;
			if (p->c - c0 >= VW)
				dw_bwd_dx_full(j, gc, dxrow, c0);
			else
				dw_bwd_dx_part(j, gc, dxrow, c0, p->c - c0);
		}
	}
}

/* ---- weight and bias gradients --------------------------------------- */

/*
 * The weight gradient of channels [c0, c0 + nb), nb <= 8, at kernel row ki
 * from one output row: acc[kj] += the sum over ow of x[ow s - pad + kj] *
 * dy[ow], each summed in ow order.  The ow loop is the outer one, so a dy
 * vector is loaded once for all K taps, whose K sums stay in registers (K
 * is a constant in the instantiations for the common kernel sizes).
 */
RT_INLINE void dw_bwd_dw_row(const dw_job *j, const float *xr, const float *g, int nb, int K,
			     v8 *acc)
{
	const rt_dwconv_p *p = j->p;
	int s = p->stride, C = p->c;
	v8 r[DW_MAX_K];
	for (int kj = 0; kj < K; kj++)
		r[kj] = (v8){0};
	for (int ow = 0; ow < j->wo; ow++) {
		v8 gv = LDN(g + (size_t)ow * C, nb);
		int iw0 = ow * s - j->pad;
		if (iw0 >= 0 && iw0 + K <= p->w) {
			const float *xv = xr + (size_t)iw0 * C;
			for (int kj = 0; kj < K; kj++)
				r[kj] += LDN(xv + (size_t)kj * C, nb) * gv;
		} else {
			for (int kj = 0; kj < K; kj++)
				if ((unsigned)(iw0 + kj) < (unsigned)p->w)
					r[kj] += LDN(xr + (size_t)(iw0 + kj) * C, nb) * gv;
		}
	}
	for (int kj = 0; kj < K; kj++)
		acc[kj] += r[kj];
}

/*
 * Channels [c0, c0 + nlo + nhi) as two vectors (lo, hi; nhi may be 0):
 * acc[0][t] and acc[1][t] for tap t, summed over the output rows (n, oh) in
 * order; the bias gradient from row sums in float added up in double.
 */
RT_INLINE void dw_bwd_dw_block(const dw_job *j, int c0, int nlo, int nhi, int K,
			       v8 (*acc)[DW_MAX_K * DW_MAX_K])
{
	const rt_dwconv_p *p = j->p;
	int s = p->stride, C = p->c, wo = j->wo, nb = nlo + nhi;
	double dbs[2 * VW] = {0};
	for (int t = 0; t < K * K; t++)
		acc[0][t] = acc[1][t] = (v8){0};
	for (int n = 0; n < p->n; n++) {
		for (int oh = 0; oh < j->ho; oh++) {
			const float *g = j->dy + ((size_t)n * j->ho + oh) * wo * C + c0;
			v8 db0 = {0}, db1 = {0};
			for (int ow = 0; ow < wo; ow++) {
				db0 += LDN(g + (size_t)ow * C, nlo);
				if (nhi > 0)
					db1 += LDN(g + (size_t)ow * C + VW, nhi);
			}
			for (int c = 0; c < VW; c++) {
				dbs[c] += db0[c];
				dbs[VW + c] += db1[c];
			}
			for (int ki = 0; ki < K; ki++) {
				int ih = oh * s - j->pad + ki;
				if (ih < 0 || ih >= p->h)
					continue;
				const float *xr = j->x + ((size_t)n * p->h + ih) * p->w * C + c0;
				dw_bwd_dw_row(j, xr, g, nlo, K, acc[0] + ki * K);
				if (nhi > 0)
					dw_bwd_dw_row(j, xr + VW, g + VW, nhi, K, acc[1] + ki * K);
			}
		}
	}
	if (j->dw != NULL)
		for (int t = 0; t < K * K; t++) {
			float *d = j->dw + (size_t)t * p->ldw + c0;
			for (int c = 0; c < nb; c++)
				d[c] += c < VW ? acc[0][t][c] : acc[1][t][c - VW];
		}
	if (j->db != NULL)
		for (int c = 0; c < nb; c++)
			j->db[c0 + c] += (float)dbs[c];
}

#define DW_BLOCK 16

RT_KERNEL static void dw_bwd_dw_full(const dw_job *j, int c0, v8 (*acc)[DW_MAX_K * DW_MAX_K])
{
	switch (j->p->k) {
	case 3:
		dw_bwd_dw_block(j, c0, VW, VW, 3, acc);
		break;
	case 5:
		dw_bwd_dw_block(j, c0, VW, VW, 5, acc);
		break;
	case 7:
		dw_bwd_dw_block(j, c0, VW, VW, 7, acc);
		break;
	default:
		dw_bwd_dw_block(j, c0, VW, VW, j->p->k, acc);
		break;
	}
}

RT_KERNEL static void dw_bwd_dw_part(const dw_job *j, int c0, int nb,
				     v8 (*acc)[DW_MAX_K * DW_MAX_K])
{
	int nlo = nb < VW ? nb : VW;
	dw_bwd_dw_block(j, c0, nlo, nb - nlo, j->p->k, acc);
}

static void dw_bwd_dw_blocks(void *ctx, int64_t b, int64_t e)
{
	const dw_job *j = ctx;
	v8 acc[2][DW_MAX_K * DW_MAX_K];
	for (int64_t blk = b; blk < e; blk++) {
		int c0 = (int)blk * DW_BLOCK;
		if (j->p->c - c0 >= DW_BLOCK)
			dw_bwd_dw_full(j, c0, acc);
		else
			dw_bwd_dw_part(j, c0, j->p->c - c0, acc);
	}
}

void rt_dwconv_backward(const rt_dwconv_p *p, const float *x, const float *w,
			const float *dy, float *dx, float *dw, float *db)
{
	dw_check(p);
	assert(p->k <= DW_MAX_K);
	dw_job j = {.p = p, .pad = p->k / 2, .x = x, .w = w, .dy = dy,
		    .dx = dx, .dw = dw, .db = db};
	j.ho = rt_conv_out_size(p->h, p->k, p->stride, j.pad);
	j.wo = rt_conv_out_size(p->w, p->k, p->stride, j.pad);
	int64_t work = (int64_t)p->n * j.ho * j.wo * p->c * p->k * p->k;
	if (dx != NULL)
		rt_op_parallel((int64_t)p->n * p->h, work, dw_bwd_dx_rows, &j);
	if (dw != NULL || db != NULL)
		rt_op_parallel((p->c + DW_BLOCK - 1) / DW_BLOCK, work, dw_bwd_dw_blocks, &j);
}
