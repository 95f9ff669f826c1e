/* task.c - tasks: code in blocking style that waits through one call,
 * netsrv__task_wait, which says why it returned (ready, timed out, woken,
 * drained).  On a loop the task is a coroutine parked on its ev_io/ev_timer;
 * a blocking task is the calling thread, waiting in poll() with an eventfd
 * for wake-ups.  This is what lets the same code run in every mode. */
#include "config.h"
#include "task.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static __thread netsrv_task *tls_current;

netsrv_task *netsrv__task_current(void) { return tls_current; }
void netsrv__task_set_current(netsrv_task *t) { tls_current = t; }
netsrv_task *netsrv_task_self(void) { return tls_current; }

double netsrv_now(void) { return netsrv__now(); }

static void eventfd_post(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one); /* full counter: readable anyway */
    (void)r;
}

static void eventfd_clear(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
}

static void io_cb(struct ev_loop *ev, ev_io *io, int revents);
static void timer_cb(struct ev_loop *ev, ev_timer *tm, int revents);

void netsrv__task_init(netsrv_task *t, netsrv__loop *loop)
{
    t->loop = loop;
    atomic_init(&t->refs, 1);
    atomic_init(&t->wakes, 0);
    atomic_init(&t->cancelled, 0);
    atomic_init(&t->done, 0);
    atomic_init(&t->efd, -1);
    t->drain_fd = -1;
    t->drain_secs = -1;
    t->cancel_deadline = NETSRV__INF;
    if (loop) {
        t->next = loop->tasks;
        if (loop->tasks)
            loop->tasks->prev = t;
        loop->tasks = t;
        loop->ntasks++;
    }
}

void netsrv_task_ref(netsrv_task *t)
{
    atomic_fetch_add(&t->refs, 1);
}

