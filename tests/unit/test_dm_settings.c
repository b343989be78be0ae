/*
 * test_dm_settings.c — archd's strict number parsing, config file and flags.
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

#include "daemon/parse.h"
#include "daemon/settings.h"

static void test_parse_u64_strict(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(dm_parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(dm_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	v = 7;
	const char *bad[] = {"", " 1", "1 ", "-1", "+1", "1x", "0x10", "18446744073709551616", "1.0"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(dm_parse_u64(bad[i], 0, UINT64_MAX, &v), -1);
		assert_int_equal(v, 7);
	}
	assert_int_equal(dm_parse_u64("101", 0, 100, &v), -1);
	assert_int_equal(dm_parse_u64("0", 1, 100, &v), -1);
}

static void test_parse_size_suffixes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(dm_parse_size("16M", 0, UINT64_MAX, &v), 0);
	assert_true(v == 16u << 20);
	assert_int_equal(dm_parse_size("2KiB", 0, UINT64_MAX, &v), 0);
	assert_true(v == 2048);
	assert_int_equal(dm_parse_size("1G", 0, UINT64_MAX, &v), 0);
	assert_true(v == 1u << 30);
	assert_int_equal(dm_parse_size("5", 0, UINT64_MAX, &v), 0);
	assert_true(v == 5);
	assert_int_equal(dm_parse_size("1T", 0, UINT64_MAX, &v), -1);
	assert_int_equal(dm_parse_size("M", 0, UINT64_MAX, &v), -1);
	assert_int_equal(dm_parse_size("1m", 0, UINT64_MAX, &v), -1);
	assert_int_equal(dm_parse_size("17179869184G", 0, UINT64_MAX, &v), -1);
	assert_int_equal(dm_parse_size("2K", 4096, UINT64_MAX, &v), -1);
}

static void test_defaults(void **state)
{
	(void)state;
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	setenv("XDG_STATE_HOME", "/home/u/.state", 1);
	dm_settings s;
	assert_int_equal(dm_settings_init(&s), 0);
	if (geteuid() != 0) {
		assert_string_equal(s.socket_path, "/run/user/1000/archd.sock");
		assert_string_equal(s.state_dir, "/home/u/.state/archd");
	} else {
		assert_string_equal(s.socket_path, "/run/archd.sock");
		assert_string_equal(s.state_dir, "/var/lib/archd");
	}
	assert_null(s.listen);
	assert_true(s.threads >= 1);
	assert_true(s.max_body == 16u << 20);
	assert_int_equal(s.max_answers, 10000);
	assert_int_equal(s.log_level, DM_LOG_INFO);
	dm_settings_free(&s);

	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/v", 1);
	assert_int_equal(dm_settings_init(&s), 0);
	if (geteuid() != 0)
		assert_string_equal(s.state_dir, "/home/v/.local/state/archd");
	dm_settings_free(&s);
}

/* Writes text to a temp file and returns its path (static buffer). */
static const char *write_conf(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/test_dm_settings.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_config_file(void **state)
{
	(void)state;
	const char *path = write_conf("# archd.conf\n"
				      "\n"
				      "threads = 3   # workers\n"
				      "  max_body_size=1M\n"
				      "include_dir = /a\n"
				      "include_dir = \"/b # not a comment\"\n"
				      "log_level = debug\n"
				      "max_answers = 500\n"
				      "listen = 127.0.0.2:8080\n");
	dm_settings s;
	char err[512];
	assert_int_equal(dm_settings_init(&s), 0);
	assert_int_equal(dm_settings_load_file(&s, path, err, sizeof err), 0);
	assert_int_equal(s.threads, 3);
	assert_true(s.max_body == 1u << 20);
	assert_int_equal(s.ninclude_dirs, 2);
	assert_string_equal(s.include_dirs[0], "/a");
	assert_string_equal(s.include_dirs[1], "/b # not a comment");
	assert_int_equal(s.log_level, DM_LOG_DEBUG);
	assert_int_equal(s.max_answers, 500);
	assert_string_equal(s.listen_host, "127.0.0.2");
	assert_int_equal(s.listen_port, 8080);
	assert_string_equal(s.config_path, path);
	dm_settings_free(&s);
	unlink(path);
}

/* Each bad file fails with FILE:LINE and the offending line quoted. */
static void test_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"threads = 2\nthread = 4\n", ":2: unknown key 'thread'\n    thread = 4"},
		{"threads = 4x\n", ":1: bad value '4x' for threads"},
		{"threads = -1\n", ":1: bad value '-1' for threads"},
		{"threads = 99999999999999999999\n", "bad value"},
		{"max_connections = 0\n", "bad value '0' for max_connections"},
		{"max_answers = 0\n", "bad value '0' for max_answers"},
		{"just words\n", ":1: expected 'key = value'\n    just words"},
		{"= 3\n", ":1: missing key"},
		{"listen = 0.0.0.0:80\n", "not a loopback address"},
		{"listen = 127.0.0.1:0\n", "port must be"},
		{"listen = 127.0.0.1:65536\n", "port must be"},
		{"listen = [::2]:80\n", "not a loopback address"},
		{"log_level = loud\n", "expected error, warn, info or debug"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *path = write_conf(cases[i].text);
		dm_settings s;
		char err[512] = "";
		assert_int_equal(dm_settings_init(&s), 0);
		assert_int_equal(dm_settings_load_file(&s, path, err, sizeof err), -1);
		if (strstr(err, cases[i].want) == NULL || strncmp(err, path, strlen(path)) != 0)
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
		dm_settings_free(&s);
		unlink(path);
	}
	dm_settings s;
	char err[512];
	assert_int_equal(dm_settings_init(&s), 0);
	assert_int_equal(dm_settings_load_file(&s, "/nonexistent/archd.conf", err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/archd.conf"));
	dm_settings_free(&s);
}

static void test_flags_override_file(void **state)
{
	(void)state;
	const char *path = write_conf("threads = 3\nsocket = /tmp/from-file.sock\n");
	char *argv[] = {"archd", "--config", (char *)path, "--threads=5", "--state", "/tmp/st", NULL};
	dm_args a;
	dm_settings s;
	char err[512];
	assert_int_equal(dm_args_parse(&a, 6, argv, err, sizeof err), 0);
	assert_int_equal(dm_settings_build(&s, &a, err, sizeof err), 0);
	assert_int_equal(s.threads, 5);
	assert_string_equal(s.socket_path, "/tmp/from-file.sock");
	assert_string_equal(s.state_dir, "/tmp/st");
	dm_settings_free(&s);
	unlink(path);
}

static void test_flag_errors(void **state)
{
	(void)state;
	static const struct {
		int argc;
		const char *argv[4];
		const char *want; /* from dm_args_parse, or NULL: from build */
		const char *build_want;
	} cases[] = {
		{2, {"archd", "--thread", NULL}, "unknown option '--thread'", NULL},
		{2, {"archd", "--threads", NULL}, "--threads needs a value", NULL},
		{2, {"archd", "stray", NULL}, "unexpected argument 'stray'", NULL},
		{3, {"archd", "--threads", "2junk", NULL}, NULL, "--threads: bad value '2junk'"},
		{3, {"archd", "--threads", "-2", NULL}, NULL, "bad value '-2'"},
		{2, {"archd", "--listen=10.0.0.1:80", NULL}, NULL, "not a loopback address"},
		{3, {"archd", "--config", "/nonexistent.conf", NULL}, NULL, "/nonexistent.conf"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		dm_args a;
		char err[512] = "";
		int rc = dm_args_parse(&a, cases[i].argc, (char **)cases[i].argv, err, sizeof err);
		if (cases[i].want != NULL) {
			assert_int_equal(rc, -1);
			if (strstr(err, cases[i].want) == NULL)
				fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
			continue;
		}
		assert_int_equal(rc, 0);
		dm_settings s;
		assert_int_equal(dm_settings_build(&s, &a, err, sizeof err), -1);
		if (strstr(err, cases[i].build_want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].build_want);
	}
	dm_args a;
	char err[64];
	char *argv[] = {"archd", "--help", "--version", NULL};
	assert_int_equal(dm_args_parse(&a, 3, argv, err, sizeof err), 0);
	assert_true(a.help && a.version);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64_strict),
		cmocka_unit_test(test_parse_size_suffixes),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_flags_override_file),
		cmocka_unit_test(test_flag_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
