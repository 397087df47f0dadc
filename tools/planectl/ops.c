/* planectl's operations on a running rack: status, counters, objects, entries, promote/demote, drills. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plane/client.h>
#include <plane/error.h>
#include <plane/flow.h>

#include "planectl.h"

/* ---- counters gathered into an array ---- */

struct ctrs {
    char **names;
    uint64_t *values;
    size_t n, cap;
    bool oom;
};

static int
ctrs_add(void *arg, const char *name, uint64_t value)
{
    struct ctrs *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        char **nn = realloc(c->names, cap * sizeof *nn);
        if (nn) {
            c->names = nn;
        }
        uint64_t *nv = realloc(c->values, cap * sizeof *nv);
        if (nv) {
            c->values = nv;
        }
        if (!nn || !nv) {
            c->oom = true;
            return PLANE_ENOMEM;
        }
        c->cap = cap;
    }
    c->names[c->n] = strdup(name);
    if (!c->names[c->n]) {
        c->oom = true;
        return PLANE_ENOMEM;
    }
    c->values[c->n++] = value;
    return 0;
}

static void
ctrs_free(struct ctrs *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->names[i]);
    }
    free(c->names);
    free(c->values);
    memset(c, 0, sizeof *c);
}

/* The counter named pattern with its "%s" replaced by arg, or 0. */
static uint64_t
ctrs_get(const struct ctrs *c, const char *pattern, const char *arg)
{
    char name[256];
    const char *at = strstr(pattern, "%s");
    if (at) {
        snprintf(name, sizeof name, "%.*s%s%s", (int) (at - pattern), pattern, arg, at + 2);
    } else {
        snprintf(name, sizeof name, "%s", pattern);
    }
    for (size_t i = 0; i < c->n; i++) {
        if (!strcmp(c->names[i], name)) {
            return c->values[i];
        }
    }
    return 0;
}

static const char *
role_name(enum plane_client_role r)
{
    return r == PLANE_CLIENT_ROLE_SWITCH ? "switch" : r == PLANE_CLIENT_ROLE_NIC ? "nic"
                                                                                 : "server";
}

