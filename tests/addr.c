/* addr.c - addresses and sockets: netsrv_addr_parse/format round trips and
 * rejections, mode names, Unix socket paths (stale one replaced, live one
 * refused, other files left alone), inherited sockets ("fd:N", systemd's
 * LISTEN_FDS), bind_and_activate = 0, netsrv_connect errors, and the
 * parser against input ending right before an unmapped page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static void test_listen_fds(void)
{
    int p1, p2;
    int s1 = tu_listen_loopback(&p1), s2 = tu_listen_loopback(&p2);
    int h1 = fcntl(s1, F_DUPFD, 100), h2 = fcntl(s2, F_DUPFD, 100);
    close(s1);
    close(s2);
    if (dup2(h1, 3) != 3 || dup2(h2, 4) != 4)
        bail_out("dup2: %s", strerror(errno));
    close(h1);
    close(h2);

    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("LISTEN_PID", "1", 1);
    setenv("LISTEN_FDS", "2", 1);
    is(netsrv_listen_fds(0), 0, "listen_fds: LISTEN_PID of another process: none for us");
    setenv("LISTEN_PID", pid, 1);
    is(netsrv_listen_fds(0), 2, "listen_fds: LISTEN_PID=ours LISTEN_FDS=2: 2 sockets");
    ok(getenv("LISTEN_FDS") != NULL, "listen_fds(0) leaves the variables");
    is(netsrv_listen_fds(1), 2, "listen_fds(1): still 2");
    ok(getenv("LISTEN_FDS") == NULL && getenv("LISTEN_PID") == NULL, "listen_fds(1) unsets the variables");
    is(netsrv_listen_fds(0), 0, "then: none");
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "2", 1);

    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], want[64];
    netsrv_config_init(&cfg);
    cfg.address = "systemd";
    cfg.mode = NETSRV_THREAD;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (ok(srv != NULL, "address \"systemd\": server on the first passed socket")) {
        is(netsrv_server_fileno(srv), 3, "it uses fd 3");
        snprintf(want, sizeof want, "127.0.0.1:%d", p1);
        is_str(addr, want, "its address is the passed socket's");
        tu_srv t;
        tu_start(&t, srv, 0.02);
        ok(tu_echo_once(addr, 0, "systemd\n"), "it serves");
        tu_stop(&t);
        netsrv_server_free(srv);
    } else {
        skip(3, "no server");
    }

    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    close(3);
    close(4);
}

static void test_parse_format(void)
{
    static const struct {
        const char *in, *out;
        int family;
    } good[] = {
        { "8080", "0.0.0.0:8080", AF_INET },
        { "127.0.0.1:80", "127.0.0.1:80", AF_INET },
        { "[::1]:80", "[::1]:80", AF_INET6 },
        { "unix:/tmp/x", "unix:/tmp/x", AF_UNIX },
        { "0.0.0.0:0", "0.0.0.0:0", AF_INET },
        { "[::]:65535", "[::]:65535", AF_INET6 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        netsrv_addr a;
        char err[NETSRV_ERRLEN] = "", buf[NETSRV_ADDRSTRLEN] = "";
        memset(&a, 0xa5, sizeof a);
        int rc = netsrv_addr_parse(good[i].in, &a, err, sizeof err);
        is(rc, 0, "parse \"%s\" %s", good[i].in, err);
        is(rc == 0 ? a.ss.ss_family : -1, good[i].family, "\"%s\": family", good[i].in);
        char *r = netsrv_addr_format(&a, buf, sizeof buf);
        ok(r == buf, "format returns buf");
        is_str(buf, good[i].out, "format(parse(\"%s\"))", good[i].in);
        /* Format's output parses back to the same address. */
        netsrv_addr b;
        memset(&b, 0, sizeof b);
        ok(netsrv_addr_parse(buf, &b, NULL, 0) == 0 && b.len == a.len && !memcmp(&a.ss, &b.ss, a.len),
           "parse(format(\"%s\")) is the same address", good[i].in);
    }

    static const char *bad[] = { "", "host:", ":99999", "[::1", "unix:", "127.0.0.1:99999", "127.0.0.1:-1",
                                 "127.0.0.1:80x", "[::1]80" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        netsrv_addr a;
        char err[NETSRV_ERRLEN] = "";
        int rc = netsrv_addr_parse(bad[i], &a, err, sizeof err);
        is(rc, -EINVAL, "parse rejects \"%s\" with -EINVAL", bad[i]);
        ok(err[0] != '\0', "  with a reason: %s", err);
    }
    /* Too long for sun_path: refused, never truncated or overflowed. */
    char longp[300];
    netsrv_addr a;
    memset(longp, 'p', sizeof longp);
    memcpy(longp, "unix:/", 6);
    longp[sizeof longp - 1] = '\0';
    ok(netsrv_addr_parse(longp, &a, NULL, 0) < 0, "a Unix path longer than sun_path is refused");
    char tiny[8];
    netsrv_addr_parse("127.0.0.1:80", &a, NULL, 0);
    netsrv_addr_format(&a, tiny, sizeof tiny);
    ok(memchr(tiny, '\0', sizeof tiny) != NULL, "format into a small buffer stays NUL-terminated");
    char err[8];
    netsrv_addr_parse("[::1", &a, err, sizeof err);
    ok(memchr(err, '\0', sizeof err) != NULL, "a small error buffer stays NUL-terminated");
}

