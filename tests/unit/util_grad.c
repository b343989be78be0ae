/*
 * util_grad.c — random buffers and finite-difference checks for op tests.
 */
#include "util_grad.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *ug_rand(rt_rng *r, size_t n, float lo, float hi)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	if (p == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		p[i] = lo + (hi - lo) * (float)rt_rng_uniform(r);
	return p;
}

float *ug_copy(const float *src, size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	if (p == NULL)
		abort();
	memcpy(p, src, n * sizeof(float));
	return p;
}

double ug_dot(const float *y, const float *r, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += (double)y[i] * r[i];
	return s;
}

double ug_max_rel(const float *a, const double *b, size_t n)
{
	double scale = 1e-6, worst = 0.0;
	for (size_t i = 0; i < n; i++)
		if (fabs(b[i]) > scale)
			scale = fabs(b[i]);
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (!(d <= worst)) /* NaN counts as the worst */
			worst = isnan(d) ? INFINITY : d;
	}
	return worst / scale;
}

int ug_check(const char *what, ug_loss_fn f, void *ctx, float *param, size_t n,
	     const float *grad, rt_rng *rng, int samples)
{
	double scale = 1e-2;
	for (size_t i = 0; i < n; i++)
		if (fabs(grad[i]) > scale)
			scale = fabs(grad[i]);
	int fails = 0;
	int count = n <= (size_t)samples ? (int)n : samples;
	for (int s = 0; s < count; s++) {
		size_t i = n <= (size_t)samples ? (size_t)s : rt_rng_below(rng, n);
		float p0 = param[i];
		double h = 1e-3 * fmax(1.0, fabs(p0));
		float pp = (float)(p0 + h), pm = (float)(p0 - h);
		param[i] = pp;
		double lp = f(ctx);
		param[i] = pm;
		double lm = f(ctx);
		param[i] = p0;
		double num = (lp - lm) / ((double)pp - (double)pm);
		double ana = grad[i];
		double tol = 1e-2 * fmax(fabs(num), fabs(ana)) + 1e-3 * scale;
		if (!(fabs(num - ana) <= tol)) {
			if (fails < 5)
				fprintf(stderr, "# %s[%zu]: numeric %.6g analytic %.6g (tol %.3g)\n",
					what, i, num, ana, tol);
			fails++;
		}
	}
	return fails;
}
