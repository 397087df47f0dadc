/* Sync divergence benchmark: per epoch, how far the switch's copy of each resident key's per-flow register is from its devices' copies (paper Fig. 17). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <plane/client.h>
#include <plane/error.h>
#include <plane/flow.h>

/*
 * A client of a running rack, through the public control API only:
 *
 *   keys      every --refresh loaded epochs, the flows the devices know: a scan of
 *             each device's table --table (the app's per-flow table, keyed
 *             by the union key), which also says which devices hold a copy
 *             of each key's shard (its primary and its replica); then a
 *             read of register --object at the switch for every known key:
 *             the keys it finds are the resident ones;
 *   epoch     every --interval ms (T_e), the register of each resident key
 *             is read at the switch, then at each device holding the key;
 *             a key's divergence is |switch - the copy nearest to it|: the
 *             switch syncs with the device serving the key, which the
 *             public API does not name, and whose value the switch's must
 *             reach; its replica divergence is the spread of its device
 *             copies (the serving device's replication stream keeps them
 *             equal).  The epoch's line is: time since start (ms), phase,
 *             relative divergence (sum over keys of the divergence / sum
 *             over keys of the switch's value), absolute divergence
 *             (packets), keys, absolute replica divergence;
 *   phases    "load" until the file --quiet-file exists (the script creates
 *             it when its traffic generator finished), then "quiet" for
 *             --after epochs: the sync rounds must bring every copy equal.
 *
 * The reads of one epoch are not atomic: under load the switch keeps
 * counting between its read and the devices', so the loaded figures
 * include that skew (as the paper's measurement includes the packets
 * arriving during its reads).  Once quiet nothing changes, so the final
 * divergence is exact: it must be 0.  Registers keyed by fewer fields than
 * the union key are handed back at demotion only and are not measured.
 *
 * Prints `name: value` lines (stdout): sync_divergence_loaded_p50 and _max
 * (relative, over the loaded epochs with resident keys),
 * sync_divergence_after_quiesce and sync_replica_divergence_after_quiesce
 * (absolute, the last epoch), sync_divergence_keys (resident keys in it),
 * sync_converge_ms (from the quiet file to the first epoch from which both
 * stayed 0; -1 if they never did).  A divergence left at the end is detailed on stderr, key
 * by key.  Exit status 0, 1 usage, 2 the rack did not answer.
 */

#define BATCH 100            /* keys per ENTRY_READ: the answer fits one datagram */
#define MAX_NODES 16          /* switch + devices measured; more are ignored */

struct key_rec {
    struct plane_flow_key key;
    uint64_t devmask;        /* node indices holding a copy of the key's shard */
    bool used;
    bool resident;           /* found at the switch by the last read */
    uint64_t sw;             /* the switch's value at the last read */
    uint64_t dev[MAX_NODES]; /* each holding node's value at the last read */
    uint64_t seen;           /* bit i: node i answered with a value this epoch */
};

struct opts {
    const char *config, *app, *quiet_file, *out;
    uint16_t table, object;
    uint32_t interval_ms, after, refresh;
    double max_s;
    bool verbose;
};

