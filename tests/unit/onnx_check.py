"""onnx_check.py — the ONNX checker's verdict on exported models, used by
test_export_onnx and tests/integration/archc_export.sh.

    /usr/bin/python3 onnx_check.py MODEL.onnx...

For each model: onnx.checker.check_model with full_check (strict shape
inference), then what export_onnx.h promises: one input "input" of shape
[N, C, H, W] with N symbolic, one output "logits" of shape [N, classes],
opset 13 or newer, no BatchNormalization node (folded into the Convs).
Prints "ok PATH" per model; the first failure raises and exits 1.
"""
import sys

import onnx


def check(path):
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    g = m.graph
    assert [i.name for i in g.input] == ["input"], f"{path}: inputs {[i.name for i in g.input]}"
    assert [o.name for o in g.output] == ["logits"], f"{path}: outputs {[o.name for o in g.output]}"
    dims = g.input[0].type.tensor_type.shape.dim
    assert len(dims) == 4 and dims[0].dim_param == "N", f"{path}: input dims {dims}"
    out = g.output[0].type.tensor_type.shape.dim
    assert len(out) == 2 and out[0].dim_param == "N", f"{path}: output dims {out}"
    opset = {o.domain: o.version for o in m.opset_import}
    assert opset.get("", 0) >= 13, f"{path}: opset {opset}"
    ops = {n.op_type for n in g.node}
    assert "BatchNormalization" not in ops, f"{path}: batch norm not folded"
    print("ok", path)


for p in sys.argv[1:]:
    check(p)
