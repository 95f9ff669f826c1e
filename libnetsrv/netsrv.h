/* netsrv.h - the whole public surface of libnetsrv.
 *
 * A server is an address + a concurrency mode + a handler, as in Python's
 * socketserver.  Handlers touch their connection only through the request
 * calls below, so the same handler source runs in every mode.
 *
 * Conventions: functions return 0 (or a byte count) on success and a negative
 * errno on failure; netsrv_strerror() turns one into text.  The library never
 * prints and never exits.  Memory a caller hands in stays the caller's.
 */
#ifndef NETSRV_H
#define NETSRV_H

#include <stddef.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NETSRV_VERSION "0.1.0"

/* Size of the buffer netsrv_addr_format() and friends need. */
#define NETSRV_ADDRSTRLEN 128
/* Size of the error-text buffers the create/parse calls fill. */
#define NETSRV_ERRLEN 256
/* Smallest coroutine stack (netsrv_config.stack_size) the async mode takes;
 * a smaller one is refused with -EINVAL, never silently raised. */
#define NETSRV_STACK_MIN (16 * 1024)

typedef struct netsrv_server netsrv_server;
/* A connection with a buffered stream on it.  Every stream call below
 * (read, readline, write, printf, flush, sleep...) takes one. */
typedef struct netsrv_conn netsrv_conn;
/* A server's request is the connection (or datagram) it took: a
 * netsrv_request is a netsrv_conn, so handlers and clients share the
 * stream calls. */
typedef struct netsrv_conn netsrv_request;
/* A task: code written in blocking style.  A request's handler runs as
 * one; in async mode it is a coroutine on an event loop, elsewhere the
 * thread (or process) that runs the request. */
typedef struct netsrv_task netsrv_task;
#include <stddef.h>

/* ---------------------------------------------------------------- errors */

/* Text for a negative errno returned by any netsrv call (never NULL). */
const char *netsrv_strerror(int err);

/* ------------------------------------------------------------- addresses */

/* A socket address of any family the library speaks (IPv4, IPv6, Unix). */
typedef struct netsrv_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} netsrv_addr;

/* Parses "PORT" (all IPv4 addresses), "HOST:PORT", "[V6]:PORT" or
 * "unix:PATH" into *out.  Host names are resolved (first result wins).
 * Returns 0 or -EINVAL/-ENOENT with a reason in err (may be NULL). */
int netsrv_addr_parse(const char *text, netsrv_addr *out, char *err, size_t errlen);

/* Writes "HOST:PORT", "[V6]:PORT" or "unix:PATH" (Unix peers without a
 * name: "unix:") into buf; returns buf. */
char *netsrv_addr_format(const netsrv_addr *a, char *buf, size_t len);

/* Opens a client socket to text (as netsrv_addr_parse) and connects it,
 * waiting at most timeout seconds (<= 0: no limit).  dgram selects UDP or
 * Unix datagram; a Unix datagram client is auto-bound so it can get replies.
 * Returns the blocking, close-on-exec fd or a negative errno. */
int netsrv_connect(const char *text, int dgram, double timeout, char *err, size_t errlen);

/* A client connection with the buffered stream on it: dials addr (as
 * netsrv_connect, waiting at most timeout seconds; the same timeout is
 * then the connection's idle timeout, <= 0: none) and returns it in *out.
 * Every stream call (netsrv_read, netsrv_getline, netsrv_printf,
 * netsrv_sendfile...) takes it; called from a task they wait as the task
 * (on a loop a name is looked up on resolver threads, so the loop is never
 * held up), elsewhere in poll().  Returns 0 or a negative errno with a
 * reason in err. */
int netsrv_conn_dial(netsrv_conn **out, const char *addr, double timeout, char *err,
                     size_t errlen);
/* The connection's socket. */
int netsrv_conn_fileno(const netsrv_conn *c);
/* Flushes, closes (lingering as a server's requests do) and frees a
 * connection from netsrv_conn_dial.  NULL is fine. */
void netsrv_conn_close(netsrv_conn *c);

/* ------------------------------------------------------------ TLS (tls.c) */

/* How netsrv_conn_start_tls talks TLS (OpenSSL's libssl does all of it;
 * this header needs none of OpenSSL's).  Zeroed (or NULL) is: no SNI, no
 * name check, the chain verified against the system's CA store, TLS 1.2
 * at least, the connection's own idle timeout. */
typedef struct netsrv_tls_opts {
    const char *server_name; /* sent as SNI (host names; an IP address is
                                not) and the name (or address) the
                                certificate must be for; NULL: none sent,
                                no name check */
    const char *ca_file;     /* more trusted CAs (PEM) besides the system
                                store; NULL: only the system store
                                (SSL_CERT_FILE/SSL_CERT_DIR when set) */
    int insecure;            /* skip all verification (chain and name) */
    double timeout;          /* the whole handshake, seconds; <= 0: only the
                                connection's idle timeout per wait */
} netsrv_tls_opts;

/* Turns the client connection c (netsrv_conn_dial; anything written before
 * is flushed in the clear first, as for STARTTLS) into TLS: handshakes,
 * waiting as the task that runs it (parked on a loop, poll() in a thread).
 * From then on every stream call goes through TLS, blocking and async
 * alike; netsrv_sendfile copies through user space; netsrv_conn_close
 * sends close_notify (without waiting for the peer's).  Returns 0, or a
 * negative errno with a line in err: -EKEYREJECTED when the certificate
 * failed verification (err names the problem as OpenSSL does, "certificate
 * has expired", "Hostname mismatch", "self-signed certificate", "unable to
 * get local issuer certificate"... and the certificate's subject), -EPROTO
 * for a failed handshake (not TLS, no common version or cipher),
 * -ECONNRESET when the peer closed during it, -ETIMEDOUT, -EALREADY (TLS
 * already), -ENOTSUP (a server's request or a group member), -EPROTO also
 * when plain bytes were buffered before it, -ENOENT/-EACCES/-EINVAL for a
 * CA file that cannot be read or holds no certificate.  On failure c is
 * left plain but of no more use: close it.  Later stream errors of a TLS
 * connection: -EPROTO (a TLS alert or bad record), -ECONNRESET also for a
 * peer that closed without close_notify (the data may be cut short); a
 * close_notify is the end of the stream. */
int netsrv_conn_start_tls(netsrv_conn *c, const netsrv_tls_opts *o, char *err, size_t errlen);

/* What a TLS connection negotiated; the strings are OpenSSL's (static) or
 * c's and live as long as c. */
typedef struct netsrv_tls_info {
    const char *version;     /* "TLSv1.3", "TLSv1.2" */
    const char *cipher;      /* "TLS_AES_256_GCM_SHA384"... */
    int verified;            /* 1: the chain (and the name, when given)
                                verified; 0: insecure */
    const char *error;       /* the TLS layer's last failure on c as text
                                ("" none): why a stream call failed */
} netsrv_tls_info;
/* Fills *out for c; returns 0, or -EINVAL when c is not TLS (*out zeroed). */
int netsrv_conn_tls_info(const netsrv_conn *c, netsrv_tls_info *out);

/* Number of sockets passed the systemd way (LISTEN_PID/LISTEN_FDS) to this
 * process, starting at fd 3; 0 when none.  unset clears the variables. */
int netsrv_listen_fds(int unset);

/* ----------------------------------------------------------- tasks, waits */

/* Seconds on a monotonic clock: the time base of every deadline. */
double netsrv_now(void);

/* Why netsrv_wait returned. */
#define NETSRV_WAIT_READY 1   /* the fd is ready */
#define NETSRV_WAIT_TIMEOUT 2 /* the deadline passed */
#define NETSRV_WAIT_WOKEN 3   /* netsrv_task_wake() was called for the task */
#define NETSRV_WAIT_DRAINED 4 /* the server's drain deadline passed: the task
                                 must end; every later wait says so too */

/* Waits, as the calling task, until fd (< 0: none) is ready for events
 * (POLLIN and/or POLLOUT), the deadline (netsrv_now() seconds; <= 0: none)
 * passes, the task is woken, or its drain deadline passes.  Other tasks of
 * the loop run meanwhile.  Returns a NETSRV_WAIT_* reason or a negative
 * errno.  Wake-ups sent while the task was busy are not lost: the next
 * wait returns NETSRV_WAIT_WOKEN at once (several collapse into one).
 * Outside any task it is a plain poll (ready or timed out). */
int netsrv_wait(int fd, short events, double deadline);

/* A loop for client tasks: code in blocking style (dial with
 * netsrv_conn_dial, then the stream calls) runs as one of thousands of
 * coroutines on one libev loop; a call that would block yields to the
 * others, and a name lookup runs on resolver threads.  A loop belongs to
 * the thread that runs it. */
typedef struct netsrv_loop netsrv_loop;
/* A new loop whose tasks get stack_size bytes of stack each (0: 64 KiB;
 * at least NETSRV_STACK_MIN).  Returns 0, -EINVAL or -ENOMEM. */
int netsrv_loop_new(netsrv_loop **out, size_t stack_size);
/* Frees a loop that is not running (its tasks have ended). */
void netsrv_loop_free(netsrv_loop *l);
/* Adds the task fn(arg) to l; it starts on the loop's next turn (or when
 * netsrv_loop_run begins).  From l's own tasks or before the run, not from
 * other threads.  Returns 0 or -ENOMEM. */
int netsrv_loop_spawn(netsrv_loop *l, void (*fn)(void *arg), void *arg);
/* Runs l in the calling thread until all its tasks have ended; 0, or
 * -EBUSY when it runs already. */
int netsrv_loop_run(netsrv_loop *l);

/* The calling task, or NULL outside any. */
netsrv_task *netsrv_task_self(void);
/* Wakes t's current or next netsrv_wait.  Safe from any thread (another
 * loop's task, a thread of the application), as long as the caller holds
 * a reference to t and t's loop (its server's serving run, or its
 * netsrv_loop) has not been freed; a wake-up of a task that ended does
 * nothing.  Never from a signal handler. */
void netsrv_task_wake(netsrv_task *t);
/* References keep a task's memory alive for wakers after it ended (a
 * wake of an ended task does nothing).  The task's own run holds one. */
void netsrv_task_ref(netsrv_task *t);
void netsrv_task_unref(netsrv_task *t);

/* ------------------------------------------------------- messages: groups */

/* A group passes messages between requests (a chat room): a send queues a
 * copy for every other member in a bounded queue of its own and wakes the
 * member's task, whose own waits for input then write the queue to its
 * socket.  So no request blocks on another's slow socket.  Works in sync,
 * thread and async mode, with members on different loops (-w N); a fork
 * child's peers live in other processes, so joining there fails. */
typedef struct netsrv_group netsrv_group;

/* What a member's full queue does to a new message. */
#define NETSRV_GROUP_DROP 0       /* drops it, and counts it */
#define NETSRV_GROUP_DISCONNECT 1 /* cuts the member off: its stream calls
                                     fail with -ECONNABORTED from then on;
                                     the message and those still queued
                                     count as dropped */

/* A new group whose members queue at most queue_bytes each (0: 256 KiB).
 * Returns 0 or -EINVAL (unknown policy) / -ENOMEM. */
int netsrv_group_new(netsrv_group **out, size_t queue_bytes, int policy);
/* Frees a group whose members have all left (any left are detached). */
void netsrv_group_free(netsrv_group *g);
/* Makes c (a request, or a client connection of a task) a member.
 * Returns 0, -EALREADY, -ENOTSOCK (datagrams), -ENOTSUP (fork mode, or a
 * TLS connection). */
