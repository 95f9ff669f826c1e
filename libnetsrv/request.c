/* request.c - one request's life (setup, handle, finish, close) and the
 * single place where a request waits for its socket.  Every blocking
 * stream call goes through netsrv__wait, which is what lets another mode
 * replace blocking waits without touching handler code. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

netsrv_request *netsrv__request_new(netsrv_server *srv, int fd, const netsrv_addr *peer,
                                    int dgram)
{
    size_t ss = srv->handler.state_size;
    /* The state lives right after the request, aligned for any type. */
    size_t head = (sizeof(netsrv_request) + 15) & ~(size_t)15;
    netsrv_request *req = calloc(1, head + ss);
    if (!req)
        return NULL;
    req->srv = srv;
    req->fd = fd;
    req->dgram = dgram;
    req->peer = *peer;
    req->timeout = srv->cfg.timeout;
    req->drain_deadline = NETSRV__INF;
    req->end_deadline = srv->cfg.request_timeout > 0 ? netsrv__now() + srv->cfg.request_timeout
                                                     : NETSRV__INF;
    req->state = ss ? (char *)req + head : NULL;
    return req;
}

void netsrv__request_free(netsrv_request *req)
{
    if (!req)
        return;
    free(req->rbuf);
    free(req->wbuf);
    free(req);
}

/* socketserver's shutdown_request: flush what is left (a peer that went
 * away is no error here, bpo-14574), half-close so the peer sees end of
 * stream, close. */
static void end_request(netsrv_request *req)
{
    if (req->dgram) {
        netsrv__dgram_end(req);
        return;
    }
    netsrv__flush_quiet(req);
    shutdown(req->fd, SHUT_WR);
    close(req->fd);
    req->fd = -1;
}

int netsrv__request_run(netsrv_request *req)
{
    netsrv_server *srv = req->srv;
    const netsrv_handler *h = &srv->handler;
    int rc = 0;
    if (h->setup)
        rc = h->setup(req);
    if (rc >= 0) {
        rc = h->handle(req);
        if (h->finish)
            h->finish(req);
    }
    if (rc < 0)
        netsrv__report(srv, req, &req->peer, rc);
    netsrv__request_close(req);
    return rc < 0 ? rc : 0;
}

void netsrv__request_close(netsrv_request *req)
{
    end_request(req);
    netsrv__ip_release(req->srv, &req->ip);
}

/* The server's shutdown has begun (its drain eventfd became readable):
 * from now on the request has cfg.drain seconds to finish. */
void netsrv__request_drain(netsrv_request *req)
{
    if (req->draining)
        return;
    req->draining = 1;
    if (req->srv->cfg.drain >= 0)
        req->drain_deadline = netsrv__now() + req->srv->cfg.drain;
}

/* Polls fd (or nothing when fd < 0) together with the drain eventfd until
 * deadline; returns 1 when fd is ready, 0 otherwise, or a negative errno. */
static int wait_until(netsrv_request *req, int fd, short events, double deadline)
{
    for (;;) {
        if (req->drain_deadline < deadline)
            deadline = req->drain_deadline;
        int ms = netsrv__ms_until(deadline);
        if (ms == 0)
            return 0;
        if (req->task) { /* async: park the coroutine, the loop wakes it */
            int r = netsrv__task_wait(req, fd, events, deadline);
            if (r != 0)
                return r;
            continue;
        }
        struct pollfd p[2];
        int n = 0, drain_at = -1;
        if (fd >= 0)
            p[n++] = (struct pollfd){ .fd = fd, .events = events };
        if (!req->draining) { /* it stays readable once posted: poll it once */
            drain_at = n;
            p[n++] = (struct pollfd){ .fd = req->srv->drainfd, .events = POLLIN };
        }
        int r = poll(p, (nfds_t)n, ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (drain_at >= 0 && p[drain_at].revents)
            netsrv__request_drain(req);
        if (fd >= 0 && p[0].revents)
            return 1;
    }
}

int netsrv__wait(netsrv_request *req, int fd, short events, int idle)
{
    double idle_deadline = idle && req->timeout > 0 ? netsrv__now() + req->timeout
                                                    : NETSRV__INF;
    if (idle && req->end_deadline < idle_deadline)
        idle_deadline = req->end_deadline;
    int r = wait_until(req, fd, events, idle_deadline);
    if (r != 0)
        return r < 0 ? r : 0;
    return req->drain_deadline <= idle_deadline ? -ECANCELED : -ETIMEDOUT;
}

int netsrv_sleep(netsrv_request *req, double seconds)
{
    double end = netsrv__now() + (seconds > 0 ? seconds : 0);
    int r = wait_until(req, -1, 0, end);
    if (r < 0)
        return r;
    return req->drain_deadline < end ? -ECANCELED : 0;
}

netsrv_server *netsrv_request_server(const netsrv_request *req) { return req->srv; }
void *netsrv_request_ctx(const netsrv_request *req) { return req->srv->handler.ctx; }
void *netsrv_request_state(const netsrv_request *req) { return req->state; }
const netsrv_addr *netsrv_request_peer(const netsrv_request *req) { return &req->peer; }
int netsrv_request_is_dgram(const netsrv_request *req) { return req->dgram; }

void netsrv_request_set_timeout(netsrv_request *req, double seconds)
{
    req->timeout = seconds > 0 ? seconds : 0;
}
