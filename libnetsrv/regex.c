/* regex.c - PCRE2 patterns for scanning pages: compiled once (JIT when the
 * machine has one, the interpreter when not), then every match of a
 * subject in turn with empty matches stepped over the way Perl's m//g
 * does, also on a subject that is still arriving (PCRE2's hard partial
 * matching says when a match needs bytes not there yet), and a match limit
 * that turns catastrophic backtracking into an error.  The matching itself
 * is all PCRE2's.
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsrv.h"

struct netsrv_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    int jit;
    int utf;
    int groups;
};

/* The JIT's own stack: PCRE2's default of 32 KiB is too small for the
 * nested groups of real patterns; the match limit, not this, is what
 * bounds a runaway. */
#define RE_JIT_STACK_MIN (32 * 1024)
#define RE_JIT_STACK_MAX (4 * 1024 * 1024)

int netsrv_regex_new(netsrv_regex **out, const char *pattern, size_t len, unsigned flags,
                     size_t *erroffset, char *err, size_t errlen)
{
    pcre2_compile_context *cctx;
    netsrv_regex *re;
    uint32_t opts = 0, n = 0;
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE off = 0;
    int ecode = 0;

    *out = NULL;
    if (flags & NETSRV_RE_CASELESS)
        opts |= PCRE2_CASELESS;
    if (flags & NETSRV_RE_MULTILINE)
        opts |= PCRE2_MULTILINE;
    if (flags & NETSRV_RE_DOTALL)
        opts |= PCRE2_DOTALL;
    if (flags & NETSRV_RE_EXTENDED)
        opts |= PCRE2_EXTENDED;
    /* Not PCRE2_MATCH_INVALID_UTF: PCRE2 10.42's JIT misses matches with
     * it ("\\S+ x" in "ab \xc3\xa9 x").  The subject is checked once
     * instead (netsrv_regex_next), and never again per match. */
    if (flags & NETSRV_RE_UTF)
        opts |= PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C;
    if (!(re = calloc(1, sizeof *re)) || !(cctx = pcre2_compile_context_create(NULL))) {
        free(re);
        return -ENOMEM;
    }
    /* Pages come with any of the three line ends; ^ and $ (with -m) and
     * the empty-match step must know a CRLF is one. */
    pcre2_set_newline(cctx, PCRE2_NEWLINE_ANYCRLF);
    re->code = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &ecode, &off, cctx);
    pcre2_compile_context_free(cctx);
    if (!re->code) {
        free(re);
        if (erroffset)
            *erroffset = off;
        if (err && errlen) {
            if (pcre2_get_error_message(ecode, msg, sizeof msg) < 0)
                snprintf((char *)msg, sizeof msg, "error %d", ecode);
            snprintf(err, errlen, "at offset %zu: %s", (size_t)off, (char *)msg);
        }
        return ecode == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -EINVAL;
    }
    re->utf = (flags & NETSRV_RE_UTF) != 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n);
    re->groups = (int)n;
    if (!(re->mctx = pcre2_match_context_create(NULL))) {
        netsrv_regex_free(re);
        return -ENOMEM;
    }
    netsrv_regex_set_limit(re, NETSRV_RE_MATCH_LIMIT);
    /* No JIT on this machine (or PCRE2 built without it) is no error: the
     * interpreter gives the same matches, only slower. */
    if (!(flags & NETSRV_RE_NO_JIT) && pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD) == 0) {
        re->jstack = pcre2_jit_stack_create(RE_JIT_STACK_MIN, RE_JIT_STACK_MAX, NULL);
        if (re->jstack)
            pcre2_jit_stack_assign(re->mctx, NULL, re->jstack);
        re->jit = 1;
    }
    *out = re;
    return 0;
}

void netsrv_regex_free(netsrv_regex *re)
{
    if (!re)
        return;
    if (re->jstack)
        pcre2_jit_stack_free(re->jstack);
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}

int netsrv_regex_jit(const netsrv_regex *re)
{
    return re->jit;
}

int netsrv_regex_groups(const netsrv_regex *re)
{
    return re->groups;
}

