/* http_reply.c - the http handler's answers: response heads built from a
 * small per-request arena, error pages, ETags, and byte buffers for
 * listings.  The Date header is formatted once a second per thread, not
 * once a request. */
#include "config.h"
#include "httpd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int netsrv__httpd_add(httpd_req *r, const char *name, const char *value, size_t len)
{
    if (r->nout == HTTPD_OUT_FIELDS || len > sizeof r->vals - r->vlen)
        return -ENOSPC;
    char *v = r->vals + r->vlen;
    memcpy(v, value, len);
    r->vlen += len;
    r->out[r->nout++] = (netsrv_http_header){ name, strlen(name), v, len };
    return 0;
}

int netsrv__httpd_addf(httpd_req *r, const char *name, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof v)
        return -ENOSPC;
    return netsrv__httpd_add(r, name, v, (size_t)n);
}

/* The Date header of this second.  Each thread (each loop, each request
 * thread, each fork child) keeps its own copy, so no lock is needed. */
static __thread time_t date_sec = -1;
static __thread char date_text[NETSRV_HTTP_DATELEN];

static const char *date_now(time_t now)
{
    if (now != date_sec) {
        if (netsrv_http_date_format(now, date_text, sizeof date_text) < 0)
            return NULL;
        date_sec = now;
    }
    return date_text;
}

int netsrv__httpd_send_head(httpd_req *r, int status, long long clen)
{
    const char *date = date_now(r->now);
    if (date)
        netsrv__httpd_add(r, "Date", date, NETSRV_HTTP_DATELEN - 1);
    netsrv__httpd_add(r, "Server", "libnetsrv", 9);
    if (clen >= 0) {
        char digits[24];
        size_t n = sizeof digits;
        unsigned long long v = (unsigned long long)clen;
        do
            digits[--n] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        netsrv__httpd_add(r, "Content-Length", digits + n, sizeof digits - n);
    }
    if (!r->keep)
        netsrv__httpd_add(r, "Connection", "close", 5);
    else if (r->m.minor == 0)
        netsrv__httpd_add(r, "Connection", "keep-alive", 10);
    r->status = status;
    ssize_t n = netsrv_http_write_head(r->req, status, NULL, r->out, r->nout);
    r->nout = 0;
    r->vlen = 0;
    return n < 0 ? (int)n : 0;
}

int netsrv__httpd_error(httpd_req *r, int status, const char *why)
{
    char body[256];
    const char *text = netsrv_http_status_text(status);
    int n = snprintf(body, sizeof body,
                     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title></head>"
                     "<body><h1>%d %s</h1></body></html>\n",
                     status, text, status, text);
    if (n < 0 || (size_t)n >= sizeof body)
        n = 0;
    r->error = why;
    /* 304 and 204 have no body; every other error page has one. */
    int nobody = status == 304 || status == 204 || status / 100 == 1;
    if (!nobody)
        netsrv__httpd_add(r, "Content-Type", "text/html; charset=utf-8", 24);
    int rc = netsrv__httpd_send_head(r, status, nobody ? -1 : n);
    if (rc < 0 || nobody || r->head_only)
        return rc;
    ssize_t w = netsrv_write(r->req, body, (size_t)n);
    if (w < 0)
        return (int)w;
    r->bytes += n;
    return 0;
}

int netsrv__httpd_errno_status(int err)
{
    switch (err) {
    case -ENOENT:
    case -ENOTDIR:
        return 404;
    case -EACCES:
    case -EPERM:
    case -EXDEV:  /* a symlink out of the root */
    case -ELOOP:
        return 403;
    case -ENAMETOOLONG:
        return 414;
    case -EMFILE:
    case -ENFILE:
    case -ENOMEM:
        return 503;
    }
    return 500;
}

/* h's name is lower[0..len) in any case (ASCII only, whatever the locale). */
static int name_is(const netsrv_http_header *h, const char *lower, size_t len)
{
    if (h->name_len != len)
        return 0;
    for (size_t j = 0; j < len; j++) {
        char c = h->name[j];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + ('a' - 'A'));
        if (c != lower[j])
            return 0;
    }
    return 1;
}

