/* Seeded fault injection: a xoshiro256** PRNG (its steps exported for other seeded code) and a "k=v,..." spec parser. */
#include "common/fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "plane/error.h"

PLANE_LOG_MODULE(fault);

uint64_t
plane_fault_prng_mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
plane_fault_prng_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void
plane_fault_prng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        s[i] = plane_fault_prng_mix(&seed);
    }
}

uint64_t
plane_fault_rand(struct plane_fault *f)
{
    return plane_fault_prng_next(f->s);
}

double
plane_fault_rand_double(struct plane_fault *f)
{
    return (double) (plane_fault_rand(f) >> 11) * 0x1.0p-53;
}

void
plane_fault_init(struct plane_fault *f, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    f->seed = seed;
    plane_fault_prng_seed(f->s, seed);
}

uint64_t
plane_fault_seed(const struct plane_fault *f)
{
    return f->seed;
}

bool
plane_fault_active(const struct plane_fault *f)
{
    return f->drop > 0 || f->dup > 0 || f->delay > 0 || f->reorder > 0;
}

void
plane_fault_decide(struct plane_fault *f, unsigned *action, uint64_t *delay_ns)
{
    *action = PLANE_FAULT_PASS;
    *delay_ns = 0;
    PLANE_CTR_INC(&f->stats, decisions);
    /* Draw every value each time so one decision consumes a fixed amount of
     * the stream: a spec change on one fault does not shift the others. */
    double r_drop = plane_fault_rand_double(f);
    double r_dup = plane_fault_rand_double(f);
    double r_delay = plane_fault_rand_double(f);
    double r_reorder = plane_fault_rand_double(f);
    uint64_t r_len = plane_fault_rand(f);

    if (r_drop < f->drop) {
        *action = PLANE_FAULT_DROP;
        PLANE_CTR_INC(&f->stats, dropped);
        return;
    }
    if (r_dup < f->dup) {
        *action |= PLANE_FAULT_DUP;
        PLANE_CTR_INC(&f->stats, duplicated);
    }
    if (r_delay < f->delay) {
        uint64_t d = f->delay_min_ns;
        if (f->delay_max_ns > f->delay_min_ns) {
            d += r_len % (f->delay_max_ns - f->delay_min_ns + 1);
        }
        *action |= PLANE_FAULT_DELAY;
        *delay_ns = d;
        PLANE_CTR_INC(&f->stats, delayed);
    } else if (r_reorder < f->reorder) {
        /* A delayed datagram is already out of order; reorder only the rest. */
        *action |= PLANE_FAULT_REORDER;
        PLANE_CTR_INC(&f->stats, reordered);
    }
}

static int
parse_prob(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0.0 && d <= 1.0)) {
        return PLANE_EINVAL;
    }
    *out = d;
    return 0;
}

/* Parses "<digits>[ns|us|ms|s]"; a bare number is only accepted when 0. */
static int
parse_duration(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*v < '0' || *v > '9') {
        return PLANE_EINVAL;
    }
    unsigned long long n = strtoull(v, &end, 10);
    if (errno) {
        return PLANE_EINVAL;
    }
    uint64_t mult;
    if (!strcmp(end, "ns")) {
        mult = 1;
    } else if (!strcmp(end, "us")) {
        mult = PLANE_NS_PER_US;
    } else if (!strcmp(end, "ms")) {
        mult = PLANE_NS_PER_MS;
    } else if (!strcmp(end, "s")) {
        mult = PLANE_NS_PER_SEC;
    } else if (!*end && n == 0) {
        mult = 1;
    } else {
        return PLANE_EINVAL;
    }
    if (n > UINT64_MAX / mult) {
        return PLANE_EINVAL;
    }
    *out = n * mult;
    return 0;
}

static int
parse_kv(struct plane_fault *f, char *key, char *val, bool *have_seed,
         bool *have_delay_p, uint64_t *seed)
{
    if (!strcmp(key, "drop")) {
        return parse_prob(val, &f->drop);
    } else if (!strcmp(key, "dup")) {
        return parse_prob(val, &f->dup);
    } else if (!strcmp(key, "reorder")) {
        return parse_prob(val, &f->reorder);
    } else if (!strcmp(key, "delay_p")) {
        *have_delay_p = true;
        return parse_prob(val, &f->delay);
    } else if (!strcmp(key, "delay")) {
        char *colon = strchr(val, ':');
        if (colon) {
            *colon = '\0';
        }
        int err = parse_duration(val, &f->delay_min_ns);
        if (!err) {
            f->delay_max_ns = f->delay_min_ns;
            if (colon) {
                err = parse_duration(colon + 1, &f->delay_max_ns);
            }
        }
        if (!err && f->delay_max_ns < f->delay_min_ns) {
            err = PLANE_EINVAL;
        }
        return err;
    } else if (!strcmp(key, "seed")) {
        char *end;
        errno = 0;
        if (*val == '-' || !*val) {
            return PLANE_EINVAL;
        }
        unsigned long long s = strtoull(val, &end, 0);
        if (errno || *end) {
            return PLANE_EINVAL;
        }
        *seed = s;
        *have_seed = true;
        return 0;
    }
    return PLANE_EINVAL;
}

int
plane_fault_parse(struct plane_fault *f, const char *spec)
{
    struct plane_fault tmp;
    bool have_seed = false, have_delay_p = false;
    uint64_t seed = 0;
    char buf[512];

    plane_fault_init(&tmp, 0);
    if (spec && strlen(spec) >= sizeof buf) {
        return PLANE_EINVAL;
    }
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        if (!*tok) {
            continue;
        }
        char *eq = strchr(tok, '=');
        if (!eq) {
            PLANE_WARN("fault spec: \"%s\" is not key=value", tok);
            return PLANE_EINVAL;
        }
        *eq = '\0';
        if (parse_kv(&tmp, tok, eq + 1, &have_seed, &have_delay_p, &seed)) {
            PLANE_WARN("fault spec: bad value for \"%s\"", tok);
            return PLANE_EINVAL;
        }
    }
    if (tmp.delay_max_ns > 0 && !have_delay_p) {
        tmp.delay = 1.0;
    }
    if (!have_seed) {
        seed = plane_clock_wall_ns() ^ (plane_clock_now_ns() << 17);
    }
    plane_fault_init(f, seed);
    f->drop = tmp.drop;
    f->dup = tmp.dup;
    f->delay = tmp.delay;
    f->reorder = tmp.reorder;
    f->delay_min_ns = tmp.delay_min_ns;
    f->delay_max_ns = tmp.delay_max_ns;
    return 0;
}

const char *
plane_fault_format(const struct plane_fault *f, char *buf, unsigned size)
{
    snprintf(buf, size,
             "drop=%g,dup=%g,delay=%lluns:%lluns,delay_p=%g,reorder=%g,seed=%llu",
             f->drop, f->dup, (unsigned long long) f->delay_min_ns,
             (unsigned long long) f->delay_max_ns, f->delay, f->reorder,
             (unsigned long long) f->seed);
    return buf;
}
