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
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ref_common.h"

#define BUFSIZE 65536

static void reap(int sig)
{
    int e = errno;

    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = e;
}

int main(int argc, char **argv)
{
    static char buf[BUFSIZE];
    struct sigaction sa;
    int lfd, one = 1, complained = 0;

    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    lfd = ref_listen("fork_echo", argc > 1 ? argv[1] : "0", 0);

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
            ref_echo_blocking(c, buf, sizeof buf);
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
