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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_THREADS 256
#define DEFAULT_CHILDREN 64
#define MAX_POLLFDS 4096
#define TAKES_PER_TURN 16

/* Each coroutine stack is two mappings (the stack and its guard page), so
 * the kernel's map limit bounds the async requests that can hold a stack;
 * a margin is left for the rest of the process. */
static unsigned async_default_conns(void)
{
    long maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        if (fscanf(f, "%ld", &maps) != 1)
            maps = 65530;
        fclose(f);
    }
    long n = (maps - 1024) / 2;
    return n < 16 ? 16 : n > (1L << 24) ? (1u << 24) : (unsigned)n;
}

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

/* ---- per-IP connection counts (iptable.c) ---- */

int netsrv__ip_acquire(netsrv_server *srv, const netsrv__ipkey *k)
{
    if (!srv->cfg.per_ip || !k->valid)
        return 0;
    return netsrv__iptable_acquire(&srv->ips, k, srv->cfg.per_ip);
}

void netsrv__ip_release(netsrv_server *srv, const netsrv__ipkey *k)
{
    if (srv->cfg.per_ip && k->valid)
        netsrv__iptable_release(&srv->ips, k);
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
        srv->cfg.max_conns = async_default_conns();
    if (!srv->cfg.workers)
        srv->cfg.workers = 1;
    if (!srv->cfg.stack_size)
        srv->cfg.stack_size = 64 * 1024;
    if (srv->cfg.stack_size < NETSRV_STACK_MIN) {
        free(srv);
        return netsrv__seterr(err, errlen, -EINVAL, "stack_size %zu is below the minimum %d",
                              cfg->stack_size, NETSRV_STACK_MIN);
    }
    if (srv->cfg.backlog <= 0)
        srv->cfg.backlog = SOMAXCONN;
    if (!srv->cfg.max_packet)
        srv->cfg.max_packet = 65535;
    if (!srv->cfg.rbufsize)
        srv->cfg.rbufsize = 65536;
    if (srv->cfg.linger < 0)
        srv->cfg.linger = 0;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cut_cv, &ca);
    pthread_condattr_destroy(&ca);

    int rc = netsrv__iptable_init(&srv->ips);
    if (rc < 0) {
        pthread_cond_destroy(&srv->cut_cv);
        pthread_mutex_destroy(&srv->lock);
        free(srv);
        return netsrv__seterr(err, errlen, rc, "per-IP table: %s", netsrv_strerror(rc));
    }
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

void netsrv_server_stats(const netsrv_server *srv, netsrv_stats *out)
{
    out->served = atomic_load(&srv->served);
    out->refused = atomic_load(&srv->refused);
    out->dropped = atomic_load(&srv->dropped);
    out->active = atomic_load(&srv->active);
}

char *netsrv_server_address(const netsrv_server *srv, char *buf, size_t len)
{
    return netsrv_addr_format(&srv->addr, buf, len);
}

void netsrv_shutdown(netsrv_server *srv)
{
    /* Only a flag and two write(2)s: callable from a signal handler.  The
     * drain eventfd tells requests in flight (also in fork children, which
     * share it) to finish within cfg.drain. */
    atomic_store(&srv->stop, 1);
    eventfd_post(srv->wakefd);
    eventfd_post(srv->drainfd);
}

/* The run that just ended was shut down: its requests still in flight get
 * cfg.drain seconds (the mode cuts them off then). */
static void drain_inflight(netsrv_server *srv)
{
    if (srv->ops->drain && srv->cfg.drain >= 0)
        srv->ops->drain(srv, netsrv__now() + srv->cfg.drain);
}

