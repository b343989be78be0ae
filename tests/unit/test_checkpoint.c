/*
 * test_checkpoint.c — checkpoints: an exact round trip of weights, momentum,
 * statistics, position and rng states, and every refusal (wrong magic, newer
 * version, truncated, trailing bytes, checksum, other supernet, other
 * sizes), each with a message naming the file and leaving the supernet as
 * it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/checkpoint.h"
#include "runtime/supernet.h"
#include "tests/unit/util_arch.h"

static const char *src =
	"import \"std/datasets.arch\";\n"
	"space tiny {\n"
	"    input channels = 1;\n"
	"    resolution in {16, 20};\n"
	"    stem conv(kernel = 3, out = 8, stride = 2, act = relu);\n"
	"    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 16, stride = 2, se = true); }\n"
	"    head pool, fc(classes);\n"
	"}\n"
	"space other {\n"
	"    input channels = 1;\n"
	"    resolution in {16, 20};\n"
	"    stem conv(kernel = 3, out = 8, stride = 2, act = relu);\n"
	"    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 24, stride = 2); }\n"
	"    head pool, fc(classes);\n"
	"}\n"
	"task t { data = fashion_mnist; space = tiny; }\n";

typedef struct fixture {
	ir_module *m;
	sn_supernet *sn;
	char path[64];
	uint8_t key[16];
	rt_ckpt_state st;
} fixture;

static sn_supernet *build(const ir_module *m, const char *space, uint64_t seed)
{
	char err[256];
	for (int i = 0; i < m->nspaces; i++)
		if (!strcmp(m->spaces[i].name, space))
			return sn_supernet_new(&m->spaces[i], 10, 28, 28, 2, seed, err, sizeof err);
	return NULL;
}

static void fill(float *x, size_t n, float base)
{
	for (size_t i = 0; i < n; i++)
		x[i] = base + (float)i * 0.25f - (float)(i % 7);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->m = ua_compile(src);
	f->sn = f->m ? build(f->m, "tiny", 1) : NULL;
	if (!f->sn) {
		ir_module_free(f->m);
		free(f);
		return -1;
	}
	memcpy(f->key, f->m->tasks[0].supernet_key, 16);
	size_t np = sn_supernet_nparams(f->sn), ns = sn_supernet_nstats(f->sn);
	fill(sn_supernet_weights(f->sn), np, 1.0f);
	fill(sn_supernet_momentum(f->sn), np, -3.0f);
	fill(sn_supernet_stats(f->sn), ns, 0.5f);
	f->st.phase = 2;
	f->st.epoch = 5;
	f->st.step = 17;
	f->st.global_step = 1234567890123LL;
	f->st.nrng = 2;
	rt_rng_seed(&f->st.rng[0], 42);
	rt_rng_seed(&f->st.rng[1], 43);
	snprintf(f->path, sizeof f->path, "/tmp/test_checkpoint.%ld", (long)getpid());
	char err[256];
	*state = f;
	if (rt_ckpt_save(f->path, f->sn, f->key, &f->st, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	unlink(f->path);
	sn_supernet_free(f->sn);
	ir_module_free(f->m);
	free(f);
	return 0;
}

static void test_round_trip(void **state)
{
	fixture *f = *state;
	sn_supernet *b = build(f->m, "tiny", 2);
	assert_non_null(b);
	rt_ckpt_state st;
	char err[256];
	assert_int_equal(rt_ckpt_load(f->path, b, f->key, &st, err, sizeof err), 0);
	size_t np = sn_supernet_nparams(b), ns = sn_supernet_nstats(b);
	assert_memory_equal(sn_supernet_weights(b), sn_supernet_weights(f->sn), np * 4);
	assert_memory_equal(sn_supernet_momentum(b), sn_supernet_momentum(f->sn), np * 4);
	assert_memory_equal(sn_supernet_stats(b), sn_supernet_stats(f->sn), ns * 4);
	assert_int_equal(st.phase, 2);
	assert_int_equal(st.epoch, 5);
	assert_int_equal(st.step, 17);
	assert_true(st.global_step == 1234567890123LL);
	assert_int_equal(st.nrng, 2);
	assert_memory_equal(&st.rng[0], &f->st.rng[0], sizeof(rt_rng));
	assert_memory_equal(&st.rng[1], &f->st.rng[1], sizeof(rt_rng));
	sn_supernet_free(b);

	/* Saving again over it replaces it whole. */
	f->st.step = 18;
	assert_int_equal(rt_ckpt_save(f->path, f->sn, f->key, &f->st, err, sizeof err), 0);
	b = build(f->m, "tiny", 2);
	assert_int_equal(rt_ckpt_load(f->path, b, f->key, &st, err, sizeof err), 0);
	assert_int_equal(st.step, 18);
	sn_supernet_free(b);
}

