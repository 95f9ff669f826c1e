/* hooks.c - the server hooks and the handler life cycle: verify_request,
 * handle_error (once, in every mode, in the child for fork), the order
 * setup/handle/finish, service_actions, handle_request with its timeout,
 * EINTR from a signal storm, shutdown from a handler and from a signal
 * handler in the serving thread, threads not piling up.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* ------------------------------------------------- a scriptable handler */

struct script {
    int setup_rc;
    int handle_rc;
};

static int s_setup(netsrv_request *req)
{
    const struct script *s = netsrv_request_ctx(req);
    tu_ev_emit('S', 0);
    return s->setup_rc;
}

static int s_handle(netsrv_request *req)
{
    const struct script *s = netsrv_request_ctx(req);
    tu_ev_emit('H', 0);
    return s->handle_rc;
}

static void s_finish(netsrv_request *req)
{
    (void)req;
    tu_ev_emit('F', 0);
}

static void h_error(netsrv_server *srv, netsrv_request *req, const netsrv_addr *peer, int err, void *ctx)
{
    (void)srv;
    (void)ctx;
    tu_ev_emit('E', err);
    if (!req || !peer)
        tu_ev_emit('n', 0);
}

static int h_verify(netsrv_server *srv, const netsrv_addr *peer, void *ctx)
{
    (void)srv;
    tu_ev_emit('V', peer ? peer->ss.ss_family : -1);
    return *(const int *)ctx;
}

static const char *mname(netsrv_mode m)
{
    return netsrv_mode_name(m);
}

/* Runs one client against a scripted handler and returns the events seen
 * (up to the server's close) in evs; *nev their count. */
static void run_script(netsrv_mode mode, struct script *sc, tu_ev *evs, int *nev, int want)
{
    netsrv_handler h = { "script", s_setup, s_handle, s_finish, 0, sc };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, mode);
    cfg.hooks.handle_error = h_error;
    *nev = 0;
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!srv)
        return;
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int fd = tu_connect(addr, 0);
    if (fd >= 0) {
        tu_send_all(fd, "x\n", 2);
        if (tu_wait_eof(fd, 5000) != 1)
            diag("%s: client not closed after the handler returned", mname(mode));
        tu_close(fd);
    }
    *nev = tu_ev_wait(evs, want, 5000);
    tu_stop(&t);
    netsrv_server_free(srv);
    /* Anything more (a second handle_error...) shows up now. */
    *nev += tu_ev_drain(evs + *nev, 16 - *nev);
}

static void test_lifecycle(netsrv_mode mode)
{
    tu_ev evs[16];
    int n;
    const char *m = mname(mode);

    /* 17/19/21: an error in handle: handler ran, finish ran, one handle_error. */
    struct script fail = { 0, -EIO };
    run_script(mode, &fail, evs, &n, 4);
    const char *codes = tu_ev_codes(evs, n);
    ok(!strcmp(codes, "SHFE") || !strcmp(codes, "SHEF"),
       "%s: handle fails: setup, handle, finish run and handle_error once (got \"%s\")", m, codes);
    int err = 0;
    for (int i = 0; i < n; i++)
        if (evs[i].code == 'E')
            err = evs[i].val;
    is(err, -EIO, "%s: handle_error got handle's -EIO", m);

    /* setup fails: no handle, no finish, one handle_error. */
    struct script sfail = { -EACCES, 0 };
    run_script(mode, &sfail, evs, &n, 2);
    is_str(tu_ev_codes(evs, n), "SE", "%s: setup fails: handle and finish skipped, handle_error once", m);
    is(n == 2 ? evs[1].val : 0, -EACCES, "%s: handle_error got setup's -EACCES", m);

    /* All well: no handle_error. */
    struct script fine = { 0, 0 };
    run_script(mode, &fine, evs, &n, 3);
    is_str(tu_ev_codes(evs, n), "SHF", "%s: success: setup, handle, finish and no handle_error", m);
}

/* ------------------------------------------------------- verify_request */

static int v_handle(netsrv_request *req)
{
    char buf[64];
    tu_ev_emit('H', 0);
    ssize_t n = netsrv_readline(req, buf, sizeof buf);
    if (n > 0)
        netsrv_write(req, buf, (size_t)n);
    return 0;
}

