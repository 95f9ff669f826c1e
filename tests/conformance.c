/* conformance.c - socketserver's conformance list (section 5 of the
 * behaviours reference) for libnetsrv: every transport in every mode (sync,
 * thread, fork, async) serves three echo clients, closes cleanly and leaves
 * no thread, child or zombie behind (foreign children keep their status);
 * IPv6; 50 concurrent clients; shutdown races; closing at once; no
 * descriptor leak on failed creation.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* The threads before any server: 1, or more where a sanitizer runs a
 * thread of its own (see tu_base_tasks). After a server is freed the
 * count is awaited, not read once: a joined thread is still listed in
 * /proc/self/task for a moment, and under valgrind for a long one. */
static int base_tasks = 1;

static int addr_port(const netsrv_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return -1;
}

/* socketserver tests 1-12 (+72), and the IPv6 variants. */
static void test_echo_server(const char *label, const char *address, int dgram, netsrv_mode mode)
{
    const netsrv_handler *echo = netsrv_handler_find("echo");
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    int is_unix = strncmp(address, "unix:", 5) == 0;

    netsrv_config_init(&cfg);
    cfg.address = address;
    cfg.dgram = dgram;
    cfg.mode = mode;
    netsrv_server *srv = tu_create(&cfg, echo, addr);
    if (!ok(srv != NULL, "%s: server created on %s", label, address)) {
        skip(1, "no server");
        return;
    }

    /* The address read back is the one actually bound. */
    const netsrv_addr *sa = netsrv_server_addr(srv);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = netsrv_server_fileno(srv);
    ok(fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && sa && sl == sa->len &&
           memcmp(&ss, &sa->ss, sl) == 0,
       "%s: server address == getsockname(fileno)", label);
    if (is_unix)
        is_str(addr, address, "%s: address text is the path", label);
    else
        ok(sa && addr_port(sa) > 0, "%s: port 0 became a real port (%s)", label, addr);

    /* In fork mode, a child of our own that the library must never reap. */
    pid_t foreign = -1;
    int fpipe[2] = { -1, -1 };
    if (mode == NETSRV_FORK) {
        if (pipe(fpipe) < 0)
            bail_out("pipe: %s", strerror(errno));
        fflush(stdout);
        foreign = fork();
        if (foreign == 0) {
            char c;
            close(fpipe[1]);
            (void)!read(fpipe[0], &c, 1);
            tu_child_exit(72);
        }
        close(fpipe[0]);
    }

    tu_srv t;
    tu_start(&t, srv, 0.01);
    int good = 0;
    for (int i = 0; i < 3; i++)
        good += tu_echo_once(addr, dgram, "hello world\n");
    is(good, 3, "%s: 3 clients got \"hello world\" back", label);

    if (foreign > 0) {
        /* Let the foreign child die while the server runs and reaps, then
         * make the server reap its own children again. */
        close(fpipe[1]);
        ok(tu_wait_zombie(foreign, 5000), "%s: foreign child exited (zombie, unreaped)", label);
        good = 0;
        for (int i = 0; i < 3; i++)
            good += tu_echo_once(addr, dgram, "hello again\n");
        is(good, 3, "%s: 3 more clients served with a foreign zombie around", label);
    }

    is(tu_stop(&t), 0, "%s: serve_forever returned 0 after shutdown", label);
    netsrv_server_close(srv);
    is(netsrv_server_fileno(srv), -1, "%s: fileno is -1 after close", label);
    is(netsrv_server_active(srv), 0, "%s: no request in flight after close", label);
    ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "%s: the listening descriptor is closed", label);
    if (is_unix) {
        struct stat st;
        ok(stat(address + 5, &st) < 0 && errno == ENOENT, "%s: socket path unlinked on close", label);
    }
    if (mode == NETSRV_FORK) {
        int st = 0;
        pid_t r = waitpid(foreign, &st, 0);
        ok(r == foreign && WIFEXITED(st) && WEXITSTATUS(st) == 72,
           "%s: foreign child still ours to reap, status 72 (got pid %d status %d)", label, (int)r,
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        errno = 0;
        r = waitpid(-1, &st, WNOHANG);
        ok(r == -1 && errno == ECHILD, "%s: no child or zombie left (waitpid: %d, %s)", label, (int)r,
           strerror(errno));
    }
    netsrv_server_free(srv);
    is(tu_wait_tasks(base_tasks, 5.0), base_tasks, "%s: no thread left after free", label);
}

static int have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    int good = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return good;
}

