/* iptable.c - the per-client connection table (libnetsrv/iptable.c) on its
 * own: SipHash-2-4 vectors, keys by /32 and /64, counts and the cap, growth
 * under 100,000 clients, per-table hash keys, and several threads at once. */
#include "config.h"
#include "iptable.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

static netsrv__ipkey key4(const char *text)
{
    struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(1234) };
    netsrv__ipkey k;
    if (inet_pton(AF_INET, text, &s.sin_addr) != 1)
        bail_out("bad IPv4 literal %s", text);
    if (netsrv__ipkey_from((struct sockaddr *)&s, sizeof s, &k) != 0)
        bail_out("no key for %s", text);
    return k;
}

static netsrv__ipkey key6(const char *text)
{
    struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons(1234) };
    netsrv__ipkey k;
    if (inet_pton(AF_INET6, text, &s.sin6_addr) != 1)
        bail_out("bad IPv6 literal %s", text);
    if (netsrv__ipkey_from((struct sockaddr *)&s, sizeof s, &k) != 0)
        bail_out("no key for %s", text);
    return k;
}

static int same_key(const netsrv__ipkey *a, const netsrv__ipkey *b)
{
    return a->valid == b->valid && memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

/* The reference vectors: key 00 01 .. 0f, message 00 01 .. (len-1). */
static void test_siphash(void)
{
    static const struct { size_t len; uint64_t want; } v[] = {
        { 0, UINT64_C(0x726fdb47dd0e0e31) },
        { 1, UINT64_C(0x74f839c593dc67fd) },
        { 7, UINT64_C(0xab0200f58b01d137) },
        { 8, UINT64_C(0x93f5f5799a932462) },
        { 15, UINT64_C(0xa129ca6149be45e5) },
        { 16, UINT64_C(0x3f2acc7f57c29bdb) },
    };
    unsigned char key[16], msg[16];
    for (int i = 0; i < 16; i++)
        key[i] = msg[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        is(netsrv__siphash24(key, msg, v[i].len), v[i].want,
           "SipHash-2-4 of the %zu-byte reference message", v[i].len);
}

static void test_keys(void)
{
    netsrv__ipkey k;
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    k.valid = 1;
    is(netsrv__ipkey_from((struct sockaddr *)&un, sizeof un, &k), -EAFNOSUPPORT,
       "a Unix address has no key: -EAFNOSUPPORT");
    is(k.valid, 0, "  and the key it leaves is not valid");

    struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
    is(netsrv__ipkey_from((struct sockaddr *)&s6, sizeof(struct sockaddr_in), &k), -EINVAL,
       "an IPv6 address cut short: -EINVAL");

    netsrv__ipkey a = key6("2001:db8:1:2::1"), b = key6("2001:db8:1:2:ffff:eeee:dddd:cccc");
    netsrv__ipkey c = key6("2001:db8:1:3::1");
    ok(same_key(&a, &b), "two IPv6 addresses in one /64 have one key");
    ok(!same_key(&a, &c), "IPv6 addresses in different /64s have different keys");

    netsrv__ipkey m = key6("::ffff:1.2.3.4"), v4 = key4("1.2.3.4");
    ok(same_key(&m, &v4), "::ffff:1.2.3.4 has the key of 1.2.3.4");
    netsrv__ipkey next = key4("1.2.3.5");
    ok(!same_key(&v4, &next), "1.2.3.4 and 1.2.3.5 differ (by the /32)");
    netsrv__ipkey compat = key6("::1.2.3.4"), lo = key6("::1");
    ok(!same_key(&compat, &v4), "::1.2.3.4 (not v4-mapped) is an IPv6 /64, not 1.2.3.4");
    ok(!same_key(&lo, &v4) && same_key(&lo, &compat), "::1 and ::1.2.3.4 share ::/64");
}

static void test_counts(void)
{
    netsrv__iptable t;
    if (netsrv__iptable_init(&t) != 0)
        bail_out("netsrv__iptable_init failed");
    netsrv__ipkey a = key4("192.0.2.1"), b = key4("192.0.2.2");

    int rc = 0;
    for (int i = 0; i < 3; i++)
        rc |= netsrv__iptable_acquire(&t, &a, 3);
    is(rc, 0, "IPv4: three connections under a cap of 3 are admitted");
    is(netsrv__iptable_count(&t, &a), 3, "  and counted: 3");
    is(netsrv__iptable_acquire(&t, &a, 3), -EUSERS, "  the fourth gets -EUSERS");
    is(netsrv__iptable_count(&t, &a), 3, "  and is not counted");
    is(netsrv__iptable_count(&t, &b), 0, "another address has no count");
    is(netsrv__iptable_acquire(&t, &b, 3), 0, "  and is admitted while the first is at its cap");
    is(t.nentries, 2, "two clients: two entries");

    netsrv__iptable_release(&t, &a);
    is(netsrv__iptable_count(&t, &a), 2, "release: 3 -> 2");
    is(netsrv__iptable_acquire(&t, &a, 3), 0, "  and there is room for one more");
    netsrv__iptable_release(&t, &a);
    netsrv__iptable_release(&t, &a);
    netsrv__iptable_release(&t, &a);
    is(netsrv__iptable_count(&t, &a), 0, "released down to 0");
    is(t.nentries, 1, "  and its entry is gone");
    netsrv__iptable_release(&t, &a);
    ok(netsrv__iptable_count(&t, &a) == 0 && t.nentries == 1,
       "releasing a client the table no longer holds changes nothing");

    netsrv__ipkey none = { .valid = 0 };
    is(netsrv__iptable_acquire(&t, &none, 1), 0, "a key with no IP (Unix) is admitted");
    is(netsrv__iptable_acquire(&t, &none, 1), 0, "  again: it has no cap");
    is(t.nentries, 1, "  and is never counted");
    netsrv__iptable_release(&t, &none);

    rc = 0;
    for (int i = 0; i < 1000; i++)
        rc |= netsrv__iptable_acquire(&t, &a, 0);
    is(rc, 0, "cap 0 is no cap: 1000 connections admitted");
    is(netsrv__iptable_count(&t, &a), 1000, "  and all counted");
    for (int i = 0; i < 1000; i++)
        netsrv__iptable_release(&t, &a);
    netsrv__iptable_release(&t, &b);
    is(t.nentries, 0, "all released: the table is empty");
    netsrv__iptable_fini(&t);
}

static void test_ipv6(void)
{
    netsrv__iptable t;
    if (netsrv__iptable_init(&t) != 0)
        bail_out("netsrv__iptable_init failed");
    netsrv__ipkey a = key6("2001:db8:1:2::1"), b = key6("2001:db8:1:2:ffff:eeee:dddd:cccc");
    netsrv__ipkey c = key6("2001:db8:1:3::1");
    is(netsrv__iptable_acquire(&t, &a, 2), 0, "IPv6: one connection from 2001:db8:1:2::1");
    is(netsrv__iptable_acquire(&t, &b, 2), 0, "  one from 2001:db8:1:2:ffff:eeee:dddd:cccc");
    is(netsrv__iptable_count(&t, &a), 2, "  the same /64: one count of 2");
    netsrv__ipkey third = key6("2001:db8:1:2::99");
    is(netsrv__iptable_acquire(&t, &third, 2), -EUSERS,
       "  a third address of that /64 is over the cap of 2");
    is(netsrv__iptable_acquire(&t, &c, 2), 0, "  another /64 is admitted");
    is(netsrv__iptable_count(&t, &c), 1, "  with a count of its own");
    netsrv__iptable_release(&t, &b);
    netsrv__iptable_release(&t, &a);
    netsrv__iptable_release(&t, &c);
    is(t.nentries, 0, "IPv6 entries freed at 0");

    netsrv__ipkey v4 = key4("1.2.3.4"), m = key6("::ffff:1.2.3.4");
    is(netsrv__iptable_acquire(&t, &v4, 2), 0, "one connection from 1.2.3.4 (IPv4 socket)");
    is(netsrv__iptable_acquire(&t, &m, 2), 0, "one from ::ffff:1.2.3.4 (dual-stack socket)");
    is(netsrv__iptable_count(&t, &v4), 2, "  one client: count 2");
    is(netsrv__iptable_acquire(&t, &v4, 2), -EUSERS, "  and at the cap for both forms");
    netsrv__iptable_release(&t, &m);
    netsrv__iptable_release(&t, &v4);
    is(t.nentries, 0, "  released through either form: empty");
    netsrv__iptable_fini(&t);
}

/* Client i of the flood: even ones IPv4 (10.x.y.z), odd ones IPv6 /64s. */
static netsrv__ipkey flood_key(unsigned i)
{
    netsrv__ipkey k;
    if (i % 2 == 0) {
        struct sockaddr_in s = { .sin_family = AF_INET };
        s.sin_addr.s_addr = htonl(0x0a000000u | i);
        netsrv__ipkey_from((struct sockaddr *)&s, sizeof s, &k);
    } else {
        struct sockaddr_in6 s = { .sin6_family = AF_INET6 };
        s.sin6_addr.s6_addr[0] = 0x20;
        s.sin6_addr.s6_addr[1] = 0x01;
        s.sin6_addr.s6_addr[4] = (uint8_t)(i >> 16);
        s.sin6_addr.s6_addr[5] = (uint8_t)(i >> 8);
        s.sin6_addr.s6_addr[6] = (uint8_t)i;
        s.sin6_addr.s6_addr[15] = 1;
        netsrv__ipkey_from((struct sockaddr *)&s, sizeof s, &k);
    }
    return k;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define FLOOD 100000u

static void test_flood(void)
{
    netsrv__iptable t;
    if (netsrv__iptable_init(&t) != 0)
        bail_out("netsrv__iptable_init failed");
    size_t first = t.nbuckets;
    double t0 = now();
    int rc = 0;
    unsigned i = 0;
    /* A first thousand: chains piling up here would make the rest take
     * quadratic time, so that is reported now instead of as a time-out. */
    for (; i < 1000; i++) {
        netsrv__ipkey k = flood_key(i);
        rc |= netsrv__iptable_acquire(&t, &k, 1);
    }
    size_t longest = netsrv__iptable_longest_chain(&t);
    if (!ok(longest <= 12, "1000 clients: the longest chain is short: %zu", longest)) {
        skip(9, "the table does not spread its entries");
        netsrv__iptable_fini(&t);
        return;
    }
    for (; i < FLOOD; i++) {
        netsrv__ipkey k = flood_key(i);
        rc |= netsrv__iptable_acquire(&t, &k, 1);
    }
    double t1 = now();
    is(rc, 0, "%u distinct clients admitted", FLOOD);
    is(t.nentries, FLOOD, "  %u entries", FLOOD);
    ok(t.nbuckets >= FLOOD && t.nbuckets > first,
       "  the table grew from %zu to %zu buckets (at least one per entry)", first, t.nbuckets);
    longest = netsrv__iptable_longest_chain(&t);
    ok(longest <= 16, "  its longest chain is short: %zu", longest);
    netsrv__ipkey mid = flood_key(FLOOD / 2);
    is(netsrv__iptable_acquire(&t, &mid, 1), -EUSERS,
       "  each client is still found in the full table (at its cap of 1)");
    unsigned bad = 0;
    for (i = 0; i < FLOOD; i += 997) {
        netsrv__ipkey k = flood_key(i);
        bad += netsrv__iptable_count(&t, &k) != 1;
    }
    is(bad, 0, "  a sample of clients each count 1");
    for (i = 0; i < FLOOD; i++) {
        netsrv__ipkey k = flood_key(i);
        netsrv__iptable_release(&t, &k);
    }
    double t2 = now();
    is(t.nentries, 0, "all released: no entries left");
    is(t.nbuckets, first, "  and the table shrank back to %zu buckets", first);
    is(netsrv__iptable_longest_chain(&t), 0, "  every bucket empty");
    diag("%u acquires in %.3f s, %u releases in %.3f s", FLOOD, t1 - t0, FLOOD, t2 - t1);
    netsrv__iptable_fini(&t);
}

static void test_seeds(void)
{
    netsrv__iptable t1, t2;
    if (netsrv__iptable_init(&t1) != 0 || netsrv__iptable_init(&t2) != 0)
        bail_out("netsrv__iptable_init failed");
    netsrv__ipkey k = key4("198.51.100.7");
    ok(netsrv__iptable_hash(&t1, &k) == netsrv__iptable_hash(&t1, &k),
       "a table hashes a key the same way every time");
    ok(netsrv__iptable_hash(&t1, &k) != netsrv__iptable_hash(&t2, &k),
       "two tables hash the same key differently (each has its own random key)");
    netsrv__iptable_fini(&t2);
    if (netsrv__iptable_init(&t2) != 0)
        bail_out("netsrv__iptable_init failed");
    is(netsrv__iptable_acquire(&t2, &k, 1), 0, "a table freed and initialised again works");
    netsrv__iptable_fini(&t2);
    netsrv__iptable_fini(&t1);
}

/* ---- several threads on one table ---- */
#define NTHREADS 8
#define ROUNDS 20000

static netsrv__iptable shared;
static pthread_barrier_t phase; /* the threads and main() */
static int admitted[NTHREADS];

/* Each thread: one try at a client capped at 3, all threads at once; then
 * ROUNDS connections from one client they all share and ROUNDS clients of
 * its own (the table grows while the others use it); a pause for main()
 * to look at the counts; then everything given back (it shrinks). */
static void *churn(void *p)
{
    unsigned id = (unsigned)(uintptr_t)p;
    netsrv__ipkey common = key4("203.0.113.1"), capped = key4("203.0.113.9");
    pthread_barrier_wait(&phase);
    admitted[id] = netsrv__iptable_acquire(&shared, &capped, 3) == 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        netsrv__ipkey own = flood_key(id * ROUNDS + i);
        netsrv__iptable_acquire(&shared, &common, 0);
        netsrv__iptable_acquire(&shared, &own, 0);
    }
    pthread_barrier_wait(&phase);
    pthread_barrier_wait(&phase);
    for (unsigned i = 0; i < ROUNDS; i++) {
        netsrv__ipkey own = flood_key(id * ROUNDS + i);
        netsrv__iptable_release(&shared, &common);
        netsrv__iptable_release(&shared, &own);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[NTHREADS];
    netsrv__ipkey common = key4("203.0.113.1");
    if (netsrv__iptable_init(&shared) != 0)
        bail_out("netsrv__iptable_init failed");
    pthread_barrier_init(&phase, NULL, NTHREADS + 1);
    for (unsigned i = 0; i < NTHREADS; i++)
        if (pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)i) != 0)
            bail_out("pthread_create failed");
    pthread_barrier_wait(&phase);
    pthread_barrier_wait(&phase); /* every thread has acquired */
    int n = 0;
    for (int i = 0; i < NTHREADS; i++)
        n += admitted[i];
    is(n, 3, "%d threads racing for a cap of 3: 3 admitted", NTHREADS);
    is(netsrv__iptable_count(&shared, &common), NTHREADS * ROUNDS,
       "%d threads x %d connections from one client: all counted", NTHREADS, ROUNDS);
    is(shared.nentries, NTHREADS * ROUNDS + 2,
       "  and each thread's %d own clients: %d entries", ROUNDS, NTHREADS * ROUNDS + 2);
    pthread_barrier_wait(&phase);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    is(netsrv__iptable_count(&shared, &common), 0, "all given back: the shared client counts 0");
    is(shared.nentries, 1, "  only the capped client is left");
    pthread_barrier_destroy(&phase);
    netsrv__iptable_fini(&shared);
}

int main(void)
{
    test_siphash();
    test_keys();
    test_counts();
    test_ipv6();
    test_flood();
    test_seeds();
    test_threads();
    return done_testing();
}
