#!/usr/bin/python3
"""chat_load.py - load client for chat-bench.sh: N chat clients on one
epoll loop.  Works against any line chat server that relays a line to the
other clients ("nettool serve chat", "ncat --chat"): it only looks for a
marker in what arrives.  Prints one number.

  fanout ADDR N            one line to N-1 others: ms until all have it
  bulk ADDR SENDERS MB SLOW  SENDERS chatters send MB in all; seconds
                           until every chatter has everyone else's lines
                           (SLOW=1: one more client joins first and never
                           reads)
  rate ADDR N MSGS         one client sends MSGS lines to N-1 others at
                           once: deliveries per second
  paced ADDR N MSGS        the same, each line sent when all have the last
"""
import select
import socket
import sys
import time


def connect(addr, n, rcvbuf=None):
    host, port = addr.rsplit(":", 1)
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect((host, int(port)))
        s.setblocking(False)
        socks.append(s)
    return socks


def drain(socks, quiet=0.5):
    """Reads whatever comes (greetings, join notices) until quiet."""
    ep = select.epoll()
    for s in socks:
        ep.register(s.fileno(), select.EPOLLIN)
    by = {s.fileno(): s for s in socks}
    while True:
        ev = ep.poll(quiet)
        if not ev:
            break
        for fd, _ in ev:
            try:
                by[fd].recv(1 << 20)
            except BlockingIOError:
                pass
    ep.close()


def wait_counts(socks, marker, want, timeout=120):
    """Until each socket has seen want[i] markers; returns the time."""
    ep = select.epoll()
    by = {}
    left = 0
    for i, s in enumerate(socks):
        if want[i] > 0:
            ep.register(s.fileno(), select.EPOLLIN)
            by[s.fileno()] = [s, want[i], b""]
            left += 1
    end = time.time() + timeout
    while left and time.time() < end:
        for fd, _ in ep.poll(1):
            st = by[fd]
            try:
                d = st[0].recv(1 << 20)
            except BlockingIOError:
                continue
            if not d:
                raise SystemExit("a client was closed")
            buf = st[2] + d
            st[1] -= buf.count(marker)
            st[2] = buf[-(len(marker) - 1):] if len(marker) > 1 else b""
            if st[1] <= 0:
                ep.unregister(fd)
                left -= 1
    ep.close()
    if left:
        raise SystemExit("timed out")
    return time.time()


def fanout(addr, n):
    socks = connect(addr, n)
    drain(socks)
    t0 = time.time()
    socks[0].send(b"PING-MARK\n")
    t1 = wait_counts(socks, b"PING-MARK", [0] + [1] * (n - 1))
    print("%.1f" % ((t1 - t0) * 1000))


def bulk(addr, senders, mb, slow):
    """In rounds: every chatter sends K lines, then all wait until each has
    the others' lines, so a chatter's queue on the server stays well below
    its cap however slow this client is at reading."""
    extra = connect(addr, 1, rcvbuf=4096) if slow else []
    socks = connect(addr, senders)
    drain(socks)
    line = b"B" * 998 + b"\n"
    k = 10
    rounds = max(1, int(mb * 1e6 / len(line) / senders / k))
    t0 = time.time()
    for _ in range(rounds):
        for s in socks:
            s.setblocking(True)
            s.sendall(line * k)
            s.setblocking(False)
        wait_counts(socks, b"B" * 998, [k * (senders - 1)] * senders)
    print("%.3f" % (time.time() - t0))
    for s in extra:
        s.close()


def rate(addr, n, msgs):
    socks = connect(addr, n)
    drain(socks)
    lines = b"".join(b"RATE-%06d\n" % i for i in range(msgs))
    t0 = time.time()
    socks[0].setblocking(True)
    socks[0].sendall(lines)
    socks[0].setblocking(False)
    # Lines are counted by their newlines, not by a marker: ncat --chat
    # puts its "<userN> " before each piece it read, which may fall in the
    # middle of a line (and of a marker).
    t1 = wait_counts(socks, b"\n", [0] + [msgs] * (n - 1))
    print("%.0f" % (msgs * (n - 1) / (t1 - t0)))


def paced(addr, n, msgs):
    """One line at a time, the next sent when every other client has the
    last: a chat's pace, where no relay can merge lines into one write."""
    socks = connect(addr, n)
    drain(socks)
    ep = select.epoll()
    for s in socks[1:]:
        ep.register(s.fileno(), select.EPOLLIN)
    by = {s.fileno(): s for s in socks[1:]}
    seen = {fd: 0 for fd in by}
    t0 = time.time()
    for i in range(msgs):
        socks[0].send(b"PACE-%06d\n" % i)
        left = [fd for fd in by if seen[fd] <= i]
        end = time.time() + 30
        while left:
            if time.time() > end:
                raise SystemExit("timed out")
            for fd, _ in ep.poll(1):
                try:
                    seen[fd] += by[fd].recv(1 << 20).count(b"\n")
                except BlockingIOError:
                    pass
            left = [fd for fd in left if seen[fd] <= i]
    t1 = time.time()
    print("%.0f" % (msgs * (n - 1) / (t1 - t0)))


if __name__ == "__main__":
    cmd, addr = sys.argv[1], sys.argv[2]
    if cmd == "fanout":
        fanout(addr, int(sys.argv[3]))
    elif cmd == "bulk":
        bulk(addr, int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "rate":
        rate(addr, int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "paced":
        paced(addr, int(sys.argv[3]), int(sys.argv[4]))
