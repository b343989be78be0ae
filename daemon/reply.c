/*
 * reply.c — answering requests (see reply.h).
 */
#include "daemon/reply.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "daemon/http.h"
#include "daemon/json.h"
#include "daemon/log.h"

dm_call *dm_call_new(struct evhttp_request *req, int route, dm_metrics *m, unsigned *inflight)
{
	dm_call *c = malloc(sizeof *c);
	if (c == NULL)
		return NULL;
	c->req = req;
	c->route = route;
	c->metrics = m;
	c->inflight = inflight;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	(*inflight)++;
	return c;
}

void dm_call_set_route(dm_call *c, int route)
{
	c->route = route;
}

double dm_call_elapsed(const dm_call *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - c->t0.tv_sec) + (double)(now.tv_nsec - c->t0.tv_nsec) * 1e-9;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return NULL; /* evhttp supplies one */
	}
}

/* Sends and finishes the call. */
static void finish(dm_call *c, int status, const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
	if (ctype != NULL)
		evhttp_add_header(h, "Content-Type", ctype);
	double elapsed = dm_call_elapsed(c);
	dm_log(DM_LOG_DEBUG, "%s -> %d in %.3f ms", evhttp_request_get_uri(c->req), status, elapsed * 1e3);
	evhttp_send_reply(c->req, status, reason_of(status), body);
	dm_metrics_request(c->metrics, c->route, status, elapsed);
	assert(*c->inflight > 0);
	(*c->inflight)--;
	free(c);
}

/* The reply of last resort: no body, nothing allocated. */
static void finish_bare_503(dm_call *c)
{
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
	finish(c, 503, NULL, NULL);
}

void dm_reply_json_bytes(dm_call *c, int status, const char *text, size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	if (buf == NULL || evbuffer_add(buf, text, len) != 0) {
		dm_log(DM_LOG_ERROR, "out of memory answering %s", evhttp_request_get_uri(c->req));
		if (buf)
			evbuffer_free(buf);
		finish_bare_503(c);
		return;
	}
	finish(c, status, "application/json", buf);
	evbuffer_free(buf);
}

void dm_reply_json(dm_call *c, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	size_t len = 0;
	/* evbuffer_add, not a printf: the text can be long */
	char *text = body != NULL ? dm_json_text(body, &len) : NULL;
	json_decref(body);
	if (buf == NULL || (body != NULL && text == NULL) ||
	    (text != NULL && evbuffer_add(buf, text, len) != 0)) {
		dm_log(DM_LOG_ERROR, "out of memory answering %s",
		       evhttp_request_get_uri(c->req));
		free(text);
		if (buf)
			evbuffer_free(buf);
		finish_bare_503(c);
		return;
	}
	free(text);
	finish(c, status, "application/json", buf);
	evbuffer_free(buf);
}

void dm_reply_error(dm_call *c, int status, const char *code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char *text = dm_http_error_json(code != NULL ? code : dm_http_status_code(status), msg);
	struct evbuffer *buf = evbuffer_new();
	if (text == NULL || buf == NULL || evbuffer_add(buf, text, strlen(text)) != 0) {
		free(text);
		if (buf)
			evbuffer_free(buf);
		finish_bare_503(c);
		return;
	}
	free(text);
	finish(c, status, "application/json", buf);
	evbuffer_free(buf);
}

void dm_reply_buffer(dm_call *c, int status, const char *content_type, struct evbuffer *body)
{
	finish(c, status, content_type, body);
}

void dm_reply_error_req(struct evhttp_request *req, int status, const char *message)
{
	char *text = dm_http_error_json(dm_http_status_code(status), message);
	struct evbuffer *buf = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (text != NULL && buf != NULL && evbuffer_add(buf, text, strlen(text)) == 0)
		evhttp_add_header(h, "Content-Type", "application/json");
	if (status == 503)
		evhttp_add_header(h, "Retry-After", "1");
	evhttp_send_reply(req, status, reason_of(status), buf);
	free(text);
	if (buf)
		evbuffer_free(buf);
}
