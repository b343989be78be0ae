# tests/integration/lib.sh — the set-up the daemon's integration scripts
# (archd_*.sh, archc_request.sh) share; sourced, never run on its own
# (tests/run skips it):
#
#   . "$(dirname "$0")/lib.sh"
#   lib_init NAME        a temp dir T (removed on exit, with the daemon
#                        killed), cd there, SOCK, STATE, B, S, ARCHD, ARCHC, PY
#   START_FLAGS=...      flags every `start` adds (word-split)
#   start [FLAGS...]     archd on $SOCK and $STATE, stderr appended to
#                        $T/log, PID set; returns once it answers /v1/health
#   stop_term            SIGTERM, wait; the exit status in $st, PID cleared
#   stop_kill            kill -9, wait, PID cleared
#   check WHAT CMD...    a TAP line: ok when CMD succeeds
#   req METHOD PATH [curl args...]
#                        the body into out.json, the status into $code, the
#                        time curl took into $secs
#   post JSON            POST /v1/subnets with that body (req)
#   jget KEY [FILE]      a value of out.json (or FILE): "a.b.0.c"
#   tiny_spec            writes tiny.arch: tasks t, t2 (a second supernet)
#                        and t3 (a large space), targets small, impossible
#   train_tiny TASK      `archc train tiny.arch --task TASK` into $STATE
#   lib_done             prints the TAP plan

lib_init() { # NAME
	B=${ARCHD_BUILDDIR:-.}
	S=${ARCHD_SRCDIR:-.}
	ARCHD="$B/archd"
	ARCHC=${ARCHC:-$B/archc}
	T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
	PID=
	trap lib_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	cd "$T" || exit 1
	SOCK="$T/archd.sock"
	STATE="$T/state"
	# The system python starts in a tenth of the time of a version manager's shim.
	PY=python3
	[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
	START_FLAGS=
	n=0
}

lib_cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T"
}

ok() { n=$((n + 1)); echo "ok $n - $1"; }
no() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else no "$d"; fi; }
lib_done() { echo "1..$n"; }

start() { # extra flags...
	# shellcheck disable=SC2086 # START_FLAGS is a list of flags
	"$ARCHD" --socket "$SOCK" --state "$STATE" $START_FLAGS "$@" 2>>"$T/log" &
	PID=$!
	# Wait for this daemon's answer: a stale socket file may be there first.
	i=0
	while ! curl -s -o /dev/null --unix-socket "$SOCK" http://archd/v1/health && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

stop_term() {
	kill -TERM "$PID"
	wait "$PID"
	st=$?
	PID=
}

stop_kill() {
	kill -9 "$PID"
	wait "$PID" 2>/dev/null
	PID=
}

req() {
	m=$1
	p=$2
	shift 2
	r=$(curl -s -o out.json -w '%{http_code} %{time_total}' --unix-socket "$SOCK" -X "$m" "$@" "http://archd$p")
	code=${r% *}
	secs=${r#* }
}

post() { req POST /v1/subnets -H 'Content-Type: application/json' --data-binary "$1"; }

jget() {
	"$PY" -c 'import json,sys; v=json.load(open(sys.argv[2]))
for k in sys.argv[1].split("."): v=v[int(k)] if k.isdigit() and isinstance(v, list) else v[k]
print(v)' "$1" "${2:-out.json}"
}

tiny_spec() {
	cat >tiny.arch <<'ARCH'
import "std/datasets.arch";
dataset fm_tiny from fashion_mnist { train_limit = 1200; holdout = 200; }
space tiny {
    input channels = 1;
    resolution in {12, 16};
    stem conv(kernel = 3, out = 8, stride = 2, act = relu);
    stage s1 { depth in 1..2; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 16, stride = 2); }
    head pool, fc(classes);
}
space wide {
    input channels = 1;
    resolution in {12, 16};
    stem conv(kernel = 3, out = 8, stride = 2, act = relu);
    stage s1 { depth in 1..4; block = mbconv(kernel in {3, 5}, expand in {2, 3, 4}, out = 16, stride = 2); }
    stage s2 { depth in 1..3; block = mbconv(kernel in {3, 5}, expand in {2, 3}, out = 24, stride = 1); }
    head pool, fc(classes);
}
task t {
    data = fm_tiny;
    space = tiny;
    train { epochs = 4; batch = 50; optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true);
            sampler = sandwich(3); distill = inplace; calib = 200; }
    search { predictor = auto; samples = 12; population = 12; generations = 4; }
}
task t3 {
    data = fm_tiny;
    space = wide;
    train { epochs = 1; batch = 50; sampler = sandwich(2); calib = 200; seed = 3; }
    search { predictor = rbf; samples = 5000; population = 12; generations = 2; }
}
task t2 {
    data = fm_tiny;
    space = tiny;
    train { epochs = 2; batch = 50; sampler = sandwich(3); calib = 200; seed = 2; }
    search { predictor = rbf; samples = 12; population = 12; generations = 4; }
}
target small { macs <= 30K; }
target impossible { macs <= 1K; }
objective cheap { minimize macs; maximize accuracy; }
ARCH
}

train_tiny() { # TASK
	"$ARCHC" train tiny.arch --task "$1" --state "$STATE" --threads 1 >"train-$1.txt" 2>&1
}
