/* Helpers for app unit tests: load an app module, make instances, build frames, run them. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "app_internal.h"
#include "common/config.h"
#include "common/hash.h"
#include "common/pkt.h"
#include "ctx.h"
#include "object.h"
#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

/*
 * An app under test: the module (PLANE_APP_MODULE, set by plane_app_test()
 * in tests/CMakeLists.txt), and up to AH_MAX_PARAMS "key=value" params for
 * its instances.  One copy of an app with unlimited memory is an external
 * instance (new_flow() runs there) with every object sized by `size`.
 */
#define AH_MAX_PARAMS 16
#define AH_MAX_OBJECTS PLANE_APP_MAX_OBJECTS

struct ah_app {
    struct plane_app *app;
    struct plane_hasher hasher;
    struct plane_config_param params[AH_MAX_PARAMS];
    size_t n_params;
    struct plane_config_object sizes[AH_MAX_OBJECTS];
    size_t n_sizes;
};

/* Loads the module under test; fails the test when it does not load. */
static inline void
ah_load(struct ah_app *a)
{
    memset(a, 0, sizeof *a);
    assert_int_equal(plane_hasher_init(&a->hasher, "app-test", 8), 0);
    char err[256] = "";
    a->app = plane_app_load(PLANE_APP_MODULE, err, sizeof err);
    if (!a->app) {
        fail_msg("loading %s: %s", PLANE_APP_MODULE, err);
    }
}

static inline void
ah_unload(struct ah_app *a)
{
    plane_app_delete(a->app);
    a->app = NULL;
}

/* Adds a param for instances made after this call (strings must outlive them). */
static inline void
ah_param(struct ah_app *a, const char *key, const char *value)
{
    assert_true(a->n_params < AH_MAX_PARAMS);
    snprintf(a->params[a->n_params].key, sizeof a->params[a->n_params].key,
             "%s", key);
    a->params[a->n_params].value = (char *) value;
    a->n_params++;
}

/* Sizes object `name` (entries) for instances made after this call. */
static inline void
ah_size(struct ah_app *a, const char *name, uint32_t size)
{
    assert_true(a->n_sizes < AH_MAX_OBJECTS);
    memset(&a->sizes[a->n_sizes], 0, sizeof a->sizes[a->n_sizes]);
    snprintf(a->sizes[a->n_sizes].name, sizeof a->sizes[a->n_sizes].name, "%s", name);
    a->sizes[a->n_sizes].size = size;
    a->n_sizes++;
}

/*
 * Makes an instance on device `device` (external: a NIC or server where
 * new_flow() runs; false: the switch).  Fails the test when init() fails;
 * use ah_inst_try() to test init errors.
 */
static inline struct plane_app_inst *
ah_inst_try(struct ah_app *a, uint16_t device, bool external)
{
    struct plane_config_app cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.params = a->params;
    cfg.n_params = a->n_params;
    cfg.objects = a->sizes;
    cfg.n_objects = a->n_sizes;
    return plane_app_inst_new(a->app, &cfg, device, external, &a->hasher);
}

static inline struct plane_app_inst *
ah_inst(struct ah_app *a, uint16_t device, bool external)
{
    struct plane_app_inst *inst = ah_inst_try(a, device, external);
    assert_non_null(inst);
    return inst;
}

/* A frame: the key's 5-tuple, TCP flags/seq/ack for TCP, a payload. */
struct ah_frame {
    uint8_t buf[2048];
    size_t len;
};

/* IPv4 address a.b.c.d as 4 bytes. */
#define AH_IP4(a, b, c, d) ((const uint8_t[4]){ (a), (b), (c), (d) })

/* Builds a UDP/IPv4 frame src:sport -> dst:dport with payload. */
static inline void
ah_udp4(struct ah_frame *f, const uint8_t src[4], uint16_t sport,
        const uint8_t dst[4], uint16_t dport, const void *payload, size_t plen)
{
    struct plane_pkt_spec s;
    memset(&s, 0, sizeof s);
    plane_flow_key_set_v4(&s.key, PLANE_IPPROTO_UDP, src, sport, dst, dport);
    s.src_mac[5] = 1;
    s.dst_mac[5] = 2;
    assert_int_equal(plane_pkt_build_udp4(f->buf, sizeof f->buf, &s, payload,
                                          plen, &f->len), 0);
}

/* Builds a TCP/IPv4 frame with the given flags (PLANE_TCP_*), seq and ack. */
static inline void
ah_tcp4(struct ah_frame *f, const uint8_t src[4], uint16_t sport,
        const uint8_t dst[4], uint16_t dport, uint8_t flags, uint32_t seq,
        uint32_t ack, const void *payload, size_t plen)
{
    struct plane_pkt_spec s;
    memset(&s, 0, sizeof s);
    plane_flow_key_set_v4(&s.key, PLANE_IPPROTO_TCP, src, sport, dst, dport);
    s.src_mac[5] = 1;
    s.dst_mac[5] = 2;
    s.tcp_flags = flags;
    s.tcp_seq = seq;
    s.tcp_ack = ack;
    assert_int_equal(plane_pkt_build_tcp4(f->buf, sizeof f->buf, &s, payload,
                                          plen, &f->len), 0);
}

