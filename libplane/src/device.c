/* The external-device runtime of nicd and serverd: pinned processing, replication, control. */
#include "device_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include <plane/app.h>
#include <plane/error.h>

#include "app_internal.h"
#include "common/alloc.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/fault.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/mp.h"
#include "common/pool.h"
#include "common/rate.h"
#include "common/rpc.h"
#include "common/udp.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "ctx.h"
#include "daemon.h"
#include "merge.h"
#include "object.h"
#include "placement.h"
#include "popularity.h"

PLANE_LOG_MODULE(device);

const char *const plane_device_counter_names[] = {
    PLANE_COUNTERS_NAMES(PLANE_DEVICE_COUNTERS)
};

static const struct plane_obj_desc seen_desc = {
    .name = "seen_ids", .kind = PLANE_OBJ_TABLE, .key_fields = PLANE_FLOW_ALL,
    .value_len = 8, .size = 1, .merge = PLANE_MERGE_NONE,
};

struct dev_app *
plane_device__find_app(struct plane_device *dev, uint16_t app_id)
{
    for (size_t i = 0; i < dev->n_apps; i++) {
        if (dev->apps[i].cfg->id == app_id) {
            return &dev->apps[i];
        }
    }
    return NULL;
}

/* ---- data path ---------------------------------------------------------- */

/* Sends the held packet's reply to the switch and frees its buffer. */
static void
dev_send_reply(struct held *h)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_device *dev = h->dev;
    if (!dev->closing) {
        struct plane_wire_data out = h->hdr;
        out.flags = h->flags;
        out.port = h->egress;
        out.processed_by = dev->self->id;
        out.processed_ns = h->processed_ns;
        out.frame = h->frame;
        out.frame_len = h->frame_len;
        int n = plane_wire_data_encode(&out, dev->tx, sizeof dev->tx);
        const struct sockaddr *to = (const struct sockaddr *) &dev->cfg->sw.control.sa;
        int rc = n < 0 ? n : plane_udp_send(dev->udp, to, dev->tx, (size_t) n);
        if (rc) {
            PLANE_CTR_INC(&dev->stats, reply_errors);
            PLANE_WARN_RL(&rl, "reply to the switch: %s", plane_strerror(rc));
        } else {
            PLANE_CTR_INC(&dev->stats, replies);
        }
    }
    plane_pool_put(&dev->held, h);
}

static void
dev_lat_timer_cb(uv_timer_t *t)
{
    struct plane_device *dev = t->data;
    uint64_t now = plane_clock_now_ns();
    while (dev->lat_head != dev->lat_tail) {
        struct held *h = dev->lat_q[dev->lat_head];
        if (h->due_ns > now) {
            uint64_t ms = (h->due_ns - now + PLANE_NS_PER_MS - 1) / PLANE_NS_PER_MS;
            uv_timer_start(&dev->lat_timer, dev_lat_timer_cb, ms, 0);
            return;
        }
        dev->lat_head = (dev->lat_head + 1) % dev->lat_cap;
        dev_send_reply(h);
    }
}

/* Replies now, or after latency_us when emulating it. */
void
plane_device__release(struct held *h)
{
    struct plane_device *dev = h->dev;
    h->processed_ns = plane_clock_now_ns();
    if (h->rx_ns && h->processed_ns >= h->rx_ns) {
        uint64_t l = h->processed_ns - h->rx_ns + dev->latency_ns;
        dev->lat_avg_ns = dev->lat_avg_ns ? dev->lat_avg_ns - dev->lat_avg_ns / 16 + l / 16 : l;
    }
    if (!dev->latency_ns || dev->closing || !dev->lat_timer_inited) {
        dev_send_reply(h);
        return;
    }
    /* Every held packet has one slot: the ring (pool size + 1) cannot fill. */
    h->due_ns = h->processed_ns + dev->latency_ns;
    bool was_empty = dev->lat_head == dev->lat_tail;
    dev->lat_q[dev->lat_tail] = h;
    dev->lat_tail = (dev->lat_tail + 1) % dev->lat_cap;
    if (was_empty) {
        uint64_t ms = (dev->latency_ns + PLANE_NS_PER_MS - 1) / PLANE_NS_PER_MS;
        uv_timer_start(&dev->lat_timer, dev_lat_timer_cb, ms, 0);
    }
}

