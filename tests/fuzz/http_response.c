/* http_response.c - fuzz target: the HTTP client's response parser
 * (libnetsrv/http.c, http_body.c as http_client.c drives them).  The input
 * is what a server sends on one connection.  It is written into one end
 * of a socketpair and read from the other through the library's stream,
 * as netsrv_httpc_request and netsrv_httpc_read read it: heads (1xx ones
 * skipped), bodies by Content-Length, chunked or until the end, and the
 * next response on a kept connection.  The same bytes are also parsed from
 * memory (http_stream.c), as the answer to a GET and to a HEAD. */
#include "config.h"
#include "fuzz.h"
#include "http_stream.h"
#include "netsrv_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_CAP 32768 /* http_client.c's */
#define HEADERS_CAP 100
#define MAX_INPUT 65536 /* fits in a socketpair's buffer: no thread needed */

static void client_reads(int fd, size_t size)
{
    netsrv_conn *c = calloc(1, sizeof *c);
    netsrv_http_header *hdr = malloc(HEADERS_CAP * sizeof *hdr);
    char *head = malloc(HEAD_CAP), *buf = malloc(16384);
    size_t body_total = 0;

    if (!c || !hdr || !head || !buf) {
        close(fd);
        goto out;
    }
    netsrv__conn_init(c, fd, 0, NULL);
    c->linger = 0;
    for (unsigned count = 0; count < 32; count++) {
        netsrv_http_limits lim;
        netsrv_http_msg m;
        netsrv_http_body b;
        ssize_t n;

        netsrv_http_limits_init(&lim);
        lim.max_body = -1; /* as the client sets it: it saves files */
        netsrv_http_msg_init(&m, NETSRV_HTTP_RESPONSE, 0, &lim, hdr, HEADERS_CAP);
        n = netsrv_http_read_head(c, &m, head, HEAD_CAP);
        if (n <= 0) {
            FUZZ_CHECK(n == 0 || m.error != NULL);
            break;
        }
        fuzz_http_check_head(&m, head, (size_t)n);
        if (m.status >= 100 && m.status < 200 && m.status != 101)
            continue; /* 100 Continue, 103 Early Hints: the answer follows */
        if (netsrv_http_body_init(&b, &m) < 0)
            break;
        for (unsigned turn = 0;; turn++) {
            /* Large reads and small ones, as callers of netsrv_httpc_read do. */
            size_t want = turn % 2 ? 7 : 16384;
            ssize_t got = netsrv_http_read_body(c, &b, buf, want);

            FUZZ_CHECK(got <= (ssize_t)want);
            if (got <= 0) {
                FUZZ_CHECK(got == 0 ? b.done : b.error != NULL);
                break;
            }
            body_total += (size_t)got;
            FUZZ_CHECK(body_total <= size);
        }
        if (!b.done || !m.keep_alive || m.upgrade)
            break;
    }
    netsrv_conn_close(c);
    c = NULL;
out:
    free(c);
    free(hdr);
    free(head);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    netsrv_http_limits small;
    int sv[2];
    size_t off = 0;

    if (size > MAX_INPUT)
        return 0;
    fuzz_http_stream(NETSRV_HTTP_RESPONSE, 0, NULL, (const char *)data, size);
    fuzz_http_small_limits(&small);
    fuzz_http_stream(NETSRV_HTTP_RESPONSE, NETSRV_HTTP_NO_BODY, &small, (const char *)data, size);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        return 0;
    while (off < size) {
        ssize_t n = send(sv[0], data + off, size - off, MSG_NOSIGNAL);

        if (n <= 0)
            break; /* full (non-blocking, never waits): the rest is cut */
        off += (size_t)n;
    }
    shutdown(sv[0], SHUT_WR); /* the server's last byte: the reads end there */
    client_reads(sv[1], size);
    close(sv[0]);
    return 0;
}
