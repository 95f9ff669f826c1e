/* scrape_page.c - a page for "nettool scrape": fetched over http(s) with
 * libnetsrv's client (redirects followed, kept connections reused), or
 * read from file:PATH (mapped, not copied) or stdin; only text, at most
 * --max-size bytes; then turned into UTF-8 when it declares another
 * charset, so that one UTF-8 regex serves every page.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netsrv.h>

#include "applets.h"
#include "scrape.h"

void sc_page_free(struct sc_page *pg)
{
    if (pg->map_len)
        munmap(pg->data, pg->map_len);
    else
        free(pg->data);
    pg->data = NULL;
    pg->len = pg->map_len = 0;
}

/* Text is what a regex can say something about: text/ types, and the
 * structured-text types of the web; no type at all is given the benefit
 * of the doubt. */
static int sc_is_text(const char *ct, size_t n)
{
    static const char *const types[] = { "text/", "application/xhtml", "application/xml",
                                          "application/json", "application/javascript",
                                          "application/ld+json", "application/rss",
                                          "application/atom", "image/svg+xml" };

    if (!ct || n == 0)
        return 1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (n >= strlen(types[i]) && strncasecmp(ct, types[i], strlen(types[i])) == 0)
            return 1;
    return 0;
}

/* Reads fd to its end into a malloc'd buffer (stdin, pipes). */
static int sc_read_all(int fd, size_t max, struct sc_page *pg, int *skipped, char *why, size_t len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap), *nb;
    ssize_t r;

    if (!buf) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (!(nb = realloc(buf, cap * 2))) {
                free(buf);
                snprintf(why, len, "out of memory");
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            snprintf(why, len, "%s", strerror(errno));
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            free(buf);
            *skipped = 1;
            snprintf(why, len, "larger than --max-size (%zu bytes): skipped", max);
            return -1;
        }
    }
    pg->data = buf;
    pg->len = n;
    return 0;
}

static int sc_fetch_file(const struct sc_fetch_opts *o, const char *url, struct sc_page *pg,
                         int *skipped, char *why, size_t len)
{
    const char *path = strcmp(url, "-") == 0 ? NULL : url + 5;
    struct stat sb;
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO, rc;

    if (fd < 0) {
        snprintf(why, len, "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        if ((unsigned long long)sb.st_size > o->max_size) {
            *skipped = 1;
            snprintf(why, len, "larger than --max-size (%zu bytes): skipped", o->max_size);
            rc = -1;
        } else {
            /* Mapped: a file of any size costs its page cache, no copy. */
            void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

            if (m == MAP_FAILED) {
                snprintf(why, len, "%s", strerror(errno));
                rc = -1;
            } else {
                madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL | MADV_WILLNEED);
                pg->data = m;
                pg->len = pg->map_len = (size_t)sb.st_size;
                rc = 0;
            }
        }
    } else {
        rc = sc_read_all(fd, o->max_size, pg, skipped, why, len);
    }
    if (path)
        close(fd);
    snprintf(pg->url, sizeof pg->url, "%s", url);
    return rc;
}

/* Starts a GET of url; 0 with *out, or -1 with why. */
static int sc_request(const struct sc_fetch_opts *o, const char *url, netsrv_httpc_resp **out,
                      char *why, size_t len)
{
    netsrv_httpc_req rq;
    char err[NETSRV_ERRLEN] = "";
    int rc;

    netsrv_httpc_req_init(&rq, url);
    rq.follow = 1;
    if (o->timeout > 0)
        rq.deadline = netsrv_now() + o->timeout;
    if ((rc = netsrv_httpc_request(o->http, &rq, out, err, sizeof err)) < 0) {
        snprintf(why, len, "%s", err[0] ? err : netsrv_strerror(rc));
        return -1;
    }
    return 0;
}

#define SC_READ_MIN 65536
#define SC_HUGE (4 << 20)
/* Bytes a page's <meta charset> must be within, as browsers look for it. */
#define SC_SNIFF 1024

/* Reads the body of p (at most max bytes) into pg; with a sink, hands it
 * the bytes as they come once stream says so (called with the first
 * SC_SNIFF bytes, or the whole page when shorter: it returns 1 to stream,
 * 0 to wait for the end). */
