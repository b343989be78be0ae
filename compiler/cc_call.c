/*
 * cc_call.c — method calls such as `nat(iterations = 4)`, `sgd(lr = 0.1)`,
 * `sandwich(4)` or plain `constant`, read against a table of methods and
 * parameters (cc_methods.c).  Every parameter ends up in the IR with its
 * default filled in, so `nat` and `nat(iterations = 4)` lower alike.
 */
#include "compiler/cc_priv.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The most parameters a method of cc_methods.c may have. */
#define CC_MAX_PARAMS 32

void cc_call_clear(ir_call *call)
{
	free(call->name);
	for (int i = 0; i < call->nparams; i++) {
		free(call->params[i].key);
		free(call->params[i].string);
	}
	free(call->params);
	memset(call, 0, sizeof *call);
}

static const ir_param *cc_call_find(const ir_call *call, const char *key)
{
	for (int i = 0; i < call->nparams; i++)
		if (!strcmp(call->params[i].key, key))
			return &call->params[i];
	return NULL;
}

double cc_call_num(const ir_call *call, const char *key)
{
	const ir_param *p = cc_call_find(call, key);
	return p ? p->number : 0;
}

const char *cc_call_str(const ir_call *call, const char *key)
{
	const ir_param *p = cc_call_find(call, key);
	return p ? p->string : NULL;
}

/* The i-th space-separated word of a choices string, into buf. */
static const char *cc_word(const char *choices, int i, char *buf, size_t cap)
{
	const char *s = choices;
	for (; i > 0 && s; i--) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s)
		return NULL;
	size_t n = strcspn(s, " ");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

static void cc_param_default(const cc_param_spec *ps, ir_param *p)
{
	p->key = cc_xstrdup(ps->name);
	if (ps->kind == CC_P_NAME) {
		char w[64];
		p->kind = IR_VALUE_STRING;
		p->string = cc_xstrdup(cc_word(ps->choices, 0, w, sizeof w));
	} else {
		p->kind = ps->kind == CC_P_BOOL ? IR_VALUE_BOOL : IR_VALUE_NUMBER;
		p->number = ps->def;
	}
}

/* Reads one argument's value into p; 0 or -1. */
static int cc_param_read(cc_ctx *c, const cc_param_spec *ps, const ast_expr *e, ir_param *p)
{
	int iv;
	double dv;
	switch (ps->kind) {
	case CC_P_INT:
		if (cc_int(c, e, ps->name, (long)ps->min, (long)ps->max, &iv) < 0)
			return -1;
		p->number = iv;
		return 0;
	case CC_P_NUM:
		if (cc_num(c, e, ps->name, ps->min, ps->max, &dv) < 0)
			return -1;
		p->number = dv;
		return 0;
	case CC_P_BOOL:
		if (cc_bool(c, e, ps->name, &iv) < 0)
			return -1;
		p->number = iv;
		return 0;
	case CC_P_NAME: {
		const char *words[16];
		char store[16][64];
		int n = 0;
		while (n < 16 && cc_word(ps->choices, n, store[n], sizeof store[n])) {
			words[n] = store[n];
			n++;
		}
		int k = cc_choice(c, e, ps->name, words, n);
		if (k < 0)
			return -1;
		free(p->string);
		p->string = cc_xstrdup(words[k]);
		return 0;
	}
	}
	return -1;
}

static int cc_cmp_param(const void *a, const void *b)
{
	return strcmp(((const ir_param *)a)->key, ((const ir_param *)b)->key);
}

/* The start of reading a call of m, written as `m(...)` or as a block:
 * out is named m with every parameter at its default, in table order (the
 * order the arguments index), and names[0, return value) holds the
 * parameter names for did-you-mean. */
static int cc_call_begin(const cc_method *m, ir_call *out, const char *names[CC_MAX_PARAMS])
{
	assert(m->nparams >= 0 && m->nparams <= CC_MAX_PARAMS);
	memset(out, 0, sizeof *out);
	out->name = cc_xstrdup(m->name);
	out->nparams = m->nparams;
	out->params = cc_xcalloc((size_t)(m->nparams ? m->nparams : 1), sizeof *out->params);
	for (int i = 0; i < m->nparams; i++) {
		cc_param_default(&m->params[i], &out->params[i]);
		names[i] = m->params[i].name;
	}
	return m->nparams;
}

/* The end of reading a call: the IR holds its parameters sorted by key
 * (ir_call), whatever the order of the method's table. */
static void cc_call_end(ir_call *out)
{
	qsort(out->params, (size_t)out->nparams, sizeof *out->params, cc_cmp_param);
}

