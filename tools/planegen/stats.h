/* A log-linear latency histogram (HDR-style, ~1.6% relative error) with percentiles. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* 64 sub-buckets per power of two: values below 64 are exact. */
#define PLANEGEN_HIST_SUB_BITS 6
#define PLANEGEN_HIST_SUB (1u << PLANEGEN_HIST_SUB_BITS)
#define PLANEGEN_HIST_BUCKETS ((64 - PLANEGEN_HIST_SUB_BITS + 1) * PLANEGEN_HIST_SUB)

/* Caller-owned; about 30 KiB, so embed it in heap objects rather than on small stacks. */
struct planegen_hist {
    uint64_t count;
    uint64_t min, max;      /* exact; min is UINT64_MAX while empty */
    long double sum;        /* for the mean */
    uint64_t buckets[PLANEGEN_HIST_BUCKETS];
};

/* Empties h. */
void planegen_hist_init(struct planegen_hist *h);
/* Records one value. */
void planegen_hist_add(struct planegen_hist *h, uint64_t v);
/* Adds every value recorded in src to dst. */
void planegen_hist_merge(struct planegen_hist *dst, const struct planegen_hist *src);
/*
 * Returns the p-th percentile (0 < p <= 100): the smallest recorded value's
 * bucket holding at least ceil(p% of count) values, reported as that
 * bucket's midpoint clamped to [min, max] (so p=100 is the exact max).
 * Returns 0 for an empty histogram.
 */
uint64_t planegen_hist_percentile(const struct planegen_hist *h, double p);
/* Returns the mean, 0 when empty. */
double planegen_hist_mean(const struct planegen_hist *h);

/*
 * Sorts v[0..n) in place and returns its p-th percentile by nearest rank
 * (0 < p <= 100): the value at rank ceil(p% of n), exact, for small sets
 * such as one figure per flow.  Returns 0 when n is 0.
 */
uint64_t planegen_exact_percentile(uint64_t *v, size_t n, double p);

/* Bucket index of v and the inclusive value range of a bucket (exposed for tests). */
unsigned planegen_hist_bucket(uint64_t v);
void planegen_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi);