static int sc_body(netsrv_httpc_resp *p, size_t max, struct sc_page *pg,
                   int (*stream)(void *arg, struct sc_page *pg), void *sarg,
                   const struct sc_sink *sink, int *skipped, char *why, size_t len)
{
    long long cl = netsrv_httpc_length(p);
    size_t cap, n = 0;
    char *buf, *nb;
    ssize_t r;
    int streaming = 0, decided = !stream;

    if (cl >= 0 && (unsigned long long)cl > max) {
        *skipped = 1;
        snprintf(why, len, "%lld bytes, larger than --max-size (%zu): skipped", cl, max);
        return -1;
    }
    /* A known length is one allocation of that size, else doubling.
     * Every read offers at least SC_READ_MIN bytes: the client reads large
     * requests straight from the socket, and a short last read would go
     * through its buffered decoder instead, which (libnetsrv's httpc as of
     * this writing) does not know of the bytes read directly and waits for
     * them again. */
    cap = cl >= 0 ? (size_t)cl + SC_READ_MIN : 65536;
    if (cl >= SC_HUGE) {
        /* A large page in transparent huge pages where the kernel has
         * them: a fault per 2 MiB instead of one per 4 KiB is most of the
         * cost of taking 100 MB in. */
        void *m = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (m == MAP_FAILED) {
            snprintf(why, len, "out of memory");
            return -1;
        }
        madvise(m, cap, MADV_HUGEPAGE);
        buf = m;
        pg->map_len = cap;
    } else if (!(buf = malloc(cap))) {
        snprintf(why, len, "out of memory");
        return -1;
    }
    for (;;) {
        /* (A known length never gets here: its room was there from the
         * start, and the client reads no byte past it.) */
        if (cap - n < SC_READ_MIN && !pg->map_len) {
            if (!(nb = realloc(buf, cap * 2))) {
                free(buf);
                pg->data = NULL;
                snprintf(why, len, "out of memory");
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        r = netsrv_httpc_read(p, buf + n, cap - n);
        if (r == 0)
            break;
        if (r < 0) {
            const char *e = netsrv_httpc_error(p);

            pg->data = buf;
            sc_page_free(pg);
            snprintf(why, len, "reading the body: %s", e && *e ? e : netsrv_strerror((int)r));
            return -1;
        }
        n += (size_t)r;
        if (n > max) {
            pg->data = buf;
            sc_page_free(pg);
            *skipped = 1;
            snprintf(why, len, "larger than --max-size (%zu bytes): skipped", max);
            return -1;
        }
        pg->data = buf;
        pg->len = n;
        if (!decided && n >= SC_SNIFF) {
            decided = 1;
            streaming = stream(sarg, pg);
        }
        /* Matching while the rest arrives: the scan keeps offsets, so the
         * buffer may move. */
        if (streaming && sink->data(sink->arg, pg, 1) < 0) {
            why[0] = '\0';
            return -1;
        }
    }
    pg->data = buf;
    pg->len = n;
    if (!decided)
        streaming = stream(sarg, pg);
    return streaming;
}

/* The page in UTF-8: --charset, else the declared charset; an unknown
 * one is matched as the bytes it is, after a warning. */
static int sc_charset(const struct sc_fetch_opts *o, const char *url, const char *ct, size_t ctlen,
                      struct sc_page *pg, char *why, size_t len)
{
    char label[64], err[NETSRV_ERRLEN];
    char *out;
    size_t n;
    int rc, where = NETSRV_CHARSET_HEADER;

    if (o->charset)
        snprintf(label, sizeof label, "%s", o->charset);
    else
        where = netsrv_charset_find(ct, ctlen, pg->data, pg->len, label, sizeof label);
    /* Undeclared: UTF-8 when it is (the scan finds out, once). */
    if (where == NETSRV_CHARSET_NONE) {
        pg->utf = 1;
        return 0;
    }
    if (netsrv_charset_is_utf8(label)) {
        pg->utf = 1;
        return 0;
    }
    rc = netsrv_charset_to_utf8(label, pg->data, pg->len, &out, &n, err, sizeof err);
    if (rc == -ENOENT) {
        nt_error("warning: %s: %s: matching its bytes as they are", url, err);
        pg->utf = o->force_utf;
        return 0;
    }
    if (rc < 0) {
        snprintf(why, len, "converting from %s: %s", label, netsrv_strerror(rc));
        return -1;
    }
    sc_page_free(pg);
    pg->data = out;
    pg->len = n;
    pg->utf = 1;
    return 0;
}

struct sc_http_page {
    const struct sc_fetch_opts *o;
    const char *url, *ct;
    size_t ctlen;
    char label[64];
    int where;
};

/* Whether a page may be matched as it arrives: when it is UTF-8 (or
 * declares nothing), which the header, or its first bytes, tell. */
static int sc_stream_ok(void *arg, struct sc_page *pg)
{
    struct sc_http_page *h = arg;

    if (h->o->charset) {
        snprintf(h->label, sizeof h->label, "%s", h->o->charset);
        h->where = NETSRV_CHARSET_HEADER;
    } else {
        h->where = netsrv_charset_find(h->ct, h->ctlen, pg->data, pg->len, h->label,
                                       sizeof h->label);
    }
    pg->utf = 1;
    return h->where == NETSRV_CHARSET_NONE || netsrv_charset_is_utf8(h->label);
}

int sc_fetch(const struct sc_fetch_opts *o, const char *url, struct sc_page *pg,
             const struct sc_sink *sink, int *skipped, char *why, size_t len)
{
    netsrv_httpc_resp *p = NULL;
    struct sc_http_page h;
    int rc;

    memset(pg, 0, sizeof *pg);
    *skipped = 0;
    if (strcmp(url, "-") == 0 || strncmp(url, "file:", 5) == 0) {
        if (sc_fetch_file(o, url, pg, skipped, why, len) < 0 ||
            sc_charset(o, url, NULL, 0, pg, why, len) < 0)
            return -1;
        if (sink->data(sink->arg, pg, 0) < 0) {
            why[0] = '\0';
            return -1;
        }
        return 0;
    }
    if (sc_request(o, url, &p, why, len) < 0)
        return -1;
    pg->status = netsrv_httpc_status(p);
    snprintf(pg->url, sizeof pg->url, "%s", netsrv_httpc_url(p));
    if (pg->status < 200 || pg->status > 299) {
        snprintf(why, len, "HTTP %d %s", pg->status, netsrv_http_status_text(pg->status));
        netsrv_httpc_close(p);
        return -1;
    }
    memset(&h, 0, sizeof h);
    h.o = o;
    h.url = url;
    h.ct = netsrv_httpc_header(p, "Content-Type", &h.ctlen);
    if (!sc_is_text(h.ct, h.ctlen)) {
        *skipped = 1;
        snprintf(why, len, "not text (%.*s): skipped", (int)(h.ctlen > 60 ? 60 : h.ctlen), h.ct);
        netsrv_httpc_close(p);
        return -1;
    }
    rc = sc_body(p, o->max_size, pg, sc_stream_ok, &h, sink, skipped, why, len);
    if (rc == 1) {
        rc = sink->data(sink->arg, pg, 0);
        if (rc < 0)
            why[0] = '\0';
    } else if (rc == 0) {
        /* The header's value lives in the response: settle the charset
         * before closing it. */
        rc = sc_charset(o, url, h.ct, h.ctlen, pg, why, len);
        if (rc == 0 && (rc = sink->data(sink->arg, pg, 0)) < 0)
            why[0] = '\0';
    }
    netsrv_httpc_close(p);
    return rc < 0 ? -1 : 0;
}

int sc_fetch_text(const struct sc_fetch_opts *o, const char *url, char **text, size_t *len)
{
    netsrv_httpc_resp *p;
    struct sc_page pg;
    char why[NETSRV_ERRLEN];
    int status, skipped = 0;

    *text = NULL;
    *len = 0;
    if (sc_request(o, url, &p, why, sizeof why) < 0)
        return -1;
    status = netsrv_httpc_status(p);
    memset(&pg, 0, sizeof pg);
    /* robots.txt files are small; a huge one is read only to 500 KiB, as
     * RFC 9309 lets crawlers do. */
    if (status >= 200 && status <= 299 &&
        sc_body(p, 512 * 1024, &pg, NULL, NULL, NULL, &skipped, why, sizeof why) == 0) {
        *text = pg.data;
        *len = pg.len;
    }
    netsrv_httpc_close(p);
    return status;
}
