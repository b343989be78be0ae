/*
 * settings.h — everything archd can be told: defaults, the config file and
 * the command line.  Prefix: dm_settings_ (and dm_args_ for the flags).
 *
 * Precedence: built-in defaults (dm_settings_init documents each), then the
 * config file (`key = value` lines, `#` comments), then the flags.  The
 * same key table serves the file and the flags, so a flag is exactly a
 * config line given on the command line.  SIGHUP rebuilds the settings the
 * same way and the server applies what can change while running.
 */
#ifndef ARCHD_DAEMON_SETTINGS_H
#define ARCHD_DAEMON_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/log.h"

/* Every pointer is owned by the struct (dm_settings_free). */
typedef struct dm_settings {
	char *socket_path;     /* Unix socket to serve on */
	char *state_dir;       /* content-addressed IRs and results */
	char *listen;          /* "127.0.0.1:PORT" as given, or NULL */
	char listen_host[64];  /* parsed from listen: a loopback address */
	unsigned listen_port;  /* parsed from listen, 0 when off */
	unsigned threads;      /* worker threads */
	uint64_t max_body;     /* bytes in a request body (413 past it) */
	uint64_t max_headers;  /* bytes in the request line and headers */
	unsigned max_conns;    /* open client connections */
	unsigned request_timeout; /* seconds to receive one whole request */
	unsigned max_jobs;     /* queued training jobs before 503 */
	unsigned max_queue;    /* requests waiting for a worker before 503 */
	unsigned max_specs;    /* specs kept in memory (the rest on disk) */
	unsigned max_answers;  /* answers kept on disk per supernet */
	char **include_dirs;   /* searched by `import`, in order */
	int ninclude_dirs;
	char *stdlib_dir;      /* holding std/...; NULL = the compiler's default */
	char *log_file;        /* NULL = stderr as inherited */
	dm_log_level log_level;
	char *config_path;     /* the file these came from, or NULL */
} dm_settings;

/*
 * Fills s with the defaults:
 *   socket_path      $XDG_RUNTIME_DIR/archd.sock; /run/archd.sock as root;
 *                    /tmp/archd-UID.sock when XDG_RUNTIME_DIR is unset
 *   state_dir        $XDG_STATE_HOME/archd, else ~/.local/state/archd;
 *                    /var/lib/archd as root
 *   listen           off
 *   threads          the number of online CPUs (at least 1, at most 64)
 *   max_body         16 MiB: a large .arch source is a few KiB, an .air
 *                    rarely a MiB
 *   max_headers      16 KiB, like common proxies
 *   max_conns        512, well under the usual 1024 file limit
 *   request_timeout  30 s to send a whole request (and 30 s idle)
 *   max_jobs         64 queued training jobs
 *   max_queue        256 compiles (and other worker requests) waiting for
 *                    a thread: past it a request gets 503 and Retry-After
 *   max_specs        1024 specs in memory; the least recently used go back
 *                    to the state dir
 *   max_answers      10000 answers kept in the state dir per supernet; past
 *                    it the oldest written go (down to nine tenths)
 *   include_dirs     none
 *   stdlib_dir       NULL: the compiler's default
 *   log_file         NULL: stderr
 *   log_level        info
 * Returns 0, or -1 on out-of-memory (s is then freed).
 */
int dm_settings_init(dm_settings *s);

/* Frees what s owns and zeroes it; a zeroed s is fine. */
void dm_settings_free(dm_settings *s);

/*
 * Applies one `key = value` setting.  origin names where it came from
 * ("archd.conf:12" or "--threads") for the error.  Returns 0, or -1 with a
 * message in err for an unknown key or a bad value.
 */
int dm_settings_set(dm_settings *s, const char *key, const char *value, const char *origin,
		    char *err, size_t errlen);

/*
 * Reads the config file at path into s.  Every problem is fatal: an
 * unreadable file, a line that is not `key = value`, an unknown key or a
 * bad value each give -1 and an err of the form
 *     FILE:LINE: unknown key 'thread' (did you mean threads?)
 *         thread = 4
 * quoting the offending line.
 */
int dm_settings_load_file(dm_settings *s, const char *path, char *err, size_t errlen);

/* The command line, kept so SIGHUP can re-apply it over a fresh file. */
typedef struct dm_args {
	int nsets;
	struct {
		const char *flag; /* "--threads" */
		const char *key;  /* "threads" */
		const char *value;
	} sets[16];
	const char *config_path; /* --config, or NULL */
	int help, version;
} dm_args;

/*
 * Parses argv (not copied: argv must outlive a).  Flags take their value
 * as the next argument or after `=`.  Returns 0, or -1 with a message in
 * err for an unknown flag, a missing value or a stray argument.  Values are
 * checked by dm_settings_build.
 */
int dm_args_parse(dm_args *a, int argc, char **argv, char *err, size_t errlen);

/*
 * Builds settings from scratch: defaults, then a's config file, then a's
 * flags.  Returns 0, or -1 with err set (s is then freed).
 */
int dm_settings_build(dm_settings *s, const dm_args *a, char *err, size_t errlen);

/* The --help text. */
extern const char dm_settings_usage[];

#endif
