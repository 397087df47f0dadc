/* Integration tests: each example app on the local rack gives what one unlimited copy of it gives. */

/*
 * Usage: app_rack_test APP   (nat firewall acl tcpretx vpngw monitor snat
 *                              synproxy netcache)
 *
 * Issue 5: "the rack must be invisible to the app's semantics".  For APP a
 * rack is started on 127.0.0.1 (switch with two ports, nic0, nic1, srv0;
 * shards 0..1 on nic0/nic1 so a NIC kill fails half the keys over), running
 * APP with the params of examples/apps/APP/APP.yaml (read from that file,
 * only the module path, id and flow-manager size replaced: a small flow
 * manager keeps most flows on the devices, a low popularity threshold
 * promotes the hot ones fast).
 *
 * Traffic: flows of the app's own kind (both directions where it has them;
 * NetCache GETs, PUTs and backend replies per netcache_proto.h), opened in
 * order, then drawn Zipf(1.1) from a seeded PRNG (the seed is printed;
 * PLANE_TEST_SEED replays the draws; timing still varies).  Every frame
 * ends with a 16-byte stamp (magic, packet number) after whatever payload
 * the app reads, which no app changes (one that cuts a payload leaves the
 * frame's tail as link padding), so each egress datagram names its input
 * packet.  Before a frame is sent it
 * runs through the *reference*: one external instance of the app loaded in
 * this process (plane_app_load + plane_app_inst_new, every keyed object
 * sized far beyond the traffic) fed every frame in send order.  Its verdict,
 * egress port and rewritten frame are what the rack must produce.
 *
 * Phases: (1) open 3/4 of the flows and wait for the rack to promote some
 * (egress with processed_by = the switch); (2) kill -9 nic0 and keep sending
 * until three batches come out whole; (3) open the other flows and send
 * more (replica and switch serve).  Then the checks:
 *   - no egress frame differs from the reference's (bytes and port), no
 *     packet the reference dropped came out, no packet came out twice.
 *     Two apps' outputs are not functions of the input alone: snat's source
 *     port is the allocating device's (compared without it; each flow's
 *     port must be stable and no other flow's), and synproxy's SYN-ACK
 *     cookie carries the time slot (recomputed at the DATA header's
 *     processed_ns when it differs);
 *   - every packet the reference forwarded came out, except packets sent
 *     between the kill and the resumption, whose number must not exceed
 *     what the switch counted as lost: misses it sent to a device and never
 *     got back (app.APP.misses - dev_processed - dev_dropped) plus
 *     device_down drops;
 *   - all three paths were used: switch hits, devices, the replica after
 *     the kill;
 *   - after traffic stops, every per-flow register (a REGISTER keyed by the
 *     app's whole union key) read with ENTRY_READ by key from every live
 *     daemon holding it equals a second reference fed the packets that
 *     reached the rack's app (every packet but those lost in the failover
 *     window).  Registers keyed by fewer fields (per-tenant words, per-source
 *     counters) are shared across flows and shards: each device holds a
 *     partial view reconciled at demotion, so there is no single copy to
 *     compare with; they are skipped.  Exceptions (struct app_case):
 *     monitor's OR-merged candidate bits must be a subset of the single
 *     copy's, tcpretx's retx may count less (reg_atmost), netcache's
 *     hot_keys (sketch estimates) and stats (hit/miss counts) are skipped.
 *   - netcache decides what to cache from count-min sketches each copy keeps
 *     for what it saw, so a request the single copy answered from its cache
 *     may go to the backend instead (cache_miss_ok); every answer the rack
 *     gives from its cache must be the single copy's.  The backend's values
 *     change only by PUTs, so a fill at any time after the last PUT caches
 *     the same value.
 *
 * Environment: PLANE_SWITCHD/PLANE_NICD/PLANE_SERVERD override the daemon
 * paths, PLANE_APP_DIR the directory of the app modules, PLANE_TEST_SEED
 * replays a seed, PLANE_IT_KEEP=1 keeps the temp dir, PLANE_IT_LOG_LEVEL the
 * daemons' --log-level, PLANE_IT_DIFFS how many differing packets to name
 * (default 5).
 */

#include <errno.h>
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
#include <plane/flow.h>

#include "app_internal.h"
#include "ctx.h"
#include "object.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/hash.h"
#include "common/mp.h"
#include "common/pkt.h"
#include "common/rpc.h"
#include "common/udp.h"
#include "common/wire.h"
#include "common/wire_body.h"
#include "common/fault.h"
#include "harness.h"
#include "netcache_proto.h"

#ifndef PLANE_SWITCHD
#define PLANE_SWITCHD "switchd"
#endif
#ifndef PLANE_NICD
#define PLANE_NICD "nicd"
#endif
#ifndef PLANE_SERVERD
#define PLANE_SERVERD "serverd"
#endif
#ifndef PLANE_APP_DIR
#define PLANE_APP_DIR "."
#endif
#ifndef PLANE_EXAMPLES_DIR
#define PLANE_EXAMPLES_DIR "examples/apps"
#endif

enum { P_SWITCH, P_NIC0, P_NIC1, P_SRV0, N_PROCS };
static const uint16_t dev_id[N_PROCS] = {0, 1, 2, 3};
static const char *const proc_name[N_PROCS] = {"switchd", "nic0", "nic1", "srv0"};
#define ALL_PROCS ((1u << N_PROCS) - 1)
#define CLIENT_ID 0xfffe
#define REF_DEVICE 100            /* the reference's device id: none of the rack's */

#define STAMP_MAGIC 0x504c414e45415231ull  /* "PLANEAR1" */
#define STAMP_LEN 16
#define FRAME_MAX 256
#define MAX_PKTS 30000
#define FM_ENTRIES 48
#define BATCH 50
#define REF_SIZE (1u << 17)       /* entries of every keyed reference object */

static const char rack_key_hex[] =
    "6974657374206b65792c206e6f7420612073656372657420617420616c6c2121";

/* ---- small helpers ---- */

#define CHECK IT_CHECK

/* A register word as merges use it (native byte order). */
static uint64_t
get_ne64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* ---- sockets ---- */

/* ---- the rack ---- */

struct rack {
    const char *app;             /* the app's name, its module's and its dir's */
    char dir[PATH_MAX - 64];
    char yaml[PATH_MAX];
    char log[N_PROCS][PATH_MAX];
    pid_t pid[N_PROCS];
    uint16_t port[N_PROCS];      /* switch control, device addresses */
    uint16_t listen[2];          /* switch ports */
    int sink[2];                 /* their peers: egress arrives here */
    uint16_t sink_port[2];
    int tx;
    uint16_t app_id;
    struct plane_config *cfg;    /* rack.yaml as the daemons read it */
};

/*
 * Appends the app's example config (examples/apps/APP/APP.yaml) to f as the
 * rack's one app: comments and the "apps:" line dropped, module, id and
 * flow_manager_entries replaced; traffic class, objects and params kept.
 */
