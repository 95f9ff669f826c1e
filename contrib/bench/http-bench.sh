#!/usr/bin/env bash
# http-bench.sh - static files over HTTP/1.1 keep-alive: `nettool serve
# http -m async` (one event loop) next to nginx (one worker) and lighttpd,
# serving the same 4 KiB and 1 MiB files, loaded by wrk.  See README.md in
# this directory for how to read it.
#
# Each server is pinned to one CPU and wrk to another; rounds are
# interleaved across servers (round 1 of every server, then round 2, ...)
# so that a slow minute of the machine hits every server alike; the median
# round is shown, with its ratio to nginx measured in the same run.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: http-bench.sh [OPTIONS]
Compare the requests/s of static file servers under wrk.

  -d SECS          measured time of each run (default 5; env BENCH_DURATION)
  -r ROUNDS        runs per server and file; the median is shown (default 3;
                   env BENCH_ROUNDS)
  -c CONNS         wrk connections (default 50), with one wrk thread
  --warmup SECS    unmeasured wrk run before each measured one (default 1)
  --sizes "LIST"   file sizes (default "4k 1m"; suffix k or m)
  --servers "LIST" of: nettool nettool-w2 nginx lighttpd (default
                   "nettool nginx lighttpd"; env BENCH_SERVERS)
  --server-cpus L  CPUs for the servers, as taskset takes them (default 0)
  --client-cpus L  CPUs for wrk (default 1)
  --nettool PATH   the nettool to run (default: this tree's tools/nettool,
                   else nettool in PATH; env NETTOOL)
  --no-install     do not apt-get install what is missing (wrk, nginx,
                   lighttpd); a missing server is skipped, missing wrk fails
  -h, --help       show this help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
duration=${BENCH_DURATION:-5}
rounds=${BENCH_ROUNDS:-3}
conns=50
warmup=1
sizes_list="4k 1m"
servers_list=${BENCH_SERVERS:-"nettool nginx lighttpd"}
server_cpus=0
client_cpus=1
nettool=${NETTOOL:-}
install=1
python=/usr/bin/python3

die() { echo "http-bench.sh: $*" >&2; exit 1; }
usage_error() { echo "http-bench.sh: $*" >&2; usage >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
    -d) [ $# -ge 2 ] || usage_error "-d needs SECS"; duration=$2; shift ;;
    -r) [ $# -ge 2 ] || usage_error "-r needs ROUNDS"; rounds=$2; shift ;;
    -c) [ $# -ge 2 ] || usage_error "-c needs CONNS"; conns=$2; shift ;;
    --warmup) [ $# -ge 2 ] || usage_error "--warmup needs SECS"; warmup=$2; shift ;;
    --sizes) [ $# -ge 2 ] || usage_error "--sizes needs a list"; sizes_list=$2; shift ;;
    --servers) [ $# -ge 2 ] || usage_error "--servers needs a list"; servers_list=$2; shift ;;
    --server-cpus) [ $# -ge 2 ] || usage_error "--server-cpus needs a list"; server_cpus=$2; shift ;;
    --client-cpus) [ $# -ge 2 ] || usage_error "--client-cpus needs a list"; client_cpus=$2; shift ;;
    --nettool) [ $# -ge 2 ] || usage_error "--nettool needs a path"; nettool=$2; shift ;;
    --no-install) install=0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage_error "invalid -r '$rounds'"
[[ $conns =~ ^[1-9][0-9]*$ ]] || usage_error "invalid -c '$conns'"
[[ $duration =~ ^[1-9][0-9]*$ ]] || usage_error "invalid -d '$duration' (whole seconds: wrk takes those)"
[[ $warmup =~ ^[0-9]+$ ]] || usage_error "invalid --warmup '$warmup' (whole seconds)"
for s in $sizes_list; do
    [[ $s =~ ^[1-9][0-9]*[kKmM]?$ ]] || usage_error "invalid size '$s'"
done

if [ -z "$nettool" ]; then
    if [ -x "$here/../../tools/nettool" ]; then
        nettool=$here/../../tools/nettool
    else
        nettool=$(command -v nettool) || die "no nettool: build the tree or pass --nettool"
    fi
fi
[ -x "$nettool" ] || die "$nettool is not executable"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
[ -x "$python" ] || python=$(command -v python3) || die "python3 is needed (free ports)"

# nginx and lighttpd live in /usr/sbin, which a user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
missing=
command -v wrk >/dev/null || missing="$missing wrk"
for s in $servers_list; do
    case $s in
    nginx|lighttpd) command -v "$s" >/dev/null || missing="$missing $s" ;;
    esac
