/*
 * test_dm_specs.c — archd's worker pool and spec cache on a real event
 * loop: work off the loop and done() on it, the queue limit, compiles that
 * are stored, shared and found again by a new cache over the same state
 * dir (a restart), compile errors, .air uploads, task states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/metrics.h"
#include "daemon/specs.h"
#include "daemon/workers.h"
#include "runtime/statedir.h"

/* --- the worker pool ---------------------------------------------------------- */

typedef struct wjob {
	pthread_t loop;
	int ran_off_loop, done_on_loop, done;
	pthread_mutex_t *gate; /* held by the test to keep the job running */
} wjob;

static void wjob_work(void *arg)
{
	wjob *j = arg;
	j->ran_off_loop = !pthread_equal(pthread_self(), j->loop);
	if (j->gate != NULL) {
		pthread_mutex_lock(j->gate);
		pthread_mutex_unlock(j->gate);
	}
}

static void wjob_done(void *arg)
{
	wjob *j = arg;
	j->done_on_loop = pthread_equal(pthread_self(), j->loop);
	j->done = 1;
}

static void run_until(struct event_base *base, const int *flag)
{
	for (int i = 0; i < 100000 && !*flag; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(*flag);
}

static void test_workers(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	char err[256];
	dm_workers *w = dm_workers_new(base, 1, 1, err, sizeof err);
	assert_non_null(w);
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&gate);
	wjob blocker = {.loop = pthread_self(), .gate = &gate};
	wjob queued = {.loop = pthread_self()};
	wjob refused = {.loop = pthread_self()};
	assert_int_equal(dm_workers_submit(w, wjob_work, wjob_done, &blocker), 0);
	/* Wait until the thread took the blocker, so the queue is empty. */
	dm_workers_stats st;
	do {
		dm_workers_stats_get(w, &st);
	} while (st.queued != 0);
	assert_int_equal(dm_workers_submit(w, wjob_work, wjob_done, &queued), 0);
	assert_int_equal(dm_workers_submit(w, wjob_work, wjob_done, &refused), -1);
	dm_workers_stats_get(w, &st);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.running, 1);
	assert_int_equal(st.rejected, 1);
	pthread_mutex_unlock(&gate);
	run_until(base, &queued.done);
	assert_true(blocker.done && blocker.ran_off_loop && blocker.done_on_loop);
	assert_true(queued.ran_off_loop && queued.done_on_loop);
	assert_false(refused.done);
	/* Jobs still queued when the pool stops are run and done. */
	wjob last = {.loop = pthread_self()};
	assert_int_equal(dm_workers_submit(w, wjob_work, wjob_done, &last), 0);
	dm_workers_free(w);
	assert_true(last.done && last.done_on_loop);
	event_base_free(base);
	pthread_mutex_destroy(&gate);
}

