/*
 * op_infer.c — the inference kernels (see ops.h): a trained model's layers
 * with batch norm folded into weights and a bias, and the activation (and
 * a residual add) applied as each output vector is stored, so a layer is
 * one pass over memory.  A batch of images is split over the pool by the
 * model's forward (extract_infer.c), one fork/join per forward, and the
 * kernels then run inline; a single image's larger layers are split here
 * instead (rt_parallel_split, at least SPLIT_MACS multiply-adds), by
 * blocks of output rows or columns, each output computed as it would be
 * unsplit, so the values do not depend on the thread count.
 *
 * - Pointwise: an outer-product GEMM, 6 rows x 16 columns of y in twelve
 *   vector accumulators, each step one row of w (two vector loads) times
 *   six broadcast x values (the last 24 of 16 q + 8 columns: 4 rows x 24).  w is read in place, unpacked: it is the
 *   model's own [cin, cout] row-major matrix, and a 16-column strip of it
 *   stays in L1 while the rows of a panel pass over it.
 * - Dense k x k convolution (stems, residual blocks): the pointwise tiles
 *   over one output row at a time, reading a zero-bordered copy of the
 *   input in place through a table of each tap's offset, so no im2col
 *   matrix is written (for a stem it cost three times the GEMM).
 * - Depthwise: reads a zero-bordered copy of its input with channels padded
 *   to whole vectors (which the pointwise expand before it writes directly,
 *   by its rows' layout), so every output pixel takes the same
 *   path: eight neighbouring outputs at a time (eight independent sums)
 *   share each weight and input load (a row's last 9-12 outputs go as
 *   one block of twelve), and kernels 3, 5 and 7 at strides 1 and 2 are
 *   instantiated with constant sizes, which unrolls the taps.
 *
 * On a CPU with AVX-512 the pointwise and depthwise kernels hand over to
 * their 16-float versions (op_infer_avx512.c), which give the same bits.
 */
#include "runtime/ops.h"

#include <assert.h>
#include <string.h>

#include "runtime/op_infer_priv.h"
#include "runtime/op_util.h"

#if defined(__GNUC__) && !defined(__clang__)
#define RT_INLINE_FMA                               \
	static inline __attribute__((always_inline, \
				     optimize("O3", "no-trapping-math", "fp-contract=fast")))
#else
#define RT_INLINE_FMA static inline
#endif

typedef int32_t v8i __attribute__((vector_size(32)));

/* A single image's layer of at least this many multiply-adds (some 15 us
 * on one AVX2 core) is split over the pool, whose split jobs cost about a
 * microsecond each while its helpers poll. */
#define SPLIT_MACS 262144

/* s in every lane (written out: `(v8){0} + s` would add 0.0f first). */
#define BCAST(s)                                      \
	({                                            \
		float s_ = (s);                       \
		(v8){s_, s_, s_, s_, s_, s_, s_, s_}; \
	})

/* y = act(v), as rt_relu_forward / rt_hswish_forward compute it (a
 * comparison of float vectors gives all-ones lanes where true). */
#define ACT(v, act)                                                               \
	({                                                                        \
		v8 a_ = (v);                                                      \
		if ((act) == RT_ACT_RELU) {                                       \
			a_ = (v8)((v8i)a_ & (a_ > (v8){0}));                      \
		} else if ((act) == RT_ACT_HSWISH) {                              \
			v8 t_ = a_ + 3.0f;                                        \
			t_ = (v8)((v8i)t_ & (t_ > (v8){0}));                      \
			v8i big_ = t_ > 6.0f;                                     \
			t_ = (v8)(((v8i)t_ & ~big_) | ((v8i)BCAST(6.0f) & big_)); \
			a_ = a_ * t_ * (1.0f / 6.0f);                             \
		}                                                                 \
		a_;                                                               \
	})

/* ---- pointwise ------------------------------------------------------------ */

#define PW_MR 6 /* rows of y per tile */

/*
 * Rows [i0, i0 + MR) and columns [j0, j0 + nlo + nhi) of y: nlo (1..8)
 * columns in the first vector, nhi (0..8) in the second.  *at is where
 * row i0 is stored, and is left at row i0 + MR (the caller's next tile):
 * finding a row of a bordered image takes three divisions.
 */
