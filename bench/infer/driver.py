"""driver.py — bench/infer's timing loop: starts every engine's worker once,
then asks them in turn for timings, so that a change in the machine's load
hits all engines alike, and prints one table.

    /usr/bin/python3 driver.py DIR NSUBNETS THREADS [--rounds R] [--reps K]
        [--json | --markdown] [--save FILE] --engine NAME=COMMAND...

DIR holds what `infbench prepare` wrote (subnets.txt is its output).  Each
COMMAND is a shell command starting one worker; with "{i}" in it, one
worker per subnet.  A worker may print "version V" (its engine's, shown
in the table's heading), prints "diff i D" lines (its logits against the
runtime's), then "ready", then answers each "SUBNET BATCH REPS" line
with REPS times in microseconds (after its own untimed warm-up).  Every
worker runs with THREADS threads: the thread variables of OpenMP, OpenBLAS
and MKL are set for it, and the workers set their own intra-op counts.

R rounds (default 8), each one request of K repetitions (default 15) per
subnet, batch (1, 64) and engine, the engines' order shuffled (seeded)
from one request to the next: a fixed rotation kept each engine behind
the same other one, whose threads may still be spinning when it starts
(the runtime, right after PyTorch, measured up to 1.5x slower at batch 64
than the same build in the next slot).  Reported per cell: the median and the minimum of
the R x K times.  Ratios are other/"rt" medians: above 1, the runtime is
faster.  --save also writes the JSON to a file.  Exits 1 when an engine's
logits are more than 1e-4 from the runtime's.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys

BATCHES = (1, 64)
TOLERANCE = 1e-4
# Column order and headings of the known engines; others follow by name.
KNOWN = {"rt": "ours", "base": "base", "c": "C", "ort": "ORT", "torch": "torch"}


class Worker:
    def __init__(self, name, cmd, env):
        self.name = name
        self.cmd = cmd
        self.p = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=env, text=True, bufsize=1)
        self.diffs = {}
        self.version = None
        for line in self.p.stdout:
            f = line.split()
            if f[:1] == ["ready"]:
                return
            if len(f) == 2 and f[0] == "version":
                self.version = f[1]
            if len(f) == 3 and f[0] == "diff":
                self.diffs[int(f[1])] = float(f[2])
        sys.exit(f"bench/infer: engine {name} ({cmd}) stopped before it was ready")

    def time(self, subnet, batch, reps):
        self.p.stdin.write(f"{subnet} {batch} {reps}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        try:
            t = [float(v) for v in line.split()]
        except ValueError:
            t = []
        if len(t) != reps:
            sys.exit(f"bench/infer: engine {self.name} ({self.cmd}) gave '{line.strip()[:60]}' "
                     f"for {reps} timings")
        return t

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def parse_args():
    ap = argparse.ArgumentParser(description="bench/infer's timing loop")
    ap.add_argument("dir")
    ap.add_argument("nsubnets", type=int)
    ap.add_argument("threads", type=int)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--reps", type=int, default=15)
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON instead of the table")
    out.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--save", metavar="FILE", help="also write the JSON to FILE")
    ap.add_argument("--engine", action="append", default=[], metavar="NAME=COMMAND")
    a = ap.parse_args()
    if a.nsubnets < 1 or a.threads < 1 or a.rounds < 1 or a.reps < 1:
        ap.error("NSUBNETS, THREADS, --rounds and --reps must be positive")
    engines = []
    for e in a.engine:
        name, sep, cmd = e.partition("=")
        if not sep or not name or not cmd:
            ap.error(f"--engine '{e}': expected NAME=COMMAND")
        engines.append((name, cmd))
    if "rt" not in [n for n, _ in engines]:
        ap.error("no --engine rt=...: the ratios are to the runtime")
    return a, engines


def subnets(d, n):
    """Genes and MACs of each subnet, from infbench prepare's output."""
    genes, macs = {}, {}
    with open(os.path.join(d, "subnets.txt")) as f:
        for line in f:
            p = line.split()
            if p[:1] == ["subnet"]:
                genes[int(p[1])] = p[2]
                macs[int(p[1])] = int(p[3].split("=")[1])
    if any(i not in genes for i in range(n)):
        sys.exit(f"bench/infer: {d}/subnets.txt lists {len(genes)} subnets, not {n}: "
                 f"run infbench prepare with {n}")
    return [(genes[i], macs[i]) for i in range(n)]


