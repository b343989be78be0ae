/*
 * fmt.c — the canonical layout printed by `archc fmt`.
 *
 * The tree is printed in source order with comments put back: a comment
 * alone on its line goes on its own line before the statement or
 * declaration that follows it (comments inside a statement that spans
 * lines move above it), and a comment after code stays at the end of the
 * line of the statement, block header or closing brace it followed.  One
 * blank line of the source between statements is kept, more are merged.
 */
#include "lang/lang.h"

#include <limits.h>
#include <string.h>

typedef struct fmt {
	FILE *out;
	const ast_file *f;
	int ci;        /* first comment not printed yet */
	int last_line; /* source line of the last thing printed; 0 at the top */
	int fresh;     /* just after '{' or a blank line: no blank line needed */
} fmt;

static void indent(fmt *F, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("    ", F->out);
}

/* A blank line where the source had one, unless one is not wanted. */
static void gap(fmt *F, int line)
{
	if (!F->fresh && F->last_line && line > F->last_line + 1)
		fputc('\n', F->out);
	F->fresh = 0;
}

static const ast_comment *next_comment(const fmt *F)
{
	return F->ci < F->f->ncomments ? &F->f->comments[F->ci] : NULL;
}

/* Prints, each on its own line, the comments that start before line. */
static void comments_before(fmt *F, int line, int depth)
{
	const ast_comment *c;
	while ((c = next_comment(F)) && c->loc.first_line < line) {
		gap(F, c->loc.first_line);
		indent(F, depth);
		fputs(c->text, F->out);
		fputc('\n', F->out);
		F->last_line = c->loc.first_line;
		F->ci++;
	}
}

/* Appends the comment that follows code on `line`, if there is one and it
 * does not lie beyond (after_line, after_col), which belongs to an
 * enclosing closing brace. */
static void trailing(fmt *F, int line, int after_line, int after_col)
{
	const ast_comment *c = next_comment(F);
	if (!c || c->own_line || c->loc.first_line != line)
		return;
	if (after_line == line && c->loc.first_column > after_col)
		return;
	fputs("  ", F->out);
	fputs(c->text, F->out);
	F->ci++;
}

/* A string literal with exactly the escapes the lexer decodes (unescape in
 * lexer.l), so that the output parses back to s; any other byte the
 * lexer takes as it is.  The IR dump quotes with more escapes (docs/ir.md),
 * which this language does not read. */
static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		switch (*s) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			fputc(*s, out);
		}
	}
	fputc('"', out);
}

static void put_expr(FILE *out, const ast_expr *e);

static void put_args(FILE *out, int n, ast_arg *const *args)
{
	for (int i = 0; i < n; i++) {
		const ast_arg *a = args[i];
		if (i)
			fputs(", ", out);
		if (a->shared)
			fputs("shared ", out);
		if (a->name)
			fprintf(out, "%s %s ", a->name, ast_op_names[a->op]);
		put_expr(out, a->value);
	}
}

static void put_expr(FILE *out, const ast_expr *e)
{
	switch (e->kind) {
	case AST_EXPR_NUMBER:
		fputs(e->text, out);
		break;
	case AST_EXPR_STRING:
		put_string(out, e->string);
		break;
	case AST_EXPR_BOOL:
		fputs(e->boolean ? "true" : "false", out);
		break;
	case AST_EXPR_IDENT:
		fputs(e->string, out);
		break;
	case AST_EXPR_SET:
		fputc('{', out);
		for (int i = 0; i < e->nitems; i++) {
			if (i)
				fputs(", ", out);
			put_expr(out, e->items[i]);
		}
		fputc('}', out);
		break;
	case AST_EXPR_RANGE:
		put_expr(out, e->lo);
		fputs("..", out);
		put_expr(out, e->hi);
		if (e->step) {
			fputs(" step ", out);
			put_expr(out, e->step);
		}
		break;
	case AST_EXPR_CALL:
		fprintf(out, "%s(", e->string);
		put_args(out, e->nargs, e->args);
		fputc(')', out);
		break;
	case AST_EXPR_WHERE:
		put_expr(out, e->lo);
		fprintf(out, " where %s %s ", e->string, ast_op_names[e->op]);
		put_expr(out, e->hi);
		break;
	case AST_EXPR_COUNT:
		break;
	}
}

static void put_stmt(fmt *F, const ast_stmt *s, const ast_stmt *next, lang_loc parent, int depth);