int netsrv_group_join(netsrv_group *g, netsrv_conn *c);
/* c leaves; its queue is dropped.  A request that ends leaves by itself. */
void netsrv_group_leave(netsrv_group *g, netsrv_conn *c);
/* Queues len bytes for every member but from (NULL: everyone); returns the
 * number of members it was queued for (the rest were full).  Callable from
 * any thread. */
int netsrv_group_send(netsrv_group *g, netsrv_conn *from, const void *buf, size_t len);
/* Queues len bytes for one member: 0, -ENOBUFS (its queue is full),
 * -ENOENT (not a member). */
int netsrv_group_send_to(netsrv_group *g, netsrv_conn *to, const void *buf, size_t len);
/* Moves the member c from one group to another (a chat room change)
 * with its queue as it is, so a message half sent goes on whole; from
 * then on to's queue size and policy apply.  Returns 0 or -ENOENT (c is
 * no member of from). */
int netsrv_group_move(netsrv_group *from, netsrv_group *to, netsrv_conn *c);
/* Writes out what is queued for the member c now, waiting as c's task
 * at most timeout seconds (<= 0: no limit but c's own deadlines), e.g.
 * before a request that leaves ends.  Returns 0 (all sent), -ETIMEDOUT,
 * -ECANCELED (drained), -ECONNABORTED (cut off), -ENOENT (no member) or
 * the socket's error. */
int netsrv_group_flush(netsrv_conn *c, double timeout);
/* Members now. */
unsigned netsrv_group_size(netsrv_group *g);
/* c's messages dropped so far and bytes queued; returns 1 when c was cut
 * off, 0 when not, -ENOENT when c is no member. */
int netsrv_group_member_stats(netsrv_conn *c, unsigned long long *dropped, size_t *queued);

/* ---------------------------------------------------------------- handlers */

/* A handler is a table of callbacks, like socketserver's BaseRequestHandler.
 * setup and finish may be NULL.  setup/handle return 0 or a negative errno;
 * an error goes to the server's handle_error hook.  finish runs whenever
 * setup succeeded, even when handle failed.  state_size bytes of zeroed,
 * per-request memory are at netsrv_request_state(). */
typedef struct netsrv_handler {
    const char *name;
    int (*setup)(netsrv_request *req);
    int (*handle)(netsrv_request *req);
    void (*finish)(netsrv_request *req);
    size_t state_size;
    void *ctx; /* handed to every request as netsrv_request_ctx() */
    unsigned flags; /* NETSRV_CLIENT_FIRST */
} netsrv_handler;

/* The handler reads before it writes anything (echo, HTTP...).  In async
 * mode its coroutine, and so its stack, is only made once the client has
 * sent something: a silent connection costs a few hundred bytes.  Without
 * the flag the handler starts at once, as a greeting protocol needs. */
#define NETSRV_CLIENT_FIRST 0x1u

/* What handle returns to be called again once the client sends more (a
 * keep-alive HTTP connection between requests).  Output is flushed; input
 * already buffered (a pipelined request) calls handle again at once.  In
 * async mode the request gives its coroutine stack and buffers back while
 * it waits: an idle connection costs its request, under 1 KiB.  The idle
 * timeout bounds the wait; end of stream or a drain ends the request
 * (finish runs).  The per-request state stays. */
#define NETSRV_AGAIN 1

/* The ready handlers: "echo", "discard", "exec" (ctx = NULL-terminated argv
 * of the program to run per connection), "files" (ctx = a netsrv_files_dir,
 * below), "http" (ctx = a netsrv_httpd, at the end of this header),
 * "chat" (ctx = a netsrv_chat, at the end of this header, or NULL).
 * Returns NULL for unknown names. */
const netsrv_handler *netsrv_handler_find(const char *name);
/* NULL-terminated list of the ready handlers, for usage texts. */
const netsrv_handler *const *netsrv_handler_list(void);

/* ----------------------------------------------------------------- servers */

typedef enum netsrv_mode {
    NETSRV_SYNC = 0, /* one request at a time, in the serving thread */
    NETSRV_THREAD,   /* a thread per request, at most max_conns at once */
    NETSRV_FORK,     /* a process per request, at most max_conns at once */
    NETSRV_ASYNC     /* libev event loop(s); each request on a coroutine */
} netsrv_mode;

/* Parses "sync", "thread", "fork", "async"; returns the mode or -EINVAL. */
int netsrv_mode_parse(const char *name);
const char *netsrv_mode_name(netsrv_mode m);

/* Server hooks, like socketserver's overridable methods.  All optional. */
typedef struct netsrv_hooks {
    /* Accept (return nonzero) or refuse (0) a client before any handler
     * code runs; a refused stream client is closed at once. */
    int (*verify_request)(netsrv_server *srv, const netsrv_addr *peer, void *ctx);
    /* A request failed with err (negative errno): setup/handle errors,
     * timeouts, truncated datagrams, accept failures (req NULL then).
     * The server keeps serving.  In fork mode it runs in the child. */
    void (*handle_error)(netsrv_server *srv, netsrv_request *req,
                         const netsrv_addr *peer, int err, void *ctx);
    /* netsrv_handle_request() waited timeout seconds with no request.
     * Its return value is what netsrv_handle_request() returns. */
    int (*handle_timeout)(netsrv_server *srv, void *ctx);
    /* Called on every turn of netsrv_serve_forever(), idle or not. */
    void (*service_actions)(netsrv_server *srv, void *ctx);
    void *ctx;
} netsrv_hooks;

typedef struct netsrv_config {
    const char *address;  /* see netsrv_addr_parse; also "fd:N" (an inherited
                             socket) and "systemd" (the first LISTEN_FDS one) */
    int dgram;            /* UDP / Unix datagram instead of TCP / Unix stream */
    netsrv_mode mode;
    unsigned max_conns;   /* requests in flight at once, in every mode; at
                             the cap accepting pauses until a slot frees and
                             datagrams are dropped (and counted).  0: the
                             mode's default: sync 1, thread 256, fork 64,
                             async (vm.max_map_count - 1024) / 2, since each
                             coroutine stack is two memory mappings
                             (32,253 with Linux's default 65,530) */
    unsigned per_ip;      /* concurrent connections from one IP (0: no cap);
                             past it a client is closed at once */
    int backlog;          /* listen() backlog; default SOMAXCONN */
    int reuse_address;    /* SO_REUSEADDR; default 1 */
    int reuse_port;       /* SO_REUSEPORT; default 0 */
    int nodelay;          /* TCP_NODELAY on accepted sockets; default 1: the
                             stream buffers and flushes itself, so Nagle's
                             delay would only hold back a reply's tail */
    double timeout;       /* idle timeout of a request's I/O, seconds; 0 none */
    double request_timeout;/* a whole request's time limit, seconds; 0 none:
                             past it every wait fails with -ETIMEDOUT */
    double server_timeout;/* how long netsrv_handle_request waits; 0 forever */
    double drain;         /* after shutdown, how long requests in flight may
                             go on before they are cut off; < 0: no limit */
    double linger;        /* closing with unread input: the output side is
                             shut and input drained and dropped for at most
                             this many seconds (and 1 MiB) before close, so
                             the peer gets the whole reply instead of a
                             reset (nginx's lingering close); default 5,
                             0: close at once */
    int block_on_close;   /* netsrv_server_close waits for threads/children;
                             default 1 */
    size_t max_packet;    /* largest datagram taken; longer ones are dropped
                             and reported as -EMSGSIZE; default 65535 */
    size_t rbufsize;      /* stream input buffer; default 64 KiB */
    size_t wbufsize;      /* stream output is flushed past this; default 16 KiB */
    int bind_and_activate;/* default 1; 0: create only the socket, the caller
                             then calls netsrv_server_activate() */
    netsrv_hooks hooks;
    /* async mode */
    unsigned workers;     /* event loops, each in its own thread; default 1 */
    size_t stack_size;    /* coroutine stack per request; default 64 KiB,
                             at least NETSRV_STACK_MIN; below it a guard
                             page stops an overflow */
} netsrv_config;

/* Fills *cfg with the defaults above (address "127.0.0.1:7000", sync). */
void netsrv_config_init(netsrv_config *cfg);

/* Creates a server: socket, bind, listen (unless bind_and_activate is 0).
 * Port 0 binds a free port: read it back with netsrv_server_address().
 * On failure nothing is left open; returns 0 or a negative errno with a
 * reason in err.  cfg and handler are copied; handler->ctx is not. */
int netsrv_server_create(netsrv_server **out, const netsrv_config *cfg,
                         const netsrv_handler *handler, char *err, size_t errlen);

/* Binds and listens a server created with bind_and_activate = 0. */
int netsrv_server_activate(netsrv_server *srv, char *err, size_t errlen);

/* The listening (or datagram) socket, -1 after close. */
int netsrv_server_fileno(const netsrv_server *srv);
/* The address actually bound (the real port when 0 was asked). */
const netsrv_addr *netsrv_server_addr(const netsrv_server *srv);
/* The same as text in buf (NETSRV_ADDRSTRLEN bytes); returns buf. */
char *netsrv_server_address(const netsrv_server *srv, char *buf, size_t len);
const netsrv_config *netsrv_server_config(const netsrv_server *srv);

/* Serves until netsrv_shutdown().  Waits at most poll_interval seconds at a
 * time between calls of the service_actions hook.  Returns 0 after a
 * shutdown, or a negative errno on a fatal error.  May be called again. */
int netsrv_serve_forever(netsrv_server *srv, double poll_interval);

/* Waits for and handles one request, at most server_timeout seconds.
 * Returns 0, the handle_timeout hook's result (or -ETIMEDOUT without one),
 * or a negative errno. */
int netsrv_handle_request(netsrv_server *srv);

/* Asks netsrv_serve_forever to return; returns at once.  Safe from a signal
 * handler, another thread, or a handler of this server.  Requests in flight
 * get cfg.drain seconds more.  Asked before serve_forever runs, the next
 * serve_forever returns at once. */
void netsrv_shutdown(netsrv_server *srv);

/* Number of requests in flight (threads or children alive). */
unsigned netsrv_server_active(const netsrv_server *srv);

/* Counters since the server was created. */
typedef struct netsrv_stats {
    unsigned long long served;  /* requests taken (connections, datagrams) */
    unsigned long long refused; /* clients refused: per_ip, verify_request */
    unsigned long long dropped; /* datagrams dropped at max_conns */
    unsigned active;            /* requests in flight now */
} netsrv_stats;
void netsrv_server_stats(const netsrv_server *srv, netsrv_stats *out);

/* Closes the listener (and unlinks its Unix path), then, when
 * block_on_close, waits for requests in flight: up to drain seconds after
 * the shutdown, after which the rest are cut off.  Idempotent. */
void netsrv_server_close(netsrv_server *srv);

/* Closes (as netsrv_server_close) and frees the server.  NULL is fine. */
void netsrv_server_free(netsrv_server *srv);

/* ---------------------------------------------------------------- requests */

netsrv_server *netsrv_request_server(const netsrv_request *req);
/* The handler's ctx. */
void *netsrv_request_ctx(const netsrv_request *req);
/* The handler's state_size bytes of zeroed per-request memory (or NULL). */
void *netsrv_request_state(const netsrv_request *req);
/* The client's address; Unix stream clients have an empty one ("unix:"). */
const netsrv_addr *netsrv_request_peer(const netsrv_request *req);
/* Nonzero for a datagram request. */
int netsrv_request_is_dgram(const netsrv_request *req);
/* Sets this request's idle timeout in seconds (0: none). */
void netsrv_request_set_timeout(netsrv_request *req, double seconds);