RT_INLINE_FMA void pw_tile(const rt_pw_p *p, const float *x, const float *w, const float *bias,
			   float *y, pw_rows *at, int i0, int j0, const int MR, int nlo, int nhi,
			   const int GATHER)
{
	v8 acc[PW_MR][2];
	for (int r = 0; r < MR; r++)
		acc[r][0] = acc[r][1] = (v8){0};
	size_t ldx = (size_t)p->ldx, ldw = (size_t)p->ldw;
	const float *xr = x + (size_t)i0 * ldx;
	const float *wp = w + j0;
	for (int ci = 0; ci < p->cin; ci++, wp += ldw) {
		v8 w0 = LDN(wp, nlo), w1 = {0};
		if (nhi > 0)
			w1 = LDN(wp + VW, nhi);
#pragma GCC unroll 6
		for (int r = 0; r < MR; r++) {
			v8 xv = BCAST(xr[(size_t)r * ldx + (GATHER ? p->xoff[ci] : ci)]);
			acc[r][0] += xv * w0;
			if (nhi > 0)
				acc[r][1] += xv * w1;
		}
	}
	v8 b0 = {0}, b1 = {0};
	if (bias != NULL) {
		b0 = LDN(bias + j0, nlo);
		if (nhi > 0)
			b1 = LDN(bias + j0 + VW, nhi);
	}
	/* residual columns in each vector */
	int rlo = 0, rhi = 0;
	if (p->r != NULL) {
		int left = p->cr - j0;
		rlo = left < 0 ? 0 : (left < nlo ? left : nlo);
		left -= VW;
		rhi = left < 0 ? 0 : (left < nhi ? left : nhi);
	}
	/* a copy the stores cannot alias (a memcpy store may write anything,
	 * so p's fields would be read again after each) */
	const rt_pw_p q = *p;
	pw_rows pos = *at;
	for (int r = 0; r < MR; r++, pw_rows_next(&q, &pos)) {
		float *yr = y + pos.off + j0;
		v8 v0 = acc[r][0] + b0, v1 = acc[r][1] + b1;
		if (rlo > 0) {
			const float *rr = q.r + (size_t)(i0 + r) * q.ldr + j0;
			v0 += LDN(rr, rlo);
			if (rhi > 0)
				v1 += LDN(rr + VW, rhi);
		}
		STN(yr, ACT(v0, q.act), nlo);
		if (nhi > 0)
			STN(yr + VW, ACT(v1, q.act), nhi);
	}
	*at = pos;
}

/*
 * Rows [i0, i0 + MR) and the 24 columns from j0 of y, as pw_tile: for the
 * last 24 of 16 q + 8 columns, four rows at a time (twelve sums, as a 6 x
 * 16 tile, where a 6 x 8 one has six dependent chains, at 3/4 of the FMA
 * rate).
 */
#define PW_MR24 4
RT_INLINE_FMA void pw_tile24(const rt_pw_p *p, const float *x, const float *w, const float *bias,
			     float *y, pw_rows *at, int i0, int j0, const int MR)
{
	v8 acc[PW_MR24][3];
	for (int r = 0; r < MR; r++)
		acc[r][0] = acc[r][1] = acc[r][2] = (v8){0};
	size_t ldx = (size_t)p->ldx, ldw = (size_t)p->ldw;
	const float *xr = x + (size_t)i0 * ldx;
	const float *wp = w + j0;
	for (int ci = 0; ci < p->cin; ci++, wp += ldw) {
		v8 w0 = LD(wp), w1 = LD(wp + VW), w2 = LD(wp + 2 * VW);
#pragma GCC unroll 4
		for (int r = 0; r < MR; r++) {
			v8 xv = BCAST(xr[(size_t)r * ldx + ci]);
			acc[r][0] += xv * w0;
			acc[r][1] += xv * w1;
			acc[r][2] += xv * w2;
		}
	}
	v8 b[3] = {{0}};
	int rn[3] = {0}; /* residual columns in each vector */
	for (int v = 0; v < 3; v++) {
		if (bias != NULL)
			b[v] = LD(bias + j0 + v * VW);
		int left = p->r != NULL ? p->cr - j0 - v * VW : 0;
		rn[v] = left < 0 ? 0 : left < VW ? left : VW;
	}
	const rt_pw_p q = *p; /* as in pw_tile */
	pw_rows pos = *at;
	for (int r = 0; r < MR; r++, pw_rows_next(&q, &pos)) {
		float *yr = y + pos.off + j0;
		for (int v = 0; v < 3; v++) {
			v8 o = acc[r][v] + b[v];
			if (rn[v] > 0)
				o += LDN(q.r + (size_t)(i0 + r) * q.ldr + j0 + v * VW, rn[v]);
			ST(yr + v * VW, ACT(o, q.act));
		}
	}
	*at = pos;
}

