/*
 * metrics.c — Prometheus counters and histograms (see metrics.h).
 */
#include "daemon/metrics.h"

#include <assert.h>
#include <stdlib.h>

#include <event2/buffer.h>

const char *const dm_counter_names[DM_COUNTER_COUNT] = {
	[DM_COUNTER_SPEC_HITS] = "spec_cache_hits",
	[DM_COUNTER_SPEC_MISSES] = "spec_cache_misses",
	[DM_COUNTER_SPEC_LOADS] = "spec_loads",
	[DM_COUNTER_COMPILES] = "compiles",
	[DM_COUNTER_COMPILE_ERRORS] = "compile_errors",
	[DM_COUNTER_COMPILE_SHARED] = "compiles_shared",
	[DM_COUNTER_STORE_ERRORS] = "state_write_errors",
	[DM_COUNTER_ANSWER_HITS] = "answer_cache_hits",
	[DM_COUNTER_ANSWER_MISSES] = "answer_cache_misses",
};
static_assert(DM_COUNTER_COUNT == 9, "a name for every counter");

static const char *const counter_help[DM_COUNTER_COUNT] = {
	[DM_COUNTER_SPEC_HITS] = "Specs answered from the cache (memory or state dir).",
	[DM_COUNTER_SPEC_MISSES] = "Specs that had to be compiled or decoded.",
	[DM_COUNTER_SPEC_LOADS] = "Specs read back from the state dir.",
	[DM_COUNTER_COMPILES] = "Compilations run.",
	[DM_COUNTER_COMPILE_ERRORS] = "Compilations that failed.",
	[DM_COUNTER_COMPILE_SHARED] = "Requests that joined a compilation already running.",
	[DM_COUNTER_STORE_ERRORS] = "State dir writes that failed.",
	[DM_COUNTER_ANSWER_HITS] = "Subnet requests answered before, repeated from memory or the state dir.",
	[DM_COUNTER_ANSWER_MISSES] = "Subnet requests not answered before (the loop's archive or a worker answers).",
};

/* Upper bounds of the latency buckets, in seconds; +Inf is implied. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
				 5,      10,      30};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* The statuses counted one by one; anything else is counted as its class
 * ("4xx"-style statuses never seen here still show up, as "other"). */
static const int statuses[] = {200, 201, 202, 204, 400, 404, 405, 408, 409,
			       413, 415, 422, 431, 500, 501, 503};
#define NSTATUSES (sizeof statuses / sizeof statuses[0])

typedef struct route_stats {
	uint64_t by_status[NSTATUSES + 1]; /* last: any other status */
	uint64_t other_status_code;        /* the last "other" status seen */
	uint64_t hist[NBUCKETS + 1];       /* last: +Inf */
	uint64_t count;
	double sum;
} route_stats;

struct dm_metrics {
	const char *const *names;
	int nroutes;
	route_stats *routes;
	uint64_t counters[DM_COUNTER_COUNT];
};

dm_metrics *dm_metrics_new(const char *const *route_names, int nroutes)
{
	assert(nroutes > 0);
	dm_metrics *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->routes = calloc((size_t)nroutes, sizeof *m->routes);
	if (m->routes == NULL) {
		free(m);
		return NULL;
	}
	m->names = route_names;
	m->nroutes = nroutes;
	return m;
}

void dm_metrics_free(dm_metrics *m)
{
	if (m == NULL)
		return;
	free(m->routes);
	free(m);
}

void dm_metrics_request(dm_metrics *m, int route, int status, double seconds)
{
	assert(route >= 0 && route < m->nroutes);
	route_stats *r = &m->routes[route];
	size_t s;
	for (s = 0; s < NSTATUSES && statuses[s] != status; s++)
		;
	if (s == NSTATUSES)
		r->other_status_code = (uint64_t)status;
	r->by_status[s]++;
	size_t b;
	for (b = 0; b < NBUCKETS && seconds > buckets[b]; b++)
		;
	r->hist[b]++;
	r->count++;
	r->sum += seconds;
}

void dm_metrics_count(dm_metrics *m, dm_counter c)
{
	assert(c >= 0 && c < DM_COUNTER_COUNT);
	m->counters[c]++;
}

uint64_t dm_metrics_get(const dm_metrics *m, dm_counter c)
{
	assert(c >= 0 && c < DM_COUNTER_COUNT);
	return m->counters[c];
}

#define ADD(...)                                              \
	do {                                                  \
		if (evbuffer_add_printf(out, __VA_ARGS__) < 0) \
			return -1;                            \
	} while (0)

