/* The device runtime's control path: the handlers of control messages, resync, sync tracking. */
#include "device_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <plane/error.h>

#include "app_internal.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/statpage.h"
#include "common/udp.h"
#include "common/wire_body.h"
#include "daemon.h"
#include "merge.h"

PLANE_LOG_MODULE(device_ctl);

/* ---- control: helpers ---------------------------------------------------- */

/* Encodes body kind K of v into dev->tx and answers token with it. */
#define DEV_RESPOND(dev, rpc, token, K, v)                                     \
    do {                                                                       \
        struct plane_mp_writer w_;                                             \
        plane_mp_writer_init(&w_, (dev)->tx, sizeof (dev)->tx);                \
        int rc_ = plane_body_##K##_encode((v), &w_);                           \
        if (rc_ || w_.overflow) {                                              \
            plane_rpc_respond((rpc), (token), PLANE_EMSGSIZE, NULL, 0);        \
        } else {                                                               \
            plane_rpc_respond((rpc), (token), 0, w_.buf, w_.len);              \
        }                                                                      \
    } while (0)

/* Resolves an entry's object, checking kind, key and (need_value) value length. */
static struct plane_object *
dev_entry_object(struct dev_app *a, const struct plane_body_entry *e, bool need_value)
{
    struct plane_object *obj = plane_app_inst_object(a->inst, e->object_id);
    if (!obj) {
        return NULL;
    }
    enum plane_obj_kind k = plane_object_kind(obj);
    if ((k != PLANE_OBJ_TABLE && k != PLANE_OBJ_REGISTER)
        || e->key_len != plane_object_key_len(obj)
        || (need_value && e->value_len != plane_object_value_len(obj))) {
            return NULL;
    }
    return obj;
}

static void
dev_hello_body(struct plane_device *dev, struct plane_body_hello *h, uint16_t *port)
{
    *port = dev->self->address.port;
    *h = (struct plane_body_hello) {
        .device_id = dev->self->id,
        .role = dev->self->role == PLANE_ROLE_NIC ? PLANE_DEV_ROLE_NIC : PLANE_DEV_ROLE_SERVER,
        .name = dev->self->name,
        .features = dev->self->features,
        .incarnation = dev->d->incarnation,
        .proto_version = PLANE_WIRE_VERSION,
        .n_ports = 1,
        .ports = port,
    };
}


/* ---- resync: re-learning tables from the other copy ---------------------- */

/*
 * A device that (re)starts has lost its tables; a device whose logical is
 * RECOVERING must catch up with the flows its replica created meanwhile.
 * Both read the other copy's tables with ENTRY_READ scans, one logical
 * device, app and page at a time (one RPC in flight), and insert them.
 *
 *   idle --dev_resync_add()--> scanning --page with a cursor--> scanning
 *                                 |  last page of the last app: next job
 *                                 v  no job left
 *                               idle
 *
 * While scanning, HEARTBEAT answers carry state INIT instead of UP.  A
 * failed scan (peer down) ends its job: there is nobody to learn from.
 */
static void dev_resync_next(struct plane_device *dev);

static void
dev_resync_add(struct plane_device *dev, uint16_t logical, uint16_t peer, bool gap)
{
    if (peer == PLANE_DEV_NONE || peer == dev->self->id || !dev->rs_jobs) {
        return;
    }
    for (uint32_t i = dev->rs_head; i != dev->rs_tail; i = (i + 1) % dev->rs_cap) {
        if (dev->rs_jobs[i].logical == logical && dev->rs_jobs[i].peer == peer
            && !(i == dev->rs_head && dev->rs_active)) {
            return;           /* already queued and not started */
        }
    }
    uint32_t next = (dev->rs_tail + 1) % dev->rs_cap;
    if (next == dev->rs_head) {
        PLANE_WARN("resync queue full: logical %u not re-learned", logical);
        return;
    }
    dev->rs_jobs[dev->rs_tail] = (struct dev_rs_job) { .logical = logical, .peer = peer,
                                                        .gap = gap };
    dev->rs_tail = next;
    PLANE_CTR_INC(&dev->stats, resync_jobs);
    if (!dev->rs_active) {
        dev->rs_app = 0;
        dev->rs_has_cursor = false;
        dev_resync_next(dev);
    }
}

static void
dev_resync_page_done(void *arg, struct plane_rpc *rpc, int status,
                     const struct plane_wire_ctl *resp)
{
    (void) rpc;
    struct plane_device *dev = arg;
    dev->rs_active = false;
    if (dev->closing) {
        return;
    }
    const struct dev_rs_job *job = &dev->rs_jobs[dev->rs_head];
    struct plane_body_entries b;
    int rc = status;
    if (!rc) {
        rc = plane_body_entries_decode(resp->body, resp->body_len, &dev->zone, &b);
    }
    bool more = false;
    if (!rc) {
        struct dev_app *a = &dev->apps[dev->rs_app];
        for (uint32_t i = 0; i < b.n_entries; i++) {
            const struct plane_body_entry *e = &b.entries[i];
            if (e->object_id == PLANE_ENTRY_SCAN) {
                if (e->value_len == 8) {
                    memcpy(dev->rs_cursor, e->value, 8);
                    dev->rs_has_cursor = more = true;
                }
                continue;
            }
            struct plane_object *obj = a->inst ? dev_entry_object(a, e, true) : NULL;
            if (!obj || plane_object_kind(obj) != PLANE_OBJ_TABLE
                || plane_object_insert(obj, e->key, e->key_len, e->value)) {
                PLANE_CTR_INC(&dev->stats, entries_rejected);
            } else {
                PLANE_CTR_INC(&dev->stats, resync_entries);
            }
        }
    }
    plane_mp_zone_clear(&dev->zone);
    if (rc) {
        /* Expected on a fresh rack whose peers are not up yet. */
        PLANE_INFO("resync of logical %u from device %u: %s (nothing re-learned)",
                   job->logical, job->peer, plane_strerror(rc));
        PLANE_CTR_INC(&dev->stats, resync_failed);
        dev->rs_head = (dev->rs_head + 1) % dev->rs_cap;
        dev->rs_app = 0;
        dev->rs_has_cursor = false;
    } else if (!more) {
        dev->rs_app++;
        dev->rs_has_cursor = false;
    }
    dev_resync_next(dev);
}

