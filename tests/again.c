/* again.c - handlers that return NETSRV_AGAIN (one request at a time on a
 * kept connection, as HTTP keep-alive does): called again for every line,
 * pipelined lines answered in order, setup and finish once per connection,
 * in every mode; in async mode an idle kept connection holds no coroutine
 * stack (memory measured over 2,000 of them) and a shutdown ends it at once.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

struct st {
    int calls;
};

static int a_setup(netsrv_request *req)
{
    (void)req;
    tu_ev_emit('S', 0);
    return 0;
}

/* One line per call: answered upper-cased with the call's number. */
static int a_handle(netsrv_request *req)
{
    struct st *st = netsrv_request_state(req);
    char line[256];
    ssize_t n = netsrv_readline(req, line, sizeof line);
    if (n <= 0)
        return (int)n;
    for (ssize_t i = 0; i < n; i++)
        line[i] = (char)toupper((unsigned char)line[i]);
    st->calls++;
    if (netsrv_printf(req, "%d ", st->calls) < 0 || netsrv_write(req, line, (size_t)n) < 0)
        return -EPIPE;
    return NETSRV_AGAIN;
}

static void a_finish(netsrv_request *req)
{
    struct st *st = netsrv_request_state(req);
    tu_ev_emit('F', st->calls);
}

static const netsrv_handler again_handler = {
    "again", a_setup, a_handle, a_finish, sizeof(struct st), NULL, NETSRV_CLIENT_FIRST
};

static void test_mode(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    char addr[NETSRV_ADDRSTRLEN], buf[256];
    netsrv_config cfg;
    tu_config(&cfg, mode);
    cfg.drain = 30;
    netsrv_server *srv = tu_create(&cfg, &again_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", m);
        return;
    }
    int fd = tu_connect(addr, 0);
    tu_send_all(fd, "one\n", 4);
    ssize_t n = tu_read_line(fd, buf, sizeof buf, 5000);
    is_str(n > 0 ? buf : "", "1 ONE\n", "%s: first request answered", m);
    tu_send_all(fd, "two\n", 4);
    n = tu_read_line(fd, buf, sizeof buf, 5000);
    is_str(n > 0 ? buf : "", "2 TWO\n", "%s: called again for the next one, state kept", m);
    tu_send_all(fd, "a\nb\nc\n", 6);
    char all[64] = "";
    for (int i = 0; i < 3; i++)
        if (tu_read_line(fd, buf, sizeof buf, 5000) > 0)
            strcat(all, buf);
    is_str(all, "3 A\n4 B\n5 C\n", "%s: three pipelined requests, answered in order", m);
    tu_close(fd);
    tu_ev e[2];
    int k = tu_ev_wait(e, 2, 5000);
    ok(k == 2 && e[0].code == 'S' && e[1].code == 'F' && e[1].val == 5,
       "%s: setup once, finish once after 5 calls (%s)", m, tu_ev_codes(e, k));
    /* A connection between requests has nothing in flight: a shutdown
     * ends it at once, long before the 30 s of drain. */
    fd = tu_connect(addr, 0);
    tu_send_all(fd, "idle\n", 5);
    tu_read_line(fd, buf, sizeof buf, 5000);
    netsrv_shutdown(srv);
    is(tu_wait_eof(fd, 10000), 1, "%s: a shutdown ends a kept connection between requests at once", m);
    k = tu_ev_wait(e, 2, 5000);
    ok(k == 2 && e[1].code == 'F', "%s: and its finish runs (%s)", m, tu_ev_codes(e, k));
    tu_close(fd);
    tu_wait_done(&ts, 10);
    netsrv_server_free(srv);
}

#define IDLE 2000

static void test_idle_memory(void)
{
    tu_raise_nofile(2 * IDLE + 100);
    char addr[NETSRV_ADDRSTRLEN], buf[64];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_ASYNC);
    cfg.drain = 5;
    netsrv_server *srv = tu_create(&cfg, &again_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("idle: server starts");
        return;
    }
    static int fds[IDLE];
    /* warm up: the loop's pools and caches exist before the measurement */
    for (int i = 0; i < 50; i++) {
        fds[i] = tu_connect(addr, 0);
        tu_send_all(fds[i], "w\n", 2);
        tu_read_line(fds[i], buf, sizeof buf, 5000);
    }
    long before = tu_rss_bytes();
    int served = 0;
    for (int i = 50; i < IDLE; i++) {
        fds[i] = tu_connect(addr, 0);
        if (fds[i] < 0)
            break;
        tu_send_all(fds[i], "x\n", 2);
        if (tu_read_line(fds[i], buf, sizeof buf, 5000) > 0)
            served++;
    }
    long after = tu_rss_bytes();
    long per = (after - before) / (IDLE - 50);
    is(served, IDLE - 50, "idle: %d kept connections each answered once", IDLE - 50);
    /* ThreadSanitizer's shadow and its per-allocation records count in
     * RSS too: only a build without it measures. */
    if (TU_UNDER_TSAN || TU_UNDER_VALGRIND)
        skip(1, "ThreadSanitizer's or valgrind's shadow memory counts in RSS: it says nothing here");
    else
        ok(per < 1536, "idle: a kept, idle connection costs %ld bytes of the process (< 1.5 KiB: no stack)",
           per);
    is(netsrv_server_active(srv), IDLE, "idle: all %d are still open", IDLE);
    /* each still answers */
    tu_send_all(fds[IDLE - 1], "y\n", 2);
    tu_read_line(fds[IDLE - 1], buf, sizeof buf, 5000);
    is_str(buf, "2 Y\n", "idle: the last one answers again");
    netsrv_shutdown(srv);
    int eofs = 0;
    for (int i = 0; i < IDLE; i++)
        eofs += tu_wait_eof(fds[i], 5000) == 1;
    is(eofs, IDLE, "idle: a shutdown ends every idle kept connection at once (drain 5 s)");
    ok(tu_wait_done(&ts, 10), "idle: serve_forever returns");
    for (int i = 0; i < IDLE; i++)
        close(fds[i]);
    netsrv_server_free(srv);
}

int main(void)
{
    tu_init(120);
    tu_ev_init();
    for (int i = 0; i < TU_NMODES; i++)
        test_mode(tu_modes[i]);
    test_idle_memory();
    return done_testing();
}
