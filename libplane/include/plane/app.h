/* The app model: what a Plane app declares and the API its callbacks use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plane/features.h>
#include <plane/flow.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An app is a loadable module (.so) exporting one function,
 *
 *     const struct plane_app_desc *plane_app_register(void);
 *
 * whose descriptor has abi_version == PLANE_APP_ABI_VERSION.  The same
 * module runs on the switch and on every external device: packet-pinning
 * means a packet is processed entirely by one copy of the app, with the
 * state of its union key present on that device (ExoPlane section 4).
 */
#define PLANE_APP_ABI_VERSION 1
#define PLANE_APP_ENTRY "plane_app_register"

#define PLANE_APP_MAX_OBJECTS 16
#define PLANE_OBJ_MAX_KEY 64       /* bytes of an object key */
#define PLANE_OBJ_MAX_VALUE 64     /* bytes of an object value */

/*
 * Kinds of stateful objects.  Tables are updated only by control logic and
 * are kept strongly consistent across copies; the rest are updated per
 * packet and kept within T_e of each other by the snapshot+history sync
 * protocol, which needs each object's merge operator.
 */
enum plane_obj_kind {
    PLANE_OBJ_TABLE = 0,     /* exact match key -> value, control-plane updated */
    PLANE_OBJ_REGISTER = 1,  /* keyed values updated per packet; merge operator */
    PLANE_OBJ_CMS = 2,       /* count-min sketch (add-merged array of counters) */
    PLANE_OBJ_BLOOM = 3,     /* Bloom filter (or-merged array of bit words) */
};

/*
 * Merge operators of data-plane-updatable objects (the paper's o+ and o-).
 * Built-in operators treat a value as value_len / 8 native uint64_t words
 * combined word by word; CUSTOM sees raw bytes.  ADD has a minus (subtraction); OR, MAX and MIN are
 * idempotent and have none, so sync merges snapshots directly.
 */
enum plane_merge_op {
    PLANE_MERGE_NONE = 0,    /* tables */
    PLANE_MERGE_ADD,         /* wrapping add, minus = wrapping subtract */
    PLANE_MERGE_OR,
    PLANE_MERGE_MAX,
    PLANE_MERGE_MIN,
    PLANE_MERGE_CUSTOM,      /* plane_obj_desc.plus / .minus */
};

/* out = a o b over len bytes.  out may alias a or b. */
typedef void (*plane_merge_fn)(void *out, const void *a, const void *b, size_t len);

struct plane_obj_desc {
    const char *name;
    enum plane_obj_kind kind;
    /*
     * The object's key as fields of the packet's flow key (PLANE_FLOW_*):
     * a per-flow table uses PLANE_FLOW_ALL, a per-source counter shared by
     * many flows PLANE_FLOW_SRC_IP.  Every object's fields are a subset of
     * the app's union key fields, so the union key finds all of a packet's
     * state.  Ignored for CMS and BLOOM, which are whole-object arrays.
     */
    uint32_t key_fields;
    uint16_t value_len;      /* bytes; a multiple of 8 for built-in merges */
    uint32_t size;           /* default entries (tables, registers) or
                              * counters/bits (cms: width*depth, bloom: bits) */
    uint16_t cms_depth;      /* rows of a CMS (default 4) */
    uint16_t bloom_hashes;   /* hash functions of a Bloom filter (default 3) */
    enum plane_merge_op merge;
    plane_merge_fn plus;     /* CUSTOM only; required */
    plane_merge_fn minus;    /* CUSTOM only; NULL makes plus idempotent-merged */
};

/* Opaque per-packet context: the packet, the device's objects, the verdict. */
struct plane_ctx;

/* What process() decided; returned by the callback. */
enum plane_verdict {
    PLANE_V_FORWARD = 0,     /* send to the port set with plane_ctx_forward() */
    PLANE_V_DROP = 1,        /* drop (counted per app) */
    PLANE_V_MISS = 2,        /* the flow's state is missing: run new_flow() */
};

struct plane_app_param {
    const char *key;
    const char *value;
};

struct plane_app_desc {
    uint32_t abi_version;            /* PLANE_APP_ABI_VERSION */
    const char *name;
    uint32_t union_key_fields;       /* PLANE_FLOW_* */
    const struct plane_obj_desc *objects;
    uint16_t n_objects;
    uint32_t features;               /* PLANE_FEAT_* the app needs */
    size_t state_size;               /* bytes of per-instance private state */

    /*
     * Called once per device after the objects exist; params come from the
     * rack config.  state points to state_size zeroed bytes.  Returns 0 or
     * a negative PLANE_E* code (the load fails).  Optional.
     */
    int (*init)(void *state, const struct plane_app_param *params, size_t n_params);
    /* Releases what init() acquired.  Optional. */
    void (*fini)(void *state);
    /*
     * Processes one packet on whichever device holds its state.  Reads and
     * updates objects through plane_ctx_*(), may rewrite the frame, and
     * returns a verdict.  Must not block or allocate.  A MISS should be
     * returned before updating any state: after new_flow() the packet is
     * processed again from the start.
     */
    enum plane_verdict (*process)(struct plane_ctx *ctx, void *state);
    /*
     * Control logic for a packet whose state is missing (the first packet
     * of a flow): inserts table entries with plane_ctx_table_insert(), then
     * returns 0 to have the packet processed, or a verdict-like drop with
     * PLANE_EPERM (the packet is dropped and counted).  Runs only on
     * external devices, never at the switch.  Optional: without it a miss
     * is a drop.
     */
    int (*new_flow)(struct plane_ctx *ctx, void *state);
    /*
     * Maps a packet's flow key (as it arrived) to the key its state lives
     * under; the union key, the shard, the flow-manager entry and every
     * object key are built from the result.  This is how both directions of
     * a connection share one union key: a firewall maps an inbound packet to
     * its outbound key (plane_flow_key_reverse()), a deterministic NAT maps
     * both directions to (remote endpoint, public endpoint).  It runs on the
     * switch before any state is found, so it must be a pure function of
     * the key and of what init() stored in state (never of objects),
     * cheap, and idempotent (a state key maps to itself, which is how the
     * switch checks a reported union key).  out starts zeroed.  Optional:
     * NULL keeps the packet's key.
     */
    void (*state_key)(const struct plane_flow_key *pkt,
                      struct plane_flow_key *out, const void *state);
};