done
if [ -n "$missing" ] && [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "http-bench: installing$missing" >&2
    # Debian starts no service from a package installed in a container
    # without an init; where one would be started, policy-rc.d says no.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing </dev/null >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing </dev/null >/dev/null 2>&1; } ||
        echo "http-bench: could not install$missing" >&2
fi
command -v wrk >/dev/null || die "wrk is needed (Debian package wrk)"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
. "$here/lib.sh"
bench_setup http-bench  # (readable by nginx's workers, which run as nobody)
www=$tmp/www
mkdir -p "$www"


# Waits until no connection of the last run is left on any server's port.
wait_quiet() {
    local name i busy
    for ((i = 0; i < 400; i++)); do
        busy=0
        for name in "${started[@]}"; do
            if [ "$(ss -Htn state established "( sport = :${addr[$name]##*:} )" 2>/dev/null | wc -l)" -gt 0 ]; then
                busy=1
                break
            fi
        done
        [ $busy -eq 0 ] && return 0
        sleep 0.05
    done
}

bytes_of() { # 4k -> 4096
    case $1 in
    *[kK]) echo $(( ${1%[kK]} * 1024 )) ;;
    *[mM]) echo $(( ${1%[mM]} * 1024 * 1024 )) ;;
    *) echo "$1" ;;
    esac
}


describe() {
    case $1 in
    nettool) echo "nettool serve http (async)" ;;
    nettool-w2) echo "nettool serve http -w 2" ;;
    nginx) echo "nginx (1 worker)" ;;
    lighttpd) echo "lighttpd" ;;
    *) echo "$1" ;;
    esac
}

nginx_conf() { # PORT
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$1 backlog=4096;
        root $www;
    }
}
EOF
}

lighttpd_conf() { # PORT
    mkdir -p "$tmp/lighttpd"
    cat >"$tmp/lighttpd/lighttpd.conf" <<EOF
server.document-root = "$www"
server.bind = "127.0.0.1"
server.port = $1
server.errorlog = "$tmp/lighttpd/error.log"
server.max-fds = 8192
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 75
server.network-backend = "sendfile"
mimetype.assign = ( "" => "application/octet-stream" )
EOF
}

# Starts server NAME pinned to the server CPUs; sets pid[NAME], addr[NAME].
start_server() {
    local name=$1 log=$tmp/$1.log port= cmd
    case $name in
    nettool) cmd=("$nettool" serve http "$www" -m async -l 127.0.0.1:0 --no-log) ;;
    nettool-w2) cmd=("$nettool" serve http "$www" -m async -w 2 -l 127.0.0.1:0 --no-log) ;;
    nginx)
        command -v nginx >/dev/null || { echo "  (skipping nginx: not installed)" >&2; return 1; }
        port=$(free_port)
        nginx_conf "$port"
        cmd=(nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx") ;;
    lighttpd)
        command -v lighttpd >/dev/null || { echo "  (skipping lighttpd: not installed)" >&2; return 1; }
        port=$(free_port)
        lighttpd_conf "$port"
        cmd=(lighttpd -D -f "$tmp/lighttpd/lighttpd.conf") ;;
    *) usage_error "unknown server '$name'" ;;
    esac
    setsid taskset -c "$server_cpus" "${cmd[@]}" </dev/null >/dev/null 2>"$log" &
    pid[$name]=$!
    started+=("$name")
    if [ -n "$port" ]; then
        addr[$name]=127.0.0.1:$port
    else
        addr[$name]=$(wait_listening "$log") || { cat "$log" >&2; die "$name did not start"; }
    fi
    wait_accepting "${addr[$name]}" || { cat "$log" >&2; die "$name at ${addr[$name]} does not accept"; }
}

