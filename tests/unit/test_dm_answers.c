/*
 * test_dm_answers.c — the answers archd keeps by request
 * (daemon/subnets_answers.c): written and read back byte for byte as
 * replies, another request's file (same hash slot) a miss, a damaged file
 * a miss, never a wrong answer; a supernet's answers kept to max_answers,
 * the oldest written going first, and its subnet records too, but for
 * those the kept answers name; and dm_json_text, the bytes a cached reply
 * sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/json.h"
#include "daemon/reply.h"
#include "daemon/subnets_priv.h"

static const uint8_t key[16] = { 0xf7, 0x44, 0x7d, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static json_t *answer(double acc)
{
	json_t *b = json_pack("{s:s,s:s,s:{s:f,s:f,s:i}}", "id",
			      "f7447d0601020304050607080900a0b0c-0123456789abcdef", "genes",
			      "r12:d2:k3,5:e2,3", "metrics", "accuracy", acc, "latency", 1.0 / 3e5,
			      "macs", 28672);
	assert_non_null(b);
	return b;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Writes a checkpoint-shaped file whose closing 8 bytes say `id`. */
static void write_checkpoint(const char *root, uint64_t id)
{
	char path[RT_STATE_PATH_MAX], err[256];
	unsigned char ck[96] = {0};
	for (int i = 0; i < 8; i++)
		ck[88 + i] = (unsigned char)(id >> (8 * i));
	assert_int_equal(rt_state_checkpoint_path(root, key, path, sizeof path), 0);
	assert_int_equal(rt_state_write_file(path, ck, sizeof ck, 0600, err, sizeof err), 0);
}

/* An answer names the checkpoint it was measured on; another checkpoint
 * in its place (restored, copied in) makes it a miss. */
static void test_other_weights(void **state)
{
	(void)state;
	char root[] = "/tmp/test_dm_answers.XXXXXX", path[RT_STATE_PATH_MAX];
	assert_non_null(mkdtemp(root));
	const char *req = "xxh3:ab|t||target=small";
	json_t *b = json_pack("{s:s,s:s}", "id", "f7447d060102030405060708090a0b0c-0123456789abcdef",
			      "weights", "0123456789abcdef");
	char *text = dm_subnets_answer_text(req, b);
	assert_non_null(text);
	dm_subnets_answer_write(root, key, req, text, 10);
	free(text);
	write_checkpoint(root, 0x0123456789abcdefULL);
	json_t *back = dm_subnets_answer_load(root, key, req);
	assert_non_null(back);
	json_decref(back);
	write_checkpoint(root, 0x0123456789abcdeeULL);
	assert_null(dm_subnets_answer_load(root, key, req));
	/* one kept without a checkpoint named (an older archd's) stands */
	assert_int_equal(json_object_del(b, "weights"), 0);
	text = dm_subnets_answer_text(req, b);
	assert_null(strstr(text, "weights"));
	dm_subnets_answer_write(root, key, req, text, 10);
	free(text);
	assert_non_null(back = dm_subnets_answer_load(root, key, req));
	json_decref(back);
	json_decref(b);
	assert_int_equal(dm_subnets_answer_path(root, key, req, path, sizeof path), 0);
	assert_int_equal(unlink(path), 0);
	*strrchr(path, '/') = '\0';
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rt_state_checkpoint_path(root, key, path, sizeof path), 0);
	assert_int_equal(unlink(path), 0);
	*strrchr(path, '/') = '\0';
	assert_int_equal(rmdir(path), 0);
	*strrchr(path, '/') = '\0';
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(root), 0);
}

