#!/bin/sh
# cet.sh - the x86-64 context switch under -fcf-protection: its object claims
# IBT (never SHSTK), so linking it keeps a shared object's IBT marking; and
# the built library is marked when configured for it.  Checked with readelf -n.
. "${top_srcdir:-.}/tests/lib.sh"

SWITCH=${top_srcdir:-.}/libnetsrv/coro_switch_x86_64.S
builddir=${top_builddir:-.}
# The compiler and flags of this build (as tests/install-example.sh reads them).
mkvar() { sed -n "s/^$1 = //p" "$builddir/Makefile" 2>/dev/null | head -n 1; }
CC=$(mkvar CC)
BUILD_CFLAGS=$(mkvar CFLAGS)
: "${CC:=cc}"

# Nothing to check here: one skip line saying why.
skip_all() {
    t_skip 1 "$*"
    t_done
}

# The compiler's target, not uname: that is what the switch is built for.
case $(printf '__x86_64__\n' | $CC -E -P - 2>/dev/null | tr -d ' \n') in
1) ;;
*) skip_all "the compiler ($CC) does not target x86-64: the x86-64 switch is not built" ;;
esac
command -v readelf >/dev/null 2>&1 || skip_all "no readelf (binutils)"
printf 'int x;\n' >"$T/probe.c"
$CC -fcf-protection=full -c "$T/probe.c" -o "$T/probe.o" 2>/dev/null ||
    skip_all "$CC does not take -fcf-protection"

# features FILE: the x86 feature line of readelf -n ("IBT, SHSTK"), or
# "none" when FILE has no such property.
features() {
    _f=$(readelf -nW "$1" 2>/dev/null | sed -n 's/.*x86 feature: *//p' | head -n 1)
    echo "${_f:-none}"
}
has() { case ", $1, " in *", $2, "*) return 0 ;; esac; return 1; }

# asm FLAVOUR: the switch assembled with -fcf-protection=FLAVOUR, in $T/sw-FLAVOUR.o.
asm() {
    $CC -fcf-protection="$1" -c "$SWITCH" -o "$T/sw-$1.o" 2>"$T/sw-$1.err" || {
        diag "assembling with -fcf-protection=$1 failed: $(cat "$T/sw-$1.err")"
        return 1
    }
}

# 1-3: the switch object on its own.
if asm full; then
    f=$(features "$T/sw-full.o")
    has "$f" IBT
    t_ok $? "-fcf-protection=full: the switch object claims IBT (x86 feature: $f)"
    ! has "$f" SHSTK
    t_ok $? "  and not SHSTK (it returns on another stack than it was called on)"
    if command -v objdump >/dev/null 2>&1; then
        first=$(objdump -d "$T/sw-full.o" | sed -n '/<netsrv__ctx_switch>:/{n;p;q;}')
        case $first in
        *endbr64*) pass "  netsrv__ctx_switch starts with endbr64" ;;
        *) fail "  netsrv__ctx_switch starts with endbr64"; diag "first instruction: $first" ;;
        esac
    else
        t_skip 1 "no objdump (binutils) to read the first instruction"
    fi
else
    fail "-fcf-protection=full: the switch object claims IBT"
    t_skip 2 "the switch did not assemble"
fi

# 4-6: it claims what the build asked for and nothing more.
if asm branch; then
    t_is "$(features "$T/sw-branch.o")" IBT "-fcf-protection=branch: the switch object claims IBT only"
else
    fail "-fcf-protection=branch: the switch object claims IBT only"
fi
if asm none; then
    t_is "$(features "$T/sw-none.o")" none "-fcf-protection=none: no x86 feature property"
else
    fail "-fcf-protection=none: no x86 feature property"
fi
if asm return; then
    t_is "$(features "$T/sw-return.o")" none "-fcf-protection=return (SHSTK only): no property claimed"
else
    fail "-fcf-protection=return (SHSTK only): no property claimed"
fi

# 7-8: a shared object of a small caller and the switch.  Linked without
# the start files (-nostartfiles): some distributions' crti.o and crtn.o
# carry no property, which would strip every shared object they go into
# and hide what the switch itself does.
cat >"$T/caller.c" <<'EOF'
void netsrv__ctx_switch(void **save_sp, void *load_sp);
static void *saved;
void caller(void *to) { netsrv__ctx_switch(&saved, to); }
EOF
cflags="-fcf-protection=full -fPIC -shared -nostartfiles"
if $CC $cflags "$T/caller.c" -o "$T/caller.so" 2>"$T/ld0.err"; then
    f=$(features "$T/caller.so")
    has "$f" IBT
    t_ok $? "control: the caller alone links to a shared object marked IBT ($f)"
else
    fail "control: the caller alone links to a shared object marked IBT"
    diag "$(cat "$T/ld0.err")"
fi
if [ -f "$T/sw-full.o" ] && $CC $cflags "$T/caller.c" "$T/sw-full.o" -o "$T/both.so" 2>"$T/ld1.err"; then
    f=$(features "$T/both.so")
    has "$f" IBT
    t_ok $? "the caller and the switch link to a shared object still marked IBT ($f)"
else
    fail "the caller and the switch link to a shared object still marked IBT"
    [ -f "$T/ld1.err" ] && diag "$(cat "$T/ld1.err")"
fi

# 9: the library of this build, when its CFLAGS ask for IBT.
lib=$builddir/libnetsrv/.libs/libnetsrv.so
cet=$(printf '__CET__\n' | $CC $BUILD_CFLAGS -E -P - 2>/dev/null | tr -d ' \n')
case $cet in
1 | 3) want_ibt=1 ;;
*) want_ibt=0 ;;
esac
if [ "$want_ibt" = 0 ]; then
    t_skip 1 "this build's CFLAGS ($BUILD_CFLAGS) do not enable IBT: reconfigure with CFLAGS=-fcf-protection to check the library"
elif [ ! -f "$lib" ]; then
    t_skip 1 "no shared library built ($lib)"
elif ! $CC -fcf-protection=full -fPIC -shared "$T/caller.c" -o "$T/std.so" 2>/dev/null ||
     ! has "$(features "$T/std.so")" IBT; then
    t_skip 1 "this toolchain's start files (crti.o, crtn.o) carry no IBT property: no shared object linked with them is marked"
else
    f=$(features "$lib")
    has "$f" IBT
    t_ok $? "the built libnetsrv.so is marked IBT ($f)"
fi

t_done