static void nap(void)
{
	nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* A job that notes when it started and finished on a shared clock, held
 * while its gate is closed. */
typedef struct ljob {
	atomic_int *clock, *gate;
	atomic_int started, finished; /* ticks of the clock; 0: not yet */
	int done;
} ljob;

static void ljob_work(void *arg)
{
	ljob *j = arg;
	atomic_store(&j->started, atomic_fetch_add(j->clock, 1) + 1);
	while (j->gate != NULL && atomic_load(j->gate))
		nap();
	atomic_store(&j->finished, atomic_fetch_add(j->clock, 1) + 1);
}

static void ljob_done(void *arg)
{
	((ljob *)arg)->done = 1;
}

/* Jobs of a lane run one at a time and in order; a job waiting for its
 * lane leaves the thread to the next lane's (archd's answers on one
 * supernet once held a thread while another answer's archive build ran,
 * and uploads waited behind them). */
static void test_worker_lanes(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	char err[256];
	dm_workers *w = dm_workers_new(base, 2, 8, err, sizeof err);
	assert_non_null(w);
	atomic_int clock = 0, gate = 1;
	ljob a = {.clock = &clock, .gate = &gate}, b = {.clock = &clock},
	     b2 = {.clock = &clock}, c = {.clock = &clock}, plain = {.clock = &clock};
	assert_int_equal(dm_workers_submit_lane(w, 7, ljob_work, ljob_done, &a), 0);
	assert_int_equal(dm_workers_submit_lane(w, 7, ljob_work, ljob_done, &b), 0);
	assert_int_equal(dm_workers_submit_lane(w, 7, ljob_work, ljob_done, &b2), 0);
	assert_int_equal(dm_workers_submit_lane(w, 9, ljob_work, ljob_done, &c), 0);
	assert_int_equal(dm_workers_submit(w, ljob_work, ljob_done, &plain), 0);
	run_until(base, &c.done);
	run_until(base, &plain.done);
	/* a still runs; its lane's next jobs wait, and hold no thread */
	assert_true(atomic_load(&a.started) > 0 && atomic_load(&a.finished) == 0);
	assert_int_equal(atomic_load(&b.started), 0);
	assert_int_equal(atomic_load(&b2.started), 0);
	dm_workers_stats st;
	dm_workers_stats_get(w, &st);
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.running, 1);
	atomic_store(&gate, 0);
	run_until(base, &b2.done);
	assert_true(a.done && b.done);
	assert_true(atomic_load(&b.started) > atomic_load(&a.finished));
	assert_true(atomic_load(&b2.started) > atomic_load(&b.finished));
	/* the queue limit counts jobs waiting for their lane */
	atomic_store(&gate, 1);
	ljob held = {.clock = &clock, .gate = &gate}, q[8];
	assert_int_equal(dm_workers_submit_lane(w, 3, ljob_work, ljob_done, &held), 0);
	while (atomic_load(&held.started) == 0)
		nap();
	for (int i = 0; i < 8; i++) {
		q[i] = (ljob){.clock = &clock};
		assert_int_equal(dm_workers_submit_lane(w, 3, ljob_work, ljob_done, &q[i]), 0);
	}
	ljob refused = {.clock = &clock};
	assert_int_equal(dm_workers_submit(w, ljob_work, ljob_done, &refused), -1);
	/* stopping runs the lane's waiting jobs too, each done on the loop */
	atomic_store(&gate, 0);
	dm_workers_free(w);
	for (int i = 0; i < 8; i++)
		assert_true(q[i].done && atomic_load(&q[i].started) > atomic_load(&held.finished));
	assert_true(held.done);
	assert_false(refused.done);
	event_base_free(base);
}

/* --- the spec cache ------------------------------------------------------------- */

typedef struct fixture {
	char dir[64];
	struct event_base *base;
	dm_workers *workers;
	dm_metrics *metrics;
	char *source;
	size_t len;
} fixture;

static const char *const route_names[] = {"test"};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(1 << 16);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	char err[256];
	snprintf(f->dir, sizeof f->dir, "/tmp/test_dm_specs.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->base = event_base_new();
	f->workers = dm_workers_new(f->base, 2, 16, err, sizeof err);
	f->metrics = dm_metrics_new(route_names, 1);
	f->source = read_file(ARCHD_BUILD_STDLIB_DIR "/../examples/fashion.arch", &f->len);
	*state = f;
	return f->workers == NULL || f->metrics == NULL;
}

