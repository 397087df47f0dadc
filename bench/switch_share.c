/* Switch-share benchmark: the share of packets served at the switch vs flow-manager size, against an oracle holding the true top keys. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/fault.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/wire_body.h"
#include "flowmgr.h"
#include "popularity.h"
#include "update.h"

PLANE_LOG_MODULE(switch_share);

/*
 * An in-process simulation of ExoPlane's hot-key loop (section 6) driving
 * Plane's real modules with a virtual clock:
 *
 *   packets   Zipf(alpha) over `flows` flows (rank -> flow by a random
 *             permutation; under churn the permutation is redrawn every
 *             --churn virtual seconds, as planegen gen --churn does);
 *   switch    plane_flowmgr_lookup() per packet: a hit is served at the
 *             switch, a miss goes to the external device owning the key
 *             (a hash of the key over --devices devices, as the switch
 *             shards misses over logical devices);
 *   devices   one plane_pop_tracker each, fed by MISSES only (exactly what
 *             device.c's data path observes), with the daemons' parameters
 *             (plane_pop_params_default(), popularity_interval_ms and
 *             popularity_threshold); every interval each device runs
 *             plane_pop_tick() + plane_pop_report() for at most DEV_POP_MAX
 *             keys, as dev_pop_timer_cb() does;
 *   POP_REPORT the switch's sw_h_pop(): keys not resident that
 *             plane_flowmgr_admits() (room, or hotter than the key a full
 *             switch would evict) are promoted with plane_update_promote_est()
 *             and their reported estimate (the real two-phase engine, whose full
 *             switch evicts plane_flowmgr_victim()'s victim; at most
 *             max_in_flight = 256 updates in flight, as switch.c leaves it);
 *   aging     sw_age_timer_cb(): plane_update_age() every idle_ms / 4 over a
 *             quarter of the buckets;
 *   DEMOTE    a demotion's collect step unmarks the key at its device
 *             (device_ctl.c's DEMOTE handler).
 *
 * What it does not model: the control plane's latency (install_entries and
 * collect_deltas complete synchronously, so a promotion takes effect at the
 * next packet, and a demotion after T_flush), lost RPCs, the app itself,
 * new-flow setup, replicas and failover, per-device rate caps, and the
 * devices' timers' phases (all report at the same instant).
 * The switch share is hits / packets over a window after the warm-up (at
 * least --warmup, then until the flow manager stops filling); the oracle
 * share for N entries is the sum of the N largest rank probabilities (under
 * churn the oracle knows each epoch's top keys at once, so its share is the
 * same number).  A churn run's window opens with a move of the hot set and
 * lasts one churn period: its share is the average with the hot set moving
 * every --churn seconds.
 *
 * Output: `name: value` lines (switch_share_vs_oracle is the minimum ratio
 * over every steady point, switch_share_vs_oracle_churn over every churn
 * point), and with --dat FILE one row per point for gnuplot.
 */

#define MAX_SIZES 16
#define MAX_ALPHAS 8
#define POP_MAX 64              /* device_internal.h DEV_POP_MAX: keys per report */

struct opts {
    uint64_t flows;
    double rate;                /* virtual packets per second */
    double warm_s;              /* virtual seconds before the window, at least */
    double max_warm_s;          /* ... and at most, while the switch still fills */
    double measure_s;           /* the window */
    double churn_s;             /* the hot set moves this often (churn runs) */
    double churn_measure_s;     /* a churn run's window */
    uint32_t sizes[MAX_SIZES];
    size_t n_sizes;
    double alphas[MAX_ALPHAS];
    size_t n_alphas;
    uint32_t devices;
    uint64_t interval_ms;       /* popularity_interval_ms */
    uint64_t threshold;         /* popularity_threshold */
    uint64_t idle_ms;           /* T_idle */
    uint64_t flush_ms;          /* T_flush */
    uint32_t victim_samples;
    int64_t rereport;           /* epochs; -1: the tracker's default */
    uint64_t seed;
    bool steady, churn, verbose;
    const char *dat;
    const char *suffix;         /* appended to every figure's name */
};

