/* pool.c - a process pool, the multiprocessing.Pool of libnetsrv: forked
 * workers fed one task at a time over SOCK_SEQPACKET socketpairs (one
 * message per task and per result), a bounded queue in the parent, and
 * crashed workers reported and replaced.  The parent does the work of the
 * pool only inside its calls: there is no thread behind it. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Leads every message, both ways: the task's id, and for a result work's
 * return value. */
typedef struct pool_hdr {
    uint64_t id;
    int32_t rc;
    uint32_t len;
} pool_hdr;

#define POOL_BUF (sizeof(pool_hdr) + NETSRV_POOL_MSG_MAX)

/* A task waiting for a worker: the message as it will be sent. */
typedef struct pool_task {
    struct pool_task *next;
    pool_hdr hdr;
    unsigned char data[];
} pool_task;

/* A finished task waiting for netsrv_pool_next_result. */
typedef struct pool_out {
    struct pool_out *next;
    netsrv_pool_result res;
    unsigned char data[];
} pool_out;

typedef struct pool_worker {
    pid_t pid;          /* 0: the slot is empty */
    int fd;             /* the parent's end of its socketpair, -1 once closed */
    int pidfd;          /* -1 when the kernel has no pidfd_open */
    int busy;           /* it runs the task task_id */
    uint64_t task_id;
    int shut;           /* told to exit (no more tasks: write side shut) */
    int killed;         /* terminate signalled it: what it ran is cancelled */
} pool_worker;

struct netsrv_pool {
    pid_t owner;        /* the process the workers belong to */
    unsigned nworkers;
    pool_worker *w;
    size_t queue_max, queued;
    pool_task *qhead, *qtail;
    pool_out *ohead, *otail;
    size_t nout;
    pool_out *taken;    /* the last result handed out: its data stays valid */
    int closed, terminated;
    netsrv_pool_work work;
    void *ctx;
    unsigned char *inbuf, *outbuf; /* POOL_BUF each: the worker's, and the
                                      parent's receive buffer */
};

/* ------------------------------------------------------------ the worker */

static void __attribute__((noreturn)) worker_main(netsrv_pool *p, unsigned self, int fd,
                                                  const sigset_t *mask)
{
    /* The parent's other sockets (copies would keep their workers from
     * seeing end of file) and pidfds are not ours. */
    for (unsigned i = 0; i < p->nworkers; i++) {
        if (i == self || !p->w[i].pid)
            continue;
        if (p->w[i].fd >= 0)
            close(p->w[i].fd);
        if (p->w[i].pidfd >= 0)
            close(p->w[i].pidfd);
    }
    /* The application's handlers are for the application: a worker dies
     * of SIGINT and SIGTERM as any program does.  Then its own mask, as
     * it was before the fork blocked all signals. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    /* Dies with the parent: SIGKILL, as a task may ignore SIGTERM.  The
     * parent may have died before the request was made. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != p->owner)
        _exit(1);
    pthread_sigmask(SIG_SETMASK, mask, NULL);

    pool_hdr *in = (pool_hdr *)p->inbuf, *out = (pool_hdr *)p->outbuf;
    for (;;) {
        ssize_t n = recv(fd, p->inbuf, POOL_BUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* end of file: the pool is done with us (or gone) */
            _exit(0);
        if ((size_t)n < sizeof *in || (size_t)n != sizeof *in + in->len)
            _exit(2);
        size_t rlen = NETSRV_POOL_MSG_MAX;
        int rc = p->work(p->ctx, p->inbuf + sizeof *in, in->len, p->outbuf + sizeof *out,
                         &rlen);
        if (rc >= 0 && rlen > NETSRV_POOL_MSG_MAX)
            rc = -EMSGSIZE;
        out->id = in->id;
        out->rc = rc;
        out->len = rc >= 0 ? (uint32_t)rlen : 0;
        while ((n = send(fd, p->outbuf, sizeof *out + out->len, MSG_NOSIGNAL)) < 0 &&
               errno == EINTR)
            ;
        if (n < 0)
            _exit(1);
    }
}

static int spawn(netsrv_pool *p, unsigned i)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* A whole message must fit in the socket's buffer at once. */
    int sz = 2 * (int)POOL_BUF;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    sigset_t all, old;
    /* Signals stay blocked across fork so none runs the application's
     * handler in the worker before it has reset its dispositions. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        worker_main(p, i, sv[1], &old);
    }
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -e;
    }
    pool_worker *w = &p->w[i];
    *w = (pool_worker){ .pid = pid, .fd = sv[0] };
    w->pidfd = pidfd_open(pid, 0);
    if (w->pidfd >= 0)
        fcntl(w->pidfd, F_SETFD, FD_CLOEXEC);
    return 0;
}

/* ------------------------------------------------------------ the parent */

