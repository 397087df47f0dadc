/* The switch runtime: port ingress, classification, flow-manager hits at the switch, misses pinned to devices, liveness, promotions. */
#include "switch_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include <plane/error.h>

#include "app_internal.h"
#include "common/alloc.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/counters.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/mp.h"
#include "common/pkt.h"
#include "common/rpc.h"
#include "common/statpage.h"
#include "common/udp.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "ctx.h"
#include "daemon.h"
#include "flowmgr.h"
#include "merge.h"
#include "object.h"
#include "placement.h"
#include "switch_tap.h"
#include "update.h"

PLANE_LOG_MODULE(switch);

static const char *const sw_counter_names[] = { PLANE_COUNTERS_NAMES(SW_COUNTERS) };
static const char *const sw_app_counter_names[] = { PLANE_COUNTERS_NAMES(SW_APP_COUNTERS) };

static const struct plane_obj_desc sw_refs_desc = {
    .name = "refs", .kind = PLANE_OBJ_REGISTER, .key_fields = PLANE_FLOW_ALL,
    .value_len = 8, .size = 1, .merge = PLANE_MERGE_ADD,
};
static const struct plane_obj_desc sw_ids_desc = {
    .name = "demote_ids", .kind = PLANE_OBJ_REGISTER, .key_fields = PLANE_FLOW_ALL,
    .value_len = 8, .size = 1, .merge = PLANE_MERGE_ADD,
};

static struct sw_dev *
sw_dev_find(struct plane_switch *sw, uint16_t id)
{
    for (size_t i = 0; i < sw->n_devs; i++) {
        if (sw->devs[i].cfg->id == id) {
            return &sw->devs[i];
        }
    }
    return NULL;
}

static struct sw_app *
sw_app_find(struct plane_switch *sw, uint16_t id)
{
    for (size_t i = 0; i < sw->n_apps; i++) {
        if (sw->apps[i].cfg->id == id) {
            return &sw->apps[i];
        }
    }
    return NULL;
}

static bool
sw_obj_keyed(const struct sw_app *a, uint16_t i)
{
    enum plane_obj_kind k = a->app->objs[i].kind;
    return k == PLANE_OBJ_TABLE || k == PLANE_OBJ_REGISTER;
}

static uint64_t
sw_refcount(const struct sw_app *a, uint16_t i, const struct plane_flow_key *k)
{
    const void *v = plane_object_lookup(a->refs[i], k, sizeof *k);
    uint64_t n = 0;
    if (v) {
        memcpy(&n, v, sizeof n);
    }
    return n;
}

static void
sw_refcount_set(struct sw_app *a, uint16_t i, const struct plane_flow_key *k, uint64_t n)
{
    if (n == 0) {
        (void) plane_object_delete_entry(a->refs[i], k, sizeof *k);
    } else if (plane_object_insert(a->refs[i], k, sizeof *k, &n)) {
        PLANE_CTR_INC(&a->stats, object_full);
    }
}

/* ---- update timer -------------------------------------------------------- */

static void sw_upd_timer_cb(uv_timer_t *t);

/* Arms the one-shot timer at the earliest deadline of any update engine. */
void
plane_switch__arm_updates(struct plane_switch *sw)
{
    if (sw->stopping || !sw->timers_inited) {
        return;
    }
    uint64_t dl = UINT64_MAX;
    for (size_t i = 0; i < sw->n_apps; i++) {
        uint64_t t = plane_update_next_deadline(sw->apps[i].upd);
        if (t < dl) {
            dl = t;
        }
    }
    if (dl == UINT64_MAX) {
        uv_timer_stop(&sw->upd_timer);
        return;
    }
    uint64_t now = plane_clock_now_ns();
    uint64_t ms = dl > now ? (dl - now + PLANE_NS_PER_MS - 1) / PLANE_NS_PER_MS : 0;
    uv_timer_start(&sw->upd_timer, sw_upd_timer_cb, ms, 0);
}

static void
sw_upd_timer_cb(uv_timer_t *t)
{
    struct plane_switch *sw = t->data;
    uint64_t now = plane_clock_now_ns();
    for (size_t i = 0; i < sw->n_apps; i++) {
        plane_update_tick(sw->apps[i].upd, now);
    }
    plane_switch__arm_updates(sw);
}

/* T_idle aging: a slice of every flow manager per call, so a sweep spreads
 * over several calls and never stalls the loop. */
/* Every T_e: a SYNC round (switch_sync.c). */
static void
sw_sync_timer_cb(uv_timer_t *t)
{
    plane_switch__sync_round(t->data);
}

static void
sw_age_timer_cb(uv_timer_t *t)
{
    struct plane_switch *sw = t->data;
    uint64_t now = plane_clock_now_ns();
    uint64_t idle_ns = (uint64_t) sw->cfg->timers.idle_ms * PLANE_NS_PER_MS;
    for (size_t i = 0; i < sw->n_apps; i++) {
        struct sw_app *a = &sw->apps[i];
        uint32_t nb = plane_flowmgr_n_buckets(a->fm);
        /* 1/4 of idle_ms per call: a full sweep every idle_ms or so. */
        uint32_t slice = nb / 4 + 1;
        plane_update_age(a->upd, now, idle_ns, slice);
    }
    plane_switch__arm_updates(sw);
}

/* ---- the update engine's ops: install (ENTRY_READ), collect (DEMOTE), remove */

static int
sw_send_call(struct plane_switch *sw, uint16_t dev, uint16_t type, size_t body_len,
             plane_rpc_cb cb, void *arg, const struct plane_rpc_call_opts *opts)
{
    if (!sw->rpc || sw->stopping) {
        return PLANE_ESTATE;
    }
    return plane_rpc_call(sw->rpc, dev, type, sw->bufs->body, body_len, opts, cb, arg, NULL);
}

/* Validates and installs an ENTRY_READ answer for op->key. */
static int
sw_install_entries(struct sw_app *a, const struct plane_flow_key *ukey,
                   const struct plane_body_entries *e)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    const void *vals[PLANE_APP_MAX_OBJECTS] = { 0 };
    uint16_t n_obj = plane_app_n_objects(a->app);

    if (e->app_id != a->cfg->id) {
        return PLANE_EPROTO;
    }
    for (uint32_t j = 0; j < e->n_entries; j++) {
        const struct plane_body_entry *en = &e->entries[j];
        struct plane_flow_key k;
        if (en->object_id >= n_obj || !sw_obj_keyed(a, en->object_id)
            || en->key_len != sizeof k) {
            PLANE_CTR_INC(&a->stats, install_bad_entries);
            PLANE_WARN_RL(&rl, "app %s: bad entry in ENTRY_READ answer", a->cfg->name);
            return PLANE_EPROTO;
        }
        plane_flow_key_mask(ukey, a->app->objs[en->object_id].key_fields, &k);
        if (memcmp(en->key, &k, sizeof k)) {
            PLANE_CTR_INC(&a->stats, install_bad_entries);
            PLANE_WARN_RL(&rl, "app %s: ENTRY_READ answer for another key", a->cfg->name);
            return PLANE_EPROTO;
        }
        if (en->flags & PLANE_ENTRY_F_NOT_FOUND) {
            continue;
        }
        if (en->value_len != a->app->objs[en->object_id].value_len) {
            PLANE_CTR_INC(&a->stats, install_bad_entries);
            return PLANE_EPROTO;
        }
        vals[en->object_id] = en->value;
    }
    /* Install: an entry already present because another resident key shares
     * it keeps the switch's (newer) register value; tables take the device's. */
    for (uint16_t i = 0; i < n_obj; i++) {
        if (!sw_obj_keyed(a, i)) {
            continue;
        }
        struct plane_flow_key k;
        plane_flow_key_mask(ukey, a->app->objs[i].key_fields, &k);
        uint64_t refs = sw_refcount(a, i, &k);
        bool reg = a->app->objs[i].kind == PLANE_OBJ_REGISTER;
        if (vals[i] && (!reg || refs == 0)) {
            if (plane_object_insert(a->inst->objects[i], &k, sizeof k, vals[i])) {
                PLANE_CTR_INC(&a->stats, object_full);
            } else if (reg && plane_object_insert(a->base[i], &k, sizeof k, vals[i])) {
                PLANE_CTR_INC(&a->stats, object_full);   /* cannot happen: sized for it */
            }
        }
        sw_refcount_set(a, i, &k, refs + 1);
    }
    return 0;
}

/* Counts the key as holding its entries even when nothing was installed, so
 * the remove_entries the engine calls after a failed install balances. */
