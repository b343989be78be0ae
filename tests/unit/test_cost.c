/*
 * test_cost.c — MACs, parameters and peak activation memory (runtime/cost.h)
 * of tiny spaces, against counts worked out by hand in the comments.
 * Memory is in float32 values in the comments, bytes in the asserts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "compiler/cc.h"
#include "runtime/cost.h"

/* The space named `name` of an in-memory source; the module goes in *m. */
static const ir_space *space_of(const char *text, const char *name, ir_module **m)
{
	lang_diags d;
	cc_options o;
	lang_diags_init(&d);
	cc_options_init(&o);
	*m = cc_compile_source("cost.arch", text, strlen(text), &o, &d);
	if (!*m)
		lang_diags_print(&d, stderr);
	lang_diags_free(&d);
	assert_non_null(*m);
	for (int i = 0; i < (*m)->nspaces; i++)
		if (strcmp((*m)->spaces[i].name, name) == 0)
			return &(*m)->spaces[i];
	fail_msg("no space %s", name);
	return NULL;
}

/* Metrics of the subnet with gene string `genes` ("max" and "min" too). */
static search_metrics metrics_of(const ir_space *s, int nclasses, const char *genes)
{
	char err[256];
	assert_int_equal(sn_space_check(s, nclasses, err, sizeof(err)), 0);
	sn_subnet sub;
	if (sn_subnet_parse_spec(s, genes, &sub, err, sizeof(err)) != 0)
		fail_msg("%s: %s", genes, err);
	sn_plan plan;
	search_metrics a, b;
	assert_int_equal(search_metrics_compute(s, nclasses, &sub, &plan, &a), 0);
	/* Without a caller's plan: the same numbers. */
	assert_int_equal(search_metrics_compute(s, nclasses, &sub, NULL, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_true(search_metrics_get(&a, IR_METRIC_MEMORY) == a.memory);
	return a;
}

static void expect(search_metrics m, double macs, double params, double memory)
{
	if (m.macs != macs || m.params != params || m.memory != memory)
		fail_msg("got macs %.0f params %.0f memory %.0f, want %.0f %.0f %.0f",
			 m.macs, m.params, m.memory, macs, params, memory);
}

/*
 * Conv stem, one MBCONV with SE and an identity shortcut, pool, fc(3), on
 * one 8x8 channel (hw = 64 everywhere: stride 1).
 *
 * min subnet (k3, e2): stem 1->4 k3: MACs 64*9*4 = 2304, params 36+8 = 44,
 *   live X+Y = 64+256 = 320.
 *   mbconv cin 4, mid 8, se_r 2, out 4, shortcut (S = X = 256):
 *     expand   MACs 64*4*8 = 2048, params 32+16 = 48, live X+E = 256+512 = 768
 *     dw k3    MACs 64*9*8 = 4608, params 72+16 = 88, live E+S+D = 1280
 *     SE       MACs 2*8*2 = 32, params 32+2+8 = 42,   live S+D+8+2 = 778
 *     project  MACs 64*8*4 = 2048, params 32+8 = 40,  live S+D+Y = 1024
 *   pool 256+4 = 260; fc 4->3: MACs 12, params 12+3 = 15, live 7.
 *   Total MACs 2304+8736+12 = 11052, params 44+218+15 = 277,
 *   peak 1280 values = 5120 bytes (the depthwise step).
 * max subnet (k5, e3): mid 12, se_r 3:
 *     expand   MACs 64*4*12 = 3072, params 48+24 = 72,   live 256+768 = 1024
 *     dw k5    MACs 64*25*12 = 19200, params 300+24 = 324, live 768+256+768 = 1792
 *     SE       MACs 2*12*3 = 72, params 72+3+12 = 87,     live 256+768+15 = 1039
 *     project  MACs 64*12*4 = 3072, params 48+8 = 56,     live 1280
 *   Total MACs 2304+25416+12 = 27732, params 44+539+15 = 598,
 *   peak 1792 values = 7168 bytes.
 */
static const char *const src_mb =
	"space tiny_mb {\n"
	"    input channels = 1;\n"
	"    resolution = 8;\n"
	"    stem conv(kernel = 3, out = 4, stride = 1, act = relu);\n"
	"    stage s1 { depth = 1; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 4,"
	" stride = 1, se = true); }\n"
	"    head pool, fc(classes);\n"
	"}\n";

static void test_mbconv_se(void **state)
{
	(void)state;
	ir_module *m;
	const ir_space *s = space_of(src_mb, "tiny_mb", &m);
	expect(metrics_of(s, 3, "min"), 11052, 277, 5120);
	expect(metrics_of(s, 3, "max"), 27732, 598, 7168);
	ir_module_free(m);
}

/*
 * A residual block with a projection shortcut (3 -> out channels, stride 2)
 * on a 6x6 grey image; stem 1->3 k3 stride 1; pool; fc(2).
 *   stem: MACs 36*9*3 = 972, params 27+6 = 33, live 36+108 = 144.
 *   residual, out 4 (mid = out, expand 1), 6x6 -> 3x3 (hw 9), X = 108:
 *     conv1 3->4 k3 s2: MACs 9*9*3*4 = 972,  params 108+8 = 116, live X+M = 144
 *     conv2 4->4 k3:    MACs 9*9*4*4 = 1296, params 144+8 = 152, live X+M+Y = 180
 *     proj 1x1 3->4:    MACs 9*3*4 = 108,    params 12+8 = 20,   live X+2Y = 180
 *   pool 36+4 = 40; fc 4->2: MACs 8, params 10, live 6.
 *   Total MACs 972+2376+8 = 3356, params 33+288+10 = 331, peak 180 values
 *   = 720 bytes.
 * out 8: M = Y = 72: conv1 MACs 9*9*3*8 = 1944, params 216+16 = 232;
 *   conv2 MACs 9*9*8*8 = 5184, params 576+16 = 592; proj 9*3*8 = 216, params
 *   24+16 = 40; fc 8->2: 16 MACs, 18 params.  MACs 972+7344+16 = 8332,
 *   params 33+864+18 = 915, peak 108+72+72 = 252 values = 1008 bytes.
 */
static const char *const src_res =
	"space tiny_res {\n"
	"    input channels = 1;\n"
	"    resolution = 6;\n"
	"    stem conv(kernel = 3, out = 3, stride = 1, act = relu);\n"
	"    stage r1 { depth = 1; block = residual(kernel = 3, out in {4, 8}, stride = 2); }\n"
	"    head pool, fc(classes);\n"
	"}\n";

static void test_residual_projection(void **state)
{
	(void)state;
	ir_module *m;
	const ir_space *s = space_of(src_res, "tiny_res", &m);
	expect(metrics_of(s, 2, "w4"), 3356, 331, 720);
	expect(metrics_of(s, 2, "w8"), 8332, 915, 1008);
	ir_module_free(m);
}

/*
 * A dense MLP on 5 features: up to two dense layers (BN, no bias), fc(3).
 * d2:w6,4: dense 5->6 MACs 30, params 30+12 = 42, live 11;
 *          dense 6->4 MACs 24, params 24+8 = 32, live 10;
 *          fc 4->3 MACs 12, params 15, live 7.
 *          Total MACs 66, params 89, peak 11 values = 44 bytes.
 * d1:w4,6: dense 5->4 MACs 20, params 28, live 9; fc 4->3 as above.
 *          Total MACs 32, params 43, peak 9 values = 36 bytes (the second
 *          block's gene is chosen but unused).
 */
static const char *const src_mlp =
	"space tiny_mlp {\n"
	"    input features = 5;\n"
	"    stage h { depth in 1..2; block = dense(out in {4, 6}, act = relu); }\n"
	"    head fc(classes);\n"
	"}\n";

static void test_dense(void **state)
{
	(void)state;
	ir_module *m;
	const ir_space *s = space_of(src_mlp, "tiny_mlp", &m);
	expect(metrics_of(s, 3, "d2:w6,4"), 66, 89, 44);
	expect(metrics_of(s, 3, "d1:w4,6"), 32, 43, 36);
	ir_module_free(m);
}

/* The peak is the largest layer's, and a skipped layer costs nothing. */
static void test_peak_is_largest_layer(void **state)
{
	(void)state;
	ir_module *m;
	const ir_space *s = space_of(src_mlp, "tiny_mlp", &m);
	sn_subnet sub;
	char err[128];
	assert_int_equal(sn_subnet_parse(s, "d1:w6,6", &sub, err, sizeof(err)), 0);
	sn_plan plan;
	sn_plan_build(s, 3, &sub, &plan);
	assert_true(search_layer_memory(s, &plan, 0) == 4.0 * 11);
	assert_true(search_layer_memory(s, &plan, 1) == 0);
	assert_true(search_layer_memory(s, &plan, 2) == 4.0 * 9);
	assert_true(search_peak_memory(s, &plan) == 4.0 * 11);
	ir_module_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbconv_se),
		cmocka_unit_test(test_residual_projection),
		cmocka_unit_test(test_dense),
		cmocka_unit_test(test_peak_is_largest_layer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
