/*
 * moo.c — constraint domination, non-dominated sorting, crowding distance
 * and the NSGA-II / NSGA-III generation loop (NSGA-III's survival is in
 * moo_nsga3.c, the operators in moo_ops.c).
 */
#include "runtime/moo.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/moo_priv.h"

const char *const moo_algo_names[MOO_ALGO_COUNT] = { "auto", "nsga2", "nsga3" };
_Static_assert(MOO_ALGO_COUNT == 3, "moo_algo_names");

/* Re-mutations of a categorical child that duplicates an earlier solution. */
#define DUP_RETRIES 8
/* The most NSGA-III directions a run may use: its cost grows with them. */
#define MAX_DIRECTIONS 100000

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int moo_dominates(const double *fa, double cva, const double *fb, double cvb, int m)
{
	if (cva > 0 || cvb > 0)
		return cva < cvb;
	int better = 0;
	for (int j = 0; j < m; j++) {
		if (fa[j] > fb[j])
			return 0;
		if (fa[j] < fb[j])
			better = 1;
	}
	return better;
}

int moo_nondominated_sort(int n, int m, const double *f, const double *cv, int *rank)
{
	if (n == 0)
		return 0;
	/* dom: row i has bit j set when i dominates j.  count[i]: how many
	 * solutions not yet ranked dominate i. */
	size_t words = ((size_t)n + 63) / 64;
	uint64_t *dom = calloc((size_t)n * words, sizeof(*dom));
	int *count = calloc((size_t)n, sizeof(*count));
	int *cur = malloc((size_t)n * sizeof(*cur));
	int *next = malloc((size_t)n * sizeof(*next));
	if (!dom || !count || !cur || !next) {
		free(dom);
		free(count);
		free(cur);
		free(next);
		return -1;
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			double ci = cv ? cv[i] : 0, cj = cv ? cv[j] : 0;
			if (moo_dominates(f + (size_t)i * m, ci, f + (size_t)j * m, cj, m)) {
				dom[(size_t)i * words + (size_t)j / 64] |= 1ull << (j % 64);
				count[j]++;
			} else if (moo_dominates(f + (size_t)j * m, cj, f + (size_t)i * m, ci, m)) {
				dom[(size_t)j * words + (size_t)i / 64] |= 1ull << (i % 64);
				count[i]++;
			}
		}
	int ncur = 0;
	for (int i = 0; i < n; i++)
		if (count[i] == 0) {
			rank[i] = 0;
			cur[ncur++] = i;
		}
	int fronts = 0;
	while (ncur > 0) {
		fronts++;
		int nnext = 0;
		for (int a = 0; a < ncur; a++) {
			const uint64_t *row = dom + (size_t)cur[a] * words;
			for (size_t w = 0; w < words; w++)
				for (uint64_t bits = row[w]; bits; bits &= bits - 1) {
					int j = (int)(w * 64) + __builtin_ctzll(bits);
					if (--count[j] == 0) {
						rank[j] = fronts;
						next[nnext++] = j;
					}
				}
		}
		int *t = cur;
		cur = next;
		next = t;
		ncur = nnext;
	}
	free(dom);
	free(count);
	free(cur);
	free(next);
	return fronts;
}

int moo_crowding(int m, const double *f, const int *idx, int k, double *dist)
{
	for (int a = 0; a < k; a++)
		dist[a] = 0;
	if (k <= 2) {
		for (int a = 0; a < k; a++)
			dist[a] = INFINITY;
		return 0;
	}
	/* order: positions 0..k-1 into idx; key: objective j by position. */
	int *order = malloc((size_t)k * sizeof(*order));
	int *tmp = malloc((size_t)k * sizeof(*tmp));
	double *key = malloc((size_t)k * sizeof(*key));
	if (!order || !tmp || !key) {
		free(order);
		free(tmp);
		free(key);
		return -1;
	}
	for (int j = 0; j < m; j++) {
		for (int a = 0; a < k; a++) {
			order[a] = a;
			key[a] = f[(size_t)idx[a] * m + j];
		}
		moo_sort_by_key(order, k, key, tmp);
		double lo = key[order[0]], hi = key[order[k - 1]];
		dist[order[0]] = dist[order[k - 1]] = INFINITY;
		if (hi <= lo)
			continue;
		for (int a = 1; a < k - 1; a++)
			dist[order[a]] += (key[order[a + 1]] - key[order[a - 1]]) / (hi - lo);
	}
	free(order);
	free(tmp);
	free(key);
	return 0;
}

