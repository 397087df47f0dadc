/* Internals of the device runtime shared by device.c (data path) and device_ctl.c (control). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include <plane/app.h>
#include <plane/flow.h>

#include "common/hash.h"
#include "common/mp.h"
#include "common/pool.h"
#include "common/rate.h"
#include "common/wire.h"
#include "ctx.h"
#include "device.h"
#include "object.h"
#include "placement.h"
#include "popularity.h"

struct plane_daemon;
struct plane_rpc;
struct plane_rpc_req;
struct plane_udp;

/* Packets held at once while their new entries replicate. */
#define DEV_HELD_PACKETS 1024
/* Update ids (DEMOTE, SYNC hand-backs) remembered per app: merged once. */
#define DEV_SEEN_IDS 8192
/* Object id of the stream entry carrying a merged update id (key: the id). */
#define PLANE_ENTRY_SEEN 0xfffdu
/* Keys per POP_REPORT (about 50 bytes each: one datagram). */
#define DEV_POP_MAX 64
/* Bytes of entries an ENTRY_READ scan puts in one response. */
#define DEV_SCAN_BUDGET 7000
#define DEV_SCAN_MAX_ENTRIES 256
/* Object id of the scan marker entry of ENTRY_READ (docs/runtime.md). */
#define PLANE_ENTRY_SCAN 0xffffu
/* A rate-capped device may run this far ahead of its rate (a burst). */
#define DEV_RATE_BURST_NS (20 * PLANE_NS_PER_MS)
/* Counters a STATS answer carries at most (one datagram). */
#define DEV_STATS_MAX 200

/* Another device whose liveness this one follows (it holds the other copy). */
struct dev_peer {
    struct plane_device *dev;
    uint16_t id;
    bool watched;             /* the other copy of one of our logicals */
    bool up;
    bool awaiting;            /* the last heartbeat is unanswered */
    bool told_down;           /* its heartbeats said it stopped replicating to us */
    uint32_t misses;
};

/* One logical device's tables to re-learn from peer. */
struct dev_rs_job {
    uint16_t logical;
    uint16_t peer;
    bool gap;                 /* after a replication gap: only while peer serves it */
};

/* One app of the config on this device. */
struct dev_app {
    const struct plane_config_app *cfg;
    struct plane_app *app;            /* NULL: not loaded here */
    struct plane_app_inst *inst;
    struct plane_pop_tracker pop;
    bool pop_inited;
    struct plane_placement_set lset;  /* logicals the app's keys map to */
    struct plane_object *seen;        /* update ids merged (set) ... */
    uint64_t *seen_ring;              /* ... and their order, to forget the oldest */
    uint32_t seen_pos;
};

/* One change to apply on the other copy of a shard (an ENTRY_UPDATE entry). */
struct dev_repl_ent {
    uint16_t obj;
    uint8_t flags;                    /* PLANE_ENTRY_F_MERGE, _DELETE, or 0: set */
    uint8_t key_len;
    uint8_t value_len;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    uint8_t value[PLANE_OBJ_MAX_VALUE];
};

/*
 * An item of a replication stream (device_repl.c): the changes one packet
 * made, released once the other copy applied them, or a control change (a
 * DEMOTE hand-back, a pushed scan page) whose request is answered then.
 */
struct dev_repl_item {
    struct dev_repl_item *next;
    uint16_t app_id;
    uint32_t n_ents;
    struct dev_repl_ent *ents;
    struct held *h;                   /* the packet, or NULL for a control item */
    struct plane_rpc *rpc;            /* control item: answer token on rpc */
    uint64_t token;
    uint8_t *resp;                    /* control item: the answer's body (owned) */
    size_t resp_len;
};

/* The ordered stream of changes to one other device (see device_repl.c). */
struct dev_repl_stream {
    struct plane_device *dev;
    uint16_t peer;
    struct dev_repl_item *head, *tail;
    uint32_t n_inflight;              /* items at head the message in flight carries */
    bool inflight;
    bool down;                        /* the peer missed its heartbeats */
    uint64_t call_id;                 /* the RPC in flight */
};

/* A packet held while the other copy applies the changes it made. */
struct held {
    struct plane_device *dev;
    struct plane_wire_data hdr;       /* as received; frame unused */
    uint32_t flags;                   /* the reply's */
    uint16_t egress;
    uint64_t rx_ns;                   /* when it arrived */
    uint64_t processed_ns;
    uint64_t due_ns;                  /* latency_us emulation: when to send */
    struct dev_repl_item item;
    struct dev_repl_ent ents[PLANE_RUN_MAX_UPDATES];
    size_t frame_len;
    uint8_t frame[PLANE_WIRE_MAX_DATAGRAM];
};

