/* Tests of the rack configuration loader: the example rack, defaults, and every class of error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <plane/error.h>

#include "common/config.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/*
 * A minimal valid rack, in pieces with known line counts so each error case
 * knows its line: RACK is lines 1-3, SWITCH 4-9, DEVICES 10-12, and whatever
 * a test appends starts at line 13.
 */
#define RACK                                                                   \
    "rack:\n"                                                                  \
    "  name: t\n"                                                              \
    "  auth_key: " KEY_HEX "\n"
#define SWITCH                                                                 \
    "switch:\n"                                                                \
    "  id: 0\n"                                                                \
    "  name: sw\n"                                                             \
    "  control: 127.0.0.1:0\n"                                                 \
    "  ports:\n"                                                               \
    "    - {id: 0, name: p0, listen: \"127.0.0.1:0\"}\n"
#define DEVICES                                                                \
    "devices:\n"                                                               \
    "  - {id: 1, name: nic0, role: nic, address: \"127.0.0.1:17001\"}\n"       \
    "  - {id: 2, name: nic1, role: nic, address: \"127.0.0.1:17002\"}\n"
#define BASE RACK SWITCH DEVICES

static struct plane_config *
load_ok(const char *name, const char *yaml)
{
    char err[512];
    struct plane_config *cfg = NULL;
    int rc = plane_config_load_buf(name, yaml, strlen(yaml), &cfg, err, sizeof err);
    if (rc != 0) {
        print_message("unexpected error %d: %s\n", rc, err);
    }
    assert_int_equal(rc, 0);
    assert_non_null(cfg);
    return cfg;
}

/* Loads `len` bytes expecting PLANE_ECONFIG with message containing s1 and s2. */
static void
expect_err_len(const char *yaml, size_t len, const char *s1, const char *s2)
{
    char err[512];
    struct plane_config *cfg = (struct plane_config *)&err;
    int rc = plane_config_load_buf("t.yaml", yaml, len, &cfg, err, sizeof err);
    if (rc != PLANE_ECONFIG || !strstr(err, s1) || (s2 && !strstr(err, s2))) {
        print_message("rc=%d err=[%s], wanted [%s] and [%s]\n", rc, err, s1,
                      s2 ? s2 : "");
    }
    assert_int_equal(rc, PLANE_ECONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err, s1));
    if (s2) {
        assert_non_null(strstr(err, s2));
    }
}

static void
expect_err(const char *yaml, const char *s1, const char *s2)
{
    expect_err_len(yaml, strlen(yaml), s1, s2);
}

