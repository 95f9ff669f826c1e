/* request.c - one request's life: a connection the server took, a task
 * that runs setup, handle and finish on it, then the connection's close.
 * Which task (a coroutine on a loop, or the thread or process that runs
 * it) is the mode's choice; nothing here depends on it. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

netsrv__req *netsrv__req_new(netsrv_server *srv, int fd, const netsrv_addr *peer, int dgram)
{
    size_t ss = srv->handler.state_size;
    /* The state lives right after the request, aligned for any type. */
    size_t head = (sizeof(netsrv__req) + 15) & ~(size_t)15;
    netsrv__req *req = calloc(1, head + ss);
    if (!req)
        return NULL;
    netsrv_conn *c = &req->conn;
    netsrv__conn_init(c, fd, dgram, &req->task);
    c->srv = srv;
    c->peer = *peer;
    c->timeout = srv->cfg.timeout;
    c->linger = srv->cfg.linger;
    c->rbufsize = srv->cfg.rbufsize;
    c->wbufsize = srv->cfg.wbufsize;
    c->max_packet = srv->cfg.max_packet;
    c->end_deadline = srv->cfg.request_timeout > 0 ? netsrv__now() + srv->cfg.request_timeout
                                                   : NETSRV__INF;
    /* A datagram request answers on the server's own socket, which stays
     * non-blocking for everyone else. */
    c->blocking = !dgram && srv->ops->blocking;
    if (c->blocking && c->timeout > 0)
        netsrv__conn_set_sock_timeout(c, c->timeout);
    req->cut_at = NETSRV__INF;
    req->state = ss ? (char *)req + head : NULL;
    return req;
}

static void req_end_conn(netsrv__req *req)
{
    netsrv__conn_close(&req->conn);
    netsrv__ip_release(req->conn.srv, &req->ip);
    req->ip.valid = 0;
}

static void req_main(netsrv_task *t)
{
    netsrv__req *req = container_of(t, netsrv__req, task);
    netsrv_conn *c = &req->conn;
    netsrv_server *srv = c->srv;
    const netsrv_handler *h = &srv->handler;
    int rc = 0;
    if (!req->set_up) {
        if (h->setup)
            rc = h->setup(c);
        req->set_up = rc >= 0;
    }
    if (req->set_up) {
        while ((rc = h->handle(c)) == NETSRV_AGAIN) {
            if ((rc = netsrv_flush(c)) < 0)
                break;
            if (c->rpos < c->rlen)
                continue; /* a pipelined request is here already */
            if (c->eof) {
                rc = 0;
                break;
            }
            if (t->loop) {
                /* A member's queue (its own replies sent with
                 * netsrv_group_send_to too) goes out before it idles:
                 * a wake-up taken meanwhile would find it running. */
                if (c->member) {
                    atomic_exchange(&t->wakes, 0);
                    int d = netsrv__member_deliver(c);
                    if (d < 0) {
                        rc = d;
                        break;
                    }
                    t->again_write = d > 0;
                }
                /* Wait for the next request with no stack and no buffers. */
                netsrv__conn_idle(c);
                free(c->wbuf);
                c->wbuf = NULL;
                c->wcap = 0;
                c->rdrained = 0;
                netsrv__task_again_on_input(t, c->fd, c->timeout);
                return;
            }
            /* Blocking modes wait here, not in the handler's read, so that
             * a shutdown ends a connection between requests at once.  A
             * group member waits as its reads do, delivering its queue. */
            if (c->member) {
                if ((rc = netsrv__conn_wait(c, POLLIN)) < 0)
                    break;
                continue;
            }
            double until = c->timeout > 0 ? netsrv__now() + c->timeout : NETSRV__INF;
            if (c->end_deadline < until)
                until = c->end_deadline;
            int why = netsrv__task_wait(t, c->fd, POLLIN, until, NETSRV__NOWAKE | NETSRV__IDLE);
            if (why != NETSRV_WAIT_READY) {
                rc = why < 0 ? why : 0;
                break;
            }
        }
        if (h->finish)
            h->finish(c);
        req->set_up = 0;
    }
    if (rc < 0)
        netsrv__report(srv, c, &c->peer, rc);
    req->rc = rc;
    req_end_conn(req);
}

static void req_abort(netsrv_task *t, int err)
{
    netsrv__req *req = container_of(t, netsrv__req, task);
    const netsrv_handler *h = &req->conn.srv->handler;
    if (req->set_up) {
        /* between two requests of a kept connection: an idle timeout or a
         * drain ends it, as an end of stream would */
        if (h->finish)
            h->finish(&req->conn);
        req->set_up = 0;
        err = 0;
    }
    if (err)
        netsrv__report(req->conn.srv, &req->conn, &req->conn.peer, err);
    req->conn.linger = 0; /* nothing was read, nothing answered */
    req_end_conn(req);
}

static void req_free(netsrv_task *t)
{
    netsrv__req *req = container_of(t, netsrv__req, task);
    netsrv__conn_fini(&req->conn);
    free(req);
}

/* A group member idle between requests (NETSRV_AGAIN) on a loop: a new
 * message goes out from here, with no stack, and the member keeps
 * waiting for input; a full socket adds writability to that wait.  Only a
 * member that was cut off (or whose socket failed) starts, so that its
 * handler finds out. */
static int req_kick(netsrv_task *t)
{
    netsrv__req *req = container_of(t, netsrv__req, task);
    netsrv_conn *c = &req->conn;
    if (!c->member)
        return 1;
    atomic_exchange(&t->wakes, 0);
    int d = netsrv__member_deliver(c);
    if (d < 0)
        return 1;
    netsrv__task_armed_write(t, d > 0);
    return 0;
}

void netsrv__req_task(netsrv__req *req, netsrv__loop *loop)
{
    netsrv__task_init(&req->task, loop);
    req->task.fn = req_main;
    req->task.on_abort = req_abort;
    req->task.free_fn = req_free;
    req->task.on_kick = req_kick;
}

void netsrv__req_drop(netsrv__req *req)
{
    req->conn.linger = 0;
    req_end_conn(req);
    netsrv__conn_fini(&req->conn);
    free(req);
}

int netsrv_sleep(netsrv_request *c, double seconds)
{
    double end = netsrv__now() + (seconds > 0 ? seconds : 0);
    double until = end < c->end_deadline ? end : c->end_deadline;
    int why = netsrv__task_wait(c->task, -1, 0, until, NETSRV__NOWAKE);
    if (why == NETSRV_WAIT_TIMEOUT)
        return until < end ? -ETIMEDOUT : 0;
    if (why == NETSRV_WAIT_DRAINED)
        return -ECANCELED;
    return why < 0 ? why : 0;
}

netsrv_server *netsrv_request_server(const netsrv_request *c) { return c->srv; }
void *netsrv_request_ctx(const netsrv_request *c) { return c->srv ? c->srv->handler.ctx : NULL; }
void *netsrv_request_state(const netsrv_request *c)
{
    return c->srv ? netsrv__req_of(c)->state : NULL;
}
const netsrv_addr *netsrv_request_peer(const netsrv_request *c) { return &c->peer; }
int netsrv_request_is_dgram(const netsrv_request *c) { return c->dgram; }

void netsrv_request_set_timeout(netsrv_request *c, double seconds)
{
    c->timeout = seconds > 0 ? seconds : 0;
    if (c->blocking)
        netsrv__conn_set_sock_timeout(c, c->timeout);
}
