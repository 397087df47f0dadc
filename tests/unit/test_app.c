/* Unit tests of app loading, descriptor validation, features and running packets through instances. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <plane/app.h>
#include <plane/error.h>

#include "app_internal.h"
#include "common/config.h"
#include "common/hash.h"
#include "common/pkt.h"
#include "ctx.h"
#include "object.h"

#ifndef PLANE_TEST_APP_PATH
#error "PLANE_TEST_APP_PATH must name the test app module"
#endif

static struct plane_hasher hasher;

static int
setup(void **state)
{
    (void) state;
    return plane_hasher_init(&hasher, "test-rack", 9);
}

/* The counter app's object indices (tests/apps/test_counter_app.c). */
enum { OBJ_FLOWS, OBJ_PKTS, OBJ_MAXLEN, OBJ_HEAVY, OBJ_SEEN };

/* Builds a UDP/IPv4 frame 10.0.0.<src_last>:sport -> 10.1.0.1:dport. */
static size_t
build_udp(uint8_t *buf, size_t cap, uint8_t src_last, uint16_t sport,
          uint16_t dport, struct plane_flow_key *key_out)
{
    struct plane_pkt_spec s;
    memset(&s, 0, sizeof s);
    uint8_t src[4] = { 10, 0, 0, src_last }, dst[4] = { 10, 1, 0, 1 };
    plane_flow_key_set_v4(&s.key, PLANE_IPPROTO_UDP, src, sport, dst, dport);
    s.dst_mac[5] = 2;
    s.src_mac[5] = 1;
    size_t len = 0;
    assert_int_equal(plane_pkt_build_udp4(buf, cap, &s, "payload!", 8, &len), 0);
    if (key_out) {
        *key_out = s.key;
        key_out->proto = PLANE_IPPROTO_UDP;
        key_out->ip_version = 4;
    }
    return len;
}

static struct plane_app *
load_counter(void)
{
    char err[256] = "";
    struct plane_app *app = plane_app_load(PLANE_TEST_APP_PATH, err, sizeof err);
    if (!app) {
        fail_msg("load: %s", err);
    }
    return app;
}

static void
test_load_module(void **state)
{
    (void) state;
    struct plane_app *app = load_counter();
    assert_string_equal(plane_app_name(app), "counter");
    assert_int_equal(plane_app_n_objects(app), 5);
    assert_int_equal(plane_app_find_object(app, "pkts"), OBJ_PKTS);
    assert_int_equal(plane_app_find_object(app, "nope"), -1);
    const struct plane_obj_desc *cms = plane_app_object(app, OBJ_HEAVY);
    assert_non_null(cms);
    assert_int_equal(cms->merge, PLANE_MERGE_ADD);
    assert_int_equal(cms->value_len, 8);
    assert_null(plane_app_object(app, 5));
    plane_app_delete(app);
    plane_app_delete(NULL);
}