static int
write_app_entry(FILE *f, const struct rack *r)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s/%s.yaml",
             it_env_or("PLANE_EXAMPLES_DIR", PLANE_EXAMPLES_DIR), r->app, r->app);
    FILE *in = fopen(path, "r");
    if (!in) {
        it_say("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    fprintf(f, "apps:\n");
    while (fgets(line, sizeof(line), in)) {
        const char *s = line + strspn(line, " ");
        if (*s == '#' || *s == '\n' || !strncmp(line, "apps:", 5))
            continue;
        if (!strncmp(s, "module:", 7))
            fprintf(f, "    module: %s/%s.so\n", it_env_or("PLANE_APP_DIR", PLANE_APP_DIR),
                    r->app);
        else if (!strncmp(s, "flow_manager_entries:", 21))
            fprintf(f, "    flow_manager_entries: %u\n", FM_ENTRIES);
        else if (!strncmp(s, "- id:", 5))
            fprintf(f, "  - id: 1\n");
        else
            fputs(line, f);
    }
    fclose(in);
    return 0;
}

static int
rack_write_yaml(struct rack *r)
{
    FILE *f = fopen(r->yaml, "w");
    if (!f)
        return -1;
    /* Every device gets every feature an example app asks for (netcache's
     * payload included, on the switch too, as the leaf scenario does). */
    fprintf(f,
            "version: 1\n"
            "rack: {name: apprack, auth_key: %s}\n"
            "timers:\n"
            "  sync_interval_ms: 50\n"
            "  flush_ms: 5\n"
            "  idle_ms: 60000\n"
            "  heartbeat_ms: 20\n"
            "  heartbeat_misses: 10\n"
            "  rpc_timeout_ms: 50\n"
            "  rpc_retries: 8\n"
            "  popularity_interval_ms: 50\n"
            "  popularity_threshold: 8\n"
            "switch:\n"
            "  id: 0\n"
            "  name: tor0\n"
            "  control: 127.0.0.1:%u\n"
            "  ports:\n"
            "    - {id: 0, name: p0, listen: 127.0.0.1:%u, peer: 127.0.0.1:%u}\n"
            "    - {id: 1, name: p1, listen: 127.0.0.1:%u, peer: 127.0.0.1:%u}\n"
            "  features: [recirculation, hash, multicast, payload]\n"
            "devices:\n"
            "  - {id: 1, name: nic0, role: nic, address: 127.0.0.1:%u,"
            " features: [payload, hash, timestamp]}\n"
            "  - {id: 2, name: nic1, role: nic, address: 127.0.0.1:%u,"
            " features: [payload, hash, timestamp]}\n"
            "  - {id: 3, name: srv0, role: server, address: 127.0.0.1:%u,"
            " features: [payload, float, crypto, regex, hash, timestamp]}\n"
            "shards:\n"
            "  logical_devices: 2\n"
            "  map:\n"
            "    0: {primary: nic0, replica: nic1}\n"
            "    1: {primary: nic1, replica: nic0}\n",
            rack_key_hex, r->port[P_SWITCH], r->listen[0], r->sink_port[0], r->listen[1],
            r->sink_port[1], r->port[P_NIC0], r->port[P_NIC1], r->port[P_SRV0]);
    int rc = write_app_entry(f, r);
    return fclose(f) == 0 ? rc : -1;
}

static int
rack_init(struct rack *r, const char *app)
{
    memset(r, 0, sizeof(*r));
    r->app = app;
    r->sink[0] = r->sink[1] = r->tx = -1;
    snprintf(r->dir, sizeof(r->dir), "%s/plane-apprack-XXXXXX", it_env_or("TMPDIR", "/tmp"));
    if (!mkdtemp(r->dir)) {
        it_say("mkdtemp %s: %s", r->dir, strerror(errno));
        return -1;
    }
    snprintf(r->yaml, sizeof(r->yaml), "%s/rack.yaml", r->dir);
    for (int i = 0; i < N_PROCS; i++)
        snprintf(r->log[i], sizeof(r->log[i]), "%s/%s.log", r->dir, proc_name[i]);
    uint16_t tx_port;
    for (int i = 0; i < 2; i++)
        if ((r->sink[i] = it_udp_open(0, &r->sink_port[i], 32 << 20, true)) < 0)
            return -1;
    if ((r->tx = it_udp_open(0, &tx_port, 32 << 20, true)) < 0)
        return -1;
    for (int i = 0; i < N_PROCS; i++)
        if (!(r->port[i] = it_free_port()))
            return -1;
    if (!(r->listen[0] = it_free_port()) || !(r->listen[1] = it_free_port()))
        return -1;
    if (rack_write_yaml(r) < 0) {
        it_say("cannot write %s", r->yaml);
        return -1;
    }
    char err[512];
    if (plane_config_load_file(r->yaml, &r->cfg, err, sizeof(err)) < 0) {
        it_say("rack.yaml does not load: %s", err);
        return -1;
    }
    r->app_id = r->cfg->apps[0].id;
    it_say("rack for %s in %s", app, r->dir);
    return 0;
}

static int
proc_start(struct rack *r, int i)
{
    static const char *const ids[N_PROCS] = {NULL, "nic0", "nic1", "srv0"};
    const char *exe = i == P_SWITCH ? it_env_or("PLANE_SWITCHD", PLANE_SWITCHD)
                      : i == P_SRV0 ? it_env_or("PLANE_SERVERD", PLANE_SERVERD)
                                    : it_env_or("PLANE_NICD", PLANE_NICD);
    const char *argv[] = {exe, "--config", r->yaml, "--log-level",
                          it_env_or("PLANE_IT_LOG_LEVEL", "info"),
                          ids[i] ? "--id" : NULL, ids[i], NULL};
    r->pid[i] = it_spawn(argv, r->log[i]);
    if (r->pid[i] < 0) {
        r->pid[i] = 0;
        return -1;
    }
    return 0;
}

static bool
proc_alive(struct rack *r, int i)
{
    return it_alive(&r->pid[i], proc_name[i], NULL);
}

/* Sends sig to process i and reaps it (SIGKILL after 20 s).  True when it
 * ended the expected way (exit 0 after SIGTERM, killed by SIGKILL). */
static bool
proc_stop(struct rack *r, int i, int sig)
{
    return it_stop(&r->pid[i], proc_name[i], sig, NULL) == 0;
}

static int rack_stats(struct rack *r, int i, const char *const *names, uint64_t *v, size_t n,
                      bool print);

static int
rack_fini(struct rack *r, bool failed)
{
    uint64_t dummy;
    for (int i = 0; failed && i < N_PROCS; i++)
        if (r->pid[i])
            rack_stats(r, i, NULL, &dummy, 0, true);
    bool clean = true;
    for (int i = N_PROCS - 1; i >= 0; i--)
        if (!proc_stop(r, i, SIGTERM)) {
            it_say("%s did not stop cleanly on SIGTERM", proc_name[i]);
            clean = false;
        }
    for (int i = 0; i < 2; i++)
        if (r->sink[i] >= 0)
            close(r->sink[i]);
    if (r->tx >= 0)
        close(r->tx);
    plane_config_delete(r->cfg);
    if (failed || !clean) {
        for (int i = 0; i < N_PROCS; i++)
            it_print_log(proc_name[i], r->log[i], 12000);
        it_say("rack left in %s", r->dir);
    } else if (!getenv("PLANE_IT_KEEP")) {
        for (int i = 0; i < N_PROCS; i++)
            unlink(r->log[i]);
        unlink(r->yaml);
        rmdir(r->dir);
    }
    return clean ? 0 : -1;
}

/* ---- the control client (planectl's id 0xfffe): STATS and ENTRY_READ ---- */

static int
ctl_open(struct it_ctl *c, const struct rack *r)
{
    return it_ctl_open(c, rack_key_hex, CLIENT_ID, dev_id, r->port, N_PROCS);
}

/* One call to daemon i (proc index); its answer's body lands in resp. */
static int
ctl_call(struct it_ctl *c, int i, uint16_t type, const uint8_t *body, size_t len, uint8_t *resp,
         size_t cap, size_t *resp_len)
{
    return it_ctl_call(c, dev_id[i], type, body, len, resp, cap, resp_len);
}

/* Reads daemon i's counters: values[j] = counter names[j] (0 when absent). */
static int
rack_stats(struct rack *r, int i, const char *const *names, uint64_t *v, size_t n, bool print)
{
    memset(v, 0, n * sizeof(*v));
    struct it_ctl c;
    if (ctl_open(&c, r) < 0)
        return -1;
    static uint8_t resp[PLANE_WIRE_MAX_DATAGRAM];
    size_t len = 0;
    int rc = ctl_call(&c, i, PLANE_MSG_STATS, NULL, 0, resp, sizeof(resp), &len);
    struct plane_mp_zone zone;
    struct plane_body_stats body;
    if (rc == 0 && plane_mp_zone_init(&zone, 0) == 0) {
        rc = plane_body_stats_decode(resp, len, &zone, &body);
        for (uint32_t k = 0; rc == 0 && k < body.n_stats; k++) {
            for (size_t j = 0; j < n; j++)
                if (!strcmp(body.stats[k].name, names[j]))
                    v[j] = body.stats[k].value;
            if (print && body.stats[k].value)
                printf(" %s=%" PRIu64, body.stats[k].name, body.stats[k].value);
        }
        if (print)
            printf("  [STATS of %s]\n", proc_name[i]);
        plane_mp_zone_uninit(&zone);
    }
    it_ctl_close(&c);
    return rc;
}

/* Waits until the switch sees the devices of `up` up and those of `down` down. */
static int
rack_wait_devices(struct rack *r, uint32_t up, uint32_t down, uint64_t ms)
{
    static const char *const names[] = {"dev.nic0.up", "dev.nic1.up", "dev.srv0.up"};
    uint64_t v[3], until = it_now_ms() + ms;
    for (;;) {
        bool ok = rack_stats(r, P_SWITCH, names, v, 3, false) == 0;
        for (int i = P_NIC0; ok && i < N_PROCS; i++)
            if (((up >> i) & 1 && v[i - 1] != 1) || ((down >> i) & 1 && v[i - 1] != 0))
                ok = false;
        if (ok)
            return 0;
        if (it_now_ms() > until)
            return -1;
        it_sleep_ms(50);
    }
}

/*
 * ENTRY_READ by key from daemon i: object obj's entries for keys[0..n)
 * (40-byte masked flow keys).  values[k] gets the value (vlen bytes),
 * found[k] whether the daemon holds the entry.
 */
static int
read_entries(struct it_ctl *c, int i, uint16_t app_id, uint16_t obj, const struct plane_flow_key *keys,
             size_t n, uint8_t (*values)[PLANE_OBJ_MAX_VALUE], bool *found)
{
    static struct plane_body_entry ents[64];
    static uint8_t req[PLANE_WIRE_MAX_DATAGRAM], resp[PLANE_WIRE_MAX_DATAGRAM];
    if (n > 64)
        return PLANE_EINVAL;
    for (size_t k = 0; k < n; k++) {
        ents[k] = (struct plane_body_entry){.object_id = obj, .key = (const uint8_t *)&keys[k],
                                            .key_len = sizeof(keys[k])};
        found[k] = false;
    }
    struct plane_body_entries body = {.app_id = app_id, .n_entries = (uint32_t)n,
                                      .entries = ents};
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, req, sizeof(req));
    if (plane_body_entries_encode(&body, &w) < 0 || w.overflow)
        return PLANE_EMSGSIZE;
    size_t len = 0;
    int rc = ctl_call(c, i, PLANE_MSG_ENTRY_READ, req, w.len, resp, sizeof(resp), &len);
    if (rc < 0)
        return rc;
    struct plane_mp_zone zone;
    if (plane_mp_zone_init(&zone, 0) < 0)
        return PLANE_ENOMEM;
    struct plane_body_entries out;
    rc = plane_body_entries_decode(resp, len, &zone, &out);
    for (uint32_t j = 0; rc == 0 && j < out.n_entries; j++) {
        const struct plane_body_entry *e = &out.entries[j];
        if ((e->flags & PLANE_ENTRY_F_NOT_FOUND) || e->value_len > PLANE_OBJ_MAX_VALUE ||
            e->key_len != sizeof(keys[0]))
            continue;
        for (size_t k = 0; k < n; k++)
            if (!memcmp(e->key, &keys[k], sizeof(keys[k]))) {
                memset(values[k], 0, PLANE_OBJ_MAX_VALUE);
                memcpy(values[k], e->value, e->value_len);
                found[k] = true;
            }
    }
    plane_mp_zone_uninit(&zone);
    return rc;
}

