/* async.c - the async mode (libev loops, a coroutine per request) on its
 * own terms: the same handler structs as thread mode, byte for byte (echo
 * and a multi-step readline dialogue, TCP and Unix); 1,000 connections in
 * one loop; a peer that never reads (bounded memory, others still served);
 * idle and whole-request timeouts; the drain after a shutdown with two
 * loops; netsrv_sleep yielding to the loop; max_conns across loops;
 * datagrams; the exec handler; and the coroutine stack: its size is
 * cfg.stack_size and an overflow hits the guard page (SIGSEGV in a forked
 * child) instead of corrupting memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"


/* ------------------------------------------------------------- helpers */

/* Creates a server from cfg (address, mode, dgram as set there) with h,
 * runs it in t; NULL (and a diag) on failure. */
static netsrv_server *start(tu_srv *t, const netsrv_handler *h, const netsrv_config *cfg, char *addr)
{
    netsrv_server *srv = tu_create(cfg, h, addr);
    if (srv && tu_start(t, srv, 0.02) < 0) {
        netsrv_server_free(srv);
        return NULL;
    }
    return srv;
}

static void stop(tu_srv *t)
{
    if (!t->srv)
        return;
    if (tu_stop(t) == -ETIMEDOUT) {
        diag("serve_forever did not stop: leaking the server");
        return;
    }
    netsrv_server_free(t->srv);
    t->srv = NULL;
}

static void async_cfg(netsrv_config *cfg, const char *address, unsigned workers)
{
    netsrv_config_init(cfg);
    cfg->address = address;
    cfg->mode = NETSRV_ASYNC;
    cfg->workers = workers;
}

static void drain_events(void)
{
    tu_ev evs[64];
    while (tu_ev_drain(evs, 64) > 0)
        ;
}

/* Bulk transfer on several connections at once: each sends out (then
 * half-closes) while reading everything the server sends until its EOF. */
typedef struct xfer {
    int fd;
    const char *out;
    size_t outlen, sent;
    char *in;
    size_t incap, got;
    int eof, err;
} xfer;

/* Returns 0 when every connection sent all and saw EOF within timeout_ms. */
static int xfer_run(xfer *x, int n, int timeout_ms)
{
    double end = tu_now() + timeout_ms / 1000.0;
    struct pollfd pfd[16];
    if (n > 16)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        fcntl(x[i].fd, F_SETFL, fcntl(x[i].fd, F_GETFL) | O_NONBLOCK);
        x[i].sent = x[i].got = 0;
        x[i].eof = x[i].err = 0;
        if (x[i].outlen == 0)
            shutdown(x[i].fd, SHUT_WR);
    }
    for (;;) {
        int live = 0;
        for (int i = 0; i < n; i++) {
            pfd[i].fd = x[i].eof || x[i].err ? -1 : x[i].fd;
            pfd[i].events = POLLIN | (x[i].sent < x[i].outlen ? POLLOUT : 0);
            pfd[i].revents = 0;
            live += pfd[i].fd >= 0;
        }
        if (!live)
            return 0;
        int ms = (int)((end - tu_now()) * 1000);
        if (ms <= 0)
            return -ETIMEDOUT;
        int r = poll(pfd, (nfds_t)n, ms);
        if (r < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n && r > 0; i++) {
            if (pfd[i].revents & POLLOUT) {
                size_t chunk = x[i].outlen - x[i].sent;
                if (chunk > 65536)
                    chunk = 65536;
                ssize_t w = send(x[i].fd, x[i].out + x[i].sent, chunk, MSG_NOSIGNAL);
                if (w > 0) {
                    x[i].sent += (size_t)w;
                    if (x[i].sent == x[i].outlen)
                        shutdown(x[i].fd, SHUT_WR);
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    x[i].err = errno;
                }
            }
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (x[i].got == x[i].incap) {
                    x[i].err = ENOBUFS;
                    continue;
                }
                ssize_t g = recv(x[i].fd, x[i].in + x[i].got, x[i].incap - x[i].got, 0);
                if (g > 0)
                    x[i].got += (size_t)g;
                else if (g == 0)
                    x[i].eof = 1;
                else if (errno != EAGAIN && errno != EINTR)
                    x[i].err = errno;
            }
        }
    }
}

static void fill_random(char *p, size_t n, unsigned seed)
{
    unsigned long long s = 0x9e3779b97f4a7c15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        p[i] = (char)(s >> 24);
    }
}

/* -------------------------------------------- a multi-step dialogue */

/* "NAME\n" -> "hello NAME\n"; "N\n" -> N numbered lines; "bye\n". */
static int greet_handle(netsrv_request *req)
{
    char name[64], num[32];
    ssize_t n = netsrv_readline(req, name, sizeof name);
    if (n <= 0)
        return (int)n;
    if (name[n - 1] != '\n')
        return -EPROTO;
    if (netsrv_printf(req, "hello %.*s\n", (int)(n - 1), name) < 0)
        return -EPIPE;
    n = netsrv_readline(req, num, sizeof num - 1);
    if (n <= 0)
        return n < 0 ? (int)n : -EPIPE;
    num[n] = '\0';
    long k = strtol(num, NULL, 10);
    for (long i = 1; i <= k; i++) {
        int rc = netsrv_printf(req, "line %ld of %ld\n", i, k);
        if (rc < 0)
            return rc;
    }
    return netsrv_printf(req, "bye\n") < 0 ? -EPIPE : 0;
}

