/* The switch's side of SYNC: every T_e, each resident per-flow register entry's news goes to its device and comes back folded in. */
#include "switch_internal.h"

#include <stdlib.h>
#include <string.h>

#include <plane/error.h>

#include "app_internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/wire_body.h"
#include "flowmgr.h"

PLANE_LOG_MODULE(swsync);

/*
 * A key promoted to the switch has its register entries at the switch and
 * on the device serving its shard (and that device's other copy, kept equal
 * by the device's replication stream).  Packet-pinning makes the switch the
 * only writer while the key is resident, apart from packets that reached
 * the device just before the promotion.  So the snapshot+history protocol
 * of ExoPlane (section 4.3, Appendix A) reduces to two parties per entry,
 * the switch and the serving device, with the history kept at the switch:
 *
 *   base  the device's value as of the last exchange (at install: the value
 *         the promotion read), which the switch's value already includes;
 *   cur   the switch's value = base o+ its own packets since.
 *
 * Every T_e the switch sends, per entry, delta = cur o- base under a fresh
 * update id and remembers cur as `sent`.  The device merges the delta once
 * per update id (ids are remembered, and streamed to its other copy with
 * the merge, so a retry after a failover is recognised there too) and
 * answers with its value V after the merge.  The switch then folds in what
 * the device had and it did not (cur = cur o+ (V o- sent)) and sets
 * base = V.  Nothing is counted twice (each delta is merged once, each
 * device-side increment enters cur once, through V o- sent) or lost (a
 * delta whose answer never came is re-sent with the same id and the same
 * value, to whichever device serves the key by then).  After traffic stops
 * one exchange makes the device's copies equal the total and, for packets
 * the device processed while the key was resident, a second one brings
 * them to the switch.  Idempotent operators (OR, MAX, MIN) send cur itself
 * and fold V in with plus.
 *
 * Registers keyed by fewer fields than the union key (a per-source counter
 * shared by many flows) are not attributable to one device: they are handed
 * back at demotion only (docs/runtime.md).  A demotion waits while one of
 * its key's hand-backs is in flight, then hands back cur o- base.
 *
 * One round per app at a time: a round starts only when the previous one's
 * calls have all finished.  Unchanged entries (a zero delta) are sent every
 * SYNC_IDLE_EVERY rounds only, to learn the device's late increments.
 */
#define SYNC_BATCH 64
#define SYNC_IDLE_EVERY 4

static const struct plane_obj_desc sync_pend_desc = {
    .name = "sync_pend", .kind = PLANE_OBJ_REGISTER, .key_fields = PLANE_FLOW_ALL,
    .value_len = 8, .size = 1, .merge = PLANE_MERGE_ADD,
};

bool
plane_switch__synced_obj(const struct sw_app *a, uint16_t i)
{
    return a->app->objs[i].kind == PLANE_OBJ_REGISTER
           && a->app->objs[i].key_fields == a->app->desc->union_key_fields;
}

uint64_t
plane_switch__update_id(struct plane_switch *sw)
{
    return ++sw->next_update_id;
}

int
plane_switch__sync_init(struct sw_app *a)
{
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (!plane_switch__synced_obj(a, i)) {
            continue;
        }
        size_t cap = plane_object_capacity(a->inst->objects[i]);
        a->sync_pend[i] = plane_object_new(&sync_pend_desc, cap, &a->sw->hasher);
        a->sync_sent[i] = plane_object_new(&a->app->objs[i], cap, &a->sw->hasher);
        if (!a->sync_pend[i] || !a->sync_sent[i]) {
            return PLANE_ENOMEM;
        }
    }
    return 0;
}

void
plane_switch__sync_uninit(struct sw_app *a)
{
    for (size_t i = 0; i < PLANE_APP_MAX_OBJECTS; i++) {
        plane_object_delete(a->sync_pend[i]);
        plane_object_delete(a->sync_sent[i]);
        a->sync_pend[i] = a->sync_sent[i] = NULL;
    }
}

