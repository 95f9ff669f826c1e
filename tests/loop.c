/* loop.c - client tasks: 1,000 tasks on one loop, each dialing a server
 * and talking to it with the stream calls, all in flight at once; a host
 * name looked up without blocking the loop; a connect that times out while
 * the other tasks go on; tasks spawned by a task; wake-ups between tasks;
 * a wake-up still listed when its loop stops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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

/* A connection's wait leaves its watcher started for the next wait on the
 * socket.  Two ways that could go wrong, each a hang or a wrong reason:
 * the socket closed and its number reused by the next dial (a Unix socket
 * connects at once, so no write wait comes between), and readiness that
 * arrives while the task sleeps (the sleep must run its full time). */
static char uaddr[NETSRV_ADDRSTRLEN];
static int reuse_ok, reuse_fds_same, sleep_why = -1;
static double sleep_took;

static void reuse_task(void *arg)
{
    (void)arg;
    char err[NETSRV_ERRLEN], line[64];
    int prev_fd = -1;
    for (int i = 0; i < 3; i++) {
        netsrv_conn *c;
        if (netsrv_conn_dial(&c, uaddr, 5, err, sizeof err) < 0)
            return;
        if (netsrv_conn_fileno(c) == prev_fd)
            reuse_fds_same++;
        prev_fd = netsrv_conn_fileno(c);
        for (int j = 0; j < 2; j++) { /* two exchanges: the watcher stays started */
            netsrv_printf(c, "round %d.%d\n", i, j);
            ssize_t r = netsrv_readline(c, line, sizeof line);
            if (r == 10)
                reuse_ok++;
            else
                diag("dial %d exchange %d: %zd", i, j, r);
        }
        if (i == 2) {
            /* the echo of this line arrives while the task sleeps */
            netsrv_printf(c, "late\n");
            netsrv_flush(c);
            double t0 = netsrv_now();
            sleep_why = netsrv_wait(-1, 0, t0 + 0.3);
            sleep_took = netsrv_now() - t0;
            if (netsrv_readline(c, line, sizeof line) == 5)
                reuse_ok++;
        }
        netsrv_conn_close(c);
    }
}

static void test_reuse(void)
{
    char path[64], a[80], err[NETSRV_ERRLEN];
    snprintf(path, sizeof path, "/tmp/netsrv-loop-%d.sock", (int)getpid());
    unlink(path);
    snprintf(a, sizeof a, "unix:%s", path);
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    cfg.address = a;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), uaddr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0)
        bail_out("unix echo server: %s", err);
    netsrv_loop *l;
    is(netsrv_loop_new(&l, 0), 0, "a loop for the socket-reuse task");
    netsrv_loop_spawn(l, reuse_task, NULL);
    is(netsrv_loop_run(l), 0, "the task runs to its end");
    is(reuse_ok, 7, "three dials of a reused socket number, every exchange answered");
    is(reuse_fds_same, 2, "each dial got the number the last one closed");
    is(sleep_why, NETSRV_WAIT_TIMEOUT, "a sleep is not ended by input on the connection");
    ok(sleep_took >= 0.29, "and lasts its time (%.3f s)", sleep_took);
    netsrv_loop_free(l);
    tu_stop(&ts);
    netsrv_server_free(srv);
    unlink(path);
}

/* Wake-ups from another thread, as fast as it can send them, to many
 * tasks of one loop: each task must see every round (a wake-up may stand
 * for several).  A task lost from the loop's remote list would wait out
 * its 5 s and fail the test. */
#define STORM_TASKS 211 /* prime: each round below wakes every task once */
#define STORM_ROUNDS 300
static netsrv_task *storm_t[STORM_TASKS];
static atomic_int storm_pending[STORM_TASKS], storm_ready;
static int storm_seen[STORM_TASKS], storm_stuck;
static pthread_mutex_t storm_lock = PTHREAD_MUTEX_INITIALIZER;

