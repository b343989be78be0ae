/*
 * util_export.h — what the exporters' tests share.  Prefix: ue_.
 */
#ifndef ARCHD_TESTS_UTIL_EXPORT_H
#define ARCHD_TESTS_UTIL_EXPORT_H

#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/extract.h"
#include "runtime/rng.h"
#include "runtime/supernet.h"

/*
 * A supernet on space s with `nclasses` classes taking h x w inputs in
 * batches of up to max_batch, whose every batch-norm parameter and
 * statistic is perturbed away from its initial value (variances kept
 * positive), so a misplaced or wrongly folded tensor shows.  Aborts on
 * failure; free with sn_supernet_free.
 */
sn_supernet *ue_perturbed_supernet(const ir_space *s, int nclasses, int h, int w,
				   int max_batch, uint64_t seed);

/*
 * Subnet number i of the order the exporters' tests walk (0 the largest, 1
 * the smallest, then random ones drawn from rng), cut out of sn under
 * `key` and run on the n NHWC inputs x: returns the model (free with
 * rt_model_free), its n rows of logits written to logits.  Aborts on
 * failure.
 */
rt_model *ue_cut_nth(sn_supernet *sn, int i, rt_rng *rng, const uint8_t key[16], const float *x,
		     int n, float *logits);

/* The index of the largest of v[0, n), the first on ties. */
int ue_argmax(const float *v, int n);

/* Writes len bytes to path; aborts on failure. */
void ue_write_file(const char *path, const void *data, size_t len);

#endif
