/* sigpipe.c - sendfile(2) has no MSG_NOSIGNAL, and a peer that went away
 * must never kill a server with SIGPIPE.  Threads the library runs with
 * every signal blocked say so once; elsewhere SIGPIPE is blocked around
 * the call and the one it raised is taken, so the application's mask and
 * disposition are as they were. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <time.h>

static __thread int tls_blocked;

void netsrv__sigpipe_thread_blocked(int on)
{
    tls_blocked = on;
}

static void take_pending(const sigset_t *pipe)
{
    sigset_t pending;
    struct timespec zero = { 0, 0 };
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
        while (sigtimedwait(pipe, NULL, &zero) < 0 && errno == EINTR)
            ;
}

int netsrv__sigpipe_hold(sigset_t *old)
{
    sigset_t pipe;
    if (tls_blocked)
        return 0;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, old);
    if (sigismember(old, SIGPIPE))
        return 0;
    tls_blocked = 1;
    return 1;
}

void netsrv__sigpipe_release(int held, const sigset_t *old)
{
    if (!held)
        return;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    take_pending(&pipe);
    tls_blocked = 0;
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

ssize_t netsrv__sendfile(int out, int in, off_t *off, size_t count)
{
    if (tls_blocked)
        return sendfile(out, in, off, count);
    sigset_t old;
    int held = netsrv__sigpipe_hold(&old);
    ssize_t n = sendfile(out, in, off, count);
    int e = errno;
    netsrv__sigpipe_release(held, &old);
    errno = e;
    return n;
}
