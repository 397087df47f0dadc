/* Unit tests of planegen's pure logic: Zipf, rank shuffle, stamp, histogram, flow table, sink accounting, gen, flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <math.h>

#include <cmocka.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/pkt.h"
#include "common/wire.h"
#include "flowtab.h"
#include "gen.h"
#include "sink.h"
#include "stamp.h"
#include "stats.h"
#include "zipf.h"

/* Every randomised test draws from this seed; PLANE_TEST_SEED replays one. */
static uint64_t test_seed = 20261123;

/* ---- zipf ---- */

static double
zipf_pmf(uint64_t n, double alpha, uint64_t k)
{
    double sum = 0;
    for (uint64_t i = 1; i <= n; i++)
        sum += pow((double)i, -alpha);
    return pow((double)(k + 1), -alpha) / sum;
}

static void
check_zipf_small(double alpha)
{
    enum { N = 10, DRAWS = 200000 };
    struct planegen_zipf z;
    struct planegen_rng r;
    planegen_rng_seed(&r, test_seed);
    assert_int_equal(planegen_zipf_init(&z, N, alpha), 0);
    uint64_t hits[N] = {0};
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = planegen_zipf_sample(&z, &r);
        assert_true(k < N);
        hits[k]++;
    }
    for (uint64_t k = 0; k < N; k++) {
        double p = zipf_pmf(N, alpha, k), got = (double)hits[k] / DRAWS;
        /* 200k draws: the standard error is below 0.0012 for every p. */
        if (fabs(got - p) > 0.006)
            fail_msg("alpha %g rank %" PRIu64 ": %f drawn, %f expected", alpha, k, got, p);
    }
}

static void
test_zipf_matches_pmf(void **state)
{
    (void)state;
    check_zipf_small(0.99);
    check_zipf_small(1.0);   /* H(x) is log x here: the helpers' limit case */
    check_zipf_small(0.0);   /* uniform */
    check_zipf_small(2.5);
}

static void
test_zipf_large_and_edges(void **state)
{
    (void)state;
    struct planegen_zipf z;
    struct planegen_rng r;
    planegen_rng_seed(&r, test_seed + 1);
    assert_int_equal(planegen_zipf_init(&z, 0, 1.0), PLANE_EINVAL);
    assert_int_equal(planegen_zipf_init(&z, 10, -1.0), PLANE_EINVAL);
    assert_int_equal(planegen_zipf_init(&z, 10, NAN), PLANE_EINVAL);
    assert_int_equal(planegen_zipf_init(&z, 1, 0.99), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(planegen_zipf_sample(&z, &r), 0);
    /* A million ranks: setup is O(1), rank 0's share is 1 / H(n, 0.99). */
    const uint64_t n = 1000000;
    assert_int_equal(planegen_zipf_init(&z, n, 0.99), 0);
    enum { DRAWS = 400000 };
    uint64_t top = 0, max = 0;
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = planegen_zipf_sample(&z, &r);
        assert_true(k < n);
        top += k == 0;
        if (k > max)
            max = k;
    }
    double p0 = zipf_pmf(n, 0.99, 0), got = (double)top / DRAWS;
    if (fabs(got - p0) > 0.1 * p0)
        fail_msg("rank 0: %f drawn, %f expected", got, p0);
    assert_true(max > n / 2);   /* the tail is reached */
}

/* ---- perm ---- */

static void
test_perm_is_bijection(void **state)
{
    (void)state;
    const uint64_t sizes[] = {1, 2, 3, 5, 64, 1000, 4097, 100003};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        struct planegen_perm p;
        assert_int_equal(planegen_perm_init(&p, n, test_seed), 0);
        uint8_t *seen = calloc(n, 1);
        assert_non_null(seen);
        uint64_t fixed = 0;
        for (uint64_t x = 0; x < n; x++) {
            uint64_t y = planegen_perm_apply(&p, x);
            assert_true(y < n);
            assert_false(seen[y]);
            seen[y] = 1;
            fixed += x == y;
        }
        if (n >= 1000)
            assert_true(fixed < n / 100);   /* it does shuffle */
        free(seen);
    }
    struct planegen_perm a, b;
    assert_int_equal(planegen_perm_init(&a, 1000, 1), 0);
    assert_int_equal(planegen_perm_init(&b, 1000, 2), 0);
    int same = 0;
    for (uint64_t x = 0; x < 1000; x++)
        same += planegen_perm_apply(&a, x) == planegen_perm_apply(&b, x);
    assert_true(same < 20);
    assert_int_equal(planegen_perm_init(&a, 0, 1), PLANE_EINVAL);
}

/* ---- stamp ---- */

