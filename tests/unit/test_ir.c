/*
 * test_ir.c — the IR's binary form, checksum, canonical order and identity.
 *
 * Modules are built by hand with every field set and several declarations
 * of each kind.  Run with `--write-seeds DIR` to write them as .air files
 * (the fuzzer's seed corpus) instead of testing; `--dump` prints the main
 * fixture's text form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "compiler/ir.h"

/* --- building modules ----------------------------------------------------- */

static char *dupstr(const char *s)
{
	if (!s)
		return NULL;
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

static void *zalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	assert_non_null(p);
	return p;
}

static void add_param_num(ir_call *c, const char *key, double v)
{
	c->params = realloc(c->params, (size_t)(c->nparams + 1) * sizeof *c->params);
	assert_non_null(c->params);
	c->params[c->nparams++] = (ir_param){.key = dupstr(key), .kind = IR_VALUE_NUMBER, .number = v};
}

static void add_param_bool(ir_call *c, const char *key, int v)
{
	c->params = realloc(c->params, (size_t)(c->nparams + 1) * sizeof *c->params);
	assert_non_null(c->params);
	c->params[c->nparams++] = (ir_param){.key = dupstr(key), .kind = IR_VALUE_BOOL, .number = v};
}

static void add_param_str(ir_call *c, const char *key, const char *v)
{
	c->params = realloc(c->params, (size_t)(c->nparams + 1) * sizeof *c->params);
	assert_non_null(c->params);
	c->params[c->nparams++] =
	    (ir_param){.key = dupstr(key), .kind = IR_VALUE_STRING, .string = dupstr(v)};
}

static ir_dataset *add_dataset(ir_module *m, const char *name)
{
	m->datasets = realloc(m->datasets, (size_t)(m->ndatasets + 1) * sizeof *m->datasets);
	assert_non_null(m->datasets);
	ir_dataset *d = &m->datasets[m->ndatasets++];
	memset(d, 0, sizeof *d);
	d->name = dupstr(name);
	return d;
}