def main():
    a, specs = parse_args()
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ARCHD_THREADS"):
        env[v] = str(a.threads)
    workers = {}  # name -> [worker per subnet]
    for name, cmd in specs:
        if "{i}" in cmd:
            workers[name] = [Worker(name, cmd.replace("{i}", str(i)), env) for i in range(a.nsubnets)]
        else:
            workers[name] = [Worker(name, cmd, env)] * a.nsubnets
    names = [n for n in KNOWN if n in workers] + [n for n in workers if n not in KNOWN]
    samples = {(n, i, b): [] for n in names for i in range(a.nsubnets) for b in BATCHES}
    per_round = {k: [] for k in samples}  # each round's median
    shuffle = random.Random(20261206)
    for _ in range(a.rounds):
        for i in range(a.nsubnets):
            for b in BATCHES:
                order = list(names)
                shuffle.shuffle(order)
                for n in order:
                    t = workers[n][i].time(i, b, a.reps)
                    samples[(n, i, b)] += t
                    per_round[(n, i, b)].append(statistics.median(t))
    for ws in workers.values():
        for w in set(ws):
            w.close()

    subs = subnets(a.dir, a.nsubnets)
    rows, bad = [], False
    for i, (genes, macs) in enumerate(subs):
        row = {"subnet": i, "genes": genes, "macs": macs, "ms": {}, "min_ms": {}, "ratio": {},
               "paired_ratio": {}, "max_abs_diff": {}}
        for n in names:
            d = workers[n][i].diffs.get(i if len(set(workers[n])) == 1 else 0)
            row["max_abs_diff"][n] = d
            bad |= d is None or d > TOLERANCE
            for b in BATCHES:
                t = samples[(n, i, b)]
                row["ms"].setdefault(n, {})[b] = statistics.median(t) / 1e3
                row["min_ms"].setdefault(n, {})[b] = min(t) / 1e3
        for n in names:
            if n != "rt":
                row["ratio"][n] = {b: row["ms"][n][b] / row["ms"]["rt"][b] for b in BATCHES}
                # within each round the engines ran back to back: a load
                # that comes and goes hits both sides of these ratios
                row["paired_ratio"][n] = {
                    b: statistics.median(o / r for o, r in zip(per_round[(n, i, b)],
                                                             per_round[("rt", i, b)]))
                    for b in BATCHES}
        rows.append(row)
    versions = {n: workers[n][0].version for n in names if workers[n][0].version}
    meta = {"threads": a.threads, "rounds": a.rounds, "reps": a.reps, "engines": names,
            "versions": versions, "samples_per_cell": a.rounds * a.reps}
    if a.save:
        with open(a.save, "w") as f:
            json.dump({"meta": meta, "subnets": rows}, f, indent=1)
            f.write("\n")
    if a.json:
        json.dump({"meta": meta, "subnets": rows}, sys.stdout, indent=1)
        print()
    elif a.markdown:
        markdown(rows, names, versions, a)
    else:
        table(rows, names, versions, a)
    if bad:
        print(f"bench/infer: an engine gave logits more than {TOLERANCE:g} from the runtime's",
              file=sys.stderr)
    return 1 if bad else 0


def head(n):
    return KNOWN.get(n, n)


def version_note(names, versions):
    v = [f"{head(n)} {versions[n]}" for n in names if n in versions]
    return f"; {', '.join(v)}" if v else ""


def table(rows, names, versions, a):
    others = [n for n in names if n != "rt"]
    print(f"times in ms, median (min) of {a.rounds * a.reps} runs, {a.threads} thread(s); "
          f"ratios other/ours of the medians (above 1: ours is faster), then paired: the "
          f"median over rounds of the ratio within a round{version_note(names, versions)}")
    for b in BATCHES:
        print(f"batch {b}:")
        hdr = f"  {'subnet':<3} {'MACs':>9} " + " ".join(f"{head(n):>16}" for n in names)
        hdr += "  " + " ".join(f"{head(n) + '/ours':>10}" for n in others)
        print(hdr)
        for r in rows:
            cells = " ".join(f"{r['ms'][n][b]:>7.3f} ({r['min_ms'][n][b]:>6.3f})" for n in names)
            ratios = " ".join(f"{r['ratio'][n][b]:>10.2f}" for n in others)
            paired = " ".join(f"{r['paired_ratio'][n][b]:>6.2f}" for n in others)
            print(f"  {r['subnet']:<3} {r['macs']:>9} {cells}  {ratios}  paired {paired}")
    print("subnets (max |logits - ours| per engine):")
    for r in rows:
        d = ", ".join(f"{head(n)} {r['max_abs_diff'][n]:.2g}" for n in names if n != "rt")
        print(f"  {r['subnet']:<3} {r['genes']}  {d}")


def markdown(rows, names, versions, a):
    others = [n for n in names if n != "rt"]
    print(f"Median (min) ms of {a.rounds * a.reps} runs each, {a.threads} thread(s) per engine; "
          f"ratio = other / ours (above 1: ours is faster){version_note(names, versions)}.\n")
    cols = ["subnet", "MACs"]
    for b in BATCHES:
        cols += [f"{head(n)} b{b}" for n in names] + [f"{head(n)}/ours b{b}" for n in others]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" if c == "subnet" else "---:" for c in cols) + "|")
    for r in rows:
        cells = [f"`{r['genes']}`", f"{r['macs'] / 1e6:.2f} M"]
        for b in BATCHES:
            cells += [f"{r['ms'][n][b]:.3f} ({r['min_ms'][n][b]:.3f})" for n in names]
            cells += [f"{r['ratio'][n][b]:.2f}" for n in others]
        print("| " + " | ".join(cells) + " |")
    print(f"\nPaired ratios: the median over the {a.rounds} rounds of other / ours within "
          f"each round (its {a.reps} runs' medians), steadier than the ratio of medians "
          f"when the machine's load comes and goes.\n")
    cols = ["subnet"] + [f"{head(n)}/ours b{b}" for b in BATCHES for n in others]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" if c == "subnet" else "---:" for c in cols) + "|")
    for r in rows:
        cells = [f"`{r['genes']}`"] + [f"{r['paired_ratio'][n][b]:.2f}"
                                       for b in BATCHES for n in others]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
