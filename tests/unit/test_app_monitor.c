/* Unit test of the monitor example app: UnivMon heavy hitters, entropy and merging. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include "app_harness.h"

#include "../../examples/apps/monitor/monitor_query.h"

/* A Zipf-distributed stream of source addresses, reproducible from a seed. */
#define N_SRC 2000
#define N_PKT 60000
#define ZIPF_S 1.1

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
test_seed(void)
{
    static uint64_t seed;
    if (!seed) {
        const char *env = getenv("PLANE_TEST_SEED");
        seed = env ? strtoull(env, NULL, 0) : 0x5eed0001ULL;
        printf("monitor test seed %#" PRIx64 " (replay: PLANE_TEST_SEED)\n", seed);
    }
    return seed;
}

struct stream {
    uint16_t src[N_PKT];          /* source index of each packet */
    uint64_t count[N_SRC];        /* exact counts */
};

static void
gen_stream(struct stream *s, uint64_t seed)
{
    static double cdf[N_SRC];
    double tot = 0;
    for (int i = 0; i < N_SRC; i++) {
        tot += 1.0 / pow(i + 1, ZIPF_S);
        cdf[i] = tot;
    }
    memset(s->count, 0, sizeof s->count);
    for (int p = 0; p < N_PKT; p++) {
        double u = (double) (splitmix(&seed) >> 11) / 9007199254740992.0 * tot;
        int lo = 0, hi = N_SRC - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cdf[mid] < u) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        s->src[p] = (uint16_t) lo;
        s->count[lo]++;
    }
}

static void
src_ip(int i, uint8_t ip[4])
{
    ip[0] = 10;
    ip[1] = (uint8_t) (i >> 8);
    ip[2] = (uint8_t) i;
    ip[3] = 7;
}

/* The item (16-byte IPv4-mapped address) of source i. */
static void
src_item(int i, uint8_t item[MON_ITEM_LEN])
{
    struct plane_flow_key k;
    uint8_t ip[4];
    src_ip(i, ip);
    plane_flow_key_set_v4(&k, 17, ip, 1, AH_IP4(10, 9, 9, 9), 2);
    memcpy(item, k.src_addr, MON_ITEM_LEN);
}

static void
send_pkt(struct plane_app_inst *inst, int i, uint16_t sport)
{
    struct ah_frame f;
    uint8_t ip[4];
    src_ip(i, ip);
    ah_udp4(&f, ip, sport, AH_IP4(10, 9, 9, 9), 53, "q", 1);
    struct plane_run_result r;
    assert_int_equal(ah_run(inst, &f, 2, 1, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, 2);
}

static double
exact_entropy(const uint64_t *count, int n)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) {
        m += (double) count[i];
    }
    for (int i = 0; i < n; i++) {
        if (count[i]) {
            s += (double) count[i] * log2((double) count[i]);
        }
    }
    return log2(m) - s / m;
}

/* Views an instance's level sketches as stored (words), for the queries. */
static void
view_of(struct ah_app *a, struct plane_app_inst *inst, struct mon_sketch_view *v)
{
    memset(v, 0, sizeof *v);
    v->level_seed = MON_DEFAULT_SEED;
    for (unsigned l = 0; l < MON_LEVELS; l++) {
        struct plane_object *o = plane_app_inst_object(inst, (uint16_t) l);
        size_t n;
        uint64_t *w = plane_object_words(o, &n);
        const struct plane_obj_desc *d = plane_object_desc(o);
        v->level[l].counters = w;
        v->level[l].depth = d->cms_depth;
        v->level[l].width = (uint32_t) (n / d->cms_depth);
        v->level[l].seed = plane_hash64(&a->hasher, d->name, strlen(d->name));
    }
}

/* Appends the cand register's items (deduplicated) to cands. */
static size_t
cands_of(struct plane_app_inst *inst, uint8_t (*cands)[MON_ITEM_LEN], size_t n,
         size_t cap)
{
    struct plane_object *o = plane_app_inst_object(inst, MON_OBJ_CAND);
    size_t cur = 0;
    const void *k, *v;
    while (plane_object_next(o, &cur, &k, &v)) {
        const struct plane_flow_key *key = k;
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++) {
            dup = !memcmp(cands[i], key->src_addr, MON_ITEM_LEN);
        }
        if (!dup) {
            assert_true(n < cap);
            memcpy(cands[n++], key->src_addr, MON_ITEM_LEN);
        }
    }
    return n;
}