/* Stream input.  Each call waits (within the idle timeout) only when no
 * buffered byte is left; pending output is flushed before waiting.
 * Returns bytes read, 0 at end of stream, or a negative errno
 * (-ETIMEDOUT, -ECANCELED when the drain deadline passed, -ECONNRESET...). */
ssize_t netsrv_read(netsrv_request *req, void *buf, size_t len);
/* Reads up to and including '\n', at most len bytes (no NUL is added: lines
 * may hold NUL bytes).  A result without a trailing '\n' means either end
 * of stream or a line longer than len (like Python's readline(limit));
 * netsrv_getline tells which. */
ssize_t netsrv_readline(netsrv_request *req, void *buf, size_t len);

/* How netsrv_getline's line ended. */
#define NETSRV_LINE_END 0  /* with '\n' (included in the bytes) */
#define NETSRV_LINE_LONG 1 /* len bytes and no '\n' yet: the rest of the line
                              comes with the next call */
#define NETSRV_LINE_EOF 2  /* end of stream before a '\n' (0 bytes: no line) */
/* As netsrv_readline, and *how says how the line ended. */
ssize_t netsrv_getline(netsrv_conn *c, void *buf, size_t len, int *how);
/* Reads exactly len bytes: returns len, 0 at end of stream before any
 * byte, -EPIPE at end of stream after some, or a negative errno. */
ssize_t netsrv_read_exact(netsrv_request *req, void *buf, size_t len);

/* Zero-copy input: waits as netsrv_read does until input is buffered, then
 * points *data at it and returns how many bytes are there (0 at end of
 * stream, or a negative errno).  Nothing is taken until netsrv_consume(). */
ssize_t netsrv_peek(netsrv_request *req, const void **data);
/* Drops len bytes (at most what netsrv_peek returned) from the input. */
void netsrv_consume(netsrv_request *req, size_t len);

/* Stream output: buffered; flushed past wbufsize, before input waits, by
 * netsrv_flush() and when the request ends.  Returns len or a negative
 * errno.  Short sends, EINTR and SIGPIPE are dealt with inside. */
ssize_t netsrv_write(netsrv_request *req, const void *buf, size_t len);
/* Sends buf now, after the output buffered so far, without copying it
 * into the buffer: for bytes that are complete as they are (an echo, a
 * block read from a file), where buffering would only add a copy.  Waits
 * and returns like netsrv_write; a datagram request gathers it as
 * netsrv_write does. */
ssize_t netsrv_send(netsrv_request *req, const void *buf, size_t len);
int netsrv_printf(netsrv_request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int netsrv_vprintf(netsrv_request *req, const char *fmt, va_list ap);
int netsrv_flush(netsrv_request *req);
/* Flushes, then half-closes the output (the peer reads end of stream). */
int netsrv_shutdown_write(netsrv_request *req);

/* Sends count bytes of the file fd from offset (fd's own offset is left
 * alone) with sendfile(2), after the output buffered so far.  Waits like
 * netsrv_write (a full socket never blocks an async loop).  Returns the
 * bytes sent, fewer than count only when the file ended first, or a
 * negative errno (-ENOTSOCK for a datagram request). */
ssize_t netsrv_sendfile(netsrv_conn *c, int fd, off_t offset, size_t count);

/* Sleeps seconds without holding up other requests of the server.
 * Returns 0, or -ETIMEDOUT when the request's time limit
 * (cfg.request_timeout) ends it early, -ECANCELED when the drain
 * deadline does. */
int netsrv_sleep(netsrv_request *req, double seconds);

/* Runs argv[0] (searched in PATH) with the connection as its stdin and
 * stdout (stderr is the server's) and no other descriptor of the server.
 * The request keeps its own copy of the socket until it ends.  Returns
 * the pid or a negative errno. */
pid_t netsrv_spawn(netsrv_request *req, char *const argv[]);
/* Waits for a child started by netsrv_spawn; *status as waitpid's.  When
 * the request's time limit or the drain deadline comes first, the child
 * gets SIGTERM, one second later SIGKILL, and is reaped; the call then
 * returns -ETIMEDOUT or -ECANCELED (with *status filled).  Never blocks
 * other requests of an async loop. */
int netsrv_waitpid(netsrv_request *req, pid_t pid, int *status);

/* Datagram requests: the packet (also readable with netsrv_read), its
 * sender (netsrv_request_peer) and the reply.  Output written with
 * netsrv_write/printf is sent as one reply datagram when the request ends
 * if anything was written; netsrv_reply sends one at once (even empty). */
const void *netsrv_packet(const netsrv_request *req, size_t *len);
int netsrv_reply(netsrv_request *req, const void *buf, size_t len);

/* ---- HTTP/1.1 messages (http.c) ---- */

/* HTTP/1.1 on http-parser, for servers and clients alike.  Heads are parsed
 * in the caller's buffer: the target, reason, header names and values point
 * into it and nothing is allocated.  Failures are negative errnos, and
 * netsrv_http_error_status() gives the status a server answers them with:
 *   -EBADMSG          400  malformed (also obs-fold, whitespace before a
 *                          header's colon, a missing, repeated or bad Host
 *                          in HTTP/1.1, bad chunk framing, early end: -EPIPE)
 *   -ENAMETOOLONG     414  request target longer than max_line
 *   -EMSGSIZE, -E2BIG 431  head over max_head bytes, over max_headers fields
 *   -EFBIG            413  body over max_body
 *   -ENOSYS           501  unknown method, transfer coding other than chunked
 *   -EPROTONOSUPPORT  505  HTTP major version other than 1 */

/* Request methods: the values of http-parser's enum http_method, so they
 * compare equal to <http_parser.h>'s HTTP_GET..., which this header does
 * not need; other methods carry their http-parser value too. */
#define NETSRV_HTTP_DELETE 0
#define NETSRV_HTTP_GET 1
#define NETSRV_HTTP_HEAD 2
#define NETSRV_HTTP_POST 3
#define NETSRV_HTTP_PUT 4
#define NETSRV_HTTP_CONNECT 5
#define NETSRV_HTTP_OPTIONS 6
#define NETSRV_HTTP_TRACE 7
#define NETSRV_HTTP_PATCH 28

/* What a message may hold; netsrv_http_limits_init() sets the defaults. */
typedef struct netsrv_http_limits {
    size_t max_line;     /* request target, or a response's reason phrase,
                            in bytes; default 8192 (past it: 414) */
    size_t max_head;     /* the whole head: start line, header lines, blank
                            line; default 32768, at most 80 KiB, which is
                            http-parser's own cap (past it: 431); also bounds
                            a body's chunk-size lines and trailers */
    size_t max_headers;  /* header fields (also trailer fields); default 100 */
    long long max_body;  /* decoded body bytes; default 1 MiB, < 0 no limit
                            (a client saving files lifts it) (past it: 413) */
} netsrv_http_limits;

/* Fills *lim with the defaults above. */
void netsrv_http_limits_init(netsrv_http_limits *lim);

/* A header field.  Parsed ones point into the parsed buffer (values without
 * the whitespace around them); for the write calls the caller fills them. */
typedef struct netsrv_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} netsrv_http_header;

/* A header for the write calls from two C strings (uses strlen). */
#define NETSRV_HTTP_HEADER(n, v) { (n), strlen(n), (v), strlen(v) }

/* Kinds of message for netsrv_http_msg_init. */
#define NETSRV_HTTP_REQUEST 0
#define NETSRV_HTTP_RESPONSE 1
/* Flag: this response answers a HEAD request (or is a CONNECT's 2xx), so
 * it has no body whatever its headers say (1xx, 204 and 304 responses
 * never have one anyway). */
#define NETSRV_HTTP_NO_BODY 0x1u
/* netsrv_http_parse: the head is not complete yet; give it more bytes. */
#define NETSRV_HTTP_INCOMPLETE 0

/* A message head being parsed, and the result.  Fields set by
 * netsrv_http_msg_init stay; the rest is filled once the head is complete. */
typedef struct netsrv_http_msg {
    int kind;                   /* NETSRV_HTTP_REQUEST or _RESPONSE */
    unsigned flags;             /* NETSRV_HTTP_NO_BODY */
    netsrv_http_limits limits;
    netsrv_http_header *headers;/* the caller's array ... */
    size_t headers_cap;         /* ... of this many (also a limit: past it 431) */
    size_t nheaders;            /* header fields parsed, in order */
    int method;                 /* requests: NETSRV_HTTP_GET...; responses -1 */
    const char *method_name;    /* "GET"... (static), responses NULL */
    const char *target;         /* request target as sent, e.g. "/a%20b?q" */
    size_t target_len;
    int major, minor;           /* HTTP version */
    int status;                 /* responses: the status code; requests 0 */
    const char *reason;         /* responses: the reason phrase */
    size_t reason_len;
    long long content_length;   /* Content-Length, -1 when none */
    int chunked;                /* Transfer-Encoding: chunked */
    int keep_alive;             /* http_should_keep_alive(): 1.1 unless
                                   "Connection: close", 1.0 only with
                                   "Connection: keep-alive", and never when
                                   the body runs until the connection closes */
    int expect_continue;        /* HTTP/1.1 request with Expect: 100-continue */
    int upgrade;                /* CONNECT, or Upgrade with Connection: upgrade
                                   (and 101 for responses): what follows the
                                   head is another protocol */
    size_t head_len;            /* bytes of the head, once complete */
    int started;                /* a byte of it (not a blank line) came: a
                                   server answers a timeout after that with
                                   408, and closes an idle connection quietly */
    const char *error;          /* why the last call failed (static text) */
    struct {                    /* private to http.c */
        union { unsigned char bytes[64]; long long ll; void *p; } parser;
        const char *base;
        size_t parsed;
        int last, state, rc, cb_err, msg_done;
    } priv;
} netsrv_http_msg;

/* Prepares *m for a new head of kind (NETSRV_HTTP_REQUEST/_RESPONSE) with
 * flags, the limits *lim (NULL: the defaults) and the caller's array of cap
 * headers, which stays the caller's and must outlive m's use. */
void netsrv_http_msg_init(netsrv_http_msg *m, int kind, unsigned flags,
                          const netsrv_http_limits *lim, netsrv_http_header *headers,
                          size_t cap);

/* Parses the head at the start of buf (len bytes): returns its length
 * (m->head_len; what follows is body or the next message),
 * NETSRV_HTTP_INCOMPLETE when more bytes are needed, or a negative errno
 * (see above; m->error says why).  Call again with the same buffer grown:
 * parsing goes on where it stopped (a different buffer starts over).
 * After a result other than INCOMPLETE, init m again for the next head. */
ssize_t netsrv_http_parse(netsrv_http_msg *m, const char *buf, size_t len);

/* Reads one head from c into buf (cap bytes; past them, as past
 * max_head, 414 or 431) and parses it into m, which is started afresh
 * (keeping its kind, flags, limits and header array).  Only the head's
 * bytes are taken from the stream: a body or a pipelined request stays
 * there.  Returns the head's length, 0 when the stream ended before a
 * message began (a keep-alive peer went away), -EPIPE when it ended inside
 * one, or a negative errno (parsing as netsrv_http_parse; I/O as
 * netsrv_read: a timeout while m->started is 0 is an idle connection).
 * m points into buf until buf is reused. */
ssize_t netsrv_http_read_head(netsrv_conn *c, netsrv_http_msg *m, char *buf, size_t cap);

