/* http.c - the http handler: one request per call of handle, which
 * returns NETSRV_AGAIN while the connection is kept, so that in async mode
 * a connection waiting for its next request holds no stack.  Here: the
 * head, the checks every request gets, the method, the log; the answers
 * themselves are in http_file.c, http_dir.c and http_put.c. */
#include "config.h"
#include "httpd.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A body the client sent with a request that takes none is read and
 * dropped up to this size, so the connection can go on; past it the
 * connection ends after the answer instead. */
#define SKIP_BODY_MAX (64 * 1024)

int netsrv_httpd_init(netsrv_httpd *h, const char *dir, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    h->priv.root_fd = -1;
    h->max_upload = 100ll << 20;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (err)
            snprintf(err, errlen, "%s: %s", dir, netsrv_strerror(-e));
        return -e;
    }
    h->priv.root_fd = fd;
    return 0;
}

void netsrv_httpd_fini(netsrv_httpd *h)
{
    if (h->priv.root_fd >= 0)
        close(h->priv.root_fd);
    h->priv.root_fd = -1;
}

static void log_request(httpd_req *r, int parsed)
{
    if (!r->cfg->log)
        return;
    netsrv_httpd_entry e = {
        .peer = netsrv_request_peer(r->req),
        .time = r->now,
        .method = parsed ? r->m.method_name : NULL,
        .target = parsed ? r->m.target : "",
        .target_len = parsed ? r->m.target_len : 0,
        .major = parsed ? r->m.major : 1,
        .minor = parsed ? r->m.minor : 0,
        .status = r->status,
        .bytes = r->bytes,
        .error = r->error,
    };
    r->cfg->log(&e, r->cfg->log_arg);
}

/* A path segment starting with a dot (after "." and ".." are resolved):
 * .git, .htpasswd, .env and the uploads still being written are not
 * served, whether they exist or not. */
static int hidden(const char *path, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (path[i] == '/' && path[i + 1] == '.')
            return 1;
    return 0;
}

static int allowed(httpd_req *r, int status)
{
    netsrv__httpd_add(r, "Allow", r->cfg->upload ? "GET, HEAD, PUT, OPTIONS" : "GET, HEAD, OPTIONS",
                      r->cfg->upload ? 23 : 18);
    if (status == 204) {
        r->status = 204;
        return netsrv__httpd_send_head(r, 204, -1);
    }
    return netsrv__httpd_error(r, status, "method not allowed");
}

/* The request's path, decoded and normalised; an answer when it is none
 * a file could have. */
static int target(httpd_req *r)
{
    const netsrv_http_msg *m = &r->m;
    ssize_t n = netsrv_http_target_path(m->target, m->target_len, r->path, sizeof r->path, &r->query,
                                        &r->query_len);
    if (n == -EACCES)
        return netsrv__httpd_error(r, 403, "path above the root");
    if (n == -ENAMETOOLONG)
        return netsrv__httpd_error(r, 414, "path too long");
    if (n < 0)
        return netsrv__httpd_error(r, 400, "bad request target");
    r->path_len = (size_t)n;
    if (hidden(r->path, r->path_len))
        return netsrv__httpd_error(r, 403, "hidden path");
    return 1;
}

static int answer(httpd_req *r)
{
    netsrv_http_msg *m = &r->m;
    int has_body = m->content_length > 0 || m->chunked;
    if (m->upgrade)
        r->keep = 0; /* what follows may not be HTTP */
    if (m->method == NETSRV_HTTP_OPTIONS && m->target_len == 1 && m->target[0] == '*')
        return allowed(r, 204);
    if (has_body && !(m->method == NETSRV_HTTP_PUT && r->cfg->upload)) {
        netsrv_http_body b;
        m->limits.max_body = SKIP_BODY_MAX;
        if (netsrv_http_body_init(&b, m) < 0 || netsrv_http_skip_body(r->req, &b) < 0)
            r->keep = 0;
    } else if (has_body) {
        r->keep = 0; /* until the upload has read the whole body */
    }
    int rc = target(r);
    if (rc <= 0)
        return rc;
    switch (m->method) {
    case NETSRV_HTTP_GET:
        return netsrv__httpd_get(r);
    case NETSRV_HTTP_HEAD:
        r->head_only = 1;
        return netsrv__httpd_get(r);
    case NETSRV_HTTP_PUT:
        if (r->cfg->upload)
            return netsrv__httpd_put(r);
        break;
    case NETSRV_HTTP_OPTIONS:
        return allowed(r, 204);
    }
    return allowed(r, 405);
}

