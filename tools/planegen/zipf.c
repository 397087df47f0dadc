/* planegen's randomness: xoshiro256**, rejection-inversion Zipf sampling and a Feistel rank shuffle. */
#include "zipf.h"

#include <math.h>

#include <plane/error.h>

#include "common/fault.h"

/* The generator is libplane's (common/fault.h), so planegen and the fault model share one implementation. */
uint64_t
planegen_mix64(uint64_t *x)
{
    return plane_fault_prng_mix(x);
}

void
planegen_rng_seed(struct planegen_rng *r, uint64_t seed)
{
    plane_fault_prng_seed(r->s, seed);
}

uint64_t
planegen_rng_next(struct planegen_rng *r)
{
    return plane_fault_prng_next(r->s);
}

double
planegen_rng_unit(struct planegen_rng *r)
{
    return (double)(planegen_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- Zipf by rejection-inversion ----
 *
 * Ranks are 1-based inside this block (as in the paper); the API shifts to
 * 0-based.  h(x) = x^-alpha is the (unnormalised) density and H its
 * integral, written with log1p/expm1 helpers so alpha near 1 (H becomes
 * log x) loses no precision. */

/* log1p(x) / x, continuous at 0. */
static double
helper1(double x)
{
    if (fabs(x) > 1e-8)
        return log1p(x) / x;
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* expm1(x) / x, continuous at 0. */
static double
helper2(double x)
{
    if (fabs(x) > 1e-8)
        return expm1(x) / x;
    return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

static double
zipf_h(double alpha, double x)
{
    return exp(-alpha * log(x));
}

static double
zipf_H(double alpha, double x)
{
    double lx = log(x);
    return helper2((1.0 - alpha) * lx) * lx;
}

static double
zipf_H_inv(double alpha, double x)
{
    double t = x * (1.0 - alpha);
    if (t < -1.0)
        t = -1.0;   /* rounding only: keeps log1p defined */
    return exp(helper1(t) * x);
}

int
planegen_zipf_init(struct planegen_zipf *z, uint64_t n, double alpha)
{
    if (!z || n == 0 || !(alpha >= 0.0) || !isfinite(alpha))
        return PLANE_EINVAL;
    z->n = n;
    z->alpha = alpha;
    z->h_x1 = zipf_H(alpha, 1.5) - 1.0;
    z->h_n = zipf_H(alpha, (double)n + 0.5);
    z->s = 2.0 - zipf_H_inv(alpha, zipf_H(alpha, 2.5) - zipf_h(alpha, 2.0));
    return 0;
}

uint64_t
planegen_zipf_sample(const struct planegen_zipf *z, struct planegen_rng *r)
{
    if (z->n == 1)
        return 0;
    for (;;) {
        double u = z->h_n + planegen_rng_unit(r) * (z->h_x1 - z->h_n);
        double x = zipf_H_inv(z->alpha, u);
        double kd = floor(x + 0.5);
        uint64_t k;
        if (!(kd >= 1.0))
            k = 1;
        else if (kd >= (double)z->n)
            k = z->n;
        else
            k = (uint64_t)kd;
        /* Accept at once inside the squeeze; else the exact test. */
        if ((double)k - x <= z->s ||
            u >= zipf_H(z->alpha, (double)k + 0.5) - zipf_h(z->alpha, (double)k))
            return k - 1;
    }
}

/* ---- keyed shuffle of [0, n) ---- */

int
planegen_perm_init(struct planegen_perm *p, uint64_t n, uint64_t key)
{
    if (!p || n == 0)
        return PLANE_EINVAL;
    unsigned bits = 2;
    while (bits < 64 && (n - 1) >> bits)
        bits++;
    if (bits & 1)
        bits++;
    p->n = n;
    p->half_bits = bits / 2;
    for (int i = 0; i < 4; i++)
        p->keys[i] = planegen_mix64(&key);
    return 0;
}

static uint64_t
perm_round(uint64_t x, uint64_t key)
{
    uint64_t s = x ^ key;
    return planegen_mix64(&s);
}

uint64_t
planegen_perm_apply(const struct planegen_perm *p, uint64_t x)
{
    unsigned hb = p->half_bits;
    uint64_t mask = hb >= 64 ? ~0ull : (1ull << hb) - 1;
    /* Cycle walking: a bijection of the larger domain, re-applied until the
     * value falls back into [0, n), is a bijection of [0, n). */
    do {
        uint64_t l = (x >> hb) & mask, r = x & mask;
        for (int i = 0; i < 4; i++) {
            uint64_t t = r;
            r = l ^ (perm_round(r, p->keys[i]) & mask);
            l = t;
        }
        x = (l << hb) | r;
    } while (x >= p->n);
    return x;
}
