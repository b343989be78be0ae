/*
 * lower_dataset.c — `dataset NAME [from BASE [where label in {...}]] {...}`:
 * files and format, shape, classes, splits, normalisation, augmentation.
 *
 * A derived dataset starts as a copy of its base; a `where` filter keeps
 * the listed labels of the base (ir_dataset.classes holds the ORIGINAL
 * labels kept, in ascending order); then its own keys override.  Relative
 * paths are made absolute against the directory of the declaring file, so
 * the IR does not depend on where archc ran.
 */
#include "compiler/cc_priv.h"

#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

enum {
	K_FORMAT, K_TRAIN_IMAGES, K_TRAIN_LABELS, K_TEST_IMAGES, K_TEST_LABELS, K_TRAIN, K_TEST,
	K_LABEL, K_SKIP_ROWS, K_CHANNELS, K_HEIGHT, K_WIDTH, K_FEATURES, K_CLASSES, K_HOLDOUT,
	K_TRAIN_LIMIT, K_NORMALIZE, K_AUGMENT, K_SEED, K_COUNT
};

static const cc_key cc_dataset_keys[K_COUNT] = {
	{"format", CC_F_ASSIGN, "format = idx | csv;"},
	{"train_images", CC_F_ASSIGN, "train_images = \"PATH\";"},
	{"train_labels", CC_F_ASSIGN, "train_labels = \"PATH\";"},
	{"test_images", CC_F_ASSIGN, "test_images = \"PATH\";"},
	{"test_labels", CC_F_ASSIGN, "test_labels = \"PATH\";"},
	{"train", CC_F_ASSIGN, "train = \"PATH\";"},
	{"test", CC_F_ASSIGN, "test = \"PATH\"; or test = ROWS;"},
	{"label", CC_F_ASSIGN, "label = last | first | COLUMN;"},
	{"skip_rows", CC_F_ASSIGN, "skip_rows = N;"},
	{"channels", CC_F_ASSIGN, "channels = N;"},
	{"height", CC_F_ASSIGN, "height = N;"},
	{"width", CC_F_ASSIGN, "width = N;"},
	{"features", CC_F_ASSIGN, "features = N;"},
	{"classes", CC_F_ASSIGN, "classes = N;"},
	{"holdout", CC_F_ASSIGN, "holdout = N;"},
	{"train_limit", CC_F_ASSIGN, "train_limit = N;"},
	{"normalize", CC_F_ASSIGN, "normalize = none | standard | fixed(mean = M, std = S);"},
	{"augment", CC_F_ASSIGN, "augment = {crop(pad = 2), flip}; or augment = none;"},
	{"seed", CC_F_ASSIGN, "seed = N;"},
};

#define CC_BIG 1000000000L

static char *cc_dup_or_null(const char *s)
{
	return s ? cc_xstrdup(s) : NULL;
}

static void cc_dataset_copy(ir_dataset *dst, const ir_dataset *src)
{
	char *name = dst->name;
	*dst = *src;
	dst->name = name;
	dst->train_images = cc_dup_or_null(src->train_images);
	dst->train_labels = cc_dup_or_null(src->train_labels);
	dst->test_images = cc_dup_or_null(src->test_images);
	dst->test_labels = cc_dup_or_null(src->test_labels);
	dst->classes = cc_xmalloc((size_t)(src->nclasses ? src->nclasses : 1) * sizeof(int));
	if (src->nclasses)
		memcpy(dst->classes, src->classes, (size_t)src->nclasses * sizeof(int));
}

/* Keeps the labels a `where label in {...}` names.  d holds the base's
 * fields (nclasses 0 when the base failed: then only the syntax is
 * checked).  Returns 0 or -1. */
