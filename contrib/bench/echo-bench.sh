#!/usr/bin/env bash
# echo-bench.sh - echo throughput of nettool's serve modes next to other
# echo servers (Python's socketserver and asyncio, ncat, socat) and three
# bare C references, the floor cost of each concurrency model: an epoll
# loop (epoll_echo.c), a thread per connection (thread_echo.c) and a
# process per connection (fork_echo.c), measured in one run with
# `nettool bench`.  See README.md in this directory for how to read it.
#
# The server runs pinned to one CPU and the client to another; rounds are
# interleaved across servers (round 1 of every server, then round 2, ...)
# so that a slow minute of the machine hits every server alike; the median
# round is shown.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: echo-bench.sh [OPTIONS]
Compare the echo throughput (requests/s) of several servers.

  -d SECS          measured time of each run (default 3; env BENCH_DURATION)
  -r ROUNDS        runs per server and load; the median is shown (default 3;
                   env BENCH_ROUNDS)
  --warmup SECS    unmeasured time before each run (default 0.5)
  --quick          just 50 connections x 1 KiB
  --conns "LIST"   connection counts (default "1 50 1000"; env BENCH_CONNS)
  --sizes "LIST"   message sizes (default "1k 64k"; env BENCH_SIZES)
  --servers "LIST" servers to run, of: epoll thread-ref fork-ref sync
                   thread fork async async-w2 py-threading py-asyncio ncat
                   socat (default all that are installed; env BENCH_SERVERS)
  --server-cpus L  CPUs for the servers, as taskset takes them (default 0)
  --client-cpus L  CPUs for the client (default 1)
  --nettool PATH   the nettool to run (default: this tree's tools/nettool,
                   else nettool in PATH; env NETTOOL)
  -h, --help       show this help
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
duration=${BENCH_DURATION:-3}
rounds=${BENCH_ROUNDS:-3}
warmup=0.5
conns_list=${BENCH_CONNS:-"1 50 1000"}
sizes_list=${BENCH_SIZES:-"1k 64k"}
servers_list=${BENCH_SERVERS:-"epoll thread-ref fork-ref sync thread fork async async-w2 py-threading py-asyncio ncat socat"}
server_cpus=0
client_cpus=1
nettool=${NETTOOL:-}
python=/usr/bin/python3

die() { echo "echo-bench.sh: $*" >&2; exit 1; }
usage_error() { echo "echo-bench.sh: $*" >&2; usage >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
    -d) [ $# -ge 2 ] || usage_error "-d needs SECS"; duration=$2; shift ;;
    -r) [ $# -ge 2 ] || usage_error "-r needs ROUNDS"; rounds=$2; shift ;;
    --warmup) [ $# -ge 2 ] || usage_error "--warmup needs SECS"; warmup=$2; shift ;;
    --quick) conns_list=50; sizes_list=1k ;;
    --conns) [ $# -ge 2 ] || usage_error "--conns needs a list"; conns_list=$2; shift ;;
    --sizes) [ $# -ge 2 ] || usage_error "--sizes needs a list"; sizes_list=$2; shift ;;
    --servers) [ $# -ge 2 ] || usage_error "--servers needs a list"; servers_list=$2; shift ;;
    --server-cpus) [ $# -ge 2 ] || usage_error "--server-cpus needs a list"; server_cpus=$2; shift ;;
    --client-cpus) [ $# -ge 2 ] || usage_error "--client-cpus needs a list"; client_cpus=$2; shift ;;
    --nettool) [ $# -ge 2 ] || usage_error "--nettool needs a path"; nettool=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage_error "invalid -r '$rounds'"
[[ $duration =~ ^[0-9]+([.][0-9]+)?$ ]] || usage_error "invalid -d '$duration'"

if [ -z "$nettool" ]; then
    if [ -x "$here/../../tools/nettool" ]; then
        nettool=$here/../../tools/nettool
    else
        nettool=$(command -v nettool) || die "no nettool: build the tree or pass --nettool"
    fi
fi
[ -x "$nettool" ] || die "$nettool is not executable"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
command -v cc >/dev/null || die "a C compiler (cc) is needed for the C references"
[ -x "$python" ] || python=$(command -v python3 || true)

# Raise our own open-file limit so servers started from here inherit it
# (Python and socat cannot raise it themselves).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

. "$here/lib.sh"
bench_setup echo-bench
declare -A idle_procs


# Waits until every server is back to idle: no connection of the last run
# left on its port and no more processes than it had at the start (fork
# mode, socat and ncat children exit after the run, on the server CPU).
wait_quiet() {
    local name port i busy
    for ((i = 0; i < 400; i++)); do
        busy=0
        for name in "${started[@]}"; do
            port=${addr[$name]##*:}
            if [ "$(group_size "$name")" -gt "${idle_procs[$name]}" ] ||
               [ "$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l)" -gt 0 ]; then
                busy=1
                break
            fi
        done
        [ $busy -eq 0 ] && return 0
        sleep 0.05
    done
}

py_threading='
import socket, socketserver, sys
class Echo(socketserver.BaseRequestHandler):
    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def handle(self):
        s = self.request
        while True:
            data = s.recv(65536)
            if not data:
                return
            s.sendall(data)
class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096
srv = Server(("127.0.0.1", 0), Echo)
print("py-threading: listening on 127.0.0.1:%d" % srv.server_address[1], file=sys.stderr, flush=True)
srv.serve_forever()
'

py_asyncio='
import asyncio, socket, sys
async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
async def main():
    srv = await asyncio.start_server(echo, "127.0.0.1", 0, backlog=4096)
    port = srv.sockets[0].getsockname()[1]
    print("py-asyncio: listening on 127.0.0.1:%d" % port, file=sys.stderr, flush=True)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
'

describe() {
    case $1 in
    epoll) echo "epoll reference" ;;
    thread-ref) echo "thread reference" ;;
    fork-ref) echo "fork reference" ;;
    sync|thread|fork|async) echo "nettool $1" ;;
    async-w2) echo "nettool async -w 2" ;;
    py-threading) echo "py ThreadingTCPServer" ;;
    py-asyncio) echo "py asyncio streams" ;;
    ncat) echo "ncat -e /bin/cat" ;;
    socat) echo "socat EXEC:cat" ;;
    *) echo "$1" ;;
    esac
}

