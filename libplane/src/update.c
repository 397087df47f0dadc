/* The two-phase update engine: per-update state machines that order entry installs/removals around flow-manager changes. */
#include "update.h"

#include <string.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/alloc.h"
#include "common/log.h"
#include "flowmgr.h"

PLANE_LOG_MODULE(update);

#define UPD_NIL UINT32_MAX
#define UPD_DEFAULT_IN_FLIGHT 256u
#define UPD_MAX_IN_FLIGHT (1u << 20)

/* The states of update.h's diagram; FREE marks an unused slot. */
enum upd_state {
    UPD_FREE = 0,
    UPD_WAIT_SLOT,      /* promote: waiting for a demotion to free residency */
    UPD_INSTALLING,     /* promote: install_entries in flight */
    UPD_FLUSHING,       /* demote: fm entry gone, waiting T_flush */
    UPD_COLLECTING,     /* demote: collect_deltas in flight */
    UPD_COLLECT_WAIT,   /* demote: a collect failed, retry at deadline */
};

struct upd {
    struct plane_flow_key key;
    uint64_t hash;              /* of key, for the key index */
    uint64_t deadline;          /* FLUSHING / COLLECT_WAIT */
    uint32_t gen;               /* bumped per op issued and on free */
    uint32_t next;              /* free list or queue link */
    uint32_t retries;
    uint8_t state;              /* enum upd_state */
    uint16_t estimate;          /* promote: the fm estimate to start with */
};

/* A FIFO of slots linked through upd.next (each queue's deadlines are FIFO too). */
struct upd_queue {
    uint32_t head;
    uint32_t tail;
};

struct plane_update {
    struct plane_update_config cfg;
    struct plane_update_ops ops;
    void *arg;
    struct plane_flowmgr *fm;

    struct upd *slots;
    uint32_t n_slots;
    uint32_t free_head;
    uint32_t n_free;

    /* key -> slot + 1 (0: empty); linear probing, backward-shift deletes. */
    uint32_t *index;
    uint32_t index_mask;

    struct upd_queue waitq;     /* WAIT_SLOT, oldest first */
    struct upd_queue flushq;    /* FLUSHING, earliest deadline first */
    struct upd_queue retryq;    /* COLLECT_WAIT, earliest deadline first */

    uint32_t n_waiting;         /* WAIT_SLOT */
    uint32_t n_installing;      /* INSTALLING */
    uint32_t n_demoting;        /* FLUSHING + COLLECTING + COLLECT_WAIT */
    bool kicking;               /* kick_waiters() is on the stack */
    bool cancelling;            /* plane_update_cancel_all() is on the stack */

    struct plane_update_stats stats;
};

const char *const plane_update_counter_names[] = {
    PLANE_COUNTERS_NAMES(PLANE_UPDATE_COUNTERS)
};
const size_t plane_update_n_counters =
    sizeof plane_update_counter_names / sizeof plane_update_counter_names[0];

/* ---- queues ---- */

static void
queue_init(struct upd_queue *q)
{
    q->head = q->tail = UPD_NIL;
}

static void
queue_push(struct plane_update *eng, struct upd_queue *q, uint32_t i)
{
    eng->slots[i].next = UPD_NIL;
    if (q->tail == UPD_NIL) {
        q->head = i;
    } else {
        eng->slots[q->tail].next = i;
    }
    q->tail = i;
}

static uint32_t
queue_pop(struct plane_update *eng, struct upd_queue *q)
{
    uint32_t i = q->head;
    if (i != UPD_NIL) {
        q->head = eng->slots[i].next;
        if (q->head == UPD_NIL) {
            q->tail = UPD_NIL;
        }
        eng->slots[i].next = UPD_NIL;
    }
    return i;
}

/* ---- the key index ---- */

static uint32_t
index_find(const struct plane_update *eng, const struct plane_flow_key *key,
           uint64_t hash)
{
    for (uint32_t p = (uint32_t) hash & eng->index_mask;;
         p = (p + 1) & eng->index_mask) {
        uint32_t v = eng->index[p];
        if (v == 0) {
            return UPD_NIL;
        }
        if (eng->slots[v - 1].hash == hash
            && memcmp(&eng->slots[v - 1].key, key, sizeof *key) == 0) {
            return v - 1;
        }
    }
}

static void
index_add(struct plane_update *eng, uint32_t i)
{
    uint32_t p = (uint32_t) eng->slots[i].hash & eng->index_mask;
    while (eng->index[p] != 0) {
        p = (p + 1) & eng->index_mask;
    }
    eng->index[p] = i + 1;
}

