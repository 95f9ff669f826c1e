#!/bin/sh
# get.sh - "nettool get" end to end: against tests/getserver.py (chunks
# split across writes, close-delimited and HTTP/1.0 bodies, garbage, a
# stall, a body cut short, redirect chains and loops, 503 + Retry-After,
# ETags), against "nettool serve http" (keep-alive, resume, -s split and
# -c beside a bad FILE.part.journal or FILE.part,
# -j with good and bad URLs) and against nginx over HTTPS with a CA made
# here (trusted, untrusted and wrong-name certificates, http <-> https
# redirects).  Each failure kind has its exit code.
T_LIMIT=240
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/nginx_lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
G() { timeout 60 "$NETTOOL" get "$@"; }

# ------------------------------------------------------------ the servers
"$PY" "${top_srcdir:-.}/tests/getserver.py" >"$T/gs.port" 2>"$T/gs.err" &
echo $! >>"$T/pids"
wait_for 10 test -s "$T/gs.port" || { fail "getserver.py started: $(cat "$T/gs.err")"; t_done; }
S=http://127.0.0.1:$(cat "$T/gs.port")
pass "the scripted server listens at $S"

W=$T/www
mkdir -p "$W" "$T/o"
head -c 3000000 /dev/urandom >"$W/big.bin"
printf 'small file\n' >"$W/small.txt"
for i in $(seq 1 20); do printf 'file %d\n' "$i" >"$W/f$i.txt"; done
start_server http http "$W" -l 127.0.0.1:0 || { fail "serve http started"; t_done; }
H=http://$SRV_ADDR
pass "serve http listens at $H"

# pat N: N bytes of the scripted server's pattern
pat() { "$PY" -c 'import sys; n=int(sys.argv[1]); sys.stdout.buffer.write(bytes((((i*7)+(i//251))%26)+97 for i in range(n)))' "$1"; }

# ------------------------------------------------------------ framings
for kind in data chunked close http10; do
    for n in 0 1 100000; do
        [ "$kind" = chunked ] && [ "$n" = 0 ] && continue
        G -q "$S/$kind/$n" >"$T/o/$kind.$n" 2>"$T/err"
        rc=$?
        pat "$n" >"$T/want"
        cmp -s "$T/want" "$T/o/$kind.$n"
        t_ok $(( rc + $? )) "$kind body of $n bytes to stdout, byte for byte (exit $rc $(cat "$T/err"))"
    done
done
G -q -o "$T/o/c.bin" "$S/chunked/300000"
pat 300000 | cmp -s - "$T/o/c.bin"
t_ok $? "-o: a chunked body of 300000 bytes (chunk lines split across reads) to a file"
ls "$T/o" | grep -q '\.part$'
t_ok $(( ! $? )) "no .part is left behind"

mkfifo "$T/o/fifo"
cat "$T/o/fifo" >"$T/o/fromfifo" &
G -q -o "$T/o/fifo" "$S/data/5000"
rc=$?
wait $!
pat 5000 | cmp -s - "$T/o/fromfifo" && [ -p "$T/o/fifo" ] && [ ! -e "$T/o/fifo.part" ]
t_ok $(( rc + $? )) "-o FIFO (as /dev/null): written straight, never renamed over"

# keep-alive: several URLs of one host on one connection
before=$(G -q "$S/conns")
out=$(G -q "$S/data/10" "$S/chunked/10" "$S/data/5" "$S/conns")
t_is "$out" "$(pat 10)$(pat 10)$(pat 5)$((before + 1))" "four URLs of one host on one kept connection"

# ------------------------------------------------------------ headers, HEAD
G -q -i "$S/data/3" >"$T/o/i"
pat 3 >"$T/want3"
tail -c 3 "$T/o/i" | cmp -s - "$T/want3" && head -n 1 "$T/o/i" | grep -q '^HTTP/1.1 200 OK' &&
    grep -q '^Content-Length: 3' "$T/o/i"
