/*
 * test_moo.c — NSGA-II on ZDT1-3, NSGA-III on DTLZ2 (3 and 4 objectives),
 * constraint domination on SRN, categorical search, the building blocks
 * against hand-worked cases, and the quality indicators.
 *
 * Budgets are small (a few thousand to 25,000 evaluations) and seeded.  The
 * ZDT thresholds are about twice what these seeds reach.  On DTLZ2 the IGD
 * to a denser reference grid cannot go below that of the ideal population
 * (one point per direction on the sphere: 0.0518 with 3 objectives and 91
 * directions, 0.1122 with 4 and 120), so the thresholds sit just above
 * those floors and a second check asks every member to be on the sphere.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/moo.h"
#include "util_near.h"

#define PI 3.14159265358979323846

/* --- test problems ------------------------------------------------------------ */

typedef struct zdt {
	int which; /* 1, 2 or 3 */
	int n;
} zdt;

static int zdt_eval(void *ctx, const double *x, double *f, double *cv, char *err, size_t errlen)
{
	const zdt *z = ctx;
	(void)err;
	(void)errlen;
	double s = 0;
	for (int i = 1; i < z->n; i++)
		s += x[i];
	double g = 1 + 9 * s / (z->n - 1), r = x[0] / g;
	f[0] = x[0];
	if (z->which == 1)
		f[1] = g * (1 - sqrt(r));
	else if (z->which == 2)
		f[1] = g * (1 - r * r);
	else
		f[1] = g * (1 - sqrt(r) - r * sin(10 * PI * x[0]));
	*cv = 0;
	return 0;
}

/* The true front of ZDT`which` (g = 1), sampled at `k` values of f1 and
 * filtered to its non-dominated points (ZDT3's is disconnected).  Returns
 * the point count; pts holds 2k doubles. */
static int zdt_front(int which, int k, double *pts)
{
	int n = 0;
	for (int i = 0; i < k; i++) {
		double f1 = (double)i / (k - 1), f2;
		if (which == 1)
			f2 = 1 - sqrt(f1);
		else if (which == 2)
			f2 = 1 - f1 * f1;
		else
			f2 = 1 - sqrt(f1) - f1 * sin(10 * PI * f1);
		pts[2 * n] = f1;
		pts[2 * n + 1] = f2;
		n++;
	}
	/* Sorted by f1: a point is on the front when its f2 is below every
	 * earlier one's. */
	int kept = 0;
	double best = INFINITY;
	for (int i = 0; i < n; i++)
		if (pts[2 * i + 1] < best) {
			best = pts[2 * i + 1];
			pts[2 * kept] = pts[2 * i];
			pts[2 * kept + 1] = pts[2 * i + 1];
			kept++;
		}
	return kept;
}

static int dtlz2_eval(void *ctx, const double *x, double *f, double *cv, char *err, size_t errlen)
{
	const int *mn = ctx; /* objectives, variables */
	int m = mn[0], n = mn[1];
	(void)err;
	(void)errlen;
	double g = 0;
	for (int i = m - 1; i < n; i++)
		g += (x[i] - 0.5) * (x[i] - 0.5);
	for (int j = 0; j < m; j++) {
		double v = 1 + g;
		for (int i = 0; i < m - 1 - j; i++)
			v *= cos(x[i] * PI / 2);
		if (j > 0)
			v *= sin(x[m - 1 - j] * PI / 2);
		f[j] = v;
	}
	*cv = 0;
	return 0;
}

/* CONSTR (Deb, 2001): x1 in [0.1, 1], x2 in [0, 5]; minimise x1 and
 * (1 + x2) / x1 subject to x2 + 9 x1 >= 6 and 9 x1 - x2 >= 1.  The first
 * constraint is active on half of the front. */
static const double constr_lo[2] = {0.1, 0}, constr_hi[2] = {1, 5};

static int constr_eval(void *ctx, const double *x, double *f, double *cv, char *err,
		       size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	f[0] = x[0];
	f[1] = (1 + x[1]) / x[0];
	double g1 = 6 - (x[1] + 9 * x[0]), g2 = 1 - (9 * x[0] - x[1]);
	*cv = (g1 > 0 ? g1 : 0) + (g2 > 0 ? g2 : 0);
	return 0;
}

