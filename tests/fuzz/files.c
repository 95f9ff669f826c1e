/* files.c - fuzz target: what the file-serving handlers make of a
 * client's words before they touch the file system.  The files protocol's
 * request line (netsrv_files_parse_request, and its reply line), and the
 * http handler's request target to path (decode, normalise: never above
 * the root), its Range header and its dates (If-Modified-Since).  Each
 * gets the whole input; its buffers are exactly as large as the calls
 * ask, so an overrun is a heap overflow. */
#include "config.h"
#include "fuzz.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "netsrv.h"

static void files_request(const char *line, size_t len)
{
    char *name = malloc(NETSRV_FILES_NAME_MAX + 1), *again, *buf;
    const char *why = NULL;
    off_t offset, offset2;
    ssize_t n;
    int code;

    if (!name)
        return;
    code = netsrv_files_parse_request(line, len, name, NETSRV_FILES_NAME_MAX + 1, &offset, &why);
    if (code != 0) {
        FUZZ_CHECK(code >= 400 && code <= 599 && why != NULL);
        free(name);
        return;
    }
    /* What is served lies below the directory. */
    size_t nl = strlen(name);
    FUZZ_CHECK(nl > 0 && nl <= NETSRV_FILES_NAME_MAX && name[0] != '/' && offset >= 0);
    for (const char *c = name; *c;) {
        size_t k = strcspn(c, "/");

        FUZZ_CHECK(!(k == 2 && c[0] == '.' && c[1] == '.'));
        c += k;
        while (*c == '/')
            c++;
    }
    /* The client's way of writing it reads back as the same request. */
    buf = malloc(NETSRV_FILES_LINE_MAX + 1);
    again = malloc(NETSRV_FILES_NAME_MAX + 1);
    if (buf && again) {
        n = netsrv_files_format_request(buf, NETSRV_FILES_LINE_MAX + 1, name, offset);
        FUZZ_CHECK(n > 0 || n == -ENAMETOOLONG);
        if (n > 0) {
            FUZZ_CHECK((size_t)n == strlen(buf) && buf[n - 1] == '\n');
            code = netsrv_files_parse_request(buf, (size_t)n, again, NETSRV_FILES_NAME_MAX + 1,
                                              &offset2, &why);
            FUZZ_CHECK(code == 0 && strcmp(name, again) == 0 && offset == offset2);
        }
    }
    free(buf);
    free(again);
    free(name);
}

static void files_reply(const char *line, size_t len)
{
    netsrv_files_reply r;

    if (netsrv_files_parse_reply(line, len, &r) != 0)
        return;
    FUZZ_CHECK(memchr(r.text, '\0', sizeof r.text) != NULL);
    for (const char *c = r.text; *c; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
    FUZZ_CHECK(r.code == 0 ? r.size >= 0 : r.code >= 100 && r.code <= 999);
}

/* A normalised path: absolute, without empty, "." or ".." segments. */
static void check_clean(const char *p, size_t n)
{
    FUZZ_CHECK(n >= 1 && p[0] == '/' && strlen(p) == n);
    FUZZ_CHECK(strstr(p, "//") == NULL && strstr(p, "/./") == NULL && strstr(p, "/../") == NULL);
    FUZZ_CHECK(!(n >= 2 && strcmp(p + n - 2, "/.") == 0));
    FUZZ_CHECK(!(n >= 3 && strcmp(p + n - 3, "/..") == 0));
}

static void http_path(const char *in, size_t len)
{
    size_t cap = len + 2; /* decoding never lengthens; "/" may be added */
    char *out = malloc(cap), *again = malloc(cap);
    const char *query;
    size_t qlen;
    ssize_t n, m;

    if (!out || !again)
        goto done;
    n = netsrv_http_target_path(in, len, out, cap, &query, &qlen);
    FUZZ_CHECK(n >= 0 || n == -EINVAL || n == -EACCES || n == -ENAMETOOLONG);
    FUZZ_CHECK(!query || (query >= in && query + qlen <= in + len));
    if (n >= 0) {
        check_clean(out, (size_t)n);
        /* Normalising again changes nothing, also in place. */
        memcpy(again, out, (size_t)n + 1);
        m = netsrv_http_normalize_path(again, (size_t)n, again, (size_t)n + 1);
        FUZZ_CHECK(m == n && memcmp(again, out, (size_t)n + 1) == 0);
        /* Less room than the result needs is refused, never overrun
         * (more may be needed on the way: a segment ".." takes back). */
        free(again);
        again = n > 0 ? malloc((size_t)n) : NULL;
        if (again)
            FUZZ_CHECK(netsrv_http_target_path(in, len, again, (size_t)n, NULL, NULL) ==
                       -ENAMETOOLONG);
    }
    /* The two steps on their own, the second in place. */
    if (out) {
        n = netsrv_http_decode_path(in, len, out, len + 1);
        FUZZ_CHECK(n >= 0 || n == -EINVAL);
        if (n >= 0) {
            FUZZ_CHECK((size_t)n <= len && memchr(out, '\0', (size_t)n) == NULL);
            m = netsrv_http_normalize_path(out, (size_t)n, out, len + 1);
            FUZZ_CHECK(m >= 0 || m == -EINVAL || m == -EACCES || m == -ENAMETOOLONG);
            if (m >= 0)
                check_clean(out, (size_t)m);
        }
    }
done:
    free(out);
    free(again);
}

static void http_range(const char *v, size_t len)
{
    static const long long sizes[] = { 0, 1, 2, 100, 1000000, LLONG_MAX };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        long long first = -7, last = -7;
        int kind = netsrv_http_range(v, len, sizes[i], &first, &last);

        FUZZ_CHECK(kind == NETSRV_HTTP_RANGE_NONE || kind == NETSRV_HTTP_RANGE_PARTIAL ||
                   kind == NETSRV_HTTP_RANGE_UNSATISFIABLE);
        /* A 206 describes bytes the file has. */
        if (kind == NETSRV_HTTP_RANGE_PARTIAL)
            FUZZ_CHECK(first >= 0 && first <= last && last < sizes[i]);
        else
            FUZZ_CHECK(first == -7 && last == -7);
    }
}

static void http_date(const char *s, size_t len)
{
    char buf[NETSRV_HTTP_DATELEN];
    time_t t, t2;

    if (netsrv_http_date_parse(s, len, &t) != 0)
        return;
    /* What the server writes back reads as the same second. */
    if (netsrv_http_date_format(t, buf, sizeof buf) == 29) {
        FUZZ_CHECK(netsrv_http_date_parse(buf, 29, &t2) == 0 && t2 == t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;

    if (size > NETSRV_FILES_LINE_MAX + 16)
        return 0;
    files_request(in, size);
    files_reply(in, size);
    http_path(in, size);
    http_range(in, size);
    http_date(in, size);
    return 0;
}
