#!/bin/sh
# tests/integration/archd_hostile.sh — clients that misbehave: a 100 MB
# body, a body that never ends, headers sent a byte at a time, a client
# that hangs up half-way, a header flood, garbage bytes, bad JSON, too many
# connections, 1,000 connections opened and dropped, a full worker queue.
# Each gets the right status and a JSON error, and the daemon keeps serving
# everyone else.  Prints TAP lines.
set -u
. "$(dirname "$0")/lib.sh"
lib_init archd_hostile
STATE="$T/state"
START_FLAGS="--config archd.conf"
healthy() { req GET /v1/health; [ "$code" = 200 ]; }

# A raw client: raw.py MODE, the reply (status line and body) on stdout.
cat >raw.py <<'PYEOF'
import socket, sys, time
sock_path, mode = sys.argv[1], sys.argv[2]
def conn():
    # A blocking connect waits while the daemon's backlog is full.
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.settimeout(10)
    return s
def reply(s):
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    print(head.split(b"\r\n")[0].decode(errors="replace") if head else "(nothing)")
    print(body.decode(errors="replace"))
s = None
if mode == "endless-body":
    s = conn()
    s.sendall(b"POST /v1/specs HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nspace s {")
elif mode == "slow-headers":
    s = conn()
    for c in b"GET /v1/health HTTP/1.1\r\nHost: a\r\nX-Slow: abcdefghijklmnop":
        try:
            s.sendall(bytes([c]))
        except OSError:
            break
        time.sleep(0.1)
elif mode == "expect-stall":
    # Asks to send a body, is told to go on, never does.
    s = conn()
    s.sendall(b"POST /v1/specs HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n")
    first = s.recv(4096)
    print(first.split(b"\r\n")[0].decode(), file=sys.stderr)
elif mode == "half-close":
    s = conn()
    s.sendall(b"POST /v1/specs HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nspace")
    s.shutdown(socket.SHUT_WR)
