/*
 * routes.c — the handlers: health, metrics and specs (see server_priv.h
 * for the table in server.c that reaches them).
 */
#include "daemon/server_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "daemon/json.h"
#include "daemon/log.h"
#include "runtime/ops.h"

#ifndef ARCHD_VERSION
#define ARCHD_VERSION "unknown"
#endif

/* Name of an uploaded source in diagnostics when the client gives none. */
#define DEFAULT_SOURCE_NAME "request.arch"

void dm_route_health(dm_server *srv, dm_call *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	dm_workers_stats ws;
	dm_workers_stats_get(srv->workers, &ws);
	json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:i,s:{s:i,s:i,s:i}}", "status", "ok", "version",
				 ARCHD_VERSION, "kernels", rt_infer_isa(), "uptime_s",
				 (json_int_t)(now.tv_sec - srv->started.tv_sec), "specs",
				 (int)dm_specs_count(srv->specs), "workers", "threads",
				 (int)ws.threads, "queued", (int)ws.queued, "running", (int)ws.running);
	dm_reply_json(c, 200, body);
}

void dm_route_metrics(dm_server *srv, dm_call *c)
{
	dm_workers_stats ws;
	dm_conns_stats cs;
	dm_jobs_stats js;
	dm_workers_stats_get(srv->workers, &ws);
	dm_conns_stats_get(srv->conns, &cs);
	dm_jobs_stats_get(srv->jobs, &js);
	dm_metrics_gauges g = {
		.connections = cs.open,
		.connections_total = cs.accepted,
		.timeouts_total = cs.timed_out,
		.error_pages_total = cs.error_pages,
		.over_cap_total = cs.over_cap,
		.worker_threads = ws.threads,
		.worker_queued = ws.queued,
		.worker_running = ws.running,
		.jobs_submitted = ws.submitted,
		.jobs_completed = ws.completed,
		.jobs_rejected = ws.rejected,
		.specs_cached = dm_specs_count(srv->specs),
		.compiles_in_flight = dm_specs_in_flight(srv->specs),
		.train_queued = js.queued,
		.train_running = js.running,
		.train_done = js.done,
		.train_cancelled = js.cancelled,
		.train_failed = js.failed,
		.train_rejected = js.rejected,
	};
	struct evbuffer *out = evbuffer_new();
	if (out == NULL || dm_metrics_render(srv->metrics, &g, out) != 0) {
		if (out)
			evbuffer_free(out);
		dm_reply_error(c, 503, NULL, "out of memory");
		return;
	}
	dm_reply_buffer(c, 200, "text/plain; version=0.0.4", out);
	evbuffer_free(out);
}

/* --- specs ----------------------------------------------------------------------- */

/* The server a call belongs to, for the compile callback. */
typedef struct spec_call {
	dm_call *call;
	dm_server *srv;
} spec_call;

/* The spec as dm_specs_json shows it, with the training job of each task
 * whose supernet is queued or training. */
static json_t *spec_json(dm_server *srv, const dm_spec *sp)
{
	json_t *body = dm_specs_json(srv->specs, sp);
	json_t *tasks = json_object_get(body, "tasks");
	for (int i = 0; tasks != NULL && i < sp->m->ntasks; i++) {
		char id[DM_JOB_ID_LEN + 1];
		int st = dm_jobs_for_supernet(srv->jobs, sp->m->tasks[i].supernet_key, id);
		json_t *t = json_array_get(tasks, (size_t)i);
		if (st < 0 || t == NULL)
			continue;
		if (json_object_set_new(t, "state", json_string(st == DM_JOB_RUNNING ? "training" : "queued")) != 0 ||
		    json_object_set_new(t, "job", json_string(id)) != 0) {
			json_decref(body);
			return NULL;
		}
	}
	return body;
}

static void reply_spec(dm_server *srv, dm_call *c, int status, const dm_spec *sp)
{
	json_t *body = spec_json(srv, sp);
	if (body == NULL) {
		dm_reply_error(c, 503, NULL, "out of memory");
		return;
	}
	dm_reply_json(c, status, body);
}