static void test_verify(netsrv_mode mode)
{
    const char *m = mname(mode);
    for (int accept = 0; accept <= 1; accept++) {
        netsrv_handler h = { "verify", NULL, v_handle, NULL, 0, NULL };
        netsrv_config cfg;
        char addr[NETSRV_ADDRSTRLEN];
        tu_ev evs[16];
        tu_config(&cfg, mode);
        cfg.hooks.verify_request = h_verify;
        cfg.hooks.handle_error = h_error;
        cfg.hooks.ctx = &accept;
        netsrv_server *srv = tu_create(&cfg, &h, addr);
        if (!srv) {
            fail("%s: verify server", m);
            continue;
        }
        tu_srv t;
        tu_start(&t, srv, 0.02);
        int fd = tu_connect(addr, 0);
        char buf[64] = "";
        if (accept) {
            ok(fd >= 0 && tu_send_all(fd, "hi\n", 3) == 0 && tu_read_line(fd, buf, sizeof buf, 5000) == 3 &&
                   !strcmp(buf, "hi\n"),
               "%s: verify_request accepting: client served", m);
        } else {
            double t0 = tu_now();
            int r = fd >= 0 ? (tu_send_all(fd, "hi\n", 3), tu_wait_eof(fd, 5000)) : -1;
            ok(r == 1 && tu_now() - t0 < 2.0, "%s: verify_request refusing: client sees EOF at once", m);
        }
        if (fd >= 0)
            tu_close(fd);
        int n = tu_ev_wait(evs, accept ? 2 : 1, 5000);
        tu_stop(&t);
        netsrv_server_free(srv);
        n += tu_ev_drain(evs + n, 16 - n);
        is_str(tu_ev_codes(evs, n), accept ? "VH" : "V",
               "%s: verify_request %s: hook once%s", m, accept ? "accepting" : "refusing",
               accept ? ", then the handler" : ", handler never ran, no handle_error");
        is(n ? evs[0].val : -1, AF_INET, "%s: verify_request got the IPv4 peer", m);
    }
}

/* ------------------------------------------------------ service_actions */

static atomic_int sa_count;

static void sa_hook(netsrv_server *srv, void *ctx)
{
    (void)srv;
    (void)ctx;
    atomic_fetch_add(&sa_count, 1);
}

static void test_service_actions(void)
{
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, NETSRV_FORK);
    cfg.hooks.service_actions = sa_hook;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "service_actions server"))
        return;
    atomic_store(&sa_count, 0);
    tu_srv t;
    tu_start(&t, srv, 0.01);
    double t0 = tu_now();
    while (atomic_load(&sa_count) < 10 && tu_now() - t0 < 5.0)
        usleep(1000);
    ok(atomic_load(&sa_count) >= 10, "service_actions called on every idle turn (%d calls)",
       atomic_load(&sa_count));
    int before = atomic_load(&sa_count);
    int good = 0;
    for (int i = 0; i < 5; i++)
        good += tu_echo_once(addr, 0, "busy\n");
    is(good, 5, "service_actions server still serves");
    ok(atomic_load(&sa_count) > before, "service_actions called on busy turns too");
    tu_stop(&t);
    int after = atomic_load(&sa_count);
    netsrv_server_free(srv);
    is(atomic_load(&sa_count), after, "service_actions not called after serve_forever returned");
}

/* ------------------------------------------------------- handle_request */

static atomic_int to_count;

static int to_hook(netsrv_server *srv, void *ctx)
{
    (void)srv;
    atomic_fetch_add(&to_count, 1);
    return *(const int *)ctx;
}

