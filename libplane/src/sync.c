/* Bounded-inconsistency state sync engine: snapshot + history rounds (ExoPlane App. A). */
#include "sync.h"

#include <stdalign.h>
#include <string.h>

#include <xxhash.h>

#include <plane/app.h>
#include <plane/error.h>

#include "common/alloc.h"
#include "common/log.h"

PLANE_LOG_MODULE(sync);

/*
 * One tracked entry.  Its memory is one block allocated at track time:
 * per peer slot a sequence number and (for operators with a minus) a
 * history of value_len bytes, then the key.
 *
 *   seqs[p]  initiator: sequence of the one outstanding request carrying this
 *            entry to peer slot p, 0 when none is outstanding;
 *            responder: sequence of the last request applied, 0 = fresh (no
 *            history with the peer yet: the next request adopts).
 *   hist[p]  I[p]: all of the peer's side merged here so far.
 */
struct sync_entry {
    struct sync_entry *hnext;        /* hash chain */
    struct sync_entry *prev, *next;  /* round order */
    uint64_t hash;
    struct plane_merge merge;
    plane_sync_read_fn read;
    plane_sync_apply_fn apply;
    void *arg;
    uint16_t obj_id;
    uint8_t klen;
    uint8_t vlen;
    bool has_minus;
    uint64_t *seqs;
    uint8_t *hist;
    uint8_t *key;
    alignas(8) unsigned char data[];
};

/*
 * A peer's round (initiator).  States:
 *
 *   IDLE --round_begin--> IN_ROUND --round_next (n_items == 0)--> IDLE
 *   any  --peer_down--> DOWN (round abandoned) --peer_up--> IDLE
 *
 * Responses are matched per entry by sequence, not by round state, so one
 * may arrive after its round ended and still apply.
 */
struct sync_peer {
    uint16_t id;
    bool used;
    bool down;
    bool in_round;
    uint64_t next_seq;               /* last sequence handed out */
    uint64_t min_seq;                /* responder: older requests dropped */
    uint64_t round_first_seq;        /* first sequence of the current round */
    uint64_t round_begin_ns;
    uint64_t last_ok_ns;
    struct sync_entry *cursor;       /* next entry of the round; NULL: end */
};

struct plane_sync {
    struct plane_sync_config cfg;
    struct sync_peer *peers;         /* cfg.max_peers slots */
    struct sync_entry **buckets;
    size_t n_buckets;                /* power of two */
    size_t n_entries;
    struct sync_entry *head, *tail;
    /* Scratch for one outgoing batch: items and their snapshot/history. */
    struct plane_body_sync_item *items;
    uint8_t *bytes;                  /* batch_items * 2 * PLANE_OBJ_MAX_VALUE */
    struct plane_sync_stats stats;
};

static const char *const sync_counter_names[] = {
    PLANE_COUNTERS_NAMES(PLANE_SYNC_COUNTERS)
};

/* An item's encoded size in a SYNC body, bounded from above. */
static size_t
item_cost(size_t klen, size_t slen, size_t hlen)
{
    /* array header, u16, three bin headers (<= 2 bytes for <= 255). */
    return 1 + 3 + 2 + klen + 2 + slen + 2 + hlen;
}

struct plane_sync *
plane_sync_new(const struct plane_sync_config *cfg)
{
    struct plane_sync_config c = *cfg;
    if (c.role != PLANE_SYNC_INITIATOR && c.role != PLANE_SYNC_RESPONDER) {
        return NULL;
    }
    if (c.max_peers == 0) {
        c.max_peers = PLANE_SYNC_DEFAULT_MAX_PEERS;
    }
    if (c.batch_items == 0) {
        c.batch_items = PLANE_SYNC_DEFAULT_BATCH_ITEMS;
    }
    if (c.batch_bytes == 0) {
        c.batch_bytes = PLANE_SYNC_DEFAULT_BATCH_BYTES;
    }
    if (c.max_peers > PLANE_SYNC_MAX_PEERS
        || c.batch_items > PLANE_SYNC_MAX_BATCH_ITEMS
        || c.batch_bytes < item_cost(PLANE_OBJ_MAX_KEY, PLANE_OBJ_MAX_VALUE,
                                     PLANE_OBJ_MAX_VALUE)) {
        return NULL;
    }
    struct plane_sync *s = plane_calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->cfg = c;
    s->n_buckets = 64;
    s->peers = plane_calloc(c.max_peers, sizeof *s->peers);
    s->buckets = plane_calloc(s->n_buckets, sizeof *s->buckets);
    s->items = plane_calloc(c.batch_items, sizeof *s->items);
    s->bytes = plane_calloc(c.batch_items, 2 * PLANE_OBJ_MAX_VALUE);
    if (!s->peers || !s->buckets || !s->items || !s->bytes) {
        plane_sync_delete(s);
        return NULL;
    }
    return s;
}