/*
 * The instances: R = 1..MR rows, 16 or 8 whole columns or a partial strip.
 * A panel's last rows (fewer than MR) go in one call, their sums side by
 * side: a row alone is one chain of dependent multiply-adds per vector,
 * at a quarter of the rate (4-cycle latency).
 */
typedef void pw_fn(const rt_pw_p *p, const float *x, const float *w, const float *bias, float *y,
		   pw_rows *at, int i0, int j0, int nlo, int nhi);

/* A pw_fn named NAME whose body is TILE (a pw_tile or pw_tile24 call). */
#define PW_KERNEL(NAME, TILE)                                                                 \
	RT_KERNEL_FMA static void NAME(const rt_pw_p *p, const float *x, const float *w,       \
				       const float *bias, float *y, pw_rows *at, int i0, int j0, \
				       int nlo, int nhi)                                        \
	{                                                                                     \
		(void)nlo;                                                                    \
		(void)nhi;                                                                    \
		TILE;                                                                         \
	}
#define PW_FN(R, NAME, NLO, NHI, GATHER) \
	PW_KERNEL(pw_##R##NAME, pw_tile(p, x, w, bias, y, at, i0, j0, R, NLO, NHI, GATHER))
/* 16 or 8 whole columns or a partial strip; with xoff, 16 or any */
#define PW_FNS(R)                         \
	PW_FN(R, x16, VW, VW, 0)          \
	PW_FN(R, x8, VW, 0, 0)            \
	PW_FN(R, xn, nlo, nhi, 0)         \
	PW_FN(R, x16g, VW, VW, 1)         \
	PW_FN(R, xng, nlo, nhi, 1)
PW_FNS(1)
PW_FNS(2)
PW_FNS(3)
PW_FNS(4)
PW_FNS(5)
PW_FNS(6)

#define PW_FN24(R) PW_KERNEL(pw_##R##x24, pw_tile24(p, x, w, bias, y, at, i0, j0, R))
PW_FN24(1)
PW_FN24(2)
PW_FN24(3)
PW_FN24(4)
static pw_fn *const pw_fns24[PW_MR24 + 1] = {NULL, pw_1x24, pw_2x24, pw_3x24, pw_4x24};

#define PW_ROW(R) {pw_##R##x16, pw_##R##x8, pw_##R##xn, pw_##R##x16g, pw_##R##xng, pw_##R##xng}
/* [rows][16 columns, 8, a partial strip, then the same with xoff] */
static pw_fn *const pw_fns[PW_MR + 1][6] = {
	{NULL}, PW_ROW(1), PW_ROW(2), PW_ROW(3), PW_ROW(4), PW_ROW(5), PW_ROW(6),
};

static void pw_infer_run(const rt_pw_p *p, const float *x, const float *w, const float *bias,
			 float *y)
{
	/* the wide kernels read x's rows as they are */
	if (p->xoff == NULL && rt_infer_avx512()) {
		rt_pw_infer_avx512(p, x, w, bias, y);
		return;
	}
	for (int i0 = 0; i0 < p->m; i0 += PW_PANEL) {
		int i1 = i0 + PW_PANEL < p->m ? i0 + PW_PANEL : p->m;
		for (int j0 = 0; j0 < p->cout; j0 += 2 * VW) {
			int left = p->cout - j0;
			if (left == 3 * VW && p->xoff == NULL) {
				pw_rows at = pw_rows_at(p, i0);
				int i = i0;
				for (; i + PW_MR24 <= i1; i += PW_MR24)
					pw_4x24(p, x, w, bias, y, &at, i, j0, VW, VW);
				if (i < i1)
					pw_fns24[i1 - i](p, x, w, bias, y, &at, i, j0, VW, VW);
				break;
			}
			int nlo = left < VW ? left : VW, nhi = left - nlo < VW ? left - nlo : VW;
			int kind = nlo == VW && nhi == VW ? 0 : nlo == VW && nhi == 0 ? 1 : 2;
			if (p->xoff != NULL)
				kind += 3;
			pw_fn *full = pw_fns[PW_MR][kind];
			pw_rows at = pw_rows_at(p, i0);
			int i = i0;
			for (; i + PW_MR <= i1; i += PW_MR)
				full(p, x, w, bias, y, &at, i, j0, nlo, nhi);
			if (i < i1)
				pw_fns[i1 - i][kind](p, x, w, bias, y, &at, i, j0, nlo, nhi);
		}
	}
}

/*
 * A single image's layer split over the pool: blocks of PW_SPLIT_ROWS rows
 * of y where its rows are plain (the projections), else blocks of
 * PW_SPLIT_COLS columns (the expansions, which write into bordered images).
 * Both sizes are whole tiles of either kernel set.
 */
#define PW_SPLIT_ROWS 24
#define PW_SPLIT_COLS 48

typedef struct pw_split {
	const rt_pw_p *p;
	const float *x, *w, *bias;
	float *y;
	int by_rows;
} pw_split;

static void pw_split_run(void *ctx, int64_t b, int64_t e)
{
	const pw_split *s = ctx;
	const rt_pw_p *p = s->p;
	rt_pw_p q = *p;
	const float *x = s->x, *w = s->w, *bias = s->bias;
	float *y = s->y;
	if (s->by_rows) {
		int i0 = (int)b * PW_SPLIT_ROWS, i1 = (int)e * PW_SPLIT_ROWS;
		q.m = (i1 < p->m ? i1 : p->m) - i0;
		x += (size_t)i0 * p->ldx;
		y += (size_t)i0 * p->ldy;
		if (q.r != NULL)
			q.r += (size_t)i0 * p->ldr;
	} else {
		int j0 = (int)b * PW_SPLIT_COLS, j1 = (int)e * PW_SPLIT_COLS;
		q.cout = (j1 < p->cout ? j1 : p->cout) - j0;
		w += j0;
		y += j0;
		if (bias != NULL)
			bias += j0;
		/* the shortcut covers the first cr columns */
		q.cr = p->cr - j0 < 0 ? 0 : p->cr - j0 > q.cout ? q.cout : p->cr - j0;
		q.r = p->r != NULL && q.cr > 0 ? p->r + j0 : NULL;
	}
	pw_infer_run(&q, x, w, bias, y);
}

void rt_pw_infer(const rt_pw_p *p, const float *x, const float *w, const float *bias, float *y)
{
	assert(p->m > 0 && p->cin > 0 && p->cout > 0);
	assert(p->ldx >= p->cin && p->ldw >= p->cout && p->ldy >= p->cout);
	assert(p->r == NULL || (p->cr >= 0 && p->cr <= p->cout && p->ldr >= p->cr));
	int64_t rows = (p->m + PW_SPLIT_ROWS - 1) / PW_SPLIT_ROWS;
	int64_t cols = (p->cout + PW_SPLIT_COLS - 1) / PW_SPLIT_COLS;
	pw_split s = {p, x, w, bias, y, p->grp_w == 0};
	int64_t items = s.by_rows ? rows : cols;
	if (items >= 2 && (int64_t)p->m * p->cin * p->cout >= SPLIT_MACS)
		rt_parallel_split(items, pw_split_run, &s);
	else
		pw_infer_run(p, x, w, bias, y);
}

/* ---- dense k x k convolution ---------------------------------------------- */

/*
 * cols[(n, oh, ow), (ki, kj, ci)] = x[n, oh*s - pad + ki, ow*s - pad + kj, ci]
 * or 0, as rt_conv2d_forward's im2col, with plain loops in place of a memcpy per tap: a
 * stem's taps are one to three floats, where a call costs more than the copy.
 */
RT_KERNEL static void im2col(const rt_conv2d_p *p, int ho, int wo, const float *restrict x,
			     float *restrict cols)
{
	int k = p->k, cin = p->cin;
	for (int n = 0; n < p->n; n++)
		for (int oh = 0; oh < ho; oh++)
			for (int ow = 0; ow < wo; ow++)
				for (int ki = 0; ki < k; ki++) {
					int ih = oh * p->stride - p->pad + ki;
					int iw0 = ow * p->stride - p->pad;
					if (ih >= 0 && ih < p->h && iw0 >= 0 && iw0 + k <= p->w) {
						/* the row's k taps are k cin floats in a row */
						const float *src =
							x + (((size_t)n * p->h + ih) * p->w + iw0) *
								    cin;
						for (int c = 0; c < k * cin; c++)
							cols[c] = src[c];
						cols += k * cin;
						continue;
					}
					for (int kj = 0; kj < k; kj++, cols += cin) {
						int iw = ow * p->stride - p->pad + kj;
						if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w) {
							for (int c = 0; c < cin; c++)
								cols[c] = 0.0f;
							continue;
						}
						const float *src =
							x +
							(((size_t)n * p->h + ih) * p->w + iw) * cin;
						for (int c = 0; c < cin; c++)
							cols[c] = src[c];
					}
				}
}

