/* tls.c - TLS on a client connection's stream, by OpenSSL's libssl: the
 * handshake, the records, SNI, the certificate chain against the system's
 * CA store and the host name check all come from it; nothing here does
 * what a TLS library does.  This file only moves bytes between the stream
 * and the SSL object and waits as the connection's task when OpenSSL asks
 * to read or write (the socket stays non-blocking, so on a loop the
 * coroutine parks and in a thread it polls).
 *
 * The stream reaches this file through c->io (netsrv__io_ops): recv and
 * send wait themselves, so fill() and send_all() in stream.c only add one
 * test of that pointer to the plain path.  SSL_read is tried before any
 * wait, which is how bytes OpenSSL holds already (a record larger than one
 * read, SSL_pending) are taken without waiting for a socket that shows
 * nothing.  OpenSSL's error queue is per thread: it is cleared before and
 * after every call here, so nothing is left for another connection (or
 * another coroutine on the same thread) to misread. */
#include "config.h"
#include "netsrv_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define WHY_LEN 256

typedef struct netsrv__tls {
    SSL *ssl;
    int verified;      /* the chain (and the name, when given) was checked */
    int dead;          /* a fatal error: no SSL_shutdown may follow */
    int shut;          /* close_notify was sent */
    int drained;       /* the last read left OpenSSL nothing buffered */
    char subject[160]; /* the certificate that failed verification */
    char why[WHY_LEN]; /* the last failure, "" none */
} netsrv__tls;

/* ---- contexts ---- */

/* The default context (system store, no extra CA) is made once for the
 * process and shared: an SSL_CTX is safe to use from many threads once it
 * is set up.  Those with a ca_file are cached (below); each SSL holds a
 * reference to its context. */
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static SSL_CTX *default_ctx;
static char default_why[WHY_LEN];

/* The text of the first error on OpenSSL's queue, or dflt; clears it. */
static const char *ssl_reason(char *buf, size_t len, const char *dflt)
{
    unsigned long e = ERR_peek_error();
    if (e) {
        const char *r = ERR_reason_error_string(e);
        if (r)
            snprintf(buf, len, "%s", r);
        else
            ERR_error_string_n(e, buf, len);
    } else {
        snprintf(buf, len, "%s", dflt);
    }
    ERR_clear_error();
    return buf;
}