void
plane_sync_delete(struct plane_sync *s)
{
    if (!s) {
        return;
    }
    struct sync_entry *e = s->head;
    while (e) {
        struct sync_entry *next = e->next;
        plane_free(e);
        e = next;
    }
    plane_free(s->peers);
    plane_free(s->buckets);
    plane_free(s->items);
    plane_free(s->bytes);
    plane_free(s);
}

/* ---- Entries ------------------------------------------------------------ */

static uint64_t
entry_hash(uint16_t obj_id, const void *key, size_t klen)
{
    return XXH3_64bits_withSeed(key, klen, obj_id);
}

static struct sync_entry *
entry_find(const struct plane_sync *s, uint16_t obj_id, const void *key,
           size_t klen)
{
    if (klen == 0 || klen > PLANE_OBJ_MAX_KEY) {
        return NULL;
    }
    uint64_t h = entry_hash(obj_id, key, klen);
    for (struct sync_entry *e = s->buckets[h & (s->n_buckets - 1)]; e;
         e = e->hnext) {
        if (e->hash == h && e->obj_id == obj_id && e->klen == klen
            && !memcmp(e->key, key, klen)) {
            return e;
        }
    }
    return NULL;
}

/* Doubles the bucket array when the load passes 1; failure is harmless. */
static void
buckets_grow(struct plane_sync *s)
{
    size_t n = s->n_buckets * 2;
    struct sync_entry **b = plane_calloc(n, sizeof *b);
    if (!b) {
        return;
    }
    for (size_t i = 0; i < s->n_buckets; i++) {
        struct sync_entry *e = s->buckets[i];
        while (e) {
            struct sync_entry *next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    plane_free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
}

int
plane_sync_track(struct plane_sync *s, uint16_t obj_id, const void *key,
                 size_t klen, size_t value_len, const struct plane_merge *merge,
                 plane_sync_read_fn read, plane_sync_apply_fn apply, void *arg)
{
    if (!key || klen == 0 || klen > PLANE_OBJ_MAX_KEY || value_len == 0
        || value_len > PLANE_OBJ_MAX_VALUE || !merge || !merge->plus
        || merge->op == PLANE_MERGE_NONE || !read || !apply) {
        return PLANE_EINVAL;
    }
    if (entry_find(s, obj_id, key, klen)) {
        return PLANE_EEXIST;
    }
    bool has_minus = plane_merge_has_minus(merge);
    size_t p = s->cfg.max_peers;
    size_t hist = has_minus ? p * value_len : 0;
    struct sync_entry *e = plane_calloc(1, sizeof *e + p * sizeof(uint64_t)
                                               + hist + klen);
    if (!e) {
        return PLANE_ENOMEM;
    }
    e->seqs = (uint64_t *) (void *) e->data;
    e->hist = e->data + p * sizeof(uint64_t);
    e->key = e->hist + hist;
    memcpy(e->key, key, klen);
    e->hash = entry_hash(obj_id, key, klen);
    e->merge = *merge;
    e->read = read;
    e->apply = apply;
    e->arg = arg;
    e->obj_id = obj_id;
    e->klen = (uint8_t) klen;
    e->vlen = (uint8_t) value_len;
    e->has_minus = has_minus;

    size_t b = e->hash & (s->n_buckets - 1);
    e->hnext = s->buckets[b];
    s->buckets[b] = e;
    /* Appended at the tail: a round in progress reaches it too. */
    e->prev = s->tail;
    if (s->tail) {
        s->tail->next = e;
    } else {
        s->head = e;
    }
    s->tail = e;
    for (size_t i = 0; i < p; i++) {
        if (s->peers[i].used && s->peers[i].in_round && !s->peers[i].cursor) {
            s->peers[i].cursor = e;
        }
    }
    if (++s->n_entries > s->n_buckets) {
        buckets_grow(s);
    }
    return 0;
}

int
plane_sync_untrack(struct plane_sync *s, uint16_t obj_id, const void *key,
                   size_t klen)
{
    struct sync_entry *e = entry_find(s, obj_id, key, klen);
    if (!e) {
        return PLANE_ENOENT;
    }
    struct sync_entry **pp = &s->buckets[e->hash & (s->n_buckets - 1)];
    while (*pp != e) {
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    /* A round whose next entry this was moves on to the one after it. */
    for (size_t i = 0; i < s->cfg.max_peers; i++) {
        if (s->peers[i].cursor == e) {
            s->peers[i].cursor = e->next;
        }
    }
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        s->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        s->tail = e->prev;
    }
    s->n_entries--;
    plane_free(e);
    return 0;
}

size_t
plane_sync_n_entries(const struct plane_sync *s)
{
    return s->n_entries;
}

static uint8_t *
entry_hist(const struct sync_entry *e, size_t slot)
{
    return e->hist + slot * e->vlen;
}

/* ---- Peers -------------------------------------------------------------- */

static struct sync_peer *
peer_find(const struct plane_sync *s, uint16_t id, size_t *slot)
{
    for (size_t i = 0; i < s->cfg.max_peers; i++) {
        if (s->peers[i].used && s->peers[i].id == id) {
            if (slot) {
                *slot = i;
            }
            return &s->peers[i];
        }
    }
    return NULL;
}

int
plane_sync_peer_add(struct plane_sync *s, uint16_t peer)
{
    if (peer_find(s, peer, NULL)) {
        return PLANE_EEXIST;
    }
    for (size_t i = 0; i < s->cfg.max_peers; i++) {
        if (!s->peers[i].used) {
            /* Slots are cleared on removal, so the peer starts fresh. */
            memset(&s->peers[i], 0, sizeof s->peers[i]);
            s->peers[i].used = true;
            s->peers[i].id = peer;
            s->peers[i].next_seq = s->cfg.seq_base;
            return 0;
        }
    }
    return PLANE_ENOSPC;
}

int
plane_sync_peer_remove(struct plane_sync *s, uint16_t peer)
{
    size_t slot;
    struct sync_peer *p = peer_find(s, peer, &slot);
    if (!p) {
        return PLANE_EPEER;
    }
    for (struct sync_entry *e = s->head; e; e = e->next) {
        e->seqs[slot] = 0;
        if (e->has_minus) {
            memset(entry_hist(e, slot), 0, e->vlen);
        }
    }
    memset(p, 0, sizeof *p);
    return 0;
}

int
plane_sync_peer_down(struct plane_sync *s, uint16_t peer)
{
    struct sync_peer *p = peer_find(s, peer, NULL);
    if (!p) {
        return PLANE_EPEER;
    }
    /* Histories stay: they are what the peer resumes from. */
    p->down = true;
    p->in_round = false;
    p->cursor = NULL;
    return 0;
}

int
plane_sync_peer_up(struct plane_sync *s, uint16_t peer)
{
    struct sync_peer *p = peer_find(s, peer, NULL);
    if (!p) {
        return PLANE_EPEER;
    }
    p->down = false;
    return 0;
}

bool
plane_sync_peer_is_up(const struct plane_sync *s, uint16_t peer)
{
    const struct sync_peer *p = peer_find(s, peer, NULL);
    return p && !p->down;
}

uint64_t
plane_sync_peer_next_seq(const struct plane_sync *s, uint16_t peer)
{
    const struct sync_peer *p = peer_find(s, peer, NULL);
    return p ? p->next_seq + 1 : 0;
}

int
plane_sync_peer_set_floor(struct plane_sync *s, uint16_t peer, uint64_t min_seq)
{
    if (s->cfg.role != PLANE_SYNC_RESPONDER) {
        return PLANE_ESTATE;
    }
    struct sync_peer *p = peer_find(s, peer, NULL);
    if (!p) {
        return PLANE_EPEER;
    }
    p->min_seq = min_seq;
    return 0;
}

uint64_t
plane_sync_peer_last_ok(const struct plane_sync *s, uint16_t peer)
{
    const struct sync_peer *p = peer_find(s, peer, NULL);
    return p ? p->last_ok_ns : 0;
}

/* Looks up peer for a message; counts and refuses one marked down. */
static int
peer_for_msg(struct plane_sync *s, uint16_t peer, enum plane_sync_role role,
             struct sync_peer **out, size_t *slot)
{
    if (s->cfg.role != role) {
        return PLANE_ESTATE;
    }
    struct sync_peer *p = peer_find(s, peer, slot);
    if (!p) {
        return PLANE_EPEER;
    }
    if (p->down) {
        PLANE_CTR_INC(&s->stats, down_drops);
        return PLANE_ESTATE;
    }
    *out = p;
    return 0;
}

/* ---- Rounds (initiator) ------------------------------------------------- */

int
plane_sync_round_begin(struct plane_sync *s, uint16_t peer, uint64_t now_ns)
{
    struct sync_peer *p;
    size_t slot;
    int rc = peer_for_msg(s, peer, PLANE_SYNC_INITIATOR, &p, &slot);
    if (rc) {
        return rc;
    }
    p->in_round = true;
    p->cursor = s->head;
    p->round_begin_ns = now_ns;
    p->round_first_seq = p->next_seq + 1;
    PLANE_CTR_INC(&s->stats, rounds);
    return 0;
}

int
plane_sync_round_next(struct plane_sync *s, uint16_t peer,
                      struct plane_sync_msg *out)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct sync_peer *p;
    size_t slot;
    int rc = peer_for_msg(s, peer, PLANE_SYNC_INITIATOR, &p, &slot);
    out->seq = 0;
    out->n_items = 0;
    out->items = s->items;
    if (rc) {
        return rc;
    }
    if (!p->in_round) {
        return PLANE_ESTATE;
    }
    uint32_t n = 0;
    size_t bytes = 0;
    uint64_t seq = p->next_seq + 1;
    while (p->cursor && n < s->cfg.batch_items) {
        struct sync_entry *e = p->cursor;
        size_t hlen = e->has_minus ? e->vlen : 0;
        size_t cost = item_cost(e->klen, e->vlen, hlen);
        if (bytes + cost > s->cfg.batch_bytes) {
            break;
        }
        p->cursor = e->next;
        uint8_t *snap = s->bytes + (size_t) n * 2 * PLANE_OBJ_MAX_VALUE;
        uint8_t *hist = snap + PLANE_OBJ_MAX_VALUE;
        int err = e->read(e->arg, snap);
        if (err) {
            PLANE_CTR_INC(&s->stats, read_errors);
            PLANE_WARN_RL(&rl, "read of object %u entry failed: %s",
                          e->obj_id, plane_strerror(err));
            continue;
        }
        if (hlen) {
            memcpy(hist, entry_hist(e, slot), hlen);
        }
        /* This request supersedes any unanswered one for the entry. */
        e->seqs[slot] = seq;
        s->items[n] = (struct plane_body_sync_item){
            .object_id = e->obj_id,
            .key = e->key,
            .key_len = e->klen,
            .snapshot = snap,
            .snapshot_len = e->vlen,
            .history = hist,
            .history_len = (uint32_t) hlen,
        };
        n++;
        bytes += cost;
    }
    if (n == 0) {
        p->in_round = false;
        return 0;
    }
    p->next_seq = seq;
    out->seq = seq;
    out->n_items = n;
    PLANE_CTR_INC(&s->stats, msgs_built);
    PLANE_CTR_ADD(&s->stats, items_sent, n);
    return 0;
}

/* True when every byte of v is zero: the identity of an operator with minus. */
static bool
is_zero(const uint8_t *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (v[i]) {
            return false;
        }
    }
    return true;
}

