/* Unit tests of app objects: the fixed-capacity hash table, merges, iteration, sketches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/hash.h"
#include "merge.h"
#include "object.h"

static struct plane_hasher hasher;

static int
setup(void **state)
{
    (void) state;
    return plane_hasher_init(&hasher, "test-rack", 9);
}

/* Key number i: a v4 flow key with i spread over the source address and port. */
static void
make_key(uint32_t i, struct plane_flow_key *k)
{
    uint8_t src[4] = { 10, (uint8_t) (i >> 16), (uint8_t) (i >> 8), (uint8_t) i };
    uint8_t dst[4] = { 10, 255, 0, 1 };
    plane_flow_key_set_v4(k, 17, src, (uint16_t) (1000 + (i >> 24)), dst, 53);
}

static const struct plane_obj_desc table_desc = {
    .name = "t", .kind = PLANE_OBJ_TABLE, .key_fields = PLANE_FLOW_ALL,
    .value_len = 8, .size = 64, .merge = PLANE_MERGE_NONE,
};

static void
test_insert_get_delete(void **state)
{
    (void) state;
    struct plane_object *o = plane_object_new(&table_desc, 100, &hasher);
    assert_non_null(o);
    assert_int_equal(plane_object_capacity(o), 100);
    assert_int_equal(plane_object_key_len(o), PLANE_OBJECT_KEY_LEN);
    assert_int_equal(plane_object_key_len(o), sizeof(struct plane_flow_key));

    struct plane_flow_key k;
    make_key(1, &k);
    uint64_t v = 42, out = 0;
    assert_int_equal(plane_object_get(o, &k, sizeof k, &out), PLANE_ENOENT);
    assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
    assert_int_equal(plane_object_get(o, &k, sizeof k, &out), 0);
    assert_int_equal(out, 42);
    assert_int_equal(plane_object_count(o), 1);

    /* Insert replaces. */
    v = 43;
    assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
    assert_int_equal(plane_object_count(o), 1);
    assert_int_equal(plane_object_get(o, &k, sizeof k, &out), 0);
    assert_int_equal(out, 43);

    /* Wrong key length and kind are refused. */
    assert_int_equal(plane_object_get(o, &k, 8, &out), PLANE_EINVAL);
    assert_int_equal(plane_object_merge(o, &k, sizeof k, &v), PLANE_EINVAL);

    assert_int_equal(plane_object_delete_entry(o, &k, sizeof k), 0);
    assert_int_equal(plane_object_delete_entry(o, &k, sizeof k), PLANE_ENOENT);
    assert_int_equal(plane_object_get(o, &k, sizeof k, &out), PLANE_ENOENT);
    assert_int_equal(plane_object_count(o), 0);

    const struct plane_object_stats *st = plane_object_stats(o);
    assert_int_equal(st->inserts, 1);
    assert_int_equal(st->updates, 1);
    assert_int_equal(st->deletes, 1);
    assert_int_equal(st->hits, 2);
    assert_int_equal(st->misses, 2);
    plane_object_delete(o);
    plane_object_delete(NULL);
}

static void
test_full_and_capacity(void **state)
{
    (void) state;
    /* Capacities around powers of two and the 7/8 load bound. */
    const uint32_t caps[] = { 1, 7, 8, 9, 56, 57, 64, 100, 1000 };
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        uint32_t cap = caps[c];
        struct plane_object *o = plane_object_new(&table_desc, cap, &hasher);
        assert_non_null(o);
        struct plane_flow_key k;
        for (uint32_t i = 0; i < cap; i++) {
            make_key(i, &k);
            uint64_t v = i;
            assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
        }
        assert_int_equal(plane_object_count(o), cap);
        make_key(cap, &k);
        uint64_t v = 0;
        assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), PLANE_ENOSPC);
        assert_int_equal(plane_object_stats(o)->full_rejects, 1);
        /* Replacing an existing key still works when full. */
        make_key(0, &k);
        v = 99;
        assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
        /* Free one, then the new key fits. */
        assert_int_equal(plane_object_delete_entry(o, &k, sizeof k), 0);
        make_key(cap, &k);
        assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
        assert_int_equal(plane_object_count(o), cap);
        for (uint32_t i = 1; i <= cap; i++) {
            uint64_t out;
            make_key(i, &k);
            assert_int_equal(plane_object_get(o, &k, sizeof k, &out), 0);
            assert_int_equal(out, i == cap ? 99 : i);
        }
        plane_object_delete(o);
    }
    assert_null(plane_object_new(&table_desc, 0, &hasher));
    assert_null(plane_object_new(&table_desc, PLANE_OBJECT_MAX_CAPACITY + 1ull,
                                 &hasher));
}

