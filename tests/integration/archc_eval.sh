#!/bin/sh
# tests/integration/archc_eval.sh — `archc subnets` and `archc eval` as a user
# meets them: the listing without any training, the error that names
# `archc train` when no supernet exists, usage errors, then (when this build
# has `archc train`) a tiny supernet trained for four epochs on 1,000
# Fashion-MNIST images: eval of max, min and a listed random subnet, a
# written model file measuring exactly as its subnet, the state dir left
# untouched, a corrupted checkpoint and model file refused, and a subnet
# trained alone measured and cut out with --alone; and the same for a
# tabular supernet of dense blocks on the wine data.  Prints TAP lines.
set -u
ARCHC=${ARCHC:-$ARCHD_BUILDDIR/archc}
T=$(mktemp -d "${TMPDIR:-/tmp}/archc_eval.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export ARCH_PATH=
STATE="$T/state"

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
    head pool, fc(classes);
}
task t {
    data = fm_tiny;
    space = tiny;
    train { epochs = 4; batch = 50; optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true);
            sampler = sandwich(3); distill = inplace; }
}
task t2 { data = fm_tiny; space = tiny; }
A

# --- subnets: no training needed ----------------------------------------------
check "subnets lists max, min and 3 random subnets" status 0 "$ARCHC" subnets tiny.arch --task t --count 3
check "the largest subnet's costs are exact" grep -Eq '^max +76576 +4522 +r16:d2:k5,5:e3,3$' out.txt
check "the smallest subnet's costs are exact" grep -Eq '^min +10960 +882 +r12:d1:k3,3:e2,2$' out.txt
check "random subnets are named random:1..3" sh -c 'grep -c "^random:[123] " out.txt | grep -qx 3'
"$ARCHC" subnets tiny.arch --task t --count 3 >again.txt 2>&1
check "the listing is reproducible" cmp -s out.txt again.txt
"$ARCHC" subnets tiny.arch --task t --count 2 --seed 2 >seed2.txt 2>&1
check "--seed S starts at random:S" sh -c 'grep -q "^random:2 " seed2.txt && grep -q "^random:3 " seed2.txt && ! grep -q "^random:1 " seed2.txt'
check "--count 0 lists max and min only" status 0 "$ARCHC" subnets tiny.arch --task t --count=0
check "--count 0 gives two rows" sh -c 'grep -c "^m[ai][xn] " out.txt | grep -qx 2'
check "a bad --count is a usage error" status 2 "$ARCHC" subnets tiny.arch --task t --count 3x
check "it names the option" grep -q -- "--count '3x' is not an integer" err.txt
check "several tasks need --task" status 1 "$ARCHC" subnets tiny.arch
check "the tasks are listed" grep -q "choose one with --task (t, t2)" err.txt
check "an unknown task is an input error" status 1 "$ARCHC" subnets tiny.arch --task nope
check "it is named" grep -q "has no task 'nope' (it has: t, t2)" err.txt
check "subnets is in --help" sh -c '"$0" --help | grep -q "^  subnets "' "$ARCHC"

# --- eval without a trained supernet ------------------------------------------------
check "eval without a supernet fails with status 1" status 1 "$ARCHC" eval tiny.arch --task t --subnet max --state "$STATE"
check "the error names the archc train command" grep -q "train it first: archc train tiny.arch --task t --state $STATE" err.txt
check "and the checkpoint looked for" grep -q "no $STATE/supernets/[0-9a-f]*/checkpoint" err.txt
check "nothing is created in the state dir" test ! -e "$STATE"
check "--subnet or --model is required" status 2 "$ARCHC" eval tiny.arch --task t
check "a missing model file is an input error" status 1 "$ARCHC" eval tiny.arch --task t --model none.model
check "it is named" grep -q "none.model: No such file or directory" err.txt
check "a gene outside its domain is a usage error" status 2 "$ARCHC" eval tiny.arch --task t --subnet r14:d2:k5,5:e3,3
check "it quotes the gene" grep -q "resolution = 14 is not one of {12, 16}" err.txt
check "a bad --split is a usage error" status 2 "$ARCHC" eval tiny.arch --task t --subnet max --split train
check "a bad --recal is a usage error" status 2 "$ARCHC" eval tiny.arch --task t --subnet max --recal -3
check "it names the range" grep -q "^archc eval: --recal '-3' is not an integer from 0 to 1000000$" err.txt
check "--subnet twice is a usage error" status 2 "$ARCHC" eval tiny.arch --task t --subnet max --subnet=min
check "it is named" grep -q "^archc eval: option '--subnet' given twice$" err.txt
check "--model with --recal is a usage error" status 2 "$ARCHC" eval tiny.arch --task t --model m.model --recal 0
check "saying why" grep -q "no -o, --recal, --state or --alone" err.txt
check "eval is in --help" sh -c '"$0" --help | grep -q "^  eval "' "$ARCHC"