static void on_spec_result(void *arg, const dm_specs_result *r)
{
	spec_call *sc = arg;
	dm_call *c = sc->call;
	dm_server *srv = sc->srv;
	free(sc);
	switch (r->status) {
	case 200:
	case 201:
		dm_log(DM_LOG_INFO, "spec %s: %s%s", r->spec->id_str,
		       r->status == 201 ? "stored" : "known", r->shared ? " (shared compile)" : "");
		reply_spec(srv, c, r->status, r->spec);
		return;
	case 422: {
		int nerr = 0;
		size_t i;
		json_t *d;
		json_array_foreach(r->diagnostics, i, d)
			nerr += strcmp(json_string_value(json_object_get(d, "severity")), "error") == 0;
		char msg[64];
		snprintf(msg, sizeof msg, "the spec has %d error%s", nerr, nerr == 1 ? "" : "s");
		json_t *body = json_pack("{s:{s:s,s:s},s:O,s:s}", "error", "code", "compile_error",
					 "message", msg, "diagnostics", r->diagnostics, "text", r->text);
		if (body == NULL)
			dm_reply_error(c, 503, NULL, "out of memory");
		else
			dm_reply_json(c, 422, body);
		return;
	}
	case 400:
		dm_reply_error(c, 400, "invalid_air", "%s", r->text);
		return;
	default:
		dm_reply_error(c, 503, NULL, "%s", r->text);
		return;
	}
}

/* A JSON upload: {"source": "...", "name": "x.arch"}. */
static const dm_json_field upload_fields[] = {
	{"source", JSON_STRING, 1},
	{"name", JSON_STRING, 0},
};

