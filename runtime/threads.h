/*
 * threads.h — the process's compute thread pool.  Prefix: rt_threads_,
 * rt_parallel_.
 *
 * One pool per process: cores are a process-wide resource, so every user
 * (the ops of any graph, any daemon worker thread) shares it.  The pool has
 * T threads in all, the calling thread included (T - 1 helper pthreads
 * wait on a condition variable between jobs, after polling for a moment
 * when the last was a split job).  OpenBLAS is told to use one
 * thread: the ops split their matrix products over this pool instead
 * (op_linear.c), because OpenBLAS's own helper threads spin for a while
 * after each call and would then compete with the pool's next op.  So at
 * most T cores are in use.
 *
 * Concurrency: rt_parallel_for() may be called from any thread.  Jobs from
 * different threads are serialised by a mutex (one job at a time in the
 * pool); a call made from inside a running job (nesting) runs inline on the
 * calling thread.  So two daemon workers training at once share the cores
 * instead of oversubscribing them.
 *
 * Reproducibility: [0, n) is cut into T contiguous chunks of near-equal
 * size, chunk t always to thread t, so a job's partition depends only on n
 * and T.  Ops that reduce across items either reduce within a chunk in index
 * order or partition over independent outputs, so results are bitwise the
 * same for a fixed input and thread count.
 */
#ifndef ARCHD_RUNTIME_THREADS_H
#define ARCHD_RUNTIME_THREADS_H

#include <stdint.h>

/* Work on items [begin, end) of a job; `ctx` is the job's argument. */
typedef void (*rt_parallel_fn)(void *ctx, int64_t begin, int64_t end);

/*
 * Sets the pool to `n` threads in all (n >= 1), or when n == 0 to
 * $ARCHD_THREADS if set to a positive integer, else to the number of online
 * CPUs; also calls openblas_set_num_threads(1) (see above).  May be
 * called again to resize (it waits for a running job).  Returns the thread
 * count, or -1 with `err` (size `errlen`) naming the bad $ARCHD_THREADS value
 * or the failed pthread call; the pool then keeps its previous size.
 * Without any call, the first rt_parallel_for() initialises with n == 0
 * (ignoring a bad $ARCHD_THREADS: 1 thread).
 */
int rt_threads_init(int n, char *err, int errlen);

/* The pool's thread count (initialising it with n == 0 if needed); may be
 * called from inside a job. */
int rt_threads_count(void);

/*
 * Stops and joins the helper threads; later calls re-initialise.  For tests
 * and leak checkers: a process may also just exit.
 */
void rt_threads_shutdown(void);

/*
 * Runs fn(ctx, b, e) over a static partition of [0, n) across the pool and
 * returns when all chunks are done.  Runs inline when n <= 1, when the pool
 * has one thread, or when called from inside a job.  `fn` must not call
 * rt_threads_init() or rt_threads_shutdown().
 */
void rt_parallel_for(int64_t n, rt_parallel_fn fn, void *ctx);

/*
 * Like rt_parallel_for, for jobs whose results do not depend on how [0, n)
 * is cut (each item computed the same way by whichever thread runs it):
 * fn gets one item at a time, claimed by the caller and by whichever
 * helpers are awake, so a helper that is asleep or descheduled delays
 * nothing; and the call runs inline, rather than waiting, when the pool is
 * busy with another thread's job.  For work split only to cut latency (a
 * single image's layers), which should not queue behind a training step.
 * Items should be coarse (microseconds each), and n < 2^32.
 */
void rt_parallel_split(int64_t n, rt_parallel_fn fn, void *ctx);

#endif
