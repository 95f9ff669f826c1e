/* http_stream.c - see http_stream.h.  Differential checks: the parsers
 * are incremental (a head may come a byte at a time, a body into any size
 * of buffer), so every way of feeding the same bytes must give the same
 * messages; where they differ, one of them is wrong. */
#include "config.h"
#include "fuzz.h"
#include "http_stream.h"

#include <errno.h>
#include <string.h>

#define HEADERS_CAP 100
#define MAX_MESSAGES 32

void fuzz_http_small_limits(netsrv_http_limits *lim)
{
    netsrv_http_limits_init(lim);
    lim->max_line = 64;
    lim->max_head = 512;
    lim->max_headers = 8;
    lim->max_body = 300;
}

static int inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

void fuzz_http_check_head(const netsrv_http_msg *m, const char *buf, size_t len)
{
    FUZZ_CHECK(m->head_len > 0 && m->head_len <= len);
    FUZZ_CHECK(m->head_len <= m->limits.max_head);
    FUZZ_CHECK(m->nheaders <= m->headers_cap && m->nheaders <= m->limits.max_headers);
    for (size_t i = 0; i < m->nheaders; i++) {
        const netsrv_http_header *h = &m->headers[i];

        FUZZ_CHECK(h->name_len > 0 && inside(h->name, h->name_len, buf, m->head_len));
        FUZZ_CHECK(inside(h->value, h->value_len, buf, m->head_len));
        /* A value never carries the line's end or a bare CR into a reply. */
        FUZZ_CHECK(!memchr(h->value, '\n', h->value_len) && !memchr(h->value, '\r', h->value_len));
        FUZZ_CHECK(!memchr(h->name, ':', h->name_len));
    }
    FUZZ_CHECK(m->major == 1);
    FUZZ_CHECK(m->content_length >= -1);
    if (m->kind == NETSRV_HTTP_REQUEST) {
        FUZZ_CHECK(m->method >= 0 && m->method_name != NULL);
        FUZZ_CHECK(m->target_len > 0 && inside(m->target, m->target_len, buf, m->head_len));
        FUZZ_CHECK(m->target_len <= m->limits.max_line);
        for (size_t i = 0; i < m->target_len; i++)
            FUZZ_CHECK((unsigned char)m->target[i] > 0x20 && m->target[i] != 0x7f);
        if (m->minor >= 1)
            FUZZ_CHECK(netsrv_http_header_find(m, "host", NULL) != NULL);
        FUZZ_CHECK(m->status == 0);
        /* What the http handler does next with the target. */
        char path[1024];
        netsrv_http_target_path(m->target, m->target_len, path, sizeof path, NULL, NULL);
    } else {
        FUZZ_CHECK(m->status >= 100 && m->status <= 999 && m->method == -1);
        FUZZ_CHECK(m->reason_len <= m->limits.max_line);
        FUZZ_CHECK(m->reason_len == 0 || inside(m->reason, m->reason_len, buf, m->head_len));
    }
    /* What servers and clients look up in every head. */
    const netsrv_http_header *c = NULL;
    while ((c = netsrv_http_header_find(m, "connection", c))) {
        const char *params;
        size_t plen;

        if (netsrv_http_token_find(c->value, c->value_len, "close", &params, &plen) && params)
            FUZZ_CHECK(inside(params, plen, c->value, c->value_len));
        netsrv_http_token_find(c->value, c->value_len, "keep-alive", NULL, NULL);
    }
}

/* The same head, given to the parser in growing pieces of the same buffer. */
static ssize_t parse_in_pieces(netsrv_http_msg *m, const char *buf, size_t len)
{
    size_t k = 0;
    ssize_t r = NETSRV_HTTP_INCOMPLETE;

    while (k < len) {
        k += k < 64 ? 1 : 1 + k / 16;
        if (k > len)
            k = len;
        r = netsrv_http_parse(m, buf, k);
        if (r != NETSRV_HTTP_INCOMPLETE)
            break;
    }
    return r;
}