/* ---- the reference: one external copy of the app, objects sized large ---- */

struct ref {
    struct plane_app *app;
    struct plane_app_inst *inst;
    struct plane_hasher hasher;
    struct plane_config_object sizes[PLANE_APP_MAX_OBJECTS];
};

static int
ref_init(struct ref *f, const struct rack *r)
{
    memset(f, 0, sizeof(*f));
    const struct plane_config_app *ca = &r->cfg->apps[0];
    char err[256] = "";
    if (!(f->app = plane_app_load(ca->module, err, sizeof(err)))) {
        it_say("loading %s: %s", ca->module, err);
        return -1;
    }
    if (plane_hasher_init(&f->hasher, &r->cfg->rack.hash_seed, 8) < 0)
        return -1;
    /* "Unlimited memory": keyed objects far beyond the traffic's keys;
     * sketches as configured (their size is part of their semantics). */
    struct plane_config_app cfg = *ca;
    uint16_t n = plane_app_n_objects(f->app);
    for (uint16_t i = 0; i < n; i++) {
        const struct plane_obj_desc *d = plane_app_object(f->app, i);
        snprintf(f->sizes[i].name, sizeof(f->sizes[i].name), "%s", d->name);
        f->sizes[i].size = d->size;
        for (size_t j = 0; j < ca->n_objects; j++)
            if (!strcmp(ca->objects[j].name, d->name))
                f->sizes[i].size = ca->objects[j].size;
        if ((d->kind == PLANE_OBJ_TABLE || d->kind == PLANE_OBJ_REGISTER) && d->key_fields)
            f->sizes[i].size = REF_SIZE;
    }
    cfg.objects = f->sizes;
    cfg.n_objects = n;
    if (!(f->inst = plane_app_inst_new(f->app, &cfg, REF_DEVICE, true, &f->hasher))) {
        it_say("reference instance of %s does not start", ca->name);
        return -1;
    }
    return 0;
}

static void
ref_uninit(struct ref *f)
{
    plane_app_inst_delete(f->inst);
    plane_app_delete(f->app);
}

/* ---- traffic: the per-packet record and the app-specific frames ---- */

struct rec {
    uint32_t flow;
    uint32_t n;                  /* the packet's number within its flow */
    uint16_t in_port;
    uint16_t in_len, exp_len;
    uint16_t exp_port;
    uint8_t exp_verdict;         /* enum plane_verdict of the reference */
    uint8_t seen;                /* egress copies */
    uint8_t by;                  /* processed_by of the first copy */
    bool probe;                  /* sent while waiting for the rack */
    uint64_t ns;                 /* the time the reference ran it at */
    uint8_t in[FRAME_MAX], exp[FRAME_MAX];
};

struct flow {
    uint64_t n;                  /* packets built so far */
    bool have_uk;
    struct plane_flow_key uk;    /* union key (from the reference) */
    bool have_out;
    struct plane_flow_key out;   /* the reference's rewrite of packet 0 */
    uint32_t out_seq;            /* its TCP sequence number (a SYN cookie) */
    bool have_sport;
    uint16_t sport;              /* snat: the source port the rack gave it */
    uint8_t op;                  /* netcache: what the next packet is (enum nc_op) */
    uint32_t version;            /* netcache: the key's value version (PUTs so far) */
};

struct traffic;

/*
 * An app's traffic: build() fills the spec (addresses, ports, VLAN, TCP
 * fields), the ingress port and the payload of packet n of flow f (pl, up
 * to PAYLOAD_MAX bytes; returns its length); the driver appends the stamp
 * after it, so the stamp is always the frame's last STAMP_LEN bytes (apps
 * that cut a payload leave the frame's tail as link padding).  Packets
 * 0..open_pkts-1 open the flow, one round over all flows each; later ones
 * may use what the reference made of packet 0 (fl->out, e.g. NAT's public
 * endpoint).
 */
#define PAYLOAD_MAX 64

enum cmp_mode {
    CMP_EXACT = 0,
    /* snat: the source port is the device's allocation (its slice of the
     * range), not a function of the input; frames are compared without it
     * and each flow's port must be stable and unused by any other flow. */
    CMP_ALLOC_SPORT,
};

struct app_case {
    const char *name;
    uint32_t n_flows;
    size_t (*build)(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s,
                    uint16_t *in_port, bool *tcp, uint8_t *pl);
    uint8_t open_pkts;           /* 0 means 1 */
    enum cmp_mode cmp;
    /* Registers merged by OR (monitor's candidate bits): a device's copy
     * sees a partial sketch within T_e, so it may set a bit later than the
     * single copy, never one the single copy would not set: a subset. */
    bool reg_subset;
    /* The output of packet p is a pure function of its frame and the time
     * (synproxy's SYN-ACK cookie carries the time slot): on a difference it
     * is recomputed at the time the rack processed it. */
    bool (*timed)(const struct rec *p);
    /* Registers not compared (a comma list): values estimated from the
     * copy's own sketch (netcache's hot_keys), or hit/miss statistics of a
     * cache whose fills may differ (netcache's stats, with cache_miss_ok). */
    const char *skip_reg;
    /*
     * A cache (netcache) decides what to cache from count-min sketches,
     * which each copy keeps for what it saw (kept within T_e, not exact):
     * where the single copy answered a request from its cache, the rack may
     * instead forward the request unchanged to the backend (port
     * miss_port), which answers it with the same value.  Everything the
     * rack does answer from its cache must still be exactly the single
     * copy's answer: a stale value is a failure.
     */
    bool cache_miss_ok;
    uint16_t miss_port;
    /*
     * An ADD register whose copies may count less than the single copy,
     * word by word (never more): tcpretx's retx.  A packet the switch sent
     * to the device just before it promoted the flow is processed there
     * after the promotion read the state, so the switch's hiseq lacks that
     * segment until the next SYNC and a retransmission of it right after
     * is not recognised (the app's README names this T_e window).  Each
     * such flow is printed.
     */
    const char *reg_atmost;
    /* App-specific traffic between the phases: stage 0 before the kill,
     * 1 after every flow opened; flows [0, hi) are open.  Returns the
     * packets missing. */
    size_t (*stage)(struct traffic *t, int stage, uint32_t hi);
};

struct traffic {
    struct rack *r;
    const struct app_case *ac;
    struct ref ref;
    struct rec *pkts;
    size_t n;
    struct flow *flows;
    struct ref scratch;          /* reruns of timed packets; NULL inst until used */
    uint32_t *sport_owner;       /* CMP_ALLOC_SPORT: flow + 1 by source port */
    size_t kill_idx;             /* first packet sent after the kill (SIZE_MAX: none) */
    uint8_t *last_dev;           /* per flow: the device that last processed it */
    size_t n_moved;              /* flows nic0 served before the kill, nic1 after */
    struct it_zipf z;               /* the current flow popularity */
    size_t n_dup, n_diff, n_bad;
    size_t n_cache_misses;       /* cache_miss_ok: answered by the backend instead */
    size_t by_dev[N_PROCS + 1];  /* processed_by (dev id = proc index), [N_PROCS] other */
    size_t win_by[N_PROCS + 1];  /* the same since traffic_window() */
};

