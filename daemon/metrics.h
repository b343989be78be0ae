/*
 * metrics.h — request counters, latency histograms and daemon counters,
 * rendered in the Prometheus text format for GET /metrics.
 * Prefix: dm_metrics_.
 *
 * Loop thread only: every update and the rendering happen on the event
 * loop, so nothing here locks.
 */
#ifndef ARCHD_DAEMON_METRICS_H
#define ARCHD_DAEMON_METRICS_H

#include <stdint.h>

struct evbuffer;

/* Counters of things that happen, each rendered as archd_<name>_total. */
typedef enum dm_counter {
	DM_COUNTER_SPEC_HITS,      /* a spec answered from the cache (memory or state dir) */
	DM_COUNTER_SPEC_MISSES,    /* a spec that had to be compiled or decoded */
	DM_COUNTER_SPEC_LOADS,     /* a spec read back from the state dir */
	DM_COUNTER_COMPILES,       /* compilations run */
	DM_COUNTER_COMPILE_ERRORS, /* compilations that failed (422) */
	DM_COUNTER_COMPILE_SHARED, /* requests that joined a compilation in flight */
	DM_COUNTER_STORE_ERRORS,   /* state dir writes that failed */
	DM_COUNTER_ANSWER_HITS,    /* a subnet request answered before, repeated (memory or state dir) */
	DM_COUNTER_ANSWER_MISSES,  /* a subnet request not answered before */
	DM_COUNTER_COUNT
} dm_counter;

extern const char *const dm_counter_names[DM_COUNTER_COUNT];

/* Values sampled when /metrics is asked for. */
typedef struct dm_metrics_gauges {
	unsigned connections;     /* open client connections */
	uint64_t connections_total, timeouts_total, error_pages_total, over_cap_total;
	unsigned worker_threads, worker_queued, worker_running;
	uint64_t jobs_submitted, jobs_completed, jobs_rejected;
	unsigned specs_cached; /* IR modules held in memory */
	unsigned compiles_in_flight;
	unsigned train_queued, train_running;
	uint64_t train_done, train_cancelled, train_failed, train_rejected;
} dm_metrics_gauges;

typedef struct dm_metrics dm_metrics;

/* Metrics for nroutes routes named by route_names (not copied: static
 * strings).  Returns NULL on out-of-memory. */
dm_metrics *dm_metrics_new(const char *const *route_names, int nroutes);
void dm_metrics_free(dm_metrics *m);

/* Records one answered request: its route index (0 <= route < nroutes),
 * HTTP status and time from arrival to reply, in seconds. */
void dm_metrics_request(dm_metrics *m, int route, int status, double seconds);

/* Adds one to counter c. */
void dm_metrics_count(dm_metrics *m, dm_counter c);

/* Returns counter c's value. */
uint64_t dm_metrics_get(const dm_metrics *m, dm_counter c);

/* Appends the whole exposition to out.  Returns 0, or -1 on out-of-memory. */
int dm_metrics_render(const dm_metrics *m, const dm_metrics_gauges *g, struct evbuffer *out);

#endif
