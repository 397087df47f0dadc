/* Count-min sketches and Bloom filters hashed with seeded XXH3. */
#include "sketch.h"

#include <math.h>
#include <string.h>

#include <xxhash.h>

#include <plane/error.h>

#include "common/alloc.h"

/*
 * splitmix64: turns the sketch seed and a row number into well-spread,
 * distinct per-row seeds, so rows behave as independent hash functions
 * even for seeds like 0, 1, 2 that differ in a single bit.
 */
static uint64_t
seed_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Maps a hash onto [0, n) with a multiply-shift (no modulo bias). */
static inline uint32_t
reduce(uint64_t hash, uint32_t n)
{
    return (uint32_t) (((unsigned __int128) hash * n) >> 64);
}

static inline uint64_t
row_hash(uint64_t seed, uint32_t row, const void *item, size_t len)
{
    return XXH3_64bits_withSeed(item, len, seed_mix(seed ^ ((uint64_t) row << 32 | row)));
}

/* ---- count-min sketch ---------------------------------------------------- */

int
plane_cms_init(struct plane_cms *cms, uint32_t width, uint32_t depth, uint64_t seed)
{
    memset(cms, 0, sizeof *cms);
    if (width == 0 || depth == 0) {
        return PLANE_EINVAL;
    }
    cms->counters = plane_calloc((size_t) width * depth, sizeof *cms->counters);
    if (!cms->counters) {
        return PLANE_ENOMEM;
    }
    cms->width = width;
    cms->depth = depth;
    cms->seed = seed;
    return 0;
}

int
plane_cms_init_error(struct plane_cms *cms, double epsilon, double delta, uint64_t seed)
{
    /*
     * Cormode and Muthukrishnan: with w = e / epsilon columns and
     * d = ln(1 / delta) rows, an estimate exceeds the true count by more
     * than epsilon * N with probability at most delta.  The bounds keep
     * the product within what a control message can carry.
     */
    if (!(epsilon > 1e-7 && epsilon < 1.0) || !(delta > 1e-12 && delta < 1.0)) {
        memset(cms, 0, sizeof *cms);
        return PLANE_EINVAL;
    }
    double w = ceil(M_E / epsilon);
    double d = ceil(log(1.0 / delta));
    if (d < 1.0) {
        d = 1.0;
    }
    return plane_cms_init(cms, (uint32_t) w, (uint32_t) d, seed);
}

void
plane_cms_uninit(struct plane_cms *cms)
{
    plane_free(cms->counters);
    memset(cms, 0, sizeof *cms);
}

uint64_t
plane_cms_add_estimate(struct plane_cms *cms, const void *item, size_t len, uint64_t count)
{
    uint64_t best = UINT64_MAX;
    if (cms->depth == 0) {
        return 0;
    }
    for (uint32_t r = 0; r < cms->depth; r++) {
        uint64_t *c = &cms->counters[(size_t) r * cms->width
                                     + reduce(row_hash(cms->seed, r, item, len), cms->width)];
        /* Saturate rather than wrap: a wrapped counter would read as cold. */
        *c = (*c > UINT64_MAX - count) ? UINT64_MAX : *c + count;
        if (*c < best) {
            best = *c;
        }
    }
    return best;
}

void
plane_cms_add(struct plane_cms *cms, const void *item, size_t len, uint64_t count)
{
    (void) plane_cms_add_estimate(cms, item, len, count);
}

uint64_t
plane_cms_estimate(const struct plane_cms *cms, const void *item, size_t len)
{
    uint64_t best = UINT64_MAX;
    if (cms->depth == 0) {
        return 0;
    }
    for (uint32_t r = 0; r < cms->depth; r++) {
        uint64_t c = cms->counters[(size_t) r * cms->width
                                   + reduce(row_hash(cms->seed, r, item, len), cms->width)];
        if (c < best) {
            best = c;
        }
    }
    return best;
}

void
plane_cms_clear(struct plane_cms *cms)
{
    if (cms->counters) {
        memset(cms->counters, 0, (size_t) cms->width * cms->depth * sizeof *cms->counters);
    }
}