static void
test_example_rack(void **state)
{
    char err[512];
    struct plane_config *cfg = NULL;
    int rc = plane_config_load_file(PLANE_SOURCE_DIR "/examples/racks/local.yaml",
                                    &cfg, err, sizeof err);
    if (rc) {
        print_message("%s\n", err);
    }
    assert_int_equal(rc, 0);

    assert_string_equal(cfg->rack.name, "local");
    assert_int_equal(cfg->rack.auth_key[0], 0x00);
    assert_int_equal(cfg->rack.auth_key[31], 0x1f);
    assert_false(cfg->rack.has_hash_seed);
    assert_int_equal(cfg->timers.sync_interval_ms, 100);
    assert_int_equal(cfg->timers.idle_ms, 1000);

    assert_int_equal(cfg->sw.id, 0);
    assert_string_equal(cfg->sw.name, "tor0");
    assert_int_equal(cfg->sw.control.port, 17000);
    assert_int_equal(cfg->sw.control.sa.ss_family, AF_INET);
    assert_int_equal(cfg->sw.n_ports, 2);
    assert_string_equal(cfg->sw.ports[1].name, "p1");
    assert_true(cfg->sw.ports[1].has_peer);
    assert_int_equal(cfg->sw.ports[1].peer.port, 17111);
    assert_int_equal(cfg->sw.capacities.sram_kb, 16384);
    assert_true(cfg->sw.features & PLANE_FEAT_RECIRCULATION);

    assert_int_equal(cfg->n_devices, 3);
    const struct plane_config_device *nic0 = plane_config_find_device(cfg, "nic0");
    const struct plane_config_device *srv0 = plane_config_find_device(cfg, "srv0");
    assert_non_null(nic0);
    assert_non_null(srv0);
    assert_ptr_equal(plane_config_find_device_by_id(cfg, 3), srv0);
    assert_null(plane_config_find_device(cfg, "nope"));
    assert_null(plane_config_find_device_by_id(cfg, 99));
    assert_int_equal(nic0->role, PLANE_ROLE_NIC);
    assert_int_equal(nic0->memory_mb, 4096);
    assert_int_equal(nic0->rate_pps, 200000);
    assert_false(nic0->features & PLANE_FEAT_PAYLOAD);
    assert_int_equal(srv0->role, PLANE_ROLE_SERVER);
    assert_true(srv0->features & PLANE_FEAT_PAYLOAD);
    assert_true(srv0->memory_mb > nic0->memory_mb);
    assert_int_equal(nic0->address.port, 17001);

    /* Default sharding: one logical per device, replica on the next. */
    assert_int_equal(cfg->shards.logical_devices, 3);
    assert_int_equal(cfg->shards.n_map, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(cfg->shards.map[i].logical, i);
        assert_int_equal(cfg->shards.map[i].primary_idx, (int)i);
        assert_int_equal(cfg->shards.map[i].replica_idx, (int)((i + 1) % 3));
    }
    assert_string_equal(cfg->shards.map[2].primary, "srv0");
    assert_string_equal(cfg->shards.map[2].replica, "nic0");
    assert_int_equal(cfg->n_apps, 1);
    assert_non_null(plane_config_find_app(cfg, "flowcheck"));
    assert_null(plane_config_find_app(cfg, "x"));

    /* The dump echoes values, never the key. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    assert_non_null(f);
    assert_int_equal(plane_config_dump(cfg, f), 0);
    fclose(f);
    assert_non_null(strstr(text, "name: nic0"));
    assert_non_null(strstr(text, "<redacted>"));
    assert_non_null(strstr(text, "primary: srv0"));
    assert_null(strstr(text, KEY_HEX));
    free(text);
    plane_config_delete(cfg);
    plane_config_delete(NULL);
}

static void
test_defaults(void **state)
{
    struct plane_config *cfg = load_ok("t.yaml", BASE);
    assert_int_equal(cfg->version, 1);
    assert_int_equal(cfg->timers.sync_interval_ms, 100);
    assert_int_equal(cfg->timers.flush_ms, 10);
    assert_int_equal(cfg->timers.idle_ms, 1000);
    assert_int_equal(cfg->timers.heartbeat_ms, 10);
    assert_int_equal(cfg->timers.heartbeat_misses, 3);
    assert_int_equal(cfg->timers.rpc_timeout_ms, 50);
    assert_int_equal(cfg->timers.rpc_retries, 8);
    assert_int_equal(cfg->timers.popularity_interval_ms, 100);
    assert_int_equal(cfg->sw.capacities.flow_entries, 65536);
    assert_int_equal(cfg->sw.control.port, 0);
    assert_false(cfg->sw.ports[0].has_peer);
    assert_int_equal(cfg->devices[0].memory_mb, 1024);
    assert_int_equal(cfg->devices[0].cores, 1);
    assert_int_equal(cfg->devices[0].rate_pps, 0);
    assert_int_equal(cfg->devices[0].features, 0);
    assert_int_equal(cfg->n_apps, 0);
    /* Two devices: each logical device is replicated on the other one. */
    assert_int_equal(cfg->shards.logical_devices, 2);
    assert_int_equal(cfg->shards.map[1].replica_idx, 0);

    /* The derived hash seed is stable and depends on the key only. */
    uint64_t seed = cfg->rack.hash_seed;
    assert_false(cfg->rack.has_hash_seed);
    assert_true(seed != 0);
    plane_config_delete(cfg);
    cfg = load_ok("other.yaml", BASE);
    assert_true(cfg->rack.hash_seed == seed);
    plane_config_delete(cfg);

    cfg = load_ok("t.yaml", BASE "timers:\n  # flush_ms: 5\nshards:\napps:\n");
    assert_int_equal(cfg->timers.flush_ms, 10);
    assert_int_equal(cfg->shards.logical_devices, 2);
    plane_config_delete(cfg);

    cfg = load_ok("t.yaml", BASE "timers: {flush_ms: 0x20}\n"
                  "version: 1\n");
    assert_int_equal(cfg->timers.flush_ms, 32);
    plane_config_delete(cfg);

    cfg = load_ok("t.yaml", RACK "  hash_seed: 18446744073709551615\n" SWITCH DEVICES);
    assert_true(cfg->rack.has_hash_seed);
    assert_true(cfg->rack.hash_seed == UINT64_MAX);
    plane_config_delete(cfg);

    /* One device: no replica. */
    cfg = load_ok("t.yaml", RACK SWITCH "devices:\n"
                  "  - {id: 1, name: nic0, role: nic, address: \"127.0.0.1:1\"}\n");
    assert_int_equal(cfg->shards.logical_devices, 1);
    assert_false(cfg->shards.map[0].has_replica);
    assert_int_equal(cfg->shards.map[0].replica_idx, -1);
    plane_config_delete(cfg);
}

