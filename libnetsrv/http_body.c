/* http_body.c - reading a message body: by Content-Length, chunked or until
 * the connection closes.  http-parser does the decoding; this file feeds it
 * no more input than the output has room for (a body is never longer than
 * the bytes that carry it), so nothing decoded has to be held back, and it
 * stops the parser at the end of the message, so a pipelined one is left
 * alone. */
#include "config.h"
#include "http_int.h"
#include <errno.h>
#include <stdint.h>
#include <string.h>

enum { SPAN_NONE, SPAN_FIELD, SPAN_VALUE };

static int cb_fail(netsrv_http_body *b, int rc, const char *why)
{
    b->priv.cb_err = rc;
    b->error = why;
    return 1;
}

static int over_limit(const netsrv_http_body *b, unsigned long long more)
{
    long long max = b->priv.max_body;
    return max >= 0 && more > (unsigned long long)(max - b->received - (long long)b->priv.got);
}

/* The framing bytes of a chunked body (size lines, the CRLF after each
 * chunk's data, trailers), checked here because the shared libhttp_parser
 * is built without HTTP_PARSER_STRICT: it then takes any two bytes for the
 * CRLF after chunk data and any byte after a CR for its LF, and lets a bare
 * LF into a chunk extension.  A proxy in front that reads those bytes the
 * strict way would see other chunks than we do. */
static int framing_ok(netsrv_http_body *b, const char *q, const char *end)
{
    for (; q < end; q++) {
        if (b->priv.crlf) { /* 2: the CR after chunk data is due, 1: its LF */
            if (*q != (b->priv.crlf == 2 ? '\r' : '\n'))
                return 0;
            b->priv.crlf--;
        } else if (b->priv.cr) {
            if (*q != '\n')
                return 0;
            b->priv.cr = 0;
        } else if (*q == '\r') {
            b->priv.cr = 1;
        } else if (*q == '\n') {
            return 0;
        }
    }
    return 1;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    netsrv_http_body *b = p->data;
    if (b->chunked) {
        if (!framing_ok(b, b->priv.scan, at))
            return cb_fail(b, -EBADMSG, "bad chunk framing");
        /* The framing before this piece (since the last piece of this
         * step, or the step's start plus what earlier steps carried) is
         * bounded here too: counted only after a step, a long chunk
         * extension passed whenever its chunk's data came in the same
         * read, so the limit depended on how the bytes were split. */
        size_t framing = (size_t)(at - b->priv.scan) + (b->priv.body_end ? 0 : b->priv.framing);
        if (framing > b->priv.max_head)
            return cb_fail(b, -EMSGSIZE, "chunk lines or trailers longer than max_head");
        b->priv.scan = at + n;
        /* The last piece of a chunk's data comes with content_length 0. */
        if (p->content_length == 0)
            b->priv.crlf = 2;
    }
    if (over_limit(b, n))
        return cb_fail(b, -EFBIG, "body longer than max_body");
    if (n > b->priv.room - b->priv.got) /* cannot happen: input fed <= room */
        return cb_fail(b, -EOVERFLOW, "body piece larger than the buffer");
    if (b->priv.out)
        memcpy(b->priv.out + b->priv.got, at, n);
    b->priv.got += n;
    b->priv.body_end = at + n;
    return 0;
}

/* A chunk's size is known before its data: refuse an oversized one now
 * rather than after reading up to the limit. */
static int on_chunk_header(http_parser *p)
{
    netsrv_http_body *b = p->data;
    if (over_limit(b, p->content_length))
        return cb_fail(b, -EFBIG, "chunk past max_body");
    return 0;
}

/* Copies a piece of a trailer name or value into the caller's tbuf. */
static int keep(netsrv_http_body *b, const char *at, size_t n)
{
    if (n > b->tbuf_len - b->priv.tused)
        return cb_fail(b, -EMSGSIZE, "trailers larger than tbuf");
    memcpy(b->tbuf + b->priv.tused, at, n);
    b->priv.tused += n;
    return 0;
}

static int on_trailer_field(http_parser *p, const char *at, size_t n)
{
    netsrv_http_body *b = p->data;
    if (memchr(at, ' ', n) || memchr(at, '\t', n))
        return cb_fail(b, -EBADMSG, "whitespace in a trailer name");
    int store = b->trailers && b->tbuf;
    if (b->priv.last != SPAN_FIELD) {
        if (b->priv.nfields >= b->priv.max_fields)
            return cb_fail(b, -E2BIG, "more trailer fields than max_headers");
        b->priv.nfields++;
        if (store) {
            if (b->ntrailers >= b->trailers_cap)
                return cb_fail(b, -EMSGSIZE, "more trailer fields than trailers_cap");
            netsrv_http_header *h = &b->trailers[b->ntrailers++];
            h->name = h->value = b->tbuf + b->priv.tused;
            h->name_len = h->value_len = 0;
        }
    }
    b->priv.last = SPAN_FIELD;
    if (!store)
        return 0;
    b->trailers[b->ntrailers - 1].name_len += n;
    return keep(b, at, n);
}

static int on_trailer_value(http_parser *p, const char *at, size_t n)
{
    netsrv_http_body *b = p->data;
    int store = b->trailers && b->tbuf;
    if (!store) {
        b->priv.last = SPAN_VALUE;
        return 0;
    }
    netsrv_http_header *h = &b->trailers[b->ntrailers - 1];
    if (b->priv.last != SPAN_VALUE)
        h->value = b->tbuf + b->priv.tused;
    b->priv.last = SPAN_VALUE;
    h->value_len += n;
    return keep(b, at, n);
}

