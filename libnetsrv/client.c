/* client.c - loops for client tasks: code written in blocking style (dial,
 * write, readline) runs as one of thousands of coroutines on one libev
 * loop, with the same stream calls a handler uses.  A thin public face on
 * the task layer (loop.c, task.c). */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

struct netsrv_loop {
    netsrv__loop l;
    ev_idle start_w;   /* starts spawned tasks from the loop, never from
                          another task's stack */
    netsrv_task *pending, *pending_tail; /* spawned, not started (qnext) */
    int running;
};

typedef struct netsrv__ctask {
    netsrv_task t;
    void (*fn)(void *arg);
    void *arg;
} netsrv__ctask;

static void ctask_main(netsrv_task *t)
{
    netsrv__ctask *c = container_of(t, netsrv__ctask, t);
    c->fn(c->arg);
}

static void ctask_free(netsrv_task *t)
{
    free(container_of(t, netsrv__ctask, t));
}

static void loop_empty(netsrv__loop *l)
{
    ev_break(l->ev, EVBREAK_ALL);
}

/* Starts the tasks spawned since the last turn, oldest first. */
static void start_cb(struct ev_loop *ev, ev_idle *w, int revents)
{
    netsrv_loop *l = container_of(w, netsrv_loop, start_w);
    (void)revents;
    ev_idle_stop(ev, w);
    netsrv_task *t = l->pending;
    l->pending = l->pending_tail = NULL;
    while (t) {
        netsrv_task *next = t->qnext;
        t->qnext = NULL;
        int rc = netsrv__task_start(t);
        if (rc < 0)
            netsrv__task_abort(t, rc);
        t = next;
    }
}

int netsrv_loop_new(netsrv_loop **out, size_t stack_size)
{
    *out = NULL;
    if (!stack_size)
        stack_size = 64 * 1024;
    if (stack_size < NETSRV_STACK_MIN)
        return -EINVAL;
    netsrv_loop *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    int rc = netsrv__loop_init(&l->l, stack_size, 65536);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->l.owner = l;
    l->l.on_empty = loop_empty;
    ev_idle_init(&l->start_w, start_cb);
    *out = l;
    return 0;
}

void netsrv_loop_free(netsrv_loop *l)
{
    if (!l)
        return;
    if (l->l.ev)
        ev_idle_stop(l->l.ev, &l->start_w);
    netsrv__loop_fini(&l->l);
    free(l);
}

int netsrv_loop_spawn(netsrv_loop *l, void (*fn)(void *arg), void *arg)
{
    netsrv__ctask *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fn = fn;
    c->arg = arg;
    netsrv__task_init(&c->t, &l->l);
    c->t.fn = ctask_main;
    c->t.free_fn = ctask_free;
    if (l->pending_tail)
        l->pending_tail->qnext = &c->t;
    else
        l->pending = &c->t;
    l->pending_tail = &c->t;
    ev_idle_start(l->l.ev, &l->start_w);
    return 0;
}

int netsrv_loop_run(netsrv_loop *l)
{
    if (l->running)
        return -EBUSY;
    if (l->l.ntasks == 0)
        return 0;
    l->running = 1;
    /* No SIGPIPE while it runs, so sendfile needs no mask changes. */
    sigset_t mask;
    int held = netsrv__sigpipe_hold(&mask);
    netsrv__loop_run(&l->l);
    netsrv__sigpipe_release(held, &mask);
    l->running = 0;
    return 0;
}
