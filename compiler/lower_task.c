/*
 * lower_task.c — `task NAME { data = ...; space = ...; from = ...;
 * train { ... } adapt = ...; pretrain = ...; search { ... } objective = ...; }`.
 *
 * A transfer task (`from = T`) inherits T's space and training recipe
 * unless it gives its own; `data` is always its own.  `data = d where
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
	{"train", CC_F_BLOCK, "train { epochs = 10; ... }"},
	{"adapt", CC_F_ASSIGN, "adapt = nat(iterations = 4); (or ntaa(...), finetune(...))"},
	{"pretrain", CC_F_ASSIGN, "pretrain = supervised; or pretrain = selfsup(...);"},
	{"search", CC_F_BLOCK, "search { predictor = auto; samples = 300; }"},
	{"objective", CC_F_ASSIGN, "objective = OBJECTIVE;"},
};

enum { R_EPOCHS, R_BATCH, R_OPTIMIZER, R_SCHEDULE, R_SMOOTHING, R_SAMPLER, R_DISTILL, R_SHRINK,
       R_CALIB, R_SEED, R_COUNT };
static const cc_key cc_train_keys[R_COUNT] = {
	{"epochs", CC_F_ASSIGN, "epochs = N;"},
	{"batch", CC_F_ASSIGN, "batch = N;"},
	{"optimizer", CC_F_ASSIGN, "optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true, wd = 4e-5);"},
	{"schedule", CC_F_ASSIGN, "schedule = cosine(warmup = 1); or schedule = constant;"},
	{"label_smoothing", CC_F_ASSIGN, "label_smoothing = 0.1;"},
	{"sampler", CC_F_ASSIGN, "sampler = max | random | sandwich(4);"},
	{"distill", CC_F_ASSIGN, "distill = inplace | none;"},
	{"shrink", CC_F_ASSIGN, "shrink = progressive(kernel, depth, expand); or shrink = none;"},
	{"calib", CC_F_ASSIGN, "calib = 2000;"},
	{"seed", CC_F_ASSIGN, "seed = N;"},
};

/*
 * The defaults of a training recipe, in one place (docs/arch.5 repeats
 * them).  The sampler and distillation depend on the space: a supernet with
 * more than one subnet trains with sandwich(4) and in-place distillation
 * (BigNAS), a single network with max and none.
 */
static ir_recipe cc_recipe_default(const ir_space *s)
{
	ir_recipe r;
	memset(&r, 0, sizeof r);
	r.epochs = 10;
	r.batch = 128;
	r.lr = 0.1;
	r.momentum = 0.9;
	r.nesterov = 1;
	r.wd = 4e-5;
	r.wd_decoupled = 0;
	r.schedule = IR_SCHEDULE_COSINE;
	r.warmup = 0;
	r.label_smoothing = 0;
	int many = s && cc_space_subnets(s) > 1;
	r.sampler = many ? IR_SAMPLER_SANDWICH : IR_SAMPLER_MAX;
	r.sampler_n = many ? 4 : 1;
	r.distill_inplace = many;
	r.nshrink = 0;
	r.calib_images = 2000;
	r.seed = 0;
	return r;
}

static void cc_read_shrink(cc_ctx *c, ir_recipe *r, const ast_expr *e)
{
	static const char *const methods[] = {"progressive", "none"};
	if (e->kind == AST_EXPR_IDENT && !strcmp(e->string, "none")) {
		r->nshrink = 0;
		return;
	}
	if (e->kind != AST_EXPR_CALL || strcmp(e->string, "progressive")) {
		if (e->kind == AST_EXPR_CALL || e->kind == AST_EXPR_IDENT)
			cc_error_suggest(c, e->loc, e->string, methods, 2,
					 "unknown shrinking '%s' (progressive(...) or none)", e->string);
		else
			lang_error(c->d, e->loc, "expected progressive(...) or none for 'shrink', got %s",
				   cc_expr_what(e));
		return;
	}
	if (e->nargs == 0) {
		lang_error(c->d, e->loc, "progressive() needs the phases in order, e.g. progressive(kernel, depth, expand)");
		return;
	}
	r->nshrink = 0;
	const ast_arg *seen[IR_SHRINK_COUNT] = {0};
	for (int i = 0; i < e->nargs; i++) {
		const ast_arg *a = e->args[i];
		if (a->name) {
			lang_error(c->d, a->loc, "progressive() lists phases by name, such as kernel");
			continue;
		}
		int k = cc_choice(c, a->value, "shrinking phase", ir_shrink_names, IR_SHRINK_COUNT);
		if (k < 0)
			continue;
		if (seen[k]) {
			lang_error(c->d, a->loc, "phase '%s' is listed twice", ir_shrink_names[k]);
			lang_note(c->d, seen[k]->loc, "first given here");
			continue;
		}
		seen[k] = a;
		if (r->nshrink < IR_MAX_SHRINK)
			r->shrink[r->nshrink++] = (ir_shrink)k;
	}
}

/* Recipe settings that do nothing for this space: legal, but surely not
 * what the user meant. */