t_ok $? "-i: the status line and headers, then the body"
G -q -I "$H/small.txt" >"$T/o/I"
grep -q '^Content-Length: 11' "$T/o/I" && ! grep -q 'small file' "$T/o/I"
t_ok $? "-I: a HEAD request prints the headers and no body"
G -q -H 'X-One: 1' -A 'agent/7' "$S/nothing" >/dev/null
t_ok $? "a 404 without -f: exit 0"
G -q -f -o "$T/o/nf" "$S/nothing" 2>"$T/err"
rc=$?
t_is "$rc" 22 "a 404 with -f: exit 22 ($(cat "$T/err"))"
[ ! -e "$T/o/nf" ] && [ ! -e "$T/o/nf.part" ]
t_ok $? "-f: nothing written"

# ------------------------------------------------------------ redirects
out=$(G -q -L "$S/redir/4")
t_is "$out" "arrived" "-L follows a chain of 4 relative redirects"
G -q "$S/redir/1" >/dev/null
t_ok $? "without -L the redirect itself is the answer (exit 0)"
G -q -L "$S/loop" 2>"$T/err" >/dev/null
rc=$?
t_is "$rc" 10 "a redirect loop: exit 10 ($(cat "$T/err"))"
G -q -L --max-redirs 2 "$S/redir/4" 2>"$T/err" >/dev/null
rc=$?
t_is "$rc" 10 "more than --max-redirs: exit 10 ($(cat "$T/err"))"
hostport=${H#http://}
out=$(G -q -L "$S/to/http_$hostport/small.txt")
t_is "$out" "small file" "an absolute redirect to another server"

# ------------------------------------------------------------ errors
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
G -q "http://127.0.0.1:$port/" 2>"$T/err"
t_is "$?" 4 "connection refused: exit 4 ($(cat "$T/err"))"
G -q "http://no-such-host.invalid/" 2>"$T/err"
t_is "$?" 3 "a name that does not resolve: exit 3 ($(cat "$T/err"))"
G -q "ftp://example.com/x" 2>"$T/err"
rc=$?
grep -q 'only http:// and https://' "$T/err"
t_is "$rc$?" 20 "ftp: is a usage error (exit 2): $(cat "$T/err")"
G -q "not a url" 2>"$T/err"
t_is "$?" 2 "garbage is a usage error: $(cat "$T/err")"
G -q "$S/malformed" 2>"$T/err" >/dev/null
t_is "$?" 7 "a malformed response: exit 7 ($(cat "$T/err"))"
t0=$(date +%s)
G -q -m 1 -o "$T/o/stall" "$S/stall" 2>"$T/err"
rc=$?
t_is "$rc" 5 "a stalled server: -m 1 gives up with exit 5 ($(cat "$T/err"), $(( $(date +%s) - t0 )) s)"
[ ! -e "$T/o/stall" ]
t_ok $? "the stalled download left no final file"
G -q --timeout 0.5 "$S/stall" 2>"$T/err" >/dev/null
t_is "$?" 5 "--timeout: a silent server times out too"
G -q -o "$T/o/cut" "$S/cut/100000" 2>"$T/err"
rc=$?
t_is "$rc" 7 "a body cut short: exit 7 ($(cat "$T/err"))"
[ ! -e "$T/o/cut" ] && [ -s "$T/o/cut.part" ]
t_ok $? "no final file, the part kept for -c"
mkdir "$T/o/ro" && chmod 500 "$T/o/ro"
if [ "$(id -u)" != 0 ]; then
    G -q -o "$T/o/ro/x" "$S/data/10" 2>"$T/err"
    t_is "$?" 8 "an unwritable output: exit 8 ($(cat "$T/err"))"
else
    G -q -o /proc/version/x "$S/data/10" 2>"$T/err"
    t_is "$?" 8 "an unwritable output: exit 8 ($(cat "$T/err"))"
fi

# ------------------------------------------------------------ resume
head -c 1000000 "$W/big.bin" >"$T/o/big.bin.part"
G -q -c -o "$T/o/big.bin" "$H/big.bin"
cmp -s "$W/big.bin" "$T/o/big.bin" && [ ! -e "$T/o/big.bin.part" ]
t_ok $? "-c resumes its own FILE.part with a Range request"
grep -q '"GET /big.bin HTTP/1.1" 206' "$SRV_LOG"
t_ok $? "the server answered that with 206"
head -c 2000000 "$W/big.bin" >"$T/o/big2.bin"
G -q -c -o "$T/o/big2.bin" "$H/big.bin"
cmp -s "$W/big.bin" "$T/o/big2.bin"
t_ok $? "-c continues a short file left under the final name (as curl -C - and wget -c)"
G -q -c -o "$T/o/big2.bin" "$H/big.bin"
cmp -s "$W/big.bin" "$T/o/big2.bin"
t_ok $? "-c on a complete file: 416, and it stays complete"

# ------------------------------------------------------------ progress
# ptyrun CMD...: CMD with stderr on a pseudo-terminal; prints what it drew.
ptyrun() {
    "$PY" - "$@" <<'EOF'
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=s)
os.close(s)
out = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
p.wait()
sys.stdout.write(repr(out))
sys.exit(p.returncode)
EOF
}
out=$(ptyrun "$NETTOOL" get -o "$T/o/tty.bin" "$H/big.bin")
rc=$?
case $out in *'\r'*'100%'*'2.9 MiB'*) ok=0 ;; *) ok=1 ;; esac
t_ok $(( rc + ok )) "a progress bar (percentage, bytes) on a terminal: $(printf '%s' "$out" | cut -c1-90)"
out=$(ptyrun "$NETTOOL" get -q -o "$T/o/tty.bin" "$H/big.bin")
t_is "$out" "b''" "-q: no progress bar"

