/* Popularity tracking: hot-key detection on external devices, cold-key policy at the switch. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/counters.h"
#include "sketch.h"

struct plane_body_pop_item;

/*
 * ExoPlane section 6: an external device sees every packet the switch does
 * not serve, so it counts union keys in a count-min sketch and reports keys
 * that became popular; the switch ages out flow-manager entries that went
 * idle.  Both halves take an explicit `now` (nanoseconds of the plane clock)
 * so tests drive time.
 */

/* Longest union key the tracker stores (a full plane_flow_key is 40 bytes). */
#define PLANE_POP_KEY_MAX 64

/* ---- external device side: hot-key tracker -------------------------------- */

struct plane_pop_params {
    double epsilon;             /* CMS error bound (fraction of the stream) */
    double delta;               /* CMS failure probability */
    uint64_t seed;              /* CMS hash seed (the rack's hash seed) */
    uint32_t top_k;             /* heavy-hitter list capacity, >= 1 */
    uint64_t hot_threshold;     /* estimate at which a key counts as hot, >= 1 */
    uint64_t epoch_ns;          /* decay period (popularity_interval_ms), > 0 */
    uint32_t decay_num;         /* counts are multiplied by num/den each epoch */
    uint32_t decay_den;         /* (1/2 halves them); num < den */
    uint32_t rereport_epochs;   /* re-report a still-hot key after this many
                                 * epochs (the switch may have refused it);
                                 * 0 = never */
};

/* Fills p with usable defaults: eps 1e-4, delta 1e-3, top 256, threshold 64,
 * epoch 100 ms, decay 1/2, re-report after 50 epochs. */
void plane_pop_params_default(struct plane_pop_params *p);

/* Tracker counters, exported by name (plane_pop_counter_names). */
#define PLANE_POP_COUNTERS(X)                                                  \
    X(observed)         /* packets counted */                                  \
    X(candidates)       /* keys that entered the heavy-hitter list */          \
    X(evicted)          /* keys pushed out of it by hotter ones */             \
    X(reported)         /* keys handed out by plane_pop_report() */            \
    X(rereported)       /* of which reported before */                         \
    X(epochs)           /* decays run */                                       \
    X(unmarked)         /* plane_pop_unmark() hits */
struct plane_pop_stats {
    PLANE_COUNTERS_FIELDS(PLANE_POP_COUNTERS)
};
extern const char *const plane_pop_counter_names[];
#define PLANE_POP_N_COUNTERS (sizeof(struct plane_pop_stats) / sizeof(uint64_t))

/* One entry of the heavy-hitter list. */
struct plane_pop_entry {
    uint64_t hash;              /* of the key bytes, for the index */
    uint64_t estimate;          /* CMS estimate when last seen, decayed */
    uint64_t reported_epoch;    /* epoch of the last report */
    uint32_t slot;              /* its slot in the tracker's index */
    bool reported;
    uint8_t key_len;
    uint8_t key[PLANE_POP_KEY_MAX];
};

/*
 * The per-app tracker: a CMS of union keys plus a bounded min-heap of the
 * top_k keys by CMS estimate (the candidates), with an open-addressing index
 * from key to heap slot so a packet costs O(depth + log k), allocation-free.
 */
struct plane_pop_tracker {
    struct plane_pop_params p;
    struct plane_cms cms;
    struct plane_pop_entry *heap;   /* top_k; heap[0] holds the minimum */
    uint32_t n_heap;
    uint32_t *index;                /* n_index slots: heap position + 1, 0 = empty */
    uint32_t n_index;               /* power of two >= 2 * top_k */
    uint32_t *scratch;              /* top_k heap positions, for reports */
    uint64_t epoch;                 /* epochs elapsed */
    uint64_t next_epoch_ns;         /* 0 until the first observe */
    uint64_t total;                 /* decayed stream length, for eps*N */
    struct plane_pop_stats stats;
};

/*
 * Initialises t (caller-owned) with params p (copied).  Returns 0,
 * PLANE_EINVAL (a bound out of range) or PLANE_ENOMEM.
 */
int plane_pop_tracker_init(struct plane_pop_tracker *t, const struct plane_pop_params *p);
void plane_pop_tracker_uninit(struct plane_pop_tracker *t);

/*
 * Counts `count` packets of union key (key, len) at time now; first runs
 * any epoch decay that is due.  Keys longer than PLANE_POP_KEY_MAX are
 * counted in the sketch but never become candidates.  Per packet: no
 * allocation, no logging.
 */
void plane_pop_observe(struct plane_pop_tracker *t, const void *key, size_t len,
                       uint64_t count, uint64_t now);

/*
 * Runs the epoch decay if now has reached the next epoch (at most once per
 * call; missed epochs decay once each, up to 64).  Returns true when one ran.
 */
bool plane_pop_tick(struct plane_pop_tracker *t, uint64_t now);

/*
 * Collects the keys that became hot (estimate >= hot_threshold and not yet
 * reported, or reported at least rereport_epochs ago), hottest first, at
 * most max of them, and marks them reported.  items[i].union_key points
 * into t's heap: valid only until the next call on t.  Returns the number
 * written.
 */
uint32_t plane_pop_report(struct plane_pop_tracker *t, struct plane_body_pop_item *items,
                          uint32_t max);

/*
 * Forgets that key was reported (the switch demoted it or refused it), so
 * it is reported again as soon as it is hot.  Returns true if it was listed.
 */
bool plane_pop_unmark(struct plane_pop_tracker *t, const void *key, size_t len);

/* Returns the tracker's current CMS estimate of key. */
uint64_t plane_pop_estimate(const struct plane_pop_tracker *t, const void *key, size_t len);

/* ---- switch side: cold-key policy ---------------------------------------- */

/*
 * When a flow-manager entry stops earning its place on the switch.  A key is
 * cold when it has not been hit for idle_ns (the ASIC's T_idle aging), or
 * when for `streak` consecutive checks it gained fewer than cold_hits hits.
 * Hysteresis: nothing promoted less than min_dwell_ns ago is cold, and
 * cold_hits (per check) should sit well below the device's hot threshold
 * (per epoch), so a key near the boundary is not demoted and re-promoted
 * every epoch.
 */
struct plane_pop_cold_policy {
    uint64_t idle_ns;           /* T_idle; 0 disables the idle rule */
    uint64_t min_dwell_ns;
    uint64_t cold_hits;         /* 0 disables the rate rule */
    uint32_t streak;            /* >= 1 */
};

/* Per-key bookkeeping the flow manager keeps next to each entry. */
struct plane_pop_cold_state {
    uint64_t installed_ns;      /* when the key was promoted */
    uint64_t last_hits;         /* hit count at the previous check */
    uint32_t cold_streak;
};

/* Fills p from T_idle: idle idle_ns, dwell idle_ns, cold_hits 1, streak 3. */
void plane_pop_cold_policy_default(struct plane_pop_cold_policy *p, uint64_t idle_ns);

/* Resets st for a key promoted at now with hits hits so far. */
void plane_pop_cold_state_init(struct plane_pop_cold_state *st, uint64_t now, uint64_t hits);

/*
 * One aging check of a key last hit at last_hit_ns that has hits hits in
 * total (monotonic).  Updates st and returns true when the key should be
 * demoted.
 */
bool plane_pop_cold_check(const struct plane_pop_cold_policy *p,
                          struct plane_pop_cold_state *st, uint64_t now,
                          uint64_t last_hit_ns, uint64_t hits);
