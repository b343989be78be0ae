/*
 * test_dm_http.c — archd's HTTP pieces without a loop: error bodies,
 * reading back a queued response, path splitting, strict request JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/http.h"
#include "daemon/json.h"

/* Parses body as the error form and returns its message (a copy). */
static char *error_message(const char *body, const char *want_code)
{
	json_error_t je;
	json_t *v = json_loads(body, JSON_REJECT_DUPLICATES, &je);
	assert_non_null(v);
	assert_int_equal(json_object_size(v), 1);
	json_t *e = json_object_get(v, "error");
	assert_non_null(e);
	assert_int_equal(json_object_size(e), 2);
	assert_string_equal(json_string_value(json_object_get(e, "code")), want_code);
	char *msg = strdup(json_string_value(json_object_get(e, "message")));
	json_decref(v);
	return msg;
}

static void test_error_json(void **state)
{
	(void)state;
	char *body = dm_http_error_json("not_found", "no spec \"x\"\n");
	assert_non_null(body);
	assert_int_equal(body[strlen(body) - 1], '\n');
	char *msg = error_message(body, "not_found");
	assert_string_equal(msg, "no spec \"x\"\n");
	free(msg);
	free(body);
	/* Client bytes that are not UTF-8 still give valid JSON. */
	body = dm_http_error_json("bad_request", "bad \xff\xfe name \xc3\xa9 \xe2\x82");
	assert_non_null(body);
	msg = error_message(body, "bad_request");
	assert_string_equal(msg, "bad \xef\xbf\xbd\xef\xbf\xbd name \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
	free(msg);
	free(body);
}

static void test_status_codes(void **state)
{
	(void)state;
	assert_string_equal(dm_http_status_code(400), "bad_request");
	assert_string_equal(dm_http_status_code(404), "not_found");
	assert_string_equal(dm_http_status_code(408), "request_timeout");
	assert_string_equal(dm_http_status_code(413), "payload_too_large");
	assert_string_equal(dm_http_status_code(503), "unavailable");
	assert_string_equal(dm_http_status_code(299), "error");
}

static void test_scan_response(void **state)
{
	(void)state;
	const char page[] = "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/html\r\n"
			    "Connection: close\r\ncontent-length: 5\r\n\r\nhello";
	dm_http_response r;
	size_t hlen = strlen(page) - 5;
	/* Every prefix short of the blank line needs more bytes. */
	for (size_t n = 0; n < hlen; n++)
		assert_int_equal(dm_http_scan_response(page, n, &r), 0);
	/* From there on the head is known, body or not. */
	for (size_t n = hlen; n <= strlen(page); n++) {
		memset(&r, 0, sizeof r);
		assert_int_equal(dm_http_scan_response(page, n, &r), 1);
		assert_int_equal(r.status, 413);
		assert_int_equal(r.header_len, hlen);
		assert_int_equal(r.total_len, strlen(page));
		assert_true(r.html);
	}
	const char json[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(dm_http_scan_response(json, strlen(json), &r), 1);
	assert_false(r.html);
	assert_int_equal(r.total_len, strlen(json));
	/* Interim and bodiless responses need no Content-Length. */
	const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	assert_int_equal(dm_http_scan_response(cont, strlen(cont), &r), 1);
	assert_int_equal(r.status, 100);
	assert_int_equal(r.total_len, strlen(cont));
	const char nc[] = "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n";
	assert_int_equal(dm_http_scan_response(nc, strlen(nc), &r), 1);
	assert_int_equal(r.total_len, strlen(nc));
	/* Not a response, or one that cannot be sized. */
	const char *bad[] = {
		"GARBAGE\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(dm_http_scan_response(bad[i], strlen(bad[i]), &r), -1);
}

static void test_split_path(void **state)
{
	(void)state;
	char *seg[4];
	char p1[] = "/v1/specs/xxh3%3Aab";
	assert_int_equal(dm_http_split_path(p1, seg, 4), 3);
	assert_string_equal(seg[0], "v1");
	assert_string_equal(seg[1], "specs");
	assert_string_equal(seg[2], "xxh3:ab");
	char p2[] = "/";
	assert_int_equal(dm_http_split_path(p2, seg, 4), 0);
	const char *bad[] = {"", "v1", "//v1", "/v1/", "/v1//specs", "/a/b/c/d/e", "/a%2", "/a%zz",
			     "/a%00b", "/v1?x=1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char buf[32];
		snprintf(buf, sizeof buf, "%s", bad[i]);
		assert_int_equal(dm_http_split_path(buf, seg, 4), -1);
	}
}

static const dm_json_field fields[] = {
	{"source", JSON_STRING, 1},
	{"count", JSON_INTEGER, 0},
	{"ratio", JSON_REAL, 0},
	{"flag", JSON_TRUE, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Parses text and checks it against fields; returns the result and leaves
 * the message in err. */
static int check_text(const char *text, char *err, size_t errlen)
{
	json_t *v = dm_json_parse_object(text, strlen(text), err, errlen);
	if (v == NULL)
		return -2;
	int rc = dm_json_check(v, fields, NFIELDS, err, errlen);
	json_decref(v);
	return rc;
}

static void test_json_accepts(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(check_text("{\"source\": \"x\"}", err, sizeof err), 0);
	assert_int_equal(check_text("{\"source\": \"x\", \"count\": 3, \"ratio\": 2, \"flag\": false}", err,
				    sizeof err),
			 0);
	assert_int_equal(check_text("{\"ratio\": 0.5, \"source\": \"\"}", err, sizeof err), 0);
}

static void test_json_refuses(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		int rc;
		const char *msg;
	} cases[] = {
		{"{\"source\": ", -2, "invalid JSON at line 1, column 11"},
		{"{\"source\": \"a\", \"source\": \"b\"}", -2, "invalid JSON at line 1"},
		{"[\"source\"]", -2, "the body must be a JSON object, not array"},
		{"\"source\"", -2, "the body must be a JSON object, not string"},
		{"{\"source\": \"a\\u0000b\"}", -2, "invalid JSON"},
		{"{\"source\": 1}", -1, "field 'source' must be a string, not number"},
		{"{\"source\": \"x\", \"count\": 1.5}", -1, "field 'count' must be an integer, not number"},
		{"{\"source\": \"x\", \"flag\": 1}", -1, "field 'flag' must be true or false, not number"},
		{"{\"source\": \"x\", \"ratio\": null}", -1, "field 'ratio' must be a number, not null"},
		{"{\"sauce\": \"x\"}", -1, "unknown field 'sauce' (expected: source, count, ratio, flag)"},
		{"{\"count\": 2}", -1, "missing field 'source' (a string)"},
		{"{}", -1, "missing field 'source' (a string)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[256] = "";
		assert_int_equal(check_text(cases[i].text, err, sizeof err), cases[i].rc);
		if (strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("%s: got \"%s\", want \"%s...\"", cases[i].text, err, cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_status_codes),
		cmocka_unit_test(test_scan_response),
		cmocka_unit_test(test_split_path),
		cmocka_unit_test(test_json_accepts),
		cmocka_unit_test(test_json_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
