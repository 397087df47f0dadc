/* Tests of placement: HRW shard balance, failover and recovery, devmap wire round trip, hot-key budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/mp.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "placement.h"

#define N_DEV 4

/* Four devices 10..13; logical i is primary 10+i, replica 10+(i+1)%4. */
static void
build(struct plane_placement *pl, uint64_t seed)
{
    assert_int_equal(plane_placement_init(pl, 0, seed), 0);
    for (uint16_t d = 0; d < N_DEV; d++) {
        assert_int_equal(plane_placement_add_device(pl, 10 + d), 0);
    }
    for (uint16_t l = 0; l < N_DEV; l++) {
        uint16_t id;
        assert_int_equal(plane_placement_add_logical(pl, 10 + l, 10 + (l + 1) % N_DEV, &id), 0);
        assert_int_equal(id, l);
    }
}

static uint64_t
key_hash(uint64_t i)
{
    return XXH3_64bits_withSeed(&i, sizeof i, 77);
}

static void
test_errors(void **state)
{
    struct plane_placement pl;
    assert_int_equal(plane_placement_init(&pl, PLANE_PLACEMENT_MAX_SHARDS + 1, 0), PLANE_EINVAL);
    assert_int_equal(plane_placement_init(&pl, 64, 0), 0);
    assert_int_equal(plane_placement_logical_of(&pl, 123), PLANE_DEV_NONE);
    assert_int_equal(plane_placement_add_device(&pl, PLANE_DEV_NONE), PLANE_EINVAL);
    assert_int_equal(plane_placement_add_device(&pl, 1), 0);
    assert_int_equal(plane_placement_add_device(&pl, 1), PLANE_EEXIST);
    assert_int_equal(plane_placement_add_logical(&pl, 2, PLANE_DEV_NONE, NULL), PLANE_ENOENT);
    assert_int_equal(plane_placement_add_logical(&pl, 1, 2, NULL), PLANE_ENOENT);
    assert_int_equal(plane_placement_add_logical(&pl, 1, PLANE_DEV_NONE, NULL), 0);
    assert_int_equal(plane_placement_remove_logical(&pl, 0), PLANE_EBUSY);
    assert_int_equal(plane_placement_remove_logical(&pl, 5), PLANE_ENOENT);
    assert_int_equal(plane_placement_device_down(&pl, 9), PLANE_ENOENT);
    assert_int_equal(plane_placement_recovered(&pl, 0), PLANE_ESTATE);
    assert_int_equal(plane_placement_recovered(&pl, 3), PLANE_ENOENT);
    /* Without a replica, losing the primary loses the logical device. */
    assert_int_equal(plane_placement_device_down(&pl, 1), 1);
    assert_int_equal(plane_placement_get_logical(&pl, 0)->state, PLANE_DEVMAP_DOWN);
    assert_int_equal(plane_placement_device_of(&pl, 99), PLANE_DEV_NONE);
    assert_int_equal(plane_placement_device_up(&pl, 1), 1);
    assert_int_equal(plane_placement_device_of(&pl, 99), 1);
    plane_placement_uninit(&pl);
    plane_placement_uninit(&pl);
}

static void
test_balance(void **state)
{
    struct plane_placement pl;
    build(&pl, 0x1234);
    uint32_t shards[N_DEV] = { 0 };
    for (uint32_t s = 0; s < pl.n_shards; s++) {
        uint16_t l = plane_placement_shard_logical(&pl, s);
        assert_true(l < N_DEV);
        shards[l]++;
    }
    uint32_t keys[N_DEV] = { 0 };
    enum { N_KEYS = 400000 };
    for (uint64_t i = 0; i < N_KEYS; i++) {
        uint16_t l = plane_placement_logical_of(&pl, key_hash(i));
        assert_true(l < N_DEV);
        keys[l]++;
    }
    for (int l = 0; l < N_DEV; l++) {
        double fs = (double) shards[l] / (pl.n_shards / N_DEV);
        double fk = (double) keys[l] / (N_KEYS / N_DEV);
        printf("logical %d: %u shards (%.3f), %u keys (%.3f)\n", l, shards[l], fs, keys[l], fk);
        assert_true(fs > 0.95 && fs < 1.05);
        assert_true(fk > 0.95 && fk < 1.05);
    }
    plane_placement_uninit(&pl);
}