static void
sw_acquire_only(struct sw_app *a, const struct plane_flow_key *ukey)
{
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (sw_obj_keyed(a, i)) {
            struct plane_flow_key k;
            plane_flow_key_mask(ukey, a->app->objs[i].key_fields, &k);
            sw_refcount_set(a, i, &k, sw_refcount(a, i, &k) + 1);
        }
    }
}

static void
sw_read_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct sw_op *op = arg;
    struct sw_app *a = op->a;
    struct plane_switch *sw = a->sw;
    (void) rpc;

    int err = status;
    if (!err) {
        struct plane_body_entries e;
        plane_mp_zone_clear(&sw->zone);
        err = plane_body_entries_decode(resp->body, resp->body_len, &sw->zone, &e);
        if (!err) {
            err = sw_install_entries(a, &op->key, &e);
        }
    }
    if (err) {
        sw_acquire_only(a, &op->key);
        PLANE_CTR_INC(&a->stats, install_errors);
        if (err != PLANE_ECANCELED) {
            PLANE_WARN_RL(&rl, "app %s: ENTRY_READ to device %u failed: %s",
                          a->cfg->name, op->dev, plane_err_name(err));
        }
    } else {
        PLANE_CTR_INC(&a->stats, install_ok);
    }
    plane_update_done(a->upd, op->ticket, err, plane_clock_now_ns());
    plane_free(op);
    plane_switch__arm_updates(sw);
}

static uint16_t
sw_serving(struct sw_app *a, const struct plane_flow_key *ukey)
{
    uint64_t h = plane_hash_flow_key(&a->sw->hasher, ukey);
    return plane_placement_device_in(&a->sw->pl, &a->lset, h);
}

struct plane_rpc_call_opts
plane_switch__call_opts(const struct plane_switch *sw)
{
    struct plane_rpc_call_opts o = {
        .timeout_ns = (uint64_t) sw->cfg->timers.rpc_timeout_ms * PLANE_NS_PER_MS,
        .retries = sw->cfg->timers.rpc_retries,
    };
    return o;
}

/*
 * Sends the update engine's request for (a, key, ticket) to dev, with the
 * body already encoded in sw->bufs->body by w.  The sw_op carrying the
 * ticket is freed by cb, or here when nothing was sent.  Returns 0 or the
 * encoding, allocation or send error.
 */
static int
sw_send_op(struct plane_switch *sw, struct sw_app *a, const struct plane_flow_key *key,
           uint64_t ticket, uint16_t dev, uint16_t type, int enc_err,
           const struct plane_mp_writer *w, plane_rpc_cb cb)
{
    if (enc_err || w->overflow) {
        return enc_err ? enc_err : PLANE_EMSGSIZE;
    }
    struct sw_op *op = plane_malloc(sizeof *op);
    if (!op) {
        return PLANE_ENOMEM;
    }
    *op = (struct sw_op) { .a = a, .key = *key, .ticket = ticket, .dev = dev };
    struct plane_rpc_call_opts o = plane_switch__call_opts(sw);
    int err = sw_send_call(sw, dev, type, w->len, cb, op, &o);
    if (err) {
        plane_free(op);
    }
    return err;
}

/* install_entries: pull the key's entries from the device serving it. */
static void
sw_op_install(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct sw_app *a = arg;
    struct plane_switch *sw = a->sw;
    int err = 0;
    uint16_t dev = sw_serving(a, key);

    if (dev == PLANE_DEV_NONE) {
        err = PLANE_EPEER;
        goto fail;
    }
    struct plane_body_entry ents[PLANE_APP_MAX_OBJECTS];
    struct plane_flow_key keys[PLANE_APP_MAX_OBJECTS];
    uint32_t n = 0;
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (!sw_obj_keyed(a, i)) {
            continue;
        }
        plane_flow_key_mask(key, a->app->objs[i].key_fields, &keys[n]);
        ents[n] = (struct plane_body_entry) {
            .object_id = i, .key = (const uint8_t *) &keys[n], .key_len = sizeof keys[n],
        };
        n++;
    }
    struct plane_body_entries body = { .app_id = a->cfg->id, .n_entries = n, .entries = ents };
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, sw->bufs->body, sizeof sw->bufs->body);
    err = sw_send_op(sw, a, key, ticket, dev, PLANE_MSG_ENTRY_READ,
                     plane_body_entries_encode(&body, &w), &w, sw_read_cb);
    if (!err) {
        return;
    }
fail:
    sw_acquire_only(a, key);
    PLANE_CTR_INC(&a->stats, install_errors);
    plane_update_done(a->upd, ticket, err, plane_clock_now_ns());
}

/* remove_entries: drop the key's entries unless another resident key shares them. */
static void
sw_op_remove(void *arg, const struct plane_flow_key *key)
{
    struct sw_app *a = arg;
    (void) plane_object_delete_entry(a->demote_ids, key, sizeof *key);
    plane_switch__sync_forget(a, key);
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (!sw_obj_keyed(a, i)) {
            continue;
        }
        struct plane_flow_key k;
        plane_flow_key_mask(key, a->app->objs[i].key_fields, &k);
        uint64_t refs = sw_refcount(a, i, &k);
        if (refs > 1) {
            sw_refcount_set(a, i, &k, refs - 1);
            continue;
        }
        sw_refcount_set(a, i, &k, 0);
        (void) plane_object_delete_entry(a->inst->objects[i], &k, sizeof k);
        if (a->base[i]) {
            (void) plane_object_delete_entry(a->base[i], &k, sizeof k);
        }
    }
}

static void
sw_demote_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct sw_op *op = arg;
    struct sw_app *a = op->a;
    (void) rpc;
    (void) resp;
    if (status) {
        PLANE_CTR_INC(&a->stats, demote_errors);
        if (status != PLANE_ECANCELED) {
            PLANE_WARN_RL(&rl, "app %s: DEMOTE to device %u failed: %s", a->cfg->name,
                          op->dev, plane_err_name(status));
        }
    } else {
        PLANE_CTR_INC(&a->stats, demote_ok);
    }
    plane_update_done(a->upd, op->ticket, status, plane_clock_now_ns());
    struct plane_switch *sw = a->sw;
    plane_free(op);
    plane_switch__arm_updates(sw);
}

/*
 * collect_deltas: a DEMOTE (phase COMMIT) carrying, per register entry of
 * the key that no other resident key shares, the switch's value minus the
 * value installed (operators with a minus) or the value itself (idempotent
 * merges); the device merges them with the object's plus.
 */
static void
sw_op_collect(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct sw_app *a = arg;
    struct plane_switch *sw = a->sw;
    int err;
    uint16_t dev = sw_serving(a, key);
    if (dev == PLANE_DEV_NONE) {
        err = PLANE_EPEER;
        goto fail;
    }
    if (plane_switch__sync_pending(a, key)) {
        /* A SYNC hand-back of this key is in flight: the DEMOTE hands
         * back what is left after it, so wait for it (the engine retries). */
        PLANE_CTR_INC(&a->stats, collect_waits);
        plane_update_done(a->upd, ticket, PLANE_EAGAIN, plane_clock_now_ns());
        return;
    }
    struct plane_body_entry ents[PLANE_APP_MAX_OBJECTS];
    struct plane_flow_key keys[PLANE_APP_MAX_OBJECTS];
    uint8_t vals[PLANE_APP_MAX_OBJECTS][PLANE_OBJ_MAX_VALUE];
    uint32_t n = 0;
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (a->app->objs[i].kind != PLANE_OBJ_REGISTER) {
            continue;
        }
        plane_flow_key_mask(key, a->app->objs[i].key_fields, &keys[n]);
        if (sw_refcount(a, i, &keys[n]) > 1) {
            continue;   /* the last key using it hands its delta back */
        }
        const void *cur = plane_object_lookup(a->inst->objects[i], &keys[n], sizeof keys[n]);
        if (!cur) {
            continue;
        }
        size_t vlen = a->app->objs[i].value_len;
        if (plane_merge_has_minus(&a->merge[i])) {
            static const uint8_t zero[PLANE_OBJ_MAX_VALUE];
            const void *b = plane_object_lookup(a->base[i], &keys[n], sizeof keys[n]);
            plane_merge_minus(&a->merge[i], vals[n], cur, b ? b : zero, vlen);
        } else {
            memcpy(vals[n], cur, vlen);
        }
        ents[n] = (struct plane_body_entry) {
            .object_id = i, .flags = PLANE_ENTRY_F_SHARED,
            .key = (const uint8_t *) &keys[n], .key_len = sizeof keys[n],
            .value = vals[n], .value_len = (uint32_t) vlen,
        };
        n++;
    }
    uint64_t update_id;
    const void *idv = plane_object_lookup(a->demote_ids, key, sizeof *key);
    if (idv) {
        memcpy(&update_id, idv, sizeof update_id);
    } else {
        update_id = plane_switch__update_id(sw);
        if (plane_object_insert(a->demote_ids, key, sizeof *key, &update_id)) {
            PLANE_CTR_INC(&a->stats, object_full);
        }
    }
    struct plane_body_update body = {
        .app_id = a->cfg->id, .update_id = update_id, .phase = PLANE_UPDATE_COMMIT,
        .union_key = (const uint8_t *) key, .union_key_len = sizeof *key,
        .n_entries = n, .entries = ents,
    };
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, sw->bufs->body, sizeof sw->bufs->body);
    err = sw_send_op(sw, a, key, ticket, dev, PLANE_MSG_DEMOTE,
                     plane_body_update_encode(&body, &w), &w, sw_demote_cb);
    if (!err) {
        return;
    }
