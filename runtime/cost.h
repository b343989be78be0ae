/*
 * cost.h — the exact, hardware-free costs of a subnet: multiply-accumulates,
 * parameters and peak activation memory, all at batch 1.  Prefix: search_.
 *
 * MACs and parameters are sn_plan_cost's (runtime/subnet.h); this module adds
 * the memory model and gathers the three into one struct, in the units of
 * compiler/ir.h (counts, bytes).
 *
 * Peak activation memory.  Activations are float32 (4 bytes per value).  An
 * inference engine runs the layers in order and frees a tensor as soon as
 * nothing later reads it; BN, activations, the SE rescale and the residual
 * add work in place.  The network's input is the image at the subnet's
 * resolution (resizing from the dataset's resolution is preprocessing and is
 * not counted), and weights and convolution workspaces (im2col) are not
 * activations.  The peak is the largest, over the steps below, of the sum of
 * the tensors live during that step.  With X the layer's input (cin*h*w),
 * Y its output (cout*ho*wo):
 *
 *   CONV            X + Y
 *   DENSE, FC, POOL X + Y                    (vectors; POOL's Y is cin)
 *   MBCONV, with S = X when it has an identity shortcut, else 0,
 *           E = mid*h*w (expanded), D = mid*ho*wo (depthwise output):
 *     expand 1x1    X + E                    (only when the space's block
 *                                             has an expand conv)
 *     depthwise     E + S + D                (no expand conv: X + D; X is
 *                                             then the depthwise input and
 *                                             the shortcut at once)
 *     SE            S + D + mid + se_r       (pooled vector, reduced vector;
 *                                             the excitation overwrites the
 *                                             pooled one)
 *     project 1x1   S + D + Y
 *   RESIDUAL, with M = mid*ho*wo, run as conv1, conv2, then the projection
 *           shortcut (a 1x1 conv of X) and the in-place add:
 *     conv1         X + M
 *     conv2         X + M + Y
 *     projection    X + Y + Y                (only with a projection)
 */
#ifndef ARCHD_RUNTIME_COST_H
#define ARCHD_RUNTIME_COST_H

#include "compiler/ir.h"
#include "runtime/subnet.h"

/* The costs of one subnet, in ir.h units. */
typedef struct search_metrics {
	double macs;   /* multiply-accumulates, batch 1 */
	double params; /* parameter count */
	double memory; /* peak activation bytes, batch 1 (model above) */
} search_metrics;

/*
 * Peak activation bytes of the subnet whose active shapes are `plan`
 * (sn_plan_build over the same checked space `s`), per the model above.
 */
double search_peak_memory(const ir_space *s, const sn_plan *plan);

/*
 * Peak activation bytes of layer i alone (the largest of its steps), 0 for
 * a layer the subnet skips.  search_peak_memory is the largest of these.
 */
double search_layer_memory(const ir_space *s, const sn_plan *plan, int i);

/*
 * Fills *out with the MACs, parameters and peak memory of subnet `sub` of
 * the checked space `s` (sn_space_check) whose head has `nclasses` classes.
 * `plan` is scratch the caller provides (a search loop reuses one); when it
 * is NULL a plan is allocated and freed here.  Returns 0, or -1 (and leaves
 * *out untouched) when that allocation fails.
 */
int search_metrics_compute(const ir_space *s, int nclasses, const sn_subnet *sub,
			   sn_plan *plan, search_metrics *out);

/* The value of metric m (MACS, PARAMS or MEMORY) in *x; asserts on others. */
double search_metrics_get(const search_metrics *x, ir_metric m);

#endif