static void test_missing(void **state)
{
	fixture *f = *state;
	rt_ckpt_state st;
	char err[256] = "untouched";
	assert_int_equal(rt_ckpt_load("/nonexistent/checkpoint", f->sn, f->key, &st, err,
				      sizeof err),
			 RT_CKPT_MISSING);
	assert_string_equal(err, "untouched");
	/* Saving where no directory exists fails cleanly. */
	assert_int_equal(rt_ckpt_save("/nonexistent/checkpoint", f->sn, f->key, &f->st, err,
				      sizeof err),
			 -1);
	assert_non_null(strstr(err, "/nonexistent/checkpoint"));
}

/* Rewrites the file through edit(), then expects load to refuse it with a
 * message containing `want`, leaving a fresh supernet untouched. */
typedef void (*edit_fn)(uint8_t *buf, size_t *len);

static void refused(fixture *f, edit_fn edit, const uint8_t *key, const char *space,
		    const char *want)
{
	FILE *fp = fopen(f->path, "rb");
	assert_non_null(fp);
	size_t cap = 1 << 22, len;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	len = fread(buf, 1, cap - 64, fp);
	fclose(fp);
	uint8_t *orig = malloc(len);
	assert_non_null(orig);
	memcpy(orig, buf, len);
	size_t olen = len;
	if (edit)
		edit(buf, &len);
	fp = fopen(f->path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	fclose(fp);

	sn_supernet *b = build(f->m, space, 9);
	assert_non_null(b);
	size_t np = sn_supernet_nparams(b);
	float *before = malloc(np * 4);
	assert_non_null(before);
	memcpy(before, sn_supernet_weights(b), np * 4);
	rt_ckpt_state st;
	char err[512];
	assert_int_equal(rt_ckpt_load(f->path, b, key, &st, err, sizeof err), RT_CKPT_ERROR);
	if (!strstr(err, want) || !strstr(err, f->path))
		fail_msg("message \"%s\" lacks \"%s\" or the path", err, want);
	assert_memory_equal(sn_supernet_weights(b), before, np * 4);
	free(before);
	sn_supernet_free(b);

	fp = fopen(f->path, "wb");
	assert_non_null(fp);
	fwrite(orig, 1, olen, fp);
	fclose(fp);
	free(orig);
	free(buf);
}

static void edit_magic(uint8_t *buf, size_t *len) { (void)len; buf[0] = 'X'; }
static void edit_version(uint8_t *buf, size_t *len) { (void)len; buf[8] = 2; }
static void edit_truncate(uint8_t *buf, size_t *len) { (void)buf; *len -= 100; }
static void edit_short(uint8_t *buf, size_t *len) { (void)buf; *len = 40; }
static void edit_trailing(uint8_t *buf, size_t *len) { buf[(*len)++] = 0; }
static void edit_weight(uint8_t *buf, size_t *len) { buf[*len / 2] ^= 0x10; }
static void edit_empty(uint8_t *buf, size_t *len) { (void)buf; *len = 0; }

static void test_refusals(void **state)
{
	fixture *f = *state;
	refused(f, edit_magic, f->key, "tiny", "wrong magic");
	refused(f, edit_empty, f->key, "tiny", "wrong magic");
	refused(f, edit_version, f->key, "tiny", "newer");
	refused(f, edit_truncate, f->key, "tiny", "truncated");
	refused(f, edit_short, f->key, "tiny", "truncated");
	refused(f, edit_trailing, f->key, "tiny", "unexpected bytes");
	refused(f, edit_weight, f->key, "tiny", "checksum mismatch");
	uint8_t other[16];
	memcpy(other, f->key, 16);
	other[3] ^= 1;
	refused(f, NULL, other, "tiny", "another supernet");
	refused(f, NULL, f->key, "other", "parameters");
	/* The untouched file still loads after all that. */
	sn_supernet *b = build(f->m, "tiny", 3);
	rt_ckpt_state st;
	char err[256];
	assert_int_equal(rt_ckpt_load(f->path, b, f->key, &st, err, sizeof err), 0);
	sn_supernet_free(b);
}

/* Rewrites the file through edit(), then expects rt_ckpt_peek to refuse
 * it with a message containing `want` and the path; restores it. */
static void peek_refused(fixture *f, edit_fn edit, const char *want)
{
	FILE *fp = fopen(f->path, "rb");
	assert_non_null(fp);
	uint8_t buf[256], orig[256];
	size_t len = fread(buf, 1, sizeof buf, fp), olen = len;
	fclose(fp);
	memcpy(orig, buf, len);
	edit(buf, &len);
	fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	fclose(fp);
	if (len < olen)
		assert_int_equal(truncate(f->path, (off_t)len), 0);
	uint8_t key[16];
	rt_ckpt_state st;
	char err[512];
	assert_int_equal(rt_ckpt_peek(f->path, key, &st, err, sizeof err), RT_CKPT_ERROR);
	if (!strstr(err, want) || !strstr(err, f->path))
		fail_msg("message \"%s\" lacks \"%s\" or the path", err, want);
	/* the original header back (a truncated file is rewritten whole) */
	if (len < olen) {
		assert_int_equal(rt_ckpt_save(f->path, f->sn, f->key, &f->st, err, sizeof err), 0);
		return;
	}
	fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fwrite(orig, 1, olen, fp), olen);
	fclose(fp);
}

