/* Tests of fault injection: spec parsing, seeded determinism, rates within tolerance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <plane/error.h>

#include "common/clock.h"
#include "common/fault.h"

static void
test_parse(void **state)
{
    struct plane_fault f;
    assert_int_equal(plane_fault_parse(&f, "drop=0.1,dup=0.05,delay=2ms:5ms,reorder=0.01,seed=42"), 0);
    assert_true(f.drop == 0.1);
    assert_true(f.dup == 0.05);
    assert_true(f.reorder == 0.01);
    assert_true(f.delay == 1.0);
    assert_int_equal(f.delay_min_ns, 2 * PLANE_NS_PER_MS);
    assert_int_equal(f.delay_max_ns, 5 * PLANE_NS_PER_MS);
    assert_int_equal(plane_fault_seed(&f), 42);
    assert_true(plane_fault_active(&f));

    assert_int_equal(plane_fault_parse(&f, "delay=300us,delay_p=0.25,seed=0x10"), 0);
    assert_int_equal(f.delay_min_ns, 300 * PLANE_NS_PER_US);
    assert_int_equal(f.delay_max_ns, 300 * PLANE_NS_PER_US);
    assert_true(f.delay == 0.25);
    assert_int_equal(plane_fault_seed(&f), 16);

    assert_int_equal(plane_fault_parse(&f, ""), 0);
    assert_false(plane_fault_active(&f));
    assert_int_equal(plane_fault_parse(&f, NULL), 0);
    assert_false(plane_fault_active(&f));

    const char *bad[] = {
        "drop=1.5", "drop=-0.1", "drop=", "drop", "nope=1", "delay=5", "delay=5ms:2ms",
        "delay=2xs", "seed=-1", "seed=12a", "dup=0.1x", "delay=ms",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(plane_fault_parse(&f, bad[i]), PLANE_EINVAL);
    }

    /* A formatted spec parses back to the same model. */
    char buf[256];
    struct plane_fault g;
    assert_int_equal(plane_fault_parse(&f, "drop=0.5,dup=0.25,delay=1ms:3ms,seed=7"), 0);
    assert_int_equal(plane_fault_parse(&g, plane_fault_format(&f, buf, sizeof buf)), 0);
    assert_true(g.drop == f.drop && g.dup == f.dup && g.delay == f.delay);
    assert_int_equal(g.delay_min_ns, f.delay_min_ns);
    assert_int_equal(g.seed, f.seed);
}

static void
test_determinism(void **state)
{
    struct plane_fault a, b;
    assert_int_equal(plane_fault_parse(&a, "drop=0.3,dup=0.2,delay=1ms:4ms,delay_p=0.3,reorder=0.1,seed=99"), 0);
    assert_int_equal(plane_fault_parse(&b, "drop=0.3,dup=0.2,delay=1ms:4ms,delay_p=0.3,reorder=0.1,seed=99"), 0);
    for (int i = 0; i < 10000; i++) {
        unsigned x, y;
        uint64_t dx, dy;
        plane_fault_decide(&a, &x, &dx);
        plane_fault_decide(&b, &y, &dy);
        assert_int_equal(x, y);
        assert_int_equal(dx, dy);
        if (x & PLANE_FAULT_DROP) {
            assert_int_equal(x, PLANE_FAULT_DROP);
        }
        if (x & PLANE_FAULT_DELAY) {
            assert_true(dx >= PLANE_NS_PER_MS && dx <= 4 * PLANE_NS_PER_MS);
            assert_false(x & PLANE_FAULT_REORDER);
        } else {
            assert_int_equal(dx, 0);
        }
    }
    assert_memory_equal(&a.stats, &b.stats, sizeof a.stats);

    /* Another seed gives another sequence. */
    struct plane_fault c;
    plane_fault_init(&c, 100);
    plane_fault_init(&a, 99);
    int same = 0;
    for (int i = 0; i < 64; i++) {
        same += plane_fault_rand(&a) == plane_fault_rand(&c);
    }
    assert_true(same < 2);

    /* Without seed= the seed is drawn and can be read back to replay. */
    assert_int_equal(plane_fault_parse(&a, "drop=0.5"), 0);
    printf("drawn seed %llu\n", (unsigned long long) plane_fault_seed(&a));
    plane_fault_init(&b, plane_fault_seed(&a));
    b.drop = 0.5;
    for (int i = 0; i < 100; i++) {
        unsigned x, y;
        uint64_t d;
        plane_fault_decide(&a, &x, &d);
        plane_fault_decide(&b, &y, &d);
        assert_int_equal(x, y);
    }
}

static void
test_rates(void **state)
{
    const int n = 200000;
    struct plane_fault f;
    assert_int_equal(plane_fault_parse(&f, "drop=0.1,dup=0.05,reorder=0.02,delay=1ms:2ms,delay_p=0.2,seed=12345"), 0);
    printf("seed %llu\n", (unsigned long long) plane_fault_seed(&f));
    uint64_t dsum = 0;
    for (int i = 0; i < n; i++) {
        unsigned a;
        uint64_t d;
        plane_fault_decide(&f, &a, &d);
        dsum += d;
    }
    assert_int_equal(f.stats.decisions, n);
    double drop = (double) f.stats.dropped / n;
    double pass = n - (double) f.stats.dropped;
    double dup = f.stats.duplicated / pass;
    double delay = f.stats.delayed / pass;
    double reorder = f.stats.reordered / (pass - f.stats.delayed);
    /* 200k draws: 1% relative tolerance is > 5 sigma for these rates. */
    assert_true(drop > 0.097 && drop < 0.103);
    assert_true(dup > 0.047 && dup < 0.053);
    assert_true(delay > 0.195 && delay < 0.205);
    assert_true(reorder > 0.018 && reorder < 0.022);
    double mean = (double) dsum / f.stats.delayed;
    assert_true(mean > 1.45 * PLANE_NS_PER_MS && mean < 1.55 * PLANE_NS_PER_MS);

    struct plane_fault none;
    plane_fault_init(&none, 1);
    for (int i = 0; i < 1000; i++) {
        unsigned a;
        uint64_t d;
        plane_fault_decide(&none, &a, &d);
        assert_int_equal(a, PLANE_FAULT_PASS);
    }
    for (int i = 0; i < 1000; i++) {
        double r = plane_fault_rand_double(&none);
        assert_true(r >= 0.0 && r < 1.0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
