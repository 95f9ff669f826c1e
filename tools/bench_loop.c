/* bench_loop.c - the engine of "nettool bench": one libev loop per thread
 * drives its share of the connections, sends each message, checks every
 * echoed byte against what was sent and times the round trip.
 *
 * The hot path allocates nothing: every message is a window of one shared
 * random pattern (at an offset each connection draws anew per message), so
 * sending is a send() straight from the pattern and checking is a memcmp()
 * against it.  A connection's ev_io watches for input all the time and is
 * re-armed for output only while a send is incomplete.
 *
 * With --rate the sends wait in a per-loop heap ordered by due time, behind
 * one timerfd: libev's own timers round to the millisecond with epoll,
 * which would show up as made-up latency in the corrected figures.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "applets.h"
#include "bench.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* The largest read taken at once from a stream. */
#define NT_BENCH_READ_MAX 65536
/* Offsets of recent datagram messages kept to recognise a late echo. */
#define NT_BENCH_STALE 8

enum { NT_CONN_CONNECTING, NT_CONN_WAITING, NT_CONN_BUSY, NT_CONN_DEAD };

struct nt_bench_conn {
    ev_io io;
    ev_timer timeout;     /* armed lazily: checks t_send when it fires */
    struct nt_bench_loop *l;
    unsigned heap_at;     /* --rate: place in the loop's heap, or NT_NOWHERE */
    int fd;
    int state;
    unsigned id;          /* 0 .. conns - 1 over all loops */
    int io_events;        /* what io is started for (0: stopped) */
    uint64_t rng;
    uint64_t seq;         /* messages begun, for the error lines */
    size_t off;           /* the current message's place in the pattern */
    size_t stale[NT_BENCH_STALE]; /* datagrams: earlier offsets */
    unsigned nstale;
    size_t tx, rx;        /* bytes of the current message sent, echoed */
    uint64_t t_send;      /* when its first byte went out */
    uint64_t t_sched;     /* when it was due (--rate) */
};

static _Atomic unsigned nt_bench_said[NT_BERR_KINDS];

/* Until some connection gets through to the server (a stream connected, a
 * datagram came back), the first connect error is held back rather than
 * said: if none ever does, the run ends with one line saying the server
 * cannot be reached, and a per-connection line before it would only say
 * the same thing twice.  The lock orders holding against letting go. */
static pthread_mutex_t nt_bench_reach_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int nt_bench_reached_flag;
static char nt_bench_held[256];
static int nt_bench_first_err;

