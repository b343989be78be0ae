/*
 * archc_request.c — `archc request [--socket PATH] FILE.arch --task T
 * (--target NAME | --constraint 'macs<=2M' ...) [--objective NAME]
 * [-o DIR] [--json] [--timeout S]`: asks a running archd for a subnet.
 *
 * The spec is compiled here (imports resolved as for every archc command:
 * -I, $ARCH_PATH, the stdlib), so its diagnostics show with the source
 * lines, and uploaded as .air (POST /v1/specs); then the subnet is asked
 * for (POST /v1/subnets, docs/protocol.md) and printed, and with -o its
 * files are downloaded.  The client is a blocking HTTP/1.1 one, one
 * connection a request ("Connection: close"), over the daemon's Unix
 * socket: small enough to hold here, and nothing in the path has to
 * resolve a host.
 *
 * Exit statuses besides archc's 0, 1 and 2 (archc.h) say what archd
 * answered, for scripts: 3 archd cannot be reached, 4 the task's supernet
 * is not trained (409), 5 no subnet meets the spec (422), 6 any other
 * error from archd.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "compiler/archc.h"
#include "compiler/archc_task.h"
#include "runtime/answer.h"
#include "runtime/statedir.h"

enum { REQ_ECONNECT = 3, REQ_EUNTRAINED = 4, REQ_EINFEASIBLE = 5, REQ_EDAEMON = 6 };

#define MAX_CONSTRAINTS 16
/* A reply larger than this is refused (a model file is a few MB). */
#define MAX_REPLY ((size_t)512 << 20)
#define DEFAULT_TIMEOUT 900

static const char *const me = "archc request";

/* --- a blocking HTTP/1.1 client over a Unix socket --------------------------------- */

typedef struct rq_reply {
	int status;
	char *body; /* NUL-terminated past len */
	size_t len;
} rq_reply;

typedef struct rq_client {
	const char *socket;
	int timeout; /* seconds for a whole request */
} rq_client;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Waits until fd is ready for `events` before the deadline; 0, or -1 with
 * errno ETIMEDOUT. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - now_s();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = { fd, events, 0 };
		int r = poll(&p, 1, left > 1e6 ? 1000000000 : (int)(left * 1000) + 1);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Connects to the socket; the fd, or -1 with a message (REQ_ECONNECT). */
