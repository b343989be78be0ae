/*
 * moo_nsga3.c — NSGA-III survival (Deb & Jain, 2014): Das-Dennis reference
 * directions, adaptive normalisation by the hyperplane through the extreme
 * points, association of each solution with its nearest direction, and
 * niching that fills the last front from the least crowded directions.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/moo_priv.h"

/* Weight of the other axes when finding an axis's extreme point. */
#define ASF_EPS 1e-6
/* Intercepts below this are degenerate (the points lie on a lower-dimensional
 * set); so are near-zero pivots of the hyperplane's system. */
#define INTERCEPT_EPS 1e-6
#define PIVOT_EPS 1e-12

void moo_nsga3_free(moo_nsga3 *st)
{
	free(st->dirs);
	free(st->ideal);
	free(st->extreme);
	memset(st, 0, sizeof(*st));
}

int moo_nsga3_init(moo_nsga3 *st, int m, int h)
{
	memset(st, 0, sizeof(*st));
	long nd = moo_das_dennis_count(m, h);
	if (nd < 1)
		return -1;
	st->m = m;
	st->ndirs = (int)nd;
	st->dirs = malloc((size_t)nd * m * sizeof(double));
	st->ideal = malloc((size_t)m * sizeof(double));
	st->extreme = malloc((size_t)m * m * sizeof(double));
	if (!st->dirs || !st->ideal || !st->extreme) {
		moo_nsga3_free(st);
		return -1;
	}
	moo_das_dennis(m, h, st->dirs);
	for (long d = 0; d < nd; d++) {
		double *w = st->dirs + d * m, norm = 0;
		for (int j = 0; j < m; j++)
			norm += w[j] * w[j];
		norm = sqrt(norm);
		for (int j = 0; j < m; j++)
			w[j] /= norm;
	}
	for (int j = 0; j < m; j++)
		st->ideal[j] = INFINITY;
	return 0;
}

/* Achievement scalarising function of point p for axis j. */
static double asf(const double *p, const double *ideal, int m, int j)
{
	double worst = -INFINITY;
	for (int i = 0; i < m; i++) {
		double v = (p[i] - ideal[i]) / (i == j ? 1.0 : ASF_EPS);
		if (v > worst)
			worst = v;
	}
	return worst;
}

/* Solves A a = 1 (A m x m, destroyed) by Gaussian elimination with partial
 * pivoting; returns 0, or -1 when A is near singular. */
static int solve_ones(double *A, int m, double *a)
{
	for (int i = 0; i < m; i++)
		a[i] = 1.0;
	for (int c = 0; c < m; c++) {
		int piv = c;
		for (int r = c + 1; r < m; r++)
			if (fabs(A[r * m + c]) > fabs(A[piv * m + c]))
				piv = r;
		if (fabs(A[piv * m + c]) < PIVOT_EPS)
			return -1;
		if (piv != c) {
			for (int k = 0; k < m; k++) {
				double t = A[c * m + k];
				A[c * m + k] = A[piv * m + k];
				A[piv * m + k] = t;
			}
			double t = a[c];
			a[c] = a[piv];
			a[piv] = t;
		}
		for (int r = c + 1; r < m; r++) {
			double q = A[r * m + c] / A[c * m + c];
			for (int k = c; k < m; k++)
				A[r * m + k] -= q * A[c * m + k];
			a[r] -= q * a[c];
		}
	}
	for (int c = m - 1; c >= 0; c--) {
		double v = a[c];
		for (int k = c + 1; k < m; k++)
			v -= A[c * m + k] * a[k];
		a[c] = v / A[c * m + c];
	}
	return 0;
}

/* The nadir estimate for the candidates s[0..ns) (their ranks in rank):
 * the intercepts of the hyperplane through the extreme points, or, when it
 * is degenerate, the worst of the first front, then of all candidates. */
static void nadir_point(moo_nsga3 *st, const double *f, const int *rank, const int *s, int ns,
			double *nadir, double *scratch)
{
	int m = st->m;
	for (int j = 0; j < m; j++) {
		/* ns >= 1, and objectives are finite (moo_run checks), so a
		 * best point exists; s[0] stands in for none being below. */
		const double *best = st->have_extreme ? st->extreme + j * m : f + (size_t)s[0] * m;
		double best_v = asf(best, st->ideal, m, j);
		for (int a = 0; a < ns; a++) {
			const double *p = f + (size_t)s[a] * m;
			double v = asf(p, st->ideal, m, j);
			if (v < best_v) {
				best_v = v;
				best = p;
			}
		}
		memcpy(scratch + j * m, best, (size_t)m * sizeof(double));
	}
	memcpy(st->extreme, scratch, (size_t)m * m * sizeof(double));
	st->have_extreme = 1;

	double worst_front[64], worst_all[64], a[64];
	for (int j = 0; j < m; j++)
		worst_front[j] = worst_all[j] = -INFINITY;
	for (int k = 0; k < ns; k++)
		for (int j = 0; j < m; j++) {
			double v = f[(size_t)s[k] * m + j];
			if (v > worst_all[j])
				worst_all[j] = v;
			if (rank[s[k]] == 0 && v > worst_front[j])
				worst_front[j] = v;
		}
	for (int j = 0; j < m; j++)
		for (int i = 0; i < m; i++)
			scratch[j * m + i] -= st->ideal[i];
	int ok = solve_ones(scratch, m, a) == 0;
	for (int j = 0; ok && j < m; j++) {
		double icpt = 1.0 / a[j];
		ok = a[j] > 0 && isfinite(icpt) && icpt > INTERCEPT_EPS;
		nadir[j] = st->ideal[j] + icpt;
		if (ok && nadir[j] > worst_all[j])
			nadir[j] = worst_all[j];
	}
	for (int j = 0; j < m; j++) {
		if (!ok)
			nadir[j] = worst_front[j] > -INFINITY ? worst_front[j] : worst_all[j];
		if (nadir[j] - st->ideal[j] <= INTERCEPT_EPS)
			nadir[j] = worst_all[j];
	}
}

