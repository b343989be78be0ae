/*
 * cc_priv.h — state shared by the compiler's files (driver, value readers,
 * lowering of each declaration kind).  Private to compiler/.  Prefix: cc_.
 */
#ifndef ARCHD_COMPILER_CC_PRIV_H
#define ARCHD_COMPILER_CC_PRIV_H

#include <stddef.h>

#include "compiler/cc.h"
#include "compiler/ir.h"
#include "lang/ast.h"
#include "lang/loc.h"

/* One parsed file. */
typedef struct cc_unit {
	ast_file *ast;
	char *real; /* realpath, NULL for an in-memory source */
	char *dir;  /* absolute directory: imports and dataset paths */
	int loading; /* on the import stack (cycle detection) */
} cc_unit;

struct cc_files {
	int n, cap;
	cc_unit **units;
};

typedef enum cc_state {
	CC_SYM_NEW,  /* not lowered yet */
	CC_SYM_BUSY, /* being lowered: a reference back is a cycle */
	CC_SYM_DONE
} cc_state;

/* A declared name. */
typedef struct cc_sym {
	const char *name;
	ast_decl *decl;
	cc_unit *unit;
	cc_state state;
	int index; /* into the module's list once DONE, -1 when it failed */
} cc_sym;

/* Open-addressing table of names for one declaration kind. */
typedef struct cc_table {
	cc_sym *slots;
	size_t cap, n;
} cc_table;

typedef struct cc_ctx {
	const cc_options *opt;
	lang_diags *d;
	cc_files *files;
	cc_table syms[AST_DECL_COUNT];
	ir_module *m;
	/* Lists are allocated once for the worst case, so pointers into
	 * them stay valid while lowering recurses. */
	int cap[AST_DECL_COUNT];
	int anon_cap; /* extra dataset slots for `data = d where ...` */
	cc_sym **space_syms; /* the declaration of each lowered space */
	int chain;           /* 'from' links being lowered (cc_lower_base) */
	int chain_too_long;  /* a chain went past CC_MAX_CHAIN (reported once) */
} cc_ctx;

/* --- cc_table.c ---------------------------------------------------------- */

void cc_table_init(cc_table *t);
void cc_table_free(cc_table *t);
/* Returns the symbol for name, or NULL. */
cc_sym *cc_table_find(const cc_table *t, const char *name);
/* Adds name; returns the new symbol, or the existing one with *dup set. */
cc_sym *cc_table_add(cc_table *t, const char *name, int *dup);
/* Every name of the table in a stable order, for did-you-mean; the caller
 * frees the array (not the strings). */
const char **cc_table_names(const cc_table *t, int *n);

/* --- cc_value.c: reading values with precise messages -------------------- */

