/*
 * http.h — small HTTP pieces with no event loop in them, so they can be
 * tested alone: the JSON error body, the error code for a status, reading
 * back a response evhttp queued, and splitting a request path.
 * Prefix: dm_http_.
 */
#ifndef ARCHD_DAEMON_HTTP_H
#define ARCHD_DAEMON_HTTP_H

#include <stddef.h>

/*
 * The machine-readable code archd gives an error status when nothing more
 * precise applies: 400 "bad_request", 404 "not_found", 405
 * "method_not_allowed", 408 "request_timeout", 413 "payload_too_large",
 * 422 "unprocessable", 431 "headers_too_large", 503 "unavailable", ...
 * A static string; "error" for a status without one.
 */
const char *dm_http_status_code(int status);

/*
 * The body of every error reply: {"error":{"code":CODE,"message":MESSAGE}}
 * and a newline.  Returns a malloc'd NUL-terminated string (the caller
 * frees it), or NULL on out-of-memory.  message is copied as UTF-8; invalid
 * bytes are replaced, so a message quoting client input is always valid
 * JSON.
 */
char *dm_http_error_json(const char *code, const char *message);

/* A copy of s (malloc'd; NULL when out of memory) that is valid UTF-8, as
 * JSON strings must be: each byte of an invalid sequence becomes U+FFFD. */
char *dm_http_utf8_clean(const char *s);

/* The head of a response found at the start of a buffer. */
typedef struct dm_http_response {
	int status;        /* from the status line */
	size_t header_len; /* status line and headers, blank line included */
	size_t total_len;  /* header_len + Content-Length */
	int html;          /* Content-Type is text/html */
} dm_http_response;

/*
 * Reads the head of the response at the start of buf[0..len): returns 1
 * and fills r when the status line and every header are there (the body
 * may not be: compare len with r->total_len); 0 when more bytes are
 * needed; -1 when the bytes are not a response this parser can size (no
 * Content-Length where a body may follow, bad status line).  A 1xx, 204 or
 * 304 response has no body.
 */
int dm_http_scan_response(const char *buf, size_t len, dm_http_response *r);

/*
 * Splits an absolute path ("/v1/specs/ID") in place into at most max
 * segments, percent-decoding each.  Returns the number of segments, or -1
 * when path does not start with '/', has an empty segment ("//", a trailing
 * '/'), more than max segments, a bad or NUL-decoding %-escape, or a query
 * string (the caller strips it first).  "/" alone has 0 segments.
 */
int dm_http_split_path(char *path, char **segs, int max);

#endif
