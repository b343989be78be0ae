/*
 * conn.c — connection states, the cap, the request deadline and JSON error
 * pages (see conn.h).
 */
#include "daemon/conn.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "daemon/http.h"
#include "daemon/log.h"

const char *const dm_conn_state_names[DM_CONN_STATE_COUNT] = {
	[DM_CONN_NEW] = "new",
	[DM_CONN_READING] = "reading",
	[DM_CONN_IDLE] = "idle",
	[DM_CONN_CLOSED] = "closed",
};
static_assert(DM_CONN_STATE_COUNT == 4, "a name for every connection state");

/* How much of a queued response head is copied out to be read. */
#define HEAD_MAX 8192
/* After refusing a request whose body is still coming, the socket is kept
 * open this long, reading and dropping what arrives, so the client gets to
 * read the refusal instead of a reset (at most LINGER_MAX connections at a
 * time, so lingering cannot pile up file descriptors). */
#define LINGER_MS 2000
#define LINGER_MAX 64

typedef struct conn {
	struct conn *prev, *next;
	dm_conns *owner;
	struct bufferevent *bev; /* we hold one reference */
	struct evhttp_connection *evcon; /* NULL until attached */
	dm_conn_state state;
	struct event *attach_ev;   /* next loop turn after accept */
	struct event *deadline_ev; /* request timeout while READING */
	struct event *release_ev;  /* after evhttp freed the connection */
	size_t resp_pos;  /* where the next queued response starts in the output */
	int resp_track;   /* 0 once the output cannot be followed (no length) */
	int rewriting;    /* our own edit of the output is in progress */
	int over_cap;     /* accepted past max_conns: its requests get 503 */
	int linger;       /* refused mid-request: drain before closing */
	uint64_t req_bytes; /* bytes of the request arriving (state READING) */
	uint64_t head_len;  /* its request line and headers, once complete */
	int head_seen;      /* the blank line closing them has arrived */
} conn;

struct dm_conns {
	struct event_base *base;
	unsigned max_conns, timeout_s;
	uint64_t max_headers;
	dm_conns_pause_fn *pause;
	void *pause_arg;
	int paused;
	conn *head;
	unsigned open;
	unsigned nover; /* open connections with over_cap set */
	unsigned nlinger; /* closed connections still draining */
	uint64_t accepted, timed_out, error_pages, over_cap;
};

/* The one place a state changes. */
static void conn_set_state(conn *c, dm_conn_state to)
{
	assert(to >= 0 && to < DM_CONN_STATE_COUNT);
	assert(c->state != DM_CONN_CLOSED);
	if (c->state == to)
		return;
	dm_log(DM_LOG_DEBUG, "connection %p: %s -> %s", (void *)c, dm_conn_state_names[c->state],
	       dm_conn_state_names[to]);
	c->state = to;
}

static void update_pause(dm_conns *cs)
{
	int want = cs->open >= cs->max_conns + DM_CONNS_OVER_CAP_MARGIN;
	if (want == cs->paused || cs->pause == NULL)
		return;
	cs->paused = want;
	if (want)
		dm_log(DM_LOG_WARN, "%u connections open (max_connections %u): not accepting more for now",
		       cs->open, cs->max_conns);
	else
		dm_log(DM_LOG_INFO, "accepting connections again");
	cs->pause(cs->pause_arg, want);
}

/* Writes a small complete error response straight to the socket, best
 * effort: the connection is about to close and nothing else is queued. */
static void send_direct(conn *c, int status, const char *reason, const char *message)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
		return;
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	if (fd < 0)
		return;
	char *body = dm_http_error_json(dm_http_status_code(status), message);
	if (body == NULL)
		return;
	char buf[1024];
	int n = snprintf(buf, sizeof buf,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 status, reason, strlen(body), body);
	free(body);
	if (n > 0 && (size_t)n < sizeof buf) {
		ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			dm_log(DM_LOG_DEBUG, "connection %p: %d not sent: %s", (void *)c, status,
			       strerror(errno));
	}
}

/* --- evhttp's own error pages --------------------------------------------- */

static const char *page_message(int status)
{
	switch (status) {
	case 400: return "malformed HTTP request";
	case 413: return "request body over max_body_size";
	case 417: return "unsupported Expect header";
	case 501: return "unknown HTTP method (archd serves GET, POST and DELETE)";
	case 505: return "HTTP version not supported";
	default: return "the HTTP layer refused the request";
	}
}

