/*
 * moo.h — multi-objective evolutionary search: NSGA-II, and NSGA-III from
 * four objectives up, with constraint domination; their building blocks;
 * variation operators for real and categorical variables; quality
 * indicators.  Prefix: moo_.
 *
 * Conventions.  Every objective is minimised (negate one to maximise).  A
 * solution's constraint violation is one number, the sum of max(0, g_j) over
 * its constraints g_j <= 0; 0 means feasible.  Objective vectors are stored
 * row-major: f[i * m + j] is objective j of solution i.
 *
 * Constraint domination (Deb, 2000): a feasible solution beats an infeasible
 * one; of two infeasible ones the smaller violation wins; of two feasible
 * ones Pareto domination decides (no worse in every objective, better in
 * one).
 *
 * Variables.  A problem's variables are all real (bounded by lower/upper,
 * varied by SBX and polynomial mutation) or all categorical (variable i holds
 * an integer in [0, ncat[i]), stored as a double; varied by uniform
 * crossover and resampling mutation).  An architecture is categorical: gene
 * i is an index into ir_gene.values.  A categorical child equal to a
 * solution of the population or to an earlier child is mutated again (a
 * few times at most) before it is evaluated: a duplicate costs an
 * evaluation and adds nothing.
 *
 * Reproducibility: a run draws every random choice from one rt_rng seeded
 * with moo_settings.seed and calls the evaluator in a fixed order, so the
 * same problem and settings give the same result.
 */
#ifndef ARCHD_RUNTIME_MOO_H
#define ARCHD_RUNTIME_MOO_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/rng.h"

/* --- dominance, sorting, crowding -------------------------------------------- */

/*
 * 1 when solution a constraint-dominates b (rules above), else 0.  fa and fb
 * hold m objectives; cva and cvb are total violations (>= 0).
 */
int moo_dominates(const double *fa, double cva, const double *fb, double cvb, int m);

/*
 * Fast non-dominated sorting under constraint domination: rank[i] = 0 for
 * the solutions nothing dominates, 1 for those only rank-0 ones dominate,
 * and so on.  cv may be NULL (all feasible).  Returns the number of fronts,
 * or -1 when scratch memory cannot be allocated.  O(m n^2).
 */
int moo_nondominated_sort(int n, int m, const double *f, const double *cv, int *rank);

/*
 * Crowding distance (NSGA-II) of the solutions idx[0..k) of f, taken as one
 * front, written to dist[0..k) in the same order: for each objective, the
 * gap between a solution's two neighbours divided by the objective's range,
 * summed; the two extremes of any objective get INFINITY.  Returns 0, or -1
 * when scratch memory cannot be allocated.
 */
int moo_crowding(int m, const double *f, const int *idx, int k, double *dist);

/* --- NSGA-III reference directions ------------------------------------------- */

/* Number of Das-Dennis directions of m objectives and h divisions:
 * C(h + m - 1, m - 1), or -1 when above INT32_MAX. */
long moo_das_dennis_count(int m, int h);

/*
 * The Das-Dennis points: every vector of m non-negative multiples of 1/h
 * summing to 1, row-major into out (moo_das_dennis_count(m, h) rows).
 */
void moo_das_dennis(int m, int h, double *out);

/* --- variation operators ----------------------------------------------------- */

/*
 * Simulated binary crossover (Deb & Agrawal, 1995) of parents p1, p2 into
 * children c1, c2 (n variables within [lo, hi]) with distribution index eta.
 * Each variable is crossed with probability 1/2 (and when the parents
 * differ), with bounded spread so children stay within the bounds.
 */
void moo_sbx(rt_rng *r, int n, const double *lo, const double *hi, double eta,
	     const double *p1, const double *p2, double *c1, double *c2);

/*
 * Polynomial mutation (Deb & Goyal, 1996), bounded form: each of the n
 * variables of x mutates with probability pm, with distribution index eta,
 * and stays within [lo, hi].
 */
void moo_polynomial_mutation(rt_rng *r, int n, const double *lo, const double *hi,
			     double eta, double pm, double *x);

/*
 * Uniform crossover of categorical parents: each variable of c1 comes from
 * p1 or p2 with probability 1/2 and c2 gets the other one.
 */