fail:
    PLANE_CTR_INC(&a->stats, demote_errors);
    plane_update_done(a->upd, ticket, err, plane_clock_now_ns());
}

/* ---- data path ----------------------------------------------------------- */

static bool
sw_class_match(const struct plane_config_match *m, const struct plane_pkt *p)
{
    if (m->proto == PLANE_PROTO_UDP && p->key.proto != 17) {
        return false;
    }
    if (m->proto == PLANE_PROTO_TCP && p->key.proto != 6) {
        return false;
    }
    if (p->key.dst_port < m->dst_port.lo || p->key.dst_port > m->dst_port.hi) {
        return false;
    }
    if (m->has_vlan && (p->n_vlans == 0 || p->vlan_id[0] != m->vlan)) {
        return false;
    }
    return true;
}

/* Sends frame out of port id with a PROCESSED|TO_EGRESS header. */
static void
sw_egress(struct plane_switch *sw, struct plane_wire_data *d)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct sw_port *port = NULL;
    for (size_t i = 0; i < sw->n_ports; i++) {
        if (sw->ports[i].cfg->id == d->port) {
            port = &sw->ports[i];
            break;
        }
    }
    if (!port) {
        PLANE_CTR_INC(&sw->stats, egress_bad_port);
        PLANE_WARN_RL(&rl, "egress to unknown port %u: dropped", d->port);
        return;
    }
    if (port->tap) {
        /* A TAP port's egress is the bare frame: the kernel behind it is
         * the next hop, not a Plane peer. */
        if (plane_switch_tap_send(port->tap, d->frame, d->frame_len)) {
            PLANE_CTR_INC(&sw->stats, egress_errors);
            PLANE_DBG_RL(&rl, "egress on tap port %s failed", port->cfg->name);
            return;
        }
        PLANE_CTR_INC(&sw->stats, egress_frames);
        return;
    }
    if (!port->cfg->has_peer) {
        PLANE_CTR_INC(&sw->stats, egress_no_peer);
        PLANE_DBG_RL(&rl, "port %s has no peer: dropped", port->cfg->name);
        return;
    }
    d->flags = PLANE_DATA_F_PROCESSED | PLANE_DATA_F_TO_EGRESS
               | (d->flags & PLANE_DATA_F_NEW_FLOW);
    int n = plane_wire_data_encode(d, sw->bufs->tx, sizeof sw->bufs->tx);
    if (n < 0 || plane_udp_send(port->udp, (const struct sockaddr *) &port->cfg->peer.sa,
                                sw->bufs->tx, (size_t) n)) {
        PLANE_CTR_INC(&sw->stats, egress_errors);
        PLANE_WARN_RL(&rl, "egress on port %s failed", port->cfg->name);
        return;
    }
    PLANE_CTR_INC(&sw->stats, egress_frames);
}

/* A miss: pin the packet to the device serving its union key. */
static void
sw_to_device(struct plane_switch *sw, struct sw_app *a, uint64_t key_hash,
             uint16_t in_port, uint64_t now, const uint8_t *frame, size_t len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    uint16_t ldev = plane_placement_logical_in(&sw->pl, &a->lset, key_hash);
    uint16_t pdev = plane_placement_serving(&sw->pl, ldev);
    struct sw_dev *dev = pdev == PLANE_DEV_NONE ? NULL : sw_dev_find(sw, pdev);
    if (!dev || !dev->up) {
        PLANE_CTR_INC(&sw->stats, device_down);
        PLANE_WARN_RL(&rl, "no device serves logical %u: dropped", ldev);
        return;
    }
    struct plane_wire_data d = {
        .app_id = a->cfg->id, .key_hash = key_hash, .ldev = ldev, .pdev = pdev,
        .flags = 0, .ingress_ns = now, .port = in_port, .processed_by = PLANE_DEV_NONE,
        .processed_ns = 0, .frame = frame, .frame_len = len,
    };
    int n = plane_wire_data_encode(&d, sw->bufs->tx, sizeof sw->bufs->tx);
    if (n < 0 || plane_udp_send(sw->ctl, (const struct sockaddr *) &dev->cfg->address.sa,
                                sw->bufs->tx, (size_t) n)) {
        PLANE_CTR_INC(&sw->stats, to_device_errors);
        PLANE_WARN_RL(&rl, "sending to device %u failed", pdev);
        return;
    }
    PLANE_CTR_INC(&a->stats, misses);
    PLANE_CTR_INC(&sw->stats, to_device);
}

/* Ingress: a raw Ethernet frame on a port (a UDP datagram or a TAP read). */
static void
sw_port_ingress(struct sw_port *port, const uint8_t *buf, size_t len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_switch *sw = port->sw;

    PLANE_CTR_INC(&sw->stats, rx_frames);
    if (sw->stopping || len > sizeof sw->bufs->frame) {
        return;
    }
    uint64_t now = plane_clock_now_ns();
    if (!plane_rate_allow(&sw->rate, now)) {
        PLANE_CTR_INC(&sw->stats, rate_limited);
        return;
    }
    struct plane_pkt pkt;
    if (plane_pkt_parse(buf, len, &pkt)) {
        PLANE_CTR_INC(&sw->stats, parse_error);
        PLANE_DBG_RL(&rl, "unparseable frame on port %s", port->cfg->name);
        return;
    }
    if (pkt.key.ip_version == 0) {
        PLANE_CTR_INC(&sw->stats, non_ip);
        return;
    }
    struct sw_app *a = NULL;
    for (size_t i = 0; i < sw->n_apps; i++) {
        if (sw_class_match(&sw->apps[i].cfg->traffic_class, &pkt)) {
            a = &sw->apps[i];
            break;
        }
    }
    if (!a) {
        PLANE_CTR_INC(&sw->stats, no_app);
        PLANE_DBG_RL(&rl, "no app for a frame on port %s", port->cfg->name);
        return;
    }
    PLANE_CTR_INC(&a->stats, rx);
    struct plane_flow_key ukey;
    plane_app_inst_union_key(a->inst, &pkt.key, &ukey);
    uint64_t key_hash = plane_hash_flow_key(&sw->hasher, &ukey);

    if (plane_flowmgr_lookup(a->fm, &ukey, now)) {
        /* The app may rewrite the frame: run it on a copy, so a MISS still
         * sends the frame as it arrived. */
        memcpy(sw->bufs->frame, buf, len);
        struct plane_run_result res;
        plane_app_inst_run_parsed(a->inst, sw->bufs->frame, len, &pkt, port->cfg->id, now,
                                  &res);
        if (res.verdict != PLANE_V_MISS) {
            PLANE_CTR_INC(&a->stats, hits);
            if (res.verdict == PLANE_V_DROP) {
                PLANE_CTR_INC(&a->stats, sw_dropped);
                return;
            }
            PLANE_CTR_INC(&a->stats, sw_forwarded);
            struct plane_wire_data d = {
                .app_id = a->cfg->id, .key_hash = key_hash,
                .ldev = plane_placement_logical_in(&sw->pl, &a->lset, key_hash), .pdev = sw->self,
                .ingress_ns = now, .port = res.egress_port, .processed_by = sw->self,
                .processed_ns = plane_clock_now_ns(), .frame = sw->bufs->frame,
                .frame_len = len,
            };
            sw_egress(sw, &d);
            return;
        }
        /* The app wants control logic for a resident key (a table entry
         * to add or remove: a cache fill, an invalidation).  Control logic
         * runs on devices only, and the switch's copy of the tables must
         * not go stale: demote the key (its flow-manager entry goes now, so
         * no later packet is served here with the old tables) and let the
         * device, which holds every copy's tables, run it.  A key that
         * stays hot is promoted again with fresh entries. */
        PLANE_CTR_INC(&a->stats, switch_miss);
        if (plane_update_demote(a->upd, &ukey, now) == 0) {
            plane_switch__arm_updates(sw);
        }
    }
    sw_to_device(sw, a, key_hash, port->cfg->id, now, buf, len);
}

