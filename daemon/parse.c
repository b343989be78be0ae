/*
 * parse.c — strict number parsing (see parse.h).
 */
#include "daemon/parse.h"

#include <string.h>

/* Reads the leading digits of s into *v; returns the number of digits, or -1
 * on overflow. */
static int parse_digits(const char *s, uint64_t *v)
{
	uint64_t acc = 0;
	int n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		unsigned d = (unsigned)(s[n] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return -1;
		acc = acc * 10 + d;
		n++;
	}
	*v = acc;
	return n;
}

int dm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	int n = parse_digits(s, &v);
	if (n <= 0 || s[n] != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int dm_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t scale;
	} suffixes[] = {
		{"", 1},
		{"K", UINT64_C(1) << 10},
		{"KiB", UINT64_C(1) << 10},
		{"M", UINT64_C(1) << 20},
		{"MiB", UINT64_C(1) << 20},
		{"G", UINT64_C(1) << 30},
		{"GiB", UINT64_C(1) << 30},
	};
	uint64_t v;
	int n = parse_digits(s, &v);
	if (n <= 0)
		return -1;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		if (strcmp(s + n, suffixes[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / suffixes[i].scale)
			return -1;
		v *= suffixes[i].scale;
		if (v < min || v > max)
			return -1;
		*out = v;
		return 0;
	}
	return -1;
}
