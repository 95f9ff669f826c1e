#!/bin/sh
# bench.sh - "nettool bench", the verifying load generator, against
# "nettool serve -m async": TCP, IPv6, UDP, Unix stream and Unix datagram
# runs with no error (exit 0); --json (per-second lines, one summary),
# --warmup, -w, --rate (rps near the rate, latency from the send and from
# the schedule); errors caught, each with exit 1: a corrupting server
# (mismatches), a server that never echoes, lost datagrams (timeouts);
# nobody listening (one line, no figures, exit 1); usage errors exit 2,
# each with one line and a pointer to --help.  Also serve's -w, --stack-size
# and the raised open-files limit.  About 15 s in all.
. "${top_srcdir:-.}/tests/lib.sh"

if ! "$NETTOOL" --list 2>/dev/null | grep -qx bench; then
    t_skip 1 "nettool has no bench applet"
    t_done
fi

# bench_ok NAME ARGS...: runs bench ARGS, output in $T/NAME.out/.err;
# passes when it exits 0 and reports zero errors.
bench_ok() {
    _n=$1
    shift
    timeout 30 "$NETTOOL" bench "$@" >"$T/$_n.out" 2>"$T/$_n.err"
    _rc=$?
    _errs=$(awk '$1 == "errors" { print $2; exit }' "$T/$_n.out")
    _reqs=$(awk '$1 == "requests" { print $2; exit }' "$T/$_n.out")
    [ "$_rc" -eq 0 ] && [ "$_errs" = 0 ] && [ "${_reqs:-0}" -gt 0 ]
    t_ok $? "$_n: bench $* exits 0 with 0 errors (exit $_rc, ${_reqs:-?} requests, errors ${_errs:-?}) $(head -n 1 "$T/$_n.err")"
}

# bench_json NAME ARGS...: runs bench --json ARGS (30 s at most), stdout
# in $T/NAME.out, stderr in $T/NAME.err; sets BRC to its exit status.
bench_json() {
    _n=$1
    shift
    timeout 30 "$NETTOOL" bench --json "$@" >"$T/$_n.out" 2>"$T/$_n.err"
    BRC=$?
}

# jcheck NAME CODE: reads $T/NAME.out as JSON lines: L all of them, S the
# last (which must be the one summary), P the per-second lines before it;
# then runs the Python CODE (asserts).  Succeeds when all hold; the
# failed assertion is the last line of $T/NAME.check (see jwhy).
jcheck() {
    "$PY" -c '
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
assert L, "no output"
S = L[-1]
P = L[:-1]
assert S.get("summary") is True, "last line is no summary: %r" % S
assert not any(l.get("summary") for l in P), "more than one summary"
exec(sys.argv[2])
' "$T/$1.out" "$2" 2>"$T/$1.check"
}
jwhy() { [ -s "$T/$1.check" ] && tail -n 1 "$T/$1.check"; }

# json_ok NAME ARGS...: bench --json ARGS exits 0, with "errors":0 and at
# least one request in its summary.
json_ok() {
    _jn=$1
    bench_json "$@"
    _jrc=$BRC
    shift
    [ "$_jrc" -eq 0 ] && jcheck "$_jn" '
assert S["errors"] == 0, "errors: %d" % S["errors"]
assert S["requests"] > 0, "no request"'
    t_ok $? "$_jn: bench --json $* exits 0 (exit $_jrc), \"errors\":0 $(jwhy "$_jn") $(head -n 1 "$T/$_jn.err")"
}

# ---- TCP against one async loop: text, --json, --warmup, --rate
if start_server echo-tcp echo -m async -l 127.0.0.1:0; then
    bench_ok tcp "$SRV_ADDR" -c 10 -s 1024 -d 1
    # --json -d 2: every line is JSON; two per-second lines, one summary.
    bench_json json "$SRV_ADDR" -c 10 -d 2
    t_is "$BRC" 0 "json: bench --json -d 2 exits 0"
    "$PY" -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$T/json.out"
    t_ok $? "json: every line of --json output is valid JSON ($(wc -l <"$T/json.out") lines)"
    jcheck json '
assert len(P) == 2, "%d per-second lines" % len(P)
for i, l in enumerate(P):
    assert sorted(l) == ["errors", "mbps", "requests", "rps", "t"], sorted(l)
    assert l["t"] == i + 1, l
assert S["errors"] == 0 and S["requests"] > 0, S'
    t_ok $? "json: -d 2 gives exactly two per-second lines (t, requests, rps, mbps, errors), then one summary with 0 errors $(jwhy json)"
    # --warmup: the warm-up second has no line of its own.
    bench_json warmup "$SRV_ADDR" --warmup 1 -d 1
    [ "$BRC" -eq 0 ] && jcheck warmup '