/* Replaces the response at c->resp_pos (total bytes long) with its JSON
 * form. */
static void rewrite_page(conn *c, struct evbuffer *out, const dm_http_response *r, const char *head)
{
	/* The reason phrase follows "HTTP/1.x NNN " on the status line. */
	const char *reason = head + 13;
	const char *eol = memchr(head, '\r', r->header_len);
	int rlen = eol != NULL && eol > reason ? (int)(eol - reason) : 0;
	int status = r->status;
	const char *message = page_message(status);
	uint64_t got = c->head_seen ? c->head_len : c->req_bytes;
	if (status == 400 && c->owner->max_headers > 0 && got > c->owner->max_headers) {
		/* evhttp says 400 for headers over its limit too. */
		status = 431;
		reason = "Request Header Fields Too Large";
		rlen = (int)strlen(reason);
		message = "request line and headers over max_header_size";
	}
	char *body = dm_http_error_json(dm_http_status_code(status), message);
	struct evbuffer *prefix = evbuffer_new();
	struct evbuffer *page = evbuffer_new();
	if (body == NULL || prefix == NULL || page == NULL ||
	    evbuffer_add_printf(page,
				"HTTP/1.1 %d %.*s\r\nContent-Type: application/json\r\nConnection: close\r\n"
				"Content-Length: %zu\r\n\r\n%s",
				status, rlen, rlen > 0 ? reason : "", strlen(body), body) < 0) {
		/* Out of memory: the HTML page goes out as it is. */
		c->resp_pos += r->total_len;
		goto out;
	}
	c->rewriting = 1;
	size_t newlen = evbuffer_get_length(page);
	if (c->resp_pos > 0)
		evbuffer_remove_buffer(out, prefix, c->resp_pos);
	evbuffer_drain(out, r->total_len);
	evbuffer_prepend_buffer(out, page);
	if (c->resp_pos > 0)
		evbuffer_prepend_buffer(out, prefix);
	c->rewriting = 0;
	c->resp_pos += newlen;
	c->owner->error_pages++;
	/* The client may still be sending what was refused. */
	c->linger = 1;
	dm_log(DM_LOG_DEBUG, "refused a request: %d %s", status, message);
out:
	free(body);
	if (prefix != NULL)
		evbuffer_free(prefix);
	if (page != NULL)
		evbuffer_free(page);
}

/* Follows the responses queued in out; rewrites evhttp's HTML error pages
 * (our replies are never text/html).  Returns 1 when a final response (not
 * a 1xx such as 100 Continue) was queued, or when the output can no longer
 * be followed. */
static int scan_output(conn *c, struct evbuffer *out)
{
	char head[HEAD_MAX];
	int final = 0;
	while (c->resp_track) {
		size_t len = evbuffer_get_length(out);
		if (c->resp_pos >= len)
			return final;
		struct evbuffer_ptr at;
		if (evbuffer_ptr_set(out, &at, c->resp_pos, EVBUFFER_PTR_SET) != 0)
			return final;
		size_t want = len - c->resp_pos < sizeof head - 1 ? len - c->resp_pos : sizeof head - 1;
		ev_ssize_t got = evbuffer_copyout_from(out, &at, head, want);
		if (got <= 0)
			return final;
		head[got] = '\0';
		dm_http_response r;
		int rc = dm_http_scan_response(head, (size_t)got, &r);
		if (rc == 0 && (size_t)got < sizeof head - 1)
			return final; /* the rest of the head is coming */
		if (rc <= 0) {
			dm_log(DM_LOG_DEBUG, "connection %p: cannot follow the output any more", (void *)c);
			c->resp_track = 0;
			return 1;
		}
		if (r.status >= 200)
			final = 1;
		if (len - c->resp_pos < r.total_len)
			return final; /* the body is coming */
		if (r.html && r.status >= 400)
			rewrite_page(c, out, &r, head);
		else
			c->resp_pos += r.total_len;
	}
	return 1;
}

static void on_output(struct evbuffer *out, const struct evbuffer_cb_info *info, void *arg)
{
	conn *c = arg;
	if (c->rewriting || c->state == DM_CONN_CLOSED)
		return;
	if (info->n_deleted > 0) {
		/* Bytes leave from the front as they are sent. */
		c->resp_pos = c->resp_pos > info->n_deleted ? c->resp_pos - info->n_deleted : 0;
	}
	if (info->n_added == 0)
		return;
	/* A 100 Continue leaves the request arriving, under its deadline. */
	if (scan_output(c, out) && (c->state == DM_CONN_READING || c->state == DM_CONN_NEW)) {
		conn_set_state(c, DM_CONN_IDLE);
		event_del(c->deadline_ev);
	}
}