# ------------------------------------------------------------ split, sha256, etag
sum=$(sha256sum "$W/big.bin" | cut -d' ' -f1)
G -q -s 4 --sha256 "$sum" -o "$T/o/split.bin" "$H/big.bin"
rc=$?
cmp -s "$W/big.bin" "$T/o/split.bin"
t_ok $(( rc + $? )) "-s 4: one file over 4 ranged connections, reassembled in place, --sha256 checked"
n206=$(grep -c '"GET /big.bin HTTP/1.1" 206' "$SRV_LOG")
[ "$n206" -ge 5 ]
t_ok $? "the split made ranged requests ($n206 206s in the log)"
G -q -s 3 -o "$T/o/split2.bin" "$S/data/2000000"
pat 2000000 | cmp -s - "$T/o/split2.bin"
t_ok $? "-s 3 against the scripted server too"

# A split that fails midway keeps FILE.part and its journal; -c then
# fetches only what is missing, part by part.
N=3000000
G -q -s 4 -o "$T/o/sc.bin" "$S/splitcut/$N" 2>"$T/err"
rc=$?
t_ok "$([ "$rc" -ne 0 ] && [ ! -e "$T/o/sc.bin" ]; echo $?)" "-s 4 cut midway: an error, no final file (exit $rc)"
t_ok "$([ -f "$T/o/sc.bin.part" ] && [ -f "$T/o/sc.bin.part.journal" ] && grep -q -- 'journal: -c resumes it' "$T/err"; echo $?)" \
    "  FILE.part and FILE.part.journal kept, and the message says -c resumes it ($(cut -c1-120 "$T/err"))"
sent1=$(curl -s "$S/sent")
G -q -c -o "$T/o/sc.bin" "$S/splitcut/$N" 2>"$T/err"
rc=$?
pat $N | cmp -s - "$T/o/sc.bin"
t_ok $(( rc + $? )) "-c after it: the whole file, byte for byte ($(cat "$T/err"))"
sent2=$(curl -s "$S/sent0")
t_is "$sent2" "$N" "  the two runs together fetched the file once ($sent1, then $((sent2 - sent1)) bytes)"
t_ok "$([ ! -e "$T/o/sc.bin.part" ] && [ ! -e "$T/o/sc.bin.part.journal" ]; echo $?)" \
    "  no FILE.part or journal left"

