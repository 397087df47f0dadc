/* The planner: profiles apps against the rack and places key-space quanta on devices with an ILP (GLPK). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "workload.h"

/*
 * Model (paper section 5; docs/planner.md has the long form).
 *
 * Targets.  Target 0 is the switch.  The external devices form the other
 * targets: with aggregation (the default) devices identical in role, memory,
 * rate, cores, features and latency are one target of n_members devices, a
 * quantum placed on it being split evenly across them by hash ranges, so
 * the per-member load is the target's load / n_members and every capacity
 * row is scaled by n_members.  Without aggregation each device is a target.
 *
 * Quanta.  App p's keys, sorted by popularity, are cut into Q_p equal rank
 * ranges; F_pq is the traffic fraction of quantum q (Zipf: generalized
 * harmonic numbers, Euler-Maclaurin beyond a few hundred keys).
 *
 * Resource model (per member device, for one key = one flow of app p):
 *   switch   flow_entries  1 per key of a medium-affinity app (the flow
 *                          manager; high apps never leave the switch, low
 *                          apps never come to it, so they need none)
 *            sram_kb       table: epf x (key + value + 8) bytes
 *                          register: epf x value rounded up to 4-byte words
 *                          sketch (fixed): entries x value words
 *            tcam_entries  ternary (fixed): entries
 *            hash_units    (fixed) 1 per table, register and sketch
 *            alus          (fixed) 1 per register and sketch
 *   device   memory_mb     table: epf x (key + value + 16) bytes,
 *                          register: epf x value, sketch: entries x value,
 *                          ternary: entries x (2 x key + value) (fixed)
 *   both     rate_pps      W_p x F_pq x workload rate_pps per quantum
 * "Fixed" costs are paid once per member by an app using the target at all.
 * Latency: L_p,switch = switch_latency_us; L_p,device = switch_latency_us +
 * (workload override, else 5.5 us for a nic, 10 us for a server) + the
 * rack's emulated latency_us.
 *
 * ILP over binary x[p][q][t] (and y[p][t] = app p uses t, for fixed costs):
 *   (1) sum_t x[p][q][t] = 1            (2) x exists only where compatible
 *   (3) per target and resource: sum R x + fixed y <= n_members x cap
 *   (4) lat_p = sum_q,t F_pq L_pt x     (5) min sum_p W_p lat_p
 *   or max min_p sum_q,t F_pq / L_pt x  (expected per-packet service rate)
 *   rate: rate_pps is one more resource of every target with a limit.
 */

#define PLANE_PLAN_RESOURCE_MAP(X)                                             \
    X(FLOW_ENTRIES, flow_entries, "entries")                                   \
    X(SRAM,         sram_kb,      "KB")                                        \
    X(TCAM,         tcam_entries, "entries")                                   \
    X(HASH,         hash_units,   "units")                                     \
    X(ALU,          alus,         "units")                                     \
    X(MEMORY,       memory_mb,    "MB")                                        \
    X(RATE,         rate_pps,     "pps")

enum plane_plan_resource {
#define PLANE_PLAN_RES_(E, n, u) PLANE_RES_##E,
    PLANE_PLAN_RESOURCE_MAP(PLANE_PLAN_RES_)
#undef PLANE_PLAN_RES_
    PLANE_RES_COUNT
};

/* The YAML name of a resource ("sram_kb"), or "?". */
const char *plane_plan_resource_name(enum plane_plan_resource r);

enum plane_plan_objective {
    PLANE_PLAN_LATENCY = 0,      /* min sum_p W_p x lat_p */
    PLANE_PLAN_THROUGHPUT = 1,   /* max min_p expected service rate */
};

struct plane_plan_opts {
    enum plane_plan_objective objective;
    bool no_aggregate;           /* one target per device (exact, bigger ILP) */
    uint32_t time_limit_ms;      /* 0: 10000 */
    double mip_gap;              /* relative gap accepted; 0: proven optimal */
};

/* One placement target: the switch or a group of identical devices. */
struct plane_plan_target {
    char name[PLANE_CONFIG_NAME_MAX];   /* switch or first member's name */
    bool is_switch;
    size_t n_members;
    int *members;                /* indexes into rack->devices; owned */
    double cap[PLANE_RES_COUNT]; /* per member; < 0: unlimited / not present */
    uint32_t features;
    double latency_us;           /* device part, switch_latency_us excluded */
};

