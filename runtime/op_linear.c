/*
 * op_linear.c — linear layers, pointwise convolutions and dense k x k
 * convolutions as sgemm (see ops.h).
 */
#include "runtime/ops.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>

#include "runtime/op_util.h"

int rt_conv_out_size(int in, int k, int stride, int pad)
{
	assert(in > 0 && k > 0 && stride > 0 && pad >= 0);
	return (in + 2 * pad - k) / stride + 1;
}

/* ---- sgemm on the pool -------------------------------------------------- */

/*
 * Row-major C [m, n] = alpha op(A) op(B) + beta C, cut into contiguous
 * slices of C's rows (when m >= n) or columns, one slice per pool thread,
 * each a single-threaded OpenBLAS call.  OpenBLAS itself runs on one
 * thread (threads.c): its own helpers spin-wait after every call, so they
 * would compete for the cores with the pool's next op.  Every element of C
 * is still summed by one call over the whole k, so the result depends on
 * the thread count at most through OpenBLAS's blocking of a slice.
 */
typedef struct gemm_job {
	int ta, tb; /* 1: transposed */
	int m, n, k;
	float alpha, beta;
	const float *a, *b;
	int lda, ldb, ldc;
	float *c;
	int by_rows;
} gemm_job;

static void gemm_slice(void *ctx, int64_t lo, int64_t hi)
{
	const gemm_job *g = ctx;
	int len = (int)(hi - lo);
	const float *a = g->a, *b = g->b;
	float *c = g->c;
	int m = g->m, n = g->n;
	if (g->by_rows) { /* rows lo..hi of op(A) and C */
		a += g->ta ? lo : lo * g->lda;
		c += lo * g->ldc;
		m = len;
	} else { /* columns lo..hi of op(B) and C */
		b += g->tb ? lo * g->ldb : lo;
		c += lo;
		n = len;
	}
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
		    g->tb ? CblasTrans : CblasNoTrans, m, n, g->k, g->alpha, a, g->lda, b, g->ldb,
		    g->beta, c, g->ldc);
}

/* Below this many flops a GEMM runs on the calling thread alone. */
#define GEMM_PAR_MIN_FLOPS (1 << 21)

static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
		 const float *b, int ldb, float beta, float *c, int ldc)
{
	gemm_job g = {ta, tb, m, n, k, alpha, beta, a, b, lda, ldb, ldc, c, m >= n};
	double flops = 2.0 * m * n * k;
	if (flops < GEMM_PAR_MIN_FLOPS)
		gemm_slice(&g, 0, g.by_rows ? m : n);
	else
		rt_parallel_for(g.by_rows ? m : n, gemm_slice, &g);
}

/* db[j] += sum over the m rows of dy[i, j], summed in double, in row order. */
RT_KERNEL static void colsum_add(int m, int n, int ld, const float *restrict dy,
				 float *restrict db)
{
	double acc[256];
	for (int j0 = 0; j0 < n; j0 += 256) {
		int nb = n - j0 < 256 ? n - j0 : 256;
		for (int j = 0; j < nb; j++)
			acc[j] = 0.0;
		for (int i = 0; i < m; i++) {
			const float *row = dy + (size_t)i * ld + j0;
			for (int j = 0; j < nb; j++)
				acc[j] += row[j];
		}
		for (int j = 0; j < nb; j++)
			db[j0 + j] += (float)acc[j];
	}
}

void rt_linear_forward(const rt_linear_p *p, const float *x, const float *w,
		       const float *bias, float *y)
{
	assert(p->m > 0 && p->cin > 0 && p->cout > 0);
	assert(p->ldx >= p->cin && p->ldw >= p->cout && p->ldy >= p->cout);
	float beta = 0.0f;
	if (bias != NULL) {
		for (int i = 0; i < p->m; i++)
			memcpy(y + (size_t)i * p->ldy, bias, (size_t)p->cout * sizeof(float));
		beta = 1.0f;
	}
	/* [m, cin] x [cin, cout] -> [m, cout] */
	gemm(0, 0, p->m, p->cout, p->cin, 1.0f, x, p->ldx, w, p->ldw, beta, y, p->ldy);
}

