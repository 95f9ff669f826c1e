/* accept.c - taking one client or one datagram, the same way in every mode:
 * the cap on requests in flight, EMFILE without spinning, the per-IP cap,
 * verify_request, socket options.  The serving loops (server.c's poll
 * loop, the async loops) only decide when to call it. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* EMFILE/ENFILE: the pending connection would make the listener readable
 * forever and the loop spin.  Give up the reserve descriptor, accept and
 * close the connection (the client sees it closed, not hanging), and take
 * the reserve back. */
static void refuse_with_spare(int lfd, int *sparefd)
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

static netsrv__req *admit_stream(netsrv_server *srv, int fd, netsrv_addr *peer)
{
    if (peer->ss.ss_family == AF_UNIX)
        peer->len = 0; /* unnamed client: "unix:" */
    netsrv__ipkey ip;
    netsrv__ipkey_from((const struct sockaddr *)&peer->ss, peer->len, &ip);
    int rc = netsrv__ip_acquire(srv, &ip);
    if (rc < 0) {
        close(fd);
        atomic_fetch_add(&srv->refused, 1);
        netsrv__report(srv, NULL, peer, rc);
        return NULL;
    }
    if (srv->cfg.hooks.verify_request &&
        !srv->cfg.hooks.verify_request(srv, peer, srv->cfg.hooks.ctx)) {
        close(fd); /* bpo-26309: a refused client is closed at once */
        atomic_fetch_add(&srv->refused, 1);
        netsrv__ip_release(srv, &ip);
        return NULL;
    }
    if (srv->cfg.nodelay && peer->ss.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    netsrv__req *req = netsrv__req_new(srv, fd, peer, 0);
    if (!req) {
        close(fd);
        netsrv__ip_release(srv, &ip);
        netsrv__report(srv, NULL, peer, -ENOMEM);
        return NULL;
    }
    req->ip = ip;
    return req;
}

static netsrv__req *admit_dgram(netsrv_server *srv, int fd, netsrv_addr *peer,
                                const void *data, size_t n)
{
    if (peer->ss.ss_family == AF_UNIX && peer->len <= sizeof(sa_family_t))
        peer->len = 0; /* an unbound Unix client: there is no one to reply to */
    if (n > srv->cfg.max_packet) {
        netsrv__report(srv, NULL, peer, -EMSGSIZE);
        return NULL;
    }
    if (srv->cfg.hooks.verify_request &&
        !srv->cfg.hooks.verify_request(srv, peer, srv->cfg.hooks.ctx)) {
        atomic_fetch_add(&srv->refused, 1);
        return NULL;
    }
    netsrv__req *req = netsrv__req_new(srv, fd, peer, 1);
    if (!req || !(req->conn.rbuf = malloc(n ? n : 1))) {
        free(req);
        netsrv__report(srv, NULL, peer, -ENOMEM);
        return NULL;
    }
    memcpy(req->conn.rbuf, data, n);
    req->conn.rcap = req->conn.rlen = n;
    return req;
}

int netsrv__take(netsrv_server *srv, int lfd, char *pktbuf, int *sparefd, netsrv__req **out)
{
    netsrv_addr peer;
    peer.len = sizeof peer.ss;
    *out = NULL;
    int full = atomic_load(&srv->active) >= srv->cfg.max_conns;
    if (srv->socktype == SOCK_DGRAM) {
        /* MSG_TRUNC makes recvfrom return the datagram's real length, so
         * an oversized one is seen and reported instead of silently cut. */
        ssize_t n = recvfrom(lfd, pktbuf, srv->cfg.max_packet + 1, MSG_TRUNC | MSG_DONTWAIT,
                             (struct sockaddr *)&peer.ss, &peer.len);
        if (n < 0)
            return errno == EINTR ? NETSRV__SKIPPED : NETSRV__AGAIN;
        /* At the cap a datagram is read and dropped, and counted: left in
         * the socket it would be dropped by the kernel unseen. */
        if (full) {
            atomic_fetch_add(&srv->dropped, 1);
            return NETSRV__SKIPPED;
        }
        if (!(*out = admit_dgram(srv, lfd, &peer, pktbuf, (size_t)n)))
            return NETSRV__SKIPPED;
    } else {
        if (full) /* clients wait in the backlog until a slot frees */
            return NETSRV__PAUSE;
        /* Blocking modes take blocking sockets straight from accept4. */
        int fd = accept4(lfd, (struct sockaddr *)&peer.ss, &peer.len,
                         SOCK_CLOEXEC | (srv->ops->blocking ? 0 : SOCK_NONBLOCK));
        if (fd < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED)
                return NETSRV__SKIPPED;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                refuse_with_spare(lfd, sparefd);
                netsrv__report(srv, NULL, NULL, -e);
                /* not even the reserve: wait a little before trying again */
                return *sparefd < 0 ? NETSRV__PAUSE : NETSRV__SKIPPED;
            }
            return NETSRV__AGAIN; /* EAGAIN, EPROTO...: retried on the next turn */
        }
        if (!(*out = admit_stream(srv, fd, &peer)))
            return NETSRV__SKIPPED;
    }
    atomic_fetch_add(&srv->active, 1);
    atomic_fetch_add(&srv->served, 1);
    return NETSRV__TAKEN;
}
