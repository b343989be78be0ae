/*
 * op_eltwise.c — activations, residual adds and global average pooling
 * (see ops.h).  Elementwise ops split [0, n) into fixed chunks; every
 * output depends on one input position, so the split never changes results.
 */
#include "runtime/ops.h"

#include <assert.h>
#include <string.h>

#include "runtime/op_util.h"

/* Elements per work item of an elementwise job. */
#define ELT_CHUNK 16384

typedef enum elt_kind {
	ELT_RELU_F,
	ELT_RELU_B,
	ELT_HSWISH_F,
	ELT_HSWISH_B,
	ELT_HSIGMOID_F,
	ELT_HSIGMOID_B,
	ELT_ADD,
	ELT_ADD_INPLACE,
	ELT_COUNT
} elt_kind;

typedef struct elt_job {
	elt_kind kind;
	size_t n;
	const float *a, *b; /* x, dy / a, b */
	float *out;
} elt_job;

/* y and x may alias, so these loops use no `restrict`; gcc checks at run time. */
RT_KERNEL static void elt_range(const elt_job *j, size_t b, size_t e)
{
	const float *x = j->a, *g = j->b;
	float *y = j->out;
	switch (j->kind) {
	case ELT_RELU_F:
		for (size_t i = b; i < e; i++)
			y[i] = x[i] > 0.0f ? x[i] : 0.0f;
		break;
	case ELT_RELU_B:
		for (size_t i = b; i < e; i++)
			y[i] = x[i] > 0.0f ? g[i] : 0.0f;
		break;
	case ELT_HSWISH_F:
		for (size_t i = b; i < e; i++) {
			float t = x[i] + 3.0f;
			t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
			y[i] = x[i] * t * (1.0f / 6.0f);
		}
		break;
	case ELT_HSWISH_B:
		for (size_t i = b; i < e; i++) {
			float d = x[i] < -3.0f ? 0.0f : (x[i] <= 3.0f ? x[i] * (1.0f / 3.0f) + 0.5f : 1.0f);
			y[i] = g[i] * d;
		}
		break;
	case ELT_HSIGMOID_F:
		for (size_t i = b; i < e; i++) {
			float t = x[i] + 3.0f;
			t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
			y[i] = t * (1.0f / 6.0f);
		}
		break;
	case ELT_HSIGMOID_B:
		for (size_t i = b; i < e; i++)
			y[i] = (x[i] > -3.0f && x[i] < 3.0f) ? g[i] * (1.0f / 6.0f) : 0.0f;
		break;
	case ELT_ADD:
		for (size_t i = b; i < e; i++)
			y[i] = x[i] + g[i];
		break;
	case ELT_ADD_INPLACE:
		for (size_t i = b; i < e; i++)
			y[i] += x[i];
		break;
	case ELT_COUNT:
		assert(!"bad elementwise op");
	}
}

static void elt_chunks(void *ctx, int64_t b, int64_t e)
{
	const elt_job *j = ctx;
	size_t lo = (size_t)b * ELT_CHUNK;
	size_t hi = (size_t)e * ELT_CHUNK;
	elt_range(j, lo, hi < j->n ? hi : j->n);
}

static void elt_run(elt_kind kind, size_t n, const float *a, const float *b, float *out)
{
	elt_job j = {kind, n, a, b, out};
	int64_t chunks = (int64_t)((n + ELT_CHUNK - 1) / ELT_CHUNK);
	rt_op_parallel(chunks, (int64_t)n * 2, elt_chunks, &j);
}

void rt_relu_forward(size_t n, const float *x, float *y)
{
	elt_run(ELT_RELU_F, n, x, NULL, y);
}

void rt_relu_backward(size_t n, const float *x, const float *dy, float *dx)
{
	elt_run(ELT_RELU_B, n, x, dy, dx);
}

void rt_hswish_forward(size_t n, const float *x, float *y)
{
	elt_run(ELT_HSWISH_F, n, x, NULL, y);
}

void rt_hswish_backward(size_t n, const float *x, const float *dy, float *dx)
{
	elt_run(ELT_HSWISH_B, n, x, dy, dx);
}

void rt_hsigmoid_forward(size_t n, const float *x, float *y)
{
	elt_run(ELT_HSIGMOID_F, n, x, NULL, y);
}

void rt_hsigmoid_backward(size_t n, const float *x, const float *dy, float *dx)
{
	elt_run(ELT_HSIGMOID_B, n, x, dy, dx);
}

void rt_add_forward(size_t n, const float *a, const float *b, float *y)
{
	elt_run(ELT_ADD, n, a, b, y);
}

void rt_add_inplace(size_t n, const float *a, float *y)
{
	elt_run(ELT_ADD_INPLACE, n, a, NULL, y);
}

/* ---- global average pooling ------------------------------------------ */

typedef struct pool_job {
	int hw, c;
	const float *src;
	float *dst;
} pool_job;

RT_KERNEL static void pool_fwd_images(void *ctx, int64_t b, int64_t e)
{
	const pool_job *j = ctx;
	double acc[256];
	for (int64_t n = b; n < e; n++) {
		const float *x = j->src + (size_t)n * j->hw * j->c;
		float *restrict y = j->dst + (size_t)n * j->c;
		for (int c0 = 0; c0 < j->c; c0 += 256) {
			int nb = j->c - c0 < 256 ? j->c - c0 : 256;
			for (int c = 0; c < nb; c++)
				acc[c] = 0.0;
			for (int i = 0; i < j->hw; i++) {
				const float *restrict row = x + (size_t)i * j->c + c0;
				for (int c = 0; c < nb; c++)
					acc[c] += row[c];
			}
			for (int c = 0; c < nb; c++)
				y[c0 + c] = (float)(acc[c] / j->hw);
		}
	}
}

RT_KERNEL static void pool_bwd_images(void *ctx, int64_t b, int64_t e)
{
	const pool_job *j = ctx;
	float scale = 1.0f / (float)j->hw;
	for (int64_t n = b; n < e; n++) {
		const float *restrict g = j->src + (size_t)n * j->c;
		float *restrict dx = j->dst + (size_t)n * j->hw * j->c;
		for (int i = 0; i < j->hw; i++)
			for (int c = 0; c < j->c; c++)
				dx[(size_t)i * j->c + c] = g[c] * scale;
	}
}

void rt_avgpool_forward(int n, int hw, int c, const float *x, float *y)
{
	assert(n > 0 && hw > 0 && c > 0);
	pool_job j = {hw, c, x, y};
	rt_op_parallel(n, (int64_t)n * hw * c, pool_fwd_images, &j);
}

void rt_avgpool_backward(int n, int hw, int c, const float *dy, float *dx)
{
	assert(n > 0 && hw > 0 && c > 0);
	pool_job j = {hw, c, dy, dx};
	rt_op_parallel(n, (int64_t)n * hw * c, pool_bwd_images, &j);
}
