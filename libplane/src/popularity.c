/* Popularity tracking: a CMS plus top-k heap on devices, and the switch's cold-key policy. */
#include "popularity.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/wire_body.h"

PLANE_LOG_MODULE(popularity);

const char *const plane_pop_counter_names[] = { PLANE_COUNTERS_NAMES(PLANE_POP_COUNTERS) };

/* Seed tweak so the index hash differs from every CMS row hash. */
#define INDEX_SEED_TWEAK 0x706f70756c6172ULL   /* "popular" */

void
plane_pop_params_default(struct plane_pop_params *p)
{
    memset(p, 0, sizeof *p);
    p->epsilon = 1e-4;
    p->delta = 1e-3;
    p->top_k = 256;
    p->hot_threshold = 64;
    p->epoch_ns = 100 * 1000000ULL;
    p->decay_num = 1;
    p->decay_den = 2;
    p->rereport_epochs = 50;
}

int
plane_pop_tracker_init(struct plane_pop_tracker *t, const struct plane_pop_params *p)
{
    memset(t, 0, sizeof *t);
    if (p->top_k == 0 || p->top_k > (1u << 24) || p->hot_threshold == 0 || p->epoch_ns == 0
        || p->decay_den == 0 || p->decay_num >= p->decay_den) {
        return PLANE_EINVAL;
    }
    int err = plane_cms_init_error(&t->cms, p->epsilon, p->delta, p->seed);
    if (err) {
        return err;
    }
    t->p = *p;
    t->n_index = 2;
    while (t->n_index < 2 * p->top_k) {
        t->n_index <<= 1;
    }
    t->heap = plane_calloc(p->top_k, sizeof *t->heap);
    t->index = plane_calloc(t->n_index, sizeof *t->index);
    t->scratch = plane_calloc(p->top_k, sizeof *t->scratch);
    if (!t->heap || !t->index || !t->scratch) {
        plane_pop_tracker_uninit(t);
        return PLANE_ENOMEM;
    }
    return 0;
}

void
plane_pop_tracker_uninit(struct plane_pop_tracker *t)
{
    plane_cms_uninit(&t->cms);
    plane_free(t->heap);
    plane_free(t->index);
    plane_free(t->scratch);
    memset(t, 0, sizeof *t);
}

/* ---- index: key -> heap position, linear probing ------------------------- */

static inline uint64_t
key_hash(const struct plane_pop_tracker *t, const void *key, size_t len)
{
    return XXH3_64bits_withSeed(key, len, t->p.seed ^ INDEX_SEED_TWEAK);
}

static inline uint32_t
home_slot(const struct plane_pop_tracker *t, uint64_t hash)
{
    return (uint32_t) (hash >> 32) & (t->n_index - 1);
}

/* Returns the heap position of key, or -1. */
static int64_t
index_find(const struct plane_pop_tracker *t, const void *key, size_t len, uint64_t hash)
{
    uint32_t mask = t->n_index - 1;
    for (uint32_t s = home_slot(t, hash); t->index[s]; s = (s + 1) & mask) {
        const struct plane_pop_entry *e = &t->heap[t->index[s] - 1];
        if (e->hash == hash && e->key_len == len && !memcmp(e->key, key, len)) {
            return t->index[s] - 1;
        }
    }
    return -1;
}

static void
index_insert(struct plane_pop_tracker *t, uint32_t pos)
{
    uint32_t mask = t->n_index - 1;
    uint32_t s = home_slot(t, t->heap[pos].hash);
    while (t->index[s]) {
        s = (s + 1) & mask;
    }
    t->index[s] = pos + 1;
    t->heap[pos].slot = s;
}

/*
 * Backward-shift deletion: later members of the probe run move up into the
 * hole unless their home slot lies cyclically in (hole, j], which keeps
 * every key reachable from its home without tombstones.
 */
