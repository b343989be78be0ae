/*
 * ir.c — the IR's name tables, construction and release, lookups, and the
 * canonical order that makes a module's id independent of declaration order.
 */
#include "compiler/ir.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/ir_enc.h"

/* Defines a name table and checks at compile time that it has exactly one
 * entry per enum value (an array declared with a size accepts too few). */
#define IR_NAME_TABLE(table, count, ...)                                              \
	_Static_assert(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *) == \
	                   (count),                                                         \
	               #table " needs one name per value");                                 \
	const char *const table[count] = {__VA_ARGS__}

IR_NAME_TABLE(ir_metric_names, IR_METRIC_COUNT, "accuracy", "macs", "params", "latency",
              "memory");
IR_NAME_TABLE(ir_cmp_names, IR_CMP_COUNT, "<=", "<", ">=", ">", "==");
IR_NAME_TABLE(ir_act_names, IR_ACT_COUNT, "none", "relu", "hswish");
IR_NAME_TABLE(ir_value_kind_names, IR_VALUE_COUNT, "number", "bool", "string");
IR_NAME_TABLE(ir_format_names, IR_FORMAT_COUNT, "idx", "csv");
IR_NAME_TABLE(ir_norm_names, IR_NORM_COUNT, "none", "standard", "fixed");
IR_NAME_TABLE(ir_block_names, IR_BLOCK_COUNT, "conv", "mbconv", "residual", "dense", "pool",
              "fc");
IR_NAME_TABLE(ir_sampler_names, IR_SAMPLER_COUNT, "max", "random", "sandwich");
IR_NAME_TABLE(ir_distill_names, IR_DISTILL_COUNT, "none", "inplace", "inplace+labels");
IR_NAME_TABLE(ir_shrink_names, IR_SHRINK_COUNT, "resolution", "kernel", "depth", "expand",
              "width");
IR_NAME_TABLE(ir_schedule_names, IR_SCHEDULE_COUNT, "constant", "cosine");

/*
 * ir_module_new — an empty module.  The compiler may abort on out-of-memory
 * (STYLE.md), so this never returns NULL.
 */
ir_module *ir_module_new(void)
{
	ir_module *m = calloc(1, sizeof *m);
	if (!m)
		abort();
	return m;
}

static void call_free(ir_call *c)
{
	free(c->name);
	for (int i = 0; i < c->nparams; i++) {
		free(c->params[i].key);
		free(c->params[i].string);
	}
	free(c->params);
}

static void dataset_free(ir_dataset *d)
{
	free(d->name);
	free(d->train_images);
	free(d->train_labels);
	free(d->test_images);
	free(d->test_labels);
	free(d->classes);
}

static void space_free(ir_space *s)
{
	free(s->name);
	for (int i = 0; i < s->ngenes; i++) {
		free(s->genes[i].name);
		free(s->genes[i].values);
	}
	free(s->genes);
	for (int i = 0; i < s->nstages; i++)
		free(s->stages[i].name);
	free(s->stages);
	free(s->layers);
}

/*
 * ir_module_free — releases the module and everything it owns.  Works on a
 * partly built module as long as every count matches its array (a reader
 * that fails halfway relies on this).
 */
void ir_module_free(ir_module *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->ndatasets; i++)
		dataset_free(&m->datasets[i]);
	free(m->datasets);
	for (int i = 0; i < m->nspaces; i++)
		space_free(&m->spaces[i]);
	free(m->spaces);
	for (int i = 0; i < m->ntasks; i++) {
		free(m->tasks[i].name);
		call_free(&m->tasks[i].adapt);
		call_free(&m->tasks[i].pretrain);
		call_free(&m->tasks[i].search);
	}
	free(m->tasks);
	for (int i = 0; i < m->nobjectives; i++) {
		free(m->objectives[i].name);
		free(m->objectives[i].metrics);
		free(m->objectives[i].maximize);
	}
	free(m->objectives);
	for (int i = 0; i < m->ntargets; i++) {
		free(m->targets[i].name);
		free(m->targets[i].constraints);
	}
	free(m->targets);
	free(m);
}

/* The name of element i of an array of structs whose name is at offset off. */
static const char *name_at(const void *base, size_t size, size_t off, int i)
{
	const char *elem = (const char *)base + (size_t)i * size;
	const char *name;
	memcpy(&name, elem + off, sizeof name);
	return name;
}

/* Binary search (the canonical order), then a scan (a module still being
 * built is in declaration order). */
static int find_by_name(const void *base, int n, size_t size, size_t off, const char *name)
{
	int lo = 0, hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const char *s = name_at(base, size, off, mid);
		int c = s ? strcmp(s, name) : -1;
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int i = 0; i < n; i++) {
		const char *s = name_at(base, size, off, i);
		if (s && strcmp(s, name) == 0)
			return i;
	}
	return -1;
}

/*
 * ir_module_find_task, _target, _objective — index of the named declaration,
 * or -1.
 */
int ir_module_find_task(const ir_module *m, const char *name)
{
	return find_by_name(m->tasks, m->ntasks, sizeof *m->tasks, offsetof(ir_task, name), name);
}

int ir_module_find_target(const ir_module *m, const char *name)
{
	return find_by_name(m->targets, m->ntargets, sizeof *m->targets,
	                    offsetof(ir_target, name), name);
}

int ir_module_find_objective(const ir_module *m, const char *name)
{
	return find_by_name(m->objectives, m->nobjectives, sizeof *m->objectives,
	                    offsetof(ir_objective, name), name);
}