static void
test_add_remove_moves_only_own_shards(void **state)
{
    struct plane_placement pl;
    build(&pl, 99);
    uint16_t *before = plane_malloc(pl.n_shards * sizeof *before);
    assert_non_null(before);
    memcpy(before, pl.shard_logical, pl.n_shards * sizeof *before);

    /* Remove logical 2: only its shards move, spread over the others. */
    uint64_t epoch = pl.epoch;
    assert_int_equal(plane_placement_remove_logical(&pl, 2), 0);
    assert_int_equal(pl.epoch, epoch + 1);
    assert_null(plane_placement_get_logical(&pl, 2));
    for (uint32_t s = 0; s < pl.n_shards; s++) {
        if (before[s] == 2) {
            assert_int_not_equal(pl.shard_logical[s], 2);
        } else {
            assert_int_equal(pl.shard_logical[s], before[s]);
        }
    }
    memcpy(before, pl.shard_logical, pl.n_shards * sizeof *before);

    /* Add a fifth logical: shards only move to it, about a quarter of them. */
    uint16_t id;
    assert_int_equal(plane_placement_add_logical(&pl, 12, 13, &id), 0);
    assert_int_equal(id, 4);
    uint32_t moved = 0;
    for (uint32_t s = 0; s < pl.n_shards; s++) {
        if (pl.shard_logical[s] != before[s]) {
            assert_int_equal(pl.shard_logical[s], 4);
            moved++;
        }
    }
    printf("new logical took %u of %u shards\n", moved, pl.n_shards);
    assert_true(moved > pl.n_shards / 4 * 9 / 10 && moved < pl.n_shards / 4 * 11 / 10);
    plane_free(before);
    plane_placement_uninit(&pl);
}

static void
test_failover_and_recovery(void **state)
{
    enum { N_KEYS = 20000 };
    struct plane_placement pl;
    build(&pl, 7);
    uint16_t *dev = plane_malloc(N_KEYS * sizeof *dev);
    uint16_t *lg = plane_malloc(N_KEYS * sizeof *lg);
    assert_non_null(dev);
    assert_non_null(lg);
    for (uint32_t i = 0; i < N_KEYS; i++) {
        lg[i] = plane_placement_logical_of(&pl, key_hash(i));
        dev[i] = plane_placement_device_of(&pl, key_hash(i));
        assert_int_equal(dev[i], 10 + lg[i]);   /* primaries serve */
    }

    /* Device 11 (primary of logical 1, replica of logical 0) fails. */
    uint64_t epoch = pl.epoch;
    assert_int_equal(plane_placement_device_down(&pl, 11), 1);
    assert_int_equal(pl.epoch, epoch + 1);
    assert_false(plane_placement_device_is_up(&pl, 11));
    assert_int_equal(plane_placement_get_logical(&pl, 1)->state, PLANE_DEVMAP_FAILOVER);
    assert_int_equal(plane_placement_get_logical(&pl, 0)->state, PLANE_DEVMAP_ACTIVE);
    for (uint32_t i = 0; i < N_KEYS; i++) {
        uint64_t h = key_hash(i);
        assert_int_equal(plane_placement_logical_of(&pl, h), lg[i]);   /* keys never reshard */
        if (lg[i] == 1) {
            assert_int_equal(plane_placement_device_of(&pl, h), 12);   /* its replica */
        } else {
            assert_int_equal(plane_placement_device_of(&pl, h), dev[i]);
        }
    }
    /* Failing it again changes nothing and keeps the epoch. */
    assert_int_equal(plane_placement_device_down(&pl, 11), 0);
    assert_int_equal(pl.epoch, epoch + 1);

    /* It comes back: RECOVERING, still served by the replica until resynced. */
    assert_int_equal(plane_placement_device_up(&pl, 11), 1);
    assert_int_equal(pl.epoch, epoch + 2);
    assert_int_equal(plane_placement_get_logical(&pl, 1)->state, PLANE_DEVMAP_RECOVERING);
    assert_int_equal(plane_placement_serving(&pl, 1), 12);
    assert_int_equal(plane_placement_recovered(&pl, 1), 0);
    assert_int_equal(pl.epoch, epoch + 3);
    for (uint32_t i = 0; i < N_KEYS; i++) {
        assert_int_equal(plane_placement_device_of(&pl, key_hash(i)), dev[i]);
    }

    /* Primary and then replica fail: DOWN; the replica returning serves. */
    assert_int_equal(plane_placement_device_down(&pl, 11), 1);
    assert_int_equal(plane_placement_device_down(&pl, 12), 2);   /* logical 1 DOWN, 2 FAILOVER */
    assert_int_equal(plane_placement_get_logical(&pl, 1)->state, PLANE_DEVMAP_DOWN);
    assert_int_equal(plane_placement_get_logical(&pl, 2)->state, PLANE_DEVMAP_FAILOVER);
    assert_int_equal(plane_placement_serving(&pl, 1), PLANE_DEV_NONE);
    assert_int_equal(plane_placement_serving(&pl, 2), 13);
    assert_int_equal(plane_placement_device_up(&pl, 12), 2);
    assert_int_equal(plane_placement_get_logical(&pl, 1)->state, PLANE_DEVMAP_FAILOVER);
    assert_int_equal(plane_placement_get_logical(&pl, 2)->state, PLANE_DEVMAP_RECOVERING);
    /* The replica of a recovering logical dies: its primary serves. */
    assert_int_equal(plane_placement_device_down(&pl, 13), 2);   /* logical 2 ACTIVE, 3 FAILOVER */
    assert_int_equal(plane_placement_get_logical(&pl, 2)->state, PLANE_DEVMAP_ACTIVE);
    assert_int_equal(plane_placement_serving(&pl, 2), 12);
    assert_int_equal(pl.stats.lost, 1);
    assert_true(pl.stats.failovers >= 3);
    assert_int_equal(pl.stats.device_down, 4);

    plane_free(dev);
    plane_free(lg);
    plane_placement_uninit(&pl);
}

