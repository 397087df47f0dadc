/* planegen: Plane's traffic tool; `gen` sends stamped Zipf traffic or a trace, `sink` checks what comes out. */
#include <stdio.h>
#include <string.h>

#include <plane/error.h>

#include "common/log.h"
#include "gen.h"
#include "sink.h"

static void
usage(FILE *f)
{
    fputs("usage: planegen gen  --to HOST:PORT [options]   send stamped traffic\n"
          "       planegen sink --listen HOST:PORT [options] receive and check egress\n"
          "       planegen (gen|sink) --help\n"
          "\n"
          "Typical: planegen sink --listen 127.0.0.1:17110 --gen-report /tmp/gen.json &\n"
          "         planegen gen --to 127.0.0.1:17010 --rate 100000 --duration 10 \\\n"
          "                      --report /tmp/gen.json\n"
          "Exit status: 0 done, 1 bad usage, 2 runtime error.\n", f);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    plane_log_set_ident("planegen");
    char err[512] = "";
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    int rc;
    if (!strcmp(cmd, "gen")) {
        static struct planegen_gen_opts o;   /* large: off the stack */
        rc = planegen_gen_parse(&o, argc - 2, argv + 2, stdout, err, sizeof(err));
        if (rc == 1)
            return 0;
        if (rc < 0) {
            fprintf(stderr, "planegen gen: %s\n", err);
            return 1;
        }
        rc = planegen_gen_run(&o);
    } else if (!strcmp(cmd, "sink")) {
        static struct planegen_sink_opts o;
        rc = planegen_sink_parse(&o, argc - 2, argv + 2, stdout, err, sizeof(err));
        if (rc == 1)
            return 0;
        if (rc < 0) {
            fprintf(stderr, "planegen sink: %s\n", err);
            return 1;
        }
        rc = planegen_sink_run(&o);
    } else {
        fprintf(stderr, "planegen: unknown command %s\n", cmd);
        usage(stderr);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "planegen %s: %s\n", cmd, plane_strerror(rc));
        return 2;
    }
    return 0;
}
