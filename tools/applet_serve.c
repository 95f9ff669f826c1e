/* applet_serve.c - "nettool serve": runs one of libnetsrv's ready handlers
 * on an address until SIGINT/SIGTERM.  Only the command line, the signal
 * handling and the log lines live here; serving is the library's job.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netsrv.h>

#include "applets.h"

/* The help text names the real minimum stack; it cannot be built from
 * the constant, so a change of NETSRV_STACK_MIN must stop the build until
 * this text (and nettool.1) say the new one. */
_Static_assert(NETSRV_STACK_MIN == 16 * 1024,
               "NETSRV_STACK_MIN changed: update \"at least 16k\" in nt_serve_usage and nettool.1");

const char nt_serve_usage[] =
    "Usage: nettool serve HANDLER [OPTIONS] [-- PROG ARGS...]\n"
    "   or: nettool serve files DIR [OPTIONS]\n"
    "   or: nettool serve http DIR [OPTIONS]\n"
    "Serve HANDLER on an address until SIGINT or SIGTERM.  The exec handler\n"
    "runs PROG ARGS for each connection, with the connection as its stdin\n"
    "and stdout.  The files handler serves the regular files below DIR, with\n"
    "their SHA-256, to 'nettool download' (the protocol is in nettool(1)).\n"
    "The http handler serves the files below DIR to browsers and curl.\n"
    /* chat */
    "The chat handler is a line-based chat room server (thread or async\n"
    "mode; its protocol is in nettool(1)).\n"
    /* end chat */
    "Prints 'nettool serve: HANDLER (MODE) listening on ADDR'\n"
    "with the address actually bound (0.0.0.0:7000 for -l 7000, the real\n"
    "port for port 0).\n"
    "\n"
    "  -l, --listen ADDR    HOST:PORT, [V6]:PORT, PORT, unix:PATH, fd:N or\n"
    "                       systemd.  A bare PORT listens on all IPv4\n"
    "                       interfaces (0.0.0.0:PORT, reachable from other\n"
    "                       hosts); the default, 127.0.0.1:7000, is this host\n"
    "                       only (systemd instead when sockets were passed in\n"
    "                       LISTEN_FDS).  Port 0 picks a free port\n"
    "  -m, --mode MODE      sync, thread, fork or async (default async: one\n"
    "                       event loop serving every client at once)\n"
    "  -u, --udp            datagrams (UDP or Unix datagram) instead of streams\n"
    "  -w, --workers N      event loops, each in its own thread (async mode\n"
    "                       only; default 1)\n"
    "      --stack-size BYTES  coroutine stack per request (async mode only;\n"
    "                       suffix k or M; default 64k, at least 16k)\n"
    "      --max-conns N    requests at once (thread, fork and async modes)\n"
    "      --per-ip N       connections at once from one IP address (thread,\n"
    "                       fork and async modes; not with -u or unix:;\n"
    "                       default no cap)\n"
    "      --timeout SECS   idle timeout of a connection (default none)\n"
    "      --request-timeout SECS  time limit of a whole request, however\n"
    "                       busy (default none)\n"
    "      --drain SECS     on shutdown, time left to requests in flight\n"
    "                       (default 5)\n"
    "      --backlog N      listen backlog (streams only; default SOMAXCONN)\n"
    "      --nodelay, --no-nodelay  TCP_NODELAY on accepted connections\n"
    "                       (TCP only; default on)\n"
    "      --reuse-port     SO_REUSEPORT on the listener (IP only, and not\n"
    "                       with fd:N or systemd)\n"
    "  -v, --verbose        log every failed request (files: and what was\n"
    "                       served, at exit)\n"
    "  -q, --quiet          do not print the listening line\n"
    "  -h, --help           show this help\n"
    "\nThe http handler: GET and HEAD of the files under DIR, index.html or a\n"
    "listing (HTML, or JSON when Accept asks for it) for a directory, ranges,\n"
    "ETag and Last-Modified with conditional requests, keep-alive.  Names\n"
    "starting with '.' and symlinks leading out of DIR are not served.  Its\n"
    "idle timeout is 60 s unless --timeout is given.\n"
    "      --no-log         no access log (by default one Common Log Format\n"
    "                       line per request on stderr)\n"
    "      --upload         accept PUT: the body replaces the file under DIR\n"
    "                       (written to a hidden temporary file, then renamed)\n"
    "      --max-upload SIZE  largest upload (suffix k, M or G; default 100M)\n"
    /* chat */
    "\nThe chat handler:\n"
    "      --history N      replay the last N lines of a room to whoever\n"
    "                       joins it (default 20, 0 none, at most 10000)\n"
    /* end chat */
    "\nAn option that does not apply to the mode or the socket is a usage\n"
    "error (exit 2), never silently ignored.\n"
    "\nThe soft limit on open files is raised to the hard limit at start, so\n"
    "that thousands of connections need no 'ulimit -n' first.\n";

