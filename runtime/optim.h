/*
 * optim.h — SGD with momentum / Nesterov and weight decay, and the learning
 * rate schedule.  Prefixes: rt_sgd_, rt_sched_.
 *
 * The optimiser owns nothing: it updates buffers the caller lists.  For each
 * parameter element, with learning rate lr (from the schedule), momentum mu,
 * weight decay wd, and wd taken as 0 for a parameter flagged no_decay:
 *
 *   coupled decay (L2):       g = g + wd * w
 *   decoupled decay (AdamW):  w = w - lr * wd * w      (before the step)
 *   momentum buffer:          m = mu * m + g           (m starts at zero)
 *   direction:                d = g + mu * m  (Nesterov)   or   d = m
 *   update:                   w = w - lr * d
 *
 * With mu == 0 the buffer is not touched (it may be NULL) and d = g.  This is
 * torch.optim.SGD with dampening 0 (and, for decoupled decay, the AdamW form
 * of decay); the gradient buffer is left unchanged.  Arithmetic is in float,
 * with the scalars rounded to float once per step.
 *
 * Schedule, at step t = 0, 1, ... (the step about to be taken), with
 * S steps per epoch, W = warmup * S warm-up steps (fractional allowed) and
 * T = epochs * S steps in all:
 *
 *   t < W:        lr = base * min(1, (t + 1) / W)   (linear warm-up)
 *   constant:     lr = base
 *   cosine:       lr = base * 0.5 * (1 + cos(pi * p)),  p = (t - W) / (T - W)
 *                 clamped to [0, 1] (so lr = 0 from step T on, base if T <= W)
 */
#ifndef ARCHD_RUNTIME_OPTIM_H
#define ARCHD_RUNTIME_OPTIM_H

#include <stddef.h>

#include "compiler/ir.h"

/* One parameter buffer; w, g and m each hold n floats.  m (the momentum
 * buffer, zeroed by the caller before the first step) may be NULL when the
 * momentum is 0. */
typedef struct rt_param {
	float *w;
	float *g;
	float *m;
	size_t n;
	int no_decay; /* batch norm scales/shifts and biases */
} rt_param;

typedef struct rt_sgd {
	double momentum;
	double wd;
	int nesterov;
	int decoupled; /* 1: AdamW-style lr * wd * w; 0: L2 in the gradient */
} rt_sgd;

/* The optimiser a recipe describes (momentum, wd, nesterov, wd_decoupled). */
void rt_sgd_from_recipe(rt_sgd *o, const ir_recipe *r);

/* One step over nparams buffers at learning rate lr, per the formulas above. */
void rt_sgd_step(const rt_sgd *o, rt_param *params, int nparams, double lr);

typedef struct rt_sched {
	ir_schedule kind;
	double base;   /* peak learning rate */
	double warmup; /* W, in steps */
	double total;  /* T, in steps */
} rt_sched;

/* The schedule a recipe describes (schedule, lr, warmup, epochs) for
 * steps_per_epoch > 0 optimiser steps per epoch. */
void rt_sched_from_recipe(rt_sched *s, const ir_recipe *r, long steps_per_epoch);

/* The learning rate for step t >= 0 (see the formulas above). */
double rt_sched_lr(const rt_sched *s, long t);

#endif