void rt_linear_backward(const rt_linear_p *p, const float *x, const float *w,
			const float *dy, float *dx, float *dw, float *db)
{
	assert(p->m > 0 && p->cin > 0 && p->cout > 0);
	assert(p->ldx >= p->cin && p->ldw >= p->cout && p->ldy >= p->cout);
	/* dx [m, cin] = dy [m, cout] x w^T [cout, cin] */
	if (dx != NULL)
		gemm(0, 1, p->m, p->cin, p->cout, 1.0f, dy, p->ldy, w, p->ldw, 0.0f, dx, p->ldx);
	/* dw [cin, cout] += x^T [cin, m] x dy [m, cout] */
	if (dw != NULL)
		gemm(1, 0, p->cin, p->cout, p->m, 1.0f, x, p->ldx, dy, p->ldy, 1.0f, dw, p->ldw);
	if (db != NULL)
		colsum_add(p->m, p->cout, p->ldy, dy, db);
}

/* ---- dense convolution ------------------------------------------------ */

static int conv_is_pointwise(const rt_conv2d_p *p)
{
	return p->k == 1 && p->stride == 1 && p->pad == 0;
}

static void conv_check(const rt_conv2d_p *p)
{
	assert(p->n > 0 && p->h > 0 && p->w > 0 && p->cin > 0 && p->cout > 0);
	assert(p->k > 0 && p->stride > 0 && p->pad >= 0 && p->ldw >= p->cout);
	assert(p->h + 2 * p->pad >= p->k && p->w + 2 * p->pad >= p->k);
}

size_t rt_conv2d_workspace(const rt_conv2d_p *p)
{
	conv_check(p);
	if (conv_is_pointwise(p))
		return 0;
	size_t ho = (size_t)rt_conv_out_size(p->h, p->k, p->stride, p->pad);
	size_t wo = (size_t)rt_conv_out_size(p->w, p->k, p->stride, p->pad);
	return (size_t)p->n * ho * wo * (size_t)p->k * (size_t)p->k * (size_t)p->cin;
}

typedef struct conv_job {
	const rt_conv2d_p *p;
	int ho, wo;
	const float *src; /* im2col: x;  col2im: dcols */
	float *dst;       /* im2col: cols;  col2im: dx */
} conv_job;

/* cols[(n, oh, ow), (ki, kj, ci)] = x[n, oh*s - pad + ki, ow*s - pad + kj, ci] or 0. */
static void im2col_rows(void *ctx, int64_t b, int64_t e)
{
	const conv_job *j = ctx;
	const rt_conv2d_p *p = j->p;
	size_t rowlen = (size_t)p->k * p->k * p->cin;
	size_t cb = (size_t)p->cin * sizeof(float);
	for (int64_t r = b; r < e; r++) { /* r = n * ho + oh */
		int n = (int)(r / j->ho), oh = (int)(r % j->ho);
		for (int ow = 0; ow < j->wo; ow++) {
			float *col = j->dst + ((size_t)r * j->wo + ow) * rowlen;
			for (int ki = 0; ki < p->k; ki++) {
				int ih = oh * p->stride - p->pad + ki;
				for (int kj = 0; kj < p->k; kj++) {
					int iw = ow * p->stride - p->pad + kj;
					float *dst = col + ((size_t)ki * p->k + kj) * p->cin;
					if (ih < 0 || ih >= p->h || iw < 0 || iw >= p->w)
						memset(dst, 0, cb);
					else
						memcpy(dst,
						       j->src + (((size_t)n * p->h + ih) * p->w + iw) * p->cin,
						       cb);
				}
			}
		}
	}
}

