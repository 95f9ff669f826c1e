/* html.c - HTML character references in text taken from a page (a link's
 * href="a?x=1&amp;y=2" names a?x=1&y=2): numeric ones and the few names
 * that show up in URLs, so a crawler follows the link the browser would.
 */
#include "config.h"

#include <string.h>

#include "netsrv.h"

/* Writes code point c as UTF-8 at out (U+FFFD for what is no character,
 * as HTML's parser does); returns the bytes written. */
static size_t html_utf8(unsigned long c, char *out)
{
    if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        c = 0xfffd;
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static int html_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static const struct {
    const char *name;
    unsigned long code;
    int legacy; /* also recognised without the ';', as browsers do */
} html_names[] = {
    { "amp", '&', 1 }, { "lt", '<', 1 }, { "gt", '>', 1 }, { "quot", '"', 1 },
    { "apos", '\'', 0 }, { "nbsp", 0xa0, 1 }, { "sol", '/', 0 }, { "num", '#', 0 },
    { "quest", '?', 0 }, { "equals", '=', 0 }, { "colon", ':', 0 }, { "period", '.', 0 },
    { "percnt", '%', 0 }, { "plus", '+', 0 }, { "lowbar", '_', 0 }, { "hyphen", '-', 0 },
    { "tilde", '~', 0 }, { "commat", '@', 0 }, { "excl", '!', 0 }, { "dollar", '$', 0 },
    { "comma", ',', 0 }, { "semi", ';', 0 }, { "lpar", '(', 0 }, { "rpar", ')', 0 },
};

/* The reference at in[0..len) (in[0] is '&'): its length, with the
 * character written at out and *n its bytes; 0 when it is no reference. */
static size_t html_ref(const char *in, size_t len, char *out, size_t *n)
{
    size_t i = 1;
    unsigned long c = 0;

    if (i < len && in[i] == '#') {
        int hex = 0, digits = 0;

        i++;
        if (i < len && (in[i] == 'x' || in[i] == 'X')) {
            hex = 1;
            i++;
        }
        for (; i < len; i++, digits++) {
            int ch = (unsigned char)in[i], d;

            if (ch >= '0' && ch <= '9')
                d = ch - '0';
            else if (hex && ch >= 'a' && ch <= 'f')
                d = ch - 'a' + 10;
            else if (hex && ch >= 'A' && ch <= 'F')
                d = ch - 'A' + 10;
            else
                break;
            if (c <= 0x10ffff)
                c = c * (hex ? 16 : 10) + (unsigned long)d;
        }
        if (digits == 0)
            return 0;
        if (i < len && in[i] == ';')
            i++;
        *n = html_utf8(c, out);
        return i;
    }
    for (size_t k = 0; k < sizeof html_names / sizeof html_names[0]; k++) {
        size_t w = strlen(html_names[k].name);

        if (1 + w > len || memcmp(in + 1, html_names[k].name, w) != 0)
            continue;
        if (1 + w < len && in[1 + w] == ';') {
            *n = html_utf8(html_names[k].code, out);
            return w + 2;
        }
        /* "&amp" without its ';' counts, but not in "&ampx" or "&amp=". */
        if (html_names[k].legacy &&
            (1 + w == len || (!html_alnum((unsigned char)in[1 + w]) && in[1 + w] != '='))) {
            *n = html_utf8(html_names[k].code, out);
            return w + 1;
        }
    }
    return 0;
}

size_t netsrv_html_unescape(const char *in, size_t len, char *out)
{
    size_t i = 0, o = 0;

    while (i < len) {
        const char *amp = memchr(in + i, '&', len - i);
        size_t run = amp ? (size_t)(amp - (in + i)) : len - i, used, n = 0;
        char ch[4];

        memmove(out + o, in + i, run);
        o += run;
        i += run;
        if (i >= len)
            break;
        /* Every reference is at least as long as what it stands for, so
         * out never overtakes in (they may be the same buffer). */
        if ((used = html_ref(in + i, len - i, ch, &n)) > 0) {
            memcpy(out + o, ch, n);
            o += n;
            i += used;
        } else {
            out[o++] = in[i++];
        }
    }
    return o;
}
