/* httpc.c - the HTTP client session (netsrv_httpc_*) against a scripted
 * server run here on the library's own async mode: each framing
 * (Content-Length, chunked with trailers, until close) byte for byte with
 * small and large reads, keep-alive reuse, redirects (relative, absolute,
 * chains, loops, too many), HEAD, Range, each error kind (refused, DNS,
 * a stall timing out, a body cut short, a malformed response), the
 * per-host cap, and 1,000 concurrent tasks on one loop through one
 * session. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static char addr[NETSRV_ADDRSTRLEN];
static atomic_int active, peak, conns;
static int in_flight, flight_peak; /* client side: tasks inside a fetch */

/* Byte i of every generated body. */
static char pat(long long i)
{
    return (char)('a' + (i * 7 + i / 251) % 26);
}

static void send_pattern(netsrv_request *req, long long n, int chunked)
{
    char buf[4096];
    long long off = 0;
    while (off < n) {
        /* chunk sizes that do not line up with anything */
        size_t k = chunked ? (size_t)(1 + off % 1777) : sizeof buf;
        if ((long long)k > n - off)
            k = (size_t)(n - off);
        for (size_t i = 0; i < k; i++)
            buf[i] = pat(off + (long long)i);
        if (chunked)
            netsrv_http_write_chunk(req, buf, k);
        else
            netsrv_write(req, buf, k);
        off += (long long)k;
    }
}

typedef struct st {
    int counted;
} st;