/*
 * Merges snap into an entry of an idempotent operator (S = S o+ snap),
 * skipping the data-plane write when it would change nothing.  cur is S as
 * read.  Returns 0 or apply's error.
 */
static int
merge_idempotent(struct plane_sync *s, struct sync_entry *e,
                 const uint8_t *cur, const uint8_t *snap)
{
    uint8_t merged[PLANE_OBJ_MAX_VALUE];
    plane_merge_plus(&e->merge, merged, cur, snap, e->vlen);
    if (!memcmp(merged, cur, e->vlen)) {
        return 0;
    }
    int rc = e->apply(e->arg, snap);
    if (!rc) {
        PLANE_CTR_INC(&s->stats, deltas_applied);
    }
    return rc;
}

/* Checks an incoming item's lengths against the entry. */
static bool
item_ok(const struct sync_entry *e, const struct plane_body_sync_item *it)
{
    if (it->snapshot_len != e->vlen || !it->snapshot) {
        return false;
    }
    if (e->has_minus) {
        return it->history_len == e->vlen && it->history;
    }
    /* Idempotent operators send no history; tolerate one and ignore it. */
    return it->history_len == 0 || it->history_len == e->vlen;
}

/* Finds the entry an incoming item names, counting unknown and bad ones. */
static struct sync_entry *
item_entry(struct plane_sync *s, const struct plane_body_sync_item *it)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct sync_entry *e = it->key ? entry_find(s, it->object_id, it->key,
                                                it->key_len)
                                   : NULL;
    if (!e) {
        PLANE_CTR_INC(&s->stats, unknown_items);
        return NULL;
    }
    if (!item_ok(e, it)) {
        PLANE_CTR_INC(&s->stats, bad_items);
        PLANE_WARN_RL(&rl, "sync item of object %u: snapshot %u / history %u "
                      "bytes, expected %u", it->object_id, it->snapshot_len,
                      it->history_len, e->vlen);
        return NULL;
    }
    return e;
}

