# tests/nginx_lib.sh - a real nginx for the tests that meet one
# (tests/tls.sh, tests/get.sh): free ports, the common head of its
# configuration, and starting it with a wait for every port.  Sourced after
# tests/lib.sh (alive, wait_for); uses $T (the test's directory), $PY and
# $NGINX.  nginx runs from $T/nginx, in the foreground, one process.

# ng_free_ports N: N ports the kernel picked as free just now (nginx cannot
# listen on port 0 and tell us; a port taken meanwhile makes the start
# fail, and the caller tries again).
ng_free_ports() {
    "$PY" -c '
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))
' "$1"
}

# ng_conf_head: the configuration up to inside "http {": everything nginx
# would otherwise write outside $T/nginx, logs there; the caller adds its
# servers and the closing brace.
ng_conf_head() {
    cat <<NGEOF
daemon off;
master_process off;
worker_processes 1;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log info;
events { worker_connections 256; }
http {
    access_log $T/nginx/access.log;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    default_type application/octet-stream;
NGEOF
}

# ng_start PORT...: runs nginx on $T/nginx/nginx.conf (NGINX_PID, listed
# in $T/pids for the cleanup) and waits until every PORT takes a
# connection; returns 1 if nginx exits or a port stays closed.
ng_start() {
    : >"$T/nginx/error.log"
    "$NGINX" -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" \
        >"$T/nginx/stdout" 2>&1 &
    NGINX_PID=$!
    echo "$NGINX_PID" >>"$T/pids"
    for _p in "$@"; do
        wait_for 10 sh -c "! kill -0 $NGINX_PID 2>/dev/null || exec \"$PY\" -c '
import socket; socket.create_connection((\"127.0.0.1\", $_p), timeout=1)' 2>/dev/null" ||
            return 1
        alive "$NGINX_PID" || return 1
    done
    return 0
}
