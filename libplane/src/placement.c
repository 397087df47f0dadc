/* Sharding and failover: HRW shard table plus the logical -> physical device map. */
#include "placement.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/mp.h"
#include "common/wire.h"
#include "common/wire_body.h"

PLANE_LOG_MODULE(placement);

const char *const plane_placement_counter_names[] = {
    PLANE_COUNTERS_NAMES(PLANE_PLACEMENT_COUNTERS)
};

static const char *
state_name(uint8_t state)
{
    static const char *const names[] = { "active", "failover", "recovering", "down" };
    return state <= PLANE_DEVMAP_STATE_MAX ? names[state] : "?";
}

/* Moves a logical device to state next, counting what the move means. */
static void
set_state(struct plane_placement *pl, uint32_t l, uint8_t next, const char *why, uint16_t dev)
{
    struct plane_placement_logical *lg = &pl->logical[l];
    PLANE_INFO("logical %u: device %u %s: %s -> %s", l, dev, why, state_name(lg->state),
               state_name(next));
    if (next == PLANE_DEVMAP_FAILOVER) {
        PLANE_CTR_INC(&pl->stats, failovers);
    } else if (next == PLANE_DEVMAP_DOWN) {
        PLANE_CTR_INC(&pl->stats, lost);
    } else if (next == PLANE_DEVMAP_ACTIVE) {
        PLANE_CTR_INC(&pl->stats, recoveries);
    }
    lg->state = next;
}

int
plane_placement_init(struct plane_placement *pl, uint32_t n_shards, uint64_t seed)
{
    memset(pl, 0, sizeof *pl);
    if (n_shards == 0) {
        n_shards = PLANE_PLACEMENT_DEFAULT_SHARDS;
    }
    if (n_shards > PLANE_PLACEMENT_MAX_SHARDS) {
        return PLANE_EINVAL;
    }
    pl->shard_logical = plane_malloc(n_shards * sizeof *pl->shard_logical);
    if (!pl->shard_logical) {
        return PLANE_ENOMEM;
    }
    for (uint32_t i = 0; i < n_shards; i++) {
        pl->shard_logical[i] = PLANE_DEV_NONE;
    }
    pl->n_shards = n_shards;
    pl->seed = seed;
    return 0;
}

void
plane_placement_uninit(struct plane_placement *pl)
{
    plane_free(pl->shard_logical);
    plane_free(pl->logical);
    plane_free(pl->devs);
    plane_free(pl->scratch);
    memset(pl, 0, sizeof *pl);
}

static struct plane_placement_device *
find_dev(const struct plane_placement *pl, uint16_t id)
{
    for (uint32_t i = 0; i < pl->n_devs; i++) {
        if (pl->devs[i].id == id) {
            return &pl->devs[i];
        }
    }
    return NULL;
}

static bool
dev_up(const struct plane_placement *pl, uint16_t id)
{
    const struct plane_placement_device *d = find_dev(pl, id);
    return d && d->up;
}

int
plane_placement_add_device(struct plane_placement *pl, uint16_t id)
{
    if (id == PLANE_DEV_NONE) {
        return PLANE_EINVAL;
    }
    if (find_dev(pl, id)) {
        return PLANE_EEXIST;
    }
    struct plane_placement_device *d = plane_realloc(pl->devs, (pl->n_devs + 1) * sizeof *d);
    if (!d) {
        return PLANE_ENOMEM;
    }
    pl->devs = d;
    pl->devs[pl->n_devs++] = (struct plane_placement_device) { .id = id, .up = true };
    return 0;
}

/* The HRW weight of logical device l for shard s. */
static uint64_t
hrw_score(const struct plane_placement *pl, uint32_t shard, uint16_t logical)
{
    uint8_t buf[6];
    memcpy(buf, &shard, 4);
    memcpy(buf + 4, &logical, 2);
    return XXH3_64bits_withSeed(buf, sizeof buf, pl->seed);
}