# The C reference of server NAME's concurrency model, which the "vs model"
# column divides by: an event loop (epoll), blocking sockets with a thread
# per connection (thread-ref; sync too: one connection served with the
# same blocking calls) or a process per connection (fork-ref).
model_ref() {
    case $1 in
    epoll|async|async-w2|py-asyncio) echo epoll ;;
    thread-ref|thread|sync|py-threading) echo thread-ref ;;
    fork-ref|fork|ncat|socat) echo fork-ref ;;
    esac
}

# Builds the C reference SRC (in this directory) into $tmp/BIN.
build_ref() {
    local src=$1 bin=$2
    shift 2
    [ -x "$tmp/$bin" ] && return 0
    cc -O2 "$@" -o "$tmp/$bin" "$here/$src" || die "cannot build $src"
}

# Starts server NAME pinned to the server CPUs; sets pid[NAME], addr[NAME].
# Returns 1 (with a note) when the server is not available here.
start_server() {
    local name=$1 log=$tmp/$1.log port=
    local serve=("$nettool" serve echo -l 127.0.0.1:0 --nodelay)
    local cmd
    case $name in
    epoll) build_ref epoll_echo.c epoll_echo; cmd=("$tmp/epoll_echo" 127.0.0.1:0) ;;
    thread-ref) build_ref thread_echo.c thread_echo -pthread; cmd=("$tmp/thread_echo" 127.0.0.1:0) ;;
    fork-ref) build_ref fork_echo.c fork_echo; cmd=("$tmp/fork_echo" 127.0.0.1:0) ;;
    sync) cmd=("${serve[@]}" -m sync) ;;
    thread|fork) cmd=("${serve[@]}" -m "$name" --max-conns 1100) ;;
    async) cmd=("${serve[@]}" -m async) ;;
    async-w2) cmd=("${serve[@]}" -m async -w 2) ;;
    py-threading|py-asyncio)
        [ -n "$python" ] || { echo "  (skipping $name: no python3)" >&2; return 1; }
        if [ "$name" = py-threading ]; then
            cmd=("$python" -c "$py_threading")
        else
            cmd=("$python" -c "$py_asyncio")
        fi ;;
    ncat)
        command -v ncat >/dev/null || { echo "  (skipping ncat: not installed)" >&2; return 1; }
        port=$(free_port)
        cmd=(ncat -k -l -m 1100 127.0.0.1 "$port" -e /bin/cat) ;;
    socat)
        command -v socat >/dev/null || { echo "  (skipping socat: not installed)" >&2; return 1; }
        port=$(free_port)
        cmd=(socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=4096" EXEC:cat) ;;
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
    idle_procs[$name]=1
    wait_quiet  # the probe connection's child, if any, is gone
    idle_procs[$name]=$(group_size "$name")
}

