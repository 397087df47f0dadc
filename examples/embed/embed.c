/* Embedding libplane's control client: connect to a rack, read stats, insert an entry, watch failover. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plane/client.h>
#include <plane/error.h>
#include <plane/flow.h>

/* Prints one counter (plane_client_stats calls this for each). */
static int
print_counter(void *arg, const char *name, uint64_t value)
{
    (void) arg;
    printf("  %-40s %" PRIu64 "\n", name, value);
    return 0;
}

static void
nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s RACK.yaml [APP] [SECONDS]\n"
                        "  reads the switch's counters, inserts one entry in APP's first\n"
                        "  object on the first device, then watches the devices' liveness\n"
                        "  for SECONDS (default 10; try `planectl drill fail nic0` meanwhile)\n",
                argv[0]);
        return 1;
    }
    struct plane_client *c;
    char err[1024];
    int rc = plane_client_open_err(argv[1], &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }

    /* 1. Counters: only those starting with "app." and "dev.", every page. */
    const char *prefixes[] = { "app.", "dev." };
    printf("switch counters:\n");
    rc = plane_client_stats(c, "switch", prefixes, 2, print_counter, NULL);
    if (rc) {
        fprintf(stderr, "stats: %s\n", plane_client_last_error(c));
        plane_client_close(c);
        return 1;
    }

    /* 2. Insert an entry keyed by a flow into the app's object 0 on the
     *    first device (a device changes its own copy only: a real program
     *    sends it to the shard's primary and replica). */
    const struct plane_client_app *app =
        argc > 2 ? plane_client_find_app(c, argv[2]) : plane_client_app(c, 0);
    const struct plane_client_node *dev = plane_client_node(c, 1);
    if (app && dev) {
        struct plane_flow_key k;
        const uint8_t src[4] = { 192, 0, 2, 1 }, dst[4] = { 198, 51, 100, 1 };
        plane_flow_key_set_v4(&k, 17, src, 5353, dst, 7001);
        uint8_t value[8] = { 0, 0, 0, 0, 0, 0, 0, 42 };
        struct plane_client_entry e = {
            .object_id = 0, .key = (const uint8_t *) &k, .key_len = sizeof k,
            .value = value, .value_len = sizeof value,
        };
        rc = plane_client_insert(c, dev->name, app->name, &e, 1);
        printf("insert into %s/%s: %s\n", dev->name, app->name,
               rc ? plane_client_last_error(c) : "ok");
    }

    /* 3. Watch failover: poll the devices' liveness and print changes. */
    int seconds = argc > 3 ? atoi(argv[3]) : 10;
    struct plane_client_dev_status prev[64], cur[64];
    size_t np = 0, n = 0;
    for (int t = 0; t < seconds * 10; t++) {
        if (plane_client_devices(c, cur, 64, &n) == 0) {
            for (size_t i = 0; i < n && i < 64; i++) {
                if (np != n || cur[i].up != prev[i].up) {
                    printf("%s is %s (taken down %" PRIu64 " times)\n", cur[i].name,
                           cur[i].up ? "up" : "DOWN", cur[i].downs);
                }
            }
            memcpy(prev, cur, sizeof cur);
            np = n;
        } else {
            fprintf(stderr, "devices: %s\n", plane_client_last_error(c));
        }
        nap_ms(100);
    }
    plane_client_close(c);
    return 0;
}
