#!/bin/sh
# tests/integration/archd_basic.sh — archd as a client meets it: every
# route with its status and body, the socket's rules (mode, stale socket,
# live socket, loopback-only TCP), shared compiles, a restart after kill -9
# that finds the spec without compiling, SIGHUP and a clean SIGTERM.
# Prints TAP lines.
set -u
. "$(dirname "$0")/lib.sh"
lib_init archd_basic
START_FLAGS="--config $T/archd.conf"

metric() { curl -s --unix-socket "$SOCK" http://archd/metrics | awk -v m="$1" '$1 == m { print $2 }'; }

: >"$T/archd.conf"
cp "$S/examples/fashion.arch" fashion.arch

# --- command line ------------------------------------------------------------
check "--help exits 0" sh -c '"$0" --help | grep -q "^usage: archd"' "$ARCHD"
check "--version exits 0" sh -c '"$0" --version | grep -q "^archd (archd) "' "$ARCHD"
"$ARCHD" --bogus >/dev/null 2>err.txt
check "an unknown flag exits 2" test $? -eq 2
"$ARCHD" --socket "$SOCK" --listen 0.0.0.0:8080 2>err.txt
check "a non-loopback --listen exits 2" test $? -eq 2
check "and says it is not loopback" grep -q "not a loopback address" err.txt
echo hello >"$T/file"
"$ARCHD" --socket "$T/file" --state "$STATE" 2>err.txt
check "a regular file at the socket path exits 1" test $? -eq 1
check "naming the path" grep -q "$T/file: exists and is not a socket" err.txt

# --- start, health, the socket --------------------------------------------------
start
check "the socket exists" test -S "$SOCK"
check "the socket has mode 0660" test "$(stat -c %a "$SOCK")" = 660
req GET /v1/health
check "GET /v1/health is 200" test "$code" = 200
check "health says ok" test "$(jget status)" = ok
check "and names the inference kernels" sh -c 'case "$0" in avx512|avx2|sse2|generic) ;; *) exit 1 ;; esac' "$(jget kernels)"
"$ARCHD" --socket "$SOCK" --state "$STATE" 2>err.txt
check "a second daemon on a live socket exits 1" test $? -eq 1
check "naming the socket" grep -q "$SOCK: another daemon is serving" err.txt
req GET /v1/health
check "the first daemon still serves" test "$code" = 200

# --- specs ----------------------------------------------------------------------------
req POST /v1/specs --data-binary @fashion.arch
check "POST /v1/specs with a new source is 201" test "$code" = 201
ID=$(jget id)
check "the id is xxh3:32 hex digits" sh -c 'echo "$0" | grep -Eq "^xxh3:[0-9a-f]{32}$"' "$ID"
check "the task is listed, untrained" test "$(jget tasks.0.name)/$(jget tasks.0.state)" = fashion/untrained
check "the supernet key is given" sh -c 'echo "$0" | grep -Eq "^xxh3:[0-9a-f]{32}$"' "$(jget tasks.0.supernet)"
check "targets are listed with constraints" test "$(jget targets.2.name)/$(jget targets.2.constraints.0.metric)" = phone/macs
check "the IR is stored content-addressed" test -s "$STATE/ir/${ID#xxh3:}.air"
req POST /v1/specs --data-binary @fashion.arch
check "the same source again is 200" test "$code" = 200
check "with the same id" test "$(jget id)" = "$ID"
req GET "/v1/specs/$ID"
check "GET /v1/specs/ID is 200" test "$code" = 200
check "and has the id" test "$(jget id)" = "$ID"
"$PY" -c 'import json,sys; print(json.dumps({"source": open("fashion.arch").read(), "name": "f.arch"}))' >up.json
req POST /v1/specs -H 'Content-Type: application/json' --data-binary @up.json
check "a JSON upload of the same spec is 200" test "$code/$(jget id)" = "200/$ID"
"$ARCHC" compile fashion.arch -o fashion.air 2>/dev/null
req POST /v1/specs -H 'Content-Type: application/octet-stream' --data-binary @fashion.air
check "its .air uploaded is 200 with the same id" test "$code/$(jget id)" = "200/$ID"
sed 's/data = fashion_small;/data = fashion_smal;/' fashion.arch >bad.arch
line=$(grep -n 'data = fashion_smal;' bad.arch | cut -d: -f1)
col=$(grep 'data = fashion_smal;' bad.arch | awk '{ print index($0, "fashion_smal") }')
req POST /v1/specs --data-binary @bad.arch
check "a spec with errors is 422" test "$code" = 422
check "with error code compile_error" test "$(jget error.code)" = compile_error
check "diagnostics list line and column" test "$(jget diagnostics.0.line):$(jget diagnostics.0.column)" = "$line:$col"
check "and the message" sh -c 'grep -q "unknown dataset .fashion_smal." out.json'
check "diagnostics as text" grep -q "request.arch:$line:$col: error: unknown dataset" out.json
sed 's/data = fashion_smal;/data = fashion_smal; # caf\xe9/' bad.arch >latin1.arch
req POST /v1/specs --data-binary @latin1.arch
check "an error on a line that is not UTF-8 (Latin-1) is still 422 compile_error" \
	test "$code/$(jget error.code)/$(jget diagnostics.0.line)" = "422/compile_error/$line"
check "its text shows the line, the byte replaced" "$PY" -c 'import json; assert "caf\ufffd" in json.load(open("out.json"))["text"]'
printf 'ARCHIR\000\001garbage' >bad.air
req POST /v1/specs --data-binary @bad.air
if head -c 4 fashion.air | grep -q '^ARCH'; then
	check "a damaged .air is 400 invalid_air" test "$code/$(jget error.code)" = 400/invalid_air
fi
req GET /v1/specs/xxh3:0123456789abcdef0123456789abcdef
check "an unknown spec is 404 unknown_spec" test "$code/$(jget error.code)" = 404/unknown_spec
req GET /v1/specs/nonsense
check "a malformed id is 404" test "$code" = 404
req GET /v1/nothing
check "an unknown route is 404" test "$code/$(jget error.code)" = 404/not_found
req DELETE /v1/specs
check "a wrong method is 405" test "$code/$(jget error.code)" = 405/method_not_allowed
check "HEAD is 405" test "$(curl -s -o /dev/null -w '%{http_code}' -I --unix-socket "$SOCK" http://archd/v1/health)" = 405
req POST /v1/specs
check "an empty body is 400" test "$code/$(jget error.code)" = 400/empty_body

# --- concurrent identical uploads share one compile ---------------------------------------
sed 's/^task fashion/# another copy\ntask fashion/' fashion.arch >copy.arch
before=$(metric archd_compiles_total)
pids=
for i in 1 2 3 4 5 6; do
	curl -s -o "c$i.json" -w '%{http_code}\n' --unix-socket "$SOCK" --data-binary @copy.arch http://archd/v1/specs >"c$i.code" &
	pids="$pids $!"
done
wait $pids
after=$(metric archd_compiles_total)
check "6 identical concurrent uploads compile once" test $((after - before)) -eq 1
check "all 6 get the spec" test "$(cat c*.code | sort | uniq -c | awk '{s += $1} END {print s}')" = 6
check "all 6 get the same id" test "$(cat c*.json | "$PY" -c 'import json,sys; print(len({json.loads(l)["id"] for l in sys.stdin}))')" = 1

# --- metrics ---------------------------------------------------------------------------------
curl -s --unix-socket "$SOCK" http://archd/metrics >metrics.txt
check "metrics count requests by route and status" grep -q '^archd_requests_total{route="/v1/specs",status="201"} 1$' metrics.txt
check "metrics have a latency histogram" grep -q '^archd_request_duration_seconds_bucket{route="/v1/health",le="+Inf"} ' metrics.txt
check "metrics count cache hits" test "$(awk '$1 == "archd_spec_cache_hits_total" {print $2}' metrics.txt)" -ge 3
check "metrics show the worker queue" grep -q '^archd_worker_queue 0$' metrics.txt

# --- kill -9, restart: found without compiling -----------------------------------------------------
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
check "kill -9 leaves the socket behind" test -S "$SOCK"
start
req GET /v1/health
check "a restart replaces the stale socket" test "$code" = 200
req POST /v1/specs --data-binary @fashion.arch
check "after kill -9 the same source is 200" test "$code/$(jget id)" = "200/$ID"
check "without compiling" test "$(metric archd_compiles_total)" = 0
check "read back from the state dir" test "$(metric archd_spec_loads_total)" = 1
req GET "/v1/specs/$ID"
check "GET /v1/specs/ID still 200" test "$code" = 200
check "no temporary files are left in the state dir" test -z "$(find "$STATE" -name '*.tmp*')"

# --- SIGHUP reloads the config ---------------------------------------------------------------------
head -c 3000 /dev/zero | tr '\0' '#' >big.arch
req POST /v1/specs --data-binary @big.arch
check "a 3 KB body is taken before the reload" test "$code" != 413
echo "max_body_size = 2K" >"$T/archd.conf"
kill -HUP "$PID"
sleep 0.3
req POST /v1/specs --data-binary @big.arch
check "after SIGHUP the new max_body_size holds (413)" test "$code/$(jget error.code)" = 413/payload_too_large
echo "max_body_size = 2Q" >"$T/archd.conf"
kill -HUP "$PID"
sleep 0.3
check "a bad config on SIGHUP is logged, quoting the line" grep -q "archd.conf:1: bad value '2Q'" "$T/log"
req GET /v1/health
check "and the daemon keeps running" test "$code" = 200

# --- the example config: every key it documents is accepted ------------------------------
kill -TERM "$PID"
wait "$PID"
PID=
sed -n 's/^#\([a-z_]* = \)/\1/p' "$S/examples/archd.conf" | grep -Ev '^(socket|state_dir|listen|log_file) ' >"$T/archd.conf"
check "the example config lists the keys" test "$(wc -l <"$T/archd.conf")" -ge 10
start
req GET /v1/health
check "archd runs with every example setting" test "$code" = 200

# --- SIGTERM while a compile runs: its reply is sent, then exit 0 ------------------------------
# The connection is accepted first (a health request), then a new source is
# sent on it and the daemon is stopped while it compiles.
kill -TERM "$PID"
wait "$PID"
: >"$T/archd.conf"
start
sed 's/^task fashion/# compiled during SIGTERM\ntask fashion/' fashion.arch >term.arch
"$PY" - "$SOCK" "$PID" term.arch >term.out <<'PYEOF'
import os, signal, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
def ask(req):
    s.sendall(req)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < n:
        body += s.recv(65536)
    return head.split(b"\r\n")[0].decode()
ask(b"GET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n")
src = open(sys.argv[3], "rb").read()
s.sendall(b"POST /v1/specs HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(src) + src)
time.sleep(0.02)
os.kill(int(sys.argv[2]), signal.SIGTERM)
data = b""
while b"\r\n" not in data:
    data += s.recv(65536)
print(data.split(b"\r\n")[0].decode())
PYEOF
wait "$PID"
check "SIGTERM exits 0" test $? -eq 0
PID=
check "after answering the upload it was compiling" test "$(cat term.out)" = "HTTP/1.1 200 OK"
check "and removes the socket" test ! -e "$SOCK"

# --- the log file is reopened on SIGHUP (rotation) ----------------------------------------------
echo "log_file = $T/archd.log" >"$T/archd.conf"
start
mv "$T/archd.log" "$T/archd.log.1"
kill -HUP "$PID"
i=0
while [ ! -s "$T/archd.log" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "SIGHUP reopens a rotated log file" grep -q "reloaded the settings" "$T/archd.log"
check "the old one kept its lines" grep -q "ready" "$T/archd.log.1"
echo "log_file = stderr" >"$T/archd.conf"
n=$(grep -c "reloaded the settings" "$T/log")
kill -HUP "$PID"
i=0
while [ "$(grep -c "reloaded the settings" "$T/log")" -eq "$n" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "log_file = stderr and SIGHUP log to stderr again" test "$(grep -c "reloaded the settings" "$T/log")" -gt "$n"
kill -TERM "$PID"
wait "$PID"
PID=

# --- loopback TCP ------------------------------------------------------------------------------------
: >"$T/archd.conf"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start --listen "127.0.0.1:$PORT"
check "--listen 127.0.0.1:PORT serves TCP" test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/health")" = 200
kill -INT "$PID"
wait "$PID"
check "SIGINT exits 0" test $? -eq 0
PID=

# --- make install: the systemd unit and the config --------------------------------------------
# In the build dir, into a DESTDIR, with another prefix (the tools the
# build uses are there; the jobserver of an outer make is not ours).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$B" DESTDIR="$T/root" prefix=/opt/archd "$@" >make.txt 2>&1; }
if [ -f "$B/Makefile" ] && [ -f "$B/archd" ]; then
	mk install
	check "make install exits 0" test $? -eq 0
	U="$T/root/opt/archd/lib/systemd/system/archd.service"
	C="$T/root/opt/archd/etc/archd.conf"
	check "it installs the unit, ExecStart from the configured bindir and sysconfdir" \
		grep -qx 'ExecStart=/opt/archd/bin/archd --config /opt/archd/etc/archd.conf --socket /run/archd/archd.sock --state /var/lib/archd' "$U"
	check "with no placeholder left" sh -c "! grep -q '%[A-Z]*%' '$U'"
	check "and the commented config" cmp -s "$S/examples/archd.conf" "$C"
	echo "max_jobs = 3" >>"$C"
	mk install
	check "a second install keeps a config that was changed" sh -c "test \"\$(tail -n 1 '$C')\" = 'max_jobs = 3' && grep -q 'keeping .*archd.conf' make.txt"
	mk uninstall
	check "make uninstall removes the unit" test ! -e "$U"
	check "and keeps the changed config" test -f "$C"
	mk install unitdir=/usr/lib/systemd/system
	check "unitdir= puts the unit elsewhere" test -f "$T/root/usr/lib/systemd/system/archd.service"
	rm -f "$C"
	mk install
	mk uninstall
	check "an unchanged config goes with make uninstall" test ! -e "$C"
fi
lib_done