/* Ties (1 in 2^64) go to the lower id so every device computes the same table. */
static bool
hrw_beats(const struct plane_placement *pl, uint32_t shard, uint16_t a, uint16_t b)
{
    if (b == PLANE_DEV_NONE) {
        return true;
    }
    uint64_t sa = hrw_score(pl, shard, a), sb = hrw_score(pl, shard, b);
    return sa > sb || (sa == sb && a < b);
}

/* Returns the present logical device winning shard, or PLANE_DEV_NONE. */
static uint16_t
hrw_owner(const struct plane_placement *pl, uint32_t shard)
{
    uint16_t best = PLANE_DEV_NONE;
    for (uint32_t l = 0; l < pl->n_logical; l++) {
        if (pl->logical[l].present && hrw_beats(pl, shard, (uint16_t) l, best)) {
            best = (uint16_t) l;
        }
    }
    return best;
}

static uint8_t
state_for(const struct plane_placement *pl, uint16_t primary, uint16_t replica)
{
    if (dev_up(pl, primary)) {
        return PLANE_DEVMAP_ACTIVE;
    }
    return (replica != PLANE_DEV_NONE && dev_up(pl, replica)) ? PLANE_DEVMAP_FAILOVER
                                                             : PLANE_DEVMAP_DOWN;
}

int
plane_placement_add_logical(struct plane_placement *pl, uint16_t primary, uint16_t replica,
                            uint16_t *logical)
{
    if (!find_dev(pl, primary) || (replica != PLANE_DEV_NONE && !find_dev(pl, replica))) {
        return PLANE_ENOENT;
    }
    if (pl->n_logical >= PLANE_PLACEMENT_MAX_LOGICAL) {
        return PLANE_ENOSPC;
    }
    uint32_t n = pl->n_logical + 1;
    struct plane_placement_logical *lg = plane_realloc(pl->logical, n * sizeof *lg);
    if (!lg) {
        return PLANE_ENOMEM;
    }
    pl->logical = lg;
    struct plane_body_devmap_item *sc = plane_realloc(pl->scratch, n * sizeof *sc);
    if (!sc) {
        return PLANE_ENOMEM;
    }
    pl->scratch = sc;

    uint16_t id = (uint16_t) pl->n_logical;
    pl->logical[id] = (struct plane_placement_logical) {
        .primary = primary,
        .replica = replica,
        .state = state_for(pl, primary, replica),
        .present = true,
    };
    pl->n_logical = n;
    pl->n_present++;
    /* HRW: the newcomer takes exactly the shards where it outscores the
     * current owner; no other shard moves. */
    for (uint32_t s = 0; s < pl->n_shards; s++) {
        if (hrw_beats(pl, s, id, pl->shard_logical[s])) {
            pl->shard_logical[s] = id;
        }
    }
    pl->epoch++;
    if (logical) {
        *logical = id;
    }
    return 0;
}

int
plane_placement_remove_logical(struct plane_placement *pl, uint16_t logical)
{
    if (logical >= pl->n_logical || !pl->logical[logical].present) {
        return PLANE_ENOENT;
    }
    if (pl->n_present == 1) {
        return PLANE_EBUSY;
    }
    pl->logical[logical].present = false;
    pl->n_present--;
    for (uint32_t s = 0; s < pl->n_shards; s++) {
        if (pl->shard_logical[s] == logical) {
            pl->shard_logical[s] = hrw_owner(pl, s);
        }
    }
    pl->epoch++;
    return 0;
}

