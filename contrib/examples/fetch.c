/* fetch.c - a concurrent HTTP client in a few lines: every URL given is
 * fetched by a task of one event loop through one libnetsrv HTTP session
 * (kept connections shared per host), and one line per URL says what
 * came: "STATUS BYTES URL", or "ERROR text URL".  The tasks are written in
 * blocking style; each wait yields to the others.
 *
 *   cc fetch.c $(pkg-config --cflags --libs libnetsrv) -o fetch
 *   ./fetch http://127.0.0.1:8080/a.txt https://example.org/
 */
#include <stdio.h>
#include <string.h>
#include <netsrv.h>

struct job {
    netsrv_httpc *session;
    const char *url;
    int failed;
};

static void fetch(void *arg)
{
    struct job *j = arg;
    char err[NETSRV_ERRLEN];
    static char buf[65536]; /* not on the task's stack (64 KiB in all); the
                               tasks of one loop never read at once */
    netsrv_httpc_req r;
    netsrv_httpc_resp *p;

    netsrv_httpc_req_init(&r, j->url);
    r.follow = 1;
    r.deadline = netsrv_now() + 30;
    int rc = netsrv_httpc_request(j->session, &r, &p, err, sizeof err);
    if (rc < 0) {
        printf("ERROR %s %s\n", err, j->url);
        j->failed = 1;
        return;
    }
    long long bytes = 0;
    ssize_t n;
    while ((n = netsrv_httpc_read(p, buf, sizeof buf)) > 0)
        bytes += n;
    if (n < 0) {
        printf("ERROR %s %s\n", netsrv_strerror((int)n), j->url);
        j->failed = 1;
    } else {
        printf("%d %lld %s\n", netsrv_httpc_status(p), bytes, j->url);
    }
    netsrv_httpc_close(p);
}

static void end_session(void *arg)
{
    netsrv_httpc_free(arg);
}

int main(int argc, char **argv)
{
    netsrv_loop *loop;
    netsrv_httpc *session;
    struct job jobs[256];

    if (argc < 2 || argc - 1 > 256) {
        fprintf(stderr, "usage: fetch URL... (at most 256)\n");
        return 2;
    }
    if (netsrv_loop_new(&loop, 0) < 0 || netsrv_httpc_new(&session, NULL) < 0) {
        fprintf(stderr, "fetch: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        jobs[i - 1] = (struct job){ session, argv[i], 0 };
        netsrv_loop_spawn(loop, fetch, &jobs[i - 1]);
    }
    netsrv_loop_run(loop);
    /* The kept connections close as a task too, as they were used. */
    netsrv_loop_spawn(loop, end_session, session);
    netsrv_loop_run(loop);
    netsrv_loop_free(loop);
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed |= jobs[i - 1].failed;
    return failed;
}
