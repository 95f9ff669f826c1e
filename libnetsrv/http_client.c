/* http_client.c - an HTTP/1.1 client session (netsrv_httpc_*): a URL in,
 * a response with its status, headers, final URL and a body to read out.
 * Everything below it is the library's own: netsrv_conn_dial (resolver
 * threads on a loop), netsrv_conn_start_tls, netsrv_http_write_request,
 * netsrv_http_read_head and the body decoder.  This file adds what a
 * client needs around them: redirects, keep-alive connections kept per
 * host:port and a cap on how many are open to one host, the whole-request
 * deadline and one error code per kind of failure.
 *
 * A session belongs to one thread: the tasks of one netsrv_loop, or one
 * thread calling it in plain blocking style.  Nothing here locks.  A task
 * that finds its host at the cap parks (netsrv_wait) until a connection
 * of that host is given back or closed, which wakes the first waiter. */
#include "config.h"
#include "netsrv_int.h"
#include "http_int.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HEAD_CAP 32768           /* a response head (the default max_head) */
#define HEADERS_CAP 100
#define SKIP_MAX (256 * 1024)    /* a redirect's body worth reading to keep
                                    the connection; longer: close it */
#define KEY_MAX 300

/* A host:port (and scheme) the session has connections to. */
typedef struct hhost {
    struct hhost *next;
    char key[KEY_MAX];           /* "https|host|port" */
    unsigned open;               /* connections open: busy and idle */
    unsigned cap;                /* 0: no cap */
    struct hwait *waiters;       /* tasks waiting for room, oldest first */
} hhost;

typedef struct hwait {
    struct hwait *next;
    netsrv_task *task;
} hwait;

/* A kept connection, idle between requests. */
typedef struct hidle {
    struct hidle *next;
    netsrv_conn *c;
    hhost *host;
} hidle;

struct netsrv_httpc {
    netsrv_httpc_opts o;
    char *ua, *ca;               /* copies of the option strings */
    hhost *hosts;
    hidle *idle;                 /* newest first */
    unsigned nidle;
    netsrv_httpc_stats st;
};

struct netsrv_httpc_resp {
    netsrv_httpc *s;
    netsrv_conn *c;
    hhost *host;
    char *url;                   /* the final URL, NUL-terminated */
    unsigned redirects;
    int reused;
    int method_head;
    int keep;                    /* the connection may be kept after the body */
    int rc;                      /* the body's read failed with it: sticks */
    int drained;                 /* direct reads: the last recv emptied the socket */
    netsrv_http_msg m;
    netsrv_http_body b;
    netsrv_http_header hdr[HEADERS_CAP];
    char head[HEAD_CAP];
};

void netsrv_httpc_opts_init(netsrv_httpc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_redirects = 10;
    o->max_idle = 32;
}

int netsrv_httpc_new(netsrv_httpc **out, const netsrv_httpc_opts *o)
{
    *out = NULL;
    netsrv_httpc *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    if (o)
        s->o = *o;
    else
        netsrv_httpc_opts_init(&s->o);
    if ((s->o.user_agent && !(s->ua = strdup(s->o.user_agent))) ||
        (s->o.ca_file && !(s->ca = strdup(s->o.ca_file)))) {
        free(s->ua);
        free(s);
        return -ENOMEM;
    }
    s->o.user_agent = s->ua;
    s->o.ca_file = s->ca;
    *out = s;
    return 0;
}

/* A connection of the session goes; its host gets room for a waiter. */
static void host_release(hhost *h)
{
    if (h->open)
        h->open--;
    hwait *w = h->waiters;
    if (w) {
        h->waiters = w->next;
        w->next = NULL;
        netsrv_task_wake(w->task);
    }
}

static void conn_drop(netsrv_httpc *s, netsrv_conn *c, hhost *h)
{
    (void)s;
    c->task = netsrv__task_current(); /* its waits (a TLS close) are ours */
    netsrv_conn_close(c);
    if (h)
        host_release(h);
}

void netsrv_httpc_free(netsrv_httpc *s)
{
    if (!s)
        return;
    while (s->idle) {
        hidle *i = s->idle;
        s->idle = i->next;
        conn_drop(s, i->c, i->host);
        free(i);
    }
    while (s->hosts) {
        hhost *h = s->hosts;
        s->hosts = h->next;
        free(h);
    }
    free(s->ua);
    free(s->ca);
    free(s);
}