static void storm_task(void *arg)
{
    long i = (long)arg;
    storm_t[i] = netsrv_task_self();
    netsrv_task_ref(storm_t[i]);
    atomic_fetch_add(&storm_ready, 1);
    while (storm_seen[i] < STORM_ROUNDS) {
        int p = atomic_load(&storm_pending[i]);
        if (p > storm_seen[i]) {
            storm_seen[i] = p;
            /* the lock a group member takes to deliver its queue, which the
             * sender holds while it wakes a round: the loop takes its
             * remote list in long runs, while the sender wakes again
             * tasks the loop has not reached yet */
            pthread_mutex_lock(&storm_lock);
            pthread_mutex_unlock(&storm_lock);
            continue;
        }
        if (netsrv_wait(-1, 0, netsrv_now() + 5) == NETSRV_WAIT_TIMEOUT) {
            storm_stuck++;
            return;
        }
    }
}

static void *storm_loop_main(void *arg)
{
    netsrv_loop_run(arg);
    return NULL;
}

static void test_wake_storm(void)
{
    netsrv_loop *l;
    is(netsrv_loop_new(&l, 0), 0, "a loop for the wake-up storm");
    for (long i = 0; i < STORM_TASKS; i++)
        netsrv_loop_spawn(l, storm_task, (void *)i);
    pthread_t th;
    pthread_create(&th, NULL, storm_loop_main, l);
    while (atomic_load(&storm_ready) < STORM_TASKS)
        sched_yield();
    for (int r = 0; r < STORM_ROUNDS; r++) {
        pthread_mutex_lock(&storm_lock);
        /* an order of its own each round, as a group's members change */
        for (int k = 0; k < STORM_TASKS; k++) {
            int i = (k * (r % (STORM_TASKS - 1) + 1) + r) % STORM_TASKS;
            atomic_fetch_add(&storm_pending[i], 1);
            netsrv_task_wake(storm_t[i]);
        }
        pthread_mutex_unlock(&storm_lock);
    }
    pthread_join(th, NULL);
    int all = 1;
    for (int i = 0; i < STORM_TASKS; i++)
        all &= storm_seen[i] == STORM_ROUNDS;
    ok(all && storm_stuck == 0, "%d rounds of wake-ups from another thread reach all %d tasks (%d stuck)",
       STORM_ROUNDS, STORM_TASKS, storm_stuck);
    for (int i = 0; i < STORM_TASKS; i++)
        netsrv_task_unref(storm_t[i]);
    netsrv_loop_free(l);
}

/* A wake-up from another thread listed while the task still runs, which
 * then ends: the loop stops at once, before it looks at its remote list
 * again, so the list's reference is the task's last when the loop is
 * freed.  Freeing the loop must drop it (a leak otherwise: LeakSanitizer
 * and valgrind say so, and a plain build sees the heap grow). */
#define LATE_ROUNDS 300
static void *late_waker(void *arg)
{
    netsrv_task *t = arg;
    netsrv_task_wake(t);
    netsrv_task_unref(t);
    return NULL;
}

static void late_task(void *arg)
{
    int *woken = arg;
    netsrv_task *t = netsrv_task_self();
    netsrv_task_ref(t); /* the waker's, dropped once it woke */
    pthread_t th;
    /* joined from the task itself: the loop does not turn meanwhile */
    if (pthread_create(&th, NULL, late_waker, t) == 0) {
        pthread_join(th, NULL);
        (*woken)++;
    } else {
        netsrv_task_unref(t);
    }
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
}

static void test_late_wake(void)
{
    int woken = 0, good = 1;
    size_t before = 0;
    for (int r = 0; r < LATE_ROUNDS; r++) {
        if (r == 10)
            before = heap_in_use(); /* after the first rounds' caches */
        netsrv_loop *l;
        if (netsrv_loop_new(&l, 0) < 0) {
            good = 0;
            break;
        }
        netsrv_loop_spawn(l, late_task, &woken);
        good &= netsrv_loop_run(l) == 0;
        netsrv_loop_free(l);
    }
    ok(good && woken == LATE_ROUNDS, "a task woken from another thread just before it ends: %d loops run and freed",
       woken);
    size_t after = heap_in_use();
    long grew = (long)after - (long)before;
    if (TU_UNDER_ASAN || TU_UNDER_TSAN || before == 0)
        skip(1, "the sanitizer's allocator: mallinfo2 says nothing (its leak check does)");
    else
        ok(grew < 16 * 1024, "and the listed wake-ups' tasks were freed with their loops (heap %+ld bytes over %d loops)",
           grew, LATE_ROUNDS - 10);
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
    test_reuse();
    test_wake_storm();
    test_late_wake();
    tu_stop(&ts);
    netsrv_server_free(srv);
    return done_testing();
}
