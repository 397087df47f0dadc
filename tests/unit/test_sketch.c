/* Tests of the count-min sketch and Bloom filter: error bounds on Zipf streams, decay, merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "sketch.h"

/* Randomised tests print their seed; PLANE_TEST_SEED replays one. */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
rng_unit(void)
{
    return (double) (rng_next() >> 11) / (double) (1ULL << 53);
}

static void
rng_seed(const char *test)
{
    const char *env = getenv("PLANE_TEST_SEED");
    rng_state = env ? strtoull(env, NULL, 0) : 0x5eed5eedULL;
    printf("%s: seed 0x%llx (replay with PLANE_TEST_SEED)\n", test,
           (unsigned long long) rng_state);
}

/* Zipf(alpha) over [0, n) by inverse CDF on a precomputed table. */
struct zipf {
    double *cdf;
    uint32_t n;
};

static void
zipf_init(struct zipf *z, uint32_t n, double alpha)
{
    z->cdf = plane_malloc(n * sizeof *z->cdf);
    assert_non_null(z->cdf);
    z->n = n;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += 1.0 / pow((double) (i + 1), alpha);
        z->cdf[i] = sum;
    }
    for (uint32_t i = 0; i < n; i++) {
        z->cdf[i] /= sum;
    }
}

static uint32_t
zipf_next(const struct zipf *z)
{
    double u = rng_unit();
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] < u) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Keys are 8 bytes: a rank, mixed so that ranks do not share prefixes. */
static uint64_t
key_of(uint32_t rank)
{
    return (uint64_t) rank * 0x9e3779b97f4a7c15ULL + 12345;
}

static void
test_cms_init(void **state)
{
    struct plane_cms c;
    assert_int_equal(plane_cms_init(&c, 0, 4, 1), PLANE_EINVAL);
    assert_int_equal(plane_cms_init(&c, 4, 0, 1), PLANE_EINVAL);
    assert_int_equal(plane_cms_init_error(&c, 0.0, 0.01, 1), PLANE_EINVAL);
    assert_int_equal(plane_cms_init_error(&c, 0.01, 1.5, 1), PLANE_EINVAL);
    assert_int_equal(plane_cms_init_error(&c, 0.001, 0.01, 1), 0);
    assert_int_equal(c.width, (uint32_t) ceil(M_E / 0.001));
    assert_int_equal(c.depth, 5);   /* ceil(ln 100) */
    assert_int_equal(plane_cms_estimate(&c, "x", 1), 0);
    plane_cms_add(&c, "x", 1, 7);
    plane_cms_add(&c, "x", 1, 3);
    assert_int_equal(plane_cms_estimate(&c, "x", 1), 10);
    plane_cms_clear(&c);
    assert_int_equal(plane_cms_estimate(&c, "x", 1), 0);
    assert_int_equal(plane_cms_add_estimate(&c, "y", 1, 5), 5);
    assert_int_equal(plane_cms_add_estimate(&c, "y", 1, 2), 7);
    plane_cms_uninit(&c);
    plane_cms_uninit(&c);   /* idempotent on a wiped sketch */
}

/* Sketches one Zipf stream with an (eps, delta) sketch and checks the bound. */
static void
check_zipf_bound(const struct zipf *z, double eps, double delta)
{
    enum { N_UPDATES = 1000000 };
    uint64_t *truth = plane_calloc(z->n, sizeof *truth);
    assert_non_null(truth);
    struct plane_cms c;
    assert_int_equal(plane_cms_init_error(&c, eps, delta, rng_next()), 0);

    for (uint32_t i = 0; i < N_UPDATES; i++) {
        uint32_t r = zipf_next(z);
        uint64_t k = key_of(r);
        truth[r]++;
        plane_cms_add(&c, &k, sizeof k, 1);
    }
    uint32_t over = 0;
    uint64_t max_err = 0;
    for (uint32_t r = 0; r < z->n; r++) {
        uint64_t k = key_of(r);
        uint64_t est = plane_cms_estimate(&c, &k, sizeof k);
        /* Count-min never underestimates. */
        assert_true(est >= truth[r]);
        uint64_t err = est - truth[r];
        max_err = err > max_err ? err : max_err;
        over += err > eps * N_UPDATES;
    }
    double frac = (double) over / z->n;
    printf("cms %ux%u: %u of %u keys over eps*N (%.5f, delta %.3f), max error %llu\n",
           c.width, c.depth, over, z->n, frac, delta, (unsigned long long) max_err);
    /* The bound is per query: allow 2x slack for the sample. */
    assert_true(frac <= 2 * delta);
    plane_cms_uninit(&c);
    plane_free(truth);
}

