/* spawn.c - running a program on the connection (inetd style).  The
 * program gets the socket itself as stdin and stdout, so a client's
 * half-close reaches it as EOF while its output still flows back, and its
 * exit ends the connection.  It inherits no other descriptor. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t netsrv_spawn(netsrv_request *req, char *const argv[])
{
    if (req->dgram)
        return -ENOTSOCK;
    if (!argv || !argv[0])
        return -EINVAL;
    int r = netsrv_flush(req);
    if (r < 0)
        return r;
    /* The program expects an ordinary blocking descriptor; the flag is
     * shared with our copy, which we do not read or write any more. */
    netsrv__set_nonblock(req->fd, 0);
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        r = -errno;
        close(errpipe[0]);
        close(errpipe[1]);
        return r;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to execvp. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
        int e = 0;
        if (dup2(req->fd, 0) < 0 || dup2(req->fd, 1) < 0)
            e = errno;
        if (!e) {
            /* Everything above stderr goes, except the error pipe, which
             * is close-on-exec and tells the parent if exec failed. */
            int keep = errpipe[1];
            if (keep > 3)
                close_range(3, (unsigned)keep - 1, 0);
            close_range((unsigned)keep + 1, ~0U, 0);
            execvp(argv[0], argv);
            e = errno;
        }
        ssize_t w = write(errpipe[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(errpipe[1]);
    int e = 0;
    ssize_t n;
    while ((n = read(errpipe[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(errpipe[0]);
    if (n == (ssize_t)sizeof e) { /* exec failed: reap and say why */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -e;
    }
    return pid;
}

int netsrv_waitpid(netsrv_request *req, pid_t pid, int *status)
{
    int st = 0;
    /* Wait on a pidfd so the server's drain deadline can still cut a
     * program off; without pidfds, a plain blocking waitpid. */
    int pfd = pidfd_open(pid, 0);
    if (pfd >= 0) {
        /* past the drain deadline: ask the program to stop, then reap */
        if (netsrv__wait(req, pfd, POLLIN, 0) < 0)
            kill(pid, SIGTERM);
        close(pfd);
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    if (status)
        *status = st;
    return 0;
}
