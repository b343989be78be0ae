/*
 * arena.c — bump allocation for one graph's tensors (see arena.h).
 */
#include "runtime/arena.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t align_up(size_t v)
{
	return (v + RT_ARENA_ALIGN - 1) & ~(size_t)(RT_ARENA_ALIGN - 1);
}

/*
 * calloc rather than an aligned allocation and a memset: a large block
 * comes straight from mmap as zero pages, so the zeroing costs nothing and
 * each page is touched once, by its first real use (a supernet's arena is
 * hundreds of MB: the memset took seconds).  The block is over-allocated by
 * the alignment and `base` rounded up into it.
 */
int rt_arena_init(rt_arena *a, size_t bytes)
{
	memset(a, 0, sizeof *a);
	bytes = align_up(bytes ? bytes : RT_ARENA_ALIGN);
	void *p = calloc(1, bytes + RT_ARENA_ALIGN);
	if (p == NULL)
		return -1;
	a->block = p;
	a->base = (unsigned char *)p + (RT_ARENA_ALIGN - (uintptr_t)p % RT_ARENA_ALIGN) % RT_ARENA_ALIGN;
	a->size = bytes;
	return 0;
}

void rt_arena_init_measure(rt_arena *a)
{
	memset(a, 0, sizeof *a);
}

void rt_arena_free(rt_arena *a)
{
	free(a->block);
	memset(a, 0, sizeof *a);
}

void *rt_arena_alloc(rt_arena *a, size_t bytes)
{
	size_t need = align_up(bytes);
	if (a->base == NULL) {
		a->used += need;
		if (a->used > a->peak)
			a->peak = a->used;
		return NULL;
	}
	if (need > a->size - a->used)
		return NULL;
	void *p = a->base + a->used;
	a->used += need;
	if (a->used > a->peak)
		a->peak = a->used;
	return p;
}

float *rt_arena_floats(rt_arena *a, size_t n)
{
	return rt_arena_alloc(a, n * sizeof(float));
}

size_t rt_arena_mark(const rt_arena *a)
{
	return a->used;
}

void rt_arena_reset(rt_arena *a, size_t mark)
{
	assert(mark <= a->used);
	a->used = mark;
}

size_t rt_arena_peak(const rt_arena *a)
{
	return a->peak;
}
