/*
 * test_extract.c — subnets cut out as standalone models: their logits equal
 * the supernet's for the largest, the smallest and random subnets of both
 * tiny spaces at several batch sizes, with and without resizing, and each
 * image's logits are bitwise the same alone, in a batch and in a batch
 * split over two threads; the file round trip is exact
 * (weights, layers, input normalisation); and
 * every damaged file (bad magic, newer version, each truncation, trailing
 * bytes, every flipped byte, an inconsistent layer list with a valid
 * checksum, a missing file, sizes no caller could allocate) is refused with
 * a message naming it.
 *
 * The supernets' weights are random, and their batch-norm parameters,
 * statistics and kernel transforms are perturbed away from their initial
 * values, so a slice or transform taken from the wrong place shows.
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
#define MAXB 8

static const uint8_t KEY[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static double max_abs_diff(const float *a, const float *b, size_t n)
{
	double d = 0;
	for (size_t i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - b[i]));
	return d;
}

/* Extracts `sub`, runs both at batch sizes 1, 3 and MAXB, returns the
 * largest difference seen. */
static double compare(sn_supernet *sn, const sn_subnet *sub, const float *x)
{
	char err[256];
	rt_model *m = rt_model_extract(sn, sub, KEY, err, sizeof err);
	assert_non_null(m);
	static const int batches[] = { 1, 3, MAXB };
	double worst = 0;
	for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
		int n = batches[b];
		float *ws = malloc(rt_model_workspace(m, n) * sizeof(float));
		float got[MAXB * NCLS], want[MAXB * NCLS];
		assert_non_null(ws);
		rt_model_forward(m, x, n, ws, got);
		sn_supernet_set_subnet(sn, sub);
		memcpy(want, sn_supernet_forward(sn, x, n, RT_BN_MODE_EVAL),
		       (size_t)n * NCLS * sizeof(float));
		worst = fmax(worst, max_abs_diff(got, want, (size_t)n * NCLS));
		/* the batch is split over the pool's threads and run in groups of
		 * images: each image's logits are those it has alone, bitwise */
		float one[MAXB * NCLS], two[MAXB * NCLS];
		size_t px = (size_t)m->in_h * m->in_w * m->in_channels;
		for (int i = 0; i < n; i++)
			rt_model_forward(m, x + i * px, 1, ws, one + i * NCLS);
		assert_int_equal(rt_threads_init(2, NULL, 0), 2);
		rt_model_forward(m, x, n, ws, two);
		assert_int_equal(rt_threads_init(1, NULL, 0), 1);
		assert_memory_equal(got, one, (size_t)n * NCLS * sizeof(float));
		assert_memory_equal(got, two, (size_t)n * NCLS * sizeof(float));
		free(ws);
	}
	/* the costs and the gene string travel with the model */
	sn_plan plan;
	sn_cost cost;
	char genes[SN_GENE_STRLEN];
	sn_plan_build(sn_supernet_space(sn), NCLS, sub, &plan);
	sn_plan_cost(sn_supernet_space(sn), &plan, &cost);
	sn_subnet_format(sn_supernet_space(sn), sub, genes, sizeof genes);
	assert_true(m->macs == cost.macs && m->params == cost.params);
	assert_string_equal(m->genes, genes);
	rt_model_free(m);
	return worst;
}

/* Inputs of h x w: every subnet of a space of largest resolution R resizes
 * them unless h == w == R. */
static void equality(ir_space *(*make)(int, int), int h, int w, uint64_t seed)
{
	ir_space *s = make(C, R);
	sn_supernet *sn = ue_perturbed_supernet(s, NCLS, h, w, MAXB, seed);
	rt_rng rng;
	rt_rng_seed(&rng, seed);
	float *x = ug_rand(&rng, (size_t)MAXB * h * w * C, -2, 2);
	sn_subnet sub;
	size_t np = sn_supernet_nparams(sn), nst = sn_supernet_nstats(sn);
	float *w0 = ug_copy(sn_supernet_weights(sn), np);
	float *st0 = ug_copy(sn_supernet_stats(sn), nst);
	sn_subnet_max(s, &sub);
	double worst = compare(sn, &sub, x);
	sn_subnet_min(s, &sub);
	worst = fmax(worst, compare(sn, &sub, x));
	for (int i = 0; i < 20; i++) {
		sn_subnet_random(s, &rng, &sub);
		worst = fmax(worst, compare(sn, &sub, x));
	}
	print_message("# %s at %dx%d: max |model - supernet| = %.3g\n", s->name, h, w, worst);
	assert_true(worst <= 1e-5);
	/* extraction reads the supernet and changes nothing in it */
	assert_memory_equal(w0, sn_supernet_weights(sn), np * sizeof(float));
	assert_memory_equal(st0, sn_supernet_stats(sn), nst * sizeof(float));
	free(w0);
	free(st0);
	free(x);
	sn_supernet_free(sn);
	tiny_space_free(s);
}

