/* upper.c - a complete custom server on libnetsrv: answers every line it
 * receives in upper case.  It uses only the installed library, so it also
 * shows how a program outside this tree builds:
 *
 *     cc upper.c $(pkg-config --cflags --libs libnetsrv) -o upper
 *     ./upper 127.0.0.1:0 thread      # prints "upper: listening on ADDR"
 *
 * Usage: upper [ADDR [sync|thread|fork|async]]  (default 127.0.0.1:7000 thread)
 * SIGINT or SIGTERM stops it cleanly.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction() even with -std=c99 */

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <netsrv.h>

/* The longest line taken at once; a longer one is answered in pieces. */
#define UPPER_LINE_MAX 4096

/* The signal handler needs the server; netsrv_shutdown() is safe there. */
static netsrv_server *upper_server;

static void upper_on_signal(int sig)
{
    (void)sig;
    if (upper_server)
        netsrv_shutdown(upper_server);
}

/* The whole protocol.  The same code runs in every mode: the stream calls
 * block in sync, thread and fork mode; in async mode a call that would
 * block yields to the event loop instead. */
static int upper_handle(netsrv_request *req)
{
    char line[UPPER_LINE_MAX];
    ssize_t n, i;

    while ((n = netsrv_readline(req, line, sizeof line)) > 0) {
        for (i = 0; i < n; i++)
            line[i] = (char)toupper((unsigned char)line[i]);
        if ((n = netsrv_write(req, line, (size_t)n)) < 0)
            return (int)n;
    }
    return (int)n; /* 0 at end of stream, or a negative errno */
}

/* A failed request is reported and the server goes on serving. */
static void upper_on_error(netsrv_server *srv, netsrv_request *req,
                           const netsrv_addr *peer, int err, void *ctx)
{
    char who[NETSRV_ADDRSTRLEN] = "?";

    (void)srv; (void)req; (void)ctx;
    if (peer)
        netsrv_addr_format(peer, who, sizeof who);
    fprintf(stderr, "upper: %s: %s\n", who, netsrv_strerror(err));
}

static const netsrv_handler upper_handler = {
    .name = "upper",
    .handle = upper_handle,
};

int main(int argc, char **argv)
{
    netsrv_config cfg;
    char err[NETSRV_ERRLEN], addr[NETSRV_ADDRSTRLEN];
    struct sigaction sa;
    int mode, rc;

    if (argc > 3 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: upper [ADDR [sync|thread|fork|async]]\n");
        return 2;
    }
    netsrv_config_init(&cfg);
    cfg.address = argc > 1 ? argv[1] : "127.0.0.1:7000";
    mode = netsrv_mode_parse(argc > 2 ? argv[2] : "thread");
    if (mode < 0) {
        fprintf(stderr, "upper: unknown mode '%s'\n", argv[2]);
        return 2;
    }
    cfg.mode = (netsrv_mode)mode;
    cfg.max_conns = 64;
    cfg.timeout = 60;   /* an idle client is dropped after a minute */
    cfg.drain = 2;      /* on a signal, clients get 2 s to finish */
    cfg.hooks.handle_error = upper_on_error;

    rc = netsrv_server_create(&upper_server, &cfg, &upper_handler, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "upper: %s\n", err);
        return 1;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = upper_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fprintf(stderr, "upper: listening on %s\n",
            netsrv_server_address(upper_server, addr, sizeof addr));
    rc = netsrv_serve_forever(upper_server, 0.5);
    if (rc < 0)
        fprintf(stderr, "upper: %s\n", netsrv_strerror(rc));
    netsrv_server_free(upper_server);
    upper_server = NULL;
    return rc < 0 ? 1 : 0;
}