static int render_requests(const dm_metrics *m, struct evbuffer *out)
{
	ADD("# HELP archd_requests_total Requests answered, by route and status.\n"
	    "# TYPE archd_requests_total counter\n");
	for (int i = 0; i < m->nroutes; i++) {
		const route_stats *r = &m->routes[i];
		for (size_t s = 0; s <= NSTATUSES; s++) {
			if (r->by_status[s] == 0)
				continue;
			int code = s < NSTATUSES ? statuses[s] : (int)r->other_status_code;
			ADD("archd_requests_total{route=\"%s\",status=\"%d\"} %llu\n", m->names[i], code,
			    (unsigned long long)r->by_status[s]);
		}
	}
	ADD("# HELP archd_request_duration_seconds Time from a request's arrival to its reply.\n"
	    "# TYPE archd_request_duration_seconds histogram\n");
	for (int i = 0; i < m->nroutes; i++) {
		const route_stats *r = &m->routes[i];
		if (r->count == 0)
			continue;
		uint64_t cum = 0;
		for (size_t b = 0; b < NBUCKETS; b++) {
			cum += r->hist[b];
			ADD("archd_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
			    m->names[i], buckets[b], (unsigned long long)cum);
		}
		ADD("archd_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
		    "archd_request_duration_seconds_sum{route=\"%s\"} %.9g\n"
		    "archd_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    m->names[i], (unsigned long long)r->count, m->names[i], r->sum, m->names[i],
		    (unsigned long long)r->count);
	}
	return 0;
}

static int gauge(struct evbuffer *out, const char *name, const char *type, const char *help,
		 unsigned long long v)
{
	ADD("# HELP archd_%s %s\n# TYPE archd_%s %s\narchd_%s %llu\n", name, help, name, type, name, v);
	return 0;
}

int dm_metrics_render(const dm_metrics *m, const dm_metrics_gauges *g, struct evbuffer *out)
{
	if (render_requests(m, out) != 0)
		return -1;
	for (int c = 0; c < DM_COUNTER_COUNT; c++) {
		ADD("# HELP archd_%s_total %s\n# TYPE archd_%s_total counter\narchd_%s_total %llu\n",
		    dm_counter_names[c], counter_help[c], dm_counter_names[c], dm_counter_names[c],
		    (unsigned long long)m->counters[c]);
	}
	const struct {
		const char *name, *type, *help;
		unsigned long long v;
	} gs[] = {
		{"connections", "gauge", "Open client connections.", g->connections},
		{"connections_total", "counter", "Client connections accepted.", g->connections_total},
		{"request_timeouts_total", "counter", "Requests cut for arriving too slowly.",
		 g->timeouts_total},
		{"protocol_errors_total", "counter", "Requests refused by the HTTP layer (malformed, too large).",
		 g->error_pages_total},
		{"connections_refused_total", "counter", "Connections past max_connections, answered 503.",
		 g->over_cap_total},
		{"worker_threads", "gauge", "Worker threads.", g->worker_threads},
		{"worker_queue", "gauge", "Jobs waiting for a worker thread.", g->worker_queued},
		{"worker_running", "gauge", "Jobs on a worker thread.", g->worker_running},
		{"jobs_submitted_total", "counter", "Jobs given to the workers.", g->jobs_submitted},
		{"jobs_completed_total", "counter", "Jobs the workers finished.", g->jobs_completed},
		{"jobs_rejected_total", "counter", "Jobs refused because the queue was full.", g->jobs_rejected},
		{"specs_cached", "gauge", "Specs held in memory.", g->specs_cached},
		{"compiles_in_flight", "gauge", "Compilations running or queued.", g->compiles_in_flight},
		{"training_jobs_queued", "gauge", "Training jobs waiting to run.", g->train_queued},
		{"training_jobs_running", "gauge", "Training jobs running (supernets being trained).",
		 g->train_running},
		{"training_jobs_done_total", "counter", "Training jobs that finished.", g->train_done},
		{"training_jobs_cancelled_total", "counter", "Training jobs cancelled.", g->train_cancelled},
		{"training_jobs_failed_total", "counter", "Training jobs that failed.", g->train_failed},
		{"training_jobs_rejected_total", "counter", "Training requests refused for a full queue.",
		 g->train_rejected},
	};
	for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++)
		if (gauge(out, gs[i].name, gs[i].type, gs[i].help, gs[i].v) != 0)
			return -1;
	return 0;
}
