/*
 * subnets_priv.h — what subnets.c and subnets_get.c share.  Not for use
 * outside them.
 */
#ifndef ARCHD_DAEMON_SUBNETS_PRIV_H
#define ARCHD_DAEMON_SUBNETS_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "daemon/subnets.h"
#include "runtime/answer.h"
#include "runtime/evaluate.h"
#include "runtime/statedir.h"

/* Cached answers; past this the cache starts afresh (the archive still
 * answers, through a worker). */
#define MAX_CACHED 10000
#define MAX_CONS 16
/* Bodies up to this long are also cached as they are (no parse at all). */
#define RAW_KEY_MAX 1024
/* "<32 hex>-<16 hex>" */
#define ID_LEN (32 + 1 + 16)

/* A computation in flight and the calls waiting for it. */
typedef struct waiter {
	dm_call *call;
	struct waiter *next;
} waiter;

typedef struct pending {
	struct pending *next;
	dm_subnets *s;
	char *key; /* the request key; NULL for a weights job */
	waiter *waiters;
	const dm_spec *spec; /* held */
	const dm_spec *spare; /* held too, for a kept environment (env_checkout) */
	int task, objective; /* objective -1: the task's */
	ir_constraint cons[MAX_CONS];
	int ncons;
	/* file jobs */
	dm_subnets_format format;
	char genes[SN_GENE_STRLEN];
	char model_path[RT_STATE_PATH_MAX];
	unsigned gen; /* dm_subnets.gen when queued */
	/* results, from the worker */
	int rc;
	json_t *body;
	search_archive *archive; /* the task's archive after the answer */
	rt_answer_stamp stamp;   /* the checkpoint it goes with */
	int forgot;              /* the build removed files measured on other weights */
	uint8_t *bytes;
	size_t nbytes;
	char err[1024];
} pending;

/* A task's archive held on the loop, to answer new specs there. */
typedef struct loaded {
	struct loaded *next;
	uint8_t key[16];
	int calib; /* with key, what the measurements depend on (task_calib) */
	const dm_spec *spec; /* held: the archive borrows its space */
	search_archive *archive;
	rt_answer_stamp stamp; /* the checkpoint it goes with */
} loaded;

/* A supernet whose measurements the loop holds, by its checkpoint's stamp
 * then (subnets_watch.c). */
typedef struct watched {
	uint8_t key[16];
	rt_answer_stamp stamp;
} watched;

struct dm_subnets {
	char root[RT_STATE_PATH_MAX];
	dm_workers *workers;
	dm_specs *specs;
	dm_metrics *metrics;
	json_t *answers; /* request key -> the subnet's reply bytes (a JSON string) */
	json_t *raw;     /* a request body, byte for byte -> the same, once asked twice */
	json_t *byid;    /* subnet id -> subnet */
	pending *inflight;
	loaded *archives;
	/* the environment the last job used, supernet and data loaded */
	pthread_mutex_t env_lock;
	rt_answer_env *env;
	const dm_spec *env_spec; /* held: env borrows its module */
	uint8_t env_key[16];
	int env_calib;
	atomic_int cancel; /* set by dm_subnets_stop: archive builds give up */
	atomic_uint gen;   /* dm_subnets_forget calls: an older job keeps no environment */
	atomic_uint max_answers; /* kept on disk per supernet (dm_subnets_answers_prune) */
	watched *watched; /* loop thread, as answers and archives */
	int nwatched, capwatched;
	long long watch_checked; /* CLOCK_MONOTONIC ns of the last look, 0 = never */
};

/* --- the checkpoints of what the loop holds (subnets_watch.c; loop thread) --- */

/* Watches supernet key's checkpoint from stamp st (what an answer or an
 * archive the loop now holds was measured on); nothing when st is not
 * present, or the key is watched already. */
void dm_subnets_watch(dm_subnets *s, const uint8_t key[16], const rt_answer_stamp *st);
/* Stops watching every supernet (dm_subnets_forget). */
void dm_subnets_watch_clear(dm_subnets *s);

/* --- the subnet's JSON and record (subnets_record.c; any thread) --- */

/* A's subnet as POST /v1/subnets answers it, measured on the checkpoint
 * of `stamp` (named in "weights" when it has an id); NULL on
 * out-of-memory. */
json_t *dm_subnets_json(const dm_spec *spec, int t, const rt_answer *a,
			const rt_answer_stamp *stamp);

