/* addr.c - address text <-> sockaddr, and the client-side connect used by
 * nettool's clients.  Text forms: PORT, HOST:PORT, [V6]:PORT, unix:PATH
 * (unix:@NAME for Linux's abstract namespace). */
#include "config.h"
#include "netsrv_int.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

static int parse_port(const char *s, unsigned *port)
{
    unsigned long v = 0;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 65535)
            return -1;
    }
    *port = (unsigned)v;
    return 0;
}

static int parse_unix(const char *path, netsrv_addr *out, char *err, size_t errlen)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
    size_t n = strlen(path);
    if (n == 0)
        return netsrv__seterr(err, errlen, -EINVAL, "empty Unix socket path");
    if (n >= sizeof un->sun_path)
        return netsrv__seterr(err, errlen, -EINVAL, "Unix socket path longer than %zu bytes",
                              sizeof un->sun_path - 1);
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n);
    if (path[0] == '@') { /* abstract: leading NUL, length counts exactly */
        un->sun_path[0] = '\0';
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        un->sun_path[n] = '\0';
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

static int resolve(const char *host, unsigned port, netsrv_addr *out, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return netsrv__seterr(err, errlen, -ENOENT, "cannot resolve '%s': %s", host,
                              gai_strerror(rc));
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    if (out->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)port);
    return 0;
}

int netsrv_addr_parse(const char *text, netsrv_addr *out, char *err, size_t errlen)
{
    unsigned port;
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return netsrv__seterr(err, errlen, -EINVAL, "empty address");
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text + 5, out, err, errlen);

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        char host[INET6_ADDRSTRLEN + 1];
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
            return netsrv__seterr(err, errlen, -EINVAL,
                                  "bad address '%s' (expected [IPV6]:PORT)", text);
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        if (parse_port(close + 2, &port) < 0)
            return netsrv__seterr(err, errlen, -EINVAL, "bad port in '%s'", text);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return netsrv__seterr(err, errlen, -EINVAL, "bad IPv6 address '%s'", host);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        out->len = sizeof *s6;
        return 0;
    }

    struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
    const char *colon = strrchr(text, ':');
    if (!colon) { /* PORT alone: every IPv4 address, as nginx's "listen PORT" */
        if (parse_port(text, &port) < 0)
            return netsrv__seterr(err, errlen, -EINVAL,
                                  "bad address '%s' (expected PORT, HOST:PORT, [IPV6]:PORT or unix:PATH)",
                                  text);
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        s4->sin_port = htons((uint16_t)port);
        out->len = sizeof *s4;
        return 0;
    }
    if (memchr(text, ':', (size_t)(colon - text)))
        return netsrv__seterr(err, errlen, -EINVAL,
                              "bad address '%s' (write IPv6 addresses as [ADDR]:PORT)", text);
    if (parse_port(colon + 1, &port) < 0)
        return netsrv__seterr(err, errlen, -EINVAL, "bad port in '%s'", text);
    size_t hl = (size_t)(colon - text);
    if (hl == 0)
        return netsrv__seterr(err, errlen, -EINVAL, "missing host in '%s'", text);
    char host[256];
    if (hl >= sizeof host)
        return netsrv__seterr(err, errlen, -EINVAL, "host name too long in '%s'", text);
    memcpy(host, text, hl);
    host[hl] = '\0';
    if (strcmp(host, "*") == 0) {
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        s4->sin_port = htons((uint16_t)port);
        out->len = sizeof *s4;
        return 0;
    }
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        out->len = sizeof *s4;
        return 0;
    }
    return resolve(host, port, out, err, errlen);
}

char *netsrv_addr_format(const netsrv_addr *a, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (!len)
        return buf;
    switch (a->ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        if (a->len <= off) {
            snprintf(buf, len, "unix:");
        } else if (un->sun_path[0] == '\0') {
            size_t n = a->len - off - 1;
            snprintf(buf, len, "unix:@%.*s", (int)n, un->sun_path + 1);
        } else {
            snprintf(buf, len, "unix:%.*s", (int)(a->len - off), un->sun_path);
        }
        break;
    }
    default:
        snprintf(buf, len, "unix:");
    }
    return buf;
}

/* Connects a non-blocking socket to a, waiting as the calling task (a
 * plain poll outside any, so a loop is never held up) until deadline.
 * Returns the fd, still non-blocking, or a negative errno. */
