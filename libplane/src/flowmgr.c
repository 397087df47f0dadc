/* The ExoPlane flow manager: bucketized open addressing over a dense entry array, sampled least-popular victims, admission control, incremental aging. */
#include "flowmgr.h"

#include <stdalign.h>
#include <string.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "common/log.h"

PLANE_LOG_MODULE(flowmgr);

#define FM_SLOTS 8u
#define FM_SLOTS_FULL ((1u << FM_SLOTS) - 1)
#define FM_CACHE_LINE 64
/* An estimate older than this many epochs has been halved to zero. */
#define FM_EST_EPOCHS 16u
/* The default popularity interval: the daemons' popularity_interval_ms. */
#define FM_DEFAULT_EPOCH_NS (100ull * 1000 * 1000)

/*
 * One cache line of lookup metadata.  tag is the top 16 bits of the key's
 * hash, so a lookup compares keys (40 bytes, another line) only on a tag
 * match: about one false match in 8000 probes of a full bucket.
 */
struct fm_bucket {
    alignas(FM_CACHE_LINE) uint16_t tag[FM_SLOTS];
    uint32_t idx[FM_SLOTS];     /* index into entries[] */
    uint32_t overflow;          /* inserts that passed this bucket full */
    uint8_t occupied;           /* bit s: slot s in use */
};
_Static_assert(sizeof(struct fm_bucket) == FM_CACHE_LINE,
               "a bucket is one cache line");

/* A resident key.  pos = bucket * FM_SLOTS + slot points back at its slot. */
struct fm_entry {
    struct plane_flow_key key;
    uint64_t last_hit;
    uint32_t pos;
    /*
     * The decayed popularity estimate, lazily: est hits (saturating at
     * PLANE_FLOWMGR_EST_MAX) as of epoch est_epoch (mod 2^16); it is worth
     * est >> (now's epoch - est_epoch) now.  Two uint16 keep the entry at
     * its old size (the 4 bytes a hit count used).
     */
    uint16_t est;
    uint16_t est_epoch;
};

struct plane_flowmgr {
    struct fm_bucket *buckets;  /* n_buckets, cache-line aligned */
    struct fm_entry *entries;   /* dense: [0, count) in use */
    uint32_t n_buckets;         /* a power of two */
    uint32_t mask;              /* n_buckets - 1 */
    uint32_t capacity;
    uint32_t count;
    uint32_t victim_k;          /* entries plane_flowmgr_victim() examines */
    uint32_t hand;              /* victim sampling starts here */
    uint32_t age_cursor;        /* next bucket plane_flowmgr_age() scans */
    uint64_t epoch_ns;          /* the estimates' halving period */
    uint64_t epoch_start;       /* first ns of the epoch cur_epoch */
    uint64_t cur_epoch;         /* the epoch of the latest time fm was given */
    struct plane_flowmgr_stats stats;
    struct plane_hasher hasher;
};

const char *const plane_flowmgr_counter_names[] = {
    PLANE_COUNTERS_NAMES(PLANE_FLOWMGR_COUNTERS)
};
const size_t plane_flowmgr_n_counters =
    sizeof plane_flowmgr_counter_names / sizeof plane_flowmgr_counter_names[0];

struct plane_flowmgr *
plane_flowmgr_new(uint32_t capacity, const struct plane_hasher *hasher)
{
    if (capacity == 0 || capacity > PLANE_FLOWMGR_MAX_CAPACITY) {
        return NULL;
    }
    struct plane_flowmgr *fm = plane_calloc(1, sizeof *fm);
    if (!fm) {
        return NULL;
    }
    /* At most half of all slots in use when full keeps probe chains short. */
    uint64_t want = ((uint64_t) capacity * 2 + FM_SLOTS - 1) / FM_SLOTS;
    uint32_t n = 1;
    while (n < want) {
        n <<= 1;
    }
    fm->n_buckets = n;
    fm->mask = n - 1;
    fm->capacity = capacity;
    fm->victim_k = PLANE_FLOWMGR_VICTIM_SAMPLES;
    fm->epoch_ns = FM_DEFAULT_EPOCH_NS;
    fm->buckets = plane_aligned_alloc(FM_CACHE_LINE, (size_t) n * sizeof *fm->buckets);
    fm->entries = plane_calloc(capacity, sizeof *fm->entries);
    int err = hasher ? 0 : plane_hasher_init(&fm->hasher, NULL, 0);
    if (!fm->buckets || !fm->entries || err) {
        plane_flowmgr_delete(fm);
        return NULL;
    }
    if (hasher) {
        fm->hasher = *hasher;
    }
    memset(fm->buckets, 0, (size_t) n * sizeof *fm->buckets);
    PLANE_DBG("flow manager: capacity %u, %u buckets", capacity, n);
    return fm;
}

