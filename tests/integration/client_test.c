/* Integration test of the control client (<plane/client.h>) and planectl against the real switchd and nicd. */

/*
 * One rack on 127.0.0.1 (ports picked at run time) in a temp directory:
 * switchd, nic0, nic1 and five copies of the flowcheck app (so the
 * switch's counters need more than one STATS page).  Checks, in order:
 *   paging     plane_client_stats() returns every counter exactly once,
 *              more than one page's worth, and prefix filters select the
 *              matching subset
 *   clients    two clients (same sender id) take turns
 *   drill      drill fail nic0: the switch takes it down; drill up: back up
 *   entries    insert into both copies, read by key, scan, delete, read
 *              NOT_FOUND; promote/demote through ADMIN
 *   status     `planectl --json status` exits 0 and prints valid JSON
 *   up         the daemons are stopped; `planectl --json up` starts the rack,
 *              reports the pids, the switch sees every device up, SIGTERM
 *              stops planectl with status 0 and none of the pids is left
 * Every wait is a condition polled under a deadline.
 *
 * Environment: PLANE_SWITCHD, PLANE_NICD, PLANE_PLANECTL, PLANE_FLOWCHECK
 * override the paths CMake compiled in; PLANE_IT_KEEP=1 keeps the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <plane/client.h>
#include <plane/error.h>
#include <plane/flow.h>

#ifndef PLANE_SWITCHD
#define PLANE_SWITCHD "switchd"
#endif
#ifndef PLANE_NICD
#define PLANE_NICD "nicd"
#endif
#ifndef PLANE_PLANECTL
#define PLANE_PLANECTL "planectl"
#endif
#ifndef PLANE_FLOWCHECK
#define PLANE_FLOWCHECK "flowcheck.so"
#endif

#define N_PROCS 3

static const char *const proc_names[N_PROCS] = { "switchd", "nic0", "nic1" };

struct rack {
    char dir[PATH_MAX];
    char yaml[PATH_MAX];
    uint16_t port[N_PROCS + 2];   /* switch control, nic0, nic1, port listen, port peer */
    pid_t pid[N_PROCS];
    char log[N_PROCS][PATH_MAX];
};

static int failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("client_test: FAILED %s:%d: ", __FILE__, __LINE__);         \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
            fflush(stdout);                                                    \
            failures++;                                                        \
            goto out;                                                          \
        }                                                                      \
    } while (0)

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("client_test: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void
nap_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static const char *
env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* A port free a moment ago and not handed out before by this process. */
static uint16_t
pick_port(void)
{
    static uint8_t used[65536 / 8];
    for (int tries = 0; tries < 100; tries++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0
            || getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
            if (fd >= 0) {
                close(fd);
            }
            return 0;
        }
        close(fd);
        uint16_t p = ntohs(sa.sin_port);
        if (!(used[p / 8] & (1u << (p % 8)))) {
            used[p / 8] |= (uint8_t) (1u << (p % 8));
            return p;
        }
    }
    return 0;
}

