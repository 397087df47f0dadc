/* Unit test of the netcache example app: hits, misses, invalidation, fill and hot-key reports. */
#include "app_harness.h"

#include "../../examples/apps/netcache/netcache_proto.h"

#define CLIENT AH_IP4(10, 0, 0, 5)
#define SERVICE AH_IP4(10, 9, 0, 1)
#define P_CLIENT 1
#define P_BACKEND 5
#define BASE (NC_DEFAULT_PORT + 1)

static void
fx_setup(struct ah_pair *t)
{
    ah_load(&t->a);
    ah_params(&t->a, "backend_port", "5", "client_port", "1", "hot_threshold", "3",
              NULL);
    ah_pair_start(t);
}

static void
mkkey(uint8_t k[NC_KEY_LEN], uint64_t v)
{
    for (int i = 0; i < NC_KEY_LEN; i++) {
        k[i] = (uint8_t) (v >> (56 - 8 * i));
    }
}

static void
msg(uint8_t m[NC_MSG_LEN], uint8_t op, const uint8_t k[NC_KEY_LEN],
    const char *value)
{
    memset(m, 0, NC_MSG_LEN);
    m[NC_OFF_OP] = op;
    memcpy(m + NC_OFF_KEY, k, NC_KEY_LEN);
    if (value) {
        m[NC_OFF_VLEN] = (uint8_t) strlen(value);
        memcpy(m + NC_OFF_VALUE, value, strlen(value));
    }
}

/* A request client -> service from the key's bucket port. */
static void
request(struct ah_frame *f, uint8_t op, const uint8_t k[NC_KEY_LEN], const char *value)
{
    uint8_t m[NC_MSG_LEN];
    msg(m, op, k, value);
    ah_udp4(f, CLIENT, nc_bucket_port(k, BASE, NC_DEFAULT_BUCKET_BITS), SERVICE,
            NC_DEFAULT_PORT, m, sizeof m);
}

/* The backend's reply service -> client. */
static void
reply(struct ah_frame *f, uint8_t op, const uint8_t k[NC_KEY_LEN], const char *value)
{
    uint8_t m[NC_MSG_LEN];
    msg(m, op, k, value);
    ah_udp4(f, SERVICE, NC_DEFAULT_PORT, CLIENT,
            nc_bucket_port(k, BASE, NC_DEFAULT_BUCKET_BITS), m, sizeof m);
}

/* Sends a GET; returns the egress port (verdict must be FORWARD). */
static uint16_t
get(struct plane_app_inst *inst, const uint8_t k[NC_KEY_LEN], struct ah_frame *f)
{
    struct plane_run_result r;
    request(f, NC_OP_GET, k, NULL);
    assert_int_equal(ah_run(inst, f, P_CLIENT, 1, &r), PLANE_V_FORWARD);
    return r.egress_port;
}

static const uint8_t *
payload_of(const struct ah_frame *f, struct plane_pkt *pkt)
{
    ah_parse(f, pkt);
    return f->buf + pkt->payload_off;
}

/* Reads stats word w of k's bucket in inst. */
static uint64_t
stat_of(struct ah_pair *t, struct plane_app_inst *inst, const uint8_t k[NC_KEY_LEN],
        unsigned w)
{
    struct ah_frame f;
    struct plane_pkt pkt;
    request(&f, NC_OP_GET, k, NULL);
    ah_parse(&f, &pkt);
    return ah_reg_word_of(&t->a, inst, "stats", &pkt.key, w);
}

/* Applies a run's table updates to another copy (what the daemon replicates). */
static void
replicate(struct plane_app_inst *to, const struct plane_run_result *r)
{
    for (size_t i = 0; i < r->n_updates; i++) {
        const struct plane_run_update *u = &r->updates[i];
        struct plane_object *o = plane_app_inst_object(to, u->obj);
        if (u->op == PLANE_RUN_INSERT) {
            assert_int_equal(plane_object_insert(o, u->key, u->key_len, u->value), 0);
        } else if (u->op == PLANE_RUN_DELETE) {
            assert_int_equal(plane_object_delete_entry(o, u->key, u->key_len), 0);
        }
    }
}