void
plane_flowmgr_delete(struct plane_flowmgr *fm)
{
    if (!fm) {
        return;
    }
    plane_free(fm->buckets);
    plane_free(fm->entries);
    plane_hasher_uninit(&fm->hasher);
    plane_free(fm);
}

uint64_t
plane_flowmgr_hash(const struct plane_flowmgr *fm, const struct plane_flow_key *key)
{
    return plane_hash_flow_key(&fm->hasher, key);
}

static inline uint32_t
fm_home(const struct plane_flowmgr *fm, uint64_t hash)
{
    return (uint32_t) hash & fm->mask;
}

static inline uint16_t
fm_tag(uint64_t hash)
{
    return (uint16_t) (hash >> 48);
}

/*
 * Returns the epoch of now_ns and remembers it as fm's "now" (victim() has
 * no clock).  The division runs once per epoch, not per packet: the cached
 * epoch is reused while now_ns stays inside it.
 */
static inline uint16_t
fm_epoch(struct plane_flowmgr *fm, uint64_t now_ns)
{
    if (now_ns - fm->epoch_start >= fm->epoch_ns) {
        fm->cur_epoch = now_ns / fm->epoch_ns;
        fm->epoch_start = fm->cur_epoch * fm->epoch_ns;
    }
    return (uint16_t) fm->cur_epoch;
}

/* The estimate of ent at epoch `epoch` (mod 2^16): halved once per epoch passed. */
static inline uint32_t
fm_decayed(const struct fm_entry *ent, uint16_t epoch)
{
    uint16_t d = (uint16_t) (epoch - ent->est_epoch);
    return d >= FM_EST_EPOCHS ? 0 : (uint32_t) ent->est >> d;
}

/* Sets ent's estimate to est (saturated) as of epoch. */
static inline void
fm_set_est(struct fm_entry *ent, uint64_t est, uint16_t epoch)
{
    ent->est = (uint16_t) (est < PLANE_FLOWMGR_EST_MAX ? est : PLANE_FLOWMGR_EST_MAX);
    ent->est_epoch = epoch;
}

void
plane_flowmgr_prefetch(const struct plane_flowmgr *fm, uint64_t hash)
{
    __builtin_prefetch(&fm->buckets[fm_home(fm, hash)]);
}

/*
 * Finds key.  Returns its entry index, or UINT32_MAX when absent; *probes
 * gets the number of buckets read beyond the home bucket.
 */
static uint32_t
fm_find(const struct plane_flowmgr *fm, const struct plane_flow_key *key,
        uint64_t hash, uint32_t *probes)
{
    uint32_t b = fm_home(fm, hash);
    uint16_t tag = fm_tag(hash);

    *probes = 0;
    /* Bounded by n_buckets: the table is never full, so some chain ends. */
    for (uint32_t i = 0; i < fm->n_buckets; i++) {
        const struct fm_bucket *bk = &fm->buckets[b];
        unsigned occ = bk->occupied;
        while (occ) {
            unsigned s = (unsigned) __builtin_ctz(occ);
            occ &= occ - 1;
            if (bk->tag[s] == tag) {
                uint32_t e = bk->idx[s];
                if (memcmp(&fm->entries[e].key, key, sizeof *key) == 0) {
                    return e;
                }
            }
        }
        if (bk->overflow == 0) {
            break;
        }
        b = (b + 1) & fm->mask;
        (*probes)++;
    }
    return UINT32_MAX;
}

bool
plane_flowmgr_lookup_hashed(struct plane_flowmgr *fm, const struct plane_flow_key *key,
                            uint64_t hash, uint64_t now_ns)
{
    uint32_t probes;
    uint32_t e = fm_find(fm, key, hash, &probes);

    PLANE_CTR_INC(&fm->stats, lookups);
    if (probes) {
        PLANE_CTR_INC(&fm->stats, overflow_probes);
    }
    if (e == UINT32_MAX) {
        PLANE_CTR_INC(&fm->stats, misses);
        return false;
    }
    PLANE_CTR_INC(&fm->stats, hits);
    struct fm_entry *ent = &fm->entries[e];
    uint16_t epoch = fm_epoch(fm, now_ns);
    ent->last_hit = now_ns;
    fm_set_est(ent, (uint64_t) fm_decayed(ent, epoch) + 1, epoch);
    return true;
}

bool
plane_flowmgr_lookup(struct plane_flowmgr *fm, const struct plane_flow_key *key,
                     uint64_t now_ns)
{
    return plane_flowmgr_lookup_hashed(fm, key, plane_flowmgr_hash(fm, key), now_ns);
}

bool
plane_flowmgr_contains(const struct plane_flowmgr *fm, const struct plane_flow_key *key)
{
    uint32_t probes;
    return fm_find(fm, key, plane_flowmgr_hash(fm, key), &probes) != UINT32_MAX;
}

