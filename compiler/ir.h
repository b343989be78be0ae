/*
 * ir.h — the IR: the only contract between the compiler and the runtime.
 * Prefix: ir_.
 *
 * An ir_module is what one `.arch` file (with its imports) lowers to: the
 * datasets, search spaces, tasks, objectives and targets it declares, in
 * canonical order (each kind sorted by name), with every reference resolved
 * to an index and every number in base units.  Nothing of the syntax is kept:
 * no file names, no locations, no comments.
 *
 * Units: accuracy is a fraction in [0, 1]; MACs and params are counts;
 * latency is in seconds; memory is in bytes.
 *
 * Ownership: an ir_module owns everything it points to; ir_module_free()
 * releases it all.  Strings are NUL-terminated and heap-allocated.
 *
 * Forms: a versioned binary (`.air`, ir_binary.c) and a stable text dump
 * (ir_dump.c).  The module's identity is the XXH3-128 of its canonical
 * binary (ir_hash.c); a task's supernet key hashes only its space, its
 * dataset and its training recipe.
 */
#ifndef ARCHD_IR_H
#define ARCHD_IR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Bump when the meaning or layout of the binary form changes. */
#define IR_VERSION 1

typedef enum ir_metric {
	IR_METRIC_ACCURACY, /* fraction in [0, 1] */
	IR_METRIC_MACS,     /* multiply-accumulates, batch 1 */
	IR_METRIC_PARAMS,   /* parameter count */
	IR_METRIC_LATENCY,  /* seconds, batch 1, on the serving host */
	IR_METRIC_MEMORY,   /* peak activation bytes, batch 1 */
	IR_METRIC_COUNT
} ir_metric;

typedef enum ir_cmp {
	IR_CMP_LE, /* <= */
	IR_CMP_LT, /* <  */
	IR_CMP_GE, /* >= */
	IR_CMP_GT, /* >  */
	IR_CMP_EQ, /* == */
	IR_CMP_COUNT
} ir_cmp;

typedef enum ir_act {
	IR_ACT_NONE,
	IR_ACT_RELU,
	IR_ACT_HSWISH,
	IR_ACT_COUNT
} ir_act;

/* Name tables, indexed by the enums above ("accuracy", "<=", "relu", ...). */
extern const char *const ir_metric_names[IR_METRIC_COUNT];
extern const char *const ir_cmp_names[IR_CMP_COUNT];
extern const char *const ir_act_names[IR_ACT_COUNT];

/* --- generic parameter lists, for method calls such as nat(iterations = 4) */

typedef enum ir_value_kind {
	IR_VALUE_NUMBER,
	IR_VALUE_BOOL,
	IR_VALUE_STRING, /* also identifiers used as symbols, e.g. kernel */
	IR_VALUE_COUNT
} ir_value_kind;

extern const char *const ir_value_kind_names[IR_VALUE_COUNT];

typedef struct ir_param {
	char *key;
	ir_value_kind kind;
	double number; /* NUMBER (base units), BOOL (0 or 1) */
	char *string;  /* STRING, else NULL */
} ir_param;

/* A named method with parameters, sorted by key; name NULL means "none". */
typedef struct ir_call {
	char *name;
	int nparams;
	ir_param *params;
} ir_call;

/* --- datasets ------------------------------------------------------------- */

typedef enum ir_format {
	IR_FORMAT_IDX, /* MNIST-style images + labels, gzip or plain */
	IR_FORMAT_CSV, /* one example per row, gzip or plain */
	IR_FORMAT_COUNT
} ir_format;

typedef enum ir_norm {
	IR_NORM_NONE,     /* raw values (IDX bytes are scaled to [0, 1] first) */
	IR_NORM_STANDARD, /* per-channel mean/std measured on the training split */
	IR_NORM_FIXED,    /* (x - mean) / std with the given numbers */
	IR_NORM_COUNT
} ir_norm;

extern const char *const ir_format_names[IR_FORMAT_COUNT];
extern const char *const ir_norm_names[IR_NORM_COUNT];

