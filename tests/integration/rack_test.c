/* Integration tests: the real switchd, nicd and serverd on 127.0.0.1 running the flowcheck app. */

/*
 * Usage: rack_test [harness|basic|counters|promote|churn|failover]...
 *
 * Every test builds a fresh rack in its own temp directory: ports are picked
 * at run time (bind 127.0.0.1:0, read back, close), rack.yaml is written
 * there, the daemons are started with fork/exec (their stdout/stderr go to
 * files in that directory, printed when a test fails) and stopped with
 * SIGTERM (then SIGKILL after a deadline).  Readiness is a condition: a probe
 * packet makes it through the rack end to end.  Nothing waits by sleeping a
 * fixed time: every wait polls a condition under a generous deadline.
 *
 * Traffic: numbered UDP packets of many flows with Zipf-distributed flow ids
 * from a seeded PRNG (the seed is printed; PLANE_TEST_SEED replays it).  The
 * payload carries [0..8) the flow id, [8..16) the flow's sequence number,
 * [16..24) zeros that flowcheck overwrites with the flow's mapping id,
 * [24..32) the global packet number and [32..40) a magic.  Packets go out in
 * batches and the driver waits for their egress before the next batch, so a
 * loaded box does not drop at a socket.
 *
 * Tests (issue 4, "Tests"; each starts its own rack):
 *   harness   the driver itself against stand-ins (no daemon needed)
 *   basic     (1) every packet out exactly once, one mapping per flow;
 *             (4) malformed datagrams, wrong-key control messages, forged
 *             DATA and frames for no app are counted and dropped, and the
 *             rack keeps serving
 *   counters  (1) after traffic stops, every copy of each flow's packet
 *             counter equals its packets (read with ENTRY_READ as 0xfffe)
 *   promote   (2) Zipf 0.99 over 2000 flows, flow manager 256: the share of
 *             packets processed at the switch passes one half
 *   failover  (3) kill -9 of nic0 under traffic (nic0/nic1 share the
 *             shards): traffic resumes on the replica, mappings hold, new
 *             flows start meanwhile; nic0 restarted comes back into service
 *
 * Environment: PLANE_SWITCHD, PLANE_NICD, PLANE_SERVERD and PLANE_FLOWCHECK
 * override the compile-time paths from CMake; PLANE_TEST_SEED replays a
 * seed; PLANE_IT_KEEP=1 keeps the temp directories; PLANE_IT_LOG_LEVEL sets
 * the daemons' --log-level (default info); PLANE_IT_VERBOSE=1 prints every
 * daemon's counters before the kill.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <uv.h>

#include <plane/app.h>
#include <plane/error.h>

#include "common/auth.h"
#include "common/config.h"
#include "common/mp.h"
#include "common/pkt.h"
#include "common/rpc.h"
#include "common/udp.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "common/fault.h"
#include "harness.h"

#ifndef PLANE_SWITCHD
#define PLANE_SWITCHD "switchd"
#endif
#ifndef PLANE_NICD
#define PLANE_NICD "nicd"
#endif
#ifndef PLANE_SERVERD
#define PLANE_SERVERD "serverd"
#endif
#ifndef PLANE_FLOWCHECK
#define PLANE_FLOWCHECK "flowcheck.so"
#endif

/* Rack identities (rack.yaml written below). */
#define SWITCH_ID 0
#define NIC0_ID 1
#define NIC1_ID 2
#define SRV0_ID 3
#define N_IDS 4
#define STATS_CLIENT_ID 0xfffe
#define APP_ID 1
/* flowcheck's traffic class: UDP to these destination ports. */
#define DPORT_LO 7000
#define DPORT_HI 7999
#define DPORT_OTHER 5000          /* outside the class: a frame for no app */

/* Payload layout (see the top comment). */
#define PL_FLOW 0
#define PL_SEQ 8
#define PL_MAP 16
#define PL_IDX 24
#define PL_MAGIC 32
#define PL_LEN 40
#define MAGIC_TRAFFIC 0x504c414e45495431ull  /* "PLANEIT1" */
#define MAGIC_PROBE   0x504c414e45495450ull  /* "PLANEITP" */
#define MAGIC_NOAPP   0x504c414e4549544eull  /* "PLANEITN" */

static const char rack_key_hex[] =
    "6974657374206b65792c206e6f7420612073656372657420617420616c6c2121";

/* ---- small helpers ---- */

#define CHECK IT_CHECK

/* The traffic's one PRNG: common/fault.h's xoshiro256** (seeded through splitmix64). */
struct prng {
    uint64_t s[4];
};

static void
prng_seed(struct prng *r, uint64_t seed)
{
    plane_fault_prng_seed(r->s, seed);
}

static uint64_t
prng_next(struct prng *r)
{
    return plane_fault_prng_next(r->s);
}

static double
prng_unit(struct prng *r)
{
    return it_unit(prng_next(r));
}

/* ---- sockets ---- */

static void
send_to(int fd, uint16_t port, const void *buf, size_t len)
{
    struct sockaddr_in sa;
    it_addr(&sa, port);
    /* Loopback UDP only fails here when the socket buffer is full: retry
     * briefly rather than lose a numbered packet. */
    for (int tries = 0; tries < 1000; tries++) {
        if (sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)) >= 0)
            return;
        if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
            break;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        (void)poll(&p, 1, 10);
    }
    it_say("sendto port %u failed: %s", port, strerror(errno));
}

/* ---- the rack: config, processes ---- */

enum proc_idx { P_SWITCH, P_NIC0, P_NIC1, P_SRV0, N_PROCS };

struct proc {
    const char *name;
    const char *exe;
    const char *id;              /* --id, NULL for switchd */
    char log[PATH_MAX];
    pid_t pid;                   /* 0: not running */
    int status;                  /* wait status once reaped */
};

struct rack_opts {
    uint32_t heartbeat_ms;
    uint32_t heartbeat_misses;
    uint32_t sync_ms;
    uint32_t pop_ms;
    uint32_t idle_ms;
    uint32_t fm_entries;
    bool nic_shards;             /* two logical devices on nic0/nic1 only */
};

struct rack {
    struct rack_opts o;
    char dir[PATH_MAX];
    char yaml[PATH_MAX];
    uint16_t sw_ctl;
    uint16_t port_listen[2];
    uint16_t dev_port[N_PROCS];  /* by proc index; [P_SWITCH] = sw_ctl */
    int sink[2];                 /* the ports' peers: egress arrives here */
    uint16_t sink_port[2];
    int tx;                      /* sends ingress frames and junk */
    struct proc procs[N_PROCS];
    bool failed;
};

static const uint16_t proc_dev_id[N_PROCS] = {SWITCH_ID, NIC0_ID, NIC1_ID, SRV0_ID};

static int
rack_write_yaml(struct rack *r)
{
    FILE *f = fopen(r->yaml, "w");
    if (!f)
        return -1;
    fprintf(f,
            "# Written by rack_test.\n"
            "version: 1\n"
            "rack:\n"
            "  name: it\n"
            "  auth_key: %s\n"
            "timers:\n"
            "  sync_interval_ms: %u\n"
            "  flush_ms: 5\n"
            "  idle_ms: %u\n"
            "  heartbeat_ms: %u\n"
            "  heartbeat_misses: %u\n"
            "  rpc_timeout_ms: 50\n"
            "  rpc_retries: 8\n"
            "  popularity_interval_ms: %u\n"
            "switch:\n"
            "  id: %u\n"
            "  name: tor0\n"
            "  control: 127.0.0.1:%u\n"
            "  ports:\n"
            "    - {id: 0, name: p0, listen: 127.0.0.1:%u, peer: 127.0.0.1:%u}\n"
            "    - {id: 1, name: p1, listen: 127.0.0.1:%u, peer: 127.0.0.1:%u}\n"
            "  features: [recirculation, hash, multicast]\n"
            "devices:\n"
            "  - {id: %u, name: nic0, role: nic, address: 127.0.0.1:%u,"
            " features: [payload, hash, timestamp]}\n"
            "  - {id: %u, name: nic1, role: nic, address: 127.0.0.1:%u,"
            " features: [payload, hash, timestamp]}\n"
            "  - {id: %u, name: srv0, role: server, address: 127.0.0.1:%u,"
            " features: [payload, float, crypto, regex, hash, timestamp]}\n",
            rack_key_hex, r->o.sync_ms, r->o.idle_ms, r->o.heartbeat_ms,
            r->o.heartbeat_misses, r->o.pop_ms, SWITCH_ID, r->sw_ctl,
            r->port_listen[0], r->sink_port[0], r->port_listen[1], r->sink_port[1],
            NIC0_ID, r->dev_port[P_NIC0], NIC1_ID, r->dev_port[P_NIC1],
            SRV0_ID, r->dev_port[P_SRV0]);
    if (r->o.nic_shards)
        fprintf(f,
                "shards:\n"
                "  logical_devices: 2\n"
                "  map:\n"
                "    0: {primary: nic0, replica: nic1}\n"
                "    1: {primary: nic1, replica: nic0}\n");
    fprintf(f,
            "apps:\n"
            "  - id: %u\n"
            "    name: flowcheck\n"
            "    module: %s\n"
            "    traffic_class: {proto: udp, dst_port: \"%u-%u\"}\n"
            "    flow_manager_entries: %u\n",
            APP_ID, it_env_or("PLANE_FLOWCHECK", PLANE_FLOWCHECK), DPORT_LO, DPORT_HI,
            r->o.fm_entries);
    return fclose(f) == 0 ? 0 : -1;
}

static void
rack_opts_default(struct rack_opts *o)
{
    o->heartbeat_ms = 10;
    o->heartbeat_misses = 3;
    o->sync_ms = 50;
    o->pop_ms = 50;
    o->idle_ms = 1000;
    o->fm_entries = 256;
    o->nic_shards = false;
}

