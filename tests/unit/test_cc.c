/*
 * test_cc.c — the compiler API the daemon uses (compiler/cc.h): compiling a
 * source held in memory, errors and warnings in the diagnostics, kept or
 * dropped source files, relative paths, recipe defaults, filters that keep
 * the original labels, the gene order, the identity rule, and two threads
 * compiling at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/cc.h"

static const char *const src_ok =
	"dataset d { format = csv; train = \"data/t.csv\"; test = 10; features = 4; classes = 5; }\n"
	"dataset few from d where label in {1, 3, 4} { }\n"
	"dataset fewer from few where label in {0, 2} { }\n"
	"space m {\n"
	"    input features = 4;\n"
	"    stage a { depth in 1..2; block = dense(out in {4, 8}); }\n"
	"    stage b { depth = 1; block = dense(shared out in {2, 6}); }\n"
	"    head fc(classes);\n"
	"}\n"
	"space one { input features = 4; stage a { block = dense(out = 4); } head fc(classes); }\n"
	"task t { data = fewer; space = m; }\n"
	"task single { data = d; space = one; }\n"
	"objective o { maximize accuracy; minimize macs; }\n"
	"target phone { macs <= 2M; latency <= 800us; }\n";

/* The same declarations, reordered, reformatted and commented. */
static const char *const src_reordered =
	"# comments and order do not matter\n"
	"target phone { latency <= 0.8ms; macs <= 2M; }\n"
	"task single { space = one; data = d; }\n"
	"objective o { maximize accuracy; minimize macs; }\n"
	"task t { space = m; data = fewer; }\n"
	"space one { input features = 4; stage a { block = dense(out = 4); } head fc(classes); }\n"
	"space m { input features = 4;\n"
	"  stage a { block = dense(out in {8, 4}); depth in 1..2; }\n"
	"  stage b { depth = 1; block = dense(shared out in {6, 2}); } head fc(classes); }\n"
	"dataset fewer from few where label in {0, 2} { }\n"
	"dataset few from d where label in {4, 3, 1} { }\n"
	"dataset d { classes = 5; features = 4; test = 10; train = \"data/t.csv\"; format = csv; }\n";

static ir_module *compile(const char *text, const char *dir, lang_diags *d, cc_files **files)
{
	cc_options o;
	cc_options_init(&o);
	o.source_dir = dir;
	o.files = files ? cc_files_new() : NULL;
	if (files)
		*files = o.files;
	lang_diags_init(d);
	return cc_compile_source("mem.arch", text, strlen(text), &o, d);
}

static int find_dataset(const ir_module *m, const char *name)
{
	for (int i = 0; i < m->ndatasets; i++)
		if (!strcmp(m->datasets[i].name, name))
			return i;
	return -1;
}

static void test_compile_ok(void **state)
{
	(void)state;
	lang_diags d;
	cc_files *files;
	ir_module *m = compile(src_ok, "/base", &d, &files);
	assert_non_null(m);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(m->ndatasets, 3);
	assert_int_equal(m->nspaces, 2);
	assert_int_equal(m->ntasks, 2);
	assert_int_equal(m->nobjectives, 1);
	assert_int_equal(m->ntargets, 1);
	/* Relative paths are made absolute against the source's directory. */
	int di = find_dataset(m, "d");
	assert_true(di >= 0);
	assert_string_equal(m->datasets[di].train_images, "/base/data/t.csv");
	assert_null(m->datasets[di].test_images);
	assert_int_equal(m->datasets[di].test_count, 10);
	/* A filter of a filter keeps the ORIGINAL labels: few = {1, 3, 4},
	 * fewer = few's labels 0 and 2 = {1, 4}. */
	int fi = find_dataset(m, "fewer");
	assert_int_equal(m->datasets[fi].nclasses, 2);
	assert_int_equal(m->datasets[fi].classes[0], 1);
	assert_int_equal(m->datasets[fi].classes[1], 4);
	ir_module_free(m);
	cc_files_free(files);
	lang_diags_free(&d);
}

