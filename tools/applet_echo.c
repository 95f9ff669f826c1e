/* applet_echo.c - "nettool echo": a small nc.  Streams copy stdin to the
 * server and the server's bytes to stdout until the server closes;
 * datagrams send each stdin line as one packet and print its reply.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"

const char nt_echo_usage[] =
    "Usage: nettool echo ADDR [OPTIONS]\n"
    "Connect to ADDR (HOST:PORT, [V6]:PORT or unix:PATH), send stdin and\n"
    "print what comes back on stdout.  A stream connection ends when the\n"
    "server closes it after stdin's end; with -u each line of stdin is one\n"
    "datagram and its reply is awaited before the next one is sent.\n"
    "\n"
    "  -u, --udp            datagrams (UDP or Unix datagram)\n"
    "      --timeout SECS   give up when the server stays silent this long\n"
    "                       (also bounds connecting; default: streams none,\n"
    "                       datagrams 2 seconds per reply)\n"
    "  -v, --verbose        say when connected\n"
    "  -q, --quiet          (accepted for symmetry)\n"
    "  -h, --help           show this help\n";

enum { OPT_TIMEOUT = 256 };

static const struct option nt_echo_options[] = {
    { "dgram",   no_argument,       NULL, 'u' },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "udp",     no_argument,       NULL, 'u' },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

/* Largest datagram sent or taken (the UDP payload limit). */
#define NT_ECHO_MAXDGRAM 65507
#define NT_ECHO_BUFSIZE 65536

static double nt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* poll()'s timeout in ms until deadline (0: none, so -1). */
static int nt_poll_ms(double deadline)
{
    double left;

    if (deadline <= 0)
        return -1;
    left = deadline - nt_now();
    if (left <= 0)
        return 0;
    if (left > 86400)
        return 86400 * 1000;
    return (int)(left * 1000) + 1;
}

/* Writes all of buf to fd (stdout), waiting when fd is non-blocking. */
static int nt_write_all(int fd, const char *buf, size_t len)
{
    struct pollfd p;
    ssize_t n;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            p.fd = fd;
            p.events = POLLOUT;
            poll(&p, 1, -1);
        } else {
            return n < 0 ? -errno : -EIO;
        }
    }
    return 0;
}

static int nt_echo_stream(int fd, const char *addr, double timeout)
{
    static char in[NT_ECHO_BUFSIZE], out[NT_ECHO_BUFSIZE];
    size_t ilen = 0, ioff = 0;
    int stdin_open = 1, wr_shut = 0;
    double deadline = timeout > 0 ? nt_now() + timeout : 0;
    struct pollfd p[2];
    ssize_t n;
    int flags, r;

    /* Our own writes to the socket must never block: a server that is
     * busy writing back to us would wait for our read and we for its. */
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);

    for (;;) {
        if (!stdin_open && ilen == ioff && !wr_shut) {
            /* All of stdin is out: tell the server, keep reading. */
            if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN) {
                nt_error("%s: %s", addr, strerror(errno));
                return NT_EXIT_FAILURE;
            }
            wr_shut = 1;
        }
        p[0].fd = stdin_open && ilen == ioff ? STDIN_FILENO : -1;
        p[0].events = POLLIN;
        p[0].revents = 0;
        p[1].fd = fd;
        p[1].events = POLLIN | (ilen > ioff ? POLLOUT : 0);
        p[1].revents = 0;

        r = poll(p, 2, nt_poll_ms(deadline));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            nt_error("poll: %s", strerror(errno));
            return NT_EXIT_FAILURE;
        }
        if (r == 0) {
            nt_error("%s: timed out", addr);
            return NT_EXIT_FAILURE;
        }

        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            n = read(fd, out, sizeof out);
            if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
                /* spurious wake-up */
            } else if (n < 0) {
                nt_error("%s: %s", addr, strerror(errno));
                return NT_EXIT_FAILURE;
            } else if (n == 0) {
                return NT_EXIT_OK; /* the server closed: done */
            } else {
                if ((r = nt_write_all(STDOUT_FILENO, out, (size_t)n)) < 0) {
                    nt_error("stdout: %s", strerror(-r));
                    return NT_EXIT_FAILURE;
                }
                if (timeout > 0)
                    deadline = nt_now() + timeout;
            }
        }

        if (ilen > ioff && (p[1].revents & (POLLOUT | POLLERR))) {
            n = send(fd, in + ioff, ilen - ioff, MSG_NOSIGNAL);
            if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                nt_error("%s: %s", addr, strerror(errno));
                return NT_EXIT_FAILURE;
            }
            if (n > 0) {
                ioff += (size_t)n;
                if (ioff == ilen)
                    ioff = ilen = 0;
                if (timeout > 0)
                    deadline = nt_now() + timeout;
            }
        }

        if (p[0].fd >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            n = read(STDIN_FILENO, in, sizeof in);
            if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
                /* try again */
            } else if (n < 0) {
                nt_error("stdin: %s", strerror(errno));
                return NT_EXIT_FAILURE;
            } else if (n == 0) {
                stdin_open = 0;
            } else {
                ioff = 0;
                ilen = (size_t)n;
            }
        }
    }
}