static void
test_devmap_round_trip(void **state)
{
    struct plane_placement sw, dev;
    build(&sw, 5);
    build(&dev, 5);
    assert_int_equal(plane_placement_device_down(&sw, 12), 1);
    assert_int_equal(plane_placement_device_down(&sw, 13), 2);

    uint8_t buf[1024];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_placement_devmap_encode(&sw, &w), 0);
    struct plane_mp_zone z;
    assert_int_equal(plane_mp_zone_init(&z, 0), 0);
    assert_int_equal(plane_placement_devmap_decode_apply(&dev, buf, w.len, &z), 0);
    assert_int_equal(dev.epoch, sw.epoch);
    for (uint16_t l = 0; l < N_DEV; l++) {
        assert_int_equal(plane_placement_serving(&dev, l), plane_placement_serving(&sw, l));
        assert_int_equal(plane_placement_get_logical(&dev, l)->state,
                         plane_placement_get_logical(&sw, l)->state);
    }
    /* The same map again is stale. */
    plane_mp_zone_clear(&z);
    assert_int_equal(plane_placement_devmap_decode_apply(&dev, buf, w.len, &z), PLANE_EALREADY);
    /* Truncated input is rejected by the decoder. */
    plane_mp_zone_clear(&z);
    assert_true(plane_placement_devmap_decode_apply(&dev, buf, w.len - 1, &z) < 0);

    /* A map naming an unknown logical device changes nothing. */
    struct plane_body_devmap m;
    plane_placement_devmap(&sw, &m);
    struct plane_body_devmap_item items[N_DEV];
    memcpy(items, m.items, sizeof items);
    items[3].logical = 9;
    items[0].state = PLANE_DEVMAP_DOWN;
    struct plane_body_devmap bad = { .epoch = sw.epoch + 10, .n_items = N_DEV, .items = items };
    assert_int_equal(plane_placement_devmap_apply(&dev, &bad), PLANE_EPROTO);
    items[3].logical = 0;   /* a duplicate */
    assert_int_equal(plane_placement_devmap_apply(&dev, &bad), PLANE_EPROTO);
    bad.n_items = 2;
    assert_int_equal(plane_placement_devmap_apply(&dev, &bad), PLANE_EPROTO);
    assert_int_equal(dev.epoch, sw.epoch);
    assert_int_equal(plane_placement_get_logical(&dev, 0)->state, PLANE_DEVMAP_ACTIVE);
    assert_int_equal(dev.stats.devmap_applied, 1);
    assert_int_equal(dev.stats.devmap_stale, 1);
    assert_int_equal(dev.stats.devmap_rejected, 3);

    plane_mp_zone_uninit(&z);
    plane_placement_uninit(&sw);
    plane_placement_uninit(&dev);
}

