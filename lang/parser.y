/*
 * parser.y — the grammar of `.arch` files (see lang/ast.h for its shape).
 *
 * A pure parser over the reentrant scanner in lexer.l.  Syntax errors are
 * reported by yyreport_syntax_error (parse_error.c words them) and the
 * `error` rules resynchronise at the next ';' or '}', so one run reports
 * every independent mistake.
 */
%code requires {
#include "lang/parse.h"
#ifndef ARCHD_YYSCAN_T
#define ARCHD_YYSCAN_T
typedef void *yyscan_t;
#endif
}

%code provides {
int lang_yyparse(yyscan_t scanner, lang_parser *p);
}

%code {
#include <stdlib.h>
#include <string.h>

#define YYSTYPE LANG_YYSTYPE
#define YYLTYPE LANG_YYLTYPE
/* The scanner's header names its yylex after its own prefix, and undefines
 * the macro at its end: bison's yylex is lang_yylex below. */
#undef yylex
#include "lang/lexer.h"
#define yylex lang_yylex
#include "lang/parse_error.h"

/* Deeper nesting than this is surely not a hand-written file; the bound
 * also keeps the recursive walks over the tree shallow. */
#define YYMAXDEPTH 3000

/* The range of a rule runs from its first to its last symbol; an empty
 * rule sits where the previous symbol ended. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                         \
	do {                                                                \
		if (N) {                                                    \
			(Cur) = YYRHSLOC(Rhs, 1);                           \
			(Cur).last_line = YYRHSLOC(Rhs, N).last_line;       \
			(Cur).last_column = YYRHSLOC(Rhs, N).last_column;   \
		} else {                                                    \
			(Cur) = YYRHSLOC(Rhs, 0);                           \
			(Cur).first_line = (Cur).last_line;                 \
			(Cur).first_column = (Cur).last_column;             \
		}                                                           \
	} while (0)

static int lang_yylex(LANG_YYSTYPE *lval, lang_loc *lloc, yyscan_t scanner);
static void lang_yyerror(lang_loc *loc, yyscan_t scanner, lang_parser *p, const char *msg);

static ast_expr *expr_new(lang_parser *p, ast_expr_kind kind, lang_loc loc)
{
	ast_expr *e = lang_arena_zalloc(p->arena, sizeof *e);
	e->kind = kind;
	e->loc = loc;
	return e;
}

static ast_stmt *stmt_new(lang_parser *p, ast_stmt_kind kind, lang_loc loc, char *key,
			  lang_loc key_loc)
{
	ast_stmt *s = lang_arena_zalloc(p->arena, sizeof *s);
	s->kind = kind;
	s->loc = loc;
	s->key = key;
	s->key_loc = key_loc;
	return s;
}

static ast_arg *arg_new(lang_parser *p, lang_loc loc, int shared, char *name, lang_loc name_loc,
			ast_op op, ast_expr *value)
{
	ast_arg *a = lang_arena_zalloc(p->arena, sizeof *a);
	a->loc = loc;
	a->shared = shared;
	a->name = name;
	a->name_loc = name_loc;
	a->op = op;
	a->value = value;
	return a;
}

static ast_expr *range_new(lang_parser *p, lang_loc loc, ast_expr *lo, ast_expr *hi,
			   ast_expr *step)
{
	ast_expr *e = expr_new(p, AST_EXPR_RANGE, loc);
	e->lo = lo;
	e->hi = hi;
	e->step = step;
	return e;
}

/* base "where" field op rhs; a filter of a filter is refused at its
 * 'where' (at_where), once for a chain of them, and not built: the tree
 * would grow with each one, and every later pass recurse as deep. */
static ast_expr *where_new(lang_parser *p, lang_loc loc, lang_loc at_where, ast_expr *base,
			   char *field, int op, ast_expr *rhs)
{
	if (base->kind == AST_EXPR_WHERE) {
		if (p->where_refused != base)
			lang_error(p->diags, at_where, "a second 'where': one filter per dataset "
				   "(declare the filtered one, then filter it: dataset d2 from d where ...)");
		p->where_refused = base;
		return base;
	}
	ast_expr *e = expr_new(p, AST_EXPR_WHERE, loc);
	e->lo = base;
	e->string = field;
	e->op = (ast_op)op;
	e->hi = rhs;
	return e;
}

static char *kwdup(lang_parser *p, const char *s)
{
	return lang_arena_strndup(p->arena, s, strlen(s));
}

static void add_import(lang_parser *p, char *path, lang_loc loc)
{
	ast_file *f = p->file;
	if (f->nimports == p->imports_cap) {
		p->imports_cap = p->imports_cap ? 2 * p->imports_cap : 4;
		f->imports = lang_xrealloc(f->imports, (size_t)p->imports_cap * sizeof *f->imports);
	}
	f->imports[f->nimports++] = (ast_import){ .path = path, .loc = loc };
}

static void add_decl(lang_parser *p, ast_decl *d)
{
	ast_file *f = p->file;
	if (f->ndecls == p->decls_cap) {
		p->decls_cap = p->decls_cap ? 2 * p->decls_cap : 8;
		f->decls = lang_xrealloc(f->decls, (size_t)p->decls_cap * sizeof *f->decls);
	}
	f->decls[f->ndecls++] = d;
}
}

