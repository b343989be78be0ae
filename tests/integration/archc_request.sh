#!/bin/sh
# tests/integration/archc_request.sh — `archc request` against a real archd
# on a temp socket: usage errors (exit 2), a spec that does not compile or
# names no such target (1), no daemon (3), an untrained supernet (4), a
# target's subnet printed as a table that agrees with archd's own answer
# and with `archc eval` on the weights it downloads (-o DIR: answer, model
# file, C, ONNX where served), constraints, --json, the default socket, an
# infeasible spec (5), an error status from archd and a server that never
# answers (6).  Prints TAP lines.
set -u
. "$(dirname "$0")/lib.sh"
lib_init archc_request
export ARCHD_THREADS=1 ARCH_PATH=
# The socket is where archd and archc both look by default.
export XDG_RUNTIME_DIR="$T/run"
mkdir -p "$XDG_RUNTIME_DIR"
SOCK="$XDG_RUNTIME_DIR/archd.sock"
START_FLAGS="--threads 1"
tiny_spec
rq() { "$ARCHC" request --socket "$SOCK" "$@" >out.txt 2>err.txt; st=$?; }
row() { awk -v k="$1" 'index($0, k " ") == 1 { sub("^" k " +", ""); print; exit }' out.txt; }

# --- before any daemon ----------------------------------------------------------------
check "--help describes it" sh -c '"$0" help request | grep -q "^usage: archc request"' "$ARCHC"
rq tiny.arch --task t
check "neither --target nor --constraint exits 2" test "$st" -eq 2
rq tiny.arch --task t --target small --constraint 'macs<=2M'
check "both exit 2" test "$st" -eq 2
rq tiny.arch --task t --constraint 'macs<=two'
check "a bad constraint exits 2" sh -c "test $st -eq 2 && grep -q \"constraint 'macs<=two'\" err.txt"
rq tiny.arch --task t --constraint 'macs<=2M' --constraint 'macs>=1K'
check "a metric bounded twice exits 2, saying archd takes one bound" sh -c "test $st -eq 2 && grep -q 'macs is bounded twice' err.txt"
rq tiny.arch --task t --timeout 0 --target small
check "a --timeout out of range exits 2" test "$st" -eq 2
printf 'space s { input channels = 0; }\n' >bad.arch
rq bad.arch --task t --target small
check "a spec that does not compile exits 1 with its diagnostic" sh -c "test $st -eq 1 && grep -q 'bad.arch:1:' err.txt"
rq tiny.arch --task t --target nope
check "an unknown target exits 1, naming it" sh -c "test $st -eq 1 && grep -q \"has no target 'nope'\" err.txt"
rq tiny.arch --task t --target small
check "no daemon on the socket exits 3" test "$st" -eq 3
check "saying it cannot connect there" grep -q "cannot connect to archd at $SOCK" err.txt
# -o is checked before archd is asked (an answer may take minutes).
echo x >notadir
rq tiny.arch --task t --target small -o notadir
check "-o naming a file exits 1 before asking archd" sh -c "test $st -eq 1 && grep -q -- '-o notadir' err.txt && ! grep -q 'cannot connect' err.txt"
mkdir -p fifodir && mkfifo fifodir/subnet.model
rq tiny.arch --task t --target small -o fifodir
check "-o DIR holding a FIFO where an output goes exits 1 before asking" sh -c "test $st -eq 1 && grep -q 'fifodir/subnet.model' err.txt && ! grep -q 'cannot connect' err.txt"
check "... leaving the FIFO" test -p fifodir/subnet.model
# A server that accepts and never answers.
"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8); held = []
while True: held.append(s.accept()[0])' "$T/mute.sock" &
MUTE=$!
i=0
while [ ! -S "$T/mute.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
"$ARCHC" request --socket "$T/mute.sock" --timeout 1 tiny.arch --task t --target small >out.txt 2>err.txt
st=$?
kill "$MUTE"
wait "$MUTE" 2>/dev/null
check "a server that never answers: exit 6 after --timeout" sh -c "test $st -eq 6 && grep -q 'no complete reply from archd within 1 s (--timeout)' err.txt"

# --- untrained, then trained ------------------------------------------------------------
start
rq tiny.arch --task t --target small
check "an untrained supernet exits 4" test "$st" -eq 4
check "naming the train endpoint" grep -q "/tasks/t/train" err.txt
train_tiny t
check "archc train trains the supernet in archd's state dir" test $? -eq 0
rq tiny.arch --task t --target small -o dl
check "a target's subnet: exit 0" test "$st" -eq 0
check "the table names the target" test "$(row target)" = small
SPEC=$(row spec)
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "the spec it uploaded is archd's" test "$code" = 200
check "the gene string is archd's answer" test "$(row genes)" = "$(jget genes)"
check "the subnet id too" test "$(row subnet)" = "$(jget id)"
check "holdout and test accuracy as archd measured them" "$PY" -c 'import json, sys
m = json.load(open("out.json"))["metrics"]
rows = dict((l[:18].strip(), l[18:].split()) for l in open("out.txt") if len(l) > 18)
assert abs(float(rows["holdout accuracy"][0]) - m["accuracy"]) < 1e-4, rows
assert abs(float(rows["test accuracy"][0]) - m["test_accuracy"]) < 1e-4, rows
assert rows["params"][-1].strip("()") == "%d" % m["params"], rows
assert rows["memory"][0] == "%d" % m["memory"], rows
assert abs(float(rows["latency"][0]) - m["latency"] * 1e3) < 1e-4, rows'
macs=$(row macs | tr -d '()' | awk '{ print $NF }')
check "MACs within the target" test "$macs" -le 30000
check "-o writes the answer" cmp -s dl/subnet.json out.json
check "and the model file" sh -c 'head -c 8 dl/subnet.model | grep -q ARCHDMDL'
check "and the C export" sh -c 'grep -q "#include \"archd_subnet.h\"" dl/archd_subnet.c && test -s dl/archd_subnet.h'
check "and the ONNX model, or says archd does not serve it" sh -c 'test -s dl/subnet.onnx || grep -q "^ONNX: not served" out.txt'
"$ARCHC" eval tiny.arch --task t --model dl/subnet.model --split test >eval.txt 2>&1
check "the model file measures the test accuracy printed" "$PY" -c 'import sys
a = float([l.split()[2] for l in open("out.txt") if l.startswith("test accuracy")][0])
b = float([l.split()[1] for l in open("eval.txt") if l.startswith("accuracy")][0]); assert abs(a - b) < 1e-4, (a, b)'
rq tiny.arch --task t --constraint 'macs <= 40K' --constraint 'latency<=1s' --json
check "constraints, --json: archd's answer as it came" sh -c "test $st -eq 0 && $PY -c 'import json; d = json.load(open(\"out.txt\")); assert d[\"metrics\"][\"macs\"] <= 40000 and \"test_accuracy\" in d[\"metrics\"]'"
# archd's default socket: $XDG_RUNTIME_DIR/archd.sock, /run/archd.sock as root.
if [ "$(id -u)" -ne 0 ]; then
	rq tiny.arch --task t --target small
	"$ARCHC" request tiny.arch --task t --target small >default.txt 2>err.txt
	check "without --socket, archd's default socket" cmp -s default.txt out.txt
elif [ ! -e /run/archd.sock ]; then
	"$ARCHC" request tiny.arch --task t --target small >default.txt 2>err.txt
	check "without --socket as root, /run/archd.sock (archd's default as root)" sh -c "test $? -eq 3 && grep -q 'at /run/archd.sock:' err.txt"
fi
rq tiny.arch --task t --target impossible
check "an infeasible spec exits 5" test "$st" -eq 5
check "naming the tightest constraint and the nearest subnet" sh -c "grep -q 'tightest constraint is macs <= 1000' err.txt && grep -q '^nearest subnet:' err.txt && grep -q '^genes ' err.txt"
stop_term
check "archd stops with exit 0" test "$st" -eq 0

# --- an error status from archd -----------------------------------------------------------
echo "max_body_size = 1K" >small.conf
start --config small.conf
"$ARCHC" compile tiny.arch -o tiny.air 2>/dev/null
check "(the spec's .air is larger than 1 KiB)" test "$(wc -c <tiny.air)" -gt 1024
rq tiny.arch --task t --target small
check "archd refusing the upload (413) exits 6" test "$st" -eq 6
check "quoting archd's status and message" grep -q "archd answered 413" err.txt
stop_term
check "the daemon logged no error" sh -c '! grep -q "error" log'
check "and no sanitizer report" sh -c '! grep -q "Sanitizer" log'
lib_done
