/* pool.c - squares numbers in a pool of worker processes with the
 * installed libnetsrv (netsrv_pool_*), and prints "N^2 = M" for each, in
 * the order the workers finish:
 *
 *     cc pool.c $(pkg-config --cflags --libs libnetsrv) -o pool
 *     ./pool 4 10        # 4 workers, the numbers 1..10
 *
 * Usage: pool [WORKERS [COUNT]]  (default 4 workers, 10 numbers)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netsrv.h>

/* Runs in a worker: the task is a long long, the result its square. */
static int square(void *ctx, const void *task, size_t len, void *result, size_t *result_len)
{
    long long n;

    (void)ctx;
    if (len != sizeof n)
        return -EINVAL;
    memcpy(&n, task, sizeof n);
    n *= n;
    memcpy(result, &n, sizeof n);
    *result_len = sizeof n;
    return 0;
}

int main(int argc, char **argv)
{
    netsrv_pool *pool;
    netsrv_pool_result r;
    char err[NETSRV_ERRLEN];
    long workers = argc > 1 ? strtol(argv[1], NULL, 10) : 4;
    long count = argc > 2 ? strtol(argv[2], NULL, 10) : 10;
    long long i, sq;
    int rc, failed = 0;

    if (argc > 3 || workers < 1 || workers > 256 || count < 0) {
        fprintf(stderr, "usage: pool [WORKERS [COUNT]]\n");
        return 2;
    }
    rc = netsrv_pool_new(&pool, (unsigned)workers, 0, square, NULL, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "pool: %s\n", err);
        return 1;
    }
    /* Submits wait while the queue is full: the workers set the pace. */
    for (i = 1; i <= count; i++)
        if ((rc = netsrv_pool_submit(pool, &i, sizeof i, (unsigned long long)i, 0)) < 0) {
            fprintf(stderr, "pool: submit %lld: %s\n", i, netsrv_strerror(rc));
            failed = 1;
            break;
        }
    netsrv_pool_close(pool);
    while ((rc = netsrv_pool_next_result(pool, &r, -1)) > 0) {
        if (r.status != NETSRV_POOL_OK || r.len != sizeof sq) {
            fprintf(stderr, "pool: task %llu: %s\n", r.id,
                    r.why[0] ? r.why : netsrv_strerror(r.rc));
            failed = 1;
            continue;
        }
        memcpy(&sq, r.data, sizeof sq);
        printf("%llu^2 = %lld\n", r.id, sq);
    }
    if ((rc = netsrv_pool_join(pool, 10)) < 0) {
        fprintf(stderr, "pool: join: %s\n", netsrv_strerror(rc));
        failed = 1;
    }
    netsrv_pool_free(pool);
    return failed ? 1 : 0;
}