/* Sends the next page request, moving to the next app or job as needed. */
static void
dev_resync_next(struct plane_device *dev)
{
    while (dev->rs_head != dev->rs_tail && !dev->closing) {
        const struct dev_rs_job *job = &dev->rs_jobs[dev->rs_head];
        if (job->gap && plane_placement_serving(&dev->pl, job->logical) != job->peer) {
            /* Failed over to us (or back) meanwhile: our values are the
             * newest now, and a page read over there must not overwrite them. */
            PLANE_INFO("logical %u no longer served by device %u: not re-learned",
                       job->logical, job->peer);
            dev->rs_head = (dev->rs_head + 1) % dev->rs_cap;
            dev->rs_app = 0;
            dev->rs_has_cursor = false;
            continue;
        }
        while (dev->rs_app < dev->n_apps && !dev->apps[dev->rs_app].inst) {
            dev->rs_app++;
        }
        if (dev->rs_app >= dev->n_apps) {
            PLANE_INFO("logical %u re-learned from device %u", job->logical, job->peer);
            dev->rs_head = (dev->rs_head + 1) % dev->rs_cap;
            dev->rs_app = 0;
            dev->rs_has_cursor = false;
            continue;
        }
        uint8_t lkey[2] = { (uint8_t) (job->logical >> 8), (uint8_t) job->logical };
        /* PUSH: the peer sends the page through its replication stream to
         * us, so its values interleave rightly with the changes it streams
         * (device_repl.c); the answer only carries the next cursor. */
        struct plane_body_entry m = {
            .object_id = PLANE_ENTRY_SCAN, .flags = PLANE_ENTRY_F_PUSH,
            .key = lkey, .key_len = 2,
            .value = dev->rs_cursor, .value_len = dev->rs_has_cursor ? 8 : 0,
        };
        struct plane_body_entries b = {
            .app_id = dev->apps[dev->rs_app].cfg->id, .n_entries = 1, .entries = &m,
        };
        struct plane_mp_writer w;
        uint8_t buf[128];
        plane_mp_writer_init(&w, buf, sizeof buf);
        int rc = plane_body_entries_encode(&b, &w);
        if (!rc && !w.overflow) {
            /* A peer that does not answer soon is down: few retries. */
            struct plane_rpc_call_opts o = { .retries = 2 };
            rc = plane_rpc_call(dev->rpc, job->peer, PLANE_MSG_ENTRY_READ, w.buf, w.len, &o,
                                dev_resync_page_done, dev, NULL);
        }
        if (!rc && !w.overflow) {
            dev->rs_active = true;
            return;
        }
        PLANE_CTR_INC(&dev->stats, resync_failed);
        dev->rs_head = (dev->rs_head + 1) % dev->rs_cap;
        dev->rs_app = 0;
        dev->rs_has_cursor = false;
    }
}

/* Queues a resync of every logical device for which self holds a copy. */
void
plane_device__resync_all(struct plane_device *dev)
{
    for (uint32_t l = 0; l < dev->pl.n_logical; l++) {
        const struct plane_placement_logical *lg = plane_placement_get_logical(&dev->pl,
                                                                               (uint16_t) l);
        if (!lg) {
            continue;
        }
        if (lg->primary == dev->self->id) {
            dev_resync_add(dev, (uint16_t) l, lg->replica, false);
        } else if (lg->replica == dev->self->id) {
            dev_resync_add(dev, (uint16_t) l, lg->primary, false);
        }
    }
}

/* ---- control: handlers (body already decoded into u) --------------------- */

static void
h_hello(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
        const union plane_body *u)
{
    PLANE_CTR_INC(&dev->stats, hello_rx);
    PLANE_DBG("HELLO from %s (device %u)", u->hello.name, u->hello.device_id);
    struct plane_body_hello h;
    uint16_t port;
    dev_hello_body(dev, &h, &port);
    DEV_RESPOND(dev, rpc, req->token, hello, &h);
}

/*
 * A peer's heartbeat says whether it replicates to us (state UP) or not
 * (DOWN: it missed our answers, or a replication message to us failed, and
 * released the changes it held for us).  When it says UP again after DOWN,
 * our copies of the logicals it serves lack those changes: re-learn them
 * from it (a pushed scan through its stream, like a restart's recovery).
 * Its DOWN always reaches us first: it marks us up only on an answer to a
 * heartbeat sent while we were down, which said DOWN.
 */
static void
dev_peer_told(struct plane_device *dev, uint16_t id, uint8_t state)
{
    struct dev_peer *p = plane_device__peer(dev, id);
    if (!p) {
        return;               /* the switch, or not a peer */
    }
    if (state == PLANE_HB_DOWN) {
        p->told_down = true;
        return;
    }
    if (state != PLANE_HB_UP || !p->told_down) {
        return;
    }
    p->told_down = false;
    uint32_t n = 0;
    for (uint32_t l = 0; l < dev->pl.n_logical; l++) {
        const struct plane_placement_logical *lg = plane_placement_get_logical(&dev->pl,
                                                                               (uint16_t) l);
        /* As the replica only: where we are the primary and it serves, the
         * switch failed us over, and its RECOVERING map makes us catch up. */
        if (lg && lg->replica == dev->self->id && lg->primary == id
            && plane_placement_serving(&dev->pl, (uint16_t) l) == id) {
            dev_resync_add(dev, (uint16_t) l, id, true);
            n++;
        }
    }
    PLANE_CTR_INC(&dev->stats, peer_gaps);
    PLANE_INFO("device %u replicates to us again after a gap: re-learning its %u logicals",
               id, n);
}

