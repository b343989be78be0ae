/*
 * parse_error.c — syntax errors worded for people: "expected ';' after
 * '8'", "stray '}'", "unknown declaration 'datset'; did you mean
 * 'dataset'?", rather than a list of grammar symbols.
 */
#include "lang/parse_error.h"

#include <string.h>

#include "lang/lang.h"
#include "lang/parser.h"

static int has(const char *const *expected, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(expected[i], name) == 0)
			return 1;
	return 0;
}

/* The token as the user wrote it, quoted and cut short if long. */
static void describe(const lang_parser *p, const lang_tok *t, char *buf, size_t size)
{
	if (t->kind == TOK_YYEOF) {
		snprintf(buf, size, "end of file");
		return;
	}
	const char *text = p->file->src->text + t->off;
	int len = t->len;
	if (len > 24)
		snprintf(buf, size, "'%.20s...'", text);
	else
		snprintf(buf, size, "'%.*s'", len, text);
}

/* How an expected token is named in a message: bison gives "name",
 * "number", "string", "end of file", keywords and operators bare, and
 * single characters already quoted. */
static void symbol_name(const char *name, char *buf, size_t size)
{
	static const char *const words[] = { "name", "number", "string", "end of file" };
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(name, words[i]) == 0) {
			snprintf(buf, size, "%s", name);
			return;
		}
	if (name[0] == '\'')
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "'%s'", name);
}

/* Tokens that would only continue an expression; listing them after a
 * complete value ("expecting 'where', '..' or ')'") misleads more than it
 * helps. */
static int is_continuation(const char *name)
{
	return strcmp(name, "where") == 0 || strcmp(name, "..") == 0 ||
	       strcmp(name, "step") == 0 || strcmp(name, "'('") == 0;
}

/* The column just after the previous token: where a missing ';' goes. */
static lang_loc after_prev(const lang_parser *p)
{
	if (!p->prev.kind)
		return p->cur.loc;
	lang_loc l = p->prev.loc;
	l.first_line = l.last_line;
	l.first_column = l.last_column + 1;
	l.last_column = l.first_column;
	return l;
}

void lang_unknown_decl(lang_parser *p, const char *word, lang_loc loc)
{
	const char *kinds[AST_DECL_COUNT + 1];
	for (int i = 0; i < AST_DECL_COUNT; i++)
		kinds[i] = ast_decl_kind_names[i];
	kinds[AST_DECL_COUNT] = "import";
	const char *best = lang_suggest(word, kinds, AST_DECL_COUNT + 1);
	if (best)
		lang_error(p->diags, loc, "unknown declaration '%s'; did you mean '%s'?", word, best);
	else
		lang_error(p->diags, loc,
			   "unknown declaration '%s'; expected dataset, space, task, recipe, objective or target",
			   word);
}

void lang_syntax_error(lang_parser *p, const char *const *expected, int n)
{
	const lang_tok *cur = &p->cur, *prev = &p->prev;
	char got[64], before[64];
	describe(p, cur, got, sizeof got);
	describe(p, prev, before, sizeof before);

	/* An invalid character or an unterminated string was reported by the
	 * scanner; what the parser makes of it is only an echo. */
	if (cur->kind == TOK_LANG_YYUNDEF)
		return;
	if (p->bad_string_line && (cur->loc.first_line == p->bad_string_line ||
				   (prev->kind && prev->loc.last_line == p->bad_string_line)))
		return;

	if (cur->kind == '}' && p->stray_close) {
		lang_error(p->diags, cur->loc, "stray '}' with no open block");
		return;
	}
	if (has(expected, n, "';'") && prev->kind) {
		if (has(expected, n, "','"))
			lang_error(p->diags, after_prev(p), "expected ',' or ';' after %s", before);
		else
			lang_error(p->diags, after_prev(p), "expected ';' after %s", before);
		return;
	}
	if (cur->kind == TOK_YYEOF && p->nbraces > 0) {
		lang_error(p->diags, after_prev(p), "expected '}' at end of input");
		lang_note(p->diags, p->braces[p->nbraces - 1].loc, "to match this '{'");
		return;
	}
	if (n == 1 && has(expected, n, "name") && prev->kind == TOK_IDENT) {
		/* Only a top-level `word name {` waits for a lone name after a name. */
		char word[64];
		snprintf(word, sizeof word, "%.*s", prev->len < 60 ? prev->len : 60,
			 p->file->src->text + prev->off);
		lang_unknown_decl(p, word, prev->loc);
		return;
	}
	if (has(expected, n, "number")) {
		if (prev->kind == TOK_DOTDOT)
			lang_error(p->diags, after_prev(p),
				   "expected the upper bound of the range after '..'");
		else if (prev->kind == TOK_STEP)
			lang_error(p->diags, after_prev(p), "expected the step of the range after 'step'");
		else if (cur->kind == TOK_YYEOF)
			lang_error(p->diags, after_prev(p), "expected a value after %s", before);
		else if (has(expected, n, "shared"))
			lang_error(p->diags, cur->loc, "expected an argument before %s", got);
		else
			lang_error(p->diags, cur->loc, "expected a value before %s", got);
		return;
	}
	/* Only a statement may start with `maximize`, only a file with `import`. */
	if (has(expected, n, "maximize")) {
		lang_error(p->diags, cur->loc, "expected a statement, not %s", got);
		return;
	}
	if (has(expected, n, "import")) {
		lang_error(p->diags, cur->loc,
			   "expected a declaration (dataset, space, task, recipe, objective or target) "
			   "or an import, not %s",
			   got);
		return;
	}
	lang_loc at = cur->kind == TOK_YYEOF ? after_prev(p) : cur->loc;
	const char *list_of[8];
	int m = 0;
	for (int i = 0; i < n && m < 8; i++)
		if (!is_continuation(expected[i]))
			list_of[m++] = expected[i];
	if (m == 0) {
		for (int i = 0; i < n && m < 8; i++)
			list_of[m++] = expected[i];
	}
	expected = list_of;
	n = m;
	if (n == 0 || n > 5) {
		lang_error(p->diags, at, "unexpected %s", got);
		return;
	}
	char list[256] = "";
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		char name[64];
		symbol_name(expected[i], name, sizeof name);
		const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
		int w = snprintf(list + used, sizeof list - used, "%s%s", sep, name);
		if (w > 0 && (size_t)w < sizeof list - used)
			used += (size_t)w;
	}
	lang_error(p->diags, at, "unexpected %s, expecting %s", got, list);
}
