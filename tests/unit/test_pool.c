/* Tests of the fixed-size buffer pool: alignment, O(1) get/put, exhaustion, bad puts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <plane/error.h>

#include "common/pool.h"
#include "common/wire.h"

static void
test_get_put_exhaust(void **state)
{
    struct plane_pool pool;
    void *bufs[8];

    assert_int_equal(plane_pool_init(&pool, 8, 0), 0);
    assert_int_equal(plane_pool_buf_size(&pool), PLANE_WIRE_MAX_DATAGRAM);
    assert_int_equal(plane_pool_avail(&pool), 8);
    for (int i = 0; i < 8; i++) {
        bufs[i] = plane_pool_get(&pool);
        assert_non_null(bufs[i]);
        assert_int_equal((uintptr_t) bufs[i] % 64, 0);
        /* The whole buffer is usable, and distinct from the others. */
        memset(bufs[i], i, PLANE_WIRE_MAX_DATAGRAM);
        assert_int_equal(plane_pool_index(&pool, bufs[i]) >= 0, 1);
        assert_ptr_equal(plane_pool_at(&pool, (uint32_t) plane_pool_index(&pool, bufs[i])),
                         bufs[i]);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(((uint8_t *) bufs[i])[PLANE_WIRE_MAX_DATAGRAM - 1], i);
    }
    assert_null(plane_pool_get(&pool));
    assert_null(plane_pool_get(&pool));
    assert_int_equal(pool.stats.exhausted, 2);
    assert_int_equal(pool.stats.gets, 8);

    assert_int_equal(plane_pool_put(&pool, bufs[3]), 0);
    assert_int_equal(plane_pool_put(&pool, bufs[3]), PLANE_EINVAL);   /* double put */
    assert_int_equal(plane_pool_put(&pool, (uint8_t *) bufs[4] + 1), PLANE_EINVAL);
    int outside;
    assert_int_equal(plane_pool_put(&pool, &outside), PLANE_EINVAL);
    assert_ptr_equal(plane_pool_get(&pool), bufs[3]);               /* LIFO: warm */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(plane_pool_put(&pool, bufs[i]), 0);
    }
    assert_int_equal(plane_pool_avail(&pool), 8);
    assert_int_equal(pool.stats.puts, 9);
    plane_pool_uninit(&pool);
    plane_pool_uninit(&pool);       /* safe twice */
}

static void
test_sizes(void **state)
{
    struct plane_pool pool;
    assert_int_equal(plane_pool_init(&pool, 0, 100), PLANE_EINVAL);
    assert_int_equal(plane_pool_init(&pool, 3, 100), 0);
    uint8_t *a = plane_pool_get(&pool), *b = plane_pool_get(&pool);
    assert_int_equal(b > a ? b - a : a - b, 128);        /* 100 rounded to a line */
    assert_int_equal((uintptr_t) a % 64, 0);
    assert_null(plane_pool_at(&pool, 3));
    plane_pool_uninit(&pool);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_exhaust),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