static void
test_stamp_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[PLANEGEN_STAMP_LEN + 4];
    struct planegen_stamp s = {.flow = 0x0102030405060708ull, .seq = 42,
                               .app_word = 0, .send_ns = 123456789ull}, out;
    planegen_stamp_encode(&s, buf);
    assert_int_equal(planegen_stamp_decode(buf, PLANEGEN_STAMP_LEN, &out), 0);
    assert_memory_equal(&s, &out, sizeof(s));
    /* Big-endian on the wire, at rack_test's offsets. */
    assert_int_equal(buf[0], 0x01);
    assert_int_equal(buf[15], 42);
    assert_memory_equal(buf + 32, "PLANEGN1", 8);
    for (size_t len = 0; len < PLANEGEN_STAMP_LEN; len++)
        assert_int_equal(planegen_stamp_decode(buf, len, &out), PLANE_ETRUNC);
    buf[33] ^= 1;
    assert_int_equal(planegen_stamp_decode(buf, sizeof(buf), &out), PLANE_EBADMSG);
    assert_int_equal(planegen_stamp_decode(NULL, 64, &out), PLANE_ETRUNC);
}

/* ---- histogram ---- */

static void
test_hist_buckets(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < PLANEGEN_HIST_SUB; v++)
        assert_int_equal(planegen_hist_bucket(v), v);
    /* Ranges are contiguous and every value lands in its range. */
    uint64_t prev_hi = 0;
    for (unsigned i = 1; i < PLANEGEN_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        planegen_hist_bucket_range(i, &lo, &hi);
        assert_int_equal(lo, prev_hi + 1);
        assert_true(hi >= lo);
        assert_int_equal(planegen_hist_bucket(lo), i);
        assert_int_equal(planegen_hist_bucket(hi), i);
        /* Relative width at most 1/64. */
        assert_true((hi - lo) <= lo / 32 + 1);
        prev_hi = hi;
    }
    assert_int_equal(prev_hi, UINT64_MAX);
    assert_int_equal(planegen_hist_bucket(UINT64_MAX), PLANEGEN_HIST_BUCKETS - 1);
}

static void
test_hist_percentiles(void **state)
{
    (void)state;
    struct planegen_hist *h = malloc(sizeof(*h)), *h2 = malloc(sizeof(*h2));
    assert_non_null(h);
    assert_non_null(h2);
    planegen_hist_init(h);
    assert_int_equal(planegen_hist_percentile(h, 50), 0);
    assert_true(planegen_hist_mean(h) == 0.0);
    for (uint64_t v = 1; v <= 10000; v++)
        planegen_hist_add(h, v * 1000);
    uint64_t p50 = planegen_hist_percentile(h, 50), p99 = planegen_hist_percentile(h, 99);
    assert_true(llabs((long long)p50 - 5000000) <= 5000000 / 50);
    assert_true(llabs((long long)p99 - 9900000) <= 9900000 / 50);
    assert_int_equal(planegen_hist_percentile(h, 100), 10000000);
    assert_int_equal(h->min, 1000);
    assert_true(fabs(planegen_hist_mean(h) - 5000500.0) < 1.0);
    /* One value: every percentile is that value, exactly (clamped). */
    planegen_hist_init(h2);
    planegen_hist_add(h2, 777777);
    assert_int_equal(planegen_hist_percentile(h2, 1), 777777);
    assert_int_equal(planegen_hist_percentile(h2, 99.9), 777777);
    planegen_hist_merge(h2, h);
    assert_int_equal(h2->count, 10001);
    assert_int_equal(h2->max, 10000000);
    free(h);
    free(h2);
}

/* ---- flow table ---- */

static void
test_flowtab(void **state)
{
    (void)state;
    struct planegen_flowtab t;
    planegen_flowtab_init(&t);
    for (uint64_t i = 0; i < 50000; i++) {
        struct planegen_flow *f = planegen_flowtab_get(&t, i * 7919);
        assert_non_null(f);
        assert_int_equal(f->flow, i * 7919);
        assert_int_equal(f->hi, 0);
        f->hi = i + 1;
    }
    assert_int_equal(t.n, 50000);
    for (uint64_t i = 0; i < 50000; i++)
        assert_int_equal(planegen_flowtab_get(&t, i * 7919)->hi, i + 1);
    assert_int_equal(t.n, 50000);
    assert_true(t.n * 10 <= t.cap * 7);
    planegen_flowtab_uninit(&t);
}

/* ---- sink accounting ---- */

/* A UDP frame of `flow` with a stamp; sport lets a test "rewrite" the flow. */
static size_t
stamped_frame(uint8_t *buf, size_t cap, uint64_t flow, uint64_t seq, uint64_t send_ns,
              uint16_t sport)
{
    struct plane_pkt_spec s;
    memset(&s, 0, sizeof(s));
    uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
    plane_flow_key_set_v4(&s.key, PLANE_IPPROTO_UDP, src, sport, dst, 7000);
    uint8_t pl[64] = {0};
    struct planegen_stamp st = {.flow = flow, .seq = seq, .send_ns = send_ns};
    planegen_stamp_encode(&st, pl);
    size_t len = 0;
    assert_int_equal(plane_pkt_build_udp4(buf, cap, &s, pl, sizeof(pl), &len), 0);
    return len;
}

