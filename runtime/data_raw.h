/*
 * data_raw.h — private to runtime/data*.c: the file readers and the random
 * streams of a data set's seed.  Prefix: rt_data_.
 *
 * A reader fills an rt_data_raw with every example of one file, unsplit and
 * unnormalised (IDX bytes already scaled to [0, 1]), labels as in the file.
 * It checks each label against the data set: negative labels are errors, and
 * so are labels >= nclasses when no class filter is given.
 */
#ifndef ARCHD_RUNTIME_DATA_RAW_H
#define ARCHD_RUNTIME_DATA_RAW_H

#include <stddef.h>
#include <zlib.h>

#include "compiler/ir.h"

typedef struct rt_data_raw {
	int n;
	float *x; /* [n, H, W, C], malloc'd */
	int *y;   /* [n], malloc'd */
} rt_data_raw;

/* Streams of ir_dataset.seed, one per purpose, so that changing one choice
 * (say, the holdout size) does not reshuffle the others. */
#define RT_DATA_STREAM_TEST 1ULL    /* test rows carved from a CSV */
#define RT_DATA_STREAM_LIMIT 2ULL   /* train_limit subset */
#define RT_DATA_STREAM_HOLDOUT 3ULL /* holdout carve */
#define RT_DATA_STREAM_SAMPLE 4ULL  /* rt_data_sample, xor'd with its seed */
#define RT_DATA_STREAM_SHUFFLE 0x100000000ULL /* + epoch: batch order */
#define RT_DATA_STREAM_AUGMENT 0x200000000ULL /* + epoch: per-batch seeds */

/* Frees the buffers and zeroes the struct. */
void rt_data_raw_free(rt_data_raw *r);

/*
 * Opens a file for reading through zlib (gzip or plain alike); *size gets
 * the size on disk.  Returns NULL with "path: reason" (strerror for a
 * missing or unreadable file) in err.
 */
gzFile rt_data_gzopen(const char *path, size_t *size, char *err, size_t errlen);

/*
 * Reads up to len bytes; fewer only at the end of the data.  Returns the
 * count, or -1 with "path: reason" in err for a read error or gzip data
 * that is corrupt or cut short.
 */
long rt_data_gzread(gzFile gz, const char *path, void *buf, size_t len, char *err,
		    size_t errlen);

/*
 * Reads a whole file, gzip or plain (zlib tells them apart), into a malloc'd
 * buffer with one extra NUL byte after the data (*buf owned by the caller).
 * Returns 0, or -1 with "path: reason" in err.
 */
int rt_data_slurp(const char *path, unsigned char **buf, size_t *len, char *err,
		  size_t errlen);

/* Reads an IDX image file and its label file (runtime/data_idx.c). */
int rt_data_read_idx(const ir_dataset *d, const char *images, const char *labels,
		     rt_data_raw *out, char *err, size_t errlen);

/* Reads a CSV file (runtime/data_csv.c). */
int rt_data_read_csv(const ir_dataset *d, const char *path, rt_data_raw *out,
		     char *err, size_t errlen);

/* The error for a label the data set cannot hold, or NULL when it is fine:
 * a static string describing why (negative, >= nclasses). */
const char *rt_data_label_problem(const ir_dataset *d, long label);

#endif