# One wrk run; prints "RPS MBPS ERRORS CPU".
measure() {
    local name=$1 file=$2 out rps mbps errs t0 t1 s0 s1 cpu url
    url="http://${addr[$name]}/$file"
    if [ "$warmup" -gt 0 ]; then
        taskset -c "$client_cpus" wrk -t1 -c"$conns" -d"${warmup}s" "$url" >/dev/null 2>&1 || true
    fi
    wait_quiet
    t0=$(group_ticks "$name")
    s0=$(date +%s.%N)
    out=$(taskset -c "$client_cpus" wrk -t1 -c"$conns" -d"${duration}s" "$url" 2>&1) || true
    s1=$(date +%s.%N)
    t1=$(group_ticks "$name")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    # "Transfer/sec: 12.34MB": into MB/s (MiB, as wrk counts)
    mbps=$(awk '/^Transfer\/sec:/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
              f = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1 / 1024 : 1 / 1048576;
              printf "%.1f", v * f }' <<<"$out")
    errs=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
               /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' <<<"$out")
    [ -n "$rps" ] || { rps=0; errs=$((errs + 1)); }
    [ -n "$mbps" ] || mbps=0
    cpu=$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$clk_tck" \
          'BEGIN { run = e - s; printf "%.2f", (run > 0 ? (b - a) / hz / run : 0) }')
    echo "$rps $mbps $errs $cpu"
}



# ---- setup
clk_tck=$(getconf CLK_TCK)
if [ "$(nproc)" -lt 2 ] && [ "$server_cpus" = 0 ] && [ "$client_cpus" = 1 ]; then
    echo "http-bench.sh: one CPU only: servers and wrk share it" >&2
    client_cpus=0
fi
for s in $sizes_list; do
    head -c "$(bytes_of "$s")" /dev/urandom >"$www/$s.bin"
done
chmod -R a+rX "$www"
# Warm the page cache: every server then reads the files from memory.
cat "$www"/*.bin >/dev/null

servers=()
for name in $servers_list; do
    if start_server "$name"; then
        servers+=("$name")
    fi
done
[ ${#servers[@]} -gt 0 ] || die "no server to measure"

echo "http-bench: ${#servers[@]} servers on CPU $server_cpus, wrk -t1 -c$conns on CPU $client_cpus;"
echo "  $rounds rounds of ${duration} s (after ${warmup} s warmup) per server and file, median shown;"
echo "  $("$nettool" --version), $(nginx -v 2>&1 | sed 's/.*: //' || true), $(lighttpd -v 2>/dev/null | head -n 1 | cut -d' ' -f1 || true),"
echo "  $(uname -sr), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Every server answers every file with 200 and the right length first.
for name in "${servers[@]}"; do
    for s in $sizes_list; do
        got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://${addr[$name]}/$s.bin" 2>/dev/null ||
              echo "no curl")
        [ "$got" = "no curl" ] || [ "$got" = "200 $(bytes_of "$s")" ] ||
            die "$name answers /$s.bin with '$got'"
    done
done

declare -A rps mbps errors cpus
for s in $sizes_list; do
    for ((round = 1; round <= rounds; round++)); do
        for name in "${servers[@]}"; do
            read -r r m e c < <(measure "$name" "$s.bin")
            rps[$name,$s]+="$r "
            mbps[$name,$s]+="$m "
            cpus[$name,$s]+="$c "
            errors[$name,$s]=$(( ${errors[$name,$s]:-0} + e ))
        done
    done
    echo
    echo "== $(size_label "$s") file, $conns connections (req/s, median of $rounds) =="
    printf '%-28s %10s %9s %9s %8s %11s\n' server "req/s" "MiB/s" "vs nginx" "srv CPU" "req/CPU-s"
    ref=
    [ -n "${rps[nginx,$s]:-}" ] && ref=$(median ${rps[nginx,$s]})
    for name in "${servers[@]}"; do
        med=$(median ${rps[$name,$s]})
        cpu=$(median ${cpus[$name,$s]})
        per=$(awk -v r="$med" -v c="$cpu" 'BEGIN { printf "%.0f", (c > 0.01 ? r / c : 0) }')
        note=
        [ "${errors[$name,$s]}" -gt 0 ] && note="  (${errors[$name,$s]} errors)"
        printf '%-28s %10.0f %9s %9s %8s %11s%s\n' "$(describe "$name")" "$med" "$(median ${mbps[$name,$s]})" \
            "$(ratio_of "$med" "$ref")" "$cpu" "$per" "$note"
    done
done

echo
echo "== nettool vs nginx, side by side (req/s ratio, median rounds) =="
printf '%-28s' ""
for s in $sizes_list; do printf ' %9s' "$s"; done
echo
for name in "${servers[@]}"; do
    [ "$name" = nginx ] && continue
    printf '%-28s' "$(describe "$name")"
    for s in $sizes_list; do
        a=$(median ${rps[$name,$s]})
        b=
        [ -n "${rps[nginx,$s]:-}" ] && b=$(median ${rps[nginx,$s]})
        printf ' %9s' "$(ratio_of "$a" "$b")"
    done
    echo
done
