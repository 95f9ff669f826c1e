/* task.h - private: event loops and the tasks that run on them.  A task is
 * code written in blocking style; on a loop it is a coroutine that parks on
 * libev watchers, elsewhere it is the calling thread and waits in poll().
 * Nothing here knows about servers: servers and clients both build on it. */
#ifndef NETSRV_TASK_H
#define NETSRV_TASK_H

#include "netsrv.h"
#include "coro.h"
#include <ev.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define NETSRV__INF 1e300

typedef struct netsrv__loop netsrv__loop;

#define NETSRV__STACK_POOL 256 /* ended coroutines' stacks kept, per loop */
#define NETSRV__RBUF_CACHE 64  /* idle input buffers kept, per loop */

struct netsrv_task {
    netsrv__loop *loop;         /* NULL: a blocking task (its own thread) */
    atomic_int refs;            /* the task's own run holds one */
    atomic_int wakes;           /* wake-ups not yet taken by a wait */
    atomic_int cancelled;       /* past the drain deadline: waits fail */
    double cancel_deadline;     /* the drain deadline; NETSRV__INF: none */
    void (*fn)(netsrv_task *t); /* the task's code */
    void (*on_end)(netsrv_task *t); /* after fn, off the task's stack */
    void (*free_fn)(netsrv_task *t); /* when the last reference goes */
    /* a loop task ended before it started (timed out waiting for input,
     * no stack, drained): err says why, 0 for a drain */
    void (*on_abort)(netsrv_task *t, int err);
    /* a wake-up reached the task while it waits stackless for input:
     * returns 1 to start it now, 0 to keep it waiting with no stack (it
     * may have changed the events waited for, netsrv__task_armed_write) */
    int (*on_kick)(netsrv_task *t);
    /* blocking tasks */
    atomic_int efd;             /* eventfd that wakes its poll; made by the
                                   first wait, -1 until then */
    int drain_fd;               /* readable once a drain began (sync mode) */
    double drain_secs;          /* the time a drain leaves; < 0: no limit */
    /* tasks on a loop */
    netsrv__coro co;            /* no stack until the task starts */
    ev_io io;
    ev_timer tm;
    double deadline;            /* of the current wait (monotonic) */
    int result;                 /* what resumed the wait */
    /* fn has returned.  Not a bit with the others: a waker in another
     * thread reads it (nudge) while the loop thread writes the bits
     * beside it, and a bit-field store rewrites its neighbours. */
    atomic_int done;
    unsigned started : 1, waiting : 1, queued : 1;
    unsigned waitio : 1;        /* the current wait is for t->io (see io_cb) */
    unsigned again : 1;         /* fn asks to run again on input (see below) */
    unsigned again_write : 1;   /* and that wait watches writability too
                                   (on_kick's, for a member's queue) */
    unsigned armed : 1;         /* waiting, stackless, to start on input: a
                                   wake-up starts it too */
    int again_fd;
    double again_timeout;
    int rqueued;                /* on the remote list: under loop->rlock */
    netsrv_task *prev, *next;   /* the loop's tasks */
    netsrv_task *qnext;         /* the ready list (or a client loop's pending list) */
    netsrv_task *rnext;         /* the remote wake list: under loop->rlock */
};

struct netsrv__loop {
    struct ev_loop *ev;
    netsrv__coro main;          /* the loop's own context */
    netsrv_task *current;       /* the running coroutine, NULL in the loop */
    netsrv_task *tasks;
    unsigned ntasks;
    size_t stack_size;
    netsrv__coro stacks[NETSRV__STACK_POOL];
    unsigned nstacks;
    size_t rbufsize;
    char *rbufs[NETSRV__RBUF_CACHE];
    unsigned nrbufs;
    /* wake-ups from tasks of this loop: resumed from the loop, never from
     * the waker's own stack */
    netsrv_task *ready, *ready_tail;
    ev_idle ready_w;
    /* wake-ups from other threads */
    pthread_mutex_t rlock;
    netsrv_task *remote;
    ev_async remote_w;
    void (*on_empty)(netsrv__loop *l); /* the last task ended */
    void *owner;
};

/* loop.c */
int netsrv__loop_init(netsrv__loop *l, size_t stack_size, size_t rbufsize);
void netsrv__loop_fini(netsrv__loop *l);

/* An input buffer of l->rbufsize bytes from the cache (or malloc).  Inline:
 * a request/response connection takes one and gives it back per message. */
static inline char *netsrv__loop_rbuf(netsrv__loop *l)
{
    if (l->nrbufs)
        return l->rbufs[--l->nrbufs];
    return (char *)malloc(l->rbufsize);
}

