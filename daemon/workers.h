/*
 * workers.h — the worker pool: jobs run on threads, their results come back
 * to the event loop.  Prefix: dm_workers_.
 *
 * The event loop never computes.  A job is two functions: work() runs on a
 * worker thread and must not touch anything the loop owns; done() runs later
 * on the loop thread with the same argument and may reply to requests.  A
 * finished job is put on a done queue and the loop is woken through a pipe,
 * the memcached way.
 */
#ifndef ARCHD_DAEMON_WORKERS_H
#define ARCHD_DAEMON_WORKERS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct dm_workers dm_workers;

typedef void dm_work_fn(void *arg);
typedef void dm_done_fn(void *arg);

/*
 * Starts nthreads threads whose jobs finish on base's loop; at most
 * max_queued jobs may wait for a thread.  Returns the pool, or NULL with a
 * reason in err.
 */
dm_workers *dm_workers_new(struct event_base *base, unsigned nthreads, unsigned max_queued, char *err,
			   size_t errlen);

/*
 * Queues a job.  Returns 0; -1 when max_queued jobs are already waiting or
 * the pool is stopping (the caller answers 503), or -2 on out-of-memory.
 * Loop thread only.
 */
int dm_workers_submit(dm_workers *w, dm_work_fn *work, dm_done_fn *done, void *arg);

/*
 * Queues a job in a lane (0: none, as dm_workers_submit): jobs of one lane
 * run one at a time, in the order submitted, while a thread free takes
 * the next job of another lane, so a job that must wait for its lane
 * never holds a thread.  The queue limit counts them as any other.
 * Returns as dm_workers_submit.  Loop thread only.
 */
int dm_workers_submit_lane(dm_workers *w, uint64_t lane, dm_work_fn *work, dm_done_fn *done,
			   void *arg);

/* Changes the queue limit (SIGHUP). */
void dm_workers_set_max_queued(dm_workers *w, unsigned max_queued);

typedef struct dm_workers_stats {
	unsigned threads;
	unsigned queued;  /* waiting for a thread */
	unsigned running; /* on a thread, or finished and not yet done() */
	uint64_t submitted, completed, rejected;
} dm_workers_stats;

/* A snapshot of the counters. */
void dm_workers_stats_get(dm_workers *w, dm_workers_stats *st);

/*
 * Stops the pool: running jobs finish, queued jobs are still run, every
 * done() is called on the calling (loop) thread, then the threads are
 * joined and everything freed.  NULL is fine.
 */
void dm_workers_free(dm_workers *w);

#endif