static void
h_heartbeat(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
            const union plane_body *u)
{
    PLANE_CTR_INC(&dev->stats, heartbeats);
    dev_peer_told(dev, req->peer, u->heartbeat.state);
    struct plane_body_heartbeat hb = {
        .sender_ns = plane_clock_now_ns(),
        .echo_ns = u->heartbeat.sender_ns,
        /* INIT while re-learning tables: alive, but not ready to serve
         * its shards again (docs/runtime.md, Recovery). */
        .state = dev->rs_active ? PLANE_HB_INIT : PLANE_HB_UP,
    };
    DEV_RESPOND(dev, rpc, req->token, heartbeat, &hb);
}

/*
 * A streamed sketch update (key = the item; a CMS's value = the count):
 * 0 when applied, PLANE_ENOENT when e does not name a sketch.
 */
static int
dev_sketch_add(struct dev_app *a, const struct plane_body_entry *e)
{
    struct plane_object *obj = plane_app_inst_object(a->inst, e->object_id);
    enum plane_obj_kind k = obj ? plane_object_kind(obj) : PLANE_OBJ_TABLE;
    if (k == PLANE_OBJ_CMS && e->value_len == sizeof(uint64_t)) {
        uint64_t count;
        memcpy(&count, e->value, sizeof count);
        plane_object_cms_add(obj, e->key, e->key_len, count);
        return 0;
    }
    if (k == PLANE_OBJ_BLOOM && e->value_len == 0) {
        plane_object_bloom_add(obj, e->key, e->key_len);
        return 0;
    }
    return PLANE_ENOENT;
}

/* The running app app_id, or NULL after answering the request ENOENT. */
static struct dev_app *
dev_app_or_respond(struct plane_device *dev, struct plane_rpc *rpc,
                   const struct plane_rpc_req *req, uint16_t app_id)
{
    struct dev_app *a = plane_device__find_app(dev, app_id);
    if (!a || !a->inst) {
        plane_rpc_respond(rpc, req->token, PLANE_ENOENT, NULL, 0);
        return NULL;
    }
    return a;
}

/*
 * The logical device app a places the flow key of `key` (klen bytes) on,
 * as the switch does; PLANE_DEV_NONE when key is not a flow key.
 */
static uint16_t
dev_key_logical(const struct plane_device *dev, const struct dev_app *a, const void *key,
                size_t klen)
{
    struct plane_flow_key fk;
    if (klen != sizeof fk) {
        return PLANE_DEV_NONE;
    }
    memcpy(&fk, key, sizeof fk);
    return plane_placement_logical_in(&dev->pl, &a->lset,
                                      plane_hash_flow_key(&dev->hasher, &fk));
}

/* ENTRY_INSERT / ENTRY_UPDATE / ENTRY_DELETE: the replica path. */
static void
h_entries(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
          const union plane_body *u)
{
    const struct plane_body_entries *b = &u->entries;
    struct dev_app *a = dev_app_or_respond(dev, rpc, req, b->app_id);
    if (!a) {
        return;
    }
    bool del_msg = req->ctl->msg_type == PLANE_MSG_ENTRY_DELETE;
    bool upd_msg = req->ctl->msg_type == PLANE_MSG_ENTRY_UPDATE;
    int status = 0;
    for (uint32_t i = 0; i < b->n_entries; i++) {
        const struct plane_body_entry *e = &b->entries[i];
        /* ENTRY_UPDATE carries per-entry operations (the replication
         * stream, device_repl.c); the others one for the whole message. */
        if (upd_msg && e->object_id == PLANE_ENTRY_SEEN) {
            uint64_t id;
            if (e->key_len == sizeof id) {
                memcpy(&id, e->key, sizeof id);
                plane_device__remember(a, id);
            }
            continue;
        }
        bool del = del_msg || (upd_msg && (e->flags & PLANE_ENTRY_F_DELETE));
        bool merge = upd_msg && !del && (e->flags & PLANE_ENTRY_F_MERGE);
        if (merge && dev_sketch_add(a, e) == 0) {
            PLANE_CTR_INC(&dev->stats, entries_applied);
            continue;
        }
        struct plane_object *obj = dev_entry_object(a, e, !del);
        int rc;
        if (!obj) {
            rc = PLANE_EINVAL;
        } else if (del) {
            rc = plane_object_delete_entry(obj, e->key, e->key_len);
            rc = rc == PLANE_ENOENT ? 0 : rc;
        } else if (merge) {
            rc = plane_object_kind(obj) == PLANE_OBJ_REGISTER
                     ? plane_object_merge(obj, e->key, e->key_len, e->value)
                     : PLANE_EINVAL;
        } else {
            rc = plane_object_insert(obj, e->key, e->key_len, e->value);
        }
        if (rc) {
            PLANE_CTR_INC(&dev->stats, entries_rejected);
            status = status ? status : rc;
        } else {
            PLANE_CTR_INC(&dev->stats, entries_applied);
        }
    }
    plane_rpc_respond(rpc, req->token, status, NULL, 0);
}

/* Collects a union key's entries (plane_app_inst_entry_keys) into an array. */
struct dev_collect {
    const struct plane_app_inst *inst;
    struct plane_body_entry *ents;
    uint32_t n, cap;
};

