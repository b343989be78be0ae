#!/bin/sh
# tests/integration/archc_export.sh — `archc export` as a user meets it:
# usage errors, then a tiny supernet trained for four epochs on 1,000
# Fashion-MNIST images and ten of its subnets (max, min, eight random)
# written as model files by `archc eval -o` and exported from them:
#   --c     compiles with `cc -std=c99 -Wall -Wextra -Werror -O2` and a small
#           driver that normalises the raw test images with the header's
#           mean and deviation; its logits on the first 100 test images are
#           the runtime's (rt_model_forward on the model file, through
#           model_logits.c built against the build's librt: max abs
#           difference <= 1e-4, the same arg-max), its accuracy on all
#           10,000 is the runtime's (`archc eval --model`) to within one
#           image, and the header's flash and RAM are those archc printed;
#   --onnx  passes onnx.checker (python3-onnx, tests/unit/onnx_check.py) and
#           ONNX Runtime (onnxruntime-node, tests/unit/onnx_run.js) gives
#           the runtime's logits on the same 100 images (max abs difference
#           <= 1e-4, the same arg-max).
# Exporting FILE.arch --subnet SPEC gives the same files as exporting the
# model file `archc eval` wrote for SPEC, and leaves the state dir as it
# was; with --alone, a subnet `archc train --subnet` trained alone, as
# `archc eval --alone` cuts it out.  Prints TAP lines; a missing tool skips its part with the reason,
# except the ONNX peers under CI=true, where tools/install-deps --test and
# npm provide them: there a missing one fails.
set -u
ARCHC=${ARCHC:-$ARCHD_BUILDDIR/archc}
SRC=${ARCHD_SRCDIR:-.}
BUILD=$(cd "${ARCHD_BUILDDIR:-.}" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/archc_export.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export ARCH_PATH=
STATE="$T/state"
FM=/usr/share/datasets/fashion-mnist

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # description, then a command that must succeed
	d=$1
	shift
	if "$@"; then ok "$d"; else no "$d"; fi
}
status() { # expected status, command...
	want=$1
	shift
	"$@" >out.txt 2>err.txt
	[ $? -eq "$want" ]
}

cat >tiny.arch <<'A'
import "std/datasets.arch";
dataset fm_tiny from fashion_mnist { train_limit = 1200; holdout = 200; }
space tiny {
    input channels = 1;
    resolution in {12, 16};
    stem conv(kernel = 3, out = 8, stride = 2, act = relu);
    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 16, stride = 2); }
    stage s2 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 16, stride = 1, act = hswish, se = true); }
    head pool, fc(classes);
}
task t {
    data = fm_tiny;
    space = tiny;
    train { epochs = 4; batch = 50; optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true);
            sampler = sandwich(3); distill = inplace; calib = 500; }
}
A

# --- usage ------------------------------------------------------------------------
check "export is in --help" sh -c '"$0" --help | grep -q "^  export "' "$ARCHC"
check "an output format is required" status 2 "$ARCHC" export tiny.arch --subnet max
check "it says which" grep -q "give one of --c OUT and --onnx OUT.onnx" err.txt
check "only one output format" status 2 "$ARCHC" export tiny.arch --subnet max --c a --onnx b.onnx
check "--c needs a value" status 2 "$ARCHC" export tiny.arch --subnet max --c
check "a source needs --subnet" status 2 "$ARCHC" export tiny.arch --c a
check "it says so" grep -q "tiny.arch is not a model file: give --subnet SPEC" err.txt
check "a missing input is an input error" status 1 "$ARCHC" export none.model --c a
check "it is named" grep -q "none.model: No such file or directory" err.txt
check "a subnet of an untrained supernet is an input error" status 1 "$ARCHC" export tiny.arch --subnet max --state "$STATE" --c a
check "naming the archc train command" grep -q "train it first: archc train tiny.arch --task t --state $STATE" err.txt
check "and nothing is written" test ! -e a.c -a ! -e a.h

if ! "$ARCHC" help train >/dev/null 2>&1 || ! "$ARCHC" help eval >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
	skip "export of a trained supernet's subnets" "this build has no archc train/eval, or no cc"
	echo "1..$n"
	exit 0
fi

# --- ten subnets of a trained supernet ----------------------------------------------
check "a tiny supernet trains" status 0 "$ARCHC" train tiny.arch --task t --state "$STATE" --threads 1
find "$STATE" -type f -exec cksum {} + | sort >state_before.txt
specs="max min"
for i in 1 2 3 4 5 6 7 8; do specs="$specs random:$i"; done
gunzip -c "$FM/t10k-images-idx3-ubyte.gz" >images.idx
gunzip -c "$FM/t10k-labels-idx1-ubyte.gz" >labels.idx

