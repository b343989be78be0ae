/*
 * test_export_c.c — models exported as standalone C: for the largest, the
 * smallest and random subnets of both tiny spaces (every layer kind, SE,
 * identity and projection shortcuts, expand-less MBConv), with and without
 * resizing, the generated files compile with `cc -std=c99 -pedantic -Wall
 * -Wextra -Wshadow -Werror -O2`, and the compiled predict functions give
 * the runtime's logits (max abs difference <= 1e-4) and its arg-max; the
 * header's flash figure is the folded weights' size and its RAM figure the
 * scratch the plan needs; C identifiers are derived from paths; a model
 * with a non-finite weight is refused.
 *
 * The supernets' weights, batch-norm parameters and statistics are random,
 * so a wrongly folded or misplaced tensor shows.
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

#include "runtime/export_c.h"
#include "runtime/extract.h"
#include "runtime/rng.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"
#include "runtime/threads.h"
#include "util_export.h"
#include "util_grad.h"
#include "util_supernet_fixture.h"

#define C 2
#define R 6
#define NCLS 3
#define NIMG 8
#define NSUB 5

static const uint8_t KEY[16] = { 9 };

/* Floats of weights once every BN (4 vectors) has become a bias (1). */
static size_t folded_floats(const rt_model *m)
{
	size_t n = m->nweights;
	for (int i = 0; i < m->nlayers; i++) {
		const rt_model_layer *l = &m->layers[i];
		size_t bn = 0;
		switch (l->kind) {
		case IR_BLOCK_CONV:
		case IR_BLOCK_DENSE:
			bn = (size_t)l->cout;
			break;
		case IR_BLOCK_MBCONV:
			bn = (size_t)l->mid * (l->has_expand ? 2 : 1) + (size_t)l->cout;
			break;
		case IR_BLOCK_RESIDUAL:
			bn = (size_t)l->mid + (size_t)l->cout * (l->shortcut == 2 ? 2 : 1);
			break;
		default:
			break;
		}
		n -= 3 * bn;
	}
	return n;
}

/* A driver running every exported net0..net{n-1} on each image of its
 * first argument and writing, per image and net, the logits and the
 * returned class, after the nets' flash and RAM figures. */
static void write_driver(const char *path, int n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("#include <stdio.h>\n", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "#include \"net%d.h\"\n", i);
	fputs("int main(int argc, char **argv)\n{\n"
	      "\tstatic float x[NET0_INPUT_HEIGHT * NET0_INPUT_WIDTH * NET0_INPUT_CHANNELS];\n"
	      "\tfloat y[NET0_CLASSES];\n\tint best;\n\tunsigned long sz[2];\n"
	      "\tif (argc != 3)\n\t\treturn 2;\n"
	      "\tFILE *in = fopen(argv[1], \"rb\"), *out = fopen(argv[2], \"wb\");\n"
	      "\tif (!in || !out)\n\t\treturn 2;\n", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "\tsz[0] = NET%d_FLASH_BYTES;\n\tsz[1] = NET%d_RAM_BYTES;\n"
			   "\tfwrite(sz, sizeof sz, 1, out);\n", i, i);
	fputs("\twhile (fread(x, sizeof x, 1, in) == 1) {\n", f);
	for (int i = 0; i < n; i++)
		fprintf(f, "\t\tbest = net%d_predict(x, y);\n\t\tfwrite(y, sizeof y, 1, out);\n"
			   "\t\tfwrite(&best, sizeof best, 1, out);\n", i);
	fputs("\t}\n\treturn fclose(out) != 0;\n}\n", f);
	assert_int_equal(fclose(f), 0);
}

/* Exports max, min and random subnets of space `make` on h x w inputs,
 * compiles them into one program with a driver, and checks every output
 * against rt_model_forward. */
