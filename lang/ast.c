/*
 * ast.c — name tables and destructors for the syntax tree.
 */
#include "lang/ast.h"

#include <assert.h>
#include <stdlib.h>

const char *const ast_op_names[AST_OP_COUNT] = {
	[AST_OP_ASSIGN] = "=", [AST_OP_IN] = "in", [AST_OP_LE] = "<=", [AST_OP_LT] = "<",
	[AST_OP_GE] = ">=",    [AST_OP_GT] = ">",   [AST_OP_EQ] = "==",
};
static_assert(AST_OP_COUNT == 7, "ast_op_names needs updating");

const char *const ast_unit_names[AST_UNIT_COUNT] = {
	[AST_UNIT_NONE] = "none",
	[AST_UNIT_PERCENT] = "percent",
	[AST_UNIT_SECONDS] = "seconds",
	[AST_UNIT_BYTES] = "bytes",
};
static_assert(AST_UNIT_COUNT == 4, "ast_unit_names needs updating");

const char *const ast_decl_kind_names[AST_DECL_COUNT] = {
	[AST_DECL_DATASET] = "dataset", [AST_DECL_SPACE] = "space",
	[AST_DECL_TASK] = "task",       [AST_DECL_OBJECTIVE] = "objective",
	[AST_DECL_TARGET] = "target",
};
static_assert(AST_DECL_COUNT == 5, "ast_decl_kind_names needs updating");

void ast_expr_free(ast_expr *e)
{
	if (!e)
		return;
	free(e->text);
	free(e->string);
	for (int i = 0; i < e->nitems; i++)
		ast_expr_free(e->items[i]);
	free(e->items);
	for (int i = 0; i < e->nargs; i++)
		ast_arg_free(e->args[i]);
	free(e->args);
	ast_expr_free(e->lo);
	ast_expr_free(e->hi);
	ast_expr_free(e->step);
	free(e);
}

void ast_arg_free(ast_arg *a)
{
	if (!a)
		return;
	free(a->name);
	ast_expr_free(a->value);
	free(a);
}

void ast_stmt_free(ast_stmt *s)
{
	if (!s)
		return;
	free(s->key);
	ast_expr_free(s->value);
	for (int i = 0; i < s->nargs; i++)
		ast_arg_free(s->args[i]);
	free(s->args);
	free(s->name);
	for (int i = 0; i < s->nbody; i++)
		ast_stmt_free(s->body[i]);
	free(s->body);
	free(s);
}

void ast_decl_free(ast_decl *d)
{
	if (!d)
		return;
	free(d->name);
	ast_expr_free(d->from);
	for (int i = 0; i < d->nbody; i++)
		ast_stmt_free(d->body[i]);
	free(d->body);
	free(d);
}

void ast_file_free(ast_file *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->nimports; i++)
		free(f->imports[i].path);
	free(f->imports);
	for (int i = 0; i < f->ndecls; i++)
		ast_decl_free(f->decls[i]);
	free(f->decls);
	for (int i = 0; i < f->ncomments; i++)
		free(f->comments[i].text);
	free(f->comments);
	lang_source_free(f->src);
	free(f);
}
