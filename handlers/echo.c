/* echo.c - the echo handler (RFC 862): every byte back as it comes.  It
 * takes input in place (peek/consume) so it needs no buffer of its own,
 * and for datagrams the same loop echoes the packet as one reply. */
#include "config.h"
#include <netsrv.h>

static int echo_handle(netsrv_request *req)
{
    for (;;) {
        const void *data;
        ssize_t n = netsrv_peek(req, &data);
        if (n <= 0)
            return (int)n;
        /* straight from the input buffer: a copy into the output buffer
         * would gain nothing, the next peek flushes it anyway */
        ssize_t w = netsrv_send(req, data, (size_t)n);
        if (w < 0)
            return (int)w;
        netsrv_consume(req, (size_t)n);
    }
}

const netsrv_handler netsrv__handler_echo = {
    .name = "echo",
    .handle = echo_handle,
    .flags = NETSRV_CLIENT_FIRST,
};
