/* listen.c - the server's socket: create, bind (replacing a stale Unix
 * path, never a live one), listen, or adopt an inherited one (fd:N,
 * systemd's LISTEN_FDS).  Every error path closes what it opened. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int netsrv__set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int netsrv_listen_fds(int unset)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int n = 0;
    if (pid && fds && strtol(pid, NULL, 10) == (long)getpid()) {
        n = (int)strtol(fds, NULL, 10);
        if (n < 0)
            n = 0;
        for (int i = 0; i < n; i++) /* ours now: keep them from our children */
            fcntl(3 + i, F_SETFD, FD_CLOEXEC);
    }
    if (unset) {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
    }
    return n;
}

/* Adopts an inherited socket: learns its type and address from the kernel. */
static int adopt(netsrv_server *srv, int fd, char *err, size_t errlen)
{
    int type = 0;
    socklen_t sl = sizeof type;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) < 0)
        return netsrv__seterr(err, errlen, -ENOTSOCK, "fd %d is not a socket", fd);
    srv->addr.len = sizeof srv->addr.ss;
    if (getsockname(fd, (struct sockaddr *)&srv->addr.ss, &srv->addr.len) < 0)
        return netsrv__seterr(err, errlen, -errno, "fd %d: getsockname: %s", fd, strerror(errno));
    srv->fd = fd;
    srv->socktype = type;
    srv->cfg.dgram = type == SOCK_DGRAM;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    netsrv__set_nonblock(fd, 1);
    if (type == SOCK_STREAM) {
        int acc = 0;
        sl = sizeof acc;
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &sl);
        if (!acc && listen(fd, srv->cfg.backlog) < 0)
            return netsrv__seterr(err, errlen, -errno, "fd %d: listen: %s", fd, strerror(errno));
    }
    srv->activated = 1;
    srv->adopted = 1;
    return 0;
}

int netsrv__listen_open(netsrv_server *srv, char *err, size_t errlen)
{
    const char *a = srv->cfg.address;
    if (a && strncmp(a, "fd:", 3) == 0) {
        char *end;
        long fd = strtol(a + 3, &end, 10);
        if (a[3] == '\0' || *end || fd < 0 || fd > 65535)
            return netsrv__seterr(err, errlen, -EINVAL, "bad address '%s' (expected fd:N)", a);
        return adopt(srv, (int)fd, err, errlen);
    }
    if (a && strcmp(a, "systemd") == 0) {
        if (netsrv_listen_fds(1) < 1)
            return netsrv__seterr(err, errlen, -ENOENT,
                                  "no socket passed by systemd (LISTEN_FDS/LISTEN_PID unset)");
        return adopt(srv, 3, err, errlen);
    }
    int rc = netsrv_addr_parse(a, &srv->addr, err, errlen);
    if (rc < 0)
        return rc;
    srv->socktype = srv->cfg.dgram ? SOCK_DGRAM : SOCK_STREAM;
    srv->fd = socket(srv->addr.ss.ss_family, srv->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (srv->fd < 0)
        return netsrv__seterr(err, errlen, -errno, "socket: %s", strerror(errno));
    int one = 1;
    if (srv->addr.ss.ss_family != AF_UNIX) {
        if (srv->cfg.reuse_address)
            setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        /* Several async loops get a socket each on the same address, and
         * the kernel spreads clients over them evenly. */
        if (srv->cfg.mode == NETSRV_ASYNC && srv->cfg.workers > 1)
            srv->cfg.reuse_port = 1;
        if (srv->cfg.reuse_port &&
            setsockopt(srv->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            return netsrv__seterr(err, errlen, -errno, "SO_REUSEPORT: %s", strerror(errno));
    }
    return 0;
}

/* A Unix path already there is replaced only when nobody answers on it:
 * a stale file from a dead server must not block a restart, and a live
 * server must not lose its name. */
static int clear_stale_unix(netsrv_server *srv, char *err, size_t errlen)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&srv->addr.ss;
    struct stat st;
    if (un->sun_path[0] == '\0' || lstat(un->sun_path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return netsrv__seterr(err, errlen, -EADDRINUSE, "%s exists and is not a socket",
                              un->sun_path);
    int probe = socket(AF_UNIX, srv->socktype | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return 0;
    int rc = connect(probe, (const struct sockaddr *)un, srv->addr.len);
    int e = errno;
    close(probe);
    if (rc == 0 || e != ECONNREFUSED)
        return netsrv__seterr(err, errlen, -EADDRINUSE, "%s: a server is listening there",
                              un->sun_path);
    unlink(un->sun_path);
    return 0;
}

int netsrv__listen_activate(netsrv_server *srv, char *err, size_t errlen)
{
    char shown[NETSRV_ADDRSTRLEN];
    int rc;
    if (srv->activated)
        return 0;
    netsrv_addr_format(&srv->addr, shown, sizeof shown);
    if (srv->addr.ss.ss_family == AF_UNIX && (rc = clear_stale_unix(srv, err, errlen)) < 0)
        return rc;
    if (bind(srv->fd, (struct sockaddr *)&srv->addr.ss, srv->addr.len) < 0) {
        rc = -errno;
        return netsrv__seterr(err, errlen, rc, "%s: %s", shown, netsrv_strerror(rc));
    }
    if (srv->addr.ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&srv->addr.ss;
        struct stat st;
        if (un->sun_path[0] != '\0' && stat(un->sun_path, &st) == 0) {
            srv->unix_owned = 1;
            srv->unix_dev = st.st_dev;
            srv->unix_ino = st.st_ino;
        }
    }
    if (srv->socktype == SOCK_STREAM && listen(srv->fd, srv->cfg.backlog) < 0) {
        rc = -errno;
        return netsrv__seterr(err, errlen, rc, "listen on %s: %s", shown, netsrv_strerror(rc));
    }
    /* Read the real address back: port 0 becomes the port the kernel chose. */
    netsrv_addr got;
    got.len = sizeof got.ss;
    if (getsockname(srv->fd, (struct sockaddr *)&got.ss, &got.len) == 0 &&
        got.ss.ss_family != AF_UNIX)
        srv->addr = got;
    srv->activated = 1;
    return 0;
}

void netsrv__listen_close(netsrv_server *srv)
{
    if (srv->fd < 0)
        return;
    close(srv->fd);
    srv->fd = -1;
    if (srv->unix_owned) {
        /* Unlink only the file we created: a later server may own the name. */
        const struct sockaddr_un *un = (const struct sockaddr_un *)&srv->addr.ss;
        struct stat st;
        if (stat(un->sun_path, &st) == 0 && st.st_dev == srv->unix_dev &&
            st.st_ino == srv->unix_ino)
            unlink(un->sun_path);
        srv->unix_owned = 0;
    }
}

int netsrv__listen_clone(netsrv_server *srv)
{
    if (srv->adopted || !srv->cfg.reuse_port || srv->addr.ss.ss_family == AF_UNIX)
        return -ENOTSUP;
    int fd = socket(srv->addr.ss.ss_family, srv->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (const struct sockaddr *)&srv->addr.ss, srv->addr.len) < 0 ||
        (srv->socktype == SOCK_STREAM && listen(fd, srv->cfg.backlog) < 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}
