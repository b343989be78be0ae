/*
 * data.h — data sets in memory: loading (IDX, CSV), splits, normalisation,
 * and mini-batches with augmentation.  Prefixes: rt_data_, rt_batcher_.
 *
 * rt_data_load() turns an ir_dataset into three splits of float32 NHWC
 * examples with int labels in [0, nclasses):
 *
 *   train    the training file, class-filtered, limited, minus the holdout
 *   holdout  carved from the training file (search evaluates on it)
 *   test     the test file (or, for a CSV with no test file, test_count rows
 *            carved from the training file; see below)
 *
 * Everything random (subsets, holdout, test carve, shuffles, crops, flips)
 * is drawn from rt_rng streams of ir_dataset.seed, so a seed gives the same
 * splits and batches on every run and every thread; nothing here touches a
 * global, so workers may load and iterate in parallel.
 *
 * Order of operations (documented because it decides what a seed means):
 *   1. read the training (and test) file; IDX bytes are scaled to [0, 1];
 *   2. CSV without a test file: test_count rows of the file are carved for
 *      test *before* the class filter, stratified by the original label, so
 *      every filter of one file shares one train/test partition of its rows;
 *   3. class filter: examples whose label is classes[i] are kept and
 *      relabelled i, the rest dropped (classes NULL keeps every label, which
 *      must then be < nclasses);
 *   4. train_limit: a seeded, stratified subset of the training examples;
 *   5. holdout: a seeded, stratified subset carved from what is left;
 *   6. normalisation: IR_NORM_STANDARD measures a mean and a standard
 *      deviation per channel on the final train split only (a channel whose
 *      std is below 1e-12 keeps std 1); IR_NORM_FIXED uses the IR's numbers
 *      for every channel.  x' = (x - mean[c]) / std[c] on every split.
 *
 * Stratified: each class gets floor(k * n_c / n) of the k picks and the
 * rest go by largest remainder (ties to the smaller label), so the class
 * proportions of a subset match the whole to within one example.  Within a
 * split, examples keep the order of their file.
 *
 * Files: IDX images [N, H, W] (magic 0x00000803) or [N, H, W, C]
 * (0x00000804) of unsigned bytes with labels [N] (0x00000801).  CSV rows
 * hold C * H * W numbers in H, W, C order (tabular data is C x 1 x 1) and a
 * label at label_column; see runtime/data_csv.c for the exact syntax.  Both
 * may be gzip-compressed; zlib tells.
 */
#ifndef ARCHD_RUNTIME_DATA_H
#define ARCHD_RUNTIME_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/rng.h"

typedef enum rt_split {
	RT_SPLIT_TRAIN,
	RT_SPLIT_HOLDOUT,
	RT_SPLIT_TEST,
	RT_SPLIT_COUNT
} rt_split;

/* "train", "holdout", "test". */
extern const char *const rt_split_names[RT_SPLIT_COUNT];

/* One split: n examples, x is [n, height, width, channels], y is [n]. */
typedef struct rt_data_part {
	int n;
	float *x;
	int *y;
	int *class_count; /* [nclasses]: examples of each class */
} rt_data_part;

/* A loaded data set.  Every field is read-only for users; rt_data_free()
 * releases it all. */
typedef struct rt_data {
	char *name; /* the ir_dataset's name */
	int channels, height, width;
	int nclasses;
	size_t example_size; /* channels * height * width floats */
	rt_data_part part[RT_SPLIT_COUNT];
	/* The normalisation applied, per channel: x' = (x - mean[c]) / std[c].
	 * IR_NORM_NONE gives 0 and 1. */
	float *mean, *std;
	/* Augmentation settings copied from the IR (training batches only). */
	int crop_pad, flip;
	uint64_t seed;
} rt_data;

/*
 * Loads a data set as described above.  Returns a new rt_data owned by the
 * caller (free with rt_data_free), or NULL with a one-line message in err
 * that names the file and the problem: missing file (with strerror), wrong
 * magic number, truncated file, image and label counts that differ, a shape
 * that disagrees with the IR, a label out of range, a CSV cell that is not a
 * number or a row with the wrong number of columns (file:line[:column]), a
 * holdout or test_count that leaves no training data, out of memory.
 * Relative paths are taken from the current directory.  Thread-safe.
 */
rt_data *rt_data_load(const ir_dataset *d, char *err, size_t errlen);

/* Frees a data set and everything it owns; NULL is fine. */
void rt_data_free(rt_data *data);