static int rq_connect(const rq_client *c, char *err, size_t errlen)
{
	struct sockaddr_un a;
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	if (strlen(c->socket) >= sizeof a.sun_path) {
		snprintf(err, errlen, "socket path %s: longer than %zu bytes", c->socket,
			 sizeof a.sun_path - 1);
		return -1;
	}
	memcpy(a.sun_path, c->socket, strlen(c->socket) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot connect to archd at %s: %s%s", c->socket, strerror(e),
			 e == ENOENT || e == ECONNREFUSED ?
				 " (is archd running? start it with `archd --socket PATH`, or give "
				 "the socket it listens on with --socket)" :
				 "");
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n, double deadline)
{
	while (n > 0) {
		if (wait_fd(fd, POLLOUT, deadline) != 0)
			return -1;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the peer closes: the whole reply into *buf, *len. */
static int read_all(int fd, char **buf, size_t *len, double deadline, int timeout, char *err,
		    size_t errlen)
{
	size_t cap = 8192, n = 0;
	char *b = malloc(cap + 1);
	if (b == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		if (n == cap) {
			char *p = cap < MAX_REPLY ? realloc(b, 2 * cap + 1) : NULL;
			if (p == NULL) {
				snprintf(err, errlen, "a reply larger than %zu MiB, or out of memory",
					 MAX_REPLY >> 20);
				free(b);
				return -1;
			}
			b = p;
			cap *= 2;
		}
		if (wait_fd(fd, POLLIN, deadline) != 0) {
			if (errno == ETIMEDOUT)
				snprintf(err, errlen, "no complete reply from archd within %d s (--timeout)",
					 timeout);
			else
				snprintf(err, errlen, "waiting for archd's reply: %s", strerror(errno));
			free(b);
			return -1;
		}
		ssize_t r = recv(fd, b + n, cap - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "reading archd's reply: %s", strerror(errno));
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* Splits a raw reply into status and body (Content-Length checked).
 * Returns 0, or -1 with a message. */
static int parse_reply(char *raw, size_t n, rq_reply *out, char *err, size_t errlen)
{
	int status = 0, used = 0;
	if (sscanf(raw, "HTTP/1.%*[01] %3d%n", &status, &used) != 1 || used != 12 || status < 100) {
		snprintf(err, errlen, "archd's reply does not start with an HTTP/1.x status line");
		return -1;
	}
	char *end = strstr(raw, "\r\n\r\n");
	if (end == NULL) {
		snprintf(err, errlen, "archd's reply ends inside its headers");
		return -1;
	}
	*end = '\0';
	char *body = end + 4;
	size_t blen = n - (size_t)(body - raw);
	for (char *h = strstr(raw, "\r\n"); h != NULL; h = strstr(h, "\r\n")) {
		h += 2;
		if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
			snprintf(err, errlen, "archd replied with a transfer encoding, which archc request does not read");
			return -1;
		}
		if (strncasecmp(h, "Content-Length:", 15) == 0) {
			char *e;
			errno = 0;
			unsigned long long cl = strtoull(h + 15, &e, 10);
			if (errno != 0 || (*e != '\r' && *e != '\0') || cl != blen) {
				snprintf(err, errlen, "archd's reply is cut short (%zu of %s bytes)", blen,
					 h + 15);
				return -1;
			}
		}
	}
	out->status = status;
	out->len = blen;
	out->body = malloc(blen + 1);
	if (out->body == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(out->body, body, blen);
	out->body[blen] = '\0';
	return 0;
}

/*
 * One request: METHOD path with the body (may be NULL).  Returns 0 with
 * *out filled (any HTTP status), or REQ_ECONNECT when archd cannot be
 * reached, REQ_EDAEMON when the exchange fails, with a message in err.
 */
static int rq_call(const rq_client *c, const char *method, const char *path, const char *ctype,
		   const void *body, size_t blen, rq_reply *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	int fd = rq_connect(c, err, errlen);
	if (fd < 0)
		return REQ_ECONNECT;
	double deadline = now_s() + c->timeout;
	char head[1024];
	int hn = snprintf(head, sizeof head,
			  "%s %s HTTP/1.1\r\nHost: archd\r\nConnection: close\r\n"
			  "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			  method, path, ctype ? ctype : "application/json", body ? blen : 0);
	char *raw = NULL;
	size_t n = 0;
	int rc = REQ_EDAEMON;
	if (hn >= (int)sizeof head) {
		snprintf(err, errlen, "%s: path too long", path);
	} else if (send_all(fd, head, (size_t)hn, deadline) != 0 ||
		   (body && send_all(fd, body, blen, deadline) != 0)) {
		snprintf(err, errlen, "sending %s %s to archd at %s: %s", method, path, c->socket,
			 strerror(errno));
	} else if (read_all(fd, &raw, &n, deadline, c->timeout, err, errlen) == 0) {
		if (n == 0)
			snprintf(err, errlen, "archd at %s closed the connection without a reply to %s %s",
				 c->socket, method, path);
		else if (parse_reply(raw, n, out, err, errlen) == 0)
			rc = 0;
	}
	free(raw);
	close(fd);
	return rc;
}

/* The "message" of archd's JSON error body, else the body itself. */
static const char *error_message(const rq_reply *r, json_t **keep)
{
	*keep = json_loadb(r->body, r->len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_object_get(*keep, "error"), "message"));
	return m ? m : r->body;
}

/* --- the command ------------------------------------------------------------------- */

typedef struct request_args {
	archc_task_args a;
	const char *socket, *target, *objective, *outdir;
	archc_opt_list cons;
	int json;
	int64_t timeout;
} request_args;

/* archd's default socket (docs/archd.8): $XDG_RUNTIME_DIR/archd.sock,
 * /run/archd.sock as root, /tmp/archd-UID.sock without XDG_RUNTIME_DIR. */
static void default_socket(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0)
		snprintf(buf, len, "/run/archd.sock");
	else if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, len, "%s/archd.sock", xdg);
	else
		snprintf(buf, len, "/tmp/archd-%u.sock", (unsigned)geteuid());
}

/* Turns the --constraint values into the request's "constraints" object
 * ({"macs": "<=2M"}), each checked as archd will.  Returns it, or NULL
 * after printing the problem. */
static json_t *constraints_json(const request_args *ra, int *status)
{
	json_t *o = json_object();
	*status = ARCHC_EUSAGE;
	for (int i = 0; o != NULL && i < ra->cons.n; i++) {
		const char *text = ra->cons.v[i];
		char err[512];
		ir_constraint c;
		if (rt_answer_parse_constraint(text, &c, err, sizeof err) != 0) {
			archc_usage_error(&archc_cmd_request, "%s", err);
			goto fail;
		}
		const char *name = ir_metric_names[c.metric];
		const char *p = text;
		while (isspace((unsigned char)*p))
			p++;
		p += strlen(name); /* the metric, as rt_answer_parse_constraint read it */
		while (isspace((unsigned char)*p))
			p++;
		if (json_object_get(o, name) != NULL) {
			archc_usage_error(&archc_cmd_request,
					  "--constraint: %s is bounded twice; archd takes one bound a metric",
					  name);
			goto fail;
		}
		if (json_object_set_new(o, name, json_string(p)) != 0)
			break;
	}
	if (o == NULL || (int)json_object_size(o) != ra->cons.n) {
		fprintf(stderr, "%s: out of memory\n", me);
		*status = ARCHC_EINPUT;
		goto fail;
	}
	*status = 0;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static double num(const json_t *metrics, const char *key)
{
	const json_t *v = json_object_get(metrics, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A count with K/M/G, as the .arch language writes them. */
static void si(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (v >= 1e9)
		snprintf(buf, len, "%.3gG (%.0f)", v / 1e9, v);
	else if (v >= 1e6)
		snprintf(buf, len, "%.3gM (%.0f)", v / 1e6, v);
	else if (v >= 1e3)
		snprintf(buf, len, "%.3gK (%.0f)", v / 1e3, v);
	else
		snprintf(buf, len, "%.0f", v);
}

static void print_accuracy(FILE *f, const char *label, double v)
{
	if (isnan(v))
		fprintf(f, "%-18s -\n", label);
	else
		fprintf(f, "%-18s %.4f (%.2f%%)\n", label, v, 100 * v);
}

/* A string field of o, "-" when it has none. */
static const char *str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v != NULL ? v : "-";
}

/* The subnet as a table: one "name  value" line a row. */
static void print_subnet(FILE *f, const request_args *ra, const json_t *s)
{
	const json_t *m = json_object_get(s, "metrics");
	char b[64];
	fprintf(f, "%-18s %s\n", "spec", str(s, "spec"));
	fprintf(f, "%-18s %s\n", "task", str(s, "task"));
	if (ra->target) {
		fprintf(f, "%-18s %s\n", "target", ra->target);
	} else {
		fprintf(f, "%-18s", "constraints");
		for (int i = 0; i < ra->cons.n; i++)
			fprintf(f, " %s", ra->cons.v[i]);
		fprintf(f, "\n");
	}
	fprintf(f, "%-18s %s\n", "subnet", str(s, "id"));
	fprintf(f, "%-18s %s\n", "genes", str(s, "genes"));
	fprintf(f, "%-18s %s\n", "source", str(s, "source"));
	print_accuracy(f, "holdout accuracy", num(m, "accuracy"));
	print_accuracy(f, "test accuracy", num(m, "test_accuracy"));
	print_accuracy(f, "predicted accuracy", num(m, "predicted_accuracy"));
	si(num(m, "macs"), b, sizeof b);
	fprintf(f, "%-18s %s\n", "macs", b);
	si(num(m, "params"), b, sizeof b);
	fprintf(f, "%-18s %s\n", "params", b);
	double mem = num(m, "memory");
	if (isnan(mem))
		fprintf(f, "%-18s -\n", "memory");
	else
		fprintf(f, "%-18s %.0f B (%.1f KiB)\n", "memory", mem, mem / 1024);
	double lat = num(m, "latency");
	if (isnan(lat))
		fprintf(f, "%-18s -\n", "latency");
	else
		fprintf(f, "%-18s %.4f ms\n", "latency", lat * 1e3);
}

/* Writes data to DIR/name atomically and says so.  0, or ARCHC_EINPUT. */
static int write_out(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096], err[512];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
		fprintf(stderr, "%s: %s/%s: path too long\n", me, dir, name);
		return ARCHC_EINPUT;
	}
	/* the rename would replace a FIFO or device there with a file */
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: -o %s: %s is not a regular file; not replaced\n", me, dir, path);
		return ARCHC_EINPUT;
	}
	if (rt_state_write_file(path, data, len, 0644, err, sizeof err) != 0) {
		fprintf(stderr, "%s: %s\n", me, err);
		return ARCHC_EINPUT;
	}
	printf("wrote %s (%zu bytes)\n", path, len);
	return 0;
}

/* GET link into *r; a status other than 200 and `optional` (or an
 * exchange that fails) is reported.  Returns 0 with *r filled, 1 when
 * archd does not serve it (optional), or an exit status. */
static int fetch(const rq_client *c, const char *what, const char *link, int optional,
		 rq_reply *r)
{
	char err[1024];
	int rc = rq_call(c, "GET", link, NULL, NULL, 0, r, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", me, what, err);
		return rc;
	}
	if (r->status == 200)
		return 0;
	json_t *keep;
	const char *msg = error_message(r, &keep);
	if (optional && r->status == 501) {
		printf("%s: not served by this archd (%s)\n", what, msg);
		rc = 1;
	} else {
		fprintf(stderr, "%s: GET %s: archd answered %d: %s\n", me, link, r->status, msg);
		rc = REQ_EDAEMON;
	}
	json_decref(keep);
	free(r->body);
	r->body = NULL;
	return rc;
}

/* -o DIR, made and checked before archd is asked (an answer may take
 * minutes): a directory, the fixed outputs in it regular files or none,
 * none of them the input.  0 or an exit status. */
static int check_outdir(const request_args *ra)
{
	char err[512], path[4096];
	if (rt_state_mkdirs(ra->outdir, err, sizeof err) != 0) {
		fprintf(stderr, "%s: -o %s: %s\n", me, ra->outdir, err);
		return ARCHC_EINPUT;
	}
	static const char *const names[] = { "subnet.json", "subnet.model", "subnet.onnx" };
	const char *inputs[] = { ra->a.input };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (snprintf(path, sizeof path, "%s/%s", ra->outdir, names[i]) >= (int)sizeof path) {
			fprintf(stderr, "%s: -o %s: path too long\n", me, ra->outdir);
			return ARCHC_EINPUT;
		}
		int st = archc_output_check(&archc_cmd_request, "-o", path, inputs, 1);
		if (st != ARCHC_OK)
			return st;
	}
	return 0;
}

