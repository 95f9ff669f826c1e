#!/bin/sh
# serve_files.sh - "nettool serve files" and "nettool download" end to end: a 5 MB
# random file byte-identical in every mode; every refusal of the path rules
# (and the links that stay inside, which are allowed) with the server still
# serving after each; garbage, NUL bytes, an overlong line and a client
# leaving mid-body; --sha256; a transfer cut off by the server or by kill -9
# of the client, resumed with -c for only the rest (counted by the server);
# a file changed between the two runs restarting instead of splicing; a
# server announcing a wrong sum; a full disk; the progress bar on a
# terminal only; the usage errors.
. "${top_srcdir:-.}/tests/lib.sh"

# Downloads run in $T/dl: NETTOOL must not depend on the directory.
case $NETTOOL in /*) ;; *) NETTOOL=$(pwd)/$NETTOOL ;; esac

D=$T/srv
mkdir -p "$D/sub" "$T/dl"
head -c 5242880 /dev/urandom >"$D/big"
printf 'hello\n' >"$D/sub/small"
printf 'secret\n' >"$T/outside.txt"
ln -s big "$D/inlink"
ln -s ../big "$D/sub/up"
ln -s /etc/passwd "$D/abs"
ln -s ../outside.txt "$D/esc"
ln -s .. "$D/sub/parent"
ln -s .. "$D/above"
mkfifo "$D/fifo"
SIZE=5242880
SUM=$(sha256sum "$D/big" | cut -d ' ' -f 1)

# dl ADDR ARGS...: nettool download in $T/dl, stdout/stderr to $T/dl.out
# and $T/dl.err; sets RC.
dl() {
    _a=$1
    shift
    (cd "$T/dl" && exec timeout 60 "$NETTOOL" download "$_a" "$@" </dev/null \
        >"$T/dl.out" 2>"$T/dl.err")
    RC=$?
}

# leftovers NAME: the names of NAME, NAME.part and NAME.part.meta that exist in $T/dl.
leftovers() {
    _l=
    for _f in "$1" "$1.part" "$1.part.meta"; do
        [ -e "$T/dl/$_f" ] && _l="$_l $_f"
    done
    echo "$_l"
}

# size_at_least FILE N
size_at_least() { [ -f "$1" ] && [ "$(stat -c %s "$1")" -ge "$2" ]; }

# raw ADDR PYBYTES N [eof|vanish|halfclose]: sends the bytes (a Python
# expression), reads N replies (a body after each OK, as long as its SIZE)
# and prints one line for each: "OK SIZE" or the ERR line; then with eof,
# "EOF" if the server closes (or "OPEN" if it does not within 5 s).
# vanish: reads the first reply line and 1000 bytes of body, then leaves.
# halfclose: sends, shuts its side and prints "EOF" when the server ends.
raw() {
    timeout 30 "$PY" - "$@" <<'EOF'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
data = eval(sys.argv[2])
want = int(sys.argv[3])
how = sys.argv[4] if len(sys.argv) > 4 else ""
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(data)
if how == "halfclose":
    s.shutdown(socket.SHUT_WR)
f = s.makefile("rb")
if how == "vanish":
    line = f.readline(1024)
    f.read(1000)
    print(line.decode("latin-1").split(" ")[0], "VANISHED")
    s.close()
    sys.exit(0)
for i in range(want):
    line = f.readline(100000)
    if not line.endswith(b"\n"):
        print("EOF")
        sys.exit(0)
    line = line.rstrip(b"\r\n").decode("latin-1")
    if line.startswith("OK "):
        size = int(line.split(" ")[1])
        body = f.read(size)
        print("OK %d%s" % (size, "" if len(body) == size else " short"))
    else:
        print(line)
if how in ("eof", "halfclose"):
    s.settimeout(5)
    try:
        print("EOF" if f.read(1) == b"" else "DATA")
    except socket.timeout:
        print("OPEN")
    except OSError:
        print("EOF")
EOF
}

# ---------------------------------------------------------- every mode
for mode in sync thread fork async; do
    if start_server "files-$mode" files "$D" -m "$mode" -l 127.0.0.1:0; then
        dl "$SRV_ADDR" big
        cmp -s "$D/big" "$T/dl/big"
        t_ok $? "$mode: 5 MB random file downloaded byte-identical (exit $RC) $(head -n 1 "$T/dl.err")"
        t_is "$(cat "$T/dl.err")" "" "$mode: nothing on stderr when it is not a terminal"
        t_is "$(leftovers big)" " big" "$mode: no .part or .part.meta left behind"
        rm -f "$T/dl/big"
        stop_server
        t_is "$EXIT_STATUS" 0 "$mode: the server exits 0 on SIGTERM"
    else
        fail "$mode: files server starts"
        t_skip 3 "no server"
    fi
done

# ------------------------------------------------------- path rules
if ! start_server main files "$D" -m async -w 2 -l 127.0.0.1:0; then
    fail "files server for the path rules"
    t_done
fi
ADDR=$SRV_ADDR

# still_serving DESC: a fresh download of sub/small works.
still_serving() {
    rm -f "$T/dl/alive"
    dl "$ADDR" sub/small -o alive
    cmp -s "$D/sub/small" "$T/dl/alive"
    t_ok $? "  ...and the server still serves after $1"
}

# refused NAME CODE DESC: download fails with exit 1 and one line naming
# the server's CODE, leaves no file behind, and the server serves on.
refused() {
    rm -f "$T/dl/x"
    dl "$ADDR" "$1" -o x
    _first=$(head -n 1 "$T/dl.err")
    _why=
    [ "$RC" -eq 1 ] || _why="$_why exit $RC;"
    [ "$(wc -l <"$T/dl.err" | tr -d ' ')" -eq 1 ] || _why="$_why not one line;"
    case $_first in
    "nettool download: "*": server: $2 "*) ;;
    *) _why="$_why no '$2' in the line;" ;;
    esac
    [ -z "$(leftovers x)" ] || _why="$_why left$(leftovers x);"
    t_is "$_why" "" "$3 -> $_first"
    still_serving "$3"
}

refused ../outside.txt 403 "'..' out of the directory"
refused sub/../big 403 "'..' even where it would stay inside"
refused /etc/passwd 403 "an absolute name"
refused abs 403 "a link to /etc/passwd"
refused esc 403 "a link to ../outside.txt"
refused above/outside.txt 403 "a link to '..' of the top directory"
refused sub 409 "a directory"
refused fifo 409 "a FIFO (the server does not wait for a writer)"
refused missing 404 "a missing file"
refused sub/small/x 404 "a path through a regular file"
refused "$(printf '%05000d' 0)" 414 "a 5000-byte name"
refused "sub/$(printf '%0300d' 0)" 414 "a 300-byte part of a name"

for n in inlink sub/up sub/parent/big; do
    rm -f "$T/dl/ok"
    dl "$ADDR" "$n" -o ok
    cmp -s "$D/big" "$T/dl/ok"
    t_ok $? "a link that stays inside the directory ($n) is followed (exit $RC)"
done
printf 'spaced\n' >"$D/sub/a b%c"
rm -f "$T/dl/sp"
dl "$ADDR" "sub/a b%c" -o sp
cmp -s "$D/sub/a b%c" "$T/dl/sp"
t_ok $? "a name with a space and a '%' travels percent-encoded (exit $RC)"

# ------------------------------------------------------- bad input
out=$(raw "$ADDR" 'b"GET a\x00b\nGET sub/small\n"' 2 | tr '\n' '|')
t_is "$out" "ERR 400 NUL byte in the request|OK 6|" "a raw NUL byte: ERR 400, the connection goes on"
out=$(raw "$ADDR" 'b"GET a%00b\nGET sub/small\n"' 2 | tr '\n' '|')
t_is "$out" "ERR 400 NUL byte in the name|OK 6|" "an encoded NUL (%00): ERR 400, the connection goes on"
out=$(raw "$ADDR" 'b"\xff\xfe garbage\r\nHELLO\n\nGET sub/small\n"' 4 | cut -c 1-7 | tr '\n' '|')
t_is "$out" "ERR 400|ERR 400|ERR 400|OK 6|" "garbage, an unknown word, an empty line: ERR 400 each, then served"
out=$(raw "$ADDR" 'b"GET " + b"a" * 10000 + b"\nGET sub/small\n"' 1 eof | tr '\n' '|')
t_is "$out" "ERR 414 request line too long|EOF|" "a 10000-byte line: ERR 414, then the server closes"
out=$(raw "$ADDR" 'b"GET sub/small\nGET big\nGET sub/small\nGET big\n"' 4 | tr '\n' '|')
t_is "$out" "OK 6|OK $SIZE|OK 6|OK $SIZE|" "four pipelined requests, each answered in order"
out=$(raw "$ADDR" 'b"GET sub/sm"' 0 halfclose | tr '\n' '|')
t_is "$out" "EOF|" "a line cut off by the client's end: no reply, the connection ends"
out=$(raw "$ADDR" 'b"GET big\n"' 0 vanish)
t_is "$out" "OK VANISHED" "a client that leaves 1000 bytes into a 5 MB body"
still_serving "the client vanished mid-body"

# ------------------------------------------------------- --sha256
dl "$ADDR" big -o s1 --sha256 "$(printf '%064d' 0)"
t_is "$RC" 1 "--sha256 wrong: exit 1"
grep -q 'SHA-256 mismatch' "$T/dl.err"
t_ok $? "  one line says so: $(cat "$T/dl.err")"
t_is "$(leftovers s1)" "" "  no file, no .part, no .part.meta"
dl "$ADDR" big -o s2 --sha256 "$(echo "$SUM" | tr a-f A-F)"
cmp -s "$D/big" "$T/dl/s2"
t_ok $? "--sha256 right (in upper case): downloaded (exit $RC)"
stop_server

# ------------------------------------------------------- resume
# Fake servers speak the protocol with the real file's size and sum, but
# send only the first part of it: one then waits for the client to leave,
# the other hangs up.
STALL="IFS= read -r line; printf 'OK %s %s\n' $SIZE $SUM; head -c 1048576 '$D/big'; exec cat >/dev/null"
CUT="IFS= read -r line; printf 'OK %s %s\n' $SIZE $SUM; head -c 2097152 '$D/big'"

if start_server stall exec -m fork -l 127.0.0.1:0 -- sh -c "$STALL"; then
    STALL_PID=$SRV_PID
    (cd "$T/dl" && exec "$NETTOOL" download "$SRV_ADDR" big -o r1 </dev/null 2>"$T/r1.err") &
    CL=$!
    echo "$CL" >>"$T/pids"
    wait_for 20 size_at_least "$T/dl/r1.part" 1048576
    t_ok $? "interrupted: the .part reaches 1 MiB while the server stalls"
    # Meanwhile a second download of the same file must not write into it.
    dl "$SRV_ADDR" big -o r1
    t_is "$RC" 1 "  a second download into the same .part: exit 1"
    grep -q 'another download is writing it' "$T/dl.err"
    t_ok $? "  because: $(cat "$T/dl.err")"
    kill -KILL "$CL"
    wait "$CL" 2>/dev/null
    t_is "$(leftovers r1)" " r1.part r1.part.meta" "kill -9 of the client leaves r1.part and r1.part.meta"
    t_is "$(stat -c %s "$T/dl/r1.part")" 1048576 "  the .part holds the 1 MiB received"
    SRV_PID=$STALL_PID
    stop_server
else
    fail "stalling server"
fi

if start_server cut exec -m fork -l 127.0.0.1:0 -- sh -c "$CUT"; then
    dl "$SRV_ADDR" big -o r2
    t_is "$RC" 1 "a server that hangs up mid-file: exit 1"
    grep -q 'connection closed after 2097152 of 5242880 bytes.*r2.part is kept' "$T/dl.err"
    t_ok $? "  one line says so: $(cat "$T/dl.err")"
    t_is "$(leftovers r2)" " r2.part r2.part.meta" "  r2.part and its .meta are kept, no r2"
    stop_server
else
    fail "cutting server"
fi

for r in r1:1048576 r2:2097152; do
    f=${r%%:*} at=${r#*:}
    rest=$((SIZE - at))
    if start_server "resume-$f" files "$D" -m thread -l 127.0.0.1:0 -v; then
        dl "$SRV_ADDR" big -o "$f" -c -v
        cmp -s "$D/big" "$T/dl/$f"
        t_ok $? "-c completes $f byte-identical (exit $RC)"
        grep -q "received $rest bytes from offset $at," "$T/dl.err"
        t_ok $? "  the client received only the rest: $(cat "$T/dl.err")"
        t_is "$(leftovers "$f")" " $f" "  no .part or .meta left"
        stop_server
        grep -q "1 requests (1 OK), .* $rest bytes sent" "$SRV_LOG"
        t_ok $? "  the server sent only the rest: $(grep 'bytes sent' "$SRV_LOG")"
    else
        fail "resume server"
        t_skip 3 "no server"
    fi
done

# The file changes on the server between the two runs: -c starts again.
cp "$D/big" "$D/big2"
CUT2="IFS= read -r line; printf 'OK %s %s\n' $SIZE $SUM; head -c 2097152 '$D/big2'"
if start_server cut2 exec -m fork -l 127.0.0.1:0 -- sh -c "$CUT2"; then
    dl "$SRV_ADDR" big2 -o r3
    stop_server
fi
size_at_least "$T/dl/r3.part" 2097152 && [ -e "$T/dl/r3.part.meta" ]
t_ok $? "changed: a first run leaves 2 MiB of the old big2 in r3.part"
head -c "$SIZE" /dev/urandom >"$D/big2.new"
mv "$D/big2.new" "$D/big2"
if start_server changed files "$D" -m async -l 127.0.0.1:0; then
    dl "$SRV_ADDR" big2 -o r3 -c -v
    cmp -s "$D/big2" "$T/dl/r3"
    t_ok $? "  -c against the changed big2: the new file, byte-identical (exit $RC)"
    grep -q 'changed on the server since this part was started: starting again' "$T/dl.err" &&
        grep -q "received $SIZE bytes from offset 0," "$T/dl.err"
    t_ok $? "  it started again from 0 instead of splicing: $(tr '\n' '/' <"$T/dl.err")"
    # A .part with no record of its version is not trusted either.
    head -c 1000 /dev/urandom >"$T/dl/r4.part"
    dl "$SRV_ADDR" big -o r4 -c -v
    cmp -s "$D/big" "$T/dl/r4"
    t_ok $? "-c with a .part but no .part.meta: starts again, right file (exit $RC)"
    grep -q 'no record of which version' "$T/dl.err"
    t_ok $? "  and says so: $(head -n 1 "$T/dl.err")"
    stop_server
else
    fail "server for the changed file"
    t_skip 3 "no server"
fi

# A server that announces a wrong sum: the bytes do not match it.
LIE="IFS= read -r line; printf 'OK %s %s\n' $SIZE $(printf '%064d' 0); cat '$D/big'"
if start_server lie exec -m fork -l 127.0.0.1:0 -- sh -c "$LIE"; then
    dl "$SRV_ADDR" big -o lie
    t_is "$RC" 1 "a wrong sum from the server: exit 1"
    grep -q "SHA-256 mismatch: the bytes received hash to $SUM" "$T/dl.err"
    t_ok $? "  one line says so: $(cat "$T/dl.err")"
    t_is "$(leftovers lie)" "" "  no file, no .part, no .part.meta"
    stop_server
else
    fail "lying server"
    t_skip 2 "no server"
fi

# ------------------------------------------------------- disk full
if start_server full files "$D" -m sync -l 127.0.0.1:0; then
    # A private mount namespace: the 1 MiB tmpfs goes with the process.
    if [ "$(id -u)" = 0 ]; then ns="unshare -m"; else ns="unshare -rm"; fi
    $ns true 2>/dev/null || ns="false"
    mkdir -p "$T/small"
    timeout 60 $ns sh -c 'mount -t tmpfs -o size=1m tmpfs "$1" || exit 99
        cd "$1" && "$2" download "$3" big 2>"$4"; rc=$?
        ls -A "$1" >"$5"; exit $rc' full "$T/small" "$NETTOOL" "$SRV_ADDR" "$T/full.err" \
        "$T/full.ls" 2>/dev/null
    rc=$?
    if [ "$ns" = false ] || [ "$rc" -eq 99 ]; then
        t_skip 3 "cannot mount a small tmpfs here (no private mount namespace)"
    else
        t_is "$rc" 1 "disk full: exit 1"
        grep -q 'big.part: write: No space left on device' "$T/full.err" &&
            [ "$(wc -l <"$T/full.err" | tr -d ' ')" -eq 1 ]
        t_ok $? "  one line says so: $(cat "$T/full.err")"
        grep -qx big "$T/full.ls"
        t_is $? 1 "  no file under the final name ($(tr '\n' ' ' <"$T/full.ls"))"
    fi
    stop_server
else
    fail "server for the disk-full case"
fi

# ------------------------------------------------------- progress bar
if command -v script >/dev/null 2>&1 && start_server tty files "$D" -m async -l 127.0.0.1:0; then
    rm -f "$T/dl/big"
    (cd "$T/dl" && timeout 60 script -qec "'$NETTOOL' download '$SRV_ADDR' big" /dev/null \
        >"$T/tty.out" </dev/null)
    grep -q 'big .*100%.*MiB of 5.0 MiB.*/s' "$T/tty.out" && grep -q "$(printf '\r')" "$T/tty.out"
    t_ok $? "on a terminal a progress bar is drawn: $(tr '\r' '\n' <"$T/tty.out" | grep . | tail -n 1)"
    rm -f "$T/dl/big"
    (cd "$T/dl" && timeout 60 script -qec "'$NETTOOL' download '$SRV_ADDR' big -q" /dev/null \
        >"$T/tty.out" </dev/null)
    t_is "$(cat "$T/tty.out")" "" "  and none with -q"
    cmp -s "$D/big" "$T/dl/big"
    t_ok $? "  the file arrived all the same"
    stop_server
