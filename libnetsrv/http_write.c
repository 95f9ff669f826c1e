/* http_write.c - the writing side of HTTP/1.1: status texts, a response's
 * or a request's head, and chunked bodies.  Everything goes through the
 * connection's buffered stream.  Names and values are checked before a
 * byte is written, so a value holding a line break can never smuggle a
 * header (or a whole response) in after it. */
#include "config.h"
#include "http_int.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *netsrv_http_status_text(int status)
{
    if (status < 100 || status > 999)
        return "";
    const char *s = http_status_str((enum http_status)status);
    return strcmp(s, "<unknown>") == 0 ? "" : s;
}

/* RFC 9110's tchar as a table: header names are checked on every
 * response, and a lookup is cheaper than the comparisons. */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

static int is_token(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!tchar[(unsigned char)s[i]])
            return 0;
    return 1;
}

/* Text that must stay on its line: no CR, LF or NUL.  Eight bytes at a
 * time: a word with no byte below 0x0e (CR + 1) holds none of them, and
 * values are checked on every response. */
static int one_line(const char *s, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        /* nonzero when some byte of w is below 0x0e */
        if (((w - ones * 0x0e) & ~w & highs) == 0)
            continue;
        for (size_t k = i; k < i + 8; k++)
            if (s[k] == '\r' || s[k] == '\n' || s[k] == '\0')
                return 0;
    }
    for (; i < len; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return 0;
    return 1;
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

/* A head is put together in one piece when it fits here, so the stream
 * gets one write instead of four per header line. */
#define HEAD_ASSEMBLY 2048

static ssize_t put_headers(netsrv_conn *c, const netsrv_http_header *h, size_t n, ssize_t total)
{
    size_t need = 2;
    for (size_t i = 0; i < n && need <= HEAD_ASSEMBLY; i++)
        need += h[i].name_len + h[i].value_len + 4;
    if (need <= HEAD_ASSEMBLY && total >= 0) {
        char buf[HEAD_ASSEMBLY];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(buf + k, h[i].name, h[i].name_len);
            k += h[i].name_len;
            buf[k++] = ':';
            buf[k++] = ' ';
            if (h[i].value_len)
                memcpy(buf + k, h[i].value, h[i].value_len);
            k += h[i].value_len;
            buf[k++] = '\r';
            buf[k++] = '\n';
        }
        buf[k++] = '\r';
        buf[k++] = '\n';
        put(c, buf, k, &total);
        return total;
    }
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
    /* "HTTP/1.1 NNN reason\r\n" without snprintf: status is 100-999. */
    char line[16 + 512];
    ssize_t total = 0;
    memcpy(line, "HTTP/1.1 ", 9);
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    line[12] = ' ';
    if (rlen <= sizeof line - 15) {
        memcpy(line + 13, reason, rlen);
        memcpy(line + 13 + rlen, "\r\n", 2);
        put(c, line, 15 + rlen, &total);
    } else {
        put(c, line, 13, &total);
        put(c, reason, rlen, &total);
        put(c, "\r\n", 2, &total);
    }
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
