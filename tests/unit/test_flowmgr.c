/* Tests of the flow manager: capacity, exact match, least-popular victims, decayed estimates, admission, incremental aging, a randomized model check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/hash.h"
#include "flowmgr.h"

static uint64_t
rng_next(uint64_t *s)
{
    /* splitmix64: tiny, good enough, replayable from one seed. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
test_seed(void)
{
    const char *env = getenv("PLANE_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed0f10ULL;
    printf("flowmgr seed: PLANE_TEST_SEED=%llu\n", (unsigned long long) seed);
    return seed;
}

static struct plane_flow_key
mkkey(uint32_t i)
{
    struct plane_flow_key k;
    uint8_t src[4] = { 10, (uint8_t) (i >> 16), (uint8_t) (i >> 8), (uint8_t) i };
    uint8_t dst[4] = { 192, 168, 0, 1 };
    plane_flow_key_set_v4(&k, 6, src, (uint16_t) (1000 + (i & 0x3ff)), dst, 80);
    return k;
}

static struct plane_flowmgr *
new_fm(uint32_t capacity)
{
    static const uint8_t secret[] = "flowmgr test rack key";
    struct plane_hasher h;
    assert_int_equal(plane_hasher_init(&h, secret, sizeof secret), 0);
    struct plane_flowmgr *fm = plane_flowmgr_new(capacity, &h);
    plane_hasher_uninit(&h);
    assert_non_null(fm);
    return fm;
}

static void
test_new_bad_args(void **state)
{
    assert_null(plane_flowmgr_new(0, NULL));
    assert_null(plane_flowmgr_new(PLANE_FLOWMGR_MAX_CAPACITY + 1, NULL));
    plane_flowmgr_delete(NULL);
    struct plane_flowmgr *fm = plane_flowmgr_new(1, NULL);  /* unkeyed hasher */
    assert_non_null(fm);
    assert_int_equal(plane_flowmgr_capacity(fm), 1);
    assert_true(plane_flowmgr_n_buckets(fm) >= 1);
    plane_flowmgr_delete(fm);
    assert_int_equal(plane_flowmgr_n_counters,
                     sizeof(struct plane_flowmgr_stats) / sizeof(uint64_t));
}

static void
test_basic(void **state)
{
    struct plane_flowmgr *fm = new_fm(4);
    struct plane_flow_key a = mkkey(1), b = mkkey(2), c = mkkey(3);
    uint64_t t;

    assert_false(plane_flowmgr_lookup(fm, &a, 5));
    assert_int_equal(plane_flowmgr_insert(fm, &a, 10), 0);
    assert_int_equal(plane_flowmgr_insert(fm, &a, 11), PLANE_EEXIST);
    assert_true(plane_flowmgr_contains(fm, &a));
    assert_false(plane_flowmgr_contains(fm, &b));
    assert_int_equal(plane_flowmgr_last_hit(fm, &a, &t), 0);
    assert_int_equal(t, 10);
    assert_true(plane_flowmgr_lookup(fm, &a, 20));
    assert_int_equal(plane_flowmgr_last_hit(fm, &a, &t), 0);
    assert_int_equal(t, 20);
    /* contains() leaves the last hit alone. */
    assert_true(plane_flowmgr_contains(fm, &a));
    assert_int_equal(plane_flowmgr_last_hit(fm, &a, &t), 0);
    assert_int_equal(t, 20);
    assert_int_equal(plane_flowmgr_last_hit(fm, &b, &t), PLANE_ENOENT);

    /* A key differing in one byte of the pad is a different key. */
    struct plane_flow_key a2 = a;
    a2.pad[1] = 1;
    assert_false(plane_flowmgr_contains(fm, &a2));

    uint64_t h = plane_flowmgr_hash(fm, &a);
    plane_flowmgr_prefetch(fm, h);
    assert_true(plane_flowmgr_lookup_hashed(fm, &a, h, 30));

    assert_int_equal(plane_flowmgr_insert(fm, &b, 1), 0);
    assert_int_equal(plane_flowmgr_insert(fm, &c, 1), 0);
    assert_int_equal(plane_flowmgr_count(fm), 3);
    assert_int_equal(plane_flowmgr_remove(fm, &b), 0);
    assert_int_equal(plane_flowmgr_remove(fm, &b), PLANE_ENOENT);
    assert_false(plane_flowmgr_contains(fm, &b));
    assert_true(plane_flowmgr_contains(fm, &a));
    assert_true(plane_flowmgr_contains(fm, &c));
    assert_int_equal(plane_flowmgr_count(fm), 2);

    const struct plane_flowmgr_stats *st = plane_flowmgr_stats(fm);
    assert_int_equal(st->lookups, 3);
    assert_int_equal(st->hits, 2);
    assert_int_equal(st->misses, 1);
    assert_int_equal(st->inserts, 3);
    assert_int_equal(st->insert_exists, 1);
    assert_int_equal(st->removes, 1);
    assert_int_equal(st->remove_missing, 1);
    plane_flowmgr_delete(fm);
}

