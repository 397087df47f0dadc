/* Bounded-inconsistency state sync engine (ExoPlane section 4.3, Appendix A). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/counters.h"
#include "common/wire_body.h"
#include "merge.h"

/*
 * The engine keeps the copies of data-plane-updatable entries (register
 * entries, chunks of a CMS counter array, Bloom filter words) within one sync
 * period T_e of each other without pausing packet processing.  It is
 * I/O-agnostic: the daemon moves its messages as SYNC bodies
 * (struct plane_body_sync of common/wire_body.h), whose items are exactly
 * struct plane_body_sync_item, and drives rounds from its T_e timer.  One
 * engine serves one app (the body's app_id); object ids are the app's.
 *
 * Topology: a star.  The switch's engine is the INITIATOR and runs a round
 * with every peer (each primary and replica external device) every T_e;
 * each external device's engine is a RESPONDER with the switch as its only
 * peer.  External devices never sync with each other: the switch is the hub
 * that relays every device's contributions to the others, so after updates
 * stop, two full rounds make every copy equal the total (round 1 brings all
 * contributions to the switch, round 2 carries them out to every device).
 * A primary and its replica are just two peers of the switch.
 *
 * ---- What Snap and I mean (ADD, or any CUSTOM operator with a minus) ----
 *
 * Write a copy's value as S = L o+ M where L is what it added locally
 * (packets) and M what it merged from the other side through the protocol.
 * For every pair (X, peer P) the engine keeps I_X[P], the history, with the
 * invariant
 *
 *     I_X[P] == M_X[P]: all of P's side that X has merged so far,
 *
 * where "P's side" as seen by X is P's value minus what P merged from X:
 * Snap_P o- I_P[X].  For an external device that is its own L; for the
 * switch seen by device i it is everything the switch holds except what came
 * from i (its own L plus every other device's relayed contributions).
 * A message carries a snapshot Snap (the sender's S, read when the message
 * is built) and the sender's I for the receiver, read at the same moment, so
 * Snap o- I is exactly the sender's side at that moment.  The receiver then
 *
 *     delta  = (Snap_P o- I_P) o- I_X      side of P not merged yet
 *     I_X    = Snap_P o- I_P               now merged up to that moment
 *     S_X    = S_X o+ delta                through apply_delta(), with I
 *
 * which is Algorithms 1 and 2 (lines 10-12 and 6-8).  Each side's step only
 * depends on its own invariant and on one consistent (Snap, I) pair from the
 * other side, never on what the other side did with our message.  Hence:
 *
 *  - A lost request: nobody applied anything.  A lost response: only the
 *    responder applied; its invariant holds, the initiator's too (it merged
 *    nothing and its I is unchanged); the next round carries on.
 *  - A duplicated message is harmless when applied again right away (the
 *    second delta is zero), but an OLD message applied after a newer one
 *    would compute a negative delta and move I backwards: a counter would
 *    dip until the next round.  So every request carries a sequence number
 *    (the SYNC body's `round` field), strictly increasing per initiator and
 *    peer, one per message (a round spans several messages when there are
 *    many entries).  The responder keeps, per entry, the last sequence
 *    applied and drops items of older requests; it re-applies an equal one
 *    (a retransmission: zero delta).  The initiator keeps, per entry and
 *    peer, the sequence of its one outstanding request and applies only the
 *    response item echoing it, once; a newer request for the entry
 *    supersedes an unanswered one, which is safe because the initiator's I
 *    cannot have changed in between.
 *  - apply_delta() and the update of I happen together: when apply fails
 *    the engine leaves I alone, so the next round retries the same delta.
 *
 * ---- Failure and recovery of a device ("resume from the history") ----
 *
 * The switch keeps I_switch[i] = all of device i's own updates it has merged,
 * across plane_sync_peer_down()/_peer_up().  A device whose engine or entry
 * is new (after a crash, or an entry tracked again) has no history for the
 * switch; its first request adopts the switch's: it treats I_switch[i] as
 * its own past contributions (S_i o+= I_switch[i], and I_i starts at zero),
 * which restores exactly the updates it had synced before the crash, and
 * the normal step follows.  Folded into one apply, a fresh device merges
 * Snap_switch (everything the switch holds) and replies with
 * Snap_i = S_i o+ I_switch[i], I_i = zero, so the switch merges just the
 * device's updates since it came back.  Updates a device applied after its
 * last successful response were never synced and are genuinely lost.  A
 * device that only froze (link down, state kept) simply resumes.  A fresh
 * history is the all-zero value, which is why an operator with a minus must
 * have all-zero bytes as its identity.
 *
 * The switch is not recoverable this way (it is the hub; the paper's
 * failure model covers external devices only): a switch that loses its
 * state and histories converges back to the devices' contributions within
 * two rounds, losing only the updates that lived on the switch alone.  A
 * restarted initiator must start its sequences above the old ones
 * (plane_sync_config.seq_base, e.g. the wall clock in ns at start).
 *
 * ---- Idempotent operators (OR, MAX, MIN, CUSTOM without minus) ----
 *
 * There is no o-, and none is needed: merging a value twice changes
 * nothing, so each side merges the other's snapshot directly
 * (S = S o+ Snap_other), histories are empty on the wire, stale or
 * duplicated messages are harmless, and a recovered device just merges the
 * switch's snapshot.  The sequence checks still apply (they cost nothing).
 *
 * ---- Values ----
 *
 * Each entry's value is value_len <= PLANE_OBJ_MAX_VALUE bytes.  A larger
 * object (a CMS counter array, a Bloom filter) is tracked as several
 * entries, one per chunk of at most 64 bytes, keyed by the chunk index.
 * Memory for keys, histories and sequence numbers is allocated when an
 * entry is tracked (max_peers slots per entry); rounds allocate nothing.
 */

