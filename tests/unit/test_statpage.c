/* Tests of STATS paging and filtering (common/statpage.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/mp.h"
#include "common/statpage.h"

/* Offers 300 counters "a.N" and 300 "b.N"; returns the page's ".next" (0: none). */
static uint64_t
page(struct plane_mp_zone *z, const struct plane_body_stats *req, size_t budget,
     struct plane_body_stats *out)
{
    struct plane_stat_page p;
    assert_int_equal(plane_stat_page_init(&p, req, z, 1024, budget), 0);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "a.%d", i);
        plane_stat_page_add(&p, name, (uint64_t) i);
        plane_stat_page_add2(&p, "b", name + 2, (uint64_t) (1000 + i));
    }
    assert_int_equal(plane_stat_page_finish(&p, out), 0);
    uint64_t next = 0;
    if (out->n_stats && !strcmp(out->stats[out->n_stats - 1].name, PLANE_STAT_NEXT)) {
        next = out->stats[out->n_stats - 1].value;
        out->n_stats--;
    }
    return next;
}

/* Pages cover every matching counter exactly once, in order. */
static void
test_paging(void **state)
{
    (void) state;
    struct plane_mp_zone z;
    assert_int_equal(plane_mp_zone_init(&z, 0), 0);
    struct plane_body_stat f[2] = { { .name = "b." }, { .name = PLANE_STAT_OFFSET } };
    struct plane_body_stats req = { .n_stats = 2, .stats = f };
    uint64_t seen = 0, pages = 0;
    for (;;) {
        struct plane_body_stats out;
        uint64_t next = page(&z, &req, 1000, &out);
        for (uint32_t i = 0; i < out.n_stats; i++) {
            assert_int_equal(out.stats[i].value, 1000 + seen);
            seen++;
        }
        pages++;
        plane_mp_zone_clear(&z);
        if (!next) {
            break;
        }
        assert_int_equal(next, seen);
        f[1].value = next;
    }
    assert_int_equal(seen, 300);
    assert_true(pages > 1);
    /* No request: everything, in one page when the budget allows. */
    struct plane_body_stats out;
    assert_int_equal(page(&z, NULL, 100000, &out), 0);
    assert_int_equal(out.n_stats, 600);
    plane_mp_zone_uninit(&z);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