void netsrv_httpc_get_stats(const netsrv_httpc *s, netsrv_httpc_stats *out)
{
    *out = s->st;
    out->idle = s->nidle;
}

static hhost *host_get(netsrv_httpc *s, const netsrv_http_url *u)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, "%s|%.*s|%d", u->https ? "https" : "http", (int)u->host_len,
             u->host, u->port);
    for (hhost *h = s->hosts; h; h = h->next)
        if (strcmp(h->key, key) == 0)
            return h;
    hhost *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    memcpy(h->key, key, sizeof key);
    h->cap = s->o.per_host;
    if (s->o.host_cap) {
        char host[256];
        snprintf(host, sizeof host, "%.*s", (int)u->host_len, u->host);
        h->cap = s->o.host_cap(s->o.host_cap_arg, host, u->port, u->https);
    }
    h->next = s->hosts;
    s->hosts = h;
    return h;
}

/* Whether a kept connection still looks usable: no byte and no end of
 * stream waiting on it (a server that timed it out has sent its FIN). */
static int idle_alive(netsrv_conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A kept connection to h, or NULL. */
static netsrv_conn *idle_take(netsrv_httpc *s, hhost *h)
{
    for (hidle **pp = &s->idle; *pp;) {
        hidle *i = *pp;
        if (i->host != h) {
            pp = &i->next;
            continue;
        }
        *pp = i->next;
        s->nidle--;
        netsrv_conn *c = i->c;
        free(i);
        if (idle_alive(c)) {
            c->task = netsrv__task_current();
            return c;
        }
        conn_drop(s, c, h);
    }
    return NULL;
}

/* Keeps c for the next request to h; the oldest idle one goes past
 * max_idle.  Its input buffer goes back now: on a loop it is the loop's
 * and the task that read with it is about to end. */
static void idle_put(netsrv_httpc *s, netsrv_conn *c, hhost *h)
{
    hidle *i = calloc(1, sizeof *i);
    if (!i || c->rpos < c->rlen || s->o.max_idle == 0) {
        free(i);
        conn_drop(s, c, h);
        return;
    }
    netsrv__conn_idle(c);
    c->rdrained = 0;
    c->end_deadline = NETSRV__INF;
    c->task = NULL;
    i->c = c;
    i->host = h;
    i->next = s->idle;
    s->idle = i;
    s->nidle++;
    /* A waiter on another host may need the room this one holds. */
    if (s->nidle > s->o.max_idle) {
        hidle **pp = &s->idle;
        while ((*pp)->next)
            pp = &(*pp)->next;
        hidle *old = *pp;
        *pp = NULL;
        s->nidle--;
        conn_drop(s, old->c, old->host);
        free(old);
    }
    if (h->waiters) { /* someone waits for this very host: hand it over */
        hwait *w = h->waiters;
        h->waiters = w->next;
        netsrv_task_wake(w->task);
    }
}

/* Waits for room to open one more connection to h (a kept one may come
 * back meanwhile: the caller looks again).  Outside a task no one else can
 * give one back: -EBUSY. */
static int host_wait(hhost *h, double deadline, char *err, size_t errlen)
{
    netsrv_task *t = netsrv_task_self();
    if (!t)
        return netsrv__seterr(err, errlen, -EBUSY, "%s: at the cap of %u connections", h->key,
                              h->cap);
    hwait me = { NULL, t };
    hwait **pp = &h->waiters;
    while (*pp)
        pp = &(*pp)->next;
    *pp = &me;
    int why = netsrv_wait(-1, 0, deadline);
    /* Still listed unless a release took us off. */
    for (pp = &h->waiters; *pp; pp = &(*pp)->next)
        if (*pp == &me) {
            *pp = me.next;
            break;
        }
    if (why == NETSRV_WAIT_TIMEOUT)
        return netsrv__seterr(err, errlen, -ETIMEDOUT, "timed out waiting for a connection");
    if (why == NETSRV_WAIT_DRAINED)
        return -ECANCELED;
    return why < 0 ? why : 0;
}

/* Maps what netsrv_conn_dial said to the session's codes: a failed name
 * lookup is -ENXIO whatever getaddrinfo said. */
static int dial_error(int rc, int by_name)
{
    if (by_name && (rc == -ENOENT || rc == -EAGAIN || rc == -EINVAL))
        return -ENXIO;
    return rc;
}

static double left(double deadline, double dflt)
{
    if (deadline <= 0)
        return dflt;
    double l = deadline - netsrv_now();
    if (l <= 0.001)
        l = 0.001;
    return dflt > 0 && dflt < l ? dflt : l;
}

/* A new connection to u (TLS when https). */
static int conn_open(netsrv_httpc *s, const netsrv_http_url *u, double deadline,
                     netsrv_conn **out, char *err, size_t errlen)
{
    char addr[300], host[256];
    if (u->host_len >= sizeof host)
        return netsrv__seterr(err, errlen, -EINVAL, "host name too long");
    memcpy(host, u->host, u->host_len);
    host[u->host_len] = '\0';
    snprintf(addr, sizeof addr, u->ipv6 ? "[%s]:%d" : "%s:%d", host, u->port);
    struct in_addr probe;
    int by_name = !u->ipv6 && inet_pton(AF_INET, host, &probe) != 1;
    double t = left(deadline, s->o.connect_timeout);
    double t_end = netsrv_now() + t;
    netsrv_conn *c;
    int rc = netsrv_conn_dial(&c, addr, t, err, errlen);
    if (rc < 0)
        return dial_error(rc, by_name);
    c->linger = 0; /* a client leaving mid-body has nothing more to say */
    if (u->https) {
        netsrv_tls_opts to = {
            .server_name = host,
            .ca_file = s->o.ca_file,
            .insecure = s->o.insecure,
            .timeout = t > 0 ? t_end - netsrv_now() : 0,
        };
        if (to.timeout <= 0 && t > 0)
            to.timeout = 0.001;
        rc = netsrv_conn_start_tls(c, &to, err, errlen);
        if (rc < 0) {
            netsrv_conn_close(c);
            return rc;
        }
        s->st.tls_handshakes++;
    }
    c->timeout = s->o.idle_timeout > 0 ? s->o.idle_timeout : 0;
    s->st.connects++;
    *out = c;
    return 0;
}

/* A connection for u: a kept one, else a new one within h's cap. */
static int conn_get(netsrv_httpc *s, hhost *h, const netsrv_http_url *u, double deadline,
                    netsrv_conn **out, int *reused, char *err, size_t errlen)
{
    for (;;) {
        netsrv_conn *c = idle_take(s, h);
        if (c) {
            *reused = 1;
            s->st.reused++;
            *out = c;
            return 0;
        }
        if (!h->cap || h->open < h->cap)
            break;
        int rc = host_wait(h, deadline, err, errlen);
        if (rc < 0)
            return rc;
    }
    h->open++; /* held while it dials, so others wait for it */
    *reused = 0;
    int rc = conn_open(s, u, deadline, out, err, errlen);
    if (rc < 0)
        host_release(h);
    return rc;
}

static int header_given(const netsrv_httpc_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == n && strncasecmp(r->headers[i].name, name, n) == 0)
            return 1;
    return 0;
}

