# tests/lib.sh - shared by the shell tests (sourced, POSIX sh): TAP output,
# a time bound on the whole script, a private temp dir cleaned at exit,
# nettool servers started on port 0 and stopped with bounded waits.
# Nothing here sleeps to synchronise: waits poll for a condition.

: "${NETTOOL:=${top_builddir:-.}/tools/nettool}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# Bound the whole script: re-run it once under timeout(1).
if [ -z "${NETSRV_T_BOUND:-}" ]; then
    NETSRV_T_BOUND=1
    export NETSRV_T_BOUND
    exec timeout -k 5 "${T_LIMIT:-300}" /bin/sh "$0" "$@"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/netsrv-sh.XXXXXX") || exit 99
: >"$T/pids"
t_n=0
t_failed=0

t_cleanup() {
    while read -r p; do
        kill -KILL "$p" 2>/dev/null
    done <"$T/pids"
    rm -rf "$T"
}
trap t_cleanup EXIT
trap 'echo "Bail out! $0: killed (time limit?)"; exit 99' TERM INT HUP

diag() { printf '# %s\n' "$*"; }

pass() { t_n=$((t_n + 1)); printf 'ok %d - %s\n' "$t_n" "$*"; }

fail() {
    t_n=$((t_n + 1))
    t_failed=$((t_failed + 1))
    printf 'not ok %d - %s\n' "$t_n" "$*"
}

# t_ok STATUS DESC: passes when STATUS is 0.
t_ok() {
    _st=$1
    shift
    if [ "$_st" -eq 0 ]; then pass "$@"; else fail "$@"; fi
}

# t_is GOT WANT DESC
t_is() {
    if [ "x$1" = "x$2" ]; then
        shift 2
        pass "$@"
    else
        _g=$1 _w=$2
        shift 2
        fail "$@"
        diag "  got: '$_g', expected: '$_w'"
    fi
}

t_skip() {
    _k=$1
    shift
    while [ "$_k" -gt 0 ]; do
        t_n=$((t_n + 1))
        printf 'ok %d # SKIP %s\n' "$t_n" "$*"
        _k=$((_k - 1))
    done
}

t_done() {
    printf '1..%d\n' "$t_n"
    [ "$t_failed" -eq 0 ]
    exit $?
}

# alive PID: the process exists and is not a zombie.
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    _state=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
    [ -n "$_state" ] && [ "$_state" != Z ]
}

# wait_for SECS CMD...: polls CMD until it succeeds; fails after SECS.
wait_for() {
    _end=$(( $(date +%s) + $1 ))
    shift
    while ! "$@"; do
        [ "$(date +%s)" -gt "$_end" ] && return 1
        sleep 0.02
    done
    return 0
}

# pids_gone PID...: none of the processes is alive (zombies count as gone).
pids_gone() {
    for _p in "$@"; do
        alive "$_p" && return 1
    done
    return 0
}

# marked_sh MARK: the pids of the `sh -c SCRIPT MARK` processes (MARK is
# their $0, a word unique to the test); empty when there is none.  The
# server's own command line holds MARK too, but does not start with "sh -c".
marked_sh() {
    pgrep -f "^sh -c .* $1\$" 2>/dev/null
}

# kill_pids PID...: SIGKILL each of them, by pid (leftovers at a test's end).
kill_pids() {
    for _p in "$@"; do
        kill -KILL "$_p" 2>/dev/null
    done
    return 0
}

# wait_exit PID SECS: waits for our child PID to end, sets EXIT_STATUS;
# fails (and kills it) when it is still running after SECS.
wait_exit() {
    if wait_for "$2" eval '! alive '"$1"; then
        wait "$1"
        EXIT_STATUS=$?
        return 0
    fi
    kill -KILL "$1" 2>/dev/null
    wait "$1"
    EXIT_STATUS=timeout
    return 1
}

# start_server NAME ARGS...: runs "nettool serve ARGS" in the background,
# stderr to $T/NAME.log, and waits (10 s at most) for its listening line.
# Sets SRV_PID and SRV_ADDR (the last word of that line).
start_server() {
    _name=$1
    shift
    SRV_LOG=$T/$_name.log
    SRV_ADDR=
    "$NETTOOL" serve "$@" 2>"$SRV_LOG" &
    SRV_PID=$!
    echo "$SRV_PID" >>"$T/pids"
    # (30 s: an upper bound for a loaded machine running sanitizer builds.)
    if ! wait_for 30 grep -q 'listening on' "$SRV_LOG"; then
        if kill -0 "$SRV_PID" 2>/dev/null; then
            diag "server $_name did not start in 30 s, still running: $(cat "$SRV_LOG")"
        else
            wait "$SRV_PID"
            diag "server $_name did not start, exit $?: $(cat "$SRV_LOG")"
        fi
        return 1
    fi
    SRV_ADDR=$(grep 'listening on' "$SRV_LOG" | head -n 1 | awk '{print $NF}')
    [ -n "$SRV_ADDR" ]
}

# stop_server [SIG]: signals the last server (TERM by default) and waits
# 10 s at most; sets EXIT_STATUS.
stop_server() {
    kill "-${1:-TERM}" "$SRV_PID" 2>/dev/null
    wait_exit "$SRV_PID" 10
}

# Sets REAL_NETTOOL to the real nettool binary (not libtool's wrapper
# script), for tests that depend on argv[0], and exports the library path
# the wrapper would have set.
# echo_served_within ADDR SECS: succeeds once a fresh `nettool echo` client
# gets its line back from ADDR, trying again for up to SECS seconds (a
# server may still be closing the connections of a flood).
echo_served_within() {
    _end=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -le "$_end" ]; do
        _out=$(printf 'fresh\n' | timeout 5 "$NETTOOL" echo "$1" --timeout 3 2>/dev/null)
        [ "$_out" = fresh ] && return 0
    done
    return 1
}

real_nettool() {
    REAL_NETTOOL=$NETTOOL
    if [ "$(head -c 2 "$NETTOOL")" = "#!" ]; then
        _d=$(dirname "$NETTOOL")
        LD_LIBRARY_PATH=${top_builddir:-.}/libnetsrv/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        export LD_LIBRARY_PATH
        # Let the wrapper build its lt- binary once, then use it.
        "$NETTOOL" --version >/dev/null 2>&1
        for _c in "$_d/.libs/lt-nettool" "$_d/.libs/nettool"; do
            if [ -x "$_c" ]; then
                REAL_NETTOOL=$_c
                return 0
            fi
        done
    fi
}
