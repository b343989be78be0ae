/*
 * log.h — leveled logging to stderr with UTC timestamps.  Prefix: dm_log_.
 *
 * A line looks like
 *
 *     2026-11-22T21:59:31.123Z archd[4242] warn: specs/ab...air: bad magic
 *
 * and is written with a single write(2), so lines from worker threads never
 * interleave.  Safe to call from any thread; the level may change at any
 * time (SIGHUP re-applies the configured one).
 */
#ifndef ARCHD_DAEMON_LOG_H
#define ARCHD_DAEMON_LOG_H

typedef enum dm_log_level {
	DM_LOG_ERROR,
	DM_LOG_WARN,
	DM_LOG_INFO,
	DM_LOG_DEBUG,
	DM_LOG_LEVEL_COUNT
} dm_log_level;

/* "error", "warn", "info", "debug", indexed by dm_log_level. */
extern const char *const dm_log_level_names[DM_LOG_LEVEL_COUNT];

/* Looks a level up by name; returns it, or -1 for an unknown name. */
int dm_log_level_parse(const char *name);

/* Messages above this level are dropped.  The default is DM_LOG_INFO. */
void dm_log_set_level(dm_log_level level);
dm_log_level dm_log_get_level(void);

/*
 * Sends stderr to the file at path (appending, created with mode 0640), or
 * when path is NULL back to the stderr archd started with.  Called at
 * start-up and on SIGHUP, so a rotated log file is reopened.  Returns 0, or -1 with a reason naming
 * the path in err (stderr is then unchanged).
 */
int dm_log_open(const char *path, char *err, unsigned errlen);

/* Logs one line at level; a trailing newline is added. */
void dm_log(dm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