/* With -o DIR: the answer, its model file, ONNX and C (where served). */
static int download(const rq_client *c, const char *dir, const json_t *s, const char *answer)
{
	const json_t *links = json_object_get(s, "links");
	const char *weights = json_string_value(json_object_get(links, "weights"));
	const char *onnx = json_string_value(json_object_get(links, "onnx"));
	const char *csrc = json_string_value(json_object_get(links, "c"));
	if (weights == NULL) {
		fprintf(stderr, "%s: archd's answer has no weights link\n", me);
		return REQ_EDAEMON;
	}
	int st = write_out(dir, "subnet.json", answer, strlen(answer));
	rq_reply r;
	if (st == 0 && (st = fetch(c, "weights", weights, 0, &r)) == 0) {
		st = write_out(dir, "subnet.model", r.body, r.len);
		free(r.body);
	}
	if (st == 0 && onnx != NULL) {
		st = fetch(c, "ONNX", onnx, 1, &r);
		if (st == 0) {
			st = write_out(dir, "subnet.onnx", r.body, r.len);
			free(r.body);
		} else if (st == 1) {
			st = 0;
		}
	}
	if (st == 0 && csrc != NULL) {
		st = fetch(c, "C", csrc, 1, &r);
		if (st == 0) {
			json_t *j = json_loadb(r.body, r.len, 0, NULL);
			const char *name = json_string_value(json_object_get(j, "name"));
			const char *hdr = json_string_value(json_object_get(j, "header"));
			const char *src = json_string_value(json_object_get(j, "source"));
			if (name == NULL || hdr == NULL || src == NULL || strchr(name, '/') != NULL ||
			    name[0] == '.' || strlen(name) > 200) {
				fprintf(stderr, "%s: GET %s: not a {name, header, source} object\n", me,
					csrc);
				st = REQ_EDAEMON;
			} else {
				char hn[256], sn[256];
				snprintf(hn, sizeof hn, "%s.h", name);
				snprintf(sn, sizeof sn, "%s.c", name);
				st = write_out(dir, hn, hdr, strlen(hdr));
				if (st == 0)
					st = write_out(dir, sn, src, strlen(src));
			}
			json_decref(j);
			free(r.body);
		} else if (st == 1) {
			st = 0;
		}
	}
	return st;
}

