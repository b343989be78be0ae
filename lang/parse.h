/*
 * parse.h — state shared by the scanner (lexer.l) and the parser
 * (parser.y) while one source is parsed.  Private to lang/.  Prefix: lang_.
 */
#ifndef ARCHD_LANG_PARSE_H
#define ARCHD_LANG_PARSE_H

#include <stddef.h>

#include "lang/ast.h"
#include "lang/loc.h"

/* One token as the parser saw it, for messages about "the previous token". */
typedef struct lang_tok {
	lang_loc loc;
	size_t off; /* byte offset of the lexeme in the source */
	int len;
	int kind;   /* bison token kind; 0 before the first token */
} lang_tok;

typedef struct lang_parser {
	ast_file *file; /* being built; owns the source and the arena */
	lang_arena *arena; /* file->arena */
	lang_diags *diags;
	int imports_cap, decls_cap, comments_cap;

	/* Scanner position: where the next lexeme starts. */
	int line, column;
	size_t off;
	/* The lexeme just matched (set before every scanner action). */
	size_t tok_off;
	int tok_len;

	/* The last two tokens handed to the parser: cur is the lookahead at a
	 * syntax error, prev the one before it. */
	lang_tok cur, prev;

	/* The '{' not yet closed, innermost last. */
	struct lang_brace *braces;
	int nbraces, braces_cap;
	int stray_close; /* cur is a '}' that closed nothing */
	int bad_string_line; /* the line of the last unterminated string */
	const void *where_refused; /* the filter a second 'where' was refused on */
} lang_parser;

/* The arena (arena.c): everything lives until lang_arena_free. */
lang_arena *lang_arena_new(void);
void lang_arena_free(lang_arena *a);
void *lang_arena_alloc(lang_arena *a, size_t n);
void *lang_arena_zalloc(lang_arena *a, size_t n);
char *lang_arena_strndup(lang_arena *a, const char *s, size_t n);
/* A larger copy of old (the first old_size bytes kept). */
void *lang_arena_grow(lang_arena *a, void *old, size_t old_size, size_t new_size);

/* Lists under construction, in the arena: the node that ends a list takes
 * its array. */
typedef struct lang_exprs {
	ast_expr **v;
	int n, cap;
} lang_exprs;
typedef struct lang_args {
	ast_arg **v;
	int n, cap;
} lang_args;
typedef struct lang_stmts {
	ast_stmt **v;
	int n, cap;
} lang_stmts;

void lang_exprs_push(lang_arena *a, lang_exprs *l, ast_expr *e);
void lang_args_push(lang_arena *a, lang_args *l, ast_arg *x);
void lang_stmts_push(lang_arena *a, lang_stmts *l, ast_stmt *s);

typedef struct lang_brace {
	lang_loc loc;
	int set; /* a set's brace, not a block's */
} lang_brace;

/* Scanner helpers (lexer.l). */
void lang_comment_add(lang_parser *p, const char *text, int len, lang_loc loc);
/* Each returns the token for the brace: '{' / '}' for a block, or
 * TOK_SET_OPEN / TOK_SET_CLOSE for a set. */
int lang_brace_open(lang_parser *p, lang_loc loc);
int lang_brace_close(lang_parser *p);
/* A ';' ends every set still open in the statement. */
void lang_semicolon(lang_parser *p);

/* Heap allocation that aborts on out-of-memory, as the compiler may. */
void *lang_xmalloc(size_t n);
void *lang_xrealloc(void *p, size_t n);
char *lang_xstrndup(const char *s, size_t n);

/*
 * Builds the NUMBER node for the lexeme text[0..len) at loc, reporting a
 * bad suffix or an out-of-range value to p->diags (the node is still
 * returned, with the suffix ignored, so that parsing goes on).
 */
ast_expr *lang_number_expr(lang_parser *p, const char *text, int len, lang_loc loc);

#endif
