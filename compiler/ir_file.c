/*
 * ir_file.c — `.air` files on disk: an atomic save (temp file in the same
 * directory, fsync, rename, fsync of the directory, so a crash leaves the
 * old file or the new one, never half of one) and a checked load.
 */
#include "compiler/ir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger than any module the compiler can produce; a cap on what we read. */
#define IR_FILE_MAX ((size_t)1 << 30)

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The directory part of path ("." when there is none); caller frees. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int fsync_dir(const char *path)
{
	char *dir = dir_of(path);
	if (!dir)
		return -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	free(dir);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * ir_binary_save — writes m to path atomically.  Returns 0, or -1 with
 * "PATH: reason" in err; on failure the previous file (if any) is intact
 * and no temp file is left behind.
 */
int ir_binary_save(const ir_module *m, const char *path, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	if (ir_binary_write(m, &buf, &len) != 0) {
		snprintf(err, errlen, "%s: out of memory encoding the module", path);
		return -1;
	}
	size_t tlen = strlen(path) + sizeof ".tmp.XXXXXX";
	char *tmp = malloc(tlen);
	if (!tmp) {
		free(buf);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
	const char *step = "cannot create a temporary file";
	int fd = mkstemp(tmp);
	if (fd < 0)
		goto fail_nofile;
	/* mkstemp makes the file 0600; an .air file is not a secret. */
	step = "cannot write";
	if (fchmod(fd, 0644) != 0 || write_all(fd, buf, len) != 0)
		goto fail;
	step = "cannot sync";
	if (fsync(fd) != 0)
		goto fail;
	step = "cannot close";
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "cannot rename the temporary file into place";
	if (rename(tmp, path) != 0)
		goto fail;
	free(tmp);
	free(buf);
	if (fsync_dir(path) != 0) {
		snprintf(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno));
		return -1;
	}
	return 0;

fail: {
	int saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
}
fail_nofile:
	snprintf(err, errlen, "%s: %s: %s", path, step, strerror(errno));
	free(tmp);
	free(buf);
	return -1;
}

/*
 * ir_binary_load — reads and checks the .air file at path.  Returns a new
 * module, or NULL with "PATH: reason" in err.
 */
ir_module *ir_binary_load(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((uintmax_t)st.st_size > IR_FILE_MAX) {
		snprintf(err, errlen, "%s: too large for an .air file (%jd bytes)", path,
		         (intmax_t)st.st_size);
		close(fd);
		return NULL;
	}
	size_t want = (size_t)st.st_size;
	uint8_t *buf = malloc(want ? want : 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break; /* shrank under us: the reader reports it as truncated */
		got += (size_t)n;
	}
	close(fd);
	char why[256];
	ir_module *m = ir_binary_read(buf, got, why, sizeof why);
	free(buf);
	if (!m)
		snprintf(err, errlen, "%s: %s", path, why);
	return m;
}
