/* The planner: profiler, ILP placement of key-space quanta (GLPK), infeasibility diagnosis and output. */
#include "planner.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include <glpk.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/log.h"

PLANE_LOG_MODULE(planner);

#define TABLE_SW_OVERHEAD   8.0    /* bytes per switch table entry (match overhead) */
#define TABLE_EXT_OVERHEAD  16.0   /* bytes per device table entry (hash bucket) */
#define NIC_LATENCY_US      5.5    /* paper: 5.1-6.1 us at the external device */
#define SERVER_LATENCY_US   10.0
#define DEFAULT_TIME_LIMIT  10000
#define EPS                 1e-9

static const char *const resource_names[] = {
#define RES_NAME_(E, n, u) #n,
    PLANE_PLAN_RESOURCE_MAP(RES_NAME_)
#undef RES_NAME_
};

const char *
plane_plan_resource_name(enum plane_plan_resource r)
{
    return (unsigned)r < PLANE_RES_COUNT ? resource_names[r] : "?";
}

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* Appends to a NUL-terminated message buffer, silently cut when full. */
static void __attribute__((format(printf, 3, 4)))
append(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len) {
        return;
    }
    size_t o = strnlen(buf, len);
    if (o + 1 >= len) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + o, len - o, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------
 * Zipf quantum fractions.
 */

#define HARMONIC_EXACT 256

double
plane_planner_harmonic(uint64_t n, double s)
{
    if (n <= HARMONIC_EXACT) {
        double h = 0;
        /* Smallest terms first, for accuracy. */
        for (uint64_t k = n; k >= 1; k--) {
            h += pow((double)k, -s);
        }
        return h;
    }
    /*
     * sum_{k<K} k^-s exactly, then sum_{k=K..n} f(k) by Euler-Maclaurin:
     * integral + (f(K) + f(n)) / 2 + B2/2! (f'(n) - f'(K)) + B4/4! (f'''(n) - f'''(K)).
     * With K = 256 the remainder is far below double precision for s <= 10,
     * so 10M keys cost as much as 1000.
     */
    const double K = HARMONIC_EXACT;
    double h = plane_planner_harmonic(HARMONIC_EXACT - 1, s);
    double N = (double)n;
    double integral = fabs(s - 1.0) < 1e-12 ? log(N / K)
                                              : (pow(N, 1.0 - s) - pow(K, 1.0 - s)) / (1.0 - s);
    double f1n = -s * pow(N, -s - 1), f1k = -s * pow(K, -s - 1);
    double c3 = -s * (s + 1) * (s + 2);
    double f3n = c3 * pow(N, -s - 3), f3k = c3 * pow(K, -s - 3);
    h += integral + (pow(K, -s) + pow(N, -s)) / 2 + (f1n - f1k) / 12.0 - (f3n - f3k) / 720.0;
    return h;
}

double
plane_planner_zipf_fraction(double alpha, uint64_t n, uint64_t lo, uint64_t hi)
{
    if (n == 0 || hi <= lo) {
        return 0;
    }
    if (hi > n) {
        hi = n;
    }
    double hn = plane_planner_harmonic(n, alpha);
    /* Tail ranges are differences of close numbers; sum them directly when short. */
    if (hi - lo <= HARMONIC_EXACT) {
        double s = 0;
        for (uint64_t k = hi; k > lo; k--) {
            s += pow((double)k, -alpha);
        }
        return s / hn;
    }
    return (plane_planner_harmonic(hi, alpha) - plane_planner_harmonic(lo, alpha)) / hn;
}

/* ---------------------------------------------------------------------------
 * Profiler.
 */

static double
device_latency(const struct plane_config_device *d, const struct plane_workload *wl)
{
    double base = d->role == PLANE_ROLE_NIC ? NIC_LATENCY_US : SERVER_LATENCY_US;
    for (size_t i = 0; i < wl->n_devices; i++) {
        if (!strcmp(wl->devices[i].name, d->name) && wl->devices[i].has_latency) {
            base = wl->devices[i].latency_us;
        }
    }
    return base + d->latency_us;
}

static double
switch_latency(const struct plane_config *rack, const struct plane_workload *wl)
{
    for (size_t i = 0; i < wl->n_devices; i++) {
        if (!strcmp(wl->devices[i].name, rack->sw.name) && wl->devices[i].has_latency) {
            return wl->devices[i].latency_us;
        }
    }
    return wl->switch_latency_us;
}

/* Devices interchangeable for placement: same capacities, features and latency. */
static bool
same_kind(const struct plane_config_device *a, const struct plane_config_device *b,
          const struct plane_workload *wl)
{
    return a->role == b->role && a->memory_mb == b->memory_mb && a->rate_pps == b->rate_pps
           && a->cores == b->cores && a->features == b->features
           && device_latency(a, wl) == device_latency(b, wl);
}

static int
build_targets(struct plane_plan_profile *prof, bool aggregate)
{
    const struct plane_config *rack = prof->rack;
    prof->targets = plane_calloc(rack->n_devices + 1, sizeof *prof->targets);
    if (!prof->targets) {
        return PLANE_ENOMEM;
    }
    struct plane_plan_target *sw = &prof->targets[0];
    snprintf(sw->name, sizeof sw->name, "%s", rack->sw.name);
    sw->is_switch = true;
    sw->n_members = 1;
    sw->features = rack->sw.features;
    for (int r = 0; r < PLANE_RES_COUNT; r++) {
        sw->cap[r] = -1;
    }
    const struct plane_config_capacities *c = &rack->sw.capacities;
    sw->cap[PLANE_RES_FLOW_ENTRIES] = c->flow_entries;
    sw->cap[PLANE_RES_SRAM] = c->sram_kb;
    sw->cap[PLANE_RES_TCAM] = c->tcam_entries;
    sw->cap[PLANE_RES_HASH] = c->hash_units;
    sw->cap[PLANE_RES_ALU] = c->alus;
    if (rack->sw.rate_pps) {
        sw->cap[PLANE_RES_RATE] = (double)rack->sw.rate_pps;
    }
    prof->n_targets = 1;

    for (size_t i = 0; i < rack->n_devices; i++) {
        const struct plane_config_device *d = &rack->devices[i];
        struct plane_plan_target *t = NULL;
        for (size_t k = 1; aggregate && k < prof->n_targets; k++) {
            if (same_kind(&rack->devices[prof->targets[k].members[0]], d, prof->wl)) {
                t = &prof->targets[k];
            }
        }
        if (!t) {
            t = &prof->targets[prof->n_targets++];
            snprintf(t->name, sizeof t->name, "%s", d->name);
            t->members = plane_calloc(rack->n_devices, sizeof *t->members);
            if (!t->members) {
                return PLANE_ENOMEM;
            }
            for (int r = 0; r < PLANE_RES_COUNT; r++) {
                t->cap[r] = -1;
            }
            t->cap[PLANE_RES_MEMORY] = d->memory_mb;
            if (d->rate_pps) {
                t->cap[PLANE_RES_RATE] = (double)d->rate_pps;
            }
            t->features = d->features;
            t->latency_us = device_latency(d, prof->wl);
        }
        t->members[t->n_members++] = (int)i;
    }
    return 0;
}

