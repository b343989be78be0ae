/*
 * moo_indicator.c — hypervolume (exact, 2 and 3 objectives) and inverted
 * generational distance.
 */
#include "runtime/moo.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "runtime/moo_priv.h"

/*
 * 2-D sweep over the points order[0..k) sorted by their first objective,
 * taking only those whose slab index (in z order) is at most `upto` (all
 * when zpos is NULL): each point that lowers the best second objective so
 * far adds the strip between the two, from its first objective to ref[0].
 */
static double area2(const double *f, int m, const int *order, int k, const int *zpos, int upto,
		    const double *ref)
{
	double area = 0, ybest = ref[1];
	for (int a = 0; a < k; a++) {
		int i = order[a];
		if (zpos && zpos[i] > upto)
			continue;
		double x = f[(size_t)i * m], y = f[(size_t)i * m + 1];
		if (y < ybest) {
			area += (ref[0] - x) * (ybest - y);
			ybest = y;
		}
	}
	return area;
}

double moo_hypervolume(int n, int m, const double *f, const double *ref)
{
	assert(m == 2 || m == 3);
	int *in = malloc((size_t)(n > 0 ? n : 1) * sizeof(*in));
	int *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof(*tmp));
	int *byz = malloc((size_t)(n > 0 ? n : 1) * sizeof(*byz));
	int *zpos = malloc((size_t)(n > 0 ? n : 1) * sizeof(*zpos));
	double *key = calloc((size_t)(n > 0 ? n : 1), sizeof(*key));
	if (!in || !tmp || !byz || !zpos || !key) {
		free(in);
		free(tmp);
		free(byz);
		free(zpos);
		free(key);
		return -1;
	}
	/* Keep the points strictly inside the reference box. */
	int k = 0;
	for (int i = 0; i < n; i++) {
		int inside = 1;
		for (int j = 0; j < m; j++)
			inside &= f[(size_t)i * m + j] < ref[j];
		if (inside)
			in[k++] = i;
	}
	for (int i = 0; i < n; i++)
		key[i] = f[(size_t)i * m];
	moo_sort_by_key(in, k, key, tmp);
	double hv = 0;
	if (m == 2) {
		hv = area2(f, m, in, k, NULL, 0, ref);
	} else {
		/* Slabs between successive third objectives: the slab above the
		 * a-th lowest point is dominated by the a+1 lowest in 2-D. */
		for (int a = 0; a < k; a++) {
			byz[a] = in[a];
			key[in[a]] = f[(size_t)in[a] * m + 2];
		}
		moo_sort_by_key(byz, k, key, tmp);
		for (int a = 0; a < k; a++)
			zpos[byz[a]] = a;
		for (int a = 0; a < k; a++) {
			double z0 = f[(size_t)byz[a] * m + 2];
			double z1 = a + 1 < k ? f[(size_t)byz[a + 1] * m + 2] : ref[2];
			if (z1 > z0)
				hv += area2(f, m, in, k, zpos, a, ref) * (z1 - z0);
		}
	}
	free(in);
	free(tmp);
	free(byz);
	free(zpos);
	free(key);
	return hv;
}

double moo_igd(int n, int m, const double *f, int nref, const double *ref)
{
	assert(n >= 1 && nref >= 1);
	double sum = 0;
	for (int r = 0; r < nref; r++) {
		double best = INFINITY;
		for (int i = 0; i < n; i++) {
			double d2 = 0;
			for (int j = 0; j < m; j++) {
				double d = f[(size_t)i * m + j] - ref[(size_t)r * m + j];
				d2 += d * d;
			}
			if (d2 < best)
				best = d2;
		}
		sum += sqrt(best);
	}
	return sum / nref;
}
