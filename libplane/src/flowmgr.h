/* The ExoPlane flow manager (o_FM): a fixed-capacity exact-match set of one app's union keys resident at the switch. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/counters.h"

struct plane_flow_key;
struct plane_hasher;

/*
 * The flow manager answers one question per packet: "is this packet's union
 * key resident at the switch?" (ExoPlane section 4.1).  A hit means the
 * packet is processed entirely at the switch, a miss sends it to an external
 * device.  Entries are inserted and removed only by the two-phase update
 * engine (update.h), which keeps Invariant 1: a key present here has its
 * entries in every app object.
 *
 * Layout.  Keys live in a dense array of entries (key, last-hit time,
 * popularity estimate);
 * lookups go through a power-of-two array of 64-byte, cache-line aligned
 * buckets, each holding 8 slots of (16-bit hash tag, entry index).  The
 * bucket array is sized so that a full table is at most half loaded, so a
 * lookup almost always touches one bucket line and one entry line.  A bucket
 * whose slots were all taken when an insert passed it counts that in its
 * overflow counter (Folly F14's outbound overflow count); a lookup continues
 * to the next bucket only while that count is non-zero, and a remove
 * decrements the counters it incremented, so deleting never leaves
 * tombstones behind.  Nothing is allocated after plane_flowmgr_new().
 *
 * Popularity and admission (TinyLFU, Einziger et al. 2017).  Each entry
 * keeps a decayed popularity estimate in the units of the external devices'
 * count-min estimates (popularity.h): hits, halved every epoch (the
 * popularity interval, plane_flowmgr_set_epoch()).  The decay is lazy: an
 * entry stores its estimate and the epoch of its last update in 4 bytes
 * (16-bit saturating count, epoch mod 2^16; 16 epochs or more decay it to
 * 0), and a hit decays then increments it.  So the switch can compare a
 * reported key's estimate with those of the keys it holds:
 * plane_flowmgr_admits() lets a key in only when the table has room or the
 * key is clearly more popular than the one that would be evicted for it.
 * That makes a low hot threshold at the devices safe: a key that is merely
 * warm is reported, but it does not push a hotter key out (each swap costs
 * a demotion and a promotion, RPCs and T_flush).
 *
 * Victim selection (who to evict when full) is sampled: plane_flowmgr_victim()
 * examines the next K entries of the dense array from a rotating hand and
 * returns the one with the lowest decayed estimate (the least recently hit
 * among equals, so equal estimates make it LRU, as redis approximates LRU
 * for maxmemory).  Frequency rather than recency alone matters when
 * promotions are frequent (a low popularity threshold): a cold key promoted
 * a moment ago looks recently hit but has few hits, so it goes before a hot
 * key that merely missed the last few microseconds.  A promoted key starts
 * with the estimate it was admitted with (plane_flowmgr_set_estimate()),
 * so it is not the next victim just because it has no hits yet.  O(K) per
 * call; the hand sweeps the whole array once every count/K calls.
 *
 * Aging (the switch ASIC's idle timeout, T_idle in section 6) is an
 * incremental scan: each call walks a bounded number of buckets from a
 * persistent cursor, so a timer can run it without stalling the loop.
 *
 * Not thread-safe; one flow manager belongs to one loop.
 */
struct plane_flowmgr;

#define PLANE_FLOWMGR_COUNTERS(X)                                              \
    X(lookups)          /* plane_flowmgr_lookup() calls */                     \
    X(hits)             /* ... that found the key */                           \
    X(misses)           /* ... that did not */                                 \
    X(inserts)          /* keys inserted */                                    \
    X(insert_exists)    /* inserts refused: key already present */             \
    X(insert_full)      /* inserts refused: table at capacity */               \
    X(removes)          /* keys removed */                                     \
    X(remove_missing)   /* removes of absent keys */                           \
    X(victims)          /* victims proposed by plane_flowmgr_victim() */       \
    X(aged)             /* idle keys reported by plane_flowmgr_age() */        \
    X(overflow_probes)  /* lookups that had to read a second bucket */

struct plane_flowmgr_stats {
    PLANE_COUNTERS_FIELDS(PLANE_FLOWMGR_COUNTERS)
};

/* Default number of entries plane_flowmgr_victim() examines. */
#define PLANE_FLOWMGR_VICTIM_SAMPLES 8
/* Popularity estimates saturate here (they are 16-bit). */
#define PLANE_FLOWMGR_EST_MAX 65535u
/* The largest capacity plane_flowmgr_new() accepts (a switch table is far smaller). */
#define PLANE_FLOWMGR_MAX_CAPACITY (1u << 24)

/*
 * Called by plane_flowmgr_age() for each idle key.  key points to a copy
 * that lives for the duration of the call; idle_ns is now - last hit.  The
 * callback may remove the key (or any other) from fm, or insert keys.
 */
typedef void (*plane_flowmgr_age_cb)(void *arg, const struct plane_flow_key *key,
                                     uint64_t idle_ns);

/*
 * Creates a flow manager that holds up to `capacity` keys (1 ..
 * PLANE_FLOWMGR_MAX_CAPACITY).  hasher is copied (NULL: an unkeyed hasher,
 * for tests); the rack's keyed hasher keeps packet sources from aiming keys
 * at one bucket.  Returns NULL on a bad capacity or out of memory.
 */
struct plane_flowmgr *plane_flowmgr_new(uint32_t capacity,
                                        const struct plane_hasher *hasher);

/* Frees fm.  NULL is a no-op. */
void plane_flowmgr_delete(struct plane_flowmgr *fm);

/* Returns the keyed hash of key as fm computes it (for prefetching). */
uint64_t plane_flowmgr_hash(const struct plane_flowmgr *fm,
                            const struct plane_flow_key *key);

