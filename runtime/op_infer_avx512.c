/*
 * op_infer_avx512.c — op_infer.c's pointwise and depthwise kernels again on
 * 16-float AVX-512 vectors, picked at run time where the CPU has AVX-512F.
 * On a core that executes 512-bit fused multiply-adds at full width (AMD
 * Zen 5, Intel server cores) that doubles the arithmetic per instruction:
 * the 8-float kernels top out at half such a core's peak.  The 32 vector
 * registers also hold wider tiles, and masked loads and stores take a
 * partial vector where the 8-float kernels copy through a buffer.
 *
 * Same methods and the same summation order as op_infer.c (see there):
 * - Pointwise: an outer-product GEMM over w read in place, tiles of 8 rows
 *   by 48 columns (24 accumulators), and 4, 2 or 1 rows for a
 *   remainder; bias, residual and activation applied as a row is stored.
 * - Depthwise: eight neighbouring outputs of a row at a time over the same
 *   bordered images, 16 channels per vector (the last vector of a layer
 *   whose padded width is an odd number of 8s is masked to 8).
 */
#include "runtime/op_infer_priv.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_WIDE 1
#include <immintrin.h>
#else
#define HAVE_WIDE 0
#endif

/* 1 on, 0 off, -1 not decided yet (the first call reads the CPU and the
 * environment). */
static atomic_int wide_state = -1;

static bool cpu_has_avx512(void)
{
#if HAVE_WIDE
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
#else
	return false;
#endif
}

bool rt_infer_avx512(void)
{
	int s = atomic_load_explicit(&wide_state, memory_order_relaxed);
	if (s < 0) {
		const char *env = getenv("ARCHD_AVX512");
		s = cpu_has_avx512() && !(env != NULL && strcmp(env, "0") == 0);
		atomic_store_explicit(&wide_state, s, memory_order_relaxed);
	}
	return s == 1;
}

bool rt_infer_set_avx512(bool on)
{
	atomic_store_explicit(&wide_state, on && cpu_has_avx512(), memory_order_relaxed);
	return rt_infer_avx512();
}

const char *rt_infer_isa(void)
{
	if (rt_infer_avx512())
		return "avx512";
#if HAVE_WIDE
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "avx2";
	return "sse2";
#else
	return "generic";
#endif
}

#if HAVE_WIDE

/* GCC keeps a tile's accumulator array in registers only when its loops
 * are unrolled completely, which it does at -O3. */
#if defined(__clang__)
#define WIDE __attribute__((target("avx512f,avx2,fma")))
#else
#define WIDE __attribute__((target("avx512f,avx2,fma"), optimize("O3", "no-trapping-math")))
#endif
#define WIDE_INLINE static inline __attribute__((always_inline)) WIDE

#define VW16 16 /* floats per vector */

/* The first n (0..16) lanes. */
static inline __mmask16 lanes(int n) { return n >= VW16 ? 0xFFFF : (__mmask16)((1u << n) - 1); }

/* y = act(v), as the 8-float kernels compute it: max(v, 0) gives 0 for a
 * NaN as their mask does. */
WIDE_INLINE __m512 act16(__m512 v, rt_act act)
{
	__m512 zero = _mm512_setzero_ps();
	if (act == RT_ACT_RELU)
		return _mm512_max_ps(v, zero);
	if (act == RT_ACT_HSWISH) {
		__m512 t =
			_mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, _mm512_set1_ps(3.0f)), zero),
				      _mm512_set1_ps(6.0f));
		return _mm512_mul_ps(_mm512_mul_ps(v, t), _mm512_set1_ps(1.0f / 6.0f));
	}
	return v;
}

/* ---- pointwise ------------------------------------------------------------ */

#define PW16_MR 8 /* rows of y per whole tile */
#define PW16_NV 3 /* vectors of columns per strip: 8 x 3 accumulators */

/*
 * Rows [i0, i0 + MR) and NV (1 to 3) vectors of columns from j0 of y, the
 * lanes of vector v given by m[v].
 */
