/*
 * ir_binary.c — the `.air` file: writing, atomic saving, and a reader that
 * trusts nothing it reads.
 *
 * Layout (docs/ir.md has the byte-level reference): magic, u32 version,
 * five sections (u32 tag, u64 length, payload) in a fixed order, then the
 * XXH3-64 of everything before it.  The reader checks, in this order, the
 * magic, the version, the section framing (so a short file is reported as
 * truncated), the checksum, and then every payload: each length is checked
 * against what is left before anything is read or allocated, every count is
 * capped, every index must point into its list, and the module must be in
 * canonical form, so that one meaning has exactly one encoding (and id).
 */
#include "compiler/ir.h"

#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/ir_enc.h"

/* Caps on what a file may declare, far above any real module. */
#define IR_MAX_COUNT (1u << 24)

static const char *const section_names[IR_SECTION_COUNT + 1] = {
    NULL, "datasets", "spaces", "tasks", "objectives", "targets"};

/* --- reading primitives ----------------------------------------------------- */

typedef struct reader {
	const uint8_t *p, *end; /* the unread rest of the current section */
	char *err;
	size_t errlen;
	int failed;
	char ctx[128]; /* what is being read, e.g. "tasks[2] (footwear)" */
} reader;

static void fail(reader *r, const char *fmt, ...)
{
	if (r->failed)
		return;
	r->failed = 1;
	if (!r->err || !r->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
}

/* Fails unless n more bytes are left in the section. */
static int need(reader *r, size_t n)
{
	if (r->failed)
		return 0;
	if ((size_t)(r->end - r->p) < n) {
		fail(r, "malformed: %s runs past the end of its section", r->ctx);
		return 0;
	}
	return 1;
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static unsigned rd_u8(reader *r)
{
	if (!need(r, 1))
		return 0;
	return *r->p++;
}

static uint32_t rd_u32(reader *r)
{
	if (!need(r, 4))
		return 0;
	uint32_t v = (uint32_t)get_le(r->p, 4);
	r->p += 4;
	return v;
}

static int rd_i32(reader *r)
{
	uint32_t u = rd_u32(r);
	/* Two's complement back to int without implementation-defined casts. */
	return u <= INT_MAX ? (int)u : -(int)(UINT32_MAX - u) - 1;
}

static uint64_t rd_u64(reader *r)
{
	if (!need(r, 8))
		return 0;
	uint64_t v = get_le(r->p, 8);
	r->p += 8;
	return v;
}

static double rd_f64(reader *r, const char *field)
{
	uint64_t bits = rd_u64(r);
	double v;
	memcpy(&v, &bits, sizeof v);
	if (!r->failed && ir_enc_f64_bits(v) != bits)
		fail(r, "not canonical: %s: %s is a negative zero or a non-canonical NaN", r->ctx,
		     field);
	return v;
}

static int rd_bool(reader *r, const char *field)
{
	unsigned v = rd_u8(r);
	if (v > 1)
		fail(r, "malformed: %s: %s is %u, not a boolean", r->ctx, field, v);
	return (int)v;
}

static int rd_enum(reader *r, int count, const char *field)
{
	unsigned v = rd_u8(r);
	if (v >= (unsigned)count)
		fail(r, "malformed: %s: %s %u is not a known value (0..%d)", r->ctx, field, v,
		     count - 1);
	return (int)v;
}

/* A string; *out is NULL for the NULL marker.  Returns 0 on failure. */
static int rd_str(reader *r, char **out, const char *field)
{
	*out = NULL;
	uint32_t n = rd_u32(r);
	if (r->failed)
		return 0;
	if (n == IR_NULL_STRING)
		return 1;
	if ((size_t)(r->end - r->p) < n) {
		fail(r, "malformed: %s: %s length %u runs past the end of its section", r->ctx,
		     field, n);
		return 0;
	}
	if (memchr(r->p, 0, n)) {
		fail(r, "malformed: %s: %s contains a NUL byte", r->ctx, field);
		return 0;
	}
	char *s = malloc((size_t)n + 1);
	if (!s) {
		fail(r, "out of memory reading %s", r->ctx);
		return 0;
	}
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	*out = s;
	return 1;
}

/* A name that must be present. */
static char *rd_name(reader *r, const char *field)
{
	char *s;
	if (rd_str(r, &s, field) && !s)
		fail(r, "malformed: %s: %s is missing", r->ctx, field);
	return s;
}

/* A list length: capped, and at least min_item bytes per element must be
 * left, so a lying count cannot make us allocate. */
static int rd_count(reader *r, size_t min_item, const char *what)
{
	uint32_t n = rd_u32(r);
	if (r->failed)
		return 0;
	if (n > IR_MAX_COUNT) {
		fail(r, "malformed: %s: %u %s is more than the limit of %u", r->ctx, n, what,
		     IR_MAX_COUNT);
		return 0;
	}
	if ((uint64_t)n * min_item > (uint64_t)(r->end - r->p)) {
		fail(r, "malformed: %s: %u %s do not fit in what is left of the section", r->ctx, n,
		     what);
		return 0;
	}
	return (int)n;
}

static void *rd_alloc(reader *r, int n, size_t size)
{
	if (r->failed)
		return NULL;
	void *p = calloc(n ? (size_t)n : 1, size);
	if (!p)
		fail(r, "out of memory reading %s", r->ctx);
	return p;
}

/* Sets the context to "LIST[i]" and, once known, " (name)" when the name is
 * printable, so every message says which declaration is wrong. */
static void set_ctx(reader *r, const char *list, int i, const char *name)
{
	int n = snprintf(r->ctx, sizeof r->ctx, "%s[%d]", list, i);
	if (!name || n < 0 || (size_t)n >= sizeof r->ctx)
		return;
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			return;
	snprintf(r->ctx + n, sizeof r->ctx - (size_t)n, " (%.60s)", name);
}

/* -1 or an index into a list of n. */
static void check_ref(reader *r, int idx, int n, int none_ok, const char *field,
                      const char *list)
{
	if (r->failed || (none_ok && idx == -1) || (idx >= 0 && idx < n))
		return;
	fail(r, "malformed: %s: %s %d is out of range (%d %s)", r->ctx, field, idx, n, list);
}

/* --- sections ----------------------------------------------------------------- */

static void rd_dataset(reader *r, void *elem)
{
	ir_dataset *d = elem;
	d->format = (ir_format)rd_enum(r, IR_FORMAT_COUNT, "format");
	rd_str(r, &d->train_images, "train_images");
	rd_str(r, &d->train_labels, "train_labels");
	rd_str(r, &d->test_images, "test_images");
	rd_str(r, &d->test_labels, "test_labels");
	d->label_column = rd_i32(r);
	d->skip_rows = rd_i32(r);
	d->test_count = rd_i32(r);
	d->channels = rd_i32(r);
	d->height = rd_i32(r);
	d->width = rd_i32(r);
	d->nclasses = rd_i32(r);
	int nlist = rd_count(r, 4, "class labels");
	if (!r->failed && nlist != 0 && nlist != d->nclasses)
		fail(r, "malformed: %s: %d class labels for %d classes", r->ctx, nlist, d->nclasses);
	if (!r->failed && nlist) {
		d->classes = rd_alloc(r, nlist, sizeof *d->classes);
		for (int i = 0; d->classes && i < nlist; i++)
			d->classes[i] = rd_i32(r);
	}
	if (!r->failed && d->nclasses < 0)
		fail(r, "malformed: %s: %d classes", r->ctx, d->nclasses);
	d->holdout = rd_i32(r);
	d->train_limit = rd_i32(r);
	d->normalize = (ir_norm)rd_enum(r, IR_NORM_COUNT, "normalize");
	d->mean = rd_f64(r, "mean");
	d->std = rd_f64(r, "std");
	d->crop_pad = rd_i32(r);
	d->flip = rd_bool(r, "flip");
	d->seed = rd_u64(r);
}

static void rd_gene(reader *r, ir_gene *g, int i)
{
	g->name = rd_name(r, "gene name");
	int n = rd_count(r, 8, "gene values");
	if (r->failed)
		return;
	g->values = rd_alloc(r, n, sizeof *g->values);
	if (!g->values)
		return;
	g->nvalues = n;
	for (int j = 0; j < n; j++)
		g->values[j] = rd_f64(r, "gene value");
	if (r->failed)
		return;
	if (n == 0)
		fail(r, "malformed: %s: gene %d has no values", r->ctx, i);
	for (int j = 1; j < n && !r->failed; j++)
		if (ir_f64_order(g->values[j - 1], g->values[j]) >= 0)
			fail(r, "malformed: %s: gene %d's values are not ascending and distinct", r->ctx,
			     i);
}

static void rd_space(reader *r, void *elem)
{
	ir_space *s = elem;
	s->in_channels = rd_i32(r);
	s->resolution = rd_i32(r);
	s->g_resolution = rd_i32(r);
	s->nclasses = rd_i32(r);
	int n = rd_count(r, 8, "genes");
	s->genes = rd_alloc(r, n, sizeof *s->genes);
	if (!s->genes)
		return;
	s->ngenes = n;
	for (int i = 0; i < n && !r->failed; i++)
		rd_gene(r, &s->genes[i], i);
	check_ref(r, s->g_resolution, s->ngenes, 1, "resolution gene", "genes");
	n = rd_count(r, 16, "stages");
	s->stages = rd_alloc(r, n, sizeof *s->stages);
	if (!s->stages)
		return;
	s->nstages = n;
	for (int i = 0; i < n && !r->failed; i++) {
		ir_stage *st = &s->stages[i];
		st->name = rd_name(r, "stage name");
		st->first = rd_i32(r);
		st->count = rd_i32(r);
		st->g_depth = rd_i32(r);
		check_ref(r, st->g_depth, s->ngenes, 1, "stage depth gene", "genes");
	}
	n = rd_count(r, 47, "layers");
	s->layers = rd_alloc(r, n, sizeof *s->layers);
	if (!s->layers)
		return;
	s->nlayers = n;
	for (int i = 0; i < n && !r->failed; i++) {
		ir_layer *l = &s->layers[i];
		l->kind = (ir_block)rd_enum(r, IR_BLOCK_COUNT, "layer kind");
		l->stage = rd_i32(r);
		l->index = rd_i32(r);
		l->in_channels = rd_i32(r);
		l->out_channels = rd_i32(r);
		l->kernel = rd_i32(r);
		l->stride = rd_i32(r);
		l->expand = rd_f64(r, "expand");
		l->act = (ir_act)rd_enum(r, IR_ACT_COUNT, "act");
		l->se = rd_bool(r, "se");
		l->g_kernel = rd_i32(r);
		l->g_expand = rd_i32(r);
		l->g_out = rd_i32(r);
		check_ref(r, l->stage, s->nstages, 1, "layer stage", "stages");
		check_ref(r, l->g_kernel, s->ngenes, 1, "layer kernel gene", "genes");
		check_ref(r, l->g_expand, s->ngenes, 1, "layer expand gene", "genes");
		check_ref(r, l->g_out, s->ngenes, 1, "layer out gene", "genes");
	}
	for (int i = 0; i < s->nstages && !r->failed; i++) {
		const ir_stage *st = &s->stages[i];
		if (st->first < 0 || st->count < 0 || st->first > s->nlayers ||
		    st->count > s->nlayers - st->first)
			fail(r, "malformed: %s: stage %d's layers [%d, %d + %d) are outside the %d layers",
			     r->ctx, i, st->first, st->first, st->count, s->nlayers);
	}
}

static void rd_recipe(reader *r, ir_recipe *rc)
{
	rc->epochs = rd_i32(r);
	rc->batch = rd_i32(r);
	rc->lr = rd_f64(r, "lr");
	rc->momentum = rd_f64(r, "momentum");
	rc->wd = rd_f64(r, "wd");
	rc->nesterov = rd_bool(r, "nesterov");
	rc->wd_decoupled = rd_bool(r, "wd_decoupled");
	rc->schedule = (ir_schedule)rd_enum(r, IR_SCHEDULE_COUNT, "schedule");
	rc->warmup = rd_f64(r, "warmup");
	rc->label_smoothing = rd_f64(r, "label_smoothing");
	rc->sampler = (ir_sampler)rd_enum(r, IR_SAMPLER_COUNT, "sampler");
	rc->sampler_n = rd_i32(r);
	rc->distill = (ir_distill)rd_enum(r, IR_DISTILL_COUNT, "distill");
	unsigned n = rd_u8(r);
	if (!r->failed && n > IR_MAX_SHRINK)
		fail(r, "malformed: %s: %u shrinking phases, at most %d", r->ctx, n, IR_MAX_SHRINK);
	rc->nshrink = r->failed ? 0 : (int)n;
	for (int i = 0; i < rc->nshrink; i++)
		rc->shrink[i] = (ir_shrink)rd_enum(r, IR_SHRINK_COUNT, "shrink phase");
	rc->calib_images = rd_i32(r);
	rc->seed = rd_u64(r);
}

static void rd_call(reader *r, ir_call *c, const char *what)
{
	rd_str(r, &c->name, what);
	int n = rd_count(r, 5, "parameters");
	c->params = rd_alloc(r, n, sizeof *c->params);
	if (!c->params)
		return;
	c->nparams = n;
	for (int i = 0; i < n && !r->failed; i++) {
		ir_param *p = &c->params[i];
		p->key = rd_name(r, "parameter key");
		p->kind = (ir_value_kind)rd_enum(r, IR_VALUE_COUNT, "parameter kind");
		if (r->failed)
			return;
		if (p->kind == IR_VALUE_NUMBER)
			p->number = rd_f64(r, "parameter value");
		else if (p->kind == IR_VALUE_BOOL)
			p->number = rd_bool(r, "parameter value");
		else
			rd_str(r, &p->string, "parameter value");
		if (i > 0 && !r->failed && ir_param_order(&c->params[i - 1], p) >= 0)
			fail(r, "not canonical: %s: %s parameters are not sorted by key, or repeat one",
			     r->ctx, what);
	}
}

static void rd_task(reader *r, void *elem)
{
	ir_task *t = elem;
	t->dataset = rd_i32(r);
	t->space = rd_i32(r);
	t->from = rd_i32(r);
	rd_recipe(r, &t->recipe);
	rd_call(r, &t->adapt, "adapt");
	rd_call(r, &t->pretrain, "pretrain");
	rd_call(r, &t->search, "search");
	t->objective = rd_i32(r);
	if (need(r, sizeof t->supernet_key)) {
		memcpy(t->supernet_key, r->p, sizeof t->supernet_key);
		r->p += sizeof t->supernet_key;
	}
}

static void rd_objective(reader *r, void *elem)
{
	ir_objective *o = elem;
	int n = rd_count(r, 2, "terms");
	o->metrics = rd_alloc(r, n, sizeof *o->metrics);
	o->maximize = rd_alloc(r, n, sizeof *o->maximize);
	if (!o->metrics || !o->maximize)
		return;
	o->nterms = n;
	for (int i = 0; i < n; i++) {
		o->metrics[i] = (ir_metric)rd_enum(r, IR_METRIC_COUNT, "metric");
		o->maximize[i] = rd_bool(r, "maximize");
	}
}

static void rd_target(reader *r, void *elem)
{
	ir_target *g = elem;
	int n = rd_count(r, 10, "constraints");
	g->constraints = rd_alloc(r, n, sizeof *g->constraints);
	if (!g->constraints)
		return;
	g->nconstraints = n;
	for (int i = 0; i < n && !r->failed; i++) {
		ir_constraint *c = &g->constraints[i];
		c->metric = (ir_metric)rd_enum(r, IR_METRIC_COUNT, "metric");
		c->cmp = (ir_cmp)rd_enum(r, IR_CMP_COUNT, "comparison");
		c->value = rd_f64(r, "constraint value");
		if (i > 0 && !r->failed && ir_constraint_order(&g->constraints[i - 1], c) > 0)
			fail(r, "not canonical: %s: constraints are not sorted", r->ctx);
	}
}

typedef void read_fn(reader *r, void *elem);

/* Reads one list section and returns its array (n elements of the given
 * size, possibly partly read on failure, NULL when nothing was allocated):
 * a count, then for each element its name (at name_off; it must sort after
 * the previous one) and the rest via fn. */
static void *rd_list(reader *r, int tag, int *n, size_t size, size_t name_off, read_fn *fn)
{
	const char *sect = section_names[tag];
	snprintf(r->ctx, sizeof r->ctx, "section %s", sect);
	int cnt = rd_count(r, ir_enc_min_size(tag), sect);
	char *arr = rd_alloc(r, cnt, size);
	if (!arr)
		return NULL;
	*n = cnt;
	const char *prev = NULL;
	for (int i = 0; i < cnt && !r->failed; i++) {
		char *elem = arr + (size_t)i * size;
		set_ctx(r, sect, i, NULL);
		char *name = rd_name(r, "name");
		memcpy(elem + name_off, &name, sizeof name);
		if (r->failed)
			break;
		set_ctx(r, sect, i, name);
		if (prev && strcmp(prev, name) >= 0)
			fail(r, "not canonical: %s: names are not sorted, or repeat one", r->ctx);
		prev = name;
		fn(r, elem);
	}
	return arr;
}

/* Checks that need the whole module: references between sections, the
 * transfer chains, and the supernet keys. */
static void check_module(reader *r, const ir_module *m)
{
	for (int i = 0; i < m->ntasks && !r->failed; i++) {
		const ir_task *t = &m->tasks[i];
		set_ctx(r, "tasks", i, t->name);
		check_ref(r, t->dataset, m->ndatasets, 0, "dataset", "datasets");
		check_ref(r, t->space, m->nspaces, 0, "space", "spaces");
		check_ref(r, t->from, m->ntasks, 1, "from", "tasks");
		check_ref(r, t->objective, m->nobjectives, 1, "objective", "objectives");
	}
	/* A chain of `from` longer than the number of tasks has a cycle. */
	for (int i = 0; i < m->ntasks && !r->failed; i++) {
		int at = m->tasks[i].from, steps = 0;
		while (at != -1 && steps <= m->ntasks) {
			at = m->tasks[at].from;
			steps++;
		}
		if (at != -1) {
			set_ctx(r, "tasks", i, m->tasks[i].name);
			fail(r, "malformed: %s: its `from` chain loops", r->ctx);
		}
	}
	for (int i = 0; i < m->ntasks && !r->failed; i++) {
		uint8_t key[16];
		ir_task_supernet_key(m, i, key);
		if (memcmp(key, m->tasks[i].supernet_key, sizeof key) != 0) {
			set_ctx(r, "tasks", i, m->tasks[i].name);
			fail(r, "not canonical: %s: its supernet key does not match its space, dataset "
			        "and recipe (written by an older archc? compile the source again)",
			     r->ctx);
		}
	}
}

/* Walks the section headers without reading payloads, so that a short file
 * is reported as truncated rather than corrupted.  Returns the offset of
 * the checksum, or 0 on failure. */
static size_t frame(reader *r, const uint8_t *buf, size_t len)
{
	size_t pos = IR_HEADER_LEN;
	for (int i = 0; i < IR_SECTION_COUNT; i++) {
		if (len - pos < IR_SECTION_HEADER_LEN) {
			fail(r, "truncated file: it ends inside the header of section %d (at byte %zu)",
			     i + 1, len);
			return 0;
		}
		uint64_t n = get_le(buf + pos + 4, 8);
		pos += IR_SECTION_HEADER_LEN;
		if (n > len - pos) {
			fail(r, "truncated file: section %d needs %llu bytes, %zu are left", i + 1,
			     (unsigned long long)n, len - pos);
			return 0;
		}
		pos += (size_t)n;
	}
	if (len - pos < IR_CHECKSUM_LEN) {
		fail(r, "truncated file: the checksum is cut off");
		return 0;
	}
	if (len - pos > IR_CHECKSUM_LEN) {
		fail(r, "malformed: %zu bytes after the checksum", len - pos - IR_CHECKSUM_LEN);
		return 0;
	}
	return pos;
}

/*
 * ir_binary_is_air — true when buf starts with the .air magic.
 */
int ir_binary_is_air(const uint8_t *buf, size_t len)
{
	return len >= IR_MAGIC_LEN && memcmp(buf, ir_magic, IR_MAGIC_LEN) == 0;
}

/*
 * ir_binary_read — see ir.h.  Never reads outside [buf, buf + len) and
 * never allocates more than the file could describe.
 */
ir_module *ir_binary_read(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	reader r = {.err = err, .errlen = errlen};
	if (err && errlen)
		err[0] = '\0';
	if (len == 0) {
		fail(&r, "truncated file: it is empty");
		return NULL;
	}
	size_t head = len < IR_MAGIC_LEN ? len : IR_MAGIC_LEN;
	if (memcmp(buf, ir_magic, head) != 0) {
		fail(&r, "not an .air file (bad magic)");
		return NULL;
	}
	if (len < IR_HEADER_LEN) {
		fail(&r, "truncated file: %zu bytes, shorter than the header", len);
		return NULL;
	}
	uint32_t version = (uint32_t)get_le(buf + IR_MAGIC_LEN, 4);
	if (version > IR_VERSION) {
		fail(&r, "made by a newer archc: version %u, this build reads up to %d", version,
		     IR_VERSION);
		return NULL;
	}
	if (version == 0) {
		fail(&r, "malformed: version 0 does not exist");
		return NULL;
	}
	size_t sum_at = frame(&r, buf, len);
	if (!sum_at)
		return NULL;
	if (XXH3_64bits(buf, sum_at) != get_le(buf + sum_at, 8)) {
		fail(&r, "corrupted: checksum mismatch");
		return NULL;
	}

	ir_module *m = calloc(1, sizeof *m);
	if (!m) {
		fail(&r, "out of memory");
		return NULL;
	}
	size_t pos = IR_HEADER_LEN;
	for (uint32_t want = 1; want <= IR_SECTION_COUNT && !r.failed; want++) {
		uint32_t tag = (uint32_t)get_le(buf + pos, 4);
		uint64_t n = get_le(buf + pos + 4, 8);
		pos += IR_SECTION_HEADER_LEN;
		if (tag == 0 || tag > IR_SECTION_COUNT) {
			fail(&r, "malformed: unknown section tag %u", tag);
			break;
		}
		if (tag != want) {
			fail(&r, "malformed: section %s where %s belongs", section_names[tag],
			     section_names[want]);
			break;
		}
		r.p = buf + pos;
		r.end = r.p + n;
		pos += (size_t)n;
		switch (tag) {
		case IR_SECTION_DATASETS:
			m->datasets = rd_list(&r, tag, &m->ndatasets, sizeof *m->datasets,
			        offsetof(ir_dataset, name), rd_dataset);
			break;
		case IR_SECTION_SPACES:
			m->spaces = rd_list(&r, tag, &m->nspaces, sizeof *m->spaces,
			        offsetof(ir_space, name), rd_space);
			break;
		case IR_SECTION_TASKS:
			m->tasks = rd_list(&r, tag, &m->ntasks, sizeof *m->tasks, offsetof(ir_task, name),
			        rd_task);
			break;
		case IR_SECTION_OBJECTIVES:
			m->objectives = rd_list(&r, tag, &m->nobjectives, sizeof *m->objectives,
			        offsetof(ir_objective, name), rd_objective);
			break;
		case IR_SECTION_TARGETS:
			m->targets = rd_list(&r, tag, &m->ntargets, sizeof *m->targets,
			        offsetof(ir_target, name), rd_target);
			break;
		}
		if (!r.failed && r.p != r.end)
			fail(&r, "malformed: %zu unused bytes at the end of section %s",
			     (size_t)(r.end - r.p), section_names[tag]);
	}
	if (!r.failed)
		check_module(&r, m);
	if (!r.failed && ir_check_values(m, err, errlen) != 0)
		r.failed = 1;
	if (r.failed) {
		ir_module_free(m);
		return NULL;
	}
	return m;
}

/*
 * ir_binary_write — see ir.h.  Writes the module as it is; the reader
 * accepts the result only if the module was canonicalised first.
 */
int ir_binary_write(const ir_module *m, uint8_t **out, size_t *len)
{
	/* Counting first costs a fraction of what growing the buffer would. */
	ir_sink count = {.mode = IR_SINK_COUNT};
	ir_enc_module(&count, m);
	ir_sink s = {.mode = IR_SINK_BUFFER, .cap = count.len + IR_CHECKSUM_LEN};
	s.buf = malloc(s.cap);
	if (!s.buf)
		return -1;
	ir_enc_module(&s, m);
	if (!s.failed)
		ir_sink_u64(&s, XXH3_64bits(s.buf, s.len));
	if (s.failed) {
		free(s.buf);
		return -1;
	}
	*out = s.buf;
	*len = s.len;
	return 0;
}