uint64_t nt_bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t nt_splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void nt_count(_Atomic uint64_t *c, uint64_t n)
{
    /* Only this loop's thread writes c: a plain load and store suffice. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* ---- the --rate schedule: a min-heap of connections by t_sched ---- */

#define NT_NOWHERE UINT32_MAX

static void nt_heap_put(struct nt_bench_loop *l, unsigned i, struct nt_bench_conn *c)
{
    l->heap[i] = c;
    c->heap_at = i;
}

static void nt_heap_up(struct nt_bench_loop *l, unsigned i)
{
    struct nt_bench_conn *c = l->heap[i];

    while (i > 0 && l->heap[(i - 1) / 2]->t_sched > c->t_sched) {
        nt_heap_put(l, i, l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    nt_heap_put(l, i, c);
}

static void nt_heap_down(struct nt_bench_loop *l, unsigned i)
{
    struct nt_bench_conn *c = l->heap[i];
    unsigned child;

    for (;;) {
        child = 2 * i + 1;
        if (child >= l->nheap)
            break;
        if (child + 1 < l->nheap && l->heap[child + 1]->t_sched < l->heap[child]->t_sched)
            child++;
        if (l->heap[child]->t_sched >= c->t_sched)
            break;
        nt_heap_put(l, i, l->heap[child]);
        i = child;
    }
    nt_heap_put(l, i, c);
}

/* Points the timerfd at the earliest due send (or disarms it). */
static void nt_sched_arm(struct nt_bench_loop *l)
{
    struct itimerspec its;
    uint64_t due;

    memset(&its, 0, sizeof its);
    if (l->nheap) {
        due = l->heap[0]->t_sched;
        if (due == l->armed_for)
            return;
        its.it_value.tv_sec = (time_t)(due / 1000000000u);
        its.it_value.tv_nsec = (long)(due % 1000000000u);
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1; /* zero would disarm it */
        l->armed_for = due;
    } else {
        l->armed_for = 0;
    }
    timerfd_settime(l->sched_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void nt_sched_add(struct nt_bench_conn *c)
{
    struct nt_bench_loop *l = c->l;

    l->heap[l->nheap] = c;
    c->heap_at = l->nheap++;
    nt_heap_up(l, c->heap_at);
    if (c->heap_at == 0)
        nt_sched_arm(l);
}

static void nt_sched_remove(struct nt_bench_conn *c)
{
    struct nt_bench_loop *l = c->l;
    unsigned i = c->heap_at;

    if (i == NT_NOWHERE)
        return;
    c->heap_at = NT_NOWHERE;
    if (--l->nheap == i)
        return;
    c = l->heap[l->nheap];   /* the last one fills the hole */
    nt_heap_put(l, i, c);
    nt_heap_down(l, i);
    nt_heap_up(l, c->heap_at);
}

static void nt_conn_close(struct nt_bench_conn *c)
{
    struct nt_bench_loop *l = c->l;

    if (c->state == NT_CONN_DEAD)
        return;
    ev_io_stop(l->loop, &c->io);
    ev_timer_stop(l->loop, &c->timeout);
    nt_sched_remove(c);
    close(c->fd);
    c->fd = -1;
    c->state = NT_CONN_DEAD;
    atomic_store_explicit(&l->live, atomic_load_explicit(&l->live, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    if (atomic_load_explicit(&l->live, memory_order_relaxed) == 0)
        ev_break(l->loop, EVBREAK_ALL);
}

/* Counts an error of kind; the first of each kind is said (every one with
 * -v).  Errors are counted in warmup too: a broken echo is broken. */
static void nt_conn_error(struct nt_bench_conn *c, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void nt_conn_error(struct nt_bench_conn *c, int kind, const char *fmt, ...)
{
    char text[256];
    va_list ap;

    nt_count(&c->l->errors[kind], 1);
    if (nt_verbosity >= 2 ||
        (nt_verbosity >= 1 && atomic_fetch_add(&nt_bench_said[kind], 1) == 0)) {
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        nt_error("connection %u: %s", c->id + 1, text);
    }
}

/* A connection could not reach the server: call (connect, send...) failed
 * with err.  Counted as a connect error, said as nt_conn_error does, except
 * that before any connection got through the line is held back. */
static void nt_conn_unreached(struct nt_bench_conn *c, const char *call, int err)
{
    char text[256];

    nt_count(&c->l->errors[NT_BERR_CONNECT], 1);
    snprintf(text, sizeof text, "connection %u: %s: %s", c->id + 1, call, strerror(err));
    pthread_mutex_lock(&nt_bench_reach_lock);
    if (!nt_bench_first_err)
        nt_bench_first_err = err;
    if (nt_verbosity >= 2) {
        nt_error("%s", text);
    } else if (nt_verbosity >= 1 && atomic_fetch_add(&nt_bench_said[NT_BERR_CONNECT], 1) == 0) {
        if (atomic_load(&nt_bench_reached_flag))
            nt_error("%s", text);
        else
            memcpy(nt_bench_held, text, sizeof text);
    }
    pthread_mutex_unlock(&nt_bench_reach_lock);
}

/* A connection got through: a line held back is said now. */
static void nt_bench_reach(void)
{
    if (atomic_load_explicit(&nt_bench_reached_flag, memory_order_relaxed))
        return; /* the common case, on every datagram: one load */
    pthread_mutex_lock(&nt_bench_reach_lock);
    if (!atomic_load(&nt_bench_reached_flag)) {
        atomic_store(&nt_bench_reached_flag, 1);
        if (nt_bench_held[0])
            nt_error("%s", nt_bench_held);
        nt_bench_held[0] = '\0';
    }
    pthread_mutex_unlock(&nt_bench_reach_lock);
}

int nt_bench_reached(void)
{
    return atomic_load(&nt_bench_reached_flag);
}

int nt_bench_unreached_error(void)
{
    int err;

    pthread_mutex_lock(&nt_bench_reach_lock);
    err = nt_bench_first_err;
    pthread_mutex_unlock(&nt_bench_reach_lock);
    return err;
}

void nt_bench_say_held(void)
{
    pthread_mutex_lock(&nt_bench_reach_lock);
    if (nt_bench_held[0])
        nt_error("%s", nt_bench_held);
    nt_bench_held[0] = '\0';
    pthread_mutex_unlock(&nt_bench_reach_lock);
}

static void nt_conn_arm(struct nt_bench_conn *c, int events)
{
    if (c->io_events == events)
        return;
    ev_io_stop(c->l->loop, &c->io);
    c->io_events = events;
    if (events) {
        ev_io_set(&c->io, c->fd, events);
        ev_io_start(c->l->loop, &c->io);
    }
}

/* Sends what is left of the current message; 0, or -1 when c died. */
static int nt_conn_send(struct nt_bench_conn *c)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;
    ssize_t n;

    for (;;) {
        n = send(c->fd, cfg->pattern + c->off + c->tx, cfg->size - c->tx,
                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            nt_conn_arm(c, EV_READ | EV_WRITE);
            return 0;
        }
        if (errno == ECONNREFUSED)
            nt_conn_unreached(c, "send", errno);
        else
            nt_conn_error(c, NT_BERR_RESET, "send: %s", strerror(errno));
        nt_conn_close(c);
        return -1;
    }
    c->tx += (size_t)n;
    if (cfg->dgram && c->tx < cfg->size) {
        /* A datagram goes whole or not at all; this would be a bug. */
        nt_conn_error(c, NT_BERR_RESET, "send: datagram cut to %zd bytes", n);
        nt_conn_close(c);
        return -1;
    }
    nt_conn_arm(c, c->tx < cfg->size ? EV_READ | EV_WRITE : EV_READ);
    return 0;
}

/* Begins a new message: a fresh offset, the clock, the first send. */
static int nt_conn_begin(struct nt_bench_conn *c, uint64_t now)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;

    if (cfg->dgram) {
        c->stale[c->nstale++ % NT_BENCH_STALE] = c->off;
    }
    /* Never the offset of the message before: a stale echo of it must
     * not pass for this one. */
    c->off = (c->off + 1 + nt_splitmix(&c->rng) % (NT_BENCH_WINDOW - 1)) % NT_BENCH_WINDOW;
    c->tx = c->rx = 0;
    c->seq++;
    c->t_send = now;
    c->state = NT_CONN_BUSY;
    if (cfg->timeout_ns && !ev_is_active(&c->timeout)) {
        ev_timer_set(&c->timeout, (double)cfg->timeout_ns / 1e9, 0);
        ev_timer_start(c->l->loop, &c->timeout);
    }
    return nt_conn_send(c);
}

/* The current message is over (echoed, or its datagram lost): begin the
 * next one now, or at its scheduled time with --rate. */
static void nt_conn_next(struct nt_bench_conn *c, uint64_t now)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;

    if (cfg->rate <= 0) {
        nt_conn_begin(c, now);
        return;
    }
    c->t_sched += (uint64_t)((double)cfg->conns / cfg->rate * 1e9);
    if (c->t_sched <= now) {
        /* Late already (the echo took longer than the interval): send at
         * once; the corrected latency keeps counting from t_sched. */
        nt_conn_begin(c, now);
        return;
    }
    c->state = NT_CONN_WAITING;
    nt_sched_add(c);
}

static void nt_conn_done(struct nt_bench_conn *c)
{
    struct nt_bench_loop *l = c->l;
    const struct nt_bench_cfg *cfg = l->cfg;
    uint64_t now = nt_bench_now();

    if (now >= cfg->measure_ns && now <= cfg->end_ns) {
        nt_count(&l->requests, 1);
        nt_hist_record(l->raw, (now - c->t_send + 500) / 1000);
        if (cfg->rate > 0)
            nt_hist_record(l->corrected, (now - c->t_sched + 500) / 1000);
    }
    nt_conn_next(c, now);
}

static int nt_is_stale(const struct nt_bench_conn *c, const unsigned char *buf)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;
    unsigned i, n = c->nstale < NT_BENCH_STALE ? c->nstale : NT_BENCH_STALE;

    for (i = 0; i < n; i++)
        if (memcmp(buf, cfg->pattern + c->stale[i], cfg->size) == 0)
            return 1;
    return 0;
}

static void nt_conn_read_dgram(struct nt_bench_conn *c)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;
    unsigned char *buf = c->l->rxbuf;
    ssize_t n;

    do
        n = recv(c->fd, buf, cfg->size + 1, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        /* ECONNREFUSED: the ICMP of a port nobody listens on came back. */
        if (errno == ECONNREFUSED)
            nt_conn_unreached(c, "recv", errno);
        else
            nt_conn_error(c, NT_BERR_RESET, "recv: %s", strerror(errno));
        nt_conn_close(c);
        return;
    }
    nt_bench_reach();
    if ((size_t)n == cfg->size) {
        if (c->state == NT_CONN_BUSY && c->tx == cfg->size &&
            memcmp(buf, cfg->pattern + c->off, cfg->size) == 0) {
            c->rx = cfg->size;
            nt_conn_done(c);
            return;
        }
        /* A late echo of a message given up on (or a duplicate of the
         * last one) is no error: that loss was counted already. */
        if (nt_is_stale(c, buf) ||
            (c->state != NT_CONN_BUSY && memcmp(buf, cfg->pattern + c->off, cfg->size) == 0))
            return;
    }
    nt_conn_error(c, NT_BERR_MISMATCH, "echoed datagram differs from the one sent "
                  "(%zd bytes, %zu sent)", n, cfg->size);
    nt_conn_close(c);
}

static void nt_conn_read_stream(struct nt_bench_conn *c)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;
    unsigned char *buf = c->l->rxbuf;
    size_t want = cfg->size - c->rx, i;
    ssize_t n;

    if (c->state != NT_CONN_BUSY)
        want = 1; /* nothing is due: any byte is one too many */
    if (want > NT_BENCH_READ_MAX)
        want = NT_BENCH_READ_MAX;
    do
        n = recv(c->fd, buf, want, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        nt_conn_error(c, NT_BERR_RESET, "recv: %s", strerror(errno));
        nt_conn_close(c);
        return;
    }
    if (n == 0) {
        nt_conn_error(c, NT_BERR_RESET, "closed by the server");
        nt_conn_close(c);
        return;
    }
    if (c->state != NT_CONN_BUSY) {
        nt_conn_error(c, NT_BERR_MISMATCH, "a byte came with no message in flight");
        nt_conn_close(c);
        return;
    }
    if (memcmp(buf, cfg->pattern + c->off + c->rx, (size_t)n) != 0) {
        for (i = 0; i < (size_t)n && buf[i] == cfg->pattern[c->off + c->rx + i]; i++)
            ;
        nt_conn_error(c, NT_BERR_MISMATCH,
                      "echoed byte %zu of message %llu is 0x%02x, 0x%02x was sent",
                      c->rx + i + 1, (unsigned long long)c->seq, buf[i],
                      cfg->pattern[c->off + c->rx + i]);
        nt_conn_close(c);
        return;
    }
    c->rx += (size_t)n;
    if (c->rx == cfg->size)
        nt_conn_done(c);
}

static void nt_conn_connected(struct nt_bench_conn *c, uint64_t now)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;

    /* A datagram socket is "connected" without a word to the server: it
     * counts as through only once a reply comes back. */
    if (!cfg->dgram)
        nt_bench_reach();

    if (cfg->rate > 0) {
        /* Spread the connections' schedules over one interval. */
        c->t_sched = now + (uint64_t)((double)c->id / cfg->rate * 1e9);
        c->state = NT_CONN_WAITING;
        nt_conn_arm(c, EV_READ);
        nt_sched_add(c);
        return;
    }
    nt_conn_begin(c, now);
}

static void nt_conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct nt_bench_conn *c = container_of(w, struct nt_bench_conn, io);
    int err = 0;
    socklen_t len = sizeof err;

    (void)loop;
    if (c->state == NT_CONN_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            nt_conn_unreached(c, "connect", err);
            nt_conn_close(c);
            return;
        }
        nt_conn_connected(c, nt_bench_now());
        return;
    }
    if (revents & EV_READ) {
        if (c->l->cfg->dgram)
            nt_conn_read_dgram(c);
        else
            nt_conn_read_stream(c);
        if (c->state == NT_CONN_DEAD)
            return;
    }
    if ((revents & EV_WRITE) && c->state == NT_CONN_BUSY && c->tx < c->l->cfg->size)
        nt_conn_send(c);
}

