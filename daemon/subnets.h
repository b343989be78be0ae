/*
 * subnets.h — the /v1/subnets routes: a deployment spec answered with a
 * subnet of a task's trained supernet, the subnets so answered, and their
 * weights.  Prefix: dm_subnets_.
 *
 * An answer is computed on the worker pool (runtime/answer.h): from the
 * task's archive in the state dir, built first when there is none (the
 * request waits for the build), else by a targeted search whose subnet is
 * measured and joins the archive.  Computations on one supernet run one at
 * a time; identical requests in flight share one computation.  The last
 * job's environment (supernet, data and latency table loaded) is kept for
 * the next one, so a targeted search does not reload them.  Answers are
 * cached by request and replied from the loop thread, and the archive a
 * worker last used is kept on the loop too: a new spec one of its members
 * meets is answered there, without a worker.  Every answer given is also
 * kept in the state dir by request (subnets_answers.c): after a restart
 * (kill -9 included) a request answered before gets the very same answer
 * from the loop, even when the archive has since grown; a new request is
 * answered from the saved archive.  Cached answers are kept serialised, and
 * a body seen twice byte for byte is answered without parsing it.
 *
 * A subnet's id is the supernet key (32 hex digits), '-', and 16 hex
 * digits of the XXH3-64 of its gene string: stable across restarts and
 * specs that share the supernet.  Its record (spec, task, genes and the
 * answer's JSON) is kept as supernets/<key>/subnets/<hash>.json and its
 * native model file, once asked for, as supernets/<key>/subnets/<hash>.model.
 *
 * Everything here is called on the loop thread.
 */
#ifndef ARCHD_DAEMON_SUBNETS_H
#define ARCHD_DAEMON_SUBNETS_H

#include <stddef.h>

#include "daemon/reply.h"
#include "daemon/specs.h"
#include "daemon/workers.h"

typedef struct dm_subnets dm_subnets;

/*
 * The routes over the state dir `root`, running on `workers`, reading
 * `specs` and counting answer cache hits and misses in `metrics` (all
 * borrowed; they must outlive it).  Returns NULL with a message in err on
 * out-of-memory.
 */
dm_subnets *dm_subnets_new(const char *root, dm_workers *workers, dm_specs *specs,
			   dm_metrics *metrics, char *err, size_t errlen);

/* Answers kept in the state dir per supernet (settings' max_answers);
 * takes effect at the next answer written.  Any thread. */
void dm_subnets_set_max_answers(dm_subnets *s, unsigned max);

/* Shutting down: an archive build running or queued gives up at its next
 * measurement (nothing of it saved; its callers get 503). */
void dm_subnets_stop(dm_subnets *s);

/*
 * Drops every answer, subnet and archive held in memory and the kept
 * environment (the files stay): after a supernet was trained afresh, what
 * was measured on its earlier weights must not answer.  Jobs running now
 * do not keep their environment.  Loop thread.
 */
void dm_subnets_forget(dm_subnets *s);

/*
 * At most once a second: when the checkpoint of a supernet whose answers
 * or archive memory holds is no longer the file they were measured on
 * (trained afresh by `archc train`, restored, removed), logs it and calls
 * dm_subnets_forget.  Before a /v1/subnets request.  Loop thread.
 */
void dm_subnets_check(dm_subnets *s);

/* Frees it; call after dm_workers_free has finished every job.  NULL is
 * fine. */
void dm_subnets_free(dm_subnets *s);

/*
 * POST /v1/subnets with {"spec","task","target"} or {"spec","task",
 * "constraints":{"macs":"<=2M",...},"objective"}: 200 with the subnet;
 * 400 for a malformed body or constraint (naming the field); 404 for an
 * unknown spec, task, target or objective; 409 when the task's supernet is
 * not trained (naming the train endpoint); 422 for an infeasible spec
 * (with the nearest subnet); 503 when the worker queue is full or the
 * archive build it waited for was cancelled by dm_subnets_stop.
 */
void dm_subnets_post(dm_subnets *s, dm_call *c);

/* GET /v1/subnets/{id}: the subnet as POST answered it; 404 when unknown. */
void dm_subnets_get(dm_subnets *s, dm_call *c, const char *id);

/* What GET /v1/subnets/{id}/... serves. */
typedef enum dm_subnets_format {
	DM_SUBNETS_WEIGHTS, /* the native model file (application/octet-stream) */
	DM_SUBNETS_ONNX,    /* an ONNX model (application/octet-stream) */
	DM_SUBNETS_C,       /* {"name","header","source"}: standalone C99 */
	DM_SUBNETS_FORMAT_COUNT
} dm_subnets_format;

/* GET /v1/subnets/{id}/weights, /onnx or /c: the subnet in that format,
 * made on a worker from its model file (cut out of the supernet and kept
 * in the state dir the first time).  404 for an unknown subnet, 501 for
 * ONNX in a build without it. */
void dm_subnets_file(dm_subnets *s, dm_call *c, const char *id, dm_subnets_format format);

#endif
