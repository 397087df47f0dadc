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