static int
dev_collect_cb(void *arg, uint16_t obj, const void *key, size_t klen, const void *value)
{
    struct dev_collect *c = arg;
    if (c->n == c->cap) {
        return PLANE_ENOSPC;
    }
    const struct plane_object *o = plane_app_inst_object(c->inst, obj);
    bool reg = plane_object_kind(o) == PLANE_OBJ_REGISTER;
    c->ents[c->n++] = (struct plane_body_entry) {
        .object_id = obj,
        .flags = (reg ? PLANE_ENTRY_F_SHARED : 0) | (value ? 0 : PLANE_ENTRY_F_NOT_FOUND),
        .key = key, .key_len = (uint32_t) klen,
        .value = value, .value_len = value ? (uint32_t) plane_object_value_len(o) : 0,
    };
    return 0;
}

/*
 * Reads one page of a scan (docs/runtime.md, ENTRY_READ).  With regs, the
 * page also holds the register entries of the logicals asked for (those
 * keyed by the whole union key, so attributable to one shard).
 */
static int
dev_scan(struct plane_device *dev, struct dev_app *a, const struct plane_body_entry *marker,
         bool regs, struct plane_body_entries *out)
{
    struct plane_placement *pl = &dev->pl;
    bool *want = plane_mp_zone_calloc(&dev->zone, pl->n_logical + 1, sizeof *want);
    struct plane_body_entry *ents =
        plane_mp_zone_calloc(&dev->zone, DEV_SCAN_MAX_ENTRIES + 1, sizeof *ents);
    uint8_t *next = plane_mp_zone_alloc(&dev->zone, 8);
    if (!want || !ents || !next) {
        return PLANE_ENOMEM;
    }
    uint64_t cursor = 0;
    if (marker && marker->key_len) {
        if (marker->key_len % 2) {
            return PLANE_EINVAL;
        }
        for (uint32_t i = 0; i < marker->key_len; i += 2) {
            uint16_t l = (uint16_t) (marker->key[i] << 8 | marker->key[i + 1]);
            if (l < pl->n_logical) {
                want[l] = true;
            }
        }
    } else {
        for (uint32_t l = 0; l < pl->n_logical; l++) {
            const struct plane_placement_logical *lg =
                plane_placement_get_logical(pl, (uint16_t) l);
            want[l] = lg && (lg->primary == dev->self->id || lg->replica == dev->self->id);
        }
    }
    if (marker && marker->value_len) {
        if (marker->value_len != 8) {
            return PLANE_EINVAL;
        }
        for (int i = 0; i < 8; i++) {
            cursor = cursor << 8 | marker->value[i];
        }
    }
    uint32_t n = 0;
    size_t budget = 0;
    uint16_t n_obj = plane_app_n_objects(a->app);
    uint32_t ufields = a->app->desc->union_key_fields;
    for (uint16_t oi = (uint16_t) (cursor >> 40); oi < n_obj; oi++) {
        struct plane_object *obj = plane_app_inst_object(a->inst, oi);
        size_t slot = oi == (cursor >> 40) ? (size_t) (cursor & ((1ULL << 40) - 1)) : 0;
        bool by_shard = plane_app_object(a->app, oi)->key_fields == ufields;
        bool reg = plane_object_kind(obj) == PLANE_OBJ_REGISTER;
        if (plane_object_kind(obj) != PLANE_OBJ_TABLE && !(regs && reg && by_shard)) {
            continue;
        }
        const void *k, *v;
        while (plane_object_next(obj, &slot, &k, &v)) {
            size_t klen = plane_object_key_len(obj), vlen = plane_object_value_len(obj);
            if (by_shard && klen == sizeof(struct plane_flow_key)) {
                uint16_t l = dev_key_logical(dev, a, k, klen);
                if (l >= pl->n_logical || !want[l]) {
                    continue;
                }
            }
            ents[n++] = (struct plane_body_entry) {
                .object_id = oi, .flags = reg ? PLANE_ENTRY_F_SHARED : 0,
                .key = k, .key_len = (uint32_t) klen,
                .value = v, .value_len = (uint32_t) vlen,
            };
            PLANE_CTR_INC(&dev->stats, entries_read);
            budget += 16 + klen + vlen;
            if (budget >= DEV_SCAN_BUDGET || n == DEV_SCAN_MAX_ENTRIES) {
                uint64_t c = (uint64_t) oi << 40 | slot;
                for (int i = 7; i >= 0; i--) {
                    next[i] = (uint8_t) c;
                    c >>= 8;
                }
                ents[n++] = (struct plane_body_entry) {
                    .object_id = PLANE_ENTRY_SCAN, .key = next, .key_len = 0,
                    .value = next, .value_len = 8,
                };
                goto done;
            }
        }
    }
done:
    out->app_id = a->cfg->id;
    out->n_entries = n;
    out->entries = ents;
    return 0;
}

/*
 * A scan page pushed through the replication stream to the requester (a
 * device re-learning the other copy; docs/runtime.md, Recovery): the values
 * are read now, queued behind every change already queued to it, and the
 * request is answered (with just the next cursor) once it applied them.
 */
