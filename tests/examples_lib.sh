# tests/examples_lib.sh - builds every contrib/examples program with its own
# Makefile against an installed libnetsrv and runs each one briefly (a
# client/server exchange, or its whole job).  Shared by
# tests/install-example.sh (a DESTDIR install of the build tree) and
# contrib/debian/check-installed.sh (the installed .deb packages).
#
# Sourced (POSIX sh).  The caller defines pass DESC, fail DESC, skip WHY
# and diag_file FILE (TAP lines and comments) and sets:
#   EX_SRC      directory with the examples' sources and Makefile
#   EX_OUT      an empty directory to build and run them in
#   EX_NETTOOL  a nettool to serve the files fetch gets
#   EX_CLIENT   tests/example_client.py
#   EX_CC, EX_CFLAGS, EX_LDFLAGS  (optional) for the Makefile
#   EX_PY       (optional) python3; EX_T (optional) time-limit scale
# then calls ex_all, which prints EX_TESTS TAP lines, and ex_cleanup at exit.
# Waits poll for a line or an exit, each bounded; nothing sleeps to sync.

EX_PROGRAMS="upper dgram greet pool fetch"
EX_TESTS=13
: "${EX_PY:=python3}" "${EX_T:=1}" "${EX_CFLAGS:=-O2 -g -Wall -Wextra -Werror}"
: "${EX_LDFLAGS:=}"
ex_pid=

# The client half of the exchanges.
ex_client() { timeout $((30 * EX_T)) "$EX_PY" "$EX_CLIENT" "$@" 2>&1; }

ex_cleanup() {
    if [ -n "$ex_pid" ]; then kill -KILL "$ex_pid" 2>/dev/null; fi
    ex_pid=
}

ex_built() { [ -x "$EX_OUT/$1" ]; }

# ex_build PROG: one TAP line.
ex_build() {
    if (cd "$EX_OUT" && env -u MAKEFLAGS -u MFLAGS timeout $((120 * EX_T)) \
            "${MAKE:-make}" -f "$EX_SRC/Makefile" VPATH="$EX_SRC" \
            ${EX_CC:+"CC=$EX_CC"} CFLAGS="$EX_CFLAGS" LDFLAGS="$EX_LDFLAGS" "$1") \
            >"$EX_OUT/build-$1.log" 2>&1 && ex_built "$1"; then
        pass "cc $1.c \$(pkg-config --cflags --libs libnetsrv) with the examples' Makefile"
    else
        fail "build contrib/examples/$1.c"; diag_file "$EX_OUT/build-$1.log"
    fi
}

# ex_start PROG ARGS...: runs it in the background and waits for its
# "PROG: listening on ADDR" line; sets ex_pid and ex_port.
# A program the tests stop with SIGTERM (sent to timeout, which passes it
# on) runs under `timeout --foreground`: without it timeout follows the
# signal with SIGCONT, and a SIGCONT that comes while LeakSanitizer's exit
# check is attaching to the program (ptrace's SIGSTOP pending) discards
# that SIGSTOP, so the check waits for a stop that never comes and the
# program spins at exit until it is killed (seen in the sanitizer stage).
ex_start() {
    _p=$1
    shift
    timeout --foreground -s KILL $((60 * EX_T)) "$EX_OUT/$_p" "$@" \
        </dev/null >"$EX_OUT/$_p.out" 2>"$EX_OUT/$_p.err" &
    ex_pid=$!
    _i=0 _a=
    while [ $_i -lt $((100 * EX_T)) ]; do
        _a=$(sed -n "s/^$_p: listening on //p" "$EX_OUT/$_p.err" 2>/dev/null)
        [ -n "$_a" ] && break
        kill -0 "$ex_pid" 2>/dev/null || break
        sleep 0.1
        _i=$((_i + 1))
    done
    ex_port=${_a##*:}
    case "$_a" in 127.0.0.1:[1-9]*) return 0 ;; esac
    diag_file "$EX_OUT/$_p.err"
    return 1
}

