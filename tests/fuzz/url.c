/* url.c - fuzz target: URLs.  netsrv_url_resolve (a link resolved against
 * its page, url.c) on "BASE\nREF" (no newline: REF against a fixed base),
 * and netsrv_http_parse_url (what the HTTP client dials and sends) on the
 * input and on what resolving made of it. */
#include "config.h"
#include "fuzz.h"

#include <errno.h>
#include <string.h>

#include "netsrv.h"

#define OUT_CAP 8192

/* Every part netsrv_http_parse_url points at lies inside the URL. */
static void check_parts(const char *url, size_t len)
{
    netsrv_http_url u;
    int rc = netsrv_http_parse_url(url, len, &u);

    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTONOSUPPORT);
    if (rc != 0)
        return;
    FUZZ_CHECK(u.port > 0 && u.port <= 65535);
    FUZZ_CHECK(u.host_len > 0 && u.host >= url && u.host + u.host_len <= url + len);
    FUZZ_CHECK(u.authority >= url && u.authority + u.authority_len <= url + len);
    FUZZ_CHECK(u.host >= u.authority &&
               u.host + u.host_len <= u.authority + u.authority_len);
    FUZZ_CHECK(u.target_len > 0);
    FUZZ_CHECK((u.target >= url && u.target + u.target_len <= url + len) ||
               (u.target_len == 1 && u.target[0] == '/'));
    FUZZ_CHECK(!u.userinfo || (u.userinfo >= url && u.userinfo + u.userinfo_len <= url + len));
}

static int is_http(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char fixed[] = "http://Example.COM/a/b/c;p?q=1#f";
    static char out[OUT_CAP], again[OUT_CAP];
    const char *in = (const char *)data, *nl = memchr(in, '\n', size);
    const char *base = fixed, *ref = in;
    size_t base_len = sizeof fixed - 1, ref_len = size;
    ssize_t n, m;

    if (size > 2 * OUT_CAP)
        return 0;
    check_parts(in, size);
    if (nl) {
        base = in;
        base_len = (size_t)(nl - in);
        ref = nl + 1;
        ref_len = size - base_len - 1;
    }
    for (unsigned flags = 0; flags <= NETSRV_URL_NO_FRAGMENT; flags++) {
        n = netsrv_url_resolve(base, base_len, ref, ref_len, flags, out, sizeof out);
        FUZZ_CHECK(n >= 0 || n == -EINVAL || n == -ENAMETOOLONG);
        if (n < 0)
            continue;
        /* One spelling a request line can carry: printable ASCII only. */
        FUZZ_CHECK(strlen(out) == (size_t)n);
        for (ssize_t i = 0; i < n; i++)
            FUZZ_CHECK(out[i] > 0x20 && out[i] < 0x7f);
        FUZZ_CHECK(memchr(out, ':', (size_t)n) != NULL);
        if (flags & NETSRV_URL_NO_FRAGMENT)
            FUZZ_CHECK(memchr(out, '#', (size_t)n) == NULL);
        /* The exact room it needs is enough, one byte less is not. */
        m = netsrv_url_resolve(base, base_len, ref, ref_len, flags, again, (size_t)n + 1);
        FUZZ_CHECK(m == n && memcmp(out, again, (size_t)n + 1) == 0);
        m = netsrv_url_resolve(base, base_len, ref, ref_len, flags, again, (size_t)n);
        FUZZ_CHECK(m == -ENAMETOOLONG);
        check_parts(out, (size_t)n);
        /* A crawler's seen set needs one spelling per URL: an http(s) URL
         * that came out of resolving comes out of it again unchanged. */
        if (is_http(out)) {
            m = netsrv_url_resolve(out, (size_t)n, out, (size_t)n, flags, again, sizeof again);
            if (m != n || memcmp(out, again, (size_t)n) != 0) {
                fprintf(stderr, "not stable: '%s' -> '%s'\n", out, m >= 0 ? again : "(error)");
                abort();
            }
        }
    }
    return 0;
}
