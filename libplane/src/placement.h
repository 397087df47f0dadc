/* Sharding and failover: union key -> shard -> logical device -> physical device. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/counters.h"

struct plane_config;
struct plane_body_devmap;
struct plane_body_devmap_item;
struct plane_body_pop_item;
struct plane_mp_writer;
struct plane_mp_zone;

/*
 * ExoPlane section 4.4: entries are sharded across external devices by
 * union key, and each logical device is a primary with a replica sharing
 * its logical id, so failover is one rewrite of the logical -> physical map
 * (the DEVMAP_UPDATE message), never a reshuffle of keys.
 *
 *   union key hash --plane_hash_shard--> shard (n_shards, fixed)
 *   shard --HRW over logical devices-->  logical device (the shard table)
 *   logical --devmap state-->            physical primary or replica
 *
 * The shard table uses rendezvous (highest random weight) hashing: each
 * shard goes to the logical device scoring highest for it, so adding a
 * logical device takes only the shards it now wins, and removing one moves
 * only its own shards.  Every device of the rack builds the same table from
 * the same config and seed; only the devmap travels on the wire.
 *
 * Devmap states per logical device (enum plane_devmap_state):
 *
 *     ACTIVE --primary down, replica up--> FAILOVER --primary up--> RECOVERING
 *       ^  \--both down--> DOWN               |                       |
 *       |                   | replica up: FAILOVER; primary up: ACTIVE |
 *       +----------- plane_placement_recovered() (resync done) <-------+
 *
 * ACTIVE is served by the primary; FAILOVER and RECOVERING by the replica
 * (which holds the newest state until the primary has resynced); DOWN by
 * nothing.  The epoch increases on every call that changes the map.
 */

/* Default number of shards: enough that HRW spreads them within about 2%
 * (one standard deviation) over a handful of logical devices. */
#define PLANE_PLACEMENT_DEFAULT_SHARDS 16384u
#define PLANE_PLACEMENT_MAX_SHARDS (1u << 20)
#define PLANE_PLACEMENT_MAX_LOGICAL 4096u

struct plane_placement_logical {
    uint16_t primary;           /* physical device id */
    uint16_t replica;           /* physical device id, or PLANE_DEV_NONE */
    uint8_t state;              /* enum plane_devmap_state */
    bool present;               /* false once removed */
};

struct plane_placement_device {
    uint16_t id;
    bool up;
};

/* Placement counters, exported by name (plane_placement_counter_names). */
#define PLANE_PLACEMENT_COUNTERS(X)                                            \
    X(device_down)      /* device_down calls that changed the map */           \
    X(device_up)        /* device_up calls that changed the map */             \
    X(failovers)        /* logicals moved to their replica */                  \
    X(recoveries)       /* logicals back on their primary */                   \
    X(lost)             /* logicals gone DOWN */                               \
    X(devmap_applied)   /* DEVMAP_UPDATEs adopted */                           \
    X(devmap_stale)     /* ignored: epoch not newer */                         \
    X(devmap_rejected)  /* refused: malformed */
struct plane_placement_stats {
    PLANE_COUNTERS_FIELDS(PLANE_PLACEMENT_COUNTERS)
};
extern const char *const plane_placement_counter_names[];
#define PLANE_PLACEMENT_N_COUNTERS (sizeof(struct plane_placement_stats) / sizeof(uint64_t))

/* Caller-owned; everything it points to is owned by it. */
struct plane_placement {
    uint64_t seed;
    uint64_t epoch;
    uint32_t n_shards;
    uint16_t *shard_logical;                /* n_shards; PLANE_DEV_NONE = none */
    struct plane_placement_logical *logical;  /* by logical id */
    uint32_t n_logical;                     /* ids in use, present or not */
    uint32_t n_present;
    struct plane_placement_device *devs;
    uint32_t n_devs;
    struct plane_body_devmap_item *scratch; /* n_logical, for encoding */
    struct plane_placement_stats stats;
};

