/*
 * arena.c — the bump allocator that holds a file's syntax tree.
 *
 * A tree is built once and freed as a whole, so nodes and strings are
 * carved out of large chunks: parsing makes no malloc per node, and
 * ast_file_free() frees a handful of chunks instead of walking the tree.
 */
/* madvise(MADV_HUGEPAGE) is a Linux extension. */
#define _DEFAULT_SOURCE 1

#include "lang/parse.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct lang_arena {
	struct lang_arena_chunk *chunks; /* newest first */
	size_t next_size;
};

/* What the tree holds needs pointer or double alignment, never more. */
typedef union arena_align {
	void *p;
	double d;
	long long l;
} arena_align;

typedef struct lang_arena_chunk {
	struct lang_arena_chunk *next;
	size_t used, cap;
	alignas(arena_align) unsigned char data[];
} lang_arena_chunk;

enum { ARENA_FIRST = 16 * 1024, ARENA_MAX = 8 * 1024 * 1024, ARENA_HUGE = 2 * 1024 * 1024 };

lang_arena *lang_arena_new(void)
{
	lang_arena *a = lang_xmalloc(sizeof *a);
	a->chunks = NULL;
	a->next_size = ARENA_FIRST;
	return a;
}

void lang_arena_free(lang_arena *a)
{
	if (!a)
		return;
	for (lang_arena_chunk *c = a->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

static size_t round_up(size_t n)
{
	size_t al = alignof(arena_align);
	return (n + al - 1) / al * al;
}

/*
 * A big syntax tree touches tens of megabytes once; on small pages the page
 * faults cost more than the parsing.  Chunks of 2 MiB and more are
 * allocated huge-page aligned and offered to transparent huge pages.
 */
static lang_arena_chunk *chunk_new(size_t cap)
{
	size_t bytes = sizeof(lang_arena_chunk) + cap;
	if (cap < ARENA_HUGE)
		return lang_xmalloc(bytes);
	bytes = (bytes + ARENA_HUGE - 1) / ARENA_HUGE * ARENA_HUGE;
	lang_arena_chunk *c = aligned_alloc(ARENA_HUGE, bytes);
	if (!c)
		return lang_xmalloc(sizeof(lang_arena_chunk) + cap);
#ifdef MADV_HUGEPAGE
	madvise(c, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
	return c;
}

void *lang_arena_alloc(lang_arena *a, size_t n)
{
	n = round_up(n ? n : 1);
	lang_arena_chunk *c = a->chunks;
	if (!c || c->cap - c->used < n) {
		size_t cap = a->next_size;
		if (a->next_size < ARENA_MAX)
			a->next_size *= 2;
		if (cap < n)
			cap = n;
		c = chunk_new(cap);
		c->used = 0;
		c->cap = cap;
		c->next = a->chunks;
		a->chunks = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

void *lang_arena_zalloc(lang_arena *a, size_t n)
{
	return memset(lang_arena_alloc(a, n), 0, n);
}

char *lang_arena_strndup(lang_arena *a, const char *s, size_t n)
{
	char *d = lang_arena_alloc(a, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void *lang_arena_grow(lang_arena *a, void *old, size_t old_size, size_t new_size)
{
	lang_arena_chunk *c = a->chunks;
	/* The newest block grows in place when its chunk has room. */
	if (old && c && (unsigned char *)old + round_up(old_size) == c->data + c->used &&
	    round_up(new_size) - round_up(old_size) <= c->cap - c->used) {
		c->used += round_up(new_size) - round_up(old_size);
		return old;
	}
	void *p = lang_arena_alloc(a, new_size);
	if (old && old_size)
		memcpy(p, old, old_size);
	return p;
}