static void test_equal_mbconv(void **state)
{
	(void)state;
	equality(tiny_space, R, R, 21);
}

static void test_equal_resnet(void **state)
{
	(void)state;
	equality(tiny_resnet_space, R, R, 22);
}

/* The model of a random subnet of the MBConv space, encoded. */
static rt_model *sample_model(uint8_t **buf, size_t *len)
{
	ir_space *s = tiny_space(C, R);
	sn_supernet *sn = ue_perturbed_supernet(s, NCLS, R, R, MAXB, 5);
	sn_subnet sub;
	char err[256];
	assert_int_equal(sn_subnet_parse(s, "r5:d2,2:k3,5,5,3:e2,3,3,2:w4", &sub, err, sizeof err), 0);
	rt_model *m = rt_model_extract(sn, &sub, KEY, err, sizeof err);
	assert_non_null(m);
	for (int c = 0; c < C; c++) {
		assert_true(m->in_mean[c] == 0.0f && m->in_std[c] == 1.0f);
		m->in_mean[c] = 72.9f + (float)c;
		m->in_std[c] = 90.0f - (float)c;
	}
	assert_int_equal(rt_model_encode(m, buf, len), 0);
	sn_supernet_free(sn);
	tiny_space_free(s);
	return m;
}

static void assert_same_model(const rt_model *a, const rt_model *b)
{
	assert_memory_equal(a->supernet_key, b->supernet_key, 16);
	assert_int_equal(a->in_channels, b->in_channels);
	assert_int_equal(a->in_h, b->in_h);
	assert_int_equal(a->in_w, b->in_w);
	assert_memory_equal(a->in_mean, b->in_mean, (size_t)a->in_channels * sizeof(float));
	assert_memory_equal(a->in_std, b->in_std, (size_t)a->in_channels * sizeof(float));
	assert_int_equal(a->res, b->res);
	assert_int_equal(a->nclasses, b->nclasses);
	assert_true(a->macs == b->macs && a->params == b->params);
	assert_string_equal(a->genes, b->genes);
	assert_int_equal(a->nlayers, b->nlayers);
	assert_memory_equal(a->layers, b->layers, (size_t)a->nlayers * sizeof(*a->layers));
	assert_int_equal(a->nweights, b->nweights);
	assert_memory_equal(a->weights, b->weights, a->nweights * sizeof(float));
}

/* Inputs that are not square and larger than any resolution. */
static void test_equal_resized(void **state)
{
	(void)state;
	equality(tiny_space, R + 3, R + 1, 23);
	equality(tiny_resnet_space, R + 1, R + 3, 24);
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	char err[512];
	rt_model *m = sample_model(&buf, &len);
	rt_model *d = rt_model_decode(buf, len, "buffer", err, sizeof err);
	assert_non_null(d);
	assert_same_model(m, d);
	char dir[] = "/tmp/test_extract.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sub.model", dir);
	assert_int_equal(rt_model_save(m, path, err, sizeof err), 0);
	rt_model *l = rt_model_load(path, err, sizeof err);
	assert_non_null(l);
	assert_same_model(m, l);
	/* a loaded model runs like the extracted one */
	rt_rng rng;
	rt_rng_seed(&rng, 4);
	float *x = ug_rand(&rng, (size_t)2 * R * R * C, -1, 1), a[2 * NCLS], b[2 * NCLS];
	float *ws = malloc(rt_model_workspace(m, 2) * sizeof(float));
	rt_model_forward(m, x, 2, ws, a);
	rt_model_forward(l, x, 2, ws, b);
	assert_memory_equal(a, b, sizeof a);
	free(ws);
	free(x);
	unlink(path);
	rmdir(dir);
	rt_model_free(l);
	rt_model_free(d);
	rt_model_free(m);
	free(buf);
}

/* Decodes buf[0, len) expecting a refusal whose message holds `want`. */
static void refused(const uint8_t *buf, size_t len, const char *want)
{
	char err[512] = "";
	rt_model *m = rt_model_decode(buf, len, "sub.model", err, sizeof err);
	if (m || !strstr(err, want) || strncmp(err, "sub.model: ", 11) != 0)
		print_message("# len %zu: '%s', wanted '%s'\n", len, err, want);
	assert_null(m);
	assert_non_null(strstr(err, want));
	assert_int_equal(strncmp(err, "sub.model: ", 11), 0);
}

/* Rewrites the trailing checksum after an edit. */
static void reseal(uint8_t *buf, size_t len)
{
	uint64_t h = XXH3_64bits(buf, len - 8);
	for (int i = 0; i < 8; i++)
		buf[len - 8 + (size_t)i] = (uint8_t)(h >> (8 * i));
}

