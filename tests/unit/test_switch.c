/* Tests of the switch runtime in one loop: a fake device over plane_udp + plane_rpc, raw frames in and out of ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <plane/error.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/mp.h"
#include "common/pkt.h"
#include "common/rpc.h"
#include "common/udp.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "daemon.h"
#include "switch.h"

#define DEV_ID 1
#define APP_ID 5
#define EGRESS 0            /* flowcheck (and so the fake device) forwards to the in port */
#define REG_INSTALLED 100   /* the "pkts" register value the device hands over */

/* A datagram sink on 127.0.0.1 (a port's peer). */
struct sink {
    uv_udp_t h;
    uint16_t port;
    int count;
    uint8_t last[PLANE_WIRE_MAX_DATAGRAM];
    size_t last_len;
};

struct env;

/* The fake external device: answers HEARTBEAT/ENTRY_READ/DEMOTE, processes DATA. */
struct fake_dev {
    struct env *e;
    uint16_t id;
    uint16_t port;
    struct plane_udp *udp;
    struct plane_rpc *rpc;
    struct plane_auth auth;
    struct plane_mp_zone zone;
    struct sockaddr_in sw_addr;
    bool hb_silent;
    bool resyncing;             /* answer heartbeats with INIT (re-learning tables) */
    int data_rx, hb_rx, reads, demotes, devmaps, pops_acked;
    uint64_t demote_delta;      /* the "pkts" delta handed back */
    bool demote_delta_seen;
    uint64_t pkts;              /* its "pkts" value for the test flow */
    uint64_t sync_ids[8];       /* SYNC update ids merged (newest last) */
    int syncs, sync_merges;
    uint64_t sync_delta;        /* the sum of the SYNC deltas merged */
};

struct env {
    struct plane_config *cfg;
    struct plane_auth auth;
    struct plane_daemon d;
    struct plane_switch *sw;
    struct fake_dev devs[2];
    int n_devs;
    int owner;                  /* the device serving the test flow */
    int stats_ok;
    int hb_mark;
    struct sink sink0, sink1;
    uv_udp_t src;
    uv_timer_t tick;
    uint16_t ctl_port, p0_port, p1_port;
    uint8_t frame[256];
    size_t frame_len;
    struct plane_flow_key key;
};

static uint16_t
pick_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
    socklen_t l = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void
sink_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    struct sink *k = h->data;
    (void) s;
    b->base = (char *) k->last;
    b->len = sizeof k->last;
}

static void
sink_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned fl)
{
    struct sink *k = h->data;
    (void) b;
    (void) fl;
    if (n > 0 && from) {
        k->count++;
        k->last_len = (size_t) n;
    }
}

static void
sink_open(struct env *e, struct sink *k)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(uv_udp_init(&e->d.loop, &k->h), 0);
    k->h.data = k;
    assert_int_equal(uv_udp_bind(&k->h, (struct sockaddr *) &a, 0), 0);
    int l = sizeof a;
    assert_int_equal(uv_udp_getsockname(&k->h, (struct sockaddr *) &a, &l), 0);
    k->port = ntohs(a.sin_port);
    assert_int_equal(uv_udp_recv_start(&k->h, sink_alloc, sink_recv), 0);
}

/* ---- the fake device ---- */

static void
dev_data(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
         const uint8_t *buf, size_t len)
{
    struct fake_dev *f = arg;
    struct plane_wire_data d;
    (void) from;
    assert_int_equal(peer, 0);
    assert_int_equal(plane_wire_data_decode(buf, len, &d), 0);
    assert_false(d.flags & PLANE_DATA_F_PROCESSED);
    assert_int_equal(d.app_id, APP_ID);
    assert_int_equal(d.pdev, f->id);
    assert_int_equal(d.port, 0);
    f->data_rx++;
    d.flags = PLANE_DATA_F_PROCESSED;
    d.port = EGRESS;
    d.processed_by = f->id;
    d.processed_ns = plane_clock_now_ns();
    uint8_t out[PLANE_WIRE_MAX_DATAGRAM];
    int n = plane_wire_data_encode(&d, out, sizeof out);
    assert_true(n > 0);
    assert_int_equal(plane_udp_send(udp, (struct sockaddr *) &f->sw_addr, out, (size_t) n), 0);
}

