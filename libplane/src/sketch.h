/* Count-min sketches, Bloom filters and a heavy-hitter list: mergeable summaries. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Count-min sketch of depth rows x width uint64_t counters.  Rows hash with
 * independent seeds derived from seed.  Two sketches of equal shape and
 * seed merge by adding counters, which is what the sync protocol does with
 * the counters array (an ADD-merged array of words).
 */
struct plane_cms {
    uint32_t width;
    uint32_t depth;
    uint64_t seed;
    uint64_t *counters;      /* depth * width, row-major; owned */
};

/* Allocates counters.  Returns 0, PLANE_EINVAL (zero size) or PLANE_ENOMEM. */
int plane_cms_init(struct plane_cms *cms, uint32_t width, uint32_t depth, uint64_t seed);
/* Sizes width = ceil(e / epsilon), depth = ceil(ln(1 / delta)). */
int plane_cms_init_error(struct plane_cms *cms, double epsilon, double delta, uint64_t seed);
void plane_cms_uninit(struct plane_cms *cms);
void plane_cms_add(struct plane_cms *cms, const void *item, size_t len, uint64_t count);
uint64_t plane_cms_estimate(const struct plane_cms *cms, const void *item, size_t len);
/* plane_cms_add() then plane_cms_estimate() with one hashing pass (per packet). */
uint64_t plane_cms_add_estimate(struct plane_cms *cms, const void *item, size_t len,
                                uint64_t count);
/* Zeroes every counter. */
void plane_cms_clear(struct plane_cms *cms);
/* Multiplies every counter by num/den (epoch decay, e.g. 1/2). */
void plane_cms_decay(struct plane_cms *cms, uint32_t num, uint32_t den);
/*
 * Adds src's counters into dst (saturating), so dst then sketches the union
 * of both streams.  Returns 0, or PLANE_EINVAL when width, depth or seed
 * differ (their counters would not describe the same hash functions).
 */
int plane_cms_merge(struct plane_cms *dst, const struct plane_cms *src);

/* Bloom filter of n_bits bits (rounded up to 64) and k hash functions. */
struct plane_bloom {
    uint32_t n_bits;
    uint32_t k;
    uint64_t seed;
    uint64_t *words;         /* n_bits / 64; owned */
};

int plane_bloom_init(struct plane_bloom *b, uint32_t n_bits, uint32_t k, uint64_t seed);
void plane_bloom_uninit(struct plane_bloom *b);
void plane_bloom_add(struct plane_bloom *b, const void *item, size_t len);
bool plane_bloom_test(const struct plane_bloom *b, const void *item, size_t len);
void plane_bloom_clear(struct plane_bloom *b);
/*
 * Sizes the filter for n_items at false-positive rate fp_rate:
 * m = -n ln p / (ln 2)^2 bits, k = (m / n) ln 2.  Returns 0, PLANE_EINVAL,
 * PLANE_ERANGE (more than 2^32 bits) or PLANE_ENOMEM.
 */
int plane_bloom_init_error(struct plane_bloom *b, uint32_t n_items, double fp_rate,
                           uint64_t seed);
/* ORs src into dst (same n_bits, k, seed).  Returns 0 or PLANE_EINVAL. */
int plane_bloom_merge(struct plane_bloom *dst, const struct plane_bloom *src);