/* Per-key and fixed resource use of app a on target t (see planner.h). */
static void
object_costs(const struct plane_workload_app *a, const struct plane_plan_target *t,
             double *per_key, double *fixed)
{
    for (size_t i = 0; i < a->n_objects; i++) {
        const struct plane_workload_object *o = &a->objects[i];
        double epf = o->entries_per_flow, key = o->key_bytes, val = o->value_bytes;
        double words = ceil(val / 4.0) * 4.0, ent = (double)o->entries;
        if (t->is_switch) {
            switch (o->kind) {
            case PLANE_WL_OBJ_TABLE:
                per_key[PLANE_RES_SRAM] += epf * (key + val + TABLE_SW_OVERHEAD) / 1024.0;
                fixed[PLANE_RES_HASH] += 1;
                break;
            case PLANE_WL_OBJ_REGISTER:
                per_key[PLANE_RES_SRAM] += epf * words / 1024.0;
                fixed[PLANE_RES_HASH] += 1;
                fixed[PLANE_RES_ALU] += 1;
                break;
            case PLANE_WL_OBJ_SKETCH:
                fixed[PLANE_RES_SRAM] += ent * words / 1024.0;
                fixed[PLANE_RES_HASH] += 1;
                fixed[PLANE_RES_ALU] += 1;
                break;
            case PLANE_WL_OBJ_TERNARY:
                fixed[PLANE_RES_TCAM] += ent;
                break;
            }
        } else {
            const double mb = 1024.0 * 1024.0;
            switch (o->kind) {
            case PLANE_WL_OBJ_TABLE:
                per_key[PLANE_RES_MEMORY] += epf * (key + val + TABLE_EXT_OVERHEAD) / mb;
                break;
            case PLANE_WL_OBJ_REGISTER:
                per_key[PLANE_RES_MEMORY] += epf * val / mb;
                break;
            case PLANE_WL_OBJ_SKETCH:
                fixed[PLANE_RES_MEMORY] += ent * val / mb;
                break;
            case PLANE_WL_OBJ_TERNARY:
                fixed[PLANE_RES_MEMORY] += ent * (2 * key + val) / mb;
                break;
            }
        }
    }
    if (t->is_switch && a->affinity == PLANE_AFFINITY_MEDIUM) {
        per_key[PLANE_RES_FLOW_ENTRIES] += 1;
    }
}

static void
features_text(uint32_t mask, char *buf, size_t len)
{
    buf[0] = '\0';
    for (uint32_t i = 0; i < PLANE_FEATURE_COUNT; i++) {
        if (mask & (1u << i)) {
            append(buf, len, "%s%s", buf[0] ? ", " : "", plane_feature_name(1u << i));
        }
    }
}

static int
profile_app(struct plane_plan_profile *prof, size_t pi, char *err, size_t err_len)
{
    const struct plane_workload_app *a = &prof->wl->apps[pi];
    struct plane_plan_app_profile *ap = &prof->apps[pi];
    size_t T = prof->n_targets, Q = a->quanta ? a->quanta : 1;
    ap->app = a;
    ap->n_quanta = (uint32_t)Q;
    ap->rank_lo = plane_calloc(Q, sizeof *ap->rank_lo);
    ap->keys = plane_calloc(Q, sizeof *ap->keys);
    ap->frac = plane_calloc(Q, sizeof *ap->frac);
    ap->compat = plane_calloc(T, sizeof *ap->compat);
    ap->lat = plane_calloc(T, sizeof *ap->lat);
    ap->per_key = plane_calloc(T * PLANE_RES_COUNT, sizeof *ap->per_key);
    ap->fixed = plane_calloc(T * PLANE_RES_COUNT, sizeof *ap->fixed);
    if (!ap->rank_lo || !ap->keys || !ap->frac || !ap->compat || !ap->lat || !ap->per_key
        || !ap->fixed) {
        return PLANE_ENOMEM;
    }
    ap->rate_pps = a->weight * (double)prof->wl->rate_pps;
    for (size_t q = 0; q < Q; q++) {
        uint64_t lo = (uint64_t)((double)a->keys * (double)q / (double)Q);
        uint64_t hi = q + 1 == Q ? a->keys : (uint64_t)((double)a->keys * (double)(q + 1) / (double)Q);
        ap->rank_lo[q] = lo;
        ap->keys[q] = hi - lo;
        ap->frac[q] = a->popularity.n_fractions
                      ? a->popularity.fractions[q]
                      : plane_planner_zipf_fraction(a->popularity.zipf.alpha, a->keys, lo, hi);
    }
    double sl = switch_latency(prof->rack, prof->wl);
    bool any = false;
    for (size_t t = 0; t < T; t++) {
        const struct plane_plan_target *tg = &prof->targets[t];
        bool aff = tg->is_switch ? a->affinity != PLANE_AFFINITY_LOW
                                 : a->affinity != PLANE_AFFINITY_HIGH;
        ap->compat[t] = aff && (a->features & ~tg->features) == 0;
        ap->lat[t] = tg->is_switch ? sl : sl + tg->latency_us;
        object_costs(a, tg, &ap->per_key[t * PLANE_RES_COUNT], &ap->fixed[t * PLANE_RES_COUNT]);
        any |= ap->compat[t];
    }
    if (!any) {
        char need[160], where[512] = "";
        features_text(a->features, need, sizeof need);
        for (size_t t = 0; t < T; t++) {
            const struct plane_plan_target *tg = &prof->targets[t];
            char miss[160];
            features_text(a->features & ~tg->features, miss, sizeof miss);
            bool aff = tg->is_switch ? a->affinity != PLANE_AFFINITY_LOW
                                     : a->affinity != PLANE_AFFINITY_HIGH;
            append(where, sizeof where, "%s%s %s", where[0] ? "; " : "", tg->name,
                   !aff ? "excluded by affinity" : "lacks ");
            if (aff) {
                append(where, sizeof where, "[%s]", miss);
            }
        }
        set_err(err, err_len, "infeasible: app %s (affinity %s, features [%s]) fits no target: "
                "%s; relax: change its affinity or add the features to a device",
                a->name, plane_affinity_name(a->affinity), need, where);
        return PLANE_ENOSPC;
    }
    return 0;
}