void
plane_cms_decay(struct plane_cms *cms, uint32_t num, uint32_t den)
{
    if (den == 0) {
        return;
    }
    size_t n = (size_t) cms->width * cms->depth;
    if (num == 1 && (den & (den - 1)) == 0) {
        /* The common halving: a shift, which the decay of a large sketch
         * every epoch can afford. */
        unsigned shift = (unsigned) __builtin_ctz(den);
        for (size_t i = 0; i < n; i++) {
            cms->counters[i] >>= shift;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        /* 128-bit product: counter * num must not overflow before dividing. */
        unsigned __int128 v = (unsigned __int128) cms->counters[i] * num / den;
        cms->counters[i] = v > UINT64_MAX ? UINT64_MAX : (uint64_t) v;
    }
}

int
plane_cms_merge(struct plane_cms *dst, const struct plane_cms *src)
{
    if (dst->width != src->width || dst->depth != src->depth || dst->seed != src->seed
        || !dst->counters || !src->counters) {
        return PLANE_EINVAL;
    }
    size_t n = (size_t) dst->width * dst->depth;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = dst->counters[i], b = src->counters[i];
        dst->counters[i] = (a > UINT64_MAX - b) ? UINT64_MAX : a + b;
    }
    return 0;
}

/* ---- Bloom filter -------------------------------------------------------- */

int
plane_bloom_init(struct plane_bloom *b, uint32_t n_bits, uint32_t k, uint64_t seed)
{
    memset(b, 0, sizeof *b);
    if (n_bits == 0 || k == 0 || n_bits > UINT32_MAX - 63) {
        return PLANE_EINVAL;
    }
    uint32_t bits = (n_bits + 63) & ~63u;
    b->words = plane_calloc(bits / 64, sizeof *b->words);
    if (!b->words) {
        return PLANE_ENOMEM;
    }
    b->n_bits = bits;
    b->k = k;
    b->seed = seed;
    return 0;
}

int
plane_bloom_init_error(struct plane_bloom *b, uint32_t n_items, double fp_rate, uint64_t seed)
{
    if (n_items == 0 || !(fp_rate > 0.0 && fp_rate < 1.0)) {
        memset(b, 0, sizeof *b);
        return PLANE_EINVAL;
    }
    /* m = -n ln p / (ln 2)^2 and k = (m / n) ln 2 minimise the false-positive rate. */
    double m = ceil(-(double) n_items * log(fp_rate) / (M_LN2 * M_LN2));
    if (m > (double) (UINT32_MAX - 63)) {
        memset(b, 0, sizeof *b);
        return PLANE_ERANGE;
    }
    double k = round(m / n_items * M_LN2);
    if (k < 1.0) {
        k = 1.0;
    }
    return plane_bloom_init(b, (uint32_t) m, (uint32_t) k, seed);
}

void
plane_bloom_uninit(struct plane_bloom *b)
{
    plane_free(b->words);
    memset(b, 0, sizeof *b);
}

/*
 * Kirsch and Mitzenmacher: g_i = h1 + i * h2 gives k hash functions from
 * one 128-bit hash with the false-positive rate of k independent ones.
 * h2 is forced odd so that it never degenerates to a single bit position.
 */
#define BLOOM_FOREACH_BIT(b, item, len, BODY)                                  \
    do {                                                                       \
        XXH128_hash_t h_ = XXH3_128bits_withSeed((item), (len), (b)->seed);    \
        uint64_t g_ = h_.low64, h2_ = h_.high64 | 1;                           \
        for (uint32_t i_ = 0; i_ < (b)->k; i_++, g_ += h2_) {                  \
            uint32_t bit = reduce(g_, (b)->n_bits);                            \
            BODY;                                                              \
        }                                                                      \
    } while (0)

void
plane_bloom_add(struct plane_bloom *b, const void *item, size_t len)
{
    if (!b->words) {
        return;
    }
    BLOOM_FOREACH_BIT(b, item, len, b->words[bit / 64] |= 1ULL << (bit % 64));
}

bool
plane_bloom_test(const struct plane_bloom *b, const void *item, size_t len)
{
    if (!b->words) {
        return false;
    }
    BLOOM_FOREACH_BIT(b, item, len, {
        if (!(b->words[bit / 64] & (1ULL << (bit % 64)))) {
            return false;
        }
    });
    return true;
}

void
plane_bloom_clear(struct plane_bloom *b)
{
    if (b->words) {
        memset(b->words, 0, (size_t) b->n_bits / 64 * sizeof *b->words);
    }
}

int
plane_bloom_merge(struct plane_bloom *dst, const struct plane_bloom *src)
{
    if (dst->n_bits != src->n_bits || dst->k != src->k || dst->seed != src->seed
        || !dst->words || !src->words) {
        return PLANE_EINVAL;
    }
    for (uint32_t i = 0; i < dst->n_bits / 64; i++) {
        dst->words[i] |= src->words[i];
    }
    return 0;
}