int
plane_sync_on_response(struct plane_sync *s, uint16_t peer, uint64_t seq,
                       const struct plane_body_sync_item *items, size_t n)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct sync_peer *p;
    size_t slot;
    int rc = peer_for_msg(s, peer, PLANE_SYNC_INITIATOR, &p, &slot);
    if (rc) {
        return rc;
    }
    PLANE_CTR_INC(&s->stats, responses);
    bool applied = false;
    for (size_t i = 0; i < n; i++) {
        const struct plane_body_sync_item *it = &items[i];
        struct sync_entry *e = item_entry(s, it);
        if (!e) {
            continue;
        }
        /* Only the answer to the entry's outstanding request, once. */
        if (seq == 0 || e->seqs[slot] != seq) {
            PLANE_CTR_INC(&s->stats, stale_items);
            continue;
        }
        e->seqs[slot] = 0;
        int err;
        if (e->has_minus) {
            /* Algorithm 1, lines 10-12. */
            uint8_t t[PLANE_OBJ_MAX_VALUE], delta[PLANE_OBJ_MAX_VALUE];
            uint8_t *mine = entry_hist(e, slot);
            plane_merge_plus(&e->merge, t, mine, it->history, e->vlen);
            plane_merge_minus(&e->merge, delta, it->snapshot, t, e->vlen);
            err = 0;
            if (!is_zero(delta, e->vlen)) {
                err = e->apply(e->arg, delta);
                if (!err) {
                    PLANE_CTR_INC(&s->stats, deltas_applied);
                }
            }
            if (!err) {
                plane_merge_minus(&e->merge, mine, it->snapshot, it->history,
                                  e->vlen);
            }
        } else {
            uint8_t cur[PLANE_OBJ_MAX_VALUE];
            err = e->read(e->arg, cur);
            if (err) {
                PLANE_CTR_INC(&s->stats, read_errors);
                continue;
            }
            err = merge_idempotent(s, e, cur, it->snapshot);
        }
        if (err) {
            PLANE_CTR_INC(&s->stats, apply_errors);
            PLANE_WARN_RL(&rl, "apply of object %u delta failed: %s",
                          e->obj_id, plane_strerror(err));
            continue;
        }
        PLANE_CTR_INC(&s->stats, items_applied);
        applied = true;
    }
    if (applied && seq >= p->round_first_seq) {
        p->last_ok_ns = p->round_begin_ns;
    }
    return 0;
}

