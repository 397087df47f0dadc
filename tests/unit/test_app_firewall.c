/* Unit test of the firewall example app: connections from inside pass both ways, the rest is dropped. */
#include "app_harness.h"

#define IN_PORT 1
#define OUT_PORT 2

static void
fw_load(struct ah_app *a)
{
    ah_load(a);
    ah_params(a, "inside", "10.0.0.0/8, 192.168.0.0/16", "inside_port", "1",
              "outside_port", "2", NULL);
}

/* Word 0 of per-source register `obj` for host a.b.c.d. */
static uint64_t
host_count(const struct ah_app *a, struct plane_app_inst *inst, const char *obj,
           const uint8_t host[4])
{
    struct plane_flow_key k;
    plane_flow_key_set_v4(&k, 6, host, 1, AH_IP4(0, 0, 0, 0), 2);
    return ah_reg_u64(a, inst, ah_obj(a, obj), &k);
}

/* Runs a TCP segment and checks that the firewall left the frame alone. */
static enum plane_verdict
run_tcp(struct plane_app_inst *inst, const uint8_t src[4], uint16_t sport,
        const uint8_t dst[4], uint16_t dport, uint8_t flags, uint16_t in_port,
        struct plane_run_result *r)
{
    struct ah_frame f, g;
    ah_tcp4(&f, src, sport, dst, dport, flags, 100, 200, "hi", 2);
    g = f;
    enum plane_verdict v = ah_run(inst, &f, in_port, 1, r);
    assert_memory_equal(f.buf, g.buf, g.len);
    return v;
}

/* A SYN from inside opens a connection: replies and later segments pass. */
static void
test_established(void **state)
{
    (void) state;
    struct ah_app a;
    fw_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct plane_run_result r, rr;
    const uint8_t *in = AH_IP4(10, 0, 0, 5), *out = AH_IP4(1, 2, 3, 4);

    assert_int_equal(run_tcp(ext, in, 5555, out, 80, PLANE_TCP_SYN, IN_PORT, &r),
                     PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.n_updates, 1);
    assert_int_equal(r.egress_port, OUT_PORT);
    assert_int_equal(run_tcp(ext, out, 80, in, 5555, PLANE_TCP_SYN | PLANE_TCP_ACK,
                             OUT_PORT, &rr), PLANE_V_FORWARD);
    assert_false(rr.new_flow_ran);
    assert_int_equal(rr.egress_port, IN_PORT);
    assert_true(plane_flow_key_eq(&rr.union_key, &r.union_key));
    assert_int_equal(run_tcp(ext, in, 5555, out, 80, PLANE_TCP_ACK, IN_PORT, &r),
                     PLANE_V_FORWARD);
    assert_false(r.new_flow_ran);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run_tcp(ext, out, 80, in, 5555, PLANE_TCP_ACK, OUT_PORT, &r),
                         PLANE_V_FORWARD);
    }
    assert_int_equal(host_count(&a, ext, "per_src", in), 6);
    assert_int_equal(host_count(&a, ext, "blocked", in), 0);

    /* UDP: the first outbound packet opens the "connection". */
    struct ah_frame f;
    ah_udp4(&f, AH_IP4(192, 168, 1, 1), 3000, AH_IP4(9, 9, 9, 9), 53, NULL, 0);
    assert_int_equal(ah_run(ext, &f, IN_PORT, 2, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    ah_udp4(&f, AH_IP4(9, 9, 9, 9), 53, AH_IP4(192, 168, 1, 1), 3000, NULL, 0);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 3, &r), PLANE_V_FORWARD);
    assert_false(r.new_flow_ran);
    assert_int_equal(host_count(&a, ext, "per_src", AH_IP4(192, 168, 1, 1)), 2);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* Inbound packets of unknown connections, and mid-stream outbound segments
 * without a SYN, are dropped and counted against the inside host. */
static void
test_unknown_dropped(void **state)
{
    (void) state;
    struct ah_app a;
    fw_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct plane_run_result r;
    const uint8_t *in = AH_IP4(10, 0, 0, 5), *out = AH_IP4(6, 6, 6, 6);

    assert_int_equal(run_tcp(ext, out, 1234, in, 22, PLANE_TCP_SYN, OUT_PORT, &r),
                     PLANE_V_DROP);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.new_flow_rc, PLANE_EPERM);
    assert_int_equal(r.n_updates, 0);
    /* A forged reply to a connection that was never opened. */
    assert_int_equal(run_tcp(ext, out, 80, in, 5555, PLANE_TCP_SYN | PLANE_TCP_ACK,
                             OUT_PORT, &r), PLANE_V_DROP);
    /* An outbound segment without SYN does not open a connection. */
    assert_int_equal(run_tcp(ext, in, 5555, out, 80, PLANE_TCP_ACK, IN_PORT, &r),
                     PLANE_V_DROP);
    assert_int_equal(run_tcp(ext, in, 5555, out, 80, PLANE_TCP_SYN | PLANE_TCP_ACK,
                             IN_PORT, &r), PLANE_V_DROP);
    assert_int_equal(host_count(&a, ext, "blocked", in), 4);
    assert_int_equal(host_count(&a, ext, "per_src", in), 0);

    /* Inbound UDP to an inside host: dropped too. */
    struct ah_frame f;
    ah_udp4(&f, out, 53, in, 3000, NULL, 0);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 2, &r), PLANE_V_DROP);
    assert_int_equal(host_count(&a, ext, "blocked", in), 5);

    /* Transit traffic (no inside end) is dropped by process(), no new_flow. */
    ah_udp4(&f, out, 53, AH_IP4(7, 7, 7, 7), 3000, NULL, 0);
    assert_int_equal(ah_run(ext, &f, OUT_PORT, 3, &r), PLANE_V_DROP);
    assert_false(r.new_flow_ran);
    assert_int_equal(plane_app_inst_stats(ext)->dropped, 6);
    assert_int_equal(plane_app_inst_stats(ext)->forwarded, 0);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* The per-source counter is one entry per inside host shared by its flows. */
