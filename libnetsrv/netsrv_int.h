/* netsrv_int.h - private structures and the calls the library's files share.
 * Nothing here is installed; names carry the second prefix netsrv__ so a
 * reader sees at a glance what is not API.  Three layers: tasks and loops
 * (task.h), the connection stream (struct netsrv_conn), servers on top. */
#ifndef NETSRV_INT_H
#define NETSRV_INT_H

#include "netsrv.h"
#include "task.h"
#include "iptable.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <poll.h>

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* ---- the connection stream ---- */

/* At close, unread input is drained for at most this many bytes (and
 * cfg.linger seconds) so the peer gets the whole reply, not a reset. */
#define NETSRV__LINGER_BYTES (1u << 20)

typedef struct netsrv__member netsrv__member;

/* Another layer between the stream and the socket (TLS, tls.c).  The
 * calls wait themselves (netsrv__conn_wait), so they return as a blocking
 * socket's would: recv bytes (> 0), 0 at the end of the stream, or a
 * negative errno; send the bytes taken (> 0, at most len) or a negative
 * errno.  shut ends the sending side (the stream's flush came first); fini
 * frees the layer.  A connection without one has io NULL: the stream's
 * plain path tests that one pointer and calls recv/send itself. */
typedef struct netsrv__io_ops {
    ssize_t (*recv)(netsrv_conn *c, void *buf, size_t len);
    ssize_t (*send)(netsrv_conn *c, const void *buf, size_t len);
    void (*shut)(netsrv_conn *c);
    void (*fini)(netsrv_conn *c);
} netsrv__io_ops;

struct netsrv_conn {
    int fd;                    /* the socket; a datagram request's is the server's */
    int dgram;
    int blocking;              /* a blocking socket: recv/send wait themselves,
                                  bounded by SO_RCVTIMEO/SO_SNDTIMEO */
    int sock_timeo_ms;         /* what those are set to (0: none) */
    netsrv_task *task;         /* whose waits this connection's calls make */
    netsrv_server *srv;        /* the server that took it; NULL: a client's */
    pthread_mutex_t *fd_lock;  /* held while fd is given up, so that another
                                  thread cutting it off never hits a reused
                                  number (thread mode) */
    netsrv_addr peer;
    double timeout;            /* idle timeout, seconds, 0 none */
    double end_deadline;       /* whole-request deadline, NETSRV__INF none */
    double linger;             /* at close: seconds to drain unread input */
    size_t rbufsize, wbufsize, max_packet;
    /* input */
    char *rbuf;
    size_t rcap, rpos, rlen;
    int eof;
    int rdrained;              /* the last recv emptied the socket */
    /* output */
    char *wbuf;
    size_t wcap, wlen;
    int wrote;                 /* datagram: something was written */
    int replied;               /* datagram: netsrv_reply was called */
    netsrv__member *member;    /* its place in a group (group.c), or NULL */
    const netsrv__io_ops *io;  /* a layer over the socket (TLS), or NULL */
    void *io_state;            /* that layer's own */
};

/* tls.c: one more read of TLS connection c's bytes that OpenSSL holds or
 * the socket has now, never waiting: bytes (> 0), or -EAGAIN for none yet
 * (also for an end or an error, which the next netsrv__io_ops recv meets
 * again).  For a reader that fills a large buffer in one go. */
ssize_t netsrv__tls_recv_more(netsrv_conn *c, void *buf, size_t len);

/* conn.c */
void netsrv__conn_init(netsrv_conn *c, int fd, int dgram, netsrv_task *task);
/* Ends the connection: flush, lingering close of a stream (or a datagram's
 * reply), close.  Idempotent. */
void netsrv__conn_close(netsrv_conn *c);
/* Frees the buffers (not c). */
void netsrv__conn_fini(netsrv_conn *c);
/* Waits for the socket (POLLIN/POLLOUT) within the idle and whole-request
 * timeouts: 0 ready, -ETIMEDOUT, -ECANCELED (drained), -errno. */
int netsrv__conn_wait(netsrv_conn *c, short events);
/* Before a recv/send on a blocking socket: keeps SO_RCVTIMEO/SO_SNDTIMEO
 * within the whole-request deadline. */
void netsrv__conn_arm(netsrv_conn *c);
/* The socket's own timeouts (blocking sockets), seconds, 0 none. */
void netsrv__conn_set_sock_timeout(netsrv_conn *c, double seconds);
/* Input buffer: from the loop's cache on a loop, else malloc. */
static inline char *netsrv__conn_rbuf(netsrv_conn *c)
{
    if (!c->rbuf) {
        c->rcap = c->rbufsize;
        c->rbuf = c->task && c->task->loop ? netsrv__loop_rbuf(c->task->loop)
                                           : (char *)malloc(c->rcap);
        c->rpos = c->rlen = 0;
    }
    return c->rbuf;
}

