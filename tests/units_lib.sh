# tests/units_lib.sh - checks nettool's systemd unit pairs (contrib/systemd:
# echo, discard, chat, files, http): each pair passes `systemd-analyze
# verify`, and the service's own ExecStart line, run under
# systemd-socket-activate (which passes a listening socket the way systemd
# does: LISTEN_FDS, LISTEN_PID, fd 3), serves its handler on that socket
# and stops cleanly on SIGTERM.  Shared by tests/systemd.sh (the units in
# the source tree, the built nettool) and contrib/debian/check-installed.sh
# (the units and nettool the .deb installed).
#
# Sourced (POSIX sh).  The caller defines pass DESC, fail DESC, skip WHY
# and diag_file FILE, and sets:
#   U_DIR      the directory holding nettool-NAME.socket and .service
#   U_NETTOOL  the nettool to run in place of the units' /usr/bin/nettool
#              (the same path when checking an installed package)
#   U_TMP      an empty private directory
#   U_CLIENT   tests/unit_client.py;  U_PY (optional) python3
#   U_MAN      (optional) a MANPATH where man finds nettool(1), for the
#              units' Documentation=; empty: verify skips that check
# then calls u_all, which prints U_TESTS TAP lines, and u_cleanup at exit.
# The sockets are Unix sockets in U_TMP: no port to pick, nothing off host.

U_NAMES="echo discard chat files http"
U_TESTS=15
: "${U_PY:=python3}" "${U_MAN:=}"
u_pid=

u_cleanup() {
    if [ -n "$u_pid" ]; then kill -KILL "$u_pid" 2>/dev/null; fi
    u_pid=
}

# u_verify NAME: systemd-analyze verify on a copy of the pair whose
# ExecStart names U_NETTOOL (verify insists the program exists); any
# warning it prints counts as a failure.
u_verify() {
    if ! command -v systemd-analyze >/dev/null 2>&1; then
        skip "systemd-analyze not installed (package systemd)"
        return
    fi
    _v=$U_TMP/verify-$1
    mkdir -p "$_v"
    for _f in "$U_DIR/nettool-$1.socket" "$U_DIR/nettool-$1.service"; do
        sed "s|/usr/bin/nettool|$U_NETTOOL|" "$_f" >"$_v/${_f##*/}"
    done
    if [ -n "$U_MAN" ]; then
        MANPATH=$U_MAN timeout 60 systemd-analyze verify \
            "$_v/nettool-$1.socket" "$_v/nettool-$1.service" >"$_v/out" 2>&1
    else
        timeout 60 systemd-analyze verify --man=no \
            "$_v/nettool-$1.socket" "$_v/nettool-$1.service" >"$_v/out" 2>&1
    fi
    _st=$?
    if [ "$_st" -eq 0 ] && [ ! -s "$_v/out" ]; then
        pass "systemd-analyze verify nettool-$1.socket nettool-$1.service"
    else
        fail "systemd-analyze verify nettool-$1.{socket,service} (exit $_st)"
        diag_file "$_v/out"
    fi
}

# u_command NAME: the service's ExecStart with its variables (Environment=
# NETTOOL_DIR) set to U_TMP/www and U_NETTOOL for /usr/bin/nettool.
u_command() {
    sed -n 's/^ExecStart=//p' "$U_DIR/nettool-$1.service" | head -n 1 |
        sed -e "s|\${NETTOOL_DIR}|$U_TMP/www|g" -e "s|^/usr/bin/nettool|$U_NETTOOL|"
}

# u_talk NAME SOCK: the handler answers as it should; 0 or 1.
u_talk() {
    case $1 in
    echo|discard|chat)
        timeout 30 "$U_PY" "$U_CLIENT" "$1" "$2" >"$U_TMP/$1.talk" 2>&1 ;;
    files)
        (cd "$U_TMP" && timeout 30 "$U_NETTOOL" download "unix:$2" a.bin \
            -o got.files -q --timeout 10) >"$U_TMP/$1.talk" 2>&1 &&
            cmp "$U_TMP/www/a.bin" "$U_TMP/got.files" >>"$U_TMP/$1.talk" 2>&1 ;;
    http)
        timeout 30 curl -sS --fail --unix-socket "$2" -o "$U_TMP/got.http" \
            http://localhost/a.bin >"$U_TMP/$1.talk" 2>&1 &&
            cmp "$U_TMP/www/a.bin" "$U_TMP/got.http" >>"$U_TMP/$1.talk" 2>&1 ;;
    esac
}

# u_activate NAME: two TAP lines, it serves under systemd-socket-activate
# and SIGTERM stops it with exit status 0.
u_activate() {
    if ! command -v systemd-socket-activate >/dev/null 2>&1; then
        skip "systemd-socket-activate not installed (package systemd)"
        skip "systemd-socket-activate not installed (package systemd)"
        return
    fi
    _cmd=$(u_command "$1")
    _sock=$U_TMP/$1.sock
    _log=$U_TMP/$1.log
    # The command line holds no quotes: plain word splitting is its syntax.
    # shellcheck disable=SC2086
    # --foreground: no SIGCONT after our SIGTERM (see tests/examples_lib.sh,
    # ex_start: it can hang LeakSanitizer's exit check).
    timeout --foreground -s KILL 60 systemd-socket-activate -l "$_sock" $_cmd </dev/null >"$_log" 2>&1 &
    u_pid=$!
    _i=0
    while ! grep -q "^Listening on $_sock" "$_log" 2>/dev/null && [ $_i -lt 100 ]; do
        kill -0 "$u_pid" 2>/dev/null || break
        sleep 0.1
        _i=$((_i + 1))
    done
    # systemd-socket-activate execs the service on the first connection;
    # nettool's line then names the socket it was handed.
    if u_talk "$1" "$_sock" &&
            grep -q "nettool serve: $1 (.*) listening on unix:$_sock\$" "$_log"; then
        pass "nettool-$1.service's ExecStart serves $1 on the socket passed in (LISTEN_FDS)"
    else
        fail "nettool-$1.service's ExecStart serves $1 under systemd-socket-activate"
        echo "# command: $_cmd"
        diag_file "$_log"; diag_file "$U_TMP/$1.talk"
    fi
    kill -TERM "$u_pid" 2>/dev/null
    _i=0
    while kill -0 "$u_pid" 2>/dev/null && [ $_i -lt 150 ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    wait "$u_pid"
    _st=$?
    u_pid=
    if [ "$_st" -eq 0 ]; then
        pass "SIGTERM stops the activated $1 server, exit status 0"
    else
        fail "SIGTERM stops the activated $1 server, exit status 0 (got $_st)"
        diag_file "$_log"
    fi
}

u_all() {
    mkdir -p "$U_TMP/www"
    head -c 300000 /dev/urandom >"$U_TMP/www/a.bin"
    for _n in $U_NAMES; do
        u_verify "$_n"
        u_activate "$_n"
    done
}
