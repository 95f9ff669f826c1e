/* files.c - the files handler: serves the regular files below one directory
 * over a line protocol, with their SHA-256 sums, so that a client can check
 * and resume a download.  Built on the public API only; its ctx is a
 * netsrv_files_dir (netsrv_files_dir_open).
 *
 * The protocol (also in nettool(1), PROTOCOL).  The client sends a line
 *
 *     GET NAME [OFFSET]\n          (or \r\n; at most 8192 bytes)
 *
 * NAME is a path relative to the directory, UTF-8, percent-encoded: a space,
 * a control byte, DEL and '%' itself travel as %XX (any other byte may too),
 * so a name may hold anything but NUL.  OFFSET (decimal, default 0) is
 * where the body starts.  The server answers either
 *
 *     OK SIZE SHA256\n             SIZE: the whole file's size, SHA256: 64
 *                                  lowercase hex digits of its whole contents
 *     then exactly SIZE - OFFSET bytes: the file from OFFSET on
 * or
 *     ERR CODE TEXT\n              400 bad request, 403 refused, 404 not
 *                                  found, 409 not a regular file, 414 too
 *                                  long, 416 offset beyond size, 500 server
 *                                  error, 503 busy: try again
 *
 * and reads the next request; the client may send the next one before the
 * last body is over (pipelining).  A request line longer than 8192 bytes is
 * answered "ERR 414" and the connection closed, since where the next line
 * starts is then unknown.  A file that shrinks while it is sent ends the
 * connection short of SIZE: the client sees it.
 *
 * Names are confined to the directory: an absolute name and any ".." part
 * are refused before the file system is asked, and netsrv_open_beneath()
 * refuses a symbolic link whose target is absolute or leads out of the
 * directory; links that stay inside it are followed.  Names are at most
 * 4095 bytes decoded, each part at most 255.
 *
 * Each handle call answers one request and returns NETSRV_AGAIN, so that in
 * async mode a connection between requests holds no coroutine stack.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "files_cache.h"

/* Hashing reads this much at a time; in async mode the loop runs other
 * requests between two reads. */
#define FILES_HASH_CHUNK (256 * 1024)
/* A file that changes while it is hashed is hashed again, this many times
 * in all, before the client is told to come back later (503). */
#define FILES_HASH_TRIES 3

struct netsrv_files_dir {
    int dirfd;                 /* O_PATH of the directory: names resolve from it */
    netsrv__fcache *cache;
};

