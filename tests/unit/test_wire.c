/* Tests of the wire protocol: golden bytes, round trips and hostile input for headers and every body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/allocator_interface.h>
#define HAVE_MALLOC_HOOKS 1
#endif
#endif

#include <plane/error.h>

#include "common/mp.h"
#include "common/wire.h"
#include "common/wire_body.h"

/* ---- helpers ----------------------------------------------------------- */

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        assert_true(n < cap);
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

static void
print_hex(const char *what, const uint8_t *p, size_t n)
{
    printf("%s (%zu bytes): ", what, n);
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

/* Compares encoded bytes with a golden hex string (spaces ignored). */
static void
assert_golden(const char *what, const uint8_t *p, size_t n, const char *hex)
{
    uint8_t want[PLANE_WIRE_MAX_DATAGRAM];
    size_t wn = unhex(hex, want, sizeof want);
    if (wn != n || memcmp(want, p, n) != 0) {
        print_hex(what, p, n);
        if (getenv("PLANE_GOLDEN_PRINT")) {
            return;
        }
        fail_msg("%s: encoding differs from the golden bytes", what);
    }
}

/* ---- fixtures: one fixed value per message ------------------------------ */

static const uint8_t frame4[] = { 0xde, 0xad, 0xbe, 0xef };

static struct plane_wire_data
data_fixture(void)
{
    struct plane_wire_data d = {
        .app_id = 7,
        .key_hash = 0x0123456789abcdefULL,
        .ldev = 2,
        .pdev = 3,
        .flags = PLANE_DATA_F_PROCESSED | PLANE_DATA_F_NEW_FLOW,
        .ingress_ns = 1000000000000ULL,
        .port = 17,
        .processed_by = 3,
        .processed_ns = 1000000005000ULL,
        .frame = frame4,
        .frame_len = sizeof frame4,
    };
    return d;
}

static const char GOLDEN_DATA[] =
    "9b 01 00 07 cf0123456789abcdef 02 03 03 cf000000e8d4a51000 11 03"
    " cf000000e8d4a52388 deadbeef";

static const uint16_t hello_ports[] = { 4790, 4791 };
static const struct plane_body_hello hello_fx = {
    .device_id = 3, .role = PLANE_DEV_ROLE_NIC, .name = "nic0", .features = 0x5,
    .incarnation = 0x1122334455667788ULL, .proto_version = PLANE_WIRE_VERSION,
    .n_ports = 2, .ports = hello_ports,
};
static const struct plane_body_heartbeat hb_fx = {
    .sender_ns = 5000000000ULL, .echo_ns = 4999000000ULL, .state = PLANE_HB_UP,
};
static const struct plane_body_entry entry_fx[] = {
    { .object_id = 1, .flags = 0, .key = (const uint8_t *)"\x0a\x00\x00\x01",
      .key_len = 4, .value = (const uint8_t *)"\x01", .value_len = 1 },
    { .object_id = 2, .flags = PLANE_ENTRY_F_SHARED,
      .key = (const uint8_t *)"\x0a\x00\x00\x01", .key_len = 4 },
};
static const struct plane_body_entries entries_fx = {
    .app_id = 7, .n_entries = 2, .entries = entry_fx,
};
static const struct plane_body_update update_fx = {
    .app_id = 7, .update_id = 99, .phase = PLANE_UPDATE_INSTALL,
    .union_key = (const uint8_t *)"\x0a\x00\x00\x01", .union_key_len = 4,
    .n_entries = 1, .entries = entry_fx,
};
static const struct plane_body_sync_item sync_items_fx[] = {
    { .object_id = 4, .key = (const uint8_t *)"\x0a\x00\x00\x01", .key_len = 4,
      .snapshot = (const uint8_t *)"\x00\x00\x00\x03", .snapshot_len = 4,
      .history = (const uint8_t *)"\x00\x00\x00\x00", .history_len = 4 },
};
static const struct plane_body_sync sync_fx = {
    .app_id = 7, .epoch = 1, .round = 12, .n_items = 1, .items = sync_items_fx,
};
static const struct plane_body_pop_item pop_items_fx[] = {
    { .union_key = (const uint8_t *)"\x0a\x00\x00\x01", .union_key_len = 4, .count = 1500 },
    { .union_key = (const uint8_t *)"\x0a\x00\x00\x02", .union_key_len = 4, .count = 3 },
};
static const struct plane_body_pop pop_fx = {
    .app_id = 7, .n_items = 2, .items = pop_items_fx,
};
static const struct plane_body_devmap_item devmap_items_fx[] = {
    { .logical = 0, .primary = 1, .replica = 2, .state = PLANE_DEVMAP_ACTIVE },
    { .logical = 1, .primary = 2, .replica = PLANE_DEV_NONE,
      .state = PLANE_DEVMAP_FAILOVER },
};
static const struct plane_body_devmap devmap_fx = {
    .epoch = 5, .n_items = 2, .items = devmap_items_fx,
};
static const struct plane_body_stat stats_items_fx[] = {
    { .name = "rx_ok", .value = 123456 },
    { .name = "rx_bad_mac", .value = 0 },
};
static const struct plane_body_stats stats_fx = {
    .n_stats = 2, .stats = stats_items_fx,
};
static const struct plane_body_param params_fx[] = {
    { .key = "threshold", .value = "100" },
};
static const struct plane_body_app_deploy app_deploy_fx = {
    .app_id = 7, .name = "fw", .module = "apps/fw.so", .n_params = 1,
    .params = params_fx,
};
static const struct plane_body_admin admin_fx = {
    .op = PLANE_ADMIN_PROMOTE, .app_id = 7, .device = PLANE_DEV_NONE,
    .key = (const uint8_t *)"\x0a\x00\x00\x01", .key_len = 4,
};
static const struct plane_body_empty empty_fx = { 0 };

/* Golden encodings of each body fixture, checked field by field in
 * docs/protocol.md. */
static const char GOLDEN_EMPTY[] = "c0";
static const char GOLDEN_HELLO[] =
    "97 03 01 a46e696330 05 cf1122334455667788 01 92 cd12b6 cd12b7";
static const char GOLDEN_HEARTBEAT[] = "93 cf000000012a05f200 cf0000000129f6afc0 03";
static const char GOLDEN_ENTRIES[] = "92 07 92 94 01 c4040a000001 c40101 00 94 02 c4040a000001 c400 01";
static const char GOLDEN_UPDATE[] = "95 07 63 01 c4040a000001 91 94 01 c4040a000001 c40101 00";
static const char GOLDEN_SYNC[] = "94 07 01 0c 91 94 04 c4040a000001 c40400000003 c40400000000";
static const char GOLDEN_POP[] = "92 07 92 92 c4040a000001 cd05dc 92 c4040a000002 03";
static const char GOLDEN_DEVMAP[] = "92 05 92 94 00 01 02 00 94 01 02 cdffff 01";
static const char GOLDEN_STATS[] = "91 92 92 a572785f6f6b ce0001e240 92 aa72785f6261645f6d6163 00";
static const char GOLDEN_ADMIN[] = "94 00 07 cdffff c4040a000001";
static const char GOLDEN_APP_DEPLOY[] = "94 07 a26677 aa617070732f66772e736f 91 92 a97468726573686f6c64 a3313030";

/* A CONTROL request carrying the heartbeat fixture, and a response with an
 * error status and an empty body (MACs zero, as encode leaves them). */
static const char GOLDEN_CTL_REQ[] = 
    "9a 01 01 00 03 cf1122334455667788 2a 07 02 00"
    " 93 cf000000012a05f200 cf0000000129f6afc0 03"
    " 0000000000000000000000000000000000000000000000000000000000000000";
static const char GOLDEN_CTL_RESP[] = 
    "9a 01 01 01 00 cea5a5a5a5 cd03e8 07 06 fe c0"
    " 0000000000000000000000000000000000000000000000000000000000000000";

static const struct plane_wire_ctl ctl_req_fx = {
    .kind = PLANE_CTL_REQUEST, .sender = 3, .incarnation = 0x1122334455667788ULL,
    .seq = 42, .request_id = 7, .msg_type = PLANE_MSG_HEARTBEAT, .status = 0,
};
static const struct plane_wire_ctl ctl_resp_fx = {
    .kind = PLANE_CTL_RESPONSE, .sender = 0, .incarnation = 0xa5a5a5a5ULL,
    .seq = 1000, .request_id = 7, .msg_type = PLANE_MSG_ENTRY_READ,
    .status = PLANE_ENOENT,
};

/* Every body fixture, by kind, with its msg type and direction. */
struct body_case {
    const char *name;
    enum plane_body_kind kind;
    int msg_type;
    bool is_response;
    const void *value;
    const char *golden;
};

static const struct body_case body_cases[] = {
    { "empty", PLANE_BODY_empty, PLANE_MSG_POP_REPORT, true, &empty_fx, GOLDEN_EMPTY },
    { "hello", PLANE_BODY_hello, PLANE_MSG_HELLO, false, &hello_fx, GOLDEN_HELLO },
    { "heartbeat", PLANE_BODY_heartbeat, PLANE_MSG_HEARTBEAT, true, &hb_fx,
      GOLDEN_HEARTBEAT },
    { "entries", PLANE_BODY_entries, PLANE_MSG_ENTRY_INSERT, false, &entries_fx,
      GOLDEN_ENTRIES },
    { "update", PLANE_BODY_update, PLANE_MSG_PROMOTE, false, &update_fx,
      GOLDEN_UPDATE },
    { "sync", PLANE_BODY_sync, PLANE_MSG_SYNC, false, &sync_fx, GOLDEN_SYNC },
    { "pop", PLANE_BODY_pop, PLANE_MSG_POP_REPORT, false, &pop_fx, GOLDEN_POP },
    { "devmap", PLANE_BODY_devmap, PLANE_MSG_DEVMAP_UPDATE, false, &devmap_fx,
      GOLDEN_DEVMAP },
    { "stats", PLANE_BODY_stats, PLANE_MSG_STATS, true, &stats_fx, GOLDEN_STATS },
    { "app_deploy", PLANE_BODY_app_deploy, PLANE_MSG_APP_DEPLOY, false,
      &app_deploy_fx, GOLDEN_APP_DEPLOY },
    { "admin", PLANE_BODY_admin, PLANE_MSG_ADMIN, false, &admin_fx, GOLDEN_ADMIN },
};
#define N_BODY_CASES (sizeof body_cases / sizeof body_cases[0])

static int
encode_body(const struct body_case *bc, struct plane_mp_writer *w)
{
    switch (bc->kind) {
#define ENC_(K)                                                                \
    case PLANE_BODY_##K:                                                       \
        return plane_body_##K##_encode(bc->value, w);
    PLANE_BODY_KINDS(ENC_)
#undef ENC_
    default:
        return PLANE_EINVAL;
    }
}

static size_t
encode_body_buf(const struct body_case *bc, uint8_t *buf, size_t cap)
{
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, cap);
    assert_int_equal(encode_body(bc, &w), 0);
    return w.len;
}