WIDE_INLINE void pw16_tile(const rt_pw_p *p, const float *x, const float *w, const float *bias,
			   float *y, int i0, int j0, const int MR, const int NV, const __mmask16 *m)
{
	__m512 acc[PW16_MR][PW16_NV];
#pragma GCC unroll 8
	for (int r = 0; r < MR; r++)
#pragma GCC unroll 3
		for (int v = 0; v < NV; v++)
			acc[r][v] = _mm512_setzero_ps();
	size_t ldx = (size_t)p->ldx, ldw = (size_t)p->ldw;
	const float *xr = x + (size_t)i0 * ldx;
	const float *wp = w + j0;
	for (int ci = 0; ci < p->cin; ci++, wp += ldw) {
		__m512 wv[PW16_NV];
#pragma GCC unroll 3
		for (int v = 0; v < NV; v++)
			wv[v] = _mm512_maskz_loadu_ps(m[v], wp + v * VW16);
#pragma GCC unroll 8
		for (int r = 0; r < MR; r++) {
			__m512 xv = _mm512_set1_ps(xr[(size_t)r * ldx + ci]);
#pragma GCC unroll 3
			for (int v = 0; v < NV; v++)
				acc[r][v] = _mm512_fmadd_ps(xv, wv[v], acc[r][v]);
		}
	}
	/* the bias, and the residual's lanes in each vector */
	__m512 bv[PW16_NV];
	__mmask16 rm[PW16_NV];
#pragma GCC unroll 3
	for (int v = 0; v < NV; v++) {
		bv[v] = bias != NULL ? _mm512_maskz_loadu_ps(m[v], bias + j0 + v * VW16)
				     : _mm512_setzero_ps();
		int left = p->r != NULL ? p->cr - j0 - v * VW16 : 0;
		rm[v] = m[v] & lanes(left < 0 ? 0 : left);
	}
	pw_rows at = pw_rows_at(p, i0);
#pragma GCC unroll 8
	for (int r = 0; r < MR; r++, pw_rows_next(p, &at)) {
		float *yr = y + at.off + j0;
		const float *rr = p->r != NULL ? p->r + (size_t)(i0 + r) * p->ldr + j0 : NULL;
#pragma GCC unroll 3
		for (int v = 0; v < NV; v++) {
			__m512 s = _mm512_add_ps(acc[r][v], bv[v]);
			if (rm[v] != 0)
				s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(rm[v], rr + v * VW16));
			_mm512_mask_storeu_ps(yr + v * VW16, m[v], act16(s, p->act));
		}
	}
}

/* The instances: 8, 4, 2 or 1 rows by one to three vectors of columns. */
#define PW16_FN(MR, NV)                                                                     \
	WIDE static void pw16_##MR##x##NV(const rt_pw_p *p, const float *x, const float *w, \
					  const float *bias, float *y, int i0, int j0,      \
					  const __mmask16 *m)                               \
	{                                                                                   \
		pw16_tile(p, x, w, bias, y, i0, j0, MR, NV, m);                             \
	}
PW16_FN(8, 3)
PW16_FN(4, 3)
PW16_FN(2, 3)
PW16_FN(1, 3)
PW16_FN(8, 2)
PW16_FN(4, 2)
PW16_FN(2, 2)
PW16_FN(1, 2)
PW16_FN(8, 1)
PW16_FN(4, 1)
PW16_FN(2, 1)
PW16_FN(1, 1)

typedef void (*pw16_fn)(const rt_pw_p *, const float *, const float *, const float *, float *, int,
			int, const __mmask16 *);

void rt_pw_infer_avx512(const rt_pw_p *p, const float *x, const float *w, const float *bias,
			float *y)
{
	/* [vectors - 1][rows 8, 4, 2, 1] */
	static const pw16_fn fns[PW16_NV][4] = {{pw16_8x1, pw16_4x1, pw16_2x1, pw16_1x1},
						{pw16_8x2, pw16_4x2, pw16_2x2, pw16_1x2},
						{pw16_8x3, pw16_4x3, pw16_2x3, pw16_1x3}};
	static const int rows[] = {8, 4, 2, 1};
	for (int i0 = 0; i0 < p->m; i0 += PW_PANEL) {
		int i1 = i0 + PW_PANEL < p->m ? i0 + PW_PANEL : p->m;
		for (int j0 = 0; j0 < p->cout; j0 += PW16_NV * VW16) {
			int left = p->cout - j0, nv = (left + VW16 - 1) / VW16;
			nv = nv < PW16_NV ? nv : PW16_NV;
			__mmask16 m[PW16_NV];
			for (int v = 0; v < PW16_NV; v++)
				m[v] = lanes(left - v * VW16 < 0 ? 0 : left - v * VW16);
			int i = i0;
			for (int t = 0; t < 4; t++)
				for (; i + rows[t] <= i1; i += rows[t])
					fns[nv - 1][t](p, x, w, bias, y, i, j0, m);
		}
	}
}

/* ---- depthwise ------------------------------------------------------------ */

/* The largest kernel with an instance (rt_dw_row_avx512): its row of
 * weights stays in registers beside the block's sums. */
#define DW16_MAX_K 7

/*
 * OB outputs from ow on, the channels of vector c0 (lanes `ld` of the
 * padded ones read, `st` of the real ones stored), of the row whose
 * window starts at x0: as op_infer.c's dw_block_at.
 */