# --- eval after a tiny training -------------------------------------------------------
if ! "$ARCHC" help train >/dev/null 2>&1; then
	skip "eval of a trained supernet" "this build has no archc train"
	echo "1..$n"
	exit 0
fi
check "a tiny supernet trains" status 0 "$ARCHC" train tiny.arch --task t --state "$STATE" --threads 1
find "$STATE" -type f -exec cksum {} + | sort >state_before.txt
check "eval max succeeds" status 0 "$ARCHC" eval tiny.arch --task t --subnet max --state "$STATE" -o max.model
check "a finished supernet gives no note" test ! -s err.txt
check "it prints the gene string" grep -q "^subnet    r16:d2:k5,5:e3,3$" out.txt
check "it prints the MACs" grep -q "^macs      76576$" out.txt
check "it prints the params" grep -q "^params    4522$" out.txt
check "it recalibrates on the 1000 training images there are" grep -q "^recal     1000 training images$" out.txt
check "it evaluates the whole test split" grep -q "^split     test (10000 images)$" out.txt
check "the largest subnet is well above chance (10%)" awk '/^accuracy/ { exit !($2 > 0.3) }' out.txt
check "-o writes a model file" sh -c 'head -c 8 max.model | grep -q ARCHDMDL'
grep -E '^(subnet|macs|params|split|accuracy) ' out.txt >by_supernet.txt
check "the model file measures alone" status 0 "$ARCHC" eval tiny.arch --task t --model max.model
grep -E '^(subnet|macs|params|split|accuracy) ' out.txt >by_model.txt
check "exactly as the subnet it was cut from" cmp -s by_supernet.txt by_model.txt
ARCHD_AVX512=0 "$ARCHC" eval tiny.arch --task t --model max.model 2>&1 |
	grep -E '^(subnet|macs|params|split|accuracy) ' >narrow.txt
check "and the same with ARCHD_AVX512=0 (8-float kernels)" cmp -s by_model.txt narrow.txt
cp max.model bad.model
printf 'X' | dd of=bad.model bs=1 seek=200 conv=notrunc 2>/dev/null
check "a corrupted model file is refused" status 1 "$ARCHC" eval tiny.arch --task t --model bad.model
check "with a message naming it" grep -q "bad.model: checksum mismatch" err.txt
check "eval min on the holdout split" status 0 "$ARCHC" eval tiny.arch --task t --subnet min --state "$STATE" --split holdout --recal 100
check "it evaluates the 200 holdout images" grep -q "^split     holdout (200 images)$" out.txt
check "the smallest subnet is well above chance" awk '/^accuracy/ { exit !($2 > 0.3) }' out.txt
genes=$("$ARCHC" subnets tiny.arch --task t --count 1 | awk '$1 == "random:1" { print $4 }')
check "a listed random subnet evaluates by its spec" status 0 "$ARCHC" eval tiny.arch --task t --subnet random:1 --state "$STATE"
check "the spec and the gene string are the same subnet" grep -q "^subnet    $genes$" out.txt
cp out.txt by_spec.txt
"$ARCHC" eval tiny.arch --task t --subnet "$genes" --state "$STATE" >by_genes.txt 2>&1
check "and measure the same" cmp -s by_spec.txt by_genes.txt
"$ARCHC" eval tiny.arch --task t --subnet "$genes" --state "$STATE" --epochs 4 >same_epochs.txt 2>&1
check "--epochs equal to the recipe's names the same supernet" cmp -s by_spec.txt same_epochs.txt
check "other --epochs and --seed name another supernet" status 1 "$ARCHC" eval tiny.arch --task t --subnet max --state "$STATE" --epochs 2 --seed 9
check "whose train command carries them" grep -q "archc train tiny.arch --task t --state $STATE --epochs 2 --seed 9$" err.txt
find "$STATE" -type f -exec cksum {} + | sort >state_after.txt
check "eval changes nothing in the state dir" cmp -s state_before.txt state_after.txt
ckpt=$(find "$STATE" -name checkpoint | head -n 1)
printf 'X' | dd of="$ckpt" bs=1 seek=100 conv=notrunc 2>/dev/null
check "a corrupted checkpoint is refused" status 1 "$ARCHC" eval tiny.arch --task t --subnet max --state "$STATE"
check "with a message naming it" grep -q "$ckpt" err.txt