static struct stream g_stream;
static uint8_t g_cands[N_SRC][MON_ITEM_LEN];

/* One copy sees the stream: heavy hitters found, entropy close. */
static void
test_heavy_hitters_and_entropy(void **state)
{
    (void) state;
    gen_stream(&g_stream, test_seed());
    struct ah_app a;
    ah_load(&a);
    struct plane_app_inst *inst = ah_inst(&a, 1, true);
    for (int p = 0; p < N_PKT; p++) {
        send_pkt(inst, g_stream.src[p], (uint16_t) (1000 + p % 7));
    }
    struct mon_sketch_view v;
    view_of(&a, inst, &v);
    assert_int_equal(mon_cms_view_total(&v.level[0]), N_PKT);

    /* The query's reading of the arrays is the runtime's. */
    for (int i = 0; i < 50; i++) {
        uint8_t item[MON_ITEM_LEN];
        src_item(i * 37 % N_SRC, item);
        for (unsigned l = 0; l < MON_LEVELS; l++) {
            assert_int_equal(mon_cms_view_estimate(&v.level[l], item, MON_ITEM_LEN),
                             plane_object_cms_estimate(
                                 plane_app_inst_object(inst, (uint16_t) l), item,
                                 MON_ITEM_LEN));
        }
    }

    size_t nc = cands_of(inst, g_cands, 0, N_SRC);
    printf("candidates: %zu of %d sources\n", nc, N_SRC);
    assert_true(nc < N_SRC);

    /* Heavy hitters at 1%: every true one reported, nothing below 0.5%. */
    const double phi = 0.01;
    struct mon_hh hh[64];
    size_t nh = mon_heavy_hitters(&v, (const uint8_t (*)[MON_ITEM_LEN]) g_cands,
                                  nc, phi, hh, 64);
    assert_true(nh <= 64);
    size_t n_true = 0;
    for (int i = 0; i < N_SRC; i++) {
        if (g_stream.count[i] >= phi * N_PKT) {
            n_true++;
            uint8_t item[MON_ITEM_LEN];
            src_item(i, item);
            bool found = false;
            for (size_t j = 0; j < nh; j++) {
                if (!memcmp(hh[j].item, item, MON_ITEM_LEN)) {
                    found = true;
                    assert_true(hh[j].count >= g_stream.count[i]);
                }
            }
            assert_true(found);
        }
    }
    for (size_t j = 0; j < nh; j++) {
        int i = (hh[j].item[13] << 8) | hh[j].item[14];
        assert_true(g_stream.count[i] >= 0.005 * N_PKT);
        if (j > 0) {
            assert_true(hh[j - 1].count >= hh[j].count);
        }
    }
    printf("heavy hitters: %zu reported, %zu true\n", nh, n_true);
    /* A short output array keeps the largest, in order. */
    struct mon_hh top[3];
    assert_int_equal(mon_heavy_hitters(&v, (const uint8_t (*)[MON_ITEM_LEN]) g_cands,
                                       nc, phi, top, 3), nh);
    assert_memory_equal(top, hh, sizeof top);
    assert_true(n_true > 3);

    double h = exact_entropy(g_stream.count, N_SRC);
    double est = mon_entropy(&v, (const uint8_t (*)[MON_ITEM_LEN]) g_cands, nc, 0.002);
    printf("entropy: exact %.4f bits, estimate %.4f\n", h, est);
    assert_true(fabs(est - h) <= 0.05 * h);

    plane_app_inst_delete(inst);
    ah_unload(&a);
}

