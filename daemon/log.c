/*
 * log.c — leveled logging to stderr (see log.h).
 */
#include "daemon/log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const dm_log_level_names[DM_LOG_LEVEL_COUNT] = {
	[DM_LOG_ERROR] = "error",
	[DM_LOG_WARN] = "warn",
	[DM_LOG_INFO] = "info",
	[DM_LOG_DEBUG] = "debug",
};
static_assert(DM_LOG_LEVEL_COUNT == 4, "a name for every log level");

static atomic_int log_level = DM_LOG_INFO;

int dm_log_level_parse(const char *name)
{
	for (int i = 0; i < DM_LOG_LEVEL_COUNT; i++)
		if (strcmp(name, dm_log_level_names[i]) == 0)
			return i;
	return -1;
}

void dm_log_set_level(dm_log_level level)
{
	assert(level >= 0 && level < DM_LOG_LEVEL_COUNT);
	atomic_store(&log_level, (int)level);
}

dm_log_level dm_log_get_level(void)
{
	return (dm_log_level)atomic_load(&log_level);
}

/* The stderr archd started with, kept once a log file replaces it (-1
 * before, or when there was none). */
static int first_stderr = -1;
static int first_stderr_kept;

int dm_log_open(const char *path, char *err, unsigned errlen)
{
	if (path == NULL) {
		if (first_stderr >= 0 && dup2(first_stderr, STDERR_FILENO) < 0) {
			snprintf(err, errlen, "cannot log to stderr again: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open log file: %s", path, strerror(errno));
		return -1;
	}
	if (!first_stderr_kept) {
		first_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		if (first_stderr < 0 && errno != EBADF) {
			snprintf(err, errlen, "%s: cannot keep stderr: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		first_stderr_kept = 1;
	}
	if (fd != STDERR_FILENO) {
		if (dup2(fd, STDERR_FILENO) < 0) {
			snprintf(err, errlen, "%s: cannot redirect stderr: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

void dm_log(dm_log_level level, const char *fmt, ...)
{
	if ((int)level > atomic_load(&log_level))
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	int k = snprintf(line + n, sizeof line - n, ".%03ldZ archd[%ld] %s: ", ts.tv_nsec / 1000000L,
			 (long)getpid(), dm_log_level_names[level]);
	if (k > 0)
		n += (size_t)k;
	va_list ap;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k < sizeof line - n - 1 ? (size_t)k : sizeof line - n - 2;
	line[n++] = '\n';
	/* One write per line: lines from several threads stay whole. */
	ssize_t w;
	do
		w = write(STDERR_FILENO, line, n);
	while (w < 0 && errno == EINTR);
}
