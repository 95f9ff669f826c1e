/* bench.h - what the parts of "nettool bench" share: the run's settings,
 * the latency histogram (bench_stats.c) and the event loops that drive the
 * connections (bench_loop.c).  applet_bench.c holds the command line and
 * the reports.
 */
#ifndef NT_BENCH_H
#define NT_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <netsrv.h>

/* ------------------------------------------------------- bench_stats.c */

/* An HDR-style log-linear histogram of microseconds: values below 256 have
 * a bucket each; above, every power of two is cut into 128 equal buckets,
 * so a bucket is never wider than 1/128 (0.8%) of the values in it.
 * Values past NT_HIST_MAX_US are counted in the last bucket (max stays
 * exact).  Fixed size: recording allocates nothing. */
#define NT_HIST_SUB_BITS 7
#define NT_HIST_SUB (1u << NT_HIST_SUB_BITS)     /* buckets per power of two */
#define NT_HIST_LINEAR (2u * NT_HIST_SUB)         /* values with their own bucket */
#define NT_HIST_MAX_BIT 40                        /* 2^40 us: about 12 days */
#define NT_HIST_BUCKETS \
    (NT_HIST_LINEAR + (NT_HIST_MAX_BIT - NT_HIST_SUB_BITS - 1) * NT_HIST_SUB)
#define NT_HIST_MAX_US ((UINT64_C(1) << NT_HIST_MAX_BIT) - 1)

struct nt_hist {
    uint64_t count;
    uint64_t max;
    uint64_t min;
    uint64_t sum;
    uint64_t buckets[NT_HIST_BUCKETS];
};

void nt_hist_init(struct nt_hist *h);
void nt_hist_record(struct nt_hist *h, uint64_t us);
/* Adds every sample of from into into. */
void nt_hist_merge(struct nt_hist *into, const struct nt_hist *from);
/* The value at percentile p (0 to 100): the highest value its bucket
 * stands for, never more than the largest sample.  0 when empty. */
uint64_t nt_hist_percentile(const struct nt_hist *h, double p);
double nt_hist_mean(const struct nt_hist *h);

/* -------------------------------------------------------- bench_loop.c */

/* Kinds of errors, as counted and reported. */
enum {
    NT_BERR_CONNECT,  /* connect() failed or was refused */
    NT_BERR_RESET,    /* reset, or closed by the server during the run */
    NT_BERR_MISMATCH, /* an echoed byte differs from what was sent */
    NT_BERR_TIMEOUT,  /* no complete echo within the timeout */
    NT_BERR_KINDS
};

/* The run's settings: filled by applet_bench.c, read-only once the loops
 * run.  Times are CLOCK_MONOTONIC nanoseconds. */
struct nt_bench_cfg {
    netsrv_addr addr;
    const char *addr_text;
    int dgram;
    unsigned conns;
    size_t size;
    double rate;            /* requests/s in all; 0: closed loop */
    uint64_t timeout_ns;    /* 0: none */
    uint64_t measure_ns;    /* when warmup ends and figures start */
    uint64_t end_ns;        /* when the run ends */
    const unsigned char *pattern; /* random bytes, size + NT_BENCH_WINDOW */
};

/* Messages are windows of the shared random pattern at an offset below
 * NT_BENCH_WINDOW that each connection draws anew for every message. */
#define NT_BENCH_WINDOW 4096

struct nt_bench_conn;

/* One event loop in one thread with its share of the connections.
 * Counters are written by the loop's thread only (relaxed stores) and
 * read by the main thread each second. */
struct nt_bench_loop {
    const struct nt_bench_cfg *cfg;
    unsigned index;
    struct ev_loop *loop;
    pthread_t tid;
    struct nt_bench_conn *conns;
    unsigned nconns;
    unsigned char *rxbuf;    /* scratch for reads, size + 1 bytes */
    ev_async stop_w;         /* another thread asks: stop now */
    ev_timer end_w;          /* the run's end */
    struct nt_bench_conn **heap; /* --rate: waiting sends, earliest first */
    unsigned nheap;
    int sched_fd;            /* --rate: timerfd at the earliest one */
    ev_io sched_w;
    uint64_t armed_for;      /* what sched_fd is set to (0: nothing) */
    struct nt_hist *raw;     /* latency from the actual send */
    struct nt_hist *corrected; /* from the scheduled send (--rate) */
    _Atomic uint64_t requests;   /* complete echoes in the measured time */
    _Atomic uint64_t errors[NT_BERR_KINDS];
    _Atomic unsigned live;       /* connections still open */
    _Atomic int opened;          /* every connection was tried */
    int started;
};

/* Sets up loop l (its own ev_loop, histograms and buffers) for the
 * connections numbered first .. first + n - 1.  0 or a negative errno. */
int nt_bench_loop_init(struct nt_bench_loop *l, const struct nt_bench_cfg *cfg,
                       unsigned index, unsigned first, unsigned n);
/* Starts l's thread: it connects its connections and runs until the
 * run's end, nt_bench_loop_stop(), or when none of them is left. */
int nt_bench_loop_start(struct nt_bench_loop *l);
/* Asks l to stop at once; safe from any thread. */
void nt_bench_loop_stop(struct nt_bench_loop *l);
/* Waits for l's thread, then frees what init took (not the histograms'
 * figures: read them before nt_bench_loop_free). */
void nt_bench_loop_join(struct nt_bench_loop *l);
void nt_bench_loop_free(struct nt_bench_loop *l);

/* Whether any connection got through to the server: a stream connected,
 * or a datagram came back.  Until one does, the first connect error line
 * is held back (see nt_bench_say_held). */
int nt_bench_reached(void);
/* The errno of the first connection that could not reach the server, or 0. */
int nt_bench_unreached_error(void);
/* Says the connect error line held back, if there is one. */
void nt_bench_say_held(void);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t nt_bench_now(void);

#endif /* NT_BENCH_H */