static void
index_del(struct plane_update *eng, uint32_t i)
{
    uint32_t mask = eng->index_mask;
    uint32_t p = (uint32_t) eng->slots[i].hash & mask;
    while (eng->index[p] != i + 1) {
        p = (p + 1) & mask;
    }
    /* Backward shift: pull later members of the run into the hole. */
    for (uint32_t j = p;;) {
        j = (j + 1) & mask;
        uint32_t v = eng->index[j];
        if (v == 0) {
            break;
        }
        uint32_t home = (uint32_t) eng->slots[v - 1].hash & mask;
        /* The entry at j may stay when its home lies cyclically in (p, j]. */
        bool stays = p <= j ? (p < home && home <= j) : (p < home || home <= j);
        if (!stays) {
            eng->index[p] = v;
            p = j;
        }
    }
    eng->index[p] = 0;
}

/* ---- slots ---- */

static struct upd *
upd_alloc(struct plane_update *eng, const struct plane_flow_key *key, uint64_t hash)
{
    uint32_t i = eng->free_head;
    struct upd *u = &eng->slots[i];

    eng->free_head = u->next;
    eng->n_free--;
    u->key = *key;
    u->hash = hash;
    u->next = UPD_NIL;
    u->retries = 0;
    u->deadline = 0;
    u->estimate = 0;
    index_add(eng, i);
    eng->stats.in_flight++;
    return u;
}

static uint32_t
upd_index(const struct plane_update *eng, const struct upd *u)
{
    return (uint32_t) (u - eng->slots);
}

/* Frees u; its key is copied to *key first, for the finished callback. */
static void
upd_free(struct plane_update *eng, struct upd *u, struct plane_flow_key *key)
{
    uint32_t i = upd_index(eng, u);

    *key = u->key;
    index_del(eng, i);
    u->state = UPD_FREE;
    u->gen++;                   /* any ticket still out there is now stale */
    u->next = eng->free_head;
    eng->free_head = i;
    eng->n_free++;
    eng->stats.in_flight--;
}

static uint64_t
upd_ticket(const struct plane_update *eng, const struct upd *u)
{
    return ((uint64_t) u->gen << 32) | (upd_index(eng, u) + 1);
}

static void
notify(struct plane_update *eng, const struct plane_flow_key *key,
       enum plane_update_kind kind, int status)
{
    if (eng->ops.finished) {
        eng->ops.finished(eng->arg, key, kind, status);
    }
}

/* Flows whose entries are (or are being put) in the app objects. */
static uint32_t
resident(const struct plane_update *eng)
{
    return plane_flowmgr_count(eng->fm) + eng->n_installing + eng->n_demoting;
}

/* ---- transitions ---- */

/* -> INSTALLING.  u may be freed when this returns (synchronous completion). */
static void
start_install(struct plane_update *eng, struct upd *u)
{
    struct plane_flow_key key = u->key;

    u->state = UPD_INSTALLING;
    u->gen++;
    eng->n_installing++;
    eng->ops.install_entries(eng->arg, &key, upd_ticket(eng, u));
}

/* -> COLLECTING.  u may be freed when this returns. */
static void
start_collect(struct plane_update *eng, struct upd *u)
{
    struct plane_flow_key key = u->key;

    u->state = UPD_COLLECTING;
    u->gen++;
    eng->ops.collect_deltas(eng->arg, &key, upd_ticket(eng, u));
}

/* Starts waiting promotions while residency slots are free. */
static void
kick_waiters(struct plane_update *eng)
{
    /* A synchronous completion inside start_install() re-enters here. */
    if (eng->kicking) {
        return;
    }
    eng->kicking = true;
    while (eng->waitq.head != UPD_NIL
           && resident(eng) < plane_flowmgr_capacity(eng->fm)) {
        struct upd *u = &eng->slots[queue_pop(eng, &eng->waitq)];
        eng->n_waiting--;
        start_install(eng, u);
    }
    eng->kicking = false;
}

/*
 * Phase 1 of a demotion: key leaves the flow manager now, so packets that
 * look it up from here on go to the external device; the entries stay for
 * the packets already past the lookup.  The caller checked that key is in
 * fm, has no update and a slot is free.
 */