void moo_settings_init(moo_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->algo = MOO_ALGO_AUTO;
	s->pop = 100;
	s->generations = 100;
	s->seed = 1;
	s->crossover = 0.9;
	s->eta_c = 15;
	s->eta_m = 20;
	s->mutation = 0;
	s->divisions = 0;
}

void moo_result_free(moo_result *res)
{
	if (!res)
		return;
	free(res->x);
	free(res->f);
	free(res->cv);
	free(res->rank);
	free(res);
}

int moo_result_front(const moo_result *res, int *idx)
{
	int k = 0;
	for (int i = 0; i < res->n; i++) {
		if (res->rank[i] != 0 || res->cv[i] > 0)
			continue;
		int dup = 0;
		for (int a = 0; a < k && !dup; a++)
			dup = memcmp(res->f + (size_t)idx[a] * res->nobj, res->f + (size_t)i * res->nobj,
				     (size_t)res->nobj * sizeof(double)) == 0;
		if (!dup)
			idx[k++] = i;
	}
	return k;
}

/* --- the generation loop ------------------------------------------------------- */

/* Everything one run owns: room for parents and offspring (2 * pop rows). */
typedef struct run {
	const moo_problem *p;
	const moo_settings *s;
	moo_algo algo;
	int pop, nv, m;
	double pm; /* per-variable mutation probability */
	rt_rng rng;
	double *x, *f, *cv;       /* 2 * pop rows */
	int *rank;                /* 2 * pop */
	double *crowd;            /* pop: NSGA-II tournament key of parents */
	int *chosen, *itmp;       /* 2 * pop */
	double *xs, *fs, *cvs;    /* compaction scratch, pop rows */
	moo_nsga3 n3;
	long evals;
	char *err;
	size_t errlen;
} run;

static int evaluate(run *R, int i)
{
	double *f = R->f + (size_t)i * R->m;
	double cv = 0;
	if (R->p->evaluate(R->p->ctx, R->x + (size_t)i * R->nv, f, &cv, R->err, R->errlen) != 0)
		return -1;
	/* A NaN has no place in any order the search relies on. */
	for (int j = 0; j < R->m; j++)
		if (isnan(f[j])) {
			seterr(R->err, R->errlen, "evaluation %ld: objective %d is not a number",
			       R->evals, j);
			return -1;
		}
	if (isnan(cv)) {
		seterr(R->err, R->errlen, "evaluation %ld: the constraint violation is not a number",
		       R->evals);
		return -1;
	}
	R->cv[i] = cv > 0 ? cv : 0;
	R->evals++;
	return 0;
}

/* Checks one starting solution; returns 0 or -1 with a message. */
static int seed_ok(const run *R, int row, const double *x)
{
	for (int i = 0; i < R->nv; i++) {
		int ok = R->p->ncat ? x[i] == floor(x[i]) && x[i] >= 0 && x[i] < R->p->ncat[i]
				    : x[i] >= R->p->lower[i] && x[i] <= R->p->upper[i];
		if (!ok) {
			seterr(R->err, R->errlen, "starting solution %d: variable %d = %g is out of range",
			       row, i, x[i]);
			return -1;
		}
	}
	return 0;
}

static int initial_population(run *R)
{
	const moo_problem *p = R->p;
	for (int i = 0; i < R->pop; i++) {
		double *x = R->x + (size_t)i * R->nv;
		if (i < p->nseed) {
			memcpy(x, p->seed_x + (size_t)i * R->nv, (size_t)R->nv * sizeof(double));
			if (seed_ok(R, i, x) != 0)
				return -1;
		} else {
			for (int v = 0; v < R->nv; v++)
				x[v] = p->ncat ? (double)rt_rng_below(&R->rng, (uint64_t)p->ncat[v])
					       : p->lower[v] + rt_rng_uniform(&R->rng) *
								(p->upper[v] - p->lower[v]);
		}
		if (evaluate(R, i) != 0)
			return -1;
	}
	return 0;
}

/* Binary tournament among the parents.  NSGA-II: lower rank, then larger
 * crowding distance.  NSGA-III: constraint domination decides only between
 * feasible and infeasible (or two infeasible), else a coin. */
