/*
 * archive.c — the Pareto archive of measured subnets and its text form
 * (both described in archive.h).
 */
#include "runtime/archive.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "runtime/statedir.h"

#define MAX_FILE_BYTES ((size_t)64 << 20)

struct search_archive {
	const ir_space *space;
	int version; /* of the file it was read from */
	int has_weights;
	uint64_t weights; /* rt_ckpt_id of the checkpoint measured on */
	int n, cap;
	search_member *m;
	search_eval *ev; /* ev[i] == m[i].eval, contiguous for search_pick */
};

search_archive *search_archive_new(const ir_space *s)
{
	search_archive *a = calloc(1, sizeof(*a));
	if (a) {
		a->space = s;
		a->version = SEARCH_ARCHIVE_VERSION;
	}
	return a;
}

void search_archive_free(search_archive *a)
{
	if (!a)
		return;
	free(a->m);
	free(a->ev);
	free(a);
}

int search_archive_size(const search_archive *a)
{
	return a->n;
}

const search_member *search_archive_member(const search_archive *a, int i)
{
	assert(i >= 0 && i < a->n);
	return &a->m[i];
}

int search_archive_find(const search_archive *a, const sn_subnet *sub)
{
	for (int i = 0; i < a->n; i++)
		if (sn_subnet_equal(&a->m[i].sub, sub))
			return i;
	return -1;
}

void search_archive_set_test(search_archive *a, int i, double test)
{
	assert(i >= 0 && i < a->n);
	a->m[i].test = test;
}

int search_archive_file_version(const search_archive *a)
{
	return a->version;
}

int search_archive_weights(const search_archive *a, uint64_t *id)
{
	if (a->has_weights)
		*id = a->weights;
	return a->has_weights;
}

void search_archive_set_weights(search_archive *a, uint64_t id)
{
	a->has_weights = 1;
	a->weights = id;
}

/* Metric j of e oriented so that larger is better, NaN as the worst. */
static double goodness(const search_eval *e, int j)
{
	double v = e->v[j];
	if (isnan(v))
		return -INFINITY;
	return j == IR_METRIC_ACCURACY ? v : -v;
}

/* 1 when x is at least as good as y in every metric and better in one;
 * *equal is set when they are alike in all. */
static int dominates(const search_eval *x, const search_eval *y, int *equal)
{
	int better = 0;
	for (int j = 0; j < IR_METRIC_COUNT; j++) {
		double gx = goodness(x, j), gy = goodness(y, j);
		if (gx < gy) {
			*equal = 0;
			return 0;
		}
		better |= gx > gy;
	}
	*equal = !better;
	return better;
}

int search_archive_add(search_archive *a, const search_member *m)
{
	for (int i = 0; i < a->n; i++) {
		if (sn_subnet_equal(&a->m[i].sub, &m->sub))
			continue; /* replaced below */
		int equal;
		if (dominates(&a->m[i].eval, &m->eval, &equal) || equal)
			return 0;
	}
	/* Room first, so running out of memory leaves the archive as it was. */
	if (a->n == a->cap) {
		int cap = a->cap ? 2 * a->cap : 32;
		search_member *p = realloc(a->m, (size_t)cap * sizeof(*p));
		if (p)
			a->m = p;
		search_eval *q = p ? realloc(a->ev, (size_t)cap * sizeof(*q)) : NULL;
		if (!q)
			return -1;
		a->ev = q;
		a->cap = cap;
	}
	/* Drop what the newcomer dominates and its own earlier measurement
	 * (whose test accuracy, measured once, it keeps). */
	double test = m->test;
	int k = 0;
	for (int i = 0; i < a->n; i++) {
		int equal;
		if (sn_subnet_equal(&a->m[i].sub, &m->sub)) {
			if (isnan(test))
				test = a->m[i].test;
			continue;
		}
		if (dominates(&m->eval, &a->m[i].eval, &equal))
			continue;
		a->m[k] = a->m[i];
		a->ev[k++] = a->m[i].eval;
	}
	a->n = k;
	a->ev[a->n] = m->eval;
	a->m[a->n] = *m;
	a->m[a->n++].test = test;
	return 1;
}

int search_archive_answer(const search_archive *a, const ir_objective *obj,
			  const ir_constraint *cons, int ncons, int *nearest, int *tightest)
{
	return search_pick(a->ev, a->n, obj, cons, ncons, nearest, tightest);
}

/* --- text form ------------------------------------------------------------------ */

static const char *const metric_keys[IR_METRIC_COUNT] = {"acc", "macs", "params", "latency",
							  "memory"};

int search_archive_save(const search_archive *a, const char *path, char *err, size_t errlen)
{
	size_t cap = 256 + strlen(a->space->name) + (size_t)a->n * (SN_GENE_STRLEN + 256), len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	len += (size_t)snprintf(buf + len, cap - len, "archd-archive %d\nspace %s\n",
				SEARCH_ARCHIVE_VERSION, a->space->name);
	if (a->has_weights)
		len += (size_t)snprintf(buf + len, cap - len, "weights %016" PRIx64 "\n",
					a->weights);
	else
		len += (size_t)snprintf(buf + len, cap - len, "weights unknown\n");
	for (int i = 0; i < a->n; i++) {
		const search_member *m = &a->m[i];
		char genes[SN_GENE_STRLEN];
		if (sn_subnet_format(a->space, &m->sub, genes, sizeof(genes)) < 0)
			genes[0] = '\0';
		const double *v = m->eval.v;
		len += (size_t)snprintf(buf + len, cap - len,
					"member %s acc=%.17g test=%.17g pred=%.17g macs=%.17g "
					"params=%.17g latency=%.17g memory=%.17g\n",
					genes, v[IR_METRIC_ACCURACY], m->test, m->predicted, v[IR_METRIC_MACS],
					v[IR_METRIC_PARAMS], v[IR_METRIC_LATENCY], v[IR_METRIC_MEMORY]);
	}
	len += (size_t)snprintf(buf + len, cap - len, "xxh3 %016" PRIx64 "\n",
				(uint64_t)XXH3_64bits(buf, len));
	int rc = rt_state_write_file(path, buf, len, 0644, err, errlen);
	free(buf);
	return rc;
}

