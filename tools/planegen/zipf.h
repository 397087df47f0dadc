/* planegen's randomness: a seeded PRNG, a Zipf sampler with O(1) setup, and a keyed shuffle of ranks. */
#pragma once

#include <stdint.h>

/* xoshiro256** seeded by splitmix64: every random draw of planegen comes from one of these. */
struct planegen_rng {
    uint64_t s[4];
};

/* One splitmix64 step: advances *x and returns a well-mixed 64-bit value (also a cheap hash). */
uint64_t planegen_mix64(uint64_t *x);
/* Seeds r from seed (any value, 0 included). */
void planegen_rng_seed(struct planegen_rng *r, uint64_t seed);
/* Returns the next 64 random bits. */
uint64_t planegen_rng_next(struct planegen_rng *r);
/* Returns a uniform double in [0, 1). */
double planegen_rng_unit(struct planegen_rng *r);

/*
 * Zipf(alpha) over ranks 0..n-1, rank 0 the most popular: P(k) is
 * proportional to 1 / (k + 1)^alpha.  Sampling is Hörmann and Derflinger's
 * rejection-inversion ("Rejection-inversion to generate variates from
 * monotone discrete distributions", 1996): constant setup and an expected
 * constant number of draws per sample for any n, so a million ranks cost
 * nothing to prepare and no table is stored.
 */
struct planegen_zipf {
    uint64_t n;
    double alpha;
    double h_x1;      /* H(1.5) - 1 */
    double h_n;       /* H(n + 0.5) */
    double s;         /* the squeeze: 2 - H^-1(H(2.5) - h(2)) */
};

/*
 * Prepares z for n >= 1 ranks and exponent alpha >= 0 (0 is uniform).
 * Returns 0 or PLANE_EINVAL.
 */
int planegen_zipf_init(struct planegen_zipf *z, uint64_t n, double alpha);
/* Returns a rank in [0, n) drawn from r. */
uint64_t planegen_zipf_sample(const struct planegen_zipf *z, struct planegen_rng *r);

/*
 * A keyed bijection of [0, n): shuffles which flows are hot without storing a
 * permutation.  A 4-round Feistel network over the smallest even-bit domain
 * holding n, cycle-walked back into [0, n) (expected < 4 rounds of walking).
 * Changing the key (e.g. per churn epoch) gives an unrelated shuffle.
 */
struct planegen_perm {
    uint64_t n;
    unsigned half_bits;   /* each Feistel half; domain is 2^(2*half_bits) */
    uint64_t keys[4];
};

/* Prepares p for [0, n), n >= 1, under key.  Returns 0 or PLANE_EINVAL. */
int planegen_perm_init(struct planegen_perm *p, uint64_t n, uint64_t key);
/* Returns the image of x (x < n) under the permutation. */
uint64_t planegen_perm_apply(const struct planegen_perm *p, uint64_t x);