static void
test_load_errors(void **state)
{
    (void) state;
    char err[256];
    assert_null(plane_app_load("/nonexistent/app.so", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/app.so"));
    assert_non_null(strstr(err, "cannot load"));

    assert_null(plane_app_load(PLANE_TEST_NOENTRY_APP_PATH, err, sizeof err));
    assert_non_null(strstr(err, "no plane_app_register()"));

    assert_null(plane_app_load(PLANE_TEST_BADABI_APP_PATH, err, sizeof err));
    assert_non_null(strstr(err, "abi_version 99"));
    assert_non_null(strstr(err, "\"counter\""));

    assert_null(plane_app_load(NULL, err, sizeof err));
    /* A NULL error buffer is allowed. */
    assert_null(plane_app_load("/nonexistent/app.so", NULL, 0));
}

/* ---- A statically linked app for validation and context checks ---- */

static enum plane_verdict
fwd_process(struct plane_ctx *ctx, void *state)
{
    (void) state;
    plane_ctx_forward(ctx, 3);
    return PLANE_V_FORWARD;
}

static const struct plane_obj_desc good_objs[] = {
    { .name = "flows", .kind = PLANE_OBJ_TABLE, .key_fields = PLANE_FLOW_ALL,
      .value_len = 8, .size = 16 },
    { .name = "ctr", .kind = PLANE_OBJ_REGISTER, .key_fields = PLANE_FLOW_SRC_IP,
      .value_len = 8, .size = 16, .merge = PLANE_MERGE_ADD },
};

static struct plane_app_desc
good_desc(void)
{
    struct plane_app_desc d = {
        .abi_version = PLANE_APP_ABI_VERSION,
        .name = "good",
        .union_key_fields = PLANE_FLOW_ALL,
        .objects = good_objs,
        .n_objects = 2,
        .process = fwd_process,
    };
    return d;
}

static void
expect_invalid(const struct plane_app_desc *d, const char *needle)
{
    char err[256] = "";
    int rc = plane_app_validate(d, err, sizeof err);
    assert_true(rc == PLANE_EINVAL || rc == PLANE_EVERSION);
    if (!strstr(err, needle)) {
        fail_msg("expected \"%s\" in \"%s\"", needle, err);
    }
    assert_null(plane_app_from_desc(d));
}

static void
test_validate(void **state)
{
    (void) state;
    struct plane_app_desc d = good_desc();
    assert_int_equal(plane_app_validate(&d, NULL, 0), 0);

    d.abi_version = 2;
    expect_invalid(&d, "abi_version 2");
    d = good_desc();
    d.name = "bad name";
    expect_invalid(&d, "app name");
    d = good_desc();
    d.name = NULL;
    expect_invalid(&d, "app name");
    d = good_desc();
    d.process = NULL;
    expect_invalid(&d, "app \"good\": process() is NULL");
    d = good_desc();
    d.union_key_fields = 0;
    expect_invalid(&d, "union_key_fields");
    d = good_desc();
    d.n_objects = PLANE_APP_MAX_OBJECTS + 1;
    expect_invalid(&d, "17 objects");
    d = good_desc();
    d.objects = NULL;
    expect_invalid(&d, "objects is NULL");
    d = good_desc();
    d.features = 1u << 30;
    expect_invalid(&d, "unknown feature");
    d = good_desc();
    d.state_size = (size_t) PLANE_APP_MAX_STATE + 1;
    expect_invalid(&d, "state_size");
    expect_invalid(NULL, "NULL");

    struct plane_obj_desc objs[2];
    d = good_desc();
    d.objects = objs;

#define BAD_OBJ(field, value, needle)                                          \
    do {                                                                       \
        memcpy(objs, good_objs, sizeof objs);                                  \
        objs[1].field = value;                                                 \
        expect_invalid(&d, needle);                                            \
    } while (0)

    d.union_key_fields = PLANE_FLOW_SRC_IP | PLANE_FLOW_DST_IP;
    memcpy(objs, good_objs, sizeof objs);
    expect_invalid(&d, "app \"good\": object \"flows\" (#0): key_fields 0x1f "
                       "not within the union key fields 0x3");
    d.union_key_fields = PLANE_FLOW_ALL;
    BAD_OBJ(key_fields, 1u << 7, "unknown PLANE_FLOW_* bits");
    BAD_OBJ(name, "flows", "object \"flows\" (#1): duplicate name");
    BAD_OBJ(name, NULL, "(#1): name");
    BAD_OBJ(name, "", "(#1): name");
    BAD_OBJ(value_len, PLANE_OBJ_MAX_VALUE + 1, "value_len 65");
    BAD_OBJ(value_len, 0, "register needs value_len");
    BAD_OBJ(value_len, 12, "multiple of 8");
    BAD_OBJ(size, 0, "size 0");
    BAD_OBJ(merge, PLANE_MERGE_NONE, "a register needs a merge operator");
    BAD_OBJ(merge, PLANE_MERGE_CUSTOM, "CUSTOM merge without a plus");
    BAD_OBJ(kind, (enum plane_obj_kind) 9, "unknown kind 9");
    memcpy(objs, good_objs, sizeof objs);
    objs[0].merge = PLANE_MERGE_ADD;
    expect_invalid(&d, "object \"flows\" (#0): a table takes merge NONE");
    memcpy(objs, good_objs, sizeof objs);
    objs[1].kind = PLANE_OBJ_CMS;
    objs[1].merge = PLANE_MERGE_OR;
    expect_invalid(&d, "a cms merges with ADD");
    memcpy(objs, good_objs, sizeof objs);
    objs[1].kind = PLANE_OBJ_BLOOM;
    objs[1].merge = PLANE_MERGE_ADD;
    expect_invalid(&d, "a bloom filter merges with OR");
    memcpy(objs, good_objs, sizeof objs);
    objs[1].kind = PLANE_OBJ_CMS;
    objs[1].merge = PLANE_MERGE_NONE;
    objs[1].size = 2;
    expect_invalid(&d, "smaller than cms_depth 4");
#undef BAD_OBJ

    /* Sketch defaults are filled in; no objects at all is fine. */
    memcpy(objs, good_objs, sizeof objs);
    objs[1].kind = PLANE_OBJ_BLOOM;
    objs[1].merge = PLANE_MERGE_NONE;
    struct plane_app *app = plane_app_from_desc(&d);
    assert_non_null(app);
    assert_int_equal(plane_app_object(app, 1)->merge, PLANE_MERGE_OR);
    assert_int_equal(plane_app_object(app, 1)->bloom_hashes, 3);
    plane_app_delete(app);
    d.n_objects = 0;
    d.objects = NULL;
    app = plane_app_from_desc(&d);
    assert_non_null(app);
    plane_app_delete(app);
}

static void
test_features(void **state)
{
    (void) state;
    struct plane_app *app = load_counter();   /* needs PLANE_FEAT_HASH */
    assert_int_equal(plane_app_check_features(app, 0), PLANE_EFEATURE);
    assert_int_equal(plane_app_missing_features(app, PLANE_FEAT_PAYLOAD),
                     PLANE_FEAT_HASH);
    assert_int_equal(plane_app_check_features(app, PLANE_FEAT_HASH), 0);
    assert_int_equal(plane_app_check_features(app, ~0u), 0);
    plane_app_delete(app);
}

/* ---- Running packets through the counter app ---- */

static void
test_switch_miss(void **state)
{
    (void) state;
    struct plane_app *app = load_counter();
    struct plane_app_inst *sw = plane_app_inst_new(app, NULL, 0, false, &hasher);
    assert_non_null(sw);
    uint8_t frame[256];
    struct plane_flow_key key;
    size_t len = build_udp(frame, sizeof frame, 1, 5000, 80, &key);
    struct plane_run_result r;
    assert_int_equal(plane_app_inst_run(sw, frame, len, 4, 1000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_MISS);
    assert_false(r.new_flow_ran);
    assert_int_equal(r.n_updates, 0);
    assert_true(plane_flow_key_eq(&r.union_key, &key));
    const struct plane_app_inst_stats *st = plane_app_inst_stats(sw);
    assert_int_equal(st->processed, 1);
    assert_int_equal(st->misses, 1);
    assert_int_equal(st->new_flows, 0);
    /* Nothing was counted for the missing flow. */
    assert_int_equal(plane_object_count(plane_app_inst_object(sw, OBJ_PKTS)), 0);

    /* Unparseable frames are counted drops. */
    assert_int_equal(plane_app_inst_run(sw, frame, 5, 4, 1000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_DROP);
    assert_true(r.parse_error);
    assert_int_equal(st->parse_errors, 1);
    assert_int_equal(st->dropped, 1);
    assert_int_equal(plane_app_inst_run(NULL, frame, len, 4, 0, &r), PLANE_EINVAL);

    plane_app_inst_delete(sw);
    plane_app_delete(app);
}

struct entry_log {
    int n;
    uint16_t obj[8];
    bool present[8];
    uint64_t value[8];
};

static int
log_entry(void *arg, uint16_t obj, const void *key, size_t klen,
          const void *value)
{
    struct entry_log *l = arg;
    assert_int_equal(klen, sizeof(struct plane_flow_key));
    assert_non_null(key);
    l->obj[l->n] = obj;
    l->present[l->n] = value != NULL;
    if (value) {
        memcpy(&l->value[l->n], value, 8);
    }
    l->n++;
    return 0;
}

static void
test_external_new_flow(void **state)
{
    (void) state;
    struct plane_app *app = load_counter();
    struct plane_config_param params[1] = { { .key = "egress_port" } };
    params[0].value = (char *) "12";
    struct plane_config_object sizes[1] = { { .name = "flows", .size = 2 } };
    struct plane_config_app cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.params = params;
    cfg.n_params = 1;
    cfg.objects = sizes;
    cfg.n_objects = 1;

    struct plane_app_inst *ext = plane_app_inst_new(app, &cfg, 2, true, &hasher);
    struct plane_app_inst *sw = plane_app_inst_new(app, &cfg, 0, false, &hasher);
    assert_non_null(ext);
    assert_non_null(sw);
    assert_int_equal(plane_object_capacity(plane_app_inst_object(ext, OBJ_FLOWS)), 2);
    assert_int_equal(plane_object_capacity(plane_app_inst_object(ext, OBJ_PKTS)), 1024);

    uint8_t frame[256];
    struct plane_flow_key key;
    size_t len = build_udp(frame, sizeof frame, 1, 5000, 80, &key);
    struct plane_run_result r;
    assert_int_equal(plane_app_inst_run(ext, frame, len, 4, 1000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, 12);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.new_flow_rc, 0);
    assert_int_equal(r.n_updates, 1);
    assert_int_equal(r.updates[0].obj, OBJ_FLOWS);
    assert_int_equal(r.updates[0].op, PLANE_RUN_INSERT);
    assert_int_equal(r.updates[0].key_len, sizeof key);
    assert_memory_equal(r.updates[0].key, &key, sizeof key);
    uint64_t v;
    memcpy(&v, r.updates[0].value, 8);
    assert_int_equal(v, 12);

    /* Second packet: a hit, no control logic. */
    assert_int_equal(plane_app_inst_run(ext, frame, len, 4, 2000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_FORWARD);
    assert_false(r.new_flow_ran);
    assert_int_equal(r.n_updates, 0);
    const struct plane_app_inst_stats *st = plane_app_inst_stats(ext);
    assert_int_equal(st->processed, 2);
    assert_int_equal(st->forwarded, 2);
    assert_int_equal(st->misses, 1);
    assert_int_equal(st->new_flows, 1);

    /* The per-source counter was incremented once per processed packet. */
    struct plane_flow_key sub;
    plane_flow_key_mask(&key, PLANE_FLOW_SRC_IP, &sub);
    struct plane_object *pkts = plane_app_inst_object(ext, OBJ_PKTS);
    assert_int_equal(plane_object_get(pkts, &sub, sizeof sub, &v), 0);
    assert_int_equal(v, 2);
    struct plane_object *maxlen = plane_app_inst_object(ext, OBJ_MAXLEN);
    assert_int_equal(plane_object_get(maxlen, &key, sizeof key, &v), 0);
    assert_int_equal(v, len);
    assert_true(plane_object_cms_estimate(plane_app_inst_object(ext, OBJ_HEAVY),
                                          key.src_addr, 16) >= 2 * len);
    uint16_t dport = 80;
    assert_true(plane_object_bloom_test(plane_app_inst_object(ext, OBJ_SEEN),
                                        &dport, sizeof dport));

    /* The flow's entries through its union key: tables and registers only. */
    struct entry_log log;
    memset(&log, 0, sizeof log);
    struct plane_flow_key uk;
    plane_app_inst_union_key(ext, &key, &uk);
    assert_true(plane_flow_key_eq(&uk, &key));
    assert_int_equal(plane_app_inst_entry_keys(ext, &uk, log_entry, &log), 0);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.obj[0], OBJ_FLOWS);
    assert_int_equal(log.obj[1], OBJ_PKTS);
    assert_int_equal(log.obj[2], OBJ_MAXLEN);
    assert_true(log.present[0] && log.present[1] && log.present[2]);
    assert_int_equal(log.value[0], 12);
    assert_int_equal(log.value[1], 2);

    /* The switch misses until the daemon replicates new_flow()'s insert. */
    assert_int_equal(plane_app_inst_run(sw, frame, len, 4, 3000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_MISS);
    struct plane_flow_key other;
    uint8_t frame2[256];
    size_t len2 = build_udp(frame2, sizeof frame2, 1, 5000, 80, &other);
    assert_int_equal(plane_app_inst_run(ext, frame2, len2, 4, 3000, &r), 0);
    assert_int_equal(r.n_updates, 0);   /* same flow again */
    memset(&log, 0, sizeof log);
    assert_int_equal(plane_app_inst_entry_keys(sw, &uk, log_entry, &log), 0);
    assert_int_equal(log.n, 3);
    assert_false(log.present[0] || log.present[1] || log.present[2]);
    uint64_t port = 12;
    assert_int_equal(plane_object_insert(plane_app_inst_object(sw, OBJ_FLOWS),
                                         &key, sizeof key, &port), 0);
    assert_int_equal(plane_app_inst_run(sw, frame, len, 4, 3000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, 12);

    /* Telnet is refused by control logic: a counted drop. */
    len = build_udp(frame, sizeof frame, 1, 5001, 23, NULL);
    assert_int_equal(plane_app_inst_run(ext, frame, len, 4, 4000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_DROP);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.new_flow_rc, PLANE_EPERM);
    assert_int_equal(st->new_flow_denied, 1);

    /* Discard port: admitted by new_flow(), then dropped by process(). */
    len = build_udp(frame, sizeof frame, 1, 5002, 9, NULL);
    assert_int_equal(plane_app_inst_run(ext, frame, len, 4, 5000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_DROP);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.n_updates, 1);
    assert_int_equal(plane_object_count(plane_app_inst_object(ext, OBJ_FLOWS)), 2);

    /* The flows table (size 2 from the config) is full: new_flow() fails. */
    len = build_udp(frame, sizeof frame, 9, 5003, 80, NULL);
    assert_int_equal(plane_app_inst_run(ext, frame, len, 4, 6000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_DROP);
    assert_int_equal(r.new_flow_rc, PLANE_ENOSPC);
    assert_int_equal(r.n_updates, 0);
    assert_int_equal(plane_object_stats(plane_app_inst_object(ext, OBJ_FLOWS))
                         ->full_rejects, 1);
    assert_int_equal(st->dropped, 3);

    plane_app_inst_delete(sw);
    plane_app_inst_delete(ext);
    plane_app_delete(app);
}

/* state_key(): a reply finds the state its request's new_flow() created. */
static void
test_state_key(void **state)
{
    (void) state;
    struct plane_app *app = load_counter();
    struct plane_config_param params[1] = { { .key = "symmetric" } };
    params[0].value = (char *) "1";
    struct plane_config_app cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.params = params;
    cfg.n_params = 1;
    struct plane_app_inst *ext = plane_app_inst_new(app, &cfg, 2, true, &hasher);
    assert_non_null(ext);

    /* 10.1.0.1:80 -> 10.0.0.9:5000 sorts above its reverse: it is mapped. */
    uint8_t frame[256];
    struct plane_flow_key fwd, rev, sk, uk;
    size_t len = build_udp(frame, sizeof frame, 9, 5000, 80, &fwd);
    plane_flow_key_reverse(&fwd, &rev);
    plane_app_inst_state_key(ext, &rev, &sk);
    assert_true(plane_flow_key_eq(&sk, &fwd));
    plane_app_inst_union_key(ext, &rev, &uk);
    assert_true(plane_flow_key_eq(&uk, &fwd));
    plane_app_inst_union_key(ext, &uk, &sk);   /* idempotent */
    assert_true(plane_flow_key_eq(&sk, &uk));

    struct plane_run_result r;
    assert_int_equal(plane_app_inst_run(ext, frame, len, 4, 1000, &r), 0);
    assert_true(r.new_flow_ran);
    assert_int_equal(r.verdict, PLANE_V_FORWARD);

    /* The reply: same union key, no new flow, counted in the same entry. */
    struct plane_pkt_spec s;
    memset(&s, 0, sizeof s);
    s.key = rev;
    size_t rlen = 0;
    assert_int_equal(plane_pkt_build_udp4(frame, sizeof frame, &s, "reply", 5,
                                          &rlen), 0);
    assert_int_equal(plane_app_inst_run(ext, frame, rlen, 4, 2000, &r), 0);
    assert_false(r.new_flow_ran);
    assert_int_equal(r.verdict, PLANE_V_FORWARD);
    assert_true(plane_flow_key_eq(&r.union_key, &fwd));
    struct plane_flow_key src;
    plane_flow_key_mask(&fwd, PLANE_FLOW_SRC_IP, &src);
    uint64_t v = 0;
    assert_int_equal(plane_object_get(plane_app_inst_object(ext, OBJ_PKTS), &src,
                                      sizeof src, &v), 0);
    assert_int_equal(v, 2);
    plane_app_inst_delete(ext);
    plane_app_delete(app);
}

static void
test_nat_checksums(void **state)
{
    (void) state;
    struct plane_app *app = load_counter();
    struct plane_config_param params[1] = { { .key = "nat" } };
    params[0].value = (char *) "1";
    struct plane_config_app cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.params = params;
    cfg.n_params = 1;
    struct plane_app_inst *ext = plane_app_inst_new(app, &cfg, 2, true, &hasher);
    assert_non_null(ext);

    uint8_t frame[256];
    struct plane_flow_key key;
    size_t len = build_udp(frame, sizeof frame, 1, 5000, 80, &key);
    struct plane_run_result r;
    assert_int_equal(plane_app_inst_run(ext, frame, len, 4, 1000, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, 7);   /* the default egress_port */
    /* The union key is the packet as it arrived, not as rewritten. */
    assert_true(plane_flow_key_eq(&r.union_key, &key));

    struct plane_pkt pkt;
    assert_int_equal(plane_pkt_parse(frame, len, &pkt), 0);
    const uint8_t nat[4] = { 192, 0, 2, 1 };
    assert_memory_equal(&pkt.key.src_addr[PLANE_FLOW_V4_OFF], nat, 4);
    assert_int_equal(pkt.key.src_port, 40000);
    assert_int_equal(pkt.key.dst_port, 80);
    /* Incrementally updated checksums equal recomputed ones. */
    uint8_t copy[256];
    memcpy(copy, frame, len);
    assert_int_equal(plane_pkt_recompute_csums(copy, &pkt), 0);
    assert_memory_equal(copy, frame, len);

    plane_app_inst_delete(ext);
    plane_app_delete(app);
}

static void
test_init_fini(void **state)
{
    (void) state;
    struct plane_app *app = load_counter();
    int *fini_calls = dlsym(app->dl, "test_counter_app_fini_calls");
    assert_non_null(fini_calls);
    int before = *fini_calls;

    struct plane_config_param params[1] = { { .key = "bogus" } };
    params[0].value = (char *) "1";
    struct plane_config_app cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.params = params;
    cfg.n_params = 1;
    /* init() rejects the unknown parameter: no instance, no fini(). */
    assert_null(plane_app_inst_new(app, &cfg, 2, true, &hasher));
    assert_int_equal(*fini_calls, before);

    /* An object size the config makes invalid. */
    struct plane_config_object sizes[1] = { { .name = "pkts", .size = 0 } };
    memset(&cfg, 0, sizeof cfg);
    cfg.objects = sizes;
    cfg.n_objects = 1;
    assert_null(plane_app_inst_new(app, &cfg, 2, true, &hasher));

    struct plane_app_inst *inst = plane_app_inst_new(app, NULL, 2, true, &hasher);
    assert_non_null(inst);
    plane_app_inst_delete(inst);
    assert_int_equal(*fini_calls, before + 1);
    plane_app_inst_delete(NULL);
    plane_app_delete(app);
}

/* ---- Context rules, through a statically linked app ---- */

struct probe_state {
    int mode;
    uint16_t in_port;
    uint64_t now_ns;
    uint16_t device;
    bool external;
    int insert_rc;
    int get_kind_rc;
    int reg_add_rc;
    int bad_obj_rc;
    size_t frame_len;
    size_t inserts;
};

static struct probe_state *probe;

static enum plane_verdict
probe_process(struct plane_ctx *ctx, void *state)
{
    (void) state;
    probe->in_port = plane_ctx_in_port(ctx);
    probe->now_ns = plane_ctx_now_ns(ctx);
    probe->device = plane_ctx_device(ctx);
    probe->external = plane_ctx_is_external(ctx);
    (void) plane_ctx_frame(ctx, &probe->frame_len);
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, 0, key);
    uint64_t v = 1;
    probe->insert_rc = plane_ctx_table_insert(ctx, 0, key, klen, &v);
    probe->get_kind_rc = plane_ctx_reg_get(ctx, 0, key, klen, &v);
    klen = plane_ctx_obj_key(ctx, 1, key);
    probe->reg_add_rc = plane_ctx_reg_add(ctx, 1, key, klen, 5);
    probe->bad_obj_rc = plane_ctx_table_get(ctx, 9, key, klen, &v);
    assert_int_equal(plane_ctx_obj_key(ctx, 9, key), 0);
    assert_int_equal(plane_ctx_cms_estimate(ctx, 0, "x", 1), 0);
    assert_false(plane_ctx_bloom_test(ctx, 0, "x", 1));
    switch (probe->mode) {
    case 1:
        return (enum plane_verdict) 42;   /* a broken app */
    case 2:
        return PLANE_V_MISS;              /* misses even after new_flow() */
    default:
        return PLANE_V_FORWARD;           /* default egress: the in port */
    }
}

static int
probe_new_flow(struct plane_ctx *ctx, void *state)
{
    (void) state;
    /* More updates than a result can carry: the extra ones are refused. */
    struct plane_flow_key k = *plane_ctx_flow_key(ctx);
    for (int i = 0; i < PLANE_RUN_MAX_UPDATES + 2; i++) {
        k.src_port = (uint16_t) (100 + i);
        uint64_t v = (uint64_t) i;
        if (plane_ctx_table_insert(ctx, 0, &k, sizeof k, &v) == 0) {
            probe->inserts++;
        }
    }
    /* A delete needs a log slot too: refused while the log is full. */
    k.src_port = 100;
    assert_int_equal(plane_ctx_table_delete(ctx, 0, &k, sizeof k), PLANE_ENOSPC);
    return 0;
}

static void
test_ctx_rules(void **state)
{
    (void) state;
    struct probe_state ps;
    memset(&ps, 0, sizeof ps);
    probe = &ps;
    struct plane_app_desc d = good_desc();
    d.process = probe_process;
    d.new_flow = probe_new_flow;
    struct plane_app *app = plane_app_from_desc(&d);
    assert_non_null(app);
    struct plane_app_inst *inst = plane_app_inst_new(app, NULL, 5, true, &hasher);
    assert_non_null(inst);

    uint8_t frame[256];
    size_t len = build_udp(frame, sizeof frame, 1, 5000, 80, NULL);
    struct plane_run_result r;
    assert_int_equal(plane_app_inst_run(inst, frame, len, 6, 777, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_FORWARD);
    assert_int_equal(r.egress_port, 6);
    assert_int_equal(ps.in_port, 6);
    assert_int_equal(ps.now_ns, 777);
    assert_int_equal(ps.device, 5);
    assert_true(ps.external);
    assert_int_equal(ps.frame_len, len);
    assert_int_equal(ps.insert_rc, PLANE_EPERM);    /* tables: control only */
    assert_int_equal(ps.get_kind_rc, PLANE_EINVAL); /* a table is no register */
    assert_int_equal(ps.reg_add_rc, 0);
    assert_int_equal(ps.bad_obj_rc, PLANE_EINVAL);

    ps.mode = 1;
    assert_int_equal(plane_app_inst_run(inst, frame, len, 6, 778, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_DROP);
    assert_int_equal(plane_app_inst_stats(inst)->bad_verdicts, 1);

    ps.mode = 2;
    assert_int_equal(plane_app_inst_run(inst, frame, len, 6, 779, &r), 0);
    assert_int_equal(r.verdict, PLANE_V_DROP);
    assert_true(r.new_flow_ran);
    assert_int_equal(ps.inserts, PLANE_RUN_MAX_UPDATES);
    assert_int_equal(r.n_updates, PLANE_RUN_MAX_UPDATES);
    assert_int_equal(plane_app_inst_stats(inst)->update_overflows, 3);
    assert_int_equal(plane_app_inst_stats(inst)->miss_after_new_flow, 1);
    for (size_t i = 0; i < r.n_updates; i++) {
        uint64_t v;
        memcpy(&v, r.updates[i].value, 8);
        assert_int_equal(v, i);
    }

    plane_app_inst_delete(inst);
    plane_app_delete(app);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_module),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_switch_miss),
        cmocka_unit_test(test_external_new_flow),
        cmocka_unit_test(test_state_key),
        cmocka_unit_test(test_nat_checksums),
        cmocka_unit_test(test_init_fini),
        cmocka_unit_test(test_ctx_rules),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