%define api.pure full
%define api.prefix {lang_yy}
%define api.token.prefix {TOK_}
%define api.location.type {lang_loc}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner} {lang_parser *p}

%initial-action {
	@$ = (lang_loc){ .src = p->file->src, .first_line = 1, .first_column = 0,
			 .last_line = 1, .last_column = 0 };
}

%union {
	char *str;
	ast_expr *expr;
	ast_arg *arg;
	ast_stmt *stmt;
	ast_decl *decl;
	lang_exprs exprs;
	lang_args args;
	lang_stmts stmts;
	int num;
}

%token <str> IDENT "name" STRING "string"
%token <expr> NUMBER "number"
%token IMPORT "import" DATASET "dataset" SPACE "space" TASK "task"
%token OBJECTIVE "objective" TARGET "target" RECIPE "recipe" FROM "from" WHERE "where"
%token IN "in" SHARED "shared" STEP "step" MAXIMIZE "maximize"
%token MINIMIZE "minimize" TRUE "true" FALSE "false"
%token LE "<=" GE ">=" EQ "==" DOTDOT ".."
/* The scanner tells a set's braces from a block's (see lang_brace_open):
 * '{' and '}' are a block's, these a set's.  Error recovery then stops
 * only at a block's '}', never inside a value. */
%token SET_OPEN "{" SET_CLOSE "}"

%type <str> key argname
%type <num> op declkind
%type <expr> expr value atom from_opt
%type <exprs> exprs
%type <arg> arg
%type <args> args
%type <stmt> stmt
%type <stmts> stmts body
%type <decl> decl

/* No %destructor: every string, node and list a semantic value points to
 * is in the file's arena, so a value that error recovery throws away is
 * freed with the tree by ast_file_free() and nothing leaks. */

%%

file:
	%empty
|	file top
;

top:
	"import" STRING ';'	{ add_import(p, $2, @2); }
|	decl			{ add_decl(p, $1); }
	/* `datset x { ... }`: say what was probably meant, then read the
	 * body as usual so that the errors inside it are found too. */
|	IDENT IDENT from_opt body
	{
		/* The name, `from` and body are dropped (they stay in the arena). */
		(void)$2;
		(void)$3;
		(void)$4;
		lang_unknown_decl(p, $1, @1);
	}
|	error ';'
|	error '}'
;

decl:
	declkind IDENT from_opt body
	{
		$$ = lang_arena_alloc(p->arena, sizeof *$$);
		*$$ = (ast_decl){ .kind = (ast_decl_kind)$1, .loc = @$, .kind_loc = @1,
				  .name = $2, .name_loc = @2, .from = $3,
				  .nbody = $4.n, .body = $4.v };
	}
;

declkind:
	"dataset"	{ $$ = AST_DECL_DATASET; }
|	"space"		{ $$ = AST_DECL_SPACE; }
|	"task"		{ $$ = AST_DECL_TASK; }
|	"objective"	{ $$ = AST_DECL_OBJECTIVE; }
|	"target"	{ $$ = AST_DECL_TARGET; }
|	"recipe"	{ $$ = AST_DECL_RECIPE; }
;

from_opt:
	%empty		{ $$ = NULL; }
|	"from" expr	{ $$ = $2; }
;

body:
	'{' stmts '}'		{ $$ = $2; }
|	'{' stmts error '}'	{ $$ = $2; }
;

/* After an error, skip to the end of the statement; a block met on the
 * way (`a = 1` with no ';', then `stage s {...}`) is read and dropped, so
 * its '}' does not close the enclosing block. */
stmts:
	%empty			{ $$ = (lang_stmts){ 0 }; }
|	stmts stmt		{ $$ = $1; lang_stmts_push(p->arena, &$$, $2); }
|	stmts error ';'		{ $$ = $1; }
|	stmts error body	{ $$ = $1; (void)$3; }
;

/* A key names what a statement sets; a task says `space = mbnet;` and
 * `from = fashion;`, so the declaration keywords may be keys too. */
key:
	IDENT		{ $$ = $1; }
|	"dataset"	{ $$ = kwdup(p, "dataset"); }
|	"space"		{ $$ = kwdup(p, "space"); }
|	"task"		{ $$ = kwdup(p, "task"); }
|	"objective"	{ $$ = kwdup(p, "objective"); }
|	"target"	{ $$ = kwdup(p, "target"); }
|	"recipe"	{ $$ = kwdup(p, "recipe"); }
|	"from"		{ $$ = kwdup(p, "from"); }
;

stmt:
	key op expr ';'
	{
		$$ = stmt_new(p, AST_STMT_PROP, @$, $1, @1);
		$$->op = (ast_op)$2;
		$$->value = $3;
	}
|	"shared" key op expr ';'
	{
		$$ = stmt_new(p, AST_STMT_PROP, @$, $2, @2);
		$$->shared = 1;
		$$->op = (ast_op)$3;
		$$->value = $4;
	}
