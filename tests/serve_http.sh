#!/bin/sh
# serve_http.sh - "nettool serve http DIR" end to end with raw requests and
# curl: files, HEAD, keep-alive and pipelining (one write, and a byte at a
# time), listings in HTML and JSON, ranges, validators and 304/412, the
# refusals (traversal, dotfiles, links out, NUL, oversized and malformed
# heads, 405/501/505, 408), uploads with PUT, the access log; a core of it
# in every mode, the rest on the default mode, which must serve two
# clients at once, and clients that vanish or never read.
. "${top_srcdir:-.}/tests/lib.sh"
HC="$PY ${top_srcdir:-.}/tests/httpclient.py"

W=$T/www
mkdir -p "$W/sub" "$W/list" "$W/empty" "$W/up"
printf 'hello\n' >"$W/a.txt"
head -c 1048576 /dev/urandom >"$W/big.bin"
printf '<p>sub index</p>\n' >"$W/sub/index.html"
printf 'secret\n' >"$W/.hidden"
mkdir "$W/.git" && printf 'x\n' >"$W/.git/config"
printf 'outside\n' >"$T/outside.txt"
ln -s /etc/passwd "$W/abs"
ln -s ../outside.txt "$W/esc"
ln -s a.txt "$W/in.txt"
printf 'x\n' >"$W/list/plain.txt"
printf 'x\n' >"$W/list/ünïcödé ✓.txt"
printf 'x\n' >"$W/list/a&b <c>.html"
printf 'x\n' >"$W/list/100%.txt"
printf 'x\n' >"$W/list/.dot"
printf 'x\n' >"$W/list/q?#.txt"
mkdir "$W/list/dir"
ln -s ../../outside.txt "$W/list/escape"
mkfifo "$W/list/fifo"
printf 'x\n' >"$W/empty.txt" && : >"$W/empty.txt"

H='Host: t\r\n'
C='Connection: close\r\n'

# send ADDR ARGS...: httpclient.py send, bounded.
send() {
    timeout 30 $HC send "$@" 2>&1
}

# The checks every mode passes.  $1: the mode's name, $2: the address.
core() {
    m=$1 a=$2
    t_is "$(send "$a" -H Content-Type -H Content-Length "GET /a.txt HTTP/1.1\r\n$H$C\r\n")" \
"200 6 Content-Type=text/plain; charset=utf-8 Content-Length=6
closed" "$m: GET a file; Connection: close closes"
    t_is "$(send "$a" -H Content-Length "HEAD /big.bin HTTP/1.1\r\n$H$C\r\n")" \
"200 0 Content-Length=1048576
closed" "$m: HEAD has the length and no body"
    p3="GET /a.txt HTTP/1.1\r\n$H\r\nHEAD /a.txt HTTP/1.1\r\n$H\r\nGET /big.bin HTTP/1.1\r\n$H$C\r\n"
    t_is "$(send "$a" "$p3")" "200 6
200 0
200 1048576
closed" "$m: three pipelined requests in one write"
    t_is "$(send "$a" --split 1 "$p3")" "200 6
200 0
200 1048576
closed" "$m: the same a byte at a time"
    t_is "$(send "$a" -H Connection "GET /a.txt HTTP/1.0\r\n\r\n")" "200 6 Connection=close
closed" "$m: HTTP/1.0 without keep-alive closes"
    t_is "$(send "$a" -H Connection "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /a.txt HTTP/1.0\r\n\r\n")" \
"200 6 Connection=keep-alive
200 6 Connection=close
closed" "$m: HTTP/1.0 keep-alive is kept, then closed"
    t_is "$(send "$a" "GET /nope HTTP/1.1\r\n$H\r\nGET /.hidden HTTP/1.1\r\n$H\r\nGET /esc HTTP/1.1\r\n$H\r\nGET /%2e%2e/outside.txt HTTP/1.1\r\n$H$C\r\n" | cut -d' ' -f1)" \
"404
403
403
403
closed" "$m: 404, dotfile, link out and %2e%2e refused; the connection goes on"
    t_is "$(send "$a" -H Content-Range --body "GET /a.txt HTTP/1.1\r\n${H}Range: bytes=0-0\r\n$C\r\n")" \
"206 1 Content-Range=bytes 0-0/6 body=h
closed" "$m: Range 0-0"
    etag=$(send "$a" -H ETag "GET /a.txt HTTP/1.1\r\n$H$C\r\n" | sed -n 's/.*ETag=//p')
    t_is "$(send "$a" -H ETag "GET /a.txt HTTP/1.1\r\n${H}If-None-Match: $etag\r\n$C\r\n")" \
"304 0 ETag=$etag
closed" "$m: If-None-Match with the ETag: 304"
    out=$(send "$a" --body "GET /list/ HTTP/1.1\r\n$H$C\r\n")
    case $out in
    *'ünïcödé ✓.txt'*'%C3%BCn%C3%AF'*|*'%C3%BCn%C3%AF'*'ünïcödé ✓.txt'*) pass "$m: a listing with a UTF-8 name" ;;
    *) fail "$m: a listing with a UTF-8 name"; diag "$out" ;;
    esac
    rm -f "$T/dl"
    timeout 30 curl -sS -o "$T/dl" "http://$a/big.bin" 2>"$T/curl.err"
    cmp -s "$T/dl" "$W/big.bin"
    t_ok $? "$m: curl downloads 1 MiB byte-identical $(cat "$T/curl.err")"
    rm -f "$W/up/$m.txt"
    t_is "$(send "$a" "PUT /up/$m.txt HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhelloGET /up/$m.txt HTTP/1.1\r\n$H$C\r\n")" \