static void test_refusals(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	rt_model *m = sample_model(&buf, &len);
	uint8_t *bad = malloc(len + 1);
	assert_non_null(bad);

	memcpy(bad, buf, len);
	bad[0] ^= 0x20;
	refused(bad, len, "not an archd model file");

	memcpy(bad, buf, len);
	bad[8] = RT_MODEL_VERSION + 1;
	refused(bad, len, "newer than this build reads");

	for (size_t cut = 0; cut < len; cut++)
		refused(buf, cut, cut < 8 ? "bad magic" : "truncated");

	memcpy(bad, buf, len);
	bad[len] = 0;
	refused(bad, len + 1, "1 trailing bytes");

	/* every single flipped bit pattern is caught by one check or another */
	size_t glen = strlen(m->genes);
	for (size_t i = 8; i < len; i++) {
		memcpy(bad, buf, len);
		bad[i] ^= 0x5a;
		char err[512];
		rt_model *d = rt_model_decode(bad, len, "sub.model", err, sizeof err);
		assert_null(d);
	}
	memcpy(bad, buf, len);
	bad[len / 2] ^= 1;
	refused(bad, len, "checksum mismatch");

	/* consistent checksums over inconsistent contents */
	size_t norm = 76 + glen, layers = norm + 8 * C, lsize = 64;
	memcpy(bad, buf, len);
	bad[layers + lsize * 2 + 8] += 1; /* layer 2's cin */
	reseal(bad, len);
	refused(bad, len, "layer 2: takes");
	memcpy(bad, buf, len);
	bad[layers + lsize * 1] = 42; /* layer 1's kind */
	reseal(bad, len);
	refused(bad, len, "layer 1: unknown kind 42");
	memcpy(bad, buf, len);
	bad[layers + lsize * 0 + 24] = 4; /* the stem's kernel */
	reseal(bad, len);
	refused(bad, len, "layer 0: kernel 4");
	memcpy(bad, buf, len);
	memset(bad + norm + 4 * C + 4, 0, 4); /* std of channel 1 */
	reseal(bad, len);
	refused(bad, len, "input normalisation of channel 1: mean 73.9, std 0");
	memcpy(bad, buf, len);
	bad[13] = 1;
	refused(bad, len, "the reserved header word is not 0");
	memcpy(bad, buf, len);
	bad[76 + 1] = '\n'; /* in the gene string */
	reseal(bad, len);
	refused(bad, len, "byte 0x0a at 1 is not printable");
	memcpy(bad, buf, len);
	bad[32 + 16] = NCLS + 1; /* nclasses */
	reseal(bad, len);
	refused(bad, len, "outputs for 4 classes");

	char err[512];
	assert_null(rt_model_load("/nonexistent/dir/sub.model", err, sizeof err));
	assert_non_null(strstr(err, "/nonexistent/dir/sub.model: No such file"));
	free(bad);
	free(buf);
	rt_model_free(m);
}

/* The file of a two-layer model made by hand: a pool over side x side
 * pixels of one channel (the input in_h x in_w), then fc(1).  *len bytes
 * at *buf, which the caller frees. */
static void pool_fc_file(int in_h, int in_w, int side, uint8_t **buf, size_t *len)
{
	rt_model_layer layers[2] = {
		{ .kind = IR_BLOCK_POOL, .act = IR_ACT_NONE, .cin = 1, .cout = 1, .stride = 1,
		  .h = side, .w = side, .ho = 1, .wo = 1 },
		{ .kind = IR_BLOCK_FC, .act = IR_ACT_NONE, .cin = 1, .cout = 1, .stride = 1,
		  .h = 1, .w = 1, .ho = 1, .wo = 1 },
	};
	float mean = 0, std = 1, w[2] = { 1, 0 };
	char genes[] = "r1";
	rt_model m = { .in_channels = 1, .in_h = in_h, .in_w = in_w, .res = side,
		       .nclasses = 1, .genes = genes, .in_mean = &mean, .in_std = &std,
		       .nlayers = 2, .layers = layers, .nweights = 2, .weights = w };
	assert_int_equal(rt_model_encode(&m, buf, len), 0);
}

/* The sizes a file declares are not backed by its length: a 300-byte file
 * may describe a pool over 8192 x 8192 pixels (1 GiB of workspace an
 * image) or a 65536 x 65536 input, and no tool may be asked to allocate
 * that (the fuzzer's first find).  Both are refused; a small one loads. */