# Whether load CONNS makes sense for server NAME.
meaningful() {
    local name=$1 conns=$2
    # sync serves one connection at a time: the others would only wait.
    [ "$name" = sync ] && [ "$conns" -gt 1 ] && return 1
    return 0
}

# One run; prints "RPS ERRORS CPU", CPU being the server's CPU use over
# the run in cores (1.0 = one core busy all the time).
measure() {
    local name=$1 conns=$2 size=$3 out rc=0 rps errs t0 t1 s0 s1
    wait_quiet
    t0=$(group_ticks "$name")
    s0=$(date +%s.%N)
    out=$(taskset -c "$client_cpus" "$nettool" bench "${addr[$name]}" -q --json \
          -c "$conns" -s "$size" -d "$duration" --warmup "$warmup" --timeout 30 | tail -n 1) || rc=$?
    rps=$(sed -n 's/.*"rps":\([0-9.]*\).*/\1/p' <<<"$out")
    errs=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$rps" ] || rps=0
    [ -n "$errs" ] || errs=0
    [ $rc -ne 0 ] && [ "$errs" -eq 0 ] && errs=1
    wait_quiet  # forked children exit and are reaped: their time counts
    t1=$(group_ticks "$name")
    s1=$(date +%s.%N)
    cpu=$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$clk_tck" \
          -v d="$duration" -v w="$warmup" \
          'BEGIN { busy = (b - a) / hz; run = d + w; if (e - s < run) run = e - s;
                   printf "%.3f", (run > 0 ? busy / run : 0) }')
    echo "$rps $errs $cpu"
}



# ---- setup
ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
if [ "$ncpu" -lt 2 ] && [ "$server_cpus" = 0 ] && [ "$client_cpus" = 1 ]; then
    echo "echo-bench.sh: one CPU only: server and client share it" >&2
    client_cpus=0
fi

servers=()
for name in $servers_list; do
    if start_server "$name"; then
        servers+=("$name")
    fi