/* Sends the request for u on c. */
static int send_request(netsrv_httpc *s, netsrv_conn *c, const netsrv_httpc_req *r,
                        const char *method, const netsrv_http_url *u)
{
    netsrv_http_header h[64 + 8];
    size_t n = 0;
    char range[64];
    if (!header_given(r, "Host"))
        h[n++] = (netsrv_http_header){ "Host", 4, u->authority, u->authority_len };
    if (!header_given(r, "User-Agent")) {
        const char *ua = s->o.user_agent ? s->o.user_agent : "libnetsrv/" NETSRV_VERSION;
        if (*ua)
            h[n++] = (netsrv_http_header)NETSRV_HTTP_HEADER("User-Agent", ua);
    }
    if (!header_given(r, "Accept"))
        h[n++] = (netsrv_http_header)NETSRV_HTTP_HEADER("Accept", "*/*");
    if (r->range_first >= 0) {
        if (r->range_last >= 0)
            snprintf(range, sizeof range, "bytes=%lld-%lld", r->range_first, r->range_last);
        else
            snprintf(range, sizeof range, "bytes=%lld-", r->range_first);
        h[n++] = (netsrv_http_header)NETSRV_HTTP_HEADER("Range", range);
    }
    if (r->nheaders > 64)
        return -E2BIG;
    for (size_t i = 0; i < r->nheaders; i++)
        h[n++] = r->headers[i];
    ssize_t w = netsrv_http_write_request(c, method, u->target, u->target_len, h, n);
    if (w < 0)
        return (int)w;
    return netsrv_flush(c);
}

