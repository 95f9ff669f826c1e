/* http.c - HTTP/1.1 message heads on http-parser: limits, a head parsed in
 * the caller's buffer, a head read from a connection, header and token
 * lookup, and the status that answers each failure.  Parsing goes on where
 * the last call stopped, so a head that trickles in byte by byte costs its
 * length, not its length squared. */
#include "config.h"
#include "http_int.h"
#include <errno.h>
#include <limits.h>
#include <string.h>

/* What the last data callback was, so a span that a call boundary split
 * in two is joined again (both halves are in the caller's buffer). */
enum { SPAN_NONE, SPAN_URL, SPAN_STATUS, SPAN_FIELD, SPAN_VALUE };

/* A method that http-parser does not know is read up to this long to tell
 * an unknown method (501) from garbage (400). */
#define METHOD_MAX 32

void netsrv_http_limits_init(netsrv_http_limits *lim)
{
    lim->max_line = 8192;
    lim->max_head = 32768;
    lim->max_headers = 100;
    lim->max_body = 1 << 20;
}

static int cb_fail(netsrv_http_msg *m, int rc, const char *why)
{
    m->priv.cb_err = rc;
    m->error = why;
    return 1; /* nonzero stops http-parser with HPE_CB_* */
}

static int on_begin(http_parser *p)
{
    ((netsrv_http_msg *)p->data)->started = 1;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    netsrv_http_msg *m = p->data;
    if (m->priv.last != SPAN_URL)
        m->target = at;
    m->target_len = (size_t)(at + n - m->target);
    m->priv.last = SPAN_URL;
    if (m->target_len > m->limits.max_line)
        return cb_fail(m, -ENAMETOOLONG, "request target longer than max_line");
    /* The shared libhttp_parser is built without HTTP_PARSER_STRICT, and
     * then lets a tab or form feed into a URL. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)at[i] <= ' ' || at[i] == 0x7f)
            return cb_fail(m, -EBADMSG, "control character in the request target");
    return 0;
}

static int on_status(http_parser *p, const char *at, size_t n)
{
    netsrv_http_msg *m = p->data;
    if (m->priv.last != SPAN_STATUS)
        m->reason = at;
    m->reason_len = (size_t)(at + n - m->reason);
    m->priv.last = SPAN_STATUS;
    if (m->reason_len > m->limits.max_line)
        return cb_fail(m, -EMSGSIZE, "reason phrase longer than max_line");
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    netsrv_http_msg *m = p->data;
    if (m->priv.last != SPAN_FIELD) {
        size_t cap = m->headers_cap < m->limits.max_headers ? m->headers_cap : m->limits.max_headers;
        if (m->nheaders >= cap)
            return cb_fail(m, -E2BIG, "more header fields than max_headers");
        netsrv_http_header *h = &m->headers[m->nheaders++];
        h->name = at;
        h->value = at; /* replaced by the value callback; never NULL */
        h->value_len = 0;
    }
    netsrv_http_header *h = &m->headers[m->nheaders - 1];
    h->name_len = (size_t)(at + n - h->name);
    m->priv.last = SPAN_FIELD;
    /* http-parser takes "Host : x" as a field named "Host "; RFC 9112
     * makes a server refuse it, since proxies disagree on what it means. */
    if (memchr(at, ' ', n) || memchr(at, '\t', n))
        return cb_fail(m, -EBADMSG, "whitespace in a header name");
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    netsrv_http_msg *m = p->data;
    netsrv_http_header *h = &m->headers[m->nheaders - 1];
    if (m->priv.last != SPAN_VALUE)
        h->value = at;
    h->value_len = (size_t)(at + n - h->value);
    m->priv.last = SPAN_VALUE;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    netsrv_http_msg *m = p->data;
    m->priv.state = NETSRV__HTTP_HEADERS;
    /* Stop here: the caller's buffer may hold the body or the next request
     * after the head, and those are not ours to parse. */
    http_parser_pause(p, 1);
    if (m->kind == NETSRV_HTTP_RESPONSE) {
        unsigned st = p->status_code;
        /* 1 tells http-parser that no body follows.  It would otherwise
         * wait for the Content-Length a 304 (or a reply to HEAD) repeats. */
        if ((m->flags & NETSRV_HTTP_NO_BODY) || st / 100 == 1 || st == 204 || st == 304)
            return 1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    ((netsrv_http_msg *)p->data)->priv.msg_done = 1;
    return 0;
}

