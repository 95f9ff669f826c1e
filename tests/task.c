/* task.c - the task layer under every mode: netsrv_wait says why it
 * returned (ready, timed out, woken, drained); a wake-up reaches a parked
 * request from another request (same loop, another thread) and from an
 * application thread, and one sent while the task was busy is not lost.
 * Also netsrv_getline's verdicts and the datagram counters at the cap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* Parked tasks, published by the handler that owns them (with a
 * reference, so a waker never touches freed memory). */
#define SLOTS 4
static _Atomic(netsrv_task *) slots[SLOTS];

static void publish(int slot)
{
    netsrv_task *me = netsrv_task_self();
    netsrv_task_ref(me);
    atomic_store(&slots[slot], me);
    tu_ev_emit('P', slot);
}

static void unpublish(int slot)
{
    netsrv_task *t = atomic_exchange(&slots[slot], NULL);
    if (t)
        netsrv_task_unref(t);
}

static void wake_slot(int slot)
{
    netsrv_task *t = atomic_load(&slots[slot]);
    if (t)
        netsrv_task_wake(t);
}

/* One command line per connection:
 *   park N      publish the task in slot N, wait (10 s): event 'W' why
 *   wake N      wake slot N: event 'K'
 *   busy N      publish, read one more line (a stream wait, which leaves
 *               wake-ups alone), then wait: event 'W' why
 *   fd          wait for a pipe made readable: event 'W' why
 *   timeout     wait 50 ms for nothing: event 'W' why
 */
static int cmd_handle(netsrv_request *req)
{
    char line[64];
    ssize_t n = netsrv_readline(req, line, sizeof line - 1);
    if (n <= 0)
        return 0;
    line[n] = '\0';
    int slot = 0;
    if (sscanf(line, "park %d", &slot) == 1 && slot >= 0 && slot < SLOTS) {
        publish(slot);
        int why = netsrv_wait(-1, 0, netsrv_now() + 10);
        unpublish(slot);
        tu_ev_emit('W', why);
    } else if (sscanf(line, "wake %d", &slot) == 1 && slot >= 0 && slot < SLOTS) {
        wake_slot(slot);
        tu_ev_emit('K', slot);
    } else if (sscanf(line, "busy %d", &slot) == 1 && slot >= 0 && slot < SLOTS) {
        publish(slot);
        n = netsrv_readline(req, line, sizeof line - 1);
        int why = netsrv_wait(-1, 0, netsrv_now() + 10);
        unpublish(slot);
        tu_ev_emit('W', why);
    } else if (strncmp(line, "fd", 2) == 0) {
        int p[2];
        if (pipe(p) < 0)
            return -errno;
        ssize_t w = write(p[1], "x", 1);
        (void)w;
        int why = netsrv_wait(p[0], POLLIN, netsrv_now() + 10);
        close(p[0]);
        close(p[1]);
        tu_ev_emit('W', why);
    } else if (strncmp(line, "timeout", 7) == 0) {
        tu_ev_emit('W', netsrv_wait(-1, 0, netsrv_now() + 0.05));
    }
    return netsrv_printf(req, "done\n") < 0 ? -EPIPE : 0;
}

static const netsrv_handler cmd_handler = { "cmd", NULL, cmd_handle, NULL, 0, NULL, 0 };

static int send_cmd(const char *addr, const char *cmd)
{
    int fd = tu_connect(addr, 0);
    if (fd >= 0 && tu_send_all(fd, cmd, strlen(cmd)) < 0) {
        tu_close(fd);
        return -1;
    }
    return fd;
}

/* Waits for one event of code c; its value, or -1000 when none came. */
static int wait_code(char c, int ms)
{
    tu_ev e;
    double end = tu_now() + ms / 1000.0;
    while (tu_now() < end) {
        if (tu_ev_wait(&e, 1, (int)((end - tu_now()) * 1000) + 1) != 1)
            break;
        if (e.code == c)
            return e.val;
    }
    return -1000;
}

static void wait_published(int slot)
{
    for (int i = 0; i < 1000 && !atomic_load(&slots[slot]); i++)
        usleep(5000); /* polling a flag the handler sets: bounded */
}