/* "a number", "a string", "a set" ...: for "expected X, got Y". */
const char *cc_expr_what(const ast_expr *e);
/* Appends "; did you mean 'x'?" to the message when one is close. */
void cc_error_suggest(cc_ctx *c, lang_loc loc, const char *word, const char *const *cands,
		      int n, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* An integer without unit in [min, max].  Returns 0, or -1 after an error. */
int cc_int(cc_ctx *c, const ast_expr *e, const char *what, long min, long max, int *out);
/* A number without unit in [min, max]. */
int cc_num(cc_ctx *c, const ast_expr *e, const char *what, double min, double max,
	   double *out);
int cc_bool(cc_ctx *c, const ast_expr *e, const char *what, int *out);
int cc_string(cc_ctx *c, const ast_expr *e, const char *what, const char **out);
/* A name among names[0..n); returns its index or -1 after an error. */
int cc_choice(cc_ctx *c, const ast_expr *e, const char *what, const char *const *names, int n);
/* The set of integers in [min, max] written `= v`, `in {a, b}` or
 * `in lo..hi [step s]`: sorted, distinct, non-empty.  *vals is malloc'd.
 * Returns 0, or -1 after an error. */
int cc_int_domain(cc_ctx *c, ast_op op, const ast_expr *e, const char *what, long min, long max,
		  int **vals, int *n);

/* Statement forms a key accepts. */
enum {
	CC_F_ASSIGN = 1, /* key = value; */
	CC_F_IN = 2,     /* key in domain; */
	CC_F_CLAUSE = 4, /* key arg, ...; */
	CC_F_BLOCK = 8,  /* key [name] { ... } */
	CC_F_MULTI = 16  /* may appear more than once */
};

typedef struct cc_key {
	const char *name;
	unsigned forms;
	const char *usage; /* how it is written, for messages */
} cc_key;

/* Looks up every statement of body in keys: out[i] receives the statement
 * for keys[i] (the first one for a CC_F_MULTI key) or NULL.  Reports unknown
 * keys with a suggestion, statements of the wrong form and repeated keys.
 * `where` names the enclosing construct ("dataset 'd'"). */
void cc_scan(cc_ctx *c, ast_stmt *const *body, int n, const cc_key *keys, int nkeys,
	     const char *where, const ast_stmt **out);

/* --- cc_call.c: table-driven methods such as nat(iterations = 4) --------- */

typedef enum cc_pkind {
	CC_P_INT,
	CC_P_NUM,
	CC_P_BOOL,
	CC_P_NAME /* one of choices */
} cc_pkind;

typedef struct cc_param_spec {
	const char *name;
	cc_pkind kind;
	double def;        /* default (INT, NUM, BOOL) */
	double min, max;   /* INT, NUM */
	const char *choices; /* NAME: space-separated; the first is the default */
} cc_param_spec;

typedef struct cc_method {
	const char *name;
	const cc_param_spec *params;
	int nparams;
	int positional; /* arguments may be given by position, in table order */
} cc_method;

/* Lowers `name` or `name(args)` against a table of methods into out (name
 * and every parameter, defaults filled, sorted by key).  `none` is accepted
 * when allow_none (out->name stays NULL).  Returns the method's index, -1
 * for none, -2 after an error (out then holds what could be read). */
int cc_call(cc_ctx *c, const ast_expr *e, const char *what, const cc_method *methods, int n,
	    int allow_none, ir_call *out);
/* The same for a block of `key = value;` statements (`search { ... }`)
 * read as the parameters of method m; block may be NULL (all defaults).
 * Returns 0, or -1 after an error. */
int cc_call_block(cc_ctx *c, const ast_stmt *block, const cc_method *m, ir_call *out);
/* The value of a parameter cc_call filled (numbers and booleans). */
double cc_call_num(const ir_call *call, const char *key);
const char *cc_call_str(const ir_call *call, const char *key);
void cc_call_clear(ir_call *call);

/* Method tables (cc_methods.c), each documented in docs/arch.5. */
extern const cc_method cc_adapt_methods[];
extern const int cc_adapt_nmethods;
extern const cc_method cc_pretrain_methods[];
extern const int cc_pretrain_nmethods;
extern const cc_method cc_search_method;
extern const cc_method cc_optimizer_methods[];
extern const int cc_optimizer_nmethods;
extern const cc_method cc_schedule_methods[];
extern const int cc_schedule_nmethods;
extern const cc_method cc_sampler_methods[];
extern const int cc_sampler_nmethods;
extern const cc_method cc_distill_methods[];
extern const int cc_distill_nmethods;
extern const cc_method cc_normalize_methods[];
extern const int cc_normalize_nmethods;
extern const cc_method cc_augment_methods[];
extern const int cc_augment_nmethods;

/* --- cc_util.c ------------------------------------------------------------- */

void *cc_xmalloc(size_t n);
void *cc_xcalloc(size_t n, size_t size);
void *cc_xrealloc(void *p, size_t n);
char *cc_xstrdup(const char *s);
/* "dir/rel", or rel itself when it is absolute; malloc'd. */
char *cc_path_join(const char *dir, const char *rel);

/* --- lowering, one file per declaration kind --------------------------------- */

/* Each lowers the declaration of sym once (later calls return the cached
 * index) and returns its index in the module, or -1 when it failed or
 * takes part in a cycle. */
int cc_lower_dataset(cc_ctx *c, cc_sym *sym);
int cc_lower_space(cc_ctx *c, cc_sym *sym);
int cc_lower_task(cc_ctx *c, cc_sym *sym);
int cc_lower_objective(cc_ctx *c, cc_sym *sym);
int cc_lower_target(cc_ctx *c, cc_sym *sym);
/* Checks a recipe declaration (and the recipes it derives from); returns
 * 0, or -1 after errors or in a derivation cycle.  Recipes have no list in
 * the module: tasks copy them (cc_recipe_apply). */
int cc_lower_recipe(cc_ctx *c, cc_sym *sym);

/* Longest chain of 'from' links (task, dataset or recipe derived from one
 * derived from ...): lowering recurses once per link. */
#define CC_MAX_CHAIN 200
/* Lowers sym, the base named at `at` of a derivation, one link deeper with
 * `lower` (one of the above): -1 with an error at `at` past CC_MAX_CHAIN
 * links. */
int cc_lower_base(cc_ctx *c, cc_sym *sym, lang_loc at, int (*lower)(cc_ctx *, cc_sym *));

/* --- lower_recipe.c: training recipes -------------------------------------- */

/* The recipe a task starts from when it gives none (depends on whether
 * the space, which may be NULL, has more than one subnet). */
ir_recipe cc_recipe_default(const ir_space *s);
/* Reads the statements of a train block or recipe body over *r; `where`
 * names it in messages ("train", "recipe 'x'"); space, when not NULL,
 * enables the warnings about settings that do nothing for it. */
void cc_train_read(cc_ctx *c, ir_recipe *r, ast_stmt *const *body, int nbody, const char *where,
		   const ir_space *space);
/* Applies a recipe that cc_lower_recipe accepted (its bases first) over
 * *r, reporting only the warnings about `space` not yet reported. */
void cc_recipe_apply(cc_ctx *c, cc_sym *sym, ir_recipe *r, const ir_space *space);

/* Finds a declaration of kind k named by an identifier expression, with
 * did-you-mean and a note when the name is declared as another kind.
 * `role` is what the name is for ("data", "space", "from").  Returns NULL
 * after an error. */
cc_sym *cc_resolve(cc_ctx *c, ast_decl_kind k, const ast_expr *e, const char *role);

/* Appends a dataset derived from base (index) through a `where label in
 * {...}` filter; used by datasets and by `data = d where ...` in tasks.
 * Returns the new index, or -1 after an error.  name is copied. */
int cc_dataset_filter(cc_ctx *c, int base, const ast_expr *where, const char *name);

/* Number of subnets of a lowered space (product of gene sizes). */
double cc_space_subnets(const ir_space *s);

#endif
