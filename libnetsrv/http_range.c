/* http_range.c - a Range header (RFC 9110 14.2) for one byte range of a
 * file.  A server may always ignore Range and send the whole file, which
 * is what happens to anything this does not take: other units, invalid
 * specs and several ranges at once (that would need multipart/byteranges,
 * which clients rarely ask for and which costs a server more than it
 * saves). */
#include "config.h"
#include "http_int.h"
#include <limits.h>
#include <string.h>

/* Decimal digits at *p (at least one), saturating at LLONG_MAX: a number
 * too large for us is past the end of any file, which is what it means. */
static int digits(const char **p, const char *end, long long *out)
{
    const char *s = *p;
    long long v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        int d = *s - '0';
        v = v > (LLONG_MAX - d) / 10 ? LLONG_MAX : v * 10 + d;
        s++;
    }
    if (s == *p)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

int netsrv_http_range(const char *value, size_t len, long long size, long long *first,
                      long long *last)
{
    const char *end = value + len, *eq = memchr(value, '=', len);
    if (size < 0 || !eq || !netsrv__http_caseeq(value, (size_t)(eq - value), "bytes", 5))
        return NETSRV_HTTP_RANGE_NONE;
    long long f = -1, l = -1, suffix = -1;
    int specs = 0;
    const char *p = eq + 1, *a, *b;
    while (netsrv__http_list_next(&p, end, &a, &b)) {
        if (++specs > 1)
            return NETSRV_HTTP_RANGE_NONE;
        if (*a == '-') {
            a++;
            if (digits(&a, b, &suffix) < 0 || a != b)
                return NETSRV_HTTP_RANGE_NONE;
        } else {
            if (digits(&a, b, &f) < 0 || a == b || *a++ != '-')
                return NETSRV_HTTP_RANGE_NONE;
            if (a < b && (digits(&a, b, &l) < 0 || a != b))
                return NETSRV_HTTP_RANGE_NONE;
            if (l >= 0 && l < f)
                return NETSRV_HTTP_RANGE_NONE; /* "5-3" is invalid: ignored */
        }
    }
    if (specs == 0)
        return NETSRV_HTTP_RANGE_NONE;
    if (suffix >= 0) {
        if (suffix == 0)
            return NETSRV_HTTP_RANGE_UNSATISFIABLE;
        if (size == 0)
            return NETSRV_HTTP_RANGE_NONE;
        *first = suffix >= size ? 0 : size - suffix;
        *last = size - 1;
        return NETSRV_HTTP_RANGE_PARTIAL;
    }
    if (f >= size)
        return NETSRV_HTTP_RANGE_UNSATISFIABLE;
    *first = f;
    *last = l < 0 || l >= size ? size - 1 : l;
    return NETSRV_HTTP_RANGE_PARTIAL;
}