static void test_transports(void)
{
    char label[128], path[160];
    for (int m = 0; m < TU_NMODES; m++) {
        netsrv_mode mode = tu_modes[m];
        const char *mn = netsrv_mode_name(mode);
        snprintf(label, sizeof label, "TCP %s", mn);
        test_echo_server(label, "127.0.0.1:0", 0, mode);
        snprintf(label, sizeof label, "Unix stream %s", mn);
        snprintf(path, sizeof path, "stream-%s", mn);
        char ua[200];
        test_echo_server(label, tu_unix_addr(ua, sizeof ua, path), 0, mode);
        snprintf(label, sizeof label, "UDP %s", mn);
        test_echo_server(label, "127.0.0.1:0", 1, mode);
        snprintf(label, sizeof label, "Unix datagram %s", mn);
        snprintf(path, sizeof path, "dgram-%s", mn);
        test_echo_server(label, tu_unix_addr(ua, sizeof ua, path), 1, mode);
    }
    if (have_ipv6()) {
        test_echo_server("TCP6 thread", "[::1]:0", 0, NETSRV_THREAD);
        test_echo_server("UDP6 sync", "[::1]:0", 1, NETSRV_SYNC);
        test_echo_server("TCP6 async", "[::1]:0", 0, NETSRV_ASYNC);
    } else {
        skip(3, "no IPv6 loopback");
    }
}

/* 50 clients connected at once, answered in reverse order: only a server
 * serving them concurrently can answer the last one first. */
static void test_concurrent(netsrv_mode mode, unsigned workers, const char *label)
{
    enum { N = 50 };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, mode);
    cfg.max_conns = 64;
    if (workers)
        cfg.workers = workers;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: server for 50 clients", label))
        return;
    tu_srv t;
    tu_start(&t, srv, 0.05);
    int fds[N], good = 0, sent = 0;
    char msg[64], buf[64];
    for (int i = 0; i < N; i++) {
        fds[i] = tu_connect(addr, 0);
        snprintf(msg, sizeof msg, "client %d\n", i);
        if (fds[i] >= 0 && tu_send_all(fds[i], msg, strlen(msg)) == 0)
            sent++;
    }
    is(sent, N, "%s: 50 clients connected and sent", label);
    for (int i = N - 1; i >= 0; i--) {
        snprintf(msg, sizeof msg, "client %d\n", i);
        if (fds[i] >= 0 && tu_read_line(fds[i], buf, sizeof buf, 10000) > 0 && strcmp(buf, msg) == 0)
            good++;
    }
    is(good, N, "%s: all 50 concurrent clients got their echo (answered last first)", label);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            tu_close(fds[i]);
    is(tu_stop(&t), 0, "%s: serve_forever returned", label);
    netsrv_server_close(srv);
    is(netsrv_server_active(srv), 0, "%s: nothing in flight after close", label);
    netsrv_server_free(srv);
    if (mode == NETSRV_FORK) {
        errno = 0;
        int r = waitpid(-1, NULL, WNOHANG);
        ok(r == -1 && errno == ECHILD, "%s: every child reaped", label);
    }
}

/* 13. test_shutdown: 20 servers stopped right after their thread starts. */
static void test_shutdown_many(void)
{
    enum { N = 20 };
    netsrv_server *srvs[N];
    tu_srv ts[N];
    int created = 0, stopped = 0;
    for (int i = 0; i < N; i++) {
        netsrv_config cfg;
        tu_config(&cfg, tu_modes[i % TU_NMODES]);
        srvs[i] = tu_create(&cfg, netsrv_handler_find("echo"), NULL);
        if (srvs[i]) {
            created++;
            tu_start(&ts[i], srvs[i], 0.01);
        }
    }
    for (int i = 0; i < N; i++)
        if (srvs[i])
            netsrv_shutdown(srvs[i]);
    for (int i = 0; i < N; i++)
        if (srvs[i] && tu_wait_done(&ts[i], 10.0) && ts[i].rv == 0)
            stopped++;
    is(created, N, "test_shutdown: 20 servers created");
    is(stopped, N, "test_shutdown: all 20 serve_forever calls returned 0 after an immediate shutdown");
    for (int i = 0; i < N; i++)
        if (srvs[i] && !ts[i].started)
            netsrv_server_free(srvs[i]);
}

/* bpo-2302: shutdown before serve_forever makes the next one return at
 * once; then the flag is reset and serving works again. */