elif mode == "header-flood":
    s = conn()
    try:
        s.sendall(b"GET /v1/health HTTP/1.1\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200) for i in range(2000)) + b"\r\n")
    except OSError:
        pass
elif mode == "long-header":
    s = conn()
    try:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n")
    except OSError:
        pass
elif mode == "garbage":
    s = conn()
    s.sendall(bytes(range(256)) * 16 + b"\r\n\r\n")
elif mode == "hold":
    # Holds N idle connections open until stdin closes.
    held = [conn() for _ in range(int(sys.argv[3]))]
    print("held", flush=True)
    sys.stdin.read()
    sys.exit(0)
elif mode == "churn":
    # Opens and drops N connections, some after a partial request.
    for i in range(int(sys.argv[3])):
        c = conn()
        if i % 3 == 0:
            c.sendall(b"GET /v1/hea")
        c.close()
    print("churned")
    sys.exit(0)
elif mode == "burst":
    # Sends N different spec uploads at once, then reads every reply.
    src = open(sys.argv[4], "rb").read()
    socks = []
    for i in range(int(sys.argv[3])):
        body = src + b"\n# variant %d\n" % i
        c = conn()
        c.sendall(b"POST /v1/specs HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        socks.append(c)
    for c in socks:
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        head = data.split(b"\r\n\r\n")[0].decode()
        status = head.split()[1]
        retry = "retry-after: 1" in head.lower()
        print(status, "retry" if retry else "-", data.split(b"\r\n\r\n", 1)[1].decode().strip())
    sys.exit(0)
reply(s)
PYEOF
raw() { "$PY" raw.py "$SOCK" "$@" >raw.out 2>raw.err; }
rawbody() { sed -n 2p raw.out >out.json; }

cat >archd.conf <<'CONF'
# Small limits, so each edge is reached quickly.
request_timeout = 1
max_connections = 8
threads = 1
max_queue = 1
CONF
start
check "archd starts with small limits" healthy

# --- bodies ----------------------------------------------------------------------
head -c 100000000 /dev/zero >big
req POST /v1/specs --data-binary @big
check "a 100 MB body is 413 payload_too_large" test "$code/$(jget error.code)" = 413/payload_too_large
req POST /v1/specs -H 'Expect:' --data-binary @big
check "also sent without waiting for 100-continue" test "$code/$(jget error.code)" = 413/payload_too_large
rm -f big
raw endless-body
rawbody
check "a body that never ends gets 408" test "$(head -n 1 raw.out)" = "HTTP/1.1 408 Request Timeout"
check "with a JSON error" test "$(jget error.code)" = request_timeout
raw slow-headers
rawbody
check "headers sent a byte at a time get 408" test "$(head -n 1 raw.out)/$(jget error.code)" = "HTTP/1.1 408 Request Timeout/request_timeout"
raw expect-stall
rawbody
check "a client told 100 Continue then silent gets 408" test "$(head -n 1 raw.err)/$(head -n 1 raw.out)/$(jget error.code)" = "HTTP/1.1 100 Continue/HTTP/1.1 408 Request Timeout/request_timeout"
{ cat "$S/examples/fashion.arch"; i=0; while [ $i -lt 20000 ]; do echo "# padding line $i of a large but valid source"; i=$((i + 1)); done; } >large.arch
req POST /v1/specs --data-binary @large.arch
check "a 1 MB source goes through 100 Continue and compiles" test "$code" = 201 -o "$code" = 200
raw half-close
rawbody
check "a client hanging up half-way gets 400" test "$(head -n 1 raw.out)/$(jget error.code)" = "HTTP/1.1 400 Bad Request/bad_request"
check "the daemon serves others after the slow clients" healthy

# --- malformed HTTP -------------------------------------------------------------
raw header-flood
rawbody
check "a header flood gets 431 with a JSON error" test "$(head -n 1 raw.out)/$(jget error.code)" = "HTTP/1.1 431 Request Header Fields Too Large/headers_too_large"
raw long-header
rawbody
check "one header line over max_header_size gets 431" test "$(head -n 1 raw.out)/$(jget error.code)" = "HTTP/1.1 431 Request Header Fields Too Large/headers_too_large"
raw garbage
rawbody
check "garbage bytes get 400 with a JSON error" test "$(head -n 1 raw.out)/$(jget error.code)" = "HTTP/1.1 400 Bad Request/bad_request"
check "the daemon serves others after malformed HTTP" healthy

# --- bad JSON -----------------------------------------------------------------------
J='Content-Type: application/json'
req POST /v1/specs -H "$J" -d '{"source": "task t {'
check "invalid JSON is 400 invalid_json" test "$code/$(jget error.code)" = 400/invalid_json
check "naming line and column" sh -c 'grep -q "line 1, column" out.json'
req POST /v1/specs -H "$J" -d '{"source": 42}'
check "a wrong JSON type is 400, naming the field" sh -c 'test "$0" = 400 && grep -q "field .source. must be a string, not number" out.json' "$code"
req POST /v1/specs -H "$J" -d '{"source": "x", "sauce": "y"}'
check "an unknown field is 400, naming it" sh -c 'test "$0" = 400 && grep -q "unknown field .sauce." out.json' "$code"
req POST /v1/specs -H "$J" -d '{"name": "x.arch"}'
check "a missing field is 400, naming it" sh -c 'test "$0" = 400 && grep -q "missing field .source." out.json' "$code"
req POST /v1/specs -H "$J" -d '["source"]'
check "a JSON array is 400" test "$code/$(jget error.code)" = 400/invalid_json
req POST /v1/specs -H "$J" -d '{"source": "a", "source": "b"}'
check "a duplicate key is 400" test "$code/$(jget error.code)" = 400/invalid_json
long=$(head -c 3000 /dev/zero | tr '\0' a)
req POST /v1/subnets -H "$J" -d "{\"spec\": \"$long\", \"task\": \"t\", \"target\": \"x\"}"
check "a subnet request naming a 3000-byte spec is 400" test "$code/$(jget error.code)" = 400/invalid_request
check "and the daemon lives" healthy

# --- connections --------------------------------------------------------------------
mkfifo hold.in
"$PY" raw.py "$SOCK" hold 8 <hold.in >hold.out &
HOLD=$!
exec 3>hold.in
i=0
while ! grep -q held hold.out 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.2
req GET /v1/health
check "past max_connections a request is 503 too_many_connections" test "$code/$(jget error.code)" = 503/too_many_connections
exec 3>&-
wait "$HOLD"
sleep 0.2
check "once they close, requests are served again" healthy
raw churn 1000
check "1,000 connections opened and dropped" grep -q churned raw.out
# The last of them may still be in the backlog or being closed: give the
# daemon a moment before a request of ours could be one too many.
i=0
while ! healthy && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the daemon serves others after the churn" healthy
check "and counts its connections back down" test "$(curl -s --unix-socket "$SOCK" http://archd/metrics | awk '$1 == "archd_connections" {print $2}')" = 1

# --- a full worker queue ------------------------------------------------------------------
"$PY" raw.py "$SOCK" burst 6 "$S/examples/fashion.arch" >burst.out 2>burst.err
check "6 uploads at once with 1 thread and max_queue 1: some get 503" grep -q '^503 retry {"error":{"code":"busy"' burst.out
check "the others are compiled" grep -Eq '^20[01] - \{"id":"xxh3:' burst.out
check "every upload was answered" test "$(wc -l <burst.out)" = 6
check "the daemon serves others after the burst" healthy

# --- the record -------------------------------------------------------------------------------
curl -s --unix-socket "$SOCK" http://archd/metrics >metrics.txt
check "metrics count the request timeouts" test "$(awk '$1 == "archd_request_timeouts_total" {print $2}' metrics.txt)" -ge 2
check "metrics count the protocol errors" test "$(awk '$1 == "archd_protocol_errors_total" {print $2}' metrics.txt)" -ge 5
check "metrics count the rejected jobs" test "$(awk '$1 == "archd_jobs_rejected_total" {print $2}' metrics.txt)" -ge 1
kill -TERM "$PID"
wait "$PID"
check "SIGTERM after all that exits 0" test $? -eq 0
PID=
lib_done
