#!/bin/sh
# cli.sh - nettool's command line: help/list/version, applet help, exit
# codes (0 ok, 1 runtime failure, 2 usage, 127 unknown applet), usage
# errors as one line plus "Try 'nettool APPLET --help'", serve options
# refused where they do not apply (mode, datagrams, Unix or inherited
# sockets, the --stack-size minimum) and taken where they do, the
# listening line against the socket really bound (-l PORT is all
# interfaces), one clear line for a busy port and for a refused echo, and
# dispatch on argv[0] through links.
. "${top_srcdir:-.}/tests/lib.sh"

run() { # run NAME CMD...: stdout/stderr to $T/NAME.out/.err; sets RC
    _n=$1
    shift
    timeout 10 "$@" >"$T/$_n.out" 2>"$T/$_n.err" </dev/null
    RC=$?
}

# usage_error NAME APPLET PATTERN CMD...: runs CMD and passes when it is a
# usage error in the GNU style: exit 2, nothing on stdout, and exactly two
# lines on stderr, "nettool APPLET: ..." matching the grep PATTERN (which
# names the problem), then "Try 'nettool APPLET --help' for more
# information."  An empty APPLET stands for nettool itself.
usage_error() {
    _n=$1 _a=$2 _p=$3
    shift 3
    run "$_n" "$@"
    _cmd="nettool${_a:+ $_a}"
    _first=$(head -n 1 "$T/$_n.err")
    _why=
    [ "$RC" -eq 2 ] || _why="$_why exit $RC;"
    [ ! -s "$T/$_n.out" ] || _why="$_why output on stdout;"
    [ "$(wc -l <"$T/$_n.err" | tr -d ' ')" -eq 2 ] ||
        _why="$_why $(wc -l <"$T/$_n.err" | tr -d ' ') lines on stderr;"
    case $_first in
    "$_cmd: "*) printf '%s\n' "$_first" | grep -q -- "$_p" ||
        _why="$_why first line does not match '$_p';" ;;
    *) _why="$_why first line does not start with '$_cmd: ';" ;;
    esac
    [ "$(sed -n 2p "$T/$_n.err")" = "Try '$_cmd --help' for more information." ] ||
        _why="$_why no Try line;"
    _shown=$*
    case $_shown in "$NETTOOL"*) _shown=nettool${_shown#"$NETTOOL"} ;; esac
    t_is "$_why" "" "usage: $_shown -> exit 2: $_first / Try '$_cmd --help'"
}

run help "$NETTOOL" --help
t_is "$RC" 0 "nettool --help exits 0"
grep -q serve "$T/help.out" && grep -q echo "$T/help.out"
t_ok $? "--help names the applets (on stdout)"

run list "$NETTOOL" --list
t_is "$RC" 0 "nettool --list exits 0"
grep -qx 'serve' "$T/list.out" && grep -qx 'echo' "$T/list.out" &&
    grep -qx 'bench' "$T/list.out"
t_ok $? "--list prints serve, echo and bench, one a line"

run version "$NETTOOL" --version
t_is "$RC" 0 "nettool --version exits 0"
grep -q '[0-9]\.[0-9]' "$T/version.out"
t_ok $? "--version prints a version: $(head -n 1 "$T/version.out")"

for a in serve echo bench; do
    run "h$a" "$NETTOOL" "$a" --help
    t_is "$RC" 0 "nettool $a --help exits 0"
    # The whole usage: the synopsis and the option list, nothing on stderr.
    grep -q "^Usage: nettool $a" "$T/h$a.out" && grep -q -- '--help' "$T/h$a.out" &&
        [ "$(wc -l <"$T/h$a.out")" -gt 5 ] && [ ! -s "$T/h$a.err" ]
    t_ok $? "nettool $a --help prints its whole usage on stdout ($(wc -l <"$T/h$a.out" | tr -d ' ') lines), nothing on stderr"
    run "hh$a" "$NETTOOL" help "$a"
    t_is "$RC" 0 "nettool help $a exits 0"
    grep -q "^Usage: nettool $a" "$T/hh$a.out"
    t_ok $? "nettool help $a prints the same usage"
