/*
 * supernet.h — a weight-sharing supernet over an ir_space: every subnet's
 * forward and backward pass on slices of one set of largest-shape weights.
 * Prefix: sn_supernet_ (and sn_ for the subnet helpers of subnet.h).
 *
 * Memory: the parameters live in one contiguous float buffer (weights), with
 * a gradient buffer and a momentum buffer of the same layout, so an
 * optimiser or a checkpoint sees three flat arrays; batch-norm running
 * statistics live in a fourth (stats).  All activations, gradients and
 * workspaces of a step come from one arena sized at construction for the
 * largest subnet at the largest batch: a step allocates nothing.
 *
 * Elasticity (the shapes are those of subnet.h's sn_plan):
 * - depth: the first d blocks of a stage run;
 * - width/expand: the first channels of every weight (a pointwise conv is
 *   one sgemm with the leading dimension of the largest width);
 * - kernel: MBCONV's depthwise kernel is the centre of the largest one,
 *   passed through OFA's learnable kernel-transform matrices, one
 *   k^2 x k^2 matrix per layer per smaller kernel (identity at init),
 *   applied in turn from the largest kernel down (7 -> 5 -> 3); CONV and
 *   RESIDUAL kernels are plain centre crops;
 * - resolution: the batch is bilinearly resized to the subnet's side.
 *
 * Initialisation (seeded): conv and depthwise weights Kaiming-normal
 * (fan-out, gain sqrt 2), SE weights normal with std sqrt(2 / fan_in) then
 * sqrt(1 / fan_in), FC weights normal(0, 0.01), biases 0, BN gamma 1 and
 * beta 0, running mean 0 and variance 1.
 *
 * Threads: a supernet is used by one thread at a time; its ops run on the
 * shared pool (threads.h).  Its replicas (sn_supernet_replica) may run
 * passes at the same time, each on its own thread.  Results are
 * reproducible for a fixed seed and thread count.
 */
#ifndef ARCHD_RUNTIME_SUPERNET_H
#define ARCHD_RUNTIME_SUPERNET_H

#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/ops.h"
#include "runtime/optim.h"
#include "runtime/subnet.h"

typedef struct sn_supernet sn_supernet;

/*
 * Builds a supernet for `space` with a head of `nclasses` outputs, taking
 * input batches of up to `max_batch` examples of in_h x in_w x
 * space->in_channels floats (NHWC), weights initialised from `seed`.
 * Returns NULL with a message in err naming the space when the space is not
 * one the runtime can build (sn_space_check) or memory is short.  The
 * supernet keeps a pointer to `space`, which must outlive it.
 */
sn_supernet *sn_supernet_new(const ir_space *space, int nclasses, int in_h,
			     int in_w, int max_batch, uint64_t seed, char *err,
			     size_t errlen);

/*
 * A replica of `sn`, to run other subnets' passes at the same time as sn's,
 * on another thread (the sandwich rule's subnets of one step, say): it
 * reads sn's weights, which must not change while either runs a pass, and
 * has its own activation arena, gradient buffer and running statistics
 * (copied from sn's now; its TRAIN forwards update its own, which nothing
 * copies back).  It has no momentum: the optimiser steps sn, after adding
 * the replica's gradients to sn's.  Freed with sn_supernet_free, before
 * sn.  NULL with a message in err when memory is short.
 */
sn_supernet *sn_supernet_replica(const sn_supernet *sn, char *err, size_t errlen);
int sn_supernet_is_replica(const sn_supernet *sn);

/* Frees everything (a replica's, not the weights it reads); NULL is fine. */
void sn_supernet_free(sn_supernet *sn);

/* The space and the head size it was built for. */
const ir_space *sn_supernet_space(const sn_supernet *sn);
int sn_supernet_nclasses(const sn_supernet *sn);
int sn_supernet_max_batch(const sn_supernet *sn);

