/*
 * lower_space.c — `space NAME { input ...; resolution ...; stem ...;
 * stage S { depth ...; block = ...; } head ...; }` to an ir_space: the
 * gene table (resolution, then per stage its depth, its shared choices and
 * each block's own choices) and the layer list at the largest shape.
 *
 * A choice with a single value is not a gene: `depth in {2}` lowers like
 * `depth = 2`.  The stride of a stage applies to its first block.  Feature
 * map sizes are followed at the SMALLEST resolution: a layer whose stride
 * exceeds the side of its input would shrink the map below 1x1.
 */
#include "compiler/space_block.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_INPUT, S_RESOLUTION, S_STEM, S_STAGE, S_HEAD, S_COUNT };
static const cc_key cc_space_keys[S_COUNT] = {
	{"input", CC_F_CLAUSE, "input channels = N; or input features = N;"},
	{"resolution", CC_F_ASSIGN | CC_F_IN, "resolution = N; or resolution in {...};"},
	{"stem", CC_F_CLAUSE, "stem conv(kernel = 3, out = 16, stride = 1);"},
	{"stage", CC_F_BLOCK | CC_F_MULTI, "stage NAME { depth in 1..3; block = mbconv(...); }"},
	{"head", CC_F_CLAUSE, "head pool, fc(classes);"},
};

enum { T_DEPTH, T_BLOCK, T_COUNT };
static const cc_key cc_stage_keys[T_COUNT] = {
	{"depth", CC_F_ASSIGN | CC_F_IN, "depth = N; or depth in 1..3;"},
	{"block", CC_F_ASSIGN, "block = mbconv(kernel in {3, 5}, out = 24);"},
};

/* Layers and genes while a space is built. */
typedef struct cc_space_b {
	cc_ctx *c;
	ir_space *s;
	int cap_layers, cap_genes;
	int image;   /* image input (else tabular features) */
	int chans;   /* channels flowing out of the last layer (largest) */
	int side;    /* feature map side at the smallest resolution, 0 = unknown */
	int min_res; /* smallest resolution */
} cc_space_b;

static ir_layer *cc_layer_add(cc_space_b *b)
{
	ir_space *s = b->s;
	if (s->nlayers == b->cap_layers) {
		b->cap_layers = b->cap_layers ? b->cap_layers * 2 : 16;
		s->layers = cc_xrealloc(s->layers, (size_t)b->cap_layers * sizeof *s->layers);
	}
	ir_layer *l = &s->layers[s->nlayers++];
	memset(l, 0, sizeof *l);
	l->stage = -1;
	l->stride = 1;
	l->expand = 1;
	l->g_kernel = l->g_expand = l->g_out = -1;
	return l;
}

/* Adds a gene when there is a choice; returns its index or -1. */
static int cc_gene_add(cc_space_b *b, const char *name, const int *v, int n)
{
	if (n < 2)
		return -1;
	ir_space *s = b->s;
	if (s->ngenes == b->cap_genes) {
		b->cap_genes = b->cap_genes ? b->cap_genes * 2 : 16;
		s->genes = cc_xrealloc(s->genes, (size_t)b->cap_genes * sizeof *s->genes);
	}
	ir_gene *g = &s->genes[s->ngenes];
	g->name = cc_xstrdup(name);
	g->nvalues = n;
	g->values = cc_xmalloc((size_t)n * sizeof *g->values);
	for (int i = 0; i < n; i++)
		g->values[i] = v[i];
	return s->ngenes++;
}

static int cc_gene_addf(cc_space_b *b, const cc_dom *d, const char *stage, int block,
			const char *attr)
{
	char name[256];
	if (block < 0)
		snprintf(name, sizeof name, "%s.%s", stage, attr);
	else
		snprintf(name, sizeof name, "%s.b%d.%s", stage, block, attr);
	return cc_gene_add(b, name, d->v, d->n);
}

/* Follows the feature map through a stride; reports a map that would
 * shrink below 1x1. */
