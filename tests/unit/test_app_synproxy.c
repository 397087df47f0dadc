/* Unit test of the synproxy example app: SYN cookies, handshake splicing, sequence translation. */
#include "app_harness.h"

#include "../../examples/apps/synproxy/synproxy_cookie.h"

#define CLI AH_IP4(10, 0, 0, 1)
#define SRV AH_IP4(10, 9, 0, 1)
#define CPORT 40000
#define P_CLIENT 1
#define P_SERVER 2
#define SLOT_NS (64ULL * 1000000000ULL)
#define T0 (1000 * SLOT_NS + 5)

/* The secret param's SipHash halves: bytes 00..0f little-endian. */
#define K0 0x0706050403020100ULL
#define K1 0x0f0e0d0c0b0a0908ULL

static void
fx_setup(struct ah_pair *t)
{
    ah_load(&t->a);
    ah_params(&t->a, "secret", "000102030405060708090a0b0c0d0e0f", "client_port", "1",
              "server_port", "2", NULL);
    ah_pair_start(t);
}

static uint32_t
cookie_for(uint32_t isn, uint64_t now)
{
    return sp_cookie(K0, K1, CLI, SRV, CPORT, 80, isn, now / SLOT_NS);
}

static void
c2s(struct ah_frame *f, uint8_t flags, uint32_t seq, uint32_t ack, const char *data)
{
    ah_tcp4(f, CLI, CPORT, SRV, 80, flags, seq, ack, data, data ? strlen(data) : 0);
}

static void
s2c(struct ah_frame *f, uint8_t flags, uint32_t seq, uint32_t ack, const char *data)
{
    ah_tcp4(f, SRV, 80, CLI, CPORT, flags, seq, ack, data, data ? strlen(data) : 0);
}

/* Parses f and checks its direction, flags, seq and ack. */
static void
assert_seg(const struct ah_frame *f, bool to_server, uint8_t flags, uint32_t seq,
           uint32_t ack, size_t plen)
{
    struct plane_pkt pkt;
    ah_parse(f, &pkt);
    struct plane_flow_key k;
    if (to_server) {
        plane_flow_key_set_v4(&k, 6, CLI, CPORT, SRV, 80);
    } else {
        plane_flow_key_set_v4(&k, 6, SRV, 80, CLI, CPORT);
    }
    assert_true(plane_flow_key_eq(&pkt.key, &k));
    assert_int_equal(pkt.tcp_flags, flags);
    assert_int_equal(pkt.tcp_seq, seq);
    assert_int_equal(pkt.tcp_ack, ack);
    assert_int_equal(pkt.payload_len, plen);
    ah_assert_csums_ok(f);
}

static uint64_t
stat_of(struct ah_pair *t, struct plane_app_inst *inst, unsigned w)
{
    struct plane_flow_key k;
    plane_flow_key_set_v4(&k, 6, CLI, CPORT, SRV, 80);
    return ah_reg_word_of(&t->a, inst, "stats", &k, w);
}

/* The SipHash-2-4 test vector of the paper's appendix. */
static void
test_siphash_vector(void **state)
{
    (void) state;
    uint8_t m[15];
    for (int i = 0; i < 15; i++) {
        m[i] = (uint8_t) i;
    }
    assert_int_equal(sp_siphash24(K0, K1, m, sizeof m), 0xa129ca6149be45e5ULL);
}

