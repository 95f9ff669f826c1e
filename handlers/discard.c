/* discard.c - the discard handler (RFC 863): reads everything, answers
 * nothing; handy as a sink for load tests. */
#include "config.h"
#include <netsrv.h>

static int discard_handle(netsrv_request *req)
{
    for (;;) {
        const void *data;
        ssize_t n = netsrv_peek(req, &data);
        if (n <= 0)
            return (int)n;
        netsrv_consume(req, (size_t)n);
    }
}

const netsrv_handler netsrv__handler_discard = {
    .name = "discard",
    .handle = discard_handle,
    .flags = NETSRV_CLIENT_FIRST,
};