/* Creates the temp dir, picks ports, opens the driver's sockets, writes rack.yaml. */
static int
rack_init(struct rack *r, const struct rack_opts *o)
{
    memset(r, 0, sizeof(*r));
    r->o = *o;
    r->sink[0] = r->sink[1] = r->tx = -1;
    const char *tmp = it_env_or("TMPDIR", "/tmp");
    snprintf(r->dir, sizeof(r->dir), "%s/plane-it-XXXXXX", tmp);
    if (!mkdtemp(r->dir)) {
        it_say("mkdtemp %s: %s", r->dir, strerror(errno));
        return -1;
    }
    if (snprintf(r->yaml, sizeof(r->yaml), "%s/rack.yaml", r->dir) >= (int) sizeof(r->yaml)) {
        it_say("temp dir path too long: %s", r->dir);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        r->sink[i] = it_udp_open(0, &r->sink_port[i], 64 << 20, false);
        if (r->sink[i] < 0)
            return -1;
        fcntl(r->sink[i], F_SETFL, O_NONBLOCK);
    }
    r->tx = it_udp_open(0, NULL, 0, false);
    if (r->tx < 0)
        return -1;
    int sndbuf = 8 << 20;
    (void)setsockopt(r->tx, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    fcntl(r->tx, F_SETFL, O_NONBLOCK);
    r->sw_ctl = it_free_port();
    r->port_listen[0] = it_free_port();
    r->port_listen[1] = it_free_port();
    r->dev_port[P_SWITCH] = r->sw_ctl;
    for (int i = P_NIC0; i < N_PROCS; i++)
        r->dev_port[i] = it_free_port();
    if (!r->sw_ctl || !r->port_listen[0] || !r->port_listen[1])
        return -1;

    static const char *names[N_PROCS] = {"switchd", "nic0", "nic1", "srv0"};
    static const char *ids[N_PROCS] = {NULL, "nic0", "nic1", "srv0"};
    const char *exes[N_PROCS] = {
        it_env_or("PLANE_SWITCHD", PLANE_SWITCHD), it_env_or("PLANE_NICD", PLANE_NICD),
        it_env_or("PLANE_NICD", PLANE_NICD), it_env_or("PLANE_SERVERD", PLANE_SERVERD)};
    for (int i = 0; i < N_PROCS; i++) {
        r->procs[i].name = names[i];
        r->procs[i].exe = exes[i];
        r->procs[i].id = ids[i];
        if (snprintf(r->procs[i].log, sizeof(r->procs[i].log), "%s/%s.log", r->dir, names[i])
            >= (int) sizeof(r->procs[i].log)) {
            it_say("temp dir path too long: %s", r->dir);
            return -1;
        }
    }
    if (rack_write_yaml(r) < 0) {
        it_say("cannot write %s", r->yaml);
        return -1;
    }
    /* The daemons would reject it anyway; failing here names the field. */
    struct plane_config *cfg = NULL;
    char err[512];
    if (plane_config_load_file(r->yaml, &cfg, err, sizeof(err)) < 0) {
        it_say("rack.yaml does not load: %s", err);
        return -1;
    }
    plane_config_delete(cfg);
    it_say("rack in %s: switch control %u, ports %u/%u -> sinks %u/%u, nic0 %u, nic1 %u, srv0 %u",
        r->dir, r->sw_ctl, r->port_listen[0], r->port_listen[1], r->sink_port[0],
        r->sink_port[1], r->dev_port[P_NIC0], r->dev_port[P_NIC1], r->dev_port[P_SRV0]);
    return 0;
}

static int
proc_start(struct rack *r, int i)
{
    struct proc *p = &r->procs[i];
    const char *argv[8];
    int n = 0;
    argv[n++] = p->exe;
    argv[n++] = "--config";
    argv[n++] = r->yaml;
    if (p->id) {
        argv[n++] = "--id";
        argv[n++] = p->id;
    }
    argv[n++] = "--log-level";
    argv[n++] = it_env_or("PLANE_IT_LOG_LEVEL", "info");
    argv[n] = NULL;
    p->pid = it_spawn(argv, p->log);
    p->status = 0;
    if (p->pid < 0) {
        p->pid = 0;
        return -1;
    }
    return 0;
}

/* True when process i is running; reaps it (and says so) when it exited. */
static bool
proc_alive(struct rack *r, int i)
{
    return it_alive(&r->procs[i].pid, r->procs[i].name, &r->procs[i].status);
}

/* Checks that every started process still runs.  Returns 0 or -1. */
static int
rack_all_alive(struct rack *r, uint32_t mask)
{
    for (int i = 0; i < N_PROCS; i++)
        if ((mask & (1u << i)) && !proc_alive(r, i)) {
            it_say("%s is not running", r->procs[i].name);
            r->failed = true;
            return -1;
        }
    return 0;
}

/*
 * Stops process i with sig; for SIGTERM waits up to 20 s for a clean exit,
 * then SIGKILLs.  Returns 0 when it exited as expected (status 0 on SIGTERM,
 * killed by SIGKILL on SIGKILL), -1 otherwise.
 */
static int
proc_stop(struct rack *r, int i, int sig)
{
    return it_stop(&r->procs[i].pid, r->procs[i].name, sig, &r->procs[i].status);
}

/* Starts every daemon. */
static int
rack_start(struct rack *r)
{
    for (int i = 0; i < N_PROCS; i++)
        if (proc_start(r, i) < 0)
            return -1;
    return 0;
}

static int rack_stats(struct rack *r, int dev, const char *const *names, uint64_t *values,
                      size_t n, bool print);

/* Stops everything (SIGTERM, clean exit expected), prints logs on failure,
 * removes the directory on success.  Returns 0 or -1. */
static int
rack_fini(struct rack *r, bool test_failed)
{
    int rc = 0;
    if (test_failed || r->failed) {
        /* What every daemon counted, for the diagnosis. */
        uint64_t dummy;
        for (int i = 0; i < N_PROCS; i++)
            if (r->procs[i].pid && proc_alive(r, i) && !strstr(r->procs[i].exe, "/bin/"))
                rack_stats(r, i, NULL, &dummy, 0, true);
    }
    /* Devices first, switch last, so the switch sees them leave. */
    for (int i = N_PROCS - 1; i >= 0; i--)
        if (r->procs[i].pid && proc_stop(r, i, SIGTERM) < 0) {
            it_say("%s did not stop cleanly on SIGTERM", r->procs[i].name);
            rc = -1;
        }
    for (int i = 0; i < 2; i++)
        if (r->sink[i] >= 0)
            close(r->sink[i]);
    if (r->tx >= 0)
        close(r->tx);
    if (test_failed || rc < 0 || r->failed) {
        for (int i = 0; i < N_PROCS; i++)
            it_print_log(r->procs[i].name, r->procs[i].log, 20000);
        it_say("rack left in %s", r->dir);
    } else if (!getenv("PLANE_IT_KEEP")) {
        char path[PATH_MAX + 32];
        for (int i = 0; i < N_PROCS; i++)
            unlink(r->procs[i].log);
        unlink(r->yaml);
        snprintf(path, sizeof(path), "%s", r->dir);
        rmdir(path);
    }
    return rc;
}

/* ---- traffic ---- */

struct traffic {
    uint32_t n_flows;
    uint64_t *seq_next;          /* per flow */
    uint8_t (*mapping)[8];       /* per flow: first mapping seen */
    bool *has_mapping;
    /* per packet number */
    uint32_t *pkt_flow;
    uint64_t *pkt_seq;
    uint8_t *pkt_seen;           /* egress copies seen */
    size_t cap, n_sent, n_rx_unique;
    /* totals */
    size_t n_dup, n_bad, n_mapping_changed, n_unexpected, n_probe_rx;
    size_t by_dev[N_IDS + 1];    /* processed_by; [N_IDS]: other */
    /* the window since traffic_window_reset() */
    size_t win_rx, win_switch;
    size_t win_by[N_IDS + 1];
};

static int
traffic_init(struct traffic *t, uint32_t n_flows, size_t cap)
{
    memset(t, 0, sizeof(*t));
    t->n_flows = n_flows;
    t->cap = cap;
    t->seq_next = calloc(n_flows, sizeof(*t->seq_next));
    t->mapping = calloc(n_flows, sizeof(*t->mapping));
    t->has_mapping = calloc(n_flows, sizeof(*t->has_mapping));
    t->pkt_flow = calloc(cap, sizeof(*t->pkt_flow));
    t->pkt_seq = calloc(cap, sizeof(*t->pkt_seq));
    t->pkt_seen = calloc(cap, sizeof(*t->pkt_seen));
    if (!t->seq_next || !t->mapping || !t->has_mapping || !t->pkt_flow ||
        !t->pkt_seq || !t->pkt_seen)
        return -1;
    return 0;
}

static void
traffic_uninit(struct traffic *t)
{
    free(t->seq_next);
    free(t->mapping);
    free(t->has_mapping);
    free(t->pkt_flow);
    free(t->pkt_seq);
    free(t->pkt_seen);
}

static void
traffic_window_reset(struct traffic *t)
{
    t->win_rx = t->win_switch = 0;
    memset(t->win_by, 0, sizeof(t->win_by));
}

/* The 5-tuple of flow f: sources shared by 64 flows each (flowcheck's per_src). */
static void
flow_spec(struct plane_pkt_spec *s, uint32_t f, uint16_t dport)
{
    memset(s, 0, sizeof(*s));
    static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x02};
    static const uint8_t smac[6] = {0x02, 0, 0, 0, 0, 0x01};
    memcpy(s->dst_mac, dmac, 6);
    memcpy(s->src_mac, smac, 6);
    uint8_t src[4] = {10, 1, (uint8_t)(f / 64 / 256), (uint8_t)(f / 64 % 256)};
    uint8_t dst[4] = {10, 2, 0, 1};
    plane_flow_key_set_v4(&s->key, PLANE_IPPROTO_UDP, src, (uint16_t)(10000 + f % 50000),
                          dst, dport ? dport : (uint16_t)(DPORT_LO + f % 100));
}