/* Misses go to the backend; a hot key's reply fills the cache; then hits. */
static void
test_miss_fill_hit(void **state)
{
    (void) state;
    struct ah_pair t;
    fx_setup(&t);
    uint8_t k[NC_KEY_LEN];
    mkkey(k, 0x1122334455667788ULL);
    struct ah_frame f;
    struct plane_run_result r;

    /* A cold key's reply is passed through, not cached. */
    assert_int_equal(get(t.ext, k, &f), P_BACKEND);
    reply(&f, NC_OP_GET_REPLY, k, "hello");
    assert_int_equal(ah_run(t.ext, &f, P_BACKEND, 2, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_CLIENT);
    assert_false(r.new_flow_ran);

    /* Hot now (3 GETs): the reply is a miss at the switch (control logic
     * must fill), and on the external device fills and goes to the client. */
    assert_int_equal(get(t.ext, k, &f), P_BACKEND);
    assert_int_equal(get(t.ext, k, &f), P_BACKEND);
    assert_int_equal(stat_of(&t, t.ext, k, 1), 3);            /* misses */
    reply(&f, NC_OP_GET_REPLY, k, "hello");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(get(t.sw, k, &f), P_BACKEND);        /* sw's CMS too */
    }
    reply(&f, NC_OP_GET_REPLY, k, "hello");
    assert_int_equal(ah_run(t.sw, &f, P_BACKEND, 3, &r), PLANE_V_MISS);
    reply(&f, NC_OP_GET_REPLY, k, "hello");
    assert_int_equal(ah_run(t.ext, &f, P_BACKEND, 3, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.new_flow_rc, 0);
    assert_int_equal(r.egress_port, P_CLIENT);
    assert_int_equal(r.n_updates, 1);
    assert_int_equal(stat_of(&t, t.ext, k, 3), 1);            /* fills */
    replicate(t.sw, &r);

    /* A hit: answered in place, back out the in port. */
    struct ah_frame req;
    request(&req, NC_OP_GET, k, NULL);
    f = req;
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, 4, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_CLIENT);
    assert_false(r.new_flow_ran);
    struct plane_pkt pkt, rq;
    const uint8_t *m = payload_of(&f, &pkt);
    ah_parse(&req, &rq);
    struct plane_flow_key rev;
    plane_flow_key_reverse(&rq.key, &rev);
    assert_true(plane_flow_key_eq(&pkt.key, &rev));
    assert_memory_equal(f.buf, req.buf + 6, 6);               /* MACs swapped */
    assert_memory_equal(f.buf + 6, req.buf, 6);
    assert_int_equal(m[NC_OFF_OP], NC_OP_GET_REPLY);
    assert_int_equal(m[NC_OFF_STATUS], NC_ST_OK);
    assert_true(m[NC_OFF_FLAGS] & NC_F_CACHED);
    assert_int_equal(m[NC_OFF_VLEN], 5);
    assert_memory_equal(m + NC_OFF_VALUE, "hello", 5);
    assert_memory_equal(m + NC_OFF_KEY, k, NC_KEY_LEN);
    ah_assert_csums_ok(&f);
    assert_int_equal(stat_of(&t, t.ext, k, 0), 1);            /* hits */

    /* The switch serves hits too once the fill is replicated there. */
    request(&f, NC_OP_GET, k, NULL);
    assert_int_equal(ah_run(t.sw, &f, P_CLIENT, 5, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_CLIENT);
    m = payload_of(&f, &pkt);
    assert_int_equal(m[NC_OFF_OP], NC_OP_GET_REPLY);
    assert_memory_equal(m + NC_OFF_VALUE, "hello", 5);
    ah_assert_csums_ok(&f);
    ah_pair_stop(&t);
}

/* PUT (and DEL) of a cached key invalidates it through control logic. */
static void
test_put_invalidates(void **state)
{
    (void) state;
    struct ah_pair t;
    fx_setup(&t);
    uint8_t k[NC_KEY_LEN], other[NC_KEY_LEN];
    mkkey(k, 42);
    mkkey(other, 43);
    struct ah_frame f;
    struct plane_run_result r;
    for (int i = 0; i < 3; i++) {
        get(t.ext, k, &f);
    }
    reply(&f, NC_OP_GET_REPLY, k, "v1");
    assert_int_equal(ah_run(t.ext, &f, P_BACKEND, 1, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    replicate(t.sw, &r);
    assert_int_equal(get(t.ext, k, &f), P_CLIENT);            /* cached */

    /* A write to an uncached key just goes to the backend. */
    request(&f, NC_OP_PUT, other, "x");
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, 2, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_BACKEND);
    assert_false(r.new_flow_ran);

    /* At the switch the PUT of a cached key is a miss: no control logic
     * there, the daemon hands it to the external device owning the bucket. */
    request(&f, NC_OP_PUT, k, "v2");
    assert_int_equal(ah_run(t.sw, &f, P_CLIENT, 3, &r), PLANE_V_MISS);
    request(&f, NC_OP_PUT, k, "v2");
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, 3, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.new_flow_rc, 0);
    assert_int_equal(r.egress_port, P_BACKEND);
    assert_int_equal(r.n_updates, 1);
    replicate(t.sw, &r);
    struct plane_pkt pkt;
    const uint8_t *m = payload_of(&f, &pkt);
    assert_int_equal(m[NC_OFF_OP], NC_OP_PUT);                /* untouched */
    assert_memory_equal(m + NC_OFF_VALUE, "v2", 2);

    /* Gone: the next GET misses to the backend. */
    assert_int_equal(get(t.ext, k, &f), P_BACKEND);
    m = payload_of(&f, &pkt);
    assert_int_equal(m[NC_OFF_OP], NC_OP_GET);
    assert_int_equal(stat_of(&t, t.ext, k, 2), 1);            /* writes */
    assert_int_equal(get(t.sw, k, &f), P_BACKEND);            /* gone there too */
    ah_pair_stop(&t);
}

/* A hot key is reported once (CMS crosses the threshold, Bloom remembers). */
static void
test_hot_key_reported_once(void **state)
{
    (void) state;
    struct ah_pair t;
    fx_setup(&t);
    uint8_t k[NC_KEY_LEN];
    mkkey(k, 7);
    struct ah_frame f;
    uint16_t hk = ah_obj(&t.a, "hot_keys");
    uint16_t bl = ah_obj(&t.a, "reported");
    struct plane_pkt pkt;
    request(&f, NC_OP_GET, k, NULL);
    ah_parse(&f, &pkt);
    struct plane_flow_key m;
    plane_flow_key_mask(&pkt.key, PLANE_FLOW_SRC_PORT | PLANE_FLOW_DST_IP
                        | PLANE_FLOW_DST_PORT, &m);
    uint64_t rep[2];
    for (int i = 1; i <= 10; i++) {
        get(t.ext, k, &f);
        int rc = plane_object_get(plane_app_inst_object(t.ext, hk), &m, sizeof m, rep);
        assert_int_equal(plane_object_bloom_test(plane_app_inst_object(t.ext, bl),
                                                 k, NC_KEY_LEN), i >= 3);
        if (i < 3) {
            assert_int_equal(rc, PLANE_ENOENT);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(rep[0], 7);
            assert_int_equal(rep[1], 3);     /* reported at 3, not again */
        }
    }
    assert_int_equal(plane_object_cms_estimate(plane_app_inst_object(t.ext,
                                                   ah_obj(&t.a, "hot")), k, NC_KEY_LEN),
                     10);
    ah_pair_stop(&t);
}

/* One bucket caches the hotter of two keys; a bad bucket port is not cached. */
static void
test_bucket_policy(void **state)
{
    (void) state;
    struct ah_pair t;
    fx_setup(&t);
    uint8_t a[NC_KEY_LEN], b[NC_KEY_LEN];
    mkkey(a, 1000);
    uint32_t want = nc_bucket(a, NC_DEFAULT_BUCKET_BITS);
    uint64_t v = 1001;
    for (;; v++) {
        mkkey(b, v);
        if (nc_bucket(b, NC_DEFAULT_BUCKET_BITS) == want) {
            break;
        }
    }
    struct ah_frame f;
    struct plane_run_result r;
    for (int i = 0; i < 5; i++) {
        get(t.ext, a, &f);
    }
    reply(&f, NC_OP_GET_REPLY, a, "A");
    assert_int_equal(ah_run(t.ext, &f, P_BACKEND, 1, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    /* b: hot (>= 3) but colder than a: its reply does not evict a. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(get(t.ext, b, &f), P_BACKEND);
    }
    reply(&f, NC_OP_GET_REPLY, b, "B");
    assert_int_equal(ah_run(t.ext, &f, P_BACKEND, 2, &r), PLANE_V_FORWARD);
    assert_false(r.new_flow_ran);
    assert_int_equal(get(t.ext, a, &f), P_CLIENT);            /* a still cached */
    /* b hotter now (8 GETs against a's 6): its reply replaces a. */
    for (int i = 0; i < 4; i++) {
        get(t.ext, b, &f);
    }
    reply(&f, NC_OP_GET_REPLY, b, "B");
    assert_int_equal(ah_run(t.ext, &f, P_BACKEND, 3, &r), PLANE_V_FORWARD);
    assert_true(r.new_flow_ran);
    assert_int_equal(get(t.ext, b, &f), P_CLIENT);
    assert_int_equal(get(t.ext, a, &f), P_BACKEND);

    /* A request from the wrong bucket port goes to the backend uncounted. */
    uint8_t m[NC_MSG_LEN];
    msg(m, NC_OP_GET, b, NULL);
    uint16_t bad = (uint16_t) (nc_bucket_port(b, BASE, NC_DEFAULT_BUCKET_BITS) + 1);
    ah_udp4(&f, CLIENT, bad, SERVICE, NC_DEFAULT_PORT, m, sizeof m);
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, 4, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_BACKEND);
    /* A truncated message too. */
    ah_udp4(&f, CLIENT, 1234, SERVICE, NC_DEFAULT_PORT, m, 10);
    assert_int_equal(ah_run(t.ext, &f, P_CLIENT, 4, &r), PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, P_BACKEND);
    ah_pair_stop(&t);
}

static void
test_params(void **state)
{
    (void) state;
    struct ah_app a;
    ah_load(&a);
    ah_param(&a, "client_port", "1");
    assert_null(ah_inst_try(&a, 1, true));            /* no backend_port */
    ah_param(&a, "backend_port", "2");
    ah_param(&a, "bucket_bits", "15");
    ah_param(&a, "port", "60000");                    /* buckets past 65535 */
    assert_null(ah_inst_try(&a, 1, true));
    a.n_params = 2;
    struct plane_app_inst *i = ah_inst(&a, 1, true);
    plane_app_inst_delete(i);
    ah_unload(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_miss_fill_hit),
        cmocka_unit_test(test_put_invalidates),
        cmocka_unit_test(test_hot_key_reported_once),
        cmocka_unit_test(test_bucket_policy),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