/* CONSTR's front: f2 = (7 - 9 f1) / f1 on [7/18, 2/3] (x2 = 6 - 9 x1, on
 * the first constraint), f2 = 1 / f1 on [2/3, 1] (x2 = 0). */
static void constr_front(int k, double *pts)
{
	for (int i = 0; i < k; i++) {
		double f1 = 7.0 / 18 + (1 - 7.0 / 18) * i / (k - 1);
		pts[2 * i] = f1;
		pts[2 * i + 1] = f1 < 2.0 / 3 ? (7 - 9 * f1) / f1 : 1 / f1;
	}
}

static moo_result *run_real(moo_eval_fn fn, void *ctx, int nvar, int nobj, double lo, double hi,
			    moo_algo algo, int pop, int gens, uint64_t seed)
{
	double *l = malloc((size_t)nvar * sizeof(double)), *u = malloc((size_t)nvar * sizeof(double));
	for (int i = 0; i < nvar; i++) {
		l[i] = lo;
		u[i] = hi;
	}
	moo_problem p = {.nvar = nvar, .nobj = nobj, .lower = l, .upper = u, .evaluate = fn, .ctx = ctx};
	moo_settings s;
	moo_settings_init(&s);
	s.algo = algo;
	s.pop = pop;
	s.generations = gens;
	s.seed = seed;
	char err[256] = "";
	moo_result *res = moo_run(&p, &s, err, sizeof(err));
	if (!res)
		fail_msg("moo_run: %s", err);
	free(l);
	free(u);
	return res;
}

/* IGD of the result's front to the reference points. */
static double front_igd(const moo_result *res, const double *ref, int nref)
{
	int *idx = malloc((size_t)res->n * sizeof(int));
	int k = moo_result_front(res, idx);
	assert_true(k > 0);
	double *f = malloc((size_t)k * res->nobj * sizeof(double));
	for (int a = 0; a < k; a++)
		memcpy(f + (size_t)a * res->nobj, res->f + (size_t)idx[a] * res->nobj,
		       (size_t)res->nobj * sizeof(double));
	double v = moo_igd(k, res->nobj, f, nref, ref);
	free(f);
	free(idx);
	return v;
}

/* --- NSGA-II on ZDT ------------------------------------------------------------ */

static void zdt_case(int which, double max_igd)
{
	zdt z = {which, 30};
	moo_result *res = run_real(zdt_eval, &z, 30, 2, 0, 1, MOO_ALGO_AUTO, 100, 250, 7);
	assert_int_equal(res->algo, MOO_ALGO_NSGA2);
	assert_int_equal(res->evaluations, 100 + 250 * 100);
	double *front = malloc(2 * 1000 * sizeof(double));
	int nf = zdt_front(which, 1000, front);
	double igd = front_igd(res, front, nf);
	printf("# ZDT%d: IGD %.5f (threshold %.3f)\n", which, igd, max_igd);
	assert_true(igd < max_igd);
	if (which == 1) {
		/* The true front dominates 2/3 of the unit square. */
		double ref[2] = {1, 1};
		double hv = moo_hypervolume(res->n, 2, res->f, ref);
		printf("# ZDT1: hypervolume %.5f of 0.66667\n", hv);
		assert_true(hv > 0.65 && hv <= 2.0 / 3.0);
	}
	free(front);
	moo_result_free(res);
}

static void test_zdt1(void **state)
{
	(void)state;
	zdt_case(1, 0.01);
}

static void test_zdt2(void **state)
{
	(void)state;
	zdt_case(2, 0.01);
}

static void test_zdt3(void **state)
{
	(void)state;
	zdt_case(3, 0.02);
}

/* --- NSGA-III on DTLZ2 ---------------------------------------------------------- */

/* Reference front of DTLZ2: Das-Dennis points pushed onto the unit sphere. */
static double *sphere_front(int m, int h, int *count)
{
	*count = (int)moo_das_dennis_count(m, h);
	double *pts = malloc((size_t)*count * m * sizeof(double));
	moo_das_dennis(m, h, pts);
	for (int i = 0; i < *count; i++) {
		double norm = 0;
		for (int j = 0; j < m; j++)
			norm += pts[i * m + j] * pts[i * m + j];
		for (int j = 0; j < m; j++)
			pts[i * m + j] /= sqrt(norm);
	}
	return pts;
}

