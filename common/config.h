/* Rack configuration: one YAML file loaded into plain structs, validated field by field. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <plane/features.h>

/*
 * Schema (see examples/racks/local.yaml for a commented example).  Keys not
 * listed here are errors, so a typo never silently becomes a default.
 * Duplicate keys are errors.  Integers are decimal or 0x-hex, never negative.
 * Addresses are numeric "host:port" (IPv4 "127.0.0.1:17000", IPv6
 * "[::1]:17000", which YAML needs quoted); no DNS is ever done.  Relative
 * paths are taken from the configuration file's directory.
 *
 *   version: 1                          optional, the schema version
 *   rack:                               required
 *     name: NAME                        required
 *     auth_key: HEX64                   32-byte control-message MAC key, or
 *     auth_key_file: PATH               a file holding those 64 hex digits
 *                                       (exactly one of the two)
 *     hash_seed: U64                    optional; else derived from the key
 *   timers:                             optional, every field defaulted
 *     sync_interval_ms: 100             T_e, state sync period     [1, 3600000]
 *     flush_ms: 10                      T_flush                    [1, 3600000]
 *     idle_ms: 1000                     T_idle, flow idle timeout  [1, 3600000]
 *     heartbeat_ms: 10                                             [1, 3600000]
 *     heartbeat_misses: 3               misses before failover     [1, 1000]
 *     rpc_timeout_ms: 50                                           [1, 3600000]
 *     rpc_retries: 8                                               [0, 1000]
 *     popularity_interval_ms: 100                                  [1, 3600000]
 *     popularity_threshold: 2         a key whose packet count (halved every
 *                                     popularity interval) reaches this is
 *                                     reported hot; the switch admits it
 *                                     only when it beats the key it would
 *                                     evict (flowmgr.h)         [1, 2^30]
 *   switch:                             required
 *     id: U16                           unique among switch and devices
 *     name: NAME
 *     control: ADDR                     UDP control address (port 0 = ephemeral)
 *     ports:                            1..PLANE_CONFIG_MAX_PORTS
 *       - id: U16                       unique among ports
 *         name: NAME                    unique among ports
 *         listen: ADDR                  where the port's ingress arrives (port 0 ok)
 *         peer: ADDR                    optional: where its egress goes
 *         tap: IFNAME                   instead of listen/peer: a Linux TAP
 *                                       interface (created when absent) whose
 *                                       frames are the port's ingress and which
 *                                       receives its egress as bare frames;
 *                                       1..15 characters of NAME, unique
 *                                       (exactly one of listen and tap)
 *     capacities:                       optional, every field defaulted
 *       flow_entries: 65536  sram_kb: 16384  tcam_entries: 4096
 *       hash_units: 8        alus: 16
 *     features: [FEATURE...]            optional, default none
 *     rate_pps: U64                     optional, 0 = unlimited
 *   devices:                            required, 1..PLANE_CONFIG_MAX_DEVICES
 *     - id: U16                         unique among switch and devices
 *       name: NAME                      unique among devices
 *       role: nic | server
 *       address: ADDR                   port must not be 0
 *       memory_mb: 1024                 optional [1, 16777216]
 *       rate_pps: 0                     optional, 0 = unlimited
 *       cores: 1                        optional [1, 4096]
 *       features: [FEATURE...]          optional; FEATURE is one of
 *                                       PLANE_FEATURE_MAP's names
 *       latency_us: 0                   optional, emulated extra latency
 *   shards:                             optional
 *     logical_devices: N                default (and 0): one per device
 *     map:                              optional; unmapped logical i gets
 *       0: {primary: NAME, replica: NAME}   devices[i % n] and [(i+1) % n]
 *   plan: PATH                          optional: the planner's fragment
 *                                       (planectl plan --out); its flow-manager
 *                                       and object sizes override the apps'
 *   apps:                               optional, 0..PLANE_CONFIG_MAX_APPS
 *     - id: U16                         unique among apps
 *       name: NAME                      unique among apps
 *       module: PATH                    the app's .so
 *       traffic_class:                  optional; default matches everything
 *         proto: any | udp | tcp
 *         dst_port: N | "LO-HI"
 *         vlan: 1..4094                 optional
 *       flow_manager_entries: 4096      optional [1, 16777216]
 *       devices: [NAME...]              optional: where the app may run, by
 *                                       name: the switch's (its hits are
 *                                       served there) and external devices'
 *                                       (its misses go to the logical devices
 *                                       whose primary is listed; a replica
 *                                       outside the list still holds a copy
 *                                       for failover).  Absent: everywhere.
 *                                       Without the switch's name the app is
 *                                       never promoted to the switch; at
 *                                       least one listed device must be some
 *                                       logical device's primary.  A list of
 *                                       one device pins the app to it (the
 *                                       app-pinning model of ExoPlane 3.1).
 *       objects:                        optional: per-object overrides
 *         NAME: {size: N}
 *       params:                         optional: free-form strings for the app
 *         KEY: VALUE
 *
 * NAME is 1..63 characters of [A-Za-z0-9_.-].
 */

