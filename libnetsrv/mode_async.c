/* mode_async.c - the async mode: libev loops, each request on its own
 * coroutine.  A stream call that would block parks the coroutine on an
 * ev_io/ev_timer and returns to the loop; the watcher's callback switches
 * back.  So the handler source of the blocking modes runs unchanged.
 * With workers > 1 each loop runs in its own thread and all of them watch
 * the one listening socket (the kernel hands each connection to one). */
#include "config.h"
#include "netsrv_int.h"
#include "coro.h"
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPTS_PER_WAKE 64 /* bounded so one busy listener cannot starve I/O */
#define POOL_MAX 256        /* ended coroutines kept for reuse, per loop */
#define PAUSE_SECS 0.05     /* recheck interval while accepting is paused */

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

typedef struct netsrv__worker netsrv__worker;

typedef struct netsrv__task {
    netsrv__coro co;                  /* no stack until the handler runs */
    ev_io io;
    ev_timer tm;
    netsrv__worker *w;
    netsrv_request *req;
    struct netsrv__task *prev, *next; /* the loop's live tasks */
    int result;                       /* what woke it: 1 fd ready, 0 else */
    double deadline;                  /* of the current wait (monotonic) */
    int started;                      /* the coroutine exists */
    int waiting;
    int done;
} netsrv__task;

#define RBUF_CACHE 64 /* idle input buffers kept for reuse, per loop */

struct netsrv__worker {
    netsrv_server *srv;
    struct ev_loop *loop;
    ev_io accept_w;       /* the listener (or the datagram socket) */
    ev_io drain_w;        /* the drain eventfd: shutdown began */
    ev_timer tick_w;      /* service_actions every poll_interval */
    ev_timer pause_w;     /* accepting paused: at max_conns or out of fds */
    ev_timer timeout_w;   /* handle_request's server_timeout */
    netsrv__coro main;    /* the loop's own context */
    netsrv__task *tasks;
    unsigned ntasks;
    netsrv__coro stacks[POOL_MAX]; /* stacks of ended coroutines, for reuse */
    unsigned nstacks;
    char *rbufs[RBUF_CACHE];       /* input buffers given back by idle requests */
    unsigned nrbufs;
    char *pktbuf;         /* datagram receive buffer */
    int lfd;              /* this loop's listener: the server's, or its own
                             SO_REUSEPORT twin */
    int sparefd;
    int stopping;
    int paused;
    int one_shot;         /* handle_request: one request, then stop */
    int taken;
    int timed_out;
    pthread_t tid;
};

/* ---- buffers ---- */

char *netsrv__task_rbuf(netsrv_request *req)
{
    netsrv__worker *w = req->task->w;
    if (w->nrbufs)
        return w->rbufs[--w->nrbufs];
    return malloc(req->srv->cfg.rbufsize);
}

static void rbuf_put(netsrv__worker *w, netsrv_request *req)
{
    if (req->rbuf && !req->dgram && req->rcap == w->srv->cfg.rbufsize && w->nrbufs < RBUF_CACHE)
        w->rbufs[w->nrbufs++] = req->rbuf;
    else
        free(req->rbuf);
    req->rbuf = NULL;
    req->rpos = req->rlen = 0;
}

void netsrv__task_idle(netsrv_request *req)
{
    /* An idle connection keeps only its request and its parked stack:
     * the buffers come back when data does (from a small per-loop cache,
     * so a busy connection does not pay malloc and free per message). */
    if (req->rpos >= req->rlen && req->rbuf)
        rbuf_put(req->task->w, req);
    if (req->wlen == 0 && req->wbuf && req->wcap > 4096) { /* small ones are kept */
        free(req->wbuf);
        req->wbuf = NULL;
        req->wcap = 0;
    }
}

/* ---- tasks ---- */

static void task_main(void *arg)
{
    netsrv__task *t = arg;
    netsrv__request_run(t->req);
    t->done = 1;
    netsrv__coro_switch(&t->co, &t->w->main, 1); /* never comes back */
}

