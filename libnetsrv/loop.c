/* loop.c - an event loop for tasks: a libev loop, the pool of stacks and
 * input buffers its tasks reuse, and the two ways a parked task is woken:
 * from the loop's own thread (a ready list drained by an ev_idle watcher,
 * so a waker never runs another task on its own stack) and from any other
 * thread (a locked list and an ev_async, as libev's THREADS section says). */
#include "config.h"
#include "task.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static __thread netsrv__loop *tls_loop;

int netsrv__loop_is_mine(netsrv__loop *l)
{
    return tls_loop == l;
}

/* A wake-up reaches t on its loop: a parked task resumes, a stackless one
 * waiting for input starts; then the list's reference goes. */
static void wake_one(netsrv_task *t)
{
    if (t->waiting && !netsrv__task_done(t))
        netsrv__task_resume(t, NETSRV__RES_WAKE);
    else
        netsrv__task_kick(t);
    netsrv__task_unref(t);
}

static void ready_cb(struct ev_loop *ev, ev_idle *w, int revents)
{
    netsrv__loop *l = container_of(w, netsrv__loop, ready_w);
    (void)revents;
    /* Only the tasks queued so far: one woken now waits for the next turn,
     * so two tasks that wake each other cannot starve the loop's I/O. */
    netsrv_task *t = l->ready;
    l->ready = l->ready_tail = NULL;
    ev_idle_stop(ev, w);
    while (t) {
        netsrv_task *next = t->qnext;
        t->qnext = NULL;
        t->queued = 0;
        wake_one(t);
        t = next;
    }
}

void netsrv__loop_ready(netsrv__loop *l, netsrv_task *t)
{
    if (t->queued || !(t->waiting || t->armed))
        return; /* a running task sees its wake-up at its next wait */
    t->queued = 1;
    atomic_fetch_add(&t->refs, 1);
    t->qnext = NULL;
    if (l->ready_tail)
        l->ready_tail->qnext = t;
    else
        l->ready = t;
    l->ready_tail = t;
    ev_idle_start(l->ev, &l->ready_w);
}

/* Takes the remote list and hands each task on it to fn.  Each task
 * leaves the list (rqueued = 0) only as it is taken, under the lock: one
 * still on it is never listed again, since listing it anew would set its
 * rnext while this walk still has to follow it (a sender waking the same
 * task again meanwhile cut the list, and the tasks past the cut stayed
 * marked as listed, deaf for good). */
static void remote_each(netsrv__loop *l, void (*fn)(netsrv_task *))
{
    pthread_mutex_lock(&l->rlock);
    netsrv_task *t = l->remote;
    l->remote = NULL;
    pthread_mutex_unlock(&l->rlock);
    while (t) {
        pthread_mutex_lock(&l->rlock);
        netsrv_task *next = t->rnext;
        t->rnext = NULL;
        t->rqueued = 0;
        pthread_mutex_unlock(&l->rlock);
        fn(t);
        t = next;
    }
}

static void remote_cb(struct ev_loop *ev, ev_async *w, int revents)
{
    (void)ev;
    (void)revents;
    remote_each(container_of(w, netsrv__loop, remote_w), wake_one);
}

void netsrv__loop_remote(netsrv__loop *l, netsrv_task *t)
{
    pthread_mutex_lock(&l->rlock);
    if (!t->rqueued) {
        t->rqueued = 1;
        atomic_fetch_add(&t->refs, 1); /* the task cannot go while listed */
        t->rnext = l->remote;
        l->remote = t;
    }
    pthread_mutex_unlock(&l->rlock);
    ev_async_send(l->ev, &l->remote_w);
}

int netsrv__loop_init(netsrv__loop *l, size_t stack_size, size_t rbufsize)
{
    memset(l, 0, sizeof *l);
    l->stack_size = stack_size;
    l->rbufsize = rbufsize;
    /* Not the default loop: it would take SIGCHLD from the application. */
    l->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!l->ev)
        return -ENOMEM;
    pthread_mutex_init(&l->rlock, NULL);
    ev_idle_init(&l->ready_w, ready_cb);
    ev_async_init(&l->remote_w, remote_cb);
    /* It stays active, so ev_run returns only by ev_break: a task parked
     * for a wake-up alone, with no watcher of its own, still keeps the
     * loop running. */
    ev_async_start(l->ev, &l->remote_w);
    return 0;
}

/* Wake-ups still listed when the loop stopped.  A loop stops once its
 * last task ended, in the callback that ended it: a wake-up listed
 * meanwhile (a remote one is listed even for a running task; its ev_async
 * is only seen on the next turn, which never comes) still holds the
 * list's reference, often the task's last.  Dropping them frees those
 * tasks, before the caches go (a request gives its buffer back to them). */
static void drop_listed(netsrv__loop *l)
{
    netsrv_task *t = l->ready;
    l->ready = l->ready_tail = NULL;
    while (t) {
        netsrv_task *next = t->qnext;
        t->qnext = NULL;
        t->queued = 0;
        netsrv__task_unref(t);
        t = next;
    }
    remote_each(l, netsrv__task_unref);
}

void netsrv__loop_fini(netsrv__loop *l)
{
    if (!l->ev)
        return; /* never initialised, or already finished */
    drop_listed(l);
    while (l->nstacks)
        netsrv__coro_free(&l->stacks[--l->nstacks]);
    while (l->nrbufs)
        free(l->rbufs[--l->nrbufs]);
    ev_async_stop(l->ev, &l->remote_w);
    ev_idle_stop(l->ev, &l->ready_w);
    ev_loop_destroy(l->ev);
    l->ev = NULL;
    pthread_mutex_destroy(&l->rlock);
}

void netsrv__loop_run(netsrv__loop *l)
{
    netsrv__loop *outer = tls_loop;
    tls_loop = l;
    ev_run(l->ev, 0);
    tls_loop = outer;
}