static void
start_demote(struct plane_update *eng, const struct plane_flow_key *key,
             uint64_t hash, uint64_t now_ns)
{
    int err = plane_flowmgr_remove(eng->fm, key);
    (void) err;                 /* present: the caller checked */
    struct upd *u = upd_alloc(eng, key, hash);
    u->state = UPD_FLUSHING;
    u->deadline = now_ns + eng->cfg.t_flush_ns;
    eng->n_demoting++;
    queue_push(eng, &eng->flushq, upd_index(eng, u));
}

static void
install_done(struct plane_update *eng, struct upd *u, int status, uint64_t now_ns)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_flow_key key;

    eng->n_installing--;
    if (status == 0) {
        /*
         * Phase 2 of a promotion: every object has the entries, so the key
         * may now be found.  Residency accounting keeps fm from being full
         * and only the engine inserts keys, so this fails only when the
         * owner broke that contract.
         */
        status = plane_flowmgr_insert(eng->fm, &u->key, now_ns);
        if (status == 0 && u->estimate) {
            /* The popularity it was admitted with: a key with no hits yet
             * is not the next victim (flowmgr.h). */
            (void) plane_flowmgr_set_estimate(eng->fm, &u->key, u->estimate, now_ns);
        }
        if (status != 0) {
            PLANE_WARN_RL(&rl, "promotion: flow manager insert failed: %s",
                          plane_strerror(status));
        }
    }
    if (status == 0) {
        PLANE_CTR_INC(&eng->stats, promotions);
    } else {
        /* No fm entry exists, so removing (partial) entries now is safe. */
        eng->ops.remove_entries(eng->arg, &u->key);
        PLANE_CTR_INC(&eng->stats, aborts);
    }
    upd_free(eng, u, &key);
    notify(eng, &key, PLANE_UPDATE_PROMOTE, status);
    kick_waiters(eng);
}

static void
collect_done(struct plane_update *eng, struct upd *u, int status, uint64_t now_ns)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_flow_key key;

    if (status != 0 && u->retries < eng->cfg.max_retries) {
        /* The entries still hold the counts: try again later. */
        u->retries++;
        u->state = UPD_COLLECT_WAIT;
        u->deadline = now_ns + eng->cfg.retry_ns;
        queue_push(eng, &eng->retryq, upd_index(eng, u));
        PLANE_CTR_INC(&eng->stats, collect_retries);
        return;
    }
    if (status == 0) {
        PLANE_CTR_INC(&eng->stats, demotions);
    } else {
        char buf[PLANE_FLOW_KEY_STRLEN];
        PLANE_WARN_RL(&rl, "demotion of %s: deltas lost after %u retries: %s",
                      plane_flow_key_format(&u->key, buf, sizeof buf),
                      u->retries, plane_strerror(status));
        PLANE_CTR_INC(&eng->stats, deltas_lost);
    }
    /* Phase 2 of a demotion: T_flush has passed and the deltas are back. */
    eng->ops.remove_entries(eng->arg, &u->key);
    eng->n_demoting--;
    upd_free(eng, u, &key);
    notify(eng, &key, PLANE_UPDATE_DEMOTE, status);
    kick_waiters(eng);
}

/* ---- API ---- */

struct plane_update *
plane_update_new(const struct plane_update_config *cfg, struct plane_flowmgr *fm,
                 const struct plane_update_ops *ops, void *arg)
{
    if (!cfg || !fm || !ops || cfg->t_flush_ns == 0 || !ops->install_entries
        || !ops->remove_entries || !ops->collect_deltas
        || cfg->max_in_flight > UPD_MAX_IN_FLIGHT) {
        return NULL;
    }
    struct plane_update *eng = plane_calloc(1, sizeof *eng);
    if (!eng) {
        return NULL;
    }
    eng->cfg = *cfg;
    if (eng->cfg.max_in_flight == 0) {
        eng->cfg.max_in_flight = UPD_DEFAULT_IN_FLIGHT;
    }
    if (eng->cfg.retry_ns == 0) {
        eng->cfg.retry_ns = eng->cfg.t_flush_ns;
    }
    eng->ops = *ops;
    eng->arg = arg;
    eng->fm = fm;
    eng->n_slots = eng->cfg.max_in_flight;

    uint32_t n_index = 2;
    while (n_index < 2 * eng->n_slots) {
        n_index <<= 1;
    }
    eng->index_mask = n_index - 1;
    eng->slots = plane_calloc(eng->n_slots, sizeof *eng->slots);
    eng->index = plane_calloc(n_index, sizeof *eng->index);
    if (!eng->slots || !eng->index) {
        plane_free(eng->slots);
        plane_free(eng->index);
        plane_free(eng);
        return NULL;
    }
    for (uint32_t i = 0; i < eng->n_slots; i++) {
        eng->slots[i].next = i + 1 < eng->n_slots ? i + 1 : UPD_NIL;
    }
    eng->free_head = 0;
    eng->n_free = eng->n_slots;
    queue_init(&eng->waitq);
    queue_init(&eng->flushq);
    queue_init(&eng->retryq);
    return eng;
}