static void
test_apps_and_addresses(void **state)
{
    struct plane_config *cfg = load_ok("racks/r.yaml", BASE
        "  - {id: 3, name: srv0, role: server, address: \"[::1]:17003\",\n"
        "     features: [payload, float], cores: 4, latency_us: 20}\n"
        "apps:\n"
        "  - id: 7\n"
        "    name: counter\n"
        "    module: apps/counter.so\n"
        "    traffic_class: {proto: udp, dst_port: \"1000-2000\", vlan: 10}\n"
        "    objects:\n"
        "      flows: {size: 65536}\n"
        "    params:\n"
        "      threshold: \"100\"\n"
        "      mode: fast\n"
        "  - {id: 8, name: abs, module: /opt/abs.so, flow_manager_entries: 10,\n"
        "     traffic_class: {dst_port: 53}}\n");
    const struct plane_config_device *srv = plane_config_find_device(cfg, "srv0");
    assert_non_null(srv);
    assert_int_equal(srv->address.sa.ss_family, AF_INET6);
    assert_int_equal(srv->address.port, 17003);
    assert_string_equal(srv->address.text, "[::1]:17003");
    assert_int_equal(srv->features, PLANE_FEAT_PAYLOAD | PLANE_FEAT_FLOAT);

    assert_int_equal(cfg->n_apps, 2);
    const struct plane_config_app *a = plane_config_find_app(cfg, "counter");
    assert_non_null(a);
    assert_ptr_equal(plane_config_find_app_by_id(cfg, 7), a);
    assert_string_equal(a->module, "racks/apps/counter.so");
    assert_int_equal(a->traffic_class.proto, PLANE_PROTO_UDP);
    assert_int_equal(a->traffic_class.dst_port.lo, 1000);
    assert_int_equal(a->traffic_class.dst_port.hi, 2000);
    assert_true(a->traffic_class.has_vlan);
    assert_int_equal(a->traffic_class.vlan, 10);
    assert_int_equal(a->flow_manager_entries, 4096);
    assert_true(plane_config_app_object_size(a, "flows", 1) == 65536);
    assert_true(plane_config_app_object_size(a, "other", 5) == 5);
    assert_string_equal(plane_config_app_param(a, "threshold"), "100");
    assert_string_equal(plane_config_app_param(a, "mode"), "fast");
    assert_null(plane_config_app_param(a, "nope"));

    const struct plane_config_app *b = plane_config_find_app_by_id(cfg, 8);
    assert_string_equal(b->module, "/opt/abs.so");
    assert_int_equal(b->traffic_class.proto, PLANE_PROTO_ANY);
    assert_int_equal(b->traffic_class.dst_port.lo, 53);
    assert_int_equal(b->traffic_class.dst_port.hi, 53);
    assert_false(b->traffic_class.has_vlan);
    assert_int_equal(b->flow_manager_entries, 10);
    plane_config_delete(cfg);

    /* A name without a directory: "./" keeps dlopen off the library path. */
    cfg = load_ok("r.yaml", BASE "apps: [{id: 1, name: a, module: a.so}]\n");
    assert_string_equal(cfg->apps[0].module, "./a.so");
    plane_config_delete(cfg);

    assert_int_equal(plane_feature_from_name("crypto"), PLANE_FEAT_CRYPTO);
    assert_int_equal(plane_feature_from_name("warp"), 0);
    assert_string_equal(plane_feature_name(PLANE_FEAT_RECIRCULATION), "recirculation");
    assert_null(plane_feature_name(3));
}

static void
test_explicit_shards(void **state)
{
    struct plane_config *cfg = load_ok("t.yaml", BASE
        "  - {id: 3, name: srv0, role: server, address: \"127.0.0.1:17003\"}\n"
        "shards:\n"
        "  logical_devices: 5\n"
        "  map:\n"
        "    0: {primary: srv0, replica: nic1}\n"
        "    4: {primary: nic1}\n");
    assert_int_equal(cfg->shards.logical_devices, 5);
    assert_int_equal(cfg->shards.n_map, 5);
    assert_string_equal(cfg->shards.map[0].primary, "srv0");
    assert_string_equal(cfg->shards.map[0].replica, "nic1");
    assert_int_equal(cfg->shards.map[0].primary_idx, 2);
    assert_int_equal(cfg->shards.map[0].replica_idx, 1);
    /* 1..3 round robin over 3 devices. */
    assert_int_equal(cfg->shards.map[3].primary_idx, 0);
    assert_int_equal(cfg->shards.map[3].replica_idx, 1);
    assert_int_equal(cfg->shards.map[4].primary_idx, 1);
    assert_false(cfg->shards.map[4].has_replica);
    plane_config_delete(cfg);
}

