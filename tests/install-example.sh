#!/bin/sh
# install-example.sh - installs the built tree into a temporary DESTDIR and
# builds contrib/examples/upper.c and pool.c against it with pkg-config and
# the shipped Makefile, as a user would; then runs them and checks their
# answers.  TAP.
# Works in place and under `make distcheck` (VPATH build, read-only srcdir).

set -u

# make check runs tests from the top build directory; $0 is in srcdir/tests.
srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${abs_top_builddir:-$(pwd)}
MAKE=${MAKE:-make}
T=${TEST_TIMEOUT_SCALE:-1}

echo "1..8"

n=0
tmp=
pid=
pass() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); echo "not ok $n - $*"; }
# After a step everything else depends on fails, the rest cannot run.  The
# "not ok" line already tells the failure: the exit status stays 0 so the
# TAP driver does not count it twice.
skip_rest() {
    while [ "$n" -lt 8 ]; do n=$((n + 1)); echo "ok $n # SKIP $*"; done
    exit 0
}
diag() { sed 's/^/# /' "$@"; }
cleanup() {
    # timeout(1) passes TERM on to upper; its own -s KILL is the backstop.
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; fi
    if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

if [ ! -f "$builddir/Makefile" ] || [ ! -f "$srcdir/contrib/examples/upper.c" ]; then
    echo "Bail out! no build tree at $builddir or no source tree at $srcdir"
    exit 1
fi
# Settings of this build: the compiler, and the sanitizer flags a program
# linked with an instrumented library needs too.
mkvar() { sed -n "s/^$1 = //p" "$builddir/Makefile" | head -n 1; }
CC=$(mkvar CC)
SAN_CFLAGS=$(mkvar SAN_CFLAGS)
SAN_LDFLAGS=$(mkvar SAN_LDFLAGS)
: "${CC:=cc}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsrv-install.XXXXXX") || exit 1
dest=$tmp/root

# 1. Install.  MAKEFLAGS of the make running the tests is not ours to
# share (its jobserver is not open to tests); the tree is already built.
if env -u MAKEFLAGS -u MFLAGS timeout $((300 * T)) \
        "$MAKE" -C "$builddir" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
    pass "make install DESTDIR=TMP"
else
    fail "make install DESTDIR=TMP"; diag "$tmp/install.log"
    skip_rest "installation failed"
fi

# 2. pkg-config finds the installed library, and only that one.
pc=$(find "$dest" -name libnetsrv.pc | head -n 1)
so=$(find "$dest" -name 'libnetsrv.so*' | head -n 1)
hdr=$(find "$dest" -name netsrv.h | head -n 1)
if [ -n "$pc" ] && [ -n "$so" ] && [ -n "$hdr" ]; then
    PKG_CONFIG_LIBDIR=$(dirname "$pc")
    PKG_CONFIG_SYSROOT_DIR=$dest
    export PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
    unset PKG_CONFIG_PATH
    libdir=$(dirname "$so")
    flags=$(pkg-config --cflags --libs libnetsrv 2>&1 | tr -s " \n" "  ")
    flags=${flags% }
    case "$flags" in
    *"-I$(dirname "$hdr")"*"-L$libdir"*|*"-L$libdir"*"-I$(dirname "$hdr")"*)
        pass "pkg-config libnetsrv: $flags" ;;
    *)
        fail "pkg-config libnetsrv points into TMP"
        echo "# got: $flags"; echo "# want -I$(dirname "$hdr") -L$libdir"
        skip_rest "no usable libnetsrv.pc" ;;
    esac
else
    fail "installed libnetsrv.pc, libnetsrv.so and netsrv.h"
    find "$dest" | diag
    skip_rest "incomplete installation"
fi

# 3. Build the example with its own Makefile, out of the (read-only) source
# directory, against the installed library only.
mkdir "$tmp/build"
if (cd "$tmp/build" && env -u MAKEFLAGS -u MFLAGS timeout $((120 * T)) \
        "$MAKE" -f "$srcdir/contrib/examples/Makefile" \
        VPATH="$srcdir/contrib/examples" CC="$CC" \
        CFLAGS="-O1 -g -Wall -Wextra -Werror $SAN_CFLAGS" \
        LDFLAGS="$SAN_LDFLAGS -Wl,-rpath,$libdir" upper) >"$tmp/build.log" 2>&1 &&
        [ -x "$tmp/build/upper" ]; then
    pass "cc upper.c \$(pkg-config --cflags --libs libnetsrv)"
