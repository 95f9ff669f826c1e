#!/bin/sh
# build-rpms.sh - builds the RPMs (libnetsrv, libnetsrv-devel, nettool)
# with `rpmbuild -ta` from a `make dist` tarball, also on a system whose
# rpm is not a Red Hat one (Debian's package rpm), with no network.
#
# Usage: contrib/rpm/build-rpms.sh [--check] TARBALL [OUTDIR]
#   OUTDIR (default ./rpms) receives the binary .rpm files; .rpm files
#   already there are removed first.  %check (make check) runs only with
#   --check: CI runs the suite in stages of its own.
#
# What a distribution's rpm has and Debian's lacks is defined here: the
# systemd unit directory (systemd-rpm-macros' %_unitdir), the ldconfig
# scriptlets (redhat-rpm-config's; empty since ldconfig runs from a file
# trigger there, and Debian's rpm database knows no packages to trigger
# on), and no debuginfo packages (find-debuginfo is not there).  The
# BuildRequires name Red Hat packages, which no rpm database here holds,
# so they are not checked (--nodeps); the Debian build dependencies are
# the ones ./bootstrap installs.  rpm itself is installed with apt-get
# when missing and this runs as root.
set -eu

check=
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -f "$1" ]; then
    echo "usage: build-rpms.sh [--check] TARBALL [OUTDIR]" >&2
    exit 2
fi
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
outdir=${2:-rpms}
export LC_ALL=C

if ! command -v rpmbuild >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "build-rpms: installing rpm"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rpm </dev/null >/dev/null 2>&1 ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rpm </dev/null >/dev/null; }
    fi
    command -v rpmbuild >/dev/null 2>&1 ||
        { echo "build-rpms: no rpmbuild (package rpm; run as root to install it)" >&2; exit 1; }
fi

top=$(mktemp -d "${TMPDIR:-/tmp}/netsrv-rpms.XXXXXX")
trap 'rm -rf "$top"' EXIT
trap 'exit 1' HUP INT TERM

# Each --define only fills in what this rpm does not define itself, so a
# Red Hat system keeps its own.
defs() {
    printf '%s\n' "--define=_topdir $top"
    [ -n "$(rpm --eval '%{?_unitdir}')" ] ||
        printf '%s\n' "--define=_unitdir /usr/lib/systemd/system"
    [ -n "$(rpm --eval '%{?ldconfig_scriptlets:1}')" ] ||
        printf '%s\n' "--define=ldconfig_scriptlets %{nil}"
    command -v find-debuginfo >/dev/null 2>&1 ||
        printf '%s\n' "--define=debug_package %{nil}"
}
nocheck=--nocheck
[ -z "$check" ] || nocheck=
jobs=$(nproc 2>/dev/null || echo 2)

echo "build-rpms: rpmbuild -ta ${tarball##*/} $nocheck --nodeps"
# The defines hold spaces: one argument per line of defs.
IFS='
'
# shellcheck disable=SC2046
set -- $(defs)
unset IFS
if ! rpmbuild -ta "$tarball" $nocheck --nodeps "$@" --define "_smp_mflags -j$jobs" \
        >"$top/build.log" 2>&1; then
    tail -n 60 "$top/build.log"
    echo "build-rpms: rpmbuild failed" >&2
    exit 1
fi

mkdir -p "$outdir"
rm -f "$outdir"/*.rpm
find "$top/RPMS" -name '*.rpm' -exec cp {} "$outdir/" \;
status=0
for p in libnetsrv libnetsrv-devel nettool; do
    f=$(ls "$outdir/$p-"[0-9]*.rpm 2>/dev/null | head -n 1)
    if [ -z "$f" ]; then
        echo "build-rpms: no $p package was built" >&2
        status=1
        continue
    fi
    echo "build-rpms: $f"
done
[ "$status" = 0 ] || exit 1

# The packaged nettool runs with the packaged library (unpacked, not
# installed: there is no rpm database of this system's libraries to
# install into).  rpm2archive turns the payload into a tar stream.
if command -v rpm2archive >/dev/null 2>&1; then
    mkdir "$top/root"
    for f in "$outdir"/libnetsrv-[0-9]*.rpm "$outdir"/nettool-[0-9]*.rpm; do
        rpm2archive - <"$f" | tar -xzf - -C "$top/root"
    done
    lib=$(dirname "$(find "$top/root" -name 'libnetsrv.so.0' | head -n 1)")
    want=$(rpm -qp --qf '%{VERSION}' "$outdir"/nettool-[0-9]*.rpm)
    got=$(LD_LIBRARY_PATH=$lib "$top/root/usr/bin/nettool" --version 2>&1) || true
    case "$got" in
    "nettool $want (libnetsrv $want)")
        echo "build-rpms: the packaged nettool runs: $got" ;;
    *)
        echo "build-rpms: the packaged nettool does not run (want $want): $got" >&2
        exit 1 ;;
    esac
fi
