/* Tests of popularity tracking: heavy hitters of a Zipf stream, decay, re-reports, cold-key hysteresis. */
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
#include "common/wire_body.h"
#include "popularity.h"

#define MS 1000000ULL

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void
rng_seed(const char *test)
{
    const char *env = getenv("PLANE_TEST_SEED");
    rng_state = env ? strtoull(env, NULL, 0) : 0xc0ffeeULL;
    printf("%s: seed 0x%llx (replay with PLANE_TEST_SEED)\n", test,
           (unsigned long long) rng_state);
}

/* A 16-byte union key made from a rank. */
struct ukey {
    uint64_t a, b;
};

static struct ukey
key_of(uint32_t rank)
{
    return (struct ukey) { .a = rank * 0x9e3779b97f4a7c15ULL, .b = rank };
}

/* Checks the heap order and that the index maps every entry to its slot. */
static void
check_invariants(const struct plane_pop_tracker *t)
{
    uint32_t used = 0;
    for (uint32_t s = 0; s < t->n_index; s++) {
        if (t->index[s]) {
            used++;
            assert_true(t->index[s] - 1 < t->n_heap);
            assert_int_equal(t->heap[t->index[s] - 1].slot, s);
        }
    }
    assert_int_equal(used, t->n_heap);
    for (uint32_t i = 1; i < t->n_heap; i++) {
        assert_true(t->heap[(i - 1) / 2].estimate <= t->heap[i].estimate);
    }
    for (uint32_t i = 0; i < t->n_heap; i++) {
        const struct plane_pop_entry *e = &t->heap[i];
        assert_int_equal(t->index[e->slot], i + 1);
    }
}

static void
test_params(void **state)
{
    struct plane_pop_params p;
    struct plane_pop_tracker t;
    plane_pop_params_default(&p);
    p.top_k = 0;
    assert_int_equal(plane_pop_tracker_init(&t, &p), PLANE_EINVAL);
    plane_pop_params_default(&p);
    p.decay_num = 2;
    p.decay_den = 2;
    assert_int_equal(plane_pop_tracker_init(&t, &p), PLANE_EINVAL);
    plane_pop_params_default(&p);
    assert_int_equal(plane_pop_tracker_init(&t, &p), 0);
    plane_pop_tracker_uninit(&t);
}