else
    t_skip 3 "no script(1) or no server"
fi

# ------------------------------------------------------- usage
usage() { # EXPECTED DESC CMD...
    _e=$1 _d=$2
    shift 2
    timeout 10 "$@" >/dev/null 2>"$T/u.err" </dev/null
    _rc=$?
    t_is "$_rc" "$_e" "$_d: exit $_e ($(head -n 1 "$T/u.err"))"
}
usage 2 "download without NAME" "$NETTOOL" download 127.0.0.1:1
usage 2 "download NAME ending in '/' without -o" "$NETTOOL" download 127.0.0.1:1 sub/
usage 2 "download --sha256 with 63 digits" "$NETTOOL" download 127.0.0.1:1 big --sha256 "$(printf '%063d' 0)"
usage 2 "download with a third operand" "$NETTOOL" download 127.0.0.1:1 big extra
usage 1 "download from nobody" "$NETTOOL" download 127.0.0.1:1 big -o "$T/nobody"
usage 2 "serve files without DIR" "$NETTOOL" serve files
usage 2 "serve files with -u" "$NETTOOL" serve files "$D" -u -l 127.0.0.1:0
usage 1 "serve files with a missing DIR" "$NETTOOL" serve files "$T/nonexistent" -l 127.0.0.1:0
t_is "$(ls "$T" | grep -c nobody)" 0 "a failed download leaves no nobody.part behind"

t_done