static void test_shutdown_before_serve(void)
{
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config_init(&cfg);
    cfg.address = "127.0.0.1:0";
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "shutdown-before-serve: server"))
        return;
    netsrv_shutdown(srv);
    double t0 = tu_now();
    tu_srv t;
    tu_start(&t, srv, 5.0);
    int done = tu_wait_done(&t, 3.0);
    ok(done && tu_now() - t0 < 2.0, "serve_forever after an early shutdown returns at once (poll 5 s)");
    if (!done) {
        diag("serve_forever still running; leaking it");
        return;
    }
    is(t.rv, 0, "it returned 0");
    tu_start(&t, srv, 0.05);
    ok(tu_echo_once(addr, 0, "again\n"), "serve_forever runs again after the flag was consumed");
    is(tu_stop(&t), 0, "and stops again");
    netsrv_server_free(srv);
}

/* 14. test_close_immediately, for each mode. */
static void test_close_immediately(void)
{
    for (int m = 0; m < TU_NMODES; m++) {
        netsrv_config cfg;
        tu_config(&cfg, tu_modes[m]);
        double t0 = tu_now();
        netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), NULL);
        netsrv_server_free(srv);
        ok(srv && tu_now() - t0 < 2.0, "close immediately with no request (%s): no hang",
           netsrv_mode_name(tu_modes[m]));
    }
    netsrv_server_free(NULL);
    pass("netsrv_server_free(NULL) is fine");
}

/* 15. test_tcpserver_bind_leak: failed creations leave nothing open. */
static void test_bind_leak(void)
{
    /* A port someone else listens on: bind fails even with SO_REUSEADDR. */
    int busyport;
    int busy = tu_listen_loopback(&busyport);
    char busyaddr[64];
    snprintf(busyaddr, sizeof busyaddr, "127.0.0.1:%d", busyport);

    int before = tu_count_fds();
    int failed = 0, inuse = 0, witherr = 0, nulled = 0;
    for (int i = 0; i < 1024; i++) {
        netsrv_config cfg;
        netsrv_server *srv = NULL;
        char err[NETSRV_ERRLEN] = "";
        netsrv_config_init(&cfg);
        cfg.address = busyaddr;
        int rc = netsrv_server_create(&srv, &cfg, netsrv_handler_find("echo"), err, sizeof err);
        if (rc < 0)
            failed++;
        else
            netsrv_server_free(srv);
        if (rc == -EADDRINUSE)
            inuse++;
        if (err[0])
            witherr++;
        if (rc < 0 && srv == NULL)
            nulled++;
    }
    is(failed, 1024, "bind leak: 1024 creations on a busy port fail");
    is(inuse, 1024, "bind leak: each with -EADDRINUSE");
    is(witherr, 1024, "bind leak: each with an error text");
    is(nulled, 1024, "bind leak: no server handed out on failure");
    is(tu_count_fds(), before, "bind leak: no descriptor leaked (%d open before)", before);

    /* Bad addresses fail the same way, before any socket. */
    int bad = 0;
    static const char *bads[] = { "127.0.0.1:99999", "", "[::1", "unix:" };
    for (int i = 0; i < 1024; i++) {
        netsrv_config cfg;
        netsrv_server *srv = NULL;
        netsrv_config_init(&cfg);
        cfg.address = bads[i % 4];
        if (netsrv_server_create(&srv, &cfg, netsrv_handler_find("echo"), NULL, 0) == -EINVAL)
            bad++;
        else
            netsrv_server_free(srv);
    }
    is(bad, 1024, "1024 creations with invalid addresses fail with -EINVAL (err may be NULL)");
    is(tu_count_fds(), before, "no descriptor leaked by invalid addresses");

    /* A Unix path in a missing directory. */
    char ua[200];
    netsrv_config cfg;
    netsrv_server *srv = NULL;
    netsrv_config_init(&cfg);
    cfg.address = tu_unix_addr(ua, sizeof ua, "no-such-dir/sock");
    int rc = netsrv_server_create(&srv, &cfg, netsrv_handler_find("echo"), NULL, 0);
    is(rc, -ENOENT, "Unix path in a missing directory: -ENOENT");
    if (rc == 0)
        netsrv_server_free(srv);
    is(tu_count_fds(), before, "no descriptor leaked by a failed Unix bind");
    close(busy);
}

int main(void)
{
    tu_init(60);
    base_tasks = tu_base_tasks();
    test_transports();
    test_concurrent(NETSRV_THREAD, 0, "thread");
    test_concurrent(NETSRV_FORK, 0, "fork");
    test_concurrent(NETSRV_ASYNC, 0, "async");
    test_concurrent(NETSRV_ASYNC, 2, "async, 2 workers");
    test_shutdown_many();
    test_shutdown_before_serve();
    test_close_immediately();
    test_bind_leak();
    return done_testing();
}