/* ---- field-by-field comparison of decoded bodies ------------------------ */

static void
assert_bytes(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn)
{
    assert_int_equal(an, bn);
    if (an) {
        assert_memory_equal(a, b, an);
    }
}

static void
assert_entries_eq(const struct plane_body_entry *a, const struct plane_body_entry *b,
                  uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(a[i].object_id, b[i].object_id);
        assert_int_equal(a[i].flags, b[i].flags);
        assert_bytes(a[i].key, a[i].key_len, b[i].key, b[i].key_len);
        assert_bytes(a[i].value, a[i].value_len, b[i].value, b[i].value_len);
    }
}

static void
assert_body_eq(enum plane_body_kind kind, const void *want, const union plane_body *got)
{
    switch (kind) {
    case PLANE_BODY_empty:
        break;
    case PLANE_BODY_hello: {
        const struct plane_body_hello *a = want, *b = &got->hello;
        assert_int_equal(a->device_id, b->device_id);
        assert_int_equal(a->role, b->role);
        assert_string_equal(a->name, b->name);
        assert_true(a->features == b->features);
        assert_true(a->incarnation == b->incarnation);
        assert_int_equal(a->proto_version, b->proto_version);
        assert_int_equal(a->n_ports, b->n_ports);
        assert_memory_equal(a->ports, b->ports, a->n_ports * sizeof *a->ports);
        break;
    }
    case PLANE_BODY_heartbeat: {
        const struct plane_body_heartbeat *a = want, *b = &got->heartbeat;
        assert_true(a->sender_ns == b->sender_ns);
        assert_true(a->echo_ns == b->echo_ns);
        assert_int_equal(a->state, b->state);
        break;
    }
    case PLANE_BODY_entries: {
        const struct plane_body_entries *a = want, *b = &got->entries;
        assert_int_equal(a->app_id, b->app_id);
        assert_int_equal(a->n_entries, b->n_entries);
        assert_entries_eq(a->entries, b->entries, a->n_entries);
        break;
    }
    case PLANE_BODY_update: {
        const struct plane_body_update *a = want, *b = &got->update;
        assert_int_equal(a->app_id, b->app_id);
        assert_true(a->update_id == b->update_id);
        assert_int_equal(a->phase, b->phase);
        assert_bytes(a->union_key, a->union_key_len, b->union_key, b->union_key_len);
        assert_int_equal(a->n_entries, b->n_entries);
        assert_entries_eq(a->entries, b->entries, a->n_entries);
        break;
    }
    case PLANE_BODY_sync: {
        const struct plane_body_sync *a = want, *b = &got->sync;
        assert_int_equal(a->app_id, b->app_id);
        assert_true(a->epoch == b->epoch);
        assert_true(a->round == b->round);
        assert_int_equal(a->n_items, b->n_items);
        for (uint32_t i = 0; i < a->n_items; i++) {
            const struct plane_body_sync_item *x = &a->items[i], *y = &b->items[i];
            assert_int_equal(x->object_id, y->object_id);
            assert_bytes(x->key, x->key_len, y->key, y->key_len);
            assert_bytes(x->snapshot, x->snapshot_len, y->snapshot, y->snapshot_len);
            assert_bytes(x->history, x->history_len, y->history, y->history_len);
        }
        break;
    }
    case PLANE_BODY_pop: {
        const struct plane_body_pop *a = want, *b = &got->pop;
        assert_int_equal(a->app_id, b->app_id);
        assert_int_equal(a->n_items, b->n_items);
        for (uint32_t i = 0; i < a->n_items; i++) {
            assert_bytes(a->items[i].union_key, a->items[i].union_key_len,
                         b->items[i].union_key, b->items[i].union_key_len);
            assert_true(a->items[i].count == b->items[i].count);
        }
        break;
    }
    case PLANE_BODY_devmap: {
        const struct plane_body_devmap *a = want, *b = &got->devmap;
        assert_true(a->epoch == b->epoch);
        assert_int_equal(a->n_items, b->n_items);
        assert_memory_equal(a->items, b->items, a->n_items * sizeof *a->items);
        break;
    }
    case PLANE_BODY_stats: {
        const struct plane_body_stats *a = want, *b = &got->stats;
        assert_int_equal(a->n_stats, b->n_stats);
        for (uint32_t i = 0; i < a->n_stats; i++) {
            assert_string_equal(a->stats[i].name, b->stats[i].name);
            assert_true(a->stats[i].value == b->stats[i].value);
        }
        break;
    }
    case PLANE_BODY_admin: {
        const struct plane_body_admin *a = want, *b = &got->admin;
        assert_int_equal(a->op, b->op);
        assert_int_equal(a->app_id, b->app_id);
        assert_int_equal(a->device, b->device);
        assert_bytes(a->key, a->key_len, b->key, b->key_len);
        break;
    }
    case PLANE_BODY_app_deploy: {
        const struct plane_body_app_deploy *a = want, *b = &got->app_deploy;
        assert_int_equal(a->app_id, b->app_id);
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->module, b->module);
        assert_int_equal(a->n_params, b->n_params);
        for (uint32_t i = 0; i < a->n_params; i++) {
            assert_string_equal(a->params[i].key, b->params[i].key);
            assert_string_equal(a->params[i].value, b->params[i].value);
        }
        break;
    }
    default:
        fail();
    }
}