static void
index_remove(struct plane_pop_tracker *t, uint32_t slot)
{
    uint32_t mask = t->n_index - 1;
    uint32_t i = slot, j = slot;
    t->index[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!t->index[j]) {
            return;
        }
        uint32_t k = home_slot(t, t->heap[t->index[j] - 1].hash);
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) {
            continue;
        }
        t->index[i] = t->index[j];
        t->heap[t->index[i] - 1].slot = i;
        t->index[j] = 0;
        i = j;
    }
}

/* ---- min-heap by estimate ------------------------------------------------ */

static void
heap_swap(struct plane_pop_tracker *t, uint32_t a, uint32_t b)
{
    struct plane_pop_entry tmp = t->heap[a];
    t->heap[a] = t->heap[b];
    t->heap[b] = tmp;
    t->index[t->heap[a].slot] = a + 1;
    t->index[t->heap[b].slot] = b + 1;
}

static void
heap_up(struct plane_pop_tracker *t, uint32_t i)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (t->heap[parent].estimate <= t->heap[i].estimate) {
            return;
        }
        heap_swap(t, i, parent);
        i = parent;
    }
}

static void
heap_down(struct plane_pop_tracker *t, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n_heap && t->heap[l].estimate < t->heap[m].estimate) {
            m = l;
        }
        if (r < t->n_heap && t->heap[r].estimate < t->heap[m].estimate) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(t, i, m);
        i = m;
    }
}

/* ---- tracker -------------------------------------------------------------- */

static void
decay_once(struct plane_pop_tracker *t)
{
    uint32_t num = t->p.decay_num, den = t->p.decay_den;
    plane_cms_decay(&t->cms, num, den);
    /* Scaling by one monotone factor keeps the heap ordered. */
    for (uint32_t i = 0; i < t->n_heap; i++) {
        t->heap[i].estimate = (uint64_t) ((unsigned __int128) t->heap[i].estimate * num / den);
    }
    t->total = (uint64_t) ((unsigned __int128) t->total * num / den);
    t->epoch++;
    PLANE_CTR_INC(&t->stats, epochs);
}

bool
plane_pop_tick(struct plane_pop_tracker *t, uint64_t now)
{
    if (t->next_epoch_ns == 0) {
        t->next_epoch_ns = now + t->p.epoch_ns;
        return false;
    }
    if (now < t->next_epoch_ns) {
        return false;
    }
    /* After a long stall decay once per missed epoch, but 64 halvings
     * already empty any counter, so stop there and resynchronise. */
    uint64_t missed = (now - t->next_epoch_ns) / t->p.epoch_ns + 1;
    for (uint64_t i = 0; i < missed && i < 64; i++) {
        decay_once(t);
    }
    if (missed > 64) {
        t->epoch += missed - 64;
    }
    t->next_epoch_ns += missed * t->p.epoch_ns;
    return true;
}

void
plane_pop_observe(struct plane_pop_tracker *t, const void *key, size_t len,
                  uint64_t count, uint64_t now)
{
    if (!t->heap || count == 0) {
        return;
    }
    plane_pop_tick(t, now);
    PLANE_CTR_ADD(&t->stats, observed, count);
    t->total += count;
    uint64_t est = plane_cms_add_estimate(&t->cms, key, len, count);
    if (len > PLANE_POP_KEY_MAX) {
        return;
    }
    uint64_t hash = key_hash(t, key, len);
    int64_t pos = index_find(t, key, len, hash);
    if (pos >= 0) {
        /* Counters only grow between decays, so this normally sifts down;
         * the other branch keeps the heap right whatever the sketch says. */
        uint64_t old_est = t->heap[pos].estimate;
        t->heap[pos].estimate = est;
        if (est < old_est) {
            heap_up(t, (uint32_t) pos);
        } else {
            heap_down(t, (uint32_t) pos);
        }
        return;
    }
    uint32_t at;
    if (t->n_heap < t->p.top_k) {
        at = t->n_heap++;
    } else if (est > t->heap[0].estimate) {
        /* Evict the coldest candidate: its report flag goes with it, so it
         * is reported afresh if it comes back. */
        index_remove(t, t->heap[0].slot);
        PLANE_CTR_INC(&t->stats, evicted);
        at = 0;
    } else {
        return;
    }
    PLANE_CTR_INC(&t->stats, candidates);
    struct plane_pop_entry *e = &t->heap[at];
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->estimate = est;
    e->key_len = (uint8_t) len;
    memcpy(e->key, key, len);
    index_insert(t, at);
    if (at == 0 && t->n_heap > 1) {
        heap_down(t, 0);
    } else {
        heap_up(t, at);
    }
}

