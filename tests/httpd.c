/* httpd.c - the http handler through the library's API alone: its types
 * table, netsrv_httpd_init's errors, and the log callback (what a program
 * other than nettool builds its access log from) with the right method,
 * target, status and body bytes for each request, in every mode (in fork
 * mode the callback runs in the child, so results come through the event
 * pipe).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static void mime_is(const char *name, const char *want)
{
    is_str(netsrv_httpd_mime_type(name, strlen(name)), want, "type of '%s'", name);
}

static void test_types(void)
{
    mime_is("index.html", "text/html; charset=utf-8");
    mime_is("A.HTML", "text/html; charset=utf-8");
    mime_is("style.css", "text/css; charset=utf-8");
    mime_is("app.js", "text/javascript; charset=utf-8");
    mime_is("data.json", "application/json");
    mime_is("p.png", "image/png");
    mime_is("p.JPG", "image/jpeg");
    mime_is("i.svg", "image/svg+xml");
    mime_is("m.wasm", "application/wasm");
    mime_is("d.pdf", "application/pdf");
    mime_is("notes.txt", "text/plain; charset=utf-8");
    mime_is("x.tar.gz", "application/gzip");
    mime_is("README", "application/octet-stream");
    mime_is(".bashrc", "application/octet-stream");
    mime_is("dir.d/file", "application/octet-stream");
    mime_is("trailing.", "application/octet-stream");
    mime_is("x.unknownext", "application/octet-stream");
}

static void test_init(void)
{
    netsrv_httpd h;
    char err[NETSRV_ERRLEN] = "", path[512];
    snprintf(path, sizeof path, "%s/nowhere", tu_tmpdir());
    is(netsrv_httpd_init(&h, path, err, sizeof err), -ENOENT, "init: a missing directory: -ENOENT");
    ok(strstr(err, "nowhere") != NULL, "init: the reason names it (%s)", err);
    snprintf(path, sizeof path, "%s/afile", tu_tmpdir());
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    is(netsrv_httpd_init(&h, path, err, sizeof err), -ENOTDIR, "init: a file: -ENOTDIR");
    is(netsrv_httpd_init(&h, tu_tmpdir(), err, sizeof err), 0, "init: a directory");
    ok(h.upload == 0 && h.max_upload == 100ll << 20 && h.log == NULL,
       "init: uploads off, 100 MiB cap, no log by default");
    netsrv_httpd_fini(&h);
    netsrv_httpd_fini(&h);
    pass("fini twice is fine");
    const netsrv_handler *hd = netsrv_handler_find("http");
    ok(hd && (hd->flags & NETSRV_CLIENT_FIRST) && hd->state_size == 0,
       "the http handler is found, reads first, and keeps no per-connection state");
}

/* The log callback: status and bytes through the event pipe, the request
 * line checked here and reported as 'L' 1 (right) or 0. */
static void on_log(const netsrv_httpd_entry *e, void *arg)
{
    const char *want = arg;
    char line[256];
    snprintf(line, sizeof line, "%s %.*s HTTP/%d.%d", e->method ? e->method : "-", (int)e->target_len,
             e->target, e->major, e->minor);
    tu_ev_emit('L', strstr(want, line) != NULL && e->peer && e->time > 0);
    tu_ev_emit('s', e->status);
    tu_ev_emit('b', (int)e->bytes);
}

static void test_log(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    char dir[512], path[600], addr[NETSRV_ADDRSTRLEN], buf[2048], err[NETSRV_ERRLEN];
    snprintf(dir, sizeof dir, "%s/www-%s", tu_tmpdir(), m);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/a.txt", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("hello\n", f);
        fclose(f);
    }
    netsrv_httpd h;
    if (netsrv_httpd_init(&h, dir, err, sizeof err) < 0) {
        fail("%s: init %s", m, err);
        return;
    }
    /* The request lines the log may see. */
    h.log = on_log;
    h.log_arg = "GET /a.txt HTTP/1.1|HEAD /a.txt HTTP/1.1|GET /nope HTTP/1.1";
    netsrv_handler hd = *netsrv_handler_find("http");
    hd.ctx = &h;
    netsrv_config cfg;
    tu_config(&cfg, mode);
    cfg.timeout = 10;
    netsrv_server *srv = tu_create(&cfg, &hd, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", m);
        netsrv_httpd_fini(&h);
        return;
    }
    int fd = tu_connect(addr, 0);
    const char *req = "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                      "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    tu_send_all(fd, req, strlen(req));
    ssize_t n = tu_read_all(fd, buf, sizeof buf - 1, 10000);
    buf[n > 0 ? n : 0] = '\0';
    tu_close(fd);
    ok(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(buf, "\r\n\r\nhello\nHTTP/1.1 200 OK\r\n") &&
           strstr(buf, "HTTP/1.1 404 Not Found\r\n"),
       "%s: three pipelined requests answered in order", m);
    tu_ev e[9];
    int k = tu_ev_wait(e, 9, 10000);
    int lines = 0;
    char got[128] = "";
    for (int i = 0; i < k; i++) {
        if (e[i].code == 'L')
            lines += e[i].val;
        else
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%c%d", got[0] ? " " : "", e[i].code,
                     e[i].val);
    }
    is(k, 9, "%s: the log callback ran once per request", m);
    is(lines, 3, "%s: with the request line, the peer and the time", m);
    ok(strncmp(got, "s200 b6 s200 b0 s404 b", 22) == 0, "%s: statuses and body bytes (%s)", m, got);
    tu_stop(&ts);
    netsrv_server_free(srv);
    netsrv_httpd_fini(&h);
}

int main(void)
{
    tu_init(120);
    tu_ev_init();
    test_types();
    test_init();
    for (int i = 0; i < TU_NMODES; i++)
        test_log(tu_modes[i]);
    return done_testing();
}