int
plane_placement_init_config(struct plane_placement *pl, const struct plane_config *cfg,
                            uint32_t n_shards)
{
    int err = plane_placement_init(pl, n_shards, cfg->rack.hash_seed);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < cfg->n_devices && !err; i++) {
        err = plane_placement_add_device(pl, cfg->devices[i].id);
    }
    for (uint32_t l = 0; l < cfg->shards.n_map && !err; l++) {
        const struct plane_config_shard *sh = &cfg->shards.map[l];
        if (sh->logical != l || sh->primary_idx < 0 || (size_t) sh->primary_idx >= cfg->n_devices
            || (sh->replica_idx >= 0 && (size_t) sh->replica_idx >= cfg->n_devices)) {
            err = PLANE_ECONFIG;
            break;
        }
        uint16_t replica = sh->replica_idx >= 0 ? cfg->devices[sh->replica_idx].id
                                                : PLANE_DEV_NONE;
        err = plane_placement_add_logical(pl, cfg->devices[sh->primary_idx].id, replica, NULL);
    }
    if (!err && pl->n_present == 0) {
        err = PLANE_ECONFIG;
    }
    if (err) {
        plane_placement_uninit(pl);
        return err;
    }
    /* The config is epoch 1: the first map every device agrees on. */
    pl->epoch = 1;
    PLANE_INFO("%u shards over %u logical devices on %u physical devices",
               pl->n_shards, pl->n_present, pl->n_devs);
    return 0;
}

uint32_t
plane_placement_shard(const struct plane_placement *pl, uint64_t key_hash)
{
    return plane_hash_shard(key_hash, pl->n_shards);
}

uint16_t
plane_placement_shard_logical(const struct plane_placement *pl, uint32_t shard)
{
    return shard < pl->n_shards ? pl->shard_logical[shard] : PLANE_DEV_NONE;
}

uint16_t
plane_placement_logical_of(const struct plane_placement *pl, uint64_t key_hash)
{
    if (pl->n_shards == 0) {
        return PLANE_DEV_NONE;
    }
    return pl->shard_logical[plane_hash_shard(key_hash, pl->n_shards)];
}

int
plane_placement_set_init(struct plane_placement_set *s, const struct plane_placement *pl,
                         const struct plane_config *cfg, const struct plane_config_app *app,
                         uint32_t features)
{
    s->ids = NULL;
    s->n = 0;
    bool pinned = app && app->n_devices > 0;
    if ((!features && !pinned) || !pl->n_logical) {
        return 0;
    }
    uint16_t *ids = plane_calloc(pl->n_logical, sizeof *ids);
    if (!ids) {
        return PLANE_ENOMEM;
    }
    uint32_t n = 0;
    bool all = true;
    for (uint32_t l = 0; l < pl->n_logical; l++) {
        const struct plane_placement_logical *lg = plane_placement_get_logical(pl, (uint16_t) l);
        if (!lg) {
            continue;
        }
        /* Only the primary counts: the replica serves the logical only
         * while the primary is down, so pinning an app to a device pins it
         * to the logicals that device serves in normal operation. */
        const struct plane_config_device *d = plane_config_find_device_by_id(cfg, lg->primary);
        if (d && (d->features & features) == features && plane_config_app_allows(app, d->name)) {
            ids[n++] = (uint16_t) l;
        } else {
            all = false;
        }
    }
    if (n == 0 && pinned) {
        plane_free(ids);
        PLANE_ERR("app %s: no listed device is the primary of a logical device with the "
                  "features it needs", app->name);
        return PLANE_ECONFIG;
    }
    if (all || n == 0) {
        plane_free(ids);
        return 0;
    }
    s->ids = ids;
    s->n = n;
    return 0;
}

void
plane_placement_set_uninit(struct plane_placement_set *s)
{
    plane_free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

uint16_t
plane_placement_logical_in(const struct plane_placement *pl,
                           const struct plane_placement_set *s, uint64_t key_hash)
{
    uint16_t l = plane_placement_logical_of(pl, key_hash);
    if (!s || !s->n) {
        return l;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->ids[i] == l) {
            return l;
        }
    }
    /* Outside the set: spread over it with bits the shard did not use. */
    return s->ids[(key_hash >> 32) % s->n];
}

uint16_t
plane_placement_device_in(const struct plane_placement *pl,
                          const struct plane_placement_set *s, uint64_t key_hash)
{
    uint16_t l = plane_placement_logical_in(pl, s, key_hash);
    return l == PLANE_DEV_NONE ? PLANE_DEV_NONE : plane_placement_serving(pl, l);
}