assert len(P) == 1, "%d per-second lines" % len(P)
assert P[0]["t"] == 1, P[0]
assert S["errors"] == 0 and S["requests"] > 0, S'
    t_ok $? "warmup: --warmup 1 -d 1 exits 0 (exit $BRC) with one per-second line $(jwhy warmup)"
    # --rate: a fixed schedule, latency from the send and from the schedule.
    bench_ok rate "$SRV_ADDR" -c 4 -d 1 --rate 200
    grep -q 'from send' "$T/rate.out" && grep -q 'from schedule' "$T/rate.out"
    t_ok $? "rate: --rate 200 reports raw (from send) and corrected (from schedule) latency"
    bench_json rj "$SRV_ADDR" --rate 1000 -c 10 -d 2
    t_is "$BRC" 0 "rate: bench --rate 1000 -c 10 -d 2 --json exits 0"
    jcheck rj '
assert S["errors"] == 0, S
assert S["mode"] == "rate", S["mode"]
assert 900 <= S["rps"] <= 1100, "rps %s" % S["rps"]
assert "latency_us" in S and "corrected_latency_us" in S, sorted(S)
assert "p99" in S["corrected_latency_us"], S["corrected_latency_us"]'
    t_ok $? "rate: summary has \"mode\":\"rate\", rps within 10% of 1000 ($(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' "$T/rj.out" | tail -n 1)), latency_us and corrected_latency_us $(jwhy rj)"
    stop_server
    t_is "$EXIT_STATUS" 0 "tcp: server exits 0 on SIGTERM"
else
    fail "tcp: async echo server starts"
    t_skip 9 "no server"
fi

# ---- the other transports
if start_server echo-udp echo -m async -u -l 127.0.0.1:0; then
    bench_ok udp "$SRV_ADDR" -u -c 10 -s 512 -d 1
    stop_server
else
    fail "udp: async echo server starts"
fi

if start_server echo-unix echo -m async -l "unix:$T/echo.sock"; then
    json_ok unix "$SRV_ADDR" -c 4 -d 0.5
    grep -q '"transport":"unix"' "$T/unix.out"
    t_ok $? "unix: the summary says \"transport\":\"unix\""
    stop_server
else
    fail "unix: async echo server on a Unix stream socket starts"
    t_skip 1 "no server"
fi

if ! "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    t_skip 1 "no IPv6 loopback"
elif start_server echo-v6 echo -m async -l '[::1]:0'; then
    json_ok ipv6 "$SRV_ADDR" -c 4 -d 0.5
    stop_server
else
    fail "ipv6: async echo server on [::1]:0 starts"
fi

if start_server echo-unixdg echo -m async -u -l "unix:$T/echo.dgram"; then
    json_ok unixdg "$SRV_ADDR" -u -c 4 -s 512 -d 0.5
    grep -q '"transport":"unix-dgram"' "$T/unixdg.out"
    t_ok $? "unixdg: the summary says \"transport\":\"unix-dgram\""
    stop_server
else
    fail "unixdg: async echo server on a Unix datagram socket starts"
    t_skip 1 "no server"
fi

# ---- two bench loops against two server loops
if start_server echo-w2 echo -m async -w 2 -l 127.0.0.1:0; then
    json_ok w2 "$SRV_ADDR" -w 2 -c 10 -d 0.5
    jcheck w2 'assert S["loops"] == 2, "loops %s" % S["loops"]'
    t_ok $? "w2: the summary says \"loops\":2 $(jwhy w2)"
    stop_server
    t_is "$EXIT_STATUS" 0 "w2: server exits 0 on SIGTERM"
else
    fail "w2: async -w 2 server starts"
    t_skip 2 "no server"
fi

# ---- a server that corrupts the echo is caught
# (a) upper-casing it
if start_server upper exec -m fork -l 127.0.0.1:0 -- dd conv=ucase status=none; then
    timeout 30 "$NETTOOL" bench "$SRV_ADDR" -c 2 -d 1 >"$T/bad.out" 2>"$T/bad.err"
    t_is "$?" 1 "corrupt: bench against an upper-casing server exits 1"
    m=$(awk '$1 == "errors" { for (i = 1; i <= NF; i++) if ($i == "mismatch") print $(i + 1) }' "$T/bad.out" | tr -d ',)')
    [ -n "$m" ] && [ "$m" -gt 0 ]
    t_ok $? "corrupt: it reports mismatches (${m:-?}): $(grep -m 1 . "$T/bad.err")"
    stop_server
else
    fail "corrupt: exec server starts"
    t_skip 1 "no server"
fi

