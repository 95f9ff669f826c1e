/* files_proto.c - the lines of the files protocol, without any I/O: parsing
 * and writing requests ("GET NAME [OFFSET]"), parsing replies ("OK SIZE
 * SHA256" or "ERR CODE TEXT").  The server's handler and the client share
 * them, so both sides read the protocol the same way.  Nothing allocates,
 * nothing reads past the length it was given (the tests check that at a
 * guard page).
 */
#include "config.h"
#include "hex.h"
#include "netsrv.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The largest off_t, without assuming its width. */
#define OFF_MAX_VALUE ((off_t)(((uint64_t)1 << (sizeof(off_t) * 8 - 1)) - 1))


/* Parses a decimal count of at most 19 digits, nothing else, into *out.
 * No sign, no spaces: one spelling per number keeps both sides honest. */
static int parse_count(const char *p, const char *end, off_t *out)
{
    uint64_t v = 0;

    if (p == end || end - p > 19)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > (uint64_t)OFF_MAX_VALUE)
        return -1;
    *out = (off_t)v;
    return 0;
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t more;
        unsigned char lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return 0;
        if (n - i - 1 < more)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= more; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return 0;
        i += more + 1;
    }
    return 1;
}

static int refuse(const char **why, const char *text, int code)
{
    if (why)
        *why = text;
    return code;
}

int netsrv_files_parse_request(const char *line, size_t len, char *name, size_t namecap,
                               off_t *offset, const char **why)
{
    const char *p = line, *end = line + len, *tok;
    size_t n = 0;

    *offset = 0;
    if (namecap)
        name[0] = '\0';
    if (len > NETSRV_FILES_LINE_MAX)
        return refuse(why, "request line too long", NETSRV_FILES_TOO_LONG);
    if (end > p && end[-1] == '\n')
        end--;
    if (end > p && end[-1] == '\r')
        end--;
    /* Raw control bytes have no place in a line: names carry them
     * percent-encoded, so a raw one means garbage, not a name. */
    for (const char *q = p; q < end; q++) {
        if (*q == '\0')
            return refuse(why, "NUL byte in the request", NETSRV_FILES_BAD_REQUEST);
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return refuse(why, "control byte in the request", NETSRV_FILES_BAD_REQUEST);
    }
    if (end - p < 4 || memcmp(p, "GET ", 4) != 0)
        return refuse(why, "unknown request (the protocol has GET NAME [OFFSET])",
                      NETSRV_FILES_BAD_REQUEST);
    p += 4;
    tok = p;
    while (p < end && *p != ' ')
        p++;
    if (p == tok)
        return refuse(why, "missing name", NETSRV_FILES_BAD_REQUEST);

    for (const char *q = tok; q < p; q++) {
        unsigned char c = (unsigned char)*q;

        if (c == '%') {
            int hi = p - q >= 3 ? netsrv__hexval((unsigned char)q[1]) : -1;
            int lo = p - q >= 3 ? netsrv__hexval((unsigned char)q[2]) : -1;

            if (hi < 0 || lo < 0)
                return refuse(why, "bad percent-encoding in the name", NETSRV_FILES_BAD_REQUEST);
            c = (unsigned char)(hi << 4 | lo);
            q += 2;
            if (c == 0)
                return refuse(why, "NUL byte in the name", NETSRV_FILES_BAD_REQUEST);
        }
        if (n >= NETSRV_FILES_NAME_MAX || n + 1 >= namecap)
            return refuse(why, "name too long", NETSRV_FILES_TOO_LONG);
        name[n++] = (char)c;
    }
    name[n] = '\0';

    if (p < end) { /* p is at the space before OFFSET */
        if (parse_count(p + 1, end, offset) < 0)
            return refuse(why, "bad offset (want a decimal byte count)",
                          NETSRV_FILES_BAD_REQUEST);
    }
    if (!utf8_valid((const unsigned char *)name, n))
        return refuse(why, "name is not UTF-8", NETSRV_FILES_BAD_REQUEST);
    if (name[0] == '/')
        return refuse(why, "absolute name refused", NETSRV_FILES_REFUSED);
    for (const char *c = name; *c;) {
        size_t k = strcspn(c, "/");

        if (k == 2 && c[0] == '.' && c[1] == '.')
            return refuse(why, "'..' in the name refused", NETSRV_FILES_REFUSED);
        if (k > NAME_MAX)
            return refuse(why, "a part of the name is too long", NETSRV_FILES_TOO_LONG);
        c += k;
        while (*c == '/')
            c++;
    }
    if (why)
        *why = NULL;
    return 0;
}

ssize_t netsrv_files_format_request(char *buf, size_t cap, const char *name, off_t offset)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t n = 0, limit = cap < NETSRV_FILES_LINE_MAX + 1 ? cap : NETSRV_FILES_LINE_MAX + 1;
    char tail[32];
    int tl;

    if (!name || !*name || offset < 0)
        return -EINVAL;
    /* What the line needs after the name: " OFFSET\n" and the NUL. */
    tl = snprintf(tail, sizeof tail, " %lld\n", (long long)offset);
    if (tl < 0 || limit < 4 + (size_t)tl + 1)
        return -ENAMETOOLONG;
    memcpy(buf, "GET ", 4);
    n = 4;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        /* Spaces separate the fields, control bytes and '%' would be
         * read as something else: those travel as %XX. */
        int enc = *p <= 0x20 || *p == 0x7f || *p == '%';

        if (n + (enc ? 3 : 1) + (size_t)tl + 1 > limit)
            return -ENAMETOOLONG;
        if (enc) {
            buf[n++] = '%';
            buf[n++] = digits[*p >> 4];
            buf[n++] = digits[*p & 15];
        } else {
            buf[n++] = (char)*p;
        }
    }
    memcpy(buf + n, tail, (size_t)tl + 1);
    return (ssize_t)(n + (size_t)tl);
}

int netsrv_files_parse_reply(const char *line, size_t len, netsrv_files_reply *out)
{
    const char *p = line, *end = line + len, *sp;

    memset(out, 0, sizeof *out);
    if (end > p && end[-1] == '\n')
        end--;
    if (end > p && end[-1] == '\r')
        end--;
    if (end - p >= 3 && memcmp(p, "OK ", 3) == 0) {
        p += 3;
        sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp || parse_count(p, sp, &out->size) < 0)
            return -EPROTO;
        if (netsrv_sha256_parse(sp + 1, (size_t)(end - sp - 1), out->sha256) < 0)
            return -EPROTO;
        out->code = 0;
        return 0;
    }
    if (end - p >= 7 && memcmp(p, "ERR ", 4) == 0) {
        int code = 0;

        for (int i = 4; i < 7; i++) {
            if (p[i] < '0' || p[i] > '9')
                return -EPROTO;
            code = code * 10 + (p[i] - '0');
        }
        if (code < 100 || (end - p > 7 && p[7] != ' '))
            return -EPROTO;
        out->code = code;
        size_t k = 0;

        /* The text goes to terminals and logs: control bytes do not. */
        for (p = end - p > 7 ? p + 8 : end; p < end && k + 1 < sizeof out->text; p++) {
            unsigned char c = (unsigned char)*p;

            out->text[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        out->text[k] = '\0';
        return 0;
    }
    return -EPROTO;
}