bool
plane_switch__sync_pending(const struct sw_app *a, const struct plane_flow_key *key)
{
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (a->sync_pend[i] && plane_object_lookup(a->sync_pend[i], key, sizeof *key)) {
            return true;
        }
    }
    return false;
}

void
plane_switch__sync_forget(struct sw_app *a, const struct plane_flow_key *key)
{
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        if (a->sync_pend[i]) {
            (void) plane_object_delete_entry(a->sync_pend[i], key, sizeof *key);
            (void) plane_object_delete_entry(a->sync_sent[i], key, sizeof *key);
        }
    }
}

/* Folds the device's answer for one item in (see the comment at the top). */
static void
sync_fold(struct sw_app *a, const struct plane_body_sync_item *it)
{
    uint16_t i = it->object_id;
    uint64_t id;
    if (i >= plane_app_n_objects(a->app) || !a->sync_pend[i]
        || it->key_len != sizeof(struct plane_flow_key)
        || it->snapshot_len != a->app->objs[i].value_len || it->history_len != sizeof id) {
        PLANE_CTR_INC(&a->stats, sync_stale);
        return;
    }
    memcpy(&id, it->history, sizeof id);
    const void *p = plane_object_lookup(a->sync_pend[i], it->key, it->key_len);
    uint64_t pend = 0;
    if (p) {
        memcpy(&pend, p, sizeof pend);
    }
    const void *sent = plane_object_lookup(a->sync_sent[i], it->key, it->key_len);
    const void *cur = plane_object_lookup(a->inst->objects[i], it->key, it->key_len);
    if (!p || pend != id || !sent || !cur) {
        PLANE_CTR_INC(&a->stats, sync_stale);
        return;
    }
    size_t vlen = a->app->objs[i].value_len;
    const struct plane_merge *m = &a->merge[i];
    uint8_t nv[PLANE_OBJ_MAX_VALUE];
    if (plane_merge_has_minus(m)) {
        uint8_t news[PLANE_OBJ_MAX_VALUE];
        plane_merge_minus(m, news, it->snapshot, sent, vlen);
        plane_merge_plus(m, nv, cur, news, vlen);
    } else {
        plane_merge_plus(m, nv, cur, it->snapshot, vlen);
    }
    if (plane_object_insert(a->inst->objects[i], it->key, it->key_len, nv)
        || plane_object_insert(a->base[i], it->key, it->key_len, it->snapshot)) {
        PLANE_CTR_INC(&a->stats, object_full);
    }
    (void) plane_object_delete_entry(a->sync_pend[i], it->key, it->key_len);
    (void) plane_object_delete_entry(a->sync_sent[i], it->key, it->key_len);
    PLANE_CTR_INC(&a->stats, sync_acked);
}

static void
sync_done(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    (void) rpc;
    struct sw_app *a = arg;
    struct plane_switch *sw = a->sw;
    a->sync_calls--;
    struct plane_body_sync b;
    if (!status) {
        plane_mp_zone_clear(&sw->zone);
        status = plane_body_sync_decode(resp->body, resp->body_len, &sw->zone, &b);
    }
    if (status) {
        /* Pending items stay pending: the next round re-sends them. */
        a->sync_failed = true;
        PLANE_CTR_INC(&a->stats, sync_errors);
        if (status != PLANE_ECANCELED) {
            PLANE_DBG_RL(&rl, "app %s: SYNC failed: %s", a->cfg->name,
                         plane_strerror(status));
        }
        return;
    }
    if (b.app_id != a->cfg->id) {
        PLANE_CTR_INC(&a->stats, sync_errors);
        return;
    }
    for (uint32_t j = 0; j < b.n_items; j++) {
        sync_fold(a, &b.items[j]);
    }
    if (!a->sync_calls && !a->sync_failed) {
        a->sync_ok_ns = plane_clock_now_ns();
    }
}