typedef struct ir_dataset {
	char *name;
	ir_format format;
	/* IDX: the four files.  CSV: train_images is the training file,
	 * test_images the test file or NULL (then `test_count` rows are
	 * carved from the training file); the label paths are NULL. */
	char *train_images, *train_labels;
	char *test_images, *test_labels;
	int label_column; /* CSV: 0-based column of the label, -1 = last */
	int skip_rows;    /* CSV: header lines to skip */
	int test_count;   /* CSV without a test file: rows carved for test */
	int channels, height, width; /* one example; tabular data is C x 1 x 1 */
	/* Classes after filtering: label classes[i] of the source becomes i.
	 * nclasses == number of distinct labels kept. */
	int nclasses;
	int *classes;
	int holdout;     /* training examples carved off for search, 0 = none */
	int train_limit; /* use at most this many training examples, 0 = all */
	ir_norm normalize;
	double mean, std; /* IR_NORM_FIXED */
	int crop_pad;     /* augmentation: random crop after this padding, 0 = off */
	int flip;         /* augmentation: random horizontal flip */
	uint64_t seed;    /* splits and augmentation */
} ir_dataset;

/* --- search spaces -------------------------------------------------------- */

/* A gene: one elastic choice.  values[] are sorted ascending and distinct; a
 * subnet picks an index into them.  Names are dotted paths: "resolution",
 * "s1.depth", "s1.b0.kernel", or "s1.kernel" for a `shared` choice. */
typedef struct ir_gene {
	char *name;
	int nvalues;
	double *values;
} ir_gene;

typedef enum ir_block {
	IR_BLOCK_CONV,     /* conv k x k / stride + BN + act (stems) */
	IR_BLOCK_MBCONV,   /* [1x1 expand+BN+act] dw k x k/stride+BN+act [SE]
	                      1x1 project+BN; identity shortcut when shapes match */
	IR_BLOCK_RESIDUAL, /* conv k/stride+BN+relu, conv k+BN, shortcut
	                      (1x1 conv+BN when shapes differ), relu */
	IR_BLOCK_DENSE,    /* linear + BN + act (tabular stages) */
	IR_BLOCK_POOL,     /* global average pool */
	IR_BLOCK_FC,       /* linear; out_channels == classes for the last */
	IR_BLOCK_COUNT
} ir_block;

extern const char *const ir_block_names[IR_BLOCK_COUNT];

/* One layer at its largest shape; each elastic attribute is bound to a gene
 * (index into ir_space.genes) or -1 when fixed.  The last layer of a head
 * written `fc(classes)` has out_channels == 0 (and ir_space.nclasses == 0):
 * the class count is not the space's but the dataset's of the task that
 * trains it (ir_dataset.nclasses), and the runtime takes it from there. */
typedef struct ir_layer {
	ir_block kind;
	int stage;       /* index into ir_space.stages, -1 for stem and head */
	int index;       /* position in its stage (0-based), 0 outside stages */
	int in_channels; /* largest */
	int out_channels;
	int kernel; /* largest; 0 for POOL, DENSE, FC */
	int stride;
	double expand; /* MBCONV: largest expansion ratio, else 1 */
	ir_act act;
	int se; /* squeeze-and-excite */
	int g_kernel, g_expand, g_out;
} ir_layer;

/* A stage: layers [first, first + count) at its largest depth; a subnet of
 * depth d keeps the first d. */
typedef struct ir_stage {
	char *name;
	int first, count;
	int g_depth; /* gene index, -1 when the depth is fixed at count */
} ir_stage;

/* Limits of a space, checked by the compiler and by the runtime
 * (sn_space_check): genes, values of one gene, layers, kernel size. */
#define IR_MAX_GENES 256
#define IR_MAX_GENE_VALUES 255
#define IR_MAX_LAYERS 512
#define IR_MAX_KERNEL 11

typedef struct ir_space {
	char *name;
	int in_channels;  /* image channels, or features for tabular input */
	int resolution;   /* largest input side; 1 for tabular input */
	int g_resolution; /* gene index, -1 when fixed */
	int nclasses;     /* 0 when the head says `classes` (bound by the task) */
	int ngenes;
	ir_gene *genes;
	int nstages;
	ir_stage *stages;
	int nlayers;
	ir_layer *layers; /* stem, stage layers in order, head */
} ir_space;

/* --- tasks ------------------------------------------------------------------ */

