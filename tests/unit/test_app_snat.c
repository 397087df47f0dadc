/* Unit test of the snat example app: per-flow port allocation by new_flow(), stable mappings, exhaustion. */
#include "app_harness.h"

#define IN_PORT 1
#define OUT_PORT 2

/* Ports 10000-10007 in two slices: device 1 gets 10004-10007, device 2
 * 10000-10003. */
static void
snat_load(struct ah_app *a)
{
    ah_load(a);
    ah_params(a, "address", "203.0.113.7", "ports", "10000-10007", "slices", "2",
              "inside", "10.0.0.0/8", "out_port", "2", NULL);
}

/*
 * Sends a UDP packet of flow 10.0.0.h:sport -> 8.8.8.8:53 through inst and
 * returns its translated source port (0 when not forwarded).
 */
static uint16_t
send_flow(struct plane_app_inst *inst, uint8_t h, uint16_t sport,
          struct plane_run_result *r)
{
    struct ah_frame f;
    struct plane_pkt pkt;
    ah_udp4(&f, AH_IP4(10, 0, 0, h), sport, AH_IP4(8, 8, 8, 8), 53, "q", 1);
    if (ah_run(inst, &f, IN_PORT, 1, r) != PLANE_V_FORWARD) {
        return 0;
    }
    assert_int_equal(r->egress_port, OUT_PORT);
    ah_parse(&f, &pkt);
    ah_assert_v4(pkt.key.src_addr, AH_IP4(203, 0, 113, 7));
    ah_assert_v4(pkt.key.dst_addr, AH_IP4(8, 8, 8, 8));
    assert_int_equal(pkt.key.dst_port, 53);
    ah_assert_csums_ok(&f);
    return pkt.key.src_port;
}

static void
test_allocation(void **state)
{
    (void) state;
    struct ah_app a;
    snat_load(&a);
    struct plane_app_inst *d1 = ah_inst(&a, 1, true);
    struct plane_app_inst *d2 = ah_inst(&a, 2, true);
    struct plane_run_result r;

    assert_int_equal(send_flow(d1, 1, 1111, &r), 10004);
    assert_true(r.new_flow_ran);
    assert_int_equal(send_flow(d1, 1, 1111, &r), 10004);     /* stable */
    assert_false(r.new_flow_ran);
    assert_int_equal(send_flow(d1, 1, 1112, &r), 10005);
    assert_int_equal(send_flow(d1, 2, 1111, &r), 10006);
    assert_int_equal(send_flow(d1, 3, 1111, &r), 10007);
    /* Device 1's slice is used up: refused and counted. */
    assert_int_equal(send_flow(d1, 4, 1111, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_DROP);
    assert_int_equal(r.new_flow_rc, PLANE_EPERM);
    assert_int_equal(send_flow(d1, 4, 1112, &r), 0);
    struct plane_flow_key any;
    plane_flow_key_set_v4(&any, 17, AH_IP4(1, 1, 1, 1), 1, AH_IP4(2, 2, 2, 2), 2);
    assert_int_equal(ah_reg_u64(&a, d1, ah_obj(&a, "exhausted"), &any), 2);
    /* Mapped flows keep working. */
    assert_int_equal(send_flow(d1, 1, 1111, &r), 10004);
    assert_int_equal(send_flow(d1, 3, 1111, &r), 10007);

    /* Device 2 allocates from its own slice, independently. */
    assert_int_equal(send_flow(d2, 4, 1111, &r), 10000);
    assert_int_equal(send_flow(d2, 1, 1111, &r), 10001);

    /* TCP too. */
    struct ah_frame f;
    struct plane_pkt pkt;
    ah_tcp4(&f, AH_IP4(10, 9, 9, 9), 2222, AH_IP4(1, 1, 1, 1), 443, PLANE_TCP_SYN,
            1, 0, "hello", 5);
    assert_int_equal(ah_run(d2, &f, IN_PORT, 1, &r), PLANE_V_FORWARD);
    ah_parse(&f, &pkt);
    assert_int_equal(pkt.key.src_port, 10002);
    ah_assert_csums_ok(&f);
    plane_app_inst_delete(d2);
    plane_app_inst_delete(d1);
    ah_unload(&a);
}

/* Only inside sources are translated: a reply to the public address is
 * not mistaken for a new outbound flow. */
static void
test_outbound_only(void **state)
{
    (void) state;
    struct ah_app a;
    snat_load(&a);
    struct plane_app_inst *d1 = ah_inst(&a, 1, true);
    struct plane_run_result r;
    struct ah_frame f, g;
    ah_udp4(&f, AH_IP4(8, 8, 8, 8), 53, AH_IP4(203, 0, 113, 7), 10004, NULL, 0);
    g = f;
    assert_int_equal(ah_run(d1, &f, OUT_PORT, 1, &r), PLANE_V_DROP);
    assert_int_equal(r.new_flow_rc, PLANE_EPERM);
    assert_int_equal(r.n_updates, 0);
    assert_memory_equal(f.buf, g.buf, g.len);
    /* The allocator did not move. */
    assert_int_equal(send_flow(d1, 1, 1, &r), 10004);
    plane_app_inst_delete(d1);
    ah_unload(&a);
}

static void
test_switch_after_copy(void **state)
{
    (void) state;
    struct ah_pair t;
    snat_load(&t.a);
    ah_pair_start(&t);
    struct ah_frame f;
    struct plane_run_result r;
    ah_tcp4(&f, AH_IP4(10, 0, 0, 1), 3333, AH_IP4(1, 1, 1, 1), 80, PLANE_TCP_ACK,
            5, 6, "data", 4);
    ah_assert_switch_after_copy(&t, &f, IN_PORT, 1, &r);
    ah_pair_stop(&t);
}

static void
test_bad_params(void **state)
{
    (void) state;
    static const char *const bad[][2] = {
        { "address", "nowhere" },
        { "ports", "10-5" },
        { "ports", "0-5" },
        { "ports", "80" },
        { "slices", "0" },
        { "slices", "100" },
        { "inside", "10.0.0.1/8" },
        { "inside", "10.0.0.0" },
        { "colour", "blue" },
    };
    static const char *const base[] = {
        "address", "203.0.113.7",
        "ports", "1000-1009",
        NULL,
    };
    ah_assert_bad_params(bad, AH_COUNT(bad), base);
    struct ah_app a;
    ah_load(&a);
    assert_null(ah_inst_try(&a, 1, true));     /* no address */
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocation),
        cmocka_unit_test(test_outbound_only),
        cmocka_unit_test(test_switch_after_copy),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