/* Wraps a frame in a DATA header as the switch sends egress. */
static size_t
data_dgram(uint8_t *out, size_t cap, const uint8_t *frame, size_t flen, uint16_t by,
           uint64_t ingress_ns, uint64_t processed_ns, uint32_t extra_flags)
{
    struct plane_wire_data d = {
        .app_id = 1, .flags = PLANE_DATA_F_PROCESSED | PLANE_DATA_F_TO_EGRESS | extra_flags,
        .ingress_ns = ingress_ns, .port = 1, .processed_by = by,
        .processed_ns = processed_ns, .frame = frame, .frame_len = flen,
    };
    int n = plane_wire_data_encode(&d, out, cap);
    assert_true(n > 0);
    return (size_t)n;
}

static void
acct_raw(struct planegen_acct *a, uint64_t flow, uint64_t seq, uint64_t now)
{
    uint8_t f[256];
    size_t n = stamped_frame(f, sizeof(f), flow, seq, 1000, 5555);
    assert_int_equal(planegen_acct_datagram(a, f, n, now, NULL, NULL), 0);
}

/* One arrival of a flow from 10.<b1>.0.<b3>, wrapped as processed by device `by`. */
static void
promo_arrival(struct planegen_acct *a, uint8_t b1, uint8_t b3, uint64_t seq, uint16_t by,
              uint64_t now)
{
    struct plane_pkt_spec s;
    memset(&s, 0, sizeof(s));
    uint8_t src[4] = {10, b1, 0, b3}, dst[4] = {172, 16, 0, 1};
    plane_flow_key_set_v4(&s.key, PLANE_IPPROTO_UDP, src, 4000, dst, 7000);
    uint8_t pl[64] = {0};
    struct planegen_stamp st = {.flow = b3, .seq = seq, .send_ns = 1};
    planegen_stamp_encode(&st, pl);
    uint8_t f[256], d[512];
    size_t len = 0;
    assert_int_equal(plane_pkt_build_udp4(f, sizeof(f), &s, pl, sizeof(pl), &len), 0);
    size_t n = data_dgram(d, sizeof(d), f, len, by, 1, 2, 0);
    assert_int_equal(planegen_acct_datagram(a, d, n, now, NULL, NULL), 0);
}

static void
test_exact_percentile(void **state)
{
    (void)state;
    uint64_t v[] = {50, 10, 40, 20, 30};
    assert_int_equal(planegen_exact_percentile(v, 5, 50), 30);
    assert_int_equal(v[0], 10);                 /* sorted in place */
    assert_int_equal(planegen_exact_percentile(v, 5, 90), 50);
    assert_int_equal(planegen_exact_percentile(v, 5, 20), 10);
    assert_int_equal(planegen_exact_percentile(v, 5, 100), 50);
    assert_int_equal(planegen_exact_percentile(v, 0, 50), 0);
    uint64_t two[] = {4000, 2000};
    assert_int_equal(planegen_exact_percentile(two, 2, 50), 2000);
}

static void
test_acct_promotion(void **state)
{
    (void)state;
    struct planegen_acct a;
    planegen_acct_init(&a, 0);
    struct planegen_promo_summary ps;
    assert_int_equal(planegen_acct_promotion(&a, &ps), PLANE_ENOENT);   /* off */
    planegen_acct_track_promotion(&a, 10u << 24 | 200u << 16 | 77, 16);  /* host bits dropped */
    assert_int_equal(planegen_acct_promotion(&a, &ps), 0);
    assert_int_equal(ps.flows, 0);
    /* Flow .1: first at 1000 on device 1, at the switch from 5000: 4000 ns. */
    promo_arrival(&a, 200, 1, 0, 1, 1000);
    promo_arrival(&a, 200, 1, 1, 1, 2000);
    promo_arrival(&a, 200, 1, 2, 0, 5000);
    promo_arrival(&a, 200, 1, 3, 0, 6000);
    /* Flow .2: 2000 ns; flow .3 never reaches the switch. */
    promo_arrival(&a, 200, 2, 0, 2, 1500);
    promo_arrival(&a, 200, 2, 1, 0, 3500);
    promo_arrival(&a, 200, 3, 0, 1, 100);
    /* Outside the prefix: not tracked. */
    promo_arrival(&a, 1, 9, 0, 1, 10);
    promo_arrival(&a, 1, 9, 1, 0, 20);
    assert_int_equal(planegen_acct_promotion(&a, &ps), 0);
    assert_int_equal(ps.flows, 3);
    assert_int_equal(ps.promoted, 2);
    assert_int_equal(ps.untracked, 0);
    assert_int_equal(ps.min_ns, 2000);
    assert_int_equal(ps.p50_ns, 2000);
    assert_int_equal(ps.p90_ns, 4000);
    assert_int_equal(ps.max_ns, 4000);
    assert_int_equal(a.at_switch, 4);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    planegen_acct_print_json(&a, f);
    planegen_acct_print_table(&a, f);
    fclose(f);
    assert_non_null(strstr(buf, "\"promotion\":{\"src\":\"10.200.0.0/16\",\"flows\":3,"
                                "\"promoted\":2,\"untracked\":0,\"min_ns\":2000,"
                                "\"p50_ns\":2000,\"p90_ns\":4000,\"max_ns\":4000}"));
    assert_non_null(strstr(buf, "promotion      2 of 3 flows"));
    free(buf);
    planegen_acct_uninit(&a);

    /* Beyond PLANEGEN_PROMO_MAX_FLOWS flows, packets are counted as untracked. */
    planegen_acct_init(&a, 0);
    planegen_acct_track_promotion(&a, 10u << 24, 8);
    for (uint32_t i = 0; i < PLANEGEN_PROMO_MAX_FLOWS + 3; i++)
        promo_arrival(&a, (uint8_t)(i >> 8), (uint8_t)i, 0, 1, 100 + i);
    assert_int_equal(planegen_acct_promotion(&a, &ps), 0);
    assert_int_equal(ps.flows, PLANEGEN_PROMO_MAX_FLOWS);
    assert_int_equal(ps.untracked, 3);
    assert_int_equal(ps.promoted, 0);
    planegen_acct_uninit(&a);
}