static void check_space(ir_space *(*make)(int, int), int h, int w, uint64_t seed)
{
	char dir[] = "/tmp/test_export_c.XXXXXX", path[256], cmd[2048], err[256];
	assert_non_null(mkdtemp(dir));
	ir_space *s = make(C, R);
	sn_supernet *sn = ue_perturbed_supernet(s, NCLS, h, w, NIMG, seed);
	rt_rng rng;
	rt_rng_seed(&rng, seed);
	size_t in_size = (size_t)h * w * C;
	float *x = ug_rand(&rng, NIMG * in_size, -2, 2);
	rt_model *m[NSUB];
	rt_export_c_info info[NSUB];
	float want[NSUB][NIMG * NCLS];
	int n = snprintf(cmd, sizeof cmd,
			 "cc -std=c99 -pedantic -Wall -Wextra -Wshadow -Werror -O2 -o %s/drv %s/drv.c",
			 dir, dir);
	for (int i = 0; i < NSUB; i++) {
		m[i] = ue_cut_nth(sn, i, &rng, KEY, x, NIMG, want[i]);
		snprintf(path, sizeof path, "%s/net%d", dir, i);
		assert_int_equal(rt_export_c_save(m[i], path, &info[i], err, sizeof err), 0);
		assert_int_equal(info[i].flash, folded_floats(m[i]) * sizeof(float));
		assert_true(info[i].ram > 0 && info[i].ram <= rt_model_workspace(m[i], 1) * sizeof(float));
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s/net%d.c", dir, i);
	}
	snprintf(cmd + n, sizeof cmd - (size_t)n, " 2>%s/cc.log", dir);
	snprintf(path, sizeof path, "%s/drv.c", dir);
	write_driver(path, NSUB);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof cmd, "cat %s/cc.log >&2", dir);
		(void)system(cmd);
		fail_msg("the exported C does not compile cleanly");
	}
	snprintf(path, sizeof path, "%s/in.bin", dir);
	ue_write_file(path, x, NIMG * in_size * sizeof(float));
	snprintf(cmd, sizeof cmd, "%s/drv %s/in.bin %s/out.bin", dir, dir, dir);
	assert_int_equal(system(cmd), 0);

	snprintf(path, sizeof path, "%s/out.bin", dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	for (int i = 0; i < NSUB; i++) {
		unsigned long sz[2];
		assert_int_equal(fread(sz, sizeof sz, 1, f), 1);
		assert_int_equal(sz[0], info[i].flash);
		assert_int_equal(sz[1], info[i].ram);
	}
	double worst = 0;
	for (int img = 0; img < NIMG; img++)
		for (int i = 0; i < NSUB; i++) {
			float got[NCLS];
			int best;
			assert_int_equal(fread(got, sizeof got, 1, f), 1);
			assert_int_equal(fread(&best, sizeof best, 1, f), 1);
			const float *ref = want[i] + img * NCLS;
			for (int k = 0; k < NCLS; k++)
				worst = fmax(worst, fabs((double)got[k] - ref[k]));
			assert_int_equal(best, ue_argmax(ref, NCLS));
			assert_int_equal(best, ue_argmax(got, NCLS));
		}
	assert_int_equal(fread(&worst, 1, 1, f), 0);
	fclose(f);
	print_message("# %s at %dx%d: max |C - runtime| = %.3g; max: %zu B flash, %zu B RAM\n",
		      s->name, h, w, worst, info[0].flash, info[0].ram);
	assert_true(worst <= 1e-4);

	for (int i = 0; i < NSUB; i++)
		rt_model_free(m[i]);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(x);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

static void test_mbconv(void **state)
{
	(void)state;
	check_space(tiny_space, R, R, 31);
}

static void test_resnet(void **state)
{
	(void)state;
	check_space(tiny_resnet_space, R, R, 32);
}

/* Inputs larger than any resolution and not square: every subnet resizes. */
static void test_resized(void **state)
{
	(void)state;
	check_space(tiny_space, R + 3, R + 1, 33);
	check_space(tiny_resnet_space, R + 1, R + 3, 34);
}

static void test_names(void **state)
{
	(void)state;
	char name[RT_EXPORT_C_NAME_MAX + 1], err[256];
	assert_int_equal(rt_export_c_name("out/my-net.v2", name, sizeof name, err, sizeof err), 0);
	assert_string_equal(name, "my_net_v2");
	assert_int_equal(rt_export_c_name("7seg", name, sizeof name, err, sizeof err), 0);
	assert_string_equal(name, "m_7seg");
	assert_int_equal(rt_export_c_name("dir/", name, sizeof name, err, sizeof err), -1);
	assert_non_null(strstr(err, "dir/: no file name"));
	char longp[RT_EXPORT_C_NAME_MAX + 8];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	assert_int_equal(rt_export_c_name(longp, name, sizeof name, err, sizeof err), -1);
	assert_non_null(strstr(err, "longer than"));
}

static void test_nonfinite(void **state)
{
	(void)state;
	ir_space *s = tiny_space(C, R);
	sn_supernet *sn = ue_perturbed_supernet(s, NCLS, R, R, NIMG, 7);
	sn_subnet sub;
	char err[256];
	sn_subnet_min(s, &sub);
	rt_model *m = rt_model_extract(sn, &sub, KEY, err, sizeof err);
	assert_non_null(m);
	m->weights[m->nweights / 2] = NAN;
	char *src = NULL, *hdr = NULL;
	size_t ns, nh;
	FILE *fs = open_memstream(&src, &ns), *fh = open_memstream(&hdr, &nh);
	assert_true(fs && fh);
	assert_int_equal(rt_export_c_write(m, "net", fs, fh, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "not finite"));
	assert_non_null(strstr(err, m->genes));
	fclose(fs);
	fclose(fh);
	free(src);
	free(hdr);
	rt_model_free(m);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

int main(void)
{
	rt_threads_init(1, NULL, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbconv),
		cmocka_unit_test(test_resnet),
		cmocka_unit_test(test_resized),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_nonfinite),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rt_threads_shutdown();
	return rc;
}
