"""torch_bench.py — PyTorch's side of bench/infer: each subnet's model file
(runtime/extract.h's format) rebuilt as a torch module of the same layers
(Conv2d with BatchNorm2d in eval mode, as a PyTorch user would write it),
run under torch.no_grad on THREADS intra-op threads (one inter-op thread).

    /usr/bin/python3 torch_bench.py DIR NSUBNETS THREADS

Prints "diff i D" (max |logits - DIR/s{i}.logits| at batch 64) per subnet
and "ready", then answers each stdin line "SUBNET BATCH REPS" with one line
of REPS times in microseconds of a forward at that batch, after two
untimed warm-up runs.
"""
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CONV, MBCONV, RESIDUAL, DENSE, POOL, FC = range(6)  # ir_block, as compiler/ir.h orders it
ACT_NONE, ACT_RELU, ACT_HSWISH = range(3)


def read_model(path):
    b = open(path, "rb").read()
    assert b[:8] == b"ARCHDMDL", path
    cin, h, w, res, ncls, nl = struct.unpack_from("<6i", b, 32)
    (g,) = struct.unpack_from("<I", b, 72)
    off = 76 + g + 8 * cin
    layers = [struct.unpack_from("<16I", b, off + 64 * i) for i in range(nl)]
    off += 64 * nl
    (nw,) = struct.unpack_from("<Q", b, off)
    wts = np.frombuffer(b, dtype="<f4", count=nw, offset=off + 8)
    return dict(cin=cin, h=h, w=w, res=res, ncls=ncls), layers, wts


class Reader:
    def __init__(self, w):
        self.w, self.at = w, 0

    def take(self, *shape):
        n = int(np.prod(shape))
        v = torch.from_numpy(self.w[self.at:self.at + n].copy()).reshape(shape)
        self.at += n
        return v

    def bn(self, c):
        m = nn.BatchNorm2d(c, eps=1e-5)
        for t in (m.weight, m.bias, m.running_mean, m.running_var):
            t.data.copy_(self.take(c))
        return m


def conv(rd, k, cin, cout, stride, groups=1):
    m = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
    # [k*k*cin_g, cout] rows (ki*k + kj)*cin_g + ci -> [cout, cin_g, k, k]
    w = rd.take(k, k, cin // groups, cout).permute(3, 2, 0, 1)
    m.weight.data.copy_(w)
    return m


def act(a):
    return {ACT_RELU: nn.ReLU(), ACT_HSWISH: nn.Hardswish()}.get(a, nn.Identity())


class MBConv(nn.Module):
    def __init__(self, rd, l):
        super().__init__()
        kind, a, cin, cout, mid, se_r, k, stride, *_rest = l
        has_expand, shortcut = l[12], l[13]
        self.expand = nn.Sequential(conv(rd, 1, cin, mid, 1), rd.bn(mid), act(a)) if has_expand else nn.Identity()
        self.dw = nn.Sequential(conv(rd, k, mid, mid, stride, groups=mid), rd.bn(mid), act(a))
        self.se = None
        if se_r:
            s1 = nn.Conv2d(mid, se_r, 1)
            s1.weight.data.copy_(rd.take(mid, se_r).t().reshape(se_r, mid, 1, 1))
            s1.bias.data.copy_(rd.take(se_r))
            s2 = nn.Conv2d(se_r, mid, 1)
            s2.weight.data.copy_(rd.take(se_r, mid).t().reshape(mid, se_r, 1, 1))
            s2.bias.data.copy_(rd.take(mid))
            self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), s1, nn.ReLU(), s2, nn.Hardsigmoid())
        self.project = nn.Sequential(conv(rd, 1, mid, cout, 1), rd.bn(cout))
        self.shortcut = shortcut

    def forward(self, x):
        d = self.dw(self.expand(x))
        if self.se is not None:
            d = d * self.se(d)
        y = self.project(d)
        return y + x if self.shortcut else y


