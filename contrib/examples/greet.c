/* greet.c - a server that speaks first, and remembers each client between
 * calls of its handler: it asks for a name, then numbers every line the
 * client sends with that name, until "bye".
 *
 *     cc greet.c $(pkg-config --cflags --libs libnetsrv) -o greet
 *     ./greet 127.0.0.1:0 async       # prints "greet: listening on ADDR"
 *
 *   server: hello 127.0.0.1:40000, who are you?
 *   client: ann
 *   server: ann 1: first line          (for the client's "first line")
 *   client: bye
 *   server: goodbye ann, 1 line
 *
 * Two things this shows beyond upper.c:
 *  - A greeting protocol: without NETSRV_CLIENT_FIRST in the handler's
 *    flags, a connection is handed to the handler as soon as it is
 *    accepted, so setup() can write first.
 *  - Per-request state: the handler asks for state_size bytes, and
 *    netsrv_request_state() gives every connection its own zeroed copy,
 *    kept from setup() to finish().  handle() answers one line and returns
 *    NETSRV_AGAIN to be called again for the next one; in async mode the
 *    connection holds no coroutine stack while it waits, so whatever must
 *    survive the wait lives in the state, not in local variables.
 *
 * Usage: greet [ADDR [sync|thread|fork|async]]  (default 127.0.0.1:7000 async)
 * SIGINT or SIGTERM stops it cleanly.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction() even with -std=c99 */

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <netsrv.h>

#define GREET_LINE_MAX 256

/* One connection's memory: the library allocates and zeroes it. */
struct greet_state {
    char name[64];   /* empty until the client said who it is */
    unsigned lines;  /* lines numbered so far */
};

static netsrv_server *greet_server;

static void greet_on_signal(int sig)
{
    (void)sig;
    if (greet_server)
        netsrv_shutdown(greet_server);
}

/* Runs once per connection, before the client has sent anything. */
static int greet_setup(netsrv_request *req)
{
    char who[NETSRV_ADDRSTRLEN];

    netsrv_addr_format(netsrv_request_peer(req), who, sizeof who);
    /* Buffered; it goes out when handle() first waits for input. */
    return netsrv_printf(req, "hello %s, who are you?\n", who) < 0 ? -1 : 0;
}

/* Removes a trailing "\n" or "\r\n" and makes a C string of the line. */
static void greet_chomp(char *line, ssize_t n)
{
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    line[n] = '\0';
}

/* One line per call: the state says where the conversation is. */
static int greet_handle(netsrv_request *req)
{
    struct greet_state *st = netsrv_request_state(req);
    char line[GREET_LINE_MAX + 1];
    ssize_t n = netsrv_readline(req, line, GREET_LINE_MAX);

    if (n <= 0)
        return (int)n; /* 0: the client hung up; or a negative errno */
    greet_chomp(line, n);
    if (st->name[0] == '\0') {
        /* A longer name is cut to fit. */
        snprintf(st->name, sizeof st->name, "%.*s", (int)sizeof st->name - 1,
                 line[0] ? line : "nobody");
        netsrv_printf(req, "%s, send lines; bye ends\n", st->name);
        return NETSRV_AGAIN;
    }
    if (strcmp(line, "bye") == 0) {
        netsrv_printf(req, "goodbye %s, %u line%s\n", st->name, st->lines,
                      st->lines == 1 ? "" : "s");
        return 0; /* the request ends: output is flushed, finish() runs */
    }
    st->lines++;
    if (netsrv_printf(req, "%s %u: %s\n", st->name, st->lines, line) < 0)
        return -1;
    return NETSRV_AGAIN; /* call me again when the next line comes */
}

/* Runs once per connection after setup() succeeded, however it ended. */
static void greet_finish(netsrv_request *req)
{
    struct greet_state *st = netsrv_request_state(req);

    fprintf(stderr, "greet: %s left after %u lines\n",
            st->name[0] ? st->name : "(unnamed)", st->lines);
}

static const netsrv_handler greet_handler = {
    .name = "greet",
    .setup = greet_setup,
    .handle = greet_handle,
    .finish = greet_finish,
    .state_size = sizeof(struct greet_state),
    .flags = 0, /* not NETSRV_CLIENT_FIRST: the server speaks first */
};

int main(int argc, char **argv)
{
    netsrv_config cfg;
    char err[NETSRV_ERRLEN], addr[NETSRV_ADDRSTRLEN];
    struct sigaction sa;
    int mode, rc;

    if (argc > 3 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: greet [ADDR [sync|thread|fork|async]]\n");
        return 2;
    }
    netsrv_config_init(&cfg);
    cfg.address = argc > 1 ? argv[1] : "127.0.0.1:7000";
    mode = netsrv_mode_parse(argc > 2 ? argv[2] : "async");
    if (mode < 0) {
        fprintf(stderr, "greet: unknown mode '%s'\n", argv[2]);
        return 2;
    }
    cfg.mode = (netsrv_mode)mode;
    cfg.timeout = 60; /* a silent client is dropped after a minute */
    cfg.drain = 2;

    rc = netsrv_server_create(&greet_server, &cfg, &greet_handler, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "greet: %s\n", err);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = greet_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fprintf(stderr, "greet: listening on %s\n",
            netsrv_server_address(greet_server, addr, sizeof addr));
    rc = netsrv_serve_forever(greet_server, 0.5);
    if (rc < 0)
        fprintf(stderr, "greet: %s\n", netsrv_strerror(rc));
    netsrv_server_free(greet_server);
    greet_server = NULL;
    return rc < 0 ? 1 : 0;
}
