/* The two-phase state update engine: promotes flows to the switch and demotes them without breaking Invariant 1. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/counters.h"

struct plane_flow_key;
struct plane_flowmgr;

/*
 * ExoPlane section 4.2.  Moving a flow's state between the external device
 * and the switch cannot be atomic, so the order of the steps carries the
 * correctness property:
 *
 *   Invariant 1: if the flow manager holds a key, every app object holds
 *   that key's entries.
 *
 *   promote(key):  install the entries in every object, THEN insert the key
 *                  in the flow manager.
 *   demote(key):   remove the key from the flow manager, wait T_flush so the
 *                  packets that already passed the lookup drain from the
 *                  switch pipeline, hand back the data-plane deltas (so no
 *                  count is lost), THEN remove the entries.
 *
 * The engine is I/O-agnostic: the owner (switchd) supplies struct
 * plane_update_ops, whose install and collect steps may complete later
 * (state pulled from an external device over RPC).  The owner reports their
 * completion with plane_update_done() and the ticket the op was given.  The
 * engine inserts and removes flow-manager entries itself and never blocks;
 * time comes from the caller (`now`), and plane_update_tick() /
 * plane_update_next_deadline() let a daemon drive T_flush from a uv_timer
 * and a test drive it from a fake clock.
 *
 * Capacity.  The flow manager's capacity is also the number of flows whose
 * entries may sit in the app objects at once (the planner sizes objects and
 * flow manager together).  A flow occupies one of these "residency slots"
 * from the start of its install until its entries are removed, so a
 * promotion into a full switch first demotes a victim (the least popular
 * sampled key, plane_flowmgr_victim()) and waits, in state WAIT_SLOT, until some
 * demotion has removed its entries (the paper's Fig. 9: evict, then insert).
 * The objects therefore never need room for more than `capacity` flows.
 *
 * One update per key at a time.  A promote of a key that is being demoted is
 * refused (PLANE_EBUSY) rather than queued: the entries are on their way
 * out and their deltas on their way back, and the popularity tracker will
 * report the key again if it stays hot.  Likewise a demote of a key being
 * promoted is refused.
 *
 * Per-update state machine:
 *
 *   promote()                     demote() / victim / plane_update_age()
 *      |                                    |  fm remove (phase 1)
 *      |  slot free?                        v
 *      +--no--> WAIT_SLOT              FLUSHING
 *      |           | a demote freed      |  now >= start + T_flush (tick)
 *      |           v a slot              v
 *      +-yes--> INSTALLING  <-+      COLLECTING --done(err)--> COLLECT_WAIT
 *                  |          |          |                       | retry_ns later
 *        done(0)   | done(err)|          | done(0)               | (tick; at most
 *      fm insert   | remove   |          v                       |  max_retries)
 *      (phase 2)   | entries  |      remove entries (phase 2) <--+ (retries out:
 *                  v          |          |                        deltas lost)
 *              [promoted]  [aborted]   [demoted]
 *
 *   plane_update_cancel_all() ends every update: WAIT_SLOT ones are dropped;
 *   INSTALLING, FLUSHING, COLLECTING and COLLECT_WAIT ones have their entries
 *   removed (no flow-manager entry exists for any of them, so Invariant 1
 *   holds; deltas still pending are lost and counted).  Completions that
 *   arrive afterwards carry stale tickets and are ignored.
 *
 * Ops may call plane_update_done() from inside install_entries or
 * collect_deltas (synchronous completion).  They must not call
 * plane_update_delete() from inside an op.
 */
struct plane_update;

enum plane_update_kind {
    PLANE_UPDATE_PROMOTE = 1,
    PLANE_UPDATE_DEMOTE = 2,
};

struct plane_update_ops {
    /*
     * Installs key's entries in every app object (pulling the flow's current
     * state from the external device).  Must eventually call
     * plane_update_done(eng, ticket, status), possibly before returning.
     * On failure the engine calls remove_entries (partial installs are
     * cleaned up).  Required.
     */
    void (*install_entries)(void *arg, const struct plane_flow_key *key,
                            uint64_t ticket);
    /* Removes key's entries from every app object; synchronous.  Required. */
    void (*remove_entries)(void *arg, const struct plane_flow_key *key);
    /*
     * Reads the switch-side values of key's data-plane-updatable entries and
     * hands the deltas back (to the external device), then calls
     * plane_update_done(eng, ticket, status).  On failure the engine retries
     * after retry_ns.  Required.
     */
    void (*collect_deltas)(void *arg, const struct plane_flow_key *key,
                           uint64_t ticket);
    /*
     * Optional: told when an update leaves the engine.  status is 0 for a
     * completed promotion or demotion, else why it was aborted (the install
     * error, PLANE_ECANCELED, or the last collect error of a demotion whose
     * deltas were lost).  May start new updates.
     */
    void (*finished)(void *arg, const struct plane_flow_key *key,
                     enum plane_update_kind kind, int status);
};

struct plane_update_config {
    uint64_t t_flush_ns;        /* T_flush: > the switch pipeline's latency */
    uint32_t max_in_flight;     /* concurrent updates (0: 256) */
    uint64_t retry_ns;          /* delay between collect attempts (0: T_flush) */
    uint32_t max_retries;       /* collect retries before giving up (0: none) */
};