static const http_parser_settings head_settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

/* Starts a new head, keeping what netsrv_http_msg_init set. */
static void msg_reset(netsrv_http_msg *m)
{
    netsrv_http_msg keep = *m;
    memset(m, 0, sizeof *m);
    m->kind = keep.kind;
    m->flags = keep.flags;
    m->limits = keep.limits;
    m->headers = keep.headers;
    m->headers_cap = keep.headers_cap;
    m->method = -1;
    m->content_length = -1;
    http_parser_init(netsrv__msg_parser(m),
                     m->kind == NETSRV_HTTP_RESPONSE ? HTTP_RESPONSE : HTTP_REQUEST);
}

void netsrv_http_msg_init(netsrv_http_msg *m, int kind, unsigned flags,
                          const netsrv_http_limits *lim, netsrv_http_header *headers, size_t cap)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->flags = flags;
    if (lim)
        m->limits = *lim;
    else
        netsrv_http_limits_init(&m->limits);
    m->headers = headers;
    m->headers_cap = headers ? cap : 0;
    msg_reset(m);
}

static ssize_t fail(netsrv_http_msg *m, int rc, const char *why)
{
    m->priv.state = NETSRV__HTTP_FAILED;
    m->priv.rc = rc;
    if (why)
        m->error = why;
    return rc;
}

/* The parser is not past the request line yet: a request that does not
 * fit is refused as 414 there, as 431 later. */
static int in_request_line(const netsrv_http_msg *m)
{
    return m->kind == NETSRV_HTTP_REQUEST && m->nheaders == 0;
}

/* http-parser only knows its own list of methods.  A token followed by a
 * space is a method we do not implement (501); anything else is not HTTP
 * (400).  A token that has not ended yet needs more input to tell. */
static ssize_t classify_method(netsrv_http_msg *m, const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    size_t start = i;
    m->started = 1;
    while (i < len && i - start <= METHOD_MAX && netsrv__http_tchar((unsigned char)buf[i]))
        i++;
    if (i - start > METHOD_MAX)
        return fail(m, -EBADMSG, "invalid method");
    if (i == len) {
        if (len >= m->limits.max_head)
            return fail(m, -EBADMSG, "invalid method");
        m->priv.state = NETSRV__HTTP_BADMETHOD;
        m->priv.parsed = len;
        return NETSRV_HTTP_INCOMPLETE;
    }
    if (buf[i] == ' ' && i > start)
        return fail(m, -ENOSYS, "unknown method");
    return fail(m, -EBADMSG, "invalid method");
}

static ssize_t parser_failed(netsrv_http_msg *m, enum http_errno e, const char *buf, size_t len)
{
    if (e >= HPE_CB_message_begin && e <= HPE_CB_chunk_complete && m->priv.cb_err)
        return fail(m, m->priv.cb_err, NULL);
    switch (e) {
    case HPE_INVALID_METHOD:
        return classify_method(m, buf, len);
    case HPE_HEADER_OVERFLOW:
        return fail(m, -EMSGSIZE, "head longer than http-parser's limit");
    default:
        return fail(m, -EBADMSG, http_errno_description(e));
    }
}

/* Transfer-Encoding: chunked is the only coding this layer decodes; RFC
 * 9112 makes a server answer others with 501, and chunked twice, or not
 * last, with 400 (http-parser finds the latter for requests). */