static void
test_key_file(void **state)
{
    char dir[] = "/tmp/plane_cfg_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char keypath[256], cfgpath[256];
    snprintf(keypath, sizeof keypath, "%s/rack.key", dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/rack.yaml", dir);

    FILE *f = fopen(keypath, "w");
    assert_non_null(f);
    fputs("  " KEY_HEX "\n", f);
    fclose(f);
    f = fopen(cfgpath, "w");
    assert_non_null(f);
    fputs("rack:\n  name: t\n  auth_key_file: rack.key\n" SWITCH DEVICES, f);
    fclose(f);

    char err[512];
    struct plane_config *cfg = NULL;
    int rc = plane_config_load_file(cfgpath, &cfg, err, sizeof err);
    if (rc) {
        print_message("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->rack.auth_key_file, keypath);
    assert_int_equal(cfg->rack.auth_key[31], 0x1f);
    plane_config_delete(cfg);

    /* A key file with a bad key. */
    f = fopen(keypath, "w");
    assert_non_null(f);
    fputs("00ff\n", f);
    fclose(f);
    rc = plane_config_load_file(cfgpath, &cfg, err, sizeof err);
    assert_int_equal(rc, PLANE_ECONFIG);
    assert_non_null(strstr(err, "rack.yaml:3: rack.auth_key_file:"));
    assert_non_null(strstr(err, "64 hex digits"));

    unlink(keypath);
    rc = plane_config_load_file(cfgpath, &cfg, err, sizeof err);
    assert_int_equal(rc, PLANE_ECONFIG);
    assert_non_null(strstr(err, "rack.auth_key_file:"));
    assert_non_null(strstr(err, "No such file"));
    unlink(cfgpath);
    rmdir(dir);

    /* The configuration file itself missing is an errno, not ECONFIG. */
    rc = plane_config_load_file("/nonexistent/plane.yaml", &cfg, err, sizeof err);
    assert_int_equal(rc, PLANE_ENOENT);
    assert_null(cfg);
    assert_non_null(strstr(err, "/nonexistent/plane.yaml"));

    expect_err("rack:\n  name: t\n  auth_key: " KEY_HEX "\n  auth_key_file: k\n"
               SWITCH DEVICES, "t.yaml:4: rack.auth_key_file:", "mutually exclusive");
    expect_err("rack:\n  name: t\n" SWITCH DEVICES, "rack.auth_key: missing", NULL);
}

static void
test_missing_and_type(void **state)
{
    expect_err("rack:\n  auth_key: " KEY_HEX "\n" SWITCH DEVICES,
               "t.yaml:2: rack.name: missing required field", NULL);
    expect_err(RACK SWITCH, "t.yaml:1: devices: missing required field", NULL);
    expect_err(BASE "timers:\n  flush_ms: abc\n",
               "t.yaml:14: timers.flush_ms: expected a non-negative integer, got \"abc\"",
               NULL);
    expect_err(BASE "timers:\n  flush_ms: -1\n", "t.yaml:14: timers.flush_ms:", NULL);
    expect_err(BASE "timers:\n  flush_ms: [1]\n", "t.yaml:14: timers.flush_ms:",
               "got a list");
    expect_err(BASE "timers:\n  flush_ms:\n", "timers.flush_ms:", "no value");
    expect_err(BASE "timers: [1, 2]\n", "t.yaml:13: timers: expected a mapping",
               NULL);
    expect_err(BASE "apps: {a: 1}\n", "t.yaml:13: apps: expected a list", NULL);
    expect_err(BASE "apps: [{id: 1, name: a}]\n", "apps[0].module: missing", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m, params: {k: [1]}}\n",
               "t.yaml:14: apps[0].params.k:", "got a list");
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m, objects: {o: {sz: 1}}}\n",
               "apps[0].objects.o.sz: unknown key", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m, objects: {o: {size: 0}}}\n",
               "apps[0].objects.o.size: 0 is out of range", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m,\n"
               "     traffic_class: {dst_port: \"2000-1000\"}}\n",
               "t.yaml:15: apps[0].traffic_class.dst_port:", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m,\n"
               "     traffic_class: {proto: icmp}}\n",
               "apps[0].traffic_class.proto: expected one of any|udp|tcp", NULL);
    expect_err(RACK "switch:\n  id: 0\n  name: \"bad name\"\n", "t.yaml:6: switch.name:",
               "expected a name");
}

