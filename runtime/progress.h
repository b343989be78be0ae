/*
 * progress.h — the training progress display of `archc train`.
 * Prefix: rt_progress_.
 *
 * On a terminal: one line redrawn in place (at most every 0.1 s, and at the
 * last step of an epoch) with the phase, epoch, a bar, the step, the running
 * loss and accuracy of the epoch, the learning rate, images/s and the ETA of
 * the whole run; it is kept at the end of each epoch.  Anywhere else (CI,
 * pipes, log files): one plain line per epoch and nothing in between.
 *
 *   train epoch 3/8 [#########...........] 212/468 loss 0.4123 acc 85.2% lr 0.0870 4.2k img/s ETA 0:12:31
 *   train epoch 3/8: loss 0.4123, acc 85.21%, lr 0.0870, 4210 img/s, 13.2 s, test 88.10%, ETA 0:12:31
 *
 * The display owns nothing; the stream is the caller's.  One per run, used
 * from one thread (in a data-parallel run, rank 0's).
 */
#ifndef ARCHD_RUNTIME_PROGRESS_H
#define ARCHD_RUNTIME_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

/* What one line shows; negative numbers mean "not known" and are left out
 * (eta shows as -:--:--). */
typedef struct rt_progress_stats {
	const char *phase; /* "train", or a progressive-shrinking phase */
	int epoch, epochs; /* 1-based */
	long step, steps;  /* steps done in the epoch, steps per epoch */
	double loss;       /* mean over the epoch so far */
	double acc;        /* fraction in [0, 1] */
	double lr;
	double rate;        /* images per second */
	double seconds;     /* spent in the epoch */
	const char *eval;   /* name of the evaluation split, or NULL */
	double eval_acc;    /* its accuracy, fraction */
	double eta;         /* seconds to the end of the run */
} rt_progress_stats;

/* "h:mm:ss" (hours not padded, seconds rounded), or "-:--:--" for a negative
 * or non-finite time.  Returns what snprintf returns. */
int rt_progress_format_eta(double seconds, char *buf, size_t buflen);

/* A rate with an SI prefix: "812 img/s", "4.2k img/s", "1.20M img/s". */
int rt_progress_format_rate(double per_second, char *buf, size_t buflen);

/* The terminal line (bar) or the plain per-epoch line for s, without a
 * newline.  Returns what snprintf returns. */
int rt_progress_format_bar(const rt_progress_stats *s, char *buf, size_t buflen);
int rt_progress_format_epoch(const rt_progress_stats *s, char *buf, size_t buflen);

typedef struct rt_progress {
	FILE *out;
	int tty;
	double interval; /* minimum seconds between redraws */
	int epochs;
	long steps;
	const char *phase;
	int epoch;      /* 0-based, current */
	long step;      /* steps done in the epoch */
	long done;      /* steps done in the run */
	double run_start, epoch_start, last_draw;
	double loss_sum;
	long correct, seen;
	double lr;
	int shown; /* a bar is on screen, not yet ended by a newline */
} rt_progress;

/* Seconds on a monotonic clock. */
double rt_progress_now(void);

/* Starts a run of `epochs` epochs of `steps` steps each, drawing to out
 * (stderr for archc).  tty: 1 bar, 0 plain lines, -1 decide by isatty. */
void rt_progress_init(rt_progress *p, FILE *out, int tty, int epochs, long steps);

/* Starts epoch `epoch` (0-based) of a phase (a string that must outlive the
 * epoch; NULL keeps the previous one, initially "train"). */
void rt_progress_begin_epoch(rt_progress *p, const char *phase, int epoch, double now);

/* Records one step: `images` examples, their mean loss, how many were
 * classified correctly, the learning rate used; redraws when due. */
void rt_progress_step(rt_progress *p, int images, double loss, int correct, double lr,
		      double now);

/* Ends the epoch: the bar's last state is kept (terminal) or the plain line
 * is printed.  eval may be NULL; otherwise eval_acc is its accuracy. */
void rt_progress_end_epoch(rt_progress *p, const char *eval, double eval_acc,
			   double now);

/* Fills s with the current state (for the daemon's job status too). */
void rt_progress_stats_get(const rt_progress *p, double now, rt_progress_stats *s);

#endif