/* Limits that keep a hostile or broken file from using unbounded memory. */
#define PLANE_CONFIG_MAX_BYTES    (1u << 20)  /* file size, checked before parsing */
#define PLANE_CONFIG_MAX_DEPTH    16          /* nesting of mappings/sequences */
#define PLANE_CONFIG_MAX_NODES    65536       /* YAML nodes in the document */
#define PLANE_CONFIG_MAX_DEVICES  256
#define PLANE_CONFIG_MAX_PORTS    64
#define PLANE_CONFIG_MAX_APPS     64
#define PLANE_CONFIG_MAX_OBJECTS  64          /* per app */
#define PLANE_CONFIG_MAX_PARAMS   64          /* per app */
#define PLANE_CONFIG_MAX_SHARDS   4096        /* logical devices */
#define PLANE_CONFIG_NAME_MAX     64          /* including the NUL */
#define PLANE_CONFIG_STR_MAX      1024        /* params values, paths (before joining) */
#define PLANE_CONFIG_ADDR_TEXT_MAX 64
#define PLANE_CONFIG_KEY_LEN      32          /* bytes of rack.auth_key */

enum plane_device_role {
    PLANE_ROLE_NIC = 0,      /* SmartNIC: small memory, no payload work */
    PLANE_ROLE_SERVER = 1,   /* general-purpose server */
};

enum plane_config_proto {
    PLANE_PROTO_ANY = 0,
    PLANE_PROTO_UDP = 1,
    PLANE_PROTO_TCP = 2,
};

/* A numeric UDP address, parsed once so daemons can bind/send directly. */
struct plane_config_addr {
    struct sockaddr_storage sa;       /* sockaddr_in or sockaddr_in6 */
    socklen_t sa_len;
    uint16_t port;                    /* host order, also inside sa */
    char text[PLANE_CONFIG_ADDR_TEXT_MAX];  /* as written, for messages */
};

struct plane_config_range {
    uint16_t lo, hi;                  /* inclusive; lo <= hi */
};

struct plane_config_rack {
    char name[PLANE_CONFIG_NAME_MAX];
    uint8_t auth_key[PLANE_CONFIG_KEY_LEN];  /* always filled after a load */
    bool has_auth_key;                /* set when given inline */
    char *auth_key_file;              /* resolved path, or NULL when inline */
    uint64_t hash_seed;               /* always filled after a load */
    bool has_hash_seed;               /* false: derived from auth_key */
};

struct plane_config_timers {
    uint32_t sync_interval_ms;
    uint32_t flush_ms;
    uint32_t idle_ms;
    uint32_t heartbeat_ms;
    uint32_t heartbeat_misses;
    uint32_t rpc_timeout_ms;
    uint32_t rpc_retries;
    uint32_t popularity_interval_ms;
    uint32_t popularity_threshold;    /* decayed packets that make a key hot */
};

