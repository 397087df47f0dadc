/* Unit test of the nat example app: both directions translated, stable mappings, exhaustion, drops. */
#include "app_harness.h"

/*
 * Tenant 0: a /24 behind a /30 pool, 4 * 64512 / 256 = 1008 public slots
 * per inside address.  Inside address .7 owns slots [7056, 8064), port
 * 40000 picks slot 7056 + 40000 % 1008 = 7744: 203.0.113.0:(1024 + 7744).
 * Inside .100 port 40000: slot 101488 = 64512 + 36976: 203.0.113.1:38000.
 * Tenant 1: one inside address and two public ports, so inside ports of
 * the same parity collide on the same remote endpoint.
 */
#define T0 "inside=10.1.0.0/24 pool=203.0.113.0/30 ports=1024-65535"
#define T1 "inside=10.2.0.5/32 pool=198.51.100.9/32 ports=5000-5001"
#define IN_PORT 1
#define OUT_PORT 2

static void
nat_load(struct ah_app *a)
{
    ah_load(a);
    ah_params(a, "tenant0", T0, "tenant1", T1, "inside_port", "1", "outside_port", "2",
              NULL);
}

/* Outbound source translated, reply destination translated back, both valid. */
static void
test_both_directions(void **state)
{
    (void) state;
    struct ah_app a;
    nat_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    uint8_t payload[20] = { 1, 2, 3 };
    struct ah_frame f;
    struct plane_run_result r, rr;
    struct plane_pkt pkt;

    for (int i = 0; i < 3; i++) {
        ah_udp4(&f, AH_IP4(10, 1, 0, 7), 40000, AH_IP4(8, 8, 8, 8), 53,
                payload, sizeof payload);
        assert_int_equal(ah_run(ext, &f, IN_PORT, 10 + i, &r), PLANE_V_FORWARD);
        assert_int_equal(r.new_flow_ran, i == 0);
        assert_int_equal(r.egress_port, OUT_PORT);
        ah_parse(&f, &pkt);
        ah_assert_v4(pkt.key.src_addr, AH_IP4(203, 0, 113, 0));
        assert_int_equal(pkt.key.src_port, 1024 + 7744);
        ah_assert_v4(pkt.key.dst_addr, AH_IP4(8, 8, 8, 8));
        assert_int_equal(pkt.key.dst_port, 53);
        ah_assert_csums_ok(&f);
    }

    /* The reply finds the same state (same union key) and goes back in. */
    ah_udp4(&f, AH_IP4(8, 8, 8, 8), 53, AH_IP4(203, 0, 113, 0), 1024 + 7744,
            payload, sizeof payload);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 20, &rr), PLANE_V_FORWARD);
    assert_false(rr.new_flow_ran);
    assert_true(plane_flow_key_eq(&rr.union_key, &r.union_key));
    assert_int_equal(rr.egress_port, IN_PORT);
    ah_parse(&f, &pkt);
    ah_assert_v4(pkt.key.src_addr, AH_IP4(8, 8, 8, 8));
    ah_assert_v4(pkt.key.dst_addr, AH_IP4(10, 1, 0, 7));
    assert_int_equal(pkt.key.dst_port, 40000);
    ah_assert_csums_ok(&f);

    /* TCP, another inside host: another public address of the pool. */
    for (int i = 0; i < 2; i++) {
        ah_tcp4(&f, AH_IP4(10, 1, 0, 100), 40000, AH_IP4(93, 184, 216, 34), 443,
                i ? PLANE_TCP_ACK : PLANE_TCP_SYN, 1000 + (uint32_t) i, 0,
                payload, sizeof payload);
        assert_int_equal(ah_run(ext, &f, IN_PORT, 30 + i, &r), PLANE_V_FORWARD);
        ah_parse(&f, &pkt);
        ah_assert_v4(pkt.key.src_addr, AH_IP4(203, 0, 113, 1));
        assert_int_equal(pkt.key.src_port, 38000);
        ah_assert_csums_ok(&f);
    }
    ah_tcp4(&f, AH_IP4(93, 184, 216, 34), 443, AH_IP4(203, 0, 113, 1), 38000,
            PLANE_TCP_SYN | PLANE_TCP_ACK, 5000, 1001, NULL, 0);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 40, &rr), PLANE_V_FORWARD);
    assert_true(plane_flow_key_eq(&rr.union_key, &r.union_key));
    ah_parse(&f, &pkt);
    ah_assert_v4(pkt.key.dst_addr, AH_IP4(10, 1, 0, 100));
    assert_int_equal(pkt.key.dst_port, 40000);
    ah_assert_csums_ok(&f);

    assert_int_equal(ah_reg_word(&a, ext, "pkts", 0), 7);
    assert_int_equal(ah_reg_word(&a, ext, "pkts", 1), 0);
    assert_int_equal(plane_app_inst_stats(ext)->new_flows, 2);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* Inbound packets without a session are counted drops. */