/* Uploads the module as .air; its id into id.  0 or an exit status. */
static int upload(const rq_client *c, const request_args *ra, const ir_module *m, char *id,
		  size_t idlen)
{
	uint8_t *air = NULL;
	size_t len = 0;
	if (ir_binary_write(m, &air, &len) != 0) {
		fprintf(stderr, "%s: %s: out of memory encoding the spec\n", me, ra->a.input);
		return ARCHC_EINPUT;
	}
	char err[1024];
	rq_reply r;
	int rc = rq_call(c, "POST", "/v1/specs", "application/octet-stream", air, len, &r, err,
			 sizeof err);
	free(air);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", me, err);
		return rc;
	}
	json_t *j = json_loadb(r.body, r.len, 0, NULL);
	const char *sid = json_string_value(json_object_get(j, "id"));
	if ((r.status == 200 || r.status == 201) && sid != NULL) {
		snprintf(id, idlen, "%s", sid);
	} else {
		json_t *keep;
		fprintf(stderr, "%s: uploading %s: archd answered %d: %s\n", me, ra->a.input,
			r.status, error_message(&r, &keep));
		json_decref(keep);
		rc = REQ_EDAEMON;
	}
	json_decref(j);
	free(r.body);
	return rc;
}

/* Asks for the subnet and prints it; the answer's JSON text into *answer
 * on success.  Returns 0 or an exit status. */