/* Builds the frame of one packet with the given payload fields. */
static size_t
build_frame(uint8_t *frame, size_t cap, uint32_t flow, uint16_t dport, uint64_t seq,
            uint64_t idx, uint64_t magic, uint8_t proto)
{
    struct plane_pkt_spec s;
    flow_spec(&s, flow, dport);
    uint8_t pl[PL_LEN] = {0};
    it_put_be64(pl + PL_FLOW, flow);
    it_put_be64(pl + PL_SEQ, seq);
    it_put_be64(pl + PL_IDX, idx);
    it_put_be64(pl + PL_MAGIC, magic);
    size_t len = 0;
    int rc = proto == PLANE_IPPROTO_TCP
                 ? plane_pkt_build_tcp4(frame, cap, &s, pl, sizeof(pl), &len)
                 : plane_pkt_build_udp4(frame, cap, &s, pl, sizeof(pl), &len);
    return rc == 0 ? len : 0;
}

/* Sends packet number t->n_sent of flow f into port `port` of the switch. */
static int
traffic_send(struct rack *r, struct traffic *t, uint32_t f, int port)
{
    if (t->n_sent >= t->cap) {
        if (t->n_bad++ == 0)
            it_say("traffic capacity %zu exhausted", t->cap);
        return -1;
    }
    uint8_t frame[256];
    size_t idx = t->n_sent++;
    uint64_t seq = t->seq_next[f]++;
    t->pkt_flow[idx] = f;
    t->pkt_seq[idx] = seq;
    size_t len = build_frame(frame, sizeof(frame), f, 0, seq, idx, MAGIC_TRAFFIC,
                             PLANE_IPPROTO_UDP);
    if (!len)
        return -1;
    send_to(r->tx, r->port_listen[port], frame, len);
    return 0;
}

/* Checks and records one egress datagram. */
static void
traffic_on_egress(struct traffic *t, const uint8_t *buf, size_t len)
{
    struct plane_wire_data d;
    struct plane_pkt pkt;
    if (plane_wire_data_decode(buf, len, &d) < 0 || plane_pkt_parse(d.frame, d.frame_len, &pkt) < 0 ||
        pkt.payload_len < PL_LEN) {
        if (t->n_bad++ < 5)
            it_say("egress datagram of %zu bytes does not decode", len);
        return;
    }
    const uint8_t *pl = d.frame + pkt.payload_off;
    uint64_t magic = it_get_be64(pl + PL_MAGIC);
    if (magic == MAGIC_PROBE) {
        t->n_probe_rx++;
        return;
    }
    if (magic != MAGIC_TRAFFIC) {
        if (t->n_unexpected++ < 5)
            it_say("unexpected egress (magic %016" PRIx64 ", port %u, by %u)", magic, d.port,
                d.processed_by);
        return;
    }
    uint32_t want = PLANE_DATA_F_PROCESSED | PLANE_DATA_F_TO_EGRESS;
    uint64_t idx = it_get_be64(pl + PL_IDX);
    uint64_t flow = it_get_be64(pl + PL_FLOW);
    uint64_t seq = it_get_be64(pl + PL_SEQ);
    if ((d.flags & want) != want || (d.flags & PLANE_DATA_F_DROP) || d.app_id != APP_ID ||
        idx >= t->n_sent || t->pkt_flow[idx] != flow || t->pkt_seq[idx] != seq) {
        if (t->n_bad++ < 5)
            it_say("bad egress: flags %#x app %u idx %" PRIu64 " flow %" PRIu64 " seq %" PRIu64,
                d.flags, d.app_id, idx, flow, seq);
        return;
    }
    if (t->pkt_seen[idx]++) {
        if (t->n_dup++ < 5)
            it_say("duplicate egress of packet %" PRIu64 " (flow %" PRIu64 " seq %" PRIu64 ")",
                idx, flow, seq);
        return;
    }
    t->n_rx_unique++;
    size_t by = d.processed_by < N_IDS ? d.processed_by : N_IDS;
    t->by_dev[by]++;
    t->win_by[by]++;
    t->win_rx++;
    if (d.processed_by == SWITCH_ID)
        t->win_switch++;
    const uint8_t *m = pl + PL_MAP;
    /* flowcheck's ids are device_id << 48 | n with n >= 1, allocated by
     * control logic on an external device: never 0, never the switch's. */
    uint64_t id = it_get_be64(m);
    if ((id & 0xffffffffffffull) == 0 || (id >> 48) == SWITCH_ID || (id >> 48) >= N_IDS) {
        if (t->n_bad++ < 5)
            it_say("flow %" PRIu64 " seq %" PRIu64 ": mapping %016" PRIx64 " is no flowcheck id"
                " (processed by %u)", flow, seq, id, d.processed_by);
        return;
    }
    if (!t->has_mapping[flow]) {
        memcpy(t->mapping[flow], m, 8);
        t->has_mapping[flow] = true;
    } else if (memcmp(t->mapping[flow], m, 8) != 0) {
        if (t->n_mapping_changed++ < 5)
            it_say("flow %" PRIu64 " seq %" PRIu64 ": mapping %016" PRIx64 " != first %016" PRIx64
                " (processed by %u)", flow, seq, it_get_be64(m), it_get_be64(t->mapping[flow]),
                d.processed_by);
    }
}

/* Packets numbered from..n_sent-1 that never came out; names the first few. */
static size_t
traffic_missing_since(const struct traffic *t, size_t from, bool print)
{
    size_t n = 0;
    for (size_t i = from; i < t->n_sent; i++)
        if (!t->pkt_seen[i] && n++ < 5 && print)
            it_say("packet %zu (flow %u seq %" PRIu64 ") never came out", i, t->pkt_flow[i],
                t->pkt_seq[i]);
    return n;
}

/* Reads every datagram waiting on the sinks; waits up to timeout_ms for the first. */
static void
sinks_drain(struct rack *r, struct traffic *t, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = r->sink[0], .events = POLLIN},
                          {.fd = r->sink[1], .events = POLLIN}};
    if (poll(p, 2, timeout_ms) <= 0)
        return;
    uint8_t buf[PLANE_WIRE_MAX_DATAGRAM + 64];
    for (int i = 0; i < 2; i++) {
        for (;;) {
            ssize_t n = recv(r->sink[i], buf, sizeof(buf), 0);
            if (n < 0)
                break;
            traffic_on_egress(t, buf, (size_t)n);
        }
    }
}

/*
 * Waits until every packet numbered from `from` on came out, or deadline_ms
 * passed.  Returns true when all did.  Fails fast when a daemon in `alive`
 * died.  Packets before `from` (e.g. lost with a killed NIC) do not count.
 */
static bool
traffic_wait(struct rack *r, struct traffic *t, size_t from, uint64_t deadline_ms,
             uint32_t alive)
{
    uint64_t until = it_now_ms() + deadline_ms;
    for (;;) {
        while (from < t->n_sent && t->pkt_seen[from])
            from++;
        if (from >= t->n_sent)
            break;
        if (it_now_ms() > until)
            return false;
        if (alive && rack_all_alive(r, alive) < 0)
            return false;
        sinks_drain(r, t, 20);
    }
    /* Pick up duplicates that trail the last packet. */
    sinks_drain(r, t, 0);
    return true;
}

/*
 * Sends n packets of flows drawn by `draw` in batches of `batch`, waiting for
 * each batch's egress (up to batch_deadline_ms) before the next; stops at
 * the first batch that does not come out whole.  Returns the number of the
 * packets it sent that are missing.
 */
typedef uint32_t (*draw_fn)(void *arg);

static size_t
traffic_run(struct rack *r, struct traffic *t, size_t n, size_t batch, draw_fn draw,
            void *arg, uint64_t batch_deadline_ms, uint32_t alive)
{
    size_t start = t->n_sent;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < batch ? n - done : batch;
        size_t from = t->n_sent;
        for (size_t i = 0; i < k; i++) {
            uint32_t f = draw(arg);
            if (traffic_send(r, t, f, (int)(f & 1)) < 0)
                return traffic_missing_since(t, start, false) + 1;
        }
        done += k;
        if (!traffic_wait(r, t, from, batch_deadline_ms, alive))
            break;
    }
    return traffic_missing_since(t, start, false);
}

struct zipf_draw {
    struct it_zipf z;
    struct prng rng;
};

static uint32_t
draw_zipf(void *arg)
{
    struct zipf_draw *d = arg;
    return it_zipf_rank(&d->z, prng_unit(&d->rng));
}

struct seq_draw {
    uint32_t next, n;
};

static uint32_t
draw_round_robin(void *arg)
{
    struct seq_draw *d = arg;
    uint32_t f = d->next;
    d->next = (d->next + 1) % d->n;
    return f;
}

static int rack_wait_devices(struct rack *r, uint32_t want_up, uint32_t want_down,
                             uint64_t deadline_ms);

/* Sends probe packets until one makes it through end to end and the switch
 * sees every device up (30 s). */
static int
rack_wait_ready(struct rack *r, struct traffic *t, uint32_t alive)
{
    uint64_t start = it_now_ms();
    uint64_t deadline = start + 30000;
    size_t before = t->n_probe_rx;
    uint64_t n = 0;
    uint8_t frame[256];
    while (t->n_probe_rx == before) {
        if (it_now_ms() > deadline) {
            it_say("rack not ready after 30 s: no probe came out");
            r->failed = true;
            return -1;
        }
        if (rack_all_alive(r, alive) < 0)
            return -1;
        size_t len = build_frame(frame, sizeof(frame), 60000, DPORT_LO, n, n, MAGIC_PROBE,
                                 PLANE_IPPROTO_UDP);
        send_to(r->tx, r->port_listen[n & 1], frame, len);
        n++;
        uint64_t until = it_now_ms() + 200;
        while (t->n_probe_rx == before && it_now_ms() < until)
            sinks_drain(r, t, 20);
    }
    /* A probe made it; now every device must be up in the switch's view,
     * so no test starts while the switch still fails devices over. */
    uint32_t devs = alive & ~(1u << P_SWITCH);
    if (devs && rack_wait_devices(r, devs, 0, deadline > it_now_ms() ? deadline - it_now_ms() : 0) < 0) {
        it_say("rack not ready after 30 s: the switch does not see every device up");
        r->failed = true;
        return -1;
    }
    it_say("rack ready after %" PRIu64 " ms (%" PRIu64 " probes)", it_now_ms() - start, n);
    return 0;
}