/* ---- DATA -------------------------------------------------------------- */

static void
test_data_golden_roundtrip(void **state)
{
    uint8_t buf[PLANE_WIRE_MAX_DATAGRAM];
    struct plane_wire_data d = data_fixture(), out;
    int n = plane_wire_data_encode(&d, buf, sizeof buf);
    assert_true(n > 0);
    assert_golden("data", buf, (size_t)n, GOLDEN_DATA);

    enum plane_wire_class cls;
    assert_int_equal(plane_wire_peek(buf, (size_t)n, &cls), 0);
    assert_int_equal(cls, PLANE_WIRE_DATA);
    memset(&out, 0, sizeof out);
    assert_int_equal(plane_wire_data_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(out.app_id, d.app_id);
    assert_true(out.key_hash == d.key_hash);
    assert_int_equal(out.ldev, d.ldev);
    assert_int_equal(out.pdev, d.pdev);
    assert_int_equal(out.flags, d.flags);
    assert_true(out.ingress_ns == d.ingress_ns);
    assert_int_equal(out.port, d.port);
    assert_int_equal(out.processed_by, d.processed_by);
    assert_true(out.processed_ns == d.processed_ns);
    assert_int_equal(out.frame_len, sizeof frame4);
    assert_ptr_equal(out.frame, buf + n - sizeof frame4);   /* zero copy */

    /* Extremes of every field survive. */
    struct plane_wire_data x = {
        .app_id = UINT16_MAX, .key_hash = UINT64_MAX, .ldev = UINT16_MAX,
        .pdev = 0, .flags = UINT32_MAX, .ingress_ns = UINT64_MAX,
        .port = UINT16_MAX, .processed_by = PLANE_DEV_NONE, .processed_ns = 0,
    };
    n = plane_wire_data_encode(&x, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(plane_wire_data_decode(buf, (size_t)n, &out), 0);
    assert_true(out.key_hash == UINT64_MAX && out.flags == UINT32_MAX);
    assert_int_equal(out.frame_len, 0);
}

/*
 * plane_wire_data_encode() writes the header directly when the buffer has
 * room for the longest one, with msgpack-c's packer otherwise: both must
 * give the same bytes at every width boundary of msgpack's unsigned forms.
 */
static void
test_data_fast_equals_packer(void **state)
{
    (void)state;
    static const uint64_t edges[] = {
        0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffffull, 0x100000000ull,
        UINT64_MAX,
    };
    const size_t ne = sizeof edges / sizeof edges[0];
    uint8_t fast[PLANE_WIRE_MAX_DATAGRAM], slow[PLANE_WIRE_MAX_DATAGRAM];
    for (size_t i = 0; i < ne; i++) {
        uint64_t v = edges[i], u = edges[(i + 3) % ne];
        struct plane_wire_data d = {
            .app_id = (uint16_t)v, .key_hash = v, .ldev = (uint16_t)u, .pdev = (uint16_t)v,
            .flags = (uint32_t)u, .ingress_ns = u, .port = (uint16_t)(v >> 3),
            .processed_by = (uint16_t)u, .processed_ns = v, .frame = frame4,
            .frame_len = sizeof frame4,
        };
        int n = plane_wire_data_encode(&d, fast, sizeof fast);
        assert_true(n > 0);
        /* Exactly n bytes of room: too little for the direct path. */
        assert_int_equal(plane_wire_data_encode(&d, slow, (size_t)n), n);
        assert_memory_equal(fast, slow, (size_t)n);
        assert_int_equal(plane_wire_data_encode(&d, slow, (size_t)n - 1), PLANE_EMSGSIZE);
    }
}

static void
test_data_truncated(void **state)
{
    uint8_t buf[128];
    struct plane_wire_data d = data_fixture(), out;
    int n = plane_wire_data_encode(&d, buf, sizeof buf);
    size_t hdr = (size_t)n - sizeof frame4;
    /* Every cut inside the header is rejected; cuts in the frame shorten it. */
    for (size_t i = 0; i < hdr; i++) {
        int rc = plane_wire_data_decode(buf, i, &out);
        assert_true(rc == PLANE_ETRUNC);
        if (i == 0) {
            enum plane_wire_class cls;
            assert_int_equal(plane_wire_peek(buf, i, &cls), PLANE_ETRUNC);
        }
    }
    for (size_t i = hdr; i <= (size_t)n; i++) {
        assert_int_equal(plane_wire_data_decode(buf, i, &out), 0);
        assert_int_equal(out.frame_len, i - hdr);
    }
    /* Encoding into every too-small buffer fails cleanly. */
    for (size_t cap = 0; cap < (size_t)n; cap++) {
        assert_int_equal(plane_wire_data_encode(&d, buf, cap), PLANE_EMSGSIZE);
    }
}

static void
test_data_oversize(void **state)
{
    static uint8_t frame[PLANE_WIRE_MAX_DATAGRAM];
    static uint8_t buf[PLANE_WIRE_MAX_DATAGRAM + 64];
    struct plane_wire_data d = data_fixture(), out;
    d.frame = frame;
    d.frame_len = sizeof frame;
    assert_int_equal(plane_wire_data_encode(&d, buf, sizeof buf), PLANE_EMSGSIZE);
    d.frame_len = 1000;
    assert_int_equal(plane_wire_data_encode(&d, buf, 500), PLANE_EMSGSIZE);
    /* The largest frame that fits. */
    int hdr = plane_wire_data_encode(&(struct plane_wire_data){ 0 }, buf, sizeof buf);
    d = (struct plane_wire_data){ .frame = frame,
                                  .frame_len = PLANE_WIRE_MAX_DATAGRAM - (size_t)hdr };
    int n = plane_wire_data_encode(&d, buf, sizeof buf);
    assert_int_equal(n, PLANE_WIRE_MAX_DATAGRAM);
    assert_int_equal(plane_wire_data_decode(buf, (size_t)n, &out), 0);
    assert_int_equal(plane_wire_data_decode(buf, (size_t)n + 1, &out), PLANE_EMSGSIZE);
}

static void
test_data_strict(void **state)
{
    uint8_t buf[128];
    struct plane_wire_data out;
    enum plane_wire_class cls;
    size_t n = unhex(GOLDEN_DATA, buf, sizeof buf);

    /* Wrong version. */
    buf[1] = 0x02;
    assert_int_equal(plane_wire_peek(buf, n, &cls), PLANE_EVERSION);
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EVERSION);
    buf[1] = 0x01;
    /* Unknown class, and the CONTROL class given to the DATA decoder. */
    buf[2] = 0x02;
    assert_int_equal(plane_wire_peek(buf, n, &cls), PLANE_EBADMSG);
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EBADMSG);
    buf[2] = 0x01;
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EBADMSG);
    buf[2] = 0x00;
    /* Array of 10 or 12 elements. */
    buf[0] = 0x9a;
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EBADMSG);
    buf[0] = 0x9c;
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EBADMSG);
    buf[0] = 0x9b;
    /* Not an array at all. */
    static const uint8_t nil[] = { 0xc0 };
    assert_int_equal(plane_wire_peek(nil, 1, &cls), PLANE_EBADMSG);
    /* Negative version. */
    static const uint8_t neg[] = { 0x92, 0xff, 0x00 };
    assert_int_equal(plane_wire_peek(neg, sizeof neg, &cls), PLANE_EBADMSG);

    /* app_id = 70000 does not fit a u16. */
    static const char big_app[] =
        "9b 01 00 ce00011170 cf0123456789abcdef 02 03 03 cf000000e8d4a51000 11 03"
        " cf000000e8d4a52388";
    n = unhex(big_app, buf, sizeof buf);
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EBADMSG);
    /* flags = 2^32 does not fit a u32. */
    static const char big_flags[] =
        "9b 01 00 07 00 02 03 cf0000000100000000 00 00 00 00";
    n = unhex(big_flags, buf, sizeof buf);
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EBADMSG);
    /* A non-minimal encoding of a field is still accepted (uint16 for 7). */
    static const char wide[] = "9b 01 00 cd0007 00 02 03 03 00 00 00 00";
    n = unhex(wide, buf, sizeof buf);
    assert_int_equal(plane_wire_data_decode(buf, n, &out), 0);
    assert_int_equal(out.app_id, 7);
    /* A string where an integer belongs. */
    static const char str_field[] = "9b 01 00 a137 00 02 03 03 00 00 00 00";
    n = unhex(str_field, buf, sizeof buf);
    assert_int_equal(plane_wire_data_decode(buf, n, &out), PLANE_EBADMSG);
}

