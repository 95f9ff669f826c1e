/* stream.c - the request stream API from inside custom handlers: readline's
 * cap, read_exact, printf, writes larger than the socket buffer (also under
 * a signal storm), NUL bytes, idle timeouts, half-close, per-request state,
 * the peer address, a client vanishing mid-write (no SIGPIPE death), and
 * the datagram side: reply rules, netsrv_read of a packet, max_packet.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static const char *mname(netsrv_mode m)
{
    return netsrv_mode_name(m);
}

/* Creates a server for handler h on address in mode, started in t. */
static netsrv_server *start(tu_srv *t, const netsrv_handler *h, const char *address, int dgram,
                            netsrv_mode mode, netsrv_config *over, char *addr)
{
    netsrv_config cfg;
    if (over)
        cfg = *over;
    else
        netsrv_config_init(&cfg);
    cfg.address = address;
    cfg.dgram = dgram;
    cfg.mode = mode;
    netsrv_server *srv = tu_create(&cfg, h, addr);
    if (srv)
        tu_start(t, srv, 0.02);
    return srv;
}

static void stop(tu_srv *t)
{
    if (!t->srv)
        return;
    tu_stop(t);
    netsrv_server_free(t->srv);
    t->srv = NULL;
}

/* ------------------------------------------------------------ readline */

static int readline_handle(netsrv_request *req)
{
    char buf[64];
    long pieces = 0, full = 0, total = 0, maxlen = 0, last = 0;
    ssize_t n;
    while ((n = netsrv_readline(req, buf, sizeof buf)) > 0) {
        pieces++;
        total += n;
        if (n > maxlen)
            maxlen = n;
        if (n == 64 && buf[63] != '\n')
            full++;
        last = n;
    }
    netsrv_printf(req, "pieces=%ld full=%ld max=%ld last=%ld total=%ld end=%zd\n", pieces, full, maxlen,
                  last, total, n);
    return 0;
}

static void test_readline_cap(netsrv_mode mode)
{
    netsrv_handler h = { "readline", NULL, readline_handle, NULL, 0, NULL };
    char addr[NETSRV_ADDRSTRLEN], buf[256] = "";
    tu_srv t;
    if (!start(&t, &h, "127.0.0.1:0", 0, mode, NULL, addr)) {
        fail("%s: readline server", mname(mode));
        return;
    }
    size_t len = 100 * 1024 + 1;
    char *line = malloc(len);
    memset(line, 'a', len - 1);
    line[len - 1] = '\n';
    int fd = tu_connect(addr, 0);
    if (fd >= 0) {
        tu_send_all(fd, line, len);
        shutdown(fd, SHUT_WR);
        tu_read_line(fd, buf, sizeof buf, 10000);
        tu_close(fd);
    }
    is_str(buf, "pieces=1601 full=1600 max=64 last=1 total=102401 end=0\n",
           "%s: a 100 KiB line read with readline(buf, 64) comes in 64-byte pieces", mname(mode));
    free(line);
    stop(&t);
}

/* ----------------------------------------------------------- read_exact */

static int exact_handle(netsrv_request *req)
{
    char a[5] = "", b[5] = "", c[5] = "";
    ssize_t r1 = netsrv_read_exact(req, a, 4);
    ssize_t r2 = netsrv_read_exact(req, b, 4);
    ssize_t r3 = netsrv_read_exact(req, c, 4);
    netsrv_printf(req, "%zd:%.4s %zd:%.4s %zd\n", r1, a, r2, b, r3);
    return 0;
}

