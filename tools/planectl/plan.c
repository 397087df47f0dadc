/* planectl plan: the planner front end (ILP placement of the apps' key space, paper section 5). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plane/error.h>

#include "common/config.h"
#include <inttypes.h>
#include <plane/client.h>
#include "common/alloc.h"
#include "planectl.h"
#include "planner.h"
#include "workload.h"

static void
plan_usage(FILE *f)
{
    fputs("usage: planectl plan RACK.yaml WORKLOAD.yaml [--out FRAGMENT.yaml]\n"
          "                     [--objective latency|throughput] [--json]\n"
          "                     [--no-aggregate] [--time-limit-ms N] [--measure]\n"
          "\n"
          "  plan   place every app's key-space quanta on the switch and devices\n"
          "         (ILP, paper section 5); prints a table, or JSON with --json,\n"
          "         and writes the YAML config fragment to --out.\n"
          "  --measure  take each device's per-packet latency from the running\n"
          "             rack RACK.yaml describes (switch heartbeat round trip +\n"
          "             the device's own time), overriding the workload's\n"
          "Exit status: 0 planned, 1 bad input, 2 infeasible, 3 other error.\n", f);
}

/*
 * --measure: per device, the latency a packet pinned there sees, measured
 * on the running rack: the switch's heartbeat round trip to it plus the
 * device's own arrival-to-release time (both EWMAs in STATS).  Devices that
 * report nothing keep the workload's (or the rack file's) value.
 */
static int
plan_measure(const char *rack_path, const struct plane_config *rack, struct plane_workload *wl)
{
    char err[512] = "";
    struct plane_client *c = NULL;
    int rc = plane_client_open_err(rack_path, &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "planectl: plan --measure: %s\n", err[0] ? err : plane_strerror(rc));
        return rc;
    }
    size_t measured = 0;
    for (size_t i = 0; i < rack->n_devices; i++) {
        const char *name = rack->devices[i].name;
        char stat[160];
        uint64_t rtt = 0, own = 0;
        snprintf(stat, sizeof stat, "dev.%s.rtt_us", name);
        if (plane_client_stat(c, "switch", stat, &rtt) != 0
            || plane_client_stat(c, name, "device.latency_us", &own) != 0 || rtt + own == 0) {
            fprintf(stderr, "planectl: plan --measure: %s: no measurement (is it up?); "
                    "keeping the configured latency\n", name);
            continue;
        }
        struct plane_workload_device *d = NULL;
        for (size_t j = 0; j < wl->n_devices; j++) {
            if (!strcmp(wl->devices[j].name, name)) {
                d = &wl->devices[j];
            }
        }
        if (!d) {
            struct plane_workload_device *nd =
                plane_realloc(wl->devices, (wl->n_devices + 1) * sizeof *nd);
            if (!nd) {
                plane_client_close(c);
                return PLANE_ENOMEM;
            }
            wl->devices = nd;
            d = &wl->devices[wl->n_devices++];
            memset(d, 0, sizeof *d);
            snprintf(d->name, sizeof d->name, "%s", name);
        }
        d->latency_us = (double) (rtt + own);
        d->has_latency = true;
        measured++;
        fprintf(stderr, "planectl: measured %-12s %8.1f us (round trip %" PRIu64 " + device %" PRIu64 ")\n", name,
               d->latency_us, rtt, own);
    }
    plane_client_close(c);
    if (!measured) {
        fprintf(stderr, "planectl: plan --measure: no device of %s answered\n", rack_path);
        return PLANE_ETIMEDOUT;
    }
    return 0;
}

int
cmd_plan(int argc, char **argv)
{
    const char *rack_path = NULL, *wl_path = NULL, *out_path = NULL;
    struct plane_plan_opts opts = { .objective = PLANE_PLAN_LATENCY };
    bool json = false, measure = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") && i + 1 < argc) {
            out_path = argv[++i];
        } else if (!strcmp(a, "--objective") && i + 1 < argc) {
            const char *o = argv[++i];
            if (!strcmp(o, "latency")) {
                opts.objective = PLANE_PLAN_LATENCY;
            } else if (!strcmp(o, "throughput")) {
                opts.objective = PLANE_PLAN_THROUGHPUT;
            } else {
                fprintf(stderr, "planectl: --objective is latency or throughput, not %s\n", o);
                return 1;
            }
        } else if (!strcmp(a, "--time-limit-ms") && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || errno || v == 0 || v > 3600000) {
                fprintf(stderr, "planectl: --time-limit-ms takes 1..3600000\n");
                return 1;
            }
            opts.time_limit_ms = (uint32_t)v;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--measure")) {
            measure = true;
        } else if (!strcmp(a, "--no-aggregate")) {
            opts.no_aggregate = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            plan_usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "planectl: unknown option %s\n", a);
            plan_usage(stderr);
            return 1;
        } else if (!rack_path) {
            rack_path = a;
        } else if (!wl_path) {
            wl_path = a;
        } else {
            plan_usage(stderr);
            return 1;
        }
    }
    if (!rack_path || !wl_path) {
        plan_usage(stderr);
        return 1;
    }

    char err[2048];
    struct plane_config *rack = NULL;
    struct plane_workload *wl = NULL;
    struct plane_plan *plan = NULL;
    int status = 1;
    int rc = plane_config_load_file(rack_path, &rack, err, sizeof err);
    if (!rc) {
        rc = plane_workload_load_file(wl_path, rack, &wl, err, sizeof err);
    }
    if (rc) {
        fprintf(stderr, "planectl: %s\n", err[0] ? err : plane_strerror(rc));
        goto out;
    }
    if (measure && (rc = plan_measure(rack_path, rack, wl)) != 0) {
        status = 2;
        goto out;
    }
    rc = plane_planner_solve(rack, wl, &opts, &plan, err, sizeof err);
    if (rc) {
        fprintf(stderr, "planectl: %s\n", err[0] ? err : plane_strerror(rc));
        status = rc == PLANE_ENOSPC ? 2 : 3;
        goto out;
    }
    rc = json ? plane_plan_write_json(plan, stdout) : plane_plan_print_table(plan, stdout);
    if (!rc && out_path) {
        FILE *f = fopen(out_path, "w");
        if (!f) {
            fprintf(stderr, "planectl: cannot write %s: %s\n", out_path, strerror(errno));
            status = 3;
            goto out;
        }
        rc = plane_plan_write_yaml(plan, f);
        if (fclose(f) != 0 && !rc) {
            rc = PLANE_EIO;
        }
    }
    if (rc) {
        fprintf(stderr, "planectl: writing the plan: %s\n", plane_strerror(rc));
        status = 3;
        goto out;
    }
    status = 0;
out:
    plane_plan_delete(plan);
    plane_workload_delete(wl);
    plane_config_delete(rack);
    return status;
}
