/*
 * latency_file.c — the latency table's text form (described in latency.h):
 * a header, one entry a line, and the XXH3-64 of every byte before the
 * checksum line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "runtime/latency_priv.h"
#include "runtime/statedir.h"

/* Longest cpu or version string a file may carry, and longest line. */
#define NAME_MAX_LEN 200
#define LINE_MAX_LEN 512
/* Far more entries than any space produces: a bound on a hostile file. */
#define MAX_ENTRIES 1000000

static const char *const act_names[IR_ACT_COUNT] = {"none", "relu", "hswish"};

typedef struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap <= b->len + (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

int lat_table_save(const lat_table *t, const char *path, char *err, size_t errlen)
{
	sbuf b = {0};
	sb_printf(&b, "archd-lut %d\ncpu %s\nversion %s\nkernels %s\n", LAT_FILE_VERSION, t->cpu,
		  t->version, t->kernels);
	for (int i = 0; i < t->n; i++) {
		const lat_key *k = &t->e[i].key;
		sb_printf(&b,
			  "%s %s h=%d ho=%d cin=%d mid=%d cout=%d k=%d s=%d se=%d sc=%d ex=%d us=%.3f\n",
			  lat_kind_names[k->kind], act_names[k->act], k->h, k->ho, k->cin, k->mid,
			  k->cout, k->k, k->stride, k->se_r, k->shortcut, k->has_expand, t->e[i].us);
	}
	for (int i = 0; i < t->ns; i++)
		sb_printf(&b, "calib space=%016" PRIx64 " sum=%.3f us=%.3f\n", t->smp[i].space,
			  t->smp[i].sum_us, t->smp[i].us);
	if (!b.oom) {
		uint64_t h = XXH3_64bits(b.p, b.len);
		sb_printf(&b, "xxh3 %016" PRIx64 "\n", h);
	}
	if (b.oom) {
		free(b.p);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	int rc = rt_state_write_file(path, b.p, b.len, 0644, err, errlen);
	free(b.p);
	return rc;
}

static int find_name(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* Parses one entry line into k and *us; 0 or -1. */
static int parse_entry(const char *line, lat_key *k, double *us)
{
	char kind[16], act[16];
	int used = 0;
	memset(k, 0, sizeof(*k));
	int n = sscanf(line,
		       "%15s %15s h=%d ho=%d cin=%d mid=%d cout=%d k=%d s=%d se=%d sc=%d ex=%d us=%lf%n",
		       kind, act, &k->h, &k->ho, &k->cin, &k->mid, &k->cout, &k->k, &k->stride,
		       &k->se_r, &k->shortcut, &k->has_expand, us, &used);
	if (n != 13 || line[used] != '\0')
		return -1;
	k->kind = find_name(lat_kind_names, LAT_KIND_COUNT, kind);
	k->act = find_name(act_names, IR_ACT_COUNT, act);
	if (k->kind < 0 || k->act < 0 || k->h < 1 || k->ho < 1 || k->cin < 1 || k->cout < 1 ||
	    k->mid < 0 || k->k < 0 || k->stride < 0 || k->se_r < 0 || k->shortcut < 0 ||
	    k->shortcut > 2 || k->has_expand < 0 || k->has_expand > 1 || !(*us >= 0))
		return -1;
	return 0;
}

/* Parses one calibration line; 0 or -1. */
static int parse_sample(const char *line, lat_sample *p)
{
	int used = 0;
	if (sscanf(line, "calib space=%16" SCNx64 " sum=%lf us=%lf%n", &p->space, &p->sum_us,
		   &p->us, &used) != 3 ||
	    line[used] != '\0')
		return -1;
	return p->sum_us > 0 && p->sum_us < 1e12 && p->us > 0 && p->us < 1e12 ? 0 : -1;
}

/* Reads the whole file (at most `max` bytes) into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	const char *why;
	FILE *f = rt_state_fopen(path, &why);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, why);
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	while (b) {
		n += fread(b + n, 1, cap - n, f);
		if (n < cap || cap >= max)
			break;
		cap *= 2;
		char *p = realloc(b, cap + 1);
		if (!p) {
			free(b);
			b = NULL;
			break;
		}
		b = p;
	}
	int bad = !b || ferror(f) || (n == cap && cap >= max);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: %s", path, !b ? "out of memory" : "unreadable or too large");
		free(b);
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

lat_table *lat_table_load(const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text = slurp(path, (size_t)MAX_ENTRIES * 128, &len, err, errlen);
	if (!text)
		return NULL;
	lat_table *t = NULL;
	int lineno = 0, version = -1;
	char cpu[NAME_MAX_LEN + 1] = "", ver[NAME_MAX_LEN + 1] = "", kern[NAME_MAX_LEN + 1] = "";
	const char *why = NULL;
	/* The checksum line is the last one; it covers everything before. */
	char *sum = NULL;
	for (char *p = text; p && *p;) {
		char *nl = strchr(p, '\n');
		if (!nl) {
			why = "the last line is unterminated";
			break;
		}
		if (nl[1] == '\0')
			sum = p;
		p = nl + 1;
	}
	uint64_t want = 0;
	int used = 0;
	if (!why && (!sum || sscanf(sum, "xxh3 %16" SCNx64 "%n", &want, &used) != 1 ||
		     sum[used] != '\n' || used != 21))
		why = "no checksum line";
	if (!why && XXH3_64bits(text, (size_t)(sum - text)) != want)
		why = "checksum mismatch: the table is corrupt or truncated";
	for (char *p = text; !why && p < sum;) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		lineno++;
		if (nl - p > LINE_MAX_LEN) {
			why = "line too long";
		} else if (lineno == 1) {
			if (sscanf(p, "archd-lut %d%n", &version, &used) != 1 || p[used] != '\0')
				why = "not a latency table";
			else if (version != LAT_FILE_VERSION)
				why = "a latency table of another version";
		} else if (lineno == 2) {
			if (sscanf(p, "cpu %200s%n", cpu, &used) != 1 || p[used] != '\0')
				why = "bad cpu line";
		} else if (lineno == 3) {
			if (sscanf(p, "version %200s%n", ver, &used) != 1 || p[used] != '\0')
				why = "bad version line";
		} else if (lineno == 4) {
			if (sscanf(p, "kernels %200s%n", kern, &used) != 1 || p[used] != '\0')
				why = "bad kernels line";
			else if (!(t = lat_table_new(cpu, ver)))
				why = "out of memory";
			else if (strcmp(t->kernels, kern) != 0) {
				free(t->kernels);
				if (!(t->kernels = strdup(kern)))
					why = "out of memory";
			}
		} else if (strncmp(p, "calib ", 6) == 0) {
			lat_sample smp;
			if (parse_sample(p, &smp) != 0)
				why = "malformed calibration sample";
			else if (t->ns >= LAT_MAX_SAMPLES ||
				 lat_table_append_sample(t, smp.space, smp.sum_us, smp.us) != 0)
				why = "too many calibration samples";
		} else {
			lat_key k;
			double us;
			if (parse_entry(p, &k, &us) != 0)
				why = "malformed entry";
			else if (lat_table_find(t, &k))
				why = "repeated entry";
			else if (t->n >= MAX_ENTRIES || lat_table_insert(t, &k, us) != 0)
				why = "too many entries";
		}
		p = nl + 1;
	}
	if (!why && !t)
		why = "header incomplete";
	if (!why && lat_calib_fit(t) != 0)
		why = "out of memory";
	free(text);
	if (why) {
		if (lineno > 0)
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
		else
			snprintf(err, errlen, "%s: %s", path, why);
		lat_table_free(t);
		return NULL;
	}
	return t;
}

lat_table *lat_table_open(const char *path, const char *cpu, const char *version,
			  const ir_space *s, int nclasses, int in_res, int reps,
			  lat_progress_fn progress, void *ctx, char *err, size_t errlen)
{
	char why[1024] = "", id[LAT_KERNELS_ID_LEN];
	int exists = access(path, F_OK) == 0;
	lat_table *t = exists ? lat_table_load(path, why, sizeof(why)) : NULL;
	lat_kernels_id(id);
	if (t && strcmp(t->cpu, cpu) != 0)
		snprintf(why, sizeof why, "%s was measured on another CPU (%s, this host: %s)", path,
			 t->cpu, cpu);
	else if (t && strcmp(t->version, version) != 0)
		snprintf(why, sizeof why, "%s was measured by another version (%s, this one: %s)",
			 path, t->version, version);
	else if (t && strcmp(t->kernels, id) != 0)
		snprintf(why, sizeof why,
			 "%s was measured with other kernels or another thread count (%s, this "
			 "run: %s)",
			 path, t->kernels, id);
	else if (t)
		why[0] = '\0';
	if (why[0]) {
		lat_table_free(t);
		t = NULL;
	}
	if (!t && !(t = lat_table_new(cpu, version))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (exists && why[0]) {
		size_t n = strlen(why);
		snprintf(why + n, sizeof why - n, "; measured afresh");
		if (!(t->note = strdup(why))) {
			lat_table_free(t);
			snprintf(err, errlen, "%s: out of memory", path);
			return NULL;
		}
	}
	int added = lat_table_build(t, s, nclasses, in_res, reps, progress, ctx, err, errlen);
	/* New entries change what a forward of this space costs; a space
	 * without samples was never calibrated here. */
	int calibrated = 0;
	double scale;
	if (added > 0 || (added == 0 && lat_table_calibration(t, s, in_res, &scale) == 0))
		calibrated = lat_table_calibrate(t, s, nclasses, in_res, reps, err, errlen);
	if (added < 0 || calibrated < 0 ||
	    ((added > 0 || calibrated > 0) && (rt_state_mkparents(path, err, errlen) != 0 ||
						lat_table_save(t, path, err, errlen) != 0))) {
		lat_table_free(t);
		return NULL;
	}
	return t;
}
