/*
 * test_export_onnx.c — models exported as ONNX: for the largest, the
 * smallest and random subnets of both tiny spaces (every layer kind, SE,
 * identity shortcuts of equal and of different widths, projections,
 * expand-less MBConv, dense layers), with and without resizing, each
 * export passes onnx.checker.check_model with full_check and the promises
 * of export_onnx.h (tests/unit/onnx_check.py, Debian's /usr/bin/python3
 * with python3-onnx), and ONNX Runtime (onnxruntime-node,
 * tests/unit/onnx_run.js) gives the runtime's logits on 100 random images
 * (max abs difference <= 1e-4, the same arg-max on every image); a model
 * with a non-finite weight is refused.
 *
 * onnxruntime-node is looked for in $ARCHD_BUILDDIR/node_modules and
 * installed there when npm exists (tools/onnxruntime-node); a
 * tool that is truly missing skips its part with the reason, except under
 * CI=true, where it fails.
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

#include "runtime/export_onnx.h"
#include "runtime/extract.h"
#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"
#include "util_ci.h"
#include "util_export.h"
#include "util_grad.h"
#include "util_supernet_fixture.h"

#define C 2
#define R 6
#define NCLS 3
#define NIMG 100
#define NSUB 5

static const uint8_t KEY[16] = { 7 };

/* What the environment offers, found once. */
static const char *srcdir, *builddir;
static int have_checker = -1, have_ort = -1;

