/* group.c - messages between requests (a chat room): connections join a
 * group, and a send queues the message for every other member, each in a
 * bounded queue of its own, then wakes the member's task.  The member's
 * own task writes its queue to its socket while it waits for input, so no
 * request ever blocks on another's slow socket; a full queue drops the
 * message (counted) or cuts the member off, as the group was told.
 * Works across threads and loops: one mutex per group, wake-ups through
 * the task layer. */
#include "config.h"
#include "netsrv_int.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

typedef struct netsrv__msg {
    struct netsrv__msg *next;
    size_t len;
    char data[];
} netsrv__msg;

struct netsrv__member {
    netsrv_group *g;
    netsrv_conn *c;
    netsrv_task *task;          /* referenced while a member */
    netsrv__msg *head, *tail;   /* queued, oldest first */
    size_t off;                 /* bytes of head already sent */
    size_t bytes;               /* queued bytes, head's unsent part included */
    unsigned long long dropped;
    int kicked;                 /* cut off: the queue was full */
    struct netsrv__member *prev, *next;
};

struct netsrv_group {
    pthread_mutex_t lock;
    size_t cap;                 /* queue bytes per member */
    int policy;
    unsigned n;
    netsrv__member *members;
};

int netsrv_group_new(netsrv_group **out, size_t queue_bytes, int policy)
{
    *out = NULL;
    if (policy != NETSRV_GROUP_DROP && policy != NETSRV_GROUP_DISCONNECT)
        return -EINVAL;
    netsrv_group *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    pthread_mutex_init(&g->lock, NULL);
    g->cap = queue_bytes ? queue_bytes : 256 * 1024;
    g->policy = policy;
    *out = g;
    return 0;
}

static void queue_clear(netsrv__member *m)
{
    while (m->head) {
        netsrv__msg *next = m->head->next;
        free(m->head);
        m->head = next;
    }
    m->tail = NULL;
    m->off = m->bytes = 0;
}

void netsrv_group_free(netsrv_group *g)
{
    if (!g)
        return;
    /* Members should have left; any left over are detached here. */
    while (g->members) {
        netsrv__member *m = g->members;
        g->members = m->next;
        m->c->member = NULL;
        queue_clear(m);
        netsrv__task_unref(m->task);
        free(m);
    }
    pthread_mutex_destroy(&g->lock);
    free(g);
}

int netsrv_group_join(netsrv_group *g, netsrv_conn *c)
{
    if (c->member)
        return -EALREADY;
    if (c->dgram)
        return -ENOTSOCK;
    if (c->io)
        return -ENOTSUP; /* queues go straight to the socket, past a TLS layer */
    if (c->srv && c->srv->in_child)
        return -ENOTSUP; /* a fork child's peers are in other processes */
    if (!c->task)
        return -EINVAL;  /* outside a task nobody would deliver its queue */
    netsrv__member *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    /* Its waits must see both the socket and new messages, so the socket
     * is polled from now on rather than blocked in. */
    if (c->blocking) {
        int r = netsrv__set_nonblock(c->fd, 1);
        if (r < 0) {
            free(m);
            return r;
        }
        c->blocking = 0;
    }
    m->g = g;
    m->c = c;
    m->task = c->task;
    netsrv_task_ref(m->task);
    pthread_mutex_lock(&g->lock);
    m->next = g->members;
    if (g->members)
        g->members->prev = m;
    g->members = m;
    g->n++;
    c->member = m;
    pthread_mutex_unlock(&g->lock);
    return 0;
}

void netsrv_group_leave(netsrv_group *g, netsrv_conn *c)
{
    netsrv__member *m = c->member;
    if (!m || m->g != g)
        return;
    pthread_mutex_lock(&g->lock);
    if (m->prev)
        m->prev->next = m->next;
    else
        g->members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    g->n--;
    c->member = NULL;
    queue_clear(m);
    pthread_mutex_unlock(&g->lock);
    netsrv__task_unref(m->task);
    free(m);
}

int netsrv_group_move(netsrv_group *from, netsrv_group *to, netsrv_conn *c)
{
    netsrv__member *m = c->member;
    if (!m || m->g != from)
        return -ENOENT;
    if (from == to)
        return 0;
    /* One lock at a time, so two members moving opposite ways cannot
     * deadlock; meanwhile the member is in neither list and misses what
     * either sends, as one leaving and joining would. */
    pthread_mutex_lock(&from->lock);
    if (m->prev)
        m->prev->next = m->next;
    else
        from->members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    from->n--;
    pthread_mutex_unlock(&from->lock);
    pthread_mutex_lock(&to->lock);
    m->prev = NULL;
    m->next = to->members;
    if (to->members)
        to->members->prev = m;
    to->members = m;
    to->n++;
    m->g = to;
    pthread_mutex_unlock(&to->lock);
    return 0;
}

