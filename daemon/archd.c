/*
 * archd.c — the daemon's main(): settings, logging, signals, the loop.
 *
 * Exit status: 0 after a clean stop (SIGTERM, SIGINT) or --help/--version,
 * 2 for a bad command line or config file, 1 when the server cannot start.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/settings.h"

#ifndef ARCHD_VERSION
#define ARCHD_VERSION "unknown"
#endif

typedef struct app {
	dm_args args;
	dm_server *srv;
} app;

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	app *a = arg;
	dm_log(DM_LOG_INFO, "%s received", sig == SIGINT ? "SIGINT" : "SIGTERM");
	dm_server_shutdown(a->srv);
}

/* SIGHUP: the config file and the flags again, over fresh defaults; a bad
 * file keeps the running settings. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	app *a = arg;
	dm_settings s;
	char err[1024];
	if (dm_settings_build(&s, &a->args, err, sizeof err) != 0) {
		dm_log(DM_LOG_ERROR, "SIGHUP: %s; keeping the running settings", err);
		return;
	}
	if (dm_log_open(s.log_file, err, sizeof err) != 0)
		dm_log(DM_LOG_ERROR, "SIGHUP: %s", err);
	dm_server_reload(a->srv, &s);
}

int main(int argc, char **argv)
{
	app a;
	char err[1024];
	memset(&a, 0, sizeof a);
	if (dm_args_parse(&a.args, argc, argv, err, sizeof err) != 0) {
		fprintf(stderr, "archd: %s\n", err);
		return 2;
	}
	if (a.args.help) {
		fputs(dm_settings_usage, stdout);
		return 0;
	}
	if (a.args.version) {
		printf("archd (archd) %s\n", ARCHD_VERSION);
		return 0;
	}
	dm_settings s;
	if (dm_settings_build(&s, &a.args, err, sizeof err) != 0) {
		fprintf(stderr, "archd: %s\n", err);
		return 2;
	}
	if (dm_log_open(s.log_file, err, sizeof err) != 0) {
		fprintf(stderr, "archd: %s\n", err);
		dm_settings_free(&s);
		return 2;
	}
	dm_log_set_level(s.log_level);
	/* A client that goes away mid-reply must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	/* Workers never touch libevent (they wake the loop through a pipe),
	 * so the loop needs no locking. */
	/* epoll's changelist: evhttp turns a connection's read and write
	 * interest off and on around every reply, and the changes one loop
	 * turn makes reach the kernel as one epoll_ctl instead of several
	 * (no descriptor here is dup()ed, which the changelist cannot follow). */
	struct event_config *cfg = event_config_new();
	struct event_base *base = NULL;
	if (cfg != NULL) {
		event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	if (base == NULL && (base = event_base_new()) == NULL) {
		dm_log(DM_LOG_ERROR, "cannot create the event loop");
		dm_settings_free(&s);
		return 1;
	}
	a.srv = dm_server_new(base, &s, err, sizeof err);
	if (a.srv == NULL) {
		dm_log(DM_LOG_ERROR, "%s", err);
		event_base_free(base);
		return 1;
	}
	struct event *sigs[3] = {
		evsignal_new(base, SIGTERM, on_stop, &a),
		evsignal_new(base, SIGINT, on_stop, &a),
		evsignal_new(base, SIGHUP, on_hup, &a),
	};
	int rc = 0;
	for (int i = 0; i < 3; i++) {
		if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0) {
			dm_log(DM_LOG_ERROR, "cannot watch signals");
			rc = 1;
		}
	}
	if (rc == 0) {
		dm_log(DM_LOG_INFO, "archd %s ready", ARCHD_VERSION);
		if (event_base_dispatch(base) < 0) {
			dm_log(DM_LOG_ERROR, "the event loop failed");
			rc = 1;
		}
	}
	dm_server_free(a.srv);
	for (int i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	event_base_free(base);
	if (rc == 0)
		dm_log(DM_LOG_INFO, "stopped");
	return rc;
}