/* OpenSSL's own verification decides; this only notes which certificate
 * it refused, for the error text. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
    if (ok)
        return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    netsrv__tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    if (t && cert && !t->subject[0])
        X509_NAME_oneline(X509_get_subject_name(cert), t->subject, sizeof t->subject);
    return ok;
}

static SSL_CTX *ctx_new(char *why, size_t whylen)
{
    char r[160];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(why, whylen, "cannot make a TLS context: %s", ssl_reason(r, sizeof r, "?"));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    /* Whole records (and more) per recv, not a header and a body. */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* The system's store (SSL_CERT_FILE/SSL_CERT_DIR when set). */
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(why, whylen, "cannot load the system's CA store: %s",
                 ssl_reason(r, sizeof r, "?"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Contexts with a ca_file are kept for the next handshake with the same
 * file (unchanged: same inode, size and mtime): loading the system store
 * and the file costs milliseconds of CPU, which on a loop would hold up
 * every other task once per connection. */
#define CA_CACHE 8
static struct ca_entry {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    SSL_CTX *ctx;
    unsigned long used;
} ca_cache[CA_CACHE];
static unsigned long ca_clock;
static pthread_mutex_t ca_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_file(const struct ca_entry *e, const char *path, const struct stat *st)
{
    return e->path && strcmp(e->path, path) == 0 && e->dev == st->st_dev &&
           e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* A context for path with one reference for the caller, or NULL. */
static SSL_CTX *ca_cache_get(const char *path, const struct stat *st)
{
    SSL_CTX *ctx = NULL;
    pthread_mutex_lock(&ca_lock);
    for (int i = 0; i < CA_CACHE; i++)
        if (same_file(&ca_cache[i], path, st)) {
            ctx = ca_cache[i].ctx;
            SSL_CTX_up_ref(ctx);
            ca_cache[i].used = ++ca_clock;
            break;
        }
    pthread_mutex_unlock(&ca_lock);
    return ctx;
}

/* Keeps ctx (a reference of its own) for path, in place of the least
 * recently used entry. */
static void ca_cache_put(const char *path, const struct stat *st, SSL_CTX *ctx)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    pthread_mutex_lock(&ca_lock);
    int k = 0;
    for (int i = 0; i < CA_CACHE; i++) {
        if (same_file(&ca_cache[i], path, st)) { /* another thread was first */
            pthread_mutex_unlock(&ca_lock);
            free(copy);
            return;
        }
        if (ca_cache[i].used < ca_cache[k].used)
            k = i;
    }
    struct ca_entry *e = &ca_cache[k];
    SSL_CTX *old = e->ctx;
    free(e->path);
    *e = (struct ca_entry){ .path = copy, .dev = st->st_dev, .ino = st->st_ino,
                            .size = st->st_size, .mtime = st->st_mtim, .ctx = ctx,
                            .used = ++ca_clock };
    SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&ca_lock);
    SSL_CTX_free(old);
}

static void default_init(void)
{
    default_ctx = ctx_new(default_why, sizeof default_why);
    ERR_clear_error();
}

/* ---- waiting, SIGPIPE ---- */

/* OpenSSL writes to the socket with write(2), which has no MSG_NOSIGNAL:
 * SIGPIPE is held around each call, as for sendfile (sigpipe.c). */
#define SSL_CALL(expr)                                                                        \
    ({                                                                                        \
        sigset_t old_;                                                                        \
        int held_ = netsrv__sigpipe_hold(&old_);                                              \
        ERR_clear_error();                                                                    \
        errno = 0;                                                                            \
        __typeof__(expr) r_ = (expr);                                                         \
        int e_ = errno;                                                                       \
        netsrv__sigpipe_release(held_, &old_);                                                \
        errno = e_;                                                                           \
        r_;                                                                                   \
    })

/* After a call that failed with SSL_get_error() code: 1 when it should be
 * retried (the wait for the socket succeeded), else a negative errno with
 * t->why set.  what names the operation for the text. */
static int after_error(netsrv_conn *c, netsrv__tls *t, int code, int sys_errno, const char *what)
{
    char r[160];
    int w;
    switch (code) {
    case SSL_ERROR_WANT_READ:
        ERR_clear_error();
        if ((w = netsrv__conn_wait(c, POLLIN)) < 0) {
            snprintf(t->why, sizeof t->why, "TLS %s: %s", what, netsrv_strerror(w));
            return w;
        }
        return 1;
    case SSL_ERROR_WANT_WRITE:
        ERR_clear_error();
        if ((w = netsrv__conn_wait(c, POLLOUT)) < 0) {
            snprintf(t->why, sizeof t->why, "TLS %s: %s", what, netsrv_strerror(w));
            return w;
        }
        return 1;
    case SSL_ERROR_ZERO_RETURN: /* the peer's close_notify */
        ERR_clear_error();
        snprintf(t->why, sizeof t->why, "TLS %s: the peer closed the TLS session", what);
        return -EPIPE;
    case SSL_ERROR_SYSCALL:
        t->dead = 1;
        if (ERR_peek_error() == 0 && sys_errno != 0) {
            ERR_clear_error();
            snprintf(t->why, sizeof t->why, "TLS %s: %s", what, netsrv_strerror(-sys_errno));
            return netsrv__conn_io_error(c, sys_errno);
        }
        ssl_reason(r, sizeof r, "unexpected eof while reading");
        snprintf(t->why, sizeof t->why, "TLS %s: the peer closed the connection (%s)", what, r);
        return -ECONNRESET;
    default: {
        t->dead = 1;
        unsigned long e = ERR_peek_error();
        if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
            ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            snprintf(t->why, sizeof t->why,
                     "TLS %s: the peer closed the connection without a TLS close_notify", what);
            return -ECONNRESET;
        }
        snprintf(t->why, sizeof t->why, "TLS %s failed: %s", what,
                 ssl_reason(r, sizeof r, "protocol error"));
        return -EPROTO;
    }
    }
}

/* ---- the stream's layer ---- */

static ssize_t tls_recv(netsrv_conn *c, void *buf, size_t len)
{
    netsrv__tls *t = c->io_state;
    if (t->dead)
        return -EPROTO;
    /* On a loop, as the plain stream does: once OpenSSL holds nothing
     * more, the next read waits for the socket first, which lets the
     * loop's other tasks run even when the peer sends without pause.
     * Bytes OpenSSL holds (SSL_has_pending) are taken without a wait. */
    if (t->drained && c->task && c->task->loop && !SSL_has_pending(t->ssl)) {
        int w = netsrv__conn_wait(c, POLLIN);
        if (w < 0) {
            snprintf(t->why, sizeof t->why, "TLS read: %s", netsrv_strerror(w));
            return w;
        }
    }
    t->drained = 0;
    for (;;) {
        size_t n = 0;
        int ok = SSL_CALL(SSL_read_ex(t->ssl, buf, len, &n));
        int e = errno;
        if (ok == 1) {
            t->drained = !SSL_has_pending(t->ssl);
            return (ssize_t)n;
        }
        int code = SSL_get_error(t->ssl, ok);
        if (code == SSL_ERROR_ZERO_RETURN) { /* close_notify: a clean end */
            ERR_clear_error();
            return 0;
        }
        int r = after_error(c, t, code, e, "read");
        if (r < 0)
            return r;
    }
}