static void test_handle_request(netsrv_mode mode)
{
    const char *m = mname(mode);
    int ret42 = 42;
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, mode);
    cfg.server_timeout = 0.1;
    cfg.hooks.handle_timeout = to_hook;
    cfg.hooks.ctx = &ret42;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: handle_request server", m))
        return;
    atomic_store(&to_count, 0);
    double t0 = tu_now();
    int rv = netsrv_handle_request(srv);
    double el = tu_now() - t0;
    is(rv, 42, "%s: handle_request with nothing to do returns handle_timeout's value", m);
    ok(el >= 0.09 && el < 3.0, "%s: after server_timeout (%.3f s)", m, el);
    is(atomic_load(&to_count), 1, "%s: handle_timeout called once", m);

    /* A client already waiting: handled, returns 0, no timeout hook. */
    int fd = tu_connect(addr, 0);
    char buf[64] = "";
    tu_send_all(fd, "one\n", 4);
    shutdown(fd, SHUT_WR);
    rv = netsrv_handle_request(srv);
    is(rv, 0, "%s: handle_request with a client returns 0", m);
    ok(tu_read_line(fd, buf, sizeof buf, 5000) == 4 && !strcmp(buf, "one\n"), "%s: and served it", m);
    tu_close(fd);
    is(atomic_load(&to_count), 1, "%s: handle_timeout not called when a request came", m);
    netsrv_server_free(srv);

    /* Without a hook: -ETIMEDOUT. */
    tu_config(&cfg, mode);
    cfg.server_timeout = 0.05;
    srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (srv) {
        is(netsrv_handle_request(srv), -ETIMEDOUT, "%s: handle_request without a hook: -ETIMEDOUT", m);
        netsrv_server_free(srv);
    }
}

/* ---------------------------------------------------------------- EINTR */

static int wait_sigs(int n)
{
    double t0 = tu_now();
    while (atomic_load(&tu_bomb_count) < n && tu_now() - t0 < 10.0)
        usleep(1000);
    return atomic_load(&tu_bomb_count) >= n;
}

static void test_eintr(netsrv_mode mode)
{
    const char *m = mname(mode);
    tu_bomb_install(SIGUSR2);

    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, mode);
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: EINTR server", m))
        return;
    tu_srv t;
    tu_bomb b;
    tu_start(&t, srv, 0.5);
    tu_bomb_start(&b, t.th, SIGUSR2);
    ok(wait_sigs(200), "%s: 200 signals hit the serving thread", m);
    ok(!atomic_load(&t.done), "%s: serve_forever survives a storm of EINTR", m);
    int good = 0;
    for (int i = 0; i < 5; i++)
        good += tu_echo_once(addr, 0, "interrupted?\n");
    is(good, 5, "%s: clients served during the signal storm", m);
    ok(!atomic_load(&t.done), "%s: serve_forever still running", m);
    is(tu_stop(&t), 0, "%s: shutdown still works during the storm", m);
    tu_bomb_end(&b);
    netsrv_server_free(srv);

    /* handle_request keeps its deadline through EINTR. */
    int ret7 = 7;
    tu_config(&cfg, mode);
    cfg.server_timeout = 0.3;
    cfg.hooks.handle_timeout = to_hook;
    cfg.hooks.ctx = &ret7;
    srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!srv)
        return;
    tu_bomb_start(&b, pthread_self(), SIGUSR2);
    double t0 = tu_now();
    int rv = netsrv_handle_request(srv);
    double el = tu_now() - t0;
    tu_bomb_end(&b);
    is(rv, 7, "%s: handle_request under EINTR storm still times out via handle_timeout", m);
    ok(el >= 0.29 && el < 3.0, "%s: after its full server_timeout, not before (%.3f s)", m, el);
    ok(atomic_load(&tu_bomb_count) > 10, "%s: signals did hit handle_request (%d)", m, atomic_load(&tu_bomb_count));
    netsrv_server_free(srv);
    signal(SIGUSR2, SIG_IGN);
}

/* --------------------------------------------- shutdown from a handler */

static int stop_handle(netsrv_request *req)
{
    char buf[64];
    if (netsrv_readline(req, buf, sizeof buf) <= 0)
        return 0;
    netsrv_shutdown(netsrv_request_server(req));
    netsrv_printf(req, "bye\n");
    return 0;
}

