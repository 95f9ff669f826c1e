/* applet_serve.c - "nettool serve": runs one of libnetsrv's ready handlers
 * on an address until SIGINT/SIGTERM.  Only the command line, the signal
 * handling and the log lines live here; serving is the library's job.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netsrv.h>

#include "applets.h"

const char nt_serve_usage[] =
    "Usage: nettool serve HANDLER [OPTIONS] [-- PROG ARGS...]\n"
    "Serve HANDLER on an address until SIGINT or SIGTERM.  The exec handler\n"
    "runs PROG ARGS for each connection, with the connection as its stdin\n"
    "and stdout.  Prints 'nettool serve: HANDLER (MODE) listening on ADDR'.\n"
    "\n"
    "  -l, --listen ADDR    HOST:PORT, [V6]:PORT, PORT, unix:PATH, fd:N or\n"
    "                       systemd (default 127.0.0.1:7000, or systemd when\n"
    "                       sockets were passed in LISTEN_FDS); port 0 picks one\n"
    "  -m, --mode MODE      sync, thread, fork or async (default sync)\n"
    "  -u, --udp            datagrams (UDP or Unix datagram) instead of streams\n"
    "  -w, --workers N      event loops, each in its own thread (async mode\n"
    "                       only; default 1)\n"
    "      --stack-size BYTES  coroutine stack per request in async mode\n"
    "                       (suffix k or M; default 64k, at least 8k)\n"
    "      --max-conns N    requests at once (thread, fork and async modes)\n"
    "      --per-ip N       connections at once from one IP (default no cap)\n"
    "      --timeout SECS   idle timeout of a connection (default none)\n"
    "      --request-timeout SECS  time limit of a whole request, however\n"
    "                       busy (default none)\n"
    "      --drain SECS     on shutdown, time left to requests in flight\n"
    "                       (default 5)\n"
    "      --backlog N      listen backlog (default SOMAXCONN)\n"
    "      --nodelay, --no-nodelay  TCP_NODELAY on accepted connections\n"
    "                       (default on)\n"
    "      --reuse-port     SO_REUSEPORT on the listener\n"
    "  -v, --verbose        log every failed request\n"
    "  -q, --quiet          do not print the listening line\n"
    "  -h, --help           show this help\n"
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
    OPT_REQUEST_TIMEOUT
};

static const struct option nt_serve_options[] = {
    { "backlog",    required_argument, NULL, OPT_BACKLOG },
    { "dgram",      no_argument,       NULL, 'u' },
    { "drain",      required_argument, NULL, OPT_DRAIN },
    { "listen",     required_argument, NULL, 'l' },
    { "max-conns",  required_argument, NULL, OPT_MAX_CONNS },
    { "mode",       required_argument, NULL, 'm' },
    { "nodelay",    no_argument,       NULL, OPT_NODELAY },
    { "no-nodelay", no_argument,       NULL, OPT_NO_NODELAY },
    { "per-ip",     required_argument, NULL, OPT_PER_IP },
    { "request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT },
    { "reuse-port", no_argument,       NULL, OPT_REUSE_PORT },
    { "stack-size", required_argument, NULL, OPT_STACK_SIZE },
    { "timeout",    required_argument, NULL, OPT_TIMEOUT },
    { "udp",        no_argument,       NULL, 'u' },
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
    static volatile int last_accept_err;
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
    if (!req && !peer && nt_verbosity >= 1 && last_accept_err != err) {
        last_accept_err = err;
        nt_error("accept: %s", netsrv_strerror(err));
    }
}

static void nt_serve_bad_handler(const char *name)
{
    const netsrv_handler *const *h = netsrv_handler_list();
    char names[512] = "";
    size_t n = 0;
    int len;

    for (; h && *h; h++) {
        len = snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", (*h)->name);
        if (len < 0 || (size_t)len >= sizeof names - n)
            break;
        n += (size_t)len;
    }
    nt_usage_error("unknown handler '%s' (handlers: %s)", name, names);
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
    const char *hname = NULL;
    char **prog = NULL;
    netsrv_server *srv = NULL;
    char err[NETSRV_ERRLEN] = "";
    char where[NETSRV_ADDRSTRLEN];
    unsigned n;
    int c, rc, before, mode, workers_given = 0;

    netsrv_config_init(&cfg);
    cfg.drain = 5;
    cfg.address = NULL;
    cfg.hooks.handle_error = nt_serve_on_error;

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
            break;
        case OPT_MAX_CONNS:
            cfg.max_conns = nt_opt_unsigned("--max-conns", optarg);
            if (cfg.max_conns == 0)
                nt_usage_error("--max-conns must be at least 1");
            break;
        case OPT_PER_IP:
            cfg.per_ip = nt_opt_unsigned("--per-ip", optarg);
            break;
        case 'w':
            n = nt_opt_unsigned("--workers", optarg);
            if (n == 0 || n > 1024)
                nt_usage_error("invalid --workers '%s' (want 1 to 1024)", optarg);
            cfg.workers = n;
            workers_given = 1;
            break;
        case OPT_STACK_SIZE:
            cfg.stack_size = nt_opt_size("--stack-size", optarg);
            if (cfg.stack_size < 8 * 1024 || cfg.stack_size > (size_t)1 << 30)
                nt_usage_error("invalid --stack-size '%s' (want 8k to 1024M)", optarg);
            break;
        case OPT_TIMEOUT:
            cfg.timeout = nt_opt_seconds("--timeout", optarg);
            break;
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
            break;
        case OPT_NODELAY:
            cfg.nodelay = 1;
            break;
        case OPT_NO_NODELAY:
            cfg.nodelay = 0;
            break;
        case OPT_REUSE_PORT:
            cfg.reuse_port = 1;
            break;
        case 'h':
            nt_serve_help();
            break;
        default:
            nt_common_option(c, argv);
        }
    }

    if (!hname)
        nt_usage_error("missing HANDLER");
    /* Options may come in any order, so -w is checked against -m here. */
    if (workers_given && cfg.mode != NETSRV_ASYNC)
        nt_usage_error("-w/--workers needs -m async (the mode is %s)",
                       netsrv_mode_name(cfg.mode));
    if ((found = netsrv_handler_find(hname)) == NULL)
        nt_serve_bad_handler(hname);
    handler = *found;
    if (strcmp(hname, "exec") == 0) {
        if (!prog || !prog[0])
            nt_usage_error("the exec handler needs a program: -- PROG ARGS...");
        /* The library would only fail each datagram with ENOTSOCK. */
        if (cfg.dgram)
            nt_usage_error("the exec handler needs a stream socket (drop -u)");
        handler.ctx = prog;
    } else if (prog && prog[0]) {
        nt_usage_error("unexpected argument '%s' (only exec takes a program)", prog[0]);
    }

    if (!cfg.address)
        cfg.address = netsrv_listen_fds(0) > 0 ? "systemd" : "127.0.0.1:7000";
    else if (strncmp(cfg.address, "fd:", 3) != 0 && strcmp(cfg.address, "systemd") != 0)
        nt_check_address(cfg.address);

    nt_serve_signals();
    nt_raise_nofile();
    rc = netsrv_server_create(&srv, &cfg, &handler, err, sizeof err);
    if (rc < 0) {
        nt_error("cannot listen on %s: %s", cfg.address, nt_reason(err, rc, cfg.address));
        return NT_EXIT_FAILURE;
    }
    /* The sockets systemd passed are the server's now; programs the exec
     * handler starts must not think they were passed to them. */
    netsrv_listen_fds(1);

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
    return rc < 0 ? NT_EXIT_FAILURE : NT_EXIT_OK;
}
