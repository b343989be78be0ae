/*
 * test_threads.c — the compute pool (runtime/threads.c): static and split
 * jobs run every item exactly once, nested calls and calls while another
 * thread's job holds the pool run inline, resizing, $ARCHD_THREADS, and
 * the thread count asked from inside a job.
 *
 * Built twice: as every unit test, and (where the compiler can) as
 * test_threads_tsan, threads.c and this file under ThreadSanitizer, which
 * fails the run on any data race it sees in the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/threads.h"

typedef struct count_ctx {
	int *hits;
	int nested;
} count_ctx;

static void count_fn(void *ctx, int64_t b, int64_t e)
{
	count_ctx *c = ctx;
	for (int64_t i = b; i < e; i++) {
		c->hits[i]++;
		if (c->nested) { /* a nested job runs inline */
			count_ctx inner = {c->hits + i, 0};
			rt_parallel_for(1, count_fn, &inner);
		}
	}
}

static void *user_thread(void *arg)
{
	int *hits = arg;
	count_ctx c = {hits, 0};
	for (int rep = 0; rep < 50; rep++)
		rt_parallel_for(1000, count_fn, &c);
	return NULL;
}

/* Runs fn(h1) and fn(h2) on two threads at once. */
static void two_users(void *(*fn)(void *), int *h1, int *h2)
{
	pthread_t t1, t2;
	assert_int_equal(pthread_create(&t1, NULL, fn, h1), 0);
	assert_int_equal(pthread_create(&t2, NULL, fn, h2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
}

static void test_thread_pool(void **state)
{
	(void)state;
	assert_int_equal(rt_threads_init(2, NULL, 0), 2);
	assert_int_equal(rt_threads_count(), 2);
	int hits[1000];
	static const int sizes[] = {1, 2, 3, 999, 1000};
	for (int s = 0; s < 5; s++) {
		memset(hits, 0, sizeof hits);
		count_ctx c = {hits, s == 3};
		rt_parallel_for(sizes[s], count_fn, &c);
		for (int i = 0; i < sizes[s]; i++)
			assert_int_equal(hits[i], s == 3 ? 2 : 1);
	}
	/* two user threads at once: serialised, nothing lost */
	int h1[1000] = {0}, h2[1000] = {0};
	two_users(user_thread, h1, h2);
	for (int i = 0; i < 1000; i++)
		assert_true(h1[i] == 50 && h2[i] == 50);
	/* ARCHD_THREADS */
	char err[128] = "";
	setenv("ARCHD_THREADS", "3", 1);
	assert_int_equal(rt_threads_init(0, err, sizeof err), 3);
	setenv("ARCHD_THREADS", "2x", 1);
	assert_int_equal(rt_threads_init(0, err, sizeof err), -1);
	assert_non_null(strstr(err, "ARCHD_THREADS='2x'"));
	assert_int_equal(rt_threads_count(), 3); /* unchanged after an error */
	unsetenv("ARCHD_THREADS");
	assert_int_equal(rt_threads_init(-1, err, sizeof err), -1);
	assert_int_equal(rt_threads_init(2, NULL, 0), 2);
}

static void *split_user(void *arg)
{
	int *hits = arg;
	count_ctx c = {hits, 0};
	for (int rep = 0; rep < 200; rep++) {
		rt_parallel_split(1000, count_fn, &c);
		rt_parallel_for(7, count_fn, &c);
	}
	return NULL;
}

/* rt_parallel_split: every item once, whoever claims it; nested calls,
 * and calls while another thread's job holds the pool, run inline; static
 * and split jobs interleave, back to back and after the helpers slept. */
static void test_thread_split(void **state)
{
	(void)state;
	assert_int_equal(rt_threads_init(2, NULL, 0), 2);
	int hits[1000];
	static const int sizes[] = {1, 2, 3, 999, 1000};
	for (int s = 0; s < 5; s++) {
		for (int rep = 0; rep < 100; rep++) {
			memset(hits, 0, sizeof hits);
			count_ctx c = {hits, s == 3};
			rt_parallel_split(sizes[s], count_fn, &c);
			for (int i = 0; i < sizes[s]; i++)
				assert_int_equal(hits[i], s == 3 ? 2 : 1);
			if (rep == 50) /* let the helpers fall asleep */
				nanosleep(&(struct timespec){0, 2000000}, NULL);
		}
	}
	int h1[1000] = {0}, h2[1000] = {0};
	two_users(split_user, h1, h2);
	for (int i = 0; i < 1000; i++)
		assert_true(h1[i] == (i < 7 ? 400 : 200) && h2[i] == (i < 7 ? 400 : 200));
	assert_int_equal(rt_threads_init(1, NULL, 0), 1);
	memset(hits, 0, sizeof hits);
	count_ctx c = {hits, 0};
	rt_parallel_split(1000, count_fn, &c);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(hits[i], 1);
	assert_int_equal(rt_threads_init(2, NULL, 0), 2);
}

/* Each item records the pool's thread count seen from inside the job. */
static void count_in_job(void *ctx, int64_t b, int64_t e)
{
	int *seen = ctx;
	for (int64_t i = b; i < e; i++)
		seen[i] = rt_threads_count();
}

/* rt_threads_count() from inside a job (the caller's part or a helper's)
 * answers without the pool's job lock, which the job's caller holds. */
static void test_thread_count_in_job(void **state)
{
	(void)state;
	assert_int_equal(rt_threads_init(2, NULL, 0), 2);
	int seen[64];
	for (int split = 0; split < 2; split++) {
		memset(seen, 0, sizeof seen);
		if (split)
			rt_parallel_split(64, count_in_job, seen);
		else
			rt_parallel_for(64, count_in_job, seen);
		for (int i = 0; i < 64; i++)
			assert_int_equal(seen[i], 2);
	}
}

static int teardown(void **state)
{
	(void)state;
	rt_threads_shutdown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_pool),
		cmocka_unit_test(test_thread_split),
		cmocka_unit_test(test_thread_count_in_job),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
