/*
 * extract.h — a subnet cut out of a supernet as a standalone compact model,
 * its forward pass, and its native file format.  Prefix: rt_model_.
 *
 * An rt_model holds everything needed to run one subnet without the IR or
 * the supernet: the layer list at the subnet's active shapes and one
 * contiguous float buffer of weights at those shapes (channels sliced,
 * dense kernels centre-cropped, depthwise kernels passed through the
 * supernet's kernel transforms, batch-norm running statistics as they were
 * in the supernet when extracted, normally just recalibrated for this
 * subnet: see evaluate.h).  Its logits equal the supernet's EVAL-mode
 * logits for the subnet to within float rounding (<= 1e-5 max abs on the
 * tests' spaces).  This is what the daemon serves as a subnet's weights and
 * what the ONNX and C exporters read.
 *
 * The network.  The input is [n, in_h, in_w, in_channels] floats (NHWC),
 * normalised as in training: x = (raw - in_mean[c]) / in_std[c] per
 * channel, raw being the value as the data set's file holds it (an IDX
 * byte 0..255, a CSV number); rt_model_forward takes x, already
 * normalised, and exporters may fold the normalisation into the first
 * layer.  When res differs from in_h or in_w, x is first resized
 * bilinearly to res x res (ops.h, rt_resize_forward).  Then the layers
 * run in order, each taking the previous one's output:
 *
 *   CONV      y = act(BN(conv k x k, stride, pad k/2 (x, W)))
 *   MBCONV    e = has_expand ? act(BN1(x W1)) : x        (1x1, cin -> mid)
 *             d = act(BN2(depthwise k x k, stride, "same" (e, K)))
 *             d = se_r ? d * hsigmoid(relu(pool(d) S1 + s1) S2 + s2) : d
 *             y = BN3(d W3) (+ x when shortcut == 1; then cin == cout)
 *   RESIDUAL  a = relu(BN1(conv k x k, stride (x, W1)))    (cin -> mid)
 *             b = BN2(conv k x k, stride 1 (a, W2))        (mid -> cout)
 *             shortcut == 2: y = relu(b + BN3(conv 1x1, stride (x, W3)))
 *             shortcut == 1: y = relu(b + x) over the first min(cin, cout)
 *                            channels, relu(b) on the rest (a width-elastic
 *                            identity shortcut; stride is then 1)
 *   POOL      y = mean over the h x w pixels            (cout == cin)
 *   DENSE     y = act(BN(x W))
 *   FC        y = act(x W + bias)                       (the last is the
 *                                                         logits, cout ==
 *                                                         nclasses)
 *
 * BN(z) = gamma (z - mean) / sqrt(var + 1e-5) + beta per channel.  `act` is
 * the layer's activation (RESIDUAL's is always relu).  h, w are a layer's
 * input size and ho, wo its output size.
 *
 * Weights: one float32 buffer, the layers' tensors in layer order and,
 * within a layer, in the order below; every matrix row-major and compact
 * (row stride = its number of columns); a BN is four vectors of C floats:
 * gamma, beta, running mean, running variance.
 *
 *   CONV      W [k*k*cin, cout] (row (ki*k + kj)*cin + ci), BN(cout)
 *   MBCONV    [W1 [cin, mid], BN1(mid)]   when has_expand
 *             K [k*k, mid] (row ki*k + kj), BN2(mid)
 *             [S1 [mid, se_r], s1 [se_r], S2 [se_r, mid], s2 [mid]]  when se_r
 *             W3 [mid, cout], BN3(cout)
 *   RESIDUAL  W1 [k*k*cin, mid], BN1(mid), W2 [k*k*mid, cout], BN2(cout),
 *             [W3 [cin, cout], BN3(cout)]  when shortcut == 2
 *   POOL      nothing
 *   DENSE     W [cin, cout], BN(cout)
 *   FC        W [cin, cout], bias [cout]
 *
 * File format (version 1); integers little-endian, floats IEEE-754 binary32
 * (weights) or binary64 (costs) little-endian:
 *
 *   offset  size          field
 *   0       8             magic "ARCHDMDL"
 *   8       4             version (RT_MODEL_VERSION)
 *   12      4             reserved, 0
 *   16      16            supernet key of the task it was cut from
 *   32      4 x 6         in_channels, in_h, in_w, res, nclasses, nlayers
 *   56      8 x 2         MACs and parameters at batch 1 (sn_plan_cost)
 *   72      4             gene string length g (< RT_MODEL_GENES_MAX)
 *   76      g             the gene string (subnet.h): printable ASCII,
 *                         no NUL
 *   76+g    4 x C x 2     input normalisation: in_mean[C], in_std[C]
 *                         (C = in_channels; every std positive, all finite)
 *   ...     64 x nlayers  layers: 16 u32 each, in this order: kind
 *                         (ir_block), act (ir_act), cin, cout, mid, se_r,
 *                         k, stride, h, w, ho, wo, has_expand, shortcut,
 *                         reserved 0, reserved 0
 *   ...     8             nweights
 *   ...     4 x nweights  the weights, laid out as above
 *   end-8   8             XXH3-64 of every byte before it
 *
 * The loader checks, in order: the magic, the version (a newer one is
 * refused), the length against the counts declared, the checksum, the
 * input (at most RT_MODEL_IMAGE_MAX floats an image), the normalisation,
 * then every layer (kinds and activations known, sizes positive and
 * bounded, shapes chaining from the input to nclasses, spatial sizes those
 * of the stride, nweights the sum the layers need), every weight finite and
 * every folded one too (no negative batch-norm variance), and last the
 * workspace one image needs (at most RT_MODEL_IMAGE_MAX floats: the sizes
 * a file declares are not backed by its length, and no caller should be
 * asked to allocate tens of gigabytes for a 300-byte file); any failure
 * refuses the file with a message naming it.  Files are written
 * atomically (statedir.h).
 *
 * Ownership: rt_model_extract, rt_model_decode and rt_model_load return a
 * model the caller frees with rt_model_free.  A model is immutable once
 * built (a caller sets in_mean and in_std first, if at all), so any number
 * of threads may run rt_model_forward on it at once, each with its own
 * workspace.
 */
