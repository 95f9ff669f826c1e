/* bench_stats.c - the latency histogram of "nettool bench": HDR-style
 * log-linear buckets of microseconds, fixed in size so that recording a
 * sample is a few instructions and never allocates.
 */
#include "config.h"

#include <string.h>

#include "bench.h"

void nt_hist_init(struct nt_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static unsigned nt_hist_index(uint64_t us)
{
    unsigned msb, shift;

    if (us < NT_HIST_LINEAR)
        return (unsigned)us;
    if (us > NT_HIST_MAX_US)
        us = NT_HIST_MAX_US;
    msb = 63u - (unsigned)__builtin_clzll(us);   /* at least 8 here */
    shift = msb - NT_HIST_SUB_BITS;
    return NT_HIST_LINEAR + (msb - NT_HIST_SUB_BITS - 1) * NT_HIST_SUB +
           (unsigned)((us >> shift) - NT_HIST_SUB);
}

/* The largest value that falls in bucket i. */
static uint64_t nt_hist_high(unsigned i)
{
    unsigned k, msb, shift;

    if (i < NT_HIST_LINEAR)
        return i;
    k = i - NT_HIST_LINEAR;
    msb = NT_HIST_SUB_BITS + 1 + k / NT_HIST_SUB;
    shift = msb - NT_HIST_SUB_BITS;
    return (((uint64_t)(NT_HIST_SUB + k % NT_HIST_SUB) + 1) << shift) - 1;
}

void nt_hist_record(struct nt_hist *h, uint64_t us)
{
    h->buckets[nt_hist_index(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
    if (us < h->min)
        h->min = us;
}

void nt_hist_merge(struct nt_hist *into, const struct nt_hist *from)
{
    unsigned i;

    if (!from->count)
        return;
    for (i = 0; i < NT_HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
    if (from->min < into->min)
        into->min = from->min;
}

uint64_t nt_hist_percentile(const struct nt_hist *h, double p)
{
    uint64_t want, seen = 0, v;
    unsigned i;

    if (!h->count)
        return 0;
    if (p >= 100)
        return h->max;
    want = (uint64_t)((p / 100.0) * (double)h->count + 0.999999);
    if (want < 1)
        want = 1;
    for (i = 0; i < NT_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= want) {
            v = nt_hist_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double nt_hist_mean(const struct nt_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0;
}
