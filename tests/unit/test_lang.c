/*
 * test_lang.c — the `.arch` parser: every construct of the grammar, numbers
 * with every suffix, locations, and syntax errors (several per file, each
 * with the wording a user sees).  Formatting is in test_lang_fmt.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

/* The sketch of DESIGN.md section 4. */
static const char sketch[] =
	"import \"std/datasets.arch\";              # defines fashion_mnist\n"
	"\n"
	"dataset fashion_small from fashion_mnist { train_limit = 10000; holdout = 2000; }\n"
	"\n"
	"space mbnet {\n"
	"    input      channels = 1;\n"
	"    resolution in {20, 24, 28};\n"
	"    stem       conv(kernel = 3, out = 16, stride = 1, act = relu);\n"
	"    stage s1 { depth in 1..3; block = mbconv(kernel in {3,5,7}, expand in {2,3,4}, out = 24, "
	"stride = 2); }\n"
	"    head       pool, fc(classes);\n"
	"}\n"
	"\n"
	"task fashion {\n"
	"    data  = fashion_small;\n"
	"    space = mbnet;\n"
	"    train { epochs = 8; optimizer = sgd(lr = 0.1, nesterov = true, wd = 4e-5);\n"
	"            shrink = progressive(kernel, depth, expand); }\n"
	"}\n"
	"\n"
	"task footwear { data = fashion_mnist where label in {5, 7, 9}; from = fashion; }\n"
	"\n"
	"objective default { maximize accuracy; minimize macs; }\n"
	"target phone { macs <= 2M; latency <= 1.5ms; }\n"
	"target mcu   { params <= 50K; memory <= 64KiB; }\n";

typedef struct parsed {
	lang_diags d;
	ast_file *f;
} parsed;

static parsed *parse(const char *text)
{
	parsed *p = malloc(sizeof *p);
	assert_non_null(p);
	lang_diags_init(&p->d);
	p->f = lang_parse(lang_source_new("t.arch", text, strlen(text)), &p->d);
	assert_non_null(p->f);
	return p;
}

static void parsed_free(parsed *p)
{
	ast_file_free(p->f);
	lang_diags_free(&p->d);
	free(p);
}

/* The diagnostics as printed, in a string the caller frees. */
static char *printed(const parsed *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_non_null(m);
	lang_diags_print(&p->d, m);
	fclose(m);
	return buf;
}

static const ast_stmt *stmt_at(const ast_decl *d, int i)
{
	assert_true(i < d->nbody);
	return d->body[i];
}

