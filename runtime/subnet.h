/*
 * subnet.h — a subnet of a search space: one choice per gene, its textual
 * form, and the active shape of every layer it implies.  Prefix: sn_.
 *
 * A subnet is an index into each gene's sorted values (ir_gene.values), in
 * gene-table order.  Every vector of in-range indices is a valid subnet:
 * depth keeps the first d blocks of a stage, kernel is a centre crop,
 * expand/out keep the first channels, resolution resizes the input.
 *
 * Gene string (sn_subnet_format / sn_subnet_parse).  Genes are grouped by
 * what they control, groups separated by ':' and written in this order,
 * each a letter then the chosen VALUES (not indices) separated by ',', in
 * gene-table order within the group; a group with no gene is left out:
 *
 *   r  resolution          d  stage depths        k  kernel sizes
 *   e  expansion ratios    w  output widths
 *
 * e.g. "r28:d3,4:k7,5,3,7,7,7,3:e4,2,3,4,4,4,4" (values print with %g).  A
 * gene's group is the first use found in: resolution, stage depths, layer
 * kernels, layer expands, layer widths.  The string is whitespace-free and
 * fits in SN_GENE_STRLEN bytes for any space this header accepts.
 *
 * Active shapes (sn_plan_build): for each layer of the space, whether the
 * subnet uses it and with what channels, kernel and spatial size, so the
 * supernet, the cost model and the exporter agree on one definition:
 * - MBCONV: mid = max(1, round(in * expand)) with `in` the active input
 *   channels; no expand conv when the space's largest expand is 1; SE
 *   reduction r = max(1, mid / 4); identity shortcut when stride 1 and the
 *   active in == out.
 * - RESIDUAL: mid = max(1, round(out * expand)); a 1x1 projection shortcut
 *   (+BN) unless stride 1 and in == out at the space's largest shape.
 * - CONV/RESIDUAL pad k/2; MBCONV's depthwise conv is "same" padded.
 */
#ifndef ARCHD_RUNTIME_SUBNET_H
#define ARCHD_RUNTIME_SUBNET_H

#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/rng.h"

/* Limits of the spaces the runtime accepts (sn_space_check). */
#define SN_MAX_GENES IR_MAX_GENES
#define SN_MAX_VALUES IR_MAX_GENE_VALUES
#define SN_MAX_LAYERS IR_MAX_LAYERS
/* Bytes a formatted gene string may need, NUL included. */
#define SN_GENE_STRLEN (SN_MAX_GENES * 24 + 16)

typedef struct sn_subnet {
	int ngenes;
	uint8_t g[SN_MAX_GENES]; /* index into genes[i].values */
} sn_subnet;

/*
 * Checks that the runtime can build this space: gene and layer counts
 * within the limits above, gene indices in range, odd kernels, positive
 * channels, a stem/stage layout whose shapes chain.  Returns 0, or -1 with
 * a message naming the space and the problem in err.
 */
int sn_space_check(const ir_space *s, int nclasses, char *err, size_t errlen);

/* The largest subnet (last value of every gene). */
void sn_subnet_max(const ir_space *s, sn_subnet *out);
/* The smallest subnet (first value of every gene). */
void sn_subnet_min(const ir_space *s, sn_subnet *out);
/* A uniformly random subnet drawn from `rng`. */
void sn_subnet_random(const ir_space *s, rt_rng *rng, sn_subnet *out);
/* 1 when both choose the same values. */
int sn_subnet_equal(const sn_subnet *a, const sn_subnet *b);
/* The chosen value of gene i. */
double sn_subnet_value(const ir_space *s, const sn_subnet *sub, int gene);

/* Writes the gene string (see above) into buf; returns its length, or -1
 * when it does not fit. */
int sn_subnet_format(const ir_space *s, const sn_subnet *sub, char *buf,
		     size_t buflen);

/*
 * Parses a gene string.  Returns 0, or -1 with a message in err that quotes
 * the offending group or value (unknown group letter, repeated group, wrong
 * number of values, a value outside its gene's domain, missing groups).
 */
int sn_subnet_parse(const ir_space *s, const char *str, sn_subnet *out,
		    char *err, size_t errlen);

/*
 * Parses a subnet spec as the command line takes it: "max", "min",
 * "random:SEED" (SEED a decimal integer) or a gene string.  Returns 0 or -1
 * with a message in err.
 */
int sn_subnet_parse_spec(const ir_space *s, const char *spec, sn_subnet *out,
			 char *err, size_t errlen);

/* --- active shapes ---------------------------------------------------------- */

typedef struct sn_layer_plan {
	int active;       /* 0: skipped by elastic depth */
	int cin, cout;    /* active channels */
	int mid;          /* MBCONV expanded / RESIDUAL inner channels */
	int se_r;         /* MBCONV SE reduction channels, 0 without SE */
	int k;            /* active kernel, 0 when none */
	int h, w;         /* input spatial size */
	int ho, wo;       /* output spatial size */
	int shortcut;     /* MBCONV identity / RESIDUAL: 1 identity, 2 projection */
} sn_layer_plan;

typedef struct sn_plan {
	int res;          /* input resolution of the subnet */
	int nlayers;
	sn_layer_plan layer[SN_MAX_LAYERS];
	int nclasses;
} sn_plan;

/*
 * The active shape of every layer for subnet `sub` of a checked space (see
 * sn_space_check), with a head FC of out_channels 0 given nclasses.  The
 * largest shapes of a layer are those of sn_subnet_max.
 */
void sn_plan_build(const ir_space *s, int nclasses, const sn_subnet *sub,
		   sn_plan *plan);

/*
 * The active shape of one layer given its input side h and channels cin and
 * its chosen kernel k, expansion e and output channels cout: the rules
 * above, written once for sn_plan_build and for whoever enumerates shapes
 * without a whole subnet (the latency table).  POOL's cout is cin; POOL,
 * DENSE and FC have k 0.
 */
void sn_layer_plan_fill(const ir_layer *l, int h, int cin, int k, double e, int cout,
			sn_layer_plan *p);
/* Largest MBCONV mid / RESIDUAL inner channels of a layer. */
int sn_layer_max_mid(const ir_layer *l);

/* Exact cost of a subnet at batch 1: multiply-accumulates of its convs,
 * linears and SE, and its parameter count (weights, biases, BN scales and
 * shifts; not the supernet-only kernel-transform matrices). */
typedef struct sn_cost {
	double macs;
	double params;
} sn_cost;

void sn_plan_cost(const ir_space *s, const sn_plan *plan, sn_cost *out);

#endif
