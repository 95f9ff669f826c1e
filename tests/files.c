/* files.c - the files protocol in libnetsrv and the files handler: the
 * request and reply parsers (at a guard page, every refusal case), request
 * formatting, SHA-256 against known vectors, netsrv_open_beneath (the
 * kernel's openat2 and the fallback walk held to the same cases), and, in
 * every mode against an in-process server, several files on one
 * connection with netsrv_files_get / netsrv_files_recv, pipelined
 * requests, ERR replies that keep the connection, offsets counted on the
 * server's side, and the hash cache: an unchanged file is not read again
 * (also by another fork child), a changed one is; and in async mode a
 * connection kept between requests holds no stack and no buffers (memory
 * measured over 1,000 of them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include "beneath.h"


/* ------------------------------------------------------------ parsers */

#define GUARD_SPAN (4 * 4096)
static char *guard_area; /* GUARD_SPAN bytes, then a page that faults */

static void guard_init(void)
{
    char *p = mmap(NULL, GUARD_SPAN + 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p + GUARD_SPAN, 4096, PROT_NONE) < 0)
        bail_out("guard page: %s", strerror(errno));
    guard_area = p;
}

/* The n bytes of s placed so that the byte after them faults. */
static const char *at_guard(const char *s, size_t n)
{
    if (n > GUARD_SPAN)
        bail_out("at_guard: %zu bytes is too many", n);
    memcpy(guard_area + GUARD_SPAN - n, s, n);
    return guard_area + GUARD_SPAN - n;
}

struct req_case {
    const char *line;
    size_t len;          /* 0: strlen(line) */
    int code;
    const char *name;    /* when code is 0 */
    long long offset;
};