static void
test_out_of_range(void **state)
{
    expect_err(BASE "timers:\n  flush_ms: 0\n",
               "t.yaml:14: timers.flush_ms: 0 is out of range [1, 3600000]", NULL);
    expect_err(BASE "  - {id: 70000, name: x, role: nic, address: \"127.0.0.1:5\"}\n",
               "t.yaml:13: devices[2].id: 70000 is out of range", NULL);
    expect_err(BASE "timers: {rpc_retries: 99999999999999999999999}\n",
               "timers.rpc_retries: expected a non-negative integer", NULL);
    expect_err("version: 2\n" BASE, "t.yaml:1: version: 2 is out of range", NULL);
    expect_err(BASE "  - {id: 3, name: x, role: nic, address: \"127.0.0.1:5\",\n"
               "     cores: 0}\n", "t.yaml:14: devices[2].cores: 0 is out of range",
               NULL);
}

static void
test_unknown_and_duplicate_keys(void **state)
{
    expect_err(BASE "timers:\n  flush_msec: 5\n",
               "t.yaml:14: timers.flush_msec: unknown key (did you mean \"flush_ms\"?)",
               NULL);
    expect_err(BASE "colour: blue\n", "t.yaml:13: colour: unknown key", NULL);
    expect_err(BASE "timers:\n  flush_ms: 5\n  flush_ms: 6\n",
               "t.yaml:15: timers.flush_ms: duplicate key (first at line 14)", NULL);
    expect_err(BASE RACK, "t.yaml:13: rack: duplicate key (first at line 1)", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m, params: {k: a, k: b}}\n",
               "t.yaml:14: apps[0].params.k: duplicate key", NULL);
    expect_err(BASE "? [a]\n: b\n", "t.yaml:13:", "keys must be scalars");
    /* Long or odd keys are escaped and cut in messages. */
    expect_err(BASE "\"a\\tb\\\"c" "0123456789012345678901234567890123456789"
               "0123456789012345678901234567890123456789\": 1\n",
               "t.yaml:13: a\\x09b\\\"c0123", "...: unknown key");
}

static void
test_bad_addresses(void **state)
{
#define DEV3(addr) BASE "  - {id: 3, name: x, role: nic, address: " addr "}\n"
    expect_err(DEV3("\"127.0.0.1\""),
               "t.yaml:13: devices[2].address: expected host:port, got \"127.0.0.1\"",
               NULL);
    expect_err(DEV3("\"localhost:80\""), "devices[2].address: expected host:port",
               "numeric");
    expect_err(DEV3("\"127.1:80\""), "devices[2].address: expected host:port", NULL);
    expect_err(DEV3("\"::1:80\""), "devices[2].address:", "[addr]:port");
    expect_err(DEV3("\"[::1]80\""), "devices[2].address:", "[addr]:port");
    expect_err(DEV3("\"127.0.0.1:70000\""), "devices[2].address:", "bad port");
    expect_err(DEV3("\"127.0.0.1:0x50\""), "devices[2].address:", "bad port");
    expect_err(DEV3("\"127.0.0.1:\""), "devices[2].address:", "bad port");
    expect_err(DEV3("\"127.0.0.1:0\""), "t.yaml:13: devices[2].address: port 0", NULL);
    expect_err(DEV3("\"127.0.0.1:17001\""), "t.yaml:13: devices[2].address: same "
               "address as devices[0]", NULL);
    expect_err(RACK "switch:\n  id: 0\n  name: sw\n  control: 127.0.0.1:9\n"
               "  ports:\n    - {id: 0, name: p0, listen: \"127.0.0.1:9\"}\n" DEVICES,
               "t.yaml:9: switch.ports[0].listen: same address as switch.control",
               NULL);
    expect_err(RACK "switch:\n  id: 0\n  name: sw\n  control: 127.0.0.1:0\n"
               "  ports:\n    - {id: 0, name: p0, listen: \"127.0.0.1:0\","
               " peer: \"127.0.0.1:0\"}\n" DEVICES,
               "t.yaml:9: switch.ports[0].peer: port 0", NULL);
#undef DEV3
}