static void cc_stride(cc_space_b *b, int stride, const ast_arg *arg, lang_loc fallback,
		      const char *what)
{
	if (!b->image || !b->side || stride <= 1)
		return;
	if (b->side < stride) {
		lang_error(b->c->d, arg ? arg->loc : fallback,
			   "stride %d shrinks the feature map below 1x1: at resolution %d the input to %s is %dx%d",
			   stride, b->min_res, what, b->side, b->side);
		b->side = 0;
		return;
	}
	b->side = (b->side + stride - 1) / stride;
}

static int cc_kind_fits(cc_space_b *b, const cc_tmpl *t, const char *where)
{
	if (b->image && t->kind == IR_BLOCK_DENSE) {
		lang_error(b->c->d, t->loc,
			   "dense blocks need tabular input ('input features = N;'), but %s takes images",
			   where);
		return 0;
	}
	if (!b->image && t->kind != IR_BLOCK_DENSE) {
		lang_error(b->c->d, t->loc,
			   "%s blocks need image input ('input channels = N;'), but %s takes features",
			   ir_block_names[t->kind], where);
		return 0;
	}
	return 1;
}

static void cc_read_input(cc_space_b *b, const ast_decl *dc, const ast_stmt *st)
{
	cc_ctx *c = b->c;
	if (!st) {
		lang_error(c->d, dc->name_loc,
			   "space '%s' has no 'input' (input channels = N; or input features = N;)",
			   dc->name);
		return;
	}
	const ast_arg *a = st->nargs == 1 ? st->args[0] : NULL;
	static const char *const kinds[] = {"channels", "features"};
	if (!a || !a->name || a->op != AST_OP_ASSIGN) {
		lang_error(c->d, st->loc, "'input' is written 'input channels = N;' or 'input features = N;'");
		return;
	}
	int k = !strcmp(a->name, "channels") ? 0 : !strcmp(a->name, "features") ? 1 : -1;
	if (k < 0) {
		cc_error_suggest(c, a->name_loc, a->name, kinds, 2,
				 "unknown input '%s' (channels or features)", a->name);
		return;
	}
	int v;
	if (cc_int(c, a->value, a->name, 1, k ? 1000000 : 4096, &v) == 0) {
		b->image = k == 0;
		b->s->in_channels = v;
		b->chans = v;
	}
}

static void cc_read_resolution(cc_space_b *b, const ast_decl *dc, const ast_stmt *st)
{
	cc_ctx *c = b->c;
	if (!b->s->in_channels)
		return;
	if (!b->image) {
		b->s->resolution = 1;
		if (st)
			lang_error(c->d, st->key_loc, "'resolution' applies to images, but space '%s' takes features",
				   dc->name);
		return;
	}
	if (!st) {
		lang_error(c->d, dc->name_loc, "space '%s' has no 'resolution' (resolution = 28; or resolution in {...};)",
			   dc->name);
		return;
	}
	int *v, n;
	if (cc_int_domain(c, st->op, st->value, "resolution", 1, 4096, &v, &n) < 0)
		return;
	b->s->resolution = v[n - 1];
	b->s->g_resolution = cc_gene_add(b, "resolution", v, n);
	b->min_res = v[0];
	b->side = v[0];
	free(v);
}

static void cc_read_stem(cc_space_b *b, const ast_stmt *st)
{
	cc_ctx *c = b->c;
	if (st->nargs != 1 || st->args[0]->name) {
		lang_error(c->d, st->loc, "'stem' is written 'stem conv(kernel = 3, out = 16, stride = 1);'");
		return;
	}
	cc_tmpl t;
	if (cc_tmpl_read(c, st->args[0]->value, 0, "the stem", &t) < 0)
		return;
	if (cc_kind_fits(b, &t, "this space")) {
		ir_layer *l = cc_layer_add(b);
		l->kind = t.kind;
		l->in_channels = b->chans;
		l->out_channels = cc_dom_max(&t.out);
		l->kernel = t.kind == IR_BLOCK_DENSE ? 0 : cc_dom_max(&t.kernel);
		l->stride = t.stride;
		l->expand = t.kind == IR_BLOCK_MBCONV ? cc_dom_max(&t.expand) : 1;
		l->act = t.act;
		l->se = t.se;
		b->chans = l->out_channels;
		cc_stride(b, t.stride, t.stride_arg, st->loc, "the stem");
	}
	cc_tmpl_clear(&t);
}

