/* dgram.c - a datagram server: answers every UDP (or Unix datagram) packet
 * with the packet reversed and the sender's address, as one reply packet.
 *
 *     cc dgram.c $(pkg-config --cflags --libs libnetsrv) -o dgram
 *     ./dgram 127.0.0.1:0             # prints "dgram: listening on ADDR"
 *
 *   client sends "abc" -> server replies "cba (3 bytes from 127.0.0.1:40000)"
 *
 * With cfg.dgram set, each packet is one request: handle() runs once per
 * datagram, netsrv_packet() is its bytes, netsrv_request_peer() who sent
 * it, and netsrv_reply() sends the answer back to that sender.  There is
 * no connection, so there is no end of stream to wait for either.
 *
 * Usage: dgram [ADDR]  (default 127.0.0.1:7000; sync mode)
 * SIGINT or SIGTERM stops it cleanly.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction() even with -std=c99 */

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <netsrv.h>

/* A UDP payload is at most 65,507 bytes over IPv4; the library drops and
 * reports longer ones (cfg.max_packet), so this is enough. */
#define DGRAM_MAX 65536

static netsrv_server *dgram_server;

static void dgram_on_signal(int sig)
{
    (void)sig;
    if (dgram_server)
        netsrv_shutdown(dgram_server);
}

static int dgram_handle(netsrv_request *req)
{
    /* Static, not on the stack: in async mode a request's stack is small.
     * The buffer is safe to share only because sync mode runs one request
     * at a time; another mode would need malloc() or the request state. */
    static char out[DGRAM_MAX + NETSRV_ADDRSTRLEN + 32];
    char who[NETSRV_ADDRSTRLEN];
    size_t len, i;
    const char *pkt = netsrv_packet(req, &len);
    int n;

    for (i = 0; i < len; i++)
        out[i] = pkt[len - 1 - i];
    netsrv_addr_format(netsrv_request_peer(req), who, sizeof who);
    n = snprintf(out + len, sizeof out - len, " (%zu bytes from %s)", len, who);
    if (n < 0)
        return -1;
    /* One datagram back to the sender.  (Writing with netsrv_write or
     * netsrv_printf instead would gather the output into one reply sent
     * when handle returns.) */
    return netsrv_reply(req, out, len + (size_t)n);
}

static void dgram_on_error(netsrv_server *srv, netsrv_request *req,
                           const netsrv_addr *peer, int err, void *ctx)
{
    char who[NETSRV_ADDRSTRLEN] = "?";

    (void)srv; (void)req; (void)ctx;
    if (peer)
        netsrv_addr_format(peer, who, sizeof who);
    fprintf(stderr, "dgram: %s: %s\n", who, netsrv_strerror(err));
}

static const netsrv_handler dgram_handler = {
    .name = "dgram",
    .handle = dgram_handle,
};

int main(int argc, char **argv)
{
    netsrv_config cfg;
    char err[NETSRV_ERRLEN], addr[NETSRV_ADDRSTRLEN];
    struct sigaction sa;
    int rc;

    if (argc > 2 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: dgram [ADDR]\n");
        return 2;
    }
    netsrv_config_init(&cfg);
    cfg.address = argc > 1 ? argv[1] : "127.0.0.1:7000";
    cfg.dgram = 1;          /* UDP, or Unix datagram for unix:PATH */
    cfg.mode = NETSRV_SYNC; /* one packet at a time: see dgram_handle */
    cfg.hooks.handle_error = dgram_on_error;

    rc = netsrv_server_create(&dgram_server, &cfg, &dgram_handler, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "dgram: %s\n", err);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = dgram_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fprintf(stderr, "dgram: listening on %s\n",
            netsrv_server_address(dgram_server, addr, sizeof addr));
    rc = netsrv_serve_forever(dgram_server, 0.5);
    if (rc < 0)
        fprintf(stderr, "dgram: %s\n", netsrv_strerror(rc));
    netsrv_server_free(dgram_server);
    dgram_server = NULL;
    return rc < 0 ? 1 : 0;
}