enum plane_sync_role {
    PLANE_SYNC_INITIATOR = 0,   /* the switch: runs rounds (Algorithm 1) */
    PLANE_SYNC_RESPONDER = 1,   /* an external device: answers (Algorithm 2) */
};

/*
 * Reads the entry's current data-plane value S (value_len bytes) into out.
 * Returns 0 or a negative PLANE_E* code (the entry is skipped this time).
 */
typedef int (*plane_sync_read_fn)(void *arg, void *out);

/*
 * Merges delta (value_len bytes) into the entry's data-plane value:
 * S = S o+ delta, atomically with respect to packet updates.  Returns 0 or
 * a negative code; on failure the engine keeps its history unchanged so the
 * same delta is computed again next round.
 */
typedef int (*plane_sync_apply_fn)(void *arg, const void *delta);

#define PLANE_SYNC_DEFAULT_MAX_PEERS 4
#define PLANE_SYNC_MAX_PEERS 64
#define PLANE_SYNC_DEFAULT_BATCH_ITEMS 32
#define PLANE_SYNC_MAX_BATCH_ITEMS 1024
/* Encoded item bytes per message: fits one datagram with header and MAC. */
#define PLANE_SYNC_DEFAULT_BATCH_BYTES 8000

struct plane_sync_config {
    enum plane_sync_role role;
    uint16_t self;              /* this device's id */
    uint16_t max_peers;         /* peers per engine = slots per entry (0: default 4) */
    uint32_t batch_items;       /* max items per message (0: default 32) */
    uint32_t batch_bytes;       /* max encoded item bytes per message (0: default) */
    uint64_t seq_base;          /* initiator: sequences start above this */
};

/* A batch of items: a request (initiator) or a reply (responder). */
struct plane_sync_msg {
    uint64_t seq;               /* goes in plane_body_sync.round */
    uint32_t n_items;
    const struct plane_body_sync_item *items;
};

#define PLANE_SYNC_COUNTERS(X)                                                 \
    X(rounds)             /* rounds begun (initiator) */                       \
    X(msgs_built)         /* request batches built (initiator) */              \
    X(items_sent)         /* items in built requests / replies */              \
    X(requests)           /* requests handled (responder) */                   \
    X(responses)          /* responses handled (initiator) */                  \
    X(items_applied)      /* items whose step ran (history updated) */         \
    X(deltas_applied)     /* apply_delta() calls with a non-empty delta */     \
    X(adoptions)          /* fresh responder entries that adopted history */   \
    X(stale_items)        /* items of an old or superseded message dropped */  \
    X(floor_drops)        /* requests below the peer's sequence floor */       \
    X(unknown_items)      /* items naming an entry not tracked here */         \
    X(bad_items)          /* items with wrong snapshot/history lengths */      \
    X(read_errors)        /* read_value() failures */                          \
    X(apply_errors)       /* apply_delta() failures */                         \
    X(down_drops)         /* messages from/for a peer marked down */

struct plane_sync_stats {
    PLANE_COUNTERS_FIELDS(PLANE_SYNC_COUNTERS)
};

struct plane_sync;

/*
 * Creates an engine.  cfg is copied.  Returns NULL on a bad config
 * (max_peers or batch_items above their maxima, a batch_bytes that cannot
 * hold one item) or when out of memory.
 */
struct plane_sync *plane_sync_new(const struct plane_sync_config *cfg);
/* Frees the engine and every tracked entry; NULL is a no-op. */
void plane_sync_delete(struct plane_sync *s);

/*
 * Starts syncing entry (obj_id, key) of value_len bytes.  merge is copied
 * and must not be PLANE_MERGE_NONE.  read/apply access the entry's value in
 * this device's data plane with arg.  A new entry has no history with any
 * peer (fresh; see "Failure and recovery" above).  Returns 0, PLANE_EINVAL
 * (klen 0 or above PLANE_OBJ_MAX_KEY, value_len 0 or above
 * PLANE_OBJ_MAX_VALUE, NULL callbacks, NONE merge), PLANE_EEXIST or
 * PLANE_ENOMEM.
 */
int plane_sync_track(struct plane_sync *s, uint16_t obj_id, const void *key,
                     size_t klen, size_t value_len,
                     const struct plane_merge *merge, plane_sync_read_fn read,
                     plane_sync_apply_fn apply, void *arg);