static void
sw_port_rx(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
           const uint8_t *buf, size_t len)
{
    (void) udp;
    (void) peer;
    (void) from;
    sw_port_ingress(arg, buf, len);
}

static void
sw_tap_rx(void *arg, const uint8_t *frame, size_t len)
{
    sw_port_ingress(arg, frame, len);
}

/* DATA on the control endpoint: a device's processed packet. */
static void
sw_ctl_data(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
            const uint8_t *buf, size_t len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_switch *sw = arg;
    char a_[64];
    (void) udp;

    PLANE_CTR_INC(&sw->stats, dev_data);
    if (peer == PLANE_DEV_NONE || !sw_dev_find(sw, peer)) {
        PLANE_CTR_INC(&sw->stats, dev_data_unknown_peer);
        PLANE_WARN_RL(&rl, "DATA from %s, not a device: dropped",
                      plane_sockaddr_str(from, a_, sizeof a_));
        return;
    }
    struct plane_wire_data d;
    if (plane_wire_data_decode(buf, len, &d)) {
        PLANE_CTR_INC(&sw->stats, dev_data_bad);
        PLANE_WARN_RL(&rl, "bad DATA from device %u", peer);
        return;
    }
    if (!(d.flags & PLANE_DATA_F_PROCESSED)) {
        PLANE_CTR_INC(&sw->stats, dev_data_unprocessed);
        PLANE_WARN_RL(&rl, "unprocessed DATA from device %u: dropped", peer);
        return;
    }
    struct sw_app *a = sw_app_find(sw, d.app_id);
    if (!a) {
        PLANE_CTR_INC(&sw->stats, dev_data_unknown_app);
        PLANE_WARN_RL(&rl, "DATA from device %u for unknown app %u", peer, d.app_id);
        return;
    }
    if (d.flags & PLANE_DATA_F_DROP) {
        PLANE_CTR_INC(&sw->stats, dev_dropped);
        PLANE_CTR_INC(&a->stats, dev_dropped);
        return;
    }
    PLANE_CTR_INC(&a->stats, dev_processed);
    sw_egress(sw, &d);
}

/* ---- liveness and the device map ---------------------------------------- */

/* A DEVMAP_UPDATE in flight to one device. */
struct sw_dm {
    struct plane_switch *sw;
    uint16_t dev;
    uint64_t epoch;
};

static void
sw_devmap_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    struct sw_dm *dm = arg;
    struct plane_switch *sw = dm->sw;
    (void) rpc;
    (void) resp;
    if (status == 0) {
        struct sw_dev *dev = sw_dev_find(sw, dm->dev);
        if (dev && dm->epoch > dev->acked_epoch) {
            dev->acked_epoch = dm->epoch;
        }
    } else if (status != PLANE_ECANCELED) {
        PLANE_CTR_INC(&sw->stats, devmap_errors);
    }
    plane_free(dm);
}

/* Sends the device map to every live device. */
static void
sw_devmap_broadcast(struct plane_switch *sw)
{
    PLANE_INFO("device map epoch %" PRIu64, sw->pl.epoch);
    for (size_t i = 0; i < sw->n_devs; i++) {
        struct sw_dev *dev = &sw->devs[i];
        if (!dev->up) {
            continue;
        }
        struct plane_mp_writer w;
        plane_mp_writer_init(&w, sw->bufs->body, sizeof sw->bufs->body);
        if (plane_placement_devmap_encode(&sw->pl, &w) || w.overflow) {
            PLANE_CTR_INC(&sw->stats, devmap_errors);
            PLANE_ERR("device map does not fit a message");
            return;
        }
        struct plane_rpc_call_opts o = plane_switch__call_opts(sw);
        struct sw_dm *dm = plane_malloc(sizeof *dm);
        if (dm) {
            *dm = (struct sw_dm) { .sw = sw, .dev = dev->cfg->id, .epoch = sw->pl.epoch };
        }
        if (!dm || sw_send_call(sw, dev->cfg->id, PLANE_MSG_DEVMAP_UPDATE, w.len,
                                sw_devmap_cb, dm, &o)) {
            plane_free(dm);
            PLANE_CTR_INC(&sw->stats, devmap_errors);
        } else {
            PLANE_CTR_INC(&sw->stats, devmap_sent);
        }
    }
}

static void
sw_dev_answered(struct plane_switch *sw, struct sw_dev *dev, uint8_t hb_state, bool after_ack)
{
    dev->awaiting = false;
    dev->misses = 0;
    if (!dev->up) {
        dev->up = true;
        PLANE_INFO("device %s is up again", dev->cfg->name);
        if (plane_placement_device_up(&sw->pl, dev->cfg->id) > 0) {
            dev->recovering = true;
            dev->recover_epoch = sw->pl.epoch;
            sw_devmap_broadcast(sw);
        }
        return;
    }
    if (dev->recovering && after_ack && hb_state == PLANE_HB_UP) {
        /* The device learned it is RECOVERING before this heartbeat and
         * says it is done re-learning: its logicals go back to it. */
        dev->recovering = false;
        bool changed = false;
        for (uint32_t l = 0; l < sw->pl.n_logical; l++) {
            const struct plane_placement_logical *lg = plane_placement_get_logical(&sw->pl,
                                                                                 (uint16_t) l);
            if (lg && lg->state == PLANE_DEVMAP_RECOVERING && lg->primary == dev->cfg->id
                && plane_placement_recovered(&sw->pl, (uint16_t) l) == 0) {
                changed = true;
            }
        }
        if (changed) {
            sw_devmap_broadcast(sw);
        }
    }
}

struct sw_hb {
    struct plane_switch *sw;
    uint16_t dev;
    bool after_ack;         /* sent after the device acked its recover_epoch */
};

static void
sw_hb_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    struct sw_hb *hb = arg;
    struct plane_switch *sw = hb->sw;
    (void) rpc;
    (void) resp;
    if (status == 0 && !sw->stopping) {
        struct sw_dev *dev = sw_dev_find(sw, hb->dev);
        struct plane_body_heartbeat b;
        PLANE_CTR_INC(&sw->stats, hb_ok);
        plane_mp_zone_clear(&sw->zone);
        if (plane_body_heartbeat_decode(resp->body, resp->body_len, &sw->zone, &b)) {
            b.state = PLANE_HB_DOWN;     /* alive, but no usable state: no recovery */
            PLANE_CTR_INC(&sw->stats, hb_bad);
        } else if (dev) {
            dev->last_echo_ns = b.sender_ns;
            /* The echo is our own send time: a round trip on one clock.
             * An EWMA (1/8) smooths it for STATS and the planner. */
            uint64_t now = plane_clock_now_ns();
            if (b.echo_ns && b.echo_ns <= now) {
                uint64_t rtt = now - b.echo_ns;
                dev->rtt_ns = dev->rtt_ns ? dev->rtt_ns - dev->rtt_ns / 8 + rtt / 8 : rtt;
            }
        }
        if (dev) {
            sw_dev_answered(sw, dev, b.state, hb->after_ack);
        }
    }
    plane_free(hb);
}

/*
 * Every heartbeat_ms: a period whose heartbeat got no answer is a miss
 * (counted here, not by the RPC's retransmissions, so retries never hide a
 * dead device); heartbeat_misses in a row take the device down.
 */
static void
sw_hb_timer_cb(uv_timer_t *t)
{
    struct plane_switch *sw = t->data;
    uint64_t now = plane_clock_now_ns();
    for (size_t i = 0; i < sw->n_devs; i++) {
        struct sw_dev *dev = &sw->devs[i];
        if (dev->awaiting) {
            dev->misses++;
            PLANE_CTR_INC(&sw->stats, hb_missed);
            if (dev->up && dev->misses >= sw->cfg->timers.heartbeat_misses) {
                dev->up = false;
                dev->recovering = false;
                dev->downs++;
                PLANE_WARN("device %s missed %u heartbeats: down", dev->cfg->name,
                           dev->misses);
                if (plane_placement_device_down(&sw->pl, dev->cfg->id) > 0) {
                    sw_devmap_broadcast(sw);
                }
            }
        }
        struct plane_body_heartbeat b = {
            .sender_ns = now, .echo_ns = dev->last_echo_ns,
            .state = dev->up ? PLANE_HB_UP : PLANE_HB_DOWN,
        };
        struct plane_mp_writer w;
        plane_mp_writer_init(&w, sw->bufs->body, sizeof sw->bufs->body);
        struct sw_hb *hb = plane_malloc(sizeof *hb);
        if (!hb || plane_body_heartbeat_encode(&b, &w) || w.overflow) {
            plane_free(hb);
            PLANE_CTR_INC(&sw->stats, hb_send_errors);
            continue;
        }
        /* Only a heartbeat sent once the device knows it is RECOVERING can
         * tell that its resync is over. */
        *hb = (struct sw_hb) { .sw = sw, .dev = dev->cfg->id,
                               .after_ack = dev->recovering
                                            && dev->acked_epoch >= dev->recover_epoch };
        /* One attempt per period: the next period's heartbeat is the retry. */
        struct plane_rpc_call_opts o = {
            .timeout_ns = (uint64_t) sw->cfg->timers.heartbeat_ms * PLANE_NS_PER_MS,
            .retries = 1,
        };
        if (sw_send_call(sw, dev->cfg->id, PLANE_MSG_HEARTBEAT, w.len, sw_hb_cb, hb, &o)) {
            plane_free(hb);
            PLANE_CTR_INC(&sw->stats, hb_send_errors);
        } else {
            PLANE_CTR_INC(&sw->stats, hb_sent);
        }
        dev->awaiting = true;
    }
}

