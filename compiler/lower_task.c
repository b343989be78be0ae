/*
 * lower_task.c — `task NAME { data = ...; space = ...; from = ...;
 * train { ... } adapt = ...; pretrain = ...; search { ... } objective = ...; }`.
 *
 * A transfer task (`from = T`) inherits T's space and training recipe
 * unless it gives its own (a train block or a named recipe, see
 * lower_recipe.c, whose keys override the inherited ones one by one); `data` is always its own.  `data = d where
 * label in {...}` makes an anonymous dataset named `<task>.data`.
 */
#include "compiler/cc_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

enum { K_DATA, K_SPACE, K_FROM, K_TRAIN, K_ADAPT, K_PRETRAIN, K_SEARCH, K_OBJECTIVE, K_COUNT };
static const cc_key cc_task_keys[K_COUNT] = {
	{"data", CC_F_ASSIGN, "data = DATASET; or data = DATASET where label in {...};"},
	{"space", CC_F_ASSIGN, "space = SPACE;"},
	{"from", CC_F_ASSIGN, "from = TASK;"},
	{"train", CC_F_BLOCK | CC_F_ASSIGN, "train { epochs = 10; ... } or train = RECIPE;"},
	{"adapt", CC_F_ASSIGN, "adapt = nat(iterations = 4); (or ntaa(...), finetune(...))"},
	{"pretrain", CC_F_ASSIGN, "pretrain = supervised; or pretrain = selfsup(...);"},
	{"search", CC_F_BLOCK, "search { predictor = auto; samples = 300; }"},
	{"objective", CC_F_ASSIGN, "objective = OBJECTIVE;"},
};

/* The dataset of `data = ...`: a name, or a name with a label filter. */
static int cc_task_data(cc_ctx *c, const ast_decl *dc, const ast_stmt *st)
{
	const ast_expr *e = st->value;
	const ast_expr *where = NULL;
	if (e->kind == AST_EXPR_WHERE) {
		where = e;
		e = e->lo;
	}
	cc_sym *ds = cc_resolve(c, AST_DECL_DATASET, e, "data");
	int base = ds ? cc_lower_dataset(c, ds) : -1;
	if (base < 0 || !where)
		return base;
	char name[300];
	snprintf(name, sizeof name, "%s.data", dc->name);
	return cc_dataset_filter(c, base, where, name);
}

/* Data and space must agree on what one example is. */
static void cc_task_fit(cc_ctx *c, const ir_task *t, const ast_expr *at, const cc_sym *space)
{
	const ir_dataset *d = &c->m->datasets[t->dataset];
	const ir_space *s = &c->m->spaces[t->space];
	int tab_d = d->height == 1 && d->width == 1, tab_s = s->resolution == 1;
	char what_d[128], what_s[128];
	if (tab_d)
		snprintf(what_d, sizeof what_d, "%d features", d->channels);
	else
		snprintf(what_d, sizeof what_d, "%d-channel %dx%d images", d->channels, d->height,
			 d->width);
	if (tab_s)
		snprintf(what_s, sizeof what_s, "%d features", s->in_channels);
	else
		snprintf(what_s, sizeof what_s, "%d-channel images", s->in_channels);
	if (tab_d != tab_s || d->channels != s->in_channels) {
		lang_error(c->d, at->loc, "dataset '%s' has %s, but space '%s' takes %s", d->name,
			   what_d, s->name, what_s);
		lang_note(c->d, space->decl->name_loc, "space '%s' is declared here", s->name);
	} else if (s->nclasses && s->nclasses != d->nclasses) {
		lang_error(c->d, at->loc, "space '%s' ends with fc(%d), but dataset '%s' has %d classes",
			   s->name, s->nclasses, d->name, d->nclasses);
		lang_note(c->d, space->decl->name_loc, "write fc(classes) to follow the dataset");
	}
}

