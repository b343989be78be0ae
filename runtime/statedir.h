/*
 * statedir.h — where archd and `archc train` keep what they compute, and how
 * they write it.  Prefix: rt_state_.
 *
 * The state dir (rt_state_root) holds, below its root:
 *
 *   ir/<id>.air                        content-addressed IRs, <id> the 32 hex
 *                                      digits of ir_module_id
 *   supernets/<key>/checkpoint         a task's trained (or training) supernet,
 *                                      <key> the 32 hex digits of its
 *                                      supernet key (ir_task.supernet_key)
 *   supernets/<key>/archive            its Pareto archive, measured after
 *                                      recalibrating batch norm on the
 *                                      default sample (IR_CALIB_DEFAULT
 *                                      images), and its predictor
 *   supernets/<key>/predictor
 *   supernets/<key>/archive-calib<n>   the same, measured on another sample
 *   supernets/<key>/predictor-calib<n> size n (the recipe's `calib`, which
 *                                      the supernet key leaves out: one
 *                                      set of weights, measured two ways)
 *   supernets/<key>/subnets/<id>       extracted subnets, <id> chosen by the
 *                                      writer (a safe file name)
 *   lut/<cpu>-<version>                latency lookup tables of this host
 *
 * Directories are created on demand with mode 0700 (0750 when running as
 * root, so a group can read a system daemon's state).  Every file in the
 * state dir is written with rt_state_atomic_*: a temporary file in the same
 * directory, written, fsynced, renamed over the target, then the directory
 * fsynced, so a crash leaves either the old file or the new one, never a
 * mix, and no reader ever sees a half-written file.
 *
 * Path functions write into a caller's buffer and return 0, or -1 when it is
 * too small (RT_STATE_PATH_MAX always suffices for a root shorter than
 * RT_STATE_ROOT_MAX).  Nothing here keeps global state; all functions are
 * thread-safe.
 */
#ifndef ARCHD_RUNTIME_STATEDIR_H
#define ARCHD_RUNTIME_STATEDIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RT_STATE_ROOT_MAX 3072
#define RT_STATE_PATH_MAX 4096
/* Longest cpu or version string of a LUT name, and of a subnet id. */
#define RT_STATE_NAME_MAX 128

/*
 * The root of the state dir: `override` when not NULL or empty, else
 * /var/lib/archd when the effective uid is 0, else $XDG_STATE_HOME/archd
 * when that variable is set to an absolute path, else $HOME/.local/state/archd.
 * Does not create it.  Returns 0, or -1 with a message in err (no $HOME,
 * path too long).
 */
int rt_state_root(const char *override, char *buf, size_t buflen, char *err,
		  size_t errlen);

/* Lowercase hex of 16 bytes into hex (33 bytes, NUL included). */
void rt_state_hex(const uint8_t bytes[16], char hex[33]);

/* <root>/ir/<id-hex>.air */
int rt_state_ir_path(const char *root, const uint8_t id[16], char *buf,
		     size_t buflen);
/* <root>/supernets/<key-hex> */
int rt_state_supernet_dir(const char *root, const uint8_t key[16], char *buf,
			  size_t buflen);
/* <root>/supernets/<key-hex>/checkpoint */
int rt_state_checkpoint_path(const char *root, const uint8_t key[16],
			     char *buf, size_t buflen);
/* <root>/supernets/<key-hex>/archive, or archive-calib<calib> when calib
 * (batch-norm recalibration images) is neither 0 nor IR_CALIB_DEFAULT. */
int rt_state_archive_path(const char *root, const uint8_t key[16], int calib, char *buf,
			  size_t buflen);
/* <root>/supernets/<key-hex>/predictor, or predictor-calib<calib> (as
 * above): the predictor fitted on that archive. */
int rt_state_predictor_path(const char *root, const uint8_t key[16], int calib, char *buf,
			    size_t buflen);
/* <root>/supernets/<key-hex>/subnets/<id>; -1 also when id is not a safe
 * name (see rt_state_name_ok). */