static void
dev_scan_push(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
              struct dev_app *a, const struct plane_body_entry *marker)
{
    /* It is evidently alive: stream to it from now on (its heartbeat
     * answers may not have told us yet). */
    plane_device__peer_alive(dev, req->peer);
    struct plane_body_entries page;
    int rc = dev_scan(dev, a, marker, true, &page);
    struct dev_repl_ent *ents = rc ? NULL
                                   : plane_mp_zone_calloc(&dev->zone, page.n_entries + 1,
                                                          sizeof *ents);
    if (!rc && !ents) {
        rc = PLANE_ENOMEM;
    }
    struct plane_body_entries resp = { .app_id = a->cfg->id };
    uint32_t n = 0;
    for (uint32_t i = 0; !rc && i < page.n_entries; i++) {
        const struct plane_body_entry *e = &page.entries[i];
        if (e->object_id == PLANE_ENTRY_SCAN) {
            resp.entries = e;     /* the cursor: the answer's only entry */
            resp.n_entries = 1;
            continue;
        }
        if (e->key_len > PLANE_OBJ_MAX_KEY || e->value_len > PLANE_OBJ_MAX_VALUE) {
            continue;             /* objects never hold such entries */
        }
        /* Flags 0, a set: the value as of this point of the stream. */
        plane_device__repl_ent(&ents[n++], e->object_id, 0, e->key, e->key_len, e->value,
                               e->value_len);
    }
    struct plane_mp_writer w;
    uint8_t buf[128];
    plane_mp_writer_init(&w, buf, sizeof buf);
    if (!rc) {
        rc = plane_body_entries_encode(&resp, &w);
        rc = rc ? rc : w.overflow ? PLANE_EMSGSIZE : 0;
    }
    if (!rc) {
        rc = plane_device__repl_push_ctl(dev, req->peer, a->cfg->id, ents, n, rpc,
                                         req->token, w.buf, w.len);
    }
    if (rc) {
        plane_rpc_respond(rpc, req->token, rc, NULL, 0);
    }
}

static void
h_entry_read(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
             const union plane_body *u)
{
    const struct plane_body_entries *b = &u->entries;
    struct dev_app *a = dev_app_or_respond(dev, rpc, req, b->app_id);
    if (!a) {
        return;
    }
    struct plane_body_entries out = { .app_id = b->app_id };
    int rc = 0;
    if (b->n_entries == 0 || (b->n_entries == 1 && b->entries[0].object_id == PLANE_ENTRY_SCAN)) {
        const struct plane_body_entry *m = b->n_entries ? &b->entries[0] : NULL;
        if (m && (m->flags & PLANE_ENTRY_F_PUSH)) {
            dev_scan_push(dev, rpc, req, a, m);
            return;
        }
        rc = dev_scan(dev, a, m, false, &out);
    } else {
        struct plane_body_entry *ents = plane_mp_zone_calloc(&dev->zone, b->n_entries,
                                                             sizeof *ents);
        if (!ents) {
            rc = PLANE_ENOMEM;
        }
        for (uint32_t i = 0; !rc && i < b->n_entries; i++) {
            const struct plane_body_entry *e = &b->entries[i];
            struct plane_object *obj = dev_entry_object(a, e, false);
            if (!obj) {
                PLANE_CTR_INC(&dev->stats, entries_rejected);
                rc = PLANE_EINVAL;
                break;
            }
            const void *v = plane_object_lookup(obj, e->key, e->key_len);
            bool reg = plane_object_kind(obj) == PLANE_OBJ_REGISTER;
            ents[i] = (struct plane_body_entry) {
                .object_id = e->object_id,
                .flags = (reg ? PLANE_ENTRY_F_SHARED : 0) | (v ? 0 : PLANE_ENTRY_F_NOT_FOUND),
                .key = e->key, .key_len = e->key_len,
                .value = v, .value_len = v ? (uint32_t) plane_object_value_len(obj) : 0,
            };
            PLANE_CTR_INC(&dev->stats, entries_read);
        }
        out.n_entries = b->n_entries;
        out.entries = ents;
    }
    if (rc) {
        plane_rpc_respond(rpc, req->token, rc, NULL, 0);
        return;
    }
    DEV_RESPOND(dev, rpc, req->token, entries, &out);
}

/* Reads a union key from the wire into a flow key.  Returns 0 or PLANE_EINVAL. */
static int
dev_union_key(const uint8_t *k, uint32_t len, struct plane_flow_key *fk)
{
    if (len != sizeof *fk) {
        return PLANE_EINVAL;
    }
    memcpy(fk, k, sizeof *fk);
    return 0;
}

static void
h_promote(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
          const union plane_body *u)
{
    const struct plane_body_update *b = &u->update;
    struct dev_app *a = plane_device__find_app(dev, b->app_id);
    struct plane_flow_key fk;
    if (!a || !a->inst || dev_union_key(b->union_key, b->union_key_len, &fk)) {
        plane_rpc_respond(rpc, req->token, a && a->inst ? PLANE_EINVAL : PLANE_ENOENT, NULL, 0);
        return;
    }
    struct plane_body_update out = *b;
    out.n_entries = 0;
    out.entries = NULL;
    if (b->phase == PLANE_UPDATE_PREPARE) {
        struct dev_collect c = { .inst = a->inst, .cap = PLANE_APP_MAX_OBJECTS };
        c.ents = plane_mp_zone_calloc(&dev->zone, c.cap, sizeof *c.ents);
        if (!c.ents) {
            plane_rpc_respond(rpc, req->token, PLANE_ENOMEM, NULL, 0);
            return;
        }
        plane_app_inst_entry_keys(a->inst, &fk, dev_collect_cb, &c);
        out.n_entries = c.n;
        out.entries = c.ents;
    }
    DEV_RESPOND(dev, rpc, req->token, update, &out);
}

/* ---- update ids: DEMOTE and SYNC hand-backs merge once ------------------ */

/*
 * Every hand-back the switch sends (a DEMOTE's deltas, a SYNC item's delta)
 * carries an update id unique across the rack's life.  A device remembers
 * the last DEV_SEEN_IDS ids it merged per app, and streams each id to the
 * other copy with the merge itself, so a retry that reaches the replica
 * after a failover is recognised there too.
 */
static void
dev_seen_key(uint64_t id, uint8_t key[PLANE_OBJECT_KEY_LEN])
{
    memset(key, 0, PLANE_OBJECT_KEY_LEN);
    memcpy(key, &id, sizeof id);
}

