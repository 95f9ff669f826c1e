#!/bin/sh
# http_idle.sh - 10,000 idle keep-alive connections to "nettool serve http
# -m async": each got a file and stays open; the server's VmRSS may grow by
# less than 2 KB a connection (nginx needs ~1 KB), since a kept connection
# waits with no coroutine stack and no buffers; then every one of them is
# served once more.
. "${top_srcdir:-.}/tests/lib.sh"
HC="$PY ${top_srcdir:-.}/tests/httpclient.py"
N=${HTTP_IDLE_CONNS:-10000}

ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" -lt $((N + 200)) ]; then
    t_skip 2 "ulimit -n is $(ulimit -n), $N connections need more"
    t_done
fi

mkdir -p "$T/www"
printf 'hello\n' >"$T/www/a.txt"
real_nettool
# AddressSanitizer keeps freed memory in quarantine: RSS says nothing there.
asan=0
ldd "$REAL_NETTOOL" 2>/dev/null | grep -q libasan && asan=1

if ! start_server idle http "$T/www" -m async -l 127.0.0.1:0 --no-log; then
    fail "server did not start"
    t_done
fi
out=$(timeout 200 $HC idle "$SRV_ADDR" "$SRV_PID" "$N" /a.txt 2>&1)
per=${out%% *}
served=${out#* }
t_is "$served" yes "$N kept connections each got a file, stayed open, and were all served again"
case $per in
*[!0-9-]*|'') fail "no measurement: $out" ;;
*)
    diag "VmRSS growth: $per bytes per idle keep-alive connection"
    if [ "$asan" = 1 ]; then
        t_skip 1 "AddressSanitizer build: RSS counts its quarantine"
    else
        t_ok $(( per < 2048 ? 0 : 1 )) "an idle keep-alive connection costs $per bytes of server memory (< 2048)"
    fi ;;
esac
stop_server
t_is "$EXIT_STATUS" 0 "the server exits 0 on SIGTERM with them open"
t_done