static void accept_resume(netsrv__worker *w);

static void task_end(netsrv__worker *w, netsrv__task *t)
{
    netsrv_server *srv = w->srv;
    ev_io_stop(w->loop, &t->io);
    ev_timer_stop(w->loop, &t->tm);
    if (t->prev)
        t->prev->next = t->next;
    else
        w->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    w->ntasks--;
    rbuf_put(w, t->req);
    netsrv__request_free(t->req);
    atomic_fetch_sub(&srv->active, 1);
    if (t->co.stack) {
        if (w->nstacks < POOL_MAX)
            w->stacks[w->nstacks++] = t->co;
        else
            netsrv__coro_free(&t->co);
    }
    free(t);
    if (w->paused && !w->stopping)
        accept_resume(w);
    if ((w->stopping || (w->one_shot && w->taken)) && w->ntasks == 0)
        ev_break(w->loop, EVBREAK_ALL);
}

/* Runs t until it parks or ends. */
static void task_resume(netsrv__worker *w, netsrv__task *t, int result)
{
    t->result = result;
    netsrv__coro_switch(&w->main, &t->co, 0);
    if (t->done)
        task_end(w, t);
}

static void task_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    netsrv__task *t = container_of(io, netsrv__task, io);
    (void)loop;
    (void)revents;
    task_resume(t->w, t, 1);
}

/* The timer is re-armed lazily ("be smart about timeouts" in libev's
 * manual): a wait that ends early leaves it running, and when it fires
 * before the current wait's deadline it is only set again for the rest. */
static void task_timer_cb(struct ev_loop *loop, ev_timer *tm, int revents)
{
    netsrv__task *t = container_of(tm, netsrv__task, tm);
    (void)revents;
    if (!t->waiting || t->deadline >= NETSRV__INF)
        return;
    double left = t->deadline - netsrv__now();
    if (left > 0.0005) {
        ev_timer_set(&t->tm, left, 0);
        ev_timer_start(loop, &t->tm);
        return;
    }
    task_resume(t->w, t, 0);
}

static void task_io_cb(struct ev_loop *loop, ev_io *io, int revents);
static void task_timer_cb(struct ev_loop *loop, ev_timer *tm, int revents);

/* Ends a request whose handler never ran (a silent client at shutdown or
 * past its timeout): report, close, forget. */
static void task_abort(netsrv__worker *w, netsrv__task *t, int err)
{
    netsrv_request *req = t->req;
    if (err)
        netsrv__report(w->srv, req, &req->peer, err);
    netsrv__request_close(req);
    task_end(w, t);
}

/* Gives t its coroutine and runs it until it parks or ends. */
static void task_run(netsrv__worker *w, netsrv__task *t)
{
    int rc = 0;
    ev_io_stop(w->loop, &t->io);
    ev_timer_stop(w->loop, &t->tm);
    if (w->nstacks) {
        t->co = w->stacks[--w->nstacks];
        netsrv__coro_reset(&t->co, task_main, t);
    } else {
        rc = netsrv__coro_init(&t->co, w->srv->cfg.stack_size, task_main, t);
    }
    if (rc < 0) {
        task_abort(w, t, rc);
        return;
    }
    ev_init(&t->io, task_io_cb);
    ev_init(&t->tm, task_timer_cb);
    t->started = 1;
    task_resume(w, t, 0);
}

/* A client-first request is readable (or timed out) before it had a
 * coroutine. */
static void first_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    netsrv__task *t = container_of(io, netsrv__task, io);
    task_run(t->w, t);
}

static void first_timer_cb(struct ev_loop *loop, ev_timer *tm, int revents)
{
    (void)loop;
    (void)revents;
    netsrv__task *t = container_of(tm, netsrv__task, tm);
    task_abort(t->w, t, -ETIMEDOUT);
}