static void test_names(void)
{
    is(netsrv_mode_parse("sync"), NETSRV_SYNC, "mode sync");
    is(netsrv_mode_parse("thread"), NETSRV_THREAD, "mode thread");
    is(netsrv_mode_parse("fork"), NETSRV_FORK, "mode fork");
    is(netsrv_mode_parse("bogus"), -EINVAL, "unknown mode: -EINVAL");
    is_str(netsrv_mode_name(NETSRV_FORK), "fork", "mode name fork");
    ok(netsrv_strerror(-EADDRINUSE) != NULL && netsrv_strerror(-EADDRINUSE)[0], "strerror(-EADDRINUSE): %s",
       netsrv_strerror(-EADDRINUSE));
    ok(netsrv_strerror(-99999) != NULL, "strerror of an unknown code is not NULL");
    ok(netsrv_handler_find("echo") && netsrv_handler_find("discard") && netsrv_handler_find("exec"),
       "ready handlers echo, discard, exec");
    ok(netsrv_handler_find("nope") == NULL, "unknown handler: NULL");
    int n = 0;
    for (const netsrv_handler *const *l = netsrv_handler_list(); l && *l; l++)
        n++;
    ok(n >= 3, "handler list has them (%d)", n);
}

static void test_unix_paths(void)
{
    char ua[200];
    const char *path = tu_unix_addr(ua, sizeof ua, "paths") + 5;

    /* A stale socket file (its socket closed) is replaced. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    if (s < 0 || bind(s, (struct sockaddr *)&un, sizeof un) < 0)
        bail_out("stale bind: %s", strerror(errno));
    close(s);
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config_init(&cfg);
    cfg.address = ua;
    cfg.mode = NETSRV_THREAD;
    netsrv_server *a = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    ok(a != NULL, "a stale Unix socket path is replaced on bind");
    if (!a)
        return;
    tu_srv t;
    tu_start(&t, a, 0.02);

    /* A live one is not. */
    netsrv_server *b = NULL;
    char err[NETSRV_ERRLEN] = "";
    int rc = netsrv_server_create(&b, &cfg, netsrv_handler_find("echo"), err, sizeof err);
    is(rc, -EADDRINUSE, "a live Unix socket path: -EADDRINUSE (%s)", err);
    if (rc == 0)
        netsrv_server_free(b);
    ok(tu_echo_once(addr, 0, "still mine\n"), "the live server keeps its path and serves");
    tu_stop(&t);
    netsrv_server_free(a);
    struct stat st;
    ok(stat(path, &st) < 0 && errno == ENOENT, "path unlinked when the server is freed");

    /* Not a socket: never deleted. */
    int f = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (f >= 0) {
        (void)!write(f, "data", 4);
        close(f);
    }
    b = NULL;
    rc = netsrv_server_create(&b, &cfg, netsrv_handler_find("echo"), NULL, 0);
    ok(rc < 0, "a path holding a regular file is refused (%d)", rc);
    if (rc == 0)
        netsrv_server_free(b);
    ok(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4, "and the file is left alone");
    unlink(path);
}

static void test_fd_address(void)
{
    int port;
    int fd = tu_listen_loopback(&port);
    char text[32], want[64], addr[NETSRV_ADDRSTRLEN];
    snprintf(text, sizeof text, "fd:%d", fd);
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    netsrv_config cfg;
    netsrv_config_init(&cfg);
    cfg.address = text;
    cfg.mode = NETSRV_THREAD;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), addr);
    if (ok(srv != NULL, "address \"%s\": an inherited listening socket", text)) {
        is(netsrv_server_fileno(srv), fd, "uses that descriptor");
        is_str(addr, want, "its address");
        tu_srv t;
        tu_start(&t, srv, 0.02);
        ok(tu_echo_once(addr, 0, "fd\n"), "serves on it");
        tu_stop(&t);
        netsrv_server_free(srv);
    } else {
        skip(3, "no server");
    }
    if (fcntl(fd, F_GETFD) >= 0)
        close(fd);

    int before = tu_count_fds();
    netsrv_server *bad = NULL;
    cfg.address = "fd:999";
    ok(netsrv_server_create(&bad, &cfg, netsrv_handler_find("echo"), NULL, 0) < 0, "fd:999 (not open) fails");
    int nonsock = open("/dev/null", O_RDONLY);
    snprintf(text, sizeof text, "fd:%d", nonsock);
    cfg.address = text;
    bad = NULL;
    int rc = netsrv_server_create(&bad, &cfg, netsrv_handler_find("echo"), NULL, 0);
    ok(rc < 0, "fd:N of a non-socket fails (%d)", rc);
    if (rc == 0)
        netsrv_server_free(bad);
    close(nonsock);
    is(tu_count_fds(), before, "no descriptor leaked");
}

