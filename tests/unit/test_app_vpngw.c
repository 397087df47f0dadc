/* Unit test of the vpngw example app: per-tenant tunnel mapping and per-tenant packet counter. */
#include "app_harness.h"

#define IN_PORT 1

static void
vpn_load(struct ah_app *a)
{
    ah_load(a);
    ah_param(a, "local", "192.0.2.1");
    ah_param(a, "tenant0", "prefix=10.1.0.0/16 endpoint=198.51.100.1 port=5");
    ah_param(a, "tenant2", "prefix=10.2.0.0/16 endpoint=198.51.100.2");
}

/* Word t of the per-tenant register (key_fields 0: the one zero-key entry). */
static uint64_t
tenant_word(const struct ah_app *a, struct plane_app_inst *inst, int t)
{
    struct plane_flow_key zero;
    plane_flow_key_init(&zero);
    uint64_t v[8] = { 0 };
    if (plane_object_get(plane_app_inst_object(inst, ah_obj(a, "pkts")), &zero,
                         sizeof zero, v) != 0) {
        return 0;
    }
    return v[t];
}

/* The frame's checksums equal freshly computed ones. */
static void
assert_csums_ok(const struct ah_frame *f)
{
    static struct ah_frame g;
    struct plane_pkt pkt;
    g = *f;
    ah_parse(&g, &pkt);
    assert_int_equal(plane_pkt_recompute_csums(g.buf, &pkt), 0);
    assert_memory_equal(g.buf, f->buf, f->len);
}

static int
copy_entry(void *arg, uint16_t obj, const void *key, size_t klen, const void *value)
{
    struct plane_app_inst *to = arg;
    struct plane_object *o = plane_app_inst_object(to, obj);
    if (value && plane_object_kind(o) == PLANE_OBJ_TABLE) {
        assert_int_equal(plane_object_insert(o, key, klen, value), 0);
    }
    return 0;
}

/* Copies union key uk's table entries, as a two-phase update would. */
static void
copy_state(struct plane_app_inst *from, struct plane_app_inst *to,
           const struct plane_flow_key *uk)
{
    assert_int_equal(plane_app_inst_entry_keys(from, uk, copy_entry, to), 0);
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
        assert_memory_equal(pkt.key.src_addr + PLANE_FLOW_V4_OFF, AH_IP4(192, 0, 2, 1), 4);
        assert_memory_equal(pkt.key.dst_addr + PLANE_FLOW_V4_OFF,
                            AH_IP4(198, 51, 100, 1), 4);
        assert_int_equal(pkt.key.src_port, 1000);
        assert_int_equal(pkt.key.dst_port, 80);
        assert_int_equal(pkt.payload_len, sizeof payload);
        assert_memory_equal(f.buf + pkt.payload_off, payload, sizeof payload);
        assert_csums_ok(&f);
    }
    assert_int_equal(tenant_word(&a, ext, 0), 3);

    /* Tenant 2, TCP, egress = in port (no port configured). */
    ah_tcp4(&f, AH_IP4(5, 5, 5, 5), 4000, AH_IP4(10, 2, 3, 4), 443, PLANE_TCP_SYN,
            7, 0, NULL, 0);
    assert_int_equal(ah_run(ext, &f, IN_PORT, 2, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, IN_PORT);
    ah_parse(&f, &pkt);
    assert_memory_equal(pkt.key.dst_addr + PLANE_FLOW_V4_OFF, AH_IP4(198, 51, 100, 2), 4);
    assert_csums_ok(&f);
    assert_int_equal(tenant_word(&a, ext, 2), 1);
    assert_int_equal(tenant_word(&a, ext, 0), 3);
    assert_int_equal(tenant_word(&a, ext, 1), 0);

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
    struct ah_app a;
    vpn_load(&a);
    struct plane_app_inst *ext = ah_inst(&a, 1, true);
    struct plane_app_inst *sw = ah_inst(&a, 0, false);
    struct ah_frame f, g;
    struct plane_run_result r, rs;
    ah_udp4(&f, AH_IP4(1, 1, 1, 1), 1000, AH_IP4(10, 1, 0, 9), 80, "abc", 3);
    g = f;
    assert_int_equal(ah_run(sw, &g, IN_PORT, 1, &rs), PLANE_V_MISS);
    assert_memory_equal(g.buf, f.buf, f.len);
    assert_int_equal(ah_run(ext, &f, IN_PORT, 1, &r), PLANE_V_FORWARD);
    copy_state(ext, sw, &r.union_key);
    assert_int_equal(ah_run(sw, &g, IN_PORT, 2, &rs), PLANE_V_FORWARD);
    assert_int_equal(rs.egress_port, r.egress_port);
    assert_memory_equal(g.buf, f.buf, f.len);
    assert_int_equal(tenant_word(&a, sw, 0), 1);
    plane_app_inst_delete(sw);
    plane_app_inst_delete(ext);
    ah_unload(&a);
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
    for (size_t n = 0; n < sizeof bad / sizeof bad[0]; n++) {
        struct ah_app a;
        ah_load(&a);
        ah_param(&a, "local", "192.0.2.1");
        ah_param(&a, "tenant7", "prefix=10.7.0.0/16 endpoint=198.51.100.7");
        ah_param(&a, bad[n][0], bad[n][1]);
        assert_null(ah_inst_try(&a, 1, true));
        ah_unload(&a);
    }
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