WIDE_INLINE void dw16_block_at(const rt_dw_infer_p *p, const float *x0, size_t rs, int ps,
			       int cp, const float *w, __m512 b, float *yrow, int c0, __mmask16 ld,
			       __mmask16 st, int ow, int wo, const int K, const int S, const int OB)
{
	int C = p->c;
	__m512 acc[DW_OB];
#pragma GCC unroll 8
	for (int o = 0; o < OB; o++)
		acc[o] = b;
	const float *xr = x0 + (size_t)ow * S * ps + c0, *wr = w + c0;
#pragma GCC unroll 1
	for (int ki = 0; ki < K; ki++, xr += rs, wr += (size_t)K * cp) {
		__m512 wk[DW16_MAX_K];
		const float *wq = wr;
#pragma GCC unroll 7
		for (int kj = 0; kj < K; kj++, wq += cp)
			wk[kj] = _mm512_maskz_loadu_ps(ld, wq);
		const float *xq = xr;
#pragma GCC unroll 32
		for (int j = 0; j < (OB - 1) * S + K; j++, xq += ps) {
			__m512 xv = _mm512_maskz_loadu_ps(ld, xq);
#pragma GCC unroll 8
			for (int o = 0; o < OB; o++) {
				int kj = j - o * S;
				if (kj >= 0 && kj < K)
					acc[o] = _mm512_fmadd_ps(xv, wk[kj], acc[o]);
			}
		}
	}
	float *out = yrow + (size_t)ow * C + c0;
#pragma GCC unroll 8
	for (int o = 0; o < OB; o++)
		if (ow + o < wo)
			_mm512_mask_storeu_ps(out + (size_t)o * C, st, act16(acc[o], p->act));
}

/* Output row oh of one image from the bordered image xp, as op_infer.c's
 * dw_row, for K up to DW16_MAX_K. */
WIDE_INLINE void dw16_row(const rt_dw_infer_p *p, const float *xp, int pw, const float *w,
			  const float *bias, float *yrow, int oh, int wo, const int K, const int S)
{
	int cp = rt_dw_infer_cpad(p->c), ps = rt_dw_infer_pstride(p->c), C = p->c;
	size_t rs = (size_t)pw * ps; /* floats per padded row */
	const float *x0 = xp + (size_t)oh * S * rs;
	for (int c0 = 0; c0 < cp; c0 += VW16) {
		__mmask16 ld = lanes(cp - c0), st = lanes(C - c0);
		__m512 b = _mm512_maskz_loadu_ps(ld, bias + c0);
		for (int ow = 0; ow < wo; ow += dw_block(ow, wo)) {
			if (dw_block(ow, wo) == DW_OB)
				dw16_block_at(p, x0, rs, ps, cp, w, b, yrow, c0, ld, st, ow, wo, K,
					      S, DW_OB);
			else
				dw16_block_at(p, x0, rs, ps, cp, w, b, yrow, c0, ld, st, ow, wo, K,
					      S, DW_OB / 2);
		}
	}
}

#define DW16_ROW_FN(K, S)                                                                    \
	WIDE static void dw16_row_##K##_##S(const rt_dw_infer_p *p, const float *xp, int pw, \
					    const float *w, const float *bias, float *yrow,  \
					    int oh, int wo)                                  \
	{                                                                                    \
		dw16_row(p, xp, pw, w, bias, yrow, oh, wo, K, S);                            \
	}
DW16_ROW_FN(3, 1)
DW16_ROW_FN(3, 2)
DW16_ROW_FN(5, 1)
DW16_ROW_FN(5, 2)
DW16_ROW_FN(7, 1)
DW16_ROW_FN(7, 2)

dw_row_fn rt_dw_row_avx512(int k, int s)
{
	assert(s == 1 || s == 2);
	switch (k) {
	case 3:
		return s == 1 ? dw16_row_3_1 : dw16_row_3_2;
	case 5:
		return s == 1 ? dw16_row_5_1 : dw16_row_5_2;
	case 7:
		return s == 1 ? dw16_row_7_1 : dw16_row_7_2;
	default:
		return NULL;
	}
}

#else /* !HAVE_WIDE: rt_infer_avx512() is never true */

void rt_pw_infer_avx512(const rt_pw_p *p, const float *x, const float *w, const float *bias,
			float *y)
{
	(void)p, (void)x, (void)w, (void)bias, (void)y;
	assert(!"no AVX-512 kernels in this build");
}

dw_row_fn rt_dw_row_avx512(int k, int s)
{
	(void)k, (void)s;
	return NULL;
}

#endif
