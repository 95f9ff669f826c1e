#!/usr/bin/python3
"""getserver.py - a scripted HTTP server for tests/get.sh: the answers a
real server rarely gives on purpose (chunks split across writes, bodies
that end with the connection, HTTP/1.0, garbage, a stall, a body cut
short, redirect chains and loops, 503s with Retry-After, ETags).  It
listens on 127.0.0.1 port 0 and prints the port on stdout; one thread per
connection, keep-alive unless the answer says otherwise.

Paths: /data/N (N bytes of the pattern, Content-Length; Range honoured),
/chunked/N, /close/N (HTTP/1.0, no length), /http10/N (HTTP/1.0 with a
length), /malformed, /stall, /cut/N, /redir/K (K relative redirects),
/loop, /to/URL-rest (302 to http://URL-rest), /retry/NAME/K (503 with
Retry-After: 0 for the first K requests of NAME, then 200), /etag,
/conns (connections accepted so far), /peak (most /hold requests in
flight at once), /hold (a short answer after 50 ms, for concurrency counts),
/splitcut/N (as /data/N with an ETag, but the first range that starts past
the middle is cut short halfway: a split download that fails midway),
/splitstall/N (the same, but that range stalls there instead, for a kill),
/sent (body bytes /splitcut and /splitstall have sent so far), /sent0
(the same, set back to 0), anything else 404.
"""
import re
import socket
import sys
import threading
import time

lock = threading.Lock()
state = {"conns": 0, "active": 0, "peak": 0, "retry": {}, "cut": False, "sent": 0}


