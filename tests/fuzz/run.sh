#!/bin/bash
# run.sh - runs each libFuzzer target of a build configured with
# --enable-fuzzing for a short fixed time from its seed corpus, and fails
# on any crash, leak, hang (-timeout) or memory blow-up (-rss_limit_mb).
# Run from the build directory (or set top_builddir):
#     tests/fuzz/run.sh [TARGET...]      default: every target
# FUZZ_SECONDS (default 20) is the time per target; FUZZ_OUT (default
# ./fuzz-out) keeps each target's log, the inputs it found and any crash
# file (replay one with tests/fuzz/NAME.t FILE or tests/fuzz/fuzz-NAME FILE).
# Prints TAP, one line per target, then "# PASS: N" / "# FAIL: N" as
# automake's test summary does (.ci/run adds those up).
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-.}
seconds=${FUZZ_SECONDS:-20}
out=${FUZZ_OUT:-$PWD/fuzz-out}
targets=${*:-"addr url http_request http_response chat files"}

# Leaks count as failures here, whatever the caller's environment says
# (CI turns leak checking off for the ordinary test suite).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

mkdir -p "$out" || exit 1
n=0 pass=0 fail=0
for t in $targets; do
    n=$((n + 1))
    bin=$builddir/tests/fuzz/fuzz-$t
    seeds=$srcdir/tests/fuzz/corpus/$t
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        echo "not ok $n - $t: no $bin (configure --enable-fuzzing, then make) or no $seeds"
        fail=$((fail + 1))
        continue
    fi
    rm -rf "$out/$t"
    mkdir -p "$out/$t/corpus"
    log=$out/$t/log
    # New inputs go to the first directory; the seeds stay as they are.
    # The outer timeout catches a fuzzer that hangs where -timeout cannot.
    timeout -k 10 $((seconds + 60)) "$bin" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=16384 -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$out/$t/" "$out/$t/corpus" "$seeds" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    found=$(ls "$out/$t"/crash-* "$out/$t"/leak-* "$out/$t"/timeout-* "$out/$t"/oom-* 2>/dev/null | head -n 1)
    if [ "$rc" = 0 ] && [ -z "$found" ]; then
        echo "ok $n - $t: ${runs:-?} runs in ${seconds} s"
        pass=$((pass + 1))
        continue
    fi
    case $rc in
    124|137) why="hung (killed after $((seconds + 60)) s)" ;;
    *) why=$(grep -m 1 -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|ALARM|out-of-memory|check failed' "$log") ;;
    esac
    echo "not ok $n - $t: exit $rc: ${why:-see $log}"
    echo "# crash file: ${found:-none written}; log: $log"
    tail -n 40 "$log" | sed 's/^/#   /'
    fail=$((fail + 1))
done
echo "1..$n"
echo "# PASS: $pass"
echo "# FAIL: $fail"
[ "$fail" = 0 ]
