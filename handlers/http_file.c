/* http_file.c - GET and HEAD: a file with its validators (ETag,
 * Last-Modified), conditional requests (304, 412), one byte range (206,
 * 416), sent with sendfile; a directory's index.html, its listing, or the
 * redirect that adds its trailing slash. */
#include "config.h"
#include "httpd.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Formatted validators of the last file served by this thread: a busy
 * file is served again and again, and its strings only change with it. */
static __thread struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
    char etag[64];
    char lastmod[NETSRV_HTTP_DATELEN];
} vcache;

static void validators(const struct stat *st, const char **etag, const char **lastmod)
{
    if (vcache.ino != st->st_ino || vcache.dev != st->st_dev || vcache.size != st->st_size ||
        vcache.mtim.tv_sec != st->st_mtim.tv_sec || vcache.mtim.tv_nsec != st->st_mtim.tv_nsec ||
        !vcache.etag[0]) {
        netsrv__httpd_etag(st, vcache.etag, sizeof vcache.etag);
        if (netsrv_http_date_format(st->st_mtim.tv_sec, vcache.lastmod, sizeof vcache.lastmod) < 0)
            vcache.lastmod[0] = '\0';
        vcache.dev = st->st_dev;
        vcache.ino = st->st_ino;
        vcache.size = st->st_size;
        vcache.mtim = st->st_mtim;
    }
    *etag = vcache.etag;
    *lastmod = vcache.lastmod[0] ? vcache.lastmod : NULL;
}

/* A date header's value as a time, or -1 when absent or unparsable (an
 * invalid date makes the condition not apply, RFC 9110 13.1.3). */
static time_t header_date(const httpd_req *r, int which)
{
    size_t len;
    const char *v = netsrv__httpd_header(r, which, &len);
    time_t t;
    if (!v || netsrv_http_date_parse(v, len, &t) < 0)
        return (time_t)-1;
    return t;
}

/* RFC 9110 13.2.2's order: If-Match, If-Unmodified-Since, If-None-Match,
 * If-Modified-Since (only without If-None-Match).  Returns 0 to go on,
 * or 304/412. */
static int preconditions(const httpd_req *r, const struct stat *st, const char *etag)
{
    size_t len;
    const char *v;
    time_t t;
    if ((v = netsrv__httpd_header(r, HTTPD_H_IF_MATCH, &len)) != NULL) {
        if (!netsrv__httpd_etag_match(v, len, etag, 0))
            return 412;
    } else if ((t = header_date(r, HTTPD_H_IF_UNMODIFIED_SINCE)) != (time_t)-1) {
        if (st->st_mtim.tv_sec > t)
            return 412;
    }
    if ((v = netsrv__httpd_header(r, HTTPD_H_IF_NONE_MATCH, &len)) != NULL) {
        if (netsrv__httpd_etag_match(v, len, etag, 1))
            return 304;
    } else if ((t = header_date(r, HTTPD_H_IF_MODIFIED_SINCE)) != (time_t)-1) {
        /* Last-Modified has whole seconds: compare those. */
        if (st->st_mtim.tv_sec <= t)
            return 304;
    }
    return 0;
}

/* If-Range (RFC 9110 13.1.5): the range applies only when the validator
 * still names this file: a strong ETag that matches, or the exact
 * Last-Modified date. */
static int range_applies(const httpd_req *r, const struct stat *st, const char *etag)
{
    size_t len;
    const char *v = netsrv__httpd_header(r, HTTPD_H_IF_RANGE, &len);
    if (!v)
        return 1;
    if (len >= 1 && (v[0] == '"' || (len >= 2 && v[0] == 'W' && v[1] == '/')))
        return v[0] == '"' && netsrv__httpd_etag_match(v, len, etag, 0);
    time_t t;
    return netsrv_http_date_parse(v, len, &t) == 0 && t == st->st_mtim.tv_sec;
}