"201 0
200 5
closed" "$m: PUT creates a file, readable on the same connection"
    t_is "$(cat "$W/up/$m.txt" 2>/dev/null)" hello "$m: the uploaded bytes"
}

modes="sync thread fork async async-w2"
for m in $modes; do
    case $m in
    async-w2) margs="-m async -w 2" ;;
    *) margs="-m $m" ;;
    esac
    # shellcheck disable=SC2086
    if start_server "http-$m" http "$W" -l 127.0.0.1:0 $margs --upload --no-log; then
        core "$m" "$SRV_ADDR"
        stop_server
        t_is "$EXIT_STATUS" 0 "$m: the server exits 0 on SIGTERM"
    else
        fail "$m: server did not start"
    fi
done

# ---- everything else, on the default mode (async, one loop), with its
# access log and a short idle timeout for the 408 checks.
if ! start_server http http "$W" -l 127.0.0.1:0 --timeout 1 --upload --max-upload 1k; then
    fail "default server did not start"
    t_done
fi
A=$SRV_ADDR
LOG=$SRV_LOG
grep -q 'http (async) listening' "$LOG"
t_ok $? "the default mode is async"

# still_serving WHAT: a fresh GET works after WHAT.
still_serving() {
    t_is "$(send "$A" "GET /a.txt HTTP/1.1\r\n$H$C\r\n")" "200 6
closed" "  the server still serves after $1"
}

# -- directories
t_is "$(send "$A" -H Location "GET /sub HTTP/1.1\r\n$H$C\r\n" | cut -d' ' -f1,3)" "301 Location=/sub/
closed" "a directory without its slash: 301 to it"
t_is "$(send "$A" -H Location "GET /list/dir?x=1 HTTP/1.1\r\n$H$C\r\n" | cut -d' ' -f1,3)" "301 Location=/list/dir/?x=1
closed" "  the query is kept"
t_is "$(send "$A" --body "GET /sub/ HTTP/1.1\r\n$H$C\r\n")" "200 17 body=<p>sub index</p>\\n
closed" "index.html for a directory"
html=$(send "$A" -H Content-Type --body "GET /list/ HTTP/1.1\r\n$H$C\r\n")
for want in 'Content-Type=text/html; charset=utf-8' 'href="plain.txt"' 'href="dir/">dir/<' \
    'href="a%26b%20%3Cc%3E.html">a&amp;b &lt;c&gt;.html<' 'href="100%25.txt"' 'href="q%3F%23.txt"' \
    'href="../"'; do
    case $html in
    *"$want"*) pass "HTML listing has $want" ;;
    *) fail "HTML listing has $want"; diag "$html" ;;
    esac