/* A SYN is answered in place with a correct SYN-ACK carrying the cookie. */
static void
test_syn_answered(void **state)
{
    (void) state;
    struct ah_pair t;
    fx_setup(&t);
    struct ah_frame f;
    struct plane_run_result r;
    c2s(&f, PLANE_TCP_SYN, 1000, 0, NULL);
    assert_int_equal(ah_run(t.sw, &f, P_CLIENT, T0, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_CLIENT);
    assert_false(r.new_flow_ran);
    assert_seg(&f, false, PLANE_TCP_SYN | PLANE_TCP_ACK, cookie_for(1000, T0), 1001, 0);
    assert_int_equal(stat_of(&t, t.sw, 0), 1);

    /* A SYN with 4 option bytes and data: the SYN-ACK announces the MSS
     * and carries no data (the IP length is cut; the rest is padding). */
    c2s(&f, PLANE_TCP_SYN, 5000, 0, "\x02\x04\x05\xb4" "data!");
    struct plane_pkt pkt;
    ah_parse(&f, &pkt);
    f.buf[pkt.l4_off + 12] = 6 << 4;                  /* 24-byte header */
    ah_parse(&f, &pkt);
    assert_int_equal(plane_pkt_recompute_csums(f.buf, &pkt), 0);
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0, &r), PLANE_V_FORWARD);
    assert_seg(&f, false, PLANE_TCP_SYN | PLANE_TCP_ACK, cookie_for(5000, T0), 5001, 0);
    ah_parse(&f, &pkt);
    const uint8_t *opt = f.buf + pkt.l4_off + 20;
    assert_int_equal(opt[0], 2);
    assert_int_equal(opt[1], 4);
    assert_int_equal(opt[2] << 8 | opt[3], 1460);
    assert_int_equal(pkt.l3_len, 20 + 24);
    ah_pair_stop(&t);
}

/* The whole splice: cookie ACK -> SYN to server -> server SYN-ACK -> ACK;
 * then data both ways with sequence numbers translated. */
static void
test_valid_cookie_completes(void **state)
{
    (void) state;
    struct ah_pair t;
    fx_setup(&t);
    struct ah_frame f;
    struct plane_run_result r;
    uint32_t cookie = cookie_for(1000, T0);

    /* At the switch the handshake's ACK is a miss (no entry, no control logic). */
    c2s(&f, PLANE_TCP_ACK, 1001, cookie + 1, NULL);
    assert_int_equal(ah_run(t.sw, &f, P_CLIENT, T0 + 10, &r), PLANE_V_MISS);

    c2s(&f, PLANE_TCP_ACK, 1001, cookie + 1, NULL);
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + 10, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.new_flow_rc, 0);
    assert_int_equal(r.n_updates, 1);
    assert_int_equal(r.egress_port, P_SERVER);
    assert_seg(&f, true, PLANE_TCP_SYN, 1000, 0, 0);
    assert_int_equal(stat_of(&t, t.ext, 1), 1);

    /* The ACK resent: the SYN resent, no new control logic. */
    c2s(&f, PLANE_TCP_ACK, 1001, cookie + 1, NULL);
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + 20, &r), PLANE_V_FORWARD);
    assert_false(r.new_flow_ran);
    assert_seg(&f, true, PLANE_TCP_SYN, 1000, 0, 0);

    /* The handshake's ACK carrying data: still the SYN, data cut (the
     * client resends it, unacknowledged). */
    c2s(&f, PLANE_TCP_ACK | PLANE_TCP_PSH, 1001, cookie + 1, "early");
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + 20, &r), PLANE_V_FORWARD);
    assert_seg(&f, true, PLANE_TCP_SYN, 1000, 0, 0);

    /* Later client data before the server answered: dropped, counted. */
    c2s(&f, PLANE_TCP_ACK, 1006, cookie + 1, "more");
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + 20, &r), PLANE_V_DROP);
    assert_int_equal(stat_of(&t, t.ext, 3), 1);

    /* The server's SYN-ACK: control logic learns its ISN; the packet becomes
     * the ACK completing the server's handshake, back toward the server. */
    uint32_t sisn = 0xfffffff0u;                      /* wraps during data */
    s2c(&f, PLANE_TCP_SYN | PLANE_TCP_ACK, sisn, 1001, NULL);
    assert_int_equal(ah_run(t.ext, &f, P_SERVER, T0 + 30, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.new_flow_rc, 0);
    assert_int_equal(r.egress_port, P_SERVER);
    assert_seg(&f, true, PLANE_TCP_ACK, 1001, sisn + 1, 0);

    /* ... and again if the server resends it. */
    s2c(&f, PLANE_TCP_SYN | PLANE_TCP_ACK, sisn, 1001, NULL);
    assert_int_equal(ah_run(t.ext, &f, P_SERVER, T0 + 40, &r), PLANE_V_FORWARD);
    assert_false(r.new_flow_ran);
    assert_seg(&f, true, PLANE_TCP_ACK, 1001, sisn + 1, 0);

    /* Established: client acks in cookie space, the server sees its own. */
    c2s(&f, PLANE_TCP_ACK | PLANE_TCP_PSH, 1001, cookie + 1, "GET /");
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + 50, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_SERVER);
    assert_seg(&f, true, PLANE_TCP_ACK | PLANE_TCP_PSH, 1001, sisn + 1, 5);
    s2c(&f, PLANE_TCP_ACK, sisn + 1, 1006, "200 OK 200 OK 200 OK");
    assert_int_equal(ah_run(t.ext, &f, P_SERVER, T0 + 60, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_CLIENT);
    assert_seg(&f, false, PLANE_TCP_ACK, cookie + 1, 1006, 20);
    c2s(&f, PLANE_TCP_ACK, 1006, cookie + 21, NULL);
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + 70, &r), PLANE_V_FORWARD);
    assert_seg(&f, true, PLANE_TCP_ACK, 1006, sisn + 21, 0);   /* wrapped */
    ah_pair_stop(&t);
}