static int ask(const rq_client *c, const request_args *ra, const ir_module *m, int t,
	       const char *spec, json_t *cons, json_t **subnet, char **answer)
{
	json_t *body = json_pack("{s:s,s:s}", "spec", spec, "task", m->tasks[t].name);
	int bad = body == NULL;
	if (!bad && ra->target)
		bad = json_object_set_new(body, "target", json_string(ra->target)) != 0;
	if (!bad && cons != NULL)
		bad = json_object_set(body, "constraints", cons) != 0;
	if (!bad && ra->objective)
		bad = json_object_set_new(body, "objective", json_string(ra->objective)) != 0;
	char *text = !bad ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		fprintf(stderr, "%s: out of memory\n", me);
		return ARCHC_EINPUT;
	}
	char err[1024];
	rq_reply r;
	int rc = rq_call(c, "POST", "/v1/subnets", NULL, text, strlen(text), &r, err, sizeof err);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", me, err);
		return rc;
	}
	json_t *keep;
	const char *msg = error_message(&r, &keep);
	if (r.status == 200 && json_is_object(keep)) {
		*subnet = keep;
		*answer = r.body;
		return 0;
	}
	if (r.status == 409) {
		fprintf(stderr, "%s: %s\n", me, msg);
		fprintf(stderr, "  or train it with archc: archc train %s --task %s --state STATE_DIR_OF_ARCHD\n",
			ra->a.input, m->tasks[t].name);
		rc = REQ_EUNTRAINED;
	} else if (r.status == 422 && json_is_object(json_object_get(keep, "nearest"))) {
		fprintf(stderr, "%s: %s\nnearest subnet:\n", me, msg);
		print_subnet(stderr, ra, json_object_get(keep, "nearest"));
		rc = REQ_EINFEASIBLE;
	} else {
		fprintf(stderr, "%s: archd answered %d: %s\n", me, r.status, msg);
		rc = REQ_EDAEMON;
	}
	json_decref(keep);
	free(r.body);
	return rc;
}

static int run(const request_args *ra, const ir_module *m, int t)
{
	char sock[4096];
	if (ra->socket)
		snprintf(sock, sizeof sock, "%s", ra->socket);
	else
		default_socket(sock, sizeof sock);
	rq_client c = { sock, (int)ra->timeout };
	if (ra->target && ir_module_find_target(m, ra->target) < 0) {
		fprintf(stderr, "%s: %s has no target '%s'\n", me, ra->a.input, ra->target);
		return ARCHC_EINPUT;
	}
	if (ra->objective && ir_module_find_objective(m, ra->objective) < 0) {
		fprintf(stderr, "%s: %s has no objective '%s'\n", me, ra->a.input, ra->objective);
		return ARCHC_EINPUT;
	}
	int st = 0;
	json_t *cons = ra->cons.n ? constraints_json(ra, &st) : NULL;
	if (st)
		return st;
	char spec[64];
	json_t *subnet = NULL;
	char *answer = NULL;
	if (ra->outdir && (st = check_outdir(ra)) != 0) {
		json_decref(cons);
		return st;
	}
	st = upload(&c, ra, m, spec, sizeof spec);
	if (st == 0)
		st = ask(&c, ra, m, t, spec, cons, &subnet, &answer);
	if (st == 0) {
		if (ra->json)
			printf("%s\n", answer);
		else
			print_subnet(stdout, ra, subnet);
		if (ra->outdir)
			st = download(&c, ra->outdir, subnet, answer);
	}
	json_decref(cons);
	json_decref(subnet);
	free(answer);
	return st;
}