static const netsrv_handler greet = { "greet", NULL, greet_handle, NULL, 0, NULL };

/* The client side of the dialogue: the whole transcript into out (NUL
 * terminated); returns its length or a negative errno. */
static ssize_t greet_client(const char *addr, const char *name, long k, char *out, size_t cap)
{
    char line[128];
    int fd = tu_connect(addr, 0);
    if (fd < 0)
        return fd;
    snprintf(line, sizeof line, "%s\n", name);
    tu_send_all(fd, line, strlen(line));
    ssize_t n = tu_read_line(fd, out, cap, 5000); /* the reply before the next step */
    if (n <= 0) {
        tu_close(fd);
        return n < 0 ? n : -EPIPE;
    }
    snprintf(line, sizeof line, "%ld\n", k);
    tu_send_all(fd, line, strlen(line));
    shutdown(fd, SHUT_WR);
    ssize_t m = tu_read_all(fd, out + n, cap - 1 - (size_t)n, 10000);
    tu_close(fd);
    if (m < 0)
        return m;
    out[n + m] = '\0';
    return n + m;
}

static void test_same_handlers(const char *label, const char *address, netsrv_mode mode, unsigned workers)
{
    enum { K = 3000, BIG = 1 << 20 };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_srv t;
    async_cfg(&cfg, address, workers);
    cfg.mode = mode;

    /* The expected transcript, built here: not taken from another mode. */
    size_t cap = 64 * K + 256;
    char *want = malloc(cap), *got = malloc(cap);
    size_t wl = (size_t)snprintf(want, cap, "hello Ada Lovelace\n");
    for (long i = 1; i <= K; i++)
        wl += (size_t)snprintf(want + wl, cap - wl, "line %ld of %d\n", i, K);
    wl += (size_t)snprintf(want + wl, cap - wl, "bye\n");

    if (!start(&t, &greet, &cfg, addr)) {
        fail("%s: greet server", label);
    } else {
        ssize_t n = greet_client(addr, "Ada Lovelace", K, got, cap);
        ok(n == (ssize_t)wl && memcmp(got, want, wl) == 0,
           "%s: multi-step readline dialogue (name, then %d lines, %zu bytes) exact", label, K, wl);
        if (n != (ssize_t)wl)
            diag("  got %zd bytes, expected %zu", n, wl);
        n = greet_client(addr, "Bob", 0, got, cap);
        is_str(n > 0 ? got : "", "hello Bob\nbye\n", "%s: a second dialogue on the same server", label);
        stop(&t);
    }

    /* The ready echo handler, unchanged: a megabyte of binary both ways,
     * and a line. */
    char *out = malloc(BIG), *in = malloc(BIG + 1);
    fill_random(out, BIG, 7);
    if (!start(&t, netsrv_handler_find("echo"), &cfg, addr)) {
        fail("%s: echo server", label);
    } else {
        ok(tu_echo_once(addr, 0, "same handler, another mode\n"), "%s: echo of a line", label);
        xfer x = { .fd = tu_connect(addr, 0), .out = out, .outlen = BIG, .in = in, .incap = BIG + 1 };
        int r = x.fd >= 0 ? xfer_run(&x, 1, 20000) : x.fd;
        ok(r == 0 && x.got == BIG && memcmp(in, out, BIG) == 0,
           "%s: echo of 1 MiB of random bytes byte-exact (rc %d, got %zu, err %d)", label, r, x.got, x.err);
        tu_close(x.fd);
        stop(&t);
    }
    free(out);
    free(in);
    free(want);
    free(got);
}

/* ------------------------------------------------ 1,000 connections */

static void test_thousand(void)
{
    enum { N = 1000 };
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2 * N + 100) {
        rlim_t want = 2 * N + 200;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
            skip(4, "RLIMIT_NOFILE hard limit too low for 2,000 descriptors");
            return;
        }
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            skip(4, "cannot raise RLIMIT_NOFILE");
            return;
        }
    }
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], msg[32], buf[32];
    tu_srv t;
    async_cfg(&cfg, "127.0.0.1:0", 1);
    cfg.backlog = 2048;
    if (!start(&t, netsrv_handler_find("echo"), &cfg, addr)) {
        fail("1000: server");
        skip(3, "no server");
        return;
    }
    static int fds[N];
    int conn = 0, sent = 0, good = 0;
    for (int i = 0; i < N; i++)
        if ((fds[i] = tu_connect(addr, 0)) >= 0)
            conn++;
    for (int i = 0; i < N; i++) {
        snprintf(msg, sizeof msg, "conn %d\n", i);
        if (fds[i] >= 0 && tu_send_all(fds[i], msg, strlen(msg)) == 0)
            sent++;
    }
    ok(conn == N && sent == N, "1,000 clients connected at once to one async loop, each sent a line (%d, %d)",
       conn, sent);
    double end = tu_now() + 15.0; /* for all of them: a stuck server fails fast */
    for (int i = N - 1; i >= 0; i--) {
        snprintf(msg, sizeof msg, "conn %d\n", i);
        int left = (int)((end - tu_now()) * 1000);
        if (fds[i] >= 0 && tu_read_line(fds[i], buf, sizeof buf, left > 1 ? left : 1) > 0 && !strcmp(buf, msg))
            good++;
    }
    is(good, N, "all 1,000 got their own echo (read last first)");
    is(netsrv_server_active(t.srv), N, "1,000 requests in flight at once in one loop");
    for (int i = 0; i < N; i++)
        tu_close(fds[i]);
    ok(tu_echo_once(addr, 0, "after the thousand\n"), "served again once they left");
    stop(&t);
}

