/*
 * jobs.c — training jobs on one trainer thread (see jobs.h).
 */
#include "daemon/jobs.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "daemon/log.h"
#include "runtime/statedir.h"
#include "runtime/train.h"

/* Finished jobs kept for GET /v1/jobs/{job}; the oldest beyond are
 * forgotten (404), so a long-running daemon's memory stays bounded. */
#define JOBS_KEEP_FINISHED 1000

/* Optimiser steps between checkpoints besides each epoch's end: a kill -9
 * loses at most this much work. */
#define JOB_CKPT_EVERY 200

const char *const dm_job_state_names[DM_JOB_STATE_COUNT] = {
	[DM_JOB_QUEUED] = "queued",
	[DM_JOB_RUNNING] = "running",
	[DM_JOB_DONE] = "done",
	[DM_JOB_CANCELLED] = "cancelled",
	[DM_JOB_FAILED] = "failed",
};
static_assert(DM_JOB_STATE_COUNT == 5, "a name for every job state");

typedef struct job {
	struct job *next;  /* every job, newest first */
	struct job *qnext; /* the queue */
	char id[DM_JOB_ID_LEN + 1];
	const dm_spec *spec; /* held until the job finishes, then NULL */
	int task;
	char spec_id[IR_ID_STRLEN + 1];
	char task_name[128];
	uint8_t key[16]; /* the checkpoint's key (rt_train_key) */
	atomic_int cancel;
	/* Guarded by the lock from here on. */
	dm_job_state state;
	char phase[32];
	int epoch, epochs;
	long step, steps;
	int64_t global_step, total_steps, first_step;
	int have_steps;
	double loss_sum;
	long images, correct;
	double eval_acc;
	int have_eval;
	double started; /* monotonic seconds when training began */
	char error[512];
} job;

