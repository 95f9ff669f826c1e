#!/usr/bin/env bash
# instr-per-request.sh - user-space instructions per echo request, counted
# by valgrind's callgrind, for one or more nettool binaries.  Wall-clock
# benchmarks on a shared 2-core machine are noisy; instruction counts are
# not, so two builds (before and after a change) can be compared exactly.
# The client sends at a fixed rate, so both builds see the same batching.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: instr-per-request.sh [OPTIONS] NETTOOL...
For each NETTOOL, runs `NETTOOL serve echo -m MODE` under callgrind, drives
it with this tree's `nettool bench` at a fixed rate, and prints the
server's instructions per request (start-up and a 1 s warm-up included, so
compare figures of the same options only).

  -m MODE      sync, thread, fork or async (default async)
  -c N         connections (default 50)
  --rate R     requests/s in all (default 8000; keep it below what the
               server does under callgrind, about 15000 here)
  -d SECS      measured seconds (default 4)
  -h, --help   show this help
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=async conns=50 rate=8000 secs=4
bench=${BENCH_NETTOOL:-$here/../../tools/nettool}
nettools=()
while [ $# -gt 0 ]; do
    case $1 in
    -m) mode=$2; shift 2 ;;
    -c) conns=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    -d) secs=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "instr-per-request.sh: unknown option '$1'" >&2; exit 2 ;;
    *) nettools+=("$1"); shift ;;
    esac
done
[ ${#nettools[@]} -gt 0 ] || { usage >&2; exit 2; }
command -v valgrind >/dev/null || { echo "instr-per-request.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ -x "$bench" ] || bench=$(command -v nettool)

for nt in "${nettools[@]}"; do
    tmp=$(mktemp -d)
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
        "$nt" serve echo -m "$mode" -l 127.0.0.1:0 2>"$tmp/log" &
    vp=$!
    for _ in $(seq 300); do grep -q 'listening on' "$tmp/log" && break; sleep 0.1; done
    port=$(grep -o 'listening on [0-9.]*:[0-9]*' "$tmp/log" | grep -o '[0-9]*$')
    "$bench" bench "127.0.0.1:$port" -c "$conns" -d 1 --rate "$rate" >/dev/null 2>&1
    reqs=$("$bench" bench "127.0.0.1:$port" -c "$conns" -d "$secs" --rate "$rate" --json 2>/dev/null |
        tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
    kill -INT "$vp"
    wait "$vp" || true
    ir=0
    for f in "$tmp"/cg.*; do
        n=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
        ir=$((ir + ${n:-0}))
    done
    total=$((reqs + rate))  # the warm-up's requests were served too
    printf '%-40s %s c=%s: %d requests, %d instructions, %d per request\n' \
        "$nt" "$mode" "$conns" "$total" "$ir" $((ir / total))
    rm -rf "$tmp"
done
