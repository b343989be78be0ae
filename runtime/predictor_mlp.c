/*
 * predictor_mlp.c — the MLP predictor: one hidden layer of ReLU units and a
 * linear output, fitted to standardised targets by mini-batch Adam or SGD
 * with momentum on the mean squared error plus L2 decay of the weights.
 *
 * Encodings are sparse (a one-hot subnet has one 1 per gene), so each row is
 * kept as its nonzero (index, value) pairs and the first layer's forward
 * and backward passes only touch those columns.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/predictor_priv.h"

#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8

/* The nonzeros of n rows of d features: row i's are at [start[i], start[i+1]). */
typedef struct sparse {
	int *start, *col;
	double *val;
} sparse;

static void sparse_free(sparse *sp)
{
	free(sp->start);
	free(sp->col);
	free(sp->val);
	sp->start = sp->col = NULL;
	sp->val = NULL;
}

static int sparse_build(sparse *sp, int n, int d, const double *x)
{
	size_t nnz = 0;
	for (size_t i = 0; i < (size_t)n * d; i++)
		nnz += x[i] != 0;
	sp->start = malloc(((size_t)n + 1) * sizeof(int));
	sp->col = malloc((nnz ? nnz : 1) * sizeof(int));
	sp->val = malloc((nnz ? nnz : 1) * sizeof(double));
	if (!sp->start || !sp->col || !sp->val) {
		sparse_free(sp);
		return -1;
	}
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		sp->start[i] = (int)k;
		for (int j = 0; j < d; j++)
			if (x[(size_t)i * d + j] != 0) {
				sp->col[k] = j;
				sp->val[k++] = x[(size_t)i * d + j];
			}
	}
	sp->start[n] = (int)k;
	return 0;
}

double pred_mlp_raw(const pred_model *m, const double *x)
{
	double out = m->b2;
	for (int h = 0; h < m->hidden; h++) {
		const double *w = m->w1 + (size_t)h * m->d;
		double a = m->b1[h];
		for (int j = 0; j < m->d; j++)
			a += w[j] * x[j];
		if (a > 0)
			out += m->w2[h] * a;
	}
	return out;
}

/* Parameters, gradients and optimiser state as one flat vector:
 * [w1 (hidden x d) | b1 (hidden) | w2 (hidden) | b2]. */
typedef struct flat {
	size_t n;
	double *p, *g, *m1, *m2;
} flat;

/* One optimiser step on every parameter; decay applies to w1 and w2. */
static void step(const pred_settings *s, flat *F, size_t nw1, int hidden, long t)
{
	size_t w2_at = nw1 + (size_t)hidden;
	double c1 = 1 - pow(ADAM_B1, (double)t), c2 = 1 - pow(ADAM_B2, (double)t);
	for (size_t i = 0; i < F->n; i++) {
		int decayed = i < nw1 || (i >= w2_at && i < w2_at + (size_t)hidden);
		double g = F->g[i] + (decayed ? s->mlp_wd * F->p[i] : 0);
		if (s->mlp_optim == PRED_OPTIM_ADAM) {
			F->m1[i] = ADAM_B1 * F->m1[i] + (1 - ADAM_B1) * g;
			F->m2[i] = ADAM_B2 * F->m2[i] + (1 - ADAM_B2) * g * g;
			F->p[i] -= s->mlp_lr * (F->m1[i] / c1) / (sqrt(F->m2[i] / c2) + ADAM_EPS);
		} else {
			F->m1[i] = s->mlp_momentum * F->m1[i] + g;
			F->p[i] -= s->mlp_lr * F->m1[i];
		}
	}
}

int pred_mlp_fit(pred_model *m, const pred_settings *s, int n, const double *x, const double *z)
{
	int d = m->d, H = s->mlp_hidden;
	size_t nw1 = (size_t)H * d;
	flat F = {.n = nw1 + 2 * (size_t)H + 1};
	F.p = calloc(F.n, sizeof(double));
	F.g = calloc(F.n, sizeof(double));
	F.m1 = calloc(F.n, sizeof(double));
	F.m2 = calloc(F.n, sizeof(double));
	double *act = malloc((size_t)H * sizeof(double));
	int *order = malloc((size_t)n * sizeof(int));
	sparse sp = {0};
	int rc = -1;
	if (!F.p || !F.g || !F.m1 || !F.m2 || !act || !order || sparse_build(&sp, n, d, x) != 0)
		goto out;
	double *w1 = F.p, *b1 = F.p + nw1, *w2 = b1 + H, *b2 = w2 + H;
	double *gw1 = F.g, *gb1 = F.g + nw1, *gw2 = gb1 + H, *gb2 = gw2 + H;

	rt_rng r;
	rt_rng_seed_stream(&r, s->seed, 1);
	/* He-uniform for the ReLU layer over the mean nonzeros per row (its
	 * effective fan-in), unit-variance-preserving for the output. */
	double fan_in = (double)sp.start[n] / n;
	double a1 = sqrt(6.0 / (fan_in > 1 ? fan_in : 1)), a2 = sqrt(3.0 / H);
	for (size_t i = 0; i < nw1; i++)
		w1[i] = a1 * (2 * rt_rng_uniform(&r) - 1);
	for (int h = 0; h < H; h++)
		w2[h] = a2 * (2 * rt_rng_uniform(&r) - 1);
	for (int i = 0; i < n; i++)
		order[i] = i;

	long t = 0;
	for (int e = 0; e < s->mlp_epochs; e++) {
		rt_rng_shuffle_int(&r, order, n);
		for (int b0 = 0; b0 < n; b0 += s->mlp_batch) {
			int bn = n - b0 < s->mlp_batch ? n - b0 : s->mlp_batch;
			memset(F.g, 0, F.n * sizeof(double));
			for (int bi = 0; bi < bn; bi++) {
				int i = order[b0 + bi];
				double out = *b2;
				for (int h = 0; h < H; h++) {
					double a = b1[h];
					for (int k = sp.start[i]; k < sp.start[i + 1]; k++)
						a += w1[(size_t)h * d + sp.col[k]] * sp.val[k];
					act[h] = a > 0 ? a : 0;
					out += w2[h] * act[h];
				}
				/* d(mean squared error)/d(out) over the batch. */
				double dout = 2 * (out - z[i]) / bn;
				*gb2 += dout;
				for (int h = 0; h < H; h++) {
					gw2[h] += dout * act[h];
					if (act[h] <= 0)
						continue;
					double dh = dout * w2[h];
					gb1[h] += dh;
					for (int k = sp.start[i]; k < sp.start[i + 1]; k++)
						gw1[(size_t)h * d + sp.col[k]] += dh * sp.val[k];
				}
			}
			step(s, &F, nw1, H, ++t);
		}
	}
	m->hidden = H;
	m->w1 = malloc(nw1 * sizeof(double));
	m->b1 = malloc((size_t)H * sizeof(double));
	m->w2 = malloc((size_t)H * sizeof(double));
	if (!m->w1 || !m->b1 || !m->w2)
		goto out;
	memcpy(m->w1, w1, nw1 * sizeof(double));
	memcpy(m->b1, b1, (size_t)H * sizeof(double));
	memcpy(m->w2, w2, (size_t)H * sizeof(double));
	m->b2 = *b2;
	rc = 0;
out:
	free(F.p);
	free(F.g);
	free(F.m1);
	free(F.m2);
	free(act);
	free(order);
	sparse_free(&sp);
	return rc;
}