/* ---- CONTROL ----------------------------------------------------------- */

static void
test_ctl_golden_roundtrip(void **state)
{
    uint8_t body[64], buf[PLANE_WIRE_MAX_DATAGRAM];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, body, sizeof body);
    assert_int_equal(plane_body_heartbeat_encode(&hb_fx, &w), 0);

    struct plane_wire_ctl c = ctl_req_fx, out;
    c.body = body;
    c.body_len = w.len;
    int n = plane_wire_ctl_encode(&c, buf, sizeof buf);
    assert_true(n > PLANE_WIRE_MAC_LEN);
    assert_golden("ctl request", buf, (size_t)n, GOLDEN_CTL_REQ);

    /* begin/body/end in one buffer gives the same bytes. */
    uint8_t buf2[PLANE_WIRE_MAX_DATAGRAM];
    plane_mp_writer_init(&w, buf2, sizeof buf2);
    assert_int_equal(plane_wire_ctl_begin(&ctl_req_fx, &w), 0);
    assert_int_equal(plane_body_heartbeat_encode(&hb_fx, &w), 0);
    assert_int_equal(plane_wire_ctl_end(&w), n);
    assert_memory_equal(buf, buf2, (size_t)n);

    enum plane_wire_class cls;
    assert_int_equal(plane_wire_peek(buf, (size_t)n, &cls), 0);
    assert_int_equal(cls, PLANE_WIRE_CONTROL);
    size_t len = (size_t)n - PLANE_WIRE_MAC_LEN;
    assert_int_equal(plane_wire_ctl_decode(buf, len, &out), 0);
    assert_int_equal(out.kind, c.kind);
    assert_int_equal(out.sender, c.sender);
    assert_true(out.incarnation == c.incarnation);
    assert_true(out.seq == c.seq);
    assert_true(out.request_id == c.request_id);
    assert_int_equal(out.msg_type, c.msg_type);
    assert_int_equal(out.status, c.status);
    assert_int_equal(out.body_len, c.body_len);
    assert_memory_equal(out.body, body, c.body_len);
    /* The MAC left for plane_auth_seal() is zero. */
    for (size_t i = len; i < (size_t)n; i++) {
        assert_int_equal(buf[i], 0);
    }
    /* The DATA decoder refuses a CONTROL datagram. */
    struct plane_wire_data d;
    assert_int_equal(plane_wire_data_decode(buf, len, &d), PLANE_EBADMSG);

    /* A response with an error status and no body (nil). */
    c = ctl_resp_fx;
    n = plane_wire_ctl_encode(&c, buf, sizeof buf);
    assert_true(n > 0);
    assert_golden("ctl response", buf, (size_t)n, GOLDEN_CTL_RESP);
    assert_int_equal(plane_wire_ctl_decode(buf, (size_t)n - PLANE_WIRE_MAC_LEN, &out), 0);
    assert_int_equal(out.status, PLANE_ENOENT);
    assert_int_equal(out.kind, PLANE_CTL_RESPONSE);
    assert_int_equal(out.body_len, 1);
    assert_int_equal(out.body[0], 0xc0);
}

