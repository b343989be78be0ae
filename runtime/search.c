/*
 * search.c — a spec's search over a space's subnets (NSGA-II/III of moo.h
 * over the genes, metrics from the predictor, cost.h and latency.h) and the
 * choice of one answer among candidates.
 */
#include "runtime/search.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cost.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* search_evaluate with the caller's encoding buffer x (predictor width). */
static int evaluate_into(const search_ctx *c, const sn_subnet *sub, sn_plan *plan, double *x,
			 search_eval *out, char *err, size_t errlen)
{
	search_metrics m;
	search_metrics_compute(c->space, c->nclasses, sub, plan, &m);
	out->v[IR_METRIC_MACS] = m.macs;
	out->v[IR_METRIC_PARAMS] = m.params;
	out->v[IR_METRIC_MEMORY] = m.memory;
	out->v[IR_METRIC_ACCURACY] = NAN;
	out->v[IR_METRIC_LATENCY] = NAN;
	if (c->predictor) {
		pred_encode(c->space, sub, x);
		out->v[IR_METRIC_ACCURACY] = pred_predict(c->predictor, x);
	}
	if (c->lut) {
		double sec;
		if (lat_predict(c->lut, c->space, plan, c->in_res, &sec) != 0) {
			char genes[SN_GENE_STRLEN];
			sn_subnet_format(c->space, sub, genes, sizeof(genes));
			seterr(err, errlen, "the latency table lacks layers of subnet %s", genes);
			return -1;
		}
		out->v[IR_METRIC_LATENCY] = sec;
	}
	return 0;
}

int search_evaluate(const search_ctx *c, const sn_subnet *sub, sn_plan *plan, search_eval *out,
		    char *err, size_t errlen)
{
	double *x = NULL;
	if (c->predictor) {
		x = malloc((size_t)pred_encode_width(c->space) * sizeof(double));
		if (!x) {
			seterr(err, errlen, "out of memory");
			return -1;
		}
	}
	int rc = evaluate_into(c, sub, plan, x, out, err, errlen);
	free(x);
	return rc;
}

double search_violation(const search_eval *e, const ir_constraint *cons, int n)
{
	double total = 0;
	for (int i = 0; i < n; i++) {
		double v = e->v[cons[i].metric], b = cons[i].value;
		double scale = b != 0 ? fabs(b) : 1, d;
		if (isnan(v)) {
			total += 1;
			continue;
		}
		switch (cons[i].cmp) {
		case IR_CMP_LE:
		case IR_CMP_LT:
			d = (v - b) / scale;
			break;
		case IR_CMP_GE:
		case IR_CMP_GT:
			d = (b - v) / scale;
			break;
		case IR_CMP_EQ:
		default:
			d = fabs(v - b) / scale;
			break;
		}
		total += d > 0 ? d : 0;
	}
	return total;
}

/* The violation of constraint i alone. */
static double one_violation(const search_eval *e, const ir_constraint *cons, int i)
{
	return search_violation(e, cons + i, 1);
}

/* What the evaluator callback needs. */
typedef struct run_ctx {
	const search_ctx *c;
	const ir_objective *obj;
	const ir_constraint *cons;
	int ncons;
	sn_plan *plan;
	double *x;
} run_ctx;

static void to_subnet(const ir_space *s, const double *x, sn_subnet *sub)
{
	memset(sub, 0, sizeof(*sub));
	sub->ngenes = s->ngenes;
	for (int i = 0; i < s->ngenes; i++)
		sub->g[i] = (uint8_t)x[i];
}

static int eval_cb(void *ctx, const double *x, double *f, double *cv, char *err, size_t errlen)
{
	run_ctx *r = ctx;
	sn_subnet sub;
	search_eval e;
	to_subnet(r->c->space, x, &sub);
	if (evaluate_into(r->c, &sub, r->plan, r->x, &e, err, errlen) != 0)
		return -1;
	for (int j = 0; j < r->obj->nterms; j++) {
		double v = e.v[r->obj->metrics[j]];
		f[j] = r->obj->maximize[j] ? -v : v;
	}
	*cv = search_violation(&e, r->cons, r->ncons);
	return 0;
}

/* Checks that every metric the objective and constraints read has a source. */
static int sources_ok(const search_ctx *c, const ir_objective *obj, const ir_constraint *cons,
		      int ncons, char *err, size_t errlen)
{
	if (obj->nterms < 1) {
		seterr(err, errlen, "objective %s has no terms", obj->name ? obj->name : "(unnamed)");
		return -1;
	}
	for (int i = 0; i < obj->nterms + ncons; i++) {
		ir_metric m = i < obj->nterms ? obj->metrics[i] : cons[i - obj->nterms].metric;
		if ((m == IR_METRIC_ACCURACY && !c->predictor) || (m == IR_METRIC_LATENCY && !c->lut)) {
			seterr(err, errlen, "%s is needed but there is no %s", ir_metric_names[m],
			       m == IR_METRIC_ACCURACY ? "accuracy predictor" : "latency table");
			return -1;
		}
	}
	if (c->predictor && pred_model_width(c->predictor) != pred_encode_width(c->space)) {
		seterr(err, errlen, "the predictor takes %d features, space %s encodes to %d",
		       pred_model_width(c->predictor), c->space->name, pred_encode_width(c->space));
		return -1;
	}
	return 0;
}

