/*
 * test_dm_listen.c — archd's listening sockets: the socket's mode, a stale
 * socket replaced, a live one or a regular file refused by name, loopback
 * TCP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/listen.h"

typedef struct fixture {
	char dir[64];
	char path[128];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/test_dm_listen.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/archd.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* 1 when a client can connect to the socket at path. */
static int connectable(const char *path)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static void test_unix_mode(void **state)
{
	fixture *f = *state;
	char err[256];
	mode_t old = umask(0);
	int fd = dm_listen_unix(f->path, 0660, err, sizeof err);
	umask(old);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_true(connectable(f->path));
	close(fd);
}

static void test_unix_stale_replaced(void **state)
{
	fixture *f = *state;
	char err[256];
	int fd = dm_listen_unix(f->path, 0660, err, sizeof err);
	assert_true(fd >= 0);
	close(fd); /* the daemon died: the file stays, nobody listens */
	assert_int_equal(access(f->path, F_OK), 0);
	assert_false(connectable(f->path));
	fd = dm_listen_unix(f->path, 0660, err, sizeof err);
	assert_true(fd >= 0);
	assert_true(connectable(f->path));
	close(fd);
}

static void test_unix_live_refused(void **state)
{
	fixture *f = *state;
	char err[256], want[256];
	int fd = dm_listen_unix(f->path, 0660, err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(dm_listen_unix(f->path, 0660, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s: another daemon is serving on this socket", f->path);
	assert_string_equal(err, want);
	assert_true(connectable(f->path)); /* the first one is untouched */
	close(fd);
}

static void test_unix_file_refused(void **state)
{
	fixture *f = *state;
	char err[256], want[256];
	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs("precious\n", fp);
	fclose(fp);
	assert_int_equal(dm_listen_unix(f->path, 0660, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s: exists and is not a socket; not replacing it", f->path);
	assert_string_equal(err, want);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 9);
}

static void test_unix_bad_paths(void **state)
{
	fixture *f = *state;
	char err[256], path[256];
	memset(path, 'a', 200);
	path[0] = '/';
	path[200] = '\0';
	assert_int_equal(dm_listen_unix(path, 0660, err, sizeof err), -1);
	assert_non_null(strstr(err, "a socket path must be 1 to"));
	snprintf(path, sizeof path, "%s/no/such/dir/s", f->dir);
	assert_int_equal(dm_listen_unix(path, 0660, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
}

static void test_tcp_loopback(void **state)
{
	(void)state;
	char err[256];
	int fd = dm_listen_tcp("127.0.0.1", 0, err, sizeof err);
	assert_true(fd >= 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	close(fd);
	assert_int_equal(dm_listen_tcp("localhost", 80, err, sizeof err), -1);
	assert_non_null(strstr(err, "localhost:80"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unix_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_stale_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_live_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_loopback, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