static void
test_ctl_truncated(void **state)
{
    uint8_t buf[256];
    struct plane_wire_ctl out;
    size_t n = unhex(GOLDEN_CTL_REQ, buf, sizeof buf) - PLANE_WIRE_MAC_LEN;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(plane_wire_ctl_decode(buf, i, &out), PLANE_ETRUNC);
    }
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), 0);
    /* Trailing bytes after the body (e.g. a MAC left in). */
    assert_int_equal(plane_wire_ctl_decode(buf, n + 1, &out), PLANE_EBADMSG);
    /* Encoding into every too-small buffer fails cleanly. */
    struct plane_wire_ctl c = ctl_resp_fx;
    int full = plane_wire_ctl_encode(&c, buf, sizeof buf);
    for (size_t cap = 0; cap < (size_t)full; cap++) {
        assert_int_equal(plane_wire_ctl_encode(&c, buf, cap), PLANE_EMSGSIZE);
    }
}

static void
test_ctl_strict(void **state)
{
    uint8_t buf[PLANE_WIRE_MAX_DATAGRAM + 64];
    struct plane_wire_ctl out;
    enum plane_wire_class cls;
    size_t n = unhex(GOLDEN_CTL_RESP, buf, sizeof buf) - PLANE_WIRE_MAC_LEN;

    buf[1] = 0x07;
    assert_int_equal(plane_wire_peek(buf, n, &cls), PLANE_EVERSION);
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EVERSION);
    buf[1] = 0x01;
    buf[2] = 0x00;      /* DATA class */
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EBADMSG);
    buf[2] = 0x01;
    buf[3] = 0x02;      /* kind 2 */
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EBADMSG);
    buf[3] = 0x01;
    buf[0] = 0x9b;      /* 11 elements */
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EBADMSG);
    buf[0] = 0x9a;
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), 0);

    /* msg_type 70000 and status 2^31 are out of range. */
    static const char big_type[] = "9a 01 01 00 00 00 00 00 ce00011170 00 c0";
    n = unhex(big_type, buf, sizeof buf);
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EBADMSG);
    static const char big_status[] = "9a 01 01 00 00 00 00 00 02 ce80000000 c0";
    n = unhex(big_status, buf, sizeof buf);
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EBADMSG);
    /* A hostile body: array32 of 2^32-1 elements with nothing after it. */
    static const char hostile[] = "9a 01 01 00 00 00 00 00 02 00 ddffffffff";
    n = unhex(hostile, buf, sizeof buf);
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_ETRUNC);
    /* A body nested deeper than allowed. */
    static const char deep[] = "9a 01 01 00 00 00 00 00 02 00 91919191919191c0";
    n = unhex(deep, buf, sizeof buf);
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EBADMSG);
    /* The reserved byte as a body. */
    static const char c1[] = "9a 01 01 00 00 00 00 00 02 00 c1";
    n = unhex(c1, buf, sizeof buf);
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_EBADMSG);
    /* No body at all. */
    static const char nobody[] = "9a 01 01 00 00 00 00 00 02 00";
    n = unhex(nobody, buf, sizeof buf);
    assert_int_equal(plane_wire_ctl_decode(buf, n, &out), PLANE_ETRUNC);

    /* A body that makes the datagram bigger than the maximum: a bin whose
     * envelope + MAC push it just past PLANE_WIRE_MAX_DATAGRAM. */
    static uint8_t body[PLANE_WIRE_MAX_DATAGRAM], junk[PLANE_WIRE_MAX_DATAGRAM];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, body, sizeof body);
    assert_int_equal(plane_mp_write_bin(&w, junk, PLANE_WIRE_MAX_DATAGRAM - 200), 0);
    struct plane_wire_ctl c = ctl_req_fx;
    c.body = body;
    c.body_len = w.len;
    int fits = plane_wire_ctl_encode(&c, buf, sizeof buf);
    assert_true(fits > 0);
    size_t room = PLANE_WIRE_MAX_DATAGRAM - (size_t)fits;
    plane_mp_writer_init(&w, body, sizeof body);
    assert_int_equal(plane_mp_write_bin(&w, junk,
                                        PLANE_WIRE_MAX_DATAGRAM - 200 + room), 0);
    c.body_len = w.len;
    assert_int_equal(plane_wire_ctl_encode(&c, buf, sizeof buf), PLANE_WIRE_MAX_DATAGRAM);
    assert_int_equal(plane_wire_ctl_decode(buf, PLANE_WIRE_MAX_DATAGRAM - PLANE_WIRE_MAC_LEN,
                                           &out), 0);
    assert_int_equal(out.body_len, c.body_len);
    plane_mp_writer_init(&w, body, sizeof body);
    assert_int_equal(plane_mp_write_bin(&w, junk,
                                        PLANE_WIRE_MAX_DATAGRAM - 199 + room), 0);
    c.body_len = w.len;
    assert_int_equal(plane_wire_ctl_encode(&c, buf, sizeof buf), PLANE_EMSGSIZE);
    assert_int_equal(plane_wire_ctl_decode(buf, PLANE_WIRE_MAX_DATAGRAM + 1, &out),
                     PLANE_EMSGSIZE);
}