/* The status a server answers err with (400, 408 for -ETIMEDOUT, 413, 414,
 * 431, 501, 505; 500 for other errors), or 0 when there is no one to
 * answer (-ECONNRESET, -ECANCELED...) or err is not an error. */
int netsrv_http_error_status(int err);

/* The first header of m named name (any case) after prev (NULL: from the
 * start), or NULL; call again with the result to walk repeated ones. */
const netsrv_http_header *netsrv_http_header_find(const netsrv_http_msg *m, const char *name,
                                                  const netsrv_http_header *prev);

/* Looks for token (any case) in a comma-separated list such as
 * "keep-alive, Upgrade" or "text/html, application/json;q=0.9" (commas in
 * quoted strings do not count).  Returns 1 when found, with *params (may be
 * NULL) at what follows its ';' ("q=0.9", or NULL/0 when none), else 0. */
int netsrv_http_token_find(const char *list, size_t len, const char *token,
                           const char **params, size_t *params_len);

/* A body being read: by Content-Length, chunked (http-parser decodes it;
 * extensions are skipped) or, for a response without either, until the
 * connection closes.  Set trailers/trailers_cap and tbuf/tbuf_len after
 * netsrv_http_body_init to keep the trailer fields of a chunked body (their
 * names and values are copied into tbuf); without them trailers are dropped. */
typedef struct netsrv_http_body {
    long long length;           /* Content-Length, or -1 */
    int chunked;
    int until_close;            /* the body ends when the connection does */
    long long received;         /* body bytes handed out so far */
    int done;                   /* the whole body (and its trailers) was read */
    netsrv_http_header *trailers;
    size_t trailers_cap, ntrailers;
    char *tbuf;
    size_t tbuf_len;
    const char *error;          /* why the last call failed (static text) */
    struct {                    /* private to http_body.c */
        union { unsigned char bytes[64]; long long ll; void *p; } parser;
        long long max_body;
        size_t max_head, max_fields, nfields, tused, framing, room, got;
        char *out;
        const char *body_end, *scan;
        int last, rc, cb_err, cr, crlf;
    } priv;
} netsrv_http_body;

/* Starts reading the body of the complete head m (its limits apply).
 * Returns 0, or -EFBIG when its Content-Length is over max_body.  A message
 * without a body is done at once. */
int netsrv_http_body_init(netsrv_http_body *b, const netsrv_http_msg *m);

/* Decodes body bytes from in (len bytes of what followed the head) into out
 * (cap bytes; out NULL: count and drop up to cap).  Returns the body bytes
 * written, *used the input bytes taken (never past the body's end, so a
 * pipelined message stays), or a negative errno (-EBADMSG, -EFBIG,
 * -EMSGSIZE for trailers or chunk lines over the limits, -E2BIG for more
 * trailer fields than max_headers; body bytes decoded before a fault come
 * first, the error with the next call, and a failed body is never done).
 * 0 with b->done is the end; 0 without it needs more input. */
ssize_t netsrv_http_body_decode(netsrv_http_body *b, const void *in, size_t len, size_t *used,
                                void *out, size_t cap);

/* Tells b the input ended: 0 when that ends the body (until_close), else
 * -EPIPE (the body was cut short); 0 too when b was already done. */
int netsrv_http_body_eof(netsrv_http_body *b);

/* Reads the next piece of the body from c into buf (at most len bytes;
 * buf NULL: drop them).  Returns bytes (> 0), 0 at the end of the body, or
 * a negative errno (-EPIPE when the stream ends before the body does). */
ssize_t netsrv_http_read_body(netsrv_conn *c, netsrv_http_body *b, void *buf, size_t len);

/* Reads and drops the rest of the body, so the next request on the
 * connection can be read; returns the bytes dropped or a negative errno. */
long long netsrv_http_skip_body(netsrv_conn *c, netsrv_http_body *b);

/* The reason phrase of status ("Not Found"), "" for codes http-parser does
 * not name; never NULL. */
const char *netsrv_http_status_text(int status);

/* Writes (buffered) "HTTP/1.1 status reason", the n headers and the blank
 * line to c; reason NULL: netsrv_http_status_text(status).  Returns the
 * bytes written, or -EINVAL before writing anything when the status is not
 * 100-999, a name is not a token or a value holds CR, LF or NUL. */
ssize_t netsrv_http_write_head(netsrv_conn *c, int status, const char *reason,
                               const netsrv_http_header *h, size_t n);

/* Writes "method target HTTP/1.1", the n headers and the blank line to c
 * (a target starting with '?' gets the '/' it needs, as from the URL
 * "http://host?q").  Returns the bytes written or -EINVAL (as above; also
 * a method that is not a token or a target with spaces or controls). */
ssize_t netsrv_http_write_request(netsrv_conn *c, const char *method, const char *target,
                                  size_t target_len, const netsrv_http_header *h, size_t n);

/* Writes one chunk of a chunked body (nothing when len is 0, since an
 * empty chunk would end the body); returns len or a negative errno. */
ssize_t netsrv_http_write_chunk(netsrv_conn *c, const void *data, size_t len);

/* Ends a chunked body: the last chunk, the n trailers (may be 0) and the
 * blank line.  Returns the bytes written or a negative errno (-EINVAL as
 * for netsrv_http_write_head). */
ssize_t netsrv_http_write_last_chunk(netsrv_conn *c, const netsrv_http_header *trailers, size_t n);

/* Percent-decodes the path in[0..len) into out (cap bytes, NUL added; out
 * may be in).  Returns the decoded length, -EINVAL for a bad escape, a NUL
 * (%00 or raw) or %2F (a '/' inside a segment names no file and would give
 * one file several spellings, as Apache's default refuses it), or
 * -ENAMETOOLONG when out is too small. */
ssize_t netsrv_http_decode_path(const char *in, size_t len, char *out, size_t cap);

/* Normalises the decoded absolute path in[0..len) into out (cap bytes, NUL
 * added; out may be in): "//" and "." segments go, ".." removes the one
 * before, a trailing '/' (or "." or "..") stays.  Returns the length,
 * -EACCES when ".." would climb above the root, -EINVAL when in does not
 * start with '/' or holds a NUL, -ENAMETOOLONG when out is too small. */
ssize_t netsrv_http_normalize_path(const char *in, size_t len, char *out, size_t cap);

/* The file path a request target names: the path of an origin-form
 * ("/a/b?q") or absolute-form ("http://h/a/b") target, decoded and
 * normalised as above into out.  *query (may be NULL) points at the query
 * in target without its '?' (NULL/0 when none).  Returns the length or a
 * negative errno as above (-EINVAL also for "*" and unparsable targets). */
ssize_t netsrv_http_target_path(const char *target, size_t len, char *out, size_t cap,
                                const char **query, size_t *query_len);

/* An absolute http or https URL split by http_parser_parse_url; pointers
 * are into the URL. */
typedef struct netsrv_http_url {
    int https;                  /* 1 for https, 0 for http */
    const char *host;           /* without an IPv6 literal's brackets */
    size_t host_len;
    int ipv6;                   /* host was a bracketed IPv6 literal */
    int port;                   /* as given, else 80 or 443 */
    const char *authority;      /* host[:port] as written: the Host header */
    size_t authority_len;
    const char *userinfo;       /* "user:password" before '@', or NULL */
    size_t userinfo_len;
    const char *target;         /* path and query for the request line, "/"
                                   when the URL has neither (the fragment
                                   is left out) */
    size_t target_len;
} netsrv_http_url;

/* Splits url[0..len) into *u.  Returns 0, -EPROTONOSUPPORT for a scheme
 * other than http/https, or -EINVAL (no scheme or host, a bad port or
 * character). */
int netsrv_http_parse_url(const char *url, size_t len, netsrv_http_url *u);

/* Bytes an HTTP date needs with its NUL: "Sun, 06 Nov 1994 08:49:37 GMT". */
#define NETSRV_HTTP_DATELEN 30

/* Writes t as an IMF-fixdate into buf (len >= NETSRV_HTTP_DATELEN) with
 * gmtime_r and no locale (so any thread may call it).  Returns 29, -ENOSPC
 * or -EOVERFLOW (a year outside 0-9999). */
int netsrv_http_date_format(time_t t, char *buf, size_t len);

/* Parses an HTTP date in any of the three forms RFC 9110 makes recipients
 * accept: IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; a
 * two-digit year more than 50 years ahead is taken as the past century's)
 * and asctime ("Sun Nov  6 08:49:37 1994").  The day name must be one but
 * is not checked against the date.  Returns 0 with *out, or -EINVAL. */
int netsrv_http_date_parse(const char *s, size_t len, time_t *out);

/* What netsrv_http_range found. */
#define NETSRV_HTTP_RANGE_NONE 0          /* serve the whole file with 200 */
#define NETSRV_HTTP_RANGE_PARTIAL 1       /* serve *first..*last with 206 */
#define NETSRV_HTTP_RANGE_UNSATISFIABLE 2 /* answer 416 ("bytes *\/SIZE") */

/* Reads a Range header value for a file of size bytes: "bytes=0-99",
 * "bytes=100-" or "bytes=-500" give PARTIAL and the inclusive *first,
 * *last (a last past the end, or a suffix longer than the file, is cut to
 * the file); a first at or past the end, or "-0", gives UNSATISFIABLE.
 * Anything else gives NONE, as many servers do: a malformed value
 * ("bytes=5-3"), another unit, several ranges (no multipart/byteranges)
 * and a suffix of an empty file, since no 206 can describe 0 bytes. */
int netsrv_http_range(const char *value, size_t len, long long size, long long *first,
                      long long *last);
/* ---- HTTP client (http_client.c) ---- */

/* A client session: fetches http and https URLs and keeps their
 * connections alive between requests, per scheme, host and port, so that
 * several URLs of one host share a connection.  It works in plain
 * blocking use (a thread waits in poll()) and inside the tasks of a
 * netsrv_loop, where every wait (name lookup, connect, TLS handshake,
 * reads) yields to the other tasks: 1,000 tasks of one loop can fetch at
 * once through one session.  A session belongs to the one thread that
 * uses it (its loop's tasks, or the thread itself); it does not lock.
 *
 * Errors are negative errnos, one per kind of failure, with a line in err:
 *   -ENXIO            the host name does not resolve
 *   -ECONNREFUSED     nothing listens there (-ENETUNREACH, -EHOSTUNREACH...
 *                     from connect likewise pass through)
 *   -ETIMEDOUT        the connect timeout, the idle timeout or the
 *                     request's deadline passed
 *   -EKEYREJECTED     the server's certificate failed verification (err
 *                     names the problem, as netsrv_conn_start_tls)
 *   -EPROTO           another TLS failure (handshake, alert)
 *   -EBADMSG          not HTTP: a malformed response, or none (the server
 *                     closed the connection instead of answering)
 *   -EPIPE            (body reads) the connection ended inside the body
 *   -ELOOP            redirects looped, or were more than max_redirects
 *   -EINVAL, -EPROTONOSUPPORT  not an http or https URL
 *   -EBUSY            outside a task, the host is at its connection cap
 *   -ECONNRESET, -ENOMEM...    as the calls below them return them */
typedef struct netsrv_httpc netsrv_httpc;
typedef struct netsrv_httpc_resp netsrv_httpc_resp;

