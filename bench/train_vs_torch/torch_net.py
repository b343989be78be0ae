#!/usr/bin/python3
"""torch_net.py -- the PyTorch side of bench/train_vs_torch.

    /usr/bin/python3 torch_net.py PLAN BATCH THREADS REPS STEPS

PLAN is the text `snbench plan` prints (the subnet's active layers, the
shapes and rules of runtime/subnet.h).  Builds the same network as a
torch.nn.Module (channels-first, as PyTorch's CPU kernels expect), then, like
snbench, times REPS repetitions of STEPS training steps (zero_grad, forward,
cross-entropy with label smoothing 0.1, backward, SGD momentum 0.9 Nesterov,
weight decay 4e-5) and of STEPS no-grad eval forwards, after one warm-up
step each, on seeded random images and labels; prints the best
repetition's images/s as key=value lines, and the parameter count.
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

NCLASSES = 10


def act(name):
    return {"none": nn.Identity, "relu": nn.ReLU, "hswish": nn.Hardswish}[name]()


class SE(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1 = nn.Linear(c, r)
        self.fc2 = nn.Linear(r, c)

    def forward(self, x):
        s = x.mean((2, 3))
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s[:, :, None, None]


class MBConv(nn.Module):
    def __init__(self, cin, mid, cout, k, stride, a, expand, se_r, shortcut):
        super().__init__()
        layers = []
        if expand:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), act(a)]
        layers += [nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False),
                   nn.BatchNorm2d(mid), act(a)]
        if se_r:
            layers.append(SE(mid, se_r))
        layers += [nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.shortcut = shortcut

    def forward(self, x):
        y = self.body(x)
        return y + x if self.shortcut else y


class Resize(nn.Module):
    def __init__(self, res):
        super().__init__()
        self.res = res

    def forward(self, x):
        return F.interpolate(x, size=(self.res, self.res), mode="bilinear",
                             align_corners=False)


def build(lines):
    mods = []
    for line in lines:
        w = line.split()
        if not w:
            continue
        kind, a = w[0], w[1:]
        if kind == "input":
            in_c, res = int(a[0]), int(a[1])
        elif kind == "resize":
            mods.append(Resize(int(a[0])))
        elif kind == "conv":
            cin, cout, k, s = map(int, a[:4])
            mods += [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout),
                     act(a[4])]
        elif kind == "mbconv":
            cin, mid, cout, k, s = map(int, a[:5])
            mods.append(MBConv(cin, mid, cout, k, s, a[5], int(a[6]), int(a[7]), int(a[8])))
        elif kind == "pool":
            mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif kind == "fc":
            mods += [nn.Linear(int(a[0]), int(a[1])), act(a[2])]
        else:
            sys.exit(f"torch_net.py: unknown layer '{kind}'")
    return nn.Sequential(*mods), in_c, res


def best_ips(step, batch, reps, steps):
    step()
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, steps * batch / (time.perf_counter() - t0))
    return best


def main():
    plan, batch, threads, reps, steps = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(threads)
    torch.manual_seed(42)
    with open(plan) as f:
        net, in_c, res = build(f.readlines())
    x = torch.randn(batch, in_c, res, res)
    y = torch.randint(0, NCLASSES, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                          weight_decay=4e-5)

    def train_step():
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            net(x)

    print(f"torch_params={sum(p.numel() for p in net.parameters())}")
    print(f"torch_threads={torch.get_num_threads()}")
    net.train()
    print(f"torch_train_ips={best_ips(train_step, batch, reps, steps):.1f}", flush=True)
    net.eval()
    print(f"torch_infer_ips={best_ips(infer_step, batch, reps, steps):.1f}", flush=True)


if __name__ == "__main__":
    main()
