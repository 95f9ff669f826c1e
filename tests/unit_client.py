#!/usr/bin/env python3
# unit_client.py - talks to a handler served on a Unix stream socket (the
# socket systemd-socket-activate passed to nettool, in tests/systemd.sh and
# contrib/debian/check-installed.sh) and exits 0 when it answers as that
# handler should, or prints what came instead and exits 1.  Every wait has
# a timeout.
#
#   unit_client.py echo PATH      a line comes back
#   unit_client.py discard PATH   bytes go in, nothing comes back
#   unit_client.py chat PATH      one client's line reaches another
import socket
import sys

TIMEOUT = 10


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    return s


def read_until(s, want):
    """Reads until the bytes want came (True) or the stream ended (False)."""
    got = b""
    while want not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.stdout.write("got: %r\n" % got)
            return False
        got += chunk
    return True


def echo(path):
    with connect(path) as s:
        s.sendall(b"unit echo\n")
        return read_until(s, b"unit echo\n")


def discard(path):
    with connect(path) as s:
        s.sendall(b"x" * 10000)
        s.shutdown(socket.SHUT_WR)
        got = s.recv(4096)  # end of stream, and not a byte before it
        if got:
            sys.stdout.write("got: %r\n" % got)
        return got == b""


def chat(path):
    with connect(path) as a, connect(path) as b:
        a.sendall(b"/nick ann\n")
        if not read_until(a, b"ann"):       # the server took the nick
            return False
        b.sendall(b"/who\n")
        if not read_until(b, b"ann"):       # b is in ann's room
            return False
        a.sendall(b"hello from a unit\n")
        return read_until(b, b"ann: hello from a unit\n")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("echo", "discard", "chat"):
        sys.stderr.write("usage: unit_client.py echo|discard|chat PATH\n")
        return 2
    try:
        ok = globals()[sys.argv[1]](sys.argv[2])
    except OSError as e:
        sys.stdout.write("client error: %r\n" % (e,))
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
