/* Tests of logging: per-module levels, the sink, and rate limiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <plane/error.h>

#include "common/clock.h"
#include "common/log.h"

PLANE_LOG_MODULE(test_log);

struct capture {
    int lines;
    char last[1024];
};

static void
capture_sink(void *arg, const char *module, enum plane_log_level level, const char *line)
{
    struct capture *c = arg;
    c->lines++;
    snprintf(c->last, sizeof c->last, "%s:%s", module, line);
}

static void
test_levels(void **state)
{
    struct capture c = {0};
    plane_log_set_sink(capture_sink, &c);
    plane_log_set_default_level(PLANE_LOG_INFO);
    PLANE_DBG("hidden %d", 1);
    assert_int_equal(c.lines, 0);
    PLANE_INFO("shown %d", 2);
    assert_int_equal(c.lines, 1);
    assert_string_equal(c.last, "test_log:shown 2");

    assert_int_equal(plane_log_configure("warn,test_log=debug"), 0);
    PLANE_DBG("now shown");
    assert_int_equal(c.lines, 2);
    assert_int_equal(plane_log_configure("loud"), PLANE_EINVAL);
    assert_int_equal(plane_log_set_level("test_log", PLANE_LOG_ERR), 0);
    PLANE_WARN("hidden again");
    assert_int_equal(c.lines, 2);
    plane_log_set_sink(NULL, NULL);
}

static void
test_rate_limit(void **state)
{
    struct capture c = {0};
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 10);
    plane_log_set_sink(capture_sink, &c);
    plane_log_set_level("test_log", PLANE_LOG_DBG);
    plane_clock_warp_enable(1000 * PLANE_NS_PER_SEC);
    for (int i = 0; i < 1000; i++) {
        PLANE_WARN_RL(&rl, "per packet %d", i);
    }
    assert_int_equal(c.lines, 5);
    /* One second later ten tokens have accrued, capped at the burst of 5. */
    plane_clock_warp(PLANE_NS_PER_SEC);
    PLANE_WARN_RL(&rl, "after a second");
    assert_int_equal(c.lines, 6);
    assert_string_equal(c.last,
        "test_log:after a second (995 similar messages suppressed)");
    for (int i = 0; i < 1000; i++) {
        PLANE_WARN_RL(&rl, "per packet %d", i);
    }
    assert_int_equal(c.lines, 10);
    plane_clock_warp_disable();
    plane_log_set_sink(NULL, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
