/* Tests of the device runtime: one nicd in-process; the test plays the switch and the replica. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/hash.h"
#include "common/mp.h"
#include "common/pkt.h"
#include "common/rpc.h"
#include "common/udp.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "daemon.h"
#include "device.h"
#include "placement.h"

#define SW_ID 0
#define NIC0 1
#define NIC1 2
#define APP_ID 7
#define OBJ_MAPPING 0
#define OBJ_PKTS 1
#define OBJ_PER_SRC 2
#define MAX_FLOWS 64
#define DEADLINE_NS (10 * PLANE_NS_PER_SEC)

static const char *const key_hex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/* One reply the device sent to the switch. */
struct reply {
    struct plane_wire_data hdr;
    uint64_t id;              /* payload [16, 24), big-endian */
    uint32_t seq;             /* payload [0, 4), the test's stamp */
    bool csum_ok;
};

struct env {
    struct plane_daemon d;
    struct plane_device *dev;
    char cfg_path[64];
    struct sockaddr_storage nic0_addr;

    /* The switch: control endpoint + RPC. */
    struct plane_udp *sw_udp;
    struct plane_auth sw_auth;
    struct plane_rpc *sw_rpc;
    /* The replica nic1, faked. */
    struct plane_udp *r_udp;
    struct plane_auth r_auth;
    struct plane_rpc *r_rpc;
    bool r_silent;            /* drop ENTRY_INSERTs unanswered */
    bool r_hb_silent;         /* drop HEARTBEATs unanswered (nic1 "dies") */
    int r_inserts;            /* mapping inserts replicated to us */
    int r_merges;             /* register merges replicated to us */
    uint64_t r_merged;        /* the sum of their operands */
    int r_seen_ids;           /* hand-back update ids streamed to us */
    uint64_t r_last_id;       /* mapping value of the last insert */
    int r_reads;              /* ENTRY_READ scans answered */
    struct plane_flow_key r_flow;   /* the one mapping the replica holds */
    /* A peer with the wrong key. */
    struct plane_udp *bad_udp;
    struct plane_auth bad_auth;
    struct plane_rpc *bad_rpc;

    uv_timer_t tick;
    struct plane_hasher hasher;
    struct plane_placement pl;
    struct plane_mp_zone zone;

    struct reply replies[512];
    int n_replies;
    int pop_reports;
    bool pop_saw_hot;
    struct plane_flow_key hot;
    int hellos;

    /* The last RPC the test made. */
    bool call_done;
    int call_status;
    uint8_t resp[PLANE_WIRE_MAX_DATAGRAM];
    size_t resp_len;
    uint16_t resp_type;
};

static struct env E;

/* nic0's rate_pps in the config the next setup writes (0: none). */
static unsigned setup_rate;
/* nic0's latency_us. */
static unsigned setup_latency;
/* App id send_pkt() puts in DATA headers. */
static uint16_t send_app = APP_ID;