/* -------------------------------------------- a peer that never reads */

static void test_never_reads(void)
{
    enum { CHUNK = 64 * 1024 };
    const long long target = 200ll << 20;
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_srv t;
    async_cfg(&cfg, "127.0.0.1:0", 1);
    if (!start(&t, netsrv_handler_find("echo"), &cfg, addr)) {
        fail("never-reads: server");
        skip(3, "no server");
        return;
    }
    /* Warm up (buffers, a coroutine stack) so only growth is measured. */
    tu_echo_once(addr, 0, "warm\n");
    static char chunk[CHUNK];
    memset(chunk, 'x', sizeof chunk);
    long before = (tu_rss_bytes() / 1024);
    int fd = tu_connect(addr, 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    long long pushed = 0;
    double last = tu_now(), t0 = last;
    /* Push until 200 MiB went out or sending has stalled for 0.3 s (the
     * server stopped reading because we never read its echo). */
    while (pushed < target && tu_now() - last < 0.3 && tu_now() - t0 < 15.0) {
        ssize_t w = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (w > 0) {
            pushed += w;
            last = tu_now();
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            break;
        struct pollfd p = { fd, POLLOUT, 0 };
        poll(&p, 1, 50);
    }
    long after = (tu_rss_bytes() / 1024);
    long grew = after - before;
    diag("never-reads: pushed %lld KiB, RSS %ld -> %ld KiB (%+ld KiB)", pushed >> 10, before, after, grew);
    ok(pushed < target, "a client that never reads is pushed back (it sent %lld MiB of 200 before stalling)",
       pushed >> 20);
    /* ASan keeps freed memory in quarantine: RSS there says little. */
    long bound = TU_UNDER_ASAN ? 64 * 1024 : 8 * 1024;
    ok(before > 0 && grew < bound, "server memory stays bounded meanwhile (RSS %+ld KiB, bound %ld KiB)", grew,
       bound);
    ok(tu_echo_once(addr, 0, "while the other is stuck\n"), "another client is echoed while the first is stuck");
    tu_close(fd);
    ok(tu_echo_once(addr, 0, "after\n"), "and after the stuck one left");
    stop(&t);
}

/* ------------------------------------------------------------ timeouts */

static int ev_echo_handle(netsrv_request *req)
{
    char buf[256];
    ssize_t n;
    while ((n = netsrv_readline(req, buf, sizeof buf)) > 0)
        if (netsrv_write(req, buf, (size_t)n) < 0)
            break;
    tu_ev_emit('R', (int)n);
    return n < 0 ? (int)n : 0;
}

static void test_timeouts(unsigned workers)
{
    netsrv_handler h = { "evecho", NULL, ev_echo_handle, NULL, 0, NULL };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64];
    tu_srv t;
    tu_ev ev = { 0, 0 };
    drain_events();

    /* Idle timeout: a silent peer is closed, others are served meanwhile. */
    async_cfg(&cfg, "127.0.0.1:0", workers);
    cfg.timeout = 0.3;
    if (!start(&t, &h, &cfg, addr)) {
        fail("w%u: idle-timeout server", workers);
    } else {
        int silent = tu_connect(addr, 0);
        double t0 = tu_now();
        ok(tu_echo_once(addr, 0, "meanwhile\n"), "w%u: timeout=0.3: another client is served meanwhile", workers);
        tu_ev_wait(&ev, 1, 5000); /* that client's end */
        int r = tu_wait_eof(silent, 5000);
        double el = tu_now() - t0;
        ok(r == 1 && el > 0.2 && el < 3.0, "w%u: cfg.timeout=0.3 closes a silent peer (after %.2f s)", workers, el);
        ev.val = 0;
        tu_ev_wait(&ev, 1, 5000);
        is(ev.val, -ETIMEDOUT, "w%u: its handler's readline returned -ETIMEDOUT", workers);
        tu_close(silent);
        stop(&t);
    }

    /* request_timeout: a busy peer (a line every 0.1 s, never idle long)
     * is still cut when the whole request's time is up. */
    drain_events();
    async_cfg(&cfg, "127.0.0.1:0", workers);
    cfg.request_timeout = 0.5;
    if (!start(&t, &h, &cfg, addr)) {
        fail("w%u: request-timeout server", workers);
    } else {
        int fd = tu_connect(addr, 0), rounds = 0, cut = 0;
        double t0 = tu_now();
        while (tu_now() - t0 < 4.0) {
            if (tu_send_all(fd, "busy\n", 5) < 0) {
                cut = 1;
                break;
            }
            ssize_t n = tu_read_line(fd, buf, sizeof buf, 2000);
            if (n == 5 && !strcmp(buf, "busy\n")) {
                rounds++;
                usleep(100000); /* the client's pace, not synchronisation */
                continue;
            }
            cut = n == 0 || n == -ECONNRESET || n == -EPIPE;
            break;
        }
        double el = tu_now() - t0;
        ok(rounds >= 3, "w%u: request_timeout=0.5: a busy client is served meanwhile (%d rounds)", workers, rounds);
        ok(cut && el > 0.4 && el < 3.0, "w%u: request_timeout=0.5 cuts the busy client (after %.2f s)", workers, el);
        ev.val = 0;
        tu_ev_wait(&ev, 1, 5000);
        is(ev.val, -ETIMEDOUT, "w%u: its handler's readline returned -ETIMEDOUT", workers);
        tu_close(fd);
        stop(&t);
    }
}

/* --------------------------------------- control handler: loops, sleeps */

static pthread_mutex_t loops_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t loops[16];
static int nloops;

/* A small number for the thread (loop) running the caller. */
static int loop_index(void)
{
    pthread_t me = pthread_self();
    pthread_mutex_lock(&loops_lock);
    int i;
    for (i = 0; i < nloops; i++)
        if (pthread_equal(loops[i], me))
            break;
    if (i == nloops && nloops < 16)
        loops[nloops++] = me;
    pthread_mutex_unlock(&loops_lock);
    return i;
}

static int blockpipe[2] = { -1, -1 };

/* Per line: "who" -> "L<loop>", "sleep S" -> netsrv_sleep(S), "slept RC";
 * "block" -> blocks its whole loop thread on a pipe until the test writes
 * to it, "unblocked"; anything else is echoed. */
static int ctl_handle(netsrv_request *req)
{
    char buf[128];
    ssize_t n;
    while ((n = netsrv_readline(req, buf, sizeof buf - 1)) > 0) {
        buf[n] = '\0';
        if (!strcmp(buf, "who\n")) {
            netsrv_printf(req, "L%d\n", loop_index());
        } else if (!strncmp(buf, "sleep ", 6)) {
            tu_ev_emit('S', loop_index());
            int rc = netsrv_sleep(req, strtod(buf + 6, NULL));
            netsrv_printf(req, "slept %d\n", rc);
        } else if (!strcmp(buf, "block\n")) {
            char c;
            tu_ev_emit('B', loop_index());
            while (read(blockpipe[0], &c, 1) < 0 && errno == EINTR)
                ;
            netsrv_printf(req, "unblocked\n");
        } else {
            netsrv_write(req, buf, (size_t)n);
        }
    }
    tu_ev_emit('R', (int)n);
    return 0;
}

static const netsrv_handler ctl = { "ctl", NULL, ctl_handle, NULL, 0, NULL };

static int ask(int fd, const char *line, char *buf, size_t cap)
{
    if (tu_send_all(fd, line, strlen(line)) < 0)
        return -1;
    return tu_read_line(fd, buf, cap, 5000) > 0 ? 0 : -1;
}

/* workers=1: two requests sleeping 1 s each overlap (one after the other
 * would take 2 s), and a third client is echoed while they sleep (its
 * answer comes while neither sleeper has answered yet). */
static void test_sleep_yields(void)
{
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], b1[64] = "", b2[64] = "", b3[64] = "";
    tu_srv t;
    tu_ev evs[2];
    drain_events();
    async_cfg(&cfg, "127.0.0.1:0", 1);
    if (!start(&t, &ctl, &cfg, addr)) {
        fail("sleep: server");
        return;
    }
    int s1 = tu_connect(addr, 0), s2 = tu_connect(addr, 0), e = tu_connect(addr, 0);
    double t0 = tu_now();
    tu_send_all(s1, "sleep 1\n", 8);
    tu_send_all(s2, "sleep 1\n", 8);
    int began = tu_ev_wait(evs, 2, 5000);
    is(began, 2, "sleep: both requests are in netsrv_sleep at once in one loop");
    tu_send_all(e, "echo me\n", 8);
    ssize_t ne = tu_read_line(e, b3, sizeof b3, 5000);
    struct pollfd sleepers[2] = { { .fd = s1, .events = POLLIN }, { .fd = s2, .events = POLLIN } };
    int answered = poll(sleepers, 2, 0);
    ssize_t n1 = tu_read_line(s1, b1, sizeof b1, 5000);
    ssize_t n2 = tu_read_line(s2, b2, sizeof b2, 5000);
    double ts = tu_now() - t0;
    ok(ne > 0 && !strcmp(b3, "echo me\n") && answered == 0,
       "sleep: a third client is echoed while both still sleep");
    ok(n1 > 0 && n2 > 0 && !strcmp(b1, "slept 0\n") && !strcmp(b2, "slept 0\n"),
       "sleep: both sleeps return 0 (\"%.*s\", \"%.*s\")", (int)strcspn(b1, "\n"), b1, (int)strcspn(b2, "\n"), b2);
    ok(ts >= 0.95 && ts < 1.9, "sleep: the pair of 1 s sleeps took %.3f s in all (overlapping, not 2 s)", ts);
    tu_close(s1);
    tu_close(s2);
    tu_close(e);
    stop(&t);
}

