/* thread_echo.c - the thread-per-connection reference for echo-bench.sh: a
 * minimal echo server with blocking sockets.  The main thread accepts; each
 * connection gets a detached thread that does recv() and then sends it all
 * back, until EOF.  There is nothing a real server needs (no connection
 * cap, no timeouts, no logging, no joining or draining at shutdown), so
 * what it costs per request - a blocking recv, a blocking send, the wake-up
 * of the thread that waits on the socket - is the least a thread-per-
 * connection server can pay: nettool's thread mode is shown against it.
 *
 *   cc -O2 -pthread -o thread_echo thread_echo.c && ./thread_echo [HOST:]PORT
 *
 * Port 0 picks a free one; the address is printed on stderr as
 * "thread_echo: listening on HOST:PORT".  Like nettool it raises its
 * open-files limit to the hard limit and sets TCP_NODELAY on every
 * connection; threads get 64 KiB stacks (the 64 KiB buffer is on the heap,
 * as nettool's is), so 1,000 connections take little memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ref_common.h"

#define BUFSIZE 65536
#define STACKSIZE (64 * 1024)

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    char *buf = malloc(BUFSIZE);

    if (buf)
        ref_echo_blocking(fd, buf, BUFSIZE);
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_attr_t attr;
    long minstack = sysconf(_SC_THREAD_STACK_MIN);
    size_t stack = STACKSIZE;
    int lfd, one = 1, complained = 0;

    signal(SIGPIPE, SIG_IGN);
    lfd = ref_listen("thread_echo", argc > 1 ? argv[1] : "0", 0);

    /* 64 KiB, or the least the platform takes when that is more (128 KiB
     * on AArch64 with 64 KiB pages). */
    if (minstack > 0 && (size_t)minstack > stack)
        stack = (size_t)minstack;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_attr_setstacksize(&attr, stack) != 0)
        fprintf(stderr, "thread_echo: cannot set a %zu-byte stack; using the default\n", stack);

    for (;;) {
        pthread_t tid;
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), rc;

        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (!complained++)
                    fprintf(stderr, "thread_echo: accept: %s\n", strerror(errno));
                usleep(1000);  /* until a connection ends */
            }
            continue;  /* EINTR, ECONNABORTED, ... */
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        rc = pthread_create(&tid, &attr, serve, (void *)(long)c);
        if (rc != 0) {
            if (!complained++)
                fprintf(stderr, "thread_echo: pthread_create: %s\n", strerror(rc));
            close(c);
        }
    }
}