/*
 * ir_space_find_gene — index of the named gene, or -1.  Genes are kept in
 * lowering order (layers refer to them by index), so this scans.
 */
int ir_space_find_gene(const ir_space *s, const char *name)
{
	for (int i = 0; i < s->ngenes; i++)
		if (s->genes[i].name && strcmp(s->genes[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * ir_call_param — the parameter with this key, or NULL.
 */
const ir_param *ir_call_param(const ir_call *c, const char *key)
{
	for (int i = 0; i < c->nparams; i++)
		if (c->params[i].key && strcmp(c->params[i].key, key) == 0)
			return &c->params[i];
	return NULL;
}

/* --- canonical order ------------------------------------------------------ */

typedef struct sort_item {
	const char *name;
	int old;
} sort_item;

static int sort_item_cmp(const void *a, const void *b)
{
	const sort_item *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return (x->old > y->old) - (x->old < y->old);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

/* Sorts an array of n structs of the given size by the name at offset off,
 * in place, and returns the map old index -> new index (caller frees). */
static int *sort_by_name(void *base, int n, size_t size, size_t off)
{
	sort_item *items = xmalloc((size_t)n * sizeof *items);
	for (int i = 0; i < n; i++) {
		items[i].name = name_at(base, size, off, i);
		assert(items[i].name && "declarations have names");
		items[i].old = i;
	}
	qsort(items, (size_t)n, sizeof *items, sort_item_cmp);
	int *map = xmalloc((size_t)n * sizeof *map);
	char *tmp = xmalloc((size_t)n * size);
	for (int i = 0; i < n; i++) {
		map[items[i].old] = i;
		memcpy(tmp + (size_t)i * size, (char *)base + (size_t)items[i].old * size, size);
	}
	if (n)
		memcpy(base, tmp, (size_t)n * size);
	free(tmp);
	free(items);
	return map;
}

static int remap(const int *map, int n, int idx, int none_ok)
{
	if (none_ok && idx == -1)
		return -1;
	assert(idx >= 0 && idx < n && "index into a declaration list");
	return map[idx];
}

/*
 * ir_param_order — the canonical order of call parameters: by key, then (for
 * equal keys, which the compiler refuses) by value.
 */
int ir_param_order(const ir_param *x, const ir_param *y)
{
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	/* Equal keys are a compiler bug, but still sort deterministically. */
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->kind == IR_VALUE_STRING) {
		if (!x->string || !y->string)
			return (x->string != NULL) - (y->string != NULL);
		return strcmp(x->string, y->string);
	}
	return ir_f64_order(x->number, y->number);
}

static int param_cmp(const void *a, const void *b)
{
	return ir_param_order(a, b);
}

static void sort_call(ir_call *c)
{
	for (int i = 0; i < c->nparams; i++)
		assert(c->params[i].key && "parameters have keys");
	if (c->nparams > 1)
		qsort(c->params, (size_t)c->nparams, sizeof *c->params, param_cmp);
}

/*
 * ir_constraint_order — the canonical order of a target's constraints.
 */
int ir_constraint_order(const ir_constraint *x, const ir_constraint *y)
{
	if (x->metric != y->metric)
		return x->metric < y->metric ? -1 : 1;
	if (x->cmp != y->cmp)
		return x->cmp < y->cmp ? -1 : 1;
	return ir_f64_order(x->value, y->value);
}

static int constraint_cmp(const void *a, const void *b)
{
	return ir_constraint_order(a, b);
}

/*
 * ir_module_canonicalize — see ir.h.  Each sort is O(n log n), so a module
 * with many declarations canonicalises in time linear in its size times a
 * log factor.
 */
void ir_module_canonicalize(ir_module *m)
{
	int *dmap = sort_by_name(m->datasets, m->ndatasets, sizeof *m->datasets,
	                         offsetof(ir_dataset, name));
	int *smap = sort_by_name(m->spaces, m->nspaces, sizeof *m->spaces,
	                         offsetof(ir_space, name));
	int *tmap = sort_by_name(m->tasks, m->ntasks, sizeof *m->tasks, offsetof(ir_task, name));
	int *omap = sort_by_name(m->objectives, m->nobjectives, sizeof *m->objectives,
	                         offsetof(ir_objective, name));
	int *gmap = sort_by_name(m->targets, m->ntargets, sizeof *m->targets,
	                         offsetof(ir_target, name));
	for (int i = 0; i < m->ntasks; i++) {
		ir_task *t = &m->tasks[i];
		t->dataset = remap(dmap, m->ndatasets, t->dataset, 0);
		t->space = remap(smap, m->nspaces, t->space, 0);
		t->from = remap(tmap, m->ntasks, t->from, 1);
		t->objective = remap(omap, m->nobjectives, t->objective, 1);
		sort_call(&t->adapt);
		sort_call(&t->pretrain);
		sort_call(&t->search);
	}
	for (int i = 0; i < m->ntargets; i++) {
		ir_target *g = &m->targets[i];
		if (g->nconstraints > 1)
			qsort(g->constraints, (size_t)g->nconstraints, sizeof *g->constraints,
			      constraint_cmp);
	}
	for (int i = 0; i < m->ntasks; i++)
		ir_task_supernet_key(m, i, m->tasks[i].supernet_key);
	free(dmap);
	free(smap);
	free(tmap);
	free(omap);
	free(gmap);
}
