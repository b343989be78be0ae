/*
 * train.h — training one task's supernet by its recipe, or one fixed subnet
 * of its space.  Prefix: rt_train_.
 *
 * Modes:
 * - supernet (the default): each optimiser step trains the subnets the
 *   recipe's sampler picks on one batch, their gradients summed:
 *     max       the largest subnet only;
 *     random    one uniformly random subnet;
 *     sandwich  the largest, the smallest and n - 2 random subnets
 *               (BigNAS).  The largest learns from the labels (with label
 *               smoothing); the others, by the recipe's distill, from the
 *               labels too (none), from the largest's softmax only
 *               (inplace: KL, no gradient to the teacher; BigNAS), or from
 *               the sum of both losses (inplace(labels = true): OFA's
 *               kd_ratio 1).
 *   A sampled subnet equal to one already trained in the step is skipped.
 * - fixed subnet (rt_train_opts.subnet): every step trains that subnet on
 *   the labels: `archc train --subnet max`, and stand-alone twins.
 *
 * Progressive shrinking (shrink = progressive(d1, d2, ...), supernet mode
 * with a random or sandwich sampler), OFA's schedule: phase 0 ("full")
 * trains with the listed dimensions held at their largest values; phase i
 * also unlocks d1..di.  Dimensions not listed are elastic from the start.
 * Epochs split evenly across the phases, the remainder going one each to
 * the last phases (8 epochs, 4 phases: 2, 2, 2, 2; 10 epochs: 2, 2, 3, 3);
 * a phase with no epoch is skipped.  The learning rate schedule runs once
 * over all epochs.  When a phase unlocking expand starts, the inner
 * channels are re-sorted by importance (sn_supernet_sort_channels); when
 * one unlocking width starts, the output channels
 * (sn_supernet_sort_widths).
 *
 * Evaluation: at the end of each epoch, the largest subnet (or the fixed
 * one) on the holdout split, or on test when there is no holdout.  A subnet
 * other than the one a fixed-mode trainer trains, and any subnet of a
 * supernet trained with several, first has its batch-norm statistics
 * recalibrated as `archc eval` does (evaluate.h: rt_eval_calib_images of
 * the recipe, its seed); the stored statistics are restored afterwards.
 *
 * Checkpoints (checkpoint.h) hold the weights, momentum, statistics, the
 * position (phase, epoch, next step, global step) and the sampler's rng;
 * the batches of a position are reproducible (rt_batcher_seek), so a resumed
 * run continues exactly as the interrupted one would have: same losses, same
 * final weights for the same thread count.
 *
 * Threads: a trainer is used from one thread; ops run on the process pool.
 */
#ifndef ARCHD_RUNTIME_TRAIN_H
#define ARCHD_RUNTIME_TRAIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/checkpoint.h"
#include "runtime/data.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"

typedef struct rt_trainer rt_trainer;

typedef enum rt_train_event_kind {
	RT_TRAIN_EVENT_EPOCH_BEGIN,
	RT_TRAIN_EVENT_STEP,
	RT_TRAIN_EVENT_EPOCH_END,
	RT_TRAIN_EVENT_CHECKPOINT,
	RT_TRAIN_EVENT_COUNT
} rt_train_event_kind;

/* What the progress callback is told.  Pointers are valid during the call. */
typedef struct rt_train_event {
	rt_train_event_kind kind;
	int phase, nphases;
	const char *phase_name; /* "train", "full", "kernel", "depth", ... */
	int epoch, epochs;      /* 0-based epoch, and the total */
	long step, steps;       /* steps done in the epoch, steps per epoch */
	int64_t global_step, total_steps;
	/* STEP: the largest (or fixed) subnet on this batch. */
	int images;
	double loss;
	int correct;
	double lr;
	/* EPOCH_END: the evaluation (split NULL when skipped). */
	const char *eval_split;
	double eval_acc, eval_loss;
} rt_train_event;

typedef void (*rt_train_cb)(void *ctx, const rt_train_event *ev);

