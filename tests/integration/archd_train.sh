#!/bin/sh
# tests/integration/archd_train.sh — training through archd: a job queued
# and run to its checkpoint with progress, a repeated request joining it,
# cancel (DELETE) keeping the checkpoint and a new job resuming from it,
# the queue limit, the errors (unknown task, transfer task, unknown job,
# finished job), `archc train` finding archd's checkpoint, SIGTERM during a
# job: checkpoint, exit 0; and that supernet, stopped mid-way, answering no
# spec (archd and archc search).  Prints TAP lines.
set -u
. "$(dirname "$0")/lib.sh"
lib_init archd_train
# One compute thread: the machine is shared with the rest of the suite.
export ARCHD_THREADS=1 ARCH_PATH=
START_FLAGS="--config archd.conf"
# wait_job ID STATE...: polls until the job is in one of the states (60 s).
wait_job() {
	j=$1
	shift
	i=0
	while [ $i -lt 600 ]; do
		req GET "/v1/jobs/$j"
		s=$(jget state)
		for want in "$@"; do [ "$s" = "$want" ] && return 0; done
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# ckpt KEY: the checkpoint file of a supernet key (xxh3:HEX).
ckpt() { echo "$STATE/supernets/${1#xxh3:}/checkpoint"; }

cat >tiny.arch <<'ARCH'
import "std/datasets.arch";
dataset tiny from fashion_mnist where label in {0, 1, 7, 8} { train_limit = 1000; holdout = 300; }
space tiny {
    input channels = 1;
    resolution in {12, 16};
    stem conv(kernel = 3, out = 8, stride = 2, act = relu);
    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 12, stride = 2); }
    head pool, fc(classes);
}
task long { data = tiny; space = tiny; train { epochs = 40; batch = 32; sampler = sandwich(3); calib = 256; } }
task short { data = tiny; space = tiny; train { epochs = 1; batch = 32; sampler = sandwich(3); calib = 256; } }
task third { data = tiny; space = tiny; train { epochs = 2; batch = 32; sampler = sandwich(3); calib = 256; } }
task moved { data = fashion_mnist where label in {5, 9}; from = short; adapt = finetune(epochs = 1); }
ARCH
echo "max_jobs = 1" >archd.conf
start
req POST /v1/specs --data-binary @tiny.arch
check "the spec uploads" test "$code" = 201
SPEC=$(jget id)

# --- errors ---------------------------------------------------------------------
req POST "/v1/specs/$SPEC/tasks/nope/train"
check "an unknown task is 404 unknown_task" test "$code/$(jget error.code)" = 404/unknown_task
check "listing the tasks" sh -c 'grep -q "its tasks: long, moved, short, third" out.json'
req POST "/v1/specs/$SPEC/tasks/moved/train"
check "a transfer task is 422 not_trainable" test "$code/$(jget error.code)" = 422/not_trainable
req POST /v1/specs/xxh3:0123456789abcdef0123456789abcdef/tasks/short/train
check "an unknown spec is 404" test "$code/$(jget error.code)" = 404/unknown_spec
req POST "/v1/specs/$SPEC/tasks/short/train" -H 'Content-Type: application/json' -d '{"epochs": 3}'
check "an unknown option is 400, named" sh -c 'test "$0" = 400 && grep -q "unknown field .epochs." out.json' "$code"
req GET /v1/jobs/job-0000000000000000
check "an unknown job is 404 unknown_job" test "$code/$(jget error.code)" = 404/unknown_job
req GET "/v1/specs/$SPEC/tasks/short/train"
check "GET on the train route is 405" test "$code" = 405

