/*
 * cc_value.c — reading values out of the syntax tree.  Every reader checks
 * the kind, the unit and the range of what it reads and says exactly what
 * was expected at the offending token, then returns -1 so the caller can go
 * on and report more errors.
 */
#include "compiler/cc_priv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

/* Sets and ranges larger than this are surely a mistake (and would make
 * the gene table huge). */
#define CC_MAX_DOMAIN 1024

const char *cc_expr_what(const ast_expr *e)
{
	switch (e->kind) {
	case AST_EXPR_NUMBER:
		return e->unit == AST_UNIT_NONE ? "a number" : "a number with a unit";
	case AST_EXPR_STRING:
		return "a string";
	case AST_EXPR_BOOL:
		return "a boolean";
	case AST_EXPR_IDENT:
		return "a name";
	case AST_EXPR_SET:
		return "a set";
	case AST_EXPR_RANGE:
		return "a range";
	case AST_EXPR_CALL:
		return "a call";
	case AST_EXPR_WHERE:
		return "a filter";
	case AST_EXPR_COUNT:
		break;
	}
	return "a value";
}

void cc_error_suggest(cc_ctx *c, lang_loc loc, const char *word, const char *const *cands,
		      int n, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	const char *s = word ? lang_suggest(word, cands, n) : NULL;
	if (s)
		lang_error(c->d, loc, "%s; did you mean '%s'?", buf, s);
	else
		lang_error(c->d, loc, "%s", buf);
}

static int cc_plain_number(cc_ctx *c, const ast_expr *e, const char *what, const char *expect)
{
	if (e->kind != AST_EXPR_NUMBER) {
		lang_error(c->d, e->loc, "expected %s for '%s', got %s", expect, what,
			   cc_expr_what(e));
		return -1;
	}
	if (e->unit != AST_UNIT_NONE) {
		lang_error(c->d, e->loc, "'%s' takes a plain number, but '%s' has a unit", what,
			   e->text ? e->text : "?");
		return -1;
	}
	return 0;
}

int cc_int(cc_ctx *c, const ast_expr *e, const char *what, long min, long max, int *out)
{
	if (cc_plain_number(c, e, what, "an integer") < 0)
		return -1;
	if (!e->is_integer) {
		/* 1.5K is 1500, but 1.1K is not exactly 1100 in floating point:
		 * whole numbers are written as such */
		lang_error(c->d, e->loc,
			   "'%s' must be a whole number written without a fraction or exponent "
			   "(such as 1500 or 2K), got %s", what, e->text ? e->text : "a fraction");
		return -1;
	}
	if (e->number < (double)min || e->number > (double)max) {
		if (max >= 1000000000L)
			lang_error(c->d, e->loc, "'%s' must be at least %ld, got %.17g", what, min,
				   e->number);
		else
			lang_error(c->d, e->loc, "'%s' must be between %ld and %ld, got %.17g",
				   what, min, max, e->number);
		return -1;
	}
	*out = (int)e->number;
	return 0;
}

int cc_num(cc_ctx *c, const ast_expr *e, const char *what, double min, double max,
	   double *out)
{
	if (cc_plain_number(c, e, what, "a number") < 0)
		return -1;
	if (!(e->number >= min && e->number <= max)) {
		if (isinf(max))
			lang_error(c->d, e->loc, "'%s' must be at least %g, got %g", what, min,
				   e->number);
		else
			lang_error(c->d, e->loc, "'%s' must be between %g and %g, got %g", what,
				   min, max, e->number);
		return -1;
	}
	*out = e->number;
	return 0;
}

int cc_bool(cc_ctx *c, const ast_expr *e, const char *what, int *out)
{
	if (e->kind != AST_EXPR_BOOL) {
		lang_error(c->d, e->loc, "expected true or false for '%s', got %s", what,
			   cc_expr_what(e));
		return -1;
	}
	*out = e->boolean != 0;
	return 0;
}

int cc_string(cc_ctx *c, const ast_expr *e, const char *what, const char **out)
{
	if (e->kind != AST_EXPR_STRING) {
		lang_error(c->d, e->loc, "expected a string for '%s', got %s", what,
			   cc_expr_what(e));
		return -1;
	}
	if (!e->string[0]) {
		lang_error(c->d, e->loc, "'%s' must not be empty", what);
		return -1;
	}
	*out = e->string;
	return 0;
}

static void cc_list_names(char *buf, size_t cap, const char *const *names, int n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < n && k + 1 < cap; i++) {
		int w = snprintf(buf + k, cap - k, "%s%s", i ? (i == n - 1 ? " or " : ", ") : "",
				 names[i]);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

int cc_choice(cc_ctx *c, const ast_expr *e, const char *what, const char *const *names, int n)
{
	char list[256];
	cc_list_names(list, sizeof list, names, n);
	if (e->kind != AST_EXPR_IDENT) {
		lang_error(c->d, e->loc, "expected %s for '%s', got %s", list, what,
			   cc_expr_what(e));
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], e->string))
			return i;
	cc_error_suggest(c, e->loc, e->string, names, n, "unknown %s '%s' (expected %s)", what,
			 e->string, list);
	return -1;
}