# kill -9 while a part stalls: the parts done before are in the journal.
jdone() {
    $PY -c 'import sqlite3, struct, sys
c = sqlite3.connect(sys.argv[1])
print(sum(1 for (v,) in c.execute("select stamp from done where key like ?", ("part/%",))
          if struct.unpack("qqq", v)[1] == struct.unpack("qqq", v)[2] + 1))' "$1" 2>/dev/null
}
jthree() { [ "$(jdone "$T/o/ss.bin.part.journal")" = 3 ]; }
"$NETTOOL" get -q -s 4 -o "$T/o/ss.bin" "$S/splitstall/$N" 2>"$T/err" &
pid=$!
wait_for 20 jthree
t_ok $? "-s 4 with one part stalled: the journal lists the 3 others as done"
kill -KILL "$pid"
wait "$pid"
t_is "$?" 137 "  killed with SIGKILL"
G -q -c -o "$T/o/ss.bin" "$S/splitstall/$N" 2>"$T/err"
rc=$?
pat $N | cmp -s - "$T/o/ss.bin"
t_ok $(( rc + $? )) "-c after the kill: the whole file, byte for byte ($(cat "$T/err"))"
sent=$(curl -s "$S/sent0")
t_is "$sent" $((N + N / 8)) "  fetching the 3 done parts once and the stalled one again ($sent bytes)"

# -c beside a FILE.part.journal that is not a journal (garbage, empty, a
# real one cut short, a symbolic link), or a FILE.part that is not the one its journal was
# made with (cut short): nothing is taken from them.  One warning line
# names the journal and the problem, the whole file is fetched again, its
# right bytes end under the final name, nothing is left beside it.
# badj NAME URL WHY WANT: get -c of URL into $T/o/NAME (its .part and
# journal set up before), the warning's middle WHY, the bytes wanted WANT.
badj() {
    G -q -s 4 -c -o "$T/o/$1" "$2" 2>"$T/err"
    rc=$?
    cmp -s "$4" "$T/o/$1"
    t_ok $(( rc + $? )) "$1: get -c: exit 0, the whole file byte for byte (exit $rc)"
    t_is "$(cat "$T/err")" \
        "nettool get: warning: $T/o/$1.part.journal: $3; $T/o/$1 is fetched from the start" \
        "  one warning line naming the journal and the problem"
    t_ok "$([ ! -e "$T/o/$1.part" ] && [ ! -e "$T/o/$1.part.journal" ]; echo $?)" \
        "  no FILE.part or journal left"
}
head -c 3000000 /dev/zero >"$T/o/gj.bin.part"
head -c 5000 /dev/urandom >"$T/o/gj.bin.part.journal"
badj gj.bin "$H/big.bin" "file is not a database; not a journal" "$W/big.bin"
head -c 3000000 /dev/zero >"$T/o/zj.bin.part"
: >"$T/o/zj.bin.part.journal"
badj zj.bin "$H/big.bin" "it records no parts of this download" "$W/big.bin"
head -c 3000000 /dev/zero >"$T/o/lj.bin.part"
ln -s "$T/o/elsewhere" "$T/o/lj.bin.part.journal"
badj lj.bin "$H/big.bin" "a symbolic link (not followed); not a journal" "$W/big.bin"
t_ok "$([ ! -e "$T/o/elsewhere" ]; echo $?)" "  a symbolic link as the journal: not followed, nothing made there"
# A split's FILE.part whose journal is gone: its holes are no prefix to
# resume (where the file system reports holes).
truncate -s 3000000 "$T/o/hj.bin.part"
head -c 100000 "$W/big.bin" | dd of="$T/o/hj.bin.part" conv=notrunc 2>/dev/null
if "$PY" -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY)
sys.exit(os.lseek(fd, 0, os.SEEK_HOLE) >= os.fstat(fd).st_size)' "$T/o/hj.bin.part"; then
    G -q -c -o "$T/o/hj.bin" "$H/big.bin" 2>"$T/err"
    rc=$?
    cmp -s "$W/big.bin" "$T/o/hj.bin"
    t_ok $(( rc + $? )) "-c, a FILE.part with holes and no journal: the whole file byte for byte (exit $rc)"
    t_is "$(cat "$T/err")" "nettool get: warning: $T/o/hj.bin.part has holes (a split download's, without its journal); $T/o/hj.bin is fetched from the start" \
        "  one warning line saying why it starts again"