typedef struct rt_train_opts {
	/* Checkpoint file (its directory is created), NULL for none. */
	const char *checkpoint;
	/* Load `checkpoint` when it exists and continue from it; 0 starts
	 * afresh and overwrites it. */
	int resume;
	/* Also checkpoint every this many optimiser steps (0: only at the end
	 * of each epoch and on cancel). */
	long checkpoint_every;
	/* Fixed-subnet mode when not NULL (copied). */
	const sn_subnet *subnet;
	/* rt_threads_init(threads) when >= 0 (0: $ARCHD_THREADS or the
	 * cores); -1 leaves the pool as it is. */
	int threads;
	/* The task's data set, already loaded (borrowed; must outlive the
	 * trainer), so several trainers of one task load it once; NULL: the
	 * trainer loads it. */
	const rt_data *data;
	/* Evaluate at the end of each epoch (default 1). */
	int eval_each_epoch;
	rt_train_cb cb;
	void *cb_ctx;
	/* Checked between steps: when non-zero, checkpoint and stop. */
	const atomic_int *cancel;
	/* Only read the checkpoint (where a run elsewhere may be writing it):
	 * no lock taken, rt_train_run refused.  Else `checkpoint`.lock is
	 * held while the trainer lives, and a second trainer of the same
	 * checkpoint, in any process, is refused ("in use by process N"). */
	int read_only;
	/* `checkpoint` is a state dir's supernets/<key>/checkpoint: a run
	 * from scratch removes what was measured on earlier weights beside it
	 * (rt_state_supernet_forget; rt_train_note says so).  0 touches
	 * nothing but the checkpoint and its lock. */
	int state_dir;
} rt_train_opts;

/* Defaults: no checkpoint, threads -1, eval_each_epoch 1, the rest 0. */
void rt_train_opts_init(rt_train_opts *o);

/*
 * The key a trainer's checkpoint carries: the task's supernet key in
 * supernet mode; for a fixed subnet, the XXH3-128 of the task's stand-alone
 * key (ir_task_standalone_key: the supernet key without the sampler,
 * distillation and shrinking a fixed subnet does not use) and the subnet's
 * gene string.  Twins and supernets never share a checkpoint, and a twin
 * trained once serves every recipe that differs only in those settings.
 */
void rt_train_key(const ir_module *m, int task, const sn_subnet *fixed,
		  uint8_t key[16]);

/*
 * A trainer for task `task` of m (which must outlive it): loads the data,
 * builds the supernet at the data's shape and the recipe's batch, and, when
 * opts->resume and the checkpoint exists, loads it.  Returns NULL with a
 * message in err naming the task and the problem: a transfer task (no
 * recipe of its own to train), a dataset that fails to load, a space the
 * runtime cannot build, a fixed subnet of the wrong space, a bad
 * $ARCHD_THREADS, a refused checkpoint (see rt_ckpt_load).
 */
rt_trainer *rt_train_new(const ir_module *m, int task, const rt_train_opts *opts,
			 char *err, size_t errlen);

/* Frees the trainer, its supernet and data; NULL is fine. */
void rt_train_free(rt_trainer *t);

/* Return values of rt_train_run. */
enum { RT_TRAIN_DONE = 0, RT_TRAIN_CANCELLED = 1, RT_TRAIN_ERROR = -1 };

/*
 * Runs the recipe from the current position to the end.  Returns
 * RT_TRAIN_DONE (also when a loaded checkpoint was already complete),
 * RT_TRAIN_CANCELLED after *opts->cancel was seen (position checkpointed),
 * or RT_TRAIN_ERROR with "PATH: reason" in err when a checkpoint cannot be
 * written or memory is short.
 */
int rt_train_run(rt_trainer *t, char *err, size_t errlen);

/*
 * Accuracy (fraction) and mean cross-entropy of subnet `sub` on a split,
 * recalibrating batch norm first as described above.  Returns 0, or -1 when
 * the split is empty or memory is short.
 */
int rt_train_eval(rt_trainer *t, const sn_subnet *sub, rt_split split, double *acc,
		  double *loss);

/* 1 when the position was loaded from a checkpoint; *pos the position the
 * trainer stands at (after a run, the end). */
int rt_train_resumed(const rt_trainer *t);
/* What rt_train_new did to the state dir besides the checkpoint, for the
 * user ("" for nothing): a run from scratch removes what was measured on
 * an earlier training's weights (rt_state_supernet_forget). */
const char *rt_train_note(const rt_trainer *t);
void rt_train_position(const rt_trainer *t, rt_ckpt_state *pos);

/* The trainer's parts (owned by it). */
sn_supernet *rt_train_supernet(rt_trainer *t);
const rt_data *rt_train_data(const rt_trainer *t);
/* The checkpoint key (rt_train_key). */
const uint8_t *rt_train_ckpt_key(const rt_trainer *t);
/* Phases and their epochs: phase i runs epochs [first[i], first[i+1]). */
int rt_train_nphases(const rt_trainer *t);
const char *rt_train_phase_name(const rt_trainer *t, int phase);
int rt_train_phase_epochs(const rt_trainer *t, int phase);
/* Optimiser steps per epoch and in all. */
long rt_train_steps_per_epoch(const rt_trainer *t);

#endif