enum {
    OPT_MAX_CONNS = 256,
    OPT_PER_IP,
    OPT_TIMEOUT,
    OPT_DRAIN,
    OPT_BACKLOG,
    OPT_NODELAY,
    OPT_NO_NODELAY,
    OPT_REUSE_PORT,
    OPT_STACK_SIZE,
    OPT_REQUEST_TIMEOUT,
    OPT_NO_LOG,
    OPT_UPLOAD,
    OPT_MAX_UPLOAD,
    OPT_HISTORY /* chat */
};

static const struct option nt_serve_options[] = {
    { "backlog",    required_argument, NULL, OPT_BACKLOG },
    { "dgram",      no_argument,       NULL, 'u' },
    { "drain",      required_argument, NULL, OPT_DRAIN },
    { "history",    required_argument, NULL, OPT_HISTORY }, /* chat */
    { "listen",     required_argument, NULL, 'l' },
    { "max-conns",  required_argument, NULL, OPT_MAX_CONNS },
    { "max-upload", required_argument, NULL, OPT_MAX_UPLOAD },
    { "mode",       required_argument, NULL, 'm' },
    { "no-log",     no_argument,       NULL, OPT_NO_LOG },
    { "nodelay",    no_argument,       NULL, OPT_NODELAY },
    { "no-nodelay", no_argument,       NULL, OPT_NO_NODELAY },
    { "per-ip",     required_argument, NULL, OPT_PER_IP },
    { "request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT },
    { "reuse-port", no_argument,       NULL, OPT_REUSE_PORT },
    { "stack-size", required_argument, NULL, OPT_STACK_SIZE },
    { "timeout",    required_argument, NULL, OPT_TIMEOUT },
    { "udp",        no_argument,       NULL, 'u' },
    { "upload",     no_argument,       NULL, OPT_UPLOAD },
    { "workers",    required_argument, NULL, 'w' },
    NT_COMMON_LONGOPTS,
    { NULL, 0, NULL, 0 }
};

/* The signal handler's only way to the server; a signal that comes
 * before the server exists is remembered and acted on once it does. */
static netsrv_server *volatile nt_serve_srv;
static volatile sig_atomic_t nt_serve_stop;

static void nt_serve_on_signal(int sig)
{
    netsrv_server *srv = nt_serve_srv;

    (void)sig;
    nt_serve_stop = 1;
    if (srv)
        netsrv_shutdown(srv);
}

static void nt_serve_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nt_serve_on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocked wait returns EINTR and sees the shutdown at
     * once; no SA_RESETHAND: a second signal must not kill the drain. */
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nt_ignore_sigpipe();
}

/* handle_error hook.  With -v every failure is a line (also clients
 * refused by --per-ip and oversized datagrams); otherwise only a failing
 * accept() is, once until a different error shows up, so that a long run
 * of EMFILE does not flood the log. */
static void nt_serve_on_error(netsrv_server *srv, netsrv_request *req,
                              const netsrv_addr *peer, int err, void *ctx)
{
    /* Atomic: with -w N every loop thread accepts, and reports its own
     * failures here at the same time as the others. */
    static atomic_int last_accept_err;
    char who[NETSRV_ADDRSTRLEN];

    (void)srv;
    (void)ctx;
    if (nt_verbosity >= 2) {
        if (!req && !peer)
            nt_error("accept: %s", netsrv_strerror(err));
        else
            nt_error("%s: %s",
                     peer ? netsrv_addr_format(peer, who, sizeof who) : "?",
                     netsrv_strerror(err));
        return;
    }
    if (!req && !peer && nt_verbosity >= 1 && atomic_exchange(&last_accept_err, err) != err)
        nt_error("accept: %s", netsrv_strerror(err));
}