static inline void netsrv__conn_rbuf_release(netsrv_conn *c)
{
    if (c->task && c->task->loop && !c->dgram)
        netsrv__loop_rbuf_put(c->task->loop, c->rbuf, c->rcap);
    else
        free(c->rbuf);
    c->rbuf = NULL;
    c->rpos = c->rlen = c->rcap = 0;
}

/* Gives back memory an idle connection does not need (loop tasks): the
 * buffers come back when data does, from the loop's small cache, so a
 * busy connection does not pay malloc and free per message. */
static inline void netsrv__conn_idle(netsrv_conn *c)
{
    if (c->rpos >= c->rlen && c->rbuf)
        netsrv__conn_rbuf_release(c);
    if (c->wlen == 0 && c->wbuf && c->wcap > 4096) { /* small ones are kept */
        free(c->wbuf);
        c->wbuf = NULL;
        c->wcap = 0;
    }
}
/* Why a blocking socket's recv/send failed, once it has. */
int netsrv__conn_io_error(netsrv_conn *c, int err);

/* stream.c */
int netsrv__flush_quiet(netsrv_conn *c);

/* sigpipe.c: SIGPIPE never reaches the application from sendfile. */
void netsrv__sigpipe_thread_blocked(int on); /* this thread blocks all signals */
/* Blocks SIGPIPE for a while (a serving run); returns whether it did. */
int netsrv__sigpipe_hold(sigset_t *old);
/* Takes the SIGPIPEs raised meanwhile, then restores the mask. */
void netsrv__sigpipe_release(int held, const sigset_t *old);
ssize_t netsrv__sendfile(int out, int in, off_t *off, size_t count);

/* dgram.c */
void netsrv__dgram_end(netsrv_conn *c);

/* group.c: a member's queue goes out through its own task. */
int netsrv__member_deliver(netsrv_conn *c);
int netsrv__member_partial(netsrv_conn *c);
netsrv_group *netsrv__member_group(netsrv_conn *c);

/* ---- servers ---- */

struct netsrv__req;

/* One concurrency mode: how a request taken by the serving loop runs, how
 * the loop learns that running requests have ended, and how requests of a
 * run that was shut down are cut off at their drain deadline. */
typedef struct netsrv__mode_ops {
    /* Runs or hands off req; owns it from here on. */
    void (*process)(netsrv_server *srv, struct netsrv__req *req);
    /* Reaps ended threads/children. */
    void (*collect)(netsrv_server *srv);
    /* Adds the fds whose readiness means "a request ended" (pidfds). */
    int (*pollfds)(netsrv_server *srv, struct pollfd *pfd, int max);
    /* The requests in flight get their drain deadline (the earlier wins). */
    void (*drain)(netsrv_server *srv, double deadline);
    /* Cuts off the requests past their deadline; returns the next one. */
    double (*enforce)(netsrv_server *srv);
    /* At close: waits for requests in flight until deadline. */
    void (*close)(netsrv_server *srv, double deadline);
    /* Before the server's memory goes. */
    void (*fini)(netsrv_server *srv);
    /* Modes with a loop of their own (async) replace the serving loop. */
    int (*serve)(netsrv_server *srv, double poll_interval);
    int (*handle_one)(netsrv_server *srv);
    int blocking;              /* its requests use blocking sockets */
} netsrv__mode_ops;

extern const netsrv__mode_ops netsrv__mode_sync;
extern const netsrv__mode_ops netsrv__mode_thread;
extern const netsrv__mode_ops netsrv__mode_fork;
extern const netsrv__mode_ops netsrv__mode_async;

typedef struct netsrv__child {
    pid_t pid;                 /* also its process group: the child leads one */
    int pidfd;                 /* -1 when the kernel has no pidfd_open */
    netsrv__ipkey ip;
    double cut_at;             /* drain deadline, NETSRV__INF none */
    int signalled;             /* 0, SIGTERM or SIGKILL sent */
} netsrv__child;

/* A request: the connection the server took, the task that runs its
 * handler, and the server's bookkeeping.  netsrv_request is its conn. */
typedef struct netsrv__req {
    netsrv_conn conn;
    netsrv_task task;
    netsrv__ipkey ip;
    double cut_at;             /* thread mode: the drain deadline */
    int rc;                    /* the handler's result (a fork child's status) */
    int set_up;                /* setup succeeded: finish is owed */
    pthread_t tid;
    struct netsrv__req *next;  /* thread mode lists */
    void *state;
} netsrv__req;

