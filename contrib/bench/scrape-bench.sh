#!/usr/bin/env bash
# scrape-bench.sh - nettool scrape against the usual pipelines, in one run:
#  1. a 100 MB page served locally by `nettool serve http`:
#     `nettool scrape URL 'href="([^"]+)"' -g 1` vs
#     `curl -s URL | grep -oP 'href="\K[^"]+'`;
#  2. the same page as a local file: `nettool scrape file:PATH ...` vs
#     `pcre2grep -o1 'href="([^"]+)"' PATH`;
#  3. nettool's peak RSS on the served page, against the page's size;
#  4. a crawl of 400 linked pages from a server that takes 10 ms per page
#     (a small Python server, sleeping): --follow -j 16 against -j 1.
# Rounds are interleaved, medians printed with ratios; the server and the
# clients are pinned to different CPUs.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scrape-bench.sh [OPTIONS]
  -s MB         page size in MB (default 100)
  -r ROUNDS     rounds per contender, interleaved (default 3)
  -n PAGES      pages of the crawl (default 400)
  --server-cpus L, --client-cpus L   taskset CPU lists (default 0 and 1)
  -h, --help    show this help
Needs curl, grep with -P, pcre2grep (Debian pcre2-utils), python3, and GNU
time (/usr/bin/time) for the memory figure; installed with apt-get when
run as root and missing.
USAGE
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nettool=${NETTOOL:-$here/../../tools/nettool}
mb=100 rounds=3 pages=400 scpu=0 ccpu=1
while [ $# -gt 0 ]; do
    case $1 in
    -s) mb=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -n) pages=$2; shift 2 ;;
    --server-cpus) scpu=$2; shift 2 ;;
    --client-cpus) ccpu=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scrape-bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
need() { # COMMAND PACKAGE
    command -v "$1" >/dev/null || [ -x "$1" ] || {
        [ "$(id -u)" = 0 ] && apt-get install -y -qq "$2" >/dev/null 2>&1 ||
            { echo "scrape-bench.sh: $1 is needed (apt-get install $2)" >&2; exit 1; }
    }
}
need curl curl
need pcre2grep pcre2-utils
need python3 python3
need /usr/bin/time time

base=$(mktemp -d /dev/shm/scrapebench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$base"
}
trap cleanup EXIT
mkdir -p "$base/www"
echo "scrape-bench: making a ${mb} MB page in $base"
python3 - "$base/www/big.html" "$mb" <<'P'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
target = mb * 1000 * 1000
with open(path, "w") as f:
    n = i = 0
    while n < target:
        line = f'<p>Item {i}: some text around <a href="/p/{i}.html">link {i}</a> and more words.</p>\n'
        f.write(line)
        n += len(line)
        i += 1
P
size=$(stat -c %s "$base/www/big.html")

taskset -c "$scpu" "$nettool" serve http "$base/www" -l 127.0.0.1:0 --no-log 2>"$base/srv.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$base/srv.log" && break; sleep 0.05; done
addr=$(awk '/listening on/ {print $NF; exit}' "$base/srv.log")
url="http://$addr/big.html"

now() { date +%s.%N; }
# run NAME CMD: times CMD into $base/NAME.times.  The output goes through
# a pipe, not to /dev/null: GNU grep, seeing its output is /dev/null, stops
# at the first match (as -q does), which would time nothing.
run() {
    local name=$1 t0 t1
    shift
    t0=$(now)
    taskset -c "$ccpu" sh -c "($*) | cat >/dev/null"
    t1=$(now)
    echo "$t1 - $t0" | bc -l >>"$base/$name.times"
}
median() { sort -n "$base/$1.times" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }

# Warm caches and check that both sides find the same links.
n1=$("$nettool" scrape "$url" 'href="([^"]+)"' -g 1 | wc -l)
n2=$(curl -s "$url" | grep -oP 'href="\K[^"]+' | wc -l)
n3=$(pcre2grep -o1 'href="([^"]+)"' "$base/www/big.html" | wc -l)
echo "scrape-bench: $size bytes, $n1 links (curl|grep $n2, pcre2grep $n3)"
[ "$n1" = "$n2" ] && [ "$n1" = "$n3" ] || { echo "scrape-bench: the counts differ" >&2; exit 1; }