done
for not in '.dot' 'escape' 'fifo' '<c>'; do
    case $html in
    *"$not"*) fail "HTML listing leaves out $not"; diag "$html" ;;
    *) pass "HTML listing leaves out $not" ;;
    esac
done
json_names() {
    send "$A" --body "GET /list/ HTTP/1.1\r\n${H}Accept: $1\r\n$C\r\n" | sed -n 's/^200 [0-9]* body=//p' |
        sed 's/\\n/\n/g' | $PY -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(e["name"] for e in d["entries"]))' 2>&1
}
t_is "$(json_names 'application/json')" "dir 100%.txt a&b <c>.html plain.txt q?#.txt ünïcödé ✓.txt" \
    "Accept: application/json gives a JSON listing (directories first, no dotfiles)"
t_is "$(json_names 'text/html;q=0.9, application/json')" "dir 100%.txt a&b <c>.html plain.txt q?#.txt ünïcödé ✓.txt" \
    "  json preferred by q-value"
t_is "$(json_names 'application/json, text/html')" "dir 100%.txt a&b <c>.html plain.txt q?#.txt ünïcödé ✓.txt" \
    "  json preferred by order"
t_is "$(send "$A" -H Content-Type "GET /list/ HTTP/1.1\r\n${H}Accept: text/html, application/json\r\n$C\r\n" | cut -d' ' -f1,3)" \
    "200 Content-Type=text/html;
closed" "  html first: HTML"
t_is "$(send "$A" -H Content-Type "GET /list/ HTTP/1.1\r\n${H}Accept: */*\r\n$C\r\n" | cut -d' ' -f1,3)" \
    "200 Content-Type=text/html;
closed" "  */* (curl, browsers): HTML"
t_is "$(send "$A" "HEAD /list/ HTTP/1.1\r\n$H$C\r\n")" "200 0
closed" "HEAD of a listing: no body"
t_is "$(send "$A" -H Content-Type "GET /empty.txt HTTP/1.1\r\n$H$C\r\n")" "200 0 Content-Type=text/plain; charset=utf-8
closed" "an empty file"
t_is "$(send "$A" -H Content-Type "GET /big.bin HTTP/1.1\r\n$H$C\r\n" | cut -d' ' -f1,3)" "200 Content-Type=application/octet-stream
closed" "an unknown extension: application/octet-stream"
t_is "$(send "$A" --body "GET /in.txt HTTP/1.1\r\n$H$C\r\n")" "200 6 body=hello\\n
closed" "a symlink that stays inside is followed"

# -- ranges
range() {
    send "$A" -H Content-Range --body "GET /a.txt HTTP/1.1\r\n${H}Range: $1\r\n$C\r\n" | head -n 1
}
t_is "$(range bytes=5-5)" "206 1 Content-Range=bytes 5-5/6 body=\\n" "Range: the last byte"
t_is "$(range bytes=-2)" "206 2 Content-Range=bytes 4-5/6 body=o\\n" "Range: a suffix"
t_is "$(range bytes=-100)" "206 6 Content-Range=bytes 0-5/6 body=hello\\n" "Range: a suffix longer than the file"
t_is "$(range bytes=2-)" "206 4 Content-Range=bytes 2-5/6 body=llo\\n" "Range: open-ended"
t_is "$(range bytes=1-100)" "206 5 Content-Range=bytes 1-5/6 body=ello\\n" "Range: a last past the end is cut"
t_is "$(range bytes=6- | cut -d' ' -f1,3,4)" "416 Content-Range=bytes */6" "Range: beyond the size: 416 bytes */SIZE"
t_is "$(range bytes=0-1,3-4)" "200 6 Content-Range=- body=hello\\n" "Range: several ranges: 200 with the whole file"
t_is "$(range bytes=3-1)" "200 6 Content-Range=- body=hello\\n" "Range: an invalid one is ignored"
t_is "$(range items=0-1)" "200 6 Content-Range=- body=hello\\n" "Range: another unit is ignored"
etag=$(send "$A" -H ETag "GET /a.txt HTTP/1.1\r\n$H$C\r\n" | sed -n 's/.*ETag=//p')
lm=$(send "$A" -H Last-Modified "GET /a.txt HTTP/1.1\r\n$H$C\r\n" | sed -n 's/.*Last-Modified=//p')
t_is "$(send "$A" "GET /a.txt HTTP/1.1\r\n${H}Range: bytes=0-1\r\nIf-Range: $etag\r\n$C\r\n" | head -n 1)" "206 2" \
    "If-Range with the current ETag: 206"
