/* Unit test of the vpngw example app: per-tenant tunnel mapping and per-tenant packet counter. */
#include "app_harness.h"

#define IN_PORT 1

static void
vpn_load(struct ah_app *a)
{
    ah_load(a);
    ah_params(a, "local", "192.0.2.1",
              "tenant0", "prefix=10.1.0.0/16 endpoint=198.51.100.1 port=5",
              "tenant2", "prefix=10.2.0.0/16 endpoint=198.51.100.2", NULL);
}

static void
test_tunnel(void **state)
{
    (void) state;
    struct ah_app a;
    vpn_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct ah_frame f;
    struct plane_run_result r;
    struct plane_pkt pkt;
    uint8_t payload[40];
    for (size_t i = 0; i < sizeof payload; i++) {
        payload[i] = (uint8_t) i;
    }

    for (int i = 0; i < 3; i++) {
        ah_udp4(&f, AH_IP4(1, 1, 1, 1), 1000, AH_IP4(10, 1, 0, 9), 80, payload,
                sizeof payload);
        assert_int_equal(ah_run(ext, &f, IN_PORT, 1, &r), PLANE_V_FORWARD);
        assert_int_equal(r.new_flow_ran, i == 0);
        assert_int_equal(r.egress_port, 5);
        ah_parse(&f, &pkt);
        ah_assert_v4(pkt.key.src_addr, AH_IP4(192, 0, 2, 1));
        ah_assert_v4(pkt.key.dst_addr, AH_IP4(198, 51, 100, 1));
        assert_int_equal(pkt.key.src_port, 1000);
        assert_int_equal(pkt.key.dst_port, 80);
        assert_int_equal(pkt.payload_len, sizeof payload);
        assert_memory_equal(f.buf + pkt.payload_off, payload, sizeof payload);
        ah_assert_csums_ok(&f);
    }
    assert_int_equal(ah_reg_word(&a, ext, "pkts", 0), 3);

    /* Tenant 2, TCP, egress = in port (no port configured). */
    ah_tcp4(&f, AH_IP4(5, 5, 5, 5), 4000, AH_IP4(10, 2, 3, 4), 443, PLANE_TCP_SYN,
            7, 0, NULL, 0);
    assert_int_equal(ah_run(ext, &f, IN_PORT, 2, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, IN_PORT);
    ah_parse(&f, &pkt);
    ah_assert_v4(pkt.key.dst_addr, AH_IP4(198, 51, 100, 2));
    ah_assert_csums_ok(&f);
    assert_int_equal(ah_reg_word(&a, ext, "pkts", 2), 1);
    assert_int_equal(ah_reg_word(&a, ext, "pkts", 0), 3);
    assert_int_equal(ah_reg_word(&a, ext, "pkts", 1), 0);

    /* No tenant: refused, nothing inserted, frame untouched. */
    struct ah_frame g;
    ah_udp4(&f, AH_IP4(1, 1, 1, 1), 1000, AH_IP4(172, 16, 0, 1), 80, NULL, 0);
    g = f;
    assert_int_equal(ah_run(ext, &f, IN_PORT, 3, &r), PLANE_V_DROP);
    assert_int_equal(r.new_flow_rc, PLANE_EPERM);
    assert_int_equal(r.n_updates, 0);
    assert_memory_equal(f.buf, g.buf, g.len);
    assert_int_equal(plane_app_inst_stats(ext)->new_flow_denied, 1);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

static void
test_switch_after_copy(void **state)
{
    (void) state;
    struct ah_pair t;
    vpn_load(&t.a);
    ah_pair_start(&t);
    struct ah_frame f;
    struct plane_run_result r;
    ah_udp4(&f, AH_IP4(1, 1, 1, 1), 1000, AH_IP4(10, 1, 0, 9), 80, "abc", 3);
    ah_assert_switch_after_copy(&t, &f, IN_PORT, 1, &r);
    assert_int_equal(ah_reg_word(&t.a, t.sw, "pkts", 0), 1);
    ah_pair_stop(&t);
}

static void
test_bad_params(void **state)
{
    (void) state;
    static const char *const bad[][2] = {
        { "tenant0", "prefix=10.1.0.0/16" },
        { "tenant0", "endpoint=198.51.100.1" },
        { "tenant0", "prefix=10.1.0.1/16 endpoint=198.51.100.1" },
        { "tenant0", "prefix=10.1.0.0/16 endpoint=198.51.100.1 port=x" },
        { "tenant9", "prefix=10.1.0.0/16 endpoint=198.51.100.1" },
        { "local", "gateway" },
    };
    static const char *const base[] = {
        "local", "192.0.2.1",
        "tenant7", "prefix=10.7.0.0/16 endpoint=198.51.100.7",
        NULL,
    };
    ah_assert_bad_params(bad, AH_COUNT(bad), base);
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "tenant0", "prefix=10.1.0.0/16 endpoint=198.51.100.1");
    assert_null(ah_inst_try(&a, 1, true));      /* no local address */
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tunnel),
        cmocka_unit_test(test_switch_after_copy),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
