#!/bin/sh
# completion.sh - contrib/completion/nettool.bash: the applets of
# "nettool --list", serve's handlers and modes, and every option each
# applet's usage text lists; links (nettool-serve) and "serve exec --";
# "serve files DIR" (directories) and "download -o FILE" (files).
# The completion function runs in "bash --norc" with COMP_WORDS set by hand.
. "${top_srcdir:-.}/tests/lib.sh"

COMPL=${top_srcdir:-.}/contrib/completion/nettool.bash

if ! command -v bash >/dev/null 2>&1; then
    t_skip 1 "no bash"
    t_done
fi

# The completion runs "nettool --list" for the applets: the tree's nettool,
# not one an installed package put in PATH.
NT_DIR=$(cd "$(dirname "$NETTOOL")" && pwd)

# comp WORD...: completes the last WORD (often "") of the command line
# WORD...; prints the candidates sorted, one a line.
comp() {
    PATH="$NT_DIR:$PATH" timeout 10 bash --norc --noprofile -c '
. "$1" || exit 1
shift
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
_nettool
[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' comp "$COMPL" "$@" 2>>"$T/comp.err" | sort
}

# words FILE...: the words of the FILEs, sorted, unique, on one line.
words() { tr -s ' \n\t' '\n\n\n' <"$1" | grep . | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# options APPLET: the options "nettool APPLET --help" lists, one a line.
options() {
    "$NETTOOL" "$1" --help | awk '/^  -|^      -/ {
        for (i = 1; i <= NF && $i ~ /^-/; i++) { sub(/,$/, "", $i); print $i } }'
}

bash -n "$COMPL"
t_ok $? "nettool.bash parses (bash -n)"

# ---- applets
"$NETTOOL" --list >"$T/list" 2>/dev/null
t_ok $? "nettool --list works"
for w0 in nettool "$NETTOOL"; do
    comp "$w0" "" >"$T/applets"
    missing=
    for a in $(cat "$T/list"); do
        grep -qx "$a" "$T/applets" || missing="$missing $a"
    done
    [ -s "$T/list" ] && [ -z "$missing" ] && grep -qx help "$T/applets"
    t_ok $? "'$w0 <TAB>' offers every applet of --list and help: $(words "$T/applets")${missing:+ (missing:$missing)}"
done
t_is "$(comp nettool help "" | tr '\n' ' ')" "$(sort "$T/list" | tr '\n' ' ')" \
    "'nettool help <TAB>' offers the applets"
t_is "$(comp nettool --l | tr '\n' ' ')" "--list " "'nettool --l<TAB>' gives --list"

# ---- serve: handlers and modes
comp "$NETTOOL" serve "" >"$T/h1"
"$NETTOOL" serve --help | sed -n 's/^Handlers: *//p' | tr ' ' '\n' | grep . | sort >"$T/h0"
[ -s "$T/h0" ] && cmp -s "$T/h0" "$T/h1"
t_ok $? "'nettool serve <TAB>' offers the handlers of serve --help: $(words "$T/h1")"
t_is "$(comp nettool serve "" | tr '\n' ' ')" "chat discard echo exec files http " \
    "'nettool serve <TAB>' with no nettool to ask: echo discard exec files http chat"
t_is "$(comp nettool serve -m "" | tr '\n' ' ')" "async fork sync thread " \
    "'nettool serve -m <TAB>' offers the modes"
t_is "$(comp nettool serve echo --mode a | tr '\n' ' ')" "async " \
    "'nettool serve echo --mode a<TAB>' gives async"
t_is "$(comp nettool serve -m async -w 2 "" | tr '\n' ' ')" "chat discard echo exec files http " \
    "'nettool serve -m async -w 2 <TAB>' (options first) still offers the handlers"
t_is "$(comp nettool serve echo --max-conns "" | tr '\n' ' ')" "" \
    "'nettool serve echo --max-conns <TAB>' offers nothing (a number)"
comp nettool serve echo -l "" >"$T/listen"
grep -qx 'unix:' "$T/listen" && grep -qx systemd "$T/listen"
t_ok $? "'nettool serve echo -l <TAB>' offers address forms: $(words "$T/listen")"

# ---- every option of each usage text
for a in $(cat "$T/list"); do
    options "$a" >"$T/opts-$a"
    comp nettool "$a" - >"$T/comp-$a"
    missing=
    for o in $(cat "$T/opts-$a"); do
        grep -qx -- "$o" "$T/comp-$a" || missing="$missing $o"
    done
    [ -s "$T/opts-$a" ] && [ -z "$missing" ]
    t_ok $? "'nettool $a -<TAB>' offers all $(wc -l <"$T/opts-$a" | tr -d ' ') options of its usage${missing:+ (missing:$missing)}"
done
comp nettool bench 127.0.0.1:7000 --w >"$T/bw"
t_is "$(words "$T/bw")" "--warmup --workers" "'nettool bench ADDR --w<TAB>' gives --warmup --workers"
t_is "$(comp nettool echo --t | tr '\n' ' ')" "--timeout " "'nettool echo --t<TAB>' gives --timeout"

# ---- links and serve exec's program
t_is "$(comp nettool-serve "" | tr '\n' ' ')" "chat discard echo exec files http " \
    "'nettool-serve <TAB>' offers the handlers"
t_is "$(comp nettool-bench --j | tr '\n' ' ')" "--json " "'nettool-bench --j<TAB>' gives --json"
comp nettool serve exec -m fork -- ca >"$T/prog"
grep -qx cat "$T/prog"
t_ok $? "'nettool serve exec -m fork -- ca<TAB>' offers commands (cat)"
t_is "$(comp nettool bench -- "" | tr '\n' ' ')" "" "'nettool bench -- <TAB>' offers nothing"
# ---- serve files DIR, download -o FILE
mkdir -p "$T/cdir/dsub" && : >"$T/cdir/afile"
comp nettool serve files -m async "$T/cdir/" >"$T/dirs"
t_is "$(words "$T/dirs")" "$T/cdir/dsub" "'nettool serve files -m async DIR<TAB>' offers directories only"
t_is "$(comp nettool serve files "$T/cdir" -m "" | tr '\n' ' ')" "async fork sync thread " \
    "'nettool serve files DIR -m <TAB>' still offers the modes"
comp nettool serve http --upload "$T/cdir/" >"$T/hdirs"
t_is "$(words "$T/hdirs")" "$T/cdir/dsub" "'nettool serve http --upload DIR<TAB>' offers directories only"
t_is "$(comp nettool serve http "$T/cdir" --no-l | tr '\n' ' ')" "--no-log " \
    "'nettool serve http DIR --no-l<TAB>' gives --no-log"
comp nettool download 127.0.0.1:7000 big -o "$T/cdir/a" >"$T/ofile"
t_is "$(words "$T/ofile")" "$T/cdir/afile" "'nettool download ADDR NAME -o F<TAB>' offers files"
t_is "$(comp nettool download 127.0.0.1:7000 big --c | tr '\n' ' ')" "--continue " \
    "'nettool download ADDR NAME --c<TAB>' gives --continue"
t_is "$(comp nettool-download --sha | tr '\n' ' ')" "--sha256 " "'nettool-download --sha<TAB>' gives --sha256"

# ---- dircopy SRC DST: directories
comp nettool dircopy -j 2 "$T/cdir/" >"$T/dcdirs"
t_is "$(words "$T/dcdirs")" "$T/cdir/dsub" "'nettool dircopy -j 2 SRC<TAB>' offers directories only"
comp nettool-dircopy "$T/cdir" "$T/cdir/" >"$T/dcdirs"
t_is "$(words "$T/dcdirs")" "$T/cdir/dsub" "'nettool-dircopy SRC DST<TAB>' offers directories"
t_is "$(comp nettool dircopy --ver | tr '\n' ' ')" "--verbose --verify " \
    "'nettool dircopy --ver<TAB>' gives --verbose and --verify"
# ---- get: -d DIR, --cacert FILE
comp nettool get -d "$T/cdir/" >"$T/gdirs"
t_is "$(words "$T/gdirs")" "$T/cdir/dsub" "'nettool get -d DIR<TAB>' offers directories only"
comp nettool get http://h/ --cacert "$T/cdir/a" >"$T/gca"
t_is "$(words "$T/gca")" "$T/cdir/afile" "'nettool get URL --cacert F<TAB>' offers files"
t_is "$(comp nettool-get --per | tr '\n' ' ')" "--per-host " "'nettool-get --per<TAB>' gives --per-host"

test ! -s "$T/comp.err"
t_ok $? "no error from the completion function: $(head -n 1 "$T/comp.err")"

t_done