t_is "$(send "$A" "GET /a.txt HTTP/1.1\r\n${H}Range: bytes=0-1\r\nIf-Range: \"old\"\r\n$C\r\n" | head -n 1)" "200 6" \
    "If-Range with another ETag: 200 whole"
t_is "$(send "$A" "GET /a.txt HTTP/1.1\r\n${H}Range: bytes=0-1\r\nIf-Range: $lm\r\n$C\r\n" | head -n 1)" "206 2" \
    "If-Range with the Last-Modified date: 206"

# -- validators
cond() {
    send "$A" "GET /a.txt HTTP/1.1\r\n$H$1\r\n$C\r\n" | head -n 1
}
t_is "$(cond "If-Modified-Since: $lm\r\n")" "304 0" "If-Modified-Since the Last-Modified: 304"
t_is "$(cond "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")" "200 6" "If-Modified-Since long ago: 200"
t_is "$(cond "If-Modified-Since: not a date\r\n")" "200 6" "If-Modified-Since unparsable: ignored"
t_is "$(cond "If-None-Match: \"other\"\r\nIf-Modified-Since: $lm\r\n")" "200 6" \
    "If-None-Match takes precedence over If-Modified-Since (no match: 200)"
t_is "$(cond "If-None-Match: \"x\", W/$etag\r\n")" "304 0" "If-None-Match: a weak match in a list: 304"
t_is "$(cond "If-None-Match: *\r\n")" "304 0" "If-None-Match: *: 304"
t_is "$(cond "If-Match: \"other\"\r\n" | cut -d' ' -f1)" 412 "If-Match another ETag: 412"
t_is "$(cond "If-Match: $etag\r\n")" "200 6" "If-Match the ETag: 200"
t_is "$(cond "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n" | cut -d' ' -f1)" 412 \
    "If-Unmodified-Since long ago: 412"
t_is "$(send "$A" "HEAD /a.txt HTTP/1.1\r\n${H}If-None-Match: $etag\r\n$C\r\n")" "304 0
closed" "HEAD with If-None-Match: 304"

# -- refusals: every one answered, and the server keeps serving
refused() { # WANT DESC REQUEST
    _w=$1 _d=$2
    shift 2
    _got=$(send "$A" "$@" | head -n 1 | cut -d' ' -f1)
    t_is "$_got" "$_w" "$_d: $_w"
}
refused 403 "/../" "GET /../outside.txt HTTP/1.1\r\n$H$C\r\n"
refused 403 "%2e%2e" "GET /sub/%2e%2e/%2E%2E/outside.txt HTTP/1.1\r\n$H$C\r\n"
refused 403 "absolute form with .." "GET http://t/../outside.txt HTTP/1.1\r\n$H$C\r\n"
refused 200 "absolute form, inside" "GET http://t/a.txt HTTP/1.1\r\n$H$C\r\n"
refused 404 "//etc/passwd (inside DIR)" "GET //etc/passwd HTTP/1.1\r\n$H$C\r\n"
refused 403 "an absolute symlink" "GET /abs HTTP/1.1\r\n$H$C\r\n"
refused 403 "a .git directory" "GET /.git/config HTTP/1.1\r\n$H$C\r\n"
refused 403 "an encoded dotfile" "GET /%2ehidden HTTP/1.1\r\n$H$C\r\n"
refused 400 "%2F" "GET /sub%2Findex.html HTTP/1.1\r\n$H$C\r\n"
refused 400 "%00" "GET /a.txt%00.png HTTP/1.1\r\n$H$C\r\n"
refused 400 "a raw NUL in the target" "GET /a\0.txt HTTP/1.1\r\n$H$C\r\n"
refused 400 "a NUL in a header" "GET /a.txt HTTP/1.1\r\n${H}X-A: b\0c\r\n$C\r\n"
refused 400 "a bad escape" "GET /a%zz HTTP/1.1\r\n$H$C\r\n"
refused 400 "no Host in 1.1" "GET /a.txt HTTP/1.1\r\n$C\r\n"
refused 400 "garbage" "\x01\x02\x03 hello\r\n\r\n"
refused 400 "a bare CR" "GET /a.txt HTTP/1.1\r\n${H}X: a\rb\r\n\r\n"
refused 400 "an asterisk for GET" "GET * HTTP/1.1\r\n$H$C\r\n"
refused 405 "POST" "POST /a.txt HTTP/1.1\r\n${H}Content-Length: 3\r\n$C\r\nabc"
refused 405 "DELETE" "DELETE /a.txt HTTP/1.1\r\n$H$C\r\n"
refused 501 "an unknown method" "BREW /pot HTTP/1.1\r\n$H$C\r\n"
refused 505 "HTTP/2.0" "GET /a.txt HTTP/2.0\r\n$H$C\r\n"
t_is "$(send "$A" -H Allow "POST /a.txt HTTP/1.1\r\n$H$C\r\n" | head -n 1 | cut -d' ' -f1,3-)" \
    "405 Allow=GET, HEAD, PUT, OPTIONS" "405 says what is allowed"