/* The device holding the other copy of logical ldev, or PLANE_DEV_NONE. */
static uint16_t
dev_other_copy(struct plane_device *dev, uint16_t ldev)
{
    const struct plane_placement_logical *lg = plane_placement_get_logical(&dev->pl, ldev);
    uint16_t self = dev->self->id;
    if (!lg) {
        PLANE_CTR_INC(&dev->stats, not_owner);
        return PLANE_DEV_NONE;
    }
    if (lg->primary == self) {
        return lg->replica;
    }
    if (lg->replica == self) {
        /* Serving as replica: the primary gets the entries unless it is
         * down (FAILOVER, DOWN); a RECOVERING primary needs them. */
        return (lg->state == PLANE_DEVMAP_FAILOVER || lg->state == PLANE_DEVMAP_DOWN)
                   ? PLANE_DEV_NONE : lg->primary;
    }
    PLANE_CTR_INC(&dev->stats, not_owner);
    return PLANE_DEV_NONE;
}

static bool dev_peer_up(struct plane_device *dev, uint16_t id);

/*
 * Copies the changes the run made into the packet's replication item:
 * table inserts and deletes of new_flow(), then register merges.
 */
static void
dev_repl_fill(struct held *h, const struct plane_run_result *r, uint16_t app_id)
{
    uint32_t n = 0;
    for (size_t i = 0; i < r->n_updates && n < PLANE_RUN_MAX_UPDATES; i++) {
        const struct plane_run_update *u = &r->updates[i];
        uint8_t flags = u->op == PLANE_RUN_MERGE || u->op == PLANE_RUN_SKETCH
                            ? PLANE_ENTRY_F_MERGE
                        : u->op == PLANE_RUN_DELETE ? PLANE_ENTRY_F_DELETE : 0;
        plane_device__repl_ent(&h->ents[n++], u->obj, flags, u->key, u->key_len, u->value,
                               u->op == PLANE_RUN_DELETE ? 0 : u->value_len);
    }
    h->item = (struct dev_repl_item) { .app_id = app_id, .n_ents = n, .ents = h->ents,
                                       .h = h };
}

uint16_t
plane_device__repl_peer(struct plane_device *dev, uint16_t ldev)
{
    uint16_t other = dev_other_copy(dev, ldev);
    return other != PLANE_DEV_NONE && dev_peer_up(dev, other) ? other : PLANE_DEV_NONE;
}

/* ---- liveness of the other copies ----------------------------------------- */

/*
 * The switch's devmap says who serves each logical device, not whether its
 * replica is alive, and replication must not wait for a dead replica.  So a
 * device follows its copy partners itself, as the switch follows devices:
 * one HEARTBEAT per heartbeat_ms, a period ending with the previous one
 * unanswered is a miss, heartbeat_misses in a row mark the peer down (new
 * flows are then not replicated to it, counted `replica_down`), any answer
 * marks it up again.
 */
struct dev_peer *
plane_device__peer(struct plane_device *dev, uint16_t id)
{
    for (size_t i = 0; dev->peers && i < dev->cfg->n_devices; i++) {
        if (dev->peers[i].id == id) {
            return &dev->peers[i];
        }
    }
    return NULL;
}

static bool
dev_peer_up(struct plane_device *dev, uint16_t id)
{
    const struct dev_peer *p = plane_device__peer(dev, id);
    return !p || p->up;
}

void
plane_device__peer_alive(struct plane_device *dev, uint16_t id)
{
    struct dev_peer *p = plane_device__peer(dev, id);
    if (p && !p->up) {
        p->up = true;
        p->awaiting = false;
        p->misses = 0;
        PLANE_CTR_INC(&dev->stats, peer_up);
        plane_device__repl_set_down(dev, id, false);
        PLANE_INFO("device %u is re-learning from us: replicating to it", id);
    }
}