static int
rack_init(struct rack *r)
{
    memset(r, 0, sizeof *r);
    /* The directory name is kept short so every path built from it fits. */
    int dl = snprintf(r->dir, sizeof r->dir - 64, "%s/plane-ct-XXXXXX",
                      env_or("TMPDIR", "/tmp"));
    if (dl < 0 || (size_t) dl >= sizeof r->dir - 64) {
        return -1;
    }
    if (!mkdtemp(r->dir)) {
        return -1;
    }
    if (snprintf(r->yaml, sizeof r->yaml, "%.*s/rack.yaml", PATH_MAX - 64, r->dir) < 0) {
        return -1;
    }
    for (int i = 0; i < N_PROCS + 2; i++) {
        if (!(r->port[i] = pick_port())) {
            return -1;
        }
    }
    for (int i = 0; i < N_PROCS; i++) {
        if (snprintf(r->log[i], sizeof r->log[i], "%.*s/%.16s.log", PATH_MAX - 64, r->dir,
                     proc_names[i]) < 0) {
            return -1;
        }
    }
    FILE *f = fopen(r->yaml, "w");
    if (!f) {
        return -1;
    }
    fprintf(f,
            "version: 1\n"
            "rack:\n  name: ct\n"
            "  auth_key: 6974657374206b65792c206e6f7420612073656372657420617420616c6c2121\n"
            "timers:\n  heartbeat_ms: 20\n  heartbeat_misses: 3\n  rpc_timeout_ms: 50\n"
            "  sync_interval_ms: 50\n  flush_ms: 5\n"
            "switch:\n  id: 0\n  name: tor0\n  control: 127.0.0.1:%u\n"
            "  ports:\n    - {id: 0, name: p0, listen: 127.0.0.1:%u, peer: 127.0.0.1:%u}\n"
            "devices:\n"
            "  - {id: 1, name: nic0, role: nic, address: 127.0.0.1:%u,"
            " features: [payload, hash, timestamp]}\n"
            "  - {id: 2, name: nic1, role: nic, address: 127.0.0.1:%u,"
            " features: [payload, hash, timestamp]}\n"
            "apps:\n",
            r->port[0], r->port[3], r->port[4], r->port[1], r->port[2]);
    for (int a = 1; a <= 5; a++) {
        fprintf(f,
                "  - id: %d\n    name: fc%d\n    module: %s\n"
                "    traffic_class: {proto: udp, dst_port: \"%d-%d\"}\n"
                "    flow_manager_entries: 64\n",
                a, a, env_or("PLANE_FLOWCHECK", PLANE_FLOWCHECK), 7000 + a * 100,
                7099 + a * 100);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static pid_t
spawn(const char *const *argv, const char *log, int out_fd)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(out_fd >= 0 ? out_fd : fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    return pid;
}

static int
rack_start(struct rack *r)
{
    const char *exe[N_PROCS] = { env_or("PLANE_SWITCHD", PLANE_SWITCHD),
                                 env_or("PLANE_NICD", PLANE_NICD),
                                 env_or("PLANE_NICD", PLANE_NICD) };
    for (int i = 0; i < N_PROCS; i++) {
        const char *argv[] = { exe[i], "--config", r->yaml, "--log-level", "warn",
                               i ? "--id" : NULL, proc_names[i], NULL };
        r->pid[i] = spawn(argv, r->log[i], -1);
        if (r->pid[i] < 0) {
            return -1;
        }
    }
    return 0;
}

/* Waits up to ms for pid to exit; returns its status, or -1 (then SIGKILLs it). */
static int
wait_exit(pid_t pid, uint64_t ms)
{
    uint64_t until = now_ms() + ms;
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            return st;
        }
        if (w < 0 || now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nap_ms(5);
    }
}

static int
rack_stop(struct rack *r)
{
    int rc = 0;
    for (int i = N_PROCS - 1; i >= 0; i--) {
        if (r->pid[i] > 0) {
            kill(r->pid[i], SIGTERM);
            int st = wait_exit(r->pid[i], 20000);
            if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
                say("%s did not stop cleanly (status %d)", proc_names[i], st);
                rc = -1;
            }
            r->pid[i] = 0;
        }
    }
    return rc;
}

static void
print_logs(const struct rack *r)
{
    for (int i = 0; i < N_PROCS; i++) {
        FILE *f = fopen(r->log[i], "r");
        printf("---- %s ----\n", r->log[i]);
        if (f) {
            char buf[4096];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
                fwrite(buf, 1, n, stdout);
            }
            fclose(f);
        }
    }
}

/* Waits until the switch sees nic0 and nic1 as want0/want1 (-1: any). */
static int
wait_devices(struct plane_client *c, int want0, int want1, uint64_t ms)
{
    uint64_t until = now_ms() + ms;
    struct plane_client_dev_status st[2];
    for (;;) {
        size_t n = 0;
        if (plane_client_devices(c, st, 2, &n) == 0 && n == 2
            && (want0 < 0 || st[0].up == (want0 == 1))
            && (want1 < 0 || st[1].up == (want1 == 1))) {
            return 0;
        }
        if (now_ms() > until) {
            say("devices: nic0 %s nic1 %s (%s)", n ? (st[0].up ? "up" : "down") : "?",
                n ? (st[1].up ? "up" : "down") : "?", plane_client_last_error(c));
            return -1;
        }
        nap_ms(20);
    }
}

/* ---- stats paging ---- */

struct names {
    char **v;
    size_t n, cap, bytes;
};

static int
names_add(void *arg, const char *name, uint64_t value)
{
    (void) value;
    struct names *s = arg;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            return PLANE_ENOMEM;
        }
    }
    s->v[s->n++] = strdup(name);
    s->bytes += strlen(name) + 1;
    return 0;
}

static void
names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i]);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool
names_has(const struct names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (!strcmp(s->v[i], name)) {
            return true;
        }
    }
    return false;
}

