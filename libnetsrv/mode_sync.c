/* mode_sync.c - one request at a time, run in the serving thread itself
 * (socketserver's plain TCPServer/UDPServer). */
#include "config.h"
#include "netsrv_int.h"

static void sync_process(netsrv_server *srv, netsrv_request *req)
{
    netsrv__request_run(req);
    netsrv__request_free(req);
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