/* ---- status ---- */

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int
cmd_status(const struct ctl_opts *o, int argc, char **argv)
{
    bool rates = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--rates")) {
            rates = true;
        } else {
            fprintf(stderr, "planectl status: unknown argument %s (try --rates)\n", argv[i]);
            return CTL_USAGE;
        }
    }
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    const char *prefixes[] = { "app.", "dev.", "rx_frames", "egress_frames", "placement.epoch" };
    struct ctrs s0 = { 0 }, s1 = { 0 };
    int rc = plane_client_stats(c, "switch", prefixes, 5, ctrs_add, &s0);
    if (!rc && rates) {
        /* Rates are the difference of two samples taken 1 s apart. */
        sleep_ms(1000);
        rc = plane_client_stats(c, "switch", prefixes, 5, ctrs_add, &s1);
    }
    if (rc) {
        ctl_fail(c, "status", rc);
        ctrs_free(&s0);
        ctrs_free(&s1);
        plane_client_close(c);
        return CTL_FAILED;
    }
    const struct ctrs *s = rates ? &s1 : &s0;
    const struct plane_client_node *sw = plane_client_node(c, 0);
    size_t nn = plane_client_n_nodes(c), na = plane_client_n_apps(c);
    if (o->json) {
        printf("{\"rack\":");
        json_str(stdout, plane_client_rack_name(c));
        printf(",\"switch\":{\"name\":");
        json_str(stdout, sw->name);
        printf(",\"id\":%u,\"address\":", sw->id);
        json_str(stdout, sw->address);
        printf(",\"rx_frames\":%" PRIu64 ",\"egress_frames\":%" PRIu64 ",\"epoch\":%" PRIu64,
               ctrs_get(s, "%srx_frames", ""), ctrs_get(s, "%segress_frames", ""),
               ctrs_get(s, "%splacement.epoch", ""));
        if (rates) {
            printf(",\"rx_pps\":%" PRIu64,
                   ctrs_get(&s1, "%srx_frames", "") - ctrs_get(&s0, "%srx_frames", ""));
        }
        printf("},\"devices\":[");
        for (size_t i = 1; i < nn; i++) {
            const struct plane_client_node *d = plane_client_node(c, i);
            printf("%s{\"name\":", i > 1 ? "," : "");
            json_str(stdout, d->name);
            printf(",\"id\":%u,\"role\":\"%s\",\"address\":", d->id, role_name(d->role));
            json_str(stdout, d->address);
            printf(",\"up\":%s,\"misses\":%" PRIu64 ",\"downs\":%" PRIu64 "}",
                   ctrs_get(s, "dev.%s.up", d->name) ? "true" : "false",
                   ctrs_get(s, "dev.%s.misses", d->name), ctrs_get(s, "dev.%s.downs", d->name));
        }
        printf("],\"apps\":[");
    } else {
        printf("rack %s: switch %s at %s, %" PRIu64 " frames in, %" PRIu64
               " out, device map epoch %" PRIu64 "\n",
               plane_client_rack_name(c), sw->name, sw->address, ctrs_get(s, "%srx_frames", ""),
               ctrs_get(s, "%segress_frames", ""), ctrs_get(s, "%splacement.epoch", ""));
        if (rates) {
            printf("ingress rate: %" PRIu64 " frames/s\n",
                   ctrs_get(&s1, "%srx_frames", "") - ctrs_get(&s0, "%srx_frames", ""));
        }
        printf("\n%-12s %5s %-7s %-22s %-5s %7s %6s\n", "DEVICE", "ID", "ROLE", "ADDRESS", "STATE",
               "MISSES", "DOWNS");
        for (size_t i = 1; i < nn; i++) {
            const struct plane_client_node *d = plane_client_node(c, i);
            printf("%-12s %5u %-7s %-22s %-5s %7" PRIu64 " %6" PRIu64 "\n", d->name, d->id,
                   role_name(d->role), d->address,
                   ctrs_get(s, "dev.%s.up", d->name) ? "up" : "DOWN",
                   ctrs_get(s, "dev.%s.misses", d->name), ctrs_get(s, "dev.%s.downs", d->name));
        }
        printf("\n%-12s %5s %15s %9s %12s %12s %11s%s\n", "APP", "ID", "FLOW MANAGER", "HIT RATIO",
               "HITS", "MISSES", "SYNC LAG", rates ? "   HITS/S  MISSES/S" : "");
    }
    for (size_t i = 0; i < na; i++) {
        const struct plane_client_app *a = plane_client_app(c, i);
        uint64_t hits = ctrs_get(s, "app.%s.hits", a->name);
        uint64_t misses = ctrs_get(s, "app.%s.misses", a->name);
        uint64_t occ = ctrs_get(s, "app.%s.fm.occupancy", a->name);
        uint64_t cap = ctrs_get(s, "app.%s.fm.capacity", a->name);
        uint64_t lag = ctrs_get(s, "app.%s.sync_lag_ms", a->name);
        uint64_t promos = ctrs_get(s, "app.%s.install_ok", a->name);
        uint64_t demos = ctrs_get(s, "app.%s.demote_ok", a->name);
        double ratio = hits + misses ? (double) hits / (double) (hits + misses) : 0.0;
        uint64_t dh = rates ? hits - ctrs_get(&s0, "app.%s.hits", a->name) : 0;
        uint64_t dm = rates ? misses - ctrs_get(&s0, "app.%s.misses", a->name) : 0;
        if (o->json) {
            printf("%s{\"name\":", i ? "," : "");
            json_str(stdout, a->name);
            printf(",\"id\":%u,\"fm_occupancy\":%" PRIu64 ",\"fm_capacity\":%" PRIu64
                   ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"hit_ratio\":%.4f"
                   ",\"sync_lag_ms\":%" PRIu64 ",\"promotions\":%" PRIu64
                   ",\"demotions\":%" PRIu64,
                   a->id, occ, cap, hits, misses, ratio, lag, promos, demos);
            if (rates) {
                printf(",\"hits_per_s\":%" PRIu64 ",\"misses_per_s\":%" PRIu64, dh, dm);
            }
            printf("}");
        } else {
            char fm[32];
            snprintf(fm, sizeof fm, "%" PRIu64 "/%" PRIu64, occ, cap);
            printf("%-12s %5u %15s %8.1f%% %12" PRIu64 " %12" PRIu64 " %8" PRIu64 " ms", a->name,
                   a->id, fm, ratio * 100.0, hits, misses, lag);
            if (rates) {
                printf(" %9" PRIu64 " %9" PRIu64, dh, dm);
            }
            printf("\n");
        }
    }
    if (o->json) {
        printf("]}\n");
    }
    ctrs_free(&s0);
    ctrs_free(&s1);
    plane_client_close(c);
    return CTL_OK;
}