static void
test_bad_hex_key(void **state)
{
    char err[512];
    struct plane_config *cfg = NULL;
    const char *yaml = "rack:\n  name: t\n  auth_key: 0011zz\n" SWITCH DEVICES;
    int rc = plane_config_load_buf("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof err);
    assert_int_equal(rc, PLANE_ECONFIG);
    assert_non_null(strstr(err, "t.yaml:3: rack.auth_key: expected 64 hex digits"));
    /* The key is a secret: the message must not echo it. */
    assert_null(strstr(err, "0011zz"));
    expect_err("rack:\n  name: t\n  auth_key: "
               "x00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
               SWITCH DEVICES, "t.yaml:3: rack.auth_key:", "non-hex");
}

static void
test_duplicates(void **state)
{
    expect_err(BASE "  - {id: 1, name: x, role: nic, address: \"127.0.0.1:5\"}\n",
               "t.yaml:13: devices[2].id: duplicate id 1 (also devices[0])", NULL);
    expect_err(BASE "  - {id: 0, name: x, role: nic, address: \"127.0.0.1:5\"}\n",
               "t.yaml:13: devices[2].id: duplicate id 0 (also switch.id)", NULL);
    expect_err(BASE "  - {id: 3, name: nic1, role: nic, address: \"127.0.0.1:5\"}\n",
               "t.yaml:13: devices[2].name: duplicate name \"nic1\"", NULL);
    expect_err(RACK "switch:\n  id: 0\n  name: sw\n  control: 127.0.0.1:0\n"
               "  ports:\n    - {id: 0, name: p0, listen: \"127.0.0.1:0\"}\n"
               "    - {id: 0, name: p1, listen: \"127.0.0.1:0\"}\n" DEVICES,
               "t.yaml:10: switch.ports[1].id: duplicate id 0", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m}\n"
               "  - {id: 1, name: b, module: m}\n",
               "t.yaml:15: apps[1].id: duplicate id 1", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: m}\n"
               "  - {id: 2, name: a, module: m}\n",
               "t.yaml:15: apps[1].name: duplicate name \"a\"", NULL);
}

static void
test_features_and_roles(void **state)
{
    expect_err(BASE "  - {id: 3, name: x, role: nic, address: \"127.0.0.1:5\",\n"
               "     features: [payload, warp]}\n",
               "t.yaml:14: devices[2].features[1]: unknown feature \"warp\"", "payload");
    expect_err(BASE "  - {id: 3, name: x, role: nic, address: \"127.0.0.1:5\",\n"
               "     features: [payload, payload]}\n",
               "devices[2].features[1]: feature \"payload\" listed twice", NULL);
    expect_err(BASE "  - {id: 3, name: x, role: nic, address: \"127.0.0.1:5\",\n"
               "     features: payload}\n", "devices[2].features: expected a list",
               NULL);
    expect_err(BASE "  - {id: 3, name: x, role: gpu, address: \"127.0.0.1:5\"}\n",
               "t.yaml:13: devices[2].role: expected one of nic|server, got \"gpu\"",
               NULL);
}

static void
test_bad_shards(void **state)
{
    expect_err(BASE "shards:\n  map:\n    0: {primary: nic0, replica: nic0}\n",
               "t.yaml:15: shards.map.0.replica: must differ from primary", NULL);
    expect_err(BASE "shards:\n  map:\n    1: {primary: gpu0}\n",
               "t.yaml:15: shards.map.1.primary: no device named \"gpu0\"", NULL);
    expect_err(BASE "shards:\n  map:\n    1: {primary: nic0, replica: gpu1}\n",
               "shards.map.1.replica: no device named \"gpu1\"", NULL);
    expect_err(BASE "shards:\n  map:\n    2: {primary: nic0}\n",
               "t.yaml:15: shards.map.2: logical device 2 does not exist", NULL);
    expect_err(BASE "shards:\n  map:\n    1: {primary: nic0}\n    0x1: {primary: nic1}\n",
               "t.yaml:16: shards.map.0x1: logical device 1 mapped twice", NULL);
    expect_err(BASE "shards:\n  map:\n    one: {primary: nic0}\n",
               "t.yaml:15: shards.map.one: expected a non-negative integer", NULL);
    expect_err(BASE "shards:\n  logical_devices: 5000\n",
               "t.yaml:14: shards.logical_devices: 5000 is out of range", NULL);
}