static void test_parse_request(void)
{
    static const struct req_case cases[] = {
        { "GET a\n", 0, 0, "a", 0 },
        { "GET a", 0, 0, "a", 0 },
        { "GET a 10\n", 0, 0, "a", 10 },
        { "GET a%20b 5\r\n", 0, 0, "a b", 5 },
        { "GET dir/x%25y%0a\n", 0, 0, "dir/x%y\n", 0 },
        { "GET caf\xc3\xa9/%E2%82%AC\n", 0, 0, "caf\xc3\xa9/\xe2\x82\xac", 0 },
        { "GET ..a/a..\n", 0, 0, "..a/a..", 0 },
        { "GET a 9223372036854775807\n", 0, 0, "a", 9223372036854775807LL },
        { "GET a 0007\n", 0, 0, "a", 7 },
        { "GET\n", 0, 400, NULL, 0 },
        { "get a\n", 0, 400, NULL, 0 },
        { "PUT a\n", 0, 400, NULL, 0 },
        { "GET  a\n", 0, 400, NULL, 0 },
        { "GET a \n", 0, 400, NULL, 0 },
        { "GET a -1\n", 0, 400, NULL, 0 },
        { "GET a +1\n", 0, 400, NULL, 0 },
        { "GET a 1x\n", 0, 400, NULL, 0 },
        { "GET a 9223372036854775808\n", 0, 400, NULL, 0 },
        { "GET a 12345678901234567890\n", 0, 400, NULL, 0 },
        { "GET a 1 2\n", 0, 400, NULL, 0 },
        { "GET a\0b\n", 8, 400, NULL, 0 },
        { "GET a%00b\n", 0, 400, NULL, 0 },
        { "GET a\tb\n", 0, 400, NULL, 0 },
        { "GET a\x7f\n", 0, 400, NULL, 0 },
        { "GET a%zz\n", 0, 400, NULL, 0 },
        { "GET a%2\n", 0, 400, NULL, 0 },
        { "GET a%", 0, 400, NULL, 0 },
        { "GET \xff\n", 0, 400, NULL, 0 },
        { "GET \xc0\xaf\n", 0, 400, NULL, 0 },        /* overlong '/' */
        { "GET \xed\xa0\x80\n", 0, 400, NULL, 0 },    /* a surrogate */
        { "GET \xf4\x90\x80\x80\n", 0, 400, NULL, 0 }, /* past U+10FFFF */
        { "GET \xe2\x82\n", 0, 400, NULL, 0 },        /* cut short */
        { "GET /etc/passwd\n", 0, 403, NULL, 0 },
        { "GET %2Fetc/passwd\n", 0, 403, NULL, 0 },
        { "GET ../x\n", 0, 403, NULL, 0 },
        { "GET a/../b\n", 0, 403, NULL, 0 },
        { "GET a/..\n", 0, 403, NULL, 0 },
        { "GET a//..//b\n", 0, 403, NULL, 0 },
        { "GET %2e%2E/x\n", 0, 403, NULL, 0 },
        { "GET ..\n", 0, 403, NULL, 0 },
    };
    char name[NETSRV_FILES_NAME_MAX + 1];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct req_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->line);
        const char *why = NULL;
        off_t off = -5;
        int code = netsrv_files_parse_request(at_guard(c->line, len), len, name, sizeof name,
                                              &off, &why);
        char shown[64];

        snprintf(shown, sizeof shown, "%.*s", (int)(len > 40 ? 40 : len), c->line);
        for (char *p = shown; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = '?';
        if (c->code == 0)
            ok(code == 0 && strcmp(name, c->name) == 0 && off == c->offset,
               "request '%s' parses (code %d, offset %lld)", shown, code, (long long)off);
        else
            ok(code == c->code && why && *why, "request '%s' -> %d %s", shown, code,
               why ? why : "(no reason)");
    }

    /* Lengths: the name, one part of it, the line. */
    size_t big = NETSRV_FILES_LINE_MAX + 100;
    char *line = malloc(big);
    const char *why;
    off_t off;

    memcpy(line, "GET ", 4);
    memset(line + 4, 'n', NETSRV_FILES_NAME_MAX);
    for (int k = 200; k < NETSRV_FILES_NAME_MAX; k += 200)
        line[4 + k] = '/';
    line[4 + NETSRV_FILES_NAME_MAX] = '\n';
    is(netsrv_files_parse_request(at_guard(line, 5 + NETSRV_FILES_NAME_MAX),
                                  5 + NETSRV_FILES_NAME_MAX, name, sizeof name, &off, &why),
       0, "a name of %d bytes (parts of 199) is taken", NETSRV_FILES_NAME_MAX);
    line[4 + NETSRV_FILES_NAME_MAX] = 'n';
    line[5 + NETSRV_FILES_NAME_MAX] = '\n';
    is(netsrv_files_parse_request(at_guard(line, 6 + NETSRV_FILES_NAME_MAX),
                                  6 + NETSRV_FILES_NAME_MAX, name, sizeof name, &off, &why),
       414, "a name of %d bytes is too long: %s", NETSRV_FILES_NAME_MAX + 1, why);
    memset(line + 4, 'p', 256);
    line[4 + 256] = '\n';
    is(netsrv_files_parse_request(at_guard(line, 261), 261, name, sizeof name, &off, &why), 414,
       "a part of 256 bytes is too long: %s", why);
    memset(line + 4, 'p', NETSRV_FILES_LINE_MAX);
    is(netsrv_files_parse_request(at_guard(line, NETSRV_FILES_LINE_MAX + 1),
                                  NETSRV_FILES_LINE_MAX + 1, name, sizeof name, &off, &why),
       414, "a line of %d bytes is too long: %s", NETSRV_FILES_LINE_MAX + 1, why);
    is(netsrv_files_parse_request(at_guard("GET abcdef\n", 11), 11, name, 4, &off, &why), 414,
       "a name longer than the caller's buffer is refused, not overrun");
    free(line);
}

