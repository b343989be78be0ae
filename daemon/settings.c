/*
 * settings.c — defaults, the config file and the flags (see settings.h).
 */
#include "daemon/settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/parse.h"

/* Longest accepted config line; longer is an error, not a silent cut. */
#define SETTINGS_LINE_MAX 4096
#define SETTINGS_MAX_INCLUDE_DIRS 64

/* Replaces *slot with a copy of value; -1 on out-of-memory. */
static int set_string(char **slot, const char *value)
{
	char *c = strdup(value);
	if (c == NULL)
		return -1;
	free(*slot);
	*slot = c;
	return 0;
}

/* Joins a and b with a slash into a new string. */
static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static char *default_socket_path(void)
{
	if (geteuid() == 0)
		return strdup("/run/archd.sock");
	const char *run = getenv("XDG_RUNTIME_DIR");
	if (run != NULL && run[0] == '/')
		return path_join(run, "archd.sock");
	char buf[64];
	snprintf(buf, sizeof buf, "/tmp/archd-%lu.sock", (unsigned long)geteuid());
	return strdup(buf);
}

static char *default_state_dir(void)
{
	if (geteuid() == 0)
		return strdup("/var/lib/archd");
	const char *st = getenv("XDG_STATE_HOME");
	if (st != NULL && st[0] == '/')
		return path_join(st, "archd");
	const char *home = getenv("HOME");
	if (home == NULL || home[0] != '/')
		home = "/tmp";
	return path_join(home, ".local/state/archd");
}

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > 64 ? 64 : (unsigned)n;
}

int dm_settings_init(dm_settings *s)
{
	memset(s, 0, sizeof *s);
	s->socket_path = default_socket_path();
	s->state_dir = default_state_dir();
	s->threads = default_threads();
	s->max_body = UINT64_C(16) << 20;
	s->max_headers = UINT64_C(16) << 10;
	s->max_conns = 512;
	s->request_timeout = 30;
	s->max_jobs = 64;
	s->max_queue = 256;
	s->max_specs = 1024;
	s->max_answers = 10000;
	s->log_level = DM_LOG_INFO;
	if (s->socket_path == NULL || s->state_dir == NULL) {
		dm_settings_free(s);
		return -1;
	}
	return 0;
}

void dm_settings_free(dm_settings *s)
{
	free(s->socket_path);
	free(s->state_dir);
	free(s->listen);
	for (int i = 0; i < s->ninclude_dirs; i++)
		free(s->include_dirs[i]);
	free(s->include_dirs);
	free(s->stdlib_dir);
	free(s->log_file);
	free(s->config_path);
	memset(s, 0, sizeof *s);
}

/* --- one setter per kind of value ------------------------------------------ */

typedef int setter_fn(dm_settings *s, const char *value, char *why, size_t whylen);

static int set_socket(dm_settings *s, const char *v, char *why, size_t n)
{
	if (v[0] == '\0' || strlen(v) >= 108) {
		snprintf(why, n, "a socket path must be 1 to 107 bytes long");
		return -1;
	}
	return set_string(&s->socket_path, v);
}

static int set_state_dir(dm_settings *s, const char *v, char *why, size_t n)
{
	if (v[0] == '\0') {
		snprintf(why, n, "the state directory must not be empty");
		return -1;
	}
	return set_string(&s->state_dir, v);
}

