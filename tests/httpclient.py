#!/usr/bin/python3
"""httpclient.py - raw HTTP/1.1 clients for tests/serve_http.sh and
tests/http_idle.sh: bytes exactly as a test writes them (pipelined, split
into tiny writes, broken on purpose), and responses parsed strictly, so a
body where none belongs or a length that lies shows up.  Every socket
operation has a timeout; problems go to stderr with exit status 1.

  send ADDR [OPTIONS] REQUEST...
      Sends the REQUESTs (C escapes: \\r \\n \\0 \\xHH) back to back on one
      connection and prints one line per response: "STATUS BODYLEN", then
      " Name=value" for each -H Name and " body=TEXT" with --body.  The last
      line is "closed" when the server closed the connection within
      --eof-wait seconds after the last response (default 3), else "open";
      bytes past the last response add "extra=N".
        --split N       write N bytes at a time (TCP_NODELAY, 1 ms apart)
        --responses N   responses to expect (default: one per request)
        --upto SECS     total time limit (default 10)
  vanish ADDR REQUEST BODYBYTES
      Sends REQUEST and BODYBYTES bytes of a body it promised to be longer,
      then resets the connection.
  noread ADDR BIG SMALL
      Asks for BIG on a connection that never reads, then fetches SMALL
      three times on other connections while the first stays stuck.
  concurrent ADDR PATH
      Sends half a request head on one connection, a whole GET on a second
      (it must be answered meanwhile), then the rest on the first.
  idle ADDR PID N PATH
      Opens N keep-alive connections, GETs PATH on each, and reports PID's
      VmRSS growth per connection (bytes) with the connections idle, then
      GETs PATH again on every one: "GROWTH SERVED".
"""
import os
import socket
import sys
import time


def die(msg):
    sys.stderr.write("httpclient: %s\n" % msg)
    sys.exit(1)


def connect(addr, timeout=5.0):
    host, port = addr.rsplit(":", 1)
    if host.startswith("["):
        host = host[1:-1]
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def unescape(text):
    out = bytearray()
    i = 0
    b = text.encode("utf-8", "surrogateescape")
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):  # backslash
            n = b[i + 1]
            if n == ord("r"):
                out.append(13)
            elif n == ord("n"):
                out.append(10)
            elif n == ord("t"):
                out.append(9)
            elif n == ord("0"):
                out.append(0)
            elif n == ord("\\"):
                out.append(0x5C)
            elif n == ord("x"):
                out.append(int(b[i + 2:i + 4], 16))
                i += 2
            else:
                out += bytes([c, n])
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


class Reader:
    """Buffered reads with an overall deadline."""

    def __init__(self, sock, deadline):
        self.s = sock
        self.buf = b""
        self.eof = False
        self.deadline = deadline

    def more(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.s.settimeout(left)
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def until(self, sep):
        while sep not in self.buf:
            if self.eof or not self.more():
                return None
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def take(self, n):
        while len(self.buf) < n:
            if self.eof or not self.more():
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self):
        while not self.eof and self.more():
            pass
        out, self.buf = self.buf, b""
        return out


def read_response(r, method):
    """(status, headers dict lower-cased, body) or None at a clean EOF."""
    head = r.until(b"\r\n\r\n")
    if head is None:
        if r.buf:
            die("incomplete response head: %r" % r.buf[:200])
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        die("bad status line %r" % lines[0])
    status = int(parts[1])
    hdrs = {}
    for ln in lines[1:]:
        if not ln:
            continue
        k, _, v = ln.partition(":")
        k = k.strip().lower()
        if k in hdrs:
            hdrs[k] += ", " + v.strip()
        else:
            hdrs[k] = v.strip()
    if status < 200 or status in (204, 304) or method == "HEAD":
        return status, hdrs, b""
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        body = r.take(n)
        if len(body) != n:
            die("body cut short: %d of %d bytes" % (len(body), n))
        return status, hdrs, body
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            line = r.until(b"\r\n")
            size = int(line.split(b";")[0], 16)
            if size == 0:  # trailers, then the blank line
                while r.until(b"\r\n") not in (None, b"\r\n"):
                    pass
                return status, hdrs, body
            body += r.take(size)
            r.take(2)
    return status, hdrs, r.rest()


def methods_of(data):
    """The methods of the requests in data, in order (heads only: a body
    with something that looks like a request line would confuse it, and
    the tests do not send one)."""
    out = []
    for chunk in data.split(b"\r\n\r\n"):
        line = chunk.lstrip(b"\r\n").split(b"\r\n", 1)[0]
        if b" " in line and b"HTTP/" in line:
            out.append(line.split(b" ", 1)[0].decode("latin-1"))
    return out


def show(text):
    return text.decode("utf-8", "backslashreplace").replace("\n", "\\n").replace("\r", "\\r")


