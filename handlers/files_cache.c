/* files_cache.c - the files handler's cache of SHA-256 sums: a small
 * set-associative table (8 ways, least recently used out) in one shared
 * anonymous mapping behind a process-shared, robust mutex, so that threads,
 * async loops and fork-mode children all hash an unchanged file once.
 */
#include "config.h"
#include "files_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define FC_WAYS 8

struct fc_entry {
    netsrv__fkey key;
    uint64_t used;             /* the tick of its last use; 0: empty */
    unsigned char sum[NETSRV_SHA256_LEN];
};

struct netsrv__fcache {
    pthread_mutex_t lock;      /* process-shared and robust: a fork child
                                  killed while holding it does not wedge the
                                  others */
    uint64_t tick;
    unsigned sets;
    size_t maplen;
    atomic_ullong counters[NETSRV__FC_NCOUNTERS];
    struct fc_entry e[];       /* sets * FC_WAYS */
};

void netsrv__fkey_of(netsrv__fkey *k, const struct stat *st)
{
    memset(k, 0, sizeof *k); /* padding too: keys are compared field by field anyway */
    k->dev = st->st_dev;
    k->ino = st->st_ino;
    k->size = st->st_size;
    k->mtime_sec = (long long)st->st_mtim.tv_sec;
    k->mtime_nsec = st->st_mtim.tv_nsec;
    k->ctime_sec = (long long)st->st_ctim.tv_sec;
    k->ctime_nsec = st->st_ctim.tv_nsec;
}

int netsrv__fkey_eq(const netsrv__fkey *a, const netsrv__fkey *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
           a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

int netsrv__fcache_new(netsrv__fcache **out, unsigned entries)
{
    netsrv__fcache *c;
    pthread_mutexattr_t ma;
    unsigned sets;
    size_t len;

    *out = NULL;
    if (entries == 0)
        entries = 1024;
    if (entries > (1u << 20))
        return -EINVAL;
    sets = (entries + FC_WAYS - 1) / FC_WAYS;
    len = sizeof *c + (size_t)sets * FC_WAYS * sizeof c->e[0];
    /* Shared, not private: a fork child's sums are the next child's too. */
    c = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        return -errno;
    c->sets = sets;
    c->maplen = len;
    for (int i = 0; i < NETSRV__FC_NCOUNTERS; i++)
        atomic_init(&c->counters[i], 0);
    if (pthread_mutexattr_init(&ma) != 0 ||
        pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) != 0 ||
        pthread_mutex_init(&c->lock, &ma) != 0) {
        munmap(c, len);
        return -ENOMEM;
    }
    pthread_mutexattr_destroy(&ma);
    *out = c;
    return 0;
}

void netsrv__fcache_free(netsrv__fcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    munmap(c, c->maplen);
}

/* 0 with the lock held, or an error (the caller then goes without the
 * cache: a miss costs a hash, never a wrong answer). */
static int fc_lock(netsrv__fcache *c)
{
    int r = pthread_mutex_lock(&c->lock);

    if (r == EOWNERDEAD) {
        /* Its owner died in the middle of an update: an entry may be half
         * written, so none is trusted. */
        memset(c->e, 0, (size_t)c->sets * FC_WAYS * sizeof c->e[0]);
        pthread_mutex_consistent(&c->lock);
        return 0;
    }
    return r;
}

static struct fc_entry *fc_set(netsrv__fcache *c, const netsrv__fkey *k)
{
    uint64_t h = (uint64_t)k->dev * 0x9e3779b97f4a7c15ull ^ (uint64_t)k->ino;

    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return &c->e[(h % c->sets) * FC_WAYS];
}

int netsrv__fcache_get(netsrv__fcache *c, const netsrv__fkey *k,
                       unsigned char sum[NETSRV_SHA256_LEN])
{
    int hit = 0;

    if (fc_lock(c) != 0)
        return 0;
    struct fc_entry *set = fc_set(c, k);

    for (int i = 0; i < FC_WAYS; i++) {
        struct fc_entry *e = &set[i];

        if (!e->used || e->key.dev != k->dev || e->key.ino != k->ino)
            continue;
        if (netsrv__fkey_eq(&e->key, k)) {
            memcpy(sum, e->sum, NETSRV_SHA256_LEN);
            e->used = ++c->tick;
            hit = 1;
        } else {
            e->used = 0; /* the file changed: its old sum is of no use */
        }
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void netsrv__fcache_put(netsrv__fcache *c, const netsrv__fkey *k,
                        const unsigned char sum[NETSRV_SHA256_LEN])
{
    if (fc_lock(c) != 0)
        return;
    struct fc_entry *set = fc_set(c, k), *victim = &set[0];

    for (int i = 0; i < FC_WAYS; i++) {
        struct fc_entry *e = &set[i];

        if (e->used && e->key.dev == k->dev && e->key.ino == k->ino) {
            victim = e; /* one entry per file */
            break;
        }
        if (e->used < victim->used)
            victim = e; /* empty (0) or least recently used */
    }
    victim->key = *k;
    memcpy(victim->sum, sum, NETSRV_SHA256_LEN);
    victim->used = ++c->tick;
    pthread_mutex_unlock(&c->lock);
}

void netsrv__fcache_count(netsrv__fcache *c, int which, unsigned long long n)
{
    atomic_fetch_add_explicit(&c->counters[which], n, memory_order_relaxed);
}

unsigned long long netsrv__fcache_counter(const netsrv__fcache *c, int which)
{
    return atomic_load_explicit(&((netsrv__fcache *)c)->counters[which], memory_order_relaxed);
}
