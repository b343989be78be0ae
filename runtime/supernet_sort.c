/*
 * supernet_sort.c — OFA's channel re-sorting: before an elastic expand
 * phase, the inner channels of every block are put in decreasing order of
 * importance, so that a subnet keeping the first k channels keeps the k that
 * matter most.  The importance of an inner channel is the L1 norm of the
 * weights that read it (the projection of an MBCONV, the second conv of a
 * RESIDUAL block).  Every per-channel tensor (weights, momentum and running
 * statistics) is permuted alike, so the largest subnet computes the same
 * function before and after.
 */
#include "runtime/supernet.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/supernet_priv.h"

typedef struct chan_score {
	double score;
	int index;
} chan_score;

/* Decreasing score; ties keep their order, so sorting twice is a no-op. */
static int by_score(const void *a, const void *b)
{
	const chan_score *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Scratch for one permutation: the new order and a copy buffer. */
typedef struct perm_ctx {
	int n;          /* channels permuted */
	const int *src; /* channel i of the result is channel src[i] */
	float *tmp;
} perm_ctx;

/* Permutes `rows` rows of `n` channels: base[r * ld + c] for c < n. */
static void permute_cols(const perm_ctx *p, float *base, int rows, int ld)
{
	for (int r = 0; r < rows; r++) {
		float *row = base + (size_t)r * ld;
		for (int c = 0; c < p->n; c++)
			p->tmp[c] = row[p->src[c]];
		memcpy(row, p->tmp, (size_t)p->n * sizeof(float));
	}
}

/* Permutes the n rows base[c * ld .. c * ld + width) (rows are channels). */
static void permute_rows(const perm_ctx *p, float *base, int width, int ld)
{
	size_t w = (size_t)width;
	for (int c = 0; c < p->n; c++)
		memcpy(p->tmp + (size_t)c * w, base + (size_t)p->src[c] * ld, w * sizeof(float));
	for (int c = 0; c < p->n; c++)
		memcpy(base + (size_t)c * ld, p->tmp + (size_t)c * w, w * sizeof(float));
}

/* A parameter tensor and its momentum alike. */
static void param_cols(sn_supernet *sn, const perm_ctx *p, size_t off, int rows, int ld)
{
	permute_cols(p, sn->w + off, rows, ld);
	permute_cols(p, sn->m + off, rows, ld);
}

static void param_rows(sn_supernet *sn, const perm_ctx *p, size_t off, int width, int ld)
{
	permute_rows(p, sn->w + off, width, ld);
	permute_rows(p, sn->m + off, width, ld);
}

static void permute_bn(sn_supernet *sn, const perm_ctx *p, const sn_bn *bn)
{
	param_cols(sn, p, bn->gamma, 1, p->n);
	param_cols(sn, p, bn->beta, 1, p->n);
	permute_cols(p, sn->st + bn->rmean, 1, p->n);
	permute_cols(p, sn->st + bn->rvar, 1, p->n);
}

/* Orders src[0, n) by the L1 norm of each channel's `taps` rows of `width`
 * weights at w[(t * n + c) * width]. */
static void rank_channels(const float *w, int n, int taps, int width, chan_score *s,
			  int *src)
{
	for (int c = 0; c < n; c++) {
		double sum = 0;
		for (int t = 0; t < taps; t++) {
			const float *row = w + ((size_t)t * n + c) * width;
			for (int j = 0; j < width; j++)
				sum += fabs(row[j]);
		}
		s[c].score = sum;
		s[c].index = c;
	}
	qsort(s, (size_t)n, sizeof(*s), by_score);
	for (int c = 0; c < n; c++)
		src[c] = s[c].index;
}

static int sort_mbconv(sn_supernet *sn, sn_unit *u)
{
	int mid = u->mid_max, cout = u->w3.cout;
	int k2 = u->w2.k * u->w2.k;
	size_t big = (size_t)mid * (size_t)(cout > u->se_rmax ? cout : u->se_rmax);
	if ((size_t)mid > big)
		big = (size_t)mid;
	chan_score *s = malloc((size_t)mid * sizeof(*s));
	int *src = malloc((size_t)mid * sizeof(*src));
	float *tmp = malloc(big * sizeof(float));
	if (!s || !src || !tmp) {
		free(s);
		free(src);
		free(tmp);
		return -1;
	}
	rank_channels(sn->w + u->w3.off, mid, 1, cout, s, src);
	perm_ctx p = {.n = mid, .src = src, .tmp = tmp};
	param_cols(sn, &p, u->w1.off, u->w1.cin, mid); /* expand [cin, mid] */
	permute_bn(sn, &p, &u->bn1);
	param_cols(sn, &p, u->w2.off, k2, mid); /* depthwise [k*k, mid] */
	permute_bn(sn, &p, &u->bn2);
	if (u->l->se) {
		param_rows(sn, &p, u->se_w1, u->se_rmax, u->se_rmax); /* [mid, r] */
		param_cols(sn, &p, u->se_w2, u->se_rmax, mid);        /* [r, mid] */
		param_cols(sn, &p, u->se_b2, 1, mid);
	}
	param_rows(sn, &p, u->w3.off, cout, cout); /* [mid, cout] */
	free(s);
	free(src);
	free(tmp);
	return 0;
}

static int sort_residual(sn_supernet *sn, sn_unit *u)
{
	int mid = u->mid_max, cout = u->w2.cout, cin = u->w1.cin;
	int k2 = u->w1.k * u->w1.k;
	chan_score *s = malloc((size_t)mid * sizeof(*s));
	int *src = malloc((size_t)mid * sizeof(*src));
	size_t big = (size_t)mid * (size_t)cout;
	float *tmp = malloc((big > (size_t)mid ? big : (size_t)mid) * sizeof(float));
	if (!s || !src || !tmp) {
		free(s);
		free(src);
		free(tmp);
		return -1;
	}
	/* w2 is [k*k*mid, cout]: tap t of inner channel c is row t * mid + c. */
	rank_channels(sn->w + u->w2.off, mid, k2, cout, s, src);
	perm_ctx p = {.n = mid, .src = src, .tmp = tmp};
	param_cols(sn, &p, u->w1.off, k2 * cin, mid); /* [k*k*cin, mid] */
	permute_bn(sn, &p, &u->bn1);
	for (int t = 0; t < k2; t++)
		param_rows(sn, &p, u->w2.off + (size_t)t * mid * cout, cout, cout);
	free(s);
	free(src);
	free(tmp);
	return 0;
}

int sn_supernet_sort_channels(sn_supernet *sn)
{
	const ir_space *s = sn->space;
	for (int i = 0; i < s->nlayers; i++) {
		sn_unit *u = &sn->unit[i];
		int rc = 0;
		/* Without an expand conv an MBCONV's inner channels are its input
		 * channels, which the previous layer orders: nothing to sort. */
		if (u->l->kind == IR_BLOCK_MBCONV && u->has_expand && u->mid_max > 1)
			rc = sort_mbconv(sn, u);
		else if (u->l->kind == IR_BLOCK_RESIDUAL && u->mid_max > 1)
			rc = sort_residual(sn, u);
		if (rc != 0)
			return -1;
	}
	return 0;
}