# --- a subnet trained alone (archc train --subnet), measured and cut out ---------------------
check "eval --alone of a subnet never trained alone fails" status 1 "$ARCHC" eval tiny.arch --task t --subnet min --alone --state "$STATE"
check "saying which subnet is missing" grep -q "task t has no subnet trained alone: r12:d1:k3,3:e2,2 in $STATE" err.txt
check "and naming the train command" grep -q "train it first: archc train tiny.arch --task t --state $STATE --subnet min$" err.txt
check "the smallest subnet trains alone" status 0 "$ARCHC" train tiny.arch --task t --state "$STATE" --threads 1 --subnet min
trained=$(sed -n 's/^subnet   test accuracy \([0-9.]*\)%.*/\1/p' out.txt)
check "eval --alone measures it" status 0 "$ARCHC" eval tiny.arch --task t --subnet min --alone --state "$STATE" -o alone.model
check "with its own statistics, not recalibrated" grep -q "^recal     0 training images$" out.txt
check "as archc train measured it" awk -v want="$trained" '/^accuracy/ { exit !(want != "" && sprintf("%.2f", 100 * $2) == want) }' out.txt
grep -E '^(subnet|macs|params|split|accuracy) ' out.txt >by_alone.txt
check "its model file measures the same" status 0 "$ARCHC" eval tiny.arch --task t --model alone.model
grep -E '^(subnet|macs|params|split|accuracy) ' out.txt >by_alone_model.txt
check "... exactly" cmp -s by_alone.txt by_alone_model.txt
check "noting it was not cut from the task's supernet" grep -q "alone.model was not cut from task t's supernet" err.txt
adir=$(ls -td "$STATE"/supernets/*/ | head -n 1) # the newest: the subnet's
check "-o beside the subnet's checkpoint is refused" status 2 "$ARCHC" eval tiny.arch --task t --subnet min --alone --state "$STATE" -o "${adir}x.model"
check "saying so" grep -q "is in the state dir, beside a checkpoint in $STATE/supernets" err.txt
check "and nothing is written" test ! -e "${adir}x.model"

# --- a tabular supernet (dense blocks, no resizing) ----------------------------------------
cat >wine.arch <<'A'
import "std/datasets.arch";
space small {
    input features = 13;
    stage h { depth in 1..2; block = dense(out in {8, 16}, act = relu); }
    head fc(classes);
}
task w {
    data = wine;
    space = small;
    train { epochs = 30; batch = 16; optimizer = sgd(lr = 0.05, momentum = 0.9); sampler = sandwich(3); }
}
A
check "a tabular supernet trains" status 0 "$ARCHC" train wine.arch --state "$STATE" --threads 1
check "eval of its smallest subnet (the only task is implied)" status 0 "$ARCHC" eval wine.arch --subnet min --state "$STATE" -o min.model
check "it is well above chance (33%)" awk '/^accuracy/ { exit !($2 > 0.6) }' out.txt
grep -E '^(subnet|macs|params|split|accuracy) ' out.txt >by_supernet.txt
check "its model file measures alone" status 0 "$ARCHC" eval wine.arch --model min.model
grep -E '^(subnet|macs|params|split|accuracy) ' out.txt >by_model.txt
check "exactly as the subnet" cmp -s by_supernet.txt by_model.txt
check "a model of another task's data is refused" status 1 "$ARCHC" eval tiny.arch --task t --model min.model
check "with both shapes named" grep -q "do not fit a model of 1x1x13 inputs and 3 outputs" err.txt
echo "1..$n"