static void
dev_h_heartbeat(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct fake_dev *f = arg;
    f->hb_rx++;
    if (f->hb_silent) {
        return;   /* never answered: the token just stays pending */
    }
    uint8_t out[64];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, out, sizeof out);
    struct plane_body_heartbeat hb = { .sender_ns = plane_clock_now_ns(),
                                       .state = f->resyncing ? PLANE_HB_INIT : PLANE_HB_UP };
    assert_int_equal(plane_body_heartbeat_encode(&hb, &w), 0);
    plane_rpc_respond(rpc, req->token, 0, out, w.len);
}

static void
dev_h_ok(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct fake_dev *f = arg;
    if (req->ctl->msg_type == PLANE_MSG_DEVMAP_UPDATE) {
        f->devmaps++;
    }
    plane_rpc_respond(rpc, req->token, 0, NULL, 0);
}

/* ENTRY_READ: the flow's mapping holds an id, the pkts register holds
 * REG_INSTALLED, the per-source register has no entry. */
static void
dev_h_read(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct fake_dev *f = arg;
    struct plane_body_entries in;
    plane_mp_zone_clear(&f->zone);
    assert_int_equal(plane_body_entries_decode(req->ctl->body, req->ctl->body_len,
                                               &f->zone, &in), 0);
    assert_int_equal(in.app_id, APP_ID);
    assert_int_equal(in.n_entries, 3);   /* mapping, pkts, per_src */
    f->reads++;
    struct plane_body_entry out[3];
    static const uint64_t id = 42, reg = REG_INSTALLED;
    for (uint32_t i = 0; i < 3; i++) {
        out[i] = in.entries[i];
        switch (in.entries[i].object_id) {
        case 0:
            out[i].value = (const uint8_t *) &id;
            out[i].value_len = 8;
            break;
        case 1:
            out[i].value = (const uint8_t *) &reg;
            out[i].value_len = 8;
            break;
        default:
            out[i].flags = PLANE_ENTRY_F_NOT_FOUND;
            out[i].value_len = 0;
            break;
        }
    }
    struct plane_body_entries resp = { .app_id = APP_ID, .n_entries = 3, .entries = out };
    uint8_t buf[2048];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_body_entries_encode(&resp, &w), 0);
    plane_rpc_respond(rpc, req->token, 0, buf, w.len);
}

static void
dev_h_demote(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct fake_dev *f = arg;
    struct env *e = f->e;
    struct plane_body_update u;
    plane_mp_zone_clear(&f->zone);
    assert_int_equal(plane_body_update_decode(req->ctl->body, req->ctl->body_len,
                                              &f->zone, &u), 0);
    assert_int_equal(u.app_id, APP_ID);
    assert_int_equal(u.phase, PLANE_UPDATE_COMMIT);
    assert_int_equal(u.union_key_len, sizeof e->key);
    assert_memory_equal(u.union_key, &e->key, sizeof e->key);
    f->demotes++;
    for (uint32_t i = 0; i < u.n_entries; i++) {
        if (u.entries[i].object_id == 1) {
            assert_int_equal(u.entries[i].value_len, 8);
            memcpy(&f->demote_delta, u.entries[i].value, 8);
            f->demote_delta_seen = true;
        }
    }
    plane_rpc_respond(rpc, req->token, 0, NULL, 0);
}

/* SYNC: merge each item's delta once per update id, answer with the value. */
static void
dev_h_sync(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    struct fake_dev *f = arg;
    struct plane_body_sync in;
    plane_mp_zone_clear(&f->zone);
    assert_int_equal(plane_body_sync_decode(req->ctl->body, req->ctl->body_len,
                                            &f->zone, &in), 0);
    assert_int_equal(in.app_id, APP_ID);
    f->syncs++;
    struct plane_body_sync_item out[8];
    assert_true(in.n_items <= 8);
    for (uint32_t i = 0; i < in.n_items; i++) {
        const struct plane_body_sync_item *it = &in.items[i];
        assert_int_equal(it->object_id, 1);        /* pkts: per flow */
        assert_int_equal(it->snapshot_len, 8);
        assert_int_equal(it->history_len, 8);
        uint64_t d, id;
        memcpy(&d, it->snapshot, 8);
        memcpy(&id, it->history, 8);
        bool seen = false;
        for (int j = 0; j < 8; j++) {
            seen |= f->sync_ids[j] == id;
        }
        if (!seen) {
            memmove(f->sync_ids, f->sync_ids + 1, 7 * sizeof f->sync_ids[0]);
            f->sync_ids[7] = id;
            f->pkts += d;
            f->sync_delta += d;
            f->sync_merges++;
        }
        out[i] = *it;
        out[i].snapshot = (const uint8_t *) &f->pkts;
    }
    struct plane_body_sync resp = in;
    resp.items = out;
    uint8_t buf[2048];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(plane_body_sync_encode(&resp, &w), 0);
    plane_rpc_respond(rpc, req->token, 0, buf, w.len);
}