ssize_t netsrv__tls_recv_more(netsrv_conn *c, void *buf, size_t len)
{
    netsrv__tls *t = c->io_state;
    if (!t || t->dead)
        return -EAGAIN; /* the next ordinary read says what is wrong */
    size_t n = 0;
    int ok = SSL_CALL(SSL_read_ex(t->ssl, buf, len, &n));
    if (ok == 1) {
        t->drained = !SSL_has_pending(t->ssl);
        return (ssize_t)n;
    }
    /* Whatever it was (nothing there yet, an end, an error), the ordinary
     * read that comes next meets it again and deals with it. */
    ERR_clear_error();
    t->drained = 0;
    return -EAGAIN;
}

static ssize_t tls_send(netsrv_conn *c, const void *buf, size_t len)
{
    netsrv__tls *t = c->io_state;
    if (t->dead)
        return -EPROTO;
    if (t->shut)
        return -EPIPE;
    for (;;) {
        size_t n = 0;
        /* Partial writes are on: n may be less than len (the caller loops);
         * after WANT_WRITE the same bytes are offered again. */
        int ok = SSL_CALL(SSL_write_ex(t->ssl, buf, len, &n));
        int e = errno;
        if (ok == 1)
            return (ssize_t)n;
        int r = after_error(c, t, SSL_get_error(t->ssl, ok), e, "write");
        if (r < 0)
            return r;
    }
}

/* close_notify, one direction: the peer's is not waited for (a client
 * that is done does not need it, and a peer may never send it). */
static void tls_shut(netsrv_conn *c)
{
    netsrv__tls *t = c->io_state;
    if (t->dead || t->shut)
        return;
    t->shut = 1;
    for (int tries = 0; tries < 8; tries++) {
        int r = SSL_CALL(SSL_shutdown(t->ssl));
        if (r >= 0)
            break; /* 0: ours is sent, the peer's not yet read: enough */
        int code = SSL_get_error(t->ssl, r);
        ERR_clear_error();
        if (code != SSL_ERROR_WANT_WRITE || netsrv__conn_wait(c, POLLOUT) < 0)
            break;
    }
    ERR_clear_error();
}

static void tls_fini(netsrv_conn *c)
{
    netsrv__tls *t = c->io_state;
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
    ERR_clear_error();
}

static const netsrv__io_ops tls_ops = {
    .recv = tls_recv,
    .send = tls_send,
    .shut = tls_shut,
    .fini = tls_fini,
};

/* ---- the handshake ---- */

static int set_name(SSL *ssl, const char *name, int check, char *why, size_t whylen)
{
    struct in6_addr a6;
    struct in_addr a4;
    char r[160];
    int ip = inet_pton(AF_INET, name, &a4) == 1 || inet_pton(AF_INET6, name, &a6) == 1;
    /* SNI carries host names only (RFC 6066), never an address. */
    if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1) {
        snprintf(why, whylen, "bad TLS server name \"%s\": %s", name,
                 ssl_reason(r, sizeof r, "?"));
        return -EINVAL;
    }
    if (!check)
        return 0;
    X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
    int ok;
    if (ip) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(p, name);
    } else {
        X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(ssl, name);
    }
    if (ok != 1) {
        snprintf(why, whylen, "bad TLS server name \"%s\": %s", name,
                 ssl_reason(r, sizeof r, "?"));
        return -EINVAL;
    }
    return 0;
}

/* Why the verification failed, with the refused certificate's subject. */
static void verify_text(const netsrv__tls *t, long v, const char *name, char *why,
                        size_t whylen)
{
    const char *subj = t->subject;
    snprintf(why, whylen, "TLS certificate verification failed: %s%s%s%s%s%s",
             X509_verify_cert_error_string(v), subj[0] ? " (certificate " : "", subj,
             subj[0] && name ? ", expected " : "", subj[0] && name ? name : "",
             subj[0] ? ")" : "");
}

