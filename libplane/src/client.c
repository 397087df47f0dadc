/* The control client (plane/client.h): blocking calls over plane_rpc on a private libuv loop. */
#include <plane/client.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/alloc.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/mp.h"
#include "common/rpc.h"
#include "common/statpage.h"
#include "common/udp.h"
#include "common/wire.h"
#include "common/wire_body.h"

/* The scan marker's object id (docs/runtime.md, ENTRY_READ scan). */
#define CLIENT_ENTRY_SCAN 0xffffu
#define CLIENT_MAX_PREFIXES 64
#define CLIENT_MAX_ENTRIES 512

struct plane_client {
    struct plane_config *cfg;
    uv_loop_t loop;
    bool loop_ok;
    struct plane_auth auth;
    bool auth_ok;
    struct plane_udp *udp;
    struct plane_rpc *rpc;
    bool udp_closed, rpc_closed;
    uint64_t incarnation;    /* of the current rpc */
    uint32_t timeout_ms;
    struct plane_client_node *nodes;
    size_t n_nodes;
    struct plane_client_app *apps;
    size_t n_apps;
    struct plane_client_dev_status *devs;
    struct plane_mp_zone zone;
    bool zone_ok;
    char err[512];
    uint8_t req[PLANE_WIRE_MAX_DATAGRAM];
    uint8_t resp[PLANE_WIRE_MAX_DATAGRAM];
    size_t resp_len;         /* of the last answer */
};

/* One call waited for. */
struct client_call {
    struct plane_client *c;
    bool done;
    int status;
    size_t resp_len;
};