static void
dev_pop_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    struct fake_dev *f = arg;
    (void) rpc;
    (void) resp;
    assert_int_equal(status, 0);
    f->pops_acked++;
}

static void
dev_open(struct env *e, int i)
{
    struct fake_dev *f = &e->devs[i];
    f->e = e;
    f->id = (uint16_t) (DEV_ID + i);
    assert_int_equal(plane_auth_init(&f->auth, e->cfg->rack.auth_key, 0), 0);
    assert_int_equal(plane_mp_zone_init(&f->zone, 0), 0);
    f->udp = plane_udp_new(&e->d.loop, NULL);
    assert_non_null(f->udp);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons(f->port) };
    assert_int_equal(plane_udp_bind(f->udp, (struct sockaddr *) &a), 0);
    plane_udp_set_data_handler(f->udp, dev_data, f);
    f->rpc = plane_rpc_new(&e->d.loop, f->udp, f->id, plane_auth_new_incarnation(), &f->auth,
                           NULL);
    assert_non_null(f->rpc);
    f->sw_addr = (struct sockaddr_in) { .sin_family = AF_INET,
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                        .sin_port = htons(e->ctl_port) };
    assert_int_equal(plane_rpc_peer_add(f->rpc, 0, (struct sockaddr *) &f->sw_addr), 0);
    plane_rpc_set_handler(f->rpc, PLANE_MSG_HEARTBEAT, dev_h_heartbeat, f);
    plane_rpc_set_handler(f->rpc, PLANE_MSG_HELLO, dev_h_ok, f);
    plane_rpc_set_handler(f->rpc, PLANE_MSG_DEVMAP_UPDATE, dev_h_ok, f);
    plane_rpc_set_handler(f->rpc, PLANE_MSG_ENTRY_READ, dev_h_read, f);
    plane_rpc_set_handler(f->rpc, PLANE_MSG_DEMOTE, dev_h_demote, f);
    plane_rpc_set_handler(f->rpc, PLANE_MSG_SYNC, dev_h_sync, f);
    f->pkts = REG_INSTALLED;
}

/* ---- helpers ---- */

static void
tick_cb(uv_timer_t *t)
{
    (void) t;
}

static uint64_t
ctr(struct env *e, const char *name)
{
    uint64_t v = 0;
    if (plane_switch_stat(e->sw, name, &v)) {
        fail_msg("no counter %s", name);
    }
    return v;
}

typedef bool (*cond_fn)(struct env *e);

/* Runs the loop until cond holds; fails after a generous deadline. */
static void
run_until(struct env *e, cond_fn cond, const char *what)
{
    uint64_t deadline = plane_clock_now_ns() + 10 * PLANE_NS_PER_SEC;
    while (!cond(e)) {
        if (plane_clock_now_ns() > deadline) {
            fail_msg("timed out waiting for %s", what);
        }
        uv_run(&e->d.loop, UV_RUN_ONCE);
    }
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct env *e, uint64_t ms)
{
    uint64_t end = plane_clock_now_ns() + ms * PLANE_NS_PER_MS;
    while (plane_clock_now_ns() < end) {
        uv_run(&e->d.loop, UV_RUN_ONCE);
    }
}

static void
send_frame(struct env *e, const uint8_t *buf, size_t len)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons(e->p0_port) };
    uv_buf_t b = uv_buf_init((char *) buf, (unsigned) len);
    assert_int_equal(uv_udp_try_send(&e->src, &b, 1, (struct sockaddr *) &a), (int) len);
}

