#!/bin/sh
# serve_exec.sh - "nettool serve exec" (inetd-style): a 5 MB binary round
# trip through cat, EOF reaching the program on half-close while its output
# still flows, the program's exit closing the connection, and no server
# descriptor leaking into the program.
. "${top_srcdir:-.}/tests/lib.sh"
NC="$PY ${top_srcdir:-.}/tests/netclient.py"

head -c 5242880 /dev/urandom >"$T/rand"

for mode in fork thread async; do
    if start_server "cat-$mode" exec -m "$mode" -l 127.0.0.1:0 -- cat; then
        timeout 60 "$NETTOOL" echo "$SRV_ADDR" --timeout 20 <"$T/rand" >"$T/out" 2>"$T/err"
        rc=$?
        cmp -s "$T/rand" "$T/out"
        t_ok $? "$mode: exec cat: 5 MB of random bytes round trip byte-exact (exit $rc) $(cat "$T/err")"
        stop_server
        t_is "$EXIT_STATUS" 0 "$mode: exec server exits 0 on SIGTERM"
    else
        fail "$mode: exec cat server"
        t_skip 1 "no server"
    fi
done

# The program sees EOF when the client half-closes, and its later output
# still reaches the client.
if start_server catdone exec -m fork -l 127.0.0.1:0 -- sh -c 'cat; echo done'; then
    out=$(printf 'data\n' | timeout 10 "$NETTOOL" echo "$SRV_ADDR" --timeout 5)
    t_is "$out" "data
done" "half-close: PROG reads EOF, its output after that still arrives"
    stop_server
else
    fail "catdone server"
fi

# The program's exit closes the connection, even with the client's side
# still open.
if start_server hi exec -m fork -l 127.0.0.1:0 -- echo hi; then
    out=$(timeout 10 $NC hold "$SRV_ADDR")
    t_ok $? "PROG's exit closes the connection (client holding its side open gets EOF)"
    t_is "$out" "hi" "  after PROG's output"
    stop_server
else
    fail "hi server"
    t_skip 1 "no server"
fi

# PROG inherits no descriptor of the server: ls sees 0 1 2 and its own.
for mode in fork thread async; do
    if start_server "fds-$mode" exec -m "$mode" -l 127.0.0.1:0 -- sh -c 'ls /proc/self/fd'; then
        out=$(timeout 10 "$NETTOOL" echo "$SRV_ADDR" --timeout 5 </dev/null | sort -n | tr '\n' ' ')
        t_is "$out" "0 1 2 3 " "$mode: PROG gets only stdin, stdout, stderr (ls adds its own 3)"
        stop_server
    else
        fail "$mode: fds server"
    fi
done

t_done