static void test_bind_and_activate(void)
{
    netsrv_config cfg;
    char addr[NETSRV_ADDRSTRLEN], err[NETSRV_ERRLEN] = "";
    netsrv_config_init(&cfg);
    is(cfg.bind_and_activate, 1, "bind_and_activate defaults to 1");
    cfg.address = "127.0.0.1:0";
    cfg.bind_and_activate = 0;
    netsrv_server *srv = tu_create(&cfg, netsrv_handler_find("echo"), NULL);
    if (!ok(srv != NULL, "bind_and_activate=0: created"))
        return;
    int fd = netsrv_server_fileno(srv);
    ok(fd >= 0, "the socket exists before activation");
    int sz = 65536;
    ok(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz) == 0, "the caller can set options on it");
    int rc = netsrv_server_activate(srv, err, sizeof err);
    is(rc, 0, "netsrv_server_activate %s", err);
    const netsrv_addr *a = netsrv_server_addr(srv);
    ok(a->ss.ss_family == AF_INET && ((const struct sockaddr_in *)&a->ss)->sin_port != 0,
       "after activation the real port is known");
    netsrv_server_address(srv, addr, sizeof addr);
    tu_srv t;
    tu_start(&t, srv, 0.02);
    ok(tu_echo_once(addr, 0, "activated\n"), "and it serves");
    tu_stop(&t);
    netsrv_server_free(srv);
}

static void test_connect_errors(void)
{
    int port;
    int fd = tu_listen_loopback(&port);
    close(fd); /* nothing listens there now */
    char text[64], err[NETSRV_ERRLEN] = "";
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    int rc = netsrv_connect(text, 0, 2.0, err, sizeof err);
    is(rc, -ECONNREFUSED, "netsrv_connect to a closed port: -ECONNREFUSED (%s)", err);
    if (rc >= 0)
        close(rc);
    rc = netsrv_connect("[::1", 0, 2.0, NULL, 0);
    is(rc, -EINVAL, "netsrv_connect to a bad address: -EINVAL");
}

/* Every text is copied to the very end of a page whose successor is
 * unmapped, so a parser that reads one byte past the terminating NUL
 * faults at once (under ASan too, and without it). */
static void test_parse_guard_page(void)
{
    static const char *const texts[] = {
        "", "8", "80", "65535", "65536", "1:", ":1", "localhost:1", "*:1", "[", "[]", "[::1]", "[::1]:",
        "[::1]:8", "[::1]x", "127.0.0.1:8080", "127.0.0.1:", "unix:", "unix:x", "unix:@",
        "unix:@n", "fd:", "host:99999", "::1:80", "1.2.3.4:5:6",
    };
    long ps = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, (size_t)ps * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!ok(mem != MAP_FAILED && mprotect(mem + ps, (size_t)ps, PROT_NONE) == 0,
            "guard page for the parser"))
        return;
    int parsed = 0, refused = 0;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        size_t n = strlen(texts[i]) + 1;
        char *at = mem + ps - n;
        memcpy(at, texts[i], n);
        netsrv_addr a;
        char err[NETSRV_ERRLEN], shown[NETSRV_ADDRSTRLEN];
        if (netsrv_addr_parse(at, &a, err, sizeof err) == 0) {
            netsrv_addr_format(&a, shown, sizeof shown);
            parsed++;
        } else {
            refused++;
        }
    }
    ok(parsed > 0 && refused > 0, "%d texts at a page's end parsed or refused without over-read "
       "(%d parsed, %d refused)", parsed + refused, parsed, refused);
    munmap(mem, (size_t)ps * 2);
}

int main(void)
{
    tu_init(60);
    test_listen_fds(); /* first: it takes over descriptors 3 and 4 */
    test_parse_format();
    test_names();
    test_unix_paths();
    test_fd_address();
    test_bind_and_activate();
    test_connect_errors();
    test_parse_guard_page();
    return done_testing();
}
