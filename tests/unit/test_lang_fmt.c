/*
 * test_lang_fmt.c — `archc fmt`'s layout: the exact output for a file that
 * uses every construct, idempotence, the same tree after reformatting, and
 * every comment kept in its place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

/* Every construct, laid out carelessly, with comments everywhere. */
static const char messy[] =
	"# header\n"
	"\n"
	"import   \"std/datasets.arch\" ;   # the stdlib\n"
	"dataset small from fashion_mnist where label in {5,7,9} {   # derived\n"
	"  train_limit=10K;holdout = 2000 ;\n"
	"  path = \"a \\\"q\\\" \\\\ b\\n\\t\";\n"
	"}\n"
	"# the space\n"
	"space s {\n"
	"    input channels = 1;\n"
	"\n"
	"\n"
	"    # resolutions\n"
	"    resolution in { 20 , 24 };   shared kernel in {3,5};\n"
	"    stem conv(kernel = 3,  # mid\n"
	"              out = 16);   # after stem\n"
	"    stage s1 { depth in 1..3 step 1; block = mbconv(shared expand in {2, 3}, out = 24, 4); }\n"
	"    head pool, fc(classes);\n"
	"    empty {}\n"
	"    train { x = f(); y = {}; ok = true; no = false; }  # after train\n"
	"}\n"
	"objective o { maximize accuracy; minimize macs; }\n"
	"target t { macs <= 2M; latency < 1.5ms; mem >= 64KiB; acc > 90%; n == 3; }  # t\n"
	"task k { data = small; from = other; space = s; target = t; }\n"
	"# trailer\n";

static const char canonical[] =
	"# header\n"
	"\n"
	"import \"std/datasets.arch\";  # the stdlib\n"
	"\n"
	"dataset small from fashion_mnist where label in {5, 7, 9} {  # derived\n"
	"    train_limit = 10K;\n"
	"    holdout = 2000;\n"
	"    path = \"a \\\"q\\\" \\\\ b\\n\\t\";\n"
	"}\n"
	"\n"
	"# the space\n"
	"space s {\n"
	"    input channels = 1;\n"
	"\n"
	"    # resolutions\n"
	"    resolution in {20, 24};\n"
	"    shared kernel in {3, 5};\n"
	"    # mid\n"
	"    stem conv(kernel = 3, out = 16);  # after stem\n"
	"    stage s1 {\n"
	"        depth in 1..3 step 1;\n"
	"        block = mbconv(shared expand in {2, 3}, out = 24, 4);\n"
	"    }\n"
	"    head pool, fc(classes);\n"
	"    empty {}\n"
	"    train {\n"
	"        x = f();\n"
	"        y = {};\n"
	"        ok = true;\n"
	"        no = false;\n"
	"    }  # after train\n"
	"}\n"
	"\n"
	"objective o {\n"
	"    maximize accuracy;\n"
	"    minimize macs;\n"
	"}\n"
	"\n"
	"target t {\n"
	"    macs <= 2M;\n"
	"    latency < 1.5ms;\n"
	"    mem >= 64KiB;\n"
	"    acc > 90%;\n"
	"    n == 3;\n"
	"}  # t\n"
	"\n"
	"task k {\n"
	"    data = small;\n"
	"    from = other;\n"
	"    space = s;\n"
	"    target = t;\n"
	"}\n"
	"# trailer\n";

/* Parses text (which must be valid) and formats it into a new string. */
static char *format(const char *text, ast_file **keep)
{
	lang_diags d;
	lang_diags_init(&d);
	ast_file *f = lang_parse(lang_source_new("t.arch", text, strlen(text)), &d);
	if (d.nerrors) {
		lang_diags_print(&d, stderr);
		fail_msg("source does not parse");
	}
	lang_diags_free(&d);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_non_null(m);
	lang_fmt(f, m);
	fclose(m);
	if (keep)
		*keep = f;
	else
		ast_file_free(f);
	return buf;
}

static int same_expr(const ast_expr *a, const ast_expr *b);