static inline netsrv__req *netsrv__req_of(const netsrv_conn *c)
{
    return container_of(c, netsrv__req, conn);
}

struct netsrv_server {
    netsrv_config cfg;
    netsrv_handler handler;
    const netsrv__mode_ops *ops;
    netsrv_addr addr;          /* bound address, read back after bind */
    int fd;                    /* listener or datagram socket, -1 closed */
    int socktype;              /* SOCK_STREAM or SOCK_DGRAM */
    int activated;
    int adopted;               /* inherited (fd:N, systemd): cannot be cloned */
    int unix_owned;            /* we created the Unix path: unlink at close */
    dev_t unix_dev;
    ino_t unix_ino;
    int wakefd;                /* eventfd: wakes the serving loop */
    int drainfd;               /* eventfd: a shutdown was asked (also from a
                                  fork child); sync requests watch it */
    int sparefd;               /* reserve fd for EMFILE on accept */
    atomic_int stop;           /* shutdown asked (lock-free: signal-safe) */
    int in_child;              /* this process is a fork-mode child */
    atomic_uint active;        /* requests in flight */
    atomic_ulong dropped;      /* datagrams dropped at the cap */
    atomic_ulong refused;      /* clients refused (per_ip, verify_request) */
    atomic_ulong served;       /* requests taken */
    pthread_mutex_t lock;      /* guards the lists below */
    netsrv__iptable ips;       /* connections per client (per_ip) */
    netsrv__req *threads;      /* thread mode: running requests */
    netsrv__req *done;         /* thread mode: ended, to be joined */
    pthread_t cutter;          /* thread mode: cuts requests off at their
                                  drain deadline, whatever the caller does */
    int cutter_state;          /* 0 none, 1 running, 2 ended (to be joined) */
    int cutter_stop;
    pthread_cond_t cut_cv;     /* a request ended, or the server goes */
    netsrv__child *children;   /* fork mode */
    unsigned nchildren, capchildren;
    char *pktbuf;              /* datagram receive buffer, max_packet + 1 */
};

/* error.c */
int netsrv__seterr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* addr.c: dials text, waiting as the calling task; the fd stays
 * non-blocking.  resolve.c: looks a name up on the resolver threads while
 * the task t waits; *out is the caller's (freeaddrinfo). */
int netsrv__dial(const char *text, int dgram, double timeout, char *err, size_t errlen);
struct addrinfo;
int netsrv__resolve(netsrv_task *t, const char *host, const char *port, int dgram,
                    double deadline, struct addrinfo **out, char *err, size_t errlen);

/* listen.c */
int netsrv__listen_open(netsrv_server *srv, char *err, size_t errlen);
int netsrv__listen_activate(netsrv_server *srv, char *err, size_t errlen);
void netsrv__listen_close(netsrv_server *srv);
/* Another socket bound to the server's address with SO_REUSEPORT, for one
 * more async loop; -errno when that cannot be (Unix, inherited sockets). */
int netsrv__listen_clone(netsrv_server *srv);
int netsrv__set_nonblock(int fd, int on);

/* accept.c: the one way every mode takes a client or a datagram. */
#define NETSRV__TAKEN 1        /* *out is a new request */
#define NETSRV__AGAIN 0        /* nothing there now */
#define NETSRV__SKIPPED 2      /* one was refused or dropped: try again */
#define NETSRV__PAUSE 3        /* at max_conns or out of descriptors: stop
                                  watching the listener for a while */
int netsrv__take(netsrv_server *srv, int lfd, char *pktbuf, int *sparefd, netsrv__req **out);

/* server.c */
void netsrv__report(netsrv_server *srv, netsrv_request *req,
                    const netsrv_addr *peer, int err);
void netsrv__wake(netsrv_server *srv);
int netsrv__ip_acquire(netsrv_server *srv, const netsrv__ipkey *k);
void netsrv__ip_release(netsrv_server *srv, const netsrv__ipkey *k);

/* request.c */
netsrv__req *netsrv__req_new(netsrv_server *srv, int fd, const netsrv_addr *peer, int dgram);
/* Makes req's task a task of loop (NULL: blocking) that runs the handler;
 * the task's last reference frees req. */
void netsrv__req_task(netsrv__req *req, netsrv__loop *loop);
/* A request that never ran: closed, its per-IP count given back, freed. */
void netsrv__req_drop(netsrv__req *req);

#endif /* NETSRV_INT_H */