typedef struct netsrv_httpc_opts {
    const char *user_agent;   /* User-Agent (copied); NULL: "libnetsrv/VERSION";
                                 "": none sent */
    const char *ca_file;      /* more trusted CAs (PEM, copied), as
                                 netsrv_tls_opts; NULL: the system store */
    int insecure;             /* https: no certificate verification */
    double connect_timeout;   /* dialling (every address of a name) and the
                                 TLS handshake, seconds; <= 0: none */
    double idle_timeout;      /* each wait for the server once connected;
                                 <= 0: none (a request's deadline still holds) */
    unsigned max_redirects;   /* with netsrv_httpc_req.follow; default 10 */
    unsigned max_idle;        /* kept idle connections, all hosts (the
                                 oldest goes first); default 32, 0: none kept */
    unsigned per_host;        /* connections open at once (busy or idle) to one
                                 scheme://host:port; 0: no cap.  A task past it
                                 waits for one to be given back or closed */
    /* When set, gives the cap for each new host instead of per_host (0: no
     * cap); called once per host, from the task that first asks for it. */
    unsigned (*host_cap)(void *arg, const char *host, int port, int https);
    void *host_cap_arg;
} netsrv_httpc_opts;

/* Fills *o with the defaults above (everything else 0/NULL). */
void netsrv_httpc_opts_init(netsrv_httpc_opts *o);
/* A new session with *o (NULL: the defaults).  Returns 0 or -ENOMEM. */
int netsrv_httpc_new(netsrv_httpc **out, const netsrv_httpc_opts *o);
/* Closes the kept connections and frees s, once every response of it was
 * closed (from the thread, or a task of the loop, that used it).  NULL is
 * fine. */
void netsrv_httpc_free(netsrv_httpc *s);

/* One request. */
typedef struct netsrv_httpc_req {
    const char *url;          /* http:// or https:// (netsrv_http_parse_url) */
    const char *method;       /* NULL: "GET"; "HEAD" expects no body */
    const netsrv_http_header *headers; /* sent after the session's own (at
                                 most 64); a Host, User-Agent or Accept given
                                 here replaces the session's */
    size_t nheaders;
    long long range_first;    /* >= 0: "Range: bytes=first-last" */
    long long range_last;     /* < 0: to the end */
    double deadline;          /* netsrv_now() seconds by which the whole
                                 exchange, body included, must be over; every
                                 wait past it fails with -ETIMEDOUT; <= 0: none */
    int follow;               /* follow 301/302/303/307/308 with a Location
                                 (relative ones too, http and https alike) */
} netsrv_httpc_req;

/* Fills *r for a GET of url, without a range, deadline or redirects. */
void netsrv_httpc_req_init(netsrv_httpc_req *r, const char *url);

/* Sends r and reads the response's head into *out (the last one, when
 * redirects were followed; the bodies of those before are read out, so
 * their connection can be kept).  A kept connection that the server had
 * closed meanwhile is retried once on a new one.  Returns 0 (whatever the
 * status: a 404 is a response) or a negative errno (see above) with a
 * line in err (may be NULL).  The response holds its connection until its
 * body is read to the end or it is closed. */
int netsrv_httpc_request(netsrv_httpc *s, const netsrv_httpc_req *r, netsrv_httpc_resp **out,
                         char *err, size_t errlen);
/* The status code. */
int netsrv_httpc_status(const netsrv_httpc_resp *p);
/* The parsed head: version, reason, headers (netsrv_http_header_find). */
const netsrv_http_msg *netsrv_httpc_head(const netsrv_httpc_resp *p);
/* The value of the first header named name (any case), not NUL-terminated,
 * with its length in *len (may be NULL); NULL when there is none. */
const char *netsrv_httpc_header(const netsrv_httpc_resp *p, const char *name, size_t *len);
/* The URL that answered (the last redirect's target), NUL-terminated. */
const char *netsrv_httpc_url(const netsrv_httpc_resp *p);
/* Redirects followed to get there. */
unsigned netsrv_httpc_redirects(const netsrv_httpc_resp *p);
/* 1 when the request went on a kept connection. */
int netsrv_httpc_reused(const netsrv_httpc_resp *p);
/* Content-Length, -1 when the response has none (chunked, until close). */
long long netsrv_httpc_length(const netsrv_httpc_resp *p);
/* Reads the next piece of the body (Content-Length, chunked or until the
 * connection closes) into buf: bytes (> 0), 0 at its end, or a negative
 * errno (-EPIPE: cut short, -ETIMEDOUT, -EBADMSG: bad chunk framing,
 * -EPROTO/-ECONNRESET over TLS); after an error every call returns it.  A
 * buffer of 16 KiB or more, with nothing buffered, is filled straight from
 * the socket (or from OpenSSL): large reads copy nothing in between.  At
 * the end the connection goes back to the session for the next request. */
ssize_t netsrv_httpc_read(netsrv_httpc_resp *p, void *buf, size_t len);
/* Text about the last body failure ("" none): the TLS layer's or the
 * decoder's.  Static or p's. */
const char *netsrv_httpc_error(const netsrv_httpc_resp *p);
/* Ends the response: its connection is kept when the body was read to the
 * end (and the server keeps it alive), else closed.  NULL is fine. */
void netsrv_httpc_close(netsrv_httpc_resp *p);

/* What a session has done. */
typedef struct netsrv_httpc_stats {
    unsigned long long requests;       /* responses read (redirects count) */
    unsigned long long connects;       /* connections opened */
    unsigned long long tls_handshakes; /* of which TLS */
    unsigned long long reused;         /* requests on a kept connection */
    unsigned long long errors;         /* netsrv_httpc_request failures */
    unsigned idle;                     /* connections kept now */
} netsrv_httpc_stats;
void netsrv_httpc_get_stats(const netsrv_httpc *s, netsrv_httpc_stats *out);

/* ---------------------------------------------------------------- SHA-256 */

#define NETSRV_SHA256_LEN 32    /* bytes of a digest */
#define NETSRV_SHA256_HEXLEN 64 /* hex digits of one, without the NUL */

/* A running SHA-256, computed by OpenSSL's libcrypto (this header needs
 * none of OpenSSL's). */
typedef struct netsrv_sha256 netsrv_sha256;

/* A new, empty hash in *out.  Returns 0, -ENOMEM, or -EIO when libcrypto
 * refused. */
int netsrv_sha256_new(netsrv_sha256 **out);
/* Feeds len bytes of data.  Returns 0 or -EIO. */
int netsrv_sha256_update(netsrv_sha256 *h, const void *data, size_t len);
/* Feeds count bytes of the file fd from offset, read with pread (fd's own
 * offset is left alone).  Returns 0, -ENODATA when the file ends first, or
 * the read's negative errno.  It blocks the calling thread while it reads. */
int netsrv_sha256_update_fd(netsrv_sha256 *h, int fd, off_t offset, off_t count);
/* Writes the digest of all that was fed into sum and empties h, ready for
 * the next.  Returns 0 or -EIO. */
int netsrv_sha256_final(netsrv_sha256 *h, unsigned char sum[NETSRV_SHA256_LEN]);
/* Frees h.  NULL is fine. */
void netsrv_sha256_free(netsrv_sha256 *h);
/* Writes sum as 64 lowercase hex digits and a NUL into hex; returns hex. */
char *netsrv_sha256_hex(const unsigned char sum[NETSRV_SHA256_LEN],
                        char hex[NETSRV_SHA256_HEXLEN + 1]);
/* Parses exactly 64 hex digits (either case) of text[0..len) into sum.
 * Returns 0 or -EINVAL. */
int netsrv_sha256_parse(const char *text, size_t len, unsigned char sum[NETSRV_SHA256_LEN]);

/* ------------------------------------------------------------------ paths */

/* Opens the relative path below the directory dirfd and never outside it,
 * as openat2's RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS do: an absolute
 * path, a ".." above dirfd, or a symbolic link whose target is absolute or
 * climbs out of dirfd fails with -EXDEV; links that stay below are
 * followed (40 at most, then -ELOOP).  flags are open(2)'s (O_CLOEXEC is
 * added; no O_CREAT).  Uses openat2(2) where the kernel has it, otherwise
 * walks the path one component at a time with O_NOFOLLOW from descriptors
 * it holds, so a rename or a link swapped in meanwhile cannot lead it out
 * either.  Returns the new fd or a negative errno. */
int netsrv_open_beneath(int dirfd, const char *path, int flags);

/* ------------------------------------------------------ the files protocol */

/* The files handler's line protocol (nettool(1), "PROTOCOL"): the client
 * sends "GET NAME [OFFSET]\n"; the server answers "OK SIZE SHA256\n" and
 * then bytes OFFSET..SIZE of the file, or "ERR CODE TEXT\n".  Any number of
 * requests follow each other on one connection.  NAME is percent-encoded
 * UTF-8, relative to the served directory. */
#define NETSRV_FILES_LINE_MAX 8192 /* a request line, its '\n' included */
#define NETSRV_FILES_NAME_MAX 4095 /* a name once decoded, in bytes */

/* The codes of ERR replies. */
#define NETSRV_FILES_BAD_REQUEST 400 /* not a request of the protocol */
#define NETSRV_FILES_REFUSED 403     /* leads outside the directory, or not
                                        readable by the server */
#define NETSRV_FILES_NOT_FOUND 404   /* no such file */
#define NETSRV_FILES_NOT_FILE 409    /* there, but not a regular file */
#define NETSRV_FILES_TOO_LONG 414    /* the line, the name or a part of it */
#define NETSRV_FILES_BAD_OFFSET 416  /* OFFSET beyond the file's size */
#define NETSRV_FILES_SERVER_ERROR 500
#define NETSRV_FILES_BUSY 503        /* try again later: the file kept
                                        changing while it was hashed, or the
                                        server ran out of descriptors */

/* Parses the request line line[0..len) (with or without its "\n" or
 * "\r\n"; it may hold any byte) into name, decoded and NUL-terminated
 * (namecap bytes, at least NETSRV_FILES_NAME_MAX + 1), and *offset (0 when
 * absent).  Allocates nothing and reads nothing past len.  Returns 0, or
 * the ERR code to answer with and in *why a short reason (static text). */
int netsrv_files_parse_request(const char *line, size_t len, char *name, size_t namecap,
                               off_t *offset, const char **why);
/* Writes the request line for name and offset, percent-encoded as the
 * protocol wants, into buf (cap bytes, NUL added).  Returns its length,
 * -ENAMETOOLONG when it would not fit in cap or in NETSRV_FILES_LINE_MAX,
 * -EINVAL for an empty name or a negative offset. */
ssize_t netsrv_files_format_request(char *buf, size_t cap, const char *name, off_t offset);

/* A server's answer to one request. */
typedef struct netsrv_files_reply {
    int code;      /* 0 for OK, else the ERR code */
    off_t size;    /* OK: the size of the whole file */
    unsigned char sha256[NETSRV_SHA256_LEN]; /* OK: the whole file's SHA-256 */
    char text[128];/* ERR: the server's text, control bytes shown as '?' */
} netsrv_files_reply;

/* Parses a reply line line[0..len) into *out.  Returns 0, or -EPROTO when
 * it is not one. */
int netsrv_files_parse_reply(const char *line, size_t len, netsrv_files_reply *out);

/* Client: sends the request for name from offset on c and reads the reply
 * into *reply.  Returns 0 for OK: exactly size - offset body bytes follow,
 * to be taken with netsrv_files_recv before the next request.  Returns
 * -EREMOTEIO for an ERR reply (reply->code and text say which), after
 * which c can carry the next request.  Any other negative errno means c
 * failed, or -EPROTO that the peer does not speak the protocol: c is of no
 * more use.  err (may be NULL) gets a line saying what happened. */
