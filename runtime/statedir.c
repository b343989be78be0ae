/*
 * statedir.c — the state dir's layout, directory creation and atomic writes.
 */
#include "runtime/statedir.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler/ir.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* snprintf into buf; 0, or -1 when it did not fit. */
static int fmt_path(char *buf, size_t buflen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fmt_path(char *buf, size_t buflen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, buflen, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

int rt_state_root(const char *override, char *buf, size_t buflen, char *err,
		  size_t errlen)
{
	int rc;
	if (override && *override) {
		rc = fmt_path(buf, buflen, "%s", override);
	} else if (geteuid() == 0) {
		rc = fmt_path(buf, buflen, "/var/lib/archd");
	} else {
		const char *xdg = getenv("XDG_STATE_HOME");
		const char *home = getenv("HOME");
		if (xdg && xdg[0] == '/') {
			rc = fmt_path(buf, buflen, "%s/archd", xdg);
		} else if (home && *home) {
			rc = fmt_path(buf, buflen, "%s/.local/state/archd", home);
		} else {
			seterr(err, errlen,
			       "no state directory: neither $XDG_STATE_HOME nor $HOME is set "
			       "(pass a state directory explicitly)");
			return -1;
		}
	}
	if (rc != 0 || strlen(buf) >= RT_STATE_ROOT_MAX) {
		seterr(err, errlen, "state directory path too long");
		return -1;
	}
	return 0;
}

void rt_state_hex(const uint8_t bytes[16], char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 15];
	}
	hex[32] = '\0';
}

int rt_state_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > RT_STATE_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
			 c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

int rt_state_ir_path(const char *root, const uint8_t id[16], char *buf, size_t buflen)
{
	char hex[33];
	rt_state_hex(id, hex);
	return fmt_path(buf, buflen, "%s/ir/%s.air", root, hex);
}

int rt_state_supernet_dir(const char *root, const uint8_t key[16], char *buf,
			  size_t buflen)
{
	char hex[33];
	rt_state_hex(key, hex);
	return fmt_path(buf, buflen, "%s/supernets/%s", root, hex);
}

static int supernet_file(const char *root, const uint8_t key[16], const char *name,
			 char *buf, size_t buflen)
{
	char hex[33];
	rt_state_hex(key, hex);
	return fmt_path(buf, buflen, "%s/supernets/%s/%s", root, hex, name);
}

int rt_state_checkpoint_path(const char *root, const uint8_t key[16], char *buf,
			     size_t buflen)
{
	return supernet_file(root, key, "checkpoint", buf, buflen);
}

/* name, or name-calib<calib> for a sample size other than the default */
static int measured_file(const char *root, const uint8_t key[16], const char *name, int calib,
			 char *buf, size_t buflen)
{
	if (calib <= 0 || calib == IR_CALIB_DEFAULT)
		return supernet_file(root, key, name, buf, buflen);
	char file[64];
	snprintf(file, sizeof file, "%s-calib%d", name, calib);
	return supernet_file(root, key, file, buf, buflen);
}

int rt_state_archive_path(const char *root, const uint8_t key[16], int calib, char *buf,
			  size_t buflen)
{
	return measured_file(root, key, "archive", calib, buf, buflen);
}

int rt_state_predictor_path(const char *root, const uint8_t key[16], int calib, char *buf,
			    size_t buflen)
{
	return measured_file(root, key, "predictor", calib, buf, buflen);
}

int rt_state_subnet_path(const char *root, const uint8_t key[16], const char *id,
			 char *buf, size_t buflen)
{
	if (!rt_state_name_ok(id))
		return -1;
	char hex[33];
	rt_state_hex(key, hex);
	return fmt_path(buf, buflen, "%s/supernets/%s/subnets/%s", root, hex, id);
}

int rt_state_lut_path(const char *root, const char *cpu, const char *version,
		      char *buf, size_t buflen)
{
	if (!rt_state_name_ok(cpu) || !rt_state_name_ok(version))
		return -1;
	return fmt_path(buf, buflen, "%s/lut/%s-%s", root, cpu, version);
}

/* --- directories ---------------------------------------------------------- */