/* workers=2: clients connect until both loops serve some; a loop held
 * blocked by its handler does not stop the other from serving its own
 * clients.  Then a shutdown from this thread: requests in flight on both
 * loops complete, idle clients are cut at the drain deadline, and
 * serve_forever returns once both loops are done. */
static void test_drain_two_loops(void)
{
    enum { MAXC = 64 };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64] = "";
    tu_srv t;
    tu_ev ev;
    drain_events();
    pthread_mutex_lock(&loops_lock);
    nloops = 0;
    pthread_mutex_unlock(&loops_lock);
    if (blockpipe[0] < 0 && pipe(blockpipe) < 0)
        bail_out("pipe: %s", strerror(errno));
    async_cfg(&cfg, "127.0.0.1:0", 2);
    cfg.drain = 0.5;
    if (!start(&t, &ctl, &cfg, addr)) {
        fail("drain w2: server");
        return;
    }
    int fds[MAXC], nc = 0, a = -1, b = -1, la = -1, lb = -1;
    while (nc < MAXC && b < 0) {
        int fd = tu_connect(addr, 0);
        if (fd < 0 || ask(fd, "who\n", buf, sizeof buf) < 0 || buf[0] != 'L') {
            tu_close(fd);
            break;
        }
        fds[nc++] = fd;
        int l = atoi(buf + 1);
        if (a < 0) {
            a = fd;
            la = l;
        } else if (l != la) {
            b = fd;
            lb = l;
        }
    }
    ok(a >= 0 && b >= 0, "drain w2: %d clients, served by both loops (A on L%d, B on L%d)", nc, la, lb);
    if (a < 0 || b < 0) {
        skip(9, "not both loops");
        for (int i = 0; i < nc; i++)
            tu_close(fds[i]);
        stop(&t);
        return;
    }

    /* Loop A held in its handler: B's loop still answers. */
    tu_send_all(a, "block\n", 6);
    int got = tu_ev_wait(&ev, 1, 5000);
    int bserved = ask(b, "b while A's loop is held\n", buf, sizeof buf) == 0 &&
                  !strcmp(buf, "b while A's loop is held\n");
    ok(got == 1 && ev.code == 'B' && bserved, "drain w2: with loop L%d held blocked, B is served by L%d", la, lb);
    (void)!write(blockpipe[1], "x", 1);
    int aback = tu_read_line(a, buf, sizeof buf, 5000) > 0 && !strcmp(buf, "unblocked\n");
    ok(aback, "drain w2: A's loop runs again");

    /* A and B each start a 0.2 s request; shut down while they run. */
    drain_events();
    tu_send_all(a, "sleep 0.2\n", 10);
    tu_send_all(b, "sleep 0.2\n", 10);
    tu_ev evs[2];
    int n = tu_ev_wait(evs, 2, 5000);
    ok(n == 2 && evs[0].val != evs[1].val, "drain w2: a request in flight on each loop");
    double t0 = tu_now();
    netsrv_shutdown(t.srv); /* from this thread, not a loop's */
    char ra[64] = "", rb[64] = "";
    tu_read_line(a, ra, sizeof ra, 5000);
    tu_read_line(b, rb, sizeof rb, 5000);
    ok(!strcmp(ra, "slept 0\n") && !strcmp(rb, "slept 0\n"),
       "drain w2: both requests in flight complete within the drain (\"%.*s\", \"%.*s\")", (int)strcspn(ra, "\n"),
       ra, (int)strcspn(rb, "\n"), rb);
    int cut = 0;
    for (int i = 0; i < nc; i++)
        cut += tu_wait_eof(fds[i], 5000) == 1;
    double el = tu_now() - t0;
    is(cut, nc, "drain w2: then all %d idle clients, on both loops, are cut (EOF)", nc);
    ok(el > 0.4 && el < 3.0, "drain w2: at the drain deadline (0.5 s; after %.2f s)", el);
    int done = tu_wait_done(&t, 5.0);
    ok(done, "drain w2: serve_forever returned: both loops stopped");
    tu_ev rs[MAXC];
    int nr = tu_ev_wait(rs, nc, 3000), canceled = 0;
    for (int i = 0; i < nr; i++)
        canceled += rs[i].code == 'R' && rs[i].val == -ECANCELED;
    is(canceled, nc, "drain w2: each handler's readline ended with -ECANCELED");
    if (done) {
        is(t.rv, 0, "drain w2: serve_forever returned 0");
        is(netsrv_server_active(t.srv), 0, "drain w2: nothing in flight afterwards");
        netsrv_server_free(t.srv);
        t.srv = NULL;
    } else {
        skip(2, "server stuck");
    }
    for (int i = 0; i < nc; i++)
        tu_close(fds[i]);
}

