/* core_bugs.c - known bugs of the library, each shown through the public
 * API so the lines fail until it is fixed:
 *
 *   1. thread mode, datagrams: when pthread_create fails the server closes
 *      its own socket (a datagram request's fd is the server's) and its
 *      loop then polls a closed descriptor and spins;
 *   2. request_timeout does not bound netsrv_sleep;
 *   4. ending a request with unread input resets the connection, and the
 *      reset throws away the tail of the response still queued;
 *   5. netsrv_serve_forever cannot run again while requests of the previous
 *      run are in flight (it returns at once);
 *   6. async mode, workers > 1: a failure while starting the loops cleans up
 *      workers that were never set up (close(0), a NULL dereference).
 *
 * (3, the drain deadline not stopping spawned programs, and the CLI sides
 * of 2 and 4 are in serve_core_bugs.sh.)  Failures are injected by
 * interposition: this program defines pthread_create and ev_loop_new, and
 * symbols of the executable come before the shared library's dependencies,
 * so libnetsrv's calls land here; the real ones are reached through
 * dlsym(RTLD_NEXT).  Each injection is counted, so a line says when the
 * interposition did not take effect.  tests/core_bugs.t is libtool's
 * wrapper of tests/.libs/core_bugs.t, linked against libnetsrv.so with
 * -export-dynamic (tests/local.mk), so the definitions here are in the
 * dynamic symbol table, ahead of libc's and libev's; a static link would
 * bind libnetsrv.a's calls to them directly.  Under AddressSanitizer the
 * next pthread_create is ASan's own interceptor, which then starts the
 * thread as usual (checked with ./configure --enable-sanitizers).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* ------------------------------------------------------ interposition */

/* pthread_create: while pc_fail > 0, each call takes one off and fails
 * with EAGAIN (pc_failed counts those). */
static atomic_int pc_fail, pc_failed;

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
    int left = atomic_load(&pc_fail);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&pc_fail, &left, left - 1)) {
            atomic_fetch_add(&pc_failed, 1);
            return EAGAIN;
        }
    }
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
    if (!real)
        return ENOSYS;
    return real(th, attr, fn, arg);
}

/* ev_loop_new (libev's, declared here: the test needs no libev header):
 * the el_fail_at-th call since el_calls was reset returns NULL, and tells
 * the event pipe ('I', call number). */
struct ev_loop;
struct ev_loop *ev_loop_new(unsigned int flags);
static atomic_int el_calls, el_fail_at;

struct ev_loop *ev_loop_new(unsigned int flags)
{
    static struct ev_loop *(*real)(unsigned int);
    int n = atomic_fetch_add(&el_calls, 1) + 1;
    if (n == atomic_load(&el_fail_at)) {
        tu_ev_emit('I', n);
        return NULL;
    }
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "ev_loop_new");
    return real ? real(flags) : NULL;
}

/* ------------------------------------------------------------- helpers */

static void drain_events(void)
{
    tu_ev evs[64];
    while (tu_ev_drain(evs, 64) > 0)
        ;
}

/* handle_error hook: ('H', err) on the event pipe. */
static void on_error(netsrv_server *srv, netsrv_request *req, const netsrv_addr *peer, int err,
                     void *ctx)
{
    (void)srv;
    (void)req;
    (void)peer;
    (void)ctx;
    tu_ev_emit('H', err);
}

/* Waits for the first event with code; its value in *val.  1 when seen. */
static int wait_event(char code, int *val, int timeout_ms)
{
    double end = tu_now() + timeout_ms / 1000.0;
    tu_ev e;
    for (;;) {
        int ms = (int)((end - tu_now()) * 1000);
        if (ms <= 0 || tu_ev_wait(&e, 1, ms) != 1)
            return 0;
        if (e.code == code) {
            *val = e.val;
            return 1;
        }
    }
}

