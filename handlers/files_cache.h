/* files_cache.h - what the files handler's requests share: the bounded cache
 * of SHA-256 sums by file identity, and the counters behind
 * netsrv_files_dir_stats().  Private to handlers/files*.c. */
#ifndef NETSRV_FILES_CACHE_H
#define NETSRV_FILES_CACHE_H

#include <sys/stat.h>
#include <sys/types.h>

#include <netsrv.h>

/* A file's identity as far as its contents go: the same device, inode,
 * size, mtime and ctime (to the nanosecond) mean the same bytes.  ctime
 * is in it because a program that rewrites a file in place and puts its
 * old mtime back (touch -r, some copy tools) cannot put back the ctime. */
typedef struct netsrv__fkey {
    dev_t dev;
    ino_t ino;
    off_t size;
    long long mtime_sec, ctime_sec;
    long mtime_nsec, ctime_nsec;
} netsrv__fkey;

void netsrv__fkey_of(netsrv__fkey *k, const struct stat *st);
int netsrv__fkey_eq(const netsrv__fkey *a, const netsrv__fkey *b);

typedef struct netsrv__fcache netsrv__fcache;

/* Room for about entries sums (rounded up to a whole number of sets).  The
 * memory is a shared mapping, so fork-mode children share it with each
 * other and the server; returns 0 or a negative errno. */
int netsrv__fcache_new(netsrv__fcache **out, unsigned entries);
void netsrv__fcache_free(netsrv__fcache *c);
/* 1 and the sum in sum when the cache has one for k, else 0. */
int netsrv__fcache_get(netsrv__fcache *c, const netsrv__fkey *k,
                       unsigned char sum[NETSRV_SHA256_LEN]);
/* Remembers sum for k, pushing out the least recently used of its set. */
void netsrv__fcache_put(netsrv__fcache *c, const netsrv__fkey *k,
                        const unsigned char sum[NETSRV_SHA256_LEN]);

/* The counters of netsrv_files_stats. */
enum {
    NETSRV__FC_REQUESTS,
    NETSRV__FC_OK,
    NETSRV__FC_HASHED,
    NETSRV__FC_HITS,
    NETSRV__FC_BYTES_HASHED,
    NETSRV__FC_BYTES_SENT,
    NETSRV__FC_NCOUNTERS
};
void netsrv__fcache_count(netsrv__fcache *c, int which, unsigned long long n);
unsigned long long netsrv__fcache_counter(const netsrv__fcache *c, int which);

#endif /* NETSRV_FILES_CACHE_H */
