#!/bin/sh
# chat-bench.sh - the chat server against the issue's targets: 1,000
# async clients and one broadcast (ms until all have it, -w 1 and -w 2);
# 10 chatters moving 10 MB with and without a client that never reads;
# broadcast deliveries per second with 100 clients, next to ncat --chat.
# Server on CPU 0, load client (chat_load.py) on CPU 1; ROUNDS rounds
# interleaved, medians.
#   contrib/bench/chat-bench.sh [--nettool PATH] [--rounds N]
set -u
here=$(cd "$(dirname "$0")" && pwd)
NETTOOL=${NETTOOL:-$here/../../tools/nettool}
ROUNDS=3
while [ $# -gt 0 ]; do
    case $1 in
    --nettool) NETTOOL=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [--nettool PATH] [--rounds N]" >&2; exit 2 ;;
    esac
done
LOAD="taskset -c 1 python3 $here/chat_load.py"
T=$(mktemp -d) || exit 1
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME CMD...: the server on CPU 0; sets ADDR once it accepts.
start() {
    p=$(port)
    ADDR=127.0.0.1:$p
    shift
    eval "taskset -c 0 $* >$T/srv.log 2>&1 &"
    SRV=$!
    i=0
    while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $p)).close()" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 200 ] && { echo "server did not start: $(cat "$T/srv.log")" >&2; exit 1; }
        sleep 0.05
    done
}
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

HAVE_NCAT=0
command -v ncat >/dev/null 2>&1 && HAVE_NCAT=1
: >"$T/fan1"; : >"$T/fan2"; : >"$T/bulk0"; : >"$T/bulk1"; : >"$T/rate_n"; : >"$T/rate_c"; : >"$T/pace_n"; : >"$T/pace_c"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for w in 1 2; do
        start x "$NETTOOL" serve chat -q -l "\$ADDR" -m async -w $w --history 0
        $LOAD fanout "$ADDR" 1000 >>"$T/fan$w"
        stop
    done
    for slow in 0 1; do
        start x "$NETTOOL" serve chat -q -l "\$ADDR" -m async --history 0
        $LOAD bulk "$ADDR" 10 10 $slow >>"$T/bulk$slow"
        stop
    done
    start x "$NETTOOL" serve chat -q -l "\$ADDR" -m async --history 0
    $LOAD rate "$ADDR" 100 2000 >>"$T/rate_n"
    stop
    start x "$NETTOOL" serve chat -q -l "\$ADDR" -m async --history 0
    $LOAD paced "$ADDR" 100 500 >>"$T/pace_n"
    stop
    if [ $HAVE_NCAT = 1 ]; then
        start x ncat --chat -l 127.0.0.1 "\${ADDR#*:}" --max-conns 200
        $LOAD rate "$ADDR" 100 2000 >>"$T/rate_c"
        stop
        start x ncat --chat -l 127.0.0.1 "\${ADDR#*:}" --max-conns 200
        $LOAD paced "$ADDR" 100 500 >>"$T/pace_c"
        stop
    fi
    r=$((r + 1))
done
f1=$(median <"$T/fan1"); f2=$(median <"$T/fan2")
b0=$(median <"$T/bulk0"); b1=$(median <"$T/bulk1")
rn=$(median <"$T/rate_n")
echo "chat-bench: $ROUNDS rounds, medians (server CPU 0, client CPU 1)"
echo "  1000 clients, one broadcast, all have it:  -w 1 ${f1} ms   -w 2 ${f2} ms   (target <= 200 ms)"
echo "  10 chatters, 10 MB:  ${b0} s alone, ${b1} s with a client that never reads (ratio $(ratio "$b1" "$b0"); target <= 1.20)"
if [ $HAVE_NCAT = 1 ]; then
    rc=$(median <"$T/rate_c")
    echo "  100 clients, broadcast deliveries/s:  nettool ${rn}   ncat --chat ${rc}   (nettool/ncat $(ratio "$rn" "$rc"))"
    pn=$(median <"$T/pace_n"); pc=$(median <"$T/pace_c")
    echo "  the same, one line at a time:          nettool ${pn}   ncat --chat ${pc}   (nettool/ncat $(ratio "$pn" "$pc"))"
    echo "  (ncat relays each read as one piece: a burst of lines goes out in a few writes,"
    echo "   one prefix each; nettool relays line by line, each with its sender's nick)"
else
    echo "  100 clients, broadcast deliveries/s:  nettool ${rn}   (ncat not installed: apt-get install ncat)"
fi