static void test_read_exact(void)
{
    netsrv_handler h = { "exact", NULL, exact_handle, NULL, 0, NULL };
    char addr[NETSRV_ADDRSTRLEN], buf[128] = "", want[128];
    tu_srv t;
    if (!start(&t, &h, "127.0.0.1:0", 0, NETSRV_THREAD, NULL, addr)) {
        fail("read_exact server");
        return;
    }
    /* 10 bytes: two whole reads, then end of stream after 2 bytes. */
    int fd = tu_connect(addr, 0);
    tu_send_all(fd, "0123456789", 10);
    shutdown(fd, SHUT_WR);
    tu_read_line(fd, buf, sizeof buf, 5000);
    tu_close(fd);
    snprintf(want, sizeof want, "4:0123 4:4567 %d\n", -EPIPE);
    is_str(buf, want, "read_exact: 4, 4, then -EPIPE at end of stream mid-read");

    /* 8 bytes in dribbles: read_exact waits for all of them; then 0. */
    fd = tu_connect(addr, 0);
    for (int i = 0; i < 8; i++) {
        tu_send_all(fd, "abcdefgh" + i, 1);
        usleep(5000); /* separate segments, not synchronisation */
    }
    shutdown(fd, SHUT_WR);
    tu_read_line(fd, buf, sizeof buf, 5000);
    tu_close(fd);
    is_str(buf, "4:abcd 4:efgh 0\n", "read_exact: assembles dribbled bytes, 0 at a clean end of stream");
    stop(&t);
}

/* --------------------------------------------------------------- printf */

static int printf_handle(netsrv_request *req)
{
    static char big[40001];
    memset(big, 'x', 40000);
    int r1 = netsrv_printf(req, "%d-%s-%05.1f|", 42, "abc", 3.14159);
    /* sent at once, after what printf buffered */
    if (netsrv_send(req, "<sent>", 6) != 6)
        return -EIO;
    int r2 = netsrv_printf(req, "%s", big);
    netsrv_printf(req, "|%d %d\n", r1, r2);
    return 0;
}

static void test_printf(void)
{
    netsrv_handler h = { "printf", NULL, printf_handle, NULL, 0, NULL };
    char addr[NETSRV_ADDRSTRLEN];
    tu_srv t;
    if (!start(&t, &h, "127.0.0.1:0", 0, NETSRV_SYNC, NULL, addr)) {
        fail("printf server");
        return;
    }
    size_t cap = 50000;
    char *buf = calloc(1, cap + 1), *want = malloc(cap + 1);
    int fd = tu_connect(addr, 0);
    ssize_t n = tu_read_all(fd, buf, cap, 10000);
    tu_close(fd);
    int off = snprintf(want, cap, "42-abc-003.1|<sent>");
    memset(want + off, 'x', 40000);
    snprintf(want + off + 40000, cap - off - 40000, "|13 40000\n");
    is(n, (ssize_t)strlen(want), "printf: all output arrived (%zd bytes)", n);
    ok(n > 0 && memcmp(buf, want, strlen(want)) == 0,
       "printf: formats, returns byte counts, 40 KB output whole; netsrv_send keeps the order");
    free(buf);
    free(want);
    stop(&t);
}

/* ------------------------------------------------------------ big write */

#define BIG (8u << 20)

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + (i >> 9) * 13 + (i >> 17));
}

static int big_handle(netsrv_request *req)
{
    unsigned char *big = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        big[i] = pattern(i);
    ssize_t rv = netsrv_write(req, big, BIG);
    free(big);
    netsrv_printf(req, "|%zd\n", rv);
    return rv < 0 ? (int)rv : 0;
}

static void test_big_write(netsrv_mode mode, int storm)
{
    netsrv_handler h = { "big", NULL, big_handle, NULL, 0, NULL };
    char addr[NETSRV_ADDRSTRLEN], tail[32];
    tu_srv t;
    tu_bomb b;
    if (!start(&t, &h, "127.0.0.1:0", 0, mode, NULL, addr)) {
        fail("big write server");
        return;
    }
    if (storm) {
        tu_bomb_install(SIGUSR2);
        tu_bomb_start(&b, t.th, SIGUSR2);
    }
    size_t cap = BIG + 64;
    unsigned char *buf = malloc(cap);
    int fd = tu_connect(addr, 0);
    /* A small receive buffer makes the server wait on a full socket. */
    int small = 65536;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    /* With the storm on, read nothing until the writer, stuck on the full
     * socket, has taken a good number of signals (bounded wait). */
    for (int spin = 0; storm && spin < 2000 && atomic_load(&tu_bomb_count) <= 20; spin++)
        poll(NULL, 0, 1);
    ssize_t n = tu_read_all(fd, buf, cap, 30000);
    tu_close(fd);
    if (storm)
        tu_bomb_end(&b);
    int len = snprintf(tail, sizeof tail, "|%u\n", BIG);
    is(n, (ssize_t)BIG + len, "%s%s: an 8 MiB write arrives whole", mname(mode), storm ? " + EINTR storm" : "");
    size_t i = 0;
    if (n >= (ssize_t)BIG)
        for (i = 0; i < BIG && buf[i] == pattern(i); i++)
            ;
    ok(i == BIG && memcmp(buf + BIG, tail, (size_t)len) == 0, "%s: byte-exact, and write returned its length",
       mname(mode));
    if (storm)
        ok(atomic_load(&tu_bomb_count) > 20, "signals hit the writer (%d)", atomic_load(&tu_bomb_count));
    free(buf);
    stop(&t);
    if (storm)
        signal(SIGUSR2, SIG_IGN);
}