int netsrv_files_get(netsrv_conn *c, const char *name, off_t offset,
                     netsrv_files_reply *reply, char *err, size_t errlen);

/* Where netsrv_files_recv puts a body, and what became of it. */
typedef struct netsrv_files_body {
    int fd;                /* every byte is written to it, at its offset */
    netsrv_sha256 *hash;   /* and fed to this hash (NULL: none) */
    void (*progress)(void *arg, off_t done); /* after each piece written, with
                              the bytes so far (NULL: none) */
    void *arg;
    off_t done;            /* out: the bytes written to fd */
    int write_failed;      /* out, on failure: 1 when writing fd failed, 0
                              when the connection did */
} netsrv_files_body;

/* Receives count body bytes from c into b (zero-copy from the stream's
 * buffer to write(2)).  Returns 0 once all are written, or a negative
 * errno (-EPIPE: c ended first) with b->done, b->write_failed and err (may
 * be NULL) saying how far it got and what failed.  After a failure c is of
 * no more use. */
int netsrv_files_recv(netsrv_conn *c, netsrv_files_body *b, off_t count, char *err,
                      size_t errlen);

/* Server: the directory the "files" handler serves (its ctx), with the
 * cache of its files' SHA-256 sums. */
typedef struct netsrv_files_dir netsrv_files_dir;

/* Opens the directory path for serving into *out: it is held open, so a
 * later rename of it changes nothing.  The cache keeps the sums of up to
 * cache_entries files (0: 1024), keyed by device, inode, size, mtime and
 * ctime (with nanoseconds), so an unchanged file is hashed once; it is
 * shared by the threads, loops and fork children of the server.  Returns 0
 * or a negative errno with a reason in err. */
int netsrv_files_dir_open(netsrv_files_dir **out, const char *path, unsigned cache_entries,
                          char *err, size_t errlen);
/* Closes d, once no server uses it any more.  NULL is fine. */
void netsrv_files_dir_close(netsrv_files_dir *d);

/* What a files directory has done since it was opened, summed over the
 * threads and fork children of its server. */
typedef struct netsrv_files_stats {
    unsigned long long requests;     /* request lines answered */
    unsigned long long ok;           /* of which with OK */
    unsigned long long hashed;       /* files read to hash them */
    unsigned long long cache_hits;   /* sums taken from the cache */
    unsigned long long bytes_hashed; /* bytes read to hash them */
    unsigned long long bytes_sent;   /* body bytes sent */
} netsrv_files_stats;
void netsrv_files_dir_stats(const netsrv_files_dir *d, netsrv_files_stats *out);

/* ---- process pool (pool.c) ---- */

/* A pool of worker processes, as Python's multiprocessing.Pool: tasks
 * (byte strings) are queued in the parent, handed one at a time to idle
 * workers over SOCK_SEQPACKET socketpairs, and their results come back in
 * the order they finish.  A pool belongs to the thread that made it: its
 * calls are not thread-safe and not async-signal-safe (from a signal
 * handler, set a flag and call netsrv_pool_terminate outside it).  Workers
 * are forked from that thread and die with it (PR_SET_PDEATHSIG), so the
 * thread must outlive the pool.  Only the pool's own workers are reaped,
 * by pid (never waitpid(-1)): the application's other children keep their
 * status, but an application that reaps every child itself (SIGCHLD set to
 * SIG_IGN, waitpid(-1)) takes the workers' statuses away from the pool. */
typedef struct netsrv_pool netsrv_pool;

/* The largest task, and the largest result, in bytes (one message each). */
#define NETSRV_POOL_MSG_MAX (64 * 1024)

/* Runs in a worker for each task: task[0..len) in, up to *result_len bytes
 * (NETSRV_POOL_MSG_MAX) written to result, *result_len set to the count
 * written.  Returns >= 0 on success or a negative errno, which the parent
 * gets as a failed result.  It should return rather than exit: a worker
 * that ends (exit, a signal) is reported as crashed and replaced.  ctx is
 * the pool's ctx, as copied into the worker by fork. */
typedef int (*netsrv_pool_work)(void *ctx, const void *task, size_t len, void *result,
                                size_t *result_len);

/* netsrv_pool_submit flags. */
#define NETSRV_POOL_NONBLOCK 0x1u /* -EAGAIN instead of waiting when full */

/* What became of a task (netsrv_pool_result.status). */
#define NETSRV_POOL_OK 0        /* work returned rc >= 0; data holds the result */
#define NETSRV_POOL_FAILED 1    /* work returned rc < 0 (a negative errno) */
#define NETSRV_POOL_CRASHED 2   /* its worker died running it: wstatus, why */
#define NETSRV_POOL_CANCELLED 3 /* netsrv_pool_terminate dropped or killed it */

/* One task's outcome. */
typedef struct netsrv_pool_result {
    unsigned long long id; /* the id given to netsrv_pool_submit */
    int status;            /* NETSRV_POOL_OK, _FAILED, _CRASHED, _CANCELLED */
    int rc;                /* OK, FAILED: work's return value; CRASHED:
                              -ECHILD; CANCELLED: -ECANCELED */
    int wstatus;           /* CRASHED: the worker's wait status (-1: it was
                              reaped by someone else), else 0 */
    char why[96];          /* CRASHED, CANCELLED: what happened, e.g.
                              "worker 123 killed by signal 11 (Segmentation
                              fault)" or "worker 123 exited with status 3" */
    const void *data;      /* OK: the result bytes, owned by the pool and
                              valid until the next netsrv_pool_next_result
                              or netsrv_pool_free; else NULL */
    size_t len;            /* bytes at data */
} netsrv_pool_result;

/* A new pool into *out: `workers` processes, each running work(ctx, ...)
 * on the tasks it is given; at most queue_max tasks (0: 2 per worker)
 * wait in the parent for a worker.
 * Returns 0, or -EINVAL (no workers or no work), -ENOMEM, or fork's or
 * socketpair's error with a reason in err (may be NULL); workers already
 * started are then stopped and reaped. */
int netsrv_pool_new(netsrv_pool **out, unsigned workers, size_t queue_max,
                    netsrv_pool_work work, void *ctx, char *err, size_t errlen);
/* Queues a copy of task[0..len) under the caller's id (ids need not be
 * unique; the pool only hands them back).  When queue_max tasks wait
 * already it waits for room (collecting results meanwhile, which stay for
 * netsrv_pool_next_result), or with NETSRV_POOL_NONBLOCK returns -EAGAIN.
 * Returns 0, -EMSGSIZE (len > NETSRV_POOL_MSG_MAX), -EPIPE (the pool was
 * closed or terminated) or -ENOMEM. */
int netsrv_pool_submit(netsrv_pool *p, const void *task, size_t len, unsigned long long id,
                       unsigned flags);
/* Takes the next finished task's outcome into *res, waiting at most
 * timeout seconds (< 0: no limit; 0: only what is there).  Returns 1 with
 * *res filled, 0 when the timeout passed, -ENODATA when no task is left
 * (every result was taken). */
int netsrv_pool_next_result(netsrv_pool *p, netsrv_pool_result *res, double timeout);
/* Tasks submitted and not yet taken by netsrv_pool_next_result. */
size_t netsrv_pool_pending(const netsrv_pool *p);
/* No more tasks: those queued still run, then each worker exits. */
void netsrv_pool_close(netsrv_pool *p);
/* After netsrv_pool_close or _terminate: waits at most timeout seconds
 * (< 0: no limit) until every task ran and every worker was reaped.
 * Results not taken stay for netsrv_pool_next_result.  Returns 0,
 * -EINVAL (neither close nor terminate came first) or -ETIMEDOUT. */
int netsrv_pool_join(netsrv_pool *p, double timeout);
/* Stops at once: tasks queued or running come back as
 * NETSRV_POOL_CANCELLED, workers get SIGTERM, then SIGKILL after grace
 * seconds (< 0: 1 s), and are reaped before it returns. */
void netsrv_pool_terminate(netsrv_pool *p, double grace);
/* Writes the pids of the live workers (at most max) into pids (may be
 * NULL when max is 0); returns their count, the pool's size. */
unsigned netsrv_pool_pids(const netsrv_pool *p, pid_t *pids, unsigned max);
/* Terminates (grace 0) what is left and frees p.  NULL is fine.  In a
 * child the application forked it only frees memory and descriptors: the
 * workers are its parent's. */
void netsrv_pool_free(netsrv_pool *p);


/* ---- copying files (copy.c) ---- */

/* netsrv_copy_file's temporary names: this prefix, then 12 hex digits
 * (NETSRV_COPY_TMP_LEN bytes in all, whatever the target's name). */
#define NETSRV_COPY_TMP_PREFIX ".netsrv-copy."
#define NETSRV_COPY_TMP_LEN (sizeof NETSRV_COPY_TMP_PREFIX - 1 + 12)

/* netsrv_copy_file flags. */
#define NETSRV_COPY_OWNER 0x1u    /* give the copy the source's owner and group
                                     (needs CAP_CHOWN for another owner) */
#define NETSRV_COPY_NO_TIMES 0x2u /* leave the copy's times as made, not the source's */
#define NETSRV_COPY_FSYNC 0x4u    /* fsync the copy before the rename */

/* How the data went (netsrv_copy_info.method). */
#define NETSRV_COPY_RANGE 0    /* copy_file_range: in the kernel, or a reflink */
#define NETSRV_COPY_SENDFILE 1 /* sendfile, where copy_file_range was refused */
#define NETSRV_COPY_RW 2       /* read and write: small files, and the last resort */

/* What netsrv_copy_file did. */
typedef struct netsrv_copy_info {
    struct stat st;  /* the source as opened (fstat): its size, mode, times */
    long long size;  /* the copy's length (the source's, unless it changed) */
    long long bytes; /* data bytes copied: holes are not copied, so not counted */
    int method;      /* NETSRV_COPY_RANGE, _SENDFILE or _RW (the last one used) */
} netsrv_copy_info;

/* Copies the regular file src (relative to the directory srcdir, or
 * absolute; a symbolic link is not followed) to dst in the directory
 * dstdir: the data go to a new temporary file in dstdir (O_EXCL,
 * NETSRV_COPY_TMP_PREFIX...), holes of a sparse source stay holes
 * (SEEK_DATA/SEEK_HOLE), the source's permission bits and, unless
 * NETSRV_COPY_NO_TIMES, its access and modification times (nanoseconds)
 * are set on it, then it is renamed over dst.  So dst is either as it was
 * or the whole copy; on failure the temporary file is removed.  A source
 * that changes meanwhile is copied as far as it reads.  info (may be
 * NULL) says what was done.  Blocks the calling thread.  Returns 0 or a
 * negative errno, with the failed step in err ("write: No space left on
 * device"); -EINVAL when src is not a regular file. */
int netsrv_copy_file(int srcdir, const char *src, int dstdir, const char *dst, unsigned flags,
                     netsrv_copy_info *info, char *err, size_t errlen);
/* 1 when name is one of netsrv_copy_file's temporary names (one left by a
 * copy that was killed), else 0. */
int netsrv_copy_is_temp(const char *name);

/* ---- a journal of finished work (journal.c) ---- */

/* Keys (a path, a URL) with a stamp of a few bytes saying for what state
 * of its input each piece of work was done (a size and an mtime, a hash),
 * kept in an SQLite database at a path: what netsrv_journal_commit
 * committed survives the writer being killed (kill -9), what it had not
 * is lost as a whole, never in part.  For a program that, run again after
 * a crash, must redo only what was not finished.  One writer at a time;
 * a handle is for one thread. */
