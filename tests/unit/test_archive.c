/*
 * test_archive.c — the Pareto archive of measured subnets (runtime/archive.h)
 * over std/spaces.arch's mlp: who joins and who leaves, answers to specs,
 * and the text form (exact round trip, NaN kept, refusals, version 1 files
 * read without test accuracies, newer ones refused).
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

#include "runtime/archive.h"
#include "tests/unit/util_arch.h"

static int setup(void **state)
{
	ir_module *m = ua_compile("import \"std/spaces.arch\";\n"
				  "import \"std/datasets.arch\";\n"
				  "task t { data = digits; space = mlp; }\n");
	*state = m;
	return m ? 0 : -1;
}

static int teardown(void **state)
{
	ir_module_free(*state);
	return 0;
}

/* A member with genes `g` (mlp: "d<h1>,<h2>:w<4 widths>") and metrics. */
static search_member member(const ir_space *s, const char *g, double acc, double macs,
			    double lat)
{
	search_member m;
	memset(&m, 0, sizeof(m));
	char err[128];
	if (sn_subnet_parse(s, g, &m.sub, err, sizeof(err)) != 0)
		fail_msg("%s: %s", g, err);
	m.eval.v[IR_METRIC_ACCURACY] = acc;
	m.eval.v[IR_METRIC_MACS] = macs;
	m.eval.v[IR_METRIC_PARAMS] = macs + 10;
	m.eval.v[IR_METRIC_LATENCY] = lat;
	m.eval.v[IR_METRIC_MEMORY] = 1000;
	m.predicted = acc - 0.01;
	m.test = acc - 0.02;
	return m;
}

static ir_metric acc_m[] = {IR_METRIC_ACCURACY, IR_METRIC_MACS};
static int acc_max[] = {1, 0};
static const ir_objective acc_first = {"default", 2, acc_m, acc_max};

static void test_join_and_leave(void **state)
{
	ir_module *mod = *state;
	const ir_space *s = &mod->spaces[0];
	search_archive *a = search_archive_new(s);
	search_member m1 = member(s, "d1,1:w32,32,16,16", 0.90, 5000, 1e-5);
	search_member worse = member(s, "d1,1:w64,32,16,16", 0.89, 6000, 2e-5);
	search_member bigger = member(s, "d2,2:w128,128,64,64", 0.95, 30000, 4e-5);
	search_member better = member(s, "d1,1:w32,32,32,16", 0.91, 5000, 1e-5);
	assert_int_equal(search_archive_add(a, &m1), 1);
	/* Worse in everything: stays out; alike in everything: stays out. */
	assert_int_equal(search_archive_add(a, &worse), 0);
	search_member twin = member(s, "d1,2:w32,32,16,16", 0.90, 5000, 1e-5);
	assert_int_equal(search_archive_add(a, &twin), 0);
	/* A trade-off joins. */
	assert_int_equal(search_archive_add(a, &bigger), 1);
	assert_int_equal(search_archive_size(a), 2);
	/* Better than m1 in accuracy, equal elsewhere: m1 leaves. */
	assert_int_equal(search_archive_add(a, &better), 1);
	assert_int_equal(search_archive_size(a), 2);
	assert_true(sn_subnet_equal(&search_archive_member(a, 0)->sub, &bigger.sub));
	assert_true(sn_subnet_equal(&search_archive_member(a, 1)->sub, &better.sub));
	/* A new measurement of the same subnet replaces the old one. */
	search_member again = bigger;
	again.eval.v[IR_METRIC_ACCURACY] = 0.94;
	assert_int_equal(search_archive_add(a, &again), 1);
	assert_int_equal(search_archive_size(a), 2);
	assert_true(search_archive_member(a, 1)->eval.v[IR_METRIC_ACCURACY] == 0.94);
	/* one that brings no test accuracy keeps the one measured before */
	search_member retest = again;
	retest.eval.v[IR_METRIC_ACCURACY] = 0.945;
	retest.test = NAN;
	assert_int_equal(search_archive_add(a, &retest), 1);
	assert_int_equal(search_archive_find(a, &bigger.sub), 1);
	assert_true(search_archive_member(a, 1)->test == bigger.test);
	search_archive_set_test(a, 1, 0.5);
	assert_true(search_archive_member(a, 1)->test == 0.5);
	/* An unknown latency counts as the worst: it cannot push anyone out. */
	search_member nolat = member(s, "d2,1:w128,128,64,64", 0.96, 30000, NAN);
	assert_int_equal(search_archive_add(a, &nolat), 1);
	assert_int_equal(search_archive_size(a), 3);
	search_archive_free(a);
}

