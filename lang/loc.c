/*
 * loc.c — sources, and diagnostics collected then printed the way gcc
 * prints them (message, source line, carets under the range).
 */
#include "lang/loc.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("archd: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

lang_source *lang_source_new(const char *name, const char *text, size_t len)
{
	lang_source *s = xmalloc(sizeof *s);
	s->name = xstrdup(name);
	s->text = xmalloc(len + 1);
	if (len)
		memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	return s;
}

lang_source *lang_source_read(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	size_t cap = 65536, len = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(fp);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	int failed = ferror(fp), err = errno;
	fclose(fp);
	if (failed) {
		free(buf);
		errno = err ? err : EIO;
		return NULL;
	}
	if (len == cap) {
		char *nb = realloc(buf, len + 1);
		if (!nb) {
			free(buf);
			errno = ENOMEM;
			return NULL;
		}
		buf = nb;
	}
	buf[len] = '\0';
	lang_source *s = xmalloc(sizeof *s);
	s->name = xstrdup(path);
	s->text = buf;
	s->len = len;
	return s;
}

void lang_source_free(lang_source *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->text);
	free(s);
}

void lang_diags_init(lang_diags *d)
{
	memset(d, 0, sizeof *d);
}

void lang_diags_free(lang_diags *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->items[i].message);
	free(d->items);
	memset(d, 0, sizeof *d);
}

static void diags_add(lang_diags *d, lang_severity sev, lang_loc loc, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	assert(n >= 0);
	char *msg = xmalloc((size_t)n + 1);
	vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 8;
		lang_diag *items = realloc(d->items, (size_t)d->cap * sizeof *items);
		if (!items) {
			fputs("archd: out of memory\n", stderr);
			abort();
		}
		d->items = items;
	}
	d->items[d->n++] = (lang_diag){ .severity = sev, .loc = loc, .message = msg };
	if (sev == LANG_ERROR)
		d->nerrors++;
	else if (sev == LANG_WARNING)
		d->nwarnings++;
}

void lang_error(lang_diags *d, lang_loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diags_add(d, LANG_ERROR, loc, fmt, ap);
	va_end(ap);
}

void lang_warning(lang_diags *d, lang_loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diags_add(d, LANG_WARNING, loc, fmt, ap);
	va_end(ap);
}

void lang_note(lang_diags *d, lang_loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diags_add(d, LANG_NOTE, loc, fmt, ap);
	va_end(ap);
}

/*
 * Finds the start of a line.  Diagnostics mostly come in source order, so
 * the cursor remembers the last line found and scans on from there; going
 * backwards restarts from the top.  This keeps printing n diagnostics over
 * a big file linear rather than quadratic.
 */
typedef struct line_cursor {
	const lang_source *src;
	int line;
	size_t off;
} line_cursor;

static int line_find(line_cursor *c, const lang_source *src, int line, size_t *start, size_t *end)
{
	if (c->src != src || line < c->line) {
		c->src = src;
		c->line = 1;
		c->off = 0;
	}
	while (c->line < line) {
		const char *nl = memchr(src->text + c->off, '\n', src->len - c->off);
		if (!nl)
			return 0;
		c->off = (size_t)(nl - src->text) + 1;
		c->line++;
	}
	if (c->off > src->len)
		return 0;
	const char *nl = memchr(src->text + c->off, '\n', src->len - c->off);
	size_t e = nl ? (size_t)(nl - src->text) : src->len;
	if (e > c->off && src->text[e - 1] == '\r')
		e--;
	*start = c->off;
	*end = e;
	return 1;
}

static const char *severity_name(lang_severity s)
{
	switch (s) {
	case LANG_ERROR:
		return "error";
	case LANG_WARNING:
		return "warning";
	case LANG_NOTE:
		return "note";
	}
	return "error";
}

static void print_one(const lang_diag *g, line_cursor *cur, FILE *out)
{
	const lang_loc *l = &g->loc;
	const char *sev = severity_name(g->severity);
	if (!l->src) {
		fprintf(out, "%s: %s\n", sev, g->message);
		return;
	}
	if (l->first_line <= 0) {
		fprintf(out, "%s: %s: %s\n", l->src->name, sev, g->message);
		return;
	}
	fprintf(out, "%s:%d:%d: %s: %s\n", l->src->name, l->first_line, l->first_column, sev,
		g->message);
	size_t start, end;
	if (!line_find(cur, l->src, l->first_line, &start, &end))
		return;
	int width = 4;
	for (int v = l->first_line; v >= 100000; v /= 10)
		width++;
	/* A long line (a generated or minified file) is shown as a window of
	 * SHOWN bytes around the column, cut ends marked "...". */
	enum { SHOWN = 120, BEFORE = 40 };
	size_t len = end - start;
	size_t first = l->first_column < 1 ? 1 : (size_t)l->first_column;
	size_t last = l->last_line == l->first_line && l->last_column > 0 ? (size_t)l->last_column
									    : len;
	if (last < first)
		last = first;
	size_t from = 0, to = len;
	if (len > SHOWN) {
		from = first - 1 > BEFORE ? first - 1 - BEFORE : 0;
		if (from > len - SHOWN)
			from = len - SHOWN;
		to = from + SHOWN;
		/* not inside a UTF-8 sequence at either end */
		while (from > 0 && ((unsigned char)l->src->text[start + from] & 0xC0) == 0x80)
			from--;
		while (to < len && ((unsigned char)l->src->text[start + to] & 0xC0) == 0x80)
			to++;
	}
	fprintf(out, " %*d | %s", width, l->first_line, from > 0 ? "..." : "");
	for (size_t i = start + from; i < start + to; i++) {
		unsigned char ch = (unsigned char)l->src->text[i];
		/* Control bytes (tabs above all) become a space so that the carets
		 * below, which count bytes, stay aligned. */
		fputc(ch < 0x20 || ch == 0x7f ? ' ' : ch, out);
	}
	fprintf(out, "%s\n", to < len ? "..." : "");
	if (last > to)
		last = to > first ? to : first;
	fprintf(out, " %*s | %s", width, "", from > 0 ? "   " : "");
	for (size_t i = from + 1; i < first; i++)
		fputc(' ', out);
	fputc('^', out);
	for (size_t i = first + 1; i <= last; i++)
		fputc('~', out);
	fputc('\n', out);
}

void lang_diags_print(const lang_diags *d, FILE *out)
{
	line_cursor cur = { 0 };
	for (int i = 0; i < d->n; i++)
		print_one(&d->items[i], &cur, out);
}