/*
 * The logical devices an app's keys may map to: those whose primary device
 * has every feature the app needs (a NIC without payload access never
 * serves an app that reads payloads) and, when the app's config lists
 * `devices:`, is one of them (app pinning).  A key whose shard maps outside
 * the set is remapped into it by its hash, the same way on every daemon
 * (all derive the set from the same config), so the switch, the devices and
 * their replication agree on each key's logical device.  An empty set means
 * every logical: no restriction, or no primary with the features (a
 * feature mismatch is tolerated; a `devices:` list never is).
 */
struct plane_placement_set {
    uint16_t *ids;
    uint32_t n;
};

struct plane_config;
struct plane_config_app;
/*
 * Fills s for app (its `devices:` list; NULL: none) needing `features` under
 * cfg's devices and pl's logicals.  Returns 0, PLANE_ENOMEM, or
 * PLANE_ECONFIG when app lists devices and no logical device's primary is
 * both listed and capable (the loader already rejects a list naming no
 * primary at all).
 */
int plane_placement_set_init(struct plane_placement_set *s, const struct plane_placement *pl,
                             const struct plane_config *cfg,
                             const struct plane_config_app *app, uint32_t features);
void plane_placement_set_uninit(struct plane_placement_set *s);
/* The logical device of key_hash for an app restricted to s (NULL: none). */
uint16_t plane_placement_logical_in(const struct plane_placement *pl,
                                    const struct plane_placement_set *s, uint64_t key_hash);
/* The device serving key_hash for an app restricted to s, or PLANE_DEV_NONE. */
uint16_t plane_placement_device_in(const struct plane_placement *pl,
                                   const struct plane_placement_set *s, uint64_t key_hash);

/*
 * Initialises an empty placement of n_shards shards (0 = the default)
 * hashing with seed.  Returns 0, PLANE_EINVAL or PLANE_ENOMEM.
 */
int plane_placement_init(struct plane_placement *pl, uint32_t n_shards, uint64_t seed);
void plane_placement_uninit(struct plane_placement *pl);

/*
 * Builds pl from cfg: every device of cfg->devices (up), one logical
 * device per cfg->shards.map entry, seeded by cfg->rack.hash_seed.
 * Returns 0, PLANE_EINVAL, PLANE_ECONFIG (a shard naming no device) or
 * PLANE_ENOMEM; on error pl is left uninitialised.
 */
int plane_placement_init_config(struct plane_placement *pl, const struct plane_config *cfg,
                                uint32_t n_shards);

/* Registers physical device id (initially up).  Returns 0, PLANE_EEXIST,
 * PLANE_EINVAL (PLANE_DEV_NONE) or PLANE_ENOMEM. */
int plane_placement_add_device(struct plane_placement *pl, uint16_t id);

/*
 * Adds a logical device served by primary with replica (PLANE_DEV_NONE for
 * none); both must be registered devices.  Its id is the next unused one,
 * stored in *logical when logical is not NULL.  Takes over only the shards
 * it wins under HRW.  Bumps the epoch.  Returns 0, PLANE_ENOENT, PLANE_ENOSPC
 * or PLANE_ENOMEM.
 */
int plane_placement_add_logical(struct plane_placement *pl, uint16_t primary, uint16_t replica,
                                uint16_t *logical);

/* Removes logical device id (its id is not reused); only its shards move.
 * Bumps the epoch.  Returns 0, PLANE_ENOENT or PLANE_EBUSY (the last one). */
int plane_placement_remove_logical(struct plane_placement *pl, uint16_t logical);

/* Returns the shard of a union key hash (plane_hash64 of the key). */
uint32_t plane_placement_shard(const struct plane_placement *pl, uint64_t key_hash);

/* Returns the logical device owning shard, or PLANE_DEV_NONE. */
uint16_t plane_placement_shard_logical(const struct plane_placement *pl, uint32_t shard);