static void
v4(uint8_t *addr16, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    memset(addr16, 0, 16);
    addr16[10] = addr16[11] = 0xff;
    addr16[12] = a;
    addr16[13] = b;
    addr16[14] = c;
    addr16[15] = d;
}

/* Client side of flow f: 10.<net>.<f / 250>.<f % 250 + 1> */
static void
inside_host(uint8_t *addr16, uint8_t net, uint32_t f)
{
    v4(addr16, 10, net, (uint8_t)(f / 250), (uint8_t)(f % 250 + 1));
}

/*
 * nat (examples/apps/nat/nat.yaml): tenant f % 2 (10.1/24 or 10.2/24)
 * opens a UDP or TCP flow from inside (port 1) to a remote of its own;
 * later packets alternate reply (from the remote to the public endpoint the
 * reference chose, port 0) and outbound.
 */
static size_t
build_nat(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
          bool *tcp, uint8_t *pl)
{
    (void)pl;
    s->vlan_tci = 20;
    *tcp = f % 3 == 0;
    s->tcp_flags = fl->n == 0 ? PLANE_TCP_SYN : PLANE_TCP_ACK;
    if (fl->n % 2 == 1 && fl->have_out) {
        plane_flow_key_reverse(&fl->out, &s->key);
        *in_port = 0;
        return 0;
    }
    v4(s->key.src_addr, 10, (uint8_t)(1 + f % 2), 0, (uint8_t)(1 + (f / 2) % 200));
    s->key.src_port = (uint16_t)(20000 + f);
    v4(s->key.dst_addr, 198, 18, (uint8_t)(f >> 8), (uint8_t)f);
    s->key.dst_port = 443;
    *in_port = 1;
    return 0;
}

/*
 * firewall: inside 10/8.  Flows f % 8 != 7 open from inside (TCP SYN or a
 * UDP packet, port 1); later packets alternate inbound replies (port 0) and
 * outbound.  Flows f % 8 == 7 are unsolicited inbound traffic: dropped.
 */
static size_t
build_firewall(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
               bool *tcp, uint8_t *pl)
{
    (void)pl;
    s->vlan_tci = 40;
    *tcp = f % 2 == 0;
    s->tcp_flags = fl->n == 0 ? PLANE_TCP_SYN : PLANE_TCP_ACK;
    inside_host(s->key.src_addr, 3, f);
    s->key.src_port = (uint16_t)(30000 + f % 20000);
    v4(s->key.dst_addr, 198, 19, (uint8_t)(f >> 8), (uint8_t)f);
    s->key.dst_port = 80;
    *in_port = 1;
    if (f % 8 == 7 || fl->n % 2 == 1) {
        struct plane_flow_key out = s->key;
        plane_flow_key_reverse(&out, &s->key);
        *in_port = 0;
    }
    return 0;
}

/*
 * acl (rules of acl.yaml): f % 4 == 0 TCP to 10.1/16:80 (allowed by rule1),
 * 1: TCP to port 22 (denied by rule0), 2: UDP from 192.0.2/24 to 10.2/16
 * (allowed by rule2), 3: UDP from elsewhere to 10.2/16 (denied by rule9).
 */
static size_t
build_acl(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
          bool *tcp, uint8_t *pl)
{
    (void)fl;
    (void)pl;
    s->vlan_tci = 30;
    *in_port = 0;
    *tcp = f % 4 < 2;
    s->tcp_flags = PLANE_TCP_ACK;
    uint32_t k = f / 4;
    bool listed = f % 4 == 2;
    v4(s->key.src_addr, listed ? 192 : 198, listed ? 0 : 51, listed ? 2 : 100,
       (uint8_t)(k % 250 + 1));
    s->key.src_port = (uint16_t)(40000 + f);
    v4(s->key.dst_addr, 10, f % 4 < 2 ? 1 : 2, (uint8_t)(k >> 8), (uint8_t)k);
    s->key.dst_port = f % 4 == 1 ? 22 : 80;
    return 0;
}

/*
 * tcpretx: a connection client 10.9.x.y -> server 10.8.x.y:80; packet 0 is
 * the SYN, then data both ways (16 stamp bytes each), every 5th client and
 * every 7th server segment a retransmission of the one before.
 */
static size_t
build_tcpretx(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
              bool *tcp, uint8_t *pl)
{
    (void)pl;
    *tcp = true;
    inside_host(s->key.src_addr, 9, f);
    s->key.src_port = (uint16_t)(33000 + f % 30000);
    v4(s->key.dst_addr, 10, 8, (uint8_t)(f >> 8), (uint8_t)f);
    s->key.dst_port = 80;
    *in_port = 0;
    uint64_t k = fl->n / 2;
    uint32_t cseq = 1000, sseq = 500000;
    if (fl->n == 0) {
        s->tcp_flags = PLANE_TCP_SYN;
        s->tcp_seq = cseq;
        return 0;
    }
    s->tcp_flags = PLANE_TCP_ACK | PLANE_TCP_PSH;
    if (fl->n % 2 == 1) {
        struct plane_flow_key c = s->key;
        plane_flow_key_reverse(&c, &s->key);
        *in_port = 1;
        s->tcp_seq = sseq + (uint32_t)((k % 7 == 6 ? k - 1 : k) * STAMP_LEN);
        s->tcp_ack = cseq + 1;
    } else {
        uint64_t j = k - 1;   /* the client's data segment j (k >= 1) */
        s->tcp_seq = cseq + 1 + (uint32_t)((j % 5 == 4 ? j - 1 : j) * STAMP_LEN);
        s->tcp_ack = sseq;
    }
    return 0;
}

/*
 * vpngw (vpngw.yaml): traffic from outside to the tenants' prefixes
 * (10.1/16, 10.2/16) is tunnelled; flows f % 8 == 7 go to no tenant and are
 * refused.
 */
static size_t
build_vpngw(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
            bool *tcp, uint8_t *pl)
{
    (void)fl;
    (void)pl;
    s->vlan_tci = 10;
    *tcp = f % 2 == 0;
    s->tcp_flags = PLANE_TCP_ACK;
    v4(s->key.src_addr, 203, 0, (uint8_t)(f >> 8), (uint8_t)f);
    s->key.src_port = (uint16_t)(10000 + f);
    v4(s->key.dst_addr, 10, f % 8 == 7 ? 3 : (uint8_t)(1 + f % 2), 0,
       (uint8_t)(1 + (f / 2) % 200));
    s->key.dst_port = 8080;
    *in_port = 0;
    return 0;
}

/* monitor: UDP from source f (the union key is the source address) to a
 * few destinations; every packet is forwarded as it came. */
static size_t
build_monitor(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
              bool *tcp, uint8_t *pl)
{
    (void)pl;
    *tcp = false;
    inside_host(s->key.src_addr, 5, f);
    s->key.src_port = (uint16_t)(50000 + fl->n % 8);
    v4(s->key.dst_addr, 10, 6, 0, (uint8_t)(1 + fl->n % 4));
    s->key.dst_port = 5000;
    *in_port = (uint16_t)(f & 1);
    return 0;
}

/* snat (snat.yaml, inside 10/8): outbound flows from inside, one direction;
 * flows f % 8 == 7 come from outside and are refused. */
static size_t
build_snat(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
           bool *tcp, uint8_t *pl)
{
    (void)fl;
    (void)pl;
    s->vlan_tci = 50;
    *tcp = f % 2 == 0;
    s->tcp_flags = PLANE_TCP_ACK;
    if (f % 8 == 7)
        v4(s->key.src_addr, 172, 16, (uint8_t)(f >> 8), (uint8_t)f);
    else
        inside_host(s->key.src_addr, 4, f);
    s->key.src_port = (uint16_t)(2000 + f);
    v4(s->key.dst_addr, 198, 20, 0, (uint8_t)(1 + f % 16));
    s->key.dst_port = 443;
    *in_port = 1;
    return 0;
}

/*
 * synproxy (synproxy.yaml: service port 80, clients on port 0, servers on
 * port 1): packet 0 the client's SYN (answered with a cookie SYN-ACK),
 * 1 the client's ACK of the cookie (the reference's: a client answers what
 * it got), 2 the server's SYN-ACK, then data both ways, sequence numbers
 * in each side's own space (the proxy translates).
 */
