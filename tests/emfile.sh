#!/bin/sh
# emfile.sh - a server out of descriptors (ulimit -n 64; thread and async
# modes) held by 200 silent connections: it must not spin on EMFILE (its CPU
# time stays low), must not exit, and serves a fresh client once the flood
# is gone.
. "${top_srcdir:-.}/tests/lib.sh"
NC="$PY ${top_srcdir:-.}/tests/netclient.py"

TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

for mode in thread async; do
    log=$T/srv-$mode.log
    (ulimit -n 64 && exec "$NETTOOL" serve echo -m "$mode" --max-conns 500 -l 127.0.0.1:0) 2>"$log" &
    SRV_PID=$!
    echo "$SRV_PID" >>"$T/pids"
    if ! wait_for 10 grep -q 'listening on' "$log"; then
        fail "$mode: server under ulimit -n 64 starts: $(cat "$log")"
        continue
    fi
    SRV_ADDR=$(grep 'listening on' "$log" | head -n 1 | awk '{print $NF}')
    pass "$mode: server under ulimit -n 64 started on $SRV_ADDR"
    lim=$(awk '/Max open files/ {print $4}' "/proc/$SRV_PID/limits")
    t_is "$lim" 64 "$mode: its descriptor limit is 64"

    ticks=$(timeout 60 $NC flood "$SRV_ADDR" "$SRV_PID" 200 2)
    t_ok $? "$mode: 200 connections opened and held for 2 s"
    diag "$mode: server CPU over the hold: ${ticks:-?} ticks (CLK_TCK $TCK)"
    [ -n "$ticks" ] && [ "$ticks" -lt "$TCK" ]
    t_ok $? "$mode: the server does not spin on EMFILE (< 1 s of CPU in 2 s)"

    alive "$SRV_PID"
    t_ok $? "$mode: the server is still running after the flood"

    # Once the flood is gone, a fresh client is served (retry while the
    # server closes the flood's connections).
    echo_served_within "$SRV_ADDR" 15
    served=$?
    t_ok $served "$mode: after the flood a fresh echo client is served"
    stop_server
    t_is "$EXIT_STATUS" 0 "$mode: the server exits 0 on SIGTERM"
    grep -qi 'too many\|EMFILE' "$log"
    t_ok $? "$mode: the server said that accept ran out of descriptors"
    n=$(grep -ci 'too many\|EMFILE' "$log")
    [ "$n" -le 3 ]
    t_ok $? "$mode:   without flooding its log ($n lines)"
done

t_done