static int is_json(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	return ct != NULL && strncasecmp(ct, "application/json", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

void dm_route_specs_post(dm_server *srv, dm_call *c)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	if (len == 0) {
		dm_reply_error(c, 400, "empty_body",
			       "the body must be an .arch source, an .air file, or {\"source\": ...}");
		return;
	}
	const char *body = (const char *)evbuffer_pullup(in, -1);
	if (body == NULL) {
		dm_reply_error(c, 503, NULL, "out of memory");
		return;
	}
	const char *name = DEFAULT_SOURCE_NAME;
	json_t *obj = NULL;
	char err[512];
	if (is_json(c->req)) {
		obj = dm_json_parse_object(body, len, err, sizeof err);
		if (obj == NULL || dm_json_check(obj, upload_fields, 2, err, sizeof err) != 0) {
			json_decref(obj);
			dm_reply_error(c, 400, "invalid_json", "%s", err);
			return;
		}
		body = json_string_value(json_object_get(obj, "source"));
		len = json_string_length(json_object_get(obj, "source"));
		if (json_object_get(obj, "name") != NULL)
			name = json_string_value(json_object_get(obj, "name"));
	}
	spec_call *sc = malloc(sizeof *sc);
	int rc = -2;
	if (sc != NULL) {
		sc->call = c;
		sc->srv = srv;
		rc = dm_specs_submit(srv->specs, name, body, len, on_spec_result, sc);
	}
	json_decref(obj);
	if (rc >= 0)
		return;
	free(sc);
	if (rc == -1) {
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
		dm_reply_error(c, 503, "busy", "%u compiles are already waiting for a worker (max_queue)",
			       srv->settings.max_queue);
	} else {
		dm_reply_error(c, 503, NULL, "out of memory");
	}
}

void dm_route_spec_get(dm_server *srv, dm_call *c, const char *id)
{
	uint8_t bytes[16];
	if (ir_id_parse(id, bytes) != 0) {
		dm_reply_error(c, 404, "unknown_spec",
			       "'%s' is not a spec id (expected xxh3: and 32 hex digits)", id);
		return;
	}
	const dm_spec *sp = dm_specs_get(srv->specs, bytes);
	if (sp == NULL) {
		dm_reply_error(c, 404, "unknown_spec", "no spec %s (upload it with POST /v1/specs)", id);
		return;
	}
	dm_metrics_count(srv->metrics, DM_COUNTER_SPEC_HITS);
	reply_spec(srv, c, 200, sp);
}

/* --- training jobs ----------------------------------------------------------------- */

/* Looks up a spec for a route; answers 404 and returns NULL when unknown. */
static const dm_spec *spec_or_404(dm_server *srv, dm_call *c, const char *id)
{
	uint8_t bytes[16];
	const dm_spec *sp = NULL;
	if (ir_id_parse(id, bytes) == 0)
		sp = dm_specs_get(srv->specs, bytes);
	if (sp == NULL)
		dm_reply_error(c, 404, "unknown_spec", "no spec %s (upload it with POST /v1/specs)", id);
	return sp;
}

/* "a, b, c": the task names of m, for a message. */
static void task_list(const ir_module *m, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < m->ntasks && used < n; i++) {
		int k = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", m->tasks[i].name);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

static void reply_job(dm_server *srv, dm_call *c, int status, const char *id)
{
	int found;
	json_t *body = dm_jobs_json(srv->jobs, id, &found);
	if (body == NULL && !found)
		dm_reply_error(c, 404, "unknown_job", "no job %s (jobs last until the daemon restarts)", id);
	else if (body == NULL)
		dm_reply_error(c, 503, NULL, "out of memory");
	else
		dm_reply_json(c, status, body);
}

void dm_route_train_post(dm_server *srv, dm_call *c, const char *spec_id, const char *task)
{
	/* The body, if any, is an empty JSON object: no option is defined yet,
	 * and an unknown one must not be ignored. */
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in);
	if (len > 0) {
		char err[512];
		const char *body = (const char *)evbuffer_pullup(in, -1);
		json_t *obj = body != NULL ? dm_json_parse_object(body, len, err, sizeof err) : NULL;
		int bad = obj == NULL || dm_json_check(obj, NULL, 0, err, sizeof err) != 0;
		json_decref(obj);
		if (bad) {
			dm_reply_error(c, 400, "invalid_json", "%s", body != NULL ? err : "out of memory");
			return;
		}
	}
	const dm_spec *sp = spec_or_404(srv, c, spec_id);
	if (sp == NULL)
		return;
	int t = ir_module_find_task(sp->m, task);
	if (t < 0) {
		char names[512];
		task_list(sp->m, names, sizeof names);
		dm_reply_error(c, 404, "unknown_task", "spec %s has no task '%s'; its tasks: %s", sp->id_str,
			       task, names);
		return;
	}
	if (sp->m->tasks[t].from >= 0) {
		dm_reply_error(c, 422, "not_trainable",
			       "task '%s' transfers from task '%s' and has no supernet of its own to train",
			       task, sp->m->tasks[sp->m->tasks[t].from].name);
		return;
	}
	char id[DM_JOB_ID_LEN + 1];
	int rc = dm_jobs_train(srv->jobs, sp, t, id);
	if (rc == -1) {
		evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "60");
		dm_reply_error(c, 503, "busy", "%u training jobs are already queued (max_jobs)",
			       srv->settings.max_jobs);
		return;
	}
	if (rc == -2) {
		dm_reply_error(c, 503, NULL, "out of memory");
		return;
	}
	char link[64];
	snprintf(link, sizeof link, "/v1/jobs/%s", id);
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Location", link);
	reply_job(srv, c, rc == 0 ? 202 : 200, id);
}

void dm_route_job_get(dm_server *srv, dm_call *c, const char *id)
{
	reply_job(srv, c, 200, id);
}

void dm_route_job_delete(dm_server *srv, dm_call *c, const char *id)
{
	int rc = dm_jobs_cancel(srv->jobs, id);
	if (rc == 1) {
		dm_reply_error(c, 409, "job_finished", "job %s has already finished", id);
		return;
	}
	int found;
	json_t *body = dm_jobs_json(srv->jobs, id, &found);
	const char *state = json_string_value(json_object_get(body, "state"));
	/* A queued job is cancelled now (200); a running one stops at its next
	 * step, after a checkpoint (202). */
	int status = state != NULL && strcmp(state, "running") == 0 ? 202 : 200;
	json_decref(body);
	reply_job(srv, c, status, id);
}