static pool_out *out_new(uint64_t id, int status, int rc, size_t len)
{
    pool_out *o = calloc(1, sizeof *o + len);
    if (!o)
        return NULL;
    o->res.id = id;
    o->res.status = status;
    o->res.rc = rc;
    o->res.len = len;
    return o;
}

static void out_push(netsrv_pool *p, pool_out *o)
{
    if (p->otail)
        p->otail->next = o;
    else
        p->ohead = o;
    p->otail = o;
    p->nout++;
}

/* A result that cannot be stored is still an outcome: without memory for
 * it the task is reported with no data rather than lost. */
static void report(netsrv_pool *p, uint64_t id, int status, int rc, int wstatus,
                   const char *why, const void *data, size_t len)
{
    pool_out *o = out_new(id, status, rc, len);
    if (!o && len)
        o = out_new(id, NETSRV_POOL_FAILED, -ENOMEM, 0), len = 0;
    if (!o)
        return; /* not even that: the caller's count of pending tasks says so */
    o->res.wstatus = wstatus;
    if (why)
        snprintf(o->res.why, sizeof o->res.why, "%s", why);
    if (len)
        memcpy(o->data, data, len);
    out_push(p, o);
}

static void status_text(char *buf, size_t cap, pid_t pid, int st)
{
    if (st == -1)
        snprintf(buf, cap, "worker %d was reaped by someone else", (int)pid);
    else if (WIFSIGNALED(st))
        snprintf(buf, cap, "worker %d killed by signal %d (%s)", (int)pid, WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else if (WIFEXITED(st))
        snprintf(buf, cap, "worker %d exited with status %d", (int)pid, WEXITSTATUS(st));
    else
        snprintf(buf, cap, "worker %d ended (wait status %#x)", (int)pid, (unsigned)st);
}

static void close_worker_fds(pool_worker *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->pidfd >= 0)
        close(w->pidfd);
    w->fd = w->pidfd = -1;
}

/* Reads the results w sent.  End of file means it is exiting: its pidfd
 * (or the next waitpid) tells when it is gone. */
static void read_results(netsrv_pool *p, pool_worker *w)
{
    pool_hdr *h = (pool_hdr *)p->inbuf;
    while (w->fd >= 0) {
        ssize_t n = recv(w->fd, p->inbuf, POOL_BUF, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            close(w->fd);
            w->fd = -1;
            return;
        }
        if ((size_t)n < sizeof *h || (size_t)n != sizeof *h + h->len || !w->busy ||
            h->id != w->task_id) {
            /* Not what a worker of ours sends: stop trusting it. */
            kill(w->pid, SIGKILL);
            close(w->fd);
            w->fd = -1;
            return;
        }
        w->busy = 0;
        report(p, h->id, h->rc >= 0 ? NETSRV_POOL_OK : NETSRV_POOL_FAILED, h->rc, 0, NULL,
               p->inbuf + sizeof *h, h->len);
    }
}

/* Reaps w if it ended (block: waits for it); returns 1 when it did.  Its
 * task, if any, is reported as crashed (or cancelled). */
static int reap(netsrv_pool *p, pool_worker *w, int block)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(w->pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        return 0;
    if (r < 0)
        st = -1; /* ECHILD: someone else reaped it; it is gone all the same */
    read_results(p, w); /* what it sent before it ended */
    if (w->busy) {
        char why[96];
        status_text(why, sizeof why, w->pid, st);
        if (w->killed)
            report(p, w->task_id, NETSRV_POOL_CANCELLED, -ECANCELED, st, why, NULL, 0);
        else
            report(p, w->task_id, NETSRV_POOL_CRASHED, -ECHILD, st, why, NULL, 0);
    }
    close_worker_fds(w);
    w->pid = 0;
    w->busy = 0;
    return 1;
}

static int live_workers(const netsrv_pool *p)
{
    int n = 0;
    for (unsigned i = 0; i < p->nworkers; i++)
        n += p->w[i].pid != 0;
    return n;
}

static int busy_workers(const netsrv_pool *p)
{
    int n = 0;
    for (unsigned i = 0; i < p->nworkers; i++)
        n += p->w[i].pid && p->w[i].busy;
    return n;
}

