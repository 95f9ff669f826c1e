/* pool.c - the process pool (libnetsrv/pool.c): results of many tasks come
 * back once each, the queue pushes back, crashed workers are reported and
 * replaced, terminate stops a worker that ignores SIGTERM, and no worker
 * outlives the pool or its parent, while the test's own children keep
 * their exit status.  Waits are on events (the tu_ev pipe, pidfds inside
 * the pool), never sleeps; each is bounded. */
#include "config.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OP_SQUARE, OP_SEGV, OP_EXIT3, OP_LOOP, OP_READ, OP_INFO, OP_FAIL, OP_BIG };

typedef struct job {
    int op;
    long long val;
} job;

typedef struct info {
    int int_dfl, term_dfl, usr1_blocked, ppid_ok;
} info;

/* The test's pipe a worker of OP_READ waits on (inherited over fork). */
static int gate[2] = { -1, -1 };
static pid_t test_pid;

static int work(void *ctx, const void *task, size_t len, void *result, size_t *rlen)
{
    (void)ctx;
    job j;
    if (len != sizeof j)
        return -EINVAL;
    memcpy(&j, task, sizeof j);
    switch (j.op) {
    case OP_SQUARE: {
        long long sq = j.val * j.val;
        memcpy(result, &sq, sizeof sq);
        *rlen = sizeof sq;
        return 0;
    }
    case OP_SEGV: {
        struct rlimit no = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no); /* no core file for the test's crash */
        /* The default action, not a sanitizer's handler (which would exit
         * with a status instead of dying of the signal). */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        return 0;
    }
    case OP_EXIT3:
        _exit(3);
    case OP_LOOP:
        signal(SIGTERM, SIG_IGN);
        tu_ev_emit('L', (int)getpid());
        for (;;)
            pause();
    case OP_READ: {
        char c;
        if (read(gate[0], &c, 1) != 1)
            return -EIO;
        *rlen = 0;
        return 0;
    }
    case OP_INFO: {
        info in = { 0 };
        struct sigaction sa;
        sigset_t m;
        sigaction(SIGINT, NULL, &sa);
        in.int_dfl = sa.sa_handler == SIG_DFL;
        sigaction(SIGTERM, NULL, &sa);
        in.term_dfl = sa.sa_handler == SIG_DFL;
        pthread_sigmask(SIG_SETMASK, NULL, &m);
        in.usr1_blocked = sigismember(&m, SIGUSR1);
        in.ppid_ok = getppid() == test_pid;
        memcpy(result, &in, sizeof in);
        *rlen = sizeof in;
        return 0;
    }
    case OP_FAIL:
        return -ENOENT;
    case OP_BIG:
        *rlen = NETSRV_POOL_MSG_MAX;
        memset(result, 'x', NETSRV_POOL_MSG_MAX);
        return 0;
    }
    return -EINVAL;
}

static int submit(netsrv_pool *p, int op, long long val, unsigned long long id, unsigned flags)
{
    job j;
    /* all of it, padding too: the bytes go through a socket (valgrind
     * checks each one sent) */
    memset(&j, 0, sizeof j);
    j.op = op;
    j.val = val;
    return netsrv_pool_submit(p, &j, sizeof j, id, flags);
}

/* Gone: no such process, or a zombie (not running; its parent reaps it). */
static int gone(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    char *s = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    fclose(f);
    return s && s[1] == ' ' && (s[2] == 'Z' || s[2] == 'X');
}

/* Waits (a bounded poll of /proc) until every pid is gone. */
static int all_gone(const pid_t *pids, unsigned n, double secs)
{
    double end = tu_now() + secs;
    for (;;) {
        unsigned left = 0;
        for (unsigned i = 0; i < n; i++)
            left += !gone(pids[i]);
        if (!left)
            return 1;
        if (tu_now() > end)
            return 0;
        usleep(2000);
    }
}

