/*
 * test_dm_metrics.c — the Prometheus exposition archd serves on /metrics:
 * requests by route and status, cumulative latency buckets, counters and
 * gauges, every sample line well formed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "daemon/metrics.h"

static const char *const routes[] = {"/a", "/b"};

/* The exposition as a NUL-terminated string (freed by the caller). */
static char *render(const dm_metrics *m, const dm_metrics_gauges *g)
{
	struct evbuffer *out = evbuffer_new();
	assert_non_null(out);
	assert_int_equal(dm_metrics_render(m, g, out), 0);
	size_t n = evbuffer_get_length(out);
	char *text = malloc(n + 1);
	assert_non_null(text);
	evbuffer_remove(out, text, n);
	text[n] = '\0';
	evbuffer_free(out);
	return text;
}

/* The value of the sample whose name and labels are exactly `sample`. */
static double value_of(const char *text, const char *sample)
{
	size_t n = strlen(sample);
	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, sample, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	fail_msg("no sample %s", sample);
	return -1;
}

static void test_requests(void **state)
{
	(void)state;
	dm_metrics *m = dm_metrics_new(routes, 2);
	assert_non_null(m);
	dm_metrics_request(m, 0, 200, 0.0002);
	dm_metrics_request(m, 0, 200, 0.003);
	dm_metrics_request(m, 0, 404, 40.0);
	dm_metrics_request(m, 1, 418, 0.00005);
	dm_metrics_count(m, DM_COUNTER_COMPILES);
	dm_metrics_count(m, DM_COUNTER_COMPILES);
	assert_int_equal(dm_metrics_get(m, DM_COUNTER_COMPILES), 2);
	dm_metrics_gauges g = {.connections = 3, .worker_queued = 7, .train_running = 1};
	char *text = render(m, &g);
	assert_true(value_of(text, "archd_requests_total{route=\"/a\",status=\"200\"}") == 2);
	assert_true(value_of(text, "archd_requests_total{route=\"/a\",status=\"404\"}") == 1);
	/* A status outside the fixed list is still counted under its code. */
	assert_true(value_of(text, "archd_requests_total{route=\"/b\",status=\"418\"}") == 1);
	/* Buckets are cumulative and end with +Inf = count. */
	assert_true(value_of(text, "archd_request_duration_seconds_bucket{route=\"/a\",le=\"0.0001\"}") == 0);
	assert_true(value_of(text, "archd_request_duration_seconds_bucket{route=\"/a\",le=\"0.00025\"}") == 1);
	assert_true(value_of(text, "archd_request_duration_seconds_bucket{route=\"/a\",le=\"0.005\"}") == 2);
	assert_true(value_of(text, "archd_request_duration_seconds_bucket{route=\"/a\",le=\"30\"}") == 2);
	assert_true(value_of(text, "archd_request_duration_seconds_bucket{route=\"/a\",le=\"+Inf\"}") == 3);
	assert_true(value_of(text, "archd_request_duration_seconds_count{route=\"/a\"}") == 3);
	double sum = value_of(text, "archd_request_duration_seconds_sum{route=\"/a\"}");
	assert_true(sum > 40.0031 && sum < 40.0033);
	assert_true(value_of(text, "archd_compiles_total") == 2);
	assert_true(value_of(text, "archd_spec_cache_hits_total") == 0);
	assert_true(value_of(text, "archd_connections") == 3);
	assert_true(value_of(text, "archd_worker_queue") == 7);
	assert_true(value_of(text, "archd_training_jobs_running") == 1);
	free(text);
	dm_metrics_free(m);
}

/* Every line is a comment (# HELP / # TYPE) or `name{labels} value`, and
 * every sample's family has a TYPE line before it. */
static void test_format(void **state)
{
	(void)state;
	dm_metrics *m = dm_metrics_new(routes, 2);
	dm_metrics_request(m, 1, 503, 0.1);
	dm_metrics_gauges g = {0};
	char *text = render(m, &g);
	assert_int_equal(text[strlen(text) - 1], '\n');
	char typed[64][64];
	int ntyped = 0;
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char name[64];
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (sscanf(line, "# TYPE %63s", name) == 1) {
			assert_true(ntyped < 64);
			snprintf(typed[ntyped++], sizeof typed[0], "%s", name);
			continue;
		}
		size_t len = strcspn(line, "{ ");
		assert_true(len > 0 && len < sizeof name);
		memcpy(name, line, len);
		name[len] = '\0';
		const char *sp = strrchr(line, ' ');
		assert_non_null(sp);
		char *end;
		strtod(sp + 1, &end);
		assert_int_equal(*end, '\0');
		int found = 0;
		for (int i = 0; i < ntyped && !found; i++) {
			size_t tl = strlen(typed[i]);
			found = strncmp(name, typed[i], tl) == 0 &&
				(name[tl] == '\0' || strcmp(name + tl, "_bucket") == 0 ||
				 strcmp(name + tl, "_sum") == 0 || strcmp(name + tl, "_count") == 0);
		}
		if (!found)
			fail_msg("sample %s has no TYPE line before it", name);
	}
	free(text);
	dm_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
