/* The table of control message types.  Each entry's comment is its specification. */
#pragma once

/*
 * X(NAME, value, request body, response body)
 *
 * The value is the msg_type field of the CONTROL envelope; never reuse or
 * renumber one.  Bodies are described field by field in docs/protocol.md and
 * implemented by one struct with an _encode/_decode pair in wire_body.h.
 */
#define PLANE_MSG_TYPES(X)                                                     \
    /* Liveness and identity: sent on start and on a new incarnation. */      \
    X(HELLO,          1, hello,      hello)                                    \
    /* BFD-style liveness probe; the response echoes the sender's time. */    \
    X(HEARTBEAT,      2, heartbeat,  heartbeat)                                \
    /* Insert entries of one flow in app objects (tables or registers). */    \
    X(ENTRY_INSERT,   3, entries,    empty)                                    \
    /* Overwrite existing entries. */                                          \
    X(ENTRY_UPDATE,   4, entries,    empty)                                    \
    /* Delete entries (values empty). */                                       \
    X(ENTRY_DELETE,   5, entries,    empty)                                    \
    /* Read entries: request keys, response keys with values. */              \
    X(ENTRY_READ,     6, entries,    entries)                                  \
    /* A phase of a two-phase promotion of a union key to the switch. */      \
    X(PROMOTE,        7, update,     update)                                   \
    /* A phase of a two-phase demotion, with data-plane deltas handed back. */\
    X(DEMOTE,         8, update,     update)                                   \
    /* Snapshot+history of shared entries (Appendix A, Algorithms 1-2). */    \
    X(SYNC,           9, sync,       sync)                                     \
    /* Keys that became hot on an external device, with their counts. */      \
    X(POP_REPORT,    10, pop,        empty)                                    \
    /* The logical -> physical device map changed (failover, recovery). */    \
    X(DEVMAP_UPDATE, 11, devmap,     empty)                                    \
    /* Read named counters (request: name prefixes and ".offset"; statpage.h). */ \
    X(STATS,         12, stats,      stats)                                    \
    /* Load an app module on a device. */                                      \
    X(APP_DEPLOY,    13, app_deploy, empty)                                    \
    /* Operator action at the switch: promote/demote a key, drill a device. */ \
    X(ADMIN,         14, admin,      empty)

enum plane_msg_type {
#define PLANE_MSG_ENUM_(NAME, VAL, REQ, RESP) PLANE_MSG_##NAME = (VAL),
    PLANE_MSG_TYPES(PLANE_MSG_ENUM_)
#undef PLANE_MSG_ENUM_
};

/* Returns "HELLO", "SYNC", ... or NULL for an unknown type. */
const char *plane_msg_type_name(int type);
