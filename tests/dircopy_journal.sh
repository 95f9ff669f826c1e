#!/bin/sh
# dircopy_journal.sh - "nettool dircopy --checksum/--verify" when its
# journal (DST/.netsrv-dircopy.journal) is bad input: garbage bytes, an
# empty file, a real journal cut short, a symbolic link; and when the disk
# fills up while the journal is committed (ENOSPC injected into its -wal
# by tests/dircopy_shim.so, and a real tmpfs that fills up when mount
# works).  A journal only saves work: a bad one is reported in one line,
# nothing is taken from it, and the copy ends equal to SRC.  Waits are
# for exits, never sleeps.
. "${top_srcdir:-.}/tests/lib.sh"

SHIM=${top_builddir:-.}/tests/dircopy_shim.so
CMP="$PY ${top_srcdir:-.}/tests/dircopy_cmp.py"
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
export ASAN_OPTIONS
J=.netsrv-dircopy.journal
dc() { timeout 60 "$NETTOOL" dircopy "$@"; }
shim() { timeout 60 env LD_PRELOAD="$SHIM" "$@"; }
temps() { find "$1" -name '.netsrv-copy.*' | wc -l; }
jq_() { $PY -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$@" 2>/dev/null; }
jfiles() { jq_ "$1" "select count(*) from done where key != '/boot'"; }
# same A B: the trees are equal, every entry (the journal included, so one
# left behind is a difference); the differences go to the TAP output.
same() {
    $CMP "$1" "$2" >"$T/cmp" 2>&1 && return 0
    diag "$(head -n 5 "$T/cmp")"
    return 1
}

# Five directories of 200 small files: several batches, so several commits;
# and one larger file, copied by copy_file_range (the shim's ENOSPC).
S=$T/src
$PY - "$S" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(11)
for d in range(5):
    os.makedirs(os.path.join(root, "d%d" % d))
    for i in range(200):
        with open(os.path.join(root, "d%d" % d, "f%03d" % i), "wb") as f:
            f.write(os.urandom(rnd.randrange(1, 3000)))
with open(os.path.join(root, "d2", "large"), "wb") as f:
    f.write(os.urandom(300000))
t = 1_500_000_000_000_000_000
for dirpath, dirnames, filenames, dfd in os.fwalk(root, topdown=False):
    for n in filenames:
        os.utime(n, ns=(t, t), dir_fd=dfd)
        t += 1_000_000_007
    os.utime(dfd, ns=(t, t))
EOF
t_ok $? "made a source tree of 1001 files"
NFILES=1001

# A real journal, kept by a --checksum run that had one error.
shim env DCSHIM_EIO=f100 "$NETTOOL" dircopy -j 2 --checksum "$S" "$T/real" 2>"$T/err"
jn=$(jfiles "$T/real/$J")
t_ok "$([ -f "$T/real/$J" ] && [ "${jn:-0}" -gt 100 ]; echo $?)" \
    "a run with an error keeps a real journal (${jn:-no} files listed)"
cp "$T/real/$J" "$T/real.journal"
jsize=$(stat -c %s "$T/real.journal")

# stale DIR: DIR a complete copy whose d0/f005 has other bytes but the
# source's size and time, which only a comparison of contents finds; a
# journal listing it as done, if trusted, would leave it wrong.
stale() {
    dc -j 2 "$S" "$1" || return 1
    head -c "$(stat -c %s "$S/d0/f005")" /dev/zero >"$1/d0/f005"
    touch -r "$S/d0/f005" "$1/d0/f005"
    touch -r "$S/d0" "$1/d0"
}

# bad KIND HOW OPTION WHAT: DST made stale (for --checksum; for --verify,
# which reads only what it copies, an empty DST), its journal made by HOW
# (a shell command run with $1 the journal's path), then copied with
# OPTION: one warning line naming the journal and WHAT, exit 0, the tree
# equal to SRC (d0/f005 put right, the journal gone), no temporary file.
bad() {
    kind=$1 how=$2 opt=$3 what=$4
    D=$T/$kind
    if [ "$opt" = --checksum ]; then
        stale "$D" 2>"$T/err"
        t_ok $? "$kind: a stale copy made"
    else
        mkdir "$D"
    fi
    sh -c "$how" sh "$D/$J"
    dc -j 2 "$opt" "$S" "$D" 2>"$T/err"
    st=$?
    t_is "$st" 0 "$kind journal, $opt: exit 0 ($(tr '\n' ' ' <"$T/err"))"
    t_is "$(wc -l <"$T/err" | tr -d ' ')" 1 "  one line on stderr"
    grep -q "^nettool dircopy: warning: $D/$J: $what; not a journal: ignored and replaced\$" "$T/err"
    t_ok $? "  naming the journal and the problem ($what)"
    same "$S" "$D"
    t_ok $? "  the copy is equal to SRC: nothing taken from the journal, which is gone"
    t_is "$(temps "$D")" 0 "  no temporary file left"
}
bad garbage 'head -c 6000 /dev/urandom >"$1"' --checksum "file is not a database"
bad text 'printf "not a journal\n" >"$1"' --verify "file is not a database"
bad empty ': >"$1"' --checksum "an empty file"
bad truncated "head -c $((jsize / 2)) '$T/real.journal' >\"\$1\"" --checksum \
    "database disk image is malformed"
bad header "head -c 60 '$T/real.journal' >\"\$1\"" --checksum \
    "database disk image is malformed"
# A symbolic link in the journal's place is not followed: nothing is made
# where it leads, a journal there is left as it was.
bad link-nowhere "ln -s '$T/elsewhere' \"\$1\"" --checksum "a symbolic link (not followed)"
t_ok "$([ ! -e "$T/elsewhere" ] && [ ! -e "$T/elsewhere-wal" ]; echo $?)" \
    "  nothing made where the link led"
cp "$T/real.journal" "$T/linked.journal"
bad link-journal "ln -s '$T/linked.journal' \"\$1\"" --checksum "a symbolic link (not followed)"
cmp -s "$T/real.journal" "$T/linked.journal"
t_ok $? "  the journal it led to left as it was"

# The same bad journal in a DST a run had not finished: the missing files
# are copied, the journal made anew is then removed.
rm -rf "$T/half"
cp -a "$T/real" "$T/half"
head -c 5000 /dev/urandom >"$T/half/$J"
dc -j 2 --checksum "$S" "$T/half" 2>"$T/err"
t_is "$?:$(grep -c 'not a journal' "$T/err")" "0:1" "an unfinished copy and a garbage journal: exit 0, one warning"
same "$S" "$T/half"
t_ok $? "  the copy is complete and equal to SRC"

# A good journal still works after all this (the comparison above is
# not passing because journals are never used).
rm -rf "$T/again"
cp -a "$T/real" "$T/again"
dc -vv -j 2 --checksum "$S" "$T/again" 2>"$T/err"
t_ok "$([ $? = 0 ] && grep -q "up to date ($jn by the journal)" "$T/err"; echo $?)" \
    "a good journal is taken: $jn files from it ($(tail -n 1 "$T/err"))"

# ------------------------------------------------------------ full disk
# The journal's -wal can grow to 40000 bytes, then writes fail with ENOSPC: the
# first batches are committed, a later commit fails.  The files still go
# in, so the copy is complete: a warning, exit 0, no journal left.
shim env DCSHIM_WFULL="$J-wal" DCSHIM_WFULL_AT=40000 "$NETTOOL" dircopy -j 1 --checksum \
    "$S" "$T/jfull" 2>"$T/err"
t_is "$?" 0 "the journal's disk full mid-copy, the files' not: exit 0"
t_is "$(cat "$T/err")" \
    "nettool dircopy: warning: journal $T/jfull/$J: No space left on device: no more entries" \
    "  one warning line naming the journal and the reason"
same "$S" "$T/jfull"
t_ok $? "  the copy is equal to SRC, the journal removed at the end"
t_is "$(temps "$T/jfull")" 0 "  no temporary file left"

# Full for the journal and for one file: exit 1 and the error count; the
# journal keeps what it committed before the disk filled, and the re-run
# with space back takes that from it and completes.
shim env DCSHIM_WFULL="$J-wal" DCSHIM_WFULL_AT=40000 DCSHIM_ENOSPC=large "$NETTOOL" dircopy \
    -j 1 --checksum "$S" "$T/full" 2>"$T/err"
t_is "$?" 1 "a full disk for the journal and for files: exit 1"
grep -q "^nettool dircopy: warning: journal $T/full/$J: No space left on device: no more entries\$" "$T/err"
t_ok $? "  a line for the journal"
grep -q "^nettool dircopy: d2/large: .*No space left on device\$" "$T/err"
t_ok $? "  a line for the file that did not fit"
t_is "$(tail -n 1 "$T/err")" "nettool dircopy: 1 error" "  the count is the last line"
t_ok "$([ ! -e "$T/full/d2/large" ]; echo $?)" "  no file under its name"
t_is "$(temps "$T/full")" 0 "  no temporary file left"
jn=$(jfiles "$T/full/$J")
t_ok "$([ "${jn:-0}" -gt 0 ] && [ "$jn" -lt "$NFILES" ]; echo $?)" \
    "  the journal is kept, a database with the batches committed before ($jn files)"
dc -vv -j 2 --checksum "$S" "$T/full" 2>"$T/err"
t_ok "$([ $? = 0 ] && grep -q "up to date ($jn by the journal)" "$T/err"; echo $?)" \
    "  the re-run with space back: exit 0, $jn files from the journal ($(tail -n 1 "$T/err"))"
same "$S" "$T/full"
t_ok $? "  the copy is equal to SRC, journal gone"

# A real file system that fills up, when a tmpfs can be mounted: the
# copied files fill it, then the other files and the journal's commits
# fail alike.
mkdir "$T/tmpfs"
if mount -t tmpfs -o size=1m tmpfs "$T/tmpfs" 2>"$T/mount.err"; then
    # Unmounted also when the script dies midway (before the temp dir goes).
    trap 'umount -l "$T/tmpfs" 2>/dev/null; t_cleanup' EXIT
    dc -j 1 --checksum "$S" "$T/tmpfs/c" 2>"$T/err"
    st=$?
    errs=$(grep -c ': No space left on device$' "$T/err")
    t_is "$st" 1 "tmpfs of 1 MiB: exit 1"
    t_ok "$([ "$errs" -gt 0 ]; echo $?)" "  $errs files did not fit, each said so"
    t_is "$(tail -n 1 "$T/err")" "nettool dircopy: $errs errors" "  and their count is the last line"
    t_is "$(temps "$T/tmpfs")" 0 "  no temporary file left"
    wrong=0
    for f in $(cd "$T/tmpfs/c" && find d* -type f); do
        cmp -s "$S/$f" "$T/tmpfs/c/$f" || wrong=$((wrong + 1))
    done
    t_is "$wrong" 0 "  every file under its name is whole"
    mount -o remount,size=16m "$T/tmpfs"
    dc -j 2 --checksum "$S" "$T/tmpfs/c" 2>"$T/err"
    t_is "$?:$(cat "$T/err")" "0:" "  the re-run with space back: exit 0, nothing said"
    same "$S" "$T/tmpfs/c"
    t_ok $? "  the copy is equal to SRC, journal gone"
    umount "$T/tmpfs"
else
    t_skip 7 "no tmpfs can be mounted here ($(head -n 1 "$T/mount.err")); ENOSPC was injected above"
fi

t_done
