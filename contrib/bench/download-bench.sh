#!/usr/bin/env bash
# download-bench.sh - a large file over loopback with its SHA-256 checked:
# `nettool download` from `nettool serve files` (which hashes while it
# receives) against `curl -o` from nginx followed by `sha256sum` of the
# result, in the same run, rounds interleaved, medians printed.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: download-bench.sh [OPTIONS]
  -s MIB        file size in MiB (default 1024)
  -r ROUNDS     rounds per contender, interleaved (default 3)
  --dir DIR     where the file and the downloads live (default: a new
                directory in /dev/shm, i.e. tmpfs, so the disk is not measured)
  --server-cpus L, --client-cpus L   taskset CPU lists (default 0 and 1)
  -h, --help    show this help
Needs curl and nginx (Debian packages; installed with apt-get when run as
root and missing).
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nettool=${NETTOOL:-$here/../../tools/nettool}
mib=1024 rounds=3 dir= scpu=0 ccpu=1
while [ $# -gt 0 ]; do
    case $1 in
    -s) mib=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --server-cpus) scpu=$2; shift 2 ;;
    --client-cpus) ccpu=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "download-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
for p in curl nginx; do
    command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || {
        [ "$(id -u)" = 0 ] && apt-get install -y -qq "$p" >/dev/null 2>&1 ||
            { echo "download-bench.sh: $p is needed (apt-get install $p)" >&2; exit 1; }
    }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
base=${dir:-$(mktemp -d /dev/shm/dlbench.XXXXXX)}
mkdir -p "$base/www" "$base/out" "$base/ng"
chmod 755 "$base" "$base/www" # nginx's workers run as another user
cleanup() {
    [ -n "${fpid:-}" ] && kill "$fpid" 2>/dev/null
    [ -n "${npid:-}" ] && kill "$npid" 2>/dev/null
    wait 2>/dev/null
    [ -z "$dir" ] && rm -rf "$base"
}
trap cleanup EXIT
echo "download-bench: making a ${mib} MiB file in $base"
head -c $((mib * 1024 * 1024)) /dev/urandom >"$base/www/big"
chmod 644 "$base/www/big"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# nettool serve files
taskset -c "$scpu" "$nettool" serve files "$base/www" -l 127.0.0.1:0 2>"$base/files.log" &
fpid=$!
for _ in $(seq 100); do grep -q 'listening on' "$base/files.log" && break; sleep 0.1; done
faddr=$(grep -o 'listening on [^ ]*' "$base/files.log" | awk '{print $3}')

# nginx, one worker
nport=$(free_port)
cat >"$base/ng/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $base/ng/nginx.pid;
error_log $base/ng/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $base/ng;
    proxy_temp_path $base/ng;
    fastcgi_temp_path $base/ng;
    uwsgi_temp_path $base/ng;
    scgi_temp_path $base/ng;
    server { listen 127.0.0.1:$nport; root $base/www; }
}
EOF
taskset -c "$scpu" "$nginx_bin" -c "$base/ng/nginx.conf" &
npid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$nport/" && break; sleep 0.1; done

# warm the page cache and both servers
cat "$base/www/big" >/dev/null
"$nettool" download "$faddr" big -o "$base/out/warm" -q && rm -f "$base/out/warm"

run_nettool() {
    rm -f "$base/out/a"
    taskset -c "$ccpu" "$nettool" download "$faddr" big -o "$base/out/a" -q
}
run_curl() {
    rm -f "$base/out/b"
    taskset -c "$ccpu" bash -c "curl -sf -o '$base/out/b' 'http://127.0.0.1:$nport/big' && sha256sum '$base/out/b' >/dev/null"
}
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

run_curl
cmp -s "$base/www/big" "$base/out/b" || { echo "download-bench: nginx did not serve the file" >&2; exit 1; }
na=() cu=()
for r in $(seq "$rounds"); do
    na+=("$(secs run_nettool)")
    cu+=("$(secs run_curl)")
    echo "  round $r: nettool download ${na[-1]} s, curl -o + sha256sum ${cu[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mn=$(median "${na[@]}") mc=$(median "${cu[@]}")
echo "download-bench: ${mib} MiB on loopback, medians of $rounds:"
echo "  nettool download (SHA-256 checked while receiving)   $mn s"
echo "  curl -o, then sha256sum                              $mc s"
echo "  ratio curl / nettool                                 $(echo "scale=2; $mc / $mn" | bc)x (>= 1: nettool no slower)"