unsigned netsrv_group_size(netsrv_group *g)
{
    pthread_mutex_lock(&g->lock);
    unsigned n = g->n;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* Queues a copy for m, or applies the policy; under g->lock.  Returns 1
 * when queued. */
static int enqueue(netsrv_group *g, netsrv__member *m, const void *buf, size_t len)
{
    if (m->kicked)
        return 0;
    if (m->bytes + len > g->cap) {
        m->dropped++;
        if (g->policy == NETSRV_GROUP_DISCONNECT) {
            /* What was queued never goes out either: it counts as dropped,
             * so a leave notice can say how much the member missed. */
            for (netsrv__msg *q = m->head; q; q = q->next)
                m->dropped++;
            m->kicked = 1;
            queue_clear(m);
            netsrv_task_wake(m->task);
        }
        return 0;
    }
    netsrv__msg *msg = malloc(sizeof *msg + len);
    if (!msg) {
        m->dropped++;
        return 0;
    }
    msg->next = NULL;
    msg->len = len;
    memcpy(msg->data, buf, len);
    if (m->tail)
        m->tail->next = msg;
    else
        m->head = msg;
    m->tail = msg;
    m->bytes += len;
    netsrv_task_wake(m->task);
    return 1;
}

int netsrv_group_send(netsrv_group *g, netsrv_conn *from, const void *buf, size_t len)
{
    int n = 0;
    if (len == 0)
        return 0;
    pthread_mutex_lock(&g->lock);
    for (netsrv__member *m = g->members; m; m = m->next)
        if (m->c != from)
            n += enqueue(g, m, buf, len);
    pthread_mutex_unlock(&g->lock);
    return n;
}

int netsrv_group_send_to(netsrv_group *g, netsrv_conn *to, const void *buf, size_t len)
{
    netsrv__member *m = to->member;
    if (!m || m->g != g)
        return -ENOENT;
    pthread_mutex_lock(&g->lock);
    int n = enqueue(g, m, buf, len);
    pthread_mutex_unlock(&g->lock);
    return n ? 0 : -ENOBUFS;
}

int netsrv_group_member_stats(netsrv_conn *c, unsigned long long *dropped, size_t *queued)
{
    netsrv__member *m = c->member;
    if (!m)
        return -ENOENT;
    pthread_mutex_lock(&m->g->lock);
    if (dropped)
        *dropped = m->dropped;
    if (queued)
        *queued = m->bytes;
    int kicked = m->kicked;
    pthread_mutex_unlock(&m->g->lock);
    return kicked;
}

/* ---- delivery, by the member's own task ---- */

#define DELIVER_IOV 64

static size_t iov_total(const struct iovec *iov, int k)
{
    size_t t = 0;
    for (int i = 0; i < k; i++)
        t += iov[i].iov_len;
    return t;
}

/* Sends what the socket takes of the member's queue without waiting.
 * Returns 1 while bytes remain, 0 when the queue is empty, -ECONNABORTED
 * when the member was cut off, or a send error. */
int netsrv__member_deliver(netsrv_conn *c)
{
    netsrv__member *m = c->member;
    netsrv_group *g = m->g;
    int rc = 0;
    pthread_mutex_lock(&g->lock);
    if (m->kicked) {
        pthread_mutex_unlock(&g->lock);
        return -ECONNABORTED;
    }
    while (m->head) {
        /* Many queued lines (a burst in the room) go in one sendmsg, not
         * one send each: the syscall is most of a delivery's cost. */
        struct iovec iov[DELIVER_IOV];
        int k = 0;
        size_t off = m->off;
        for (netsrv__msg *q = m->head; q && k < DELIVER_IOV; q = q->next, off = 0) {
            iov[k].iov_base = q->data + off;
            iov[k++].iov_len = q->len - off;
        }
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)k };
        ssize_t n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
            break;
        }
        m->bytes -= (size_t)n;
        size_t left = (size_t)n;
        while (left) {
            netsrv__msg *msg = m->head;
            size_t rest = msg->len - m->off;
            if (left < rest) {
                m->off += left;
                break;
            }
            left -= rest;
            m->head = msg->next;
            if (!m->head)
                m->tail = NULL;
            m->off = 0;
            free(msg);
        }
        if ((size_t)n < iov_total(iov, k)) {
            rc = 1; /* the socket took less: it is full */
            break;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return rc;
}

/* Whether a message is half sent: the connection's own output must wait
 * for its end, or the two would be spliced. */
int netsrv__member_partial(netsrv_conn *c)
{
    netsrv__member *m = c->member;
    pthread_mutex_lock(&m->g->lock);
    int partial = m->off > 0 || m->kicked;
    pthread_mutex_unlock(&m->g->lock);
    return partial;
}

int netsrv_group_flush(netsrv_conn *c, double timeout)
{
    if (!c->member)
        return -ENOENT;
    double end = timeout > 0 ? netsrv__now() + timeout : NETSRV__INF;
    if (c->end_deadline < end)
        end = c->end_deadline;
    for (;;) {
        int d = netsrv__member_deliver(c);
        if (d <= 0)
            return d;
        int why = netsrv__task_wait(c->task, c->fd, POLLOUT, end, NETSRV__NOWAKE);
        if (why == NETSRV_WAIT_TIMEOUT)
            return -ETIMEDOUT;
        if (why == NETSRV_WAIT_DRAINED)
            return -ECANCELED;
        if (why < 0)
            return why;
    }
}

netsrv_group *netsrv__member_group(netsrv_conn *c)
{
    return c->member ? c->member->g : NULL;
}