static void test_mode(netsrv_mode mode, unsigned workers)
{
    const char *m = netsrv_mode_name(mode);
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, mode);
    cfg.workers = workers;
    cfg.drain = 0.3;
    netsrv_server *srv = tu_create(&cfg, &cmd_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", m);
        return;
    }
    char label[32];
    snprintf(label, sizeof label, "%s%s", m, workers > 1 ? " -w 2" : "");

    /* ready and timed out */
    int fd = send_cmd(addr, "fd\n");
    is(wait_code('W', 5000), NETSRV_WAIT_READY, "%s: a wait on a readable fd says ready", label);
    tu_close(fd);
    fd = send_cmd(addr, "timeout\n");
    is(wait_code('W', 5000), NETSRV_WAIT_TIMEOUT, "%s: a wait past its deadline says timed out", label);
    tu_close(fd);

    if (mode != NETSRV_SYNC) {
        /* woken by another request (the same loop in async mode, another
         * thread in thread mode, maybe another loop with -w 2) */
        int a = send_cmd(addr, "park 0\n");
        wait_published(0);
        int b = send_cmd(addr, "wake 0\n");
        is(wait_code('W', 5000), NETSRV_WAIT_WOKEN, "%s: woken by another request", label);
        tu_close(a);
        tu_close(b);
        while (atomic_load(&slots[0]))
            usleep(1000);
    }

    /* woken by an application thread (this one) */
    int a = send_cmd(addr, "park 1\n");
    wait_published(1);
    wake_slot(1);
    is(wait_code('W', 5000), NETSRV_WAIT_WOKEN, "%s: woken by an application thread", label);
    tu_close(a);
    while (atomic_load(&slots[1]))
        usleep(1000);

    /* a wake-up sent while the task was busy waits for its next wait */
    a = send_cmd(addr, "busy 2\n");
    wait_published(2);
    wake_slot(2);
    tu_send_all(a, "go\n", 3);
    is(wait_code('W', 5000), NETSRV_WAIT_WOKEN, "%s: a wake-up sent before the wait is not lost", label);
    tu_close(a);
    while (atomic_load(&slots[2]))
        usleep(1000);

    /* drained: the server shuts down with 0.3 s of drain */
    a = send_cmd(addr, "park 3\n");
    wait_published(3);
    netsrv_shutdown(srv);
    is(wait_code('W', 10000), NETSRV_WAIT_DRAINED, "%s: a wait past the drain deadline says drained", label);
    tu_close(a);
    tu_wait_done(&ts, 10);
    netsrv_server_free(srv);
}

/* ---- getline ---- */

static int line_handle(netsrv_request *req)
{
    char buf[8];
    int how;
    for (;;) {
        ssize_t n = netsrv_getline(req, buf, sizeof buf, &how);
        tu_ev_emit('L', (int)n * 10 + how);
        if (n <= 0 || how == NETSRV_LINE_EOF)
            return 0;
    }
}

static const netsrv_handler line_handler = { "line", NULL, line_handle, NULL, 0, NULL, 0 };

static void test_getline(netsrv_mode mode)
{
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, mode);
    netsrv_server *srv = tu_create(&cfg, &line_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("getline %s: server starts", netsrv_mode_name(mode));
        return;
    }
    /* "ab\n" ends; 8 bytes of a 10-byte line are long, its last 2 end
     * with the newline; exactly 8 bytes then the end of stream is EOF,
     * not long; then nothing: 0 bytes, EOF. */
    int fd = tu_connect(addr, 0);
    tu_send_all(fd, "ab\n0123456789\nABCDEFGH", 22);
    shutdown(fd, SHUT_WR);
    tu_ev e[5];
    int n = tu_ev_wait(e, 5, 5000);
    int want[5] = { 30 + NETSRV_LINE_END, 80 + NETSRV_LINE_LONG, 30 + NETSRV_LINE_END,
                    80 + NETSRV_LINE_EOF, -1 };
    int same = n == 4;
    for (int i = 0; i < 4 && same; i++)
        same = e[i].code == 'L' && e[i].val == want[i];
    ok(same, "getline %s: end, long, end, then 8 bytes at the end of stream is EOF (%d events)",
       netsrv_mode_name(mode), n);
    tu_close(fd);
    tu_stop(&ts);
    netsrv_server_free(srv);
}

/* ---- datagrams at the cap: dropped and counted ---- */

static int dg_handle(netsrv_request *req)
{
    size_t len;
    const char *p = netsrv_packet(req, &len);
    if (len >= 4 && memcmp(p, "hold", 4) == 0) {
        publish(0);
        netsrv_wait(-1, 0, netsrv_now() + 10);
        unpublish(0);
    }
    return netsrv_write(req, p, len) < 0 ? -EIO : 0;
}

static const netsrv_handler dg_handler = { "dg", NULL, dg_handle, NULL, 0, NULL, 0 };

