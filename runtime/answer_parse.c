/*
 * answer_parse.c — constraints as users write them outside a .arch file
 * (`archc search --constraint 'macs<=2M'`, archd's "constraints" object):
 * a comparison, a number and the metric's unit, into ir.h base units.
 */
#include "runtime/answer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A unit suffix and what it multiplies by, for the metrics it fits. */
typedef struct unit {
	const char *name;
	double scale;
	unsigned metrics; /* bit per ir_metric */
} unit;

#define BIT(m) (1u << (m))
#define COUNTS (BIT(IR_METRIC_MACS) | BIT(IR_METRIC_PARAMS) | BIT(IR_METRIC_MEMORY))

static const unit units[] = {
	{ "", 1, COUNTS | BIT(IR_METRIC_ACCURACY) },
	{ "K", 1e3, COUNTS },
	{ "M", 1e6, COUNTS },
	{ "G", 1e9, COUNTS },
	{ "B", 1, BIT(IR_METRIC_MEMORY) },
	{ "KB", 1e3, BIT(IR_METRIC_MEMORY) },
	{ "MB", 1e6, BIT(IR_METRIC_MEMORY) },
	{ "GB", 1e9, BIT(IR_METRIC_MEMORY) },
	{ "KiB", 1024.0, BIT(IR_METRIC_MEMORY) },
	{ "MiB", 1024.0 * 1024, BIT(IR_METRIC_MEMORY) },
	{ "GiB", 1024.0 * 1024 * 1024, BIT(IR_METRIC_MEMORY) },
	{ "s", 1, BIT(IR_METRIC_LATENCY) },
	{ "ms", 1e-3, BIT(IR_METRIC_LATENCY) },
	{ "us", 1e-6, BIT(IR_METRIC_LATENCY) },
	{ "%", 1e-2, BIT(IR_METRIC_ACCURACY) },
};

static const char *skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

int rt_answer_parse_bound(ir_metric metric, const char *text, ir_constraint *out, char *err,
			  size_t errlen)
{
	const char *p = skip_space(text);
	/* Longest operators first, so "<=" is not read as "<". */
	static const ir_cmp order[] = { IR_CMP_LE, IR_CMP_GE, IR_CMP_EQ, IR_CMP_LT, IR_CMP_GT };
	int cmp = -1;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		size_t n = strlen(ir_cmp_names[order[i]]);
		if (!strncmp(p, ir_cmp_names[order[i]], n)) {
			cmp = (int)order[i];
			p += n;
			break;
		}
	}
	if (cmp < 0) {
		snprintf(err, errlen, "'%s' does not start with <=, <, >=, > or ==", text);
		return -1;
	}
	p = skip_space(p);
	if (!isdigit((unsigned char)*p) && *p != '.') {
		snprintf(err, errlen, "'%s' has no number after the comparison", text);
		return -1;
	}
	char *end;
	errno = 0;
	double v = strtod(p, &end);
	if (errno || !isfinite(v)) {
		snprintf(err, errlen, "'%s': the number is out of range", text);
		return -1;
	}
	/* Decimal only: strtod would also read "0x10" as 16. */
	for (const char *c = p; c < end; c++) {
		if (!strchr("0123456789.eE+-", *c)) {
			snprintf(err, errlen, "'%s': the number is not decimal", text);
			return -1;
		}
	}
	const char *u = skip_space(end);
	size_t ulen = strlen(u);
	while (ulen && isspace((unsigned char)u[ulen - 1]))
		ulen--;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strlen(units[i].name) != ulen || strncmp(units[i].name, u, ulen) != 0)
			continue;
		if (!(units[i].metrics & BIT(metric)))
			break;
		if (metric == IR_METRIC_LATENCY && ulen == 0)
			break;
		double x = v * units[i].scale;
		/* Every metric is at least 0 and accuracy at most 1, as the
		 * compiler holds a target's constraints to: a bound nothing
		 * meets is refused here, not searched for. */
		double hi = metric == IR_METRIC_ACCURACY ? 1 : INFINITY;
		if ((cmp == IR_CMP_LT && x <= 0) || (cmp == IR_CMP_GT && x >= hi) ||
		    ((cmp == IR_CMP_GE || cmp == IR_CMP_EQ) && x > hi)) {
			snprintf(err, errlen, "'%s' is never met: %s is %s", text,
				 ir_metric_names[metric],
				 metric == IR_METRIC_ACCURACY ? "between 0 and 100%" : "never below 0");
			return -1;
		}
		out->metric = metric;
		out->cmp = (ir_cmp)cmp;
		out->value = x;
		return 0;
	}
	static const char *const want[IR_METRIC_COUNT] = {
		"a fraction or a percentage (0.9, 90%)", "a count with an optional K, M or G",
		"a count with an optional K, M or G", "a time with a unit (s, ms, us)",
		"bytes with an optional K, M, G, KB, MB, GB, KiB, MiB or GiB"
	};
	snprintf(err, errlen, "'%s' is not a bound on %s: expected %s", text, ir_metric_names[metric],
		 want[metric]);
	return -1;
}

int rt_answer_parse_constraint(const char *text, ir_constraint *out, char *err, size_t errlen)
{
	const char *p = skip_space(text);
	for (int m = 0; m < IR_METRIC_COUNT; m++) {
		size_t n = strlen(ir_metric_names[m]);
		if (strncmp(p, ir_metric_names[m], n) != 0 || isalnum((unsigned char)p[n]) ||
		    p[n] == '_')
			continue;
		char sub[256];
		if (rt_answer_parse_bound((ir_metric)m, p + n, out, sub, sizeof sub) == 0)
			return 0;
		snprintf(err, errlen, "constraint '%s': %s", text, sub);
		return -1;
	}
	snprintf(err, errlen,
		 "constraint '%s' does not start with a metric (accuracy, macs, params, latency, "
		 "memory)",
		 text);
	return -1;
}
