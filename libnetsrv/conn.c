/* conn.c - a connection's life under the stream: its timeouts, how it waits
 * for its socket, and how it ends.  Two ways of waiting: a non-blocking
 * socket whose task waits (poll or a parked coroutine), or a blocking
 * socket (thread and fork modes) that waits inside recv/send, bounded by
 * SO_RCVTIMEO/SO_SNDTIMEO: one system call per message less, which is the
 * difference between a blocking echo server and one that polls first. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void netsrv__conn_init(netsrv_conn *c, int fd, int dgram, netsrv_task *task)
{
    c->fd = fd;
    c->dgram = dgram;
    c->task = task;
    c->end_deadline = NETSRV__INF;
    c->rbufsize = 65536;
    c->wbufsize = 16384;
    c->max_packet = 65535;
    c->linger = 5;
}

static int set_timeo(int fd, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        return -errno;
    return 0;
}

void netsrv__conn_set_sock_timeout(netsrv_conn *c, double seconds)
{
    int ms = seconds > 0 ? (int)ceil(seconds * 1000) : 0;
    if (ms == 0 && seconds > 0)
        ms = 1;
    if (ms != c->sock_timeo_ms && set_timeo(c->fd, ms) == 0)
        c->sock_timeo_ms = ms;
}

/* The socket's timeout must not let a recv outlast the request's
 * deadline.  It is lowered only when it would overshoot by more than an
 * eighth of what is left, so a request under a time limit costs a few
 * setsockopt calls in all, not two per message. */
void netsrv__conn_arm(netsrv_conn *c)
{
    if (c->end_deadline >= NETSRV__INF)
        return;
    double left = c->end_deadline - netsrv__now();
    double want = c->timeout > 0 && c->timeout < left ? c->timeout : left;
    int want_ms = want > 0.001 ? (int)ceil(want * 1000) : 1;
    int slack = want_ms / 8 > 5 ? want_ms / 8 : 5;
    if (c->sock_timeo_ms == 0 || c->sock_timeo_ms > want_ms + slack ||
        (c->timeout > 0 && c->timeout < left && c->sock_timeo_ms != want_ms))
        netsrv__conn_set_sock_timeout(c, want_ms / 1000.0);
}

int netsrv__conn_io_error(netsrv_conn *c, int err)
{
    if (c->task && atomic_load(&c->task->cancelled))
        return -ECANCELED; /* cut off: the server shut the socket */
    if (err == EAGAIN || err == EWOULDBLOCK)
        return -ETIMEDOUT; /* only a socket timeout makes a blocking call give up */
    return -err;
}

static int why_to_errno(int why)
{
    switch (why) {
    case NETSRV_WAIT_READY:
        return 0;
    case NETSRV_WAIT_TIMEOUT:
        return -ETIMEDOUT;
    case NETSRV_WAIT_DRAINED:
        return -ECANCELED;
    default:
        return why < 0 ? why : -EIO;
    }
}

/* A group member waiting for input also writes out its queue, and a new
 * message wakes it to do so.  When the socket turns ready it may be for
 * either: the caller's recv finds out (EAGAIN costs one more wait). */
static int member_wait_input(netsrv_conn *c, double deadline)
{
    for (;;) {
        int d = netsrv__member_deliver(c);
        if (d < 0)
            return d;
        short ev = POLLIN | (d > 0 ? POLLOUT : 0);
        int why = netsrv__task_wait(c->task, c->fd, ev, deadline, 0);
        if (why != NETSRV_WAIT_WOKEN)
            return why_to_errno(why);
    }
}

int netsrv__conn_wait(netsrv_conn *c, short events)
{
    if (c->blocking) /* the blocking call already waited its time */
        return netsrv__conn_io_error(c, EAGAIN);
    double deadline = c->timeout > 0 ? netsrv__now() + c->timeout : NETSRV__INF;
    if (c->end_deadline < deadline)
        deadline = c->end_deadline;
    if (c->member && events == POLLIN)
        return member_wait_input(c, deadline);
    return why_to_errno(
        netsrv__task_wait(c->task, c->fd, events, deadline, NETSRV__NOWAKE | NETSRV__KEEPIO));
}