static void
test_acct_order_dup_loss(void **state)
{
    (void)state;
    struct planegen_acct a;
    planegen_acct_init(&a, 0);
    /* Flow 1: 0 1 2 3 in order; flow 2: 0 2 1 (one reorder), 1 again (dup), then 5 (gap 3,4). */
    for (uint64_t s = 0; s < 4; s++)
        acct_raw(&a, 1, s, 2000);
    acct_raw(&a, 2, 0, 2000);
    acct_raw(&a, 2, 2, 2000);
    acct_raw(&a, 2, 1, 2000);
    acct_raw(&a, 2, 1, 2000);
    acct_raw(&a, 2, 5, 2000);
    assert_int_equal(a.received, 9);
    assert_int_equal(a.unique, 8);
    assert_int_equal(a.duplicated, 1);
    assert_int_equal(a.out_of_order, 1);
    assert_int_equal(planegen_acct_lost(&a), 2);     /* gaps: seq 3 and 4 of flow 2 */
    assert_int_equal(a.flows.n, 2);
    assert_int_equal(a.rewrite_errors, 0);
    /* The late packets fill the gap: out of order, no longer lost. */
    acct_raw(&a, 2, 4, 2000);
    acct_raw(&a, 2, 3, 2000);
    assert_int_equal(planegen_acct_lost(&a), 0);
    assert_int_equal(a.out_of_order, 3);
    /* Exact loss once the sender's count is known. */
    planegen_acct_set_sent(&a, 15);
    assert_int_equal(planegen_acct_lost(&a), 5);
    /* A seq far behind the window still counts once (as out of order). */
    for (uint64_t s = 4; s < 200; s++)
        acct_raw(&a, 1, s, 3000);
    acct_raw(&a, 1, 2, 3000);
    assert_int_equal(a.duplicated, 1);
    /* Latency: each arrival at now = 2000 or 3000 after a send at 1000. */
    assert_int_equal(a.e2e.min, 1000);
    assert_int_equal(a.e2e.max, 2000);
    assert_int_equal(a.n_devs, 1);
    assert_int_equal(a.devs[0]->id, PLANEGEN_DEV_DIRECT);
    planegen_acct_uninit(&a);
}

