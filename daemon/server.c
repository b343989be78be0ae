/*
 * server.c — listeners, evhttp limits, request dispatch, reload and a
 * clean stop (see server.h).  The handlers are in routes.c.
 */
#include "daemon/server.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "daemon/http.h"
#include "daemon/listen.h"
#include "daemon/log.h"
#include "daemon/server_priv.h"
#include "runtime/threads.h"

const char *const dm_route_names[DM_ROUTE_COUNT] = {
	[DM_ROUTE_HEALTH] = "/v1/health",
	[DM_ROUTE_METRICS] = "/metrics",
	[DM_ROUTE_SPECS] = "/v1/specs",
	[DM_ROUTE_SPEC] = "/v1/specs/{id}",
	[DM_ROUTE_TRAIN] = "/v1/specs/{id}/tasks/{task}/train",
	[DM_ROUTE_JOB] = "/v1/jobs/{job}",
	[DM_ROUTE_SUBNETS] = "/v1/subnets",
	[DM_ROUTE_SUBNET] = "/v1/subnets/{id}",
	[DM_ROUTE_SUBNET_WEIGHTS] = "/v1/subnets/{id}/weights",
	[DM_ROUTE_SUBNET_EXPORT] = "/v1/subnets/{id}/{onnx,c}",
	[DM_ROUTE_NONE] = "none",
};
static_assert(DM_ROUTE_COUNT == 11, "a name for every route");

/* Longest path archd routes; anything longer is a 404. */
#define PATH_MAX_SEGS 8
/* How often a stopping server looks whether it is done. */
#define DRAIN_CHECK_MS 20

/* --- dispatch ---------------------------------------------------------------- */

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

static void method_not_allowed(dm_call *c, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Allow", allow);
	dm_reply_error(c, 405, NULL, "%s is not allowed on %s (allowed: %s)",
		       method_name(evhttp_request_get_command(c->req)), dm_route_names[c->route], allow);
}

/* A supernet trained afresh by a job since the last look: what the
 * subnets module holds of its earlier weights goes (dm_subnets_forget). */
static void forget_retrained(dm_server *srv)
{
	unsigned fresh = dm_jobs_fresh_runs(srv->jobs);
	if (fresh == srv->fresh_seen)
		return;
	srv->fresh_seen = fresh;
	dm_subnets_forget(srv->subnets);
}

