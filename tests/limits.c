/* limits.c - bounds on requests: the drain after shutdown (idle clients cut
 * off, requests in flight completed), max_conns (at most N at once, the rest
 * wait and are served, never refused) and per_ip (a second connection from
 * one address is closed at once while the first is served).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
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

/* After a server is freed no child of it may be left, not even a zombie. */
static void no_child_left(const char *m)
{
    errno = 0;
    int r = waitpid(-1, NULL, WNOHANG);
    ok(r == -1 && errno == ECHILD, "%s: no child or zombie left after free", m);
}

/* ---------------------------------------------------------------- drain */

static void test_drain_cuts_idle(netsrv_mode mode)
{
    const char *m = mname(mode);
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64] = "";
    tu_config(&cfg, mode);
    cfg.drain = 0.3;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: drain server", m))
        return;
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int fd = tu_connect(addr, 0);
    tu_send_all(fd, "hi\n", 3);
    ok(tu_read_line(fd, buf, sizeof buf, 5000) == 3, "%s: client in a request, now idle", m);
    double t0 = tu_now();
    netsrv_shutdown(srv);
    int done = tu_wait_done(&t, 10.0);
    ok(done, "%s: serve_forever returns with an idle client connected", m);
    if (!done) {
        diag("leaking a stuck server");
        tu_close(fd);
        return;
    }
    netsrv_server_close(srv);
    double el = tu_now() - t0;
    ok(el < 3.0, "%s: drain=0.3: shutdown + close return within a few seconds (%.2f s)", m, el);
    ok(el > 0.2, "%s: the idle client was given its drain time (%.2f s)", m, el);
    is(tu_wait_eof(fd, 3000), 1, "%s: the idle client is cut off (EOF)", m);
    is(netsrv_server_active(srv), 0, "%s: nothing in flight after close", m);
    tu_close(fd);
    netsrv_server_free(srv);
    no_child_left(m);
}

static int slow_handle(netsrv_request *req)
{
    char buf[64];
    if (netsrv_readline(req, buf, sizeof buf) <= 0)
        return 0;
    tu_ev_emit('H', 0);
    int rc = netsrv_sleep(req, 0.1);
    netsrv_printf(req, "done %d\n", rc);
    return 0;
}

static void test_drain_completes(netsrv_mode mode)
{
    const char *m = mname(mode);
    netsrv_handler h = { "slow", NULL, slow_handle, NULL, 0, NULL };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64] = "";
    tu_config(&cfg, mode);
    cfg.drain = 0.5;
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!ok(srv != NULL, "%s: slow server", m))
        return;
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int fd = tu_connect(addr, 0);
    tu_send_all(fd, "go\n", 3);
    tu_ev ev;
    ok(tu_ev_wait(&ev, 1, 5000) == 1, "%s: request in flight", m);
    netsrv_shutdown(srv);
    int done = tu_wait_done(&t, 10.0);
    ok(done, "%s: serve_forever returned", m);
    if (!done) {
        tu_close(fd);
        return;
    }
    netsrv_server_close(srv);
    tu_read_line(fd, buf, sizeof buf, 5000);
    is_str(buf, "done 0\n", "%s: a request in flight that ends within the drain completes normally", m);
    tu_close(fd);
    netsrv_server_free(srv);
    no_child_left(m);
}

/* ------------------------------------------------------------ max_conns */

static atomic_int cur, peak;

