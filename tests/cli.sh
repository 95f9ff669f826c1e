#!/bin/sh
# cli.sh - nettool's command line: help/list/version, applet help, exit
# codes (0 ok, 1 runtime failure, 2 usage, 127 unknown applet), one clear
# line for a busy port, and dispatch on argv[0] through links.
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

# Refused connection: runtime failure.
run refused "$NETTOOL" echo 127.0.0.1:1 --timeout 5
t_is "$RC" 1 "echo to a port nobody listens on exits 1"

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
