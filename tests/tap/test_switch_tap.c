/* Tests of TAP ports: the `tap:` field of a switch port in the rack config, and the TAP module's open/send/close on a loop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include <plane/error.h>

#include "common/config.h"
#include "switch_tap.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* A rack whose switch ports are the text `ports` (one YAML flow mapping per line). */
static int
load_ports(const char *ports, struct plane_config **cfg, char *err, size_t err_len)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "rack:\n  name: t\n  auth_key: " KEY_HEX "\n"
             "switch:\n  id: 0\n  name: sw\n  control: 127.0.0.1:0\n  ports:\n%s"
             "devices:\n  - {id: 1, name: nic0, role: nic, address: \"127.0.0.1:17001\"}\n",
             ports);
    return plane_config_load_buf("t.yaml", yaml, strlen(yaml), cfg, err, err_len);
}

static void
expect_port_err(const char *ports, const char *what)
{
    char err[512] = "";
    struct plane_config *cfg = NULL;
    assert_int_equal(load_ports(ports, &cfg, err, sizeof err), PLANE_ECONFIG);
    assert_null(cfg);
    if (!strstr(err, what)) {
        print_message("error \"%s\" lacks \"%s\"\n", err, what);
        fail();
    }
}

static void
test_config_tap_ok(void **state)
{
    (void) state;
    char err[512] = "";
    struct plane_config *cfg = NULL;
    int rc = load_ports("    - {id: 0, name: outside, tap: plo0}\n"
                        "    - {id: 1, name: inside, tap: pli0}\n"
                        "    - {id: 2, name: p2, listen: \"127.0.0.1:0\", peer: \"127.0.0.1:9\"}\n",
                        &cfg, err, sizeof err);
    if (rc) {
        print_message("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->sw.n_ports, 3);
    assert_true(cfg->sw.ports[0].has_tap);
    assert_false(cfg->sw.ports[0].has_listen);
    assert_false(cfg->sw.ports[0].has_peer);
    assert_string_equal(cfg->sw.ports[0].tap, "plo0");
    assert_string_equal(cfg->sw.ports[1].tap, "pli0");
    assert_true(cfg->sw.ports[2].has_listen);
    assert_false(cfg->sw.ports[2].has_tap);
    assert_string_equal(cfg->sw.ports[2].tap, "");
    /* --check-config's dump writes the tap and no listen for a TAP port. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(plane_config_dump(cfg, f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "tap: \"plo0\"") ? buf : strstr(buf, "tap: plo0"));
    free(buf);
    plane_config_delete(cfg);
}

static void
test_config_tap_errors(void **state)
{
    (void) state;
    expect_port_err("    - {id: 0, name: p0}\n", "listen: missing required field (or tap)");
    expect_port_err("    - {id: 0, name: p0, listen: \"127.0.0.1:0\", tap: t0}\n",
                    "tap: listen and tap are mutually exclusive");
    expect_port_err("    - {id: 0, name: p0, tap: t0, peer: \"127.0.0.1:9\"}\n", "peer:");
    expect_port_err("    - {id: 0, name: p0, tap: abcdefghijklmnop}\n", "longer than 15");
    expect_port_err("    - {id: 0, name: p0, tap: \"bad/name\"}\n", "tap");
    expect_port_err("    - {id: 0, name: p0, tap: t0}\n    - {id: 1, name: p1, tap: t0}\n",
                    "same interface as ports[0]");
}

static void
count_rx(void *arg, const uint8_t *frame, size_t len)
{
    (void) frame;
    (void) len;
    ++*(int *) arg;
}

static void
count_closed(void *arg, struct plane_switch_tap *tap)
{
    (void) tap;
    ++*(int *) arg;
}

static void
test_tap_bad_name(void **state)
{
    (void) state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct plane_switch_tap *t = (struct plane_switch_tap *) &loop;
    int rx = 0;
    assert_int_equal(plane_switch_tap_open(&loop, "", count_rx, &rx, &t), PLANE_EINVAL);
    assert_null(t);
    assert_int_equal(plane_switch_tap_open(&loop, "abcdefghijklmnop", count_rx, &rx, &t),
                     PLANE_EINVAL);
    assert_null(t);
    assert_string_equal(plane_switch_tap_counter_name(0), "rx_frames");
    assert_string_equal(plane_switch_tap_counter_name(2), "tx_errors");
    assert_null(plane_switch_tap_counter_name(3));
    assert_int_equal(uv_loop_close(&loop), 0);
}

/*
 * Open, write and close a real TAP (needs CAP_NET_ADMIN and /dev/net/tun;
 * skipped otherwise).  The interface stays down, so the kernel refuses the
 * write (EIO) and the counters say so; reading is exercised by the
 * integration test, which brings interfaces up in namespaces.
 */
static void
test_tap_lifecycle(void **state)
{
    (void) state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char name[16];
    snprintf(name, sizeof name, "pltt%d", (int) (getpid() % 100000));
    struct plane_switch_tap *t = NULL;
    int rx = 0, closed = 0;
    int rc = plane_switch_tap_open(&loop, name, count_rx, &rx, &t);
    if (rc == PLANE_EPERM || rc == PLANE_ENOENT || rc == PLANE_EACCES || rc == -ENODEV) {
        print_message("skipped: cannot open a TAP here (%s)\n", plane_err_name(rc));
        assert_int_equal(uv_loop_close(&loop), 0);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_non_null(t);
    uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00 };
    rc = plane_switch_tap_send(t, frame, sizeof frame);
    const struct plane_switch_tap_stats *s = plane_switch_tap_stats(t);
    if (rc == 0) {
        assert_int_equal(s->tx_frames, 1);
    } else {
        assert_int_equal(s->tx_errors, 1);
    }
    /* A loop iteration with nothing to read runs no rx callback. */
    assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 1);
    assert_int_equal(rx, 0);
    plane_switch_tap_close(t, count_closed, &closed);
    plane_switch_tap_close(t, count_closed, &closed); /* idempotent before the callback */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_tap_ok),
        cmocka_unit_test(test_config_tap_errors),
        cmocka_unit_test(test_tap_bad_name),
        cmocka_unit_test(test_tap_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