# The driver: the exported net on every test image, normalised from the raw
# bytes with the header's mean and deviation; prints the accuracy and
# writes the first 100 images' inputs (NCHW in net.in, NHWC in net.x) and
# logits (net.clog).
cat >drv.c <<'C'
#include <stdio.h>
#include "net.h"
#define PX (NET_INPUT_HEIGHT * NET_INPUT_WIDTH * NET_INPUT_CHANNELS)
int main(void)
{
	static const float mean[] = NET_INPUT_MEAN, sd[] = NET_INPUT_STD;
	FILE *im = fopen("../images.idx", "rb"), *lb = fopen("../labels.idx", "rb");
	FILE *in = fopen("net.in", "wb"), *lo = fopen("net.clog", "wb"), *xs = fopen("net.x", "wb");
	unsigned char raw[PX], hdr[16], label;
	float x[PX], nchw[PX], logits[NET_CLASSES];
	int n = 0, correct = 0;
	if (!im || !lb || !in || !lo || !xs || fread(hdr, 16, 1, im) != 1 || fread(hdr, 8, 1, lb) != 1)
		return 2;
	while (fread(raw, PX, 1, im) == 1 && fread(&label, 1, 1, lb) == 1) {
		for (int i = 0; i < PX; i++) {
			int c = i % NET_INPUT_CHANNELS;
			x[i] = ((float)raw[i] - mean[c]) / sd[c];
			nchw[c * NET_INPUT_HEIGHT * NET_INPUT_WIDTH + i / NET_INPUT_CHANNELS] = x[i];
		}
		correct += net_predict(x, logits) == label;
		if (n++ < 100) {
			fwrite(nchw, sizeof nchw, 1, in);
			fwrite(x, sizeof x, 1, xs);
			fwrite(logits, sizeof logits, 1, lo);
		}
	}
	printf("accuracy  %.4f\nflash %d ram %d\n", (double)correct / n, NET_FLASH_BYTES, NET_RAM_BYTES);
	return fclose(in) != 0 || fclose(lo) != 0 || fclose(xs) != 0;
}
C

# The runtime's logits of a model file, from the build's own librt.
mk() { sed -n "s/^$1 *= *//p" "$BUILD/Makefile"; }
# shellcheck disable=SC2046 # the make variables are word lists
$(mk CC) -std=c11 $(mk CFLAGS) $(mk SAN_CFLAGS) -D_POSIX_C_SOURCE=200809L -I"$SRC" $(mk DEP_CFLAGS) \
	-o model_logits "$SRC/tests/integration/model_logits.c" "$BUILD/runtime/librt.a" \
	"$BUILD/compiler/libir.a" $(mk DEP_LIBS) $(mk LIBS) -lm -pthread 2>cc_helper.txt
check "the runtime's logits helper builds against librt" test -x model_logits
# floats() FILE: one float32 of FILE per line
floats() { od -An -v -f "$1" | tr -s ' ' '\n' | sed '/^$/d'; }