static int same_arg(const ast_arg *a, const ast_arg *b)
{
	if (a->shared != b->shared || !a->name != !b->name)
		return 0;
	if (a->name && (strcmp(a->name, b->name) != 0 || a->op != b->op))
		return 0;
	return same_expr(a->value, b->value);
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Structural equality, ignoring locations. */
static int same_expr(const ast_expr *a, const ast_expr *b)
{
	if (!a || !b)
		return a == b;
	if (a->kind != b->kind || !same_str(a->text, b->text) || a->number != b->number ||
	    a->unit != b->unit || a->is_integer != b->is_integer || !same_str(a->string, b->string) ||
	    a->boolean != b->boolean || a->nitems != b->nitems || a->nargs != b->nargs ||
	    a->op != b->op)
		return 0;
	for (int i = 0; i < a->nitems; i++)
		if (!same_expr(a->items[i], b->items[i]))
			return 0;
	for (int i = 0; i < a->nargs; i++)
		if (!same_arg(a->args[i], b->args[i]))
			return 0;
	return same_expr(a->lo, b->lo) && same_expr(a->hi, b->hi) && same_expr(a->step, b->step);
}

static int same_body(int n, ast_stmt *const *a, ast_stmt *const *b);

static int same_stmt(const ast_stmt *a, const ast_stmt *b)
{
	if (a->kind != b->kind || strcmp(a->key, b->key) != 0 || a->shared != b->shared ||
	    a->op != b->op || a->maximize != b->maximize || a->nargs != b->nargs ||
	    !same_str(a->name, b->name) || a->nbody != b->nbody || !same_expr(a->value, b->value))
		return 0;
	for (int i = 0; i < a->nargs; i++)
		if (!same_arg(a->args[i], b->args[i]))
			return 0;
	return same_body(a->nbody, a->body, b->body);
}

static int same_body(int n, ast_stmt *const *a, ast_stmt *const *b)
{
	for (int i = 0; i < n; i++)
		if (!same_stmt(a[i], b[i]))
			return 0;
	return 1;
}

static int same_file(const ast_file *a, const ast_file *b)
{
	if (a->nimports != b->nimports || a->ndecls != b->ndecls || a->ncomments != b->ncomments)
		return 0;
	for (int i = 0; i < a->nimports; i++)
		if (strcmp(a->imports[i].path, b->imports[i].path) != 0)
			return 0;
	for (int i = 0; i < a->ncomments; i++)
		if (strcmp(a->comments[i].text, b->comments[i].text) != 0)
			return 0;
	for (int i = 0; i < a->ndecls; i++) {
		const ast_decl *x = a->decls[i], *y = b->decls[i];
		if (x->kind != y->kind || strcmp(x->name, y->name) != 0 || x->nbody != y->nbody ||
		    !same_expr(x->from, y->from) || !same_body(x->nbody, x->body, y->body))
			return 0;
	}
	return 1;
}

static void test_canonical_layout(void **state)
{
	(void)state;
	char *out = format(messy, NULL);
	if (strcmp(out, canonical) != 0)
		fail_msg("--- want\n%s--- got\n%s", canonical, out);
	free(out);
}

static void test_idempotent_and_same_tree(void **state)
{
	(void)state;
	ast_file *a, *b;
	char *once = format(messy, &a);
	char *twice = format(once, &b);
	assert_string_equal(once, twice);
	assert_true(same_file(a, b));
	ast_file_free(a);
	ast_file_free(b);
	free(once);
	free(twice);
}

static void test_comments_kept_in_order(void **state)
{
	(void)state;
	ast_file *a;
	char *out = format(messy, &a);
	const char *at = out;
	for (int i = 0; i < a->ncomments; i++) {
		const char *hit = strstr(at, a->comments[i].text);
		if (!hit)
			fail_msg("comment %d '%s' lost or out of order", i, a->comments[i].text);
		at = hit + strlen(a->comments[i].text);
	}
	assert_int_equal(a->ncomments, 10);
	ast_file_free(a);
	free(out);
}

/* Small cases whose layout is easy to get wrong. */
static void test_edge_cases(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{ "", "" },
		{ "# only\n", "# only\n" },
		{ "target t {}", "target t {}\n" },
		{ "target t { # inside\n}", "target t {  # inside\n}\n" },
		{ "target t {\n  # alone\n}", "target t {\n    # alone\n}\n" },
		{ "import \"a\"; import \"b\";", "import \"a\";\nimport \"b\";\n" },
		{ "target t { a = 1; b = 2; # on b\n}",
		  "target t {\n    a = 1;\n    b = 2;  # on b\n}\n" },
		{ "dataset d {} import \"late\";", "import \"late\";\n\ndataset d {}\n" },
		{ "space s { x = d where a = 1..3 step 2; }",
		  "space s {\n    x = d where a = 1..3 step 2;\n}\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = format(cases[i][0], NULL);
		if (strcmp(out, cases[i][1]) != 0)
			fail_msg("case %zu:\n--- want\n%s--- got\n%s", i, cases[i][1], out);
		char *again = format(out, NULL);
		assert_string_equal(again, out);
		free(again);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_layout),
		cmocka_unit_test(test_idempotent_and_same_tree),
		cmocka_unit_test(test_comments_kept_in_order),
		cmocka_unit_test(test_edge_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