static uint16_t
free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void
addr4(struct sockaddr_storage *ss, uint16_t port)
{
    struct sockaddr_in *a = (struct sockaddr_in *) ss;
    memset(ss, 0, sizeof *ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void
tick_cb(uv_timer_t *t)
{
    (void) t;
}

/* Runs the loop until *flag (an int or bool through cond) holds, or fails. */
static void
run_until_(bool (*cond)(void *), void *arg, int line)
{
    uint64_t deadline = plane_clock_now_ns() + DEADLINE_NS;
    while (!cond(arg)) {
        if (plane_clock_now_ns() >= deadline) {
            fail_msg("condition of line %d not met in time", line);
        }
        uv_run(&E.d.loop, UV_RUN_ONCE);
    }
}
#define run_until(cond, arg) run_until_((cond), (arg), __LINE__)

static bool
cond_call_done(void *arg)
{
    (void) arg;
    return E.call_done;
}

static bool
cond_replies(void *arg)
{
    return E.n_replies >= *(int *) arg;
}

static bool
cond_hello(void *arg)
{
    (void) arg;
    return E.hellos > 0;
}

static bool
cond_resynced(void *arg)
{
    (void) arg;
    const struct plane_device_stats *st = plane_device_stats(E.dev);
    return st->resync_jobs >= 2 && E.r_reads >= 2 && st->resync_entries >= 2;
}

static bool
cond_reads_above(void *arg)
{
    return E.r_reads > *(int *) arg;
}

static bool
cond_peer_down(void *arg)
{
    return plane_device_stats(E.dev)->peer_down > *(uint64_t *) arg;
}

static bool
cond_peer_up(void *arg)
{
    return plane_device_stats(E.dev)->peer_up > *(uint64_t *) arg;
}

static bool
cond_more_hellos(void *arg)
{
    return E.hellos > *(int *) arg;
}

static bool
cond_pop_hot(void *arg)
{
    (void) arg;
    return E.pop_saw_hot;
}

/* ---- the switch's side ---- */

static uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static void
sw_on_data(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
           const uint8_t *buf, size_t len)
{
    (void) arg;
    (void) udp;
    (void) from;
    assert_int_equal(peer, NIC0);
    assert_true(E.n_replies < (int) (sizeof E.replies / sizeof E.replies[0]));
    struct reply *r = &E.replies[E.n_replies++];
    assert_int_equal(plane_wire_data_decode(buf, len, &r->hdr), 0);
    struct plane_pkt pkt;
    assert_int_equal(plane_pkt_parse(r->hdr.frame, r->hdr.frame_len, &pkt), 0);
    const uint8_t *pay = r->hdr.frame + pkt.payload_off;
    assert_true(pkt.payload_len >= 24);
    r->seq = (uint32_t) pay[0] << 24 | (uint32_t) pay[1] << 16 | (uint32_t) pay[2] << 8 | pay[3];
    r->id = 0;
    for (int i = 16; i < 24; i++) {
        r->id = r->id << 8 | pay[i];
    }
    /* UDP checksum over the pseudo header and the segment must verify. */
    const uint8_t *ip = r->hdr.frame + 14;
    const uint8_t *l4 = ip + (ip[0] & 0x0f) * 4;
    uint16_t ulen = rd16(l4 + 4);
    uint8_t ph[4] = { 0, 17, (uint8_t) (ulen >> 8), (uint8_t) ulen };
    uint32_t s = plane_pkt_csum_add(0, ip + 12, 8);
    s = plane_pkt_csum_add(s, ph, 4);
    s = plane_pkt_csum_add(s, l4, ulen);
    r->csum_ok = plane_pkt_csum_fold(s) == 0;
    r->hdr.frame = NULL;
}

static void
sw_on_hello(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    (void) arg;
    E.hellos++;
    plane_rpc_respond(rpc, req->token, 0, NULL, 0);
}

static void
sw_on_pop(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    (void) arg;
    union plane_body u;
    assert_int_equal(plane_wire_body_decode_any(PLANE_MSG_POP_REPORT, false, req->ctl->body,
                                                req->ctl->body_len, &E.zone, &u), 0);
    E.pop_reports++;
    assert_int_equal(u.pop.app_id, APP_ID);
    for (uint32_t i = 0; i < u.pop.n_items; i++) {
        if (u.pop.items[i].union_key_len == sizeof E.hot
            && !memcmp(u.pop.items[i].union_key, &E.hot, sizeof E.hot)) {
            E.pop_saw_hot = true;
        }
    }
    plane_mp_zone_clear(&E.zone);
    plane_rpc_respond(rpc, req->token, 0, NULL, 0);
}

/* ---- the fake replica ---- */

static void
r_on_insert(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    (void) arg;
    if (E.r_silent) {
        return;               /* never answered: the device must time out */
    }
    union plane_body u;
    assert_int_equal(plane_wire_body_decode_any(PLANE_MSG_ENTRY_UPDATE, false, req->ctl->body,
                                                req->ctl->body_len, &E.zone, &u), 0);
    assert_int_equal(u.entries.app_id, APP_ID);
    /* The replication stream: each packet's table inserts, then its
     * register merges, packets in order (several per message). */
    for (uint32_t i = 0; i < u.entries.n_entries; i++) {
        const struct plane_body_entry *e = &u.entries.entries[i];
        if (e->object_id == 0xfffd) {
            E.r_seen_ids++;       /* a hand-back's update id, merged once */
            continue;
        }
        assert_int_equal(e->value_len, 8);
        if (e->flags & PLANE_ENTRY_F_MERGE) {
            assert_true(e->object_id == OBJ_PKTS || e->object_id == OBJ_PER_SRC);
            uint64_t d;
            memcpy(&d, e->value, 8);
            E.r_merged += d;
            E.r_merges++;
            continue;
        }
        assert_int_equal(e->flags, 0);
        assert_int_equal(e->object_id, OBJ_MAPPING);
        memcpy(&E.r_last_id, e->value, 8);
        E.r_inserts++;
    }
    plane_mp_zone_clear(&E.zone);
    plane_rpc_respond(rpc, req->token, 0, NULL, 0);
}

static void
r_on_heartbeat(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    (void) arg;
    if (E.r_hb_silent) {
        return;
    }
    struct plane_body_heartbeat hb = { .sender_ns = plane_clock_now_ns(), .state = PLANE_HB_UP };
    uint8_t buf[64];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_body_heartbeat_encode(&hb, &w), 0);
    plane_rpc_respond(rpc, req->token, 0, w.buf, w.len);
}

/* Answers a resync scan with one mapping (flow r_flow -> 0xabc), no cursor. */
static void
r_on_read(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    (void) arg;
    union plane_body u;
    assert_int_equal(plane_wire_body_decode_any(PLANE_MSG_ENTRY_READ, false, req->ctl->body,
                                                req->ctl->body_len, &E.zone, &u), 0);
    assert_int_equal(u.entries.n_entries, 1);
    assert_int_equal(u.entries.entries[0].object_id, 0xffff);
    assert_int_equal(u.entries.entries[0].key_len, 2);
    E.r_reads++;
    uint64_t id = 0xabc;
    struct plane_body_entry e = { .object_id = OBJ_MAPPING, .key = (const uint8_t *) &E.r_flow,
                                  .key_len = sizeof E.r_flow, .value = (const uint8_t *) &id,
                                  .value_len = 8 };
    struct plane_body_entries b = { .app_id = APP_ID, .n_entries = 1, .entries = &e };
    uint8_t buf[512];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_body_entries_encode(&b, &w), 0);
    plane_mp_zone_clear(&E.zone);
    plane_rpc_respond(rpc, req->token, 0, w.buf, w.len);
}

/* ---- helpers ---- */