typedef struct netsrv_journal netsrv_journal;

/* Opens the journal at path, made when missing (an empty file is a new
 * journal).  Returns 0, or a negative errno (-EACCES, -EINVAL for a file
 * that is not a journal: not SQLite, cut short, another program's
 * database, all left as they were; -ELOOP for a symbolic link at path,
 * not followed; -EBUSY when another writer holds it for 5 s, -EIO) with
 * the reason in err. */
int netsrv_journal_open(netsrv_journal **out, const char *path, char *err, size_t errlen);
/* Records key as done, with its stamp (replacing an earlier one), in the
 * transaction netsrv_journal_commit ends (the first put starts it).
 * Returns 0 or a negative errno. */
int netsrv_journal_put(netsrv_journal *j, const char *key, size_t keylen, const void *stamp,
                       size_t len);
/* Makes the puts since the last commit durable, all together.  Returns 0,
 * or a negative errno (-ENOSPC on a full disk), the puts then dropped. */
int netsrv_journal_commit(netsrv_journal *j);
/* key's stamp: its length (at most cap bytes copied to stamp), -ENOENT
 * when key is not in the journal, or another negative errno. */
ssize_t netsrv_journal_get(netsrv_journal *j, const char *key, size_t keylen, void *stamp,
                           size_t cap);
/* The number of keys committed (or put in the open transaction). */
long long netsrv_journal_count(netsrv_journal *j);
/* Closes j, dropping puts not committed; the journal is then one file
 * (SQLite's WAL folded into it).  NULL is fine. */
void netsrv_journal_close(netsrv_journal *j);
/* The work is finished: closes j and removes the journal (as
 * netsrv_journal_unlink).  Returns 0 or a negative errno.  NULL is fine. */
int netsrv_journal_discard(netsrv_journal *j);
/* Removes the journal at path and SQLite's files beside it (-wal, -shm);
 * 0 also when there was none, else a negative errno.  Close it first. */
int netsrv_journal_unlink(const char *path);

/* ---- scraping and crawling (regex.c, charset.c, html.c, url.c,
 *      robots.c, crawl.c) ---- */

/* A PCRE2 pattern compiled for scanning pages: JIT-compiled when PCRE2
 * has a JIT for this machine (else PCRE2's interpreter, same results),
 * newlines CR, LF or CRLF, and a match limit so that a catastrophic
 * pattern ends with an error instead of running for hours.  One regex may
 * serve several scans at a time, from one thread. */
typedef struct netsrv_regex netsrv_regex;

/* Flags of netsrv_regex_new. */
#define NETSRV_RE_CASELESS  0x01u /* (?i) */
#define NETSRV_RE_MULTILINE 0x02u /* (?m): ^ and $ at every line */
#define NETSRV_RE_DOTALL    0x04u /* (?s): . matches newlines too */
#define NETSRV_RE_EXTENDED  0x08u /* (?x): blanks and # comments ignored */
#define NETSRV_RE_UTF       0x10u /* UTF-8 subjects: . [^x] and the steps
                                     over empty matches go by character; a
                                     subject must be valid UTF-8 (checked
                                     once per scan: -EILSEQ) */
#define NETSRV_RE_NO_JIT    0x20u /* PCRE2's interpreter even with a JIT */

/* The match limit netsrv_regex_new sets (backtracking steps per match
 * attempt, also the nesting depth); netsrv_regex_set_limit changes it. */
#define NETSRV_RE_MATCH_LIMIT 10000000u

/* Compiles pattern[0..len) with flags into *out.  Returns 0, -EINVAL with
 * "at offset N: PCRE2's message" in err for a pattern PCRE2 refuses
 * (*erroffset, may be NULL, gets N), or -ENOMEM. */
int netsrv_regex_new(netsrv_regex **out, const char *pattern, size_t len, unsigned flags,
                     size_t *erroffset, char *err, size_t errlen);
/* Frees re.  NULL is fine. */
void netsrv_regex_free(netsrv_regex *re);
/* 1 when re runs JIT-compiled, 0 on PCRE2's interpreter. */
int netsrv_regex_jit(const netsrv_regex *re);
/* The number of capture groups of re (not counting group 0, the match). */
int netsrv_regex_groups(const netsrv_regex *re);
/* The number of the group called name (the first, when (?J) gave several
 * that name), or -ENOENT. */
int netsrv_regex_group_number(const netsrv_regex *re, const char *name);
/* The name of group n, or NULL when it has none; the text is re's. */
const char *netsrv_regex_group_name(const netsrv_regex *re, int n);
/* Sets the match limit (see NETSRV_RE_MATCH_LIMIT). */
void netsrv_regex_set_limit(netsrv_regex *re, unsigned limit);

/* Every match of a subject in turn ("global" matching, as Perl's m//g):
 * after an empty match the scan first tries a non-empty match at the same
 * place, then moves on one character (a whole UTF-8 character with
 * NETSRV_RE_UTF, a CRLF as one), so empty matches neither repeat nor eat
 * text.  The subject stays the caller's and must outlive the scan.  It may
 * also be scanned while it arrives (netsrv_regex_scan_feed): matches come
 * as soon as they are whole, the same ones as on the complete subject. */
typedef struct netsrv_regex_scan {
    const netsrv_regex *re;
    const char *subject;
    size_t len;
    const size_t *ovector;  /* after a match: group n is bytes
                               [ovector[2n], ovector[2n+1]) of subject;
                               netsrv_regex_span reads it */
    size_t checked;         /* NETSRV_RE_UTF: bytes of subject found to be
                               valid UTF-8 (where -EILSEQ found it not) */
    const char *error;      /* why netsrv_regex_next failed (static text) */
    struct {                /* private to regex.c */
        void *md;
        size_t at;
        int retry, more, over;
    } priv;
} netsrv_regex_scan;

/* netsrv_regex_next: the subject must grow before the scan can go on. */
#define NETSRV_REGEX_MORE 2

/* Starts a scan of the complete subject[0..len) with re.  Returns 0 or
 * -ENOMEM. */
int netsrv_regex_scan_init(netsrv_regex_scan *s, const netsrv_regex *re, const char *subject,
                           size_t len);
/* The subject is now subject[0..len) (the same bytes as before, and more;
 * it may have moved), with more bytes to come when more is set: the scan
 * then uses PCRE2's hard partial matching, so that no match is reported
 * before it is whole ($, \b and lookaheads at the end wait too). */
void netsrv_regex_scan_feed(netsrv_regex_scan *s, const char *subject, size_t len, int more);
/* Goes on scanning s with re instead (after -EILSEQ, the same pattern
 * compiled without NETSRV_RE_UTF), from where its next search would have
 * started.  Returns 0 or -ENOMEM (s unchanged). */
int netsrv_regex_scan_switch(netsrv_regex_scan *s, const netsrv_regex *re);
/* Finds the next match: 1 (then netsrv_regex_span), NETSRV_REGEX_MORE
 * when it needs the bytes still to come, 0 when there are no more
 * matches, -E2BIG when an attempt reached the match limit, -EILSEQ when
 * re is NETSRV_RE_UTF and the subject is not UTF-8 (at s->checked; each
 * byte is checked once), -ENOMEM, -EINVAL for PCRE2's other failures;
 * s->error says which.  After 0 or an error every later call returns 0. */
int netsrv_regex_next(netsrv_regex_scan *s);
/* Group n of the last match: 1 with its offset in *start and its length
 * in *len, or 0 when it did not take part (or there is no group n). */
int netsrv_regex_span(const netsrv_regex_scan *s, int n, size_t *start, size_t *len);
/* Frees the scan's match data.  Idempotent. */
void netsrv_regex_scan_fini(netsrv_regex_scan *s);

/* Where netsrv_charset_find found a page's character set. */
#define NETSRV_CHARSET_NONE 0   /* nowhere */
#define NETSRV_CHARSET_HEADER 1 /* the Content-Type's charset parameter */
#define NETSRV_CHARSET_BOM 2    /* a byte-order mark (UTF-8, UTF-16) */
#define NETSRV_CHARSET_META 3   /* <meta charset> or http-equiv
                                   Content-Type in the first 1024 bytes */

/* The character set of a page: the charset parameter of content_type
 * (may be NULL), else a byte-order mark of body, else a <meta> in its
 * first 1024 bytes, as browsers look for it.  Copies the label as written
 * ("gb2312") into out (cap bytes) and returns a NETSRV_CHARSET_* value,
 * or -ENOSPC when cap < 2. */
int netsrv_charset_find(const char *content_type, size_t ct_len, const char *body, size_t len,
                        char *out, size_t cap);
/* 1 when the label names UTF-8 ("utf-8", "UTF8"). */
int netsrv_charset_is_utf8(const char *label);
/* 1 when s[0..len) is valid UTF-8 (no overlong forms or surrogates). */
int netsrv_utf8_valid(const char *s, size_t len);
/* Converts in[0..len) from charset (a label as pages write it; those
 * browsers treat as a superset are read as that: gb2312 as GBK,
 * iso-8859-1 as windows-1252, shift_jis as windows-31j, big5 as
 * Big5-HKSCS) to UTF-8 with iconv(3).  Bytes that are no character of the
 * set become U+FFFD.  Returns 0 with *out (malloc'd, the caller frees it)
 * and *outlen, -ENOENT with err "unknown character set 'X'" when iconv
 * does not know it, or -ENOMEM. */
int netsrv_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                           size_t *outlen, char *err, size_t errlen);

/* Decodes the HTML character references of in[0..len) ("&amp;", "&#47;",
 * "&#x2F;", and "&amp" "&lt" "&gt" "&quot" "&nbsp" without their ';'
 * where browsers take them so) into out, which may be in and needs len
 * bytes: no reference is shorter than its UTF-8.  Numeric references to
 * no character give U+FFFD.  Returns the length written. */
size_t netsrv_html_unescape(const char *in, size_t len, char *out);

/* Longest URL the crawler keeps (longer links are dropped), with NUL. */
#define NETSRV_URL_MAX 4096
/* netsrv_url_resolve flag: leave out the #fragment. */
#define NETSRV_URL_NO_FRAGMENT 0x1u

/* Resolves the reference ref[0..len) (a link as written: "../a", "//h/x",
 * "?q", "#f", "https://h/") against the absolute URL base (RFC 3986
 * section 5.2, with its remove_dot_segments), into out (cap bytes, NUL
 * added): blanks around ref and tabs or newlines in it are dropped (as
 * HTML does), scheme and host are put in lower case, an http(s) URL with
 * an empty path gets "/", and spaces, controls, non-ASCII bytes and
 * "<>\"\\^`{|} are percent-encoded.  Returns the length, -EINVAL when base
 * has no scheme, -ENAMETOOLONG, -ENOMEM. */
ssize_t netsrv_url_resolve(const char *base, size_t base_len, const char *ref, size_t len,
                           unsigned flags, char *out, size_t cap);

/* robots.txt (RFC 9309) for one agent. */
typedef struct netsrv_robots netsrv_robots;
/* Reads robots.txt text[0..len) (NULL or empty: no rules) for the product
 * token agent ("nettool"): the groups whose User-agent is that token (any
 * case), else those for "*".  Returns 0 with *out, or -ENOMEM. */
int netsrv_robots_new(netsrv_robots **out, const char *text, size_t len, const char *agent);
/* 1 when the path and query target[0..len) ("/a/b?q", percent-encoded
 * as sent) may be fetched: the longest Allow or Disallow pattern that
 * matches it ('*' any run, a final '$' the end) decides, Allow on a tie,
 * nothing matching allows; "/robots.txt" is always allowed. */
