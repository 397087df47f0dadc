/* Planner benchmark: ILP solve time for 4..64 apps and 1M..10M flows per app on 16 devices, beside the paper's Fig. 19. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/config.h"
#include "planner.h"
#include "workload.h"

/*
 * Appendix B of the paper: 16 external devices, 1M union-key flow entries
 * per app; 4..64 apps (Fig. 19a, up to 712 ms) and 1M..10M flows with 4
 * apps (Fig. 19b, up to 4.1 s); its 4-app setups took 54.5 ms.  Here: 8
 * NICs and 8 servers, 32 quanta per app, a mix of high (sketch), medium
 * (table, register + table) and low (table) apps.  Not a test: it prints
 * `name: value` lines and a table.
 */

#define QUANTA 32
#define LIMIT_MS 20000

static char *
rack_yaml(void)
{
    size_t cap = 8192;
    char *s = malloc(cap);
    if (!s) {
        return NULL;
    }
    int n = snprintf(s, cap,
        "rack: {name: bench, auth_key: "
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f}\n"
        "switch:\n  id: 0\n  name: tor\n  control: 127.0.0.1:0\n"
        "  ports: [{id: 0, name: p0, listen: \"127.0.0.1:0\"}]\n"
        "  capacities: {flow_entries: 65536, sram_kb: 16384, tcam_entries: 4096,"
        " hash_units: 64, alus: 64}\n"
        "  features: [hash]\n"
        "devices:\n");
    for (int i = 0; i < 16; i++) {
        bool nic = i < 8;
        n += snprintf(s + n, cap - (size_t)n,
                      "  - {id: %d, name: %s%d, role: %s, address: \"127.0.0.1:%d\", "
                      "memory_mb: %d, rate_pps: %d, features: [%s]}\n",
                      i + 1, nic ? "nic" : "srv", i % 8, nic ? "nic" : "server", 17001 + i,
                      nic ? 8192 : 131072, nic ? 4000000 : 2000000,
                      nic ? "hash" : "hash, payload");
    }
    return s;
}

static char *
workload_yaml(int apps, uint64_t keys)
{
    size_t cap = 4096 + (size_t)apps * 512;
    char *s = malloc(cap);
    if (!s) {
        return NULL;
    }
    int n = snprintf(s, cap, "rate_pps: 10000000\napps:\n");
    for (int i = 0; i < apps; i++) {
        static const char *const shapes[] = {
            "affinity: high\n    objects: [{name: cms, kind: sketch, value_bytes: 4, entries: 16384}]",
            "objects: [{name: t, kind: table, key_bytes: 13, value_bytes: 8}]",
            ("objects: [{name: r, kind: register, value_bytes: 8},"
             " {name: t, kind: table, key_bytes: 13, value_bytes: 4}]"),
            "affinity: low\n    objects: [{name: t, kind: table, key_bytes: 13, value_bytes: 32}]",
        };
        n += snprintf(s + n, cap - (size_t)n,
                      "  - name: app%d\n    standalone: true\n    weight: %.9f\n"
                      "    quanta: %d\n    popularity: {zipf: {alpha: %.2f, keys: %" PRIu64 "}}\n"
                      "    %s\n", i, 1.0 / apps, QUANTA, 0.9 + 0.05 * (i % 5), keys,
                      shapes[i % 4]);
    }
    return s;
}

struct result {
    double ms;
    size_t vars, rows;
    bool optimal;
    int rc;
};

static struct result
run(const struct plane_config *rack, int apps, uint64_t keys, bool aggregate)
{
    struct result r = { 0 };
    char err[2048];
    char *y = workload_yaml(apps, keys);
    struct plane_workload *wl = NULL;
    r.rc = y ? plane_workload_load_buf("bench-workload", y, strlen(y), rack, &wl, err, sizeof err)
             : PLANE_ENOMEM;
    free(y);
    if (r.rc) {
        fprintf(stderr, "planner_bench: workload: %s\n", err);
        return r;
    }
    struct plane_plan_opts opts = { .no_aggregate = !aggregate, .time_limit_ms = LIMIT_MS,
                                    .mip_gap = 1e-4 };
    struct plane_plan *plan = NULL;
    r.rc = plane_planner_solve(rack, wl, &opts, &plan, err, sizeof err);
    if (r.rc) {
        fprintf(stderr, "planner_bench: %d apps x %" PRIu64 " keys: %s\n", apps, keys, err);
    } else {
        r.ms = plan->solve_ms;
        r.vars = plan->n_vars;
        r.rows = plan->n_rows;
        r.optimal = plan->optimal;
    }
    plane_plan_delete(plan);
    plane_workload_delete(wl);
    return r;
}

int
main(void)
{
    char err[1024];
    char *ry = rack_yaml();
    struct plane_config *rack = NULL;
    if (!ry || plane_config_load_buf("bench-rack", ry, strlen(ry), &rack, err, sizeof err)) {
        fprintf(stderr, "planner_bench: rack: %s\n", ry ? err : "out of memory");
        free(ry);
        return 1;
    }
    free(ry);

    struct row {
        const char *fig;
        int apps;
        uint64_t keys;
        bool aggregate;
        double paper_ms;       /* < 0: the paper gives no number for this point */
    } rows[] = {
        { "4apps_1M_flows", 4, 1000000, true, 54.5 },
        { "4apps_1M_flows_no_aggregate", 4, 1000000, false, 54.5 },
        { "8apps_1M_flows", 8, 1000000, true, -1 },
        { "16apps_1M_flows", 16, 1000000, true, -1 },
        { "32apps_1M_flows", 32, 1000000, true, -1 },
        { "64apps_1M_flows", 64, 1000000, true, 712 },
        { "16apps_1M_flows_no_aggregate", 16, 1000000, false, -1 },
        { "4apps_2M_flows", 4, 2000000, true, -1 },
        { "4apps_5M_flows", 4, 5000000, true, -1 },
        { "4apps_10M_flows", 4, 10000000, true, 4100 },
    };
    size_t n = sizeof rows / sizeof rows[0];
    struct result res[sizeof rows / sizeof rows[0]];
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        res[i] = run(rack, rows[i].apps, rows[i].keys, rows[i].aggregate);
        failed |= res[i].rc != 0;
        printf("planner_solve_ms_%s: %.2f\n", rows[i].fig, res[i].ms);
    }
    printf("\n%-30s %5s %9s %6s %6s %10s %10s %s\n", "CASE (16 devices)", "APPS", "FLOWS/APP",
           "VARS", "ROWS", "OURS(ms)", "PAPER(ms)", "");
    for (size_t i = 0; i < n; i++) {
        char paper[32] = "-";
        if (rows[i].paper_ms >= 0) {
            snprintf(paper, sizeof paper, "%.1f", rows[i].paper_ms);
        }
        printf("%-30s %5d %8" PRIu64 "M %6zu %6zu %10.2f %10s %s\n", rows[i].fig, rows[i].apps,
               rows[i].keys / 1000000, res[i].vars, res[i].rows, res[i].ms, paper,
               res[i].rc ? "FAILED" : !res[i].optimal ? "(time limit)"
               : rows[i].paper_ms >= 0 && res[i].ms > rows[i].paper_ms ? "SLOWER" : "");
    }
    printf("\npaper (Appendix B, Gurobi): 54.5 ms for its 4-app setups, 712 ms at 64 apps,"
           " 4.1 s at 10M flows per app.\n"
           "ours: GLPK, %d quanta per app, mip_gap 1e-4; flows only change the quantum\n"
           "fractions (Euler-Maclaurin), not the ILP size.\n", QUANTA);
    plane_config_delete(rack);
    return failed;
}
