/* scrape.c - the scraper's library pieces on their own: regex scans
 * (global matching with empty matches, UTF-8 steps, CRLF, groups by
 * name, the match limit, JIT and interpreter alike), character sets found
 * and converted, HTML references, RFC 3986's resolution examples,
 * robots.txt rules, and the crawl frontier in memory and in a state file
 * reopened as a killed run's would be.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include <netsrv.h>

/* One match of group g as "start-end," ("unset," when it did not take
 * part); returns the length written. */
static size_t put_span(char *out, size_t cap, netsrv_regex_scan *s, int g)
{
    size_t st, n;
    if (netsrv_regex_span(s, g, &st, &n))
        return (size_t)snprintf(out, cap, "%zu-%zu,", st, st + n);
    return (size_t)snprintf(out, cap, "unset,");
}

/* The end of a scan: "E<errno>" after the matches if it failed. */
static void scan_end(char *out, size_t cap, int rc, netsrv_regex_scan *s, netsrv_regex *re)
{
    if (rc < 0)
        snprintf(out, cap, "E%d", -rc);
    netsrv_regex_scan_fini(s);
    netsrv_regex_free(re);
}

/* All matches of pattern in subject as "start-end," (group g). */
static char *all(const char *pattern, unsigned flags, const char *subject, size_t len, int g)
{
    static char out[1024];
    netsrv_regex *re;
    netsrv_regex_scan s;
    size_t o = 0;
    char err[NETSRV_ERRLEN];
    int rc;

    out[0] = '\0';
    if (netsrv_regex_new(&re, pattern, strlen(pattern), flags, NULL, err, sizeof err) < 0) {
        snprintf(out, sizeof out, "ERR %s", err);
        return out;
    }
    netsrv_regex_scan_init(&s, re, subject, len);
    while ((rc = netsrv_regex_next(&s)) == 1 && o < sizeof out - 32) {
        o += put_span(out + o, sizeof out - o, &s, g);
    }
    scan_end(out + o, sizeof out - o, rc, &s, re);
    return out;
}

/* The same as all(), the subject fed one byte at a time. */
static char *fed(const char *pattern, unsigned flags, const char *subject, size_t len, int g)
{
    static char out[1024];
    netsrv_regex *re;
    netsrv_regex_scan s;
    size_t o = 0, have = 0;
    int rc;

    out[0] = '\0';
    if (netsrv_regex_new(&re, pattern, strlen(pattern), flags, NULL, NULL, 0) < 0)
        return out;
    netsrv_regex_scan_init(&s, re, subject, 0);
    netsrv_regex_scan_feed(&s, subject, 0, 1);
    for (;;) {
        rc = netsrv_regex_next(&s);
        if (rc == NETSRV_REGEX_MORE) {
            if (have < len)
                have++;
            netsrv_regex_scan_feed(&s, subject, have, have < len);
            continue;
        }
        if (rc != 1 || o >= sizeof out - 32)
            break;
        o += put_span(out + o, sizeof out - o, &s, g);
    }
    scan_end(out + o, sizeof out - o, rc, &s, re);
    return out;
}