/* Stops syncing an entry and forgets its histories.  0 or PLANE_ENOENT. */
int plane_sync_untrack(struct plane_sync *s, uint16_t obj_id, const void *key,
                       size_t klen);
/* Number of tracked entries. */
size_t plane_sync_n_entries(const struct plane_sync *s);

/*
 * Adds a peer (initiator: an external device; responder: the switch).  Its
 * histories start fresh.  Returns 0, PLANE_EEXIST or PLANE_ENOSPC (max_peers).
 */
int plane_sync_peer_add(struct plane_sync *s, uint16_t peer);
/* Removes a peer and forgets every history kept for it.  0 or PLANE_EPEER. */
int plane_sync_peer_remove(struct plane_sync *s, uint16_t peer);
/*
 * Marks a peer failed: rounds with it are refused and its messages dropped,
 * outstanding requests are abandoned, and its histories are KEPT so the
 * peer resumes from them when it comes back.  0 or PLANE_EPEER.
 */
int plane_sync_peer_down(struct plane_sync *s, uint16_t peer);
/* Marks a peer alive again (state kept or lost alike).  0 or PLANE_EPEER. */
int plane_sync_peer_up(struct plane_sync *s, uint16_t peer);
/* True when peer is known and not marked down. */
bool plane_sync_peer_is_up(const struct plane_sync *s, uint16_t peer);

/*
 * Initiator: starts a sync round with peer at time now_ns (the daemon's
 * clock).  An unfinished previous round is abandoned; its unanswered
 * entries are re-sent in this one.  Returns 0, PLANE_EPEER, or PLANE_ESTATE
 * (a responder engine, or the peer is down).
 */
int plane_sync_round_begin(struct plane_sync *s, uint16_t peer, uint64_t now_ns);
/*
 * Initiator: builds the round's next request batch into out (Snap and I of
 * each entry, read now).  out->n_items == 0 means the round has no more
 * entries.  out's items and bytes belong to the engine and stay valid until
 * the next plane_sync_round_next(), _on_request(), _untrack() or _delete();
 * encode them before then.  Returns 0, PLANE_EPEER, or PLANE_ESTATE (no
 * round begun, or the peer is down).
 */
int plane_sync_round_next(struct plane_sync *s, uint16_t peer,
                          struct plane_sync_msg *out);
/*
 * Initiator: applies a response from peer to request seq (Algorithm 1,
 * lines 10-12), item by item; items of a superseded or already answered
 * request, unknown entries and malformed items are skipped and counted.
 * Returns 0, PLANE_EPEER, or PLANE_ESTATE (responder engine, peer down).
 */
int plane_sync_on_response(struct plane_sync *s, uint16_t peer, uint64_t seq,
                           const struct plane_body_sync_item *items, size_t n);
/*
 * Responder: handles request seq from peer (Algorithm 2): builds the reply
 * (each item's Snap and I before this step) into reply, then applies the
 * step.  Items of stale requests, unknown entries and malformed items are
 * skipped and left out of the reply.  reply's storage is the engine's, as
 * for plane_sync_round_next().  Returns 0, PLANE_EPEER, PLANE_ESTATE
 * (initiator engine, peer down) or PLANE_EMSGSIZE (more than batch_items).
 */
int plane_sync_on_request(struct plane_sync *s, uint16_t peer, uint64_t seq,
                          const struct plane_body_sync_item *items, size_t n,
                          struct plane_sync_msg *reply);

/*
 * Initiator: the sequence the next request to peer will carry (> every
 * sequence sent to it so far), or 0 for an unknown peer.
 */
uint64_t plane_sync_peer_next_seq(const struct plane_sync *s, uint16_t peer);
/*
 * Responder: drops requests from peer with a sequence below min_seq.  A
 * device that restarted has no memory of the sequences it saw, so a request
 * delayed in the network across its crash, and overtaken there by a newer
 * answered one, would look fresh and make it adopt an outdated history
 * (undercounting until the entry is re-tracked).  The daemon closes that
 * window by passing the initiator's plane_sync_peer_next_seq() from the
 * re-registration handshake.  Returns 0, PLANE_EPEER or PLANE_ESTATE.
 */
int plane_sync_peer_set_floor(struct plane_sync *s, uint16_t peer,
                              uint64_t min_seq);

/*
 * Time (the now_ns given to plane_sync_round_begin()) of the latest round
 * with peer from which a response was applied, 0 if none.  The distance to
 * now bounds how stale the peer's contributions here are.
 */
uint64_t plane_sync_peer_last_ok(const struct plane_sync *s, uint16_t peer);

/* The engine's counters (read-only view). */
const struct plane_sync_stats *plane_sync_stats(const struct plane_sync *s);
/* Returns the name of counter i, or NULL past the last. */
const char *plane_sync_counter_name(size_t i);

/*
 * Divergence of value a from value b (len bytes) under m, for tests and
 * benchmarks: ADD, MAX, MIN sum |a - b| over the uint64 words, OR counts
 * differing bits, CUSTOM counts differing bytes.  0 iff a equals b.
 */
uint64_t plane_sync_divergence(const struct plane_merge *m, const void *a,
                               const void *b, size_t len);