/* ---- bodies ------------------------------------------------------------ */

static void
test_bodies_golden_roundtrip(void **state)
{
    struct plane_mp_zone z;
    assert_int_equal(plane_mp_zone_init(&z, 0), 0);
    for (size_t i = 0; i < N_BODY_CASES; i++) {
        const struct body_case *bc = &body_cases[i];
        uint8_t buf[1024];
        size_t n = encode_body_buf(bc, buf, sizeof buf);
        assert_golden(bc->name, buf, n, bc->golden);

        assert_int_equal(plane_wire_body_kind(bc->msg_type, bc->is_response),
                         (int)bc->kind);
        assert_string_equal(plane_body_kind_name(bc->kind), bc->name);
        union plane_body out;
        memset(&out, 0, sizeof out);
        assert_int_equal(plane_wire_body_decode_any(bc->msg_type, bc->is_response,
                                                    buf, n, &z, &out), 0);
        assert_body_eq(bc->kind, bc->value, &out);

        /* Inside an envelope, through encode/decode. */
        uint8_t dgram[PLANE_WIRE_MAX_DATAGRAM];
        struct plane_wire_ctl c = ctl_req_fx, cd;
        c.msg_type = (uint16_t)bc->msg_type;
        c.kind = bc->is_response ? PLANE_CTL_RESPONSE : PLANE_CTL_REQUEST;
        c.body = buf;
        c.body_len = n;
        int dn = plane_wire_ctl_encode(&c, dgram, sizeof dgram);
        assert_true(dn > 0);
        assert_int_equal(plane_wire_ctl_decode(dgram, (size_t)dn - PLANE_WIRE_MAC_LEN,
                                               &cd), 0);
        plane_mp_zone_clear(&z);
        memset(&out, 0, sizeof out);
        assert_int_equal(plane_wire_body_decode_any(cd.msg_type,
                                                    cd.kind == PLANE_CTL_RESPONSE,
                                                    cd.body, cd.body_len, &z, &out), 0);
        assert_body_eq(bc->kind, bc->value, &out);

        /* Every truncation is rejected, and so is a trailing byte. */
        for (size_t cut = 0; cut < n; cut++) {
            int rc = plane_wire_body_decode_any(bc->msg_type, bc->is_response,
                                                buf, cut, &z, &out);
            assert_true(rc == PLANE_ETRUNC || rc == PLANE_EBADMSG);
        }
        buf[n] = 0xc0;
        assert_int_equal(plane_wire_body_decode_any(bc->msg_type, bc->is_response,
                                                    buf, n + 1, &z, &out),
                         PLANE_EBADMSG);
        /* Every too-small writer overflows cleanly. */
        for (size_t cap = 0; cap < n; cap++) {
            struct plane_mp_writer w;
            plane_mp_writer_init(&w, buf, cap);
            assert_int_equal(encode_body(bc, &w), PLANE_EMSGSIZE);
        }
        plane_mp_zone_clear(&z);
    }
    plane_mp_zone_uninit(&z);
}

