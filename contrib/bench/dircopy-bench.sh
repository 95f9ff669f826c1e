#!/usr/bin/env bash
# dircopy-bench.sh - a tree of many small files and a few large ones
# copied by `nettool dircopy -j 2`, `cp -a` and `rsync -a` in the same run
# on the same file system (tmpfs by default), rounds interleaved, medians
# and ratios printed; then the no-op re-run over a copied tree, dircopy
# against rsync doing the same no-op.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: dircopy-bench.sh [OPTIONS]
  -f FILES      small files (default 20000), 0-64 KiB each
  -d DIRS       directories they are spread over (default 500)
  -b COUNT      large files (default 3) of -B MIB each (default 200)
  -r ROUNDS     rounds per contender, interleaved (default 3)
  -j N          dircopy's workers (default 2)
  --dir DIR     where the trees live (default: a new directory in /dev/shm,
                i.e. tmpfs, so the disk is not measured)
  -h, --help    show this help
Needs rsync (installed with apt-get when run as root and missing).
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nettool=${NETTOOL:-$here/../../tools/nettool}
files=20000 dirs=500 big=3 bigmib=200 rounds=3 jobs=2 dir=
while [ $# -gt 0 ]; do
    case $1 in
    -f) files=$2; shift 2 ;;
    -d) dirs=$2; shift 2 ;;
    -b) big=$2; shift 2 ;;
    -B) bigmib=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -j) jobs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "dircopy-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
command -v rsync >/dev/null || {
    [ "$(id -u)" = 0 ] && apt-get install -y -qq rsync >/dev/null 2>&1 ||
        { echo "dircopy-bench.sh: rsync is needed (apt-get install rsync)" >&2; exit 1; }
}
base=${dir:-$(mktemp -d /dev/shm/dcbench.XXXXXX)}
cleanup() { [ -z "$dir" ] && rm -rf "$base"; }
trap cleanup EXIT

echo "dircopy-bench: $files files of 0-64 KiB in $dirs directories + $big x $bigmib MiB in $base"
python3 - "$base/src" "$files" "$dirs" "$big" "$bigmib" <<'EOF'
import os, random, sys
root, files, dirs, big, bigmib = sys.argv[1], *map(int, sys.argv[2:])
rnd = random.Random(12)
blob = os.urandom(1 << 20)
for d in range(dirs):
    os.makedirs(os.path.join(root, "d%03d" % (d // 25), "sub%03d" % d), exist_ok=True)
for i in range(files):
    d = i % dirs
    n = rnd.randrange(0, 64 * 1024 + 1)
    off = rnd.randrange(0, len(blob) - n)
    with open(os.path.join(root, "d%03d" % (d // 25), "sub%03d" % d, "f%05d" % i), "wb") as f:
        f.write(blob[off:off + n])
for b in range(big):
    with open(os.path.join(root, "big%d" % b), "wb") as f:
        for _ in range(bigmib):
            f.write(blob)
EOF
du -sh "$base/src" | sed 's/^/dircopy-bench: source /'

now() { date +%s.%N; }
# run NAME CMD...: one timed run into $base/dst (removed first, untimed).
declare -A times
run() {
    local name=$1 t0 t1
    shift
    rm -rf "$base/dst"
    sync
    t0=$(now)
    "$@"
    t1=$(now)
    times[$name]="${times[$name]:-} $(echo "$t1 - $t0" | bc -l)"
}
# noop NAME CMD...: a timed run over the copy already in $base/dst.
noop() {
    local name=$1 t0 t1
    shift
    t0=$(now)
    "$@"
    t1=$(now)
    times[$name]="${times[$name]:-} $(echo "$t1 - $t0" | bc -l)"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Warm caches: read the source once, and make one copy untimed (the first
# run on a fresh tmpfs also pays for the kernel handing it new pages).
cat "$base/src"/big* >/dev/null
find "$base/src" -type f -print0 | xargs -0 cat >/dev/null
cp -a "$base/src" "$base/dst" && rm -rf "$base/dst"

for r in $(seq 1 "$rounds"); do
    echo "dircopy-bench: round $r of $rounds"
    run dircopy "$nettool" dircopy -q -j "$jobs" "$base/src" "$base/dst"
    noop dircopy-noop "$nettool" dircopy -q -j "$jobs" "$base/src" "$base/dst"
    run cp cp -a "$base/src" "$base/dst"
    run rsync rsync -a "$base/src/" "$base/dst/"
    noop rsync-noop rsync -a "$base/src/" "$base/dst/"
done
# The last copy (rsync's) must be what dircopy makes too.
rm -rf "$base/dst"
"$nettool" dircopy -q -j "$jobs" "$base/src" "$base/dst"
if ! diff -r "$base/src" "$base/dst" >/dev/null; then
    echo "dircopy-bench: the copy differs from the source" >&2
    exit 1
fi

printf '\n%-14s %10s   %s\n' "contender" "median s" "rounds"
for k in dircopy cp rsync dircopy-noop rsync-noop; do
    printf '%-14s %10.3f  %s\n' "$k" "$(echo "${times[$k]}" | median)" "${times[$k]}"
done
m() { echo "${times[$1]}" | median; }
printf '\ncp -a / dircopy -j %s:       %.2f (above 1: dircopy is faster)\n' "$jobs" \
    "$(echo "$(m cp) / $(m dircopy)" | bc -l)"
printf 'rsync -a / dircopy -j %s:    %.2f\n' "$jobs" "$(echo "$(m rsync) / $(m dircopy)" | bc -l)"
printf 'no-op: rsync -a / dircopy:  %.2f\n' "$(echo "$(m rsync-noop) / $(m dircopy-noop)" | bc -l)"