/* ---- counters ---- */

static int
print_ctr(void *arg, const char *name, uint64_t value)
{
    const struct ctl_opts *o = arg;
    static bool first = true;
    if (o->json) {
        printf("%s\n  ", first ? "" : ",");
        json_str(stdout, name);
        printf(": %" PRIu64, value);
    } else {
        printf("%-56s %" PRIu64 "\n", name, value);
    }
    first = false;
    return 0;
}

int
cmd_counters(const struct ctl_opts *o, int argc, char **argv)
{
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    const char *node = "switch";
    int first = 0;
    if (argc > 0 && plane_client_find_node(c, argv[0])) {
        node = argv[0];
        first = 1;
    }
    if (o->json) {
        printf("{");
    }
    int rc = plane_client_stats(c, node, (const char *const *) argv + first,
                                (size_t) (argc - first), print_ctr, (void *) o);
    if (o->json) {
        printf("\n}\n");
    }
    if (rc) {
        ctl_fail(c, "counters", rc);
    }
    plane_client_close(c);
    return rc ? CTL_FAILED : CTL_OK;
}

/* ---- objects / flows / read ---- */

struct ent_print {
    const struct ctl_opts *o;
    const char *node;
    bool flows;
    size_t n;
};

static int
print_entry(void *arg, const struct plane_client_entry *e)
{
    struct ent_print *p = arg;
    char tuple[PLANE_FLOW_KEY_STRLEN] = "";
    if (p->flows && e->key_len == sizeof(struct plane_flow_key)) {
        struct plane_flow_key k;
        memcpy(&k, e->key, sizeof k);
        plane_flow_key_format(&k, tuple, sizeof tuple);
    }
    bool nf = e->flags & PLANE_CLIENT_ENTRY_NOT_FOUND;
    if (p->o->json) {
        printf("%s\n  {\"device\":", p->n ? "," : "");
        json_str(stdout, p->node);
        printf(",\"object\":%u,\"found\":%s,\"register\":%s,\"key\":\"", e->object_id,
               nf ? "false" : "true", (e->flags & PLANE_CLIENT_ENTRY_SHARED) ? "true" : "false");
        put_hex(stdout, e->key, e->key_len);
        printf("\",\"value\":\"");
        put_hex(stdout, e->value, e->value_len);
        printf("\"");
        if (tuple[0]) {
            printf(",\"flow\":");
            json_str(stdout, tuple);
        }
        printf("}");
    } else {
        printf("%-8s obj %-3u ", p->node, e->object_id);
        if (tuple[0]) {
            printf("%-44s ", tuple);
        } else {
            put_hex(stdout, e->key, e->key_len);
            printf(" ");
        }
        if (nf) {
            printf("(not found)\n");
        } else {
            printf("= ");
            put_hex(stdout, e->value, e->value_len);
            printf("\n");
        }
    }
    p->n++;
    return 0;
}

int
cmd_objects(const struct ctl_opts *o, int argc, char **argv, bool flows)
{
    if (argc < 1 || argc > 2) {
        fprintf(stderr, "usage: planectl %s APP [DEVICE]\n", flows ? "flows" : "objects");
        return CTL_USAGE;
    }
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    struct ent_print p = { .o = o, .flows = flows };
    int rc = 0;
    if (o->json) {
        printf("[");
    }
    for (size_t i = 1; !rc && i < plane_client_n_nodes(c); i++) {
        const struct plane_client_node *d = plane_client_node(c, i);
        if (argc == 2 && plane_client_find_node(c, argv[1]) != d) {
            continue;
        }
        p.node = d->name;
        rc = plane_client_scan(c, d->name, argv[0], NULL, 0, print_entry, &p);
        if (rc == PLANE_ETIMEDOUT && argc < 2) {
            /* A device that is down is reported and skipped. */
            fprintf(stderr, "planectl: %s\n", plane_client_last_error(c));
            rc = 0;
        }
    }
    if (argc == 2 && !plane_client_find_node(c, argv[1])) {
        fprintf(stderr, "planectl: no device named %s in %s\n", argv[1], o->config);
        rc = PLANE_ENOENT;
    }
    if (o->json) {
        printf("\n]\n");
    }
    if (rc) {
        ctl_fail(c, flows ? "flows" : "objects", rc);
    }
    plane_client_close(c);
    return rc ? CTL_FAILED : CTL_OK;
}