static int count_handle(netsrv_request *req)
{
    char buf[64];
    int now = atomic_fetch_add(&cur, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    tu_ev_emit('+', 0);
    netsrv_sleep(req, 0.15);
    ssize_t n = netsrv_readline(req, buf, sizeof buf);
    if (n > 0)
        netsrv_write(req, buf, (size_t)n);
    netsrv_flush(req);
    atomic_fetch_sub(&cur, 1);
    tu_ev_emit('-', 0);
    return 0;
}

static void test_max_conns(netsrv_mode mode)
{
    enum { N = 5 };
    const char *m = mname(mode);
    netsrv_handler h = { "count", NULL, count_handle, NULL, 0, NULL };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64];
    tu_config(&cfg, mode);
    cfg.max_conns = 2;
    atomic_store(&cur, 0);
    atomic_store(&peak, 0);
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!ok(srv != NULL, "%s: max_conns=2 server", m))
        return;
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int fds[N], served = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = tu_connect(addr, 0);
        char msg[16];
        snprintf(msg, sizeof msg, "c%d\n", i);
        tu_send_all(fds[i], msg, strlen(msg));
    }
    int maxactive = 0;
    for (int i = 0; i < N; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "c%d\n", i);
        if (tu_read_line(fds[i], buf, sizeof buf, 10000) > 0 && !strcmp(buf, msg))
            served++;
        int a = (int)netsrv_server_active(srv);
        if (a > maxactive)
            maxactive = a;
    }
    is(served, N, "%s: max_conns=2: all 5 clients served in the end (none refused)", m);
    tu_ev evs[2 * N];
    int n = tu_ev_wait(evs, 2 * N, 5000), c = 0, evpeak = 0;
    for (int i = 0; i < n; i++) {
        c += evs[i].code == '+' ? 1 : -1;
        if (c > evpeak)
            evpeak = c;
    }
    is(n, 2 * N, "%s: 5 requests ran", m);
    is(evpeak, 2, "%s: at most 2 requests at once, and 2 were (%s)", m, tu_ev_codes(evs, n));
    if (mode != NETSRV_FORK)
        is(atomic_load(&peak), 2, "%s: concurrency counted in the handler is 2", m);
    ok(maxactive <= 2, "%s: netsrv_server_active never above 2 (%d)", m, maxactive);
    for (int i = 0; i < N; i++)
        tu_close(fds[i]);
    tu_stop(&t);
    netsrv_server_free(srv);
    no_child_left(m);
}

/* --------------------------------------------------------------- per_ip */

static void test_per_ip(netsrv_mode mode)
{
    const char *m = mname(mode);
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64] = "";
    tu_config(&cfg, mode);
    cfg.per_ip = 1;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: per_ip=1 server", m))
        return;
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int a = tu_connect(addr, 0);
    tu_send_all(a, "a\n", 2);
    ok(tu_read_line(a, buf, sizeof buf, 5000) == 2, "%s: first client served", m);
    int b = tu_connect(addr, 0);
    double t0 = tu_now();
    tu_send_all(b, "b\n", 2);
    int r = tu_wait_eof(b, 3000);
    ok(r == 1 && tu_now() - t0 < 2.0, "%s: per_ip=1: a second connection from 127.0.0.1 is closed at once", m);
    tu_close(b);
    tu_send_all(a, "a2\n", 3);
    ok(tu_read_line(a, buf, sizeof buf, 5000) == 3 && !strcmp(buf, "a2\n"), "%s: the first is still served", m);
    tu_close(a);
    /* Once the first has gone, a new one gets in (its slot frees shortly). */
    int later = 0;
    t0 = tu_now();
    while (!later && tu_now() - t0 < 5.0) {
        int c = tu_connect(addr, 0);
        if (c < 0)
            break;
        tu_send_all(c, "c\n", 2);
        later = tu_read_line(c, buf, sizeof buf, 2000) == 2;
        tu_close(c);
    }
    ok(later, "%s: after the first leaves, a new client from the same IP is served", m);
    tu_stop(&t);
    netsrv_server_free(srv);
    no_child_left(m);
}

int main(void)
{
    tu_init(60);
    tu_ev_init();
    for (int i = 0; i < TU_NMODES; i++) {
        test_drain_cuts_idle(tu_modes[i]);
        test_drain_completes(tu_modes[i]);
    }
    test_max_conns(NETSRV_THREAD);
    test_max_conns(NETSRV_FORK);
    test_max_conns(NETSRV_ASYNC);
    test_per_ip(NETSRV_THREAD);
    test_per_ip(NETSRV_FORK);
    test_per_ip(NETSRV_ASYNC);
    return done_testing();
}