static void
call_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    (void) arg;
    (void) rpc;
    E.call_done = true;
    E.call_status = status;
    E.resp_len = 0;
    if (resp) {
        assert_true(resp->body_len <= sizeof E.resp);
        memcpy(E.resp, resp->body, resp->body_len);
        E.resp_len = resp->body_len;
        E.resp_type = resp->msg_type;
    }
}

/* Makes an RPC from rpc to nic0 and waits for its end; returns the status. */
static int
call(struct plane_rpc *rpc, uint16_t type, const uint8_t *body, size_t len)
{
    E.call_done = false;
    assert_int_equal(plane_rpc_call(rpc, NIC0, type, body, len, NULL, call_cb, NULL, NULL), 0);
    run_until(cond_call_done, NULL);
    return E.call_status;
}

static void
resp_decode(uint16_t type, union plane_body *u)
{
    plane_mp_zone_clear(&E.zone);
    assert_int_equal(plane_wire_body_decode_any(type, true, E.resp, E.resp_len, &E.zone, u), 0);
}

static void
flow_key(struct plane_flow_key *k, uint32_t i, uint8_t src_last)
{
    uint8_t src[4] = { 10, 0, 1, src_last }, dst[4] = { 10, 0, 2, 1 };
    plane_flow_key_set_v4(k, 17, src, (uint16_t) (1000 + i), dst, 5000);
}

/* Sends packet seq of flow k as DATA from the switch to nic0. */
static void
send_pkt(const struct plane_flow_key *k, uint32_t seq)
{
    struct plane_pkt_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.key = *k;
    uint8_t payload[32] = { 0 };
    payload[0] = (uint8_t) (seq >> 24);
    payload[1] = (uint8_t) (seq >> 16);
    payload[2] = (uint8_t) (seq >> 8);
    payload[3] = (uint8_t) seq;
    uint8_t frame[256];
    size_t flen;
    assert_int_equal(plane_pkt_build_udp4(frame, sizeof frame, &spec, payload, sizeof payload,
                                          &flen), 0);
    uint64_t h = plane_hash_flow_key(&E.hasher, k);
    struct plane_wire_data d = {
        .app_id = send_app, .key_hash = h, .ldev = plane_placement_logical_of(&E.pl, h),
        .pdev = NIC0, .flags = 0, .ingress_ns = plane_clock_now_ns(), .port = 3,
        .processed_by = PLANE_DEV_NONE, .frame = frame, .frame_len = flen,
    };
    uint8_t buf[512];
    int n = plane_wire_data_encode(&d, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(plane_udp_send(E.sw_udp, (struct sockaddr *) &E.nic0_addr, buf, (size_t) n), 0);
}

/* Reads (object, key) entries of nic0 with ENTRY_READ; values into out (0 when absent). */
static void
read_entries(const struct plane_flow_key *k, uint64_t out[3], bool present[3])
{
    struct plane_flow_key src;
    plane_flow_key_mask(k, PLANE_FLOW_SRC_IP, &src);
    struct plane_body_entry ents[3] = {
        { .object_id = OBJ_MAPPING, .key = (const uint8_t *) k, .key_len = sizeof *k },
        { .object_id = OBJ_PKTS, .key = (const uint8_t *) k, .key_len = sizeof *k },
        { .object_id = OBJ_PER_SRC, .key = (const uint8_t *) &src, .key_len = sizeof src },
    };
    struct plane_body_entries b = { .app_id = APP_ID, .n_entries = 3, .entries = ents };
    uint8_t buf[1024];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_body_entries_encode(&b, &w), 0);
    assert_int_equal(call(E.sw_rpc, PLANE_MSG_ENTRY_READ, w.buf, w.len), 0);
    union plane_body u;
    resp_decode(PLANE_MSG_ENTRY_READ, &u);
    assert_int_equal(u.entries.n_entries, 3);
    for (int i = 0; i < 3; i++) {
        const struct plane_body_entry *e = &u.entries.entries[i];
        assert_int_equal(e->object_id, i);
        present[i] = !(e->flags & PLANE_ENTRY_F_NOT_FOUND);
        out[i] = 0;
        if (present[i]) {
            assert_int_equal(e->value_len, 8);
            memcpy(&out[i], e->value, 8);
        }
        assert_int_equal(!!(e->flags & PLANE_ENTRY_F_SHARED), i != OBJ_MAPPING);
    }
}

/* Returns the STATS counter called name (fails when absent). */
static uint64_t
dev_stat(const char *name)
{
    assert_int_equal(call(E.sw_rpc, PLANE_MSG_STATS, NULL, 0), 0);
    union plane_body u;
    resp_decode(PLANE_MSG_STATS, &u);
    for (uint32_t i = 0; i < u.stats.n_stats; i++) {
        if (!strcmp(u.stats.stats[i].name, name)) {
            return u.stats.stats[i].value;
        }
    }
    fail_msg("no counter %s", name);
    return 0;
}