t_is "$(send "$A" -H Allow "OPTIONS * HTTP/1.1\r\n$H$C\r\n" | head -n 1)" \
    "204 0 Allow=GET, HEAD, PUT, OPTIONS" "OPTIONS *: 204 with Allow"
t_is "$(send "$A" "POST /a.txt HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET /a.txt HTTP/1.1\r\n$H$C\r\n" | cut -d' ' -f1)" "405
200
closed" "a small body of a refused POST is skipped: the next request on the connection is answered"
long=$($PY -c 'print("a" * 9000)')
refused 414 "a 9000-byte target" "GET /$long HTTP/1.1\r\n$H$C\r\n"
big=$($PY -c 'print("X-Big: " + "b" * 8000 + "\\r\\n", end="")')
refused 431 "a 24 KB head" "GET /a.txt HTTP/1.1\r\n$H$big$big$big$C\r\n"
many=$($PY -c 'print("".join("X-%d: v\\r\\n" % i for i in range(80)), end="")')
refused 431 "80 header fields" "GET /a.txt HTTP/1.1\r\n$H$many$C\r\n"
t_is "$(send "$A" "GET /a.txt HTTP/1.1\r\n$H\r\nGET /$long HTTP/1.1\r\n$H\r\nGET /a.txt HTTP/1.1\r\n$H\r\n" | cut -d' ' -f1)" "200
414
closed" "an error after a good pipelined request closes the connection, the rest unanswered"
t_is "$(send "$A" --eof-wait 5 "GET /a.txt HT" | cut -d' ' -f1)" "408
closed" "a head that stops arriving: 408 at the idle timeout, then close"
t_is "$(send "$A" --responses 0 --eof-wait 5 "")" "closed" "a connection that sends nothing is closed quietly at the idle timeout"
t_is "$(send "$A" --eof-wait 5 "GET /a.txt HTTP/1.1\r\n$H\r\n")" "200 6
closed" "an idle kept connection is closed quietly at the idle timeout"
still_serving "the refusals"

# -- uploads (--max-upload 1k)
rm -rf "$W/up" && mkdir "$W/up"
t_is "$(send "$A" -H Location "PUT /up/n%C3%A9w.txt HTTP/1.1\r\n${H}Content-Length: 3\r\n$C\r\nabc")" \
    "201 0 Location=/up/n%C3%A9w.txt
closed" "PUT: 201 Created with its Location"
t_is "$(cat "$W/up/néw.txt")" abc "  the file has the body"
chmod 600 "$W/up/néw.txt"
t_is "$(send "$A" "PUT /up/n%C3%A9w.txt HTTP/1.1\r\n${H}Content-Length: 2\r\n$C\r\nxy")" "204 0
closed" "PUT over an existing file: 204"
t_is "$(cat "$W/up/néw.txt"):$(stat -c %a "$W/up/néw.txt")" "xy:600" "  replaced, its permissions kept"
t_is "$(send "$A" "PUT /up/c.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n$C\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")" \
    "201 0