static void fill_idx_dataset(ir_dataset *d, int filtered)
{
	d->format = IR_FORMAT_IDX;
	d->train_images = dupstr("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
	d->train_labels = dupstr("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
	d->test_images = dupstr("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
	d->test_labels = dupstr("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
	d->label_column = -1;
	d->channels = 1;
	d->height = 28;
	d->width = 28;
	if (filtered) {
		static const int keep[] = {5, 7, 9};
		d->nclasses = 3;
		d->classes = zalloc(3, sizeof *d->classes);
		memcpy(d->classes, keep, sizeof keep);
	} else {
		d->nclasses = 10;
	}
	d->holdout = 2000;
	d->train_limit = 10000;
	d->normalize = IR_NORM_FIXED;
	d->mean = 0.2860;
	d->std = 0.3530;
	d->crop_pad = 2;
	d->flip = 1;
	d->seed = UINT64_C(0x123456789abcdef0);
}

static void fill_csv_dataset(ir_dataset *d)
{
	d->format = IR_FORMAT_CSV;
	d->train_images = dupstr("/usr/lib/python3/dist-packages/sklearn/datasets/data/wine_data.csv");
	d->test_images = NULL;
	d->train_labels = dupstr(""); /* "" and NULL are different values */
	d->label_column = 0;
	d->skip_rows = 1;
	d->test_count = 30;
	d->channels = 13;
	d->height = 1;
	d->width = 1;
	d->nclasses = 3;
	d->classes = zalloc(3, sizeof *d->classes);
	for (int i = 0; i < 3; i++)
		d->classes[i] = i;
	d->normalize = IR_NORM_STANDARD;
	d->seed = 7;
}

static int add_gene(ir_space *s, const char *name, int n, const double *values)
{
	s->genes = realloc(s->genes, (size_t)(s->ngenes + 1) * sizeof *s->genes);
	assert_non_null(s->genes);
	ir_gene *g = &s->genes[s->ngenes];
	g->name = dupstr(name);
	g->nvalues = n;
	g->values = zalloc((size_t)n, sizeof *g->values);
	memcpy(g->values, values, (size_t)n * sizeof *values);
	return s->ngenes++;
}

static ir_layer *add_layer(ir_space *s, ir_block kind, int stage, int index, int in, int out,
                           int kernel, int stride)
{
	s->layers = realloc(s->layers, (size_t)(s->nlayers + 1) * sizeof *s->layers);
	assert_non_null(s->layers);
	ir_layer *l = &s->layers[s->nlayers++];
	*l = (ir_layer){.kind = kind, .stage = stage, .index = index, .in_channels = in,
	                .out_channels = out, .kernel = kernel, .stride = stride, .expand = 1,
	                .act = IR_ACT_RELU, .g_kernel = -1, .g_expand = -1, .g_out = -1};
	return l;
}

static void add_stage(ir_space *s, const char *name, int first, int count, int g_depth)
{
	s->stages = realloc(s->stages, (size_t)(s->nstages + 1) * sizeof *s->stages);
	assert_non_null(s->stages);
	s->stages[s->nstages++] =
	    (ir_stage){.name = dupstr(name), .first = first, .count = count, .g_depth = g_depth};
}

static ir_space *add_space(ir_module *m, const char *name)
{
	m->spaces = realloc(m->spaces, (size_t)(m->nspaces + 1) * sizeof *m->spaces);
	assert_non_null(m->spaces);
	ir_space *s = &m->spaces[m->nspaces++];
	memset(s, 0, sizeof *s);
	s->name = dupstr(name);
	return s;
}

/* An OFA-like space: stem, two elastic stages with per-block genes, head. */
static void fill_mbnet(ir_space *s)
{
	static const double res[] = {20, 24, 28};
	static const double k[] = {3, 5, 7};
	static const double e[] = {2, 3, 4.5};
	static const double d1[] = {1, 2};
	static const double d2[] = {2, 3};
	s->in_channels = 1;
	s->resolution = 28;
	s->g_resolution = add_gene(s, "resolution", 3, res);
	s->nclasses = 0;
	add_layer(s, IR_BLOCK_CONV, -1, 0, 1, 16, 3, 1);
	static const char *const stage_names[] = {"s1", "s2"};
	const double *depths[] = {d1, d2};
	int in = 16;
	for (int st = 0; st < 2; st++) {
		char buf[64];
		snprintf(buf, sizeof buf, "%s.depth", stage_names[st]);
		int gd = add_gene(s, buf, 2, depths[st]);
		int first = s->nlayers;
		int count = st == 0 ? 2 : 3;
		int out = st == 0 ? 24 : 40;
		for (int b = 0; b < count; b++) {
			snprintf(buf, sizeof buf, "%s.b%d.kernel", stage_names[st], b);
			int gk = add_gene(s, buf, 3, k);
			snprintf(buf, sizeof buf, "%s.b%d.expand", stage_names[st], b);
			int ge = add_gene(s, buf, 3, e);
			ir_layer *l = add_layer(s, IR_BLOCK_MBCONV, st, b, in, out, 7, b == 0 ? 2 : 1);
			l->expand = 4.5;
			l->act = st == 0 ? IR_ACT_RELU : IR_ACT_HSWISH;
			l->se = st == 1;
			l->g_kernel = gk;
			l->g_expand = ge;
			in = out;
		}
		add_stage(s, stage_names[st], first, count, gd);
	}
	ir_layer *pool = add_layer(s, IR_BLOCK_POOL, -1, 0, in, in, 0, 1);
	pool->act = IR_ACT_NONE;
	ir_layer *fc = add_layer(s, IR_BLOCK_FC, -1, 0, in, 10, 0, 1);
	fc->act = IR_ACT_NONE;
}

/* A tabular space with an elastic width gene. */
static void fill_mlp(ir_space *s)
{
	static const double w[] = {16, 32, 64};
	s->in_channels = 13;
	s->resolution = 1;
	s->g_resolution = -1;
	s->nclasses = 3;
	int gw = add_gene(s, "d1.width", 3, w);
	ir_layer *l = add_layer(s, IR_BLOCK_DENSE, 0, 0, 13, 64, 0, 1);
	l->g_out = gw;
	add_stage(s, "d1", 0, 1, -1);
	ir_layer *fc = add_layer(s, IR_BLOCK_FC, -1, 0, 64, 3, 0, 1);
	fc->act = IR_ACT_NONE;
}

static ir_task *add_task(ir_module *m, const char *name, int dataset, int space)
{
	m->tasks = realloc(m->tasks, (size_t)(m->ntasks + 1) * sizeof *m->tasks);
	assert_non_null(m->tasks);
	ir_task *t = &m->tasks[m->ntasks++];
	memset(t, 0, sizeof *t);
	t->name = dupstr(name);
	t->dataset = dataset;
	t->space = space;
	t->from = -1;
	t->objective = -1;
	ir_recipe *r = &t->recipe;
	r->epochs = 8;
	r->batch = 128;
	r->lr = 0.1;
	r->momentum = 0.9;
	r->wd = 4e-5;
	r->nesterov = 1;
	r->wd_decoupled = 0;
	r->schedule = IR_SCHEDULE_COSINE;
	r->warmup = 1;
	r->label_smoothing = 0.1;
	r->sampler = IR_SAMPLER_SANDWICH;
	r->sampler_n = 4;
	r->distill = IR_DISTILL_LABELS;
	r->nshrink = 3;
	r->shrink[0] = IR_SHRINK_KERNEL;
	r->shrink[1] = IR_SHRINK_DEPTH;
	r->shrink[2] = IR_SHRINK_EXPAND;
	r->calib_images = 2000;
	r->seed = 1;
	return t;
}

static ir_objective *add_objective(ir_module *m, const char *name, int n, const ir_metric *mt,
                                   const int *max)
{
	m->objectives =
	    realloc(m->objectives, (size_t)(m->nobjectives + 1) * sizeof *m->objectives);
	assert_non_null(m->objectives);
	ir_objective *o = &m->objectives[m->nobjectives++];
	o->name = dupstr(name);
	o->nterms = n;
	o->metrics = zalloc((size_t)n, sizeof *o->metrics);
	o->maximize = zalloc((size_t)n, sizeof *o->maximize);
	memcpy(o->metrics, mt, (size_t)n * sizeof *mt);
	memcpy(o->maximize, max, (size_t)n * sizeof *max);
	return o;
}

static ir_target *add_target(ir_module *m, const char *name)
{
	m->targets = realloc(m->targets, (size_t)(m->ntargets + 1) * sizeof *m->targets);
	assert_non_null(m->targets);
	ir_target *t = &m->targets[m->ntargets++];
	memset(t, 0, sizeof *t);
	t->name = dupstr(name);
	return t;
}

static void add_constraint(ir_target *t, ir_metric metric, ir_cmp cmp, double value)
{
	t->constraints =
	    realloc(t->constraints, (size_t)(t->nconstraints + 1) * sizeof *t->constraints);
	assert_non_null(t->constraints);
	t->constraints[t->nconstraints++] = (ir_constraint){metric, cmp, value};
}

/*
 * The main fixture, declared out of canonical order on purpose.  When
 * reversed is set the same declarations come in the opposite order (and
 * parameters and constraints too), which must not change the id.
 */
static ir_module *fixture(int reversed)
{
	ir_module *m = ir_module_new();
	/* datasets: 0 fashion_small, 1 wine, 2 footwear (reversed: 2 1 0) */
	const char *dnames[] = {"fashion_small", "wine", "footwear"};
	for (int k = 0; k < 3; k++) {
		int i = reversed ? 2 - k : k;
		ir_dataset *d = add_dataset(m, dnames[i]);
		if (i == 1)
			fill_csv_dataset(d);
		else
			fill_idx_dataset(d, i == 2);
	}
#define DIDX(i) (reversed ? 2 - (i) : (i))
	const char *snames[] = {"mbnet", "mlp"};
	for (int k = 0; k < 2; k++) {
		int i = reversed ? 1 - k : k;
		ir_space *s = add_space(m, snames[i]);
		if (i == 0)
			fill_mbnet(s);
		else
			fill_mlp(s);
	}
#define SIDX(i) (reversed ? 1 - (i) : (i))
	/* objectives: 0 default, 1 accurate */
	static const ir_metric om0[] = {IR_METRIC_ACCURACY, IR_METRIC_MACS, IR_METRIC_LATENCY};
	static const int ox0[] = {1, 0, 0};
	static const ir_metric om1[] = {IR_METRIC_ACCURACY, IR_METRIC_PARAMS};
	static const int ox1[] = {1, 0};
	for (int k = 0; k < 2; k++) {
		int i = reversed ? 1 - k : k;
		if (i == 0)
			add_objective(m, "default", 3, om0, ox0);
		else
			add_objective(m, "accurate", 2, om1, ox1);
	}
#define OIDX(i) (reversed ? 1 - (i) : (i))
	/* tasks: 0 fashion, 1 wine_mlp, 2 footwear (from fashion) */
	for (int k = 0; k < 3; k++) {
		int i = reversed ? 2 - k : k;
		ir_task *t;
		if (i == 0) {
			t = add_task(m, "fashion", DIDX(0), SIDX(0));
			t->objective = OIDX(0);
			add_param_str(&t->pretrain, "mode", "supervised");
			t->pretrain.name = dupstr("supervised");
			if (reversed) {
				add_param_num(&t->search, "samples", 100);
				add_param_str(&t->search, "predictor", "auto");
				add_param_num(&t->search, "population", 64);
			} else {
				add_param_num(&t->search, "population", 64);
				add_param_str(&t->search, "predictor", "auto");
				add_param_num(&t->search, "samples", 100);
			}
		} else if (i == 1) {
			t = add_task(m, "wine_mlp", DIDX(1), SIDX(1));
			t->recipe.sampler = IR_SAMPLER_RANDOM;
			t->recipe.nshrink = 0;
			t->recipe.schedule = IR_SCHEDULE_CONSTANT;
			t->recipe.wd_decoupled = 1;
			t->objective = OIDX(1);
			t->pretrain.name = dupstr("selfsup");
			add_param_bool(&t->pretrain, "linear_probe", 1);
		} else {
			t = add_task(m, "footwear", DIDX(2), SIDX(0));
			t->from = reversed ? 2 : 0; /* fashion */
			t->adapt.name = dupstr("nat");
			if (reversed) {
				add_param_num(&t->adapt, "iterations", 4);
				add_param_bool(&t->adapt, "finetune", 0);
			} else {
				add_param_bool(&t->adapt, "finetune", 0);
				add_param_num(&t->adapt, "iterations", 4);
			}
			add_param_str(&t->adapt, "note", NULL);
		}
	}
	/* targets: phone, mcu, server */
	const char *gnames[] = {"phone", "mcu", "server"};
	for (int k = 0; k < 3; k++) {
		int i = reversed ? 2 - k : k;
		ir_target *g = add_target(m, gnames[i]);
		if (i == 0 && !reversed) {
			add_constraint(g, IR_METRIC_LATENCY, IR_CMP_LE, 1.5e-3);
			add_constraint(g, IR_METRIC_MACS, IR_CMP_LE, 2e6);
			add_constraint(g, IR_METRIC_MACS, IR_CMP_GE, 1e5);
		} else if (i == 0) {
			add_constraint(g, IR_METRIC_MACS, IR_CMP_GE, 1e5);
			add_constraint(g, IR_METRIC_MACS, IR_CMP_LE, 2e6);
			add_constraint(g, IR_METRIC_LATENCY, IR_CMP_LE, 1.5e-3);
		} else if (i == 1) {
			add_constraint(g, IR_METRIC_PARAMS, IR_CMP_LE, 50e3);
			add_constraint(g, IR_METRIC_MEMORY, IR_CMP_LT, 64 * 1024);
		} else {
			add_constraint(g, IR_METRIC_ACCURACY, IR_CMP_GT, 0.9);
		}
	}
#undef DIDX
#undef SIDX
#undef OIDX
	ir_module_canonicalize(m);
	return m;
}

/* One declaration of each kind: a small seed mutates faster. */
static ir_module *small_module(void)
{
	ir_module *m = ir_module_new();
	fill_csv_dataset(add_dataset(m, "d"));
	fill_mlp(add_space(m, "s"));
	ir_task *t = add_task(m, "t", 0, 0);
	t->objective = 0;
	add_param_num(&t->search, "population", 8);
	static const ir_metric mt[] = {IR_METRIC_ACCURACY, IR_METRIC_PARAMS};
	static const int mx[] = {1, 0};
	add_objective(m, "o", 2, mt, mx);
	add_constraint(add_target(m, "g"), IR_METRIC_PARAMS, IR_CMP_LE, 5000);
	ir_module_canonicalize(m);
	return m;
}

/* --- helpers -------------------------------------------------------------- */

static char *dump_string(const ir_module *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	ir_dump(m, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static uint8_t *encode(const ir_module *m, size_t *len)
{
	uint8_t *buf = NULL;
	assert_int_equal(ir_binary_write(m, &buf, len), 0);
	assert_non_null(buf);
	return buf;
}

/* Recomputes the trailing checksum after a deliberate edit, so that the
 * reader's checks after the checksum are what refuses the file. */
static void reseal(uint8_t *buf, size_t len)
{
	uint64_t h = XXH3_64bits(buf, len - 8);
	for (int i = 0; i < 8; i++)
		buf[len - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
}

/* Reads buf and expects a refusal whose one-line reason contains want. */
static void expect_refused(const uint8_t *buf, size_t len, const char *want)
{
	char err[256] = "";
	ir_module *m = ir_binary_read(buf, len, err, sizeof err);
	if (m) {
		ir_module_free(m);
		fail_msg("accepted a file that should be refused (%s)", want);
	}
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
	if (want && !strstr(err, want))
		fail_msg("reason \"%s\" does not mention \"%s\"", err, want);
}

/* Writes m as it is (not canonicalised again) and expects the reader to
 * refuse it for the reason want. */
static void expect_module_refused(ir_module *m, const char *want)
{
	size_t len;
	uint8_t *buf = encode(m, &len);
	expect_refused(buf, len, want);
	free(buf);
	ir_module_free(m);
}

static int ids_equal(const ir_module *a, const ir_module *b)
{
	ir_id x = ir_module_id(a), y = ir_module_id(b);
	return memcmp(x.bytes, y.bytes, 16) == 0;
}

/* --- round trip ------------------------------------------------------------ */

static void test_round_trip(void **state)
{
	(void)state;
	ir_module *m = fixture(0);
	size_t len;
	uint8_t *buf = encode(m, &len);
	assert_true(ir_binary_is_air(buf, len));
	char err[256];
	ir_module *back = ir_binary_read(buf, len, err, sizeof err);
	if (!back)
		fail_msg("refused its own output: %s", err);
	char *d1 = dump_string(m), *d2 = dump_string(back);
	assert_string_equal(d1, d2);
	size_t len2;
	uint8_t *buf2 = encode(back, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	assert_true(ids_equal(m, back));
	for (int i = 0; i < m->ntasks; i++)
		assert_memory_equal(m->tasks[i].supernet_key, back->tasks[i].supernet_key, 16);
	free(d1);
	free(d2);
	free(buf);
	free(buf2);
	ir_module_free(back);
	ir_module_free(m);
}

static void test_small_module(void **state)
{
	(void)state;
	ir_module *m = small_module();
	size_t len;
	uint8_t *buf = encode(m, &len);
	char err[256];
	ir_module *back = ir_binary_read(buf, len, err, sizeof err);
	if (!back)
		fail_msg("refused: %s", err);
	assert_int_equal(back->ntasks, 1);
	assert_int_equal(back->tasks[0].objective, 0);
	assert_true(ids_equal(m, back));
	free(buf);
	ir_module_free(back);
	ir_module_free(m);
}

static void test_empty_module(void **state)
{
	(void)state;
	ir_module *m = ir_module_new();
	ir_module_canonicalize(m);
	size_t len;
	uint8_t *buf = encode(m, &len);
	/* magic, version, five empty sections (count 0), checksum */
	assert_int_equal(len, 8 + 4 + 5 * (12 + 4) + 8);
	char err[256];
	ir_module *back = ir_binary_read(buf, len, err, sizeof err);
	assert_non_null(back);
	assert_int_equal(back->ndatasets + back->nspaces + back->ntasks + back->nobjectives +
	                     back->ntargets,
	                 0);
	char *d = dump_string(back);
	assert_int_equal(strncmp(d, "module xxh3:", 12), 0);
	assert_int_equal(strlen(d), 12 + 32 + 1);
	free(d);
	free(buf);
	ir_module_free(back);
	ir_module_free(m);
}

/* --- refusals ---------------------------------------------------------------- */

static void test_truncation_refused(void **state)
{
	(void)state;
	ir_module *m = fixture(0);
	size_t len;
	uint8_t *buf = encode(m, &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* A copy of exactly cut bytes, so ASan sees any read past it. */
		uint8_t *part = malloc(cut ? cut : 1);
		assert_non_null(part);
		memcpy(part, buf, cut);
		expect_refused(part, cut, "truncated");
		free(part);
	}
	free(buf);
	ir_module_free(m);
}

static void test_corruption_refused(void **state)
{
	(void)state;
	ir_module *m = fixture(0);
	size_t len;
	uint8_t *buf = encode(m, &len);
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	for (size_t at = 0; at < len; at++) {
		for (size_t f = 0; f < sizeof flips; f++) {
			buf[at] ^= flips[f];
			expect_refused(buf, len, NULL);
			buf[at] ^= flips[f];
		}
	}
	/* A payload byte: caught by the checksum. */
	buf[100] ^= 1;
	expect_refused(buf, len, "corrupted: checksum mismatch");
	buf[100] ^= 1;
	/* The first byte: not ours at all. */
	buf[0] = 'P';
	expect_refused(buf, len, "not an .air file");
	expect_refused((const uint8_t *)"PK\3\4", 4, "not an .air file");
	free(buf);
	ir_module_free(m);
}

static void test_newer_version_refused(void **state)
{
	(void)state;
	ir_module *m = fixture(0);
	size_t len;
	uint8_t *buf = encode(m, &len);
	buf[8] = IR_VERSION + 1;
	char want[128];
	snprintf(want, sizeof want, "made by a newer archc: version %d, this build reads up to %d",
	         IR_VERSION + 1, IR_VERSION);
	expect_refused(buf, len, want); /* before the checksum: it may differ */
	buf[8] = 0;
	buf[11] = 0x80;
	expect_refused(buf, len, "made by a newer archc: version 2147483648");
	buf[11] = 0;
	reseal(buf, len);
	expect_refused(buf, len, "version 0");
	free(buf);
	ir_module_free(m);
}

/* Edits inside a sealed file that the checksum cannot catch. */
static void test_framing_refused(void **state)
{
	(void)state;
	ir_module *m = ir_module_new();
	size_t len;
	uint8_t *buf = encode(m, &len);
	/* sections start at 12: tag(4) length(8) count(4) */
	buf[12] = 9;
	reseal(buf, len);
	expect_refused(buf, len, "unknown section tag 9");
	buf[12] = 2;
	reseal(buf, len);
	expect_refused(buf, len, "section spaces where datasets belongs");
	buf[12] = 1;
	buf[24] = 1; /* one dataset, but no bytes for it */
	reseal(buf, len);
	expect_refused(buf, len, "do not fit");
	buf[24] = 0;
	/* A longer section with an unused byte in it. */
	uint8_t *big = malloc(len + 1);
	assert_non_null(big);
	memcpy(big, buf, 28);
	big[16] = 5;
	memcpy(big + 29, buf + 28, len - 28);
	big[28] = 0;
	reseal(big, len + 1);
	expect_refused(big, len + 1, "unused bytes at the end of section datasets");
	/* Bytes after the checksum. */
	memcpy(big, buf, len);
	big[len] = 0;
	expect_refused(big, len + 1, "after the checksum");
	free(big);
	free(buf);
	ir_module_free(m);
}

static void test_bad_index_refused(void **state)
{
	(void)state;
	ir_module *m = fixture(0);
	m->tasks[0].dataset = 3;
	expect_module_refused(m, "tasks[0] (fashion): dataset 3 is out of range (3 datasets)");

	m = fixture(0);
	m->tasks[1].space = -1;
	expect_module_refused(m, "space -1 is out of range");

	m = fixture(0);
	m->tasks[2].from = 7;
	expect_module_refused(m, "from 7 is out of range");

	m = fixture(0);
	m->tasks[2].objective = 2;
	expect_module_refused(m, "objective 2 is out of range");

	m = fixture(0);
	m->spaces[0].layers[1].g_kernel = 13;
	expect_module_refused(m, "spaces[0] (mbnet): layer kernel gene 13 is out of range (13 genes)");

	m = fixture(0);
	m->spaces[1].layers[0].g_out = -2;
	expect_module_refused(m, "layer out gene -2");

	m = fixture(0);
	m->spaces[0].layers[2].stage = 2;
	expect_module_refused(m, "layer stage 2 is out of range (2 stages)");

	m = fixture(0);
	m->spaces[0].stages[1].count = 6;
	expect_module_refused(m, "stage 1's layers [3, 3 + 6) are outside the 8 layers");

	m = fixture(0);
	m->spaces[0].stages[0].first = -1;
	expect_module_refused(m, "stage 0's layers");

	m = fixture(0);
	m->spaces[0].stages[0].g_depth = 40;
	expect_module_refused(m, "stage depth gene 40");

	m = fixture(0);
	m->spaces[0].g_resolution = 13;
	expect_module_refused(m, "resolution gene 13");

	/* A transfer chain that loops: fashion from footwear from fashion. */
	m = fixture(0);
	m->tasks[0].from = 1;
	expect_module_refused(m, "chain loops");
}

static void test_bad_values_refused(void **state)
{
	(void)state;
	ir_module *m = fixture(0);
	m->spaces[0].genes[2].values[1] = 3;
	ir_module_canonicalize(m);
	expect_module_refused(m, "gene 2's values are not ascending and distinct");

	m = fixture(0);
	m->spaces[1].genes[0].nvalues = 0;
	ir_module_canonicalize(m);
	expect_module_refused(m, "gene 0 has no values");

	m = fixture(0);
	m->datasets[0].name[0] = 'z'; /* zashion_small after footwear */
	expect_module_refused(m, "not canonical: datasets[1] (footwear): names are not sorted");

	m = fixture(0);
	free(m->targets[2].name);
	m->targets[2].name = strdup("phone");
	expect_module_refused(m, "targets[2] (phone): names are not sorted, or repeat one");

	m = fixture(0);
	ir_param tmp = m->tasks[0].search.params[0];
	m->tasks[0].search.params[0] = m->tasks[0].search.params[1];
	m->tasks[0].search.params[1] = tmp;
	expect_module_refused(m, "search parameters are not sorted by key");

	m = fixture(0);
	ir_constraint c = m->targets[1].constraints[0];
	m->targets[1].constraints[0] = m->targets[1].constraints[1];
	m->targets[1].constraints[1] = c;
	expect_module_refused(m, "targets[1] (phone): constraints are not sorted");

	m = fixture(0);
	m->tasks[1].supernet_key[3] ^= 1;
	expect_module_refused(m, "tasks[1] (footwear): its supernet key does not match");

	m = fixture(0);
	free(m->spaces[0].stages[0].name);
	m->spaces[0].stages[0].name = NULL;
	expect_module_refused(m, "stage name is missing");

	m = fixture(0);
	free(m->tasks[0].search.params[0].key);
	m->tasks[0].search.params[0].key = strdup("a\tb");
	m->tasks[0].search.params[1].key[0] = 'b';
	free(m->tasks[0].name);
	m->tasks[0].name = strdup("f\n");
	m->tasks[0].dataset = 9;
	{
		/* A name with control characters is left out of the message, which
		 * stays one line. */
		size_t len;
		uint8_t *buf = encode(m, &len);
		char err[256];
		assert_null(ir_binary_read(buf, len, err, sizeof err));
		assert_null(strchr(err, '\n'));
		assert_non_null(strstr(err, "tasks[0]: dataset 9 is out of range"));
		free(buf);
		ir_module_free(m);
	}
}

static void test_bad_ranges_refused(void **state)
{
	(void)state;
	ir_module *m = fixture(0);
	m->datasets[2].channels = 0;
	ir_module_canonicalize(m);
	expect_module_refused(m, "malformed: datasets[2] (wine): channels 0 is below 1");

	m = fixture(0);
	m->datasets[1].classes[0] = -3;
	ir_module_canonicalize(m);
	expect_module_refused(m, "class label -3 is below 0");

	m = fixture(0);
	m->spaces[0].layers[3].stride = 0;
	ir_module_canonicalize(m);
	expect_module_refused(m, "spaces[0] (mbnet): layer 3's stride 0 is below 1");

	m = fixture(0);
	m->spaces[0].layers[2].expand = 0;
	ir_module_canonicalize(m);
	expect_module_refused(m, "layer 2's expand is not a positive number");

	m = fixture(0);
	m->spaces[1].genes[0].values[2] = INFINITY;
	ir_module_canonicalize(m);
	expect_module_refused(m, "spaces[1] (mlp): a gene value is not a finite number");

	m = fixture(0);
	m->tasks[2].recipe.batch = 0;
	ir_module_canonicalize(m);
	expect_module_refused(m, "tasks[2] (wine_mlp): batch 0 is below 1");

	m = fixture(0);
	m->tasks[0].recipe.lr = NAN;
	ir_module_canonicalize(m);
	expect_module_refused(m, "lr is not a finite number");

	m = fixture(0);
	m->targets[0].constraints[1].value = NAN;
	ir_module_canonicalize(m);
	expect_module_refused(m, "targets[0] (mcu): a constraint value is not a finite number");
}

/* Single bytes set to values the writer never produces, with the checksum
 * fixed up, so the field checks themselves are exercised. */
static void test_bad_bytes_refused(void **state)
{
	(void)state;
	ir_module *m = ir_module_new();
	ir_target *t = add_target(m, "t");
	add_constraint(t, IR_METRIC_MACS, IR_CMP_LE, 1);
	ir_module_canonicalize(m);
	size_t len;
	uint8_t *buf = encode(m, &len);
	/* targets section: tag, length, count 1, name "t" (4 + 1), count 1,
	 * metric, cmp, value (8), then the checksum. */
	size_t v = len - 8 - 8, cmp = v - 1, metric = v - 2;
	buf[metric] = IR_METRIC_COUNT;
	reseal(buf, len);
	expect_refused(buf, len, "targets[0] (t): metric 5 is not a known value (0..4)");
	buf[metric] = IR_METRIC_MACS;
	buf[cmp] = 200;
	reseal(buf, len);
	expect_refused(buf, len, "comparison 200");
	buf[cmp] = IR_CMP_LE;
	/* -0.0 and a signalling NaN have a canonical twin: refused. */
	memset(buf + v, 0, 8);
	buf[v + 7] = 0x80;
	reseal(buf, len);
	expect_refused(buf, len, "negative zero or a non-canonical NaN");
	memset(buf + v, 0xff, 8);
	reseal(buf, len);
	expect_refused(buf, len, "non-canonical NaN");
	/* A name with a NUL byte inside. */
	size_t name = metric - 4 - 1;
	buf[name] = 0;
	reseal(buf, len);
	expect_refused(buf, len, "contains a NUL byte");
	buf[name] = 't';
	/* A name length larger than the section. */
	buf[name - 4] = 0xf0;
	reseal(buf, len);
	expect_refused(buf, len, "name length 240 runs past the end of its section");
	buf[name - 4] = 1;
	/* A huge count. */
	buf[name - 5] = 0x7f;
	reseal(buf, len);
	expect_refused(buf, len, "more than the limit");
	free(buf);
	ir_module_free(m);

	/* A boolean that is neither 0 nor 1. */
	m = ir_module_new();
	static const ir_metric mt[] = {IR_METRIC_ACCURACY};
	static const int mx[] = {1};
	add_objective(m, "o", 1, mt, mx);
	ir_module_canonicalize(m);
	buf = encode(m, &len);
	/* objectives section: ... count, name "o", nterms, metric, maximize; then
	 * the empty targets section (16 bytes) and the checksum. */
	buf[len - 8 - 16 - 1] = 2;
	reseal(buf, len);
	expect_refused(buf, len, "objectives[0] (o): maximize is 2, not a boolean");
	free(buf);
	ir_module_free(m);
}

/* --- identity ---------------------------------------------------------------- */

static void test_declaration_order_irrelevant(void **state)
{
	(void)state;
	ir_module *a = fixture(0), *b = fixture(1);
	assert_true(ids_equal(a, b));
	size_t la, lb;
	uint8_t *ba = encode(a, &la), *bb = encode(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	char *da = dump_string(a), *db = dump_string(b);
	assert_string_equal(da, db);
	/* Canonicalising twice changes nothing. */
	ir_module_canonicalize(a);
	assert_true(ids_equal(a, b));
	free(da);
	free(db);
	free(ba);
	free(bb);
	ir_module_free(a);
	ir_module_free(b);
}

static void test_canonical_indices(void **state)
{
	(void)state;
	ir_module *m = fixture(1);
	/* References follow their declarations through the sort. */
	int fw = ir_module_find_task(m, "footwear");
	assert_int_equal(fw, 1);
	const ir_task *t = &m->tasks[fw];
	assert_string_equal(m->tasks[t->from].name, "fashion");
	assert_string_equal(m->datasets[t->dataset].name, "footwear");
	assert_string_equal(m->spaces[t->space].name, "mbnet");
	assert_int_equal(t->objective, -1);
	const ir_task *w = &m->tasks[ir_module_find_task(m, "wine_mlp")];
	assert_string_equal(m->objectives[w->objective].name, "accurate");
	assert_string_equal(m->spaces[w->space].name, "mlp");
	/* Parameters sorted by key, constraints by (metric, cmp, value). */
	const ir_call *s = &m->tasks[0].search;
	assert_string_equal(s->params[0].key, "population");
	assert_string_equal(s->params[2].key, "samples");
	const ir_target *p = &m->targets[ir_module_find_target(m, "phone")];
	assert_int_equal(p->constraints[0].metric, IR_METRIC_MACS);
	assert_int_equal(p->constraints[0].cmp, IR_CMP_LE);
	assert_int_equal(p->constraints[1].cmp, IR_CMP_GE);
	assert_int_equal(p->constraints[2].metric, IR_METRIC_LATENCY);
	ir_module_free(m);
}

/* --- every field is part of the id; only some are part of supernet keys ---- */

static void setstr(char **p, const char *v)
{
	free(*p);
	*p = dupstr(v);
}

#define MUT(id, body)                                                                  \
	static void mut_##id(ir_module *m)                                                 \
	{                                                                                  \
		body;                                                                          \
	}

/* fixture(0) in canonical order: datasets fashion_small, footwear, wine;
 * spaces mbnet, mlp; tasks fashion, footwear, wine_mlp; objectives
 * accurate, default; targets mcu, phone, server. */
MUT(ds_format, m->datasets[0].format = IR_FORMAT_CSV)
MUT(ds_train_images, setstr(&m->datasets[0].train_images, "/x"))
MUT(ds_train_labels, setstr(&m->datasets[0].train_labels, "/y"))
MUT(ds_test_images, setstr(&m->datasets[0].test_images, NULL))
MUT(ds_test_labels, setstr(&m->datasets[0].test_labels, ""))
MUT(ds_label_column, m->datasets[0].label_column = 0)
MUT(ds_skip_rows, m->datasets[0].skip_rows = 1)
MUT(ds_test_count, m->datasets[0].test_count = 5)
MUT(ds_channels, m->datasets[0].channels = 3)
MUT(ds_height, m->datasets[0].height = 32)
MUT(ds_width, m->datasets[0].width = 32)
MUT(ds_nclasses, m->datasets[0].nclasses = 9)
MUT(ds_class_value, m->datasets[1].classes[2] = 8)
MUT(ds_classes_null, free(m->datasets[2].classes); m->datasets[2].classes = NULL)
MUT(ds_holdout, m->datasets[0].holdout = 1000)
MUT(ds_train_limit, m->datasets[0].train_limit = 0)
MUT(ds_normalize, m->datasets[0].normalize = IR_NORM_STANDARD)
MUT(ds_mean, m->datasets[0].mean = 0.5)
MUT(ds_std, m->datasets[0].std = 0.25)
MUT(ds_crop_pad, m->datasets[0].crop_pad = 4)
MUT(ds_flip, m->datasets[0].flip = 0)
MUT(ds_seed, m->datasets[0].seed++)
MUT(ds_name, setstr(&m->datasets[2].name, "wine2"))
MUT(sp_name, setstr(&m->spaces[1].name, "mlp2"))
MUT(sp_in_channels, m->spaces[1].in_channels = 12)
MUT(sp_resolution, m->spaces[0].resolution = 32)
MUT(sp_g_resolution, m->spaces[0].g_resolution = -1)
MUT(sp_nclasses, m->spaces[0].nclasses = 10)
MUT(gene_name, setstr(&m->spaces[0].genes[1].name, "s1.d"))
MUT(gene_value, m->spaces[0].genes[0].values[0] = 16)
MUT(gene_nvalues, m->spaces[0].genes[0].nvalues = 2)
MUT(stage_name, setstr(&m->spaces[0].stages[0].name, "t1"))
MUT(stage_first, m->spaces[0].stages[1].first = 2)
MUT(stage_count, m->spaces[0].stages[1].count = 2)
MUT(stage_g_depth, m->spaces[0].stages[0].g_depth = -1)
MUT(layer_kind, m->spaces[0].layers[0].kind = IR_BLOCK_RESIDUAL)
MUT(layer_stage, m->spaces[0].layers[6].stage = 1)
MUT(layer_index, m->spaces[0].layers[6].index = 3)
MUT(layer_in, m->spaces[0].layers[7].in_channels = 41)
MUT(layer_out, m->spaces[0].layers[7].out_channels = 11)
MUT(layer_kernel, m->spaces[0].layers[0].kernel = 5)
MUT(layer_stride, m->spaces[0].layers[0].stride = 2)
MUT(layer_expand, m->spaces[0].layers[1].expand = 6)
MUT(layer_act, m->spaces[0].layers[0].act = IR_ACT_HSWISH)
MUT(layer_se, m->spaces[0].layers[1].se = 1)
MUT(layer_g_kernel, m->spaces[0].layers[1].g_kernel = 4)
MUT(layer_g_expand, m->spaces[0].layers[1].g_expand = -1)
MUT(layer_g_out, m->spaces[0].layers[1].g_out = 0)
MUT(task_name, setstr(&m->tasks[2].name, "wine_net"))
MUT(task_dataset, m->tasks[0].dataset = 1)
MUT(task_space, m->tasks[1].space = 1)
MUT(task_from, m->tasks[1].from = 2)
MUT(task_from_none, m->tasks[1].from = -1)
MUT(task_objective, m->tasks[0].objective = -1)
MUT(rc_epochs, m->tasks[0].recipe.epochs = 9)
MUT(rc_batch, m->tasks[0].recipe.batch = 64)
MUT(rc_lr, m->tasks[0].recipe.lr = 0.05)
MUT(rc_momentum, m->tasks[0].recipe.momentum = 0.8)
MUT(rc_wd, m->tasks[0].recipe.wd = 1e-4)
MUT(rc_nesterov, m->tasks[0].recipe.nesterov = 0)
MUT(rc_wd_decoupled, m->tasks[0].recipe.wd_decoupled = 1)
MUT(rc_schedule, m->tasks[0].recipe.schedule = IR_SCHEDULE_CONSTANT)
MUT(rc_warmup, m->tasks[0].recipe.warmup = 2)
MUT(rc_label_smoothing, m->tasks[0].recipe.label_smoothing = 0)
MUT(rc_sampler, m->tasks[0].recipe.sampler = IR_SAMPLER_MAX)
MUT(rc_sampler_n, m->tasks[0].recipe.sampler_n = 3)
MUT(rc_distill, m->tasks[0].recipe.distill = IR_DISTILL_INPLACE)
MUT(rc_nshrink, m->tasks[0].recipe.nshrink = 2)
MUT(rc_shrink, m->tasks[0].recipe.shrink[2] = IR_SHRINK_WIDTH)
MUT(rc_calib, m->tasks[0].recipe.calib_images = 1000)
MUT(rc_seed, m->tasks[0].recipe.seed = 2)
MUT(adapt_name, setstr(&m->tasks[1].adapt.name, "ntaa"))
MUT(adapt_bool, m->tasks[1].adapt.params[0].number = 1)
MUT(adapt_number, m->tasks[1].adapt.params[1].number = 5)
MUT(adapt_string, setstr(&m->tasks[1].adapt.params[2].string, ""))
MUT(adapt_key, setstr(&m->tasks[1].adapt.params[2].key, "notes"))
MUT(adapt_kind, m->tasks[1].adapt.params[1].kind = IR_VALUE_BOOL)
MUT(adapt_set, setstr(&m->tasks[0].adapt.name, "finetune"))
MUT(pretrain_name, setstr(&m->tasks[2].pretrain.name, "supervised"))
MUT(pretrain_param, m->tasks[2].pretrain.params[0].number = 0)
MUT(search_name, setstr(&m->tasks[0].search.name, "evo"))
MUT(search_number, m->tasks[0].search.params[0].number = 65)
MUT(search_string, setstr(&m->tasks[0].search.params[1].string, "mlp"))
MUT(obj_name, setstr(&m->objectives[0].name, "accurate2"))
MUT(obj_metric, m->objectives[1].metrics[2] = IR_METRIC_MEMORY)
MUT(obj_maximize, m->objectives[1].maximize[1] = 1)
MUT(obj_nterms, m->objectives[1].nterms = 2)
MUT(tgt_name, setstr(&m->targets[2].name, "server2"))
MUT(tgt_metric, m->targets[2].constraints[0].metric = IR_METRIC_MACS)
MUT(tgt_cmp, m->targets[2].constraints[0].cmp = IR_CMP_GE)
MUT(tgt_value, m->targets[2].constraints[0].value = 0.95)
MUT(tgt_value_ulp, m->targets[0].constraints[0].value = nextafter(50e3, 1e9))
MUT(tgt_count, m->targets[1].nconstraints = 2)

typedef struct mutation {
	const char *label;
	void (*fn)(ir_module *m);
	const char *key_task; /* the task whose supernet key must change, or
	                         NULL: no supernet key may change */
} mutation;

#define M(id, task) {#id, mut_##id, task}
static const mutation mutations[] = {
    M(ds_format, "fashion"), M(ds_train_images, "fashion"), M(ds_train_labels, "fashion"),
    M(ds_test_images, "fashion"), M(ds_test_labels, "fashion"), M(ds_label_column, "fashion"),
    M(ds_skip_rows, "fashion"), M(ds_test_count, "fashion"), M(ds_channels, "fashion"),
    M(ds_height, "fashion"), M(ds_width, "fashion"), M(ds_nclasses, "fashion"),
    M(ds_class_value, "footwear"), M(ds_classes_null, "wine_mlp"), M(ds_holdout, "fashion"),
    M(ds_train_limit, "fashion"), M(ds_normalize, "fashion"), M(ds_mean, "fashion"),
    M(ds_std, "fashion"), M(ds_crop_pad, "fashion"), M(ds_flip, "fashion"),
    M(ds_seed, "fashion"), M(ds_name, NULL), M(sp_name, NULL),
    M(sp_in_channels, "wine_mlp"), M(sp_resolution, "fashion"), M(sp_g_resolution, "fashion"),
    M(sp_nclasses, "fashion"), M(gene_name, "fashion"), M(gene_value, "fashion"),
    M(gene_nvalues, "fashion"), M(stage_name, "footwear"), M(stage_first, "fashion"),
    M(stage_count, "fashion"), M(stage_g_depth, "fashion"), M(layer_kind, "fashion"),
    M(layer_stage, "fashion"), M(layer_index, "fashion"), M(layer_in, "fashion"),
    M(layer_out, "fashion"), M(layer_kernel, "fashion"), M(layer_stride, "fashion"),
    M(layer_expand, "fashion"), M(layer_act, "fashion"), M(layer_se, "fashion"),
    M(layer_g_kernel, "fashion"), M(layer_g_expand, "fashion"), M(layer_g_out, "fashion"),
    M(task_name, NULL), M(task_dataset, "fashion"), M(task_space, "footwear"),
    M(task_from, NULL), M(task_from_none, NULL), M(task_objective, NULL),
    M(rc_epochs, "fashion"), M(rc_batch, "fashion"), M(rc_lr, "fashion"),
    M(rc_momentum, "fashion"), M(rc_wd, "fashion"), M(rc_nesterov, "fashion"),
    M(rc_wd_decoupled, "fashion"), M(rc_schedule, "fashion"), M(rc_warmup, "fashion"),
    M(rc_label_smoothing, "fashion"), M(rc_sampler, "fashion"), M(rc_sampler_n, "fashion"),
    M(rc_distill, "fashion"), M(rc_nshrink, "fashion"), M(rc_shrink, "fashion"),
    M(rc_calib, NULL), M(rc_seed, "fashion"), M(adapt_name, NULL), M(adapt_bool, NULL),
    M(adapt_number, NULL), M(adapt_string, NULL), M(adapt_key, NULL), M(adapt_kind, NULL),
    M(adapt_set, NULL), M(pretrain_name, NULL), M(pretrain_param, NULL),
    M(search_name, NULL), M(search_number, NULL), M(search_string, NULL), M(obj_name, NULL),
    M(obj_metric, NULL), M(obj_maximize, NULL), M(obj_nterms, NULL), M(tgt_name, NULL),
    M(tgt_metric, NULL), M(tgt_cmp, NULL), M(tgt_value, NULL), M(tgt_value_ulp, NULL),
    M(tgt_count, NULL),
};
#undef M
#define NMUT (sizeof mutations / sizeof mutations[0])

static ir_module *mutated(size_t i)
{
	ir_module *m = fixture(0);
	mutations[i].fn(m);
	ir_module_canonicalize(m);
	return m;
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* The supernet keys of all tasks, sorted, so renames do not matter. */
static uint8_t (*sorted_keys(const ir_module *m))[16]
{
	uint8_t(*keys)[16] = zalloc((size_t)m->ntasks, 16);
	for (int i = 0; i < m->ntasks; i++)
		memcpy(keys[i], m->tasks[i].supernet_key, 16);
	qsort(keys, (size_t)m->ntasks, 16, key_cmp);
	return keys;
}

static void test_every_field_in_id(void **state)
{
	(void)state;
	ir_module *base = fixture(0);
	ir_id ids[NMUT + 1];
	ids[NMUT] = ir_module_id(base);
	for (size_t i = 0; i < NMUT; i++) {
		ir_module *m = mutated(i);
		ids[i] = ir_module_id(m);
		/* Still a valid module: it survives the round trip unchanged. */
		size_t len;
		uint8_t *buf = encode(m, &len);
		char err[256];
		ir_module *back = ir_binary_read(buf, len, err, sizeof err);
		if (!back)
			fail_msg("mutation %s: refused: %s", mutations[i].label, err);
		char *d1 = dump_string(m), *d2 = dump_string(back);
		assert_string_equal(d1, d2);
		free(d1);
		free(d2);
		free(buf);
		ir_module_free(back);
		ir_module_free(m);
	}
	for (size_t i = 0; i <= NMUT; i++)
		for (size_t j = i + 1; j <= NMUT; j++)
			if (memcmp(ids[i].bytes, ids[j].bytes, 16) == 0)
				fail_msg("%s and %s give the same id", i < NMUT ? mutations[i].label : "base",
				         j < NMUT ? mutations[j].label : "base");
	ir_module_free(base);
}

static void test_supernet_keys(void **state)
{
	(void)state;
	ir_module *base = fixture(0);
	uint8_t(*bkeys)[16] = sorted_keys(base);
	/* Three tasks, three different keys (footwear has its own dataset). */
	assert_int_not_equal(memcmp(bkeys[0], bkeys[1], 16), 0);
	assert_int_not_equal(memcmp(bkeys[1], bkeys[2], 16), 0);
	for (size_t i = 0; i < NMUT; i++) {
		ir_module *m = mutated(i);
		if (mutations[i].key_task) {
			int b = ir_module_find_task(base, mutations[i].key_task);
			int t = ir_module_find_task(m, mutations[i].key_task);
			assert_true(b >= 0 && t >= 0);
			if (memcmp(base->tasks[b].supernet_key, m->tasks[t].supernet_key, 16) == 0)
				fail_msg("mutation %s left %s's supernet key unchanged", mutations[i].label,
				         mutations[i].key_task);
		} else {
			uint8_t(*keys)[16] = sorted_keys(m);
			if (memcmp(keys, bkeys, (size_t)m->ntasks * 16) != 0)
				fail_msg("mutation %s changed a supernet key", mutations[i].label);
			free(keys);
		}
		ir_module_free(m);
	}
	free(bkeys);
	ir_module_free(base);
}

/* --- text forms ----------------------------------------------------------------- */

static void test_id_format_parse(void **state)
{
	(void)state;
	uint8_t bytes[16], back[16];
	for (int i = 0; i < 16; i++)
		bytes[i] = (uint8_t)(0x0f + 17 * i);
	char buf[IR_ID_STRLEN + 1];
	ir_id_format(bytes, buf);
	assert_int_equal(strlen(buf), IR_ID_STRLEN);
	assert_string_equal(buf, "xxh3:0f2031425364758697a8b9cadbecfd0e");
	assert_int_equal(ir_id_parse(buf, back), 0);
	assert_memory_equal(bytes, back, 16);
	memset(back, 0, 16);
	assert_int_equal(ir_id_parse("xxh3:0F2031425364758697a8b9cadbecfd0e", back), -1);
	assert_int_equal(ir_id_parse("xxh3:0f2031425364758697a8b9cadbecfd0", back), -1);
	assert_int_equal(ir_id_parse("xxh3:0f2031425364758697a8b9cadbecfd0e0", back), -1);
	assert_int_equal(ir_id_parse("xxh4:0f2031425364758697a8b9cadbecfd0e", back), -1);
	assert_int_equal(ir_id_parse("xxh3:0f2031425364758697a8b9cadbecfd0g", back), -1);
	assert_int_equal(ir_id_parse("", back), -1);
	uint8_t zero[16] = {0};
	assert_memory_equal(back, zero, 16); /* untouched on failure */

	/* The module id is the XXH3-128 of the file minus its checksum, high
	 * 64 bits first. */
	ir_module *m = fixture(0);
	size_t len;
	uint8_t *bin = encode(m, &len);
	XXH128_hash_t h = XXH3_128bits(bin, len - 8);
	ir_id id = ir_module_id(m);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(id.bytes[i], (uint8_t)(h.high64 >> (56 - 8 * i)));
		assert_int_equal(id.bytes[8 + i], (uint8_t)(h.low64 >> (56 - 8 * i)));
	}
	char *d = dump_string(m);
	ir_id_format(id.bytes, buf);
	assert_int_equal(strncmp(d, "module ", 7), 0);
	assert_int_equal(strncmp(d + 7, buf, IR_ID_STRLEN), 0);
	free(d);
	free(bin);
	ir_module_free(m);
}

static void test_dump_numbers_and_strings(void **state)
{
	(void)state;
	ir_module *m = ir_module_new();
	ir_space *s = add_space(m, "nums");
	static const double v[] = {-2.5, 1.5e-3, 0.1, 0.1 + 0.2, 1.0 / 3, 2e6, 1e15, 1e300};
	add_gene(s, "g", 8, v);
	s->g_resolution = -1;
	ir_dataset *d = add_dataset(m, "strs");
	d->train_images = dupstr("a\"b\\c\nd\x01");
	d->mean = -0.0;
	ir_module_canonicalize(m);
	char *text = dump_string(m);
	assert_non_null(strstr(text, "  gene 0 g {-2.5, 0.0015, 0.1, 0.30000000000000004, "
	                             "0.3333333333333333, 2000000, 1e+15, 1e+300}\n"));
	assert_non_null(strstr(text, "  train_images \"a\\\"b\\\\c\\nd\\x01\"\n"));
	assert_non_null(strstr(text, "  train_labels none\n"));
	assert_non_null(strstr(text, "  normalize none mean 0 std 0\n"));
	assert_non_null(strstr(text, "  resolution 0 gene -\n"));
	free(text);
	/* -0 is stored as +0: same id as a module written with +0. */
	ir_id a = ir_module_id(m);
	m->datasets[0].mean = 0.0;
	ir_id b = ir_module_id(m);
	assert_memory_equal(a.bytes, b.bytes, 16);
	ir_module_free(m);
}

/* --- files ------------------------------------------------------------------------ */

static void test_save_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_ir.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], err[512];
	snprintf(path, sizeof path, "%s/m.air", dir);
	ir_module *m = fixture(0);
	assert_int_equal(ir_binary_save(m, path, err, sizeof err), 0);
	/* Saving again replaces the file. */
	assert_int_equal(ir_binary_save(m, path, err, sizeof err), 0);
	ir_module *back = ir_binary_load(path, err, sizeof err);
	if (!back)
		fail_msg("load: %s", err);
	char *d1 = dump_string(m), *d2 = dump_string(back);
	assert_string_equal(d1, d2);
	free(d1);
	free(d2);
	ir_module_free(back);

	/* No temporary file is left behind. */
	char cmd[300];
	snprintf(cmd, sizeof cmd, "test \"$(ls %s)\" = m.air", dir);
	assert_int_equal(system(cmd), 0);

	/* A truncated file: the reason names the path. */
	size_t len;
	uint8_t *buf = encode(m, &len);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len / 2, f), len / 2);
	assert_int_equal(fclose(f), 0);
	assert_null(ir_binary_load(path, err, sizeof err));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_non_null(strstr(err, ": truncated file"));
	free(buf);

	assert_int_equal(unlink(path), 0);
	assert_null(ir_binary_load(path, err, sizeof err));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_null(ir_binary_load(dir, err, sizeof err));
	assert_non_null(strstr(err, "not a regular file"));

	snprintf(path, sizeof path, "%s/missing/m.air", dir);
	assert_int_equal(ir_binary_save(m, path, err, sizeof err), -1);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_int_equal(rmdir(dir), 0);
	ir_module_free(m);
}

/* --- lookups and tables -------------------------------------------------------------- */

static void test_lookups(void **state)
{
	(void)state;
	ir_module *m = fixture(1);
	assert_int_equal(ir_module_find_task(m, "fashion"), 0);
	assert_int_equal(ir_module_find_task(m, "wine_mlp"), 2);
	assert_int_equal(ir_module_find_task(m, "nope"), -1);
	assert_int_equal(ir_module_find_target(m, "server"), 2);
	assert_int_equal(ir_module_find_target(m, "mcu"), 0);
	assert_int_equal(ir_module_find_objective(m, "default"), 1);
	assert_int_equal(ir_module_find_objective(m, ""), -1);
	const ir_space *s = &m->spaces[0];
	assert_int_equal(ir_space_find_gene(s, "s2.b1.expand"), 10);
	assert_int_equal(ir_space_find_gene(s, "s3.depth"), -1);
	const ir_call *a = &m->tasks[1].adapt;
	const ir_param *p = ir_call_param(a, "iterations");
	assert_non_null(p);
	assert_int_equal(p->kind, IR_VALUE_NUMBER);
	assert_true(p->number == 4);
	assert_null(ir_call_param(a, "iteration"));
	assert_null(ir_call_param(&m->tasks[0].adapt, "iterations"));

	/* Before canonicalisation (declaration order) lookups still work. */
	ir_module *raw = ir_module_new();
	add_target(raw, "z");
	add_target(raw, "a");
	add_target(raw, "m");
	assert_int_equal(ir_module_find_target(raw, "a"), 1);
	assert_int_equal(ir_module_find_target(raw, "z"), 0);
	assert_int_equal(ir_module_find_target(raw, "m"), 2);
	ir_module_free(raw);
	ir_module_free(m);
	ir_module_free(NULL);
}

static void check_table(const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		assert_non_null(names[i]);
		assert_true(names[i][0] != '\0');
		for (int j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
}

static void test_name_tables(void **state)
{
	(void)state;
	check_table(ir_metric_names, IR_METRIC_COUNT);
	check_table(ir_cmp_names, IR_CMP_COUNT);
	check_table(ir_act_names, IR_ACT_COUNT);
	check_table(ir_value_kind_names, IR_VALUE_COUNT);
	check_table(ir_format_names, IR_FORMAT_COUNT);
	check_table(ir_norm_names, IR_NORM_COUNT);
	check_table(ir_block_names, IR_BLOCK_COUNT);
	check_table(ir_sampler_names, IR_SAMPLER_COUNT);
	check_table(ir_shrink_names, IR_SHRINK_COUNT);
	check_table(ir_schedule_names, IR_SCHEDULE_COUNT);
	assert_string_equal(ir_cmp_names[IR_CMP_LE], "<=");
	assert_string_equal(ir_block_names[IR_BLOCK_MBCONV], "mbconv");
	assert_string_equal(ir_metric_names[IR_METRIC_LATENCY], "latency");
}

/* --- seeds for the fuzzer ------------------------------------------------------------ */

static int write_seed(const char *dir, const char *name, const ir_module *m)
{
	char path[1024], err[1200];
	snprintf(path, sizeof path, "%s/%s.air", dir, name);
	if (ir_binary_save(m, path, err, sizeof err) != 0) {
		fprintf(stderr, "test_ir: %s\n", err);
		return 1;
	}
	return 0;
}

/* Writes the fixture, a small and an empty module, and every eighth
 * mutation. */
static int write_seeds(const char *dir)
{
	int bad = 0;
	ir_module *m = fixture(0);
	bad |= write_seed(dir, "fixture", m);
	ir_module_free(m);
	m = small_module();
	bad |= write_seed(dir, "small", m);
	ir_module_free(m);
	m = ir_module_new();
	bad |= write_seed(dir, "empty", m);
	ir_module_free(m);
	for (size_t i = 0; i < NMUT; i += 8) {
		m = mutated(i);
		bad |= write_seed(dir, mutations[i].label, m);
		ir_module_free(m);
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	if (argc == 2 && strcmp(argv[1], "--dump") == 0) {
		ir_module *m = fixture(0);
		ir_dump(m, stdout);
		ir_module_free(m);
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_small_module),
	    cmocka_unit_test(test_empty_module),
	    cmocka_unit_test(test_truncation_refused),
	    cmocka_unit_test(test_corruption_refused),
	    cmocka_unit_test(test_newer_version_refused),
	    cmocka_unit_test(test_framing_refused),
	    cmocka_unit_test(test_bad_index_refused),
	    cmocka_unit_test(test_bad_values_refused),
	    cmocka_unit_test(test_bad_ranges_refused),
	    cmocka_unit_test(test_bad_bytes_refused),
	    cmocka_unit_test(test_declaration_order_irrelevant),
	    cmocka_unit_test(test_canonical_indices),
	    cmocka_unit_test(test_every_field_in_id),
	    cmocka_unit_test(test_supernet_keys),
	    cmocka_unit_test(test_id_format_parse),
	    cmocka_unit_test(test_dump_numbers_and_strings),
	    cmocka_unit_test(test_save_load),
	    cmocka_unit_test(test_lookups),
	    cmocka_unit_test(test_name_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
