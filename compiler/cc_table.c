/*
 * cc_table.c — the symbol table of one declaration kind: open addressing
 * with linear probing over FNV-1a hashes, so resolving a name costs O(1)
 * however large the file (compile speed is a goal: see bench/compile).
 */
#include "compiler/cc_priv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t cc_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

void cc_table_init(cc_table *t)
{
	t->slots = NULL;
	t->cap = 0;
	t->n = 0;
}

void cc_table_free(cc_table *t)
{
	free(t->slots);
	cc_table_init(t);
}

cc_sym *cc_table_find(const cc_table *t, const char *name)
{
	if (!t->cap)
		return NULL;
	size_t mask = t->cap - 1;
	for (size_t i = cc_hash(name) & mask;; i = (i + 1) & mask) {
		cc_sym *s = &t->slots[i];
		if (!s->name)
			return NULL;
		if (!strcmp(s->name, name))
			return s;
	}
}

static void cc_table_grow(cc_table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 16;
	cc_sym *old = t->slots;
	size_t ocap = t->cap;
	t->slots = cc_xcalloc(ncap, sizeof *t->slots);
	t->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].name)
			continue;
		size_t j = cc_hash(old[i].name) & (ncap - 1);
		while (t->slots[j].name)
			j = (j + 1) & (ncap - 1);
		t->slots[j] = old[i];
	}
	free(old);
}

cc_sym *cc_table_add(cc_table *t, const char *name, int *dup)
{
	cc_sym *s = cc_table_find(t, name);
	*dup = s != NULL;
	if (s)
		return s;
	if ((t->n + 1) * 4 > t->cap * 3)
		cc_table_grow(t);
	size_t mask = t->cap - 1;
	size_t i = cc_hash(name) & mask;
	while (t->slots[i].name)
		i = (i + 1) & mask;
	s = &t->slots[i];
	memset(s, 0, sizeof *s);
	s->name = name;
	s->index = -1;
	t->n++;
	return s;
}

static int cc_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **cc_table_names(const cc_table *t, int *n)
{
	const char **v = cc_xmalloc((t->n ? t->n : 1) * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].name)
			v[k++] = t->slots[i].name;
	/* Sorted, so the suggestion does not depend on hash order. */
	qsort(v, k, sizeof *v, cc_cmp_str);
	*n = (int)k;
	return v;
}