/* Returns the logical device owning a union key hash, or PLANE_DEV_NONE. */
uint16_t plane_placement_logical_of(const struct plane_placement *pl, uint64_t key_hash);

/* Returns the physical device now serving logical (by its state), or
 * PLANE_DEV_NONE when it is DOWN or unknown. */
uint16_t plane_placement_serving(const struct plane_placement *pl, uint16_t logical);

/* Returns the physical device serving a union key hash, or PLANE_DEV_NONE. */
uint16_t plane_placement_device_of(const struct plane_placement *pl, uint64_t key_hash);

/* Returns logical's entry, or NULL if it does not exist (or was removed). */
const struct plane_placement_logical *
plane_placement_get_logical(const struct plane_placement *pl, uint16_t logical);

/* Returns whether physical device id is registered and up. */
bool plane_placement_device_is_up(const struct plane_placement *pl, uint16_t id);

/*
 * Marks physical device id down: logicals it was serving fail over to their
 * replica (or go DOWN).  Returns the number of logical devices whose state
 * changed (the epoch is bumped once when it is not 0), or PLANE_ENOENT.
 */
int plane_placement_device_down(struct plane_placement *pl, uint16_t id);

/*
 * Marks physical device id up: logicals in FAILOVER whose primary it is go
 * RECOVERING (the primary must resync from the replica before it serves),
 * DOWN ones come back to whichever device is up.  Returns the number of
 * logicals changed (epoch bumped once if not 0), or PLANE_ENOENT.
 */
int plane_placement_device_up(struct plane_placement *pl, uint16_t id);

/* Ends a RECOVERING logical's resync: back to ACTIVE on its primary.
 * Returns 0 (epoch bumped), PLANE_ENOENT or PLANE_ESTATE (not RECOVERING). */
int plane_placement_recovered(struct plane_placement *pl, uint16_t logical);

/*
 * Describes the map as a DEVMAP_UPDATE body.  out->items points into pl's
 * scratch: valid until pl next changes.
 */
void plane_placement_devmap(struct plane_placement *pl, struct plane_body_devmap *out);

/* Encodes the map as a DEVMAP_UPDATE body into w.  Returns 0 or PLANE_EMSGSIZE. */
int plane_placement_devmap_encode(struct plane_placement *pl, struct plane_mp_writer *w);

/*
 * Adopts a DEVMAP_UPDATE (on a device, or a standby switch).  It must name
 * exactly pl's present logical devices, with states in range.  Returns 0,
 * PLANE_EALREADY (epoch not newer than pl's: stale, ignored) or
 * PLANE_EPROTO (a logical device unknown or missing); pl is unchanged on
 * error.  Device up/down flags are not carried and stay as they were.
 */
int plane_placement_devmap_apply(struct plane_placement *pl, const struct plane_body_devmap *m);

/* Decodes body (a DEVMAP_UPDATE) with zone z and applies it. */
int plane_placement_devmap_decode_apply(struct plane_placement *pl, const uint8_t *body,
                                        size_t len, struct plane_mp_zone *z);

/* ---- hot keys for load balance ------------------------------------------ */

/*
 * How many of the hottest keys the switch must cache so the N external
 * devices stay balanced whatever the skew: ceil(c * N * ln N) (ExoPlane
 * section 4.4, after Fan et al., "Small cache, big effect").  Returns 0 for
 * N <= 1 (nothing to balance) and saturates at UINT32_MAX.
 */
uint32_t plane_placement_hot_budget(uint32_t n_devices, double c);

/*
 * Orders items (popularity reports, merged) hottest first and returns how
 * many of them to cache: min(n, budget).  The order of equal counts is by
 * key bytes, so every run chooses the same keys.
 */
uint32_t plane_placement_select_hot(struct plane_body_pop_item *items, uint32_t n,
                                    uint32_t budget);