/* An app's `devices:` list (app pinning): names, semantics, dump and errors. */
static void
test_app_devices(void **state)
{
    struct plane_config *cfg = load_ok("t.yaml", BASE
        "apps:\n"
        "  - {id: 1, name: a, module: a.so, devices: [nic1]}\n"
        "  - {id: 2, name: b, module: b.so, devices: [sw, nic0]}\n"
        "  - {id: 3, name: c, module: c.so}\n");
    const struct plane_config_app *a = &cfg->apps[0], *b = &cfg->apps[1], *c = &cfg->apps[2];
    assert_int_equal(a->n_devices, 1);
    assert_string_equal(a->devices[0], "nic1");
    /* Pinned to nic1: not the switch, not nic0. */
    assert_true(plane_config_app_allows(a, "nic1"));
    assert_false(plane_config_app_allows(a, "nic0"));
    assert_false(plane_config_app_allows(a, "sw"));
    assert_true(plane_config_app_allows(b, "sw"));
    assert_true(plane_config_app_allows(b, "nic0"));
    assert_false(plane_config_app_allows(b, "nic1"));
    /* No list: anywhere. */
    assert_int_equal(c->n_devices, 0);
    assert_true(plane_config_app_allows(c, "sw"));
    assert_true(plane_config_app_allows(c, "nic1"));
    assert_true(plane_config_app_allows(NULL, "nic1"));
    /* --check-config prints the list, and nothing for an app without one. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(plane_config_dump(cfg, f), 0);
    fclose(f);
    assert_non_null(strstr(text, "devices: [nic1]\n"));
    assert_non_null(strstr(text, "devices: [sw, nic0]\n"));
    assert_null(strstr(strstr(text, "name: c\n"), "devices: ["));
    free(text);
    plane_config_delete(cfg);

    expect_err(BASE "apps:\n  - {id: 1, name: a, module: a.so, devices: [gpu0]}\n",
               "t.yaml:14: apps[0].devices: \"gpu0\" is neither the switch nor a device", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: a.so, devices: [sw]}\n",
               "apps[0].devices: no listed device is the primary", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: a.so, devices: []}\n",
               "apps[0].devices: expected 1 to", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: a.so, devices: [nic0, nic0]}\n",
               "apps[0].devices[1]: \"nic0\" listed twice", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: a.so, devices: nic0}\n",
               "apps[0].devices: expected a list of names", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: a.so, devices: [{x: 1}]}\n",
               "apps[0].devices[0]: expected a name", NULL);
    expect_err(BASE "apps:\n  - {id: 1, name: a, module: a.so, devices: [\"n c\"]}\n",
               "apps[0].devices[0]", NULL);
    /* A device that is only ever a replica cannot take an app's misses. */
    expect_err(BASE "shards:\n  logical_devices: 1\n  map:\n    0: {primary: nic0, replica: nic1}\n"
               "apps:\n  - {id: 1, name: a, module: a.so, devices: [nic1]}\n",
               "no listed device is the primary", NULL);
}

static void
test_too_many_items(void **state)
{
    size_t cap = 64 * 1024;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    size_t n = (size_t)snprintf(yaml, cap, "%s", RACK SWITCH "devices:\n");
    for (int i = 0; i <= PLANE_CONFIG_MAX_DEVICES; i++) {
        n += (size_t)snprintf(yaml + n, cap - n, "  - {id: %d, name: d%d, role: nic, "
                              "address: \"127.0.0.1:%d\"}\n", i + 1, i, 20000 + i);
    }
    expect_err(yaml, "t.yaml:11: devices: too many items (257, at most 256)", NULL);

    n = (size_t)snprintf(yaml, cap, "%s", BASE "apps:\n  - id: 1\n    name: a\n"
                         "    module: m\n    params:\n");
    for (int i = 0; i <= PLANE_CONFIG_MAX_PARAMS; i++) {
        n += (size_t)snprintf(yaml + n, cap - n, "      k%d: v\n", i);
    }
    expect_err(yaml, "t.yaml:18: apps[0].params: too many entries (65, at most 64)",
               NULL);
    free(yaml);

    expect_err(RACK SWITCH "devices: []\n", "t.yaml:10: devices: needs at least 1", NULL);
}