/* Parses OBJECT KEY [VALUE]: KEY is hex, or "PROTO SRC:PORT DST:PORT" (3 args). */
static int
parse_entry(int argc, char **argv, bool with_value, struct plane_client_entry *e,
            uint8_t *key, uint8_t *value, size_t cap)
{
    char *end;
    if (argc < 2) {
        return -1;
    }
    unsigned long obj = strtoul(argv[0], &end, 10);
    if (*end || obj > 0xfffe) {
        return -1;
    }
    int used = 2;
    int kl = parse_hex(argv[1], key, cap);
    if (kl < 0) {
        struct plane_flow_key fk;
        if (parse_tuple(argv + 1, argc - 1, &fk)) {
            return -1;
        }
        memcpy(key, &fk, sizeof fk);
        kl = sizeof fk;
        used = 4;
    }
    int vl = 0;
    if (with_value) {
        if (argc <= used || (vl = parse_hex(argv[used], value, cap)) < 0) {
            return -1;
        }
        used++;
    }
    if (argc != used) {
        return -1;
    }
    *e = (struct plane_client_entry) {
        .object_id = (uint16_t) obj, .key = key, .key_len = (uint32_t) kl,
        .value = value, .value_len = (uint32_t) vl,
    };
    return 0;
}

int
cmd_read(const struct ctl_opts *o, int argc, char **argv)
{
    uint8_t key[256];
    struct plane_client_entry e;
    if (argc < 3 || parse_entry(argc - 2, argv + 2, false, &e, key, NULL, sizeof key)) {
        fprintf(stderr, "usage: planectl read APP DEVICE OBJECT KEY\n"
                        "  KEY: hex bytes, or PROTO SRC:PORT DST:PORT (a flow key)\n");
        return CTL_USAGE;
    }
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    struct ent_print p = { .o = o, .node = argv[1], .flows = true };
    if (o->json) {
        printf("[");
    }
    int rc = plane_client_read_entries(c, argv[1], argv[0], &e, 1, print_entry, &p);
    if (o->json) {
        printf("\n]\n");
    }
    if (rc) {
        ctl_fail(c, "read", rc);
    }
    plane_client_close(c);
    return rc ? CTL_FAILED : CTL_OK;
}

int
cmd_change(const struct ctl_opts *o, int argc, char **argv, bool insert)
{
    uint8_t key[256], value[4096];
    struct plane_client_entry e;
    if (argc < 3 || parse_entry(argc - 2, argv + 2, insert, &e, key, value, sizeof key)) {
        fprintf(stderr, "usage: planectl %s APP DEVICE[,DEVICE...] OBJECT KEY%s\n"
                        "  KEY: hex bytes, or PROTO SRC:PORT DST:PORT (a flow key)\n"
                        "  A device changes its own copy only: name the shard's primary "
                        "and replica.\n", insert ? "insert" : "delete", insert ? " VALUE" : "");
        return CTL_USAGE;
    }
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    int rc = 0;
    char *devs = strdup(argv[1]), *save = NULL;
    for (char *d = devs ? strtok_r(devs, ",", &save) : NULL; d && !rc;
         d = strtok_r(NULL, ",", &save)) {
        rc = insert ? plane_client_insert(c, d, argv[0], &e, 1)
                    : plane_client_delete(c, d, argv[0], &e, 1);
        if (!rc && !o->json) {
            printf("%s: %s\n", d, insert ? "inserted" : "deleted");
        }
    }
    free(devs);
    if (o->json) {
        printf("{\"ok\":%s,\"status\":\"%s\"}\n", rc ? "false" : "true",
               rc ? plane_err_name(rc) : "OK");
    }
    if (rc) {
        ctl_fail(c, insert ? "insert" : "delete", rc);
    }
    plane_client_close(c);
    return rc ? CTL_FAILED : CTL_OK;
}

int
cmd_update(const struct ctl_opts *o, int argc, char **argv, bool promote)
{
    struct plane_flow_key k;
    if (argc != 4 || parse_tuple(argv + 1, 3, &k)) {
        fprintf(stderr, "usage: planectl %s APP PROTO SRC:PORT DST:PORT\n"
                        "  e.g. planectl %s nat udp 10.0.0.1:5000 10.0.1.1:53\n",
                promote ? "promote" : "demote", promote ? "promote" : "demote");
        return CTL_USAGE;
    }
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    int rc = promote ? plane_client_promote(c, argv[0], &k) : plane_client_demote(c, argv[0], &k);
    if (o->json) {
        printf("{\"ok\":%s,\"status\":\"%s\"}\n", rc ? "false" : "true",
               rc ? plane_err_name(rc) : "OK");
    } else if (!rc) {
        printf("%s of the key started (watch `planectl status`)\n",
               promote ? "promotion" : "demotion");
    }
    if (rc) {
        ctl_fail(c, promote ? "promote" : "demote", rc);
    }
    plane_client_close(c);
    return rc ? CTL_FAILED : CTL_OK;
}