/* ---- the control protocol, as device 0xfffe (planectl's id) ---- */

/* Opens the control client and registers every daemon of the rack as a peer. */
static int
ctl_open(struct it_ctl *c, const struct rack *r)
{
    return it_ctl_open(c, rack_key_hex, STATS_CLIENT_ID, proc_dev_id, r->dev_port, N_PROCS);
}

/* True when counter `name` is `want`, or ends in `want` after a group
 * prefix ("udp.rx_malformed", "p0/rx_malformed"). */
static bool
stat_name_matches(const char *name, const char *want)
{
    if (!name)
        return false;
    size_t n = strlen(name), w = strlen(want);
    if (n == w)
        return !strcmp(name, want);
    return n > w && !strcmp(name + n - w, want) && strchr("./:", name[n - w - 1]);
}

/*
 * Asks daemon `dev` (proc index) for its counters, optionally printing the
 * non-zero ones.  Adds the value of each name in names[] into values[]
 * (zeroed first; a name may appear in several groups).  Returns 0, or
 * negative when the daemon did not answer (e.g. it does not take STATS
 * from device 0xfffe).
 */
static int
rack_stats(struct rack *r, int dev, const char *const *names, uint64_t *values, size_t n,
           bool print)
{
    for (size_t i = 0; i < n; i++)
        values[i] = 0;
    struct it_ctl c;
    if (ctl_open(&c, r) < 0)
        return -1;
    static uint8_t resp[PLANE_WIRE_MAX_DATAGRAM];
    size_t len = 0;
    int rc = it_ctl_call(&c, proc_dev_id[dev], PLANE_MSG_STATS, NULL, 0, resp, sizeof(resp), &len);
    struct plane_mp_zone zone;
    struct plane_body_stats body;
    if (rc == 0 && plane_mp_zone_init(&zone, 0) == 0) {
        if (plane_body_stats_decode(resp, len, &zone, &body) == 0) {
            for (uint32_t i = 0; i < body.n_stats; i++) {
                const struct plane_body_stat *st = &body.stats[i];
                for (size_t j = 0; j < n; j++)
                    if (stat_name_matches(st->name, names[j]))
                        values[j] += st->value;
            }
            if (print) {
                printf("rack_test: STATS %s:", r->procs[dev].name);
                for (uint32_t i = 0; i < body.n_stats; i++)
                    if (body.stats[i].value)
                        printf(" %s=%" PRIu64, body.stats[i].name, body.stats[i].value);
                printf("\n");
            }
        } else {
            it_say("STATS from %s: response does not decode", r->procs[dev].name);
            rc = -1;
        }
        plane_mp_zone_uninit(&zone);
    } else {
        it_say("STATS from %s: no answer (%s)", r->procs[dev].name, plane_strerror(rc));
    }
    it_ctl_close(&c);
    return rc;
}

/*
 * Waits (deadline_ms) until the switch reports each device in `want_up`
 * (proc index bits) up and each in `want_down` down ("dev.NAME.up").
 * Returns 0, or -1 with what it last saw.
 */
static int
rack_wait_devices(struct rack *r, uint32_t want_up, uint32_t want_down, uint64_t deadline_ms)
{
    static const char *const names[] = {"dev.nic0.up", "dev.nic1.up", "dev.srv0.up"};
    uint64_t v[3] = {0};
    uint64_t until = it_now_ms() + deadline_ms;
    for (;;) {
        bool ok = rack_stats(r, P_SWITCH, names, v, 3, false) == 0;
        for (int i = P_NIC0; ok && i < N_PROCS; i++) {
            if ((want_up & (1u << i)) && v[i - 1] != 1)
                ok = false;
            if ((want_down & (1u << i)) && v[i - 1] != 0)
                ok = false;
        }
        if (ok)
            return 0;
        if (it_now_ms() > until) {
            it_say("switch sees nic0 %s, nic1 %s, srv0 %s", v[0] ? "up" : "down",
                v[1] ? "up" : "down", v[2] ? "up" : "down");
            return -1;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The flowcheck objects the counter checks read, found by name in its descriptor. */
struct app_objs {
    int pkts, per_src;           /* object ids, -1 when absent */
    uint32_t pkts_fields, per_src_fields;
};

static int
app_objs_load(struct app_objs *o)
{
    o->pkts = o->per_src = -1;
    const char *path = it_env_or("PLANE_FLOWCHECK", PLANE_FLOWCHECK);
    void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!h) {
        it_say("dlopen %s: %s", path, dlerror());
        return -1;
    }
    plane_app_register_fn reg = (plane_app_register_fn)dlsym(h, PLANE_APP_ENTRY);
    const struct plane_app_desc *d = reg ? reg() : NULL;
    for (uint16_t i = 0; d && i < d->n_objects; i++) {
        if (!strcmp(d->objects[i].name, "pkts")) {
            o->pkts = i;
            o->pkts_fields = d->objects[i].key_fields;
        } else if (!strcmp(d->objects[i].name, "per_src")) {
            o->per_src = i;
            o->per_src_fields = d->objects[i].key_fields;
        }
    }
    /* Keep the module loaded: the names above point into it. */
    return o->pkts >= 0 ? 0 : -1;
}

/*
 * Reads register `obj` of flow keys f[0..n) from device id.  values[i] gets
 * word 0 of the value, found[i] whether the device has the entry.  Returns
 * 0 or negative (no answer, or a response that does not decode).
 */
static int
read_reg(struct it_ctl *c, uint16_t id, uint16_t obj, uint32_t fields, const uint32_t *f,
         size_t n, uint64_t *values, bool *found)
{
    static struct plane_flow_key keys[128];
    static struct plane_body_entry ents[128];
    static uint8_t req[PLANE_WIRE_MAX_DATAGRAM], resp[PLANE_WIRE_MAX_DATAGRAM];
    if (n > 128)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct plane_pkt_spec s;
        flow_spec(&s, f[i], 0);
        s.key.ip_version = 4;
        s.key.proto = PLANE_IPPROTO_UDP;
        plane_flow_key_mask(&s.key, fields, &keys[i]);
        ents[i] = (struct plane_body_entry){.object_id = obj, .key = (const uint8_t *)&keys[i],
                                            .key_len = sizeof(keys[i])};
    }
    struct plane_body_entries body = {.app_id = APP_ID, .n_entries = (uint32_t)n,
                                      .entries = ents};
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, req, sizeof(req));
    if (plane_body_entries_encode(&body, &w) < 0 || w.overflow)
        return -1;
    size_t len = 0;
    int rc = it_ctl_call(c, id, PLANE_MSG_ENTRY_READ, req, w.len, resp, sizeof(resp), &len);
    if (rc < 0)
        return rc;
    struct plane_mp_zone zone;
    if (plane_mp_zone_init(&zone, 0) < 0)
        return -1;
    struct plane_body_entries out;
    rc = plane_body_entries_decode(resp, len, &zone, &out);
    for (size_t i = 0; i < n; i++) {
        values[i] = 0;
        found[i] = false;
    }
    for (uint32_t j = 0; rc == 0 && j < out.n_entries; j++) {
        const struct plane_body_entry *e = &out.entries[j];
        if ((e->flags & PLANE_ENTRY_F_NOT_FOUND) || e->value_len < 8)
            continue;
        for (size_t i = 0; i < n; i++)
            if (e->key_len == sizeof(keys[i]) && !memcmp(e->key, &keys[i], sizeof(keys[i]))) {
                uint64_t v;
                memcpy(&v, e->value, 8);   /* native word, as merges use */
                values[i] = v;
                found[i] = true;
            }
    }
    plane_mp_zone_uninit(&zone);
    return rc;
}

/* Writes the flows that carried traffic to flows (room for n_flows); returns how many. */
static size_t
flows_sent(const struct traffic *t, uint32_t *flows)
{
    size_t nf = 0;
    for (uint32_t f = 0; f < t->n_flows; f++)
        if (t->seq_next[f])
            flows[nf++] = f;
    return nf;
}

/*
 * Issue 4 test 1's last clause: after traffic stops and two sync periods,
 * every copy of each flow's packet counter equals the packets sent.  Polls
 * (deadline 20 s) until it holds for every flow that saw traffic; copies
 * are whichever of the switch and devices hold the entry (registers live
 * where the flow is processed: its device, and the switch while promoted),
 * at least one.  A switch that does not answer ENTRY_READ is skipped.
 */