static void
test_hostile_documents(void **state)
{
    /* Billion laughs: rejected at the first alias, before anything expands. */
    expect_err("a: &a [x, x, x, x, x, x, x, x, x]\n"
               "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
               "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
               "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
               "t.yaml:2: YAML aliases", NULL);
    expect_err("- a\n- b\n", "t.yaml:1: expected a mapping at the top level, got a list",
               NULL);
    expect_err("just a string\n", "t.yaml:1: expected a mapping at the top level", NULL);
    expect_err("", "t.yaml:1: empty configuration", NULL);
    expect_err("# nothing here\n\n", "t.yaml:1: empty configuration", NULL);
    expect_err("~\n", "t.yaml:1: empty configuration", NULL);
    expect_err(BASE "---\n" BASE, "t.yaml:13: only one YAML document", NULL);
    expect_err("rack: [\n", "t.yaml:", "YAML syntax error");
    expect_err("rack:\n  name: t\n name: u\n", "t.yaml:3: YAML syntax error", NULL);

    static const char garbage[] = "\x7f" "ELF\x02\x01\x01\x00\xff\xfe\x00\x00\x89PNG";
    expect_err_len(garbage, sizeof garbage - 1, "t.yaml:", NULL);
    static const char bad_utf8[] = "rack:\n  name: \xc3\x28\n";
    expect_err_len(bad_utf8, sizeof bad_utf8 - 1, "t.yaml:", NULL);

    char deep[256];
    size_t n = (size_t)snprintf(deep, sizeof deep, "rack: ");
    for (int i = 0; i < 40; i++) {
        deep[n++] = '[';
    }
    deep[n] = '\0';
    expect_err(deep, "t.yaml:1: nested deeper than 16 levels", NULL);

    size_t big = PLANE_CONFIG_MAX_BYTES + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, '#', big);
    expect_err_len(huge, big, "t.yaml:1: file too large", NULL);
    free(huge);

    /* A NUL escaped inside a double-quoted string. */
    expect_err(BASE "apps: [{id: 1, name: a, module: \"m\\0x\"}]\n",
               "t.yaml:13: apps[0].module:", "without NUL");
}

/* Writes text to a fresh temporary file; returns its path (static buffer). */
static const char *
write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/plane-plan-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

/* Loads local.yaml with `plan: <fragment>` appended; returns the load's code. */
static int
load_with_plan(const char *fragment, struct plane_config **cfg, char *err, size_t len)
{
    char frag_path[64];
    snprintf(frag_path, sizeof frag_path, "%s", write_tmp(fragment));
    FILE *f = fopen(PLANE_SOURCE_DIR "/examples/racks/local.yaml", "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 128, f);
    fclose(f);
    n += (size_t) snprintf(buf + n, sizeof buf - n, "\nplan: %s\n", frag_path);
    int rc = plane_config_load_buf(PLANE_SOURCE_DIR "/examples/racks/x.yaml", buf, n, cfg, err,
                                   len);
    unlink(frag_path);
    return rc;
}

/* The planner's fragment sizes flow managers and objects per device. */
static void
test_plan_fragment(void **state)
{
    (void) state;
    struct plane_config *cfg = NULL;
    char err[512] = "";
    int rc = load_with_plan("plan:\n  version: 1\n  rack: \"local\"\n  apps:\n"
                            "    - name: \"flowcheck\"\n      switch_share: 0.5\n"
                            "      flow_manager_entries: 100\n      objects:\n"
                            "        \"nic0\": {\"mapping\": 5000, \"pkts\": 5000}\n"
                            "        \"tor0\": {\"pkts\": 7}\n"
                            "      shards:\n        - {quanta: [0, 1]}\n",
                            &cfg, err, sizeof err);
    if (rc) {
        fail_msg("%s", err);
    }
    const struct plane_config_app *a = plane_config_find_app(cfg, "flowcheck");
    assert_int_equal(a->flow_manager_entries, 100);
    assert_int_equal(plane_config_app_object_size_on(a, 1, "mapping", 3), 5000);
    assert_int_equal(plane_config_app_object_size_on(a, 2, "mapping", 3), 65536);
    assert_int_equal(plane_config_app_object_size_on(a, 0, "pkts", 3), 7);
    assert_int_equal(plane_config_app_object_size_on(a, 0, "nothing", 3), 3);
    plane_config_delete(cfg);

    /* A plan for something else is an error naming the line. */
    static const char *const bad[] = {
        "plan:\n  apps:\n    - name: \"nope\"\n",
        "plan:\n  apps:\n    - name: \"flowcheck\"\n      objects:\n        \"nic9\": {\"pkts\": 1}\n",
        "plan:\n  apps:\n    - name: \"flowcheck\"\n      flow_manager_entries: -4\n",
        "plan:\n  rack: \"other\"\n  apps: []\n",
        "apps: []\n",
        "plan: [\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(load_with_plan(bad[i], &cfg, err, sizeof err), PLANE_ECONFIG);
        assert_null(cfg);
        assert_non_null(strstr(err, "/tmp/plane-plan-"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_rack),
        cmocka_unit_test(test_plan_fragment),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_apps_and_addresses),
        cmocka_unit_test(test_explicit_shards),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_missing_and_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_unknown_and_duplicate_keys),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_bad_hex_key),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_features_and_roles),
        cmocka_unit_test(test_bad_shards),
        cmocka_unit_test(test_app_devices),
        cmocka_unit_test(test_too_many_items),
        cmocka_unit_test(test_hostile_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