static void test_format_request(void)
{
    static const char *const names[] = {
        "plain", "with space", "100%", "line\nbreak", "tab\there", "caf\xc3\xa9",
        "dir/sub/file.txt", "\x01\x7f", "a b%c\r",
    };
    char buf[NETSRV_FILES_LINE_MAX + 1], name[NETSRV_FILES_NAME_MAX + 1];
    off_t off;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ssize_t n = netsrv_files_format_request(buf, sizeof buf, names[i], (off_t)i * 1000);
        int spaces = 0;

        for (ssize_t k = 0; k < n - 1; k++)
            spaces += buf[k] == ' ';
        int code = n > 0 ? netsrv_files_parse_request(buf, (size_t)n, name, sizeof name, &off,
                                                       NULL)
                         : -1;
        ok(n > 0 && buf[n - 1] == '\n' && spaces == 2 && code == 0 &&
               strcmp(name, names[i]) == 0 && off == (off_t)i * 1000,
           "format + parse round trip of name %zu (%zd bytes, code %d)", i, n, code);
    }
    char *longname = malloc(NETSRV_FILES_LINE_MAX);
    memset(longname, ' ', NETSRV_FILES_LINE_MAX / 3);
    longname[NETSRV_FILES_LINE_MAX / 3] = '\0';
    is(netsrv_files_format_request(buf, sizeof buf, longname, 0), -ENAMETOOLONG,
       "a name whose encoding passes the line limit: -ENAMETOOLONG");
    free(longname);
    is(netsrv_files_format_request(buf, 16, "abcdefghijkl", 0), -ENAMETOOLONG,
       "a line longer than the buffer: -ENAMETOOLONG");
    is(netsrv_files_format_request(buf, sizeof buf, "", 0), -EINVAL, "an empty name: -EINVAL");
    is(netsrv_files_format_request(buf, sizeof buf, "a", -1), -EINVAL,
       "a negative offset: -EINVAL");
}

static void test_parse_reply(void)
{
    const char *hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char line[256];
    netsrv_files_reply r;

    snprintf(line, sizeof line, "OK 5242880 %s\n", hex);
    ok(netsrv_files_parse_reply(at_guard(line, strlen(line)), strlen(line), &r) == 0 &&
           r.code == 0 && r.size == 5242880 && r.sha256[0] == 0xba && r.sha256[31] == 0xad,
       "OK SIZE HEX parses");
    snprintf(line, sizeof line, "OK 5 %.63s\n", hex);
    is(netsrv_files_parse_reply(at_guard(line, strlen(line)), strlen(line), &r), -EPROTO,
       "a short hash is not a reply");
    snprintf(line, sizeof line, "OK -5 %s\n", hex);
    is(netsrv_files_parse_reply(at_guard(line, strlen(line)), strlen(line), &r), -EPROTO,
       "a negative size is not a reply");
    ok(netsrv_files_parse_reply(at_guard("ERR 404 no such file\n", 21), 21, &r) == 0 &&
           r.code == 404 && strcmp(r.text, "no such file") == 0,
       "ERR CODE TEXT parses");
    ok(netsrv_files_parse_reply(at_guard("ERR 503", 7), 7, &r) == 0 && r.code == 503 &&
           r.text[0] == '\0', "ERR CODE without text parses");
    ok(netsrv_files_parse_reply(at_guard("ERR 400 a\x01" "b\x1b[2J\n", 16), 16, &r) == 0 &&
           strcmp(r.text, "a?b?[2J") == 0, "control bytes of an ERR text become '?'");
    is(netsrv_files_parse_reply(at_guard("ERR 4x4 a\n", 10), 10, &r), -EPROTO,
       "ERR with a bad code is not a reply");
    is(netsrv_files_parse_reply(at_guard("ERR 4044 a\n", 11), 11, &r), -EPROTO,
       "ERR with a four-digit code is not a reply");
    is(netsrv_files_parse_reply(at_guard("HTTP/1.1 200 OK\r\n", 17), 17, &r), -EPROTO,
       "an HTTP status line is not a reply");
}

/* ------------------------------------------------------------ SHA-256 */

