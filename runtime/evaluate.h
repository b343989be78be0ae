/*
 * evaluate.h — a subnet's batch-norm recalibration and its accuracy and
 * loss on a split.  Prefix: rt_eval_.
 *
 * Shared batch-norm statistics, trained while many subnets take turns, fit
 * none of them; every subnet is therefore recalibrated before it is
 * measured or extracted (OFA's practice): its running statistics are
 * replaced by the average over a fixed, seeded sample of training images
 * (unaugmented, the same sample on every run for a given seed), computed in
 * RT_BN_MODE_RECAL.  Recalibration writes the statistics the subnet's
 * active channels use and nothing else: no weight, no other subnet's
 * channels beyond those it shares.
 *
 * Evaluation runs the supernet in RT_BN_MODE_EVAL over every example of a
 * split, in order, in batches of the supernet's max batch; it leaves
 * weights and statistics untouched.  Both functions select the subnet in
 * the supernet (sn_supernet_set_subnet) and use it from the calling thread
 * only, like any supernet call.  rt_eval_model measures an extracted model
 * (extract.h) the same way, so a model file can be checked against the
 * subnet it was cut from.
 */
#ifndef ARCHD_RUNTIME_EVALUATE_H
#define ARCHD_RUNTIME_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/data.h"
#include "runtime/extract.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"

/* Images used for recalibration when the recipe does not say. */
#define RT_EVAL_CALIB_DEFAULT IR_CALIB_DEFAULT

/* What an evaluation measured. */
typedef struct rt_eval_result {
	int n;           /* examples evaluated */
	int correct;     /* with the label as the first arg-max */
	double accuracy; /* correct / n */
	double loss;     /* mean softmax cross-entropy (no smoothing) */
} rt_eval_result;

/* The recalibration sample size of a recipe: its calib_images, or
 * RT_EVAL_CALIB_DEFAULT when that is 0. */
int rt_eval_calib_images(const ir_recipe *recipe);

/*
 * Recalibrates subnet `sub`: its batch-norm running statistics become the
 * average over a sample of min(nimages, training examples) training images
 * drawn with `seed` (rt_data_sample), fed in near-equal batches of at most
 * the supernet's max batch so that every image weighs alike.  The data's
 * example shape must be the supernet's input.  Returns the number of images
 * used, or -1 with a message in err (no training examples, nimages < 1,
 * out of memory); then the statistics are unchanged.
 */
int rt_eval_recalibrate(sn_supernet *sn, const sn_subnet *sub,
			const rt_data *data, int nimages, uint64_t seed,
			char *err, size_t errlen);

/*
 * Evaluates subnet `sub` on `split` of `data` (whose example shape must be
 * the supernet's input) with the current statistics.  Returns 0 with *out
 * filled, or -1 with a message in err naming the split when it is empty.
 */
int rt_eval_subnet(sn_supernet *sn, const sn_subnet *sub, const rt_data *data,
		   rt_split split, rt_eval_result *out, char *err,
		   size_t errlen);

/*
 * Measures subnet `sub` as it would be deployed, leaving the supernet
 * exactly as it was: saves the statistics, recalibrates on `nimages`
 * training images drawn with `seed` (none when nimages is 0), evaluates on
 * `split`, and restores the statistics.  For callers that keep using the
 * supernet afterwards (training, search, transfer).  Returns 0 with *out
 * filled, or -1 with a message in err (see the two functions above, and
 * out of memory for the copy); the supernet is unchanged either way.
 */
int rt_eval_measure(sn_supernet *sn, const sn_subnet *sub, const rt_data *data,
		    rt_split split, int nimages, uint64_t seed,
		    rt_eval_result *out, char *err, size_t errlen);

/*
 * Evaluates a standalone model on `split` of `data`, in order, in batches
 * of up to `batch` examples (>= 1).  Returns 0 with *out filled, or -1 with
 * a message in err: the split is empty, the data's example shape or class
 * count is not the model's input or output, out of memory.
 */
int rt_eval_model(const rt_model *m, const rt_data *data, rt_split split,
		  int batch, rt_eval_result *out, char *err, size_t errlen);

#endif
