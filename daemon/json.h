/*
 * json.h — strict reading of the JSON bodies clients send.  Prefix: dm_json_.
 *
 * A request body must be one JSON object whose fields are all known, of
 * the expected types, with every required one present.  Each refusal is a
 * message naming the field (or the line and column of a syntax error) that
 * the server returns as a 400.
 */
#ifndef ARCHD_DAEMON_JSON_H
#define ARCHD_DAEMON_JSON_H

#include <stddef.h>

#include <jansson.h>

/* One field a request object may have. */
typedef struct dm_json_field {
	const char *name;
	json_type type; /* JSON_STRING, JSON_OBJECT, ...; JSON_INTEGER also
			   accepts nothing but integers, JSON_REAL any number */
	int required;
} dm_json_field;

/*
 * Parses len bytes (not NUL-terminated) as one JSON object.  Duplicate keys
 * and NUL bytes are refused.  Returns a new reference, or NULL with a
 * message in err ("invalid JSON at line 1, column 7: ..." or "the body
 * must be a JSON object").
 */
json_t *dm_json_parse_object(const char *buf, size_t len, char *err, size_t errlen);

/*
 * Checks obj against fields[0..n).  Returns 0, or -1 with a message in err
 * naming the first unknown field, the first field of a wrong type ("field
 * 'source' must be a string, not a number") or the first missing required
 * field.
 */
int dm_json_check(const json_t *obj, const dm_json_field *fields, size_t n, char *err,
		  size_t errlen);

/* "object", "array", "string", "number", "true", "false" or "null". */
const char *dm_json_type_name(json_type t);

/*
 * body as the exact bytes archd sends (compact JSON, reals with 15
 * digits, a newline), NUL-terminated, length in *len; NULL on
 * out-of-memory.  For replies (dm_reply_json), answers kept and sent many
 * times, and the HTTP layer's error pages (free it).
 */
char *dm_json_text(const json_t *body, size_t *len);

#endif