/* Gives one back (kept when it has the cache's size and there is room). */
static inline void netsrv__loop_rbuf_put(netsrv__loop *l, char *buf, size_t size)
{
    if (size == l->rbufsize && l->nrbufs < NETSRV__RBUF_CACHE)
        l->rbufs[l->nrbufs++] = buf;
    else
        free(buf);
}

/* task.c */
/* Whether t's fn has returned (release/acquire: plain moves on x86-64). */
static inline int netsrv__task_done(netsrv_task *t)
{
    return atomic_load_explicit(&t->done, memory_order_acquire);
}
static inline void netsrv__task_set_done(netsrv_task *t, int done)
{
    atomic_store_explicit(&t->done, done, memory_order_release);
}
/* Prepares t for loop (NULL: blocking).  One reference, the run's. */
void netsrv__task_init(netsrv_task *t, netsrv__loop *loop);
/* Starts a loop task's coroutine and runs it until it parks or ends.
 * Fails (-errno, nothing run) when no stack can be had. */
int netsrv__task_start(netsrv_task *t);
/* Starts t once fd turns readable, or aborts it with -ETIMEDOUT when
 * nothing came within timeout seconds (<= 0: none).  Until then t has no
 * stack: a silent connection costs its task and nothing more. */
void netsrv__task_start_on_input(netsrv_task *t, int fd, double timeout);
/* From fn, just before it returns: run fn again, from the start, once fd
 * turns readable.  Meanwhile the task holds no stack (loop tasks). */
void netsrv__task_again_on_input(netsrv_task *t, int fd, double timeout);
/* Ends a loop task that never started: on_abort(t, err), then on_end. */
void netsrv__task_abort(netsrv_task *t, int err);
/* Runs a blocking task's fn and on_end in the calling thread. */
void netsrv__task_run_here(netsrv_task *t);
/* Waits until fd (>= 0) is ready for events, the deadline, a wake-up, or
 * the drain deadline: returns a NETSRV_WAIT_* reason or -errno.  t NULL:
 * outside any task, a plain poll.  flags: */
#define NETSRV__NOWAKE 0x1   /* leave wake-ups for a later wait */
#define NETSRV__NOCANCEL 0x2 /* wait even past the drain deadline */
#define NETSRV__IDLE 0x4     /* nothing in flight: a drain ends it at once */
/* fd is a connection's, closed only through netsrv__conn_close: the
 * watcher may stay started after the wait, so that the next wait on the
 * same socket (the next request of an exchange) needs no ev_io_stop and
 * ev_io_start, and libev no fd change to look at.  A readiness report
 * that comes while the task waits for something else stops it then. */
#define NETSRV__KEEPIO 0x8
int netsrv__task_wait(netsrv_task *t, int fd, short events, double deadline, int flags);
/* Before fd is closed: stops t's watcher on it (one left started by
 * NETSRV__KEEPIO) and makes the next wait on that number set it anew. */
void netsrv__task_unwatch(netsrv_task *t, int fd);
/* Sets the drain deadline (the earlier one wins); a parked loop task
 * re-arms its wait.  Only from the task's own loop thread or the task. */
void netsrv__task_drain(netsrv_task *t, double deadline);
/* Cuts a task off now, from any thread: its waits fail with
 * NETSRV_WAIT_DRAINED from here on. */
void netsrv__task_cancel(netsrv_task *t);
void netsrv__task_unref(netsrv_task *t);
/* The calling thread's task (a coroutine or a blocking one), or NULL. */
netsrv_task *netsrv__task_current(void);
/* Makes t the calling thread's task (blocking tasks; NULL to clear). */
void netsrv__task_set_current(netsrv_task *t);
/* Whether the calling thread runs l (so a wake can go to its ready list). */
int netsrv__loop_is_mine(netsrv__loop *l);
/* Runs l in the calling thread until ev_break (or no watcher is left). */
void netsrv__loop_run(netsrv__loop *l);
/* Queues a wake-up of a parked task of l, from l's thread or another. */
void netsrv__loop_ready(netsrv__loop *l, netsrv_task *t);
void netsrv__loop_remote(netsrv__loop *l, netsrv_task *t);
/* task.c, for loop.c: resumes a parked task; result says why. */
void netsrv__task_resume(netsrv_task *t, int result);
void netsrv__task_kick(netsrv_task *t);
/* For on_kick: the stackless wait also wakes on writability (write 1),
 * which calls on_kick again, or only on input (0). */
void netsrv__task_armed_write(netsrv_task *t, int write);
#define NETSRV__RES_READY 1
#define NETSRV__RES_TIMER 2
#define NETSRV__RES_WAKE 3

/* clock.c */
double netsrv__now(void);
int netsrv__ms_until(double deadline);

#endif /* NETSRV_TASK_H */
