/*
 * cc.c — the compiler driver: reads the main file and its imports (each
 * file once, by real path; cycles reported with their chain), registers
 * every declaration in one name table per kind, lowers what the main file
 * needs, and canonicalises the module.
 *
 * What lands in the module: every declaration of the main file, whatever
 * they reference from imports, and every objective and target of every
 * file (requests name targets, so imported ones must be there).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "compiler/cc_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang/lang.h"

cc_files *cc_files_new(void)
{
	return cc_xcalloc(1, sizeof(cc_files));
}

void cc_files_free(cc_files *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		ast_file_free(f->units[i]->ast);
		free(f->units[i]->real);
		free(f->units[i]->dir);
		free(f->units[i]);
	}
	free(f->units);
	free(f);
}

void cc_options_init(cc_options *o)
{
	memset(o, 0, sizeof *o);
}

const char *cc_default_stdlib_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash && (size_t)(slash - exe) + sizeof "/config.status" < sizeof exe) {
			strcpy(slash, "/config.status");
			if (access(exe, F_OK) == 0)
				return ARCHD_BUILD_STDLIB_DIR;
		}
	}
	return ARCHD_STDLIB_DIR;
}

/* The directory part of a path ("" when it has none), malloc'd. */
static char *cc_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return cc_xstrdup("");
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	char *r = cc_xmalloc(n + 1);
	memcpy(r, path, n);
	r[n] = 0;
	return r;
}

/* A path for messages: "./a/../b.arch" -> "b.arch".  Lexical only: the
 * real path decides identity, this one only has to read well. */
static char *cc_path_tidy(char *p)
{
	char *parts[256];
	int n = 0, abs = p[0] == '/';
	char *save = NULL;
	for (char *tok = strtok_r(p, "/", &save); tok && n < 256; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..") && n > 0 && strcmp(parts[n - 1], ".."))
			n--;
		else
			parts[n++] = tok;
	}
	size_t len = 2;
	for (int i = 0; i < n; i++)
		len += strlen(parts[i]) + 1;
	char *r = cc_xmalloc(len);
	r[0] = 0;
	if (abs)
		strcat(r, "/");
	for (int i = 0; i < n; i++) {
		strcat(r, parts[i]);
		if (i < n - 1)
			strcat(r, "/");
	}
	if (!r[0])
		strcat(r, ".");
	free(p);
	return r;
}

static int cc_is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Import state: the files being read, innermost last. */
typedef struct cc_loader {
	cc_ctx *c;
	cc_unit **stack;
	int depth, cap;
	cc_unit **order; /* finished, imports before importers */
	int norder;
} cc_loader;

static cc_unit *cc_unit_find(cc_files *f, const char *real)
{
	for (int i = 0; i < f->n; i++)
		if (f->units[i]->real && !strcmp(f->units[i]->real, real))
			return f->units[i];
	return NULL;
}

static cc_unit *cc_unit_add(cc_files *f, ast_file *ast, const char *real, const char *dir)
{
	cc_unit *u = cc_xcalloc(1, sizeof *u);
	u->ast = ast;
	u->real = real ? cc_xstrdup(real) : NULL;
	u->dir = cc_xstrdup(dir);
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->units = cc_xrealloc(f->units, (size_t)f->cap * sizeof *f->units);
	}
	f->units[f->n++] = u;
	return u;
}

static void cc_load_imports(cc_loader *L, cc_unit *u);

static void cc_cycle_error(cc_loader *L, const ast_import *imp, cc_unit *target)
{
	char buf[2048];
	size_t k = 0;
	int from = 0;
	while (from < L->depth && L->stack[from] != target)
		from++;
	buf[0] = 0;
	for (int i = from; i <= L->depth && k + 1 < sizeof buf; i++) {
		const cc_unit *x = i < L->depth ? L->stack[i] : target;
		int w = snprintf(buf + k, sizeof buf - k, "%s%s", i > from ? " -> " : "",
				 x->ast->src->name);
		if (w < 0)
			break;
		k += (size_t)w;
	}
	lang_error(L->c->d, imp->loc, "import cycle: %s", buf);
}

/* Finds the file an import names; returns the path to show in messages
 * (malloc'd) and sets *open to the path to read (malloc'd), or returns NULL
 * after reporting where it looked. */
