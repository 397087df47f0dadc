/* Plane's control client: a blocking API over the authenticated control protocol, for planectl and user programs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A plane_client talks to the switch and devices of one rack, as described
 * by its rack.yaml (addresses and the shared auth key), with sender id
 * 0xfffe.  Every call blocks until the daemon answered or the timeout ran
 * out (the client retransmits meanwhile); it runs its own private event
 * loop only inside calls, so any program can use it, but one client must
 * not be used by two threads at once.
 *
 * Devices are named by their name in rack.yaml ("nic0"), by their decimal
 * id ("1"), or as "switch" (or the switch's name).  Apps are named by name
 * or decimal id.
 *
 * Errors are negative PLANE_E* codes (<plane/error.h>, plane_strerror());
 * plane_client_last_error() has a sentence naming what went wrong and what
 * to try, e.g. "switch tor0 at 127.0.0.1:17000 did not answer within 2000
 * ms (is switchd running? check --config)".  A status answered by a daemon
 * is returned as it is (PLANE_ENOENT for an app it does not run, ...).
 */
struct plane_client;
struct plane_flow_key;

/*
 * Loads rack_yaml and opens a client (a UDP socket on an ephemeral port; no
 * datagram is sent until the first call).  *out is set on success; the
 * caller owns it (plane_client_close).  Returns 0, the config loader's
 * error when the file does not load (PLANE_ECONFIG, PLANE_EIO, ...;
 * plane_client_open_err says why), PLANE_ENOMEM, or a libuv error binding
 * the local socket.
 */
int plane_client_open(const char *rack_yaml, struct plane_client **out);

/* As plane_client_open, also writing a reason into err (err_len bytes) on failure. */
int plane_client_open_err(const char *rack_yaml, struct plane_client **out, char *err,
                          size_t err_len);

/* Closes and frees c.  NULL is a no-op. */
void plane_client_close(struct plane_client *c);

/*
 * Sets the total time a call waits for an answer (default 2000 ms, min 50).
 * A call retransmits meanwhile, and takes a second attempt under a fresh
 * incarnation after two thirds of it: every client program shares the
 * sender id 0xfffe, and daemons accept only the newest incarnation of a
 * sender, so each call starts a new one and concurrent clients take turns.
 */
void plane_client_set_timeout(struct plane_client *c, uint32_t ms);

/* The reason for the last failed call ("" when none).  Valid until the next call. */
const char *plane_client_last_error(const struct plane_client *c);

/* ---- the rack as configured ---- */

enum plane_client_role {
    PLANE_CLIENT_ROLE_SWITCH = 0,
    PLANE_CLIENT_ROLE_NIC = 1,
    PLANE_CLIENT_ROLE_SERVER = 2,
};

struct plane_client_node {
    uint16_t id;
    enum plane_client_role role;
    const char *name;           /* owned by the client */
    const char *address;        /* "127.0.0.1:17000", owned by the client */
};

struct plane_client_app {
    uint16_t id;
    const char *name;           /* owned by the client */
    uint32_t flow_manager_entries;
};

/* Number of nodes: index 0 is the switch, then the devices in config order. */
size_t plane_client_n_nodes(const struct plane_client *c);
/* Node i (0 <= i < n_nodes), or NULL. */
const struct plane_client_node *plane_client_node(const struct plane_client *c, size_t i);
/* Finds a node by name, decimal id or "switch".  NULL when unknown. */
const struct plane_client_node *plane_client_find_node(const struct plane_client *c,
                                                       const char *name);
size_t plane_client_n_apps(const struct plane_client *c);
const struct plane_client_app *plane_client_app(const struct plane_client *c, size_t i);
/* Finds an app by name or decimal id.  NULL when unknown. */
const struct plane_client_app *plane_client_find_app(const struct plane_client *c,
                                                     const char *name);
/* The rack's name from rack.yaml. */
const char *plane_client_rack_name(const struct plane_client *c);

/* ---- counters ---- */

/* One counter; name is valid during the call only.  Return nonzero to stop. */
typedef int (*plane_client_stat_fn)(void *arg, const char *name, uint64_t value);

/*
 * Reads the counters of node `node` whose names start with one of
 * prefixes[0..n_prefixes) (none: every counter), following the daemon's
 * paging until the last page, and calls fn for each in the daemon's order.
 * Returns 0, the callback's nonzero return, PLANE_ENOENT (unknown node),
 * PLANE_ETIMEDOUT (no answer), PLANE_EBADMSG (an answer that does not
 * decode), or the daemon's status.
 */
