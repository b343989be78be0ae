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

struct lat_table {
	char *cpu, *version;
	char *kernels; /* lat_kernels_id of the build that measured it */
	char *note;    /* lat_table_open: why it was measured afresh, or NULL */
	int n, cap;
	lat_entry *e; /* sorted by lat_key_cmp */
};

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

/* "conv", "mbconv", ... "resize" (the text form's kind names). */
extern const char *const lat_kind_names[LAT_KIND_COUNT];

#endif