static void
setup_env(struct env *e, int n_devs)
{
    memset(e, 0, sizeof *e);
    e->n_devs = n_devs;
    assert_int_equal(uv_loop_init(&e->d.loop), 0);
    sink_open(e, &e->sink0);
    sink_open(e, &e->sink1);
    assert_int_equal(uv_udp_init(&e->d.loop, &e->src), 0);
    uv_timer_init(&e->d.loop, &e->tick);
    uv_timer_start(&e->tick, tick_cb, 5, 5);   /* UV_RUN_ONCE returns regularly */
    e->ctl_port = pick_port();
    e->p0_port = pick_port();
    e->p1_port = pick_port();
    char devices[512] = "";
    for (int i = 0; i < n_devs; i++) {
        e->devs[i].port = pick_port();
        size_t l = strlen(devices);
        snprintf(devices + l, sizeof devices - l,
                 "  - {id: %d, name: nic%d, role: nic, address: 127.0.0.1:%u, features: [hash]}\n",
                 DEV_ID + i, i, e->devs[i].port);
    }

    char yaml[4096];
    int n = snprintf(yaml, sizeof yaml,
        "version: 1\n"
        "rack:\n"
        "  name: t\n"
        "  auth_key: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        "timers:\n"
        "  heartbeat_ms: 25\n"
        "  heartbeat_misses: 4\n"
        "  idle_ms: 1000\n"
        "  flush_ms: 5\n"
        "  rpc_timeout_ms: 50\n"
        "  rpc_retries: 3\n"
        "switch:\n"
        "  id: 0\n"
        "  name: tor0\n"
        "  control: 127.0.0.1:%u\n"
        "  features: [hash]\n"
        "  ports:\n"
        "    - {id: 0, name: p0, listen: 127.0.0.1:%u, peer: 127.0.0.1:%u}\n"
        "    - {id: 1, name: p1, listen: 127.0.0.1:%u, peer: 127.0.0.1:%u}\n"
        "devices:\n"
        "%s"
        "apps:\n"
        "  - id: %u\n"
        "    name: flowcheck\n"
        "    module: %s\n"
        "    traffic_class: {proto: udp}\n"
        "    flow_manager_entries: 64\n",
        e->ctl_port, e->p0_port, e->sink0.port, e->p1_port, e->sink1.port, devices,
        APP_ID, PLANE_TEST_APP_PATH);
    assert_true(n > 0 && (size_t) n < sizeof yaml);
    char err[512];
    if (plane_config_load_buf("test.yaml", yaml, (size_t) n, &e->cfg, err, sizeof err)) {
        fail_msg("config: %s", err);
    }
    assert_int_equal(plane_auth_init(&e->auth, e->cfg->rack.auth_key, 0), 0);
    /* The parts of a plane_daemon the switch uses, without its signals. */
    e->d.cfg = e->cfg;
    e->d.self_id = e->cfg->sw.id;
    e->d.incarnation = plane_auth_new_incarnation();
    e->d.auth = &e->auth;
    /* The switch runs on e->loop: copy nothing, point at it. */
    e->sw = NULL;

    /* The frame: UDP 10.0.0.1:1234 -> 10.0.0.2:80. */
    static const uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 0, 0, 2 };
    struct plane_pkt_spec s = { .dst_mac = { 2, 0, 0, 0, 0, 2 }, .src_mac = { 2, 0, 0, 0, 0, 1 } };
    plane_flow_key_set_v4(&s.key, 17, src, 1234, dst, 80);
    assert_int_equal(plane_pkt_build_udp4(e->frame, sizeof e->frame, &s, "hello!!!", 8,
                                          &e->frame_len), 0);
    struct plane_pkt pkt;
    assert_int_equal(plane_pkt_parse(e->frame, e->frame_len, &pkt), 0);
    e->key = pkt.key;   /* the app's union key is the whole 5-tuple */
}

static void
close_cb(uv_handle_t *h)
{
    (void) h;
}