/* The socket fd is bound to the server's address: still the server's. */
static int is_server_socket(netsrv_server *srv)
{
    int fd = netsrv_server_fileno(srv);
    const netsrv_addr *a = netsrv_server_addr(srv);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return 0;
    return sl == a->len && memcmp(&ss, &a->ss, sl) == 0;
}

static void stop_and_free(tu_srv *t, netsrv_server *srv, const char *what)
{
    int rv = tu_stop(t);
    is(rv, 0, "%s: serve_forever returned 0 after shutdown", what);
    if (rv == -ETIMEDOUT) {
        diag("%s: leaking a server that did not stop", what);
        return;
    }
    netsrv_server_free(srv);
}

/* ----------------------------- 1. thread mode: pthread_create failing */

static void test_udp_thread_create_fails(void)
{
    const char *w = "UDP thread, pthread_create fails";
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64];
    drain_events();
    tu_config(&cfg, NETSRV_THREAD);
    cfg.dgram = 1;
    cfg.hooks.handle_error = on_error;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: server", w)) {
        skip(6, "no server");
        return;
    }
    tu_srv t;
    tu_start(&t, srv, 0.02);
    /* The client socket exists before the failure, so no descriptor this
     * test opens later can take the number of a socket the server closed. */
    int fd = tu_connect(addr, 1);
    ssize_t n = -1;
    if (fd >= 0 && tu_send_all(fd, "zero", 4) == 0)
        n = tu_recv(fd, buf, sizeof buf - 1, 5000);
    ok(n == 4 && memcmp(buf, "zero", 4) == 0, "%s: a datagram is echoed before the failure", w);

    atomic_store(&pc_failed, 0);
    atomic_store(&pc_fail, 1);
    int err = 0;
    if (fd >= 0)
        tu_send_all(fd, "one", 3);
    int seen = wait_event('H', &err, 5000);
    atomic_store(&pc_fail, 0);
    ok(seen && err == -EAGAIN, "%s: handle_error gets -EAGAIN for the datagram (got %s %d)", w,
       seen ? "error" : "no call", err);
    is(atomic_load(&pc_failed), 1, "%s: the interposed pthread_create refused the server's call", w);

    /* A measuring window, not synchronisation: a loop polling a closed
     * descriptor burns the whole of it (or its share of a busy machine); a
     * waiting loop (poll 20 ms) about a millisecond.  The bound, a tenth
     * of the window, is far above the latter. */
    const double window = 1.0;
    double c0 = tu_thread_cpu(t.th), w0 = tu_now();
    while (tu_now() - w0 < window)
        usleep(20000);
    double used = tu_thread_cpu(t.th) - c0;
    ok(c0 >= 0 && used < 0.1 * window,
       "%s: the serving thread does not spin afterwards (%.3f s of CPU in %.1f s)", w, used, window);
    /* Checked after the window: handle_error runs before the failure path
     * goes on, so right at the event the socket may not be closed yet. */
    ok(is_server_socket(srv), "%s: netsrv_server_fileno is still the server's bound socket", w);

    n = -1;
    buf[0] = '\0';
    if (fd >= 0 && tu_send_all(fd, "two", 3) == 0)
        n = tu_recv(fd, buf, sizeof buf - 1, 5000);
    buf[n > 0 ? n : 0] = '\0';
    ok(n == 3 && strcmp(buf, "two") == 0,
       "%s: the next datagram is echoed, and the failed one got no reply (got %zd: %s)", w, n,
       n >= 0 ? buf : strerror((int)-n));
    if (fd >= 0)
        close(fd);
    stop_and_free(&t, srv, w);
}

/* For a stream the request's fd is the connection: closing it is right.
 * A guard for the fix. */