int rt_state_subnet_path(const char *root, const uint8_t key[16],
			 const char *id, char *buf, size_t buflen);
/* <root>/lut/<cpu>-<version>; -1 also when either is not a safe name. */
int rt_state_lut_path(const char *root, const char *cpu, const char *version,
		      char *buf, size_t buflen);

/* 1 when s is a usable file name component: 1..RT_STATE_NAME_MAX bytes of
 * [A-Za-z0-9._+-], not starting with '.'. */
int rt_state_name_ok(const char *s);

/*
 * Creates directory `dir` and any missing parents (mode as above; existing
 * directories are left as they are).  Returns 0, or -1 with "DIR: reason"
 * in err.
 */
int rt_state_mkdirs(const char *dir, char *err, size_t errlen);

/* Creates the parent directories of the file `path` (see rt_state_mkdirs). */
int rt_state_mkparents(const char *path, char *err, size_t errlen);

/*
 * Opens `path`, a file of the state dir, for reading ("rb"), refusing
 * anything but a regular file without blocking: a FIFO left there would
 * otherwise hang the reader, a device feed it forever.  Returns the
 * stream, or NULL with errno set (EINVAL for a FIFO, device or socket) and
 * *why the reason to print after "PATH: ".
 */
FILE *rt_state_fopen(const char *path, const char **why);

/*
 * Takes the lock file `path` (created if missing, mode 0640) for this
 * process, without waiting: an exclusive flock(2), released when the
 * returned descriptor is closed (rt_state_unlock) or the process ends,
 * kill -9 included.  The holder's pid is written into it for the message
 * of the next one (and cleared by rt_state_unlock).  Returns the descriptor, or -1 with "PATH: reason" in
 * err ("in use by process N" when another holds it).
 */
int rt_state_lock(const char *path, char *err, size_t errlen);
void rt_state_unlock(int fd);

/*
 * Removes what was measured on a supernet's weights from the directory of
 * its checkpoint `ckpt_path` (supernets/<key>): the archives and
 * predictors (of every calibration sample size), and the subnet records (subnets/, with their cached .model
 * weights) and kept answers
 * (answers/) archd wrote, for a supernet trained afresh: they describe
 * weights that are gone.  Other files are left alone; a file that cannot
 * be removed is named in `note` (the rest still go).  Returns the number
 * of files removed.
 */
int rt_state_supernet_forget(const char *ckpt_path, char *note, size_t notelen);

/* --- atomic writes ---------------------------------------------------------- */

/* A file being written atomically.  Fields are private. */
typedef struct rt_state_atomic {
	FILE *f;      /* write through this */
	char *path;   /* the target */
	char *tmp;    /* the temporary file beside it */
} rt_state_atomic;

/*
 * Starts writing `path` (its directory must exist): opens a temporary file
 * beside it with permissions `mode` (e.g. 0600, 0644).  Write to a->f, then
 * call rt_state_atomic_commit or rt_state_atomic_abort.  Returns 0, or -1
 * with "PATH: reason" in err.
 */
int rt_state_atomic_open(rt_state_atomic *a, const char *path, int mode,
			 char *err, size_t errlen);

/*
 * Flushes, fsyncs and closes the temporary file, renames it over the target
 * and fsyncs the directory.  Returns 0, or -1 with "PATH: reason" in err,
 * in which case the temporary file is removed and the target is the old one.
 * Either way `a` is released.
 */
int rt_state_atomic_commit(rt_state_atomic *a, char *err, size_t errlen);

/* Drops the temporary file; the target is untouched.  `a` is released. */
void rt_state_atomic_abort(rt_state_atomic *a);

/* Writes len bytes as the whole content of path, atomically (the three
 * calls above).  Returns 0, or -1 with "PATH: reason" in err. */
int rt_state_write_file(const char *path, const void *data, size_t len,
			int mode, char *err, size_t errlen);

#endif