static void
teardown_env(struct env *e)
{
    plane_switch_stop(e->sw);
    for (int i = 0; i < e->n_devs; i++) {
        plane_rpc_close(e->devs[i].rpc, NULL, NULL);
        plane_udp_close(e->devs[i].udp, NULL, NULL);
    }
    uv_close((uv_handle_t *) &e->sink0.h, close_cb);
    uv_close((uv_handle_t *) &e->sink1.h, close_cb);
    uv_close((uv_handle_t *) &e->src, close_cb);
    uv_close((uv_handle_t *) &e->tick, close_cb);
    assert_int_equal(uv_run(&e->d.loop, UV_RUN_DEFAULT), 0);
    assert_true(plane_switch_closed(e->sw));
    plane_switch_delete(e->sw);
    assert_int_equal(uv_loop_close(&e->d.loop), 0);
    for (int i = 0; i < e->n_devs; i++) {
        plane_mp_zone_uninit(&e->devs[i].zone);
        plane_auth_uninit(&e->devs[i].auth);
    }
    plane_auth_uninit(&e->auth);
    plane_config_delete(e->cfg);
}

/* ---- conditions ---- */

static bool c_hb_ok(struct env *e) { return ctr(e, "hb_ok") >= 1; }
static bool c_sink0_1(struct env *e) { return e->sink0.count >= 1; }
static bool c_sink0_2(struct env *e) { return e->sink0.count >= 2; }
static bool c_promoted(struct env *e)
{
    return e->devs[0].pops_acked == 1 && ctr(e, "app.flowcheck.fm.occupancy") == 1
           && ctr(e, "app.flowcheck.update.promotions") == 1;
}
static bool c_demoted(struct env *e)
{
    return ctr(e, "app.flowcheck.update.demotions") == 1;
}
static bool c_dev_down(struct env *e) { return ctr(e, "dev.nic0.up") == 0; }
static bool c_dev_up(struct env *e) { return ctr(e, "dev.nic0.up") == 1; }
static bool c_devmap(struct env *e) { return e->devs[0].devmaps >= 1; }

static void
check_egress(struct env *e, uint16_t processed_by)
{
    struct plane_wire_data d;
    assert_int_equal(plane_wire_data_decode(e->sink0.last, e->sink0.last_len, &d), 0);
    assert_int_equal(d.flags & (PLANE_DATA_F_PROCESSED | PLANE_DATA_F_TO_EGRESS),
                     PLANE_DATA_F_PROCESSED | PLANE_DATA_F_TO_EGRESS);
    assert_int_equal(d.processed_by, processed_by);
    assert_int_equal(d.port, EGRESS);
    assert_int_equal(d.app_id, APP_ID);
    assert_true(d.ingress_ns > 0);
    assert_int_equal(d.frame_len, e->frame_len);
    assert_memory_equal(d.frame, e->frame, e->frame_len);
}

/* The whole life of a flow: pinned to the device, promoted, processed at the
 * switch, aged out with its delta handed back; then the device dies and
 * comes back. */