static struct plane_rpc *
make_peer(struct plane_udp **udp, struct plane_auth *auth, uint16_t port, uint16_t id,
          const uint8_t *key)
{
    *udp = plane_udp_new(&E.d.loop, NULL);
    assert_non_null(*udp);
    struct sockaddr_storage a;
    addr4(&a, port);
    assert_int_equal(plane_udp_bind(*udp, (struct sockaddr *) &a), 0);
    assert_int_equal(plane_auth_init(auth, key, 0), 0);
    struct plane_rpc_opts ro = { .timeout_ns = 20 * PLANE_NS_PER_MS, .retries = 3 };
    struct plane_rpc *rpc = plane_rpc_new(&E.d.loop, *udp, id, plane_auth_new_incarnation(),
                                          auth, &ro);
    assert_non_null(rpc);
    assert_int_equal(plane_rpc_peer_add(rpc, NIC0, (struct sockaddr *) &E.nic0_addr), 0);
    return rpc;
}

static int
setup(void **state)
{
    (void) state;
    memset(&E, 0, sizeof E);
    uint16_t p_nic0 = free_port(), p_nic1 = free_port(), p_sw = free_port();
    while (p_nic1 == p_nic0) {
        p_nic1 = free_port();
    }
    while (p_sw == p_nic0 || p_sw == p_nic1) {
        p_sw = free_port();
    }
    strcpy(E.cfg_path, "/tmp/plane-test-device-XXXXXX");
    int fd = mkstemp(E.cfg_path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f,
            "version: 1\n"
            "rack: {name: t, auth_key: %s}\n"
            "timers: {rpc_timeout_ms: 20, rpc_retries: 3, popularity_interval_ms: 250,\n"
            "         popularity_threshold: 64}\n"
            "switch:\n"
            "  id: 0\n  name: sw\n  control: 127.0.0.1:%u\n"
            "  ports:\n    - {id: 3, name: p3, listen: \"127.0.0.1:0\"}\n"
            "devices:\n"
            "  - {id: 1, name: nic0, role: nic, address: \"127.0.0.1:%u\", rate_pps: %u, latency_us: %u}\n"
            "  - {id: 2, name: nic1, role: nic, address: \"127.0.0.1:%u\"}\n"
            "  - {id: 4, name: srv0, role: server, address: \"127.0.0.1:1\", features: [payload]}\n"
            "shards:\n"
            "  logical_devices: 2\n"
            "  map:\n"
            "    0: {primary: nic0, replica: nic1}\n"
            "    1: {primary: nic1, replica: nic0}\n"
            "apps:\n"
            "  - {id: 7, name: flowcheck, module: \"%s\"}\n",
            key_hex, p_sw, p_nic0, setup_rate, setup_latency, p_nic1, PLANE_FLOWCHECK_PATH);
    fclose(f);

    flow_key(&E.r_flow, 4242, 42);
    struct plane_daemon_opts o = { .prog = "test_device", .config_path = E.cfg_path,
                                   .id = "nic0", .log_level = "warn" };
    assert_int_equal(plane_daemon_init(&E.d, &o), 0);
    assert_int_equal(E.d.self_id, NIC0);
    assert_int_equal(plane_device_check_role(&E.d, PLANE_ROLE_NIC), 0);
    assert_int_equal(plane_device_check_role(&E.d, PLANE_ROLE_SERVER), PLANE_ECONFIG);
    addr4(&E.nic0_addr, p_nic0);
    /* The peers exist before the device starts: it scans nic1 at once. */

    assert_int_equal(plane_hasher_init(&E.hasher, &E.d.cfg->rack.hash_seed, sizeof(uint64_t)), 0);
    assert_int_equal(plane_placement_init_config(&E.pl, E.d.cfg, 0), 0);
    assert_int_equal(plane_mp_zone_init(&E.zone, 0), 0);

    const uint8_t *key = E.d.cfg->rack.auth_key;
    E.sw_rpc = make_peer(&E.sw_udp, &E.sw_auth, p_sw, SW_ID, key);
    plane_udp_set_data_handler(E.sw_udp, sw_on_data, NULL);
    plane_rpc_set_handler(E.sw_rpc, PLANE_MSG_HELLO, sw_on_hello, NULL);
    plane_rpc_set_handler(E.sw_rpc, PLANE_MSG_POP_REPORT, sw_on_pop, NULL);
    E.r_rpc = make_peer(&E.r_udp, &E.r_auth, p_nic1, NIC1, key);
    plane_rpc_set_handler(E.r_rpc, PLANE_MSG_ENTRY_UPDATE, r_on_insert, NULL);
    plane_rpc_set_handler(E.r_rpc, PLANE_MSG_ENTRY_READ, r_on_read, NULL);
    plane_rpc_set_handler(E.r_rpc, PLANE_MSG_HEARTBEAT, r_on_heartbeat, NULL);
    uint8_t wrong[PLANE_AUTH_KEY_LEN];
    memset(wrong, 0x5a, sizeof wrong);
    E.bad_rpc = make_peer(&E.bad_udp, &E.bad_auth, 0, SW_ID, wrong);

    E.dev = plane_device_new(&E.d);
    assert_non_null(E.dev);
    assert_int_equal(plane_device_stats(E.dev)->apps_loaded, 1);
    assert_int_equal(plane_device_start(E.dev), 0);
    uv_timer_init(&E.d.loop, &E.tick);
    uv_timer_start(&E.tick, tick_cb, 5, 5);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    plane_rpc_close(E.sw_rpc, NULL, NULL);
    plane_rpc_close(E.r_rpc, NULL, NULL);
    plane_rpc_close(E.bad_rpc, NULL, NULL);
    plane_udp_close(E.sw_udp, NULL, NULL);
    plane_udp_close(E.r_udp, NULL, NULL);
    plane_udp_close(E.bad_udp, NULL, NULL);
    uv_close((uv_handle_t *) &E.tick, NULL);
    plane_daemon_stop(&E.d);          /* closes the device's endpoint and timers */
    assert_int_equal(uv_run(&E.d.loop, UV_RUN_DEFAULT), 0);
    plane_device_delete(E.dev);
    assert_int_equal(uv_loop_close(&E.d.loop), 0);
    E.d.loop_inited = false;
    plane_daemon_uninit(&E.d);
    plane_auth_uninit(&E.sw_auth);
    plane_auth_uninit(&E.r_auth);
    plane_auth_uninit(&E.bad_auth);
    plane_placement_uninit(&E.pl);
    plane_hasher_uninit(&E.hasher);
    plane_mp_zone_uninit(&E.zone);
    unlink(E.cfg_path);
    return 0;
}

