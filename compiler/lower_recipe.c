/*
 * lower_recipe.c — training recipes: their defaults, `train { ... }` blocks,
 * and `recipe NAME [from BASE] { ... }` declarations that tasks name with
 * `train = NAME;`.
 *
 * A named recipe is not part of the IR.  A task that names one gets the
 * recipe's settings copied into its own ir_recipe, so its IR, the module's
 * identity and the task's supernet key are exactly those of the same
 * settings written in a train block.  Settings apply in order over what
 * the task starts from (the defaults for its space, or its transfer
 * source's recipe): a base recipe's first, then those of the recipes
 * derived from it.  A recipe is checked once, where it is declared, so a
 * mistake in it is reported once however many tasks use it; warnings that
 * depend on a task's space (a sampler for a one-subnet space, a shrinking
 * phase with nothing to shrink) are given for each space it is used with.
 */
#include "compiler/cc_priv.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "lang/lang.h"

enum { R_EPOCHS, R_BATCH, R_OPTIMIZER, R_SCHEDULE, R_SMOOTHING, R_SAMPLER, R_DISTILL, R_SHRINK,
       R_CALIB, R_SEED, R_COUNT };
static const cc_key cc_train_keys[R_COUNT] = {
	{"epochs", CC_F_ASSIGN, "epochs = N;"},
	{"batch", CC_F_ASSIGN, "batch = N;"},
	{"optimizer", CC_F_ASSIGN, "optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true, wd = 4e-5);"},
	{"schedule", CC_F_ASSIGN, "schedule = cosine(warmup = 1); or schedule = constant;"},
	{"label_smoothing", CC_F_ASSIGN, "label_smoothing = 0.1;"},
	{"sampler", CC_F_ASSIGN, "sampler = max | random | sandwich(4);"},
	{"distill", CC_F_ASSIGN, "distill = inplace; distill = inplace(labels = true); or distill = none;"},
	{"shrink", CC_F_ASSIGN, "shrink = progressive(kernel, depth, expand); or shrink = none;"},
	{"calib", CC_F_ASSIGN, "calib = 2000;"},
	{"seed", CC_F_ASSIGN, "seed = N;"},
};

/*
 * The defaults of a training recipe, in one place (docs/arch.5 repeats
 * them).  The sampler and distillation depend on the space: a supernet with
 * more than one subnet trains with sandwich(4) and in-place distillation
 * beside the labels (OFA's loss: soft labels alone, BigNAS's, cost every
 * subnet in the short schedules measured, docs/RESULTS.md), a single
 * network with max and none.
 */
ir_recipe cc_recipe_default(const ir_space *s)
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
	r.distill = many ? IR_DISTILL_LABELS : IR_DISTILL_NONE;
	r.nshrink = 0;
	r.calib_images = IR_CALIB_DEFAULT;
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
	if (k[R_DISTILL] && r->distill != IR_DISTILL_NONE && r->sampler == IR_SAMPLER_MAX)
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

void cc_train_read(cc_ctx *c, ir_recipe *r, ast_stmt *const *body, int nbody, const char *where,
		   const ir_space *space)
{
	const ast_stmt *k[R_COUNT];
	cc_scan(c, body, nbody, cc_train_keys, R_COUNT, where, k);
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
		int s = cc_call(c, k[R_DISTILL]->value, "distill", cc_distill_methods,
				cc_distill_nmethods, 1, &call);
		if (s == -1)
			r->distill = IR_DISTILL_NONE;
		else if (s == 0)
			r->distill = cc_call_num(&call, "labels") != 0 ? IR_DISTILL_LABELS
								      : IR_DISTILL_INPLACE;
		cc_call_clear(&call);
	}
	if (k[R_SHRINK])
		cc_read_shrink(c, r, k[R_SHRINK]->value);
	if (k[R_CALIB] && cc_int(c, k[R_CALIB]->value, "calib", 1, 1000000000L, &v) == 0)
		r->calib_images = v;
	if (k[R_SEED] && cc_int(c, k[R_SEED]->value, "seed", 0, 1000000000L, &v) == 0)
		r->seed = (uint64_t)v;
	cc_train_warnings(c, r, space, k);
}

int cc_lower_recipe(cc_ctx *c, cc_sym *sym)
{
	if (sym->state == CC_SYM_DONE)
		return sym->index;
	const ast_decl *dc = sym->decl;
	if (sym->state == CC_SYM_BUSY) {
		lang_error(c->d, dc->name_loc, "recipe derivation cycle: recipe '%s' derives from itself",
			   dc->name);
		return -1;
	}
	sym->state = CC_SYM_BUSY;
	int errors = c->d->nerrors, failed = 0;
	if (dc->from) {
		cc_sym *base = cc_resolve(c, AST_DECL_RECIPE, dc->from, "from");
		failed = !base || cc_lower_base(c, base, dc->from->loc, cc_lower_recipe) < 0;
	}
	/* Checked on its own, over the defaults of no particular space. */
	char where[300];
	snprintf(where, sizeof where, "recipe '%s'", dc->name);
	ir_recipe r = cc_recipe_default(NULL);
	cc_train_read(c, &r, dc->body, dc->nbody, where, NULL);
	sym->state = CC_SYM_DONE;
	sym->index = !failed && c->d->nerrors == errors ? 0 : -1;
	return sym->index;
}

/* 1 when d already holds a diagnostic of this severity, place and text. */
static int cc_diags_have(const lang_diags *d, const lang_diag *x)
{
	for (int i = 0; i < d->n; i++) {
		const lang_diag *y = &d->items[i];
		if (y->severity == x->severity && y->loc.src == x->loc.src &&
		    y->loc.first_line == x->loc.first_line &&
		    y->loc.first_column == x->loc.first_column && !strcmp(y->message, x->message))
			return 1;
	}
	return 0;
}

void cc_recipe_apply(cc_ctx *c, cc_sym *sym, ir_recipe *r, const ir_space *space)
{
	const ast_decl *dc = sym->decl;
	assert(sym->state == CC_SYM_DONE && sym->index >= 0);
	if (dc->from)
		cc_recipe_apply(c, cc_table_find(&c->syms[AST_DECL_RECIPE], dc->from->string), r,
				space);
	/* The recipe's errors were reported by cc_lower_recipe; only the
	 * warnings about this space are new, once per place. */
	lang_diags scratch;
	lang_diags_init(&scratch);
	lang_diags *real = c->d;
	c->d = &scratch;
	cc_train_read(c, r, dc->body, dc->nbody, "recipe", space);
	c->d = real;
	for (int i = 0; i < scratch.n; i++) {
		const lang_diag *x = &scratch.items[i];
		if (x->severity != LANG_WARNING || cc_diags_have(real, x))
			continue;
		lang_warning(real, x->loc, "%s", x->message);
		for (int j = i + 1; j < scratch.n && scratch.items[j].severity == LANG_NOTE; j++)
			lang_note(real, scratch.items[j].loc, "%s", scratch.items[j].message);
	}
	lang_diags_free(&scratch);
}