static void test_tcp_thread_create_fails(void)
{
    const char *w = "TCP thread, pthread_create fails";
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    drain_events();
    tu_config(&cfg, NETSRV_THREAD);
    cfg.hooks.handle_error = on_error;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: server", w)) {
        skip(3, "no server");
        return;
    }
    tu_srv t;
    tu_start(&t, srv, 0.02);
    atomic_store(&pc_failed, 0);
    atomic_store(&pc_fail, 1);
    int fd = tu_connect(addr, 0), err = 0;
    if (fd >= 0)
        tu_send_all(fd, "x\n", 2);
    int seen = wait_event('H', &err, 5000);
    atomic_store(&pc_fail, 0);
    ok(seen && err == -EAGAIN && atomic_load(&pc_failed) == 1,
       "%s: handle_error gets -EAGAIN (got %d, %d refused)", w, err, atomic_load(&pc_failed));
    ok(fd >= 0 && tu_wait_eof(fd, 5000) == 1, "%s: that client's connection is closed", w);
    tu_close(fd);
    ok(tu_echo_once(addr, 0, "next\n"), "%s: the next client is served", w);
    stop_and_free(&t, srv, w);
}

/* ------------------------------- 2. request_timeout and netsrv_sleep */

/* Sleeps *ctx seconds; ('S', result) and ('T', milliseconds taken). */
static int sleep_handle(netsrv_request *req)
{
    const double *secs = netsrv_request_ctx(req);
    double t0 = tu_now();
    int rc = netsrv_sleep(req, *secs);
    tu_ev_emit('S', rc);
    tu_ev_emit('T', (int)((tu_now() - t0) * 1000));
    netsrv_printf(req, "%d\n", rc);
    return 0;
}

/* One request whose handler sleeps secs; returns netsrv_sleep's result
 * (1 when the handler never reported), its duration in *ms. */
static int sleep_request(netsrv_mode mode, double request_timeout, double idle, double secs,
                         int *ms)
{
    static double ctx;
    netsrv_handler h = { .name = "sleeper", .handle = sleep_handle, .ctx = &ctx };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    ctx = secs;
    *ms = -1;
    drain_events();
    tu_config(&cfg, mode);
    cfg.request_timeout = request_timeout;
    cfg.timeout = idle;
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!srv)
        return 1;
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int fd = tu_connect(addr, 0), rc = 1;
    if (fd >= 0 && wait_event('S', &rc, (int)(secs * 1000) + 5000))
        wait_event('T', ms, 1000);
    tu_close(fd);
    if (tu_stop(&t) != -ETIMEDOUT)
        netsrv_server_free(srv);
    return rc;
}

static void test_sleep_timeouts(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    int ms;
    int rc = sleep_request(mode, 0.5, 0, 3.0, &ms);
    ok(rc == -ETIMEDOUT,
       "%s: request_timeout 0.5 s: netsrv_sleep(3 s) fails with -ETIMEDOUT (got %d: %s, after %d ms)",
       m, rc, rc <= 0 ? netsrv_strerror(rc) : "no report", ms);
    /* The idle timeout is about I/O ("idle timeout of a request's I/O"):
     * a sleep is no I/O and must not be cut by it.  A guard for the fix. */
    rc = sleep_request(mode, 0, 0.2, 1.0, &ms);
    ok(rc == 0 && ms >= 950,
       "%s: idle timeout 0.2 s alone: netsrv_sleep(1 s) sleeps it all and returns 0 (got %d, %d ms)",
       m, rc, ms);
}

/* ------------------------------------ 4. closing with unread input */

#define BULK (3 * 1000 * 1000)

/* Writes BULK bytes, reads nothing. ('W', 0 or the first error). */
static int bulk_handle(netsrv_request *req)
{
    static char chunk[65536];
    size_t left = BULK;
    memset(chunk, 'z', sizeof chunk);
    while (left > 0) {
        size_t k = left < sizeof chunk ? left : sizeof chunk;
        ssize_t w = netsrv_write(req, chunk, k);
        if (w < 0) {
            tu_ev_emit('W', (int)w);
            return (int)w;
        }
        left -= k;
    }
    tu_ev_emit('W', 0);
    return 0;
}