int netsrv_regex_group_number(const netsrv_regex *re, const char *name)
{
    int n = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)name);

    /* (?J) allows one name for several groups: the first one answers. */
    if (n == PCRE2_ERROR_NOUNIQUESUBSTRING) {
        PCRE2_SPTR first, last;
        uint32_t size = 0;

        if (pcre2_substring_nametable_scan(re->code, (PCRE2_SPTR)name, &first, &last) > 0 &&
            pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &size) == 0)
            return (first[0] << 8) | first[1];
    }
    return n > 0 ? n : -ENOENT;
}

const char *netsrv_regex_group_name(const netsrv_regex *re, int n)
{
    uint32_t count = 0, size = 0;
    PCRE2_SPTR table = NULL;

    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    /* Each entry: the group number in two bytes, then the name and a NUL. */
    for (uint32_t i = 0; table && i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * size;

        if (((e[0] << 8) | e[1]) == n)
            return (const char *)e + 2;
    }
    return NULL;
}

void netsrv_regex_set_limit(netsrv_regex *re, unsigned limit)
{
    pcre2_set_match_limit(re->mctx, limit);
    pcre2_set_depth_limit(re->mctx, limit);
}

int netsrv_regex_scan_init(netsrv_regex_scan *s, const netsrv_regex *re, const char *subject,
                           size_t len)
{
    memset(s, 0, sizeof *s);
    s->re = re;
    s->subject = subject;
    s->len = len;
    if (!(s->priv.md = pcre2_match_data_create_from_pattern(re->code, NULL)))
        return -ENOMEM;
    s->ovector = pcre2_get_ovector_pointer(s->priv.md);
    return 0;
}

void netsrv_regex_scan_feed(netsrv_regex_scan *s, const char *subject, size_t len, int more)
{
    s->subject = subject;
    s->len = len;
    s->priv.more = more != 0;
}

int netsrv_regex_scan_switch(netsrv_regex_scan *s, const netsrv_regex *re)
{
    void *md = pcre2_match_data_create_from_pattern(re->code, NULL);

    if (!md)
        return -ENOMEM;
    if (s->priv.md)
        pcre2_match_data_free(s->priv.md);
    s->priv.md = md;
    s->ovector = pcre2_get_ovector_pointer(md);
    s->re = re;
    s->error = NULL;
    s->priv.over = 0;
    if (s->checked > s->len)
        s->checked = s->len;
    return 0;
}

void netsrv_regex_scan_fini(netsrv_regex_scan *s)
{
    if (s->priv.md)
        pcre2_match_data_free(s->priv.md);
    s->priv.md = NULL;
    s->ovector = NULL;
}

/* The length of the longest prefix of p[0..n) made of whole, valid UTF-8
 * characters; *bad is set when what follows it is invalid (rather than a
 * character cut off by the end). */
static size_t re_utf8_prefix(const unsigned char *p, size_t n, int *bad)
{
    size_t i = 0;

    *bad = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;

        if (c < 0x80) {
            /* ASCII runs 32 bytes at a time: most of a page is ASCII. */
            while (n - i >= 32) {
                unsigned long long w[4];

                memcpy(w, p + i, 32);
                if ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull)
                    break;
                i += 32;
            }
            while (i < n && p[i] < 0x80)
                i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            k = 1;
        else if (c >= 0xe0 && c <= 0xef)
            k = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            k = 3;
        else {
            *bad = 1;
            return i;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n)
                return i; /* cut off: more may come */
            if ((p[i + j] & 0xc0) != 0x80) {
                *bad = 1;
                return i;
            }
        }
        if ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] > 0x9f) ||
            (c == 0xf0 && p[i + 1] < 0x90) || (c == 0xf4 && p[i + 1] > 0x8f)) {
            *bad = 1;
            return i;
        }
        i += k + 1;
    }
    return i;
}

/* One character on from at, within the first n bytes: a CRLF is one
 * newline, a UTF-8 character its lead and continuation bytes.  Returns
 * (size_t)-1 when that cannot be known before more bytes come. */
static size_t re_step(const netsrv_regex_scan *s, size_t at, size_t n)
{
    const unsigned char *p = (const unsigned char *)s->subject;

    if (at >= n)
        return s->priv.more ? (size_t)-1 : at + 1;
    at++;
    if (p[at - 1] == '\r') {
        if (at < n && p[at] == '\n')
            return at + 1;
        if (at == n && s->priv.more)
            return (size_t)-1;
    }
    if (s->re->utf)
        while (at < n && (p[at] & 0xc0) == 0x80)
            at++;
    return at;
}