static void test_sketch(void **state)
{
	(void)state;
	parsed *p = parse(sketch);
	assert_int_equal(p->d.n, 0);
	const ast_file *f = p->f;
	assert_int_equal(f->nimports, 1);
	assert_string_equal(f->imports[0].path, "std/datasets.arch");
	assert_int_equal(f->ndecls, 7);
	static const ast_decl_kind kinds[] = { AST_DECL_DATASET, AST_DECL_SPACE,     AST_DECL_TASK,
					       AST_DECL_TASK,	 AST_DECL_OBJECTIVE, AST_DECL_TARGET,
					       AST_DECL_TARGET };
	static const char *const names[] = { "fashion_small", "mbnet",	"fashion", "footwear",
					     "default",	      "phone", "mcu" };
	for (int i = 0; i < 7; i++) {
		assert_int_equal(f->decls[i]->kind, kinds[i]);
		assert_string_equal(f->decls[i]->name, names[i]);
	}
	/* dataset ... from IDENT */
	const ast_decl *ds = f->decls[0];
	assert_non_null(ds->from);
	assert_int_equal(ds->from->kind, AST_EXPR_IDENT);
	assert_string_equal(ds->from->string, "fashion_mnist");
	assert_int_equal(ds->nbody, 2);

	const ast_decl *sp = f->decls[1];
	assert_null(sp->from);
	assert_int_equal(sp->nbody, 5);
	/* input channels = 1;  a clause with one named argument */
	const ast_stmt *s = stmt_at(sp, 0);
	assert_int_equal(s->kind, AST_STMT_CLAUSE);
	assert_string_equal(s->key, "input");
	assert_int_equal(s->nargs, 1);
	assert_string_equal(s->args[0]->name, "channels");
	assert_int_equal(s->args[0]->op, AST_OP_ASSIGN);
	assert_int_equal(s->args[0]->value->number, 1);
	/* resolution in {20, 24, 28}; */
	s = stmt_at(sp, 1);
	assert_int_equal(s->kind, AST_STMT_PROP);
	assert_int_equal(s->op, AST_OP_IN);
	assert_int_equal(s->value->kind, AST_EXPR_SET);
	assert_int_equal(s->value->nitems, 3);
	assert_int_equal(s->value->items[2]->number, 28);
	/* stem conv(...); a clause whose argument is a call */
	s = stmt_at(sp, 2);
	assert_int_equal(s->kind, AST_STMT_CLAUSE);
	assert_null(s->args[0]->name);
	assert_int_equal(s->args[0]->value->kind, AST_EXPR_CALL);
	assert_string_equal(s->args[0]->value->string, "conv");
	assert_int_equal(s->args[0]->value->nargs, 4);
	assert_string_equal(s->args[0]->value->args[3]->value->string, "relu");
	/* stage s1 { ... } */
	s = stmt_at(sp, 3);
	assert_int_equal(s->kind, AST_STMT_BLOCK);
	assert_string_equal(s->key, "stage");
	assert_string_equal(s->name, "s1");
	assert_int_equal(s->nbody, 2);
	assert_int_equal(s->body[0]->value->kind, AST_EXPR_RANGE);
	assert_null(s->body[0]->value->step);
	const ast_expr *mb = s->body[1]->value;
	assert_int_equal(mb->kind, AST_EXPR_CALL);
	assert_int_equal(mb->args[0]->op, AST_OP_IN);
	assert_int_equal(mb->args[0]->value->nitems, 3);
	/* head pool, fc(classes); */
	s = stmt_at(sp, 4);
	assert_int_equal(s->nargs, 2);
	assert_string_equal(s->args[0]->value->string, "pool");
	assert_int_equal(s->args[1]->value->kind, AST_EXPR_CALL);
	assert_string_equal(s->args[1]->value->args[0]->value->string, "classes");

	const ast_decl *task = f->decls[2];
	assert_string_equal(stmt_at(task, 1)->key, "space");
	const ast_stmt *train = stmt_at(task, 2);
	assert_int_equal(train->kind, AST_STMT_BLOCK);
	assert_null(train->name);
	assert_int_equal(train->nbody, 3);
	const ast_expr *opt = train->body[1]->value;
	assert_int_equal(opt->args[1]->value->kind, AST_EXPR_BOOL);
	assert_int_equal(opt->args[1]->value->boolean, 1);
	assert_true(fabs(opt->args[2]->value->number - 4e-5) < 1e-18);

	/* data = fashion_mnist where label in {5, 7, 9}; from = fashion; */
	const ast_decl *fw = f->decls[3];
	const ast_expr *w = stmt_at(fw, 0)->value;
	assert_int_equal(w->kind, AST_EXPR_WHERE);
	assert_string_equal(w->lo->string, "fashion_mnist");
	assert_string_equal(w->string, "label");
	assert_int_equal(w->op, AST_OP_IN);
	assert_int_equal(w->hi->nitems, 3);
	assert_string_equal(stmt_at(fw, 1)->key, "from");

	const ast_decl *obj = f->decls[4];
	assert_int_equal(stmt_at(obj, 0)->kind, AST_STMT_GOAL);
	assert_int_equal(stmt_at(obj, 0)->maximize, 1);
	assert_string_equal(stmt_at(obj, 0)->key, "accuracy");
	assert_int_equal(stmt_at(obj, 1)->maximize, 0);

	const ast_decl *phone = f->decls[5];
	assert_int_equal(stmt_at(phone, 0)->op, AST_OP_LE);
	assert_int_equal(stmt_at(phone, 0)->value->number, 2e6);
	assert_string_equal(stmt_at(phone, 1)->value->text, "1.5ms");
	assert_int_equal(stmt_at(phone, 1)->value->unit, AST_UNIT_SECONDS);
	assert_int_equal(f->ncomments, 1);
	assert_string_equal(f->comments[0].text, "# defines fashion_mnist");
	parsed_free(p);
}

