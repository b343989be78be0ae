/*
 * extract_priv.h — what extract.c (extraction, forward), extract_file.c
 * (the file format) and latency_time.c (timing a layer) share.  Not a
 * public header.
 */
#ifndef ARCHD_RUNTIME_EXTRACT_PRIV_H
#define ARCHD_RUNTIME_EXTRACT_PRIV_H

#include <stddef.h>

#include "runtime/extract.h"

/* Weights a layer holds in the layout of extract.h. */
size_t rt_model_layer_size(const rt_model_layer *l);

/* Sets every layer's off and nweights from its shape; returns the total. */
size_t rt_model_layout(rt_model *m);

/*
 * Builds m->fused, the weights in the form rt_model_forward runs (batch
 * norm folded; extract_infer.c), from m->weights and the layers, replacing
 * any earlier one.  Every constructor of a model calls it last.  Returns 0,
 * or -1 on out-of-memory (m->fused then NULL).
 */
int rt_model_fuse(rt_model *m);

/* 1 when every folded weight and bias of m->fused is finite (a NaN or
 * infinite weight, or a batch-norm variance below -eps, makes some not). */
int rt_model_fused_finite(const rt_model *m);

/* Frees what rt_model_fuse built; NULL is fine. */
void rt_model_fused_free(rt_model_fused *f);

/*
 * Runs layer i of a fused model alone on n images x, exactly as
 * rt_model_forward runs it (the same kernels, folded weights and
 * workspace layout), so that the latency table (latency_time.c) times what
 * is served.  ws holds rt_model_workspace(m, n) floats; x may be one of its
 * activation buffers.  Returns the output, which lies inside ws.
 */
float *rt_model_layer_forward(const rt_model *m, int i, const float *x, int n, float *ws);

#endif
