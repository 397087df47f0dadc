/* Internals of the switch runtime shared by switch.c (data path, liveness, updates) and switch_sync.c (state sync). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "common/config.h"
#include "common/counters.h"
#include "common/hash.h"
#include "common/mp.h"
#include "common/rate.h"
#include "common/wire.h"
#include "merge.h"
#include "object.h"
#include "placement.h"
#include "switch.h"

struct plane_app;
struct plane_app_inst;
struct plane_daemon;
struct plane_flowmgr;
struct plane_rpc;
struct plane_udp;
struct plane_update;

/* Promotions and demotions in flight per app (the update engine's slots):
 * with the flow manager's capacity, what bounds the switch's copies of an
 * app's register entries. */
#define SW_UPD_IN_FLIGHT 256u

/* Whole-switch counters: every drop has a reason here. */
#define SW_COUNTERS(X)                                                         \
    X(rx_frames)          /* frames received on ports */                       \
    X(rate_limited)       /* dropped: over the switch's rate_pps */            \
    X(parse_error)        /* dropped: frame does not parse */                  \
    X(non_ip)             /* dropped: no IP flow key to classify */            \
    X(no_app)             /* dropped: no app's traffic class matches */        \
    X(egress_frames)      /* frames sent out of a port */                      \
    X(egress_no_peer)     /* dropped: the egress port has no peer */           \
    X(egress_bad_port)    /* dropped: egress port id not configured */         \
    X(egress_errors)      /* dropped: the port endpoint refused the send */    \
    X(device_down)        /* dropped: no device serves the key's shard */      \
    X(to_device)          /* misses sent to a device */                        \
    X(to_device_errors)   /* dropped: the control endpoint refused the send */ \
    X(dev_data)           /* DATA from devices */                              \
    X(dev_data_unknown_peer) /* dropped: DATA from an address not a device */  \
    X(dev_data_bad)       /* dropped: DATA header does not decode */           \
    X(dev_data_unprocessed) /* dropped: DATA from a device without PROCESSED */ \
    X(dev_data_unknown_app) /* dropped: DATA naming no configured app */       \
    X(dev_dropped)        /* DATA with DROP from devices (app verdicts) */     \
    X(hb_sent)                                                                 \
    X(hb_ok)                                                                   \
    X(hb_missed)          /* heartbeat periods without an answer */            \
    X(hb_send_errors)                                                          \
    X(hb_bad)             /* heartbeat answers whose body does not decode */   \
    X(devmap_sent)                                                             \
    X(devmap_errors)                                                           \
    X(hello_sent)                                                              \
    X(hello_rx)                                                                \
    X(pop_reports)                                                             \
    X(pop_bad)            /* POP_REPORTs that do not decode or name no app */  \
    X(stats_requests)                                                          \
    X(stats_too_large)    /* STATS answers that did not fit a datagram */

struct sw_stats {
    PLANE_COUNTERS_FIELDS(SW_COUNTERS)
};

/* Per-app counters of the switch runtime (the app instance, flow manager and
 * update engine have their own). */
#define SW_APP_COUNTERS(X)                                                     \
    X(rx)                 /* frames classified to the app */                   \
    X(hits)               /* flow-manager hits: processed at the switch */     \
    X(misses)             /* flow-manager misses: sent to a device */          \
    X(switch_miss)        /* MISS at the switch for a resident key: demoted */  \
    X(sw_forwarded)                                                            \
    X(sw_dropped)         /* DROP verdicts at the switch */                    \
    X(dev_processed)      /* processed frames from devices sent to egress */   \
    X(dev_dropped)        /* DROP flags from devices */                        \
    X(pop_keys)           /* hot keys reported */                              \
    X(pop_promotes)       /* promotions started for them */                    \
    X(pop_present)        /* already resident or being promoted */             \
    X(pop_refused)        /* engine busy or full: the key is reported again */ \
    X(pop_cold)           /* not admitted: no hotter than the key a full       \
                           * switch would evict (plane_flowmgr_admits()) */    \
    X(pop_bad_keys)       /* keys that are not a union key of the app */       \
    X(pop_not_here)       /* keys of an app the switch lacks features for */   \
    X(install_ok)         /* ENTRY_READs answered and installed */             \
    X(install_errors)     /* ENTRY_READs failed (promotion aborted) */         \
    X(install_bad_entries) /* response entries rejected */                     \
    X(demote_ok)          /* DEMOTE hand-backs acknowledged */                 \
    X(demote_errors)      /* DEMOTE hand-backs failed (retried) */             \
    X(object_full)        /* entries that did not fit a switch object */       \
    X(sync_rounds)        /* T_e rounds with pending or changed entries */     \
    X(sync_items)         /* hand-back items sent */                           \
    X(sync_acked)         /* items answered and folded in */                   \
    X(sync_stale)         /* answers for an item no longer pending */          \
    X(sync_errors)        /* SYNC calls that failed (items re-sent) */         \
    X(collect_waits)      /* demotions waiting for a key's SYNC in flight */

struct sw_app_stats {
    PLANE_COUNTERS_FIELDS(SW_APP_COUNTERS)
};

struct plane_switch;

/* One app at the switch: instance, flow manager, update engine, and what the
 * two-phase updates need to hand deltas back. */