static void test_sha256(void)
{
    unsigned char sum[NETSRV_SHA256_LEN], back[NETSRV_SHA256_LEN];
    char hex[NETSRV_SHA256_HEXLEN + 1];
    netsrv_sha256 *h;

    is(netsrv_sha256_new(&h), 0, "netsrv_sha256_new");
    netsrv_sha256_update(h, "abc", 3);
    netsrv_sha256_final(h, sum);
    is_str(netsrv_sha256_hex(sum, hex),
           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
           "SHA-256 of \"abc\" (FIPS 180-2 vector)");
    netsrv_sha256_final(h, sum);
    is_str(netsrv_sha256_hex(sum, hex),
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "final empties the hash: the next digest is that of nothing");
    netsrv_sha256_update(h, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
    netsrv_sha256_final(h, sum);
    is_str(netsrv_sha256_hex(sum, hex),
           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
           "SHA-256 of the 448-bit FIPS vector");

    int fd = memfd_create("sha", 0);
    char *data = malloc(1 << 20);
    for (int i = 0; i < 1 << 20; i++)
        data[i] = (char)(i * 31 + (i >> 9));
    if (write(fd, data, 1 << 20) != 1 << 20)
        bail_out("memfd write");
    netsrv_sha256_update(h, data + 1000, (1 << 20) - 1000);
    netsrv_sha256_final(h, back);
    is(netsrv_sha256_update_fd(h, fd, 1000, (1 << 20) - 1000), 0, "update_fd from an offset");
    netsrv_sha256_final(h, sum);
    cmp_mem(sum, back, NETSRV_SHA256_LEN, "update_fd hashes what pread reads");
    is(netsrv_sha256_update_fd(h, fd, 1000, 1 << 20), -ENODATA,
       "update_fd past the end of the file: -ENODATA");
    netsrv_sha256_final(h, sum);
    free(data);
    close(fd);

    netsrv_sha256_hex(back, hex);
    for (char *p = hex; *p; p++)
        *p = (char)((*p >= 'a' && *p <= 'f') ? *p - 32 : *p);
    ok(netsrv_sha256_parse(hex, strlen(hex), sum) == 0 && memcmp(sum, back, sizeof sum) == 0,
       "parse takes upper-case hex back");
    is(netsrv_sha256_parse(hex, 63, sum), -EINVAL, "parse refuses 63 digits");
    hex[10] = 'g';
    is(netsrv_sha256_parse(hex, 64, sum), -EINVAL, "parse refuses a non-hex digit");
    netsrv_sha256_free(h);
    netsrv_sha256_free(NULL);
}

/* --------------------------------------------------------------- paths */

static char broot[PATH_MAX];

static void mkfile(const char *rel, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", broot, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        bail_out("mkfile %s: %s", p, strerror(errno));
    close(fd);
}

static void mklink(const char *target, const char *rel)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", broot, rel);
    if (symlink(target, p) < 0)
        bail_out("symlink %s: %s", p, strerror(errno));
}

struct path_case {
    const char *path;
    int err;            /* 0: opens, and reads want */
    const char *want;
};