static void
test_cms_zipf_error_bound(void **state)
{
    rng_seed(__func__);
    struct zipf z;
    zipf_init(&z, 100000, 0.99);
    check_zipf_bound(&z, 0.001, 0.01);
    /* A deliberately small sketch, where collisions really happen. */
    check_zipf_bound(&z, 0.01, 0.05);
    plane_free(z.cdf);
}

static void
test_cms_decay(void **state)
{
    struct plane_cms c;
    assert_int_equal(plane_cms_init(&c, 1024, 4, 42), 0);
    for (uint32_t i = 0; i < 100; i++) {
        uint64_t k = key_of(i);
        plane_cms_add(&c, &k, sizeof k, 2 * (uint64_t) i + 1);
    }
    uint64_t before[100];
    for (uint32_t i = 0; i < 100; i++) {
        uint64_t k = key_of(i);
        before[i] = plane_cms_estimate(&c, &k, sizeof k);
    }
    plane_cms_decay(&c, 1, 2);
    for (uint32_t i = 0; i < 100; i++) {
        uint64_t k = key_of(i);
        /* Every counter is floored by half, so the minimum is too. */
        assert_int_equal(plane_cms_estimate(&c, &k, sizeof k), before[i] / 2);
    }
    plane_cms_decay(&c, 3, 0);   /* den 0 is ignored */
    plane_cms_decay(&c, 0, 1);
    for (uint32_t i = 0; i < 100; i++) {
        uint64_t k = key_of(i);
        assert_int_equal(plane_cms_estimate(&c, &k, sizeof k), 0);
    }
    /* Huge counters decay without overflowing the product. */
    plane_cms_add(&c, "big", 3, UINT64_MAX - 1);
    plane_cms_decay(&c, 3, 4);
    assert_true(plane_cms_estimate(&c, "big", 3) >= (UINT64_MAX / 4) * 3 - 4);
    plane_cms_uninit(&c);
}

static void
test_cms_merge_is_union(void **state)
{
    rng_seed(__func__);
    struct plane_cms a, b, u, other;
    assert_int_equal(plane_cms_init(&a, 512, 4, 9), 0);
    assert_int_equal(plane_cms_init(&b, 512, 4, 9), 0);
    assert_int_equal(plane_cms_init(&u, 512, 4, 9), 0);
    assert_int_equal(plane_cms_init(&other, 512, 4, 10), 0);
    for (uint32_t i = 0; i < 20000; i++) {
        uint64_t k = key_of((uint32_t) (rng_next() % 3000));
        uint64_t n = 1 + rng_next() % 5;
        plane_cms_add((i & 1) ? &a : &b, &k, sizeof k, n);
        plane_cms_add(&u, &k, sizeof k, n);
    }
    assert_int_equal(plane_cms_merge(&a, &b), 0);
    assert_memory_equal(a.counters, u.counters, (size_t) u.width * u.depth * sizeof(uint64_t));
    /* Different seeds hash differently: refusing is the only safe answer. */
    assert_int_equal(plane_cms_merge(&a, &other), PLANE_EINVAL);
    plane_cms_uninit(&a);
    plane_cms_uninit(&b);
    plane_cms_uninit(&u);
    plane_cms_uninit(&other);
}