/* The zombie pid is there to be reaped (looked at, not reaped). */
static int still_there(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Reads exactly len bytes from a pipe, waiting at most ms in all. */
static ssize_t read_pipe(int fd, void *buf, size_t len, int ms)
{
    size_t got = 0;
    double end = tu_now() + ms / 1000.0;
    while (got < len) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int left = (int)((end - tu_now()) * 1000);
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            return -ETIMEDOUT;
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            return n < 0 ? -errno : (ssize_t)got;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static netsrv_pool *new_pool(unsigned n, size_t q)
{
    netsrv_pool *p = NULL;
    char err[NETSRV_ERRLEN] = "";
    int rc = netsrv_pool_new(&p, n, q, work, NULL, err, sizeof err);
    if (rc < 0)
        bail_out("netsrv_pool_new: %s: %s", netsrv_strerror(rc), err);
    return p;
}

static void test_many(void)
{
    enum { N = 1000 };
    static unsigned char seen[N];
    netsrv_pool *p = new_pool(4, 16);
    pid_t pids[8];
    is(netsrv_pool_pids(p, pids, 8), 4, "a pool of 4 has 4 workers");
    int bad = 0, wrong = 0, dup = 0, got = 0;
    for (int i = 0; i < N; i++)
        if (submit(p, OP_SQUARE, i, (unsigned long long)i, 0) < 0)
            bad++;
    is(bad, 0, "1000 blocking submits succeed with a queue of 16");
    netsrv_pool_result r;
    int rc;
    while ((rc = netsrv_pool_next_result(p, &r, 10)) == 1) {
        long long v = -1;
        if (r.id >= N || r.status != NETSRV_POOL_OK || r.len != sizeof v) {
            wrong++;
            continue;
        }
        memcpy(&v, r.data, sizeof v);
        if (v != (long long)r.id * (long long)r.id)
            wrong++;
        if (seen[r.id]++)
            dup++;
        got++;
    }
    is(rc, -ENODATA, "next_result says -ENODATA once all are taken");
    is(got, N, "1000 results came back");
    ok(!wrong && !dup, "each once, with its square (%d wrong, %d twice)", wrong, dup);
    is(netsrv_pool_pending(p), 0, "nothing pending");
    is(submit(p, OP_SQUARE, 1, 1, 0), 0, "a submit after all that");
    netsrv_pool_close(p);
    is(submit(p, OP_SQUARE, 1, 2, 0), -EPIPE, "submit after close: -EPIPE");
    is(netsrv_pool_join(p, 10), 0, "join after close");
    ok(netsrv_pool_next_result(p, &r, 0) == 1 && r.id == 1 && r.status == NETSRV_POOL_OK,
       "the task queued before close ran, its result kept past join");
    is(netsrv_pool_pids(p, NULL, 0), 0, "no live worker after join");
    int alive = 0;
    for (int i = 0; i < 4; i++)
        alive += kill(pids[i], 0) == 0 || errno != ESRCH;
    is(alive, 0, "the workers' pids are gone (reaped)");
    netsrv_pool_free(p);
}

static void test_backpressure(void)
{
    netsrv_pool *p = new_pool(1, 2);
    is(submit(p, OP_READ, 0, 1, NETSRV_POOL_NONBLOCK), 0, "task 1 goes to the worker");
    is(submit(p, OP_READ, 0, 2, NETSRV_POOL_NONBLOCK), 0, "task 2 queued");
    is(submit(p, OP_READ, 0, 3, NETSRV_POOL_NONBLOCK), 0, "task 3 queued");
    is(submit(p, OP_READ, 0, 4, NETSRV_POOL_NONBLOCK), -EAGAIN,
       "queue full: a non-blocking submit says -EAGAIN");
    is(netsrv_pool_pending(p), 3, "3 pending");
    netsrv_pool_result r;
    is(netsrv_pool_next_result(p, &r, 0.05), 0, "no result while the worker waits");
    ok(write(gate[1], "abc", 3) == 3, "release the three");
    int ids = 0;
    for (int i = 0; i < 3; i++)
        if (netsrv_pool_next_result(p, &r, 10) == 1 && r.status == NETSRV_POOL_OK)
            ids |= 1 << r.id;
    is(ids, 0xe, "tasks 1, 2, 3 done, in order of submission");
    is(submit(p, OP_READ, 0, 4, NETSRV_POOL_NONBLOCK), 0, "room again");
    ok(write(gate[1], "d", 1) == 1, "release it");
    ok(netsrv_pool_next_result(p, &r, 10) == 1 && r.id == 4, "task 4 done");
    char big[NETSRV_POOL_MSG_MAX + 1] = { 0 };
    is(netsrv_pool_submit(p, big, sizeof big, 9, 0), -EMSGSIZE, "a task over 64 KiB: -EMSGSIZE");
    is(submit(p, OP_FAIL, 0, 5, 0), 0, "a task whose work fails");
    ok(netsrv_pool_next_result(p, &r, 10) == 1 && r.id == 5 &&
           r.status == NETSRV_POOL_FAILED && r.rc == -ENOENT,
       "comes back FAILED with work's -ENOENT");
    is(submit(p, OP_BIG, 0, 6, 0), 0, "a task with a 64 KiB result");
    ok(netsrv_pool_next_result(p, &r, 10) == 1 && r.id == 6 && r.status == NETSRV_POOL_OK &&
           r.len == NETSRV_POOL_MSG_MAX && ((const char *)r.data)[r.len - 1] == 'x',
       "its 64 KiB come back whole");
    netsrv_pool_close(p);
    is(netsrv_pool_join(p, 10), 0, "joined");
    netsrv_pool_free(p);
}

static void test_crash(pid_t foreign)
{
    netsrv_pool *p = new_pool(4, 8);
    pid_t before[4], after[4];
    netsrv_pool_pids(p, before, 4);
    int bad = 0;
    for (int i = 0; i < 40; i++)
        bad += submit(p, i == 7 ? OP_SEGV : i == 23 ? OP_EXIT3 : OP_SQUARE, i,
                      (unsigned long long)i, 0) < 0;
    is(bad, 0, "40 tasks submitted, one segfaults, one exits 3");
    netsrv_pool_result r;
    int okn = 0, segv = 0, exit3 = 0, other = 0, ncrashed = 0;
    pid_t crashed[2] = { 0, 0 };
    while (netsrv_pool_next_result(p, &r, 10) == 1) {
        if (r.status == NETSRV_POOL_CRASHED && ncrashed < 2)
            sscanf(r.why, "worker %d", &crashed[ncrashed++]);
        if (r.status == NETSRV_POOL_OK)
            okn++;
        else if (r.id == 7 && r.status == NETSRV_POOL_CRASHED && r.wstatus != -1 &&
                 WIFSIGNALED(r.wstatus) && WTERMSIG(r.wstatus) == SIGSEGV &&
                 strstr(r.why, "signal 11")) {
            segv++;
            diag("task 7: %s", r.why);
        } else if (r.id == 23 && r.status == NETSRV_POOL_CRASHED && WIFEXITED(r.wstatus) &&
                   WEXITSTATUS(r.wstatus) == 3 && strstr(r.why, "status 3")) {
            exit3++;
            diag("task 23: %s", r.why);
        } else {
            other++;
            diag("unexpected: id %llu status %d why '%s'", r.id, r.status, r.why);
        }
    }
    is(okn, 38, "the 38 others finished");
    is(segv, 1, "task 7 reported CRASHED by SIGSEGV");
    is(exit3, 1, "task 23 reported CRASHED with exit status 3");
    is(other, 0, "nothing else");
    is(netsrv_pool_pids(p, after, 4), 4, "the pool still has 4 workers");
    int live = 0, fresh = 0;
    for (int i = 0; i < 4; i++) {
        live += kill(after[i], 0) == 0 && !gone(after[i]);
        int old = 0;
        for (int k = 0; k < 4; k++)
            old |= after[i] == before[k];
        fresh += !old;
    }
    is(live, 4, "all 4 are running");
    int stale = 0;
    for (int i = 0; i < 4; i++)
        stale += after[i] == crashed[0] || after[i] == crashed[1];
    is(stale, 0, "none of them is a crashed one");
    /* The replacement of the first crash may take the second crash's task:
     * as many workers are new as original ones crashed. */
    int orig_crashed = 0;
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 4; k++)
            orig_crashed += crashed[c] == before[k];
    if (!ok(fresh >= 1 && fresh == orig_crashed, "new workers replace the crashed ones (%d new)",
            fresh))
        diag("before %d %d %d %d, after %d %d %d %d", before[0], before[1], before[2],
             before[3], after[0], after[1], after[2], after[3]);
    ok(still_there(foreign), "the test's own child was not reaped meanwhile");
    netsrv_pool_close(p);
    is(netsrv_pool_join(p, 10), 0, "joined");
    netsrv_pool_free(p);
}

static void test_terminate(void)
{
    tu_ev evs[4];
    tu_ev_drain(evs, 4);
    netsrv_pool *p = new_pool(2, 4);
    pid_t pids[2];
    netsrv_pool_pids(p, pids, 2);
    submit(p, OP_LOOP, 0, 1, 0);
    submit(p, OP_READ, 0, 2, 0); /* the gate stays shut: it waits too */
    submit(p, OP_SQUARE, 3, 3, 0); /* queued behind them */
    ok(tu_ev_wait(evs, 1, 5000) == 1 && evs[0].code == 'L',
       "a worker loops, ignoring SIGTERM");
    double t0 = tu_now();
    netsrv_pool_terminate(p, 0.2);
    double took = tu_now() - t0;
    ok(took >= 0.19 && took < 3, "terminate took the grace, then killed (%.2f s)", took);
    ok(gone(pids[0]) && gone(pids[1]) && kill(pids[0], 0) < 0 && kill(pids[1], 0) < 0,
       "both workers are gone and reaped");
    is(netsrv_pool_pids(p, NULL, 0), 0, "no live worker");
    netsrv_pool_result r;
    int cancelled = 0, n = 0;
    while (netsrv_pool_next_result(p, &r, 1) == 1) {
        n++;
        cancelled += r.status == NETSRV_POOL_CANCELLED && r.rc == -ECANCELED;
    }
    ok(n == 3 && cancelled == 3, "the 3 tasks come back cancelled (%d of %d)", cancelled, n);
    is(submit(p, OP_SQUARE, 1, 4, 0), -EPIPE, "no submit after terminate");
    is(netsrv_pool_join(p, 1), 0, "join after terminate returns at once");
    netsrv_pool_free(p);
}

static void test_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t m, old;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &m, &old);
    netsrv_pool *p = new_pool(1, 1);
    submit(p, OP_INFO, 0, 1, 0);
    netsrv_pool_result r;
    info in = { 0 };
    if (netsrv_pool_next_result(p, &r, 10) == 1 && r.len == sizeof in)
        memcpy(&in, r.data, sizeof in);
    ok(in.int_dfl && in.term_dfl, "workers have SIGINT and SIGTERM at their defaults");
    ok(in.usr1_blocked, "and the parent's signal mask (SIGUSR1 blocked)");
    ok(in.ppid_ok, "and the pool's process as their parent");
    netsrv_pool_free(p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* A parent that is SIGKILLed with its pool busy (one worker in an endless
 * loop that ignores SIGTERM) leaves no worker behind. */
static void test_parent_death(void)
{
    int pp[2];
    if (pipe(pp) < 0)
        bail_out("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(20);
        test_pid = getpid();
        close(pp[0]);
        netsrv_pool *p = NULL;
        if (netsrv_pool_new(&p, 3, 4, work, NULL, NULL, 0) < 0)
            _exit(1);
        submit(p, OP_LOOP, 0, 1, 0);
        tu_ev wait_loop;
        if (tu_ev_wait(&wait_loop, 1, 5000) != 1)
            _exit(1);
        pid_t pids[3];
        netsrv_pool_pids(p, pids, 3);
        if (write(pp[1], pids, sizeof pids) != sizeof pids)
            _exit(1);
        for (;;)
            pause();
    }
    close(pp[1]);
    pid_t pids[3] = { 0 };
    ssize_t n = read_pipe(pp[0], pids, sizeof pids, 10000);
    close(pp[0]);
    is(n, (ssize_t)sizeof pids, "a forked parent made a pool of 3, one worker looping");
    kill(child, SIGKILL);
    int st;
    waitpid(child, &st, 0);
    ok(n == sizeof pids && all_gone(pids, 3, 5), "after it is SIGKILLed no worker runs");
    /* On failure, what was left would hold the TAP pipe open. */
    for (int i = 0; i < 3; i++)
        if (n == sizeof pids && !gone(pids[i]))
            kill(pids[i], SIGKILL);
}

/* SIGINT, as the header advises: the handler sets a flag, the loop
 * around netsrv_pool_next_result sees it and calls terminate.  Sent to
 * the pool's process alone, or to its whole process group as a
 * terminal's ^C is (the workers then die of it too and are reported and
 * replaced meanwhile).  Either way the process ends with no child left:
 * every worker, replacements included, reaped. */
static volatile sig_atomic_t got_int;
static void on_int(int sig)
{
    (void)sig;
    got_int = 1;
}

static void test_sigint(int group)
{
    int pp[2];
    if (pipe(pp) < 0)
        bail_out("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm(20);
        if (group)
            setpgid(0, 0);
        test_pid = getpid();
        close(pp[0]);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_int;
        sigaction(SIGINT, &sa, NULL);
        netsrv_pool *p = NULL;
        if (netsrv_pool_new(&p, 3, 4, work, NULL, NULL, 0) < 0)
            _exit(1);
        submit(p, OP_LOOP, 0, 1, 0);
        submit(p, OP_READ, 0, 2, 0);
        tu_ev ev;
        if (tu_ev_wait(&ev, 1, 5000) != 1)
            _exit(1);
        pid_t pids[3];
        netsrv_pool_pids(p, pids, 3);
        if (write(pp[1], pids, sizeof pids) != sizeof pids)
            _exit(1);
        netsrv_pool_result r;
        while (!got_int)
            netsrv_pool_next_result(p, &r, 0.05);
        netsrv_pool_terminate(p, 0.2);
        int left = netsrv_pool_pids(p, NULL, 0);
        netsrv_pool_free(p);
        /* ECHILD: no child of ours is left, running or unreaped. */
        pid_t w = waitpid(-1, NULL, WNOHANG);
        _exit(left == 0 && w < 0 && errno == ECHILD ? 0 : 3);
    }
    close(pp[1]);
    if (group)
        setpgid(child, child); /* whichever of the two runs first */
    pid_t pids[3] = { 0 };
    ssize_t n = read_pipe(pp[0], pids, sizeof pids, 10000);
    close(pp[0]);
    is(n, (ssize_t)sizeof pids, "%s: a pool of 3 busy, one worker ignoring SIGTERM",
       group ? "SIGINT to the group" : "SIGINT to the parent");
    kill(group ? -child : child, SIGINT);
    int st = 0;
    ok(tu_wait_zombie(child, 10000) && waitpid(child, &st, 0) == child && WIFEXITED(st) &&
           WEXITSTATUS(st) == 0,
       "its handler's flag made it terminate the pool, and it ended with no child left "
       "(status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    ok(n == sizeof pids && all_gone(pids, 3, 5), "no worker runs");
    for (int i = 0; i < 3; i++)
        if (n == sizeof pids && !gone(pids[i]))
            kill(pids[i], SIGKILL);
    if (waitpid(child, &st, WNOHANG) == 0) {
        kill(child, SIGKILL);
        waitpid(child, &st, 0);
    }
}

int main(void)
{
    tu_init(90);
    tu_ev_init();
    test_pid = getpid();
    if (pipe(gate) < 0)
        bail_out("pipe: %s", strerror(errno));
    /* A child of the test's own, ended before the pools run: its status
     * must still be there for the test to collect at the end. */
    fflush(stdout);
    pid_t foreign = fork();
    if (foreign == 0)
        _exit(42);
    ok(tu_wait_zombie(foreign, 5000), "a foreign child exited (status 42)");

    test_many();
    test_backpressure();
    test_crash(foreign);
    test_terminate();
    test_signals();
    test_parent_death();
    test_sigint(0);
    test_sigint(1);

    int st = 0;
    ok(waitpid(foreign, &st, WNOHANG) == foreign && WIFEXITED(st) && WEXITSTATUS(st) == 42,
       "the foreign child kept its exit status 42 for the test");
    return done_testing();
}