/* Convolutions of at most this many taps (k k cin) are read in place;
 * larger ones through im2col. */
#define CONV_MAX_TAPS 2048

static int conv_in_place(const rt_conv2d_p *p)
{
	return p->k * p->k * p->cin <= CONV_MAX_TAPS;
}

size_t rt_conv2d_infer_workspace(const rt_conv2d_p *p)
{
	if (p->k == 1 && p->stride == 1 && p->pad == 0)
		return 0;
	if (!conv_in_place(p))
		return rt_conv2d_workspace(p);
	return (size_t)p->n * (size_t)(p->h + 2 * p->pad) * (size_t)(p->w + 2 * p->pad) *
	       (size_t)p->cin;
}

/* Output rows (image, oh) [b, e) of a convolution read in place from the
 * bordered images xp (rows of pw pixels). */
typedef struct conv_rows {
	const rt_pw_p *pw; /* one output row; x and y of row 0 */
	const rt_conv2d_p *p;
	const float *xp, *w, *bias;
	float *y;
	int ho, wo, pwid;
} conv_rows;

static void conv_rows_run(void *ctx, int64_t b, int64_t e)
{
	const conv_rows *c = ctx;
	const rt_conv2d_p *p = c->p;
	size_t img = (size_t)(p->h + 2 * p->pad) * c->pwid * p->cin;
	for (int64_t row = b; row < e; row++) {
		int n = (int)(row / c->ho), oh = (int)(row % c->ho);
		rt_pw_p q = *c->pw;
		if (q.r != NULL)
			q.r += (size_t)row * c->wo * q.ldr;
		pw_infer_run(&q,
			     c->xp + (size_t)n * img + (size_t)oh * p->stride * c->pwid * p->cin,
			     c->w, c->bias, c->y + (size_t)row * c->wo * q.ldy);
	}
}

