#!/bin/sh
# check-installed.sh - installs the .deb packages build-debs.sh made and
# uses them as a user would: the installed nettool serves and fetches
# files, its systemd units run under systemd-socket-activate, and every
# example shipped in libnetsrv-dev builds against the installed library
# with pkg-config and runs.  The packages are purged again at the end,
# whatever happened (dpkg --purge: no "rc" entry is left either).  TAP on
# stdout.  Needs root.
#
# Usage: contrib/debian/check-installed.sh [DEBDIR]   (default ./debs)
# Run from a source tree (the git tree or the unpacked tarball): the
# shared checks are tests/examples_lib.sh and tests/units_lib.sh.
#
# Everything is checked against the packages just installed, not against
# whatever else is on the machine: /usr/bin/nettool must be byte for byte
# the one in this nettool .deb (an older build of the same version may
# have been installed before), and pkg-config must find libnetsrv.pc in
# /usr/lib, not a copy under /usr/local.
set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
debdir=$(cd "${1:-debs}" 2>/dev/null && pwd) || { echo "Bail out! no directory ${1:-debs}"; exit 1; }
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
PKGS="libnetsrv0 libnetsrv-dev nettool"
NT=/usr/bin/nettool

. "$srcdir/tests/examples_lib.sh"
. "$srcdir/tests/units_lib.sh"
plan=$((6 + U_TESTS + EX_TESTS + 1))
echo "1..$plan"

