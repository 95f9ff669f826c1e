/* stream.c - the buffered stream on a connection (socketserver's
 * rfile/wfile), for server requests and client connections alike.  A call
 * that cannot go on waits in netsrv__conn_wait (or, on a blocking socket,
 * inside recv/send).  Output is buffered and flushed before any input
 * wait, so a request/response exchange never deadlocks on a forgotten
 * flush. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

/* A group member's half-sent message goes out whole before the
 * connection's own bytes. */
static int member_finish(netsrv_conn *c)
{
    int d;
    while ((d = netsrv__member_deliver(c)) > 0 && netsrv__member_partial(c)) {
        int r = netsrv__conn_wait(c, POLLOUT);
        if (r < 0)
            return r;
    }
    return d < 0 ? d : 0;
}

static ssize_t send_all(netsrv_conn *c, const char *p, size_t len, int more)
{
    size_t done = 0;
    if (c->member) {
        int r = member_finish(c);
        if (r < 0)
            return r;
    }
    if (__builtin_expect(c->io != NULL, 0)) {
        while (done < len) {
            ssize_t n = c->io->send(c, p + done, len - done);
            if (n < 0)
                return n;
            done += (size_t)n;
        }
        return (ssize_t)len;
    }
    while (done < len) {
        /* MSG_NOSIGNAL: a vanished peer is an EPIPE, never a SIGPIPE. */
        if (c->blocking)
            netsrv__conn_arm(c);
        ssize_t n = send(c->fd, p + done, len - done, MSG_NOSIGNAL | more);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = netsrv__conn_wait(c, POLLOUT);
            if (r < 0)
                return r;
            continue;
        }
        return netsrv__conn_io_error(c, n < 0 ? errno : EPIPE);
    }
    return (ssize_t)len;
}

int netsrv_flush(netsrv_conn *c)
{
    if (c->dgram || c->wlen == 0)
        return 0;
    ssize_t r = send_all(c, c->wbuf, c->wlen, 0);
    c->wlen = 0;
    return r < 0 ? (int)r : 0;
}

int netsrv__flush_quiet(netsrv_conn *c)
{
    int r = netsrv_flush(c);
    return (r == -EPIPE || r == -ECONNRESET) ? 0 : r;
}

/* Input through a layer (TLS): it waits for the socket itself, and only
 * when it has no bytes of its own buffered (a TLS record holds more than
 * one recv may take), so rdrained plays no part. */
static ssize_t fill_io(netsrv_conn *c)
{
    if (!netsrv__conn_rbuf(c))
        return -ENOMEM;
    ssize_t n = c->io->recv(c, c->rbuf, c->rcap);
    if (n > 0) {
        c->rpos = 0;
        c->rlen = (size_t)n;
    } else if (n == 0) {
        c->eof = 1;
    }
    return n;
}

/* Makes input available: returns the bytes buffered, 0 at end of stream,
 * or a negative errno.  After a recv that emptied the socket the next
 * one waits for readiness first: in a request/response exchange the
 * answer is not there yet, and a recv bound to fail would be wasted. */