static void dtlz2_case(int m, int pop, int gens, double max_igd)
{
	int mn[2] = {m, m + 9};
	moo_result *res = run_real(dtlz2_eval, mn, m + 9, m, 0, 1,
				   m >= 4 ? MOO_ALGO_AUTO : MOO_ALGO_NSGA3, pop, gens, 11);
	assert_int_equal(res->algo, MOO_ALGO_NSGA3);
	int nref;
	double *ref = sphere_front(m, m == 3 ? 20 : 10, &nref);
	double igd = front_igd(res, ref, nref);
	printf("# DTLZ2, %d objectives: IGD %.5f (threshold %.3f), population %d\n", m, igd,
	       max_igd, res->n);
	assert_true(igd < max_igd);
	/* Converged: the Pareto front is the unit sphere. */
	int *idx = malloc((size_t)res->n * sizeof(int));
	int k = moo_result_front(res, idx);
	double worst = 0, mean = 0;
	for (int a = 0; a < k; a++) {
		double norm = 0;
		for (int j = 0; j < m; j++)
			norm += res->f[(size_t)idx[a] * m + j] * res->f[(size_t)idx[a] * m + j];
		double off = sqrt(norm) - 1;
		mean += off / k;
		if (off > worst)
			worst = off;
	}
	printf("# DTLZ2, %d objectives: %d front members, %.4f from the sphere on average, "
	       "%.4f at most\n",
	       m, k, mean, worst);
	assert_true(k >= res->n / 2 && mean < 0.005 && worst < 0.05);
	free(idx);
	free(ref);
	moo_result_free(res);
}

static void test_dtlz2_3(void **state)
{
	(void)state;
	dtlz2_case(3, 92, 300, 0.056);
}

static void test_dtlz2_4(void **state)
{
	(void)state;
	dtlz2_case(4, 120, 300, 0.12);
}

/* --- constraints ------------------------------------------------------------------ */

static void test_constr_feasible(void **state)
{
	(void)state;
	moo_problem p = {.nvar = 2, .nobj = 2, .lower = constr_lo, .upper = constr_hi,
			 .evaluate = constr_eval};
	moo_settings s;
	moo_settings_init(&s);
	s.pop = 60;
	s.generations = 200;
	s.seed = 3;
	char err[128];
	moo_result *res = moo_run(&p, &s, err, sizeof(err));
	assert_non_null(res);
	for (int i = 0; i < res->n; i++)
		assert_true(res->cv[i] == 0);
	double front[2 * 500];
	constr_front(500, front);
	double igd = front_igd(res, front, 500);
	/* 60 points along a front 8.5 long in f2 leave an IGD of about 0.035
	 * even when every one of them is on it. */
	printf("# CONSTR: IGD %.5f (threshold 0.050), all %d members feasible\n", igd, res->n);
	assert_true(igd < 0.05);
	moo_result_free(res);
}

static void test_dominates(void **state)
{
	(void)state;
	double a[2] = {1, 2}, b[2] = {2, 2}, c[2] = {0, 3};
	assert_true(moo_dominates(a, 0, b, 0, 2));
	assert_false(moo_dominates(b, 0, a, 0, 2));
	assert_false(moo_dominates(a, 0, c, 0, 2));
	assert_false(moo_dominates(c, 0, a, 0, 2));
	assert_false(moo_dominates(a, 0, a, 0, 2));
	/* Feasible beats infeasible whatever the objectives. */
	assert_true(moo_dominates(b, 0, a, 0.1, 2));
	assert_false(moo_dominates(a, 0.1, b, 0, 2));
	/* Among infeasible ones the smaller violation wins. */
	assert_true(moo_dominates(b, 0.5, a, 1.0, 2));
	assert_false(moo_dominates(a, 1.0, b, 0.5, 2));
	assert_false(moo_dominates(a, 1.0, b, 1.0, 2));
}

