#!/usr/bin/python3
"""chatclient.py - clients for tests/chat.sh against "nettool serve chat".
Each check prints "PASS DESC" or "FAIL DESC (what came)"; the shell turns
them into TAP.  Every read has a timeout, so nothing waits for ever.

  room ADDR HISTORY   broadcast, no self-echo, nicks, /who, /me, notices,
                      logout and /quit, overlong lines, junk, rooms, history
  slow ADDR           a client that never reads is dropped with a notice
                      while two others keep chatting
  pty NETTOOL ADDR    nettool chat on a pseudo-terminal: an incoming line
                      is printed above the typed one, which is redrawn
"""
import os
import pty
import select
import socket
import sys
import time

RESULTS = []


def check(cond, desc, got=None):
    RESULTS.append(cond)
    print(("PASS " if cond else "FAIL ") + desc + ("" if cond or got is None else " (got %r)" % (got,)))
    sys.stdout.flush()


class Client:
    def __init__(self, addr, rcvbuf=None):
        host, port = addr.rsplit(":", 1)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(5)
        self.s.connect((host, int(port)))
        self.buf = b""
        self.greeting = self.line()
        self.nick = self.greeting.split()[3] if self.greeting.startswith("* you are ") else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self, timeout=5.0):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None
            except ConnectionError:
                return "<reset>"
            if not d:
                return "<eof>" if not self.buf else self._take(len(self.buf))
            self.buf += d
        return self._take(self.buf.index(b"\n") + 1)

    def _take(self, n):
        out, self.buf = self.buf[:n], self.buf[n:]
        return out.decode("utf-8", "replace").rstrip("\n")

    def until(self, want, timeout=5.0):
        """Reads lines until one equals want (or starts with it if it ends in
        '*'); returns it or None."""
        end = time.time() + timeout
        while time.time() < end:
            ln = self.line(end - time.time())
            if ln is None or ln in ("<eof>", "<reset>"):
                return ln
            if ln == want or (want.endswith("*") and ln.startswith(want[:-1])):
                return ln
        return None

    def quiet(self, secs=0.3):
        """Nothing arrives within secs (a negative check, bounded)."""
        ln = self.line(secs)
        return ln is None, ln

    def close(self):
        self.s.close()


def room(addr, history):
    a = Client(addr)
    check(a.greeting.startswith("* you are guest") and " in lobby (" in a.greeting,
          "a newcomer gets a guest nick in the lobby", a.greeting)
    a.send("/nick alice\n")
    check(a.until("* you are now alice") is not None, "/nick alice")
    b = Client(addr)
    check(a.until("* %s joined" % b.nick) is not None, "the others see the join notice")
    b.send("/nick bob\n")
    check(b.until("* you are now bob") is not None, "/nick bob")
    check(a.until("* %s is now known as bob" % b.nick) is not None, "the rename is announced")
    c = Client(addr)
    c.send("/nick carol\n")
    c.until("* you are now carol")
    a.until("* carol*")
    b.until("* carol*")
    a.send("hello all\n")
    check(b.until("alice: hello all") is not None and c.until("alice: hello all") is not None,
          "a line reaches both others as NICK: TEXT")
    check(a.quiet()[0], "the sender gets no copy of its own line", a.quiet()[1])
    c.send("/nick bob\n")
    check(c.until("! nick bob is taken") is not None, "a taken nick is refused")
    c.send("/nick BOB\n")
    check(c.until("! nick BOB is taken") is not None, "nicks are unique whatever the case")
    c.send("/nick bad*name\n")
    check(c.until("! invalid nick*") is not None, "an invalid nick is refused")
    c.send("/nick " + "x" * 30 + "\n")
    check(c.until("! invalid nick*") is not None, "an overlong nick is refused")
    c.send("/who\n")
    who = c.until("* in lobby:*")
    check(who is not None and sorted(who.split()[3:]) == ["alice", "bob", "carol"], "/who lists the room", who)
    b.send("/me waves\n")
    check(a.until("* bob waves") is not None and c.until("* bob waves") is not None, "/me")
    a.send("x" * 1500 + "\n")
    check(a.until("! line too long*") is not None, "an overlong line is refused with an error line")
    a.send("still here\n")
    check(b.until("alice: still here") is not None, "and the connection stays usable")
    a.send(b"\xff\xfe bad \xc0\x80\n")
    check(a.until("! not UTF-8*") is not None, "invalid UTF-8 is refused")
    a.send(b"\x00\x01\x02\x1b[2J\x07\x7fjunk\xc2\x9b\n")
    got = b.until("alice: *")
    check(got is not None and "\x1b" not in got and "\x07" not in got and "\x00" not in got and "\u009b" not in got,
          "control bytes never reach the others raw", got)
    a.send(os.urandom(3000) + b"\n")
    a.send("after junk\n")
    check(b.until("alice: after junk") is not None, "binary junk does not break the room")
    a.send("/frob\n")
    check(a.until("! unknown command /frob*") is not None, "an unknown command is refused")
    a.send("//slash\n")
    check(b.until("alice: /slash") is not None, "//TEXT says /TEXT")
    # rooms
    c.send("/join dev\n")
    check(c.until("* you are carol in dev (1 here)*") is not None, "/join dev")
    check(a.until("* carol left for dev") is not None and b.until("* carol left for dev") is not None,
          "the lobby sees carol leave")
    c.send("/rooms\n")
    rooms = c.until("* rooms:*")
    check(rooms == "* rooms: lobby (2), dev (1)", "/rooms lists the rooms and their members", rooms)
    c.send("only dev\n")
    b.send("only lobby\n")
    check(a.until("bob: only lobby") is not None, "the lobby hears the lobby")
    qa, qb = a.quiet(), b.quiet()
    check(qa[0] and qb[0], "and not dev", (qa, qb))
    b.send("/join dev\n")
    check(c.until("* bob joined") is not None, "dev sees bob join")
    got = b.until("carol: only dev") if history else None
    if history:
        check(got is not None, "the history of dev is replayed to whoever joins it")
    d = Client(addr)
    if history:
        seen = []
        while True:
            ln = d.line(0.5)
            if ln is None:
                break
            seen.append(ln)
        check("bob: only lobby" in seen, "a newcomer in the lobby gets the lobby's history", seen)
    # leaving
    a.send("logout\n")
    check(a.until("* bye") is not None and a.line() == "<eof>", "logout ends the session")
    check(d.until("* alice left") is not None, "the others see the leave notice")
    b.send("/quit gone fishing\n")
    check(b.until("* bye") is not None and b.line() == "<eof>", "/quit ends the session")
    check(c.until("* bob left (gone fishing)") is not None, "with its reason in the notice")
    c.close()
    check(d.quiet()[0], "a client in another room hears nothing of it")
    d.send("/rooms\n")
    rooms = d.until("* rooms:*")
    check(rooms == "* rooms: lobby (1)", "an empty room goes", rooms)
    d.close()