static mode_t dir_mode(void)
{
	return geteuid() == 0 ? 0750 : 0700;
}

int rt_state_mkdirs(const char *dir, char *err, size_t errlen)
{
	size_t n = strlen(dir);
	if (n == 0 || n >= RT_STATE_PATH_MAX) {
		seterr(err, errlen, "%s: bad directory path", n ? "(too long)" : "(empty)");
		return -1;
	}
	char p[RT_STATE_PATH_MAX];
	memcpy(p, dir, n + 1);
	/* Each prefix ending before a '/', then the whole path. */
	for (size_t i = 1; i <= n; i++) {
		if (i < n && p[i] != '/')
			continue;
		p[i] = '\0';
		if (mkdir(p, dir_mode()) != 0 && errno != EEXIST) {
			seterr(err, errlen, "%s: cannot create directory: %s", p, strerror(errno));
			return -1;
		}
		if (i < n)
			p[i] = '/';
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	return 0;
}

int rt_state_mkparents(const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	size_t n = (size_t)(slash - path);
	if (n >= RT_STATE_PATH_MAX) {
		seterr(err, errlen, "%s: path too long", path);
		return -1;
	}
	char dir[RT_STATE_PATH_MAX];
	memcpy(dir, path, n);
	dir[n] = '\0';
	return rt_state_mkdirs(dir, err, errlen);
}

FILE *rt_state_fopen(const char *path, const char **why)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	FILE *f = NULL;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			errno = EISDIR;
		else if (!S_ISREG(st.st_mode))
			errno = EINVAL;
		else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0)
			f = fdopen(fd, "rb");
	}
	if (f)
		return f;
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	*why = e == EINVAL ? "not a regular file (a FIFO, device or socket)" : strerror(e);
	return NULL;
}

/* --- locks --------------------------------------------------------------------- */

