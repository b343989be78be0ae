/*
 * test_latency.c — the latency lookup table (runtime/latency.h): a table
 * built for a space covers every layer of every subnet of it (so the shape
 * enumeration agrees with sn_plan_build), per-plan filling, the text form's
 * round trip and its refusals, the kernels' build id (a table of another
 * build measured afresh, saying why), the calibration against whole subnets
 * (its fit, its samples kept in the file, a table calibrated when opened),
 * and the CPU model as a file name.  Timings use one repetition: these
 * tests check coverage and arithmetic, not speed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "runtime/latency.h"
#include "runtime/latency_priv.h"
#include "runtime/statedir.h"
#include "tests/unit/util_arch.h"
#include "util_near.h"

/* The stdlib's three spaces, kept in the module by tasks over them. */
static const char *const src =
	"import \"std/spaces.arch\";\n"
	"import \"std/datasets.arch\";\n"
	"task a { data = fashion_mnist; space = mbnet; }\n"
	"task b { data = fashion_mnist; space = resnet; }\n"
	"task c { data = digits; space = mlp; }\n";

static int setup(void **state)
{
	ir_module *m = ua_compile(src);
	if (!m)
		return -1;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	ir_module_free(*state);
	return 0;
}

static const ir_space *space(void **state, const char *name)
{
	ir_module *m = *state;
	for (int i = 0; i < m->nspaces; i++)
		if (strcmp(m->spaces[i].name, name) == 0)
			return &m->spaces[i];
	fail_msg("no space %s", name);
	return NULL;
}

/* Builds the table of a space and checks that 300 random subnets (and the
 * extremes) find an entry for every layer. */
static void covers(const ir_space *s, int nclasses)
{
	char err[256];
	assert_int_equal(sn_space_check(s, nclasses, err, sizeof(err)), 0);
	lat_table *t = lat_table_new("test-cpu", "0");
	int added = lat_table_build(t, s, nclasses, s->resolution, 1, NULL, NULL, err, sizeof(err));
	if (added < 0)
		fail_msg("%s", err);
	printf("# %s: %d layer shapes\n", s->name, added);
	assert_int_equal(added, lat_table_size(t));
	/* Building again measures nothing new. */
	assert_int_equal(lat_table_build(t, s, nclasses, s->resolution, 1, NULL, NULL, err,
					 sizeof(err)),
			 0);
	sn_plan *plan = malloc(sizeof(*plan));
	rt_rng r;
	rt_rng_seed(&r, 77);
	for (int i = 0; i < 302; i++) {
		sn_subnet sub;
		if (i == 0)
			sn_subnet_min(s, &sub);
		else if (i == 1)
			sn_subnet_max(s, &sub);
		else
			sn_subnet_random(s, &r, &sub);
		sn_plan_build(s, nclasses, &sub, plan);
		double sec;
		assert_int_equal(lat_predict(t, s, plan, s->resolution, &sec), 0);
		assert_true(sec > 0 && sec < 1);
	}
	free(plan);
	lat_table_free(t);
}

static void test_covers_mbnet(void **state)
{
	covers(space(state, "mbnet"), 10);
}

static void test_covers_resnet(void **state)
{
	covers(space(state, "resnet"), 10);
}

static void test_covers_mlp(void **state)
{
	covers(space(state, "mlp"), 10);
}

static void test_measure_plan(void **state)
{
	const ir_space *s = space(state, "mbnet");
	char err[256];
	lat_table *t = lat_table_new("test-cpu", "0");
	sn_plan *plan = malloc(sizeof(*plan));
	sn_subnet sub;
	sn_subnet_min(s, &sub);
	sn_plan_build(s, 10, &sub, plan);
	double sec;
	/* Every active layer and the resize to 20 are missing. */
	int active = 0;
	for (int i = 0; i < plan->nlayers; i++)
		active += plan->layer[i].active;
	assert_int_equal(lat_predict(t, s, plan, 28, &sec), active + 1);
	int added = lat_table_measure_plan(t, s, plan, 28, 1, err, sizeof(err));
	/* s1..s4's repeated blocks share shapes: fewer entries than layers. */
	assert_true(added > 0 && added <= active + 1);
	assert_int_equal(lat_predict(t, s, plan, 28, &sec), 0);
	assert_int_equal(lat_table_measure_plan(t, s, plan, 28, 1, err, sizeof(err)), 0);
	/* Fed 20x20 images directly, no resize entry is needed. */
	assert_int_equal(lat_predict(t, s, plan, 20, &sec), 0);
	free(plan);
	lat_table_free(t);
}