/* ---- Requests (responder) ----------------------------------------------- */

int
plane_sync_on_request(struct plane_sync *s, uint16_t peer, uint64_t seq,
                      const struct plane_body_sync_item *items, size_t n,
                      struct plane_sync_msg *reply)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct sync_peer *p;
    size_t slot;
    reply->seq = seq;
    reply->n_items = 0;
    reply->items = s->items;
    int rc = peer_for_msg(s, peer, PLANE_SYNC_RESPONDER, &p, &slot);
    if (rc) {
        return rc;
    }
    if (n > s->cfg.batch_items) {
        return PLANE_EMSGSIZE;
    }
    if (seq == 0) {
        /* 0 marks a fresh entry; no initiator sends it. */
        return PLANE_EPROTO;
    }
    if (seq < p->min_seq) {
        PLANE_CTR_INC(&s->stats, floor_drops);
        return 0;
    }
    PLANE_CTR_INC(&s->stats, requests);
    uint32_t out = 0;
    for (size_t i = 0; i < n; i++) {
        const struct plane_body_sync_item *it = &items[i];
        struct sync_entry *e = item_entry(s, it);
        if (!e) {
            continue;
        }
        uint64_t last = e->seqs[slot];
        if (seq < last) {
            PLANE_CTR_INC(&s->stats, stale_items);
            continue;
        }
        uint8_t *snap = s->bytes + (size_t) out * 2 * PLANE_OBJ_MAX_VALUE;
        uint8_t *hist = snap + PLANE_OBJ_MAX_VALUE;
        uint8_t cur[PLANE_OBJ_MAX_VALUE];
        int err = e->read(e->arg, cur);
        if (err) {
            PLANE_CTR_INC(&s->stats, read_errors);
            continue;
        }
        size_t hlen = 0;
        if (e->has_minus) {
            /*
             * Algorithm 2, lines 5-8.  A fresh entry (no history with this
             * initiator) first adopts the initiator's history of it as its
             * own past contributions, I_mine starting at zero; both steps go
             * to the data plane as one delta.
             */
            bool fresh = last == 0;
            uint8_t *mine = entry_hist(e, slot);
            uint8_t t[PLANE_OBJ_MAX_VALUE], delta[PLANE_OBJ_MAX_VALUE];
            if (fresh) {
                memset(mine, 0, e->vlen);
                plane_merge_plus(&e->merge, snap, cur, it->history, e->vlen);
            } else {
                memcpy(snap, cur, e->vlen);
            }
            memcpy(hist, mine, e->vlen);
            hlen = e->vlen;
            plane_merge_plus(&e->merge, t, mine, it->history, e->vlen);
            plane_merge_minus(&e->merge, delta, it->snapshot, t, e->vlen);
            if (fresh) {
                plane_merge_plus(&e->merge, delta, it->history, delta, e->vlen);
            }
            err = 0;
            if (!is_zero(delta, e->vlen)) {
                err = e->apply(e->arg, delta);
                if (!err) {
                    PLANE_CTR_INC(&s->stats, deltas_applied);
                }
            }
            if (err) {
                /* Nothing changed: leave the item out of the reply. */
                PLANE_CTR_INC(&s->stats, apply_errors);
                PLANE_WARN_RL(&rl, "apply of object %u delta failed: %s",
                              e->obj_id, plane_strerror(err));
                continue;
            }
            if (fresh) {
                PLANE_CTR_INC(&s->stats, adoptions);
            }
            plane_merge_minus(&e->merge, mine, it->snapshot, it->history,
                              e->vlen);
        } else {
            memcpy(snap, cur, e->vlen);
            err = merge_idempotent(s, e, cur, it->snapshot);
            if (err) {
                /* Our snapshot is still worth sending: merging is idempotent. */
                PLANE_CTR_INC(&s->stats, apply_errors);
                PLANE_WARN_RL(&rl, "apply of object %u snapshot failed: %s",
                              e->obj_id, plane_strerror(err));
            }
        }
        e->seqs[slot] = seq;
        PLANE_CTR_INC(&s->stats, items_applied);
        s->items[out++] = (struct plane_body_sync_item){
            .object_id = e->obj_id,
            .key = e->key,
            .key_len = e->klen,
            .snapshot = snap,
            .snapshot_len = e->vlen,
            .history = hist,
            .history_len = (uint32_t) hlen,
        };
    }
    reply->n_items = out;
    PLANE_CTR_ADD(&s->stats, items_sent, out);
    return 0;
}