/* ------------------------------------------------------------ max_conns */

static void test_max_conns(unsigned workers)
{
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64];
    tu_srv t;
    async_cfg(&cfg, "127.0.0.1:0", workers);
    cfg.max_conns = 2;
    if (!start(&t, netsrv_handler_find("echo"), &cfg, addr)) {
        fail("max_conns w%u: server", workers);
        return;
    }
    int c1 = tu_connect(addr, 0), c2 = tu_connect(addr, 0), c3 = -1;
    int s1 = ask(c1, "one\n", buf, sizeof buf) == 0 && !strcmp(buf, "one\n");
    int s2 = ask(c2, "two\n", buf, sizeof buf) == 0 && !strcmp(buf, "two\n");
    ok(s1 && s2, "max_conns=2 w%u: two clients served at once", workers);
    c3 = tu_connect(addr, 0);
    tu_send_all(c3, "three\n", 6);
    ssize_t early = tu_read_line(c3, buf, sizeof buf, 400);
    ok(early == -ETIMEDOUT, "max_conns=2 w%u: a third is not served while they stay (%zd)", workers, early);
    unsigned act = netsrv_server_active(t.srv);
    ok(act <= 2, "max_conns=2 w%u: at most 2 in flight (%u)", workers, act);
    tu_close(c1);
    ssize_t late = tu_read_line(c3, buf, sizeof buf, 5000);
    ok(late == 6 && !strcmp(buf, "three\n"), "max_conns=2 w%u: once one leaves, the third is served", workers);
    ok(ask(c2, "still\n", buf, sizeof buf) == 0 && !strcmp(buf, "still\n"),
       "max_conns=2 w%u: the second is still served", workers);
    tu_close(c2);
    tu_close(c3);
    stop(&t);
}