static void
test_capacity(void **state)
{
    static const uint32_t caps[] = { 1, 2, 7, 8, 9, 64, 100, 1000, 4096 };

    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        uint32_t cap = caps[c];
        struct plane_flowmgr *fm = new_fm(cap);
        for (uint32_t i = 0; i < cap; i++) {
            struct plane_flow_key k = mkkey(i);
            assert_int_equal(plane_flowmgr_insert(fm, &k, i), 0);
        }
        assert_int_equal(plane_flowmgr_count(fm), cap);
        struct plane_flow_key extra = mkkey(cap);
        assert_int_equal(plane_flowmgr_insert(fm, &extra, 0), PLANE_ENOSPC);
        assert_int_equal(plane_flowmgr_stats(fm)->insert_full, 1);
        for (uint32_t i = 0; i <= cap; i++) {
            struct plane_flow_key k = mkkey(i);
            assert_int_equal(plane_flowmgr_lookup(fm, &k, 1), i < cap);
        }
        /* Remove every other key, refill, and check again. */
        for (uint32_t i = 0; i < cap; i += 2) {
            struct plane_flow_key k = mkkey(i);
            assert_int_equal(plane_flowmgr_remove(fm, &k), 0);
        }
        for (uint32_t i = 0; i < cap; i++) {
            struct plane_flow_key k = mkkey(i);
            assert_int_equal(plane_flowmgr_contains(fm, &k), i % 2 == 1);
        }
        for (uint32_t i = 0; i < cap; i += 2) {
            struct plane_flow_key k = mkkey(cap + 1 + i);
            assert_int_equal(plane_flowmgr_insert(fm, &k, 0), 0);
        }
        assert_int_equal(plane_flowmgr_count(fm), cap);
        for (uint32_t i = 0; i < cap; i++) {
            struct plane_flow_key k = mkkey(i % 2 ? i : cap + 1 + i);
            assert_true(plane_flowmgr_contains(fm, &k));
        }
        /*
         * Empty again: removes undid every overflow mark, so no lookup reads
         * past its home bucket.
         */
        for (uint32_t i = 0; i < cap; i++) {
            struct plane_flow_key k = mkkey(i % 2 ? i : cap + 1 + i);
            assert_int_equal(plane_flowmgr_remove(fm, &k), 0);
        }
        uint64_t probes = plane_flowmgr_stats(fm)->overflow_probes;
        for (uint32_t i = 0; i < 2 * cap + 2; i++) {
            struct plane_flow_key k = mkkey(i);
            assert_false(plane_flowmgr_lookup(fm, &k, 2));
        }
        assert_int_equal(plane_flowmgr_stats(fm)->overflow_probes, probes);
        plane_flowmgr_delete(fm);
    }
}