static void same_head(const netsrv_http_msg *a, const netsrv_http_msg *b)
{
    FUZZ_CHECK(a->head_len == b->head_len && a->nheaders == b->nheaders);
    FUZZ_CHECK(a->method == b->method && a->status == b->status);
    FUZZ_CHECK(a->target == b->target && a->target_len == b->target_len);
    FUZZ_CHECK(a->reason == b->reason && a->reason_len == b->reason_len);
    FUZZ_CHECK(a->major == b->major && a->minor == b->minor);
    FUZZ_CHECK(a->content_length == b->content_length && a->chunked == b->chunked);
    FUZZ_CHECK(a->keep_alive == b->keep_alive && a->upgrade == b->upgrade);
    FUZZ_CHECK(a->expect_continue == b->expect_continue);
    for (size_t i = 0; i < a->nheaders; i++) {
        FUZZ_CHECK(a->headers[i].name == b->headers[i].name);
        FUZZ_CHECK(a->headers[i].name_len == b->headers[i].name_len);
        FUZZ_CHECK(a->headers[i].value == b->headers[i].value);
        FUZZ_CHECK(a->headers[i].value_len == b->headers[i].value_len);
    }
}

/* A body decoded out of in[0..len) with out buffers of cap bytes (a
 * cycle of small sizes when cap is 0, no buffer at all when out is NULL).
 * The decoded bytes go to dst (when not NULL). */
struct decoded {
    size_t used, produced;
    int rc, done;
};

static void decode(const netsrv_http_msg *m, const char *in, size_t len, char *dst, int tiny,
                   int drop, struct decoded *d)
{
    static const size_t caps[] = { 1, 2, 3, 5, 8, 13 };
    netsrv_http_body b;
    unsigned turn = 0;
    char small[16];

    memset(d, 0, sizeof *d);
    d->rc = netsrv_http_body_init(&b, m);
    if (d->rc < 0) {
        FUZZ_CHECK(d->rc == -EFBIG);
        return;
    }
    for (unsigned rounds = 0; !b.done; rounds++) {
        size_t used = 0;
        size_t cap = drop ? (size_t)-1 : tiny ? caps[turn++ % 6] : len + 1 - d->produced;
        void *out = drop ? NULL : tiny ? (void *)small : (void *)(dst + d->produced);
        ssize_t n = netsrv_http_body_decode(&b, in + d->used, len - d->used, &used, out, cap);

        FUZZ_CHECK(used <= len - d->used);
        if (n < 0) {
            FUZZ_CHECK(n == -EBADMSG || n == -EFBIG || n == -EMSGSIZE || n == -E2BIG);
            FUZZ_CHECK(b.error != NULL);
            /* It sticks. */
            FUZZ_CHECK(netsrv_http_body_decode(&b, in, len, &used, NULL, 1) == n);
            d->rc = (int)n;
            break;
        }
        FUZZ_CHECK((size_t)n <= cap);
        if (tiny && dst)
            memcpy(dst + d->produced, small, (size_t)n);
        d->produced += (size_t)n;
        d->used += used;
        FUZZ_CHECK(d->produced <= d->used); /* decoded is never longer */
        if (n == 0 && !b.done) {
            /* Input used up, the body not over: the stream ends here. */
            FUZZ_CHECK(d->used == len);
            d->rc = netsrv_http_body_eof(&b);
            FUZZ_CHECK(d->rc == 0 ? b.until_close : d->rc == -EPIPE);
            break;
        }
        FUZZ_CHECK(rounds <= 2 * len + 16); /* always progress */
    }
    d->done = b.done;
    FUZZ_CHECK(b.received == (long long)d->produced);
    /* A Content-Length body is done when exactly that much came (a
     * message that has no body whatever its headers say aside, and an
     * upgrade or CONNECT, after whose head comes another protocol). */
    int bodiless = (m->flags & NETSRV_HTTP_NO_BODY) || m->status == 204 || m->status == 304 ||
                   (m->status >= 100 && m->status < 200) || m->upgrade;
    if (b.length >= 0 && !b.chunked && d->done && !bodiless)
        FUZZ_CHECK((long long)d->produced == b.length);
    if (m->limits.max_body >= 0)
        FUZZ_CHECK((long long)d->produced <= m->limits.max_body);
}

