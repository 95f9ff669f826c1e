/* server.c - the server object and its serving loop, shared by every mode:
 * wait for the listener or a wake-up, take one request, hand it to the
 * mode.  Shutdown is a flag plus an eventfd so it is prompt and safe from
 * a signal handler (socketserver's bpo-2302/35017/39797 cannot happen). */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DEFAULT_THREADS 256
#define DEFAULT_CHILDREN 64
#define DEFAULT_ASYNC_CONNS (1u << 20) /* in practice: as many as fds allow */
#define MAX_POLLFDS 4096

static const netsrv__mode_ops *mode_ops(netsrv_mode m)
{
    switch (m) {
    case NETSRV_SYNC: return &netsrv__mode_sync;
    case NETSRV_THREAD: return &netsrv__mode_thread;
    case NETSRV_FORK: return &netsrv__mode_fork;
    case NETSRV_ASYNC: return &netsrv__mode_async;
    default: return NULL;
    }
}

static void eventfd_clear(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

static void eventfd_post(int fd)
{
    uint64_t one = 1;
    /* write(2) is async-signal-safe; errors (counter full) mean it is
     * readable already, which is all we want. */
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

void netsrv__wake(netsrv_server *srv)
{
    eventfd_post(srv->wakefd);
}

void netsrv__report(netsrv_server *srv, netsrv_request *req, const netsrv_addr *peer, int err)
{
    if (srv->cfg.hooks.handle_error)
        srv->cfg.hooks.handle_error(srv, req, peer, err, srv->cfg.hooks.ctx);
}

/* ---- per-IP connection counts ---- */

static unsigned ip_hash(const netsrv__ipkey *k)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ k->bytes[i]) * 16777619u;
    return h % NETSRV__IPBUCKETS;
}

/* Counts a new connection from k; returns 0, or -EUSERS past per_ip. */
static int ip_acquire(netsrv_server *srv, const netsrv__ipkey *k)
{
    int rc = 0;
    if (!srv->cfg.per_ip || !k->valid)
        return 0;
    pthread_mutex_lock(&srv->lock);
    netsrv__ipcount **head = &srv->ipcounts[ip_hash(k)], *c;
    for (c = *head; c; c = c->next)
        if (memcmp(c->key.bytes, k->bytes, 16) == 0)
            break;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) {
            rc = -ENOMEM;
            goto out;
        }
        c->key = *k;
        c->next = *head;
        *head = c;
    }
    if (c->count >= srv->cfg.per_ip)
        rc = -EUSERS;
    else
        c->count++;
out:
    pthread_mutex_unlock(&srv->lock);
    return rc;
}

void netsrv__ip_release(netsrv_server *srv, const netsrv__ipkey *k)
{
    if (!srv->cfg.per_ip || !k->valid)
        return;
    pthread_mutex_lock(&srv->lock);
    netsrv__ipcount **pp = &srv->ipcounts[ip_hash(k)];
    for (; *pp; pp = &(*pp)->next) {
        netsrv__ipcount *c = *pp;
        if (memcmp(c->key.bytes, k->bytes, 16) == 0) {
            if (--c->count == 0) { /* forget idle clients: the table stays small */
                *pp = c->next;
                free(c);
            }
            break;
        }
    }
    pthread_mutex_unlock(&srv->lock);
}

/* ---- create / free ---- */

