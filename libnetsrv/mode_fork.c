/* mode_fork.c - a process per request, at most max_conns at once.  Only our
 * own children are reaped (waitpid on their pids, never -1, so foreign
 * children keep their status), promptly: each child's pidfd wakes the
 * serving loop when it exits, so no zombie lingers.  Each child leads a
 * process group of its own, so that past the drain deadline the programs
 * it spawned are stopped with it. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void child_main(netsrv_server *srv, netsrv__req *req, const sigset_t *mask)
{
    /* The child serves one request and _exits: no atexit handlers, no
     * stdio flush of the parent's buffers.  Ctrl-C at a terminal reaches
     * the whole process group; the parent decides (drain), so children
     * ignore SIGINT and die on SIGTERM, which the parent sends past the
     * drain deadline. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    setpgid(0, 0);
    srv->in_child = 1;
    /* The listener is the parent's (and its Unix path: never unlinked
     * here); a datagram request replies on the shared socket, so keeps it. */
    if (!req->conn.dgram)
        close(srv->fd);
    /* -1, not a stale number: netsrv_shutdown from a handler here must not
     * write into whatever the handler opens next.  The drain eventfd is
     * shared with the parent, which is how that shutdown reaches it. */
    close(srv->wakefd);
    srv->wakefd = -1;
    if (srv->sparefd >= 0)
        close(srv->sparefd);
    srv->sparefd = -1;
    /* The siblings' pidfds stay open: holding one does not keep a process
     * around, and closing up to max_conns of them in every new child made
     * each fork cost O(children).  A spawned program gets none (spawn.c). */
    /* The application's own mask, as it was before the fork blocked all. */
    pthread_sigmask(SIG_SETMASK, mask, NULL);
    netsrv__req_task(req, NULL);
    netsrv_task_ref(&req->task); /* kept to read the result; _exit frees all */
    /* The drain eventfd is shared: polling waits see a shutdown begin (a
     * kept connection between requests ends at once); the parent's
     * signals at the deadline do the rest. */
    req->task.drain_fd = srv->drainfd;
    req->task.drain_secs = srv->cfg.drain;
    netsrv__task_run_here(&req->task);
    _exit(req->rc < 0 ? 1 : 0);
}

static int add_child(netsrv_server *srv, pid_t pid, const netsrv__ipkey *ip)
{
    if (srv->nchildren == srv->capchildren) {
        unsigned cap = srv->capchildren ? srv->capchildren * 2 : 16;
        netsrv__child *c = realloc(srv->children, cap * sizeof *c);
        if (!c)
            return -ENOMEM;
        srv->children = c;
        srv->capchildren = cap;
    }
    netsrv__child *c = &srv->children[srv->nchildren++];
    c->pid = pid;
    c->pidfd = pidfd_open(pid, 0);
    if (c->pidfd >= 0)
        fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
    c->ip = *ip;
    c->cut_at = NETSRV__INF;
    c->signalled = 0;
    return 0;
}

static void fork_process(netsrv_server *srv, netsrv__req *req)
{
    sigset_t all, old;
    /* Signals stay blocked across fork so none runs the parent's handler
     * in the child before the child has set its own dispositions. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_main(srv, req, &old);
    int e = errno;
    if (pid > 0)
        setpgid(pid, pid); /* as the child does: whichever runs first */
    if (pid > 0 && add_child(srv, pid, &req->ip) < 0) {
        /* cannot track it: wait for it now rather than leave a zombie */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        netsrv__ip_release(srv, &req->ip);
        atomic_fetch_sub(&srv->active, 1);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        netsrv__report(srv, &req->conn, &req->conn.peer, -e);
        netsrv__ip_release(srv, &req->ip);
        atomic_fetch_sub(&srv->active, 1);
    }
    /* The child owns the connection now; the parent only closes its copy
     * (a datagram request shares the server's socket: nothing to close). */
    if (!req->conn.dgram)
        close(req->conn.fd);
    netsrv__conn_fini(&req->conn);
    free(req);
}