static ssize_t fill(netsrv_conn *c)
{
    if (c->rpos < c->rlen)
        return (ssize_t)(c->rlen - c->rpos);
    if (c->eof || c->dgram) /* a datagram is read once, then ends */
        return 0;
    int r = netsrv_flush(c);
    if (r < 0)
        return r;
    if (__builtin_expect(c->io != NULL, 0))
        return fill_io(c);
    for (;;) {
        /* (never set on a blocking socket: its recv waits by itself) */
        if (c->rdrained) {
            if (c->task && c->task->loop)
                netsrv__conn_idle(c);
            if ((r = netsrv__conn_wait(c, POLLIN)) < 0)
                return r;
            c->rdrained = 0;
        }
        if (!netsrv__conn_rbuf(c))
            return -ENOMEM;
        if (c->blocking)
            netsrv__conn_arm(c);
        ssize_t n = recv(c->fd, c->rbuf, c->rcap, 0);
        if (n > 0) {
            c->rpos = 0;
            c->rlen = (size_t)n;
            c->rdrained = !c->blocking && (size_t)n < c->rcap;
            return n;
        }
        if (n == 0) {
            if (c->blocking && c->task && atomic_load(&c->task->cancelled))
                return -ECANCELED; /* the server shut the socket to cut us off */
            c->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (c->blocking || (errno != EAGAIN && errno != EWOULDBLOCK))
            return netsrv__conn_io_error(c, errno);
        c->rdrained = 1;
    }
}

ssize_t netsrv_peek(netsrv_conn *c, const void **data)
{
    ssize_t n = fill(c);
    *data = n > 0 ? c->rbuf + c->rpos : NULL;
    return n;
}

void netsrv_consume(netsrv_conn *c, size_t len)
{
    size_t avail = c->rlen - c->rpos;
    c->rpos += len < avail ? len : avail;
}

ssize_t netsrv_read(netsrv_conn *c, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    ssize_t n = fill(c);
    if (n <= 0)
        return n;
    size_t k = (size_t)n < len ? (size_t)n : len;
    memcpy(buf, c->rbuf + c->rpos, k);
    c->rpos += k;
    return (ssize_t)k;
}

ssize_t netsrv_readline(netsrv_conn *c, void *buf, size_t len)
{
    return netsrv_getline(c, buf, len, NULL);
}

ssize_t netsrv_getline(netsrv_conn *c, void *buf, size_t len, int *how)
{
    size_t got = 0;
    int end = NETSRV_LINE_LONG;
    while (got < len) {
        ssize_t n = fill(c);
        if (n < 0) {
            end = NETSRV_LINE_EOF; /* what came before the error is the line */
            if (!got)
                return n;
            break;
        }
        if (n == 0) {
            end = NETSRV_LINE_EOF;
            break;
        }
        size_t want = len - got, k = (size_t)n < want ? (size_t)n : want;
        const char *src = c->rbuf + c->rpos;
        const char *nl = memchr(src, '\n', k);
        if (nl)
            k = (size_t)(nl - src) + 1;
        memcpy((char *)buf + got, src, k);
        c->rpos += k;
        got += k;
        if (nl) {
            end = NETSRV_LINE_END;
            break;
        }
    }
    /* len bytes and no newline: long, unless the stream ends right here. */
    if (end == NETSRV_LINE_LONG && how && fill(c) == 0)
        end = NETSRV_LINE_EOF;
    if (how)
        *how = end;
    return (ssize_t)got;
}

ssize_t netsrv_read_exact(netsrv_conn *c, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = netsrv_read(c, (char *)buf + got, len - got);
        if (n < 0)
            return n;
        if (n == 0)
            return got ? -EPIPE : 0;
        got += (size_t)n;
    }
    return (ssize_t)len;
}

static int wbuf_reserve(netsrv_conn *c, size_t want)
{
    if (c->wcap >= want)
        return 0;
    size_t cap = c->wcap ? c->wcap : 256;
    while (cap < want)
        cap *= 2;
    char *p = realloc(c->wbuf, cap);
    if (!p)
        return -ENOMEM;
    c->wbuf = p;
    c->wcap = cap;
    return 0;
}

ssize_t netsrv_write(netsrv_conn *c, const void *buf, size_t len)
{
    if (c->dgram) { /* gathered into one reply datagram */
        if (c->wlen + len > c->max_packet)
            return -EMSGSIZE;
        if (wbuf_reserve(c, c->wlen + len) < 0)
            return -ENOMEM;
        memcpy(c->wbuf + c->wlen, buf, len);
        c->wlen += len;
        c->wrote = 1;
        return (ssize_t)len;
    }
    size_t limit = c->wbufsize;
    /* A large write with nothing buffered goes straight out: copying it
     * first would only add a memcpy. */
    if (c->wlen == 0 && len >= 4096)
        return send_all(c, buf, len, 0);
    if (c->wlen + len <= limit) {
        if (wbuf_reserve(c, c->wlen + len) < 0)
            return -ENOMEM;
        memcpy(c->wbuf + c->wlen, buf, len);
        c->wlen += len;
        return (ssize_t)len;
    }
    /* Past the limit: send what is buffered, then this write directly
     * (no copy for large writes). */
    int r = netsrv_flush(c);
    if (r < 0)
        return r;
    return send_all(c, buf, len, 0);
}