done

run unknown "$NETTOOL" no-such-applet
t_is "$RC" 127 "unknown applet exits 127"
test -s "$T/unknown.err"
t_ok $? "unknown applet: says so on stderr"

# Usage errors: one line naming the problem and one pointing to --help,
# never the whole usage text.
usage_error noapplet "" 'missing APPLET' "$NETTOOL"
usage_error topopt "" "unknown option '--bogus'" "$NETTOOL" --bogus
usage_error nohandler serve "unknown handler 'no-such-handler'" \
    "$NETTOOL" serve no-such-handler -l 127.0.0.1:0
usage_error badmode serve "unknown mode 'bogus'" "$NETTOOL" serve echo -m bogus -l 127.0.0.1:0
usage_error nothing serve 'missing HANDLER' "$NETTOOL" serve
usage_error badopt serve "unknown option '--no-such-option'" "$NETTOOL" serve echo --no-such-option
usage_error badshort serve "unknown option '-x'" "$NETTOOL" serve echo -x
usage_error noarg serve "option '-l' needs an argument" "$NETTOOL" serve echo -l
usage_error badnum serve "invalid --timeout 'abc'" "$NETTOOL" serve echo --timeout abc -l 127.0.0.1:0
usage_error badaddr serve "invalid address '\[::1'" "$NETTOOL" serve echo -l '[::1'
usage_error noaddr echo 'missing ADDR' "$NETTOOL" echo
usage_error twoaddr echo "unexpected argument '127.0.0.1:2'" "$NETTOOL" echo 127.0.0.1:1 127.0.0.1:2
usage_error benchnoaddr bench 'missing ADDR' "$NETTOOL" bench
usage_error benchconns bench "invalid -c '0'" "$NETTOOL" bench 127.0.0.1:1 -c 0

# Options that do not apply to the mode or the socket are usage errors,
# wherever they stand relative to -m, -u and -l.
usage_error w-sync serve '^nettool serve: -w/--workers needs -m async (the mode is sync)' \
    "$NETTOOL" serve echo -m sync -w 2 -l 127.0.0.1:0
usage_error w-thread serve '-w/--workers needs -m async (the mode is thread)' \
    "$NETTOOL" serve echo --workers 2 -m thread -l 127.0.0.1:0
usage_error ss-sync serve '--stack-size needs -m async (the mode is sync' \
    "$NETTOOL" serve echo --stack-size 64k -m sync -l 127.0.0.1:0
usage_error ss-fork serve '--stack-size needs -m async (the mode is fork' \
    "$NETTOOL" serve echo -m fork --stack-size 64k -l 127.0.0.1:0
usage_error mc-sync serve '--max-conns needs -m thread, fork or async' \
    "$NETTOOL" serve echo -m sync --max-conns 4 -l 127.0.0.1:0
usage_error mc-sync2 serve '--max-conns needs -m thread, fork or async' \
    "$NETTOOL" serve echo --max-conns 4 -m sync -l 127.0.0.1:0
usage_error pi-sync serve '--per-ip needs -m thread, fork or async' \
    "$NETTOOL" serve echo --per-ip 2 -m sync -l 127.0.0.1:0
usage_error pi-udp serve '--per-ip counts connections: .*(-u)' \
    "$NETTOOL" serve echo -m thread --per-ip 2 -u -l 127.0.0.1:0
usage_error pi-unix serve "--per-ip counts connections by IP address: .*unix:$T/pi.sock" \
    "$NETTOOL" serve echo -m async --per-ip 2 -l "unix:$T/pi.sock"
usage_error bl-udp serve '--backlog is the queue of a stream listener: .*(-u)' \
    "$NETTOOL" serve echo -u --backlog 8 -l 127.0.0.1:0