/* Reads stdin a line at a time (a line keeps its '\n'; one longer than a
 * datagram is cut into datagram-sized pieces).  Returns the length, 0 at
 * the end, or -1 with errno. */
struct nt_lines {
    char buf[NT_ECHO_BUFSIZE];
    size_t start, end;
    int eof;
};

static ssize_t nt_next_line(struct nt_lines *l, const char **line)
{
    char *nl;
    size_t avail, take;
    ssize_t n;

    for (;;) {
        avail = l->end - l->start;
        nl = avail ? memchr(l->buf + l->start, '\n', avail) : NULL;
        if (nl || avail >= NT_ECHO_MAXDGRAM || (l->eof && avail)) {
            take = nl ? (size_t)(nl - (l->buf + l->start)) + 1 : avail;
            if (take > NT_ECHO_MAXDGRAM)
                take = NT_ECHO_MAXDGRAM;
            *line = l->buf + l->start;
            l->start += take;
            return (ssize_t)take;
        }
        if (l->eof)
            return 0;
        if (l->start > 0) {
            memmove(l->buf, l->buf + l->start, avail);
            l->start = 0;
            l->end = avail;
        }
        n = read(STDIN_FILENO, l->buf + l->end, sizeof l->buf - l->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            l->eof = 1;
        l->end += (size_t)n;
    }
}

static int nt_echo_dgram(int fd, const char *addr, double timeout)
{
    static struct nt_lines lines;
    static char reply[NT_ECHO_BUFSIZE];
    const char *line;
    struct pollfd p;
    double deadline;
    ssize_t len, n;
    int r, answered = 0;

    while ((len = nt_next_line(&lines, &line)) > 0) {
        do
            n = send(fd, line, (size_t)len, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            nt_error("%s: %s", addr, strerror(errno));
            return NT_EXIT_FAILURE;
        }

        deadline = timeout > 0 ? nt_now() + timeout : 0;
        for (;;) {
            p.fd = fd;
            p.events = POLLIN;
            p.revents = 0;
            r = poll(&p, 1, nt_poll_ms(deadline));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                nt_error("poll: %s", strerror(errno));
                return NT_EXIT_FAILURE;
            }
            if (r == 0) {
                nt_error("%s: timed out: no reply within %g s", addr, timeout);
                return NT_EXIT_FAILURE;
            }
            n = recv(fd, reply, sizeof reply, MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                continue;
            if (n < 0) {
                /* ECONNREFUSED: nobody listens (the ICMP came back).
                 * Before any reply that is the same failure as a refused
                 * stream connection, and said the same way. */
                if (errno == ECONNREFUSED && !answered)
                    nt_error("cannot connect to %s: %s", addr, strerror(errno));
                else
                    nt_error("%s: %s", addr, strerror(errno));
                return NT_EXIT_FAILURE;
            }
            answered = 1;
            break;
        }
        if ((r = nt_write_all(STDOUT_FILENO, reply, (size_t)n)) < 0) {
            nt_error("stdout: %s", strerror(-r));
            return NT_EXIT_FAILURE;
        }
    }
    if (len < 0) {
        nt_error("stdin: %s", strerror(errno));
        return NT_EXIT_FAILURE;
    }
    return NT_EXIT_OK;
}

int nt_echo_main(int argc, char **argv)
{
    const char *addr = NULL;
    char err[NETSRV_ERRLEN] = "";
    double timeout = -1;
    int dgram = 0, c, fd, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:u" NT_COMMON_SHORTOPTS,
                            nt_echo_options, NULL)) != -1 || optind < argc) {
        if (c == -1) {
            /* An operand: ADDR, then options may follow it. */
            if (addr)
                nt_usage_error("unexpected argument '%s'", argv[optind]);
            addr = argv[optind++];
            continue;
        }
        switch (c) {
        case 'u':
            dgram = 1;
            break;
        case OPT_TIMEOUT:
            timeout = nt_opt_seconds("--timeout", optarg);
            break;
        default:
            nt_common_option(c, argv);
        }
    }
    if (!addr)
        nt_usage_error("missing ADDR");
    nt_check_address(addr);
    if (timeout < 0)
        timeout = dgram ? 2 : 0;

    nt_ignore_sigpipe();
    fd = netsrv_connect(addr, dgram, timeout, err, sizeof err);
    if (fd < 0) {
        nt_error("cannot connect to %s: %s", addr, nt_reason(err, fd, addr));
        return NT_EXIT_FAILURE;
    }
    if (nt_verbosity >= 2)
        nt_error("connected to %s", addr);

    rc = dgram ? nt_echo_dgram(fd, addr, timeout) : nt_echo_stream(fd, addr, timeout);
    close(fd);
    return rc;
}
