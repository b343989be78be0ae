/*
 * latency_time.c — timing one layer shape as the served model runs it: a
 * one-layer extracted model of exactly the key's shape, random weights,
 * batch norm folded (rt_model_fuse), run at batch 1 through
 * rt_model_layer_forward, the very code rt_model_forward runs for each of
 * its layers (extract_infer.c), so the table cannot drift from what archd
 * serves and the exporters measure.  The input resize is timed with the op
 * that forward resizes with.
 */
#include "runtime/latency_priv.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/extract_priv.h"
#include "runtime/ops.h"
#include "runtime/rng.h"

#define WARMUP 2

/* A buffer of n floats (at least one), uniform in [lo, lo + 1). */
static float *buf(rt_rng *r, size_t n, double lo)
{
	n = n ? n : 1;
	float *p = malloc(n * sizeof(float));
	if (p)
		for (size_t i = 0; i < n; i++)
			p[i] = (float)(lo + rt_rng_uniform(r));
	return p;
}

/*
 * The model of one layer with the key's shape, fused; NULL on out-of-memory.
 * Its weights are in [0.25, 1.25): positive, so every batch norm's variance
 * is a sane one and the folded weights are finite (no NaNs to slow a kernel).
 */
static rt_model *model_of(const lat_key *k, rt_rng *r)
{
	rt_model *m = calloc(1, sizeof *m);
	rt_model_layer *l = calloc(1, sizeof *l);
	if (!m || !l) {
		free(m);
		free(l);
		return NULL;
	}
	l->kind = (ir_block)k->kind;
	l->act = (ir_act)k->act;
	l->cin = k->cin;
	l->cout = k->cout;
	l->mid = k->mid;
	l->se_r = k->se_r;
	l->k = k->k;
	l->stride = k->stride;
	l->h = l->w = k->h;
	l->ho = l->wo = k->ho;
	l->has_expand = k->has_expand;
	l->shortcut = k->shortcut;
	m->layers = l;
	m->nlayers = 1;
	m->in_channels = k->cin;
	m->in_h = m->in_w = m->res = k->h;
	m->nclasses = k->cout;
	m->nweights = rt_model_layout(m);
	m->weights = buf(r, m->nweights, 0.25);
	if (!m->weights || rt_model_fuse(m) < 0) {
		rt_model_free(m);
		return NULL;
	}
	return m;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* What one timed run needs: the model and its workspace, or the resize's
 * buffers. */
typedef struct bench {
	const lat_key *k;
	rt_model *m; /* NULL for RESIZE */
	float *x, *ws;
} bench;

static void run(const void *arg)
{
	const bench *b = arg;
	const lat_key *k = b->k;
	if (b->m) {
		rt_model_layer_forward(b->m, 0, b->x, 1, b->ws);
		return;
	}
	/* as rt_model_forward resizes: [1, h, h, C] -> [1, ho, ho, C] */
	rt_resize_p rp = {.n = 1, .h = k->h, .w = k->h, .c = k->cin, .ho = k->ho, .wo = k->ho};
	rt_resize_forward(&rp, b->x, b->ws);
}

int lat_time_fn(void (*fn)(const void *), const void *arg, int reps, double *us)
{
	assert(reps >= 1);
	double *t = malloc((size_t)reps * sizeof(double));
	if (!t)
		return -1;
	for (int i = 0; i < WARMUP; i++)
		fn(arg);
	for (int i = 0; i < reps; i++) {
		double t0 = now_us();
		fn(arg);
		t[i] = now_us() - t0;
	}
	qsort(t, (size_t)reps, sizeof(double), cmp_double);
	*us = t[reps / 2];
	free(t);
	return 0;
}

int lat_time_key(const lat_key *k, int reps, double *us)
{
	assert(reps >= 1 && k->kind >= 0 && k->kind < LAT_KIND_COUNT);
	rt_rng r;
	rt_rng_seed(&r, 1);
	bench b = {.k = k};
	size_t in_n = (size_t)k->h * k->h * k->cin, ws_n;
	int ok = 1;
	if (k->kind == LAT_KIND_RESIZE) {
		ws_n = (size_t)k->ho * k->ho * k->cin;
	} else {
		b.m = model_of(k, &r);
		ok = b.m != NULL;
		ws_n = ok ? rt_model_workspace(b.m, 1) : 0;
	}
	b.x = buf(&r, in_n, -0.5);
	b.ws = buf(&r, ws_n, -0.5);
	ok = ok && b.x && b.ws && lat_time_fn(run, &b, reps, us) == 0;
	rt_model_free(b.m);
	free(b.x);
	free(b.ws);
	return ok ? 0 : -1;
}