#define PLANE_UPDATE_COUNTERS(X)                                               \
    X(promotions)       /* flows installed and inserted in the flow manager */ \
    X(demotions)        /* flows whose deltas came back and entries left */    \
    X(evictions)        /* demotions started to make room for a promotion */  \
    X(aborts)           /* promotions that ended without an fm entry */        \
    X(in_flight)        /* gauge: updates in the engine now */                 \
    X(refused)          /* promote/demote calls refused (busy, full) */        \
    X(collect_retries)  /* failed collects retried */                          \
    X(deltas_lost)      /* demotions that removed entries without deltas */    \
    X(stale_done)       /* plane_update_done() with an unknown ticket */

struct plane_update_stats {
    PLANE_COUNTERS_FIELDS(PLANE_UPDATE_COUNTERS)
};

extern const char *const plane_update_counter_names[];
extern const size_t plane_update_n_counters;

/*
 * Creates an engine that updates fm (borrowed: it must outlive the engine,
 * and while the engine runs only the engine inserts or removes its keys;
 * lookups are the packet path's).  ops is copied; arg is passed to every op.
 * Returns NULL on a bad config (t_flush_ns 0, missing op) or out of memory.
 */
struct plane_update *plane_update_new(const struct plane_update_config *cfg,
                                      struct plane_flowmgr *fm,
                                      const struct plane_update_ops *ops,
                                      void *arg);

/*
 * Cancels every update in flight (plane_update_cancel_all(), so ops and arg
 * must still be valid) and frees eng.  NULL is a no-op.
 */
void plane_update_delete(struct plane_update *eng);

/*
 * Starts promoting key.  Returns 0 when the promotion started (it may
 * already have completed when install_entries completed synchronously, or
 * be waiting for a residency slot while a victim drains), or:
 *   PLANE_EEXIST    key is already in the flow manager;
 *   PLANE_EALREADY  key is already being promoted;
 *   PLANE_EBUSY     key is being demoted (see above);
 *   PLANE_EAGAIN    max_in_flight updates are in flight;
 *   PLANE_ENOSPC    the switch is full and no victim can be demoted.
 */
int plane_update_promote(struct plane_update *eng, const struct plane_flow_key *key,
                         uint64_t now_ns);

/*
 * plane_update_promote() of a key whose popularity estimate is `estimate`
 * (the count the device reported, in the flow manager's units; saturated at
 * PLANE_FLOWMGR_EST_MAX): once inserted, the key starts with that decayed
 * estimate (plane_flowmgr_set_estimate()), so it is not the next victim for
 * having no hits yet.  plane_update_promote() is this with estimate 0.
 * Same returns.
 */
int plane_update_promote_est(struct plane_update *eng, const struct plane_flow_key *key,
                             uint64_t estimate, uint64_t now_ns);

/*
 * Starts demoting key: removes it from the flow manager now; its entries go
 * after T_flush and the deltas.  Returns 0, or PLANE_ENOENT (not in the flow
 * manager), PLANE_EALREADY (being demoted), PLANE_EBUSY (being promoted),
 * PLANE_EAGAIN (max_in_flight reached; the key stays resident).
 */
int plane_update_demote(struct plane_update *eng, const struct plane_flow_key *key,
                        uint64_t now_ns);

/*
 * Reports the completion of the op that was given `ticket`.  status is 0 or
 * a negative PLANE_E* code; now_ns becomes a promoted key's first last-hit
 * time and the base of a collect retry's deadline.  Returns 0, or
 * PLANE_ENOENT for a stale or unknown ticket (the update was cancelled or
 * the op already completed; the completion is ignored).
 */
int plane_update_done(struct plane_update *eng, uint64_t ticket, int status,
                      uint64_t now_ns);

/*
 * Advances timers to now_ns: flushes that reached T_flush start collecting,
 * collects due for a retry are retried.  Call it whenever now_ns reaches
 * plane_update_next_deadline().
 */
void plane_update_tick(struct plane_update *eng, uint64_t now_ns);

/* Returns the earliest time plane_update_tick() has work, or UINT64_MAX. */
uint64_t plane_update_next_deadline(const struct plane_update *eng);

/*
 * Demotes keys idle for more than idle_ns (the switch's T_idle aging),
 * scanning at most max_buckets flow-manager buckets (plane_flowmgr_age()).
 * Returns the number of demotions started.
 */
size_t plane_update_age(struct plane_update *eng, uint64_t now_ns,
                        uint64_t idle_ns, uint32_t max_buckets);

/* Ends every update in flight (see the state machine above). */
void plane_update_cancel_all(struct plane_update *eng);

/* Returns true when key has an update in flight. */
bool plane_update_busy(const struct plane_update *eng, const struct plane_flow_key *key);

/* Returns the number of updates in flight. */
uint32_t plane_update_in_flight(const struct plane_update *eng);

/* Returns eng's counters (valid until plane_update_delete()). */
const struct plane_update_stats *plane_update_stats(const struct plane_update *eng);
