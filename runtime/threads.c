/*
 * threads.c — the shared compute pool (see threads.h).
 *
 * The caller of rt_parallel_for() is thread 0 of the job; helpers 1..T-1
 * sleep on `start` until the job generation changes, run their chunk, and
 * the last one to finish signals `done`.  `job_lock` is held by the caller
 * for the whole job, which is what serialises users from different threads.
 */
#include "runtime/threads.h"

#include <cblas.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RT_THREADS_MAX 256

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static struct {
	int count;    /* threads in all, 0 before initialisation */
	int started;  /* helper threads running */
	pthread_t helper[RT_THREADS_MAX];
	unsigned long generation;
	unsigned long base_generation; /* generation when the helpers started */
	int stop;
	int pending;  /* helpers still working on the current job */
	rt_parallel_fn fn;
	void *ctx;
	int64_t n;
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

static void *helper_main(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned long seen = 0;
	in_job = 1;
	pthread_mutex_lock(&pool_lock);
	/* not pool.generation: a job may have been posted before we got here */
	seen = pool.base_generation;
	for (;;) {
		while (pool.generation == seen && !pool.stop)
			pthread_cond_wait(&start_cv, &pool_lock);
		if (pool.stop)
			break;
		seen = pool.generation;
		rt_parallel_fn fn = pool.fn;
		void *ctx = pool.ctx;
		int64_t n = pool.n;
		int count = pool.count;
		pthread_mutex_unlock(&pool_lock);
		run_chunk(fn, ctx, n, t, count);
		pthread_mutex_lock(&pool_lock);
		if (--pool.pending == 0)
			pthread_cond_signal(&done_cv);
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

/* Joins all helpers; job_lock held. */
static void stop_helpers(void)
{
	pthread_mutex_lock(&pool_lock);
	pool.stop = 1;
	pthread_cond_broadcast(&start_cv);
	pthread_mutex_unlock(&pool_lock);
	for (int i = 0; i < pool.started; i++)
		pthread_join(pool.helper[i], NULL);
	pool.started = 0;
	pool.stop = 0;
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
	pool.base_generation = pool.generation;
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
	pthread_mutex_lock(&pool_lock);
	pool.fn = fn;
	pool.ctx = ctx;
	pool.n = n;
	pool.pending = count - 1;
	pool.generation++;
	pthread_cond_broadcast(&start_cv);
	pthread_mutex_unlock(&pool_lock);

	in_job = 1;
	run_chunk(fn, ctx, n, 0, count);
	in_job = 0;

	pthread_mutex_lock(&pool_lock);
	while (pool.pending > 0)
		pthread_cond_wait(&done_cv, &pool_lock);
	pthread_mutex_unlock(&pool_lock);
	pthread_mutex_unlock(&job_lock);
}