else
    t_skip 2 "this file system does not report holes (SEEK_HOLE)"
fi
pat $N >"$T/want.sc"
# cutsplit NAME: a split of /splitcut cut midway, its .part and journal kept.
cutsplit() {
    curl -s "$S/sent0" >/dev/null
    G -q -s 4 -o "$T/o/$1" "$S/splitcut/$N" 2>/dev/null
    [ -s "$T/o/$1.part.journal" ] && [ -f "$T/o/$1.part" ] && [ ! -e "$T/o/$1" ]
}
cutsplit tj.bin
t_ok $? "a split cut midway keeps a real journal"
js=$(stat -c %s "$T/o/tj.bin.part.journal")
head -c $((js / 2)) "$T/o/tj.bin.part.journal" >"$T/o/half" && mv "$T/o/half" "$T/o/tj.bin.part.journal"
sent1=$(curl -s "$S/sent")
badj tj.bin "$S/splitcut/$N" "database disk image is malformed; not a journal" "$T/want.sc"
t_is "$(( $(curl -s "$S/sent") - sent1 ))" "$N" "  the journal cut to $((js / 2)) of $js bytes: all $N bytes fetched again"
cutsplit pj.bin
truncate -s 1000 "$T/o/pj.bin.part"
sent1=$(curl -s "$S/sent")
badj pj.bin "$S/splitcut/$N" "the .part beside it is not the size it was made with" "$T/want.sc"
t_is "$(( $(curl -s "$S/sent") - sent1 ))" "$N" "  a FILE.part cut short: all $N bytes fetched again, none taken as there"
bad=0000000000000000000000000000000000000000000000000000000000000000
G -q --sha256 "$bad" -o "$T/o/badsum" "$H/big.bin" 2>"$T/err"
rc=$?
t_is "$rc" 9 "--sha256 mismatch: exit 9 ($(cut -c1-80 "$T/err"))"
[ ! -e "$T/o/badsum" ] && [ ! -e "$T/o/badsum.part" ]
t_ok $? "a mismatch leaves no file"
G -q --etag-save "$T/o/etag" -o "$T/o/e1" "$S/etag"
grep -q '"v1"' "$T/o/etag"
t_ok $? "--etag-save keeps the ETag"
rm -f "$T/o/e2"
G --etag-compare "$T/o/etag" -o "$T/o/e2" "$S/etag" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] && [ ! -e "$T/o/e2" ] && grep -q 'not modified' "$T/err"
t_ok $? "--etag-compare: 304, nothing fetched, exit 0 ($(cat "$T/err"))"

# ------------------------------------------------------------ retry
out=$(G -q --retry 3 --retry-delay 5 "$S/retry/a/2")
t_is "$out" "ok after 2" "--retry: two 503s with Retry-After: 0, then the answer (no 5 s waits)"
G -q -f --retry 1 --retry-delay 0.01 "$S/retry/b/5" 2>"$T/err" >/dev/null
t_is "$?" 22 "retries used up: the last 503 fails -f"

# ------------------------------------------------------------ many at once
mkdir -p "$T/o/d"
urls=""
for i in $(seq 1 20); do urls="$urls $H/f$i.txt"; done
G -j 8 -d "$T/o/d" $urls "$H/missing.txt" "http://127.0.0.1:$port/x.txt" "$S/data/7" \
    2>"$T/err"