void rt_conv2d_infer(const rt_conv2d_p *p, rt_act act, const float *r, int ldr, int cr,
		     const float *x, const float *w, const float *bias, float *y, float *ws)
{
	int ho = rt_conv_out_size(p->h, p->k, p->stride, p->pad);
	int wo = rt_conv_out_size(p->w, p->k, p->stride, p->pad);
	int kkc = p->k * p->k * p->cin;
	rt_pw_p pw = {.m = p->n * ho * wo,
		      .cin = kkc,
		      .cout = p->cout,
		      .ldx = kkc,
		      .ldw = p->ldw,
		      .ldy = p->cout,
		      .act = act,
		      .r = r,
		      .ldr = ldr,
		      .cr = cr};
	if (p->k == 1 && p->stride == 1 && p->pad == 0) {
		rt_pw_infer(&pw, x, w, bias, y);
		return;
	}
	if (!conv_in_place(p)) {
		/* x [n, h, w, cin] -> cols [n*ho*wo, k*k*cin] */
		im2col(p, ho, wo, x, ws);
		rt_pw_infer(&pw, ws, w, bias, y);
		return;
	}
	/* x into zero-bordered images, read by output row: tap (ki, kj, ci)
	 * of output pixel j at j stride cin + xoff[tap] */
	int pwid = p->w + 2 * p->pad, ph = p->h + 2 * p->pad, cin = p->cin;
	size_t prow = (size_t)pwid * cin, img = (size_t)ph * prow;
	for (int n = 0; n < p->n; n++) {
		float *xi = ws + (size_t)n * img;
		memset(xi, 0, (size_t)p->pad * prow * sizeof(float));
		memset(xi + (size_t)(p->pad + p->h) * prow, 0, (size_t)p->pad * prow * sizeof(float));
		for (int ih = 0; ih < p->h; ih++) {
			float *row = xi + (size_t)(ih + p->pad) * prow;
			memset(row, 0, (size_t)p->pad * cin * sizeof(float));
			memcpy(row + (size_t)p->pad * cin, x + ((size_t)n * p->h + ih) * p->w * cin,
			       (size_t)p->w * cin * sizeof(float));
			memset(row + (size_t)(p->pad + p->w) * cin, 0,
			       (size_t)p->pad * cin * sizeof(float));
		}
	}
	int xoff[CONV_MAX_TAPS];
	for (int ki = 0, t = 0; ki < p->k; ki++)
		for (int kj = 0; kj < p->k; kj++)
			for (int ci = 0; ci < cin; ci++)
				xoff[t++] = (ki * pwid + kj) * cin + ci;
	pw.m = wo;
	pw.ldx = p->stride * cin;
	pw.xoff = xoff;
	conv_rows c = {&pw, p, ws, w, bias, y, ho, wo, pwid};
	int64_t rows = (int64_t)p->n * ho;
	if (rows >= 2 && (int64_t)rows * wo * kkc * p->cout >= SPLIT_MACS)
		rt_parallel_split(rows, conv_rows_run, &c);
	else
		conv_rows_run(&c, 0, rows);
}