static void reap(netsrv_server *srv, int block)
{
    for (unsigned i = 0; i < srv->nchildren;) {
        netsrv__child *c = &srv->children[i];
        pid_t r;
        while ((r = waitpid(c->pid, NULL, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
            ;
        if (r == 0) {
            i++;
            continue;
        }
        /* reaped, or ECHILD (someone else reaped it): either way it is gone */
        if (c->signalled == SIGTERM)
            /* Cut off at the drain deadline: what is left of its group
             * (programs that ignore SIGTERM) belongs to a request that is
             * over.  The group id stays reserved while members remain. */
            kill(-c->pid, SIGKILL);
        if (c->pidfd >= 0)
            close(c->pidfd);
        netsrv__ip_release(srv, &c->ip);
        atomic_fetch_sub(&srv->active, 1);
        srv->children[i] = srv->children[--srv->nchildren];
    }
}

static void fork_collect(netsrv_server *srv)
{
    reap(srv, 0);
}

static int fork_pollfds(netsrv_server *srv, struct pollfd *pfd, int max)
{
    int n = 0;
    for (unsigned i = 0; i < srv->nchildren && n < max; i++)
        if (srv->children[i].pidfd >= 0)
            pfd[n++] = (struct pollfd){ .fd = srv->children[i].pidfd, .events = POLLIN };
    return n;
}

static double fork_enforce(netsrv_server *srv);

static void wait_children(netsrv_server *srv, double deadline)
{
    while (srv->nchildren) {
        double until = fork_enforce(srv);
        if (deadline < until)
            until = deadline;
        int ms = netsrv__ms_until(until);
        if (ms == 0 && netsrv__now() >= deadline)
            return;
        struct pollfd pfd[1024];
        int n = fork_pollfds(srv, pfd, 1024);
        /* without pidfds, look again every 50 ms */
        if (n < (int)srv->nchildren && (ms < 0 || ms > 50))
            ms = 50;
        poll(pfd, (nfds_t)n, ms);
        reap(srv, 0);
    }
}

/* To the child's whole group: a program it spawned goes with it. */
static void signal_child(netsrv__child *c, int sig)
{
    if (kill(-c->pid, sig) < 0)
        kill(c->pid, sig);
}

static void signal_children(netsrv_server *srv, int sig)
{
    for (unsigned i = 0; i < srv->nchildren; i++)
        signal_child(&srv->children[i], sig);
}

static void fork_drain(netsrv_server *srv, double deadline)
{
    for (unsigned i = 0; i < srv->nchildren; i++)
        if (deadline < srv->children[i].cut_at)
            srv->children[i].cut_at = deadline;
}

/* Past the drain deadline: SIGTERM to the child's group, and SIGKILL one
 * second later to whatever ignored it. */
static double fork_enforce(netsrv_server *srv)
{
    double next = NETSRV__INF, now = 0;
    for (unsigned i = 0; i < srv->nchildren; i++) {
        netsrv__child *c = &srv->children[i];
        if (c->cut_at >= NETSRV__INF)
            continue;
        if (!now)
            now = netsrv__now();
        if (c->cut_at <= now) {
            int sig = c->signalled ? SIGKILL : SIGTERM;
            signal_child(c, sig);
            c->signalled = sig;
            c->cut_at = sig == SIGTERM ? now + 1.0 : NETSRV__INF;
        }
        if (c->cut_at < next)
            next = c->cut_at;
    }
    return next;
}

static void fork_close(netsrv_server *srv, double deadline)
{
    wait_children(srv, deadline);
    if (!srv->nchildren || !srv->cfg.block_on_close)
        return;
    /* Past the drain deadline: ask, then insist. */
    signal_children(srv, SIGTERM);
    wait_children(srv, netsrv__now() + 1.0);
    if (srv->nchildren) {
        signal_children(srv, SIGKILL);
        reap(srv, 1);
    }
}

const netsrv__mode_ops netsrv__mode_fork = {
    .process = fork_process,
    .collect = fork_collect,
    .pollfds = fork_pollfds,
    .drain = fork_drain,
    .enforce = fork_enforce,
    .close = fork_close,
    .blocking = 1,
};