const struct plane_placement_logical *
plane_placement_get_logical(const struct plane_placement *pl, uint16_t logical)
{
    if (logical >= pl->n_logical || !pl->logical[logical].present) {
        return NULL;
    }
    return &pl->logical[logical];
}

uint16_t
plane_placement_serving(const struct plane_placement *pl, uint16_t logical)
{
    const struct plane_placement_logical *lg = plane_placement_get_logical(pl, logical);
    if (!lg) {
        return PLANE_DEV_NONE;
    }
    switch (lg->state) {
    case PLANE_DEVMAP_ACTIVE:
        return lg->primary;
    case PLANE_DEVMAP_FAILOVER:
    case PLANE_DEVMAP_RECOVERING:
        return lg->replica;
    default:
        return PLANE_DEV_NONE;
    }
}

uint16_t
plane_placement_device_of(const struct plane_placement *pl, uint64_t key_hash)
{
    return plane_placement_serving(pl, plane_placement_logical_of(pl, key_hash));
}

bool
plane_placement_device_is_up(const struct plane_placement *pl, uint16_t id)
{
    return dev_up(pl, id);
}

int
plane_placement_device_down(struct plane_placement *pl, uint16_t id)
{
    struct plane_placement_device *d = find_dev(pl, id);
    if (!d) {
        return PLANE_ENOENT;
    }
    d->up = false;
    int changed = 0;
    for (uint32_t l = 0; l < pl->n_logical; l++) {
        struct plane_placement_logical *lg = &pl->logical[l];
        if (!lg->present) {
            continue;
        }
        uint8_t next = lg->state;
        if (lg->primary == id
            && (lg->state == PLANE_DEVMAP_ACTIVE || lg->state == PLANE_DEVMAP_RECOVERING)) {
            next = state_for(pl, lg->primary, lg->replica);
        } else if (lg->replica == id) {
            if (lg->state == PLANE_DEVMAP_FAILOVER) {
                next = PLANE_DEVMAP_DOWN;
            } else if (lg->state == PLANE_DEVMAP_RECOVERING) {
                /* The resync source died: the primary serves what it has. */
                next = PLANE_DEVMAP_ACTIVE;
            }
        }
        if (next != lg->state) {
            set_state(pl, l, next, "down", id);
            changed++;
        }
    }
    if (changed) {
        PLANE_CTR_INC(&pl->stats, device_down);
        pl->epoch++;
    }
    return changed;
}

int
plane_placement_device_up(struct plane_placement *pl, uint16_t id)
{
    struct plane_placement_device *d = find_dev(pl, id);
    if (!d) {
        return PLANE_ENOENT;
    }
    d->up = true;
    int changed = 0;
    for (uint32_t l = 0; l < pl->n_logical; l++) {
        struct plane_placement_logical *lg = &pl->logical[l];
        if (!lg->present) {
            continue;
        }
        uint8_t next = lg->state;
        if (lg->state == PLANE_DEVMAP_FAILOVER && lg->primary == id) {
            next = PLANE_DEVMAP_RECOVERING;
        } else if (lg->state == PLANE_DEVMAP_DOWN && (lg->primary == id || lg->replica == id)) {
            /* Nothing survived to resync from: whoever is back serves. */
            next = state_for(pl, lg->primary, lg->replica);
        }
        if (next != lg->state) {
            set_state(pl, l, next, "up", id);
            changed++;
        }
    }
    if (changed) {
        PLANE_CTR_INC(&pl->stats, device_up);
        pl->epoch++;
    }
    return changed;
}

int
plane_placement_recovered(struct plane_placement *pl, uint16_t logical)
{
    if (logical >= pl->n_logical || !pl->logical[logical].present) {
        return PLANE_ENOENT;
    }
    struct plane_placement_logical *lg = &pl->logical[logical];
    if (lg->state != PLANE_DEVMAP_RECOVERING) {
        return PLANE_ESTATE;
    }
    set_state(pl, logical, PLANE_DEVMAP_ACTIVE, "resynced", lg->primary);
    pl->epoch++;
    return 0;
}