/* dx[n, ih, iw, ci] = sum of the dcols entries that im2col copied it to. */
static void col2im_rows(void *ctx, int64_t b, int64_t e)
{
	const conv_job *j = ctx;
	const rt_conv2d_p *p = j->p;
	size_t rowlen = (size_t)p->k * p->k * p->cin;
	for (int64_t r = b; r < e; r++) { /* r = n * h + ih */
		int n = (int)(r / p->h), ih = (int)(r % p->h);
		float *dxrow = j->dst + (size_t)r * p->w * p->cin;
		memset(dxrow, 0, (size_t)p->w * p->cin * sizeof(float));
		for (int ki = 0; ki < p->k; ki++) {
			int t = ih + p->pad - ki;
			if (t < 0 || t % p->stride != 0 || t / p->stride >= j->ho)
				continue;
			int oh = t / p->stride;
			for (int iw = 0; iw < p->w; iw++) {
				float *d = dxrow + (size_t)iw * p->cin;
				for (int kj = 0; kj < p->k; kj++) {
					int u = iw + p->pad - kj;
					if (u < 0 || u % p->stride != 0 || u / p->stride >= j->wo)
						continue;
					int ow = u / p->stride;
					const float *s = j->src +
							 (((size_t)n * j->ho + oh) * j->wo + ow) * rowlen +
							 ((size_t)ki * p->k + kj) * p->cin;
					for (int c = 0; c < p->cin; c++)
						d[c] += s[c];
				}
			}
		}
	}
}

void rt_conv2d_forward(const rt_conv2d_p *p, const float *x, const float *w,
		       float *y, float *ws)
{
	conv_check(p);
	int ho = rt_conv_out_size(p->h, p->k, p->stride, p->pad);
	int wo = rt_conv_out_size(p->w, p->k, p->stride, p->pad);
	int m = p->n * ho * wo;
	if (conv_is_pointwise(p)) {
		rt_linear_p lp = {m, p->cin, p->cout, p->cin, p->ldw, p->cout};
		rt_linear_forward(&lp, x, w, NULL, y);
		return;
	}
	int kkc = p->k * p->k * p->cin;
	conv_job j = {p, ho, wo, x, ws};
	/* x [n, h, w, cin] -> cols [n*ho*wo, k*k*cin] */
	rt_op_parallel((int64_t)p->n * ho, (int64_t)m * kkc, im2col_rows, &j);
	/* cols [m, kkc] x w [kkc, cout] -> y [m, cout] */
	gemm(0, 0, m, p->cout, kkc, 1.0f, ws, kkc, w, p->ldw, 0.0f, y, p->cout);
}

void rt_conv2d_backward(const rt_conv2d_p *p, const float *x, const float *w,
			const float *dy, float *dx, float *dw, float *ws)
{
	conv_check(p);
	int ho = rt_conv_out_size(p->h, p->k, p->stride, p->pad);
	int wo = rt_conv_out_size(p->w, p->k, p->stride, p->pad);
	int m = p->n * ho * wo;
	if (conv_is_pointwise(p)) {
		rt_linear_p lp = {m, p->cin, p->cout, p->cin, p->ldw, p->cout};
		rt_linear_backward(&lp, x, w, dy, dx, dw, NULL);
		return;
	}
	int kkc = p->k * p->k * p->cin;
	if (dw != NULL) {
		conv_job j = {p, ho, wo, x, ws};
		rt_op_parallel((int64_t)p->n * ho, (int64_t)m * kkc, im2col_rows, &j);
		/* dw [kkc, cout] += cols^T [kkc, m] x dy [m, cout] */
		gemm(1, 0, kkc, p->cout, m, 1.0f, ws, kkc, dy, p->cout, 1.0f, dw, p->ldw);
	}
	if (dx != NULL) {
		/* dcols [m, kkc] = dy [m, cout] x w^T [cout, kkc] */
		gemm(0, 1, m, kkc, p->cout, 1.0f, dy, p->cout, w, p->ldw, 0.0f, ws, kkc);
		conv_job j = {p, ho, wo, ws, dx};
		rt_op_parallel((int64_t)p->n * p->h, (int64_t)m * kkc, col2im_rows, &j);
	}
}