/* ---- control handlers ---------------------------------------------------- */

static int
sw_encode_hello(struct plane_switch *sw, struct plane_mp_writer *w)
{
    uint16_t ports[PLANE_HELLO_MAX_PORTS];
    uint32_t n = 0;
    for (size_t i = 0; i < sw->n_ports && n < PLANE_HELLO_MAX_PORTS; i++) {
        ports[n++] = sw->ports[i].cfg->listen.port;
    }
    struct plane_body_hello h = {
        .device_id = sw->self, .role = PLANE_DEV_ROLE_SWITCH, .name = sw->cfg->sw.name,
        .features = sw->cfg->sw.features, .incarnation = sw->d->incarnation,
        .proto_version = PLANE_WIRE_VERSION, .n_ports = n, .ports = ports,
    };
    plane_mp_writer_init(w, sw->bufs->body, sizeof sw->bufs->body);
    int err = plane_body_hello_encode(&h, w);
    return err ? err : (w->overflow ? PLANE_EMSGSIZE : 0);
}

static void
sw_hello_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    (void) arg;
    (void) rpc;
    (void) status;
    (void) resp;
}

static void
sw_h_hello(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct plane_switch *sw = arg;
    struct plane_mp_writer w;
    PLANE_CTR_INC(&sw->stats, hello_rx);
    if (sw_encode_hello(sw, &w)) {
        plane_rpc_respond(rpc, req->token, PLANE_EMSGSIZE, NULL, 0);
        return;
    }
    plane_rpc_respond(rpc, req->token, 0, w.buf, w.len);
}

/* HEARTBEAT from a device (devices may probe the switch too): echo. */
static void
sw_h_heartbeat(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct plane_switch *sw = arg;
    struct plane_body_heartbeat in, out;
    plane_mp_zone_clear(&sw->zone);
    if (plane_body_heartbeat_decode(req->ctl->body, req->ctl->body_len, &sw->zone, &in)) {
        plane_rpc_respond(rpc, req->token, PLANE_EBADMSG, NULL, 0);
        return;
    }
    out = (struct plane_body_heartbeat) {
        .sender_ns = plane_clock_now_ns(), .echo_ns = in.sender_ns, .state = PLANE_HB_UP,
    };
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, sw->bufs->body, sizeof sw->bufs->body);
    plane_body_heartbeat_encode(&out, &w);
    plane_rpc_respond(rpc, req->token, 0, w.buf, w.len);
}

/*
 * ENTRY_READ by key at the switch (planectl, tests): the entries of its
 * app copies, as a device answers them (docs/runtime.md); NOT_FOUND for a
 * key that is not resident.  Scans are a device's business.
 */
static void
sw_h_entry_read(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct plane_switch *sw = arg;
    struct plane_body_entries b;
    plane_mp_zone_clear(&sw->zone);
    if (plane_body_entries_decode(req->ctl->body, req->ctl->body_len, &sw->zone, &b)) {
        plane_rpc_respond(rpc, req->token, PLANE_EBADMSG, NULL, 0);
        return;
    }
    struct sw_app *a = sw_app_find(sw, b.app_id);
    if (!a) {
        plane_rpc_respond(rpc, req->token, PLANE_ENOENT, NULL, 0);
        return;
    }
    struct plane_body_entry *out = plane_mp_zone_calloc(&sw->zone, b.n_entries + 1,
                                                        sizeof *out);
    if (!out) {
        plane_rpc_respond(rpc, req->token, PLANE_ENOMEM, NULL, 0);
        return;
    }
    for (uint32_t i = 0; i < b.n_entries; i++) {
        const struct plane_body_entry *e = &b.entries[i];
        if (e->object_id >= plane_app_n_objects(a->app) || !sw_obj_keyed(a, e->object_id)
            || e->key_len != plane_object_key_len(a->inst->objects[e->object_id])) {
            plane_rpc_respond(rpc, req->token, PLANE_EINVAL, NULL, 0);
            return;
        }
        const struct plane_object *o = a->inst->objects[e->object_id];
        const void *v = plane_object_lookup(o, e->key, e->key_len);
        bool reg = a->app->objs[e->object_id].kind == PLANE_OBJ_REGISTER;
        out[i] = (struct plane_body_entry) {
            .object_id = e->object_id,
            .flags = (reg ? PLANE_ENTRY_F_SHARED : 0) | (v ? 0 : PLANE_ENTRY_F_NOT_FOUND),
            .key = e->key, .key_len = e->key_len,
            .value = v, .value_len = v ? (uint32_t) plane_object_value_len(o) : 0,
        };
    }
    struct plane_body_entries resp = { .app_id = b.app_id, .n_entries = b.n_entries,
                                       .entries = out };
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, sw->bufs->tx, sizeof sw->bufs->tx);
    int rc = plane_body_entries_encode(&resp, &w);
    if (rc || w.overflow) {
        plane_rpc_respond(rpc, req->token, rc ? rc : PLANE_EMSGSIZE, NULL, 0);
        return;
    }
    plane_rpc_respond(rpc, req->token, 0, w.buf, w.len);
}

/* POP_REPORT: promote the hot keys that are not resident yet. */
static void
sw_h_pop(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_switch *sw = arg;
    struct plane_body_pop pop;

    PLANE_CTR_INC(&sw->stats, pop_reports);
    plane_mp_zone_clear(&sw->zone);
    if (plane_body_pop_decode(req->ctl->body, req->ctl->body_len, &sw->zone, &pop)) {
        PLANE_CTR_INC(&sw->stats, pop_bad);
        plane_rpc_respond(rpc, req->token, PLANE_EBADMSG, NULL, 0);
        return;
    }
    struct sw_app *a = sw_app_find(sw, pop.app_id);
    if (!a) {
        PLANE_CTR_INC(&sw->stats, pop_bad);
        PLANE_WARN_RL(&rl, "POP_REPORT from %u for unknown app %u", req->peer, pop.app_id);
        plane_rpc_respond(rpc, req->token, PLANE_ENOENT, NULL, 0);
        return;
    }
    uint64_t now = plane_clock_now_ns();
    for (uint32_t i = 0; i < pop.n_items; i++) {
        struct plane_flow_key k, masked;
        PLANE_CTR_INC(&a->stats, pop_keys);
        if (!a->at_switch) {
            PLANE_CTR_INC(&a->stats, pop_not_here);
            continue;
        }
        if (pop.items[i].union_key_len != sizeof k) {
            PLANE_CTR_INC(&a->stats, pop_bad_keys);
            continue;
        }
        memcpy(&k, pop.items[i].union_key, sizeof k);
        plane_app_inst_union_key(a->inst, &k, &masked);
        if (!plane_flow_key_eq(&k, &masked)) {
            PLANE_CTR_INC(&a->stats, pop_bad_keys);
            continue;
        }
        if (plane_flowmgr_contains(a->fm, &k)) {
            PLANE_CTR_INC(&a->stats, pop_present);
            continue;
        }
        /* Admission (flowmgr.h): a full switch takes a key only when it
         * beats the one it would evict by a margin; the device reports it
         * again while it stays hot. */
        if (!plane_flowmgr_admits(a->fm, pop.items[i].count, now)) {
            PLANE_CTR_INC(&a->stats, pop_cold);
            continue;
        }
        int err = plane_update_promote_est(a->upd, &k, pop.items[i].count, now);
        if (err == 0) {
            PLANE_CTR_INC(&a->stats, pop_promotes);
        } else if (err == PLANE_EEXIST || err == PLANE_EALREADY) {
            PLANE_CTR_INC(&a->stats, pop_present);
        } else {
            /* Busy (being demoted, too many in flight, full): the device
             * reports the key again while it stays hot. */
            PLANE_CTR_INC(&a->stats, pop_refused);
        }
    }
    plane_rpc_respond(rpc, req->token, 0, NULL, 0);
    plane_switch__arm_updates(sw);
}

