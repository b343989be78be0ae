/*
 * extract_priv.h — what extract.c (extraction, forward) and extract_file.c
 * (the file format) share.  Not a public header.
 */
#ifndef ARCHD_RUNTIME_EXTRACT_PRIV_H
#define ARCHD_RUNTIME_EXTRACT_PRIV_H

#include <stddef.h>

#include "runtime/extract.h"

/* Weights a layer holds in the layout of extract.h. */
size_t rt_model_layer_size(const rt_model_layer *l);

/* Sets every layer's off and nweights from its shape; returns the total. */
size_t rt_model_layout(rt_model *m);

#endif
