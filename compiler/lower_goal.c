/*
 * lower_goal.c — objectives (`maximize accuracy; minimize macs;`) and
 * targets (`macs <= 2M; latency <= 1.5ms;`): metric names, units, and
 * constraints that no subnet could meet together.
 */
#include "compiler/cc_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cc_metric(cc_ctx *c, const char *word, lang_loc loc)
{
	for (int i = 0; i < IR_METRIC_COUNT; i++)
		if (!strcmp(ir_metric_names[i], word))
			return i;
	cc_error_suggest(c, loc, word, ir_metric_names, IR_METRIC_COUNT,
			 "unknown metric '%s' (metrics: accuracy, macs, params, latency, memory)",
			 word);
	return -1;
}

/*
 * What objectives and targets share: each is lowered once and at once (it
 * names no other declaration, so there is no cycle to guard), cannot be
 * derived with `from`, must not be empty, and fails (index -1) when any
 * diagnostic came from it.  read_body() claims the declaration's slot in its
 * list, fills it from the body and returns its index; a_kind ("an
 * objective") and missing ("goals (add ...)") word the messages.
 */
static int cc_lower_goals(cc_ctx *c, cc_sym *sym, const char *a_kind, const char *missing,
			  int (*read_body)(cc_ctx *, const ast_decl *))
{
	if (sym->state != CC_SYM_NEW)
		return sym->index;
	sym->state = CC_SYM_DONE;
	const ast_decl *dc = sym->decl;
	int errors = c->d->nerrors;
	if (dc->from)
		lang_error(c->d, dc->from->loc, "%s cannot be derived with 'from'", a_kind);
	sym->index = read_body(c, dc);
	if (dc->nbody == 0)
		lang_error(c->d, dc->name_loc, "%s '%s' has no %s", ast_decl_kind_names[dc->kind],
			   dc->name, missing);
	if (c->d->nerrors != errors)
		sym->index = -1;
	return sym->index;
}

static int cc_objective_read(cc_ctx *c, const ast_decl *dc)
{
	ir_objective *o = &c->m->objectives[c->m->nobjectives];
	int index = c->m->nobjectives++;
	o->name = cc_xstrdup(dc->name);
	o->metrics = cc_xcalloc((size_t)dc->nbody + 1, sizeof *o->metrics);
	o->maximize = cc_xcalloc((size_t)dc->nbody + 1, sizeof *o->maximize);
	const ast_stmt *seen[IR_METRIC_COUNT] = {0};
	for (int i = 0; i < dc->nbody; i++) {
		const ast_stmt *s = dc->body[i];
		if (s->kind != AST_STMT_GOAL) {
			lang_error(c->d, s->loc,
				   "an objective holds only 'maximize METRIC;' and 'minimize METRIC;'");
			continue;
		}
		int k = cc_metric(c, s->key, s->key_loc);
		if (k < 0)
			continue;
		if (seen[k]) {
			lang_error(c->d, s->key_loc, "metric '%s' appears twice in objective '%s'",
				   s->key, dc->name);
			lang_note(c->d, seen[k]->key_loc, "first given here");
			continue;
		}
		seen[k] = s;
		o->metrics[o->nterms] = (ir_metric)k;
		o->maximize[o->nterms] = s->maximize;
		o->nterms++;
	}
	return index;
}

int cc_lower_objective(cc_ctx *c, cc_sym *sym)
{
	return cc_lower_goals(c, sym, "an objective", "goals (add 'maximize accuracy;')",
			      cc_objective_read);
}

/* Checks that a constraint's number is written in the metric's unit. */
static int cc_constraint_unit(cc_ctx *c, ir_metric k, const ast_expr *e, double *out)
{
	if (e->kind != AST_EXPR_NUMBER) {
		lang_error(c->d, e->loc, "expected a number for '%s', got %s", ir_metric_names[k],
			   cc_expr_what(e));
		return -1;
	}
	const char *t = e->text ? e->text : "?";
	ast_unit u = e->unit;
	switch (k) {
	case IR_METRIC_ACCURACY:
		if (u != AST_UNIT_NONE && u != AST_UNIT_PERCENT) {
			lang_error(c->d, e->loc, "accuracy takes a percentage or a fraction, not %s ('%s')",
				   ast_unit_names[u], t);
			return -1;
		}
		if (e->number > 1) {
			lang_error(c->d, e->loc, "accuracy %s is above 100%%; write a percentage such as 90%%",
				   t);
			return -1;
		}
		break;
	case IR_METRIC_MACS:
	case IR_METRIC_PARAMS:
		if (u != AST_UNIT_NONE) {
			lang_error(c->d, e->loc, "%s is a count, not %s ('%s'); write e.g. 2M",
				   ir_metric_names[k], ast_unit_names[u], t);
			return -1;
		}
		break;
	case IR_METRIC_LATENCY:
		if (u != AST_UNIT_SECONDS) {
			lang_error(c->d, e->loc, "latency needs a time unit (s, ms, us), but '%s' has %s",
				   t, u == AST_UNIT_NONE ? "none" : ast_unit_names[u]);
			return -1;
		}
		break;
	case IR_METRIC_MEMORY:
		if (u != AST_UNIT_NONE && u != AST_UNIT_BYTES) {
			lang_error(c->d, e->loc, "memory is in bytes, not %s ('%s'); write e.g. 64KiB",
				   ast_unit_names[u], t);
			return -1;
		}
		break;
	case IR_METRIC_COUNT:
		return -1;
	}
	if (e->number < 0) {
		lang_error(c->d, e->loc, "%s cannot be negative ('%s')", ir_metric_names[k], t);
		return -1;
	}
	/* 800us is 800 * 1e-6 = 0.0007999999999999999 in binary: round to 15
	 * digits so that equal quantities written in other units (0.8ms)
	 * lower to the same bits, and the same id. */
	char buf[40];
	snprintf(buf, sizeof buf, "%.15g", e->number);
	*out = strtod(buf, NULL);
	return 0;
}

