/*
 * test_answer.c — constraints as users write them to `archc search
 * --constraint` and archd's "constraints": comparisons, units per metric,
 * and the errors that quote the text; and a task's search settings as the
 * runtime reads them from an IR.
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
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/answer.h"
#include "runtime/statedir.h"
#include "util_arch.h"

static void parses(const char *text, ir_metric metric, ir_cmp cmp, double value)
{
	ir_constraint c;
	char err[256] = "";
	if (rt_answer_parse_constraint(text, &c, err, sizeof err) != 0)
		fail_msg("'%s' did not parse: %s", text, err);
	assert_int_equal(c.metric, metric);
	assert_int_equal(c.cmp, cmp);
	if (fabs(c.value - value) > 1e-12 * fabs(value))
		fail_msg("'%s': %.17g, not %.17g", text, c.value, value);
}

static void refused(const char *text, const char *why)
{
	ir_constraint c;
	char err[256] = "";
	assert_int_equal(rt_answer_parse_constraint(text, &c, err, sizeof err), -1);
	if (!strstr(err, why))
		fail_msg("'%s': expected a message with \"%s\", got \"%s\"", text, why, err);
}

static void test_comparisons(void **state)
{
	(void)state;
	parses("macs<=2M", IR_METRIC_MACS, IR_CMP_LE, 2e6);
	parses("macs < 2M", IR_METRIC_MACS, IR_CMP_LT, 2e6);
	parses("accuracy>=0.9", IR_METRIC_ACCURACY, IR_CMP_GE, 0.9);
	parses("accuracy > 90%", IR_METRIC_ACCURACY, IR_CMP_GT, 0.9);
	parses("params==1500", IR_METRIC_PARAMS, IR_CMP_EQ, 1500);
}

static void test_units(void **state)
{
	(void)state;
	parses("params<=50K", IR_METRIC_PARAMS, IR_CMP_LE, 5e4);
	parses("macs<=1.5G", IR_METRIC_MACS, IR_CMP_LE, 1.5e9);
	parses("latency<=1.5ms", IR_METRIC_LATENCY, IR_CMP_LE, 1.5e-3);
	parses("latency<=200us", IR_METRIC_LATENCY, IR_CMP_LE, 2e-4);
	parses("latency<=1s", IR_METRIC_LATENCY, IR_CMP_LE, 1);
	parses("memory<=64KiB", IR_METRIC_MEMORY, IR_CMP_LE, 65536);
	parses("memory<=1MB", IR_METRIC_MEMORY, IR_CMP_LE, 1e6);
	parses("memory<=512B", IR_METRIC_MEMORY, IR_CMP_LE, 512);
	parses("memory <= 2M ", IR_METRIC_MEMORY, IR_CMP_LE, 2e6);
}

static void test_errors(void **state)
{
	(void)state;
	refused("macs<=two", "'<=two' has no number");
	refused("macs=>2M", "does not start with <=");
	refused("speed<=1ms", "does not start with a metric");
	refused("macsy<=2M", "does not start with a metric");
	refused("latency<=3", "expected a time with a unit");
	refused("macs<=2ms", "is not a bound on macs");
	refused("accuracy>=90K", "is not a bound on accuracy");
	refused("params<=2MiB", "is not a bound on params");
	refused("macs<=1e999", "out of range");
	refused("macs<=2M junk", "is not a bound on macs");
	refused("macs<=0x10", "not decimal");
	/* bounds no subnet meets, as the compiler refuses them in a target */
	refused("accuracy>=200%", "never met: accuracy is between 0 and 100%");
	refused("accuracy>=90", "never met");
	refused("accuracy>1", "never met");
	refused("accuracy==1.5", "never met");
	refused("macs<0", "never met: macs is never below 0");
	parses("accuracy<=150%", IR_METRIC_ACCURACY, IR_CMP_LE, 1.5);
	parses("accuracy>=100%", IR_METRIC_ACCURACY, IR_CMP_GE, 1);
	parses("macs<=0", IR_METRIC_MACS, IR_CMP_LE, 0);
}

static void test_bound_alone(void **state)
{
	(void)state;
	ir_constraint c;
	char err[256];
	assert_int_equal(rt_answer_parse_bound(IR_METRIC_LATENCY, "<1ms", &c, err, sizeof err), 0);
	assert_int_equal(c.metric, IR_METRIC_LATENCY);
	assert_int_equal(c.cmp, IR_CMP_LT);
	assert_true(fabs(c.value - 1e-3) < 1e-18);
	assert_int_equal(rt_answer_parse_bound(IR_METRIC_MACS, "", &c, err, sizeof err), -1);
}