static void
test_acct_data_header(void **state)
{
    (void)state;
    struct planegen_acct a;
    planegen_acct_init(&a, 0);
    uint8_t f[256], d[512];
    /* Three at the switch (id 0), one on device 2; one dropped by the app. */
    for (uint64_t s = 0; s < 3; s++) {
        size_t n = stamped_frame(f, sizeof(f), 9, s, 100, 4000);
        size_t m = data_dgram(d, sizeof(d), f, n, 0, 200, 250, 0);
        const uint8_t *frame = NULL;
        size_t flen = 0;
        assert_int_equal(planegen_acct_datagram(&a, d, m, 1100, &frame, &flen), 0);
        assert_int_equal(flen, n);
        assert_memory_equal(frame, f, n);
    }
    size_t n = stamped_frame(f, sizeof(f), 9, 3, 100, 4000);
    size_t m = data_dgram(d, sizeof(d), f, n, 2, 200, 700, 0);
    assert_int_equal(planegen_acct_datagram(&a, d, m, 2100, NULL, NULL), 0);
    n = stamped_frame(f, sizeof(f), 9, 4, 100, 4000);
    m = data_dgram(d, sizeof(d), f, n, 2, 200, 700, PLANE_DATA_F_DROP);
    assert_int_equal(planegen_acct_datagram(&a, d, m, 2100, NULL, NULL), 0);
    assert_int_equal(a.app_dropped, 1);
    assert_int_equal(a.with_header, 5);
    assert_int_equal(a.unique, 4);
    assert_int_equal(a.at_switch, 3);
    assert_int_equal(a.n_devs, 2);
    assert_int_equal(a.devs[0]->id, 0);
    assert_int_equal(a.devs[0]->packets, 3);
    assert_int_equal(a.devs[0]->proc.max, 50);
    assert_int_equal(a.devs[0]->e2e.max, 1000);
    assert_int_equal(a.devs[1]->id, 2);
    assert_int_equal(a.devs[1]->proc.max, 500);
    assert_int_equal(a.devs[1]->e2e.max, 2000);

    /* Junk and unstamped frames are counted, never trusted. */
    static const uint8_t junk[] = {0x9b, 0x00, 0x01};
    assert_int_equal(planegen_acct_datagram(&a, junk, sizeof(junk), 1, NULL, NULL),
                     PLANE_EBADMSG);
    assert_int_equal(planegen_acct_datagram(&a, junk, 0, 1, NULL, NULL), PLANE_EBADMSG);
    n = stamped_frame(f, sizeof(f), 9, 5, 100, 4000);
    f[n - 64 + 32] ^= 0xff;   /* the magic */
    assert_int_equal(planegen_acct_datagram(&a, f, n, 1, NULL, NULL), PLANE_EBADMSG);
    for (size_t cut = 0; cut < n; cut += 7)
        (void)planegen_acct_datagram(&a, f, cut, 1, NULL, NULL);
    assert_int_equal(a.unique, 4);
    assert_true(a.not_stamped >= 3);
    planegen_acct_uninit(&a);
}

static void
test_acct_rewrite_consistency(void **state)
{
    (void)state;
    struct planegen_acct a;
    planegen_acct_init(&a, 0);
    uint8_t f[256];
    /* Flow 5 keeps its (rewritten) port; flow 6's changes twice; flow 7's app word changes. */
    for (uint64_t s = 0; s < 4; s++) {
        size_t n = stamped_frame(f, sizeof(f), 5, s, 0, 30000);
        assert_int_equal(planegen_acct_datagram(&a, f, n, 10, NULL, NULL), 0);
        n = stamped_frame(f, sizeof(f), 6, s, 0, (uint16_t)(s < 2 ? 30001 : 30002 + s));
        assert_int_equal(planegen_acct_datagram(&a, f, n, 10, NULL, NULL), 0);
        n = stamped_frame(f, sizeof(f), 7, s, 0, 30003);
        struct plane_pkt pkt;
        assert_int_equal(plane_pkt_parse(f, n, &pkt), 0);
        f[pkt.payload_off + 16] = s == 3;   /* the app word (flowcheck's mapping) */
        assert_int_equal(plane_pkt_recompute_csums(f, &pkt), 0);
        assert_int_equal(planegen_acct_datagram(&a, f, n, 10, NULL, NULL), 0);
    }
    assert_int_equal(a.rewrite_errors, 3);   /* flow 6: seq 2 and 3; flow 7: seq 3 */
    assert_int_equal(a.inconsistent_flows, 2);
    planegen_acct_uninit(&a);
}

/* Returns the number after "\"key\":" in json, or UINT64_MAX. */
static uint64_t
json_u64(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return UINT64_MAX;
    return strtoull(p + strlen(pat), NULL, 10);
}

static void
test_acct_json_and_table(void **state)
{
    (void)state;
    struct planegen_acct a;
    planegen_acct_init(&a, 0);
    uint8_t f[256], d[512];
    for (uint64_t s = 0; s < 10; s++) {
        size_t n = stamped_frame(f, sizeof(f), 1, s, 0, 4000);
        size_t m = data_dgram(d, sizeof(d), f, n, s < 7 ? 0 : 3, 10, 20, 0);
        assert_int_equal(planegen_acct_datagram(&a, d, m, 5000 + s, NULL, NULL), 0);
    }
    planegen_acct_set_sent(&a, 12);
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    assert_non_null(mf);
    planegen_acct_print_json(&a, mf);
    fclose(mf);
    assert_int_equal(json_u64(text, "sent"), 12);
    assert_int_equal(json_u64(text, "received"), 10);
    assert_int_equal(json_u64(text, "lost"), 2);
    assert_int_equal(json_u64(text, "duplicated"), 0);
    assert_int_equal(json_u64(text, "at_switch"), 7);
    assert_non_null(strstr(text, "\"switch_share\":0.700000"));
    assert_non_null(strstr(text, "\"device\":\"0\",\"packets\":7"));
    assert_non_null(strstr(text, "\"device\":\"3\",\"packets\":3"));
    assert_non_null(strstr(text, "\"lost_exact\":true"));
    assert_int_equal(text[len - 1], '\n');
    assert_int_equal(text[len - 2], '}');
    free(text);
    mf = open_memstream(&text, &len);
    planegen_acct_print_table(&a, mf);
    fclose(mf);
    assert_non_null(strstr(text, "lost           2"));
    assert_non_null(strstr(text, "at the switch  70.0%"));
    free(text);
    planegen_acct_uninit(&a);
}

