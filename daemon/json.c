/*
 * json.c — strict request objects (see json.h).
 */
#include "daemon/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dm_json_type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "value";
}

/* How a wanted type is described in a message. */
static const char *wanted_name(json_type t)
{
	switch (t) {
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_TRUE:
	case JSON_FALSE: return "true or false";
	case JSON_NULL: return "null";
	}
	return "a value";
}

static int type_ok(const json_t *v, json_type want)
{
	switch (want) {
	case JSON_REAL: return json_is_number(v);
	case JSON_TRUE:
	case JSON_FALSE: return json_is_boolean(v);
	default: return json_typeof(v) == want;
	}
}

json_t *dm_json_parse_object(const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (v == NULL) {
		snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", je.line, je.column,
			 je.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		snprintf(err, errlen, "the body must be a JSON object, not %s",
			 dm_json_type_name(json_typeof(v)));
		json_decref(v);
		return NULL;
	}
	return v;
}

int dm_json_check(const json_t *obj, const dm_json_field *fields, size_t n, char *err,
		  size_t errlen)
{
	const char *key;
	json_t *value;
	/* json_object_foreach needs a non-const object; it does not modify it. */
	json_object_foreach((json_t *)obj, key, value) {
		size_t i;
		for (i = 0; i < n && strcmp(key, fields[i].name) != 0; i++)
			;
		if (i == n && n == 0) {
			snprintf(err, errlen, "unknown field '%s' (this request takes no fields)", key);
			return -1;
		}
		if (i == n) {
			int k = snprintf(err, errlen, "unknown field '%s' (expected:", key);
			for (size_t j = 0; j < n && k > 0 && (size_t)k < errlen; j++)
				k += snprintf(err + k, errlen - (size_t)k, "%s %s", j ? "," : "", fields[j].name);
			if (k > 0 && (size_t)k < errlen)
				snprintf(err + k, errlen - (size_t)k, ")");
			return -1;
		}
		if (!type_ok(value, fields[i].type)) {
			snprintf(err, errlen, "field '%s' must be %s, not %s", key, wanted_name(fields[i].type),
				 dm_json_type_name(json_typeof(value)));
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].required && json_object_get(obj, fields[i].name) == NULL) {
			snprintf(err, errlen, "missing field '%s' (%s)", fields[i].name,
				 wanted_name(fields[i].type));
			return -1;
		}
	}
	return 0;
}

char *dm_json_text(const json_t *body, size_t *len)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (text == NULL)
		return NULL;
	size_t n = strlen(text);
	char *p = realloc(text, n + 2);
	if (p == NULL) {
		free(text);
		return NULL;
	}
	p[n] = '\n';
	p[n + 1] = '\0';
	*len = n + 1;
	return p;
}