static void
test_cms_rows_independent(void **state)
{
    /* Seeds that differ in one bit must still give unrelated tables. */
    struct plane_cms a, b;
    assert_int_equal(plane_cms_init(&a, 4096, 2, 0), 0);
    assert_int_equal(plane_cms_init(&b, 4096, 2, 1), 0);
    plane_cms_add(&a, "key", 3, 1);
    plane_cms_add(&b, "key", 3, 1);
    assert_memory_not_equal(a.counters, b.counters, 4096 * 2 * sizeof(uint64_t));
    /* And the two rows of one sketch pick different columns (almost surely). */
    size_t col0 = 0, col1 = 0;
    for (size_t i = 0; i < 4096; i++) {
        col0 = a.counters[i] ? i : col0;
        col1 = a.counters[4096 + i] ? i : col1;
    }
    assert_true(col0 != col1);
    plane_cms_uninit(&a);
    plane_cms_uninit(&b);
}

static void
test_bloom_basic(void **state)
{
    struct plane_bloom b;
    assert_int_equal(plane_bloom_init(&b, 0, 3, 1), PLANE_EINVAL);
    assert_int_equal(plane_bloom_init(&b, 100, 0, 1), PLANE_EINVAL);
    assert_int_equal(plane_bloom_init(&b, 100, 3, 1), 0);
    assert_int_equal(b.n_bits, 128);
    assert_false(plane_bloom_test(&b, "a", 1));
    plane_bloom_add(&b, "a", 1);
    assert_true(plane_bloom_test(&b, "a", 1));
    plane_bloom_clear(&b);
    assert_false(plane_bloom_test(&b, "a", 1));
    plane_bloom_uninit(&b);
    assert_false(plane_bloom_test(&b, "a", 1));   /* wiped filter: empty */
}

static void
test_bloom_false_positive_rate(void **state)
{
    enum { N = 10000, PROBES = 200000 };
    const double p = 0.01;
    rng_seed(__func__);
    struct plane_bloom b;
    assert_int_equal(plane_bloom_init_error(&b, N, p, rng_next()), 0);
    for (uint32_t i = 0; i < N; i++) {
        uint64_t k = key_of(i);
        plane_bloom_add(&b, &k, sizeof k);
    }
    for (uint32_t i = 0; i < N; i++) {
        uint64_t k = key_of(i);
        assert_true(plane_bloom_test(&b, &k, sizeof k));   /* no false negatives */
    }
    uint32_t fp = 0;
    for (uint32_t i = 0; i < PROBES; i++) {
        uint64_t k = key_of(N + i);
        fp += plane_bloom_test(&b, &k, sizeof k);
    }
    double rate = (double) fp / PROBES;
    double theory = pow(1.0 - exp(-(double) b.k * N / b.n_bits), b.k);
    printf("bloom: m=%u k=%u fp %.5f theory %.5f\n", b.n_bits, b.k, rate, theory);
    assert_true(rate > theory * 0.7 && rate < theory * 1.3);
    plane_bloom_uninit(&b);
}

static void
test_bloom_merge(void **state)
{
    struct plane_bloom a, b, c;
    assert_int_equal(plane_bloom_init(&a, 4096, 4, 5), 0);
    assert_int_equal(plane_bloom_init(&b, 4096, 4, 5), 0);
    assert_int_equal(plane_bloom_init(&c, 4096, 3, 5), 0);
    plane_bloom_add(&a, "left", 4);
    plane_bloom_add(&b, "right", 5);
    assert_int_equal(plane_bloom_merge(&a, &b), 0);
    assert_true(plane_bloom_test(&a, "left", 4));
    assert_true(plane_bloom_test(&a, "right", 5));
    assert_int_equal(plane_bloom_merge(&a, &c), PLANE_EINVAL);
    plane_bloom_uninit(&a);
    plane_bloom_uninit(&b);
    plane_bloom_uninit(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cms_init),
        cmocka_unit_test(test_cms_zipf_error_bound),
        cmocka_unit_test(test_cms_decay),
        cmocka_unit_test(test_cms_merge_is_union),
        cmocka_unit_test(test_cms_rows_independent),
        cmocka_unit_test(test_bloom_basic),
        cmocka_unit_test(test_bloom_false_positive_rate),
        cmocka_unit_test(test_bloom_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
