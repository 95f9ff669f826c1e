#!/bin/sh
# dircopy.sh - "nettool dircopy" on generated trees: every entry's bytes
# and metadata compared with tests/dircopy_cmp.py (mode, owner, mtime,
# link targets, hard links, sparse files' blocks, odd names, a path past
# PATH_MAX), -j 1 and -j 8 alike, re-runs that skip, kill -9 of the parent
# and of a worker mid-copy, SIGINT, errors per file (a read error, a full
# file system, a name too long for DST), usage errors before anything is
# written, --dry-run,
# --checksum, --verify and the progress line on a terminal.  Failures are
# injected with tests/dircopy_shim.so (LD_PRELOAD).  Waits are for files
# and exits, never sleeps.
. "${top_srcdir:-.}/tests/lib.sh"

SHIM=${top_builddir:-.}/tests/dircopy_shim.so
CMP="$PY ${top_srcdir:-.}/tests/dircopy_cmp.py"
# The shim goes first in a sanitizer build's preload list, which ASan
# otherwise refuses.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
export ASAN_OPTIONS
dc() { "$NETTOOL" dircopy "$@"; }
# (Background copies run env directly, not through a function: $! is then
# nettool's own pid, not a subshell's.)
shim() { env LD_PRELOAD="$SHIM" "$@"; }
temps() { find "$1" -name '.netsrv-copy.*' | wc -l; }
J=.netsrv-dircopy.journal
# jq_ DB SQL: one value from a journal (python's sqlite3, a second reader).
jq_() { $PY -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$@" 2>/dev/null; }
jfiles() { jq_ "$1" "select count(*) from done where key != '/boot'"; }

# ------------------------------------------------------------ the tree
S=$T/src
$PY - "$S" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(7)
os.makedirs(root)
def w(path, data, mode=0o644):
    with open(os.path.join(root, path), "wb") as f:
        f.write(data)
    os.chmod(os.path.join(root, path), mode)
for d in ("a", "a/b", "a/b/c", "empty", "empty2/inner", "sp ace", "ünï©ødé", "many"):
    os.makedirs(os.path.join(root, d), exist_ok=True)
for n in (0, 1, 4095, 65535, 65536, 65537, 1 << 20, 3 << 20):
    w("a/size%d" % n, os.urandom(n))
# Enough small files for several batches, so hard links and the files in
# one directory land in different workers.
for i in range(700):
    w("many/f%03d" % i, os.urandom(rnd.randrange(0, 9000)))
w("sp ace/with space", b"spaces\n")
w("sp ace/new\nline", b"newline\n")
w("ünï©ødé/ファイル", "utf-8\n".encode())
w("a/exec", b"#!/bin/sh\n", 0o755)
w("a/private", b"secret\n", 0o600)
w("a/setuid", b"s\n", 0o4755)
w("a/owned", b"o\n")
os.chown(os.path.join(root, "a/owned"), 1234, 5678)
os.chmod(os.path.join(root, "empty2"), 0o1777)
# Sparse: holes at the start, between data and at the end.
with open(os.path.join(root, "a/sparse"), "wb") as f:
    f.truncate(64 << 20)
    f.seek(5 << 20); f.write(os.urandom(10000))
    f.seek(40 << 20); f.write(os.urandom(300000))
# Hard links across directories (and far apart in the walk).
os.link(os.path.join(root, "a/size1"), os.path.join(root, "many/zz-link-to-size1"))
os.link(os.path.join(root, "a/size1"), os.path.join(root, "a/b/c/third"))
os.link(os.path.join(root, "many/f000"), os.path.join(root, "a/link-to-f000"))
# Links: relative, absolute out of the tree, dangling, to a directory.
os.symlink("../size1", os.path.join(root, "a/b/rel"))
os.symlink("/etc/passwd", os.path.join(root, "a/abs"))
os.symlink("nowhere", os.path.join(root, "a/dangling"))
os.symlink("b", os.path.join(root, "a/dirlink"))
os.mkfifo(os.path.join(root, "a/fifo"))
os.mknod(os.path.join(root, "a/null"), 0o620 | 0o020000, os.makedev(1, 3))
# A path longer than PATH_MAX (4096), made a part at a time.
fd = os.open(root, os.O_RDONLY)
for i in range(45):
    os.mkdir("d%02d" % i + "x" * 97, dir_fd=fd)
    nfd = os.open("d%02d" % i + "x" * 97, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
with open(os.open("deep-file", os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=fd), "wb") as f:
    f.write(b"deep\n")
os.close(fd)
# Times with nanoseconds, last (directories too: deepest first).
t = 1_000_000_000_123_456_789
for dirpath, dirnames, filenames, dfd in os.fwalk(root, topdown=False):
    for n in filenames + dirnames:
        os.utime(n, ns=(t, t), dir_fd=dfd, follow_symlinks=False)
        t += 1_000_000_007
    os.utime(dfd, ns=(t, t))
EOF
t_ok $? "made a source tree"

# ------------------------------------------------------------ plain copies
dc -q -j 1 "$S" "$T/j1" 2>"$T/err"
t_is "$?:$(cat "$T/err")" "0:" "-j 1: exit 0, nothing on stderr (not a terminal)"
$CMP "$S" "$T/j1" >"$T/cmp" 2>&1
t_ok $? "-j 1: every entry equal (bytes, mode, owner, mtime, links, sparse blocks)"
[ -s "$T/cmp" ] && diag "$(head -n 20 "$T/cmp")"
t_is "$(temps "$T/j1")" 0 "-j 1: no temporary file left"

dc -j 8 "$S" "$T/j8" 2>"$T/err"
t_is "$?:$(cat "$T/err")" "0:" "-j 8: exit 0"
$CMP "$S" "$T/j8" >"$T/cmp" 2>&1
t_ok $? "-j 8: every entry equal"
[ -s "$T/cmp" ] && diag "$(head -n 20 "$T/cmp")"
$CMP "$T/j1" "$T/j8" >/dev/null 2>&1
t_ok $? "-j 1 and -j 8 made the same tree"
t_is "$(stat -c %h "$T/j8/a/size1")" 3 "a hard link of 3 names is one inode of 3 links"
t_is "$(readlink "$T/j8/a/abs")" /etc/passwd "an absolute link is copied, not followed"
t_is "$(stat -c %b "$T/j8/a/sparse")" "$(stat -c %b "$S/a/sparse")" \
    "the sparse file has the source's blocks ($(stat -c %b "$S/a/sparse"))"

# ------------------------------------------------------------ re-runs
dc -vv -j 2 "$S" "$T/j8" 2>"$T/err"
t_ok $? "a re-run over a complete copy: exit 0"
grep -q ' 0 files copied' "$T/err"
t_ok $? "and it copies nothing ($(tail -n 1 "$T/err"))"
$CMP "$S" "$T/j8" >/dev/null 2>&1
t_ok $? "the tree is still equal (directory times too)"

# A file changed (same size, new time), one with new bytes put back to its
# old time (only --checksum sees it), one whose mode alone changed.
printf 'X' | dd of="$S/many/f001" bs=1 seek=0 conv=notrunc 2>/dev/null
touch -d '2020-01-01 00:00:00.5' "$S/many/f001"
cp -p "$T/j8/many/f002" "$T/f002.keep"
head -c "$(stat -c %s "$S/many/f002")" /dev/urandom >"$T/j8/many/f002"
touch -r "$T/f002.keep" "$T/j8/many/f002"
chmod 0700 "$T/j8/many/f003"
dc -n "$S" "$T/j8" >"$T/plan" 2>&1
t_is "$(sort "$T/plan" | tr '\n' ' ')" "many/f001 many/f003 (metadata) " \
    "--dry-run lists the changed file and the metadata-only one, nothing else"
t_is "$(stat -c %a "$T/j8/many/f003")" 700 "--dry-run changed nothing"
dc -vv "$S" "$T/j8" 2>"$T/err"
grep -q ' 1 files copied' "$T/err"
t_ok $? "a re-run copies the one changed file ($(tail -n 1 "$T/err"))"
t_is "$(stat -c %a "$T/j8/many/f003")" 644 "and puts the mode right"
cmp -s "$S/many/f002" "$T/j8/many/f002"
t_ok $((! $?)) "size and time match: f002 is left alone without --checksum"
dc -vv --checksum --verify "$S" "$T/j8" 2>"$T/err"
grep -q ' 1 files copied' "$T/err"
t_ok $? "--checksum finds the file with the same size and time but other bytes"
$CMP "$S" "$T/j8" >"$T/cmp" 2>&1
t_ok $? "after it the trees are equal (--verify passed)"

# ------------------------------------------------------------ usage errors
mkdir "$T/keep"
: >"$T/afile"
listing() { find "$1" -printf '%p %s %m %T@ %C@\n' | sort; }
listing "$S" >"$T/before"
dc "$T/missing" "$T/newdst" 2>"$T/err"
t_is "$?" 2 "SRC missing: exit 2"
t_ok "$([ ! -e "$T/newdst" ]; echo $?)" "and DST was not made"
dc "$T/afile" "$T/newdst" 2>/dev/null
t_is "$?" 2 "SRC a file: exit 2"
dc "$S" "$T/afile" 2>"$T/err"
t_is "$?" 2 "DST an existing file: exit 2"
grep -q 'not a directory' "$T/err"
t_ok $? "saying so ($(head -n 1 "$T/err"))"
dc "$S" "$S/a/b/inside" 2>"$T/err"
t_is "$?" 2 "DST inside SRC: exit 2"
grep -q 'inside' "$T/err"
t_ok $? "saying so ($(head -n 1 "$T/err"))"
dc "$S" "$S" 2>/dev/null
t_is "$?" 2 "DST = SRC: exit 2"
ln -s "$S/a" "$T/alias"
dc "$S" "$T/alias/x" 2>/dev/null
t_is "$?" 2 "DST inside SRC through a symbolic link: exit 2"
listing "$S" >"$T/after"
cmp -s "$T/before" "$T/after"
t_ok $? "nothing was written into SRC"
dc -j 0 "$S" "$T/newdst" 2>/dev/null
t_is "$?" 2 "-j 0: exit 2"
dc "$S" 2>/dev/null
t_is "$?" 2 "one argument: exit 2"
dc -n "$S" "$T/newdst" >"$T/plan"
t_ok "$([ ! -e "$T/newdst" ] && grep -q '^a/exec$' "$T/plan"; echo $?)" \
    "--dry-run into a new DST lists files and makes nothing"

# ------------------------------------------------------------ errors per file
shim env DCSHIM_EIO=size65535 "$NETTOOL" dircopy -j 2 "$S" "$T/eio" 2>"$T/err"
t_is "$?" 1 "a file that cannot be read: exit 1"
grep -q '^nettool dircopy: a/size65535: read: Input/output error$' "$T/err"
t_ok $? "its line names it and the reason"
t_is "$(tail -n 1 "$T/err")" "nettool dircopy: 1 error" "the count is the last line"
t_ok "$([ ! -e "$T/eio/a/size65535" ]; echo $?)" "no file under its name"
$CMP "$S" "$T/eio" --exclude size65535 --exclude "$J" >/dev/null 2>&1
t_ok $? "everything else was copied"
t_is "$(temps "$T/eio")" 0 "no temporary file left"
shim env DCSHIM_LONGNAME=exec "$NETTOOL" dircopy -j 2 "$S" "$T/long" 2>"$T/err"
t_is "$?" 1 "a name too long for DST's file system: exit 1"
grep -q "^nettool dircopy: a/exec: .*File name too long$" "$T/err"
t_ok $? "  its line names it and the reason ($(head -n 1 "$T/err"))"
$CMP "$S" "$T/long" --exclude exec >"$T/cmp" 2>&1
t_ok $? "  everything else copied ($(head -n 2 "$T/cmp" | tr '\n' ' '))"
t_is "$(temps "$T/long")" 0 "  no temporary file left"
t_ok "$([ ! -e "$T/eio/$J" ]; echo $?)" "without --checksum or --verify no journal is kept"
shim env DCSHIM_EIO=size65535 "$NETTOOL" dircopy -j 2 --checksum "$S" "$T/eioj" 2>"$T/err"
t_is "$?" 1 "--checksum, a file that cannot be read: exit 1"
t_ok "$([ -f "$T/eioj/$J" ] && [ ! -e "$T/eioj/$J-wal" ]; echo $?)" \
    "  the copy keeps its journal in DST, as one file"
jn=$(jfiles "$T/eioj/$J")
t_ok "$([ "${jn:-0}" -gt 700 ]; echo $?)" "  listing the files it finished (${jn:-none})"
dc -vv -j 2 --checksum "$S" "$T/eioj" 2>"$T/err"
t_is "$?" 0 "the re-run copies the file that failed"
grep -q "up to date ($jn by the journal)" "$T/err"
t_ok $? "  taking the $jn files the journal lists as done ($(cat "$T/err"))"
t_ok "$([ ! -e "$T/eioj/$J" ] && [ ! -e "$T/eioj/$J-wal" ]; echo $?)" "  and removing the journal"
$CMP "$S" "$T/eioj" >/dev/null 2>&1
t_ok $? "  the copy is whole"

# A copy that comes out different from its source (the first read of
# a/exec returns a changed byte): unnoticed without --verify, caught and
# removed with it, so a re-run copies it again.
shim env DCSHIM_FLIP=exec DCSHIM_FLIP_FLAG="$T/flip1" "$NETTOOL" dircopy "$S/a" "$T/flip1d" \
    2>"$T/err"
t_ok "$([ $? = 0 ] && ! cmp -s "$S/a/exec" "$T/flip1d/exec"; echo $?)" \
    "a bad read is not noticed without --verify (the copy differs, exit 0)"
shim env DCSHIM_FLIP=exec DCSHIM_FLIP_FLAG="$T/flip2" "$NETTOOL" dircopy --verify "$S/a" \
    "$T/flip2d" 2>"$T/err"
t_is "$?" 1 "--verify: exit 1"
grep -q "^nettool dircopy: exec: verify: the copy's SHA-256 differs" "$T/err"
t_ok $? "it names the file ($(head -n 1 "$T/err"))"
t_ok "$([ ! -e "$T/flip2d/exec" ]; echo $?)" "and the bad copy is gone"
dc --verify "$S/a" "$T/flip2d" && cmp -s "$S/a/exec" "$T/flip2d/exec"
t_ok $? "a re-run copies it right"

mkdir "$T/small"
# A file system that fills up: a 2 MiB tmpfs when mount works (root with
# CAP_SYS_ADMIN), else ENOSPC injected into the copy of the 3 MiB file.
# One worker: with two, the 3 MiB file's temporary copy, filling the
# file system until it fails, could make a small file copied meanwhile
# fail too.
if mount -t tmpfs -o size=2m tmpfs "$T/small" 2>"$T/mount.err"; then
    dc -j 1 "$S/a" "$T/small/a" 2>"$T/err"
    st=$?
    umounted="umount $T/small"
else
    diag "no tmpfs ($(cat "$T/mount.err")): ENOSPC injected instead"
    shim env DCSHIM_ENOSPC=size3145728 "$NETTOOL" dircopy -j 2 "$S/a" "$T/small/a" 2>"$T/err"
    st=$?
    umounted=:
fi
t_is "$st" 1 "a full file system: exit 1"
grep -q 'No space left on device' "$T/err"
t_ok $? "the files that did not fit say so ($(grep -c 'No space' "$T/err") of them)"
t_is "$(cat "$T/small/a/size4095" 2>/dev/null | wc -c)" 4095 "small files still went in"
t_is "$(temps "$T/small")" 0 "no temporary file left"
$umounted

# ------------------------------------------------------------ interruptions
# A copy made slow (each rename waits 3 ms) so that it is caught midway.
mkdir "$T/big"
i=0
while [ $i -lt 6 ]; do
    head -c 3000000 /dev/urandom >"$T/big/b$i"
    i=$((i + 1))
done
cp -a "$S/many" "$T/big/many"
env LD_PRELOAD="$SHIM" DCSHIM_SLOW=3000 "$NETTOOL" dircopy -j 2 "$T/big" "$T/k9" 2>"$T/err" &
pid=$!
wait_for 20 sh -c "find '$T/k9/many' -type f 2>/dev/null | grep -q ."
t_ok $? "the copy started (files appear)"
workers=$(pgrep -P "$pid" | tr '\n' ' ')
kill -KILL "$pid"
wait "$pid"
t_is "$?" 137 "the parent was killed by SIGKILL mid-copy"
n=$(find "$T/k9" -type f | wc -l)
t_ok "$([ "$n" -lt 707 ]; echo $?)" "it was midway ($n of 707 files)"
wait_for 10 pids_gone $workers
t_ok $? "its workers died with it ($workers)"
dc -j 2 "$T/big" "$T/k9" 2>"$T/err"
t_is "$?:$(cat "$T/err")" "0:" "the re-run finishes"
$CMP "$T/big" "$T/k9" >"$T/cmp" 2>&1
t_ok $? "the result is the whole tree"
t_is "$(temps "$T/k9")" 0 "no temporary file left"

# The journal after kill -9 of a --checksum copy: the re-run does not read
# again the files it lists (a changed copy is not taken from it).
env LD_PRELOAD="$SHIM" DCSHIM_SLOW=3000 "$NETTOOL" dircopy -j 2 --checksum "$T/big" "$T/kj" \
    2>"$T/err" &
pid=$!
jlisted() { [ "$(jq_ "$T/kj/$J" "select count(*) from done")" -gt 5 ] 2>/dev/null; }
wait_for 30 jlisted
t_ok $? "the journal lists finished files while the copy runs"
kill -KILL "$pid"
wait "$pid"
t_is "$?" 137 "the copy was killed by SIGKILL"
jn=$(jfiles "$T/kj/$J")
one=$(jq_ "$T/kj/$J" "select key from done where key != '/boot' order by key limit 1")
t_ok "$([ -n "$one" ] && [ "$jn" -lt 707 ]; echo $?)" "midway: $jn files listed ($one first)"
printf x >>"$T/kj/$one"
dc -vv -j 2 --checksum "$T/big" "$T/kj" 2>"$T/err"
t_is "$?" 0 "the re-run with --checksum finishes"
grep -q "up to date ($((jn - 1)) by the journal)" "$T/err"
t_ok $? "  taking the listed files but the changed one from the journal ($(cat "$T/err"))"
$CMP "$T/big" "$T/kj" >"$T/cmp" 2>&1
t_ok $? "  the result is the whole tree (the changed copy copied again)"
t_ok "$([ ! -e "$T/kj/$J" ]; echo $?)" "  the run completes: the journal is gone"

# A worker killed while it holds a finished temporary file: its batch runs
# again, the temporary file is swept.
rm -f "$T/flag"
env LD_PRELOAD="$SHIM" DCSHIM_HANG=f350 DCSHIM_FLAG="$T/flag" "$NETTOOL" dircopy -j 2 \
    "$T/big" "$T/kw" 2>"$T/err" &
pid=$!
wait_for 20 grep -q . "$T/flag" 2>/dev/null
t_ok $? "a worker stopped before renaming many/f350"
wpid=$(cat "$T/flag")
t_ok "$([ "$(ps -o ppid= -p "$wpid" | tr -d ' ')" = "$pid" ]; echo $?)" "it is a worker of the copy"
kill -KILL "$wpid"
wait_exit "$pid" 60
t_is "$EXIT_STATUS" 0 "the copy ends well"
grep -q "worker $wpid killed by signal 9.*copying its batch again" "$T/err"
t_ok $? "saying the worker died and its batch is copied again"
$CMP "$T/big" "$T/kw" >"$T/cmp" 2>&1
t_ok $? "the result is the whole tree"
t_is "$(temps "$T/kw")" 0 "the dead worker's temporary file was swept"

# SIGINT: the parent stops the pool, sweeps, and dies of the signal.
env LD_PRELOAD="$SHIM" DCSHIM_SLOW=3000 "$NETTOOL" dircopy -j 2 "$T/big" "$T/int" 2>"$T/err" &
pid=$!
wait_for 20 sh -c "find '$T/int/many' -type f 2>/dev/null | grep -q ."
workers=$(pgrep -P "$pid" | tr '\n' ' ')
kill -INT "$pid"
wait_exit "$pid" 20
t_is "$EXIT_STATUS" 130 "SIGINT: it ends by SIGINT"
grep -q 'interrupted' "$T/err"
t_ok $? "saying it was interrupted"
wait_for 10 pids_gone $workers
t_ok $? "no worker is left ($workers)"
t_is "$(temps "$T/int")" 0 "no temporary file left"
dc "$T/big" "$T/int" && $CMP "$T/big" "$T/int" >/dev/null 2>&1
t_ok $? "a re-run completes it"

# ------------------------------------------------------------ the terminal
if command -v script >/dev/null 2>&1; then
    script -qec "$NETTOOL dircopy -j 2 '$S' '$T/tty'" /dev/null >"$T/tty.out" 2>&1
    t_is "$?" 0 "on a terminal: exit 0"
    tr '\r' '\n' <"$T/tty.out" | grep -q '[0-9]%  [0-9]*/[0-9]* files  .* of .*/s'
    t_ok $? "a progress line was drawn (files, bytes, rate, percent)"
    last=$(tail -c 1 "$T/tty.out" | od -An -c | tr -d ' ')
    t_is "$last" '\r' "and taken off at the end (the output ends with a carriage return)"
    script -qec "$NETTOOL dircopy -q '$S' '$T/tty2'" /dev/null >"$T/tty.out" 2>&1
    t_is "$(wc -c <"$T/tty.out" | tr -d ' ')" 0 "-q: nothing on the terminal"
else
    fail "script(1) (util-linux) is needed for the terminal test"
fi

t_done
