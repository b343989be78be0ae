/*
 * daemonbench.c — a closed-loop HTTP/1.1 load generator for archd's Unix
 * socket: N keep-alive connections, each sending the same request again as
 * soon as the previous reply has fully arrived, all driven by one epoll
 * thread (so the client takes as little of the machine as it can: the
 * next request is written straight away, not after epoll says the socket
 * is writable, and a descriptor's interest changes only when a write is
 * cut short).
 *
 *   daemonbench SOCKET METHOD PATH BODYFILE [CLIENTS [SECONDS [WARMUP]]]
 *
 * Latency is from the first byte written to the last byte of the reply
 * read, per request; requests finished during the WARMUP seconds are not
 * counted.  Prints one line of `key=value` pairs: requests, errors (a
 * status other than 200, or a connection closed), req_s, p50_ms, p90_ms,
 * p99_ms, p999_ms, max_ms.  Exits 1 when nothing could be measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 4096
#define BUF 65536

typedef struct client {
	int fd;
	size_t sent;     /* bytes of the request written */
	size_t got;      /* bytes of the reply read */
	size_t need;     /* header + body length once the headers are in; 0 before */
	int status;      /* the reply's, once the headers are in */
	double started;  /* when the request's first byte went out */
	char buf[BUF];
} client;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Writes what is left of the request; when the socket is full, asks
 * epoll to say when it can take more.  -1 when the connection failed. */
static int push(int ep, client *c, uint32_t id, const char *req, size_t rlen)
{
	while (c->sent < rlen) {
		ssize_t w = send(c->fd, req + c->sent, rlen - c->sent, MSG_NOSIGNAL);
		if (w > 0) {
			c->sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = id };
			return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			char *p = realloc(b, cap);
			if (!p) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = p;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return b;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a.sun_path)
		return -1;
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Once the headers are in: the whole reply's length and its status. */
static int parse_head(client *c)
{
	c->buf[c->got < BUF ? c->got : BUF - 1] = '\0';
	char *end = strstr(c->buf, "\r\n\r\n");
	if (!end)
		return 0;
	size_t head = (size_t)(end - c->buf) + 4, body = 0;
	c->status = atoi(c->buf + 9);
	for (char *h = strstr(c->buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			body = strtoul(h + 17, NULL, 10);
	c->need = head + body;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: daemonbench SOCKET METHOD PATH BODYFILE [CLIENTS [SECONDS [WARMUP]]]\n");
		return 2;
	}
	const char *sock = argv[1];
	int nclients = argc > 5 ? atoi(argv[5]) : 64;
	double seconds = argc > 6 ? atof(argv[6]) : 5, warmup = argc > 7 ? atof(argv[7]) : 1;
	if (nclients < 1 || nclients > MAX_CLIENTS || !(seconds > 0) || !(warmup >= 0)) {
		fprintf(stderr, "daemonbench: CLIENTS 1 to %d, SECONDS > 0, WARMUP >= 0\n", MAX_CLIENTS);
		return 2;
	}
	size_t blen;
	char *body = slurp(argv[4], &blen);
	if (!body) {
		fprintf(stderr, "daemonbench: %s: %s\n", argv[4], strerror(errno));
		return 1;
	}
	size_t rlen = strlen(argv[2]) + strlen(argv[3]) + blen + 256;
	char *req = malloc(rlen);
	if (!req) {
		fprintf(stderr, "daemonbench: out of memory\n");
		free(body);
		return 1;
	}
	int hn = snprintf(req, rlen,
			  "%s %s HTTP/1.1\r\nHost: archd\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\n\r\n",
			  argv[2], argv[3], blen);
	memcpy(req + hn, body, blen);
	rlen = (size_t)hn + blen;
	free(body);

	int ep = epoll_create1(0);
	client *cs = calloc((size_t)nclients, sizeof *cs);
	size_t cap = 1 << 20, nlat = 0;
	double *lat = malloc(cap * sizeof *lat);
	if (ep < 0 || !cs || !lat) {
		fprintf(stderr, "daemonbench: out of memory\n");
		free(req);
		free(cs);
		free(lat);
		return 1;
	}
	double t0 = now_s(), tmeasure = t0 + warmup, tend = tmeasure + seconds;
	for (int i = 0; i < nclients; i++) {
		cs[i].fd = connect_unix(sock);
		if (cs[i].fd < 0) {
			fprintf(stderr, "daemonbench: %s: %s\n", sock, strerror(errno));
			free(req);
			return 1;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
		cs[i].started = now_s();
		if (push(ep, &cs[i], (uint32_t)i, req, rlen) != 0) {
			fprintf(stderr, "daemonbench: %s: %s\n", sock, strerror(errno));
			free(req);
			return 1;
		}
	}
	long errors = 0, requests = 0;
	struct epoll_event evs[256];
	while (now_s() < tend) {
		int n = epoll_wait(ep, evs, 256, 100);
		for (int k = 0; k < n; k++) {
			client *c = &cs[evs[k].data.u32];
			if (c->fd < 0)
				continue;
			if (c->sent < rlen && (evs[k].events & EPOLLOUT)) {
				if (push(ep, c, evs[k].data.u32, req, rlen) != 0) {
					errors++;
					close(c->fd);
					c->fd = -1;
					continue;
				}
				if (c->sent == rlen) {
					struct epoll_event ev = { .events = EPOLLIN, .data.u32 = evs[k].data.u32 };
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			for (;;) {
				size_t room = BUF - 1 - c->got;
				ssize_t r = room > 0 ? recv(c->fd, c->buf + c->got, room, 0) : 0;
				if (r <= 0) {
					if (r < 0 && (errno == EAGAIN || errno == EINTR))
						break;
					errors++; /* closed: the daemon dropped us */
					close(c->fd);
					c->fd = -1;
					break;
				}
				c->got += (size_t)r;
				if (c->need == 0 && !parse_head(c))
					continue;
				if (c->need >= BUF) { /* not a cached answer: count it, drop */
					errors++;
					close(c->fd);
					c->fd = -1;
					break;
				}
				if (c->got < c->need)
					continue;
				/* A whole reply: record it, send the next request. */
				double t = now_s();
				if (t >= tmeasure) {
					requests++;
					if (c->status != 200)
						errors++;
					if (nlat == cap) {
						double *p = realloc(lat, 2 * cap * sizeof *lat);
						if (p) {
							lat = p;
							cap *= 2;
						}
					}
					if (nlat < cap)
						lat[nlat++] = t - c->started;
				}
				c->got = c->need = c->sent = 0;
				c->started = t;
				if (push(ep, c, evs[k].data.u32, req, rlen) != 0) {
					errors++;
					close(c->fd);
					c->fd = -1;
				}
				break;
			}
		}
	}
	double elapsed = now_s() - tmeasure;
	if (nlat == 0) {
		fprintf(stderr, "daemonbench: no reply measured (%ld errors)\n", errors);
		return 1;
	}
	qsort(lat, nlat, sizeof *lat, cmp_double);
#define PCT(p) (lat[(size_t)((double)(nlat - 1) * (p))] * 1e3)
	printf("clients=%d seconds=%.2f requests=%ld errors=%ld req_s=%.0f p50_ms=%.3f p90_ms=%.3f "
	       "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
	       nclients, elapsed, requests, errors, (double)requests / elapsed, PCT(0.5), PCT(0.9),
	       PCT(0.99), PCT(0.999), lat[nlat - 1] * 1e3);
	for (int i = 0; i < nclients; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
	free(cs);
	free(lat);
	free(req);
	return errors == requests ? 1 : 0;
}
