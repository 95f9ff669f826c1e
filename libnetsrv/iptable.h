/* iptable.h - the per-client connection counts behind the per_ip cap, on
 * their own (no netsrv_server here) so the serving loops and threads can
 * share one table and the tests can drive it directly.  Not installed. */
#ifndef NETSRV_IPTABLE_H
#define NETSRV_IPTABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Who a connection is counted against.  IPv4 clients (and IPv6 ones
 * written as v4-mapped ::ffff:a.b.c.d) by their address, stored in the
 * v4-mapped form so both families share one table; other IPv6 clients by
 * their /64, the smallest block a site is normally given, so one host
 * cannot escape the cap by walking through the addresses of its subnet.
 * The two forms never meet: a /64 key has zeros where a v4-mapped key has
 * ff ff (bytes 10 and 11).  valid is 0 for clients with no IP (Unix
 * sockets): the table counts nothing for those. */
typedef struct netsrv__ipkey {
    uint8_t bytes[16];
    uint8_t valid;
} netsrv__ipkey;

struct netsrv__ipentry;

/* A chained hash table under a mutex.  The bucket index comes from
 * SipHash-2-4 under a key drawn from getrandom() for each table, so a
 * client cannot choose addresses that pile up in one bucket; the bucket
 * array doubles when entries outnumber buckets and halves when they fall
 * well below, and entries whose count drops to 0 are removed, so the table
 * holds only clients with a connection open.  The fields are private to
 * iptable.c, except that tests read nbuckets and nentries. */
typedef struct netsrv__iptable {
    pthread_mutex_t lock;
    unsigned char key[16];            /* the SipHash key */
    struct netsrv__ipentry **buckets;
    size_t nbuckets;                  /* a power of two */
    size_t nentries;                  /* clients with a count above 0 */
} netsrv__iptable;

/* An empty table with a fresh random key.  0, or -ENOMEM, or the -errno
 * of getrandom(). */
int netsrv__iptable_init(netsrv__iptable *t);
/* Frees the entries and the table; t may be initialised again. */
void netsrv__iptable_fini(netsrv__iptable *t);

/* The key of the client at sa (len bytes, as accept() or recvfrom() gave
 * them).  0; -EAFNOSUPPORT for families with no IP address (k is then
 * zeroed: valid 0); -EINVAL when len is too short for the family. */
int netsrv__ipkey_from(const struct sockaddr *sa, socklen_t len, netsrv__ipkey *k);

/* Counts one more connection from k.  0; -EUSERS when k already has cap
 * connections (cap 0: no cap); -ENOMEM.  A key with valid 0 is not
 * counted and gets 0. */
int netsrv__iptable_acquire(netsrv__iptable *t, const netsrv__ipkey *k, unsigned cap);
/* Gives back one connection of k; at 0 its entry is removed.  A key the
 * table does not hold (valid 0, or never acquired) is ignored. */
void netsrv__iptable_release(netsrv__iptable *t, const netsrv__ipkey *k);
/* The connections counted for k now (for tests and diagnostics). */
unsigned netsrv__iptable_count(netsrv__iptable *t, const netsrv__ipkey *k);

/* For the tests: the hash the table uses for k, the length of its longest
 * chain (stays small whatever the load if hashing and growth work), and
 * SipHash-2-4 itself (checked against the published vectors). */
uint64_t netsrv__iptable_hash(const netsrv__iptable *t, const netsrv__ipkey *k);
size_t netsrv__iptable_longest_chain(netsrv__iptable *t);
uint64_t netsrv__siphash24(const unsigned char key[16], const void *data, size_t len);

#endif
