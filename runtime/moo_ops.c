/*
 * moo_ops.c — variation operators, Das-Dennis reference points and the
 * index sort the other moo files share.
 */
#include "runtime/moo.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>

#include "runtime/moo_priv.h"

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The spread factor of bounded SBX for one side: beta is 1 + 2 * (distance
 * from the nearer parent to its bound) / (parent gap). */
static double sbx_betaq(double u, double beta, double eta)
{
	double alpha = 2.0 - pow(beta, -(eta + 1.0));
	if (u <= 1.0 / alpha)
		return pow(u * alpha, 1.0 / (eta + 1.0));
	return pow(1.0 / (2.0 - u * alpha), 1.0 / (eta + 1.0));
}

void moo_sbx(rt_rng *r, int n, const double *lo, const double *hi, double eta,
	     const double *p1, const double *p2, double *c1, double *c2)
{
	for (int i = 0; i < n; i++) {
		double a = p1[i], b = p2[i];
		c1[i] = a;
		c2[i] = b;
		if (rt_rng_uniform(r) > 0.5 || fabs(a - b) <= 1e-14 || hi[i] <= lo[i])
			continue;
		double y1 = a < b ? a : b, y2 = a < b ? b : a;
		double u = rt_rng_uniform(r);
		double bq1 = sbx_betaq(u, 1.0 + 2.0 * (y1 - lo[i]) / (y2 - y1), eta);
		double bq2 = sbx_betaq(u, 1.0 + 2.0 * (hi[i] - y2) / (y2 - y1), eta);
		double v1 = clamp(0.5 * ((y1 + y2) - bq1 * (y2 - y1)), lo[i], hi[i]);
		double v2 = clamp(0.5 * ((y1 + y2) + bq2 * (y2 - y1)), lo[i], hi[i]);
		if (rt_rng_uniform(r) < 0.5) {
			c1[i] = v2;
			c2[i] = v1;
		} else {
			c1[i] = v1;
			c2[i] = v2;
		}
	}
}

void moo_polynomial_mutation(rt_rng *r, int n, const double *lo, const double *hi,
			     double eta, double pm, double *x)
{
	double pw = 1.0 / (eta + 1.0);
	for (int i = 0; i < n; i++) {
		if (rt_rng_uniform(r) >= pm || hi[i] <= lo[i])
			continue;
		double span = hi[i] - lo[i];
		double d1 = (x[i] - lo[i]) / span, d2 = (hi[i] - x[i]) / span;
		double u = rt_rng_uniform(r), dq;
		if (u < 0.5) {
			double v = 2.0 * u + (1.0 - 2.0 * u) * pow(1.0 - d1, eta + 1.0);
			dq = pow(v, pw) - 1.0;
		} else {
			double v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * pow(1.0 - d2, eta + 1.0);
			dq = 1.0 - pow(v, pw);
		}
		x[i] = clamp(x[i] + dq * span, lo[i], hi[i]);
	}
}

void moo_uniform_crossover(rt_rng *r, int n, const double *p1, const double *p2,
			   double *c1, double *c2)
{
	for (int i = 0; i < n; i++) {
		int swap = rt_rng_uniform(r) < 0.5;
		double a = p1[i], b = p2[i];
		c1[i] = swap ? b : a;
		c2[i] = swap ? a : b;
	}
}

void moo_resample_mutation(rt_rng *r, int n, const int *ncat, double rate, double *x)
{
	for (int i = 0; i < n; i++) {
		if (ncat[i] < 2 || rt_rng_uniform(r) >= rate)
			continue;
		int cur = (int)x[i];
		assert(cur >= 0 && cur < ncat[i]);
		/* Uniform over the other values: draw from ncat - 1, skip cur. */
		int v = (int)rt_rng_below(r, (uint64_t)(ncat[i] - 1));
		x[i] = v >= cur ? v + 1 : v;
	}
}

long moo_das_dennis_count(int m, int h)
{
	assert(m >= 1 && h >= 0);
	/* C(h + m - 1, m - 1) built up term by term; each partial product is
	 * itself a binomial coefficient, so the division is exact. */
	double c = 1;
	for (int i = 1; i < m; i++) {
		c = c * (h + i) / i;
		if (c > INT32_MAX)
			return -1;
	}
	return (long)(c + 0.5);
}

/* Fills the remaining m - j coordinates of cur, which must sum to left
 * divisions, writing each completed point at out[*row]. */
static void das_dennis_rec(int m, int h, int j, int left, int *cur, double *out, long *row)
{
	if (j == m - 1) {
		cur[j] = left;
		for (int i = 0; i < m; i++)
			out[*row * m + i] = (double)cur[i] / h;
		(*row)++;
		return;
	}
	for (int v = left; v >= 0; v--) {
		cur[j] = v;
		das_dennis_rec(m, h, j + 1, left - v, cur, out, row);
	}
}

void moo_das_dennis(int m, int h, double *out)
{
	assert(m >= 1 && m <= 64 && h >= 1);
	int cur[64];
	long row = 0;
	das_dennis_rec(m, h, 0, h, cur, out, &row);
	assert(row == moo_das_dennis_count(m, h));
}

/* Bottom-up merge sort: stable, O(k log k), no recursion. */
void moo_sort_by_key(int *a, int k, const double *key, int *tmp)
{
	for (int width = 1; width < k; width *= 2) {
		for (int lo = 0; lo < k; lo += 2 * width) {
			int mid = lo + width < k ? lo + width : k;
			int hi = lo + 2 * width < k ? lo + 2 * width : k;
			int i = lo, j = mid, o = lo;
			while (i < mid && j < hi)
				tmp[o++] = key[a[j]] < key[a[i]] ? a[j++] : a[i++];
			while (i < mid)
				tmp[o++] = a[i++];
			while (j < hi)
				tmp[o++] = a[j++];
		}
		for (int i = 0; i < k; i++)
			a[i] = tmp[i];
	}
}