int netsrv_robots_allowed(const netsrv_robots *r, const char *target, size_t len);
/* Seconds of the Crawl-delay line of our groups, -1 when none. */
double netsrv_robots_delay(const netsrv_robots *r);
/* Frees r.  NULL is fine. */
void netsrv_robots_free(netsrv_robots *r);

/* A crawler's frontier: the queue of pages, the seen set (no URL is
 * handed out twice, across runs too), each host's robots.txt and delay,
 * kept in SQLite: in memory, or in the file state (WAL, one transaction
 * per page) so that a crawl killed at any point, even with SIGKILL,
 * resumes where it stopped.  It fetches nothing: the caller asks what to
 * fetch (netsrv_crawl_next), fetches it, hands the links it found to
 * netsrv_crawl_link and ends the item with netsrv_crawl_done.  A page
 * being fetched when a run was killed is not fetched again (at most once
 * per URL); netsrv_crawl_count reports it as lost.  One thread (its loop's
 * tasks) uses a crawl. */
typedef struct netsrv_crawl netsrv_crawl;

typedef struct netsrv_crawl_opts {
    const char *state;      /* SQLite file of the crawl (created when
                               missing, resumed when not); NULL: memory */
    int max_depth;          /* links deeper than this (seeds are 0) are
                               not queued; < 0: no limit */
    long long max_pages;    /* pages handed out, over every run of a
                               state; <= 0: no limit */
    int same_host;          /* queue only links to the seeds' hosts
                               (scheme://host:port) */
    double delay;           /* seconds between the starts of two fetches
                               from one host; a longer Crawl-delay wins */
    int robots;             /* obey robots.txt (fetched per host first) */
    const char *agent;      /* product token for robots.txt; NULL: "nettool" */
} netsrv_crawl_opts;

/* What netsrv_crawl_next hands out. */
#define NETSRV_CRAWL_PAGE 1        /* fetch url, then netsrv_crawl_done */
#define NETSRV_CRAWL_ROBOTS 2      /* fetch this host's robots.txt first,
                                      then netsrv_crawl_done with its status
                                      and text */
#define NETSRV_CRAWL_DISALLOWED 3  /* robots.txt forbids url: it is not
                                      fetched (for a report); release it */

typedef struct netsrv_crawl_item {
    int kind;                /* NETSRV_CRAWL_* */
    const char *url;         /* the item's (until done or released) */
    int depth;               /* links from the seeds to it */
    long long id;
    void *priv;              /* private to crawl.c */
} netsrv_crawl_item;

/* Opens (or resumes) a crawl with *o (NULL: in memory, no limits, no
 * robots).  Returns 0, or a negative errno with the reason in err
 * (-EACCES, -EBUSY, -EIO for a file that is no SQLite database...). */
int netsrv_crawl_open(netsrv_crawl **out, const netsrv_crawl_opts *o, char *err, size_t errlen);
/* Closes and frees cr (the state file stays).  NULL is fine. */
void netsrv_crawl_close(netsrv_crawl *cr);
/* Queues the seed url at depth 0 (its host counts for same_host).
 * Returns 1 queued, 0 already seen (a resumed crawl), -EINVAL (err says
 * why) for what is no http(s) URL, or another negative errno. */
int netsrv_crawl_add(netsrv_crawl *cr, const char *url, char *err, size_t errlen);
/* Hands out the next thing to do in *it: returns 1; 0 when the crawl is
 * over (nothing queued, nothing out, or max_pages reached); -EAGAIN when
 * all that is queued must wait: until *when (netsrv_now() seconds) for a
 * host's delay, or, *when 0, until an item out is done. */
int netsrv_crawl_next(netsrv_crawl *cr, netsrv_crawl_item *it, double *when);
/* A link found in the page it (as written, character references already
 * decoded): resolved against it->url without its fragment, and kept for
 * netsrv_crawl_done when it is http(s), within max_depth and same_host.
 * Returns 1 kept, 0 not, or -ENOMEM. */
int netsrv_crawl_link(netsrv_crawl *cr, netsrv_crawl_item *it, const char *link, size_t len);
/* Ends it.  A page: status >= 0 done, < 0 failed; its links not seen
 * before are queued, all in one transaction; returns how many.  A robots
 * item: status is the HTTP status (or < 0 when it could not be fetched)
 * and body[0..len) the text; only a 2xx has rules.  Returns >= 0 or a
 * negative errno (the database's).  it is released either way. */
int netsrv_crawl_done(netsrv_crawl *cr, netsrv_crawl_item *it, int status, const char *body,
                      size_t len);
/* Releases an item without ending it (a DISALLOWED one). */
void netsrv_crawl_release(netsrv_crawl_item *it);

/* Pages of a crawl by state. */
typedef struct netsrv_crawl_counts {
    long long queued, fetching, done, failed, disallowed, lost;
} netsrv_crawl_counts;
/* Fills *st.  Returns 0 or a negative errno. */
int netsrv_crawl_count(netsrv_crawl *cr, netsrv_crawl_counts *st);
/* ---- end of scraping and crawling ---- */


/* ---- the http handler (handlers/http*.c) ---- */

/* The "http" ready handler is a static file server for browsers and
 * curl: GET and HEAD of the files under one directory (index.html, else a
 * listing in HTML or JSON), ranges, conditional requests, keep-alive and
 * pipelining (idle kept connections hold no stack in async mode), and PUT
 * uploads when asked for.  Its ctx is a netsrv_httpd set up with
 * netsrv_httpd_init.  It never prints: each request it answers goes to the
 * log callback, for the program to write where it likes. */

/* One request answered (or refused), for an access log. */
typedef struct netsrv_httpd_entry {
    const netsrv_addr *peer;    /* the client */
    time_t time;                /* when the head was read (or failed) */
    const char *method;         /* "GET"..., NULL when no head was parsed */
    const char *target;         /* the request target as sent ("" when none) */
    size_t target_len;
    int major, minor;           /* the request's HTTP version */
    int status;                 /* the status answered */
    long long bytes;            /* body bytes sent (not the head) */
    const char *error;          /* why a request failed (static text), or NULL */
} netsrv_httpd_entry;

/* The http handler's settings (its netsrv_handler ctx).  Fill it with
 * netsrv_httpd_init, change the fields below it as needed, then pass it
 * as the handler's ctx; it must outlive the server. */
typedef struct netsrv_httpd {
    int upload;                 /* PUT writes files (default 0: 405) */
    long long max_upload;       /* largest PUT body in bytes (past it:
                                   413); default 100 MiB */
    /* Called once per request answered, from the request's thread or
     * process (several at once in thread mode and with workers); NULL:
     * no log.  It must not block for long: in async mode it holds up
     * the loop. */
    void (*log)(const netsrv_httpd_entry *e, void *arg);
    void *log_arg;
    struct {                    /* private to handlers/http*.c */
        int root_fd;            /* every path is opened beneath it */
    } priv;
} netsrv_httpd;

/* Opens dir as the root of the files served and fills *h with the
 * defaults.  Returns 0, or a negative errno (-ENOTDIR, -ENOENT, -EACCES...)
 * with a reason in err. */
int netsrv_httpd_init(netsrv_httpd *h, const char *dir, char *err, size_t errlen);
/* Closes what netsrv_httpd_init opened.  Idempotent. */
void netsrv_httpd_fini(netsrv_httpd *h);

/* The Content-Type the http handler sends for a file name, from its
 * extension (any case): "text/html; charset=utf-8" for "a.HTML",
 * "application/octet-stream" for names it does not know.  Never NULL. */
const char *netsrv_httpd_mime_type(const char *name, size_t len);

/* ---- the chat handler (handlers/chat*.c) ---- */

/* The "chat" ready handler is a line-based multi-user chat: every line a
 * client sends reaches the others in its room as "NICK: TEXT", with
 * commands (/nick, /who, /me, /join, /rooms, /quit, /help), join and
 * leave notices, and the last lines of a room replayed to whoever joins
 * it.  The protocol is in nettool(1), "CHAT PROTOCOL".  Each room is a
 * group (above) with the DISCONNECT policy: a client that stops reading
 * is dropped once its queue is full, with a "* NICK left (too slow, N
 * messages dropped)" notice, and the others go on.  Thread and async
 * modes (fork: every client gets "! ..." and is closed); in async mode an
 * idle client holds no coroutine stack.  Its ctx is a netsrv_chat from
 * netsrv_chat_new (NULL: one made on first use with 20 lines of history). */
typedef struct netsrv_chat netsrv_chat;

#define NETSRV_CHAT_LINE_MAX 1000 /* bytes of a client line, without "\n" */
#define NETSRV_CHAT_NAME_MAX 24   /* bytes of a nick or a room name */
#define NETSRV_CHAT_ROOMS_MAX 256 /* rooms at once (an empty one goes) */

/* A chat server's rooms and nicks into *out: each room keeps its last
 * history lines (0: none, at most 10000) and every client may have
 * queue_bytes queued (0: 256 KiB).  Returns 0, -EINVAL or -ENOMEM. */
int netsrv_chat_new(netsrv_chat **out, unsigned history, size_t queue_bytes);
/* Frees c once no server uses it.  NULL is fine. */
void netsrv_chat_free(netsrv_chat *c);

/* What a client line is (netsrv_chat_cmd.kind). */
#define NETSRV_CHAT_SAY 1   /* text to the room */
#define NETSRV_CHAT_ME 2    /* /me ACTION: text is the action */
#define NETSRV_CHAT_NICK 3  /* /nick NAME: text is a valid name */
#define NETSRV_CHAT_WHO 4   /* /who */
#define NETSRV_CHAT_JOIN 5  /* /join ROOM: text is a valid name */
#define NETSRV_CHAT_ROOMS 6 /* /rooms */
#define NETSRV_CHAT_QUIT 7  /* /quit [REASON], or the line "logout" */
#define NETSRV_CHAT_HELP 8  /* /help */
#define NETSRV_CHAT_EMPTY 9 /* an empty line: nothing to do */

/* A parsed client line. */
typedef struct netsrv_chat_cmd {
    int kind;          /* NETSRV_CHAT_*, or the negative errno returned */
    char *text;        /* the caller's buffer: the line's text or the
                          command's argument, NUL-terminated, with control
                          characters shown as '?' and tabs as spaces */
    size_t text_len;
    const char *error; /* on failure, why (static text) */
} netsrv_chat_cmd;

/* Parses the line line[0..len) (with or without "\n" or "\r\n"; any bytes)
 * into *cmd, writing its text into text (cap bytes, at least len + 1).
 * A line starting with "//" says the rest with one '/'.  Reads nothing
 * past len, allocates nothing.  Returns the kind, or -EMSGSIZE (over
 * NETSRV_CHAT_LINE_MAX bytes), -EILSEQ (not UTF-8), -EINVAL (a missing,
 * extra or invalid argument), -ENOSYS (an unknown command), -ENOSPC (cap
 * too small), with cmd->error saying why. */
int netsrv_chat_parse(const char *line, size_t len, char *text, size_t cap,
                      netsrv_chat_cmd *cmd);
/* Whether name[0..len) is a valid nick or room name: 1 to
 * NETSRV_CHAT_NAME_MAX bytes of ASCII letters, digits, '_' and '-'. */
int netsrv_chat_name_ok(const char *name, size_t len);
/* ---- end of the chat handler ---- */

#ifdef __cplusplus
}
#endif
#endif /* NETSRV_H */
