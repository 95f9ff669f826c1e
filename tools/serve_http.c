/* serve_http.c - the access log of "nettool serve http": the handler
 * reports each request, and this prints it in the Common Log Format, one
 * line per request in a single write, so lines from threads, loops and
 * fork children never interleave. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"

/* "10/Oct/2000:13:55:36 +0000" for this second, per thread: strftime and
 * localtime_r once a second, not once a request. */
static __thread time_t nt_http_log_sec = -1;
static __thread char nt_http_log_when[40];

static const char *nt_http_log_time(time_t t)
{
    struct tm tm;

    if (t != nt_http_log_sec) {
        if (!localtime_r(&t, &tm) ||
            strftime(nt_http_log_when, sizeof nt_http_log_when, "%d/%b/%Y:%H:%M:%S %z", &tm) == 0)
            snprintf(nt_http_log_when, sizeof nt_http_log_when, "-");
        nt_http_log_sec = t;
    }
    return nt_http_log_when;
}

/* The client's address without its port ("-" for a Unix socket's). */
static void nt_http_log_host(const netsrv_addr *a, char *buf, size_t len)
{
    if (!a || (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6) ||
        getnameinfo((const struct sockaddr *)&a->ss, a->len, buf, len, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, len, "-");
}

/* Appends s[0..len) with quotes, backslashes and bytes outside printable
 * ASCII as \xHH, as nginx does: a request target is the client's text,
 * and must not forge log lines or send escapes to a terminal. */
static size_t nt_http_log_escape(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

void nt_serve_http_log(const netsrv_httpd_entry *e, void *arg)
{
    char line[2048], host[NI_MAXHOST], target[1024], bytes[24];
    size_t n, tlen;
    int k;

    (void)arg;
    nt_http_log_host(e->peer, host, sizeof host);
    if (e->bytes > 0)
        snprintf(bytes, sizeof bytes, "%lld", e->bytes);
    else
        snprintf(bytes, sizeof bytes, "-");
    if (e->method) {
        tlen = nt_http_log_escape(target, sizeof target, e->target, e->target_len);
        k = snprintf(line, sizeof line, "%s - - [%s] \"%s %.*s HTTP/%d.%d\" %d %s\n", host,
                     nt_http_log_time(e->time), e->method, (int)tlen, target, e->major, e->minor,
                     e->status, bytes);
    } else {
        k = snprintf(line, sizeof line, "%s - - [%s] \"-\" %d %s\n", host, nt_http_log_time(e->time),
                     e->status, bytes);
    }
    if (k < 0)
        return;
    n = (size_t)k < sizeof line ? (size_t)k : sizeof line - 1;
    line[n - 1] = '\n';
    for (const char *p = line; n > 0;) {
        ssize_t w = write(STDERR_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}