/* The interval a constraint allows. */
typedef struct cc_bound {
	double lo, hi;
	int lo_open, hi_open, has_lo, has_hi;
} cc_bound;

static cc_bound cc_bound_of(ir_cmp cmp, double v)
{
	cc_bound b = {0};
	b.has_lo = cmp == IR_CMP_GE || cmp == IR_CMP_GT || cmp == IR_CMP_EQ;
	b.has_hi = cmp == IR_CMP_LE || cmp == IR_CMP_LT || cmp == IR_CMP_EQ;
	b.lo = b.hi = v;
	b.lo_open = cmp == IR_CMP_GT;
	b.hi_open = cmp == IR_CMP_LT;
	return b;
}

/* True when no value satisfies both. */
static int cc_disjoint(cc_bound a, cc_bound b)
{
	const cc_bound *lo = a.has_lo ? &a : NULL, *hi = b.has_hi ? &b : NULL;
	for (int pass = 0; pass < 2; pass++) {
		if (lo && hi) {
			if (lo->lo > hi->hi)
				return 1;
			if (lo->lo == hi->hi && (lo->lo_open || hi->hi_open))
				return 1;
		}
		lo = b.has_lo ? &b : NULL;
		hi = a.has_hi ? &a : NULL;
	}
	return 0;
}

static ir_cmp cc_cmp_of(ast_op op)
{
	switch (op) {
	case AST_OP_LE:
		return IR_CMP_LE;
	case AST_OP_LT:
		return IR_CMP_LT;
	case AST_OP_GE:
		return IR_CMP_GE;
	case AST_OP_GT:
		return IR_CMP_GT;
	default:
		return IR_CMP_EQ;
	}
}

static int cc_target_read(cc_ctx *c, const ast_decl *dc)
{
	ir_target *t = &c->m->targets[c->m->ntargets];
	int index = c->m->ntargets++;
	t->name = cc_xstrdup(dc->name);
	t->constraints = cc_xcalloc((size_t)dc->nbody + 1, sizeof *t->constraints);
	const ast_stmt **src = cc_xcalloc((size_t)dc->nbody + 1, sizeof *src);
	for (int i = 0; i < dc->nbody; i++) {
		const ast_stmt *s = dc->body[i];
		if (s->kind != AST_STMT_PROP || s->op == AST_OP_IN || s->op == AST_OP_ASSIGN ||
		    s->shared) {
			if (s->kind == AST_STMT_PROP && s->op == AST_OP_ASSIGN)
				lang_error(c->d, s->loc, "'=' is not a comparison: write '%s <= ...' or '%s == ...'",
					   s->key, s->key);
			else
				lang_error(c->d, s->loc,
					   "a target holds constraints such as 'macs <= 2M;'");
			continue;
		}
		int k = cc_metric(c, s->key, s->key_loc);
		double v;
		if (k < 0 || cc_constraint_unit(c, (ir_metric)k, s->value, &v) < 0)
			continue;
		ir_constraint nc = {(ir_metric)k, cc_cmp_of(s->op), v};
		/* each metric is at least 0, accuracy at most 100% */
		cc_bound range = {.lo = 0, .has_lo = 1, .hi = 1, .has_hi = k == IR_METRIC_ACCURACY};
		if (cc_disjoint(range, cc_bound_of(nc.cmp, nc.value))) {
			lang_error(c->d, s->loc, "no subnet has %s %s %s: %s is %s", s->key,
				   ir_cmp_names[nc.cmp], s->value->text, s->key,
				   k == IR_METRIC_ACCURACY ? "between 0 and 100%" : "never below 0");
			continue;
		}
		int bad = 0;
		for (int j = 0; j < t->nconstraints && !bad; j++) {
			const ir_constraint *p = &t->constraints[j];
			if (p->metric != nc.metric)
				continue;
			if (p->cmp == nc.cmp) {
				lang_error(c->d, s->loc, "'%s %s' is constrained twice in target '%s'",
					   s->key, ast_op_names[s->op], dc->name);
				lang_note(c->d, src[j]->loc, "first given here");
				bad = 1;
			} else if (cc_disjoint(cc_bound_of(p->cmp, p->value),
					       cc_bound_of(nc.cmp, nc.value))) {
				lang_error(c->d, s->loc,
					   "contradictory constraints: no subnet has %s %s %s and %s %s %s",
					   s->key, ir_cmp_names[p->cmp], src[j]->value->text,
					   s->key, ir_cmp_names[nc.cmp], s->value->text);
				lang_note(c->d, src[j]->loc, "the other constraint is here");
				bad = 1;
			}
		}
		if (bad)
			continue;
		src[t->nconstraints] = s;
		t->constraints[t->nconstraints++] = nc;
	}
	free(src);
	return index;
}

int cc_lower_target(cc_ctx *c, cc_sym *sym)
{
	return cc_lower_goals(c, sym, "a target", "constraints (add e.g. 'macs <= 2M;')",
			      cc_target_read);
}