static void
test_device_end_to_end(void **state)
{
    (void) state;
    /* HELLO from the device at start. */
    run_until(cond_hello, NULL);

    /* 0. At start the device re-learned both logicals' tables from nic1
     * (it is primary of 0 and replica of 1) and reports UP once done. */
    run_until(cond_resynced, NULL);
    {
        uint64_t v0[3];
        bool p0[3];
        read_entries(&E.r_flow, v0, p0);
        assert_true(p0[0]);
        assert_int_equal(v0[0], 0xabc);
        assert_false(p0[1]);
    }

    /* 1. A new flow: NEW_FLOW, the mapping replicated before the reply. */
    struct plane_flow_key flows[MAX_FLOWS];
    flow_key(&flows[0], 0, 99);
    send_pkt(&flows[0], 1);
    int want = 1;
    run_until(cond_replies, &want);
    struct reply *r = &E.replies[0];
    assert_int_equal(r->hdr.flags, PLANE_DATA_F_PROCESSED | PLANE_DATA_F_NEW_FLOW);
    assert_int_equal(r->hdr.processed_by, NIC0);
    assert_int_equal(r->hdr.port, 3);
    assert_int_equal(r->hdr.app_id, APP_ID);
    assert_int_equal(r->hdr.key_hash, plane_hash_flow_key(&E.hasher, &flows[0]));
    assert_true(r->csum_ok);
    assert_int_equal(r->seq, 1);
    uint64_t id0 = r->id;
    assert_int_equal(id0 >> 48, NIC0);
    assert_int_equal(E.r_inserts, 1);
    assert_int_equal(E.r_last_id, id0);
    assert_int_equal(E.r_merges, 2);      /* pkts and per_src, with the packet */

    /* 2. Later packets: no NEW_FLOW, the same mapping. */
    for (uint32_t s = 2; s <= 5; s++) {
        send_pkt(&flows[0], s);
    }
    want = 5;
    run_until(cond_replies, &want);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(E.replies[i].hdr.flags, PLANE_DATA_F_PROCESSED);
        assert_int_equal(E.replies[i].id, id0);
        assert_true(E.replies[i].csum_ok);
    }
    assert_int_equal(E.r_inserts, 1);

    /* 3. More flows (another source): distinct ids. */
    int nf = 20;
    for (int i = 1; i <= nf; i++) {
        flow_key(&flows[i], (uint32_t) i, 7);
        send_pkt(&flows[i], 1);
    }
    want = 5 + nf;
    run_until(cond_replies, &want);
    for (int i = 5; i < want; i++) {
        assert_true(E.replies[i].hdr.flags & PLANE_DATA_F_NEW_FLOW);
        for (int j = 0; j < i; j++) {
            if (E.replies[j].hdr.key_hash != E.replies[i].hdr.key_hash) {
                assert_true(E.replies[j].id != E.replies[i].id);
            }
        }
    }
    assert_int_equal(E.r_inserts, 1 + nf);

    /* 4. ENTRY_READ of flow 0: mapping, pkts 5, per_src 5. */
    uint64_t v[3];
    bool present[3];
    read_entries(&flows[0], v, present);
    assert_true(present[0] && present[1] && present[2]);
    assert_int_equal(v[0], id0);
    assert_int_equal(v[1], 5);
    assert_int_equal(v[2], 5);
    struct plane_flow_key unknown;
    flow_key(&unknown, 999, 1);
    read_entries(&unknown, v, present);
    assert_false(present[0] || present[1] || present[2]);

    /* 5. DEMOTE hands back +10 packets; a retry with the same update id merges once. */
    uint64_t delta = 10;
    struct plane_body_entry de = { .object_id = OBJ_PKTS, .flags = PLANE_ENTRY_F_SHARED,
                                   .key = (const uint8_t *) &flows[0], .key_len = sizeof flows[0],
                                   .value = (const uint8_t *) &delta, .value_len = 8 };
    struct plane_body_update up = { .app_id = APP_ID, .update_id = 42,
                                    .phase = PLANE_UPDATE_COMMIT,
                                    .union_key = (const uint8_t *) &flows[0],
                                    .union_key_len = sizeof flows[0], .n_entries = 1,
                                    .entries = &de };
    uint8_t buf[2048];
    struct plane_mp_writer w;
    for (int rep = 0; rep < 2; rep++) {
        plane_mp_writer_init(&w, buf, sizeof buf);
        assert_int_equal(plane_body_update_encode(&up, &w), 0);
        assert_int_equal(call(E.sw_rpc, PLANE_MSG_DEMOTE, w.buf, w.len), 0);
        union plane_body u;
        resp_decode(PLANE_MSG_DEMOTE, &u);
        assert_int_equal(u.update.update_id, 42);
        read_entries(&flows[0], v, present);
        assert_int_equal(v[1], 15);
    }
    assert_int_equal(plane_device_stats(E.dev)->demote_dups, 1);

    /* 5b. SYNC: the switch hands back its 5 packets under update id 77;
     * the answer carries the device's value after the merge.  The same id
     * again (a retry after a lost answer) is not merged twice. */
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t sdelta = 5, uid = 77;
        struct plane_body_sync_item it = {
            .object_id = OBJ_PKTS, .key = (const uint8_t *) &flows[0],
            .key_len = sizeof flows[0], .snapshot = (const uint8_t *) &sdelta,
            .snapshot_len = 8, .history = (const uint8_t *) &uid, .history_len = 8,
        };
        struct plane_body_sync sb = { .app_id = APP_ID, .epoch = 0, .round = 1,
                                      .n_items = 1, .items = &it };
        plane_mp_writer_init(&w, buf, sizeof buf);
        assert_int_equal(plane_body_sync_encode(&sb, &w), 0);
        assert_int_equal(call(E.sw_rpc, PLANE_MSG_SYNC, w.buf, w.len), 0);
        union plane_body su;
        resp_decode(PLANE_MSG_SYNC, &su);
        assert_int_equal(su.sync.n_items, 1);
        uint64_t dval, echo;
        assert_int_equal(su.sync.items[0].snapshot_len, 8);
        memcpy(&dval, su.sync.items[0].snapshot, 8);
        memcpy(&echo, su.sync.items[0].history, 8);
        assert_int_equal(dval, 20);
        assert_int_equal(echo, 77);
    }
    read_entries(&flows[0], v, present);
    assert_int_equal(v[1], 20);
    assert_int_equal(plane_device_stats(E.dev)->sync_merged, 1);
    assert_int_equal(plane_device_stats(E.dev)->sync_dups, 1);
    /* Undo the switch's 5 for the packet counts checked below. */
    {
        uint64_t back = (uint64_t) -5;
        struct plane_body_entry be = de;
        be.value = (const uint8_t *) &back;
        struct plane_body_update ub = up;
        ub.update_id = 43;
        ub.entries = &be;
        plane_mp_writer_init(&w, buf, sizeof buf);
        assert_int_equal(plane_body_update_encode(&ub, &w), 0);
        assert_int_equal(call(E.sw_rpc, PLANE_MSG_DEMOTE, w.buf, w.len), 0);
    }

    /* 6. ENTRY_READ scan: every mapping (both logicals are nic0's), paged. */
    int seen = 0;
    uint8_t cursor[8];
    bool more = true;
    bool first = true;
    while (more) {
        struct plane_body_entry m = { .object_id = 0xffff, .key = cursor, .key_len = 0,
                                      .value = cursor, .value_len = first ? 0 : 8 };
        struct plane_body_entries b = { .app_id = APP_ID, .n_entries = first ? 0 : 1,
                                        .entries = &m };
        first = false;
        plane_mp_writer_init(&w, buf, sizeof buf);
        assert_int_equal(plane_body_entries_encode(&b, &w), 0);
        assert_int_equal(call(E.sw_rpc, PLANE_MSG_ENTRY_READ, w.buf, w.len), 0);
        union plane_body u;
        resp_decode(PLANE_MSG_ENTRY_READ, &u);
        more = false;
        for (uint32_t i = 0; i < u.entries.n_entries; i++) {
            const struct plane_body_entry *e = &u.entries.entries[i];
            if (e->object_id == 0xffff) {
                assert_int_equal(e->value_len, 8);
                memcpy(cursor, e->value, 8);
                more = true;
            } else {
                assert_int_equal(e->object_id, OBJ_MAPPING);
                seen++;
            }
        }
    }
    assert_int_equal(seen, 1 + nf + 1);   /* + the re-learned mapping */

    /* 7. Garbage and a control message under the wrong key: counted, ignored. */
    uint8_t junk[16] = { 0x92, 0xff, 1, 2, 3 };
    assert_int_equal(plane_udp_send(E.sw_udp, (struct sockaddr *) &E.nic0_addr, junk, sizeof junk), 0);
    assert_int_equal(call(E.bad_rpc, PLANE_MSG_STATS, NULL, 0), PLANE_ETIMEDOUT);
    assert_true(dev_stat("udp.rx_bad_mac") >= 1);
    assert_true(dev_stat("udp.rx_malformed") + dev_stat("device.data_malformed") >= 1);

    /* ... and the device still serves. */
    send_pkt(&flows[0], 6);
    want = 5 + nf + 1;
    run_until(cond_replies, &want);
    assert_int_equal(E.replies[want - 1].id, id0);

    /* 8. STATS names every area. */
    assert_int_equal(dev_stat("device.processed"), (uint64_t) want);
    assert_int_equal(dev_stat("app.flowcheck.new_flows"), (uint64_t) (1 + nf));
    assert_int_equal(dev_stat("obj.flowcheck.mapping"), (uint64_t) (1 + nf + 1));
    /* Replication messages carry one or more packets' changes each. */
    assert_true(dev_stat("device.replicated") >= 1);
    assert_true(dev_stat("device.replicated") <= (uint64_t) want);
    assert_int_equal(E.r_inserts, 1 + nf);
    assert_true(dev_stat("rpc.rx_requests") > 0);

    /* 9. HEARTBEAT echoes the sender's time. */
    struct plane_body_heartbeat hb = { .sender_ns = 12345, .state = PLANE_HB_UP };
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_body_heartbeat_encode(&hb, &w), 0);
    assert_int_equal(call(E.sw_rpc, PLANE_MSG_HEARTBEAT, w.buf, w.len), 0);
    union plane_body u;
    resp_decode(PLANE_MSG_HEARTBEAT, &u);
    assert_int_equal(u.heartbeat.echo_ns, 12345);

    /* 10. A silent replica: the packet is released after the RPC fails,
     * and nic1 is marked down (it lacks that change: heartbeats now tell
     * it so, and it re-learns once they say UP again), then up again as it
     * answers heartbeats. */
    uint64_t pd = plane_device_stats(E.dev)->peer_down;
    uint64_t pu = plane_device_stats(E.dev)->peer_up;
    E.r_silent = true;
    flow_key(&flows[nf + 1], 500, 7);
    send_pkt(&flows[nf + 1], 1);
    want++;
    run_until(cond_replies, &want);
    assert_true(E.replies[want - 1].hdr.flags & PLANE_DATA_F_NEW_FLOW);
    assert_int_equal(plane_device_stats(E.dev)->replica_unacked, 1);
    assert_int_equal(plane_device_stats(E.dev)->peer_down, pd + 1);
    E.r_silent = false;
    run_until(cond_peer_up, &pu);

    /* 10b. nic1 stops answering heartbeats: nic0 stops replicating to it
     * (new flows leave at once), and resumes when it answers again. */
    pd = plane_device_stats(E.dev)->peer_down;
    pu = plane_device_stats(E.dev)->peer_up;
    E.r_hb_silent = true;
    run_until(cond_peer_down, &pd);
    uint64_t down0 = plane_device_stats(E.dev)->replica_down;
    for (uint32_t i = 700; plane_device_stats(E.dev)->replica_down == down0; i++) {
        struct plane_flow_key k;
        flow_key(&k, i, 9);
        uint64_t h = plane_hash_flow_key(&E.hasher, &k);
        if (plane_placement_logical_of(&E.pl, h) == 0) {
            send_pkt(&k, 1);
            want++;
            run_until(cond_replies, &want);
        }
    }
    E.r_hb_silent = false;
    run_until(cond_peer_up, &pu);

    /* 11. DEVMAP: nic1 down, so nic0 serves logical 1 alone (no replication). */
    assert_true(plane_placement_device_down(&E.pl, NIC1) > 0);
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_placement_devmap_encode(&E.pl, &w), 0);
    assert_int_equal(call(E.sw_rpc, PLANE_MSG_DEVMAP_UPDATE, w.buf, w.len), 0);
    assert_int_equal(call(E.sw_rpc, PLANE_MSG_DEVMAP_UPDATE, w.buf, w.len), 0);  /* stale: ok */
    assert_int_equal(plane_device_stats(E.dev)->devmap_updates, 1);
    uint64_t none0 = plane_device_stats(E.dev)->replica_none;
    int inserts0 = E.r_inserts;
    int sent = 0;
    for (uint32_t i = 600; sent < 4; i++) {
        struct plane_flow_key k;
        flow_key(&k, i, 8);
        if (plane_placement_logical_of(&E.pl, plane_hash_flow_key(&E.hasher, &k)) == 1) {
            send_pkt(&k, 1);
            sent++;
        }
    }
    want += sent;
    run_until(cond_replies, &want);
    assert_int_equal(plane_device_stats(E.dev)->replica_none, none0 + 4);
    assert_int_equal(E.r_inserts, inserts0);

    /* 11b. nic0 away and back: its logical 0 goes RECOVERING and it
     * catches up from nic1 with another scan; heartbeats say UP after. */
    int reads0 = E.r_reads;
    assert_true(plane_placement_device_up(&E.pl, NIC1) > 0);
    assert_true(plane_placement_device_down(&E.pl, NIC0) > 0);
    assert_true(plane_placement_device_up(&E.pl, NIC0) > 0);
    assert_int_equal(plane_placement_get_logical(&E.pl, 0)->state, PLANE_DEVMAP_RECOVERING);
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_placement_devmap_encode(&E.pl, &w), 0);
    assert_int_equal(call(E.sw_rpc, PLANE_MSG_DEVMAP_UPDATE, w.buf, w.len), 0);
    run_until(cond_reads_above, &reads0);
    for (;;) {
        plane_mp_writer_init(&w, buf, sizeof buf);
        assert_int_equal(plane_body_heartbeat_encode(&hb, &w), 0);
        assert_int_equal(call(E.sw_rpc, PLANE_MSG_HEARTBEAT, w.buf, w.len), 0);
        resp_decode(PLANE_MSG_HEARTBEAT, &u);
        if (u.heartbeat.state == PLANE_HB_UP) {
            break;
        }
        assert_int_equal(u.heartbeat.state, PLANE_HB_INIT);
    }

    /* 12. A hot flow is reported to the switch. */
    E.hot = flows[0];
    for (uint32_t s = 0; s < 250; s++) {
        send_pkt(&flows[0], 100 + s);
    }
    want += 250;
    run_until(cond_replies, &want);
    run_until(cond_pop_hot, NULL);

    /* 13. An app the device does not run: answered DROP, counted. */
    send_app = 99;
    send_pkt(&flows[0], 1);
    send_app = APP_ID;
    want++;
    run_until(cond_replies, &want);
    assert_int_equal(E.replies[want - 1].hdr.flags, PLANE_DATA_F_PROCESSED | PLANE_DATA_F_DROP);
    assert_int_equal(plane_device_stats(E.dev)->data_no_app, 1);

    /* 14. APP_DEPLOY is not implemented yet: ENOSYS. */
    assert_int_equal(call(E.sw_rpc, PLANE_MSG_APP_DEPLOY, NULL, 0), PLANE_ENOSYS);

    /* 15. The switch restarts (new incarnation): the device resets its
     * devmap to the config's (new epochs start over) and says HELLO. */
    uint64_t epoch_before = dev_stat("placement.epoch");
    int hellos0 = E.hellos;
    plane_rpc_close(E.sw_rpc, NULL, NULL);
    struct plane_rpc_opts ro = { .timeout_ns = 20 * PLANE_NS_PER_MS, .retries = 3 };
    E.sw_rpc = plane_rpc_new(&E.d.loop, E.sw_udp, SW_ID, plane_auth_new_incarnation(),
                             &E.sw_auth, &ro);
    assert_non_null(E.sw_rpc);
    assert_int_equal(plane_rpc_peer_add(E.sw_rpc, NIC0, (struct sockaddr *) &E.nic0_addr), 0);
    plane_rpc_set_handler(E.sw_rpc, PLANE_MSG_HELLO, sw_on_hello, NULL);
    plane_rpc_set_handler(E.sw_rpc, PLANE_MSG_POP_REPORT, sw_on_pop, NULL);
    uint64_t epoch_after = dev_stat("placement.epoch");
    assert_true(epoch_after < epoch_before);
    run_until(cond_more_hellos, &hellos0);
}