void
plane_device__peer_lost(struct plane_device *dev, uint16_t id, const char *why)
{
    struct dev_peer *p = plane_device__peer(dev, id);
    if (!p || !p->up) {
        return;
    }
    p->up = false;
    PLANE_CTR_INC(&dev->stats, peer_down);
    PLANE_WARN("device %u: %s: not replicating to it", id, why);
    plane_device__repl_set_down(dev, id, true);
}

static void
dev_peer_hb_done(void *arg, struct plane_rpc *rpc, int status,
                 const struct plane_wire_ctl *resp)
{
    (void) rpc;
    (void) resp;
    struct dev_peer *p = arg;
    if (status || p->dev->closing) {
        return;
    }
    p->awaiting = false;
    p->misses = 0;
    if (!p->up) {
        p->up = true;
        PLANE_CTR_INC(&p->dev->stats, peer_up);
        plane_device__repl_set_down(p->dev, p->id, false);
        PLANE_INFO("device %u answers again: replicating to it", p->id);
    }
}

static void
dev_peer_hb_timer_cb(uv_timer_t *t)
{
    struct plane_device *dev = t->data;
    const struct plane_config_timers *tm = &dev->cfg->timers;
    uint8_t buf[64];
    for (size_t i = 0; i < dev->cfg->n_devices; i++) {
        struct dev_peer *p = &dev->peers[i];
        if (!p->watched) {
            continue;
        }
        if (p->awaiting && ++p->misses >= tm->heartbeat_misses && p->up) {
            plane_device__peer_lost(dev, p->id, "missed heartbeats");
        }
        struct plane_body_heartbeat hb = {
            .sender_ns = plane_clock_now_ns(),
            .state = p->up ? PLANE_HB_UP : PLANE_HB_DOWN,
        };
        struct plane_mp_writer w;
        plane_mp_writer_init(&w, buf, sizeof buf);
        if (plane_body_heartbeat_encode(&hb, &w) || w.overflow) {
            continue;
        }
        struct plane_rpc_call_opts o = {
            .timeout_ns = (uint64_t) tm->heartbeat_ms * PLANE_NS_PER_MS, .retries = 1,
        };
        if (plane_rpc_call(dev->rpc, p->id, PLANE_MSG_HEARTBEAT, w.buf, w.len, &o,
                           dev_peer_hb_done, p, NULL) == 0) {
            p->awaiting = true;
        }
    }
}

/* Marks the devices holding the other copy of one of our logicals. */
static void
dev_peers_init(struct plane_device *dev)
{
    for (size_t i = 0; i < dev->cfg->n_devices; i++) {
        dev->peers[i] = (struct dev_peer) { .dev = dev, .id = dev->cfg->devices[i].id,
                                            .up = true };
    }
    for (uint32_t l = 0; l < dev->pl.n_logical; l++) {
        const struct plane_placement_logical *lg =
            plane_placement_get_logical(&dev->pl, (uint16_t) l);
        if (!lg) {
            continue;
        }
        uint16_t other = lg->primary == dev->self->id   ? lg->replica
                         : lg->replica == dev->self->id ? lg->primary
                                                        : PLANE_DEV_NONE;
        struct dev_peer *p = other == PLANE_DEV_NONE ? NULL : plane_device__peer(dev, other);
        if (p) {
            p->watched = true;
        }
    }
}