/* ---- stats --------------------------------------------------------------- */

static void
sw_visit_group(const char *prefix, const void *stats, size_t n,
               const char *(*name_of)(size_t), const char *const *names,
               plane_switch_stat_fn fn, void *arg)
{
    char name[160];
    for (size_t i = 0; i < n; i++) {
        const char *nm = names ? names[i] : name_of(i);
        if (!nm) {
            break;
        }
        snprintf(name, sizeof name, "%s%s", prefix, nm);
        fn(arg, name, plane_counters_get(stats, i));
    }
}

/* The few port counters worth a line each (all of them would not fit one
 * STATS datagram in a rack with many ports). */
static const char *const sw_port_counters[] = {
    "rx_datagrams", "rx_bytes", "tx_datagrams", "tx_bytes", "tx_no_buffer", "tx_errors",
};

void
plane_switch_stats_foreach(const struct plane_switch *sw, plane_switch_stat_fn fn, void *arg)
{
    char p[128];
    sw_visit_group("", &sw->stats, sizeof sw->stats / sizeof(uint64_t), NULL,
                   sw_counter_names, fn, arg);
    if (sw->ctl) {
        sw_visit_group("udp.control.", plane_udp_stats(sw->ctl),
                       sizeof(struct plane_udp_stats) / sizeof(uint64_t),
                       plane_udp_counter_name, NULL, fn, arg);
    }
    if (sw->rpc) {
        sw_visit_group("rpc.", plane_rpc_stats(sw->rpc),
                       sizeof(struct plane_rpc_stats) / sizeof(uint64_t),
                       plane_rpc_counter_name, NULL, fn, arg);
    }
    for (size_t i = 0; i < sw->n_ports; i++) {
        if (sw->ports[i].tap) {
            const struct plane_switch_tap_stats *ts = plane_switch_tap_stats(sw->ports[i].tap);
            for (size_t j = 0; plane_switch_tap_counter_name(j); j++) {
                snprintf(p, sizeof p, "tap.port.%s.%s", sw->ports[i].cfg->name,
                         plane_switch_tap_counter_name(j));
                fn(arg, p, plane_counters_get(ts, j));
            }
        }
        if (!sw->ports[i].udp) {
            continue;
        }
        const struct plane_udp_stats *us = plane_udp_stats(sw->ports[i].udp);
        for (size_t j = 0; plane_udp_counter_name(j); j++) {
            for (size_t k = 0; k < sizeof sw_port_counters / sizeof *sw_port_counters; k++) {
                if (!strcmp(plane_udp_counter_name(j), sw_port_counters[k])) {
                    snprintf(p, sizeof p, "udp.port.%s.%s", sw->ports[i].cfg->name,
                             sw_port_counters[k]);
                    fn(arg, p, plane_counters_get(us, j));
                }
            }
        }
    }
    sw_visit_group("placement.", &sw->pl.stats, PLANE_PLACEMENT_N_COUNTERS, NULL,
                   plane_placement_counter_names, fn, arg);
    fn(arg, "placement.epoch", sw->pl.epoch);
    for (size_t i = 0; i < sw->n_apps; i++) {
        const struct sw_app *a = &sw->apps[i];
        const char *an = a->cfg->name;
        snprintf(p, sizeof p, "app.%s.", an);
        sw_visit_group(p, &a->stats, sizeof a->stats / sizeof(uint64_t), NULL,
                       sw_app_counter_names, fn, arg);
        snprintf(p, sizeof p, "app.%s.inst.", an);
        sw_visit_group(p, plane_app_inst_stats(a->inst), PLANE_APP_INST_N_COUNTERS, NULL,
                       plane_app_inst_counter_names, fn, arg);
        snprintf(p, sizeof p, "app.%s.fm.", an);
        sw_visit_group(p, plane_flowmgr_stats(a->fm), plane_flowmgr_n_counters, NULL,
                       plane_flowmgr_counter_names, fn, arg);
        snprintf(p, sizeof p, "app.%s.fm.occupancy", an);
        fn(arg, p, plane_flowmgr_count(a->fm));
        snprintf(p, sizeof p, "app.%s.fm.capacity", an);
        fn(arg, p, plane_flowmgr_capacity(a->fm));
        snprintf(p, sizeof p, "app.%s.sync_lag_ms", an);
        fn(arg, p, a->sync_ok_ns ? plane_switch__sync_lag_ms(a, plane_clock_now_ns()) : 0);
        snprintf(p, sizeof p, "app.%s.update.", an);
        sw_visit_group(p, plane_update_stats(a->upd), plane_update_n_counters, NULL,
                       plane_update_counter_names, fn, arg);
    }
    for (size_t i = 0; i < sw->n_devs; i++) {
        const struct sw_dev *dev = &sw->devs[i];
        snprintf(p, sizeof p, "dev.%s.up", dev->cfg->name);
        fn(arg, p, dev->up);
        snprintf(p, sizeof p, "dev.%s.misses", dev->cfg->name);
        fn(arg, p, dev->misses);
        snprintf(p, sizeof p, "dev.%s.downs", dev->cfg->name);
        fn(arg, p, dev->downs);
        snprintf(p, sizeof p, "dev.%s.rtt_us", dev->cfg->name);
        fn(arg, p, dev->rtt_ns / PLANE_NS_PER_US);
    }
}

struct sw_stat_find {
    const char *name;
    uint64_t value;
    bool found;
};

static void
sw_stat_find_fn(void *arg, const char *name, uint64_t value)
{
    struct sw_stat_find *f = arg;
    if (!f->found && !strcmp(f->name, name)) {
        f->value = value;
        f->found = true;
    }
}

int
plane_switch_stat(const struct plane_switch *sw, const char *name, uint64_t *value)
{
    struct sw_stat_find f = { .name = name };
    plane_switch_stats_foreach(sw, sw_stat_find_fn, &f);
    if (!f.found) {
        return PLANE_ENOENT;
    }
    *value = f.value;
    return 0;
}

static void
sw_stat_page_fn(void *arg, const char *name, uint64_t value)
{
    plane_stat_page_add(arg, name, value);
}

/* STATS: the switch's counters, filtered and paged (common/statpage.h). */
static void
sw_h_stats(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct plane_switch *sw = arg;
    PLANE_CTR_INC(&sw->stats, stats_requests);
    plane_mp_zone_clear(&sw->zone);
    struct plane_body_stats filter;
    union plane_body u;
    if (plane_wire_body_decode_any(PLANE_MSG_STATS, false, req->ctl->body, req->ctl->body_len,
                                   &sw->zone, &u)) {
        plane_rpc_respond(rpc, req->token, PLANE_EBADMSG, NULL, 0);
        return;
    }
    filter = u.stats;
    struct plane_stat_page pg;
    if (plane_stat_page_init(&pg, &filter, &sw->zone, 1024,
                             PLANE_STAT_PAGE_BUDGET)) {
        plane_rpc_respond(rpc, req->token, PLANE_ENOMEM, NULL, 0);
        return;
    }
    plane_switch_stats_foreach(sw, sw_stat_page_fn, &pg);
    struct plane_body_stats body;
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, sw->bufs->body, sizeof sw->bufs->body - 256);
    if (plane_stat_page_finish(&pg, &body) || plane_body_stats_encode(&body, &w)
        || w.overflow) {
        PLANE_CTR_INC(&sw->stats, stats_too_large);
        plane_rpc_respond(rpc, req->token, PLANE_EMSGSIZE, NULL, 0);
        return;
    }
    plane_rpc_respond(rpc, req->token, 0, w.buf, w.len);
}