int plane_client_stats(struct plane_client *c, const char *node, const char *const *prefixes,
                       size_t n_prefixes, plane_client_stat_fn fn, void *arg);

/* Reads one counter by its exact name.  Returns 0, PLANE_ENOENT or as above. */
int plane_client_stat(struct plane_client *c, const char *node, const char *name,
                      uint64_t *value);

/* ---- devices as the switch sees them ---- */

struct plane_client_dev_status {
    uint16_t id;
    const char *name;           /* owned by the client */
    bool up;                    /* the switch's dev.<name>.up */
    uint64_t misses;            /* heartbeat periods missed in a row */
    uint64_t downs;             /* times the switch took it down */
};

/*
 * Asks the switch for every device's liveness; writes up to cap entries to
 * out (config order) and the number of devices to *n.  Returns 0 or an
 * error as plane_client_stats.
 */
int plane_client_devices(struct plane_client *c, struct plane_client_dev_status *out,
                         size_t cap, size_t *n);

/* ---- app entries ---- */

enum plane_client_entry_flags {
    PLANE_CLIENT_ENTRY_SHARED = 1u << 0,     /* a register entry (data-plane updated) */
    PLANE_CLIENT_ENTRY_NOT_FOUND = 1u << 1,  /* read: the key has no entry */
};

/* One entry of an app object: object_id is the object's index in the app. */
struct plane_client_entry {
    uint16_t object_id;
    uint32_t flags;             /* enum plane_client_entry_flags */
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *value;       /* empty for reads and deletes */
    uint32_t value_len;
};

/* One entry read; pointers valid during the call only.  Return nonzero to stop. */
typedef int (*plane_client_entry_fn)(void *arg, const struct plane_client_entry *e);

/*
 * ENTRY_READ by key on node (a device, or the switch for resident keys):
 * keys[i] names object_id and key (values ignored).  fn gets one entry per
 * key, with its value or PLANE_CLIENT_ENTRY_NOT_FOUND.  Returns 0, the
 * callback's nonzero return, PLANE_ENOENT (unknown node or app), or the
 * daemon's status.
 */
int plane_client_read_entries(struct plane_client *c, const char *node, const char *app,
                              const struct plane_client_entry *keys, size_t n,
                              plane_client_entry_fn fn, void *arg);

/*
 * Scans the table entries of app on device `node` (ENTRY_READ scan, paged
 * until complete): of the logical devices logicals[0..n_logicals), or of
 * every logical the device holds a copy of when n_logicals is 0.  The
 * switch refuses scans (PLANE_EINVAL).
 */
int plane_client_scan(struct plane_client *c, const char *node, const char *app,
                      const uint16_t *logicals, size_t n_logicals,
                      plane_client_entry_fn fn, void *arg);

/*
 * ENTRY_INSERT (insert or replace) / ENTRY_DELETE of entries of app on
 * device `node`.  A device applies these to its own copy only: to change a
 * shard, send the same call to its primary and its replica.  Returns 0 or
 * the device's status (the first entry it rejected).
 */
int plane_client_insert(struct plane_client *c, const char *node, const char *app,
                        const struct plane_client_entry *entries, size_t n);
int plane_client_delete(struct plane_client *c, const char *node, const char *app,
                        const struct plane_client_entry *entries, size_t n);

/* ---- operator actions at the switch ---- */

/*
 * Asks the switch to promote (install at the switch) or demote the flow
 * key's union key for app (the switch masks key to the app's union-key
 * fields).  Returns 0 once the update started, or the switch's status:
 * PLANE_EEXIST (already resident), PLANE_EALREADY/PLANE_EBUSY (an update is
 * in flight), PLANE_EAGAIN (too many updates), PLANE_ENOSPC (switch full),
 * PLANE_ENOENT (not resident, for demote; unknown app).
 */
int plane_client_promote(struct plane_client *c, const char *app,
                         const struct plane_flow_key *key);
int plane_client_demote(struct plane_client *c, const char *app,
                        const struct plane_flow_key *key);

/*
 * A failure drill: with fail true the switch stops hearing device `node`'s
 * heartbeats and takes it down after heartbeat_misses periods (failover as
 * for a real failure); with fail false it hears them again and the device
 * comes back through recovery.  Returns 0 or the switch's status.  Use
 * plane_client_devices() to watch the effect.
 */
int plane_client_drill(struct plane_client *c, const char *node, bool fail);

#ifdef __cplusplus
}
#endif