static void test_answer(void **state)
{
	ir_module *mod = *state;
	const ir_space *s = &mod->spaces[0];
	search_archive *a = search_archive_new(s);
	search_member ms[3] = {member(s, "d1,1:w32,32,16,16", 0.90, 5000, 1e-5),
			       member(s, "d2,2:w64,64,32,32", 0.93, 12000, 2e-5),
			       member(s, "d2,2:w128,128,64,64", 0.95, 30000, 4e-5)};
	for (int i = 0; i < 3; i++)
		assert_int_equal(search_archive_add(a, &ms[i]), 1);
	int near, tight;
	ir_constraint c = {IR_METRIC_MACS, IR_CMP_LE, 20000};
	assert_int_equal(search_archive_answer(a, &acc_first, &c, 1, &near, &tight), 1);
	ir_constraint two[2] = {{IR_METRIC_MACS, IR_CMP_LE, 1000},
				{IR_METRIC_ACCURACY, IR_CMP_GE, 0.5}};
	assert_int_equal(search_archive_answer(a, &acc_first, two, 2, &near, &tight), -1);
	assert_int_equal(near, 0);
	assert_int_equal(tight, 0);
	search_archive_free(a);
}

static void write_text(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_file(void **state)
{
	ir_module *mod = *state;
	const ir_space *s = &mod->spaces[0];
	char dir[] = "/tmp/test_archive.XXXXXX", path[128], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/archive", dir);
	search_archive *a = search_archive_new(s);
	search_member m1 = member(s, "d1,1:w32,32,16,16", 0.1 + 0.2, 5000, 1.0 / 3e5);
	search_member m2 = member(s, "d2,2:w128,128,64,64", 0.95, 30000, NAN);
	m2.predicted = NAN;
	m2.test = NAN;
	assert_int_equal(search_archive_add(a, &m1), 1);
	assert_int_equal(search_archive_add(a, &m2), 1);
	assert_int_equal(search_archive_save(a, path, err, sizeof(err)), 0);
	search_archive *b = search_archive_load(s, path, err, sizeof(err));
	if (!b)
		fail_msg("%s", err);
	assert_int_equal(search_archive_size(b), 2);
	for (int i = 0; i < 2; i++) {
		const search_member *x = search_archive_member(a, i), *y = search_archive_member(b, i);
		assert_true(sn_subnet_equal(&x->sub, &y->sub));
		for (int j = 0; j < IR_METRIC_COUNT; j++)
			assert_true(x->eval.v[j] == y->eval.v[j] ||
				    (isnan(x->eval.v[j]) && isnan(y->eval.v[j])));
		assert_true(x->predicted == y->predicted || (isnan(x->predicted) && isnan(y->predicted)));
		assert_true(x->test == y->test || (isnan(x->test) && isnan(y->test)));
	}
	assert_int_equal(search_archive_file_version(b), SEARCH_ARCHIVE_VERSION);
	uint64_t id = 1;
	assert_int_equal(search_archive_weights(b, &id), 0); /* none set: unknown */
	assert_int_equal(id, 1);
	search_archive_free(b);

	FILE *f = fopen(path, "rb");
	char text[4096];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "archd-archive 3\nspace mlp\nweights unknown\n"
				     "member d1,1:w32,32,16,16 acc=0.3000"));
	char *digit = strstr(text, "macs=") + 5;
	*digit = *digit == '9' ? '8' : '9';
	write_text(path, text, n);
	assert_null(search_archive_load(s, path, err, sizeof(err)));
	assert_non_null(strstr(err, "checksum mismatch"));
	write_text(path, text, n / 2);
	assert_null(search_archive_load(s, path, err, sizeof(err)));
	assert_non_null(strstr(err, path));

	/* The weights measured on, every bit of them, round-trip. */
	search_archive_set_weights(a, 0xf00dcafe00c0ffeeULL);
	assert_int_equal(search_archive_save(a, path, err, sizeof(err)), 0);
	b = search_archive_load(s, path, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(search_archive_weights(b, &id), 1);
	assert_true(id == 0xf00dcafe00c0ffeeULL);
	search_archive_free(b);

	/* Another space's archive is refused. */
	ir_space other = *s;
	other.name = "mbnet";
	assert_int_equal(search_archive_save(a, path, err, sizeof(err)), 0);
	assert_null(search_archive_load(&other, path, err, sizeof(err)));
	assert_non_null(strstr(err, ":2: an archive of another space"));
	unlink(path);
	assert_null(search_archive_load(s, path, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(rmdir(dir), 0);
	search_archive_free(a);
}

/* Writes `body` and its checksum line to path. */
static void write_summed(const char *path, const char *body)
{
	char text[1024];
	int n = snprintf(text, sizeof(text), "%sxxh3 %016llx\n", body,
			 (unsigned long long)XXH3_64bits(body, strlen(body)));
	write_text(path, text, (size_t)n);
}

static void test_versions(void **state)
{
	ir_module *mod = *state;
	const ir_space *s = &mod->spaces[0];
	char dir[] = "/tmp/test_archive.XXXXXX", path[128], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/archive", dir);
	/* Version 1 had no test field: read, every test accuracy unknown. */
	write_summed(path, "archd-archive 1\nspace mlp\n"
			   "member d1,1:w32,32,16,16 acc=0.5 pred=0.45 macs=5000 params=5010 "
			   "latency=1e-05 memory=1000\n");
	search_archive *a = search_archive_load(s, path, err, sizeof(err));
	if (!a)
		fail_msg("%s", err);
	assert_int_equal(search_archive_file_version(a), 1);
	assert_int_equal(search_archive_size(a), 1);
	assert_true(isnan(search_archive_member(a, 0)->test));
	assert_true(search_archive_member(a, 0)->eval.v[IR_METRIC_ACCURACY] == 0.5);
	assert_true(search_archive_member(a, 0)->predicted == 0.45);
	/* written back as the current version, the test accuracy with it */
	search_archive_set_test(a, 0, 0.48);
	assert_int_equal(search_archive_save(a, path, err, sizeof(err)), 0);
	search_archive_free(a);
	a = search_archive_load(s, path, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(search_archive_file_version(a), SEARCH_ARCHIVE_VERSION);
	assert_true(search_archive_member(a, 0)->test == 0.48);
	search_archive_free(a);
	/* A version 1 line in a version 2 file is malformed, not misread. */
	write_summed(path, "archd-archive 2\nspace mlp\n"
			   "member d1,1:w32,32,16,16 acc=0.5 pred=0.45 macs=5000 params=5010 "
			   "latency=1e-05 memory=1000\n");
	assert_null(search_archive_load(s, path, err, sizeof(err)));
	assert_non_null(strstr(err, ":3: malformed member"));
	/* Version 2 named no weights: read with them unknown, written back
	 * as the current version. */
	write_summed(path, "archd-archive 2\nspace mlp\n"
			   "member d1,1:w32,32,16,16 acc=0.5 test=0.49 pred=0.45 macs=5000 "
			   "params=5010 latency=1e-05 memory=1000\n");
	a = search_archive_load(s, path, err, sizeof(err));
	if (!a)
		fail_msg("%s", err);
	uint64_t id;
	assert_int_equal(search_archive_file_version(a), 2);
	assert_int_equal(search_archive_weights(a, &id), 0);
	assert_true(search_archive_member(a, 0)->test == 0.49);
	search_archive_free(a);
	/* Version 3's weights line: 16 lower-case hex digits or "unknown". */
	static const char *const bad_weights[] = {
		"weights 0123456789abcde\n",
		"weights 0123456789abcdef0\n",
		"weights 0123456789ABCDEF\n",
		"weights -123456789abcdef\n",
		"weights\n",
		"member d1,1:w32,32,16,16 acc=0.5 test=0.49 pred=0.45 macs=5000 "
		"params=5010 latency=1e-05 memory=1000\n",
	};
	for (size_t i = 0; i < sizeof bad_weights / sizeof bad_weights[0]; i++) {
		char body[512];
		snprintf(body, sizeof body, "archd-archive 3\nspace mlp\n%s", bad_weights[i]);
		write_summed(path, body);
		assert_null(search_archive_load(s, path, err, sizeof(err)));
		assert_non_null(strstr(err, ":3: malformed weights line"));
	}
	write_summed(path, "archd-archive 3\nspace mlp\n");
	assert_null(search_archive_load(s, path, err, sizeof(err)));
	assert_non_null(strstr(err, "header incomplete"));
	write_summed(path, "archd-archive 3\nspace mlp\nweights 00000000000000ff\n");
	a = search_archive_load(s, path, err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(search_archive_weights(a, &id), 1);
	assert_true(id == 0xff);
	assert_int_equal(search_archive_size(a), 0);
	search_archive_free(a);
	/* A newer version (or version 0) is refused, saying which it reads. */
	write_summed(path, "archd-archive 4\nspace mlp\nweights unknown\n");
	assert_null(search_archive_load(s, path, err, sizeof(err)));
	assert_non_null(
		strstr(err, ":1: an archive of version 4; this build reads versions 1 to 3"));
	write_summed(path, "archd-archive 0\nspace mlp\n");
	assert_null(search_archive_load(s, path, err, sizeof(err)));
	assert_non_null(strstr(err, "version 0"));
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_and_leave),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_versions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
