#!/bin/sh
# tls.sh - TLS on client connections (netsrv_conn_start_tls) against a real
# nginx, with certificates made here: a test CA, a server certificate it
# signed for localhost and 127.0.0.1, one it signed for another name, one
# that expired, and a self-signed one.  The client is tests/tls_client (the
# HTTP layer over TLS): both files byte-identical in a plain thread and as
# 16 tasks on one loop; each certificate problem named; insecure; a plain
# HTTP port and a peer that hangs up mid-handshake; netsrv_sendfile over
# TLS to a Python peer.  Without nginx (or openssl) the test is skipped.
T_LIMIT=240
. "${top_srcdir:-.}/tests/lib.sh"
. "${top_srcdir:-.}/tests/nginx_lib.sh"

CLIENT=${top_builddir:-.}/tests/tls_client
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v openssl >/dev/null 2>&1 || [ ! -x "$NGINX" ]; then
    t_skip 1 "needs nginx and openssl (apt-get install nginx openssl)"
    t_done
fi

# ------------------------------------------------------------ certificates
C=$T/certs
mkdir -p "$C"
ossl() { openssl "$@" >>"$C/openssl.log" 2>&1; }
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
# csr NAME CN
csr() { ossl req -new $ec -keyout "$C/$1.key" -out "$C/$1.csr" -subj "/CN=$2"; }
# sign NAME SAN [extra openssl-ca arguments]: signs NAME.csr with the CA
sign() {
    _n=$1 _san=$2
    shift 2
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
        "$_san" >"$C/$_n.ext"
    ossl ca -batch -config "$C/ca.cnf" -extfile "$C/$_n.ext" -in "$C/$_n.csr" \
        -out "$C/$_n.crt" -notext "$@"
}
ossl req -x509 $ec -keyout "$C/ca.key" -out "$C/ca.crt" -days 2 -subj "/CN=netsrv test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
mkdir -p "$C/db"
: >"$C/db/index"
cat >"$C/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $C/db
database = $C/db/index
new_certs_dir = $C/db
serial = $C/db/serial
certificate = $C/ca.crt
private_key = $C/ca.key
default_md = sha256
default_days = 1
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
EOF
echo 01 >"$C/db/serial"
csr good localhost && sign good "DNS:localhost,IP:127.0.0.1"
csr wrong wrong.example && sign wrong "DNS:wrong.example"
csr old localhost && sign old "DNS:localhost,IP:127.0.0.1" \
    -startdate 20200101000000Z -enddate 20200102000000Z
ossl req -x509 $ec -keyout "$C/self.key" -out "$C/self.crt" -days 1 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
for n in good wrong old self; do
    if [ ! -s "$C/$n.crt" ]; then
        fail "make the test certificates"
        diag "$(tail -n 20 "$C/openssl.log")"
        t_done
    fi
done
pass "a test CA and four server certificates (good, wrong name, expired, self-signed)"

# ------------------------------------------------------------------ nginx
W=$T/www
mkdir -p "$W" "$T/nginx" "$T/out"
printf 'hello over TLS\n' >"$W/small.txt"
head -c 5242880 /dev/urandom >"$W/big.bin"
chmod -R a+rX "$W" "$C"
chmod a+x "$T"

start_nginx() {
    set -- $(ng_free_ports 5)
    P_GOOD=$1 P_WRONG=$2 P_OLD=$3 P_SELF=$4 P_PLAIN=$5
    srv() { # PORT CERT
        printf '    server {\n        listen 127.0.0.1:%s ssl;\n' "$1"
        printf '        ssl_certificate %s/%s.crt;\n        ssl_certificate_key %s/%s.key;\n' \
            "$C" "$2" "$C" "$2"
        printf '        root %s;\n    }\n' "$W"
    }
    {
        ng_conf_head
        cat <<EOF
    keepalive_requests 1000;
    ssl_protocols TLSv1.2 TLSv1.3;
    server { listen 127.0.0.1:$P_PLAIN; root $W; }
EOF
        srv "$P_GOOD" good
        srv "$P_WRONG" wrong
        srv "$P_OLD" old
        srv "$P_SELF" self
        echo "}"
    } >"$T/nginx/nginx.conf"
    ng_start "$P_GOOD" "$P_WRONG" "$P_OLD" "$P_SELF" "$P_PLAIN"
}

started=0
for try in 1 2 3 4 5; do
    if start_nginx; then
        started=1
        break
    fi
    kill -KILL "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    diag "nginx start $try failed: $(tail -n 3 "$T/nginx/error.log" "$T/nginx/stdout" 2>/dev/null | tr '\n' ' ')"
done
if [ "$started" = 0 ]; then
    fail "nginx started"
    t_done