/* Empty slots get a new worker while there is work to do; idle workers
 * get queued tasks, or, once the pool is closed and the queue empty, the
 * end of their input.  Returns 1 when a slot stays empty (fork failed). */
static int refill(netsrv_pool *p)
{
    int empty = 0;
    for (unsigned i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->w[i];
        if (!w->pid && !p->terminated && (!p->closed || p->queued) && spawn(p, i) < 0)
            empty = 1;
        if (!w->pid || w->busy || w->shut || w->fd < 0)
            continue;
        if (p->qhead) {
            pool_task *t = p->qhead;
            ssize_t n;
            while ((n = send(w->fd, &t->hdr, sizeof t->hdr + t->hdr.len,
                             MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
                   errno == EINTR)
                ;
            if (n < 0) {
                /* It is going (EPIPE) or stuck: the task waits for the
                 * next worker, this one for its end. */
                close(w->fd);
                w->fd = -1;
                kill(w->pid, SIGKILL);
                continue;
            }
            p->qhead = t->next;
            if (!p->qhead)
                p->qtail = NULL;
            p->queued--;
            w->busy = 1;
            w->task_id = t->hdr.id;
            free(t);
        } else if (p->closed) {
            shutdown(w->fd, SHUT_WR);
            w->shut = 1;
        }
    }
    return empty;
}

/* One round: waits at most until deadline for a result or a worker's end,
 * takes what came, and hands out work.  Returns 0, or -ETIMEDOUT when the
 * deadline passed with nothing to do. */
static int pump(netsrv_pool *p, double deadline)
{
    struct pollfd pfd[2 * p->nworkers + 1];
    int n = 0, nopidfd = 0;
    int empty = refill(p);
    size_t before = p->nout;
    for (unsigned i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->w[i];
        if (!w->pid)
            continue;
        if (w->fd >= 0)
            pfd[n++] = (struct pollfd){ .fd = w->fd, .events = POLLIN };
        if (w->pidfd >= 0)
            pfd[n++] = (struct pollfd){ .fd = w->pidfd, .events = POLLIN };
        else
            nopidfd = 1;
    }
    int ms = netsrv__ms_until(deadline);
    /* Without pidfds, or to retry a fork that failed, look again soon. */
    if ((nopidfd || empty) && (ms < 0 || ms > 50))
        ms = 50;
    int r = poll(pfd, (nfds_t)n, ms);
    if (r < 0 && errno != EINTR)
        return -errno;
    for (unsigned i = 0; i < p->nworkers; i++) {
        pool_worker *w = &p->w[i];
        if (!w->pid)
            continue;
        read_results(p, w);
        reap(p, w, 0);
    }
    refill(p);
    if (p->nout == before && netsrv__now() >= deadline)
        return -ETIMEDOUT;
    return 0;
}

static double deadline_of(double timeout)
{
    return timeout < 0 ? NETSRV__INF : netsrv__now() + timeout;
}

/* --------------------------------------------------------------- the API */

int netsrv_pool_new(netsrv_pool **out, unsigned workers, size_t queue_max,
                    netsrv_pool_work work, void *ctx, char *err, size_t errlen)
{
    *out = NULL;
    if (!workers || !work) {
        if (err && errlen)
            snprintf(err, errlen, "a pool needs at least one worker and a work function");
        return -EINVAL;
    }
    netsrv_pool *p = calloc(1, sizeof *p);
    if (p) {
        p->w = calloc(workers, sizeof *p->w);
        p->inbuf = malloc(POOL_BUF);
        p->outbuf = malloc(POOL_BUF);
    }
    if (!p || !p->w || !p->inbuf || !p->outbuf) {
        if (p) {
            free(p->w);
            free(p->inbuf);
            free(p->outbuf);
            free(p);
        }
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->owner = getpid();
    p->nworkers = workers;
    p->queue_max = queue_max ? queue_max : 2 * (size_t)workers;
    p->work = work;
    p->ctx = ctx;
    for (unsigned i = 0; i < workers; i++)
        p->w[i] = (pool_worker){ .fd = -1, .pidfd = -1 };
    for (unsigned i = 0; i < workers; i++) {
        int rc = spawn(p, i);
        if (rc < 0) {
            if (err && errlen)
                snprintf(err, errlen, "starting worker %u of %u: %s", i + 1, workers,
                         netsrv_strerror(rc));
            netsrv_pool_free(p);
            return rc;
        }
    }
    *out = p;
    return 0;
}

int netsrv_pool_submit(netsrv_pool *p, const void *task, size_t len, unsigned long long id,
                       unsigned flags)
{
    if (p->closed || p->terminated)
        return -EPIPE;
    if (len > NETSRV_POOL_MSG_MAX)
        return -EMSGSIZE;
    /* Idle workers first take what waits, so room is counted truly. */
    refill(p);
    while (p->queued >= p->queue_max) {
        if (flags & NETSRV_POOL_NONBLOCK) {
            pump(p, 0);
            if (p->queued >= p->queue_max)
                return -EAGAIN;
            break;
        }
        int rc = pump(p, NETSRV__INF);
        if (rc < 0 && rc != -ETIMEDOUT)
            return rc;
    }
    pool_task *t = malloc(sizeof *t + len);
    if (!t)
        return -ENOMEM;
    t->next = NULL;
    t->hdr = (pool_hdr){ .id = id, .rc = 0, .len = (uint32_t)len };
    if (len)
        memcpy(t->data, task, len);
    if (p->qtail)
        p->qtail->next = t;
    else
        p->qhead = t;
    p->qtail = t;
    p->queued++;
    refill(p);
    return 0;
}

size_t netsrv_pool_pending(const netsrv_pool *p)
{
    return p->queued + (size_t)busy_workers(p) + p->nout;
}

int netsrv_pool_next_result(netsrv_pool *p, netsrv_pool_result *res, double timeout)
{
    double deadline = deadline_of(timeout);
    free(p->taken);
    p->taken = NULL;
    for (;;) {
        if (p->ohead) {
            pool_out *o = p->ohead;
            p->ohead = o->next;
            if (!p->ohead)
                p->otail = NULL;
            p->nout--;
            *res = o->res;
            res->data = o->res.status == NETSRV_POOL_OK ? o->data : NULL;
            if (!res->data)
                res->len = 0;
            p->taken = o;
            return 1;
        }
        if (!p->queued && !busy_workers(p))
            return -ENODATA;
        int rc = pump(p, deadline);
        if (rc == -ETIMEDOUT)
            return p->ohead ? netsrv_pool_next_result(p, res, 0) : 0;
        if (rc < 0)
            return rc;
    }
}

void netsrv_pool_close(netsrv_pool *p)
{
    p->closed = 1;
    refill(p);
}

int netsrv_pool_join(netsrv_pool *p, double timeout)
{
    if (!p->closed && !p->terminated)
        return -EINVAL;
    double deadline = deadline_of(timeout);
    while (live_workers(p)) {
        int rc = pump(p, deadline);
        if (rc == -ETIMEDOUT && live_workers(p))
            return -ETIMEDOUT;
        if (rc < 0 && rc != -ETIMEDOUT)
            return rc;
    }
    return 0;
}

void netsrv_pool_terminate(netsrv_pool *p, double grace)
{
    if (getpid() != p->owner)
        return;
    p->terminated = 1;
    while (p->qhead) {
        pool_task *t = p->qhead;
        p->qhead = t->next;
        report(p, t->hdr.id, NETSRV_POOL_CANCELLED, -ECANCELED, 0,
               "cancelled before it ran", NULL, 0);
        free(t);
    }
    p->qtail = NULL;
    p->queued = 0;
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->w[i].pid) {
            p->w[i].killed = 1;
            kill(p->w[i].pid, SIGTERM);
        }
    /* Ask, then insist on whatever ignored SIGTERM. */
    netsrv_pool_join(p, grace < 0 ? 1.0 : grace);
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->w[i].pid) {
            kill(p->w[i].pid, SIGKILL);
            reap(p, &p->w[i], 1);
        }
}

unsigned netsrv_pool_pids(const netsrv_pool *p, pid_t *pids, unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->nworkers; i++)
        if (p->w[i].pid) {
            if (n < max)
                pids[n] = p->w[i].pid;
            n++;
        }
    return n;
}

void netsrv_pool_free(netsrv_pool *p)
{
    if (!p)
        return;
    if (getpid() == p->owner)
        netsrv_pool_terminate(p, 0);
    for (unsigned i = 0; i < p->nworkers; i++)
        close_worker_fds(&p->w[i]);
    while (p->qhead) {
        pool_task *t = p->qhead;
        p->qhead = t->next;
        free(t);
    }
    while (p->ohead) {
        pool_out *o = p->ohead;
        p->ohead = o->next;
        free(o);
    }
    free(p->taken);
    free(p->w);
    free(p->inbuf);
    free(p->outbuf);
    free(p);
}