/* ---- the generator ---- */

static void
test_gen_packets(void **state)
{
    (void)state;
    struct planegen_gen_opts o;
    planegen_gen_opts_default(&o);
    o.flows = 200;
    o.seed = test_seed;
    o.n_to = 2;
    o.n_classes = 2;
    o.classes[0] = (struct planegen_class){.proto = PLANE_IPPROTO_UDP, .port_lo = 7000,
                                           .port_hi = 7999, .share = 3};
    o.classes[1] = (struct planegen_class){.proto = PLANE_IPPROTO_TCP, .port_lo = 8080,
                                           .port_hi = 8080, .vlan = 10, .share = 1};
    static struct planegen_gen g;
    assert_int_equal(planegen_gen_init(&g, &o), 0);
    enum { N = 20000 };
    uint64_t *next_seq = calloc(400, sizeof(*next_seq));
    struct plane_flow_key *keys = calloc(400, sizeof(*keys));
    size_t *to = calloc(400, sizeof(*to));
    uint64_t per_class[2] = {0}, per_size[3] = {0};
    static uint8_t buf[PLANEGEN_MAX_FRAME];
    for (int i = 0; i < N; i++) {
        size_t len;
        struct planegen_pkt_info info;
        assert_int_equal(planegen_gen_next(&g, 77, buf, sizeof(buf), &len, &info), 0);
        assert_true(info.flow < 400);
        struct plane_pkt pkt;
        assert_int_equal(plane_pkt_parse(buf, len, &pkt), 0);
        struct planegen_stamp st;
        assert_int_equal(planegen_stamp_decode(buf + pkt.payload_off, pkt.payload_len, &st), 0);
        assert_int_equal(st.flow, info.flow);
        assert_int_equal(st.seq, next_seq[info.flow]++);
        assert_int_equal(st.send_ns, 77);
        assert_int_equal(st.app_word, 0);
        size_t c = info.flow / 200;
        assert_int_equal(info.cls, c);
        per_class[c]++;
        if (c == 0) {
            assert_int_equal(pkt.proto, PLANE_IPPROTO_UDP);
            assert_int_equal(pkt.n_vlans, 0);
            assert_true(pkt.key.dst_port >= 7000 && pkt.key.dst_port <= 7999);
            per_size[len == 82 ? 0 : len == 512 ? 1 : len == 1500 ? 2 : (fail(), 0)]++;
        } else {
            assert_int_equal(pkt.proto, PLANE_IPPROTO_TCP);
            assert_int_equal(pkt.vlan_id[0], 10);
            assert_int_equal(pkt.key.dst_port, 8080);
        }
        /* A flow's tuple and destination never change. */
        if (st.seq == 0) {
            keys[info.flow] = pkt.key;
            to[info.flow] = info.to;
        } else {
            assert_true(plane_flow_key_eq(&keys[info.flow], &pkt.key));
            assert_int_equal(to[info.flow], info.to);
        }
    }
    /* Shares 3:1 (within 3 percentage points), sizes equal thirds of class 0. */
    double s0 = (double)per_class[0] / N;
    assert_true(fabs(s0 - 0.75) < 0.03);
    for (int i = 0; i < 3; i++)
        assert_true(fabs((double)per_size[i] / (double)per_class[0] - 1.0 / 3) < 0.03);

    /* Churn: the hot set moves, sequences carry on. */
    uint64_t hot0 = planegen_perm_apply(&g.perm, 0);
    planegen_gen_set_epoch(&g, 1);
    uint64_t hot1 = planegen_perm_apply(&g.perm, 0);
    assert_true(hot0 != hot1);
    planegen_gen_set_epoch(&g, 0);
    assert_int_equal(planegen_perm_apply(&g.perm, 0), hot0);
    free(next_seq);
    free(keys);
    free(to);
    planegen_gen_uninit(&g);
}

static void
test_gen_same_seed_same_traffic(void **state)
{
    (void)state;
    struct planegen_gen_opts o;
    planegen_gen_opts_default(&o);
    o.seed = 99;
    o.n_to = 1;
    static struct planegen_gen a, b;
    assert_int_equal(planegen_gen_init(&a, &o), 0);   /* 1M flows: fast to set up */
    assert_int_equal(planegen_gen_init(&b, &o), 0);
    static uint8_t fa[PLANEGEN_MAX_FRAME], fb[PLANEGEN_MAX_FRAME];
    for (int i = 0; i < 1000; i++) {
        size_t la, lb;
        assert_int_equal(planegen_gen_next(&a, 1, fa, sizeof(fa), &la, NULL), 0);
        assert_int_equal(planegen_gen_next(&b, 1, fb, sizeof(fb), &lb, NULL), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(fa, fb, la);
    }
    planegen_gen_uninit(&a);
    planegen_gen_uninit(&b);
}

/* ---- flags ---- */

enum parse_which { PARSE_GEN, PARSE_SINK };

/*
 * Runs planegen gen's (o a struct planegen_gen_opts) or sink's (a struct
 * planegen_sink_opts) flag parser on the NULL-terminated argument list that
 * follows len; help goes to /dev/null.  Returns the parser's result.
 */
static int
parse_args(enum parse_which which, void *o, char *err, size_t len, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, len);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = which == PARSE_GEN ? planegen_gen_parse(o, argc, argv, devnull, err, len)
                                : planegen_sink_parse(o, argc, argv, devnull, err, len);
    fclose(devnull);
    return rc;
}