/*
 * The flat buffers (owned by the supernet): nparams floats of weights,
 * gradients and momentum, and nstats floats of batch-norm running
 * statistics.  Writing weights or stats is how checkpoints load.
 */
size_t sn_supernet_nparams(const sn_supernet *sn);
size_t sn_supernet_nstats(const sn_supernet *sn);
float *sn_supernet_weights(sn_supernet *sn);
float *sn_supernet_grads(sn_supernet *sn);
float *sn_supernet_momentum(sn_supernet *sn);
float *sn_supernet_stats(sn_supernet *sn);

/* The parameter list for rt_sgd_step (owned by the supernet): one entry per
 * tensor, batch-norm, bias and kernel-transform entries flagged no_decay. */
rt_param *sn_supernet_params(sn_supernet *sn, int *nparams);
/*
 * Forwards outside TRAIN mode keep the kernels they derive from the weights
 * (crops, gathered slices, OFA's transforms) for the selected subnet and
 * reuse them, so evaluating a subnet runs as fast as its extracted model.
 * They are dropped by a TRAIN forward, a backward, a sort, selecting a
 * subnet, and handing out the weights (sn_supernet_weights and
 * sn_supernet_params above, whose callers may write them).  A caller that
 * writes weights through a pointer it kept across a forward calls this
 * before the next forward.
 */
void sn_supernet_weights_changed(sn_supernet *sn);

/* Bytes of the activation arena (for reports). */
size_t sn_supernet_arena_bytes(const sn_supernet *sn);

/* Selects the subnet the next passes run (builds its plan). */
void sn_supernet_set_subnet(sn_supernet *sn, const sn_subnet *sub);
/* The plan of the selected subnet. */
const sn_plan *sn_supernet_plan(const sn_supernet *sn);

/* Zeroes the gradient buffer. */
void sn_supernet_zero_grad(sn_supernet *sn);

/*
 * Runs the selected subnet on x [n, in_h, in_w, C] (1 <= n <= max_batch).
 * Batch norm per `mode`: TRAIN uses batch statistics and updates the
 * running ones, EVAL uses the running ones, RECAL accumulates them (see
 * sn_supernet_recal_begin).  Returns the logits [n, nclasses] (contiguous),
 * valid until the next forward.
 */
const float *sn_supernet_forward(sn_supernet *sn, const float *x, int n,
				 rt_bn_mode mode);

/*
 * Back-propagates dlogits [n, nclasses] through the last forward (which
 * must be TRAIN or RECAL mode, same subnet), ACCUMULATING the parameter
 * gradients into the gradient buffer.
 */
void sn_supernet_backward(sn_supernet *sn, const float *dlogits);

/*
 * Starts batch-norm recalibration of the selected subnet: the running
 * statistics its layers use are replaced by the cumulative average over
 * the RECAL-mode forwards that follow; no other statistic and no weight
 * changes.
 */
void sn_supernet_recal_begin(sn_supernet *sn);

/*
 * OFA's re-sorting at the start of an elastic expand phase (supernet_sort.c):
 * puts the inner channels of every MBCONV and RESIDUAL block in decreasing
 * order of the L1 norm of the weights that read them (projection / second
 * conv), permuting weights, momentum and running statistics alike, so the
 * largest subnet computes the same function and smaller ones keep the most
 * important channels.  Sorting twice changes nothing.  Returns 0, or -1 when
 * memory is short (the blocks already sorted stay sorted; the function is
 * unchanged either way).
 */
int sn_supernet_sort_channels(sn_supernet *sn);

/*
 * The same before an elastic width phase, for output channels: each
 * channel space with a width gene (a layer's outputs and those of the
 * identity-shortcut blocks after it) is put in decreasing order of the L1
 * norm of the weights that read it, and every layer writing or reading it
 * is permuted to match.  Same guarantees and return values.
 */
int sn_supernet_sort_widths(sn_supernet *sn);

#endif