uint64_t
plane_switch__sync_lag_ms(const struct sw_app *a, uint64_t now_ns)
{
    return now_ns > a->sync_ok_ns ? (now_ns - a->sync_ok_ns) / PLANE_NS_PER_MS : 0;
}

/* A batch of items for one logical device. */
struct sync_batch {
    struct plane_body_sync_item items[SYNC_BATCH];
    struct plane_flow_key keys[SYNC_BATCH];
    uint8_t vals[SYNC_BATCH][PLANE_OBJ_MAX_VALUE];
    uint64_t ids[SYNC_BATCH];
    uint32_t n;
};

static void
sync_send(struct sw_app *a, uint16_t dev, struct sync_batch *bt)
{
    struct plane_switch *sw = a->sw;
    if (!bt->n) {
        return;
    }
    struct plane_body_sync body = {
        .app_id = a->cfg->id, .epoch = 0, .round = sw->sync_round,
        .n_items = bt->n, .items = bt->items,
    };
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, sw->bufs->body, sizeof sw->bufs->body);
    int rc = plane_body_sync_encode(&body, &w);
    if (!rc && w.overflow) {
        rc = PLANE_EMSGSIZE;
    }
    if (!rc) {
        struct plane_rpc_call_opts o = plane_switch__call_opts(sw);
        rc = plane_rpc_call(sw->rpc, dev, PLANE_MSG_SYNC, w.buf, w.len, &o, sync_done, a,
                            NULL);
    }
    if (rc) {
        PLANE_CTR_INC(&a->stats, sync_errors);
    } else {
        a->sync_calls++;
        PLANE_CTR_ADD(&a->stats, sync_items, bt->n);
    }
    bt->n = 0;
}

/*
 * Adds entry (i, key) of a to the batch when it has news (or a pending
 * hand-back to re-send).  Returns true when it was added.
 */
static bool
sync_add(struct sw_app *a, uint16_t i, const struct plane_flow_key *key, bool idle_round,
         struct sync_batch *bt)
{
    size_t vlen = a->app->objs[i].value_len;
    const struct plane_merge *m = &a->merge[i];
    const void *base = plane_object_lookup(a->base[i], key, sizeof *key);
    const void *p = plane_object_lookup(a->sync_pend[i], key, sizeof *key);
    uint64_t id;
    const void *sent;
    if (p) {
        memcpy(&id, p, sizeof id);      /* re-send: same id, same value */
        sent = plane_object_lookup(a->sync_sent[i], key, sizeof *key);
    } else {
        /* Not resident (being demoted, or not installed yet): its
         * demotion hands back what is left. */
        if (!plane_flowmgr_contains(a->fm, key)) {
            return false;
        }
        sent = plane_object_lookup(a->inst->objects[i], key, sizeof *key);
    }
    if (!base || !sent) {
        return false;
    }
    uint32_t n = bt->n;
    if (plane_merge_has_minus(m)) {
        plane_merge_minus(m, bt->vals[n], sent, base, vlen);
        static const uint8_t zero[PLANE_OBJ_MAX_VALUE];
        if (!p && !idle_round && !memcmp(bt->vals[n], zero, vlen)) {
            return false;
        }
    } else {
        memcpy(bt->vals[n], sent, vlen);
        if (!p && !idle_round && !memcmp(sent, base, vlen)) {
            return false;
        }
    }
    if (!p) {
        id = plane_switch__update_id(a->sw);
        if (plane_object_insert(a->sync_sent[i], key, sizeof *key, sent)
            || plane_object_insert(a->sync_pend[i], key, sizeof *key, &id)) {
            (void) plane_object_delete_entry(a->sync_sent[i], key, sizeof *key);
            PLANE_CTR_INC(&a->stats, object_full);
            return false;
        }
    }
    bt->keys[n] = *key;
    bt->ids[n] = id;
    bt->items[n] = (struct plane_body_sync_item) {
        .object_id = i, .key = (const uint8_t *) &bt->keys[n], .key_len = sizeof *key,
        .snapshot = bt->vals[n], .snapshot_len = (uint32_t) vlen,
        .history = (const uint8_t *) &bt->ids[n], .history_len = sizeof id,
    };
    bt->n++;
    return true;
}

