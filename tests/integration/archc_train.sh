#!/bin/sh
# tests/integration/archc_train.sh — `archc train` as a user meets it: a
# tiny supernet trained for a few hundred steps, its checkpoint in the state
# dir, the refusal to overwrite it, --resume after kill -9 continuing exactly
# where the last checkpoint stood (the final results equal an uninterrupted
# run's), and corrupted or foreign checkpoints refused with a clear message
# and left as they were.  Prints TAP lines.
set -u
ARCHC=${ARCHC:-$ARCHD_BUILDDIR/archc}
T=$(mktemp -d "${TMPDIR:-/tmp}/archc_train.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export ARCH_PATH=

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
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
# The global step stored in a checkpoint (bytes 64..71, little-endian).
ckpt_step() { od -An -t u8 -j 64 -N 8 "$1" | tr -d ' '; }

cat >tiny.arch <<'ARCH'
import "std/datasets.arch";
dataset tiny from fashion_mnist where label in {0, 1, 7, 8} { train_limit = 2000; holdout = 0; }
space tiny {
    input channels = 1;
    resolution in {12, 16};
    stem conv(kernel = 3, out = 8, stride = 2, act = relu);
    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 12, stride = 2); }
    head pool, fc(classes);
}
task a { data = tiny; space = tiny;
         train { epochs = 4; batch = 32; sampler = sandwich(3); distill = inplace; calib = 256; } }
task b { data = tiny; space = tiny;
         train { epochs = 1; batch = 32; sampler = sandwich(3); distill = inplace; calib = 256; } }
ARCH
TRAIN="$ARCHC train tiny.arch --threads 1 --checkpoint-every 5"

# --- usage and input errors --------------------------------------------------
check "no --task with two tasks exits 1" status 1 $TRAIN --state s0
check "... and lists the tasks" grep -q "choose one with --task (a, b)" err.txt
check "an unknown task exits 1" status 1 $TRAIN --state s0 --task zz
check "... and lists the tasks" grep -q "has no task 'zz' (it has: a, b)" err.txt
check "a bad --subnet exits 2, as in eval and export" status 2 $TRAIN --state s0 --task a --subnet r99
check "... saying why" grep -q "^archc train: --subnet: " err.txt
check "a bad --threads exits 2" status 2 "$ARCHC" train tiny.arch --state s0 --task a --threads -1
check "... with its range" grep -q "^archc train: --threads '-1' is not an integer from 0 to 1024$" err.txt
check "--epochs twice exits 2" status 2 $TRAIN --state s0 --task a --epochs 2 --epochs=3
check "... naming it" grep -q "^archc train: option '--epochs' given twice$" err.txt
check "--threads twice exits 2" status 2 $TRAIN --state s0 --task a --threads 2
check "... naming it" grep -q "^archc train: option '--threads' given twice$" err.txt
check "a value for the flag --resume exits 2" status 2 $TRAIN --state s0 --task a --resume=yes
check "... naming it" grep -q "^archc train: option '--resume' takes no value$" err.txt
check "an unknown option exits 2" status 2 $TRAIN --task a --bogus

# --- a full run -----------------------------------------------------------------
check "training task a exits 0" status 0 $TRAIN --state s1 --task a
cp out.txt ref.txt
check "it reports the largest subnet's test accuracy" grep -q "^largest  test accuracy [0-9.]*%" ref.txt
check "and the smallest's" grep -q "^smallest test accuracy [0-9.]*%" ref.txt
acc=$(sed -n 's/^largest  test accuracy \([0-9]*\)\..*/\1/p' ref.txt)
check "the largest is far above chance (25%): ${acc}%" test "${acc:-0}" -ge 60
check "one plain line per epoch when not a terminal" test "$(grep -c '^full\|^train epoch' err.txt)" -eq 4
CK=$(ls s1/supernets/*/checkpoint 2>/dev/null)
check "the checkpoint is in the state dir" test -s "$CK"
check "again without --resume exits 1" status 1 $TRAIN --state s1 --task a
check "... saying to pass --resume or remove it" grep -q "pass --resume" err.txt
check "--resume on a finished run exits 0" status 0 $TRAIN --state s1 --task a --resume
check "... and reports the same results" cmp -s out.txt ref.txt
check "--resume with no checkpoint starts fresh" status 0 $TRAIN --state s2 --task b --resume
check "... and says so" grep -q "starting fresh" err.txt

# --- kill -9 and resume -----------------------------------------------------------
$TRAIN --state s3 --task a >/dev/null 2>kill.err &
pid=$!
i=0
while [ $i -lt 600 ]; do
	c=$(ls s3/supernets/*/checkpoint 2>/dev/null)
	[ -n "$c" ] && [ "$(ckpt_step "$c")" -ge 15 ] && break
	sleep 0.05
	i=$((i + 1))