static void test_genes_and_layers(void **state)
{
	(void)state;
	lang_diags d;
	ir_module *m = compile(src_ok, "/base", &d, NULL);
	assert_non_null(m);
	const ir_space *s = &m->spaces[0];
	assert_string_equal(s->name, "m");
	assert_int_equal(s->resolution, 1);
	assert_int_equal(s->g_resolution, -1);
	const char *want[] = {"a.depth", "a.b0.out", "a.b1.out", "b.out"};
	assert_int_equal(s->ngenes, 4);
	for (int i = 0; i < 4; i++)
		assert_string_equal(s->genes[i].name, want[i]);
	assert_int_equal(s->genes[3].nvalues, 2);
	assert_true(s->genes[3].values[0] == 2 && s->genes[3].values[1] == 6);
	/* a: 2 blocks, b: 1 block, then fc(classes). */
	assert_int_equal(s->nlayers, 4);
	assert_int_equal(s->layers[2].in_channels, 8);
	assert_int_equal(s->layers[2].out_channels, 6);
	assert_int_equal(s->layers[3].kind, IR_BLOCK_FC);
	assert_int_equal(s->layers[3].out_channels, 0);
	assert_int_equal(s->nclasses, 0);
	ir_module_free(m);
	lang_diags_free(&d);
}

static void test_recipe_defaults(void **state)
{
	(void)state;
	lang_diags d;
	ir_module *m = compile(src_ok, "/base", &d, NULL);
	assert_non_null(m);
	const ir_task *t = &m->tasks[ir_module_find_task(m, "t")];
	assert_int_equal(t->recipe.epochs, 10);
	assert_int_equal(t->recipe.batch, 128);
	assert_true(t->recipe.lr == 0.1 && t->recipe.momentum == 0.9 && t->recipe.wd == 4e-5);
	assert_int_equal(t->recipe.nesterov, 1);
	assert_int_equal(t->recipe.schedule, IR_SCHEDULE_COSINE);
	assert_int_equal(t->recipe.sampler, IR_SAMPLER_SANDWICH);
	assert_int_equal(t->recipe.sampler_n, 4);
	assert_int_equal(t->recipe.distill, IR_DISTILL_LABELS);
	assert_int_equal(t->recipe.calib_images, 2000);
	assert_string_equal(t->search.name, "search");
	/* One subnet: train the network alone. */
	const ir_task *u = &m->tasks[ir_module_find_task(m, "single")];
	assert_int_equal(u->recipe.sampler, IR_SAMPLER_MAX);
	assert_int_equal(u->recipe.distill, IR_DISTILL_NONE);
	ir_module_free(m);
	lang_diags_free(&d);
}

static void test_identity(void **state)
{
	(void)state;
	lang_diags d1, d2;
	ir_module *a = compile(src_ok, "/base", &d1, NULL);
	ir_module *b = compile(src_reordered, "/base", &d2, NULL);
	assert_non_null(a);
	assert_non_null(b);
	ir_id ia = ir_module_id(a), ib = ir_module_id(b);
	assert_memory_equal(ia.bytes, ib.bytes, 16);
	ir_module_free(b);
	lang_diags_free(&d2);
	/* Another directory is another dataset path: another id. */
	b = compile(src_ok, "/elsewhere", &d2, NULL);
	assert_non_null(b);
	ib = ir_module_id(b);
	assert_memory_not_equal(ia.bytes, ib.bytes, 16);
	ir_module_free(a);
	ir_module_free(b);
	lang_diags_free(&d1);
	lang_diags_free(&d2);
}

static void test_errors(void **state)
{
	(void)state;
	const char *bad = "target t { macs <= 1M; macs >= 2M; }\nobjective o { maximize acuracy; }\n";
	lang_diags d;
	cc_files *files;
	ir_module *m = compile(bad, NULL, &d, &files);
	assert_null(m);
	assert_int_equal(d.nerrors, 2);
	assert_non_null(strstr(d.items[0].message, "contradictory constraints"));
	assert_int_equal(d.items[1].severity, LANG_NOTE);
	assert_non_null(strstr(d.items[2].message, "did you mean 'accuracy'?"));
	assert_non_null(d.items[0].loc.src);
	assert_int_equal(d.items[0].loc.first_line, 1);
	assert_int_equal(d.items[0].loc.first_column, 24);
	cc_files_free(files);
	lang_diags_free(&d);
}

/* 1 when some diagnostic of d says exactly msg. */
static int has_message(const lang_diags *d, const char *msg)
{
	for (int i = 0; i < d->n; i++)
		if (!strcmp(d->items[i].message, msg))
			return 1;
	return 0;
}