/* ---- depthwise ------------------------------------------------------------ */

int rt_dw_infer_cpad(int c) { return (c + VW - 1) / VW * VW; }

/* An odd number of vectors: pixels 32 x odd bytes apart start in every
 * set of the L1 cache.  At cp = 64 (256 bytes) they started in one set of
 * four, and a 5 x 5 window over rows of 28 such pixels overflowed those
 * sets' ways: the 24x24x64 stride-2 layer ran at half the rate of its
 * stride-1 neighbours. */
int rt_dw_infer_pstride(int c)
{
	int cp = rt_dw_infer_cpad(c);
	return cp / VW % 2 ? cp : cp + VW;
}

/* Kernels up to this size fit the generic instance's arrays. */
#define DW_MAX_K 11

/* Width of the zero-bordered image: the padding of "same", and enough on
 * the right for the row's last block to read inside it. */
static int dw_padded_width(const rt_dw_infer_p *p)
{
	int pad = p->k / 2, wo = rt_conv_out_size(p->w, p->k, p->stride, pad), ow = 0;
	while (ow + dw_block(ow, wo) < wo)
		ow += dw_block(ow, wo);
	int need = (ow + dw_block(ow, wo) - 1) * p->stride + p->k;
	return p->w + 2 * pad > need ? p->w + 2 * pad : need;
}

/*
 * OB outputs from ow on, channels [c0, c0 + 8), of the row whose window
 * starts at x0: per kernel row, the K weight vectors are loaded once into
 * registers, then each of the (OB - 1) S + K input pixels under the block
 * once, and added into every output whose window holds it; an output's
 * taps are summed in (ki, kj) order.
 */
RT_INLINE_FMA void dw_block_at(const rt_dw_infer_p *p, const float *x0, size_t rs, int ps,
			       int cp, const float *w, const float *bias, float *yrow, int c0,
			       int nb, int ow, int wo, const int K, const int S, const int OB)
{
	int C = p->c;
	v8 b = LD(bias + c0); /* a pointer, not a vector argument (GCC's -Wpsabi note) */
	v8 acc[DW_OB_WIDE];
	for (int o = 0; o < OB; o++)
		acc[o] = b;
	const float *xr = x0 + (size_t)ow * S * ps + c0, *wr = w + c0;
#pragma GCC unroll 1
	for (int ki = 0; ki < K; ki++, xr += rs, wr += (size_t)K * cp) {
		v8 wk[DW_MAX_K];
		const float *wq = wr;
#pragma GCC unroll 11
		for (int kj = 0; kj < K; kj++, wq += cp)
			wk[kj] = LD(wq);
		const float *xq = xr;
#pragma GCC unroll 32
		for (int j = 0; j < (OB - 1) * S + K; j++, xq += ps) {
			v8 xv = LD(xq);
#pragma GCC unroll 12
			for (int o = 0; o < OB; o++) {
				int kj = j - o * S;
				if (kj >= 0 && kj < K)
					acc[o] += xv * wk[kj];
			}
		}
	}
	float *out = yrow + (size_t)ow * C + c0;
	for (int o = 0; o < OB && ow + o < wo; o++)
		STN(out + (size_t)o * C, ACT(acc[o], p->act), nb);
}

/*
 * Output row oh of one image from the padded image `xp` (rows of pw pixels
 * rt_dw_infer_pstride floats apart, the first cp of each read): K and S
 * are constants in the instances below.
 */