static void test_unread_input(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    netsrv_handler h = { .name = "bulk", .handle = bulk_handle };
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    drain_events();
    tu_config(&cfg, mode);
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!srv) {
        fail("%s: bulk server", m);
        return;
    }
    /* The client connects and sends before the server runs: the kernel
     * completes the connection in the backlog and acknowledges the bytes,
     * so they are waiting, unread, before the handler even starts. */
    int fd = tu_connect_rcvbuf(addr, 4096);
    int acked = fd >= 0 && tu_send_all(fd, "twenty-two bytes here\n", 22) == 0 &&
                tu_wait_acked(fd, 5000);
    if (!acked)
        diag("%s: the 22 bytes were not acknowledged before serving", m);
    tu_srv t;
    tu_start(&t, srv, 0.02);
    int err = -1;
    long long got = fd >= 0 ? tu_read_count(fd, 4096, 30000, &err) : -1;
    ok(acked && got == BULK && err == 0,
       "%s: handler writes 3 MB and returns with input unread: the client gets all %d bytes "
       "and a clean EOF (got %lld, %s)",
       m, BULK, got, err == 0 ? "EOF" : strerror(err));
    tu_close(fd);
    stop_and_free(&t, srv, m);
}

/* ------------------------- 5. serve_forever again with requests in flight */

static void test_rerun_inflight(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], buf[64] = "";
    drain_events();
    tu_config(&cfg, mode);
    cfg.drain = -1;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!ok(srv != NULL, "%s: rerun server", m))
        return;
    tu_srv t1, t2;
    tu_start(&t1, srv, 0.02);
    int a = tu_connect(addr, 0);
    ok(a >= 0 && tu_send_all(a, "a1\n", 3) == 0 && tu_read_line(a, buf, sizeof buf, 5000) == 3,
       "%s: client A served by the first run, stays connected", m);
    netsrv_shutdown(srv);
    if (mode == NETSRV_ASYNC) {
        /* A's coroutine lives on the loop that serve_forever runs: the run
         * cannot end while A is served (drain -1), so nothing of it is in
         * flight when the next one starts.  The lines guard the re-run. */
        ok(tu_send_all(a, "a2\n", 3) == 0 && tu_read_line(a, buf, sizeof buf, 5000) == 3 &&
               strcmp(buf, "a2\n") == 0,
           "%s: A still echoes while the first run drains (drain -1)", m);
        tu_close(a);
        a = -1;
    }
    int done = tu_wait_done(&t1, 10.0);
    ok(done && t1.rv == 0, "%s: the first run returns 0 after the shutdown%s", m,
       a >= 0 ? " (A still in flight)" : " (once A left)");
    if (!done) {
        diag("%s: leaking a server that did not stop", m);
        tu_close(a);
        return;
    }
    if (a >= 0)
        diag("%s: %u request(s) in flight when the second run starts", m,
             netsrv_server_active(srv));
    tu_start(&t2, srv, 0.02);
    ok(tu_echo_once(addr, 0, "b\n"), "%s: the second run serves client B", m);
    ok(!atomic_load(&t2.done),
       "%s: the second run is still running after B was served (it did not return at once)", m);
    if (a >= 0)
        ok(tu_send_all(a, "a3\n", 3) == 0 && tu_read_line(a, buf, sizeof buf, 5000) == 3 &&
               strcmp(buf, "a3\n") == 0,
           "%s: A, from the first run, still echoes", m);
    int rv = tu_stop(&t2);
    is(rv, 0, "%s: a second shutdown ends the second run with 0", m);
    tu_close(a);
    if (rv == -ETIMEDOUT) {
        diag("%s: leaking a server that did not stop", m);
        return;
    }
    /* drain -1: free waits for A's request, which ends with A's close. */
    netsrv_server_free(srv);
}

/* ------------------------------ 6. async start-up failure, workers = 3 */