static int tournament(run *R)
{
	int a = (int)rt_rng_below(&R->rng, (uint64_t)R->pop);
	int b = (int)rt_rng_below(&R->rng, (uint64_t)R->pop);
	if (R->algo == MOO_ALGO_NSGA2) {
		if (R->rank[a] != R->rank[b])
			return R->rank[a] < R->rank[b] ? a : b;
		if (R->crowd[a] != R->crowd[b])
			return R->crowd[a] > R->crowd[b] ? a : b;
	} else if (R->cv[a] > 0 || R->cv[b] > 0) {
		if (R->cv[a] != R->cv[b])
			return R->cv[a] < R->cv[b] ? a : b;
	}
	return rt_rng_uniform(&R->rng) < 0.5 ? a : b;
}

/* 1 when x equals one of rows 0..row-1 (parents and earlier children). */
static int seen(const run *R, const double *x, int row)
{
	for (int r = 0; r < row; r++)
		if (memcmp(R->x + (size_t)r * R->nv, x, (size_t)R->nv * sizeof(double)) == 0)
			return 1;
	return 0;
}

/* Fills rows pop..2*pop-1 with evaluated offspring of the parents. */
static int make_offspring(run *R)
{
	const moo_problem *p = R->p;
	int nv = R->nv;
	for (int i = R->pop; i < 2 * R->pop; i += 2) {
		const double *p1 = R->x + (size_t)tournament(R) * nv;
		const double *p2 = R->x + (size_t)tournament(R) * nv;
		double *c1 = R->x + (size_t)i * nv;
		/* With an odd population the last pair's second child has no
		 * row: it goes to scratch and is dropped. */
		double *c2 = i + 1 < 2 * R->pop ? c1 + nv : R->xs;
		if (rt_rng_uniform(&R->rng) < R->s->crossover) {
			if (p->ncat)
				moo_uniform_crossover(&R->rng, nv, p1, p2, c1, c2);
			else
				moo_sbx(&R->rng, nv, p->lower, p->upper, R->s->eta_c, p1, p2, c1, c2);
		} else {
			memcpy(c1, p1, (size_t)nv * sizeof(double));
			memcpy(c2, p2, (size_t)nv * sizeof(double));
		}
		for (int c = 0; c < 2; c++) {
			double *x = c ? c2 : c1;
			if (!p->ncat) {
				moo_polynomial_mutation(&R->rng, nv, p->lower, p->upper, R->s->eta_m,
							R->pm, x);
				continue;
			}
			moo_resample_mutation(&R->rng, nv, p->ncat, R->pm, x);
			/* A categorical child equal to a parent or an earlier child
			 * costs an evaluation and adds nothing: mutate it again, a
			 * bounded number of times (a small space may hold no new
			 * subnet at all). */
			int row = c ? i + 1 : i;
			for (int t = 0; t < DUP_RETRIES && seen(R, x, row); t++)
				moo_resample_mutation(&R->rng, nv, p->ncat, 1.0 / nv, x);
		}
		if (evaluate(R, i) != 0 || (i + 1 < 2 * R->pop && evaluate(R, i + 1) != 0))
			return -1;
	}
	return 0;
}

/* NSGA-II survival: whole fronts, then the most crowded-apart of the front
 * that does not fit. */
static int nsga2_select(run *R, int n, int *chosen)
{
	int k = 0;
	for (int r = 0; k < R->pop; r++) {
		int first = k, cnt = 0;
		for (int i = 0; i < n; i++)
			if (R->rank[i] == r)
				chosen[k + cnt++] = i;
		if (k + cnt <= R->pop) {
			k += cnt;
			continue;
		}
		double *dist = malloc((size_t)cnt * sizeof(*dist));
		int *pos = malloc((size_t)cnt * sizeof(*pos));
		int *tmp = malloc((size_t)cnt * sizeof(*tmp));
		int *members = malloc((size_t)cnt * sizeof(*members));
		if (!dist || !pos || !tmp || !members ||
		    moo_crowding(R->m, R->f, chosen + first, cnt, dist) != 0) {
			free(dist);
			free(pos);
			free(tmp);
			free(members);
			return -1;
		}
		/* Largest distance first: sort positions by -dist. */
		for (int a = 0; a < cnt; a++) {
			pos[a] = a;
			members[a] = chosen[first + a];
			dist[a] = -dist[a];
		}
		moo_sort_by_key(pos, cnt, dist, tmp);
		for (int a = 0; k < R->pop; a++)
			chosen[k++] = members[pos[a]];
		free(dist);
		free(pos);
		free(tmp);
		free(members);
	}
	return 0;
}

