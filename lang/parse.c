/*
 * parse.c — lang_parse(): runs the scanner and parser over one source,
 * and the small helpers they share.
 */
#include "lang/lang.h"

#include <stdlib.h>
#include <string.h>

#include "lang/parse.h"
#include "lang/parser.h"
#define YYSTYPE LANG_YYSTYPE
#define YYLTYPE LANG_YYLTYPE
#include "lang/lexer.h"

void *lang_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("archc: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *lang_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("archc: out of memory\n", stderr);
		abort();
	}
	return q;
}

char *lang_xstrndup(const char *s, size_t n)
{
	char *d = lang_xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Doubling keeps building a list of n items O(n). */
#define LIST_PUSH(a, l, x)                                                             \
	do {                                                                           \
		if ((l)->n == (l)->cap) {                                              \
			int cap_ = (l)->cap ? 2 * (l)->cap : 4;                        \
			(l)->v = lang_arena_grow((a), (l)->v, (size_t)(l)->cap * sizeof *(l)->v, \
						 (size_t)cap_ * sizeof *(l)->v);       \
			(l)->cap = cap_;                                               \
		}                                                                      \
		(l)->v[(l)->n++] = (x);                                                \
	} while (0)

void lang_exprs_push(lang_arena *a, lang_exprs *l, ast_expr *e)
{
	LIST_PUSH(a, l, e);
}

void lang_args_push(lang_arena *a, lang_args *l, ast_arg *x)
{
	LIST_PUSH(a, l, x);
}

void lang_stmts_push(lang_arena *a, lang_stmts *l, ast_stmt *s)
{
	LIST_PUSH(a, l, s);
}

void lang_comment_add(lang_parser *p, const char *text, int len, lang_loc loc)
{
	/* The text is a C string: a NUL byte ends it, and the blanks before. */
	const char *nul = memchr(text, '\0', (size_t)len);
	if (nul)
		len = (int)(nul - text);
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\r' ||
			   text[len - 1] == '\f' || text[len - 1] == '\v'))
		len--;
	ast_file *f = p->file;
	if (f->ncomments == p->comments_cap) {
		p->comments_cap = p->comments_cap ? 2 * p->comments_cap : 8;
		f->comments = lang_xrealloc(f->comments, (size_t)p->comments_cap * sizeof *f->comments);
	}
	loc.last_column = loc.first_column + len - 1;
	/* The parser takes one token per scan, so p->cur is the last token
	 * before this comment. */
	int own_line = !(p->cur.kind && p->cur.loc.last_line == loc.first_line);
	f->comments[f->ncomments++] = (ast_comment){
		.text = lang_arena_strndup(p->arena, text, (size_t)len), .loc = loc, .own_line = own_line
	};
}

/*
 * A '{' opens a set where a value may start (after an operator, ',', '(',
 * another set's '{', '..', 'step' or 'shared') and a block anywhere else
 * (after a declaration's or block's name or key, or after a `from`
 * value).  The grammar never needs to look further to tell them apart.
 */
int lang_brace_open(lang_parser *p, lang_loc loc)
{
	int set;
	switch (p->cur.kind) {
	case '=':
	case '<':
	case '>':
	case ',':
	case '(':
	case TOK_IN:
	case TOK_LE:
	case TOK_GE:
	case TOK_EQ:
	case TOK_SET_OPEN:
	case TOK_DOTDOT:
	case TOK_STEP:
	case TOK_SHARED:
		set = 1;
		break;
	default:
		set = 0;
	}
	if (p->nbraces == p->braces_cap) {
		p->braces_cap = p->braces_cap ? 2 * p->braces_cap : 16;
		p->braces = lang_xrealloc(p->braces, (size_t)p->braces_cap * sizeof *p->braces);
	}
	p->braces[p->nbraces++] = (lang_brace){ .loc = loc, .set = set };
	return set ? TOK_SET_OPEN : '{';
}

int lang_brace_close(lang_parser *p)
{
	if (p->nbraces == 0) {
		p->stray_close = 1;
		return '}';
	}
	return p->braces[--p->nbraces].set ? TOK_SET_CLOSE : '}';
}

void lang_semicolon(lang_parser *p)
{
	while (p->nbraces > 0 && p->braces[p->nbraces - 1].set)
		p->nbraces--;
}

/*
 * Bytes a text file does not hold, each reported once at its first place:
 * a NUL (strings and comments would end there, silently dropping the rest)
 * and a carriage return not followed by a newline (old Mac line endings,
 * which would make a comment run to the end of the file).
 */
static void check_bytes(const lang_source *src, lang_diags *diags)
{
	int line = 1, col = 1, nul = 0, cr = 0;
	for (size_t i = 0; i < src->len && !(nul && cr); i++) {
		char c = src->text[i];
		lang_loc at = {src, line, col, line, col + 1};
		if (c == '\0' && !nul++)
			lang_error(diags, at, "a NUL byte (0x00): .arch files are text");
		if (c == '\r' && (i + 1 == src->len || src->text[i + 1] != '\n') && !cr++)
			lang_error(diags, at, "a carriage return without a newline after it (old Mac line "
				   "endings): lines must end with \\n or \\r\\n");
		if (c == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
}

ast_file *lang_parse(lang_source *src, lang_diags *diags)
{
	ast_file *f = lang_xmalloc(sizeof *f);
	memset(f, 0, sizeof *f);
	f->src = src ? src : lang_source_new("<empty>", "", 0);
	f->arena = lang_arena_new();
	lang_parser p = { .file = f, .arena = f->arena, .diags = diags, .line = 1, .column = 1 };
	check_bytes(f->src, diags);
	yyscan_t scanner;
	if (lang_scan_lex_init_extra(&p, &scanner) != 0) {
		fputs("archc: out of memory\n", stderr);
		abort();
	}
	lang_scan__scan_bytes(f->src->text, (int)f->src->len, scanner);
	lang_yyparse(scanner, &p);
	lang_scan_lex_destroy(scanner);
	free(p.braces);
	return f;
}