/* Accepts HOST:PORT with HOST in 127.0.0.0/8, "localhost" or [::1]. */
static int set_listen(dm_settings *s, const char *v, char *why, size_t n)
{
	if (strcmp(v, "off") == 0 || v[0] == '\0') {
		free(s->listen);
		s->listen = NULL;
		s->listen_host[0] = '\0';
		s->listen_port = 0;
		return 0;
	}
	const char *colon = strrchr(v, ':');
	if (colon == NULL || colon == v) {
		snprintf(why, n, "expected HOST:PORT, such as 127.0.0.1:8080");
		return -1;
	}
	char host[64];
	size_t hl = (size_t)(colon - v);
	if (hl >= sizeof host) {
		snprintf(why, n, "host part too long");
		return -1;
	}
	memcpy(host, v, hl);
	host[hl] = '\0';
	uint64_t port;
	if (dm_parse_u64(colon + 1, 1, 65535, &port) != 0) {
		snprintf(why, n, "the port must be a number from 1 to 65535");
		return -1;
	}
	struct in_addr a4;
	struct in6_addr a6;
	int loopback = 0;
	if (strcmp(host, "localhost") == 0) {
		strcpy(host, "127.0.0.1");
		loopback = 1;
	} else if (inet_pton(AF_INET, host, &a4) == 1) {
		loopback = (ntohl(a4.s_addr) >> 24) == 127;
	} else if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
		loopback = inet_pton(AF_INET6, host, &a6) == 1 && memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
	} else {
		snprintf(why, n, "'%s' is not a numeric address (IPv6 goes in brackets: [::1])", host);
		return -1;
	}
	if (!loopback) {
		snprintf(why, n,
			 "'%s' is not a loopback address: archd serves TCP only on 127.0.0.0/8 or [::1] "
			 "(use the Unix socket, or a proxy, for anything else)",
			 host);
		return -1;
	}
	if (set_string(&s->listen, v) != 0)
		return -1;
	memcpy(s->listen_host, host, strlen(host) + 1);
	s->listen_port = (unsigned)port;
	return 0;
}

/* A count in [lo, hi], strictly parsed. */
static int set_count(unsigned *slot, const char *v, uint64_t lo, uint64_t hi, char *why, size_t n)
{
	uint64_t x;
	if (dm_parse_u64(v, lo, hi, &x) != 0) {
		snprintf(why, n, "expected a whole number from %llu to %llu", (unsigned long long)lo,
			 (unsigned long long)hi);
		return -1;
	}
	*slot = (unsigned)x;
	return 0;
}

static int set_threads(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_count(&s->threads, v, 1, 256, why, n);
}

static int set_max_conns(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_count(&s->max_conns, v, 1, 65536, why, n);
}

static int set_request_timeout(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_count(&s->request_timeout, v, 1, 86400, why, n);
}

static int set_max_jobs(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_count(&s->max_jobs, v, 1, 1000000, why, n);
}

static int set_max_queue(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_count(&s->max_queue, v, 1, 1000000, why, n);
}

static int set_max_specs(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_count(&s->max_specs, v, 1, 1000000, why, n);
}

static int set_max_answers(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_count(&s->max_answers, v, 1, 100000000, why, n);
}