typedef enum ir_sampler {
	IR_SAMPLER_MAX,      /* train the largest subnet only */
	IR_SAMPLER_RANDOM,   /* one random subnet per step */
	IR_SAMPLER_SANDWICH, /* largest, smallest and n - 2 random per step */
	IR_SAMPLER_COUNT
} ir_sampler;

/* How a sandwich step's other subnets learn.  Values match the IR byte:
 * 0 and 1 are the boolean the field was before labels were added. */
typedef enum ir_distill {
	IR_DISTILL_NONE,    /* from the labels, as the largest does */
	IR_DISTILL_INPLACE, /* from the largest's soft labels only (BigNAS) */
	IR_DISTILL_LABELS,  /* from both: labels' loss + soft labels' (OFA, kd_ratio 1) */
	IR_DISTILL_COUNT
} ir_distill;

typedef enum ir_shrink {
	IR_SHRINK_RESOLUTION,
	IR_SHRINK_KERNEL,
	IR_SHRINK_DEPTH,
	IR_SHRINK_EXPAND,
	IR_SHRINK_WIDTH,
	IR_SHRINK_COUNT
} ir_shrink;

typedef enum ir_schedule {
	IR_SCHEDULE_CONSTANT,
	IR_SCHEDULE_COSINE,
	IR_SCHEDULE_COUNT
} ir_schedule;

extern const char *const ir_sampler_names[IR_SAMPLER_COUNT];
extern const char *const ir_shrink_names[IR_SHRINK_COUNT];
extern const char *const ir_distill_names[IR_DISTILL_COUNT];
extern const char *const ir_schedule_names[IR_SCHEDULE_COUNT];

#define IR_MAX_SHRINK 8

/* Batch-norm recalibration images when a recipe does not say. */
#define IR_CALIB_DEFAULT 2000

typedef struct ir_recipe {
	int epochs;
	int batch;
	double lr, momentum, wd;
	int nesterov;
	int wd_decoupled;
	ir_schedule schedule;
	double warmup; /* epochs of linear warm-up */
	double label_smoothing;
	ir_sampler sampler;
	int sampler_n;
	ir_distill distill;
	int nshrink; /* progressive shrinking phases, in order; 0 = none */
	ir_shrink shrink[IR_MAX_SHRINK];
	int calib_images; /* BN recalibration sample size; 0 = IR_CALIB_DEFAULT */
	uint64_t seed;
} ir_recipe;

/*
 * A task's `search { }` settings (ir_task.search): default, least and
 * greatest value of each number.  The compiler checks a written value
 * against them and fills in the defaults; the runtime (rt_answer_settings
 * _get) checks an IR's values again and applies the defaults to a call
 * that lacks them.  The evolutionary search needs a population of 4.
 */
#define IR_SEARCH_SAMPLES_DEF 300
#define IR_SEARCH_SAMPLES_MIN 2
#define IR_SEARCH_SAMPLES_MAX 100000
#define IR_SEARCH_POPULATION_DEF 100
#define IR_SEARCH_POPULATION_MIN 4
#define IR_SEARCH_POPULATION_MAX 100000
#define IR_SEARCH_GENERATIONS_DEF 50
#define IR_SEARCH_GENERATIONS_MIN 1
#define IR_SEARCH_GENERATIONS_MAX 100000
#define IR_SEARCH_SEED_DEF 0
#define IR_SEARCH_SEED_MIN 0
#define IR_SEARCH_SEED_MAX 1000000000

typedef struct ir_task {
	char *name;
	int dataset;  /* index into ir_module.datasets */
	int space;    /* index into ir_module.spaces */
	int from;     /* source task for transfer, -1 when trained from scratch */
	ir_recipe recipe;
	ir_call adapt;    /* nat(...), ntaa(...), finetune(...); name NULL = none */
	ir_call pretrain; /* supervised, selfsup(...); name NULL = none */
	ir_call search;   /* predictor, sample counts, population ...; may be empty */
	int objective;    /* index into ir_module.objectives, -1 = default */
	uint8_t supernet_key[16]; /* XXH3-128 of space + dataset + recipe (no calib) */
} ir_task;

/* --- objectives and targets ------------------------------------------------ */

typedef struct ir_objective {
	char *name;
	int nterms;
	ir_metric *metrics;
	int *maximize; /* 1 maximize, 0 minimize */
} ir_objective;