# ex_where PID: the state and stacks of the program under timeout PID
# (a hang is otherwise only a number).
ex_where() {
    _c=$(pgrep -P "$1")
    # The program, its own children (a sanitizer's tracer is one), timeout.
    for _c in $_c $(for _g in $_c; do pgrep -P "$_g"; done) "$1"; do
        echo "pid $_c: $(tr '\0' ' ' </proc/$_c/cmdline 2>/dev/null)"
        grep -E '^(State|TracerPid|SigPnd|ShdPnd|SigBlk)' /proc/$_c/status 2>/dev/null
        for _t in /proc/$_c/task/*; do
            echo "task ${_t##*/}: $(cut -d' ' -f3 $_t/stat 2>/dev/null) $(cat $_t/wchan 2>/dev/null)"
        done
    done
    _c=$(pgrep -P "$1" | head -n 1)
    if [ -n "$_c" ] && command -v gdb >/dev/null 2>&1; then
        timeout 30 gdb -batch -nx -p "$_c" -ex 'thread apply all bt' </dev/null 2>&1 | tail -n 80
    fi
}

# ex_stop PROG: SIGTERM, then one TAP line for a clean exit within 10 s.
ex_stop() {
    kill -TERM "$ex_pid" 2>/dev/null
    _i=0
    while kill -0 "$ex_pid" 2>/dev/null && [ $_i -lt $((100 * EX_T)) ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    # Still running after 10 s: say where it is before it is killed.
    if kill -0 "$ex_pid" 2>/dev/null; then
        ex_where "$ex_pid" >"$EX_OUT/$1.where" 2>&1
        kill -KILL "$ex_pid" 2>/dev/null
        diag_file "$EX_OUT/$1.where"
    fi
    wait "$ex_pid"
    _st=$?
    ex_pid=
    if [ "$_st" -eq 0 ]; then
        pass "SIGTERM stops $1, exit status 0"
    else
        fail "SIGTERM stops $1, exit status 0 (got $_st)"; diag_file "$EX_OUT/$1.err"
    fi
}

# ex_skip N WHY
ex_skip() {
    _k=$1
    shift
    while [ "$_k" -gt 0 ]; do skip "$*"; _k=$((_k - 1)); done
}

# upper.c, the stream handler: a line comes back in upper case.
ex_upper() {
    ex_built upper || { ex_skip 2 "upper did not build"; return; }
    ex_start upper 127.0.0.1:0 thread || { fail "upper starts"; ex_skip 1 "no server"; return; }
    _r=$(ex_client upper "$ex_port")
    if [ "$_r" = "HELLO, LIBNETSRV 1" ]; then
        pass "upper (thread mode) answers a line in upper case"
    else
        fail "upper answers in upper case"; echo "# got: $_r"
    fi
    ex_stop upper
}

# dgram.c, the datagram handler: the packet reversed, and its sender.
ex_dgram() {
    ex_built dgram || { ex_skip 2 "dgram did not build"; return; }
    ex_start dgram 127.0.0.1:0 || { fail "dgram starts"; ex_skip 1 "no server"; return; }
    _r=$(ex_client dgram "$ex_port")
    case "$_r" in
    "cba (3 bytes from 127.0.0.1:"[1-9]*")")
        pass "dgram answers a UDP datagram: $_r" ;;
    *)
        fail "dgram answers a UDP datagram"; echo "# got: $_r" ;;
    esac
    ex_stop dgram
}