int
plane_flowmgr_insert(struct plane_flowmgr *fm, const struct plane_flow_key *key,
                     uint64_t now_ns)
{
    uint64_t hash = plane_flowmgr_hash(fm, key);
    uint32_t probes;

    if (fm_find(fm, key, hash, &probes) != UINT32_MAX) {
        PLANE_CTR_INC(&fm->stats, insert_exists);
        return PLANE_EEXIST;
    }
    if (fm->count >= fm->capacity) {
        PLANE_CTR_INC(&fm->stats, insert_full);
        return PLANE_ENOSPC;
    }
    /*
     * Linear probing over buckets.  It terminates: count < capacity <= half
     * of all slots, so some bucket has a free slot.  Every full bucket passed
     * records that a key lives beyond it.
     */
    uint32_t b = fm_home(fm, hash);
    while (fm->buckets[b].occupied == FM_SLOTS_FULL) {
        fm->buckets[b].overflow++;
        b = (b + 1) & fm->mask;
    }
    struct fm_bucket *bk = &fm->buckets[b];
    unsigned s = (unsigned) __builtin_ctz(~(unsigned) bk->occupied & FM_SLOTS_FULL);
    uint32_t e = fm->count++;

    bk->tag[s] = fm_tag(hash);
    bk->idx[s] = e;
    bk->occupied |= (uint8_t) (1u << s);
    fm->entries[e].key = *key;
    fm->entries[e].last_hit = now_ns;
    fm_set_est(&fm->entries[e], 0, fm_epoch(fm, now_ns));
    fm->entries[e].pos = b * FM_SLOTS + s;
    PLANE_CTR_INC(&fm->stats, inserts);
    return 0;
}

int
plane_flowmgr_remove(struct plane_flowmgr *fm, const struct plane_flow_key *key)
{
    uint64_t hash = plane_flowmgr_hash(fm, key);
    uint32_t probes;
    uint32_t e = fm_find(fm, key, hash, &probes);

    if (e == UINT32_MAX) {
        PLANE_CTR_INC(&fm->stats, remove_missing);
        return PLANE_ENOENT;
    }
    uint32_t pos = fm->entries[e].pos;
    uint32_t b = pos / FM_SLOTS;
    fm->buckets[b].occupied &= (uint8_t) ~(1u << (pos % FM_SLOTS));
    /* Undo the overflow marks the insert left on the buckets it passed. */
    for (uint32_t x = fm_home(fm, hash); x != b; x = (x + 1) & fm->mask) {
        fm->buckets[x].overflow--;
    }
    /* Keep entries[] dense: move the last entry into the hole. */
    uint32_t last = --fm->count;
    if (e != last) {
        fm->entries[e] = fm->entries[last];
        uint32_t p = fm->entries[e].pos;
        fm->buckets[p / FM_SLOTS].idx[p % FM_SLOTS] = e;
    }
    memset(&fm->entries[last], 0, sizeof fm->entries[last]);
    PLANE_CTR_INC(&fm->stats, removes);
    return 0;
}

uint32_t
plane_flowmgr_count(const struct plane_flowmgr *fm)
{
    return fm->count;
}

uint32_t
plane_flowmgr_capacity(const struct plane_flowmgr *fm)
{
    return fm->capacity;
}

uint32_t
plane_flowmgr_n_buckets(const struct plane_flowmgr *fm)
{
    return fm->n_buckets;
}

int
plane_flowmgr_last_hit(const struct plane_flowmgr *fm, const struct plane_flow_key *key,
                       uint64_t *last_hit_ns)
{
    uint32_t probes;
    uint32_t e = fm_find(fm, key, plane_flowmgr_hash(fm, key), &probes);

    if (e == UINT32_MAX) {
        return PLANE_ENOENT;
    }
    *last_hit_ns = fm->entries[e].last_hit;
    return 0;
}

void
plane_flowmgr_set_victim_samples(struct plane_flowmgr *fm, uint32_t k)
{
    fm->victim_k = k ? k : 1;
}

void
plane_flowmgr_set_epoch(struct plane_flowmgr *fm, uint64_t epoch_ns)
{
    fm->epoch_ns = epoch_ns ? epoch_ns : FM_DEFAULT_EPOCH_NS;
    /* Estimates stored under the old period decay under the new one;
     * recompute the epoch at the next time fm is given. */
    fm->epoch_start = 0;
    fm->cur_epoch = 0;
}

int
plane_flowmgr_set_estimate(struct plane_flowmgr *fm, const struct plane_flow_key *key,
                           uint64_t estimate, uint64_t now_ns)
{
    uint32_t probes;
    uint32_t e = fm_find(fm, key, plane_flowmgr_hash(fm, key), &probes);

    if (e == UINT32_MAX) {
        return PLANE_ENOENT;
    }
    fm_set_est(&fm->entries[e], estimate, fm_epoch(fm, now_ns));
    return 0;
}