/* ---- drills and devices ---- */

/* Waits up to wait_s seconds for the switch to see `name` up or down. */
static int
wait_dev(struct plane_client *c, const char *name, bool up, unsigned wait_s, uint64_t *ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct plane_client_dev_status st[256];
        size_t n = 0;
        int rc = plane_client_devices(c, st, 256, &n);
        if (rc) {
            return rc;
        }
        const struct plane_client_node *want = plane_client_find_node(c, name);
        for (size_t i = 0; i < n && i < 256; i++) {
            if (want && st[i].id == want->id && st[i].up == up) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                *ms = (uint64_t) (t.tv_sec - t0.tv_sec) * 1000u
                      + (uint64_t) ((t.tv_nsec - t0.tv_nsec) / 1000000L);
                return 0;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= (time_t) wait_s) {
            return PLANE_ETIMEDOUT;
        }
        sleep_ms(20);
    }
}

int
cmd_drill(const struct ctl_opts *o, int argc, char **argv)
{
    unsigned wait_s = 10;
    bool nowait = false;
    if (argc >= 3 && !strcmp(argv[2], "--no-wait")) {
        nowait = true;
        argc--;
    }
    if (argc != 2 || (strcmp(argv[0], "fail") && strcmp(argv[0], "up"))) {
        fprintf(stderr, "usage: planectl drill fail|up DEVICE [--no-wait]\n"
                        "  fail: the switch stops hearing DEVICE's heartbeats and fails it over;\n"
                        "  up: ends the drill.  Waits until the switch sees the change.\n");
        return CTL_USAGE;
    }
    bool fail = !strcmp(argv[0], "fail");
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    int rc = plane_client_drill(c, argv[1], fail);
    uint64_t ms = 0;
    if (!rc && !nowait) {
        rc = wait_dev(c, argv[1], !fail, wait_s, &ms);
        if (rc == PLANE_ETIMEDOUT) {
            fprintf(stderr, "planectl: the switch did not see %s %s within %u s\n", argv[1],
                    fail ? "down" : "up", wait_s);
        }
    }
    if (o->json) {
        printf("{\"ok\":%s,\"device\":", rc ? "false" : "true");
        json_str(stdout, argv[1]);
        printf(",\"drill\":\"%s\",\"ms\":%" PRIu64 "}\n", argv[0], ms);
    } else if (!rc) {
        printf("%s is %s at the switch%s", argv[1], fail ? "down" : "up",
               nowait ? "\n" : "");
        if (!nowait) {
            printf(" after %" PRIu64 " ms\n", ms);
        }
    }
    if (rc && rc != PLANE_ETIMEDOUT) {
        ctl_fail(c, "drill", rc);
    }
    plane_client_close(c);
    return rc ? CTL_FAILED : CTL_OK;
}

int
cmd_devices(const struct ctl_opts *o, int argc, char **argv)
{
    (void) argv;
    if (argc) {
        fprintf(stderr, "usage: planectl devices\n");
        return CTL_USAGE;
    }
    struct plane_client *c;
    if (ctl_open(o, &c)) {
        return CTL_USAGE;
    }
    struct plane_client_dev_status st[256];
    size_t n = 0;
    int rc = plane_client_devices(c, st, 256, &n);
    if (rc) {
        ctl_fail(c, "devices", rc);
    } else {
        if (o->json) {
            printf("[");
        }
        for (size_t i = 0; i < n && i < 256; i++) {
            if (o->json) {
                printf("%s{\"name\":", i ? "," : "");
                json_str(stdout, st[i].name);
                printf(",\"id\":%u,\"up\":%s}", st[i].id, st[i].up ? "true" : "false");
            } else {
                printf("%-12s %s\n", st[i].name, st[i].up ? "up" : "DOWN");
            }
        }
        if (o->json) {
            printf("]\n");
        }
    }
    plane_client_close(c);
    return rc ? CTL_FAILED : CTL_OK;
}