static void test_constructs(void **state)
{
	(void)state;
	parsed *p = parse("space s {\n"
			  "  shared kernel in {3, 5};\n"
			  "  width in 16..64 step 8;\n"
			  "  a < 1; b > 2; c >= 3; d == 4; e <= 5;\n"
			  "  name = \"q\\\"uo\\\\te\\n\\t\";\n"
			  "  off = false;\n"
			  "  empty = {};\n"
			  "  call = f();\n"
			  "  block = mbconv(shared expand in {2, 3}, out = 24, 4, shared 5);\n"
			  "  nested { inner { x = 1; } }\n"
			  "  target = t; dataset = d; task = k; objective = o; from = x;\n"
			  "  data = d where split = \"train\";\n"
			  "  neg = -4;\n"
			  "}\n");
	assert_int_equal(p->d.n, 0);
	const ast_decl *d = p->f->decls[0];
	const ast_stmt *s = d->body[0];
	assert_int_equal(s->shared, 1);
	assert_int_equal(s->op, AST_OP_IN);
	s = d->body[1];
	assert_int_equal(s->value->kind, AST_EXPR_RANGE);
	assert_int_equal(s->value->lo->number, 16);
	assert_int_equal(s->value->hi->number, 64);
	assert_int_equal(s->value->step->number, 8);
	static const ast_op ops[] = { AST_OP_LT, AST_OP_GT, AST_OP_GE, AST_OP_EQ, AST_OP_LE };
	for (int i = 0; i < 5; i++)
		assert_int_equal(d->body[2 + i]->op, ops[i]);
	assert_string_equal(d->body[7]->value->string, "q\"uo\\te\n\t");
	assert_int_equal(d->body[8]->value->kind, AST_EXPR_BOOL);
	assert_int_equal(d->body[8]->value->boolean, 0);
	assert_int_equal(d->body[9]->value->kind, AST_EXPR_SET);
	assert_int_equal(d->body[9]->value->nitems, 0);
	assert_int_equal(d->body[10]->value->kind, AST_EXPR_CALL);
	assert_int_equal(d->body[10]->value->nargs, 0);
	const ast_expr *mb = d->body[11]->value;
	assert_int_equal(mb->nargs, 4);
	assert_int_equal(mb->args[0]->shared, 1);
	assert_string_equal(mb->args[0]->name, "expand");
	assert_int_equal(mb->args[1]->shared, 0);
	assert_null(mb->args[2]->name);
	assert_int_equal(mb->args[2]->value->number, 4);
	assert_int_equal(mb->args[3]->shared, 1);
	assert_null(mb->args[3]->name);
	s = d->body[12];
	assert_int_equal(s->kind, AST_STMT_BLOCK);
	assert_int_equal(s->body[0]->kind, AST_STMT_BLOCK);
	assert_string_equal(s->body[0]->key, "inner");
	assert_int_equal(s->body[0]->body[0]->value->number, 1);
	static const char *const keys[] = { "target", "dataset", "task", "objective", "from" };
	for (int i = 0; i < 5; i++)
		assert_string_equal(d->body[13 + i]->key, keys[i]);
	const ast_expr *w = d->body[18]->value;
	assert_int_equal(w->kind, AST_EXPR_WHERE);
	assert_string_equal(w->string, "split");
	assert_int_equal(w->lo->kind, AST_EXPR_IDENT);
	assert_int_equal(w->op, AST_OP_ASSIGN);
	assert_int_equal(d->body[19]->value->number, -4);
	parsed_free(p);
	/* A filter of a filter is refused at its 'where', once for a chain,
	 * and the first filter kept (not nested: the tree would grow with
	 * each 'where'). */
	p = parse("task t { data = d where label == 3 where a == 1 where b == 2; }");
	assert_int_equal(p->d.nerrors, 1);
	assert_int_equal(p->d.items[0].loc.first_column, 36);
	w = p->f->decls[0]->body[0]->value;
	assert_int_equal(w->kind, AST_EXPR_WHERE);
	assert_string_equal(w->string, "label");
	assert_int_equal(w->lo->kind, AST_EXPR_IDENT);
	parsed_free(p);
}