/* A task's `search { }` as compiled, with the compiler's defaults; the
 * same defaults for a call that lacks them (an IR written by hand or by an
 * older compiler); a value out of range refused with the key and range. */
static void test_settings(void **state)
{
	(void)state;
	ir_module *m = ua_compile(
		"import \"std/spaces.arch\";\n"
		"import \"std/datasets.arch\";\n"
		"task a { data = fashion_mnist; space = mbnet;\n"
		"  search { predictor = rbf; samples = 40; population = 8; seed = 7; } }\n"
		"task b { data = fashion_mnist; space = mbnet; }\n");
	assert_non_null(m);
	rt_answer_settings set;
	char err[256] = "";
	ir_task *a = &m->tasks[0], *b = &m->tasks[1];
	assert_int_equal(rt_answer_settings_get(a, &set, err, sizeof err), 0);
	assert_int_equal(set.predictor, PRED_KIND_RBF);
	assert_int_equal(set.samples, 40);
	assert_int_equal(set.population, 8);
	assert_int_equal(set.generations, IR_SEARCH_GENERATIONS_DEF);
	assert_int_equal(set.seed, 7);
	int nparams = b->search.nparams;
	b->search.nparams = 0; /* as if the call had no parameters */
	assert_int_equal(rt_answer_settings_get(b, &set, err, sizeof err), 0);
	b->search.nparams = nparams;
	assert_int_equal(set.predictor, PRED_KIND_AUTO);
	assert_int_equal(set.samples, IR_SEARCH_SAMPLES_DEF);
	assert_int_equal(set.population, IR_SEARCH_POPULATION_DEF);
	assert_int_equal(set.generations, IR_SEARCH_GENERATIONS_DEF);
	assert_int_equal(set.seed, IR_SEARCH_SEED_DEF);
	for (int i = 0; i < a->search.nparams; i++)
		if (strcmp(a->search.params[i].key, "population") == 0)
			a->search.params[i].number = IR_SEARCH_POPULATION_MIN - 1;
	assert_int_equal(rt_answer_settings_get(a, &set, err, sizeof err), -1);
	assert_string_equal(err, "task a: search population must be an integer in [4, 100000]");
	ir_module_free(m);
}

/* A checkpoint's stamp changes with every save (a new file renamed over
 * it), with its removal and its return; it holds while nothing happens. */
static void test_stamp(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_answer.XXXXXX", path[256], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/checkpoint", dir);
	rt_answer_stamp none, one;
	rt_answer_stamp_read(path, &none);
	assert_int_equal(none.present, 0);
	assert_true(rt_answer_stamp_current(path, &none));
	assert_int_equal(rt_state_write_file(path, "weights", 7, 0600, err, sizeof err), 0);
	assert_false(rt_answer_stamp_current(path, &none));
	rt_answer_stamp_read(path, &one);
	assert_int_equal(one.present, 1);
	assert_true(rt_answer_stamp_current(path, &one));
	/* the same bytes saved again: another file */
	assert_int_equal(rt_state_write_file(path, "weights", 7, 0600, err, sizeof err), 0);
	assert_false(rt_answer_stamp_current(path, &one));
	rt_answer_stamp_read(path, &one);
	assert_int_equal(one.has_id, 0); /* shorter than a checkpoint's header */
	assert_int_equal(unlink(path), 0);
	assert_false(rt_answer_stamp_current(path, &one));
	assert_true(rt_answer_stamp_current(path, &none));
	/* a checkpoint's identity: its closing XXH3, little-endian */
	unsigned char ck[96] = {0};
	for (int i = 0; i < 8; i++)
		ck[88 + i] = (unsigned char)(0x10 * i + 1);
	assert_int_equal(rt_state_write_file(path, ck, sizeof ck, 0600, err, sizeof err), 0);
	rt_answer_stamp_read(path, &one);
	assert_int_equal(one.has_id, 1);
	assert_true(one.id == 0x7161514131211101ULL);
	rt_answer_stamp two = one;
	two.id ^= 1; /* the same file otherwise: another checkpoint */
	assert_false(rt_answer_stamp_current(path, &two));
	assert_int_equal(unlink(path), 0);
	/* a FIFO in its place neither hangs nor has one */
	assert_int_equal(mkfifo(path, 0600), 0);
	rt_answer_stamp_read(path, &one);
	assert_int_equal(one.present, 1);
	assert_int_equal(one.has_id, 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comparisons),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bound_alone),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_stamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
