/* spawn.c - running a program on the connection (inetd style).  The
 * program gets the socket itself as stdin and stdout, so a client's
 * half-close reaches it as EOF while its output still flows back, and its
 * exit ends the connection.  It inherits no other descriptor. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t netsrv_spawn(netsrv_conn *c, char *const argv[])
{
    if (c->dgram)
        return -ENOTSOCK;
    if (!argv || !argv[0])
        return -EINVAL;
    int r = netsrv_flush(c);
    if (r < 0)
        return r;
    /* The program expects an ordinary blocking descriptor with no socket
     * timeouts; both are shared with our copy, which we do not read or
     * write any more (its lingering close does not depend on them). */
    netsrv__set_nonblock(c->fd, 0);
    if (c->sock_timeo_ms)
        netsrv__conn_set_sock_timeout(c, 0);
    int in_child = c->srv && c->srv->in_child;
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        r = -errno;
        close(errpipe[0]);
        close(errpipe[1]);
        return r;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to execvp. */
        /* A group of its own, so that stopping it stops what it started
         * too; a fork-mode child is a group of its own already, which the
         * server stops as a whole. */
        if (!in_child)
            setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
        int e = 0;
        if (dup2(c->fd, 0) < 0 || dup2(c->fd, 1) < 0)
            e = errno;
        if (!e) {
            /* Everything above stderr goes, except the error pipe, which
             * is close-on-exec and tells the parent if exec failed. */
            int keep = errpipe[1];
            if (keep > 3)
                close_range(3, (unsigned)keep - 1, 0);
            close_range((unsigned)keep + 1, ~0U, 0);
            execvp(argv[0], argv);
            e = errno;
        }
        ssize_t w = write(errpipe[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(errpipe[1]);
    if (!in_child)
        setpgid(pid, pid); /* as the child does: whichever runs first */
    int e = 0;
    ssize_t n;
    while ((n = read(errpipe[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(errpipe[0]);
    if (n == (ssize_t)sizeof e) { /* exec failed: reap and say why */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -e;
    }
    return pid;
}

/* Waits for pid to exit until deadline (ignoring the drain deadline when
 * nocancel): on its pidfd, or, when there is none (no kernel support, or
 * out of descriptors), by looking every 20 ms; never a blocking waitpid
 * on a loop.  Returns 1 once it exited (reaped into *st), 0 on timeout,
 * -ECANCELED when drained. */
static int wait_exit(netsrv_conn *c, pid_t pid, int pfd, double deadline, int nocancel, int *st)
{
    int flags = NETSRV__NOWAKE | (nocancel ? NETSRV__NOCANCEL : 0);
    for (;;) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return -errno;
        double until = deadline;
        if (pfd < 0 && netsrv__now() + 0.02 < until)
            until = netsrv__now() + 0.02;
        int why = netsrv__task_wait(c->task, pfd, POLLIN, until, flags);
        if (why == NETSRV_WAIT_DRAINED)
            return -ECANCELED;
        if (why < 0)
            return why;
        if (why == NETSRV_WAIT_TIMEOUT && until >= deadline) {
            if (waitpid(pid, st, WNOHANG) == pid)
                return 1;
            return 0;
        }
    }
}

/* The program and whatever it started (its process group, unless it made
 * one of its own); a plain kill where there is no such group. */
static void stop_program(pid_t pid, int sig)
{
    if (kill(-pid, sig) < 0)
        kill(pid, sig);
}

int netsrv_waitpid(netsrv_conn *c, pid_t pid, int *status)
{
    int in_child = c->srv && c->srv->in_child;
    int st = 0;
    int pfd = pidfd_open(pid, 0);
    int r = wait_exit(c, pid, pfd, c->end_deadline, 0, &st);
    int rc = 0;
    if (r != 1) {
        /* The request's time is up, or the server's drain is: ask the
         * program to stop, and after a second insist. */
        rc = r == 0 ? -ETIMEDOUT : r;
        stop_program(pid, SIGTERM);
        r = wait_exit(c, pid, pfd, netsrv__now() + 1.0, 1, &st);
        if (r == 0) {
            stop_program(pid, SIGKILL);
            r = wait_exit(c, pid, pfd, NETSRV__INF, 1, &st);
        }
        /* What it left behind in its group.  Only the group: the pid
         * itself is reaped and may be reused, the group id is reserved
         * while members remain. */
        if (!in_child)
            kill(-pid, SIGKILL);
        if (r < 0 && rc == 0)
            rc = r;
    }
    if (pfd >= 0)
        close(pfd);
    if (status)
        *status = st;
    return rc;
}