def pattern(n, start=0):
    return bytes((((i * 7) + (i // 251)) % 26) + 97 for i in range(start, start + n))


def send_all(s, data):
    s.sendall(data)


def reply(s, status, body=b"", headers=(), version="1.1"):
    head = "HTTP/%s %s\r\n" % (version, status)
    for h in headers:
        head += h + "\r\n"
    if not any(h.lower().startswith("content-length") for h in headers):
        head += "Content-Length: %d\r\n" % len(body)
    send_all(s, head.encode() + b"\r\n" + body)


def serve(conn):
    conn.settimeout(30)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = conn.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            hdrs = {}
            for l in lines[1:]:
                k, v = l.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
            held = path.startswith("/hold")  # only these count in /peak
            if held:
                with lock:
                    state["active"] += 1
                    state["peak"] = max(state["peak"], state["active"])
            try:
                keep = answer(conn, method, path, hdrs)
            finally:
                if held:
                    with lock:
                        state["active"] -= 1
            if not keep:
                return
    except (OSError, ValueError):
        return
    finally:
        try:
            conn.close()
        except OSError:
            pass


def answer(s, method, path, hdrs):
    body_ok = method != "HEAD"
    m = re.match(r"^/data/(\d+)$", path)
    if m:
        n = int(m.group(1))
        r = re.match(r"bytes=(\d+)-(\d*)$", hdrs.get("range", ""))
        if r:
            a = int(r.group(1))
            b = int(r.group(2)) if r.group(2) else n - 1
            b = min(b, n - 1)
            if a >= n:
                reply(s, "416 Range Not Satisfiable", b"", ["Content-Range: bytes */%d" % n])
                return True
            body = pattern(b - a + 1, a)
            reply(s, "206 Partial Content", body if body_ok else b"",
                  ["Content-Range: bytes %d-%d/%d" % (a, b, n), "Content-Length: %d" % len(body)])
            return True
        body = pattern(n)
        reply(s, "200 OK", body if body_ok else b"",
              ["Accept-Ranges: bytes", "Content-Length: %d" % n])
        return True
    m = re.match(r"^/split(cut|stall)/(\d+)$", path)
    if m:
        stall, n = m.group(1) == "stall", int(m.group(2))
        tag = ['ETag: "sc-%d"' % n, "Accept-Ranges: bytes"]
        r = re.match(r"bytes=(\d+)-(\d*)$", hdrs.get("range", ""))
        if not r:
            reply(s, "200 OK", pattern(n) if body_ok else b"", tag + ["Content-Length: %d" % n])
            return True
        a = int(r.group(1))
        b = min(int(r.group(2)) if r.group(2) else n - 1, n - 1)
        body = pattern(b - a + 1, a)
        with lock:
            cut = not state["cut"] and a > n // 2
            if cut:
                state["cut"] = True
            state["sent"] += len(body) // 2 if cut else len(body)
        head = ("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\n"
                "Content-Length: %d\r\n%s\r\n\r\n" % (a, b, n, len(body), tag[0])).encode()
        send_all(s, head + (body[:len(body) // 2] if cut else body))
        if cut and stall:
            time.sleep(20)
        return not cut
    if path in ("/sent", "/sent0"):
        with lock:
            reply(s, "200 OK", b"%d\n" % state["sent"])
            if path == "/sent0":
                state["sent"], state["cut"] = 0, False
        return True
    m = re.match(r"^/chunked/(\d+)$", path)
    if m:
        n = int(m.group(1))
        data = pattern(n)
        send_all(s, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        off, k = 0, 1
        while off < n:
            c = data[off:off + k]
            piece = b"%x;ext=1\r\n" % len(c) + c + b"\r\n"
            # the size line, the data and the CRLF split over writes
            for cut in (piece[:2], piece[2:len(piece) // 2], piece[len(piece) // 2:]):
                if cut:
                    send_all(s, cut)
                    time.sleep(0.0005)
            off += len(c)
            k = k * 3 + 1
        send_all(s, b"0\r\nX-Trailer: yes\r\n\r\n")
        return True
    m = re.match(r"^/close/(\d+)$", path)
    if m:
        send_all(s, b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        send_all(s, pattern(int(m.group(1))))
        return False
    m = re.match(r"^/http10/(\d+)$", path)
    if m:
        n = int(m.group(1))
        reply(s, "200 OK", pattern(n), version="1.0")
        return False
    if path == "/malformed":
        send_all(s, b"HTTP/1.1 abc what\r\nX\r\n\r\n")
        return False
    if path == "/stall":
        send_all(s, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
        time.sleep(20)
        return False
    m = re.match(r"^/cut/(\d+)$", path)
    if m:
        n = int(m.group(1))
        send_all(s, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n + pattern(n // 2))
        return False
    m = re.match(r"^/redir/(\d+)$", path)
    if m:
        k = int(m.group(1))
        if k == 0:
            reply(s, "200 OK", b"arrived\n")
        else:
            reply(s, "302 Found", b"", ["Location: %d" % (k - 1)])
        return True
    if path == "/loop":
        reply(s, "301 Moved", b"", ["Location: /loop-b"])
        return True
    if path == "/loop-b":
        reply(s, "307 Moved", b"", ["Location: http://%s/loop" % hdrs.get("host")])
        return True
    m = re.match(r"^/to/(.*)$", path)
    if m:
        reply(s, "302 Found", b"", ["Location: " + m.group(1).replace("_", "://", 1)])
        return True
    m = re.match(r"^/retry/(\w+)/(\d+)$", path)
    if m:
        name, k = m.group(1), int(m.group(2))
        with lock:
            seen = state["retry"].get(name, 0)
            state["retry"][name] = seen + 1
        if seen < k:
            reply(s, "503 Service Unavailable", b"busy\n", ["Retry-After: 0"])
        else:
            reply(s, "200 OK", b"ok after %d\n" % seen)
        return True
    if path == "/etag":
        if hdrs.get("if-none-match") == '"v1"':
            reply(s, "304 Not Modified", b"", ["ETag: \"v1\"", "Content-Length: 0"])
        else:
            reply(s, "200 OK", b"version 1\n", ["ETag: \"v1\""])
        return True
    if path == "/conns":
        with lock:
            reply(s, "200 OK", b"%d\n" % state["conns"])
        return True
    if path == "/peak":
        with lock:
            reply(s, "200 OK", b"%d\n" % state["peak"])
        return True
    if path.startswith("/hold"):
        time.sleep(0.05)
        reply(s, "200 OK", b"held\n")
        return True
    reply(s, "404 Not Found", b"no such thing\n")
    return True


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    print(ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        with lock:
            state["conns"] += 1
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
