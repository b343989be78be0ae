/*
 * tensor.c — NHWC views (see tensor.h).
 */
#include "runtime/tensor.h"

#include <assert.h>

rt_tensor rt_tensor_view(float *data, int n, int h, int w, int c)
{
	assert(n >= 0 && h >= 0 && w >= 0 && c >= 0);
	rt_tensor t = {data, n, h, w, c};
	return t;
}

rt_tensor rt_tensor_new(rt_arena *a, int n, int h, int w, int c)
{
	rt_tensor t = rt_tensor_view(NULL, n, h, w, c);
	t.data = rt_arena_floats(a, rt_tensor_numel(&t));
	/* A real arena that runs out is a sizing bug in the caller. */
	assert(t.data != NULL || a->base == NULL);
	return t;
}

size_t rt_tensor_numel(const rt_tensor *t)
{
	return rt_tensor_rows(t) * (size_t)t->c;
}

size_t rt_tensor_rows(const rt_tensor *t)
{
	return (size_t)t->n * (size_t)t->h * (size_t)t->w;
}

void rt_tensor_fill(rt_tensor *t, float v)
{
	size_t n = rt_tensor_numel(t);
	for (size_t i = 0; i < n; i++)
		t->data[i] = v;
}

int rt_tensor_same_shape(const rt_tensor *a, const rt_tensor *b)
{
	return a->n == b->n && a->h == b->h && a->w == b->w && a->c == b->c;
}
