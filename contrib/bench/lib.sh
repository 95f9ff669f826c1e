# lib.sh - what the benchmark scripts here share: their scratch directory
# and the clean-up of the servers they started, waiting for a server to
# listen, its CPU time, medians and ratios.  Sourced (bash), not run:
#
#   here=...; . "$here/lib.sh"; bench_setup NAME
#
# A script records each server it starts in the arrays started (names),
# pid[NAME] (the leader of the server's own process group: start it with
# setsid) and addr[NAME] (HOST:PORT); python is the python3 to use.

declare -A pid addr
started=()

# Makes $tmp, a scratch directory readable by others (nginx's workers run
# as nobody), and sets the traps that stop every server and remove it.
bench_setup() { # NAME
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1
    chmod 755 "$tmp"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_cleanup() {
    local name
    for name in "${started[@]}"; do
        # Each server leads its own process group: this takes its children
        # (fork mode, socat, ncat, nginx's workers) too.
        kill -TERM -- "-${pid[$name]}" 2>/dev/null || true
    done
    for name in "${started[@]}"; do
        wait "${pid[$name]}" 2>/dev/null || true
    done
    rm -rf "$tmp"
}

# A free TCP port on 127.0.0.1, for servers that cannot be told port 0.
free_port() {
    "${python:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until HOST:PORT accepts a connection (at most 10 s).
wait_accepting() {
    local host=${1%:*} port=${1##*:} i
    for ((i = 0; i < 200; i++)); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# Waits until the server's log file names its address; prints it.
wait_listening() {
    local log=$1 i line
    for ((i = 0; i < 200; i++)); do
        line=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$log" 2>/dev/null | head -n 1)
        if [ -n "$line" ]; then
            echo "$line"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# Processes in server NAME's process group (it and its children).
group_size() {
    pgrep -g "${pid[$1]}" 2>/dev/null | wc -l
}

# CPU time (clock ticks) used so far by server NAME's process group,
# reaped children included (fields 14-17 of /proc/PID/stat).
group_ticks() {
    local p
    for p in $(pgrep -g "${pid[$1]}" 2>/dev/null); do
        cat "/proc/$p/stat" 2>/dev/null || true  # it may exit meanwhile
    done | awk '{ t += $14 + $15 + $16 + $17 } END { print t + 0 }'
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
        else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio_of() { # A B -> "A/Bx" to two places, or n/a when either is missing or B is 0
    if [ -n "$1" ] && [ -n "$2" ] && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'
    else
        echo n/a
    fi
}

size_label() { # 4k -> "4 KiB"
    case $1 in
    *[kK]) echo "${1%[kK]} KiB" ;;
    *[mM]) echo "${1%[mM]} MiB" ;;
    *) echo "$1 B" ;;
    esac
}