static const char rack_yaml[] =
    "rack: {name: t, auth_key: "
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f, hash_seed: 42}\n"
    "switch:\n"
    "  id: 0\n"
    "  name: sw\n"
    "  control: 127.0.0.1:0\n"
    "  ports: [{id: 0, name: p0, listen: 127.0.0.1:0}]\n"
    "devices:\n"
    "  - {id: 1, name: a, role: nic, address: 127.0.0.1:9001}\n"
    "  - {id: 2, name: b, role: nic, address: 127.0.0.1:9002}\n"
    "  - {id: 3, name: c, role: server, address: 127.0.0.1:9003, features: [payload]}\n";

static void
test_from_config(void **state)
{
    struct plane_config *cfg;
    char err[256];
    int rc = plane_config_load_buf("t.yaml", rack_yaml, sizeof rack_yaml - 1, &cfg, err,
                                   sizeof err);
    if (rc) {
        fail_msg("config: %s", err);
    }
    struct plane_placement a, b;
    assert_int_equal(plane_placement_init_config(&a, cfg, 1024), 0);
    assert_int_equal(plane_placement_init_config(&b, cfg, 1024), 0);
    assert_int_equal(a.n_present, cfg->shards.logical_devices);
    assert_int_equal(a.epoch, 1);
    /* Every device of the rack computes the same table. */
    assert_memory_equal(a.shard_logical, b.shard_logical, 1024 * sizeof(uint16_t));
    for (uint16_t l = 0; l < a.n_present; l++) {
        const struct plane_placement_logical *lg = plane_placement_get_logical(&a, l);
        const struct plane_config_shard *sh = &cfg->shards.map[l];
        assert_int_equal(lg->primary, cfg->devices[sh->primary_idx].id);
        if (sh->replica_idx >= 0) {
            assert_int_equal(lg->replica, cfg->devices[sh->replica_idx].id);
        }
    }
    /* An app needing payload access: only logical 2 (primary c) serves it,
     * and keys of the others move there; others keep the rack-wide map. */
    struct plane_placement_set any, pay;
    assert_int_equal(plane_placement_set_init(&any, &a, cfg, NULL, 0), 0);
    assert_int_equal(plane_placement_set_init(&pay, &a, cfg, NULL, PLANE_FEAT_PAYLOAD), 0);
    assert_int_equal(any.n, 0);
    assert_int_equal(pay.n, 1);
    for (uint64_t h = 1; h < 5000; h++) {
        uint64_t kh = XXH3_64bits(&h, sizeof h);
        assert_int_equal(plane_placement_logical_in(&a, &any, kh),
                         plane_placement_logical_of(&a, kh));
        assert_int_equal(plane_placement_device_in(&a, &pay, kh), 3);
    }
    plane_placement_set_uninit(&any);
    plane_placement_set_uninit(&pay);
    plane_placement_uninit(&a);
    plane_placement_uninit(&b);
    plane_config_delete(cfg);
}

/* App pinning: an app's `devices:` list restricts its logicals to those
 * whose primary it lists, whatever their replicas; features still apply. */