static void
test_delete_reinsert_churn(void **state)
{
    (void) state;
    /* Repeated delete/reinsert keeps every remaining key findable (the
     * backward shift must not break any probe sequence). */
    struct plane_object *o = plane_object_new(&table_desc, 200, &hasher);
    assert_non_null(o);
    struct plane_flow_key k;
    for (uint32_t i = 0; i < 200; i++) {
        make_key(i, &k);
        uint64_t v = i;
        assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
    }
    for (uint32_t round = 0; round < 50; round++) {
        for (uint32_t i = round % 3; i < 200; i += 3) {
            make_key(i, &k);
            assert_int_equal(plane_object_delete_entry(o, &k, sizeof k), 0);
        }
        for (uint32_t i = 0; i < 200; i++) {
            uint64_t out;
            make_key(i, &k);
            int rc = plane_object_get(o, &k, sizeof k, &out);
            if (i % 3 == round % 3) {
                assert_int_equal(rc, PLANE_ENOENT);
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(out, i);
            }
        }
        for (uint32_t i = round % 3; i < 200; i += 3) {
            make_key(i, &k);
            uint64_t v = i;
            assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
        }
        assert_int_equal(plane_object_count(o), 200);
    }
    plane_object_clear(o);
    assert_int_equal(plane_object_count(o), 0);
    make_key(5, &k);
    assert_int_equal(plane_object_get(o, &k, sizeof k, NULL), PLANE_ENOENT);
    plane_object_delete(o);
}

static void
test_register_merges(void **state)
{
    (void) state;
    struct plane_obj_desc d = {
        .name = "r", .kind = PLANE_OBJ_REGISTER, .key_fields = PLANE_FLOW_SRC_IP,
        .value_len = 16, .size = 16,
    };
    struct plane_flow_key k;
    make_key(3, &k);
    const enum plane_merge_op ops[] = { PLANE_MERGE_ADD, PLANE_MERGE_OR,
                                        PLANE_MERGE_MAX, PLANE_MERGE_MIN };
    for (size_t t = 0; t < 4; t++) {
        d.merge = ops[t];
        struct plane_object *o = plane_object_new(&d, 16, &hasher);
        assert_non_null(o);
        uint64_t a[2] = { 5, 0x10 }, b[2] = { 3, 0x01 }, out[2];
        assert_int_equal(plane_object_merge(o, &k, sizeof k, a), 0);
        /* Created from the operator's identity: equals the first operand. */
        assert_int_equal(plane_object_get(o, &k, sizeof k, out), 0);
        assert_int_equal(out[0], 5);
        assert_int_equal(out[1], 0x10);
        assert_int_equal(plane_object_merge(o, &k, sizeof k, b), 0);
        assert_int_equal(plane_object_get(o, &k, sizeof k, out), 0);
        switch (ops[t]) {
        case PLANE_MERGE_ADD:
            assert_int_equal(out[0], 8);
            assert_int_equal(out[1], 0x11);
            break;
        case PLANE_MERGE_OR:
            assert_int_equal(out[0], 7);
            assert_int_equal(out[1], 0x11);
            break;
        case PLANE_MERGE_MAX:
            assert_int_equal(out[0], 5);
            assert_int_equal(out[1], 0x10);
            break;
        default:
            assert_int_equal(out[0], 3);
            assert_int_equal(out[1], 0x01);
            break;
        }
        plane_object_delete(o);
    }

    /* A full register refuses new keys but merges into existing ones. */
    d.merge = PLANE_MERGE_ADD;
    struct plane_object *o = plane_object_new(&d, 1, &hasher);
    uint64_t one[2] = { 1, 0 };
    assert_int_equal(plane_object_merge(o, &k, sizeof k, one), 0);
    struct plane_flow_key k2;
    make_key(4, &k2);
    assert_int_equal(plane_object_merge(o, &k2, sizeof k2, one), PLANE_ENOSPC);
    assert_int_equal(plane_object_stats(o)->full_rejects, 1);
    assert_int_equal(plane_object_merge(o, &k, sizeof k, one), 0);
    const uint64_t *v = plane_object_lookup(o, &k, sizeof k);
    assert_non_null(v);
    uint64_t w0;
    memcpy(&w0, v, 8);
    assert_int_equal(w0, 2);
    plane_object_delete(o);

    /* A table descriptor with a merge, a register without: refused. */
    d.merge = PLANE_MERGE_NONE;
    assert_null(plane_object_new(&d, 4, &hasher));
}