void
plane_update_delete(struct plane_update *eng)
{
    if (!eng) {
        return;
    }
    plane_update_cancel_all(eng);
    plane_free(eng->slots);
    plane_free(eng->index);
    plane_free(eng);
}

int
plane_update_promote(struct plane_update *eng, const struct plane_flow_key *key,
                     uint64_t now_ns)
{
    return plane_update_promote_est(eng, key, 0, now_ns);
}

int
plane_update_promote_est(struct plane_update *eng, const struct plane_flow_key *key,
                         uint64_t estimate, uint64_t now_ns)
{
    uint16_t est = (uint16_t) (estimate < PLANE_FLOWMGR_EST_MAX ? estimate
                                                                : PLANE_FLOWMGR_EST_MAX);
    if (eng->cancelling) {
        return PLANE_ECANCELED;
    }
    uint64_t hash = plane_flowmgr_hash(eng->fm, key);
    uint32_t i = index_find(eng, key, hash);
    if (i != UPD_NIL) {
        uint8_t st = eng->slots[i].state;
        PLANE_CTR_INC(&eng->stats, refused);
        return (st == UPD_WAIT_SLOT || st == UPD_INSTALLING) ? PLANE_EALREADY
                                                             : PLANE_EBUSY;
    }
    if (plane_flowmgr_contains(eng->fm, key)) {
        PLANE_CTR_INC(&eng->stats, refused);
        return PLANE_EEXIST;
    }
    if (eng->n_free == 0) {
        PLANE_CTR_INC(&eng->stats, refused);
        return PLANE_EAGAIN;
    }
    uint32_t cap = plane_flowmgr_capacity(eng->fm);
    if (resident(eng) + eng->n_waiting >= cap) {
        /*
         * Full.  Each waiting promotion needs one demotion in flight to free
         * its slot; when none is spare, evict the least popular sampled key.
         */
        if (eng->n_demoting <= eng->n_waiting) {
            struct plane_flow_key victim;
            if (eng->n_free < 2 || plane_flowmgr_victim(eng->fm, &victim) != 0) {
                PLANE_CTR_INC(&eng->stats, refused);
                return eng->n_free < 2 ? PLANE_EAGAIN : PLANE_ENOSPC;
            }
            start_demote(eng, &victim, plane_flowmgr_hash(eng->fm, &victim), now_ns);
            PLANE_CTR_INC(&eng->stats, evictions);
        }
        struct upd *u = upd_alloc(eng, key, hash);
        u->estimate = est;
        u->state = UPD_WAIT_SLOT;
        eng->n_waiting++;
        queue_push(eng, &eng->waitq, upd_index(eng, u));
        return 0;
    }
    struct upd *u = upd_alloc(eng, key, hash);
    u->estimate = est;
    start_install(eng, u);
    return 0;
}

int
plane_update_demote(struct plane_update *eng, const struct plane_flow_key *key,
                    uint64_t now_ns)
{
    if (eng->cancelling) {
        return PLANE_ECANCELED;
    }
    uint64_t hash = plane_flowmgr_hash(eng->fm, key);
    uint32_t i = index_find(eng, key, hash);
    if (i != UPD_NIL) {
        uint8_t st = eng->slots[i].state;
        PLANE_CTR_INC(&eng->stats, refused);
        return (st == UPD_WAIT_SLOT || st == UPD_INSTALLING) ? PLANE_EBUSY
                                                             : PLANE_EALREADY;
    }
    if (!plane_flowmgr_contains(eng->fm, key)) {
        return PLANE_ENOENT;
    }
    if (eng->n_free == 0) {
        PLANE_CTR_INC(&eng->stats, refused);
        return PLANE_EAGAIN;
    }
    start_demote(eng, key, hash, now_ns);
    return 0;
}

