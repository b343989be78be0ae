/*
 * search.h — multi-objective search over the subnets of a space, driven by
 * an accuracy predictor, the exact cost model and the host's latency table,
 * under a spec's constraints; and the choice of one answer among candidates
 * (an archive of measured subnets).  Prefix: search_.
 *
 * Metrics are in ir.h units (accuracy a fraction, latency seconds, memory
 * bytes).  A metric no source provides (accuracy without a predictor,
 * latency without a table) is NAN.
 *
 * Constraint violation.  Targets mix units (2M MACs, 1.5 ms, 90%), so each
 * constraint's violation is relative to its bound: for v <= b (and v < b),
 * max(0, (v - b) / |b|); for >= and >, max(0, (b - v) / |b|); for ==,
 * |v - b| / |b| (|b| taken as 1 when b == 0).  A subnet meets a spec when
 * the sum is 0: strict comparisons are treated as their non-strict forms,
 * since a subnet's metrics rarely sit exactly on a bound.
 */
#ifndef ARCHD_RUNTIME_SEARCH_H
#define ARCHD_RUNTIME_SEARCH_H

#include <stddef.h>

#include "compiler/ir.h"
#include "runtime/latency.h"
#include "runtime/moo.h"
#include "runtime/predictor.h"
#include "runtime/subnet.h"

/* What a search evaluates subnets with; the pointers are borrowed. */
typedef struct search_ctx {
	const ir_space *space; /* checked (sn_space_check) */
	int nclasses;
	const pred_model *predictor; /* accuracy; NULL: not available */
	const lat_table *lut;        /* latency; NULL: not available */
	int in_res;                  /* side of the images the subnets are fed */
} search_ctx;

/* One subnet's metrics, indexed by ir_metric. */
typedef struct search_eval {
	double v[IR_METRIC_COUNT];
} search_eval;

/*
 * Fills *out for subnet sub.  `plan` is scratch (a search reuses one).
 * Returns 0, or -1 with a message in err when the latency table lacks a
 * layer of this subnet (then latency is NAN and the rest is filled).
 */
int search_evaluate(const search_ctx *c, const sn_subnet *sub, sn_plan *plan, search_eval *out,
		    char *err, size_t errlen);

/* Relative total violation of n constraints (see above); a NAN metric that
 * a constraint reads counts as violating it by 1. */
double search_violation(const search_eval *e, const ir_constraint *cons, int n);

/* The result of search_run, owned by the caller (search_result_free). */
typedef struct search_result {
	int n;              /* members: distinct subnets */
	sn_subnet *subs;
	search_eval *evals;
	int feasible;       /* 1: the members meet the constraints and are the
	                       non-dominated ones found; 0: nothing found met
	                       them and the one member is the least violating */
	long evaluations;
	moo_algo algo;
} search_result;

/*
 * Searches the space for the subnets that are best under objective `obj`
 * (its terms; maximised ones are negated for the search) and meet the n
 * constraints, with NSGA-II/III over the genes (categorical operators),
 * seeded with `seeds` (may be NULL) such as an archive's members.  Returns
 * the result, or NULL with a message in err: an objective term or a
 * constraint reads a metric no source provides (naming it), an objective
 * with no terms, a failed evaluation, or the moo_run refusals.
 */
search_result *search_run(const search_ctx *c, const ir_objective *obj,
			  const ir_constraint *cons, int ncons, const moo_settings *ms,
			  const sn_subnet *seeds, int nseeds, char *err, size_t errlen);

void search_result_free(search_result *r);

/*
 * The answer to a spec among n candidates (e.g. an archive's measured
 * subnets): of those meeting the constraints, the best by the objective's
 * terms taken in order (the first decides, the next break ties).  Returns
 * its index, or -1 when none meets them; then, when n > 0, *nearest is the
 * candidate with the least violation and *tightest the index (into cons) of
 * the constraint it misses by the most; both -1 otherwise.
 */
int search_pick(const search_eval *cands, int n, const ir_objective *obj,
		const ir_constraint *cons, int ncons, int *nearest, int *tightest);

#endif