closed" "PUT with a chunked body"
t_is "$(cat "$W/up/c.txt")" abcde "  its bytes"
t_is "$(send "$A" "PUT /up/e.txt HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 2\r\n\r\n" "ok" | head -n 2)" \
    "100 0
201 0" "Expect: 100-continue gets 100 Continue, then 201"
t_is "$(send "$A" "PUT /up/huge HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 2000\r\n\r\n" | cut -d' ' -f1)" "413
closed" "a Content-Length over --max-upload: 413 before the body (no 100), and close"
chunks=$($PY -c 'print("100\\r\\n" + "z" * 256 + "\\r\\n", end="")')
t_is "$(send "$A" "PUT /up/huge HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n$chunks$chunks$chunks$chunks${chunks}0\r\n\r\n" | cut -d' ' -f1)" \
    "413
closed" "a chunked body growing past --max-upload: 413 mid-body"
printf 'old\n' >"$W/up/keep.txt"
timeout 10 $HC vanish "$A" "PUT /up/keep.txt HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n" 500
t_ok $? "a client that vanishes mid-body"
wait_for 5 sh -c "! ls -A '$W/up' | grep -q '^\\.upload'"
t_ok $? "  leaves no temporary file"
t_is "$(cat "$W/up/keep.txt")" old "  and the old file as it was"
t_is "$(ls "$W/up" | grep -c huge)" 0 "refused uploads left no file"
t_is "$(ls -A "$W/up" | grep -c '^\.')" 0 "no temporary file left by any upload"
refused 403 "PUT of a dotfile" "PUT /up/.x HTTP/1.1\r\n${H}Content-Length: 1\r\n$C\r\nx"
refused 403 "PUT above the root" "PUT /../x HTTP/1.1\r\n${H}Content-Length: 1\r\n$C\r\nx"
refused 403 "PUT through a link out" "PUT /esc HTTP/1.1\r\n${H}Content-Length: 1\r\n$C\r\nx"
refused 409 "PUT into a missing directory" "PUT /nodir/x HTTP/1.1\r\n${H}Content-Length: 1\r\n$C\r\nx"
refused 409 "PUT of a directory" "PUT /up/ HTTP/1.1\r\n${H}Content-Length: 1\r\n$C\r\nx"
refused 411 "PUT without a length" "PUT /up/n HTTP/1.1\r\n$H$C\r\n"
refused 412 "PUT with If-None-Match: * over a file" "PUT /up/keep.txt HTTP/1.1\r\n${H}If-None-Match: *\r\nContent-Length: 1\r\n$C\r\nx"
t_is "$(cat "$T/outside.txt")" outside "nothing outside DIR was written"
still_serving "the uploads"

# -- concurrency, and clients that misbehave
t_is "$(timeout 20 $HC concurrent "$A" /a.txt 2>&1)" both "the default mode serves a second client while the first is mid-head"
t_is "$(timeout 30 $HC noread "$A" /big.bin /a.txt 2>&1)" served "a client that never reads does not stop the others"

# -- curl
t_is "$(timeout 10 curl -sSI "http://$A/big.bin" | tr -d '\r' | grep -i -e '^HTTP/' -e '^content-length:')" \
    "HTTP/1.1 200 OK
Content-Length: 1048576" "curl -I"
timeout 10 curl -sS --range 1000-1999 -o "$T/part" "http://$A/big.bin"
head -c 2000 "$W/big.bin" | tail -c 1000 >"$T/want"
cmp -s "$T/part" "$T/want"
t_ok $? "curl --range 1000-1999: the right 1000 bytes"
timeout 10 curl -sv -o /dev/null -o /dev/null "http://$A/a.txt" "http://$A/big.bin" 2>"$T/curlv"
grep -q 'Re-using existing connection' "$T/curlv"
t_ok $? "curl fetching two URLs reuses the connection"
t_is "$(timeout 10 curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$A/list/dir")" "301 http://$A/list/dir/" \
    "curl sees the directory redirect"
t_is "$(timeout 10 curl -s -L "http://$A/sub")" "<p>sub index</p>" "curl -L follows it to index.html"

