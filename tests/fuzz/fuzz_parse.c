/*
 * fuzz_parse.c — libFuzzer target for the `.arch` front end (tests/fuzz/run
 * builds it).
 *
 * Any bytes must parse to a tree (possibly partial) with diagnostics that
 * print, and format without crashing.  When the input has no errors, the
 * formatted text must parse without errors too and format to itself:
 * `archc fmt` is idempotent and never breaks a valid file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Formats f into a new buffer; *len gets its length. */
static char *format(const ast_file *f, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);
	if (!m)
		abort();
	lang_fmt(f, m);
	fclose(m);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	lang_diags d;
	lang_diags_init(&d);
	ast_file *f = lang_parse(lang_source_new("fuzz.arch", (const char *)data, size), &d);
	lang_diags_print(&d, devnull);
	size_t len1;
	char *once = format(f, &len1);
	int clean = d.nerrors == 0;
	ast_file_free(f);
	lang_diags_free(&d);

	if (clean) {
		lang_diags_init(&d);
		ast_file *g = lang_parse(lang_source_new("fmt.arch", once, len1), &d);
		if (d.nerrors)
			abort(); /* fmt turned a valid file into an invalid one */
		size_t len2;
		char *twice = format(g, &len2);
		if (len1 != len2 || memcmp(once, twice, len1) != 0)
			abort(); /* fmt is not idempotent */
		free(twice);
		ast_file_free(g);
		lang_diags_free(&d);
	}
	free(once);
	return 0;
}
