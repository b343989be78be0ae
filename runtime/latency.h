/*
 * latency.h — a latency lookup table of this host: the runtime's own kernels
 * timed layer by layer at the shapes a space can produce, at batch 1, so a
 * subnet's latency is predicted as the sum over its layers without running
 * it (OFA's LUT, measured where archd serves).  Prefix: lat_.
 *
 * An entry is one layer kind at one active shape (sn_layer_plan: input side,
 * channels, kernel, stride, SE width, shortcut, activation) timed as the
 * served model (extract.h) runs it: a one-layer model of that shape with
 * random weights, batch norm folded, through the very per-layer function
 * rt_model_forward calls (rt_model_layer_forward, extract_infer.c), so the
 * table predicts what archd serves and cannot drift from it.  A bilinear
 * input resize, when the subnet's resolution differs from the input's, is
 * an entry too.  Each entry is the median of `reps` timed runs after two
 * warm-up runs, at batch 1 as rt_model_forward runs one image.
 *
 * Calibration.  A whole forward is not quite the sum of its layers timed
 * one by one: each entry is timed with its weights hot in the caches, while
 * a forward streams every layer's weights through them once per image, so
 * a model whose weights outgrow the core's L2 cache reads them from farther
 * away (on a 2-core AMD EPYC, std mbnet's subnets, 0.9-3 MB of weights, ran
 * 8-14% slower than their sums; the Fashion-MNIST example's, under 0.6 MB,
 * 0-5%).  So the table also keeps samples of whole subnets of each space it
 * was built for (lat_table_calibrate: the sum of their entries and their
 * latency as archd serves them, measured just after the entries), and
 * predicts a subnet's latency as the sum of its entries times its space's
 * scale: the median of that space's us / sum.  A space without samples gets the
 * median over all of them, and a table without any the plain sum.  The
 * samples are kept in the file, so a loaded table predicts exactly what
 * the one that measured did.

 * A table names the CPU model (lat_cpu_model) and runtime version it was
 * measured with; the state dir keeps one per pair (rt_state_lut_path).  It
 * also names the build of the kernels it timed (lat_kernels_id), since a
 * kernel can change within one version: a table of another build is
 * measured afresh when opened (lat_table_open, lat_table_note says why).
 * Text form, one entry or calibration sample a line, closed by its checksum:
 *
 *   archd-lut 4
 *   cpu Intel_R_Xeon_R_CPU_...
 *   version 0.1.0
 *   kernels 0123456789abcdef
 *   mbconv relu h=14 cin=24 mid=72 cout=24 k=5 s=1 se=0 sc=1 ex=1 us=41.250
 *   ...
 *   calib space=89abcdef01234567 sum=180.250 us=201.750
 *   ...
 *   xxh3 0123456789abcdef
 *
 * A table is used by one thread at a time while it is built; once built,
 * lookups (lat_predict) only read it.
 */
#ifndef ARCHD_RUNTIME_LATENCY_H
#define ARCHD_RUNTIME_LATENCY_H

#include <stddef.h>

#include "compiler/ir.h"
#include "runtime/subnet.h"

/* Bump when the text form or what an entry times changes. */
#define LAT_FILE_VERSION 4

typedef struct lat_table lat_table;

/*
 * The CPU model of this host ("model name" of /proc/cpuinfo, else the
 * machine name from uname) made into a file name: characters outside
 * [A-Za-z0-9._+-] become '_', runs of them one '_', at most buflen - 1
 * bytes.  Never fails: "unknown" when nothing can be read.
 */
void lat_cpu_model(char *buf, size_t buflen);

/* Length of a kernels id with its NUL: 16 hex digits. */
#define LAT_KERNELS_ID_LEN 17

/*
 * The id of this build's kernels: the XXH3-64, in hex, of a checksum the
 * Makefile takes of the runtime's kernel sources (runtime/op_*.c and
 * op_*.h, ops.h, threads.c, latency_time.c, latency_calib.c,
 * extract_infer.c) and the command compiling them, with the kernel set in
 * use (rt_infer_isa: ARCHD_AVX512=0 on an AVX-512 CPU is another) and the
 * compute pool's thread count (rt_threads_count: a single image's larger
 * layers are split over the pool).  Any change to what an entry or a
 * calibration sample times changes it.
 */
void lat_kernels_id(char buf[LAT_KERNELS_ID_LEN]);

/* An empty table for (cpu, version), copied, of this build's kernels;
 * NULL on out-of-memory. */
