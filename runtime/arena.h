/*
 * arena.h — a bump allocator for the tensors of one graph.  Prefix: rt_arena_.
 *
 * A graph (a supernet step, an exported subnet) allocates all its
 * activations, gradients and workspaces from one arena, sized once for the
 * worst case (the largest subnet at the largest resolution), so nothing is
 * malloc'ed inside a training step.  Sizing is done by running the same
 * allocation sequence against a *measuring* arena (no memory, only a byte
 * count), then creating a real arena of rt_arena_used() bytes.
 *
 * Every allocation is aligned to RT_ARENA_ALIGN bytes so that rows of floats
 * start on a cache line and vector loads are aligned.
 *
 * Ownership: the arena owns its block; pointers it returns are valid until
 * rt_arena_reset() to an earlier mark or rt_arena_free().  An arena is not
 * thread-safe: one graph, one owner.
 */
#ifndef ARCHD_RUNTIME_ARENA_H
#define ARCHD_RUNTIME_ARENA_H

#include <stddef.h>

#define RT_ARENA_ALIGN 64

typedef struct rt_arena {
	unsigned char *base; /* NULL for a measuring arena; RT_ARENA_ALIGN-aligned */
	void *block;         /* the allocation base points into (what is freed) */
	size_t size;         /* capacity in bytes (0 when measuring) */
	size_t used;         /* bytes handed out, including alignment */
	size_t peak;         /* largest `used` ever seen */
} rt_arena;

/*
 * Makes `a` a real arena of `bytes` bytes (one aligned allocation, zeroed).
 * Returns 0, or -1 when the memory cannot be had (the arena is then empty and
 * rt_arena_free() is still safe).
 */
int rt_arena_init(rt_arena *a, size_t bytes);

/*
 * Makes `a` a measuring arena: allocations succeed and return NULL, and only
 * `used`/`peak` advance.  Size a real arena with rt_arena_peak() afterwards.
 */
void rt_arena_init_measure(rt_arena *a);

/* Releases the block of a real arena; the arena is then empty. */
void rt_arena_free(rt_arena *a);

/*
 * `bytes` bytes aligned to RT_ARENA_ALIGN, not cleared.  A real arena that
 * is full returns NULL (callers size arenas with a measuring pass, so this
 * is a programmer error they assert on); a measuring arena always returns
 * NULL.
 */
void *rt_arena_alloc(rt_arena *a, size_t bytes);

/* `n` floats, as rt_arena_alloc(a, n * sizeof(float)). */
float *rt_arena_floats(rt_arena *a, size_t n);

/* The current fill level, to hand back to rt_arena_reset(). */
size_t rt_arena_mark(const rt_arena *a);

/* Frees everything allocated since `mark` (a value from rt_arena_mark()). */
void rt_arena_reset(rt_arena *a, size_t mark);

/* The largest number of bytes ever in use: the size a real arena needs. */
size_t rt_arena_peak(const rt_arena *a);

#endif