static void
dev_on_data(void *arg, struct plane_udp *udp, uint16_t peer,
            const struct sockaddr *from, const uint8_t *buf, size_t len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    (void) udp;
    struct plane_device *dev = arg;
    PLANE_CTR_INC(&dev->stats, data_rx);
    if (peer != dev->sw_id) {
        char a[64];
        PLANE_CTR_INC(&dev->stats, data_bad_peer);
        PLANE_WARN_RL(&rl, "DATA from %s (not the switch): dropped",
                      plane_sockaddr_str(from, a, sizeof a));
        return;
    }
    struct plane_wire_data in;
    int rc = plane_wire_data_decode(buf, len, &in);
    if (rc) {
        PLANE_CTR_INC(&dev->stats, data_malformed);
        PLANE_WARN_RL(&rl, "malformed DATA: %s", plane_strerror(rc));
        return;
    }
    if (in.flags & PLANE_DATA_F_PROCESSED) {
        PLANE_CTR_INC(&dev->stats, data_processed_in);
        return;
    }
    uint64_t now = plane_clock_now_ns();
    if (!plane_rate_allow(&dev->rate, now)) {
        PLANE_CTR_INC(&dev->stats, rate_limited);
        return;
    }
    struct held *h = plane_pool_get(&dev->held);
    if (!h) {
        PLANE_CTR_INC(&dev->stats, hold_full);
        PLANE_WARN_RL(&rl, "%u packets held for replication: dropping", DEV_HELD_PACKETS);
        return;
    }
    h->dev = dev;
    h->rx_ns = now;
    h->hdr = in;
    h->hdr.frame = NULL;
    h->flags = PLANE_DATA_F_PROCESSED;
    h->egress = in.port;
    h->frame_len = in.frame_len;
    memcpy(h->frame, in.frame, in.frame_len);

    struct dev_app *a = plane_device__find_app(dev, in.app_id);
    if (!a || !a->inst) {
        PLANE_CTR_INC(&dev->stats, data_no_app);
        PLANE_WARN_RL(&rl, "DATA for app %u, not running here: dropped", in.app_id);
        h->flags |= PLANE_DATA_F_DROP;
        plane_device__release(h);
        return;
    }
    struct plane_run_result *r = &dev->res;
    plane_app_inst_run(a->inst, h->frame, h->frame_len, in.port, now, r);
    PLANE_CTR_INC(&dev->stats, processed);
    if (!r->parse_error) {
        plane_pop_observe(&a->pop, &r->union_key, sizeof r->union_key, 1, now);
    }
    if (r->verdict == PLANE_V_FORWARD) {
        h->egress = r->egress_port;
    } else {
        h->flags |= PLANE_DATA_F_DROP;
    }
    if (r->new_flow_ran && r->new_flow_rc == 0) {
        h->flags |= PLANE_DATA_F_NEW_FLOW;
    }
    if (h->flags & PLANE_DATA_F_NEW_FLOW) {
        PLANE_CTR_INC(&dev->stats, new_flows);
    }
    if (r->updates_lost) {
        PLANE_CTR_INC(&dev->stats, repl_incomplete);
    }
    /* The packet leaves once the other copy has what it changed, and
     * behind the packets queued before it (docs/runtime.md). */
    uint16_t other = dev_other_copy(dev, in.ldev);
    struct dev_repl_stream *s = other == PLANE_DEV_NONE ? NULL
                                : plane_device__repl_stream(dev, other);
    if (!s) {
        PLANE_CTR_ADD(&dev->stats, replica_none, r->n_updates ? 1 : 0);
    } else if (!dev_peer_up(dev, other)) {
        PLANE_CTR_ADD(&dev->stats, replica_down, r->n_updates ? 1 : 0);
        s = NULL;
    }
    if (s && (r->n_updates || plane_device__repl_busy(s))) {
        if (plane_device__repl_busy(s)) {
            PLANE_CTR_INC(&dev->stats, waited);
        }
        dev_repl_fill(h, r, in.app_id);
        plane_device__repl_push(dev, s, &h->item);
        return;
    }
    plane_device__release(h);
}

/* ---- timers and HELLO ------------------------------------------------------ */

static void
dev_pop_done(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(2, 1);
    (void) rpc;
    (void) resp;
    struct plane_device *dev = arg;
    if (status) {
        PLANE_CTR_INC(&dev->stats, pop_errors);
        PLANE_DBG_RL(&rl, "POP_REPORT: %s", plane_strerror(status));
    }
}