static void test_round_trip(void **state)
{
	(void)state;
	char root[] = "/tmp/test_dm_answers.XXXXXX", path[RT_STATE_PATH_MAX];
	assert_non_null(mkdtemp(root));
	const char *req = "xxh3:ab|t||target=small";
	assert_null(dm_subnets_answer_load(root, key, req));

	json_t *b = answer(0.1 + 0.2);
	char *text = dm_subnets_answer_text(req, b);
	assert_non_null(text);
	dm_subnets_answer_write(root, key, req, text, 10);
	free(text);
	json_t *back = dm_subnets_answer_load(root, key, req);
	assert_non_null(back);
	/* the reply made from what was kept is the reply given first */
	size_t n1, n2;
	char *r1 = dm_json_text(b, &n1), *r2 = dm_json_text(back, &n2);
	assert_non_null(r1);
	assert_non_null(r2);
	assert_int_equal(n1, n2);
	assert_memory_equal(r1, r2, n1);
	assert_int_equal(r1[n1 - 1], '\n');
	assert_int_equal(strlen(r1), n1);
	free(r1);
	free(r2);
	json_decref(back);

	/* Another request never reads this answer, even in its file. */
	assert_null(dm_subnets_answer_load(root, key, "xxh3:ab|t||target=big"));
	char other[RT_STATE_PATH_MAX];
	assert_int_equal(dm_subnets_answer_path(root, key, "xxh3:ab|t||target=big", other, sizeof other), 0);
	assert_int_equal(dm_subnets_answer_path(root, key, req, path, sizeof path), 0);
	assert_string_not_equal(path, other);
	assert_non_null(strstr(path, "/supernets/f7447d06"));
	assert_non_null(strstr(path, "/answers/"));
	assert_int_equal(rename(path, other), 0);
	assert_null(dm_subnets_answer_load(root, key, "xxh3:ab|t||target=big"));
	assert_int_equal(rename(other, path), 0);

	/* A damaged file is a miss. */
	write_file(path, "{\"request\":\"xxh3:ab|t||target=small\",\"answer\":{\"id\":");
	assert_null(dm_subnets_answer_load(root, key, req));
	write_file(path, "{\"request\":\"xxh3:ab|t||target=small\",\"answer\":[1]}");
	assert_null(dm_subnets_answer_load(root, key, req));
	write_file(path, "{\"request\":\"xxh3:ab|t||target=small\",\"answer\":{\"genes\":\"x\"}}");
	assert_null(dm_subnets_answer_load(root, key, req));

	/* A path that does not fit is refused, not cut. */
	char tiny[16];
	assert_int_equal(dm_subnets_answer_path(root, key, req, tiny, sizeof tiny), -1);

	json_decref(b);
	unlink(path);
	char cmd[RT_STATE_PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static int exists(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* 25 answers written a second apart, and files that are not answers: kept
 * to 20, the oldest go down to 18, the file just written stays whatever
 * its age; under the cap nothing goes. */
static void test_prune(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_dm_answers.XXXXXX", name[64];
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof name, "%s/%016x.json", dir, 0xa0 + i);
		write_file(name, "{}");
		struct timespec t[2] = {{1000000 + i, 0}, {1000000 + i, 0}};
		assert_int_equal(utimensat(AT_FDCWD, name, t, 0), 0);
	}
	snprintf(name, sizeof name, "%s/notes.txt", dir);
	write_file(name, "not an answer");
	snprintf(name, sizeof name, "%s/00000000000000ab.json.tmp", dir);
	write_file(name, "a write in progress");
	/* the oldest is the one "just written" (a clock set back) */
	assert_int_equal(dm_subnets_answers_prune(dir, 20, "00000000000000a0.json"), 7);
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof name, "%016x.json", 0xa0 + i);
		assert_int_equal(exists(dir, name), i == 0 || i >= 8);
	}
	assert_true(exists(dir, "notes.txt"));
	assert_true(exists(dir, "00000000000000ab.json.tmp"));
	assert_int_equal(dm_subnets_answers_prune(dir, 20, NULL), 0);
	assert_int_equal(dm_subnets_answers_prune(dir, 18, NULL), 0);
	/* max 1: only the newest stays */
	assert_int_equal(dm_subnets_answers_prune(dir, 1, NULL), 17);
	assert_true(exists(dir, "00000000000000b8.json"));
	assert_int_equal(dm_subnets_answers_prune("/nonexistent/dir", 1, NULL), 0);

	/* Through dm_subnets_answer_write: max 2 keeps the two newest. */
	char root[] = "/tmp/test_dm_answers.XXXXXX";
	assert_non_null(mkdtemp(root));
	const char *reqs[] = {"xxh3:ab|t||target=a", "xxh3:ab|t||target=b", "xxh3:ab|t||target=c"};
	json_t *b = answer(0.5);
	for (int i = 0; i < 3; i++) {
		char *text = dm_subnets_answer_text(reqs[i], b);
		dm_subnets_answer_write(root, key, reqs[i], text, 2);
		free(text);
		if (i == 0)
			sleep(1); /* a first answer older than the others on any clock */
	}
	json_t *got;
	assert_null(dm_subnets_answer_load(root, key, reqs[0]));
	assert_non_null(got = dm_subnets_answer_load(root, key, reqs[1]));
	json_decref(got);
	assert_non_null(got = dm_subnets_answer_load(root, key, reqs[2]));
	json_decref(got);
	json_decref(b);
	char cmd[RT_STATE_PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, root);
	assert_int_equal(system(cmd), 0);
}