void netsrv__task_unref(netsrv_task *t)
{
    if (atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    int efd = atomic_load(&t->efd);
    if (efd >= 0)
        close(efd);
    if (t->free_fn)
        t->free_fn(t);
}

void netsrv_task_unref(netsrv_task *t)
{
    netsrv__task_unref(t);
}

/* ---- tasks on a loop ---- */

/* Off the task's stack, on the loop: the task's watchers and stack go,
 * then its owner's on_end, then the run's reference. */
static void stack_put(netsrv__loop *l, netsrv_task *t)
{
    if (t->co.stack) {
        if (l->nstacks < NETSRV__STACK_POOL)
            l->stacks[l->nstacks++] = t->co;
        else
            netsrv__coro_free(&t->co);
        t->co.stack = NULL;
    }
}

static void arm_on_input(netsrv_task *t, int fd, double timeout, int reuse);

static void task_end(netsrv_task *t)
{
    netsrv__loop *l = t->loop;
    ev_io_stop(l->ev, &t->io);
    ev_timer_stop(l->ev, &t->tm);
    if (t->again) {
        /* fn returned asking to run again on input: its stack goes back
         * to the pool, and the task waits like one never started. */
        t->again = 0;
        netsrv__task_set_done(t, 0);
        t->started = 0;
        stack_put(l, t);
        arm_on_input(t, t->again_fd, t->again_timeout, 1);
        if (t->again_write) {
            t->again_write = 0;
            netsrv__task_armed_write(t, 1);
        }
        return;
    }
    if (t->prev)
        t->prev->next = t->next;
    else
        l->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    l->ntasks--;
    stack_put(l, t);
    netsrv__task_set_done(t, 1);
    if (t->on_end)
        t->on_end(t);
    netsrv__task_unref(t);
    if (l->ntasks == 0 && l->on_empty)
        l->on_empty(l);
}

static void task_main(void *arg)
{
    netsrv_task *t = arg;
    t->fn(t);
    netsrv__task_set_done(t, 1);
    netsrv__coro_switch(&t->co, &t->loop->main, 1); /* never comes back */
}

/* A wake-up reached a stackless task waiting to start on input (a kept
 * connection that is also a group member): it starts now, unless its
 * owner could do what the wake-up asked without a stack (a group member
 * writes its queue out, which needs no coroutine). */
void netsrv__task_kick(netsrv_task *t)
{
    if (!t->armed || netsrv__task_done(t))
        return;
    if (t->on_kick && !t->on_kick(t))
        return;
    int rc = netsrv__task_start(t);
    if (rc < 0)
        netsrv__task_abort(t, rc);
}

void netsrv__task_resume(netsrv_task *t, int result)
{
    netsrv__loop *l = t->loop;
    t->result = result;
    l->current = t;
    tls_current = t;
    netsrv__coro_switch(&l->main, &t->co, 0);
    l->current = NULL;
    tls_current = NULL;
    if (netsrv__task_done(t))
        task_end(t);
}

int netsrv__task_start(netsrv_task *t)
{
    netsrv__loop *l = t->loop;
    ev_io_stop(l->ev, &t->io);
    ev_timer_stop(l->ev, &t->tm);
    if (l->nstacks) {
        t->co = l->stacks[--l->nstacks];
        netsrv__coro_reset(&t->co, task_main, t);
    } else {
        int rc = netsrv__coro_init(&t->co, l->stack_size, task_main, t);
        if (rc < 0)
            return rc;
    }
    ev_init(&t->io, io_cb);
    ev_init(&t->tm, timer_cb);
    t->armed = 0;
    t->started = 1;
    netsrv__task_resume(t, 0);
    return 0;
}

void netsrv__task_again_on_input(netsrv_task *t, int fd, double timeout)
{
    t->again = 1;
    t->again_fd = fd;
    t->again_timeout = timeout;
}

void netsrv__task_abort(netsrv_task *t, int err)
{
    t->armed = 0;
    if (t->on_abort)
        t->on_abort(t, err);
    task_end(t);
}

void netsrv__task_armed_write(netsrv_task *t, int write)
{
    netsrv__loop *l = t->loop;
    int mask = EV_READ | (write ? EV_WRITE : 0);
    if ((t->io.events & (EV_READ | EV_WRITE)) == mask)
        return;
    ev_io_stop(l->ev, &t->io);
    ev_io_set(&t->io, t->io.fd, mask);
    ev_io_start(l->ev, &t->io);
}

static void first_io_cb(struct ev_loop *ev, ev_io *io, int revents)
{
    netsrv_task *t = container_of(io, netsrv_task, io);
    (void)ev;
    if (!(revents & EV_READ) && t->on_kick) {
        netsrv__task_kick(t); /* only writable: the owner's stackless work */
        return;
    }
    int rc = netsrv__task_start(t);
    if (rc < 0)
        netsrv__task_abort(t, rc);
}

static void first_timer_cb(struct ev_loop *ev, ev_timer *tm, int revents)
{
    netsrv_task *t = container_of(tm, netsrv_task, tm);
    (void)ev;
    (void)revents;
    netsrv__task_abort(t, -ETIMEDOUT);
}

/* reuse: the watcher already has fd and EV_READ from the request's own
 * waits (a kept connection going idle).  Setting them again would mark the
 * fd as new to libev, which then makes an epoll_ctl for an unchanged fd:
 * one system call more on every keep-alive request. */
static void arm_on_input(netsrv_task *t, int fd, double timeout, int reuse)
{
    netsrv__loop *l = t->loop;
    t->armed = 1;
    if (reuse && t->io.fd == fd && (t->io.events & (EV_READ | EV_WRITE)) == EV_READ)
        ev_set_cb(&t->io, first_io_cb);
    else
        ev_io_init(&t->io, first_io_cb, fd, EV_READ);
    ev_io_start(l->ev, &t->io);
    if (timeout > 0) {
        ev_timer_init(&t->tm, first_timer_cb, timeout, 0);
        ev_timer_start(l->ev, &t->tm);
    }
}

void netsrv__task_start_on_input(netsrv_task *t, int fd, double timeout)
{
    arm_on_input(t, fd, timeout, 0);
}

static void io_cb(struct ev_loop *ev, ev_io *io, int revents)
{
    netsrv_task *t = container_of(io, netsrv_task, io);
    (void)ev;
    (void)revents;
    if (t->waiting && t->waitio) {
        netsrv__task_resume(t, NETSRV__RES_READY);
        return;
    }
    /* A watcher left started by a connection's wait (NETSRV__KEEPIO)
     * while the task waits for something else, or is busy: it is started
     * again by the next wait on that socket. */
    ev_io_stop(ev, io);
}

/* The timer is re-armed lazily ("be smart about timeouts" in libev's
 * manual): a wait that ends early leaves it running, and when it fires
 * before the current wait's deadline it is only set again for the rest. */
static void timer_cb(struct ev_loop *ev, ev_timer *tm, int revents)
{
    netsrv_task *t = container_of(tm, netsrv_task, tm);
    (void)revents;
    if (!t->waiting || t->deadline >= NETSRV__INF)
        return;
    double left = t->deadline - netsrv__now();
    if (left > 0.0005) {
        ev_timer_set(&t->tm, left, 0);
        ev_timer_start(ev, &t->tm);
        return;
    }
    netsrv__task_resume(t, NETSRV__RES_TIMER);
}

/* ---- waiting ---- */

/* What a wait returns before it waits at all, or 0 to wait. */
static int wait_done(netsrv_task *t, double deadline, int flags, double *eff)
{
    int cancel = !(flags & NETSRV__NOCANCEL);
    if (cancel && atomic_load(&t->cancelled))
        return NETSRV_WAIT_DRAINED;
    if ((flags & NETSRV__IDLE) && t->cancel_deadline < NETSRV__INF)
        return NETSRV_WAIT_DRAINED; /* draining, and this wait has nothing to finish */
    if (!(flags & NETSRV__NOWAKE) && atomic_load(&t->wakes) && atomic_exchange(&t->wakes, 0))
        return NETSRV_WAIT_WOKEN;
    *eff = cancel && t->cancel_deadline < deadline ? t->cancel_deadline : deadline;
    if (*eff < NETSRV__INF && netsrv__now() >= *eff) {
        if (cancel && t->cancel_deadline <= deadline) {
            atomic_store(&t->cancelled, 1);
            return NETSRV_WAIT_DRAINED;
        }
        return NETSRV_WAIT_TIMEOUT;
    }
    return 0;
}

static int coro_wait(netsrv_task *t, int fd, short events, double deadline, int flags)
{
    netsrv__loop *l = t->loop;
    for (;;) {
        double eff = deadline;
        /* The common case, a socket wait with no deadline, nothing pending
         * and no drain, is decided without wait_done's clock reading. */
        if (deadline < NETSRV__INF || t->cancel_deadline < NETSRV__INF ||
            atomic_load_explicit(&t->cancelled, memory_order_relaxed) ||
            (!(flags & NETSRV__NOWAKE) && atomic_load_explicit(&t->wakes, memory_order_relaxed))) {
            int why = wait_done(t, deadline, flags, &eff);
            if (why)
                return why;
        }
        if (fd >= 0) {
            int mask = ((events & POLLIN) ? EV_READ : 0) | ((events & POLLOUT) ? EV_WRITE : 0);
            /* ev_io_set marks the fd for an epoll_ctl on the next turn; a
             * watcher started again as it was costs no system call. */
            if (t->io.fd != fd || (t->io.events & (EV_READ | EV_WRITE)) != mask) {
                ev_io_stop(l->ev, &t->io);
                ev_io_set(&t->io, fd, mask);
            }
            /* Still started after the last wait on this socket: nothing to
             * do (see NETSRV__KEEPIO). */
            if (!ev_is_active(&t->io))
                ev_io_start(l->ev, &t->io);
        }
        t->waitio = fd >= 0;
        t->deadline = eff;
        if (eff < NETSRV__INF) {
            double left = eff - netsrv__now();
            if (left < 0)
                left = 0;
            /* A running timer that fires no later than this deadline will
             * do (its callback re-arms for the rest); a later one must move. */
            if (ev_is_active(&t->tm) && ev_timer_remaining(l->ev, &t->tm) > left + 0.001)
                ev_timer_stop(l->ev, &t->tm);
            if (!ev_is_active(&t->tm)) {
                ev_timer_set(&t->tm, left, 0);
                ev_timer_start(l->ev, &t->tm);
            }
        }
        t->waiting = 1;
        t->result = 0;
        netsrv__coro_switch(&t->co, &l->main, 0);
        t->waiting = 0;
        if (fd >= 0 && !(flags & NETSRV__KEEPIO))
            ev_io_stop(l->ev, &t->io);
        if (t->result == NETSRV__RES_READY)
            return NETSRV_WAIT_READY;
        /* a timer, a wake-up or a new drain deadline: look again */
    }
}

static int block_wait(netsrv_task *t, int fd, short events, double deadline, int flags)
{
    for (;;) {
        double eff;
        int why = wait_done(t, deadline, flags, &eff);
        if (why)
            return why;
        int efd = atomic_load(&t->efd);
        if (efd < 0) {
            /* Published before the next look at wakes and cancelled, so a
             * waker either sees the fd or its flag is seen here. */
            efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (efd < 0)
                return -errno;
            atomic_store(&t->efd, efd);
            continue;
        }
        struct pollfd p[3];
        int n = 0, fd_at = -1, drain_at = -1;
        if (fd >= 0) {
            fd_at = n;
            p[n++] = (struct pollfd){ .fd = fd, .events = events };
        }
        int efd_at = n;
        p[n++] = (struct pollfd){ .fd = efd, .events = POLLIN };
        if (t->drain_fd >= 0) {
            drain_at = n;
            p[n++] = (struct pollfd){ .fd = t->drain_fd, .events = POLLIN };
        }
        int r = poll(p, (nfds_t)n, netsrv__ms_until(eff));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (drain_at >= 0 && p[drain_at].revents) {
            t->drain_fd = -1; /* it stays readable: seen once is enough */
            if (t->drain_secs >= 0)
                netsrv__task_drain(t, netsrv__now() + t->drain_secs);
        }
        if (p[efd_at].revents)
            eventfd_clear(efd);
        if (fd_at >= 0 && p[fd_at].revents)
            return NETSRV_WAIT_READY;
    }
}

/* Outside any task: a plain poll, which only knows ready and timed out. */
static int plain_wait(int fd, short events, double deadline)
{
    for (;;) {
        int ms = netsrv__ms_until(deadline);
        if (ms == 0)
            return NETSRV_WAIT_TIMEOUT;
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, fd >= 0 ? 1 : 0, ms);
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r > 0)
            return NETSRV_WAIT_READY;
    }
}

