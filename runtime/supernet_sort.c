/*
 * supernet_sort.c — OFA's channel re-sorting: before an elastic expand
 * phase, the inner channels of every block are put in decreasing order of
 * importance, so that a subnet keeping the first k channels keeps the k that
 * matter most.  The importance of an inner channel is the L1 norm of the
 * weights that read it (the projection of an MBCONV, the second conv of a
 * RESIDUAL block).  Every per-channel tensor (weights, momentum and running
 * statistics) is permuted alike, so the largest subnet computes the same
 * function before and after.
 *
 * Output widths are sorted the same way before an elastic width phase, per
 * channel space: a layer's outputs and those of the identity-shortcut
 * blocks that follow it share one order, and every layer reading that
 * space (the chain's blocks, the layer after it, past a global pool) has
 * its input rows permuted to match.
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
	assert(!sn->replica); /* its weights are not its own */
	sn_kernel_drop(sn);
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

/* --- output widths -------------------------------------------------------- */

/* A block that adds its input to its output at the largest shape: its
 * output channels are its input's. */
static int is_identity(const ir_layer *l)
{
	return (l->kind == IR_BLOCK_MBCONV || l->kind == IR_BLOCK_RESIDUAL) && l->stride == 1 &&
	       l->in_channels == l->out_channels;
}

static int is_producer(const ir_layer *l)
{
	return l->kind == IR_BLOCK_CONV || l->kind == IR_BLOCK_MBCONV ||
	       l->kind == IR_BLOCK_RESIDUAL || l->kind == IR_BLOCK_DENSE;
}

/* score[c] += L1 norm of row c of `taps` [c, width] blocks at w + t * stride. */
static void score_rows(double *score, const float *w, int c, int taps, size_t stride,
		       int width)
{
	for (int t = 0; t < taps; t++)
		for (int i = 0; i < c; i++) {
			const float *row = w + t * stride + (size_t)i * width;
			for (int j = 0; j < width; j++)
				score[i] += fabs(row[j]);
		}
}

/* Adds the weights of unit u that read each of its c input channels. */
static void score_inputs(const sn_supernet *sn, const sn_unit *u, int c, double *score)
{
	int k2 = u->w1.k * u->w1.k;
	switch (u->l->kind) {
	case IR_BLOCK_CONV:
	case IR_BLOCK_RESIDUAL:
		score_rows(score, sn->w + u->w1.off, c, k2, (size_t)c * u->w1.cout, u->w1.cout);
		break;
	case IR_BLOCK_MBCONV:
		if (u->has_expand) {
			score_rows(score, sn->w + u->w1.off, c, 1, 0, u->w1.cout);
		} else {
			/* the depthwise kernel reads the input directly: [k*k, c] */
			int kk = u->w2.k * u->w2.k;
			for (int t = 0; t < kk; t++)
				for (int i = 0; i < c; i++)
					score[i] += fabs(sn->w[u->w2.off + (size_t)t * c + i]);
		}
		break;
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
		score_rows(score, sn->w + u->w1.off, c, 1, 0, u->w1.cout);
		break;
	default:
		break;
	}
}

/* Permutes the output channels of unit u. */
static void permute_outputs(sn_supernet *sn, const perm_ctx *p, const sn_unit *u)
{
	int c = p->n, k2 = u->w1.k * u->w1.k;
	switch (u->l->kind) {
	case IR_BLOCK_CONV:
	case IR_BLOCK_DENSE:
		param_cols(sn, p, u->w1.off, k2 * u->w1.cin, c);
		permute_bn(sn, p, &u->bn1);
		break;
	case IR_BLOCK_MBCONV:
		param_cols(sn, p, u->w3.off, u->mid_max, c);
		permute_bn(sn, p, &u->bn3);
		break;
	case IR_BLOCK_RESIDUAL:
		param_cols(sn, p, u->w2.off, u->w2.k * u->w2.k * u->mid_max, c);
		permute_bn(sn, p, &u->bn2);
		if (u->w3.cout) {
			param_cols(sn, p, u->w3.off, u->w3.cin, c);
			permute_bn(sn, p, &u->bn3);
		}
		break;
	default:
		break;
	}
}