struct sw_app {
    struct plane_switch *sw;
    const struct plane_config_app *cfg;
    struct plane_app *app;
    struct plane_app_inst *inst;
    struct plane_flowmgr *fm;
    struct plane_update *upd;
    struct plane_placement_set lset;  /* logicals its misses may go to */
    bool at_switch;                   /* the switch has its features */
    /*
     * Per table/register object: how many resident union keys use each
     * entry (an entry keyed by fewer fields, say per source address, is
     * shared by several flows), and for registers the value installed from
     * the device, so a demotion hands back "now minus installed".
     */
    struct plane_object *refs[PLANE_APP_MAX_OBJECTS];
    struct plane_object *base[PLANE_APP_MAX_OBJECTS];
    struct plane_merge merge[PLANE_APP_MAX_OBJECTS];
    /*
     * The update_id of each demotion in progress, by union key.  The engine
     * gives every collect attempt a fresh ticket, but a retried DEMOTE must
     * carry the same id so a device that merged the first attempt (whose
     * answer was lost) recognises the retry and does not merge twice.
     */
    struct plane_object *demote_ids;
    /*
     * SYNC (switch_sync.c), per register object keyed by the whole union
     * key: the update id of the hand-back in flight for an entry, and the
     * entry's value when it was sent.
     */
    struct plane_object *sync_pend[PLANE_APP_MAX_OBJECTS];
    struct plane_object *sync_sent[PLANE_APP_MAX_OBJECTS];
    uint32_t sync_calls;              /* SYNC calls in flight */
    bool sync_failed;                 /* a call of the current round failed */
    uint64_t sync_ok_ns;              /* when a round last completed in full */
    struct sw_app_stats stats;
};

/*
 * A device's liveness, from the switch's heartbeats:
 *
 *   UP --heartbeat_misses periods unanswered--> DOWN (device_down, DEVMAP)
 *   DOWN --an answer--> UP + recovering (device_up, DEVMAP at recover_epoch)
 *   recovering --the device acked a DEVMAP of epoch >= recover_epoch, then
 *                answers a heartbeat sent after that ack with state UP (it
 *                answers INIT while re-learning its tables)-->
 *                plane_placement_recovered() for its RECOVERING logicals (DEVMAP)
 */
struct sw_dev {
    const struct plane_config_device *cfg;
    bool up;
    bool awaiting;          /* the last heartbeat is unanswered */
    bool recovering;
    uint32_t misses;        /* consecutive unanswered periods */
    uint64_t downs;
    uint64_t last_echo_ns;
    uint64_t rtt_ns;        /* heartbeat round trip, EWMA */
    uint64_t recover_epoch; /* the devmap epoch that made it RECOVERING */
    uint64_t acked_epoch;   /* the newest devmap epoch it acknowledged */
};

struct sw_port {
    struct plane_switch *sw;
    size_t idx;
    const struct plane_config_port *cfg;
    struct plane_udp *udp;          /* a `listen` port, or */
    struct plane_switch_tap *tap;   /* a `tap` port (switch_tap.h) */
};

struct plane_switch {
    struct plane_daemon *d;
    const struct plane_config *cfg;
    uv_loop_t *loop;
    uint16_t self;
    struct plane_hasher hasher;
    struct plane_placement pl;
    bool pl_inited;

    struct sw_app *apps;
    size_t n_apps;
    struct sw_dev *devs;
    size_t n_devs;
    struct sw_port *ports;
    size_t n_ports;

    struct plane_udp *ctl;
    struct plane_rpc *rpc;
    uv_timer_t hb_timer, age_timer, upd_timer, sync_timer;
    struct plane_rate rate;           /* rate_pps cap on port ingress */
    uint64_t next_update_id;          /* DEMOTE and SYNC hand-backs, rack-unique */
    uint64_t sync_round;
    bool timers_inited;

    bool started, stopping;
    int n_open;             /* handles (endpoints, rpc, timers) not yet closed */

    struct plane_mp_zone zone;   /* decoded control bodies, cleared per message */
    struct sw_bufs {
        uint8_t frame[PLANE_WIRE_MAX_DATAGRAM];
        uint8_t tx[PLANE_WIRE_MAX_DATAGRAM];
        uint8_t body[PLANE_WIRE_MAX_DATAGRAM];
    } *bufs;
    struct sw_stats stats;
};

/* A two-phase update op waiting for a device's answer. */
struct sw_op {
    struct sw_app *a;
    struct plane_flow_key key;
    uint64_t ticket;
    uint16_t dev;
};


/* switch.c: (re)arms the update engine's timer for its next deadline. */
void plane_switch__arm_updates(struct plane_switch *sw);

/* switch_sync.c */
/* Creates app a's SYNC state (after its objects).  0 or PLANE_ENOMEM. */
int plane_switch__sync_init(struct sw_app *a);
/* Frees it. */
void plane_switch__sync_uninit(struct sw_app *a);
/* One T_e round: hands back every resident per-flow register entry's news. */
void plane_switch__sync_round(struct plane_switch *sw);
/* Milliseconds since app a's last complete SYNC round (0: never behind). */
uint64_t plane_switch__sync_lag_ms(const struct sw_app *a, uint64_t now_ns);
/* True when a hand-back of one of key's entries is in flight. */
bool plane_switch__sync_pending(const struct sw_app *a, const struct plane_flow_key *key);
/* Forgets key's SYNC state (the key's entries are being removed). */
void plane_switch__sync_forget(struct sw_app *a, const struct plane_flow_key *key);
/* True when object i of a is synced by SYNC (a register keyed by the union key). */
bool plane_switch__synced_obj(const struct sw_app *a, uint16_t i);
/* The next rack-unique hand-back update id. */
uint64_t plane_switch__update_id(struct plane_switch *sw);
/* Default RPC options of the switch's calls to devices. */
struct plane_rpc_call_opts plane_switch__call_opts(const struct plane_switch *sw);

/* switch_admin.c: the ADMIN handler (operator promote/demote, failure drills). */
struct plane_rpc_req;
void plane_switch__h_admin(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req);