/* ------------------------------------------------------- binary and NUL */

static int lines_handle(netsrv_request *req)
{
    char buf[4096];
    ssize_t n;
    while ((n = netsrv_readline(req, buf, sizeof buf)) > 0)
        if (netsrv_write(req, buf, (size_t)n) != n)
            return -EIO;
    return (int)n;
}

static void test_binary(netsrv_mode mode)
{
    netsrv_handler lines = { "lines", NULL, lines_handle, NULL, 0, NULL };
    const netsrv_handler *hs[2] = { netsrv_handler_find("echo"), &lines };
    for (int k = 0; k < 2; k++) {
        char addr[NETSRV_ADDRSTRLEN];
        tu_srv t;
        if (!start(&t, hs[k], "127.0.0.1:0", 0, mode, NULL, addr)) {
            fail("binary server");
            continue;
        }
        enum { LEN = 256 * 64 };
        unsigned char data[LEN], back[LEN + 16];
        for (int i = 0; i < LEN; i++)
            data[i] = (unsigned char)(i * 31 + i / 256);
        data[0] = 0;
        data[LEN - 1] = 0; /* ends without a newline, on a NUL */
        int fd = tu_connect(addr, 0);
        tu_send_all(fd, data, LEN);
        shutdown(fd, SHUT_WR);
        ssize_t n = tu_read_all(fd, back, sizeof back, 10000);
        tu_close(fd);
        is(n, LEN, "%s %s: binary data with NUL bytes: length kept", mname(mode), k ? "readline" : "echo");
        cmp_mem(back, data, LEN, "%s %s: binary data with NUL bytes round-trips", mname(mode),
                k ? "readline" : "echo");
        stop(&t);
    }
}

/* -------------------------------------------------------- idle timeouts */

static int idle_handle(netsrv_request *req)
{
    char buf[64];
    ssize_t n;
    const double *set = netsrv_request_ctx(req);
    if (set)
        netsrv_request_set_timeout(req, *set);
    while ((n = netsrv_read(req, buf, sizeof buf)) > 0)
        netsrv_write(req, buf, (size_t)n);
    tu_ev_emit('R', (int)n);
    return (int)n;
}

static void test_idle_timeout(netsrv_mode mode, int per_request)
{
    static double tenth = 0.2;
    netsrv_handler h = { "idle", NULL, idle_handle, NULL, 0, per_request ? &tenth : NULL };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[16];
    tu_srv t;
    const char *how = per_request ? "netsrv_request_set_timeout(0.2)" : "cfg.timeout=0.2";
    netsrv_config_init(&cfg);
    cfg.timeout = per_request ? 0 : 0.2;
    if (!start(&t, &h, "127.0.0.1:0", 0, mode, &cfg, addr)) {
        fail("idle server");
        return;
    }
    /* A chatty client outlives the idle timeout: it is idle, not total. */
    int fd = tu_connect(addr, 0), alive = 0;
    double t0 = tu_now();
    for (int i = 0; i < 5; i++) {
        if (i)
            usleep(100000); /* pacing below the timeout, not synchronisation */
        tu_send_all(fd, "p", 1);
        if (tu_read_all(fd, buf, 1, 2000) == 1)
            alive++;
        t0 = tu_now(); /* the last activity */
    }
    is(alive, 5, "%s %s: a client active for 0.4 s is kept", mname(mode), how);
    int r = tu_wait_eof(fd, 5000);
    double el = tu_now() - t0;
    ok(r == 1 && el > 0.15 && el < 3.0, "%s %s: then, silent, it is closed (after %.2f s idle)", mname(mode), how,
       el);
    tu_close(fd);
    tu_ev ev = { 0, 0 };
    tu_ev_wait(&ev, 1, 5000);
    is(ev.val, -ETIMEDOUT, "%s %s: the handler's read returned -ETIMEDOUT", mname(mode), how);
    stop(&t);
    tu_ev evs[8];
    tu_ev_drain(evs, 8);
}