void moo_uniform_crossover(rt_rng *r, int n, const double *p1, const double *p2,
			   double *c1, double *c2);

/*
 * Resampling mutation of categorical variables: with probability rate, a
 * variable with ncat[i] > 1 takes a value drawn uniformly from the other
 * ncat[i] - 1, so rate is the chance that it changes.
 */
void moo_resample_mutation(rt_rng *r, int n, const int *ncat, double rate, double *x);

/* --- the search -------------------------------------------------------------- */

typedef enum moo_algo {
	MOO_ALGO_AUTO,  /* NSGA-II below four objectives, NSGA-III from four */
	MOO_ALGO_NSGA2, /* crowding distance */
	MOO_ALGO_NSGA3, /* reference directions, normalisation, niching */
	MOO_ALGO_COUNT
} moo_algo;

extern const char *const moo_algo_names[MOO_ALGO_COUNT];

/*
 * Fills f[0..nobj) (minimised) and *cv (total violation, >= 0) for x.
 * Returns 0, or -1 to stop the search (a message goes into err).  A NaN
 * objective or violation stops it too (moo_run names the evaluation).
 */
typedef int (*moo_eval_fn)(void *ctx, const double *x, double *f, double *cv,
			   char *err, size_t errlen);

typedef struct moo_problem {
	int nvar, nobj;
	/* Real problem: bounds of each variable (ncat NULL).  Categorical
	 * problem: ncat[i] >= 1 values of variable i (lower, upper NULL). */
	const double *lower, *upper;
	const int *ncat;
	moo_eval_fn evaluate;
	void *ctx;
	/* Optional starting solutions (rows of nvar), copied into the first
	 * population before random ones; e.g. an archive's members. */
	int nseed;
	const double *seed_x;
} moo_problem;

typedef struct moo_settings {
	moo_algo algo;
	int pop;         /* population; NSGA-III raises it to its direction count */
	int generations; /* after the initial population */
	uint64_t seed;
	double crossover;  /* probability a pair is crossed, else copied */
	double eta_c;      /* SBX distribution index */
	double eta_m;      /* polynomial mutation distribution index */
	double mutation;   /* per-variable mutation probability; 0 = 1/nvar */
	int divisions;     /* NSGA-III Das-Dennis divisions; 0 = the largest
	                      with no more directions than pop */
} moo_settings;

/* AUTO, pop 100, 100 generations, seed 1, crossover 0.9, eta_c 15,
 * eta_m 20, mutation 1/nvar, divisions chosen from pop. */
void moo_settings_init(moo_settings *s);

/* The final population, owned by the caller (moo_result_free). */
typedef struct moo_result {
	int n, nvar, nobj;
	double *x;  /* n * nvar */
	double *f;  /* n * nobj */
	double *cv; /* n */
	int *rank;  /* n, non-domination rank (0 = the front) */
	moo_algo algo; /* the one that ran (never AUTO) */
	long evaluations;
} moo_result;

/*
 * Runs the search.  Returns the final population, or NULL with a message in
 * err when the settings cannot be used (population below 4, a problem
 * without variables or objectives, NSGA-III directions beyond 100000), an
 * evaluation failed (its message), or memory ran out.
 */
moo_result *moo_run(const moo_problem *p, const moo_settings *s, char *err, size_t errlen);

/*
 * Writes into idx the indices of the result's feasible rank-0 members with
 * distinct objective vectors (the first of equal ones), in population order;
 * returns their count.  idx holds res->n entries.
 */
int moo_result_front(const moo_result *res, int *idx);

/* Frees a result; NULL is fine. */
void moo_result_free(moo_result *res);

/* --- quality indicators ------------------------------------------------------ */

/*
 * Hypervolume of the n points f (m = 2 or 3 objectives, minimised) bounded by
 * the reference point ref: the measure of the region each point dominates
 * within [f, ref].  Points not strictly below ref in every objective add
 * nothing.  Exact.  Returns -1 when scratch memory cannot be allocated.
 */
double moo_hypervolume(int n, int m, const double *f, const double *ref);

/*
 * Inverted generational distance: the mean, over the nref points of a
 * reference front, of the Euclidean distance to the nearest of the n points
 * of f (m objectives).  n >= 1.
 */
double moo_igd(int n, int m, const double *f, int nref, const double *ref);

#endif
