#!/usr/bin/env bash
# get-bench.sh - "nettool get" against curl and wget, fetching from a local
# nginx in the same run: a large file to /dev/null and to a file on tmpfs,
# over HTTP and HTTPS, with each client's peak resident memory; and 200
# files of 10 KiB, many at once (get -j 16 against curl --parallel
# --parallel-max 16) and one after another on one kept connection (get -j 1
# against one curl and one wget given all the URLs).  Server and clients are
# pinned to different CPUs, rounds are interleaved, medians printed, with
# the ratio other / nettool (>= 1: nettool no slower).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: get-bench.sh [OPTIONS]
  -s MIB        size of the large file in MiB (default 1024)
  -r ROUNDS     rounds per contender, interleaved (default 3)
  --small N     number of 10 KiB files (default 200)
  --server-cpus L, --client-cpus L   taskset CPU lists (default 0 and 1)
  -h, --help    show this help
Needs nginx, openssl, curl, python3, bc and GNU time (wget is measured when present);
missing Debian packages are installed with apt-get when run as root.
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nettool=${NETTOOL:-$here/../../tools/nettool}
mib=1024 rounds=3 small=200 scpu=0 ccpu=1
while [ $# -gt 0 ]; do
    case $1 in
    -s) mib=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    --small) small=$2; shift 2 ;;
    --server-cpus) scpu=$2; shift 2 ;;
    --client-cpus) ccpu=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "get-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[ -x /usr/bin/time ] || {
    [ "$(id -u)" = 0 ] && apt-get install -y -qq time >/dev/null 2>&1 ||
        { echo "get-bench.sh: GNU time is needed (apt-get install time)" >&2; exit 1; }
}
for p in curl nginx openssl python3 bc; do
    command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || {
        [ "$(id -u)" = 0 ] && apt-get install -y -qq "$p" >/dev/null 2>&1 ||
            { echo "get-bench.sh: $p is needed (apt-get install $p)" >&2; exit 1; }
    }
done
have_wget=0
command -v wget >/dev/null && have_wget=1
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
base=$(mktemp -d /dev/shm/getbench.XXXXXX)
mkdir -p "$base/www/s" "$base/out" "$base/ng"
chmod 755 "$base" "$base/www" "$base/www/s"
cleanup() {
    [ -n "${npid:-}" ] && kill "$npid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$base"
}
trap cleanup EXIT

echo "get-bench: a ${mib} MiB file and $small files of 10 KiB in $base (tmpfs)"
head -c $((mib * 1024 * 1024)) /dev/urandom >"$base/www/big"
for i in $(seq "$small"); do head -c 10240 /dev/urandom >"$base/www/s/f$i"; done
chmod -R a+r "$base/www"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$base/ng/key.pem" -out "$base/ng/cert.pem" -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1

ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
set -- $ports
port=$1 sport=$2
cat >"$base/ng/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $base/ng/nginx.pid;
error_log $base/ng/error.log;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path $base/ng;
    proxy_temp_path $base/ng;
    fastcgi_temp_path $base/ng;
    uwsgi_temp_path $base/ng;
    scgi_temp_path $base/ng;
    server { listen 127.0.0.1:$port; root $base/www; }
    server {
        listen 127.0.0.1:$sport ssl;
        ssl_certificate $base/ng/cert.pem;
        ssl_certificate_key $base/ng/key.pem;
        root $base/www;
    }
}
EOF
taskset -c "$scpu" "$nginx_bin" -p "$base/ng" -c "$base/ng/nginx.conf" &
npid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

H=http://127.0.0.1:$port
S=https://localhost:$sport
CA=$base/ng/cert.pem
surls=$(for i in $(seq "$small"); do printf '%s/s/f%s ' "$H" "$i"; done)

# measure CMD...: runs CMD on the client CPU; prints "SECONDS MAXRSS_KIB
# CPU_SECONDS" (the client's user + system time: on a shared machine the
# wall time also carries other tenants' noise, the CPU time much less).
# The peak resident memory comes from GNU time(1), which forks CMD from its
# own small process: a child forked from python would count python's pages.
measure() {
    python3 - "$ccpu" "$base/out/rss" "$@" <<'EOF'
import subprocess, sys, time
cpu, rssf, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
err = open(rssf + ".err", "w")
t0 = time.monotonic()
st = subprocess.call(["taskset", "-c", cpu, "/usr/bin/time", "-f", "%M %U %S", "-o", rssf] + cmd,
                     stdout=subprocess.DEVNULL, stderr=err)
t = time.monotonic() - t0
if st != 0:
    sys.stderr.write("get-bench: %s failed (%d): %s\n" % (" ".join(cmd), st,
                     open(rssf + ".err").read()[-300:]))
    sys.exit(1)
m, u, s = open(rssf).read().split()[-3:]
print("%.4f %s %.3f" % (t, m, float(u) + float(s)))
EOF
}