static int cc_apply_filter(cc_ctx *c, ir_dataset *d, const ast_expr *w, const char *base)
{
	if (strcmp(w->string, "label")) {
		static const char *const fields[] = {"label"};
		lang_loc loc = w->loc;
		cc_error_suggest(c, loc, w->string, fields, 1,
				 "a dataset can be filtered only by 'label', not by '%s'", w->string);
		return -1;
	}
	const ast_expr *rhs = w->hi;
	if (w->op == AST_OP_IN && rhs->kind == AST_EXPR_SET && rhs->nitems == 0) {
		lang_error(c->d, rhs->loc, "the filter leaves no class: the set of labels is empty");
		return -1;
	}
	if (w->op == AST_OP_IN && rhs->kind == AST_EXPR_RANGE && rhs->lo->kind == AST_EXPR_NUMBER &&
	    rhs->hi->kind == AST_EXPR_NUMBER && rhs->lo->number > rhs->hi->number) {
		lang_error(c->d, rhs->loc, "the filter leaves no class: the range %s..%s is empty",
			   rhs->lo->text, rhs->hi->text);
		return -1;
	}
	if (w->op != AST_OP_IN && w->op != AST_OP_EQ) {
		lang_error(c->d, w->loc, "a label filter is written 'where label in {...}' or 'where label == N'");
		return -1;
	}
	int *labels, n;
	if (cc_int_domain(c, w->op == AST_OP_EQ ? AST_OP_ASSIGN : AST_OP_IN, rhs, "label", 0,
			  CC_BIG, &labels, &n) < 0)
		return -1;
	int bad = 0;
	if (d->nclasses > 0) {
		for (int i = 0; i < n; i++)
			if (labels[i] >= d->nclasses) {
				lang_loc at = rhs->loc;
				for (int j = 0; rhs->kind == AST_EXPR_SET && j < rhs->nitems; j++)
					if (rhs->items[j]->number == labels[i])
						at = rhs->items[j]->loc;
				lang_error(c->d, at,
					   "label %d is outside 0..%d: dataset '%s' has %d classes",
					   labels[i], d->nclasses - 1, base, d->nclasses);
				bad = 1;
				break;
			}
		if (!bad && n == 1)
			lang_warning(c->d, rhs->loc,
				     "the filter keeps a single class; a classifier needs at least two");
		if (!bad) {
			int *kept = cc_xmalloc((size_t)n * sizeof *kept);
			for (int i = 0; i < n; i++)
				kept[i] = d->classes[labels[i]];
			free(d->classes);
			d->classes = kept;
			d->nclasses = n;
		}
	}
	free(labels);
	return bad ? -1 : 0;
}

static ir_dataset *cc_dataset_slot(cc_ctx *c, int *index)
{
	*index = c->m->ndatasets++;
	return &c->m->datasets[*index];
}

int cc_dataset_filter(cc_ctx *c, int base, const ast_expr *where, const char *name)
{
	int idx;
	ir_dataset *d = cc_dataset_slot(c, &idx);
	d->name = cc_xstrdup(name);
	const ir_dataset *b = &c->m->datasets[base];
	cc_dataset_copy(d, b);
	return cc_apply_filter(c, d, where, b->name) < 0 ? -1 : idx;
}

static void cc_set_path(cc_ctx *c, const cc_sym *sym, const ast_stmt *s, char **field)
{
	const char *p;
	if (!s || cc_string(c, s->value, s->key, &p) < 0)
		return;
	free(*field);
	*field = cc_path_join(sym->unit->dir, p);
}

static void cc_read_augment(cc_ctx *c, ir_dataset *d, const ast_expr *e)
{
	d->crop_pad = 0;
	d->flip = 0;
	if (e->kind == AST_EXPR_IDENT && !strcmp(e->string, "none"))
		return;
	if (e->kind == AST_EXPR_SET && e->nitems == 0) {
		lang_error(c->d, e->loc, "empty set for 'augment': write 'augment = none;' for no augmentation");
		return;
	}
	int n = e->kind == AST_EXPR_SET ? e->nitems : 1;
	const ast_expr *seen[8] = {0};
	for (int i = 0; i < n; i++) {
		const ast_expr *item = e->kind == AST_EXPR_SET ? e->items[i] : e;
		ir_call call;
		int k = cc_call(c, item, "augmentation", cc_augment_methods, cc_augment_nmethods, 0,
				&call);
		if (k >= 0 && seen[k]) {
			lang_error(c->d, item->loc, "augmentation '%s' is listed twice", call.name);
			lang_note(c->d, seen[k]->loc, "first given here");
		} else if (k == 0) {
			d->crop_pad = (int)cc_call_num(&call, "pad");
		} else if (k == 1) {
			d->flip = 1;
		}
		if (k >= 0)
			seen[k] = item;
		cc_call_clear(&call);
	}
}