/* DEVMAP_UPDATE to the switch: the switch owns the map; refuse. */
static void
sw_h_refuse(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    (void) arg;
    plane_rpc_respond(rpc, req->token, PLANE_ENOTSUP, NULL, 0);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void
sw_app_uninit(struct sw_app *a)
{
    plane_update_delete(a->upd);   /* runs remove_entries: objects still exist */
    a->upd = NULL;
    plane_flowmgr_delete(a->fm);
    plane_object_delete(a->demote_ids);
    plane_switch__sync_uninit(a);
    plane_placement_set_uninit(&a->lset);
    plane_app_inst_delete(a->inst);
    for (size_t i = 0; i < PLANE_APP_MAX_OBJECTS; i++) {
        plane_object_delete(a->refs[i]);
        plane_object_delete(a->base[i]);
    }
    plane_app_delete(a->app);
}

static int
sw_app_init(struct plane_switch *sw, struct sw_app *a, const struct plane_config_app *cfg)
{
    char err[256];
    a->sw = sw;
    a->cfg = cfg;
    a->app = plane_app_load(cfg->module, err, sizeof err);
    if (!a->app) {
        PLANE_ERR("app %s: %s", cfg->name, err);
        return PLANE_EINVAL;
    }
    a->inst = plane_app_inst_new(a->app, cfg, sw->self, false, &sw->hasher);
    if (!a->inst) {
        PLANE_ERR("app %s: cannot create its instance", cfg->name);
        return PLANE_EINVAL;
    }
    /* Features and the app's `devices:` list decide where it may run:
     * misses go only to logical devices whose primary has the features and
     * is listed, hits only when the switch has them and is listed. */
    int rc = plane_placement_set_init(&a->lset, &sw->pl, sw->cfg, cfg, a->app->desc->features);
    if (rc) {
        return rc;
    }
    a->at_switch = plane_app_check_features(a->app, sw->cfg->sw.features) == 0;
    if (!a->at_switch) {
        PLANE_WARN("app %s: the switch lacks features it needs; it runs on devices only",
                   cfg->name);
    } else if (!plane_config_app_allows(cfg, sw->cfg->sw.name)) {
        a->at_switch = false;
        PLANE_INFO("app %s: its devices list omits the switch; it runs on devices only",
                   cfg->name);
    }
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (!sw_obj_keyed(a, i)) {
            continue;
        }
        size_t cap = plane_object_capacity(a->inst->objects[i]);
        a->refs[i] = plane_object_new(&sw_refs_desc, cap, &sw->hasher);
        if (!a->refs[i]) {
            return PLANE_ENOMEM;
        }
        if (a->app->objs[i].kind == PLANE_OBJ_REGISTER) {
            /* base holds an entry per resident or in-flight key only (a
             * shared entry is one per group of them), and the SYNC round
             * walks it every T_e: sized like the app's object, a mostly
             * empty table of 2^19 slots was half of switchd's instructions
             * under light load (callgrind, docs/benchmarks.md). */
            size_t bcap = (size_t) cfg->flow_manager_entries + SW_UPD_IN_FLIGHT;
            a->base[i] = plane_object_new(&a->app->objs[i], bcap < cap ? bcap : cap,
                                          &sw->hasher);
            if (!a->base[i] || plane_merge_init(&a->merge[i], &a->app->objs[i])) {
                return PLANE_ENOMEM;
            }
        }
    }
    a->demote_ids = plane_object_new(&sw_ids_desc, cfg->flow_manager_entries, &sw->hasher);
    if (!a->demote_ids) {
        return PLANE_ENOMEM;
    }
    a->fm = plane_flowmgr_new(cfg->flow_manager_entries, &sw->hasher);
    if (!a->fm) {
        PLANE_ERR("app %s: cannot create a flow manager of %u entries", cfg->name,
                  cfg->flow_manager_entries);
        return PLANE_ENOMEM;
    }
    /* Its estimates decay as the devices' count-min sketches do, so the
     * counts they report compare with them (plane_flowmgr_admits()). */
    plane_flowmgr_set_epoch(a->fm, (uint64_t) sw->cfg->timers.popularity_interval_ms
                                   * PLANE_NS_PER_MS);
    if (plane_switch__sync_init(a)) {
        return PLANE_ENOMEM;
    }
    /* Retries (one per T_flush) cover a SYNC hand-back in flight, which
     * the collect waits for, to a device that may have just died: its RPC
     * gives up after (rpc_retries + 1) timeouts, then the next round sends
     * it to the replica.  Five times that, and at least 5 s, before the
     * deltas are given up. */
    uint64_t t_flush = (uint64_t) sw->cfg->timers.flush_ms * PLANE_NS_PER_MS;
    uint64_t wait_ns = 5 * ((uint64_t) sw->cfg->timers.rpc_timeout_ms
                            * (sw->cfg->timers.rpc_retries + 1)
                            + 2 * (uint64_t) sw->cfg->timers.sync_interval_ms)
                       * PLANE_NS_PER_MS;
    wait_ns = wait_ns < 5 * PLANE_NS_PER_SEC ? 5 * PLANE_NS_PER_SEC : wait_ns;
    uint64_t retries = t_flush ? wait_ns / t_flush : 500;
    struct plane_update_config ucfg = {
        .max_in_flight = SW_UPD_IN_FLIGHT,
        .t_flush_ns = t_flush,
        .max_retries = (uint32_t) (retries > 100000 ? 100000 : retries),
    };
    struct plane_update_ops ops = {
        .install_entries = sw_op_install,
        .remove_entries = sw_op_remove,
        .collect_deltas = sw_op_collect,
    };
    a->upd = plane_update_new(&ucfg, a->fm, &ops, a);
    if (!a->upd) {
        return PLANE_ENOMEM;
    }
    return 0;
}

struct plane_switch *
plane_switch_new(struct plane_daemon *d)
{
    const struct plane_config *cfg = d->cfg;
    struct plane_switch *sw = plane_calloc(1, sizeof *sw);
    if (!sw) {
        return NULL;
    }
    sw->d = d;
    sw->cfg = cfg;
    sw->loop = &d->loop;
    sw->self = d->self_id;
    /* The switch's rate_pps (0: unlimited) caps its ingress, as a device's. */
    plane_rate_init(&sw->rate, cfg->sw.rate_pps, 20 * PLANE_NS_PER_MS);
    /* Hand-back ids grow across restarts (incarnations do: wall-clock ns),
     * so a device never mistakes a new hand-back for one it merged. */
    sw->next_update_id = d->incarnation;
    sw->bufs = plane_malloc(sizeof *sw->bufs);
    sw->apps = plane_calloc(cfg->n_apps ? cfg->n_apps : 1, sizeof *sw->apps);
    sw->devs = plane_calloc(cfg->n_devices ? cfg->n_devices : 1, sizeof *sw->devs);
    sw->ports = plane_calloc(cfg->sw.n_ports ? cfg->sw.n_ports : 1, sizeof *sw->ports);
    if (!sw->bufs || !sw->apps || !sw->devs || !sw->ports
        || plane_mp_zone_init(&sw->zone, 0)) {
        goto fail;
    }
    /* Every daemon of the rack derives the same hasher from the rack seed
     * (docs/runtime.md), so key hashes agree across the rack. */
    uint64_t seed = cfg->rack.hash_seed;
    if (plane_hasher_init(&sw->hasher, &seed, sizeof seed)) {
        goto fail;
    }
    if (plane_placement_init_config(&sw->pl, cfg, 0)) {
        PLANE_ERR("cannot build the shard placement");
        goto fail;
    }
    sw->pl_inited = true;
    for (size_t i = 0; i < cfg->n_devices; i++) {
        sw->devs[i] = (struct sw_dev) { .cfg = &cfg->devices[i], .up = true };
    }
    sw->n_devs = cfg->n_devices;
    for (size_t i = 0; i < cfg->sw.n_ports; i++) {
        sw->ports[i] = (struct sw_port) { .sw = sw, .idx = i, .cfg = &cfg->sw.ports[i] };
    }
    sw->n_ports = cfg->sw.n_ports;
    for (size_t i = 0; i < cfg->n_apps; i++) {
        sw->n_apps = i + 1;
        if (sw_app_init(sw, &sw->apps[i], &cfg->apps[i])) {
            goto fail;
        }
    }
    PLANE_INFO("switch %s (id %u): %zu ports, %zu apps, %zu devices", cfg->sw.name, sw->self,
               sw->n_ports, sw->n_apps, sw->n_devs);
    return sw;
fail:
    plane_switch_delete(sw);
    return NULL;
}

static void
sw_handle_closed(uv_handle_t *h)
{
    struct plane_switch *sw = h->data;
    sw->n_open--;
}

static void
sw_udp_closed(void *arg, struct plane_udp *udp)
{
    struct plane_switch *sw = arg;
    (void) udp;
    sw->n_open--;
}

static void
sw_tap_closed(void *arg, struct plane_switch_tap *tap)
{
    struct plane_switch *sw = arg;
    (void) tap;
    sw->n_open--;
}

static void
sw_rpc_closed(void *arg, struct plane_rpc *rpc)
{
    struct plane_switch *sw = arg;
    (void) rpc;
    sw->n_open--;
}

static struct plane_udp *
sw_udp_open(struct plane_switch *sw, const struct plane_config_addr *addr, bool raw,
            int *err)
{
    struct plane_udp_opts o = { .accept_any = true, .raw = raw };
    struct plane_udp *u = plane_udp_new(sw->loop, &o);
    if (!u) {
        *err = PLANE_ENOMEM;
        return NULL;
    }
    sw->n_open++;
    if (sw->d->fault) {
        plane_udp_set_fault(u, sw->d->fault);
    }
    *err = plane_udp_bind(u, (const struct sockaddr *) &addr->sa);
    if (*err) {
        PLANE_ERR("cannot bind %s: %s", addr->text, plane_err_name(*err));
    }
    return u;
}

