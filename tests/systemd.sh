#!/bin/sh
# tests/systemd.sh - the systemd unit pairs in contrib/systemd, checked with
# systemd-analyze verify and run with systemd-socket-activate against the
# built nettool (tests/units_lib.sh).  TAP.  A check is skipped, with the
# reason, only when the systemd tools are not installed.
srcdir=$(cd "${top_srcdir:-.}" && pwd)
. "$srcdir/tests/lib.sh"
. "$srcdir/tests/units_lib.sh"

real_nettool
diag_file() { [ -f "$1" ] && sed 's/^/# /' "$1"; }
skip() { t_skip 1 "$@"; }

U_DIR=$srcdir/contrib/systemd
U_NETTOOL=$(cd "$(dirname "$REAL_NETTOOL")" && pwd)/$(basename "$REAL_NETTOOL")
U_TMP=$T/units
U_CLIENT=$srcdir/tests/unit_client.py
U_PY=$PY
# The units' Documentation=man:nettool(1) is checked against this tree's page.
mkdir -p "$U_TMP/man/man1"
cp "$srcdir/doc/nettool.1" "$U_TMP/man/man1/nettool.1"
U_MAN=$U_TMP/man
command -v man >/dev/null 2>&1 || U_MAN=

trap 'u_cleanup; t_cleanup' EXIT
u_all
t_done