static void
test_switch_flow_life(void **state)
{
    (void) state;
    static struct env env;
    struct env *e = &env;
    setup_env(e, 1);
    e->sw = plane_switch_new(&e->d);
    assert_non_null(e->sw);
    dev_open(e, 0);
    assert_int_equal(plane_switch_start(e->sw), 0);
    run_until(e, c_hb_ok, "a heartbeat answer");
    assert_int_equal(ctr(e, "dev.nic0.up"), 1);

    /* 1. A miss: the frame goes to the device and out of port 0 once. */
    send_frame(e, e->frame, e->frame_len);
    run_until(e, c_sink0_1, "the frame at port 0's peer");
    check_egress(e, DEV_ID);
    assert_int_equal(e->devs[0].data_rx, 1);
    run_for(e, 100);
    assert_int_equal(e->sink0.count, 1);
    assert_int_equal(e->sink1.count, 0);
    assert_int_equal(ctr(e, "app.flowcheck.misses"), 1);
    assert_int_equal(ctr(e, "app.flowcheck.dev_processed"), 1);

    /* 2. The device reports the flow hot: ENTRY_READ, then resident. */
    struct plane_body_pop_item it = { .union_key = (const uint8_t *) &e->key,
                                      .union_key_len = sizeof e->key, .count = 1000 };
    struct plane_body_pop pop = { .app_id = APP_ID, .n_items = 1, .items = &it };
    uint8_t body[512];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, body, sizeof body);
    assert_int_equal(plane_body_pop_encode(&pop, &w), 0);
    assert_int_equal(plane_rpc_call(e->devs[0].rpc, 0, PLANE_MSG_POP_REPORT, body, w.len, NULL,
                                    dev_pop_cb, &e->devs[0], NULL), 0);
    run_until(e, c_promoted, "the promotion");
    assert_int_equal(e->devs[0].reads, 1);
    assert_int_equal(ctr(e, "app.flowcheck.install_ok"), 1);

    /* 3. A hit: processed at the switch, the device sees nothing. */
    send_frame(e, e->frame, e->frame_len);
    run_until(e, c_sink0_2, "the second frame at port 0's peer");
    check_egress(e, 0);
    assert_int_equal(e->devs[0].data_rx, 1);
    assert_int_equal(ctr(e, "app.flowcheck.hits"), 1);

    /* 4. Idle past idle_ms: demoted.  The one packet counted at the
     * switch comes back exactly once, by a SYNC round (T_e) or as the
     * DEMOTE's pkts delta (101 - 100), whichever came first. */
    run_until(e, c_demoted, "the demotion");
    assert_int_equal(e->devs[0].demotes, 1);
    assert_true(e->devs[0].demote_delta_seen || e->devs[0].sync_merges > 0);
    assert_int_equal(e->devs[0].demote_delta + e->devs[0].sync_delta, 1);
    assert_int_equal(ctr(e, "app.flowcheck.fm.occupancy"), 0);

    /* 5. Malformed and unclassified input is counted, not forwarded. */
    static const uint8_t junk[3] = { 1, 2, 3 };
    send_frame(e, junk, sizeof junk);
    /* The same bytes on the control endpoint are no msgpack header. */
    struct sockaddr_in ca = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons(e->ctl_port) };
    uv_buf_t jb = uv_buf_init((char *) junk, sizeof junk);
    assert_int_equal(uv_udp_try_send(&e->src, &jb, 1, (struct sockaddr *) &ca), 3);
    run_for(e, 50);
    /* Raw mode: the port endpoint handed the bytes to the switch as a frame. */
    assert_int_equal(ctr(e, "parse_error"), 1);
    assert_int_equal(ctr(e, "udp.port.p0.rx_datagrams"), 3);
    assert_int_equal(ctr(e, "udp.control.rx_malformed"), 1);
    assert_int_equal(e->sink0.count, 2);

    /* 6. The device stops answering heartbeats: down, devmap changes, and
     * its traffic is a counted drop. */
    e->devs[0].hb_silent = true;
    run_until(e, c_dev_down, "the device going down");
    assert_int_equal(ctr(e, "placement.device_down"), 1);
    assert_true(ctr(e, "dev.nic0.downs") == 1);
    uint64_t drops = ctr(e, "device_down");
    send_frame(e, e->frame, e->frame_len);
    run_for(e, 50);
    assert_int_equal(ctr(e, "device_down"), drops + 1);
    assert_int_equal(e->sink0.count, 2);

    /* 7. Answering again brings it back. */
    e->devs[0].hb_silent = false;
    run_until(e, c_dev_up, "the device coming back");
    run_until(e, c_devmap, "the device map at the device");
    assert_int_equal(ctr(e, "placement.device_up"), 1);

    teardown_env(e);
}

static bool c_both_hb(struct env *e)
{
    return e->devs[0].hb_rx >= 1 && e->devs[1].hb_rx >= 1 && ctr(e, "hb_ok") >= 2;
}
static bool c_sink0_3(struct env *e) { return e->sink0.count >= 3; }
static bool c_sink0_4(struct env *e) { return e->sink0.count >= 4; }
static bool c_owner_devmap(struct env *e) { return e->devs[e->owner].devmaps >= 1; }
static bool c_owner_hbs(struct env *e) { return e->devs[e->owner].hb_rx >= e->hb_mark; }
static bool c_owner_down(struct env *e)
{
    char n[32];
    snprintf(n, sizeof n, "dev.nic%d.up", e->owner);
    return ctr(e, n) == 0;
}
static bool c_other_devmap(struct env *e) { return e->devs[1 - e->owner].devmaps >= 1; }
static bool c_recovered(struct env *e) { return ctr(e, "placement.recoveries") >= 1; }
static bool c_stats(struct env *e) { return e->stats_ok != 0; }