static void test_refuses_huge(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	pool_fc_file(8192, 8192, 8192, &buf, &len);
	refused(buf, len, "the layers need 268435456 floats of workspace an image, more than the 67108864");
	free(buf);
	pool_fc_file(65536, 65536, 8, &buf, &len);
	refused(buf, len, "an input of 65536x65536x1 floats, more than the 67108864");
	free(buf);

	pool_fc_file(64, 64, 8, &buf, &len);
	char err[512];
	rt_model *m = rt_model_decode(buf, len, "sub.model", err, sizeof err);
	assert_non_null(m);
	float x[64 * 64] = { 0 }, logit = -1;
	float *ws = malloc(rt_model_workspace(m, 1) * sizeof(float));
	assert_non_null(ws);
	rt_model_forward(m, x, 1, ws, &logit);
	assert_true(logit == 0.0f);
	free(ws);
	rt_model_free(m);
	free(buf);
}

/* A NaN or infinite weight, or a batch-norm variance below zero (which
 * folds to NaN), is refused: such a model gives no logits, only NaN. */
static void test_refuses_nonfinite(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	rt_model *m = sample_model(&buf, &len);
	size_t w0 = len - 8 - 4 * m->nweights; /* the first weight's bytes */
	const rt_model_layer *stem = &m->layers[0];
	assert_int_equal(stem->kind, IR_BLOCK_CONV);
	/* its batch norm's variances follow W [k k cin, cout], gamma, beta, mean */
	size_t var0 = stem->off + (size_t)stem->k * stem->k * stem->cin * stem->cout +
		      3 * (size_t)stem->cout;
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	static const uint8_t nan_le[4] = { 0x00, 0x00, 0xc0, 0x7f }, inf_le[4] = { 0, 0, 0x80, 0x7f },
			     minus_one_le[4] = { 0x00, 0x00, 0x80, 0xbf };
	memcpy(bad, buf, len);
	memcpy(bad + w0 + 4 * 5, nan_le, 4);
	reseal(bad, len);
	refused(bad, len, "weight 5 of ");
	memcpy(bad, buf, len);
	memcpy(bad + w0 + 4 * (m->nweights - 1), inf_le, 4);
	reseal(bad, len);
	refused(bad, len, "is not finite (inf)");
	memcpy(bad, buf, len);
	memcpy(bad + w0 + 4 * var0, minus_one_le, 4);
	reseal(bad, len);
	refused(bad, len, "a batch norm with a negative variance");
	/* the file as written still loads */
	char err[256];
	rt_model *back = rt_model_decode(buf, len, "sub.model", err, sizeof err);
	assert_non_null(back);
	rt_model_free(back);
	free(bad);
	free(buf);
	rt_model_free(m);
}

/* Random edits of the header and the layer list with the checksum made
 * right again, so they reach the structural checks: every file is refused
 * or, when accepted, describes a network the forward runs without reading
 * or writing out of bounds (the sanitizer build checks that). */
static void test_mutations(void **state)
{
	(void)state;
	uint8_t *buf;
	size_t len;
	rt_model *m = sample_model(&buf, &len);
	size_t body = 76 + strlen(m->genes) + 8 * C + (size_t)m->nlayers * 64 + 8;
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	rt_rng rng;
	rt_rng_seed(&rng, 99);
	float *x = ug_rand(&rng, (size_t)R * R * C, -1, 1);
	int accepted = 0;
	for (int trial = 0; trial < 3000; trial++) {
		memcpy(bad, buf, len);
		int edits = 1 + (int)rt_rng_below(&rng, 3);
		for (int e = 0; e < edits; e++) {
			size_t at = 8 + rt_rng_below(&rng, body - 8);
			/* small values reach the layer checks more often than any byte */
			bad[at] = rt_rng_below(&rng, 2) ? (uint8_t)rt_rng_below(&rng, 12)
							: (uint8_t)rt_rng_below(&rng, 256);
		}
		reseal(bad, len);
		char err[512];
		rt_model *d = rt_model_decode(bad, len, "sub.model", err, sizeof err);
		if (!d) {
			assert_int_equal(strncmp(err, "sub.model: ", 11), 0);
			continue;
		}
		accepted++;
		size_t need = rt_model_workspace(d, 1);
		if (d->in_h == R && d->in_w == R && d->in_channels == C && need < ((size_t)1 << 24)) {
			float *ws = malloc(need * sizeof(float)), *logits = malloc((size_t)d->nclasses * sizeof(float));
			assert_true(ws && logits);
			rt_model_forward(d, x, 1, ws, logits);
			free(ws);
			free(logits);
		}
		rt_model_free(d);
	}
	/* edits of the costs or the key leave a valid file: some were accepted */
	print_message("# %d of 3000 edited files accepted\n", accepted);
	assert_true(accepted > 0);
	free(x);
	free(bad);
	free(buf);
	rt_model_free(m);
}

int main(void)
{
	rt_threads_init(1, NULL, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_mbconv),
		cmocka_unit_test(test_equal_resnet),
		cmocka_unit_test(test_equal_resized),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refuses_huge),
		cmocka_unit_test(test_refuses_nonfinite),
		cmocka_unit_test(test_mutations),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rt_threads_shutdown();
	return rc;
}