/* nginx's lingering close: with the output side shut the peer reads the
 * whole reply and then end of stream; meanwhile whatever it still sends is
 * read and dropped, so that closing with unread input does not make the
 * kernel answer with a reset that destroys the reply's unsent tail. */
static void linger_close(netsrv_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    double end = netsrv__now() + c->linger;
    size_t dropped = 0;
    char *buf = netsrv__conn_rbuf(c);
    if (!buf)
        return;
    while (dropped < NETSRV__LINGER_BYTES) {
        ssize_t n = recv(c->fd, buf, c->rcap, MSG_DONTWAIT);
        if (n > 0) {
            dropped += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
            break;
        if (errno == EINTR)
            continue;
        if (netsrv__task_wait(c->task, c->fd, POLLIN, end, NETSRV__NOWAKE) != NETSRV_WAIT_READY)
            break;
    }
}

void netsrv__conn_close(netsrv_conn *c)
{
    if (c->fd < 0)
        return;
    if (c->member) /* a request that ends leaves its group */
        netsrv_group_leave(netsrv__member_group(c), c);
    if (c->dgram) {
        netsrv__dgram_end(c);
        if (!c->srv) { /* a client's own socket; a server's is shared */
            netsrv__task_unwatch(c->task, c->fd);
            close(c->fd);
        }
        c->fd = -1;
        return;
    }
    int cut = c->task && atomic_load(&c->task->cancelled);
    if (!cut)
        netsrv__flush_quiet(c);
    if (c->io && !cut)
        c->io->shut(c); /* TLS: close_notify, without waiting for the peer's */
    /* Unread input means the peer may still be sending: linger.  A peer
     * that already ended its side has nothing more to say. */
    if (!cut && !c->eof && c->linger > 0)
        linger_close(c);
    else
        shutdown(c->fd, SHUT_WR); /* a fork child's copy must not hold the FIN back */
    int fd = c->fd;
    if (c->fd_lock) {
        pthread_mutex_lock(c->fd_lock);
        c->fd = -1;
        pthread_mutex_unlock(c->fd_lock);
    } else {
        c->fd = -1;
    }
    netsrv__task_unwatch(c->task, fd);
    close(fd);
}

void netsrv__conn_fini(netsrv_conn *c)
{
    if (c->io) {
        c->io->fini(c);
        c->io = NULL;
        c->io_state = NULL;
    }
    if (c->rbuf)
        netsrv__conn_rbuf_release(c);
    free(c->wbuf);
    c->wbuf = NULL;
}

/* ---- client connections ---- */

int netsrv_conn_dial(netsrv_conn **out, const char *addr, double timeout, char *err,
                     size_t errlen)
{
    *out = NULL;
    int fd = netsrv__dial(addr, 0, timeout, err, errlen);
    if (fd < 0)
        return fd;
    netsrv_conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
    }
    /* Non-blocking, waiting as the task that dialed (a plain poll outside
     * any): the same stream code serves a thread and a loop. */
    netsrv__conn_init(c, fd, 0, netsrv__task_current());
    c->peer.len = sizeof c->peer.ss;
    if (getpeername(fd, (struct sockaddr *)&c->peer.ss, &c->peer.len) < 0)
        c->peer.len = 0;
    c->timeout = timeout > 0 ? timeout : 0;
    *out = c;
    return 0;
}

int netsrv_conn_fileno(const netsrv_conn *c)
{
    return c->fd;
}

void netsrv_conn_close(netsrv_conn *c)
{
    if (!c)
        return;
    if (c->srv)
        return; /* a server's request is closed by the server */
    netsrv__conn_close(c);
    netsrv__conn_fini(c);
    free(c);
}
