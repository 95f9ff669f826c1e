/* files_client.c - the client side of the files protocol on a netsrv_conn:
 * one request and its reply line (netsrv_files_get), then the body into a
 * file descriptor, hashed on the way (netsrv_files_recv).  Written with the
 * stream calls only, so it runs the same as a task on a loop or in a plain
 * thread.  What to do with the bytes (temporary names, resuming) is the
 * caller's business.
 */
#include "config.h"
#include "netsrv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reply lines are short ("OK SIZE HEX" is at most 88 bytes); a longer one
 * is not the protocol. */
#define REPLY_LINE_MAX 512

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int netsrv_files_get(netsrv_conn *c, const char *name, off_t offset,
                     netsrv_files_reply *reply, char *err, size_t errlen)
{
    /* On the heap: a client may run as a task on a small coroutine stack. */
    char *line = malloc(NETSRV_FILES_LINE_MAX + 1);
    ssize_t n;
    int how, rc;

    memset(reply, 0, sizeof *reply);
    if (err && errlen)
        err[0] = '\0';
    if (!line)
        return -ENOMEM;
    n = netsrv_files_format_request(line, NETSRV_FILES_LINE_MAX + 1, name, offset);
    if (n < 0) {
        seterr(err, errlen, n == -EINVAL ? "empty name or negative offset"
                                         : "name too long for a request line");
        rc = (int)n;
        goto out;
    }
    if ((n = netsrv_write(c, line, (size_t)n)) < 0 || (n = netsrv_flush(c)) < 0) {
        seterr(err, errlen, "sending the request: %s", netsrv_strerror((int)n));
        rc = (int)n;
        goto out;
    }
    n = netsrv_getline(c, line, REPLY_LINE_MAX, &how);
    if (n < 0) {
        seterr(err, errlen, "waiting for the reply: %s", netsrv_strerror((int)n));
        rc = (int)n;
        goto out;
    }
    if (n == 0 || how == NETSRV_LINE_EOF) {
        seterr(err, errlen, "the server closed the connection without a reply");
        rc = -EPIPE;
        goto out;
    }
    if (how == NETSRV_LINE_LONG || netsrv_files_parse_reply(line, (size_t)n, reply) < 0) {
        seterr(err, errlen, "the reply is not the files protocol's");
        rc = -EPROTO;
        goto out;
    }
    if (reply->code) {
        seterr(err, errlen, "server: %d %s", reply->code, reply->text);
        rc = -EREMOTEIO;
        goto out;
    }
    if (reply->size < offset) {
        seterr(err, errlen, "the server announced %lld bytes, fewer than the offset %lld",
               (long long)reply->size, (long long)offset);
        rc = -EPROTO;
        goto out;
    }
    rc = 0;
out:
    free(line);
    return rc;
}

int netsrv_files_recv(netsrv_conn *c, netsrv_files_body *b, off_t count, char *err,
                      size_t errlen)
{
    b->done = 0;
    b->write_failed = 0;
    if (err && errlen)
        err[0] = '\0';
    while (b->done < count) {
        const void *data;
        ssize_t n = netsrv_peek(c, &data);

        if (n < 0) {
            seterr(err, errlen, "connection lost after %lld of %lld bytes: %s",
                   (long long)b->done, (long long)count, netsrv_strerror((int)n));
            return (int)n;
        }
        if (n == 0) {
            seterr(err, errlen, "connection closed after %lld of %lld bytes",
                   (long long)b->done, (long long)count);
            return -EPIPE;
        }
        size_t k = (off_t)n < count - b->done ? (size_t)n : (size_t)(count - b->done);
        const char *p = data;

        /* Fed to the hash before the write: the bytes are the same, and a
         * failed write ends it all anyway. */
        if (b->hash && netsrv_sha256_update(b->hash, p, k) < 0) {
            seterr(err, errlen, "hashing: %s", netsrv_strerror(-EIO));
            return -EIO;
        }
        for (size_t off = 0; off < k;) {
            ssize_t w = write(b->fd, p + off, k - off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                int e = w < 0 ? errno : EIO;

                b->write_failed = 1;
                netsrv_consume(c, off);
                seterr(err, errlen, "write: %s", netsrv_strerror(-e));
                return -e;
            }
            off += (size_t)w;
            b->done += w;
        }
        netsrv_consume(c, k);
        if (b->progress)
            b->progress(b->arg, b->done);
    }
    return 0;
}