static void nt_conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct nt_bench_conn *c = container_of(w, struct nt_bench_conn, timeout);
    const struct nt_bench_cfg *cfg = c->l->cfg;
    uint64_t now, due;

    (void)revents;
    if (c->state != NT_CONN_BUSY)
        return; /* idle: armed again by the next message */
    now = nt_bench_now();
    due = c->t_send + cfg->timeout_ns;
    if (now < due) {
        ev_timer_set(w, (double)(due - now) / 1e9, 0);
        ev_timer_start(loop, w);
        return;
    }
    nt_conn_error(c, NT_BERR_TIMEOUT, "no echo within %.3g s",
                  (double)cfg->timeout_ns / 1e9);
    if (!cfg->dgram) {
        nt_conn_close(c);
        return;
    }
    /* A lost datagram: go on with the next message. */
    nt_conn_next(c, now);
}

/* The timerfd fired: every connection whose send is due sends. */
static void nt_sched_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct nt_bench_loop *l = container_of(w, struct nt_bench_loop, sched_w);
    struct nt_bench_conn *c;
    uint64_t expirations, now = nt_bench_now();

    (void)loop;
    (void)revents;
    if (read(l->sched_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    l->armed_for = 0;
    while (l->nheap && (c = l->heap[0])->t_sched <= now) {
        nt_sched_remove(c);
        nt_conn_begin(c, now);
        if (l->nheap && l->heap[0]->t_sched > now)
            now = nt_bench_now(); /* sends take time: look again */
    }
    nt_sched_arm(l);
}

static void nt_conn_open(struct nt_bench_conn *c)
{
    const struct nt_bench_cfg *cfg = c->l->cfg;
    int family = cfg->addr.ss.ss_family, one = 1, rc;

    c->fd = socket(family, (cfg->dgram ? SOCK_DGRAM : SOCK_STREAM) |
                   SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        nt_conn_unreached(c, "socket", errno);
        goto dead;
    }
    if (!cfg->dgram && family != AF_UNIX)
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cfg->dgram && family == AF_UNIX) {
        /* Binding just the family asks Linux for an abstract autobind,
         * so that the server has somewhere to send the replies. */
        sa_family_t fam = AF_UNIX;

        if (bind(c->fd, (struct sockaddr *)&fam, sizeof fam) < 0) {
            nt_conn_unreached(c, "bind", errno);
            goto dead;
        }
    }
    do
        rc = connect(c->fd, (const struct sockaddr *)&cfg->addr.ss, cfg->addr.len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        /* A Unix stream listener with a full backlog says EAGAIN. */
        nt_conn_unreached(c, "connect", errno);
        goto dead;
    }
    c->state = NT_CONN_CONNECTING;
    atomic_store_explicit(&c->l->live, atomic_load_explicit(&c->l->live, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    if (rc < 0) {
        nt_conn_arm(c, EV_WRITE);
        return;
    }
    nt_conn_arm(c, EV_READ);
    nt_conn_connected(c, nt_bench_now());
    return;
dead:
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = NT_CONN_DEAD;
}

static void nt_loop_stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void nt_loop_end_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct nt_bench_loop *l = container_of(w, struct nt_bench_loop, end_w);
    uint64_t now = nt_bench_now();

    (void)revents;
    if (now < l->cfg->end_ns) { /* the loop's clock lagged */
        ev_timer_set(w, (double)(l->cfg->end_ns - now) / 1e9, 0);
        ev_timer_start(loop, w);
        return;
    }
    ev_break(loop, EVBREAK_ALL);
}

int nt_bench_loop_init(struct nt_bench_loop *l, const struct nt_bench_cfg *cfg,
                       unsigned index, unsigned first, unsigned n)
{
    unsigned i;
    size_t rx = cfg->size < NT_BENCH_READ_MAX ? cfg->size : NT_BENCH_READ_MAX;

    memset(l, 0, sizeof *l);
    l->sched_fd = -1;
    l->cfg = cfg;
    l->index = index;
    l->nconns = n;
    l->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    l->conns = calloc(n ? n : 1, sizeof *l->conns);
    l->rxbuf = malloc(rx + 1);
    l->raw = malloc(sizeof *l->raw);
    l->corrected = malloc(sizeof *l->corrected);
    if (!l->loop || !l->conns || !l->rxbuf || !l->raw || !l->corrected) {
        nt_bench_loop_free(l);
        return -ENOMEM;
    }
    nt_hist_init(l->raw);
    nt_hist_init(l->corrected);
    for (i = 0; i < n; i++) {
        struct nt_bench_conn *c = &l->conns[i];

        c->l = l;
        c->fd = -1;
        c->state = NT_CONN_DEAD;
        c->id = first + i;
        c->rng = UINT64_C(0x5eed) ^ ((uint64_t)c->id << 20);
        c->off = (size_t)(nt_splitmix(&c->rng) % NT_BENCH_WINDOW);
        ev_init(&c->io, nt_conn_io_cb);
        ev_init(&c->timeout, nt_conn_timeout_cb);
        c->heap_at = NT_NOWHERE;
    }
    if (cfg->rate > 0) {
        l->heap = calloc(n ? n : 1, sizeof *l->heap);
        l->sched_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (!l->heap || l->sched_fd < 0) {
            nt_bench_loop_free(l);
            return l->heap ? -errno : -ENOMEM;
        }
        ev_io_init(&l->sched_w, nt_sched_cb, l->sched_fd, EV_READ);
        ev_io_start(l->loop, &l->sched_w);
    }
    ev_async_init(&l->stop_w, nt_loop_stop_cb);
    ev_async_start(l->loop, &l->stop_w);
    ev_init(&l->end_w, nt_loop_end_cb);
    return 0;
}

static void *nt_loop_thread(void *arg)
{
    struct nt_bench_loop *l = arg;
    uint64_t now;
    unsigned i;

    /* Timers of this thread may fire up to 50 us late by default. */
    if (l->cfg->rate > 0)
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    for (i = 0; i < l->nconns; i++)
        nt_conn_open(&l->conns[i]);
    atomic_store(&l->opened, 1);
    now = nt_bench_now();
    if (atomic_load(&l->live) > 0 && now < l->cfg->end_ns) {
        ev_now_update(l->loop);
        ev_timer_set(&l->end_w, (double)(l->cfg->end_ns - now) / 1e9, 0);
        ev_timer_start(l->loop, &l->end_w);
        ev_run(l->loop, 0);
    }
    /* Done: the connections close here, so the figures stop growing. */
    for (i = 0; i < l->nconns; i++)
        if (l->conns[i].state != NT_CONN_DEAD) {
            ev_io_stop(l->loop, &l->conns[i].io);
            close(l->conns[i].fd);
            l->conns[i].state = NT_CONN_DEAD;
        }
    atomic_store(&l->live, 0);
    return NULL;
}

int nt_bench_loop_start(struct nt_bench_loop *l)
{
    sigset_t all, old;
    int rc;

    /* Signals are for the main thread, which prints the figures. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&l->tid, NULL, nt_loop_thread, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    l->started = 1;
    return 0;
}

void nt_bench_loop_stop(struct nt_bench_loop *l)
{
    if (l->started)
        ev_async_send(l->loop, &l->stop_w);
}

void nt_bench_loop_join(struct nt_bench_loop *l)
{
    if (l->started)
        pthread_join(l->tid, NULL);
    l->started = 0;
}

void nt_bench_loop_free(struct nt_bench_loop *l)
{
    if (l->loop)
        ev_loop_destroy(l->loop);
    l->loop = NULL;
    if (l->sched_fd >= 0)
        close(l->sched_fd);
    l->sched_fd = -1;
    free(l->heap);
    l->heap = NULL;
    free(l->conns);
    free(l->rxbuf);
    free(l->raw);
    free(l->corrected);
    l->conns = NULL;
    l->rxbuf = NULL;
    l->raw = l->corrected = NULL;
}
