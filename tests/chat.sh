#!/bin/sh
# chat.sh - "nettool serve chat" with three and more clients (broadcast, no
# self-echo, nicks, /who, /me, notices, logout and /quit, overlong lines,
# junk and invalid UTF-8, rooms, history, the slow client dropped) in
# thread mode, async mode and async with two loops; the "nettool chat"
# client with piped input and on a pseudo-terminal; UDP peer chat between
# two nettool processes; usage errors.
. "${top_srcdir:-.}/tests/lib.sh"
CC="$PY ${top_srcdir:-.}/tests/chatclient.py"

# tap PREFIX: turns chatclient.py's PASS/FAIL lines into TAP.
tap() {
    while IFS= read -r l; do
        case $l in
        PASS\ *) pass "$1: ${l#PASS }" ;;
        FAIL\ *) fail "$1: ${l#FAIL }" ;;
        *) diag "$l" ;;
        esac
    done
}

real_nettool

for m in "thread" "async" "async -w 2"; do
    # shellcheck disable=SC2086
    if ! start_server chat chat -l 127.0.0.1:0 -m $m --history 5; then
        fail "$m: server starts"
        continue
    fi
    timeout 60 $CC room "$SRV_ADDR" 5 >"$T/out" 2>&1
    tap "$m" <"$T/out"
    timeout 120 $CC slow "$SRV_ADDR" >"$T/out" 2>&1
    tap "$m" <"$T/out"

    # 1,000 members, then one line to all of them: with -w 2 half of them
    # are woken from the other loop, in long runs while the sender's
    # loop keeps waking (each join is a broadcast too)
    case $m in
    async*)
        if [ "$(ulimit -n)" -ge 2100 ] || ulimit -n 4096 2>/dev/null; then
            ms=$(timeout 150 $PY "${top_srcdir:-.}/contrib/bench/chat_load.py" fanout "$SRV_ADDR" 1000 2>"$T/fan.err")
            t_ok $? "$m: a line reaches all 999 others of 1,000 members ($ms ms) $(cat "$T/fan.err")"
        else
            fail "$m: 1,000 members need 2,100 descriptors (ulimit -n is $(ulimit -n))"
        fi ;;
    esac

    # the client binary, piped input: a watcher sees the lines, the
    # sender exits 0 at the end of its input
    mkfifo "$T/wfifo"
    "$NETTOOL" chat "$SRV_ADDR" --nick watch <"$T/wfifo" >"$T/watch.out" 2>&1 &
    wpid=$!
    exec 7>"$T/wfifo"
    wait_for 10 grep -q 'you are now watch' "$T/watch.out"
    out=$(printf 'hi from a pipe\n/who\n' | timeout 10 "$NETTOOL" chat "$SRV_ADDR" --nick piper 2>&1)
    t_is "$?" 0 "$m: nettool chat with piped input exits 0 at its end"
    case $out in *"* in lobby: "*piper*) pass "$m: and prints the server's lines" ;;
    *) fail "$m: and prints the server's lines"; diag "$out" ;; esac
    t_ok "$(wait_for 10 grep -q 'piper: hi from a pipe' "$T/watch.out"; echo $?)" \
        "$m: another nettool chat prints what it sent"
    t_ok "$(wait_for 10 grep -q '\* piper left' "$T/watch.out"; echo $?)" \
        "$m: and its leave notice"
    timeout 30 $CC pty "$REAL_NETTOOL" "$SRV_ADDR" >"$T/out" 2>&1
    tap "$m" <"$T/out"
    stop_server
    t_is "$EXIT_STATUS" 0 "$m: the server stops on SIGTERM"
    wait_exit "$wpid" 10
    t_is "$EXIT_STATUS" 1 "$m: a client whose server went away exits 1"
    grep -q 'connection lost' "$T/watch.out"
    t_ok $? "$m: saying the connection was lost"
    exec 7>&-
    rm -f "$T/wfifo"
done

# UDP peer chat between two nettool processes
ports=$($PY -c 'import socket
ss=[socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
p1=${ports% *} p2=${ports#* }
mkfifo "$T/u1" "$T/u2"
"$NETTOOL" chat -u --bind "127.0.0.1:$p1" "127.0.0.1:$p2" <"$T/u1" >"$T/u1.out" 2>&1 &
u1=$!
"$NETTOOL" chat -u --bind "127.0.0.1:$p2" "127.0.0.1:$p1" <"$T/u2" >"$T/u2.out" 2>&1 &
u2=$!
echo "$u1" >>"$T/pids"
echo "$u2" >>"$T/pids"
exec 8>"$T/u1" 9>"$T/u2"
# a datagram sent before the other end is bound is lost: send until seen
n=0
while [ $n -lt 100 ] && ! grep -q 'ping one' "$T/u2.out"; do
    echo 'ping one' >&8
    n=$((n + 1))
    wait_for 1 grep -q 'ping one' "$T/u2.out"
done
t_ok "$(grep -q "127.0.0.1:$p1: ping one" "$T/u2.out"; echo $?)" "udp: a line reaches the peer, with its sender"
echo 'pong two' >&9
t_ok "$(wait_for 10 grep -q "127.0.0.1:$p2: pong two" "$T/u1.out"; echo $?)" "udp: and the other way"
exec 8>&- 9>&-
wait_exit "$u1" 10
t_is "$EXIT_STATUS" 0 "udp: the end of input ends it with 0"
wait_exit "$u2" 10

# usage errors
"$NETTOOL" chat >/dev/null 2>"$T/err"
t_is "$?" 2 "usage: no address"
"$NETTOOL" chat -u 127.0.0.1:1 >/dev/null 2>"$T/err"
t_is "$?" 2 "usage: -u without --bind"
"$NETTOOL" chat 127.0.0.1:1 --nick 'b a d' >/dev/null 2>"$T/err"
t_is "$?" 2 "usage: an invalid --nick"
"$NETTOOL" serve chat -m fork -l 127.0.0.1:0 >/dev/null 2>"$T/err"
t_is "$?" 2 "usage: serve chat in fork mode"
"$NETTOOL" serve echo --history 3 -l 127.0.0.1:0 >/dev/null 2>"$T/err"
t_is "$?" 2 "usage: --history for another handler"
"$NETTOOL" chat 127.0.0.1:1 </dev/null >/dev/null 2>"$T/err"
t_is "$?" 1 "no server: exit 1"
t_done
