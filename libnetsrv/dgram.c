/* dgram.c - datagram requests: the packet is the input, output is gathered
 * into one reply sent to the sender when the request ends.  An empty
 * reply is sent only when asked for (netsrv_reply with no bytes), never by
 * default: a handler that writes nothing answers nothing. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <sys/socket.h>

const void *netsrv_packet(const netsrv_request *req, size_t *len)
{
    if (!req->dgram) {
        *len = 0;
        return NULL;
    }
    *len = req->rlen;
    return req->rbuf;
}

int netsrv_reply(netsrv_request *req, const void *buf, size_t len)
{
    if (!req->dgram)
        return -ENOTSOCK;
    for (;;) {
        ssize_t n = sendto(req->fd, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)&req->peer.ss,
                           req->peer.len);
        if (n >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int r = netsrv__wait(req, req->fd, POLLOUT, 1);
            if (r < 0)
                return r;
            continue;
        }
        return -errno;
    }
    req->replied = 1;
    return 0;
}

void netsrv__dgram_end(netsrv_request *req)
{
    if (req->wrote && !req->replied && req->peer.len > 0) {
        int r = netsrv_reply(req, req->wbuf, req->wlen);
        if (r < 0)
            netsrv__report(req->srv, req, &req->peer, r);
    }
}