static bool
cond_data_rx(void *arg)
{
    return plane_device_stats(E.dev)->data_rx >= *(uint64_t *) arg;
}

/* A device capped at 10 pps takes a burst of about one packet, drops the rest. */
static void
test_device_rate_cap(void **state)
{
    (void) state;
    struct plane_flow_key k;
    flow_key(&k, 1, 1);
    for (uint32_t s = 0; s < 40; s++) {
        send_pkt(&k, s);
    }
    uint64_t n = 40;
    run_until(cond_data_rx, &n);
    const struct plane_device_stats *st = plane_device_stats(E.dev);
    assert_true(st->processed >= 1);
    assert_true(st->rate_limited >= 30);
    assert_int_equal(st->processed + st->rate_limited, 40);
}

/* latency_us holds each reply that long. */
static void
test_device_latency(void **state)
{
    (void) state;
    struct plane_flow_key k;
    flow_key(&k, 1, 1);
    uint64_t t0 = plane_clock_now_ns();
    send_pkt(&k, 1);
    send_pkt(&k, 2);
    int want = 2;
    run_until(cond_replies, &want);
    assert_true(plane_clock_now_ns() - t0 >= 30 * PLANE_NS_PER_MS);
    assert_int_equal(E.replies[0].seq, 1);
    assert_int_equal(E.replies[1].seq, 2);
    assert_int_equal(E.replies[1].id, E.replies[0].id);
    /* One more in flight at teardown: freed, not sent. */
    send_pkt(&k, 3);
    uint64_t n = 3;
    run_until(cond_data_rx, &n);
}