static void test_shutdown_from_handler(netsrv_mode mode)
{
    const char *m = mname(mode);
    netsrv_handler h = { "stopper", NULL, stop_handle, NULL, 0, NULL };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64] = "";
    tu_config(&cfg, mode);
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!ok(srv != NULL, "%s: stopper server", m))
        return;
    tu_srv t;
    tu_start(&t, srv, 0.5);
    int fd = tu_connect(addr, 0);
    tu_send_all(fd, "stop\n", 5);
    ok(tu_read_line(fd, buf, sizeof buf, 5000) == 4 && !strcmp(buf, "bye\n"),
       "%s: handler that called netsrv_shutdown still answers", m);
    tu_close(fd);
    int done = tu_wait_done(&t, 5.0);
    ok(done, "%s: shutdown from inside a handler: serve_forever returned, no deadlock", m);
    if (!done) {
        diag("leaking a stuck server");
        return;
    }
    is(t.rv, 0, "%s: and returned 0", m);
    netsrv_server_free(srv);
}

/* ---------------------------------------- shutdown from a signal handler */

static netsrv_server *sig_srv;
static atomic_int sig_turns;

static void stop_on_signal(int sig)
{
    (void)sig;
    netsrv_shutdown(sig_srv);
}

static void raise_on_third_turn(netsrv_server *srv, void *ctx)
{
    (void)srv;
    (void)ctx;
    if (atomic_fetch_add(&sig_turns, 1) == 2)
        raise(SIGUSR1); /* delivered to this, the serving thread */
}

static void test_shutdown_from_signal(netsrv_mode mode, int from_hook)
{
    const char *m = mname(mode);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_on_signal;
    sigaction(SIGUSR1, &sa, NULL);

    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, mode);
    if (from_hook)
        cfg.hooks.service_actions = raise_on_third_turn;
    atomic_store(&sig_turns, 0);
    sig_srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(sig_srv != NULL, "%s: signal-stop server", m))
        return;
    tu_srv t;
    tu_start(&t, sig_srv, from_hook ? 0.01 : 0.5);
    ok(tu_echo_once(addr, 0, "before\n"), "%s: served before the signal", m);
    if (!from_hook)
        pthread_kill(t.th, SIGUSR1);
    int done = tu_wait_done(&t, 5.0);
    ok(done, "%s: SIGUSR1 handler calling netsrv_shutdown in the serving thread (%s) stops serve_forever",
       m, from_hook ? "raised from service_actions" : "while it waits");
    if (!done) {
        diag("leaking a stuck server");
        return;
    }
    is(t.rv, 0, "%s: and it returned 0", m);
    netsrv_server_free(sig_srv);
    sig_srv = NULL;
    signal(SIGUSR1, SIG_IGN);
}

/* ------------------------------------------------ 27. threads reaped */

static void test_threads_reaped(void)
{
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, NETSRV_THREAD);
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "threads-reaped server"))
        return;
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int good = 0;
    for (int i = 0; i < 30; i++)
        good += tu_echo_once(addr, 0, "seq\n");
    is(good, 30, "30 sequential clients in thread mode");
    double t0 = tu_now();
    while (netsrv_server_active(srv) > 0 && tu_now() - t0 < 5.0)
        usleep(1000);
    is(netsrv_server_active(srv), 0, "finished requests leave the active count");
    int tasks = tu_wait_tasks(11, 5.0); /* joined ones leave /proc late */
    ok(tasks < 12, "finished threads do not pile up (%d threads for 30 requests)", tasks);
    tu_stop(&t);
    netsrv_server_free(srv);
}

int main(void)
{
    tu_init(60);
    tu_ev_init();
    for (int m = 0; m < TU_NMODES; m++) {
        test_lifecycle(tu_modes[m]);
        test_verify(tu_modes[m]);
        test_handle_request(tu_modes[m]);
    }
    test_service_actions();
    test_eintr(NETSRV_SYNC);
    test_eintr(NETSRV_THREAD);
    test_eintr(NETSRV_ASYNC);
    test_shutdown_from_handler(NETSRV_SYNC);
    test_shutdown_from_handler(NETSRV_THREAD);
    test_shutdown_from_handler(NETSRV_ASYNC);
    test_shutdown_from_signal(NETSRV_SYNC, 1);
    test_shutdown_from_signal(NETSRV_THREAD, 1);
    test_shutdown_from_signal(NETSRV_ASYNC, 1);
    test_shutdown_from_signal(NETSRV_SYNC, 0);
    test_threads_reaped();
    return done_testing();
}