done
kill -9 $pid 2>/dev/null
killed=$?
wait $pid 2>/dev/null
check "the run was killed mid-way" test $killed -eq 0
K=$(ls s3/supernets/*/checkpoint)
at=$(ckpt_step "$K")
check "its last checkpoint survives the kill (step $at)" test "${at:-0}" -ge 15
check "--resume after kill -9 exits 0" status 0 $TRAIN --state s3 --task a --resume
check "... from the last checkpoint" grep -q "resuming from .*(global step $at)" err.txt
check "... and ends exactly as the uninterrupted run" cmp -s out.txt ref.txt

# --- SIGTERM checkpoints and stops; one fixed subnet ----------------------------
# Forty epochs (tens of seconds): the run is still training when the
# signal comes, on all but a very loaded machine.
$TRAIN --state s4 --task a --epochs 40 >/dev/null 2>term.err &
pid=$!
i=0
while [ $i -lt 600 ] && ! ls s4/supernets/*/checkpoint >/dev/null 2>&1; do
	sleep 0.05
	i=$((i + 1))
done
# A second run on the same supernet meanwhile (the first may just have
# ended: then there is nothing to refuse, and the check is skipped).
status 1 $TRAIN --state s4 --task a --epochs 40 --resume
second=$?
if kill -0 $pid 2>/dev/null; then
	check "a second run while one trains the supernet exits 1" test $second -eq 0
	check "... naming the lock and the running one's pid" grep -q "checkpoint[.]lock: in use by process $pid (another run is training this supernet)" err.txt
else
	ok "a second run while one trains the supernet exits 1 # SKIP the first run had ended"
	ok "... naming the lock and the running one's pid # SKIP"
fi
kill -TERM $pid 2>/dev/null
wait $pid
st=$?
# On a loaded machine the second run may outlast the first's training:
# nothing to stop then (a SIGTERM during the final report ends the process
# by the default action, status 143, after "done in").
if grep -q "^archc train: done in" term.err; then
	ok "SIGTERM stops the run with status 1 # SKIP the training had ended (status $st)"
	ok "... saying where, and to --resume # SKIP"
else
	check "SIGTERM stops the run with status 1" test $st -eq 1
	check "... saying where, and to --resume" grep -q "interrupted at epoch [0-9]*, step [0-9]*; checkpoint saved, continue with --resume" term.err
	[ $st -eq 1 ] || { echo "# status $st; the run's stderr ends:"; tr '\r' '\n' <term.err | tail -4 | sed 's/^/# /'; }
fi
check "one subnet trains alone (--subnet)" status 0 $TRAIN --state s4 --task b --subnet min
check "... and reports its own test accuracy" grep -q "^subnet   test accuracy [0-9.]*%.*r12:d1:k3,3:e2,2" out.txt
check "... from its own checkpoint" test "$(ls s4/supernets | wc -l)" -eq 2

# --- a held lock -----------------------------------------------------------------------
# Deterministic: the lock held by flock(1) (no pid in it) while a run starts.
L="$(dirname "$CK")/checkpoint.lock"
cp "$CK" good0.ck
flock -o "$L" sleep 30 &
fl=$!
i=0
while [ $i -lt 100 ] && flock -n "$L" true; do
	sleep 0.05
	i=$((i + 1))
done
check "a run on a supernet whose lock is held elsewhere exits 1" status 1 $TRAIN --state s1 --task a --resume
check "... saying the lock is in use" grep -q "$L: in use by another process (another run is training this supernet)" err.txt
check "... the checkpoint left as it was" cmp -s "$CK" good0.ck
pkill -P $fl sleep 2>/dev/null
wait $fl 2>/dev/null
check "once it is released, the run goes on" status 0 $TRAIN --state s1 --task a --resume

# --- refused checkpoints ---------------------------------------------------------------
cp "$CK" good.ck
printf 'X' | dd of="$CK" bs=1 seek=5000 conv=notrunc 2>/dev/null
cp "$CK" bad.ck
check "a corrupted checkpoint is refused" status 1 $TRAIN --state s1 --task a --resume
check "... naming the file and the problem" grep -q "$CK: corrupt checkpoint (checksum mismatch)" err.txt
check "... and left as it was" cmp -s "$CK" bad.ck
head -c 3000 good.ck >"$CK"
check "a truncated checkpoint is refused" status 1 $TRAIN --state s1 --task a --resume
check "... saying it is truncated" grep -q "$CK: truncated checkpoint" err.txt
B=$(ls s2/supernets/*/checkpoint)
cp good.ck "$B"
check "another task's checkpoint is refused" status 1 $TRAIN --state s2 --task b --resume
check "... as another supernet's" grep -q "checkpoint of another supernet" err.txt

echo "1..$n"
