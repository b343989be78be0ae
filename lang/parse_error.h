/*
 * parse_error.h — wording of syntax errors.  Private to lang/.
 */
#ifndef ARCHD_LANG_PARSE_ERROR_H
#define ARCHD_LANG_PARSE_ERROR_H

#include "lang/parse.h"

/*
 * Reports a syntax error at the parser's lookahead (p->cur).  expected
 * holds bison's names of the n tokens that could have come instead
 * ("';'", "\"number\"", ...).
 */
void lang_syntax_error(lang_parser *p, const char *const *expected, int n);

/* Reports `word` used where a declaration keyword belongs, with a guess. */
void lang_unknown_decl(lang_parser *p, const char *word, lang_loc loc);

#endif