/*
 * Points (minimised):  p0 (1,4)  p1 (2,2)  p2 (4,1)  p3 (3,3)  p4 (4,4)
 * p5 (0,0) infeasible 2, p6 (0,0) infeasible 1.
 * Fronts: {p0,p1,p2}, {p3}, {p4}, then p6 (less violation), then p5.
 */
static void test_sort_and_crowding(void **state)
{
	(void)state;
	double f[] = {1, 4, 2, 2, 4, 1, 3, 3, 4, 4, 0, 0, 0, 0};
	double cv[] = {0, 0, 0, 0, 0, 2, 1};
	int rank[7];
	assert_int_equal(moo_nondominated_sort(7, 2, f, cv, rank), 5);
	int want[7] = {0, 0, 0, 1, 2, 4, 3};
	assert_memory_equal(rank, want, sizeof(want));
	/* Crowding of the first front: extremes infinite; p1's neighbours
	 * span 3 of 3 in f0 and 3 of 3 in f1: 1 + 1 = 2. */
	int idx[3] = {0, 1, 2};
	double d[3];
	assert_int_equal(moo_crowding(2, f, idx, 3, d), 0);
	assert_true(isinf(d[0]) && isinf(d[2]));
	assert_near(d[1], 2.0, 1e-12);
}

/* --- categorical search ---------------------------------------------------------- */

/* Ten genes of 3 to 5 values.  f0 counts genes not at their first value,
 * f1 genes not at their last: the front is every (j, 10 - j), reached only
 * with each gene at one of its ends. */
static const int cat_ncat[10] = {3, 4, 5, 3, 4, 5, 3, 4, 5, 3};

static int cat_eval(void *ctx, const double *x, double *f, double *cv, char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	f[0] = f[1] = 0;
	for (int i = 0; i < 10; i++) {
		f[0] += x[i] != 0;
		f[1] += x[i] != cat_ncat[i] - 1;
	}
	*cv = 0;
	return 0;
}

static int cat_eval_tiny(void *ctx, const double *x, double *f, double *cv, char *err,
			 size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	f[0] = x[0] + x[1];
	f[1] = 2 - x[0] - x[1];
	*cv = 0;
	return 0;
}

static void test_categorical_front(void **state)
{
	(void)state;
	moo_problem p = {.nvar = 10, .nobj = 2, .ncat = cat_ncat, .evaluate = cat_eval};
	moo_settings s;
	moo_settings_init(&s);
	s.pop = 40;
	s.generations = 150;
	s.seed = 5;
	char err[128];
	moo_result *res = moo_run(&p, &s, err, sizeof(err));
	assert_non_null(res);
	int idx[40];
	int k = moo_result_front(res, idx);
	int seen[11] = {0};
	for (int a = 0; a < k; a++) {
		const double *f = res->f + (size_t)idx[a] * 2;
		assert_true(f[0] + f[1] == 10);
		seen[(int)f[0]] = 1;
	}
	for (int j = 0; j <= 10; j++)
		assert_true(seen[j]);
	for (int i = 0; i < res->n; i++)
		for (int v = 0; v < 10; v++) {
			double g = res->x[(size_t)i * 10 + v];
			assert_true(g == floor(g) && g >= 0 && g < cat_ncat[v]);
		}
	moo_result_free(res);
}

/* Four subnets in all and a population of eight: duplicates cannot be
 * avoided, and the search must still end, with every solution found. */
static void test_categorical_tiny_space(void **state)
{
	(void)state;
	static const int two[2] = {2, 2};
	moo_problem p = {.nvar = 2, .nobj = 2, .ncat = two, .evaluate = cat_eval_tiny};
	moo_settings s;
	moo_settings_init(&s);
	s.pop = 8;
	s.generations = 20;
	char err[128];
	moo_result *res = moo_run(&p, &s, err, sizeof(err));
	assert_non_null(res);
	int idx[8];
	/* (0,0) -> (0,2), (1,1) -> (2,0), (0,1), (1,0) -> (1,1): all on the front. */
	assert_int_equal(moo_result_front(res, idx), 3);
	moo_result_free(res);
}

