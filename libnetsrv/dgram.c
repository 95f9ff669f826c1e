/* dgram.c - datagram requests: the packet is the input, output is gathered
 * into one reply sent to the sender when the request ends.  An empty
 * reply is sent only when asked for (netsrv_reply with no bytes), never by
 * default: a handler that writes nothing answers nothing. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <sys/socket.h>

const void *netsrv_packet(const netsrv_conn *c, size_t *len)
{
    if (!c->dgram) {
        *len = 0;
        return NULL;
    }
    *len = c->rlen;
    return c->rbuf;
}

int netsrv_reply(netsrv_conn *c, const void *buf, size_t len)
{
    if (!c->dgram)
        return -ENOTSOCK;
    for (;;) {
        ssize_t n = sendto(c->fd, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)&c->peer.ss,
                           c->peer.len);
        if (n >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int r = netsrv__conn_wait(c, POLLOUT);
            if (r < 0)
                return r;
            continue;
        }
        return -errno;
    }
    c->replied = 1;
    return 0;
}

void netsrv__dgram_end(netsrv_conn *c)
{
    if (c->wrote && !c->replied && c->peer.len > 0) {
        int r = netsrv_reply(c, c->wbuf, c->wlen);
        if (r < 0 && c->srv)
            netsrv__report(c->srv, c, &c->peer, r);
    }
}