static void
custom_plus(void *out, const void *a, const void *b, size_t len)
{
    /* Byte-wise saturating add. */
    const uint8_t *pa = a, *pb = b;
    uint8_t *po = out;
    for (size_t i = 0; i < len; i++) {
        unsigned s = (unsigned) pa[i] + pb[i];
        po[i] = (uint8_t) (s > 255 ? 255 : s);
    }
}

static void
test_custom_merge(void **state)
{
    (void) state;
    struct plane_obj_desc d = {
        .name = "c", .kind = PLANE_OBJ_REGISTER, .key_fields = PLANE_FLOW_ALL,
        .value_len = 3, .size = 4, .merge = PLANE_MERGE_CUSTOM,
        .plus = custom_plus,
    };
    struct plane_object *o = plane_object_new(&d, 4, &hasher);
    assert_non_null(o);
    struct plane_flow_key k;
    make_key(9, &k);
    uint8_t x[3] = { 200, 1, 0 }, out[3];
    assert_int_equal(plane_object_merge(o, &k, sizeof k, x), 0);
    assert_int_equal(plane_object_merge(o, &k, sizeof k, x), 0);
    assert_int_equal(plane_object_get(o, &k, sizeof k, out), 0);
    assert_int_equal(out[0], 255);
    assert_int_equal(out[1], 2);
    assert_int_equal(out[2], 0);
    plane_object_delete(o);
}

struct seen {
    uint32_t n;
    uint8_t hits[300];
};

static int
count_entry(void *arg, const void *key, size_t klen, void *value)
{
    struct seen *s = arg;
    uint64_t v;
    memcpy(&v, value, 8);
    assert_int_equal(klen, PLANE_OBJECT_KEY_LEN);
    assert_true(v < 300);
    struct plane_flow_key k;
    make_key((uint32_t) v, &k);
    assert_memory_equal(key, &k, sizeof k);
    s->hits[v]++;
    s->n++;
    return 0;
}

static int
stop_at_three(void *arg, const void *key, size_t klen, void *value)
{
    (void) key;
    (void) klen;
    (void) value;
    int *n = arg;
    return ++*n == 3 ? 77 : 0;
}

static void
test_iteration(void **state)
{
    (void) state;
    struct plane_object *o = plane_object_new(&table_desc, 300, &hasher);
    struct plane_flow_key k;
    for (uint32_t i = 0; i < 300; i += 2) {
        make_key(i, &k);
        uint64_t v = i;
        assert_int_equal(plane_object_insert(o, &k, sizeof k, &v), 0);
    }
    struct seen s;
    memset(&s, 0, sizeof s);
    assert_int_equal(plane_object_foreach(o, count_entry, &s), 0);
    assert_int_equal(s.n, 150);
    for (uint32_t i = 0; i < 300; i++) {
        assert_int_equal(s.hits[i], i % 2 == 0 ? 1 : 0);
    }

    int n = 0;
    assert_int_equal(plane_object_foreach(o, stop_at_three, &n), 77);
    assert_int_equal(n, 3);

    memset(&s, 0, sizeof s);
    size_t cursor = 0;
    const void *key, *value;
    while (plane_object_next(o, &cursor, &key, &value)) {
        count_entry(&s, key, PLANE_OBJECT_KEY_LEN, (void *) value);
    }
    assert_int_equal(s.n, 150);
    assert_false(plane_object_next(o, &cursor, &key, &value));
    plane_object_delete(o);
}

