#!/bin/sh
# tests/integration/archc_plot.sh — `archc plot` as a user meets it: usage
# errors (no -o, an unknown --x), the errors naming `archc train` before a
# supernet exists and `archc search` before its archive does, then a tiny
# supernet trained and searched: the SVG parses as XML, holds one member
# marker per archive member (as `archc archive` lists them), one target
# marker per target of the file (met ones at their `archc search` answer,
# an infeasible one hollow at the nearest member), a step-line front, axes
# with ticks, a legend and a title naming the task; every --x; a failed
# write leaves no file and an existing plot untouched.  Prints TAP lines.
set -u
ARCHC=${ARCHC:-$ARCHD_BUILDDIR/archc}
T=$(mktemp -d "${TMPDIR:-/tmp}/archc_plot.XXXXXX")
trap 'chmod -R u+w "$T"; rm -rf "$T"' EXIT
cd "$T" || exit 1
export ARCH_PATH= ARCHD_THREADS=1
STATE="$T/state"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else no "$d"; fi; }
status() { want=$1; shift; "$@" >out.txt 2>err.txt; [ $? -eq "$want" ]; }

cat >tiny.arch <<'A'
import "std/datasets.arch";
dataset fm_tiny from fashion_mnist { train_limit = 1200; holdout = 200; }
space tiny {
    input channels = 1;
    resolution in {12, 16};
    stem conv(kernel = 3, out = 8, stride = 2, act = relu);
    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 16, stride = 2); }
    head pool, fc(classes);
}
task t {
    data = fm_tiny;
    space = tiny;
    train { epochs = 4; batch = 50; optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true);
            sampler = sandwich(3); distill = inplace; calib = 200; }
    search { predictor = auto; samples = 12; population = 6; generations = 4; }
}
target small { macs <= 30K; }
target roomy { macs <= 1G; }
target impossible { macs <= 1K; }
A
S="--state $STATE"

# --- usage and missing state ---------------------------------------------------------
check "plot is in --help" sh -c '"$0" --help | grep -q "^  plot "' "$ARCHC"
check "-o is required" status 2 "$ARCHC" plot tiny.arch $S
check "saying so" grep -q "archc plot: -o OUT.svg is required" err.txt
check "an unknown --x is a usage error" status 2 "$ARCHC" plot tiny.arch --x flops -o f.svg $S
check "naming it and the choices" grep -q "unknown --x 'flops' (macs, latency, params or memory)" err.txt
check "--x needs a value" status 2 "$ARCHC" plot tiny.arch -o f.svg $S --x
check "an unknown task is an input error" status 1 "$ARCHC" plot tiny.arch --task nope -o f.svg $S
check "without a supernet, plot fails" status 1 "$ARCHC" plot tiny.arch -o f.svg $S
check "naming the archc train command" grep -q "train it first: archc train tiny.arch --task t --state $STATE" err.txt
check "and writes nothing" test ! -e f.svg
check "a tiny supernet trains" status 0 "$ARCHC" train tiny.arch --task t $S --threads 1
check "without an archive, plot fails" status 1 "$ARCHC" plot tiny.arch -o f.svg $S
check "naming the archive looked for" grep -q "task t has no archive in $STATE (no $STATE/supernets/.*/archive-calib200)" err.txt
check "and the archc search command that builds it" grep -q "build it: archc search tiny.arch --task t --state $STATE --target NAME" err.txt
check "writing nothing" test ! -e f.svg

# --- the plot ---------------------------------------------------------------------------
check "search builds the archive" status 0 "$ARCHC" search tiny.arch --target small $S
small=$(awk '$1 == "subnet" { print $2 }' out.txt)
"$ARCHC" search tiny.arch --target roomy $S >roomy.txt 2>/dev/null
roomy=$(awk '$1 == "subnet" { print $2 }' roomy.txt)
check "archive lists it" status 0 "$ARCHC" archive tiny.arch $S
members=$(awk 'NR > 2' out.txt | wc -l)
check "the archive has members" test "$members" -ge 2
check "plot writes the SVG" status 0 "$ARCHC" plot tiny.arch -o front.svg $S
check "saying what it drew" grep -q "^front.svg: task t, $members members (.* on the accuracy-macs front), 2 targets met, 1 not$" out.txt
check "the infeasible target is named on stderr" grep -q "target impossible (macs <= 1K): no archive member meets it" err.txt

