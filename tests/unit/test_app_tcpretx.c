/* Unit test of the tcpretx example app (CLIP's TCP retransmission detection). */
#include "app_harness.h"

#define C_IP AH_IP4(10, 0, 0, 1)
#define S_IP AH_IP4(10, 9, 0, 1)

struct tr_fixture {
    struct ah_app a;
    struct plane_app_inst *inst;
    uint16_t hiseq, retx;
};

static void
tr_setup(struct tr_fixture *t)
{
    ah_load(&t->a);
    t->inst = ah_inst(&t->a, 1, true);
    t->hiseq = ah_obj(&t->a, "hiseq");
    t->retx = ah_obj(&t->a, "retx");
}

static void
tr_teardown(struct tr_fixture *t)
{
    plane_app_inst_delete(t->inst);
    ah_unload(&t->a);
}

/* Sends one segment client->server (c2s) or server->client; must be forwarded. */
static void
seg(struct tr_fixture *t, bool c2s, uint8_t flags, uint32_t seq, size_t plen)
{
    static const uint8_t data[1400];
    struct ah_frame f;
    if (c2s) {
        ah_tcp4(&f, C_IP, 40000, S_IP, 80, flags, seq, 0, data, plen);
    } else {
        ah_tcp4(&f, S_IP, 80, C_IP, 40000, flags, seq, 0, data, plen);
    }
    struct plane_run_result r;
    assert_int_equal(ah_run(t->inst, &f, 3, 1, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, 3);
}

/* Reads retx words {dir0, dir1} of the connection. */
static void
retx_of(struct tr_fixture *t, uint64_t out[2])
{
    struct plane_flow_key k, m;
    plane_flow_key_set_v4(&k, 6, C_IP, 40000, S_IP, 80);
    plane_flow_key_mask(&k, PLANE_FLOW_ALL, &m);
    out[0] = out[1] = 0;
    uint8_t v[16];
    if (plane_object_get(plane_app_inst_object(t->inst, t->retx), &m, sizeof m, v) == 0) {
        memcpy(out, v, 16);
    }
}

/* In-order segments count nothing; each resent segment counts once. */
static void
test_counts_exactly(void **state)
{
    (void) state;
    struct tr_fixture t;
    tr_setup(&t);
    uint64_t r[2];
    seg(&t, true, PLANE_TCP_SYN, 999, 0);
    seg(&t, false, PLANE_TCP_SYN | PLANE_TCP_ACK, 5000, 0);
    seg(&t, true, PLANE_TCP_ACK, 1000, 0);            /* pure ACK */
    seg(&t, true, PLANE_TCP_ACK, 1000, 100);
    seg(&t, true, PLANE_TCP_ACK, 1100, 100);
    seg(&t, true, PLANE_TCP_ACK, 1200, 100);
    seg(&t, false, PLANE_TCP_ACK, 5001, 0);
    seg(&t, false, PLANE_TCP_ACK, 5001, 0);           /* duplicate ACKs */
    retx_of(&t, r);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 0);

    seg(&t, true, PLANE_TCP_ACK, 1100, 100);          /* resent */
    seg(&t, true, PLANE_TCP_ACK, 1000, 200);          /* resent, coalesced */
    seg(&t, true, PLANE_TCP_SYN, 999, 0);             /* SYN resent */
    seg(&t, true, PLANE_TCP_ACK, 1300, 100);          /* new */
    seg(&t, false, PLANE_TCP_ACK, 5001, 50);
    seg(&t, false, PLANE_TCP_ACK, 5001, 50);          /* resent by the server */
    retx_of(&t, r);
    /* Direction 0 is the lower endpoint's: 10.0.0.1 (the client). */
    assert_int_equal(r[0], 3);
    assert_int_equal(r[1], 1);
    tr_teardown(&t);
}

/* Sequence numbers wrap at 2^32: in order across it, resent after it. */
static void
test_wraparound(void **state)
{
    (void) state;
    struct tr_fixture t;
    tr_setup(&t);
    uint64_t r[2];
    uint32_t s = 0xffffffffu - 149;
    seg(&t, true, PLANE_TCP_ACK, s, 100);
    seg(&t, true, PLANE_TCP_ACK, s + 100, 100);      /* crosses the wrap */
    seg(&t, true, PLANE_TCP_ACK, s + 200, 100);      /* after it: seq 50 */
    retx_of(&t, r);
    assert_int_equal(r[0], 0);
    seg(&t, true, PLANE_TCP_ACK, s, 100);            /* before the wrap */
    seg(&t, true, PLANE_TCP_ACK, s + 100, 100);
    retx_of(&t, r);
    assert_int_equal(r[0], 2);
    tr_teardown(&t);
}

/* Two copies (say switch and NIC after a move) merge to the single copy's answer. */
static void
test_merge_two_copies(void **state)
{
    (void) state;
    struct tr_fixture t;
    tr_setup(&t);
    struct plane_app_inst *sw = ah_inst(&t.a, 0, false);
    struct ah_frame f;
    struct plane_run_result res;
    static const uint8_t data[100];
    ah_tcp4(&f, C_IP, 40000, S_IP, 80, PLANE_TCP_ACK, 1000, 0, data, 100);
    assert_int_equal(ah_run(sw, &f, 0, 1, &res), PLANE_V_FORWARD);
    ah_tcp4(&f, C_IP, 40000, S_IP, 80, PLANE_TCP_ACK, 1000, 0, data, 100);
    assert_int_equal(ah_run(sw, &f, 0, 1, &res), PLANE_V_FORWARD);
    seg(&t, true, PLANE_TCP_ACK, 1000, 100);
    seg(&t, true, PLANE_TCP_ACK, 1100, 100);
    /* Merge sw's entries into t.inst with the objects' operators. */
    for (uint16_t o = 0; o < 2; o++) {
        struct plane_object *src = plane_app_inst_object(sw, o);
        size_t cur = 0;
        const void *k, *v;
        while (plane_object_next(src, &cur, &k, &v)) {
            assert_int_equal(plane_object_merge(plane_app_inst_object(t.inst, o), k,
                                                PLANE_OBJECT_KEY_LEN, v), 0);
        }
    }
    uint64_t r[2];
    retx_of(&t, r);
    assert_int_equal(r[0], 1);                       /* sw saw one resend */
    seg(&t, true, PLANE_TCP_ACK, 1150, 50);          /* below the merged max */
    retx_of(&t, r);
    assert_int_equal(r[0], 2);
    plane_app_inst_delete(sw);
    tr_teardown(&t);
}

/* Unknown params fail the load; out_port steers the egress. */
static void
test_params(void **state)
{
    (void) state;
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "bogus", "1");
    assert_null(ah_inst_try(&a, 1, true));
    a.n_params = 0;
    ah_param(&a, "out_port", "7");
    struct plane_app_inst *inst = ah_inst(&a, 1, true);
    struct ah_frame f;
    ah_udp4(&f, C_IP, 1, S_IP, 2, "x", 1);
    struct plane_run_result r;
    assert_int_equal(ah_run(inst, &f, 0, 1, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, 7);
    plane_app_inst_delete(inst);
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_exactly),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_merge_two_copies),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