static void test_dgram_cap(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, mode);
    cfg.dgram = 1;
    cfg.max_conns = 1;
    netsrv_server *srv = tu_create(&cfg, &dg_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("dgram cap %s: server starts", m);
        return;
    }
    int fd = tu_connect(addr, 1);
    tu_send_all(fd, "hold", 4);
    wait_published(0);
    for (int i = 0; i < 5; i++)
        tu_send_all(fd, "more", 4);
    netsrv_stats st;
    for (int i = 0; i < 1000; i++) { /* until the server has read them all */
        netsrv_server_stats(srv, &st);
        if (st.dropped >= 5)
            break;
        usleep(2000);
    }
    is(st.dropped, 5, "dgram cap %s: at max_conns 1, five more datagrams are dropped and counted", m);
    is(st.active, 1, "dgram cap %s: one request in flight", m);
    wake_slot(0);
    char buf[16];
    ssize_t n = tu_recv(fd, buf, sizeof buf, 5000);
    ok(n == 4 && memcmp(buf, "hold", 4) == 0, "dgram cap %s: the held one answers", m);
    while (atomic_load(&slots[0]))
        usleep(1000);
    for (int i = 0; i < 1000 && netsrv_server_active(srv); i++)
        usleep(2000);
    tu_send_all(fd, "next", 4);
    n = tu_recv(fd, buf, sizeof buf, 5000);
    ok(n == 4 && memcmp(buf, "next", 4) == 0, "dgram cap %s: below the cap again, served", m);
    netsrv_server_stats(srv, &st);
    is(st.served, 2, "dgram cap %s: two served", m);
    close(fd);
    tu_stop(&ts);
    netsrv_server_free(srv);
}

/* Thread mode: a request blocked in recv is cut off at its drain deadline
 * even when the caller calls nothing after serve_forever returned. */
static void test_cut_in_recv(void)
{
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_THREAD);
    cfg.drain = 0.3;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("cut in recv: server starts");
        return;
    }
    int fd = tu_connect(addr, 0);
    char buf[16];
    tu_send_all(fd, "a\n", 2);
    ok(tu_read_line(fd, buf, sizeof buf, 5000) == 2, "cut in recv: echoed once, now blocked in recv");
    netsrv_shutdown(srv);
    ok(tu_wait_done(&ts, 10), "cut in recv: serve_forever returns");
    is(tu_wait_eof(fd, 5000), 1, "cut in recv: the connection ends at the drain deadline, no close called");
    for (int i = 0; i < 1000 && netsrv_server_active(srv); i++)
        usleep(5000);
    is(netsrv_server_active(srv), 0, "cut in recv: its thread ends too");
    tu_close(fd);
    netsrv_server_free(srv);
}

/* Fork mode: the child runs the handler with the application's signal
 * mask (as it was when it served), not with everything unblocked. */
static int mask_handle(netsrv_request *req)
{
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    tu_ev_emit('M', sigismember(&cur, SIGUSR1) * 2 + sigismember(&cur, SIGUSR2));
    return netsrv_printf(req, "ok\n") < 0 ? -EPIPE : 0;
}

static const netsrv_handler mask_handler = { "mask", NULL, mask_handle, NULL, 0, NULL, 0 };

static void test_fork_mask(void)
{
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_FORK);
    netsrv_server *srv = tu_create(&cfg, &mask_handler, addr);
    /* The serving thread blocks SIGUSR1 (and not SIGUSR2) before it serves. */
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &one, &old);
    tu_srv ts;
    int started = srv && tu_start(&ts, srv, 0.05) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        fail("fork mask: server starts");
        return;
    }
    int fd = tu_connect(addr, 0);
    is(wait_code('M', 5000), 2, "fork mask: the child has the application's mask (SIGUSR1 blocked, SIGUSR2 not)");
    tu_close(fd);
    tu_stop(&ts);
    netsrv_server_free(srv);
}

int main(void)
{
    tu_init(120);
    tu_ev_init();
    test_mode(NETSRV_SYNC, 1);
    test_mode(NETSRV_THREAD, 1);
    test_mode(NETSRV_ASYNC, 1);
    test_mode(NETSRV_ASYNC, 2);
    for (int i = 0; i < TU_NMODES; i++)
        test_getline(tu_modes[i]);
    test_dgram_cap(NETSRV_THREAD);
    test_dgram_cap(NETSRV_ASYNC);
    test_cut_in_recv();
    test_fork_mask();
    return done_testing();
}
