/* http_dir.c - a directory's listing, in HTML for browsers or in JSON for
 * programs that ask for it in Accept.  Only what could be fetched is
 * listed: no dotfiles, no symlinks out of the root, no FIFOs or devices.
 * Names are escaped for HTML and percent-encoded in links, so any bytes a
 * name holds (UTF-8 or not) show as text and link to the file itself. */
#include "config.h"
#include "httpd.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A listing stops here (and says so): the answer must stay bounded. */
#define LIST_MAX 100000

struct entry {
    size_t name;     /* offset in the names buffer (it moves while it grows) */
    const char *ptr; /* the name, once the buffer is complete */
    size_t len;
    int dir;
    long long size;
    time_t mtime;
};

/* Directories first, then by name, byte by byte (code points for UTF-8). */
static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->dir != y->dir)
        return y->dir - x->dir;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The q-value in "type/sub;a=b;q=0.5" parameters, 1000ths; 1000 when none. */
static int qvalue(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            int q = 0, scale = 1000;
            if (p < end && *p >= '0' && *p <= '1')
                q = (*p++ - '0') * 1000;
            if (p < end && *p == '.') {
                p++;
                for (int i = 0; i < 3 && p < end && *p >= '0' && *p <= '9'; i++, p++)
                    q += (*p - '0') * (scale /= 10);
            }
            return q > 1000 ? 1000 : q;
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1000;
}

/* ASCII case-insensitive equality of n bytes, whatever the locale. */
static int caseeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z')
            y += 'a' - 'A';
        if (x != y)
            return 0;
    }
    return 1;
}

/* How well one media range a[0..alen) of an Accept header fits type
 * ("major/minor"): 3 exactly, 2 as "major/ *", 1 as "* / *", 0 not at all. */
static int fit(const char *a, size_t alen, const char *type, size_t major)
{
    size_t tlen = strlen(type);
    if (alen == tlen && caseeq(a, type, tlen))
        return 3;
    if (alen == major + 2 && caseeq(a, type, major + 1) && a[major + 1] == '*')
        return 2;
    if (alen == 3 && memcmp(a, "*/*", 3) == 0)
        return 1;
    return 0;
}

/* For type: the q-value of the most specific range that fits it, and that
 * range's position in the list. */
static void preference(const char *v, size_t len, const char *type, int *q, int *pos)
{
    const char *p = v, *end = v + len;
    size_t major = (size_t)(strchr(type, '/') - type);
    int best = 0, i = 0;
    *q = 0;
    *pos = INT_MAX;
    while (p < end) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        if (!e)
            e = end;
        const char *a = p, *semi;
        while (a < e && (*a == ' ' || *a == '\t'))
            a++;
        for (semi = a; semi < e && *semi != ';' && *semi != ' ' && *semi != '\t'; semi++)
            ;
        int f = fit(a, (size_t)(semi - a), type, major);
        if (f > best) {
            best = f;
            *q = qvalue(semi, e);
            *pos = i;
        }
        i++;
        p = e < end ? e + 1 : end;
    }
}

/* JSON when Accept ranks application/json above text/html: a higher
 * q-value, or the same one with json named first and exactly.  No Accept,
 * or "* / *", is a browser or curl: HTML. */
static int wants_json(const httpd_req *r)
{
    size_t len;
    const char *v = netsrv__httpd_header(r, HTTPD_H_ACCEPT, &len);
    if (!v)
        return 0;
    int qj, pj, qh, ph;
    preference(v, len, "application/json", &qj, &pj);
    preference(v, len, "text/html", &qh, &ph);
    if (qj == 0)
        return 0;
    return qj > qh || (qj == qh && pj < ph);
}

/* "2024-05-01 12:34" in UTC, without the locale's help. */
static void list_date(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100);
}

/* JSON text of s: escaped, and invalid UTF-8 bytes replaced with U+FFFD
 * (the entry's href keeps the exact bytes). */
static void json_str(httpd_buf *b, const char *s, size_t len)
{
    netsrv__httpd_buf_add(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            netsrv__httpd_buf_add(b, e, 2);
            i++;
        } else if (c < 0x20) {
            netsrv__httpd_buf_printf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            netsrv__httpd_buf_add(b, &s[i], 1);
            i++;
        } else {
            size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
            int good = n > 0 && i + n <= len;
            for (size_t k = 1; good && k < n; k++)
                good = ((unsigned char)s[i + k] & 0xc0) == 0x80;
            if (good && n == 3) { /* no overlongs, no surrogates */
                unsigned char d = (unsigned char)s[i + 1];
                good = !(c == 0xe0 && d < 0xa0) && !(c == 0xed && d >= 0xa0);
            }
            if (good && n == 4) {
                unsigned char d = (unsigned char)s[i + 1];
                good = !(c == 0xf0 && d < 0x90) && !(c == 0xf4 && d >= 0x90);
            }
            if (good) {
                netsrv__httpd_buf_add(b, &s[i], n);
                i += n;
            } else {
                netsrv__httpd_buf_str(b, "\xef\xbf\xbd");
                i++;
            }
        }
    }
    netsrv__httpd_buf_add(b, "\"", 1);
}

