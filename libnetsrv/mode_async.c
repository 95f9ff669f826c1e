/* mode_async.c - the async mode: a server on task loops (loop.c, task.c).
 * Each loop takes clients through the one accept path (accept.c) and runs
 * every request as a coroutine task, so the handler source of the blocking
 * modes runs unchanged.  With workers > 1 each loop runs in its own thread
 * with its own SO_REUSEPORT socket where it can have one. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPTS_PER_WAKE 64 /* bounded so one busy listener cannot starve I/O */
#define PAUSE_SECS 0.05     /* recheck interval while accepting is paused */

typedef struct netsrv__worker {
    netsrv_server *srv;
    netsrv__loop loop;
    ev_io accept_w;       /* the listener (or the datagram socket) */
    ev_io drain_w;        /* the drain eventfd: shutdown began */
    ev_timer tick_w;      /* service_actions every poll_interval */
    ev_timer pause_w;     /* accepting paused: at max_conns or out of fds */
    ev_timer timeout_w;   /* handle_request's server_timeout */
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
} netsrv__worker;

static netsrv__worker *worker_of(netsrv__loop *l) { return l->owner; }

/* ---- requests ---- */

static void accept_resume(netsrv__worker *w);

static void loop_empty(netsrv__loop *l)
{
    netsrv__worker *w = worker_of(l);
    if (w->stopping || (w->one_shot && w->taken))
        ev_break(l->ev, EVBREAK_ALL);
}

static void request_ended(netsrv_task *t)
{
    netsrv__worker *w = worker_of(t->loop);
    atomic_fetch_sub(&w->srv->active, 1);
    if (w->paused && !w->stopping)
        accept_resume(w);
}

static void start_request(netsrv__worker *w, netsrv__req *req)
{
    netsrv_server *srv = w->srv;
    netsrv__req_task(req, &w->loop);
    req->task.on_end = request_ended;
    /* A handler that reads first gets its coroutine (and its stack) only
     * once the client has sent something. */
    if ((srv->handler.flags & NETSRV_CLIENT_FIRST) && !req->conn.dgram) {
        double limit = srv->cfg.timeout > 0 ? srv->cfg.timeout : 0;
        if (srv->cfg.request_timeout > 0 && (!limit || srv->cfg.request_timeout < limit))
            limit = srv->cfg.request_timeout;
        netsrv__task_start_on_input(&req->task, req->conn.fd, limit);
        return;
    }
    int rc = netsrv__task_start(&req->task);
    if (rc < 0)
        netsrv__task_abort(&req->task, rc);
}

/* ---- accepting ---- */

static void accept_pause(netsrv__worker *w)
{
    if (w->paused)
        return;
    w->paused = 1;
    ev_io_stop(w->loop.ev, &w->accept_w);
    ev_timer_set(&w->pause_w, PAUSE_SECS, PAUSE_SECS);
    ev_timer_start(w->loop.ev, &w->pause_w);
}

static void accept_resume(netsrv__worker *w)
{
    if (atomic_load(&w->srv->active) >= w->srv->cfg.max_conns || (w->one_shot && w->taken))
        return;
    w->paused = 0;
    ev_timer_stop(w->loop.ev, &w->pause_w);
    ev_io_start(w->loop.ev, &w->accept_w);
}

static void pause_cb(struct ev_loop *ev, ev_timer *tm, int revents)
{
    (void)ev;
    (void)revents;
    accept_resume(container_of(tm, netsrv__worker, pause_w));
}

static void accept_cb(struct ev_loop *ev, ev_io *io, int revents)
{
    netsrv__worker *w = container_of(io, netsrv__worker, accept_w);
    (void)ev;
    (void)revents;
    for (int i = 0; i < ACCEPTS_PER_WAKE && !w->paused && !w->stopping; i++) {
        if (w->one_shot && w->taken)
            return;
        netsrv__req *req;
        switch (netsrv__take(w->srv, w->lfd, w->pktbuf, &w->sparefd, &req)) {
        case NETSRV__TAKEN:
            w->taken++;
            if (w->one_shot) {
                ev_io_stop(w->loop.ev, &w->accept_w);
                ev_timer_stop(w->loop.ev, &w->timeout_w);
            }
            start_request(w, req);
            break;
        case NETSRV__SKIPPED:
            break;
        case NETSRV__PAUSE:
            accept_pause(w);
            return;
        default:
            return;
        }
    }
}

/* ---- shutdown ---- */

static void drain_cb(struct ev_loop *ev, ev_io *io, int revents)
{
    netsrv__worker *w = container_of(io, netsrv__worker, drain_w);
    netsrv_server *srv = w->srv;
    (void)revents;
    /* The eventfd stays readable for every loop: stop watching it. */
    ev_io_stop(ev, &w->drain_w);
    ev_io_stop(ev, &w->accept_w);
    ev_timer_stop(ev, &w->pause_w);
    ev_timer_stop(ev, &w->tick_w);
    ev_timer_stop(ev, &w->timeout_w);
    w->stopping = 1;
    atomic_store(&srv->stop, 1);
    /* Every request gets its drain deadline; parked ones wake to re-arm
     * their waits with it.  Silent ones have nothing in flight to finish. */
    double deadline = srv->cfg.drain >= 0 ? netsrv__now() + srv->cfg.drain : NETSRV__INF;
    for (netsrv_task *t = w->loop.tasks, *next; t; t = next) {
        next = t->next;
        if (!t->started)
            netsrv__task_abort(t, 0);
        else
            netsrv__task_drain(t, deadline);
    }
    if (w->loop.ntasks == 0)
        ev_break(ev, EVBREAK_ALL);
}