int rt_state_lock(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot take the lock: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: cannot take the lock: not a regular file", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char text[32] = "";
		ssize_t n = pread(fd, text, sizeof text - 1, 0);
		long pid = n > 0 ? strtol(text, NULL, 10) : 0;
		/* a pid left by a holder killed before, not the holder now */
		if (pid > 0 && (pid_t)pid == pid && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			pid = 0;
		if (e == EWOULDBLOCK && pid > 0)
			snprintf(err, errlen, "%s: in use by process %ld", path, pid);
		else if (e == EWOULDBLOCK)
			snprintf(err, errlen, "%s: in use by another process", path);
		else
			snprintf(err, errlen, "%s: cannot take the lock: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	/* only for the message: a failure here does not matter */
	if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n)
		errno = 0;
	return fd;
}

void rt_state_unlock(int fd)
{
	if (fd < 0)
		return;
	/* no pid left behind for the next holder's rival to name */
	if (ftruncate(fd, 0) != 0)
		errno = 0;
	close(fd);
}

/* The directory of the file `path` into dir: "." or "/" at the top; -1
 * with errno ENAMETOOLONG when it does not fit. */
static int parent_dir(const char *path, char dir[RT_STATE_PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= RT_STATE_PATH_MAX) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	return 0;
}

/* --- a supernet trained afresh ---------------------------------------------------- */

/* Removes dir/name when it is there; 1 when removed, 0 when absent, -1
 * (named in note) when it could not be. */
static int forget_file(const char *dir, const char *name, char *note, size_t notelen)
{
	char path[RT_STATE_PATH_MAX];
	if (fmt_path(path, sizeof path, "%s/%s", dir, name) != 0)
		return 0;
	if (unlink(path) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	if (note[0] == '\0')
		snprintf(note, notelen, "%s: not removed: %s", path, strerror(errno));
	return -1;
}

static int forget_records(const char *dir, const char *sub, char *note, size_t notelen)
{
	char path[RT_STATE_PATH_MAX];
	if (fmt_path(path, sizeof path, "%s/%s", dir, sub) != 0)
		return 0;
	DIR *d = opendir(path);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (!rt_state_name_ok(e->d_name) ||
		    !((len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) ||
		      (len > 6 && strcmp(e->d_name + len - 6, ".model") == 0)))
			continue;
		if (forget_file(path, e->d_name, note, notelen) > 0)
			n++;
	}
	closedir(d);
	rmdir(path); /* only when nothing else is left in it */
	return n;
}

int rt_state_supernet_forget(const char *ckpt_path, char *note, size_t notelen)
{
	note[0] = '\0';
	char dir[RT_STATE_PATH_MAX];
	if (parent_dir(ckpt_path, dir) != 0) {
		snprintf(note, notelen, "%s: path too long", ckpt_path);
		return 0;
	}
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		if (!strcmp(e->d_name, "archive") || !strcmp(e->d_name, "predictor") ||
		    !strncmp(e->d_name, "archive-calib", 13) ||
		    !strncmp(e->d_name, "predictor-calib", 15))
			n += forget_file(dir, e->d_name, note, notelen) > 0;
	if (d != NULL)
		closedir(d);
	n += forget_records(dir, "answers", note, notelen);
	n += forget_records(dir, "subnets", note, notelen);
	return n;
}

/* --- atomic writes ---------------------------------------------------------- */

static int fsync_parent(const char *path)
{
	char dir[RT_STATE_PATH_MAX];
	if (parent_dir(path, dir) != 0)
		return -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static void atomic_release(rt_state_atomic *a)
{
	free(a->path);
	free(a->tmp);
	a->path = a->tmp = NULL;
	a->f = NULL;
}

int rt_state_atomic_open(rt_state_atomic *a, const char *path, int mode, char *err,
			 size_t errlen)
{
	a->f = NULL;
	a->path = strdup(path);
	size_t tlen = strlen(path) + sizeof ".tmp.XXXXXX";
	a->tmp = malloc(tlen);
	if (!a->path || !a->tmp) {
		seterr(err, errlen, "%s: out of memory", path);
		atomic_release(a);
		return -1;
	}
	snprintf(a->tmp, tlen, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(a->tmp);
	if (fd < 0) {
		seterr(err, errlen, "%s: cannot create a temporary file: %s", path,
		       strerror(errno));
		atomic_release(a);
		return -1;
	}
	if (fchmod(fd, (mode_t)mode) != 0 || !(a->f = fdopen(fd, "wb"))) {
		seterr(err, errlen, "%s: cannot open a temporary file: %s", path,
		       strerror(errno));
		close(fd);
		unlink(a->tmp);
		atomic_release(a);
		return -1;
	}
	return 0;
}

int rt_state_atomic_commit(rt_state_atomic *a, char *err, size_t errlen)
{
	assert(a->f);
	const char *step = "cannot write";
	int bad = ferror(a->f) || fflush(a->f) != 0;
	if (!bad) {
		step = "cannot sync";
		bad = fsync(fileno(a->f)) != 0;
	}
	int saved = errno;
	if (fclose(a->f) != 0 && !bad) {
		saved = errno;
		step = "cannot close";
		bad = 1;
	}
	a->f = NULL;
	if (!bad && rename(a->tmp, a->path) != 0) {
		saved = errno;
		step = "cannot rename the temporary file into place";
		bad = 1;
	}
	if (bad) {
		seterr(err, errlen, "%s: %s: %s", a->path, step, strerror(saved));
		unlink(a->tmp);
		atomic_release(a);
		return -1;
	}
	if (fsync_parent(a->path) != 0) {
		seterr(err, errlen, "%s: cannot sync its directory: %s", a->path,
		       strerror(errno));
		atomic_release(a);
		return -1;
	}
	atomic_release(a);
	return 0;
}

void rt_state_atomic_abort(rt_state_atomic *a)
{
	if (a->f) {
		fclose(a->f);
		unlink(a->tmp);
	}
	atomic_release(a);
}

int rt_state_write_file(const char *path, const void *data, size_t len, int mode,
			char *err, size_t errlen)
{
	rt_state_atomic a;
	if (rt_state_atomic_open(&a, path, mode, err, errlen) != 0)
		return -1;
	if (len && fwrite(data, 1, len, a.f) != len) {
		seterr(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		rt_state_atomic_abort(&a);
		return -1;
	}
	return rt_state_atomic_commit(&a, err, errlen);
}
