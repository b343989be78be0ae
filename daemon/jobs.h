/*
 * jobs.h — training jobs: a queue with a limit, one trainer thread, the
 * progress of each job, cancellation.  Prefix: dm_jobs_.
 *
 * A job trains one task's supernet (runtime/train.h) into its checkpoint in
 * the state dir (runtime/statedir.h), resuming from a checkpoint already
 * there, so `archc train --state DIR` and archd share their work both
 * ways.  Jobs run one at a time on their own thread: a trainer already uses
 * every core through the process's thread pool, and a long run must not
 * hold up the compile workers.  A second request to train a supernet that
 * is queued or training joins that job.
 *
 * Jobs live in memory: after a restart they are gone, and their checkpoints
 * are what remains (a new job resumes from it).  The 1000 most recently
 * created finished jobs are kept for lookups; older ones are forgotten.  Everything here is called
 * from the loop thread; the trainer thread only updates a job's progress
 * under the lock.
 */
#ifndef ARCHD_DAEMON_JOBS_H
#define ARCHD_DAEMON_JOBS_H

#include <stddef.h>

#include <jansson.h>

#include "daemon/specs.h"

typedef enum dm_job_state {
	DM_JOB_QUEUED,
	DM_JOB_RUNNING,
	DM_JOB_DONE,
	DM_JOB_CANCELLED,
	DM_JOB_FAILED,
	DM_JOB_STATE_COUNT
} dm_job_state;

extern const char *const dm_job_state_names[DM_JOB_STATE_COUNT];

/* "job-" and 16 hex digits. */
#define DM_JOB_ID_LEN 20

typedef struct dm_jobs dm_jobs;

/*
 * Jobs writing checkpoints under the state dir root, at most max_queued
 * waiting.  Starts the trainer thread.  Returns NULL with a reason in err.
 */
dm_jobs *dm_jobs_new(const char *root, unsigned max_queued, char *err, size_t errlen);

/* Changes the queue limit (SIGHUP). */
void dm_jobs_set_max_queued(dm_jobs *j, unsigned max_queued);

/*
 * Queues training of task `task` of spec (held in the cache until the job
 * finishes: dm_specs_hold), or finds the job already queued or running for
 * the same supernet.  Writes its id into id.
 * Returns 0 for a new job, 1 for an existing one, -1 when max_queued jobs
 * already wait (the caller answers 503), -2 on out-of-memory.
 */
int dm_jobs_train(dm_jobs *j, const dm_spec *spec, int task, char id[DM_JOB_ID_LEN + 1]);

/*
 * The job as the API shows it: {"id","spec","task","supernet","state",
 * "phase","epoch","epochs","step","steps","progress","loss","accuracy",
 * "eta_s","error"} (fields without a value yet are null).  Returns a new
 * reference; NULL when there is no such job (*found = 0) or on
 * out-of-memory (*found = 1).
 */
json_t *dm_jobs_json(dm_jobs *j, const char *id, int *found);

/*
 * Cancels a job: a queued one at once, a running one at its next step
 * (it checkpoints, then stops; its state turns "cancelled").  Returns 0, 1
 * when the job had already finished (nothing changes), -1 when there is no
 * such job.
 */
int dm_jobs_cancel(dm_jobs *j, const char *id);

/* The job queued or running for the supernet with this key: writes its id
 * and returns its state (DM_JOB_QUEUED or DM_JOB_RUNNING), or returns -1. */
int dm_jobs_for_supernet(dm_jobs *j, const uint8_t key[16], char id[DM_JOB_ID_LEN + 1]);

/* Jobs queued or running. */
unsigned dm_jobs_active(dm_jobs *j);

typedef struct dm_jobs_stats {
	unsigned queued, running;
	uint64_t done, cancelled, failed, rejected;
} dm_jobs_stats;

void dm_jobs_stats_get(dm_jobs *j, dm_jobs_stats *st);

/*
 * For a clean stop: queued jobs are cancelled, a running one is asked to
 * checkpoint and stop.  dm_jobs_active() reaches 0 when it has.
 */
void dm_jobs_stop(dm_jobs *j);

/* Stops as above, waits for the trainer thread and frees everything.
 * NULL is fine. */
void dm_jobs_free(dm_jobs *j);

/* Jobs so far that trained a supernet from scratch (its files measured on
 * earlier weights removed: rt_train_note); any thread.  The loop compares
 * it with the count it last saw to drop what it holds of those supernets
 * (dm_subnets_forget). */
unsigned dm_jobs_fresh_runs(dm_jobs *js);

#endif
