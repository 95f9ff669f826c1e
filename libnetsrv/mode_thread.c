/* mode_thread.c - a thread per request, at most max_conns at once (the
 * serving loop stops accepting at the cap).  Requests use blocking
 * sockets, so a message costs a recv and a send, no poll; the drain
 * deadline reaches a thread blocked in recv by shutting its socket (and
 * its eventfd, for a thread in sleep or waitpid).  Ended threads queue
 * themselves for joining and wake the loop, so none is left unjoined
 * (socketserver's bpo-37193/31233). */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define THREAD_STACK (256 * 1024)

static void unlink_req(netsrv__req **head, netsrv__req *req)
{
    for (; *head; head = &(*head)->next)
        if (*head == req) {
            *head = req->next;
            return;
        }
}

static void *thread_main(void *arg)
{
    netsrv__req *req = arg;
    netsrv_server *srv = req->conn.srv;
    netsrv__sigpipe_thread_blocked(1); /* started with every signal blocked */
    netsrv__task_run_here(&req->task);
    pthread_mutex_lock(&srv->lock);
    unlink_req(&srv->threads, req);
    req->next = srv->done;
    srv->done = req;
    pthread_cond_broadcast(&srv->cut_cv);
    pthread_mutex_unlock(&srv->lock);
    atomic_fetch_sub(&srv->active, 1);
    netsrv__wake(srv);
    return NULL;
}

static void thread_process(netsrv_server *srv, netsrv__req *req)
{
    pthread_attr_t attr;
    sigset_t all, old;
    netsrv__req_task(req, NULL);
    netsrv_task_ref(&req->task); /* the server's, given back after the join */
    /* Its polling waits (sleep, waitpid, netsrv_wait) see a drain begin at
     * once; a recv or send is cut off by thread_enforce. */
    req->task.drain_fd = srv->drainfd;
    req->task.drain_secs = srv->cfg.drain;
    req->conn.fd_lock = &srv->lock;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    /* Workers block every signal: signals go to the application's own
     * threads, and a worker's calls are not interrupted. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_lock(&srv->lock);
    req->next = srv->threads;
    srv->threads = req;
    int rc = pthread_create(&req->tid, &attr, thread_main, req);
    if (rc != 0)
        unlink_req(&srv->threads, req);
    pthread_mutex_unlock(&srv->lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        /* Only this request is dropped: a datagram's socket is the
         * server's own and stays open. */
        netsrv__report(srv, &req->conn, &req->conn.peer, -rc);
        req->conn.fd_lock = NULL;
        netsrv__req_drop(req);
        atomic_fetch_sub(&srv->active, 1);
    }
}

static void thread_collect(netsrv_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    netsrv__req *done = srv->done;
    srv->done = NULL;
    pthread_mutex_unlock(&srv->lock);
    while (done) {
        netsrv__req *next = done->next;
        pthread_join(done->tid, NULL);
        netsrv__task_unref(&done->task);
        done = next;
    }
}

/* Past its deadline a request is cut off: its waits fail from now on, and
 * a recv or send it is blocked in returns at once, because the socket is
 * shut.  The lock (held by the caller) keeps the fd from being closed and
 * reused meanwhile.  Returns the next deadline. */
static double enforce_locked(netsrv_server *srv)
{
    double next = NETSRV__INF, now = 0;
    for (netsrv__req *r = srv->threads; r; r = r->next) {
        if (r->cut_at >= NETSRV__INF)
            continue;
        if (!now)
            now = netsrv__now();
        if (r->cut_at > now) {
            if (r->cut_at < next)
                next = r->cut_at;
            continue;
        }
        r->cut_at = NETSRV__INF;
        netsrv__task_cancel(&r->task);
        if (!r->conn.dgram && r->conn.fd >= 0)
            shutdown(r->conn.fd, SHUT_RDWR);
    }
    return next;
}

static double thread_enforce(netsrv_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    double next = enforce_locked(srv);
    pthread_mutex_unlock(&srv->lock);
    return next;
}

/* The cutter thread holds the drain deadlines while nobody else may: the
 * caller of a finished serve_forever need not call anything for requests
 * blocked in recv to be cut off in time. */
static void *cutter_main(void *arg)
{
    netsrv_server *srv = arg;
    pthread_mutex_lock(&srv->lock);
    while (!srv->cutter_stop) {
        double next = enforce_locked(srv);
        if (next >= NETSRV__INF)
            break;
        struct timespec ts;
        ts.tv_sec = (time_t)next;
        ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&srv->cut_cv, &srv->lock, &ts);
    }
    srv->cutter_state = 2;
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static void cutter_join(netsrv_server *srv)
{
    pthread_join(srv->cutter, NULL);
    srv->cutter_state = 0;
}

static void thread_drain(netsrv_server *srv, double deadline)
{
    int any = 0;
    pthread_mutex_lock(&srv->lock);
    for (netsrv__req *r = srv->threads; r; r = r->next)
        if (deadline < r->cut_at) {
            r->cut_at = deadline;
            any = 1;
        }
    int state = srv->cutter_state;
    if (any && state == 1)
        pthread_cond_broadcast(&srv->cut_cv); /* an earlier deadline */
    pthread_mutex_unlock(&srv->lock);
    if (!any || state == 1)
        return;
    if (state == 2)
        cutter_join(srv);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_lock(&srv->lock);
    srv->cutter_stop = 0;
    if (pthread_create(&srv->cutter, NULL, cutter_main, srv) == 0)
        srv->cutter_state = 1;
    pthread_mutex_unlock(&srv->lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void thread_fini(netsrv_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    srv->cutter_stop = 1;
    pthread_cond_broadcast(&srv->cut_cv);
    int state = srv->cutter_state;
    pthread_mutex_unlock(&srv->lock);
    if (state)
        cutter_join(srv);
}

static int running(netsrv_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    int any = srv->threads != NULL;
    pthread_mutex_unlock(&srv->lock);
    return any;
}

/* Waits for the requests in flight, cutting each off at its drain
 * deadline, until deadline (in any case before the server is freed: see
 * netsrv_server_free). */
static void thread_close(netsrv_server *srv, double deadline)
{
    while (running(srv)) {
        double until = thread_enforce(srv);
        if (deadline < until)
            until = deadline;
        int ms = netsrv__ms_until(until);
        if (ms == 0 && netsrv__now() >= deadline)
            break;
        struct pollfd p = { .fd = srv->wakefd, .events = POLLIN };
        if (poll(&p, 1, ms) > 0) {
            uint64_t v;
            ssize_t r = read(srv->wakefd, &v, sizeof v);
            (void)r;
        }
        thread_collect(srv);
    }
    thread_collect(srv);
}

const netsrv__mode_ops netsrv__mode_thread = {
    .process = thread_process,
    .collect = thread_collect,
    .drain = thread_drain,
    .enforce = thread_enforce,
    .close = thread_close,
    .fini = thread_fini,
    .blocking = 1,
};