/*
 * Runs frame f through inst arriving on in_port at time now_ns (rewrites
 * stay in f) and returns the verdict.  r may be NULL.
 */
static inline enum plane_verdict
ah_run(struct plane_app_inst *inst, struct ah_frame *f, uint16_t in_port,
       uint64_t now_ns, struct plane_run_result *r)
{
    struct plane_run_result local;
    struct plane_run_result *out = r ? r : &local;
    assert_int_equal(plane_app_inst_run(inst, f->buf, f->len, in_port, now_ns,
                                        out), 0);
    return out->verdict;
}

/* Parses f (fails the test when it does not parse). */
static inline void
ah_parse(const struct ah_frame *f, struct plane_pkt *pkt)
{
    assert_int_equal(plane_pkt_parse(f->buf, f->len, pkt), 0);
}

/* Object index of `name` in the app (fails the test when absent). */
static inline uint16_t
ah_obj(const struct ah_app *a, const char *name)
{
    const struct plane_app_desc *d = a->app->desc;
    for (uint16_t i = 0; i < d->n_objects; i++) {
        if (!strcmp(d->objects[i].name, name)) {
            return i;
        }
    }
    fail_msg("no object %s", name);
    return 0;
}

/*
 * Reads word 0 of register `obj`'s entry for flow key k masked by the
 * object's key_fields (0 when absent): a counter's value.
 */
static inline uint64_t
ah_reg_u64(const struct ah_app *a, struct plane_app_inst *inst, uint16_t obj,
           const struct plane_flow_key *k)
{
    const struct plane_app_desc *d = a->app->desc;
    struct plane_flow_key m;
    plane_flow_key_mask(k, d->objects[obj].key_fields, &m);
    uint8_t v[PLANE_OBJ_MAX_VALUE] = { 0 };
    if (plane_object_get(plane_app_inst_object(inst, obj), &m, sizeof m, v) != 0) {
        return 0;
    }
    uint64_t w;
    memcpy(&w, v, sizeof w);
    return w;
}

/*
 * Adds several params: NULL-terminated key, value pairs, e.g.
 * ah_params(a, "port", "80", "mss", "1460", NULL).  Strings must outlive
 * the instances, as for ah_param().
 */
static inline void
ah_params(struct ah_app *a, ...)
{
    va_list ap;
    va_start(ap, a);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
        ah_param(a, k, va_arg(ap, const char *));
    }
    va_end(ap);
}

/*
 * Reads word w of register `name`'s entry for flow key k (masked by the
 * register's key_fields, as the app's plane_ctx_obj_key() does); 0 when
 * the entry is absent.
 */
static inline uint64_t
ah_reg_word_of(const struct ah_app *a, struct plane_app_inst *inst, const char *name,
               const struct plane_flow_key *k, unsigned w)
{
    uint16_t obj = ah_obj(a, name);
    struct plane_flow_key m;
    plane_flow_key_mask(k, a->app->desc->objects[obj].key_fields, &m);
    uint64_t v[PLANE_OBJ_MAX_VALUE / 8] = { 0 };
    assert_true(w < PLANE_OBJ_MAX_VALUE / 8);
    if (plane_object_get(plane_app_inst_object(inst, obj), &m, sizeof m, v) != 0) {
        return 0;
    }
    return v[w];
}

/*
 * Reads word w of register `name`'s one entry when the register is keyed
 * by nothing (key_fields 0: every flow shares it), as per-tenant counters
 * are (0 when absent).
 */
static inline uint64_t
ah_reg_word(const struct ah_app *a, struct plane_app_inst *inst, const char *name,
            unsigned w)
{
    struct plane_flow_key any;
    plane_flow_key_init(&any);
    return ah_reg_word_of(a, inst, name, &any, w);
}

/* Fails the test unless f's IPv4 and L4 checksums equal freshly computed ones. */
static inline void
ah_assert_csums_ok(const struct ah_frame *f)
{
    static struct ah_frame g;     /* static: frames are large for a stack */
    struct plane_pkt pkt;
    g = *f;
    ah_parse(&g, &pkt);
    assert_int_equal(plane_pkt_recompute_csums(g.buf, &pkt), 0);
    assert_memory_equal(g.buf, f->buf, f->len);
}

/* Fails the test unless the flow-key address addr holds IPv4 address want. */
static inline void
ah_assert_v4(const uint8_t addr[16], const uint8_t want[4])
{
    assert_memory_equal(addr + PLANE_FLOW_V4_OFF, want, 4);
}

/* plane_app_inst_entry_keys() callback of ah_copy_tables(): arg is the
 * destination instance; table entries are inserted, the rest skipped. */