static void
test_victim_empty_and_exact_lru(void **state)
{
    enum { N = 50 };
    struct plane_flowmgr *fm = new_fm(N);
    struct plane_flow_key v;
    uint64_t seed = 12345;
    uint32_t perm[N];

    assert_int_equal(plane_flowmgr_victim(fm, &v), PLANE_ENOENT);
    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_flowmgr_insert(fm, &k, 0), 0);
        perm[i] = i;
    }
    /* Hit the keys in a random order at increasing times. */
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t) (rng_next(&seed) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(perm[i]);
        assert_true(plane_flowmgr_lookup(fm, &k, 100 + i));
    }
    /* With K >= count the victim is exactly the least recently hit. */
    plane_flowmgr_set_victim_samples(fm, N);
    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key want = mkkey(perm[i]);
        assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
        assert_memory_equal(&v, &want, sizeof v);
        assert_int_equal(plane_flowmgr_remove(fm, &v), 0);
    }
    assert_int_equal(plane_flowmgr_count(fm), 0);
    plane_flowmgr_delete(fm);
}

/*
 * Frequency: a cold key hit a moment ago goes before hot keys hit earlier,
 * and a key that turns hot outranks ones with fewer hits.
 */
static void
test_victim_prefers_cold(void **state)
{
    enum { N = PLANE_FLOWMGR_VICTIM_SAMPLES };
    struct plane_flowmgr *fm = new_fm(N);
    struct plane_flow_key v, cold = mkkey(0);

    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_flowmgr_insert(fm, &k, 0), 0);
    }
    uint64_t t = 100;
    for (int round = 0; round < 10; round++) {
        for (uint32_t i = 1; i < N; i++) {
            struct plane_flow_key k = mkkey(i);
            assert_true(plane_flowmgr_lookup(fm, &k, t++));
        }
    }
    assert_true(plane_flowmgr_lookup(fm, &cold, t++));
    /* LRU would pick key 1 (hit first); key 0 has 1 hit to their 10. */
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_equal(&v, &cold, sizeof v);
    /* Proposing a victim changes no estimate: same victim. */
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_equal(&v, &cold, sizeof v);
    /* Key 0 turns hot (21 hits) while the others stay at 10. */
    for (int i = 0; i < 20; i++) {
        assert_true(plane_flowmgr_lookup(fm, &cold, t++));
    }
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_not_equal(&v, &cold, sizeof v);
    plane_flowmgr_delete(fm);
}

#define EPOCH_NS 1000u

/* Victim = the lowest decayed estimate among the samples, whatever the recency. */
static void
test_victim_lowest_estimate(void **state)
{
    enum { N = PLANE_FLOWMGR_VICTIM_SAMPLES };
    struct plane_flowmgr *fm = new_fm(N);
    struct plane_flow_key v;
    uint64_t est;

    (void) state;
    plane_flowmgr_set_epoch(fm, EPOCH_NS);
    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_flowmgr_insert(fm, &k, 0), 0);
        /* Key i gets estimate 10 + i, key 5 the lowest (3), hit last. */
        assert_int_equal(plane_flowmgr_set_estimate(fm, &k, i == 5 ? 3 : 10 + i, 0), 0);
    }
    struct plane_flow_key k5 = mkkey(5);
    assert_true(plane_flowmgr_lookup(fm, &k5, 10));
    assert_int_equal(plane_flowmgr_estimate(fm, &k5, 10, &est), 0);
    assert_int_equal(est, 4);
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_equal(&v, &k5, sizeof v);
    /* Saturation. */
    assert_int_equal(plane_flowmgr_set_estimate(fm, &k5, UINT64_MAX, 10), 0);
    assert_int_equal(plane_flowmgr_estimate(fm, &k5, 10, &est), 0);
    assert_int_equal(est, PLANE_FLOWMGR_EST_MAX);
    assert_true(plane_flowmgr_lookup(fm, &k5, 11));
    assert_int_equal(plane_flowmgr_estimate(fm, &k5, 11, &est), 0);
    assert_int_equal(est, PLANE_FLOWMGR_EST_MAX);
    /* Now key 0 (10) is the lowest. */
    struct plane_flow_key k0 = mkkey(0);
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_equal(&v, &k0, sizeof v);
    struct plane_flow_key absent = mkkey(1000);
    assert_int_equal(plane_flowmgr_set_estimate(fm, &absent, 1, 0), PLANE_ENOENT);
    assert_int_equal(plane_flowmgr_estimate(fm, &absent, 0, &est), PLANE_ENOENT);
    plane_flowmgr_delete(fm);
}

