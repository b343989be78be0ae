/*
 * test_statedir.c — the state dir's root and layout, directory creation and
 * modes, and atomic writes (content replaced whole, nothing left behind on
 * abort or failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/ir.h"
#include "runtime/statedir.h"

/* A fresh temporary directory per test. */
static int setup(void **state)
{
	char *dir = strdup("/tmp/test_statedir.XXXXXX");
	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return -1;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[4096];
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		closedir(d);
		return rmdir(path);
	}
	return unlink(path);
}

static int teardown(void **state)
{
	rm_tree(*state);
	free(*state);
	return 0;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_root(void **state)
{
	(void)state;
	char buf[RT_STATE_ROOT_MAX], err[256];
	assert_int_equal(rt_state_root("/srv/x", buf, sizeof buf, err, sizeof err), 0);
	assert_string_equal(buf, "/srv/x");
	if (geteuid() == 0) {
		assert_int_equal(rt_state_root(NULL, buf, sizeof buf, err, sizeof err), 0);
		assert_string_equal(buf, "/var/lib/archd");
		return;
	}
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	assert_int_equal(rt_state_root(NULL, buf, sizeof buf, err, sizeof err), 0);
	assert_string_equal(buf, "/xdg/state/archd");
	/* A relative XDG_STATE_HOME is invalid per the spec: fall back. */
	setenv("XDG_STATE_HOME", "rel", 1);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(rt_state_root("", buf, sizeof buf, err, sizeof err), 0);
	assert_string_equal(buf, "/home/u/.local/state/archd");
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	assert_int_equal(rt_state_root(NULL, buf, sizeof buf, err, sizeof err), -1);
	assert_non_null(strstr(err, "HOME"));
}

static void test_layout(void **state)
{
	(void)state;
	uint8_t key[16];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)(i * 17);
	char p[RT_STATE_PATH_MAX];
	const char *hex = "00112233445566778899aabbccddeeff";
	char want[256];
	assert_int_equal(rt_state_ir_path("/r", key, p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/ir/%s.air", hex);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_supernet_dir("/r", key, p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/supernets/%s", hex);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_checkpoint_path("/r", key, p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/supernets/%s/checkpoint", hex);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_archive_path("/r", key, 0, p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/supernets/%s/archive", hex);
	assert_string_equal(p, want);
	/* measured after recalibrating on another sample size: its own files */
	assert_int_equal(rt_state_archive_path("/r", key, IR_CALIB_DEFAULT, p, sizeof p), 0);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_archive_path("/r", key, 500, p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/supernets/%s/archive-calib500", hex);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_predictor_path("/r", key, IR_CALIB_DEFAULT, p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/supernets/%s/predictor", hex);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_predictor_path("/r", key, 500, p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/supernets/%s/predictor-calib500", hex);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_subnet_path("/r", key, "s-01.bin", p, sizeof p), 0);
	snprintf(want, sizeof want, "/r/supernets/%s/subnets/s-01.bin", hex);
	assert_string_equal(p, want);
	assert_int_equal(rt_state_lut_path("/r", "x86_64-znver3", "1", p, sizeof p), 0);
	assert_string_equal(p, "/r/lut/x86_64-znver3-1");

	/* Names that could escape the directory are refused. */
	assert_int_equal(rt_state_subnet_path("/r", key, "../x", p, sizeof p), -1);
	assert_int_equal(rt_state_subnet_path("/r", key, ".hidden", p, sizeof p), -1);
	assert_int_equal(rt_state_subnet_path("/r", key, "", p, sizeof p), -1);
	assert_int_equal(rt_state_lut_path("/r", "a/b", "1", p, sizeof p), -1);
	/* Too small a buffer. */
	assert_int_equal(rt_state_checkpoint_path("/r", key, p, 20), -1);
}

static void test_mkdirs(void **state)
{
	const char *tmp = *state;
	char dir[RT_STATE_PATH_MAX], err[256];
	snprintf(dir, sizeof dir, "%s/a/b/c", tmp);
	assert_int_equal(rt_state_mkdirs(dir, err, sizeof err), 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, geteuid() == 0 ? 0750 : 0700);
	/* Again: existing directories are fine. */
	assert_int_equal(rt_state_mkdirs(dir, err, sizeof err), 0);

	char file[RT_STATE_PATH_MAX];
	snprintf(file, sizeof file, "%s/x/y/file", tmp);
	assert_int_equal(rt_state_mkparents(file, err, sizeof err), 0);
	snprintf(dir, sizeof dir, "%s/x/y", tmp);
	assert_int_equal(stat(dir, &st), 0);

	/* A file in the way. */
	snprintf(file, sizeof file, "%s/plain", tmp);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(dir, sizeof dir, "%s/plain/sub", tmp);
	assert_int_equal(rt_state_mkdirs(dir, err, sizeof err), -1);
	assert_non_null(strstr(err, "plain"));
}

static void read_all(const char *path, char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	*len = fread(buf, 1, cap, f);
	fclose(f);
}

static void test_atomic(void **state)
{
	const char *tmp = *state;
	char path[RT_STATE_PATH_MAX], err[256], buf[64];
	size_t len;
	snprintf(path, sizeof path, "%s/f", tmp);
	assert_int_equal(rt_state_write_file(path, "first", 5, 0600, err, sizeof err), 0);
	read_all(path, buf, sizeof buf, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "first", 5);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Replaced whole. */
	assert_int_equal(rt_state_write_file(path, "2nd", 3, 0644, err, sizeof err), 0);
	read_all(path, buf, sizeof buf, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "2nd", 3);
	assert_int_equal(count_entries(tmp), 1);

	/* Aborted: the old content stays, no temporary file is left. */
	rt_state_atomic a;
	assert_int_equal(rt_state_atomic_open(&a, path, 0600, err, sizeof err), 0);
	fputs("half-written", a.f);
	rt_state_atomic_abort(&a);
	read_all(path, buf, sizeof buf, &len);
	assert_memory_equal(buf, "2nd", 3);
	assert_int_equal(count_entries(tmp), 1);

	/* A missing directory: a clear error naming the file. */
	snprintf(path, sizeof path, "%s/missing/f", tmp);
	assert_int_equal(rt_state_write_file(path, "x", 1, 0600, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	/* A directory where the file should go: rename fails, nothing left. */
	snprintf(path, sizeof path, "%s/d", tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(rt_state_write_file(path, "x", 1, 0600, err, sizeof err), -1);
	assert_non_null(strstr(err, "rename"));
	assert_int_equal(count_entries(tmp), 2);
}

/* Reading a state file: a regular one opens; a FIFO is refused at once
 * (with no writer, a plain fopen would wait forever), as are a directory
 * and a missing file, each with errno and a reason. */
static void test_fopen(void **state)
{
	const char *tmp = *state;
	char path[RT_STATE_PATH_MAX], err[256];
	const char *why = NULL;
	snprintf(path, sizeof path, "%s/f", tmp);
	assert_int_equal(rt_state_write_file(path, "x", 1, 0600, err, sizeof err), 0);
	FILE *f = rt_state_fopen(path, &why);
	assert_non_null(f);
	assert_int_equal(fgetc(f), 'x');
	fclose(f);
	snprintf(path, sizeof path, "%s/fifo", tmp);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(rt_state_fopen(path, &why));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	assert_null(rt_state_fopen(tmp, &why));
	assert_int_equal(errno, EISDIR);
	snprintf(path, sizeof path, "%s/missing", tmp);
	assert_null(rt_state_fopen(path, &why));
	assert_int_equal(errno, ENOENT);
}

/* A lock is held until closed, by this process or any other (a child
 * here): the second taker is refused at once with the holder's pid; a
 * lock whose holder is gone, kill -9 included, is free. */
static void test_lock(void **state)
{
	const char *tmp = *state;
	char path[RT_STATE_PATH_MAX], err[512], want[64];
	snprintf(path, sizeof path, "%s/x.lock", tmp);
	int fd = rt_state_lock(path, err, sizeof err);
	assert_true(fd >= 0);
	/* another open file description, as another process has */
	assert_int_equal(rt_state_lock(path, err, sizeof err), -1);
	snprintf(want, sizeof want, "in use by process %ld", (long)getpid());
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, path));
	pid_t child = fork();
	if (child == 0)
		_exit(rt_state_lock(path, err, sizeof err) < 0 ? 0 : 1);
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rt_state_unlock(fd);
	/* a holder killed with its lock held */
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	child = fork();
	if (child == 0) {
		if (rt_state_lock(path, err, sizeof err) >= 0 && write(ready[1], "l", 1) == 1)
			pause();
		_exit(1);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(rt_state_lock(path, err, sizeof err), -1);
	snprintf(want, sizeof want, "in use by process %ld", (long)child);
	assert_non_null(strstr(err, want));
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &st, 0), child);
	close(ready[0]);
	close(ready[1]);
	fd = rt_state_lock(path, err, sizeof err);
	assert_true(fd >= 0);
	rt_state_unlock(fd);
	/* not a regular file */
	snprintf(path, sizeof path, "%s/fifo.lock", tmp);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(rt_state_lock(path, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(rt_state_lock(tmp, err, sizeof err), -1);
	assert_non_null(strstr(err, tmp));
}

/* What was measured on a supernet's weights goes; its checkpoint and
 * anything else stay. */
static void test_supernet_forget(void **state)
{
	const char *tmp = *state;
	char path[RT_STATE_PATH_MAX], err[256], note[512];
	static const char *const gone[] = {"archive", "predictor", "archive-calib500",
					   "predictor-calib500", "answers/0123456789abcdef.json",
					   "subnets/0123456789abcdef.json",
					   "subnets/0123456789abcdef.model"};
	static const char *const kept[] = {"checkpoint", "checkpoint.lock", "subnets/notes.txt",
					   "archive.txt"};
	for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
		snprintf(path, sizeof path, "%s/%s", tmp, gone[i]);
		assert_int_equal(rt_state_mkparents(path, err, sizeof err), 0);
		assert_int_equal(rt_state_write_file(path, "x", 1, 0600, err, sizeof err), 0);
	}
	for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
		snprintf(path, sizeof path, "%s/%s", tmp, kept[i]);
		assert_int_equal(rt_state_write_file(path, "x", 1, 0600, err, sizeof err), 0);
	}
	char ckpt[RT_STATE_PATH_MAX];
	snprintf(ckpt, sizeof ckpt, "%s/checkpoint", tmp);
	assert_int_equal(rt_state_supernet_forget(ckpt, note, sizeof note), 7);
	assert_string_equal(note, "");
	struct stat st;
	for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
		snprintf(path, sizeof path, "%s/%s", tmp, gone[i]);
		assert_int_equal(stat(path, &st), -1);
	}
	for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
		snprintf(path, sizeof path, "%s/%s", tmp, kept[i]);
		assert_int_equal(stat(path, &st), 0);
	}
	snprintf(path, sizeof path, "%s/answers", tmp);
	assert_int_equal(stat(path, &st), -1); /* emptied, so removed */
	assert_int_equal(rt_state_supernet_forget(ckpt, note, sizeof note), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_layout),
		cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supernet_forget, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