void netsrv_server_close(netsrv_server *srv)
{
    if (!srv || srv->in_child)
        return;
    netsrv__listen_close(srv);
    if (atomic_load(&srv->active) || srv->nchildren || srv->threads || srv->done) {
        eventfd_post(srv->drainfd);
        drain_inflight(srv);
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
    if (!srv->in_child && srv->ops->fini)
        srv->ops->fini(srv);
    if (srv->fd >= 0)
        close(srv->fd);
    if (srv->wakefd >= 0)
        close(srv->wakefd);
    if (srv->drainfd >= 0)
        close(srv->drainfd);
    if (srv->sparefd >= 0)
        close(srv->sparefd);
    netsrv__iptable_fini(&srv->ips);
    free(srv->children);
    free(srv->pktbuf);
    pthread_cond_destroy(&srv->cut_cv);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

/* ---- the serving loop of the blocking modes ---- */

/* Takes what the listener has (one client, or a datagram), hands it to
 * the mode; returns 1 when a request was taken. */
static int take_one(netsrv_server *srv)
{
    netsrv__req *req;
    int r = netsrv__take(srv, srv->fd, srv->pktbuf, &srv->sparefd, &req);
    if (r != NETSRV__TAKEN)
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
    if (!atomic_load(&srv->stop)) {
        drain_at = n;
        pfd[n++] = (struct pollfd){ .fd = srv->drainfd, .events = POLLIN };
    }
    /* At the cap a stream listener is left alone: accepting pauses until
     * a slot frees, instead of accepting and refusing.  Datagrams are
     * still read, to be dropped and counted. */
    if (srv->fd >= 0 && (srv->socktype == SOCK_DGRAM ||
                         atomic_load(&srv->active) < srv->cfg.max_conns)) {
        listen_at = n;
        pfd[n++] = (struct pollfd){ .fd = srv->fd, .events = POLLIN };
    }
    if (srv->ops->pollfds)
        n += srv->ops->pollfds(srv, pfd + n, MAX_POLLFDS - n);
    /* Requests of an earlier run that was shut down are cut off at their
     * drain deadline, also while this run serves. */
    if (srv->ops->enforce) {
        double cut = srv->ops->enforce(srv);
        if (cut < deadline)
            deadline = cut;
    }
    int r = poll(pfd, (nfds_t)n, netsrv__ms_until(deadline));
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (pfd[0].revents)
        eventfd_clear(srv->wakefd);
    if (drain_at >= 0 && pfd[drain_at].revents)
        atomic_store(&srv->stop, 1);
    if (srv->ops->collect)
        srv->ops->collect(srv);
    return listen_at >= 0 && pfd[listen_at].revents ? 1 : 0;
}

/* A new serving run starts with no shutdown pending.  Requests still in
 * flight from an earlier run do not watch the eventfd (the mode holds
 * their drain deadlines), so clearing it cannot let them off. */
static void reset_drain(netsrv_server *srv)
{
    eventfd_clear(srv->drainfd);
}

int netsrv_serve_forever(netsrv_server *srv, double poll_interval)
{
    if (srv->fd < 0 || !srv->activated)
        return -EBADF;
    if (atomic_load(&srv->stop)) { /* asked before we ran: return at once (bpo-2302) */
        atomic_store(&srv->stop, 0);
        eventfd_clear(srv->wakefd);
        reset_drain(srv);
        return 0;
    }
    reset_drain(srv);
    /* A shutdown that came between the check above and the reset lost its
     * eventfd post: the flag tells, so post again. */
    if (atomic_load(&srv->stop))
        netsrv_shutdown(srv);
    if (srv->ops->serve)
        return srv->ops->serve(srv, poll_interval);
    int rc = 0;
    while (!atomic_load(&srv->stop)) {
        double deadline = poll_interval > 0 ? netsrv__now() + poll_interval : NETSRV__INF;
        int r = wait_turn(srv, deadline);
        if (r < 0) {
            rc = r;
            break;
        }
        /* bpo-35017: a shutdown asked during the wait wins over a client
         * that became ready in the same wait. */
        if (atomic_load(&srv->stop))
            break;
        /* Several per turn: with many children, each turn's poll over
         * their pidfds costs more than an accept. */
        for (int i = 0; r > 0 && i < TAKES_PER_TURN && !atomic_load(&srv->stop); i++)
            if (!take_one(srv))
                break;
        if (srv->cfg.hooks.service_actions)
            srv->cfg.hooks.service_actions(srv, srv->cfg.hooks.ctx);
    }
    drain_inflight(srv);
    atomic_store(&srv->stop, 0);
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
    reset_drain(srv);
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