bool
plane_device__seen(const struct dev_app *a, uint64_t id)
{
    uint8_t k[PLANE_OBJECT_KEY_LEN];
    dev_seen_key(id, k);
    return id && a->seen && plane_object_lookup(a->seen, k, sizeof k);
}

void
plane_device__remember(struct dev_app *a, uint64_t id)
{
    if (!id || !a->seen || plane_device__seen(a, id)) {
        return;
    }
    uint8_t k[PLANE_OBJECT_KEY_LEN];
    uint64_t old = a->seen_ring[a->seen_pos];
    if (old) {
        dev_seen_key(old, k);
        (void) plane_object_delete_entry(a->seen, k, sizeof k);
    }
    a->seen_ring[a->seen_pos] = id;
    a->seen_pos = (a->seen_pos + 1) % DEV_SEEN_IDS;
    dev_seen_key(id, k);
    uint64_t one = 1;
    (void) plane_object_insert(a->seen, k, sizeof k, &one);
}

/* The stream entry telling the other copy that update id was merged. */
static void
dev_seen_ent(struct dev_repl_ent *r, uint64_t id)
{
    plane_device__repl_ent(r, PLANE_ENTRY_SEEN, 0, &id, sizeof id, NULL, 0);
}

/*
 * Answers rpc's request with body once the other copy of logical ldev has
 * applied ents (device_repl.c), or now when there is no live other copy or
 * nothing to apply.
 */
static void
dev_respond_after(struct plane_device *dev, struct plane_rpc *rpc, uint64_t token,
                  uint16_t app_id, uint16_t ldev, const struct dev_repl_ent *ents, uint32_t n,
                  int enc_rc, const uint8_t *body, size_t len)
{
    uint16_t peer = n && !enc_rc ? plane_device__repl_peer(dev, ldev) : PLANE_DEV_NONE;
    if (peer != PLANE_DEV_NONE) {
        if (!plane_device__repl_push_ctl(dev, peer, app_id, ents, n, rpc, token, body, len)) {
            return;
        }
        /* Applied here, not on the other copy: answer anyway, counted. */
        PLANE_CTR_INC(&dev->stats, replica_unacked);
    }
    plane_rpc_respond(rpc, token, enc_rc, enc_rc ? NULL : body, enc_rc ? 0 : len);
}

static void
h_demote(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
         const union plane_body *u)
{
    const struct plane_body_update *b = &u->update;
    struct dev_app *a = dev_app_or_respond(dev, rpc, req, b->app_id);
    if (!a) {
        return;
    }
    int status = 0;
    /* What was merged here goes to the other copy of the key's shard too,
     * and the switch hears back once it is there (device_repl.c). */
    struct dev_repl_ent *fwd = b->n_entries
        ? plane_mp_zone_calloc(&dev->zone, b->n_entries + 1, sizeof *fwd) : NULL;
    uint32_t n_fwd = 0;
    if (b->n_entries) {
        if (plane_device__seen(a, b->update_id)) {
            PLANE_CTR_INC(&dev->stats, demote_dups);
        } else {
            for (uint32_t i = 0; i < b->n_entries; i++) {
                const struct plane_body_entry *e = &b->entries[i];
                struct plane_object *obj = dev_entry_object(a, e, true);
                if (!obj) {
                    PLANE_CTR_INC(&dev->stats, entries_rejected);
                    status = PLANE_EINVAL;
                    continue;
                }
                if (plane_object_kind(obj) != PLANE_OBJ_REGISTER) {
                    continue;     /* tables are the device's already */
                }
                int rc = plane_object_merge(obj, e->key, e->key_len, e->value);
                if (rc) {
                    status = status ? status : rc;
                    continue;
                }
                PLANE_CTR_INC(&dev->stats, deltas_merged);
                if (fwd) {
                    plane_device__repl_ent(&fwd[n_fwd++], e->object_id, PLANE_ENTRY_F_MERGE,
                                           e->key, e->key_len, e->value, e->value_len);
                }
            }
            plane_device__remember(a, b->update_id);
            if (fwd && n_fwd) {
                dev_seen_ent(&fwd[n_fwd++], b->update_id);
            }
        }
    }
    plane_pop_unmark(&a->pop, b->union_key, b->union_key_len);
    if (status) {
        plane_rpc_respond(rpc, req->token, status, NULL, 0);
        return;
    }
    struct plane_body_update out = *b;
    out.n_entries = 0;
    out.entries = NULL;
    uint16_t ldev = n_fwd ? dev_key_logical(dev, a, b->union_key, b->union_key_len)
                          : PLANE_DEV_NONE;
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, dev->tx, sizeof dev->tx);
    int rc = plane_body_update_encode(&out, &w);
    rc = rc ? rc : w.overflow ? PLANE_EMSGSIZE : 0;
    dev_respond_after(dev, rpc, req->token, a->cfg->id, ldev, fwd, n_fwd, rc, w.buf, w.len);
}

/*
 * SYNC (docs/runtime.md): the switch hands back, per register entry of a
 * key it serves, what it added since the last exchange (idempotent merges:
 * its value), under an update id in the item's history.  Merge it once,
 * answer with the entry's value, after the other copy has the merge too.
 * Every item of one request belongs to one logical device.
 */