void
plane_plan_profile_delete(struct plane_plan_profile *prof)
{
    if (!prof) {
        return;
    }
    for (size_t i = 0; prof->apps && i < prof->n_apps; i++) {
        struct plane_plan_app_profile *ap = &prof->apps[i];
        plane_free(ap->rank_lo);
        plane_free(ap->keys);
        plane_free(ap->frac);
        plane_free(ap->compat);
        plane_free(ap->lat);
        plane_free(ap->per_key);
        plane_free(ap->fixed);
    }
    for (size_t t = 0; prof->targets && t < prof->n_targets; t++) {
        plane_free(prof->targets[t].members);
    }
    plane_free(prof->apps);
    plane_free(prof->targets);
    plane_free(prof);
}

int
plane_plan_profile_new(const struct plane_config *rack, const struct plane_workload *wl,
                       bool aggregate, struct plane_plan_profile **out, char *err,
                       size_t err_len)
{
    if (!rack || !wl || !out) {
        return PLANE_EINVAL;
    }
    *out = NULL;
    struct plane_plan_profile *prof = plane_calloc(1, sizeof *prof);
    if (!prof) {
        return PLANE_ENOMEM;
    }
    prof->rack = rack;
    prof->wl = wl;
    int rc = build_targets(prof, aggregate);
    if (!rc) {
        prof->apps = plane_calloc(wl->n_apps ? wl->n_apps : 1, sizeof *prof->apps);
        rc = prof->apps ? 0 : PLANE_ENOMEM;
    }
    if (!rc) {
        prof->n_apps = wl->n_apps;
        for (size_t p = 0; p < wl->n_apps && !rc; p++) {
            rc = profile_app(prof, p, err, err_len);
        }
    }
    if (rc) {
        if (rc == PLANE_ENOMEM) {
            set_err(err, err_len, "out of memory");
        }
        plane_plan_profile_delete(prof);
        return rc;
    }
    *out = prof;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Evaluation of an assignment, without a solver.
 */

/* Per member use of every resource on every target; returns false on incompatibility. */
static bool
usage(const struct plane_plan_profile *prof, const uint32_t *assign, double *used)
{
    size_t T = prof->n_targets;
    memset(used, 0, T * PLANE_RES_COUNT * sizeof *used);
    const uint32_t *as = assign;
    for (size_t p = 0; p < prof->n_apps; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        bool uses[PLANE_CONFIG_MAX_DEVICES + 1] = { false };
        for (size_t q = 0; q < ap->n_quanta; q++) {
            uint32_t t = as[q];
            if (t >= T || !ap->compat[t]) {
                return false;
            }
            uses[t] = true;
            double m = (double)prof->targets[t].n_members;
            for (int r = 0; r < PLANE_RES_COUNT; r++) {
                used[t * PLANE_RES_COUNT + r] += (double)ap->keys[q] * ap->per_key[t * PLANE_RES_COUNT + r] / m;
            }
            used[t * PLANE_RES_COUNT + PLANE_RES_RATE] += ap->rate_pps * ap->frac[q] / m;
        }
        for (size_t t = 0; t < T; t++) {
            for (int r = 0; uses[t] && r < PLANE_RES_COUNT; r++) {
                used[t * PLANE_RES_COUNT + r] += ap->fixed[t * PLANE_RES_COUNT + r];
            }
        }
        as += ap->n_quanta;
    }
    return true;
}

static double
objective_of(const struct plane_plan_profile *prof, enum plane_plan_objective obj,
             const uint32_t *assign)
{
    double total = 0, min_rate = INFINITY;
    for (size_t p = 0; p < prof->n_apps; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        double lat = 0, rate = 0;
        for (size_t q = 0; q < ap->n_quanta; q++) {
            lat += ap->frac[q] * ap->lat[assign[q]];
            rate += ap->frac[q] / ap->lat[assign[q]];
        }
        total += ap->app->weight * lat;
        min_rate = rate < min_rate ? rate : min_rate;
        assign += ap->n_quanta;
    }
    return obj == PLANE_PLAN_LATENCY ? total : min_rate;
}

bool
plane_planner_evaluate(const struct plane_plan_profile *prof,
                       enum plane_plan_objective objective, const uint32_t *assign,
                       double *objective_value)
{
    double *used = plane_calloc(prof->n_targets * PLANE_RES_COUNT, sizeof *used);
    if (!used) {
        return false;
    }
    bool ok = usage(prof, assign, used);
    for (size_t t = 0; ok && t < prof->n_targets; t++) {
        for (int r = 0; r < PLANE_RES_COUNT; r++) {
            double cap = prof->targets[t].cap[r], u = used[t * PLANE_RES_COUNT + r];
            if (u > EPS && cap >= 0 && u > cap * (1 + 1e-9) + 1e-9) {
                ok = false;
            }
            if (u > EPS && cap < 0 && r != PLANE_RES_RATE) {
                ok = false;     /* a resource the target does not have at all */
            }
        }
    }
    plane_free(used);
    if (ok && objective_value) {
        *objective_value = objective_of(prof, objective, assign);
    }
    return ok;
}

/* ---------------------------------------------------------------------------
 * The ILP.
 */

struct ilp {
    glp_prob *lp;
    const struct plane_plan_profile *prof;
    size_t *xbase;              /* per app: first column - 1 of its x block (T per quantum) */
    int *xcol;                  /* per (p, q, t) flattened: column or 0 */
    int *ycol;                  /* per (p, t): column or 0 */
    int *caprow;                /* per (t, r): row or 0 */
    int *slack;                 /* per (t, r): elastic column or 0 */
    int zcol;
    size_t n_x;
    /* Triplets for glp_load_matrix (1-based). */
    int *ia, *ja;
    double *ar;
    size_t nz, nz_cap;
};

static int
nz_add(struct ilp *m, int row, int col, double v)
{
    if (v == 0) {
        return 0;
    }
    if (m->nz + 1 >= m->nz_cap) {
        size_t cap = m->nz_cap ? m->nz_cap * 2 : 4096;
        int *ia = plane_realloc(m->ia, cap * sizeof *ia);
        if (ia) {
            m->ia = ia;
        }
        int *ja = plane_realloc(m->ja, cap * sizeof *ja);
        if (ja) {
            m->ja = ja;
        }
        double *ar = plane_realloc(m->ar, cap * sizeof *ar);
        if (ar) {
            m->ar = ar;
        }
        if (!ia || !ja || !ar) {
            return PLANE_ENOMEM;
        }
        m->nz_cap = cap;
    }
    m->nz++;
    m->ia[m->nz] = row;
    m->ja[m->nz] = col;
    m->ar[m->nz] = v;
    return 0;
}

static void
ilp_free(struct ilp *m)
{
    if (m->lp) {
        glp_delete_prob(m->lp);
    }
    plane_free(m->xbase);
    plane_free(m->xcol);
    plane_free(m->ycol);
    plane_free(m->caprow);
    plane_free(m->slack);
    plane_free(m->ia);
    plane_free(m->ja);
    plane_free(m->ar);
    memset(m, 0, sizeof *m);
}

/* Divisor that scales a capacity row to "member capacities" (1 when cap is 0). */
static double
cap_scale(double cap)
{
    return cap > 0 ? cap : 1.0;
}

/*
 * Builds the model.  elastic: every capacity row gets a slack column and the
 * objective becomes the total slack (the minimum overshoot, in member
 * capacities), which locates what an infeasible input lacks.
 */
static int
ilp_build(struct ilp *m, const struct plane_plan_profile *prof,
          enum plane_plan_objective obj, bool elastic)
{
    size_t T = prof->n_targets, P = prof->n_apps;
    m->prof = prof;
    m->lp = glp_create_prob();
    m->xbase = plane_calloc(P + 1, sizeof *m->xbase);
    m->ycol = plane_calloc(P * T + 1, sizeof *m->ycol);
    m->caprow = plane_calloc(T * PLANE_RES_COUNT, sizeof *m->caprow);
    m->slack = plane_calloc(T * PLANE_RES_COUNT, sizeof *m->slack);
    size_t nx = 0;
    for (size_t p = 0; p < P; p++) {
        m->xbase[p] = nx;
        nx += (size_t)prof->apps[p].n_quanta * T;
    }
    m->xbase[P] = nx;
    m->n_x = nx;
    m->xcol = plane_calloc(nx + 1, sizeof *m->xcol);
    if (!m->xbase || !m->ycol || !m->caprow || !m->slack || !m->xcol) {
        return PLANE_ENOMEM;
    }
    glp_prob *lp = m->lp;
    glp_set_obj_dir(lp, !elastic && obj == PLANE_PLAN_THROUGHPUT ? GLP_MAX : GLP_MIN);

    /* Columns: x (binary), y (binary), z, slacks. */
    for (size_t p = 0; p < P; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        for (size_t q = 0; q < ap->n_quanta; q++) {
            for (size_t t = 0; t < T; t++) {
                if (!ap->compat[t]) {
                    continue;           /* constraint (2): the variable does not exist */
                }
                int col = glp_add_cols(lp, 1);
                glp_set_col_kind(lp, col, GLP_BV);
                double c = 0;
                if (!elastic && obj == PLANE_PLAN_LATENCY) {
                    c = ap->app->weight * ap->frac[q] * ap->lat[t];
                }
                glp_set_obj_coef(lp, col, c);
                m->xcol[m->xbase[p] + q * T + t] = col;
            }
        }
        for (size_t t = 0; t < T; t++) {
            bool has_fixed = false;
            for (int r = 0; r < PLANE_RES_COUNT; r++) {
                has_fixed |= ap->fixed[t * PLANE_RES_COUNT + r] > 0;
            }
            if (ap->compat[t] && has_fixed) {
                int col = glp_add_cols(lp, 1);
                glp_set_col_kind(lp, col, GLP_BV);
                m->ycol[p * T + t] = col;
            }
        }
    }
    if (!elastic && obj == PLANE_PLAN_THROUGHPUT) {
        m->zcol = glp_add_cols(lp, 1);
        glp_set_col_bnds(lp, m->zcol, GLP_LO, 0, 0);
        glp_set_obj_coef(lp, m->zcol, 1.0);
    }

    /* (1) each quantum on exactly one target. */
    int rc = 0;
    for (size_t p = 0; p < P && !rc; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        for (size_t q = 0; q < ap->n_quanta && !rc; q++) {
            int row = glp_add_rows(lp, 1);
            glp_set_row_bnds(lp, row, GLP_FX, 1, 1);
            for (size_t t = 0; t < T && !rc; t++) {
                int col = m->xcol[m->xbase[p] + q * T + t];
                if (col) {
                    rc = nz_add(m, row, col, 1.0);
                }
            }
        }
    }
    /* y >= any x of the app on t:  sum_q x - Q y <= 0. */
    for (size_t p = 0; p < P && !rc; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        for (size_t t = 0; t < T && !rc; t++) {
            int y = m->ycol[p * T + t];
            if (!y) {
                continue;
            }
            int row = glp_add_rows(lp, 1);
            glp_set_row_bnds(lp, row, GLP_UP, 0, 0);
            rc = nz_add(m, row, y, -(double)ap->n_quanta);
            for (size_t q = 0; q < ap->n_quanta && !rc; q++) {
                rc = nz_add(m, row, m->xcol[m->xbase[p] + q * T + t], 1.0);
            }
        }
    }
    /* (3) capacities, scaled to member capacities for numerical balance. */
    for (size_t t = 0; t < T && !rc; t++) {
        const struct plane_plan_target *tg = &prof->targets[t];
        double members = (double)tg->n_members;
        for (int r = 0; r < PLANE_RES_COUNT && !rc; r++) {
            double cap = tg->cap[r];
            bool any = false;
            for (size_t p = 0; p < P && !any; p++) {
                const struct plane_plan_app_profile *ap = &prof->apps[p];
                any = ap->compat[t] && (ap->per_key[t * PLANE_RES_COUNT + r] > 0
                                        || ap->fixed[t * PLANE_RES_COUNT + r] > 0
                                        || (r == PLANE_RES_RATE && ap->rate_pps > 0));
            }
            if (!any || cap < 0) {
                continue;       /* unused, or unlimited */
            }
            int row = glp_add_rows(lp, 1);
            double sc = cap_scale(cap);
            glp_set_row_bnds(lp, row, GLP_UP, 0, cap > 0 ? members : 0);
            m->caprow[t * PLANE_RES_COUNT + r] = row;
            for (size_t p = 0; p < P && !rc; p++) {
                const struct plane_plan_app_profile *ap = &prof->apps[p];
                if (!ap->compat[t]) {
                    continue;
                }
                for (size_t q = 0; q < ap->n_quanta && !rc; q++) {
                    double v = (double)ap->keys[q] * ap->per_key[t * PLANE_RES_COUNT + r];
                    if (r == PLANE_RES_RATE) {
                        v += ap->rate_pps * ap->frac[q];
                    }
                    rc = nz_add(m, row, m->xcol[m->xbase[p] + q * T + t], v / sc);
                }
                if (!rc && m->ycol[p * T + t]) {
                    rc = nz_add(m, row, m->ycol[p * T + t],
                                members * ap->fixed[t * PLANE_RES_COUNT + r] / sc);
                }
            }
            if (!rc && elastic) {
                int s = glp_add_cols(lp, 1);
                glp_set_col_bnds(lp, s, GLP_LO, 0, 0);
                glp_set_obj_coef(lp, s, 1.0);
                m->slack[t * PLANE_RES_COUNT + r] = s;
                rc = nz_add(m, row, s, -1.0);
            }
        }
    }
    /* Throughput: z <= sum F / L x for every app. */
    for (size_t p = 0; p < P && !rc && m->zcol; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        int row = glp_add_rows(lp, 1);
        glp_set_row_bnds(lp, row, GLP_UP, 0, 0);
        rc = nz_add(m, row, m->zcol, 1.0);
        for (size_t q = 0; q < ap->n_quanta && !rc; q++) {
            for (size_t t = 0; t < T && !rc; t++) {
                int col = m->xcol[m->xbase[p] + q * T + t];
                if (col) {
                    rc = nz_add(m, row, col, -ap->frac[q] / ap->lat[t]);
                }
            }
        }
    }
    if (!rc) {
        glp_load_matrix(lp, (int)m->nz, m->ia, m->ja, m->ar);
    }
    return rc;
}

/* Runs glp_intopt; returns GLP_OPT, GLP_FEAS, GLP_NOFEAS or GLP_UNDEF. */
static int
ilp_solve(struct ilp *m, uint32_t time_limit_ms, double gap, bool *timed_out)
{
    glp_iocp iocp;
    glp_init_iocp(&iocp);
    iocp.presolve = GLP_ON;
    iocp.msg_lev = GLP_MSG_OFF;
    iocp.tm_lim = (int)(time_limit_ms > INT32_MAX ? INT32_MAX : time_limit_ms);
    iocp.mip_gap = gap;
    /* Cover cuts suit the knapsack-like capacity rows; GMI/MIR cuts cost more
     * time than they save on these models (measured with bench/planner_bench). */
    iocp.cov_cuts = GLP_ON;
    iocp.fp_heur = GLP_ON;
    int ret = glp_intopt(m->lp, &iocp);
    *timed_out = ret == GLP_ETMLIM;
    if (ret == GLP_ENOPFS) {
        return GLP_NOFEAS;
    }
    if (ret != 0 && ret != GLP_ETMLIM && ret != GLP_EMIPGAP) {
        return GLP_UNDEF;
    }
    return glp_mip_status(m->lp);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Explains an infeasible input: solves the elastic model, then names each
 * capacity it had to exceed, by how much, and the apps using it.
 */
static int
diagnose(const struct plane_plan_profile *prof, uint32_t time_limit_ms, char *err,
         size_t err_len)
{
    struct ilp m = { 0 };
    int rc = ilp_build(&m, prof, PLANE_PLAN_LATENCY, true);
    bool timed_out = false;
    int st = rc ? GLP_UNDEF : ilp_solve(&m, time_limit_ms, 0, &timed_out);
    set_err(err, err_len, "infeasible:");
    if (st != GLP_OPT && st != GLP_FEAS) {
        append(err, err_len, " no placement fits the rack's capacities (diagnosis %s)",
               timed_out ? "timed out" : "failed");
        ilp_free(&m);
        return rc ? rc : PLANE_ENOSPC;
    }
    size_t T = prof->n_targets;
    int found = 0;
    for (size_t t = 0; t < T; t++) {
        const struct plane_plan_target *tg = &prof->targets[t];
        for (int r = 0; r < PLANE_RES_COUNT; r++) {
            int s = m.slack[t * PLANE_RES_COUNT + r];
            double over = s ? glp_mip_col_val(m.lp, s) : 0;
            if (over <= 1e-7) {
                continue;
            }
            double cap = tg->cap[r], sc = cap_scale(cap);
            double need = (cap > 0 ? cap : 0) + over * sc / (double)tg->n_members;
            append(err, err_len, "%s %s %s on %s%s: needs %.6g, has %.6g per device (short by "
                   "%.6g); used by", found ? ";" : "", resource_names[r],
                   tg->is_switch ? "switch" : "device", tg->name,
                   tg->n_members > 1 ? " (and its identical peers)" : "", need, cap > 0 ? cap : 0,
                   need - (cap > 0 ? cap : 0));
            /* The apps consuming it in the elastic optimum: the competitors. */
            bool high_only = true;
            int napps = 0;
            for (size_t p = 0; p < prof->n_apps; p++) {
                const struct plane_plan_app_profile *ap = &prof->apps[p];
                double use = 0;
                for (size_t q = 0; q < ap->n_quanta; q++) {
                    int col = m.xcol[m.xbase[p] + q * T + t];
                    if (col && glp_mip_col_val(m.lp, col) > 0.5) {
                        use += (double)ap->keys[q] * ap->per_key[t * PLANE_RES_COUNT + r]
                               + (r == PLANE_RES_RATE ? ap->rate_pps * ap->frac[q] : 0);
                    }
                }
                int y = m.ycol[p * T + t];
                if (y && glp_mip_col_val(m.lp, y) > 0.5) {
                    use += (double)tg->n_members * ap->fixed[t * PLANE_RES_COUNT + r];
                }
                if (use > 1e-9) {
                    append(err, err_len, " %s (%s, %.6g)", ap->app->name,
                           plane_affinity_name(ap->app->affinity),
                           use / (double)tg->n_members);
                    high_only &= ap->app->affinity != PLANE_AFFINITY_MEDIUM;
                    napps++;
                }
            }
            if (!napps) {
                append(err, err_len, " none");
            }
            append(err, err_len, "; relax: raise %s of %s to at least %.6g%s", resource_names[r],
                   tg->name, ceil(need * 1000) / 1000,
                   tg->is_switch ? ", lower an app's affinity or shrink its objects"
                                 : r == PLANE_RES_RATE ? ", add devices or lower rate_pps"
                                                       : ", add devices or shrink objects");
            if (high_only && tg->is_switch) {
                append(err, err_len, " (every app here is pinned by affinity)");
            }
            found++;
        }
    }
    if (!found) {
        append(err, err_len, " no single capacity is short, but no whole-quantum placement "
               "fits; relax: raise quanta so the pieces are smaller");
    }
    PLANE_DBG("%s", err ? err : "infeasible");
    ilp_free(&m);
    return PLANE_ENOSPC;
}

void
plane_plan_delete(struct plane_plan *plan)
{
    if (!plan) {
        return;
    }
    for (size_t p = 0; plan->apps && plan->prof && p < plan->prof->n_apps; p++) {
        plane_free(plan->apps[p].assign);
        plane_free(plan->apps[p].keys_on);
        plane_free(plan->apps[p].object_entries);
    }
    plane_free(plan->apps);
    plane_free(plan->use);
    plane_plan_profile_delete(plan->prof);
    plane_free(plan);
}

/* Fills the per-app and per-target results from an assignment. */
static int
plan_fill(struct plane_plan *plan, const uint32_t *assign)
{
    const struct plane_plan_profile *prof = plan->prof;
    size_t T = prof->n_targets;
    plan->apps = plane_calloc(prof->n_apps ? prof->n_apps : 1, sizeof *plan->apps);
    plan->use = plane_calloc(T, sizeof *plan->use);
    double *used = plane_calloc(T * PLANE_RES_COUNT, sizeof *used);
    if (!plan->apps || !plan->use || !used) {
        plane_free(used);
        return PLANE_ENOMEM;
    }
    usage(prof, assign, used);
    for (size_t t = 0; t < T; t++) {
        memcpy(plan->use[t].used, &used[t * PLANE_RES_COUNT], sizeof plan->use[t].used);
        plan->use[t].load_pps = used[t * PLANE_RES_COUNT + PLANE_RES_RATE];
    }
    plane_free(used);
    const uint32_t *as = assign;
    for (size_t p = 0; p < prof->n_apps; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        struct plane_plan_app *pa = &plan->apps[p];
        size_t no = ap->app->n_objects;
        pa->assign = plane_calloc(ap->n_quanta, sizeof *pa->assign);
        pa->keys_on = plane_calloc(T, sizeof *pa->keys_on);
        pa->object_entries = plane_calloc(T * (no ? no : 1), sizeof *pa->object_entries);
        if (!pa->assign || !pa->keys_on || !pa->object_entries) {
            return PLANE_ENOMEM;
        }
        memcpy(pa->assign, as, ap->n_quanta * sizeof *as);
        for (size_t q = 0; q < ap->n_quanta; q++) {
            uint32_t t = as[q];
            pa->keys_on[t] += ap->keys[q];
            pa->latency_us += ap->frac[q] * ap->lat[t];
            pa->service_rate += ap->frac[q] / ap->lat[t];
            if (prof->targets[t].is_switch) {
                pa->switch_share += ap->frac[q];
            }
            plan->use[t].share += ap->app->weight * ap->frac[q];
        }
        for (size_t t = 0; t < T; t++) {
            uint64_t m = prof->targets[t].n_members;
            for (size_t o = 0; o < no && pa->keys_on[t]; o++) {
                const struct plane_workload_object *ob = &ap->app->objects[o];
                bool per_flow = ob->kind == PLANE_WL_OBJ_TABLE || ob->kind == PLANE_WL_OBJ_REGISTER;
                pa->object_entries[t * no + o] =
                    per_flow ? (pa->keys_on[t] * ob->entries_per_flow + m - 1) / m : ob->entries;
            }
        }
        if (ap->app->affinity == PLANE_AFFINITY_MEDIUM) {
            pa->fm_entries = pa->keys_on[0];
        }
        as += ap->n_quanta;
    }
    /* share was summed over the target's members; store it per member. */
    for (size_t t = 0; t < T; t++) {
        plan->use[t].share /= (double)prof->targets[t].n_members;
    }
    return 0;
}

int
plane_planner_solve(const struct plane_config *rack, const struct plane_workload *wl,
                    const struct plane_plan_opts *opts, struct plane_plan **out, char *err,
                    size_t err_len)
{
    struct plane_plan_opts o = opts ? *opts : (struct plane_plan_opts){ 0 };
    if (err && err_len) {
        err[0] = '\0';
    }
    if (!rack || !wl || !out) {
        return PLANE_EINVAL;
    }
    *out = NULL;
    uint32_t limit = o.time_limit_ms ? o.time_limit_ms : DEFAULT_TIME_LIMIT;
    double t0 = now_ms();
    struct plane_plan *plan = plane_calloc(1, sizeof *plan);
    if (!plan) {
        return PLANE_ENOMEM;
    }
    plan->objective = o.objective;
    int rc = plane_plan_profile_new(rack, wl, !o.no_aggregate, &plan->prof, err, err_len);
    if (rc) {
        plane_free(plan);
        return rc;
    }
    const struct plane_plan_profile *prof = plan->prof;
    /* GLPK prints to stdout by default; a library stays quiet. */
    int old_term = glp_term_out(GLP_OFF);
    struct ilp m = { 0 };
    uint32_t *assign = NULL;
    rc = ilp_build(&m, prof, o.objective, false);
    bool timed_out = false;
    int st = rc ? GLP_UNDEF : ilp_solve(&m, limit, o.mip_gap, &timed_out);
    if (!rc && m.zcol && st == GLP_OPT && !timed_out) {
        /*
         * Max-min leaves every app but the worst free; a second pass keeps
         * the optimal minimum and among those placements minimizes
         * sum W_p lat_p, so the others are not left on slow devices.
         */
        double z = glp_mip_col_val(m.lp, m.zcol);
        glp_set_col_bnds(m.lp, m.zcol, GLP_LO, z - 1e-9 * fmax(1, z), 0);
        glp_set_obj_coef(m.lp, m.zcol, 0);
        glp_set_obj_dir(m.lp, GLP_MIN);
        size_t T = prof->n_targets;
        for (size_t p = 0; p < prof->n_apps; p++) {
            const struct plane_plan_app_profile *ap = &prof->apps[p];
            for (size_t q = 0; q < ap->n_quanta; q++) {
                for (size_t t = 0; t < T; t++) {
                    int col = m.xcol[m.xbase[p] + q * T + t];
                    if (col) {
                        glp_set_obj_coef(m.lp, col, ap->app->weight * ap->frac[q] * ap->lat[t]);
                    }
                }
            }
        }
        int st2 = ilp_solve(&m, limit, o.mip_gap, &timed_out);
        if (st2 != GLP_OPT && st2 != GLP_FEAS) {
            set_err(err, err_len, "the solver failed in the latency pass (GLPK status %d)", st2);
            rc = PLANE_EIO;
        }
    }
    if (!rc && st != GLP_OPT && st != GLP_FEAS) {
        if (timed_out) {
            set_err(err, err_len, "no placement found within the %" PRIu32 " ms limit", limit);
            rc = PLANE_ETIMEDOUT;
        } else if (st == GLP_NOFEAS) {
            rc = diagnose(prof, limit, err, err_len);
        } else {
            set_err(err, err_len, "the solver failed (GLPK status %d)", st);
            rc = PLANE_EIO;
        }
    }
    if (!rc) {
        plan->optimal = st == GLP_OPT && !timed_out;
        plan->n_vars = (size_t)glp_get_num_cols(m.lp);
        plan->n_rows = (size_t)glp_get_num_rows(m.lp);
        assign = plane_calloc(m.n_x ? m.n_x / (prof->n_targets ? prof->n_targets : 1) : 1,
                              sizeof *assign);
        rc = assign ? 0 : PLANE_ENOMEM;
    }
    if (!rc) {
        size_t T = prof->n_targets, k = 0;
        for (size_t p = 0; p < prof->n_apps; p++) {
            for (size_t q = 0; q < prof->apps[p].n_quanta; q++, k++) {
                for (size_t t = 0; t < T; t++) {
                    int col = m.xcol[m.xbase[p] + q * T + t];
                    if (col && glp_mip_col_val(m.lp, col) > 0.5) {
                        assign[k] = (uint32_t)t;
                    }
                }
            }
        }
        plan->objective_value = objective_of(prof, o.objective, assign);
        rc = plan_fill(plan, assign);
    }
    ilp_free(&m);
    glp_term_out(old_term);
    plane_free(assign);
    plan->solve_ms = now_ms() - t0;
    if (rc) {
        if (rc == PLANE_ENOMEM) {
            set_err(err, err_len, "out of memory");
        }
        plane_plan_delete(plan);
        return rc;
    }
    PLANE_DBG("planned %zu apps on %zu targets in %.1f ms (%zu vars, %zu rows)", prof->n_apps,
              prof->n_targets, plan->solve_ms, plan->n_vars, plan->n_rows);
    *out = plan;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Output.
 */

/* The device name of member k of target t. */
static const char *
member_name(const struct plane_plan_profile *prof, size_t t, size_t k)
{
    const struct plane_plan_target *tg = &prof->targets[t];
    return tg->is_switch ? tg->name : prof->rack->devices[tg->members[k]].name;
}

/* Hash range [lo, hi] of member k of m, over the 32-bit flow hash. */
static void
hash_range(size_t k, size_t m, uint32_t *lo, uint32_t *hi)
{
    uint64_t span = UINT64_C(1) << 32;
    *lo = (uint32_t)(span * k / m);
    *hi = (uint32_t)(span * (k + 1) / m - 1);
}

/*
 * The fragment (names are always quoted):
 *
 *   plan:
 *     version: 1
 *     rack: "local"
 *     objective: latency | throughput
 *     objective_value: REAL     sum W_p lat_p (us), or min service rate
 *     optimal: true | false     false: best found within the time limit
 *     solve_ms: REAL
 *     apps:
 *       - name: "counter"
 *         affinity: medium
 *         weight: REAL
 *         switch_share: REAL    fraction of the app's traffic at the switch
 *         latency_us: REAL      expected per-packet latency
 *         flow_manager_entries: N    switch flow-manager size
 *         objects:              entries per device, for every device used
 *           "tor0": {"counts": N}
 *         shards:               runs of consecutive quanta on one target
 *           - {quanta: [LO, HI], ranks: [LO, HI], share: REAL,
 *              devices: [{device: "nic0", hash: [LO, HI]}, ...]}
 *     devices:                  every switch/device, per device
 *       - {name: "nic0", load_pps: REAL, share: REAL, memory_mb: REAL, ...}
 *
 * ranks are 0-based popularity ranks (inclusive); hash ranges split a
 * quantum evenly over identical devices by the 32-bit flow hash.
 */

/* Calls fn for each run of consecutive quanta of app p on one target. */
struct shard_run {
    uint32_t q_lo, q_hi;        /* inclusive */
    uint64_t rank_lo, rank_hi;  /* inclusive */
    double share;
    uint32_t target;
};

static size_t
next_run(const struct plane_plan *plan, size_t p, size_t q, struct shard_run *run)
{
    const struct plane_plan_app_profile *ap = &plan->prof->apps[p];
    const uint32_t *as = plan->apps[p].assign;
    size_t e = q;
    run->share = 0;
    while (e < ap->n_quanta && as[e] == as[q]) {
        run->share += ap->frac[e];
        e++;
    }
    run->q_lo = (uint32_t)q;
    run->q_hi = (uint32_t)(e - 1);
    run->rank_lo = ap->rank_lo[q];
    run->rank_hi = ap->rank_lo[e - 1] + ap->keys[e - 1] - 1;
    run->target = as[q];
    return e;
}

int
plane_plan_write_yaml(const struct plane_plan *plan, FILE *f)
{
    const struct plane_plan_profile *prof = plan->prof;
    size_t T = prof->n_targets;
    fprintf(f, "# Generated by the Plane planner: the placement of every app's key space.\n"
            "plan:\n  version: 1\n  rack: \"%s\"\n  objective: %s\n  objective_value: %.9g\n"
            "  optimal: %s\n  solve_ms: %.3f\n  apps:\n", prof->rack->rack.name,
            plan->objective == PLANE_PLAN_LATENCY ? "latency" : "throughput",
            plan->objective_value, plan->optimal ? "true" : "false", plan->solve_ms);
    for (size_t p = 0; p < prof->n_apps; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        const struct plane_plan_app *pa = &plan->apps[p];
        const struct plane_workload_app *a = ap->app;
        fprintf(f, "    - name: \"%s\"\n      affinity: %s\n      weight: %.9g\n"
                "      switch_share: %.9g\n      latency_us: %.9g\n"
                "      flow_manager_entries: %" PRIu64 "\n      objects:",
                a->name, plane_affinity_name(a->affinity), a->weight, pa->switch_share,
                pa->latency_us, pa->fm_entries);
        bool any = false;
        for (size_t t = 0; t < T; t++) {
            if (!pa->keys_on[t] || !a->n_objects) {
                continue;
            }
            for (size_t k = 0; k < prof->targets[t].n_members; k++) {
                fprintf(f, "\n        \"%s\": {", member_name(prof, t, k));
                for (size_t o = 0; o < a->n_objects; o++) {
                    fprintf(f, "%s\"%s\": %" PRIu64, o ? ", " : "", a->objects[o].name,
                            pa->object_entries[t * a->n_objects + o]);
                }
                fputs("}", f);
                any = true;
            }
        }
        fputs(any ? "\n      shards:\n" : " {}\n      shards:\n", f);
        struct shard_run run;
        for (size_t q = 0; q < ap->n_quanta; q = next_run(plan, p, q, &run)) {
            next_run(plan, p, q, &run);
            fprintf(f, "        - {quanta: [%" PRIu32 ", %" PRIu32 "], ranks: [%" PRIu64 ", %"
                    PRIu64 "], share: %.9g, devices: [", run.q_lo, run.q_hi, run.rank_lo,
                    run.rank_hi, run.share);
            size_t m = prof->targets[run.target].n_members;
            for (size_t k = 0; k < m; k++) {
                uint32_t lo, hi;
                hash_range(k, m, &lo, &hi);
                fprintf(f, "%s{device: \"%s\", hash: [0x%08" PRIx32 ", 0x%08" PRIx32 "]}",
                        k ? ", " : "", member_name(prof, run.target, k), lo, hi);
            }
            fputs("]}\n", f);
        }
    }
    fputs("  devices:\n", f);
    for (size_t t = 0; t < T; t++) {
        const struct plane_plan_use *u = &plan->use[t];
        for (size_t k = 0; k < prof->targets[t].n_members; k++) {
            fprintf(f, "    - {name: \"%s\", load_pps: %.9g, share: %.9g", member_name(prof, t, k),
                    u->load_pps, u->share);
            for (int r = 0; r < PLANE_RES_COUNT; r++) {
                if (r != PLANE_RES_RATE && prof->targets[t].cap[r] >= 0) {
                    fprintf(f, ", %s: %.9g", resource_names[r], u->used[r]);
                }
            }
            fputs("}\n", f);
        }
    }
    return ferror(f) ? PLANE_EIO : 0;
}

int
plane_plan_write_json(const struct plane_plan *plan, FILE *f)
{
    const struct plane_plan_profile *prof = plan->prof;
    size_t T = prof->n_targets;
    fprintf(f, "{\"rack\":\"%s\",\"objective\":\"%s\",\"objective_value\":%.9g,\"optimal\":%s,"
            "\"solve_ms\":%.3f,\"vars\":%zu,\"rows\":%zu,\"apps\":[", prof->rack->rack.name,
            plan->objective == PLANE_PLAN_LATENCY ? "latency" : "throughput",
            plan->objective_value, plan->optimal ? "true" : "false", plan->solve_ms,
            plan->n_vars, plan->n_rows);
    for (size_t p = 0; p < prof->n_apps; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        const struct plane_plan_app *pa = &plan->apps[p];
        const struct plane_workload_app *a = ap->app;
        fprintf(f, "%s{\"name\":\"%s\",\"affinity\":\"%s\",\"weight\":%.9g,\"switch_share\":%.9g,"
                "\"latency_us\":%.9g,\"flow_manager_entries\":%" PRIu64 ",\"objects\":{",
                p ? "," : "", a->name, plane_affinity_name(a->affinity), a->weight,
                pa->switch_share, pa->latency_us, pa->fm_entries);
        bool first = true;
        for (size_t t = 0; t < T; t++) {
            for (size_t k = 0; pa->keys_on[t] && a->n_objects && k < prof->targets[t].n_members;
                 k++) {
                fprintf(f, "%s\"%s\":{", first ? "" : ",", member_name(prof, t, k));
                for (size_t o = 0; o < a->n_objects; o++) {
                    fprintf(f, "%s\"%s\":%" PRIu64, o ? "," : "", a->objects[o].name,
                            pa->object_entries[t * a->n_objects + o]);
                }
                fputs("}", f);
                first = false;
            }
        }
        fputs("},\"shards\":[", f);
        struct shard_run run;
        for (size_t q = 0; q < ap->n_quanta; q = next_run(plan, p, q, &run)) {
            next_run(plan, p, q, &run);
            fprintf(f, "%s{\"quanta\":[%" PRIu32 ",%" PRIu32 "],\"ranks\":[%" PRIu64 ",%" PRIu64
                    "],\"share\":%.9g,\"devices\":[", q ? "," : "", run.q_lo, run.q_hi,
                    run.rank_lo, run.rank_hi, run.share);
            size_t m = prof->targets[run.target].n_members;
            for (size_t k = 0; k < m; k++) {
                uint32_t lo, hi;
                hash_range(k, m, &lo, &hi);
                fprintf(f, "%s{\"device\":\"%s\",\"hash\":[%" PRIu32 ",%" PRIu32 "]}",
                        k ? "," : "", member_name(prof, run.target, k), lo, hi);
            }
            fputs("]}", f);
        }
        fputs("]}", f);
    }
    fputs("],\"devices\":[", f);
    bool first = true;
    for (size_t t = 0; t < T; t++) {
        const struct plane_plan_use *u = &plan->use[t];
        for (size_t k = 0; k < prof->targets[t].n_members; k++) {
            fprintf(f, "%s{\"name\":\"%s\",\"load_pps\":%.9g,\"share\":%.9g", first ? "" : ",",
                    member_name(prof, t, k), u->load_pps, u->share);
            for (int r = 0; r < PLANE_RES_COUNT; r++) {
                if (r != PLANE_RES_RATE && prof->targets[t].cap[r] >= 0) {
                    fprintf(f, ",\"%s\":%.9g", resource_names[r], u->used[r]);
                }
            }
            fputs("}", f);
            first = false;
        }
    }
    fputs("]}\n", f);
    return ferror(f) ? PLANE_EIO : 0;
}

int
plane_plan_print_table(const struct plane_plan *plan, FILE *f)
{
    const struct plane_plan_profile *prof = plan->prof;
    size_t T = prof->n_targets;
    fprintf(f, "plan for rack %s: objective %s = %.6g%s, %zu variables, %zu rows, %.1f ms\n\n",
            prof->rack->rack.name,
            plan->objective == PLANE_PLAN_LATENCY ? "sum W*latency (us)" : "min service rate",
            plan->objective_value, plan->optimal ? " (optimal)" : " (time limit: best found)",
            plan->n_vars, plan->n_rows, plan->solve_ms);
    fprintf(f, "%-16s %-7s %7s %8s %10s %10s  %s\n", "APP", "AFFIN", "W", "SWITCH%",
            "LAT(us)", "FM_ENTRIES", "SHARDS (quanta:devices)");
    for (size_t p = 0; p < prof->n_apps; p++) {
        const struct plane_plan_app_profile *ap = &prof->apps[p];
        const struct plane_plan_app *pa = &plan->apps[p];
        fprintf(f, "%-16s %-7s %7.3f %8.1f %10.3f %10" PRIu64 " ", ap->app->name,
                plane_affinity_name(ap->app->affinity), ap->app->weight,
                100 * pa->switch_share, pa->latency_us, pa->fm_entries);
        struct shard_run run;
        for (size_t q = 0; q < ap->n_quanta; q = next_run(plan, p, q, &run)) {
            next_run(plan, p, q, &run);
            const struct plane_plan_target *tg = &prof->targets[run.target];
            fprintf(f, " q%" PRIu32 "-%" PRIu32 ":%s%s", run.q_lo, run.q_hi, tg->name,
                    tg->n_members > 1 ? "+peers" : "");
        }
        fputc('\n', f);
    }
    fprintf(f, "\n%-16s %-7s %12s %8s  %s\n", "DEVICE", "ROLE", "LOAD_PPS", "SHARE%",
            "USED/CAPACITY");
    for (size_t t = 0; t < T; t++) {
        const struct plane_plan_target *tg = &prof->targets[t];
        const struct plane_plan_use *u = &plan->use[t];
        for (size_t k = 0; k < tg->n_members; k++) {
            const char *role = tg->is_switch ? "switch"
                               : prof->rack->devices[tg->members[k]].role == PLANE_ROLE_NIC
                                   ? "nic" : "server";
            fprintf(f, "%-16s %-7s %12.0f %8.2f ", member_name(prof, t, k), role, u->load_pps,
                    100 * u->share);
            for (int r = 0; r < PLANE_RES_COUNT; r++) {
                if (tg->cap[r] >= 0) {
                    fprintf(f, " %s=%.4g/%.4g", resource_names[r],
                            r == PLANE_RES_RATE ? u->load_pps : u->used[r], tg->cap[r]);
                }
            }
            fputc('\n', f);
        }
    }
    return ferror(f) ? PLANE_EIO : 0;
}
