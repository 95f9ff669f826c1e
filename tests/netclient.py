#!/usr/bin/python3
"""netclient.py - test clients the shell tests need where nettool echo is
not enough.  Each subcommand prints what went wrong on stderr and exits 0
on success, 1 on failure.  Every socket operation has a timeout.

  silent ADDR          a silent client must not block a second one
  inflight ADDR PID    SIGTERM PID mid-request; the request still completes
  perip ADDR           --per-ip 1: a second connection is closed at once
  maxconns ADDR N CAP  N clients, CAP served at once, the rest wait
  hold ADDR            connect, never close; print all until the server's EOF
  flood ADDR PID N SECS  hold N connections SECS seconds; print the server's
                       CPU ticks used meanwhile
  slurp ADDR SECS      connect, never send; print what comes as it comes,
                       until the server's EOF (at most SECS seconds in all)
  bulk ADDR N SEND RCVBUF CHUNK  send SEND bytes nobody reads, then read
                       slowly (receive buffer RCVBUF, CHUNK bytes a recv)
                       until EOF: exactly N bytes and a clean EOF, no reset
"""
import os
import signal
import socket
import sys
import time


def connect(addr, timeout=5.0):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr[5:])
        return s
    host, port = addr.rsplit(":", 1)
    if host.startswith("["):
        host = host[1:-1]
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def readline(s, timeout=5.0):
    s.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return buf


def closed_soon(s, timeout):
    """True when the peer closes (EOF or reset) within timeout seconds."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def die(msg):
    sys.stderr.write("netclient: %s\n" % msg)
    sys.exit(1)


def cmd_silent(addr):
    a = connect(addr)  # says nothing
    b = connect(addr)
    b.sendall(b"b\n")
    got = readline(b)
    if got != b"b\n":
        die("second client got %r while the first was silent" % got)
    a.sendall(b"a\n")
    got = readline(a)
    if got != b"a\n":
        die("the silent client, speaking at last, got %r" % got)


def cmd_inflight(addr, pid):
    s = connect(addr)
    s.sendall(b"a\n")
    if readline(s) != b"a\n":
        die("no first echo")
    os.kill(pid, signal.SIGTERM)
    # Wait (bounded) until the server stops listening: the shutdown is on.
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:
            connect(addr, 1).close()
        except OSError:
            break
        time.sleep(0.01)
    s.sendall(b"b\n")
    got = readline(s)
    if got != b"b\n":
        die("request in flight cut short after SIGTERM: got %r" % got)
    s.shutdown(socket.SHUT_WR)
    if not closed_soon(s, 5):
        die("no EOF after our half-close")


def cmd_perip(addr):
    a = connect(addr)
    a.sendall(b"a\n")
    if readline(a) != b"a\n":
        die("first client not served")
    b = connect(addr)
    t0 = time.monotonic()
    try:
        b.sendall(b"b\n")
    except OSError:
        pass
    if not closed_soon(b, 3) or time.monotonic() - t0 > 2:
        die("second connection from the same IP was not closed at once")
    a.sendall(b"a2\n")
    if readline(a) != b"a2\n":
        die("first client no longer served")


def cmd_maxconns(addr, n, cap):
    socks = [connect(addr, 10) for _ in range(n)]
    for i, s in enumerate(socks):
        s.sendall(b"c%d\n" % i)
    for i in range(cap):
        if readline(socks[i], 10) != b"c%d\n" % i:
            die("client %d (within the cap) not served" % i)
    socks[cap].settimeout(0.5)
    try:
        early = socks[cap].recv(16)
    except socket.timeout:
        early = None
    if early is not None:
        die("client %d served beyond the cap of %d (got %r)" % (cap, cap, early))
    for s in socks[:cap]:
        s.close()
    for i in range(cap, n):
        got = readline(socks[i], 10)
        if got != b"c%d\n" % i:
            die("client %d (waiting beyond the cap) never served: %r" % (i, got))
        socks[i].close()


def cmd_hold(addr):
    s = connect(addr)
    out = b""
    s.settimeout(5)
    while True:
        try:
            d = s.recv(4096)
        except socket.timeout:
            die("no EOF within 5 s (got %r)" % out)
        if not d:
            break
        out += d
    sys.stdout.buffer.write(out)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def cmd_flood(addr, pid, n, secs):
    socks = []
    for _ in range(n):
        try:
            socks.append(connect(addr, 5))
        except OSError as e:
            die("connection %d failed: %s" % (len(socks), e))
    # Some are accepted (up to the server's descriptor limit), the rest
    # wait in the backlog; none of them ever speaks.
    before = cpu_ticks(pid)
    time.sleep(secs)  # the measuring window, not synchronisation
    after = cpu_ticks(pid)
    for s in socks:
        s.close()
    print(after - before)


def cmd_slurp(addr, secs):
    s = connect(addr)
    end = time.monotonic() + secs
    out = sys.stdout.buffer
    while True:
        left = end - time.monotonic()
        if left <= 0:
            die("no EOF within %g s" % secs)
        s.settimeout(left)
        try:
            d = s.recv(4096)
        except socket.timeout:
            die("no EOF within %g s" % secs)
        if not d:
            break
        out.write(d)
        out.flush()


def cmd_bulk(addr, n, send, rcvbuf, chunk):
    host, port = addr.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Set before connecting: the window stays small, so most of the
    # response waits in the server's send queue while we read.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((host, int(port)))
    s.sendall(b"u" * send)
    got = 0
    k = 0
    while True:
        # Slow (pacing, not synchronisation): the server ends the
        # connection while most of its output still waits to be sent.
        k += 1
        if k % 16 == 0:
            time.sleep(0.001)
        try:
            d = s.recv(chunk)
        except socket.timeout:
            die("stalled after %d of %d bytes" % (got, n))
        except ConnectionResetError:
            die("connection reset after %d of %d bytes" % (got, n))
        if not d:
            break
        got += len(d)
    if got != n:
        die("clean EOF, but after %d of %d bytes" % (got, n))


def main(argv):
    if len(argv) < 3:
        die(__doc__)
    cmd, addr = argv[1], argv[2]
    if cmd == "silent":
        cmd_silent(addr)
    elif cmd == "inflight":
        cmd_inflight(addr, int(argv[3]))
    elif cmd == "perip":
        cmd_perip(addr)
    elif cmd == "maxconns":
        cmd_maxconns(addr, int(argv[3]), int(argv[4]))
    elif cmd == "hold":
        cmd_hold(addr)
    elif cmd == "slurp":
        cmd_slurp(addr, float(argv[3]))
    elif cmd == "bulk":
        cmd_bulk(addr, int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6]))
    elif cmd == "flood":
        cmd_flood(addr, int(argv[3]), int(argv[4]), float(argv[5]))
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except OSError as e:
        die(str(e))