# --- a job runs to its checkpoint ---------------------------------------------------
req POST "/v1/specs/$SPEC/tasks/short/train"
check "training a task is 202" test "$code" = 202
SHORT=$(jget id)
SHORT_KEY=$(jget supernet)
check "with a job id" sh -c 'echo "$0" | grep -Eq "^job-[0-9a-f]{16}$"' "$SHORT"
req POST "/v1/specs/$SPEC/tasks/short/train"
check "the same request again joins the job (200)" test "$code/$(jget id)" = "200/$SHORT"
check "the job finishes" wait_job "$SHORT" done failed
check "done, not failed" test "$(jget state)" = done
check "its progress is 1" test "$(jget progress)" = 1.0
check "it reports a holdout accuracy" "$PY" -c 'import json; a = json.load(open("out.json"))["accuracy"]; assert 0.5 < a <= 1'
check "and a training loss" "$PY" -c 'import json; assert json.load(open("out.json"))["loss"] > 0'
check "the checkpoint is in the state dir" test -s "$(ckpt "$SHORT_KEY")"
req GET "/v1/specs/$SPEC"
check "the spec shows the task checkpointed" test "$(jget tasks.2.name)/$(jget tasks.2.state)" = short/checkpointed
req DELETE "/v1/jobs/$SHORT"
check "cancelling a finished job is 409 job_finished" test "$code/$(jget error.code)" = 409/job_finished
"$ARCHC" train tiny.arch --task short --state "$STATE" --resume >train.out 2>&1
check "archc train --state finds archd's checkpoint" grep -q "resum" train.out

# --- cancel, the queue, resume -------------------------------------------------------
req POST "/v1/specs/$SPEC/tasks/long/train"
LONG=$(jget id)
LONG_KEY=$(jget supernet)
check "a long job starts" wait_job "$LONG" running
req POST "/v1/specs/$SPEC/tasks/third/train"
check "a second supernet queues behind it (202)" test "$code/$(jget state)" = 202/queued
THIRD=$(jget id)
req POST "/v1/specs/$SPEC/tasks/short/train"
check "past max_jobs a third is 503 busy" test "$code/$(jget error.code)" = 503/busy
req DELETE "/v1/jobs/$THIRD"
check "cancelling a queued job is 200, cancelled at once" test "$code/$(jget state)" = 200/cancelled
req GET "/v1/specs/$SPEC"
check "the spec shows the long task training" test "$(jget tasks.0.state)/$(jget tasks.0.job)" = "training/$LONG"
i=0
while [ ! -s "$(ckpt "$LONG_KEY")" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
req DELETE "/v1/jobs/$LONG"
check "cancelling a running job is 202" test "$code" = 202
# Asked again before the cancelled job has stopped: a new job, not the one
# about to end.
req POST "/v1/specs/$SPEC/tasks/long/train"
check "training it again at once is a new job" test "$code" = 202 -a "$(jget id)" != "$LONG"
LONG2=$(jget id)
check "the cancelled one stops, cancelled" wait_job "$LONG" cancelled
check "keeping its checkpoint" test -s "$(ckpt "$LONG_KEY")"
check "that resumes from the checkpoint" sh -c 'i=0; while ! grep -q "$0: resuming from" log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; grep -q "$0: resuming from" log' "$LONG2"

# --- SIGTERM during a job ----------------------------------------------------------------
wait_job "$LONG2" running >/dev/null
sleep 0.5
before=$(od -An -t u8 -j 64 -N 8 "$(ckpt "$LONG_KEY")" | tr -d ' ')
kill -TERM "$PID"
wait "$PID"
check "SIGTERM during a job exits 0" test $? -eq 0
PID=
after=$(od -An -t u8 -j 64 -N 8 "$(ckpt "$LONG_KEY")" | tr -d ' ')
check "after checkpointing the job" test "$after" -gt "$before"
check "saying so" grep -q "$LONG2: stopping (checkpoint, then stop)" log

# --- a supernet mid-way through training answers no spec ----------------------------------
# An archive measured on its weights would answer for the finished supernet
# ever after.
start
post "{\"spec\":\"$SPEC\",\"task\":\"long\",\"constraints\":{\"macs\":\"<=1G\"}}"
check "a spec of a supernet stopped mid-way is 409 untrained" test "$code/$(jget error.code)" = 409/untrained
check "... saying how far it is trained" sh -c 'grep -q "supernet is trained to epoch [0-9]* of 40 " out.json'
check "... and naming the train endpoint, which resumes it" test "$(jget train)" = "/v1/specs/$SPEC/tasks/long/train"
check "no archive is built of it" test ! -e "$(dirname "$(ckpt "$LONG_KEY")")/archive-calib256"
stop_term
"$ARCHC" search tiny.arch --task long --state "$STATE" --constraint 'macs<=1G' >search.out 2>&1
check "archc search refuses it too (exit 1)" test $? -eq 1
check "... saying to finish it with --resume" grep -q "finish it: archc train tiny.arch --task long --resume --state" search.out
lib_done
