/*
 * space_block.c — block templates: which parameters each kind of block
 * takes, their defaults (kernel 3, expand 1, stride 1, act relu, se false;
 * out has none), odd kernels, and choices written `in {...}` or `in a..b`.
 */
#include "compiler/space_block.h"

#include <stdlib.h>
#include <string.h>

static const char *const cc_block_kinds[] = {"conv", "mbconv", "residual", "dense"};
static const ir_block cc_block_ir[] = {IR_BLOCK_CONV, IR_BLOCK_MBCONV, IR_BLOCK_RESIDUAL,
				       IR_BLOCK_DENSE};

enum { P_KERNEL, P_EXPAND, P_OUT, P_STRIDE, P_ACT, P_SE, P_COUNT };
static const char *const cc_block_params[P_COUNT] = {"kernel", "expand", "out",
						     "stride", "act", "se"};
/* Which parameters each kind takes, as bits of 1 << P_*. */
static const unsigned cc_block_takes[] = {
	1u << P_KERNEL | 1u << P_OUT | 1u << P_STRIDE | 1u << P_ACT,
	1u << P_KERNEL | 1u << P_EXPAND | 1u << P_OUT | 1u << P_STRIDE | 1u << P_ACT | 1u << P_SE,
	1u << P_KERNEL | 1u << P_OUT | 1u << P_STRIDE | 1u << P_ACT,
	1u << P_OUT | 1u << P_ACT,
};

void cc_tmpl_clear(cc_tmpl *t)
{
	free(t->kernel.v);
	free(t->expand.v);
	free(t->out.v);
	memset(t, 0, sizeof *t);
}

int cc_dom_max(const cc_dom *d)
{
	return d->n ? d->v[d->n - 1] : 0;
}

static void cc_dom_fixed(cc_dom *d, int v)
{
	d->v = cc_xmalloc(sizeof *d->v);
	d->v[0] = v;
	d->n = 1;
}

/* Points at the first set item equal to v, for a message about it. */
static lang_loc cc_item_loc(const ast_expr *e, int v)
{
	if (e->kind == AST_EXPR_SET)
		for (int i = 0; i < e->nitems; i++)
			if (e->items[i]->kind == AST_EXPR_NUMBER && e->items[i]->number == v)
				return e->items[i]->loc;
	return e->loc;
}

static int cc_read_dom(cc_ctx *c, const ast_arg *a, int elastic, long min, long max, cc_dom *d)
{
	if (!elastic && a->op == AST_OP_IN) {
		lang_error(c->d, a->loc, "the stem is fixed: write '%s = N', not a choice", a->name);
		return -1;
	}
	if (a->shared && a->op != AST_OP_IN) {
		lang_error(c->d, a->loc, "'shared' ties a choice: write 'shared %s in {...}'", a->name);
		return -1;
	}
	if (cc_int_domain(c, a->op, a->value, a->name, min, max, &d->v, &d->n) < 0)
		return -1;
	d->shared = a->shared;
	d->arg = a;
	return 0;
}

static int cc_read_param(cc_ctx *c, cc_tmpl *t, int p, const ast_arg *a, int elastic)
{
	if (p != P_KERNEL && p != P_EXPAND && p != P_OUT) {
		if (a->op != AST_OP_ASSIGN || a->shared) {
			lang_error(c->d, a->loc, "'%s' of a block is fixed: write '%s = ...'", a->name,
				   a->name);
			return -1;
		}
	}
	switch (p) {
	case P_KERNEL:
		if (cc_read_dom(c, a, elastic, 1, IR_MAX_KERNEL, &t->kernel) < 0)
			return -1;
		for (int i = 0; i < t->kernel.n; i++)
			if (t->kernel.v[i] % 2 == 0) {
				lang_error(c->d, cc_item_loc(a->value, t->kernel.v[i]),
					   "kernel size %d is even; kernels must be odd (1, 3, 5, 7, ...) to keep the feature map centred",
					   t->kernel.v[i]);
				return -1;
			}
		return 0;
	case P_EXPAND:
		return cc_read_dom(c, a, elastic, 1, 16, &t->expand);
	case P_OUT:
		return cc_read_dom(c, a, elastic, 1, 100000, &t->out);
	case P_STRIDE:
		t->stride_arg = a;
		return cc_int(c, a->value, "stride", 1, 8, &t->stride);
	case P_ACT: {
		int k = cc_choice(c, a->value, "activation", ir_act_names, IR_ACT_COUNT);
		if (k < 0)
			return -1;
		t->act = (ir_act)k;
		return 0;
	}
	case P_SE:
		return cc_bool(c, a->value, "se", &t->se);
	}
	return -1;
}