static int serve_file(httpd_req *r, int fd, const struct stat *st, const char *name, size_t name_len)
{
    const char *etag, *lastmod;
    validators(st, &etag, &lastmod);
    netsrv__httpd_add(r, "ETag", etag, strlen(etag));
    if (lastmod)
        netsrv__httpd_add(r, "Last-Modified", lastmod, NETSRV_HTTP_DATELEN - 1);
    int pre = preconditions(r, st, etag);
    if (pre == 304) {
        r->status = 304;
        return netsrv__httpd_send_head(r, 304, -1);
    }
    if (pre)
        return netsrv__httpd_error(r, pre, "precondition failed");

    long long size = (long long)st->st_size, first = 0, last = size - 1;
    int kind = NETSRV_HTTP_RANGE_NONE;
    size_t rlen;
    const char *range = netsrv__httpd_header(r, HTTPD_H_RANGE, &rlen);
    if (range && range_applies(r, st, etag))
        kind = netsrv_http_range(range, rlen, size, &first, &last);
    if (kind == NETSRV_HTTP_RANGE_UNSATISFIABLE) {
        netsrv__httpd_addf(r, "Content-Range", "bytes */%lld", size);
        return netsrv__httpd_error(r, 416, "range not satisfiable");
    }
    int status = 200;
    netsrv__httpd_add(r, "Accept-Ranges", "bytes", 5);
    const char *type = netsrv_httpd_mime_type(name, name_len);
    netsrv__httpd_add(r, "Content-Type", type, strlen(type));
    if (kind == NETSRV_HTTP_RANGE_PARTIAL) {
        status = 206;
        netsrv__httpd_addf(r, "Content-Range", "bytes %lld-%lld/%lld", first, last, size);
    } else {
        first = 0;
        last = size - 1;
    }
    long long count = last - first + 1;
    int rc = netsrv__httpd_send_head(r, status, count);
    if (rc < 0 || r->head_only || count == 0)
        return rc;
    ssize_t n = netsrv_sendfile(r->req, fd, (off_t)first, (size_t)count);
    if (n < 0)
        return (int)n;
    r->bytes += n;
    if (n < count) {
        /* The file shrank while it was sent: the length promised cannot
         * be kept, so the client must see the connection end. */
        r->keep = 0;
        r->error = "file shrank while being sent";
    }
    return 0;
}

/* Location for a directory asked for without its '/': the path, encoded
 * again, with the query kept. */
static int redirect_dir(httpd_req *r)
{
    httpd_buf loc = { 0 };
    netsrv__httpd_buf_urlenc(&loc, r->path, r->path_len, 1);
    netsrv__httpd_buf_add(&loc, "/", 1);
    if (r->query) {
        netsrv__httpd_buf_add(&loc, "?", 1);
        netsrv__httpd_buf_add(&loc, r->query, r->query_len);
    }
    int rc;
    if (loc.failed || netsrv__httpd_add(r, "Location", loc.p, loc.len) < 0)
        rc = netsrv__httpd_error(r, 414, "redirect too long");
    else
        rc = netsrv__httpd_error(r, 301, NULL);
    free(loc.p);
    return rc;
}

int netsrv__httpd_get(httpd_req *r)
{
    const char *rel = r->path_len > 1 ? r->path + 1 : ".";
    int fd = netsrv_open_beneath(r->cfg->priv.root_fd, rel, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return netsrv__httpd_error(r, netsrv__httpd_errno_status(fd), "cannot open");
    struct stat st;
    int rc;
    if (fstat(fd, &st) < 0) {
        rc = netsrv__httpd_error(r, 500, "cannot stat");
    } else if (S_ISREG(st.st_mode)) {
        if (r->path[r->path_len - 1] == '/')
            rc = netsrv__httpd_error(r, 404, "a file asked for as a directory");
        else
            rc = serve_file(r, fd, &st, r->path, r->path_len);
    } else if (S_ISDIR(st.st_mode)) {
        if (r->path[r->path_len - 1] != '/') {
            rc = redirect_dir(r);
        } else {
            /* From the root, as a request for ".../index.html" would go. */
            int n = snprintf(r->scratch, sizeof r->scratch, "%sindex.html", r->path + 1);
            int ifd = n < 0 || (size_t)n >= sizeof r->scratch
                          ? -ENAMETOOLONG
                          : netsrv_open_beneath(r->cfg->priv.root_fd, r->scratch, O_RDONLY | O_NONBLOCK);
            struct stat ist;
            if (ifd >= 0 && fstat(ifd, &ist) == 0 && S_ISREG(ist.st_mode)) {
                rc = serve_file(r, ifd, &ist, "index.html", 10);
            } else if (ifd >= 0 || ifd == -ENOENT) {
                /* No index.html (or one that is no file): the listing. */
                rc = netsrv__httpd_list(r, fd);
                fd = -1;
            } else {
                rc = netsrv__httpd_error(r, netsrv__httpd_errno_status(ifd), "cannot open index.html");
            }
            if (ifd >= 0)
                close(ifd);
        }
    } else {
        rc = netsrv__httpd_error(r, 403, "not a regular file");
    }
    if (fd >= 0)
        close(fd);
    return rc;
}