/* The profiler's output for one app: everything the ILP needs about it. */
struct plane_plan_app_profile {
    const struct plane_workload_app *app;    /* points into the workload */
    uint32_t n_quanta;
    uint64_t *rank_lo;           /* quantum q holds ranks [rank_lo, rank_lo + keys) */
    uint64_t *keys;
    double *frac;                /* F_pq, summing to 1 */
    bool *compat;                /* per target: features and affinity allow it */
    double *lat;                 /* L_pt per target, us */
    double *per_key;             /* [t * PLANE_RES_COUNT + r], per member */
    double *fixed;               /* [t * PLANE_RES_COUNT + r], per member */
    double rate_pps;             /* W_p x workload rate */
};

struct plane_plan_profile {
    const struct plane_config *rack;
    const struct plane_workload *wl;
    size_t n_targets;
    struct plane_plan_target *targets;
    size_t n_apps;
    struct plane_plan_app_profile *apps;
};

/* Per app result. */
struct plane_plan_app {
    uint32_t *assign;            /* target of each quantum; owned */
    double switch_share;         /* fraction of its traffic served at the switch */
    double latency_us;           /* expected, eq. (4) */
    double service_rate;         /* sum F / L, packets per us */
    uint64_t fm_entries;         /* switch flow-manager entries (0 unless medium) */
    uint64_t *keys_on;           /* per target, all members together */
    uint64_t *object_entries;    /* [t * n_objects + o], per member */
};

/* Per target result, per member. */
struct plane_plan_use {
    double used[PLANE_RES_COUNT];
    double load_pps;
    double share;                /* of the rack's traffic, per member */
};

/* A solved plan.  Owns its profile; free with plane_plan_delete(). */
struct plane_plan {
    struct plane_plan_profile *prof;
    enum plane_plan_objective objective;
    double objective_value;
    bool optimal;                /* false: best found within the time limit */
    double solve_ms;
    size_t n_vars, n_rows;
    struct plane_plan_app *apps; /* prof->n_apps */
    struct plane_plan_use *use;  /* prof->n_targets */
};

/*
 * Builds the profile of `wl` on `rack` (both must outlive it).  Returns 0 and
 * a new profile in *out (free with plane_plan_profile_delete()), or
 * PLANE_ENOSPC with err naming an app no target can run (features or
 * affinity), or PLANE_ENOMEM / PLANE_EINVAL.
 */
int plane_plan_profile_new(const struct plane_config *rack, const struct plane_workload *wl,
                           bool aggregate, struct plane_plan_profile **out, char *err,
                           size_t err_len);
void plane_plan_profile_delete(struct plane_plan_profile *prof);

/*
 * Plans `wl` on `rack`.  opts may be NULL (latency objective, aggregation,
 * 10 s limit).  On success stores a new plan in *out and returns 0.  Errors:
 * PLANE_ENOSPC when no placement fits, err then naming the resource(s), the
 * target, by how much they are short, the apps using them, and what to
 * relax; PLANE_ETIMEDOUT when the time limit passed before any placement
 * was found; PLANE_ENOMEM, PLANE_EINVAL.
 */
int plane_planner_solve(const struct plane_config *rack, const struct plane_workload *wl,
                        const struct plane_plan_opts *opts, struct plane_plan **out,
                        char *err, size_t err_len);
void plane_plan_delete(struct plane_plan *plan);

/*
 * Checks an assignment without any solver (for tests and sanity checks):
 * assign holds one target per quantum, app after app.  Returns true when it
 * is compatible and within every capacity, storing the objective value
 * (latency: sum W_p lat_p; throughput: min_p service rate) in *objective.
 */
bool plane_planner_evaluate(const struct plane_plan_profile *prof,
                            enum plane_plan_objective objective, const uint32_t *assign,
                            double *objective_value);

/*
 * Traffic fraction of Zipf(alpha) ranks (lo, hi] among n keys:
 * (H(hi) - H(lo)) / H(n), H the generalized harmonic number.
 */
double plane_planner_zipf_fraction(double alpha, uint64_t n, uint64_t lo, uint64_t hi);
/* H(n, alpha) = sum_{k=1..n} k^-alpha; exact for small n, Euler-Maclaurin beyond. */
double plane_planner_harmonic(uint64_t n, double alpha);

/*
 * Output.  The YAML fragment's shape is documented in docs/planner.md and
 * at plane_plan_write_yaml() in planner.c.  Each returns 0 or PLANE_EIO.
 */
int plane_plan_write_yaml(const struct plane_plan *plan, FILE *f);
int plane_plan_write_json(const struct plane_plan *plan, FILE *f);
int plane_plan_print_table(const struct plane_plan *plan, FILE *f);
