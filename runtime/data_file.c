/* data_file.c — reading data files, gzip or plain, through zlib. */
#include "runtime/data_raw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A decompressed file larger than this is refused rather than exhausting
 * memory (a gzip bomb, or a path that names the wrong thing). */
#define SLURP_MAX ((size_t)8 << 30)

void rt_data_raw_free(rt_data_raw *r)
{
	free(r->x);
	free(r->y);
	memset(r, 0, sizeof *r);
}

static void errno_message(const char *path, const char *what, int e, char *err,
			  size_t errlen)
{
	char msg[128];
	if (strerror_r(e, msg, sizeof msg) != 0)
		snprintf(msg, sizeof msg, "error %d", e);
	snprintf(err, errlen, "%s: %s%s", path, what, msg);
}

gzFile rt_data_gzopen(const char *path, size_t *size, char *err, size_t errlen)
{
	/* open() first: gzopen() does not promise a meaningful errno. */
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		errno_message(path, "cannot open: ", errno, err, errlen);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		errno_message(path, "cannot stat: ", errno, err, errlen);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		snprintf(err, errlen, "%s: out of memory opening the file", path);
		close(fd);
		return NULL;
	}
	gzbuffer(gz, 1u << 18);
	*size = (size_t)st.st_size;
	return gz;
}

/* zlib's message without the "<fd:3>: " that gzdopen() puts before it. */
static const char *gz_message(gzFile gz, int *errnum)
{
	const char *m = gzerror(gz, errnum);
	if (strncmp(m, "<fd:", 4) == 0) {
		const char *colon = strstr(m, ": ");
		if (colon)
			m = colon + 2;
	}
	return m;
}

long rt_data_gzread(gzFile gz, const char *path, void *buf, size_t len, char *err,
		    size_t errlen)
{
	size_t n = 0;
	while (n < len) {
		size_t want = len - n < (1u << 30) ? len - n : (1u << 30);
		int got = gzread(gz, (unsigned char *)buf + n, (unsigned)want);
		if (got < 0) {
			int errnum;
			const char *m = gz_message(gz, &errnum);
			if (errnum == Z_ERRNO)
				errno_message(path, "read error: ", errno, err, errlen);
			else
				snprintf(err, errlen, "%s: corrupt gzip data (%s)", path, m);
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n < len) {
		/* A gzip stream cut short reads as end of file with this set. */
		int errnum;
		const char *m = gz_message(gz, &errnum);
		if (errnum != Z_OK) {
			snprintf(err, errlen, "%s: truncated or corrupt gzip data (%s)", path,
				 m);
			return -1;
		}
	}
	return (long)n;
}

int rt_data_slurp(const char *path, unsigned char **buf, size_t *len, char *err,
		  size_t errlen)
{
	*buf = NULL;
	*len = 0;
	size_t size;
	gzFile gz = rt_data_gzopen(path, &size, err, errlen);
	if (!gz)
		return -1;
	/* Plain files are read in one go; gzip data usually inflates 2-6x. */
	size_t cap = size * 4 + 4096;
	if (cap > SLURP_MAX)
		cap = SLURP_MAX;
	unsigned char *b = malloc(cap + 1);
	size_t n = 0;
	int rc = -1;
	if (!b) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= SLURP_MAX) {
				snprintf(err, errlen, "%s: larger than %zu bytes", path,
					 SLURP_MAX);
				goto out;
			}
			size_t ncap = cap * 2 > SLURP_MAX ? SLURP_MAX : cap * 2;
			unsigned char *nb = realloc(b, ncap + 1);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			b = nb;
			cap = ncap;
		}
		long got = rt_data_gzread(gz, path, b + n, cap - n, err, errlen);
		if (got < 0)
			goto out;
		n += (size_t)got;
		if (n < cap)
			break;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	free(b);
	gzclose(gz);
	return rc;
}

const char *rt_data_label_problem(const ir_dataset *d, long label)
{
	if (label < 0)
		return "is negative";
	if (!d->classes && label >= d->nclasses)
		return "is out of range";
	if (label > 0x7fffffffL)
		return "is too large";
	return NULL;
}