static int on_message_complete(http_parser *p)
{
    netsrv_http_body *b = p->data;
    b->done = 1;
    for (size_t i = 0; i < b->ntrailers; i++)
        netsrv__http_trim(&b->trailers[i]);
    /* Whatever follows is the next message's. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings body_settings = {
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_header_field = on_trailer_field,
    .on_header_value = on_trailer_value,
    .on_message_complete = on_message_complete,
};

static ssize_t fail(netsrv_http_body *b, int rc, const char *why)
{
    b->priv.rc = rc;
    /* A failed body is never done, even when http-parser went on to the
     * message's end: the bad framing after the last chunk's data
     * ("helloXX0\r\n\r\n") is only seen once the step is over, and a
     * caller that stops at done (netsrv_httpc_close keeps the connection
     * then) would take the body for good and the stream for in step. */
    b->done = 0;
    if (why)
        b->error = why;
    return rc;
}

int netsrv_http_body_init(netsrv_http_body *b, const netsrv_http_msg *m)
{
    memset(b, 0, sizeof *b);
    if (m->priv.state != NETSRV__HTTP_DONE || m->head_len == 0)
        return (int)fail(b, -EINVAL, "the head is not complete");
    memcpy(b->priv.parser.bytes, m->priv.parser.bytes, sizeof b->priv.parser.bytes);
    b->length = m->content_length;
    b->chunked = m->chunked;
    b->priv.max_body = m->limits.max_body;
    b->priv.max_head = m->limits.max_head;
    b->priv.max_fields = m->limits.max_headers;
    b->done = m->priv.msg_done;
    b->until_close = !b->done && !b->chunked && b->length < 0;
    if (!b->done && b->length >= 0 && b->priv.max_body >= 0 && b->length > b->priv.max_body)
        return (int)fail(b, -EFBIG, "Content-Length over max_body");
    return 0;
}

static ssize_t parser_failed(netsrv_http_body *b, enum http_errno e)
{
    if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete && b->priv.cb_err)
        return fail(b, b->priv.cb_err, NULL);
    if (e == HPE_HEADER_OVERFLOW)
        return fail(b, -EMSGSIZE, "trailers longer than http-parser's limit");
    return fail(b, -EBADMSG, http_errno_description(e));
}

ssize_t netsrv_http_body_decode(netsrv_http_body *b, const void *in, size_t len, size_t *used,
                                void *out, size_t cap)
{
    const char *src = in;
    size_t produced = 0;
    *used = 0;
    if (b->priv.rc < 0)
        return b->priv.rc;
    http_parser *p = netsrv__body_parser(b);
    p->data = b;
    while (!b->done && *used < len && produced < cap) {
        /* Never more input than output room: then every decoded byte of
         * this step fits, and http-parser needs no way to hold one back. */
        size_t step = len - *used < cap - produced ? len - *used : cap - produced;
        const char *at = src + *used;
        b->priv.out = out ? (char *)out + produced : NULL;
        b->priv.room = cap - produced;
        b->priv.got = 0;
        b->priv.body_end = NULL;
        b->priv.scan = at;
        size_t n = http_parser_execute(p, &body_settings, at, step);
        enum http_errno e = HTTP_PARSER_ERRNO(p);
        *used += n;
        produced += b->priv.got;
        b->received += (long long)b->priv.got;
        ssize_t rc = 0;
        if (e != HPE_OK && !(e == HPE_PAUSED && b->done))
            rc = parser_failed(b, e);
        else if (b->chunked && !framing_ok(b, b->priv.scan, at + n))
            rc = fail(b, -EBADMSG, "bad chunk framing");
        /* The body before a fault is good: it goes out first, and the
         * error (kept in priv.rc) with the next call. */
        if (rc < 0)
            return produced ? (ssize_t)produced : rc;
        /* Chunk-size lines, extensions and trailers carry no body: bound
         * how much of that may come in a row, as max_head bounds a head. */
        if (b->priv.body_end)
            b->priv.framing = (size_t)(at + n - b->priv.body_end);
        else
            b->priv.framing += n;
        if (b->priv.framing > b->priv.max_head) {
            rc = fail(b, -EMSGSIZE, "chunk lines or trailers longer than max_head");
            return produced ? (ssize_t)produced : rc;
        }
    }
    return (ssize_t)produced;
}

int netsrv_http_body_eof(netsrv_http_body *b)
{
    if (b->done)
        return 0;
    if (b->priv.rc < 0)
        return b->priv.rc;
    http_parser *p = netsrv__body_parser(b);
    p->data = b;
    b->priv.out = NULL;
    b->priv.room = b->priv.got = 0;
    http_parser_execute(p, &body_settings, NULL, 0);
    if (b->done)
        return 0; /* a body that runs until the connection closes */
    return (int)fail(b, -EPIPE, "the body was cut short");
}

ssize_t netsrv_http_read_body(netsrv_conn *c, netsrv_http_body *b, void *buf, size_t len)
{
    for (;;) {
        if (b->priv.rc < 0)
            return b->priv.rc;
        if (b->done || len == 0)
            return 0;
        const void *data;
        ssize_t n = netsrv_peek(c, &data);
        if (n < 0)
            return fail(b, (int)n, "read failed");
        if (n == 0)
            return netsrv_http_body_eof(b);
        size_t used;
        ssize_t got = netsrv_http_body_decode(b, data, (size_t)n, &used, buf, len);
        netsrv_consume(c, used);
        if (got != 0)
            return got;
        /* 0: framing only (a chunk-size line), or the end: look again. */
    }
}

long long netsrv_http_skip_body(netsrv_conn *c, netsrv_http_body *b)
{
    long long total = 0;
    ssize_t n;
    while ((n = netsrv_http_read_body(c, b, NULL, SIZE_MAX)) > 0)
        total += n;
    return n < 0 ? n : total;
}