/* The symbol an app module exports. */
typedef const struct plane_app_desc *(*plane_app_register_fn)(void);

/* ---- Packet access (any callback) ---- */

/*
 * Returns the key the packet's state is keyed and placed by: its full flow
 * key (5-tuple) as it arrived, before any plane_ctx_set_*() rewrite, passed
 * through the app's state_key() when it has one.  Never NULL.
 */
const struct plane_flow_key *plane_ctx_flow_key(const struct plane_ctx *ctx);
/*
 * Returns the packet's own flow key as it arrived (its direction), before
 * state_key() and before any rewrite.  Never NULL.
 */
const struct plane_flow_key *plane_ctx_packet_key(const struct plane_ctx *ctx);
/* Returns the frame and its length.  The frame may be rewritten in place. */
uint8_t *plane_ctx_frame(struct plane_ctx *ctx, size_t *len);
/* Returns the port the packet entered the rack on. */
uint16_t plane_ctx_in_port(const struct plane_ctx *ctx);
/* Returns the current time in ns (the daemon's clock, so tests can drive it). */
uint64_t plane_ctx_now_ns(const struct plane_ctx *ctx);
/* Returns this device's id (the switch's or an external device's). */
uint16_t plane_ctx_device(const struct plane_ctx *ctx);
/* True on an external device (where new_flow() may run). */
bool plane_ctx_is_external(const struct plane_ctx *ctx);

/* ---- Actions ---- */

/* Sets the egress port of a PLANE_V_FORWARD verdict (default: in port). */
void plane_ctx_forward(struct plane_ctx *ctx, uint16_t port);
/* Rewrites IPv4 addresses / L4 ports in place, keeping checksums right. */
int plane_ctx_set_ipv4_src(struct plane_ctx *ctx, const uint8_t addr[4]);
int plane_ctx_set_ipv4_dst(struct plane_ctx *ctx, const uint8_t addr[4]);
int plane_ctx_set_sport(struct plane_ctx *ctx, uint16_t port);
int plane_ctx_set_dport(struct plane_ctx *ctx, uint16_t port);

/* ---- Objects (obj is the index into plane_app_desc.objects) ---- */

/*
 * Builds obj's key for this packet from its key_fields into key (at least
 * PLANE_OBJ_MAX_KEY bytes).  Returns the key length.
 */
size_t plane_ctx_obj_key(const struct plane_ctx *ctx, uint16_t obj, uint8_t *key);

/*
 * Looks key up in table obj and copies its value (value_len bytes) to
 * value.  Returns 0 or PLANE_ENOENT.  key_len must equal the key length the
 * object uses (plane_ctx_obj_key() builds the packet's).
 */
int plane_ctx_table_get(struct plane_ctx *ctx, uint16_t obj, const void *key,
                        size_t key_len, void *value);
/*
 * Inserts or replaces an entry of table obj.  Only from new_flow() (control
 * logic); the runtime replicates it before the packet is released.
 * Returns 0, PLANE_ENOSPC when the table is full, PLANE_EPERM from process().
 */
int plane_ctx_table_insert(struct plane_ctx *ctx, uint16_t obj, const void *key,
                           size_t key_len, const void *value);
/* Deletes an entry of table obj (control logic only).  0 or PLANE_ENOENT. */
int plane_ctx_table_delete(struct plane_ctx *ctx, uint16_t obj, const void *key,
                           size_t key_len);

/*
 * Merges operand (value_len bytes) into register obj's entry for key with
 * the object's plus, creating the entry (from zero) when absent.  Returns 0
 * or PLANE_ENOSPC.
 */
int plane_ctx_reg_merge(struct plane_ctx *ctx, uint16_t obj, const void *key,
                        size_t key_len, const void *operand);
/*
 * Adds delta to word 0 of an ADD register's entry (a counter).  Returns 0,
 * PLANE_ENOSPC, or PLANE_EINVAL when obj is not an ADD register.
 */
int plane_ctx_reg_add(struct plane_ctx *ctx, uint16_t obj, const void *key,
                      size_t key_len, uint64_t delta);
/* Copies register obj's value for key.  0 or PLANE_ENOENT. */
int plane_ctx_reg_get(struct plane_ctx *ctx, uint16_t obj, const void *key,
                      size_t key_len, void *value);

/* Adds count to a count-min sketch for item. */
void plane_ctx_cms_add(struct plane_ctx *ctx, uint16_t obj, const void *item,
                       size_t len, uint64_t count);
/* Returns the sketch's estimate of item's count (never under the truth). */
uint64_t plane_ctx_cms_estimate(struct plane_ctx *ctx, uint16_t obj,
                                const void *item, size_t len);
/* Adds item to a Bloom filter. */
void plane_ctx_bloom_add(struct plane_ctx *ctx, uint16_t obj, const void *item,
                         size_t len);
/* True when item may be in the filter (false positives only). */
bool plane_ctx_bloom_test(struct plane_ctx *ctx, uint16_t obj, const void *item,
                          size_t len);

#ifdef __cplusplus
}
#endif