static void
test_bodies_strict(void **state)
{
    struct plane_mp_zone z;
    union plane_body out;
    uint8_t buf[256];
    size_t n;
    assert_int_equal(plane_mp_zone_init(&z, 0), 0);

    /* The empty body takes nil or an empty array, nothing else. */
    static const uint8_t empty_arr[] = { 0x90 }, one[] = { 0x91, 0x00 };
    assert_int_equal(plane_body_empty_decode(empty_arr, 1, &z, &out.empty), 0);
    assert_int_equal(plane_body_empty_decode(one, 2, &z, &out.empty), PLANE_EBADMSG);
    assert_int_equal(plane_body_empty_decode(NULL, 0, &z, &out.empty), PLANE_ETRUNC);
    /* Unknown message type. */
    assert_int_equal(plane_wire_body_decode_any(999, false, empty_arr, 1, &z, &out),
                     PLANE_ENOTSUP);
    assert_int_equal(plane_wire_body_kind(0, false), -1);
    assert_null(plane_msg_type_name(0));
    assert_string_equal(plane_msg_type_name(PLANE_MSG_SYNC), "SYNC");
    assert_string_equal(plane_msg_type_name(PLANE_MSG_APP_DEPLOY), "APP_DEPLOY");

    /* Entries whose list claims 2^32-1 items with a few bytes left: rejected
     * before anything is allocated from the zone. */
    n = unhex("92 07 ddffffffff 94", buf, sizeof buf);
    size_t before = z.total;
    assert_int_equal(plane_body_entries_decode(buf, n, &z, &out.entries), PLANE_ETRUNC);
    assert_int_equal(z.total, before);
    /* Phase, role, state and devmap state out of their enums. */
    n = unhex("95 07 01 06 c400 90", buf, sizeof buf);
    assert_int_equal(plane_body_update_decode(buf, n, &z, &out.update), PLANE_EBADMSG);
    n = unhex("95 07 01 05 c400 90", buf, sizeof buf);
    assert_int_equal(plane_body_update_decode(buf, n, &z, &out.update), 0);
    n = unhex("93 00 00 04", buf, sizeof buf);
    assert_int_equal(plane_body_heartbeat_decode(buf, n, &z, &out.heartbeat),
                     PLANE_EBADMSG);
    n = unhex("92 00 91 94 00 00 00 04", buf, sizeof buf);
    assert_int_equal(plane_body_devmap_decode(buf, n, &z, &out.devmap), PLANE_EBADMSG);
    n = unhex("97 00 04 a0 00 00 01 90", buf, sizeof buf);
    assert_int_equal(plane_body_hello_decode(buf, n, &z, &out.hello), PLANE_EBADMSG);
    /* Too many hello ports. */
    n = unhex("97 00 01 a0 00 00 01 dc0011 0000000000000000000000000000000000",
              buf, sizeof buf);
    assert_int_equal(plane_body_hello_decode(buf, n, &z, &out.hello), PLANE_EBADMSG);
    /* A str where a bin belongs (entry key), and a bin where a str belongs. */
    n = unhex("92 07 91 94 01 a10a c400 00", buf, sizeof buf);
    assert_int_equal(plane_body_entries_decode(buf, n, &z, &out.entries), PLANE_EBADMSG);
    n = unhex("94 07 c40166 a0 90", buf, sizeof buf);
    assert_int_equal(plane_body_app_deploy_decode(buf, n, &z, &out.app_deploy),
                     PLANE_EBADMSG);
    /* A NUL inside a string. */
    n = unhex("94 07 a3660066 a0 90", buf, sizeof buf);
    assert_int_equal(plane_body_app_deploy_decode(buf, n, &z, &out.app_deploy),
                     PLANE_EBADMSG);
    /* An entry item of 3 fields. */
    n = unhex("92 07 91 93 01 c400 c400", buf, sizeof buf);
    assert_int_equal(plane_body_entries_decode(buf, n, &z, &out.entries), PLANE_EBADMSG);
    /* An exhausted zone reports ENOMEM. */
    n = unhex("92 07 91 94 01 c400 c400 00", buf, sizeof buf);
    plane_mp_zone_clear(&z);
    z.max_bytes = 8;
    assert_int_equal(plane_body_entries_decode(buf, n, &z, &out.entries), PLANE_ENOMEM);
    z.max_bytes = PLANE_MP_ZONE_DEFAULT_MAX;
    assert_int_equal(plane_body_entries_decode(buf, n, &z, &out.entries), 0);
    assert_int_equal(out.entries.n_entries, 1);
    assert_int_equal(out.entries.entries[0].key_len, 0);

    /* Encoders refuse lists longer than their caps. */
    uint8_t wbuf[64];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, wbuf, sizeof wbuf);
    struct plane_body_hello h = hello_fx;
    h.n_ports = PLANE_HELLO_MAX_PORTS + 1;
    assert_int_equal(plane_body_hello_encode(&h, &w), PLANE_EINVAL);
    struct plane_body_entries e = { .n_entries = PLANE_BODY_MAX_ITEMS + 1 };
    assert_int_equal(plane_body_entries_encode(&e, &w), PLANE_EINVAL);
    plane_mp_zone_uninit(&z);
}

/* A full datagram of small entries decodes within the zone's default cap. */
static void
test_bodies_max_datagram(void **state)
{
    static uint8_t buf[PLANE_WIRE_MAX_DATAGRAM];
    static struct plane_body_entry ents[2000];
    struct plane_mp_writer w;
    uint32_t n = 0;
    for (;;) {
        struct plane_body_entries v = { .app_id = 1, .n_entries = n + 1, .entries = ents };
        plane_mp_writer_init(&w, buf, PLANE_WIRE_MAX_DATAGRAM - 64);
        if (plane_body_entries_encode(&v, &w) != 0) {
            break;
        }
        n++;
    }
    assert_true(n > 1000);
    struct plane_body_entries v = { .app_id = 1, .n_entries = n, .entries = ents };
    plane_mp_writer_init(&w, buf, PLANE_WIRE_MAX_DATAGRAM - 64);
    assert_int_equal(plane_body_entries_encode(&v, &w), 0);
    struct plane_mp_zone z;
    struct plane_body_entries out;
    assert_int_equal(plane_mp_zone_init(&z, 0), 0);
    assert_int_equal(plane_body_entries_decode(buf, w.len, &z, &out), 0);
    assert_int_equal(out.n_entries, n);
    plane_mp_zone_uninit(&z);
}

