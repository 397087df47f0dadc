/* Bodies of control messages: one struct with an _encode/_decode pair per body of PLANE_MSG_TYPES. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire_msgs.h"

struct plane_mp_writer;
struct plane_mp_zone;

/*
 * Conventions of every body (docs/protocol.md draws each layout):
 *  - A body is one msgpack array of a fixed number of fields; decoding
 *    rejects any other size, integers out of their field's range, and bytes
 *    after the body.
 *  - Decoding allocates nothing but from the zone: arrays of items come from
 *    it, strings are copied into it NUL-terminated (a str holding a NUL byte
 *    is rejected), and bin fields (keys, values) point into the body itself,
 *    so the decoded struct lives as long as both the zone (until its next
 *    clear) and the datagram.
 *  - Item counts are checked against the bytes left and against
 *    PLANE_BODY_MAX_ITEMS before anything is allocated.
 *  - _encode(v, w) packs into the writer and returns 0 or PLANE_EMSGSIZE
 *    (PLANE_EINVAL when a list is longer than its cap);
 *    _decode(body, len, zone, out) returns 0, PLANE_ETRUNC, PLANE_EBADMSG or
 *    PLANE_ENOMEM (zone exhausted).  On error *out is unspecified.
 */
#define PLANE_BODY_MAX_ITEMS 65536u

/* Empty: encoded as nil; nil or an empty array decode. */
struct plane_body_empty {
    char unused;
};

/* Roles of a device in the rack (hello.role). */
enum plane_dev_role {
    PLANE_DEV_ROLE_SWITCH = 0,
    PLANE_DEV_ROLE_NIC = 1,
    PLANE_DEV_ROLE_SERVER = 2,
    PLANE_DEV_ROLE_CONTROLLER = 3,      /* planectl and other tools */
};
#define PLANE_DEV_ROLE_MAX PLANE_DEV_ROLE_CONTROLLER

/* At most this many listen ports in a hello. */
#define PLANE_HELLO_MAX_PORTS 16

/* HELLO: who the sender is and how to reach it. */
struct plane_body_hello {
    uint16_t device_id;
    uint8_t role;                   /* enum plane_dev_role */
    const char *name;               /* NUL-terminated ("nic0"), zone */
    uint64_t features;              /* capability bitmask, defined by libplane */
    uint64_t incarnation;           /* same as the envelope's, for logs */
    uint16_t proto_version;         /* PLANE_WIRE_VERSION of the sender */
    uint32_t n_ports;
    const uint16_t *ports;          /* UDP ports the device listens on */
};

/* BFD session states (RFC 5880 values) carried in heartbeats. */
enum plane_hb_state {
    PLANE_HB_ADMIN_DOWN = 0,
    PLANE_HB_DOWN = 1,
    PLANE_HB_INIT = 2,
    PLANE_HB_UP = 3,
};

/* HEARTBEAT: the response's echo_ns is the request's sender_ns. */
struct plane_body_heartbeat {
    uint64_t sender_ns;             /* sender's clock when sent */
    uint64_t echo_ns;               /* last sender_ns received from the peer (0 = none) */
    uint8_t state;                  /* enum plane_hb_state: sender's view of the session */
};

/* Flags of one entry. */
enum plane_entry_flags {
    PLANE_ENTRY_F_SHARED = 1u << 0,     /* a data-plane-updatable shared object (synced) */
    PLANE_ENTRY_F_NOT_FOUND = 1u << 1,  /* read response: the key has no entry */
    /* ENTRY_UPDATE between the copies of a shard (docs/runtime.md): */
    PLANE_ENTRY_F_MERGE = 1u << 2,      /* merge value into the register entry (its plus) */
    PLANE_ENTRY_F_DELETE = 1u << 3,     /* delete the entry (value empty) */
    /* ENTRY_READ scan marker: push the page through the replication stream */
    PLANE_ENTRY_F_PUSH = 1u << 4,
};