static void test_regex(unsigned jit)
{
    const char *mode = jit ? "interpreter" : "jit-if-any";
    char err[NETSRV_ERRLEN];
    size_t off = 99;
    netsrv_regex *re;

    is_str(all("a*", jit, "baaa", 4, 0), "0-0,1-4,4-4,", "%s: a* on baaa: empty, aaa, empty", mode);
    is_str(all("", jit, "ab", 2, 0), "0-0,1-1,2-2,", "%s: empty pattern: one per position", mode);
    is_str(all("x*", jit, "\r\n", 2, 0), "0-0,2-2,", "%s: an empty match steps over a whole CRLF",
           mode);
    is_str(all("", jit | NETSRV_RE_UTF, "\xc3\xa9z", 3, 0), "0-0,2-2,3-3,",
           "%s: UTF-8: empty matches step a whole character", mode);
    is_str(all("", jit, "\xc3\xa9z", 3, 0), "0-0,1-1,2-2,3-3,",
           "%s: bytes: empty matches step a byte", mode);
    is_str(all("^b$", jit | NETSRV_RE_MULTILINE, "a\r\nb\r\nc", 7, 0), "3-4,",
           "%s: -m: ^ and $ around CRLF lines", mode);
    is_str(all("A.C", jit | NETSRV_RE_CASELESS | NETSRV_RE_DOTALL, "a\nc", 3, 0), "0-3,",
           "%s: caseless and dotall", mode);
    is_str(all("(?<k>\\d)(x)?", jit, "1x2", 3, 2), "1-2,unset,", "%s: a group that did not take part",
           mode);
    is_str(all("\xc3\xa9.", jit | NETSRV_RE_UTF, "\xc3\xa9\xc3\xa9!", 5, 0), "0-4,",
           "%s: UTF-8: . is a character", mode);
    is_str(all("a.", jit | NETSRV_RE_UTF, "a\xff" "ab", 4, 0), "E84",
           "%s: UTF-8 mode on bytes that are not: -EILSEQ", mode);
    is_str(all("\\S+ x", jit | NETSRV_RE_UTF, "ab \xc3\xa9 x", 7, 0), "3-7,",
           "%s: UTF-8: \\S+ over a two-byte character", mode);
    {
        static const struct { const char *re; unsigned fl; const char *subj; } cases[] = {
            { "a*", 0, "baaa" }, { "", 0, "ab\r\nc" }, { "a+$", NETSRV_RE_MULTILINE, "aa\r\naa" },
            { "\\bx\\w*", 0, "x xy xyz" }, { "", NETSRV_RE_UTF, "\xc3\xa9z\xe4\xb8\xad" },
            { "href=\"([^\"]+)\"", NETSRV_RE_UTF, "<a href=\"x\"> <a href=\"\xc3\xa9\">" },
            { "(?<=a)b", 0, "abab" }, { "x\\z", 0, "xx" },
        };
        int bad = 0;

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char whole[1024];

            snprintf(whole, sizeof whole, "%s",
                     all(cases[i].re, jit | cases[i].fl, cases[i].subj, strlen(cases[i].subj), 0));
            if (strcmp(whole, fed(cases[i].re, jit | cases[i].fl, cases[i].subj,
                                  strlen(cases[i].subj), 0)) != 0) {
                diag("'%s': whole %s, fed %s", cases[i].re, whole,
                     fed(cases[i].re, jit | cases[i].fl, cases[i].subj, strlen(cases[i].subj), 0));
                bad++;
            }
        }
        is(bad, 0, "%s: a subject fed a byte at a time gives the matches of the whole one", mode);
    }
    is_str(fed("a.", jit | NETSRV_RE_UTF, "ab a\xff", 5, 0), "0-2,E84",
           "%s: fed: matches before a bad UTF-8 byte, then -EILSEQ", mode);
    is_str(all("(a+)+$", jit, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 34, 0), "E7",
           "%s: a catastrophic pattern stops at the match limit (-E2BIG)", mode);

    ok(netsrv_regex_new(&re, "a(b", 3, jit, &off, err, sizeof err) == -EINVAL && off == 3 &&
           strstr(err, "at offset 3: missing closing parenthesis") != NULL,
       "%s: a bad pattern: -EINVAL, offset and PCRE2's message ('%s')", mode, err);
    if (netsrv_regex_new(&re, "(?<first>a)(b)(?<third>c)", 25, jit, NULL, err, sizeof err) == 0) {
        ok(netsrv_regex_groups(re) == 3 && netsrv_regex_group_number(re, "third") == 3 &&
               netsrv_regex_group_number(re, "nope") == -ENOENT &&
               strcmp(netsrv_regex_group_name(re, 1), "first") == 0 &&
               netsrv_regex_group_name(re, 2) == NULL,
           "%s: groups by number and by name", mode);
        if (jit)
            is(netsrv_regex_jit(re), 0, "NETSRV_RE_NO_JIT runs the interpreter");
        else
            diag("JIT %s on this machine", netsrv_regex_jit(re) ? "in use" : "not available");
        netsrv_regex_free(re);
    } else {
        fail("named groups compile");
        if (jit)
            fail("no jit");
    }
}