static void cc_read_normalize(cc_ctx *c, ir_dataset *d, const ast_expr *e)
{
	ir_call call;
	int k = cc_call(c, e, "normalization", cc_normalize_methods, cc_normalize_nmethods, 1,
			&call);
	if (k == -1) {
		d->normalize = IR_NORM_NONE;
	} else if (k == 0) {
		d->normalize = IR_NORM_STANDARD;
	} else if (k == 1) {
		d->normalize = IR_NORM_FIXED;
		d->mean = cc_call_num(&call, "mean");
		d->std = cc_call_num(&call, "std");
		if (d->std <= 0)
			lang_error(c->d, e->loc, "the std of fixed() must be positive");
	}
	d->mean = d->normalize == IR_NORM_FIXED ? d->mean : 0;
	d->std = d->normalize == IR_NORM_FIXED ? d->std : 0;
	cc_call_clear(&call);
}

static void cc_read_label(cc_ctx *c, ir_dataset *d, const ast_expr *e)
{
	if (e->kind == AST_EXPR_IDENT) {
		static const char *const ends[] = {"last", "first"};
		int k = cc_choice(c, e, "label", ends, 2);
		if (k >= 0)
			d->label_column = k == 0 ? -1 : 0;
		return;
	}
	if (e->kind != AST_EXPR_NUMBER) {
		lang_error(c->d, e->loc, "expected last, first or a column number for 'label', got %s",
			   cc_expr_what(e));
		return;
	}
	int col;
	if (cc_int(c, e, "label", 0, 100000, &col) == 0)
		d->label_column = col;
}

/* Reads the keys given in the body over d. */
static void cc_dataset_keys_apply(cc_ctx *c, const cc_sym *sym, ir_dataset *d,
				  const ast_stmt *const *k)
{
	int v;
	if (k[K_FORMAT]) {
		int f = cc_choice(c, k[K_FORMAT]->value, "format", ir_format_names, IR_FORMAT_COUNT);
		if (f >= 0)
			d->format = (ir_format)f;
	}
	cc_set_path(c, sym, k[K_TRAIN_IMAGES], &d->train_images);
	cc_set_path(c, sym, k[K_TRAIN_LABELS], &d->train_labels);
	cc_set_path(c, sym, k[K_TEST_IMAGES], &d->test_images);
	cc_set_path(c, sym, k[K_TEST_LABELS], &d->test_labels);
	cc_set_path(c, sym, k[K_TRAIN], &d->train_images);
	if (k[K_TEST]) {
		const ast_expr *e = k[K_TEST]->value;
		if (e->kind == AST_EXPR_NUMBER) {
			if (cc_int(c, e, "test", 1, CC_BIG, &v) == 0) {
				d->test_count = v;
				free(d->test_images);
				d->test_images = NULL;
			}
		} else if (e->kind == AST_EXPR_STRING) {
			cc_set_path(c, sym, k[K_TEST], &d->test_images);
			d->test_count = 0;
		} else {
			lang_error(c->d, e->loc, "expected a path or a row count for 'test', got %s",
				   cc_expr_what(e));
		}
	}
	if (k[K_LABEL])
		cc_read_label(c, d, k[K_LABEL]->value);
	if (k[K_SKIP_ROWS] && cc_int(c, k[K_SKIP_ROWS]->value, "skip_rows", 0, CC_BIG, &v) == 0)
		d->skip_rows = v;
	if (k[K_FEATURES] && cc_int(c, k[K_FEATURES]->value, "features", 1, CC_BIG, &v) == 0) {
		d->channels = v;
		d->height = d->width = 1;
	}
	if (k[K_CHANNELS] && cc_int(c, k[K_CHANNELS]->value, "channels", 1, 4096, &v) == 0)
		d->channels = v;
	if (k[K_HEIGHT] && cc_int(c, k[K_HEIGHT]->value, "height", 1, 65536, &v) == 0)
		d->height = v;
	if (k[K_WIDTH] && cc_int(c, k[K_WIDTH]->value, "width", 1, 65536, &v) == 0)
		d->width = v;
	if (k[K_HOLDOUT] && cc_int(c, k[K_HOLDOUT]->value, "holdout", 0, CC_BIG, &v) == 0)
		d->holdout = v;
	if (k[K_TRAIN_LIMIT] &&
	    cc_int(c, k[K_TRAIN_LIMIT]->value, "train_limit", 0, CC_BIG, &v) == 0)
		d->train_limit = v;
	if (k[K_NORMALIZE])
		cc_read_normalize(c, d, k[K_NORMALIZE]->value);
	if (k[K_AUGMENT])
		cc_read_augment(c, d, k[K_AUGMENT]->value);
	if (k[K_SEED] && cc_int(c, k[K_SEED]->value, "seed", 0, CC_BIG, &v) == 0)
		d->seed = (uint64_t)v;
}

