/*
 * util_grad.h — helpers for the op tests: seeded random buffers and a
 * central-difference gradient check.  Prefix: ug_.
 *
 * Buffers returned by ug_rand/ug_copy are malloc'ed; the caller frees them.
 */
#ifndef ARCHD_TESTS_UTIL_GRAD_H
#define ARCHD_TESTS_UTIL_GRAD_H

#include <stddef.h>

#include "runtime/rng.h"

/* n floats uniform in [lo, hi). */
float *ug_rand(rt_rng *r, size_t n, float lo, float hi);

/* A copy of n floats. */
float *ug_copy(const float *src, size_t n);

/* sum_i y[i] r[i] in double: the random projection used as a scalar loss. */
double ug_dot(const float *y, const float *r, size_t n);

/* Largest |a[i] - b[i]| / max(1e-6, max_i |b[i]|): b is the reference. */
double ug_max_rel(const float *a, const double *b, size_t n);

/* Runs a forward and returns the scalar loss (in double). */
typedef double (*ug_loss_fn)(void *ctx);

/*
 * Checks `grad`, the analytic gradient of f() with respect to param[0, n),
 * at `samples` random indices (every index when n <= samples) against
 * central differences (f(p + h) - f(p - h)) / (2h), h = 1e-3 max(1, |p|),
 * with the float step actually taken.  An index passes when
 *     |numeric - analytic| <= 1e-2 max(|numeric|, |analytic|) + 1e-3 scale,
 * scale = max(1e-2, max_i |grad[i]|) (the absolute floor covers entries
 * whose true gradient is ~0 where float rounding of the loss dominates).
 * Restores param.  Prints each failure; returns how many failed.
 */
int ug_check(const char *what, ug_loss_fn f, void *ctx, float *param, size_t n,
	     const float *grad, rt_rng *rng, int samples);

#endif
