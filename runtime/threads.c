/*
 * threads.c — the shared compute pool (see threads.h).
 *
 * The caller of rt_parallel_for() is thread 0 of the job; helpers 1..T-1
 * wait for the job generation to change, run their chunk, and count
 * `pending` down; the caller runs its own chunk and waits for `pending` to
 * reach 0.  `job_lock` is held by the caller for the whole job, which is
 * what serialises users from different threads.
 *
 * rt_parallel_split() jobs are claimed item by item instead: the caller
 * and whichever helpers are awake take items from `claim` until none is
 * left, and the caller waits only for items already taken.  A helper still
 * asleep (or descheduled by the hypervisor) then costs nothing, and may
 * come late: `claim` carries the job's id beside the next item, so a late
 * helper can take nothing of a later job, and it reads a job's function
 * and argument as a seqlock (an odd generation while the caller writes
 * them) before it claims anything.
 *
 * Waiting around a split job spins first, then sleeps: a helper polls the
 * generation for 0.2 ms after one before it sleeps on `start_cv`, and the
 * caller polls for the items taken for 0.05 ms before it sleeps on
 * `done_cv`.  A single image's layers come microseconds apart, and waking
 * a sleeping thread costs 10-80 us on a VM, more than such a layer takes;
 * past the first 0.02 ms a poller yields its core between polls.  Static
 * jobs (training steps, batches of images) take milliseconds, against
 * which a wake-up is small: their waits sleep at once, as before, and
 * leave the cores to whatever else runs.
 * Sleepers announce themselves (`sleepers`, `waiting`) before their last
 * check, and the other side reads that after its own write, both seq_cst:
 * either the sleeper sees the change or the writer sees the sleeper and
 * signals under pool_lock, so no wake-up is lost.
 */
#include "runtime/threads.h"

#include <cblas.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define RT_THREADS_MAX 256
/* After a split job, how long a helper polls for the next job, and the
 * caller for the items taken, before sleeping; the first RT_SPIN_PAUSE_NS
 * of it without giving up the core. */
#define RT_SPIN_IDLE_NS 200000
#define RT_SPIN_WAIT_NS 50000
#define RT_SPIN_PAUSE_NS 20000
#define CLAIM_CLOSED 0xffffffffu

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static struct {
	int count;    /* threads in all, 0 before initialisation */
	int started;  /* helper threads running */
	pthread_t helper[RT_THREADS_MAX];
	/* +2 per job: odd while the caller writes the job below */
	atomic_ulong generation;
	unsigned long base_generation; /* generation when the helpers started */
	atomic_int stop;
	atomic_int sleepers; /* helpers asleep (or about to be) on start_cv */
	atomic_int waiting;  /* the caller asleep (or about to be) on done_cv */
	/* the job: rt_parallel_for's (static) or rt_parallel_split's */
	_Atomic(rt_parallel_fn) fn;
	_Atomic(void *) ctx;
	_Atomic int64_t n;
	atomic_int split;
	atomic_int pending;           /* static: helpers still on their chunk */
	atomic_uint_least64_t claim;  /* split: job id << 32 | next item */
	_Atomic int64_t done;         /* split: items finished */
	uint32_t split_id;            /* the last split job's id */
} pool;

/* Set while this thread runs part of a job: nested calls run inline. */
static _Thread_local int in_job;

