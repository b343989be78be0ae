/*
 * listen.h — the daemon's listening sockets.  Prefix: dm_listen_.
 *
 * A Unix socket is archd's front door.  Its path may hold a socket left by
 * a daemon that died without removing it; that one is replaced.  A live
 * daemon's socket (something accepts a connection on it) or a file that is
 * not a socket is never touched: starting a second daemon over the first,
 * or over a user's file, is an error that names the path.
 *
 * TCP is only for loopback addresses; the settings refuse anything else
 * before this module is reached.
 */
#ifndef ARCHD_DAEMON_LISTEN_H
#define ARCHD_DAEMON_LISTEN_H

#include <stddef.h>

/*
 * Creates, binds and listens on a Unix stream socket at path with the given
 * permission bits (0660 for archd), replacing a stale socket as described
 * above.  The socket is non-blocking and close-on-exec.  Returns the fd (the
 * caller closes it and unlinks path), or -1 with a message naming the path
 * in err.
 */
int dm_listen_unix(const char *path, unsigned mode, char *err, size_t errlen);

/*
 * Binds and listens on host:port (host numeric, IPv4 or IPv6) with
 * SO_REUSEADDR, non-blocking and close-on-exec.  Returns the fd, or -1
 * with a message naming the address in err.
 */
int dm_listen_tcp(const char *host, unsigned port, char *err, size_t errlen);

#endif