static void init_fail_child(void *arg)
{
    int at = *(int *)arg;
    int p[2];
    struct stat before, after;
    /* fd 0 is a pipe of our own: a close(0) shows as a different (or no)
     * file there, even if something else takes the number again. */
    if (pipe(p) < 0 || dup2(p[0], 0) < 0 || fstat(0, &before) < 0)
        _exit(2);
    close(p[0]);
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    tu_config(&cfg, NETSRV_ASYNC);
    cfg.workers = 3;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (!srv)
        _exit(2);
    int fds = tu_count_fds();
    atomic_store(&el_calls, 0);
    atomic_store(&el_fail_at, at);
    tu_srv t;
    tu_start(&t, srv, 0.02);
    if (!tu_wait_done(&t, 5.0))
        _exit(3); /* still serving: no 'R' event */
    atomic_store(&el_fail_at, 0);
    tu_ev_emit('R', t.rv);
    tu_ev_emit('Z', fstat(0, &after) == 0 && after.st_dev == before.st_dev &&
                        after.st_ino == before.st_ino);
    tu_ev_emit('L', tu_count_fds() - fds);
    tu_start(&t, srv, 0.02);
    tu_ev_emit('E', tu_echo_once(addr, 0, "again\n"));
    int rv = tu_stop(&t);
    tu_ev_emit('S', rv);
    if (rv == -ETIMEDOUT)
        _exit(4);
    netsrv_server_free(srv);
    tu_ev_emit('X', 1);
}

static int find_event(const tu_ev *evs, int n, char code, int *val)
{
    for (int i = 0; i < n; i++)
        if (evs[i].code == code) {
            *val = evs[i].val;
            return 1;
        }
    return 0;
}

static void test_async_init_failure(int at)
{
    char w[96];
    tu_ev evs[32];
    int v = 0;
    snprintf(w, sizeof w, "async, 3 workers, ev_loop_new call %d fails", at);
    drain_events();
    int st = tu_fork_run(init_fail_child, &at, 15000);
    int n = tu_ev_drain(evs, 32);
    const char *how = tu_status_text(st);
    ok(find_event(evs, n, 'I', &v) && v == at,
       "%s: the injection took effect (the interposed ev_loop_new failed call %d)", w, at);
    int have = find_event(evs, n, 'R', &v);
    ok(have && v < 0, "%s: serve_forever returns a negative errno (%s%s; child %s)", w,
       have ? "got " : "it never returned", have ? netsrv_strerror(v) : "", how);
    have = find_event(evs, n, 'Z', &v);
    ok(have && v == 1, "%s: fd 0 is still open, the same file (%s)", w,
       have ? (v ? "yes" : "closed or replaced") : "child died first");
    have = find_event(evs, n, 'L', &v);
    char detail[64];
    snprintf(detail, sizeof detail, have ? "open descriptors changed by %d" : "child died first",
             v);
    ok(have && v == 0, "%s: the failed start leaves no descriptor open (%s)", w, detail);
    have = find_event(evs, n, 'E', &v);
    ok(have && v == 1, "%s: injection off, serve_forever serves again (echo)", w);
    ok(find_event(evs, n, 'S', &v) && v == 0 && find_event(evs, n, 'X', &v) && st != -1 &&
           WIFEXITED(st) && WEXITSTATUS(st) == 0,
       "%s: shutdown returns 0, free is clean, child exits 0 (%s)", w, how);
}

/* ------------------------------------------------------------------ */

int main(void)
{
    tu_init(240);
    tu_ev_init();

    test_udp_thread_create_fails();
    test_tcp_thread_create_fails();

    for (int i = 0; i < TU_NMODES; i++)
        test_sleep_timeouts(tu_modes[i]);

    for (int i = 0; i < TU_NMODES; i++)
        test_unread_input(tu_modes[i]);

    test_rerun_inflight(NETSRV_THREAD);
    test_rerun_inflight(NETSRV_FORK);
    test_rerun_inflight(NETSRV_ASYNC);

    for (int at = 1; at <= 3; at++)
        test_async_init_failure(at);

    return done_testing();
}