void netsrv__task_unwatch(netsrv_task *t, int fd)
{
    if (!t || !t->loop || t->io.fd != fd)
        return;
    ev_io_stop(t->loop->ev, &t->io);
    /* The number may come back with the task's next socket before the
     * loop has looked at its fds again (a Unix dial connects at once):
     * a wait on it must then ev_io_set it, or libev takes it for the
     * socket it knew, whose registration the close removed ("the special
     * problem of disappearing file descriptors" in libev's manual). */
    t->io.fd = -1;
}

int netsrv__task_wait(netsrv_task *t, int fd, short events, double deadline, int flags)
{
    if (!t)
        return plain_wait(fd, events, deadline);
    return t->loop ? coro_wait(t, fd, events, deadline, flags)
                   : block_wait(t, fd, events, deadline, flags);
}

int netsrv_wait(int fd, short events, double deadline)
{
    return netsrv__task_wait(tls_current, fd, events, deadline > 0 ? deadline : NETSRV__INF, 0);
}

/* ---- waking and cutting off ---- */

/* Makes a parked (or soon parked) task look at its flags again. */
static void nudge(netsrv_task *t)
{
    if (netsrv__task_done(t))
        return; /* ended: nothing to wake (its loop may be gone too) */
    if (!t->loop) {
        int efd = atomic_load(&t->efd);
        if (efd >= 0)
            eventfd_post(efd);
    } else if (netsrv__loop_is_mine(t->loop)) {
        netsrv__loop_ready(t->loop, t);
    } else {
        netsrv__loop_remote(t->loop, t);
    }
}

void netsrv_task_wake(netsrv_task *t)
{
    atomic_fetch_add(&t->wakes, 1);
    nudge(t);
}

void netsrv__task_drain(netsrv_task *t, double deadline)
{
    if (deadline >= t->cancel_deadline)
        return;
    t->cancel_deadline = deadline;
    if (t->loop && t->waiting)
        netsrv__loop_ready(t->loop, t); /* re-arm its wait with the deadline */
}

void netsrv__task_cancel(netsrv_task *t)
{
    atomic_store(&t->cancelled, 1);
    nudge(t);
}

/* ---- blocking tasks ---- */

void netsrv__task_run_here(netsrv_task *t)
{
    netsrv_task *outer = tls_current;
    tls_current = t;
    t->fn(t);
    netsrv__task_set_done(t, 1);
    tls_current = outer;
    if (t->on_end)
        t->on_end(t);
    netsrv__task_unref(t);
}
