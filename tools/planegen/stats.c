/* Log-linear latency histogram: constant-time recording, percentiles by a walk over the buckets. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
planegen_hist_init(struct planegen_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned
planegen_hist_bucket(uint64_t v)
{
    if (v < PLANEGEN_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);   /* >= SUB_BITS */
    unsigned shift = e - PLANEGEN_HIST_SUB_BITS;
    return (shift + 1) * PLANEGEN_HIST_SUB + (unsigned)((v >> shift) - PLANEGEN_HIST_SUB);
}

void
planegen_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < PLANEGEN_HIST_SUB) {
        *lo = *hi = idx;
        return;
    }
    unsigned shift = idx / PLANEGEN_HIST_SUB - 1;
    uint64_t m = idx % PLANEGEN_HIST_SUB;
    *lo = (PLANEGEN_HIST_SUB + m) << shift;
    *hi = *lo + ((1ull << shift) - 1);
}

void
planegen_hist_add(struct planegen_hist *h, uint64_t v)
{
    h->buckets[planegen_hist_bucket(v)]++;
    h->count++;
    h->sum += v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void
planegen_hist_merge(struct planegen_hist *dst, const struct planegen_hist *src)
{
    if (!src->count)
        return;
    for (unsigned i = 0; i < PLANEGEN_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t
planegen_hist_percentile(const struct planegen_hist *h, double p)
{
    if (!h->count)
        return 0;
    if (p >= 100.0)
        return h->max;
    double want_d = ceil(p / 100.0 * (double)h->count);
    uint64_t want = want_d < 1.0 ? 1 : (uint64_t)want_d;
    uint64_t seen = 0;
    for (unsigned i = 0; i < PLANEGEN_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= want) {
            uint64_t lo, hi;
            planegen_hist_bucket_range(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max;
}

double
planegen_hist_mean(const struct planegen_hist *h)
{
    return h->count ? (double)(h->sum / h->count) : 0.0;
}

static int
u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

uint64_t
planegen_exact_percentile(uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof(*v), u64_cmp);
    double r = ceil(p / 100.0 * (double)n);
    size_t rank = r < 1.0 ? 1 : r > (double)n ? n : (size_t)r;
    return v[rank - 1];
}