static void dispatch(dm_server *srv, dm_call *c)
{
	struct evhttp_request *req = c->req;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	char path[1024];
	char *seg[PATH_MAX_SEGS];
	int n = -1;
	if (raw != NULL && strlen(raw) < sizeof path) {
		memcpy(path, raw, strlen(raw) + 1);
		n = dm_http_split_path(path, seg, PATH_MAX_SEGS);
	}
	if (n == 1 && strcmp(seg[0], "metrics") == 0) {
		dm_call_set_route(c, DM_ROUTE_METRICS);
		if (m != EVHTTP_REQ_GET)
			return method_not_allowed(c, "GET");
		return dm_route_metrics(srv, c);
	}
	if (n >= 2 && strcmp(seg[0], "v1") == 0) {
		if (n == 2 && strcmp(seg[1], "health") == 0) {
			dm_call_set_route(c, DM_ROUTE_HEALTH);
			if (m != EVHTTP_REQ_GET)
				return method_not_allowed(c, "GET");
			return dm_route_health(srv, c);
		}
		if (n == 2 && strcmp(seg[1], "specs") == 0) {
			dm_call_set_route(c, DM_ROUTE_SPECS);
			if (m != EVHTTP_REQ_POST)
				return method_not_allowed(c, "POST");
			return dm_route_specs_post(srv, c);
		}
		if (n == 3 && strcmp(seg[1], "specs") == 0) {
			dm_call_set_route(c, DM_ROUTE_SPEC);
			if (m != EVHTTP_REQ_GET)
				return method_not_allowed(c, "GET");
			return dm_route_spec_get(srv, c, seg[2]);
		}
		if (n == 6 && strcmp(seg[1], "specs") == 0 && strcmp(seg[3], "tasks") == 0 &&
		    strcmp(seg[5], "train") == 0) {
			dm_call_set_route(c, DM_ROUTE_TRAIN);
			if (m != EVHTTP_REQ_POST)
				return method_not_allowed(c, "POST");
			return dm_route_train_post(srv, c, seg[2], seg[4]);
		}
		if (n == 3 && strcmp(seg[1], "jobs") == 0) {
			dm_call_set_route(c, DM_ROUTE_JOB);
			if (m == EVHTTP_REQ_GET)
				return dm_route_job_get(srv, c, seg[2]);
			if (m == EVHTTP_REQ_DELETE)
				return dm_route_job_delete(srv, c, seg[2]);
			return method_not_allowed(c, "GET, DELETE");
		}
		if (n >= 2 && strcmp(seg[1], "subnets") == 0) {
			forget_retrained(srv);
			dm_subnets_check(srv->subnets);
		}
		if (n == 2 && strcmp(seg[1], "subnets") == 0) {
			dm_call_set_route(c, DM_ROUTE_SUBNETS);
			if (m != EVHTTP_REQ_POST)
				return method_not_allowed(c, "POST");
			return dm_subnets_post(srv->subnets, c);
		}
		if (n == 3 && strcmp(seg[1], "subnets") == 0) {
			dm_call_set_route(c, DM_ROUTE_SUBNET);
			if (m != EVHTTP_REQ_GET)
				return method_not_allowed(c, "GET");
			return dm_subnets_get(srv->subnets, c, seg[2]);
		}
		if (n == 4 && strcmp(seg[1], "subnets") == 0) {
			static const char *const files[DM_SUBNETS_FORMAT_COUNT] = { "weights", "onnx",
										    "c" };
			for (int f = 0; f < DM_SUBNETS_FORMAT_COUNT; f++) {
				if (strcmp(seg[3], files[f]) != 0)
					continue;
				dm_call_set_route(c, f == DM_SUBNETS_WEIGHTS ? DM_ROUTE_SUBNET_WEIGHTS
									       : DM_ROUTE_SUBNET_EXPORT);
				if (m != EVHTTP_REQ_GET)
					return method_not_allowed(c, "GET");
				return dm_subnets_file(srv->subnets, c, seg[2], (dm_subnets_format)f);
			}
		}
	}
	dm_reply_error(c, 404, NULL, "no such endpoint: %s %s", method_name(m),
		       raw != NULL ? raw : evhttp_request_get_uri(req));
}

static void on_request(struct evhttp_request *req, void *arg)
{
	dm_server *srv = arg;
	dm_call *c = dm_call_new(req, DM_ROUTE_NONE, srv->metrics, &srv->inflight);
	if (c == NULL) {
		dm_reply_error_req(req, 503, "out of memory");
		return;
	}
	/* No route serves HEAD, and evhttp replies to one without a
	 * Content-Length: close, so the client cannot mistake where it ends. */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (dm_conns_over_cap(srv->conns, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		dm_reply_error(c, 503, "too_many_connections",
			       "more than %u connections are open (max_connections)", srv->settings.max_conns);
		return;
	}
	if (srv->draining) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		dm_reply_error(c, 503, "shutting_down", "archd is shutting down");
		return;
	}
	dispatch(srv, c);
}

static void on_drain_check(evutil_socket_t fd, short what, void *arg);

/* --- listeners ------------------------------------------------------------------- */

/* The connection cap: stop accepting (clients wait in the backlog) and
 * start again. */
static void on_pause(void *arg, int paused)
{
	dm_server *srv = arg;
	for (int i = 0; i < srv->nbound; i++) {
		struct evconnlistener *l = evhttp_bound_socket_get_listener(srv->bound[i]);
		if (paused)
			evconnlistener_disable(l);
		else
			evconnlistener_enable(l);
	}
}

static int bind_fd(dm_server *srv, int fd, const char *what, char *err, size_t errlen)
{
	struct evhttp_bound_socket *b = evhttp_accept_socket_with_handle(srv->http, fd);
	if (b == NULL) {
		snprintf(err, errlen, "%s: cannot serve on it", what);
		close(fd);
		return -1;
	}
	srv->bound[srv->nbound++] = b;
	return 0;
}