static int cc_find_method(cc_ctx *c, const ast_expr *e, const char *name, const char *what,
			  const cc_method *methods, int n, int allow_none)
{
	const char *names[32];
	int nn = 0;
	for (int i = 0; i < n && nn < 31; i++)
		names[nn++] = methods[i].name;
	if (allow_none && nn < 32)
		names[nn++] = "none";
	for (int i = 0; i < n; i++)
		if (!strcmp(methods[i].name, name))
			return i;
	char list[256];
	size_t k = 0;
	list[0] = 0;
	for (int i = 0; i < nn && k + 1 < sizeof list; i++) {
		int w = snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		k += (size_t)w;
	}
	lang_loc loc = e->loc;
	if (e->kind == AST_EXPR_CALL) {
		/* Underline the method name only. */
		loc.last_line = loc.first_line;
		loc.last_column = loc.first_column + (int)strlen(name) - 1;
	}
	cc_error_suggest(c, loc, name, names, nn, "unknown %s '%s' (expected one of: %s)", what,
			 name, list);
	return -1;
}

int cc_call(cc_ctx *c, const ast_expr *e, const char *what, const cc_method *methods, int n,
	    int allow_none, ir_call *out)
{
	memset(out, 0, sizeof *out);
	if (e->kind != AST_EXPR_IDENT && e->kind != AST_EXPR_CALL) {
		lang_error(c->d, e->loc, "expected a method for '%s' (such as %s%s), got %s", what,
			   methods[0].name, methods[0].nparams ? "(...)" : "", cc_expr_what(e));
		return -2;
	}
	if (allow_none && !strcmp(e->string, "none")) {
		if (e->kind == AST_EXPR_IDENT)
			return -1;
		lang_error(c->d, e->loc, "'none' for '%s' takes no arguments", what);
		return -2;
	}
	int k = cc_find_method(c, e, e->string, what, methods, n, allow_none);
	if (k < 0)
		return -2;
	const cc_method *m = &methods[k];
	const char *pnames[CC_MAX_PARAMS];
	int np = cc_call_begin(m, out, pnames);
	int bad = 0;
	const ast_arg *given[CC_MAX_PARAMS] = {0};
	for (int i = 0; e->kind == AST_EXPR_CALL && i < e->nargs; i++) {
		const ast_arg *a = e->args[i];
		int p;
		if (a->shared) {
			lang_error(c->d, a->loc, "'shared' applies to block choices, not to %s parameters",
				   m->name);
			bad = 1;
			continue;
		}
		if (!a->name) {
			if (!m->positional || i >= m->nparams) {
				if (m->nparams == 0)
					lang_error(c->d, a->loc, "'%s' takes no arguments", m->name);
				else
					lang_error(c->d, a->loc, "%s argument %d needs a name (%s = ...)",
						   m->name, i + 1, m->params[i < m->nparams ? i : 0].name);
				bad = 1;
				continue;
			}
			p = i;
		} else {
			for (p = 0; p < m->nparams; p++)
				if (!strcmp(m->params[p].name, a->name))
					break;
			if (p == m->nparams) {
				if (m->nparams == 0)
					lang_error(c->d, a->name_loc, "'%s' takes no arguments", m->name);
				else
					cc_error_suggest(c, a->name_loc, a->name, pnames, np,
							 "unknown parameter '%s' of %s", a->name, m->name);
				bad = 1;
				continue;
			}
			if (a->op != AST_OP_ASSIGN) {
				lang_error(c->d, a->loc, "parameter '%s' of %s takes '=', not '%s'",
					   a->name, m->name, ast_op_names[a->op]);
				bad = 1;
				continue;
			}
		}
		if (given[p]) {
			lang_error(c->d, a->loc, "parameter '%s' of %s given twice", m->params[p].name,
				   m->name);
			lang_note(c->d, given[p]->loc, "first given here");
			bad = 1;
			continue;
		}
		given[p] = a;
		if (cc_param_read(c, &m->params[p], a->value, &out->params[p]) < 0)
			bad = 1;
	}
	cc_call_end(out);
	return bad ? -2 : k;
}

int cc_call_block(cc_ctx *c, const ast_stmt *block, const cc_method *m, ir_call *out)
{
	const char *pnames[CC_MAX_PARAMS];
	int np = cc_call_begin(m, out, pnames);
	int bad = 0;
	const ast_stmt *given[CC_MAX_PARAMS] = {0};
	for (int i = 0; block && i < block->nbody; i++) {
		const ast_stmt *s = block->body[i];
		int p = 0;
		while (p < np && !(s->key && !strcmp(pnames[p], s->key)))
			p++;
		if (s->kind == AST_STMT_GOAL || p == np) {
			cc_error_suggest(c, s->key_loc, s->kind == AST_STMT_GOAL ? NULL : s->key, pnames,
					 np, "unknown key '%s' in %s", s->key, m->name);
			bad = 1;
			continue;
		}
		if (s->kind != AST_STMT_PROP || s->op != AST_OP_ASSIGN || s->shared) {
			lang_error(c->d, s->loc, "'%s' is written '%s = ...;'", s->key, s->key);
			bad = 1;
			continue;
		}
		if (given[p]) {
			lang_error(c->d, s->key_loc, "duplicate key '%s' in %s", s->key, m->name);
			lang_note(c->d, given[p]->key_loc, "first given here");
			bad = 1;
			continue;
		}
		given[p] = s;
		if (cc_param_read(c, &m->params[p], s->value, &out->params[p]) < 0)
			bad = 1;
	}
	cc_call_end(out);
	return bad ? -1 : 0;
}