static int cc_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int cc_set_domain(cc_ctx *c, const ast_expr *e, const char *what, long min, long max,
			 int **vals, int *n)
{
	if (e->nitems == 0) {
		lang_error(c->d, e->loc, "empty set for '%s': give at least one value", what);
		return -1;
	}
	if (e->nitems > CC_MAX_DOMAIN) {
		lang_error(c->d, e->loc, "too many values for '%s' (%d, at most %d)", what,
			   e->nitems, CC_MAX_DOMAIN);
		return -1;
	}
	int *v = cc_xmalloc((size_t)e->nitems * sizeof *v);
	int k = 0, bad = 0;
	for (int i = 0; i < e->nitems; i++) {
		int x;
		if (cc_int(c, e->items[i], what, min, max, &x) < 0) {
			bad = 1;
			continue;
		}
		for (int j = 0; j < k; j++)
			if (v[j] == x) {
				lang_error(c->d, e->items[i]->loc, "%d appears twice in the set for '%s'",
					   x, what);
				bad = 1;
			}
		v[k++] = x;
	}
	if (bad) {
		free(v);
		return -1;
	}
	qsort(v, (size_t)k, sizeof *v, cc_cmp_int);
	*vals = v;
	*n = k;
	return 0;
}

static int cc_range_domain(cc_ctx *c, const ast_expr *e, const char *what, long min, long max,
			   int **vals, int *n)
{
	int lo, hi, step = 1, bad = 0;
	bad |= cc_int(c, e->lo, what, min, max, &lo) < 0;
	bad |= cc_int(c, e->hi, what, min, max, &hi) < 0;
	if (e->step && cc_int(c, e->step, "step", -1000000000L, 1000000000L, &step) == 0 &&
	    step <= 0) {
		lang_error(c->d, e->step->loc, "the step of a range must be positive, got %d", step);
		bad = 1;
	} else if (e->step && e->step->kind != AST_EXPR_NUMBER) {
		bad = 1;
	}
	if (bad)
		return -1;
	if (lo > hi) {
		lang_error(c->d, e->loc, "empty range %d..%d for '%s': the first value is larger than the last",
			   lo, hi, what);
		return -1;
	}
	long count = ((long)hi - lo) / step + 1;
	if (count > CC_MAX_DOMAIN) {
		lang_error(c->d, e->loc, "too many values for '%s' (%ld, at most %d)", what, count,
			   CC_MAX_DOMAIN);
		return -1;
	}
	int *v = cc_xmalloc((size_t)count * sizeof *v);
	for (long i = 0; i < count; i++)
		v[i] = (int)(lo + i * step);
	*vals = v;
	*n = (int)count;
	return 0;
}

int cc_int_domain(cc_ctx *c, ast_op op, const ast_expr *e, const char *what, long min, long max,
		  int **vals, int *n)
{
	if (op == AST_OP_ASSIGN) {
		int x;
		if (cc_int(c, e, what, min, max, &x) < 0)
			return -1;
		*vals = cc_xmalloc(sizeof **vals);
		(*vals)[0] = x;
		*n = 1;
		return 0;
	}
	if (op != AST_OP_IN) {
		lang_error(c->d, e->loc, "'%s' takes '=' or 'in', not '%s'", what, ast_op_names[op]);
		return -1;
	}
	if (e->kind == AST_EXPR_SET)
		return cc_set_domain(c, e, what, min, max, vals, n);
	if (e->kind == AST_EXPR_RANGE)
		return cc_range_domain(c, e, what, min, max, vals, n);
	lang_error(c->d, e->loc, "'%s in' takes a set {a, b, ...} or a range lo..hi, got %s", what,
		   cc_expr_what(e));
	return -1;
}

static unsigned cc_stmt_form(const ast_stmt *s)
{
	switch (s->kind) {
	case AST_STMT_PROP:
		if (s->op == AST_OP_ASSIGN)
			return CC_F_ASSIGN;
		if (s->op == AST_OP_IN)
			return CC_F_IN;
		return 0;
	case AST_STMT_CLAUSE:
		return CC_F_CLAUSE;
	case AST_STMT_BLOCK:
		return CC_F_BLOCK;
	default:
		return 0;
	}
}

void cc_scan(cc_ctx *c, ast_stmt *const *body, int n, const cc_key *keys, int nkeys,
	     const char *where, const ast_stmt **out)
{
	const char *names[64];
	int nn = nkeys < 64 ? nkeys : 64;
	for (int i = 0; i < nn; i++)
		names[i] = keys[i].name;
	for (int i = 0; i < nkeys; i++)
		out[i] = NULL;
	for (int i = 0; i < n; i++) {
		const ast_stmt *s = body[i];
		if (s->kind == AST_STMT_GOAL) {
			lang_error(c->d, s->loc, "'%s' belongs in an objective, not in %s",
				   s->maximize ? "maximize" : "minimize", where);
			continue;
		}
		int k = 0;
		while (k < nkeys && strcmp(keys[k].name, s->key))
			k++;
		if (k == nkeys) {
			cc_error_suggest(c, s->key_loc, s->key, names, nn, "unknown key '%s' in %s",
					 s->key, where);
			continue;
		}
		if (!(cc_stmt_form(s) & keys[k].forms)) {
			lang_error(c->d, s->loc, "'%s' is written '%s'", s->key, keys[k].usage);
			continue;
		}
		if (s->kind == AST_STMT_PROP && s->shared) {
			lang_error(c->d, s->loc, "'shared' applies to choices inside a block template, not to '%s'",
				   s->key);
			continue;
		}
		if (out[k] && !(keys[k].forms & CC_F_MULTI)) {
			lang_error(c->d, s->key_loc, "duplicate key '%s' in %s", s->key, where);
			lang_note(c->d, out[k]->key_loc, "first given here");
			continue;
		}
		if (!out[k])
			out[k] = s;
	}
}
