/*
 * listen.c — Unix and loopback TCP listening sockets (see listen.h).
 */
#include "daemon/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Pending connections the kernel queues while archd is at its connection
 * cap or busy. */
#define LISTEN_BACKLOG 511

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/*
 * Decides what to do about an existing file at path: 0 when nothing is
 * there or it is a stale socket (removed), -1 with err set otherwise.
 */
static int clear_stale(const char *path, const struct sockaddr_un *addr, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket; not replacing it", path);
		return -1;
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return -1;
	}
	int rc = connect(probe, (const struct sockaddr *)addr, sizeof *addr);
	int saved = errno;
	close(probe);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another daemon is serving on this socket", path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "%s: cannot tell whether the socket is in use: %s", path,
			 strerror(saved));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove the stale socket: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int dm_listen_unix(const char *path, unsigned mode, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof addr.sun_path) {
		snprintf(err, errlen, "%s: a socket path must be 1 to %zu bytes long", path,
			 sizeof addr.sun_path - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (clear_stale(path, &addr, err, errlen) != 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return -1;
	}
	/* Bind under a umask that leaves no window with wider permissions,
	 * then set the exact mode (the umask may be narrower than wanted). */
	mode_t old = umask(0177);
	int rc = bind(fd, (const struct sockaddr *)&addr, sizeof addr);
	int saved = errno;
	umask(old);
	if (rc != 0) {
		snprintf(err, errlen, "%s: bind: %s", path, strerror(saved));
		close(fd);
		return -1;
	}
	if (chmod(path, (mode_t)mode) != 0 || listen(fd, LISTEN_BACKLOG) != 0 || set_flags(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int dm_listen_tcp(const char *host, unsigned port, char *err, size_t errlen)
{
	char service[16];
	snprintf(service, sizeof service, "%u", port);
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	int gai = getaddrinfo(host, service, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "%s:%u: %s", host, port, gai_strerror(gai));
		return -1;
	}
	int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
	if (fd < 0) {
		snprintf(err, errlen, "%s:%u: socket: %s", host, port, strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
	    set_flags(fd) != 0) {
		snprintf(err, errlen, "%s:%u: %s", host, port, strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}