static int teardown(void **state)
{
	fixture *f = *state;
	dm_workers_free(f->workers);
	dm_metrics_free(f->metrics);
	event_base_free(f->base);
	free(f->source);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* What a done callback saw. */
typedef struct seen {
	int called, status, shared, ndiags;
	char id[IR_ID_STRLEN + 1];
	char text[512];
} seen;

static void on_result(void *arg, const dm_specs_result *r)
{
	seen *s = arg;
	s->called++;
	s->status = r->status;
	s->shared = r->shared;
	if (r->spec != NULL)
		memcpy(s->id, r->spec->id_str, sizeof s->id);
	if (r->diagnostics != NULL)
		s->ndiags = (int)json_array_size(r->diagnostics);
	if (r->text != NULL)
		snprintf(s->text, sizeof s->text, "%s", r->text);
}

static dm_specs *new_specs(fixture *f)
{
	char err[256];
	dm_specs *s = dm_specs_new(f->dir, f->workers, f->metrics, err, sizeof err);
	assert_non_null(s);
	assert_int_equal(dm_specs_configure(s, ARCHD_BUILD_STDLIB_DIR, NULL, 0), 0);
	return s;
}

static void test_compile_store_find(void **state)
{
	fixture *f = *state;
	dm_specs *s = new_specs(f);
	seen a = {0}, b = {0};
	assert_int_equal(dm_specs_submit(s, "fashion.arch", f->source, f->len, on_result, &a), 1);
	assert_int_equal(dm_specs_in_flight(s), 1);
	run_until(f->base, &a.called);
	assert_int_equal(a.status, 201);
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_COMPILES), 1);
	/* Stored content-addressed. */
	uint8_t id[16];
	char path[RT_STATE_PATH_MAX];
	assert_int_equal(ir_id_parse(a.id, id), 0);
	assert_int_equal(rt_state_ir_path(f->dir, id, path, sizeof path), 0);
	assert_int_equal(access(path, F_OK), 0);
	/* The same upload is answered at once, from memory. */
	assert_int_equal(dm_specs_submit(s, "fashion.arch", f->source, f->len, on_result, &b), 0);
	assert_int_equal(b.called, 1);
	assert_int_equal(b.status, 200);
	assert_string_equal(b.id, a.id);
	/* Its .air is the same spec. */
	const dm_spec *sp = dm_specs_get(s, id);
	assert_non_null(sp);
	uint8_t *air;
	size_t airlen;
	assert_int_equal(ir_binary_write(sp->m, &air, &airlen), 0);
	seen c = {0};
	assert_int_equal(dm_specs_submit(s, "x", air, airlen, on_result, &c), 1);
	run_until(f->base, &c.called);
	assert_int_equal(c.status, 200);
	assert_string_equal(c.id, a.id);
	/* A damaged one is refused with the reader's reason. */
	air[airlen - 1] ^= 0xff;
	seen d = {0};
	assert_int_equal(dm_specs_submit(s, "x", air, airlen, on_result, &d), 1);
	run_until(f->base, &d.called);
	assert_int_equal(d.status, 400);
	assert_non_null(strstr(d.text, "not a valid .air file: "));
	free(air);
	dm_specs_free(s);

	/* A restart: a new cache over the same state dir compiles nothing. */
	s = new_specs(f);
	seen e = {0};
	assert_int_equal(dm_specs_submit(s, "fashion.arch", f->source, f->len, on_result, &e), 0);
	assert_int_equal(e.status, 200);
	assert_string_equal(e.id, a.id);
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_COMPILES), 1);
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_SPEC_LOADS), 1);
	assert_int_equal(dm_specs_count(s), 1);
	dm_specs_free(s);
}

static void test_shared_compile(void **state)
{
	fixture *f = *state;
	dm_specs *s = new_specs(f);
	seen r[4] = {{0}};
	for (int i = 0; i < 4; i++)
		assert_int_equal(dm_specs_submit(s, "fashion.arch", f->source, f->len, on_result, &r[i]), 1);
	assert_int_equal(dm_specs_in_flight(s), 1);
	run_until(f->base, &r[3].called);
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_COMPILES), 1);
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_COMPILE_SHARED), 3);
	assert_int_equal(r[0].status, 201);
	assert_false(r[0].shared);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(r[i].called, 1);
		assert_int_equal(r[i].status, 200);
		assert_true(r[i].shared);
		assert_string_equal(r[i].id, r[0].id);
	}
	dm_specs_free(s);
}

static void test_compile_errors(void **state)
{
	fixture *f = *state;
	dm_specs *s = new_specs(f);
	const char src[] = "task t { data = nowhere; }\n";
	seen a = {0}, b = {0};
	assert_int_equal(dm_specs_submit(s, "bad.arch", src, strlen(src), on_result, &a), 1);
	run_until(f->base, &a.called);
	assert_int_equal(a.status, 422);
	assert_true(a.ndiags >= 1);
	assert_non_null(strstr(a.text, "bad.arch:1:17: error: unknown dataset 'nowhere'"));
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_COMPILE_ERRORS), 1);
	/* Errors are not cached: the next try compiles again. */
	assert_int_equal(dm_specs_submit(s, "bad.arch", src, strlen(src), on_result, &b), 1);
	run_until(f->base, &b.called);
	assert_int_equal(b.status, 422);
	assert_int_equal(dm_specs_count(s), 0);
	dm_specs_free(s);
}