static void
test_pinned_app(void **state)
{
    static const char yaml[] =
        "rack: {name: t, auth_key: "
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f}\n"
        "switch:\n"
        "  id: 0\n"
        "  name: sw\n"
        "  control: 127.0.0.1:0\n"
        "  ports: [{id: 0, name: p0, listen: 127.0.0.1:0}]\n"
        "devices:\n"
        "  - {id: 1, name: a, role: nic, address: 127.0.0.1:9001}\n"
        "  - {id: 2, name: b, role: nic, address: 127.0.0.1:9002}\n"
        "  - {id: 3, name: c, role: server, address: 127.0.0.1:9003, features: [payload]}\n"
        "  - {id: 4, name: d, role: nic, address: 127.0.0.1:9004}\n"
        "apps:\n"
        "  - {id: 1, name: one, module: x.so, devices: [b]}\n"
        "  - {id: 2, name: two, module: x.so, devices: [sw, a, d]}\n"
        "  - {id: 3, name: pay, module: x.so, devices: [a, c]}\n"
        "  - {id: 4, name: bad, module: x.so, devices: [a]}\n";
    struct plane_config *cfg;
    char err[256];
    if (plane_config_load_buf("t.yaml", yaml, sizeof yaml - 1, &cfg, err, sizeof err)) {
        fail_msg("config: %s", err);
    }
    struct plane_placement pl;
    assert_int_equal(plane_placement_init_config(&pl, cfg, 1024), 0);
    struct plane_placement_set one, two, pay, bad;
    assert_int_equal(plane_placement_set_init(&one, &pl, cfg, &cfg->apps[0], 0), 0);
    assert_int_equal(plane_placement_set_init(&two, &pl, cfg, &cfg->apps[1], 0), 0);
    assert_int_equal(plane_placement_set_init(&pay, &pl, cfg, &cfg->apps[2], PLANE_FEAT_PAYLOAD),
                     0);
    /* Listed, but none with the features: refused, not silently widened. */
    assert_int_equal(plane_placement_set_init(&bad, &pl, cfg, &cfg->apps[3], PLANE_FEAT_PAYLOAD),
                     PLANE_ECONFIG);
    assert_null(bad.ids);
    assert_int_equal(one.n, 1);
    assert_int_equal(two.n, 2);
    assert_int_equal(pay.n, 1);
    uint32_t on[5] = { 0 };
    for (uint64_t h = 1; h < 5000; h++) {
        uint64_t kh = XXH3_64bits(&h, sizeof h);
        assert_int_equal(plane_placement_device_in(&pl, &one, kh), 2);
        uint16_t d = plane_placement_device_in(&pl, &two, kh);
        assert_true(d == 1 || d == 4);
        on[d]++;
        assert_int_equal(plane_placement_device_in(&pl, &pay, kh), 3);
        /* A key already on a listed device keeps its logical. */
        uint16_t l = plane_placement_logical_of(&pl, kh);
        uint16_t p = plane_placement_get_logical(&pl, l)->primary;
        if (p == 1 || p == 4) {
            assert_int_equal(plane_placement_logical_in(&pl, &two, kh), l);
        }
    }
    /* The keys spread over both listed devices. */
    assert_true(on[1] > 1500 && on[4] > 1500);
    /* Failover: the pinned logical's replica (c, unlisted) serves it. */
    assert_true(plane_placement_device_down(&pl, 2) > 0);
    uint64_t h = 7, kh = XXH3_64bits(&h, sizeof h);
    assert_int_equal(plane_placement_device_in(&pl, &one, kh), 3);
    plane_placement_set_uninit(&one);
    plane_placement_set_uninit(&two);
    plane_placement_set_uninit(&pay);
    plane_placement_uninit(&pl);
    plane_config_delete(cfg);
}

static void
test_hot_budget(void **state)
{
    assert_int_equal(plane_placement_hot_budget(0, 1.0), 0);
    assert_int_equal(plane_placement_hot_budget(1, 1.0), 0);
    assert_int_equal(plane_placement_hot_budget(4, 1.0), 6);       /* 4 ln 4 = 5.55 */
    assert_int_equal(plane_placement_hot_budget(16, 2.0), 89);     /* 32 ln 16 = 88.7 */
    assert_int_equal(plane_placement_hot_budget(4, 0.0), 0);

    uint64_t keys[6] = { 1, 2, 3, 4, 5, 6 };
    uint64_t counts[6] = { 10, 500, 30, 500, 7, 90 };
    struct plane_body_pop_item items[6];
    for (int i = 0; i < 6; i++) {
        items[i] = (struct plane_body_pop_item) {
            .union_key = (const uint8_t *) &keys[i], .union_key_len = 8, .count = counts[i],
        };
    }
    assert_int_equal(plane_placement_select_hot(items, 6, 3), 3);
    assert_int_equal(items[0].count, 500);
    assert_int_equal(items[1].count, 500);
    assert_int_equal(items[2].count, 90);
    /* Equal counts are ordered by key bytes, so the choice is deterministic. */
    assert_true(memcmp(items[0].union_key, items[1].union_key, 8) < 0);
    assert_int_equal(plane_placement_select_hot(items, 6, 100), 6);
    assert_int_equal(items[5].count, 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_balance),
        cmocka_unit_test(test_add_remove_moves_only_own_shards),
        cmocka_unit_test(test_failover_and_recovery),
        cmocka_unit_test(test_devmap_round_trip),
        cmocka_unit_test(test_from_config),
        cmocka_unit_test(test_pinned_app),
        cmocka_unit_test(test_hot_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