/* A 64->64 3x3 conv on 28x28 does 50,000 times the work of a 4->4 one on
 * 4x4: however loaded the machine, it is not faster. */
static void test_timing_orders(void **state)
{
	(void)state;
	lat_key big = {.kind = IR_BLOCK_CONV, .act = IR_ACT_RELU, .h = 28, .ho = 28, .cin = 64,
		       .cout = 64, .k = 3, .stride = 1};
	lat_key small = big;
	small.h = small.ho = 4;
	small.cin = small.cout = 4;
	double tb, ts;
	assert_int_equal(lat_time_key(&big, 5, &tb), 0);
	assert_int_equal(lat_time_key(&small, 5, &ts), 0);
	printf("# conv 28x28x64->64: %.1f us, 4x4x4->4: %.1f us\n", tb, ts);
	assert_true(tb > ts && ts > 0);
}

/* Every kind and option is timed through the served model's own layer
 * forward (a one-layer fused model; a layout it gets wrong trips the fold's
 * assert): each takes some time. */
static void test_timing_every_kind(void **state)
{
	(void)state;
	const lat_key keys[] = {
		{.kind = IR_BLOCK_CONV, .act = IR_ACT_HSWISH, .h = 16, .ho = 8, .cin = 3,
		 .cout = 16, .k = 3, .stride = 2},
		{.kind = IR_BLOCK_MBCONV, .act = IR_ACT_HSWISH, .h = 8, .ho = 8, .cin = 16,
		 .mid = 48, .cout = 16, .k = 5, .stride = 1, .se_r = 12, .shortcut = 1,
		 .has_expand = 1},
		{.kind = IR_BLOCK_MBCONV, .act = IR_ACT_RELU, .h = 8, .ho = 4, .cin = 16, .mid = 16,
		 .cout = 24, .k = 3, .stride = 2},
		{.kind = IR_BLOCK_RESIDUAL, .act = IR_ACT_RELU, .h = 8, .ho = 4, .cin = 16,
		 .mid = 24, .cout = 32, .k = 3, .stride = 2, .shortcut = 2},
		{.kind = IR_BLOCK_RESIDUAL, .act = IR_ACT_RELU, .h = 8, .ho = 8, .cin = 24,
		 .mid = 16, .cout = 16, .k = 3, .stride = 1, .shortcut = 1},
		{.kind = IR_BLOCK_POOL, .h = 4, .ho = 1, .cin = 32, .cout = 32},
		{.kind = IR_BLOCK_DENSE, .act = IR_ACT_RELU, .h = 1, .ho = 1, .cin = 32, .cout = 64},
		{.kind = IR_BLOCK_FC, .h = 1, .ho = 1, .cin = 64, .cout = 10},
		{.kind = LAT_KIND_RESIZE, .h = 28, .ho = 20, .cin = 1, .cout = 1},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		double us = -1;
		assert_int_equal(lat_time_key(&keys[i], 3, &us), 0);
		assert_true(us > 0);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *b = calloc(1, 1 << 20);
	size_t n = fread(b, 1, (1 << 20) - 1, f);
	b[n] = '\0';
	fclose(f);
	return b;
}

/* Replaces the first line starting with `prefix` by `line` and writes the
 * text back with a valid checksum, as another build would have. */
static void rewrite_line(const char *path, const char *prefix, const char *line)
{
	char *text = read_text(path);
	char *at = strstr(text, prefix), *sum = strstr(text, "xxh3 ");
	assert_non_null(at);
	assert_non_null(sum);
	*sum = '\0';
	char *eol = strchr(at, '\n');
	size_t cap = strlen(text) + strlen(line) + 64;
	char *out = malloc(cap);
	assert_non_null(out);
	int n = snprintf(out, cap, "%.*s%s%s", (int)(at - text), text, line, eol);
	snprintf(out + n, cap - (size_t)n, "xxh3 %016llx\n",
		 (unsigned long long)XXH3_64bits(out, (size_t)n));
	write_text(path, out);
	free(out);
	free(text);
}

static void test_file(void **state)
{
	const ir_space *s = space(state, "mlp");
	char dir[] = "/tmp/test_latency.XXXXXX", path[128], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lut", dir);
	lat_table *t = lat_table_new("Some_CPU_2.0GHz", "0.1.0");
	assert_true(lat_table_build(t, s, 10, 1, 1, NULL, NULL, err, sizeof(err)) > 0);
	/* Samples with digits past the nanosecond: kept as the file keeps them. */
	uint64_t sid = lat_space_id(s, 1);
	assert_int_equal(lat_table_add_sample(t, sid, 10.0004, 11.0006), 0);
	assert_int_equal(lat_table_add_sample(t, sid, 20.25, 23.5), 0);
	assert_int_equal(lat_table_add_sample(t, 42, 15.125, 16.75), 0);
	assert_int_equal(lat_table_save(t, path, err, sizeof(err)), 0);
	lat_table *l = lat_table_load(path, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	assert_string_equal(lat_table_cpu(l), "Some_CPU_2.0GHz");
	assert_string_equal(lat_table_version(l), "0.1.0");
	assert_int_equal(lat_table_size(l), lat_table_size(t));
	double sc_t, sc_l;
	assert_int_equal(lat_table_calibration(t, s, 1, &sc_t), 2);
	assert_int_equal(lat_table_calibration(l, s, 1, &sc_l), 2);
	assert_true(sc_t == sc_l && sc_t > 1);
	sn_plan *plan = malloc(sizeof(*plan));
	sn_subnet sub;
	sn_subnet_max(s, &sub);
	sn_plan_build(s, 10, &sub, plan);
	double a, b;
	assert_int_equal(lat_predict(t, s, plan, 1, &a), 0);
	assert_int_equal(lat_predict(l, s, plan, 1, &b), 0);
	/* Timings are kept to the nanosecond in memory as in the text: the
	 * loaded table predicts exactly the same. */
	assert_true(a == b);
	lat_table_free(l);

	char *text = read_text(path);
	char id[LAT_KERNELS_ID_LEN], head[256];
	lat_kernels_id(id);
	snprintf(head, sizeof head,
		 "archd-lut %d\ncpu Some_CPU_2.0GHz\nversion 0.1.0\nkernels %s\ndense relu h=1",
		 LAT_FILE_VERSION, id);
	assert_non_null(strstr(text, head));
	char want[256];
	snprintf(want, sizeof want,
		 "\ncalib space=%016llx sum=10.000 us=11.001\n"
		 "calib space=%016llx sum=20.250 us=23.500\n"
		 "calib space=000000000000002a sum=15.125 us=16.750\nxxh3 ",
		 (unsigned long long)sid, (unsigned long long)sid);
	assert_non_null(strstr(text, want));
	/* One changed digit: the checksum refuses it. */
	char *digit = strstr(text, "us=") + 3;
	*digit = *digit == '9' ? '8' : '9';
	write_text(path, text);
	assert_null(lat_table_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "checksum mismatch"));
	/* Cut short: no checksum line. */
	*strstr(text, "\nxxh3") = '\0';
	write_text(path, text);
	assert_null(lat_table_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	free(text);
	write_text(path, "archd-lut 99\ncpu x\nversion y\nxxh3 0000000000000000\n");
	assert_null(lat_table_load(path, err, sizeof(err)));
	/* A calibration sample that cannot be one, checksum and all valid. */
	assert_int_equal(lat_table_save(t, path, err, sizeof(err)), 0);
	rewrite_line(path, "calib ", "calib space=000000000000002a sum=0.000 us=11.000");
	assert_null(lat_table_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "malformed calibration sample"));
	assert_non_null(strstr(err, path));
	unlink(path);
	assert_null(lat_table_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_int_equal(rmdir(dir), 0);
	free(plan);
	lat_table_free(t);
}

/* The state dir's table: built and saved once, loaded after, rebuilt for
 * another CPU. */
static void test_open(void **state)
{
	const ir_space *s = space(state, "mlp");
	char dir[] = "/tmp/test_latency.XXXXXX", path[160], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lut/cpu-0", dir);
	lat_table *a = lat_table_open(path, "cpu", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	if (!a)
		fail_msg("%s", err);
	int n = lat_table_size(a);
	assert_true(n > 0);
	/* Calibrated on its subnets, each measured whole and layer by layer. */
	double sc;
	assert_int_equal(lat_table_calibration(a, s, 1, &sc), LAT_CALIB_SUBNETS);
	assert_true(sc > 0);
	for (int i = 0; i < a->ns; i++)
		assert_true(a->smp[i].sum_us > 0 && a->smp[i].us > 0 &&
			    a->smp[i].space == lat_space_id(s, 1));
	/* Loaded: the stored timings come back (the file is not rewritten). */
	char *before = read_text(path);
	lat_table *b = lat_table_open(path, "cpu", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	assert_non_null(b);
	assert_int_equal(lat_table_size(b), n);
	char *after = read_text(path);
	assert_string_equal(before, after);
	assert_int_equal(lat_table_calibration(b, s, 1, &sc), LAT_CALIB_SUBNETS);
	lat_table *c = lat_table_open(path, "other", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(lat_table_cpu(c), "other");
	free(before);
	free(after);
	lat_table_free(a);
	lat_table_free(b);
	lat_table_free(c);
	/* A complete table never calibrated (filled by lat_table_build
	 * alone) is calibrated when opened, and saved with its samples. */
	lat_table *d = lat_table_new("cpu", "0");
	assert_true(lat_table_build(d, s, 10, 1, 1, NULL, NULL, err, sizeof(err)) > 0);
	assert_int_equal(lat_table_save(d, path, err, sizeof(err)), 0);
	lat_table_free(d);
	d = lat_table_open(path, "cpu", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(lat_table_calibration(d, s, 1, &sc), LAT_CALIB_SUBNETS);
	lat_table_free(d);
	d = lat_table_load(path, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(lat_table_calibration(d, s, 1, &sc), LAT_CALIB_SUBNETS);
	lat_table_free(d);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lut", dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* The build of the kernels: an id of 16 hex digits, the same each call, in
 * every new table and its file; a table of another build, CPU or file
 * version is measured afresh on opening, with a note saying why. */
static void test_kernels(void **state)
{
	const ir_space *s = space(state, "mlp");
	char id[LAT_KERNELS_ID_LEN], again[LAT_KERNELS_ID_LEN], err[256], want[512];
	lat_kernels_id(id);
	lat_kernels_id(again);
	assert_string_equal(id, again);
	assert_int_equal(strlen(id), 16);
	assert_int_equal(strspn(id, "0123456789abcdef"), 16);
	char dir[] = "/tmp/test_latency.XXXXXX", path[160];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lut", dir);
	lat_table *a = lat_table_open(path, "cpu", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	if (!a)
		fail_msg("%s", err);
	assert_string_equal(lat_table_kernels(a), id);
	assert_null(lat_table_note(a)); /* no file before: nothing to say */
	int n = lat_table_size(a);
	lat_table_free(a);
	/* Another build of the kernels wrote it. */
	rewrite_line(path, "kernels ", "kernels 00000000deadbeef");
	lat_table *l = lat_table_load(path, err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	assert_string_equal(lat_table_kernels(l), "00000000deadbeef");
	lat_table_free(l);
	lat_table *b = lat_table_open(path, "cpu", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	assert_non_null(b);
	snprintf(want, sizeof want,
		 "%s was measured with other kernels or another thread count (00000000deadbeef, "
		 "this run: %s); measured afresh",
		 path, id);
	assert_non_null(lat_table_note(b));
	assert_string_equal(lat_table_note(b), want);
	assert_string_equal(lat_table_kernels(b), id);
	assert_int_equal(lat_table_size(b), n);
	lat_table_free(b);
	/* and the file now names this build: opened as it is */
	char *text = read_text(path);
	snprintf(want, sizeof want, "\nkernels %s\n", id);
	assert_non_null(strstr(text, want));
	free(text);
	lat_table *c = lat_table_open(path, "cpu", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_null(lat_table_note(c));
	lat_table_free(c);
	/* another CPU */
	lat_table *d = lat_table_open(path, "other", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	assert_non_null(d);
	snprintf(want, sizeof want, "%s was measured on another CPU (cpu, this host: other)", path);
	assert_non_null(lat_table_note(d));
	assert_non_null(strstr(lat_table_note(d), want));
	lat_table_free(d);
	/* the previous file version, which named no kernels */
	write_text(path, "archd-lut 1\ncpu other\nversion 0\nxxh3 0000000000000000\n");
	rewrite_line(path, "archd-lut", "archd-lut 1");
	lat_table *e = lat_table_open(path, "other", "0", s, 10, 1, 1, NULL, NULL, err, sizeof(err));
	assert_non_null(e);
	assert_non_null(lat_table_note(e));
	snprintf(want, sizeof want, "%s:1: a latency table of another version; measured afresh",
		 path);
	assert_string_equal(lat_table_note(e), want);
	assert_int_equal(lat_table_size(e), n);
	lat_table_free(e);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

/* The space id: a function of what shapes the layers, not of the name. */
static void test_space_id(void **state)
{
	const ir_space *mb = space(state, "mbnet"), *mlp = space(state, "mlp");
	uint64_t id = lat_space_id(mb, 28);
	assert_true(id == lat_space_id(mb, 28));
	assert_true(id != lat_space_id(mb, 32));
	assert_true(id != lat_space_id(mlp, 28));
	ir_space copy = *mb;
	copy.name = "renamed";
	assert_true(lat_space_id(&copy, 28) == id);
	ir_layer *layers = malloc((size_t)mb->nlayers * sizeof(*layers));
	memcpy(layers, mb->layers, (size_t)mb->nlayers * sizeof(*layers));
	copy.layers = layers;
	layers[1].stride = 3 - layers[1].stride;
	assert_true(lat_space_id(&copy, 28) != id);
	free(layers);
}

/* The fit: each space's median ratio, the median over all for a space
 * without samples, the plain sum without any; lat_predict applies it. */
static void test_calibration(void **state)
{
	const ir_space *s = space(state, "mbnet"), *other = space(state, "resnet");
	uint64_t id = lat_space_id(s, s->resolution);
	char err[256];
	lat_table *t = lat_table_new("cpu", "0");
	assert_true(lat_table_build(t, s, 10, s->resolution, 1, NULL, NULL, err, sizeof(err)) > 0);
	double sc;
	assert_int_equal(lat_table_calibration(t, s, s->resolution, &sc), 0);
	assert_true(sc == 1);
	sn_plan *plan = malloc(sizeof(*plan));
	sn_subnet sub;
	sn_subnet_max(s, &sub);
	sn_plan_build(s, 10, &sub, plan);
	double sum, sec;
	assert_int_equal(lat_entries_sum(t, s, plan, s->resolution, &sum), 0);
	assert_int_equal(lat_predict(t, s, plan, s->resolution, &sec), 0);
	assert_near(sec * 1e6, sum, 1e-9);
	/* Ratios 1.1, 1.3 (an outlier), 1.2 for this space; 0.9 for another. */
	assert_int_equal(lat_table_add_sample(t, id, 100, 110), 0);
	assert_int_equal(lat_table_add_sample(t, id, 100, 130), 0);
	assert_int_equal(lat_table_add_sample(t, 7, 100, 90), 0);
	assert_int_equal(lat_table_add_sample(t, id, 200, 240), 0);
	assert_int_equal(lat_table_calibration(t, s, s->resolution, &sc), 3);
	assert_near(sc, 1.2, 1e-12);
	assert_int_equal(lat_predict(t, s, plan, s->resolution, &sec), 0);
	assert_near(sec * 1e6, 1.2 * sum, 1e-9);
	/* Another space, or this one fed other images: the median of all four. */
	assert_int_equal(lat_table_calibration(t, other, other->resolution, &sc), 0);
	assert_near(sc, (1.1 + 1.2) / 2, 1e-12);
	assert_int_equal(lat_table_calibration(t, s, 32, &sc), 0);
	assert_near(sc, 1.15, 1e-12);
	free(plan);
	lat_table_free(t);
}

static void test_cpu_model(void **state)
{
	(void)state;
	char cpu[64];
	lat_cpu_model(cpu, sizeof(cpu));
	printf("# cpu: %s\n", cpu);
	assert_true(rt_state_name_ok(cpu));
	char tiny[8];
	lat_cpu_model(tiny, sizeof(tiny));
	assert_true(strlen(tiny) < 8 && rt_state_name_ok(tiny));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_model),
		cmocka_unit_test(test_timing_orders),
		cmocka_unit_test(test_timing_every_kind),
		cmocka_unit_test(test_covers_mlp),
		cmocka_unit_test(test_covers_resnet),
		cmocka_unit_test(test_covers_mbnet),
		cmocka_unit_test(test_measure_plan),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_kernels),
		cmocka_unit_test(test_space_id),
		cmocka_unit_test(test_calibration),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
