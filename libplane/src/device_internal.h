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
#include "common/wire.h"
#include "ctx.h"
#include "device.h"
#include "object.h"
#include "placement.h"
#include "popularity.h"

struct plane_daemon;
struct plane_rpc;
struct plane_rpc_req;
struct plane_sync;
struct plane_udp;

/* Packets held at once while their new entries replicate. */
#define DEV_HELD_PACKETS 1024
/* DEMOTE hand-backs remembered per app, so a retried collect merges once. */
#define DEV_DEMOTE_RING 256
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

/* A register entry tracked by an app's sync responder. */
struct dev_sync_ent {
    struct dev_sync_ent *next;
    struct plane_object *obj;
    uint8_t key[PLANE_OBJECT_KEY_LEN];
};

/* Another device whose liveness this one follows (it holds the other copy). */
struct dev_peer {
    struct plane_device *dev;
    uint16_t id;
    bool watched;             /* the other copy of one of our logicals */
    bool up;
    bool awaiting;            /* the last heartbeat is unanswered */
    uint32_t misses;
};

/* One logical device's tables to re-learn from peer. */
struct dev_rs_job {
    uint16_t logical;
    uint16_t peer;
};

/* One app of the config on this device. */
struct dev_app {
    const struct plane_config_app *cfg;
    struct plane_app *app;            /* NULL: not loaded here */
    struct plane_app_inst *inst;
    struct plane_pop_tracker pop;
    bool pop_inited;
    struct plane_sync *sync;
    struct plane_object *tracked;     /* set of entries the sync engine tracks */
    struct dev_sync_ent *sync_ents;
    uint64_t demoted[DEV_DEMOTE_RING];
    uint32_t demoted_pos;
};

/* A packet held while the other copy acknowledges its new entries. */
struct held {
    struct plane_device *dev;
    struct plane_wire_data hdr;       /* as received; frame unused */
    uint32_t flags;                   /* the reply's */
    uint16_t egress;
    int pending;                      /* replication RPCs in flight */
    uint64_t processed_ns;
    uint64_t due_ns;                  /* latency_us emulation: when to send */
    /*
     * While a new flow's entries replicate, later packets of the same
     * union key are processed but wait behind it (so they leave in order,
     * and none leaves with state the replica may not have).
     */
    struct held *repl_prev, *repl_next;   /* dev->repl_list: pending > 0 */
    struct held *wait_head, *wait_tail;   /* packets waiting behind this one */
    struct held *wait_next;
    struct plane_flow_key ukey;
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
    struct held *repl_list;           /* packets whose replication is in flight */
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
    uint64_t tb_ns;                   /* rate cap: virtual time of the bucket */
    uint64_t cost_ns;                 /* ns per packet at rate_pps (0: no cap) */
    struct plane_run_result res;
    uint8_t tx[PLANE_WIRE_MAX_DATAGRAM];
    struct plane_device_stats stats;
};

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