# (b) turning every byte 0x61 into 0x62: 64k random bytes hold some; tr's
# output is buffered, but full 4k blocks still come back.
if start_server tr exec -m fork -l 127.0.0.1:0 -- tr a b; then
    bench_json tr "$SRV_ADDR" -s 64k -d 1
    t_is "$BRC" 1 "tr: bench -s 64k against 'tr a b' exits 1"
    jcheck tr 'assert S["mismatches"] > 0, "mismatches %d" % S["mismatches"]'
    t_ok $? "tr: the summary counts mismatches $(jwhy tr)"
    grep -q 'echoed byte .* is 0x62, 0x61 was sent' "$T/tr.err"
    t_ok $? "tr: a stderr line names the echoed byte: $(grep -m 1 . "$T/tr.err")"
    stop_server
else
    fail "tr: exec server starts"
    t_skip 2 "no server"
fi

# ---- a server that never echoes: no error as such, but no echo either
if start_server discard discard -l 127.0.0.1:0; then
    bench_json discard "$SRV_ADDR" -d 0.5
    t_is "$BRC" 1 "discard: bench against a TCP discard server exits 1"
    grep -q 'no echo' "$T/discard.err"
    t_ok $? "discard: and says so: $(grep -m 1 . "$T/discard.err")"
    stop_server
else
    fail "discard: discard server starts"
    t_skip 1 "no server"
fi

# ---- datagrams that never come back are timeouts
if start_server discard-u discard -u -l 127.0.0.1:0; then
    bench_json discardu "$SRV_ADDR" -u --timeout 0.3 -d 1
    t_is "$BRC" 1 "discard-u: bench -u --timeout 0.3 against a UDP discard server exits 1"
    jcheck discardu 'assert S["timeouts"] > 0 and S["errors"] >= S["timeouts"], S'
    t_ok $? "discard-u: the summary counts timeouts ($(sed -n 's/.*"timeouts":\([0-9]*\).*/\1/p' "$T/discardu.out")) $(jwhy discardu)"
    stop_server
else
    fail "discard-u: UDP discard server starts"
    t_skip 1 "no server"
fi

# ---- nobody listening: one line saying so, no figures, exit 1
# free_port tcp|udp: a port bound and closed again, so nobody listens on it.
free_port() {
    timeout 10 "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' "$1"
}

# refused NAME ADDR WHY ARGS...: "bench ADDR ARGS" exits 1 within 4 s (it
# has -d 5: it must not wait for the end), prints nothing on stdout and
# exactly one line on stderr, "nettool bench: cannot connect to ADDR: WHY".
refused() {
    _n=$1 _a=$2 _w=$3
    shift 3
    timeout 4 "$NETTOOL" bench "$_a" -d 5 "$@" >"$T/$_n.out" 2>"$T/$_n.err"
    _rc=$?
    _why=
    [ "$_rc" -eq 1 ] || _why="$_why exit $_rc (124: timed out);"
    [ ! -s "$T/$_n.out" ] || _why="$_why a report on stdout ($(head -n 1 "$T/$_n.out"));"
    [ "$(cat "$T/$_n.err")" = "nettool bench: cannot connect to $_a: $_w" ] ||
        _why="$_why stderr is '$(tr '\n' '|' <"$T/$_n.err")';"
    t_is "$_why" "" "$_n: bench $_a ${*:+$* }-d 5: exit 1 at once, no figures, one line: $(head -n 1 "$T/$_n.err")"
}
port=$(free_port tcp)
uport=$(free_port udp)
if [ -n "$port" ] && [ -n "$uport" ]; then
    refused refused "127.0.0.1:$port" "Connection refused"
    refused refused3 "127.0.0.1:$port" "Connection refused" -c 3 -w 2
    refused refusedj "127.0.0.1:$port" "Connection refused" -c 3 --json
    refused refusedrate "127.0.0.1:$port" "Connection refused" -c 2 --rate 100
    refused refusedu "127.0.0.1:$uport" "Connection refused" -u -c 3
else
    fail "refused: free ports"
    t_skip 4 "no port"
fi
refused nosock "unix:$T/nobody.sock" "No such file or directory"
refused nosocku "unix:$T/nobody.dgram" "No such file or directory" -u
timeout 4 "$NETTOOL" bench "127.0.0.1:${port:-1}" -q -d 5 >"$T/refusedq.out" 2>"$T/refusedq.err"
BRC=$?
[ "$BRC" -eq 1 ] && [ ! -s "$T/refusedq.out" ] && [ ! -s "$T/refusedq.err" ]
t_ok $? "refusedq: bench -q against a closed port: exit 1 ($BRC), not a word"

