/* Tests of keyed hashing: determinism, key separation, shard spread, a pinned golden value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/hash.h"

#define GOLDEN_1 0xce19360910e3af33ULL
#define GOLDEN_2 0xe5fa6b24634e6756ULL

static const uint8_t KEY_A[32] = "rack-a secret key material 0001";
static const uint8_t KEY_B[32] = "rack-b secret key material 0002";

static void
test_deterministic(void **state)
{
    struct plane_hasher h1, h2;

    assert_int_equal(plane_hasher_init(&h1, KEY_A, sizeof KEY_A), 0);
    assert_int_equal(plane_hasher_init(&h2, KEY_A, sizeof KEY_A), 0);
    assert_int_equal(plane_hash64(&h1, "hello", 5), plane_hash64(&h2, "hello", 5));
    assert_int_not_equal(plane_hash64(&h1, "hello", 5),
                         plane_hash64(&h1, "hellp", 5));
    /* Long inputs go through the secret rather than the seed. */
    uint8_t big[1000];
    memset(big, 7, sizeof big);
    assert_int_equal(plane_hash64(&h1, big, sizeof big),
                     plane_hash64(&h2, big, sizeof big));
    plane_hasher_uninit(&h1);
    plane_hasher_uninit(&h2);
    plane_hasher_uninit(NULL);
}

static void
test_keys_differ(void **state)
{
    struct plane_hasher a, b, c;
    uint8_t big[1000];

    memset(big, 7, sizeof big);
    assert_int_equal(plane_hasher_init(&a, KEY_A, sizeof KEY_A), 0);
    assert_int_equal(plane_hasher_init(&b, KEY_B, sizeof KEY_B), 0);
    /* A one-bit change in the key changes the hash. */
    uint8_t k2[32];
    memcpy(k2, KEY_A, sizeof k2);
    k2[31] ^= 1;
    assert_int_equal(plane_hasher_init(&c, k2, sizeof k2), 0);
    for (size_t n = 0; n < 300; n += 13) {
        assert_int_not_equal(plane_hash64(&a, big, n), plane_hash64(&b, big, n));
        assert_int_not_equal(plane_hash64(&a, big, n), plane_hash64(&c, big, n));
    }
    assert_int_not_equal(plane_hash64(&a, big, sizeof big),
                         plane_hash64(&b, big, sizeof big));

    assert_int_equal(plane_hasher_init(&a, NULL, 0), 0);
    assert_int_equal(plane_hasher_init(&a, NULL, 1), PLANE_EINVAL);
}

static void
test_flow_key_hash(void **state)
{
    struct plane_hasher h;
    struct plane_flow_key k1, k2;
    static const uint8_t s[4] = { 10, 0, 0, 1 }, d[4] = { 10, 0, 0, 2 };

    assert_int_equal(plane_hasher_init(&h, KEY_A, sizeof KEY_A), 0);
    plane_flow_key_set_v4(&k1, 6, s, 1, d, 2);
    plane_flow_key_set_v4(&k2, 6, s, 1, d, 2);
    assert_int_equal(plane_hash_flow_key(&h, &k1), plane_hash_flow_key(&h, &k2));
    assert_int_equal(plane_hash_flow_key(&h, &k1), plane_hash64(&h, &k1, sizeof k1));
    k2.src_port = 3;
    assert_int_not_equal(plane_hash_flow_key(&h, &k1),
                         plane_hash_flow_key(&h, &k2));
}

/* Pins the algorithm: changing the derivation reshuffles every shard in a
 * rack, so it must be deliberate (and bump the protocol version). */
static void
test_golden(void **state)
{
    struct plane_hasher h;
    struct plane_flow_key k;
    static const uint8_t s[4] = { 192, 0, 2, 1 }, d[4] = { 198, 51, 100, 7 };

    assert_int_equal(plane_hasher_init(&h, "plane-golden-key", 16), 0);
    plane_flow_key_set_v4(&k, 17, s, 4242, d, 53);
    uint64_t g1 = plane_hash64(&h, "plane", 5);
    uint64_t g2 = plane_hash_flow_key(&h, &k);
    printf("golden: %#llx %#llx\n", (unsigned long long) g1,
           (unsigned long long) g2);
    assert_int_equal(g1, GOLDEN_1);
    assert_int_equal(g2, GOLDEN_2);
}

static void
test_shard_spread(void **state)
{
    struct plane_hasher h;
    enum { N_SHARDS = 16, N_KEYS = 160000 };
    unsigned counts[N_SHARDS] = { 0 };
    static const uint8_t d[4] = { 10, 0, 0, 2 };

    assert_int_equal(plane_hasher_init(&h, KEY_A, sizeof KEY_A), 0);
    /* Sequential, highly structured keys: the worst case for a weak hash. */
    for (uint32_t i = 0; i < N_KEYS; i++) {
        struct plane_flow_key k;
        uint8_t s[4] = { 10, 1, (uint8_t) (i >> 8), (uint8_t) i };
        plane_flow_key_set_v4(&k, 6, s, (uint16_t) (i >> 16), d, 80);
        uint32_t shard = plane_hash_shard(plane_hash_flow_key(&h, &k), N_SHARDS);
        assert_true(shard < N_SHARDS);
        counts[shard]++;
    }
    /* Expect 10000 each; sd = ~97, so +-5% is > 5 sd. */
    double chi2 = 0;
    for (int i = 0; i < N_SHARDS; i++) {
        assert_in_range(counts[i], 9500, 10500);
        double e = (double) counts[i] - N_KEYS / N_SHARDS;
        chi2 += e * e / (N_KEYS / N_SHARDS);
    }
    /* 15 degrees of freedom: p = 1e-6 at about 50. */
    assert_true(chi2 < 50);

    /* Edges of the mapping. */
    assert_int_equal(plane_hash_shard(0, 7), 0);
    assert_int_equal(plane_hash_shard(UINT64_MAX, 7), 6);
    assert_int_equal(plane_hash_shard(UINT64_MAX, 1), 0);
    assert_int_equal(plane_hash_shard(12345, 0), 0);
    assert_int_equal(plane_hash_shard(1ULL << 63, 2), 1);
    assert_int_equal(plane_hash_shard(UINT64_MAX, UINT32_MAX), UINT32_MAX - 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_keys_differ),
        cmocka_unit_test(test_flow_key_hash),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_shard_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