static void test_categorical_operators(void **state)
{
	(void)state;
	rt_rng r;
	rt_rng_seed(&r, 9);
	double a[10], b[10], c1[10], c2[10];
	long changed = 0, tries = 0;
	for (int t = 0; t < 2000; t++) {
		for (int i = 0; i < 10; i++) {
			a[i] = (double)rt_rng_below(&r, (uint64_t)cat_ncat[i]);
			b[i] = (double)rt_rng_below(&r, (uint64_t)cat_ncat[i]);
		}
		moo_uniform_crossover(&r, 10, a, b, c1, c2);
		for (int i = 0; i < 10; i++)
			assert_true((c1[i] == a[i] && c2[i] == b[i]) || (c1[i] == b[i] && c2[i] == a[i]));
		memcpy(c2, c1, sizeof(c1));
		moo_resample_mutation(&r, 10, cat_ncat, 0.3, c1);
		for (int i = 0; i < 10; i++) {
			assert_true(c1[i] == floor(c1[i]) && c1[i] >= 0 && c1[i] < cat_ncat[i]);
			changed += c1[i] != c2[i];
			tries++;
		}
	}
	/* rate is the chance a gene changes: 0.3 within sampling noise. */
	double rate = (double)changed / tries;
	assert_true(rate > 0.28 && rate < 0.32);
	/* A gene with one value never moves; rate 0 changes nothing. */
	int one[3] = {1, 1, 1};
	double x[3] = {0, 0, 0};
	moo_resample_mutation(&r, 3, one, 1.0, x);
	assert_true(x[0] == 0 && x[1] == 0 && x[2] == 0);
	memcpy(c2, c1, sizeof(c1));
	moo_resample_mutation(&r, 10, cat_ncat, 0.0, c1);
	assert_memory_equal(c1, c2, sizeof(c1));
}

static void test_real_operators_in_bounds(void **state)
{
	(void)state;
	rt_rng r;
	rt_rng_seed(&r, 4);
	double lo[4] = {0, -1, 5, -3}, hi[4] = {1, 1, 6, -2}, p1[4], p2[4], c1[4], c2[4];
	for (int t = 0; t < 5000; t++) {
		for (int i = 0; i < 4; i++) {
			p1[i] = lo[i] + rt_rng_uniform(&r) * (hi[i] - lo[i]);
			p2[i] = lo[i] + rt_rng_uniform(&r) * (hi[i] - lo[i]);
		}
		moo_sbx(&r, 4, lo, hi, 15, p1, p2, c1, c2);
		moo_polynomial_mutation(&r, 4, lo, hi, 20, 1.0, c1);
		for (int i = 0; i < 4; i++) {
			assert_true(c1[i] >= lo[i] && c1[i] <= hi[i]);
			assert_true(c2[i] >= lo[i] && c2[i] <= hi[i]);
		}
	}
}

/* --- directions, indicators, runs ------------------------------------------------ */

static void test_das_dennis(void **state)
{
	(void)state;
	assert_int_equal(moo_das_dennis_count(3, 12), 91);
	assert_int_equal(moo_das_dennis_count(4, 8), 165);
	assert_int_equal(moo_das_dennis_count(2, 4), 5);
	double pts[5 * 2];
	moo_das_dennis(2, 4, pts);
	double want[] = {1, 0, 0.75, 0.25, 0.5, 0.5, 0.25, 0.75, 0, 1};
	for (int i = 0; i < 10; i++)
		assert_near(pts[i], want[i], 1e-15);
	double *p3 = malloc(91 * 3 * sizeof(double));
	moo_das_dennis(3, 12, p3);
	for (int i = 0; i < 91; i++)
		assert_near(p3[i * 3] + p3[i * 3 + 1] + p3[i * 3 + 2], 1.0, 1e-12);
	free(p3);
}