/* Estimates halve once per epoch, lazily; 16 epochs or more decay them to 0. */
static void
test_estimate_decay(void **state)
{
    struct plane_flowmgr *fm = new_fm(4);
    struct plane_flow_key a = mkkey(1), b = mkkey(2), v;
    uint64_t est;

    (void) state;
    plane_flowmgr_set_epoch(fm, EPOCH_NS);
    assert_int_equal(plane_flowmgr_insert(fm, &a, 0), 0);
    assert_int_equal(plane_flowmgr_insert(fm, &b, 0), 0);
    for (int i = 0; i < 40; i++) {
        assert_true(plane_flowmgr_lookup(fm, &a, 100 + (uint64_t) i));
    }
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 999, &est), 0);
    assert_int_equal(est, 40);
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 1000, &est), 0);
    assert_int_equal(est, 20);
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 3500, &est), 0);
    assert_int_equal(est, 5);
    /* A hit decays, then increments. */
    assert_true(plane_flowmgr_lookup(fm, &a, 3500));
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 3500, &est), 0);
    assert_int_equal(est, 6);
    /* b: 3 hits now outrank a's 6 after a idles two epochs (6 -> 1). */
    for (int i = 0; i < 3; i++) {
        assert_true(plane_flowmgr_lookup(fm, &b, 5000));
    }
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 5000, &est), 0);
    assert_int_equal(est, 1);
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_equal(&v, &a, sizeof v);
    /* A saturated estimate is gone after 16 epochs, and stays gone. */
    assert_int_equal(plane_flowmgr_set_estimate(fm, &a, PLANE_FLOWMGR_EST_MAX, 5000), 0);
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 5000 + 15 * EPOCH_NS, &est), 0);
    assert_int_equal(est, 1);
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 5000 + 16 * EPOCH_NS, &est), 0);
    assert_int_equal(est, 0);
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 5000 + 1000 * EPOCH_NS, &est), 0);
    assert_int_equal(est, 0);
    /* The default epoch is 100 ms. */
    plane_flowmgr_set_epoch(fm, 0);
    assert_int_equal(plane_flowmgr_set_estimate(fm, &a, 8, 0), 0);
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 99999999, &est), 0);
    assert_int_equal(est, 8);
    assert_int_equal(plane_flowmgr_estimate(fm, &a, 100000000, &est), 0);
    assert_int_equal(est, 4);
    plane_flowmgr_delete(fm);
}

