/* Tests of the msgpack helpers: fixed-buffer writer, checker, reader and zone. */
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

#include "common/mp.h"

static void
test_writer_fits(void **state)
{
    uint8_t buf[16];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(msgpack_pack_array(&w.pk, 2), 0);
    assert_int_equal(msgpack_pack_uint16(&w.pk, 300), 0);
    assert_int_equal(plane_mp_write_bin(&w, "ab", 2), 0);
    assert_false(w.overflow);
    static const uint8_t want[] = { 0x92, 0xcd, 0x01, 0x2c, 0xc4, 0x02, 'a', 'b' };
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
}

static void
test_writer_overflow(void **state)
{
    uint8_t buf[8];
    memset(buf, 0xee, sizeof buf);
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, 4);
    assert_int_equal(msgpack_pack_uint32(&w.pk, 70000), -1);   /* 5 bytes */
    assert_true(w.overflow);
    assert_int_equal(w.len, 0);
    /* A later write that would fit still fails: no holes in the output. */
    assert_int_equal(msgpack_pack_nil(&w.pk), -1);
    assert_int_equal(plane_mp_write_raw(&w, "x", 1), PLANE_EMSGSIZE);
    assert_int_equal(w.len, 0);
    assert_int_equal(buf[4], 0xee);

    plane_mp_writer_init(&w, NULL, 100);
    assert_int_equal(plane_mp_write_str(&w, "abc", 3), PLANE_EMSGSIZE);
    assert_true(w.overflow);
}

static void
test_check_valid(void **state)
{
    uint8_t buf[256];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    msgpack_pack_map(&w.pk, 2);
    plane_mp_write_cstr(&w, "a");
    msgpack_pack_array(&w.pk, 3);
    msgpack_pack_int64(&w.pk, -5000000000LL);
    msgpack_pack_double(&w.pk, 1.5);
    msgpack_pack_ext(&w.pk, 3, 7);
    msgpack_pack_ext_body(&w.pk, "abc", 3);
    plane_mp_write_cstr(&w, "b");
    msgpack_pack_true(&w.pk);
    size_t n = w.len;
    msgpack_pack_nil(&w.pk);   /* trailing: not part of the first object */
    size_t obj = 0;
    assert_int_equal(plane_mp_check(buf, w.len, &obj, 8, 100), 0);
    assert_int_equal(obj, n);
    /* Every proper prefix is truncated. */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(plane_mp_check(buf, i, &obj, 8, 100), PLANE_ETRUNC);
    }
    /* Scalars and empty containers. */
    static const uint8_t nil[] = { 0xc0 };
    assert_int_equal(plane_mp_check(nil, 1, &obj, 0, 0), 0);
    assert_int_equal(obj, 1);
    static const uint8_t empty[] = { 0x90 };
    assert_int_equal(plane_mp_check(empty, 1, &obj, 1, 0), 0);
    assert_int_equal(plane_mp_check(empty, 1, &obj, 0, 0), PLANE_EBADMSG);
    assert_int_equal(plane_mp_check(NULL, 0, &obj, 1, 0), PLANE_ETRUNC);
}

static void
test_check_hostile(void **state)
{
    size_t obj;
    /* array32 asking for 2^32-1 elements in a 5-byte input. */
    static const uint8_t a32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    assert_int_equal(plane_mp_check(a32, sizeof a32, &obj, 8, SIZE_MAX),
                     PLANE_ETRUNC);
    static const uint8_t m32[] = { 0xdf, 0x80, 0x00, 0x00, 0x00, 0xc0, 0xc0 };
    assert_int_equal(plane_mp_check(m32, sizeof m32, &obj, 8, SIZE_MAX),
                     PLANE_ETRUNC);
    /* bin32 / str32 / ext32 lengths past the end. */
    static const uint8_t b32[] = { 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00 };
    assert_int_equal(plane_mp_check(b32, sizeof b32, &obj, 8, 100), PLANE_ETRUNC);
    static const uint8_t s32[] = { 0xdb, 0x00, 0x00, 0x00, 0x02, 'a' };
    assert_int_equal(plane_mp_check(s32, sizeof s32, &obj, 8, 100), PLANE_ETRUNC);
    static const uint8_t e32[] = { 0xc9, 0x00, 0x00, 0x00, 0x01, 0x05 };
    assert_int_equal(plane_mp_check(e32, sizeof e32, &obj, 8, 100), PLANE_ETRUNC);
    /* The reserved byte, alone and inside an array. */
    static const uint8_t c1[] = { 0xc1 };
    assert_int_equal(plane_mp_check(c1, 1, &obj, 8, 100), PLANE_EBADMSG);
    static const uint8_t ac1[] = { 0x92, 0x01, 0xc1 };
    assert_int_equal(plane_mp_check(ac1, 3, &obj, 8, 100), PLANE_EBADMSG);
    /* Too many elements in total. */
    static const uint8_t many[] = { 0x93, 0x01, 0x02, 0x03 };
    assert_int_equal(plane_mp_check(many, 4, &obj, 8, 2), PLANE_EBADMSG);
    assert_int_equal(plane_mp_check(many, 4, &obj, 8, 3), 0);
}