/* One entry of an app object (table or register array). */
struct plane_body_entry {
    uint16_t object_id;             /* the object within the app */
    uint32_t flags;                 /* enum plane_entry_flags */
    const uint8_t *key;             /* into the body */
    uint32_t key_len;
    const uint8_t *value;           /* into the body; empty for deletes / read requests */
    uint32_t value_len;
};

/* ENTRY_INSERT/UPDATE/DELETE/READ: entries of one app. */
struct plane_body_entries {
    uint16_t app_id;
    uint32_t n_entries;
    const struct plane_body_entry *entries;
};

/*
 * Phases of a two-phase state update (ExoPlane §4.2, Fig. 9).  A PROMOTE
 * installs a union key's state on the switch: app objects first (INSTALL),
 * then the flow-manager entry (COMMIT), so no packet can hit the flow manager
 * before the app's entries exist.  A DEMOTE removes it: flow-manager entry
 * first (REMOVE), wait T_flush for in-flight packets (FLUSH), then the app
 * objects, handing their final data-plane values back to the external device
 * (COMMIT carries them).  PREPARE opens the update (the switch pulls the
 * key's state from the external device, which pins it); ABORT cancels it at
 * any phase before COMMIT.
 */
enum plane_update_phase {
    PLANE_UPDATE_PREPARE = 0,
    PLANE_UPDATE_INSTALL = 1,
    PLANE_UPDATE_COMMIT = 2,
    PLANE_UPDATE_FLUSH = 3,
    PLANE_UPDATE_REMOVE = 4,
    PLANE_UPDATE_ABORT = 5,
};
#define PLANE_UPDATE_PHASE_MAX PLANE_UPDATE_ABORT

/* PROMOTE/DEMOTE: one phase of an update of one union key. */
struct plane_body_update {
    uint16_t app_id;
    uint64_t update_id;             /* names the update across its phases */
    uint8_t phase;                  /* enum plane_update_phase */
    const uint8_t *union_key;       /* into the body */
    uint32_t union_key_len;
    uint32_t n_entries;             /* state carried (promote pull, demote hand-back) */
    const struct plane_body_entry *entries;
};

/* One shared entry in a sync round (Appendix A: Snap and I of one value). */
struct plane_body_sync_item {
    uint16_t object_id;
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *snapshot;        /* Snap_sender: the sender's value at the snapshot */
    uint32_t snapshot_len;
    const uint8_t *history;         /* I_sender: what it already merged from the peer */
    uint32_t history_len;
};

/* SYNC: request = switch's (Snap, I) per entry (Algorithm 1, line 7);
 * response = external device's (Algorithm 2, line 5). */
struct plane_body_sync {
    uint16_t app_id;
    uint64_t epoch;                 /* the devmap epoch the round runs under */
    uint64_t round;                 /* increases per T_e round */
    uint32_t n_items;
    const struct plane_body_sync_item *items;
};

/* One hot union key and its count since the last report. */
struct plane_body_pop_item {
    const uint8_t *union_key;
    uint32_t union_key_len;
    uint64_t count;
};

/* POP_REPORT. */
struct plane_body_pop {
    uint16_t app_id;
    uint32_t n_items;
    const struct plane_body_pop_item *items;
};

/* State of one logical device's mapping. */
enum plane_devmap_state {
    PLANE_DEVMAP_ACTIVE = 0,        /* served by primary */
    PLANE_DEVMAP_FAILOVER = 1,      /* primary failed: served by replica */
    PLANE_DEVMAP_RECOVERING = 2,    /* primary back, resyncing from replica */
    PLANE_DEVMAP_DOWN = 3,          /* neither available */
};
#define PLANE_DEVMAP_STATE_MAX PLANE_DEVMAP_DOWN

struct plane_body_devmap_item {
    uint16_t logical;
    uint16_t primary;
    uint16_t replica;               /* PLANE_DEV_NONE when none */
    uint8_t state;                  /* enum plane_devmap_state */
};