static int
check_counters(struct rack *r, const struct traffic *t, uint32_t alive)
{
    struct app_objs objs;
    if (app_objs_load(&objs) < 0) {
        it_say("flowcheck has no 'pkts' register: counters not checked");
        return -1;
    }
    struct it_ctl c;
    if (ctl_open(&c, r) < 0)
        return -1;
    uint32_t *flows = calloc(t->n_flows, sizeof(*flows));
    /* What each flow's counter must read: its packets that came out (one
     * lost with a killed NIC was counted nowhere that survived). */
    uint64_t *want_of = calloc(t->n_flows, sizeof(*want_of));
    for (size_t i = 0; i < t->n_sent; i++)
        if (t->pkt_seen[i])
            want_of[t->pkt_flow[i]]++;
    size_t nf = flows_sent(t, flows);
    uint64_t deadline = it_now_ms() + 20000;
    int rc = -1;
    size_t bad = 0, copies_min = 0;
    for (int round = 0; it_now_ms() < deadline; round++) {
        bad = 0;
        copies_min = SIZE_MAX;
        bool no_answer = false;
        for (size_t at = 0; at < nf && !no_answer; at += 100) {
            size_t k = nf - at < 100 ? nf - at : 100;
            size_t copies[100] = {0};
            for (int d = 0; d < N_PROCS && !no_answer; d++) {
                if (!(alive & (1u << d)))
                    continue;
                uint64_t v[100];
                bool found[100];
                int e = read_reg(&c, proc_dev_id[d], (uint16_t)objs.pkts, objs.pkts_fields,
                                 flows + at, k, v, found);
                if (e < 0 && d == P_SWITCH && e != PLANE_ETIMEDOUT) {
                    if (round == 0 && at == 0)
                        it_say("switch answers ENTRY_READ with %s: its copies not checked",
                            plane_strerror(e));
                    continue;
                }
                if (e < 0) {
                    it_say("ENTRY_READ from %s failed: %s", r->procs[d].name, plane_strerror(e));
                    no_answer = true;
                    break;
                }
                for (size_t i = 0; i < k; i++) {
                    if (!found[i])
                        continue;
                    copies[i]++;
                    uint64_t want = want_of[flows[at + i]];
                    if (v[i] != want && bad++ < 3 && round % 10 == 9)
                        it_say("flow %u: %s counts %" PRIu64 ", sent %" PRIu64, flows[at + i],
                            r->procs[d].name, v[i], want);
                }
            }
            for (size_t i = 0; i < k; i++)
                if (copies[i] < copies_min)
                    copies_min = copies[i];
        }
        if (no_answer)
            break;
        if (bad == 0 && copies_min >= 1) {
            rc = 0;
            break;
        }
        uint64_t until = it_now_ms() + 100;
        while (it_now_ms() < until)
            sinks_drain(r, (struct traffic *)t, 20);
    }
    it_say("counters of %zu flows: %s (%zu mismatches, every flow on >= %zu copies)", nf,
        rc == 0 ? "exact" : "NOT exact", bad, copies_min == SIZE_MAX ? 0 : copies_min);
    free(flows);
    free(want_of);
    it_ctl_close(&c);
    return rc;
}

/*
 * For the harness self-test: a stand-in daemon that answers STATS the way
 * docs/runtime.md says every daemon does (from any authenticated sender).
 * Runs in a forked child until killed.
 */
static void
fake_stats_handler(void *arg, struct plane_rpc *rpc, const struct plane_rpc_req *req)
{
    (void)arg;
    struct plane_body_stat st[2] = {{"rx_malformed", 7}, {"no_app", 0}};
    struct plane_body_stats body = {.n_stats = 2, .stats = st};
    uint8_t buf[256];
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, buf, sizeof(buf));
    plane_body_stats_encode(&body, &w);
    plane_rpc_respond(rpc, req->token, 0, buf, w.len);
}

static void
fake_stats_daemon(uint16_t port)
{
    uint8_t key[PLANE_AUTH_KEY_LEN];
    if (it_key_from_hex(rack_key_hex, key) < 0)
        _exit(3);
    uv_loop_t loop;
    struct plane_auth auth;
    memset(&auth, 0, sizeof(auth));
    struct plane_udp_opts uo = {.accept_any = true};
    struct sockaddr_in sa;
    it_addr(&sa, port);
    if (uv_loop_init(&loop) < 0 || plane_auth_init(&auth, key, 0) < 0)
        _exit(3);
    struct plane_udp *udp = plane_udp_new(&loop, &uo);
    if (!udp || plane_udp_bind(udp, (struct sockaddr *)&sa) < 0)
        _exit(4);
    struct plane_rpc *rpc = plane_rpc_new(&loop, udp, SWITCH_ID, plane_auth_new_incarnation(),
                                          &auth, NULL);
    if (!rpc || plane_rpc_set_handler(rpc, PLANE_MSG_STATS, fake_stats_handler, NULL) < 0)
        _exit(5);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(0);
}

/*
 * For the harness self-test: a stand-in switch that "processes" every frame
 * arriving on a port (writes a mapping derived from the flow id) and sends
 * it to that port's sink as an egress DATA datagram.  Runs until killed.
 */
static void
fake_switch(const struct rack *r)
{
    int fds[2];
    for (int i = 0; i < 2; i++) {
        uint16_t port;
        fds[i] = it_udp_open(r->port_listen[i], &port, 8 << 20, false);
        if (fds[i] < 0)
            _exit(3);
    }
    int out = it_udp_open(0, NULL, 0, false);
    uint8_t frame[2048], dg[4096];
    for (;;) {
        struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
        if (poll(p, 2, -1) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            ssize_t n = recv(fds[i], frame, sizeof(frame), 0);
            struct plane_pkt pkt;
            if (n <= 0 || plane_pkt_parse(frame, (size_t)n, &pkt) < 0 ||
                pkt.proto != PLANE_IPPROTO_UDP ||
                pkt.key.dst_port < DPORT_LO || pkt.key.dst_port > DPORT_HI ||
                pkt.payload_len < PL_LEN)
                continue;
            uint8_t *pl = frame + pkt.payload_off;
            it_put_be64(pl + PL_MAP, (uint64_t)NIC0_ID << 48 | (it_get_be64(pl + PL_FLOW) + 1));
            struct plane_wire_data d = {
                .app_id = APP_ID,
                .flags = PLANE_DATA_F_PROCESSED | PLANE_DATA_F_TO_EGRESS,
                .port = (uint16_t)i,
                .processed_by = (it_get_be64(pl + PL_FLOW) & 1) ? NIC1_ID : SWITCH_ID,
                .frame = frame,
                .frame_len = (size_t)n,
            };
            int len = plane_wire_data_encode(&d, dg, sizeof(dg));
            if (len > 0)
                send_to(out, r->sink_port[i], dg, (size_t)len);
        }
    }
}

/* ---- junk: what test (4) throws at the rack ---- */

/* A CONTROL datagram (HEARTBEAT) MACed with the wrong key, from `sender`. */
static size_t
build_bad_mac_ctl(uint8_t *buf, size_t cap, uint16_t sender)
{
    struct plane_wire_ctl c = {
        .kind = PLANE_CTL_REQUEST,
        .sender = sender,
        .incarnation = plane_auth_new_incarnation(),
        .seq = 1,
        .request_id = 1,
        .msg_type = PLANE_MSG_STATS,
    };
    int len = plane_wire_ctl_encode(&c, buf, cap);
    if (len < 0)
        return 0;
    struct plane_auth auth;
    memset(&auth, 0, sizeof(auth));
    uint8_t wrong[PLANE_AUTH_KEY_LEN];
    memset(wrong, 0x5a, sizeof(wrong));
    if (plane_auth_init(&auth, wrong, 0) < 0)
        return 0;
    plane_auth_seal(&auth, buf, (size_t)len);
    plane_auth_uninit(&auth);
    return (size_t)len;
}

/* Sends malformed and unauthenticated datagrams and frames for no app. */
static void
send_junk(struct rack *r)
{
    uint8_t buf[512];
    /* Not msgpack at all. */
    memset(buf, 0xc1, 64);   /* 0xc1 is never used in msgpack */
    send_to(r->tx, r->sw_ctl, buf, 64);
    for (int i = P_NIC0; i < N_PROCS; i++)
        send_to(r->tx, r->dev_port[i], buf, 64);
    /* A truncated DATA header. */
    static const uint8_t trunc[] = {0x9b, 0x01, 0x00, 0xcd};
    send_to(r->tx, r->sw_ctl, trunc, sizeof(trunc));
    send_to(r->tx, r->dev_port[P_NIC0], trunc, sizeof(trunc));
    /* An empty datagram. */
    send_to(r->tx, r->sw_ctl, buf, 0);
    /* Control messages MACed with the wrong key, claiming to be each device. */
    for (int i = 0; i < N_PROCS; i++) {
        size_t len = build_bad_mac_ctl(buf, sizeof(buf), proc_dev_id[(i + 1) % N_PROCS]);
        if (len)
            send_to(r->tx, r->dev_port[i], buf, len);
    }
    /* Well-formed DATA from an address that is no peer: a forged "already
     * processed" packet for the switch to forward, and an unprocessed one for
     * a device to process.  Neither may come out. */
    size_t flen = build_frame(buf + 256, 256, 3, 0, 0, 0, MAGIC_NOAPP, PLANE_IPPROTO_UDP);
    struct plane_wire_data d = {.app_id = APP_ID, .ldev = 0, .pdev = NIC0_ID,
                                .flags = PLANE_DATA_F_PROCESSED, .port = 0,
                                .processed_by = NIC0_ID, .frame = buf + 256,
                                .frame_len = flen};
    int dlen = plane_wire_data_encode(&d, buf, 256);
    if (dlen > 0)
        send_to(r->tx, r->sw_ctl, buf, (size_t)dlen);
    d.flags = 0;
    d.processed_by = PLANE_DEV_NONE;
    dlen = plane_wire_data_encode(&d, buf, 256);
    if (dlen > 0)
        send_to(r->tx, r->dev_port[P_NIC0], buf, (size_t)dlen);
    /* Garbage frames into a port: too short for Ethernet, and not IP. */
    send_to(r->tx, r->port_listen[0], buf, 5);
    memset(buf, 0, 60);
    buf[12] = 0x08;
    buf[13] = 0x06;          /* ARP */
    send_to(r->tx, r->port_listen[1], buf, 60);
    /* Frames for no app: UDP outside the traffic class, and TCP. */
    size_t len = build_frame(buf, sizeof(buf), 1, DPORT_OTHER, 0, 0, MAGIC_NOAPP,
                             PLANE_IPPROTO_UDP);
    send_to(r->tx, r->port_listen[0], buf, len);
    len = build_frame(buf, sizeof(buf), 2, DPORT_LO, 0, 0, MAGIC_NOAPP, PLANE_IPPROTO_TCP);
    send_to(r->tx, r->port_listen[1], buf, len);
}

/* ---- the tests ---- */

static uint64_t g_seed;

static const uint32_t ALL = (1u << N_PROCS) - 1;