static void client_errf(struct plane_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_errf(struct plane_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

static void
client_rpc_closed(void *arg, struct plane_rpc *rpc)
{
    (void) rpc;
    ((struct plane_client *) arg)->rpc_closed = true;
}

static void
client_udp_closed(void *arg, struct plane_udp *udp)
{
    (void) udp;
    ((struct plane_client *) arg)->udp_closed = true;
}

void
plane_client_close(struct plane_client *c)
{
    if (!c) {
        return;
    }
    if (c->rpc) {
        plane_rpc_close(c->rpc, client_rpc_closed, c);
    }
    if (c->udp) {
        plane_udp_close(c->udp, client_udp_closed, c);
    }
    if (c->loop_ok) {
        /* The handles close within a few iterations; the bound is a
         * backstop against a bug, not a wait. */
        for (int i = 0; i < 100000 && uv_loop_alive(&c->loop); i++) {
            uv_run(&c->loop, UV_RUN_NOWAIT);
        }
        (void) uv_loop_close(&c->loop);
    }
    if (c->auth_ok) {
        plane_auth_uninit(&c->auth);
    }
    if (c->zone_ok) {
        plane_mp_zone_uninit(&c->zone);
    }
    plane_free(c->nodes);
    plane_free(c->apps);
    plane_free(c->devs);
    plane_config_delete(c->cfg);
    plane_free(c);
}

static void
client_old_rpc_closed(void *arg, struct plane_rpc *rpc)
{
    (void) arg;
    (void) rpc;
}

/*
 * Starts a new incarnation of the client: a fresh rpc (new request ids and
 * replay window at the daemons) with every node as a peer.  Every client
 * program shares the sender id PLANE_CLIENT_ID, and a daemon keeps one
 * replay state per sender that accepts only the newest incarnation it has
 * seen, so a client that started earlier than another would be refused as
 * a replay from then on.  Taking a new (larger) incarnation for each call
 * lets any number of clients take turns; two calls that overlap in time
 * lose at most one attempt (client_call retries once).
 */
static int
client_reincarnate(struct plane_client *c)
{
    if (c->rpc) {
        plane_rpc_close(c->rpc, client_old_rpc_closed, NULL);
        c->rpc = NULL;
    }
    uint64_t inc = plane_auth_new_incarnation();
    c->incarnation = inc > c->incarnation ? inc : c->incarnation + 1;
    c->rpc = plane_rpc_new(&c->loop, c->udp, PLANE_CLIENT_ID, c->incarnation, &c->auth, NULL);
    if (!c->rpc) {
        return PLANE_ENOMEM;
    }
    const struct plane_config *cfg = c->cfg;
    int rc = plane_rpc_peer_add(c->rpc, cfg->sw.id, (const struct sockaddr *) &cfg->sw.control.sa);
    for (size_t i = 0; !rc && i < cfg->n_devices; i++) {
        rc = plane_rpc_peer_add(c->rpc, cfg->devices[i].id,
                                (const struct sockaddr *) &cfg->devices[i].address.sa);
    }
    return rc;
}

int
plane_client_open_err(const char *rack_yaml, struct plane_client **out, char *err,
                      size_t err_len)
{
    char e[1024] = "";
    *out = NULL;
    if (err && err_len) {
        err[0] = '\0';
    }
    struct plane_client *c = plane_calloc(1, sizeof *c);
    if (!c) {
        return PLANE_ENOMEM;
    }
    c->timeout_ms = 2000;
    int rc = plane_config_load_file(rack_yaml, &c->cfg, e, sizeof e);
    if (rc) {
        if (err) {
            snprintf(err, err_len, "cannot load %s: %s", rack_yaml, e[0] ? e : plane_strerror(rc));
        }
        plane_client_close(c);
        return rc;
    }
    const struct plane_config *cfg = c->cfg;
    c->n_nodes = cfg->n_devices + 1;
    c->nodes = plane_calloc(c->n_nodes, sizeof *c->nodes);
    c->devs = plane_calloc(cfg->n_devices + 1, sizeof *c->devs);
    c->n_apps = cfg->n_apps;
    c->apps = plane_calloc(cfg->n_apps + 1, sizeof *c->apps);
    if (!c->nodes || !c->devs || !c->apps || plane_mp_zone_init(&c->zone, 0)) {
        plane_client_close(c);
        return PLANE_ENOMEM;
    }
    c->zone_ok = true;
    c->nodes[0] = (struct plane_client_node) {
        .id = cfg->sw.id, .role = PLANE_CLIENT_ROLE_SWITCH, .name = cfg->sw.name,
        .address = cfg->sw.control.text,
    };
    for (size_t i = 0; i < cfg->n_devices; i++) {
        const struct plane_config_device *d = &cfg->devices[i];
        c->nodes[i + 1] = (struct plane_client_node) {
            .id = d->id,
            .role = d->role == PLANE_ROLE_NIC ? PLANE_CLIENT_ROLE_NIC : PLANE_CLIENT_ROLE_SERVER,
            .name = d->name, .address = d->address.text,
        };
        c->devs[i] = (struct plane_client_dev_status) { .id = d->id, .name = d->name };
    }
    for (size_t i = 0; i < cfg->n_apps; i++) {
        c->apps[i] = (struct plane_client_app) {
            .id = cfg->apps[i].id, .name = cfg->apps[i].name,
            .flow_manager_entries = cfg->apps[i].flow_manager_entries,
        };
    }

    if ((rc = uv_loop_init(&c->loop)) < 0) {
        plane_client_close(c);
        return rc;
    }
    c->loop_ok = true;
    if ((rc = plane_auth_init(&c->auth, cfg->rack.auth_key, 0))) {
        plane_client_close(c);
        return rc;
    }
    c->auth_ok = true;
    /* The local socket's family follows the switch's address. */
    struct sockaddr_storage any;
    memset(&any, 0, sizeof any);
    any.ss_family = cfg->sw.control.sa.ss_family;
    c->udp = plane_udp_new(&c->loop, &(struct plane_udp_opts) { .tx_pool = 64, .sock_buf = 1 << 20 });
    if (!c->udp) {
        plane_client_close(c);
        return PLANE_ENOMEM;
    }
    if ((rc = plane_udp_bind(c->udp, (const struct sockaddr *) &any))) {
        if (err) {
            snprintf(err, err_len, "cannot open a UDP socket: %s", plane_strerror(rc));
        }
        plane_client_close(c);
        return rc;
    }
    if ((rc = client_reincarnate(c))) {
        plane_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int
plane_client_open(const char *rack_yaml, struct plane_client **out)
{
    return plane_client_open_err(rack_yaml, out, NULL, 0);
}

void
plane_client_set_timeout(struct plane_client *c, uint32_t ms)
{
    c->timeout_ms = ms < 50 ? 50 : ms;
}

const char *
plane_client_last_error(const struct plane_client *c)
{
    return c->err;
}

size_t
plane_client_n_nodes(const struct plane_client *c)
{
    return c->n_nodes;
}

const struct plane_client_node *
plane_client_node(const struct plane_client *c, size_t i)
{
    return i < c->n_nodes ? &c->nodes[i] : NULL;
}

/* Parses a decimal u16; false when s is not one. */
static bool
parse_u16(const char *s, uint16_t *out)
{
    char *end;
    if (!s || !*s) {
        return false;
    }
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 0xffff) {
        return false;
    }
    *out = (uint16_t) v;
    return true;
}

const struct plane_client_node *
plane_client_find_node(const struct plane_client *c, const char *name)
{
    uint16_t id;
    if (!name || !strcmp(name, "switch")) {
        return &c->nodes[0];
    }
    bool num = parse_u16(name, &id);
    for (size_t i = 0; i < c->n_nodes; i++) {
        if (!strcmp(c->nodes[i].name, name) || (num && c->nodes[i].id == id)) {
            return &c->nodes[i];
        }
    }
    return NULL;
}

size_t
plane_client_n_apps(const struct plane_client *c)
{
    return c->n_apps;
}

const struct plane_client_app *
plane_client_app(const struct plane_client *c, size_t i)
{
    return i < c->n_apps ? &c->apps[i] : NULL;
}

const struct plane_client_app *
plane_client_find_app(const struct plane_client *c, const char *name)
{
    uint16_t id;
    bool num = parse_u16(name, &id);
    for (size_t i = 0; name && i < c->n_apps; i++) {
        if (!strcmp(c->apps[i].name, name) || (num && c->apps[i].id == id)) {
            return &c->apps[i];
        }
    }
    return NULL;
}

const char *
plane_client_rack_name(const struct plane_client *c)
{
    return c->cfg->rack.name;
}

/* ---- calls ---- */

static void
client_call_cb(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    (void) rpc;
    struct client_call *call = arg;
    call->done = true;
    call->status = status;
    call->resp_len = 0;
    if (resp && resp->body_len <= sizeof call->c->resp) {
        memcpy(call->c->resp, resp->body, resp->body_len);
        call->resp_len = resp->body_len;
    } else if (resp && status == 0) {
        call->status = PLANE_EMSGSIZE;
    }
}

static const char *
client_daemon_of(const struct plane_client_node *n)
{
    switch (n->role) {
    case PLANE_CLIENT_ROLE_SWITCH: return "switchd";
    case PLANE_CLIENT_ROLE_NIC: return "nicd";
    default: return "serverd";
    }
}

/* One attempt of client_call under a new incarnation, waiting up to timeout_ms. */
static int
client_call_once(struct plane_client *c, const struct plane_client_node *node,
                 uint16_t msg_type, size_t len, uint32_t timeout_ms)
{
    struct client_call call = { .c = c };
    /* Retransmit every 100 ms or so (doubling up to 400 ms) until the
     * timeout: enough tries that a lost datagram costs little. */
    uint64_t first = timeout_ms < 400 ? timeout_ms / 4 + 1 : 100;
    uint32_t retries = 0;
    for (uint64_t t = first, sum = first; sum < timeout_ms; retries++) {
        t = t * 2 > 400 ? 400 : t * 2;
        sum += t;
    }
    struct plane_rpc_call_opts co = {
        .timeout_ns = first * PLANE_NS_PER_MS, .max_backoff_ns = 400 * PLANE_NS_PER_MS,
        .retries = retries ? retries : 1,
    };
    int rc = client_reincarnate(c);
    if (!rc) {
        rc = plane_rpc_call(c->rpc, node->id, msg_type, c->req, len, &co, client_call_cb, &call,
                            NULL);
    }
    if (rc) {
        client_errf(c, "cannot send %s to %s: %s", plane_msg_type_name(msg_type), node->name,
                    plane_strerror(rc));
        return rc;
    }
    /* The rpc's retransmission timer ends the call; this deadline is a
     * backstop in case the loop has nothing to wake it. */
    uint64_t deadline = plane_clock_now_ns() + (timeout_ms + 5000ull) * PLANE_NS_PER_MS;
    while (!call.done && plane_clock_now_ns() < deadline) {
        uv_run(&c->loop, UV_RUN_ONCE);
    }
    if (!call.done) {
        call.status = PLANE_ETIMEDOUT;
    }
    c->resp_len = call.resp_len;
    return call.status;
}

/*
 * Sends c->req[0, len) as msg_type to node and waits for the answer, whose
 * body lands in c->resp (*resp_len): a first attempt with most of the
 * timeout, then one more under a new incarnation (see client_reincarnate).
 * Returns the daemon's status or a local error, with c->err set on failure.
 */
static int
client_call(struct plane_client *c, const struct plane_client_node *node, uint16_t msg_type,
            size_t len, size_t *resp_len)
{
    uint32_t first = c->timeout_ms * 2 / 3;
    struct client_call call = { .c = c };
    call.status = client_call_once(c, node, msg_type, len, first);
    if (call.status == PLANE_ETIMEDOUT) {
        call.status = client_call_once(c, node, msg_type, len, c->timeout_ms - first);
    }
    call.resp_len = c->resp_len;
    if (call.status == PLANE_ETIMEDOUT) {
        client_errf(c, "%s %s at %s did not answer %s within %u ms (is %s running? is the "
                    "auth key in %s the rack's? check --config)",
                    node->role == PLANE_CLIENT_ROLE_SWITCH ? "switch" : "device", node->name,
                    node->address, plane_msg_type_name(msg_type), c->timeout_ms,
                    client_daemon_of(node), c->cfg->path);
    } else if (call.status) {
        client_errf(c, "%s answered %s with %s (%s)", node->name, plane_msg_type_name(msg_type),
                    plane_err_name(call.status), plane_strerror(call.status));
    }
    if (resp_len) {
        *resp_len = call.resp_len;
    }
    return call.status;
}

static const struct plane_client_node *
client_node(struct plane_client *c, const char *name)
{
    const struct plane_client_node *n = plane_client_find_node(c, name);
    if (!n) {
        client_errf(c, "no device named %s in %s (see `planectl status` for the rack's devices)",
                    name, c->cfg->path);
    }
    return n;
}

static const struct plane_client_app *
client_app(struct plane_client *c, const char *name)
{
    const struct plane_client_app *a = plane_client_find_app(c, name);
    if (!a) {
        client_errf(c, "no app named %s in %s", name ? name : "(none)", c->cfg->path);
    }
    return a;
}

/* ---- stats ---- */

int
plane_client_stats(struct plane_client *c, const char *node, const char *const *prefixes,
                   size_t n_prefixes, plane_client_stat_fn fn, void *arg)
{
    c->err[0] = '\0';
    const struct plane_client_node *n = client_node(c, node);
    if (!n) {
        return PLANE_ENOENT;
    }
    if (n_prefixes > CLIENT_MAX_PREFIXES) {
        client_errf(c, "at most %d counter prefixes", CLIENT_MAX_PREFIXES);
        return PLANE_EINVAL;
    }
    struct plane_body_stat items[CLIENT_MAX_PREFIXES + 1];
    uint64_t offset = 0;
    for (int pages = 0; pages < 100000; pages++) {
        uint32_t k = 0;
        for (size_t i = 0; i < n_prefixes; i++) {
            items[k++] = (struct plane_body_stat) { .name = prefixes[i], .value = 0 };
        }
        if (offset) {
            items[k++] = (struct plane_body_stat) { .name = PLANE_STAT_OFFSET, .value = offset };
        }
        struct plane_body_stats req = { .n_stats = k, .stats = items };
        struct plane_mp_writer w;
        plane_mp_writer_init(&w, c->req, sizeof c->req);
        if (plane_body_stats_encode(&req, &w) || w.overflow) {
            client_errf(c, "the counter prefixes do not fit a message");
            return PLANE_EMSGSIZE;
        }
        size_t len = 0;
        int rc = client_call(c, n, PLANE_MSG_STATS, w.len, &len);
        if (rc) {
            return rc;
        }
        struct plane_body_stats resp;
        plane_mp_zone_clear(&c->zone);
        if ((rc = plane_body_stats_decode(c->resp, len, &c->zone, &resp))) {
            client_errf(c, "the STATS answer of %s does not decode (%s): is it the same "
                        "Plane version?", n->name, plane_strerror(rc));
            return PLANE_EBADMSG;
        }
        uint64_t next = 0;
        for (uint32_t i = 0; i < resp.n_stats; i++) {
            if (!strcmp(resp.stats[i].name, PLANE_STAT_NEXT)) {
                next = resp.stats[i].value;
                continue;
            }
            int r = fn(arg, resp.stats[i].name, resp.stats[i].value);
            if (r) {
                return r;
            }
        }
        if (!next) {
            return 0;
        }
        if (next <= offset) {
            client_errf(c, "%s pages its counters backwards (next %" PRIu64 ")", n->name, next);
            return PLANE_EPROTO;
        }
        offset = next;
    }
    return PLANE_EPROTO;
}

struct client_find_stat {
    const char *name;
    uint64_t value;
    bool found;
};

static int
client_find_stat_fn(void *arg, const char *name, uint64_t value)
{
    struct client_find_stat *f = arg;
    if (!strcmp(name, f->name)) {
        f->value = value;
        f->found = true;
        return 1;
    }
    return 0;
}

int
plane_client_stat(struct plane_client *c, const char *node, const char *name,
                  uint64_t *value)
{
    struct client_find_stat f = { .name = name };
    const char *prefixes[1] = { name };
    int rc = plane_client_stats(c, node, prefixes, 1, client_find_stat_fn, &f);
    if (rc < 0) {
        return rc;
    }
    if (!f.found) {
        client_errf(c, "%s has no counter named %s", node ? node : "switch", name);
        return PLANE_ENOENT;
    }
    *value = f.value;
    return 0;
}

static int
client_dev_stat_fn(void *arg, const char *name, uint64_t value)
{
    struct plane_client *c = arg;
    if (strncmp(name, "dev.", 4)) {
        return 0;
    }
    const char *dot = strrchr(name, '.');
    if (!dot || dot <= name + 4) {
        return 0;
    }
    size_t nl = (size_t) (dot - (name + 4));
    for (size_t i = 0; i + 1 < c->n_nodes; i++) {
        struct plane_client_dev_status *d = &c->devs[i];
        if (strlen(d->name) != nl || strncmp(d->name, name + 4, nl)) {
            continue;
        }
        if (!strcmp(dot, ".up")) {
            d->up = value != 0;
        } else if (!strcmp(dot, ".misses")) {
            d->misses = value;
        } else if (!strcmp(dot, ".downs")) {
            d->downs = value;
        }
    }
    return 0;
}

int
plane_client_devices(struct plane_client *c, struct plane_client_dev_status *out, size_t cap,
                     size_t *n)
{
    size_t nd = c->n_nodes - 1;
    for (size_t i = 0; i < nd; i++) {
        c->devs[i].up = false;
        c->devs[i].misses = c->devs[i].downs = 0;
    }
    const char *prefixes[1] = { "dev." };
    int rc = plane_client_stats(c, "switch", prefixes, 1, client_dev_stat_fn, c);
    if (rc) {
        return rc;
    }
    for (size_t i = 0; i < nd && i < cap; i++) {
        out[i] = c->devs[i];
    }
    if (n) {
        *n = nd;
    }
    return 0;
}

/* ---- entries ---- */

static int
client_entries_encode(struct plane_client *c, uint16_t app_id,
                      const struct plane_client_entry *e, size_t n, size_t *len)
{
    if (n > CLIENT_MAX_ENTRIES) {
        client_errf(c, "at most %d entries per call", CLIENT_MAX_ENTRIES);
        return PLANE_EINVAL;
    }
    struct plane_body_entry be[CLIENT_MAX_ENTRIES > 0 ? CLIENT_MAX_ENTRIES : 1];
    for (size_t i = 0; i < n; i++) {
        be[i] = (struct plane_body_entry) {
            .object_id = e[i].object_id,
            .flags = (e[i].flags & PLANE_CLIENT_ENTRY_SHARED) ? PLANE_ENTRY_F_SHARED : 0,
            .key = e[i].key, .key_len = e[i].key_len,
            .value = e[i].value, .value_len = e[i].value_len,
        };
    }
    struct plane_body_entries b = { .app_id = app_id, .n_entries = (uint32_t) n, .entries = be };
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, c->req, sizeof c->req);
    if (plane_body_entries_encode(&b, &w) || w.overflow) {
        client_errf(c, "the entries do not fit one message: send fewer at a time");
        return PLANE_EMSGSIZE;
    }
    *len = w.len;
    return 0;
}

/* Hands the decoded entries of c->resp to fn; *more gets a scan's next cursor. */
static int
client_entries_deliver(struct plane_client *c, const struct plane_client_node *n, size_t len,
                       plane_client_entry_fn fn, void *arg, uint8_t cursor[8], bool *more)
{
    struct plane_body_entries b;
    plane_mp_zone_clear(&c->zone);
    int rc = plane_body_entries_decode(c->resp, len, &c->zone, &b);
    if (rc) {
        client_errf(c, "the ENTRY_READ answer of %s does not decode (%s)", n->name,
                    plane_strerror(rc));
        return PLANE_EBADMSG;
    }
    if (more) {
        *more = false;
    }
    for (uint32_t i = 0; i < b.n_entries; i++) {
        const struct plane_body_entry *e = &b.entries[i];
        if (more && e->object_id == CLIENT_ENTRY_SCAN) {
            if (e->value_len == 8) {
                memcpy(cursor, e->value, 8);
                *more = true;
            }
            continue;
        }
        struct plane_client_entry ce = {
            .object_id = e->object_id,
            .flags = ((e->flags & PLANE_ENTRY_F_SHARED) ? PLANE_CLIENT_ENTRY_SHARED : 0)
                     | ((e->flags & PLANE_ENTRY_F_NOT_FOUND) ? PLANE_CLIENT_ENTRY_NOT_FOUND : 0),
            .key = e->key, .key_len = e->key_len, .value = e->value, .value_len = e->value_len,
        };
        int r = fn(arg, &ce);
        if (r) {
            return r;
        }
    }
    return 0;
}

int
plane_client_read_entries(struct plane_client *c, const char *node, const char *app,
                          const struct plane_client_entry *keys, size_t n,
                          plane_client_entry_fn fn, void *arg)
{
    c->err[0] = '\0';
    const struct plane_client_node *nd = client_node(c, node);
    const struct plane_client_app *a = nd ? client_app(c, app) : NULL;
    if (!a) {
        return PLANE_ENOENT;
    }
    struct plane_client_entry req[CLIENT_MAX_ENTRIES];
    if (n > CLIENT_MAX_ENTRIES) {
        client_errf(c, "at most %d keys per read", CLIENT_MAX_ENTRIES);
        return PLANE_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        req[i] = keys[i];
        req[i].value = NULL;
        req[i].value_len = 0;
        req[i].flags = 0;
    }
    size_t len, rlen = 0;
    int rc = client_entries_encode(c, a->id, req, n, &len);
    if (!rc) {
        rc = client_call(c, nd, PLANE_MSG_ENTRY_READ, len, &rlen);
    }
    if (!rc) {
        rc = client_entries_deliver(c, nd, rlen, fn, arg, NULL, NULL);
    }
    return rc;
}

int
plane_client_scan(struct plane_client *c, const char *node, const char *app,
                  const uint16_t *logicals, size_t n_logicals, plane_client_entry_fn fn,
                  void *arg)
{
    c->err[0] = '\0';
    const struct plane_client_node *nd = client_node(c, node);
    const struct plane_client_app *a = nd ? client_app(c, app) : NULL;
    if (!a) {
        return PLANE_ENOENT;
    }
    if (n_logicals > 1024) {
        client_errf(c, "at most 1024 logical devices per scan");
        return PLANE_EINVAL;
    }
    uint8_t lkey[2048];
    for (size_t i = 0; i < n_logicals; i++) {
        lkey[2 * i] = (uint8_t) (logicals[i] >> 8);
        lkey[2 * i + 1] = (uint8_t) logicals[i];
    }
    uint8_t cursor[8];
    bool started = false, more = true;
    for (int pages = 0; more && pages < 1000000; pages++) {
        struct plane_client_entry marker = {
            .object_id = CLIENT_ENTRY_SCAN, .key = lkey, .key_len = (uint32_t) (2 * n_logicals),
            .value = started ? cursor : NULL, .value_len = started ? 8 : 0,
        };
        uint8_t sent_cursor[8];
        if (started) {
            memcpy(sent_cursor, cursor, 8);
            marker.value = sent_cursor;
        }
        size_t len, rlen = 0;
        int rc = client_entries_encode(c, a->id, &marker, 1, &len);
        if (!rc) {
            rc = client_call(c, nd, PLANE_MSG_ENTRY_READ, len, &rlen);
        }
        if (!rc) {
            rc = client_entries_deliver(c, nd, rlen, fn, arg, cursor, &more);
        }
        if (rc) {
            return rc;
        }
        started = true;
    }
    return 0;
}

static int
client_change(struct plane_client *c, uint16_t type, const char *node, const char *app,
              const struct plane_client_entry *entries, size_t n)
{
    c->err[0] = '\0';
    const struct plane_client_node *nd = client_node(c, node);
    const struct plane_client_app *a = nd ? client_app(c, app) : NULL;
    if (!a) {
        return PLANE_ENOENT;
    }
    size_t len;
    int rc = client_entries_encode(c, a->id, entries, n, &len);
    return rc ? rc : client_call(c, nd, type, len, NULL);
}

int
plane_client_insert(struct plane_client *c, const char *node, const char *app,
                    const struct plane_client_entry *entries, size_t n)
{
    return client_change(c, PLANE_MSG_ENTRY_INSERT, node, app, entries, n);
}

int
plane_client_delete(struct plane_client *c, const char *node, const char *app,
                    const struct plane_client_entry *entries, size_t n)
{
    return client_change(c, PLANE_MSG_ENTRY_DELETE, node, app, entries, n);
}

/* ---- ADMIN ---- */

static int
client_admin(struct plane_client *c, const struct plane_body_admin *b)
{
    struct plane_mp_writer w;
    plane_mp_writer_init(&w, c->req, sizeof c->req);
    if (plane_body_admin_encode(b, &w) || w.overflow) {
        return PLANE_EMSGSIZE;
    }
    int rc = client_call(c, &c->nodes[0], PLANE_MSG_ADMIN, w.len, NULL);
    if (rc == PLANE_ENOSYS) {
        client_errf(c, "switch %s does not know ADMIN (an older switchd?)", c->nodes[0].name);
    }
    return rc;
}

static int
client_update(struct plane_client *c, const char *app, const struct plane_flow_key *key,
              uint8_t op)
{
    c->err[0] = '\0';
    const struct plane_client_app *a = client_app(c, app);
    if (!a) {
        return PLANE_ENOENT;
    }
    struct plane_body_admin b = {
        .op = op, .app_id = a->id, .device = PLANE_DEV_NONE,
        .key = (const uint8_t *) key, .key_len = sizeof *key,
    };
    return client_admin(c, &b);
}

int
plane_client_promote(struct plane_client *c, const char *app, const struct plane_flow_key *key)
{
    return client_update(c, app, key, PLANE_ADMIN_PROMOTE);
}

int
plane_client_demote(struct plane_client *c, const char *app, const struct plane_flow_key *key)
{
    return client_update(c, app, key, PLANE_ADMIN_DEMOTE);
}

int
plane_client_drill(struct plane_client *c, const char *node, bool fail)
{
    c->err[0] = '\0';
    const struct plane_client_node *n = client_node(c, node);
    if (!n) {
        return PLANE_ENOENT;
    }
    if (n->role == PLANE_CLIENT_ROLE_SWITCH) {
        client_errf(c, "a drill takes a device down, not the switch");
        return PLANE_EINVAL;
    }
    struct plane_body_admin b = {
        .op = fail ? PLANE_ADMIN_DRILL_FAIL : PLANE_ADMIN_DRILL_UP, .device = n->id,
    };
    return client_admin(c, &b);
}