static int is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The URL Location names, relative to base; malloc'd, or NULL. */
static char *resolve_location(const char *base, const netsrv_http_url *bu, const char *loc,
                              size_t len)
{
    const char *scheme = bu->https ? "https" : "http";
    size_t cap = strlen(base) + len + 16;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    const char *colon = memchr(loc, ':', len);
    const char *slash = memchr(loc, '/', len);
    if (colon && (!slash || colon < slash)) /* absolute: has a scheme */
        snprintf(out, cap, "%.*s", (int)len, loc);
    else if (len >= 2 && loc[0] == '/' && loc[1] == '/')
        snprintf(out, cap, "%s:%.*s", scheme, (int)len, loc);
    else if (len >= 1 && loc[0] == '/')
        snprintf(out, cap, "%s://%.*s%.*s", scheme, (int)bu->authority_len, bu->authority,
                 (int)len, loc);
    else {
        /* Relative to the base's directory: its path up to the last '/'
         * before any query. */
        size_t tl = bu->target_len;
        const char *q = memchr(bu->target, '?', tl);
        if (q)
            tl = (size_t)(q - bu->target);
        while (tl > 0 && bu->target[tl - 1] != '/')
            tl--;
        if (len && loc[0] == '?') { /* a query alone replaces the query */
            tl = q ? (size_t)(q - bu->target) : bu->target_len;
        }
        snprintf(out, cap, "%s://%.*s%.*s%s%.*s", scheme, (int)bu->authority_len, bu->authority,
                 (int)tl, bu->target, tl ? "" : "/", (int)len, loc);
    }
    return out;
}

/* One exchange on one connection: sends, reads the head (past any 1xx).
 * Returns 0, or a negative errno; *fresh_fail says a kept connection
 * failed before any byte of an answer came (worth one more try). */
static int exchange(netsrv_httpc_resp *p, const netsrv_httpc_req *r, const char *method,
                    const netsrv_http_url *u, int *stale, char *err, size_t errlen)
{
    *stale = 0;
    int rc = send_request(p->s, p->c, r, method, u);
    if (rc < 0) {
        *stale = p->reused && (rc == -EPIPE || rc == -ECONNRESET);
        return netsrv__seterr(err, errlen, rc, "sending the request: %s", netsrv_strerror(rc));
    }
    for (;;) {
        netsrv_http_limits lim;
        netsrv_http_limits_init(&lim);
        lim.max_body = -1;
        netsrv_http_msg_init(&p->m, NETSRV_HTTP_RESPONSE, p->method_head ? NETSRV_HTTP_NO_BODY : 0,
                             &lim, p->hdr, HEADERS_CAP);
        ssize_t n = netsrv_http_read_head(p->c, &p->m, p->head, sizeof p->head);
        if (n == 0 || (n < 0 && !p->m.started && (n == -ECONNRESET || n == -EPIPE))) {
            *stale = p->reused;
            return netsrv__seterr(err, errlen, -EBADMSG, "the server closed the connection "
                                  "without a response");
        }
        if (n == -ETIMEDOUT)
            return netsrv__seterr(err, errlen, -ETIMEDOUT, "timed out waiting for the response");
        if (n == -EKEYREJECTED || n == -EPROTO || n == -ECONNRESET || n == -ECANCELED) {
            netsrv_tls_info ti;
            if (netsrv_conn_tls_info(p->c, &ti) == 0 && ti.error[0])
                return netsrv__seterr(err, errlen, (int)n, "reading the response: %s", ti.error);
            return netsrv__seterr(err, errlen, (int)n, "reading the response: %s",
                                  netsrv_strerror((int)n));
        }
        if (n < 0)
            return netsrv__seterr(err, errlen, -EBADMSG, "bad response: %s",
                                  p->m.error ? p->m.error : netsrv_strerror((int)n));
        if (p->m.status >= 100 && p->m.status < 200 && p->m.status != 101)
            continue; /* 100 Continue, 103 Early Hints: the answer follows */
        break;
    }
    rc = netsrv_http_body_init(&p->b, &p->m);
    if (rc < 0)
        return netsrv__seterr(err, errlen, -EBADMSG, "bad response: %s",
                              p->b.error ? p->b.error : netsrv_strerror(rc));
    p->keep = p->m.keep_alive && !p->m.upgrade;
    return 0;
}

