#!/usr/bin/env bash
# idle-conns.sh - how much memory an idle connection costs `nettool serve
# echo -m async`, and whether thousands of them are all still served.
# A small Python client opens N connections, does one echo on each, leaves
# them idle, then does one more echo on every one of them; the server's
# VmRSS is read before and after, and the growth per connection printed.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: idle-conns.sh [OPTIONS]
Open N idle connections to `nettool serve echo -m async` and report the
server's memory (VmRSS) growth per connection.

  -n N             connections (default 10000; env IDLE_CONNS)
  --server-cpus L  CPUs for the server, as taskset takes them (default 0)
  --client-cpus L  CPUs for the client (default 1)
  --nettool PATH   the nettool to run (default: this tree's tools/nettool,
                   else nettool in PATH; env NETTOOL)
  -- ARGS...       more options for `nettool serve` (e.g. --stack-size 16k)
  -h, --help       show this help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=${IDLE_CONNS:-10000}
server_cpus=0
client_cpus=1
nettool=${NETTOOL:-}
python=/usr/bin/python3
extra=()

die() { echo "idle-conns.sh: $*" >&2; exit 1; }
usage_error() { echo "idle-conns.sh: $*" >&2; usage >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
    -n) [ $# -ge 2 ] || usage_error "-n needs N"; n=$2; shift ;;
    --server-cpus) [ $# -ge 2 ] || usage_error "--server-cpus needs a list"; server_cpus=$2; shift ;;
    --client-cpus) [ $# -ge 2 ] || usage_error "--client-cpus needs a list"; client_cpus=$2; shift ;;
    --nettool) [ $# -ge 2 ] || usage_error "--nettool needs a path"; nettool=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) usage_error "unknown option '$1'" ;;
    esac
    shift
done
[[ $n =~ ^[1-9][0-9]*$ ]] || usage_error "invalid -n '$n'"

if [ -z "$nettool" ]; then
    if [ -x "$here/../../tools/nettool" ]; then
        nettool=$here/../../tools/nettool
    else
        nettool=$(command -v nettool) || die "no nettool: build the tree or pass --nettool"
    fi
fi
[ -x "$python" ] || python=$(command -v python3) || die "python3 is needed"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
[ "$(nproc)" -ge 2 ] || client_cpus=$server_cpus

# The client needs N descriptors; the server raises its own limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((n + 64)) ] ||
    die "ulimit -n is $(ulimit -n): too low for $n connections (raise the hard limit)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/idle-conns.XXXXXX")
server=
cleanup() {
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --drain 0: at the end the idle connections are cut at once.
taskset -c "$server_cpus" "$nettool" serve echo -m async -l 127.0.0.1:0 --drain 0 \
    ${extra[@]+"${extra[@]}"} </dev/null >/dev/null 2>"$tmp/server.log" &
server=$!
addr=
for ((i = 0; i < 200; i++)); do
    addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$tmp/server.log" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.05
done
[ -n "$addr" ] || { cat "$tmp/server.log" >&2; die "the server did not start"; }

# The client: connect all, one echo each, RSS, one more echo each, RSS.
# It reads the server's VmRSS itself so the readings sit exactly between
# the phases.  (The libtool wrapper in a build tree execs the real binary,
# so $server is the server's pid either way.)
taskset -c "$client_cpus" "$python" - "$addr" "$n" "$server" <<'EOF'
import os, resource, selectors, socket, sys, time

host, port = sys.argv[1].rsplit(":", 1)
n, pid = int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def rss():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit("no VmRSS for pid %d" % pid)

def fds():
    return len(os.listdir("/proc/%d/fd" % pid))

def echo_round(socks, tag):
    """Sends a distinct message on every connection, then checks that each
    one comes back whole; returns how many did."""
    sel = selectors.DefaultSelector()
    want = {}
    for i, s in enumerate(socks):
        msg = ("%s %d\n" % (tag, i)).encode()
        s.sendall(msg)
        want[s] = [msg, b""]
        sel.register(s, selectors.EVENT_READ)
    ok = 0
    deadline = time.monotonic() + 30
    while want and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(4096)
            msg, got = want[s]
            got += data
            if not data or not msg.startswith(got):
                sel.unregister(s)
                del want[s]
                continue
            if got == msg:
                ok += 1
                sel.unregister(s)
                del want[s]
            else:
                want[s][1] = got
    sel.close()
    return ok

base_fds = fds()
rss0 = rss()
t0 = time.monotonic()
socks = []
for i in range(n):
    s = socket.create_connection((host, int(port)), timeout=10)
    socks.append(s)
# Wait until the server has accepted them all (its descriptors show it),
# so the reading below is of connections that have sent nothing yet.
deadline = time.monotonic() + 30
while fds() < base_fds + n and time.monotonic() < deadline:
    time.sleep(0.05)
accepted = fds() - base_fds
time.sleep(0.2)
rss1 = rss()
t1 = time.monotonic()
ok1 = echo_round(socks, "first")
time.sleep(0.2)
rss2 = rss()
ok2 = echo_round(socks, "second")
rss3 = rss()
for s in socks:
    s.close()

kib = lambda b: "%.1f MiB" % (b / 1048576)
print("idle-conns: %d connections to %s (connected in %.2f s, %d accepted)"
      % (n, sys.argv[1], t1 - t0, accepted))
print("  server VmRSS: start %s, connected %s, after one echo each %s, after the second %s"
      % (kib(rss0), kib(rss1), kib(rss2), kib(rss3)))
print("  first echo round:  %d/%d connections answered" % (ok1, n))
print("  second echo round: %d/%d connections answered (all still served: %s)"
      % (ok2, n, "yes" if ok2 == n else "NO"))
print("  RSS growth per connection: %d bytes connected but silent, %d bytes after an echo"
      % ((rss1 - rss0) // n, (rss2 - rss0) // n))
print("  (the kernel's socket memory, a few KB a connection, is not in VmRSS)")
sys.exit(0 if ok1 == n and ok2 == n else 1)
EOF
