/* client.c - a client connection (netsrv_conn_dial) uses the same stream
 * calls as a handler: a line round trip with an echo server, a large
 * exchange, the idle timeout against a silent server, a refused dial.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

int main(void)
{
    tu_init(60);
    char addr[NETSRV_ADDRSTRLEN], err[NETSRV_ERRLEN], line[64];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0)
        bail_out("echo server");

    netsrv_conn *c;
    is(netsrv_conn_dial(&c, addr, 5, err, sizeof err), 0, "dial the echo server");
    ok(netsrv_conn_fileno(c) >= 0, "it has a socket");
    is(netsrv_printf(c, "hello %d\n", 42), 9, "printf on a client connection");
    int how = -1;
    ssize_t n = netsrv_getline(c, line, sizeof line, &how);
    ok(n == 9 && memcmp(line, "hello 42\n", 9) == 0 && how == NETSRV_LINE_END,
       "getline reads the echo (%zd bytes)", n);
    /* 4 MB each way, written and read in turns so neither side stalls */
    size_t big = 4u << 20, got = 0;
    char *out = malloc(big), *in = malloc(big);
    for (size_t i = 0; i < big; i++)
        out[i] = (char)(i * 7);
    for (size_t off = 0; off < big; off += 65536) {
        if (netsrv_write(c, out + off, 65536) != 65536)
            break;
        netsrv_flush(c);
        ssize_t r = netsrv_read_exact(c, in + off, 65536);
        if (r != 65536)
            break;
        got += (size_t)r;
    }
    ok(got == big && memcmp(in, out, big) == 0, "4 MB round trip, byte for byte");
    free(out);
    free(in);
    netsrv_conn_close(c);
    tu_stop(&ts);
    netsrv_server_free(srv);

    /* a server that never answers: the idle timeout ends the read */
    int port;
    int lfd = tu_listen_loopback(&port);
    char silent[64];
    snprintf(silent, sizeof silent, "127.0.0.1:%d", port);
    is(netsrv_conn_dial(&c, silent, 0.3, err, sizeof err), 0, "dial a silent server");
    double t0 = tu_now();
    n = netsrv_read(c, line, sizeof line);
    is(n, -ETIMEDOUT, "a read from it times out (after %.2f s)", tu_now() - t0);
    netsrv_conn_close(c);
    close(lfd);

    /* nobody listening there any more */
    int rc = netsrv_conn_dial(&c, silent, 2, err, sizeof err);
    ok(rc < 0 && c == NULL && err[0], "a refused dial fails with a reason: %s", err);
    netsrv_conn_close(NULL);
    return done_testing();
}