static void cc_read_stage(cc_space_b *b, const ast_stmt *st, int si)
{
	cc_ctx *c = b->c;
	ir_stage *sg = &b->s->stages[si];
	sg->name = cc_xstrdup(st->name);
	sg->first = b->s->nlayers;
	sg->g_depth = -1;
	char where[300];
	snprintf(where, sizeof where, "stage '%s'", st->name);
	const ast_stmt *k[T_COUNT];
	cc_scan(c, st->body, st->nbody, cc_stage_keys, T_COUNT, where, k);
	int *depths = NULL, nd = 0;
	int depth_ok = 1;
	if (k[T_DEPTH]) {
		/* On a bad depth, still check the block for more errors. */
		depth_ok = cc_int_domain(c, k[T_DEPTH]->op, k[T_DEPTH]->value, "depth", 1, 64, &depths,
					 &nd) == 0;
	}
	if (!depth_ok) {
		depths = cc_xmalloc(sizeof *depths);
		depths[0] = 1;
		nd = 1;
	} else if (!k[T_DEPTH]) {
		depths = cc_xmalloc(sizeof *depths);
		depths[0] = 1;
		nd = 1;
	}
	cc_tmpl t;
	if (!k[T_BLOCK]) {
		lang_error(c->d, st->name_loc, "stage '%s' has no 'block' (block = mbconv(out = 24);)",
			   st->name);
		free(depths);
		return;
	}
	if (cc_tmpl_read(c, k[T_BLOCK]->value, 1, where, &t) < 0 || !cc_kind_fits(b, &t, "this space") ||
	    !depth_ok) {
		cc_tmpl_clear(&t);
		free(depths);
		return;
	}
	sg->g_depth = cc_gene_add(b, (snprintf(where, sizeof where, "%s.depth", st->name), where),
				  depths, nd);
	int gk = -1, ge = -1, go = -1;
	if (t.kernel.shared)
		gk = cc_gene_addf(b, &t.kernel, st->name, -1, "kernel");
	if (t.expand.shared)
		ge = cc_gene_addf(b, &t.expand, st->name, -1, "expand");
	if (t.out.shared)
		go = cc_gene_addf(b, &t.out, st->name, -1, "out");
	int maxd = depths[nd - 1];
	/* An MBConv block has an identity shortcut only when its width equals
	 * its input's (subnet.c), so with a gene per block most subnets lose
	 * shortcuts that the largest and smallest, trained at every step,
	 * always have: the shared weights then serve two different functions,
	 * and the subnets in between pay for it. */
	if (t.kind == IR_BLOCK_MBCONV && t.out.n > 1 && !t.out.shared && maxd > 1)
		lang_warning(c->d, t.out.arg ? t.out.arg->loc : t.loc,
			     "stage '%s': each block gets its own 'out' gene, and a block wider or "
			     "narrower than its input loses its identity shortcut; write 'shared out "
			     "in {...}' for one width per stage (as OFA does)",
			     st->name);
	for (int i = 0; i < maxd; i++) {
		ir_layer *l = cc_layer_add(b);
		l->kind = t.kind;
		l->stage = si;
		l->index = i;
		l->in_channels = b->chans;
		l->out_channels = cc_dom_max(&t.out);
		l->kernel = t.kind == IR_BLOCK_DENSE ? 0 : cc_dom_max(&t.kernel);
		l->stride = i == 0 ? t.stride : 1;
		l->expand = t.kind == IR_BLOCK_MBCONV ? cc_dom_max(&t.expand) : 1;
		l->act = t.act;
		l->se = t.se;
		l->g_kernel = t.kernel.shared ? gk : cc_gene_addf(b, &t.kernel, st->name, i, "kernel");
		if (t.kind == IR_BLOCK_MBCONV)
			l->g_expand = t.expand.shared ? ge : cc_gene_addf(b, &t.expand, st->name, i, "expand");
		l->g_out = t.out.shared ? go : cc_gene_addf(b, &t.out, st->name, i, "out");
		b->chans = l->out_channels;
	}
	snprintf(where, sizeof where, "stage '%s'", st->name);
	cc_stride(b, t.stride, t.stride_arg, t.loc, where);
	sg->count = maxd;
	cc_tmpl_clear(&t);
	free(depths);
}

