/* ref_common.h - what epoll_echo.c, thread_echo.c and fork_echo.c share: the
 * error exit, the "[HOST:]PORT" listener with its "NAME: listening on HOST:PORT"
 * line, the blocking echo loop; static functions, so each still builds alone.
 */
#ifndef REF_COMMON_H
#define REF_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* "NAME: WHAT: <strerror(errno)>" on stderr, and exit status 1. */
static inline void ref_die(const char *name, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", name, what, strerror(errno));
    exit(1);
}

/* Raises the open-files limit to the hard limit and listens on ARG,
 * "[HOST:]PORT" (HOST 127.0.0.1 when left out, port 0 picks a free one),
 * with a socket of type SOCK_STREAM | SOCK_CLOEXEC | FLAGS; prints
 * "NAME: listening on HOST:PORT" on stderr and returns the socket.  Exits
 * with status 2 on a bad HOST, 1 when a call fails. */
static inline int ref_listen(const char *name, const char *arg, int flags)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    struct rlimit rl;
    const char *colon = strrchr(arg, ':');
    char host[64] = "127.0.0.1";
    int lfd, one = 1;

    if (colon) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - arg), arg);
        arg = colon + 1;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(arg));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "%s: bad address '%s'\n", name, host);
        exit(2);
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (lfd < 0)
        ref_die(name, "socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0)
        ref_die(name, "bind");
    if (listen(lfd, SOMAXCONN) < 0)
        ref_die(name, "listen");
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    fprintf(stderr, "%s: listening on %s:%u\n", name, host, ntohs(sin.sin_port));
    return lfd;
}

/* Echoes blocking socket FD through BUF (CAP bytes): recv(), then send it
 * all back, until EOF or an error other than EINTR.  Does not close FD. */
static inline void ref_echo_blocking(int fd, char *buf, size_t cap)
{
    ssize_t r;

    while ((r = recv(fd, buf, cap, 0)) != 0) {
        size_t off = 0;

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        while (off < (size_t)r) {
            ssize_t w = send(fd, buf + off, (size_t)r - off, MSG_NOSIGNAL);

            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return;
            }
            off += (size_t)w;
        }
    }
}

#endif
