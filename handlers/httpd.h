/* httpd.h - what the files of the http handler share: one request's
 * working memory and the helpers that answer it.  The handler uses the
 * public API only; this header is not installed. */
#ifndef NETSRV_HTTPD_H
#define NETSRV_HTTPD_H

#include <netsrv.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

/* The largest request head taken (past it: 431, or 414 in the request
 * line), the longest target, and the header fields kept. */
#define HTTPD_HEAD_MAX 16384
#define HTTPD_LINE_MAX 8192
#define HTTPD_FIELDS 64
/* Response header fields, and the bytes their formatted values share. */
#define HTTPD_OUT_FIELDS 16
#define HTTPD_OUT_BYTES 1024

/* The request headers the handler looks at, found in one pass over the
 * head rather than one search each. */
enum {
    HTTPD_H_ACCEPT,
    HTTPD_H_IF_MATCH,
    HTTPD_H_IF_NONE_MATCH,
    HTTPD_H_IF_MODIFIED_SINCE,
    HTTPD_H_IF_UNMODIFIED_SINCE,
    HTTPD_H_IF_RANGE,
    HTTPD_H_RANGE,
    HTTPD_H_COUNT
};

/* One request being answered.  It is allocated for each call of the
 * handler and freed before the call returns, so that a kept connection
 * waiting for its next request holds none of it. */
typedef struct httpd_req {
    netsrv_request *req;
    const netsrv_httpd *cfg;
    netsrv_http_msg m;
    time_t now;
    int keep;                   /* the connection goes on after this answer */
    int head_only;              /* HEAD: no body */
    int status;                 /* answered, for the log */
    long long bytes;            /* body bytes sent, for the log */
    const char *error;          /* why it failed, for the log */
    char path[PATH_MAX];        /* decoded and normalised, starting with '/' */
    size_t path_len;
    char scratch[PATH_MAX];     /* another path (index.html, a listed link) */
    const char *query;          /* in the target, without '?'; NULL if none */
    size_t query_len;
    netsrv_http_header out[HTTPD_OUT_FIELDS];
    size_t nout;
    char vals[HTTPD_OUT_BYTES];
    size_t vlen;
    netsrv_http_header fields[HTTPD_FIELDS];
    const netsrv_http_header *known[HTTPD_H_COUNT]; /* the first of each, or NULL */
    char head[HTTPD_HEAD_MAX + 1];
} httpd_req;

/* A growing byte buffer (listings). */
typedef struct httpd_buf {
    char *p;
    size_t len, cap;
    int failed; /* an allocation failed: the content is incomplete */
} httpd_buf;

void netsrv__httpd_buf_add(httpd_buf *b, const void *p, size_t len);
void netsrv__httpd_buf_str(httpd_buf *b, const char *s);
void netsrv__httpd_buf_printf(httpd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s percent-encoded for a URL path segment ('/' kept when keep_slash). */
void netsrv__httpd_buf_urlenc(httpd_buf *b, const char *s, size_t len, int keep_slash);
/* s with & < > " ' escaped for HTML text and attribute values. */
void netsrv__httpd_buf_html(httpd_buf *b, const char *s, size_t len);

/* Adds a response header (the value is copied); returns 0 or -ENOSPC. */
int netsrv__httpd_add(httpd_req *r, const char *name, const char *value, size_t len);
int netsrv__httpd_addf(httpd_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the status line, the headers added so far, then Date, Server,
 * Content-Length (when clen >= 0) and Connection as r->keep says. */
int netsrv__httpd_send_head(httpd_req *r, int status, long long clen);
/* A complete answer with a short HTML body naming the status (no body for
 * HEAD); headers added before it go with it.  why is logged. */
int netsrv__httpd_error(httpd_req *r, int status, const char *why);
/* The status for a failed open or stat (404, 403, 414, 500...). */
int netsrv__httpd_errno_status(int err);

/* Fills r->known from the parsed head. */
void netsrv__httpd_scan(httpd_req *r);
/* The value of request header HTTPD_H_*, or NULL (with *len 0). */
static inline const char *netsrv__httpd_header(const httpd_req *r, int which, size_t *len)
{
    const netsrv_http_header *h = r->known[which];
    *len = h ? h->value_len : 0;
    return h ? h->value : NULL;
}

/* The strong ETag of a file ("\"ino-size-mtime\"") into buf (64 bytes). */
void netsrv__httpd_etag(const struct stat *st, char *buf, size_t len);
/* Whether an If-Match / If-None-Match list matches etag: "*" always does;
 * weak compares ignoring W/, strong needs both tags strong. */
int netsrv__httpd_etag_match(const char *list, size_t len, const char *etag, int weak);

/* GET or HEAD of r->path (a file, index.html, or a listing). */
int netsrv__httpd_get(httpd_req *r);
/* A directory listing of dirfd (which it closes) for r->path. */
int netsrv__httpd_list(httpd_req *r, int dirfd);
/* PUT of r->path (uploads on). */
int netsrv__httpd_put(httpd_req *r);

#endif /* NETSRV_HTTPD_H */