typedef struct ir_constraint {
	ir_metric metric;
	ir_cmp cmp;
	double value; /* base units */
} ir_constraint;

typedef struct ir_target {
	char *name;
	int nconstraints;
	ir_constraint *constraints; /* sorted by metric, then cmp */
} ir_target;

/* --- the module --------------------------------------------------------------- */

typedef struct ir_module {
	int ndatasets;
	ir_dataset *datasets;
	int nspaces;
	ir_space *spaces;
	int ntasks;
	ir_task *tasks;
	int nobjectives;
	ir_objective *objectives;
	int ntargets;
	ir_target *targets;
} ir_module;

/* An empty module; aborts on out-of-memory (compiler side). */
ir_module *ir_module_new(void);
/* Frees the module and everything it owns; NULL is fine. */
void ir_module_free(ir_module *m);

/* Lookups by name; return the index or -1.  O(log n) on a canonical
 * module, O(n) otherwise. */
int ir_module_find_task(const ir_module *m, const char *name);
int ir_module_find_target(const ir_module *m, const char *name);
int ir_module_find_objective(const ir_module *m, const char *name);
int ir_space_find_gene(const ir_space *s, const char *name);

/* Parameter lookup in a call; returns the param or NULL. */
const ir_param *ir_call_param(const ir_call *c, const char *key);

/* Sorts every declaration list by name and fixes up the indices that refer
 * into them, sorts call parameters by key and target constraints by
 * (metric, cmp, value), then computes every task's supernet key.  The
 * compiler calls it once after lowering; binary loading checks that a module
 * is canonical.  Names within a list must be distinct (the compiler checks
 * that); aborts on out-of-memory. */
void ir_module_canonicalize(ir_module *m);

/* Writes the supernet key of task t (XXH3-128 of the binary encoding of its
 * space, its dataset and its recipe, without the space's and the dataset's
 * names) into key.  The recipe's calib_images counts as IR_CALIB_DEFAULT:
 * the weights do not depend on it, only what is measured on them (the
 * archive, its predictor, extracted subnets: runtime/statedir.h), so
 * changing it retrains nothing.  The task's dataset and space indices must
 * be valid. */
void ir_task_supernet_key(const ir_module *m, int t, uint8_t key[16]);

/* The same key with the recipe's supernet-only settings at the values of a
 * network trained alone (sampler max, no distillation, no shrinking): what
 * one fixed subnet's training depends on, which ignores them. */
void ir_task_standalone_key(const ir_module *m, int t, uint8_t key[16]);

/* --- binary form (.air) ---------------------------------------------------- */

/* Serialises into a malloc'd buffer (*out, *len owned by the caller).
 * Returns 0, or -1 on out-of-memory. */
int ir_binary_write(const ir_module *m, uint8_t **out, size_t *len);

/* Parses a buffer.  On success returns a new module; on failure returns NULL
 * and writes a one-line reason (truncated, bad magic, newer version,
 * checksum mismatch, malformed section ...) into err. */
ir_module *ir_binary_read(const uint8_t *buf, size_t len, char *err, size_t errlen);

/* File helpers: the write is atomic (temp file, fsync, rename).  Both return
 * 0 / NULL on failure with a reason naming the path in err. */
int ir_binary_save(const ir_module *m, const char *path, char *err, size_t errlen);
ir_module *ir_binary_load(const char *path, char *err, size_t errlen);

/* True when the buffer starts with the .air magic. */
int ir_binary_is_air(const uint8_t *buf, size_t len);

/* --- identity ---------------------------------------------------------------- */

typedef struct ir_id {
	uint8_t bytes[16];
} ir_id;

/* XXH3-128 of the canonical binary form. */
ir_id ir_module_id(const ir_module *m);
/* "xxh3:" followed by 32 lowercase hex digits; buf needs IR_ID_STRLEN + 1. */
#define IR_ID_STRLEN 37
void ir_id_format(const uint8_t bytes[16], char *buf);
/* Parses the form above; returns 0 or -1. */
int ir_id_parse(const char *s, uint8_t bytes[16]);

/* --- text dump --------------------------------------------------------------- */

/* Writes the stable, human-readable dump used by golden tests. */
void ir_dump(const ir_module *m, FILE *out);

#endif
