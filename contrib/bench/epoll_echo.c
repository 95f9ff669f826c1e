/* epoll_echo.c - the floor-cost reference for echo-bench.sh: a minimal
 * single-threaded, level-triggered epoll echo server with nothing a real
 * server needs (no limits, no timeouts, no logging).  Whatever it does per
 * request is the least any server has to do, so other servers' figures are
 * shown as a ratio to it.
 *
 *   cc -O2 -o epoll_echo epoll_echo.c && ./epoll_echo [HOST:]PORT
 *
 * Port 0 picks a free one; the address is printed on stderr as
 * "epoll_echo: listening on HOST:PORT".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ref_common.h"

#define BUFSIZE 65536

/* Output the peer was not ready for, per fd (rare: only when a send
 * comes back short).  While some is pending the fd is not read. */
struct pending {
    char *buf;
    size_t len, off;
};

static struct pending *pend;
static size_t npend;

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if ((size_t)fd < npend) {
        free(pend[fd].buf);
        memset(&pend[fd], 0, sizeof pend[fd]);
    }
}

static void watch(int ep, int op, int fd, unsigned events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep, op, fd, &ev);
}

/* Sends buf to fd; keeps what did not fit.  0, or -1 when fd is gone. */
static int echo_out(int ep, int fd, const char *buf, size_t len)
{
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        n = 0;
    }
    if ((size_t)n == len)
        return 0;
    if ((size_t)fd >= npend) {
        size_t want = (size_t)fd * 2 + 64;
        struct pending *p = realloc(pend, want * sizeof *p);

        if (!p)
            return -1;
        memset(p + npend, 0, (want - npend) * sizeof *p);
        pend = p;
        npend = want;
    }
    pend[fd].buf = malloc(len - (size_t)n);
    if (!pend[fd].buf)
        return -1;
    memcpy(pend[fd].buf, buf + n, len - (size_t)n);
    pend[fd].len = len - (size_t)n;
    pend[fd].off = 0;
    watch(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
    return 0;
}

static int flush_out(int ep, int fd)
{
    struct pending *p = &pend[fd];
    ssize_t n = send(fd, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL);

    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    p->off += (size_t)n;
    if (p->off == p->len) {
        free(p->buf);
        memset(p, 0, sizeof *p);
        watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static char buf[BUFSIZE];
    struct epoll_event evs[256];
    int lfd, ep, one = 1, i, n;

    signal(SIGPIPE, SIG_IGN);
    /* Non-blocking: accept4() below takes connections until EAGAIN. */
    lfd = ref_listen("epoll_echo", argc > 1 ? argv[1] : "0", SOCK_NONBLOCK);

    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        ref_die("epoll_echo", "epoll_create1");
    watch(ep, EPOLL_CTL_ADD, lfd, EPOLLIN);
    for (;;) {
        n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ref_die("epoll_echo", "epoll_wait");
        }
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;

            if (fd == lfd) {
                int c;

                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    watch(ep, EPOLL_CTL_ADD, c, EPOLLIN);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (flush_out(ep, fd) < 0)
                    drop(ep, fd);
                continue;
            }
            {
                ssize_t r = recv(fd, buf, sizeof buf, 0);

                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                    drop(ep, fd);
                else if (r > 0 && echo_out(ep, fd, buf, (size_t)r) < 0)
                    drop(ep, fd);
            }
        }
    }
}
