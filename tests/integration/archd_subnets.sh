#!/bin/sh
# tests/integration/archd_subnets.sh — subnets through archd: 409 naming the
# train endpoint before training, the request errors (bad constraint
# syntax, unknown spec, task, target, objective, both or neither of target
# and constraints), then with a tiny supernet trained by `archc train` in
# the same state dir: the archive built on a worker by the first request,
# a target's subnet (genes, architecture, metrics, links), the cached
# answer repeated identically, GET by id, the weights as a model file that
# `archc eval` measures, an infeasible spec (422 with the nearest subnet), a
# spec answered by a targeted search, and after kill -9 a restart that
# answers identically; the test accuracy (the one `archc eval --split test`
# measures from the weights) kept in the archive, a version 1 archive
# migrated, SIGTERM during an archive build exiting 0 at once, saving
# nothing of it, an upload compiled on the second thread while one
# runs a supernet's build and that supernet's next spec waits for it, and
# a spec differing only in `calib` measured apart on the same checkpoint,
# and a checkpoint replaced under the running daemon noticed.  Prints TAP lines, and timings as comments.
set -u
. "$(dirname "$0")/lib.sh"
lib_init archd_subnets
export ARCHD_THREADS=1 ARCH_PATH=
START_FLAGS="--threads 1"

tiny_spec
start
req POST /v1/specs --data-binary @tiny.arch
check "the spec uploads" test "$code" = 201
SPEC=$(jget id)

# --- before training ---------------------------------------------------------------
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "an untrained supernet is 409" test "$code" = 409
check "naming the train endpoint" test "$(jget train)" = "/v1/specs/$SPEC/tasks/t/train"
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=two\"}}"
check "bad constraint syntax is 400" test "$code" = 400
check "naming the field" grep -q "constraints.macs" out.json
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"speed\":\"<=1ms\"}}"
check "an unknown metric is 400" sh -c "test $code = 400 && grep -q constraints.speed out.json"
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"latency\":\"<=3\"}}"
check "a latency without a unit is 400" test "$code" = 400
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\",\"constraints\":{\"macs\":\"<=2M\"}}"
check "target and constraints together are 400" test "$code" = 400
post "{\"spec\":\"$SPEC\",\"task\":\"t\"}"
check "neither is 400" test "$code" = 400
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\",\"colour\":1}"
check "an unknown field is 400" test "$code" = 400
post "{\"spec\":\"xxh3:00000000000000000000000000000000\",\"task\":\"t\",\"target\":\"small\"}"
check "an unknown spec is 404" test "$code" = 404
post "{\"spec\":\"$SPEC\",\"task\":\"nope\",\"target\":\"small\"}"
check "an unknown task is 404" test "$code" = 404
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"nope\"}"
check "an unknown target is 404" sh -c "test $code = 404 && grep -q unknown_target out.json"
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\",\"objective\":\"nope\"}"
check "an unknown objective is 404" test "$code" = 404
req GET /v1/subnets/0123
check "an unknown subnet is 404" test "$code" = 404
req GET /v1/subnets
check "GET /v1/subnets is 405" test "$code" = 405