static void test_charset(void)
{
    char cs[64], *out;
    size_t n;
    const char meta1[] = "<html><head><META CHARSET=\"gb18030\"></head>";
    const char meta2[] = "<meta http-equiv='Content-Type' content='text/html; charset=GBK'>";

    is(netsrv_charset_find("text/html; charset=\"Shift_JIS\"", 30, NULL, 0, cs, sizeof cs),
       NETSRV_CHARSET_HEADER, "charset from the Content-Type header");
    is_str(cs, "Shift_JIS", "  its label");
    is(netsrv_charset_find("text/html", 9, meta1, sizeof meta1 - 1, cs, sizeof cs),
       NETSRV_CHARSET_META, "<meta charset> when the header has none");
    is_str(cs, "gb18030", "  its label");
    is(netsrv_charset_find(NULL, 0, meta2, sizeof meta2 - 1, cs, sizeof cs), NETSRV_CHARSET_META,
       "<meta http-equiv content=...charset=>");
    is_str(cs, "GBK", "  its label");
    is(netsrv_charset_find(NULL, 0, "\xef\xbb\xbfhi", 5, cs, sizeof cs), NETSRV_CHARSET_BOM,
       "a UTF-8 byte-order mark");
    is(netsrv_charset_find(NULL, 0, "<p>plain</p>", 12, cs, sizeof cs), NETSRV_CHARSET_NONE,
       "nothing declared");
    /* "中文" in GBK, and U+20000 in GB18030's four-byte form. */
    ok(netsrv_charset_to_utf8("gb2312", "\xd6\xd0\xce\xc4", 4, &out, &n, NULL, 0) == 0 && n == 6 &&
           memcmp(out, "\xe4\xb8\xad\xe6\x96\x87", 6) == 0,
       "gb2312 is read as GBK and converted");
    free(out);
    ok(netsrv_charset_to_utf8("GB18030", "\x95\x32\x82\x36", 4, &out, &n, NULL, 0) == 0 &&
           n == 4 && memcmp(out, "\xf0\xa0\x80\x80", 4) == 0,
       "GB18030 four-byte sequences (U+20000)");
    free(out);
    ok(netsrv_charset_to_utf8("iso-8859-1", "\x80\xe9", 2, &out, &n, NULL, 0) == 0 && n == 5 &&
           memcmp(out, "\xe2\x82\xac\xc3\xa9", 5) == 0,
       "iso-8859-1 is read as windows-1252 (0x80 is the euro sign)");
    free(out);
    ok(netsrv_charset_to_utf8("Shift_JIS", "\x82\xa0\xff", 3, &out, &n, NULL, 0) == 0 && n == 6 &&
           memcmp(out, "\xe3\x81\x82\xef\xbf\xbd", 6) == 0,
       "Shift_JIS, and a byte of no character becomes U+FFFD");
    free(out);
    ok(netsrv_charset_to_utf8("x-no-such-set", "a", 1, &out, &n, cs, sizeof cs) == -ENOENT &&
           strstr(cs, "unknown character set") != NULL,
       "an unknown charset: -ENOENT, named");
    ok(netsrv_utf8_valid("plain ascii text, long enough for words", 39) &&
           netsrv_utf8_valid("\xe4\xb8\xad", 3) && !netsrv_utf8_valid("\xc0\xaf", 2) &&
           !netsrv_utf8_valid("\xed\xa0\x80", 3) && !netsrv_utf8_valid("\xe4\xb8", 2),
       "UTF-8 validation: overlong, surrogates and cut sequences refused");
}

static const char *unesc(const char *s)
{
    static char out[256];
    size_t n = netsrv_html_unescape(s, strlen(s), out);

    out[n] = '\0';
    return out;
}

static void test_html(void)
{
    is_str(unesc("a?x=1&amp;y=2"), "a?x=1&y=2", "&amp;");
    is_str(unesc("&#47;p&#x2F;q&#X2f;"), "/p/q/", "numeric references, decimal and hex");
    is_str(unesc("&lt&gt;&quot;&apos;"), "<>\"'", "legacy names without ';'");
    is_str(unesc("&ampx &amp= &unknown; &#;"), "&ampx &amp= &unknown; &#;",
           "what is no reference stays as it is");
    is_str(unesc("&#233;&#0;"), "\xc3\xa9\xef\xbf\xbd", "non-ASCII to UTF-8, &#0; to U+FFFD");
}