/* ------------------------------------------------------------ datagrams */

static void dg_error(netsrv_server *srv, netsrv_request *req, const netsrv_addr *peer, int err, void *ctx)
{
    (void)srv;
    (void)req;
    (void)peer;
    (void)ctx;
    tu_ev_emit('E', err);
}

/* The echo handler, saying that it ran and on how many bytes. */
static int dg_echo_handle(netsrv_request *req)
{
    size_t len = 0;
    const void *p = netsrv_packet(req, &len);
    tu_ev_emit('H', (int)len);
    ssize_t w = netsrv_write(req, p, len);
    return w < 0 ? (int)w : 0;
}

static void test_dgram(const char *label, const char *address, unsigned workers)
{
    netsrv_handler h = { "dgecho", NULL, dg_echo_handle, NULL, 0, NULL };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], big[300], buf[512];
    tu_srv t;
    drain_events();
    async_cfg(&cfg, address, workers);
    cfg.dgram = 1;
    cfg.max_packet = 200;
    cfg.hooks.handle_error = dg_error;
    if (!start(&t, &h, &cfg, addr)) {
        fail("%s: datagram server", label);
        return;
    }
    int good = 0;
    for (int i = 0; i < 5; i++)
        good += tu_echo_once(addr, 1, "datagram\n");
    is(good, 5, "%s: 5 datagrams echoed", label);
    tu_ev evs[8];
    tu_ev_wait(evs, 5, 5000);
    int fd = tu_connect(addr, 1);
    memset(big, 'D', sizeof big);
    tu_send_all(fd, big, 201);
    tu_send_all(fd, big, 200);
    is(tu_recv(fd, buf, sizeof buf, 5000), 200, "%s: one of exactly max_packet is echoed whole", label);
    /* Two events, in either order (two loops may share the socket). */
    int n = tu_ev_wait(evs, 2, 3000);
    n += tu_ev_drain(evs + n, 8 - n);
    int big_err = 0, ran200 = 0;
    for (int i = 0; i < n; i++) {
        big_err += evs[i].code == 'E' && evs[i].val == -EMSGSIZE;
        ran200 += evs[i].code == 'H' && evs[i].val == 200;
    }
    ok(n == 2 && big_err == 1 && ran200 == 1,
       "%s: one over max_packet is dropped before the handler, reported as -EMSGSIZE (events %s)", label,
       tu_ev_codes(evs, n));
    ok(tu_recv(fd, buf, sizeof buf, 200) == -ETIMEDOUT, "%s: and got no reply", label);
    tu_close(fd);
    stop(&t);
}

/* ----------------------------------------------------------------- exec */