/* ---- randomness ---------------------------------------------------------- */

/* common/fault.h's xoshiro256** (seeded through splitmix64): plenty good for sampling. */
struct rng {
    uint64_t s[4];
};

static void
rng_seed(struct rng *r, uint64_t seed)
{
    plane_fault_prng_seed(r->s, seed);
}

static inline uint64_t
rng_next(struct rng *r)
{
    return plane_fault_prng_next(r->s);
}

/* Uniform in [0, n). */
static inline uint32_t
rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t) (((unsigned __int128) rng_next(r) * n) >> 64);
}

/* ---- Zipf: Vose's alias table over the exact rank probabilities ---------- */

struct zipf {
    uint32_t n;
    uint32_t *cut;              /* keep rank i when the low 32 bits < cut[i] */
    uint32_t *alias;
    double *top;                /* top[k] = P(rank < k), k in [0, n] */
};

static void
zipf_uninit(struct zipf *z)
{
    free(z->cut);
    free(z->alias);
    free(z->top);
    memset(z, 0, sizeof *z);
}

static int
zipf_init(struct zipf *z, uint32_t n, double alpha)
{
    memset(z, 0, sizeof *z);
    z->n = n;
    z->cut = malloc((size_t) n * sizeof *z->cut);
    z->alias = malloc((size_t) n * sizeof *z->alias);
    z->top = malloc(((size_t) n + 1) * sizeof *z->top);
    double *q = malloc((size_t) n * sizeof *q);
    uint32_t *small = malloc((size_t) n * sizeof *small);
    uint32_t *large = malloc((size_t) n * sizeof *large);
    if (!z->cut || !z->alias || !z->top || !q || !small || !large) {
        free(q);
        free(small);
        free(large);
        zipf_uninit(z);
        return PLANE_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        q[i] = pow((double) i + 1, -alpha);
    }
    long double h = 0;
    for (uint32_t i = n; i-- > 0;) {          /* smallest first: less rounding */
        h += q[i];
    }
    long double acc = 0;
    z->top[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += q[i] / h;
        z->top[i + 1] = (double) acc;
        q[i] = (double) (q[i] / h * n);
    }
    uint32_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (q[i] < 1.0) {
            small[ns++] = i;
        } else {
            large[nl++] = i;
        }
    }
    while (ns && nl) {
        uint32_t sm = small[--ns], l = large[nl - 1];
        z->cut[sm] = (uint32_t) fmin(q[sm] * 4294967296.0, 4294967295.0);
        z->alias[sm] = l;
        q[l] -= 1.0 - q[sm];
        if (q[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What is left has probability 1 up to rounding: always kept. */
    while (nl) {
        uint32_t l = large[--nl];
        z->cut[l] = UINT32_MAX;
        z->alias[l] = l;
    }
    while (ns) {
        uint32_t sm = small[--ns];
        z->cut[sm] = UINT32_MAX;
        z->alias[sm] = sm;
    }
    free(q);
    free(small);
    free(large);
    return 0;
}

/*
 * The sampler of one hot set: the alias table with both outcomes already
 * mapped rank -> flow, so a packet costs one random cache line.
 */
struct flow_sampler {
    uint32_t cut;
    uint32_t flow;              /* perm[i] */
    uint32_t other;             /* perm[alias[i]] */
};

static void
sampler_build(struct flow_sampler *fs, const struct zipf *z, const uint32_t *perm)
{
    for (uint32_t i = 0; i < z->n; i++) {
        fs[i].cut = z->cut[i];
        fs[i].flow = perm[i];
        fs[i].other = perm[z->alias[i]];
    }
}

/*
 * Draws run SAMPLE_AHEAD packets ahead of their use, so the table's entry
 * (a DRAM miss: the index is uniform over the flows) is prefetched by the
 * time the packet needs it.
 */
#define SAMPLE_AHEAD 16

struct sample_ring {
    uint64_t x[SAMPLE_AHEAD];
    uint32_t at;
};

static inline uint32_t
sampler_index(uint64_t x, uint32_t n)
{
    return (uint32_t) (((x >> 32) * n) >> 32);
}

static void
ring_fill(struct sample_ring *q, const struct flow_sampler *fs, uint32_t n, struct rng *r)
{
    for (uint32_t i = 0; i < SAMPLE_AHEAD; i++) {
        q->x[i] = rng_next(r);
        __builtin_prefetch(&fs[sampler_index(q->x[i], n)]);
    }
    q->at = 0;
}

static inline uint32_t
sampler_next(const struct flow_sampler *fs, uint32_t n, struct sample_ring *q, struct rng *r)
{
    uint64_t x = q->x[q->at];
    uint64_t y = rng_next(r);
    q->x[q->at] = y;
    q->at = (q->at + 1) % SAMPLE_AHEAD;
    __builtin_prefetch(&fs[sampler_index(y, n)]);
    const struct flow_sampler *e = &fs[sampler_index(x, n)];
    return (uint32_t) x < e->cut ? e->flow : e->other;
}

/* The oracle's share: the probability mass of the n hottest ranks. */
static double
zipf_oracle(const struct zipf *z, uint32_t n)
{
    return z->top[n < z->n ? n : z->n];
}

/* ---- the simulated rack -------------------------------------------------- */

static void
flow_key(uint32_t flow, struct plane_flow_key *k)
{
    memset(k, 0, sizeof *k);
    k->ip_version = 4;
    k->proto = 17;
    k->src_addr[10] = k->src_addr[11] = 0xff;
    k->src_addr[12] = 10;
    k->src_addr[13] = (uint8_t) (flow >> 16);
    k->src_addr[14] = (uint8_t) (flow >> 8);
    k->src_addr[15] = (uint8_t) flow;
    k->dst_addr[10] = k->dst_addr[11] = 0xff;
    k->dst_addr[12] = 192;
    k->dst_addr[13] = 168;
    k->dst_addr[15] = 1;
    k->src_port = (uint16_t) (1024 + (flow >> 24));
    k->dst_port = 4791;
}

struct sim {
    const struct opts *o;
    struct plane_flowmgr *fm;
    struct plane_update *upd;
    struct plane_pop_tracker *dev;
    struct plane_hasher hasher;     /* the flow manager's keyed hash, as the rack's */
    uint64_t now;
    uint64_t promotes, refused, unmarks, cold;
};

/* The flow id flow_key() wrote into k. */
static uint32_t
flow_of(const struct plane_flow_key *k)
{
    return ((uint32_t) (k->src_port - 1024) << 24) | ((uint32_t) k->src_addr[13] << 16)
           | ((uint32_t) k->src_addr[14] << 8) | k->src_addr[15];
}

/*
 * The device a key's misses go to.  The switch shards by a keyed hash of
 * the key; a mix of the flow id spreads keys the same way for this purpose
 * and costs no second hash per miss.
 */
static uint32_t
sim_dev_of(const struct sim *s, const struct plane_flow_key *k)
{
    uint64_t x = flow_of(k) ^ s->o->seed;
    return plane_hash_shard(plane_fault_prng_mix(&x), s->o->devices);
}

/* install_entries: the ENTRY_READ round trip, completed at once. */
static void
op_install(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct sim *s = arg;
    (void) key;
    plane_update_done(s->upd, ticket, 0, s->now);
}

static void
op_remove(void *arg, const struct plane_flow_key *key)
{
    (void) arg;
    (void) key;
}

/* collect_deltas: the DEMOTE hand-back; the device forgets it reported the key. */
static void
op_collect(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct sim *s = arg;
    if (plane_pop_unmark(&s->dev[sim_dev_of(s, key)], key, sizeof *key)) {
        s->unmarks++;
    }
    plane_update_done(s->upd, ticket, 0, s->now);
}

static void
sim_uninit(struct sim *s)
{
    plane_update_delete(s->upd);
    plane_flowmgr_delete(s->fm);
    if (s->dev) {
        for (uint32_t i = 0; i < s->o->devices; i++) {
            plane_pop_tracker_uninit(&s->dev[i]);
        }
        plane_free(s->dev);
    }
    plane_hasher_uninit(&s->hasher);
}

static int
sim_init(struct sim *s, const struct opts *o, uint32_t entries)
{
    memset(s, 0, sizeof *s);
    s->o = o;
    uint64_t hseed = o->seed ^ 0x7368617264ULL;
    int rc = plane_hasher_init(&s->hasher, &hseed, sizeof hseed);
    if (rc) {
        return rc;
    }
    /* The switch's update engine as switch.c sets it up (the retries do
     * not matter: collects never fail here). */
    struct plane_update_config ucfg = {
        .t_flush_ns = o->flush_ms * PLANE_NS_PER_MS,
    };
    struct plane_update_ops ops = {
        .install_entries = op_install,
        .remove_entries = op_remove,
        .collect_deltas = op_collect,
    };
    s->fm = plane_flowmgr_new(entries, &s->hasher);
    s->upd = s->fm ? plane_update_new(&ucfg, s->fm, &ops, s) : NULL;
    s->dev = plane_calloc(o->devices, sizeof *s->dev);
    if (!s->fm || !s->upd || !s->dev) {
        return PLANE_ENOMEM;
    }
    if (o->victim_samples) {
        plane_flowmgr_set_victim_samples(s->fm, o->victim_samples);
    }
    /* switch.c sw_app_init(): estimates decay as the devices' sketches do. */
    plane_flowmgr_set_epoch(s->fm, o->interval_ms * PLANE_NS_PER_MS);
    for (uint32_t i = 0; i < o->devices; i++) {
        /* device.c dev_load_apps(): defaults, the rack's interval and threshold. */
        struct plane_pop_params pp;
        plane_pop_params_default(&pp);
        pp.seed = o->seed;
        pp.epoch_ns = o->interval_ms * PLANE_NS_PER_MS;
        pp.hot_threshold = o->threshold;
        if (o->rereport >= 0) {
            pp.rereport_epochs = (uint32_t) o->rereport;
        }
        rc = plane_pop_tracker_init(&s->dev[i], &pp);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* The devices' popularity timers and the switch's sw_h_pop(). */
static void
sim_report(struct sim *s)
{
    struct plane_body_pop_item items[POP_MAX];
    for (uint32_t d = 0; d < s->o->devices; d++) {
        plane_pop_tick(&s->dev[d], s->now);
        uint32_t n = plane_pop_report(&s->dev[d], items, POP_MAX);
        for (uint32_t i = 0; i < n; i++) {
            struct plane_flow_key k;
            if (items[i].union_key_len != sizeof k) {
                continue;
            }
            memcpy(&k, items[i].union_key, sizeof k);
            if (plane_flowmgr_contains(s->fm, &k)) {
                continue;
            }
            if (!plane_flowmgr_admits(s->fm, items[i].count, s->now)) {
                s->cold++;
                continue;
            }
            int rc = plane_update_promote_est(s->upd, &k, items[i].count, s->now);
            if (rc == 0) {
                s->promotes++;
            } else {
                s->refused++;
                if (s->o->verbose) {
                    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
                    PLANE_WARN_RL(&rl, "promote: %s", plane_err_name(rc));
                }
            }
        }
    }
}

/* Fisher-Yates: rank -> flow. */
static void
shuffle(uint32_t *perm, uint32_t n, struct rng *r)
{
    for (uint32_t i = 0; i < n; i++) {
        perm[i] = i;
    }
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(r, i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

struct point {
    uint32_t entries;
    double alpha;
    bool churn;
    double share, oracle, ratio;
    uint64_t promotes, refused;
};

static inline uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/*
 * One run: entries flow-manager entries, Zipf z, steady or churn.  Returns
 * 0 and fills *pt, or a negative PLANE_E* code.
 */
static int
run_point(const struct opts *o, const struct zipf *z, uint32_t *perm, struct flow_sampler *fs,
          uint32_t entries, bool churn, struct point *pt)
{
    struct sim s;
    int rc = sim_init(&s, o, entries);
    if (rc) {
        sim_uninit(&s);
        return rc;
    }
    struct rng r;
    rng_seed(&r, o->seed * 1000003 + entries);
    struct rng pr;
    rng_seed(&pr, o->seed ^ 0x686f742073657421ULL);   /* the first hot set: one per seed */
    shuffle(perm, z->n, &pr);
    sampler_build(fs, z, perm);
    struct sample_ring ring;
    ring_fill(&ring, fs, z->n, &r);

    const double ns_per_pkt = 1e9 / o->rate;
    const uint64_t t0 = PLANE_NS_PER_SEC;
    /*
     * The warm-up lasts at least warm_s and then until the switch has
     * converged: full, or its resident count grew by less than 1% (and 16
     * keys) over the last virtual second (promotions are paced by the devices' report
     * budget, so a big flow manager takes tens of seconds to fill), or
     * max_warm_s has passed.
     */
    const uint64_t warm_min = t0 + (uint64_t) (o->warm_s * 1e9);
    const uint64_t warm_max = t0 + (uint64_t) (fmax(o->warm_s, o->max_warm_s) * 1e9);
    const uint64_t window_ns = (uint64_t) ((churn ? o->churn_measure_s : o->measure_s) * 1e9);
    uint64_t end = UINT64_MAX, next_check = warm_min;
    uint32_t last_count = 0;
    const uint64_t report_ns = o->interval_ms * PLANE_NS_PER_MS;
    const uint64_t age_ns = o->idle_ms / 4 ? o->idle_ms / 4 * PLANE_NS_PER_MS : PLANE_NS_PER_MS;
    const uint64_t idle_ns = o->idle_ms * PLANE_NS_PER_MS;
    const uint64_t churn_ns = churn ? (uint64_t) (o->churn_s * 1e9) : 0;
    /* Churn starts with the window, so the first move is of a converged hot set. */
    uint64_t next_churn = UINT64_MAX;
    uint64_t next_report = t0 + report_ns, next_age = t0 + age_ns;
    uint64_t pkts = 0, hits = 0, prom0 = 0, ref0 = 0, cold0 = 0;
    bool in_window = false;
    double warm_s = 0;

    for (uint64_t i = 0;; i++) {
        s.now = t0 + (uint64_t) ((double) i * ns_per_pkt);
        if (s.now >= end) {
            break;
        }
        uint64_t upd_due = plane_update_next_deadline(s.upd);
        if (s.now >= min_u64(min_u64(next_report, next_age), min_u64(upd_due, next_churn))) {
            if (s.now >= upd_due) {
                plane_update_tick(s.upd, s.now);
            }
            if (s.now >= next_report) {
                sim_report(&s);
                next_report += report_ns;
            }
            if (s.now >= next_age) {
                uint32_t slice = plane_flowmgr_n_buckets(s.fm) / 4 + 1;
                plane_update_age(s.upd, s.now, idle_ns, slice);
                next_age += age_ns;
            }
            if (s.now >= next_churn) {
                shuffle(perm, z->n, &pr);
                sampler_build(fs, z, perm);
                ring_fill(&ring, fs, z->n, &r);
                next_churn += churn_ns;
            }
        }
        if (!in_window && s.now >= next_check) {
            uint32_t count = plane_flowmgr_count(s.fm);
            bool full = count + plane_update_in_flight(s.upd) >= entries;
            if (full || count < last_count + last_count / 100 + 16 || s.now >= warm_max) {
                in_window = true;
                warm_s = (double) (s.now - t0) / 1e9;
                end = s.now + window_ns;
                if (churn_ns) {
                    /* The window opens with a move of the hot set. */
                    shuffle(perm, z->n, &pr);
                    sampler_build(fs, z, perm);
                    ring_fill(&ring, fs, z->n, &r);
                    next_churn = s.now + churn_ns;
                }
                prom0 = s.promotes;
                ref0 = s.refused;
                cold0 = s.cold;
            }
            last_count = count;
            next_check = s.now + PLANE_NS_PER_SEC;
        }
        struct plane_flow_key k;
        flow_key(sampler_next(fs, z->n, &ring, &r), &k);
        bool hit = plane_flowmgr_lookup(s.fm, &k, s.now);
        if (!hit) {
            plane_pop_observe(&s.dev[sim_dev_of(&s, &k)], &k, sizeof k, 1, s.now);
        }
        if (in_window) {
            pkts++;
            hits += hit;
        }
    }
    pt->entries = entries;
    pt->churn = churn;
    pt->share = pkts ? (double) hits / (double) pkts : 0;
    pt->oracle = zipf_oracle(z, entries);
    pt->ratio = pt->oracle > 0 ? pt->share / pt->oracle : 0;
    pt->promotes = s.promotes - prom0;
    pt->refused = s.refused - ref0;
    if (o->verbose) {
        double win_s = (double) window_ns / 1e9;
        fprintf(stderr, "  N=%-6u %-6s share %.4f oracle %.4f ratio %.3f resident %u warm-up %.0f s"
                " promotes %" PRIu64 " (%.0f/s) refused %" PRIu64 " cold %" PRIu64
                " unmarks %" PRIu64 "\n",
                entries, churn ? "churn" : "steady", pt->share, pt->oracle, pt->ratio,
                plane_flowmgr_count(s.fm), warm_s, pt->promotes,
                win_s > 0 ? (double) pt->promotes / win_s : 0, pt->refused, s.cold - cold0,
                s.unmarks);
    }
    sim_uninit(&s);
    return 0;
}

/* ---- options ------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: switch_share [options]\n"
        "  --flows N         flows (1000000)\n"
        "  --rate PPS        virtual packet rate (1000000)\n"
        "  --warmup S        virtual seconds before the window, at least (2)\n"
        "  --max-warmup S    ... and at most, while the switch still fills (60)\n"
        "  --measure S       virtual seconds of a steady run's window (1)\n"
        "  --churn S         churn runs move the hot set every S virtual seconds (1.5)\n"
        "  --churn-measure S virtual seconds of a churn run's window (one churn period,\n"
        "                    which opens with a move of the hot set)\n"
        "  --sizes A,B,..    flow-manager entries (1024,2048,...,65536)\n"
        "  --alphas A,B,..   Zipf exponents (0.9,0.95,0.99)\n"
        "  --devices N       external devices sharing the misses (3)\n"
        "  --interval MS     popularity_interval_ms (100)\n"
        "  --threshold N     popularity_threshold (2, the daemons' default)\n"
        "  --idle MS         idle_ms, T_idle (1000)\n"
        "  --flush MS        flush_ms, T_flush (10)\n"
        "  --victim-samples K  plane_flowmgr_set_victim_samples (flowmgr default)\n"
        "  --rereport E      the trackers' rereport_epochs (plane_pop_params_default)\n"
        "  --seed N          (1)\n"
        "  --steady-only, --churn-only\n"
        "  --quick           fewer sizes and shorter runs\n"
        "  --dat FILE        write one row per point for gnuplot\n"
        "  --suffix S        append S to every figure's name (e.g. _thr2)\n"
        "  --oracle N        print the oracle share of N entries (with --alpha, --flows) and exit\n"
        "  --alpha A         the exponent for --oracle (0.99)\n"
        "  -v                one line per point on stderr\n");
}

static int
parse_list_u32(const char *s, uint32_t *out, size_t max, size_t *n)
{
    *n = 0;
    while (*s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (end == s || v == 0 || v > PLANE_FLOWMGR_MAX_CAPACITY || *n == max) {
            return -1;
        }
        out[(*n)++] = (uint32_t) v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            return -1;
        }
    }
    return *n ? 0 : -1;
}

static int
parse_list_double(const char *s, double *out, size_t max, size_t *n)
{
    *n = 0;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !(v >= 0 && v <= 10) || *n == max) {
            return -1;
        }
        out[(*n)++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            return -1;
        }
    }
    return *n ? 0 : -1;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    struct opts o = {
        .flows = 1000000, .rate = 1e6, .warm_s = 2, .max_warm_s = 60, .measure_s = 1, .churn_s = 1.5,
        .devices = 3, .interval_ms = 100, .threshold = 2, .idle_ms = 1000, .flush_ms = 10,
        .seed = 1, .steady = true, .churn = true, .rereport = -1,
    };
    uint32_t oracle_n = 0;
    double oracle_alpha = 0.99;
    bool quick = false, sizes_set = false;
    for (uint32_t n = 1024; n <= 65536; n *= 2) {
        o.sizes[o.n_sizes++] = n;
    }
    o.alphas[0] = 0.9;
    o.alphas[1] = 0.95;
    o.alphas[2] = 0.99;
    o.n_alphas = 3;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool bad = false;
#define ARG(name) (!strcmp(a, name) && (v ? (i++, true) : (bad = true, false)))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-v")) {
            o.verbose = true;
        } else if (!strcmp(a, "--quick")) {
            quick = true;
        } else if (!strcmp(a, "--steady-only")) {
            o.churn = false;
        } else if (!strcmp(a, "--churn-only")) {
            o.steady = false;
        } else if (ARG("--flows")) {
            o.flows = strtoull(v, NULL, 10);
        } else if (ARG("--rate")) {
            o.rate = strtod(v, NULL);
        } else if (ARG("--warmup")) {
            o.warm_s = strtod(v, NULL);
        } else if (ARG("--max-warmup")) {
            o.max_warm_s = strtod(v, NULL);
        } else if (ARG("--measure")) {
            o.measure_s = strtod(v, NULL);
        } else if (ARG("--churn")) {
            o.churn_s = strtod(v, NULL);
        } else if (ARG("--churn-measure")) {
            o.churn_measure_s = strtod(v, NULL);
        } else if (ARG("--sizes")) {
            bad = parse_list_u32(v, o.sizes, MAX_SIZES, &o.n_sizes) != 0;
            sizes_set = true;
        } else if (ARG("--alphas")) {
            bad = parse_list_double(v, o.alphas, MAX_ALPHAS, &o.n_alphas) != 0;
        } else if (ARG("--devices")) {
            o.devices = (uint32_t) strtoul(v, NULL, 10);
        } else if (ARG("--interval")) {
            o.interval_ms = strtoull(v, NULL, 10);
        } else if (ARG("--threshold")) {
            o.threshold = strtoull(v, NULL, 10);
        } else if (ARG("--idle")) {
            o.idle_ms = strtoull(v, NULL, 10);
        } else if (ARG("--flush")) {
            o.flush_ms = strtoull(v, NULL, 10);
        } else if (ARG("--victim-samples")) {
            o.victim_samples = (uint32_t) strtoul(v, NULL, 10);
        } else if (ARG("--rereport")) {
            o.rereport = strtoll(v, NULL, 10);
        } else if (ARG("--seed")) {
            o.seed = strtoull(v, NULL, 10);
        } else if (ARG("--dat")) {
            o.dat = v;
        } else if (ARG("--suffix")) {
            o.suffix = v;
        } else if (ARG("--oracle")) {
            oracle_n = (uint32_t) strtoul(v, NULL, 10);
        } else if (ARG("--alpha")) {
            oracle_alpha = strtod(v, NULL);
        } else {
            bad = true;
        }
#undef ARG
        if (bad) {
            fprintf(stderr, "switch_share: bad argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o.flows == 0 || o.flows > UINT32_MAX / 2 || !(o.rate >= 1) || o.devices == 0
        || o.devices > 64 || o.interval_ms == 0 || o.threshold == 0 || o.flush_ms == 0
        || !(o.warm_s >= 0) || !(o.measure_s > 0) || !(o.churn_s > 0)
        || !(o.churn_measure_s >= 0)) {
        fprintf(stderr, "switch_share: an option is out of range\n");
        return 2;
    }
    plane_log_set_default_level(PLANE_LOG_WARN);

    if (oracle_n) {
        struct zipf z;
        if (zipf_init(&z, (uint32_t) o.flows, oracle_alpha)) {
            fprintf(stderr, "switch_share: out of memory\n");
            return 1;
        }
        printf("oracle_share: %.6f\n", zipf_oracle(&z, oracle_n));
        zipf_uninit(&z);
        return 0;
    }
    if (quick) {
        if (!sizes_set) {
            o.n_sizes = 0;
            o.sizes[o.n_sizes++] = 1024;
            o.sizes[o.n_sizes++] = 8192;
            o.sizes[o.n_sizes++] = 65536;
        }
        o.warm_s /= 2;
        o.measure_s /= 2;
    }
    if (o.churn_measure_s == 0) {
        o.churn_measure_s = o.churn_s;
    }

    FILE *dat = NULL;
    if (o.dat) {
        dat = fopen(o.dat, "w");
        if (!dat) {
            perror(o.dat);
            return 1;
        }
        fprintf(dat, "# fm_entries alpha mode share oracle ratio\n");
    }
    uint32_t *perm = malloc(o.flows * sizeof *perm);
    struct flow_sampler *fs = malloc(o.flows * sizeof *fs);
    if (!perm || !fs) {
        fprintf(stderr, "switch_share: out of memory\n");
        return 1;
    }
    double t_start = now_s();
    const char *sfx = o.suffix ? o.suffix : "";
    double min_steady = INFINITY, min_churn = INFINITY;
    int status = 0;
    for (size_t ai = 0; ai < o.n_alphas && !status; ai++) {
        struct zipf z;
        if (zipf_init(&z, (uint32_t) o.flows, o.alphas[ai])) {
            fprintf(stderr, "switch_share: out of memory\n");
            status = 1;
            break;
        }
        for (int mode = 0; mode < 2 && !status; mode++) {
            bool churn = mode == 1;
            if ((churn && !o.churn) || (!churn && !o.steady)) {
                continue;
            }
            if (o.verbose) {
                fprintf(stderr, "alpha %.2f %s\n", o.alphas[ai], churn ? "churn" : "steady");
            }
            for (size_t si = 0; si < o.n_sizes; si++) {
                struct point pt;
                int rc = run_point(&o, &z, perm, fs, o.sizes[si], churn, &pt);
                if (rc) {
                    fprintf(stderr, "switch_share: %s\n", plane_strerror(rc));
                    status = 1;
                    break;
                }
                pt.alpha = o.alphas[ai];
                if (dat) {
                    fprintf(dat, "%u %.2f %s %.6f %.6f %.4f\n", pt.entries, pt.alpha,
                            churn ? "churn" : "steady", pt.share, pt.oracle, pt.ratio);
                }
                if (churn) {
                    min_churn = fmin(min_churn, pt.ratio);
                } else {
                    min_steady = fmin(min_steady, pt.ratio);
                    printf("switch_share_vs_oracle%s_%.2f_%u: %.3f\n", sfx, pt.alpha,
                           pt.entries, pt.ratio);
                }
            }
        }
        zipf_uninit(&z);
    }
    free(perm);
    free(fs);
    if (dat) {
        fclose(dat);
    }
    if (status) {
        return status;
    }
    if (o.steady) {
        printf("switch_share_vs_oracle%s: %.3f\n", sfx, min_steady);
    }
    if (o.churn) {
        printf("switch_share_vs_oracle_churn%s: %.3f\n", sfx, min_churn);
    }
    printf("switch_share_runtime_s%s: %.1f\n", sfx, now_s() - t_start);
    return 0;
}
