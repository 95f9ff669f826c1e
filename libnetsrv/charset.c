/* charset.c - which character set a page is in, and the page in UTF-8:
 * the charset parameter of its Content-Type, else a byte-order mark or a
 * <meta charset> / http-equiv declaration in its first bytes (as browsers
 * look for it), converted with the C library's iconv.  Labels are mapped
 * the way browsers map them (WHATWG Encoding), since pages declare
 * "gb2312" and "iso-8859-1" but are written in GBK and windows-1252.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netsrv.h"

/* Browsers look for a <meta> declaration in the first 1024 bytes. */
#define CS_SNIFF_BYTES 1024

static int cs_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The first place in s[0..len) that word (lower case) starts, any case. */
static const char *cs_find(const char *s, size_t len, const char *word)
{
    size_t w = strlen(word);

    for (size_t i = 0; i + w <= len; i++) {
        size_t k = 0;

        while (k < w && cs_lower((unsigned char)s[i + k]) == word[k])
            k++;
        if (k == w)
            return s + i;
    }
    return NULL;
}

static int cs_label_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':' || c == '+';
}

/* After "charset" at p (end: end): [spaces] = [spaces] [quote] LABEL;
 * copies LABEL into out and returns 1, else 0. */
static int cs_label_after(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;

    p += 7;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != '=')
        return 0;
    p++;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '"' || *p == '\''))
        p++;
    while (p < end && cs_label_char((unsigned char)*p) && n + 1 < cap)
        out[n++] = *p++;
    out[n] = '\0';
    return n > 0;
}

int netsrv_charset_find(const char *content_type, size_t ct_len, const char *body, size_t len,
                        char *out, size_t cap)
{
    const char *p, *end, *tag;

    if (cap < 2)
        return -ENOSPC;
    out[0] = '\0';
    if (content_type && (p = cs_find(content_type, ct_len, "charset")) &&
        cs_label_after(p, content_type + ct_len, out, cap))
        return NETSRV_CHARSET_HEADER;
    if (!body)
        return NETSRV_CHARSET_NONE;
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        snprintf(out, cap, "UTF-8");
        return NETSRV_CHARSET_BOM;
    }
    if (len >= 2 && (memcmp(body, "\xFF\xFE", 2) == 0 || memcmp(body, "\xFE\xFF", 2) == 0)) {
        snprintf(out, cap, body[0] == '\xFF' ? "UTF-16LE" : "UTF-16BE");
        return NETSRV_CHARSET_BOM;
    }
    if (len > CS_SNIFF_BYTES)
        len = CS_SNIFF_BYTES;
    end = body + len;
    /* <meta charset="x"> and <meta http-equiv="Content-Type"
     * content="text/html; charset=x"> alike: a "charset=" inside the tag. */
    for (p = body; (tag = cs_find(p, (size_t)(end - p), "<meta")) != NULL; p = tag + 5) {
        const char *close = memchr(tag, '>', (size_t)(end - tag));
        const char *tend = close ? close : end;
        const char *c = cs_find(tag, (size_t)(tend - tag), "charset");

        if (c && cs_label_after(c, tend, out, cap))
            return NETSRV_CHARSET_META;
    }
    return NETSRV_CHARSET_NONE;
}

/* Labels pages use for what is really a superset, and the name glibc's
 * iconv knows that superset by. */
static const struct {
    const char *label, *iconv;
} cs_aliases[] = {
    { "ascii", "CP1252" },      { "big5", "BIG5-HKSCS" },  { "chinese", "GBK" },
    { "cp819", "CP1252" },      { "csgb2312", "GBK" },     { "euc-kr", "CP949" },
    { "gb2312", "GBK" },        { "gb_2312", "GBK" },      { "gb_2312-80", "GBK" },
    { "iso-8859-1", "CP1252" }, { "iso8859-1", "CP1252" }, { "iso_8859-1", "CP1252" },
    { "l1", "CP1252" },         { "latin1", "CP1252" },    { "ms_kanji", "CP932" },
    { "shift_jis", "CP932" },   { "sjis", "CP932" },       { "us-ascii", "CP1252" },
    { "windows-1252", "CP1252" }, { "windows-31j", "CP932" }, { "x-gbk", "GBK" },
    { "x-sjis", "CP932" },
};

int netsrv_charset_is_utf8(const char *name)
{
    return strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0 ||
           strcasecmp(name, "unicode-1-1-utf-8") == 0;
}

int netsrv_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        unsigned c = *p;
        size_t n;

        /* ASCII runs a word at a time: most of a page is ASCII. */
        if (c < 0x80) {
            while (end - p >= 8) {
                unsigned long long w;

                memcpy(&w, p, 8);
                if (w & 0x8080808080808080ull)
                    break;
                p += 8;
            }
            while (p < end && *p < 0x80)
                p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3;
        else
            return 0;
        if ((size_t)(end - p) <= n)
            return 0;
        for (size_t k = 1; k <= n; k++)
            if ((p[k] & 0xc0) != 0x80)
                return 0;
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
            (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
            return 0;
        p += n + 1;
    }
    return 1;
}

int netsrv_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                           size_t *outlen, char *err, size_t errlen)
{
    const char *name = charset;
    char *buf, *ip = (char *)in, *op;
    size_t cap, il = len, ol, i;
    iconv_t cd;

    *out = NULL;
    *outlen = 0;
    for (i = 0; i < sizeof cs_aliases / sizeof cs_aliases[0]; i++)
        if (strcasecmp(charset, cs_aliases[i].label) == 0)
            name = cs_aliases[i].iconv;
    if ((cd = iconv_open("UTF-8", name)) == (iconv_t)-1) {
        if (err && errlen)
            snprintf(err, errlen, "unknown character set '%s'", charset);
        return errno == ENOMEM ? -ENOMEM : -ENOENT;
    }
    /* Two bytes of most legacy sets are at most three of UTF-8, and one
     * byte of a single-byte set at most three: grown when not enough. */
    cap = len + len / 2 + 16;
    if (!(buf = malloc(cap))) {
        iconv_close(cd);
        return -ENOMEM;
    }
    op = buf;
    ol = cap;
    while (il > 0) {
        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
            break;
        if (errno == E2BIG || ol < 3) {
            size_t used = (size_t)(op - buf);
            char *nb = realloc(buf, cap * 2);

            if (!nb) {
                free(buf);
                iconv_close(cd);
                return -ENOMEM;
            }
            buf = nb;
            op = buf + used;
            ol += cap;
            cap *= 2;
            continue;
        }
        /* A byte that is no character of the set (EILSEQ), or a sequence
         * cut off by the end (EINVAL): U+FFFD for it, as browsers show. */
        memcpy(op, "\xEF\xBF\xBD", 3);
        op += 3;
        ol -= 3;
        ip++;
        il--;
    }
    iconv_close(cd);
    *out = buf;
    *outlen = (size_t)(op - buf);
    return 0;
}