static void
dev_pop_timer_cb(uv_timer_t *t)
{
    struct plane_device *dev = t->data;
    uint64_t now = plane_clock_now_ns();
    struct plane_body_pop_item items[DEV_POP_MAX];
    for (size_t i = 0; i < dev->n_apps; i++) {
        struct dev_app *a = &dev->apps[i];
        if (!a->inst) {
            continue;
        }
        plane_pop_tick(&a->pop, now);
        uint32_t n = plane_pop_report(&a->pop, items, DEV_POP_MAX);
        if (!n) {
            continue;
        }
        struct plane_body_pop body = { .app_id = a->cfg->id, .n_items = n, .items = items };
        struct plane_mp_writer w;
        plane_mp_writer_init(&w, dev->tx, sizeof dev->tx);
        int rc = plane_body_pop_encode(&body, &w);
        if (!rc && !w.overflow) {
            /* Reports are periodic: a lost one is superseded, so retry little. */
            struct plane_rpc_call_opts o = { .retries = 2 };
            rc = plane_rpc_call(dev->rpc, dev->sw_id, PLANE_MSG_POP_REPORT, w.buf, w.len,
                                &o, dev_pop_done, dev, NULL);
        }
        if (rc || w.overflow) {
            PLANE_CTR_INC(&dev->stats, pop_errors);
        } else {
            PLANE_CTR_INC(&dev->stats, pop_reports);
            PLANE_CTR_ADD(&dev->stats, pop_keys, n);
        }
    }
}

/* ---- lifecycle ------------------------------------------------------------ */

static void
dev_on_stop(struct plane_daemon *d)
{
    plane_device_stop(d->owner);
}

static void
dev_on_reload(struct plane_daemon *d, const struct plane_config *nc)
{
    struct plane_device *dev = d->owner;
    if (dev->timer_inited && !dev->closing
        && nc->timers.popularity_interval_ms != dev->cfg->timers.popularity_interval_ms) {
        uint64_t ms = nc->timers.popularity_interval_ms;
        uv_timer_start(&dev->pop_timer, dev_pop_timer_cb, ms, ms);
        /* The trackers decay once per interval too: the counts they report
         * stay comparable with the switch's estimates. */
        for (size_t i = 0; i < dev->n_apps; i++) {
            if (dev->apps[i].pop_inited) {
                dev->apps[i].pop.p.epoch_ns = ms * PLANE_NS_PER_MS;
            }
        }
        PLANE_INFO("popularity interval now %llu ms", (unsigned long long) ms);
    }
    if (dev->hb_timer_inited && !dev->closing
        && nc->timers.heartbeat_ms != dev->cfg->timers.heartbeat_ms) {
        uint64_t ms = nc->timers.heartbeat_ms;
        uv_timer_start(&dev->hb_timer, dev_peer_hb_timer_cb, ms, ms);
        PLANE_INFO("peer heartbeat interval now %llu ms", (unsigned long long) ms);
    }
}

int
plane_device_check_role(const struct plane_daemon *d, enum plane_device_role role)
{
    const struct plane_config_device *self = plane_config_find_device_by_id(d->cfg, d->self_id);
    if (!self || !d->opts.id) {
        fprintf(stderr, "%s: --id must name a device\n", d->opts.prog);
        return PLANE_ECONFIG;
    }
    if (self->role != role) {
        fprintf(stderr, "%s: %s is a %s: run it with %s\n", d->opts.prog, self->name,
                self->role == PLANE_ROLE_NIC ? "nic" : "server",
                self->role == PLANE_ROLE_NIC ? "nicd" : "serverd");
        return PLANE_ECONFIG;
    }
    return 0;
}