/* `fc(classes)`, `fc(10)`, `fc(out = 128, act = hswish)`; returns the
 * output count (0 for classes) or -1. */
static int cc_read_fc(cc_ctx *c, const ast_expr *e, int last, ir_act *act)
{
	int out = -2;
	*act = IR_ACT_NONE;
	for (int i = 0; e->kind == AST_EXPR_CALL && i < e->nargs; i++) {
		const ast_arg *a = e->args[i];
		const char *pn = a->name ? a->name : (i == 0 ? "out" : "");
		if (!strcmp(pn, "out") && (!a->name || a->op == AST_OP_ASSIGN)) {
			if (a->value->kind == AST_EXPR_IDENT && !strcmp(a->value->string, "classes")) {
				if (!last) {
					lang_error(c->d, a->loc, "only the last fc can have 'classes' outputs");
					return -1;
				}
				out = 0;
			} else if (cc_int(c, a->value, "out", 1, 1000000, &out) < 0) {
				return -1;
			}
		} else if (a->name && !strcmp(a->name, "act") && a->op == AST_OP_ASSIGN) {
			int k = cc_choice(c, a->value, "activation", ir_act_names, IR_ACT_COUNT);
			if (k < 0)
				return -1;
			*act = (ir_act)k;
		} else {
			static const char *const ps[] = {"out", "act"};
			cc_error_suggest(c, a->loc, a->name, ps, 2,
					 "fc takes 'classes', a number, 'out = N' and 'act = ...'");
			return -1;
		}
	}
	if (out == -2) {
		lang_error(c->d, e->loc, "fc needs its outputs: fc(classes) or fc(out = N)");
		return -1;
	}
	return out;
}

static void cc_read_head(cc_space_b *b, const ast_decl *dc, const ast_stmt *st)
{
	cc_ctx *c = b->c;
	if (!st) {
		lang_error(c->d, dc->name_loc, "space '%s' has no 'head' (head pool, fc(classes);)",
			   dc->name);
		return;
	}
	int pooled = !b->image;
	for (int i = 0; i < st->nargs; i++) {
		const ast_arg *a = st->args[i];
		const ast_expr *e = a->value;
		int last = i == st->nargs - 1;
		if (a->name || (e->kind != AST_EXPR_IDENT && e->kind != AST_EXPR_CALL)) {
			lang_error(c->d, a->loc, "a head is a list of layers: pool, fc(...)");
			return;
		}
		if (!strcmp(e->string, "pool") && (e->kind == AST_EXPR_IDENT || e->nargs == 0)) {
			ir_layer *l = cc_layer_add(b);
			l->kind = IR_BLOCK_POOL;
			l->in_channels = l->out_channels = b->chans;
			pooled = 1;
			b->side = 0;
		} else if (!strcmp(e->string, "fc")) {
			if (!pooled) {
				lang_error(c->d, e->loc, "fc needs a vector: put 'pool' before it to average the feature map");
				return;
			}
			ir_act act;
			int out = cc_read_fc(c, e, last, &act);
			if (out < 0)
				return;
			ir_layer *l = cc_layer_add(b);
			l->kind = IR_BLOCK_FC;
			l->in_channels = b->chans;
			l->out_channels = out;
			l->act = act;
			b->chans = out;
			if (last)
				b->s->nclasses = out;
		} else {
			static const char *const hs[] = {"pool", "fc"};
			cc_error_suggest(c, e->loc, e->string, hs, 2,
					 "unknown head layer '%s' (pool or fc)", e->string);
			return;
		}
		if (last && b->s->layers[b->s->nlayers - 1].kind != IR_BLOCK_FC)
			lang_error(c->d, e->loc, "the head must end with fc(classes) or fc(N)");
	}
}

double cc_space_subnets(const ir_space *s)
{
	double n = 1;
	for (int i = 0; i < s->ngenes; i++) {
		/* Genes of blocks past a smaller depth do not multiply; an upper
		 * bound is enough to tell one subnet from many. */
		n *= s->genes[i].nvalues;
	}
	return n;
}

