#!/bin/sh
# configure.sh - configure stops with one line naming the Debian package to
# install when libev, http-parser, PCRE2, OpenSSL's libcrypto or libssl, or SQLite is missing
# (or, with --enable-fuzzing, clang or its libFuzzer).  Each library is
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
# SQLite: every .pc file above and libssl's, not sqlite3's.
mkdir -p "$T/no-sqlite"
cp "$T/no-libssl/"*.pc "$(pkg-config --variable=pcfiledir libssl)/libssl.pc" "$T/no-sqlite/"
missing SQLite libsqlite3-dev PKG_CONFIG_LIBDIR="$T/no-sqlite" PKG_CONFIG_PATH=

# --enable-fuzzing: a compiler other than clang, then clang without
# libFuzzer (its cache variable says the link failed).
rm -f "$T/src/config.cache"
fuzzing() { # NAME PACKAGE ARGS...: as missing(), with --enable-fuzzing
    name=$1 package=$2
    shift 2
    (cd "$T/src" && env "$@" ./configure --enable-fuzzing >"$T/$name.out" 2>"$T/$name.err")
    rc=$?
    [ $rc -ne 0 ]
    t_ok $? "$name: configure --enable-fuzzing fails (exit $rc)"
    line=$(tail -n 1 "$T/$name.err")
    case $line in
    "configure: error: "*"install the Debian package $package")
        pass "$name: one line names $package" ;;
    *)
        fail "$name: one line names $package"
        diag "got: $line" ;;
    esac
}
if command -v gcc >/dev/null 2>&1; then
    fuzzing "fuzzing with gcc" clang CC=gcc
else
    t_skip 2 "no gcc to try --enable-fuzzing with"
fi
if command -v clang >/dev/null 2>&1; then
    fuzzing "fuzzing without libFuzzer" libclang-rt-dev CC=clang netsrv_cv_libfuzzer=no
else
    t_skip 2 "no clang to try --enable-fuzzing without libFuzzer"
fi
# ThreadSanitizer excludes AddressSanitizer: asking for both is one error
# line, before any check.
(cd "$T/src" && ./configure --enable-sanitizers --enable-thread-sanitizer >"$T/both.out" 2>"$T/both.err")
rc=$?
[ $rc -ne 0 ]
t_ok $? "--enable-sanitizers with --enable-thread-sanitizer: configure fails (exit $rc)"
line=$(tail -n 1 "$T/both.err")
case $line in
"configure: error: --enable-thread-sanitizer and --enable-sanitizers cannot be used together"*)
    pass "both sanitizer options: the error says they exclude each other" ;;
*)
    fail "both sanitizer options: the error says they exclude each other"
    diag "got: $line" ;;
esac
t_is "$(grep -c '^checking' "$T/both.out")" 0 "both sanitizer options: refused before any check"

t_done