static const char *res(const char *base, const char *ref, unsigned flags)
{
    static char out[NETSRV_URL_MAX];
    ssize_t n = netsrv_url_resolve(base, strlen(base), ref, strlen(ref), flags, out, sizeof out);

    if (n < 0)
        snprintf(out, sizeof out, "E%d", (int)-n);
    return out;
}

static void test_url(void)
{
    /* RFC 3986 section 5.4's examples against its base. */
    static const char *const ex[][2] = {
        { "g:h", "g:h" }, { "g", "http://a/b/c/g" }, { "./g", "http://a/b/c/g" },
        { "g/", "http://a/b/c/g/" }, { "/g", "http://a/g" }, { "//g", "http://g/" },
        { "?y", "http://a/b/c/d;p?y" }, { "g?y", "http://a/b/c/g?y" },
        { "#s", "http://a/b/c/d;p?q#s" }, { "g#s", "http://a/b/c/g#s" },
        { ";x", "http://a/b/c/;x" }, { "", "http://a/b/c/d;p?q" }, { ".", "http://a/b/c/" },
        { "./", "http://a/b/c/" }, { "..", "http://a/b/" }, { "../g", "http://a/b/g" },
        { "../..", "http://a/" }, { "../../g", "http://a/g" }, { "../../../g", "http://a/g" },
        { "/./g", "http://a/g" }, { "/../g", "http://a/g" }, { "g.", "http://a/b/c/g." },
        { "..g", "http://a/b/c/..g" }, { "./../g", "http://a/b/g" }, { "g/./h", "http://a/b/c/g/h" },
        { "g/../h", "http://a/b/c/h" }, { "g;x=1/../y", "http://a/b/c/y" },
        { "g?y/./x", "http://a/b/c/g?y/./x" }, { "g#s/../x", "http://a/b/c/g#s/../x" },
    };
    int bad = 0;

    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++)
        if (strcmp(res("http://a/b/c/d;p?q", ex[i][0], 0), ex[i][1]) != 0) {
            diag("'%s' -> '%s', expected '%s'", ex[i][0], res("http://a/b/c/d;p?q", ex[i][0], 0),
                 ex[i][1]);
            bad++;
        }
    is(bad, 0, "RFC 3986 5.4's normal and abnormal examples");
    is_str(res("http://H.example:8080/a/b", " ../c d.html#top\n", NETSRV_URL_NO_FRAGMENT),
           "http://h.example:8080/c%20d.html", "blanks trimmed, space encoded, fragment dropped");
    is_str(res("https://x/a", "HTTPS://Other.Example", 0), "https://other.example/",
           "an absolute link: scheme and host lower case, empty path /");
    is_str(res("http://x/a/", "\xc3\xa9?q=a b", 0), "http://x/a/%C3%A9?q=a%20b",
           "non-ASCII and spaces percent-encoded");
    is_str(res("/relative/base", "g", 0), "E22", "a base without a scheme: -EINVAL");
    /* Found by tests/fuzz/url: the host's %XX was lowered with the host,
     * so the encoded form of a non-ASCII host changed when resolved again. */
    is_str(res("http://x/", "//Exam\xe4le.COM/A", 0), "http://exam%E4le.com/A",
           "a non-ASCII host byte is encoded with upper-case hex");
    is_str(res("http://exam%E4le.com/A", "http://exam%E4le.com/A", 0), "http://exam%E4le.com/A",
           "... and stays so when resolved again");
    is_str(res("http://x/", "http://%c3%a9.Example/", 0), "http://%C3%A9.example/",
           "a host's %%xx comes out as %%XX, the rest in lower case");
    /* Found by tests/fuzz/url: dot segments left "//" at the start of a
     * path without a host, which then read as a host. */
    is_str(res("http://a/b", "http:/.//evil.example/x", 0), "http:/.//evil.example/x",
           "a path without a host that starts \"//\" keeps a \"/.\" before it");
    is_str(res("x:/a", "/.//b", 0), "x:/.//b", "... in any scheme");
    is_str(res("http:/.//evil.example/x", "", 0), "http:/.//evil.example/x",
           "... and it is read back as that path, not as a host");
}