/*
 * Writes a one-line summary into buf (always NUL-terminated when buflen > 0):
 * the split sizes, shape, classes and the normalisation measured, e.g.
 * "fashion: train 58000, holdout 2000, test 10000; 28x28x1, 10 classes;
 * mean/std 0.2860/0.3530" (the first three channels).  Returns what
 * snprintf returns.
 */
int rt_data_summary(const rt_data *data, char *buf, size_t buflen);

/*
 * Copies a fixed, seeded sample of min(n, part size) examples of a split,
 * without replacement and without augmentation, into x [n, H, W, C] and
 * y [n] (y may be NULL), in split order.  The same seed gives the same
 * sample; nothing is allocated.  For batch norm recalibration.  Returns the
 * number of examples copied.
 */
int rt_data_sample(const rt_data *data, rt_split split, int n, uint64_t seed,
		   float *x, int *y);

/* --- mini-batches ----------------------------------------------------------- */

enum {
	RT_BATCH_SHUFFLE = 1 << 0,   /* a seeded permutation per epoch */
	RT_BATCH_AUGMENT = 1 << 1,   /* random crop / flip as the data set says */
	RT_BATCH_DROP_LAST = 1 << 2, /* skip a final partial batch */
	/* Training: all three.  Evaluation: 0 (in order, every example). */
	RT_BATCH_TRAIN = RT_BATCH_SHUFFLE | RT_BATCH_AUGMENT | RT_BATCH_DROP_LAST
};

/*
 * An iterator over one split.  The fields are private; the struct is public
 * so that it can live on the stack.  It allocates once (the permutation) in
 * rt_batcher_init and never per batch.  The epoch's permutation and each
 * batch's augmentation are drawn from streams of the data set's seed keyed
 * by (epoch, step), so rt_batcher_seek() resumes exactly where a crashed run
 * stopped.  One batcher per thread; several may share one rt_data.
 */
typedef struct rt_batcher {
	const rt_data *data;
	rt_split split;
	int batch, flags;
	int n;      /* examples in the split */
	int *order; /* [n] */
	int epoch;
	int step;        /* next batch of the epoch */
	int order_epoch; /* the epoch `order` was drawn for, -1 = none */
	int rank, nranks; /* data-parallel slice of each batch */
} rt_batcher;

/* Prepares an iterator at epoch 0, step 0.  batch > 0.  Returns 0, or -1 on
 * out-of-memory. */
int rt_batcher_init(rt_batcher *b, const rt_data *data, rt_split split,
		    int batch, int flags);

/* Releases the permutation; the batcher may be initialised again. */
void rt_batcher_free(rt_batcher *b);

/* Batches per epoch (a partial last batch counts unless DROP_LAST). */
int rt_batcher_steps(const rt_batcher *b);

/* Positions the iterator at batch `step` of epoch `epoch` (both >= 0). */
void rt_batcher_seek(rt_batcher *b, int epoch, int step);

/*
 * Data-parallel training: rank `rank` of `nranks` (0 <= rank < nranks) gets
 * the examples [batch * rank / nranks, batch * (rank + 1) / nranks) of each
 * global batch of `batch` examples.  Each example's crop and flip depend on
 * (epoch, step, position in the global batch) only, so the ranks together
 * see exactly what one process would.  batch >= nranks.  Initially rank 0
 * of 1.
 */
void rt_batcher_shard(rt_batcher *b, int rank, int nranks);

/*
 * Copies the next batch (this rank's slice of it) into x [batch, H, W, C]
 * and y [batch] and advances.  Returns the number of examples written
 * (batch, or fewer for a final partial batch or a slice), or 0 at the end
 * of the epoch (also for a rank whose slice of the final partial batch is
 * empty); then call rt_batcher_seek(b, epoch + 1, 0) for the next epoch.
 */
int rt_batcher_next(rt_batcher *b, float *x, int *y);

/*
 * The augmentation alone, exposed for tests and for callers with their own
 * loops: copies one [H, W, C] example from src to dst, zero-padded by pad on
 * every side, cropped back to H x W at offset (dy, dx) in [0, 2 * pad], and
 * mirrored left-right when flip is set.  The padding is 0 after
 * normalisation (the channel mean under IR_NORM_STANDARD).
 */
void rt_data_augment(const float *src, float *dst, int height, int width,
		     int channels, int pad, int dy, int dx, int flip);

#endif
