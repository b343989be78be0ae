/*
 * number.c — numbers with SI suffixes and units: "2M", "1.5ms", "64KiB".
 */
#include "lang/lang.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lang/parse.h"

typedef struct suffix {
	const char *name;
	double scale;
	ast_unit unit;
} suffix;

/* Decimal prefixes are powers of 1000 (as in SI and on disk labels); the
 * binary ones, KiB and up, are powers of 1024. */
static const suffix suffixes[] = {
	{ "K", 1e3, AST_UNIT_NONE },	     { "k", 1e3, AST_UNIT_NONE },
	{ "M", 1e6, AST_UNIT_NONE },	     { "G", 1e9, AST_UNIT_NONE },
	{ "T", 1e12, AST_UNIT_NONE },	     { "%", 1e-2, AST_UNIT_PERCENT },
	{ "ns", 1e-9, AST_UNIT_SECONDS },    { "us", 1e-6, AST_UNIT_SECONDS },
	{ "ms", 1e-3, AST_UNIT_SECONDS },    { "s", 1, AST_UNIT_SECONDS },
	{ "B", 1, AST_UNIT_BYTES },	     { "KB", 1e3, AST_UNIT_BYTES },
	{ "MB", 1e6, AST_UNIT_BYTES },	     { "GB", 1e9, AST_UNIT_BYTES },
	{ "KiB", 1024.0, AST_UNIT_BYTES },   { "MiB", 1048576.0, AST_UNIT_BYTES },
	{ "GiB", 1073741824.0, AST_UNIT_BYTES },
};
enum { NSUFFIXES = sizeof suffixes / sizeof suffixes[0] };

const char lang_number_suffixes[] =
	"K, k, M, G, T, %, ns, us, ms, s, B, KB, MB, GB, KiB, MiB, GiB";

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

lang_number_status lang_number_parse(const char *text, size_t len, double *value, ast_unit *unit,
				     int *is_integer, size_t *suffix_at)
{
	size_t i = 0;
	int whole = 1;
	if (i < len && text[i] == '-')
		i++;
	size_t digits = i;
	while (i < len && is_digit(text[i]))
		i++;
	if (i == digits) {
		if (suffix_at)
			*suffix_at = i;
		return LANG_NUMBER_SYNTAX;
	}
	if (i + 1 < len && text[i] == '.' && is_digit(text[i + 1])) {
		whole = 0;
		for (i++; i < len && is_digit(text[i]);)
			i++;
	}
	if (i < len && (text[i] == 'e' || text[i] == 'E')) {
		size_t j = i + 1;
		if (j < len && (text[j] == '+' || text[j] == '-'))
			j++;
		if (j < len && is_digit(text[j])) {
			whole = 0;
			for (i = j; i < len && is_digit(text[i]);)
				i++;
		}
	}
	if (suffix_at)
		*suffix_at = i;
	const suffix *sx = NULL;
	if (i < len) {
		for (int k = 0; k < NSUFFIXES; k++)
			if (strlen(suffixes[k].name) == len - i &&
			    memcmp(suffixes[k].name, text + i, len - i) == 0)
				sx = &suffixes[k];
		if (!sx)
			return LANG_NUMBER_SUFFIX;
	}
	/* strtod needs a terminated string; numbers are short, and a longer one
	 * is copied rather than truncated. */
	char small[64];
	char *buf = i < sizeof small ? small : lang_xmalloc(i + 1);
	memcpy(buf, text, i);
	buf[i] = '\0';
	double v = strtod(buf, NULL);
	if (buf != small)
		free(buf);
	if (isinf(v))
		return LANG_NUMBER_RANGE;
	if (sx)
		v *= sx->scale;
	if (isinf(v))
		return LANG_NUMBER_RANGE;
	if (value)
		*value = v;
	if (unit)
		*unit = sx ? sx->unit : AST_UNIT_NONE;
	if (is_integer)
		*is_integer = whole && v == floor(v);
	return LANG_NUMBER_OK;
}

ast_expr *lang_number_expr(lang_parser *p, const char *text, int len, lang_loc loc)
{
	ast_expr *e = lang_arena_zalloc(p->arena, sizeof *e);
	e->kind = AST_EXPR_NUMBER;
	e->loc = loc;
	e->text = lang_arena_strndup(p->arena, text, (size_t)len);
	size_t at;
	lang_number_status st =
		lang_number_parse(text, (size_t)len, &e->number, &e->unit, &e->is_integer, &at);
	if (st == LANG_NUMBER_SUFFIX) {
		const char *names[NSUFFIXES];
		for (int k = 0; k < NSUFFIXES; k++)
			names[k] = suffixes[k].name;
		char *sfx = lang_xstrndup(text + at, (size_t)len - at);
		/* A one-letter suffix is close to every other one: no guess. */
		const char *best = len - at > 1 ? lang_suggest(sfx, names, NSUFFIXES) : NULL;
		if (best)
			lang_error(p->diags, loc,
				   "invalid suffix '%s' on number '%s'; did you mean '%s'? "
				   "(valid suffixes: %s)",
				   sfx, e->text, best, lang_number_suffixes);
		else
			lang_error(p->diags, loc,
				   "invalid suffix '%s' on number '%s' (valid suffixes: %s)", sfx,
				   e->text, lang_number_suffixes);
		free(sfx);
		/* Keep the number without its suffix so later checks still run. */
		lang_number_parse(text, at, &e->number, &e->unit, &e->is_integer, NULL);
	} else if (st == LANG_NUMBER_RANGE) {
		lang_error(p->diags, loc, "number '%s' is too large", e->text);
		e->number = 0;
	}
	return e;
}