static int
dev_load_apps(struct plane_device *dev)
{
    const struct plane_config *cfg = dev->cfg;
    dev->n_apps = cfg->n_apps;
    dev->apps = plane_calloc(cfg->n_apps ? cfg->n_apps : 1, sizeof *dev->apps);
    if (!dev->apps) {
        return PLANE_ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_apps; i++) {
        struct dev_app *a = &dev->apps[i];
        a->cfg = &cfg->apps[i];
        char err[512];
        a->app = plane_app_load(a->cfg->module, err, sizeof err);
        if (!a->app) {
            PLANE_ERR("app %s: %s", a->cfg->name, err);
            PLANE_CTR_INC(&dev->stats, apps_failed);
            continue;
        }
        if (plane_app_check_features(a->app, dev->self->features)) {
            PLANE_WARN("app %s not loaded here: this device lacks features it needs",
                       a->cfg->name);
            PLANE_CTR_INC(&dev->stats, apps_skipped);
            plane_app_delete(a->app);
            a->app = NULL;
            continue;
        }
        a->inst = plane_app_inst_new(a->app, a->cfg, dev->self->id, true, &dev->hasher);
        if (!a->inst) {
            PLANE_ERR("app %s: instance creation failed", a->cfg->name);
            PLANE_CTR_INC(&dev->stats, apps_failed);
            plane_app_delete(a->app);
            a->app = NULL;
            continue;
        }
        /* Register merges go to the other copy with their packet. */
        plane_app_inst_log_merges(a->inst, true);
        struct plane_pop_params pp;
        plane_pop_params_default(&pp);
        pp.seed = cfg->rack.hash_seed;
        pp.epoch_ns = (uint64_t) cfg->timers.popularity_interval_ms * PLANE_NS_PER_MS;
        pp.hot_threshold = cfg->timers.popularity_threshold;
        int rc = plane_pop_tracker_init(&a->pop, &pp);
        if (rc) {
            return rc;
        }
        a->pop_inited = true;
        /* The same key -> logical mapping as the switch's for this app. */
        rc = plane_placement_set_init(&a->lset, &dev->pl, cfg, a->cfg, a->app->desc->features);
        if (rc) {
            return rc;
        }
        a->seen = plane_object_new(&seen_desc, DEV_SEEN_IDS, &dev->hasher);
        a->seen_ring = plane_calloc(DEV_SEEN_IDS, sizeof *a->seen_ring);
        if (!a->seen || !a->seen_ring) {
            return PLANE_ENOMEM;
        }
        PLANE_INFO("app %s (id %u) loaded from %s", a->cfg->name, a->cfg->id, a->cfg->module);
        PLANE_CTR_INC(&dev->stats, apps_loaded);
    }
    return 0;
}

struct plane_device *
plane_device_new(struct plane_daemon *d)
{
    const struct plane_config_device *self = plane_config_find_device_by_id(d->cfg, d->self_id);
    if (!self) {
        PLANE_ERR("device id %u is not in the config", d->self_id);
        return NULL;
    }
    struct plane_device *dev = plane_calloc(1, sizeof *dev);
    if (!dev) {
        return NULL;
    }
    dev->d = d;
    dev->cfg = d->cfg;
    dev->self = self;
    dev->sw_id = d->cfg->sw.id;
    plane_rate_init(&dev->rate, self->rate_pps, DEV_RATE_BURST_NS);
    int rc = plane_hasher_init(&dev->hasher, &d->cfg->rack.hash_seed, sizeof(uint64_t));
    if (!rc) {
        rc = plane_placement_init_config(&dev->pl, d->cfg, 0);
        dev->pl_inited = rc == 0;
    }
    if (!rc) {
        rc = plane_pool_init(&dev->held, DEV_HELD_PACKETS, sizeof(struct held));
    }
    if (!rc) {
        rc = plane_mp_zone_init(&dev->zone, 0);
    }
    dev->latency_ns = (uint64_t) self->latency_us * PLANE_NS_PER_US;
    if (!rc && dev->latency_ns) {
        dev->lat_cap = DEV_HELD_PACKETS + 1;
        dev->lat_q = plane_calloc(dev->lat_cap, sizeof *dev->lat_q);
        rc = dev->lat_q ? 0 : PLANE_ENOMEM;
    }
    if (!rc) {
        dev->peers = plane_calloc(d->cfg->n_devices ? d->cfg->n_devices : 1,
                                  sizeof *dev->peers);
        rc = dev->peers ? 0 : PLANE_ENOMEM;
    }
    if (!rc) {
        dev_peers_init(dev);
        dev->rs_cap = 2 * dev->pl.n_logical + 2;
        dev->rs_jobs = plane_calloc(dev->rs_cap, sizeof *dev->rs_jobs);
        rc = dev->rs_jobs ? 0 : PLANE_ENOMEM;
    }
    if (!rc) {
        rc = plane_device__repl_init(dev);
    }
    if (!rc) {
        rc = dev_load_apps(dev);
    }
    if (rc) {
        PLANE_ERR("device %s: %s", self->name, plane_strerror(rc));
        plane_device_delete(dev);
        return NULL;
    }
    d->owner = dev;
    d->on_stop = dev_on_stop;
    d->on_reload = dev_on_reload;
    return dev;
}