RT_INLINE_FMA void dw_row(const rt_dw_infer_p *p, const float *xp, int pw, const float *w,
			  const float *bias, float *yrow, int oh, int wo, const int K, const int S)
{
	int cp = rt_dw_infer_cpad(p->c), ps = rt_dw_infer_pstride(p->c), C = p->c;
	size_t rs = (size_t)pw * ps; /* floats per padded row */
	const float *x0 = xp + (size_t)oh * S * rs;
	for (int c0 = 0; c0 < cp; c0 += VW) {
		int nb = C - c0 < VW ? C - c0 : VW;
		int ow = 0;
		for (; wo - ow > DW_OB_WIDE; ow += DW_OB)
			dw_block_at(p, x0, rs, ps, cp, w, bias, yrow, c0, nb, ow, wo, K, S, DW_OB);
		/* the last 1-12 (op_infer_priv.h's DW_OB_WIDE) */
		if (wo - ow > DW_OB)
			dw_block_at(p, x0, rs, ps, cp, w, bias, yrow, c0, nb, ow, wo, K, S,
				    DW_OB_WIDE);
		else if (wo - ow > DW_OB / 2)
			dw_block_at(p, x0, rs, ps, cp, w, bias, yrow, c0, nb, ow, wo, K, S, DW_OB);
		else
			dw_block_at(p, x0, rs, ps, cp, w, bias, yrow, c0, nb, ow, wo, K, S,
				    DW_OB / 2);
	}
}

#define DW_ROW_FN(K, S)                                                                       \
	RT_KERNEL_FMA static void dw_row_##K##_##S(const rt_dw_infer_p *p, const float *xp,   \
						   int pw, const float *w, const float *bias, \
						   float *yrow, int oh, int wo)               \
	{                                                                                     \
		dw_row(p, xp, pw, w, bias, yrow, oh, wo, K, S);                               \
	}
DW_ROW_FN(3, 1)
DW_ROW_FN(3, 2)
DW_ROW_FN(5, 1)
DW_ROW_FN(5, 2)
DW_ROW_FN(7, 1)
DW_ROW_FN(7, 2)

RT_KERNEL_FMA static void dw_row_any(const rt_dw_infer_p *p, const float *xp, int pw,
				     const float *w, const float *bias, float *yrow, int oh, int wo)
{
	dw_row(p, xp, pw, w, bias, yrow, oh, wo, p->k, p->stride);
}

void rt_dw_infer_layout(const rt_dw_infer_p *p, size_t *row, size_t *img, size_t *interior)
{
	int pad = p->k / 2;
	size_t ps = (size_t)rt_dw_infer_pstride(p->c);
	*row = (size_t)dw_padded_width(p) * ps;
	*img = (size_t)(p->h + 2 * pad) * *row;
	*interior = (size_t)pad * *row + (size_t)pad * ps;
}

size_t rt_dw_infer_workspace(const rt_dw_infer_p *p)
{
	size_t row, img, interior;
	rt_dw_infer_layout(p, &row, &img, &interior);
	return (size_t)p->n * img;
}

/* Output rows (image, oh) [b, e) of a depthwise layer, its borders zeroed. */
typedef struct dw_split {
	const rt_dw_infer_p *p;
	const float *xp, *w, *bias;
	float *y;
	dw_row_fn row;
	int pw;
	size_t img;
	int ho, wo;
} dw_split;

static void dw_split_run(void *ctx, int64_t b, int64_t e)
{
	const dw_split *s = ctx;
	for (int64_t r = b; r < e; r++) {
		int n = (int)(r / s->ho), oh = (int)(r % s->ho);
		s->row(s->p, s->xp + (size_t)n * s->img, s->pw, s->w, s->bias,
		       s->y + (size_t)r * s->wo * s->p->c, oh, s->wo);
	}
}