static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void find_tools(void)
{
	if (have_checker >= 0)
		return;
	srcdir = getenv("ARCHD_SRCDIR") ? getenv("ARCHD_SRCDIR") : ".";
	builddir = getenv("ARCHD_BUILDDIR") ? getenv("ARCHD_BUILDDIR") : ".";
	static char absbuild[4096]; /* NODE_PATH below is used from other dirs */
	if (builddir[0] != '/' && getcwd(absbuild, sizeof absbuild - 1) != NULL) {
		size_t n = strlen(absbuild);
		snprintf(absbuild + n, sizeof absbuild - n, "/%s", builddir);
		builddir = absbuild;
	}
	have_checker = sh("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
	/* usable with NODE_PATH=builddir/node_modules, installed there if need be */
	have_ort = sh("'%s/tools/onnxruntime-node' '%s'", srcdir, builddir) == 0;
}

/* Exports max, min and random subnets of space `make` on h x w inputs with
 * the runtime's logits beside them, then checks and runs them. */
static void check_space(ir_space *(*make)(int, int), int h, int w, uint64_t seed)
{
	find_tools();
	/* CI installs both (tools/install-deps --test, then npm): there a
	 * missing one is a failure, not a quiet skip */
	if (uc_ci() && (!have_checker || !have_ort))
		fail_msg("CI=true and %s is missing", !have_checker ? "python3-onnx's checker"
								    : "onnxruntime-node");
	if (!have_checker && !have_ort)
		skip();
	char dir[] = "/tmp/test_export_onnx.XXXXXX", path[512], names[256] = "", err[256];
	assert_non_null(mkdtemp(dir));
	ir_space *s = make(C, R);
	sn_supernet *sn = ue_perturbed_supernet(s, NCLS, h, w, 8, seed);
	rt_rng rng;
	rt_rng_seed(&rng, seed);
	size_t in_size = (size_t)h * w * C;
	float *x = ug_rand(&rng, NIMG * in_size, -2, 2), *nchw = malloc(NIMG * in_size * sizeof(float));
	float *want = malloc(NIMG * NCLS * sizeof(float));
	assert_true(nchw && want);
	/* [n, h, w, c] -> [n, c, h, w] */
	for (int n = 0; n < NIMG; n++)
		for (int y = 0; y < h; y++)
			for (int xx = 0; xx < w; xx++)
				for (int c = 0; c < C; c++)
					nchw[(((size_t)n * C + c) * h + y) * w + xx] =
						x[(((size_t)n * h + y) * w + xx) * C + c];
	for (int i = 0; i < NSUB; i++) {
		rt_model *m = ue_cut_nth(sn, i, &rng, KEY, x, NIMG, want);
		snprintf(path, sizeof path, "%s/net%d.onnx", dir, i);
		assert_int_equal(rt_export_onnx_save(m, path, err, sizeof err), 0);
		snprintf(path, sizeof path, "%s/net%d.in", dir, i);
		ue_write_file(path, nchw, NIMG * in_size * sizeof(float));
		snprintf(path, sizeof path, "%s/net%d.want", dir, i);
		ue_write_file(path, want, NIMG * NCLS * sizeof(float));
		char shape[64];
		int n = snprintf(shape, sizeof shape, "%d %d %d %d %d\n", NIMG, C, h, w, NCLS);
		snprintf(path, sizeof path, "%s/net%d.shape", dir, i);
		ue_write_file(path, shape, (size_t)n);
		snprintf(names + strlen(names), sizeof names - strlen(names), " net%d", i);
		rt_model_free(m);
	}
	if (have_checker)
		assert_int_equal(sh("cd %s && /usr/bin/python3 '%s/tests/unit/onnx_check.py' *.onnx "
				    ">check.log 2>&1 || cat check.log >&2",
				    dir, srcdir),
				 0);
	if (have_checker)
		assert_int_equal(sh("grep -c '^ok ' %s/check.log | grep -qx %d", dir, NSUB), 0);
	else
		print_message("# SKIP onnx.checker: /usr/bin/python3 has no onnx (apt-get install python3-onnx)\n");
	if (have_ort) {
		assert_int_equal(sh("NODE_PATH='%s/node_modules' node '%s/tests/unit/onnx_run.js' %s%s "
				    ">%s/run.log",
				    builddir, srcdir, dir, names, dir),
				 0);
		snprintf(path, sizeof path, "%s/run.log", dir);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		double worst = 0, d;
		int mismatch, nread = 0;
		char name[32];
		while (fscanf(f, "%31s %lf %d", name, &d, &mismatch) == 3) {
			worst = fmax(worst, d);
			assert_int_equal(mismatch, 0);
			nread++;
		}
		fclose(f);
		assert_int_equal(nread, NSUB);
		print_message("# %s at %dx%d: max |ONNX Runtime - runtime| = %.3g over %d images\n",
			      s->name, h, w, worst, NIMG);
		assert_true(worst <= 1e-4);
	} else {
		print_message("# SKIP ONNX Runtime: tools/onnxruntime-node could not provide it\n");
	}
	assert_int_equal(sh("rm -rf %s", dir), 0);
	free(x);
	free(nchw);
	free(want);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

static void test_mbconv(void **state)
{
	(void)state;
	check_space(tiny_space, R, R, 41);
}

static void test_resnet(void **state)
{
	(void)state;
	check_space(tiny_resnet_space, R, R, 42);
}

/* Inputs larger than any resolution and not square: every subnet resizes. */
static void test_resized(void **state)
{
	(void)state;
	check_space(tiny_space, R + 3, R + 1, 43);
	check_space(tiny_resnet_space, R + 1, R + 3, 44);
}

static void test_nonfinite(void **state)
{
	(void)state;
	ir_space *s = tiny_resnet_space(C, R);
	sn_supernet *sn = ue_perturbed_supernet(s, NCLS, R, R, 8, 9);
	sn_subnet sub;
	char err[256];
	sn_subnet_max(s, &sub);
	rt_model *m = rt_model_extract(sn, &sub, KEY, err, sizeof err);
	assert_non_null(m);
	m->weights[3] = INFINITY;
	uint8_t *buf;
	size_t len;
	assert_int_equal(rt_export_onnx_encode(m, &buf, &len, err, sizeof err), -1);
	assert_null(buf);
	assert_non_null(strstr(err, "not finite"));
	rt_model_free(m);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

int main(void)
{
	if (!rt_export_onnx_available()) {
		/* the build was configured without ONNX: nothing to test */
		printf("1..1\nok 1 - # SKIP this build has no ONNX export\n");
		return 0;
	}
	rt_threads_init(1, NULL, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbconv),
		cmocka_unit_test(test_resnet),
		cmocka_unit_test(test_resized),
		cmocka_unit_test(test_nonfinite),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rt_threads_shutdown();
	return rc;
}