typedef struct number_case {
	const char *text;
	double value;
	ast_unit unit;
	int is_integer;
} number_case;

static const number_case numbers[] = {
	{ "12", 12, AST_UNIT_NONE, 1 },
	{ "0.5", 0.5, AST_UNIT_NONE, 0 },
	{ "4e-5", 4e-5, AST_UNIT_NONE, 0 },
	{ "1.5e3", 1500, AST_UNIT_NONE, 0 },
	{ "1E3", 1000, AST_UNIT_NONE, 0 },
	{ "50K", 50e3, AST_UNIT_NONE, 1 },
	{ "50k", 50e3, AST_UNIT_NONE, 1 },
	{ "2M", 2e6, AST_UNIT_NONE, 1 },
	{ "1.5G", 1.5e9, AST_UNIT_NONE, 0 },
	{ "2.5K", 2500, AST_UNIT_NONE, 0 },
	{ "3T", 3e12, AST_UNIT_NONE, 1 },
	{ "90%", 0.9, AST_UNIT_PERCENT, 0 },
	{ "200%", 2, AST_UNIT_PERCENT, 1 },
	{ "5ns", 5e-9, AST_UNIT_SECONDS, 0 },
	{ "200us", 200e-6, AST_UNIT_SECONDS, 0 },
	{ "1.5ms", 1.5e-3, AST_UNIT_SECONDS, 0 },
	{ "2s", 2, AST_UNIT_SECONDS, 1 },
	{ "512B", 512, AST_UNIT_BYTES, 1 },
	{ "1KB", 1e3, AST_UNIT_BYTES, 1 },
	{ "3MB", 3e6, AST_UNIT_BYTES, 1 },
	{ "2GB", 2e9, AST_UNIT_BYTES, 1 },
	{ "64KiB", 65536, AST_UNIT_BYTES, 1 },
	{ "1MiB", 1048576, AST_UNIT_BYTES, 1 },
	{ "2GiB", 2147483648.0, AST_UNIT_BYTES, 1 },
	{ "-3", -3, AST_UNIT_NONE, 1 },
	{ "1e2ms", 0.1, AST_UNIT_SECONDS, 0 },
};

static void check_number(const ast_expr *e, const number_case *c)
{
	assert_int_equal(e->kind, AST_EXPR_NUMBER);
	assert_string_equal(e->text, c->text);
	if (fabs(e->number - c->value) > 1e-12 * fabs(c->value)) {
		fail_msg("%s: got %.17g, want %.17g", c->text, e->number, c->value);
	}
	assert_int_equal(e->unit, c->unit);
	if (e->is_integer != c->is_integer)
		fail_msg("%s: is_integer %d, want %d", c->text, e->is_integer, c->is_integer);
}

static void test_numbers(void **state)
{
	(void)state;
	size_t n = sizeof numbers / sizeof numbers[0];
	for (size_t i = 0; i < n; i++) {
		char src[64];
		snprintf(src, sizeof src, "target t { x = %s; }", numbers[i].text);
		parsed *p = parse(src);
		assert_int_equal(p->d.n, 0);
		check_number(p->f->decls[0]->body[0]->value, &numbers[i]);
		parsed_free(p);

		double v;
		ast_unit u;
		int whole;
		size_t at;
		const char *t = numbers[i].text;
		assert_int_equal(lang_number_parse(t, strlen(t), &v, &u, &whole, &at), LANG_NUMBER_OK);
		assert_int_equal(u, numbers[i].unit);
		assert_int_equal(whole, numbers[i].is_integer);
	}
	size_t at = 0;
	assert_int_equal(lang_number_parse("2Q", 2, NULL, NULL, NULL, &at), LANG_NUMBER_SUFFIX);
	assert_int_equal(at, 1);
	assert_int_equal(lang_number_parse("x", 1, NULL, NULL, NULL, NULL), LANG_NUMBER_SYNTAX);
	assert_int_equal(lang_number_parse("", 0, NULL, NULL, NULL, NULL), LANG_NUMBER_SYNTAX);
	assert_int_equal(lang_number_parse("1e999", 5, NULL, NULL, NULL, NULL), LANG_NUMBER_RANGE);
	assert_int_equal(lang_number_parse("1e300T", 6, NULL, NULL, NULL, NULL), LANG_NUMBER_RANGE);
	/* Only the given length is read. */
	double v = 0;
	assert_int_equal(lang_number_parse("25ms", 2, &v, NULL, NULL, NULL), LANG_NUMBER_OK);
	assert_true(v == 25);
}