/* ---- no allocation on the data path ---------------------------------- */

#ifdef HAVE_MALLOC_HOOKS
static volatile int counting;
static volatile unsigned long n_mallocs;

static void
count_malloc(const volatile void *p, size_t size)
{
    if (counting) {
        n_mallocs++;
    }
}

static void
count_free(const volatile void *p)
{
}
#endif

/* DATA encode/peek/decode and CONTROL envelope decode allocate nothing:
 * counted through the sanitizer's allocator hooks (skipped without ASan). */
static void
test_data_path_no_malloc(void **state)
{
#ifdef HAVE_MALLOC_HOOKS
    static uint8_t buf[PLANE_WIRE_MAX_DATAGRAM], ctl[256];
    struct plane_wire_data d = data_fixture(), out;
    struct plane_wire_ctl c;
    enum plane_wire_class cls;
    size_t ctl_len = unhex(GOLDEN_CTL_REQ, ctl, sizeof ctl) - PLANE_WIRE_MAC_LEN;
    int bad = 0;
    __sanitizer_install_malloc_and_free_hooks(count_malloc, count_free);
    counting = 1;
    for (int i = 0; i < 10000; i++) {
        d.key_hash = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        int n = plane_wire_data_encode(&d, buf, sizeof buf);
        bad |= n <= 0;
        bad |= plane_wire_peek(buf, (size_t)n, &cls) != 0;
        bad |= plane_wire_data_decode(buf, (size_t)n, &out) != 0;
        bad |= out.key_hash != d.key_hash;
        bad |= plane_wire_ctl_decode(ctl, ctl_len, &c) != 0;
    }
    counting = 0;
    assert_int_equal(bad, 0);
    assert_int_equal(n_mallocs, 0);
#else
    skip();
#endif
}

/* ---- random input ------------------------------------------------------ */

static void
test_random_never_crashes(void **state)
{
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("PLANE_TEST_SEED");
    if (env) {
        seed = (unsigned)strtoul(env, NULL, 0);
    }
    printf("test_random_never_crashes: seed %u (PLANE_TEST_SEED to replay)\n", seed);
    srand(seed);

    /* Seeds: golden encodings, mutated; plus purely random bytes. */
    static uint8_t seeds[N_BODY_CASES + 3][512];
    size_t seed_len[N_BODY_CASES + 3];
    for (size_t i = 0; i < N_BODY_CASES; i++) {
        seed_len[i] = unhex(body_cases[i].golden, seeds[i], sizeof seeds[i]);
    }
    seed_len[N_BODY_CASES] = unhex(GOLDEN_DATA, seeds[N_BODY_CASES], 512);
    seed_len[N_BODY_CASES + 1] = unhex(GOLDEN_CTL_REQ, seeds[N_BODY_CASES + 1], 512);
    seed_len[N_BODY_CASES + 2] = unhex(GOLDEN_CTL_RESP, seeds[N_BODY_CASES + 2], 512);

    struct plane_mp_zone z;
    assert_int_equal(plane_mp_zone_init(&z, 0), 0);
    uint8_t buf[600];
    for (int iter = 0; iter < 100000; iter++) {
        size_t len;
        if (iter % 4 == 0) {
            len = (size_t)rand() % 64;
            for (size_t i = 0; i < len; i++) {
                buf[i] = (uint8_t)rand();
            }
        } else {
            size_t s = (size_t)rand() % (N_BODY_CASES + 3);
            len = seed_len[s];
            memcpy(buf, seeds[s], len);
            int flips = 1 + rand() % 4;
            for (int f = 0; f < flips && len; f++) {
                size_t at = (size_t)rand() % len;
                buf[at] = rand() % 2 ? (uint8_t)rand() : (uint8_t)(buf[at] ^ (1u << (rand() % 8)));
            }
            if (rand() % 4 == 0 && len) {
                len = (size_t)rand() % len;
            }
        }
        enum plane_wire_class cls;
        struct plane_wire_data d;
        struct plane_wire_ctl c;
        (void)plane_wire_peek(buf, len, &cls);
        if (plane_wire_data_decode(buf, len, &d) == 0) {
            assert_true(d.frame >= buf && d.frame + d.frame_len == buf + len);
        }
        if (plane_wire_ctl_decode(buf, len, &c) == 0) {
            assert_true(c.body + c.body_len == buf + len);
        }
        for (int t = 1; t <= PLANE_MSG_APP_DEPLOY; t++) {
            union plane_body out;
            (void)plane_wire_body_decode_any(t, false, buf, len, &z, &out);
            (void)plane_wire_body_decode_any(t, true, buf, len, &z, &out);
            plane_mp_zone_clear(&z);
        }
    }
    plane_mp_zone_uninit(&z);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_golden_roundtrip),
        cmocka_unit_test(test_data_fast_equals_packer),
        cmocka_unit_test(test_data_truncated),
        cmocka_unit_test(test_data_oversize),
        cmocka_unit_test(test_data_strict),
        cmocka_unit_test(test_ctl_golden_roundtrip),
        cmocka_unit_test(test_ctl_truncated),
        cmocka_unit_test(test_ctl_strict),
        cmocka_unit_test(test_bodies_golden_roundtrip),
        cmocka_unit_test(test_bodies_strict),
        cmocka_unit_test(test_bodies_max_datagram),
        cmocka_unit_test(test_data_path_no_malloc),
        cmocka_unit_test(test_random_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