static void
test_unsolicited(void **state)
{
    (void) state;
    struct ah_app a;
    nat_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct ah_frame f;
    struct plane_run_result r;
    for (int i = 0; i < 2; i++) {
        ah_udp4(&f, AH_IP4(8, 8, 8, 8), 53, AH_IP4(203, 0, 113, 2), 9999, NULL, 0);
        assert_int_equal(ah_run(ext, &f, OUT_PORT, 1, &r), PLANE_V_DROP);
        assert_true(r.new_flow_ran);
        assert_int_equal(r.new_flow_rc, PLANE_EPERM);
        assert_int_equal(r.n_updates, 0);
    }
    /* Tenant 1's pool: counted under tenant 1. */
    ah_udp4(&f, AH_IP4(8, 8, 8, 8), 53, AH_IP4(198, 51, 100, 9), 5000, NULL, 0);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 1, &r), PLANE_V_DROP);
    assert_int_equal(ah_reg_word(&a, ext, "unsolicited", 0), 2);
    assert_int_equal(ah_reg_word(&a, ext, "unsolicited", 1), 1);
    assert_int_equal(plane_app_inst_stats(ext)->dropped, 3);

    /* Traffic of no tenant is dropped by process() itself, even at the
     * switch: no state to look for, nothing to send to a device. */
    struct plane_app_inst *sw = ah_inst(&a, 0, false);
    ah_udp4(&f, AH_IP4(172, 16, 0, 1), 1234, AH_IP4(8, 8, 8, 8), 53, NULL, 0);
    assert_int_equal(ah_run(sw, &f, IN_PORT, 1, &r), PLANE_V_DROP);
    plane_app_inst_delete(sw);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* A slot owned by another inside endpoint (same remote) is a counted drop. */
static void
test_exhaustion(void **state)
{
    (void) state;
    struct ah_app a;
    nat_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct ah_frame f;
    struct plane_run_result r;
    struct plane_pkt pkt;

    ah_udp4(&f, AH_IP4(10, 2, 0, 5), 1000, AH_IP4(1, 1, 1, 1), 80, NULL, 0);
    assert_int_equal(ah_run(ext, &f, IN_PORT, 1, &r), PLANE_V_FORWARD);
    ah_parse(&f, &pkt);
    ah_assert_v4(pkt.key.src_addr, AH_IP4(198, 51, 100, 9));
    assert_int_equal(pkt.key.src_port, 5000);

    /* Port 1002 lands on the same slot: exhausted, counted, no new entry. */
    for (int i = 0; i < 2; i++) {
        ah_udp4(&f, AH_IP4(10, 2, 0, 5), 1002, AH_IP4(1, 1, 1, 1), 80, NULL, 0);
        assert_int_equal(ah_run(ext, &f, IN_PORT, 2, &r), PLANE_V_DROP);
        assert_false(r.new_flow_ran);
    }
    assert_int_equal(ah_reg_word(&a, ext, "exhausted", 1), 2);
    assert_int_equal(ah_reg_word(&a, ext, "exhausted", 0), 0);

    /* The other slot is free. */
    ah_udp4(&f, AH_IP4(10, 2, 0, 5), 1001, AH_IP4(1, 1, 1, 1), 80, NULL, 0);
    assert_int_equal(ah_run(ext, &f, IN_PORT, 3, &r), PLANE_V_FORWARD);
    ah_parse(&f, &pkt);
    assert_int_equal(pkt.key.src_port, 5001);

    /* Another remote endpoint: the same public port is reusable. */
    ah_udp4(&f, AH_IP4(10, 2, 0, 5), 1002, AH_IP4(1, 1, 1, 2), 80, NULL, 0);
    assert_int_equal(ah_run(ext, &f, IN_PORT, 4, &r), PLANE_V_FORWARD);
    ah_parse(&f, &pkt);
    assert_int_equal(pkt.key.src_port, 5000);

    /* Replies reach their own owners. */
    ah_udp4(&f, AH_IP4(1, 1, 1, 2), 80, AH_IP4(198, 51, 100, 9), 5000, NULL, 0);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 5, &r), PLANE_V_FORWARD);
    ah_parse(&f, &pkt);
    assert_int_equal(pkt.key.dst_port, 1002);
    ah_udp4(&f, AH_IP4(1, 1, 1, 1), 80, AH_IP4(198, 51, 100, 9), 5000, NULL, 0);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 6, &r), PLANE_V_FORWARD);
    ah_parse(&f, &pkt);
    assert_int_equal(pkt.key.dst_port, 1000);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* The switch misses without state and, once it has the entries, rewrites
 * both directions exactly as the external device does. */