/* Nearest direction of each candidate and its perpendicular distance, in
 * normalised objective space. */
static void associate(const moo_nsga3 *st, const double *f, const int *s, int ns,
		      const double *nadir, int *niche, double *dist)
{
	int m = st->m;
	double fn[64];
	for (int a = 0; a < ns; a++) {
		for (int j = 0; j < m; j++) {
			double span = nadir[j] - st->ideal[j];
			fn[j] = (f[(size_t)s[a] * m + j] - st->ideal[j]) / (span > PIVOT_EPS ? span : PIVOT_EPS);
		}
		double norm2 = 0;
		for (int j = 0; j < m; j++)
			norm2 += fn[j] * fn[j];
		niche[a] = 0;
		dist[a] = INFINITY;
		for (int d = 0; d < st->ndirs; d++) {
			const double *w = st->dirs + (size_t)d * m;
			double dot = 0;
			for (int j = 0; j < m; j++)
				dot += fn[j] * w[j];
			double perp2 = norm2 - dot * dot; /* |fn|^2 - (fn.w)^2, |w| = 1 */
			double pd = sqrt(perp2 > 0 ? perp2 : 0);
			if (pd < dist[a]) {
				dist[a] = pd;
				niche[a] = d;
			}
		}
	}
}

int moo_nsga3_select(moo_nsga3 *st, rt_rng *r, int n, const double *f, const int *rank,
		     int keep, int *chosen)
{
	int m = st->m;
	/* last: the rank of the front that does not fit whole. */
	int k = 0, last = 0;
	for (;; last++) {
		int cnt = 0;
		for (int i = 0; i < n; i++)
			cnt += rank[i] == last;
		if (k + cnt >= keep)
			break;
		for (int i = 0; i < n; i++)
			if (rank[i] == last)
				chosen[k++] = i;
	}
	int *s = malloc((size_t)n * sizeof(*s));
	int *niche = malloc((size_t)n * sizeof(*niche));
	double *dist = malloc((size_t)n * sizeof(*dist));
	int *count = calloc((size_t)st->ndirs, sizeof(*count));
	double *scratch = malloc((size_t)m * m * sizeof(double));
	int *ties = malloc((size_t)st->ndirs * sizeof(*ties));
	if (!s || !niche || !dist || !count || !scratch || !ties) {
		free(s);
		free(niche);
		free(dist);
		free(count);
		free(scratch);
		free(ties);
		return -1;
	}
	/* Candidates: the chosen fronts first, then the last front. */
	int ns = k;
	memcpy(s, chosen, (size_t)k * sizeof(int));
	for (int i = 0; i < n; i++)
		if (rank[i] == last)
			s[ns++] = i;
	for (int a = 0; a < ns; a++)
		for (int j = 0; j < m; j++)
			if (f[(size_t)s[a] * m + j] < st->ideal[j])
				st->ideal[j] = f[(size_t)s[a] * m + j];
	double nadir[64];
	nadir_point(st, f, rank, s, ns, nadir, scratch);
	associate(st, f, s, ns, nadir, niche, dist);
	for (int a = 0; a < k; a++)
		count[niche[a]]++;
	/* Niching over the last front s[k0..ns): a taken member gets s = -1. */
	int excluded_mark = -1, k0 = k;
	while (k < keep) {
		int best = 0x7fffffff, nt = 0;
		for (int d = 0; d < st->ndirs; d++) {
			if (count[d] == excluded_mark)
				continue;
			if (count[d] < best) {
				best = count[d];
				nt = 0;
			}
			if (count[d] == best)
				ties[nt++] = d;
		}
		int d = ties[rt_rng_below(r, (uint64_t)nt)];
		int pick = -1, cands = 0;
		for (int a = k0; a < ns; a++) {
			if (s[a] < 0 || niche[a] != d)
				continue;
			cands++;
			if (count[d] == 0) {
				if (pick < 0 || dist[a] < dist[pick])
					pick = a;
			} else if (rt_rng_below(r, (uint64_t)cands) == 0) {
				pick = a; /* reservoir sampling: uniform among candidates */
			}
		}
		if (pick < 0) {
			count[d] = excluded_mark;
			continue;
		}
		chosen[k++] = s[pick];
		s[pick] = -1;
		count[d]++;
	}
	free(s);
	free(niche);
	free(dist);
	free(count);
	free(scratch);
	free(ties);
	return 0;
}