static int connect_one(const netsrv_addr *a, int dgram, double deadline, char *err, size_t errlen)
{
    char shown[NETSRV_ADDRSTRLEN];
    int rc;
    int fd = socket(a->ss.ss_family,
                    (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return netsrv__seterr(err, errlen, -errno, "socket: %s", strerror(errno));
    if (dgram && a->ss.ss_family == AF_UNIX) {
        /* A Unix datagram client needs a name of its own to get replies:
         * binding just the family asks Linux for an abstract autobind. */
        struct sockaddr_un self = { .sun_family = AF_UNIX };
        if (bind(fd, (struct sockaddr *)&self, sizeof(sa_family_t)) < 0) {
            rc = -errno;
            close(fd);
            return netsrv__seterr(err, errlen, rc, "bind: %s", netsrv_strerror(rc));
        }
    }
    rc = connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ? -errno : 0;
    if (rc == -EINPROGRESS || rc == -EAGAIN) {
        int why = netsrv__task_wait(netsrv__task_current(), fd, POLLOUT, deadline, NETSRV__NOWAKE);
        if (why == NETSRV_WAIT_READY) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = -soerr;
        } else {
            rc = why == NETSRV_WAIT_TIMEOUT ? -ETIMEDOUT : why < 0 ? why : -ECANCELED;
        }
    }
    if (rc < 0) {
        netsrv__task_unwatch(netsrv__task_current(), fd); /* the next try may get the same number */
        close(fd);
        netsrv_addr_format(a, shown, sizeof shown);
        return netsrv__seterr(err, errlen, rc, "%s: %s", shown, netsrv_strerror(rc));
    }
    return fd;
}

int netsrv__dial(const char *text, int dgram, double timeout, char *err, size_t errlen)
{
    double deadline = timeout > 0 ? netsrv__now() + timeout : NETSRV__INF;
    netsrv_addr a;
    /* A name is looked up without blocking a loop (resolve.c), and may
     * stand for several addresses (localhost: ::1 and 127.0.0.1): each is
     * tried in turn, as curl and nc do.  Anything else parses at once. */
    const char *colon = text ? strrchr(text, ':') : NULL;
    char host[256];
    size_t hl = colon ? (size_t)(colon - text) : 0;
    struct in_addr probe;
    int by_name = colon && text[0] != '[' && strncmp(text, "unix:", 5) != 0 &&
                  strncmp(text, "fd:", 3) != 0 && hl > 0 && hl < sizeof host && colon[1];
    if (by_name) {
        memcpy(host, text, hl);
        host[hl] = '\0';
        by_name = inet_pton(AF_INET, host, &probe) != 1 && strcmp(host, "*") != 0;
    }
    if (!by_name) {
        int rc = netsrv_addr_parse(text, &a, err, errlen);
        return rc < 0 ? rc : connect_one(&a, dgram, deadline, err, errlen);
    }
    struct addrinfo *res = NULL;
    netsrv_task *t = netsrv__task_current();
    int rc;
    if (t && t->loop) {
        rc = netsrv__resolve(t, host, colon + 1, dgram, deadline, &res, err, errlen);
    } else {
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = dgram ? SOCK_DGRAM : SOCK_STREAM;
        int g = getaddrinfo(host, colon + 1, &hints, &res);
        rc = g == 0 ? 0 : netsrv__seterr(err, errlen, g == EAI_NONAME ? -ENOENT : -EINVAL,
                                         "%s: %s", host, gai_strerror(g));
    }
    if (rc < 0)
        return rc;
    rc = netsrv__seterr(err, errlen, -ENOENT, "%s: no address", host);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        netsrv_addr each;
        memcpy(&each.ss, ai->ai_addr, ai->ai_addrlen);
        each.len = ai->ai_addrlen;
        rc = connect_one(&each, dgram, deadline, err, errlen);
        if (rc >= 0 || rc == -ETIMEDOUT || rc == -ECANCELED)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

int netsrv_connect(const char *text, int dgram, double timeout, char *err, size_t errlen)
{
    int fd = netsrv__dial(text, dgram, timeout, err, errlen);
    if (fd >= 0)
        netsrv__set_nonblock(fd, 0); /* the caller's: an ordinary blocking socket */
    return fd;
}