static size_t
build_synproxy(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
               bool *tcp, uint8_t *pl)
{
    (void)pl;
    *tcp = true;
    const uint32_t isn = 7000 + f * 1000, sisn = 900000 + f * 1000;
    struct plane_flow_key c;
    inside_host(c.src_addr, 11, f);
    c.src_port = (uint16_t)(20000 + f);
    v4(c.dst_addr, 10, 12, 0, 1);
    c.dst_port = 80;
    bool from_client = fl->n < 2 || fl->n % 2 == 1;
    if (from_client) {
        s->key = c;
    } else {
        plane_flow_key_reverse(&c, &s->key);
    }
    *in_port = from_client ? 0 : 1;
    uint32_t k = fl->n >= 3 ? (uint32_t)(fl->n - 3) / 2 : 0;
    switch (fl->n) {
    case 0:
        s->tcp_flags = PLANE_TCP_SYN;
        s->tcp_seq = isn;
        break;
    case 1:
        s->tcp_flags = PLANE_TCP_ACK;
        s->tcp_seq = isn + 1;
        s->tcp_ack = fl->out_seq + 1;
        break;
    case 2:
        s->tcp_flags = PLANE_TCP_SYN | PLANE_TCP_ACK;
        s->tcp_seq = sisn;
        s->tcp_ack = isn + 1;
        break;
    default:
        s->tcp_flags = PLANE_TCP_ACK | PLANE_TCP_PSH;
        s->tcp_seq = from_client ? isn + 1 + k * STAMP_LEN : sisn + 1 + k * STAMP_LEN;
        s->tcp_ack = from_client ? fl->out_seq + 1 : isn + 1;
        break;
    }
    return 0;
}

/*
 * netcache (netcache.yaml: service 40000, buckets from 40001, 12 bits;
 * clients on port 0, the backend on port 1): key f (8 bytes, each in a
 * bucket of its own, so no two keys compete for an entry) asked by client
 * 10.13.0.x from the key's bucket port.  Packets are GETs unless a stage
 * set fl->op: a backend GET reply (the value) or a client PUT.
 */
#define NC_BITS 12
#define NC_BASE 40001
static uint8_t nc_keys[1024][NC_KEY_LEN];

static void
nc_pick_keys(uint32_t n)
{
    static bool used[1u << NC_BITS];
    uint64_t x = 0x6b6579;
    for (uint32_t f = 0; f < n; f++) {
        do {
            it_put_be64(nc_keys[f], plane_fault_prng_mix(&x));
        } while (used[nc_bucket(nc_keys[f], NC_BITS)]);
        used[nc_bucket(nc_keys[f], NC_BITS)] = true;
    }
}

static size_t
build_netcache(uint32_t f, const struct flow *fl, struct plane_pkt_spec *s, uint16_t *in_port,
               bool *tcp, uint8_t *pl)
{
    *tcp = false;
    struct plane_flow_key c;
    inside_host(c.src_addr, 13, f % 200);
    c.src_port = nc_bucket_port(nc_keys[f], NC_BASE, NC_BITS);
    v4(c.dst_addr, 10, 14, 0, 1);
    c.dst_port = NC_DEFAULT_PORT;
    uint8_t op = fl->op ? fl->op : NC_OP_GET;
    memset(pl, 0, NC_MSG_LEN);
    pl[NC_OFF_OP] = op;
    memcpy(pl + NC_OFF_KEY, nc_keys[f], NC_KEY_LEN);
    if (op != NC_OP_GET) {
        /* The store's value of a key changes only by a PUT (as behind a real
         * NetCache): a backend reply carries the current version, so any
         * fill after the last PUT caches the same value, whenever a copy
         * decides to fill. */
        pl[NC_OFF_VLEN] = 12;
        memcpy(pl + NC_OFF_VALUE, "val:", 4);
        it_put_be64(pl + NC_OFF_VALUE + 4, fl->version);
    }
    if (op == NC_OP_GET_REPLY) {
        plane_flow_key_reverse(&c, &s->key);
        *in_port = 1;
    } else {
        s->key = c;
        *in_port = 0;
    }
    return NC_MSG_LEN;
}

static size_t traffic_send_op(struct traffic *t, const uint32_t *flows, size_t n, uint8_t op);

/*
 * Backend replies for the keys whose GET count (the reference's sketch
 * estimate) is far from hot_threshold (8): at most 4 (no copy fills) or at
 * least 24 (every copy that saw most of the key's GETs fills); after the
 * kill, first a PUT of every 5th key (invalidating it).
 */
static size_t
netcache_stage(struct traffic *t, int stage, uint32_t hi)
{
    static uint32_t flows[1024];
    size_t n = 0, missing = 0;
    if (stage == 1) {
        for (uint32_t f = 0; f < hi; f += 5) {
            flows[n++] = f;
            t->flows[f].version++;
        }
        missing += traffic_send_op(t, flows, n, NC_OP_PUT);
        n = 0;
    }
    int hot = plane_app_find_object(t->ref.app, "hot");
    if (hot < 0)
        return SIZE_MAX;
    for (uint32_t f = 0; f < hi; f++) {
        uint64_t est = plane_object_cms_estimate(plane_app_inst_object(t->ref.inst,
                                                                       (uint16_t)hot),
                                                 nc_keys[f], NC_KEY_LEN);
        if (est <= 4 || est >= 24)
            flows[n++] = f;
    }
    return missing + traffic_send_op(t, flows, n, NC_OP_GET_REPLY);
}

static bool
synproxy_timed(const struct rec *p)
{
    return p->n == 0;   /* the SYN: its SYN-ACK's cookie has the time slot */
}

static const struct app_case cases[] = {
    {.name = "nat", .n_flows = 400, .build = build_nat},
    {.name = "firewall", .n_flows = 400, .build = build_firewall},
    {.name = "acl", .n_flows = 400, .build = build_acl},
    {.name = "tcpretx", .n_flows = 400, .build = build_tcpretx, .reg_atmost = "retx"},
    {.name = "vpngw", .n_flows = 400, .build = build_vpngw},
    {.name = "monitor", .n_flows = 300, .build = build_monitor, .reg_subset = true},
    {.name = "snat", .n_flows = 400, .build = build_snat, .cmp = CMP_ALLOC_SPORT},
    {.name = "synproxy", .n_flows = 300, .build = build_synproxy, .open_pkts = 3,
     .timed = synproxy_timed},
    {.name = "netcache", .n_flows = 400, .build = build_netcache, .skip_reg = "hot_keys,stats",
     .cache_miss_ok = true, .miss_port = 1,
     .stage = netcache_stage},
};

/*
 * Builds packet fl->n of flow f, runs it through the reference, records it
 * and sends it to its switch port.  Returns its number, or -1.
 */