int netsrv_conn_start_tls(netsrv_conn *c, const netsrv_tls_opts *o, char *err, size_t errlen)
{
    static const netsrv_tls_opts none;
    char why[WHY_LEN];
    if (!o)
        o = &none;
    if (err && errlen)
        err[0] = '\0';
    if (c->dgram)
        return netsrv__seterr(err, errlen, -ENOTSOCK, "TLS needs a stream connection");
    if (c->io)
        return netsrv__seterr(err, errlen, -EALREADY, "the connection is TLS already");
    if (c->srv || c->blocking || c->member)
        return netsrv__seterr(err, errlen, -ENOTSUP,
                              "TLS is for client connections (netsrv_conn_dial), outside groups");
    if (c->fd < 0)
        return netsrv__seterr(err, errlen, -EBADF, "the connection is closed");
    /* Plain bytes read before the handshake would otherwise pass for
     * protected ones (STARTTLS command injection). */
    if (c->rpos < c->rlen)
        return netsrv__seterr(err, errlen, -EPROTO,
                              "plain bytes arrived before the TLS handshake");
    int r = netsrv_flush(c); /* a STARTTLS command goes out in the clear first */
    if (r < 0)
        return netsrv__seterr(err, errlen, r, "flush before TLS: %s", netsrv_strerror(r));

    SSL_CTX *ctx;
    if (o->ca_file) {
        struct stat st;
        if (access(o->ca_file, R_OK) < 0 || stat(o->ca_file, &st) < 0) {
            int e = -errno;
            return netsrv__seterr(err, errlen, e, "CA file %s: %s", o->ca_file, netsrv_strerror(e));
        }
        if (!(ctx = ca_cache_get(o->ca_file, &st))) {
            if (!(ctx = ctx_new(why, sizeof why)))
                return netsrv__seterr(err, errlen, -EIO, "%s", why);
            if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
                char rs[160];
                ssl_reason(rs, sizeof rs, "?");
                SSL_CTX_free(ctx);
                return netsrv__seterr(err, errlen, -EINVAL, "CA file %s: %s", o->ca_file, rs);
            }
            ca_cache_put(o->ca_file, &st, ctx);
        }
    } else {
        pthread_once(&default_once, default_init);
        if (!default_ctx)
            return netsrv__seterr(err, errlen, -EIO, "%s", default_why);
        ctx = default_ctx;
        SSL_CTX_up_ref(ctx);
    }
    netsrv__tls *t = calloc(1, sizeof *t);
    SSL *ssl = t ? SSL_new(ctx) : NULL;
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (!ssl) {
        free(t);
        ERR_clear_error();
        return netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
    }
    t->ssl = ssl;
    SSL_set_app_data(ssl, t);
    if (o->insecure)
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    if (o->server_name && o->server_name[0] &&
        (r = set_name(ssl, o->server_name, !o->insecure, why, sizeof why)) < 0)
        goto fail;
    if (SSL_set_fd(ssl, c->fd) != 1) {
        char rs[160];
        snprintf(why, sizeof why, "TLS on fd %d: %s", c->fd, ssl_reason(rs, sizeof rs, "?"));
        r = -EIO;
        goto fail;
    }

    /* The handshake as a whole within o->timeout (each wait also within
     * the connection's idle timeout). */
    double saved_end = c->end_deadline;
    if (o->timeout > 0 && netsrv__now() + o->timeout < c->end_deadline)
        c->end_deadline = netsrv__now() + o->timeout;
    for (;;) {
        int ok = SSL_CALL(SSL_connect(ssl));
        int e = errno;
        if (ok == 1) {
            r = 0;
            break;
        }
        int code = SSL_get_error(ssl, ok);
        long v = SSL_get_verify_result(ssl);
        if (!o->insecure && v != X509_V_OK && code == SSL_ERROR_SSL) {
            ERR_clear_error();
            verify_text(t, v, o->server_name, why, sizeof why);
            r = -EKEYREJECTED;
            break;
        }
        r = after_error(c, t, code, e, "handshake");
        if (r < 0) {
            if (r == -ETIMEDOUT)
                snprintf(why, sizeof why, "TLS handshake timed out");
            else if (r == -EPIPE || r == -ECONNRESET)
                snprintf(why, sizeof why, "TLS handshake failed: the peer closed the connection");
            else
                snprintf(why, sizeof why, "%s", t->why);
            if (r == -EPIPE)
                r = -ECONNRESET;
            break;
        }
    }
    c->end_deadline = saved_end;
    ERR_clear_error();
    if (r < 0)
        goto fail;
    t->verified = !o->insecure;
    t->why[0] = '\0';
    c->io_state = t;
    c->io = &tls_ops;
    return 0;
fail:
    SSL_free(ssl);
    free(t);
    ERR_clear_error();
    return netsrv__seterr(err, errlen, r, "%s", why);
}

int netsrv_conn_tls_info(const netsrv_conn *c, netsrv_tls_info *out)
{
    memset(out, 0, sizeof *out);
    if (!c || c->io != &tls_ops)
        return -EINVAL;
    const netsrv__tls *t = c->io_state;
    out->version = SSL_get_version(t->ssl);
    out->cipher = SSL_get_cipher_name(t->ssl);
    out->verified = t->verified;
    out->error = t->why;
    return 0;
}