/* The scripted server: the path says what to answer. */
static int handle(netsrv_request *req)
{
    st *s = netsrv_request_state(req);
    if (!s->counted) {
        s->counted = 1;
        atomic_fetch_add(&conns, 1);
    }
    char head[8192];
    netsrv_http_header hs[32];
    netsrv_http_msg m;
    netsrv_http_msg_init(&m, NETSRV_HTTP_REQUEST, 0, NULL, hs, 32);
    ssize_t n = netsrv_http_read_head(req, &m, head, sizeof head);
    if (n <= 0)
        return 0;
    int now = atomic_fetch_add(&active, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)m.target_len, m.target);
    long long len = 0;
    int rc = NETSRV_AGAIN;
    if (sscanf(path, "/len/%lld", &len) == 1) {
        netsrv_printf(req, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n", len);
        if (m.method != NETSRV_HTTP_HEAD)
            send_pattern(req, len, 0);
    } else if (sscanf(path, "/chunked/%lld", &len) == 1) {
        netsrv_printf(req, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        send_pattern(req, len, 1);
        netsrv_http_header t = NETSRV_HTTP_HEADER("X-Sum", "42");
        netsrv_http_write_last_chunk(req, &t, 1);
    } else if (sscanf(path, "/close/%lld", &len) == 1) {
        netsrv_printf(req, "HTTP/1.0 200 OK\r\n\r\n");
        send_pattern(req, len, 0);
        rc = 0;
    } else if (sscanf(path, "/redir/%lld", &len) == 1) {
        if (len > 0)
            netsrv_printf(req, "HTTP/1.1 302 Found\r\nLocation: %lld\r\nContent-Length: 5\r\n\r\n"
                          "moved", len - 1);
        else
            netsrv_printf(req, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
    } else if (strcmp(path, "/abs") == 0) {
        netsrv_printf(req, "HTTP/1.1 301 Moved\r\nLocation: http://%s/len/10\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", addr);
    } else if (strcmp(path, "/rooted") == 0) {
        netsrv_printf(req, "HTTP/1.1 308 Moved\r\nLocation: /len/3?x=1\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/loop") == 0) {
        netsrv_printf(req, "HTTP/1.1 302 Found\r\nLocation: /loop2\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/loop2") == 0) {
        netsrv_printf(req, "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n");
    } else if (strcmp(path, "/range") == 0) {
        const netsrv_http_header *r = netsrv_http_header_find(&m, "Range", NULL);
        const netsrv_http_header *ua = netsrv_http_header_find(&m, "User-Agent", NULL);
        const netsrv_http_header *x = netsrv_http_header_find(&m, "X-Test", NULL);
        char body[512];
        int bl = snprintf(body, sizeof body, "%.*s|%.*s|%.*s", r ? (int)r->value_len : 0,
                          r ? r->value : "", ua ? (int)ua->value_len : 0, ua ? ua->value : "",
                          x ? (int)x->value_len : 0, x ? x->value : "");
        netsrv_printf(req, "HTTP/1.1 206 Partial\r\nContent-Length: %d\r\n\r\n%s", bl, body);
    } else if (strcmp(path, "/continue") == 0) {
        netsrv_printf(req, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    } else if (strcmp(path, "/slow") == 0) {
        netsrv_printf(req, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        netsrv_flush(req);
        netsrv_sleep(req, 5);
        rc = 0;
    } else if (strcmp(path, "/cut") == 0) {
        netsrv_printf(req, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part");
        rc = 0;
    } else if (strcmp(path, "/bad") == 0) {
        netsrv_printf(req, "HELLO THERE\r\n\r\n");
        rc = 0;
    } else if (strcmp(path, "/badchunk") == 0) {
        netsrv_printf(req, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n");
        rc = 0;
    } else if (strcmp(path, "/bye") == 0) {
        netsrv_printf(req, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye");
        rc = 0; /* closes without saying so */
    } else if (strcmp(path, "/noreply") == 0) {
        rc = 0;
    } else {
        netsrv_printf(req, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
    }
    atomic_fetch_sub(&active, 1);
    return rc;
}

static const netsrv_handler scripted = {
    .name = "scripted", .handle = handle, .state_size = sizeof(st),
    .flags = NETSRV_CLIENT_FIRST,
};

static char url_buf[512];
static const char *url(const char *path)
{
    snprintf(url_buf, sizeof url_buf, "http://%s%s", addr, path);
    return url_buf;
}

/* Fetches u with s; returns the body (malloc'd, *len) or NULL with *rc. */
static char *fetch(netsrv_httpc *s, const netsrv_httpc_req *r, size_t chunk, long long *len,
                   int *status, int *rc, char *err)
{
    netsrv_httpc_resp *p;
    *rc = netsrv_httpc_request(s, r, &p, err, NETSRV_ERRLEN);
    if (*rc < 0)
        return NULL;
    *status = netsrv_httpc_status(p);
    size_t cap = 1 << 16, n = 0;
    char *body = malloc(cap);
    char *buf = malloc(chunk);
    ssize_t k;
    while ((k = netsrv_httpc_read(p, buf, chunk)) > 0) {
        if (n + (size_t)k > cap) {
            while (n + (size_t)k > cap)
                cap *= 2;
            body = realloc(body, cap);
        }
        memcpy(body + n, buf, (size_t)k);
        n += (size_t)k;
    }
    free(buf);
    *len = (long long)n;
    if (k < 0) {
        *rc = (int)k;
        snprintf(err, NETSRV_ERRLEN, "%s", netsrv_httpc_error(p));
    }
    netsrv_httpc_close(p);
    return body;
}

static int pattern_ok(const char *b, long long n)
{
    for (long long i = 0; i < n; i++)
        if (b[i] != pat(i))
            return 0;
    return 1;
}

/* ---- 1,000 tasks on one loop ---- */

typedef struct job {
    netsrv_httpc *s;
    int i;
    int ok;
} job;

static void job_main(void *arg)
{
    job *j = arg;
    char u[256], err[NETSRV_ERRLEN];
    snprintf(u, sizeof u, "http://%s/len/%d", addr, 1000 + j->i);
    netsrv_httpc_req r;
    netsrv_httpc_req_init(&r, u);
    r.deadline = netsrv_now() + 30;
    long long n;
    int status, rc;
    if (++in_flight > flight_peak)
        flight_peak = in_flight;
    char *b = fetch(j->s, &r, 333, &n, &status, &rc, err);
    in_flight--;
    j->ok = b && rc == 0 && status == 200 && n == 1000 + j->i && pattern_ok(b, n);
    if (!j->ok)
        diag("task %d: rc %d status %d len %lld: %s", j->i, rc, status, n, err);
    free(b);
}

static int run_tasks(netsrv_httpc *s, int count, int *good)
{
    netsrv_loop *l;
    if (netsrv_loop_new(&l, 0) < 0)
        return -1;
    job *jobs = calloc((size_t)count, sizeof *jobs);
    for (int i = 0; i < count; i++) {
        jobs[i].s = s;
        jobs[i].i = i;
        netsrv_loop_spawn(l, job_main, &jobs[i]);
    }
    int rc = netsrv_loop_run(l);
    *good = 0;
    for (int i = 0; i < count; i++)
        *good += jobs[i].ok;
    free(jobs);
    netsrv_loop_free(l);
    return rc;
}

/* One task fetching close-delimited bodies in a row: each new socket gets
 * the number of the one just closed, and must still be waited for. */
static int serial_good;
static void serial_main(void *arg)
{
    netsrv_httpc *s = arg;
    char u[256], err[NETSRV_ERRLEN];
    snprintf(u, sizeof u, "http://%s/close/100", addr);
    for (int i = 0; i < 5; i++) {
        netsrv_httpc_req r;
        netsrv_httpc_req_init(&r, u);
        r.deadline = netsrv_now() + 5;
        long long n;
        int status, rc;
        char *b = fetch(s, &r, 4096, &n, &status, &rc, err);
        if (b && rc == 0 && n == 100)
            serial_good++;
        else
            diag("serial fetch %d: rc %d %s", i, rc, err);
        free(b);
    }
}

/* Dials closed at once, in a row: every connect waits for writability on
 * the same descriptor number. */
static int redial_good;
static void redial_main(void *arg)
{
    (void)arg;
    char err[NETSRV_ERRLEN];
    for (int i = 0; i < 5; i++) {
        netsrv_conn *c;
        if (netsrv_conn_dial(&c, addr, 2, err, sizeof err) == 0)
            redial_good++;
        else
            diag("dial %d: %s", i, err);
        netsrv_conn_close(c);
    }
}

static void free_session_task(void *arg)
{
    netsrv_httpc_free(arg);
}

int main(void)
{
    tu_init(120);
    tu_raise_nofile(4096);
    char err[NETSRV_ERRLEN];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    cfg.timeout = 10;
    netsrv_server *srv = tu_create(&cfg, &scripted, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0)
        bail_out("scripted server");

    netsrv_httpc *s;
    netsrv_httpc_opts o;
    netsrv_httpc_opts_init(&o);
    o.connect_timeout = 5;
    o.idle_timeout = 10;
    is(netsrv_httpc_new(&s, &o), 0, "a session");

    netsrv_httpc_req r;
    long long n;
    int status, rc;
    char *b;

    /* ---- framings, in blocking use ---- */
    static const size_t chunks[] = { 1, 100, 65536, 1 << 20 };
    static const char *kinds[] = { "len", "chunked", "close" };
    for (int k = 0; k < 3; k++) {
        for (int c = 0; c < 4; c++) {
            char path[64];
            long long want = c == 0 ? 5000 : 3000000;
            snprintf(path, sizeof path, "/%s/%lld", kinds[k], want);
            netsrv_httpc_req_init(&r, url(path));
            b = fetch(s, &r, chunks[c], &n, &status, &rc, err);
            ok(b && rc == 0 && status == 200 && n == want && pattern_ok(b, n),
               "%s body of %lld bytes read %zu at a time: byte for byte (rc %d, %lld)", kinds[k],
               want, chunks[c], rc, n);
            free(b);
        }
    }
    netsrv_httpc_stats hs;
    netsrv_httpc_get_stats(s, &hs);
    /* 8 len/chunked fetches on one kept connection, the first close one on it
     * too, the 3 other close ones each on a new one */
    ok(hs.connects == 4 && hs.reused == 8, "kept connections reused: %llu connects, %llu reused",
       hs.connects, hs.reused);

    /* Large reads go straight from the socket, past the body decoder; small
     * ones through it.  Mixed, the decoder must know what the direct reads
     * took, or it waits for bytes that never come (or eats the next reply). */
    {
        netsrv_httpc_resp *mp;
        netsrv_httpc_req_init(&r, url("/len/300000"));
        rc = netsrv_httpc_request(s, &r, &mp, err, sizeof err);
        char *mb = malloc(300000 + 65536), *chunk = malloc(65536);
        long long got = 0;
        ssize_t k = 0;
        for (int i = 0; rc == 0 && mb; i++) {
            k = netsrv_httpc_read(mp, chunk, i < 3 ? 65536 : 1000);
            if (k <= 0)
                break;
            memcpy(mb + got, chunk, (size_t)k);
            got += k;
        }
        ok(rc == 0 && k == 0 && got == 300000 && pattern_ok(mb, got),
           "a body read in large and small pieces, the small ones last: byte for byte (%lld, last %zd)", got, k);
        netsrv_httpc_close(mp);
        free(mb);
        free(chunk);
        netsrv_httpc_req_init(&r, url("/len/20000"));
        b = fetch(s, &r, 65536, &n, &status, &rc, err);
        ok(b && rc == 0 && n == 20000 && pattern_ok(b, n), "and the next reply on that connection");
        free(b);
    }

    netsrv_httpc_req_init(&r, url("/len/0"));
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && rc == 0 && status == 200 && n == 0, "an empty body");
    free(b);

    netsrv_httpc_resp *p;
    netsrv_httpc_req_init(&r, url("/len/12345"));
    r.method = "HEAD";
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == 0 && netsrv_httpc_status(p) == 200 && netsrv_httpc_length(p) == 12345 &&
       netsrv_httpc_read(p, err, 10) == 0, "HEAD: the length, and no body");
    netsrv_httpc_close(p);

    netsrv_httpc_req_init(&r, url("/chunked/10"));
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    size_t hl = 0;
    const char *te = rc == 0 ? netsrv_httpc_header(p, "transfer-encoding", &hl) : NULL;
    ok(te && hl == 7 && memcmp(te, "chunked", 7) == 0 && netsrv_httpc_length(p) == -1,
       "headers by name, any case");
    netsrv_httpc_close(p); /* closed before the end: the connection goes */

    netsrv_http_header xh[] = { NETSRV_HTTP_HEADER("X-Test", "yes"),
                                NETSRV_HTTP_HEADER("User-Agent", "tester/1") };
    netsrv_httpc_req_init(&r, url("/range"));
    r.range_first = 100;
    r.headers = xh;
    r.nheaders = 2;
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && status == 206 && n == 23 && memcmp(b, "bytes=100-|tester/1|yes", 23) == 0,
       "Range, extra headers and a user agent are sent: %.*s", b ? (int)n : 0, b ? b : "");
    free(b);
    r.range_last = 199;
    r.nheaders = 0;
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && n > 14 && memcmp(b, "bytes=100-199|libnetsrv/", 24) == 0,
       "a closed range and the default user agent: %.*s", b ? (int)n : 0, b ? b : "");
    free(b);

    netsrv_httpc_req_init(&r, url("/continue"));
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && status == 200 && n == 2 && memcmp(b, "ok", 2) == 0, "a 100 Continue is skipped");
    free(b);

    netsrv_httpc_req_init(&r, url("/nothing"));
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && rc == 0 && status == 404 && n == 9, "a 404 is a response with its body");
    free(b);

    /* ---- redirects ---- */
    netsrv_httpc_req_init(&r, url("/redir/5"));
    r.follow = 1;
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == 0 && netsrv_httpc_status(p) == 200 && netsrv_httpc_redirects(p) == 5 &&
       strcmp(netsrv_httpc_url(p), url("/redir/0")) == 0,
       "a chain of 5 relative redirects ends at %s", rc == 0 ? netsrv_httpc_url(p) : err);
    netsrv_httpc_close(p);
    netsrv_httpc_req_init(&r, url("/redir/2"));
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == 0 && netsrv_httpc_status(p) == 302 && netsrv_httpc_redirects(p) == 0,
       "without follow the redirect is the answer");
    netsrv_httpc_close(p);
    netsrv_httpc_req_init(&r, url("/abs"));
    r.follow = 1;
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && status == 200 && n == 10 && pattern_ok(b, 10), "an absolute Location (chunked body skipped)");
    free(b);
    netsrv_httpc_req_init(&r, url("/rooted"));
    r.follow = 1;
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == 0 && strcmp(netsrv_httpc_url(p), url("/len/3?x=1")) == 0,
       "a 308 to a rooted path with a query");
    netsrv_httpc_close(p);
    netsrv_httpc_req_init(&r, url("/loop"));
    r.follow = 1;
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -ELOOP && strstr(err, "loop"), "a redirect loop: %s", err);
    netsrv_httpc_req_init(&r, url("/redir/20"));
    r.follow = 1;
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -ELOOP && strstr(err, "more than 10"), "too many redirects: %s", err);

    /* ---- errors ---- */
    int port;
    int lfd = tu_listen_loopback(&port);
    close(lfd);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", port);
    netsrv_httpc_req_init(&r, u);
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -ECONNREFUSED, "connection refused: %d %s", rc, err);
    netsrv_httpc_req_init(&r, "http://no-such-host.invalid/");
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -ENXIO, "a name that does not resolve: %d %s", rc, err);
    netsrv_httpc_req_init(&r, "ftp://example.com/");
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -EPROTONOSUPPORT, "ftp: is refused: %s", err);
    netsrv_httpc_req_init(&r, "garbage");
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -EINVAL, "garbage is refused: %s", err);
    netsrv_httpc_req_init(&r, url("/bad"));
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -EBADMSG, "a malformed response: %s", err);
    netsrv_httpc_req_init(&r, url("/noreply"));
    rc = netsrv_httpc_request(s, &r, &p, err, sizeof err);
    ok(rc == -EBADMSG, "no response at all: %s", err);
    netsrv_httpc_req_init(&r, url("/cut"));
    b = fetch(s, &r, 65536, &n, &status, &rc, err);
    ok(b && rc == -EPIPE && n == 11, "a body cut short: %d after %lld bytes", rc, n);
    free(b);
    netsrv_httpc_req_init(&r, url("/badchunk"));
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && rc == -EBADMSG, "bad chunk framing: %d %s", rc, err);
    free(b);
    netsrv_httpc_req_init(&r, url("/slow"));
    r.deadline = netsrv_now() + 0.3;
    double t0 = tu_now();
    b = fetch(s, &r, 65536, &n, &status, &rc, err);
    double took = tu_now() - t0;
    ok(b && rc == -ETIMEDOUT && n == 3 && took < 3, "the deadline ends a stalled body (%.2f s)",
       took);
    free(b);

    /* a kept connection the server has closed since is not used again
     * (or is retried on a new one when the close comes late) */
    netsrv_httpc_req_init(&r, url("/bye"));
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    free(b);
    netsrv_httpc_req_init(&r, url("/len/10"));
    b = fetch(s, &r, 100, &n, &status, &rc, err);
    ok(b && rc == 0 && n == 10, "a request after the server closed a kept connection: %d %s",
       rc, err);
    free(b);
    netsrv_httpc_free(s);

    /* ---- tasks on one loop ---- */
    netsrv_httpc_opts_init(&o);
    o.connect_timeout = 10;
    o.max_idle = 2000;
    netsrv_httpc_new(&s, &o);
    int good;
    atomic_store(&peak, 0);
    atomic_store(&conns, 0);
    t0 = tu_now();
    rc = run_tasks(s, 1000, &good);
    ok(rc == 0 && good == 1000, "1,000 concurrent tasks on one loop fetch their bodies (%d good, "
       "%.2f s)", good, tu_now() - t0);
    netsrv_httpc_get_stats(s, &hs);
    ok(flight_peak == 1000 && hs.connects == 1000,
       "they ran at once: %d fetches in flight together, %llu connections", flight_peak,
       hs.connects);
    rc = run_tasks(s, 1000, &good);
    netsrv_httpc_stats st2;
    netsrv_httpc_get_stats(s, &st2);
    ok(rc == 0 && good == 1000 && st2.reused - hs.reused >= 900,
       "a second round reuses the kept connections (%llu of 1000)", st2.reused - hs.reused);
    /* its connections were kept by tasks of a freed loop: a task of a new
     * loop closes them */
    netsrv_loop *l;
    netsrv_loop_new(&l, 0);
    netsrv_loop_spawn(l, free_session_task, s);
    netsrv_loop_run(l);
    netsrv_loop_free(l);

    /* a task's sockets in a row, each closed before the next is made */
    netsrv_httpc_opts_init(&o);
    netsrv_httpc_new(&s, &o);
    netsrv_loop_new(&l, 0);
    netsrv_loop_spawn(l, serial_main, s);
    netsrv_loop_run(l);
    netsrv_loop_free(l);
    netsrv_httpc_free(s);
    ok(serial_good == 5, "one task, 5 connections in a row on the same descriptor number (%d good)",
       serial_good);
    netsrv_loop_new(&l, 0);
    netsrv_loop_spawn(l, redial_main, NULL);
    netsrv_loop_run(l);
    netsrv_loop_free(l);
    ok(redial_good == 5, "one task dials, closes and dials again 5 times (%d good)", redial_good);

    /* the per-host cap */
    netsrv_httpc_opts_init(&o);
    o.per_host = 4;
    netsrv_httpc_new(&s, &o);
    atomic_store(&peak, 0);
    atomic_store(&conns, 0);
    rc = run_tasks(s, 200, &good);
    netsrv_httpc_get_stats(s, &hs);
    ok(rc == 0 && good == 200 && hs.connects <= 4 && atomic_load(&conns) <= 4,
       "200 tasks under a cap of 4 per host: %llu connections", hs.connects);
    netsrv_httpc_free(s);

    /* the cap from a hook; outside a task the cap makes -EBUSY */
    netsrv_httpc_opts_init(&o);
    o.per_host = 1;
    netsrv_httpc_new(&s, &o);
    netsrv_httpc_req_init(&r, url("/len/10"));
    netsrv_httpc_resp *p1, *p2;
    rc = netsrv_httpc_request(s, &r, &p1, err, sizeof err);
    int rc2 = netsrv_httpc_request(s, &r, &p2, err, sizeof err);
    ok(rc == 0 && rc2 == -EBUSY, "blocking use at the cap: -EBUSY (%s)", err);
    netsrv_httpc_close(p1);
    rc2 = netsrv_httpc_request(s, &r, &p2, err, sizeof err);
    ok(rc2 == 0, "room again once the first response is closed");
    netsrv_httpc_close(p2);
    netsrv_httpc_free(s);

    tu_stop(&ts);
    netsrv_server_free(srv);
    return done_testing();
}
