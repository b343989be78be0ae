/*
 * ast.h — the syntax tree of one `.arch` file.  Prefix: ast_.
 *
 * The grammar is uniform: a file is imports then declarations
 * `KIND NAME [from EXPR] { STMT... }`, and a statement is one of
 *
 *     [shared] KEY OP EXPR;        OP is = in <= < >= > ==   (AST_STMT_PROP)
 *     maximize KEY; minimize KEY;                             (AST_STMT_GOAL)
 *     KEY ARG, ARG, ...;           e.g. stem conv(...); head pool, fc(classes);
 *                                  input channels = 1;         (AST_STMT_CLAUSE)
 *     KEY [NAME] { STMT... }       e.g. stage s1 { ... }  train { ... }
 *                                                              (AST_STMT_BLOCK)
 *
 * and an ARG (of a clause or a call) is `[shared] [NAME OP] EXPR`.
 * Meaning is given by the compiler, not here: the parser accepts any key.
 *
 * Ownership: an ast_file owns every node reachable from it (they live in
 * its arena, so nodes are not freed or resized one by one);
 * ast_file_free() releases the tree.  Locations point into ast_file.src.
 */
#ifndef ARCHD_LANG_AST_H
#define ARCHD_LANG_AST_H

#include "lang/loc.h"

typedef struct lang_arena lang_arena;

typedef enum ast_op {
	AST_OP_ASSIGN, /* =  */
	AST_OP_IN,     /* in */
	AST_OP_LE,     /* <= */
	AST_OP_LT,     /* <  */
	AST_OP_GE,     /* >= */
	AST_OP_GT,     /* >  */
	AST_OP_EQ,     /* == */
	AST_OP_COUNT
} ast_op;

/* "=", "in", "<=", ... as written. */
extern const char *const ast_op_names[AST_OP_COUNT];

/* The unit a number was written with; the value is already scaled to it. */
typedef enum ast_unit {
	AST_UNIT_NONE,    /* 3, 2M (=2e6), 50K, 1.5G */
	AST_UNIT_PERCENT, /* 90% -> 0.9 */
	AST_UNIT_SECONDS, /* 1.5ms -> 0.0015, 200us, 1s */
	AST_UNIT_BYTES,   /* 64KiB -> 65536, 1MB -> 1e6, 512B */
	AST_UNIT_COUNT
} ast_unit;

/* "none", "percent", "seconds", "bytes": for messages. */
extern const char *const ast_unit_names[AST_UNIT_COUNT];

typedef enum ast_expr_kind {
	AST_EXPR_NUMBER,
	AST_EXPR_STRING,
	AST_EXPR_BOOL,
	AST_EXPR_IDENT,
	AST_EXPR_SET,   /* { e, e, ... } (possibly empty) */
	AST_EXPR_RANGE, /* lo .. hi [step s] */
	AST_EXPR_CALL,  /* name(arg, ...) */
	AST_EXPR_WHERE, /* base where FIELD OP rhs, e.g. d where label in {5, 7} */
	AST_EXPR_COUNT
} ast_expr_kind;

typedef struct ast_expr ast_expr;
typedef struct ast_arg ast_arg;
typedef struct ast_stmt ast_stmt;

struct ast_arg {
	lang_loc loc;      /* the whole argument */
	char *name;        /* NULL for a positional argument */
	lang_loc name_loc;
	ast_op op;         /* meaningful when name != NULL */
	int shared;        /* `shared kernel in {...}` */
	ast_expr *value;
};

struct ast_expr {
	ast_expr_kind kind;
	ast_unit unit;
	lang_loc loc;
	char *text; /* the lexeme as written, for NUMBER (e.g. "1.5ms") */
	double number;
	int is_integer; /* NUMBER written without '.' or exponent whose scaled
	                   value is a whole number: 12, 2M, 64KiB, 200%; not
	                   2.5K, 1e3 or 5% (0.05) */
	int boolean;
	char *string;   /* STRING contents, IDENT and CALL name, WHERE field */
	/* SET items / CALL args */
	int nitems;
	int nargs;
	ast_expr **items;
	ast_arg **args;
	/* RANGE: lo, hi, step (step may be NULL); WHERE: lo = base, hi = rhs */
	ast_expr *lo, *hi, *step;
	ast_op op; /* WHERE */
};

typedef enum ast_stmt_kind {
	AST_STMT_PROP,
	AST_STMT_GOAL,
	AST_STMT_CLAUSE,
	AST_STMT_BLOCK,
	AST_STMT_COUNT
} ast_stmt_kind;

struct ast_stmt {
	ast_stmt_kind kind;
	lang_loc loc; /* the whole statement */
	char *key;    /* PROP/CLAUSE/BLOCK key; GOAL metric */
	lang_loc key_loc;
	int shared;   /* PROP */
	ast_op op;    /* PROP */
	ast_expr *value; /* PROP */
	int maximize; /* GOAL */
	int nargs;    /* CLAUSE */
	ast_arg **args;
	char *name;   /* BLOCK name, or NULL */
	lang_loc name_loc;
	int nbody;    /* BLOCK */
	ast_stmt **body;
};

typedef enum ast_decl_kind {
	AST_DECL_DATASET,
	AST_DECL_SPACE,
	AST_DECL_TASK,
	AST_DECL_OBJECTIVE,
	AST_DECL_TARGET,
	AST_DECL_RECIPE,
	AST_DECL_COUNT
} ast_decl_kind;

extern const char *const ast_decl_kind_names[AST_DECL_COUNT];

typedef struct ast_decl {
	ast_decl_kind kind;
	lang_loc loc; /* the whole declaration */
	lang_loc kind_loc;
	char *name;
	lang_loc name_loc;
	ast_expr *from; /* `dataset d from base [where ...]`: IDENT or WHERE, or NULL */
	int nbody;
	ast_stmt **body;
} ast_decl;

typedef struct ast_import {
	char *path;
	lang_loc loc; /* the string literal */
} ast_import;

/* A `# ...` comment, kept so that `archc fmt` can put it back. */
typedef struct ast_comment {
	char *text;   /* from '#' to the end of the line, trailing blanks removed */
	lang_loc loc;
	int own_line; /* nothing but blanks before it on its line */
} ast_comment;

typedef struct ast_file {
	lang_source *src; /* owned: name and text, for diagnostics */
	int nimports;
	ast_import *imports;
	int ndecls;
	ast_decl **decls;
	int ncomments;          /* in source order */
	ast_comment *comments;
	struct lang_arena *arena; /* holds every node and string of the tree */
} ast_file;

/* Frees the file, its source and its whole tree; NULL is ignored. */
void ast_file_free(ast_file *f);

#endif