fi
pass "nginx serves TLS on ports $P_GOOD (good) $P_WRONG (wrong name) $P_OLD (expired) $P_SELF (self-signed), plain HTTP on $P_PLAIN"

A=127.0.0.1
CA=$C/ca.crt

# run NAME ARGS...: the client, its line in OUT, its status in RC.
run() {
    OUT=$(timeout 60 "$CLIENT" "$@" 2>"$T/client.err")
    RC=$?
}
same() { cmp -s "$W/$1" "$2"; }

# ---------------------------------------------------------- good cert
rm -f "$T/out/"*
run fetch "$A:$P_GOOD" localhost "$CA" 0 "$T/out" /small.txt /big.bin
t_is "$RC" 0 "thread: small and 5 MB files fetched over one keep-alive TLS connection: $OUT $(cat "$T/client.err")"
same small.txt "$T/out/small.txt"
t_ok $? "thread: the small file is byte-identical"
same big.bin "$T/out/big.bin"
t_ok $? "thread: the 5 MB random file is byte-identical"
case $OUT in *TLSv1.3*|*TLSv1.2*) pass "the negotiated version and cipher are reported ($OUT)" ;;
*) fail "the negotiated version and cipher are reported ($OUT)" ;; esac

rm -f "$T/out/"*
run loop 16 "$A:$P_GOOD" localhost "$CA" "$T/out" /small.txt /big.bin
t_is "$RC" 0 "loop: 16 tasks on one loop fetch both files: $OUT $(head -n 5 "$T/client.err")"
bad=0
for i in $(seq 0 15); do
    same small.txt "$T/out/$i.small.txt" && same big.bin "$T/out/$i.big.bin" || bad=$((bad + 1))
done
t_is "$bad" 0 "loop: all 16 tasks' copies of both files are byte-identical"
case $OUT in *"16 at once"*) pass "loop: the 16 TLS connections were open at once" ;;
*) fail "loop: the 16 TLS connections were open at once ($OUT)" ;; esac
gap=$(echo "$OUT" | sed -n 's/.*longest loop gap \([0-9.]*\) s.*/\1/p')
"$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1] or 9) < 0.5 else 1)' "$gap"
t_ok $? "loop: a ticker task kept running meanwhile (longest gap $gap s): handshakes and reads never held the loop up"

rm -f "$T/out/"*
OUT=$(TLS_STACK=65536 timeout 60 "$CLIENT" loop 4 "$A:$P_GOOD" localhost "$CA" "$T/out" /small.txt /big.bin 2>"$T/client.err")
RC=$?
t_is "$RC" 0 "loop: 4 tasks with the default 64 KiB stacks: $OUT $(head -n 3 "$T/client.err")"

run fetch "$A:$P_GOOD" 127.0.0.1 "$CA" 0 "$T/out" /small.txt
t_is "$RC" 0 "an IP address as the name is checked against the certificate's IP entry: $OUT"

run fetch "$A:$P_GOOD" - "$CA" 0 "$T/out" /small.txt
t_is "$RC" 0 "no server name: no SNI, the chain alone is verified: $OUT"

# The system store is the default: SSL_CERT_FILE stands in for it.
OUT=$(SSL_CERT_FILE=$CA timeout 60 "$CLIENT" fetch "$A:$P_GOOD" localhost - 0 "$T/out" /small.txt 2>&1)
RC=$?
t_is "$RC" 0 "without ca_file the system store (here SSL_CERT_FILE) is trusted: $OUT"

# ------------------------------------------------------- bad certs
run fetch "$A:$P_GOOD" localhost - 0 "$T/out" /small.txt
case "$RC $OUT" in
1*"error -129 "*"unable to get local issuer certificate"*)
    pass "an untrusted CA fails without ca_file: $OUT" ;;
*) fail "an untrusted CA fails without ca_file: $RC $OUT" ;; esac

run fetch "$A:$P_WRONG" localhost "$CA" 0 "$T/out" /small.txt
case "$RC $OUT" in
1*"error -129 "*[Hh]"ostname mismatch"*wrong.example*) pass "the wrong name fails with a hostname mismatch: $OUT" ;;
*) fail "the wrong name fails with a hostname mismatch: $RC $OUT" ;; esac

run fetch "$A:$P_OLD" localhost "$CA" 0 "$T/out" /small.txt
case "$RC $OUT" in
1*"error -129 "*"certificate has expired"*) pass "an expired certificate fails: $OUT" ;;
*) fail "an expired certificate fails: $RC $OUT" ;; esac

run fetch "$A:$P_SELF" localhost "$CA" 0 "$T/out" /small.txt
case "$RC $OUT" in
1*"error -129 "*"self-signed certificate"*|1*"error -129 "*"self signed certificate"*) pass "a self-signed certificate fails: $OUT" ;;
*) fail "a self-signed certificate fails: $RC $OUT" ;; esac