/* STATS over the wire, as planectl asks: the counters the switch reports. */
static void
stats_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    struct env *e = arg;
    (void) rpc;
    assert_int_equal(status, 0);
    struct plane_mp_zone z;
    struct plane_body_stats st;
    assert_int_equal(plane_mp_zone_init(&z, 0), 0);
    assert_int_equal(plane_body_stats_decode(resp->body, resp->body_len, &z, &st), 0);
    int found = 0;
    for (uint32_t i = 0; i < st.n_stats; i++) {
        if (!strcmp(st.stats[i].name, "placement.recoveries") && st.stats[i].value >= 1) {
            found++;
        }
        if (!strcmp(st.stats[i].name, "dev.nic0.up") && st.stats[i].value == 1) {
            found++;
        }
        if (!strcmp(st.stats[i].name, "udp.control.rx_data") && st.stats[i].value >= 3) {
            found++;
        }
        if (!strcmp(st.stats[i].name, "app.flowcheck.fm.capacity") && st.stats[i].value == 64) {
            found++;
        }
    }
    plane_mp_zone_uninit(&z);
    e->stats_ok = found == 4 ? 1 : -1;
}

/* A device fails: its logical device fails over to the replica, which then
 * processes the flow; it comes back, resyncs, and serves the flow again. */
static void
test_switch_failover(void **state)
{
    (void) state;
    static struct env env;
    struct env *e = &env;
    setup_env(e, 2);
    e->sw = plane_switch_new(&e->d);
    assert_non_null(e->sw);
    dev_open(e, 0);
    dev_open(e, 1);
    assert_int_equal(plane_switch_start(e->sw), 0);
    run_until(e, c_both_hb, "heartbeats from both devices");

    send_frame(e, e->frame, e->frame_len);
    run_until(e, c_sink0_1, "the frame at port 0's peer");
    assert_int_equal(e->devs[0].data_rx + e->devs[1].data_rx, 1);
    e->owner = e->devs[0].data_rx ? 0 : 1;
    int other = 1 - e->owner;
    check_egress(e, (uint16_t) (DEV_ID + e->owner));

    e->devs[e->owner].hb_silent = true;
    run_until(e, c_owner_down, "the owner going down");
    run_until(e, c_other_devmap, "the device map at the replica");
    assert_true(ctr(e, "placement.failovers") >= 1);
    send_frame(e, e->frame, e->frame_len);
    run_until(e, c_sink0_2, "the frame through the replica");
    check_egress(e, (uint16_t) (DEV_ID + other));
    assert_int_equal(e->devs[other].data_rx, 1);

    /* Back, but re-learning (INIT): the replica keeps serving. */
    e->devs[e->owner].resyncing = true;
    e->devs[e->owner].hb_silent = false;
    run_until(e, c_owner_devmap, "the device map at the returning owner");
    int hb = e->devs[e->owner].hb_rx;
    e->hb_mark = hb + 5;
    run_until(e, c_owner_hbs, "more heartbeats at the returning owner");
    assert_int_equal(ctr(e, "placement.recoveries"), 0);
    send_frame(e, e->frame, e->frame_len);
    run_until(e, c_sink0_3, "the frame through the replica while recovering");
    check_egress(e, (uint16_t) (DEV_ID + other));

    /* Done re-learning: the owner serves its shards again. */
    e->devs[e->owner].resyncing = false;
    run_until(e, c_recovered, "the owner's recovery");
    send_frame(e, e->frame, e->frame_len);
    run_until(e, c_sink0_4, "the frame through the recovered owner");
    check_egress(e, (uint16_t) (DEV_ID + e->owner));
    assert_int_equal(e->devs[e->owner].data_rx, 2);

    assert_int_equal(plane_rpc_call(e->devs[other].rpc, 0, PLANE_MSG_STATS, NULL, 0, NULL,
                                    stats_cb, e, NULL), 0);
    run_until(e, c_stats, "the STATS answer");
    assert_int_equal(e->stats_ok, 1);

    teardown_env(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_switch_flow_life),
        cmocka_unit_test(test_switch_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
