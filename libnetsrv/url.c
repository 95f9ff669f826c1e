/* url.c - a link as written in a page, resolved against the page's URL
 * (RFC 3986 section 5: relative paths, "..", "//host", "?q", "#f"), in one
 * spelling so that a crawler's seen set knows it: scheme and host in lower
 * case, an empty http path as "/", and the bytes a URL may not hold
 * (spaces, controls, non-ASCII) percent-encoded as browsers send them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netsrv.h"

/* A reference split as in RFC 3986 appendix B; NULL parts are absent
 * (an empty query "?" is present and empty). */
struct url_parts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_len, auth_len, path_len, query_len, frag_len;
};

static int url_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void url_split(const char *s, size_t len, struct url_parts *u)
{
    size_t i = 0, j;

    memset(u, 0, sizeof *u);
    /* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    if (len > 0 && url_alpha((unsigned char)s[0])) {
        for (j = 1; j < len && (url_alpha((unsigned char)s[j]) || (s[j] >= '0' && s[j] <= '9') ||
                                s[j] == '+' || s[j] == '-' || s[j] == '.'); j++)
            ;
        if (j < len && s[j] == ':') {
            u->scheme = s;
            u->scheme_len = j;
            i = j + 1;
        }
    }
    if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        for (j = i; j < len && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++)
            ;
        u->auth = s + i;
        u->auth_len = j - i;
        i = j;
    }
    for (j = i; j < len && s[j] != '?' && s[j] != '#'; j++)
        ;
    u->path = s + i;
    u->path_len = j - i;
    i = j;
    if (i < len && s[i] == '?') {
        for (j = ++i; j < len && s[j] != '#'; j++)
            ;
        u->query = s + i;
        u->query_len = j - i;
        i = j;
    }
    if (i < len && s[i] == '#') {
        u->frag = s + i + 1;
        u->frag_len = len - i - 1;
    }
}

/* RFC 3986 5.2.4 remove_dot_segments, in place on p[0..n); returns the
 * new length. */
static size_t url_remove_dots(char *p, size_t n)
{
    size_t i = 0, o = 0;

    while (i < n) {
        if (n - i >= 3 && memcmp(p + i, "../", 3) == 0)
            i += 3;
        else if (n - i >= 2 && memcmp(p + i, "./", 2) == 0)
            i += 2;
        else if (n - i >= 3 && memcmp(p + i, "/./", 3) == 0)
            i += 2;
        else if (n - i == 2 && memcmp(p + i, "/.", 2) == 0) {
            p[i + 1] = '/';
            i += 1;
        } else if ((n - i >= 4 && memcmp(p + i, "/../", 4) == 0) ||
                   (n - i == 3 && memcmp(p + i, "/..", 3) == 0)) {
            /* Drop the last output segment, and its '/'. */
            if (n - i == 3) {
                p[i + 2] = '/';
                i += 2;
            } else {
                i += 3;
            }
            while (o > 0 && p[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if ((n - i == 1 && p[i] == '.') || (n - i == 2 && memcmp(p + i, "..", 2) == 0)) {
            i = n;
        } else {
            /* Move the first segment ("/seg" or "seg") to the output. */
            size_t j = i + (p[i] == '/' ? 1 : 0);

            while (j < n && p[j] != '/')
                j++;
            memmove(p + o, p + i, j - i);
            o += j - i;
            i = j;
        }
    }
    return o;
}

static int url_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char url_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

struct url_out {
    char *buf;
    size_t cap, len;
    int over;
};

/* Appends s[0..n); with enc, bytes a URL cannot carry as they are become
 * %XX (and '%' not followed by two hex digits becomes %25). */
static void url_put(struct url_out *o, const char *s, size_t n, int enc, int lower)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (enc && (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c))) {
            if (o->len + 3 >= o->cap) {
                o->over = 1;
                return;
            }
            o->buf[o->len++] = '%';
            o->buf[o->len++] = hex[c >> 4];
            o->buf[o->len++] = hex[c & 15];
            continue;
        }
        /* A host's %XX keeps upper-case hex (RFC 3986 6.2.2.1): lowering
         * it with the rest made "%E4" (as encoded above) and "%e4" two
         * spellings, and resolving a URL again changed it. */
        if (lower && c == '%' && n - i > 2 && url_hex(s[i + 1]) && url_hex(s[i + 2])) {
            if (o->len + 3 >= o->cap) {
                o->over = 1;
                return;
            }
            o->buf[o->len++] = '%';
            o->buf[o->len++] = url_upper(s[i + 1]);
            o->buf[o->len++] = url_upper(s[i + 2]);
            i += 2;
            continue;
        }
        if (o->len + 1 >= o->cap) {
            o->over = 1;
            return;
        }
        o->buf[o->len++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
}

ssize_t netsrv_url_resolve(const char *base, size_t base_len, const char *ref, size_t ref_len,
                           unsigned flags, char *out, size_t cap)
{
    struct url_parts b, r, t;
    struct url_out o = { out, cap, 0, 0 };
    char *path = NULL, *clean = NULL;
    size_t plen = 0, k, w;
    int http;

    /* HTML strips the whitespace around an attribute's URL, and drops
     * tabs and newlines inside it. */
    while (ref_len > 0 && (unsigned char)ref[0] <= 0x20) {
        ref++;
        ref_len--;
    }
    while (ref_len > 0 && (unsigned char)ref[ref_len - 1] <= 0x20)
        ref_len--;
    if (!(clean = malloc(ref_len + 1)))
        return -ENOMEM;
    for (k = 0, w = 0; k < ref_len; k++)
        if (ref[k] != '\t' && ref[k] != '\n' && ref[k] != '\r')
            clean[w++] = ref[k];
    ref = clean;
    ref_len = w;

    url_split(base, base_len, &b);
    url_split(ref, ref_len, &r);
    if (!b.scheme) {
        free(clean);
        return -EINVAL;
    }
    /* RFC 3986 5.2.2, strict: a reference with a scheme stands alone. */
    if (r.scheme) {
        t = r;
    } else {
        t.scheme = b.scheme;
        t.scheme_len = b.scheme_len;
        t.frag = r.frag;
        t.frag_len = r.frag_len;
        if (r.auth) {
            t.auth = r.auth;
            t.auth_len = r.auth_len;
            t.path = r.path;
            t.path_len = r.path_len;
            t.query = r.query;
            t.query_len = r.query_len;
        } else {
            t.auth = b.auth;
            t.auth_len = b.auth_len;
            if (r.path_len == 0) {
                t.path = b.path;
                t.path_len = b.path_len;
                t.query = r.query ? r.query : b.query;
                t.query_len = r.query ? r.query_len : b.query_len;
            } else {
                t.query = r.query;
                t.query_len = r.query_len;
                if (r.path[0] == '/') {
                    t.path = r.path;
                    t.path_len = r.path_len;
                } else {
                    /* 5.2.3 merge: the base path up to its last '/'. */
                    size_t keep = b.path_len;

                    while (keep > 0 && b.path[keep - 1] != '/')
                        keep--;
                    if (!(path = malloc(keep + r.path_len + 2))) {
                        free(clean);
                        return -ENOMEM;
                    }
                    if (b.auth && b.path_len == 0)
                        path[plen++] = '/';
                    memcpy(path + plen, b.path, keep);
                    plen += keep;
                    memcpy(path + plen, r.path, r.path_len);
                    plen += r.path_len;
                    t.path = path;
                    t.path_len = plen;
                }
            }
        }
    }
    if (!path) {
        if (!(path = malloc(t.path_len + 1))) {
            free(clean);
            return -ENOMEM;
        }
        memcpy(path, t.path, t.path_len);
    }
    plen = url_remove_dots(path, t.path_len);

    http = (t.scheme_len == 4 && strncasecmp(t.scheme, "http", 4) == 0) ||
           (t.scheme_len == 5 && strncasecmp(t.scheme, "https", 5) == 0);
    url_put(&o, t.scheme, t.scheme_len, 0, 1);
    url_put(&o, ":", 1, 0, 0);
    if (t.auth) {
        url_put(&o, "//", 2, 0, 0);
        url_put(&o, t.auth, t.auth_len, 1, 1);
    }
    if (plen == 0 && http && t.auth)
        url_put(&o, "/", 1, 0, 0);
    /* Without an authority a path starting "//" would be read back as one
     * ("http:/.//evil/x" resolved to "http://evil/x", another host): as
     * the WHATWG URL standard does, "/." goes before such a path. */
    if (!t.auth && plen >= 2 && path[0] == '/' && path[1] == '/')
        url_put(&o, "/.", 2, 0, 0);
    url_put(&o, path, plen, 1, 0);
    if (t.query) {
        url_put(&o, "?", 1, 0, 0);
        url_put(&o, t.query, t.query_len, 1, 0);
    }
    if (t.frag && !(flags & NETSRV_URL_NO_FRAGMENT)) {
        url_put(&o, "#", 1, 0, 0);
        url_put(&o, t.frag, t.frag_len, 1, 0);
    }
    free(path);
    free(clean);
    if (o.over || cap == 0)
        return -ENAMETOOLONG;
    out[o.len] = '\0';
    return (ssize_t)o.len;
}
