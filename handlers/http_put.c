/* http_put.c - uploads (PUT, when the server allows them).  The body goes
 * to a hidden temporary file in the target's directory, is synced, then
 * renamed over the target, so a reader sees the old file or the whole new
 * one, and a client that goes away mid-body leaves nothing behind. */
#include "config.h"
#include "httpd.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Body bytes read and written at a time. */
#define PUT_CHUNK (64 * 1024)

/* A hidden name no one else uses, in dfd; returns the open fd or -errno. */
static int temp_create(int dfd, char *name, size_t len)
{
    for (int tries = 0; tries < 16; tries++) {
        unsigned long long rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
            rnd ^= (unsigned long long)getpid() << 32 ^ (unsigned long long)(size_t)name ^
                    (unsigned long long)tries * 0x9e3779b97f4a7c15ull;
        snprintf(name, len, ".upload-%016llx.part", rnd);
        /* O_EXCL never follows a symlink planted under the name. */
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd >= 0 ? fd : -errno;
    }
    return -EEXIST;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int disk_status(int err)
{
    return err == -ENOSPC || err == -EDQUOT ? 507 : err == -EFBIG ? 413 : 500;
}

/* The preconditions of a PUT: If-None-Match: * creates only, If-Match
 * replaces only the version the client saw. */
static int put_preconditions(const httpd_req *r, int exists, const struct stat *st)
{
    size_t len;
    const char *v;
    char etag[64] = "";
    if (exists && S_ISREG(st->st_mode))
        netsrv__httpd_etag(st, etag, sizeof etag);
    if ((v = netsrv__httpd_header(r, HTTPD_H_IF_MATCH, &len)) != NULL &&
        (!exists || !netsrv__httpd_etag_match(v, len, etag, 0)))
        return 412;
    if ((v = netsrv__httpd_header(r, HTTPD_H_IF_NONE_MATCH, &len)) != NULL && exists &&
        netsrv__httpd_etag_match(v, len, etag, 1))
        return 412;
    return 0;
}

/* Reads the body into fd.  Returns 0, or the status to answer (the body
 * is then not all read: the connection ends). */
static int receive(httpd_req *r, netsrv_http_body *b, int fd, char *buf)
{
    for (;;) {
        ssize_t n = netsrv_http_read_body(r->req, b, buf, PUT_CHUNK);
        if (n == 0)
            return 0;
        if (n < 0) {
            int st = netsrv_http_error_status((int)n);
            r->error = n == -EFBIG ? "upload larger than --max-upload" : b->error ? b->error : "body cut short";
            return st ? st : -1; /* -1: no one is left to answer */
        }
        int w = write_all(fd, buf, (size_t)n);
        if (w < 0) {
            r->error = "cannot write the upload";
            return disk_status(w);
        }
    }
}

int netsrv__httpd_put(httpd_req *r)
{
    const netsrv_httpd *cfg = r->cfg;
    if (r->path[r->path_len - 1] == '/')
        return netsrv__httpd_error(r, 409, "cannot PUT a directory");
    /* The parent directory, opened inside the root; the name is one
     * segment of the normalised path, never "." or "..". */
    char *slash = strrchr(r->path, '/');
    const char *name = slash + 1;
    *slash = '\0';
    const char *parent = slash == r->path ? "." : r->path + 1;
    int dfd = netsrv_open_beneath(cfg->priv.root_fd, parent, O_RDONLY | O_DIRECTORY);
    *slash = '/';
    if (dfd < 0) {
        int st = dfd == -ENOENT || dfd == -ENOTDIR ? 409 : netsrv__httpd_errno_status(dfd);
        return netsrv__httpd_error(r, st, "no such directory for the upload");
    }
    struct stat st;
    int exists = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0, rc, status = 0, fd = -1;
    char tmp[64] = "", *buf = NULL;
    netsrv_http_body b;
    if (exists && S_ISDIR(st.st_mode)) {
        rc = netsrv__httpd_error(r, 409, "a directory has that name");
        goto out;
    }
    /* A GET of a symlink follows it, so a PUT replacing the link itself
     * would not do what it says; and one leading out of the root must not
     * be written through.  Neither happens: links are not uploaded to. */
    if (exists && !S_ISREG(st.st_mode)) {
        rc = netsrv__httpd_error(r, 403, "not a regular file");
        goto out;
    }
    if ((status = put_preconditions(r, exists, &st)) != 0) {
        rc = netsrv__httpd_error(r, status, "precondition failed");
        goto out;
    }
    if (r->m.content_length < 0 && !r->m.chunked) {
        rc = netsrv__httpd_error(r, 411, "no Content-Length");
        goto out;
    }
    r->m.limits.max_body = cfg->max_upload;
    if (netsrv_http_body_init(&b, &r->m) < 0) {
        /* Refused before a byte of it is read: without a 100 Continue, a
         * client that asked for one never sends it. */
        rc = netsrv__httpd_error(r, 413, "upload larger than --max-upload");
        goto out;
    }
    buf = malloc(PUT_CHUNK);
    if (!buf || (fd = temp_create(dfd, tmp, sizeof tmp)) < 0) {
        rc = netsrv__httpd_error(r, buf ? (fd == -ENOSPC || fd == -EDQUOT ? 507 : netsrv__httpd_errno_status(fd))
                                        : 503,
                                 "cannot create the upload");
        tmp[0] = '\0';
        goto out;
    }
    /* Replacing a file keeps its permissions: an upload must not make a
     * private file readable by everyone. */
    if (exists && S_ISREG(st.st_mode))
        fchmod(fd, st.st_mode & 07777);
    if (r->m.expect_continue && netsrv_http_write_head(r->req, 100, NULL, NULL, 0) < 0) {
        rc = -EPIPE;
        goto out;
    }
    status = receive(r, &b, fd, buf);
    if (status == 0)
        r->keep = r->m.keep_alive; /* the whole body is read: the connection may go on */
    if (status == 0 && fsync(fd) < 0) {
        r->error = "cannot sync the upload";
        status = disk_status(-errno);
    }
    int cerr = close(fd) < 0 ? -errno : 0;
    fd = -1;
    if (status == 0 && cerr < 0) {
        r->error = "cannot write the upload";
        status = disk_status(cerr);
    }
    if (status == 0 && renameat(dfd, tmp, dfd, name) < 0) {
        r->error = "cannot rename the upload into place";
        status = errno == EISDIR ? 409 : disk_status(-errno);
    }
    if (status != 0) {
        if (status < 0)
            r->status = 400; /* logged, not sent: the client is gone */
        rc = status < 0 ? 0 : netsrv__httpd_error(r, status, r->error);
        goto out;
    }
    tmp[0] = '\0';
    fsync(dfd); /* the rename itself survives a crash */
    if (exists) {
        r->status = 204;
        rc = netsrv__httpd_send_head(r, 204, -1);
    } else {
        httpd_buf loc = { 0 };
        netsrv__httpd_buf_urlenc(&loc, r->path, r->path_len, 1);
        if (!loc.failed)
            netsrv__httpd_add(r, "Location", loc.p, loc.len);
        free(loc.p);
        rc = netsrv__httpd_send_head(r, 201, 0);
    }
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlinkat(dfd, tmp, 0);
    free(buf);
    close(dfd);
    return rc;
}
