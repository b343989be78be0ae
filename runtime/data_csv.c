/*
 * data_csv.c — comma-separated numbers, one example per row.
 *
 * Each row holds channels * height * width features (in H, W, C order, i.e.
 * the NHWC layout of one example) and one label, at column label_column
 * (-1 = last).  The first skip_rows lines are skipped; blank lines are
 * ignored; spaces and tabs around a cell and a CR before the newline are
 * allowed.  Cells are decimal numbers ([+-]digits[.digits][e[+-]digits]):
 * anything else, including "nan", "inf" and hex, is an error that names
 * file:line:column.  Labels must be whole numbers.
 */
#include "runtime/data_raw.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct csv_ctx {
	const char *path;
	long long line; /* an 8 GB file may hold more than 2^31 lines */
	const char *line_start;
	char *err;
	size_t errlen;
	int cap;         /* examples out->x and out->y have room for */
	size_t max_rows; /* most rows of the right width the file can hold */
} csv_ctx;

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the decimal number at s, or 0 when s does not start with one. */
static size_t number_span(const char *s)
{
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	const char *digits = p;
	while (is_digit(*p))
		p++;
	int mantissa = p > digits;
	if (*p == '.') {
		p++;
		const char *frac = p;
		while (is_digit(*p))
			p++;
		mantissa |= p > frac;
	}
	if (!mantissa)
		return 0;
	if (*p == 'e' || *p == 'E') {
		const char *e = p + 1;
		if (*e == '+' || *e == '-')
			e++;
		if (!is_digit(*e))
			return 0;
		while (is_digit(*e))
			e++;
		p = e;
	}
	return (size_t)(p - s);
}

/* Parses the cell [s, end) strictly into *v. */
static int parse_cell(csv_ctx *c, const char *s, const char *end, double *v)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	size_t len = (size_t)(end - s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	long long col = (long long)(s - c->line_start) + 1;
	if (len == 0) {
		snprintf(c->err, c->errlen, "%s:%lld:%lld: empty cell, expected a number",
			 c->path, c->line, col);
		return -1;
	}
	if (number_span(s) != len) {
		snprintf(c->err, c->errlen, "%s:%lld:%lld: '%.*s' is not a number", c->path,
			 c->line, col, (int)(len > 40 ? 40 : len), s);
		return -1;
	}
	/* The span is validated, so strtod stops exactly at its end. */
	errno = 0;
	double x = strtod(s, NULL);
	if (errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL)) {
		snprintf(c->err, c->errlen, "%s:%lld:%lld: '%.*s' is too large", c->path,
			 c->line, col, (int)(len > 40 ? 40 : len), s);
		return -1;
	}
	if (!(fabs(x) <= 3.4e38)) {
		snprintf(c->err, c->errlen, "%s:%lld:%lld: '%.*s' does not fit a float",
			 c->path, c->line, col, (int)(len > 40 ? 40 : len), s);
		return -1;
	}
	*v = x;
	return 0;
}

/* Makes room for more examples: doubling, but never past the rows the file
 * can hold, so that a wide row costs memory only when the file has it (the
 * row width comes from the data set, not from the file). */
static int grow(csv_ctx *c, rt_data_raw *out, size_t nfeat)
{
	size_t ncap = c->cap ? 2 * (size_t)c->cap : 256;
	if (ncap > c->max_rows)
		ncap = c->max_rows;
	if (ncap <= (size_t)c->cap) /* this row is malformed, but it is stored until known */
		ncap = (size_t)c->cap + 1;
	if (ncap > 0x7fffffff)
		ncap = 0x7fffffff;
	float *x = realloc(out->x, ncap * nfeat * sizeof(float));
	if (!x)
		return -1;
	out->x = x;
	int *y = realloc(out->y, ncap * sizeof(int));
	if (!y)
		return -1;
	out->y = y;
	c->cap = (int)ncap;
	return 0;
}