static void test_task_state(void **state)
{
	fixture *f = *state;
	dm_specs *s = new_specs(f);
	seen a = {0};
	dm_specs_submit(s, "fashion.arch", f->source, f->len, on_result, &a);
	run_until(f->base, &a.called);
	uint8_t id[16];
	assert_int_equal(ir_id_parse(a.id, id), 0);
	const dm_spec *sp = dm_specs_get(s, id);
	json_t *v = dm_specs_json(s, sp);
	json_t *task = json_array_get(json_object_get(v, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "id")), a.id);
	assert_string_equal(json_string_value(json_object_get(task, "name")), "fashion");
	assert_string_equal(json_string_value(json_object_get(task, "state")), "untrained");
	json_decref(v);
	/* A checkpoint in the state dir for the task's supernet. */
	char path[RT_STATE_PATH_MAX], err[256];
	assert_int_equal(rt_state_checkpoint_path(f->dir, sp->m->tasks[0].supernet_key, path, sizeof path), 0);
	assert_int_equal(rt_state_mkparents(path, err, sizeof err), 0);
	assert_int_equal(rt_state_write_file(path, "x", 1, 0600, err, sizeof err), 0);
	v = dm_specs_json(s, sp);
	task = json_array_get(json_object_get(v, "tasks"), 0);
	assert_string_equal(json_string_value(json_object_get(task, "state")), "checkpointed");
	json_decref(v);
	dm_specs_free(s);
}

/* Past max_specs the least recently used unheld spec leaves memory; it
 * comes back from the state dir when asked for; a held one stays. */
static void test_bounded_memory(void **state)
{
	fixture *f = *state;
	dm_specs *s = new_specs(f);
	dm_specs_set_max(s, 1);
	/* Two specs: the example, and one with a different target. */
	char *other = malloc(f->len + 64);
	assert_non_null(other);
	memcpy(other, f->source, f->len);
	int olen = (int)f->len + snprintf(other + f->len, 64, "\ntarget extra { macs <= 3M; }\n");
	seen a = {0}, b = {0};
	dm_specs_submit(s, "a.arch", f->source, f->len, on_result, &a);
	run_until(f->base, &a.called);
	dm_specs_submit(s, "b.arch", other, (size_t)olen, on_result, &b);
	run_until(f->base, &b.called);
	assert_int_equal(a.status, 201);
	assert_int_equal(b.status, 201);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(dm_specs_count(s), 1);
	/* a went back to the state dir; asking loads it, and b leaves. */
	uint8_t ida[16], idb[16];
	assert_int_equal(ir_id_parse(a.id, ida), 0);
	assert_int_equal(ir_id_parse(b.id, idb), 0);
	uint64_t loads = dm_metrics_get(f->metrics, DM_COUNTER_SPEC_LOADS);
	const dm_spec *sa = dm_specs_get(s, ida);
	assert_non_null(sa);
	assert_string_equal(sa->id_str, a.id);
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_SPEC_LOADS), loads + 1);
	assert_int_equal(dm_specs_count(s), 1);
	/* Held, a stays in memory while b comes in. */
	dm_specs_hold(sa);
	const dm_spec *sb = dm_specs_get(s, idb);
	assert_non_null(sb);
	assert_int_equal(dm_specs_count(s), 2);
	assert_string_equal(sa->id_str, a.id); /* still valid */
	/* Released, the bound holds again at the next eviction; a, just used,
	 * is the one that stays. */
	dm_specs_release(sa);
	seen c = {0};
	assert_int_equal(dm_specs_submit(s, "a.arch", f->source, f->len, on_result, &c), 0);
	assert_int_equal(c.status, 200);
	dm_specs_set_max(s, 1);
	assert_int_equal(dm_specs_count(s), 1);
	assert_non_null(dm_specs_get(s, ida));
	assert_int_equal(dm_metrics_get(f->metrics, DM_COUNTER_SPEC_LOADS), loads + 2);
	free(other);
	dm_specs_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_worker_lanes),
		cmocka_unit_test_setup_teardown(test_compile_store_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_compile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compile_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_memory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
