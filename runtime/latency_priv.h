/*
 * latency_priv.h — what the latency_*.c files share.
 */
#ifndef ARCHD_RUNTIME_LATENCY_PRIV_H
#define ARCHD_RUNTIME_LATENCY_PRIV_H

#include <stdint.h>

#include "runtime/latency.h"

/* Entry kinds: the ir_block values, then the input resize. */
#define LAT_KIND_RESIZE IR_BLOCK_COUNT
#define LAT_KIND_COUNT (IR_BLOCK_COUNT + 1)

/* One timed shape.  Fields a kind does not use are 0.  RESIZE: h -> ho
 * with cin channels. */
typedef struct lat_key {
	int kind, act;
	int h, ho;
	int cin, mid, cout;
	int k, stride, se_r, shortcut, has_expand;
} lat_key;

typedef struct lat_entry {
	lat_key key;
	double us; /* median microseconds */
} lat_entry;

/* A whole subnet measured for the calibration (lat_table_calibrate): its
 * space (lat_space_id), the sum of its layers timed alone and its measured
 * latency, both timed in the same moments. */
typedef struct lat_sample {
	uint64_t space;
	double sum_us, us;
} lat_sample;

/* The calibration of one space: the median of its samples' us / sum_us. */
typedef struct lat_scale {
	uint64_t space;
	double scale;
	int n;
} lat_scale;

struct lat_table {
	char *cpu, *version;
	char *kernels; /* lat_kernels_id of the build that measured it */
	char *note;    /* lat_table_open: why it was measured afresh, or NULL */
	int n, cap;
	lat_entry *e; /* sorted by lat_key_cmp */
	int ns, scap;
	lat_sample *smp; /* in the order measured */
	int nsc;
	lat_scale *sc;   /* lat_calib_fit of smp, one per space */
	double fallback; /* for a space without samples: the median over all */
};

/* Most samples a table keeps (a file with more is refused). */
#define LAT_MAX_SAMPLES 4096

/* Total order on keys (field by field). */
int lat_key_cmp(const lat_key *a, const lat_key *b);

/* The entry for key, or NULL. */
const lat_entry *lat_table_find(const lat_table *t, const lat_key *k);

/* Inserts (key, us) keeping the order; the key must be absent.  0 or -1 on
 * out-of-memory. */
int lat_table_insert(lat_table *t, const lat_key *k, double us);

/* Times the key's layer: median microseconds of reps runs after two warm-up
 * runs.  Returns 0, or -1 on out-of-memory. */
int lat_time_key(const lat_key *k, int reps, double *us);

/* The median microseconds of reps calls fn(arg) after two warm-up calls;
 * 0, or -1 on out-of-memory. */
int lat_time_fn(void (*fn)(const void *), const void *arg, int reps, double *us);

/* Most keys one plan has: its layers and the input resize. */
#define LAT_PLAN_KEYS_MAX (SN_MAX_LAYERS + 1)

/* The keys of the plan's active layers, after its input resize when the
 * plan's resolution is not in_res; returns how many. */
int lat_plan_keys(const ir_space *s, const sn_plan *plan, int in_res, lat_key *keys);

/* The sum in microseconds of the entries of the plan's layers (and of its
 * input resize), uncalibrated; returns the number of layers without one. */
int lat_entries_sum(const lat_table *t, const ir_space *s, const sn_plan *plan, int in_res,
		    double *us);

/* The id of space s fed images of side in_res: an XXH3-64 of everything
 * about it that shapes its layers (not its name). */
uint64_t lat_space_id(const ir_space *s, int in_res);

/* Appends a sample (times rounded as the text form keeps them; the oldest
 * goes when the table holds LAT_MAX_SAMPLES); 0, or -1 on out-of-memory.
 * lat_calib_fit must follow before the table predicts. */
int lat_table_append_sample(lat_table *t, uint64_t space, double sum_us, double us);

/* lat_table_append_sample, then lat_calib_fit. */
int lat_table_add_sample(lat_table *t, uint64_t space, double sum_us, double us);

/* Sets t->sc and t->fallback from t's samples (see latency.h); 0 or -1 on
 * out-of-memory (then t predicts uncalibrated). */
int lat_calib_fit(lat_table *t);

/* The scale a prediction for the space applies. */
double lat_scale_for(const lat_table *t, uint64_t space);

/* "conv", "mbconv", ... "resize" (the text form's kind names). */
extern const char *const lat_kind_names[LAT_KIND_COUNT];

#endif