static void test_robots(void)
{
    const char txt[] =
        "# comment\n"
        "User-agent: other\nDisallow: /\n\n"
        "User-agent: *\nDisallow: /private\nAllow: /private/ok\nCrawl-delay: 2\n\n"
        "User-agent: NetTool/1.0\nUser-agent: friend\nDisallow: /*.cgi$\nDisallow: /tmp/\n"
        "Allow: /tmp/keep\r\nCrawl-delay: 0.5\n";
    netsrv_robots *r;

    if (netsrv_robots_new(&r, txt, sizeof txt - 1, "nettool") < 0)
        bail_out("robots");
    ok(!netsrv_robots_allowed(r, "/a/b.cgi", 8) && netsrv_robots_allowed(r, "/a/b.cgi?x", 10),
       "our group: '*' and '$' in patterns");
    ok(!netsrv_robots_allowed(r, "/tmp/x", 6) && netsrv_robots_allowed(r, "/tmp/keep/1", 11),
       "the longest match wins (Allow over a shorter Disallow)");
    ok(netsrv_robots_allowed(r, "/private", 8), "the '*' group does not apply when ours is there");
    ok(netsrv_robots_delay(r) == 0.5, "our group's Crawl-delay");
    netsrv_robots_free(r);
    if (netsrv_robots_new(&r, txt, sizeof txt - 1, "somebot") < 0)
        bail_out("robots");
    ok(!netsrv_robots_allowed(r, "/private/x", 10) && netsrv_robots_allowed(r, "/private/ok", 11) &&
           netsrv_robots_allowed(r, "/robots.txt", 11) && netsrv_robots_delay(r) == 2,
       "another agent gets the '*' group");
    netsrv_robots_free(r);
    if (netsrv_robots_new(&r, NULL, 0, "nettool") < 0)
        bail_out("robots");
    ok(netsrv_robots_allowed(r, "/", 1) && netsrv_robots_delay(r) < 0, "no robots.txt: all allowed");
    netsrv_robots_free(r);
}

/* Drains cr: every page done, each giving links; returns the URLs handed
 * out, space-separated. */
static char *crawl_all(netsrv_crawl *cr, const char *const *links, int nlinks, int stop_after)
{
    static char got[2048];
    netsrv_crawl_item it;
    double when;
    int rc, n = 0;

    got[0] = '\0';
    while ((rc = netsrv_crawl_next(cr, &it, &when)) == 1) {
        if (it.kind == NETSRV_CRAWL_ROBOTS) {
            strcat(got, "R ");
            netsrv_crawl_done(cr, &it, 200, "User-agent: *\nDisallow: /no\n", 28);
            continue;
        }
        strcat(got, it.url + 9); /* less "http://h/" */
        strcat(got, it.kind == NETSRV_CRAWL_DISALLOWED ? "! " : " ");
        if (it.kind == NETSRV_CRAWL_DISALLOWED) {
            netsrv_crawl_release(&it);
            continue;
        }
        for (int i = 0; i < nlinks; i++)
            netsrv_crawl_link(cr, &it, links[i], strlen(links[i]));
        if (++n == stop_after) {
            netsrv_crawl_release(&it); /* as if killed while fetching */
            return got;
        }
        netsrv_crawl_done(cr, &it, 0, NULL, 0);
    }
    if (rc < 0)
        strcat(got, "ERROR");
    return got;
}