/* Admission: room admits anything; a full table wants min + min/8 + 1 beaten. */
static void
test_admits(void **state)
{
    enum { N = 2 * PLANE_FLOWMGR_VICTIM_SAMPLES };
    struct plane_flowmgr *fm = new_fm(N);
    struct plane_flow_key v;

    (void) state;
    plane_flowmgr_set_epoch(fm, EPOCH_NS);
    assert_true(plane_flowmgr_admits(fm, 0, 0));
    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_true(plane_flowmgr_admits(fm, 0, 0));
        assert_int_equal(plane_flowmgr_insert(fm, &k, 0), 0);
        /* The first window (entries 0..7) has min 16 at key 3; the second
         * (8..15) min 100. */
        uint64_t e = i < N / 2 ? (i == 3 ? 16 : 50) : 100 + i;
        assert_int_equal(plane_flowmgr_set_estimate(fm, &k, e, 0), 0);
    }
    /* Full: 16 + 2 + 1 = 19 is not enough, 20 is. */
    assert_false(plane_flowmgr_admits(fm, 0, 0));
    assert_false(plane_flowmgr_admits(fm, 16, 0));
    assert_false(plane_flowmgr_admits(fm, 19, 0));
    assert_true(plane_flowmgr_admits(fm, 20, 0));
    /* admits() does not move the hand: the victim is the key it compared with. */
    assert_false(plane_flowmgr_admits(fm, 19, 0));
    struct plane_flow_key k3 = mkkey(3);
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_equal(&v, &k3, sizeof v);
    /* The hand moved to the second window: min 108, needs > 108 + 13 + 1. */
    assert_false(plane_flowmgr_admits(fm, 50, 0));
    assert_false(plane_flowmgr_admits(fm, 122, 0));
    assert_true(plane_flowmgr_admits(fm, 123, 0));
    /* Decay: two epochs later the min is 27, 27 + 3 + 1 = 31. */
    assert_false(plane_flowmgr_admits(fm, 31, 2 * EPOCH_NS));
    assert_true(plane_flowmgr_admits(fm, 32, 2 * EPOCH_NS));
    /* A min of 0 still wants 2 (equal keys are not swapped). */
    assert_false(plane_flowmgr_admits(fm, 1, 100 * EPOCH_NS));
    assert_true(plane_flowmgr_admits(fm, 2, 100 * EPOCH_NS));
    /* Room again after a remove. */
    assert_int_equal(plane_flowmgr_remove(fm, &k3), 0);
    assert_true(plane_flowmgr_admits(fm, 0, 100 * EPOCH_NS));
    plane_flowmgr_delete(fm);
}

/*
 * A new entry given the estimate it was admitted with is not the next victim
 * for lack of hits, while one inserted bare (estimate 0) is.
 */
static void
test_set_estimate_protects_new(void **state)
{
    enum { N = PLANE_FLOWMGR_VICTIM_SAMPLES };
    struct plane_flowmgr *fm = new_fm(N);
    struct plane_flow_key v;

    (void) state;
    plane_flowmgr_set_epoch(fm, EPOCH_NS);
    for (uint32_t i = 0; i < N - 1; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_flowmgr_insert(fm, &k, 0), 0);
        for (int h = 0; h < 8; h++) {
            assert_true(plane_flowmgr_lookup(fm, &k, 10));
        }
    }
    struct plane_flow_key fresh = mkkey(100);
    assert_true(plane_flowmgr_admits(fm, 30, 20));
    assert_int_equal(plane_flowmgr_insert(fm, &fresh, 20), 0);
    /* Bare, it would go first (estimate 0 vs 8). */
    assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
    assert_memory_equal(&v, &fresh, sizeof v);
    assert_int_equal(plane_flowmgr_set_estimate(fm, &fresh, 30, 20), 0);
    for (int round = 0; round < 4; round++) {
        assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
        assert_memory_not_equal(&v, &fresh, sizeof v);
    }
    plane_flowmgr_delete(fm);
}

static void
test_victim_prefers_idle(void **state)
{
    enum { N = 64, HOT = PLANE_FLOWMGR_VICTIM_SAMPLES - 1 };
    struct plane_flowmgr *fm = new_fm(N);
    struct plane_flow_key v;

    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_flowmgr_insert(fm, &k, 0), 0);
    }
    /*
     * Fewer hot keys than samples: every window of K entries holds an idle
     * one, so no hot key is ever proposed, wherever the hand is.
     */
    for (uint32_t i = 0; i < HOT; i++) {
        struct plane_flow_key k = mkkey(i * 9);
        assert_true(plane_flowmgr_lookup(fm, &k, 1000));
    }
    for (int round = 0; round < 200; round++) {
        uint64_t t;
        assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
        assert_int_equal(plane_flowmgr_last_hit(fm, &v, &t), 0);
        assert_int_equal(t, 0);
    }
    /*
     * Half the keys hot, alternating in insertion order (no removals, so
     * the dense array keeps that order): every window of 8 still holds
     * idle keys, so every victim is idle.
     */
    for (uint32_t i = 0; i < N; i += 2) {
        struct plane_flow_key k = mkkey(i);
        assert_true(plane_flowmgr_lookup(fm, &k, 2000));
    }
    uint32_t idle_victims = 0;
    for (int round = 0; round < 16; round++) {
        uint64_t t;
        assert_int_equal(plane_flowmgr_victim(fm, &v), 0);
        assert_int_equal(plane_flowmgr_last_hit(fm, &v, &t), 0);
        idle_victims += t == 0;
    }
    assert_int_equal(idle_victims, 16);
    assert_int_equal(plane_flowmgr_stats(fm)->victims, 216);
    plane_flowmgr_delete(fm);
}