static void
test_heavy_hitters_of_zipf(void **state)
{
    enum { N_KEYS = 100000, N_UPDATES = 1000000, TOP = 50 };
    rng_seed(__func__);
    double *cdf = plane_malloc(N_KEYS * sizeof *cdf);
    uint64_t *truth = plane_calloc(N_KEYS, sizeof *truth);
    assert_non_null(cdf);
    assert_non_null(truth);
    double sum = 0;
    for (uint32_t i = 0; i < N_KEYS; i++) {
        sum += 1.0 / pow(i + 1.0, 0.99);
        cdf[i] = sum;
    }

    struct plane_pop_params p;
    plane_pop_params_default(&p);
    p.seed = rng_next();
    p.epsilon = 1e-3;
    p.delta = 1e-2;
    p.top_k = 256;
    p.hot_threshold = 1000;
    p.epoch_ns = 1000 * MS;   /* no decay during the stream */
    struct plane_pop_tracker t;
    assert_int_equal(plane_pop_tracker_init(&t, &p), 0);

    /* Ranks are shuffled through a multiplier so hot keys are not the
     * first ones inserted. */
    for (uint32_t i = 0; i < N_UPDATES; i++) {
        double u = (double) (rng_next() >> 11) / (double) (1ULL << 53) * sum;
        uint32_t lo = 0, hi = N_KEYS - 1;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] < u) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        uint32_t r = (uint32_t) (((uint64_t) lo * 7919) % N_KEYS);
        truth[r]++;
        struct ukey k = key_of(r);
        plane_pop_observe(&t, &k, sizeof k, 1, 1 * MS);
        if (i % 100000 == 0) {
            check_invariants(&t);
        }
    }
    check_invariants(&t);

    struct plane_body_pop_item items[256];
    uint32_t n = plane_pop_report(&t, items, 256);
    printf("reported %u hot keys\n", n);
    assert_true(n >= TOP);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(items[i].count >= p.hot_threshold);
        assert_int_equal(items[i].union_key_len, sizeof(struct ukey));
        if (i) {
            assert_true(items[i - 1].count >= items[i].count);   /* hottest first */
        }
    }
    /* Every one of the true top-TOP keys is among the reported. */
    for (uint32_t rank = 0; rank < TOP; rank++) {
        uint32_t r = (uint32_t) (((uint64_t) rank * 7919) % N_KEYS);
        struct ukey k = key_of(r);
        bool found = false;
        for (uint32_t i = 0; i < n && !found; i++) {
            found = !memcmp(items[i].union_key, &k, sizeof k);
        }
        if (!found) {
            fail_msg("true rank %u (count %llu) not reported", rank,
                     (unsigned long long) truth[r]);
        }
    }
    /* Reported keys are not reported again. */
    assert_int_equal(plane_pop_report(&t, items, 256), 0);
    /* Until the switch demotes one. */
    struct ukey top = key_of(0);
    assert_true(plane_pop_unmark(&t, &top, sizeof top));
    assert_int_equal(plane_pop_report(&t, items, 256), 1);
    assert_memory_equal(items[0].union_key, &top, sizeof top);
    struct ukey absent = key_of(N_KEYS + 5);
    assert_false(plane_pop_unmark(&t, &absent, sizeof absent));
    assert_int_equal(t.stats.observed, N_UPDATES);
    assert_int_equal(t.stats.reported, n + 1);
    assert_int_equal(t.stats.unmarked, 1);
    assert_true(t.stats.evicted > 0);
    assert_string_equal(plane_pop_counter_names[3], "reported");
    assert_int_equal(PLANE_POP_N_COUNTERS, 7);

    plane_pop_tracker_uninit(&t);
    plane_free(cdf);
    plane_free(truth);
}

static void
test_decay_and_rereport(void **state)
{
    struct plane_pop_params p;
    plane_pop_params_default(&p);
    p.top_k = 8;
    p.hot_threshold = 100;
    p.epoch_ns = 100 * MS;
    p.rereport_epochs = 3;
    struct plane_pop_tracker t;
    assert_int_equal(plane_pop_tracker_init(&t, &p), 0);
    struct ukey k = key_of(1);
    struct plane_body_pop_item items[8];

    uint64_t now = 1000 * MS;
    plane_pop_observe(&t, &k, sizeof k, 400, now);
    assert_int_equal(plane_pop_estimate(&t, &k, sizeof k), 400);
    assert_int_equal(plane_pop_report(&t, items, 8), 1);
    assert_int_equal(items[0].count, 400);

    /* One epoch later: halved. */
    now += 100 * MS;
    assert_true(plane_pop_tick(&t, now));
    assert_false(plane_pop_tick(&t, now));
    assert_int_equal(plane_pop_estimate(&t, &k, sizeof k), 200);
    assert_int_equal(t.heap[0].estimate, 200);
    assert_int_equal(plane_pop_report(&t, items, 8), 0);

    /* Kept hot, it is re-reported rereport_epochs after the last report
     * (the switch may have refused it). */
    now += 100 * MS;
    plane_pop_observe(&t, &k, sizeof k, 300, now);   /* 100 + 300 */
    assert_int_equal(plane_pop_report(&t, items, 8), 0);
    now += 100 * MS;
    plane_pop_tick(&t, now);                          /* epoch 3: 200 */
    assert_int_equal(plane_pop_report(&t, items, 8), 1);
    assert_int_equal(items[0].count, 200);

    /* A long stall decays once per missed epoch, capped. */
    now += 10000 * MS;
    assert_true(plane_pop_tick(&t, now));
    assert_int_equal(plane_pop_estimate(&t, &k, sizeof k), 0);
    assert_int_equal(plane_pop_report(&t, items, 8), 0);
    /* The next epoch boundary stays on the grid. */
    assert_int_equal(t.next_epoch_ns, now + 100 * MS);

    /* Keys longer than the heap stores are counted but never listed. */
    uint8_t big[PLANE_POP_KEY_MAX + 1] = { 0 };
    plane_pop_observe(&t, big, sizeof big, 1000, now);
    assert_int_equal(plane_pop_estimate(&t, big, sizeof big), 1000);
    assert_int_equal(plane_pop_report(&t, items, 8), 0);
    plane_pop_tracker_uninit(&t);
}

