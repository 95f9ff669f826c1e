/* fork_echo.c - the process-per-connection reference for echo-bench.sh: a
 * minimal echo server with blocking sockets.  The parent accepts and forks;
 * the child does recv() and then sends it all back, until EOF, and _exits;
 * the parent reaps children from a SIGCHLD handler (waitpid WNOHANG).
 * There is nothing a real server needs (no connection cap, no timeouts, no
 * logging, no draining at shutdown), so what it costs - a fork and an exit
 * per connection, a blocking recv and send per request - is the least a
 * process-per-connection server can pay: nettool's fork mode is shown
 * against it.
 *
 *   cc -O2 -o fork_echo fork_echo.c && ./fork_echo [HOST:]PORT
 *
 * Port 0 picks a free one; the address is printed on stderr as
 * "fork_echo: listening on HOST:PORT".  Like nettool it raises its
 * open-files limit to the hard limit and sets TCP_NODELAY on every
 * connection.  Children are waited for rather than left to SIGCHLD =
 * SIG_IGN: Linux adds only waited-for children to the parent's CPU times,
 * which is where echo-bench.sh reads the server's CPU use from.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUFSIZE 65536

static void die(const char *what)
{
    fprintf(stderr, "fork_echo: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void reap(int sig)
{
    int e = errno;

    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = e;
}

static void serve(int fd)
{
    static char buf[BUFSIZE];
    ssize_t r;

    while ((r = recv(fd, buf, sizeof buf, 0)) != 0) {
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

int main(int argc, char **argv)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    struct rlimit rl;
    struct sigaction sa;
    const char *arg = argc > 1 ? argv[1] : "0", *colon = strrchr(arg, ':');
    char host[64] = "127.0.0.1";
    int lfd, one = 1, complained = 0;

    if (colon) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - arg), arg);
        arg = colon + 1;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(arg));
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "fork_echo: bad address '%s'\n", host);
        return 2;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0)
        die("bind");
    if (listen(lfd, SOMAXCONN) < 0)
        die("listen");
    getsockname(lfd, (struct sockaddr *)&sin, &sl);
    fprintf(stderr, "fork_echo: listening on %s:%u\n", host, ntohs(sin.sin_port));

    for (;;) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        pid_t pid;

        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (!complained++)
                    fprintf(stderr, "fork_echo: accept: %s\n", strerror(errno));
                usleep(1000);  /* until a connection ends */
            }
            continue;  /* EINTR, ECONNABORTED, ... */
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pid = fork();
        if (pid == 0) {
            close(lfd);
            serve(c);
            _exit(0);
        }
        if (pid < 0) {
            if (!complained++)
                fprintf(stderr, "fork_echo: fork: %s\n", strerror(errno));
            usleep(1000);  /* until a child exits (EAGAIN: RLIMIT_NPROC) */
        }
        close(c);
    }
}