# The contenders of each case: "LABEL|COMMAND"; {out} is replaced by an
# output path on tmpfs.  Every command must exit 0.
declare -a cases
# big_cases URL TLS DEST: the large file to /dev/null (DEST null) or to a
# file on tmpfs (DEST file).
big_cases() {
    local url=$1 tls=$2 dest=$3
    local gk="" ck="" wk=""
    if [ "$tls" = 1 ]; then gk="--cacert $CA" ck="--cacert $CA" wk="--ca-certificate=$CA"; fi
    if [ "$dest" = null ]; then
        cases=(
            "nettool get >/dev/null|$nettool get -q $gk $url/big"
            "curl >/dev/null|curl -sf $ck $url/big"
        )
        [ "$have_wget" = 1 ] && cases+=("wget -O - >/dev/null|wget -q $wk -O - $url/big")
    else
        cases=(
            "nettool get -o tmpfs|$nettool get -q $gk -o {out} $url/big"
            "curl -o tmpfs|curl -sf $ck -o {out} $url/big"
        )
        [ "$have_wget" = 1 ] && cases+=("wget -O tmpfs|wget -q $wk -O {out} $url/big")
    fi
    return 0
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run_cases TITLE: rounds of every contender of $cases, interleaved; the
# medians, and each one's time (wall and CPU) over the first's (nettool):
# >= 1 is nettool no slower.
run_cases() {
    local title=$1 i r line label cmd out
    local -a times rss cpus
    echo "== $title"
    for i in "${!cases[@]}"; do times[i]="" rss[i]="" cpus[i]=""; done
    # round 0 warms the caches and the server up, and is not counted
    for r in $(seq 0 "$rounds"); do
        for i in "${!cases[@]}"; do
            cmd=${cases[i]#*|}
            out=$base/out/o$i
            mkdir -p "$base/out/d$i"
            cmd=${cmd//\{dir\}/$base/out/d$i}
            line=$(eval "measure ${cmd//\{out\}/$out}")
            rm -rf "$base/out/o$i" "$base/out/d$i"
            [ "$r" = 0 ] && continue
            set -- $line
            times[i]="${times[i]} $1"
            rss[i]="${rss[i]} $2"
            cpus[i]="${cpus[i]} $3"
        done
    done
    local m0 c0
    for i in "${!cases[@]}"; do
        label=${cases[i]%%|*}
        local mt mr mc
        mt=$(median ${times[i]})
        mr=$(median ${rss[i]})
        mc=$(median ${cpus[i]})
        [ "$i" = 0 ] && m0=$mt c0=$mc
        printf '  %-34s %8.3f s  CPU %6.3f s  peak RSS %6.1f MiB  %s\n' "$label" "$mt" "$mc" \
            "$(echo "scale=1; $mr / 1024" | bc)" \
            "$([ "$i" = 0 ] && echo "" || echo "ratio $(echo "scale=2; $mt / $m0" | bc)x, CPU $(echo "scale=2; $mc / ($c0 + 0.0005)" | bc)x")"
    done
}

for proto in HTTP HTTPS; do
    for dest in null file; do
        if [ "$proto" = HTTP ]; then big_cases "$H" 0 "$dest"; else big_cases "$S" 1 "$dest"; fi
        run_cases "${mib} MiB over $proto to $([ "$dest" = null ] && echo /dev/null || echo a tmpfs file) (medians of $rounds)"
    done
done

cases=(
    "nettool get -j 16 -d tmpfs|$nettool get -q -j 16 -d {dir} $surls"
    "curl --parallel-max 16|curl -sf --parallel --parallel-max 16 --output-dir {dir} --remote-name-all $surls"
)
run_cases "$small files of 10 KiB, 16 at once (medians of $rounds)"
cases=(
    "nettool get -j 1 -d tmpfs|$nettool get -q -d {dir} $surls"
    "one curl, kept connection|curl -sf --output-dir {dir} --remote-name-all $surls"
)
[ "$have_wget" = 1 ] && cases+=("one wget, kept connection|wget -q -P {dir} $surls")
run_cases "$small files of 10 KiB, one after another (medians of $rounds)"