unsigned fuzz_http_stream(int kind, unsigned flags, const netsrv_http_limits *lim,
                          const char *buf, size_t len)
{
    netsrv_http_header h1[HEADERS_CAP], h2[HEADERS_CAP];
    size_t cap = lim && lim->max_headers < HEADERS_CAP ? lim->max_headers : HEADERS_CAP;
    netsrv_http_msg m, m2;
    size_t off = 0;
    unsigned count = 0;

    while (count < MAX_MESSAGES && off < len) {
        const char *at = buf + off;
        size_t left = len - off;

        netsrv_http_msg_init(&m, kind, flags, lim, h1, cap);
        netsrv_http_msg_init(&m2, kind, flags, lim, h2, cap);
        ssize_t r = netsrv_http_parse(&m, at, left);
        ssize_t r2 = parse_in_pieces(&m2, at, left);

        /* Both refusing with different errors is allowed: of two faults
         * (a target over max_line that also holds a NUL), which one is
         * met first depends on where the pieces end (414 or 400). */
        if (r != r2 && !(r < 0 && r2 < 0)) {
            fprintf(stderr, "at %zu: one call %zd (%s), in pieces %zd (%s)\n", off, r,
                    m.error ? m.error : "", r2, m2.error ? m2.error : "");
            abort();
        }
        if (r < 0) {
            int st = netsrv_http_error_status((int)r);

            FUZZ_CHECK(m.error != NULL);
            FUZZ_CHECK(st == 400 || st == 413 || st == 414 || st == 431 || st == 501 ||
                       st == 505);
            break;
        }
        if (r == NETSRV_HTTP_INCOMPLETE)
            break;
        same_head(&m, &m2);
        fuzz_http_check_head(&m, at, left);
        count++;

        /* The body, three ways. */
        const char *in = at + r;
        size_t inlen = left - (size_t)r;
        char *big = malloc(inlen + 1), *tiny = malloc(inlen + 1);
        struct decoded a, b, c;

        if (!big || !tiny) {
            free(big);
            free(tiny);
            break;
        }
        decode(&m, in, inlen, big, 0, 0, &a);
        decode(&m, in, inlen, tiny, 1, 0, &b);
        decode(&m, in, inlen, NULL, 0, 1, &c);
        /* After a fault, how much input was taken may differ with the
         * pieces, and so may the error when there are two faults (bad
         * framing, then a chunk over max_body: which one is met first
         * depends on where the pieces end); the body bytes before it, and
         * that it failed, may not. */
        if ((a.rc < 0) != (b.rc < 0) || (a.rc == 0 && a.used != b.used) ||
            a.produced != b.produced || a.done != b.done || memcmp(big, tiny, a.produced) != 0) {
            fprintf(stderr, "body at %zu: large buffer rc %d used %zu out %zu done %d, "
                    "tiny buffers rc %d used %zu out %zu done %d\n", off + (size_t)r, a.rc,
                    a.used, a.produced, a.done, b.rc, b.used, b.produced, b.done);
            abort();
        }
        FUZZ_CHECK(c.rc == a.rc && (a.rc != 0 || c.used == a.used) && c.produced == a.produced &&
                   c.done == a.done); /* the same pieces as a: the same result */
        free(big);
        free(tiny);
        if (a.rc < 0 || !a.done || !m.keep_alive || m.upgrade)
            break; /* the connection ends here */
        off += (size_t)r + a.used;
    }
    return count;
}