static int set_size(uint64_t *slot, const char *v, uint64_t lo, uint64_t hi, char *why, size_t n)
{
	if (dm_parse_size(v, lo, hi, slot) != 0) {
		snprintf(why, n, "expected a size from %llu to %llu bytes (suffixes K, M, G)",
			 (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	return 0;
}

static int set_max_body(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_size(&s->max_body, v, 1024, UINT64_C(1) << 32, why, n);
}

static int set_max_headers(dm_settings *s, const char *v, char *why, size_t n)
{
	return set_size(&s->max_headers, v, 1024, UINT64_C(1) << 24, why, n);
}

static int set_include_dir(dm_settings *s, const char *v, char *why, size_t n)
{
	if (v[0] == '\0') {
		snprintf(why, n, "an include directory must not be empty");
		return -1;
	}
	if (s->ninclude_dirs >= SETTINGS_MAX_INCLUDE_DIRS) {
		snprintf(why, n, "at most %d include directories", SETTINGS_MAX_INCLUDE_DIRS);
		return -1;
	}
	char **dirs = realloc(s->include_dirs, (size_t)(s->ninclude_dirs + 1) * sizeof *dirs);
	if (dirs == NULL)
		return -1;
	s->include_dirs = dirs;
	if ((dirs[s->ninclude_dirs] = strdup(v)) == NULL)
		return -1;
	s->ninclude_dirs++;
	return 0;
}

static int set_stdlib_dir(dm_settings *s, const char *v, char *why, size_t n)
{
	(void)why;
	(void)n;
	return set_string(&s->stdlib_dir, v);
}

static int set_log_file(dm_settings *s, const char *v, char *why, size_t n)
{
	(void)why;
	(void)n;
	if (strcmp(v, "stderr") == 0 || v[0] == '\0') {
		free(s->log_file);
		s->log_file = NULL;
		return 0;
	}
	return set_string(&s->log_file, v);
}

static int set_log_level(dm_settings *s, const char *v, char *why, size_t n)
{
	int l = dm_log_level_parse(v);
	if (l < 0) {
		snprintf(why, n, "expected error, warn, info or debug");
		return -1;
	}
	s->log_level = (dm_log_level)l;
	return 0;
}

static const struct {
	const char *key;
	setter_fn *set;
} settings_table[] = {
	{"socket", set_socket},
	{"state_dir", set_state_dir},
	{"listen", set_listen},
	{"threads", set_threads},
	{"max_body_size", set_max_body},
	{"max_header_size", set_max_headers},
	{"max_connections", set_max_conns},
	{"request_timeout", set_request_timeout},
	{"max_jobs", set_max_jobs},
	{"max_queue", set_max_queue},
	{"max_specs", set_max_specs},
	{"max_answers", set_max_answers},
	{"include_dir", set_include_dir},
	{"stdlib_dir", set_stdlib_dir},
	{"log_file", set_log_file},
	{"log_level", set_log_level},
};

int dm_settings_set(dm_settings *s, const char *key, const char *value, const char *origin,
		    char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof settings_table / sizeof settings_table[0]; i++) {
		if (strcmp(key, settings_table[i].key) != 0)
			continue;
		char why[256] = "";
		if (settings_table[i].set(s, value, why, sizeof why) == 0)
			return 0;
		if (why[0] == '\0')
			snprintf(why, sizeof why, "out of memory");
		snprintf(err, errlen, "%s: bad value '%s' for %s: %s", origin, value, key, why);
		return -1;
	}
	snprintf(err, errlen, "%s: unknown key '%s'", origin, key);
	return -1;
}

/* --- the config file ----------------------------------------------------------- */

static char *trim(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		p[--n] = '\0';
	return p;
}

/* Appends "\n    LINE" (the offending line, as written) to err. */
static void quote_line(char *err, size_t errlen, const char *line)
{
	size_t used = strlen(err);
	if (used < errlen)
		snprintf(err + used, errlen - used, "\n    %.*s", (int)strcspn(line, "\r\n"), line);
}

int dm_settings_load_file(dm_settings *s, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot read config file: %s", path, strerror(errno));
		return -1;
	}
	char line[SETTINGS_LINE_MAX + 2];
	char copy[SETTINGS_LINE_MAX + 2];
	char origin[512];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		snprintf(origin, sizeof origin, "%s:%d", path, lineno);
		size_t len = strlen(line);
		if (len > SETTINGS_LINE_MAX && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s: line longer than %d bytes", origin, SETTINGS_LINE_MAX);
			rc = -1;
			break;
		}
		memcpy(copy, line, len + 1);
		/* A '#' starts a comment unless it is inside double quotes. */
		int quoted = 0;
		for (char *c = line; *c != '\0'; c++) {
			if (*c == '"')
				quoted = !quoted;
			else if (*c == '#' && !quoted) {
				*c = '\0';
				break;
			}
		}
		char *p = trim(line);
		if (*p == '\0')
			continue;
		char *eq = strchr(p, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s: expected 'key = value'", origin);
			quote_line(err, errlen, copy);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(p), *value = trim(eq + 1);
		if (*key == '\0') {
			snprintf(err, errlen, "%s: missing key before '='", origin);
			quote_line(err, errlen, copy);
			rc = -1;
			break;
		}
		/* A value may be quoted to keep a '#' or blanks at its ends. */
		size_t vl = strlen(value);
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			value[vl - 1] = '\0';
			value++;
		}
		if (dm_settings_set(s, key, value, origin, err, errlen) != 0) {
			quote_line(err, errlen, copy);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	if (rc == 0 && set_string(&s->config_path, path) != 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	return rc;
}

/* --- the command line ----------------------------------------------------------- */

const char dm_settings_usage[] =
	"usage: archd [--socket PATH] [--state DIR] [--config FILE] [--threads N]\n"
	"             [--listen 127.0.0.1:PORT] [--log-level LEVEL] [--help] [--version]\n"
	"\n"
	"Serves .arch specs and their subnets over HTTP on a Unix socket.\n"
	"\n"
	"  --socket PATH        Unix socket to listen on (config key: socket)\n"
	"  --state DIR          state directory (state_dir)\n"
	"  --config FILE        read settings from FILE; flags override it\n"
	"  --threads N          worker threads (threads)\n"
	"  --listen HOST:PORT   also serve TCP on a loopback address (listen)\n"
	"  --log-level LEVEL    error, warn, info or debug (log_level)\n"
	"  --help               print this help and exit\n"
	"  --version            print the version and exit\n"
	"\n"
	"See archd(8) and archd.conf for every setting.\n";

static const struct {
	const char *flag;
	const char *key; /* NULL: handled by dm_args_parse itself */
} flag_table[] = {
	{"--socket", "socket"},
	{"--state", "state_dir"},
	{"--threads", "threads"},
	{"--listen", "listen"},
	{"--log-level", "log_level"},
	{"--config", NULL},
};

int dm_args_parse(dm_args *a, int argc, char **argv, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			a->help = 1;
			continue;
		}
		if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
			a->version = 1;
			continue;
		}
		size_t nflags = sizeof flag_table / sizeof flag_table[0];
		const char *value = NULL;
		const char *flag = NULL, *key = NULL; /* the matched table entry */
		for (size_t k = 0; k < nflags && flag == NULL; k++) {
			size_t fl = strlen(flag_table[k].flag);
			if (strncmp(arg, flag_table[k].flag, fl) != 0 || (arg[fl] != '=' && arg[fl] != '\0'))
				continue;
			flag = flag_table[k].flag;
			key = flag_table[k].key;
			if (arg[fl] == '=') {
				value = arg + fl + 1;
			} else if (i + 1 < argc) {
				value = argv[++i];
			} else {
				snprintf(err, errlen, "%s needs a value (try --help)", arg);
				return -1;
			}
		}
		if (flag == NULL) {
			if (arg[0] == '-')
				snprintf(err, errlen, "unknown option '%s' (try --help)", arg);
			else
				snprintf(err, errlen, "unexpected argument '%s' (try --help)", arg);
			return -1;
		}
		if (key == NULL) {
			a->config_path = value;
			continue;
		}
		if (a->nsets >= (int)(sizeof a->sets / sizeof a->sets[0])) {
			snprintf(err, errlen, "too many options");
			return -1;
		}
		a->sets[a->nsets].flag = flag;
		a->sets[a->nsets].key = key;
		a->sets[a->nsets].value = value;
		a->nsets++;
	}
	return 0;
}

int dm_settings_build(dm_settings *s, const dm_args *a, char *err, size_t errlen)
{
	if (dm_settings_init(s) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (a->config_path != NULL && dm_settings_load_file(s, a->config_path, err, errlen) != 0) {
		dm_settings_free(s);
		return -1;
	}
	for (int i = 0; i < a->nsets; i++) {
		if (dm_settings_set(s, a->sets[i].key, a->sets[i].value, a->sets[i].flag, err, errlen) != 0) {
			dm_settings_free(s);
			return -1;
		}
	}
	return 0;
}