ssize_t netsrv_send(netsrv_conn *c, const void *buf, size_t len)
{
    if (c->dgram)
        return netsrv_write(c, buf, len);
    int r = netsrv_flush(c);
    if (r < 0)
        return r;
    return send_all(c, buf, len, 0);
}

int netsrv_vprintf(netsrv_conn *c, const char *fmt, va_list ap)
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
        ssize_t r = netsrv_write(c, small, (size_t)n);
        return r < 0 ? (int)r : n;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        va_end(ap2);
        return -ENOMEM;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    ssize_t r = netsrv_write(c, big, (size_t)n);
    free(big);
    return r < 0 ? (int)r : n;
}

int netsrv_printf(netsrv_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = netsrv_vprintf(c, fmt, ap);
    va_end(ap);
    return r;
}

int netsrv_shutdown_write(netsrv_conn *c)
{
    if (c->dgram)
        return -ENOTSOCK;
    int r = netsrv_flush(c);
    if (r < 0)
        return r;
    if (c->io)
        c->io->shut(c);
    return shutdown(c->fd, SHUT_WR) < 0 ? -errno : 0;
}

/* Through a layer (TLS) the bytes must pass through user space: pread
 * into a buffer, then the layer's send. */
static ssize_t sendfile_io(netsrv_conn *c, int fd, off_t offset, size_t count)
{
    size_t cap = count < 65536 ? (count ? count : 1) : 65536, done = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    ssize_t rv = 0;
    while (done < count) {
        size_t want = count - done < cap ? count - done : cap;
        ssize_t n = pread(fd, buf, want, offset + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rv = -errno;
            break;
        }
        if (n == 0)
            break; /* the file ended before count: a short count */
        ssize_t w = send_all(c, buf, (size_t)n, 0);
        if (w < 0) {
            rv = w;
            break;
        }
        done += (size_t)n;
    }
    free(buf);
    return rv < 0 ? rv : (ssize_t)done;
}

/* Nothing of a file went after a head sent with MSG_MORE, so nothing
 * pushed the head out: turning TCP_NODELAY on sends what is held (tcp(7)),
 * and it is then set back as it was.  Other sockets hold nothing. */
static void push_held(netsrv_conn *c)
{
    int was = 0, one = 1;
    socklen_t len = sizeof was;
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &was, &len) < 0)
        return;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!was)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &was, sizeof was);
}

/* The kernel copies file pages straight to the socket.  Whatever the
 * stream has buffered goes first, so a header written with netsrv_printf
 * precedes the body.  A full socket waits like a send: parked on a loop,
 * inside the call on a blocking socket. */
ssize_t netsrv_sendfile(netsrv_conn *c, int fd, off_t offset, size_t count)
{
    if (c->dgram)
        return -ENOTSOCK;
    if (c->io) { /* TLS: through user space */
        int rf = netsrv_flush(c);
        return rf < 0 ? rf : sendfile_io(c, fd, offset, count);
    }
    /* MSG_MORE: what is buffered (an HTTP head, say) waits in the kernel
     * for the file's first bytes, and both leave in one segment instead
     * of the head alone first (TCP_NODELAY would send it at once). */
    int more = count > 0 && c->wlen > 0, r;
    if (more) {
        ssize_t w = send_all(c, c->wbuf, c->wlen, MSG_MORE);
        c->wlen = 0;
        if (w < 0)
            return w;
    }
    size_t done = 0;
    while (done < count) {
        if (c->blocking)
            netsrv__conn_arm(c);
        size_t want = count - done;
        if (want > (size_t)1 << 30) /* sendfile moves at most ~2 GiB a call */
            want = (size_t)1 << 30;
        off_t off = offset + (off_t)done;
        ssize_t n = netsrv__sendfile(c->fd, fd, &off, want);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0)
            break; /* the file ended before count: the caller sees a short count */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if ((r = netsrv__conn_wait(c, POLLOUT)) < 0)
                return r;
            continue;
        }
        r = netsrv__conn_io_error(c, errno);
        if (more && done == 0)
            push_held(c);
        return r;
    }
    if (more && done == 0)
        push_held(c);
    return (ssize_t)done;
}
