/*
 * export_onnx.h — a model (extract.h) as an ONNX model, encoded with
 * protobuf-c from the onnx.proto of Debian's libonnx-dev.  Prefix:
 * rt_export_onnx_.
 *
 * The graph (ONNX IR version 8, default-domain opset 17) computes what
 * rt_model_forward computes, to float rounding:
 *
 *   input   "input", float32 [N, C, H, W] (NCHW, ONNX's layout; N is the
 *           symbolic dimension "N"), C, H, W the model's in_channels,
 *           in_h, in_w, already normalised as rt_model_forward takes it,
 *           x = (raw - mean[c]) / std[c]: the normalisation is not in the
 *           graph.  The mean and deviation are in the model's metadata
 *           ("input_mean", "input_std", comma-separated, per channel), with
 *           the gene string ("genes").
 *   output  "logits", float32 [N, nclasses].
 *
 * Nodes: a Resize (linear, pytorch_half_pixel, output size from the
 * input's own N and C) when the subnet's resolution is not the input's;
 * every convolution a Conv with its batch norm folded into its weights and
 * bias (depthwise ones grouped); Relu and HardSwish; squeeze-excite as
 * GlobalAveragePool, two 1x1 Convs, Relu, HardSigmoid and Mul; shortcuts
 * as Add (a width-elastic identity shortcut Slices or Pads channels);
 * global pooling as GlobalAveragePool and Flatten; dense and final layers
 * as Gemm.  Nodes and values are named after the model's layers ("l3_dw",
 * "l3_se_gate", ...).
 *
 * A build configured without protobuf-c (configure --without-onnx, or
 * without libprotobuf-c-dev, protobuf-c-compiler and libonnx-dev) has the
 * functions below refuse with a message saying so.
 */
#ifndef ARCHD_RUNTIME_EXPORT_ONNX_H
#define ARCHD_RUNTIME_EXPORT_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/extract.h"

#define RT_EXPORT_ONNX_OPSET 17
#define RT_EXPORT_ONNX_IR_VERSION 8

/* 1 when this build writes ONNX, 0 when it was configured without. */
int rt_export_onnx_available(void);

/*
 * Encodes model `m` as an ONNX ModelProto into a malloc'd buffer (*out,
 * *len owned by the caller).  Returns 0, or -1 with a message in err: out
 * of memory, a weight not finite once batch norm is folded, or no ONNX
 * support in this build.
 */
int rt_export_onnx_encode(const rt_model *m, uint8_t **out, size_t *len, char *err,
			  size_t errlen);

/*
 * Encodes the model and writes it to `path` atomically with mode 0644 (the
 * directory must exist).  Returns 0, or -1 with a message in err ("PATH:
 * reason" for a failed write), the old file intact.
 */
int rt_export_onnx_save(const rt_model *m, const char *path, char *err, size_t errlen);

#endif