static int
setup_slow(void **state)
{
    setup_latency = 30000;
    int rc = setup(state);
    setup_latency = 0;
    return rc;
}

static int
setup_capped(void **state)
{
    setup_rate = 10;
    int rc = setup(state);
    setup_rate = 0;
    return rc;
}

static void
test_device_args(void **state)
{
    (void) state;
    struct plane_daemon_opts o;
    char *ok[] = { "nicd", "--config", "x.yaml", "--id", "nic0", "--log-level", "info", NULL };
    assert_int_equal(plane_daemon_parse_args(&o, "nicd", true, 7, ok), 0);
    assert_string_equal(o.config_path, "x.yaml");
    assert_string_equal(o.id, "nic0");
    char *noid[] = { "nicd", "--config", "x.yaml", NULL };
    assert_int_equal(plane_daemon_parse_args(&o, "nicd", true, 3, noid), PLANE_EINVAL);
    assert_int_equal(plane_daemon_parse_args(&o, "switchd", false, 3, noid), 0);
    char *bad[] = { "nicd", "--bogus", NULL };
    assert_int_equal(plane_daemon_parse_args(&o, "nicd", true, 2, bad), PLANE_EINVAL);
    assert_int_equal(plane_daemon_exit_code(PLANE_EINVAL), 2);
    assert_int_equal(plane_daemon_exit_code(PLANE_ECONFIG), 1);
    assert_int_equal(plane_daemon_exit_code(1), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_args),
        cmocka_unit_test_setup_teardown(test_device_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_rate_cap, setup_capped, teardown),
        cmocka_unit_test_setup_teardown(test_device_latency, setup_slow, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