usage_error nd-udp serve '--nodelay is for TCP connections, not datagrams (-u)' \
    "$NETTOOL" serve echo --nodelay -u -l 127.0.0.1:0
usage_error nnd-udp serve '--no-nodelay is for TCP connections, not datagrams (-u)' \
    "$NETTOOL" serve echo -u --no-nodelay -l 127.0.0.1:0
usage_error nd-unix serve '--nodelay is for TCP connections, not a Unix socket' \
    "$NETTOOL" serve echo -m thread --nodelay -l "unix:$T/nd.sock"
usage_error rp-unix serve '--reuse-port is for IP sockets, not a Unix socket' \
    "$NETTOOL" serve echo --reuse-port -l "unix:$T/rp.sock"
usage_error rp-fd serve '--reuse-port needs a socket nettool creates, not an inherited one (fd:3)' \
    "$NETTOOL" serve echo --reuse-port -l fd:3
usage_error rp-sd serve '--reuse-port needs a socket nettool creates, not an inherited one (systemd)' \
    "$NETTOOL" serve echo -l systemd --reuse-port
usage_error exec-udp serve 'the exec handler needs a stream socket (drop -u)' \
    "$NETTOOL" serve exec -m fork -u -l 127.0.0.1:0 -- cat
test ! -e "$T/pi.sock" && test ! -e "$T/nd.sock" && test ! -e "$T/rp.sock"
t_ok $? "  and no Unix socket file is left behind by them"

# An inherited socket (fd:N) is checked once the kernel has said what it
# is: here a Unix datagram socket, then a TCP listener, each as fd 3.
# inherit.py FAMILY TYPE PATH CMD...: runs CMD with such a socket (bound to
# PATH or a free loopback port, and listening if a stream) as descriptor 3.
cat >"$T/inherit.py" <<'EOF'
import os, socket, sys
fam, typ, path = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(getattr(socket, fam), getattr(socket, typ))
s.bind(path if fam == "AF_UNIX" else ("127.0.0.1", 0))
if typ == "SOCK_STREAM":
    s.listen()
os.dup2(s.fileno(), 3)
os.execv(sys.argv[4], sys.argv[4:])
EOF
usage_error fd-pi serve '--per-ip counts connections: .*(an inherited datagram socket)' \
    "$PY" "$T/inherit.py" AF_UNIX SOCK_DGRAM "$T/fd.dgram" \
    "$NETTOOL" serve echo -m thread --per-ip 1 -l fd:3
usage_error fd-u serve '-u was given, but fd:3 is a stream socket' \
    "$PY" "$T/inherit.py" AF_INET SOCK_STREAM - "$NETTOOL" serve echo -u -l fd:3

# --stack-size: the minimum is libnetsrv's NETSRV_STACK_MIN, serve --help
# says it, one byte less is refused (not raised) and the minimum works.
stack_min=$(sed -n 's/^#define NETSRV_STACK_MIN //p' "${top_srcdir:-.}/libnetsrv/netsrv.h")
stack_min=$(($stack_min))
help_min=$(timeout 10 "$NETTOOL" serve --help | sed -n 's/.*at least \([0-9]*\)k.*/\1/p')
t_is "$((${help_min:-0} * 1024))" "$stack_min" \
    "serve --help says the real --stack-size minimum: ${help_min:-?}k (NETSRV_STACK_MIN $stack_min)"
usage_error ss-min serve "--stack-size '$((stack_min - 1))' is below the minimum, $((stack_min / 1024))k" \
    "$NETTOOL" serve echo -m async --stack-size "$((stack_min - 1))" -l 127.0.0.1:0
usage_error ss-max serve "--stack-size '2048M' is above the maximum" \
    "$NETTOOL" serve echo -m async --stack-size 2048M -l 127.0.0.1:0