static void start_task(netsrv__worker *w, netsrv_request *req)
{
    netsrv_server *srv = w->srv;
    netsrv__task *t = calloc(1, sizeof *t);
    if (!t) {
        netsrv__report(srv, req, &req->peer, -ENOMEM);
        netsrv__request_close(req);
        netsrv__request_free(req);
        atomic_fetch_sub(&srv->active, 1);
        return;
    }
    t->w = w;
    t->req = req;
    t->next = w->tasks;
    if (w->tasks)
        w->tasks->prev = t;
    w->tasks = t;
    w->ntasks++;
    req->task = t;
    if (w->stopping)
        netsrv__request_drain(req);
    /* A handler that reads first gets its coroutine (and its stack) only
     * once the client has sent something: a silent connection costs its
     * request and this task, nothing more. */
    if ((srv->handler.flags & NETSRV_CLIENT_FIRST) && !req->dgram) {
        ev_io_init(&t->io, first_io_cb, req->fd, EV_READ);
        ev_io_start(w->loop, &t->io);
        double limit = srv->cfg.timeout > 0 ? srv->cfg.timeout : 0;
        if (srv->cfg.request_timeout > 0 && (!limit || srv->cfg.request_timeout < limit))
            limit = srv->cfg.request_timeout;
        if (limit > 0) {
            ev_timer_init(&t->tm, first_timer_cb, limit, 0);
            ev_timer_start(w->loop, &t->tm);
        }
        return;
    }
    task_run(w, t);
}

int netsrv__task_wait(netsrv_request *req, int fd, short events, double deadline)
{
    netsrv__task *t = req->task;
    netsrv__worker *w = t->w;
    if (fd >= 0) {
        int mask = ((events & POLLIN) ? EV_READ : 0) | ((events & POLLOUT) ? EV_WRITE : 0);
        /* ev_io_set marks the fd for an epoll_ctl on the next turn; a
         * watcher started again as it was costs no system call. */
        if (t->io.fd != fd || (t->io.events & (EV_READ | EV_WRITE)) != mask)
            ev_io_set(&t->io, fd, mask);
        ev_io_start(w->loop, &t->io);
    }
    t->deadline = deadline;
    if (deadline < NETSRV__INF) {
        double left = deadline - netsrv__now();
        if (left < 0)
            left = 0;
        /* A running timer that fires no later than this deadline will do
         * (its callback re-arms for the rest); a later one must move. */
        if (ev_is_active(&t->tm) && ev_timer_remaining(w->loop, &t->tm) > left + 0.001)
            ev_timer_stop(w->loop, &t->tm);
        if (!ev_is_active(&t->tm)) {
            ev_timer_set(&t->tm, left, 0);
            ev_timer_start(w->loop, &t->tm);
        }
    }
    t->waiting = 1;
    t->result = 0;
    netsrv__coro_switch(&t->co, &w->main, 0);
    t->waiting = 0;
    ev_io_stop(w->loop, &t->io);
    return t->result;
}

/* ---- accepting ---- */

static int below_cap(netsrv__worker *w)
{
    return atomic_load(&w->srv->active) < w->srv->cfg.max_conns;
}

static void accept_pause(netsrv__worker *w)
{
    if (w->paused)
        return;
    w->paused = 1;
    ev_io_stop(w->loop, &w->accept_w);
    ev_timer_set(&w->pause_w, PAUSE_SECS, PAUSE_SECS);
    ev_timer_start(w->loop, &w->pause_w);
}

static void accept_resume(netsrv__worker *w)
{
    if (!below_cap(w) || (w->one_shot && w->taken))
        return;
    w->paused = 0;
    ev_timer_stop(w->loop, &w->pause_w);
    ev_io_start(w->loop, &w->accept_w);
}

static void pause_cb(struct ev_loop *loop, ev_timer *tm, int revents)
{
    (void)loop;
    (void)revents;
    accept_resume(container_of(tm, netsrv__worker, pause_w));
}

