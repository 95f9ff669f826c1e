/* loop.c - client tasks: 1,000 tasks on one loop, each dialing a server
 * and talking to it with the stream calls, all in flight at once; a host
 * name looked up without blocking the loop; a connect that times out while
 * the other tasks go on; tasks spawned by a task; wake-ups between tasks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static char addr[NETSRV_ADDRSTRLEN];
static int done_ok, done_bad, concurrent, max_concurrent;

/* Dials the echo server, says its number, reads it back after everyone
 * else has dialed too (a sleep lets the others in), says bye. */
static void client_task(void *arg)
{
    long id = (long)arg;
    char err[NETSRV_ERRLEN], line[64], want[64];
    netsrv_conn *c;
    if (netsrv_conn_dial(&c, addr, 10, err, sizeof err) < 0) {
        done_bad++;
        return;
    }
    if (++concurrent > max_concurrent)
        max_concurrent = concurrent;
    int n = snprintf(want, sizeof want, "task %ld\n", id);
    netsrv_printf(c, "task %ld\n", id);
    netsrv_flush(c);
    netsrv_wait(-1, 0, netsrv_now() + 0.2); /* every task is connected by now */
    ssize_t r = netsrv_readline(c, line, sizeof line);
    if (r == n && memcmp(line, want, (size_t)n) == 0)
        done_ok++;
    else
        done_bad++;
    concurrent--;
    netsrv_conn_close(c);
}

static void test_thousand(void)
{
    netsrv_loop *l;
    is(netsrv_loop_new(&l, 0), 0, "a loop");
    for (long i = 0; i < 1000; i++)
        netsrv_loop_spawn(l, client_task, (void *)i);
    double t0 = tu_now();
    is(netsrv_loop_run(l), 0, "1,000 client tasks run to their end");
    is(done_ok, 1000, "each dialed, wrote, read its own line back (%d bad, %.2f s)", done_bad,
       tu_now() - t0);
    is(max_concurrent, 1000, "all 1,000 connections were open at once on one thread");
    netsrv_loop_free(l);
}

/* ---- names, timeouts, spawning and waking ---- */

static char named[96];
static int name_rc;
static double ticker_last, ticker_gap;
static int ticks;

static void name_task(void *arg)
{
    (void)arg;
    char err[NETSRV_ERRLEN];
    netsrv_conn *c;
    name_rc = netsrv_conn_dial(&c, named, 5, err, sizeof err);
    if (name_rc == 0) {
        char line[16];
        netsrv_printf(c, "by name\n");
        if (netsrv_readline(c, line, sizeof line) != 8)
            name_rc = -EIO;
        netsrv_conn_close(c);
    }
}

static char full[64];
static int timeout_rc = 1;
static double timeout_took;

static void timeout_task(void *arg)
{
    (void)arg;
    char err[NETSRV_ERRLEN];
    netsrv_conn *c;
    double t0 = netsrv_now();
    timeout_rc = netsrv_conn_dial(&c, full, 0.5, err, sizeof err);
    timeout_took = netsrv_now() - t0;
    if (timeout_rc == 0)
        netsrv_conn_close(c);
}

/* Ticks every 50 ms while the others wait: the loop is never held up. */
static void ticker_task(void *arg)
{
    (void)arg;
    ticker_last = netsrv_now();
    for (int i = 0; i < 12; i++) {
        netsrv_wait(-1, 0, netsrv_now() + 0.05);
        ticks++;
        double now = netsrv_now();
        if (now - ticker_last > ticker_gap)
            ticker_gap = now - ticker_last;
        ticker_last = now;
    }
}

static netsrv_task *sleeper;
static int sleeper_why;

static void sleeper_task(void *arg)
{
    (void)arg;
    sleeper = netsrv_task_self();
    sleeper_why = netsrv_wait(-1, 0, netsrv_now() + 10);
}

static netsrv_loop *mixed;

static void waker_task(void *arg)
{
    (void)arg;
    netsrv_wait(-1, 0, netsrv_now() + 0.1);
    netsrv_task_wake(sleeper);
    /* spawned by a task: starts on the next turn */
    netsrv_loop_spawn(mixed, name_task, NULL);
}

static void test_mixed(void)
{
    /* A listener with a full backlog: further connects get no answer. */
    int port;
    int lfd = tu_listen_loopback(&port);
    listen(lfd, 0);
    snprintf(full, sizeof full, "127.0.0.1:%d", port);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_storage ss;
        netsrv_addr a;
        netsrv_addr_parse(full, &a, NULL, 0);
        memcpy(&ss, &a.ss, sizeof ss);
        connect(fill[i], (struct sockaddr *)&ss, a.len);
    }
    snprintf(named, sizeof named, "localhost:%s", strrchr(addr, ':') + 1);
    is(netsrv_loop_new(&mixed, 0), 0, "a second loop");
    netsrv_loop_spawn(mixed, ticker_task, NULL); /* first: it times the others */
    netsrv_loop_spawn(mixed, sleeper_task, NULL);
    netsrv_loop_spawn(mixed, waker_task, NULL);
    netsrv_loop_spawn(mixed, timeout_task, NULL);
    netsrv_loop_run(mixed);
    is(sleeper_why, NETSRV_WAIT_WOKEN, "a task's wait is woken by another task");
    is(name_rc, 0, "a task spawned by a task dials %s by name and talks", named);
    is(timeout_rc, -ETIMEDOUT, "a connect to a full backlog times out (%.2f s)", timeout_took);
    ok(ticks == 12 && ticker_gap < 0.4,
       "meanwhile another task ticked every 50 ms, the longest gap %.3f s: the loop was never held up "
       "by the 0.5 s connect or the lookup", ticker_gap);
    netsrv_loop_free(mixed);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

int main(void)
{
    tu_init(120);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    cfg.backlog = 2048;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0)
        bail_out("echo server");
    test_thousand();
    test_mixed();
    tu_stop(&ts);
    netsrv_server_free(srv);
    return done_testing();
}
