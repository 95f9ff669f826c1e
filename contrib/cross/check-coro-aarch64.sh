#!/bin/sh
# contrib/cross/check-coro-aarch64.sh - runs the coroutine test (tests/coro.c)
# on the switches `make check` cannot reach on an x86-64 machine:
#   1. the AArch64 assembly switch (libnetsrv/coro_switch_aarch64.S), built
#      statically with a cross compiler and run under qemu-user;
#   2. the ucontext fallback (-DNETSRV_CORO_UCONTEXT), built natively.
# Only coro.c, the two .S files (each assembles to nothing on the other
# machine) and the test are compiled: the rest of the library and its
# dependencies are not needed.  Prints each run's TAP; exits 0 when both
# passed.  On Debian: apt-get install gcc-aarch64-linux-gnu qemu-user
# (or qemu-user-static).  CC_AARCH64, QEMU_AARCH64 and CC_NATIVE override
# the tools.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
cc_aarch64=${CC_AARCH64:-aarch64-linux-gnu-gcc}
cc_native=${CC_NATIVE:-gcc}
qemu=${QEMU_AARCH64:-}
if [ -z "$qemu" ]; then
    for q in qemu-aarch64-static qemu-aarch64; do
        if command -v "$q" >/dev/null 2>&1; then qemu=$q; break; fi
    done
fi
missing=""
command -v "$cc_aarch64" >/dev/null 2>&1 || missing="$missing $cc_aarch64 (Debian: gcc-aarch64-linux-gnu)"
[ -n "$qemu" ] && command -v "$qemu" >/dev/null 2>&1 ||
    missing="$missing qemu-aarch64 (Debian: qemu-user or qemu-user-static)"
command -v "$cc_native" >/dev/null 2>&1 || missing="$missing $cc_native"
if [ -n "$missing" ]; then
    echo "check-coro-aarch64: missing:$missing" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsrv-cross.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# coro.c includes the configure-made config.h: all it needs of it is
# _GNU_SOURCE (MAP_STACK, MAP_NORESERVE).
printf '#define _GNU_SOURCE 1\n' >"$tmp/config.h"

warn="-Wall -Wextra -Wno-unused-parameter"
src="$top/libnetsrv/coro.c $top/tests/coro.c"
status=0

run() { # NAME BINARY [RUNNER]
    name=$1 bin=$2
    shift 2
    echo "# $name"
    "$@" "$bin"
    rc=$?
    if [ "$rc" != 0 ]; then
        echo "# $name: exit status $rc"
        status=1
    fi
}

# 1. AArch64: the assembly switch, under qemu.
# shellcheck disable=SC2086
if "$cc_aarch64" -static -O2 $warn -pthread -I"$tmp" -I"$top/libnetsrv" \
    -o "$tmp/coro-aarch64" $src \
    "$top/libnetsrv/coro_switch_aarch64.S" "$top/libnetsrv/coro_switch_x86_64.S"; then
    run "aarch64 (assembly switch) under $qemu" "$tmp/coro-aarch64" "$qemu"
else
    echo "not ok - aarch64: the test did not build with $cc_aarch64"
    status=1
fi

# 2. The ucontext fallback, natively.
# shellcheck disable=SC2086
if "$cc_native" -O2 $warn -pthread -DNETSRV_CORO_UCONTEXT -I"$tmp" -I"$top/libnetsrv" \
    -o "$tmp/coro-ucontext" $src; then
    run "$(uname -m) (ucontext fallback)" "$tmp/coro-ucontext"
else
    echo "not ok - ucontext: the test did not build with $cc_native"
    status=1
fi

exit "$status"
