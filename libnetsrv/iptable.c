/* iptable.c - the per-client connection counts (iptable.h): client keys
 * from socket addresses, SipHash-2-4 written from the published algorithm
 * (Aumasson and Bernstein, 2012), and a growing chained table of counts. */
#include "config.h"
#include "iptable.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Fewer buckets than this are not worth a rehash: a server with a handful
 * of clients keeps its first array. */
#define IPTABLE_MIN_BUCKETS 16

struct netsrv__ipentry {
    netsrv__ipkey key;
    unsigned count;
    uint64_t hash;                 /* kept so a rehash needs no SipHash */
    struct netsrv__ipentry *next;
};

/* ---- SipHash-2-4 ---- */

static uint64_t rotl64(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

/* Little-endian whatever the host: the algorithm is defined on bytes. */
static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl64(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl64(v[0], 32);
    v[2] += v[3];
    v[3] = rotl64(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl64(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl64(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl64(v[2], 32);
}

static void sip_compress(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

uint64_t netsrv__siphash24(const unsigned char key[16], const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    /* The initial state: the key XORed with "somepseudorandomlygeneratedbytes". */
    uint64_t v[4] = {
        k0 ^ UINT64_C(0x736f6d6570736575),
        k1 ^ UINT64_C(0x646f72616e646f6d),
        k0 ^ UINT64_C(0x6c7967656e657261),
        k1 ^ UINT64_C(0x7465646279746573),
    };
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8)
        sip_compress(v, load_le64(p + i));
    /* The last word: the 0-7 bytes left, and the length mod 256 on top,
     * so messages differing only in trailing zeros hash apart. */
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    sip_compress(v, last);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- keys ---- */

int netsrv__ipkey_from(const struct sockaddr *sa, socklen_t len, netsrv__ipkey *k)
{
    memset(k, 0, sizeof *k);
    if (!sa || len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    /* Copied out rather than cast: sa may point into any buffer. */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in s4;
        if (len < (socklen_t)sizeof s4)
            return -EINVAL;
        memcpy(&s4, sa, sizeof s4);
        k->bytes[10] = k->bytes[11] = 0xff;
        memcpy(k->bytes + 12, &s4.sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 s6;
        if (len < (socklen_t)sizeof s6)
            return -EINVAL;
        memcpy(&s6, sa, sizeof s6);
        /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: they
         * are one host each, as on an IPv4 socket. */
        if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr))
            memcpy(k->bytes, &s6.sin6_addr, 16);
        else
            memcpy(k->bytes, &s6.sin6_addr, 8);
    } else {
        return -EAFNOSUPPORT;
    }
    k->valid = 1;
    return 0;
}

/* ---- the table ---- */

int netsrv__iptable_init(netsrv__iptable *t)
{
    memset(t, 0, sizeof *t);
    /* Blocks only until the kernel's pool is first seeded, early at boot;
     * a guessable key would let clients aim at one bucket. */
    size_t got = 0;
    while (got < sizeof t->key) {
        ssize_t n = getrandom(t->key + got, sizeof t->key - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    t->buckets = calloc(IPTABLE_MIN_BUCKETS, sizeof *t->buckets);
    if (!t->buckets)
        return -ENOMEM;
    t->nbuckets = IPTABLE_MIN_BUCKETS;
    int rc = pthread_mutex_init(&t->lock, NULL);
    if (rc) {
        free(t->buckets);
        t->buckets = NULL;
        return -rc;
    }
    return 0;
}

void netsrv__iptable_fini(netsrv__iptable *t)
{
    if (!t->buckets)
        return; /* never initialised, or init failed */
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct netsrv__ipentry *e = t->buckets[i];
        while (e) {
            struct netsrv__ipentry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof *t);
}

uint64_t netsrv__iptable_hash(const netsrv__iptable *t, const netsrv__ipkey *k)
{
    return netsrv__siphash24(t->key, k->bytes, sizeof k->bytes);
}

/* Moves every entry to a new array of n buckets.  When that array cannot
 * be had the table keeps the old one: only slower, still correct. */
static void rehash(netsrv__iptable *t, size_t n)
{
    struct netsrv__ipentry **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct netsrv__ipentry *e = t->buckets[i];
        while (e) {
            struct netsrv__ipentry *next = e->next;
            size_t j = (size_t)(e->hash & (n - 1));
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->nbuckets = n;
}

/* The link that points at k's entry (*link is NULL when k has none). */
static struct netsrv__ipentry **find(netsrv__iptable *t, const netsrv__ipkey *k, uint64_t h)
{
    struct netsrv__ipentry **pp = &t->buckets[h & (t->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && memcmp((*pp)->key.bytes, k->bytes, sizeof k->bytes) == 0)
            break;
    return pp;
}

int netsrv__iptable_acquire(netsrv__iptable *t, const netsrv__ipkey *k, unsigned cap)
{
    if (!k->valid)
        return 0;
    uint64_t h = netsrv__iptable_hash(t, k); /* outside the lock: t->key never changes */
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    struct netsrv__ipentry **pp = find(t, k, h), *e = *pp;
    if (e) {
        /* UINT_MAX too, so an uncapped count can never wrap to 0. */
        if ((cap && e->count >= cap) || e->count == UINT_MAX)
            rc = -EUSERS;
        else
            e->count++;
        goto out;
    }
    e = malloc(sizeof *e);
    if (!e) {
        rc = -ENOMEM;
        goto out;
    }
    e->key = *k;
    e->count = 1;
    e->hash = h;
    e->next = NULL;
    *pp = e; /* the end of its chain */
    t->nentries++;
    /* Load factor 1: chains average under one entry.  The size test keeps
     * the doubled array's byte count from overflowing. */
    if (t->nentries > t->nbuckets && t->nbuckets <= SIZE_MAX / 2 / sizeof *t->buckets)
        rehash(t, t->nbuckets * 2);
out:
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void netsrv__iptable_release(netsrv__iptable *t, const netsrv__ipkey *k)
{
    if (!k->valid)
        return;
    uint64_t h = netsrv__iptable_hash(t, k);
    pthread_mutex_lock(&t->lock);
    struct netsrv__ipentry **pp = find(t, k, h), *e = *pp;
    if (e && --e->count == 0) {
        *pp = e->next;
        free(e);
        t->nentries--;
        /* After a flood has gone the array shrinks back, but only once it
         * is mostly empty (an eighth full), so a load hovering near one
         * size does not rehash back and forth. */
        if (t->nbuckets > IPTABLE_MIN_BUCKETS && t->nentries < t->nbuckets / 8)
            rehash(t, t->nbuckets / 2);
    }
    pthread_mutex_unlock(&t->lock);
}

unsigned netsrv__iptable_count(netsrv__iptable *t, const netsrv__ipkey *k)
{
    if (!k->valid)
        return 0;
    uint64_t h = netsrv__iptable_hash(t, k);
    pthread_mutex_lock(&t->lock);
    struct netsrv__ipentry *e = *find(t, k, h);
    unsigned n = e ? e->count : 0;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t netsrv__iptable_longest_chain(netsrv__iptable *t)
{
    size_t longest = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nbuckets; i++) {
        size_t n = 0;
        for (struct netsrv__ipentry *e = t->buckets[i]; e; e = e->next)
            n++;
        if (n > longest)
            longest = n;
    }
    pthread_mutex_unlock(&t->lock);
    return longest;
}