static void
test_switch_after_copy(void **state)
{
    (void) state;
    struct ah_pair t;
    nat_load(&t.a);
    ah_pair_start(&t);
    struct plane_app_inst *ext = t.ext, *sw = t.sw;
    uint8_t payload[8] = { 9 };
    struct ah_frame f, g;
    struct plane_run_result r, rs;

    ah_udp4(&f, AH_IP4(10, 1, 0, 7), 40000, AH_IP4(8, 8, 8, 8), 53, payload,
            sizeof payload);
    ah_assert_switch_after_copy(&t, &f, IN_PORT, 1, &r);

    ah_udp4(&f, AH_IP4(8, 8, 8, 8), 53, AH_IP4(203, 0, 113, 0), 1024 + 7744,
            payload, sizeof payload);
    g = f;
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 3, &r), PLANE_V_FORWARD);
    assert_int_equal(ah_run(sw, &g, OUT_PORT, 3, &rs), PLANE_V_FORWARD);
    assert_int_equal(rs.egress_port, r.egress_port);
    assert_memory_equal(g.buf, f.buf, f.len);
    assert_int_equal(ah_reg_word(&t.a, sw, "pkts", 0), 2);
    ah_pair_stop(&t);
}

/* state_key() maps both directions to one key and is idempotent. */
static void
test_state_key(void **state)
{
    (void) state;
    struct ah_app a;
    nat_load(&a);
    struct plane_app_inst *sw = ah_inst(&a, 0, false);
    struct plane_flow_key out, in, want;
    plane_flow_key_set_v4(&out, 17, AH_IP4(10, 1, 0, 7), 40000, AH_IP4(8, 8, 8, 8), 53);
    plane_flow_key_set_v4(&in, 17, AH_IP4(8, 8, 8, 8), 53, AH_IP4(203, 0, 113, 0),
                          1024 + 7744);
    ah_assert_state_key(sw, &out, &in);
    ah_assert_state_key(sw, &in, &in);        /* idempotent; the reply's own */
    /* Not a tenant's flow, ICMP: the packet's own key. */
    plane_flow_key_set_v4(&want, 17, AH_IP4(172, 16, 0, 1), 1, AH_IP4(8, 8, 8, 8), 53);
    ah_assert_state_key(sw, &want, &want);
    plane_flow_key_set_v4(&want, 1, AH_IP4(10, 1, 0, 7), 7, AH_IP4(8, 8, 8, 8), 7);
    ah_assert_state_key(sw, &want, &want);
    plane_app_inst_delete(sw);
    ah_unload(&a);
}

/* Bad params fail the instance. */
static void
test_bad_params(void **state)
{
    (void) state;
    static const char *const bad[][2] = {
        { "tenant0", "inside=10.1.0.0/24" },                         /* no pool */
        { "tenant0", "inside=10.1.0.1/24 pool=203.0.113.0/30" },     /* host bits */
        { "tenant0", "inside=10.0.0.0/8 pool=203.0.113.0/32 ports=5000-5001" },
        { "tenant0", "inside=10.1.0.0/24 pool=10.1.0.0/30" },        /* overlap */
        { "tenant0", "inside=10.1.0.0/24 pool=203.0.113.0/30 ports=0-9" },
        { "tenant8", T0 },
        { "colour", "blue" },
        { "inside_port", "70000" },
    };
    ah_assert_bad_params(bad, AH_COUNT(bad), NULL);
    /* Two tenants sharing a pool. */
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "tenant0", T0);
    ah_param(&a, "tenant1", "inside=10.9.0.0/24 pool=203.0.113.2/31");
    assert_null(ah_inst_try(&a, 1, true));
    ah_unload(&a);
    /* No tenant at all. */
    ah_load(&a);
    assert_null(ah_inst_try(&a, 1, true));
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions),
        cmocka_unit_test(test_unsolicited),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_switch_after_copy),
        cmocka_unit_test(test_state_key),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