static void
test_paging(struct plane_client *c)
{
    struct names all = { 0 }, sub = { 0 };
    /* The switch counts STATS requests: one per page, plus the reads of
     * the counter itself. */
    uint64_t req0 = 0, req1 = 0;
    CHECK(plane_client_stat(c, "switch", "stats_requests", &req0) == 0, "stats_requests: %s",
          plane_client_last_error(c));
    int rc = plane_client_stats(c, "switch", NULL, 0, names_add, &all);
    CHECK(rc == 0, "stats: %s", plane_client_last_error(c));
    CHECK(plane_client_stat(c, "switch", "stats_requests", &req1) == 0, "stats_requests: %s",
          plane_client_last_error(c));
    say("switch: %zu counters, %zu bytes of names, in %" PRIu64 " pages", all.n, all.bytes,
        req1 - req0 - 1);
    CHECK(req1 - req0 - 1 >= 2, "one page only: paging not exercised");
    CHECK(names_has(&all, "rx_frames") && names_has(&all, "dev.nic1.downs")
              && names_has(&all, "app.fc5.sync_lag_ms") && names_has(&all, "app.fc1.hits"),
          "a counter is missing");
    qsort(all.v, all.n, sizeof *all.v, cmp_str);
    for (size_t i = 1; i < all.n; i++) {
        CHECK(strcmp(all.v[i - 1], all.v[i]), "counter %s returned twice", all.v[i]);
    }
    const char *pfx[] = { "app.fc2.", "dev." };
    rc = plane_client_stats(c, "switch", pfx, 2, names_add, &sub);
    CHECK(rc == 0, "filtered stats: %s", plane_client_last_error(c));
    size_t want = 0;
    for (size_t i = 0; i < all.n; i++) {
        if (!strncmp(all.v[i], "app.fc2.", 8) || !strncmp(all.v[i], "dev.", 4)) {
            want++;
        }
    }
    CHECK(sub.n == want && want > 10, "filter returned %zu, want %zu", sub.n, want);
    for (size_t i = 0; i < sub.n; i++) {
        CHECK(!strncmp(sub.v[i], "app.fc2.", 8) || !strncmp(sub.v[i], "dev.", 4),
              "filter let %s through", sub.v[i]);
    }
    uint64_t v = 99;
    CHECK(plane_client_stat(c, "nic0", "device.processed", &v) == 0 && v == 0,
          "nic0 device.processed: %s", plane_client_last_error(c));
    CHECK(plane_client_stat(c, "switch", "no.such.counter", &v) == PLANE_ENOENT,
          "an unknown counter is not ENOENT");
    say("paging ok");
out:
    names_free(&all);
    names_free(&sub);
}

/* Two clients (both sender 0xfffe) opened one after the other take turns. */
static void
test_two_clients(const struct rack *r, struct plane_client *a)
{
    struct plane_client *b = NULL;
    uint64_t v;
    CHECK(plane_client_open(r->yaml, &b) == 0, "second client");
    for (int i = 0; i < 3; i++) {
        CHECK(plane_client_stat(b, "switch", "rx_frames", &v) == 0, "client b: %s",
              plane_client_last_error(b));
        CHECK(plane_client_stat(a, "switch", "rx_frames", &v) == 0, "client a after b: %s",
              plane_client_last_error(a));
    }
    say("two clients ok");
out:
    plane_client_close(b);
}

/* ---- drill ---- */

static void
test_drill(struct plane_client *c)
{
    uint64_t t0 = now_ms();
    CHECK(plane_client_drill(c, "nic0", true) == 0, "drill fail: %s", plane_client_last_error(c));
    CHECK(wait_devices(c, 0, 1, 30000) == 0, "nic0 not down after drill fail");
    say("drill fail: nic0 down after %" PRIu64 " ms", now_ms() - t0);
    uint64_t downs = 0;
    CHECK(plane_client_stat(c, "switch", "dev.nic0.downs", &downs) == 0 && downs >= 1,
          "dev.nic0.downs %" PRIu64, downs);
    /* It stays down while the drill lasts (heartbeats keep going unheard). */
    uint64_t hold = now_ms() + 300;
    while (now_ms() < hold) {
        struct plane_client_dev_status st[2];
        size_t n;
        CHECK(plane_client_devices(c, st, 2, &n) == 0 && !st[0].up, "nic0 came back by itself");
        nap_ms(30);
    }
    t0 = now_ms();
    CHECK(plane_client_drill(c, "nic0", false) == 0, "drill up: %s", plane_client_last_error(c));
    CHECK(wait_devices(c, 1, 1, 30000) == 0, "nic0 not up after drill up");
    say("drill up: nic0 up after %" PRIu64 " ms", now_ms() - t0);
    CHECK(plane_client_drill(c, "nosuch", true) == PLANE_ENOENT, "unknown device accepted");
    CHECK(strstr(plane_client_last_error(c), "nosuch") != NULL, "error does not name it");
out:
    return;
}