static int open_listeners(dm_server *srv, char *err, size_t errlen)
{
	const dm_settings *s = &srv->settings;
	int fd = dm_listen_unix(s->socket_path, 0660, err, errlen);
	if (fd < 0)
		return -1;
	if (bind_fd(srv, fd, s->socket_path, err, errlen) != 0) {
		unlink(s->socket_path);
		return -1;
	}
	srv->unix_bound = 1;
	dm_log(DM_LOG_INFO, "listening on %s", s->socket_path);
	if (s->listen_port != 0) {
		fd = dm_listen_tcp(s->listen_host, s->listen_port, err, errlen);
		if (fd < 0 || bind_fd(srv, fd, s->listen, err, errlen) != 0)
			return -1;
		dm_log(DM_LOG_INFO, "listening on %s (TCP)", s->listen);
	}
	return 0;
}

static void close_listeners(dm_server *srv)
{
	for (int i = 0; i < srv->nbound; i++)
		evhttp_del_accept_socket(srv->http, srv->bound[i]);
	if (srv->unix_bound && unlink(srv->settings.socket_path) != 0)
		dm_log(DM_LOG_WARN, "%s: cannot remove the socket", srv->settings.socket_path);
	srv->nbound = 0;
	srv->unix_bound = 0;
}

/* --- limits, new, reload ------------------------------------------------------------ */

static void apply_limits(dm_server *srv)
{
	const dm_settings *s = &srv->settings;
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)s->max_body);
	evhttp_set_max_headers_size(srv->http, (ev_ssize_t)s->max_headers);
	/* evhttp's own timer closes idle connections; it runs a second past
	 * the request deadline so a slow request gets its 408 first. */
	evhttp_set_timeout(srv->http, (int)s->request_timeout + 1);
	dm_conns_set_limits(srv->conns, s->max_conns, s->request_timeout);
	dm_conns_set_header_limit(srv->conns, s->max_headers);
	dm_workers_set_max_queued(srv->workers, s->max_queue);
	dm_jobs_set_max_queued(srv->jobs, s->max_jobs);
	dm_specs_set_max(srv->specs, s->max_specs);
	dm_subnets_set_max_answers(srv->subnets, s->max_answers);
	dm_log_set_level(s->log_level);
}

dm_server *dm_server_new(struct event_base *base, dm_settings *s, char *err, size_t errlen)
{
	dm_server *srv = calloc(1, sizeof *srv);
	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		dm_settings_free(s);
		return NULL;
	}
	srv->base = base;
	srv->settings = *s;
	memset(s, 0, sizeof *s);
	clock_gettime(CLOCK_MONOTONIC, &srv->started);
	const dm_settings *st = &srv->settings;
	srv->metrics = dm_metrics_new(dm_route_names, DM_ROUTE_COUNT);
	srv->http = evhttp_new(base);
	srv->conns = dm_conns_new(base, st->max_conns, st->request_timeout, on_pause, srv);
	srv->drain_ev = event_new(base, -1, EV_PERSIST, on_drain_check, srv);
	if (srv->metrics == NULL || srv->http == NULL || srv->conns == NULL || srv->drain_ev == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	srv->workers = dm_workers_new(base, st->threads, st->max_queue, err, errlen);
	if (srv->workers == NULL)
		goto fail;
	srv->specs = dm_specs_new(st->state_dir, srv->workers, srv->metrics, err, errlen);
	if (srv->specs == NULL)
		goto fail;
	if (dm_specs_configure(srv->specs, st->stdlib_dir, st->include_dirs, st->ninclude_dirs) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	srv->jobs = dm_jobs_new(st->state_dir, st->max_jobs, err, errlen);
	if (srv->jobs == NULL)
		goto fail;
	srv->subnets = dm_subnets_new(st->state_dir, srv->workers, srv->specs, srv->metrics, err,
					errlen);
	if (srv->subnets == NULL)
		goto fail;
	/* Every method evhttp knows but TRACE and CONNECT reaches dispatch, which
	 * answers 405 with Allow where the path exists. */
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
						      EVHTTP_REQ_OPTIONS);
	evhttp_set_bevcb(srv->http, dm_conns_bevcb, srv->conns);
	evhttp_set_gencb(srv->http, on_request, srv);
	apply_limits(srv);
	if (open_listeners(srv, err, errlen) != 0)
		goto fail;
	dm_log(DM_LOG_INFO, "state in %s; %u worker threads", st->state_dir, st->threads);
	return srv;
fail:
	dm_server_free(srv);
	return NULL;
}