static void
test_heap_churn(void **state)
{
    /* A small heap under a stream of many keys: evictions and backward-shift
     * deletions from the index must keep everything consistent. */
    rng_seed(__func__);
    struct plane_pop_params p;
    plane_pop_params_default(&p);
    p.epsilon = 0.01;
    p.delta = 0.05;
    p.top_k = 16;
    p.hot_threshold = 1;
    p.epoch_ns = 5 * MS;
    p.seed = rng_next();
    struct plane_pop_tracker t;
    assert_int_equal(plane_pop_tracker_init(&t, &p), 0);
    uint64_t now = 0;
    struct plane_body_pop_item items[16];
    for (uint32_t i = 0; i < 50000; i++) {
        struct ukey k = key_of((uint32_t) (rng_next() % 200));
        now += MS / 10;
        plane_pop_observe(&t, &k, sizeof k, 1 + rng_next() % 4, now);
        if (i % 97 == 0) {
            check_invariants(&t);
            uint32_t n = plane_pop_report(&t, items, 16);
            assert_true(n <= 16);
        }
    }
    check_invariants(&t);
    assert_int_equal(t.n_heap, 16);
    plane_pop_tracker_uninit(&t);
}

static void
test_cold_idle(void **state)
{
    struct plane_pop_cold_policy p;
    plane_pop_cold_policy_default(&p, 1000 * MS);
    struct plane_pop_cold_state st;
    plane_pop_cold_state_init(&st, 0, 0);
    /* Never hit, but too fresh to judge. */
    assert_false(plane_pop_cold_check(&p, &st, 500 * MS, 0, 0));
    /* Idle past T_idle after the dwell time: cold at once. */
    assert_true(plane_pop_cold_check(&p, &st, 1000 * MS, 0, 0));
    /* Recently hit, gaining hits: warm. */
    plane_pop_cold_state_init(&st, 0, 0);
    assert_false(plane_pop_cold_check(&p, &st, 1500 * MS, 1400 * MS, 50));
    assert_false(plane_pop_cold_check(&p, &st, 2000 * MS, 1990 * MS, 90));
}

static void
test_cold_hysteresis(void **state)
{
    struct plane_pop_cold_policy p = {
        .idle_ns = 5000 * MS,
        .min_dwell_ns = 1000 * MS,
        .cold_hits = 10,
        .streak = 3,
    };
    struct plane_pop_cold_state st;
    uint64_t now = 0, hits = 0;
    plane_pop_cold_state_init(&st, now, hits);

    /* A key hovering around the boundary (5 then 20 hits per check) never
     * builds a streak, so it is not demoted and re-promoted each epoch. */
    for (int i = 0; i < 20; i++) {
        now += 1000 * MS;
        hits += (i & 1) ? 20 : 5;
        assert_false(plane_pop_cold_check(&p, &st, now, now - MS, hits));
    }
    /* Steadily below the rate: cold on the third consecutive check. */
    for (int i = 0; i < 2; i++) {
        now += 1000 * MS;
        hits += 5;
        assert_false(plane_pop_cold_check(&p, &st, now, now - MS, hits));
    }
    now += 1000 * MS;
    hits += 5;
    assert_true(plane_pop_cold_check(&p, &st, now, now - MS, hits));

    /* A fresh promotion is not judged within its dwell time, however cold. */
    plane_pop_cold_state_init(&st, now, hits);
    for (int i = 0; i < 5; i++) {
        assert_false(plane_pop_cold_check(&p, &st, now + (uint64_t) i * 100 * MS, now, hits));
    }
    assert_int_equal(st.cold_streak, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_heavy_hitters_of_zipf),
        cmocka_unit_test(test_decay_and_rereport),
        cmocka_unit_test(test_heap_churn),
        cmocka_unit_test(test_cold_idle),
        cmocka_unit_test(test_cold_hysteresis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