static void edit_epoch(uint8_t *buf, size_t *len) { (void)len; buf[55] = 0x80; }

/* The header alone: key and position as saved, without the weights; a
 * missing file, a header that is not one, refused. */
static void test_peek(void **state)
{
	fixture *f = *state;
	uint8_t key[16];
	rt_ckpt_state st;
	char err[512] = "untouched";
	assert_int_equal(rt_ckpt_peek(f->path, key, &st, err, sizeof err), 0);
	assert_memory_equal(key, f->key, 16);
	assert_int_equal(st.phase, 2);
	assert_int_equal(st.epoch, 5);
	assert_int_equal(st.step, 17);
	assert_true(st.global_step == 1234567890123LL);
	assert_int_equal(rt_ckpt_peek("/nonexistent/checkpoint", key, &st, err, sizeof err),
			 RT_CKPT_MISSING);
	assert_string_equal(err, "untouched");
	peek_refused(f, edit_magic, "wrong magic");
	peek_refused(f, edit_version, "version 2");
	peek_refused(f, edit_short, "truncated");
	peek_refused(f, edit_epoch, "corrupt trainer position");
	/* the weights are not read: a damaged one still peeks (load refuses it) */
	struct stat sb;
	assert_int_equal(stat(f->path, &sb), 0);
	FILE *fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, (long)(sb.st_size / 2), SEEK_SET), 0);
	int c = fgetc(fp);
	assert_int_equal(fseek(fp, (long)(sb.st_size / 2), SEEK_SET), 0);
	fputc(c ^ 0x10, fp);
	fclose(fp);
	assert_int_equal(rt_ckpt_peek(f->path, key, &st, err, sizeof err), 0);
	assert_int_equal(st.epoch, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peek, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