/*
 * Prefetches the bucket of a key whose hash is `hash`.  A packet batch hashes
 * all of its keys, prefetches their buckets, then looks them up, so the
 * bucket misses overlap (DPDK's rte_hash bulk lookup).
 */
void plane_flowmgr_prefetch(const struct plane_flowmgr *fm, uint64_t hash);

/*
 * The per-packet lookup: returns true when key is present, and then records
 * now_ns as its last-hit time and adds the hit to its decayed estimate.
 * Counts lookups/hits/misses.
 */
bool plane_flowmgr_lookup(struct plane_flowmgr *fm,
                          const struct plane_flow_key *key, uint64_t now_ns);

/* plane_flowmgr_lookup() with the hash already computed by plane_flowmgr_hash(). */
bool plane_flowmgr_lookup_hashed(struct plane_flowmgr *fm,
                                 const struct plane_flow_key *key,
                                 uint64_t hash, uint64_t now_ns);

/* Returns true when key is present; no side effects (no counters, no last hit). */
bool plane_flowmgr_contains(const struct plane_flowmgr *fm,
                            const struct plane_flow_key *key);

/*
 * Inserts key with last-hit time now_ns and estimate 0 (see
 * plane_flowmgr_set_estimate()).  Returns 0, PLANE_EEXIST when key is
 * already present or PLANE_ENOSPC when fm holds `capacity` keys.
 */
int plane_flowmgr_insert(struct plane_flowmgr *fm,
                         const struct plane_flow_key *key, uint64_t now_ns);

/* Removes key.  Returns 0 or PLANE_ENOENT. */
int plane_flowmgr_remove(struct plane_flowmgr *fm,
                         const struct plane_flow_key *key);

/* Returns the number of keys present. */
uint32_t plane_flowmgr_count(const struct plane_flowmgr *fm);

/* Returns the capacity given to plane_flowmgr_new(). */
uint32_t plane_flowmgr_capacity(const struct plane_flowmgr *fm);

/* Returns the number of buckets: a full aging sweep scans this many. */
uint32_t plane_flowmgr_n_buckets(const struct plane_flowmgr *fm);

/*
 * Returns in *last_hit_ns the last-hit time of key (its insert time if never
 * hit).  Returns 0 or PLANE_ENOENT.
 */
int plane_flowmgr_last_hit(const struct plane_flowmgr *fm,
                           const struct plane_flow_key *key,
                           uint64_t *last_hit_ns);

/*
 * Sets how many entries plane_flowmgr_victim() examines (>= 1; values above
 * the count examine every entry, at O(count) per call).
 */
void plane_flowmgr_set_victim_samples(struct plane_flowmgr *fm, uint32_t k);

/*
 * Sets the estimates' halving period (the popularity interval the devices
 * decay their count-min sketches with; 0: the default, 100 ms).  Call it
 * before use: estimates already stored are read in the new period's epochs.
 */
void plane_flowmgr_set_epoch(struct plane_flowmgr *fm, uint64_t epoch_ns);

/*
 * Sets key's decayed estimate to `estimate` (saturated at
 * PLANE_FLOWMGR_EST_MAX) as of now_ns.  The update engine calls it right
 * after inserting a promoted key, with the estimate the key was admitted
 * with.  Returns 0 or PLANE_ENOENT.
 */
int plane_flowmgr_set_estimate(struct plane_flowmgr *fm, const struct plane_flow_key *key,
                               uint64_t estimate, uint64_t now_ns);

/* Writes key's decayed estimate at now_ns to *estimate.  Returns 0 or PLANE_ENOENT. */
int plane_flowmgr_estimate(struct plane_flowmgr *fm, const struct plane_flow_key *key,
                           uint64_t now_ns, uint64_t *estimate);

/*
 * Admission control: should a key whose popularity estimate is `estimate`
 * (a device's decayed count-min estimate) be promoted now?  True when fm
 * has room; else true only when estimate > min + min/8 + 1, where min is the
 * lowest decayed estimate of the K entries the next plane_flowmgr_victim()
 * call examines (the key it would evict).  The margin keeps keys of equal
 * rate from being swapped back and forth.  Does not move the hand.
 */
bool plane_flowmgr_admits(struct plane_flowmgr *fm, uint64_t estimate, uint64_t now_ns);

/*
 * Proposes an eviction victim: of the next K entries from the rotating hand,
 * the one with the lowest decayed estimate (as of the latest time fm was
 * given: lookup, insert, admits, set_estimate), the least recently hit among
 * equals; the hand then moves on by K.  Writes it to *key without removing
 * it.  Returns 0 or PLANE_ENOENT when fm is empty.
 */
int plane_flowmgr_victim(struct plane_flowmgr *fm, struct plane_flow_key *key);

/*
 * Incremental aging: scans the next max_buckets buckets (0 means all) from a
 * persistent cursor and calls cb for every key whose last hit is more than
 * idle_ns before now_ns.  A full sweep takes ceil(n_buckets / max_buckets)
 * calls and reports every key idle at the time its bucket is scanned once.
 * Returns the number of keys reported.
 */
size_t plane_flowmgr_age(struct plane_flowmgr *fm, uint64_t now_ns,
                         uint64_t idle_ns, uint32_t max_buckets,
                         plane_flowmgr_age_cb cb, void *arg);

/* Returns fm's counters (valid until plane_flowmgr_delete()). */
const struct plane_flowmgr_stats *plane_flowmgr_stats(const struct plane_flowmgr *fm);

/* The counter names, in struct order, and their number. */
extern const char *const plane_flowmgr_counter_names[];
extern const size_t plane_flowmgr_n_counters;