static int
check_traffic(const struct traffic *t)
{
    CHECK(t->n_dup == 0, "%zu duplicate packets", t->n_dup);
    CHECK(t->n_bad == 0, "%zu malformed or misattributed egress datagrams", t->n_bad);
    CHECK(t->n_mapping_changed == 0, "%zu packets carried a changed mapping",
          t->n_mapping_changed);
    CHECK(t->n_unexpected == 0, "%zu unexpected egress datagrams (frames for no app?)",
          t->n_unexpected);
    return 0;
}

static void
print_by(const char *what, const size_t *by)
{
    it_say("%s processed by: switch %zu, nic0 %zu, nic1 %zu, srv0 %zu, other %zu", what,
        by[SWITCH_ID], by[NIC0_ID], by[NIC1_ID], by[SRV0_ID], by[N_IDS]);
}

/* (1) exactly once + stable mappings, (4) junk is dropped and the rack keeps serving. */
static int
test_basic_body(struct rack *r, struct traffic *t)
{
    if (rack_start(r) < 0 || rack_wait_ready(r, t, ALL) < 0)
        return -1;
    static const char *const sw_names[] = {"rx_malformed", "rx_bad_mac", "no_app",
                                           "parse_error", "dev_data_unknown_peer"};
    uint64_t sw_before[5], sw_after[5];
    bool have_stats = rack_stats(r, P_SWITCH, sw_names, sw_before, 5, false) == 0;

    struct zipf_draw zd;
    prng_seed(&zd.rng, g_seed);
    if (it_zipf_init(&zd.z, 2000, 0.99) < 0)
        return -1;
    size_t missing = traffic_run(r, t, 6000, 64, draw_zipf, &zd, 10000, ALL);
    print_by("phase 1", t->by_dev);
    CHECK(missing == 0, "%zu of %zu packets did not come out", missing, t->n_sent);
    if (check_traffic(t) < 0)
        return -1;

    it_say("sending junk: malformed datagrams, wrong-key control messages, frames for no app");
    send_junk(r);
    missing = traffic_run(r, t, 3000, 64, draw_zipf, &zd, 10000, ALL);
    it_zipf_uninit(&zd.z);
    print_by("total", t->by_dev);
    CHECK(missing == 0, "after junk: %zu of %zu packets did not come out", missing, t->n_sent);
    /* A last look for stragglers: duplicates or no-app frames leaking out. */
    sinks_drain(r, t, 200);
    if (check_traffic(t) < 0)
        return -1;
    CHECK(rack_all_alive(r, ALL) == 0, "a daemon died");
    if (have_stats) {
        static const char *const dev_names[] = {"rx_malformed", "rx_bad_mac",
                                                "data_bad_peer"};
        uint64_t nic0[3] = {0};
        for (int i = 0; i < N_PROCS; i++) {
            uint64_t dummy[5];
            if (i == P_SWITCH)
                rack_stats(r, i, sw_names, sw_after, 5, true);
            else
                rack_stats(r, i, dev_names, i == P_NIC0 ? nic0 : dummy, 3, true);
        }
        it_say("switch counters: rx_malformed %" PRIu64 "->%" PRIu64 ", rx_bad_mac %" PRIu64
            "->%" PRIu64 ", no_app %" PRIu64 "->%" PRIu64,
            sw_before[0], sw_after[0], sw_before[1], sw_after[1], sw_before[2], sw_after[2]);
        CHECK(sw_after[0] > sw_before[0], "switch did not count the malformed datagrams");
        CHECK(sw_after[1] > sw_before[1], "switch did not count the wrong-key message");
        CHECK(sw_after[2] >= sw_before[2] + 2, "switch did not count the frames for no app");
        CHECK(sw_after[3] >= sw_before[3] + 2, "switch did not count the unparsable frames");
        CHECK(sw_after[4] >= sw_before[4] + 1,
              "switch did not count the forged DATA from an unknown address");
        CHECK(nic0[0] >= 2 && nic0[1] >= 1 && nic0[2] >= 1,
              "nic0 did not count the junk (malformed %" PRIu64 ", bad mac %" PRIu64
              ", data from no peer %" PRIu64 ")", nic0[0], nic0[1], nic0[2]);
    } else {
        it_say("note: STATS unavailable to device 0xfffe; drop counters not checked");
    }
    return 0;
}

/* (1), last clause: after traffic stops and two sync periods every copy of
 * each flow's packet counter equals the packets sent. */
static int
test_counters_body(struct rack *r, struct traffic *t)
{
    if (rack_start(r) < 0 || rack_wait_ready(r, t, ALL) < 0)
        return -1;
    struct zipf_draw zd;
    prng_seed(&zd.rng, g_seed);
    if (it_zipf_init(&zd.z, t->n_flows, 0.99) < 0)
        return -1;
    size_t missing = traffic_run(r, t, 6000, 64, draw_zipf, &zd, 10000, ALL);
    it_zipf_uninit(&zd.z);
    print_by("total", t->by_dev);
    CHECK(missing == 0, "%zu of %zu packets did not come out", missing, t->n_sent);
    if (check_traffic(t) < 0)
        return -1;
    CHECK(check_counters(r, t, ALL) == 0, "per-flow counters are not exact on every copy");
    return 0;
}

/* (2) Zipf 0.99 over 2000 flows, flow manager 256: the switch's share passes 1/2. */
static int
test_promote_body(struct rack *r, struct traffic *t)
{
    if (rack_start(r) < 0 || rack_wait_ready(r, t, ALL) < 0)
        return -1;
    struct zipf_draw zd;
    prng_seed(&zd.rng, g_seed);
    if (it_zipf_init(&zd.z, 2000, 0.99) < 0)
        return -1;
    uint64_t deadline = it_now_ms() + 120000;
    uint64_t t0 = it_now_ms();
    double share = 0;
    int rounds = 0, good = 0;
    while (it_now_ms() < deadline) {
        traffic_window_reset(t);
        size_t missing = traffic_run(r, t, 4000, 200, draw_zipf, &zd, 10000, ALL);
        CHECK(missing == 0, "%zu of %zu packets did not come out", missing, t->n_sent);
        if (check_traffic(t) < 0)
            break;
        share = t->win_rx ? (double)t->win_switch / (double)t->win_rx : 0;
        rounds++;
        it_say("round %d (%.1f s): switch share %.3f (%zu of %zu)", rounds,
            (double)(it_now_ms() - t0) / 1000.0, share, t->win_switch, t->win_rx);
        if (rounds % 5 == 0) {
            static const char *const names[] = {"fm.occupancy", "pop_promotes", "promotions",
                                                "demotions", "install_ok", "pop_keys"};
            uint64_t v[6];
            if (rack_stats(r, P_SWITCH, names, v, 6, false) == 0)
                it_say("switch: fm occupancy %" PRIu64 ", pop keys %" PRIu64 ", pop promotes %"
                    PRIu64 ", promotions %" PRIu64 ", demotions %" PRIu64 ", installs %" PRIu64,
                    v[0], v[5], v[1], v[2], v[3], v[4]);
        }
        /* Two rounds in a row above half: promotion holds, not a blip. */
        good = share > 0.5 ? good + 1 : 0;
        if (good >= 2)
            break;
    }
    it_zipf_uninit(&zd.z);
    print_by("total", t->by_dev);
    if (check_traffic(t) < 0)
        return -1;
    CHECK(good >= 2, "switch share stayed at %.3f after %d rounds (want > 0.5)", share, rounds);
    /* With hot keys still resident, the switch's copies and the devices'
     * converge through SYNC rounds: every copy counts every packet. */
    CHECK(check_counters(r, t, ALL) == 0, "counters not exact with keys at the switch");
    return 0;
}

/* Zipf ranks mapped to flows with an offset, so the hot set can move. */
struct shifted_draw {
    struct zipf_draw *zd;
    uint32_t offset, n;
};

static uint32_t
draw_shifted(void *arg)
{
    struct shifted_draw *d = arg;
    return (draw_zipf(d->zd) + d->offset) % d->n;
}

/*
 * Runs Zipf rounds until the switch's share passed one half in two rounds
 * in a row (deadline_ms).  Returns 0, or -1 on loss, a bad packet or no
 * promotion in time.
 */
static int
run_until_promoted(struct rack *r, struct traffic *t, draw_fn draw, void *arg,
                   uint64_t deadline_ms)
{
    uint64_t t0 = it_now_ms(), deadline = t0 + deadline_ms;
    int rounds = 0, good = 0;
    double share = 0;
    while (it_now_ms() < deadline && good < 2) {
        traffic_window_reset(t);
        size_t missing = traffic_run(r, t, 4000, 200, draw, arg, 10000, ALL);
        CHECK(missing == 0, "%zu of %zu packets did not come out", missing, t->n_sent);
        if (check_traffic(t) < 0)
            return -1;
        share = t->win_rx ? (double)t->win_switch / (double)t->win_rx : 0;
        rounds++;
        good = share > 0.5 ? good + 1 : 0;
    }
    it_say("after %d rounds (%.1f s): switch share %.3f", rounds,
        (double)(it_now_ms() - t0) / 1000.0, share);
    CHECK(good >= 2, "switch share stayed at %.3f (want > 0.5)", share);
    return 0;
}

/*
 * (2), churn: the hot set moves to other flows (the old hot flows go cold
 * and are aged out and demoted, the new ones promoted) with no packet lost,
 * duplicated or processed without its state (its mapping), the switch's
 * share back above half, and every flow's counter exact afterwards (the
 * demotions handed the switch's counts back).
 */
static int
test_churn_body(struct rack *r, struct traffic *t)
{
    if (rack_start(r) < 0 || rack_wait_ready(r, t, ALL) < 0)
        return -1;
    struct zipf_draw zd;
    prng_seed(&zd.rng, g_seed);
    if (it_zipf_init(&zd.z, t->n_flows, 0.99) < 0)
        return -1;
    struct shifted_draw sd = {&zd, 0, t->n_flows};
    int rc = run_until_promoted(r, t, draw_shifted, &sd, 120000);
    if (rc == 0) {
        it_say("moving the hot set");
        sd.offset = t->n_flows / 2;
        rc = run_until_promoted(r, t, draw_shifted, &sd, 120000);
    }
    it_zipf_uninit(&zd.z);
    print_by("total", t->by_dev);
    if (rc < 0)
        return -1;
    static const char *const names[] = {"demotions", "promotions"};
    uint64_t v[2];
    if (rack_stats(r, P_SWITCH, names, v, 2, false) == 0)
        it_say("switch: %" PRIu64 " promotions, %" PRIu64 " demotions", v[1], v[0]);
    CHECK(check_counters(r, t, ALL) == 0, "counters not exact after the hot set moved");
    return 0;
}