/* Objectives and targets derive from nothing and must not be empty. */
static void test_goal_declarations(void **state)
{
	(void)state;
	lang_diags d;
	ir_module *m = compile("objective o from p { }\ntarget t from u { }\n", NULL, &d, NULL);
	assert_null(m);
	assert_int_equal(d.nerrors, 4);
	assert_true(has_message(&d, "an objective cannot be derived with 'from'"));
	assert_true(has_message(&d, "objective 'o' has no goals (add 'maximize accuracy;')"));
	assert_true(has_message(&d, "a target cannot be derived with 'from'"));
	assert_true(has_message(&d, "target 't' has no constraints (add e.g. 'macs <= 2M;')"));
	lang_diags_free(&d);
}

/* What compiles can be searched: the ranges of the runtime's search. */
static void test_search_ranges(void **state)
{
	(void)state;
	const char *base = "dataset d { format = csv; train = \"/t.csv\"; test = 10; features = 4;"
			   " classes = 2; }\n"
			   "space m { input features = 4; stage a { depth in 1..2;"
			   " block = dense(out = 4); } head fc(classes); }\n";
	const struct {
		const char *search;
		int errors;
	} cases[] = {
		{ "population = 4; samples = 100000;", 0 },
		{ "population = 3;", 1 },
		{ "samples = 100001;", 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char src[1024];
		snprintf(src, sizeof src, "%stask t { data = d; space = m; search { %s } }\n", base,
			 cases[i].search);
		lang_diags d;
		ir_module *m = compile(src, NULL, &d, NULL);
		assert_int_equal(d.nerrors, cases[i].errors);
		if (cases[i].errors)
			assert_null(m);
		ir_module_free(m);
		lang_diags_free(&d);
	}
}

static void test_syntax_errors_fail(void **state)
{
	(void)state;
	lang_diags d;
	/* A syntax error alone must fail the compile, and semantic checks
	 * must not run on the damaged tree. */
	ir_module *m = compile("target t { macs <= 2M }\n", NULL, &d, NULL);
	assert_null(m);
	assert_int_equal(d.nerrors, 1);
	lang_diags_free(&d);
}

static void test_files_dropped(void **state)
{
	(void)state;
	lang_diags d;
	ir_module *m = compile("target t { latency <= 2M; }\n", NULL, &d, NULL);
	assert_null(m);
	assert_int_equal(d.nerrors, 1);
	/* The source is gone: the location must not point into it. */
	assert_null(d.items[0].loc.src);
	lang_diags_free(&d);
}

static void test_warning_only(void **state)
{
	(void)state;
	const char *w = "dataset d { format = csv; train = \"/t.csv\"; test = 10; features = 4;"
			" classes = 2; train_limit = 100; holdout = 70; }\n";
	lang_diags d;
	ir_module *m = compile(w, NULL, &d, NULL);
	assert_non_null(m);
	assert_int_equal(d.nerrors, 0);
	assert_int_equal(d.nwarnings, 1);
	ir_module_free(m);
	lang_diags_free(&d);
}

static void test_missing_file(void **state)
{
	(void)state;
	cc_options o;
	cc_options_init(&o);
	lang_diags d;
	lang_diags_init(&d);
	assert_null(cc_compile_file("/nonexistent/x.arch", &o, &d));
	assert_int_equal(d.nerrors, 1);
	assert_non_null(strstr(d.items[0].message, "/nonexistent/x.arch"));
	lang_diags_free(&d);
}

static void *compile_many(void *arg)
{
	ir_id *out = arg;
	for (int i = 0; i < 20; i++) {
		lang_diags d;
		ir_module *m = compile(i % 2 ? src_ok : src_reordered, "/base", &d, NULL);
		if (!m) {
			lang_diags_free(&d);
			return NULL;
		}
		out[i] = ir_module_id(m);
		ir_module_free(m);
		lang_diags_free(&d);
	}
	return out;
}

static void test_threads(void **state)
{
	(void)state;
	ir_id ids[2][20];
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, compile_many, ids[i]), 0);
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(th[i], &r);
		assert_non_null(r);
	}
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 20; j++)
			assert_memory_equal(ids[i][j].bytes, ids[0][0].bytes, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_ok),    cmocka_unit_test(test_genes_and_layers),
		cmocka_unit_test(test_recipe_defaults), cmocka_unit_test(test_identity),
		cmocka_unit_test(test_errors),        cmocka_unit_test(test_files_dropped),
		cmocka_unit_test(test_warning_only),  cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_syntax_errors_fail), cmocka_unit_test(test_threads),
		cmocka_unit_test(test_goal_declarations), cmocka_unit_test(test_search_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
