/*
 * ast.c — name tables for the syntax tree, and freeing it.
 */
#include "lang/ast.h"

#include <assert.h>
#include <stdlib.h>

#include "lang/parse.h"

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
	[AST_DECL_TARGET] = "target",   [AST_DECL_RECIPE] = "recipe",
};
static_assert(AST_DECL_COUNT == 6, "ast_decl_kind_names needs updating");

void ast_file_free(ast_file *f)
{
	if (!f)
		return;
	free(f->imports);
	free(f->decls);
	free(f->comments);
	lang_arena_free(f->arena);
	lang_source_free(f->src);
	free(f);
}
