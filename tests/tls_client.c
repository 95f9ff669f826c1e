/* tls_client.c - the client half of tests/tls.sh: fetches files over
 * HTTPS with netsrv_conn_dial, netsrv_conn_start_tls and the HTTP layer,
 * in the calling thread (no task) or as many tasks on one netsrv_loop.
 *
 *   tls_client fetch ADDR NAME CA INSECURE OUTDIR PATH...
 *       one connection, the PATHs one after the other (keep-alive) into
 *       OUTDIR/basename; NAME "-": no server name; CA "-": no ca_file
 *   tls_client loop N ADDR NAME CA OUTDIR PATH...
 *       N tasks on one loop, each its own connection doing as fetch does,
 *       into OUTDIR/TASK.basename
 *   tls_client sendfile ADDR NAME CA FILE
 *       sends FILE with netsrv_sendfile after a "SIZE\n" line, reads one
 *       line back (tests/tls.sh's Python peer answers with its SHA-256)
 *
 * Prints one line: "ok ..." (exit 0) or "error RC TEXT" (exit 1).
 * TLS_TIMEOUT: the handshake's timeout (default 10 s); TLS_STACK: the
 * loop's task stack size (default 256 KiB).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsrv.h"

typedef struct job {
    const char *addr, *name, *ca, *outdir, *prefix;
    int insecure;
    char **paths;
    int npaths;
    int rc;
    long long bytes;
    char version[32], cipher[64];
    char err[NETSRV_ERRLEN + 64];
} job;

static int http_get(job *j, netsrv_conn *c, const char *path)
{
    char out[4096];
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, sizeof out, "%s/%s%s", j->outdir, j->prefix, base);
    const char *host = j->name ? j->name : "localhost";
    netsrv_http_header h[] = { NETSRV_HTTP_HEADER("Host", host),
                               NETSRV_HTTP_HEADER("User-Agent", "netsrv-tls-test") };
    ssize_t n = netsrv_http_write_request(c, "GET", path, strlen(path), h, 2);
    if (n < 0 || (n = netsrv_flush(c)) < 0) {
        snprintf(j->err, sizeof j->err, "writing the request: %s", netsrv_strerror((int)n));
        return (int)n;
    }
    netsrv_http_header hdrs[64];
    netsrv_http_limits lim;
    netsrv_http_limits_init(&lim);
    lim.max_body = -1;
    netsrv_http_msg m;
    netsrv_http_msg_init(&m, NETSRV_HTTP_RESPONSE, 0, &lim, hdrs, 64);
    char *head = malloc(16384), *buf = malloc(65536); /* not on a task's stack */
    int rc = 0, fd = -1;
    if (!head || !buf) {
        rc = -ENOMEM;
        goto out;
    }
    n = netsrv_http_read_head(c, &m, head, 16384);
    if (n <= 0) {
        rc = n < 0 ? (int)n : -EPIPE;
        netsrv_tls_info ti;
        netsrv_conn_tls_info(c, &ti);
        snprintf(j->err, sizeof j->err, "reading the head of %s: %s (%s)", path,
                 netsrv_strerror(rc), ti.error ? ti.error : "");
        goto out;
    }
    if (m.status != 200) {
        snprintf(j->err, sizeof j->err, "%s: status %d", path, m.status);
        rc = -EREMOTEIO;
        goto out;
    }
    netsrv_http_body b;
    if ((rc = netsrv_http_body_init(&b, &m)) < 0) {
        snprintf(j->err, sizeof j->err, "body: %s", netsrv_strerror(rc));
        goto out;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        snprintf(j->err, sizeof j->err, "%.200s: %s", out, netsrv_strerror(rc));
        goto out;
    }
    while ((n = netsrv_http_read_body(c, &b, buf, 65536)) > 0) {
        if (write(fd, buf, (size_t)n) != n) {
            rc = -EIO;
            snprintf(j->err, sizeof j->err, "%.200s: short write", out);
            goto out;
        }
        j->bytes += n;
    }
    if (n < 0) {
        rc = (int)n;
        netsrv_tls_info ti;
        netsrv_conn_tls_info(c, &ti);
        snprintf(j->err, sizeof j->err, "reading the body of %s: %s (%s)", path,
                 netsrv_strerror(rc), ti.error ? ti.error : "");
    }
out:
    if (fd >= 0)
        close(fd);
    free(head);
    free(buf);
    return rc;
}

static int connect_tls(job *j, netsrv_conn **out)
{
    char err[NETSRV_ERRLEN];
    netsrv_conn *c;
    int rc = netsrv_conn_dial(&c, j->addr, 10, err, sizeof err);
    if (rc < 0) {
        snprintf(j->err, sizeof j->err, "dial: %s", err);
        return rc;
    }
    const char *to = getenv("TLS_TIMEOUT");
    netsrv_tls_opts o = { .server_name = j->name, .ca_file = j->ca, .insecure = j->insecure,
                          .timeout = to ? atof(to) : 10 };
    rc = netsrv_conn_start_tls(c, &o, err, sizeof err);
    if (rc < 0) {
        snprintf(j->err, sizeof j->err, "%s", err);
        netsrv_conn_close(c);
        return rc;
    }
    netsrv_tls_info ti;
    if (netsrv_conn_tls_info(c, &ti) == 0) {
        snprintf(j->version, sizeof j->version, "%s", ti.version);
        snprintf(j->cipher, sizeof j->cipher, "%s", ti.cipher);
    }
    *out = c;
    return 0;
}

