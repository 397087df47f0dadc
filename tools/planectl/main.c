/* planectl: the operator's tool, a thin shell over the public client API (<plane/client.h>) plus the planner. */
#include <stdlib.h>
#include <string.h>

#include <plane/error.h>

#include "planectl.h"

static void
usage(FILE *f)
{
    fputs("usage: planectl [--config RACK.yaml] [--json] [--timeout MS] [--bin-dir DIR] COMMAND ...\n"
          "\n"
          "Commands on a running rack (addresses and key from --config, default\n"
          "$PLANE_CONFIG or ./rack.yaml):\n"
          "  status [--rates]             devices up/down, apps: flow-manager occupancy,\n"
          "                               hit ratio, sync lag; --rates samples twice, 1 s apart\n"
          "  devices                      each device as the switch sees it\n"
          "  counters [NODE] [PREFIX...]  named counters of NODE (default the switch)\n"
          "  flows APP [DEVICE]           the app's table entries, keys shown as flows\n"
          "  objects APP [DEVICE]         the app's table entries, raw (hex)\n"
          "  read APP NODE OBJECT KEY     one entry by key (ENTRY_READ)\n"
          "  insert APP DEV[,DEV] OBJECT KEY VALUE   insert/replace an entry on each DEV\n"
          "  delete APP DEV[,DEV] OBJECT KEY         delete an entry on each DEV\n"
          "  promote APP PROTO SRC:PORT DST:PORT     install a flow's state at the switch\n"
          "  demote APP PROTO SRC:PORT DST:PORT      hand it back to its device\n"
          "  drill fail|up DEVICE [--no-wait]        failure drill: the switch stops\n"
          "                               hearing DEVICE, fails it over; `up` ends it\n"
          "  up [RACK.yaml] [--log-level L]  start switchd and every device, wait until\n"
          "                               all are up, stop them all on Ctrl-C/SIGTERM\n"
          "Planning (offline):\n"
          "  plan RACK.yaml WORKLOAD.yaml [...]   see `planectl plan --help`\n"
          "\n"
          "KEY is hex bytes (0a000001) or a flow: PROTO SRC:PORT DST:PORT.\n"
          "NODE is a device name or id, or `switch`.\n"
          "Exit status: 0 ok, 1 bad arguments or configuration, 2 the rack did not\n"
          "answer or refused (the message says which and what to try).\n", f);
}

int
main(int argc, char **argv)
{
    struct ctl_opts o = { .config = getenv("PLANE_CONFIG") };
    if (!o.config || !*o.config) {
        o.config = "rack.yaml";
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config") && i + 1 < argc) {
            o.config = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            o.config = a + 9;
        } else if (!strcmp(a, "--json")) {
            o.json = true;
        } else if (!strcmp(a, "--bin-dir") && i + 1 < argc) {
            o.bin_dir = argv[++i];
        } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v < 50 || v > 600000) {
                fprintf(stderr, "planectl: --timeout takes 50..600000 (ms)\n");
                return CTL_USAGE;
            }
            o.timeout_ms = (uint32_t) v;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "planectl: unknown option %s\n", a);
            usage(stderr);
            return CTL_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CTL_USAGE;
    }
    const char *cmd = argv[i];
    int n = argc - i - 1;
    char **av = argv + i + 1;
    /* --json may also follow the command. */
    int kept = 0;
    if (strcmp(cmd, "plan")) {
        for (int k = 0; k < n; k++) {
            if (!strcmp(av[k], "--json")) {
                o.json = true;
            } else {
                av[kept++] = av[k];
            }
        }
        n = kept;
    }
    if (!strcmp(cmd, "plan")) {
        if (o.json) {
            /* The global --json applies to plan too. */
            char **pav = malloc(((size_t) n + 2) * sizeof *pav);
            if (!pav) {
                return 3;
            }
            memcpy(pav, av, (size_t) n * sizeof *pav);
            pav[n] = (char *) "--json";
            pav[n + 1] = NULL;
            int rc = cmd_plan(n + 1, pav);
            free(pav);
            return rc;
        }
        return cmd_plan(n, av);
    }
    if (!strcmp(cmd, "status")) {
        return cmd_status(&o, n, av);
    }
    if (!strcmp(cmd, "devices")) {
        return cmd_devices(&o, n, av);
    }
    if (!strcmp(cmd, "counters")) {
        return cmd_counters(&o, n, av);
    }
    if (!strcmp(cmd, "flows") || !strcmp(cmd, "objects")) {
        return cmd_objects(&o, n, av, !strcmp(cmd, "flows"));
    }
    if (!strcmp(cmd, "read")) {
        return cmd_read(&o, n, av);
    }
    if (!strcmp(cmd, "insert") || !strcmp(cmd, "delete")) {
        return cmd_change(&o, n, av, !strcmp(cmd, "insert"));
    }
    if (!strcmp(cmd, "promote") || !strcmp(cmd, "demote")) {
        return cmd_update(&o, n, av, !strcmp(cmd, "promote"));
    }
    if (!strcmp(cmd, "drill")) {
        return cmd_drill(&o, n, av);
    }
    if (!strcmp(cmd, "up")) {
        return cmd_up(&o, n, av);
    }
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "planectl: unknown command %s\n", cmd);
    usage(stderr);
    return CTL_USAGE;
}