/* "echo, discard, exec": the handlers, for a usage error line. */
static const char *nt_serve_handler_names(char *names, size_t size)
{
    const netsrv_handler *const *h = netsrv_handler_list();
    size_t n = 0;
    int len;

    names[0] = '\0';
    for (; h && *h; h++) {
        len = snprintf(names + n, size - n, "%s%s", n ? ", " : "", (*h)->name);
        if (len < 0 || (size_t)len >= size - n)
            break;
        n += (size_t)len;
    }
    return names;
}

/* The options that apply to some modes or sockets only, each as the name
 * a usage error shows, or NULL when it was not given. */
struct nt_serve_given {
    const char *workers;
    const char *stack_size;
    const char *max_conns;
    const char *per_ip;
    const char *backlog;
    const char *nodelay;    /* --nodelay or --no-nodelay, the last one */
    const char *reuse_port;
    int udp;                /* -u */
    const char *stream_only;/* a handler that needs a stream (exec, files, http) */
    int http;               /* the http handler */
    const char *http_opt;   /* an option of the http handler, the last one */
    int upload;             /* --upload */
    const char *max_upload; /* --max-upload */
    int timeout;            /* --timeout */
    /* chat */
    int chat;               /* the chat handler */
    const char *chat_opt;   /* an option of the chat handler */
    /* end chat */
};

/* The socket the server will have, as far as it is known: before an
 * inherited socket (fd:N, systemd) is adopted only the command line tells,
 * afterwards the kernel does. */
struct nt_serve_socket {
    const char *address;
    int inherited;          /* fd:N or systemd */
    int dgram;              /* datagrams */
    int unix_family;        /* 1: a Unix socket, 0: IP, -1: not known yet */
};

/* Writes into msg why an option given does not fit the mode or the socket
 * and returns 1, or returns 0 when they all fit.  An option that would be
 * ignored is refused instead, so that nobody believes a cap or a tuning
 * is in force when it is not. */
static int nt_serve_misfit(const struct nt_serve_given *g, netsrv_mode mode,
                           const struct nt_serve_socket *sk, char *msg, size_t len)
{
    const char *mname = netsrv_mode_name(mode);
    /* Where the datagrams come from: -u, or the socket that was passed. */
    const char *dg = g->udp ? "-u" : "an inherited datagram socket";

    if (g->workers && mode != NETSRV_ASYNC)
        snprintf(msg, len, "%s needs -m async (the mode is %s)", g->workers, mname);
    else if (g->stack_size && mode != NETSRV_ASYNC)
        snprintf(msg, len, "%s needs -m async (the mode is %s; only async "
                 "requests run on coroutine stacks)", g->stack_size, mname);
    /* sync runs one request at a time: a cap above 1 could never be
     * reached, and a per-IP cap never counts more than one connection. */
    else if (g->max_conns && mode == NETSRV_SYNC)
        snprintf(msg, len, "%s needs -m thread, fork or async (sync serves one "
                 "request at a time)", g->max_conns);
    else if (g->per_ip && mode == NETSRV_SYNC)
        snprintf(msg, len, "%s needs -m thread, fork or async (sync serves one "
                 "connection at a time)", g->per_ip);
    else if (g->udp && !sk->dgram)
        /* Only an adopted socket can differ from -u: its type is what counts. */
        snprintf(msg, len, "-u was given, but %s is a stream socket", sk->address);
    else if (g->stream_only && sk->dgram)
        /* The library would only fail each datagram with ENOTSOCK. */
        snprintf(msg, len, "the %s handler needs a stream socket (%s)", g->stream_only,
                 g->udp ? "drop -u" : "the inherited one takes datagrams");
    /* chat */
    else if (g->chat_opt && !g->chat)
        snprintf(msg, len, "%s is an option of the chat handler", g->chat_opt);
    else if (g->chat && (mode == NETSRV_FORK || mode == NETSRV_SYNC))
        snprintf(msg, len, "the chat handler needs -m thread or async (the mode is %s: "
                 "%s)", mname, mode == NETSRV_FORK ? "its clients would be in different "
                 "processes" : "one client at a time");
    /* end chat */
    else if (g->http_opt && !g->http)
        snprintf(msg, len, "%s is an option of the http handler", g->http_opt);
    else if (g->max_upload && !g->upload)
        snprintf(msg, len, "%s needs --upload (uploads are off)", g->max_upload);
    else if (g->per_ip && sk->dgram)
        snprintf(msg, len, "%s counts connections: there are none with datagrams (%s)",
                 g->per_ip, dg);
    else if (g->per_ip && sk->unix_family == 1)
        snprintf(msg, len, "%s counts connections by IP address: there is none with "
                 "a Unix socket (%s)", g->per_ip, sk->address);
    else if (g->backlog && sk->dgram)
        snprintf(msg, len, "%s is the queue of a stream listener: there is none with "
                 "datagrams (%s)", g->backlog, dg);
    else if (g->nodelay && sk->dgram)
        snprintf(msg, len, "%s is for TCP connections, not datagrams (%s)", g->nodelay, dg);
    else if (g->nodelay && sk->unix_family == 1)
        snprintf(msg, len, "%s is for TCP connections, not a Unix socket (%s)",
                 g->nodelay, sk->address);
    else if (g->reuse_port && sk->unix_family == 1)
        snprintf(msg, len, "%s is for IP sockets, not a Unix socket (%s)",
                 g->reuse_port, sk->address);
    /* The library sets socket options only on sockets it creates. */
    else if (g->reuse_port && sk->inherited)
        snprintf(msg, len, "%s needs a socket nettool creates, not an inherited "
                 "one (%s)", g->reuse_port, sk->address);
    else
        return 0;
    return 1;
}