static char *cc_find_import(cc_loader *L, const cc_unit *u, const ast_import *imp, char **open)
{
	const cc_options *o = L->c->opt;
	const char *p = imp->path;
	char *shown_dir = cc_dirname(u->ast->src->name);
	char *found = NULL;
	char tried[4096];
	size_t k = 0;
	tried[0] = 0;
#define CC_TRY(dirshown, dirreal)                                                          \
	do {                                                                               \
		char *real_ = cc_path_join((dirreal), p);                                  \
		if (!found && cc_is_file(real_)) {                                         \
			found = cc_path_tidy(cc_path_join((dirshown), p));                 \
			*open = real_;                                                     \
		} else {                                                                   \
			free(real_);                                                       \
		}                                                                          \
		if (k + 1 < sizeof tried) {                                                \
			int w_ = snprintf(tried + k, sizeof tried - k, "%s%s", k ? ", " : "", \
					  (dirshown)[0] ? (dirshown) : ".");               \
			if (w_ > 0)                                                        \
				k += (size_t)w_;                                           \
		}                                                                          \
	} while (0)
	if (p[0] == '/') {
		if (cc_is_file(p)) {
			found = cc_xstrdup(p);
			*open = cc_xstrdup(p);
		}
	} else if (!strncmp(p, "./", 2) || !strncmp(p, "../", 3)) {
		CC_TRY(shown_dir, u->dir);
	} else {
		for (int i = 0; i < o->ninclude_dirs; i++)
			CC_TRY(o->include_dirs[i], o->include_dirs[i]);
		CC_TRY(shown_dir, u->dir);
		const char *ap = o->arch_path;
		while (ap && *ap) {
			size_t n = strcspn(ap, ":");
			if (n > 0) {
				char *dir = cc_xmalloc(n + 1);
				memcpy(dir, ap, n);
				dir[n] = 0;
				CC_TRY(dir, dir);
				free(dir);
			}
			ap += n;
			if (*ap == ':')
				ap++;
		}
		if (o->stdlib_dir && o->stdlib_dir[0])
			CC_TRY(o->stdlib_dir, o->stdlib_dir);
	}
#undef CC_TRY
	free(shown_dir);
	if (!found) {
		if (p[0] == '/')
			lang_error(L->c->d, imp->loc, "cannot find import '%s'", p);
		else
			lang_error(L->c->d, imp->loc, "cannot find import '%s' (searched: %s)", p,
				   tried);
	}
	return found;
}

static void cc_push(cc_loader *L, cc_unit *u)
{
	if (L->depth == L->cap) {
		L->cap = L->cap ? L->cap * 2 : 8;
		L->stack = cc_xrealloc(L->stack, (size_t)L->cap * sizeof *L->stack);
	}
	L->stack[L->depth++] = u;
	u->loading = 1;
}

static void cc_pop(cc_loader *L, cc_unit *u)
{
	u->loading = 0;
	L->depth--;
	L->order = cc_xrealloc(L->order, (size_t)(L->norder + 1) * sizeof *L->order);
	L->order[L->norder++] = u;
}

/* Files nested deeper in imports than this are refused (loading recurses
 * once per level). */
#define CC_MAX_IMPORT_DEPTH 64

static void cc_load_one(cc_loader *L, const cc_unit *from, const ast_import *imp)
{
	if (L->depth > CC_MAX_IMPORT_DEPTH) {
		lang_error(L->c->d, imp->loc, "imports nested more than %d deep (a file importing one "
			   "importing ...)", CC_MAX_IMPORT_DEPTH);
		return;
	}
	char *path = NULL;
	char *shown = cc_find_import(L, from, imp, &path);
	if (!shown)
		return;
	char real[PATH_MAX];
	if (!realpath(path, real)) {
		lang_error(L->c->d, imp->loc, "cannot read '%s': %s", shown, strerror(errno));
		free(shown);
		free(path);
		return;
	}
	cc_unit *u = cc_unit_find(L->c->files, real);
	if (u) {
		if (u->loading)
			cc_cycle_error(L, imp, u);
		free(shown);
		free(path);
		return;
	}
	lang_source *src = lang_source_read(real);
	if (!src) {
		lang_error(L->c->d, imp->loc, "cannot read '%s': %s", shown, strerror(errno));
		free(shown);
		free(path);
		return;
	}
	free(src->name);
	src->name = shown;
	char *dir = cc_dirname(real);
	u = cc_unit_add(L->c->files, lang_parse(src, L->c->d), real, dir);
	free(dir);
	free(path);
	cc_push(L, u);
	cc_load_imports(L, u);
	cc_pop(L, u);
}