/* (3) kill -9 nic0 under traffic: the replica takes over, mappings hold; restart it. */
static int
test_failover_body(struct rack *r, struct traffic *t)
{
    if (rack_start(r) < 0 || rack_wait_ready(r, t, ALL) < 0)
        return -1;
    /* The first 3/4 of the flows twice each, so each has a mapping before
     * the kill; the rest start while nic0 is down (their mappings are made
     * by the replica and must survive nic0's return). */
    const uint32_t n_flows = t->n_flows * 3 / 4;
    struct seq_draw sd = {0, n_flows};
    size_t missing = traffic_run(r, t, n_flows * 2, 50, draw_round_robin, &sd, 10000, ALL);
    print_by("before the kill", t->by_dev);
    CHECK(missing == 0, "before the kill: %zu of %zu packets did not come out", missing,
          t->n_sent);
    if (check_traffic(t) < 0)
        return -1;
    CHECK(t->by_dev[NIC0_ID] > 0 && t->by_dev[NIC1_ID] > 0,
          "both NICs should serve shards (nic0 %zu, nic1 %zu)", t->by_dev[NIC0_ID],
          t->by_dev[NIC1_ID]);

    if (getenv("PLANE_IT_VERBOSE")) {
        uint64_t dummy;
        for (int i = 0; i < N_PROCS; i++)
            rack_stats(r, i, NULL, &dummy, 0, true);
    }
    it_say("kill -9 nic0 (pid %d)", (int)r->procs[P_NIC0].pid);
    CHECK(proc_stop(r, P_NIC0, SIGKILL) == 0, "nic0 did not die of SIGKILL");
    uint32_t alive = ALL & ~(1u << P_NIC0);
    uint64_t t_kill = it_now_ms();
    sd.n = t->n_flows;

    /* Packets in flight to nic0 are lost until the switch notices; forget
     * them, and wait for a batch that comes out whole. */
    uint64_t deadline = t_kill + 20000;
    size_t kill_idx = t->n_sent;
    int clean = 0;
    uint64_t t_resumed = 0;
    while (it_now_ms() < deadline && clean < 3) {
        uint64_t t_batch = it_now_ms();
        size_t m = traffic_run(r, t, 100, 100, draw_round_robin, &sd, 500, alive);
        if (m == 0 && clean++ == 0)
            t_resumed = t_batch;
        else if (m)
            clean = 0;
    }
    size_t lost = traffic_missing_since(t, kill_idx, false);
    CHECK(clean >= 3, "traffic did not resume within 20 s of the kill (%zu lost)", lost);
    it_say("traffic resumed %" PRIu64 " ms after the kill; %zu packets lost in between",
        t_resumed - t_kill, lost);
    size_t from = t->n_sent;
    size_t nic0_before = t->by_dev[NIC0_ID];
    traffic_run(r, t, n_flows * 2, 50, draw_round_robin, &sd, 10000, alive);
    print_by("after the kill", t->by_dev);
    missing = traffic_missing_since(t, from, true);
    CHECK(missing == 0, "after failover: %zu packets lost", missing);
    CHECK(t->by_dev[NIC0_ID] == nic0_before, "a dead nic0 processed packets");
    if (check_traffic(t) < 0)
        return -1;

    CHECK(rack_wait_devices(r, 0, 1u << P_NIC0, 10000) == 0, "the switch still sees nic0 up");
    it_say("restarting nic0");
    size_t restart_idx = t->n_sent;
    CHECK(proc_start(r, P_NIC0) == 0, "cannot restart nic0");
    CHECK(rack_wait_devices(r, ALL & ~1u, 0, 30000) == 0,
          "the switch does not see nic0 up again within 30 s of its restart");
    deadline = it_now_ms() + 30000;
    while (it_now_ms() < deadline && t->by_dev[NIC0_ID] == nic0_before) {
        traffic_run(r, t, 100, 100, draw_round_robin, &sd, 1000, ALL);
        if (rack_all_alive(r, ALL) < 0)
            return -1;
    }
    CHECK(t->by_dev[NIC0_ID] > nic0_before, "nic0 did not come back into service in 30 s");
    it_say("nic0 back in service; %zu packets lost while it came back",
        traffic_missing_since(t, restart_idx, true));
    from = t->n_sent;
    traffic_run(r, t, n_flows * 2, 50, draw_round_robin, &sd, 10000, ALL);
    print_by("total", t->by_dev);
    missing = traffic_missing_since(t, from, true);
    CHECK(missing == 0, "after recovery: %zu packets lost", missing);
    if (check_traffic(t) < 0)
        return -1;
    /* Counters exact after failover: every packet a killed NIC delivered
     * was counted on its replica too (the replication stream), and the
     * restarted NIC re-learned them. */
    CHECK(check_counters(r, t, ALL) == 0, "counters not exact after failover");
    return 0;
}

/*
 * After traffic stops, every device copy of each flow's packet counter is
 * the same value, on at least two devices (its shard's primary and
 * replica).  Polls (deadline 20 s) while re-learning and SYNC settle.
 */
static int
check_copies_agree(struct rack *r, const struct traffic *t)
{
    struct app_objs objs;
    if (app_objs_load(&objs) < 0)
        return -1;
    struct it_ctl c;
    if (ctl_open(&c, r) < 0)
        return -1;
    uint32_t *flows = calloc(t->n_flows, sizeof(*flows));
    size_t nf = flows_sent(t, flows);
    uint64_t deadline = it_now_ms() + 20000;
    int rc = -1;
    size_t bad = 0, copies_min = 0;
    while (rc < 0 && it_now_ms() < deadline) {
        bad = 0;
        copies_min = SIZE_MAX;
        bool no_answer = false;
        for (size_t at = 0; at < nf && !no_answer; at += 100) {
            size_t k = nf - at < 100 ? nf - at : 100;
            uint64_t v[N_PROCS][100];
            bool found[N_PROCS][100];
            for (int d = P_NIC0; d < N_PROCS && !no_answer; d++)
                no_answer = read_reg(&c, proc_dev_id[d], (uint16_t)objs.pkts, objs.pkts_fields,
                                     flows + at, k, v[d], found[d]) < 0;
            for (size_t i = 0; i < k && !no_answer; i++) {
                size_t copies = 0;
                uint64_t first = 0;
                bool differ = false;
                for (int d = P_NIC0; d < N_PROCS; d++) {
                    if (!found[d][i])
                        continue;
                    if (copies++ == 0)
                        first = v[d][i];
                    else if (v[d][i] != first)
                        differ = true;
                }
                if (differ && bad++ < 3 && it_now_ms() + 1000 > deadline)
                    it_say("flow %u: nic0 %" PRIu64 " nic1 %" PRIu64 " srv0 %" PRIu64, flows[at + i],
                        v[P_NIC0][i], v[P_NIC1][i], v[P_SRV0][i]);
                if (copies < copies_min)
                    copies_min = copies;
            }
        }
        if (no_answer) {
            it_say("ENTRY_READ from a device failed");
            break;
        }
        if (bad == 0 && copies_min >= 2)
            rc = 0;
        else
            sinks_drain(r, (struct traffic *)t, 100);
    }
    it_say("device copies of %zu flows: %s (%zu differ, every flow on >= %zu devices)", nf,
        rc == 0 ? "equal" : "NOT equal", bad, copies_min == SIZE_MAX ? 0 : copies_min);
    free(flows);
    it_ctl_close(&c);
    return rc;
}

/*
 * A NIC stalls (SIGSTOP) long enough for its copy partners to stop
 * replicating to it and for the switch to fail its shard over, then runs
 * on.  Its copies of the shards its partners served meanwhile missed those
 * changes; once they replicate to it again it must re-learn them, so the
 * device copies agree again after traffic stops.
 */
static int
test_stall_body(struct rack *r, struct traffic *t)
{
    if (rack_start(r) < 0 || rack_wait_ready(r, t, ALL) < 0)
        return -1;
    struct seq_draw sd = {0, t->n_flows};
    size_t missing = traffic_run(r, t, t->n_flows * 2, 50, draw_round_robin, &sd, 10000, ALL);
    CHECK(missing == 0, "before the stall: %zu of %zu packets did not come out", missing,
          t->n_sent);
    it_say("SIGSTOP nic1 for 300 ms under traffic");
    CHECK(kill(r->procs[P_NIC1].pid, SIGSTOP) == 0, "cannot stop nic1");
    uint64_t until = it_now_ms() + 300;
    while (it_now_ms() < until)
        traffic_run(r, t, 50, 50, draw_round_robin, &sd, 20, ALL);
    CHECK(kill(r->procs[P_NIC1].pid, SIGCONT) == 0, "cannot continue nic1");
    /* Packets sent to nic1 before the switch noticed may be lost: wait for
     * three batches in a row to come out whole. */
    uint64_t deadline = it_now_ms() + 20000;
    int clean = 0;
    while (it_now_ms() < deadline && clean < 3)
        clean = traffic_run(r, t, 100, 100, draw_round_robin, &sd, 1000, ALL) ? 0 : clean + 1;
    CHECK(clean >= 3, "traffic did not come out whole within 20 s of the stall");
    traffic_run(r, t, t->n_flows * 2, 50, draw_round_robin, &sd, 10000, ALL);
    print_by("total", t->by_dev);
    CHECK(check_copies_agree(r, t) == 0, "device copies differ after the stall");
    return 0;
}