static void cc_train_warnings(cc_ctx *c, const ir_recipe *r, const ir_space *s,
			      const ast_stmt *const *k)
{
	if (!s)
		return;
	int many = cc_space_subnets(s) > 1;
	if (k[R_SAMPLER] && !many && r->sampler != IR_SAMPLER_MAX)
		lang_warning(c->d, k[R_SAMPLER]->value->loc,
			     "space '%s' has only one subnet: this sampler trains it alone anyway",
			     s->name);
	if (k[R_DISTILL] && r->distill_inplace && r->sampler == IR_SAMPLER_MAX)
		lang_warning(c->d, k[R_DISTILL]->value->loc,
			     "in-place distillation has no student with sampler max: only the largest subnet trains");
	for (int i = 0; k[R_SHRINK] && i < r->nshrink; i++) {
		int found = 0;
		const char *ph = ir_shrink_names[r->shrink[i]];
		if (r->shrink[i] == IR_SHRINK_RESOLUTION) {
			found = s->g_resolution >= 0;
		} else if (r->shrink[i] == IR_SHRINK_DEPTH) {
			for (int j = 0; j < s->nstages && !found; j++)
				found = s->stages[j].g_depth >= 0;
		} else {
			for (int j = 0; j < s->nlayers && !found; j++) {
				const ir_layer *l = &s->layers[j];
				found = r->shrink[i] == IR_SHRINK_KERNEL   ? l->g_kernel >= 0
					: r->shrink[i] == IR_SHRINK_EXPAND ? l->g_expand >= 0
									   : l->g_out >= 0;
			}
		}
		const ast_expr *e = k[R_SHRINK]->value;
		lang_loc at = e->loc;
		for (int j = 0; e->kind == AST_EXPR_CALL && j < e->nargs; j++)
			if (e->args[j]->value->kind == AST_EXPR_IDENT &&
			    !strcmp(e->args[j]->value->string, ph))
				at = e->args[j]->loc;
		if (!found)
			lang_warning(c->d, at,
				     "shrinking phase '%s' has nothing to shrink: space '%s' has no %s choice",
				     ph, s->name, r->shrink[i] == IR_SHRINK_WIDTH ? "out" : ph);
	}
}

static void cc_read_train(cc_ctx *c, ir_recipe *r, const ast_stmt *block, const ir_space *space)
{
	const ast_stmt *k[R_COUNT];
	cc_scan(c, block->body, block->nbody, cc_train_keys, R_COUNT, "train", k);
	int v;
	double x;
	ir_call call;
	if (k[R_EPOCHS] && cc_int(c, k[R_EPOCHS]->value, "epochs", 1, 100000, &v) == 0)
		r->epochs = v;
	if (k[R_BATCH] && cc_int(c, k[R_BATCH]->value, "batch", 1, 65536, &v) == 0)
		r->batch = v;
	if (k[R_OPTIMIZER] && cc_call(c, k[R_OPTIMIZER]->value, "optimizer", cc_optimizer_methods,
				      cc_optimizer_nmethods, 0, &call) >= 0) {
		r->lr = cc_call_num(&call, "lr");
		r->momentum = cc_call_num(&call, "momentum");
		r->nesterov = (int)cc_call_num(&call, "nesterov");
		r->wd = cc_call_num(&call, "wd");
		r->wd_decoupled = (int)cc_call_num(&call, "decoupled");
	}
	if (k[R_OPTIMIZER])
		cc_call_clear(&call);
	if (k[R_SCHEDULE]) {
		int s = cc_call(c, k[R_SCHEDULE]->value, "schedule", cc_schedule_methods,
				cc_schedule_nmethods, 0, &call);
		if (s == 0) {
			r->schedule = IR_SCHEDULE_COSINE;
			r->warmup = cc_call_num(&call, "warmup");
		} else if (s == 1) {
			r->schedule = IR_SCHEDULE_CONSTANT;
			r->warmup = 0;
		}
		cc_call_clear(&call);
	}
	if (k[R_SMOOTHING] &&
	    cc_num(c, k[R_SMOOTHING]->value, "label_smoothing", 0, 0.99, &x) == 0)
		r->label_smoothing = x;
	if (k[R_SAMPLER]) {
		int s = cc_call(c, k[R_SAMPLER]->value, "sampler", cc_sampler_methods,
				cc_sampler_nmethods, 0, &call);
		if (s >= 0) {
			r->sampler = (ir_sampler)s;
			r->sampler_n = s == IR_SAMPLER_SANDWICH ? (int)cc_call_num(&call, "n") : 1;
		}
		cc_call_clear(&call);
	}
	if (k[R_DISTILL]) {
		static const char *const ds[] = {"inplace", "none"};
		int s = cc_choice(c, k[R_DISTILL]->value, "distill", ds, 2);
		if (s >= 0)
			r->distill_inplace = s == 0;
	}
	if (k[R_SHRINK])
		cc_read_shrink(c, r, k[R_SHRINK]->value);
	if (k[R_CALIB] && cc_int(c, k[R_CALIB]->value, "calib", 1, 1000000000L, &v) == 0)
		r->calib_images = v;
	if (k[R_SEED] && cc_int(c, k[R_SEED]->value, "seed", 0, 1000000000L, &v) == 0)
		r->seed = (uint64_t)v;
	cc_train_warnings(c, r, space, k);
}

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
		from = from_sym ? cc_lower_task(c, from_sym) : -1;
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
	if (k[K_TRAIN]) {
		if (k[K_TRAIN]->name)
			lang_error(c->d, k[K_TRAIN]->name_loc, "'train' takes no name: train { ... }");
		cc_read_train(c, &t->recipe, k[K_TRAIN], space >= 0 ? &c->m->spaces[space] : NULL);
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