/* ---- Observability ------------------------------------------------------ */

const struct plane_sync_stats *
plane_sync_stats(const struct plane_sync *s)
{
    return &s->stats;
}

const char *
plane_sync_counter_name(size_t i)
{
    size_t n = sizeof sync_counter_names / sizeof sync_counter_names[0];
    return i < n ? sync_counter_names[i] : NULL;
}

uint64_t
plane_sync_divergence(const struct plane_merge *m, const void *a, const void *b,
                      size_t len)
{
    const uint8_t *pa = a, *pb = b;
    uint64_t d = 0;
    switch (m->op) {
    case PLANE_MERGE_ADD:
    case PLANE_MERGE_MAX:
    case PLANE_MERGE_MIN:
        for (size_t i = 0; i + 8 <= len; i += 8) {
            uint64_t x, y;
            memcpy(&x, pa + i, 8);
            memcpy(&y, pb + i, 8);
            d += x > y ? x - y : y - x;
        }
        return d;
    case PLANE_MERGE_OR:
        for (size_t i = 0; i + 8 <= len; i += 8) {
            uint64_t x, y;
            memcpy(&x, pa + i, 8);
            memcpy(&y, pb + i, 8);
            d += (uint64_t) __builtin_popcountll(x ^ y);
        }
        return d;
    case PLANE_MERGE_NONE:
    case PLANE_MERGE_CUSTOM:
        break;
    }
    for (size_t i = 0; i < len; i++) {
        d += pa[i] != pb[i];
    }
    return d;
}