/* Moves the chosen rows to 0..pop-1 and refreshes ranks and, for NSGA-II,
 * the crowding distance of each parent within its front. */
static int compact(run *R, const int *chosen)
{
	int nv = R->nv, m = R->m, pop = R->pop;
	for (int a = 0; a < pop; a++) {
		memcpy(R->xs + (size_t)a * nv, R->x + (size_t)chosen[a] * nv, (size_t)nv * sizeof(double));
		memcpy(R->fs + (size_t)a * m, R->f + (size_t)chosen[a] * m, (size_t)m * sizeof(double));
		R->cvs[a] = R->cv[chosen[a]];
		R->itmp[a] = R->rank[chosen[a]];
	}
	memcpy(R->x, R->xs, (size_t)pop * nv * sizeof(double));
	memcpy(R->f, R->fs, (size_t)pop * m * sizeof(double));
	memcpy(R->cv, R->cvs, (size_t)pop * sizeof(double));
	memcpy(R->rank, R->itmp, (size_t)pop * sizeof(int));
	if (R->algo != MOO_ALGO_NSGA2)
		return 0;
	/* Survivors of one front keep that front's rank: crowd each rank. */
	for (int r = 0;; r++) {
		int cnt = 0;
		for (int a = 0; a < pop; a++)
			if (R->rank[a] == r)
				R->chosen[cnt++] = a;
		if (cnt == 0)
			break;
		double *d = malloc((size_t)cnt * sizeof(*d));
		if (!d || moo_crowding(m, R->f, R->chosen, cnt, d) != 0) {
			free(d);
			return -1;
		}
		for (int a = 0; a < cnt; a++)
			R->crowd[R->chosen[a]] = d[a];
		free(d);
	}
	return 0;
}

static void run_free(run *R)
{
	free(R->x);
	free(R->f);
	free(R->cv);
	free(R->rank);
	free(R->crowd);
	free(R->chosen);
	free(R->itmp);
	free(R->xs);
	free(R->fs);
	free(R->cvs);
	moo_nsga3_free(&R->n3);
}

/* Checks the problem and settings; picks the algorithm, population and
 * NSGA-III divisions.  Returns 0 or -1 with a message. */
static int run_setup(run *R, int *divisions)
{
	const moo_problem *p = R->p;
	const moo_settings *s = R->s;
	if (p->nvar < 1 || p->nobj < 1 || !p->evaluate || (!p->ncat && (!p->lower || !p->upper))) {
		seterr(R->err, R->errlen, "a problem needs variables, objectives, bounds or "
					  "categories, and an evaluator (%d variables, %d objectives)",
		       p->nvar, p->nobj);
		return -1;
	}
	for (int i = 0; i < p->nvar; i++)
		if (p->ncat ? p->ncat[i] < 1 : !(p->lower[i] <= p->upper[i])) {
			seterr(R->err, R->errlen, "variable %d has an empty domain", i);
			return -1;
		}
	if (s->pop < 4 || s->generations < 0 || p->nseed < 0 || s->algo < 0 ||
	    s->algo >= MOO_ALGO_COUNT || s->divisions < 0 || p->nobj > 64) {
		seterr(R->err, R->errlen, "population %d (at least 4), %d generations, %d objectives "
					  "(at most 64): not a usable search",
		       s->pop, s->generations, p->nobj);
		return -1;
	}
	R->nv = p->nvar;
	R->m = p->nobj;
	R->algo = s->algo;
	if (R->algo == MOO_ALGO_AUTO)
		R->algo = p->nobj >= 4 ? MOO_ALGO_NSGA3 : MOO_ALGO_NSGA2;
	R->pop = s->pop;
	*divisions = 0;
	if (R->algo == MOO_ALGO_NSGA3) {
		int h = s->divisions;
		if (h == 0)
			for (h = 1; moo_das_dennis_count(R->m, h + 1) >= 0 &&
				    moo_das_dennis_count(R->m, h + 1) <= s->pop;
			     h++)
				;
		long nd = moo_das_dennis_count(R->m, h);
		if (nd < 0 || nd > MAX_DIRECTIONS) {
			seterr(R->err, R->errlen, "%d objectives with %d divisions make more than %d "
						  "reference directions",
			       R->m, h, MAX_DIRECTIONS);
			return -1;
		}
		if (R->pop < nd)
			R->pop = (int)nd;
		*divisions = h;
	}
	if (p->nseed > R->pop) {
		seterr(R->err, R->errlen, "%d starting solutions for a population of %d", p->nseed,
		       R->pop);
		return -1;
	}
	R->pm = s->mutation > 0 ? s->mutation : 1.0 / R->nv;
	return 0;
}

