#!/bin/sh
# bench.sh - "nettool bench", the verifying load generator, against
# "nettool serve -m async": TCP and UDP runs with no error (exit 0); a
# corrupting server is caught (mismatches, exit 1); --json prints valid
# JSON lines; --rate reports latency from the send and from the schedule;
# usage errors exit 2; two bench loops against two server loops.
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

# ---- TCP and UDP against one async loop
if start_server echo-tcp echo -m async -l 127.0.0.1:0; then
    bench_ok tcp "$SRV_ADDR" -c 10 -s 1024 -d 1
    # --json: every line is JSON; per-second lines and one summary.
    timeout 30 "$NETTOOL" bench "$SRV_ADDR" -c 10 -d 1 --json >"$T/json.out" 2>"$T/json.err"
    t_is "$?" 0 "json: bench --json exits 0"
    "$PY" -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <"$T/json.out"
    t_ok $? "json: every line of --json output is valid JSON ($(wc -l <"$T/json.out") lines)"
    "$PY" -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
s = [l for l in lines if l.get("summary")]
assert len(s) == 1 and lines[-1] is s[0], "one summary, last"
assert s[0]["errors"] == 0 and s[0]["requests"] > 0, s[0]
assert any("t" in l for l in lines[:-1]), "no per-second line"
' <"$T/json.out" 2>"$T/json.check"
    t_ok $? "json: per-second lines, then one summary with 0 errors $(tail -n 1 "$T/json.check")"
    # --rate: a fixed schedule, latency from the send and from the schedule.
    bench_ok rate "$SRV_ADDR" -c 4 -d 1 --rate 200
    grep -q 'from send' "$T/rate.out" && grep -q 'from schedule' "$T/rate.out"
    t_ok $? "rate: --rate 200 reports raw (from send) and corrected (from schedule) latency"
    timeout 30 "$NETTOOL" bench "$SRV_ADDR" -c 4 -d 1 --rate 200 --json >"$T/rj.out" 2>/dev/null
    "$PY" -c '
import json, sys
s = [json.loads(l) for l in sys.stdin][-1]
assert s["summary"] and s["errors"] == 0, s
assert "latency_us" in s and "corrected_latency_us" in s, sorted(s)
' <"$T/rj.out" 2>"$T/rj.check"
    t_ok $? "rate: --json summary has latency_us and corrected_latency_us $(tail -n 1 "$T/rj.check")"
    stop_server
    t_is "$EXIT_STATUS" 0 "tcp: server exits 0 on SIGTERM"
else
    fail "tcp: async echo server starts"
    t_skip 6 "no server"
fi

if start_server echo-udp echo -m async -u -l 127.0.0.1:0; then
    bench_ok udp "$SRV_ADDR" -u -c 10 -s 512 -d 1
    stop_server
else
    fail "udp: async echo server starts"
fi

# ---- two bench loops against two server loops
if start_server echo-w2 echo -m async -w 2 -l 127.0.0.1:0; then
    bench_ok w2 "$SRV_ADDR" -w 2 -c 10 -d 1
    stop_server
    t_is "$EXIT_STATUS" 0 "w2: server exits 0 on SIGTERM"
else
    fail "w2: async -w 2 server starts"
    t_skip 1 "no server"
fi

# ---- a server that corrupts the echo (upper-cases it) is caught
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

# ---- usage errors
for args in "" "127.0.0.1:1 --bogus" "127.0.0.1:1 -c abc" "127.0.0.1:1 -s abc" \
    "127.0.0.1:1 -d abc" "127.0.0.1:1 --rate abc" "127.0.0.1:1 -w abc"; do
    # shellcheck disable=SC2086
    timeout 10 "$NETTOOL" bench $args >/dev/null 2>"$T/usage.err"
    t_is "$?" 2 "usage: bench $args exits 2: $(head -n 1 "$T/usage.err")"
done

t_done