static void render_html(httpd_buf *b, const httpd_req *r, const struct entry *e, size_t n, int truncated)
{
    netsrv__httpd_buf_str(b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                             "<meta name=\"viewport\" content=\"width=device-width\"><title>Index of ");
    netsrv__httpd_buf_html(b, r->path, r->path_len);
    netsrv__httpd_buf_str(b, "</title>\n<style>body{font-family:sans-serif;margin:2em}"
                             "td,th{padding:0 1.5em 0 0;text-align:left}td.s{text-align:right}"
                             "</style></head>\n<body><h1>Index of ");
    netsrv__httpd_buf_html(b, r->path, r->path_len);
    netsrv__httpd_buf_str(b, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified (UTC)</th></tr>\n");
    if (r->path_len > 1)
        netsrv__httpd_buf_str(b, "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = e[i].ptr;
        char date[32];
        list_date(e[i].mtime, date, sizeof date);
        netsrv__httpd_buf_str(b, "<tr><td><a href=\"");
        netsrv__httpd_buf_urlenc(b, name, e[i].len, 0);
        if (e[i].dir)
            netsrv__httpd_buf_add(b, "/", 1);
        netsrv__httpd_buf_str(b, "\">");
        netsrv__httpd_buf_html(b, name, e[i].len);
        if (e[i].dir)
            netsrv__httpd_buf_printf(b, "/</a></td><td class=\"s\">-</td><td>%s</td></tr>\n", date);
        else
            netsrv__httpd_buf_printf(b, "</a></td><td class=\"s\">%lld</td><td>%s</td></tr>\n", e[i].size, date);
    }
    netsrv__httpd_buf_str(b, "</table>\n");
    if (truncated)
        netsrv__httpd_buf_printf(b, "<p>(only the first %d entries are listed)</p>\n", LIST_MAX);
    netsrv__httpd_buf_str(b, "</body></html>\n");
}

static void render_json(httpd_buf *b, const httpd_req *r, const struct entry *e, size_t n, int truncated)
{
    netsrv__httpd_buf_str(b, "{\"path\":");
    json_str(b, r->path, r->path_len);
    netsrv__httpd_buf_printf(b, ",\"truncated\":%s,\"entries\":[", truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        const char *name = e[i].ptr;
        netsrv__httpd_buf_str(b, i ? ",\n{\"name\":" : "\n{\"name\":");
        json_str(b, name, e[i].len);
        netsrv__httpd_buf_str(b, ",\"href\":\"");
        netsrv__httpd_buf_urlenc(b, name, e[i].len, 0);
        if (e[i].dir)
            netsrv__httpd_buf_add(b, "/", 1);
        netsrv__httpd_buf_printf(b, "\",\"type\":\"%s\",\"size\":%lld,\"mtime\":%lld}",
                                 e[i].dir ? "directory" : "file", e[i].dir ? 0 : e[i].size,
                                 (long long)e[i].mtime);
    }
    netsrv__httpd_buf_str(b, "\n]}\n");
}

/* The entry's type and size as a request would see them: a symlink is
 * followed as a request's path would be, from the root, and the entry is
 * left out when it leads out of the root or nowhere. */
static int describe(httpd_req *r, int dfd, const char *name, struct stat *st)
{
    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (S_ISLNK(st->st_mode)) {
        int n = snprintf(r->scratch, sizeof r->scratch, "%s%s", r->path + 1, name);
        if (n < 0 || (size_t)n >= sizeof r->scratch)
            return -1;
        int fd = netsrv_open_beneath(r->cfg->priv.root_fd, r->scratch, O_PATH);
        if (fd < 0)
            return -1;
        int rc = fstat(fd, st);
        close(fd);
        if (rc < 0)
            return -1;
    }
    return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ? 0 : -1;
}

int netsrv__httpd_list(httpd_req *r, int dirfd)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return netsrv__httpd_error(r, 500, "cannot read the directory");
    }
    httpd_buf names = { 0 }, body = { 0 };
    struct entry *e = NULL;
    size_t n = 0, cap = 0;
    int truncated = 0, rc;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.') /* ".", "..", and the dotfiles no one gets */
            continue;
        if (describe(r, dirfd, de->d_name, &st) < 0)
            continue;
        if (n == LIST_MAX) {
            truncated = 1;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct entry *ne = realloc(e, ncap * sizeof *e);
            if (!ne) {
                names.failed = 1;
                break;
            }
            e = ne;
            cap = ncap;
        }
        size_t len = strlen(de->d_name);
        e[n] = (struct entry){ names.len, NULL, len, S_ISDIR(st.st_mode), (long long)st.st_size, st.st_mtim.tv_sec };
        netsrv__httpd_buf_add(&names, de->d_name, len);
        n++;
    }
    closedir(d);
    if (names.failed) {
        rc = netsrv__httpd_error(r, 503, "out of memory for a listing");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        e[i].ptr = names.p + e[i].name;
    qsort(e, n, sizeof *e, cmp_entry);
    int json = wants_json(r);
    if (json)
        render_json(&body, r, e, n, truncated);
    else
        render_html(&body, r, e, n, truncated);
    if (body.failed) {
        rc = netsrv__httpd_error(r, 503, "out of memory for a listing");
        goto out;
    }
    netsrv__httpd_add(r, "Content-Type", json ? "application/json" : "text/html; charset=utf-8",
                      json ? 16 : 24);
    netsrv__httpd_add(r, "Vary", "Accept", 6);
    netsrv__httpd_add(r, "Cache-Control", "no-cache", 8);
    rc = netsrv__httpd_send_head(r, 200, (long long)body.len);
    if (rc == 0 && !r->head_only && body.len) {
        ssize_t w = netsrv_write(r->req, body.p, body.len);
        if (w < 0)
            rc = (int)w;
        else
            r->bytes += w;
    }
out:
    free(names.p);
    free(body.p);
    free(e);
    return rc;
}