static void
test_per_source_shared(void **state)
{
    (void) state;
    struct ah_app a;
    fw_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct plane_run_result r;
    const uint8_t *h5 = AH_IP4(10, 0, 0, 5), *h6 = AH_IP4(10, 0, 0, 6);
    for (uint16_t p = 0; p < 4; p++) {
        assert_int_equal(run_tcp(ext, h5, (uint16_t) (6000 + p), AH_IP4(1, 1, 1, 1), 443,
                                 PLANE_TCP_SYN, IN_PORT, &r), PLANE_V_FORWARD);
        assert_int_equal(run_tcp(ext, AH_IP4(1, 1, 1, 1), 443, h5, (uint16_t) (6000 + p),
                                 PLANE_TCP_SYN | PLANE_TCP_ACK, OUT_PORT, &r),
                         PLANE_V_FORWARD);
    }
    assert_int_equal(run_tcp(ext, h6, 6000, AH_IP4(1, 1, 1, 1), 443, PLANE_TCP_SYN,
                             IN_PORT, &r), PLANE_V_FORWARD);
    assert_int_equal(host_count(&a, ext, "per_src", h5), 8);
    assert_int_equal(host_count(&a, ext, "per_src", h6), 1);
    assert_int_equal(plane_object_count(plane_app_inst_object(ext, ah_obj(&a, "conns"))), 5);
    assert_int_equal(plane_object_count(plane_app_inst_object(ext, ah_obj(&a, "per_src"))), 2);
    plane_app_inst_delete(ext);
    ah_unload(&a);
}

/* The switch misses without state and passes the same packets once the
 * connection's entries are copied to it. */
static void
test_switch_after_copy(void **state)
{
    (void) state;
    struct ah_pair t;
    fw_load(&t.a);
    ah_pair_start(&t);
    struct plane_app_inst *ext = t.ext, *sw = t.sw;
    struct plane_run_result r, rs;
    const uint8_t *in = AH_IP4(10, 0, 0, 5), *out = AH_IP4(1, 2, 3, 4);

    assert_int_equal(run_tcp(sw, in, 5555, out, 80, PLANE_TCP_SYN, IN_PORT, &rs),
                     PLANE_V_MISS);
    assert_int_equal(run_tcp(sw, out, 80, in, 5555, PLANE_TCP_ACK, OUT_PORT, &rs),
                     PLANE_V_MISS);
    assert_int_equal(run_tcp(ext, in, 5555, out, 80, PLANE_TCP_SYN, IN_PORT, &r),
                     PLANE_V_FORWARD);
    assert_true(plane_flow_key_eq(&rs.union_key, &r.union_key));
    ah_copy_tables(ext, sw, &r.union_key);

    assert_int_equal(run_tcp(sw, out, 80, in, 5555, PLANE_TCP_ACK, OUT_PORT, &rs),
                     PLANE_V_FORWARD);
    assert_int_equal(run_tcp(ext, out, 80, in, 5555, PLANE_TCP_ACK, OUT_PORT, &r),
                     PLANE_V_FORWARD);
    assert_int_equal(rs.egress_port, r.egress_port);
    assert_int_equal(run_tcp(sw, in, 5555, out, 80, PLANE_TCP_ACK, IN_PORT, &rs),
                     PLANE_V_FORWARD);
    assert_int_equal(rs.egress_port, OUT_PORT);
    assert_int_equal(host_count(&t.a, sw, "per_src", in), 2);
    /* Another connection is still unknown at the switch. */
    assert_int_equal(run_tcp(sw, out, 81, in, 5555, PLANE_TCP_ACK, OUT_PORT, &rs),
                     PLANE_V_MISS);
    ah_pair_stop(&t);
}

static void
test_state_key(void **state)
{
    (void) state;
    struct ah_app a;
    fw_load(&a);
    struct plane_app_inst *sw = ah_inst(&a, 0, false);
    struct plane_flow_key o, i;
    plane_flow_key_set_v4(&o, 6, AH_IP4(10, 0, 0, 5), 5555, AH_IP4(1, 2, 3, 4), 80);
    plane_flow_key_reverse(&o, &i);
    ah_assert_state_key(sw, &i, &o);
    ah_assert_state_key(sw, &o, &o);          /* idempotent */
    /* Inside to inside keeps its own direction. */
    plane_flow_key_set_v4(&o, 6, AH_IP4(10, 0, 0, 5), 1, AH_IP4(192, 168, 0, 1), 2);
    ah_assert_state_key(sw, &o, &o);
    plane_app_inst_delete(sw);
    ah_unload(&a);
}

static void
test_bad_params(void **state)
{
    (void) state;
    static const char *const bad[][2] = {
        { "inside", "10.0.0.1/8" },
        { "inside", "10.0.0.0/33" },
        { "inside", "" },
        { "inside", "10.0.0.0/8,,10.1.0.0/16" },
        { "outside_port", "x" },
        { "colour", "blue" },
    };
    ah_assert_bad_params(bad, AH_COUNT(bad), NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_established),
        cmocka_unit_test(test_unknown_dropped),
        cmocka_unit_test(test_per_source_shared),
        cmocka_unit_test(test_switch_after_copy),
        cmocka_unit_test(test_state_key),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