static void cc_load_imports(cc_loader *L, cc_unit *u)
{
	for (int i = 0; i < u->ast->nimports; i++)
		cc_load_one(L, u, &u->ast->imports[i]);
}

/* Enters every declaration of the files, imports first, so a clash is
 * reported at the later one with a note at the earlier. */
static void cc_register(cc_ctx *c, cc_unit *const *order, int n)
{
	for (int i = 0; i < n; i++) {
		ast_file *f = order[i]->ast;
		for (int j = 0; j < f->ndecls; j++) {
			ast_decl *dc = f->decls[j];
			if (!dc->name)
				continue;
			int dup;
			cc_sym *s = cc_table_add(&c->syms[dc->kind], dc->name, &dup);
			if (dup) {
				lang_error(c->d, dc->name_loc, "duplicate %s '%s'",
					   ast_decl_kind_names[dc->kind], dc->name);
				lang_note(c->d, s->decl->name_loc, "first defined here");
				continue;
			}
			s->decl = dc;
			s->unit = order[i];
		}
	}
}

static void cc_alloc_module(cc_ctx *c, cc_unit *const *order, int n)
{
	int count[AST_DECL_COUNT] = {0};
	for (int i = 0; i < n; i++)
		for (int j = 0; j < order[i]->ast->ndecls; j++)
			count[order[i]->ast->decls[j]->kind]++;
	ir_module *m = ir_module_new();
	m->datasets = cc_xcalloc((size_t)(count[AST_DECL_DATASET] + count[AST_DECL_TASK]) + 1,
				 sizeof *m->datasets);
	m->spaces = cc_xcalloc((size_t)count[AST_DECL_SPACE] + 1, sizeof *m->spaces);
	m->tasks = cc_xcalloc((size_t)count[AST_DECL_TASK] + 1, sizeof *m->tasks);
	m->objectives = cc_xcalloc((size_t)count[AST_DECL_OBJECTIVE] + 1, sizeof *m->objectives);
	m->targets = cc_xcalloc((size_t)count[AST_DECL_TARGET] + 1, sizeof *m->targets);
	for (int k = 0; k < AST_DECL_COUNT; k++)
		c->cap[k] = count[k];
	c->anon_cap = count[AST_DECL_TASK];
	c->space_syms = cc_xcalloc((size_t)count[AST_DECL_SPACE] + 1, sizeof *c->space_syms);
	c->m = m;
}

int cc_lower_base(cc_ctx *c, cc_sym *sym, lang_loc at, int (*lower)(cc_ctx *, cc_sym *))
{
	if (c->chain >= CC_MAX_CHAIN) {
		/* the rest of a long chain would start a new one from each of
		 * its declarations: one error says it */
		if (!c->chain_too_long++)
			lang_error(c->d, at, "'%s' is more than %d 'from' links deep (each derived from the next)",
				   sym->decl->name, CC_MAX_CHAIN);
		return -1;
	}
	c->chain++;
	int r = lower(c, sym);
	c->chain--;
	return r;
}

static int cc_lower_sym(cc_ctx *c, cc_sym *s)
{
	switch (s->decl->kind) {
	case AST_DECL_DATASET:
		return cc_lower_dataset(c, s);
	case AST_DECL_SPACE:
		return cc_lower_space(c, s);
	case AST_DECL_TASK:
		return cc_lower_task(c, s);
	case AST_DECL_OBJECTIVE:
		return cc_lower_objective(c, s);
	case AST_DECL_TARGET:
		return cc_lower_target(c, s);
	case AST_DECL_RECIPE:
		return cc_lower_recipe(c, s);
	case AST_DECL_COUNT:
		break;
	}
	return -1;
}

static void cc_lower_all(cc_ctx *c, cc_unit *main, cc_unit *const *order, int n)
{
	for (int j = 0; j < main->ast->ndecls; j++) {
		ast_decl *dc = main->ast->decls[j];
		cc_sym *s = dc->name ? cc_table_find(&c->syms[dc->kind], dc->name) : NULL;
		if (s && s->decl == dc)
			cc_lower_sym(c, s);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < order[i]->ast->ndecls; j++) {
			ast_decl *dc = order[i]->ast->decls[j];
			if (dc->kind != AST_DECL_OBJECTIVE && dc->kind != AST_DECL_TARGET)
				continue;
			cc_sym *s = dc->name ? cc_table_find(&c->syms[dc->kind], dc->name) : NULL;
			if (s && s->decl == dc)
				cc_lower_sym(c, s);
		}
}