struct age_log {
    uint8_t seen[4096];
    size_t n;
    struct plane_flowmgr *remove_from;
};

static void
age_cb(void *arg, const struct plane_flow_key *key, uint64_t idle_ns)
{
    struct age_log *log = arg;
    uint32_t i = ((uint32_t) key->src_addr[13] << 16)
                 | ((uint32_t) key->src_addr[14] << 8) | key->src_addr[15];
    assert_true(i < sizeof log->seen);
    assert_true(idle_ns > 0);
    log->seen[i]++;
    log->n++;
    if (log->remove_from) {
        assert_int_equal(plane_flowmgr_remove(log->remove_from, key), 0);
    }
}

static void
test_age(void **state)
{
    enum { N = 1000 };
    struct plane_flowmgr *fm = new_fm(N);
    struct age_log log;
    uint64_t idle_ns = 5000;

    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_flowmgr_insert(fm, &k, 1000), 0);
    }
    for (uint32_t i = 0; i < N; i++) {
        if (i % 3 == 0) {
            struct plane_flow_key k = mkkey(i);
            assert_true(plane_flowmgr_lookup(fm, &k, 7000));
        }
    }
    /* Sweep in small steps from the cursor: exactly the idle keys, once each. */
    uint32_t nb = plane_flowmgr_n_buckets(fm);
    uint32_t step = 7;
    memset(&log, 0, sizeof log);
    size_t reported = 0;
    for (uint32_t done = 0; done < nb; done += step) {
        reported += plane_flowmgr_age(fm, 10000, idle_ns, step, age_cb, &log);
    }
    /* One call may overrun the sweep by up to step - 1 buckets. */
    size_t want = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (i % 3 != 0) {
            want++;
            assert_true(log.seen[i] >= 1);
        } else {
            assert_int_equal(log.seen[i], 0);
        }
    }
    assert_true(reported >= want);
    assert_int_equal(reported, log.n);

    /* A full sweep in one call that removes what it reports. */
    memset(&log, 0, sizeof log);
    log.remove_from = fm;
    reported = plane_flowmgr_age(fm, 10000, idle_ns, 0, age_cb, &log);
    assert_int_equal(reported, want);
    for (uint32_t i = 0; i < N; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(log.seen[i], i % 3 != 0);
        assert_int_equal(plane_flowmgr_contains(fm, &k), i % 3 == 0);
    }
    assert_int_equal(plane_flowmgr_count(fm), N - want);
    /* Nothing is idle at the boundary (strictly more than idle_ns). */
    assert_int_equal(plane_flowmgr_age(fm, 7000 + idle_ns, idle_ns, 0, NULL, NULL), 0);
    assert_int_equal(plane_flowmgr_age(fm, 7001 + idle_ns, idle_ns, 0, NULL, NULL),
                     N - want);
    plane_flowmgr_delete(fm);
}

/* ---- randomized comparison with a reference model ---- */

enum { UNIVERSE = 300 };

struct model {
    bool present[UNIVERSE];
    uint64_t last_hit[UNIVERSE];
    uint32_t count;
};