/* ------------------------------------------------ half-close and state */

static int half_handle(netsrv_request *req)
{
    char buf[64];
    ssize_t n, total = 0;
    netsrv_printf(req, "part\n");
    int rc = netsrv_shutdown_write(req);
    while ((n = netsrv_read(req, buf, sizeof buf)) > 0)
        total += n;
    tu_ev_emit('R', rc < 0 ? rc : (int)total);
    return 0;
}

static void test_half_close(void)
{
    netsrv_handler h = { "half", NULL, half_handle, NULL, 0, NULL };
    char addr[NETSRV_ADDRSTRLEN], buf[64] = "";
    tu_srv t;
    if (!start(&t, &h, "127.0.0.1:0", 0, NETSRV_THREAD, NULL, addr)) {
        fail("half server");
        return;
    }
    int fd = tu_connect(addr, 0);
    ssize_t n = tu_read_all(fd, buf, sizeof buf - 1, 5000);
    ok(n == 5 && !memcmp(buf, "part\n", 5), "netsrv_shutdown_write: client reads the output, then EOF");
    tu_send_all(fd, "more!", 5);
    shutdown(fd, SHUT_WR);
    tu_ev ev = { 0, -1 };
    tu_ev_wait(&ev, 1, 5000);
    is(ev.val, 5, "netsrv_shutdown_write: input still flows after the half-close");
    tu_close(fd);
    stop(&t);
}

static int state_handle(netsrv_request *req)
{
    unsigned char *st = netsrv_request_state(req);
    int zero = st != NULL;
    for (int i = 0; st && i < 300; i++)
        if (st[i])
            zero = 0;
    if (st)
        memset(st, 0xff, 300);
    char peer[NETSRV_ADDRSTRLEN];
    netsrv_addr_format(netsrv_request_peer(req), peer, sizeof peer);
    netsrv_printf(req, "%s %s %d\n", zero ? "zero" : "dirty", peer, netsrv_request_is_dgram(req));
    return 0;
}

static void test_state_and_peer(netsrv_mode mode)
{
    netsrv_handler h = { "state", NULL, state_handle, NULL, 300, NULL };
    char addr[NETSRV_ADDRSTRLEN], buf[256], want[256], ua[200];
    tu_srv t;
    if (!start(&t, &h, "127.0.0.1:0", 0, mode, NULL, addr)) {
        fail("state server");
        return;
    }
    int good = 0;
    for (int i = 0; i < 3; i++) {
        int fd = tu_connect(addr, 0);
        struct sockaddr_in me;
        socklen_t ml = sizeof me;
        getsockname(fd, (struct sockaddr *)&me, &ml);
        snprintf(want, sizeof want, "zero 127.0.0.1:%d 0\n", ntohs(me.sin_port));
        if (tu_read_line(fd, buf, sizeof buf, 5000) > 0 && !strcmp(buf, want))
            good++;
        else
            diag("got \"%s\", want \"%s\"", buf, want);
        tu_close(fd);
    }
    is(good, 3, "%s: per-request state is zeroed each time; peer is the client's address", mname(mode));
    stop(&t);

    if (!start(&t, &h, tu_unix_addr(ua, sizeof ua, "peer"), 0, mode, NULL, addr)) {
        fail("unix state server");
        return;
    }
    int fd = tu_connect(addr, 0);
    buf[0] = '\0';
    tu_read_line(fd, buf, sizeof buf, 5000);
    tu_close(fd);
    is_str(buf, "zero unix: 0\n", "%s: a Unix stream peer formats as \"unix:\"", mname(mode));
    stop(&t);
}