/* Random operations against a simple reference model (an array by key id). */
static void
test_random_vs_model(void **state)
{
    (void) state;
    unsigned seed = (unsigned) time(NULL);
    const char *env = getenv("PLANE_TEST_SEED");
    if (env) {
        seed = (unsigned) strtoul(env, NULL, 10);
    }
    printf("test_random_vs_model: seed %u (replay with PLANE_TEST_SEED)\n", seed);
    srand(seed);

    enum { KEYS = 512, CAP = 300, OPS = 50000 };
    struct plane_obj_desc d = {
        .name = "m", .kind = PLANE_OBJ_REGISTER, .key_fields = PLANE_FLOW_ALL,
        .value_len = 8, .size = CAP, .merge = PLANE_MERGE_ADD,
    };
    struct plane_object *o = plane_object_new(&d, CAP, &hasher);
    assert_non_null(o);
    static bool present[KEYS];
    static uint64_t model[KEYS];
    memset(present, 0, sizeof present);
    size_t count = 0;
    for (int op = 0; op < OPS; op++) {
        uint32_t i = (uint32_t) rand() % KEYS;
        struct plane_flow_key k;
        make_key(i, &k);
        uint64_t v = (uint64_t) rand(), out;
        switch (rand() % 4) {
        case 0: {
            int rc = plane_object_insert(o, &k, sizeof k, &v);
            if (!present[i] && count == CAP) {
                assert_int_equal(rc, PLANE_ENOSPC);
            } else {
                assert_int_equal(rc, 0);
                count += !present[i];
                present[i] = true;
                model[i] = v;
            }
            break;
        }
        case 1: {
            int rc = plane_object_delete_entry(o, &k, sizeof k);
            assert_int_equal(rc, present[i] ? 0 : PLANE_ENOENT);
            count -= present[i];
            present[i] = false;
            break;
        }
        case 2: {
            int rc = plane_object_merge(o, &k, sizeof k, &v);
            if (!present[i] && count == CAP) {
                assert_int_equal(rc, PLANE_ENOSPC);
            } else {
                assert_int_equal(rc, 0);
                model[i] = present[i] ? model[i] + v : v;
                count += !present[i];
                present[i] = true;
            }
            break;
        }
        default: {
            int rc = plane_object_get(o, &k, sizeof k, &out);
            assert_int_equal(rc, present[i] ? 0 : PLANE_ENOENT);
            if (present[i]) {
                assert_true(out == model[i]);
            }
            break;
        }
        }
        assert_int_equal(plane_object_count(o), count);
    }
    for (uint32_t i = 0; i < KEYS; i++) {
        struct plane_flow_key k;
        make_key(i, &k);
        const void *p = plane_object_lookup(o, &k, sizeof k);
        assert_true((p != NULL) == present[i]);
    }
    plane_object_delete(o);
}

static void
test_sketches(void **state)
{
    (void) state;
    struct plane_obj_desc cms = { .name = "cms", .kind = PLANE_OBJ_CMS,
                                  .size = 4 * 128, .cms_depth = 4,
                                  .merge = PLANE_MERGE_ADD };
    struct plane_object *a = plane_object_new(&cms, 4 * 128, &hasher);
    struct plane_object *b = plane_object_new(&cms, 4 * 128, &hasher);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(plane_object_capacity(a), 512);
    plane_object_cms_add(a, "x", 1, 5);
    plane_object_cms_add(b, "x", 1, 7);
    assert_true(plane_object_cms_estimate(a, "x", 1) >= 5);
    /* Same hasher and name: same hashing, so adding words merges. */
    size_t na, nb;
    uint64_t *wa = plane_object_words(a, &na);
    uint64_t *wb = plane_object_words(b, &nb);
    assert_int_equal(na, 512);
    assert_int_equal(nb, 512);
    const struct plane_merge *m = plane_object_merge_op(a);
    plane_merge_plus(m, wa, wa, wb, na * 8);
    assert_true(plane_object_cms_estimate(a, "x", 1) >= 12);
    assert_int_equal(plane_object_count(a), 0);
    plane_object_clear(a);
    assert_int_equal(plane_object_cms_estimate(a, "x", 1), 0);
    plane_object_delete(a);
    plane_object_delete(b);

    struct plane_obj_desc bl = { .name = "bl", .kind = PLANE_OBJ_BLOOM,
                                 .size = 1024, .bloom_hashes = 3,
                                 .merge = PLANE_MERGE_OR };
    struct plane_object *f = plane_object_new(&bl, 1024, &hasher);
    assert_non_null(f);
    plane_object_bloom_add(f, "hello", 5);
    assert_true(plane_object_bloom_test(f, "hello", 5));
    size_t n;
    assert_non_null(plane_object_words(f, &n));
    assert_int_equal(n, 16);
    /* Keyed calls on a sketch are refused; sketch calls on a table ignored. */
    struct plane_flow_key k;
    make_key(1, &k);
    assert_int_equal(plane_object_get(f, &k, sizeof k, NULL), PLANE_EINVAL);
    struct plane_object *t = plane_object_new(&table_desc, 4, &hasher);
    plane_object_cms_add(t, "x", 1, 1);
    assert_int_equal(plane_object_cms_estimate(t, "x", 1), 0);
    assert_false(plane_object_bloom_test(t, "hello", 5));
    assert_null(plane_object_words(t, &n));
    assert_int_equal(n, 0);
    plane_object_delete(t);
    plane_object_delete(f);

    /* A CMS must merge with ADD. */
    cms.merge = PLANE_MERGE_OR;
    assert_null(plane_object_new(&cms, 512, &hasher));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_get_delete),
        cmocka_unit_test(test_full_and_capacity),
        cmocka_unit_test(test_delete_reinsert_churn),
        cmocka_unit_test(test_register_merges),
        cmocka_unit_test(test_custom_merge),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_random_vs_model),
        cmocka_unit_test(test_sketches),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