static void
test_gen_flags(void **state)
{
    (void)state;
    static struct planegen_gen_opts o;
    char err[256];
    assert_int_equal(parse_args(PARSE_GEN, &o, err, sizeof(err),
                                "--to", "127.0.0.1:17010", NULL), 0);
    assert_int_equal(o.n_to, 1);
    assert_int_equal(o.flows, 1000000);
    assert_true(o.alpha == 0.99);
    assert_int_equal(o.n_classes, 1);
    assert_int_equal(o.classes[0].port_lo, 7000);
    assert_int_equal(o.n_sizes, 3);
    assert_int_equal(o.batch, 32);
    assert_int_equal(o.classes[0].src_net, 10u << 24);
    assert_int_equal(o.classes[0].src_bits, 8);

    /* A class's sources from a prefix (an app's tenant). */
    assert_int_equal(parse_args(PARSE_GEN, &o, err, sizeof(err),
                                "--to", "127.0.0.1:1", "--class-ports",
                                "udp:7000-7999@20~10.1.2.0/24^10.9.0.0/16,tcp:80", NULL), 0);
    assert_int_equal(o.classes[0].src_net, (10u << 24) | (1u << 16) | (2u << 8));
    assert_int_equal(o.classes[0].src_bits, 24);
    assert_int_equal(o.classes[0].vlan, 20);
    assert_int_equal(o.classes[0].dst_net, (10u << 24) | (9u << 16));
    assert_int_equal(o.classes[0].dst_bits, 16);
    assert_int_equal(o.classes[1].src_bits, 8);
    assert_int_equal(o.classes[1].dst_bits, 12);
    assert_int_not_equal(parse_args(PARSE_GEN, &o, err, sizeof(err), "--to", "127.0.0.1:1",
                                    "--class-ports", "udp:7000~10.1.2/24", NULL), 0);
    assert_non_null(strstr(err, "prefix"));

    assert_int_equal(parse_args(PARSE_GEN, &o, err, sizeof(err),
                                "--to=127.0.0.1:1", "--to", "127.0.0.1:2",
                                "--flows", "1000", "--alpha", "1.2", "--seed", "7", "--sizes",
                                "imix", "--classes", "2", "--shares", "3,1", "--count", "500",
                                "--rate", "1000", "--churn", "2.5", "--report", "/tmp/r.json",
                                "--json", NULL), 0);
    assert_int_equal(o.n_to, 2);
    assert_int_equal(o.flows, 1000);
    assert_int_equal(o.seed, 7);
    assert_int_equal(o.n_sizes, 3);
    assert_int_equal(o.sizes[1], 576);
    assert_true(o.size_w[0] == 7);
    assert_int_equal(o.n_classes, 2);
    assert_int_equal(o.classes[1].port_lo, 8000);
    assert_int_equal(o.classes[1].port_hi, 8999);
    assert_true(o.classes[0].share == 3 && o.classes[1].share == 1);
    assert_int_equal(o.count, 500);
    assert_int_equal(o.rate_pps, 1000);
    assert_true(o.churn_s == 2.5);
    assert_true(o.json);
    assert_string_equal(o.report, "/tmp/r.json");

    assert_int_equal(parse_args(PARSE_GEN, &o, err, sizeof(err), "--to", "[::1]:9", "--class-ports",
                                "tcp:8080@10,udp:5000-5999", "--sizes", "100:1,200:3", NULL), 0);
    assert_int_equal(o.to[0].ss_family, AF_INET6);
    assert_int_equal(o.n_classes, 2);
    assert_int_equal(o.classes[0].proto, PLANE_IPPROTO_TCP);
    assert_int_equal(o.classes[0].vlan, 10);
    assert_int_equal(o.classes[1].port_hi, 5999);
    assert_true(o.size_w[1] == 3);

    /* Errors name the flag. */
    const struct {
        const char *a, *b, *c, *d, *want;
    } bad[] = {
        {"--flows", "10", NULL, NULL, "--to"},
        {"--to", "localhost:1", NULL, NULL, "--to"},
        {"--to", "127.0.0.1", NULL, NULL, "--to"},
        {"--to", "127.0.0.1:70000", NULL, NULL, "--to"},
        {"--to", "127.0.0.1:1", "--alpha", "-1", "--alpha"},
        {"--to", "127.0.0.1:1", "--flows", "0", "--flows"},
        {"--to", "127.0.0.1:1", "--count", "12x", "--count"},
        {"--to", "127.0.0.1:1", "--shares", "1,2", "--shares"},
        {"--to", "127.0.0.1:1", "--sizes", "64,99999", "--sizes"},
        {"--to", "127.0.0.1:1", "--class-ports", "tcp:9000-8000", "--class-ports"},
        {"--to", "127.0.0.1:1", "--keep-timing", NULL, "--pcap"},
        {"--to", "127.0.0.1:1", "--bogus", NULL, "--bogus"},
        {"--to", "127.0.0.1:1", "--rate", NULL, "--rate"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(parse_args(PARSE_GEN, &o, err, sizeof(err),
                                    bad[i].a, bad[i].b, bad[i].c, bad[i].d, NULL), PLANE_EINVAL);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: \"%s\" does not name %s", i, err, bad[i].want);
    }
    assert_int_equal(parse_args(PARSE_GEN, &o, err, sizeof(err), "--help", NULL), 1);
}

