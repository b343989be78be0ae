/*
 * server.h — archd's HTTP server: listeners, limits, routes, reload and a
 * clean stop.  Prefix: dm_server_.
 *
 * The server runs on one libevent loop (the caller's) and never computes
 * on it: compiles go to the worker pool.  It listens on the Unix socket of
 * the settings (mode 0660) and, when asked, on one loopback TCP address.
 */
#ifndef ARCHD_DAEMON_SERVER_H
#define ARCHD_DAEMON_SERVER_H

#include <stddef.h>

#include "daemon/settings.h"

struct event_base;

typedef struct dm_server dm_server;

/*
 * Opens the state dir, starts the workers and listens.  Takes s (it is
 * zeroed; the server frees it).  Returns the server, or NULL with a message
 * in err naming what failed (a socket path in use, a state dir that cannot
 * be created, ...).
 */
dm_server *dm_server_new(struct event_base *base, dm_settings *s, char *err, size_t errlen);

/*
 * Applies fresh settings (taken, as above) while running: limits, log
 * level, include and stdlib dirs.  The socket, state dir, listen address
 * and thread count only change with a restart; a change to them is logged
 * and otherwise ignored.
 */
void dm_server_reload(dm_server *srv, dm_settings *s);

/*
 * Starts a clean stop: the listeners close (the socket file is removed),
 * requests already received are answered and their replies sent, then the
 * loop exits.  Requests that arrive meanwhile on open connections get 503.
 * A second call stops the loop at once.
 */
void dm_server_shutdown(dm_server *srv);

/* Frees everything; the loop must no longer be running.  NULL is fine. */
void dm_server_free(dm_server *srv);

#endif