cc_sym *cc_resolve(cc_ctx *c, ast_decl_kind k, const ast_expr *e, const char *role)
{
	const char *kind = ast_decl_kind_names[k];
	if (e->kind != AST_EXPR_IDENT) {
		lang_error(c->d, e->loc, "expected the name of a %s for '%s', got %s", kind, role,
			   cc_expr_what(e));
		return NULL;
	}
	cc_sym *s = cc_table_find(&c->syms[k], e->string);
	if (s)
		return s;
	for (int other = 0; other < AST_DECL_COUNT; other++) {
		cc_sym *o = other == (int)k ? NULL : cc_table_find(&c->syms[other], e->string);
		if (o) {
			lang_error(c->d, e->loc, "'%s' is a %s, not a %s", e->string,
				   ast_decl_kind_names[other], kind);
			lang_note(c->d, o->decl->name_loc, "'%s' is declared here", e->string);
			return NULL;
		}
	}
	int n;
	const char **names = cc_table_names(&c->syms[k], &n);
	cc_error_suggest(c, e->loc, e->string, names, n, "unknown %s '%s'", kind, e->string);
	free(names);
	return NULL;
}

/* errors0: the error count before the main file was parsed. */
static ir_module *cc_compile(cc_ctx *c, cc_unit *main, int errors0)
{
	cc_loader L = {0};
	L.c = c;
	cc_push(&L, main);
	cc_load_imports(&L, main);
	cc_pop(&L, main);
	free(L.stack);
	ir_module *m = NULL;
	/* Semantic checks on a tree with syntax errors or missing imports
	 * would mostly report their echoes. */
	if (c->d->nerrors == errors0) {
		for (int k = 0; k < AST_DECL_COUNT; k++)
			cc_table_init(&c->syms[k]);
		cc_register(c, L.order, L.norder);
		cc_alloc_module(c, L.order, L.norder);
		cc_lower_all(c, main, L.order, L.norder);
		for (int k = 0; k < AST_DECL_COUNT; k++)
			cc_table_free(&c->syms[k]);
		free(c->space_syms);
		m = c->m;
		if (c->d->nerrors != errors0) {
			ir_module_free(m);
			m = NULL;
		} else {
			ir_module_canonicalize(m);
		}
	}
	free(L.order);
	return m;
}

static ir_module *cc_run(const cc_options *o, lang_diags *d, lang_source *src, const char *real,
			 const char *dir)
{
	cc_ctx c;
	memset(&c, 0, sizeof c);
	c.opt = o;
	c.d = d;
	c.files = o->files ? o->files : cc_files_new();
	int n0 = d->n;
	int errors0 = d->nerrors;
	cc_unit *main = cc_unit_add(c.files, lang_parse(src, d), real, dir);
	ir_module *m = cc_compile(&c, main, errors0);
	if (!o->files) {
		for (int i = n0; i < d->n; i++)
			d->items[i].loc.src = NULL;
		cc_files_free(c.files);
	}
	return m;
}

ir_module *cc_compile_file(const char *path, const cc_options *o, lang_diags *d)
{
	char real[PATH_MAX];
	lang_loc none = {0};
	if (!realpath(path, real)) {
		lang_error(d, none, "cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (!cc_is_file(real)) {
		lang_error(d, none, "cannot read '%s': not a regular file", path);
		return NULL;
	}
	lang_source *src = lang_source_read(real);
	if (!src) {
		lang_error(d, none, "cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	free(src->name);
	src->name = cc_xstrdup(path);
	char *dir = cc_dirname(real);
	ir_module *m = cc_run(o, d, src, real, dir);
	free(dir);
	return m;
}

ir_module *cc_compile_source(const char *name, const char *text, size_t len,
			     const cc_options *o, lang_diags *d)
{
	char cwd[PATH_MAX];
	const char *dir = o->source_dir;
	if (!dir) {
		if (!getcwd(cwd, sizeof cwd)) {
			lang_loc none = {0};
			lang_error(d, none, "cannot find the current directory: %s", strerror(errno));
			return NULL;
		}
		dir = cwd;
	}
	return cc_run(o, d, lang_source_new(name, text, len), NULL, dir);
}