/* Keys that only one format reads. */
static void cc_dataset_format_keys(cc_ctx *c, const ir_dataset *d, const ast_stmt *const *k)
{
	static const int idx_only[] = {K_TRAIN_IMAGES, K_TRAIN_LABELS, K_TEST_IMAGES, K_TEST_LABELS};
	static const int csv_only[] = {K_TRAIN, K_TEST, K_LABEL, K_SKIP_ROWS};
	const int *other = d->format == IR_FORMAT_IDX ? csv_only : idx_only;
	for (int i = 0; i < 4; i++)
		if (k[other[i]])
			lang_error(c->d, k[other[i]]->key_loc, "'%s' applies only to %s datasets, and this one is %s",
				   k[other[i]]->key, d->format == IR_FORMAT_IDX ? "csv" : "idx",
				   ir_format_names[d->format]);
	if (k[K_FEATURES] && (k[K_CHANNELS] || k[K_HEIGHT] || k[K_WIDTH])) {
		const ast_stmt *s = k[K_CHANNELS] ? k[K_CHANNELS] : k[K_HEIGHT] ? k[K_HEIGHT] : k[K_WIDTH];
		lang_error(c->d, s->key_loc, "'%s' describes images, but the dataset gives 'features' (tabular)",
			   s->key);
		lang_note(c->d, k[K_FEATURES]->key_loc, "'features' is given here");
	}
}

/* The keys a complete dataset needs, whether inherited or given. */
static void cc_dataset_required(cc_ctx *c, const ast_decl *dc, const ir_dataset *d,
				const ast_stmt *const *k, int have_format)
{
	const char *n = dc->name;
	if (!have_format) {
		lang_error(c->d, dc->name_loc, "dataset '%s' has no 'format' (idx or csv)", n);
		return;
	}
	if (d->format == IR_FORMAT_IDX) {
		const char *miss[4];
		int nm = 0;
		if (!d->train_images)
			miss[nm++] = "train_images";
		if (!d->train_labels)
			miss[nm++] = "train_labels";
		if (!d->test_images)
			miss[nm++] = "test_images";
		if (!d->test_labels)
			miss[nm++] = "test_labels";
		if (nm) {
			char list[128] = "";
			for (int i = 0; i < nm; i++) {
				strcat(list, i ? (i == nm - 1 ? " and " : ", ") : "");
				strcat(list, miss[i]);
			}
			lang_error(c->d, dc->name_loc, "idx dataset '%s' has no %s", n, list);
		}
	} else {
		if (!d->train_images)
			lang_error(c->d, dc->name_loc, "csv dataset '%s' has no 'train' file", n);
		if (!d->test_images && !d->test_count)
			lang_error(c->d, dc->name_loc,
				   "csv dataset '%s' has no 'test' (a file, or a number of rows to carve)",
				   n);
	}
	if (!d->channels || !d->height || !d->width) {
		if (k[K_HEIGHT] || k[K_WIDTH] || k[K_CHANNELS] || !d->channels)
			lang_error(c->d, dc->name_loc,
				   "dataset '%s' has no shape: give 'height' and 'width' (and 'channels') for images, or 'features' for tabular data",
				   n);
	}
	if (!d->nclasses)
		lang_error(c->d, dc->name_loc, "dataset '%s' has no 'classes'", n);
}