struct state {
    struct opts o;
    struct plane_client *c;
    size_t n_nodes;
    struct key_rec *keys;    /* open addressing by key */
    size_t cap, n;
    size_t *resident;        /* indices of resident keys */
    size_t n_resident;
    size_t cur_node;         /* the node a read callback is for */
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void
sleep_until(uint64_t t)
{
    uint64_t n = now_ns();
    if (t > n) {
        struct timespec ts = { .tv_sec = (time_t) ((t - n) / 1000000000ull),
                               .tv_nsec = (long) ((t - n) % 1000000000ull) };
        while (nanosleep(&ts, &ts) && errno == EINTR) {
        }
    }
}

/* Sleeps until the next epoch boundary after now: an epoch that overran skips, never bunches. */
static void
next_epoch(uint64_t t0, uint32_t interval_ms)
{
    uint64_t iv = (uint64_t) interval_ms * 1000000ull;
    sleep_until(t0 + ((now_ns() - t0) / iv + 1) * iv);
}

static uint64_t
key_hash(const struct plane_flow_key *k)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *p = (const uint8_t *) k;
    for (size_t i = 0; i < sizeof *k; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

/* The record of key, inserted when absent (insert true); NULL when absent or out of memory. */
static struct key_rec *
key_get(struct state *s, const struct plane_flow_key *k, bool insert)
{
    if (insert && (s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4096;
        struct key_rec *nk = calloc(ncap, sizeof *nk);
        if (!nk) {
            return NULL;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->keys[i].used) {
                size_t j = key_hash(&s->keys[i].key) & (ncap - 1);
                while (nk[j].used) {
                    j = (j + 1) & (ncap - 1);
                }
                nk[j] = s->keys[i];
            }
        }
        free(s->keys);
        free(s->resident);
        s->resident = calloc(ncap, sizeof *s->resident);
        s->n_resident = 0;   /* indices moved: the caller's refresh rebuilds the list */
        s->keys = nk;
        s->cap = ncap;
        if (!s->resident) {
            return NULL;
        }
    }
    if (!s->cap) {
        return NULL;
    }
    for (size_t j = key_hash(k) & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        struct key_rec *r = &s->keys[j];
        if (!r->used) {
            if (!insert) {
                return NULL;
            }
            memset(r, 0, sizeof *r);
            r->used = true;
            r->key = *k;
            s->n++;
            return r;
        }
        if (!memcmp(&r->key, k, sizeof *k)) {
            return r;
        }
    }
}

/* Scan callback: every table entry keyed by a flow key names a flow its node holds. */
static int
on_scan(void *arg, const struct plane_client_entry *e)
{
    struct state *s = arg;
    if (e->object_id != s->o.table || e->key_len != sizeof(struct plane_flow_key)
        || (e->flags & PLANE_CLIENT_ENTRY_NOT_FOUND)) {
        return 0;
    }
    struct plane_flow_key k;
    memcpy(&k, e->key, sizeof k);
    struct key_rec *r = key_get(s, &k, true);
    if (!r) {
        fprintf(stderr, "sync_divergence: out of memory\n");
        return PLANE_ENOMEM;
    }
    r->devmask |= 1ull << s->cur_node;
    return 0;
}

/* Read callback: the register's value of one key at node s->cur_node (0: the switch). */
static int
on_read(void *arg, const struct plane_client_entry *e)
{
    struct state *s = arg;
    if (e->key_len != sizeof(struct plane_flow_key)) {
        return 0;
    }
    struct plane_flow_key k;
    memcpy(&k, e->key, sizeof k);
    struct key_rec *r = key_get(s, &k, false);
    if (!r) {
        return 0;
    }
    bool found = !(e->flags & PLANE_CLIENT_ENTRY_NOT_FOUND) && e->value_len == 8;
    uint64_t v = 0;
    if (found) {
        memcpy(&v, e->value, 8);   /* registers hold host-order words */
    }
    if (s->cur_node == 0) {
        r->resident = found;
        r->sw = v;
    } else if (found) {
        r->dev[s->cur_node] = v;
        r->seen |= 1ull << s->cur_node;
    }
    return 0;
}

/* Reads the register of the keys idx[0..n) at node, in batches. */
static int
read_keys(struct state *s, size_t node, const size_t *idx, size_t n)
{
    struct plane_client_entry req[BATCH];
    const char *name = plane_client_node(s->c, node)->name;
    s->cur_node = node;
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        for (; i < n && m < BATCH; i++) {
            struct key_rec *r = &s->keys[idx[i]];
            if (node && !(r->devmask & (1ull << node))) {
                continue;
            }
            req[m++] = (struct plane_client_entry) {
                .object_id = s->o.object, .key = (const uint8_t *) &r->key,
                .key_len = sizeof r->key,
            };
        }
        if (!m) {
            continue;
        }
        int rc = plane_client_read_entries(s->c, name, s->o.app, req, m, on_read, s);
        if (rc) {
            fprintf(stderr, "sync_divergence: reading %s: %s\n", name,
                    plane_client_last_error(s->c)[0] ? plane_client_last_error(s->c)
                                                     : plane_strerror(rc));
            return rc;
        }
    }
    return 0;
}

/* Re-learns the flows from the devices' tables and the resident ones from the switch. */
static int
refresh(struct state *s)
{
    for (size_t node = 1; node < s->n_nodes; node++) {
        s->cur_node = node;
        int rc = plane_client_scan(s->c, plane_client_node(s->c, node)->name, s->o.app, NULL, 0,
                                   on_scan, s);
        if (rc == PLANE_ENOMEM) {
            return rc;
        }
        if (rc) {
            fprintf(stderr, "sync_divergence: scanning %s: %s (skipped)\n",
                    plane_client_node(s->c, node)->name, plane_client_last_error(s->c));
        }
    }
    size_t *all = malloc((s->n ? s->n : 1) * sizeof *all);
    if (!all) {
        return PLANE_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->keys[i].used) {
            all[n++] = i;
        }
    }
    int rc = read_keys(s, 0, all, n);
    s->n_resident = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (s->keys[all[i]].resident) {
            s->resident[s->n_resident++] = all[i];
        }
    }
    free(all);
    return rc;
}

