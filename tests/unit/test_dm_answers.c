/*
 * test_dm_answers.c — the answers archd keeps by request
 * (daemon/subnets_answers.c): written and read back byte for byte as
 * replies, another request's file (same hash slot) a miss, a damaged file
 * a miss, never a wrong answer; and dm_json_text, the bytes a
 * cached reply sends.
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
	dm_subnets_answer_write(root, key, req, text);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
