/* Unit test of the flowcheck example app through the app test harness. */
#include "app_harness.h"

/* A flow's first packet allocates a mapping; later packets keep it and count. */
static void
test_mapping_and_counters(void **state)
{
    (void) state;
    struct ah_app a;
    ah_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct plane_app_inst *sw = ah_inst(&a, 0, false);
    uint8_t payload[32] = { 0 };
    struct ah_frame f;
    ah_udp4(&f, AH_IP4(10, 0, 0, 1), 1000, AH_IP4(10, 9, 0, 1), 80, payload,
            sizeof payload);

    /* The switch has no state: a miss, and no control logic there. */
    struct plane_run_result r;
    assert_int_equal(ah_run(sw, &f, 0, 1, &r), PLANE_V_MISS);

    for (int i = 0; i < 3; i++) {
        ah_udp4(&f, AH_IP4(10, 0, 0, 1), 1000, AH_IP4(10, 9, 0, 1), 80,
                payload, sizeof payload);
        assert_int_equal(ah_run(ext, &f, 0, 10 + i, &r), PLANE_V_FORWARD);
        assert_int_equal(r.new_flow_ran, i == 0);
    }
    struct plane_pkt pkt;
    ah_parse(&f, &pkt);
    assert_int_equal(ah_reg_u64(&a, ext, ah_obj(&a, "pkts"), &pkt.key), 3);
    assert_int_equal(ah_reg_u64(&a, ext, ah_obj(&a, "per_src"), &pkt.key), 3);
    plane_app_inst_delete(sw);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping_and_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