int
plane_device_start(struct plane_device *dev)
{
    struct plane_daemon *d = dev->d;
    const struct plane_config *cfg = dev->cfg;
    /* planectl talks from addresses outside the peer table (authenticated
     * as device 0xfffe), so unknown sources are let through to the MAC
     * check; DATA from them is dropped by dev_on_data. */
    struct plane_udp_opts uo = { .accept_any = true };
    dev->udp = plane_udp_new(&d->loop, &uo);
    if (!dev->udp) {
        return PLANE_ENOMEM;
    }
    int rc = plane_udp_bind(dev->udp, (const struct sockaddr *) &dev->self->address.sa);
    if (rc) {
        PLANE_ERR("bind %s: %s", dev->self->address.text, plane_strerror(rc));
        return rc;
    }
    if (d->fault) {
        plane_udp_set_fault(dev->udp, d->fault);
    }
    struct plane_rpc_opts ro = {
        .timeout_ns = (uint64_t) cfg->timers.rpc_timeout_ms * PLANE_NS_PER_MS,
        .retries = cfg->timers.rpc_retries,
    };
    dev->rpc = plane_rpc_new(&d->loop, dev->udp, dev->self->id, d->incarnation, d->auth, &ro);
    if (!dev->rpc) {
        return PLANE_ENOMEM;
    }
    plane_udp_set_data_handler(dev->udp, dev_on_data, dev);
    rc = plane_rpc_peer_add(dev->rpc, dev->sw_id, (const struct sockaddr *) &cfg->sw.control.sa);
    for (size_t i = 0; !rc && i < cfg->n_devices; i++) {
        if (cfg->devices[i].id != dev->self->id) {
            rc = plane_rpc_peer_add(dev->rpc, cfg->devices[i].id,
                                    (const struct sockaddr *) &cfg->devices[i].address.sa);
        }
    }
    for (int t = 0; !rc && t < PLANE_RPC_MAX_TYPE; t++) {
        if (plane_device__handles((uint16_t) t)) {
            rc = plane_rpc_set_handler(dev->rpc, (uint16_t) t, plane_device__on_request, dev);
        }
    }
    if (rc) {
        return rc;
    }
    if (dev->latency_ns) {
        uv_timer_init(&d->loop, &dev->lat_timer);
        dev->lat_timer.data = dev;
        dev->lat_timer_inited = true;
    }
    uv_timer_init(&d->loop, &dev->hb_timer);
    dev->hb_timer.data = dev;
    dev->hb_timer_inited = true;
    uv_timer_start(&dev->hb_timer, dev_peer_hb_timer_cb, cfg->timers.heartbeat_ms,
                   cfg->timers.heartbeat_ms);
    uv_timer_init(&d->loop, &dev->pop_timer);
    dev->pop_timer.data = dev;
    dev->timer_inited = true;
    uint64_t ms = cfg->timers.popularity_interval_ms;
    uv_timer_start(&dev->pop_timer, dev_pop_timer_cb, ms, ms);
    dev->started = true;
    plane_device__say_hello(dev, dev->sw_id);
    /* A restarted device has lost its tables: re-learn them.  On a fresh
     * rack the scans come back empty (or fail fast on peers not up yet). */
    plane_device__resync_all(dev);
    PLANE_INFO("%s %s (id %u) serving on %s, %zu/%zu apps, rate cap %llu pps",
               dev->self->role == PLANE_ROLE_NIC ? "nic" : "server", dev->self->name,
               dev->self->id, dev->self->address.text, (size_t) dev->stats.apps_loaded,
               dev->n_apps, (unsigned long long) dev->self->rate_pps);
    return 0;
}