# serves NAME U ARGS...: "nettool serve echo ARGS" starts, echoes a line to
# "nettool echo U" (U is -u or empty) and stops with exit 0: the options
# are taken where they apply.
serves() {
    _n=$1 _u=$2
    shift 2
    if start_server "$_n" echo "$@"; then
        _out=$(printf 'fits\n' | timeout 10 "$NETTOOL" echo $_u "$SRV_ADDR" --timeout 5 2>&1)
        stop_server
        [ "$_out" = fits ] && [ "$EXIT_STATUS" = 0 ]
        t_ok $? "serve echo $* starts and echoes ($(printf '%s' "$_out" | head -n 1)), then exits $EXIT_STATUS"
    else
        fail "serve echo $* starts: $(head -n 1 "$SRV_LOG")"
    fi
}
serves fit-thread "" -m thread --max-conns 4 --per-ip 2 --backlog 16 --nodelay --reuse-port \
    --timeout 5 --request-timeout 5 --drain 1 -l 127.0.0.1:0
serves fit-async "" -m async -w 2 --stack-size "$stack_min" --max-conns 8 --per-ip 2 \
    --no-nodelay -l 127.0.0.1:0
serves fit-fork-udp -u -m fork -u --max-conns 2 --reuse-port --timeout 5 -l 127.0.0.1:0
serves fit-unix "" -m thread --max-conns 2 --backlog 8 -l "unix:$T/fit.sock"
serves fit-sync "" --per-ip 0 --backlog 8 --timeout 5 -l 127.0.0.1:0

# -l PORT listens on all IPv4 interfaces (as nc -l and python -m
# http.server do) while the default is the loopback only: serve --help
# says both, and the listening line shows the address really bound, with
# the port the kernel chose for port 0.
timeout 10 "$NETTOOL" serve --help >"$T/shelp.out"
grep -q 'bare PORT listens on all IPv4' "$T/shelp.out" && grep -q '(0.0.0.0:PORT' "$T/shelp.out" &&
    grep -q 'the default, 127.0.0.1:7000, is this host' "$T/shelp.out"
t_ok $? "serve --help says a bare PORT listens on all interfaces (0.0.0.0:PORT), the default 127.0.0.1:7000 this host only"

# bound PROTO HEXADDR PORT: the kernel's table /proc/net/PROTO has a socket
# bound to HEXADDR (as the kernel writes it) and PORT.
bound() {
    awk -v a="$2:$(printf '%04X' "$3")" '$2 == a { found = 1 } END { exit !found }' "/proc/net/$1"
}

# listens NAME PROTO HEXADDR SHOWN U LISTEN: "serve echo U -l LISTEN" prints
# "listening on SHOWN:PORT" with a real PORT, the kernel has that socket
# bound to HEXADDR:PORT, and "nettool echo U" gets an answer on
# 127.0.0.1:PORT (or [::1]:PORT).
listens() {
    _n=$1 _proto=$2 _hex=$3 _shown=$4 _u=$5 _l=$6
    if start_server "$_n" echo $_u -l "$_l"; then
        _line=$(grep 'listening on' "$SRV_LOG" | head -n 1)
        _port=${SRV_ADDR##*:}
        case $_line in
        "nettool serve: echo (async) listening on $_shown:"[1-9]*) _why= ;;
        *) _why="the listening line is '$_line'" ;;
        esac
        if [ -z "$_why" ] && [ -r "/proc/net/$_proto" ] && ! bound "$_proto" "$_hex" "$_port"; then
            _why="/proc/net/$_proto has no socket on $_hex:$_port"
        fi
        case $_shown in \[*) _to="[::1]:$_port" ;; *) _to="127.0.0.1:$_port" ;; esac
        if [ -z "$_why" ]; then
            _out=$(printf 'bound\n' | timeout 10 "$NETTOOL" echo $_u "$_to" --timeout 5 2>&1)
            [ "$_out" = bound ] || _why="no echo on $_to: $(printf '%s' "$_out" | head -n 1)"
        fi
        stop_server
        t_is "$_why" "" "serve echo ${_u:+$_u }-l $_l: '$_line', bound so, answers on $_to"
    else
        fail "serve echo $_u -l $_l starts: $(head -n 1 "$SRV_LOG")"
    fi
}
listens any tcp 00000000 0.0.0.0 "" 0
listens any-u udp 00000000 0.0.0.0 -u 0
listens lo tcp 0100007F 127.0.0.1 "" 127.0.0.1:0
if timeout 10 "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    listens lo6 tcp6 00000000000000000000000001000000 '[::1]' "" '[::1]:0'
else
    t_skip 1 "no IPv6 loopback"
