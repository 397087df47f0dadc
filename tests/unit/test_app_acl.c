/* Unit test of the acl example app: first-match rules per flow, per-tenant drop counters. */
#include "app_harness.h"

#define IN_PORT 1
#define OUT_PORT 3

static void
acl_load(struct ah_app *a)
{
    ah_load(a);
    ah_params(a, "tenant0", "10.1.0.0/16", "tenant1", "10.2.0.0/16",
              "rule0", "deny proto=tcp dport=22",
              "rule1", "allow proto=tcp dst=10.1.0.0/16 dport=80-443 tenant=0",
              "rule2", "allow proto=udp src=192.0.2.0/24 tenant=1",
              "rule5", "deny tenant=1", "default", "allow", "out_port", "3", NULL);
}

/* Runs one packet; proto 6 or 17.  Returns the verdict. */
static enum plane_verdict
run(struct plane_app_inst *inst, uint8_t proto, const uint8_t src[4],
    uint16_t sport, const uint8_t dst[4], uint16_t dport,
    struct plane_run_result *r)
{
    struct ah_frame f, g;
    if (proto == 6) {
        ah_tcp4(&f, src, sport, dst, dport, PLANE_TCP_SYN, 1, 0, NULL, 0);
    } else {
        ah_udp4(&f, src, sport, dst, dport, "x", 1);
    }
    g = f;
    enum plane_verdict v = ah_run(inst, &f, IN_PORT, 1, r);
    assert_memory_equal(f.buf, g.buf, g.len);   /* an ACL never rewrites */
    return v;
}

/* The rule a new flow's decision came from (byte 2 of the verdicts value). */
static int
decided_by(const struct plane_run_result *r)
{
    assert_true(r->new_flow_ran);
    assert_int_equal(r->n_updates, 1);
    assert_int_equal(r->updates[0].op, PLANE_RUN_INSERT);
    return r->updates[0].value[2];
}

static void
test_rules(void **state)
{
    (void) state;
    struct ah_app a;
    acl_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct plane_run_result r;
    const uint8_t *x = AH_IP4(1, 1, 1, 1), *vm0 = AH_IP4(10, 1, 0, 5),
                  *vm1 = AH_IP4(10, 2, 0, 1);

    /* rule0 before rule1: ssh denied even to tenant 0. */
    assert_int_equal(run(ext, 6, x, 1000, vm0, 22, &r), PLANE_V_DROP);
    assert_int_equal(decided_by(&r), 0);
    assert_int_equal(run(ext, 6, x, 1000, vm0, 22, &r), PLANE_V_DROP);
    assert_false(r.new_flow_ran);
    /* rule1. */
    assert_int_equal(run(ext, 6, x, 1000, vm0, 443, &r), PLANE_V_FORWARD);
    assert_int_equal(decided_by(&r), 1);
    assert_int_equal(r.egress_port, OUT_PORT);
    /* No rule: the default (allow). */
    assert_int_equal(run(ext, 6, x, 1000, vm0, 8080, &r), PLANE_V_FORWARD);
    assert_int_equal(decided_by(&r), 0xff);
    /* rule2 for tenant 1's allowed source; rule5 denies the rest of it. */
    assert_int_equal(run(ext, 17, AH_IP4(192, 0, 2, 9), 5, vm1, 53, &r),
                     PLANE_V_FORWARD);
    assert_int_equal(decided_by(&r), 2);
    assert_int_equal(run(ext, 17, AH_IP4(198, 51, 100, 1), 5, vm1, 53, &r),
                     PLANE_V_DROP);
    assert_int_equal(decided_by(&r), 5);
    /* rule1 is tenant 0's: a tenant 1 web flow falls to rule5. */
    assert_int_equal(run(ext, 6, x, 1000, vm1, 80, &r), PLANE_V_DROP);
    assert_int_equal(decided_by(&r), 5);
    /* The tenant of an outbound flow is its source's. */
    assert_int_equal(run(ext, 6, vm0, 1000, AH_IP4(8, 8, 8, 8), 22, &r),
                     PLANE_V_DROP);
    assert_int_equal(decided_by(&r), 0);
    /* No tenant: denied, counted by the runtime only. */
    assert_int_equal(run(ext, 17, x, 1, AH_IP4(172, 16, 0, 1), 53, &r),
                     PLANE_V_DROP);
    assert_int_equal(run(ext, 17, x, 1, AH_IP4(172, 16, 0, 1), 53, &r),
                     PLANE_V_DROP);

    assert_int_equal(ah_reg_word(&a, ext, "dropped", 0), 3);
    assert_int_equal(ah_reg_word(&a, ext, "dropped", 1), 2);
    assert_int_equal(ah_reg_word(&a, ext, "passed", 0), 2);
    assert_int_equal(ah_reg_word(&a, ext, "passed", 1), 1);
    const struct plane_app_inst_stats *s = plane_app_inst_stats(ext);
    assert_int_equal(s->dropped, 7);
    assert_int_equal(s->forwarded, 3);
    assert_int_equal(s->new_flows, 8);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* default deny (the default default), and an empty rule list. */
static void
test_default_deny(void **state)
{
    (void) state;
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "tenant3", "10.3.0.0/16");
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct plane_run_result r;
    assert_int_equal(run(ext, 6, AH_IP4(1, 1, 1, 1), 1, AH_IP4(10, 3, 0, 1), 80, &r),
                     PLANE_V_DROP);
    assert_int_equal(ah_reg_word(&a, ext, "dropped", 3), 1);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* The switch misses first, then decides every flow as the device did. */
static void
test_switch_after_copy(void **state)
{
    (void) state;
    struct ah_pair t;
    acl_load(&t.a);
    ah_pair_start(&t);
    struct plane_app_inst *ext = t.ext, *sw = t.sw;
    struct plane_run_result r, rs;
    const uint8_t *x = AH_IP4(1, 1, 1, 1), *vm0 = AH_IP4(10, 1, 0, 5);
    static const uint16_t dports[] = { 22, 80, 8080 };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(run(sw, 6, x, 1000, vm0, dports[i], &rs), PLANE_V_MISS);
        enum plane_verdict v = run(ext, 6, x, 1000, vm0, dports[i], &r);
        ah_copy_tables(ext, sw, &r.union_key);
        assert_int_equal(run(sw, 6, x, 1000, vm0, dports[i], &rs), v);
        assert_false(rs.new_flow_ran);
        if (v == PLANE_V_FORWARD) {
            assert_int_equal(rs.egress_port, r.egress_port);
        }
    }
    assert_int_equal(ah_reg_word(&t.a, sw, "dropped", 0), 1);
    assert_int_equal(ah_reg_word(&t.a, sw, "passed", 0), 2);
    ah_pair_stop(&t);
}

static void
test_bad_params(void **state)
{
    (void) state;
    static const char *const bad[][2] = {
        { "rule0", "permit" },
        { "rule0", "allow proto=sctp" },
        { "rule0", "allow dport=9-1" },
        { "rule0", "allow src=10.0.0.1/8" },
        { "rule0", "allow tenant=8" },
        { "rule0", "allow colour=red" },
        { "rule64", "allow" },
        { "tenant0", "10.1.0.0" "/40" },
        { "default", "maybe" },
        { "out_port", "-1" },
        { "colour", "blue" },
    };
    ah_assert_bad_params(bad, AH_COUNT(bad), NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_default_deny),
        cmocka_unit_test(test_switch_after_copy),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