struct plane_config_port {
    uint16_t id;
    char name[PLANE_CONFIG_NAME_MAX];
    struct plane_config_addr listen;  /* zeroed for a TAP port */
    bool has_listen;
    struct plane_config_addr peer;
    bool has_peer;
    char tap[PLANE_CONFIG_NAME_MAX];  /* TAP interface name, or "" */
    bool has_tap;                     /* exactly one of has_listen, has_tap */
};

struct plane_config_capacities {
    uint32_t flow_entries;
    uint32_t sram_kb;
    uint32_t tcam_entries;
    uint32_t hash_units;
    uint32_t alus;
};

struct plane_config_switch {
    uint16_t id;
    char name[PLANE_CONFIG_NAME_MAX];
    struct plane_config_addr control;
    struct plane_config_port *ports;
    size_t n_ports;
    struct plane_config_capacities capacities;
    uint32_t features;                /* PLANE_FEAT_* bits */
    uint64_t rate_pps;                /* 0 = unlimited */
};

struct plane_config_device {
    uint16_t id;
    char name[PLANE_CONFIG_NAME_MAX];
    enum plane_device_role role;
    struct plane_config_addr address;
    uint32_t memory_mb;
    uint64_t rate_pps;                /* 0 = unlimited */
    uint16_t cores;
    uint32_t features;                /* PLANE_FEAT_* bits */
    uint32_t latency_us;
};

/* One logical device.  After a load, shards.map[i].logical == i for all i. */
struct plane_config_shard {
    uint32_t logical;
    char primary[PLANE_CONFIG_NAME_MAX];
    char replica[PLANE_CONFIG_NAME_MAX];
    bool has_replica;                 /* false only in a one-device rack */
    int primary_idx;                  /* index into plane_config.devices */
    int replica_idx;                  /* index, or -1 without replica */
};

struct plane_config_shards {
    uint32_t logical_devices;         /* >= 1 after a load */
    struct plane_config_shard *map;   /* logical_devices entries, by logical */
    size_t n_map;
};

struct plane_config_match {
    enum plane_config_proto proto;
    struct plane_config_range dst_port;  /* 0-65535 = any */
    uint16_t vlan;
    bool has_vlan;                    /* false: any VLAN (or none) */
};

struct plane_config_object {
    char name[PLANE_CONFIG_NAME_MAX];
    uint64_t size;
};

struct plane_config_param {
    char key[PLANE_CONFIG_NAME_MAX];
    char *value;
};

/* A planner-chosen object size on one device (the rack's `plan` fragment). */
struct plane_config_plan_size {
    uint16_t device_id;
    char object[PLANE_CONFIG_NAME_MAX];
    uint64_t size;
};

struct plane_config_app {
    uint16_t id;
    char name[PLANE_CONFIG_NAME_MAX];
    char *module;                     /* resolved path of the .so */
    struct plane_config_match traffic_class;
    uint32_t flow_manager_entries;
    struct plane_config_object *objects;
    size_t n_objects;
    struct plane_config_param *params;
    size_t n_params;
    /* `devices:`: names of the switch and devices the app may run on
     * (validated against the rack), or none (n_devices == 0): anywhere.
     * Ask plane_config_app_allows() rather than reading them. */
    char (*devices)[PLANE_CONFIG_NAME_MAX];
    size_t n_devices;
    /* From the plan fragment, when the rack names one: sizes per device. */
    struct plane_config_plan_size *plan_sizes;
    size_t n_plan_sizes;
};

/* A loaded rack.  Everything is owned by it; free with plane_config_delete(). */
struct plane_config {
    char *path;                       /* the name the file was loaded under */
    char *dir;                        /* its directory, base of relative paths */
    char *plan_path;                  /* `plan:`, the planner's fragment (or NULL) */
    uint32_t version;
    struct plane_config_rack rack;
    struct plane_config_timers timers;
    struct plane_config_switch sw;
    struct plane_config_device *devices;
    size_t n_devices;
    struct plane_config_shards shards;
    struct plane_config_app *apps;
    size_t n_apps;
};

