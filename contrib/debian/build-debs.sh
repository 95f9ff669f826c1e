#!/bin/sh
# build-debs.sh - builds the Debian packages libnetsrv0, libnetsrv-dev and
# nettool from a `make dist` tarball the way a packager does: unpack it,
# copy contrib/debian to debian/, dpkg-buildpackage -us -uc -b.
#
# Usage: contrib/debian/build-debs.sh [--check] TARBALL [OUTDIR]
#   OUTDIR (default ./debs) receives the three .deb files; .deb files
#   already there are removed first, so what is there is this build's.
#   The package build skips `make check` (DEB_BUILD_OPTIONS=nocheck)
#   unless --check is given: CI runs the suite in stages of its own.
# The build tools (build-essential, dpkg-dev, debhelper) and the
# Build-Depends of debian/control are installed with apt-get when missing
# and this runs as root; otherwise it stops naming them.
# contrib/debian/check-installed.sh installs and exercises the result.
set -eu

check=
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -f "$1" ]; then
    echo "usage: build-debs.sh [--check] TARBALL [OUTDIR]" >&2
    exit 2
fi
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
outdir=${2:-debs}
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# apt_install PKG...: installs those not installed yet, as root.
apt_install() {
    missing=
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "build-debs: missing packages:$missing (run as root, or: apt-get install$missing)" >&2
        exit 1
    fi
    echo "build-debs: installing$missing"
    # The package lists may be stale or absent: update once, then retry.
    apt-get install -y -qq $missing </dev/null >/dev/null 2>&1 ||
        { apt-get update -qq </dev/null && apt-get install -y -qq $missing </dev/null >/dev/null; }
}

command -v dpkg-query >/dev/null 2>&1 || { echo "build-debs: not a Debian system (no dpkg-query)" >&2; exit 1; }
apt_install build-essential dpkg-dev debhelper

work=$(mktemp -d "${TMPDIR:-/tmp}/netsrv-debs.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

tar -xzf "$tarball" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'libnetsrv-*' | head -n 1)
[ -n "$src" ] && [ -d "$src/contrib/debian" ] ||
    { echo "build-debs: $tarball holds no libnetsrv-*/contrib/debian" >&2; exit 1; }
cp -R "$src/contrib/debian" "$src/debian"
chmod +x "$src/debian/rules"

# The tarball and debian/changelog must name the same upstream version.
tver=${src##*/libnetsrv-}
dver=$(cd "$src" && dpkg-parsechangelog -S Version)
case "$dver" in
"$tver"-*) ;;
*) echo "build-debs: tarball $tver but debian/changelog $dver; add a changelog entry" >&2
   exit 1 ;;
esac

# Build-Depends: "a (>= 1) | b, c [amd64] <!nocheck>" -> a b c;
# debhelper-compat is provided by debhelper.
unmet=$(cd "$src" && dpkg-checkbuilddeps 2>&1 >/dev/null |
        sed -n 's/.*Unmet build dependencies: //p') || true
if [ -n "$unmet" ]; then
    # shellcheck disable=SC2046
    apt_install $(printf '%s\n' "$unmet" |
        sed -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/<[^>]*>//g' |
        tr ' |,' '\n\n\n' | sed 's/^debhelper-compat$/debhelper/' | grep -v '^$' | sort -u)
fi

opts="parallel=$(nproc 2>/dev/null || echo 2)"
[ -n "$check" ] || opts="nocheck $opts"
echo "build-debs: dpkg-buildpackage -us -uc -b in $src (DEB_BUILD_OPTIONS=$opts)"
if ! (cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) \
        >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    echo "build-debs: dpkg-buildpackage failed" >&2
    exit 1
fi

mkdir -p "$outdir"
rm -f "$outdir"/*.deb
arch=$(dpkg --print-architecture)
for p in libnetsrv0 libnetsrv-dev nettool; do
    deb=$work/${p}_${dver}_$arch.deb
    [ -f "$deb" ] || { echo "build-debs: $deb was not built" >&2; ls "$work" >&2; exit 1; }
    cp "$deb" "$outdir/"
    echo "build-debs: $outdir/${deb##*/}"
done
