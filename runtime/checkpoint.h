/*
 * checkpoint.h — a supernet's training state on disk.  Prefix: rt_ckpt_.
 *
 * Format (version 1), integers little-endian, floats IEEE-754 binary32
 * little-endian:
 *
 *   offset  size         field
 *   0       8            magic "ARCHDCKP"
 *   8       4            version (1)
 *   12      4            nrng: rng states that follow the header (<= 8)
 *   16      16           supernet key of the task (ir_task.supernet_key, or
 *                        the key the trainer derives for a fixed subnet)
 *   32      8            nparams
 *   40      8            nstats
 *   48      4 x 4        trainer position: phase, epoch, step within the
 *                        epoch (the next step to run), reserved 0
 *   64      8            global step (optimiser steps taken)
 *   72      32 x nrng    rng states (xoshiro256**: four u64 each)
 *   ...     4 x nparams  weights
 *   ...     4 x nparams  momentum
 *   ...     4 x nstats   batch-norm running statistics
 *   end-8   8            XXH3-64 of every byte before it
 *
 * Files are written atomically (statedir.h), so a crash at any moment leaves
 * the previous checkpoint or the new one.  Loading checks everything before
 * it touches the supernet: a refused file leaves the supernet as it was.
 */
#ifndef ARCHD_RUNTIME_CHECKPOINT_H
#define ARCHD_RUNTIME_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "runtime/rng.h"
#include "runtime/supernet.h"

#define RT_CKPT_VERSION 1
#define RT_CKPT_MAX_RNG 8

/* Where training stands, saved beside the weights. */
typedef struct rt_ckpt_state {
	int phase;           /* progressive-shrinking phase, 0 without phases */
	int epoch;           /* 0-based epoch of the next step */
	int step;            /* next step within that epoch */
	int64_t global_step; /* optimiser steps taken so far */
	int nrng;            /* rng states in use, 0..RT_CKPT_MAX_RNG */
	rt_rng rng[RT_CKPT_MAX_RNG];
} rt_ckpt_state;

/* Return values of rt_ckpt_load besides 0. */
enum { RT_CKPT_ERROR = -1, RT_CKPT_MISSING = 1 };

/*
 * Writes the supernet's weights, momentum and statistics with `key` and `st`
 * to `path` atomically (mode 0600; the directory must exist).  Returns 0, or
 * -1 with "PATH: reason" in err, the previous file intact.
 */
int rt_ckpt_save(const char *path, sn_supernet *sn, const uint8_t key[16],
		 const rt_ckpt_state *st, char *err, size_t errlen);

/*
 * Loads `path` into sn and st.  Returns 0; RT_CKPT_MISSING when there is no
 * such file (nothing changed, err untouched); or RT_CKPT_ERROR with a
 * message naming the file and the problem, nothing changed: not a
 * checkpoint (wrong magic), a newer version than this build reads,
 * truncated, trailing bytes, checksum mismatch, a checkpoint of another
 * supernet (its key differs from `key`), parameter or statistic counts that
 * differ from sn's, an unreadable file.
 */
int rt_ckpt_load(const char *path, sn_supernet *sn, const uint8_t key[16],
		 rt_ckpt_state *st, char *err, size_t errlen);

/*
 * Reads only the header of `path`: the supernet key it was saved with
 * into key and the trainer's position into st (phase, epoch, step, global
 * step; no rng states), for listing a state dir without loading weights.
 * The rest of the file is not checked (rt_ckpt_load does that).  Returns
 * 0; RT_CKPT_MISSING when there is no such file (err untouched); or
 * RT_CKPT_ERROR with "PATH: reason" in err (unreadable, not a checkpoint,
 * a version this build does not read, a corrupt header).
 */
int rt_ckpt_peek(const char *path, uint8_t key[16], rt_ckpt_state *st, char *err,
		 size_t errlen);

/*
 * The checkpoint's identity: its closing XXH3-64 (the last 8 bytes, not
 * checked here; a damaged file is refused when it is loaded), which every
 * save changes and a copy keeps.  What was measured on a supernet's weights
 * records it (archive.h), so results from other weights are told apart.
 * Returns 0 with *id set; 1 when `path` is there but has none (not a
 * regular file, shorter than a header); -1 when it cannot be opened (errno
 * set).  With st non-NULL, *st is the file's status (0 and 1), read from
 * the same open file as the identity.
 */
int rt_ckpt_id(const char *path, uint64_t *id, struct stat *st);

#endif