static long
traffic_send(struct traffic *t, uint32_t f, bool probe)
{
    if (t->n >= MAX_PKTS) {
        it_say("more than %d packets", MAX_PKTS);
        return -1;
    }
    struct flow *fl = &t->flows[f];
    struct rec *p = &t->pkts[t->n];
    memset(p, 0, offsetof(struct rec, in));
    struct plane_pkt_spec s;
    memset(&s, 0, sizeof(s));
    s.src_mac[5] = 1;
    s.dst_mac[5] = 2;
    bool tcp = false;
    uint8_t pl[PAYLOAD_MAX + STAMP_LEN];
    size_t pl_len = t->ac->build(f, fl, &s, &p->in_port, &tcp, pl);
    it_put_be64(pl + pl_len, STAMP_MAGIC);
    it_put_be64(pl + pl_len + 8, t->n);
    pl_len += STAMP_LEN;
    size_t len = 0;
    int rc = tcp ? plane_pkt_build_tcp4(p->in, FRAME_MAX, &s, pl, pl_len, &len)
                 : plane_pkt_build_udp4(p->in, FRAME_MAX, &s, pl, pl_len, &len);
    if (rc < 0) {
        it_say("cannot build packet %" PRIu64 " of flow %u: %s", fl->n, f, plane_strerror(rc));
        return -1;
    }
    p->flow = f;
    p->n = (uint32_t)fl->n;
    p->probe = probe;
    p->in_len = (uint16_t)len;
    /* The daemons' clock (plane_clock_now_ns(): CLOCK_MONOTONIC), so an app
     * reading the time sees about what the rack's copy sees. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    p->ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    memcpy(p->exp, p->in, len);
    struct plane_run_result res;
    rc = plane_app_inst_run(t->ref.inst, p->exp, len, p->in_port, p->ns, &res);
    if (rc < 0) {
        it_say("reference run: %s", plane_strerror(rc));
        return -1;
    }
    p->exp_len = (uint16_t)len;
    p->exp_verdict = (uint8_t)res.verdict;
    p->exp_port = res.egress_port;
    if (!fl->have_uk) {
        fl->uk = res.union_key;
        fl->have_uk = true;
    }
    if (fl->n == 0 && res.verdict == PLANE_V_FORWARD) {
        struct plane_pkt pk;
        if (plane_pkt_parse(p->exp, len, &pk) == 0) {
            fl->out = pk.key;
            fl->out_seq = pk.tcp_seq;
            fl->have_out = true;
        }
    }
    fl->n++;
    struct sockaddr_in sa;
    it_addr(&sa, t->r->listen[p->in_port & 1]);
    for (int tries = 0; sendto(t->r->tx, p->in, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0;
         tries++) {
        if ((errno != EAGAIN && errno != ENOBUFS && errno != EINTR) || tries > 1000) {
            it_say("sendto: %s", strerror(errno));
            return -1;
        }
        struct pollfd pf = {.fd = t->r->tx, .events = POLLOUT};
        (void)poll(&pf, 1, 10);
    }
    return (long)t->n++;
}

/*
 * Whether the rack's frame (out, out_len, leaving through port) is the
 * reference's for packet p, under the app's comparison.
 */
/* True when name is an item of the comma list (NULL: none). */
static bool
name_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static bool
egress_matches(struct traffic *t, struct rec *p, const uint8_t *out, size_t out_len,
               uint16_t port, uint64_t processed_ns)
{
    if (t->ac->cache_miss_ok && p->exp_verdict == PLANE_V_FORWARD && port == t->ac->miss_port &&
        p->exp_port != port && out_len == p->in_len && !memcmp(out, p->in, out_len)) {
        t->n_cache_misses++;
        return true;
    }
    if (p->exp_verdict != PLANE_V_FORWARD || port != p->exp_port || out_len != p->exp_len)
        return false;
    if (!memcmp(out, p->exp, out_len))
        return true;
    if (t->ac->timed && t->ac->timed(p)) {
        /* The same frame at the time the rack's copy ran it, on a scratch
         * copy (the packet's output depends on nothing else). */
        if (!t->scratch.inst && ref_init(&t->scratch, t->r) < 0)
            return false;
        uint8_t frame[FRAME_MAX];
        memcpy(frame, p->in, p->in_len);
        struct plane_run_result res;
        if (plane_app_inst_run(t->scratch.inst, frame, p->in_len, p->in_port, processed_ns,
                               &res) == 0 && res.verdict == PLANE_V_FORWARD &&
            res.egress_port == port && !memcmp(frame, out, out_len))
            return true;
    }
    if (t->ac->cmp != CMP_ALLOC_SPORT)
        return false;
    /* The frame with the reference's source port and L4 checksum must be
     * the reference's; the port must be the flow's, and no other flow's. */
    struct plane_pkt pk;
    if (plane_pkt_parse(out, out_len, &pk) < 0 || !(pk.flags & PLANE_PKT_F_L4))
        return false;
    uint8_t frame[FRAME_MAX];
    memcpy(frame, out, out_len);
    size_t csum = pk.l4_off + (pk.proto == PLANE_IPPROTO_TCP ? 16 : 6);
    memcpy(frame + pk.l4_off, p->exp + pk.l4_off, 2);
    memcpy(frame + csum, p->exp + csum, 2);
    if (memcmp(frame, p->exp, out_len) != 0)
        return false;
    struct flow *fl = &t->flows[p->flow];
    uint16_t sport = pk.key.src_port;
    if (!fl->have_sport) {
        if (t->sport_owner[sport]) {
            it_say("flow %u got source port %u, flow %u's", p->flow, sport,
                t->sport_owner[sport] - 1);
            return false;
        }
        t->sport_owner[sport] = p->flow + 1;
        fl->sport = sport;
        fl->have_sport = true;
    }
    return fl->sport == sport;
}

/* Matches one egress datagram to its input packet and checks it. */
static void
traffic_on_egress(struct traffic *t, const uint8_t *buf, size_t len)
{
    struct plane_wire_data d;
    if (plane_wire_data_decode(buf, len, &d) < 0 || d.frame_len < STAMP_LEN ||
        it_get_be64(d.frame + d.frame_len - STAMP_LEN) != STAMP_MAGIC) {
        if (t->n_bad++ < 5)
            it_say("egress datagram of %zu bytes carries no stamp", len);
        return;
    }
    uint64_t idx = it_get_be64(d.frame + d.frame_len - 8);
    if (idx >= t->n) {
        if (t->n_bad++ < 5)
            it_say("egress stamp %" PRIu64 " was never sent", idx);
        return;
    }
    struct rec *p = &t->pkts[idx];
    if (p->seen++) {
        if (t->n_dup++ < 5)
            it_say("packet %" PRIu64 " (flow %u) came out twice", idx, p->flow);
        return;
    }
    size_t by = d.processed_by < N_PROCS ? d.processed_by : N_PROCS;
    p->by = (uint8_t)by;
    t->by_dev[by]++;
    t->win_by[by]++;
    uint8_t *last = &t->last_dev[p->flow];
    if (idx >= t->kill_idx && *last == P_NIC0 + 1 && by == P_NIC1)
        t->n_moved++;
    if (by != P_SWITCH)
        *last = (uint8_t)(by + 1);
    if (d.app_id != t->r->app_id ||
        !egress_matches(t, p, d.frame, d.frame_len, d.port, d.processed_ns)) {
        if (t->n_diff++ < (size_t)atoi(it_env_or("PLANE_IT_DIFFS", "5"))) {
            size_t at = 0;
            while (at < d.frame_len && at < p->exp_len && d.frame[at] == p->exp[at])
                at++;
            size_t at_in = 0;
            while (at_in < d.frame_len && at_in < p->in_len && d.frame[at_in] == p->in[at_in])
                at_in++;
            it_say("packet %" PRIu64 " (flow %u #%u%s) processed by %u differs from the reference:"
                " verdict %s, port %u (want %u), %zu bytes (want %u), first differing byte %zu"
                " (%zu from the input)",
                idx, p->flow, p->n, p->probe ? ", probe" : "", d.processed_by,
                p->exp_verdict == PLANE_V_FORWARD ? "forward" : "drop", d.port, p->exp_port,
                d.frame_len, p->exp_len, at, at_in);
        }
    }
}

static void
traffic_drain(struct traffic *t, int timeout_ms)
{
    struct pollfd pf[2] = {{.fd = t->r->sink[0], .events = POLLIN},
                           {.fd = t->r->sink[1], .events = POLLIN}};
    if (poll(pf, 2, timeout_ms) <= 0)
        return;
    static uint8_t buf[PLANE_WIRE_MAX_DATAGRAM + 64];
    for (int i = 0; i < 2; i++) {
        ssize_t n;
        while ((n = recv(t->r->sink[i], buf, sizeof(buf), 0)) >= 0)
            traffic_on_egress(t, buf, (size_t)n);
    }
}

/* Packets from..n-1 the reference forwarded that did not come out. */
static size_t
traffic_missing(const struct traffic *t, size_t from, size_t to, bool print)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        if (t->pkts[i].exp_verdict == PLANE_V_FORWARD && !t->pkts[i].seen && n++ < 5 && print)
            it_say("packet %zu (flow %u) never came out", i, t->pkts[i].flow);
    return n;
}

/* Waits (up to ms) for every forwarded packet from `from` on; true when all came. */
static bool
traffic_wait(struct traffic *t, size_t from, uint64_t ms)
{
    uint64_t until = it_now_ms() + ms;
    while (traffic_missing(t, from, t->n, false) > 0) {
        if (it_now_ms() > until)
            return false;
        traffic_drain(t, 20);
    }
    traffic_drain(t, 0);
    return true;
}

/* Sends n packets of flows drawn by z in batches, waiting for each;
 * returns the packets missing. */
static size_t
traffic_run(struct traffic *t, size_t n, const struct it_zipf *z, uint64_t *rng, uint64_t batch_ms)
{
    size_t start = t->n;
    for (size_t done = 0; done < n;) {
        size_t from = t->n;
        for (size_t k = 0; k < BATCH && done < n; k++, done++)
            if (traffic_send(t, it_zipf_rank(z, it_unit(plane_fault_prng_mix(rng))), false) < 0)
                return SIZE_MAX;
        if (!traffic_wait(t, from, batch_ms))
            break;
    }
    return traffic_missing(t, start, t->n, false);
}

/* Opens flows lo..hi-1: round k sends packet k of each flow that has sent
 * k packets (batches waited for), so a flow's handshake completes before
 * its traffic.  Returns the packets missing. */
static size_t
traffic_open(struct traffic *t, uint32_t lo, uint32_t hi)
{
    size_t start = t->n;
    unsigned rounds = t->ac->open_pkts ? t->ac->open_pkts : 1;
    for (unsigned k = 0; k < rounds; k++) {
        size_t from = t->n;
        for (uint32_t f = lo; f < hi; f++) {
            if (t->flows[f].n == k && traffic_send(t, f, false) < 0)
                return SIZE_MAX;
            if (t->n - from >= BATCH || f + 1 == hi) {
                if (!traffic_wait(t, from, 20000))
                    return traffic_missing(t, start, t->n, false);
                from = t->n;
            }
        }
    }
    return traffic_missing(t, start, t->n, false);
}