struct plane_device {
    struct plane_daemon *d;
    const struct plane_config *cfg;
    const struct plane_config_device *self;
    uint16_t sw_id;
    struct plane_hasher hasher;
    struct plane_placement pl;
    bool pl_inited;
    struct dev_app *apps;
    size_t n_apps;
    struct plane_udp *udp;
    struct plane_rpc *rpc;
    struct plane_pool held;
    struct plane_mp_zone zone;
    uv_timer_t pop_timer;
    bool timer_inited;
    bool started;
    bool closing;
    /* Resync (see dev_resync_next): jobs of (logical, peer) to scan. */
    struct dev_rs_job *rs_jobs;
    uint32_t rs_cap, rs_head, rs_tail;
    bool rs_active;                   /* a scan RPC is in flight */
    uint32_t rs_app;                  /* app index of the running job */
    uint8_t rs_cursor[8];
    bool rs_has_cursor;
    struct dev_repl_stream *streams;  /* one per config device, by index */
    struct plane_body_entry *repl_buf; /* entries of the message being built */
    /* Liveness of the other copies (see dev_peer_hb_timer_cb). */
    struct dev_peer *peers;           /* one per config device, by index */
    uv_timer_t hb_timer;
    bool hb_timer_inited;
    uint64_t sw_incarnation;          /* the switch's, from its requests (0: unknown) */
    /* latency_us: replies wait in a FIFO (constant delay keeps it sorted). */
    uint64_t latency_ns;
    struct held **lat_q;
    uint32_t lat_cap, lat_head, lat_tail;
    uv_timer_t lat_timer;
    bool lat_timer_inited;
    struct plane_rate rate;           /* rate_pps cap */
    uint64_t lat_avg_ns;              /* arrival to release, EWMA (STATS, planner) */
    struct plane_run_result res;
    uint8_t tx[PLANE_WIRE_MAX_DATAGRAM];
    struct plane_device_stats stats;
};

/* Entries one replication message carries at most. */
#define DEV_REPL_MAX_ENTRIES (DEV_SCAN_MAX_ENTRIES + 2 * PLANE_RUN_MAX_UPDATES)

/*
 * Fills stream entry r: object obj, flags (PLANE_ENTRY_F_MERGE, _DELETE or
 * 0), the key and the value (klen <= PLANE_OBJ_MAX_KEY, vlen <=
 * PLANE_OBJ_MAX_VALUE: the caller checks).
 */
void plane_device__repl_ent(struct dev_repl_ent *r, uint16_t obj, uint8_t flags,
                            const void *key, size_t klen, const void *value, size_t vlen);

/* device_repl.c: the replication streams. */
int plane_device__repl_init(struct plane_device *dev);
/* Frees items still queued (their packets back to the pool, no answers). */
void plane_device__repl_uninit(struct plane_device *dev);
/* The stream to device peer, or NULL when peer is not a device of the rack. */
struct dev_repl_stream *plane_device__repl_stream(struct plane_device *dev, uint16_t peer);
/* True when items are queued or in flight on s. */
bool plane_device__repl_busy(const struct dev_repl_stream *s);
/* Queues item (a held packet's, filled in) on s and sends when s is idle. */
void plane_device__repl_push(struct plane_device *dev, struct dev_repl_stream *s,
                             struct dev_repl_item *item);
/*
 * Queues a control item on the stream to peer: n entries (copied) of app
 * app_id, and the answer (status 0, body resp copied) to send on rpc for
 * token once the peer applied them (or with the error when it did not).
 * Returns 0, PLANE_EPEER (no stream to peer), PLANE_EMSGSIZE (n above
 * DEV_REPL_MAX_ENTRIES) or PLANE_ENOMEM.
 */
int plane_device__repl_push_ctl(struct plane_device *dev, uint16_t peer, uint16_t app_id,
                                const struct dev_repl_ent *ents, uint32_t n,
                                struct plane_rpc *rpc, uint64_t token,
                                const uint8_t *resp, size_t resp_len);
/*
 * The device that changes to logical ldev's state must reach now: the other
 * copy when it is alive and should have them, else PLANE_DEV_NONE.
 */
uint16_t plane_device__repl_peer(struct plane_device *dev, uint16_t ldev);
/*
 * Marks the stream to peer down (its queued and in-flight items complete at
 * once, unreplicated: holding packets for a dead peer helps nobody) or up.
 */
void plane_device__repl_set_down(struct plane_device *dev, uint16_t peer, bool down);
/* True when update id was merged here (or on the other copy, streamed). */
bool plane_device__seen(const struct dev_app *a, uint64_t id);
/* Remembers update id as merged (forgetting the oldest of DEV_SEEN_IDS). */
void plane_device__remember(struct dev_app *a, uint64_t id);
/* Marks device id alive for replication (it just talked to us). */
void plane_device__peer_alive(struct plane_device *dev, uint16_t id);
/*
 * Marks peer id down as missed heartbeats do (its replication stream
 * releases what it holds; heartbeats to it say DOWN until it answers, so
 * it re-learns what it missed: plane_device__peer_told()).
 */
void plane_device__peer_lost(struct plane_device *dev, uint16_t id, const char *why);
/* The peer of device id, or NULL (the switch, an unknown id). */
struct dev_peer *plane_device__peer(struct plane_device *dev, uint16_t id);
/* Sends the packet's reply (now, or after latency_us) and frees its buffer. */
void plane_device__release(struct held *h);

/* The app of the config with id app_id, or NULL. */
struct dev_app *plane_device__find_app(struct plane_device *dev, uint16_t app_id);

/* device_ctl.c: the RPC handler of every control message type it handles. */
void plane_device__on_request(void *arg, struct plane_rpc *rpc,
                              const struct plane_rpc_req *req);
/* True when plane_device__on_request() handles msg_type. */
bool plane_device__handles(uint16_t msg_type);
/* Queues re-learning of every logical device this device holds a copy of. */
void plane_device__resync_all(struct plane_device *dev);
/* Sends HELLO to peer (the answer is only logged). */
void plane_device__say_hello(struct plane_device *dev, uint16_t peer);
