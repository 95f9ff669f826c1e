/* testutil.h - helpers shared by the C tests: a watchdog that bounds every
 * test program, a server running in a background thread, blocking client
 * helpers with poll timeouts, an event pipe that hooks and handlers (also in
 * forked children) report through, and a temporary directory for Unix paths.
 */
#ifndef NETSRV_TESTUTIL_H
#define NETSRV_TESTUTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "netsrv.h"

/* Starts the watchdog (the program bails out after secs seconds), makes
 * SIGPIPE kill the process as by default (so a library that lets it through
 * is caught), and turns off stdout buffering surprises. */
void tu_init(unsigned secs);

/* Seconds on the monotonic clock. */
double tu_now(void);

/* A server running netsrv_serve_forever in a thread. */
typedef struct tu_srv {
    netsrv_server *srv;
    pthread_t th;
    double poll;
    int rv;             /* serve_forever's return value once done */
    atomic_int done;    /* set when serve_forever returned */
    int started;
    pid_t pid;          /* tu_start_proc: the process serving, else 0 */
} tu_srv;

/* Creates a server from cfg with handler; on failure prints a diag line and
 * returns NULL.  addrbuf (NETSRV_ADDRSTRLEN, may be NULL) gets its address. */
/* Defaults, then 127.0.0.1 port 0 and the given mode: where most tests start. */
void tu_config(netsrv_config *cfg, netsrv_mode mode);
/* A listening TCP socket on 127.0.0.1 and a free port (bails out on failure). */
int tu_listen_loopback(int *port);
netsrv_server *tu_create(const netsrv_config *cfg, const netsrv_handler *h, char *addrbuf);
/* Runs serve_forever(srv, poll) in a new thread; returns 0 or -errno. */
int tu_start(tu_srv *t, netsrv_server *srv, double poll);
/* Runs serve_forever(srv, poll) in the main thread of a child process
 * (SIGTERM there shuts it down); tu_stop ends it.  For fork mode: a fork
 * from a process whose other thread is inside malloc can leave the child
 * stuck on an allocator lock (AddressSanitizer's, in GCC 12, takes none
 * around fork), which a server in a thread of the test program risks on
 * every connection.  State in shared memory is seen by both sides. */
int tu_start_proc(tu_srv *t, netsrv_server *srv, double poll);
/* Waits at most timeout seconds for serve_forever to return; 1 when it did
 * (the thread is then joined), 0 when it is still running. */
int tu_wait_done(tu_srv *t, double timeout);
/* netsrv_shutdown + wait (at most 10 s) + join; returns serve_forever's
 * value, or -ETIMEDOUT when it did not return (the thread is left). */
int tu_stop(tu_srv *t);

/* Connects to addr (netsrv_connect, 5 s timeout); diag on failure. */
int tu_connect(const char *addr, int dgram);
/* Sends all of buf (MSG_NOSIGNAL); 0 or -errno. */
int tu_send_all(int fd, const void *buf, size_t len);
/* Reads one line (up to and including '\n', at most cap-1 bytes, then a NUL
 * is added) waiting at most timeout_ms in all.  Returns its length, 0 at
 * end of stream, -ETIMEDOUT or -errno. */
ssize_t tu_read_line(int fd, char *buf, size_t cap, int timeout_ms);
/* Reads until end of stream or cap bytes, at most timeout_ms in all.
 * Returns bytes read or -ETIMEDOUT / -errno (when nothing was read). */
ssize_t tu_read_all(int fd, void *buf, size_t cap, int timeout_ms);
/* Waits for one datagram; returns its length or -ETIMEDOUT / -errno. */
ssize_t tu_recv(int fd, void *buf, size_t cap, int timeout_ms);
/* 1 when the peer closed (EOF or reset) within timeout_ms, 0 when data
 * came instead, -ETIMEDOUT when neither happened. */
int tu_wait_eof(int fd, int timeout_ms);
/* Closes a client socket with shutdown(SHUT_RDWR) first.  Clients run in
 * the test's own process, so a fork-mode server's children inherit copies
 * of every client socket open when they were forked: a plain close() would
 * not end the connection while such a copy lives. */
void tu_close(int fd);
/* Connects, sends msg, half-closes (streams), reads the reply (a line for streams, a datagram for
 * dgram) and compares; returns 1 when the echo matched. */
int tu_echo_once(const char *addr, int dgram, const char *msg);

/* Built with AddressSanitizer (whose quarantine keeps freed memory in RSS,
 * and which reports overflows itself). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_UNDER_ASAN 1
#endif
#endif
#ifndef TU_UNDER_ASAN
#define TU_UNDER_ASAN 0
#endif
/* Built with ThreadSanitizer (which also reports a stack overflow itself,
 * then exits with its exitcode instead of dying of the signal). */