def cmd_send(args):
    addr = args.pop(0)
    split, want, upto, eof_wait = 0, None, 10.0, 3.0
    names, body, reqs = [], False, []
    while args:
        a = args.pop(0)
        if a == "--split":
            split = int(args.pop(0))
        elif a == "--responses":
            want = int(args.pop(0))
        elif a == "--upto":
            upto = float(args.pop(0))
        elif a == "--eof-wait":
            eof_wait = float(args.pop(0))
        elif a == "-H":
            names.append(args.pop(0))
        elif a == "--body":
            body = True
        else:
            reqs.append(unescape(a))
    data = b"".join(reqs)
    methods = methods_of(data)
    if want is None:
        want = len(methods) or 1
    s = connect(addr)
    deadline = time.monotonic() + upto
    if split:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), split):
            try:
                s.sendall(data[i:i + split])
            except OSError:
                break  # the server answered and closed early: read that
            time.sleep(0.001)  # pacing, so each write is its own segment
    else:
        s.sendall(data)
    r = Reader(s, deadline)
    out = []
    got = 0
    while got < want:
        m = methods[got] if got < len(methods) else "GET"
        res = read_response(r, m)
        if res is None:
            break
        status, hdrs, b = res
        line = "%d %d" % (status, len(b))
        for n in names:
            line += " %s=%s" % (n, hdrs.get(n.lower(), "-"))
        if body:
            line += " body=" + show(b)
        out.append(line)
        if status >= 200:
            got += 1
    r.deadline = min(deadline, time.monotonic() + eof_wait)
    try:
        extra = r.rest()
        closed = True
    except socket.timeout:
        extra = r.buf
        closed = False
    out.append("closed" if closed else "open")
    if extra:
        out[-1] += " extra=%d" % len(extra)
    print("\n".join(out))


def cmd_vanish(addr, req, n):
    s = connect(addr)
    s.sendall(unescape(req) + b"v" * n)
    # SO_LINGER 0: close sends a reset, the rudest way to go.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def get_ok(addr, path):
    s = connect(addr)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
    r = Reader(s, time.monotonic() + 5)
    res = read_response(r, "GET")
    s.close()
    return res is not None and res[0] == 200


def cmd_noread(addr, big, small):
    host, port = addr.rsplit(":", 1)
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.settimeout(5)
    stuck.connect((host, int(port)))
    stuck.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % big.encode())
    for i in range(3):
        if not get_ok(addr, small):
            die("request %d for %s not served while a client does not read" % (i + 1, small))
    stuck.close()
    print("served")


def cmd_concurrent(addr, path):
    a = connect(addr)
    req = b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode()
    a.sendall(req[:10])
    if not get_ok(addr, path):
        die("second client not served while the first is mid-head")
    a.sendall(req[10:])
    res = read_response(Reader(a, time.monotonic() + 5), "GET")
    if res is None or res[0] != 200:
        die("first client not served after all: %r" % (res,))
    print("both")


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    die("no VmRSS for %d" % pid)


def exchange_all(socks, req):
    """One request on every socket, answers read as they come (select), so
    that N connections cost about N round trips of CPU, not N timeouts."""
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        s.sendall(req)  # small: fits any socket buffer at once
        sel.register(s, selectors.EVENT_READ, [b""])
    pending = len(socks)
    ok = 0
    deadline = time.monotonic() + 120
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(min(left, 1.0)):
            buf = key.data
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                buf[0] += d
                head, sep, rest = buf[0].partition(b"\r\n\r\n")
                if not sep:
                    continue
                n = 0
                for ln in head.split(b"\r\n"):
                    if ln.lower().startswith(b"content-length:"):
                        n = int(ln.split(b":")[1])
                if len(rest) < n:
                    continue
                if head.startswith(b"HTTP/1.1 200 "):
                    ok += 1
            sel.unregister(key.fileobj)
            pending -= 1
    sel.close()
    for s in socks:
        s.setblocking(True)
    return ok


def cmd_idle(addr, pid, n, path):
    host, port = addr.rsplit(":", 1)
    req = b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode()
    # Warm up: the server's first requests allocate what every later one
    # reuses (buffer caches, the stack pool).
    warm = [connect(addr) for _ in range(20)]
    exchange_all(warm, req)
    for s in warm:
        s.close()
    base = rss(pid)
    socks = []
    for i in range(n):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect((host, int(port)))
        except OSError as e:
            die("connection %d: %s" % (i, e))
        socks.append(s)
    served1 = exchange_all(socks, req)
    # The connections are idle now; give the server a moment to finish
    # the last answers (bounded polling of its RSS, not a fixed sleep).
    end = time.monotonic() + 2
    last = rss(pid)
    while time.monotonic() < end:
        time.sleep(0.1)
        cur = rss(pid)
        if cur == last:
            break
        last = cur
    growth = (last - base) / n
    served2 = exchange_all(socks, req)
    for s in socks:
        s.close()
    print("%d %s" % (growth, "yes" if served1 == n and served2 == n else
                     "no(%d,%d of %d)" % (served1, served2, n)))


def main(argv):
    if len(argv) < 3:
        die(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "send":
        cmd_send(args)
    elif cmd == "vanish":
        cmd_vanish(args[0], args[1], int(args[2]))
    elif cmd == "noread":
        cmd_noread(args[0], args[1], args[2])
    elif cmd == "concurrent":
        cmd_concurrent(args[0], args[1])
    elif cmd == "idle":
        cmd_idle(args[0], int(args[1]), int(args[2]), args[3])
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except (OSError, socket.timeout) as e:
        die(str(e))