static int cc_tmpl_kind(cc_ctx *c, const ast_expr *e)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(cc_block_kinds[i], e->string))
			return i;
	lang_loc loc = e->loc;
	if (e->kind == AST_EXPR_CALL) {
		loc.last_line = loc.first_line;
		loc.last_column = loc.first_column + (int)strlen(e->string) - 1;
	}
	cc_error_suggest(c, loc, e->string, cc_block_kinds, 4,
			 "unknown block '%s' (blocks: conv, mbconv, residual, dense)", e->string);
	return -1;
}

int cc_tmpl_read(cc_ctx *c, const ast_expr *e, int elastic, const char *where, cc_tmpl *t)
{
	memset(t, 0, sizeof *t);
	t->loc = e->loc;
	if (e->kind != AST_EXPR_CALL && e->kind != AST_EXPR_IDENT) {
		lang_error(c->d, e->loc, "expected a block such as mbconv(out = 24) in %s, got %s",
			   where, cc_expr_what(e));
		return -1;
	}
	int k = cc_tmpl_kind(c, e);
	if (k < 0)
		return -1;
	t->kind = cc_block_ir[k];
	t->stride = 1;
	t->act = IR_ACT_RELU;
	int bad = 0;
	const ast_arg *given[P_COUNT] = {0};
	for (int i = 0; e->kind == AST_EXPR_CALL && i < e->nargs; i++) {
		const ast_arg *a = e->args[i];
		if (!a->name) {
			lang_error(c->d, a->loc, "block parameters need names, such as 'out = 24'");
			bad = 1;
			continue;
		}
		int p = 0;
		while (p < P_COUNT && strcmp(cc_block_params[p], a->name))
			p++;
		if (p == P_COUNT || !(cc_block_takes[k] & 1u << p)) {
			const char *cands[P_COUNT];
			int n = 0;
			for (int q = 0; q < P_COUNT; q++)
				if (cc_block_takes[k] & 1u << q)
					cands[n++] = cc_block_params[q];
			if (p < P_COUNT)
				lang_error(c->d, a->name_loc, "%s blocks take no '%s'",
					   cc_block_kinds[k], a->name);
			else
				cc_error_suggest(c, a->name_loc, a->name, cands, n,
						 "unknown parameter '%s' of %s", a->name,
						 cc_block_kinds[k]);
			bad = 1;
			continue;
		}
		if (given[p]) {
			lang_error(c->d, a->loc, "parameter '%s' given twice", a->name);
			lang_note(c->d, given[p]->loc, "first given here");
			bad = 1;
			continue;
		}
		given[p] = a;
		if (cc_read_param(c, t, p, a, elastic) < 0)
			bad = 1;
	}
	if (!given[P_OUT] && !bad) {
		lang_error(c->d, e->loc, "%s in %s has no 'out' (its output channels)",
			   cc_block_kinds[k], where);
		bad = 1;
	}
	if (bad) {
		cc_tmpl_clear(t);
		return -1;
	}
	if (!t->kernel.n && t->kind != IR_BLOCK_DENSE)
		cc_dom_fixed(&t->kernel, 3);
	if (!t->expand.n)
		cc_dom_fixed(&t->expand, 1);
	return 0;
}
