/*
 * export_c.h — a model (extract.h) as one dependency-free C99 source file
 * and its header, for microcontrollers and embedded Linux.  Prefix:
 * rt_export_c_.
 *
 * The generated pair NAME.c / NAME.h defines one function,
 *
 *     int NAME_predict(const float *input, float *logits);
 *
 * computing exactly what rt_model_forward computes at batch 1 (to float
 * rounding: the order of the sums differs): `input` is one image
 * [in_h][in_w][in_channels] (NHWC, channels innermost) already normalised
 * as rt_model_forward takes it, x = (raw - mean[c]) / std[c]; the
 * normalisation is NOT applied inside, and the header gives the mean and
 * standard deviation as NAME_INPUT_MEAN / NAME_INPUT_STD initialisers.
 * When the subnet's resolution differs from the input's, the input is
 * resized bilinearly inside, as the runtime does.  `logits` receives
 * nclasses floats; the return value is the index of the largest (the first
 * on ties).
 *
 * The file holds the weights as `static const float` arrays with every
 * batch norm folded into the preceding convolution's weights and a bias,
 * and one static scratch buffer; it allocates nothing and needs nothing
 * but the C99 freestanding headers (no libm call remains once BN is
 * folded).  It compiles cleanly with `cc -std=c99 -Wall -Wextra -Werror`.
 * The scratch buffer holds the activations, placed by a first-fit plan over
 * their lifetimes (a tensor is freed once nothing later reads it; BN,
 * activations, the SE rescale and the residual adds work in place), so its
 * size is the subnet's peak activation memory in that plan.  Because the
 * buffer is static, NAME_predict is not reentrant.
 */
#ifndef ARCHD_RUNTIME_EXPORT_C_H
#define ARCHD_RUNTIME_EXPORT_C_H

#include <stddef.h>
#include <stdio.h>

#include "runtime/extract.h"

/* Longest identifier NAME accepted. */
#define RT_EXPORT_C_NAME_MAX 64

/* What the generated code needs, in bytes; the header states both. */
typedef struct rt_export_c_info {
	size_t flash; /* the weight arrays (floats after BN folding) x 4 */
	size_t ram;   /* the static scratch buffer */
} rt_export_c_info;

/*
 * Derives the C identifier of an output path: its last component with
 * every character outside [A-Za-z0-9_] replaced by '_' and "m_" put in
 * front of a leading digit ("out/my-net" -> "my_net").  Returns 0, or -1
 * with a message in err when the component is empty or the name would be
 * longer than RT_EXPORT_C_NAME_MAX.
 */
int rt_export_c_name(const char *path, char *name, size_t namelen, char *err,
		     size_t errlen);

/*
 * Writes the source to `src` and the header to `hdr` for model `m` under
 * the identifier `name` (a valid C identifier; the source includes
 * "NAME.h").  Fills *info when not NULL.  Returns 0, or -1 with a message
 * in err: a weight is not finite once BN is folded, or a write failed.
 */
int rt_export_c_write(const rt_model *m, const char *name, FILE *src, FILE *hdr,
		      rt_export_c_info *info, char *err, size_t errlen);

/*
 * Writes BASE.c and BASE.h (the identifier from rt_export_c_name(BASE)),
 * each atomically with mode 0644 (the directory must exist).  Returns 0,
 * or -1 with "PATH: reason" in err (neither file is then left half
 * written; the first may already be in place when the second fails).
 */
int rt_export_c_save(const rt_model *m, const char *base, rt_export_c_info *info,
		     char *err, size_t errlen);

#endif