void netsrv__httpd_scan(httpd_req *r)
{
    static const struct {
        const char *name;
        size_t len;
    } names[HTTPD_H_COUNT] = {
        [HTTPD_H_ACCEPT] = { "accept", 6 },
        [HTTPD_H_IF_MATCH] = { "if-match", 8 },
        [HTTPD_H_IF_NONE_MATCH] = { "if-none-match", 13 },
        [HTTPD_H_IF_MODIFIED_SINCE] = { "if-modified-since", 17 },
        [HTTPD_H_IF_UNMODIFIED_SINCE] = { "if-unmodified-since", 19 },
        [HTTPD_H_IF_RANGE] = { "if-range", 8 },
        [HTTPD_H_RANGE] = { "range", 5 },
    };
    memset(r->known, 0, sizeof r->known);
    for (size_t i = 0; i < r->m.nheaders; i++) {
        const netsrv_http_header *h = &r->m.headers[i];
        /* Every name looked for starts with 'a', 'i' or 'r'. */
        int c0 = h->name_len ? h->name[0] | 0x20 : 0;
        if (c0 != 'a' && c0 != 'i' && c0 != 'r')
            continue;
        for (int k = 0; k < HTTPD_H_COUNT; k++) {
            if (!r->known[k] && name_is(h, names[k].name, names[k].len)) {
                r->known[k] = h;
                break;
            }
        }
    }
}

void netsrv__httpd_etag(const struct stat *st, char *buf, size_t len)
{
    unsigned long long ns = (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                            (unsigned long long)st->st_mtim.tv_nsec;
    snprintf(buf, len, "\"%llx-%llx-%llx\"", (unsigned long long)st->st_ino,
             (unsigned long long)st->st_size, ns);
}

/* RFC 9110 8.8.3: a list of entity-tags, each W/"..." or "...", where a
 * comma may sit inside the quotes; or "*". */
int netsrv__httpd_etag_match(const char *list, size_t len, const char *etag, int weak)
{
    const char *p = list, *end = list + len;
    size_t elen = strlen(etag);
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p == end)
            break;
        if (*p == '*')
            return 1;
        int is_weak = 0;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            is_weak = 1;
            p += 2;
        }
        if (p == end || *p != '"')
            return 0; /* not a list of tags: nothing matches */
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!q)
            return 0;
        size_t tlen = (size_t)(q + 1 - p);
        if ((weak || !is_weak) && tlen == elen && memcmp(p, etag, elen) == 0)
            return 1;
        p = q + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- buffers */

void netsrv__httpd_buf_add(httpd_buf *b, const void *p, size_t len)
{
    if (b->failed || len == 0)
        return;
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < len)
            cap *= 2;
        char *n = realloc(b->p, cap);
        if (!n) {
            b->failed = 1;
            return;
        }
        b->p = n;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
}

void netsrv__httpd_buf_str(httpd_buf *b, const char *s)
{
    netsrv__httpd_buf_add(b, s, strlen(s));
}

void netsrv__httpd_buf_printf(httpd_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = 1;
        return;
    }
    netsrv__httpd_buf_add(b, tmp, (size_t)n);
}

/* RFC 3986 unreserved characters go as they are; everything else,
 * including ':' (a first segment "a:b" would read as a scheme), '?', '#',
 * '%' and every byte of a UTF-8 name, is escaped. */
void netsrv__httpd_buf_urlenc(httpd_buf *b, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            netsrv__httpd_buf_add(b, &c, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            netsrv__httpd_buf_add(b, e, 3);
        }
    }
}

void netsrv__httpd_buf_html(httpd_buf *b, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        netsrv__httpd_buf_add(b, s + start, i - start);
        netsrv__httpd_buf_str(b, rep);
        start = i + 1;
    }
    netsrv__httpd_buf_add(b, s + start, len - start);
}