class Residual(nn.Module):
    def __init__(self, rd, l):
        super().__init__()
        kind, a, cin, cout, mid, se_r, k, stride, *_rest = l
        self.cin, self.cout, self.shortcut = cin, cout, l[13]
        self.body = nn.Sequential(conv(rd, k, cin, mid, stride), rd.bn(mid), nn.ReLU(),
                                  conv(rd, k, mid, cout, 1), rd.bn(cout))
        if self.shortcut == 2:
            self.proj = nn.Sequential(conv(rd, 1, cin, cout, stride), rd.bn(cout))

    def forward(self, x):
        y = self.body(x)
        if self.shortcut == 2:
            return F.relu(y + self.proj(x))
        c = min(self.cin, self.cout)
        y = torch.cat([y[:, :c] + x[:, :c], y[:, c:]], 1) if c < self.cout else y + x[:, :c]
        return F.relu(y)


class Dense(nn.Module):
    def __init__(self, rd, l):
        super().__init__()
        kind, a, cin, cout = l[:4]
        self.lin = nn.Linear(cin, cout, bias=kind == FC)
        self.lin.weight.data.copy_(rd.take(cin, cout).t())
        if kind == FC:
            self.lin.bias.data.copy_(rd.take(cout))
            self.bn = nn.Identity()
        else:
            self.bn = nn.BatchNorm1d(cout, eps=1e-5)
            for t in (self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var):
                t.data.copy_(rd.take(cout))
        self.act = act(a)

    def forward(self, x):
        if x.dim() == 4:  # the runtime flattens NHWC
            x = x.permute(0, 2, 3, 1).flatten(1)
        return self.act(self.bn(self.lin(x)))


class Net(nn.Module):
    def __init__(self, path):
        super().__init__()
        hdr, layers, wts = read_model(path)
        self.res, self.resize = hdr["res"], hdr["res"] != hdr["h"] or hdr["res"] != hdr["w"]
        rd, mods = Reader(wts), []
        for l in layers:
            kind, a, cin, cout, mid, se_r, k, stride = l[:8]
            if kind == CONV:
                mods.append(nn.Sequential(conv(rd, k, cin, cout, stride), rd.bn(cout), act(a)))
            elif kind == MBCONV:
                mods.append(MBConv(rd, l))
            elif kind == RESIDUAL:
                mods.append(Residual(rd, l))
            elif kind == POOL:
                mods.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)))
            else:
                mods.append(Dense(rd, l))
        assert rd.at == len(wts), path
        self.body = nn.Sequential(*mods)

    def forward(self, x):
        if self.resize:
            x = F.interpolate(x, size=(self.res, self.res), mode="bilinear", align_corners=False)
        return self.body(x)


def main():
    d, nsub, threads = sys.argv[1], *map(int, sys.argv[2:4])
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    print(f"version {torch.__version__}")
    nets = []
    with torch.no_grad():
        for i in range(nsub):
            net = Net(f"{d}/s{i}.model").eval()
            hdr, _, _ = read_model(f"{d}/s{i}.model")
            c, h, w = hdr["cin"], hdr["h"], hdr["w"]
            x = torch.from_numpy(np.fromfile(f"{d}/x_nchw.bin", dtype="<f4")).reshape(64, c, h, w)
            want = np.fromfile(f"{d}/s{i}.logits", dtype="<f4").reshape(64, -1)
            print(f"diff {i} {float(np.abs(net(x).numpy() - want).max()):.3g}")
            nets.append((net, x))
        print("ready", flush=True)
        for line in sys.stdin:
            i, n, reps = map(int, line.split())
            if not (0 <= i < nsub and 1 <= n <= 64 and reps >= 1):
                sys.exit(f"torch_bench: request '{line.strip()}': expected SUBNET BATCH REPS")
            net, x = nets[i]
            xb = x[:n].contiguous()
            net(xb)
            net(xb)
            t = []
            for _ in range(reps):
                t0 = time.perf_counter()
                net(xb)
                t.append((time.perf_counter() - t0) * 1e6)
            print(" ".join(f"{v:.2f}" for v in t), flush=True)


main()
