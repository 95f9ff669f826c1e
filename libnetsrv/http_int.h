/* http_int.h - what the HTTP files share and the public header must not
 * show: http-parser itself (netsrv.h keeps its state as opaque bytes, so
 * programs using libnetsrv need not find <http_parser.h>) and small
 * locale-free ASCII helpers.  Not installed. */
#ifndef NETSRV_HTTP_INT_H
#define NETSRV_HTTP_INT_H

#include "netsrv.h"
#include <http_parser.h>
#include <stddef.h>

_Static_assert(sizeof(http_parser) <= sizeof(((netsrv_http_msg *)0)->priv.parser),
               "netsrv_http_msg has no room for an http_parser");
_Static_assert(sizeof(http_parser) <= sizeof(((netsrv_http_body *)0)->priv.parser),
               "netsrv_http_body has no room for an http_parser");

/* Where a netsrv_http_msg's parse stands (priv.state). */
enum {
    NETSRV__HTTP_PARSING,
    NETSRV__HTTP_HEADERS,   /* paused on the head's last byte */
    NETSRV__HTTP_DONE,
    NETSRV__HTTP_FAILED,
    NETSRV__HTTP_BADMETHOD  /* an unknown method: reading on to tell 400 from 501 */
};

static inline http_parser *netsrv__msg_parser(netsrv_http_msg *m)
{
    return (http_parser *)(void *)m->priv.parser.bytes;
}

static inline http_parser *netsrv__body_parser(netsrv_http_body *b)
{
    return (http_parser *)(void *)b->priv.parser.bytes;
}

/* ASCII only, whatever the locale: header names and tokens are ASCII, and
 * tolower() under some locales maps 'I' elsewhere. */
static inline int netsrv__lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* 1 when a[0..alen) and b[0..blen) are equal ignoring ASCII case. */
static inline int netsrv__http_caseeq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (netsrv__lower((unsigned char)a[i]) != netsrv__lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* RFC 9110's tchar: the characters of a token (method, header name). */
static inline int netsrv__http_tchar(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    }
    return 0;
}

static inline int netsrv__http_ows(int c)
{
    return c == ' ' || c == '\t';
}

/* Header values come from http-parser with the whitespace after the colon
 * gone but the whitespace before the line end still there. */
static inline void netsrv__http_trim(netsrv_http_header *h)
{
    while (h->value_len && netsrv__http_ows((unsigned char)h->value[h->value_len - 1]))
        h->value_len--;
}

/* Steps through a comma-separated list (RFC 9110 5.6.1): puts the next
 * non-empty element of [*p, end), without the whitespace around it, in
 * [*a, *b) and returns 1, or returns 0 at the end.  Commas inside quoted
 * strings do not split. */
int netsrv__http_list_next(const char **p, const char *end, const char **a, const char **b);

#endif /* NETSRV_HTTP_INT_H */