static void test_beneath(void)
{
    static const struct path_case cases[] = {
        { "file", 0, "F" },
        { "sub/f2", 0, "F2" },
        { "./sub//f2", 0, "F2" },
        { "sub/../file", 0, "F" },
        { "in", 0, "F" },                 /* in -> file */
        { "dlink/f2", 0, "F2" },          /* dlink -> sub */
        { "sub/up", 0, "F" },             /* sub/up -> ../file: stays inside */
        { "chain", 0, "F2" },             /* chain -> dlink/../sub/f2 */
        { "../outside/secret", -EXDEV, NULL },
        { "sub/../../outside/secret", -EXDEV, NULL },
        { "/etc/passwd", -EXDEV, NULL },
        { "abs", -EXDEV, NULL },          /* abs -> /etc/passwd */
        { "esc", -EXDEV, NULL },          /* esc -> ../outside/secret */
        { "sub/esc2", -EXDEV, NULL },     /* sub/esc2 -> ../../outside/secret */
        { "escdir/secret", -EXDEV, NULL },/* escdir -> ../outside */
        { "procfd", -EXDEV, NULL },       /* procfd -> /proc/self/fd/0 */
        { "loop", -ELOOP, NULL },         /* loop -> loop */
        { "missing", -ENOENT, NULL },
        { "sub/missing", -ENOENT, NULL },
        { "file/x", -ENOTDIR, NULL },
        { "file/", -ENOTDIR, NULL },
        { "", -ENOENT, NULL },
    };
    char outside[PATH_MAX + 64], path[PATH_MAX + 64];

    snprintf(broot, sizeof broot, "%s/root", tu_tmpdir());
    snprintf(outside, sizeof outside, "%s/outside", tu_tmpdir());
    snprintf(path, sizeof path, "%s/sub", broot);
    if (mkdir(broot, 0755) < 0 || mkdir(outside, 0755) < 0 || mkdir(path, 0755) < 0)
        bail_out("mkdir: %s", strerror(errno));
    mkfile("file", "F");
    mkfile("sub/f2", "F2");
    mkfile("../outside/secret", "S");
    mklink("file", "in");
    mklink("sub", "dlink");
    mklink("../file", "sub/up");
    mklink("dlink/../sub/f2", "chain");
    mklink("/etc/passwd", "abs");
    mklink("../outside/secret", "esc");
    mklink("../../outside/secret", "sub/esc2");
    mklink("../outside", "escdir");
    mklink("/proc/self/fd/0", "procfd");
    mklink("loop", "loop");
    int dirfd = open(broot, O_PATH | O_DIRECTORY);
    if (dirfd < 0)
        bail_out("open %s: %s", broot, strerror(errno));

    int have2 = netsrv__open_beneath_openat2(dirfd, "file", O_RDONLY);
    if (have2 >= 0)
        close(have2);
    for (int way = 0; way < 3; way++) {
        const char *wname = way == 0 ? "walk" : way == 1 ? "openat2" : "netsrv_open_beneath";
        if (way == 1 && have2 == -ENOSYS) {
            skip(sizeof cases / sizeof cases[0], "no openat2 here");
            continue;
        }
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const struct path_case *c = &cases[i];
            int fd = way == 0   ? netsrv__open_beneath_walk(dirfd, c->path, O_RDONLY)
                     : way == 1 ? netsrv__open_beneath_openat2(dirfd, c->path, O_RDONLY)
                                : netsrv_open_beneath(dirfd, c->path, O_RDONLY);
            char got[8] = "";
            if (fd >= 0) {
                ssize_t n = read(fd, got, sizeof got - 1);
                got[n > 0 ? n : 0] = '\0';
                close(fd);
            }
            if (c->err == 0)
                ok(fd >= 0 && strcmp(got, c->want) == 0, "%s: '%s' opens the right file (%s)",
                   wname, c->path, fd >= 0 ? got : strerror(-fd));
            else
                ok(fd == c->err, "%s: '%s' -> %s (got %s)", wname, c->path, strerror(-c->err),
                   fd >= 0 ? "an fd" : strerror(-fd));
        }
    }
    /* O_NOFOLLOW on the last part: a link there is refused, as open(2) does. */
    int fd = netsrv__open_beneath_walk(dirfd, "in", O_RDONLY | O_NOFOLLOW);
    is(fd, -ELOOP, "walk: O_NOFOLLOW refuses a link as the last part");
    if (fd >= 0)
        close(fd);
    fd = netsrv__open_beneath_walk(dirfd, "sub/", O_RDONLY | O_DIRECTORY);
    ok(fd >= 0, "walk: 'sub/' opens the directory");
    if (fd >= 0)
        close(fd);
    close(dirfd);
}

/* ------------------------------------------------------------- server */

static char sdir[PATH_MAX];