/*
 * Prints `{`, the body and `}` for a block whose header is already out.
 * loc is the whole block (it ends at its '}'); next is the statement that
 * follows it in the enclosing body, if any.
 */
static void put_body(fmt *F, int n, ast_stmt *const *body, lang_loc loc, int depth)
{
	int first = n ? body[0]->loc.first_line : loc.last_line;
	const ast_comment *c = next_comment(F);
	int inner_comment = c && c->loc.first_line < loc.last_line;
	if (n == 0 && !inner_comment) {
		fputs(" {}", F->out);
		return;
	}
	fputs(" {", F->out);
	/* A comment after the '{' and before the first statement's line. */
	c = next_comment(F);
	if (c && !c->own_line && c->loc.first_line < first) {
		fputs("  ", F->out);
		fputs(c->text, F->out);
		F->ci++;
	}
	fputc('\n', F->out);
	F->fresh = 1;
	for (int i = 0; i < n; i++)
		put_stmt(F, body[i], i + 1 < n ? body[i + 1] : NULL, loc, depth + 1);
	comments_before(F, loc.last_line, depth + 1);
	indent(F, depth);
	fputc('}', F->out);
	F->last_line = loc.last_line;
}

static void put_stmt(fmt *F, const ast_stmt *s, const ast_stmt *next, lang_loc parent, int depth)
{
	/* A trailing comment belongs to the last statement on its line. */
	int share_line = next && next->loc.first_line == s->loc.last_line;
	FILE *out = F->out;
	if (s->kind == AST_STMT_BLOCK) {
		comments_before(F, s->key_loc.first_line, depth);
		gap(F, s->loc.first_line);
		indent(F, depth);
		fputs(s->key, out);
		if (s->name)
			fprintf(out, " %s", s->name);
		F->last_line = s->key_loc.first_line;
		put_body(F, s->nbody, s->body, s->loc, depth);
	} else {
		comments_before(F, s->loc.last_line, depth);
		gap(F, s->loc.first_line);
		indent(F, depth);
		switch (s->kind) {
		case AST_STMT_PROP:
			fprintf(out, "%s%s %s ", s->shared ? "shared " : "", s->key, ast_op_names[s->op]);
			put_expr(out, s->value);
			break;
		case AST_STMT_GOAL:
			fprintf(out, "%s %s", s->maximize ? "maximize" : "minimize", s->key);
			break;
		case AST_STMT_CLAUSE:
			fprintf(out, "%s ", s->key);
			put_args(out, s->nargs, s->args);
			break;
		default:
			break;
		}
		fputc(';', out);
	}
	if (!share_line)
		trailing(F, s->loc.last_line, parent.last_line, parent.last_column);
	fputc('\n', out);
	F->last_line = s->loc.last_line;
}

static void put_decl(fmt *F, const ast_decl *d)
{
	FILE *out = F->out;
	comments_before(F, d->kind_loc.first_line, 0);
	gap(F, d->loc.first_line);
	fprintf(out, "%s %s", ast_decl_kind_names[d->kind], d->name);
	if (d->from) {
		fputs(" from ", out);
		put_expr(out, d->from);
	}
	F->last_line = d->kind_loc.first_line;
	put_body(F, d->nbody, d->body, d->loc, 0);
	trailing(F, d->loc.last_line, 0, 0);
	fputc('\n', out);
	F->last_line = d->loc.last_line;
}

void lang_fmt(const ast_file *f, FILE *out)
{
	fmt F = { .out = out, .f = f, .fresh = 1 };
	int first_decl = f->ndecls ? f->decls[0]->loc.first_line : INT_MAX;
	for (int i = 0; i < f->nimports; i++) {
		const ast_import *im = &f->imports[i];
		/* An import written after a declaration moves up alone; its
		 * comments stay where they were. */
		int in_order = im->loc.first_line < first_decl;
		if (in_order)
			comments_before(&F, im->loc.first_line, 0);
		gap(&F, im->loc.first_line);
		fputs("import ", out);
		put_string(out, im->path);
		fputc(';', out);
		if (in_order)
			trailing(&F, im->loc.last_line, 0, 0);
		fputc('\n', out);
		if (in_order)
			F.last_line = im->loc.last_line;
	}
	for (int i = 0; i < f->ndecls; i++) {
		if (i || f->nimports) {
			fputc('\n', out);
			F.fresh = 1;
		}
		put_decl(&F, f->decls[i]);
	}
	if (f->ndecls || f->nimports)
		F.fresh = 0;
	comments_before(&F, INT_MAX, 0);
}