/* Parses "KEY=NUMBER" at *p (then a space or the end) into *out. */
static int field(char **p, const char *key, double *out)
{
	size_t kl = strlen(key);
	if (strncmp(*p, key, kl) != 0 || (*p)[kl] != '=')
		return -1;
	char *end;
	errno = 0;
	*out = strtod(*p + kl + 1, &end);
	if (end == *p + kl + 1 || errno == ERANGE || (*end != ' ' && *end != '\0'))
		return -1;
	*p = *end == ' ' ? end + 1 : end;
	return 0;
}

/* Parses "weights HEX16" or "weights unknown" into a. */
static int parse_weights(const char *line, search_archive *a)
{
	const char *hex = line + 8;
	if (strncmp(line, "weights ", 8) != 0)
		return -1;
	if (strcmp(hex, "unknown") == 0)
		return 0;
	if (strlen(hex) != 16 || strspn(hex, "0123456789abcdef") != 16)
		return -1;
	search_archive_set_weights(a, strtoull(hex, NULL, 16));
	return 0;
}

/* Parses a member line of a file of `version` (1 has no test field). */
static int parse_member(const ir_space *s, int version, char *line, search_member *m)
{
	if (strncmp(line, "member ", 7) != 0)
		return -1;
	char *genes = line + 7, *sp = strchr(genes, ' ');
	if (!sp)
		return -1;
	*sp = '\0';
	char err[128];
	if (sn_subnet_parse(s, genes, &m->sub, err, sizeof(err)) != 0)
		return -1;
	char *p = sp + 1;
	m->test = NAN;
	if (field(&p, metric_keys[IR_METRIC_ACCURACY], &m->eval.v[IR_METRIC_ACCURACY]) != 0 ||
	    (version >= 2 && field(&p, "test", &m->test) != 0) ||
	    field(&p, "pred", &m->predicted) != 0)
		return -1;
	for (int j = IR_METRIC_MACS; j < IR_METRIC_COUNT; j++)
		if (field(&p, metric_keys[j], &m->eval.v[j]) != 0)
			return -1;
	return *p == '\0' ? 0 : -1;
}

static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
	const char *why;
	FILE *f = rt_state_fopen(path, &why);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, why);
		return NULL;
	}
	char *b = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			char *p = cap <= MAX_FILE_BYTES ? realloc(b, cap + 1) : NULL;
			if (!p) {
				snprintf(err, errlen, "%s: too large or out of memory", path);
				free(b);
				fclose(f);
				return NULL;
			}
			b = p;
		}
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: read error", path);
		free(b);
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

search_archive *search_archive_load(const ir_space *s, const char *path, char *err,
				    size_t errlen)
{
	size_t len;
	char *text = slurp(path, &len, err, errlen);
	if (!text)
		return NULL;
	const char *why = NULL;
	char *sum = NULL;
	/* The last line is the checksum of everything before it. */
	if (len == 0 || text[len - 1] != '\n' || strlen(text) != len) {
		why = "not a text file ending in a newline";
	} else {
		text[len - 1] = '\0';
		sum = strrchr(text, '\n');
		sum = sum ? sum + 1 : text;
		uint64_t want;
		int used = 0;
		if (sscanf(sum, "xxh3 %16" SCNx64 "%n", &want, &used) != 1 || used != 21 ||
		    sum[used] != '\0')
			why = "no checksum line";
		else if (XXH3_64bits(text, (size_t)(sum - text)) != want)
			why = "checksum mismatch: the archive is corrupt or truncated";
	}
	search_archive *a = why ? NULL : search_archive_new(s);
	if (!why && !a)
		why = "out of memory";
	int lineno = 0, version = 0;
	char vwhy[96];
	for (char *p = text; !why && p < sum;) {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		lineno++;
		int used = 0;
		if (lineno == 1) {
			if (sscanf(p, "archd-archive %d%n", &version, &used) != 1 || p[used] != '\0') {
				why = "not an archive";
			} else if (version < SEARCH_ARCHIVE_VERSION_MIN ||
				   version > SEARCH_ARCHIVE_VERSION) {
				snprintf(vwhy, sizeof vwhy,
					 "an archive of version %d; this build reads versions %d to %d",
					 version, SEARCH_ARCHIVE_VERSION_MIN, SEARCH_ARCHIVE_VERSION);
				why = vwhy;
			} else {
				a->version = version;
			}
		} else if (lineno == 2) {
			if (strncmp(p, "space ", 6) != 0 || strcmp(p + 6, s->name) != 0)
				why = "an archive of another space";
		} else if (lineno == 3 && version >= 3) {
			if (parse_weights(p, a) != 0)
				why = "malformed weights line (want 'weights' and 16 hex digits, or "
				      "'weights unknown')";
		} else {
			search_member m;
			memset(&m, 0, sizeof(m));
			if (parse_member(s, version, p, &m) != 0)
				why = "malformed member";
			else if (search_archive_add(a, &m) < 0)
				why = "out of memory";
		}
		p = nl + 1;
	}
	if (!why && lineno < (version >= 3 ? 3 : 2))
		why = "header incomplete";
	free(text);
	if (why) {
		if (lineno > 0)
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
		else
			snprintf(err, errlen, "%s: %s", path, why);
		search_archive_free(a);
		return NULL;
	}
	return a;
}
