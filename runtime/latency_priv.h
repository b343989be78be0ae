/*
 * latency_priv.h — what the latency_*.c files share.
 */
#ifndef ARCHD_RUNTIME_LATENCY_PRIV_H
#define ARCHD_RUNTIME_LATENCY_PRIV_H

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

/* A whole subnet measured for the calibration (lat_table_calibrate): the
 * sum of its entries, its parameter count and its measured latency. */
typedef struct lat_sample {
	double sum_us, params, us;
} lat_sample;

struct lat_table {
	char *cpu, *version;
	char *kernels; /* lat_kernels_id of the build that measured it */
	char *note;    /* lat_table_open: why it was measured afresh, or NULL */
	int n, cap;
	lat_entry *e; /* sorted by lat_key_cmp */
	int ns, scap;
	lat_sample *smp;            /* in the order measured */
	double scale, us_per_param; /* lat_calib_fit of smp */
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

/* Appends a sample (values rounded as the text form keeps them) and refits;
 * 0, or -1 on out-of-memory or when the table holds LAT_MAX_SAMPLES. */
int lat_table_add_sample(lat_table *t, double sum_us, double params, double us);

/* Sets t->scale and t->us_per_param from t's samples (see latency.h). */
void lat_calib_fit(lat_table *t);

/* "conv", "mbconv", ... "resize" (the text form's kind names). */
extern const char *const lat_kind_names[LAT_KIND_COUNT];

#endif