static void nt_serve_help(void)
{
    const netsrv_handler *const *h = netsrv_handler_list();

    nt_print_usage(stdout);
    fputs("\nHandlers:", stdout);
    for (; h && *h; h++)
        printf(" %s", (*h)->name);
    fputs("\n", stdout);
    exit(fflush(stdout) == 0 ? NT_EXIT_OK : NT_EXIT_FAILURE);
}

int nt_serve_main(int argc, char **argv)
{
    netsrv_config cfg;
    netsrv_handler handler;
    const netsrv_handler *found;
    const char *hname = NULL, *dir = NULL;
    char **prog = NULL;
    netsrv_files_dir *files = NULL;
    netsrv_httpd httpd;
    netsrv_chat *chat = NULL; /* chat */
    unsigned history = 20;    /* chat */
    int httpd_ready = 0, http_log = 1;
    size_t max_upload = 0;
    netsrv_server *srv = NULL;
    char err[NETSRV_ERRLEN] = "";
    char where[NETSRV_ADDRSTRLEN];
    char why[NETSRV_ERRLEN + NETSRV_ADDRSTRLEN];
    struct nt_serve_given given;
    struct nt_serve_socket sock;
    unsigned n;
    int c, rc, before, mode;

    netsrv_config_init(&cfg);
    /* A second client is served while the first is still connected, as
     * users of ncat -k, nginx or darkhttpd expect. */
    cfg.mode = NETSRV_ASYNC;
    cfg.drain = 5;
    cfg.address = NULL;
    cfg.hooks.handle_error = nt_serve_on_error;
    memset(&given, 0, sizeof given);

    /* "+" stops at the first operand: HANDLER, then after "--" PROG ARGS
     * stays as it is.  Options may come before or after HANDLER. */
    opterr = 0;
    for (;;) {
        before = optind;
        c = getopt_long(argc, argv, "+:l:m:uw:" NT_COMMON_SHORTOPTS,
                        nt_serve_options, NULL);
        if (c == -1) {
            int dashdash = optind == before + 1 && strcmp(argv[before], "--") == 0;

            if (optind >= argc)
                break;
            if (!hname && !dashdash) {
                hname = argv[optind++];
                continue;
            }
            /* files DIR, http DIR: the directory, and options may follow it. */
            if (!dir && !dashdash && (strcmp(hname, "files") == 0 || strcmp(hname, "http") == 0)) {
                dir = argv[optind++];
                continue;
            }
            /* The rest (after "--", or the first operand after HANDLER)
             * is PROG ARGS. */
            prog = argv + optind;
            break;
        }
        switch (c) {
        case 'l':
            cfg.address = optarg;
            break;
        case 'm':
            if ((mode = netsrv_mode_parse(optarg)) < 0)
                nt_usage_error("unknown mode '%s' (modes: sync, thread, fork, async)", optarg);
            cfg.mode = (netsrv_mode)mode;
            break;
        case 'u':
            cfg.dgram = 1;
            given.udp = 1;
            break;
        case OPT_MAX_CONNS:
            cfg.max_conns = nt_opt_unsigned("--max-conns", optarg);
            if (cfg.max_conns == 0)
                nt_usage_error("--max-conns must be at least 1");
            given.max_conns = "--max-conns";
            break;
        case OPT_PER_IP:
            cfg.per_ip = nt_opt_unsigned("--per-ip", optarg);
            /* 0 is the default, no cap: it fits every mode and socket. */
            given.per_ip = cfg.per_ip ? "--per-ip" : NULL;
            break;
        case 'w':
            n = nt_opt_unsigned("--workers", optarg);
            if (n == 0 || n > 1024)
                nt_usage_error("invalid --workers '%s' (want 1 to 1024)", optarg);
            cfg.workers = n;
            given.workers = "-w/--workers";
            break;
        case OPT_STACK_SIZE:
            cfg.stack_size = nt_opt_size("--stack-size", optarg);
            /* A smaller stack is refused, not raised behind the user's
             * back: the number given is the number in force. */
            if (cfg.stack_size < NETSRV_STACK_MIN)
                nt_usage_error("--stack-size '%s' is below the minimum, %uk", optarg,
                               (unsigned)(NETSRV_STACK_MIN / 1024));
            if (cfg.stack_size > (size_t)1 << 30)
                nt_usage_error("--stack-size '%s' is above the maximum, 1024M", optarg);
            given.stack_size = "--stack-size";
            break;
        case OPT_TIMEOUT:
            cfg.timeout = nt_opt_seconds("--timeout", optarg);
            given.timeout = 1;
            break;
        case OPT_NO_LOG:
            http_log = 0;
            given.http_opt = "--no-log";
            break;
        case OPT_UPLOAD:
            given.upload = 1;
            given.http_opt = "--upload";
            break;
        case OPT_MAX_UPLOAD:
            max_upload = nt_opt_size("--max-upload", optarg);
            given.max_upload = "--max-upload";
            given.http_opt = "--max-upload";
            break;
        /* chat */
        case OPT_HISTORY:
            history = nt_opt_unsigned("--history", optarg);
            if (history > 10000)
                nt_usage_error("invalid --history '%s' (want 0 to 10000)", optarg);
            given.chat_opt = "--history";
            break;
        /* end chat */
        case OPT_REQUEST_TIMEOUT:
            cfg.request_timeout = nt_opt_seconds("--request-timeout", optarg);
            break;
        case OPT_DRAIN:
            cfg.drain = nt_opt_seconds("--drain", optarg);
            break;
        case OPT_BACKLOG:
            n = nt_opt_unsigned("--backlog", optarg);
            if (n == 0 || n > 1000000)
                nt_usage_error("invalid --backlog '%s' (want 1 to 1000000)", optarg);
            cfg.backlog = (int)n;
            given.backlog = "--backlog";
            break;
        case OPT_NODELAY:
            cfg.nodelay = 1;
            given.nodelay = "--nodelay";
            break;
        case OPT_NO_NODELAY:
            cfg.nodelay = 0;
            given.nodelay = "--no-nodelay";
            break;
        case OPT_REUSE_PORT:
            cfg.reuse_port = 1;
            given.reuse_port = "--reuse-port";
            break;
        case 'h':
            nt_serve_help();
            break;
        default:
            nt_common_option(c, argv);
        }
    }

    if (!hname)
        nt_usage_error("missing HANDLER (handlers: %s)",
                       nt_serve_handler_names(why, sizeof why));
    if ((found = netsrv_handler_find(hname)) == NULL)
        nt_usage_error("unknown handler '%s' (handlers: %s)", hname,
                       nt_serve_handler_names(why, sizeof why));
    handler = *found;
    if (strcmp(hname, "exec") == 0) {
        if (!prog || !prog[0])
            nt_usage_error("the exec handler needs a program: -- PROG ARGS...");
        handler.ctx = prog;
        given.stream_only = "exec";
    } else if (prog && prog[0]) {
        nt_usage_error("unexpected argument '%s' (only exec takes a program)", prog[0]);
    }
    if (strcmp(hname, "files") == 0) {
        if (!dir)
            nt_usage_error("the files handler needs a directory: nettool serve files DIR");
        given.stream_only = "files";
    }
    /* chat */
    given.chat = strcmp(hname, "chat") == 0;
    if (given.chat)
        given.stream_only = "chat";
    /* end chat */
    given.http = strcmp(hname, "http") == 0;
    if (given.http) {
        if (!dir)
            nt_usage_error("the http handler needs a directory: nettool serve http DIR");
        given.stream_only = "http";
    }

    if (!cfg.address)
        cfg.address = netsrv_listen_fds(0) > 0 ? "systemd" : "127.0.0.1:7000";
    sock.address = cfg.address;
    sock.inherited = strncmp(cfg.address, "fd:", 3) == 0 || strcmp(cfg.address, "systemd") == 0;
    if (!sock.inherited)
        nt_check_address(cfg.address);
    /* An inherited socket is what it is, -u or not: the kernel tells its
     * type and family once it is adopted, and it is checked again then. */
    sock.dgram = sock.inherited ? given.udp : cfg.dgram;
    sock.unix_family = sock.inherited ? -1 : strncmp(cfg.address, "unix:", 5) == 0;
    /* Options may come in any order, so they are checked against -m, -u
     * and -l only now that all of them are read. */
    if (nt_serve_misfit(&given, cfg.mode, &sock, why, sizeof why))
        nt_usage_error("%s", why);

    if (given.http) {
        if ((rc = netsrv_httpd_init(&httpd, dir, err, sizeof err)) < 0) {
            nt_error("cannot serve %s: %s", dir, nt_reason(err, rc, dir));
            return NT_EXIT_FAILURE;
        }
        httpd_ready = 1;
        httpd.upload = given.upload;
        if (given.max_upload)
            httpd.max_upload = (long long)max_upload;
        httpd.log = http_log ? nt_serve_http_log : NULL;
        handler.ctx = &httpd;
        /* A client that stops halfway through a head must not hold its
         * connection for ever (nginx waits 60 s as well). */
        if (!given.timeout)
            cfg.timeout = 60;
    } else if (given.chat) { /* chat */
        if ((rc = netsrv_chat_new(&chat, history, 0)) < 0) {
            nt_error("cannot start the chat: %s", netsrv_strerror(rc));
            return NT_EXIT_FAILURE;
        }
        handler.ctx = chat;
    } else if (dir) {
        if ((rc = netsrv_files_dir_open(&files, dir, 0, err, sizeof err)) < 0) {
            nt_error("cannot serve %s: %s", dir, nt_reason(err, rc, dir));
            return NT_EXIT_FAILURE;
        }
        handler.ctx = files;
    }

    nt_serve_signals();
    nt_raise_nofile();
    rc = netsrv_server_create(&srv, &cfg, &handler, err, sizeof err);
    if (rc < 0) {
        nt_error("cannot listen on %s: %s", cfg.address, nt_reason(err, rc, cfg.address));
        netsrv_files_dir_close(files);
        netsrv_chat_free(chat); /* chat */
        if (httpd_ready)
            netsrv_httpd_fini(&httpd);
        return NT_EXIT_FAILURE;
    }
    /* The sockets systemd passed are the server's now; programs the exec
     * handler starts must not think they were passed to them. */
    netsrv_listen_fds(1);
    if (sock.inherited) {
        sock.dgram = netsrv_server_config(srv)->dgram;
        sock.unix_family = netsrv_server_addr(srv)->ss.ss_family == AF_UNIX;
        if (nt_serve_misfit(&given, cfg.mode, &sock, why, sizeof why)) {
            netsrv_server_free(srv);
            netsrv_files_dir_close(files);
            if (httpd_ready)
                netsrv_httpd_fini(&httpd);
            nt_usage_error("%s", why);
        }
    }

    nt_serve_srv = srv;
    if (nt_serve_stop)
        netsrv_shutdown(srv);
    if (nt_verbosity >= 1)
        nt_error("%s (%s) listening on %s", hname, netsrv_mode_name(cfg.mode),
                 netsrv_server_address(srv, where, sizeof where));

    rc = netsrv_serve_forever(srv, 0.5);
    if (rc < 0)
        nt_error("%s", netsrv_strerror(rc));
    else if (nt_verbosity >= 2)
        nt_error("shutting down");
    netsrv_server_close(srv);
    nt_serve_srv = NULL;
    netsrv_server_free(srv);
    if (files) {
        netsrv_files_stats fs;

        /* After the close: fork children have counted their part too. */
        netsrv_files_dir_stats(files, &fs);
        if (nt_verbosity >= 2)
            nt_error("files: %llu requests (%llu OK), %llu files hashed (%llu bytes), "
                     "%llu cache hits, %llu bytes sent", fs.requests, fs.ok, fs.hashed,
                     fs.bytes_hashed, fs.cache_hits, fs.bytes_sent);
        netsrv_files_dir_close(files);
    }
    if (httpd_ready)
        netsrv_httpd_fini(&httpd);
    netsrv_chat_free(chat); /* chat */
    return rc < 0 ? NT_EXIT_FAILURE : NT_EXIT_OK;
}