static void test_exec(void)
{
    enum { SZ = 5 * 1000 * 1000 };
    static char *const cat_argv[] = { "cat", NULL };
    netsrv_handler h = *netsrv_handler_find("exec");
    h.ctx = (void *)cat_argv;
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_srv t;
    async_cfg(&cfg, "127.0.0.1:0", 1);
    if (!start(&t, &h, &cfg, addr)) {
        fail("exec: server");
        return;
    }
    /* A connection held open keeps its cat running all along: the loop
     * must not sit waiting for that program while the others run. */
    int hold = tu_connect(addr, 0);
    ok(hold >= 0 && tu_send_all(hold, "held\n", 5) == 0 && tu_read_line(hold, (char[16]){ 0 }, 16, 5000) == 5,
       "exec cat: a first connection's cat answers and stays running");
    char *out1 = malloc(SZ), *out2 = malloc(SZ), *in1 = malloc(SZ + 1), *in2 = malloc(SZ + 1);
    fill_random(out1, SZ, 1);
    fill_random(out2, SZ, 2);
    xfer x[2] = {
        { .fd = tu_connect(addr, 0), .out = out1, .outlen = SZ, .in = in1, .incap = SZ + 1 },
        { .fd = tu_connect(addr, 0), .out = out2, .outlen = SZ, .in = in2, .incap = SZ + 1 },
    };
    int r = x[0].fd >= 0 && x[1].fd >= 0 ? xfer_run(x, 2, 30000) : -EBADF;
    ok(r == 0 && x[0].got == SZ && memcmp(in1, out1, SZ) == 0 && x[1].got == SZ && memcmp(in2, out2, SZ) == 0,
       "exec cat: meanwhile two 5 MB round trips at once in one loop, with half-close, byte-exact (rc %d, got %zu/%zu)", r,
       x[0].got, x[1].got);
    tu_close(x[0].fd);
    tu_close(x[1].fd);
    ok(tu_echo_once(addr, 0, "cat again\n"), "exec cat: a line after");
    shutdown(hold, SHUT_WR);
    is(tu_wait_eof(hold, 5000), 1, "exec cat: the held one ends at its half-close");
    tu_close(hold);
    stop(&t);
    errno = 0;
    ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "exec: every cat reaped");
    free(out1);
    free(out2);
    free(in1);
    free(in2);
}

/* ------------------------------------------------ the coroutine stack */

/* At least 1 KiB of stack per frame; the addition after the call keeps it
 * from being a tail call. */
static __attribute__((noinline)) int recurse(int depth)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)(depth >> 3);
    if (depth <= 1)
        return frame[0];
    return recurse(depth - 1) + frame[0] + frame[sizeof frame - 1];
}

/* "N\n": recurse N frames of 1 KiB, answer "ok". */
static int deep_handle(netsrv_request *req)
{
    char buf[32];
    ssize_t n = netsrv_readline(req, buf, sizeof buf - 1);
    if (n <= 0)
        return (int)n;
    buf[n] = '\0';
    int r = recurse(atoi(buf));
    return netsrv_printf(req, "ok %d\n", r & 1) < 0 ? -EPIPE : 0;
}

/* Opens n clients at once to addr, one echo round each, closes them:
 * n coroutines come and go (more than the loop keeps for reuse). */
static int churn(const char *addr, int n)
{
    int *fds = calloc((size_t)n, sizeof *fds), good = 0;
    char buf[16];
    for (int i = 0; i < n; i++)
        fds[i] = tu_connect(addr, 0);
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0 && tu_send_all(fds[i], "c\n", 2) == 0)
            good++;
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0 && tu_read_line(fds[i], buf, sizeof buf, 10000) != 2)
            good--;
    for (int i = 0; i < n; i++)
        tu_close(fds[i]);
    free(fds);
    return good == n;
}

/* The child of deep_child, a fresh process (exec'd, so nothing of the
 * parent's history is in it): optionally first lets 1,000 coroutines come
 * and go in another async server, then serves one request of deep_handle
 * with the given stack size; its address goes to outfd. */
static int deep_server_main(size_t stack_size, int nchurn, int outfd)
{
    signal(SIGALRM, SIG_DFL);
    alarm(20);
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN] = "";
    if (nchurn > 0) {
        tu_srv t;
        async_cfg(&cfg, "127.0.0.1:0", 1);
        if (!start(&t, netsrv_handler_find("echo"), &cfg, addr) || !churn(addr, nchurn))
            return 4;
        stop(&t);
    }
    netsrv_handler h = { "deep", NULL, deep_handle, NULL, 0, NULL };
    async_cfg(&cfg, "127.0.0.1:0", 1);
    cfg.stack_size = stack_size;
    netsrv_server *srv = NULL;
    if (netsrv_server_create(&srv, &cfg, &h, NULL, 0) < 0)
        return 2;
    netsrv_server_address(srv, addr, sizeof addr);
    if (write(outfd, addr, strlen(addr) + 1) < 0)
        return 2;
    close(outfd);
    int rc = netsrv_handle_request(srv);
    netsrv_server_free(srv);
    return rc == 0 ? 0 : 3;
}

/* Runs deep_server_main in a child (this program exec'd again), asks it
 * to recurse depth KiB; returns the child's wait status (-1: not reaped in
 * time), the reply in reply. */