static int run_alloc(run *R, int divisions)
{
	size_t n2 = 2 * (size_t)R->pop;
	R->x = malloc(n2 * R->nv * sizeof(double));
	R->f = malloc(n2 * R->m * sizeof(double));
	R->cv = malloc(n2 * sizeof(double));
	R->rank = calloc(n2, sizeof(int));
	R->crowd = calloc(n2, sizeof(double));
	R->chosen = malloc(n2 * sizeof(int));
	R->itmp = malloc(n2 * sizeof(int));
	R->xs = malloc((size_t)R->pop * R->nv * sizeof(double));
	R->fs = malloc((size_t)R->pop * R->m * sizeof(double));
	R->cvs = malloc((size_t)R->pop * sizeof(double));
	if (!R->x || !R->f || !R->cv || !R->rank || !R->crowd || !R->chosen || !R->itmp ||
	    !R->xs || !R->fs || !R->cvs)
		return -1;
	if (R->algo == MOO_ALGO_NSGA3 && moo_nsga3_init(&R->n3, R->m, divisions) != 0)
		return -1;
	return 0;
}

static moo_result *take_result(run *R)
{
	moo_result *res = calloc(1, sizeof(*res));
	if (!res)
		return NULL;
	res->n = R->pop;
	res->nvar = R->nv;
	res->nobj = R->m;
	res->x = R->x;
	res->f = R->f;
	res->cv = R->cv;
	res->rank = R->rank;
	res->algo = R->algo;
	res->evaluations = R->evals;
	R->x = NULL;
	R->f = NULL;
	R->cv = NULL;
	R->rank = NULL;
	return res;
}

moo_result *moo_run(const moo_problem *p, const moo_settings *s, char *err, size_t errlen)
{
	run R;
	memset(&R, 0, sizeof(R));
	R.p = p;
	R.s = s;
	R.err = err;
	R.errlen = errlen;
	int divisions;
	if (run_setup(&R, &divisions) != 0)
		return NULL;
	rt_rng_seed(&R.rng, s->seed);
	if (run_alloc(&R, divisions) != 0) {
		seterr(err, errlen, "out of memory for a population of %d", R.pop);
		run_free(&R);
		return NULL;
	}
	int oom = 0;
	if (initial_population(&R) != 0)
		goto fail;
	for (int a = 0; a < R.pop; a++)
		R.chosen[a] = a;
	if (moo_nondominated_sort(R.pop, R.m, R.f, R.cv, R.rank) < 0 || compact(&R, R.chosen) != 0) {
		oom = 1;
		goto fail;
	}
	for (int g = 0; g < s->generations; g++) {
		if (make_offspring(&R) != 0)
			goto fail;
		int n = 2 * R.pop;
		if (moo_nondominated_sort(n, R.m, R.f, R.cv, R.rank) < 0) {
			oom = 1;
			goto fail;
		}
		int rc = R.algo == MOO_ALGO_NSGA2
				 ? nsga2_select(&R, n, R.chosen)
				 : moo_nsga3_select(&R.n3, &R.rng, n, R.f, R.rank, R.pop, R.chosen);
		if (rc != 0 || compact(&R, R.chosen) != 0) {
			oom = 1;
			goto fail;
		}
	}
	moo_result *res = take_result(&R);
	if (!res) {
		oom = 1;
		goto fail;
	}
	run_free(&R);
	return res;
fail:
	if (oom)
		seterr(err, errlen, "out of memory during the search");
	run_free(&R);
	return NULL;
}