for r in $(seq "$rounds"); do
    run scrape_url "'$nettool' scrape '$url' 'href=\"([^\"]+)\"' -g 1"
    run curl_grep "curl -s '$url' | grep -oP 'href=\"\\K[^\"]+'"
    run scrape_file "'$nettool' scrape 'file:$base/www/big.html' 'href=\"([^\"]+)\"' -g 1"
    run pcre2grep "pcre2grep -o1 'href=\"([^\"]+)\"' '$base/www/big.html'"
done
rss=$( { /usr/bin/time -f '%M' taskset -c "$ccpu" "$nettool" scrape "$url" 'href="([^"]+)"' -g 1 >/dev/null; } 2>&1 | tail -1)
rssf=$( { /usr/bin/time -f '%M' taskset -c "$ccpu" "$nettool" scrape "file:$base/www/big.html" 'href="([^"]+)"' -g 1 >/dev/null; } 2>&1 | tail -1)

# The crawl: page i links to pages 10i+1 .. 10i+10 (a wide tree), each
# answered after 10 ms; keep-alive, a thread per connection.
cat >"$base/slow.py" <<'P'
import http.server, sys, time
pages = int(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(0.01)
        try:
            i = int(self.path.strip("/").split(".")[0])
        except ValueError:
            i = -1
        if not 0 <= i < pages:
            body, code = b"no\n", 404
        else:
            links = "".join(f'<a href="/{j}.html">{j}</a>\n' for j in range(10 * i + 1, 10 * i + 11) if j < pages)
            body, code = f"<h1>page {i}</h1>\n{links}".encode(), 200
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.daemon_threads = True
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
P
taskset -c "$scpu" python3 "$base/slow.py" "$pages" >"$base/slow.port" &
pids+=($!)
for _ in $(seq 100); do [ -s "$base/slow.port" ] && break; sleep 0.05; done
curl="http://127.0.0.1:$(cat "$base/slow.port")/0.html"
got=$("$nettool" scrape "$curl" '<h1>page \d+' --follow 'href="([^"]+)"' --depth 10 -j 16 | wc -l)
echo "scrape-bench: the crawl finds $got of $pages pages"
for r in $(seq "$rounds"); do
    run crawl_j16 "'$nettool' scrape '$curl' '<h1>page \\d+' --follow 'href=\"([^\"]+)\"' --depth 10 -j 16"
    run crawl_j1 "'$nettool' scrape '$curl' '<h1>page \\d+' --follow 'href=\"([^\"]+)\"' --depth 10 -j 1"
done

a=$(median scrape_url) b=$(median curl_grep) c=$(median scrape_file) d=$(median pcre2grep)
e=$(median crawl_j16) f=$(median crawl_j1)
printf '\n%-52s %8s\n' "medians of $rounds rounds" "seconds"
printf '%-52s %8s\n' "nettool scrape URL (served ${mb} MB page)" "$a"
printf '%-52s %8s   nettool/curl|grep = %.2f\n' "curl -s URL | grep -oP" "$b" "$(echo "$a / $b" | bc -l)"
printf '%-52s %8s\n' "nettool scrape file:PATH" "$c"
printf '%-52s %8s   nettool/pcre2grep = %.2f\n' "pcre2grep -o1 PATH" "$d" "$(echo "$c / $d" | bc -l)"
printf '%-52s %8s KiB  (%.2fx the page)\n' "nettool peak RSS, served page" "$rss" "$(echo "$rss * 1024 / $size" | bc -l)"
printf '%-52s %8s KiB  (%.2fx the page; mapped)\n' "nettool peak RSS, local file" "$rssf" "$(echo "$rssf * 1024 / $size" | bc -l)"
printf '%-52s %8s\n' "crawl of $got pages, 10 ms each, -j 16" "$e"
printf '%-52s %8s   -j 1 / -j 16 = %.1fx\n' "crawl of $got pages, 10 ms each, -j 1" "$f" "$(echo "$f / $e" | bc -l)"
