/*
 * tensor.h — float32 NHWC tensor views.  Prefix: rt_tensor_.
 *
 * The ops (ops.h) take raw pointers with explicit sizes and strides; an
 * rt_tensor is only a convenient record of where an activation lives and
 * what shape it has, so a graph can pass one name instead of five numbers.
 * Layout is NHWC with C innermost and contiguous: element (n, h, w, c) is at
 * data[((n * h_ + h) * w_ + w) * c_ + c].  A matrix [M, K] is a tensor with
 * h = w = 1.  A tensor never owns its data: it points into an rt_arena or
 * into a caller's buffer.
 */
#ifndef ARCHD_RUNTIME_TENSOR_H
#define ARCHD_RUNTIME_TENSOR_H

#include <stddef.h>

#include "runtime/arena.h"

typedef struct rt_tensor {
	float *data; /* not owned */
	int n, h, w, c;
} rt_tensor;

/* A view of `data` with shape [n, h, w, c]. */
rt_tensor rt_tensor_view(float *data, int n, int h, int w, int c);

/*
 * A tensor of shape [n, h, w, c] allocated from `a` (contents undefined).
 * With a measuring arena, data is NULL and only the size is counted.
 */
rt_tensor rt_tensor_new(rt_arena *a, int n, int h, int w, int c);

/* n * h * w * c. */
size_t rt_tensor_numel(const rt_tensor *t);

/* Rows of the [n*h*w, c] matrix view: n * h * w. */
size_t rt_tensor_rows(const rt_tensor *t);

/* Sets all elements to `v`. */
void rt_tensor_fill(rt_tensor *t, float v);

/* 1 when both have the same n, h, w and c. */
int rt_tensor_same_shape(const rt_tensor *a, const rt_tensor *b);

#endif