static int archc_request_run(int argc, char **argv)
{
	request_args ra;
	memset(&ra, 0, sizeof ra);
	ra.timeout = DEFAULT_TIMEOUT;
	const archc_opt opts[] = {
		{ "--socket", ARCHC_OPT_STRING, &ra.socket, 0, 0 },
		{ "--target", ARCHC_OPT_STRING, &ra.target, 0, 0 },
		{ "--constraint", ARCHC_OPT_LIST, &ra.cons, 0, MAX_CONSTRAINTS },
		{ "--objective", ARCHC_OPT_STRING, &ra.objective, 0, 0 },
		{ "-o", ARCHC_OPT_STRING, &ra.outdir, 0, 0 },
		{ "--json", ARCHC_OPT_FLAG, &ra.json, 0, 0 },
		{ "--timeout", ARCHC_OPT_INT, &ra.timeout, 1, 86400 },
	};
	int nopts = (int)(sizeof opts / sizeof opts[0]);
	int st = archc_task_parse_opts(&archc_cmd_request, argc, argv, opts, nopts, &ra.a);
	if (!st && !ra.target == !ra.cons.n)
		st = archc_usage_error(&archc_cmd_request,
				       "give one of --target NAME and --constraint 'METRIC<=VALUE'");
	if (!st) {
		int t;
		ir_module *m = archc_task_load(&archc_cmd_request, &ra.a, &t, &st);
		if (m)
			st = run(&ra, m, t);
		ir_module_free(m);
	}
	archc_opt_free(opts, nopts);
	archc_task_args_free(&ra.a);
	return st;
}

const archc_cmd archc_cmd_request = {
	"request",
	"ask a running archd for the subnet that answers a deployment spec",
	"usage: archc request [--socket PATH] [-I DIR]... FILE.arch [--task T]\n"
	"                     (--target NAME | --constraint 'METRIC OP VALUE'...)\n"
	"                     [--objective NAME] [-o DIR] [--json] [--timeout S]\n"
	"\n"
	"Compiles FILE (imports resolved here: -I, $ARCH_PATH, the stdlib), uploads\n"
	"it to archd (POST /v1/specs) and asks for the subnet of task T that\n"
	"answers the spec (POST /v1/subnets): a target of FILE (--target), or\n"
	"constraints such as 'macs<=2M', 'latency<1.5ms', 'accuracy>=90%' (one\n"
	"bound a metric), ranked by --objective, else the task's objective.\n"
	"Prints the target or constraints, the subnet's id and gene string, its\n"
	"holdout, test and predicted accuracy, MACs, params, peak memory and\n"
	"latency on archd's host; --json prints archd's answer as it came.\n"
	"With -o DIR (created when missing) writes the answer (subnet.json), the\n"
	"native model file (subnet.model), the ONNX model (subnet.onnx) and the\n"
	"standalone C (NAME.c, NAME.h) where archd serves them.\n"
	"\n"
	"--socket is archd's socket: default $XDG_RUNTIME_DIR/archd.sock\n"
	"(/run/archd.sock as root, /tmp/archd-UID.sock without XDG_RUNTIME_DIR),\n"
	"as archd's own default.  --timeout bounds each exchange with archd in\n"
	"seconds (default 900: a task's first request waits while archd builds\n"
	"its archive).\n"
	"\n"
	"Exit status: 0 answered; 1 errors in FILE or writing DIR; 2 usage;\n"
	"3 archd cannot be reached on the socket; 4 the task's supernet is not\n"
	"trained (409); 5 no subnet meets the spec (422; the nearest is printed);\n"
	"6 any other error from archd.\n",
	archc_request_run,
};