struct epoch {
    double rel;
    uint64_t abs, replica, sum_sw;
    size_t keys;
};

/* One epoch: the resident keys' values at the switch, then at their devices. */
static int
measure(struct state *s, struct epoch *ep)
{
    int rc = read_keys(s, 0, s->resident, s->n_resident);
    for (size_t i = 0; i < s->n_resident; i++) {
        s->keys[s->resident[i]].seen = 0;
    }
    for (size_t node = 1; !rc && node < s->n_nodes; node++) {
        rc = read_keys(s, node, s->resident, s->n_resident);
    }
    if (rc) {
        return rc;
    }
    memset(ep, 0, sizeof *ep);
    for (size_t i = 0; i < s->n_resident; i++) {
        const struct key_rec *r = &s->keys[s->resident[i]];
        if (!r->resident || !r->seen) {
            continue;        /* demoted since the refresh, or no device copy answered */
        }
        uint64_t d = UINT64_MAX, lo = UINT64_MAX, hi = 0;
        for (size_t node = 1; node < s->n_nodes; node++) {
            if (r->seen & (1ull << node)) {
                uint64_t v = r->dev[node];
                uint64_t x = r->sw > v ? r->sw - v : v - r->sw;
                d = x < d ? x : d;
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
        ep->abs += d;
        ep->replica += hi - lo;
        ep->sum_sw += r->sw;
        ep->keys++;
    }
    ep->rel = ep->sum_sw ? (double) ep->abs / (double) ep->sum_sw : 0.0;
    return 0;
}

/* Every resident key still diverging, its copies and values (stderr). */
static void
report_left(const struct state *s)
{
    size_t shown = 0;
    for (size_t i = 0; i < s->n_resident && shown < 20; i++) {
        const struct key_rec *r = &s->keys[s->resident[i]];
        bool diff = false;
        for (size_t node = 1; node < s->n_nodes; node++) {
            diff |= (r->seen & (1ull << node)) && r->dev[node] != r->sw;
        }
        if (!r->resident || !diff) {
            continue;
        }
        char t[PLANE_FLOW_KEY_STRLEN];
        plane_flow_key_format(&r->key, t, sizeof t);
        fprintf(stderr, "sync_divergence: left: %s switch %" PRIu64, t, r->sw);
        for (size_t node = 1; node < s->n_nodes; node++) {
            if (r->devmask & (1ull << node)) {
                if (r->seen & (1ull << node)) {
                    fprintf(stderr, " %s %" PRIu64, plane_client_node(s->c, node)->name,
                            r->dev[node]);
                } else {
                    fprintf(stderr, " %s (not found)", plane_client_node(s->c, node)->name);
                }
            }
        }
        fputc('\n', stderr);
        shown++;
    }
}

static int
dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *) x, b = *(const double *) y;
    return (a > b) - (a < b);
}