/* --- the request deadline ------------------------------------------------------ */

/* The offset just past the first blank line (the end of a header block;
 * evhttp also takes a bare LF as a line end) in in[from..), or -1. */
static long blank_line_end(struct evbuffer *in, size_t from)
{
	static const char *const ends[] = {"\n\r\n", "\n\n"};
	long best = -1;
	for (size_t i = 0; i < 2; i++) {
		struct evbuffer_ptr start;
		if (evbuffer_ptr_set(in, &start, from, EVBUFFER_PTR_SET) != 0)
			return -1;
		struct evbuffer_ptr at = evbuffer_search(in, ends[i], strlen(ends[i]), &start);
		long end = at.pos >= 0 ? (long)at.pos + (long)strlen(ends[i]) : -1;
		if (end >= 0 && (best < 0 || end < best))
			best = end;
	}
	return best;
}

static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	conn *c = arg;
	if (info->n_added == 0 || c->state == DM_CONN_CLOSED)
		return;
	if (c->state != DM_CONN_READING) {
		conn_set_state(c, DM_CONN_READING);
		c->req_bytes = 0;
		c->head_seen = 0;
		struct timeval tv = {(time_t)c->owner->timeout_s, 0};
		event_add(c->deadline_ev, &tv);
	}
	/* Only the new bytes (and the two before them) can complete the blank
	 * line; once seen, the body is not searched.  The new bytes start at
	 * orig_size in the buffer and at req_bytes in the request. */
	if (!c->head_seen && c->owner->max_headers > 0) {
		long end = blank_line_end(in, info->orig_size > 2 ? info->orig_size - 2 : 0);
		if (end >= 0) {
			c->head_seen = 1;
			c->head_len = c->req_bytes + (uint64_t)end - info->orig_size;
		}
	}
	c->req_bytes += info->n_added;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn *c = arg;
	if (c->state != DM_CONN_READING || c->evcon == NULL)
		return;
	/* evhttp stops reading once it hands a request over: that one is
	 * being answered, however long it takes. */
	if ((bufferevent_get_enabled(c->bev) & EV_READ) == 0)
		return;
	c->owner->timed_out++;
	char msg[128];
	snprintf(msg, sizeof msg, "the request did not arrive within %u s (request_timeout)",
		 c->owner->timeout_s);
	dm_log(DM_LOG_DEBUG, "connection %p: %s", (void *)c, msg);
	send_direct(c, 408, "Request Timeout", msg);
	conn_set_state(c, DM_CONN_IDLE); /* answered: no second reply on close */
	evhttp_connection_free(c->evcon);
}

/* --- accept, attach, close, release ------------------------------------------ */

static void conn_release(conn *c)
{
	dm_conns *cs = c->owner;
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	evbuffer_remove_cb(bufferevent_get_input(c->bev), on_input, c);
	evbuffer_remove_cb(bufferevent_get_output(c->bev), on_output, c);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	event_free(c->attach_ev);
	event_free(c->deadline_ev);
	event_free(c->release_ev);
	bufferevent_decref(c->bev);
	free(c);
}

static void on_linger_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

/* EOF or an error from a lingering client: done. */
static void on_linger_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	conn *c = arg;
	c->owner->nlinger--;
	conn_release(c);
}

static void on_release(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn *c = arg;
	/* A second firing is the linger timer running out. */
	if (c->linger == 2) {
		c->owner->nlinger--;
		conn_release(c);
		return;
	}
	/* evhttp is done with the bufferevent (our reference keeps it and its
	 * socket); shut our side of the socket after the refusal, then read and
	 * drop until the client closes or the timer ends. */
	if (c->linger && c->owner->nlinger < LINGER_MAX && bufferevent_getfd(c->bev) >= 0) {
		c->linger = 2;
		c->owner->nlinger++;
		evbuffer_remove_cb(bufferevent_get_input(c->bev), on_input, c);
		evbuffer_remove_cb(bufferevent_get_output(c->bev), on_output, c);
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
		bufferevent_setcb(c->bev, on_linger_read, NULL, on_linger_event, c);
		bufferevent_enable(c->bev, EV_READ);
		struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};
		event_add(c->release_ev, &tv);
		return;
	}
	conn_release(c);
}