#ifndef ARCHD_RUNTIME_EXTRACT_H
#define ARCHD_RUNTIME_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "compiler/ir.h"
#include "runtime/subnet.h"
#include "runtime/supernet.h"

#define RT_MODEL_VERSION 1
#define RT_MODEL_MAGIC "ARCHDMDL"
/* Longest gene string a file may hold. */
#define RT_MODEL_GENES_MAX SN_GENE_STRLEN
/* Most floats one image's input, and its workspace, may take (256 MiB
 * each): a 224x224 RGB network needs a few million. */
#define RT_MODEL_IMAGE_MAX ((size_t)1 << 26)

/* One layer at its active shape; see the header comment for the meaning. */
typedef struct rt_model_layer {
	ir_block kind;
	ir_act act;
	int cin, cout;
	int mid;        /* MBCONV expanded / RESIDUAL inner channels, else 0 */
	int se_r;       /* MBCONV SE reduction channels, 0 without SE */
	int k, stride;  /* kernel (0 for POOL, DENSE, FC) and stride */
	int h, w;       /* input spatial size */
	int ho, wo;     /* output spatial size */
	int has_expand; /* MBCONV: 1 when it has the 1x1 expand conv */
	int shortcut;   /* MBCONV: 1 identity; RESIDUAL: 1 identity, 2 projection */
	size_t off;     /* first weight of the layer in rt_model.weights */
	size_t nweights;
} rt_model_layer;

/* Private to the runtime (extract_infer.c). */
typedef struct rt_model_fused rt_model_fused;

typedef struct rt_model {
	uint8_t supernet_key[16];
	int in_channels, in_h, in_w; /* the input the model takes */
	/* [in_channels] each: the input normalisation (see above); extraction
	 * sets 0 and 1, a caller that knows the data set sets its own. */
	float *in_mean, *in_std;
	int res;                     /* the side it resizes the input to */
	int nclasses;
	double macs, params;         /* at batch 1 */
	char *genes;                 /* the subnet's gene string */
	int nlayers;
	rt_model_layer *layers;
	size_t nweights;
	float *weights;
	/* The weights as the forward runs them (batch norm folded), built from
	 * the above when the model is; owned. */
	rt_model_fused *fused;
} rt_model;

/*
 * Cuts subnet `sub` out of `sn` with the supernet's current weights and
 * batch-norm statistics (recalibrate first, evaluate.h), tagged with the
 * task's supernet `key`.  The supernet's selected subnet becomes `sub`;
 * its weights and statistics are not changed.  Returns the model, or NULL
 * with a message in err when memory is short.
 */
rt_model *rt_model_extract(sn_supernet *sn, const sn_subnet *sub,
			   const uint8_t key[16], char *err, size_t errlen);

/* Frees a model; NULL is fine. */
void rt_model_free(rt_model *m);

/* Floats of workspace rt_model_forward needs at batch n (n >= 1): n times
 * a per-image size, whatever the pool's thread count. */
size_t rt_model_workspace(const rt_model *m, int n);

/*
 * Runs the model on x [n, in_h, in_w, in_channels] and writes the logits
 * [n, nclasses] (row-major, compact).  `ws` holds rt_model_workspace(m, n)
 * floats; the model itself is only read.  It runs the folded weights
 * (m->fused) with the inference kernels (ops.h): a batch of n >= 2 is cut
 * into one contiguous part per pool thread, each run through the whole
 * network in small groups of images that stay in cache; one image runs on
 * the calling thread.  Each image's logits are bitwise the same whatever
 * n, the split and the thread count.
 */
void rt_model_forward(const rt_model *m, const float *x, int n, float *ws,
		      float *logits);

/*
 * Serialises the model in the file format above into a malloc'd buffer
 * (*out, *len owned by the caller).  Returns 0, or -1 on out-of-memory.
 */
int rt_model_encode(const rt_model *m, uint8_t **out, size_t *len);

/*
 * Parses a buffer in the file format above; `name` (a path or "request
 * body") prefixes every message.  Returns the model, or NULL with
 * "NAME: reason" in err: not a model file, a newer version, truncated,
 * trailing bytes, checksum mismatch, a malformed layer list (which layer
 * and why), out of memory.
 */
rt_model *rt_model_decode(const uint8_t *buf, size_t len, const char *name,
			  char *err, size_t errlen);

/* Writes the model to `path` atomically with mode 0644 (the directory must
 * exist).  Returns 0, or -1 with "PATH: reason" in err, the old file intact. */
int rt_model_save(const rt_model *m, const char *path, char *err,
		  size_t errlen);

/* Reads and decodes `path`.  Returns the model, or NULL with "PATH: reason"
 * in err (a missing or unreadable file, or any refusal of rt_model_decode). */
rt_model *rt_model_load(const char *path, char *err, size_t errlen);

#endif