/* DEVMAP_UPDATE: the whole map at one epoch. */
struct plane_body_devmap {
    uint64_t epoch;
    uint32_t n_items;
    const struct plane_body_devmap_item *items;
};

struct plane_body_stat {
    const char *name;               /* NUL-terminated, zone */
    uint64_t value;
};

/* STATS response. */
struct plane_body_stats {
    uint32_t n_stats;
    const struct plane_body_stat *stats;
};

struct plane_body_param {
    const char *key;                /* NUL-terminated, zone */
    const char *value;
};

/* APP_DEPLOY. */
struct plane_body_app_deploy {
    uint16_t app_id;
    const char *name;               /* NUL-terminated, zone */
    const char *module;             /* module path on the device */
    uint32_t n_params;
    const struct plane_body_param *params;
};

/* Operations of an ADMIN request (docs/protocol.md). */
enum plane_admin_op {
    PLANE_ADMIN_PROMOTE = 0,        /* promote key (app_id) to the switch */
    PLANE_ADMIN_DEMOTE = 1,         /* demote key (app_id) from the switch */
    PLANE_ADMIN_DRILL_FAIL = 2,     /* treat device as failed (heartbeats unheard) */
    PLANE_ADMIN_DRILL_UP = 3,       /* end the drill of device */
};
#define PLANE_ADMIN_OP_MAX PLANE_ADMIN_DRILL_UP

/* ADMIN: one operator action, answered with an empty body and a status. */
struct plane_body_admin {
    uint8_t op;                     /* enum plane_admin_op */
    uint16_t app_id;                /* PROMOTE/DEMOTE; 0 otherwise */
    uint16_t device;                /* DRILL_*: device id; PLANE_DEV_NONE otherwise */
    const uint8_t *key;             /* PROMOTE/DEMOTE: a struct plane_flow_key's 40 */
    uint32_t key_len;               /* bytes (masked by the switch); into the body */
};

/* The body kinds, named as in the third and fourth columns of PLANE_MSG_TYPES. */
#define PLANE_BODY_KINDS(X)                                                    \
    X(empty) X(hello) X(heartbeat) X(entries) X(update) X(sync) X(pop)         \
    X(devmap) X(stats) X(app_deploy) X(admin)

enum plane_body_kind {
#define PLANE_BODY_KIND_ENUM_(K) PLANE_BODY_##K,
    PLANE_BODY_KINDS(PLANE_BODY_KIND_ENUM_)
#undef PLANE_BODY_KIND_ENUM_
    PLANE_BODY_N_KINDS
};

#define PLANE_BODY_DECLARE_(K)                                                 \
    int plane_body_##K##_encode(const struct plane_body_##K *v,                \
                                struct plane_mp_writer *w);                    \
    int plane_body_##K##_decode(const uint8_t *body, size_t len,               \
                                struct plane_mp_zone *z,                       \
                                struct plane_body_##K *out);
PLANE_BODY_KINDS(PLANE_BODY_DECLARE_)
#undef PLANE_BODY_DECLARE_

union plane_body {
#define PLANE_BODY_MEMBER_(K) struct plane_body_##K K;
    PLANE_BODY_KINDS(PLANE_BODY_MEMBER_)
#undef PLANE_BODY_MEMBER_
};

/* Returns the body kind of msg_type's request (is_response false) or
 * response, or -1 for an unknown msg_type. */
int plane_wire_body_kind(int msg_type, bool is_response);

/* Returns "hello", "entries", ... or NULL. */
const char *plane_body_kind_name(int kind);

/*
 * Decodes the body of a control message by its type and direction.
 * Returns what the kind's _decode returns, or PLANE_ENOTSUP for an unknown
 * msg_type.  The member of *out that is filled is the one named by
 * plane_wire_body_kind(msg_type, is_response).
 */
int plane_wire_body_decode_any(int msg_type, bool is_response,
                               const uint8_t *body, size_t len,
                               struct plane_mp_zone *z, union plane_body *out);