static void test_range_lexing(void **state)
{
	(void)state;
	/* `1..4` is 1 .. 4, not `1.` then `.4`; `0.5..1.5` has fractions. */
	parsed *p = parse("space s { a in 1..4; b in 0.5..1.5 step 0.25; c in 2K..8K; }");
	assert_int_equal(p->d.n, 0);
	const ast_decl *d = p->f->decls[0];
	assert_string_equal(d->body[0]->value->lo->text, "1");
	assert_string_equal(d->body[0]->value->hi->text, "4");
	assert_true(d->body[1]->value->lo->number == 0.5);
	assert_true(d->body[1]->value->step->number == 0.25);
	assert_true(d->body[2]->value->hi->number == 8000);
	parsed_free(p);
}

static void test_locations(void **state)
{
	(void)state;
	parsed *p = parse("# comment\n"
			  "space s {\n"
			  "\tstage s1 { depth in 1..3; }\n"
			  "    block = mbconv(kernel in {3, 5});\n"
			  "}\n");
	assert_int_equal(p->d.n, 0);
	const ast_decl *d = p->f->decls[0];
	assert_ptr_equal(d->loc.src, p->f->src);
	assert_int_equal(d->loc.first_line, 2);
	assert_int_equal(d->loc.first_column, 1);
	assert_int_equal(d->loc.last_line, 5);
	assert_int_equal(d->loc.last_column, 1);
	assert_int_equal(d->name_loc.first_column, 7);
	assert_int_equal(d->name_loc.last_column, 7);
	const ast_stmt *st = d->body[0];
	/* A tab is one byte, so one column. */
	assert_int_equal(st->key_loc.first_column, 2);
	assert_int_equal(st->key_loc.last_column, 6);
	assert_int_equal(st->name_loc.first_column, 8);
	assert_int_equal(st->loc.last_column, 28);
	const ast_stmt *depth = st->body[0];
	assert_int_equal(depth->loc.first_column, 13);
	assert_int_equal(depth->loc.last_column, 26); /* the ';' */
	const ast_expr *r = depth->value;
	assert_int_equal(r->loc.first_column, 22);
	assert_int_equal(r->loc.last_column, 25);
	const ast_stmt *b = d->body[1];
	assert_int_equal(b->loc.first_line, 4);
	const ast_arg *a = b->value->args[0];
	assert_int_equal(a->name_loc.first_column, 20);
	assert_int_equal(a->name_loc.last_column, 25);
	assert_int_equal(a->loc.first_column, 20);
	assert_int_equal(a->loc.last_column, 35);
	assert_int_equal(a->value->loc.first_column, 30);
	assert_int_equal(p->f->comments[0].loc.first_line, 1);
	assert_int_equal(p->f->comments[0].loc.last_column, 9);
	assert_int_equal(p->f->comments[0].own_line, 1);
	parsed_free(p);
}

static void test_empty_files(void **state)
{
	(void)state;
	static const char *const texts[] = { "", "\n\n", "# only a comment", "# a\n  # b\n" };
	for (size_t i = 0; i < 4; i++) {
		parsed *p = parse(texts[i]);
		assert_int_equal(p->d.n, 0);
		assert_int_equal(p->f->ndecls, 0);
		assert_int_equal(p->f->nimports, 0);
		parsed_free(p);
	}
	lang_diags d;
	lang_diags_init(&d);
	ast_file *f = lang_parse(NULL, &d);
	assert_int_equal(d.n, 0);
	assert_int_equal(f->ndecls, 0);
	ast_file_free(f);
	lang_diags_free(&d);
}

/* Each error case: the source and the exact first diagnostic as printed. */
typedef struct error_case {
	const char *src;
	const char *want;
} error_case;