struct dm_jobs {
	char *root;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	job *all;
	job *qhead, *qtail;
	unsigned nqueued;
	job *running;
	unsigned nfinished; /* jobs in `all` that are done, cancelled or failed */
	int stopping;
	unsigned max_queued;
	uint64_t seq, done, cancelled, failed, rejected;
	pthread_t thread;
	int have_thread;
	atomic_uint fresh; /* jobs that started a supernet from scratch */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sets a job's state and logs it; lock held. */
static void job_set_state(job *jb, dm_job_state to)
{
	assert(to >= 0 && to < DM_JOB_STATE_COUNT);
	dm_log(DM_LOG_INFO, "%s (task %s of %s): %s -> %s", jb->id, jb->task_name, jb->spec_id,
	       dm_job_state_names[jb->state], dm_job_state_names[to]);
	jb->state = to;
}

static int finished(const job *jb)
{
	return jb->state == DM_JOB_DONE || jb->state == DM_JOB_CANCELLED || jb->state == DM_JOB_FAILED;
}

/* Forgets the oldest finished jobs past JOBS_KEEP_FINISHED; lock held. */
static void forget_old(dm_jobs *js)
{
	unsigned seen = 0;
	for (job **p = &js->all; *p != NULL;) {
		job *jb = *p;
		if (finished(jb) && ++seen > JOBS_KEEP_FINISHED) {
			*p = jb->next;
			free(jb);
			js->nfinished--;
			continue;
		}
		p = &jb->next;
	}
}

/* Marks jb finished in state `to` and lets its spec go; lock held. */
static void job_finish(dm_jobs *js, job *jb, dm_job_state to)
{
	job_set_state(jb, to);
	dm_specs_release(jb->spec);
	jb->spec = NULL;
	js->nfinished++;
	if (js->nfinished > JOBS_KEEP_FINISHED)
		forget_old(js);
}

/* --- the trainer thread ------------------------------------------------------ */

typedef struct run_ctx {
	dm_jobs *jobs;
	job *jb;
} run_ctx;

static void on_event(void *arg, const rt_train_event *ev)
{
	run_ctx *rc = arg;
	job *jb = rc->jb;
	pthread_mutex_lock(&rc->jobs->lock);
	snprintf(jb->phase, sizeof jb->phase, "%s", ev->phase_name ? ev->phase_name : "");
	jb->epoch = ev->epoch;
	jb->epochs = ev->epochs;
	jb->step = ev->step;
	jb->steps = ev->steps;
	jb->global_step = ev->global_step;
	jb->total_steps = ev->total_steps;
	if (!jb->have_steps) {
		/* Where this run started: a resumed job's rate counts only its own
		 * steps. */
		jb->first_step = ev->global_step;
		jb->started = now_s();
		jb->have_steps = 1;
	}
	switch (ev->kind) {
	case RT_TRAIN_EVENT_EPOCH_BEGIN:
		jb->loss_sum = 0;
		jb->images = jb->correct = 0;
		break;
	case RT_TRAIN_EVENT_STEP:
		jb->loss_sum += ev->loss * ev->images;
		jb->images += ev->images;
		jb->correct += ev->correct;
		break;
	case RT_TRAIN_EVENT_EPOCH_END:
		if (ev->eval_split != NULL) {
			jb->eval_acc = ev->eval_acc;
			jb->have_eval = 1;
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&rc->jobs->lock);
}

/* Trains jb to the end, or until cancelled; returns its final state. */
static dm_job_state run_job(dm_jobs *js, job *jb, char *err, size_t errlen)
{
	char path[RT_STATE_PATH_MAX];
	if (rt_state_checkpoint_path(js->root, jb->key, path, sizeof path) != 0) {
		snprintf(err, errlen, "the state dir path is too long");
		return DM_JOB_FAILED;
	}
	run_ctx rc = {js, jb};
	rt_train_opts o;
	rt_train_opts_init(&o);
	o.checkpoint = path;
	o.state_dir = 1;
	o.resume = 1;
	o.checkpoint_every = JOB_CKPT_EVERY;
	o.cb = on_event;
	o.cb_ctx = &rc;
	o.cancel = &jb->cancel;
	rt_trainer *t = rt_train_new(jb->spec->m, jb->task, &o, err, errlen);
	if (t == NULL)
		return DM_JOB_FAILED;
	if (rt_train_resumed(t)) {
		dm_log(DM_LOG_INFO, "%s: resuming from %s", jb->id, path);
	} else {
		if (rt_train_note(t)[0] != '\0')
			dm_log(DM_LOG_INFO, "%s: %s", jb->id, rt_train_note(t));
		atomic_fetch_add(&js->fresh, 1);
	}
	int r = atomic_load(&jb->cancel) ? RT_TRAIN_CANCELLED : rt_train_run(t, err, errlen);
	rt_train_free(t);
	return r == RT_TRAIN_DONE ? DM_JOB_DONE : r == RT_TRAIN_CANCELLED ? DM_JOB_CANCELLED : DM_JOB_FAILED;
}

static void *trainer_main(void *arg)
{
	dm_jobs *js = arg;
	pthread_mutex_lock(&js->lock);
	for (;;) {
		while (js->qhead == NULL && !js->stopping)
			pthread_cond_wait(&js->cond, &js->lock);
		if (js->qhead == NULL)
			break;
		job *jb = js->qhead;
		js->qhead = jb->qnext;
		if (js->qhead == NULL)
			js->qtail = NULL;
		js->nqueued--;
		js->running = jb;
		job_set_state(jb, DM_JOB_RUNNING);
		pthread_mutex_unlock(&js->lock);

		char err[512] = "";
		dm_job_state end = run_job(js, jb, err, sizeof err);

		pthread_mutex_lock(&js->lock);
		js->running = NULL;
		if (end == DM_JOB_FAILED) {
			snprintf(jb->error, sizeof jb->error, "%s", err[0] ? err : "training failed");
			dm_log(DM_LOG_ERROR, "%s: %s", jb->id, jb->error);
			js->failed++;
		} else if (end == DM_JOB_CANCELLED) {
			js->cancelled++;
		} else {
			js->done++;
		}
		job_finish(js, jb, end);
	}
	pthread_mutex_unlock(&js->lock);
	return NULL;
}

/* --- the loop side --------------------------------------------------------------- */

dm_jobs *dm_jobs_new(const char *root, unsigned max_queued, char *err, size_t errlen)
{
	dm_jobs *js = calloc(1, sizeof *js);
	if (js == NULL || (js->root = strdup(root)) == NULL) {
		free(js);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	js->max_queued = max_queued;
	pthread_mutex_init(&js->lock, NULL);
	pthread_cond_init(&js->cond, NULL);
	int rc = pthread_create(&js->thread, NULL, trainer_main, js);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the trainer thread: %s", strerror(rc));
		dm_jobs_free(js);
		return NULL;
	}
	js->have_thread = 1;
	return js;
}

void dm_jobs_set_max_queued(dm_jobs *js, unsigned max_queued)
{
	pthread_mutex_lock(&js->lock);
	js->max_queued = max_queued;
	pthread_mutex_unlock(&js->lock);
}

/* Lock held. */
static job *find(const dm_jobs *js, const char *id)
{
	for (job *jb = js->all; jb != NULL; jb = jb->next)
		if (strcmp(jb->id, id) == 0)
			return jb;
	return NULL;
}

/* Lock held.  The running job counts only until it is cancelled: a train
 * request after the cancel queues a new job (it resumes from the
 * checkpoint the cancelled one leaves). */
static job *find_active(const dm_jobs *js, const uint8_t key[16])
{
	if (js->running != NULL && memcmp(js->running->key, key, 16) == 0 &&
	    !atomic_load(&js->running->cancel))
		return js->running;
	for (job *jb = js->qhead; jb != NULL; jb = jb->qnext)
		if (memcmp(jb->key, key, 16) == 0)
			return jb;
	return NULL;
}

int dm_jobs_train(dm_jobs *js, const dm_spec *spec, int task, char id[DM_JOB_ID_LEN + 1])
{
	assert(task >= 0 && task < spec->m->ntasks);
	uint8_t key[16];
	rt_train_key(spec->m, task, NULL, key);
	pthread_mutex_lock(&js->lock);
	job *jb = find_active(js, key);
	if (jb != NULL) {
		memcpy(id, jb->id, DM_JOB_ID_LEN + 1);
		pthread_mutex_unlock(&js->lock);
		return 1;
	}
	if (js->stopping || js->nqueued >= js->max_queued) {
		js->rejected++;
		pthread_mutex_unlock(&js->lock);
		return -1;
	}
	jb = calloc(1, sizeof *jb);
	if (jb == NULL) {
		pthread_mutex_unlock(&js->lock);
		return -2;
	}
	/* An id no earlier run of the daemon handed out, so a stale id from
	 * before a restart is a 404, not another job. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seed[3] = {(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, (uint64_t)getpid(),
			    ++js->seq};
	snprintf(jb->id, sizeof jb->id, "job-%016llx", (unsigned long long)XXH3_64bits(seed, sizeof seed));
	jb->spec = spec;
	dm_specs_hold(spec);
	jb->task = task;
	memcpy(jb->spec_id, spec->id_str, sizeof jb->spec_id);
	snprintf(jb->task_name, sizeof jb->task_name, "%s", spec->m->tasks[task].name);
	memcpy(jb->key, key, 16);
	atomic_init(&jb->cancel, 0);
	jb->state = DM_JOB_QUEUED;
	jb->next = js->all;
	js->all = jb;
	if (js->qtail)
		js->qtail->qnext = jb;
	else
		js->qhead = jb;
	js->qtail = jb;
	js->nqueued++;
	dm_log(DM_LOG_INFO, "%s: train task %s of %s (queued behind %u)", jb->id, jb->task_name,
	       jb->spec_id, js->nqueued - 1 + (js->running != NULL));
	memcpy(id, jb->id, DM_JOB_ID_LEN + 1);
	pthread_cond_signal(&js->cond);
	pthread_mutex_unlock(&js->lock);
	return 0;
}

int dm_jobs_for_supernet(dm_jobs *js, const uint8_t key[16], char id[DM_JOB_ID_LEN + 1])
{
	pthread_mutex_lock(&js->lock);
	job *jb = find_active(js, key);
	int state = jb != NULL ? (int)jb->state : -1;
	if (jb != NULL)
		memcpy(id, jb->id, DM_JOB_ID_LEN + 1);
	pthread_mutex_unlock(&js->lock);
	return state;
}

/* A JSON number, or null when there is no value. */
static json_t *num_or_null(int have, double v)
{
	return have ? json_real(v) : json_null();
}

json_t *dm_jobs_json(dm_jobs *js, const char *id, int *found)
{
	pthread_mutex_lock(&js->lock);
	const job *jb = find(js, id);
	*found = jb != NULL;
	if (jb == NULL) {
		pthread_mutex_unlock(&js->lock);
		return NULL;
	}
	char key[IR_ID_STRLEN + 1];
	ir_id_format(jb->key, key);
	int started = jb->have_steps;
	double progress = jb->total_steps > 0 ? (double)jb->global_step / (double)jb->total_steps : 0;
	if (jb->state == DM_JOB_DONE)
		progress = 1;
	double eta = 0;
	int have_eta = 0;
	if (jb->state == DM_JOB_RUNNING && started && jb->global_step > jb->first_step) {
		double rate = (double)(jb->global_step - jb->first_step) / (now_s() - jb->started);
		eta = (double)(jb->total_steps - jb->global_step) / rate;
		have_eta = 1;
	}
	json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:f,s:o,s:o,s:o,s:o,s:o}", "id",
			      jb->id, "spec", jb->spec_id, "task", jb->task_name,
			      "supernet", key, "state", dm_job_state_names[jb->state], "phase",
			      started ? json_string(jb->phase) : json_null(), "epoch",
			      started ? json_integer(jb->epoch) : json_null(), "epochs",
			      started ? json_integer(jb->epochs) : json_null(), "step",
			      started ? json_integer(jb->step) : json_null(), "steps",
			      started ? json_integer(jb->steps) : json_null(), "progress", progress, "loss",
			      num_or_null(jb->images > 0, jb->images > 0 ? jb->loss_sum / (double)jb->images : 0),
			      "train_accuracy",
			      num_or_null(jb->images > 0, jb->images > 0 ? (double)jb->correct / (double)jb->images : 0),
			      "accuracy", num_or_null(jb->have_eval, jb->eval_acc), "eta_s",
			      num_or_null(have_eta, eta), "error",
			      jb->state == DM_JOB_FAILED ? json_string(jb->error) : json_null());
	pthread_mutex_unlock(&js->lock);
	return v;
}

/* Takes jb out of the queue; lock held. */
static void unqueue(dm_jobs *js, job *jb)
{
	job **p = &js->qhead;
	job *prev = NULL;
	while (*p != NULL && *p != jb) {
		prev = *p;
		p = &(*p)->qnext;
	}
	assert(*p == jb);
	*p = jb->qnext;
	if (js->qtail == jb)
		js->qtail = prev;
	jb->qnext = NULL;
	js->nqueued--;
}

int dm_jobs_cancel(dm_jobs *js, const char *id)
{
	pthread_mutex_lock(&js->lock);
	job *jb = find(js, id);
	int rc = 0;
	if (jb == NULL) {
		rc = -1;
	} else if (jb->state == DM_JOB_QUEUED) {
		unqueue(js, jb);
		js->cancelled++;
		job_finish(js, jb, DM_JOB_CANCELLED);
	} else if (jb->state == DM_JOB_RUNNING) {
		atomic_store(&jb->cancel, 1);
		dm_log(DM_LOG_INFO, "%s: cancelling (checkpoint, then stop)", jb->id);
	} else {
		rc = 1;
	}
	pthread_mutex_unlock(&js->lock);
	return rc;
}

unsigned dm_jobs_active(dm_jobs *js)
{
	pthread_mutex_lock(&js->lock);
	unsigned n = js->nqueued + (js->running != NULL);
	pthread_mutex_unlock(&js->lock);
	return n;
}

unsigned dm_jobs_fresh_runs(dm_jobs *js)
{
	return atomic_load(&js->fresh);
}

void dm_jobs_stats_get(dm_jobs *js, dm_jobs_stats *st)
{
	pthread_mutex_lock(&js->lock);
	st->queued = js->nqueued;
	st->running = js->running != NULL;
	st->done = js->done;
	st->cancelled = js->cancelled;
	st->failed = js->failed;
	st->rejected = js->rejected;
	pthread_mutex_unlock(&js->lock);
}

void dm_jobs_stop(dm_jobs *js)
{
	pthread_mutex_lock(&js->lock);
	js->stopping = 1;
	while (js->qhead != NULL) {
		job *jb = js->qhead;
		unqueue(js, jb);
		js->cancelled++;
		job_finish(js, jb, DM_JOB_CANCELLED);
	}
	if (js->running != NULL) {
		atomic_store(&js->running->cancel, 1);
		dm_log(DM_LOG_INFO, "%s: stopping (checkpoint, then stop)", js->running->id);
	}
	pthread_cond_broadcast(&js->cond);
	pthread_mutex_unlock(&js->lock);
}

void dm_jobs_free(dm_jobs *js)
{
	if (js == NULL)
		return;
	if (js->have_thread) {
		dm_jobs_stop(js);
		pthread_join(js->thread, NULL);
	}
	for (job *jb = js->all, *next; jb != NULL; jb = next) {
		next = jb->next;
		free(jb);
	}
	pthread_mutex_destroy(&js->lock);
	pthread_cond_destroy(&js->cond);
	free(js->root);
	free(js);
}