/* Two copies' sketches added word by word answer as one copy of all traffic. */
static void
test_merge_equals_single(void **state)
{
    (void) state;
    gen_stream(&g_stream, test_seed() ^ 0xabcdef);
    struct ah_app a;
    ah_load(&a);
    struct plane_app_inst *one = ah_inst(&a, 1, true);
    struct plane_app_inst *x = ah_inst(&a, 2, true);
    struct plane_app_inst *y = ah_inst(&a, 0, false);    /* the switch */
    uint64_t rnd = test_seed();
    for (int p = 0; p < N_PKT; p++) {
        send_pkt(one, g_stream.src[p], 1000);
        send_pkt((splitmix(&rnd) & 1) ? x : y, g_stream.src[p], 1000);
    }
    /* Merge y into x as sync would: ADD the level words, OR the register. */
    for (unsigned l = 0; l < MON_LEVELS; l++) {
        size_t nx, ny, n1;
        uint64_t *wx = plane_object_words(plane_app_inst_object(x, (uint16_t) l), &nx);
        uint64_t *wy = plane_object_words(plane_app_inst_object(y, (uint16_t) l), &ny);
        uint64_t *w1 = plane_object_words(plane_app_inst_object(one, (uint16_t) l), &n1);
        assert_int_equal(nx, ny);
        assert_int_equal(nx, n1);
        for (size_t i = 0; i < nx; i++) {
            wx[i] += wy[i];
        }
        assert_memory_equal(wx, w1, nx * sizeof *wx);
    }
    struct plane_object *cy = plane_app_inst_object(y, MON_OBJ_CAND);
    size_t cur = 0;
    const void *k, *val;
    while (plane_object_next(cy, &cur, &k, &val)) {
        assert_int_equal(plane_object_merge(plane_app_inst_object(x, MON_OBJ_CAND), k,
                                            PLANE_OBJECT_KEY_LEN, val), 0);
    }
    size_t nc = cands_of(x, g_cands, 0, N_SRC);
    nc = cands_of(one, g_cands, nc, N_SRC);

    struct mon_sketch_view vm, v1;
    view_of(&a, x, &vm);
    view_of(&a, one, &v1);
    struct mon_hh hm[32], h1[32];
    const uint8_t (*c)[MON_ITEM_LEN] = (const uint8_t (*)[MON_ITEM_LEN]) g_cands;
    size_t nm = mon_heavy_hitters(&vm, c, nc, 0.01, hm, 32);
    size_t n1 = mon_heavy_hitters(&v1, c, nc, 0.01, h1, 32);
    assert_int_equal(nm, n1);
    assert_true(nm > 0);
    assert_memory_equal(hm, h1, (nm < 32 ? nm : 32) * sizeof hm[0]);
    double em = mon_entropy(&vm, c, nc, 0.002);
    double e1 = mon_entropy(&v1, c, nc, 0.002);
    assert_true(em == e1);
    double h = exact_entropy(g_stream.count, N_SRC);
    printf("merged entropy %.4f, single %.4f, exact %.4f\n", em, e1, h);
    assert_true(fabs(em - h) <= 0.05 * h);

    plane_app_inst_delete(one);
    plane_app_inst_delete(x);
    plane_app_inst_delete(y);
    ah_unload(&a);
}

/* A small exact check of the G-sum: few items, all in Q, counts exact. */
static void
test_gsum_exact_small(void **state)
{
    (void) state;
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "count", "bytes");
    struct plane_app_inst *inst = ah_inst(&a, 1, true);
    uint64_t cnt[5] = { 0 };
    size_t flen = 0;
    for (int i = 0; i < 5; i++) {
        for (int p = 0; p < (i + 1) * 10; p++) {
            send_pkt(inst, i, 5);
            cnt[i]++;
        }
    }
    struct ah_frame f;
    ah_udp4(&f, AH_IP4(1, 2, 3, 4), 5, AH_IP4(10, 9, 9, 9), 53, "q", 1);
    flen = f.len;
    for (int i = 0; i < 5; i++) {
        cnt[i] *= flen;
    }
    struct mon_sketch_view v;
    view_of(&a, inst, &v);
    assert_int_equal(mon_cms_view_total(&v.level[0]), 150 * flen);
    uint8_t items[5][MON_ITEM_LEN];
    for (int i = 0; i < 5; i++) {
        src_item(i, items[i]);
    }
    double est = mon_entropy(&v, (const uint8_t (*)[MON_ITEM_LEN]) items, 5, 0.0);
    assert_true(fabs(est - exact_entropy(cnt, 5)) < 1e-9);
    plane_app_inst_delete(inst);
    ah_unload(&a);
}

static void
test_bad_params(void **state)
{
    (void) state;
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "count", "flows");
    assert_null(ah_inst_try(&a, 1, true));
    a.n_params = 0;
    ah_param(&a, "seed", "-1");
    assert_null(ah_inst_try(&a, 1, true));
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heavy_hitters_and_entropy),
        cmocka_unit_test(test_merge_equals_single),
        cmocka_unit_test(test_gsum_exact_small),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
