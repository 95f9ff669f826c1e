/* sendfile.c - netsrv_sendfile in every mode: buffered output first, then
 * the file range byte for byte; ranges past the end of the file; a
 * datagram request refused; and in async mode a client that does not read
 * holds up nobody else of the loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

#define FILE_SIZE (5 * 1024 * 1024 + 123)

static char *content;
static char path[512];

/* Reads "OFF COUNT\n" and answers "HDR\n" then that range of the file;
 * the result of netsrv_sendfile goes to the event pipe. */
static int sf_handle(netsrv_request *req)
{
    char line[64];
    ssize_t n = netsrv_readline(req, line, sizeof line - 1);
    if (n <= 0)
        return 0;
    line[n] = '\0';
    long long off = 0, count = 0;
    if (sscanf(line, "%lld %lld", &off, &count) != 2)
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    netsrv_printf(req, "HDR\n");
    ssize_t r = netsrv_sendfile(req, fd, (off_t)off, (size_t)count);
    close(fd);
    tu_ev_emit('S', (int)(r < 0 ? r : r & 0x7fffffff));
    return r < 0 ? (int)r : 0;
}

static const netsrv_handler sf_handler = { "sf", NULL, sf_handle, NULL, 0, NULL, 0 };

static void check_range(const char *addr, const char *m, long long off, long long count)
{
    long long avail = off >= FILE_SIZE ? 0 : FILE_SIZE - off;
    long long want = count < avail ? count : avail;
    int fd = tu_connect(addr, 0);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%lld %lld\n", off, count);
    tu_send_all(fd, cmd, strlen(cmd));
    size_t cap = (size_t)want + 64;
    char *buf = malloc(cap);
    ssize_t n = tu_read_all(fd, buf, cap, 20000);
    int good = n == want + 4 && memcmp(buf, "HDR\n", 4) == 0 &&
               memcmp(buf + 4, content + (off < FILE_SIZE ? off : 0), (size_t)want) == 0;
    ok(good, "%s: header, then bytes %lld..+%lld of the file, byte for byte (got %zd of %lld)",
       m, off, count, n - 4, want);
    tu_ev e;
    ok(tu_ev_wait(&e, 1, 5000) == 1 && e.code == 'S' && e.val == want,
       "%s: netsrv_sendfile returned %lld", m, want);
    free(buf);
    tu_close(fd);
}

static void test_mode(netsrv_mode mode)
{
    const char *m = netsrv_mode_name(mode);
    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, mode);
    netsrv_server *srv = tu_create(&cfg, &sf_handler, addr);
    tu_srv ts;
    if (!srv || tu_start(&ts, srv, 0.05) < 0) {
        fail("%s: server starts", m);
        return;
    }
    check_range(addr, m, 0, FILE_SIZE);
    check_range(addr, m, 4093, 1000000);
    check_range(addr, m, FILE_SIZE - 10, 1000);
    check_range(addr, m, FILE_SIZE + 5, 10);

    if (mode == NETSRV_ASYNC) {
        /* A client that asks for the whole file and never reads: the loop
         * keeps serving another. */
        int slow = tu_connect(addr, 0);
        char cmd[64];
        snprintf(cmd, sizeof cmd, "0 %d\n", FILE_SIZE);
        tu_send_all(slow, cmd, strlen(cmd));
        check_range(addr, "async, beside a client that does not read", 100, 100000);
        tu_close(slow);
        tu_ev e;
        tu_ev_wait(&e, 1, 5000); /* the slow one's result, whatever it is */
    }
    tu_stop(&ts);
    netsrv_server_free(srv);
}

static int dg_handle(netsrv_request *req)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = netsrv_sendfile(req, fd, 0, 10);
    close(fd);
    tu_ev_emit('D', (int)r);
    return 0;
}

static const netsrv_handler dg_handler = { "dg", NULL, dg_handle, NULL, 0, NULL, 0 };

int main(void)
{
    tu_init(120);
    tu_ev_init();
    snprintf(path, sizeof path, "%s/file", tu_tmpdir());
    content = malloc(FILE_SIZE);
    srand(7);
    for (size_t i = 0; i < FILE_SIZE; i++)
        content[i] = (char)(rand() >> 7);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, content, FILE_SIZE) != FILE_SIZE)
        bail_out("cannot write %s", path);
    close(fd);
    for (int i = 0; i < TU_NMODES; i++)
        test_mode(tu_modes[i]);

    char addr[NETSRV_ADDRSTRLEN];
    netsrv_config cfg;
    tu_config(&cfg, NETSRV_SYNC);
    cfg.dgram = 1;
    netsrv_server *srv = tu_create(&cfg, &dg_handler, addr);
    tu_srv ts;
    if (srv && tu_start(&ts, srv, 0.05) == 0) {
        int c = tu_connect(addr, 1);
        tu_send_all(c, "x", 1);
        tu_ev e;
        ok(tu_ev_wait(&e, 1, 5000) == 1 && e.val == -ENOTSOCK,
           "a datagram request gets -ENOTSOCK");
        close(c);
        tu_stop(&ts);
        netsrv_server_free(srv);
    } else {
        fail("datagram server starts");
    }
    free(content);
    return done_testing();
}