int
plane_flowmgr_estimate(struct plane_flowmgr *fm, const struct plane_flow_key *key,
                       uint64_t now_ns, uint64_t *estimate)
{
    uint32_t probes;
    uint32_t e = fm_find(fm, key, plane_flowmgr_hash(fm, key), &probes);

    if (e == UINT32_MAX) {
        return PLANE_ENOENT;
    }
    *estimate = fm_decayed(&fm->entries[e], fm_epoch(fm, now_ns));
    return 0;
}

/*
 * The entry plane_flowmgr_victim() would pick now: of the k entries from the
 * hand (wrapped), the lowest decayed estimate, the least recently hit among
 * equals.  fm->count > 0.
 */
static uint32_t
fm_sample_min(const struct plane_flowmgr *fm, uint32_t *k_out)
{
    uint32_t k = fm->victim_k < fm->count ? fm->victim_k : fm->count;
    uint32_t hand = fm->hand < fm->count ? fm->hand : 0;
    uint16_t epoch = (uint16_t) fm->cur_epoch;
    uint32_t best = hand;
    uint32_t best_est = fm_decayed(&fm->entries[hand], epoch);

    for (uint32_t i = 1; i < k; i++) {
        uint32_t e = hand + i;
        if (e >= fm->count) {
            e -= fm->count;
        }
        const struct fm_entry *x = &fm->entries[e];
        uint32_t est = fm_decayed(x, epoch);
        if (est < best_est || (est == best_est && x->last_hit < fm->entries[best].last_hit)) {
            best = e;
            best_est = est;
        }
    }
    *k_out = k;
    return best;
}

bool
plane_flowmgr_admits(struct plane_flowmgr *fm, uint64_t estimate, uint64_t now_ns)
{
    if (fm->count < fm->capacity) {
        return true;
    }
    fm_epoch(fm, now_ns);
    uint32_t k;
    uint64_t min = fm_decayed(&fm->entries[fm_sample_min(fm, &k)], (uint16_t) fm->cur_epoch);
    /*
     * A margin over the victim's estimate: two keys of the same rate have
     * estimates that differ by noise, and swapping them back and forth would
     * cost a demotion and a promotion (RPCs, T_flush) for nothing.
     */
    return estimate > min + min / 8 + 1;
}

int
plane_flowmgr_victim(struct plane_flowmgr *fm, struct plane_flow_key *key)
{
    if (fm->count == 0) {
        return PLANE_ENOENT;
    }
    if (fm->hand >= fm->count) {
        fm->hand = 0;
    }
    /*
     * The window moves on by k each call, so repeated victims (one per
     * promotion of a full table) sweep the whole array rather than keep
     * sampling the same neighbourhood.  The estimates decay by themselves
     * (halved every epoch), so a key that was hot an hour ago does not stay
     * resident on its history.
     */
    uint32_t k;
    uint32_t best = fm_sample_min(fm, &k);
    *key = fm->entries[best].key;
    fm->hand = (uint32_t) (((uint64_t) fm->hand + k) % fm->count);
    PLANE_CTR_INC(&fm->stats, victims);
    return 0;
}

size_t
plane_flowmgr_age(struct plane_flowmgr *fm, uint64_t now_ns, uint64_t idle_ns,
                  uint32_t max_buckets, plane_flowmgr_age_cb cb, void *arg)
{
    uint32_t n = (max_buckets == 0 || max_buckets > fm->n_buckets)
                 ? fm->n_buckets : max_buckets;
    size_t reported = 0;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t b = fm->age_cursor;
        fm->age_cursor = (b + 1) & fm->mask;
        /*
         * Keys never move between buckets, and the callback may remove or
         * insert keys: so re-read the bucket for every slot, and report a
         * copy of the key (a remove moves entries inside entries[]).
         */
        for (unsigned s = 0; s < FM_SLOTS; s++) {
            const struct fm_bucket *bk = &fm->buckets[b];
            if (!(bk->occupied & (1u << s))) {
                continue;
            }
            const struct fm_entry *ent = &fm->entries[bk->idx[s]];
            if (now_ns <= ent->last_hit || now_ns - ent->last_hit <= idle_ns) {
                continue;
            }
            struct plane_flow_key copy = ent->key;
            uint64_t idle = now_ns - ent->last_hit;
            reported++;
            PLANE_CTR_INC(&fm->stats, aged);
            if (cb) {
                cb(arg, &copy, idle);
            }
        }
    }
    return reported;
}

const struct plane_flowmgr_stats *
plane_flowmgr_stats(const struct plane_flowmgr *fm)
{
    return &fm->stats;
}
