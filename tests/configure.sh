#!/bin/sh
# configure.sh - configure stops with one line naming the Debian package to
# install when libev, http-parser, PCRE2, OpenSSL's libcrypto or libssl is missing.  Each library is
# made to look missing (a cache variable saying its header is absent, or
# pkg-config finding no .pc file), in a copy of just what configure needs,
# since a configured source tree cannot be configured again elsewhere.
. "${top_srcdir:-.}/tests/lib.sh"

src=${abs_top_srcdir:-$top_srcdir}
mkdir -p "$T/src/libnetsrv"
if [ -x "$src/configure" ] && cp "$src/configure" "$T/src/" &&
    cp -R "$src/build-aux" "$T/src/" && cp "$src/libnetsrv/netsrv.h" "$T/src/libnetsrv/" &&
    chmod -R u+w "$T/src"; then  # a distcheck source tree is read-only
    pass "a copy of configure and its helpers"
else
    fail "a copy of configure and its helpers"
    t_done
fi

# NAME PACKAGE ARGS...: configure fails, and its last line names PACKAGE.
missing() {
    name=$1 package=$2
    shift 2
    (cd "$T/src" && env "$@" ./configure -C >"$T/$name.out" 2>"$T/$name.err")
    rc=$?
    [ $rc -ne 0 ]
    t_ok $? "$name missing: configure fails (exit $rc)"
    line=$(tail -n 1 "$T/$name.err")
    case $line in
    "configure: error: "*"install the Debian package $package")
        pass "$name missing: one line names $package" ;;
    *)
        fail "$name missing: one line names $package"
        diag "got: $line" ;;
    esac
    n=$(grep -c 'error' "$T/$name.err")
    t_is "$n" 1 "$name missing: that is the only error line"
}

missing libev libev-dev ac_cv_header_ev_h=no
missing http-parser libhttp-parser-dev ac_cv_header_http_parser_h=no
missing PCRE2 libpcre2-dev PKG_CONFIG_LIBDIR="$T/no-pc" PKG_CONFIG_PATH=
# libcrypto: pkg-config sees PCRE2's .pc file and no other.
mkdir -p "$T/pcre2-only"
cp "$(pkg-config --variable=pcfiledir libpcre2-8)/libpcre2-8.pc" "$T/pcre2-only/"
missing libcrypto libssl-dev PKG_CONFIG_LIBDIR="$T/pcre2-only" PKG_CONFIG_PATH=
# libssl: PCRE2's and libcrypto's .pc files, not libssl's.
mkdir -p "$T/no-libssl"
cp "$T/pcre2-only/libpcre2-8.pc" "$(pkg-config --variable=pcfiledir libcrypto)/libcrypto.pc" \
    "$T/no-libssl/"
missing libssl libssl-dev PKG_CONFIG_LIBDIR="$T/no-libssl" PKG_CONFIG_PATH=

t_done