done
[ ${#servers[@]} -gt 0 ] || die "no server to measure"

echo "echo-bench: ${#servers[@]} servers on CPU $server_cpus, client (nettool bench) on CPU $client_cpus;"
echo "  $rounds rounds of ${duration} s (after ${warmup} s warmup) per server and load, median shown;"
echo "  $("$nettool" --version), $(uname -sr), $ncpu CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

med_of() { # NAME CONNS SIZE -> median req/s, or nothing
    [ -n "${result[$1,$2,$3]:-}" ] && median ${result[$1,$2,$3]}
}
per_cpu_of() { # NAME CONNS SIZE -> median requests per server CPU-second
    [ -n "${per_cpu[$1,$2,$3]:-}" ] && median ${per_cpu[$1,$2,$3]}
}
short_ref() { # thread-ref -> thread
    echo "${1%-ref}"
}

declare -A result errors cpus per_cpu
loads=()
for size in $sizes_list; do
    for conns in $conns_list; do
        for ((round = 1; round <= rounds; round++)); do
            for name in "${servers[@]}"; do
                meaningful "$name" "$conns" || continue
                read -r rps errs cpu < <(measure "$name" "$conns" "$size")
                result[$name,$conns,$size]+="$rps "
                cpus[$name,$conns,$size]+="$cpu "
                # requests per second of server CPU: what a server costs,
                # whatever the client on the other core can drive
                per_cpu[$name,$conns,$size]+="$(awk -v r="$rps" -v c="$cpu" \
                    'BEGIN { printf "%.0f", (c > 0.01 ? r / c : 0) }') "
                errors[$name,$conns,$size]=$(( ${errors[$name,$conns,$size]:-0} + errs ))
            done
        done
        loads+=("$conns,$size")
        echo
        echo "== $conns connection$([ "$conns" -eq 1 ] || echo s) x $(size_label "$size") (req/s, median of $rounds) =="
        printf '%-24s %12s %10s %9s %13s %10s\n' server "req/s" "vs epoll" "srv CPU" "req/CPU-s" "vs model"
        ref=$(med_of epoll "$conns" "$size" || true)
        for name in "${servers[@]}"; do
            if ! meaningful "$name" "$conns"; then
                printf '%-24s %12s %10s %9s %13s %10s\n' "$(describe "$name")" n/a n/a n/a n/a n/a
                continue
            fi
            med=$(median ${result[$name,$conns,$size]})
            ratio=$(ratio_of "$med" "$ref")
            # against the reference of the server's own model (thread
            # mode against thread_echo.c, ...), when that one was run
            model=$(model_ref "$name")
            mratio=$(ratio_of "$med" "$(med_of "$model" "$conns" "$size" || true)")
            note=
            [ "${errors[$name,$conns,$size]}" -gt 0 ] && note="  (${errors[$name,$conns,$size]} errors)"
            printf '%-24s %12.0f %10s %9.2f %13.0f %10s %-6s%s\n' "$(describe "$name")" "$med" "$ratio" \
                "$(median ${cpus[$name,$conns,$size]})" "$(median ${per_cpu[$name,$conns,$size]})" \
                "$mratio" "$([ "$mratio" = n/a ] || short_ref "$model")" "$note" | sed 's/ *$//'
        done
    done
done

# ---- each nettool mode against the reference of its model, every load
load_label() { # CONNS,SIZE -> e.g. 50x1k
    echo "${1%,*}x${1#*,}"
}
model_matrix() { # TITLE FUNC: FUNC is med_of or per_cpu_of
    local title=$1 of=$2 name model load a b any=
    for name in sync thread fork async async-w2; do
        [[ " ${servers[*]} " == *" $name "* ]] && any=1
    done
    [ -n "$any" ] || return 0
    echo
    echo "== $title =="
    printf '%-38s' "nettool mode vs model reference"
    for load in "${loads[@]}"; do printf ' %9s' "$(load_label "$load")"; done
    echo
    for name in sync thread fork async async-w2; do
        [[ " ${servers[*]} " == *" $name "* ]] || continue
        model=$(model_ref "$name")
        printf '%-38s' "$(describe "$name") vs $(describe "$model")"
        for load in "${loads[@]}"; do
            a=$("$of" "$name" "${load%,*}" "${load#*,}" || true)
            b=$("$of" "$model" "${load%,*}" "${load#*,}" || true)
            printf ' %9s' "$(ratio_of "$a" "$b")"
        done
        echo
    done
}
model_matrix "nettool vs the reference of its model: req/s" med_of
model_matrix "nettool vs the reference of its model: requests per server CPU-second" per_cpu_of

# ---- the issue's targets
ratio_line() { # LABEL A B TARGET
    local label=$1 a=$2 b=$3 target=$4 r verdict
    if [ -z "$a" ] || [ -z "$b" ] || ! awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
        printf '  %-44s n/a\n' "$label"
        return
    fi
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
    if [ -n "$target" ]; then
        verdict=$(awk -v r="$r" -v t="$target" 'BEGIN { print (r >= t) ? "yes" : "NO" }')
        printf '  %-44s %6sx  (target >= %sx: %s)\n' "$label" "$r" "$target" "$verdict"
    else
        printf '  %-44s %6sx\n' "$label" "$r"
    fi
}
tsize=1k
for s in $sizes_list; do [ "$s" = 1k ] || [ "$s" = 1K ] || [ "$s" = 1024 ] && tsize=$s; done
echo
echo "== targets (50 connections x 1 KiB) =="
ratio_line "nettool async (1 loop) vs epoll reference" \
    "$(med_of async 50 "$tsize")" "$(med_of epoll 50 "$tsize")" 0.9
ratio_line "nettool async (1 loop) vs ThreadingTCPServer" \
    "$(med_of async 50 "$tsize")" "$(med_of py-threading 50 "$tsize")" 3
ratio_line "  the same per server CPU-second" \
    "$(per_cpu_of async 50 "$tsize")" "$(per_cpu_of py-threading 50 "$tsize")" ""
ratio_line "nettool async -w 2 vs -w 1" \
    "$(med_of async-w2 50 "$tsize")" "$(med_of async 50 "$tsize")" ""
if [ "$server_cpus" = 0 ]; then
    echo "  (-w 2 runs on the one server CPU here: it shows the cost of a second"
    echo "   loop, not scaling; give the servers more CPUs with --server-cpus)"
fi