/*
 * Loads and validates the rack configuration at `path`.
 *
 * On success stores a new configuration in *out (free it with
 * plane_config_delete()) and returns 0.  On failure *out is NULL, and, when
 * err is not NULL, err receives a NUL-terminated message of at most err_len
 * bytes naming the file, line and field, e.g.
 *   local.yaml:14: devices[1].address: expected host:port, got "127.0.0.1"
 * Errors: PLANE_ECONFIG for anything wrong with the contents (including a
 * file over PLANE_CONFIG_MAX_BYTES), PLANE_ENOMEM, or a negative errno when
 * the file cannot be read.
 */
int plane_config_load_file(const char *path, struct plane_config **out,
                           char *err, size_t err_len);

/*
 * Like plane_config_load_file() on the `len` bytes at `buf` (need not be
 * NUL-terminated).  `name` (may be NULL) is used in messages, and its
 * directory part ("." when it has none) is the base of relative paths in the
 * file (auth_key_file, apps[].module).
 */
int plane_config_load_buf(const char *name, const char *buf, size_t len,
                          struct plane_config **out, char *err, size_t err_len);

/* Frees cfg and everything it owns.  plane_config_delete(NULL) is a no-op. */
void plane_config_delete(struct plane_config *cfg);

/* Lookups: return a pointer into cfg (valid until it is deleted) or NULL. */
const struct plane_config_device *
plane_config_find_device(const struct plane_config *cfg, const char *name);
const struct plane_config_device *
plane_config_find_device_by_id(const struct plane_config *cfg, uint16_t id);
const struct plane_config_app *
plane_config_find_app(const struct plane_config *cfg, const char *name);
const struct plane_config_app *
plane_config_find_app_by_id(const struct plane_config *cfg, uint16_t id);
/* Returns the value of app parameter `key`, or NULL when it is not set. */
const char *plane_config_app_param(const struct plane_config_app *app,
                                   const char *key);
/*
 * Whether app may run on the switch or device called `name` (its `devices:`
 * list names it, or it has none).  The switch serves an app's hits only when
 * this holds for the switch's name, and its misses go only to logical
 * devices whose primary it holds for (libplane/src/placement.c).
 */
bool plane_config_app_allows(const struct plane_config_app *app, const char *name);
/* Returns the size override of object `name` of the app, or `dflt`. */
/*
 * The size of app's object `name` on device device_id: the plan fragment's
 * for that device when it has one, else as plane_config_app_object_size().
 */
uint64_t plane_config_app_object_size_on(const struct plane_config_app *app,
                                         uint16_t device_id, const char *name,
                                         uint64_t dflt);
/*
 * Applies the planner's fragment at path (docs/planner.md, "Output
 * fragment") to cfg: each planned app's flow_manager_entries and its object
 * sizes per device.  Apps, devices and objects must be the rack's.  Called
 * by the loader for a rack with `plan: PATH`.  Returns 0 or PLANE_ECONFIG
 * with "file:line: what" in err.
 */
int plane_config_apply_plan(struct plane_config *cfg, const char *path, char *err,
                            size_t err_len);
uint64_t plane_config_app_object_size(const struct plane_config_app *app,
                                      const char *name, uint64_t dflt);

/* True when a and b are the same family, address and port. */
bool plane_config_addr_equal(const struct plane_config_addr *a,
                             const struct plane_config_addr *b);

/*
 * Writes cfg as YAML (defaults filled in, shards fully resolved, the auth
 * key redacted) to f, for `--check-config`.  Returns 0, or PLANE_EIO when
 * writing fails.
 */
int plane_config_dump(const struct plane_config *cfg, FILE *f);