# -- the access log
n=$(grep -c '^127\.0\.0\.1 - - \[[0-9][0-9]/[A-Z][a-z][a-z]/[0-9]\{4\}:[0-9:]\{8\} [-+][0-9]\{4\}\] "GET /a.txt HTTP/1.1" 200 6$' "$LOG")
t_ok $(( n > 5 ? 0 : 1 )) "the access log has Common Log Format lines ($n for GET /a.txt)"
grep -q '"GET /a\\x00.txt HTTP/1.1\|"-" 400' "$LOG"
t_ok $? "  bytes a client sent are escaped or left out"
grep -q '"HEAD /list/ HTTP/1.1" 200 -$' "$LOG"
t_ok $? "  HEAD logs no body bytes"
stop_server
t_is "$EXIT_STATUS" 0 "the default server exits 0 on SIGTERM"

if start_server nolog http "$W" -l 127.0.0.1:0 --no-log; then
    send "$SRV_ADDR" "GET /a.txt HTTP/1.1\r\n$H$C\r\n" >/dev/null
    stop_server
    t_is "$(grep -c 'GET' "$SRV_LOG")" 0 "--no-log: no access log"
    # Without --upload, PUT is not allowed.
else
    fail "nolog server"
fi
if start_server noup http "$W" -l 127.0.0.1:0 --no-log; then
    t_is "$(send "$SRV_ADDR" -H Allow "PUT /up/z HTTP/1.1\r\n${H}Content-Length: 1\r\n$C\r\nz" | head -n 1 | cut -d' ' -f1,3-)" \
        "405 Allow=GET, HEAD, OPTIONS" "without --upload, PUT is 405"
    t_is "$(ls "$W/up" | grep -c '^z$')" 0 "  and writes nothing"
    stop_server
else
    fail "noup server"
fi

# A file the server cannot read is 403: the server runs as nobody (root
# reads everything).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    chmod 755 "$T"
    chmod -R a+rX "$W"
    printf 'private\n' >"$W/private.txt"
    chmod 600 "$W/private.txt"
    SRV_LOG=$T/nobody.log
    setpriv --reuid=65534 --regid=65534 --clear-groups "$NETTOOL" serve http "$W" -l 127.0.0.1:0 2>"$SRV_LOG" &
    SRV_PID=$!
    echo "$SRV_PID" >>"$T/pids"
    if wait_for 10 grep -q 'listening on' "$SRV_LOG"; then
        a=$(awk '/listening on/ { print $NF; exit }' "$SRV_LOG")
        t_is "$(send "$a" "GET /private.txt HTTP/1.1\r\n$H$C\r\n" | head -n 1 | cut -d' ' -f1)" 403 "an unreadable file: 403"
        stop_server
    else
        fail "server as nobody: $(cat "$SRV_LOG")"
    fi
else
    t_skip 1 "needs root and setpriv to run a server that cannot read a file"
fi

# -- usage errors
usage() { # DESC WANT-IN-STDERR ARGS...
    _d=$1 _w=$2
    shift 2
    "$NETTOOL" serve "$@" >/dev/null 2>"$T/usage.err"
    _rc=$?
    if [ "$_rc" -eq 2 ] && grep -q -- "$_w" "$T/usage.err"; then
        pass "usage: $_d"
    else
        fail "usage: $_d (exit $_rc: $(cat "$T/usage.err"))"
    fi
}
usage "http without DIR" "needs a directory" http
usage "--upload with echo" "is an option of the http handler" echo --upload
usage "--max-upload without --upload" "needs --upload" http "$W" --max-upload 1M
usage "a bad --max-upload" "invalid --max-upload" http "$W" --upload --max-upload lots
usage "http over UDP" "needs a stream socket" http "$W" -u
usage "a second operand" "unexpected argument" http "$W" other
"$NETTOOL" serve http "$T/nowhere" -l 127.0.0.1:0 2>"$T/nodir.err"
t_is "$?:$(cat "$T/nodir.err")" "1:nettool serve: cannot serve $T/nowhere: No such file or directory" \
    "a missing DIR: one line, exit 1"

t_done