/* The harness on its own: ports, config, frames, Zipf, process control. */
static int
test_harness_body(struct rack *r, struct traffic *t)
{
    /* Every port distinct. */
    uint16_t ports[] = {r->sw_ctl, r->port_listen[0], r->port_listen[1], r->sink_port[0],
                        r->sink_port[1], r->dev_port[P_NIC0], r->dev_port[P_NIC1],
                        r->dev_port[P_SRV0]};
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        for (size_t j = i + 1; j < sizeof(ports) / sizeof(ports[0]); j++)
            CHECK(ports[i] != ports[j], "ports %zu and %zu are both %u", i, j, ports[i]);
    /* Frames parse back to what was stamped. */
    uint8_t frame[256];
    size_t len = build_frame(frame, sizeof(frame), 1234, 0, 7, 99, MAGIC_TRAFFIC,
                             PLANE_IPPROTO_UDP);
    struct plane_pkt pkt;
    CHECK(len > 0 && plane_pkt_parse(frame, len, &pkt) == 0, "frame does not parse");
    CHECK(pkt.payload_len == PL_LEN && it_get_be64(frame + pkt.payload_off + PL_FLOW) == 1234 &&
              it_get_be64(frame + pkt.payload_off + PL_SEQ) == 7,
          "payload fields do not read back");
    CHECK(pkt.key.dst_port >= DPORT_LO && pkt.key.dst_port <= DPORT_HI, "dport outside class");
    /* Zipf 0.99 over 2000: rank 0 is the most frequent, the top 256 over half. */
    struct zipf_draw zd;
    prng_seed(&zd.rng, g_seed);
    CHECK(it_zipf_init(&zd.z, 2000, 0.99) == 0, "zipf");
    size_t top = 0, zero = 0, n = 100000;
    for (size_t i = 0; i < n; i++) {
        uint32_t f = draw_zipf(&zd);
        top += f < 256;
        zero += f == 0;
    }
    it_zipf_uninit(&zd.z);
    it_say("zipf: top-256 share %.3f, rank-0 share %.3f", (double)top / n, (double)zero / n);
    CHECK(top > n / 2 && zero > n / 20, "zipf distribution looks wrong");
    /* An egress datagram built as the switch would goes through the checker. */
    struct traffic tt;
    CHECK(traffic_init(&tt, 10, 10) == 0, "alloc");
    tt.n_sent = 1;
    tt.pkt_flow[0] = 3;
    len = build_frame(frame, sizeof(frame), 3, 0, 0, 0, MAGIC_TRAFFIC, PLANE_IPPROTO_UDP);
    CHECK(plane_pkt_parse(frame, len, &pkt) == 0, "frame does not parse");
    it_put_be64(frame + pkt.payload_off + PL_MAP, (uint64_t)NIC1_ID << 48 | 1);
    struct plane_wire_data d = {.app_id = APP_ID, .flags = PLANE_DATA_F_PROCESSED |
                                PLANE_DATA_F_TO_EGRESS, .processed_by = NIC1_ID,
                                .frame = frame, .frame_len = len};
    uint8_t dg[512];
    int dlen = plane_wire_data_encode(&d, dg, sizeof(dg));
    CHECK(dlen > 0, "encode");
    send_to(r->tx, r->sink_port[0], dg, (size_t)dlen);
    send_to(r->tx, r->sink_port[1], dg, (size_t)dlen);
    uint64_t until = it_now_ms() + 5000;
    while (tt.n_rx_unique + tt.n_dup < 2 && it_now_ms() < until)
        sinks_drain(r, &tt, 20);
    bool ok = tt.n_rx_unique == 1 && tt.n_dup == 1 && tt.n_bad == 0 &&
              tt.by_dev[NIC1_ID] == 1;
    traffic_uninit(&tt);
    CHECK(ok, "sink did not see one packet and one duplicate");
    /* The STATS client against a stand-in daemon (retries until it is bound). */
    fflush(stdout);
    pid_t fake = fork();
    if (fake == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fake_stats_daemon(r->sw_ctl);
    }
    r->procs[P_SWITCH].pid = fake;
    static const char *const names[] = {"rx_malformed", "no_app", "absent"};
    uint64_t vals[3];
    int src = rack_stats(r, P_SWITCH, names, vals, 3, true);
    CHECK(proc_stop(r, P_SWITCH, SIGKILL) == 0, "stand-in daemon");
    CHECK(src == 0 && vals[0] == 7 && vals[1] == 0 && vals[2] == 0,
          "STATS client: rc %d values %" PRIu64 " %" PRIu64, src, vals[0], vals[1]);
    /* The traffic engine against a stand-in switch: Zipf traffic, batches,
     * exactly-once and mapping bookkeeping, junk that must not come out. */
    fflush(stdout);
    pid_t fsw = fork();
    if (fsw == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fake_switch(r);
    }
    r->procs[P_SWITCH].pid = fsw;
    CHECK(rack_wait_ready(r, t, 1u << P_SWITCH) == 0, "stand-in switch not ready");
    prng_seed(&zd.rng, g_seed);
    CHECK(it_zipf_init(&zd.z, t->n_flows, 0.99) == 0, "zipf");
    size_t missing = traffic_run(r, t, 5000, 64, draw_zipf, &zd, 10000, 1u << P_SWITCH);
    send_junk(r);
    missing += traffic_run(r, t, 1000, 64, draw_zipf, &zd, 10000, 1u << P_SWITCH);
    it_zipf_uninit(&zd.z);
    sinks_drain(r, t, 100);
    print_by("stand-in", t->by_dev);
    CHECK(proc_stop(r, P_SWITCH, SIGKILL) == 0, "stand-in switch");
    CHECK(missing == 0 && t->n_sent == 6000, "stand-in: %zu missing", missing);
    CHECK(check_traffic(t) == 0, "stand-in traffic");
    CHECK(t->by_dev[SWITCH_ID] > 0 && t->by_dev[NIC1_ID] > 0, "processed_by not recorded");
    /* Process control: a child that ignores nothing exits 0 on SIGTERM only
     * if it handles it; /bin/sleep dies of it, which must be reported. */
    r->procs[P_SRV0].exe = "/bin/sleep";
    struct proc *p = &r->procs[P_SRV0];
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    CHECK(proc_alive(r, P_SRV0), "sleep is not running");
    CHECK(proc_stop(r, P_SRV0, SIGTERM) < 0, "death by SIGTERM must not count as clean");
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done",
              (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    /* Wait until the shell installed its trap: it is then sleeping. */
    until = it_now_ms() + 5000;
    int rc = -1;
    while (it_now_ms() < until && rc < 0) {
        char path[64], buf[256] = {0};
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(buf, sizeof(buf), f) && buf[0])
                rc = 0;
            fclose(f);
        }
    }
    CHECK(proc_stop(r, P_SRV0, SIGTERM) == 0, "a shell trapping TERM must exit 0");
    return 0;
}

typedef int (*test_fn)(struct rack *r, struct traffic *t);

static int
run_test(const char *name, test_fn fn, const struct rack_opts *o, uint32_t n_flows)
{
    it_say("=== %s (seed %" PRIu64 ", replay with PLANE_TEST_SEED=%" PRIu64 ")", name, g_seed,
        g_seed);
    struct rack r;
    struct traffic t;
    uint64_t start = it_now_ms();
    int rc = rack_init(&r, o);
    if (rc == 0)
        /*
         * Room for every packet of a test (9 bytes each).  Promotion waits on
         * the popularity interval, not a packet count, so a fast (release)
         * build sends several times what a sanitizer build does meanwhile.
         */
        rc = traffic_init(&t, n_flows, 8000000);
    if (rc == 0) {
        rc = fn(&r, &t);
        traffic_uninit(&t);
    }
    if (rack_fini(&r, rc < 0) < 0)
        rc = -1;
    it_say("=== %s: %s (%" PRIu64 " ms)", name, rc == 0 ? "PASSED" : "FAILED", it_now_ms() - start);
    return rc;
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    it_set_name("rack_test");
    signal(SIGPIPE, SIG_IGN);
    const char *seed_env = getenv("PLANE_TEST_SEED");
    g_seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();

    struct rack_opts o;
    int passed = 0, failed = 0;
    for (int i = 1; i < argc || argc == 1; i++) {
        const char *name = argc == 1 ? "harness" : argv[i];
        rack_opts_default(&o);
        int rc;
        if (!strcmp(name, "harness")) {
            rc = run_test(name, test_harness_body, &o, 2000);
        } else if (!strcmp(name, "basic")) {
            /* No test but failover wants a failover: liveness generous
             * enough that a loaded box never fakes one. */
            o.heartbeat_ms = 50;
            o.heartbeat_misses = 10;
            rc = run_test(name, test_basic_body, &o, 2000);
        } else if (!strcmp(name, "counters")) {
            o.heartbeat_ms = 50;
            o.heartbeat_misses = 10;
            rc = run_test(name, test_counters_body, &o, 2000);
        } else if (!strcmp(name, "promote")) {
            o.heartbeat_ms = 50;
            o.heartbeat_misses = 10;
            /* Devices call a key hot at an absolute count (64 after decay by
             * half per interval): at the few thousand packets per second a
             * paced ASan rack carries, a 5 s interval makes the top ~100
             * flows hot, which is what the switch needs for half the
             * traffic. */
            o.pop_ms = 5000;
            rc = run_test(name, test_promote_body, &o, 2000);
        } else if (!strcmp(name, "churn")) {
            o.heartbeat_ms = 50;
            o.heartbeat_misses = 10;
            o.pop_ms = 5000;
            rc = run_test(name, test_churn_body, &o, 2000);
        } else if (!strcmp(name, "stall")) {
            rc = run_test(name, test_stall_body, &o, 400);
        } else if (!strcmp(name, "failover")) {
            o.nic_shards = true;
            o.fm_entries = 64;
            rc = run_test(name, test_failover_body, &o, 400);
        } else {
            fprintf(stderr, "usage: %s [harness|basic|counters|promote|churn|failover|stall]...\n", argv[0]);
            return 2;
        }
        if (rc == 0)
            passed++;
        else
            failed++;
        if (argc == 1)
            break;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