/* ---- entries ---- */

struct seen {
    const uint8_t *key;
    bool found, not_found;
    uint8_t value[8];
    size_t n;
};

static int
seen_fn(void *arg, const struct plane_client_entry *e)
{
    struct seen *s = arg;
    s->n++;
    if (e->key_len == 40 && !memcmp(e->key, s->key, 40)) {
        if (e->flags & PLANE_CLIENT_ENTRY_NOT_FOUND) {
            s->not_found = true;
        } else if (e->value_len == 8) {
            s->found = true;
            memcpy(s->value, e->value, 8);
        }
    }
    return 0;
}

static void
test_entries(struct plane_client *c)
{
    struct plane_flow_key k;
    const uint8_t src[4] = { 10, 9, 8, 7 }, dst[4] = { 10, 9, 8, 6 };
    plane_flow_key_set_v4(&k, 17, src, 4242, dst, 7105);
    const uint8_t val[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    struct plane_client_entry e = {
        .object_id = 0, .key = (const uint8_t *) &k, .key_len = sizeof k,
        .value = val, .value_len = 8,
    };
    const char *devs[] = { "nic0", "nic1" };
    for (int i = 0; i < 2; i++) {
        CHECK(plane_client_insert(c, devs[i], "fc1", &e, 1) == 0, "insert on %s: %s", devs[i],
              plane_client_last_error(c));
    }
    for (int i = 0; i < 2; i++) {
        struct seen s = { .key = (const uint8_t *) &k };
        CHECK(plane_client_read_entries(c, devs[i], "fc1", &e, 1, seen_fn, &s) == 0,
              "read on %s: %s", devs[i], plane_client_last_error(c));
        CHECK(s.found && !memcmp(s.value, val, 8), "%s: entry not read back", devs[i]);
    }
    {
        struct seen s = { .key = (const uint8_t *) &k };
        int found_on = 0;
        for (int i = 0; i < 2; i++) {
            s.found = false;
            CHECK(plane_client_scan(c, devs[i], "fc1", NULL, 0, seen_fn, &s) == 0,
                  "scan %s: %s", devs[i], plane_client_last_error(c));
            found_on += s.found;
        }
        /* Both hold a copy of the key's logical device in a two-NIC rack. */
        CHECK(found_on >= 1, "scan did not find the entry");
    }
    CHECK(plane_client_scan(c, "switch", "fc1", NULL, 0, seen_fn,
                            &(struct seen) { .key = (const uint8_t *) &k }) == PLANE_EINVAL,
          "the switch accepted a scan");
    /* Promote through ADMIN: the switch reads the key's entries and installs them. */
    CHECK(plane_client_promote(c, "fc1", &k) == 0, "promote: %s", plane_client_last_error(c));
    uint64_t until = now_ms() + 20000;
    for (;;) {
        struct seen s = { .key = (const uint8_t *) &k };
        CHECK(plane_client_read_entries(c, "switch", "fc1", &e, 1, seen_fn, &s) == 0,
              "read at the switch: %s", plane_client_last_error(c));
        if (s.found) {
            CHECK(!memcmp(s.value, val, 8), "the switch holds another value");
            break;
        }
        CHECK(now_ms() < until, "the promoted key never reached the switch");
        nap_ms(20);
    }
    CHECK(plane_client_promote(c, "fc1", &k) == PLANE_EEXIST, "promoting twice is not EEXIST");
    CHECK(plane_client_demote(c, "fc1", &k) == 0, "demote: %s", plane_client_last_error(c));
    CHECK(plane_client_promote(c, "nope", &k) == PLANE_ENOENT, "unknown app accepted");
    for (int i = 0; i < 2; i++) {
        CHECK(plane_client_delete(c, devs[i], "fc1", &e, 1) == 0, "delete on %s: %s", devs[i],
              plane_client_last_error(c));
        struct seen s = { .key = (const uint8_t *) &k };
        CHECK(plane_client_read_entries(c, devs[i], "fc1", &e, 1, seen_fn, &s) == 0,
              "read after delete: %s", plane_client_last_error(c));
        CHECK(s.not_found && !s.found, "%s: entry still there after delete", devs[i]);
    }
    say("entries ok");
out:
    return;
}

/* ---- planectl ---- */

/* A minimal JSON syntax check (RFC 8259 values), enough to tell valid output. */
static const char *
json_value(const char *p, int depth);

static const char *
json_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
        p++;
    }
    return p;
}

