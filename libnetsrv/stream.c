/* stream.c - the request's buffered stream (socketserver's rfile/wfile).
 * Sockets are non-blocking; a call that cannot go on waits in
 * netsrv__wait.  Output is buffered and flushed before any input wait, so
 * a request/response handler never deadlocks on a forgotten flush. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static ssize_t send_all(netsrv_request *req, const char *p, size_t len)
{
    size_t done = 0;
    while (done < len) {
        /* MSG_NOSIGNAL: a vanished peer is an EPIPE, never a SIGPIPE. */
        ssize_t n = send(req->fd, p + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = netsrv__wait(req, req->fd, POLLOUT, 1);
            if (r < 0)
                return r;
            continue;
        }
        return n < 0 ? -errno : -EPIPE;
    }
    return (ssize_t)len;
}

int netsrv_flush(netsrv_request *req)
{
    if (req->dgram || req->wlen == 0)
        return 0;
    ssize_t r = send_all(req, req->wbuf, req->wlen);
    req->wlen = 0;
    return r < 0 ? (int)r : 0;
}

int netsrv__flush_quiet(netsrv_request *req)
{
    int r = netsrv_flush(req);
    return (r == -EPIPE || r == -ECONNRESET) ? 0 : r;
}

/* Makes input available: returns the bytes buffered, 0 at end of stream,
 * or a negative errno.  After a recv that emptied the socket the next
 * one waits for readiness first: in a request/response exchange the
 * answer is not there yet, and a recv bound to fail would be wasted. */
static ssize_t fill(netsrv_request *req)
{
    if (req->rpos < req->rlen)
        return (ssize_t)(req->rlen - req->rpos);
    if (req->eof || req->dgram) /* a datagram is read once, then ends */
        return 0;
    int r = netsrv_flush(req);
    if (r < 0)
        return r;
    for (;;) {
        if (req->rdrained) {
            if (req->task)
                netsrv__task_idle(req);
            if ((r = netsrv__wait(req, req->fd, POLLIN, 1)) < 0)
                return r;
            req->rdrained = 0;
        }
        if (!req->rbuf) {
            req->rcap = req->srv->cfg.rbufsize;
            req->rbuf = req->task ? netsrv__task_rbuf(req) : malloc(req->rcap);
            if (!req->rbuf)
                return -ENOMEM;
        }
        ssize_t n = recv(req->fd, req->rbuf, req->rcap, 0);
        if (n > 0) {
            req->rpos = 0;
            req->rlen = (size_t)n;
            req->rdrained = (size_t)n < req->rcap;
            return n;
        }
        if (n == 0) {
            req->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        req->rdrained = 1;
    }
}

ssize_t netsrv_peek(netsrv_request *req, const void **data)
{
    ssize_t n = fill(req);
    *data = n > 0 ? req->rbuf + req->rpos : NULL;
    return n;
}

void netsrv_consume(netsrv_request *req, size_t len)
{
    size_t avail = req->rlen - req->rpos;
    req->rpos += len < avail ? len : avail;
}

ssize_t netsrv_read(netsrv_request *req, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    ssize_t n = fill(req);
    if (n <= 0)
        return n;
    size_t k = (size_t)n < len ? (size_t)n : len;
    memcpy(buf, req->rbuf + req->rpos, k);
    req->rpos += k;
    return (ssize_t)k;
}

ssize_t netsrv_readline(netsrv_request *req, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = fill(req);
        if (n < 0)
            return got ? (ssize_t)got : n;
        if (n == 0)
            break;
        size_t want = len - got, k = (size_t)n < want ? (size_t)n : want;
        const char *src = req->rbuf + req->rpos;
        const char *nl = memchr(src, '\n', k);
        if (nl)
            k = (size_t)(nl - src) + 1;
        memcpy((char *)buf + got, src, k);
        req->rpos += k;
        got += k;
        if (nl)
            break;
    }
    return (ssize_t)got;
}

ssize_t netsrv_read_exact(netsrv_request *req, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = netsrv_read(req, (char *)buf + got, len - got);
        if (n < 0)
            return n;
        if (n == 0)
            return got ? -EPIPE : 0;
        got += (size_t)n;
    }
    return (ssize_t)len;
}

static int wbuf_reserve(netsrv_request *req, size_t want)
{
    if (req->wcap >= want)
        return 0;
    size_t cap = req->wcap ? req->wcap : 256;
    while (cap < want)
        cap *= 2;
    char *p = realloc(req->wbuf, cap);
    if (!p)
        return -ENOMEM;
    req->wbuf = p;
    req->wcap = cap;
    return 0;
}

ssize_t netsrv_write(netsrv_request *req, const void *buf, size_t len)
{
    if (req->dgram) { /* gathered into one reply datagram */
        if (req->wlen + len > req->srv->cfg.max_packet)
            return -EMSGSIZE;
        if (wbuf_reserve(req, req->wlen + len) < 0)
            return -ENOMEM;
        memcpy(req->wbuf + req->wlen, buf, len);
        req->wlen += len;
        req->wrote = 1;
        return (ssize_t)len;
    }
    size_t limit = req->srv->cfg.wbufsize;
    /* A large write with nothing buffered goes straight out: copying it
     * first would only add a memcpy. */
    if (req->wlen == 0 && len >= 4096)
        return send_all(req, buf, len);
    if (req->wlen + len <= limit) {
        if (wbuf_reserve(req, req->wlen + len) < 0)
            return -ENOMEM;
        memcpy(req->wbuf + req->wlen, buf, len);
        req->wlen += len;
        return (ssize_t)len;
    }
    /* Past the limit: send what is buffered, then this write directly
     * (no copy for large writes). */
    int r = netsrv_flush(req);
    if (r < 0)
        return r;
    return send_all(req, buf, len);
}

int netsrv_vprintf(netsrv_request *req, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return -EINVAL;
    }
    if ((size_t)n < sizeof small) {
        va_end(ap2);
        ssize_t r = netsrv_write(req, small, (size_t)n);
        return r < 0 ? (int)r : n;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        va_end(ap2);
        return -ENOMEM;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    ssize_t r = netsrv_write(req, big, (size_t)n);
    free(big);
    return r < 0 ? (int)r : n;
}

int netsrv_printf(netsrv_request *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = netsrv_vprintf(req, fmt, ap);
    va_end(ap);
    return r;
}

int netsrv_shutdown_write(netsrv_request *req)
{
    if (req->dgram)
        return -ENOTSOCK;
    int r = netsrv_flush(req);
    if (r < 0)
        return r;
    return shutdown(req->fd, SHUT_WR) < 0 ? -errno : 0;
}