# One check per property, in Python's own XML parser.
cat >svg.py <<'P'
import sys, xml.etree.ElementTree as ET
path, members, small, roomy, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(path).getroot()
def cls(e): return (e.get("class") or "").split()
def title(e):
    t = e.find(ns + "title")
    return t.text if t is not None else ""
circles = [e for e in root.iter(ns + "circle") if "member" in cls(e)]
targets = [e for e in root.iter(ns + "path") if "target" in cls(e)]
texts = {}
for e in root.iter(ns + "text"):
    for c in cls(e):
        texts.setdefault(c, []).append("".join(e.itertext()))
by = {e.get("data-target"): e for e in targets}
front = [e for e in root.iter(ns + "path") if "front" in cls(e)]
checks = {
    "root": root.tag == ns + "svg",
    "members": len(circles) == members and len({title(e).split()[0] for e in circles}) == members,
    "front": len([e for e in circles if "front" in cls(e)]) >= 1 and len(front) == 1
             and " H" in front[0].get("d") and " V" in front[0].get("d"),
    "targets": len(targets) == 3 and set(by) == {"small", "roomy", "impossible"},
    "met": "met" in cls(by["small"]) and title(by["small"]).endswith(small)
           and "met" in cls(by["roomy"]) and title(by["roomy"]).endswith(roomy),
    "unmet": "unmet" in cls(by["impossible"]) and by["impossible"].get("fill") == "none"
             and "impossible (not met)" in texts.get("target-label", []),
    "labels": sorted(texts.get("target-label", [])) == ["impossible (not met)", "roomy", "small"],
    "title": texts.get("title") == ["Task t: holdout accuracy against " + what],
    "axes": len(texts.get("xtick", [])) >= 2 and len(texts.get("ytick", [])) >= 2
            and all(t.endswith("%") for t in texts["ytick"])
            and texts.get("ylabel") == ["holdout accuracy (%)"] and len(texts.get("xlabel", [])) == 1,
    "legend": any("legend" in cls(g) for g in root.iter(ns + "g")),
}
bad = [k for k, v in checks.items() if not v]
print(" ".join(bad))
sys.exit(1 if bad else 0)
P
svg() { "$PY" svg.py "$1" "$members" "$small" "$roomy" "$2" >py.txt 2>&1 || { sed 's/^/# /' py.txt; return 1; }; }
check "the SVG parses as XML, with every property checked" svg front.svg MACs
check "the x axis is labelled with its unit" grep -q 'class="xlabel"[^>]*>multiply-accumulates per image (MACs)' front.svg
for x in latency:latency params:parameters memory:"peak memory"; do
	check "--x ${x%%:*}" status 0 "$ARCHC" plot tiny.arch -o "x.svg" --x "${x%%:*}" $S
	check "--x ${x%%:*}: the same markers, its title" svg x.svg "${x#*:}"
done
check "--x=params" status 0 "$ARCHC" plot tiny.arch -o x.svg --x=params $S
cp front.svg keep.svg
mkdir ro && chmod a-w ro
if [ "$(id -u)" = 0 ]; then
	# root writes anywhere: a missing directory makes the write fail instead
	out=missing/dir/f.svg
else
	out=ro/f.svg
fi
check "an unwritable output fails" status 1 "$ARCHC" plot tiny.arch -o "$out" $S
check "naming it" grep -q "archc plot: cannot write the plot: $out" err.txt
check "leaving no file" sh -c 'test ! -e "$0" && test -z "$(ls ro)"' "$out"
check "an existing plot is replaced whole" sh -c '"$0" plot tiny.arch -o front.svg --x latency $1 >/dev/null 2>&1 && ! cmp -s front.svg keep.svg && ls | grep -c "front.svg" | grep -qx 1' "$ARCHC" "$S"
echo "1..$n"