static void tick_cb(struct ev_loop *ev, ev_timer *tm, int revents)
{
    netsrv__worker *w = container_of(tm, netsrv__worker, tick_w);
    (void)ev;
    (void)revents;
    if (w->srv->cfg.hooks.service_actions)
        w->srv->cfg.hooks.service_actions(w->srv, w->srv->cfg.hooks.ctx);
}

static void timeout_cb(struct ev_loop *ev, ev_timer *tm, int revents)
{
    netsrv__worker *w = container_of(tm, netsrv__worker, timeout_w);
    (void)revents;
    if (!w->taken) {
        w->timed_out = 1;
        ev_break(ev, EVBREAK_ALL);
    }
}

/* ---- loops ---- */

/* Every field worker_fini looks at is valid before any init can fail. */
static void worker_blank(netsrv__worker *w, netsrv_server *srv)
{
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->lfd = -1;
    w->sparefd = -1;
}

static int worker_init(netsrv__worker *w, int index)
{
    netsrv_server *srv = w->srv;
    w->lfd = srv->fd;
    if (index > 0) { /* a socket of its own if it can; else share */
        int fd = netsrv__listen_clone(srv);
        if (fd >= 0)
            w->lfd = fd;
    }
    w->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int rc = netsrv__loop_init(&w->loop, srv->cfg.stack_size, srv->cfg.rbufsize);
    if (rc < 0)
        return rc;
    w->loop.owner = w;
    w->loop.on_empty = loop_empty;
    if (srv->socktype == SOCK_DGRAM && !(w->pktbuf = malloc(srv->cfg.max_packet + 1)))
        return -ENOMEM;
    ev_io_init(&w->accept_w, accept_cb, w->lfd, EV_READ);
    ev_io_init(&w->drain_w, drain_cb, srv->drainfd, EV_READ);
    ev_init(&w->pause_w, pause_cb);
    ev_init(&w->tick_w, tick_cb);
    ev_init(&w->timeout_w, timeout_cb);
    ev_io_start(w->loop.ev, &w->accept_w);
    ev_io_start(w->loop.ev, &w->drain_w);
    return 0;
}

static void worker_fini(netsrv__worker *w)
{
    if (w->loop.ev) {
        ev_io_stop(w->loop.ev, &w->accept_w);
        ev_io_stop(w->loop.ev, &w->drain_w);
        ev_timer_stop(w->loop.ev, &w->pause_w);
        ev_timer_stop(w->loop.ev, &w->tick_w);
        ev_timer_stop(w->loop.ev, &w->timeout_w);
    }
    netsrv__loop_fini(&w->loop);
    if (w->sparefd >= 0)
        close(w->sparefd);
    if (w->lfd >= 0 && w->lfd != w->srv->fd)
        close(w->lfd);
    free(w->pktbuf);
    w->sparefd = w->lfd = -1;
    w->pktbuf = NULL;
}

static void *worker_thread(void *arg)
{
    netsrv__worker *w = arg;
    netsrv__sigpipe_thread_blocked(1); /* started with every signal blocked */
    netsrv__loop_run(&w->loop);
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
    for (unsigned i = 0; i < n; i++)
        worker_blank(&ws[i], srv);
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = worker_init(&ws[i], (int)i);
    if (rc == 0 && poll_interval > 0 && srv->cfg.hooks.service_actions) {
        ev_timer_set(&ws[0].tick_w, poll_interval, poll_interval);
        ev_timer_start(ws[0].loop.ev, &ws[0].tick_w);
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
        /* SIGPIPE stays blocked in the caller's thread while it serves, so
         * sendfile needs no mask changes per call. */
        sigset_t mask;
        int held = netsrv__sigpipe_hold(&mask);
        netsrv__loop_run(&ws[0].loop);
        netsrv__sigpipe_release(held, &mask);
        for (unsigned i = 1; i < started; i++)
            pthread_join(ws[i].tid, NULL);
    }
    for (unsigned i = 0; i < n; i++)
        worker_fini(&ws[i]);
    free(ws);
    atomic_store(&srv->stop, 0);
    return rc;
}

static int async_handle_one(netsrv_server *srv)
{
    netsrv__worker w;
    worker_blank(&w, srv);
    int rc = worker_init(&w, 0);
    if (rc == 0) {
        w.one_shot = 1;
        if (srv->cfg.server_timeout > 0) {
            ev_timer_set(&w.timeout_w, srv->cfg.server_timeout, 0);
            ev_timer_start(w.loop.ev, &w.timeout_w);
        }
        sigset_t mask;
        int held = netsrv__sigpipe_hold(&mask);
        netsrv__loop_run(&w.loop);
        netsrv__sigpipe_release(held, &mask);
        if (w.timed_out)
            rc = srv->cfg.hooks.handle_timeout
                     ? srv->cfg.hooks.handle_timeout(srv, srv->cfg.hooks.ctx)
                     : -ETIMEDOUT;
    }
    worker_fini(&w);
    return rc;
}

static void async_process(netsrv_server *srv, netsrv__req *req)
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