static void test_indicators(void **state)
{
	(void)state;
	/* (1,3), (2,2), (3,1) under (4,4): strips 3*1 + 2*1 + 1*1 = 6; the
	 * dominated (3,3) and the outside (5,0) add nothing. */
	double f2[] = {2, 2, 1, 3, 3, 3, 3, 1, 5, 0};
	double r2[] = {4, 4};
	assert_near(moo_hypervolume(5, 2, f2, r2), 6.0, 1e-12);
	/* (0,0,1) and (1,1,0) under (2,2,2): boxes of 4 and 2 sharing 1. */
	double f3[] = {0, 0, 1, 1, 1, 0};
	double r3[] = {2, 2, 2};
	assert_near(moo_hypervolume(2, 3, f3, r3), 5.0, 1e-12);
	assert_near(moo_hypervolume(1, 3, f3 + 3, r3), 2.0, 1e-12);
	assert_near(moo_hypervolume(0, 3, f3, r3), 0.0, 0);
	/* IGD: reference (0,0) and (2,0) against the single point (1,0). */
	double ref[] = {0, 0, 2, 0}, pt[] = {1, 0};
	assert_near(moo_igd(1, 2, pt, 2, ref), 1.0, 1e-12);
	assert_near(moo_igd(2, 2, ref, 2, ref), 0.0, 0);
}

static void test_reproducible(void **state)
{
	(void)state;
	zdt z = {1, 10};
	moo_result *a = run_real(zdt_eval, &z, 10, 2, 0, 1, MOO_ALGO_NSGA2, 20, 10, 42);
	moo_result *b = run_real(zdt_eval, &z, 10, 2, 0, 1, MOO_ALGO_NSGA2, 20, 10, 42);
	moo_result *c = run_real(zdt_eval, &z, 10, 2, 0, 1, MOO_ALGO_NSGA2, 20, 10, 43);
	assert_memory_equal(a->x, b->x, 20 * 10 * sizeof(double));
	assert_memory_equal(a->f, b->f, 20 * 2 * sizeof(double));
	assert_true(memcmp(a->x, c->x, 20 * 10 * sizeof(double)) != 0);
	moo_result_free(a);
	moo_result_free(b);
	moo_result_free(c);
}

static int failing_eval(void *ctx, const double *x, double *f, double *cv, char *err,
			size_t errlen)
{
	int *calls = ctx;
	(void)x;
	f[0] = f[1] = 0;
	*cv = 0;
	if (++*calls == 7) {
		snprintf(err, errlen, "subnet 7: evaluation failed");
		return -1;
	}
	return 0;
}

static int nan_eval(void *ctx, const double *x, double *f, double *cv, char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	f[0] = x[0];
	f[1] = x[0] > 0.5 ? NAN : 1 - x[0];
	*cv = 0;
	return 0;
}

static void test_errors(void **state)
{
	(void)state;
	int calls = 0;
	double lo[1] = {0}, hi[1] = {1}, seed_bad[1] = {2};
	moo_problem p = {.nvar = 1, .nobj = 2, .lower = lo, .upper = hi,
			 .evaluate = failing_eval, .ctx = &calls};
	moo_settings s;
	moo_settings_init(&s);
	char err[128] = "";
	assert_null(moo_run(&p, &s, err, sizeof(err)));
	assert_string_equal(err, "subnet 7: evaluation failed");
	s.pop = 3;
	assert_null(moo_run(&p, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "population 3"));
	s.pop = 10;
	p.nseed = 1;
	p.seed_x = seed_bad;
	assert_null(moo_run(&p, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "starting solution 0"));
	/* A NaN objective stops the search rather than corrupting its order. */
	p.nseed = 0;
	p.evaluate = nan_eval;
	assert_null(moo_run(&p, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "objective 1 is not a number"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dominates),
		cmocka_unit_test(test_sort_and_crowding),
		cmocka_unit_test(test_das_dennis),
		cmocka_unit_test(test_indicators),
		cmocka_unit_test(test_real_operators_in_bounds),
		cmocka_unit_test(test_categorical_operators),
		cmocka_unit_test(test_reproducible),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_zdt1),
		cmocka_unit_test(test_zdt2),
		cmocka_unit_test(test_zdt3),
		cmocka_unit_test(test_dtlz2_3),
		cmocka_unit_test(test_dtlz2_4),
		cmocka_unit_test(test_constr_feasible),
		cmocka_unit_test(test_categorical_front),
		cmocka_unit_test(test_categorical_tiny_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