int
plane_update_done(struct plane_update *eng, uint64_t ticket, int status,
                  uint64_t now_ns)
{
    uint32_t i = (uint32_t) ticket;
    uint32_t gen = (uint32_t) (ticket >> 32);

    if (i == 0 || i > eng->n_slots || eng->slots[i - 1].gen != gen) {
        PLANE_CTR_INC(&eng->stats, stale_done);
        return PLANE_ENOENT;
    }
    struct upd *u = &eng->slots[i - 1];
    switch (u->state) {
    case UPD_INSTALLING:
        install_done(eng, u, status, now_ns);
        return 0;
    case UPD_COLLECTING:
        collect_done(eng, u, status, now_ns);
        return 0;
    default:
        /* A second completion of the same op: the generation still matches. */
        PLANE_CTR_INC(&eng->stats, stale_done);
        return PLANE_ENOENT;
    }
}

void
plane_update_tick(struct plane_update *eng, uint64_t now_ns)
{
    /*
     * Pop before calling out: a collect may complete synchronously and a
     * failed one re-queues itself on retryq with a later deadline.
     */
    while (eng->flushq.head != UPD_NIL
           && eng->slots[eng->flushq.head].deadline <= now_ns) {
        start_collect(eng, &eng->slots[queue_pop(eng, &eng->flushq)]);
    }
    while (eng->retryq.head != UPD_NIL
           && eng->slots[eng->retryq.head].deadline <= now_ns) {
        /* A collect that fails synchronously re-queues at now + retry_ns > now. */
        start_collect(eng, &eng->slots[queue_pop(eng, &eng->retryq)]);
    }
}

uint64_t
plane_update_next_deadline(const struct plane_update *eng)
{
    uint64_t t = UINT64_MAX;
    if (eng->flushq.head != UPD_NIL) {
        t = eng->slots[eng->flushq.head].deadline;
    }
    if (eng->retryq.head != UPD_NIL && eng->slots[eng->retryq.head].deadline < t) {
        t = eng->slots[eng->retryq.head].deadline;
    }
    return t;
}

struct age_ctx {
    struct plane_update *eng;
    uint64_t now_ns;
    size_t started;
};

static void
age_one(void *arg, const struct plane_flow_key *key, uint64_t idle_ns)
{
    struct age_ctx *ctx = arg;
    if (plane_update_demote(ctx->eng, key, ctx->now_ns) == 0) {
        ctx->started++;
    }
}

size_t
plane_update_age(struct plane_update *eng, uint64_t now_ns, uint64_t idle_ns,
                 uint32_t max_buckets)
{
    struct age_ctx ctx = { .eng = eng, .now_ns = now_ns };
    plane_flowmgr_age(eng->fm, now_ns, idle_ns, max_buckets, age_one, &ctx);
    return ctx.started;
}

void
plane_update_cancel_all(struct plane_update *eng)
{
    if (eng->cancelling) {
        return;
    }
    eng->cancelling = true;
    queue_init(&eng->waitq);
    queue_init(&eng->flushq);
    queue_init(&eng->retryq);
    eng->n_waiting = eng->n_installing = eng->n_demoting = 0;
    for (uint32_t i = 0; i < eng->n_slots; i++) {
        struct upd *u = &eng->slots[i];
        enum plane_update_kind kind = PLANE_UPDATE_DEMOTE;
        struct plane_flow_key key;

        switch (u->state) {
        case UPD_FREE:
            continue;
        case UPD_WAIT_SLOT:
            /* Nothing was installed yet. */
            kind = PLANE_UPDATE_PROMOTE;
            PLANE_CTR_INC(&eng->stats, aborts);
            break;
        case UPD_INSTALLING:
            kind = PLANE_UPDATE_PROMOTE;
            eng->ops.remove_entries(eng->arg, &u->key);
            PLANE_CTR_INC(&eng->stats, aborts);
            break;
        default:
            /* A demotion: its fm entry is already gone. */
            eng->ops.remove_entries(eng->arg, &u->key);
            PLANE_CTR_INC(&eng->stats, deltas_lost);
            break;
        }
        upd_free(eng, u, &key);
        notify(eng, &key, kind, PLANE_ECANCELED);
    }
    eng->cancelling = false;
}

bool
plane_update_busy(const struct plane_update *eng, const struct plane_flow_key *key)
{
    return index_find(eng, key, plane_flowmgr_hash(eng->fm, key)) != UPD_NIL;
}

uint32_t
plane_update_in_flight(const struct plane_update *eng)
{
    return (uint32_t) eng->stats.in_flight;
}

const struct plane_update_stats *
plane_update_stats(const struct plane_update *eng)
{
    return &eng->stats;
}