else
    fail "build contrib/examples/upper.c"; diag "$tmp/build.log"
    skip_rest "example did not build"
fi

# 4. Start it on a free port; it says where it listens on stderr.
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    timeout -s KILL $((60 * T)) "$tmp/build/upper" 127.0.0.1:0 thread \
    </dev/null >"$tmp/upper.out" 2>"$tmp/upper.err" &
pid=$!
addr=
i=0
while [ $i -lt $((100 * T)) ]; do
    addr=$(sed -n 's/^upper: listening on //p' "$tmp/upper.err")
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
case "$addr" in
127.0.0.1:[1-9]*)
    pass "upper listens on $addr" ;;
*)
    fail "upper prints 'listening on 127.0.0.1:PORT'"; diag "$tmp/upper.err"
    skip_rest "server did not start" ;;
esac

# 5. A line comes back in upper case.
port=${addr##*:}
if command -v python3 >/dev/null 2>&1; then
    reply=$(timeout $((20 * T)) python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"hello, libnetsrv 1\n")
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("ascii", "replace"))
' "$port" 2>&1)
elif command -v socat >/dev/null 2>&1; then
    reply=$(printf 'hello, libnetsrv 1\n' |
            timeout $((20 * T)) socat -t 5 - "TCP:127.0.0.1:$port" 2>&1)
else
    reply="(no client: install python3 or socat)"
fi
if [ "$reply" = "HELLO, LIBNETSRV 1" ]; then
    pass "reply is upper case"
else
    fail "reply is upper case"; echo "# got: $reply"; diag "$tmp/upper.err"
fi

# 6. SIGTERM stops it cleanly (exit status 0) within a few seconds.
kill -TERM "$pid"
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt $((100 * T)) ]; do
    sleep 0.1
    i=$((i + 1))
done
if kill -0 "$pid" 2>/dev/null; then
    fail "SIGTERM stops upper within 10 s"
else
    wait "$pid"
    status=$?
    pid=
    if [ "$status" -eq 0 ]; then
        pass "SIGTERM stops upper, exit status 0"
    else
        fail "SIGTERM stops upper, exit status 0 (got $status)"; diag "$tmp/upper.err"
    fi
fi

# 7. The pool example builds the same way.
if (cd "$tmp/build" && env -u MAKEFLAGS -u MFLAGS timeout $((120 * T)) \
        "$MAKE" -f "$srcdir/contrib/examples/Makefile" \
        VPATH="$srcdir/contrib/examples" CC="$CC" \
        CFLAGS="-O1 -g -Wall -Wextra -Werror $SAN_CFLAGS" \
        LDFLAGS="$SAN_LDFLAGS -Wl,-rpath,$libdir" pool) >"$tmp/build-pool.log" 2>&1 &&
        [ -x "$tmp/build/pool" ]; then
    pass "cc pool.c \$(pkg-config --cflags --libs libnetsrv)"
else
    fail "build contrib/examples/pool.c"; diag "$tmp/build-pool.log"
    skip_rest "pool example did not build"
fi

# 8. It squares 1..20 in 3 workers: every square once.
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    timeout -s KILL $((60 * T)) "$tmp/build/pool" 3 20 \
    </dev/null >"$tmp/pool.out" 2>"$tmp/pool.err"
status=$?
want=$(i=1; while [ $i -le 20 ]; do echo "$i^2 = $((i * i))"; i=$((i + 1)); done)
got=$(sort -n "$tmp/pool.out")
if [ "$status" -eq 0 ] && [ "$got" = "$want" ]; then
    pass "pool 3 20 prints the 20 squares, exit status 0"
else
    fail "pool 3 20 prints the 20 squares (exit status $status)"
    diag "$tmp/pool.out"; diag "$tmp/pool.err"
fi

# The result is in the TAP lines above.
exit 0