static void run_job(job *j)
{
    netsrv_conn *c;
    j->rc = connect_tls(j, &c);
    if (j->rc < 0)
        return;
    for (int i = 0; i < j->npaths && j->rc == 0; i++)
        j->rc = http_get(j, c, j->paths[i]);
    netsrv_conn_close(c);
}

static int running, max_running, ticks;
static double max_gap;

static void task_fn(void *arg)
{
    job *j = arg;
    if (++running > max_running)
        max_running = running;
    run_job(j);
    running--;
}

/* Ticks while the others handshake and fetch: the loop is not held up. */
static void ticker_fn(void *arg)
{
    (void)arg;
    double last = netsrv_now();
    while (running > 0 || ticks == 0) {
        netsrv_wait(-1, 0, netsrv_now() + 0.01);
        double now = netsrv_now();
        if (now - last > max_gap)
            max_gap = now - last;
        last = now;
        ticks++;
    }
}

static const char *opt(const char *s)
{
    return strcmp(s, "-") == 0 ? NULL : s;
}

static int usage(void)
{
    fprintf(stderr, "usage: tls_client fetch ADDR NAME CA INSECURE OUTDIR PATH...\n"
                    "       tls_client loop N ADDR NAME CA OUTDIR PATH...\n"
                    "       tls_client sendfile ADDR NAME CA FILE\n");
    return 2;
}

static int do_sendfile(job *j, const char *file)
{
    netsrv_conn *c;
    if ((j->rc = connect_tls(j, &c)) < 0)
        return j->rc;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(j->err, sizeof j->err, "%s: %s", file, strerror(errno));
        netsrv_conn_close(c);
        return j->rc = -errno;
    }
    netsrv_printf(c, "%lld\n", (long long)st.st_size);
    ssize_t n = netsrv_sendfile(c, fd, 0, (size_t)st.st_size);
    close(fd);
    char line[128];
    ssize_t l = n == st.st_size ? netsrv_readline(c, line, sizeof line - 1) : 0;
    if (n != st.st_size || l <= 0) {
        j->rc = n < 0 ? (int)n : l < 0 ? (int)l : -EPIPE;
        snprintf(j->err, sizeof j->err, "sendfile %zd of %lld, reply %zd", n,
                 (long long)st.st_size, l);
    } else {
        line[l] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(j->err, sizeof j->err, "%s", line);
        j->bytes = n;
    }
    netsrv_conn_close(c);
    return j->rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    alarm(120); /* bounded, whatever the peer does */
    if (strcmp(argv[1], "fetch") == 0) {
        if (argc < 8)
            return usage();
        job j = { .addr = argv[2], .name = opt(argv[3]), .ca = opt(argv[4]),
                  .insecure = atoi(argv[5]), .outdir = argv[6], .prefix = "",
                  .paths = argv + 7, .npaths = argc - 7 };
        run_job(&j);
        if (j.rc < 0) {
            printf("error %d %s\n", j.rc, j.err);
            return 1;
        }
        printf("ok %lld %s %s\n", j.bytes, j.version, j.cipher);
        return 0;
    }
    if (strcmp(argv[1], "loop") == 0) {
        if (argc < 8)
            return usage();
        int n = atoi(argv[2]);
        if (n < 1 || n > 1000)
            return usage();
        job *jobs = calloc((size_t)n, sizeof *jobs);
        char (*prefix)[16] = calloc((size_t)n, sizeof *prefix);
        netsrv_loop *l;
        /* Room to spare; tls.sh also runs 64 KiB (TLS_STACK). */
        const char *stack = getenv("TLS_STACK");
        if (!jobs || !prefix || netsrv_loop_new(&l, stack ? (size_t)atol(stack) : 256 * 1024) < 0) {
            printf("error %d no loop\n", -ENOMEM);
            free(jobs);
            free(prefix);
            return 1;
        }
        for (int i = 0; i < n; i++) {
            snprintf(prefix[i], sizeof prefix[i], "%d.", i);
            jobs[i] = (job){ .addr = argv[3], .name = opt(argv[4]), .ca = opt(argv[5]),
                             .outdir = argv[6], .prefix = prefix[i], .paths = argv + 7,
                             .npaths = argc - 7 };
            netsrv_loop_spawn(l, task_fn, &jobs[i]);
        }
        netsrv_loop_spawn(l, ticker_fn, NULL);
        int rc = netsrv_loop_run(l);
        netsrv_loop_free(l);
        int good = 0;
        for (int i = 0; i < n; i++) {
            if (jobs[i].rc == 0)
                good++;
            else
                fprintf(stderr, "task %d: error %d %s\n", i, jobs[i].rc, jobs[i].err);
        }
        if (rc < 0 || good != n)
            printf("error %d %d of %d tasks failed\n", rc < 0 ? rc : -EIO, n - good, n);
        else
            printf("ok %d tasks, %d at once, longest loop gap %.3f s, %s\n", n, max_running, max_gap,
                   jobs[0].version);
        /* freed, so that LeakSanitizer's exit report stays empty */
        free(jobs);
        free(prefix);
        return rc < 0 || good != n;
    }
    if (strcmp(argv[1], "sendfile") == 0) {
        if (argc != 6)
            return usage();
        job j = { .addr = argv[2], .name = opt(argv[3]), .ca = opt(argv[4]) };
        if (do_sendfile(&j, argv[5]) < 0) {
            printf("error %d %s\n", j.rc, j.err);
            return 1;
        }
        printf("ok %lld %s\n", j.bytes, j.err);
        return 0;
    }
    return usage();
}
