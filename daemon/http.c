/*
 * http.c — JSON error bodies, response scanning and path splitting (see
 * http.h).
 */
#include "daemon/http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "daemon/json.h"
#include "daemon/parse.h"

const char *dm_http_status_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 408: return "request_timeout";
	case 409: return "conflict";
	case 411: return "length_required";
	case 413: return "payload_too_large";
	case 415: return "unsupported_media_type";
	case 417: return "expectation_failed";
	case 422: return "unprocessable";
	case 431: return "headers_too_large";
	case 500: return "internal";
	case 501: return "not_implemented";
	case 503: return "unavailable";
	case 505: return "http_version_not_supported";
	default: return "error";
	}
}

char *dm_http_utf8_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		int ok = len > 0 && i + len <= n;
		for (size_t k = 1; ok && k < len; k++)
			ok = ((unsigned char)s[i + k] >> 6) == 2;
		if (ok && len > 1) {
			/* Let jansson judge overlongs and surrogates. */
			json_t *probe = json_stringn(s + i, len);
			ok = probe != NULL;
			json_decref(probe);
		}
		if (ok) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

char *dm_http_error_json(const char *code, const char *message)
{
	char *clean = dm_http_utf8_clean(message);
	if (clean == NULL)
		return NULL;
	json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", clean);
	free(clean);
	if (body == NULL)
		return NULL;
	size_t len;
	char *text = dm_json_text(body, &len);
	json_decref(body);
	return text;
}

/* Finds needle in buf[0..len); returns its offset or -1. */
static long find(const char *buf, size_t len, const char *needle)
{
	size_t nl = strlen(needle);
	for (size_t i = 0; i + nl <= len; i++)
		if (memcmp(buf + i, needle, nl) == 0)
			return (long)i;
	return -1;
}

int dm_http_scan_response(const char *buf, size_t len, dm_http_response *r)
{
	static const char proto[] = "HTTP/1.";
	size_t pl = sizeof proto - 1;
	if (len < pl + 6)
		return memcmp(buf, proto, len < pl ? len : pl) == 0 ? 0 : -1;
	/* "HTTP/1.x NNN " */
	if (memcmp(buf, proto, pl) != 0 || buf[pl + 1] != ' ')
		return -1;
	int status = 0;
	for (int k = 0; k < 3; k++) {
		char c = buf[pl + 2 + (size_t)k];
		if (c < '0' || c > '9')
			return -1;
		status = status * 10 + (c - '0');
	}
	long end = find(buf, len, "\r\n\r\n");
	if (end < 0)
		return 0;
	size_t hlen = (size_t)end + 4;
	long clen = -1;
	int html = 0;
	/* Walk the header lines after the status line. */
	const char *p = memchr(buf, '\n', hlen);
	while (p != NULL && (size_t)(p + 1 - buf) < hlen - 2) {
		const char *line = p + 1;
		const char *eol = memchr(line, '\r', hlen - (size_t)(line - buf));
		if (eol == NULL)
			return -1;
		size_t ll = (size_t)(eol - line);
		static const char cl[] = "Content-Length:", ct[] = "Content-Type:";
		if (ll > sizeof cl - 1 && strncasecmp(line, cl, sizeof cl - 1) == 0) {
			char num[24];
			const char *v = line + sizeof cl - 1;
			while (*v == ' ')
				v++;
			size_t vl = (size_t)(eol - v);
			uint64_t x;
			if (vl == 0 || vl >= sizeof num)
				return -1;
			memcpy(num, v, vl);
			num[vl] = '\0';
			if (dm_parse_u64(num, 0, (uint64_t)1 << 40, &x) != 0)
				return -1;
			clen = (long)x;
		} else if (ll > sizeof ct - 1 && strncasecmp(line, ct, sizeof ct - 1) == 0) {
			const char *v = line + sizeof ct - 1;
			while (*v == ' ')
				v++;
			html = (size_t)(eol - v) >= 9 && strncasecmp(v, "text/html", 9) == 0;
		}
		p = eol + 1;
	}
	if (clen < 0) {
		/* Interim (1xx), 204 and 304 responses have no body. */
		if (status >= 200 && status != 204 && status != 304)
			return -1;
		clen = 0;
	}
	r->status = status;
	r->header_len = hlen;
	r->total_len = hlen + (size_t)clen;
	r->html = html;
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX escapes of s in place; -1 on a bad escape or a %00. */
static int percent_decode(char *s)
{
	char *o = s;
	for (char *i = s; *i != '\0'; i++) {
		if (*i != '%') {
			*o++ = *i;
			continue;
		}
		int hi = hexval(i[1]), lo = hi < 0 ? -1 : hexval(i[2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return 0;
}

int dm_http_split_path(char *path, char **segs, int max)
{
	if (path[0] != '/' || strchr(path, '?') != NULL)
		return -1;
	if (path[1] == '\0')
		return 0;
	int n = 0;
	char *p = path + 1;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash != NULL)
			*slash = '\0';
		if (*p == '\0' || n >= max || percent_decode(p) != 0)
			return -1;
		segs[n++] = p;
		if (slash == NULL)
			return n;
		p = slash + 1;
	}
}
