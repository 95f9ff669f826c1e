/* http_write.c - the writing side of HTTP/1.1: status texts, a response's
 * or a request's head, and chunked bodies.  Everything goes through the
 * connection's buffered stream.  Names and values are checked before a
 * byte is written, so a value holding a line break can never smuggle a
 * header (or a whole response) in after it. */
#include "config.h"
#include "http_int.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *netsrv_http_status_text(int status)
{
    if (status < 100 || status > 999)
        return "";
    const char *s = http_status_str((enum http_status)status);
    return strcmp(s, "<unknown>") == 0 ? "" : s;
}

static int is_token(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!netsrv__http_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Text that must stay on its line: no CR, LF or NUL. */
static int one_line(const char *s, size_t len)
{
    return !memchr(s, '\r', len) && !memchr(s, '\n', len) && !memchr(s, '\0', len);
}

static int check_headers(const netsrv_http_header *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!h[i].name || !is_token(h[i].name, h[i].name_len) ||
            (h[i].value_len && !h[i].value) || (h[i].value && !one_line(h[i].value, h[i].value_len)))
            return -EINVAL;
    return 0;
}

/* Appends to c and adds to *total; stops at the first error. */
static void put(netsrv_conn *c, const void *p, size_t len, ssize_t *total)
{
    if (*total < 0 || len == 0)
        return;
    ssize_t r = netsrv_write(c, p, len);
    *total = r < 0 ? r : *total + r;
}

static ssize_t put_headers(netsrv_conn *c, const netsrv_http_header *h, size_t n, ssize_t total)
{
    for (size_t i = 0; i < n; i++) {
        put(c, h[i].name, h[i].name_len, &total);
        put(c, ": ", 2, &total);
        put(c, h[i].value, h[i].value_len, &total);
        put(c, "\r\n", 2, &total);
    }
    put(c, "\r\n", 2, &total);
    return total;
}

ssize_t netsrv_http_write_head(netsrv_conn *c, int status, const char *reason,
                               const netsrv_http_header *h, size_t n)
{
    if (!reason)
        reason = netsrv_http_status_text(status);
    size_t rlen = strlen(reason);
    if (status < 100 || status > 999 || !one_line(reason, rlen) || check_headers(h, n) < 0)
        return -EINVAL;
    char line[32];
    int k = snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    ssize_t total = 0;
    put(c, line, (size_t)k, &total);
    put(c, reason, rlen, &total);
    put(c, "\r\n", 2, &total);
    return put_headers(c, h, n, total);
}

ssize_t netsrv_http_write_request(netsrv_conn *c, const char *method, const char *target,
                                  size_t target_len, const netsrv_http_header *h, size_t n)
{
    if (!method || !is_token(method, strlen(method)) || !target || target_len == 0 ||
        check_headers(h, n) < 0)
        return -EINVAL;
    for (size_t i = 0; i < target_len; i++) {
        unsigned char ch = (unsigned char)target[i];
        if (ch <= ' ' || ch == 0x7f)
            return -EINVAL;
    }
    ssize_t total = 0;
    put(c, method, strlen(method), &total);
    put(c, " ", 1, &total);
    if (target[0] == '?')
        put(c, "/", 1, &total);
    put(c, target, target_len, &total);
    put(c, " HTTP/1.1\r\n", 11, &total);
    return put_headers(c, h, n, total);
}

ssize_t netsrv_http_write_chunk(netsrv_conn *c, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    char size[24];
    int k = snprintf(size, sizeof size, "%zx\r\n", len);
    ssize_t total = 0;
    put(c, size, (size_t)k, &total);
    put(c, data, len, &total);
    put(c, "\r\n", 2, &total);
    return total < 0 ? total : (ssize_t)len;
}

ssize_t netsrv_http_write_last_chunk(netsrv_conn *c, const netsrv_http_header *trailers, size_t n)
{
    if (check_headers(trailers, n) < 0)
        return -EINVAL;
    ssize_t total = 0;
    put(c, "0\r\n", 3, &total);
    return put_headers(c, trailers, n, total);
}