# Some connections get through, some cannot even open (ulimit -n 24 for
# 30): that is a measurement with connect errors, and their first line is
# said as before (once one connection got through), not "cannot connect".
if start_server partial echo -m async -l 127.0.0.1:0; then
    (ulimit -n 24 && exec timeout 30 "$NETTOOL" bench "$SRV_ADDR" -c 30 -d 0.5 --json) \
        >"$T/partial.out" 2>"$T/partial.err"
    BRC=$?
    [ "$BRC" -eq 1 ] && jcheck partial '
assert S["requests"] > 0, "no request"
assert 0 < S["connect_errors"] < 30, "connect_errors %d" % S["connect_errors"]'
    t_ok $? "partial: -c 30 under ulimit -n 24: exit 1 ($BRC), a summary with requests and some connect errors $(jwhy partial)"
    [ "$(grep -c 'connection [0-9]*: socket: ' "$T/partial.err")" -eq 1 ] &&
        ! grep -q 'cannot connect' "$T/partial.err"
    t_ok $? "partial: one line for the first connection that could not open: $(grep -m 1 'socket:' "$T/partial.err")"
    stop_server
else
    fail "partial: async echo server starts"
    t_skip 1 "no server"
fi

# ---- usage errors
for args in "" "127.0.0.1:1 127.0.0.2:1" "127.0.0.1:1 --bogus" \
    "127.0.0.1:1 -c abc" "127.0.0.1:1 -c 0" "127.0.0.1:1 -s abc" "127.0.0.1:1 -s 0" \
    "127.0.0.1:1 -u -s 64k" "127.0.0.1:1 -d abc" "127.0.0.1:1 --rate abc" \
    "127.0.0.1:1 --rate 0" "127.0.0.1:1 -w abc" "[::1" "127.0.0.1:99999"; do
    # shellcheck disable=SC2086
    timeout 10 "$NETTOOL" bench $args >/dev/null 2>"$T/usage.err"
    BRC=$?
    [ "$BRC" -eq 2 ] && [ "$(wc -l <"$T/usage.err" | tr -d ' ')" -eq 2 ] &&
        [ "$(tail -n 1 "$T/usage.err")" = "Try 'nettool bench --help' for more information." ]
    t_ok $? "usage: bench $args exits 2 ($BRC) with one line and the Try line: $(head -n 1 "$T/usage.err")"
done
timeout 10 "$NETTOOL" bench --help >"$T/help.out" 2>"$T/help.err"
t_is "$?" 0 "usage: bench --help exits 0"
grep -q '^Usage: nettool bench' "$T/help.out"
t_ok $? "usage: bench --help prints the usage on stdout"

# ---- serve: -w, --stack-size, the open-files limit
timeout 5 "$NETTOOL" serve echo -m thread -w 2 -l 127.0.0.1:0 >/dev/null 2>"$T/sw.err"
t_is "$?" 2 "serve: -w 2 with -m thread exits 2: $(head -n 1 "$T/sw.err")"
timeout 5 "$NETTOOL" serve echo -m async --stack-size 4k -l 127.0.0.1:0 >/dev/null 2>"$T/ss.err"
t_is "$?" 2 "serve: --stack-size 4k exits 2: $(head -n 1 "$T/ss.err")"

if start_server stack echo -m async -w 2 --stack-size 16k -l 127.0.0.1:0; then
    out=$(printf 'small stacks\n' | timeout 10 "$NETTOOL" echo "$SRV_ADDR" 2>"$T/stack.err")
    t_is "$out" "small stacks" "serve: -m async -w 2 --stack-size 16k starts and echoes"
    stop_server
else
    fail "serve: -m async -w 2 --stack-size 16k starts"
fi

hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 256 ]; then
    # The subshell execs the server (through libtool's wrapper, which
    # execs too), so $! is the server's pid.
    SRV_LOG=$T/nofile.log
    (ulimit -Sn 256 && exec "$NETTOOL" serve echo -l 127.0.0.1:0) 2>"$SRV_LOG" &
    SRV_PID=$!
    echo "$SRV_PID" >>"$T/pids"
    if wait_for 10 grep -q 'listening on' "$SRV_LOG"; then
        lim=$(awk '/^Max open files/ { print $4, $5 }' "/proc/$SRV_PID/limits")
        set -- $lim
        [ -n "${1:-}" ] && [ "$1" = "${2:-}" ] && [ "$1" != 256 ]
        t_ok $? "serve: after ulimit -Sn 256 the server's soft open-files limit is raised to the hard one (soft ${1:-?}, hard ${2:-?})"
        stop_server
    else
        fail "serve: a server started under ulimit -Sn 256 listens: $(cat "$SRV_LOG")"
    fi
else
    t_skip 1 "hard open-files limit $hard is not above 256"
fi

t_done