/* Permutes the input channels of unit u. */
static void permute_inputs(sn_supernet *sn, const perm_ctx *p, const sn_unit *u)
{
	int c = p->n, k2 = u->w1.k * u->w1.k;
	switch (u->l->kind) {
	case IR_BLOCK_CONV:
	case IR_BLOCK_RESIDUAL:
		for (int t = 0; t < k2; t++)
			param_rows(sn, p, u->w1.off + (size_t)t * c * u->w1.cout, u->w1.cout,
				   u->w1.cout);
		if (u->l->kind == IR_BLOCK_RESIDUAL && u->w3.cout)
			param_rows(sn, p, u->w3.off, u->w3.cout, u->w3.cout);
		break;
	case IR_BLOCK_MBCONV:
		if (u->has_expand) {
			param_rows(sn, p, u->w1.off, u->w1.cout, u->w1.cout);
			break;
		}
		/* no expand conv: the inner channels are the input channels */
		param_cols(sn, p, u->w2.off, u->w2.k * u->w2.k, c);
		permute_bn(sn, p, &u->bn2);
		if (u->l->se) {
			param_rows(sn, p, u->se_w1, u->se_rmax, u->se_rmax);
			param_cols(sn, p, u->se_w2, u->se_rmax, c);
			param_cols(sn, p, u->se_b2, 1, c);
		}
		param_rows(sn, p, u->w3.off, u->w3.cout, u->w3.cout);
		break;
	case IR_BLOCK_DENSE:
	case IR_BLOCK_FC:
		param_rows(sn, p, u->w1.off, u->w1.cout, u->w1.cout);
		break;
	default:
		break;
	}
}

/* Sorts the channel space made by layer a and the identity blocks
 * (a, b]; `next` is the unit reading it after the chain, or NULL. */
static int sort_space(sn_supernet *sn, int a, int b, const sn_unit *next)
{
	const sn_unit *u0 = &sn->unit[a];
	int c = u0->l->out_channels;
	size_t widest = 1;
	for (int i = 0; i < sn->space->nlayers; i++) {
		const sn_unit *u = &sn->unit[i];
		int w[] = {u->mid_max, u->w1.cout, u->w2.cout, u->w3.cout, u->se_rmax};
		for (size_t j = 0; j < sizeof w / sizeof w[0]; j++)
			if ((size_t)w[j] > widest)
				widest = (size_t)w[j];
	}
	double *score = calloc((size_t)c, sizeof(*score));
	chan_score *cs = malloc((size_t)c * sizeof(*cs));
	int *src = malloc((size_t)c * sizeof(*src));
	float *tmp = malloc((size_t)c * widest * sizeof(float));
	int rc = -1;
	if (!score || !cs || !src || !tmp)
		goto out;
	for (int i = a + 1; i <= b; i++)
		score_inputs(sn, &sn->unit[i], c, score);
	if (next)
		score_inputs(sn, next, c, score);
	for (int i = 0; i < c; i++) {
		cs[i].score = score[i];
		cs[i].index = i;
	}
	qsort(cs, (size_t)c, sizeof(*cs), by_score);
	for (int i = 0; i < c; i++)
		src[i] = cs[i].index;
	perm_ctx p = {.n = c, .src = src, .tmp = tmp};
	for (int i = a; i <= b; i++)
		permute_outputs(sn, &p, &sn->unit[i]);
	for (int i = a + 1; i <= b; i++)
		permute_inputs(sn, &p, &sn->unit[i]);
	if (next)
		permute_inputs(sn, &p, next);
	rc = 0;
out:
	free(score);
	free(cs);
	free(src);
	free(tmp);
	return rc;
}

int sn_supernet_sort_widths(sn_supernet *sn)
{
	assert(!sn->replica); /* its weights are not its own */
	sn_kernel_drop(sn);
	const ir_space *s = sn->space;
	int a = 0;
	while (a < s->nlayers) {
		if (!is_producer(&s->layers[a])) {
			a++;
			continue;
		}
		int b = a, elastic = s->layers[a].g_out >= 0;
		while (b + 1 < s->nlayers && is_identity(&s->layers[b + 1])) {
			b++;
			elastic |= s->layers[b].g_out >= 0;
		}
		/* the layer reading the space after the chain (past a pool) */
		int q = b + 1;
		if (q < s->nlayers && s->layers[q].kind == IR_BLOCK_POOL)
			q++;
		const sn_unit *next = q < s->nlayers ? &sn->unit[q] : NULL;
		if (elastic && s->layers[a].out_channels > 1 && sort_space(sn, a, b, next) != 0)
			return -1;
		a = b + 1;
	}
	return 0;
}