/* Forged and stale ACKs are counted drops; none reaches control logic. */
static void
test_forged_ack_rejected(void **state)
{
    (void) state;
    struct ah_pair t;
    fx_setup(&t);
    struct ah_frame f;
    struct plane_run_result r;
    uint32_t cookie = cookie_for(1000, T0);

    c2s(&f, PLANE_TCP_ACK, 1001, cookie + 2, NULL);             /* wrong cookie */
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0, &r), PLANE_V_DROP);
    assert_false(r.new_flow_ran);
    c2s(&f, PLANE_TCP_ACK, 2001, cookie + 1, NULL);             /* wrong ISN */
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0, &r), PLANE_V_DROP);
    c2s(&f, PLANE_TCP_ACK, 1001, cookie + 1, NULL);             /* 2 slots later */
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + 2 * SLOT_NS, &r), PLANE_V_DROP);
    c2s(&f, PLANE_TCP_ACK, 1001, cookie + 1, NULL);             /* at the switch */
    assert_int_equal(ah_run(t.sw, &f, P_CLIENT, T0, &r), PLANE_V_MISS);
    c2s(&f, PLANE_TCP_ACK, 1001, 12345, NULL);
    assert_int_equal(ah_run(t.sw, &f, P_CLIENT, T0, &r), PLANE_V_DROP);
    assert_int_equal(stat_of(&t, t.ext, 2), 3);
    assert_int_equal(stat_of(&t, t.sw, 2), 1);
    assert_int_equal(plane_object_count(plane_app_inst_object(t.ext, 0)), 0);

    /* One slot later the cookie is still good. */
    c2s(&f, PLANE_TCP_ACK, 1001, cookie + 1, NULL);
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, T0 + SLOT_NS, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);

    /* A server packet of an unknown connection passes untouched. */
    ah_tcp4(&f, SRV, 80, AH_IP4(10, 0, 0, 99), 1, PLANE_TCP_ACK, 5, 6, NULL, 0);
    struct ah_frame orig = f;
    assert_int_equal(ah_run(t.ext, &f, P_SERVER, T0, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_CLIENT);
    assert_memory_equal(f.buf, orig.buf, f.len);
    ah_pair_stop(&t);
}

static void
test_params(void **state)
{
    (void) state;
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "client_port", "1");
    ah_param(&a, "server_port", "2");
    assert_null(ah_inst_try(&a, 1, true));                      /* no secret */
    ah_param(&a, "secret", "00010203");
    assert_null(ah_inst_try(&a, 1, true));                      /* short */
    a.n_params = 2;
    ah_param(&a, "secret", "000102030405060708090a0b0c0d0e0g");
    assert_null(ah_inst_try(&a, 1, true));                      /* not hex */
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vector),
        cmocka_unit_test(test_syn_answered),
        cmocka_unit_test(test_valid_cookie_completes),
        cmocka_unit_test(test_forged_ack_rejected),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