def slow(addr):
    s = Client(addr, rcvbuf=4096)
    s.send("/nick bob\n")
    s.until("* you are now bob")
    a = Client(addr)
    b = Client(addr)
    a.send("/nick ann\n")
    a.until("* you are now ann")
    b.until("* ann*")
    line = "y" * 900 + "\n"
    got = 0
    notice = None
    start = time.time()
    # 8 MB through the room: bob's queue and socket fill long before.
    for i in range(9000):
        a.send(line)
        ln = b.line()
        while ln is not None and ln.startswith("* "):
            if ln.startswith("* bob left"):
                notice = ln
            ln = b.line()
        if ln == "ann: " + "y" * 900:
            got += 1
        if notice and i > 200:
            break
    check(notice is not None and notice.startswith("* bob left (too slow, ") and
          notice.endswith(" messages dropped)"), "the client that never read is dropped with a notice", notice)
    n = int(notice.split()[5]) if notice else 0
    check(n > 0, "the notice counts the messages it missed (%d)" % n)
    check(got == i + 1, "every line reached the reader meanwhile (%d of %d)" % (got, i + 1))
    b.send("/who\n")
    who = b.until("* in lobby:*")
    check(who is not None and "bob" not in who.split(), "bob is gone from /who", who)
    s.close()
    a.close()
    b.close()


def pty_check(nettool, addr):
    other = Client(addr)
    other.send("/nick olga\n")
    other.until("* you are now olga")
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(nettool, [nettool, "chat", addr, "--nick", "tina"])
    out = b""

    def read_until(want, secs=5.0, since=0):
        nonlocal out
        end = time.time() + secs
        while want not in out[since:] and time.time() < end:
            r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return want in out[since:]

    check(read_until(b"* you are now tina"), "on a terminal: the greeting and the nick")
    other.until("* tina*")
    os.write(fd, b"half typed")
    check(read_until(b"half typed"), "the typed keys are echoed")
    other.send("incoming!\n")
    mark = len(out)
    check(read_until(b"olga: incoming!", since=mark), "an incoming line is printed meanwhile")
    # The redraw comes after the incoming line: looked for there, not in
    # all the output, where the first echo already reads "> half typed".
    after = out.find(b"olga: incoming!", mark)
    read_until(b"> half typed", 10, since=after)
    tail = out[mark:]
    check(b"\r\x1b[K" in tail and tail.rstrip().endswith(b"> half typed"),
          "the typed line was cleared, and redrawn after it", tail)
    os.write(fd, b" line\r")
    check(other.until("tina: half typed line") is not None, "Enter sends the whole line")
    os.write(fd, b"/quit\r")
    status = None
    end = time.time() + 5
    while time.time() < end:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            status = st
            break
        try:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                os.read(fd, 4096)
        except OSError:
            pass
    check(status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
          "/quit ends it with status 0", status)
    other.close()


def main():
    cmd = sys.argv[1]
    try:
        if cmd == "room":
            room(sys.argv[2], int(sys.argv[3]))
        elif cmd == "slow":
            slow(sys.argv[2])
        elif cmd == "pty":
            pty_check(sys.argv[2], sys.argv[3])
    except Exception as e:  # a crash is one failure, not a hang
        check(False, "%s: no exception" % cmd, repr(e))
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