static const char *
json_string(const char *p)
{
    if (*p++ != '"') {
        return NULL;
    }
    while (*p && *p != '"') {
        if ((unsigned char) *p < 0x20) {
            return NULL;
        }
        if (*p == '\\') {
            p++;
            if (!*p) {
                return NULL;
            }
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *
json_value(const char *p, int depth)
{
    p = json_ws(p);
    if (depth > 32) {
        return NULL;
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = json_ws(p + 1);
        if (*p == close) {
            return p + 1;
        }
        for (;;) {
            if (obj) {
                p = json_string(json_ws(p));
                if (!p || *(p = json_ws(p)) != ':') {
                    return NULL;
                }
                p++;
            }
            p = json_value(p, depth + 1);
            if (!p) {
                return NULL;
            }
            p = json_ws(p);
            if (*p == ',') {
                p++;
            } else if (*p == close) {
                return p + 1;
            } else {
                return NULL;
            }
        }
    }
    if (*p == '"') {
        return json_string(p);
    }
    if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
        return p + 4;
    }
    if (!strncmp(p, "false", 5)) {
        return p + 5;
    }
    char *end;
    strtod(p, &end);
    return end > p ? end : NULL;
}

static bool
json_valid(const char *s)
{
    const char *p = json_value(s, 0);
    return p && *json_ws(p) == '\0';
}

/* Runs planectl with args; its stdout goes into out.  Returns the exit status or -1. */
static int
run_planectl(const struct rack *r, const char *const *args, char *out, size_t cap)
{
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/planectl.log", r->dir);
    int pfd[2];
    if (pipe(pfd) < 0) {
        return -1;
    }
    const char *argv[16];
    int n = 0;
    argv[n++] = env_or("PLANE_PLANECTL", PLANE_PLANECTL);
    argv[n++] = "--config";
    argv[n++] = r->yaml;
    for (int i = 0; args[i] && n < 15; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid_t pid = spawn(argv, log, pfd[1]);
    close(pfd[1]);
    size_t len = 0;
    ssize_t k;
    while ((k = read(pfd[0], out + len, cap - 1 - len)) > 0) {
        len += (size_t) k;
    }
    out[len] = '\0';
    close(pfd[0]);
    int st = wait_exit(pid, 60000);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_status_json(const struct rack *r)
{
    static char out[65536];
    const char *args[] = { "--json", "status", NULL };
    int rc = run_planectl(r, args, out, sizeof out);
    CHECK(rc == 0, "planectl status exited %d", rc);
    CHECK(json_valid(out), "planectl --json status printed invalid JSON:\n%s", out);
    CHECK(strstr(out, "\"name\":\"nic0\"") && strstr(out, "\"up\":true")
              && strstr(out, "\"fm_capacity\":64"), "unexpected status:\n%s", out);
    const char *args2[] = { "--json", "counters", "nic1", "device.", NULL };
    rc = run_planectl(r, args2, out, sizeof out);
    CHECK(rc == 0 && json_valid(out) && strstr(out, "\"device.processed\""),
          "planectl counters --json (%d):\n%s", rc, out);
    /* plan --measure: device latencies from the running rack. */
    char wl[PATH_MAX + 16];
    snprintf(wl, sizeof wl, "%.*s/wl.yaml", PATH_MAX - 64, r->dir);
    FILE *f = fopen(wl, "w");
    CHECK(f != NULL, "cannot write %s", wl);
    fputs("apps:\n  - name: probe\n    standalone: true\n    weight: 1\n    quanta: 4\n"
          "    popularity: {zipf: {alpha: 1, keys: 1000}}\n"
          "    objects: [{name: t, kind: table, key_bytes: 13, value_bytes: 8}]\n", f);
    fclose(f);
    const char *argsm[] = { "plan", r->yaml, wl, "--measure", "--json", NULL };
    rc = run_planectl(r, argsm, out, sizeof out);
    CHECK(rc == 0 && json_valid(out) && strstr(out, "\"probe\""),
          "planectl plan --measure (%d):\n%s", rc, out);
    const char *args3[] = { "drill", "fail", "nosuch", NULL };
    rc = run_planectl(r, args3, out, sizeof out);
    CHECK(rc == 2, "drill of an unknown device exited %d", rc);
    say("planectl status --json ok");
out:
    return;
}

/* `planectl up`: starts, reports every device up, stops cleanly on SIGTERM. */
static void
test_up(const struct rack *r)
{
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/planectl-up.log", r->dir);
    int pfd[2] = { -1, -1 };
    pid_t ctl = -1;
    pid_t pids[8];
    int n_pids = 0;
    struct plane_client *c = NULL;
    CHECK(pipe(pfd) == 0, "pipe");
    const char *argv[] = { env_or("PLANE_PLANECTL", PLANE_PLANECTL), "--config", r->yaml, "--json",
                           "up", "--log-level", "warn", NULL };
    ctl = spawn(argv, log, pfd[1]);
    close(pfd[1]);
    /* The first line of output says the rack is up, with the daemons' pids. */
    static char out[4096];
    size_t len = 0;
    uint64_t until = now_ms() + 90000;
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    while (!memchr(out, '\n', len) && now_ms() < until && len < sizeof out - 1) {
        ssize_t k = read(pfd[0], out + len, sizeof out - 1 - len);
        if (k > 0) {
            len += (size_t) k;
        } else if (k == 0) {
            break;
        } else {
            nap_ms(20);
        }
    }
    out[len] = '\0';
    CHECK(strstr(out, "\"up\":true"), "planectl up did not report the rack up: %s", out);
    char *line_end = strchr(out, '\n');
    if (line_end) {
        *line_end = '\0';
    }
    CHECK(json_valid(out), "planectl up printed invalid JSON: %s", out);
    const char *names[] = { "\"tor0\":", "\"nic0\":", "\"nic1\":" };
    for (int i = 0; i < 3; i++) {
        const char *p = strstr(out, names[i]);
        CHECK(p, "no pid of %s in %s", names[i], out);
        pids[n_pids++] = (pid_t) atoi(p + strlen(names[i]));
        CHECK(pids[n_pids - 1] > 0 && kill(pids[n_pids - 1], 0) == 0, "pid of %s not running",
              names[i]);
    }
    CHECK(plane_client_open(r->yaml, &c) == 0, "client open");
    CHECK(wait_devices(c, 1, 1, 10000) == 0, "devices not up under planectl up");
    plane_client_close(c);
    c = NULL;
    kill(ctl, SIGTERM);
    int st = wait_exit(ctl, 60000);
    ctl = -1;
    CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "planectl up exited with %d", st);
    for (int i = 0; i < n_pids; i++) {
        CHECK(kill(pids[i], 0) < 0 && errno == ESRCH, "pid %d still exists after planectl up",
              (int) pids[i]);
    }
    say("planectl up ok: started and stopped %d daemons, none left", n_pids);
out:
    plane_client_close(c);
    if (ctl > 0) {
        kill(ctl, SIGTERM);
        wait_exit(ctl, 30000);
    }
    if (pfd[0] >= 0) {
        close(pfd[0]);
    }
}

int
main(void)
{
    struct rack r;
    struct plane_client *c = NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    CHECK(rack_init(&r) == 0, "rack init in %s", r.dir);
    say("rack in %s, switch control port %u", r.dir, r.port[0]);
    CHECK(rack_start(&r) == 0, "starting the daemons");
    char err[1024];
    CHECK(plane_client_open_err(r.yaml, &c, err, sizeof err) == 0, "client open: %s", err);
    CHECK(wait_devices(c, 1, 1, 60000) == 0, "the rack did not come up");
    say("rack up");
    test_paging(c);
    test_two_clients(&r, c);
    test_drill(c);
    test_entries(c);
    test_status_json(&r);
    plane_client_close(c);
    c = NULL;
    CHECK(rack_stop(&r) == 0, "stopping the rack");
    test_up(&r);
out:
    plane_client_close(c);
    if (rack_stop(&r) < 0) {
        failures++;
    }
    if (failures) {
        print_logs(&r);
        say("rack left in %s", r.dir);
    } else if (!getenv("PLANE_IT_KEEP")) {
        for (int i = 0; i < N_PROCS; i++) {
            unlink(r.log[i]);
        }
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/planectl.log", r.dir);
        unlink(p);
        snprintf(p, sizeof p, "%s/planectl-up.log", r.dir);
        unlink(p);
        unlink(r.yaml);
        rmdir(r.dir);
    }
    printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
    return failures ? 1 : 0;
}