static int deep_child(size_t stack_size, int depth, int nchurn, char *reply, size_t cap)
{
    int p[2];
    reply[0] = '\0';
    if (pipe(p) < 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char a1[32], a2[32], a3[32];
        close(p[0]);
        snprintf(a1, sizeof a1, "%zu", stack_size);
        snprintf(a2, sizeof a2, "%d", nchurn);
        snprintf(a3, sizeof a3, "%d", p[1]);
        char *argv[] = { "async.t", "--deep-child", a1, a2, a3, NULL };
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(p[1]);
    char addr[NETSRV_ADDRSTRLEN] = "";
    ssize_t n = 0, r;
    struct pollfd pp = { p[0], POLLIN, 0 };
    /* up to the child's close (it writes the address with its NUL) */
    while ((size_t)n < sizeof addr - 1 && poll(&pp, 1, 5000) == 1 &&
           (r = read(p[0], addr + n, sizeof addr - 1 - (size_t)n)) > 0)
        n += r;
    close(p[0]);
    if (n > 0) {
        addr[n] = '\0';
        int fd = tu_connect(addr, 0);
        char line[32];
        snprintf(line, sizeof line, "%d\n", depth);
        if (fd >= 0 && tu_send_all(fd, line, strlen(line)) == 0)
            tu_read_line(fd, reply, cap, 10000);
        tu_close(fd);
    }
    int st = -1;
    double end = tu_now() + 10.0;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (tu_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(2000);
    }
    return st;
}

static const char *status_text(int st)
{
    static char buf[64];
    if (st == -1)
        snprintf(buf, sizeof buf, "not reaped");
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    return buf;
}

static void expect_overflow(int st, const char *reply, const char *what)
{
    if (TU_UNDER_ASAN || TU_UNDER_TSAN) /* the sanitizer reports the overflow itself: any abnormal end */
        ok(st != -1 && (WIFSIGNALED(st) || WEXITSTATUS(st) != 0) && !reply[0],
           "%s: dies on the guard page (sanitizer build: %s)", what, status_text(st));
    else
        ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && !reply[0],
           "%s: dies of SIGSEGV on the guard page, no reply (%s)", what, status_text(st));
}

static void test_stack(void)
{
    char reply[64];
    if (TU_UNDER_VALGRIND) {
        /* the children exec /proc/self/exe, which under valgrind is
         * valgrind's own tool, not this program */
        skip(5, "under valgrind: /proc/self/exe is valgrind, the children cannot be made");
        return;
    }
    int st = deep_child(0, 16, 0, reply, sizeof reply);
    ok(st == 0 && !strncmp(reply, "ok ", 3), "stack: default (64 KiB): 16 KiB deep recursion answers (%s)",
       status_text(st));
    st = deep_child(0, 200, 0, reply, sizeof reply);
    expect_overflow(st, reply, "stack: default (64 KiB): 200 KiB deep recursion");
    st = deep_child(1 << 20, 200, 0, reply, sizeof reply);
    ok(st == 0 && !strncmp(reply, "ok ", 3), "stack: stack_size=1 MiB: the same 200 KiB recursion answers (%s)",
       status_text(st));
    st = deep_child(1 << 20, 2000, 0, reply, sizeof reply);
    expect_overflow(st, reply, "stack: stack_size=1 MiB: 2,000 KiB deep recursion");
    /* Stacks that were freed (1,000 coroutines, more than are pooled) leave
     * nothing behind for the next ones: under ASan their shadow must have
     * been cleared, or the new stack's frames are reported as bad. */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 2100) {
        skip(1, "RLIMIT_NOFILE too low for 1,000 connections");
        return;
    }
    st = deep_child(1 << 20, 200, 1000, reply, sizeof reply);
    ok(st == 0 && !strncmp(reply, "ok ", 3),
       "stack: after 1,000 coroutines came and went, a 1 MiB stack runs a 200 KiB recursion (%s)",
       status_text(st));
}

int main(int argc, char **argv)
{
    char ua[200];
    if (argc == 5 && !strcmp(argv[1], "--deep-child"))
        return deep_server_main(strtoul(argv[2], NULL, 10), atoi(argv[3]), atoi(argv[4]));
    tu_init(120);
    tu_ev_init();
    signal(SIGPIPE, SIG_DFL);

    test_same_handlers("TCP thread", "127.0.0.1:0", NETSRV_THREAD, 0);
    test_same_handlers("TCP async", "127.0.0.1:0", NETSRV_ASYNC, 1);
    test_same_handlers("TCP async w2", "127.0.0.1:0", NETSRV_ASYNC, 2);
    test_same_handlers("Unix thread", tu_unix_addr(ua, sizeof ua, "same-thread"), NETSRV_THREAD, 0);
    test_same_handlers("Unix async", tu_unix_addr(ua, sizeof ua, "same-async"), NETSRV_ASYNC, 1);

    test_thousand();
    test_never_reads();
    test_timeouts(1);
    test_timeouts(2);
    test_sleep_yields();
    test_drain_two_loops();
    test_max_conns(1);
    test_max_conns(2);
    test_dgram("UDP async", "127.0.0.1:0", 1);
    test_dgram("UDP async w2", "127.0.0.1:0", 2);
    test_dgram("Unix datagram async", tu_unix_addr(ua, sizeof ua, "dgram-async"), 1);
    test_exec();
    test_stack();
    return done_testing();
}