static void
usage(FILE *f)
{
    fputs("usage: sync_divergence --config RACK.yaml --quiet-file FILE [options]\n"
          "  --app NAME        the app (default flowcheck)\n"
          "  --table ID        its per-flow table, to list the flows (default 0)\n"
          "  --object ID       its per-flow register to compare (default 1)\n"
          "  --interval MS     the epoch: the rack's sync_interval_ms (default 100)\n"
          "  --quiet-file F    traffic has stopped once F exists\n"
          "  --after N         quiet epochs before stopping (default 20)\n"
          "  --refresh N       re-learn flows and resident keys every N loaded epochs (20)\n"
          "  --max-seconds S   stop anyway after S seconds (default 300)\n"
          "  --out FILE        write `t_ms phase rel_div abs_div keys replica_abs_div` per epoch\n"
          "  --verbose         print each epoch's line on stderr\n", f);
}

static int
parse(struct opts *o, int argc, char **argv)
{
    *o = (struct opts) { .app = "flowcheck", .table = 0, .object = 1, .interval_ms = 100,
                         .after = 20, .refresh = 20, .max_s = 300 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose")) {
            o->verbose = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "sync_divergence: %s needs a value\n", a);
            return -1;
        }
        i++;
        char *end = NULL;
        unsigned long n = strtoul(v, &end, 10);
        bool num = end && !*end && *v;
        if (!strcmp(a, "--config")) {
            o->config = v;
        } else if (!strcmp(a, "--app")) {
            o->app = v;
        } else if (!strcmp(a, "--quiet-file")) {
            o->quiet_file = v;
        } else if (!strcmp(a, "--out")) {
            o->out = v;
        } else if (!strcmp(a, "--table") && num && n < 0xffff) {
            o->table = (uint16_t) n;
        } else if (!strcmp(a, "--object") && num && n < 0xffff) {
            o->object = (uint16_t) n;
        } else if (!strcmp(a, "--interval") && num && n >= 1 && n <= 60000) {
            o->interval_ms = (uint32_t) n;
        } else if (!strcmp(a, "--after") && num && n >= 1 && n <= 100000) {
            o->after = (uint32_t) n;
        } else if (!strcmp(a, "--refresh") && num && n >= 1 && n <= 100000) {
            o->refresh = (uint32_t) n;
        } else if (!strcmp(a, "--max-seconds") && num && n >= 1) {
            o->max_s = (double) n;
        } else {
            fprintf(stderr, "sync_divergence: bad option or value: %s %s\n", a, v);
            return -1;
        }
    }
    if (!o->config || !o->quiet_file) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static struct state s;
    if (parse(&s.o, argc, argv)) {
        return 1;
    }
    char err[1200];
    int rc = plane_client_open_err(s.o.config, &s.c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "sync_divergence: %s\n", err[0] ? err : plane_strerror(rc));
        return 2;
    }
    plane_client_set_timeout(s.c, 1500);
    s.n_nodes = plane_client_n_nodes(s.c);
    if (s.n_nodes > MAX_NODES) {
        s.n_nodes = MAX_NODES;
    }
    FILE *out = s.o.out ? fopen(s.o.out, "w") : NULL;
    if (s.o.out && !out) {
        fprintf(stderr, "sync_divergence: cannot write %s: %s\n", s.o.out, strerror(errno));
        plane_client_close(s.c);
        return 2;
    }
    if (out) {
        fprintf(out, "# t_ms phase rel_div abs_div keys replica_abs_div\n");
    }
    size_t cap_loaded = 1024, n_loaded = 0;
    double *loaded = malloc(cap_loaded * sizeof *loaded);
    uint64_t t0 = now_ns(), t_quiet = 0, zero_since = 0;
    bool quiet = false;
    uint32_t quiet_epochs = 0, failures = 0;
    struct epoch ep = { 0 };
    int status = 0;
    for (uint64_t k = 0; loaded; k++) {
        uint64_t now = now_ns();
        if ((double) (now - t0) / 1e9 > s.o.max_s) {
            fprintf(stderr, "sync_divergence: --max-seconds reached\n");
            break;
        }
        struct stat st;
        if (!quiet && stat(s.o.quiet_file, &st) == 0) {
            /* Quiet since the file was made, not since this epoch saw it. */
            struct timespec wall;
            clock_gettime(CLOCK_REALTIME, &wall);
            int64_t ago = ((int64_t) wall.tv_sec - (int64_t) st.st_mtim.tv_sec) * 1000000000
                          + (wall.tv_nsec - st.st_mtim.tv_nsec);
            quiet = true;
            t_quiet = ago > 0 && (uint64_t) ago < now - t0 ? now - (uint64_t) ago : now;
        }
        /* Refresh while loaded only (promotions change the resident set);
         * once quiet the epochs follow the same keys, one read each, so
         * sync_converge_ms has the epoch's resolution. */
        rc = (!quiet && k % s.o.refresh == 0) || !s.cap ? refresh(&s) : 0;
        if (!rc) {
            rc = measure(&s, &ep);
        }
        if (rc == PLANE_ENOMEM) {
            status = 2;
            break;
        }
        if (rc) {
            if (++failures > 20) {   /* a rack that stopped answering */
                status = 2;
                break;
            }
            next_epoch(t0, s.o.interval_ms);
            continue;
        }
        double t_ms = (double) (now_ns() - t0) / 1e6;
        if (out) {
            fprintf(out, "%.1f %s %.6f %" PRIu64 " %zu %" PRIu64 "\n", t_ms,
                    quiet ? "quiet" : "load", ep.rel, ep.abs, ep.keys, ep.replica);
        }
        if (s.o.verbose) {
            fprintf(stderr, "%.1f %s %.6f %" PRIu64 " %zu %" PRIu64 " (sum %" PRIu64 ")\n",
                    t_ms, quiet ? "quiet" : "load", ep.rel, ep.abs, ep.keys, ep.replica,
                    ep.sum_sw);
        }
        if (!quiet && ep.keys) {
            if (n_loaded == cap_loaded) {
                double *nl = realloc(loaded, 2 * cap_loaded * sizeof *loaded);
                if (!nl) {
                    status = 2;
                    break;
                }
                loaded = nl;
                cap_loaded *= 2;
            }
            loaded[n_loaded++] = ep.rel;
        }
        if (quiet) {
            if (ep.abs || ep.replica) {
                zero_since = 0;
            } else if (!zero_since) {
                zero_since = now_ns();
            }
            if (++quiet_epochs >= s.o.after) {
                break;
            }
        }
        next_epoch(t0, s.o.interval_ms);
    }
    if (loaded && n_loaded) {
        qsort(loaded, n_loaded, sizeof *loaded, dbl_cmp);
        printf("sync_divergence_loaded_p50: %.6f\n", loaded[(n_loaded - 1) / 2]);
        printf("sync_divergence_loaded_max: %.6f\n", loaded[n_loaded - 1]);
    } else {
        printf("sync_divergence_loaded_p50: n/a\nsync_divergence_loaded_max: n/a\n");
    }
    printf("sync_divergence_loaded_epochs: %zu\n", n_loaded);
    if (quiet) {
        printf("sync_divergence_after_quiesce: %" PRIu64 "\n", ep.abs);
        printf("sync_replica_divergence_after_quiesce: %" PRIu64 "\n", ep.replica);
        printf("sync_divergence_keys: %zu\n", ep.keys);
        printf("sync_converge_ms: %.0f\n",
               zero_since ? (double) (zero_since - t_quiet) / 1e6 : -1.0);
        if (ep.abs || ep.replica) {
            report_left(&s);
        }
    } else {
        printf("sync_divergence_after_quiesce: n/a\n");
        status = status ? status : 2;
    }
    if (out) {
        fclose(out);
    }
    free(loaded);
    free(s.keys);
    free(s.resident);
    plane_client_close(s.c);
    return status;
}
