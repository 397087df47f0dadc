/* Tests of the packet-rate cap (common/rate.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/rate.h"

/* 1000 pps with a 20 ms bucket: a burst of 20 (+ the one due now), then one per ms. */
static void
test_rate_cap(void **state)
{
    (void) state;
    struct plane_rate r;
    plane_rate_init(&r, 1000, 20 * PLANE_NS_PER_MS);
    uint64_t now = PLANE_NS_PER_SEC;
    int n = 0;
    while (plane_rate_allow(&r, now)) {
        n++;
        assert_true(n < 100);
    }
    assert_int_equal(n, 21);
    assert_false(plane_rate_allow(&r, now + PLANE_NS_PER_MS / 2));
    assert_true(plane_rate_allow(&r, now + PLANE_NS_PER_MS));
    assert_false(plane_rate_allow(&r, now + PLANE_NS_PER_MS));
    /* Over a long idle time the credit stays bounded by the bucket. */
    now += 10 * PLANE_NS_PER_SEC;
    n = 0;
    while (plane_rate_allow(&r, now)) {
        n++;
    }
    assert_int_equal(n, 21);
}

static void
test_rate_unlimited(void **state)
{
    (void) state;
    struct plane_rate r;
    plane_rate_init(&r, 0, PLANE_NS_PER_MS);
    for (int i = 0; i < 100000; i++) {
        assert_true(plane_rate_allow(&r, 5));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_cap),
        cmocka_unit_test(test_rate_unlimited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