static void resp_conn_end(netsrv_httpc_resp *p, int keep)
{
    if (!p->c)
        return;
    if (keep)
        idle_put(p->s, p->c, p->host);
    else
        conn_drop(p->s, p->c, p->host);
    p->c = NULL;
}

void netsrv_httpc_req_init(netsrv_httpc_req *r, const char *url)
{
    memset(r, 0, sizeof *r);
    r->url = url;
    r->range_first = -1;
    r->range_last = -1;
}

int netsrv_httpc_request(netsrv_httpc *s, const netsrv_httpc_req *r, netsrv_httpc_resp **out,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    netsrv_httpc_resp *p = calloc(1, sizeof *p);
    if (!p)
        return netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
    p->s = s;
    char method[32];
    snprintf(method, sizeof method, "%s", r->method ? r->method : "GET");
    p->url = strdup(r->url ? r->url : "");
    if (!p->url) {
        free(p);
        return netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
    }
    /* The URLs visited, for loop detection: each redirect target is
     * compared with all before it. */
    char **seen = NULL;
    unsigned nseen = 0;
    int rc;
    int retried = 0;
    for (;;) {
        netsrv_http_url u;
        p->method_head = strcmp(method, "HEAD") == 0;
        rc = netsrv_http_parse_url(p->url, strlen(p->url), &u);
        if (rc < 0) {
            rc = netsrv__seterr(err, errlen, rc, rc == -EPROTONOSUPPORT
                                ? "%s: only http and https URLs" : "%s: not a URL", p->url);
            break;
        }
        p->host = host_get(s, &u);
        if (!p->host) {
            rc = netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
            break;
        }
        rc = conn_get(s, p->host, &u, r->deadline, &p->c, &p->reused, err, errlen);
        if (rc < 0)
            break;
        p->c->end_deadline = r->deadline > 0 ? r->deadline : NETSRV__INF;
        int stale;
        rc = exchange(p, r, method, &u, &stale, err, errlen);
        if (rc < 0) {
            resp_conn_end(p, 0);
            if (stale && !retried) { /* the server had closed its kept side */
                retried = 1;
                continue;
            }
            break;
        }
        s->st.requests++;
        retried = 0;
        if (!r->follow || !is_redirect(p->m.status))
            break;
        const netsrv_http_header *loc = netsrv_http_header_find(&p->m, "Location", NULL);
        if (!loc)
            break; /* a redirect without a target is the answer itself */
        if (p->redirects >= s->o.max_redirects) {
            rc = netsrv__seterr(err, errlen, -ELOOP, "more than %u redirects", s->o.max_redirects);
            break;
        }
        char *next = resolve_location(p->url, &u, loc->value, loc->value_len);
        char **ns = realloc(seen, (nseen + 1) * sizeof *seen);
        if (!next || !ns) {
            free(next);
            if (ns)
                seen = ns;
            rc = netsrv__seterr(err, errlen, -ENOMEM, "out of memory");
            break;
        }
        seen = ns;
        seen[nseen++] = p->url;
        int loop = 0;
        for (unsigned i = 0; i < nseen; i++)
            if (strcmp(seen[i], next) == 0)
                loop = 1;
        p->url = next;
        if (loop) {
            rc = netsrv__seterr(err, errlen, -ELOOP, "redirect loop at %s", next);
            break;
        }
        p->redirects++;
        /* 303 asks for a GET; so do 301 and 302 after a POST, as browsers do. */
        if (p->m.status == 303 ? !p->method_head
                               : (p->m.status <= 302 && strcmp(method, "POST") == 0))
            snprintf(method, sizeof method, "GET");
        /* The old body: read out when short, so the connection stays. */
        int keep = p->keep && !p->b.until_close &&
                   (p->b.chunked || p->b.length <= SKIP_MAX);
        if (keep && netsrv_http_skip_body(p->c, &p->b) < 0)
            keep = 0;
        resp_conn_end(p, keep && p->b.done);
    }
    for (unsigned i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    if (rc < 0) {
        resp_conn_end(p, 0);
        free(p->url);
        free(p);
        if (rc != -ENOMEM)
            s->st.errors++;
        return rc;
    }
    *out = p;
    return 0;
}

int netsrv_httpc_status(const netsrv_httpc_resp *p)
{
    return p->m.status;
}

const netsrv_http_msg *netsrv_httpc_head(const netsrv_httpc_resp *p)
{
    return &p->m;
}

const char *netsrv_httpc_url(const netsrv_httpc_resp *p)
{
    return p->url;
}

unsigned netsrv_httpc_redirects(const netsrv_httpc_resp *p)
{
    return p->redirects;
}

int netsrv_httpc_reused(const netsrv_httpc_resp *p)
{
    return p->reused;
}

long long netsrv_httpc_length(const netsrv_httpc_resp *p)
{
    return p->m.content_length;
}

const char *netsrv_httpc_header(const netsrv_httpc_resp *p, const char *name, size_t *len)
{
    const netsrv_http_header *h = netsrv_http_header_find(&p->m, name, NULL);
    if (!h) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = h->value_len;
    return h->value;
}

/* A body with a known length (or until close), and nothing buffered:
 * read straight into the caller's buffer, so a large download is one copy
 * from the kernel (or from OpenSSL) to the caller and no more.  After the
 * first read, what is there already is taken too, without waiting, so a
 * TLS body (16 KiB records) fills the buffer as a plain one does and the
 * caller writes it out in one piece. */
static ssize_t read_some(netsrv_httpc_resp *p, void *buf, size_t len, int wait)
{
    netsrv_conn *c = p->c;
    for (;;) {
        ssize_t n;
        if (c->io)
            return wait ? c->io->recv(c, buf, len) : netsrv__tls_recv_more(c, buf, len);
        /* A short recv emptied the socket: wait before the next. */
        if (wait && p->drained) {
            int r = netsrv__conn_wait(c, POLLIN);
            if (r < 0)
                return r;
        }
        n = recv(c->fd, buf, len, wait ? 0 : MSG_DONTWAIT);
        if (n >= 0) {
            p->drained = (size_t)n < len;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return wait ? -errno : -EAGAIN;
        p->drained = 1;
        if (!wait)
            return -EAGAIN;
    }
}

static ssize_t read_direct(netsrv_httpc_resp *p, void *buf, size_t len)
{
    netsrv_http_body *b = &p->b;
    if (b->length >= 0 && (long long)len > b->length - b->received)
        len = (size_t)(b->length - b->received);
    ssize_t n = read_some(p, buf, len, 1);
    if (n == 0) {
        p->c->eof = 1;
        int rc = netsrv_http_body_eof(b);
        if (rc < 0)
            b->error = "the stream ended inside the body";
        return rc;
    }
    if (n < 0)
        return n;
    size_t got = (size_t)n;
    while (got < len && (p->c->io || !p->drained)) {
        n = read_some(p, (char *)buf + got, len - got, 0);
        if (n <= 0)
            break; /* an end or an error: the next call meets it */
        got += (size_t)n;
    }
    b->received += (long long)got;
    /* The decoder takes over whenever a read is small or bytes are
     * buffered: its parser must count these bytes as had, or it waits
     * for that many more at the end. */
    if (b->length >= 0)
        netsrv__body_parser(b)->content_length -= got;
    if (b->length >= 0 && b->received == b->length)
        b->done = 1;
    return (ssize_t)got;
}

#define DIRECT_MIN 16384

ssize_t netsrv_httpc_read(netsrv_httpc_resp *p, void *buf, size_t len)
{
    if (p->rc < 0)
        return p->rc;
    if (!p->c || len == 0)
        return 0;
    ssize_t n;
    if (!p->b.done && !p->b.chunked && len >= DIRECT_MIN &&
        p->c->rpos >= p->c->rlen && p->c->wlen == 0)
        n = read_direct(p, buf, len);
    else
        n = netsrv_http_read_body(p->c, &p->b, buf, len);
    if (n == 0 && p->b.done) {
        /* The whole body: the connection is free for the next request. */
        resp_conn_end(p, p->keep && !p->b.until_close);
    } else if (n < 0) {
        resp_conn_end(p, 0);
        p->rc = (int)n;
    }
    return n;
}

const char *netsrv_httpc_error(const netsrv_httpc_resp *p)
{
    if (p->c) {
        netsrv_tls_info ti;
        if (netsrv_conn_tls_info(p->c, &ti) == 0 && ti.error[0])
            return ti.error;
    }
    return p->b.error ? p->b.error : "";
}

void netsrv_httpc_close(netsrv_httpc_resp *p)
{
    if (!p)
        return;
    int keep = p->c && p->keep && p->b.done && !p->b.until_close && p->rc == 0;
    resp_conn_end(p, keep);
    free(p->url);
    free(p);
}
