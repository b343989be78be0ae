/*
 * loc.h — sources, locations and diagnostics.  Prefix: lang_.
 *
 * Every message the user sees about a `.arch` file goes through a
 * lang_diags: it is collected (so the daemon can return it as a list) and
 * printed as
 *
 *     FILE:LINE:COL: error: MESSAGE
 *        12 |     stage s1 { depth in 3..1; }
 *           |                         ^~~~
 *     FILE:LINE:COL: note: first defined here
 *     ...
 *
 * Lines and columns are 1-based; a column counts bytes.  last_column is the
 * column of the last character of the range (inclusive).
 */
#ifndef ARCHD_LANG_LOC_H
#define ARCHD_LANG_LOC_H

#include <stddef.h>
#include <stdio.h>

typedef struct lang_source {
	char *name; /* as given by the user (shown in diagnostics) */
	char *text; /* NUL-terminated contents */
	size_t len;
} lang_source;

typedef struct lang_loc {
	const lang_source *src;
	int first_line, first_column;
	int last_line, last_column;
} lang_loc;

/* Reads a file into a new source; returns NULL and sets errno on failure. */
lang_source *lang_source_read(const char *path);
/* A source from memory (copied); name is shown in diagnostics. */
lang_source *lang_source_new(const char *name, const char *text, size_t len);
void lang_source_free(lang_source *s);

typedef enum lang_severity {
	LANG_ERROR,
	LANG_WARNING,
	LANG_NOTE
} lang_severity;

typedef struct lang_diag {
	lang_severity severity;
	lang_loc loc; /* src may be NULL for a message about no location */
	char *message;
} lang_diag;

/* A growing list of diagnostics.  Notes follow the error they explain. */
typedef struct lang_diags {
	int n, cap;
	lang_diag *items;
	int nerrors, nwarnings;
} lang_diags;

void lang_diags_init(lang_diags *d);
void lang_diags_free(lang_diags *d);
/* printf-style; the location is copied (the source must outlive d). */
void lang_error(lang_diags *d, lang_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lang_warning(lang_diags *d, lang_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lang_note(lang_diags *d, lang_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints every diagnostic with its source line and carets. */
void lang_diags_print(const lang_diags *d, FILE *out);

#endif