/* A record (and, for even i, cached weights) of subnet hash i, written at
 * second i. */
static void write_record(const char sub[220], int i)
{
	char name[300];
	for (int model = 0; model <= (i % 2 == 0); model++) {
		snprintf(name, sizeof name, "%s/%016x.%s", sub, 0xc0 + i, model ? "model" : "json");
		write_file(name, "{}");
		struct timespec t[2] = {{1000000 + i, 0}, {1000000 + i, 0}};
		assert_int_equal(utimensat(AT_FDCWD, name, t, 0), 0);
	}
}

/* 25 subnet records, two of them named by kept answers (the oldest and the
 * fourth): kept to 20, the oldest others go down to 18 with their cached
 * weights; the named ones and the one just written stay; under the cap
 * nothing goes.  A damaged answer names nothing. */
static void test_records_prune(void **state)
{
	(void)state;
	char root[] = "/tmp/test_dm_answers.XXXXXX", dir[200], sub[220], path[260], name[32];
	assert_non_null(mkdtemp(root));
	assert_int_equal(rt_state_supernet_dir(root, key, dir, sizeof dir), 0);
	snprintf(sub, sizeof sub, "%s/subnets", dir);
	const int named[] = {0, 3};
	for (int a = 0; a < 2; a++) {
		char id[ID_LEN + 1], req[64];
		snprintf(id, sizeof id, "f7447d060102030405060708090a0b0c-%016x", 0xc0 + named[a]);
		snprintf(req, sizeof req, "xxh3:ab|t||target=%d", a);
		json_t *b = json_pack("{s:s}", "id", id);
		char *text = dm_subnets_answer_text(req, b);
		dm_subnets_answer_write(root, key, req, text, 100);
		free(text);
		json_decref(b);
	}
	snprintf(path, sizeof path, "%s/answers/00000000000000ff.json", dir);
	write_file(path, "{\"answer\": {\"id\": ");
	assert_int_equal(mkdir(sub, 0750), 0);
	for (int i = 0; i < 25; i++)
		write_record(sub, i);
	assert_int_equal(dm_subnets_records_prune(root, key, 30, NULL), 0);
	assert_int_equal(dm_subnets_records_prune(root, key, 20, "00000000000000d8.json"), 7);
	for (int i = 0; i < 25; i++) {
		int kept = i == 0 || i == 3 || i >= 9;
		snprintf(name, sizeof name, "%016x.json", 0xc0 + i);
		assert_int_equal(exists(sub, name), kept);
		snprintf(name, sizeof name, "%016x.model", 0xc0 + i);
		assert_int_equal(exists(sub, name), kept && i % 2 == 0);
	}
	assert_int_equal(dm_subnets_records_prune(root, key, 20, NULL), 0);
	/* max 1: all but the named and the newest go */
	assert_int_equal(dm_subnets_records_prune(root, key, 1, "00000000000000d8.json"), 15);
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof name, "%016x.json", 0xc0 + i);
		assert_int_equal(exists(sub, name), i == 0 || i == 3 || i == 24);
	}
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_other_weights),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_records_prune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