static void
test_check_deep(void **state)
{
    /* 100000 nested fixarrays of 1: depth is bounded, no recursion. */
    size_t n = 100000;
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    memset(buf, 0x91, n);
    buf[n] = 0xc0;
    size_t obj;
    assert_int_equal(plane_mp_check(buf, n + 1, &obj, 1000, SIZE_MAX), PLANE_EBADMSG);
    /* Exactly max_depth levels pass, one more fails. */
    assert_int_equal(plane_mp_check(buf + n - 4, 5, &obj, 4, 100), 0);
    assert_int_equal(obj, 5);
    assert_int_equal(plane_mp_check(buf + n - 5, 6, &obj, 4, 100), PLANE_EBADMSG);
    free(buf);
}

static void
test_check_random(void **state)
{
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("PLANE_TEST_SEED");
    if (env) {
        seed = (unsigned)strtoul(env, NULL, 0);
    }
    printf("test_check_random: seed %u (PLANE_TEST_SEED to replay)\n", seed);
    srand(seed);
    uint8_t buf[64];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)rand() % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            /* Bias towards container and length tags. */
            buf[i] = rand() % 4 ? (uint8_t)rand() : (uint8_t)(0x90 + rand() % 16);
        }
        size_t obj = 0;
        int rc = plane_mp_check(buf, len, &obj, 8, 1000);
        assert_true(rc == 0 || rc == PLANE_ETRUNC || rc == PLANE_EBADMSG);
        if (rc == 0) {
            assert_true(obj >= 1 && obj <= len);
            struct plane_mp_reader r;
            plane_mp_reader_init(&r, buf, len);
            assert_int_equal(plane_mp_skip(&r), 0);
            assert_int_equal(r.left, len - obj);
        }
    }
}

