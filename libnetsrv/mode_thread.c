/* mode_thread.c - a thread per request, at most max_conns at once (the
 * serving loop stops accepting at the cap).  Ended threads queue
 * themselves for joining and wake the loop, so none is left unjoined
 * (socketserver's bpo-37193/31233). */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#define THREAD_STACK (256 * 1024)

static void unlink_req(netsrv_request **head, netsrv_request *req)
{
    for (; *head; head = &(*head)->next)
        if (*head == req) {
            *head = req->next;
            return;
        }
}

static void *thread_main(void *arg)
{
    netsrv_request *req = arg;
    netsrv_server *srv = req->srv;
    netsrv__request_run(req);
    pthread_mutex_lock(&srv->lock);
    unlink_req(&srv->threads, req);
    req->next = srv->done;
    srv->done = req;
    pthread_mutex_unlock(&srv->lock);
    atomic_fetch_sub(&srv->active, 1);
    netsrv__wake(srv);
    return NULL;
}

static void thread_process(netsrv_server *srv, netsrv_request *req)
{
    pthread_attr_t attr;
    sigset_t all, old;
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
        netsrv__report(srv, req, &req->peer, -rc);
        close(req->fd);
        netsrv__ip_release(srv, &req->ip);
        netsrv__request_free(req);
        atomic_fetch_sub(&srv->active, 1);
    }
}

static void thread_collect(netsrv_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    netsrv_request *done = srv->done;
    srv->done = NULL;
    pthread_mutex_unlock(&srv->lock);
    while (done) {
        netsrv_request *next = done->next;
        pthread_join(done->tid, NULL);
        netsrv__request_free(done);
        done = next;
    }
}

static int running(netsrv_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    int any = srv->threads != NULL;
    pthread_mutex_unlock(&srv->lock);
    return any;
}

/* Requests have seen the drain eventfd and end by their own deadline;
 * this waits for them (until deadline when not blocking on close, and in
 * any case before the server is freed: see netsrv_server_free). */
static void thread_close(netsrv_server *srv, double deadline)
{
    while (running(srv)) {
        int ms = netsrv__ms_until(deadline);
        if (ms == 0)
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
    .close = thread_close,
};