int netsrv_server_create(netsrv_server **out, const netsrv_config *cfg,
                         const netsrv_handler *handler, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg || !handler || !handler->handle)
        return netsrv__seterr(err, errlen, -EINVAL, "a handler with a handle callback is needed");
    const netsrv__mode_ops *ops = mode_ops(cfg->mode);
    if (!ops)
        return netsrv__seterr(err, errlen, -ENOTSUP, "mode '%s' is not available",
                              netsrv_mode_name(cfg->mode));
    netsrv_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
    srv->cfg = *cfg;
    srv->handler = *handler;
    srv->ops = ops;
    srv->fd = srv->wakefd = srv->drainfd = srv->sparefd = -1;
    if (!srv->cfg.max_conns)
        srv->cfg.max_conns = cfg->mode == NETSRV_FORK ? DEFAULT_CHILDREN
                           : cfg->mode == NETSRV_THREAD ? DEFAULT_THREADS : 1;
    if (srv->cfg.mode == NETSRV_SYNC)
        srv->cfg.max_conns = 1;
    if (srv->cfg.mode == NETSRV_ASYNC && !cfg->max_conns)
        srv->cfg.max_conns = DEFAULT_ASYNC_CONNS;
    if (!srv->cfg.workers)
        srv->cfg.workers = 1;
    if (!srv->cfg.stack_size)
        srv->cfg.stack_size = 64 * 1024;
    if (srv->cfg.backlog <= 0)
        srv->cfg.backlog = SOMAXCONN;
    if (!srv->cfg.max_packet)
        srv->cfg.max_packet = 65535;
    if (!srv->cfg.rbufsize)
        srv->cfg.rbufsize = 65536;
    pthread_mutex_init(&srv->lock, NULL);

    int rc;
    srv->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    srv->drainfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    srv->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (srv->wakefd < 0 || srv->drainfd < 0 || srv->sparefd < 0) {
        rc = netsrv__seterr(err, errlen, -errno, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if ((rc = netsrv__listen_open(srv, err, errlen)) < 0)
        goto fail;
    if (srv->socktype == SOCK_DGRAM &&
        !(srv->pktbuf = malloc(srv->cfg.max_packet + 1))) {
        rc = netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
        goto fail;
    }
    if (cfg->bind_and_activate && (rc = netsrv__listen_activate(srv, err, errlen)) < 0)
        goto fail;
    *out = srv;
    return 0;
fail:
    /* bpo-22435: a failed create leaves no descriptor behind. */
    srv->unix_owned = 0;
    netsrv_server_free(srv);
    return rc;
}

int netsrv_server_activate(netsrv_server *srv, char *err, size_t errlen)
{
    return netsrv__listen_activate(srv, err, errlen);
}

int netsrv_server_fileno(const netsrv_server *srv) { return srv->fd; }
const netsrv_addr *netsrv_server_addr(const netsrv_server *srv) { return &srv->addr; }
const netsrv_config *netsrv_server_config(const netsrv_server *srv) { return &srv->cfg; }
unsigned netsrv_server_active(const netsrv_server *srv) { return atomic_load(&srv->active); }

char *netsrv_server_address(const netsrv_server *srv, char *buf, size_t len)
{
    return netsrv_addr_format(&srv->addr, buf, len);
}

void netsrv_shutdown(netsrv_server *srv)
{
    /* Only a flag and two write(2)s: callable from a signal handler.  The
     * drain eventfd tells requests in flight (also in fork children, which
     * share it) to finish within cfg.drain. */
    srv->stop = 1;
    eventfd_post(srv->wakefd);
    eventfd_post(srv->drainfd);
}

void netsrv_server_close(netsrv_server *srv)
{
    if (!srv || srv->in_child)
        return;
    netsrv__listen_close(srv);
    if (atomic_load(&srv->active) || srv->nchildren || srv->threads || srv->done) {
        eventfd_post(srv->drainfd);
        double deadline = !srv->cfg.block_on_close ? 0
                        : srv->cfg.drain < 0 ? NETSRV__INF
                        : netsrv__now() + srv->cfg.drain + 1.0;
        srv->ops->close(srv, deadline);
    }
}

void netsrv_server_free(netsrv_server *srv)
{
    if (!srv)
        return;
    netsrv_server_close(srv);
    /* Threads use the server's memory: whatever block_on_close says, none
     * may outlive it.  (Fork children have their own copy.) */
    if (!srv->in_child && srv->cfg.mode == NETSRV_THREAD)
        srv->ops->close(srv, NETSRV__INF);
    if (srv->fd >= 0)
        close(srv->fd);
    if (srv->wakefd >= 0)
        close(srv->wakefd);
    if (srv->drainfd >= 0)
        close(srv->drainfd);
    if (srv->sparefd >= 0)
        close(srv->sparefd);
    for (int i = 0; i < NETSRV__IPBUCKETS; i++)
        while (srv->ipcounts[i]) {
            netsrv__ipcount *c = srv->ipcounts[i];
            srv->ipcounts[i] = c->next;
            free(c);
        }
    free(srv->children);
    free(srv->pktbuf);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

/* ---- taking one request ---- */

/* EMFILE/ENFILE: the pending connection would make the listener readable
 * forever and the loop spin.  Give up the reserve descriptor, accept and
 * close the connection (the client sees it closed, not hanging), and take
 * the reserve back. */
void netsrv__refuse_with_spare(int lfd, int *sparefd)
{
    if (*sparefd >= 0) {
        close(*sparefd);
        *sparefd = -1;
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    *sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

netsrv_request *netsrv__admit_stream(netsrv_server *srv, int fd, netsrv_addr *peer)
{
    if (peer->ss.ss_family == AF_UNIX)
        peer->len = 0; /* unnamed client: "unix:" */
    netsrv__ipkey ip;
    netsrv__ipkey_of(peer, &ip);
    int rc = ip_acquire(srv, &ip);
    if (rc < 0) {
        close(fd);
        netsrv__report(srv, NULL, peer, rc);
        return NULL;
    }
    if (srv->cfg.hooks.verify_request &&
        !srv->cfg.hooks.verify_request(srv, peer, srv->cfg.hooks.ctx)) {
        close(fd); /* bpo-26309: a refused client is closed at once */
        netsrv__ip_release(srv, &ip);
        return NULL;
    }
    if (srv->cfg.nodelay && peer->ss.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    netsrv_request *req = netsrv__request_new(srv, fd, peer, 0);
    if (!req) {
        close(fd);
        netsrv__ip_release(srv, &ip);
        netsrv__report(srv, NULL, peer, -ENOMEM);
        return NULL;
    }
    req->ip = ip;
    atomic_fetch_add(&srv->active, 1);
    return req;
}

netsrv_request *netsrv__admit_dgram(netsrv_server *srv, int fd, netsrv_addr *peer,
                                    const void *data, size_t n)
{
    if (peer->ss.ss_family == AF_UNIX && peer->len <= sizeof(sa_family_t))
        peer->len = 0; /* an unbound Unix client: there is no one to reply to */
    if (n > srv->cfg.max_packet) {
        netsrv__report(srv, NULL, peer, -EMSGSIZE);
        return NULL;
    }
    if (srv->cfg.hooks.verify_request &&
        !srv->cfg.hooks.verify_request(srv, peer, srv->cfg.hooks.ctx))
        return NULL;
    netsrv_request *req = netsrv__request_new(srv, fd, peer, 1);
    if (!req || !(req->rbuf = malloc(n ? n : 1))) {
        netsrv__request_free(req);
        netsrv__report(srv, NULL, peer, -ENOMEM);
        return NULL;
    }
    memcpy(req->rbuf, data, n);
    req->rcap = req->rlen = n;
    atomic_fetch_add(&srv->active, 1);
    return req;
}

static int take_stream(netsrv_server *srv)
{
    netsrv_addr peer;
    peer.len = sizeof peer.ss;
    int fd = accept4(srv->fd, (struct sockaddr *)&peer.ss, &peer.len,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            netsrv__refuse_with_spare(srv->fd, &srv->sparefd);
            netsrv__report(srv, NULL, NULL, -e);
        }
        /* EAGAIN, EINTR, ECONNABORTED, EPROTO...: the client is gone or
         * will be retried on the next turn. */
        return 0;
    }
    netsrv_request *req = netsrv__admit_stream(srv, fd, &peer);
    if (!req)
        return 0;
    srv->ops->process(srv, req);
    return 1;
}

static int take_dgram(netsrv_server *srv)
{
    netsrv_addr peer;
    peer.len = sizeof peer.ss;
    /* MSG_TRUNC makes recvfrom return the datagram's real length, so an
     * oversized one is seen and reported instead of silently cut. */
    ssize_t n = recvfrom(srv->fd, srv->pktbuf, srv->cfg.max_packet + 1,
                         MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&peer.ss, &peer.len);
    if (n < 0)
        return 0;
    netsrv_request *req = netsrv__admit_dgram(srv, srv->fd, &peer, srv->pktbuf, (size_t)n);
    if (!req)
        return 0;
    srv->ops->process(srv, req);
    return 1;
}

/* One wait of the serving loop: until the listener is readable (and a
 * slot is free), a wake-up, a request end, or the deadline.  Returns
 * >0 when a request can be taken, 0 otherwise, <0 on a fatal error. */
static int wait_turn(netsrv_server *srv, double deadline)
{
    struct pollfd pfd[MAX_POLLFDS];
    int n = 0, listen_at = -1;
    pfd[n++] = (struct pollfd){ .fd = srv->wakefd, .events = POLLIN };
    /* The drain eventfd is posted by every shutdown, also by one asked in
     * a fork-mode child, which cannot set our flag. */
    int drain_at = -1;
    if (!srv->stop) {
        drain_at = n;
        pfd[n++] = (struct pollfd){ .fd = srv->drainfd, .events = POLLIN };
    }
    /* At the cap the listener is left alone: accepting pauses until a
     * slot frees, instead of accepting and refusing. */
    if (srv->fd >= 0 && atomic_load(&srv->active) < srv->cfg.max_conns) {
        listen_at = n;
        pfd[n++] = (struct pollfd){ .fd = srv->fd, .events = POLLIN };
    }
    if (srv->ops->pollfds)
        n += srv->ops->pollfds(srv, pfd + n, MAX_POLLFDS - n);
    int r = poll(pfd, (nfds_t)n, netsrv__ms_until(deadline));
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (pfd[0].revents)
        eventfd_clear(srv->wakefd);
    if (drain_at >= 0 && pfd[drain_at].revents)
        srv->stop = 1;
    if (srv->ops->collect)
        srv->ops->collect(srv);
    return listen_at >= 0 && pfd[listen_at].revents ? 1 : 0;
}

static int take_one(netsrv_server *srv)
{
    return srv->socktype == SOCK_DGRAM ? take_dgram(srv) : take_stream(srv);
}

/* A new serving run starts with no shutdown pending for new requests;
 * requests still in flight from an earlier run keep theirs. */
void netsrv__reset_drain(netsrv_server *srv)
{
    if (atomic_load(&srv->active) == 0)
        eventfd_clear(srv->drainfd);
}

int netsrv_serve_forever(netsrv_server *srv, double poll_interval)
{
    if (srv->fd < 0 || !srv->activated)
        return -EBADF;
    if (srv->stop) { /* asked before we ran: return at once (bpo-2302) */
        srv->stop = 0;
        eventfd_clear(srv->wakefd);
        netsrv__reset_drain(srv);
        return 0;
    }
    if (srv->ops->serve)
        return srv->ops->serve(srv, poll_interval);
    netsrv__reset_drain(srv);
    int rc = 0;
    while (!srv->stop) {
        double deadline = poll_interval > 0 ? netsrv__now() + poll_interval : NETSRV__INF;
        int r = wait_turn(srv, deadline);
        if (r < 0) {
            rc = r;
            break;
        }
        /* bpo-35017: a shutdown asked during the wait wins over a client
         * that became ready in the same wait. */
        if (srv->stop)
            break;
        if (r > 0)
            take_one(srv);
        if (srv->cfg.hooks.service_actions)
            srv->cfg.hooks.service_actions(srv, srv->cfg.hooks.ctx);
    }
    srv->stop = 0;
    eventfd_clear(srv->wakefd);
    return rc;
}

int netsrv_handle_request(netsrv_server *srv)
{
    if (srv->fd < 0 || !srv->activated)
        return -EBADF;
    if (srv->ops->handle_one)
        return srv->ops->handle_one(srv);
    double deadline = srv->cfg.server_timeout > 0 ? netsrv__now() + srv->cfg.server_timeout
                                                  : NETSRV__INF;
    netsrv__reset_drain(srv);
    for (;;) {
        int r = wait_turn(srv, deadline);
        if (r < 0)
            return r;
        if (r > 0 && take_one(srv))
            return 0;
        /* EINTR and early wake-ups wait again for what is left (bpo-7978). */
        if (netsrv__now() >= deadline)
            return srv->cfg.hooks.handle_timeout
                       ? srv->cfg.hooks.handle_timeout(srv, srv->cfg.hooks.ctx)
                       : -ETIMEDOUT;
    }
}