static void write_file(const char *name, const char *data, size_t len)
{
    char p[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(p, sizeof p, "%s/%s", sdir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    /* In place, not renamed: the inode stays and only size/mtime/ctime
     * tell the cache that the bytes changed. */
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len)
        bail_out("write %s: %s", p, strerror(errno));
    close(fd);
}

/* Fetches name from offset on c into a fresh memfd; 0 and the body (the
 * caller frees it), the reply in *r, or the error. */
static int fetch(netsrv_conn *c, const char *name, off_t offset, netsrv_files_reply *r,
                 char **body, size_t *len)
{
    char err[NETSRV_ERRLEN];
    unsigned char sum[NETSRV_SHA256_LEN];
    int rc = netsrv_files_get(c, name, offset, r, err, sizeof err);
    *body = NULL;
    *len = 0;
    if (rc < 0) {
        if (rc != -EREMOTEIO)
            diag("get %s: %s", name, err);
        return rc;
    }
    int fd = memfd_create("body", 0);
    netsrv_sha256 *h;
    netsrv_sha256_new(&h);
    netsrv_files_body b = { .fd = fd, .hash = h };
    rc = netsrv_files_recv(c, &b, r->size - offset, err, sizeof err);
    if (rc == 0) {
        *len = (size_t)b.done;
        *body = malloc(*len + 1);
        if (pread(fd, *body, *len, 0) != (ssize_t)*len)
            rc = -EIO;
        netsrv_sha256_final(h, sum);
        /* Only a body from 0 hashes to the whole file's sum. */
        if (offset == 0 && memcmp(sum, r->sha256, sizeof sum) != 0)
            rc = -EBADMSG;
    } else {
        diag("recv: %s", err);
    }
    netsrv_sha256_free(h);
    close(fd);
    return rc;
}

static char *filled(size_t n, unsigned seed)
{
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    return p;
}

static void test_server(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    char addr[NETSRV_ADDRSTRLEN], err[NETSRV_ERRLEN];
    size_t alen = 1 << 20;
    char *a = filled(alen, 1 + (unsigned)mode), *body;
    size_t len;
    netsrv_files_reply r;
    netsrv_files_stats st0, st;
    netsrv_files_dir *dir;
    netsrv_handler h = *netsrv_handler_find("files");
    netsrv_config cfg;
    netsrv_conn *c;
    tu_srv ts;

    snprintf(sdir, sizeof sdir, "%s/srv-%s", tu_tmpdir(), m);
    if (mkdir(sdir, 0755) < 0)
        bail_out("mkdir %s: %s", sdir, strerror(errno));
    write_file("a", a, alen);
    write_file("b", "small\n", 6);
    write_file("empty", "", 0);
    if (netsrv_files_dir_open(&dir, sdir, 0, err, sizeof err) < 0)
        bail_out("netsrv_files_dir_open: %s", err);
    h.ctx = dir;
    tu_config(&cfg, mode);
    cfg.timeout = 10;
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    /* Fork mode from a process of one thread: see tu_start_proc. */
    if (!srv || (mode == NETSRV_FORK ? tu_start_proc(&ts, srv, 0.05) : tu_start(&ts, srv, 0.05)) < 0)
        bail_out("%s: files server", m);

    is(netsrv_conn_dial(&c, addr, 5, err, sizeof err), 0, "%s: dial", m);
    int rc = fetch(c, "a", 0, &r, &body, &len);
    ok(rc == 0 && r.size == (off_t)alen && len == alen && memcmp(body, a, alen) == 0,
       "%s: 1 MiB file, byte for byte, and its bytes hash to the announced sum (%d)", m, rc);
    free(body);
    rc = fetch(c, "b", 0, &r, &body, &len);
    ok(rc == 0 && len == 6 && memcmp(body, "small\n", 6) == 0,
       "%s: a second file on the same connection", m);
    free(body);
    rc = fetch(c, "empty", 0, &r, &body, &len);
    ok(rc == 0 && r.size == 0 && len == 0, "%s: an empty file: OK 0 and no body", m);
    free(body);
    rc = fetch(c, "nothere", 0, &r, &body, &len);
    ok(rc == -EREMOTEIO && r.code == 404, "%s: a missing file: ERR 404 (%d %s)", m, r.code,
       r.text);
    rc = fetch(c, "b", 7, &r, &body, &len);
    ok(rc == -EREMOTEIO && r.code == 416, "%s: an offset past the end: ERR 416 (%s)", m, r.text);
    rc = fetch(c, "b", 6, &r, &body, &len);
    ok(rc == 0 && r.size == 6 && len == 0, "%s: the offset at the end: OK and no body", m);
    free(body);
    rc = fetch(c, "b", 0, &r, &body, &len);
    ok(rc == 0 && len == 6, "%s: after the ERR replies the connection still serves", m);
    free(body);
    netsrv_files_dir_stats(dir, &st0);
    is(st0.hashed, 3, "%s: three files hashed so far", m);

    /* The cache: the same file again, on a new connection (in fork mode
     * another child), is not read again. */
    netsrv_conn_close(c);
    netsrv_conn_dial(&c, addr, 5, err, sizeof err);
    rc = fetch(c, "a", 0, &r, &body, &len);
    netsrv_files_dir_stats(dir, &st);
    ok(rc == 0 && len == alen && memcmp(body, a, alen) == 0, "%s: 'a' again, right bytes", m);
    free(body);
    ok(st.hashed == st0.hashed && st.bytes_hashed == st0.bytes_hashed &&
           st.cache_hits == st0.cache_hits + 1,
       "%s: 'a' again: not read to hash it (hashed %llu, %llu bytes), a cache hit (%llu)", m,
       st.hashed, st.bytes_hashed, st.cache_hits);

    /* An offset: the server sends only the rest. */
    rc = fetch(c, "a", 1000, &r, &body, &len);
    /* The server counts what it sent once its sendfile returned, which
     * may be just after the client has read the last byte: wait for it. */
    for (int i = 0; i < 2000; i++) {
        netsrv_files_dir_stats(dir, &st0);
        if (st0.bytes_sent - st.bytes_sent >= alen - 1000)
            break;
        usleep(1000);
    }
    ok(rc == 0 && r.size == (off_t)alen && len == alen - 1000 &&
           memcmp(body, a + 1000, alen - 1000) == 0,
       "%s: from offset 1000: the rest of the file", m);
    free(body);
    is(st0.bytes_sent - st.bytes_sent, alen - 1000, "%s: the server sent %zu bytes for it", m,
       alen - 1000);

    /* A file changed in place, same size: hashed again, the new sum. */
    unsigned char old[NETSRV_SHA256_LEN];
    memcpy(old, r.sha256, sizeof old);
    a[0] ^= 1;
    write_file("a", a, alen);
    rc = fetch(c, "a", 0, &r, &body, &len);
    netsrv_files_dir_stats(dir, &st);
    ok(rc == 0 && memcmp(body, a, alen) == 0 && memcmp(old, r.sha256, sizeof old) != 0,
       "%s: changed in place: the new bytes, a new sum that matches them", m);
    free(body);
    is(st.hashed, st0.hashed + 1, "%s: the changed file was hashed again", m);

    /* Pipelined: two requests before reading anything. */
    char line[NETSRV_FILES_LINE_MAX + 1];
    ssize_t n1 = netsrv_files_format_request(line, sizeof line, "b", 0);
    netsrv_write(c, line, (size_t)n1);
    n1 = netsrv_files_format_request(line, sizeof line, "b", 2);
    netsrv_write(c, line, (size_t)n1);
    netsrv_flush(c);
    int how, good = 0;
    for (int i = 0; i < 2; i++) {
        ssize_t n = netsrv_getline(c, line, 256, &how);
        if (n > 0 && netsrv_files_parse_reply(line, (size_t)n, &r) == 0 && r.code == 0) {
            char got[8] = "";
            ssize_t k = netsrv_read_exact(c, got, (size_t)(6 - (i ? 2 : 0)));
            good += (i == 0 && k == 6 && memcmp(got, "small\n", 6) == 0) ||
                    (i == 1 && k == 4 && memcmp(got, "all\n", 4) == 0);
        }
    }
    is(good, 2, "%s: two pipelined requests, answered in order", m);
    netsrv_conn_close(c);

    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_files_dir_close(dir);
    free(a);
}

/* A client that leaves in the middle of a body does not stop the server
 * (sync mode: the only request in flight). */
static void test_vanish(void)
{
    char addr[NETSRV_ADDRSTRLEN], err[NETSRV_ERRLEN], line[128];
    size_t n = 8u << 20;
    char *data = filled(n, 77);
    netsrv_files_dir *dir;
    netsrv_handler h = *netsrv_handler_find("files");
    netsrv_config cfg;
    tu_srv ts;

    snprintf(sdir, sizeof sdir, "%s/srv-vanish", tu_tmpdir());
    mkdir(sdir, 0755);
    write_file("big", data, n);
    netsrv_files_dir_open(&dir, sdir, 0, err, sizeof err);
    h.ctx = dir;
    tu_config(&cfg, NETSRV_SYNC);
    cfg.timeout = 5;
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!srv || tu_start(&ts, srv, 0.05) < 0)
        bail_out("vanish: files server");
    int fd = tu_connect(addr, 0);
    tu_send_all(fd, "GET big\n", 8);
    ssize_t k = tu_read_line(fd, line, sizeof line, 5000);
    char some[4096];
    ssize_t got = tu_read_all(fd, some, sizeof some, 5000);
    ok(k > 3 && strncmp(line, "OK ", 3) == 0 && got > 0, "vanish: the body starts coming");
    tu_close(fd); /* gone, with megabytes still to send */
    netsrv_conn *c;
    netsrv_files_reply r;
    char *body;
    size_t len;
    int rc = netsrv_conn_dial(&c, addr, 5, err, sizeof err);
    rc = rc ? rc : fetch(c, "big", 0, &r, &body, &len);
    ok(rc == 0 && len == n && memcmp(body, data, n) == 0,
       "vanish: the next client gets the whole file (%d)", rc);
    if (rc == 0)
        free(body);
    netsrv_conn_close(c);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_files_dir_close(dir);
    free(data);

    /* The handler without its directory fails its requests, not the server. */
    ok(netsrv_files_dir_open(&dir, "/nonexistent/dir", 0, err, sizeof err) == -ENOENT &&
           strstr(err, "/nonexistent/dir"), "dir_open of a missing directory: -ENOENT (%s)", err);
    ok(netsrv_files_dir_open(&dir, "/etc/passwd", 0, err, sizeof err) == -ENOTDIR,
       "dir_open of a file: -ENOTDIR (%s)", err);
}