rc=$?
bad=0
for i in $(seq 1 20); do cmp -s "$W/f$i.txt" "$T/o/d/f$i.txt" || bad=$((bad + 1)); done
t_is "$bad" 0 "-j 8 -d: 20 files each under its own name"
t_is "$rc" 4 "a refused URL among them makes the exit non-zero (4)"
grep -q '23 URLs: 22 fetched, 1 failed' "$T/err"
t_ok $? "a summary line at the end: $(tail -n 1 "$T/err")"
G -q -d "$T/o/d" "$H/f1.txt" "$S/x/f1.txt" 2>"$T/err"
t_is "$?" 2 "two URLs under one name in -d: a usage error ($(head -n 1 "$T/err"))"
G -q -j 4 --json -d "$T/o/d" "$H/f1.txt" "http://127.0.0.1:$port/y" >"$T/o/json" 2>/dev/null
rc=$?
"$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 2, r
assert r[0]["status"] == 200 and r[0]["bytes"] == 7 and r[0]["error"] is None, r[0]
assert r[1]["exit"] == 4 and "refused" in r[1]["error"], r[1]
' "$T/o/json"
t_ok $(( $? + (rc != 4) )) "--json: one record per URL, status, bytes, error; exit $rc"
hold=""
for i in $(seq 1 16); do hold="$hold $S/hold$i"; done
G -q -j 8 --per-host 2 -d "$T/o/d" $hold
out=$(G -q "$S/peak")
[ "$out" -le 2 ]
t_ok $? "--per-host 2 with -j 8: at most 2 requests at the server at once ($out)"

# ------------------------------------------------------------ HTTPS
if ! command -v openssl >/dev/null 2>&1 || [ ! -x "$NGINX" ]; then
    fail "HTTPS needs nginx and openssl (apt-get install nginx openssl)"
    t_done
fi
C=$T/certs
mkdir -p "$C/db"
ossl() { openssl "$@" >>"$C/openssl.log" 2>&1; }
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
ossl req -x509 $ec -keyout "$C/ca.key" -out "$C/ca.crt" -days 2 -subj "/CN=get test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
# leaf NAME SAN: a certificate for SAN signed by the test CA
leaf() {
    ossl req -new $ec -keyout "$C/$1.key" -out "$C/$1.csr" -subj "/CN=$1"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" \
        >"$C/$1.ext"
    ossl x509 -req -in "$C/$1.csr" -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial \
        -days 1 -extfile "$C/$1.ext" -out "$C/$1.crt"
}
leaf good "DNS:localhost,IP:127.0.0.1"
leaf wrong "DNS:wrong.example"
ossl req -x509 $ec -keyout "$C/self.key" -out "$C/self.crt" -days 1 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
for n in good wrong self; do
    [ -s "$C/$n.crt" ] || { fail "test certificate $n: $(tail -n 5 "$C/openssl.log")"; t_done; }
done
chmod -R a+rX "$W" "$C"
chmod a+x "$T"
mkdir -p "$T/nginx"
start_nginx() {
    set -- $(ng_free_ports 3)
    P_GOOD=$1 P_WRONG=$2 P_SELF=$3
    {
        ng_conf_head
        for s in "$P_GOOD good" "$P_WRONG wrong" "$P_SELF self"; do
            set -- $s
            printf '    server {\n        listen 127.0.0.1:%s ssl;\n' "$1"
            printf '        ssl_certificate %s/%s.crt;\n        ssl_certificate_key %s/%s.key;\n' \
                "$C" "$2" "$C" "$2"
            printf '        root %s;\n' "$W"
            printf '        location = /back { return 302 %s/data/5; }\n    }\n' "$S"
        done
        echo "}"
    } >"$T/nginx/nginx.conf"
    ng_start "$P_GOOD" "$P_WRONG" "$P_SELF"
}
started=0
for try in 1 2 3; do
    if start_nginx; then started=1; break; fi
    kill -KILL "$NGINX_PID" 2>/dev/null
done
[ "$started" = 1 ] || { fail "nginx started: $(tail -n 3 "$T/nginx/error.log")"; t_done; }
pass "nginx serves HTTPS with a trusted, a wrong-name and a self-signed certificate"