int netsrv_files_dir_open(netsrv_files_dir **out, const char *path, unsigned cache_entries,
                          char *err, size_t errlen)
{
    netsrv_files_dir *d;
    int rc;

    *out = NULL;
    if (!path || !*path) {
        if (err && errlen)
            snprintf(err, errlen, "no directory given");
        return -EINVAL;
    }
    d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (d->dirfd < 0) {
        rc = -errno;
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path,
                     rc == -ENOTDIR ? "not a directory" : netsrv_strerror(rc));
        free(d);
        return rc;
    }
    if ((rc = netsrv__fcache_new(&d->cache, cache_entries)) < 0) {
        if (err && errlen)
            snprintf(err, errlen, "hash cache: %s", netsrv_strerror(rc));
        close(d->dirfd);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void netsrv_files_dir_close(netsrv_files_dir *d)
{
    if (!d)
        return;
    netsrv__fcache_free(d->cache);
    close(d->dirfd);
    free(d);
}

void netsrv_files_dir_stats(const netsrv_files_dir *d, netsrv_files_stats *out)
{
    out->requests = netsrv__fcache_counter(d->cache, NETSRV__FC_REQUESTS);
    out->ok = netsrv__fcache_counter(d->cache, NETSRV__FC_OK);
    out->hashed = netsrv__fcache_counter(d->cache, NETSRV__FC_HASHED);
    out->cache_hits = netsrv__fcache_counter(d->cache, NETSRV__FC_HITS);
    out->bytes_hashed = netsrv__fcache_counter(d->cache, NETSRV__FC_BYTES_HASHED);
    out->bytes_sent = netsrv__fcache_counter(d->cache, NETSRV__FC_BYTES_SENT);
}

/* Answers ERR; returns NETSRV_AGAIN (the connection goes on) or the
 * connection's error. */
static int files_refuse(netsrv_request *req, netsrv_files_dir *d, int code, const char *text)
{
    netsrv__fcache_count(d->cache, NETSRV__FC_REQUESTS, 1);
    int rc = netsrv_printf(req, "ERR %d %s\n", code, text);

    return rc < 0 ? rc : NETSRV_AGAIN;
}

/* The ERR for a failed netsrv_open_beneath. */
static int files_open_error(int err, const char **text)
{
    switch (err) {
    case -EXDEV:
        *text = "refused: the name leads outside the directory";
        return NETSRV_FILES_REFUSED;
    case -ELOOP:
        *text = "refused: too many symbolic links";
        return NETSRV_FILES_REFUSED;
    case -EACCES:
    case -EPERM:
        *text = "refused: permission denied";
        return NETSRV_FILES_REFUSED;
    case -ENOENT:
    case -ENOTDIR:
        *text = "no such file";
        return NETSRV_FILES_NOT_FOUND;
    case -ENAMETOOLONG:
        *text = "name too long";
        return NETSRV_FILES_TOO_LONG;
    case -ENXIO:  /* a Unix socket, a device without its driver */
    case -ENODEV:
        *text = "not a regular file";
        return NETSRV_FILES_NOT_FILE;
    case -EMFILE:
    case -ENFILE:
    case -ENOMEM:
        *text = "busy: out of descriptors or memory, try again";
        return NETSRV_FILES_BUSY;
    default:
        *text = "cannot open the file";
        return NETSRV_FILES_SERVER_ERROR;
    }
}

/* Hashes the whole file fd, whose stat is *st.  0 and the sum; -EAGAIN when
 * the file changed under the hash (*st is then its new stat); -ECANCELED or
 * -ETIMEDOUT when the drain or the request's time limit ended it; another
 * negative errno when reading failed. */
static int files_hash(netsrv_request *req, netsrv_files_dir *d, int fd, struct stat *st,
                      char *buf, unsigned char sum[NETSRV_SHA256_LEN])
{
    /* Hashing holds an async loop up while it runs: between two chunks it
     * lets the loop's other requests go on.  Each read still blocks the
     * loop for as long as the disk takes.  Other modes have a thread or
     * a process of their own for the request and just read on. */
    int yield = netsrv_server_config(netsrv_request_server(req))->mode == NETSRV_ASYNC;
    netsrv_sha256 *h;
    netsrv__fkey before, after;
    off_t at = 0;
    int rc;

    if ((rc = netsrv_sha256_new(&h)) < 0)
        return rc;
    netsrv__fkey_of(&before, st);
    while (at < st->st_size) {
        size_t want = st->st_size - at < FILES_HASH_CHUNK ? (size_t)(st->st_size - at)
                                                          : FILES_HASH_CHUNK;
        ssize_t n = pread(fd, buf, want, at);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break; /* it shrank: the stat below says so */
        if ((rc = netsrv_sha256_update(h, buf, (size_t)n)) < 0)
            goto out;
        at += n;
        netsrv__fcache_count(d->cache, NETSRV__FC_BYTES_HASHED, (unsigned long long)n);
        /* A wait of a microsecond: the loop turns once, then comes back. */
        if (yield && at < st->st_size && (rc = netsrv_sleep(req, 1e-6)) < 0)
            goto out;
    }
    netsrv__fcache_count(d->cache, NETSRV__FC_HASHED, 1);
    if (fstat(fd, st) < 0) {
        rc = -errno;
        goto out;
    }
    netsrv__fkey_of(&after, st);
    if (at != st->st_size || !netsrv__fkey_eq(&before, &after)) {
        rc = -EAGAIN;
        goto out;
    }
    rc = netsrv_sha256_final(h, sum);
out:
    netsrv_sha256_free(h);
    return rc;
}

/* The sum of fd's file: from the cache, or hashed and then cached. */
static int files_sum(netsrv_request *req, netsrv_files_dir *d, int fd, struct stat *st,
                     unsigned char sum[NETSRV_SHA256_LEN])
{
    netsrv__fkey key;
    char *buf;
    int rc = -EAGAIN;

    netsrv__fkey_of(&key, st);
    if (netsrv__fcache_get(d->cache, &key, sum)) {
        netsrv__fcache_count(d->cache, NETSRV__FC_HITS, 1);
        return 0;
    }
    /* On the heap: an async request's coroutine stack is small. */
    if (!(buf = malloc(FILES_HASH_CHUNK)))
        return -ENOMEM;
    for (int i = 0; i < FILES_HASH_TRIES && rc == -EAGAIN; i++)
        rc = files_hash(req, d, fd, st, buf, sum);
    free(buf);
    if (rc == 0) {
        netsrv__fkey_of(&key, st);
        netsrv__fcache_put(d->cache, &key, sum);
    }
    return rc;
}

static int files_send(netsrv_request *req, netsrv_files_dir *d, const char *name, off_t offset)
{
    unsigned char sum[NETSRV_SHA256_LEN];
    char hex[NETSRV_SHA256_HEXLEN + 1], text[96];
    const char *why;
    struct stat st;
    ssize_t sent;
    int fd, rc;

    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = netsrv_open_beneath(d->dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int code = files_open_error(fd, &why);

        return files_refuse(req, d, code, why);
    }
    if (fstat(fd, &st) < 0) {
        close(fd);
        return files_refuse(req, d, NETSRV_FILES_SERVER_ERROR, "cannot stat the file");
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return files_refuse(req, d, NETSRV_FILES_NOT_FILE, "not a regular file");
    }
    rc = files_sum(req, d, fd, &st, sum);
    if (rc == -ECANCELED || rc == -ETIMEDOUT) {
        close(fd);
        return rc; /* the server is draining, or the time is up: end it */
    }
    if (rc < 0) {
        close(fd);
        if (rc == -EAGAIN)
            return files_refuse(req, d, NETSRV_FILES_BUSY,
                                "busy: the file keeps changing, try again");
        if (rc == -ENOMEM)
            return files_refuse(req, d, NETSRV_FILES_BUSY, "busy: out of memory, try again");
        return files_refuse(req, d, NETSRV_FILES_SERVER_ERROR, "cannot read the file");
    }
    if (offset > st.st_size) {
        close(fd);
        snprintf(text, sizeof text, "offset beyond the end of the file (%lld bytes)",
                 (long long)st.st_size);
        return files_refuse(req, d, NETSRV_FILES_BAD_OFFSET, text);
    }
    netsrv__fcache_count(d->cache, NETSRV__FC_REQUESTS, 1);
    netsrv__fcache_count(d->cache, NETSRV__FC_OK, 1);
    rc = netsrv_printf(req, "OK %lld %s\n", (long long)st.st_size, netsrv_sha256_hex(sum, hex));
    if (rc < 0) {
        close(fd);
        return rc;
    }
    sent = netsrv_sendfile(req, fd, offset, (size_t)(st.st_size - offset));
    close(fd);
    if (sent < 0)
        return (int)sent; /* the client went away, or timed out */
    netsrv__fcache_count(d->cache, NETSRV__FC_BYTES_SENT, (unsigned long long)sent);
    /* The file shrank while it was sent: fewer bytes than announced.  The
     * connection cannot go on (the client would read the next reply as
     * body), so it ends here and the client sees a short body. */
    if (sent < st.st_size - offset)
        return -EIO;
    return NETSRV_AGAIN;
}

static int files_handle(netsrv_request *req)
{
    netsrv_files_dir *d = netsrv_request_ctx(req);
    off_t offset;
    const char *why;
    char *line, *name;
    ssize_t n;
    int how, code, rc;

    if (!d)
        return -EINVAL; /* the handler was taken without its directory */
    if (netsrv_request_is_dgram(req))
        return -ENOTSOCK;
    /* The line and the decoded name, on the heap rather than on a
     * coroutine stack, and only while a request is being read. */
    line = malloc(NETSRV_FILES_LINE_MAX + NETSRV_FILES_NAME_MAX + 1);
    if (!line)
        return -ENOMEM;
    name = line + NETSRV_FILES_LINE_MAX;
    n = netsrv_getline(req, line, NETSRV_FILES_LINE_MAX, &how);
    if (n <= 0) {
        free(line);
        return (int)n; /* end of stream between requests, or an error */
    }
    if (how == NETSRV_LINE_LONG) {
        free(line);
        rc = files_refuse(req, d, NETSRV_FILES_TOO_LONG, "request line too long");
        /* Where the next line starts is lost: the connection ends (the
         * reply still reaches the client, the close lingers). */
        return rc < 0 ? rc : 0;
    }
    if (how == NETSRV_LINE_EOF) {
        free(line);
        return 0; /* a line cut off by the end of stream is no request */
    }
    code = netsrv_files_parse_request(line, (size_t)n, name, NETSRV_FILES_NAME_MAX + 1,
                                      &offset, &why);
    if (code)
        rc = files_refuse(req, d, code, why);
    else
        rc = files_send(req, d, name, offset);
    free(line);
    return rc;
}

const netsrv_handler netsrv__handler_files = {
    .name = "files",
    .handle = files_handle,
    .flags = NETSRV_CLIENT_FIRST,
};