#if defined(__SANITIZE_THREAD__)
#define TU_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_UNDER_TSAN 1
#endif
#endif
#ifndef TU_UNDER_TSAN
#define TU_UNDER_TSAN 0
#endif
/* Run under valgrind (make check-valgrind): its own heap and shadow count
 * in RSS, and a program exec'd again is no longer under it. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TU_UNDER_VALGRIND (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef TU_UNDER_VALGRIND
#define TU_UNDER_VALGRIND 0
#endif

/* How a forked test child whose status is checked ends: _exit(status),
 * except under valgrind.  There memcheck checks a child's leaks at _exit
 * too, counts as lost what only the parent's other threads (absent in the
 * child) pointed to, and replaces the status with its error code; so the
 * child execs a shell that exits with the status (memcheck does not follow
 * an exec and checks nothing then). */
void tu_child_exit(int status) __attribute__((noreturn));

/* VmRSS of this process in bytes, -1 when unknown. */
long tu_rss_bytes(void);
/* Raises the open-files limit to at least n where the hard limit allows;
 * returns the soft limit now. */
long tu_raise_nofile(long n);

/* Number of open descriptors of this process (/proc/self/fd). */
int tu_count_fds(void);
/* Threads of this process (entries of /proc/self/task), -1 on error. */
int tu_count_tasks(void);
/* The threads a test starts from: tu_count_tasks() after a thread was
 * made and joined (a sanitizer's own thread comes with the first), not
 * counting that joined thread even while it is still listed. */
int tu_base_tasks(void);
/* tu_count_tasks() once it is want or less, or after timeout seconds
 * (10x under valgrind): joined threads leave /proc a moment later. */
int tu_wait_tasks(int want, double timeout);
/* A private temporary directory (created once, emptied at exit). */
const char *tu_tmpdir(void);
/* "unix:TMPDIR/name" into buf; returns buf. */
char *tu_unix_addr(char *buf, size_t len, const char *name);

/* Event pipe: any process or thread reports (code, value) records; the
 * main thread reads them.  Writes are atomic records. */
typedef struct tu_ev {
    char code;
    int val;
} tu_ev;
void tu_ev_init(void);
void tu_ev_emit(char code, int val);
/* Reads up to n events, waiting at most timeout_ms for all of them; returns
 * the number read. */
int tu_ev_wait(tu_ev *evs, int n, int timeout_ms);
/* Reads what is pending right now without waiting; returns the number. */
int tu_ev_drain(tu_ev *evs, int n);
/* The codes of evs[0..n) as a string (static buffer). */
const char *tu_ev_codes(const tu_ev *evs, int n);

/* Waits (polling) until pid is a zombie; 1 when it is, 0 after timeout. */
int tu_wait_zombie(pid_t pid, int timeout_ms);

/* Signal storm: a thread sends signo to target every half millisecond
 * until tu_bomb_end.  tu_bomb_count is the number the handler saw (install
 * tu_bomb_handler, without SA_RESTART, with tu_bomb_install). */
typedef struct tu_bomb {
    pthread_t target, th;
    int signo;
    atomic_int stop;
} tu_bomb;
void tu_bomb_install(int signo);
void tu_bomb_start(tu_bomb *b, pthread_t target, int signo);
void tu_bomb_end(tu_bomb *b);
extern atomic_int tu_bomb_count;

/* The modes every behaviour test runs in: the same handler source must
 * behave the same in each. */
#define TU_NMODES 4
extern const netsrv_mode tu_modes[TU_NMODES];

/* A TCP client socket to addr (HOST:PORT, as netsrv_addr_parse) whose
 * receive buffer is set to rcvbuf bytes before connecting, so that the
 * window it advertises stays small: a slow reader then keeps the server's
 * output queued on the server's side.  Blocking; -errno on failure. */
int tu_connect_rcvbuf(const char *addr, int rcvbuf);
/* Waits until everything sent on fd was acknowledged by the peer's kernel
 * (SIOCOUTQ is 0): the bytes are in the peer's receive queue.  1 when so,
 * 0 after timeout_ms. */
int tu_wait_acked(int fd, int timeout_ms);
/* Reads and discards up to end of stream, chunk bytes per recv, at most
 * timeout_ms in all.  Returns the byte count; *err gets 0 for a clean end
 * of stream, the errno that ended it (ECONNRESET...) or ETIMEDOUT. */
long long tu_read_count(int fd, size_t chunk, int timeout_ms, int *err);
/* CPU time (user + system) thread th has used, in seconds; -1 on error. */
double tu_thread_cpu(pthread_t th);
/* Runs fn(arg) in a forked child, which _exits 0 after it (fn may _exit
 * itself) and is killed by SIGALRM after timeout_ms.  Returns the child's
 * wait status, or -1 when it could not be forked or reaped in time. */
int tu_fork_run(void (*fn)(void *), void *arg, int timeout_ms);
/* A wait status as text ("exit 0", "killed by signal 11 (...)"; static). */
const char *tu_status_text(int st);

#endif /* NETSRV_TESTUTIL_H */