/*
 * Starts the heartbeat, aging and SYNC timers with t's periods: every one
 * (old NULL, at start), or those whose period differs from old's (a reload;
 * the others keep their phase).
 */
static void
sw_arm_timers(struct plane_switch *sw, const struct plane_config_timers *t,
              const struct plane_config_timers *old)
{
    if (!old || t->heartbeat_ms != old->heartbeat_ms) {
        uv_timer_start(&sw->hb_timer, sw_hb_timer_cb, t->heartbeat_ms, t->heartbeat_ms);
    }
    if (!old || t->idle_ms != old->idle_ms) {
        /* A slice of every flow manager per call: a full sweep every idle_ms. */
        uint64_t age = t->idle_ms / 4 ? t->idle_ms / 4 : 1;
        uv_timer_start(&sw->age_timer, sw_age_timer_cb, age, age);
    }
    if (!old || t->sync_interval_ms != old->sync_interval_ms) {
        uv_timer_start(&sw->sync_timer, sw_sync_timer_cb, t->sync_interval_ms,
                       t->sync_interval_ms);
    }
}

void
plane_switch_reload(struct plane_switch *sw, const struct plane_config *nc)
{
    const struct plane_config_timers *t = &nc->timers;
    if (!sw->timers_inited || sw->stopping) {
        return;
    }
    sw_arm_timers(sw, t, &sw->cfg->timers);
    for (size_t i = 0; i < sw->n_apps; i++) {
        if (sw->apps[i].fm) {
            plane_flowmgr_set_epoch(sw->apps[i].fm,
                                    (uint64_t) t->popularity_interval_ms * PLANE_NS_PER_MS);
        }
    }
    PLANE_INFO("timers: heartbeat %u ms, idle %u ms, sync %u ms, popularity %u ms",
               t->heartbeat_ms, t->idle_ms, t->sync_interval_ms, t->popularity_interval_ms);
}

int
plane_switch_start(struct plane_switch *sw)
{
    int err;
    if (sw->started || sw->stopping) {
        return PLANE_ESTATE;
    }
    sw->started = true;

    uv_timer_init(sw->loop, &sw->hb_timer);
    uv_timer_init(sw->loop, &sw->age_timer);
    uv_timer_init(sw->loop, &sw->upd_timer);
    uv_timer_init(sw->loop, &sw->sync_timer);
    sw->hb_timer.data = sw->age_timer.data = sw->upd_timer.data = sw;
    sw->sync_timer.data = sw;
    sw->n_open += 4;
    sw->timers_inited = true;

    /* The control endpoint accepts any authenticated sender (planectl asks
     * STATS from wherever it runs); DATA from non-devices is dropped. */
    sw->ctl = sw_udp_open(sw, &sw->cfg->sw.control, false, &err);
    if (!sw->ctl || err) {
        return err;
    }
    plane_udp_set_data_handler(sw->ctl, sw_ctl_data, sw);
    sw->rpc = plane_rpc_new(sw->loop, sw->ctl, sw->self, sw->d->incarnation, sw->d->auth,
                            NULL);
    if (!sw->rpc) {
        return PLANE_ENOMEM;
    }
    sw->n_open++;
    for (size_t i = 0; i < sw->n_devs; i++) {
        err = plane_rpc_peer_add(sw->rpc, sw->devs[i].cfg->id,
                                 (const struct sockaddr *) &sw->devs[i].cfg->address.sa);
        if (err) {
            return err;
        }
    }
    plane_rpc_set_handler(sw->rpc, PLANE_MSG_HELLO, sw_h_hello, sw);
    plane_rpc_set_handler(sw->rpc, PLANE_MSG_HEARTBEAT, sw_h_heartbeat, sw);
    plane_rpc_set_handler(sw->rpc, PLANE_MSG_POP_REPORT, sw_h_pop, sw);
    plane_rpc_set_handler(sw->rpc, PLANE_MSG_STATS, sw_h_stats, sw);
    plane_rpc_set_handler(sw->rpc, PLANE_MSG_ENTRY_READ, sw_h_entry_read, sw);
    plane_rpc_set_handler(sw->rpc, PLANE_MSG_DEVMAP_UPDATE, sw_h_refuse, sw);
    plane_rpc_set_handler(sw->rpc, PLANE_MSG_ADMIN, plane_switch__h_admin, sw);

    for (size_t i = 0; i < sw->n_ports; i++) {
        struct sw_port *p = &sw->ports[i];
        if (p->cfg->has_tap) {
            err = plane_switch_tap_open(sw->loop, p->cfg->tap, sw_tap_rx, p, &p->tap);
            if (err) {
                PLANE_ERR("port %s: cannot open tap %s: %s", p->cfg->name, p->cfg->tap,
                          plane_err_name(err));
                return err;
            }
            sw->n_open++;
            continue;
        }
        p->udp = sw_udp_open(sw, &p->cfg->listen, true, &err);
        if (!p->udp || err) {
            return err;
        }
        plane_udp_set_data_handler(p->udp, sw_port_rx, p);
    }

    sw_arm_timers(sw, &sw->cfg->timers, NULL);

    struct plane_mp_writer w;
    for (size_t i = 0; i < sw->n_devs; i++) {
        if (sw_encode_hello(sw, &w) == 0) {
            struct plane_rpc_call_opts o = plane_switch__call_opts(sw);
            if (sw_send_call(sw, sw->devs[i].cfg->id, PLANE_MSG_HELLO, w.len, sw_hello_cb,
                             sw, &o) == 0) {
                PLANE_CTR_INC(&sw->stats, hello_sent);
            }
        }
    }
    PLANE_INFO("switch %s started: control %s", sw->cfg->sw.name, sw->cfg->sw.control.text);
    return 0;
}

void
plane_switch_stop(struct plane_switch *sw)
{
    if (!sw || sw->stopping) {
        return;
    }
    /* Cancelling the RPCs completes the ops in flight with ECANCELED while
     * the engines still run; then every update left is cancelled. */
    sw->stopping = true;
    if (sw->rpc) {
        plane_rpc_close(sw->rpc, sw_rpc_closed, sw);
    }
    for (size_t i = 0; i < sw->n_apps; i++) {
        if (sw->apps[i].upd) {
            plane_update_cancel_all(sw->apps[i].upd);
        }
    }
    if (sw->ctl) {
        plane_udp_close(sw->ctl, sw_udp_closed, sw);
    }
    for (size_t i = 0; i < sw->n_ports; i++) {
        if (sw->ports[i].udp) {
            plane_udp_close(sw->ports[i].udp, sw_udp_closed, sw);
        }
        if (sw->ports[i].tap) {
            plane_switch_tap_close(sw->ports[i].tap, sw_tap_closed, sw);
        }
    }
    if (sw->timers_inited) {
        uv_close((uv_handle_t *) &sw->hb_timer, sw_handle_closed);
        uv_close((uv_handle_t *) &sw->age_timer, sw_handle_closed);
        uv_close((uv_handle_t *) &sw->upd_timer, sw_handle_closed);
        uv_close((uv_handle_t *) &sw->sync_timer, sw_handle_closed);
    }
}

bool
plane_switch_closed(const struct plane_switch *sw)
{
    return sw->n_open == 0;
}

void
plane_switch_delete(struct plane_switch *sw)
{
    if (!sw) {
        return;
    }
    if (sw->n_open) {
        PLANE_ERR("plane_switch_delete with %d handles still open: leaked", sw->n_open);
        return;
    }
    for (size_t i = 0; i < sw->n_apps; i++) {
        sw_app_uninit(&sw->apps[i]);
    }
    if (sw->pl_inited) {
        plane_placement_uninit(&sw->pl);
    }
    plane_hasher_uninit(&sw->hasher);
    plane_mp_zone_uninit(&sw->zone);
    plane_free(sw->apps);
    plane_free(sw->devs);
    plane_free(sw->ports);
    plane_free(sw->bufs);
    plane_free(sw);
}

int
plane_switch_control_addr(const struct plane_switch *sw, struct sockaddr_storage *out)
{
    return sw->ctl ? plane_udp_local_addr(sw->ctl, out) : PLANE_ESTATE;
}

int
plane_switch_port_addr(const struct plane_switch *sw, size_t i, struct sockaddr_storage *out)
{
    if (i >= sw->n_ports || !sw->ports[i].udp) {
        return PLANE_EINVAL;
    }
    return plane_udp_local_addr(sw->ports[i].udp, out);
}