/* Parses one non-blank row [s, end) into example out->n, making room for
 * it. */
static int parse_row(csv_ctx *c, const ir_dataset *d, const char *s, const char *end,
		     int ncols, int label_col, rt_data_raw *out)
{
	int cols = 1; /* counted up to one past ncols (a line may hold 2^31 commas) */
	for (const char *p = s; p < end && cols <= ncols; p++)
		cols += *p == ',';
	if (cols != ncols) {
		snprintf(c->err, c->errlen,
			 "%s:%lld: %s%d columns, expected %d (%d features of %dx%dx%d and a label)",
			 c->path, c->line, cols > ncols ? "more than " : "",
			 cols > ncols ? ncols : cols, ncols, ncols - 1, d->height, d->width,
			 d->channels);
		return -1;
	}
	if (out->n == c->cap && grow(c, out, (size_t)(ncols - 1)) != 0) {
		snprintf(c->err, c->errlen, "%s:%lld: out of memory", c->path, c->line);
		return -1;
	}
	float *x = out->x + (size_t)out->n * (size_t)(ncols - 1);
	const char *cell = s;
	for (int k = 0; k < ncols; k++) {
		const char *stop = memchr(cell, ',', (size_t)(end - cell));
		if (!stop)
			stop = end;
		double v;
		if (parse_cell(c, cell, stop, &v) != 0)
			return -1;
		if (k == label_col) {
			long lv = v < 0 ? -1 : v > 2147483647.0 ? 2147483648L : (long)v;
			const char *why = v != floor(v) ? "is not a whole number"
							: rt_data_label_problem(d, lv);
			if (why) {
				while (*cell == ' ' || *cell == '\t')
					cell++;
				snprintf(c->err, c->errlen,
					 "%s:%lld:%lld: label %g %s (the data set has %d classes)",
					 c->path, c->line, (long long)(cell - c->line_start) + 1, v,
					 why, d->nclasses);
				return -1;
			}
			out->y[out->n] = (int)v;
		} else {
			*x++ = (float)v;
		}
		cell = stop + 1;
	}
	out->n++;
	return 0;
}

int rt_data_read_csv(const ir_dataset *d, const char *path, rt_data_raw *out,
		     char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	unsigned char *buf;
	size_t len;
	if (rt_data_slurp(path, &buf, &len, err, errlen) != 0)
		return -1;
	if (memchr(buf, 0, len)) {
		snprintf(err, errlen, "%s: binary data (a NUL byte), not a CSV file", path);
		free(buf);
		return -1;
	}
	size_t nfeat = (size_t)d->channels * (size_t)d->height * (size_t)d->width;
	int ncols = (int)nfeat + 1;
	int label_col = d->label_column < 0 ? ncols - 1 : d->label_column;
	if (label_col >= ncols) {
		snprintf(err, errlen, "%s: label column %d is past the %d columns of a row",
			 path, label_col, ncols);
		free(buf);
		return -1;
	}
	/* A row is ncols cells of a character or more, the commas between them
	 * and a newline (but the last). */
	csv_ctx c = {.path = path,
		     .err = err,
		     .errlen = errlen,
		     .max_rows = (len + 1) / (2 * (size_t)ncols)};
	int rc = -1;
	const char *p = (const char *)buf, *eof = (const char *)buf + len;
	while (p < eof) {
		const char *nl = memchr(p, '\n', (size_t)(eof - p));
		const char *end = nl ? nl : eof;
		c.line++;
		c.line_start = p;
		const char *q = p;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (c.line > d->skip_rows && q < end) {
			if (parse_row(&c, d, p, end, ncols, label_col, out) != 0)
				goto done;
		}
		if (out->n == 0x7fffffff) {
			snprintf(err, errlen, "%s:%lld: too many rows", path, c.line);
			goto done;
		}
		p = end + 1;
	}
	rc = 0;
done:
	free(buf);
	if (rc != 0)
		rt_data_raw_free(out);
	return rc;
}