/* ---------------------------------------------- client gone mid-write */

static int flood_handle(netsrv_request *req)
{
    char buf[64];
    ssize_t n = netsrv_readline(req, buf, sizeof buf);
    if (n == 6 && !memcmp(buf, "flood\n", 6)) {
        static char chunk[65536];
        ssize_t r = 0;
        memset(chunk, 'f', sizeof chunk);
        /* Up to 200 MB: more than any socket buffers hold, so the write
         * must meet the client's reset. */
        for (int i = 0; i < 3200 && r >= 0; i++)
            r = netsrv_write(req, chunk, sizeof chunk);
        if (r >= 0)
            r = netsrv_flush(req);
        tu_ev_emit('W', (int)r);
        return (int)r;
    }
    if (n > 0)
        netsrv_write(req, buf, (size_t)n);
    return 0;
}

/* The client runs in a process of its own: in fork mode a server child
 * forked while the client socket was open here would hold a copy of it, and
 * closing ours would then not reset the connection. */
static void test_vanishing_client(netsrv_mode mode, int graceful)
{
    const char *how = graceful ? "FIN then close" : "reset";
    netsrv_handler h = { "flood", NULL, flood_handle, NULL, 0, NULL };
    char addr[NETSRV_ADDRSTRLEN];
    tu_srv t;
    if (!start(&t, &h, "127.0.0.1:0", 0, mode, NULL, addr)) {
        fail("flood server");
        return;
    }
    fflush(stdout);
    pid_t cp = fork();
    if (cp == 0) {
        char buf[4096];
        int fd = netsrv_connect(addr, 0, 5.0, NULL, 0);
        int small = 4096;
        if (fd < 0)
            tu_child_exit(2);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        if (tu_send_all(fd, "flood\n", 6) < 0 || tu_recv(fd, buf, sizeof buf, 5000) <= 0)
            tu_child_exit(3);
        if (graceful) {
            /* FIN first: the server's socket goes to CLOSE_WAIT, so the
             * reset that our close (with unread data) provokes turns its
             * next write into EPIPE, the SIGPIPE case. */
            shutdown(fd, SHUT_WR);
        } else {
            /* linger 0: the kernel resets at once (ECONNRESET case). */
            struct linger lg = { 1, 0 };
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(fd);
        tu_child_exit(0);
    }
    int st = -1;
    ok(cp > 0 && waitpid(cp, &st, 0) == cp && WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "%s: a client started a flood and vanished (%s)", mname(mode), how);
    tu_ev ev = { 0, 0 };
    int got = tu_ev_wait(&ev, 1, 10000);
    ok(got == 1 && (ev.val == -EPIPE || ev.val == -ECONNRESET),
       "%s (%s): write to a vanished client fails with -EPIPE/-ECONNRESET, no SIGPIPE death (got %d)",
       mname(mode), how, got ? ev.val : 0);
    ok(tu_echo_once(addr, 0, "next\n"), "%s (%s): the server keeps serving the next client", mname(mode), how);
    stop(&t);
}

/* ------------------------------------------------------------ datagrams */

static int dg_handle(netsrv_request *req)
{
    size_t len = 0;
    const char *p = netsrv_packet(req, &len);
    if (!netsrv_request_is_dgram(req))
        return -EINVAL;
    if (len == 6 && !memcmp(p, "silent", 6))
        return 0;
    if (len == 5 && !memcmp(p, "empty", 5))
        return netsrv_reply(req, "", 0);
    if (len == 4 && !memcmp(p, "read", 4)) {
        char buf[16];
        ssize_t n = netsrv_read(req, buf, sizeof buf);
        ssize_t m = netsrv_read(req, buf + (n > 0 ? n : 0), sizeof buf - (n > 0 ? (size_t)n : 0));
        netsrv_printf(req, "read:%zd:%.*s:%zd", n, n > 0 ? (int)n : 0, buf, m);
        return 0;
    }
    netsrv_write(req, p, len);
    netsrv_send(req, "-reply", 6); /* gathered into the one reply too */
    return 0;
}

static void test_dgram_rules(const char *address, const char *label)
{
    netsrv_handler h = { "dg", NULL, dg_handle, NULL, 0, NULL };
    char addr[NETSRV_ADDRSTRLEN], buf[256];
    tu_srv t;
    if (!start(&t, &h, address, 1, NETSRV_SYNC, NULL, addr)) {
        fail("%s: datagram server", label);
        return;
    }
    int fd = tu_connect(addr, 1);
    tu_send_all(fd, "silent", 6);
    tu_send_all(fd, "word", 4);
    ssize_t n = tu_recv(fd, buf, sizeof buf, 5000);
    ok(n == 10 && !memcmp(buf, "word-reply", 10),
       "%s: a handler that writes nothing sends no reply (next reply is \"word-reply\", got %zd bytes)", label, n);
    tu_send_all(fd, "empty", 5);
    n = tu_recv(fd, buf, sizeof buf, 5000);
    is(n, 0, "%s: netsrv_reply with 0 bytes sends an empty datagram", label);
    tu_send_all(fd, "read", 4);
    n = tu_recv(fd, buf, sizeof buf - 1, 5000);
    buf[n > 0 ? n : 0] = '\0';
    is_str(buf, "read:4:read:0", "%s: netsrv_read returns the packet, then end of data", label);
    tu_close(fd);
    stop(&t);
}

static void ms_error(netsrv_server *srv, netsrv_request *req, const netsrv_addr *peer, int err, void *ctx)
{
    (void)srv;
    (void)req;
    (void)peer;
    (void)ctx;
    tu_ev_emit('E', err);
}

static void test_max_packet(netsrv_mode mode)
{
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], big[200], buf[512];
    tu_srv t;
    netsrv_config_init(&cfg);
    cfg.max_packet = 100;
    cfg.hooks.handle_error = ms_error;
    if (!start(&t, netsrv_handler_find("echo"), "127.0.0.1:0", 1, mode, &cfg, addr)) {
        fail("max_packet server");
        return;
    }
    memset(big, 'B', sizeof big);
    int fd = tu_connect(addr, 1);
    tu_send_all(fd, big, 101);
    tu_ev ev = { 0, 0 };
    tu_ev_wait(&ev, 1, 5000);
    ok(ev.code == 'E' && ev.val == -EMSGSIZE, "%s: a datagram over max_packet goes to handle_error as -EMSGSIZE",
       mname(mode));
    tu_send_all(fd, big, 100);
    ssize_t n = tu_recv(fd, buf, sizeof buf, 5000);
    is(n, 100, "%s: the oversized datagram was dropped, not cut; one of exactly max_packet is echoed",
       mname(mode));
    tu_close(fd);
    stop(&t);
    tu_ev evs[8];
    is(tu_ev_drain(evs, 8), 0, "%s: no other error reported", mname(mode));
}

int main(void)
{
    tu_init(90);
    tu_ev_init();
    char ua[200];
    for (int m = 0; m < TU_NMODES; m++) {
        test_readline_cap(tu_modes[m]);
        test_binary(tu_modes[m]);
        test_idle_timeout(tu_modes[m], 0);
        test_vanishing_client(tu_modes[m], 0);
        test_vanishing_client(tu_modes[m], 1);
        test_state_and_peer(tu_modes[m]);
        test_max_packet(tu_modes[m]);
    }
    test_idle_timeout(NETSRV_THREAD, 1);
    test_read_exact();
    test_printf();
    test_big_write(NETSRV_THREAD, 0);
    test_big_write(NETSRV_FORK, 0);
    test_big_write(NETSRV_ASYNC, 0);
    test_big_write(NETSRV_SYNC, 1);
    test_half_close();
    test_dgram_rules("127.0.0.1:0", "UDP");
    test_dgram_rules(tu_unix_addr(ua, sizeof ua, "dgram-rules"), "Unix datagram");
    return done_testing();
}