# greet.c, server first with per-request state: the name given once
# numbers the later lines (each handled by a call of its own), and finish
# reports what the state held.
ex_greet() {
    ex_built greet || { ex_skip 2 "greet did not build"; return; }
    ex_start greet 127.0.0.1:0 async || { fail "greet starts"; ex_skip 1 "no server"; return; }
    _r=$(ex_client greet "$ex_port" | sed '1s/^hello 127\.0\.0\.1:[0-9]*, /hello ADDR, /')
    _w="hello ADDR, who are you?
ann, send lines; bye ends
ann 1: first line
ann 2: second
goodbye ann, 2 lines"
    _i=0
    while ! grep -q '^greet: ann left after 2 lines$' "$EX_OUT/greet.err" &&
            [ $_i -lt $((100 * EX_T)) ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    if [ "$_r" = "$_w" ] && grep -q '^greet: ann left after 2 lines$' "$EX_OUT/greet.err"; then
        pass "greet (async mode) greets first and keeps per-request state across handle calls"
    else
        fail "greet conversation"; printf '%s\n' "$_r" | sed 's/^/# got: /'
        diag_file "$EX_OUT/greet.err"
    fi
    ex_stop greet
}

# pool.c: squares 1..20 in 3 workers, every square once.
ex_pool() {
    ex_built pool || { ex_skip 1 "pool did not build"; return; }
    timeout -s KILL $((60 * EX_T)) "$EX_OUT/pool" 3 20 \
        </dev/null >"$EX_OUT/pool.out" 2>"$EX_OUT/pool.err"
    _st=$?
    _w=$(_i=1; while [ $_i -le 20 ]; do echo "$_i^2 = $((_i * _i))"; _i=$((_i + 1)); done)
    if [ "$_st" -eq 0 ] && [ "$(sort -n "$EX_OUT/pool.out")" = "$_w" ]; then
        pass "pool 3 20 prints the 20 squares, exit status 0"
    else
        fail "pool 3 20 prints the 20 squares (exit status $_st)"
        diag_file "$EX_OUT/pool.out"; diag_file "$EX_OUT/pool.err"
    fi
}

# fetch.c: a file and a missing one from nettool's http server, at once,
# as two tasks of one loop.
ex_fetch() {
    ex_built fetch || { ex_skip 1 "fetch did not build"; return; }
    mkdir -p "$EX_OUT/www"
    printf 'twelve bytes' >"$EX_OUT/www/a.txt"
    timeout --foreground -s KILL $((60 * EX_T)) "$EX_NETTOOL" serve http "$EX_OUT/www" -l 127.0.0.1:0 \
        </dev/null 2>"$EX_OUT/http.err" &
    ex_pid=$!
    _i=0
    while ! grep -q 'listening on' "$EX_OUT/http.err" 2>/dev/null && [ $_i -lt $((100 * EX_T)) ]; do
        kill -0 "$ex_pid" 2>/dev/null || break
        _i=$((_i + 1)); sleep 0.1
    done
    _h=$(sed -n 's/.*listening on //p' "$EX_OUT/http.err")
    timeout -s KILL $((60 * EX_T)) "$EX_OUT/fetch" "http://$_h/a.txt" "http://$_h/none" \
        </dev/null >"$EX_OUT/fetch.out" 2>"$EX_OUT/fetch.err"
    _st=$?
    kill -TERM "$ex_pid" 2>/dev/null
    wait "$ex_pid"
    ex_pid=
    _w="200 12 http://$_h/a.txt
404"
    _r=$(sort "$EX_OUT/fetch.out" | cut -d' ' -f1-3 | sed 's/^404 .*/404/')
    if [ "$_st" -eq 0 ] && [ -n "$_h" ] && [ "$_r" = "$_w" ]; then
        pass "fetch gets a file and a 404 as two tasks of one loop"
    else
        fail "fetch gets a file and a 404 (exit status $_st)"
        diag_file "$EX_OUT/fetch.out"; diag_file "$EX_OUT/fetch.err"; diag_file "$EX_OUT/http.err"
    fi
}

ex_all() {
    for _p in $EX_PROGRAMS; do ex_build "$_p"; done
    ex_upper
    ex_dgram
    ex_greet
    ex_pool
    ex_fetch
}