G -q --cacert "$C/ca.crt" -o "$T/o/tls.bin" "https://localhost:$P_GOOD/big.bin"
rc=$?
cmp -s "$W/big.bin" "$T/o/tls.bin"
t_ok $(( rc + $? )) "https with --cacert: the 3 MB file byte for byte"
out=$(G -q --cacert "$C/ca.crt" "https://127.0.0.1:$P_GOOD/small.txt" "https://127.0.0.1:$P_GOOD/f1.txt")
t_is "$out" "small file
file 1" "https to an IP address, two URLs on one kept TLS connection"
SSL_CERT_FILE=$C/ca.crt G -q "https://localhost:$P_GOOD/small.txt" >/dev/null
t_ok $? "the system store (here SSL_CERT_FILE) is trusted by default"
G -q -o "$T/o/untrusted" "https://localhost:$P_GOOD/small.txt" >"$T/o/stdout" 2>"$T/err"
rc=$?
t_is "$rc" 6 "an untrusted CA: exit 6 ($(cat "$T/err"))"
grep -q 'unable to get local issuer certificate' "$T/err"
t_ok $? "the message names the certificate problem"
[ ! -e "$T/o/untrusted" ] && [ ! -e "$T/o/untrusted.part" ] && [ ! -s "$T/o/stdout" ]
t_ok $? "nothing written to the file or to stdout"
G -q --cacert "$C/ca.crt" "https://localhost:$P_WRONG/small.txt" >"$T/o/stdout" 2>"$T/err"
rc=$?
t_is "$rc" 6 "a wrong-name certificate: exit 6 ($(cat "$T/err"))"
grep -qi 'mismatch' "$T/err" && [ ! -s "$T/o/stdout" ]
t_ok $? "the message says the name does not match, stdout stays empty"
G -q --cacert "$C/ca.crt" "https://localhost:$P_SELF/small.txt" 2>"$T/err" >/dev/null
rc=$?
t_is "$rc" 6 "a self-signed certificate: exit 6 ($(cat "$T/err"))"
out=$(G -q -k "https://localhost:$P_SELF/small.txt")
t_is "$out" "small file" "-k skips verification"
out=$(G -q -L --cacert "$C/ca.crt" "$S/to/https_localhost:$P_GOOD/small.txt")
t_is "$out" "small file" "-L: a redirect from http to https"
out=$(G -q -L --cacert "$C/ca.crt" "https://localhost:$P_GOOD/back")
pat 5 >"$T/want5"
t_is "$out" "$(cat "$T/want5")" "-L: a redirect from https to http"
G -q -j 4 -s 2 --cacert "$C/ca.crt" -o "$T/o/tls2.bin" "https://localhost:$P_GOOD/big.bin"
cmp -s "$W/big.bin" "$T/o/tls2.bin"
t_ok $? "-s 2 over https"

# nettool scrape shares get's client and TLS options: the same checks.
printf '<a href="/one">1</a> <a href="two.html">2</a>\n' >"$W/links.html"
printf '<p>file two</p>\n' >"$W/two.html"
out=$(timeout 60 "$NETTOOL" scrape -q --cacert "$C/ca.crt" "https://localhost:$P_GOOD/links.html" \
    'href="([^"]+)"' -g 1 2>"$T/err")
t_is "$out" "/one
two.html" "scrape over https with --cacert: the links ($(cat "$T/err"))"
timeout 60 "$NETTOOL" scrape -q "https://localhost:$P_GOOD/links.html" 'href' >"$T/o/stdout" 2>"$T/err"
rc=$?
t_ok "$([ "$rc" -ne 0 ] && grep -q 'unable to get local issuer certificate' "$T/err" &&
    [ ! -s "$T/o/stdout" ]; echo $?)" "scrape: an untrusted CA is an error naming it (exit $rc: $(cat "$T/err"))"
out=$(timeout 60 "$NETTOOL" scrape -q -k -c "https://localhost:$P_SELF/links.html" 'href')
t_is "$out" 2 "scrape -k: a self-signed certificate, verification skipped"
out=$(timeout 60 "$NETTOOL" scrape -q --cacert "$C/ca.crt" --follow 'href="(/one|two.html)"' \
    "https://localhost:$P_GOOD/links.html" 'file|href' -u 2>"$T/err" | sort | tr '\n' ' ')
t_is "$out" "file href " "scrape --follow over https: links resolved against the https page ($(head -n 2 "$T/err" | tr '\n' ' '))"

t_done