static void take(netsrv__worker *w, netsrv_request *req)
{
    w->taken++;
    if (w->one_shot) {
        ev_io_stop(w->loop, &w->accept_w);
        ev_timer_stop(w->loop, &w->timeout_w);
    }
    start_task(w, req);
}

static void accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    netsrv__worker *w = container_of(io, netsrv__worker, accept_w);
    netsrv_server *srv = w->srv;
    (void)loop;
    (void)revents;
    for (int i = 0; i < ACCEPTS_PER_WAKE && !w->paused && !w->stopping; i++) {
        if (!below_cap(w)) { /* at max_conns: stop accepting until a slot frees */
            accept_pause(w);
            return;
        }
        if (w->one_shot && w->taken)
            return;
        netsrv_addr peer;
        peer.len = sizeof peer.ss;
        if (srv->socktype == SOCK_DGRAM) {
            ssize_t n = recvfrom(w->lfd, w->pktbuf, srv->cfg.max_packet + 1,
                                 MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&peer.ss, &peer.len);
            if (n < 0)
                return;
            netsrv_request *req = netsrv__admit_dgram(srv, w->lfd, &peer, w->pktbuf, (size_t)n);
            if (req)
                take(w, req);
            continue;
        }
        int fd = accept4(w->lfd, (struct sockaddr *)&peer.ss, &peer.len,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED)
                continue;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                netsrv__refuse_with_spare(w->lfd, &w->sparefd);
                netsrv__report(srv, NULL, NULL, -e);
                if (w->sparefd < 0) /* not even the reserve: wait a little */
                    accept_pause(w);
            }
            return;
        }
        netsrv_request *req = netsrv__admit_stream(srv, fd, &peer);
        if (req)
            take(w, req);
    }
}

/* ---- shutdown ---- */

static void drain_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    netsrv__worker *w = container_of(io, netsrv__worker, drain_w);
    (void)revents;
    /* The eventfd stays readable for every loop: stop watching it. */
    ev_io_stop(loop, &w->drain_w);
    ev_io_stop(loop, &w->accept_w);
    ev_timer_stop(loop, &w->pause_w);
    ev_timer_stop(loop, &w->tick_w);
    ev_timer_stop(loop, &w->timeout_w);
    w->stopping = 1;
    w->srv->stop = 1;
    /* Every request gets its drain deadline; parked ones wake to re-arm
     * their waits with it. */
    for (netsrv__task *t = w->tasks, *next; t; t = next) {
        next = t->next;
        if (!t->started) { /* silent so far: nothing in flight to finish */
            task_abort(w, t, 0);
            continue;
        }
        netsrv__request_drain(t->req);
        if (t->waiting)
            task_resume(w, t, 0);
    }
    if (w->ntasks == 0)
        ev_break(loop, EVBREAK_ALL);
}

static void tick_cb(struct ev_loop *loop, ev_timer *tm, int revents)
{
    netsrv__worker *w = container_of(tm, netsrv__worker, tick_w);
    (void)loop;
    (void)revents;
    if (w->srv->cfg.hooks.service_actions)
        w->srv->cfg.hooks.service_actions(w->srv, w->srv->cfg.hooks.ctx);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *tm, int revents)
{
    netsrv__worker *w = container_of(tm, netsrv__worker, timeout_w);
    (void)revents;
    if (!w->taken) {
        w->timed_out = 1;
        ev_break(loop, EVBREAK_ALL);
    }
}

/* ---- loops ---- */