i=0
names=
cfail=0
afail=0
lfail=0
for spec in $specs; do
	i=$((i + 1))
	d="s$i"
	mkdir -p "$d"
	names="$names $d/net"
	"$ARCHC" eval tiny.arch --task t --subnet "$spec" --state "$STATE" -o "$d/sub.model" >"$d/eval.txt" 2>&1 &&
		"$ARCHC" eval tiny.arch --task t --model "$d/sub.model" >"$d/model_eval.txt" 2>&1 &&
		"$ARCHC" export "$d/sub.model" --c "$d/net" >"$d/export_c.txt" 2>&1 &&
		"$ARCHC" export "$d/sub.model" --onnx "$d/net.onnx" >"$d/export_onnx.txt" 2>&1 &&
		(cd "$d" && cc -std=c99 -Wall -Wextra -Werror -O2 -I. -o drv ../drv.c net.c 2>cc.txt && ./drv >run.txt) &&
		./model_logits "$d/sub.model" "$d/net.x" 100 "$d/net.want" ||
		{ cfail=$((cfail + 1)); echo "# $spec: export, compile or run failed" >&2; cat "$d"/*.txt >&2; continue; }
	printf '100 1 28 28 10\n' >"$d/net.shape"
	floats "$d/net.clog" >"$d/c.txt"
	floats "$d/net.want" >"$d/rt.txt"
	paste "$d/c.txt" "$d/rt.txt" | awk -v spec="$spec" '
		{ d = $1 - $2; if (d < 0) d = -d; if (d > worst) worst = d
		  k = (NR - 1) % 10; if (k == 0 || $1 > bc) { bc = $1; ac = k } if (k == 0 || $2 > br) { br = $2; ar = k }
		  if (k == 9 && ac != ar) mism++ }
		END { printf "# %s: max |C - runtime| = %.3g over %d images, %d arg-max differences\n", spec, worst, NR / 10, mism
		      exit !(NR == 1000 && worst <= 1e-4 && mism == 0) }' || lfail=$((lfail + 1))
	want=$(awk '/^accuracy/ { print $2 }' "$d/model_eval.txt")
	got=$(awk '/^accuracy/ { print $2 }' "$d/run.txt")
	echo "# $spec ($(awk '/^subnet/ { print $2 }' "$d/export_c.txt")): runtime accuracy $want, exported C $got; $(sed -n 2p "$d/run.txt")"
	awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.0001) }' || afail=$((afail + 1))
	fl=$(awk '/^flash/ { print $2 }' "$d/export_c.txt")
	ra=$(awk '/^ram/ { print $2 }' "$d/export_c.txt")
	grep -q "^flash $fl ram $ra$" "$d/run.txt" || afail=$((afail + 1))
done
check "ten subnets export to C and ONNX, and the C compiles with -Werror and runs" test "$cfail" -eq 0
check "the C gives the runtime's logits (max abs diff <= 1e-4) and arg-max on 100 test images" test "$lfail" -eq 0
check "the C's test accuracy is the runtime's, and its header's sizes are those printed" test "$afail" -eq 0
check "the header says normalisation is the caller's" grep -q "ALREADY NORMALISED" s1/net.h
check "the header states flash and RAM bytes" sh -c 'grep -q "^ \* Flash: [0-9]* bytes of weights" s1/net.h && grep -q "^ \* RAM:   [0-9]* bytes of scratch" s1/net.h'

peer_missing() { # what, why
	if [ "${CI:-}" = true ]; then no "$1 ($2; CI=true requires it)"; else skip "$1" "$2"; fi
}
if /usr/bin/python3 -c 'import onnx' >/dev/null 2>&1; then
	check "every ONNX export passes onnx.checker (full check)" sh -c '/usr/bin/python3 "$0"/tests/unit/onnx_check.py s*/net.onnx >checker.txt 2>&1 && test "$(grep -c "^ok " checker.txt)" -eq 10' "$SRC"
else
	peer_missing "onnx.checker" "/usr/bin/python3 has no onnx (apt-get install python3-onnx)"
fi
if "$SRC/tools/onnxruntime-node" "$BUILD" 2>ort_why.txt; then
	# shellcheck disable=SC2086
	NODE_PATH="$BUILD/node_modules" node "$SRC/tests/unit/onnx_run.js" . $names >ort.txt 2>&1
	check "ONNX Runtime runs all ten" test "$(wc -l <ort.txt)" -eq 10
	sed 's/^/# ONNX Runtime vs runtime: /' ort.txt
	check "with the same logits (max abs diff <= 1e-4) and arg-max on 100 test images" awk '{ if ($2 > 1e-4 || $3 != 0) bad = 1 } END { exit bad }' ort.txt
else
	peer_missing "ONNX Runtime" "$(tail -n 1 ort_why.txt)"
fi

mkdir -p direct
check "exporting FILE.arch --subnet works" status 0 "$ARCHC" export tiny.arch --task t --subnet random:1 --state "$STATE" --c direct/net
check "it gives the C exported from the model file archc eval wrote" sh -c 'cmp -s direct/net.c s3/net.c && cmp -s direct/net.h s3/net.h'
check "the same ONNX too" sh -c '"$0" export tiny.arch --task t --subnet random:1 --state "$1" --onnx direct.onnx >/dev/null && cmp -s direct.onnx s3/net.onnx' "$ARCHC" "$STATE"
check "a model file with --subnet is a usage error" status 2 "$ARCHC" export s1/sub.model --subnet max --c x
find "$STATE" -type f -exec cksum {} + | sort >state_after.txt
check "export changes nothing in the state dir" cmp -s state_before.txt state_after.txt
cp s1/sub.model bad.model
printf 'X' | dd of=bad.model bs=1 seek=200 conv=notrunc 2>/dev/null
check "a corrupted model file is refused" status 1 "$ARCHC" export bad.model --onnx bad.onnx
check "with a message naming it" grep -q "bad.model: checksum mismatch" err.txt
check "and nothing written" test ! -e bad.onnx

# --- a subnet trained alone (archc train --subnet), exported with --alone --------------
mkdir -p al1 al2
check "export --alone of a subnet never trained alone fails" status 1 "$ARCHC" export tiny.arch --task t --subnet min --alone --state "$STATE" --c al1/net
check "naming the train command" grep -q "train it first: archc train tiny.arch --task t --state $STATE --subnet min$" err.txt
check "the smallest subnet trains alone" status 0 "$ARCHC" train tiny.arch --task t --state "$STATE" --threads 1 --subnet min
check "export --alone writes its C" status 0 "$ARCHC" export tiny.arch --task t --subnet min --alone --state "$STATE" --c al1/net
"$ARCHC" eval tiny.arch --task t --subnet min --alone --state "$STATE" -o alone.model >/dev/null 2>&1
"$ARCHC" export alone.model --c al2/net >/dev/null 2>&1
check "the C of the model file archc eval --alone wrote" cmp -s al1/net.c al2/net.c
check "not the C of the supernet's smallest subnet" sh -c '! cmp -s al1/net.c s2/net.c'
check "--alone with a model file is a usage error" status 2 "$ARCHC" export alone.model --alone --c x
echo "1..$n"