# --- trained ------------------------------------------------------------------------
train_tiny t
check "archc train trains the supernet in archd's state dir" test $? -eq 0
train_tiny t2
check "and another task's" test $? -eq 0
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "the first request builds the archive and answers 200" test "$code" = 200
echo "# first answer, archive built on a worker: $secs s"
key=$(jget id | cut -d- -f1)
check "the archive is saved under the supernet" test -s "$STATE/supernets/$key/archive-calib200"
check "and the predictor" test -s "$STATE/supernets/$key/predictor-calib200"
cp out.json first.json
ID=$(jget id)
check "the subnet meets the target" "$PY" -c 'import json; assert json.load(open("out.json"))["metrics"]["macs"] <= 30000'
check "it has a gene string" sh -c "jget() { :; }; grep -q '\"genes\":\"r1[26]:d' out.json"
check "an architecture of active layers" "$PY" -c 'import json; a = json.load(open("out.json"))["architecture"]; assert a[0]["kind"] == "conv" and a[-1]["kind"] == "fc" and len(a) >= 4'
check "measured and predicted accuracy, latency" "$PY" -c 'import json; m = json.load(open("out.json"))["metrics"]; assert 0.2 < m["accuracy"] <= 1 and 0 < m["predicted_accuracy"] < 1.5 and m["latency"] > 0 and m["memory"] > 0 and m["params"] > 0'
check "and the test split's accuracy" "$PY" -c 'import json; m = json.load(open("out.json"))["metrics"]; assert 0.2 < m["test_accuracy"] <= 1'
check "every archive member's test accuracy is kept in the archive" sh -c "head -n 1 '$STATE/supernets/$key/archive-calib200' | grep -qx 'archd-archive 3' && ! grep '^member' '$STATE/supernets/$key/archive-calib200' | grep -qv ' test=0[.][0-9]'"
check "links to itself and its weights" test "$(jget links.weights)" = "/v1/subnets/$ID/weights"
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "the same request repeats identically" cmp -s out.json first.json
echo "# cached answer (curl included): $secs s"
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=40K\",\"latency\":\"<=1s\"}}"
check "a new spec from the warm archive" test "$code" = 200
check "comes from the archive" test "$(jget source)" = archive
echo "# new spec from the warm archive (held by the loop since the first answer): $secs s"
req GET "/v1/subnets/$ID"
check "GET /v1/subnets/{id} gives the subnet" sh -c "test $code = 200 && cmp -s out.json first.json"
curl -s -o w.model -w '%{http_code}' --unix-socket "$SOCK" "http://archd/v1/subnets/$ID/weights" >code.txt
check "its weights are a model file" sh -c 'test "$(cat code.txt)" = 200 && head -c 8 w.model | grep -q ARCHDMDL'
"$ARCHC" eval tiny.arch --task t --model w.model --split holdout >eval.txt 2>&1
check "that archc eval measures" grep -q "^subnet    $(grep -o '"genes":"[^"]*"' first.json | cut -d'"' -f4)$" eval.txt
check "at the accuracy archd measured" "$PY" -c 'import json,sys; a = json.load(open("first.json"))["metrics"]["accuracy"]
b = float([l.split()[1] for l in open("eval.txt") if l.startswith("accuracy")][0]); assert abs(a - b) < 1e-4, (a, b)'
"$ARCHC" eval tiny.arch --task t --model w.model --split test >evaltest.txt 2>&1
check "and its test accuracy is the one archd reports" "$PY" -c 'import json,sys; a = json.load(open("first.json"))["metrics"]["test_accuracy"]
b = float([l.split()[1] for l in open("evaltest.txt") if l.startswith("accuracy")][0]); assert abs(a - b) < 1e-4, (a, b)'
req GET "/v1/subnets/$ID/c"
check "its C export" test "$code" = 200
check "is a header and a source including it" "$PY" -c 'import json; d = json.load(open("out.json")); assert d["name"] == "archd_subnet" and "#include \"archd_subnet.h\"" in d["source"] and "archd_subnet" in d["header"]'
req GET "/v1/subnets/$ID/onnx"
check "its ONNX export (or 501 in a build without it)" sh -c "test $code = 501 || { test $code = 200 && test \$(wc -c <out.json) -gt 1000; }"
req GET "/v1/subnets/$ID/pdf"
check "an unknown file of a subnet is 404" test "$code" = 404
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"impossible\"}"
check "an infeasible spec is 422" test "$code" = 422
check "naming the tightest constraint" grep -q "tightest constraint is macs <= 1000" out.json
check "with the nearest subnet" "$PY" -c 'import json; assert json.load(open("out.json"))["nearest"]["metrics"]["macs"] > 1000'
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=50K\",\"params\":\">=4000\"}}"
check "a spec no member meets is answered by a targeted search" sh -c "test $code = 200 && grep -q '\"source\":\"search\"' out.json"
echo "# targeted search, the chosen subnet measured: $secs s"
cp out.json searched.json
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=51K\",\"params\":\">=4000\"}}"
echo "# another targeted search: $secs s"
# Its record pruned (max_answers) before its weights are first asked for:
# they are served from memory, and no .model is left without its record.
SID=$(jget id)
REC="$STATE/supernets/$key/subnets/${SID#*-}"
i=0
while [ ! -e "$REC.json" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "a subnet's record is written beside its answer" test -e "$REC.json"
rm -f "$REC.json"
curl -s -o w2.model -w '%{http_code}' --unix-socket "$SOCK" "http://archd/v1/subnets/$SID/weights" >code.txt
check "the weights of a subnet whose record went are still served" sh -c 'test "$(cat code.txt)" = 200 && head -c 8 w2.model | grep -q ARCHDMDL'
check "and leave no .model behind" test ! -e "$REC.model"
req GET /metrics
check "the metrics count the route" grep -q 'route="/v1/subnets"' out.json
check "and the answers repeated (hits) and new (misses)" sh -c "awk '\$1 == \"archd_answer_cache_hits_total\" && \$2 >= 1 { h = 1 } \$1 == \"archd_answer_cache_misses_total\" && \$2 >= 4 { m = 1 } END { exit !(h && m) }' out.json"

# --- restart after kill -9 -------------------------------------------------------------
stop_kill
check "every answer is kept by request in the state dir" test "$(ls "$STATE/supernets/$key/answers/" | wc -l)" -ge 4
# Without the checkpoint nothing can be computed (409): an answer given
# before comes from what was kept, not from a worker.
mv "$STATE/supernets/$key/checkpoint" ckpt.away
start
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "after kill -9, the same request answers identically" cmp -s out.json first.json
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=50K\",\"params\":\">=4000\"}}"
check "and the searched one too, though the archive has grown since" cmp -s out.json searched.json
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=52K\",\"params\":\">=4000\"}}"
check "(a new request then needs the supernet: 409)" test "$code" = 409
stop_kill
mv ckpt.away "$STATE/supernets/$key/checkpoint"
start
# A new spec goes to a worker, which leaves the archive it read on the loop.
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=45K\"}}"
check "after the restart a new spec is answered from the saved archive" sh -c "test $code = 200 && grep -q '\"source\":\"archive\"' out.json"
# Another task's archive being built occupies the only worker; a new spec
# the warm archive answers is answered by the loop meanwhile.
curl -s -o bg.json -w '%{http_code} %{time_total}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
	--data-binary "{\"spec\":\"$SPEC\",\"task\":\"t2\",\"target\":\"small\"}" \
	http://archd/v1/subnets >bg.txt &
BG=$!
sleep 0.2
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=35K\"}}"
check "a new spec from the warm archive is answered while the worker builds" sh -c "test $code = 200 && kill -0 $BG 2>/dev/null"
echo "# new spec from the warm archive, by the loop: $secs s"
wait $BG
echo "# the other task's archive built meanwhile: $(cut -d' ' -f2 bg.txt) s"
check "and that build answers" grep -q '^200 ' bg.txt
stop_kill
start
req GET "/v1/subnets/$ID"
check "GET by id after a restart reads the record" sh -c "test $code = 200 && cmp -s out.json first.json"
stop_term
check "SIGTERM with answers cached and an environment kept: exit 0" test "$st" -eq 0

# --- an archive of version 1 (no test accuracies) ------------------------------------------
# Rewritten as the older daemon left it: no test fields nor weights,
# version 1, its checksum.
cat >xxh3.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>
int main(int argc, char **argv) /* [SEED] */
{
	static char b[1 << 22];
	size_t n = fread(b, 1, sizeof b, stdin);
	XXH64_hash_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 0;
	printf("%016llx\n", (unsigned long long)XXH3_64bits_withSeed(b, n, seed));
	return 0;
}
C
cc -o xxh3 xxh3.c -lxxhash
A="$STATE/supernets/$key/archive-calib200"
sed -e '$d' -e '1s/ 3$/ 1/' -e '/^weights /d' -e 's/ test=[^ ]*//' "$A" >v1.txt
echo "xxh3 $(./xxh3 <v1.txt)" >>v1.txt
cp v1.txt "$A"
# An older archd kept no answers either.
rm -r "$STATE/supernets/$key/answers"
start
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "a version 1 archive answers as before, the test accuracy measured again" cmp -s out.json first.json
check "saying the archive is of version 1" grep -q "an archive of version 1, without test accuracies" log
check "and it is rewritten as version 3 with that member's test accuracy" sh -c "head -n 1 '$A' | grep -qx 'archd-archive 3' && grep -q '^member $(jget genes) acc=[^ ]* test=0[.]' '$A'"

# --- SIGTERM while an archive is built ---------------------------------------------------
train_tiny t3
check "a third supernet trains" test $? -eq 0
narch=$(ls "$STATE"/supernets/*/archive-calib200 | wc -l)
curl -s -o bg3.json -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
	--data-binary "{\"spec\":\"$SPEC\",\"task\":\"t3\",\"target\":\"small\"}" \
	http://archd/v1/subnets >bg3.txt &
BG=$!
i=0
# Once it measures subnets (loading the data and timing the latency table
# of a new space come first and are not cut short).
while ! grep -q "task t3's archive: sample" log && [ $i -lt 1200 ]; do
	sleep 0.05
	i=$((i + 1))
done
# A GET waiting behind the build for the one worker, its client sending one
# byte more meanwhile: evhttp must not read a connection whose request is
# being answered (libevent releases that did exited the process, "illegal
# connection state"; conn.c's request_timeout relies on it too).
"$PY" - "$SOCK" "$ID" >pipelined.txt 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("GET /v1/subnets/%s/weights HTTP/1.1\r\nHost: archd\r\n\r\n" % sys.argv[2]).encode())
time.sleep(0.2)
s.sendall(b"G")
open("sent", "w").close()  # the shell stops archd only then
s.settimeout(60)
d = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        d += b
except OSError:
    pass
print(d.split(b"\r\n")[0].decode(errors="replace"))
PY
PIPED=$!
# (on a loaded machine the client may take seconds to start)
i=0
while [ ! -e sent ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
sleep 0.1
req GET /v1/health
check "a byte more from a client whose GET waits for a worker: archd goes on" test "$code" = 200
t0=$(date +%s.%N)
stop_term
t1=$(date +%s.%N)
wait $BG
check "SIGTERM during an archive build (5000 samples) exits 0" test "$st" -eq 0
secs=$(echo "$t1 - $t0" | bc)
echo "# SIGTERM to exit, a build running: $secs s"
check "without waiting for the build" sh -c "echo '$secs < 5' | bc | grep -qx 1"
check "its request gets 503 shutting_down" sh -c "test \"\$(cat bg3.txt)\" = 503 && grep -q shutting_down bg3.json"
wait $PIPED
echo "# the waiting GET: $(head -n 1 pipelined.txt)"
check "and the waiting GET is answered" grep -q '^HTTP/1.1 [0-9]' pipelined.txt
check "the log says the build was cancelled" grep -q "task t3's archive build cancelled" log
check "no half-built archive is saved" test "$(ls "$STATE"/supernets/*/archive-calib200 | wc -l)" -eq "$narch"

# --- a supernet's jobs wait in its lane, not on a thread -----------------------------------
# Two threads: t3's archive build on one; a second spec of t3 waits for it
# (the jobs of a supernet run one at a time) without taking the other
# thread, so an upload compiles meanwhile.  (The second spec used to block
# that thread inside the job, and the upload waited for the whole build.)
start --threads 2
curl -s -o bg3.json -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
	--data-binary "{\"spec\":\"$SPEC\",\"task\":\"t3\",\"target\":\"small\"}" \
	http://archd/v1/subnets >bg3.txt &
BG=$!
i=0
while [ "$(grep -c "task t3's archive: sample" log)" -lt 2 ] && [ $i -lt 1200 ]; do
	sleep 0.05
	i=$((i + 1))
done
curl -s -o bg4.json -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
	--data-binary "{\"spec\":\"$SPEC\",\"task\":\"t3\",\"constraints\":{\"macs\":\"<=40K\"}}" \
	http://archd/v1/subnets >bg4.txt &
BG4=$!
sleep 0.3
{ cat tiny.arch; echo "target lanes { macs <= 20K; }"; } >tiny_lanes.arch
req POST /v1/specs --max-time 30 --data-binary @tiny_lanes.arch
check "an upload compiles while a supernet's build runs and its next spec waits" \
	sh -c "test $code = 201 && kill -0 $BG 2>/dev/null && kill -0 $BG4 2>/dev/null"
echo "# upload beside a build and a spec waiting for it: $secs s"
stop_term
wait $BG $BG4
check "SIGTERM then: exit 0, both specs of t3 503 shutting_down" sh -c "test $st -eq 0 && test \"\$(cat bg3.txt bg4.txt)\" = 503503"
check "no half-built archive is saved then either" test "$(ls "$STATE"/supernets/*/archive-calib200 | wc -l)" -eq "$narch"
start
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "after it, the archives built before answer as before" cmp -s out.json first.json
stop_term
check "and the daemon stops with exit 0 again" test "$st" -eq 0

# --- records kept to max_answers when a worker answers ----------------------------------
# (answers given on the loop are covered by test_dm_answers.c's prune)
R="$STATE/supernets/$key/subnets"
rm -f "$R"/*.json "$R"/*.model
for h in 0000000000000001 0000000000000002 0000000000000003 0000000000000004; do
	cp first.json "$R/$h.json"
	touch -d 2020-01-01 "$R/$h.json"
done
echo 'max_answers = 1' >small.conf
start --config small.conf
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=45K\"}}"
check "a worker's answer with max_answers = 1" test "$code" = 200
check "leaves one subnet record, its own" sh -c "test \$(ls '$R' | grep -c '[.]json\$') -eq 1 && test -e '$R/$(jget id | cut -d- -f2).json'"
stop_term

# --- a supernet trained afresh ---------------------------------------------------------------
# Its checkpoint deleted and trained again by a job: the archive, predictor,
# records and answers measured on the earlier weights go, and so does what
# archd holds of them in memory; the same spec is measured anew.
start
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "before: the spec is answered (from memory or the kept answer)" test "$code" = 200
builds=$(grep -c "task t has no archive yet" log)
rm "$STATE/supernets/$key/checkpoint"
req POST "/v1/specs/$SPEC/tasks/t/train"
JOB=$(jget id)
i=0
while [ $i -lt 600 ]; do
	req GET "/v1/jobs/$JOB"
	case "$(jget state)" in done | failed | cancelled) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
check "the supernet is trained again by a job" test "$(jget state)" = done
check "which removed what was measured on the earlier weights" sh -c "test ! -e '$STATE/supernets/$key/archive-calib200' && test ! -e '$STATE/supernets/$key/predictor-calib200' && ! ls '$STATE/supernets/$key/answers/'*.json >/dev/null 2>&1"
check "... saying so in the log" grep -q "$JOB: .*: trained afresh, so the [0-9]* files measured on its earlier weights" log
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "the same spec is measured anew on the new weights (an archive built)" sh -c "test $code = 200 && test \$(grep -c 'task t has no archive yet' log) -gt $builds"
check "and the archive is saved again" test -s "$STATE/supernets/$key/archive-calib200"
stop_term

# --- an archive measured on other weights ----------------------------------------------
# t2's archive (the same space) copied over t's: a worker finds it names
# another checkpoint, rebuilds it, and removes what else was measured on
# those weights (here a kept answer).
ckid() { od -An -tx8 -j $(($(wc -c <"$1") - 8)) -N8 "$1" | tr -d ' '; }
K2=$(for d in "$STATE"/supernets/*; do [ -e "$d/archive-calib200" ] && [ "$d" != "$STATE/supernets/$key" ] && echo "$d"; done | head -n 1)
cp "$K2/archive-calib200" "$K2/predictor-calib200" "$STATE/supernets/$key/"
echo '{}' >"$STATE/supernets/$key/answers/0123456789abcdef.json"
start
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"constraints\":{\"macs\":\"<=33K\"}}"
check "an archive of other weights: the spec is answered" test "$code" = 200
check "by an archive built anew, the log saying why" grep -q "task t's archive is rebuilt: $STATE/supernets/$key/archive-calib200 was measured on other weights (checkpoint $(ckid "$K2/checkpoint");" log
check "which names t's weights" sh -c 'sed -n 3p "$0" | grep -qx "weights $1"' "$STATE/supernets/$key/archive-calib200" "$(ckid "$STATE/supernets/$key/checkpoint")"
check "what was kept of the other weights goes" sh -c "test ! -e '$STATE/supernets/$key/answers/0123456789abcdef.json' && grep -q 'removed [0-9]* files measured on the other weights' log"
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "and the daemon answers on" test "$code" = 200
check "an answer names the checkpoint it was measured on" test "$(jget weights)" = "$(ckid "$STATE/supernets/$key/checkpoint")"
OLD=$(jget id)
stop_term

# --- another checkpoint put in its place -------------------------------------------------
# (Training is deterministic: a backup of the same supernet restored is the
# same file.  Here one batch-norm statistic is changed by its last bit and
# the file resealed.)  The kept answers, records and archive name the
# weights before, and none of them is served.
"$PY" - "$STATE/supernets/$key/checkpoint" other.ckpt ./xxh3 <<'PY'
import subprocess, sys
b = bytearray(open(sys.argv[1], "rb").read()[:-8])
b[len(b) - 4] ^= 1  # the lowest bit of the last statistic
h = subprocess.run([sys.argv[3]], input=bytes(b), capture_output=True, check=True).stdout
open(sys.argv[2], "wb").write(b + int(h, 16).to_bytes(8, "little"))
PY
cp "$STATE/supernets/$key/checkpoint" orig.ckpt
cp other.ckpt "$STATE/supernets/$key/checkpoint"
start
req GET "/v1/subnets/$OLD"
check "a record of other weights is not served (404)" test "$code" = 404
check "... the log saying why" grep -q "measured on other weights (checkpoint [0-9a-f]*, now $(ckid other.ckpt)): not served" log
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "the spec is answered afresh, on the new checkpoint" sh -c "test $code = 200 && test '$(jget weights)' = $(ckid other.ckpt)"
req GET "/v1/subnets/$(jget id)"
check "and that subnet's record is served" sh -c "test $code = 200 && test '$(jget weights)' = $(ckid other.ckpt)"

# --- another recalibration sample of the same weights ---------------------------------
# A spec whose tasks differ only in `calib` has the same supernet key: t's
# checkpoint answers it, but measured after its own recalibration (its own
# archive and ids), not from what memory or the state dir holds of t's.
sed 's/calib = 200;/calib = 100;/' tiny.arch >calib.arch
cp "$STATE/supernets/$key/archive-calib200" calib200.archive
req POST /v1/specs --data-binary @calib.arch
SPEC100=$(jget id)
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
cp out.json calib200.json
post "{\"spec\":\"$SPEC100\",\"task\":\"t\",\"target\":\"small\"}"
check "a spec differing only in calib is answered" test "$code" = 200
check "... by t's supernet, with an archive of its own" sh -c "test '$(jget id | cut -d- -f1)' = $key && test -s '$STATE/supernets/$key/archive-calib100'"
check "... measured on t's weights" test "$(jget weights)" = "$(ckid other.ckpt)"
check "... its id the genes' hash seeded with 100" test "$(jget id)" = "$key-$(printf %s "$(jget genes)" | ./xxh3 100)"
check "... where calib 200's is seeded with 200" test "$(jget id calib200.json)" = "$key-$(printf %s "$(jget genes calib200.json)" | ./xxh3 200)"
check "... leaving calib 200's archive as it was" cmp -s calib200.archive "$STATE/supernets/$key/archive-calib200"
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "calib 200's answer is still its own" cmp -s out.json calib200.json
req GET "/v1/subnets/$(jget id calib200.json)/weights"
check "and so are its weights" test "$code" = 200

# --- a checkpoint replaced while archd runs ----------------------------------------------
# As `archc train` leaves one trained afresh (a rename over the file): the
# answers held in memory, measured on the one before, go within a second.
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "an answer held in memory" test "$(jget weights)" = "$(ckid other.ckpt)"
cp orig.ckpt "$STATE/supernets/$key/checkpoint.new"
mv "$STATE/supernets/$key/checkpoint.new" "$STATE/supernets/$key/checkpoint"
sleep 1.2
post "{\"spec\":\"$SPEC\",\"task\":\"t\",\"target\":\"small\"}"
check "is measured anew once the checkpoint is replaced" sh -c "test $code = 200 && test '$(jget weights)' = $(ckid orig.ckpt)"
check "... the log saying why" grep -q "supernet $key: its checkpoint was replaced outside archd" log
stop_term
check "the daemon logged no error" sh -c '! grep -q "error" log'
check "and no sanitizer report" sh -c '! grep -q "Sanitizer" log'
lib_done
