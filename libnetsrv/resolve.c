/* resolve.c - name lookups that never block a loop: getaddrinfo runs on a
 * small pool of threads, and the asking task waits (netsrv_wait) until the
 * pool wakes it.  A task that gives up leaves the job to finish and free
 * itself: a job is referenced by both sides. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define POOL_THREADS 4

typedef struct netsrv__lookup {
    struct netsrv__lookup *next;
    char *host, *port;
    int dgram;
    struct addrinfo *res;
    int gai;                    /* getaddrinfo's result */
    atomic_int done;
    atomic_int refs;
    netsrv_task *task;          /* referenced until the job is done */
} netsrv__lookup;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static netsrv__lookup *pool_head, *pool_tail;
static int pool_threads;

static void lookup_unref(netsrv__lookup *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    if (j->res)
        freeaddrinfo(j->res);
    free(j->host);
    free(j->port);
    free(j);
}

static void *pool_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&pool_lock);
        while (!pool_head)
            pthread_cond_wait(&pool_cv, &pool_lock);
        netsrv__lookup *j = pool_head;
        pool_head = j->next;
        if (!pool_head)
            pool_tail = NULL;
        pthread_mutex_unlock(&pool_lock);
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = j->dgram ? SOCK_DGRAM : SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG;
        j->gai = getaddrinfo(j->host, j->port, &hints, &j->res);
        /* Under the lock: a task that gave up has cleared j->task, and
         * its loop may be gone. */
        pthread_mutex_lock(&pool_lock);
        atomic_store(&j->done, 1);
        netsrv_task *t = j->task;
        j->task = NULL;
        if (t)
            netsrv_task_wake(t);
        pthread_mutex_unlock(&pool_lock);
        if (t)
            netsrv__task_unref(t);
        lookup_unref(j);
    }
    return NULL;
}

/* Starts the pool's threads once; they live as long as the process, with
 * every signal blocked so that signals go to the application's threads. */
static int pool_start(void)
{
    int rc = 0;
    pthread_mutex_lock(&pool_lock);
    if (pool_threads == 0) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (int i = 0; i < POOL_THREADS; i++) {
            pthread_t th;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 256 * 1024);
            if (pthread_create(&th, &attr, pool_main, NULL) == 0)
                pool_threads++;
            pthread_attr_destroy(&attr);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (pool_threads == 0)
            rc = -EAGAIN;
    }
    pthread_mutex_unlock(&pool_lock);
    return rc;
}

int netsrv__resolve(netsrv_task *t, const char *host, const char *port, int dgram,
                    double deadline, struct addrinfo **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = pool_start();
    if (rc < 0)
        return netsrv__seterr(err, errlen, rc, "%s: no resolver thread", host);
    netsrv__lookup *j = calloc(1, sizeof *j);
    if (!j || !(j->host = strdup(host)) || !(j->port = strdup(port))) {
        if (j) {
            free(j->host);
            free(j);
        }
        return netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
    }
    j->dgram = dgram;
    atomic_init(&j->refs, 2);
    atomic_init(&j->done, 0);
    j->task = t;
    netsrv_task_ref(t);
    pthread_mutex_lock(&pool_lock);
    if (pool_tail)
        pool_tail->next = j;
    else
        pool_head = j;
    pool_tail = j;
    pthread_cond_signal(&pool_cv);
    pthread_mutex_unlock(&pool_lock);
    while (!atomic_load(&j->done)) {
        int why = netsrv__task_wait(t, -1, 0, deadline, 0);
        if (why == NETSRV_WAIT_TIMEOUT || why == NETSRV_WAIT_DRAINED || why < 0) {
            int e = why == NETSRV_WAIT_TIMEOUT ? -ETIMEDOUT : why < 0 ? why : -ECANCELED;
            pthread_mutex_lock(&pool_lock);
            netsrv_task *mine = j->task;
            j->task = NULL;
            pthread_mutex_unlock(&pool_lock);
            if (mine)
                netsrv__task_unref(mine);
            lookup_unref(j);
            return netsrv__seterr(err, errlen, e, "%s: looking it up: %s", host,
                                  netsrv_strerror(e));
        }
    }
    if (j->gai != 0) {
        int e = j->gai == EAI_NONAME || j->gai == EAI_NODATA ? -ENOENT
              : j->gai == EAI_AGAIN ? -EAGAIN : -EINVAL;
        rc = netsrv__seterr(err, errlen, e, "%s: %s", host, gai_strerror(j->gai));
    } else {
        *out = j->res; /* the caller's now */
        j->res = NULL;
    }
    lookup_unref(j);
    return rc;
}
