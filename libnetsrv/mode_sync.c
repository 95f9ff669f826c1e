/* mode_sync.c - one request at a time, run in the serving thread itself
 * (socketserver's plain TCPServer/UDPServer).  Its socket stays
 * non-blocking and its waits watch the drain eventfd: a shutdown asked from
 * a signal handler or the handler itself reaches the request there, since
 * no other thread is left to cut it off. */
#include "config.h"
#include "netsrv_int.h"

static void sync_process(netsrv_server *srv, netsrv__req *req)
{
    netsrv__req_task(req, NULL);
    req->task.drain_fd = srv->drainfd;
    req->task.drain_secs = srv->cfg.drain;
    netsrv__task_run_here(&req->task);
    atomic_fetch_sub(&srv->active, 1);
}

static void sync_close(netsrv_server *srv, double deadline)
{
    (void)srv;
    (void)deadline; /* nothing runs outside the serving thread */
}

const netsrv__mode_ops netsrv__mode_sync = {
    .process = sync_process,
    .close = sync_close,
};