#define IDLE 1000

/* After one GET each, 1,000 kept connections of an async server: the
 * handler's line and name buffers are freed between requests and the
 * coroutine stack goes back (NETSRV_AGAIN), so each costs what an idle
 * request does, not a stack and 12 KiB of buffers. */
static void test_idle(void)
{
    if (tu_raise_nofile(2 * IDLE + 100) < 2 * IDLE + 100) {
        skip(2, "too few descriptors for 1,000 connections");
        return;
    }
    char addr[NETSRV_ADDRSTRLEN], err[NETSRV_ERRLEN], buf[256];
    netsrv_files_dir *dir;
    netsrv_handler h = *netsrv_handler_find("files");
    netsrv_config cfg;
    tu_srv ts;
    static int fds[IDLE];

    snprintf(sdir, sizeof sdir, "%s/srv-idle", tu_tmpdir());
    mkdir(sdir, 0755);
    write_file("b", "small\n", 6);
    netsrv_files_dir_open(&dir, sdir, 0, err, sizeof err);
    h.ctx = dir;
    tu_config(&cfg, NETSRV_ASYNC);
    netsrv_server *srv = tu_create(&cfg, &h, addr);
    if (!srv || tu_start(&ts, srv, 0.05) < 0)
        bail_out("idle: files server");
    int served = 0;
    long before = 0;
    for (int i = 0; i < IDLE; i++) {
        if (i == 50)
            before = tu_rss_bytes(); /* the loop's pools and caches exist by now */
        fds[i] = tu_connect(addr, 0);
        if (fds[i] < 0)
            break;
        tu_send_all(fds[i], "GET b\n", 6);
        ssize_t n = tu_read_line(fds[i], buf, sizeof buf, 5000);
        char body[6];
        if (n > 3 && strncmp(buf, "OK 6 ", 5) == 0 && tu_read_all(fds[i], body, 6, 5000) == 6)
            served++;
    }
    long per = (tu_rss_bytes() - before) / (IDLE - 50);
    ok(served == IDLE && netsrv_server_active(srv) == IDLE,
       "idle: %d connections each served a file and are kept open", served);
    /* ASan keeps the freed request buffers in quarantine: RSS there
     * counts them, so only a plain build measures. */
    if (TU_UNDER_ASAN)
        skip(1, "AddressSanitizer's quarantine keeps freed memory: RSS says nothing here");
    else if (TU_UNDER_TSAN)
        skip(1, "ThreadSanitizer's shadow memory counts in RSS: it says nothing here");
    else
        ok(per < 1536, "idle: a kept connection costs %ld bytes of the process (< 1.5 KiB)", per);
    diag("idle: %ld bytes per kept connection after a GET", per);
    for (int i = 0; i < IDLE; i++)
        tu_close(fds[i]);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_files_dir_close(dir);
}

int main(void)
{
    tu_init(120);
    guard_init();
    test_parse_request();
    test_format_request();
    test_parse_reply();
    test_sha256();
    test_beneath();
    for (int i = 0; i < TU_NMODES; i++)
        test_server(tu_modes[i]);
    test_vanish();
    test_idle();
    return done_testing();
}