int cc_lower_dataset(cc_ctx *c, cc_sym *sym)
{
	if (sym->state == CC_SYM_DONE)
		return sym->index;
	const ast_decl *dc = sym->decl;
	if (sym->state == CC_SYM_BUSY) {
		lang_error(c->d, dc->name_loc, "dataset '%s' is derived from itself", dc->name);
		return -1;
	}
	sym->state = CC_SYM_BUSY;
	int errors = c->d->nerrors;
	int base = -1, base_failed = 0;
	const ast_expr *where = NULL;
	if (dc->from) {
		const ast_expr *be = dc->from;
		if (be->kind == AST_EXPR_WHERE) {
			where = be;
			be = be->lo;
		}
		cc_sym *bs = cc_resolve(c, AST_DECL_DATASET, be, "from");
		if (bs)
			base = cc_lower_base(c, bs, be->loc, cc_lower_dataset);
		base_failed = base < 0;
	}
	const ast_stmt *k[K_COUNT];
	char where_s[300];
	snprintf(where_s, sizeof where_s, "dataset '%s'", dc->name);
	cc_scan(c, dc->body, dc->nbody, cc_dataset_keys, K_COUNT, where_s, k);
	int idx;
	ir_dataset *d = cc_dataset_slot(c, &idx);
	d->name = cc_xstrdup(dc->name);
	d->label_column = -1;
	if (base >= 0) {
		cc_dataset_copy(d, &c->m->datasets[base]);
		if (where)
			cc_apply_filter(c, d, where, c->m->datasets[base].name);
	} else if (where && base_failed) {
		ir_dataset scratch = {0};
		cc_apply_filter(c, &scratch, where, "");
	}
	if (dc->from && k[K_CLASSES]) {
		lang_error(c->d, k[K_CLASSES]->key_loc,
			   "a derived dataset takes its classes from its base; keep some with 'where label in {...}'");
	} else if (k[K_CLASSES]) {
		int v;
		if (cc_int(c, k[K_CLASSES]->value, "classes", 2, 1000000, &v) == 0) {
			d->nclasses = v;
			d->classes = cc_xmalloc((size_t)v * sizeof(int));
			for (int i = 0; i < v; i++)
				d->classes[i] = i;
		}
	}
	cc_dataset_keys_apply(c, sym, d, k);
	int have_format = k[K_FORMAT] != NULL || base >= 0;
	if (have_format)
		cc_dataset_format_keys(c, d, k);
	if (!base_failed && c->d->nerrors == errors)
		cc_dataset_required(c, dc, d, k, have_format);
	if (d->train_limit && d->holdout >= d->train_limit) {
		const ast_stmt *s = k[K_HOLDOUT] ? k[K_HOLDOUT] : k[K_TRAIN_LIMIT];
		lang_error(c->d, s ? s->loc : dc->name_loc,
			   "holdout %d leaves no training examples (train_limit = %d)", d->holdout,
			   d->train_limit);
	} else if (d->train_limit && d->holdout * 2 > d->train_limit) {
		const ast_stmt *s = k[K_HOLDOUT] ? k[K_HOLDOUT] : k[K_TRAIN_LIMIT];
		lang_warning(c->d, s ? s->loc : dc->name_loc,
			     "holdout %d is more than half of the %d training examples", d->holdout,
			     d->train_limit);
	}
	sym->state = CC_SYM_DONE;
	sym->index = c->d->nerrors == errors && !base_failed ? idx : -1;
	return sym->index;
}
