/*
 * predictor_rbf.c — the RBF ensemble: each member interpolates a bootstrap
 * sample of the data with Gaussian radial basis functions centred on its
 * points, regularised by a ridge term ((K + ridge I) alpha = z, solved by
 * Cholesky), at a width of its own: a multiple of the median distance
 * between training points.  The prediction is the members' mean; far from
 * every centre it falls back to the targets' mean.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/predictor_priv.h"

/* Width multipliers of the median distance, taken in turn by the members. */
static const double width_mult[] = {1.0, 0.5, 2.0, 0.75, 1.5};
#define NWIDTHS (int)(sizeof(width_mult) / sizeof(width_mult[0]))

static double dist2(const double *a, const double *b, int d)
{
	double s = 0;
	for (int j = 0; j < d; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median distance between distinct training points (over all pairs;
 * 1 when every point is the same). */
static int median_distance(int n, int d, const double *x, double *out)
{
	size_t np = (size_t)n * (n - 1) / 2, k = 0;
	double *all = malloc((np ? np : 1) * sizeof(double));
	if (!all)
		return -1;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			double v = dist2(x + (size_t)i * d, x + (size_t)j * d, d);
			if (v > 0)
				all[k++] = v;
		}
	*out = 1;
	if (k > 0) {
		qsort(all, k, sizeof(double), cmp_double);
		*out = sqrt(all[k / 2]);
	}
	free(all);
	return 0;
}

/* Cholesky factorisation A = L L^T in place (lower triangle) and the solve
 * of L L^T a = b into b.  Returns -1 when A is not positive definite. */
static int cholesky_solve(double *A, int n, double *b)
{
	for (int j = 0; j < n; j++) {
		double s = A[(size_t)j * n + j];
		for (int k = 0; k < j; k++)
			s -= A[(size_t)j * n + k] * A[(size_t)j * n + k];
		if (!(s > 0))
			return -1;
		double ljj = sqrt(s);
		A[(size_t)j * n + j] = ljj;
		for (int i = j + 1; i < n; i++) {
			double v = A[(size_t)i * n + j];
			for (int k = 0; k < j; k++)
				v -= A[(size_t)i * n + k] * A[(size_t)j * n + k];
			A[(size_t)i * n + j] = v / ljj;
		}
	}
	for (int i = 0; i < n; i++) {
		double v = b[i];
		for (int k = 0; k < i; k++)
			v -= A[(size_t)i * n + k] * b[k];
		b[i] = v / A[(size_t)i * n + i];
	}
	for (int i = n - 1; i >= 0; i--) {
		double v = b[i];
		for (int k = i + 1; k < n; k++)
			v -= A[(size_t)k * n + i] * b[k];
		b[i] = v / A[(size_t)i * n + i];
	}
	return 0;
}

/* Fits member e on the distinct rows of a bootstrap sample. */
static int fit_member(pred_model *m, const pred_settings *s, rt_rng *r, double median, int n,
		      const double *z, pred_rbf *e, char *picked, double *K)
{
	int d = m->d;
	memset(picked, 0, (size_t)n);
	for (int i = 0; i < n; i++)
		picked[rt_rng_below(r, (uint64_t)n)] = 1;
	int k = 0;
	for (int i = 0; i < n; i++)
		k += picked[i];
	e->idx = malloc((size_t)k * sizeof(int));
	e->alpha = malloc((size_t)k * sizeof(double));
	if (!e->idx || !e->alpha)
		return -1;
	e->n = k;
	for (int i = 0, a = 0; i < n; i++)
		if (picked[i]) {
			e->idx[a] = i;
			e->alpha[a++] = z[i];
		}
	double sigma = median * width_mult[(int)(e - m->rbf) % NWIDTHS];
	e->gamma = 1 / (2 * sigma * sigma);
	for (int a = 0; a < k; a++)
		for (int b = 0; b <= a; b++) {
			const double *ca = m->centres + (size_t)e->idx[a] * d;
			const double *cb = m->centres + (size_t)e->idx[b] * d;
			double v = exp(-e->gamma * dist2(ca, cb, d));
			K[(size_t)a * k + b] = K[(size_t)b * k + a] = v + (a == b ? s->rbf_ridge : 0);
		}
	return cholesky_solve(K, k, e->alpha);
}

int pred_rbf_fit(pred_model *m, const pred_settings *s, int n, const double *x, const double *z)
{
	int d = m->d;
	m->centres = malloc((size_t)n * d * sizeof(double));
	m->rbf = calloc((size_t)s->rbf_models, sizeof(pred_rbf));
	char *picked = malloc((size_t)n);
	double *K = malloc((size_t)n * n * sizeof(double));
	double median = 1;
	int rc = -1;
	if (!m->centres || !m->rbf || !picked || !K || median_distance(n, d, x, &median) != 0)
		goto out;
	memcpy(m->centres, x, (size_t)n * d * sizeof(double));
	m->ncentres = n;
	m->nmodels = s->rbf_models;
	rt_rng r;
	rt_rng_seed_stream(&r, s->seed, 2);
	for (int e = 0; e < s->rbf_models; e++)
		if (fit_member(m, s, &r, median, n, z, &m->rbf[e], picked, K) != 0)
			goto out;
	rc = 0;
out:
	free(picked);
	free(K);
	return rc;
}

double pred_rbf_raw(const pred_model *m, const double *x)
{
	double sum = 0;
	for (int e = 0; e < m->nmodels; e++) {
		const pred_rbf *r = &m->rbf[e];
		double v = 0;
		for (int a = 0; a < r->n; a++)
			v += r->alpha[a] *
			     exp(-r->gamma * dist2(x, m->centres + (size_t)r->idx[a] * m->d, m->d));
		sum += v;
	}
	return sum / m->nmodels;
}