static void test_crawl(void)
{
    static const char *const links[] = { "a", "/b#x", "a#y", "http://other/", "c?q", "no/x",
                                         "mailto:x@y" };
    char path[256], err[NETSRV_ERRLEN];
    netsrv_crawl_opts o;
    netsrv_crawl_counts c;
    netsrv_crawl *cr;
    netsrv_crawl_item it;
    double when;

    memset(&o, 0, sizeof o);
    o.max_depth = 1;
    o.same_host = 1;
    o.robots = 1;
    if (netsrv_crawl_open(&cr, &o, err, sizeof err) < 0)
        bail_out("crawl_open: %s", err);
    is(netsrv_crawl_add(cr, "http://h/", err, sizeof err), 1, "a seed is queued");
    is(netsrv_crawl_add(cr, "http://H/#f", err, sizeof err), 0, "  the same seed again is seen");
    is(netsrv_crawl_add(cr, "ftp://h/", err, sizeof err), -EINVAL, "  ftp is no seed");
    is_str(crawl_all(cr, links, 7, 0), "R  a b c?q no/x! ",
           "robots first, then each link once (fragments dropped, other hosts, robots' "
           "Disallow and depth obeyed)");
    netsrv_crawl_close(cr);

    /* A state file: a run "killed" while fetching, then resumed. */
    snprintf(path, sizeof path, "%s/netsrv-crawl-%d.db", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    unlink(path);
    o.state = path;
    o.robots = 0;
    o.max_depth = -1;
    if (netsrv_crawl_open(&cr, &o, err, sizeof err) < 0)
        bail_out("crawl_open %s: %s", path, err);
    netsrv_crawl_add(cr, "http://h/", err, sizeof err);
    is_str(crawl_all(cr, links, 5, 2), " a ", "a first run stops while fetching its second page");
    netsrv_crawl_close(cr);
    if (netsrv_crawl_open(&cr, &o, err, sizeof err) < 0)
        bail_out("crawl_open again: %s", err);
    is(netsrv_crawl_add(cr, "http://h/", err, sizeof err), 0, "the resumed crawl knows its seed");
    is_str(crawl_all(cr, links, 5, 0), "b c?q ", "it goes on with the rest, not with 'a' again");
    ok(netsrv_crawl_count(cr, &c) == 0 && c.done == 3 && c.lost == 1 && c.queued == 0,
       "counts: 3 done, 1 lost to the kill");
    netsrv_crawl_close(cr);
    unlink(path);

    /* Limits and politeness. */
    memset(&o, 0, sizeof o);
    o.max_depth = -1;
    o.max_pages = 2;
    o.delay = 30;
    netsrv_crawl_open(&cr, &o, NULL, 0);
    netsrv_crawl_add(cr, "http://h/", NULL, 0);
    netsrv_crawl_add(cr, "http://h2/", NULL, 0);
    netsrv_crawl_add(cr, "http://h/x", NULL, 0);
    ok(netsrv_crawl_next(cr, &it, &when) == 1 && strcmp(it.url, "http://h/") == 0, "first page");
    netsrv_crawl_done(cr, &it, 0, NULL, 0);
    ok(netsrv_crawl_next(cr, &it, &when) == 1 && strcmp(it.url, "http://h2/") == 0,
       "a page of another host while the first host waits out its delay");
    is(netsrv_crawl_next(cr, &when == NULL ? NULL : &(netsrv_crawl_item){ 0 }, &when), -EAGAIN,
       "max pages reached with one out: wait");
    netsrv_crawl_done(cr, &it, 0, NULL, 0);
    is(netsrv_crawl_next(cr, &it, &when), 0, "then the crawl is over");
    netsrv_crawl_close(cr);

    o.max_pages = 0;
    netsrv_crawl_open(&cr, &o, NULL, 0);
    netsrv_crawl_add(cr, "http://h/", NULL, 0);
    netsrv_crawl_add(cr, "http://h/x", NULL, 0);
    netsrv_crawl_next(cr, &it, &when);
    netsrv_crawl_done(cr, &it, 0, NULL, 0);
    ok(netsrv_crawl_next(cr, &it, &when) == -EAGAIN && when > netsrv_now() + 29,
       "the host's next page waits for the delay (-EAGAIN until then)");
    netsrv_crawl_close(cr);
}

int main(void)
{
    test_regex(0);
    test_regex(NETSRV_RE_NO_JIT);
    test_charset();
    test_html();
    test_url();
    test_robots();
    test_crawl();
    return done_testing();
}