static void conn_closed(conn *c)
{
	dm_conns *cs = c->owner;
	event_del(c->deadline_ev);
	c->state = DM_CONN_CLOSED;
	dm_log(DM_LOG_DEBUG, "connection %p: closed", (void *)c);
	assert(cs->open > 0);
	cs->open--;
	if (c->over_cap)
		cs->nover--;
	update_pause(cs);
	event_active(c->release_ev, EV_TIMEOUT, 1);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn *c = arg;
	if (c->state == DM_CONN_READING)
		send_direct(c, 400, "Bad Request", "the request ended before it was complete");
	conn_closed(c);
}

static void on_attach(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn *c = arg;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *cbarg = NULL;
	bufferevent_getcb(c->bev, &rd, &wr, &ev, &cbarg);
	if (cbarg == NULL) {
		/* evhttp gave up on the connection before this turn (bufferevent_free
		 * clears the callbacks). */
		conn_closed(c);
		return;
	}
	c->evcon = cbarg;
	assert(evhttp_connection_get_bufferevent(c->evcon) == c->bev);
	evhttp_connection_set_closecb(c->evcon, on_close, c);
}

struct bufferevent *dm_conns_bevcb(struct event_base *base, void *arg)
{
	dm_conns *cs = arg;
	conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->owner = cs;
	c->resp_track = 1;
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->attach_ev = evtimer_new(base, on_attach, c);
	c->deadline_ev = evtimer_new(base, on_deadline, c);
	c->release_ev = evtimer_new(base, on_release, c);
	if (c->bev == NULL || c->attach_ev == NULL || c->deadline_ev == NULL || c->release_ev == NULL ||
	    evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c) == NULL ||
	    evbuffer_add_cb(bufferevent_get_output(c->bev), on_output, c) == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->attach_ev)
			event_free(c->attach_ev);
		if (c->deadline_ev)
			event_free(c->deadline_ev);
		if (c->release_ev)
			event_free(c->release_ev);
		free(c);
		return NULL;
	}
	bufferevent_incref(c->bev);
	if (cs->open >= cs->max_conns) {
		c->over_cap = 1;
		cs->nover++;
		cs->over_cap++;
	}
	c->next = cs->head;
	if (cs->head)
		cs->head->prev = c;
	cs->head = c;
	cs->open++;
	cs->accepted++;
	event_active(c->attach_ev, EV_TIMEOUT, 1);
	update_pause(cs);
	return c->bev;
}

dm_conns *dm_conns_new(struct event_base *base, unsigned max_conns, unsigned timeout_s,
		       dm_conns_pause_fn *pause, void *pause_arg)
{
	assert(max_conns > 0 && timeout_s > 0);
	dm_conns *cs = calloc(1, sizeof *cs);
	if (cs == NULL)
		return NULL;
	cs->base = base;
	cs->max_conns = max_conns;
	cs->timeout_s = timeout_s;
	cs->pause = pause;
	cs->pause_arg = pause_arg;
	return cs;
}

void dm_conns_set_limits(dm_conns *cs, unsigned max_conns, unsigned timeout_s)
{
	assert(max_conns > 0 && timeout_s > 0);
	cs->max_conns = max_conns;
	cs->timeout_s = timeout_s;
	update_pause(cs);
}

int dm_conns_over_cap(const dm_conns *cs, struct evhttp_request *req)
{
	if (cs->nover == 0)
		return 0;
	const struct bufferevent *bev =
		evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
	for (const conn *c = cs->head; c != NULL; c = c->next)
		if (c->bev == bev)
			return c->over_cap;
	return 0;
}

void dm_conns_set_header_limit(dm_conns *cs, uint64_t max_headers)
{
	cs->max_headers = max_headers;
}

void dm_conns_stats_get(const dm_conns *cs, dm_conns_stats *st)
{
	st->open = cs->open;
	st->unflushed = 0;
	for (const conn *c = cs->head; c != NULL; c = c->next)
		if (c->state != DM_CONN_CLOSED && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			st->unflushed++;
	st->accepted = cs->accepted;
	st->timed_out = cs->timed_out;
	st->error_pages = cs->error_pages;
	st->over_cap = cs->over_cap;
}

void dm_conns_free(dm_conns *cs)
{
	if (cs == NULL)
		return;
	/* evhttp_free closed every connection; one accepted on the last loop
	 * turn may not have been attached, which changes nothing here. */
	while (cs->head != NULL)
		conn_release(cs->head);
	free(cs);
}