void search_result_free(search_result *r)
{
	if (!r)
		return;
	free(r->subs);
	free(r->evals);
	free(r);
}

/* The result's members: the feasible front, else the least violating. */
static search_result *collect(const moo_result *mr, run_ctx *rc, char *err, size_t errlen)
{
	const ir_space *s = rc->c->space;
	int *idx = malloc((size_t)mr->n * sizeof(int));
	search_result *res = calloc(1, sizeof(*res));
	if (!idx || !res) {
		free(idx);
		free(res);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	int k = moo_result_front(mr, idx);
	res->feasible = k > 0;
	if (k == 0) {
		idx[0] = 0;
		for (int i = 1; i < mr->n; i++)
			if (mr->cv[i] < mr->cv[idx[0]])
				idx[0] = i;
		k = 1;
	}
	res->n = k;
	res->evaluations = mr->evaluations;
	res->algo = mr->algo;
	res->subs = malloc((size_t)k * sizeof(sn_subnet));
	res->evals = malloc((size_t)k * sizeof(search_eval));
	if (!res->subs || !res->evals) {
		free(idx);
		search_result_free(res);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	for (int a = 0; a < k; a++) {
		to_subnet(s, mr->x + (size_t)idx[a] * mr->nvar, &res->subs[a]);
		if (evaluate_into(rc->c, &res->subs[a], rc->plan, rc->x, &res->evals[a], err, errlen) != 0) {
			free(idx);
			search_result_free(res);
			return NULL;
		}
	}
	free(idx);
	return res;
}

search_result *search_run(const search_ctx *c, const ir_objective *obj,
			  const ir_constraint *cons, int ncons, const moo_settings *ms,
			  const sn_subnet *seeds, int nseeds, char *err, size_t errlen)
{
	if (sources_ok(c, obj, cons, ncons, err, errlen) != 0)
		return NULL;
	const ir_space *s = c->space;
	int nv = s->ngenes;
	if (nv < 1) {
		seterr(err, errlen, "space %s has no genes: there is nothing to search", s->name);
		return NULL;
	}
	run_ctx rc = {.c = c, .obj = obj, .cons = cons, .ncons = ncons};
	int *ncat = malloc((size_t)nv * sizeof(int));
	double *sx = malloc(((size_t)nseeds * nv + 1) * sizeof(double));
	rc.plan = malloc(sizeof(*rc.plan));
	rc.x = malloc(((size_t)pred_encode_width(s) + 1) * sizeof(double));
	search_result *res = NULL;
	if (!ncat || !sx || !rc.plan || !rc.x) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < nv; i++)
		ncat[i] = s->genes[i].nvalues;
	for (int a = 0; a < nseeds; a++)
		for (int i = 0; i < nv; i++)
			sx[(size_t)a * nv + i] = seeds[a].g[i];
	moo_problem p = {.nvar = nv, .nobj = obj->nterms, .ncat = ncat, .evaluate = eval_cb,
			 .ctx = &rc, .nseed = nseeds, .seed_x = sx};
	moo_result *mr = moo_run(&p, ms, err, errlen);
	if (mr) {
		res = collect(mr, &rc, err, errlen);
		moo_result_free(mr);
	}
out:
	free(ncat);
	free(sx);
	free(rc.plan);
	free(rc.x);
	return res;
}

/* -1, 0, 1 as a is better than, as good as, worse than b under obj (NAN is
 * worst). */
static int compare(const search_eval *a, const search_eval *b, const ir_objective *obj)
{
	for (int j = 0; j < obj->nterms; j++) {
		double va = a->v[obj->metrics[j]], vb = b->v[obj->metrics[j]];
		if (isnan(va) || isnan(vb)) {
			if (isnan(va) != isnan(vb))
				return isnan(va) ? 1 : -1;
			continue;
		}
		if (va != vb)
			return (obj->maximize[j] ? va > vb : va < vb) ? -1 : 1;
	}
	return 0;
}

int search_pick(const search_eval *cands, int n, const ir_objective *obj,
		const ir_constraint *cons, int ncons, int *nearest, int *tightest)
{
	int best = -1, near = -1;
	double near_v = INFINITY;
	for (int i = 0; i < n; i++) {
		double v = search_violation(&cands[i], cons, ncons);
		if (v == 0 && (best < 0 || compare(&cands[i], &cands[best], obj) < 0))
			best = i;
		if (v < near_v) {
			near_v = v;
			near = i;
		}
	}
	*nearest = *tightest = -1;
	if (best >= 0 || near < 0)
		return best;
	*nearest = near;
	double worst = 0;
	for (int j = 0; j < ncons; j++) {
		double v = one_violation(&cands[near], cons, j);
		if (v > worst) {
			worst = v;
			*tightest = j;
		}
	}
	return -1;
}
