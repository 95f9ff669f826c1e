#!/bin/sh
# serve_async.sh - "nettool serve -m async" end to end: two loops (-w 2) over
# TCP, Unix and UDP with clients at once; a peer that never reads (the
# server's RSS stays bounded, others are served); --timeout and
# --request-timeout; --stack-size; SIGTERM drain with two loops; EMFILE
# under ulimit -n 64 with two loops (tests/emfile.sh does one loop).
. "${top_srcdir:-.}/tests/lib.sh"
NC="$PY ${top_srcdir:-.}/tests/netclient.py"
TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Clients this script needs beyond netclient.py.  Each prints its figures
# on stdout, reasons on stderr, exits 0 on success; every wait is bounded.
cat >"$T/ac.py" <<'EOF'
import os, signal, socket, sys, time

# connect() and readline() are netclient.py's.
sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests"))
from netclient import connect, readline

def eof_within(s, timeout):
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False

def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1

def die(msg):
    sys.stderr.write("ac.py: %s\n" % msg)
    sys.exit(1)

def echo_round(addr, msg):
    b = connect(addr)
    b.sendall(msg)
    got = readline(b)
    b.close()
    return got == msg

def cmd_noread(addr, pid):
    """Push 64 KiB chunks, never reading, until 200 MiB went or sending
    stalled for 0.3 s; print KiB pushed and the server's RSS growth."""
    echo_round(addr, b"warm\n")
    before = rss_kib(pid)
    a = connect(addr)
    a.setblocking(False)
    chunk = b"x" * 65536
    pushed, t0 = 0, time.monotonic()
    last = t0
    while pushed < 200 << 20 and time.monotonic() - last < 0.3 and time.monotonic() - t0 < 15:
        try:
            pushed += a.send(chunk)
            last = time.monotonic()
        except BlockingIOError:
            import select
            select.select([], [a], [], 0.05)
    grew = rss_kib(pid) - before
    other = echo_round(addr, b"while the other is stuck\n")
    a.close()
    print(pushed >> 10, grew)
    if not other:
        die("a second client was not echoed while the first was stuck")

def cmd_silent(addr):
    """Connect, say nothing: print seconds until the server closes."""
    s = connect(addr)
    t0 = time.monotonic()
    if not eof_within(s, 5):
        die("a silent client was not closed within 5 s")
    print("%.2f" % (time.monotonic() - t0))

def cmd_busy(addr):
    """A line every 0.1 s: print the rounds done and seconds until cut."""
    s = connect(addr)
    t0 = time.monotonic()
    rounds = 0
    while time.monotonic() - t0 < 5:
        try:
            s.sendall(b"busy\n")
            got = readline(s, 2)
        except (ConnectionResetError, BrokenPipeError):
            got = b""
        except socket.timeout:
            die("no answer and no close")
        if got != b"busy\n":
            print(rounds, "%.2f" % (time.monotonic() - t0))
            return
        rounds += 1
        time.sleep(0.1)  # the client's pace, not synchronisation
    die("a busy client was never cut (%d rounds)" % rounds)

def cmd_drain(addr, pid, n):
    """n clients with an echo round each, then SIGTERM to pid: print the
    seconds until all of them were closed."""
    socks = [connect(addr) for _ in range(n)]
    for i, s in enumerate(socks):
        s.sendall(b"c%d\n" % i)
        if readline(s) != b"c%d\n" % i:
            die("client %d not echoed" % i)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    for i, s in enumerate(socks):
        if not eof_within(s, 5):
            die("client %d not closed within 5 s of SIGTERM" % i)
    print("%.2f" % (time.monotonic() - t0))

cmd = sys.argv[1]
try:
    if cmd == "noread":
        cmd_noread(sys.argv[2], int(sys.argv[3]))
    elif cmd == "silent":
        cmd_silent(sys.argv[2])
    elif cmd == "busy":
        cmd_busy(sys.argv[2])
    elif cmd == "drain":
        cmd_drain(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        die("unknown command " + cmd)
except OSError as e:
    die(str(e))
EOF
AC="$PY $T/ac.py"

# lt A B: A < B for decimal numbers.
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

# ---- two loops, three transports, clients at once
printf 'hello world\nsecond line\n' >"$T/lines"
head -c 300000 /dev/urandom >"$T/bin"
for tr in tcp unix udp; do
    case $tr in
    tcp) listen=127.0.0.1:0 u= ;;
    unix) listen=unix:$T/s-w2 u= ;;
    udp) listen=127.0.0.1:0 u=-u ;;
    esac
    if start_server "w2-$tr" echo -m async -w 2 $u -l "$listen"; then
        timeout 10 "$NETTOOL" echo "$SRV_ADDR" $u --timeout 5 <"$T/lines" >"$T/out" 2>"$T/err"
        cmp -s "$T/lines" "$T/out"
        t_ok $? "$tr -w 2: nettool echo round trip $(cat "$T/err")"
        if [ -z "$u" ]; then
            pids=
            for i in 1 2 3 4 5 6; do
                timeout 20 "$NETTOOL" echo "$SRV_ADDR" --timeout 10 <"$T/bin" >"$T/out$i" &
                pids="$pids $!"
            done
            wait $pids
            bad=0
            for i in 1 2 3 4 5 6; do cmp -s "$T/bin" "$T/out$i" || bad=$((bad + 1)); done
            t_is "$bad" 0 "$tr -w 2: 6 clients at once, 300 KB of binary each, byte-exact"
        fi
        stop_server
        t_is "$EXIT_STATUS" 0 "$tr -w 2: SIGTERM stops both loops, exit 0"
    else
        fail "$tr -w 2: server starts"
        t_skip 2 "no server"
    fi
