#!/bin/sh
# serve_echo.sh - "nettool serve echo" end to end, driven by "nettool echo"
# and a python client: every transport in every mode (sync, thread, fork,
# async), binary data and a 1 MB line byte-exact, silent clients not
# blocking others, SIGTERM with a request in flight (it completes, exit 0),
# SIGINT, --per-ip, --max-conns.
. "${top_srcdir:-.}/tests/lib.sh"
NC="$PY ${top_srcdir:-.}/tests/netclient.py"

printf 'hello world\nsecond line\n' >"$T/lines"

for mode in sync thread fork async; do
    # TCP, Unix stream; UDP, Unix datagram.
    for tr in tcp unix udp unixdgram; do
        case $tr in
        tcp) listen=127.0.0.1:0 u= ;;
        unix) listen=unix:$T/s-$mode u= ;;
        udp) listen=127.0.0.1:0 u=-u ;;
        unixdgram) listen=unix:$T/d-$mode u=-u ;;
        esac
        if start_server "$tr-$mode" echo -m "$mode" $u -l "$listen"; then
            timeout 10 "$NETTOOL" echo "$SRV_ADDR" $u --timeout 5 <"$T/lines" >"$T/out" 2>"$T/err"
            rc=$?
            cmp -s "$T/lines" "$T/out"
            t_ok $? "$tr $mode: nettool echo round trip (exit $rc) $(cat "$T/err")"
            stop_server TERM
            t_is "$EXIT_STATUS" 0 "$tr $mode: SIGTERM stops the server, exit 0"
        else
            fail "$tr $mode: server starts"
            t_skip 1 "no server"
        fi
    done
done

# Binary data with NUL bytes, and a 1 MB line, byte-exact.
head -c 300000 /dev/urandom >"$T/bin"
{ head -c 1048576 /dev/zero | tr '\0' 'x'; echo; } >"$T/long"
for mode in sync thread fork async; do
    if start_server "bin-$mode" echo -m "$mode" -l 127.0.0.1:0; then
        timeout 20 "$NETTOOL" echo "$SRV_ADDR" --timeout 10 <"$T/bin" >"$T/out"
        cmp -s "$T/bin" "$T/out"
        t_ok $? "$mode: 300 KB of random binary data (NUL bytes) byte-exact"
        timeout 20 "$NETTOOL" echo "$SRV_ADDR" --timeout 10 <"$T/long" >"$T/out"
        cmp -s "$T/long" "$T/out"
        t_ok $? "$mode: a 1 MB line byte-exact"
        stop_server
    else
        fail "$mode: binary server"
        t_skip 1 "no server"
    fi
done

# A silent client does not block others (thread, fork and async).
for mode in thread fork async; do
    if start_server "silent-$mode" echo -m "$mode" -l 127.0.0.1:0; then
        timeout 20 $NC silent "$SRV_ADDR"
        t_ok $? "$mode: a silent client does not block the next one"
        stop_server
    else
        fail "$mode: silent server"
    fi
done

# With no -m the mode is async: a second client is served while the first
# is still connected, as users of ncat -k or nginx expect.
if start_server default-mode echo -l 127.0.0.1:0; then
    grep -q '(async) listening' "$SRV_LOG"
    t_ok $? "no -m: the listening line says async"
    timeout 20 $NC silent "$SRV_ADDR"
    t_ok $? "no -m: a second client is served while the first is connected"
    stop_server
else
    fail "no -m: server starts"
fi

# SIGTERM with a request in flight: it completes, then exit 0.
for mode in thread fork async; do
    if start_server "term-$mode" echo -m "$mode" --drain 5 -l 127.0.0.1:0; then
        timeout 20 $NC inflight "$SRV_ADDR" "$SRV_PID"
        t_ok $? "$mode: SIGTERM mid-request: the request completes within --drain"
        wait_exit "$SRV_PID" 10
        t_is "$EXIT_STATUS" 0 "$mode: then the server exits 0"
    else
        fail "$mode: term server"
        t_skip 1 "no server"
    fi
done

# An idle client is cut off after --drain: the server still exits.
if start_server drain echo -m thread --drain 0.5 -l 127.0.0.1:0; then
    mkfifo "$T/hold"
    exec 3<>"$T/hold"
    timeout 20 "$NETTOOL" echo "$SRV_ADDR" <"$T/hold" >"$T/drain.out" 2>&1 &
    cl=$!
    # Wait until the server has the client: its echo of one line.
    echo ping >&3
    wait_for 10 grep -q ping "$T/drain.out"
    t_ok $? "--drain: a client is connected and served"
    start=$(date +%s)
    kill -TERM "$SRV_PID"
    wait_exit "$SRV_PID" 10
    t_is "$EXIT_STATUS" 0 "--drain 0.5 with an idle client connected: exit 0"
    el=$(( $(date +%s) - start ))
    [ "$el" -le 4 ]
    t_ok $? "  within a few seconds ($el s)"
    wait_exit "$cl" 10
    t_is "$EXIT_STATUS" 0 "  the idle client saw the end of the connection"
    exec 3>&-
else
    fail "drain server"
    t_skip 3 "no server"
fi

# SIGINT stops it too.
if start_server int echo -m thread -l 127.0.0.1:0; then
    stop_server INT
    t_is "$EXIT_STATUS" 0 "SIGINT stops the server, exit 0"
else
    fail "int server"
fi

# --per-ip 1 refuses a second client from the same IP at once.
if start_server perip echo -m thread --per-ip 1 -l 127.0.0.1:0; then
    timeout 20 $NC perip "$SRV_ADDR"
    t_ok $? "--per-ip 1: a second connection is closed at once, the first is served"
    stop_server
else
    fail "perip server"
fi

# --max-conns 2 with 4 clients: 2 at once, all eventually served.
for mode in thread fork async; do
    if start_server "max-$mode" echo -m "$mode" --max-conns 2 -l 127.0.0.1:0; then
        timeout 30 $NC maxconns "$SRV_ADDR" 4 2
        t_ok $? "$mode --max-conns 2: 4 clients, the 3rd waits for a slot, all served"
        stop_server
        t_is "$EXIT_STATUS" 0 "$mode --max-conns server exits 0"
    else
        fail "$mode max server"
        t_skip 1 "no server"
    fi
done

t_done
