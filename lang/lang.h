/*
 * lang.h — the `.arch` front end: parse a source into an AST, print it back
 * in canonical layout, and suggest names.  Prefix: lang_.
 *
 * Typical use:
 *
 *     lang_diags d;
 *     lang_diags_init(&d);
 *     ast_file *f = lang_parse(lang_source_read(path), &d);
 *     if (d.nerrors) lang_diags_print(&d, stderr);
 *     ...
 *     ast_file_free(f);      (after the diagnostics that point into it)
 *     lang_diags_free(&d);
 */
#ifndef ARCHD_LANG_LANG_H
#define ARCHD_LANG_LANG_H

#include <stdio.h>

#include "lang/ast.h"
#include "lang/loc.h"

/*
 * Parses src and returns its syntax tree.  Takes ownership of src (it
 * becomes f->src and is freed by ast_file_free); src may be NULL, which
 * gives an empty file.  Never returns NULL: on syntax errors the tree holds
 * every declaration that could be recovered, and each error is appended to
 * diags (check diags->nerrors).  Diagnostics point into the returned file's
 * source, so free the file after printing them.
 */
ast_file *lang_parse(lang_source *src, lang_diags *diags);

/*
 * Writes f in the canonical layout used by `archc fmt`: 4-space indent,
 * one statement per line, one blank line between declarations, imports
 * first, numbers as written, comments kept where they were.  The output
 * parses to the same tree, and formatting it again changes nothing.
 */
void lang_fmt(const ast_file *f, FILE *out);

/*
 * Returns the candidate closest to word by edit distance (insertions,
 * deletions, substitutions and swaps of adjacent letters), or NULL when
 * none is close enough to be a plausible typo: the distance must be at
 * most a third of the word's length, or 1 for short words.  The first of
 * equally close candidates wins; NULL entries are skipped.  The result
 * points into candidates.
 */
const char *lang_suggest(const char *word, const char *const *candidates, int n);

typedef enum lang_number_status {
	LANG_NUMBER_OK,
	LANG_NUMBER_SYNTAX, /* not digits[.digits][e[+-]digits] */
	LANG_NUMBER_SUFFIX, /* unknown suffix, starting at *suffix_at */
	LANG_NUMBER_RANGE   /* too large for a double */
} lang_number_status;

/*
 * Parses text[0..len) the way the language writes a number: an optional
 * '-', digits, an optional fraction and exponent, then an optional suffix
 * ("2M", "1.5ms", "64KiB", "90%").  On LANG_NUMBER_OK sets *value (scaled:
 * 2M -> 2e6, 1.5ms -> 0.0015, 64KiB -> 65536, 90% -> 0.9), *unit and
 * *is_integer (see ast_expr.is_integer).  *suffix_at receives the offset of
 * the suffix (len when there is none) whatever the status.  Any out
 * pointer may be NULL.  The daemon uses this for constraint strings.
 */
lang_number_status lang_number_parse(const char *text, size_t len, double *value, ast_unit *unit,
				     int *is_integer, size_t *suffix_at);

/* The valid suffixes, for messages: "K, k, M, G, T, %, ns, us, ...". */
extern const char lang_number_suffixes[];

/* Edit distance between a and b as lang_suggest counts it (optimal
 * string alignment: a swap of two adjacent letters costs 1). */
int lang_edit_distance(const char *a, const char *b);

#endif