/* Sends one packet of each of flows[0..n) with fl->op = op, in batches
 * waited for.  Returns the packets missing. */
static size_t
traffic_send_op(struct traffic *t, const uint32_t *flows, size_t n, uint8_t op)
{
    size_t start = t->n, from = t->n;
    for (size_t i = 0; i < n; i++) {
        t->flows[flows[i]].op = op;
        long rc = traffic_send(t, flows[i], false);
        t->flows[flows[i]].op = 0;
        if (rc < 0)
            return SIZE_MAX;
        if (t->n - from >= BATCH || i + 1 == n) {
            if (!traffic_wait(t, from, 20000))
                break;
            from = t->n;
        }
    }
    return traffic_missing(t, start, t->n, false);
}

/* Sends flow 0's first packet again and again until one comes out and the
 * switch sees every device up. */
static int
traffic_wait_ready(struct traffic *t)
{
    uint64_t start = it_now_ms();
    for (;;) {
        if (it_now_ms() > start + 30000) {
            it_say("rack not ready after 30 s");
            return -1;
        }
        for (int i = 0; i < N_PROCS; i++)
            if (!proc_alive(t->r, i))
                return -1;
        t->flows[0].n = 0;
        long idx = traffic_send(t, 0, true);
        if (idx < 0)
            return -1;
        uint64_t until = it_now_ms() + 200;
        while (!t->pkts[idx].seen && it_now_ms() < until)
            traffic_drain(t, 20);
        if (t->pkts[idx].seen)
            break;
    }
    if (rack_wait_devices(t->r, ALL_PROCS & ~1u, 0, 30000) < 0) {
        it_say("the switch does not see every device up");
        return -1;
    }
    it_say("rack ready after %" PRIu64 " ms", it_now_ms() - start);
    return 0;
}

static void
print_by(const char *what, const size_t *by)
{
    it_say("%s: by switch %zu, nic0 %zu, nic1 %zu, srv0 %zu, other %zu", what, by[0], by[1], by[2],
        by[3], by[4]);
}

enum reg_cmp { REG_EQUAL, REG_SUBSET, REG_ATMOST };

/* A register copy against the reference's value: equal; for OR-merged
 * bits (subset) no bit the reference lacks; for ADD words (at most) no
 * word above the reference's. */
static bool
reg_equal(const uint8_t *got, const uint8_t *want, size_t len, enum reg_cmp how)
{
    for (size_t b = 0; how == REG_ATMOST && b + 8 <= len; b += 8) {
        uint64_t g, w;
        memcpy(&g, got + b, 8);
        memcpy(&w, want + b, 8);
        if (g > w)
            return false;
    }
    for (size_t b = 0; how != REG_ATMOST && b < len; b++)
        if (how == REG_SUBSET ? (got[b] & ~want[b]) != 0 : got[b] != want[b])
            return false;
    return true;
}

/*
 * The per-flow registers of every flow that saw traffic, on every live
 * daemon holding them, against a second reference fed every packet that
 * reached the rack's app (all but the ones lost in the failover window).
 * Polls up to 20 s: the switch's and the devices' copies converge within a
 * few T_e of the last packet.
 */
static int
check_registers(struct traffic *t, uint32_t alive, size_t lost_from, size_t lost_to)
{
    struct ref replay;
    if (ref_init(&replay, t->r) < 0)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        struct rec *p = &t->pkts[i];
        bool lost = p->exp_verdict == PLANE_V_FORWARD && !p->seen;
        if (lost && (p->probe || (i >= lost_from && i < lost_to)))
            continue;
        uint8_t frame[FRAME_MAX];
        memcpy(frame, p->in, p->in_len);
        struct plane_run_result res;
        (void)plane_app_inst_run(replay.inst, frame, p->in_len, p->in_port, p->ns, &res);
    }
    const struct plane_app_desc *desc = replay.app->desc;
    static struct plane_flow_key keys[64];
    static uint8_t want[64][PLANE_OBJ_MAX_VALUE], got[64][PLANE_OBJ_MAX_VALUE];
    bool found[64];
    size_t n_regs = 0, bad = 0, unheld = 0, n_cmp = 0, n_nonzero = 0, n_less = 0;
    uint64_t t0 = it_now_ms();
    int rc = 0;
    struct it_ctl c;
    if (ctl_open(&c, t->r) < 0) {
        ref_uninit(&replay);
        return -1;
    }
    uint64_t deadline = it_now_ms() + 20000;
    for (uint16_t o = 0; o < desc->n_objects && rc == 0; o++) {
        const struct plane_obj_desc *od = &desc->objects[o];
        if (od->kind != PLANE_OBJ_REGISTER || od->key_fields != desc->union_key_fields ||
            name_listed(t->ac->skip_reg, od->name))
            continue;   /* shared registers: see the top comment */
        n_regs++;
        size_t reg_cmp = 0, reg_nonzero = 0, reg_less = 0;
        enum reg_cmp how = t->ac->reg_subset ? REG_SUBSET
                           : t->ac->reg_atmost && !strcmp(t->ac->reg_atmost, od->name)
                               ? REG_ATMOST : REG_EQUAL;
        for (;;) {
            bad = unheld = reg_cmp = reg_nonzero = reg_less = 0;
            for (uint32_t f0 = 0; f0 < t->ac->n_flows; f0 += 64) {
                size_t k = 0;
                for (uint32_t f = f0; f < f0 + 64 && f < t->ac->n_flows; f++)
                    if (t->flows[f].have_uk) {
                        plane_flow_key_mask(&t->flows[f].uk, od->key_fields, &keys[k]);
                        memset(want[k], 0, sizeof(want[k]));
                        (void)plane_object_get(plane_app_inst_object(replay.inst, o), &keys[k],
                                               sizeof(keys[k]), want[k]);
                        k++;
                    }
                size_t copies[64] = {0};
                for (int d = 0; d < N_PROCS; d++) {
                    if (!((alive >> d) & 1) || !k)
                        continue;
                    int e = read_entries(&c, d, t->r->app_id, o, keys, k, got, found);
                    if (e < 0) {
                        it_say("ENTRY_READ from %s: %s", proc_name[d], plane_strerror(e));
                        rc = -1;
                        break;
                    }
                    for (size_t i = 0; i < k; i++) {
                        if (!found[i])
                            continue;
                        copies[i]++;
                        bool less = how == REG_ATMOST &&
                                    memcmp(got[i], want[i], od->value_len) != 0;
                        if (less && reg_less++ < 3 && it_now_ms() > deadline - 19000)
                            it_say("%s: register %s of a flow counts less on %s: %" PRIu64 "/%" PRIu64
                                " (native words), the reference %" PRIu64 "/%" PRIu64,
                                t->ac->name, od->name, proc_name[d], get_ne64(got[i]),
                                get_ne64(got[i] + 8), get_ne64(want[i]), get_ne64(want[i] + 8));
                        if (!reg_equal(got[i], want[i], od->value_len, how) &&
                            bad++ < 3 && it_now_ms() > deadline)
                            it_say("%s: register %s of a flow differs: %s has %" PRIu64 "/%" PRIu64
                                ", the reference %" PRIu64 "/%" PRIu64, t->ac->name, od->name,
                                proc_name[d], get_ne64(got[i]), get_ne64(got[i] + 8),
                                get_ne64(want[i]), get_ne64(want[i] + 8));
                    }
                }
                for (size_t i = 0; i < k; i++) {
                    bool zero = true;
                    for (size_t b = 0; b < od->value_len; b++)
                        zero = zero && !want[i][b];
                    if (!copies[i] && !zero && !t->ac->reg_subset)
                        unheld++;
                    reg_cmp += copies[i];
                    reg_nonzero += !zero;
                }
            }
            /* A lower count may still be a hand-back on its way: only give
             * it until 1 s before the deadline to catch up. */
            if (rc < 0 || (bad == 0 && unheld == 0 && (reg_less == 0 ||
                                                       it_now_ms() > deadline - 19000)) ||
                it_now_ms() > deadline)
                break;
            it_sleep_ms(100);
        }
        if (reg_less)
            it_say("register %s: %zu copies count less than the single copy (see reg_atmost)",
                od->name, reg_less);
        n_less += reg_less;
        n_cmp += reg_cmp;
        n_nonzero += reg_nonzero;
        if (bad || unheld) {
            it_say("register %s: %zu copies differ from the reference, %zu non-zero entries held"
                " nowhere", od->name, bad, unheld);
            rc = -1;
        }
    }
    it_say("%zu per-flow registers, %zu copies of %zu non-zero entries checked in %" PRIu64 " ms: %s"
        " (%zu lower, allowed)", n_regs, n_cmp, n_nonzero, it_now_ms() - t0,
        rc == 0 ? (t->ac->reg_subset ? "within the reference" : "equal to the reference")
                : "NOT equal", n_less);
    it_ctl_close(&c);
    ref_uninit(&replay);
    return rc;
}

