/*
 * conn.h — client connections: counting, a cap, a per-request deadline and
 * JSON bodies for libevent's own error replies.  Prefix: dm_conns_.
 *
 * evhttp owns each connection; this module watches it through the
 * bufferevent it creates for evhttp (evhttp_set_bevcb) and the close
 * callback it registers on the evhttp_connection.  Each connection has an
 * explicit state (dm_conn_state), changed only through one setter that logs
 * the transition at debug level:
 *
 *     NEW --first byte--> READING --final response queued--> IDLE
 *     IDLE --byte of the next request--> READING
 *     any state --evhttp frees it--> CLOSED
 *
 * (A "100 Continue" is not a final response: the body is still to come.)
 *
 * A connection that stays READING past the request timeout (a body that
 * never ends, a client sending a byte a second) gets a 408 and is closed;
 * one that is being answered (evhttp has stopped reading it) is never cut.
 * A client that closes its side in the middle of a request (evhttp then
 * drops the connection without a word) is sent a 400 before the close.
 *
 * evhttp in libevent 2.1 tells nobody when it frees a connection it
 * accepted, so the tracker holds a reference on each bufferevent, learns
 * the evhttp_connection from the bufferevent's callback argument on the
 * next loop turn (evhttp sets it to the connection) and registers the
 * connection's close callback; the reference keeps every pointer valid
 * until the tracker lets go.
 *
 * libevent 2.1.12 has no evhttp_set_errorcb, so its own error pages (400 for
 * malformed HTTP, 413 for a body over the cap, 417, 501 ...) would be HTML.
 * This module rewrites them, as they are queued, into the JSON form every
 * other reply has: {"error":{"code":"...","message":"..."}} (a 400 for
 * headers over the limit becomes 431).  It tells them by their text/html
 * type: archd's own replies are never HTML.  After such a refusal the
 * client may still be sending (a 100 MB body): the socket is half-closed
 * and drained for up to two seconds before it is closed, so the client
 * reads the refusal rather than a connection reset.
 */
#ifndef ARCHD_DAEMON_CONN_H
#define ARCHD_DAEMON_CONN_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct bufferevent;
struct evhttp_request;

typedef enum dm_conn_state {
	DM_CONN_NEW,     /* accepted, nothing read yet */
	DM_CONN_READING, /* a request is arriving */
	DM_CONN_IDLE,    /* a response was queued; waiting for the next request */
	DM_CONN_CLOSED,  /* evhttp freed it */
	DM_CONN_STATE_COUNT
} dm_conn_state;

extern const char *const dm_conn_state_names[DM_CONN_STATE_COUNT];

typedef struct dm_conns dm_conns;

/* Past max_conns, a connection is still accepted but its request is
 * refused (dm_conns_over_cap: the server answers 503 and closes), so a
 * client learns why.  Past max_conns + DM_CONNS_OVER_CAP_MARGIN the pause
 * callback is called (paused = 1) and the server stops accepting, so the
 * extra clients wait in the kernel's backlog and file descriptors stay
 * bounded; it is called again (paused = 0) when the count drops. */
#define DM_CONNS_OVER_CAP_MARGIN 64
typedef void dm_conns_pause_fn(void *arg, int paused);

/*
 * A tracker for base's connections: at most max_conns open, each request
 * read within timeout_s seconds.  Returns NULL on out-of-memory.
 */
dm_conns *dm_conns_new(struct event_base *base, unsigned max_conns, unsigned timeout_s,
		       dm_conns_pause_fn *pause, void *pause_arg);

/* Changes the limits (SIGHUP). */
void dm_conns_set_limits(dm_conns *c, unsigned max_conns, unsigned timeout_s);

/* The header size limit given to evhttp: evhttp answers a request line and
 * headers over it with a plain 400, which this module turns into 431 when
 * the request line and headers (up to their closing blank line, or all
 * that came when it never did) are longer than max_headers.  0 (the
 * default) leaves every 400 a 400. */
void dm_conns_set_header_limit(dm_conns *c, uint64_t max_headers);

/* The evhttp_set_bevcb callback; arg is the dm_conns.  Returns NULL on
 * out-of-memory (evhttp then makes its own bufferevent, untracked). */
struct bufferevent *dm_conns_bevcb(struct event_base *base, void *arg);

/* 1 when req arrived on a connection accepted past max_conns: the caller
 * answers 503 with "Connection: close".  O(1) unless connections are over
 * the cap. */
int dm_conns_over_cap(const dm_conns *c, struct evhttp_request *req);

typedef struct dm_conns_stats {
	unsigned open;      /* connections evhttp holds */
	unsigned unflushed; /* of which with a reply not yet fully sent */
	uint64_t accepted, timed_out, error_pages, over_cap;
} dm_conns_stats;

/* A snapshot of the counters (unflushed is counted, O(open)). */
void dm_conns_stats_get(const dm_conns *c, dm_conns_stats *st);

/* Frees the tracker.  Call after evhttp_free (which closes every
 * connection); NULL is fine. */
void dm_conns_free(dm_conns *c);

#endif