/*
 * Keeps the record `text` of subnet `id` of the supernet `key` unless it is
 * there already, measured on the same weights, then prunes the supernet's
 * records to max_answers.  A record of other weights is replaced, and the
 * model file cut from them removed.  Written atomically; failures are
 * logged (the answer stands; GET after a restart then misses it).  Worker
 * threads.
 */
void dm_subnets_keep_record(const dm_subnets *s, const uint8_t key[16], const char *id,
			    const char *text);

/* supernets/<key>/subnets/<hash><suffix> of a subnet id into buf; -1 when
 * id is not a subnet id or buf is too small. */
int dm_subnets_record_path(const char *root, const char *id, const char *suffix, char *buf,
			   size_t len);

/*
 * An environment for p's task: the kept one when it is of the same
 * supernet (refreshed from the state dir), else a new one.  *owner is the
 * spec whose module it borrows, held (p->spare's hold for a new one).
 * Returns NULL with a message in p->err.  Call from a job of the
 * supernet's lane (dm_subnets_lane).
 */
rt_answer_env *dm_subnets_env_checkout(dm_subnets *s, pending *p, const dm_spec **owner);

/* Keeps e for the next job (replacing the one kept), or frees it after an
 * error; NULL is fine. */
void dm_subnets_env_checkin(dm_subnets *s, const pending *p, rt_answer_env *e,
			    const dm_spec *owner);

/* The id (16 hex digits) of the checkpoint now in the place of the
 * supernet of subnet `id`; -1 when there is none or id is not one. */
int dm_subnets_current_weights(const char *root, const char *id, char out[17]);

/* --- the answers given, kept by request (subnets_answers.c) --- */

/* supernets/<key>/answers/<hash of reqkey>.json into buf; -1 when too long. */
int dm_subnets_answer_path(const char *root, const uint8_t key[16], const char *reqkey, char *buf,
			   size_t len);
/* The file's text for the answer body gave to reqkey (free it); NULL on
 * out-of-memory.  Any thread. */
char *dm_subnets_answer_text(const char *reqkey, const json_t *body);
/* Writes text (from dm_subnets_answer_text; NULL is logged) atomically,
 * then keeps at most `max` answers of the supernet (dm_subnets_answers_prune);
 * a failure is logged (the answer stands; a restart computes it again).
 * Worker threads. */
void dm_subnets_answer_write(const char *root, const uint8_t key[16], const char *reqkey,
			     const char *text, unsigned max);
/*
 * Keeps at most max (>= 1) answer files (<16 hex>.json) in dir: past it,
 * the oldest written go, down to nine tenths of max, so that a full
 * directory is pruned once per max / 10 new answers rather than at each.
 * The file named `keep` (the one just written; NULL for none) stays.
 * Other files are left alone.  Returns the number removed.
 */
int dm_subnets_answers_prune(const char *dir, unsigned max, const char *keep);
/*
 * Keeps the supernet's subnet records (supernets/<key>/subnets/<hash>.json)
 * to at most max the same way, removing with each its cached weights
 * (<hash>.model), but only records no kept answer names: a request
 * answered before still finds its subnet.  The answers are read only when
 * the records are past max.  `keep` is the record just written.  Returns
 * the number removed.  Worker threads.
 */
int dm_subnets_records_prune(const char *root, const uint8_t key[16], unsigned max,
			     const char *keep);
/* The answer kept for reqkey (a new reference), or NULL when there is none
 * (a damaged file is logged and ignored) or its subnet names another
 * checkpoint ("weights") than the supernet's now (logged; it is answered
 * afresh and the file replaced).  Reads two small files: loop thread, only
 * for requests not in the memory cache. */
json_t *dm_subnets_answer_load(const char *root, const uint8_t key[16], const char *reqkey);

/*
 * The worker lane (dm_workers_submit_lane) of the jobs on a supernet: its
 * answers, archive builds and weights run one at a time, since they share
 * the supernet's files and its kept environment, while a free thread
 * takes other supernets' jobs and uploads meanwhile.
 */
uint64_t dm_subnets_lane(const uint8_t key[16]);

/* Releases p's holds and frees it (loop thread). */
void dm_subnets_pending_free(pending *p);

/* The batch-norm recalibration sample size of task t of m: with the
 * supernet key, what a measurement (an archive, a subnet's metrics and
 * weights) depends on.  The key leaves it out (one set of weights). */
static inline int dm_task_calib(const ir_module *m, int t)
{
	return rt_eval_calib_images(&m->tasks[t].recipe);
}

#endif