/* Compares a string setting for the restart-only warning. */
static int differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

void dm_server_reload(dm_server *srv, dm_settings *s)
{
	dm_settings *old = &srv->settings;
	if (differs(old->socket_path, s->socket_path) || differs(old->state_dir, s->state_dir) ||
	    differs(old->listen, s->listen) || old->threads != s->threads)
		dm_log(DM_LOG_WARN, "reload: socket, state_dir, listen and threads change only with a restart; "
				    "keeping the running ones");
	if (dm_specs_configure(srv->specs, s->stdlib_dir, s->include_dirs, s->ninclude_dirs) != 0) {
		dm_log(DM_LOG_ERROR, "reload: out of memory; settings unchanged");
		dm_settings_free(s);
		return;
	}
	/* Keep what cannot change; take the rest. */
	char *keep[] = {old->socket_path, old->state_dir, old->listen};
	char *drop[] = {s->socket_path, s->state_dir, s->listen};
	char host[sizeof old->listen_host];
	memcpy(host, old->listen_host, sizeof host);
	unsigned port = old->listen_port, threads = old->threads;
	old->socket_path = drop[0];
	old->state_dir = drop[1];
	old->listen = drop[2];
	dm_settings_free(old);
	*old = *s;
	memset(s, 0, sizeof *s);
	old->socket_path = keep[0];
	old->state_dir = keep[1];
	old->listen = keep[2];
	memcpy(old->listen_host, host, sizeof host);
	old->listen_port = port;
	old->threads = threads;
	apply_limits(srv);
	/* a supernet retrained outside archd (archc train): nothing held
	 * from its earlier weights answers after the reload */
	dm_subnets_forget(srv->subnets);
	dm_log(DM_LOG_INFO, "reloaded the settings%s%s", old->config_path ? " from " : "",
	       old->config_path ? old->config_path : "");
}

/* --- stopping ------------------------------------------------------------------------ */

static void on_drain_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dm_server *srv = arg;
	dm_conns_stats cs;
	dm_conns_stats_get(srv->conns, &cs);
	if (srv->inflight == 0 && dm_specs_in_flight(srv->specs) == 0 && dm_jobs_active(srv->jobs) == 0 &&
	    cs.unflushed == 0) {
		dm_log(DM_LOG_INFO, "every request answered; stopping");
		event_base_loopexit(srv->base, NULL);
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - srv->drain_started.tv_sec > (time_t)srv->settings.request_timeout) {
		dm_log(DM_LOG_WARN, "stopping with %u requests unanswered after %u s", srv->inflight,
		       srv->settings.request_timeout);
		event_base_loopexit(srv->base, NULL);
	}
}

void dm_server_shutdown(dm_server *srv)
{
	if (srv->draining) {
		dm_log(DM_LOG_WARN, "stopping now");
		event_base_loopbreak(srv->base);
		return;
	}
	srv->draining = 1;
	clock_gettime(CLOCK_MONOTONIC, &srv->drain_started);
	close_listeners(srv);
	dm_jobs_stop(srv->jobs);
	dm_subnets_stop(srv->subnets);
	dm_log(DM_LOG_INFO, "shutting down: %u requests in progress", srv->inflight);
	struct timeval tv = {0, DRAIN_CHECK_MS * 1000};
	event_add(srv->drain_ev, &tv);
}

void dm_server_free(dm_server *srv)
{
	if (srv == NULL)
		return;
	if (srv->http != NULL)
		close_listeners(srv);
	/* Compiles still queued finish and answer here; their replies are
	 * dropped with the connections below. */
	dm_workers_free(srv->workers);
	/* Jobs point into the spec cache: they go first. */
	dm_jobs_free(srv->jobs);
	dm_subnets_free(srv->subnets);
	dm_specs_free(srv->specs);
	rt_threads_shutdown();
	if (srv->http != NULL)
		evhttp_free(srv->http);
	dm_conns_free(srv->conns);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	dm_metrics_free(srv->metrics);
	dm_settings_free(&srv->settings);
	free(srv);
}