static void
model_check_all(struct plane_flowmgr *fm, const struct model *m)
{
    assert_int_equal(plane_flowmgr_count(fm), m->count);
    for (uint32_t i = 0; i < UNIVERSE; i++) {
        struct plane_flow_key k = mkkey(i);
        uint64_t t;
        assert_int_equal(plane_flowmgr_contains(fm, &k), m->present[i]);
        if (m->present[i]) {
            assert_int_equal(plane_flowmgr_last_hit(fm, &k, &t), 0);
            assert_int_equal(t, m->last_hit[i]);
        }
    }
}

struct model_age {
    const struct model *m;
    uint8_t seen[UNIVERSE];
};

static void
model_age_cb(void *arg, const struct plane_flow_key *key, uint64_t idle_ns)
{
    struct model_age *ma = arg;
    uint32_t i = ((uint32_t) key->src_addr[14] << 8) | key->src_addr[15];
    assert_true(i < UNIVERSE);
    assert_true(ma->m->present[i]);
    ma->seen[i]++;
}

static void
run_random(uint64_t seed, uint32_t cap, int steps)
{
    struct plane_flowmgr *fm = new_fm(cap);
    struct model m;
    uint64_t now = 1;

    memset(&m, 0, sizeof m);
    for (int step = 0; step < steps; step++) {
        uint64_t r = rng_next(&seed);
        uint32_t i = (uint32_t) ((r >> 8) % UNIVERSE);
        struct plane_flow_key k = mkkey(i);
        now += r % 3;
        switch (r % 8) {
        case 0: case 1: {
            int want = m.present[i] ? PLANE_EEXIST
                       : m.count == cap ? PLANE_ENOSPC : 0;
            assert_int_equal(plane_flowmgr_insert(fm, &k, now), want);
            if (want == 0) {
                m.present[i] = true;
                m.last_hit[i] = now;
                m.count++;
            }
            break;
        }
        case 2: case 3:
            assert_int_equal(plane_flowmgr_remove(fm, &k),
                             m.present[i] ? 0 : PLANE_ENOENT);
            if (m.present[i]) {
                m.present[i] = false;
                m.count--;
            }
            break;
        case 4: case 5:
            assert_int_equal(plane_flowmgr_lookup(fm, &k, now), m.present[i]);
            if (m.present[i]) {
                m.last_hit[i] = now;
            }
            break;
        case 6: {
            struct plane_flow_key v;
            int err = plane_flowmgr_victim(fm, &v);
            assert_int_equal(err, m.count ? 0 : PLANE_ENOENT);
            if (!err) {
                uint32_t vi = ((uint32_t) v.src_addr[14] << 8) | v.src_addr[15];
                assert_true(vi < UNIVERSE && m.present[vi]);
            }
            break;
        }
        default: {
            /* A full aging sweep reports exactly the model's idle keys. */
            struct model_age ma = { .m = &m };
            uint64_t idle = r % 200;
            plane_flowmgr_age(fm, now, idle, 0, model_age_cb, &ma);
            for (uint32_t j = 0; j < UNIVERSE; j++) {
                bool is_idle = m.present[j] && now > m.last_hit[j]
                               && now - m.last_hit[j] > idle;
                assert_int_equal(ma.seen[j], is_idle);
            }
            break;
        }
        }
        if (step % 97 == 0) {
            model_check_all(fm, &m);
        }
    }
    model_check_all(fm, &m);
    plane_flowmgr_delete(fm);
}

static void
test_random_vs_model(void **state)
{
    uint64_t seed = test_seed();
    /* Small capacities force bucket overflow chains; larger ones the common case. */
    static const uint32_t caps[] = { 1, 5, 16, 64, 200 };
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        run_random(seed + c, caps[c], 20000);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_bad_args),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_victim_empty_and_exact_lru),
        cmocka_unit_test(test_victim_prefers_idle),
        cmocka_unit_test(test_victim_prefers_cold),
        cmocka_unit_test(test_victim_lowest_estimate),
        cmocka_unit_test(test_estimate_decay),
        cmocka_unit_test(test_admits),
        cmocka_unit_test(test_set_estimate_protects_new),
        cmocka_unit_test(test_age),
        cmocka_unit_test(test_random_vs_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