|	"maximize" key ';'
	{
		$$ = stmt_new(p, AST_STMT_GOAL, @$, $2, @2);
		$$->maximize = 1;
	}
|	"minimize" key ';'
	{
		$$ = stmt_new(p, AST_STMT_GOAL, @$, $2, @2);
	}
|	key args ';'
	{
		$$ = stmt_new(p, AST_STMT_CLAUSE, @$, $1, @1);
		$$->nargs = $2.n;
		$$->args = $2.v;
	}
|	key body
	{
		$$ = stmt_new(p, AST_STMT_BLOCK, @$, $1, @1);
		$$->nbody = $2.n;
		$$->body = $2.v;
	}
|	key IDENT body
	{
		$$ = stmt_new(p, AST_STMT_BLOCK, @$, $1, @1);
		$$->name = $2;
		$$->name_loc = @2;
		$$->nbody = $3.n;
		$$->body = $3.v;
	}
;

op:
	'='	{ $$ = AST_OP_ASSIGN; }
|	"in"	{ $$ = AST_OP_IN; }
|	"<="	{ $$ = AST_OP_LE; }
|	'<'	{ $$ = AST_OP_LT; }
|	">="	{ $$ = AST_OP_GE; }
|	'>'	{ $$ = AST_OP_GT; }
|	"=="	{ $$ = AST_OP_EQ; }
;

args:
	arg		{ $$ = (lang_args){ 0 }; lang_args_push(p->arena, &$$, $1); }
|	args ',' arg	{ $$ = $1; lang_args_push(p->arena, &$$, $3); }
;

argname:
	key
;

arg:
	expr				{ $$ = arg_new(p, @$, 0, NULL, @$, AST_OP_ASSIGN, $1); }
|	"shared" expr			{ $$ = arg_new(p, @$, 1, NULL, @$, AST_OP_ASSIGN, $2); }
|	argname op expr			{ $$ = arg_new(p, @$, 0, $1, @1, (ast_op)$2, $3); }
|	"shared" argname op expr	{ $$ = arg_new(p, @$, 1, $2, @2, (ast_op)$3, $4); }
;

expr:
	value
|	expr "where" IDENT op value	{ $$ = where_new(p, @$, @2, $1, $3, $4, $5); }
;

value:
	atom
|	atom ".." atom			{ $$ = range_new(p, @$, $1, $3, NULL); }
|	atom ".." atom "step" atom	{ $$ = range_new(p, @$, $1, $3, $5); }
;

atom:
	NUMBER		{ $$ = $1; }
|	STRING		{ $$ = expr_new(p, AST_EXPR_STRING, @$); $$->string = $1; }
|	"true"		{ $$ = expr_new(p, AST_EXPR_BOOL, @$); $$->boolean = 1; }
|	"false"		{ $$ = expr_new(p, AST_EXPR_BOOL, @$); }
|	IDENT		{ $$ = expr_new(p, AST_EXPR_IDENT, @$); $$->string = $1; }
|	IDENT '(' ')'	{ $$ = expr_new(p, AST_EXPR_CALL, @$); $$->string = $1; }
|	IDENT '(' args ')'
	{
		$$ = expr_new(p, AST_EXPR_CALL, @$);
		$$->string = $1;
		$$->nargs = $3.n;
		$$->args = $3.v;
	}
|	"{" "}"		{ $$ = expr_new(p, AST_EXPR_SET, @$); }
|	"{" exprs "}"
	{
		$$ = expr_new(p, AST_EXPR_SET, @$);
		$$->nitems = $2.n;
		$$->items = $2.v;
	}
;

exprs:
	expr		{ $$ = (lang_exprs){ 0 }; lang_exprs_push(p->arena, &$$, $1); }
|	exprs ',' expr	{ $$ = $1; lang_exprs_push(p->arena, &$$, $3); }
;

%%

/* Hands the parser the next token and remembers the last two, which the
 * error messages talk about ("expected ';' after '8'"). */
static int lang_yylex(LANG_YYSTYPE *lval, lang_loc *lloc, yyscan_t scanner)
{
	lang_parser *p = lang_scan_get_extra(scanner);
	p->stray_close = 0;
	int kind = lang_scan_lex(lval, lloc, scanner);
	p->prev = p->cur;
	p->cur = (lang_tok){ .loc = *lloc, .off = p->tok_off, .len = p->tok_len, .kind = kind };
	return kind;
}

/* Only reached when the parser stack overflows. */
static void lang_yyerror(lang_loc *loc, yyscan_t scanner, lang_parser *p, const char *msg)
{
	(void)scanner;
	(void)msg;
	lang_error(p->diags, *loc, "nesting is too deep (more than %d levels)", YYMAXDEPTH / 3);
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, lang_parser *p)
{
	(void)scanner;
	enum { MAX = 64 };
	yysymbol_kind_t exp[MAX];
	int n = yypcontext_expected_tokens(ctx, exp, MAX);
	if (n < 0)
		n = 0;
	const char *names[MAX];
	for (int i = 0; i < n; i++)
		names[i] = yysymbol_name(exp[i]);
	lang_syntax_error(p, names, n);
	return 0;
}