void
plane_placement_devmap(struct plane_placement *pl, struct plane_body_devmap *out)
{
    uint32_t n = 0;
    for (uint32_t l = 0; l < pl->n_logical; l++) {
        const struct plane_placement_logical *lg = &pl->logical[l];
        if (lg->present) {
            pl->scratch[n++] = (struct plane_body_devmap_item) {
                .logical = (uint16_t) l,
                .primary = lg->primary,
                .replica = lg->replica,
                .state = lg->state,
            };
        }
    }
    out->epoch = pl->epoch;
    out->n_items = n;
    out->items = pl->scratch;
}

int
plane_placement_devmap_encode(struct plane_placement *pl, struct plane_mp_writer *w)
{
    struct plane_body_devmap m;
    plane_placement_devmap(pl, &m);
    return plane_body_devmap_encode(&m, w);
}

int
plane_placement_devmap_apply(struct plane_placement *pl, const struct plane_body_devmap *m)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);

    if (m->epoch <= pl->epoch) {
        PLANE_CTR_INC(&pl->stats, devmap_stale);
        return PLANE_EALREADY;
    }
    /* Validate everything before changing anything. */
    if (m->n_items != pl->n_present) {
        PLANE_WARN_RL(&rl, "devmap epoch %llu: %u logical devices, expected %u",
                      (unsigned long long) m->epoch, m->n_items, pl->n_present);
        PLANE_CTR_INC(&pl->stats, devmap_rejected);
        return PLANE_EPROTO;
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        const struct plane_body_devmap_item *it = &m->items[i];
        if (it->logical >= pl->n_logical || !pl->logical[it->logical].present
            || it->state > PLANE_DEVMAP_STATE_MAX) {
            PLANE_WARN_RL(&rl, "devmap epoch %llu: bad logical %u",
                          (unsigned long long) m->epoch, it->logical);
            PLANE_CTR_INC(&pl->stats, devmap_rejected);
            return PLANE_EPROTO;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (m->items[j].logical == it->logical) {
                PLANE_WARN_RL(&rl, "devmap epoch %llu: logical %u twice",
                              (unsigned long long) m->epoch, it->logical);
                PLANE_CTR_INC(&pl->stats, devmap_rejected);
                return PLANE_EPROTO;
            }
        }
    }
    for (uint32_t i = 0; i < m->n_items; i++) {
        const struct plane_body_devmap_item *it = &m->items[i];
        struct plane_placement_logical *lg = &pl->logical[it->logical];
        lg->primary = it->primary;
        lg->replica = it->replica;
        lg->state = it->state;
    }
    pl->epoch = m->epoch;
    PLANE_CTR_INC(&pl->stats, devmap_applied);
    return 0;
}

int
plane_placement_devmap_decode_apply(struct plane_placement *pl, const uint8_t *body, size_t len,
                                    struct plane_mp_zone *z)
{
    struct plane_body_devmap m;
    int err = plane_body_devmap_decode(body, len, z, &m);
    return err ? err : plane_placement_devmap_apply(pl, &m);
}

/* ---- hot keys ------------------------------------------------------------- */

uint32_t
plane_placement_hot_budget(uint32_t n_devices, double c)
{
    if (n_devices <= 1 || !(c > 0.0)) {
        return 0;
    }
    double k = ceil(c * n_devices * log((double) n_devices));
    return k >= (double) UINT32_MAX ? UINT32_MAX : (uint32_t) k;
}

static int
cmp_hot(const void *a, const void *b)
{
    const struct plane_body_pop_item *x = a, *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    uint32_t n = x->union_key_len < y->union_key_len ? x->union_key_len : y->union_key_len;
    int c = n ? memcmp(x->union_key, y->union_key, n) : 0;
    if (c) {
        return c;
    }
    return (x->union_key_len > y->union_key_len) - (x->union_key_len < y->union_key_len);
}

uint32_t
plane_placement_select_hot(struct plane_body_pop_item *items, uint32_t n, uint32_t budget)
{
    if (n > 1) {
        qsort(items, n, sizeof *items, cmp_hot);
    }
    return n < budget ? n : budget;
}