static void
h_sync(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
       const union plane_body *u)
{
    const struct plane_body_sync *b = &u->sync;
    struct dev_app *a = dev_app_or_respond(dev, rpc, req, b->app_id);
    if (!a) {
        return;
    }
    PLANE_CTR_INC(&dev->stats, sync_requests);
    struct plane_body_sync_item *out = plane_mp_zone_calloc(&dev->zone, b->n_items + 1,
                                                            sizeof *out);
    struct dev_repl_ent *fwd = plane_mp_zone_calloc(&dev->zone, 2 * b->n_items + 1,
                                                    sizeof *fwd);
    uint8_t *vals = plane_mp_zone_alloc(&dev->zone, (size_t) b->n_items * PLANE_OBJ_MAX_VALUE + 1);
    if (!out || !fwd || !vals) {
        plane_rpc_respond(rpc, req->token, PLANE_ENOMEM, NULL, 0);
        return;
    }
    uint32_t n_out = 0, n_fwd = 0;
    uint16_t ldev = PLANE_DEV_NONE;
    for (uint32_t i = 0; i < b->n_items; i++) {
        const struct plane_body_sync_item *it = &b->items[i];
        struct plane_object *obj = plane_app_inst_object(a->inst, it->object_id);
        uint64_t id;
        if (!obj || plane_object_kind(obj) != PLANE_OBJ_REGISTER
            || it->key_len != plane_object_key_len(obj)
            || it->snapshot_len != plane_object_value_len(obj)
            || it->history_len != sizeof id) {
            PLANE_CTR_INC(&dev->stats, entries_rejected);
            continue;
        }
        memcpy(&id, it->history, sizeof id);
        if (plane_device__seen(a, id)) {
            PLANE_CTR_INC(&dev->stats, sync_dups);
        } else if (plane_object_merge(obj, it->key, it->key_len, it->snapshot)) {
            PLANE_CTR_INC(&dev->stats, entries_rejected);
            continue;
        } else {
            PLANE_CTR_INC(&dev->stats, sync_merged);
            plane_device__remember(a, id);
            plane_device__repl_ent(&fwd[n_fwd++], it->object_id, PLANE_ENTRY_F_MERGE,
                                   it->key, it->key_len, it->snapshot, it->snapshot_len);
            dev_seen_ent(&fwd[n_fwd++], id);
        }
        if (ldev == PLANE_DEV_NONE) {
            ldev = dev_key_logical(dev, a, it->key, it->key_len);
        }
        uint8_t *v = vals + (size_t) n_out * PLANE_OBJ_MAX_VALUE;
        (void) plane_object_get(obj, it->key, it->key_len, v);
        out[n_out++] = (struct plane_body_sync_item) {
            .object_id = it->object_id, .key = it->key, .key_len = it->key_len,
            .snapshot = v, .snapshot_len = it->snapshot_len,
            .history = it->history, .history_len = it->history_len,
        };
    }
    struct plane_body_sync resp = { .app_id = b->app_id, .epoch = b->epoch, .round = b->round,
                                    .n_items = n_out, .items = out };
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, dev->tx, sizeof dev->tx);
    int rc = plane_body_sync_encode(&resp, &w);
    rc = rc ? rc : w.overflow ? PLANE_EMSGSIZE : 0;
    dev_respond_after(dev, rpc, req->token, a->cfg->id, ldev, fwd, n_fwd, rc, w.buf, w.len);
}

static void
h_devmap(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
         const union plane_body *u)
{
    int rc = plane_placement_devmap_apply(&dev->pl, &u->devmap);
    if (rc == 0) {
        PLANE_CTR_INC(&dev->stats, devmap_updates);
        PLANE_INFO("devmap epoch %llu adopted", (unsigned long long) u->devmap.epoch);
        /* Our logical is RECOVERING: catch up with the flows the replica
         * created while we were away. */
        for (uint32_t l = 0; l < dev->pl.n_logical; l++) {
            const struct plane_placement_logical *lg =
                plane_placement_get_logical(&dev->pl, (uint16_t) l);
            if (lg && lg->state == PLANE_DEVMAP_RECOVERING && lg->primary == dev->self->id) {
                dev_resync_add(dev, (uint16_t) l, lg->replica, false);
            }
        }
    } else if (rc == PLANE_EALREADY) {
        rc = 0;               /* stale or repeated: nothing to do */
    } else {
        PLANE_WARN("devmap epoch %llu refused: %s", (unsigned long long) u->devmap.epoch,
                   plane_strerror(rc));
    }
    plane_rpc_respond(rpc, req->token, rc, NULL, 0);
}