/* One synced entry of a round, with the logical device its key maps to. */
struct sync_ent {
    uint16_t logical;
    uint16_t obj;
    struct plane_flow_key key;
};

static int
sync_ent_cmp(const void *x, const void *y)
{
    const struct sync_ent *p = x, *q = y;
    return (p->logical > q->logical) - (p->logical < q->logical);
}

/*
 * One app's round: every synced entry's logical device is computed once,
 * the entries are grouped by it, and each group goes to the device serving
 * that logical, in batches of SYNC_BATCH.
 */
static void
sync_app_round(struct sw_app *a, struct sync_batch *bt)
{
    struct plane_switch *sw = a->sw;
    bool idle_round = sw->sync_round % SYNC_IDLE_EVERY == 0;
    size_t cap = 0, n = 0;
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        cap += a->sync_pend[i] ? plane_object_count(a->base[i]) : 0;
    }
    struct sync_ent *ents = cap ? plane_malloc(cap * sizeof *ents) : NULL;
    if (!ents) {
        return;
    }
    for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
        size_t cursor = 0;
        const void *k, *v;
        while (a->sync_pend[i] && n < cap && plane_object_next(a->base[i], &cursor, &k, &v)) {
            struct sync_ent *e = &ents[n++];
            memcpy(&e->key, k, sizeof e->key);
            e->obj = i;
            e->logical = plane_placement_logical_in(&sw->pl, &a->lset,
                                                    plane_hash_flow_key(&sw->hasher, &e->key));
        }
    }
    qsort(ents, n, sizeof *ents, sync_ent_cmp);
    bool any = false;
    for (size_t g = 0; g < n;) {
        uint16_t l = ents[g].logical;
        uint16_t dev = plane_placement_serving(&sw->pl, l);
        size_t end = g;
        while (end < n && ents[end].logical == l) {
            end++;
        }
        bt->n = 0;
        for (; dev != PLANE_DEV_NONE && g < end; g++) {
            if (sync_add(a, ents[g].obj, &ents[g].key, idle_round, bt)) {
                any = true;
                if (bt->n == SYNC_BATCH) {
                    sync_send(a, dev, bt);
                }
            }
        }
        if (dev != PLANE_DEV_NONE) {
            sync_send(a, dev, bt);
        }
        g = end;
    }
    plane_free(ents);
    if (any) {
        PLANE_CTR_INC(&a->stats, sync_rounds);
    }
}

void
plane_switch__sync_round(struct plane_switch *sw)
{
    if (sw->stopping || !sw->rpc) {
        return;
    }
    sw->sync_round++;
    struct sync_batch *bt = NULL;
    for (size_t j = 0; j < sw->n_apps; j++) {
        struct sw_app *a = &sw->apps[j];
        if (a->sync_calls || !a->inst) {
            continue;        /* the previous round is still out */
        }
        a->sync_failed = false;
        bool synced = false;
        for (uint16_t i = 0; i < plane_app_n_objects(a->app); i++) {
            synced |= a->sync_pend[i] && plane_object_count(a->base[i]);
        }
        if (!synced) {
            a->sync_ok_ns = plane_clock_now_ns();   /* nothing to sync: in sync */
            continue;
        }
        if (!bt) {
            bt = plane_malloc(sizeof *bt);   /* once per round, not per packet */
            if (!bt) {
                return;
            }
        }
        sync_app_round(a, bt);
        if (!a->sync_calls && !a->sync_failed) {
            a->sync_ok_ns = plane_clock_now_ns();   /* nothing had news */
        }
    }
    plane_free(bt);
}