static int check_transfer_encoding(netsrv_http_msg *m)
{
    size_t codings = 0, chunked = 0;
    int last_chunked = 0;
    for (size_t i = 0; i < m->nheaders; i++) {
        const netsrv_http_header *h = &m->headers[i];
        if (!netsrv__http_caseeq(h->name, h->name_len, "Transfer-Encoding", 17))
            continue;
        const char *v = h->value, *end = h->value + h->value_len, *a, *b;
        while (netsrv__http_list_next(&v, end, &a, &b)) {
            codings++;
            last_chunked = netsrv__http_caseeq(a, (size_t)(b - a), "chunked", 7);
            chunked += (size_t)last_chunked;
        }
    }
    if (codings == 0)
        return 0;
    if (m->minor == 0)
        return -EBADMSG; /* RFC 9112 6.1: framing of a 1.0 message with it is faulty */
    if (chunked > 1 || (chunked == 1 && !last_chunked))
        return -EBADMSG;
    return codings == 1 && chunked == 1 ? 0 : -ENOSYS;
}

/* RFC 9112 3.2: exactly one Host in an HTTP/1.1 request, never two in any,
 * and a value that is an authority (a file server may use it as a name). */
static int check_host(netsrv_http_msg *m)
{
    const netsrv_http_header *h = netsrv_http_header_find(m, "Host", NULL);
    if (!h)
        return m->minor >= 1 ? -EBADMSG : 0;
    if (netsrv_http_header_find(m, "Host", h))
        return -EBADMSG;
    for (size_t i = 0; i < h->value_len; i++) {
        unsigned char c = (unsigned char)h->value[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (!strchr("-._~%!$&'()*+,;=:[]", c) || c == '\0')
            return -EBADMSG;
    }
    return 0;
}

/* Debian's libhttp_parser (like upstream's "library" target) is built with
 * HTTP_PARSER_STRICT=0, which drops the checks that a CR is followed by LF
 * and that the version starts "HTTP/".  Without them "X:\rZZ: y" is two
 * headers to it and one to a stricter proxy in front: the stuff of request
 * smuggling.  So the complete head is checked for both here. */
static int strict_checks(const netsrv_http_msg *m)
{
    const char *p = m->priv.base, *end = p + m->head_len;
    for (const char *q = p; (q = memchr(q, '\r', (size_t)(end - q))) != NULL; q++)
        if (q + 1 == end || q[1] != '\n')
            return -1; /* a bare CR */
    const char *v;
    if (m->kind == NETSRV_HTTP_REQUEST) {
        v = m->target + m->target_len;
        while (v < end && *v == ' ')
            v++;
    } else {
        v = p;
        while (v < end && (*v == '\r' || *v == '\n'))
            v++;
    }
    return (size_t)(end - v) >= 5 && memcmp(v, "HTTP/", 5) == 0 ? 0 : -1;
}

/* The head is complete: fill in what the caller reads, and refuse what
 * http-parser let through but HTTP/1.1 does not. */
static ssize_t finish(netsrv_http_msg *m)
{
    http_parser *p = netsrv__msg_parser(m);
    m->head_len = m->priv.parsed;
    m->major = p->http_major;
    m->minor = p->http_minor;
    if (m->kind == NETSRV_HTTP_REQUEST) {
        m->method = (int)p->method;
        m->method_name = http_method_str((enum http_method)p->method);
    } else {
        m->status = (int)p->status_code;
    }
    /* Never NULL, so callers may print them: a response has no target, and
     * "HTTP/1.1 200\r\n" no reason. */
    if (!m->target)
        m->target = "";
    if (!m->reason)
        m->reason = "";
    if (strict_checks(m) < 0)
        return fail(m, -EBADMSG, "bare CR, or no HTTP/ version");
    if (m->major != 1)
        return fail(m, -EPROTONOSUPPORT, "HTTP version not supported");
    if (m->kind == NETSRV_HTTP_RESPONSE && m->status < 100)
        return fail(m, -EBADMSG, "status code below 100");
    for (size_t i = 0; i < m->nheaders; i++) {
        netsrv_http_header *h = &m->headers[i];
        netsrv__http_trim(h);
        /* A folded line (obs-fold) reaches us as one value with the line
         * break inside; RFC 9112 lets a recipient refuse it, and that is
         * safer than guessing what the sender's proxy did with it. */
        if (memchr(h->value, '\n', h->value_len) || memchr(h->value, '\r', h->value_len))
            return fail(m, -EBADMSG, "folded header line (obs-fold)");
    }
    unsigned flags = p->flags;
    if (flags & F_CONTENTLENGTH) {
        if (p->content_length > (unsigned long long)LLONG_MAX)
            return fail(m, -EFBIG, "Content-Length too large");
        m->content_length = (long long)p->content_length;
    }
    m->chunked = !!(flags & F_CHUNKED);
    m->upgrade = p->upgrade;
    m->keep_alive = http_should_keep_alive(p);
    int rc = check_transfer_encoding(m);
    if (rc < 0)
        return fail(m, rc, rc == -ENOSYS ? "transfer coding not supported"
                                         : "bad Transfer-Encoding");
    if (m->kind == NETSRV_HTTP_REQUEST) {
        if (check_host(m) < 0)
            return fail(m, -EBADMSG, "missing, repeated or bad Host header");
        const netsrv_http_header *e = netsrv_http_header_find(m, "Expect", NULL);
        m->expect_continue =
            m->minor >= 1 && e && netsrv__http_caseeq(e->value, e->value_len, "100-continue", 12);
    }
    m->priv.state = NETSRV__HTTP_DONE;
    return (ssize_t)m->head_len;
}

ssize_t netsrv_http_parse(netsrv_http_msg *m, const char *buf, size_t len)
{
    if (m->priv.state == NETSRV__HTTP_DONE)
        return (ssize_t)m->head_len;
    if (m->priv.state == NETSRV__HTTP_FAILED)
        return m->priv.rc;
    if (m->priv.parsed && (buf != m->priv.base || len < m->priv.parsed))
        msg_reset(m); /* another buffer: start over */
    m->priv.base = buf;
    if (m->priv.state == NETSRV__HTTP_BADMETHOD)
        return classify_method(m, buf, len);
    http_parser *p = netsrv__msg_parser(m);
    p->data = m; /* m may have been copied since the last call */
    size_t limit = len < m->limits.max_head ? len : m->limits.max_head;
    if (m->priv.parsed < limit) {
        size_t n = http_parser_execute(p, &head_settings, buf + m->priv.parsed,
                                       limit - m->priv.parsed);
        enum http_errno e = HTTP_PARSER_ERRNO(p);
        if (e == HPE_PAUSED && m->priv.state == NETSRV__HTTP_HEADERS) {
            /* Paused in on_headers_complete, on the head's last byte (its
             * final LF): that byte moves the parser into the body, or ends
             * a message that has none. */
            m->priv.parsed += n;
            http_parser_pause(p, 0);
            n = http_parser_execute(p, &head_settings, buf + m->priv.parsed, 1);
            e = HTTP_PARSER_ERRNO(p);
            if (e != HPE_OK && e != HPE_PAUSED)
                return parser_failed(m, e, buf, len);
            m->priv.parsed += n;
            return finish(m);
        }
        if (e != HPE_OK)
            return parser_failed(m, e, buf, len);
        m->priv.parsed += n;
    }
    if (len > m->limits.max_head)
        return in_request_line(m) ? fail(m, -ENAMETOOLONG, "request line longer than max_head")
                                  : fail(m, -EMSGSIZE, "head longer than max_head");
    return NETSRV_HTTP_INCOMPLETE;
}

ssize_t netsrv_http_read_head(netsrv_conn *c, netsrv_http_msg *m, char *buf, size_t cap)
{
    msg_reset(m);
    if (cap == 0)
        return fail(m, -EINVAL, "no buffer");
    size_t have = 0;
    for (;;) {
        const void *data;
        ssize_t n = netsrv_peek(c, &data);
        if (n < 0)
            return fail(m, (int)n, "read failed");
        if (n == 0) /* only blank lines before the end are no message */
            return m->started ? fail(m, -EPIPE, "stream ended inside a head") : 0;
        /* No more than the parser may look at (one byte past max_head
         * tells it the head is too long): what follows the head in the
         * stream is not copied only to be read again from there. */
        size_t room = cap - have, want = m->limits.max_head + 1 - have;
        size_t k = (size_t)n < room ? (size_t)n : room;
        if (k > want)
            k = want;
        memcpy(buf + have, data, k);
        ssize_t r = netsrv_http_parse(m, buf, have + k);
        if (r > 0) {
            /* Only the head's bytes: a body or the next request stays in
             * the stream for whoever reads next. */
            netsrv_consume(c, (size_t)r - have);
            return r;
        }
        netsrv_consume(c, k);
        if (r < 0)
            return r;
        have += k;
        if (have == cap)
            return in_request_line(m) ? fail(m, -ENAMETOOLONG, "request line longer than the buffer")
                                      : fail(m, -EMSGSIZE, "head longer than the buffer");
    }
}

int netsrv_http_error_status(int err)
{
    switch (err) {
    case -EBADMSG:
    case -EPIPE:
        return 400;
    case -ETIMEDOUT:
        return 408;
    case -EFBIG:
        return 413;
    case -ENAMETOOLONG:
        return 414;
    case -EMSGSIZE:
    case -E2BIG:
        return 431;
    case -ENOSYS:
        return 501;
    case -EPROTONOSUPPORT:
        return 505;
    case -ECONNRESET:
    case -ECONNABORTED:
    case -ECANCELED:
    case -ENOTCONN:
    case -ESHUTDOWN:
        return 0; /* the peer is gone, or the server is cutting it off */
    }
    return err < 0 ? 500 : 0;
}

const netsrv_http_header *netsrv_http_header_find(const netsrv_http_msg *m, const char *name,
                                                  const netsrv_http_header *prev)
{
    size_t len = strlen(name);
    size_t i = prev ? (size_t)(prev - m->headers) + 1 : 0;
    for (; i < m->nheaders; i++)
        if (netsrv__http_caseeq(m->headers[i].name, m->headers[i].name_len, name, len))
            return &m->headers[i];
    return NULL;
}

int netsrv__http_list_next(const char **p, const char *end, const char **a, const char **b)
{
    const char *q = *p;
    while (q < end) {
        const char *s = q;
        int quoted = 0;
        for (; q < end; q++) {
            if (quoted) {
                if (*q == '\\' && q + 1 < end)
                    q++;
                else if (*q == '"')
                    quoted = 0;
            } else if (*q == '"') {
                quoted = 1;
            } else if (*q == ',') {
                break;
            }
        }
        const char *e = q;
        if (q < end)
            q++; /* past the comma */
        while (s < e && netsrv__http_ows((unsigned char)*s))
            s++;
        while (e > s && netsrv__http_ows((unsigned char)e[-1]))
            e--;
        if (e > s) {
            *p = q;
            *a = s;
            *b = e;
            return 1;
        }
    }
    *p = end;
    return 0;
}

int netsrv_http_token_find(const char *list, size_t len, const char *token,
                           const char **params, size_t *params_len)
{
    const char *p = list, *end = list + len, *a, *b;
    size_t tlen = strlen(token);
    while (netsrv__http_list_next(&p, end, &a, &b)) {
        const char *semi = a;
        while (semi < b && *semi != ';')
            semi++;
        const char *t = semi;
        while (t > a && netsrv__http_ows((unsigned char)t[-1]))
            t--;
        if (!netsrv__http_caseeq(a, (size_t)(t - a), token, tlen))
            continue;
        const char *q = NULL;
        size_t qlen = 0;
        if (semi < b) {
            q = semi + 1;
            while (q < b && netsrv__http_ows((unsigned char)*q))
                q++;
            qlen = (size_t)(b - q);
        }
        if (params)
            *params = q;
        if (params_len)
            *params_len = qlen;
        return 1;
    }
    if (params)
        *params = NULL;
    if (params_len)
        *params_len = 0;
    return 0;
}