static int re_fail(netsrv_regex_scan *s, int rc)
{
    s->priv.over = 1; /* no more calls to PCRE2 for this scan */
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        s->error = "match limit reached (the pattern backtracks too much)";
        return -E2BIG;
    case PCRE2_ERROR_NOMEMORY:
        s->error = "out of memory";
        return -ENOMEM;
    default:
        s->error = "PCRE2 failed to match";
        return -EINVAL;
    }
}

int netsrv_regex_next(netsrv_regex_scan *s)
{
    size_t n = s->len, at, end, step;
    uint32_t opts;
    int rc;

    if (!s->priv.md)
        return -EINVAL;
    if (s->priv.over)
        return 0;
    /* PCRE2 would check the UTF-8 of the subject on every call, which
     * makes a scan quadratic: each byte is checked once here instead, and
     * PCRE2 is told not to. */
    if (s->re->utf) {
        int bad;

        s->checked += re_utf8_prefix((const unsigned char *)s->subject + s->checked,
                                     s->len - s->checked, &bad);
        if (bad || (!s->priv.more && s->checked < s->len)) {
            s->error = "the text is not valid UTF-8";
            s->priv.over = 1;
            return -EILSEQ;
        }
        n = s->checked;
    }
    for (;;) {
        at = s->priv.at;
        opts = s->priv.retry ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
        if (s->priv.more)
            opts |= PCRE2_PARTIAL_HARD;
        if (s->re->utf)
            opts |= PCRE2_NO_UTF_CHECK;
        if (at > n) {
            s->priv.over = 1;
            return 0;
        }
        rc = pcre2_match(s->re->code, (PCRE2_SPTR)s->subject, n, at, opts, s->priv.md,
                         s->re->mctx);
        if (rc == PCRE2_ERROR_PARTIAL) {
            /* A match may start there once more bytes come; none starts
             * before it. */
            if (!s->priv.retry && s->ovector[0] > at)
                s->priv.at = s->ovector[0];
            return NETSRV_REGEX_MORE;
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (s->priv.retry) {
                /* No non-empty match where the empty one was: one step on. */
                if ((step = re_step(s, at, n)) == (size_t)-1)
                    return NETSRV_REGEX_MORE;
                s->priv.at = step;
                s->priv.retry = 0;
                continue;
            }
            if (s->priv.more) {
                /* No match, not even a partial one, starts before n. */
                s->priv.at = n > at ? n : at;
                return NETSRV_REGEX_MORE;
            }
            s->priv.over = 1;
            return 0;
        }
        if (rc < 0)
            return re_fail(s, rc);
        break;
    }
    if (s->ovector[0] > s->ovector[1]) {
        s->error = "\\K in an assertion put the match's start after its end";
        s->priv.over = 1;
        return -EINVAL;
    }
    /* Where the next search starts. */
    end = s->ovector[1];
    s->priv.retry = 0;
    if (s->ovector[0] == end) {
        /* After an empty match, first a non-empty one right there ("a*"
         * on "baaa" gives "", "aaa", ""), else one step on. */
        s->priv.at = end;
        s->priv.retry = 1;
    } else if (end <= at) {
        /* \K in a lookbehind can end a match where the search started:
         * going on from there would find it again forever. */
        size_t sc = pcre2_get_startchar(s->priv.md);

        s->priv.at = sc + 1;
        if (s->re->utf)
            while (s->priv.at < n && (s->subject[s->priv.at] & 0xc0) == 0x80)
                s->priv.at++;
    } else {
        s->priv.at = end;
    }
    return 1;
}

int netsrv_regex_span(const netsrv_regex_scan *s, int n, size_t *start, size_t *len)
{
    if (!s->ovector || n < 0 || n > s->re->groups || s->ovector[2 * n] == PCRE2_UNSET)
        return 0;
    *start = s->ovector[2 * n];
    *len = s->ovector[2 * n + 1] - s->ovector[2 * n];
    return 1;
}