n=0
nfail=0
pass() { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
diag_file() { [ -f "$1" ] && sed 's/^/# /' "$1"; }
# A step the rest needs failed: the rest is skipped but the removal.
skip_rest() {
    while [ "$n" -lt $((plan - 1)) ]; do skip "$*"; done
    remove_pkgs
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsrv-debcheck.XXXXXX") || exit 1
installed=
srv=
# known PKG...: dpkg still knows one of them (installed, or "rc").
known() {
    for _k in "$@"; do dpkg-query -W "$_k" >/dev/null 2>&1 && return 0; done
    return 1
}
remove_pkgs() {
    [ -n "$installed" ] || return 0
    installed=
    # shellcheck disable=SC2086
    if dpkg --purge $PKGS >"$tmp/remove.log" 2>&1 && [ ! -e "$NT" ] && ! known $PKGS; then
        pass "dpkg --purge $PKGS: no trace left, $NT gone"
    else
        fail "dpkg --purge $PKGS"; diag_file "$tmp/remove.log"
    fi
}
cleanup() {
    [ -n "$srv" ] && kill -KILL "$srv" 2>/dev/null
    ex_cleanup
    u_cleanup
    remove_pkgs >/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

if [ "$(id -u)" != 0 ]; then
    echo "Bail out! installing packages needs root"
    exit 1
fi
arch=$(dpkg --print-architecture)
debs=
for p in $PKGS; do
    d=$(ls -t "$debdir/${p}_"*"_$arch.deb" 2>/dev/null | head -n 1)
    [ -n "$d" ] || { echo "Bail out! no ${p}_*_$arch.deb in $debdir (run build-debs.sh)"; exit 1; }
    debs="$debs $d"
done
nettool_deb=$(ls -t "$debdir/nettool_"*"_$arch.deb" | head -n 1)
version=$(dpkg-deb -f "$nettool_deb" Version)
upstream=${version%-*}

# A package of the same name installed before is replaced, then purged
# with the rest: say so.
before=$(dpkg-query -W -f='${Package} ${Version} ${Status}\n' $PKGS 2>/dev/null | grep "ok installed")
[ -n "$before" ] && printf '%s\n' "$before" | sed 's/^/# replacing (and purging at the end) installed: /'

# 1. Install.  dpkg -i reinstalls even when the same version is installed
# already (apt-get would keep that one); apt-get then brings in any
# dependency from the archive that is missing.
installed=1
# shellcheck disable=SC2086
if dpkg -i $debs >"$tmp/install.log" 2>&1 ||
        apt-get install -f -y -qq </dev/null >>"$tmp/install.log" 2>&1; then
    pass "dpkg -i$(for d in $debs; do printf ' %s' "${d##*/}"; done)"
else
    fail "install the packages"; diag_file "$tmp/install.log"
    skip_rest "the packages did not install"
fi

# 2. /usr/bin/nettool is this package's: owner, version, and bytes.
dpkg-deb --fsys-tarfile "$nettool_deb" | tar -xOf - ./usr/bin/nettool >"$tmp/nettool.deb-copy"
owner=$(dpkg -S "$NT" 2>/dev/null | cut -d: -f1)
have=$(dpkg-query -W -f='${Version}' nettool 2>/dev/null)
if [ "$owner" = nettool ] && [ "$have" = "$version" ] && cmp -s "$tmp/nettool.deb-copy" "$NT"; then
    pass "$NT is the one in ${nettool_deb##*/} (package nettool $have, same bytes)"
else
    fail "$NT comes from ${nettool_deb##*/} (owner '$owner', version '$have')"
    skip_rest "$NT is not the package's"
fi

# 3. It runs, and says the package's version.
out=$("$NT" --version 2>&1)
case "$out" in
"nettool $upstream "*) pass "nettool --version: $out" ;;
*) fail "nettool --version names $upstream"; echo "# got: $out" ;;
esac

# 4-5. The installed server serves a directory; the installed client and
# curl fetch a file from it, byte for byte.
mkdir -p "$tmp/www"
head -c 1000000 /dev/urandom >"$tmp/www/blob.bin"
# --foreground: SIGTERM later, and no SIGCONT after it (tests/examples_lib.sh).
timeout --foreground -s KILL 120 "$NT" serve http "$tmp/www" -l 127.0.0.1:0 --no-log \
    </dev/null 2>"$tmp/http.err" &
srv=$!
i=0
while ! grep -q 'listening on' "$tmp/http.err" 2>/dev/null && [ $i -lt 100 ]; do
    kill -0 "$srv" 2>/dev/null || break
    i=$((i + 1)); sleep 0.1
done
addr=$(sed -n 's/.*listening on //p' "$tmp/http.err")
if [ -n "$addr" ] && timeout 60 "$NT" get -f -o "$tmp/got.get" "http://$addr/blob.bin" \
        >"$tmp/get.log" 2>&1 && cmp "$tmp/www/blob.bin" "$tmp/got.get" >>"$tmp/get.log" 2>&1; then
    pass "nettool serve http + nettool get: 1,000,000 bytes, the same"
else
    fail "nettool serve http + nettool get (server at '$addr')"
    diag_file "$tmp/http.err"; diag_file "$tmp/get.log"
fi
if ! command -v curl >/dev/null 2>&1; then
    skip "no curl"
elif [ -n "$addr" ] && timeout 60 curl -sS --fail -o "$tmp/got.curl" "http://$addr/blob.bin" \
        >"$tmp/curl.log" 2>&1 && cmp "$tmp/www/blob.bin" "$tmp/got.curl" >>"$tmp/curl.log" 2>&1; then
    pass "nettool serve http + curl: the same bytes"
else
    fail "nettool serve http + curl"; diag_file "$tmp/curl.log"
fi
kill -TERM "$srv" 2>/dev/null
wait "$srv"
srv=

# 6. pkg-config finds the packaged libnetsrv.pc, not another one.
pcdir=$(pkg-config --variable=pcfiledir libnetsrv 2>/dev/null)
pcver=$(pkg-config --modversion libnetsrv 2>/dev/null)
if [ "$pcdir" = "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)/pkgconfig" ] &&
        [ "$pcver" = "$upstream" ]; then
    pass "pkg-config libnetsrv: $pcver from $pcdir"
else
    fail "pkg-config finds the packaged libnetsrv.pc (got '$pcdir', version '$pcver')"
fi

# 7 and on.  The installed systemd units, run as systemd would
# (tests/units_lib.sh: echo, discard, chat, files, http).
U_DIR=/lib/systemd/system
U_NETTOOL=$NT
U_TMP=$tmp/units
U_CLIENT=$srcdir/tests/unit_client.py
U_MAN=          # the package's nettool(1) is where man looks already
command -v man >/dev/null 2>&1 && man -w nettool >/dev/null 2>&1 && U_MAN=${MANPATH:-$(manpath 2>/dev/null)}
mkdir -p "$U_TMP"
u_all

# Then the examples libnetsrv-dev ships, built with their Makefile
# (tests/examples_lib.sh).
EX_SRC=$tmp/examples
EX_OUT=$tmp/build
EX_NETTOOL=$NT
EX_CLIENT=$srcdir/tests/example_client.py
mkdir -p "$EX_OUT"
cp -R /usr/share/doc/libnetsrv-dev/examples "$EX_SRC" 2>/dev/null
# dh_compress may have compressed the larger files.
find "$EX_SRC" -name '*.gz' -exec gunzip {} + 2>/dev/null
if [ ! -f "$EX_SRC/Makefile" ]; then
    echo "# /usr/share/doc/libnetsrv-dev/examples has no Makefile"
fi
ex_all

remove_pkgs
[ "$nfail" -eq 0 ]
