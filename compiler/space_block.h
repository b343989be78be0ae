/*
 * space_block.h — block templates such as `mbconv(kernel in {3, 5}, out = 24,
 * stride = 2)`, read by space_block.c for lower_space.c.  Private to
 * compiler/.  Prefix: cc_.
 */
#ifndef ARCHD_COMPILER_SPACE_BLOCK_H
#define ARCHD_COMPILER_SPACE_BLOCK_H

#include "compiler/cc_priv.h"

/* A choice: sorted distinct values; `shared` ties one gene to every block
 * of the stage. */
typedef struct cc_dom {
	int *v;
	int n;
	int shared;
	const ast_arg *arg; /* NULL when defaulted */
} cc_dom;

typedef struct cc_tmpl {
	ir_block kind;
	cc_dom kernel, expand, out;
	int stride;
	const ast_arg *stride_arg;
	ir_act act;
	int se;
	lang_loc loc;
} cc_tmpl;

/* Reads a template call.  `elastic` allows `in` choices (stages) or not
 * (the stem).  Returns 0, or -1 after errors (t is then cleared). */
int cc_tmpl_read(cc_ctx *c, const ast_expr *e, int elastic, const char *where, cc_tmpl *t);
void cc_tmpl_clear(cc_tmpl *t);
int cc_dom_max(const cc_dom *d);

#endif
