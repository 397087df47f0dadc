/* Planner workload: the YAML beside the rack config describing apps' objects, affinity and traffic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/*
 * Schema (see examples/racks/workload-local.yaml for a commented example).
 * As in the rack config, unknown and duplicate keys are errors and every
 * error names file:line:field.  Numbers marked REAL accept decimals and
 * exponents ("0.25", "1e-3"); the others are non-negative integers.
 *
 *   version: 1                          optional
 *   rate_pps: U64                       total packet rate offered to the rack;
 *                                       0 (default) = no rate constraints
 *   switch_latency_us: REAL             per-packet latency at the switch
 *                                       (default 0.4, the paper's 273-384 ns)
 *   devices:                            optional per-device overrides, keyed by
 *     NAME: {latency_us: REAL}          a device (or the switch) of the rack
 *   apps:                               required, 1..PLANE_WORKLOAD_MAX_APPS
 *     - name: NAME                      an app of the rack, unless standalone
 *       standalone: false               true: not in the rack's apps (planning
 *                                       ahead of deployment)
 *       affinity: medium                high = switch only, low = external
 *                                       only, medium = the planner decides
 *       features: [FEATURE...]          features the app needs (compatibility)
 *       weight: REAL                    W_p, its share of the rack's traffic
 *                                       [0, 1]; the weights sum to at most 1
 *       quanta: 16                      Q_p [1, PLANE_WORKLOAD_MAX_QUANTA],
 *                                       cut down to the key count
 *       popularity:                     required, exactly one of:
 *         zipf: {alpha: REAL, keys: U64}    Zipf(alpha) over `keys` keys
 *         fractions: [REAL...]              explicit per-quantum traffic
 *                                           fractions, hottest first (with
 *                                           keys: U64 beside it); quanta is
 *                                           then the list's length
 *         keys: U64
 *         pcap: PATH                        measured: per-flow packet counts of
 *                                           an Ethernet trace (relative to this
 *                                           file), cut into `quanta` ranges
 *       objects:                        0..PLANE_WORKLOAD_MAX_OBJECTS
 *         - name: NAME
 *           kind: table | register | sketch | ternary
 *           key_bytes: 16               [0, 4096]
 *           value_bytes: 8              [0, 65536]
 *           entries_per_flow: 1         table/register: entries per key
 *           entries: 0                  sketch/ternary: fixed entry count
 */

#define PLANE_WORKLOAD_MAX_APPS     256
#define PLANE_WORKLOAD_MAX_OBJECTS  64
#define PLANE_WORKLOAD_MAX_QUANTA   4096
#define PLANE_WORKLOAD_MAX_DEVICES  (PLANE_CONFIG_MAX_DEVICES + 1)

enum plane_affinity {
    PLANE_AFFINITY_MEDIUM = 0,   /* the planner decides */
    PLANE_AFFINITY_HIGH = 1,     /* every quantum at the switch */
    PLANE_AFFINITY_LOW = 2,      /* no quantum at the switch */
};

/* Object kinds; the resource model of each is documented in planner.h. */
enum plane_wl_obj_kind {
    PLANE_WL_OBJ_TABLE = 0,         /* exact-match table, entries per flow */
    PLANE_WL_OBJ_REGISTER = 1,      /* register array indexed per flow */
    PLANE_WL_OBJ_SKETCH = 2,        /* fixed-size counter array (count-min...) */
    PLANE_WL_OBJ_TERNARY = 3,       /* fixed set of ternary rules (ACL...) */
};

struct plane_workload_object {
    char name[PLANE_CONFIG_NAME_MAX];
    enum plane_wl_obj_kind kind;
    uint32_t key_bytes;
    uint32_t value_bytes;
    uint32_t entries_per_flow;
    uint64_t entries;
};

struct plane_workload_zipf {
    double alpha;
    uint64_t keys;
};

struct plane_workload_popularity {
    struct plane_workload_zipf zipf;
    bool has_zipf;
    double *fractions;           /* owned; n_fractions entries */
    size_t n_fractions;
    uint64_t keys;
    bool has_keys;
    char pcap[1024];             /* measured from this trace ("" = not) */
};

struct plane_workload_app {
    char name[PLANE_CONFIG_NAME_MAX];
    bool standalone;
    enum plane_affinity affinity;
    uint32_t features;           /* PLANE_FEAT_* bits */
    double weight;               /* W_p */
    uint32_t quanta;             /* Q_p after the load: <= keys, = n_fractions */
    struct plane_workload_popularity popularity;
    uint64_t keys;               /* after the load: the app's key count */
    struct plane_workload_object *objects;
    size_t n_objects;
};

struct plane_workload_device {
    char name[PLANE_CONFIG_NAME_MAX];
    double latency_us;
    bool has_latency;
};

/* A loaded workload; free with plane_workload_delete(). */
struct plane_workload {
    char *path;
    uint32_t version;
    uint64_t rate_pps;
    double switch_latency_us;
    struct plane_workload_device *devices;
    size_t n_devices;
    struct plane_workload_app *apps;
    size_t n_apps;
};

/*
 * Loads the workload at `path` (or the `len` bytes at `buf`, named `name` in
 * messages).  When `rack` is not NULL, app names must be the rack's apps
 * (or be marked standalone) and device overrides must name its devices or
 * switch.  On success stores a new workload in *out and returns 0; on
 * failure *out is NULL and err (when not NULL) receives "file:line: field:
 * what".  Errors: PLANE_ECONFIG, PLANE_ENOMEM, PLANE_EINVAL (NULL out), or a
 * negative errno when the file cannot be read.
 */
int plane_workload_load_file(const char *path, const struct plane_config *rack,
                             struct plane_workload **out, char *err, size_t err_len);
int plane_workload_load_buf(const char *name, const char *buf, size_t len,
                            const struct plane_config *rack,
                            struct plane_workload **out, char *err, size_t err_len);

/* Frees wl and everything it owns; NULL is a no-op. */
void plane_workload_delete(struct plane_workload *wl);

/* Names of the enums as written in YAML ("medium", "table"); never NULL. */
const char *plane_affinity_name(enum plane_affinity a);
const char *plane_wl_obj_kind_name(enum plane_wl_obj_kind k);