static const error_case errors[] = {
	{ "dataset d { path = \"abc; }\n",
	  "t.arch:1:20: error: unterminated string (missing closing '\"')\n"
	  "    1 | dataset d { path = \"abc; }\n"
	  "      |                    ^~~~~~~\n" },
	{ "task t {\n  epochs = 8\n  batch = 1;\n}\n",
	  "t.arch:2:13: error: expected ';' after '8'\n"
	  "    2 |   epochs = 8\n"
	  "      |             ^\n" },
	{ "}\n", "t.arch:1:1: error: stray '}' with no open block\n"
		 "    1 | }\n"
		 "      | ^\n" },
	{ "target t { x <= 2Q; }",
	  "t.arch:1:17: error: invalid suffix 'Q' on number '2Q' (valid suffixes: K, k, M, G, T, %, "
	  "ns, us, ms, s, B, KB, MB, GB, KiB, MiB, GiB)\n"
	  "    1 | target t { x <= 2Q; }\n"
	  "      |                 ^~\n" },
	{ "target t { x <= 3mss; }",
	  "t.arch:1:17: error: invalid suffix 'mss' on number '3mss'; did you mean 'ms'? (valid "
	  "suffixes: K, k, M, G, T, %, ns, us, ms, s, B, KB, MB, GB, KiB, MiB, GiB)\n"
	  "    1 | target t { x <= 3mss; }\n"
	  "      |                 ^~~~\n" },
	{ "datset x { }", "t.arch:1:1: error: unknown declaration 'datset'; did you mean 'dataset'?\n"
			  "    1 | datset x { }\n"
			  "      | ^~~~~~\n" },
	{ "space s {\n\ta = 1 @;\n}", "t.arch:2:8: error: invalid character '@'\n"
				      "    2 |  a = 1 @;\n"
				      "      |        ^\n" },
	{ "space s {\n  stage a { x = 1;\n",
	  "t.arch:2:19: error: expected '}' at end of input\n"
	  "    2 |   stage a { x = 1;\n"
	  "      |                   ^\n"
	  "t.arch:2:11: note: to match this '{'\n"
	  "    2 |   stage a { x = 1;\n"
	  "      |           ^\n" },
	{ "space s { a = ; }", "t.arch:1:15: error: expected a value before ';'\n"
			       "    1 | space s { a = ; }\n"
			       "      |               ^\n" },
	{ "space s { a in 1..; }",
	  "t.arch:1:19: error: expected the upper bound of the range after '..'\n"
	  "    1 | space s { a in 1..; }\n"
	  "      |                   ^\n" },
	{ "space s { b = f(1, , 2); }", "t.arch:1:20: error: expected an argument before ','\n"
					"    1 | space s { b = f(1, , 2); }\n"
					"      |                    ^\n" },
	{ "space s { b = \"a\\q\"; }",
	  "t.arch:1:17: error: unknown escape sequence '\\q' (known: \\\" \\\\ \\n \\t)\n"
	  "    1 | space s { b = \"a\\q\"; }\n"
	  "      |                 ^~\n" },
	{ "space s { c = f(a = 1; }", "t.arch:1:22: error: unexpected ';', expecting ',' or ')'\n"
				      "    1 | space s { c = f(a = 1; }\n"
				      "      |                      ^\n" },
	{ "target t", "t.arch:1:9: error: unexpected end of file, expecting 'from' or '{'\n"
		      "    1 | target t\n"
		      "      |         ^\n" },
	{ "x = 1;", "t.arch:1:1: error: unknown declaration 'x'; expected dataset, space, task, "
		    "recipe, objective or target\n"
		    "    1 | x = 1;\n"
		    "      | ^\n" },
	{ "= 1;", "t.arch:1:1: error: expected a declaration (dataset, space, task, recipe, "
		  "objective or target) or an import, not '='\n"
		  "    1 | = 1;\n"
		  "      | ^\n" },
	{ "space s { 3; }", "t.arch:1:11: error: expected a statement, not '3'\n"
			    "    1 | space s { 3; }\n"
			    "      |           ^\n" },
	{ "target t { x = 1e999; }", "t.arch:1:16: error: number '1e999' is too large\n"
				     "    1 | target t { x = 1e999; }\n"
				     "      |                ^~~~~\n" },
};

