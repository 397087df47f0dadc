/* Loaded apps and their per-device instances: what daemons and engines use of the app model. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plane/app.h>

#include "common/counters.h"

struct plane_config_app;
struct plane_hasher;
struct plane_object;

/*
 * A validated app: its descriptor, resolved object descriptors and, when
 * loaded from a module, the dlopen() handle that keeps the descriptor and
 * callbacks mapped.  Read-only once created; one app is shared by all the
 * instances of a process.
 */
struct plane_app {
    const struct plane_app_desc *desc;
    /*
     * The object descriptors the runtime uses: copies of desc->objects
     * with the defaults filled in (a sketch's merge NONE becomes ADD for a
     * CMS, OR for a Bloom filter; value_len 8 for sketches; cms_depth 4;
     * bloom_hashes 3).  Name and callback pointers still point into the
     * module.
     */
    struct plane_obj_desc objs[PLANE_APP_MAX_OBJECTS];
    void *dl;                 /* dlopen handle; NULL for plane_app_from_desc */
    char *path;               /* module path (owned); NULL when static */
};

/* Longest app or object name accepted (characters, without the NUL). */
#define PLANE_APP_NAME_MAX 63
/* Largest per-instance private state an app may ask for. */
#define PLANE_APP_MAX_STATE (64u << 20)

/*
 * Checks a descriptor: abi_version, a name of 1..PLANE_APP_NAME_MAX
 * characters of [A-Za-z0-9_.-], union_key_fields non-empty and within
 * PLANE_FLOW_ALL, n_objects <= PLANE_APP_MAX_OBJECTS with objects
 * non-NULL when there are any, each object named (uniquely), of a known kind, keyed by a
 * subset of the union key, value_len <= PLANE_OBJ_MAX_VALUE (and > 0 for
 * registers), size in [1, PLANE_OBJECT_MAX_CAPACITY], a merge operator
 * valid for its kind (plane_merge_init(): NONE for tables, none of NONE for
 * registers; CMS takes NONE or ADD, Bloom NONE or OR), state_size <=
 * PLANE_APP_MAX_STATE, features within the known bits, process non-NULL.
 * Returns 0 or PLANE_EINVAL (PLANE_EVERSION for an ABI mismatch), writing
 * a message naming the app and object to err (err_len bytes, may be NULL):
 *   app "counter": object "flows" (#0): key_fields 0x20 not within ...
 */
int plane_app_validate(const struct plane_app_desc *desc, char *err,
                       size_t err_len);

/*
 * Loads the app module at path: dlopen(RTLD_NOW | RTLD_LOCAL), calls its
 * PLANE_APP_ENTRY function and validates the descriptor.  The module
 * resolves plane_ctx_*() from the process (daemons export them).  Returns
 * the app (free with plane_app_delete()) or NULL with a message in err
 * (dlopen/dlsym errors, an entry returning NULL, validation errors).
 */
struct plane_app *plane_app_load(const char *path, char *err, size_t err_len);

/*
 * Wraps a descriptor linked into the process (tests, built-in apps); desc
 * must outlive the app.  Validation errors are logged.  Returns the app or
 * NULL.
 */
struct plane_app *plane_app_from_desc(const struct plane_app_desc *desc);

/* Frees app and dlclose()s its module; every instance must be gone.
 * NULL is a no-op. */
void plane_app_delete(struct plane_app *app);

const char *plane_app_name(const struct plane_app *app);
uint16_t plane_app_n_objects(const struct plane_app *app);
/* Object i's resolved descriptor (defaults filled), or NULL. */
const struct plane_obj_desc *plane_app_object(const struct plane_app *app,
                                              uint16_t i);
/* Index of the object called name, or -1. */
int plane_app_find_object(const struct plane_app *app, const char *name);

/* Feature bits the app needs that device_features lacks (0: compatible). */
uint32_t plane_app_missing_features(const struct plane_app *app,
                                    uint32_t device_features);
/*
 * Returns 0 when a device offering device_features can run app, else
 * PLANE_EFEATURE, logging the first missing feature by name ("app "dpi"
 * needs feature "regex""); plane_app_missing_features() gives them all.
 */
int plane_app_check_features(const struct plane_app *app,
                             uint32_t device_features);

/* ---- Instances: one app on one device ---- */

#define PLANE_APP_INST_COUNTERS(X)                                             \
    X(processed)        /* frames handed to plane_app_inst_run() */            \
    X(forwarded)        /* final verdict FORWARD */                            \
    X(dropped)          /* final verdict DROP, for any reason */               \
    X(misses)           /* process() returned MISS (first pass) */             \
    X(new_flows)        /* new_flow() calls */                                 \
    X(new_flow_denied)  /* new_flow() refused the packet, or no new_flow */    \
    X(miss_after_new_flow) /* MISS again after new_flow() succeeded */         \
    X(parse_errors)     /* frames plane_pkt_parse() rejected (dropped) */      \
    X(bad_verdicts)     /* process() returned no valid verdict (dropped) */    \
    X(update_overflows) /* table updates refused: result's list full */

struct plane_app_inst_stats {
    PLANE_COUNTERS_FIELDS(PLANE_APP_INST_COUNTERS)
};

/* Names of the counters, in field order (PLANE_APP_INST_N_COUNTERS). */
extern const char *const plane_app_inst_counter_names[];
#define PLANE_APP_INST_N_COUNTERS                                              \
    (sizeof(struct plane_app_inst_stats) / sizeof(uint64_t))

struct plane_app_inst {
    const struct plane_app *app;
    uint16_t device_id;
    bool external;
    const struct plane_hasher *hasher;
    struct plane_object *objects[PLANE_APP_MAX_OBJECTS];
    void *state;              /* app->desc->state_size zeroed bytes, or NULL */
    bool inited;              /* init() succeeded: fini() is due */
    bool log_merges;          /* log register merges in the run result */
    struct plane_app_inst_stats stats;
};

/*
 * Makes plane_app_inst_run() log every register merge process() makes in
 * the run result (PLANE_RUN_MERGE), so an external device can replay them
 * on the other copy of the flow's state.  Off by default (the switch).
 */
void plane_app_inst_log_merges(struct plane_app_inst *inst, bool on);

/*
 * Creates app's instance on device device_id (external: a NIC or server,
 * where new_flow() runs; false: the switch).  Each object gets the
 * capacity cfg names for it (plane_config_app_object_size(); cfg may be
 * NULL) or its descriptor's size.  Then init() runs with cfg's params (the
 * strings are cfg's; init copies what it keeps).  app and hasher must
 * outlive the instance.  Returns the instance or NULL (bad size, out of
 * memory, init() failing; logged).
 */
struct plane_app_inst *plane_app_inst_new(const struct plane_app *app,
                                          const struct plane_config_app *cfg,
                                          uint16_t device_id, bool external,
                                          const struct plane_hasher *hasher);
/* Calls fini() (when init() succeeded) and frees inst.  NULL is a no-op. */
void plane_app_inst_delete(struct plane_app_inst *inst);

/* Object i of the instance, or NULL. */
struct plane_object *plane_app_inst_object(const struct plane_app_inst *inst,
                                           uint16_t i);
const struct plane_app_inst_stats *
plane_app_inst_stats(const struct plane_app_inst *inst);
