#!/usr/bin/python3
"""ops_torch.py -- PyTorch's side of tests/unit/test_ops_torch.c.

    /usr/bin/python3 ops_torch.py DIR

DIR/manifest has one line per case: `ID OP key=value ...` (integer or float
parameters).  The case's inputs are DIR/ID.NAME.f32 (raw little-endian
float32, in the runtime's layouts: NHWC activations, [rows, ld] weights);
this script computes the same op in float64 with torch autograd, the
gradient of sum(y * r) (so dy = r), and writes each reference output as
DIR/ID.NAME.ref (raw little-endian float64, same layout as the C side's
buffer).  Parameter gradients are those of the whole (wider) weight buffer:
entries outside the active slice are 0, as the C side must leave them.
Exit status 0 on success; an unknown op or a missing file is an error.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
D = sys.argv[1]


def load(cid, name, shape, grad=False):
    a = np.fromfile(os.path.join(D, f"{cid}.{name}.f32"), dtype="<f4")
    t = torch.from_numpy(a.astype(np.float64)).reshape(shape)
    return t.requires_grad_(grad)


def save(cid, name, t):
    a = t.detach().to(torch.float64).contiguous().numpy().astype("<f8")
    a.tofile(os.path.join(D, f"{cid}.{name}.ref"))


def nchw(t):  # [n, h, w, c] -> [n, c, h, w]
    return t.permute(0, 3, 1, 2)


def nhwc(t):  # [n, c, h, w] -> [n, h, w, c]
    return t.permute(0, 2, 3, 1)


def backprop(cid, y, r, outs):
    (y * r).sum().backward()
    save(cid, "y", y)
    for name, t in outs.items():
        save(cid, name, t.grad)


def op_conv2d(cid, n, h, w, cin, cout, k, stride, pad, ldw):
    x = load(cid, "x", (n, h, w, cin), True)
    wf = load(cid, "w", (k, k, cin, ldw), True)
    # our [k*k*cin, cout] rows (ki, kj, ci) -> torch [cout, cin, k, k]
    wt = wf[..., :cout].permute(3, 2, 0, 1)
    y = nhwc(F.conv2d(nchw(x), wt, stride=stride, padding=pad))
    r = load(cid, "r", tuple(y.shape))
    backprop(cid, y, r, {"dx": x, "dw": wf})


def op_linear(cid, m, cin, cout, ldw):
    x = load(cid, "x", (m, cin), True)
    wf = load(cid, "w", (cin, ldw), True)
    bf = load(cid, "b", (ldw,), True)
    y = x @ wf[:, :cout] + bf[:cout]
    r = load(cid, "r", (m, cout))
    backprop(cid, y, r, {"dx": x, "dw": wf, "db": bf})


def op_dwconv(cid, n, h, w, c, k, stride, ldw):
    x = load(cid, "x", (n, h, w, c), True)
    wf = load(cid, "w", (k, k, ldw), True)
    bf = load(cid, "b", (ldw,), True)
    wt = wf[..., :c].permute(2, 0, 1).unsqueeze(1)  # [c, 1, k, k]
    y = nhwc(F.conv2d(nchw(x), wt, bf[:c], stride=stride, padding=k // 2, groups=c))
    r = load(cid, "r", tuple(y.shape))
    backprop(cid, y, r, {"dx": x, "dw": wf, "db": bf})


def op_bn(cid, m, c, mode, seen):
    x = load(cid, "x", (m, c), True)
    g = load(cid, "gamma", (c,), True)
    b = load(cid, "beta", (c,), True)
    rm = load(cid, "rmean", (c,))
    rv = load(cid, "rvar", (c,))
    r = load(cid, "r", (m, c))
    # mode 0 TRAIN (momentum 0.1), 1 EVAL, 2 RECAL: a cumulative average
    # over seen + 1 batches is an update with momentum 1 / (seen + 1)
    mom = 0.1 if mode == 0 else 1.0 / (seen + 1)
    y = F.batch_norm(x, rm, rv, g, b, training=mode != 1, momentum=mom, eps=1e-5)
    backprop(cid, y, r, {"dx": x, "dgamma": g, "dbeta": b})
    save(cid, "rmean", rm)
    save(cid, "rvar", rv)


def op_bn_act(cid, m, c, mode, act):
    """Batch norm fused with the activation after it (0 none, 1 relu, 2 hswish)."""
    x = load(cid, "x", (m, c), True)
    g = load(cid, "gamma", (c,), True)
    b = load(cid, "beta", (c,), True)
    rm = load(cid, "rmean", (c,))
    rv = load(cid, "rvar", (c,))
    f = {0: lambda t: t, 1: F.relu, 2: F.hardswish}[act]
    y = f(F.batch_norm(x, rm, rv, g, b, training=mode != 1, momentum=0.1, eps=1e-5))
    backprop(cid, y, load(cid, "r", (m, c)), {"dx": x, "dgamma": g, "dbeta": b})
    save(cid, "rmean", rm)
    save(cid, "rvar", rv)


def op_act(cid, n, kind):
    x = load(cid, "x", (n,), True)
    f = {0: F.relu, 1: F.hardswish, 2: F.hardsigmoid}[kind]
    y = f(x)
    backprop(cid, y, load(cid, "r", (n,)), {"dx": x})


def op_se(cid, n, hw, c, r, ldw1, ldw2):
    x = load(cid, "x", (n, hw, c), True)
    w1 = load(cid, "w1", (c, ldw1), True)
    b1 = load(cid, "b1", (ldw1,), True)
    w2 = load(cid, "w2", (r, ldw2), True)
    b2 = load(cid, "b2", (ldw2,), True)
    hid = F.relu(x.mean(1) @ w1[:, :r] + b1[:r])
    gate = F.hardsigmoid(hid @ w2[:, :c] + b2[:c])
    y = x * gate.unsqueeze(1)
    backprop(cid, y, load(cid, "r", (n, hw, c)),
             {"dx": x, "dw1": w1, "db1": b1, "dw2": w2, "db2": b2})


def op_pool(cid, n, hw, c):
    x = load(cid, "x", (n, hw, c), True)
    y = x.mean(1)
    backprop(cid, y, load(cid, "r", (n, c)), {"dx": x})


def op_xent(cid, n, k, smoothing):
    z = load(cid, "z", (n, k), True)
    lab = load(cid, "labels", (n,)).long()
    loss = F.cross_entropy(z, lab, label_smoothing=smoothing)
    loss.backward()
    save(cid, "loss", loss.reshape(1))
    save(cid, "dz", z.grad)


def op_kl(cid, n, k):
    z = load(cid, "z", (n, k), True)
    q = load(cid, "q", (n, k))
    loss = F.kl_div(F.log_softmax(z, 1), q, reduction="batchmean")
    loss.backward()
    save(cid, "loss", loss.reshape(1))
    save(cid, "dz", z.grad)
    save(cid, "p", F.softmax(z, 1))


def op_resize(cid, n, h, w, c, ho, wo):
    x = load(cid, "x", (n, h, w, c), True)
    y = nhwc(F.interpolate(nchw(x), size=(ho, wo), mode="bilinear", align_corners=False))
    backprop(cid, y, load(cid, "r", (n, ho, wo, c)), {"dx": x})


def op_add(cid, n):
    a = load(cid, "a", (n,), True)
    b = load(cid, "b", (n,), True)
    # b's gradient already holds gb0: backward must add to it
    b.grad = load(cid, "gb0", (n,))
    y = a + b
    backprop(cid, y, load(cid, "r", (n,)), {"da": a, "db": b})


OPS = {name[3:]: f for name, f in globals().items() if name.startswith("op_")}


def main():
    with open(os.path.join(D, "manifest")) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            cid, op = words[0], words[1]
            kw = {}
            for w in words[2:]:
                key, val = w.split("=")
                kw[key] = float(val) if "." in val else int(val)
            if op not in OPS:
                sys.exit(f"ops_torch.py: unknown op '{op}' in case {cid}")
            OPS[op](cid, **kw)


if __name__ == "__main__":
    main()