done

# ---- a peer that never reads: the server's memory stays bounded
if start_server noread echo -m async -l 127.0.0.1:0; then
    out=$(timeout 30 $AC noread "$SRV_ADDR" "$SRV_PID")
    t_ok $? "never-reads: a second client is echoed while the first is stuck"
    set -- $out
    diag "never-reads: pushed ${1:-?} KiB, server RSS grew ${2:-?} KiB"
    [ -n "${1:-}" ] && [ "$1" -lt 204800 ]
    t_ok $? "never-reads: the client that never reads is pushed back (${1:-?} KiB of 200 MiB went)"
    [ -n "${2:-}" ] && [ "$2" -lt 8192 ]
    t_ok $? "never-reads: the server's RSS grew < 8 MiB (${2:-?} KiB)"
    alive "$SRV_PID"
    t_ok $? "never-reads: the server is still running"
    stop_server
    t_is "$EXIT_STATUS" 0 "never-reads: SIGTERM, exit 0"
else
    fail "never-reads: server starts"
    t_skip 4 "no server"
fi

# ---- --timeout and --request-timeout
if start_server idle echo -m async -w 2 --timeout 0.3 -l 127.0.0.1:0; then
    el=$(timeout 10 $AC silent "$SRV_ADDR")
    st=$?
    [ "$st" -eq 0 ] && lt 0.2 "$el" && lt "$el" 3
    t_ok $? "--timeout 0.3 -w 2: a silent client is closed (after ${el:-?} s)"
    stop_server
else
    fail "--timeout: server starts"
fi
if start_server reqto echo -m async --request-timeout 0.5 -l 127.0.0.1:0; then
    out=$(timeout 10 $AC busy "$SRV_ADDR")
    st=$?
    set -- $out
    [ "$st" -eq 0 ] && [ "${1:-0}" -ge 3 ] && lt 0.4 "${2:-0}" && lt "${2:-9}" 3
    t_ok $? "--request-timeout 0.5: a busy client (${1:-?} rounds) is cut after ${2:-?} s"
    stop_server
else
    fail "--request-timeout: server starts"
fi

# ---- --stack-size
if start_server stack echo -m async --stack-size 1M -l 127.0.0.1:0; then
    out=$(printf 'big stacks\n' | timeout 10 "$NETTOOL" echo "$SRV_ADDR" --timeout 5)
    t_is "$out" "big stacks" "--stack-size 1M: serves"
    stop_server
else
    fail "--stack-size 1M: server starts"
fi
for bad in 1k abc -5 ''; do
    timeout 10 "$NETTOOL" serve echo -m async --stack-size "$bad" -l 127.0.0.1:0 >/dev/null 2>"$T/err"
    t_is "$?" 2 "--stack-size '$bad' is a usage error (exit 2): $(head -n 1 "$T/err")"
done

# ---- SIGTERM with two loops: idle clients on both are cut at --drain
if start_server drain echo -m async -w 2 --drain 0.3 -l 127.0.0.1:0; then
    el=$(timeout 20 $AC drain "$SRV_ADDR" "$SRV_PID" 8)
    st=$?
    [ "$st" -eq 0 ] && lt 0.2 "$el" && lt "$el" 3
    t_ok $? "drain -w 2: 8 idle clients all closed at the drain deadline (after ${el:-?} s)"
    wait_exit "$SRV_PID" 10
    t_is "$EXIT_STATUS" 0 "drain -w 2: the server exits 0 once both loops are done"
else
    fail "drain: server starts"
    t_skip 1 "no server"
fi

# ---- EMFILE with two loops under ulimit -n 64 (cf. emfile.sh)
log=$T/emfile.log
(ulimit -n 64 && exec "$NETTOOL" serve echo -m async -w 2 --max-conns 500 -l 127.0.0.1:0) 2>"$log" &
SRV_PID=$!
echo "$SRV_PID" >>"$T/pids"
if wait_for 10 grep -q 'listening on' "$log"; then
    SRV_ADDR=$(grep 'listening on' "$log" | head -n 1 | awk '{print $NF}')
    ticks=$(timeout 60 $NC flood "$SRV_ADDR" "$SRV_PID" 200 1.5)
    t_ok $? "emfile -w 2: 200 connections opened and held for 1.5 s"
    [ -n "$ticks" ] && [ "$ticks" -lt "$TCK" ]
    t_ok $? "emfile -w 2: the server does not spin (${ticks:-?} ticks in 1.5 s, CLK_TCK $TCK)"
    echo_served_within "$SRV_ADDR" 15
    served=$?
    t_ok $served "emfile -w 2: a fresh client is served after the flood"
    stop_server
    t_is "$EXIT_STATUS" 0 "emfile -w 2: SIGTERM, exit 0"
else
    fail "emfile -w 2: server under ulimit -n 64 starts: $(cat "$log")"
    t_skip 3 "no server"
fi

t_done