static int
cmp_hotter(const void *a, const void *b, void *arg)
{
    const struct plane_pop_entry *heap = arg;
    uint64_t ea = heap[*(const uint32_t *) a].estimate;
    uint64_t eb = heap[*(const uint32_t *) b].estimate;
    return (ea < eb) - (ea > eb);
}

uint32_t
plane_pop_report(struct plane_pop_tracker *t, struct plane_body_pop_item *items, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->n_heap; i++) {
        const struct plane_pop_entry *e = &t->heap[i];
        if (e->estimate < t->p.hot_threshold) {
            continue;
        }
        bool due = !e->reported
                   || (t->p.rereport_epochs
                       && t->epoch - e->reported_epoch >= t->p.rereport_epochs);
        if (due) {
            t->scratch[n++] = i;
        }
    }
    if (n > 1) {
        qsort_r(t->scratch, n, sizeof *t->scratch, cmp_hotter, t->heap);
    }
    if (n > max) {
        n = max;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct plane_pop_entry *e = &t->heap[t->scratch[i]];
        if (e->reported) {
            PLANE_CTR_INC(&t->stats, rereported);
        }
        PLANE_CTR_INC(&t->stats, reported);
        e->reported = true;
        e->reported_epoch = t->epoch;
        items[i].union_key = e->key;
        items[i].union_key_len = e->key_len;
        items[i].count = e->estimate;
    }
    if (n) {
        PLANE_DBG("epoch %llu: %u hot keys to report", (unsigned long long) t->epoch, n);
    }
    return n;
}

bool
plane_pop_unmark(struct plane_pop_tracker *t, const void *key, size_t len)
{
    if (!t->heap || len > PLANE_POP_KEY_MAX) {
        return false;
    }
    int64_t pos = index_find(t, key, len, key_hash(t, key, len));
    if (pos < 0) {
        return false;
    }
    t->heap[pos].reported = false;
    PLANE_CTR_INC(&t->stats, unmarked);
    return true;
}

uint64_t
plane_pop_estimate(const struct plane_pop_tracker *t, const void *key, size_t len)
{
    return plane_cms_estimate(&t->cms, key, len);
}

/* ---- switch side ---------------------------------------------------------- */

void
plane_pop_cold_policy_default(struct plane_pop_cold_policy *p, uint64_t idle_ns)
{
    p->idle_ns = idle_ns;
    p->min_dwell_ns = idle_ns;
    p->cold_hits = 1;
    p->streak = 3;
}

void
plane_pop_cold_state_init(struct plane_pop_cold_state *st, uint64_t now, uint64_t hits)
{
    st->installed_ns = now;
    st->last_hits = hits;
    st->cold_streak = 0;
}

bool
plane_pop_cold_check(const struct plane_pop_cold_policy *p, struct plane_pop_cold_state *st,
                     uint64_t now, uint64_t last_hit_ns, uint64_t hits)
{
    uint64_t gained = hits >= st->last_hits ? hits - st->last_hits : hits;
    st->last_hits = hits;
    if (now < st->installed_ns || now - st->installed_ns < p->min_dwell_ns) {
        /* A fresh promotion gets time to prove itself: the two-phase
         * install costs more than a few cold checks are worth. */
        st->cold_streak = 0;
        return false;
    }
    if (p->idle_ns && now >= last_hit_ns && now - last_hit_ns >= p->idle_ns) {
        return true;
    }
    if (p->cold_hits == 0) {
        return false;
    }
    if (gained < p->cold_hits) {
        st->cold_streak++;
    } else {
        st->cold_streak = 0;
    }
    return st->cold_streak >= (p->streak ? p->streak : 1);
}