static int worker_init(netsrv__worker *w, netsrv_server *srv, int index)
{
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->lfd = srv->fd;
    if (index > 0) { /* a socket of its own if it can; else share */
        int fd = netsrv__listen_clone(srv);
        if (fd >= 0)
            w->lfd = fd;
    }
    w->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* not the default loop: it would take SIGCHLD from the application */
    w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!w->loop)
        return -ENOMEM;
    if (srv->socktype == SOCK_DGRAM && !(w->pktbuf = malloc(srv->cfg.max_packet + 1)))
        return -ENOMEM;
    ev_io_init(&w->accept_w, accept_cb, w->lfd, EV_READ);
    ev_io_init(&w->drain_w, drain_cb, srv->drainfd, EV_READ);
    ev_init(&w->pause_w, pause_cb);
    ev_init(&w->tick_w, tick_cb);
    ev_init(&w->timeout_w, timeout_cb);
    ev_io_start(w->loop, &w->accept_w);
    ev_io_start(w->loop, &w->drain_w);
    return 0;
}

static void worker_fini(netsrv__worker *w)
{
    while (w->nstacks)
        netsrv__coro_free(&w->stacks[--w->nstacks]);
    while (w->nrbufs)
        free(w->rbufs[--w->nrbufs]);
    if (w->loop)
        ev_loop_destroy(w->loop);
    if (w->sparefd >= 0)
        close(w->sparefd);
    if (w->lfd != w->srv->fd && w->lfd >= 0)
        close(w->lfd);
    free(w->pktbuf);
}

static void *worker_thread(void *arg)
{
    netsrv__worker *w = arg;
    ev_run(w->loop, 0);
    return NULL;
}

static int async_serve(netsrv_server *srv, double poll_interval)
{
    unsigned n = srv->cfg.workers ? srv->cfg.workers : 1;
    netsrv__worker *ws = calloc(n, sizeof *ws);
    int rc = 0;
    unsigned started = 0;
    if (!ws)
        return -ENOMEM;
    netsrv__reset_drain(srv);
    /* A shutdown that came between serve_forever's check of the flag and
     * the reset above lost its wake-up: the flag tells, so post it again. */
    if (srv->stop)
        netsrv_shutdown(srv);
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = worker_init(&ws[i], srv, (int)i);
    if (rc == 0 && poll_interval > 0 && srv->cfg.hooks.service_actions) {
        ev_timer_set(&ws[0].tick_w, poll_interval, poll_interval);
        ev_timer_start(ws[0].loop, &ws[0].tick_w);
    }
    if (rc == 0) {
        /* Extra loops' threads block signals: they go to the caller's. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (started = 1; started < n; started++)
            if ((rc = -pthread_create(&ws[started].tid, NULL, worker_thread, &ws[started])) != 0)
                break;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) /* could not start them all: stop the ones that run */
            netsrv_shutdown(srv);
        ev_run(ws[0].loop, 0);
        for (unsigned i = 1; i < started; i++)
            pthread_join(ws[i].tid, NULL);
    }
    for (unsigned i = 0; i < n; i++)
        worker_fini(&ws[i]);
    free(ws);
    srv->stop = 0;
    return rc;
}

static int async_handle_one(netsrv_server *srv)
{
    netsrv__worker w;
    netsrv__reset_drain(srv); /* as the other modes' handle_request */
    int rc = worker_init(&w, srv, 0);
    if (rc == 0) {
        w.one_shot = 1;
        if (srv->cfg.server_timeout > 0) {
            ev_timer_set(&w.timeout_w, srv->cfg.server_timeout, 0);
            ev_timer_start(w.loop, &w.timeout_w);
        }
        ev_run(w.loop, 0);
        if (w.timed_out)
            rc = srv->cfg.hooks.handle_timeout
                     ? srv->cfg.hooks.handle_timeout(srv, srv->cfg.hooks.ctx)
                     : -ETIMEDOUT;
    }
    worker_fini(&w);
    return rc;
}

static void async_process(netsrv_server *srv, netsrv_request *req)
{
    (void)srv;
    (void)req; /* requests are taken by the loops themselves */
}

static void async_close(netsrv_server *srv, double deadline)
{
    (void)srv;
    (void)deadline; /* the loops finish their requests before serve returns */
}

const netsrv__mode_ops netsrv__mode_async = {
    .process = async_process,
    .close = async_close,
    .serve = async_serve,
    .handle_one = async_handle_one,
};
