/* The external-device runtime shared by nicd and serverd (one runtime, two profiles). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/counters.h"

struct plane_daemon;
struct plane_device;

/*
 * Counters of the device runtime (the transport, RPC, app instances and
 * popularity trackers have their own; STATS reports them all by name).
 */
#define PLANE_DEVICE_COUNTERS(X)                                               \
    X(data_rx)            /* DATA datagrams from the switch */                 \
    X(data_bad_peer)      /* DATA from anyone but the switch: dropped */       \
    X(data_malformed)     /* DATA header did not decode: dropped */            \
    X(data_processed_in)  /* DATA already PROCESSED sent to us: dropped */     \
    X(data_no_app)        /* unknown app, or not loaded here: replied DROP */  \
    X(rate_limited)       /* over rate_pps: dropped */                         \
    X(hold_full)          /* no pool buffer to hold the packet: dropped */     \
    X(processed)          /* packets run through an app */                     \
    X(new_flows)          /* packets whose new_flow() inserted entries */      \
    X(replicated)         /* replication messages applied by the other copy */ \
    X(replica_unacked)    /* replication messages that failed: released anyway */ \
    X(replica_none)       /* changing packets with no other copy to send to */  \
    X(replica_down)       /* changing packets not replicated: other copy down */ \
    X(repl_incomplete)    /* packets with more changes than one item holds */  \
    X(peer_down)          /* copy partners that stopped answering heartbeats */ \
    X(peer_up)            /* ... and answered again */                         \
    X(peer_gaps)          /* a peer said it replicates to us again after a gap */ \
    X(not_owner)          /* packets of a logical device we do not hold */     \
    X(waited)             /* packets queued behind earlier replication */       \
    X(replies)            /* processed DATA sent back to the switch */         \
    X(reply_errors)       /* reply could not be encoded or sent */             \
    X(apps_loaded)                                                             \
    X(apps_skipped)       /* apps needing features this device lacks */       \
    X(apps_failed)        /* apps whose module failed to load */               \
    X(ctl_bad_body)       /* control requests whose body did not decode */     \
    X(entries_applied)    /* entries inserted/updated/deleted by the peer */   \
    X(entries_rejected)   /* entries naming a bad object, key or value */      \
    X(entries_read)       /* entries returned by ENTRY_READ */                 \
    X(deltas_merged)      /* DEMOTE hand-back entries merged */                \
    X(demote_dups)        /* DEMOTE hand-backs already merged (retries) */     \
    X(pop_reports)        /* POP_REPORT messages sent */                       \
    X(pop_keys)           /* keys reported */                                  \
    X(pop_errors)         /* POP_REPORT calls that failed */                   \
    X(devmap_updates)     /* DEVMAP_UPDATE adopted */                          \
    X(sync_requests)      /* SYNC requests answered */                         \
    X(sync_merged)        /* SYNC items merged */                              \
    X(sync_dups)          /* SYNC items whose update id was merged already */  \
    X(resync_jobs)        /* logical devices queued for re-learning */          \
    X(resync_entries)     /* table entries re-learned from the other copy */   \
    X(resync_failed)      /* re-learning jobs dropped (peer down) */           \
    X(hello_rx)                                                                \
    X(heartbeats)

struct plane_device_stats {
    PLANE_COUNTERS_FIELDS(PLANE_DEVICE_COUNTERS)
};
extern const char *const plane_device_counter_names[];
#define PLANE_DEVICE_N_COUNTERS (sizeof(struct plane_device_stats) / sizeof(uint64_t))

/*
 * Creates the runtime of the device d->self_id of d->cfg on d's loop (d must
 * be initialised and outlive the device): loads every app of the config
 * that the device's features allow, builds the rack's placement, sets
 * d->owner and d->on_stop/on_reload.  Nothing is bound yet.  Returns NULL
 * when self is not a device of the config, on a bad placement or out of
 * memory (logged).
 */
struct plane_device *plane_device_new(struct plane_daemon *d);

/*
 * Binds the device's endpoint at its configured address, registers the
 * peers (the switch's control address as the switch's id, the other
 * devices), installs the RPC handlers, starts the popularity timer and
 * says HELLO to the switch.  Returns 0 or a negative code (the address in
 * use, out of memory).
 */
int plane_device_start(struct plane_device *dev);

/* Stops timers and closes the endpoint (what on_stop does).  Idempotent. */
void plane_device_stop(struct plane_device *dev);

/* Frees dev after the loop has closed its handles.  NULL is a no-op. */
void plane_device_delete(struct plane_device *dev);

/* The device's counters. */
const struct plane_device_stats *plane_device_stats(const struct plane_device *dev);

/*
 * Checks that self has the role a daemon serves (nicd: PLANE_ROLE_NIC,
 * serverd: PLANE_ROLE_SERVER).  Returns 0 or PLANE_ECONFIG with a message
 * on stderr naming the daemon to use instead.
 */
int plane_device_check_role(const struct plane_daemon *d, enum plane_device_role role);

/*
 * The whole main() of nicd and serverd, which are one runtime with two
 * profiles: parses argv, loads the config, checks that the device named by
 * --id has `role`, runs the device until SIGTERM and tears it down.
 * Returns the process exit status (0 clean, 1 config or runtime, 2 usage).
 */
int plane_device_main(const char *prog, enum plane_device_role role, int argc,
                      char **argv);