int cc_lower_space(cc_ctx *c, cc_sym *sym)
{
	if (sym->state == CC_SYM_DONE)
		return sym->index;
	sym->state = CC_SYM_DONE;
	const ast_decl *dc = sym->decl;
	int errors = c->d->nerrors;
	if (dc->from)
		lang_error(c->d, dc->from->loc, "a space cannot be derived with 'from'");
	char where[300];
	snprintf(where, sizeof where, "space '%s'", dc->name);
	const ast_stmt *k[S_COUNT];
	cc_scan(c, dc->body, dc->nbody, cc_space_keys, S_COUNT, where, k);
	int idx = c->m->nspaces++;
	c->space_syms[idx] = sym;
	cc_space_b b = {0};
	b.c = c;
	b.s = &c->m->spaces[idx];
	b.s->name = cc_xstrdup(dc->name);
	b.s->g_resolution = -1;
	cc_read_input(&b, dc, k[S_INPUT]);
	cc_read_resolution(&b, dc, k[S_RESOLUTION]);
	int known = c->d->nerrors == errors;
	if (!known)
		b.side = 0;
	if (k[S_STEM] && b.s->in_channels)
		cc_read_stem(&b, k[S_STEM]);
	int nstages = 0;
	for (int i = 0; i < dc->nbody; i++)
		nstages += dc->body[i]->kind == AST_STMT_BLOCK && !strcmp(dc->body[i]->key, "stage");
	b.s->stages = cc_xcalloc((size_t)nstages + 1, sizeof *b.s->stages);
	const ast_stmt **seen = cc_xcalloc((size_t)nstages + 1, sizeof *seen);
	for (int i = 0; i < dc->nbody && b.s->in_channels; i++) {
		const ast_stmt *st = dc->body[i];
		if (st->kind != AST_STMT_BLOCK || strcmp(st->key, "stage"))
			continue;
		if (!st->name) {
			lang_error(c->d, st->key_loc, "a stage needs a name: stage NAME { ... }");
			continue;
		}
		int dup = -1;
		for (int j = 0; j < b.s->nstages && dup < 0; j++)
			if (!strcmp(seen[j]->name, st->name))
				dup = j;
		if (dup >= 0) {
			lang_error(c->d, st->name_loc, "duplicate stage '%s' in space '%s'", st->name,
				   dc->name);
			lang_note(c->d, seen[dup]->name_loc, "first defined here");
			continue;
		}
		seen[b.s->nstages] = st;
		cc_read_stage(&b, st, b.s->nstages++);
	}
	free(seen);
	if (!k[S_STAGE])
		lang_error(c->d, dc->name_loc,
			   "space '%s' has no stages (stage NAME { depth in 1..3; block = mbconv(out = 24); })",
			   dc->name);
	if (b.s->in_channels)
		cc_read_head(&b, dc, k[S_HEAD]);
	/* what the runtime can cut subnets from (sn_space_check) */
	if (c->d->nerrors == errors &&
	    (b.s->ngenes > IR_MAX_GENES || b.s->nlayers > IR_MAX_LAYERS))
		lang_error(c->d, dc->name_loc,
			   "space '%s' has %d genes and %d layers; at most %d genes and %d layers",
			   dc->name, b.s->ngenes, b.s->nlayers, IR_MAX_GENES, IR_MAX_LAYERS);
	for (int i = 0; c->d->nerrors == errors && i < b.s->ngenes; i++)
		if (b.s->genes[i].nvalues > IR_MAX_GENE_VALUES)
			lang_error(c->d, dc->name_loc,
				   "space '%s': gene %s has %d values; at most %d", dc->name,
				   b.s->genes[i].name, b.s->genes[i].nvalues, IR_MAX_GENE_VALUES);
	if (c->d->nerrors == errors && cc_space_subnets(b.s) < 2)
		lang_warning(c->d, dc->name_loc,
			     "space '%s' has only one subnet: there is nothing to search (give a choice such as 'depth in 1..3')",
			     dc->name);
	sym->index = c->d->nerrors == errors ? idx : -1;
	return sym->index;
}