fi
if start_server unixline echo -l "unix:$T/line.sock"; then
    t_is "$(grep 'listening on' "$SRV_LOG")" "nettool serve: echo (async) listening on unix:$T/line.sock" \
        "serve echo -l unix:PATH: the listening line names the path"
    stop_server
else
    fail "serve echo -l unix:PATH starts: $(head -n 1 "$SRV_LOG")"
fi

# A busy port: exit 1 with one clear line.
if start_server busy echo -l 127.0.0.1:0; then
    run inuse "$NETTOOL" serve echo -l "$SRV_ADDR"
    t_is "$RC" 1 "serve on a port in use exits 1"
    t_is "$(wc -l <"$T/inuse.err" | tr -d ' ')" 1 "  with exactly one line on stderr"
    grep -qi 'in use' "$T/inuse.err" && grep -q "${SRV_ADDR##*:}" "$T/inuse.err"
    t_ok $? "  that says the address is in use: $(cat "$T/inuse.err")"
    stop_server
    t_is "$EXIT_STATUS" 0 "the first server stops with SIGTERM, exit 0"
else
    fail "a server to make a port busy"
    t_skip 4 "no server"
fi

# Nobody listening: a runtime failure, said in one line, as bench says it.
# A port bound and closed again is one nobody listens on.
for proto in tcp udp; do
    port=$(timeout 10 "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' "$proto")
    u=
    [ "$proto" = udp ] && u=-u
    printf 'anyone?\n' >"$T/in"
    timeout 10 "$NETTOOL" echo $u "127.0.0.1:$port" --timeout 5 <"$T/in" >"$T/refused.out" 2>"$T/refused.err"
    RC=$?
    t_is "$RC" 1 "echo $u to a $proto port nobody listens on exits 1"
    t_is "$(cat "$T/refused.err")" "nettool echo: cannot connect to 127.0.0.1:$port: Connection refused" \
        "  with one line on stderr saying the connection was refused"
    test ! -s "$T/refused.out"
    t_ok $? "  and nothing on stdout"
done

# argv[0] dispatch through links named after the applet.
real_nettool
REAL=$REAL_NETTOOL
mkdir "$T/bin"
ln -s "$REAL" "$T/bin/serve"
ln -s "$REAL" "$T/bin/nettool-serve"
ln -s "$REAL" "$T/bin/echo"
for l in serve nettool-serve; do
    run "l$l" "$T/bin/$l" --help
    t_is "$RC" 0 "a link named $l: --help exits 0"
    grep -q 'nettool serve' "$T/l$l.out"
    t_ok $? "  and shows the serve usage"
    usage_error "lu$l" serve "unknown option '--bogus'" "$T/bin/$l" echo --bogus
done
"$T/bin/serve" echo -l 127.0.0.1:0 2>"$T/link.log" &
SRV_PID=$!
echo "$SRV_PID" >>"$T/pids"
if wait_for 10 grep -q 'listening on' "$T/link.log"; then
    SRV_ADDR=$(grep 'listening on' "$T/link.log" | head -n 1 | awk '{print $NF}')
    out=$(printf 'via link\n' | timeout 10 "$T/bin/echo" "$SRV_ADDR")
    t_is "$out" "via link" "links 'serve' and 'echo' run the applets (serve + echo round trip)"
    stop_server
    t_is "$EXIT_STATUS" 0 "the server started through the link stops with exit 0"
else
    fail "a link named serve starts a server: $(cat "$T/link.log")"
    t_skip 1 "no server"
fi

t_done