rm -f "$T/out/"*
run fetch "$A:$P_SELF" localhost - 1 "$T/out" /small.txt /big.bin
t_is "$RC" 0 "insecure: the self-signed one is accepted: $OUT"
same big.bin "$T/out/big.bin"
t_ok $? "insecure: the 5 MB file is byte-identical"
run fetch "$A:$P_WRONG" localhost - 1 "$T/out" /small.txt
t_is "$RC" 0 "insecure: the wrong-name one too: $OUT"

run fetch "$A:$P_GOOD" localhost "$C/nonexistent.pem" 0 "$T/out" /small.txt
case "$RC $OUT" in
1*nonexistent.pem*) pass "a missing CA file is named: $OUT" ;;
*) fail "a missing CA file is named: $RC $OUT" ;; esac

# ------------------------------------------------------ not TLS at all
run fetch "$A:$P_PLAIN" localhost "$CA" 0 "$T/out" /small.txt
case "$RC $OUT" in
1*"error -71 "*) pass "a plain HTTP port fails the handshake with -EPROTO: $OUT" ;;
*) fail "a plain HTTP port fails the handshake with -EPROTO: $RC $OUT" ;; esac

# A peer that takes the ClientHello and hangs up.
"$PY" - "$T/hangup.port" <<'EOF' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(60)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
for _ in range(2):
    c, _ = s.accept()
    c.settimeout(10)
    c.recv(100)
    c.close()
# then one that reads the ClientHello and says nothing until the client leaves
c, _ = s.accept()
c.settimeout(30)
while c.recv(4096):
    pass
EOF
HPID=$!
echo "$HPID" >>"$T/pids"
if wait_for 10 test -s "$T/hangup.port"; then
    HP=$(cat "$T/hangup.port")
    run fetch "$A:$HP" localhost "$CA" 0 "$T/out" /small.txt
    case "$RC $OUT" in
    1*"error -104 "*"closed"*) pass "a peer hanging up mid-handshake: -ECONNRESET and a clear text: $OUT" ;;
    *) fail "a peer hanging up mid-handshake: -ECONNRESET and a clear text: $RC $OUT" ;; esac
    run loop 1 "$A:$HP" localhost "$CA" "$T/out" /small.txt
    case "$RC $(cat "$T/client.err")" in
    1*"error -104 "*) pass "the same in a task on a loop: $(cat "$T/client.err")" ;;
    *) fail "the same in a task on a loop: $RC $OUT $(cat "$T/client.err")" ;; esac
    t0=$(date +%s.%N)
    OUT=$(TLS_TIMEOUT=0.5 timeout 60 "$CLIENT" fetch "$A:$HP" localhost "$CA" 0 "$T/out" /small.txt 2>&1)
    RC=$?
    took=$("$PY" -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$(date +%s.%N)")
    case "$RC $OUT" in
    1*"error -110 "*"timed out"*) pass "a peer that never answers: the handshake times out (-ETIMEDOUT after $took s): $OUT" ;;
    *) fail "a peer that never answers: the handshake times out: $RC $OUT ($took s)" ;; esac
else
    t_skip 3 "the hang-up peer did not start"
fi
kill "$HPID" 2>/dev/null
wait "$HPID" 2>/dev/null

# --------------------------------------------- sendfile to a TLS peer
# Python's ssl module as the server: reads "SIZE\n" and SIZE bytes, answers
# with their SHA-256.
"$PY" - "$C/good.crt" "$C/good.key" "$T/sink.port" <<'EOF' &
import hashlib, os, socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(60)
open(sys.argv[3] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[3] + ".tmp", sys.argv[3])
c, _ = s.accept()
c.settimeout(30)
t = ctx.wrap_socket(c, server_side=True)
f = t.makefile("rb")
size = int(f.readline())
h = hashlib.sha256()
left = size
while left:
    b = f.read(min(left, 65536))
    if not b:
        break
    h.update(b)
    left -= len(b)
t.sendall((h.hexdigest() + "\n").encode())
t.close()
EOF
SPID=$!
echo "$SPID" >>"$T/pids"
if wait_for 10 test -s "$T/sink.port"; then
    run sendfile "$A:$(cat "$T/sink.port")" localhost "$CA" "$W/big.bin"
    want=$(sha256sum "$W/big.bin" | cut -d ' ' -f 1)
    t_is "$OUT" "ok 5242880 $want" "netsrv_sendfile over TLS: the peer got the 5 MB file intact $(cat "$T/client.err")"
else
    t_skip 1 "the Python TLS peer did not start"
fi
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null

# nginx logged no crash or alert of ours
kill -TERM "$NGINX_PID" 2>/dev/null
wait_exit "$NGINX_PID" 10
t_ok $? "nginx stops"
t_done