static void
dev_rpc_closed(void *arg, struct plane_rpc *rpc)
{
    (void) rpc;
    struct plane_device *dev = arg;
    dev->rpc = NULL;
    plane_udp_close(dev->udp, NULL, NULL);
    dev->udp = NULL;
}

void
plane_device_stop(struct plane_device *dev)
{
    if (!dev || dev->closing) {
        return;
    }
    dev->closing = true;
    if (dev->timer_inited) {
        uv_close((uv_handle_t *) &dev->pop_timer, NULL);
    }
    if (dev->hb_timer_inited) {
        uv_close((uv_handle_t *) &dev->hb_timer, NULL);
    }
    if (dev->lat_timer_inited) {
        uv_close((uv_handle_t *) &dev->lat_timer, NULL);
        while (dev->lat_head != dev->lat_tail) {       /* not sent: closing */
            dev_send_reply(dev->lat_q[dev->lat_head]);
            dev->lat_head = (dev->lat_head + 1) % dev->lat_cap;
        }
    }
    if (dev->rpc) {
        /* Cancels replications in flight: their packets are released
         * (not sent: closing) back to the pool. */
        plane_rpc_close(dev->rpc, dev_rpc_closed, dev);
    } else if (dev->udp) {
        plane_udp_close(dev->udp, NULL, NULL);
        dev->udp = NULL;
    }
}

void
plane_device_delete(struct plane_device *dev)
{
    if (!dev) {
        return;
    }
    for (size_t i = 0; i < dev->n_apps; i++) {
        struct dev_app *a = &dev->apps[i];
        plane_object_delete(a->seen);
        plane_free(a->seen_ring);
        plane_placement_set_uninit(&a->lset);
        if (a->pop_inited) {
            plane_pop_tracker_uninit(&a->pop);
        }
        plane_app_inst_delete(a->inst);
        plane_app_delete(a->app);
    }
    plane_device__repl_uninit(dev);
    plane_free(dev->apps);
    plane_free(dev->rs_jobs);
    plane_free(dev->lat_q);
    plane_free(dev->peers);
    plane_mp_zone_uninit(&dev->zone);
    plane_pool_uninit(&dev->held);
    if (dev->pl_inited) {
        plane_placement_uninit(&dev->pl);
    }
    plane_hasher_uninit(&dev->hasher);
    if (dev->d && dev->d->owner == dev) {
        dev->d->owner = NULL;
        dev->d->on_stop = NULL;
        dev->d->on_reload = NULL;
    }
    plane_free(dev);
}

const struct plane_device_stats *
plane_device_stats(const struct plane_device *dev)
{
    return &dev->stats;
}

int
plane_device_main(const char *prog, enum plane_device_role role, int argc,
                  char **argv)
{
    struct plane_daemon_opts opts;
    int rc = plane_daemon_parse_args(&opts, prog, true, argc, argv);
    if (rc) {
        return plane_daemon_exit_code(rc);
    }
    struct plane_daemon d;
    struct plane_device *dev = NULL;
    rc = plane_daemon_init(&d, &opts);
    if (rc == 0) {
        rc = plane_device_check_role(&d, role);
    }
    if (rc == 0) {
        dev = plane_device_new(&d);
        rc = dev ? plane_device_start(dev) : PLANE_ECONFIG;
        if (rc == 0) {
            rc = plane_daemon_run(&d);
        } else {
            /* Close whatever start opened before freeing the device. */
            plane_daemon_stop(&d);
            uv_run(&d.loop, UV_RUN_DEFAULT);
            rc = rc == PLANE_EINVAL ? PLANE_ECONFIG : rc;
        }
    }
    plane_device_delete(dev);
    plane_daemon_uninit(&d);
    return plane_daemon_exit_code(rc);
}
