/* netsrv_int.h - private structures and the calls the library's files share.
 * Nothing here is installed; names carry the second prefix netsrv__ so a
 * reader sees at a glance what is not API. */
#ifndef NETSRV_INT_H
#define NETSRV_INT_H

#include "netsrv.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <poll.h>

#define NETSRV__INF 1e300

/* One concurrency mode: how a request accepted by the serving loop runs,
 * and how the loop learns that running requests have ended. */
typedef struct netsrv__mode_ops {
    /* Runs or hands off req; owns it from here on. */
    void (*process)(netsrv_server *srv, netsrv_request *req);
    /* Reaps ended threads/children; blocking waits for at least one. */
    void (*collect)(netsrv_server *srv);
    /* Adds the fds whose readiness means "a request ended" (pidfds). */
    int (*pollfds)(netsrv_server *srv, struct pollfd *pfd, int max);
    /* At close: waits for requests in flight until deadline, then cuts
     * off the rest. */
    void (*close)(netsrv_server *srv, double deadline);
    /* Modes with a loop of their own (async) replace the serving loop. */
    int (*serve)(netsrv_server *srv, double poll_interval);
    int (*handle_one)(netsrv_server *srv);
} netsrv__mode_ops;

extern const netsrv__mode_ops netsrv__mode_sync;
extern const netsrv__mode_ops netsrv__mode_thread;
extern const netsrv__mode_ops netsrv__mode_fork;
extern const netsrv__mode_ops netsrv__mode_async;

struct netsrv__task;

/* Concurrent connections per client IP (only IPv4/IPv6 stream clients). */
typedef struct netsrv__ipkey {
    uint8_t bytes[16];
    uint8_t valid;
} netsrv__ipkey;

typedef struct netsrv__ipcount {
    netsrv__ipkey key;
    unsigned count;
    struct netsrv__ipcount *next;
} netsrv__ipcount;

#define NETSRV__IPBUCKETS 64

typedef struct netsrv__child {
    pid_t pid;
    int pidfd; /* -1 when the kernel has no pidfd_open */
    netsrv__ipkey ip;
} netsrv__child;

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
    int drainfd;               /* eventfd: readable once a shutdown began */
    int sparefd;               /* reserve fd for EMFILE on accept */
    volatile sig_atomic_t stop;/* shutdown asked */
    int in_child;              /* this process is a fork-mode child */
    atomic_uint active;        /* requests in flight */
    pthread_mutex_t lock;      /* guards the lists below */
    netsrv__ipcount *ipcounts[NETSRV__IPBUCKETS];
    netsrv_request *threads;   /* thread mode: running requests */
    netsrv_request *done;      /* thread mode: ended, to be joined */
    netsrv__child *children;   /* fork mode */
    unsigned nchildren, capchildren;
    char *pktbuf;              /* datagram receive buffer, max_packet + 1 */
};

struct netsrv_request {
    netsrv_server *srv;
    int fd;                    /* the connection, or the server's datagram socket */
    int dgram;
    netsrv_addr peer;
    netsrv__ipkey ip;
    double timeout;            /* idle timeout, seconds, 0 none */
    double end_deadline;       /* request_timeout as a monotonic deadline */
    int draining;              /* noticed the server's shutdown */
    double drain_deadline;     /* monotonic; NETSRV__INF without one */
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
    void *state;
    struct netsrv__task *task; /* async mode: the request's coroutine */
    /* thread mode */
    pthread_t tid;
    netsrv_request *next;
};

/* error.c */
int netsrv__seterr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* clock.c */
double netsrv__now(void);
int netsrv__ms_until(double deadline);

/* addr.c */
int netsrv__ipkey_of(const netsrv_addr *a, netsrv__ipkey *k);

/* listen.c */
int netsrv__listen_open(netsrv_server *srv, char *err, size_t errlen);
int netsrv__listen_activate(netsrv_server *srv, char *err, size_t errlen);
void netsrv__listen_close(netsrv_server *srv);
/* Another socket bound to the server's address with SO_REUSEPORT, for one
 * more async loop; -errno when that cannot be (Unix, inherited sockets). */
int netsrv__listen_clone(netsrv_server *srv);
int netsrv__set_nonblock(int fd, int on);

/* server.c */
/* Admits an accepted stream connection: per-IP cap, verify_request,
 * socket options.  Returns the new request (counted in srv->active), or
 * NULL when the client was refused (fd closed). */
netsrv_request *netsrv__admit_stream(netsrv_server *srv, int fd, netsrv_addr *peer);
/* The same for a datagram of n bytes in data; n > max_packet is refused
 * and reported. */
netsrv_request *netsrv__admit_dgram(netsrv_server *srv, int fd, netsrv_addr *peer,
                                    const void *data, size_t n);
/* EMFILE on accept: drops the pending client using the reserve fd. */
void netsrv__refuse_with_spare(int lfd, int *sparefd);
void netsrv__reset_drain(netsrv_server *srv);
void netsrv__report(netsrv_server *srv, netsrv_request *req,
                    const netsrv_addr *peer, int err);
void netsrv__wake(netsrv_server *srv);
void netsrv__ip_release(netsrv_server *srv, const netsrv__ipkey *k);

/* request.c */
netsrv_request *netsrv__request_new(netsrv_server *srv, int fd,
                                    const netsrv_addr *peer, int dgram);
void netsrv__request_free(netsrv_request *req);
/* Runs setup/handle/finish and ends the request (flush, close); returns the
 * first error or 0.  Does not free req. */
int netsrv__request_run(netsrv_request *req);
/* Ends a request: flush, half-close, close (or send a datagram's reply),
 * and give back its per-IP count.  Does not free req. */
void netsrv__request_close(netsrv_request *req);
/* Waits until fd is ready for events (0), the idle timeout (-ETIMEDOUT) or
 * the drain deadline passed (-ECANCELED).  idle: apply the idle timeout. */
int netsrv__wait(netsrv_request *req, int fd, short events, int idle);
/* The server began shutting down: the request gets cfg.drain seconds. */
void netsrv__request_drain(netsrv_request *req);

/* mode_async.c */
/* Parks the running coroutine until fd is ready (1) or deadline passed /
 * the task was woken (0).  Returns a negative errno on failure. */
int netsrv__task_wait(netsrv_request *req, int fd, short events, double deadline);
/* Gives back memory an idle async request does not need. */
void netsrv__task_idle(netsrv_request *req);
/* An input buffer of cfg.rbufsize bytes for an async request. */
char *netsrv__task_rbuf(netsrv_request *req);

/* stream.c */
int netsrv__flush_quiet(netsrv_request *req);

/* dgram.c */
void netsrv__dgram_end(netsrv_request *req);

#endif /* NETSRV_INT_H */