int cc_lower_task(cc_ctx *c, cc_sym *sym)
{
	if (sym->state == CC_SYM_DONE)
		return sym->index;
	const ast_decl *dc = sym->decl;
	if (sym->state == CC_SYM_BUSY) {
		lang_error(c->d, dc->name_loc, "transfer cycle: task '%s' is its own source", dc->name);
		return -1;
	}
	sym->state = CC_SYM_BUSY;
	int errors = c->d->nerrors;
	if (dc->from)
		lang_error(c->d, dc->from->loc, "a task cannot be derived with 'from' here; write 'from = TASK;' inside it");
	char where[300];
	snprintf(where, sizeof where, "task '%s'", dc->name);
	const ast_stmt *k[K_COUNT];
	cc_scan(c, dc->body, dc->nbody, cc_task_keys, K_COUNT, where, k);
	int from = -1, from_failed = 0;
	cc_sym *from_sym = NULL;
	if (k[K_FROM]) {
		from_sym = cc_resolve(c, AST_DECL_TASK, k[K_FROM]->value, "from");
		from = from_sym ? cc_lower_base(c, from_sym, k[K_FROM]->value->loc, cc_lower_task) : -1;
		from_failed = from < 0;
	}
	int data = -1, space = -1, failed = from_failed;
	cc_sym *space_sym = NULL;
	const ast_expr *space_at = NULL;
	if (k[K_DATA]) {
		data = cc_task_data(c, dc, k[K_DATA]);
		failed |= data < 0;
	} else {
		lang_error(c->d, dc->name_loc, "task '%s' has no 'data' (data = DATASET;)", dc->name);
	}
	if (k[K_SPACE]) {
		space_sym = cc_resolve(c, AST_DECL_SPACE, k[K_SPACE]->value, "space");
		space = space_sym ? cc_lower_space(c, space_sym) : -1;
		space_at = k[K_SPACE]->value;
		failed |= space < 0;
	} else if (from >= 0) {
		space = c->m->tasks[from].space;
		space_at = k[K_FROM]->value;
		space_sym = space >= 0 ? c->space_syms[space] : NULL;
	} else if (!from_failed) {
		lang_error(c->d, dc->name_loc, "task '%s' has no 'space' (space = SPACE; or from = TASK;)",
			   dc->name);
	}
	int objective = -1;
	if (k[K_OBJECTIVE]) {
		cc_sym *os = cc_resolve(c, AST_DECL_OBJECTIVE, k[K_OBJECTIVE]->value, "objective");
		objective = os ? cc_lower_objective(c, os) : -1;
	}
	int idx = c->m->ntasks++;
	ir_task *t = &c->m->tasks[idx];
	t->name = cc_xstrdup(dc->name);
	t->dataset = data;
	t->space = space;
	t->from = from;
	t->objective = objective;
	t->recipe = from >= 0 ? c->m->tasks[from].recipe
					     : cc_recipe_default(space >= 0 ? &c->m->spaces[space] : NULL);
	const ir_space *sp = space >= 0 ? &c->m->spaces[space] : NULL;
	if (k[K_TRAIN] && k[K_TRAIN]->kind == AST_STMT_BLOCK) {
		if (k[K_TRAIN]->name)
			lang_error(c->d, k[K_TRAIN]->name_loc,
				   "'train' takes no name: train { ... }, or train = RECIPE;");
		cc_train_read(c, &t->recipe, k[K_TRAIN]->body, k[K_TRAIN]->nbody, "train", sp);
	} else if (k[K_TRAIN]) {
		cc_sym *rs = cc_resolve(c, AST_DECL_RECIPE, k[K_TRAIN]->value, "train");
		if (rs && cc_lower_recipe(c, rs) >= 0)
			cc_recipe_apply(c, rs, &t->recipe, sp);
	}
	if (k[K_ADAPT]) {
		if (cc_call(c, k[K_ADAPT]->value, "adaptation", cc_adapt_methods, cc_adapt_nmethods,
			    1, &t->adapt) < -1)
			cc_call_clear(&t->adapt);
		else if (t->adapt.name && !k[K_FROM])
			lang_error(c->d, k[K_ADAPT]->key_loc,
				   "'adapt' adapts a source task's supernet: add 'from = TASK;'");
	}
	if (k[K_PRETRAIN] && cc_call(c, k[K_PRETRAIN]->value, "pretraining", cc_pretrain_methods,
				     cc_pretrain_nmethods, 1, &t->pretrain) < -1)
		cc_call_clear(&t->pretrain);
	if (k[K_SEARCH] && k[K_SEARCH]->name)
		lang_error(c->d, k[K_SEARCH]->name_loc, "'search' takes no name: search { ... }");
	cc_call_block(c, k[K_SEARCH], &cc_search_method, &t->search);
	if (!failed && data >= 0 && space >= 0 && space_sym && c->d->nerrors == errors)
		cc_task_fit(c, t, space_at, space_sym);
	sym->state = CC_SYM_DONE;
	sym->index = c->d->nerrors == errors && !failed ? idx : -1;
	return sym->index;
}