static void
test_reader(void **state)
{
    uint8_t buf[128];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    msgpack_pack_array(&w.pk, 9);
    msgpack_pack_uint64(&w.pk, UINT64_MAX);
    msgpack_pack_int64(&w.pk, INT64_MIN);
    msgpack_pack_uint32(&w.pk, 70000);
    msgpack_pack_int32(&w.pk, -3);
    msgpack_pack_false(&w.pk);
    msgpack_pack_nil(&w.pk);
    plane_mp_write_bin(&w, "\x01\x02", 2);
    plane_mp_write_str(&w, "hey", 3);
    msgpack_pack_map(&w.pk, 1);
    msgpack_pack_int(&w.pk, 1);
    msgpack_pack_int(&w.pk, 2);
    assert_false(w.overflow);

    struct plane_mp_reader r;
    uint32_t n;
    uint64_t u;
    int64_t s;
    uint16_t u16;
    uint8_t u8;
    int32_t i32;
    bool b;
    const uint8_t *p;
    const char *str;
    plane_mp_reader_init(&r, buf, w.len);
    assert_int_equal(plane_mp_read_array_n(&r, 8), PLANE_EBADMSG);
    assert_int_equal(plane_mp_read_array(&r, &n), 0);
    assert_int_equal(n, 9);
    assert_int_equal(plane_mp_read_int(&r, &s), PLANE_EBADMSG);   /* > INT64_MAX */
    assert_int_equal(plane_mp_read_uint(&r, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(plane_mp_read_uint(&r, &u), PLANE_EBADMSG);  /* negative */
    assert_int_equal(plane_mp_read_int(&r, &s), 0);
    assert_true(s == INT64_MIN);
    assert_int_equal(plane_mp_read_u16(&r, &u16), PLANE_EBADMSG); /* 70000 */
    assert_int_equal(plane_mp_read_u8(&r, &u8), PLANE_EBADMSG);
    assert_int_equal(plane_mp_read_uint(&r, &u), 0);
    assert_int_equal(u, 70000);
    assert_int_equal(plane_mp_read_i32(&r, &i32), 0);
    assert_int_equal(i32, -3);
    assert_int_equal(plane_mp_read_nil(&r), PLANE_EBADMSG);
    assert_int_equal(plane_mp_read_bool(&r, &b), 0);
    assert_false(b);
    assert_int_equal(plane_mp_peek_byte(&r), 0xc0);
    assert_int_equal(plane_mp_read_nil(&r), 0);
    assert_int_equal(plane_mp_read_str(&r, &str, &n), PLANE_EBADMSG);
    assert_int_equal(plane_mp_read_bin(&r, &p, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "\x01\x02", 2);
    assert_int_equal(plane_mp_read_bin(&r, &p, &n), PLANE_EBADMSG);
    assert_int_equal(plane_mp_read_str(&r, &str, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(str, "hey", 3);
    assert_int_equal(plane_mp_read_array(&r, &n), PLANE_EBADMSG);
    assert_int_equal(plane_mp_read_map(&r, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(plane_mp_skip(&r), 0);
    assert_int_equal(plane_mp_skip(&r), 0);
    assert_true(plane_mp_reader_done(&r));
    assert_int_equal(plane_mp_peek_byte(&r), -1);
    assert_int_equal(plane_mp_read_nil(&r), PLANE_ETRUNC);
    assert_int_equal(plane_mp_skip(&r), PLANE_ETRUNC);
}

static void
test_reader_bounds(void **state)
{
    struct plane_mp_reader r;
    uint32_t n;
    uint64_t u;
    const uint8_t *p;
    /* Counts and lengths beyond the bytes left; the cursor does not move. */
    static const uint8_t a32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    plane_mp_reader_init(&r, a32, sizeof a32);
    assert_int_equal(plane_mp_read_array(&r, &n), PLANE_ETRUNC);
    assert_int_equal(r.left, sizeof a32);
    static const uint8_t a16[] = { 0xdc, 0x00 };
    plane_mp_reader_init(&r, a16, sizeof a16);
    assert_int_equal(plane_mp_read_array(&r, &n), PLANE_ETRUNC);
    static const uint8_t bin[] = { 0xc4, 0x03, 0x01, 0x02 };
    plane_mp_reader_init(&r, bin, sizeof bin);
    assert_int_equal(plane_mp_read_bin(&r, &p, &n), PLANE_ETRUNC);
    assert_int_equal(r.left, sizeof bin);
    static const uint8_t u64[] = { 0xcf, 0, 0, 0, 0, 0, 0, 1 };
    plane_mp_reader_init(&r, u64, sizeof u64);
    assert_int_equal(plane_mp_read_uint(&r, &u), PLANE_ETRUNC);
    static const uint8_t map[] = { 0x81, 0x01 };   /* a pair needs two bytes */
    plane_mp_reader_init(&r, map, sizeof map);
    assert_int_equal(plane_mp_read_map(&r, &n), PLANE_ETRUNC);
    /* Every prefix of every integer encoding. */
    static const uint8_t ints[][9] = {
        { 0xcc, 0xff }, { 0xcd, 0xff, 0xff }, { 0xce, 1, 2, 3, 4 },
        { 0xd0, 0x80 }, { 0xd1, 1, 2 }, { 0xd2, 1, 2, 3, 4 },
        { 0xd3, 0, 0, 0, 0, 0, 0, 0, 1 },
    };
    static const size_t lens[] = { 2, 3, 5, 2, 3, 5, 9 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t l = 0; l < lens[i]; l++) {
            int64_t s;
            plane_mp_reader_init(&r, ints[i], l);
            assert_int_equal(plane_mp_read_int(&r, &s), PLANE_ETRUNC);
        }
        int64_t s;
        plane_mp_reader_init(&r, ints[i], lens[i]);
        assert_int_equal(plane_mp_read_int(&r, &s), 0);
        assert_true(plane_mp_reader_done(&r));
    }
}

static void
test_zone(void **state)
{
    struct plane_mp_zone z;
    assert_int_equal(plane_mp_zone_init(&z, 64), 0);
    void *first = plane_mp_zone_alloc(&z, 8);
    assert_non_null(first);
    assert_int_equal((uintptr_t)first % 16, 0);
    /* Past the first chunk: chained chunks, all freed by clear. */
    for (int i = 0; i < 100; i++) {
        uint8_t *p = plane_mp_zone_alloc(&z, 48);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, i, 48);
    }
    uint8_t *big = plane_mp_zone_calloc(&z, 1000, 10);
    assert_non_null(big);
    assert_int_equal(big[9999], 0);
    assert_null(plane_mp_zone_calloc(&z, SIZE_MAX / 2, 4));
    char *s = plane_mp_zone_strndup(&z, "hello world", 5);
    assert_string_equal(s, "hello");
    plane_mp_zone_clear(&z);
    /* The first chunk is reused after clear. */
    assert_ptr_equal(plane_mp_zone_alloc(&z, 8), first);
    /* The cap on the total bounds hostile decodes. */
    z.max_bytes = 1024;
    assert_non_null(plane_mp_zone_alloc(&z, 512));
    assert_null(plane_mp_zone_alloc(&z, 1024));
    plane_mp_zone_uninit(&z);
    plane_mp_zone_uninit(&z);   /* idempotent */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_fits),
        cmocka_unit_test(test_writer_overflow),
        cmocka_unit_test(test_check_valid),
        cmocka_unit_test(test_check_hostile),
        cmocka_unit_test(test_check_deep),
        cmocka_unit_test(test_check_random),
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
