/*
 * reply.h — one request being answered, and the ways to answer it.
 * Prefix: dm_call_ and dm_reply_.
 *
 * A dm_call follows a request from the route that accepted it, through any
 * worker job, to its reply: the reply records the route, status and latency
 * in the metrics and frees the call.  Every reply is JSON except /metrics;
 * every error body is {"error":{"code","message"}}.  Loop thread only.
 */
#ifndef ARCHD_DAEMON_REPLY_H
#define ARCHD_DAEMON_REPLY_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "daemon/metrics.h"

struct evhttp_request;
struct evbuffer;

typedef struct dm_call {
	struct evhttp_request *req; /* owned by evhttp until the reply */
	int route;                  /* index into the metrics' routes */
	struct timespec t0;         /* arrival */
	dm_metrics *metrics;
	unsigned *inflight; /* incremented by dm_call_new, decremented by a reply */
} dm_call;

/* A call for req on route; counts it in *inflight.  Returns NULL on
 * out-of-memory (the caller answers 503 through dm_reply_error_req). */
dm_call *dm_call_new(struct evhttp_request *req, int route, dm_metrics *m, unsigned *inflight);

/* Moves the call to another route (once the path has been matched). */
void dm_call_set_route(dm_call *c, int route);

/*
 * Replies with status and body (a reference stolen, NULL for no body)
 * serialised as compact JSON, records the metrics and frees c.  When the
 * body cannot be serialised (out of memory) the reply is a bare 503.
 */
void dm_reply_json(dm_call *c, int status, json_t *body);


/* Replies with text from dm_json_text (copied), as JSON; frees c. */
void dm_reply_json_bytes(dm_call *c, int status, const char *text, size_t len);

/*
 * Replies with an error: status, code (NULL for the status's default, see
 * dm_http_status_code) and a printf-style message, then frees c.
 */
void dm_reply_error(dm_call *c, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Replies with the bytes of body (drained) as content_type; frees c. */
void dm_reply_buffer(dm_call *c, int status, const char *content_type, struct evbuffer *body);

/* For the one case without a call (allocating it failed): a 503 error
 * reply straight to req. */
void dm_reply_error_req(struct evhttp_request *req, int status, const char *message);

/* Seconds since c arrived. */
double dm_call_elapsed(const dm_call *c);

#endif
