#!/bin/sh
# install-example.sh - installs the built tree into a temporary DESTDIR and
# builds every contrib/examples program (upper, dgram, greet, pool, fetch)
# against it with pkg-config and the shipped Makefile, as a user would;
# then runs them and checks their answers (tests/examples_lib.sh).  TAP.
# Works in place and under `make distcheck` (VPATH build, read-only srcdir).

set -u

# make check runs tests from the top build directory; $0 is in srcdir/tests.
srcdir=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${abs_top_builddir:-$(pwd)}
MAKE=${MAKE:-make}
T=${TEST_TIMEOUT_SCALE:-1}

. "$srcdir/tests/examples_lib.sh"
plan=$((2 + EX_TESTS))
echo "1..$plan"

n=0
tmp=
pass() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); echo "not ok $n - $*"; }
# After a step everything else depends on fails, the rest cannot run.  The
# "not ok" line already tells the failure: the exit status stays 0 so the
# TAP driver does not count it twice.
skip_rest() {
    while [ "$n" -lt "$plan" ]; do n=$((n + 1)); echo "ok $n # SKIP $*"; done
    exit 0
}
diag() { sed 's/^/# /' "$@"; }
cleanup() {
    ex_cleanup
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

# 3 and on.  Every example, built with its own Makefile out of the
# (read-only) source directory against the installed library only, then
# run: tests/examples_lib.sh, which contrib/debian/check-installed.sh runs
# against the .deb packages too.
mkdir "$tmp/build"
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
diag_file() { [ -f "$1" ] && diag "$1"; }
EX_SRC=$srcdir/contrib/examples
EX_OUT=$tmp/build
EX_NETTOOL=$builddir/tools/nettool
EX_CLIENT=$srcdir/tests/example_client.py
EX_CC=$CC
EX_CFLAGS="-O1 -g -Wall -Wextra -Werror $SAN_CFLAGS"
EX_LDFLAGS="$SAN_LDFLAGS -Wl,-rpath,$libdir"
EX_T=$T
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
if ! command -v python3 >/dev/null 2>&1; then
    skip_rest "no python3 for the examples' clients"
fi
ex_all

# The result is in the TAP lines above.
exit 0