static void test_error_messages(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
		parsed *p = parse(errors[i].src);
		assert_true(p->d.nerrors >= 1);
		char *out = printed(p);
		/* Only the first diagnostic (and its notes) is compared. */
		size_t want = strlen(errors[i].want);
		if (strncmp(out, errors[i].want, want) != 0)
			fail_msg("case %zu:\n--- want\n%s--- got\n%s", i, errors[i].want, out);
		free(out);
		parsed_free(p);
	}
}

static void test_several_errors(void **state)
{
	(void)state;
	parsed *p = parse("datset a { x = 1; }\n"
			  "space s {\n"
			  "  a = 1\n"
			  "  b = ;\n"
			  "  c in 1..;\n"
			  "  d = 2Q;\n"
			  "  ok = 1;\n"
			  "}\n"
			  "target t { e = f(, 1); }\n"
			  "target u { y = 1; }\n");
	assert_int_equal(p->d.nerrors, 5);
	static const int lines[] = { 1, 3, 5, 6, 9 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(p->d.items[i].loc.first_line, lines[i]);
	/* Recovery keeps the declarations around the errors. */
	assert_int_equal(p->f->ndecls, 3);
	assert_string_equal(p->f->decls[0]->name, "s");
	assert_string_equal(p->f->decls[2]->name, "u");
	const ast_decl *s = p->f->decls[0];
	assert_string_equal(s->body[s->nbody - 1]->key, "ok");
	parsed_free(p);
}

/* Recovery resumes at the end of the statement, never inside a set, and
 * reads over a block met on the way without losing the enclosing one. */
static void test_recovery(void **state)
{
	(void)state;
	parsed *p = parse("space s {\n"
			  "  a = 1\n"
			  "  stage s1 { x = 1; }\n"
			  "  b = 2;\n"
			  "  c = 1 resolution in {20, 24};\n"
			  "  d = {1, 2;\n"
			  "  e = 3;\n"
			  "}\n"
			  "target t { y = 1; }\n");
	assert_int_equal(p->d.nerrors, 3);
	assert_int_equal(p->d.items[0].loc.first_line, 2);
	assert_int_equal(p->d.items[1].loc.first_line, 5);
	assert_int_equal(p->d.items[2].loc.first_line, 6);
	assert_int_equal(p->f->ndecls, 2);
	const ast_decl *s = p->f->decls[0];
	assert_int_equal(s->nbody, 2);
	assert_string_equal(s->body[0]->key, "b");
	assert_string_equal(s->body[1]->key, "e");
	assert_string_equal(p->f->decls[1]->name, "t");
	parsed_free(p);
}

/* A '{' after a value-starting token opens a set; elsewhere a block. */
static void test_set_or_block(void **state)
{
	(void)state;
	parsed *p = parse("dataset d from x where label in {5, {6}} {\n"
			  "  a = f({1}, k = {2}, shared {3}) where y in {4}..{5} step {6};\n"
			  "  train { }\n"
			  "}\n");
	assert_int_equal(p->d.n, 0);
	const ast_decl *d = p->f->decls[0];
	assert_int_equal(d->from->hi->kind, AST_EXPR_SET);
	assert_int_equal(d->from->hi->items[1]->kind, AST_EXPR_SET);
	const ast_expr *w = d->body[0]->value;
	assert_int_equal(w->kind, AST_EXPR_WHERE);
	assert_int_equal(w->lo->nargs, 3);
	assert_int_equal(w->hi->kind, AST_EXPR_RANGE);
	assert_int_equal(w->hi->step->kind, AST_EXPR_SET);
	assert_int_equal(d->body[1]->kind, AST_STMT_BLOCK);
	parsed_free(p);
	/* `key {` is a block, so a clause cannot start with a set. */
	p = parse("space s { x {1, 2}; }");
	assert_int_equal(p->d.nerrors, 1);
	assert_string_equal(p->d.items[0].message, "expected a statement, not '1'");
	parsed_free(p);
}

static void test_print_format(void **state)
{
	(void)state;
	static const char text[] = "a\tbc\r\nline two\n";
	lang_source *src = lang_source_new("dir/f.arch", text, strlen(text));
	lang_diags d;
	lang_diags_init(&d);
	lang_loc l1 = { src, 1, 3, 1, 4 };
	lang_loc l2 = { src, 2, 6, 2, 8 };
	lang_loc multi = { src, 1, 2, 2, 3 };
	lang_error(&d, l1, "bad %s", "thing");
	lang_note(&d, l2, "see here");
	lang_warning(&d, multi, "spans lines");
	lang_error(&d, (lang_loc){ 0 }, "no location");
	lang_error(&d, (lang_loc){ .src = src }, "whole file");
	assert_int_equal(d.nerrors, 3);
	assert_int_equal(d.nwarnings, 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	lang_diags_print(&d, m);
	fclose(m);
	assert_string_equal(buf, "dir/f.arch:1:3: error: bad thing\n"
				 "    1 | a bc\n"
				 "      |   ^~\n"
				 "dir/f.arch:2:6: note: see here\n"
				 "    2 | line two\n"
				 "      |      ^~~\n"
				 "dir/f.arch:1:2: warning: spans lines\n"
				 "    1 | a bc\n"
				 "      |  ^~~\n"
				 "error: no location\n"
				 "dir/f.arch: error: whole file\n");
	free(buf);
	lang_diags_free(&d);
	lang_source_free(src);
}

static void test_suggest(void **state)
{
	(void)state;
	static const char *const words[] = { "dataset", "space", "task", "objective", "target" };
	assert_string_equal(lang_suggest("datset", words, 5), "dataset");
	assert_string_equal(lang_suggest("sapce", words, 5), "space");
	assert_string_equal(lang_suggest("targt", words, 5), "target");
	assert_string_equal(lang_suggest("objectiv", words, 5), "objective");
	assert_null(lang_suggest("banana", words, 5));
	assert_null(lang_suggest("x", words, 5));
	assert_int_equal(lang_edit_distance("", "abc"), 3);
	assert_int_equal(lang_edit_distance("abc", "abc"), 0);
	assert_int_equal(lang_edit_distance("abcd", "abdc"), 1);
	assert_int_equal(lang_edit_distance("kitten", "sitting"), 3);
	/* Long words take the heap path. */
	char a[80], b[80];
	memset(a, 'a', 79);
	a[79] = '\0';
	memcpy(b, a, 80);
	b[40] = 'b';
	assert_int_equal(lang_edit_distance(a, b), 1);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	enum { DEPTH = 5000 };
	char *src = malloc(DEPTH * 2 + 64);
	assert_non_null(src);
	strcpy(src, "space s { x = ");
	size_t n = strlen(src);
	for (int i = 0; i < DEPTH; i++)
		src[n++] = '{';
	for (int i = 0; i < DEPTH; i++)
		src[n++] = '}';
	strcpy(src + n, "; }");
	parsed *p = parse(src);
	assert_int_equal(p->d.nerrors, 1);
	assert_non_null(strstr(p->d.items[0].message, "nesting is too deep"));
	parsed_free(p);
	free(src);
}

static void test_source_read(void **state)
{
	(void)state;
	assert_null(lang_source_read("/nonexistent/dir/x.arch"));
	char path[] = "/tmp/test_lang.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs("target t { x = 1; }\n", fp);
	fclose(fp);
	lang_source *s = lang_source_read(path);
	remove(path);
	assert_non_null(s);
	assert_string_equal(s->name, path);
	assert_int_equal(s->len, 20);
	assert_string_equal(s->text, "target t { x = 1; }\n");
	lang_source_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sketch),		cmocka_unit_test(test_constructs),
		cmocka_unit_test(test_numbers),		cmocka_unit_test(test_range_lexing),
		cmocka_unit_test(test_locations),	cmocka_unit_test(test_empty_files),
		cmocka_unit_test(test_error_messages),	cmocka_unit_test(test_several_errors),
		cmocka_unit_test(test_print_format),	cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_deep_nesting),	cmocka_unit_test(test_source_read),
		cmocka_unit_test(test_recovery),	cmocka_unit_test(test_set_or_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