/* STATS: this device's counters, filtered and paged (common/statpage.h). */
static void
h_stats(struct plane_device *dev, struct plane_rpc *rpc, const struct plane_rpc_req *req,
        const union plane_body *u)
{
    struct plane_stat_page pg;
    if (plane_stat_page_init(&pg, &u->stats, &dev->zone, DEV_STATS_MAX,
                             PLANE_STAT_PAGE_BUDGET)) {
        plane_rpc_respond(rpc, req->token, PLANE_ENOMEM, NULL, 0);
        return;
    }
    for (size_t i = 0; i < PLANE_DEVICE_N_COUNTERS; i++) {
        plane_stat_page_add2(&pg, "device", plane_device_counter_names[i],
                             plane_counters_get(&dev->stats, i));
    }
    plane_stat_page_add2(&pg, "device", "held_now",
                         DEV_HELD_PACKETS - plane_pool_avail(&dev->held));
    plane_stat_page_add2(&pg, "device", "latency_us", dev->lat_avg_ns / PLANE_NS_PER_US);
    const struct plane_udp_stats *us = plane_udp_stats(dev->udp);
    for (size_t i = 0; i < sizeof *us / sizeof(uint64_t); i++) {
        plane_stat_page_add2(&pg, "udp", plane_udp_counter_name(i), plane_counters_get(us, i));
    }
    const struct plane_rpc_stats *rs = plane_rpc_stats(dev->rpc);
    for (size_t i = 0; i < sizeof *rs / sizeof(uint64_t); i++) {
        plane_stat_page_add2(&pg, "rpc", plane_rpc_counter_name(i), plane_counters_get(rs, i));
    }
    for (size_t i = 0; i < dev->n_apps; i++) {
        struct dev_app *a = &dev->apps[i];
        if (!a->inst) {
            continue;
        }
        char prefix[96];
        snprintf(prefix, sizeof prefix, "app.%s", a->cfg->name);
        const struct plane_app_inst_stats *is = plane_app_inst_stats(a->inst);
        for (size_t j = 0; j < PLANE_APP_INST_N_COUNTERS; j++) {
            plane_stat_page_add2(&pg, prefix, plane_app_inst_counter_names[j],
                                 plane_counters_get(is, j));
        }
        snprintf(prefix, sizeof prefix, "pop.%s", a->cfg->name);
        for (size_t j = 0; j < PLANE_POP_N_COUNTERS; j++) {
            plane_stat_page_add2(&pg, prefix, plane_pop_counter_names[j],
                                 plane_counters_get(&a->pop.stats, j));
        }
        snprintf(prefix, sizeof prefix, "obj.%s", a->cfg->name);
        for (uint16_t j = 0; j < plane_app_n_objects(a->app); j++) {
            struct plane_object *o = plane_app_inst_object(a->inst, j);
            plane_stat_page_add2(&pg, prefix, plane_object_name(o), plane_object_count(o));
        }
    }
    for (size_t i = 0; i < PLANE_PLACEMENT_N_COUNTERS; i++) {
        plane_stat_page_add2(&pg, "placement", plane_placement_counter_names[i],
                             plane_counters_get(&dev->pl.stats, i));
    }
    plane_stat_page_add2(&pg, "placement", "epoch", dev->pl.epoch);
    struct plane_body_stats out;
    if (plane_stat_page_finish(&pg, &out)) {
        plane_rpc_respond(rpc, req->token, PLANE_ENOMEM, NULL, 0);
        return;
    }
    DEV_RESPOND(dev, rpc, req->token, stats, &out);
}

typedef void (*dev_handler_fn)(struct plane_device *, struct plane_rpc *,
                               const struct plane_rpc_req *, const union plane_body *);

/* Message type -> handler.  APP_DEPLOY has none: the RPC answers ENOSYS. */
static const dev_handler_fn dev_handlers[PLANE_RPC_MAX_TYPE] = {
    [PLANE_MSG_HELLO] = h_hello,
    [PLANE_MSG_HEARTBEAT] = h_heartbeat,
    [PLANE_MSG_ENTRY_INSERT] = h_entries,
    [PLANE_MSG_ENTRY_UPDATE] = h_entries,
    [PLANE_MSG_ENTRY_DELETE] = h_entries,
    [PLANE_MSG_ENTRY_READ] = h_entry_read,
    [PLANE_MSG_PROMOTE] = h_promote,
    [PLANE_MSG_DEMOTE] = h_demote,
    [PLANE_MSG_SYNC] = h_sync,
    [PLANE_MSG_DEVMAP_UPDATE] = h_devmap,
    [PLANE_MSG_STATS] = h_stats,
};


/*
 * A request from a new incarnation of the switch: it restarted, with the
 * devmap of the config (its epochs start over), so ours is reset to the
 * config's too, or its DEVMAP_UPDATEs would all look stale.  Then HELLO.
 */
static void
dev_switch_incarnation(struct plane_device *dev, uint64_t inc)
{
    bool restarted = dev->sw_incarnation != 0;
    dev->sw_incarnation = inc;
    if (!restarted) {
        return;
    }
    PLANE_INFO("the switch restarted (incarnation %#llx): devmap reset, HELLO",
               (unsigned long long) inc);
    struct plane_placement pl;
    if (plane_placement_init_config(&pl, dev->cfg, 0) == 0) {
        plane_placement_uninit(&dev->pl);
        dev->pl = pl;
    }
    plane_device__say_hello(dev, dev->sw_id);
}

/* The one RPC handler: decode the body into the zone, dispatch, clear. */
void
plane_device__on_request(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_device *dev = arg;
    uint16_t type = req->ctl->msg_type;
    if (req->peer == dev->sw_id && req->ctl->incarnation != dev->sw_incarnation) {
        dev_switch_incarnation(dev, req->ctl->incarnation);
    }
    union plane_body u;
    int rc = plane_wire_body_decode_any(type, false, req->ctl->body, req->ctl->body_len,
                                        &dev->zone, &u);
    if (rc) {
        PLANE_CTR_INC(&dev->stats, ctl_bad_body);
        PLANE_WARN_RL(&rl, "%s request from %u: bad body: %s",
                      plane_msg_type_name(type) ? plane_msg_type_name(type) : "?",
                      req->peer, plane_strerror(rc));
        plane_rpc_respond(rpc, req->token, PLANE_EBADMSG, NULL, 0);
    } else {
        dev_handlers[type](dev, rpc, req, &u);
    }
    plane_mp_zone_clear(&dev->zone);
}

static void
dev_hello_done(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    (void) arg;
    (void) rpc;
    (void) resp;
    if (status) {
        PLANE_DBG("HELLO: %s", plane_strerror(status));
    }
}

void
plane_device__say_hello(struct plane_device *dev, uint16_t peer)
{
    struct plane_body_hello h;
    uint16_t port;
    dev_hello_body(dev, &h, &port);
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, dev->tx, sizeof dev->tx);
    if (plane_body_hello_encode(&h, &w) || w.overflow) {
        return;
    }
    plane_rpc_call(dev->rpc, peer, PLANE_MSG_HELLO, w.buf, w.len, NULL, dev_hello_done, dev, NULL);
}

bool
plane_device__handles(uint16_t msg_type)
{
    return msg_type < PLANE_RPC_MAX_TYPE && dev_handlers[msg_type] != NULL;
}
