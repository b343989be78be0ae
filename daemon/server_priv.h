/*
 * server_priv.h — what server.c and the route files share.  Not for use
 * outside daemon/server*.c and daemon/routes*.c.
 */
#ifndef ARCHD_DAEMON_SERVER_PRIV_H
#define ARCHD_DAEMON_SERVER_PRIV_H

#include <time.h>

#include "daemon/conn.h"
#include "daemon/jobs.h"
#include "daemon/metrics.h"
#include "daemon/reply.h"
#include "daemon/server.h"
#include "daemon/specs.h"
#include "daemon/subnets.h"
#include "daemon/workers.h"

struct evhttp;
struct evhttp_bound_socket;

/* Routes, as named in the metrics. */
typedef enum dm_route {
	DM_ROUTE_HEALTH,
	DM_ROUTE_METRICS,
	DM_ROUTE_SPECS,
	DM_ROUTE_SPEC,
	DM_ROUTE_TRAIN,
	DM_ROUTE_JOB,
	DM_ROUTE_SUBNETS,
	DM_ROUTE_SUBNET,
	DM_ROUTE_SUBNET_WEIGHTS,
	DM_ROUTE_SUBNET_EXPORT,
	DM_ROUTE_NONE, /* no route matched, or refused before matching */
	DM_ROUTE_COUNT
} dm_route;

extern const char *const dm_route_names[DM_ROUTE_COUNT];

#define DM_SERVER_MAX_LISTENERS 2

struct dm_server {
	struct event_base *base;
	dm_settings settings;
	struct evhttp *http;
	struct evhttp_bound_socket *bound[DM_SERVER_MAX_LISTENERS];
	int nbound;
	int unix_bound; /* bound[0] is the Unix socket (to unlink) */
	dm_conns *conns;
	dm_workers *workers;
	dm_metrics *metrics;
	dm_specs *specs;
	dm_jobs *jobs;
	dm_subnets *subnets;
	unsigned fresh_seen; /* dm_jobs_fresh_runs when the subnets last forgot */
	unsigned inflight; /* calls not yet answered */
	int draining;
	struct event *drain_ev;
	struct timespec started, drain_started;
};

/* Handlers: each answers c (now or from a worker's result). */
void dm_route_health(dm_server *srv, dm_call *c);
void dm_route_metrics(dm_server *srv, dm_call *c);
void dm_route_specs_post(dm_server *srv, dm_call *c);
void dm_route_spec_get(dm_server *srv, dm_call *c, const char *id);
void dm_route_train_post(dm_server *srv, dm_call *c, const char *spec_id, const char *task);
void dm_route_job_get(dm_server *srv, dm_call *c, const char *id);
void dm_route_job_delete(dm_server *srv, dm_call *c, const char *id);

#endif
