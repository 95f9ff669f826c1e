/* http_path.c - from a request target to a file path a static server can
 * trust (percent-decoding, then "." and ".." resolved, never above the
 * root), and a client's URL split into what it dials and what it sends.
 * http_parser_parse_url does the splitting; decoding happens before
 * normalising, so an encoded "%2e%2e" is resolved like a plain "..". */
#include "config.h"
#include "hex.h"
#include "http_int.h"
#include <errno.h>
#include <stdint.h>
#include <string.h>


ssize_t netsrv_http_decode_path(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return -ENAMETOOLONG;
    /* o never passes i, so out may be in. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3)
                return -EINVAL;
            int hi = netsrv__hexval((unsigned char)in[i + 1]), lo = netsrv__hexval((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (c == '/')
                return -EINVAL;
        }
        if (c == '\0')
            return -EINVAL; /* would cut the name short for open() */
        if (o + 1 >= cap)
            return -ENAMETOOLONG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

ssize_t netsrv_http_normalize_path(const char *in, size_t len, char *out, size_t cap)
{
    if (len == 0 || in[0] != '/' || memchr(in, '\0', len))
        return -EINVAL;
    if (cap < 2)
        return -ENAMETOOLONG;
    /* out holds "/" then each kept segment followed by '/'; the last '/'
     * goes at the end unless the path names a directory.  Writing never
     * overtakes reading (o <= i), so out may be in. */
    size_t o = 0, i = 0;
    int dir = 0;
    out[o++] = '/';
    while (i < len) {
        while (i < len && in[i] == '/')
            i++;
        if (i == len) {
            dir = 1;
            break;
        }
        size_t s = i;
        while (i < len && in[i] != '/')
            i++;
        size_t seg = i - s;
        if (seg == 1 && in[s] == '.') {
            dir = 1;
            continue;
        }
        if (seg == 2 && in[s] == '.' && in[s + 1] == '.') {
            if (o == 1)
                return -EACCES; /* above the root */
            o--;
            while (out[o - 1] != '/')
                o--;
            dir = 1;
            continue;
        }
        if (o + seg + 1 > cap) /* the segment and its '/' */
            return -ENAMETOOLONG;
        memmove(out + o, in + s, seg);
        o += seg;
        out[o++] = '/';
        dir = 0;
    }
    if (!dir && o > 1)
        o--;
    if (o >= cap) /* no room left for the NUL */
        return -ENAMETOOLONG;
    out[o] = '\0';
    return (ssize_t)o;
}

static int field(const struct http_parser_url *u, int f)
{
    return (u->field_set & (1u << f)) != 0;
}

ssize_t netsrv_http_target_path(const char *target, size_t len, char *out, size_t cap,
                                const char **query, size_t *query_len)
{
    if (query)
        *query = NULL;
    if (query_len)
        *query_len = 0;
    if (len == 0 || target[0] == '*')
        return -EINVAL;
    if (len > UINT16_MAX) /* http_parser_url's offsets are 16 bits */
        return -ENAMETOOLONG;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(target, len, 0, &u) != 0)
        return -EINVAL;
    if (field(&u, UF_SCHEMA)) {
        const char *s = target + u.field_data[UF_SCHEMA].off;
        size_t n = u.field_data[UF_SCHEMA].len;
        if (!netsrv__http_caseeq(s, n, "http", 4) && !netsrv__http_caseeq(s, n, "https", 5))
            return -EINVAL;
    } else if (target[0] != '/') {
        return -EINVAL;
    }
    const char *path = "/";
    size_t plen = 1;
    if (field(&u, UF_PATH)) {
        path = target + u.field_data[UF_PATH].off;
        plen = u.field_data[UF_PATH].len;
    }
    if (field(&u, UF_QUERY)) {
        if (query)
            *query = target + u.field_data[UF_QUERY].off;
        if (query_len)
            *query_len = u.field_data[UF_QUERY].len;
    }
    ssize_t n = netsrv_http_decode_path(path, plen, out, cap);
    if (n < 0)
        return n;
    return netsrv_http_normalize_path(out, (size_t)n, out, cap);
}

int netsrv_http_parse_url(const char *url, size_t len, netsrv_http_url *u)
{
    memset(u, 0, sizeof *u);
    /* The fragment is never sent, and http-parser refuses "http://h#f". */
    const char *hash = memchr(url, '#', len);
    if (hash)
        len = (size_t)(hash - url);
    if (len == 0 || len > UINT16_MAX)
        return -EINVAL;
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    if (http_parser_parse_url(url, len, 0, &pu) != 0 || !field(&pu, UF_SCHEMA) ||
        !field(&pu, UF_HOST) || pu.field_data[UF_HOST].len == 0)
        return -EINVAL;
    const char *scheme = url + pu.field_data[UF_SCHEMA].off;
    size_t slen = pu.field_data[UF_SCHEMA].len;
    if (netsrv__http_caseeq(scheme, slen, "http", 4))
        u->port = 80;
    else if (netsrv__http_caseeq(scheme, slen, "https", 5))
        u->https = 1, u->port = 443;
    else
        return -EPROTONOSUPPORT;
    size_t hoff = pu.field_data[UF_HOST].off, hlen = pu.field_data[UF_HOST].len;
    u->host = url + hoff;
    u->host_len = hlen;
    u->ipv6 = hoff > 0 && url[hoff - 1] == '[';
    size_t astart = hoff - (size_t)u->ipv6, aend = hoff + hlen + (size_t)u->ipv6;
    if (field(&pu, UF_PORT)) {
        if (pu.port == 0)
            return -EINVAL;
        u->port = pu.port;
        aend = pu.field_data[UF_PORT].off + pu.field_data[UF_PORT].len;
    }
    u->authority = url + astart;
    u->authority_len = aend - astart;
    if (field(&pu, UF_USERINFO)) {
        u->userinfo = url + pu.field_data[UF_USERINFO].off;
        u->userinfo_len = pu.field_data[UF_USERINFO].len;
    }
    size_t qend = field(&pu, UF_QUERY) ? pu.field_data[UF_QUERY].off + pu.field_data[UF_QUERY].len : 0;
    if (field(&pu, UF_PATH)) {
        size_t poff = pu.field_data[UF_PATH].off;
        u->target = url + poff;
        u->target_len = (qend ? qend : poff + pu.field_data[UF_PATH].len) - poff;
    } else if (qend) { /* "http://h?q": netsrv_http_write_request adds the '/' */
        size_t qoff = pu.field_data[UF_QUERY].off - 1;
        u->target = url + qoff;
        u->target_len = qend - qoff;
    } else {
        u->target = "/";
        u->target_len = 1;
    }
    return 0;
}