static void
test_sink_flags(void **state)
{
    (void)state;
    static struct planegen_sink_opts o;
    char err[256];
    assert_int_equal(parse_args(PARSE_SINK, &o, err, sizeof(err),
                                "--listen", "127.0.0.1:0", "--listen",
                                "127.0.0.1:5", "--idle", "2", "--duration", "30", "--expect",
                                "100", "--sent", "100", "--switch-id", "4", "--json",
                                "--gen-report", "g.json", "--ready-file", "r", NULL), 0);
    assert_int_equal(o.n_listen, 2);
    assert_true(o.idle_s == 2 && o.duration_s == 30);
    assert_int_equal(o.expect, 100);
    assert_true(o.sent_set);
    assert_int_equal(o.sent, 100);
    assert_int_equal(o.switch_id, 4);
    assert_true(o.json);
    assert_string_equal(o.gen_report, "g.json");
    assert_string_equal(o.ready_file, "r");
    assert_int_equal(parse_args(PARSE_SINK, &o, err, sizeof(err), "--json", NULL), PLANE_EINVAL);
    assert_non_null(strstr(err, "--listen"));
    assert_int_equal(parse_args(PARSE_SINK, &o, err, sizeof(err),
                                "--listen", "127.0.0.1:0", "--idle", "x", NULL), PLANE_EINVAL);
    assert_non_null(strstr(err, "--idle"));
    assert_int_equal(parse_args(PARSE_SINK, &o, err, sizeof(err),
                                "--listen", "127.0.0.1:0", "--nope", NULL), PLANE_EINVAL);
    assert_int_equal(parse_args(PARSE_SINK, &o, err, sizeof(err), "-h", NULL), 1);
    assert_int_equal(parse_args(PARSE_SINK, &o, err, sizeof(err), "--listen", "127.0.0.1:0",
                                "--promotion-src", "10.200.0.0/16", NULL), 0);
    assert_true(o.promo_set);
    assert_int_equal(o.promo_net, 10u << 24 | 200u << 16);
    assert_int_equal(o.promo_bits, 16);
    assert_false(parse_args(PARSE_SINK, &o, err, sizeof(err), "--listen", "127.0.0.1:0",
                            NULL) || o.promo_set);
    assert_int_equal(parse_args(PARSE_SINK, &o, err, sizeof(err), "--listen", "127.0.0.1:0",
                                "--promotion-src", "10.200.0.0/33", NULL), PLANE_EINVAL);
    assert_non_null(strstr(err, "--promotion-src"));
}

int
main(void)
{
    const char *s = getenv("PLANE_TEST_SEED");
    if (s)
        test_seed = strtoull(s, NULL, 0);
    printf("test_gen: seed %" PRIu64 " (PLANE_TEST_SEED replays it)\n", test_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zipf_matches_pmf),
        cmocka_unit_test(test_zipf_large_and_edges),
        cmocka_unit_test(test_perm_is_bijection),
        cmocka_unit_test(test_stamp_roundtrip),
        cmocka_unit_test(test_hist_buckets),
        cmocka_unit_test(test_hist_percentiles),
        cmocka_unit_test(test_flowtab),
        cmocka_unit_test(test_acct_order_dup_loss),
        cmocka_unit_test(test_acct_data_header),
        cmocka_unit_test(test_acct_rewrite_consistency),
        cmocka_unit_test(test_acct_json_and_table),
        cmocka_unit_test(test_exact_percentile),
        cmocka_unit_test(test_acct_promotion),
        cmocka_unit_test(test_gen_packets),
        cmocka_unit_test(test_gen_same_seed_same_traffic),
        cmocka_unit_test(test_gen_flags),
        cmocka_unit_test(test_sink_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