/* The test of one app; see the top comment. */
static int
run_app(struct traffic *t, uint64_t seed)
{
    struct rack *r = t->r;
    const uint32_t n_flows = t->ac->n_flows, n_open = n_flows * 3 / 4;
    for (int i = 0; i < N_PROCS; i++)
        CHECK(proc_start(r, i) == 0, "cannot start %s", proc_name[i]);
    if (traffic_wait_ready(t) < 0)
        return -1;
    size_t first = t->n;

    /* (1) Open 3/4 of the flows, then Zipf over them until the switch has
     * served a good share of a batch (promotions done). */
    size_t missing = traffic_open(t, 0, n_open);
    CHECK(missing == 0, "%zu packets of the flows' first packets did not come out", missing);
    struct it_zipf *z = &t->z;
    CHECK(it_zipf_init(z, n_open, 1.1) == 0, "out of memory");
    uint64_t rng = seed;
    uint64_t until = it_now_ms() + 30000;
    size_t hits = 0;
    while (it_now_ms() < until && hits < BATCH / 4) {
        memset(t->win_by, 0, sizeof(t->win_by));
        missing = traffic_run(t, 4 * BATCH, z, &rng, 20000);
        hits = t->win_by[P_SWITCH] / 4;
        if (missing)
            break;
    }
    if (!missing && t->ac->stage) {
        missing = t->ac->stage(t, 0, n_open);
        if (!missing)
            missing = traffic_run(t, 4 * BATCH, z, &rng, 20000);
    }
    print_by("before the kill", t->by_dev);
    CHECK(missing == 0, "before the kill: %zu packets did not come out",
          traffic_missing(t, first, t->n, true));
    CHECK(hits >= BATCH / 4, "the switch serves too little (%zu per batch of %d)", hits, BATCH);
    CHECK(t->by_dev[P_NIC0] && t->by_dev[P_NIC1], "both NICs should serve flows");

    /* (2) kill -9 nic0 under traffic; send until 3 batches come out whole. */
    it_say("kill -9 nic0 (pid %d)", (int)r->pid[P_NIC0]);
    CHECK(proc_stop(r, P_NIC0, SIGKILL), "nic0 did not die of SIGKILL");
    const uint32_t alive = ALL_PROCS & ~(1u << P_NIC0);
    size_t kill_idx = t->n, resume_idx = 0;
    t->kill_idx = kill_idx;
    size_t nic0_before = t->by_dev[P_NIC0];
    uint64_t t_kill = it_now_ms();
    int clean = 0;
    while (it_now_ms() < t_kill + 20000 && clean < 3) {
        size_t from = t->n;
        size_t m = traffic_run(t, BATCH, z, &rng, 500);
        if (m == 0 && clean++ == 0)
            resume_idx = from;
        else if (m)
            clean = 0;
    }
    CHECK(clean >= 3, "traffic did not resume within 20 s of the kill");
    /* Late egress of the window, if any, before counting it lost. */
    traffic_wait(t, kill_idx, 2000);
    size_t lost = traffic_missing(t, kill_idx, resume_idx, false);
    it_say("traffic resumed %zu packets after the kill; %zu lost", resume_idx - kill_idx, lost);

    /* (3) The remaining flows open on the survivors, then Zipf over all. */
    memset(t->win_by, 0, sizeof(t->win_by));
    missing = traffic_open(t, n_open, n_flows);
    if (!missing && t->ac->stage)
        missing = t->ac->stage(t, 1, n_flows);
    it_zipf_uninit(z);
    CHECK(it_zipf_init(z, n_flows, 1.1) == 0, "out of memory");
    if (!missing)
        missing = traffic_run(t, 8 * BATCH, z, &rng, 20000);
    print_by("after the kill", t->win_by);
    CHECK(missing == 0, "after failover: %zu packets did not come out",
          traffic_missing(t, resume_idx, t->n, true));
    CHECK(t->by_dev[P_NIC0] == nic0_before, "a dead nic0 processed packets");
    CHECK(t->win_by[P_NIC1] > 0 && t->win_by[P_SWITCH] > 0,
          "after the kill both the switch and the replica should serve");
    CHECK(t->n_moved > 0, "no flow nic0 served came out of its replica nic1 after the kill");
    it_say("%zu flows nic0 served were served by its replica after the kill", t->n_moved);

    /* The verdicts.  Every loss must lie in the failover window and be
     * one the switch counted: sent to a device and never answered, or
     * dropped for want of a live device. */
    traffic_wait(t, 0, 1000);
    char n_miss[96], n_proc[96], n_drop[96];
    snprintf(n_miss, sizeof(n_miss), "app.%s.misses", t->ac->name);
    snprintf(n_proc, sizeof(n_proc), "app.%s.dev_processed", t->ac->name);
    snprintf(n_drop, sizeof(n_drop), "app.%s.dev_dropped", t->ac->name);
    const char *const names[] = {n_miss, n_proc, n_drop, "device_down"};
    uint64_t v[4];
    CHECK(rack_stats(r, P_SWITCH, names, v, 4, false) == 0, "no STATS from the switch");
    uint64_t unanswered = v[0] - v[1] - v[2];
    it_say("switch: %" PRIu64 " misses, %" PRIu64 " answered, %" PRIu64 " dropped by devices,"
        " %" PRIu64 " device_down", v[0], v[1], v[2], v[3]);
    if (t->ac->cache_miss_ok)
        it_say("%zu requests the single copy answered from its cache went to the backend",
            t->n_cache_misses);
    CHECK(t->n_bad == 0 && t->n_dup == 0 && t->n_diff == 0,
          "%zu undecodable, %zu duplicate, %zu differing egress frames (seed %" PRIu64 ")",
          t->n_bad, t->n_dup, t->n_diff, seed);
    CHECK(traffic_missing(t, first, kill_idx, true) == 0 &&
          traffic_missing(t, resume_idx, t->n, true) == 0,
          "packets lost outside the failover window");
    CHECK(lost <= unanswered + v[3],
          "%zu packets lost in the failover window, the switch accounts for %" PRIu64, lost,
          unanswered + v[3]);
    size_t fwd = 0, drop = 0;
    for (size_t i = first; i < t->n; i++)
        t->pkts[i].exp_verdict == PLANE_V_FORWARD ? fwd++ : drop++;
    it_say("%zu packets: %zu forwarded and %zu dropped as the reference did", t->n - first, fwd,
        drop);
    return check_registers(t, alive, kill_idx, resume_idx);
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    it_set_name("app_rack_test");
    signal(SIGPIPE, SIG_IGN);
    if (argc != 2) {
        fprintf(stderr, "usage: %s APP\n", argv[0]);
        return 2;
    }
    nc_pick_keys(sizeof(nc_keys) / sizeof(nc_keys[0]));
    const struct app_case *ac = NULL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (!strcmp(cases[i].name, argv[1]))
            ac = &cases[i];
    if (!ac) {
        fprintf(stderr, "%s: no test for app %s\n", argv[0], argv[1]);
        return 2;
    }
    uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
    if (getenv("PLANE_TEST_SEED"))
        seed = strtoull(getenv("PLANE_TEST_SEED"), NULL, 0);
    it_say("%s: seed %" PRIu64 " (PLANE_TEST_SEED=%" PRIu64 " replays it)", ac->name, seed, seed);

    static struct rack r;
    static struct traffic t;
    t.r = &r;
    t.ac = ac;
    uint64_t start = it_now_ms();
    int rc = -1;
    if (rack_init(&r, ac->name) == 0 && ref_init(&t.ref, &r) == 0) {
        t.pkts = calloc(MAX_PKTS, sizeof(*t.pkts));
        t.flows = calloc(ac->n_flows, sizeof(*t.flows));
        t.sport_owner = calloc(65536, sizeof(*t.sport_owner));
        t.last_dev = calloc(ac->n_flows, 1);
        t.kill_idx = SIZE_MAX;
        if (t.pkts && t.flows && t.sport_owner && t.last_dev)
            rc = run_app(&t, seed);
    }
    ref_uninit(&t.ref);
    ref_uninit(&t.scratch);
    free(t.sport_owner);
    it_zipf_uninit(&t.z);
    free(t.last_dev);
    if (rack_fini(&r, rc < 0) < 0)
        rc = -1;
    free(t.pkts);
    free(t.flows);
    it_say("%s: %s in %" PRIu64 " ms (seed %" PRIu64 ")", ac->name, rc == 0 ? "PASSED" : "FAILED",
        it_now_ms() - start, seed);
    return rc == 0 ? 0 : 1;
}
