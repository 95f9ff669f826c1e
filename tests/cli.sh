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
    grep -qi usage "$T/h$a.out"
    t_ok $? "nettool $a --help prints its usage on stdout"
    run "hh$a" "$NETTOOL" help "$a"
    t_is "$RC" 0 "nettool help $a exits 0"
    grep -q "^Usage: nettool $a" "$T/hh$a.out"
    t_ok $? "nettool help $a prints the same usage"
done

run unknown "$NETTOOL" no-such-applet
t_is "$RC" 127 "unknown applet exits 127"
test -s "$T/unknown.err"
t_ok $? "unknown applet: says so on stderr"

run nohandler "$NETTOOL" serve no-such-handler -l 127.0.0.1:0
t_is "$RC" 2 "serve with an unknown handler exits 2"
grep -q 'no-such-handler' "$T/nohandler.err"
t_ok $? "  and names it: $(head -n 1 "$T/nohandler.err")"

run badmode "$NETTOOL" serve echo -m bogus -l 127.0.0.1:0
t_is "$RC" 2 "serve with an unknown mode exits 2"

run nothing "$NETTOOL" serve
t_is "$RC" 2 "serve without a handler exits 2"

run badopt "$NETTOOL" serve echo --no-such-option
t_is "$RC" 2 "serve with an unknown option exits 2"

run badnum "$NETTOOL" serve echo --timeout abc -l 127.0.0.1:0
t_is "$RC" 2 "serve --timeout abc exits 2"

run badaddr "$NETTOOL" serve echo -l '[::1'
t_is "$RC" 2 "serve -l '[::1' (a malformed address) exits 2"

run noaddr "$NETTOOL" echo
t_is "$RC" 2 "echo without ADDR exits 2"

run benchnoaddr "$NETTOOL" bench
t_is "$RC" 2 "bench without ADDR exits 2"

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