static inline int
ah_copy_table_entry(void *arg, uint16_t obj, const void *key, size_t klen,
                    const void *value)
{
    struct plane_app_inst *to = arg;
    struct plane_object *o = plane_app_inst_object(to, obj);
    if (value && plane_object_kind(o) == PLANE_OBJ_TABLE) {
        assert_int_equal(plane_object_insert(o, key, klen, value), 0);
    }
    return 0;
}

/*
 * Copies union key uk's table entries from one instance to another, as
 * the two-phase update does when a flow becomes popular (so the switch
 * copy can then process the flow).
 */
static inline void
ah_copy_tables(struct plane_app_inst *from, struct plane_app_inst *to,
               const struct plane_flow_key *uk)
{
    assert_int_equal(plane_app_inst_entry_keys(from, uk, ah_copy_table_entry, to), 0);
}

/*
 * Runs f like ah_run(), fails the test unless the verdict is FORWARD and
 * returns the egress port.  r may be NULL.
 */
static inline uint16_t
ah_run_fwd(struct plane_app_inst *inst, struct ah_frame *f, uint16_t in_port,
           uint64_t now_ns, struct plane_run_result *r)
{
    struct plane_run_result local;
    struct plane_run_result *out = r ? r : &local;
    assert_int_equal(ah_run(inst, f, in_port, now_ns, out), PLANE_V_FORWARD);
    return out->egress_port;
}

/* The number of elements of array x. */
#define AH_COUNT(x) (sizeof (x) / sizeof (x)[0])

/* Fails the test unless the app maps flow key k to state key want. */
static inline void
ah_assert_state_key(struct plane_app_inst *inst, const struct plane_flow_key *k,
                    const struct plane_flow_key *want)
{
    struct plane_flow_key s;
    plane_app_inst_state_key(inst, k, &s);
    assert_true(plane_flow_key_eq(&s, want));
}

/*
 * Fails the test unless each of the n_bad params bad[i] = { key, value }
 * makes init() fail when added after the params `base` (a NULL-terminated
 * list of key, value strings that init() accepts, or NULL for none).  Each
 * try loads the module afresh.
 */
static inline void
ah_assert_bad_params(const char *const bad[][2], size_t n_bad,
                     const char *const *base)
{
    for (size_t n = 0; n < n_bad; n++) {
        struct ah_app a;
        ah_load(&a);
        for (size_t i = 0; base && base[i]; i += 2) {
            ah_param(&a, base[i], base[i + 1]);
        }
        ah_param(&a, bad[n][0], bad[n][1]);
        if (ah_inst_try(&a, 1, true) != NULL) {
            fail_msg("param %s=\"%s\" was accepted", bad[n][0], bad[n][1]);
        }
        ah_unload(&a);
    }
}

/*
 * The usual two copies of an app under test: an external device (device 1,
 * where new_flow() runs) and the switch (device 0).  Load the module and
 * add params to `a` (ah_load(), ah_param()), then ah_pair_start().
 */
struct ah_pair {
    struct ah_app a;
    struct plane_app_inst *ext;
    struct plane_app_inst *sw;
};

/* Makes both instances from p->a's params (fails the test when init() fails). */
static inline void
ah_pair_start(struct ah_pair *p)
{
    p->ext = ah_inst(&p->a, 1, true);
    p->sw = ah_inst(&p->a, 0, false);
}

/* Deletes both instances and unloads the module. */
static inline void
ah_pair_stop(struct ah_pair *p)
{
    plane_app_inst_delete(p->sw);
    plane_app_inst_delete(p->ext);
    ah_unload(&p->a);
}

/*
 * The switch-after-copy check of a per-flow app: frame f misses at the
 * switch (no control logic there, the frame untouched), is forwarded by
 * the external copy (whose control logic makes the flow's entries), and
 * once those entries are copied to the switch, the switch forwards its own
 * copy of the frame exactly as the device did: same egress port, same
 * bytes.  Runs at now_ns (the switch's second run at now_ns + 1); f ends as
 * the device rewrote it and r (required) holds the device's result.
 */
static inline void
ah_assert_switch_after_copy(struct ah_pair *p, struct ah_frame *f, uint16_t in_port,
                            uint64_t now_ns, struct plane_run_result *r)
{
    struct ah_frame g = *f;
    struct plane_run_result rs;
    assert_int_equal(ah_run(p->sw, &g, in_port, now_ns, &rs), PLANE_V_MISS);
    assert_false(rs.new_flow_ran);
    assert_memory_equal(g.buf, f->buf, f->len);
    assert_int_equal(ah_run(p->ext, f, in_port, now_ns, r), PLANE_V_FORWARD);
    assert_true(plane_flow_key_eq(&rs.union_key, &r->union_key));
    ah_copy_tables(p->ext, p->sw, &r->union_key);
    assert_int_equal(ah_run(p->sw, &g, in_port, now_ns + 1, &rs), PLANE_V_FORWARD);
    assert_int_equal(rs.egress_port, r->egress_port);
    assert_memory_equal(g.buf, f->buf, f->len);
}
