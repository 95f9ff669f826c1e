#!/usr/bin/env python3
# example_client.py - the client half of each contrib/examples server, for
# tests/examples_lib.sh: talks to one, prints what it answered, one reply
# per line, and exits 0; or prints why not and exits 1.  Every wait has a
# timeout, so a silent server cannot hang a test.
#
#   example_client.py upper PORT      one line, its upper-case answer
#   example_client.py dgram PORT      one UDP datagram, its reply
#   example_client.py greet PORT      the greeting conversation
import socket
import sys

TIMEOUT = 10


def lines_of(sock):
    """Yields the lines the peer sends, without their newline."""
    buf = b""
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode("utf-8", "replace")
        chunk = sock.recv(4096)
        if not chunk:
            if buf:
                yield buf.decode("utf-8", "replace")
            return
        buf += chunk


def upper(port):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"hello, libnetsrv 1\n")
        print(next(lines_of(s)))


def dgram(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(("127.0.0.1", port))
        s.send(b"abc")
        print(s.recv(70000).decode("utf-8", "replace"))


def greet(port):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        lines = lines_of(s)
        print(next(lines))        # the server speaks first
        s.sendall(b"ann\n")
        print(next(lines))
        # Two lines in one packet: each is still one call of the handler.
        s.sendall(b"first line\nsecond\n")
        print(next(lines))
        print(next(lines))
        s.sendall(b"bye\n")
        print(next(lines))
        for extra in lines:       # then the server closes
            print(extra)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("upper", "dgram", "greet"):
        sys.stderr.write("usage: example_client.py upper|dgram|greet PORT\n")
        return 2
    try:
        globals()[sys.argv[1]](int(sys.argv[2]))
    except (OSError, StopIteration) as e:
        print("client error: %r" % (e,))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