static void run_chunk(rt_parallel_fn fn, void *ctx, int64_t n, int t, int count)
{
	int64_t b = n * t / count;
	int64_t e = n * (t + 1) / count;
	if (b < e)
		fn(ctx, b, e);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Polls until done(arg) for up to `ns`; returns done(arg).  Past the first
 * RT_SPIN_PAUSE_NS it yields the core between polls: with more runnable
 * threads than cores (another process's pool, say) a pure spin would keep
 * from its core the very thread it waits for.
 */
static int spin_until(int (*done)(void *), void *arg, int64_t ns)
{
	int64_t start = 0, t = 0;
	for (unsigned i = 0;; i++) {
		if (done(arg))
			return 1;
		if (i % 64 == 0) { /* read the clock now and then */
			t = now_ns();
			if (start == 0)
				start = t;
			else if (t - start >= ns)
				return done(arg);
		}
		if (t - start < RT_SPIN_PAUSE_NS)
			cpu_relax();
		else
			sched_yield();
	}
}

/* Sleeps on done_cv until done(arg), after spinning for spin_ns; pool_lock
 * not held. */
static void wait_until(int (*done)(void *), void *arg, int64_t spin_ns)
{
	if (spin_ns > 0 && spin_until(done, arg, spin_ns))
		return;
	pthread_mutex_lock(&pool_lock);
	atomic_store(&pool.waiting, 1);
	while (!done(arg))
		pthread_cond_wait(&done_cv, &pool_lock);
	atomic_store(&pool.waiting, 0);
	pthread_mutex_unlock(&pool_lock);
}

/* Wakes the caller if it sleeps in wait_until. */
static void wake_caller(void)
{
	if (atomic_load(&pool.waiting)) {
		pthread_mutex_lock(&pool_lock);
		pthread_cond_signal(&done_cv);
		pthread_mutex_unlock(&pool_lock);
	}
}

static int job_posted(void *seen)
{
	unsigned long g = atomic_load(&pool.generation);
	return (g != *(unsigned long *)seen && g % 2 == 0) || atomic_load(&pool.stop);
}

static int chunks_finished(void *unused)
{
	(void)unused;
	return atomic_load(&pool.pending) == 0;
}

static int items_finished(void *n)
{
	return atomic_load(&pool.done) == *(int64_t *)n;
}

/*
 * Takes items of split job `id` until none is left: each claim is a
 * compare-and-swap of (id, i) to (id, i + 1), so it fails once the job is
 * closed or another has begun.
 */
static void claim_items(uint32_t id, rt_parallel_fn fn, void *ctx, int64_t n)
{
	uint_least64_t c = atomic_load(&pool.claim);
	for (;;) {
		uint32_t i = (uint32_t)c;
		if ((uint32_t)(c >> 32) != id || i == CLAIM_CLOSED || (int64_t)i >= n)
			return;
		if (!atomic_compare_exchange_weak(&pool.claim, &c, c + 1))
			continue; /* c now holds the current value */
		fn(ctx, i, (int64_t)i + 1);
		if (atomic_fetch_add(&pool.done, 1) + 1 == n)
			wake_caller();
		c = atomic_load(&pool.claim);
	}
}

static void *helper_main(void *arg)
{
	int t = (int)(intptr_t)arg;
	in_job = 1;
	pthread_mutex_lock(&pool_lock);
	/* not pool.generation: a job may have been posted before we got here */
	unsigned long seen = pool.base_generation;
	pthread_mutex_unlock(&pool_lock);
	int64_t spin_ns = 0; /* after a split job, poll for the next */
	for (;;) {
		if (spin_ns == 0 || !spin_until(job_posted, &seen, spin_ns)) {
			pthread_mutex_lock(&pool_lock);
			atomic_fetch_add(&pool.sleepers, 1);
			while (!job_posted(&seen))
				pthread_cond_wait(&start_cv, &pool_lock);
			atomic_fetch_sub(&pool.sleepers, 1);
			pthread_mutex_unlock(&pool_lock);
		}
		if (atomic_load(&pool.stop))
			break;
		/* read the job as a seqlock: retry if the caller rewrote it */
		unsigned long g = atomic_load(&pool.generation);
		rt_parallel_fn fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
		void *ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
		int64_t n = atomic_load_explicit(&pool.n, memory_order_relaxed);
		int split = atomic_load_explicit(&pool.split, memory_order_relaxed);
		uint32_t id = (uint32_t)(atomic_load_explicit(&pool.claim, memory_order_relaxed) >> 32);
		atomic_thread_fence(memory_order_acquire);
		if (g % 2 != 0 || atomic_load_explicit(&pool.generation, memory_order_relaxed) != g)
			continue;
		seen = g;
		spin_ns = split ? RT_SPIN_IDLE_NS : 0;
		if (split) {
			claim_items(id, fn, ctx, n);
			continue;
		}
		/* a static job waits for every helper: none can be late for it */
		run_chunk(fn, ctx, n, t, pool.count);
		if (atomic_fetch_sub(&pool.pending, 1) == 1)
			wake_caller();
	}
	return NULL;
}

/* Publishes a job (job_lock held) and wakes sleeping helpers. */
static void post_job(rt_parallel_fn fn, void *ctx, int64_t n, int split)
{
	unsigned long g = atomic_load_explicit(&pool.generation, memory_order_relaxed);
	atomic_store_explicit(&pool.generation, g + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
	atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
	atomic_store_explicit(&pool.n, n, memory_order_relaxed);
	atomic_store_explicit(&pool.split, split, memory_order_relaxed);
	if (split) {
		atomic_store(&pool.done, 0);
		atomic_store(&pool.claim, (uint_least64_t)++pool.split_id << 32);
	} else {
		atomic_store(&pool.pending, pool.count - 1);
	}
	atomic_store(&pool.generation, g + 2);
	if (atomic_load(&pool.sleepers) > 0) {
		pthread_mutex_lock(&pool_lock);
		pthread_cond_broadcast(&start_cv);
		pthread_mutex_unlock(&pool_lock);
	}
}

/* Joins all helpers; job_lock held. */
static void stop_helpers(void)
{
	pthread_mutex_lock(&pool_lock);
	atomic_store(&pool.stop, 1);
	pthread_cond_broadcast(&start_cv);
	pthread_mutex_unlock(&pool_lock);
	for (int i = 0; i < pool.started; i++)
		pthread_join(pool.helper[i], NULL);
	pool.started = 0;
	atomic_store(&pool.stop, 0);
	pool.count = 0;
}

/* The thread count asked for by n == 0, or -1 with err set. */
static int default_count(char *err, int errlen)
{
	const char *env = getenv("ARCHD_THREADS");
	if (env != NULL && *env != '\0') {
		char *end = NULL;
		errno = 0;
		long v = strtol(env, &end, 10);
		if (errno != 0 || *end != '\0' || v < 1 || v > RT_THREADS_MAX) {
			if (err != NULL && errlen > 0)
				snprintf(err, (size_t)errlen,
					 "ARCHD_THREADS='%s': expected an integer from 1 to %d",
					 env, RT_THREADS_MAX);
			return -1;
		}
		return (int)v;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	if (cpus > RT_THREADS_MAX)
		cpus = RT_THREADS_MAX;
	return (int)cpus;
}

/* Starts a pool of `count` threads; job_lock held, no helpers running. */
static int start_pool(int count, char *err, int errlen)
{
	pool.count = 1;
	pool.base_generation = atomic_load(&pool.generation);
	for (int t = 1; t < count; t++) {
		int rc = pthread_create(&pool.helper[t - 1], NULL, helper_main,
					(void *)(intptr_t)t);
		if (rc != 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, (size_t)errlen,
					 "pthread_create for compute thread %d of %d: %s",
					 t + 1, count, strerror(rc));
			return -1;
		}
		pool.started = t;
	}
	pool.count = count;
	/* the ops split their GEMMs over the pool (op_linear.c) */
	openblas_set_num_threads(1);
	return count;
}

int rt_threads_init(int n, char *err, int errlen)
{
	if (n < 0 || n > RT_THREADS_MAX) {
		if (err != NULL && errlen > 0)
			snprintf(err, (size_t)errlen,
				 "thread count %d: expected 0 (automatic) or 1 to %d", n,
				 RT_THREADS_MAX);
		return -1;
	}
	int count = n > 0 ? n : default_count(err, errlen);
	if (count < 0)
		return -1;
	pthread_mutex_lock(&job_lock);
	int old = pool.count;
	if (old == count) {
		pthread_mutex_unlock(&job_lock);
		return count;
	}
	stop_helpers();
	int rc = start_pool(count, err, errlen);
	if (rc < 0) {
		stop_helpers();
		if (old > 0 && start_pool(old, NULL, 0) < 0) {
			stop_helpers();
			start_pool(1, NULL, 0);
		}
	}
	pthread_mutex_unlock(&job_lock);
	return rc;
}

/* Initialises with the default count; job_lock held. */
static void ensure_pool(void)
{
	if (pool.count > 0)
		return;
	int count = default_count(NULL, 0);
	if (count < 0 || start_pool(count, NULL, 0) < 0) {
		stop_helpers();
		start_pool(1, NULL, 0);
	}
}

int rt_threads_count(void)
{
	/* inside a job its caller holds job_lock, so the pool cannot be
	 * resized: the count is read as it is */
	if (in_job)
		return pool.count;
	pthread_mutex_lock(&job_lock);
	ensure_pool();
	int count = pool.count;
	pthread_mutex_unlock(&job_lock);
	return count;
}

void rt_threads_shutdown(void)
{
	pthread_mutex_lock(&job_lock);
	stop_helpers();
	pthread_mutex_unlock(&job_lock);
}

void rt_parallel_for(int64_t n, rt_parallel_fn fn, void *ctx)
{
	if (n <= 0)
		return;
	if (in_job || n == 1) {
		fn(ctx, 0, n);
		return;
	}
	pthread_mutex_lock(&job_lock);
	ensure_pool();
	int count = pool.count;
	if (count == 1) {
		pthread_mutex_unlock(&job_lock);
		fn(ctx, 0, n);
		return;
	}
	post_job(fn, ctx, n, 0);
	in_job = 1;
	run_chunk(fn, ctx, n, 0, count);
	in_job = 0;
	wait_until(chunks_finished, NULL, 0);
	pthread_mutex_unlock(&job_lock);
}

void rt_parallel_split(int64_t n, rt_parallel_fn fn, void *ctx)
{
	if (n <= 0)
		return;
	if (in_job || n == 1 || n >= CLAIM_CLOSED || pthread_mutex_trylock(&job_lock) != 0) {
		fn(ctx, 0, n);
		return;
	}
	ensure_pool();
	if (pool.count == 1) {
		pthread_mutex_unlock(&job_lock);
		fn(ctx, 0, n);
		return;
	}
	post_job(fn, ctx, n, 1);
	in_job = 1;
	claim_items(pool.split_id, fn, ctx, n);
	in_job = 0;
	wait_until(items_finished, &n, RT_SPIN_WAIT_NS);
	/* a helper that claims later finds the job closed */
	atomic_store(&pool.claim, (uint_least64_t)pool.split_id << 32 | CLAIM_CLOSED);
	pthread_mutex_unlock(&job_lock);
}