void rt_dw_infer_padded(const rt_dw_infer_p *p, float *xp, const float *w, const float *bias,
			float *y)
{
	assert(p->n > 0 && p->h > 0 && p->w > 0 && p->c > 0);
	assert(p->k > 0 && p->k % 2 == 1 && p->k <= DW_MAX_K && (p->stride == 1 || p->stride == 2));
	int pad = p->k / 2, ps = rt_dw_infer_pstride(p->c), C = p->c;
	int ph = p->h + 2 * pad, pw = dw_padded_width(p);
	int ho = rt_conv_out_size(p->h, p->k, p->stride, pad);
	int wo = rt_conv_out_size(p->w, p->k, p->stride, pad);
	dw_row_fn row = dw_row_any;
	if (p->k == 3)
		row = p->stride == 1 ? dw_row_3_1 : dw_row_3_2;
	else if (p->k == 5)
		row = p->stride == 1 ? dw_row_5_1 : dw_row_5_2;
	else if (p->k == 7)
		row = p->stride == 1 ? dw_row_7_1 : dw_row_7_2;
	if (rt_infer_avx512()) {
		dw_row_fn wide = rt_dw_row_avx512(p->k, p->stride);
		if (wide != NULL)
			row = wide;
	}
	size_t rs = (size_t)pw * ps, img = (size_t)ph * rs;
	size_t left = (size_t)pad * ps, right = (size_t)(pw - pad - p->w) * ps;
	for (int n = 0; n < p->n; n++) {
		/* zero the border (rows above and below, columns left and right)
		 * and the padding lanes of the interior, all but what was written */
		float *xi = xp + (size_t)n * img;
		memset(xi, 0, (size_t)pad * rs * sizeof(float));
		memset(xi + (size_t)(pad + p->h) * rs, 0,
		       (size_t)(ph - pad - p->h) * rs * sizeof(float));
		for (int ih = 0; ih < p->h; ih++) {
			float *r = xi + (size_t)(ih + pad) * rs;
			memset(r, 0, left * sizeof(float));
			memset(r + left + (size_t)p->w * ps, 0, right * sizeof(float));
			if (rt_dw_infer_cpad(C) != C)
				for (int iw = 0; iw < p->w; iw++)
					memset(r + left + (size_t)iw * ps + C, 0,
					       (size_t)(rt_dw_infer_cpad(C) - C) * sizeof(float));
		}
	}
	dw_split s = {p, xp, w, bias, y, row, pw, img, ho, wo};
	int64_t rows = (int64_t)p->n * ho;
	if ((int64_t)rows * wo * C * p->k * p->k >= SPLIT_MACS)
		rt_parallel_split(rows, dw_split_run, &s);
	else
		dw_split_run(&s, 0, rows);
}

void rt_dw_infer(const rt_dw_infer_p *p, const float *x, const float *w, const float *bias,
		 float *y, float *ws)
{
	size_t rs, img, interior;
	rt_dw_infer_layout(p, &rs, &img, &interior);
	int C = p->c, ps = rt_dw_infer_pstride(p->c);
	/* [n, h, w, c] -> the interiors of n [h + 2 pad, pw, ps] images */
	for (int n = 0; n < p->n; n++)
		for (int ih = 0; ih < p->h; ih++) {
			float *dst = ws + (size_t)n * img + interior + (size_t)ih * rs;
			const float *src = x + ((size_t)n * p->h + ih) * p->w * C;
			if (ps == C)
				memcpy(dst, src, (size_t)p->w * C * sizeof(float));
			else
				for (int iw = 0; iw < p->w; iw++)
					memcpy(dst + (size_t)iw * ps, src + (size_t)iw * C,
					       (size_t)C * sizeof(float));
		}
	rt_dw_infer_padded(p, ws, w, bias, y);
}

/* ---- squeeze-excite ------------------------------------------------------- */

/* x[n, i, :] *= gate[n, :] */
RT_KERNEL_FMA static void se_scale(int n, size_t hw, size_t c, const float *restrict gate,
				   float *restrict x)
{
	for (int i = 0; i < n; i++) {
		const float *g = gate + (size_t)i * c;
		float *xi = x + (size_t)i * hw * c;
		for (size_t p = 0; p < hw; p++)
			for (size_t k = 0; k < c; k++)
				xi[p * c + k] *= g[k];
	}
}

size_t rt_se_infer_workspace(const rt_se_p *p)
{
	return (size_t)p->n * (2 * (size_t)p->c + (size_t)p->r);
}

void rt_se_infer(const rt_se_p *p, float *x, const float *w1, const float *b1, const float *w2,
		 const float *b2, float *ws)
{
	assert(p->n > 0 && p->hw > 0 && p->c > 0 && p->r > 0);
	size_t c = (size_t)p->c, hw = (size_t)p->hw;
	float *pool = ws, *hid = pool + (size_t)p->n * c, *gate = hid + (size_t)p->n * p->r;
	rt_avgpool_forward(p->n, p->hw, p->c, x, pool);
	rt_pw_p l1 = {.m = p->n,
		      .cin = p->c,
		      .cout = p->r,
		      .ldx = p->c,
		      .ldw = p->ldw1,
		      .ldy = p->r,
		      .act = RT_ACT_RELU};
	rt_pw_infer(&l1, pool, w1, b1, hid);
	rt_pw_p l2 = {.m = p->n,
		      .cin = p->r,
		      .cout = p->c,
		      .ldx = p->r,
		      .ldw = p->ldw2,
		      .ldy = p->c,
		      .act = RT_ACT_NONE};
	rt_pw_infer(&l2, hid, w2, b2, gate);
	rt_hsigmoid_forward((size_t)p->n * c, gate, gate);
	se_scale(p->n, hw, c, gate, x);
}