static int serve(httpd_req *r)
{
    netsrv_http_limits lim;
    netsrv_http_limits_init(&lim);
    lim.max_line = HTTPD_LINE_MAX;
    lim.max_head = HTTPD_HEAD_MAX;
    lim.max_headers = HTTPD_FIELDS;
    netsrv_http_msg_init(&r->m, NETSRV_HTTP_REQUEST, 0, &lim, r->fields, HTTPD_FIELDS);
    ssize_t n = netsrv_http_read_head(r->req, &r->m, r->head, sizeof r->head);
    r->now = time(NULL);
    if (n == 0)
        return 0; /* the client closed a kept connection */
    if (n < 0) {
        if (n == -ETIMEDOUT && !r->m.started)
            return 0; /* an idle kept connection timed out: close quietly */
        int status = netsrv_http_error_status((int)n);
        if (!status)
            return 0; /* no one is left to answer */
        /* The rest of what was sent cannot be told from the next request. */
        r->keep = 0;
        int rc = netsrv__httpd_error(r, status, r->m.error);
        log_request(r, 0);
        return rc;
    }
    r->keep = r->m.keep_alive;
    netsrv__httpd_scan(r);
    int rc = answer(r);
    log_request(r, 1);
    if (rc < 0)
        return rc == -EPIPE || rc == -ECONNRESET ? 0 : rc;
    return r->keep ? NETSRV_AGAIN : 0;
}

/* One request's memory is kept per thread for the next request: it is
 * large (the head buffer, two paths), and allocating and freeing it for
 * every request showed up in profiles.  A request that starts while the
 * spare is taken (another coroutine of the loop is mid-request) allocates
 * its own.  The key's destructor frees a thread's spare when it ends
 * (thread mode). */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static __thread httpd_req *spare;

static void spare_free(void *p)
{
    free(p);
    spare = NULL;
}

static void spare_init(void)
{
    pthread_key_create(&spare_key, spare_free);
}

static httpd_req *req_get(void)
{
    httpd_req *r = spare;
    if (r) {
        spare = NULL;
        return r;
    }
    return malloc(sizeof *r);
}

static void req_put(httpd_req *r)
{
    if (spare) {
        free(r);
        return;
    }
    pthread_once(&spare_once, spare_init);
    spare = r;
    pthread_setspecific(spare_key, r);
}

static int http_handle(netsrv_request *req)
{
    /* Not kept in the request's state: a kept connection waiting for its
     * next request then costs none of it. */
    if (!netsrv_request_ctx(req) || netsrv_request_is_dgram(req))
        return -EINVAL; /* no netsrv_httpd to serve, or no stream */
    httpd_req *r = req_get();
    if (!r)
        return -ENOMEM;
    r->req = req;
    r->cfg = netsrv_request_ctx(req);
    r->keep = 0;
    r->head_only = 0;
    r->status = 0;
    r->bytes = 0;
    r->error = NULL;
    r->query = NULL;
    r->query_len = 0;
    r->nout = 0;
    r->vlen = 0;
    int rc = serve(r);
    req_put(r);
    return rc;
}

const netsrv_handler netsrv__handler_http = {
    .name = "http",
    .handle = http_handle,
    .flags = NETSRV_CLIENT_FIRST,
};