lat_table *lat_table_new(const char *cpu, const char *version);
void lat_table_free(lat_table *t);

const char *lat_table_cpu(const lat_table *t);
const char *lat_table_version(const lat_table *t);
/* The lat_kernels_id of the build that measured the table. */
const char *lat_table_kernels(const lat_table *t);
/* Set by lat_table_open when a file existed but was measured afresh: why
 * (another CPU, version or kernel build, or a file that does not load),
 * naming the file; NULL otherwise. */
const char *lat_table_note(const lat_table *t);
/* Number of entries. */
int lat_table_size(const lat_table *t);

/* Called after each entry a build measures: done of total. */
typedef void (*lat_progress_fn)(void *ctx, int done, int total);

/*
 * Measures every layer shape subnets of the checked space `s` (head of
 * nclasses, input images of side in_res) can produce and the table lacks:
 * the sets of input sides and channels reaching each layer are propagated
 * through the stages (any depth, any width), and each layer is timed at
 * every combination with its own kernel, expansion and width choices.
 * reps >= 1.  Returns the number of entries added, or -1 with a message in
 * err (out of memory).
 */
int lat_table_build(lat_table *t, const ir_space *s, int nclasses, int in_res, int reps,
		    lat_progress_fn progress, void *ctx, char *err, size_t errlen);

/*
 * Measures the entries one subnet's plan needs that the table lacks (a
 * space too large to enumerate can be filled this way, subnet by subnet).
 * Returns the number added or -1 with a message in err.
 */
int lat_table_measure_plan(lat_table *t, const ir_space *s, const sn_plan *plan, int in_res,
			   int reps, char *err, size_t errlen);

/*
 * The predicted latency in seconds of the subnet whose plan (over space s)
 * is given, fed images of side in_res: the sum of its entries times the
 * space's calibration (see above).  Returns 0, or the number of layers without an entry (then
 * *seconds counts only those found).
 */
int lat_predict(const lat_table *t, const ir_space *s, const sn_plan *plan, int in_res,
		double *seconds);

/*
 * The table archd keeps for a space: loads `path` (the state dir's
 * rt_state_lut_path for this cpu and version) when it exists, measures the
 * shapes of space s it lacks (lat_table_build: progress, reps, in_res),
 * calibrates it on subnets of s (lat_table_calibrate) when it measured any
 * or has no samples of s, and saves it back then, creating the parent
 * directories.  A
 * file of another cpu, version or kernel build (lat_kernels_id), or one
 * that does not load, is measured afresh and replaced, and the table's
 * lat_table_note says why.  Returns the table (the caller frees it) or NULL
 * with a message in err.
 */
lat_table *lat_table_open(const char *path, const char *cpu, const char *version,
			  const ir_space *s, int nclasses, int in_res, int reps,
			  lat_progress_fn progress, void *ctx, char *err, size_t errlen);

/* Subnets lat_table_calibrate measures, and the seed they are drawn (and
 * the supernet they are cut from initialised) with. */
#define LAT_CALIB_SUBNETS 10
#define LAT_CALIB_SEED 20261204

/*
 * Measures LAT_CALIB_SUBNETS seeded random subnets of the checked space s
 * (head of nclasses, fed images of side in_res) whole, at batch 1, each the
 * median of 3 * reps forwards of the model archd would serve
 * (runtime/extract.h; random weights, batch-norm statistics recalibrated on
 * random images), measures the entries they need that the table lacks, and
 * adds them to the table's calibration samples (the oldest go past 4,096),
 * refitting it.  Returns the number of samples added, or -1 with a message
 * in err.
 */
int lat_table_calibrate(lat_table *t, const ir_space *s, int nclasses, int in_res, int reps,
			char *err, size_t errlen);

/* The scale predictions for space s fed images of side in_res apply (see
 * above) into *scale; returns the number of that space's samples (0: the
 * median over all samples, or 1 in a table without any). */
int lat_table_calibration(const lat_table *t, const ir_space *s, int in_res, double *scale);

/* Writes the text form atomically; 0, or -1 with "PATH: reason" in err. */
int lat_table_save(const lat_table *t, const char *path, char *err, size_t errlen);

/*
 * Reads a table written by lat_table_save.  Returns it, or NULL with a
 * message naming the path and line in err (unreadable, a bad header,
 * another file version, a malformed entry, a checksum mismatch).  The
 * table keeps the kernel build it names, whatever this build's is.
 */
lat_table *lat_table_load(const char *path, char *err, size_t errlen);

#endif
