/* vpngw: per-tenant VPN gateway (external-to-internal tunnel mapping) with per-tenant packet counters. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

/*
 * Traffic entering the data center for a tenant's addresses is sent down
 * that tenant's tunnel.  Control logic (new_flow()) looks the flow's
 * destination up in the tenants of the params and stores the tunnel in a
 * per-flow table, as ExoPlane's front-end VPN gateway keeps per-flow state
 * per tenant; every later packet is tunnelled by one exact-match lookup.
 *
 * Tunnelling is modelled by rewriting the packet's addresses into the
 * outer header's: source = this gateway's tunnel address, destination =
 * the tenant's tunnel endpoint, out of the tenant's port.  The app API
 * rewrites in place and cannot push an encapsulation header, so the inner
 * addresses are not carried (the L4 ports and payload are).
 */
enum {
    OBJ_TUNNELS,      /* table: 5-tuple -> tunnel */
    OBJ_PKTS,         /* register (ADD): one entry, a word per tenant */
    N_OBJ
};

#define VPN_MAX_TENANTS 8     /* words of a 64-byte per-tenant register */

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_TUNNELS] = { .name = "tunnels", .kind = PLANE_OBJ_TABLE,
                      .key_fields = PLANE_FLOW_ALL, .value_len = 8,
                      .size = 65536, .merge = PLANE_MERGE_NONE },
    /* key_fields 0: every flow shares the one entry; word t is tenant t's. */
    [OBJ_PKTS] = { .name = "pkts", .kind = PLANE_OBJ_REGISTER,
                   .key_fields = 0, .value_len = 8 * VPN_MAX_TENANTS,
                   .size = 1, .merge = PLANE_MERGE_ADD },
};

/* A tunnels table value. */
struct vpn_tunnel {
    uint8_t endpoint[4];      /* network order */
    uint16_t port;            /* egress port, when has_port */
    uint8_t tenant;
    uint8_t has_port;
};
_Static_assert(sizeof(struct vpn_tunnel) == 8, "tunnel value is 8 bytes");

struct vpn_tenant {
    bool used;
    uint32_t base;            /* tenant prefix, host order */
    uint32_t mask;
    uint8_t endpoint[4];
    int port;                 /* -1: the in port */
};

struct vpn_state {
    struct vpn_tenant tenants[VPN_MAX_TENANTS];
    uint8_t local[4];         /* the gateway's tunnel source address */
    bool has_local;
};

/* ---- Params (init only) ---- */

static bool
parse_u32(const char *s, size_t len, uint32_t max, uint32_t *out)
{
    if (len == 0 || len > 10) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t) (s[i] - '0');
    }
    if (v > max) {
        return false;
    }
    *out = (uint32_t) v;
    return true;
}

/* Parses an IPv4 address of len bytes into 4 network-order bytes. */
static bool
parse_addr(const char *s, size_t len, uint8_t out[4])
{
    char buf[16];
    if (len >= sizeof buf) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, out) == 1;
}

/* Parses "prefix=P endpoint=A [port=N]" into t. */
static bool
parse_tenant(const char *v, struct vpn_tenant *t)
{
    bool has_prefix = false, has_endpoint = false;
    t->port = -1;
    while (*v) {
        while (*v == ' ') {
            v++;
        }
        size_t len = strcspn(v, " ");
        if (len == 0) {
            break;
        }
        uint32_t n;
        if (len > 7 && !strncmp(v, "prefix=", 7)) {
            const char *slash = memchr(v + 7, '/', len - 7);
            uint8_t a[4];
            if (!slash || !parse_addr(v + 7, (size_t) (slash - v - 7), a)
                || !parse_u32(slash + 1, len - (size_t) (slash + 1 - v), 32, &n)) {
                return false;
            }
            t->mask = n ? ~0u << (32 - n) : 0;
            t->base = (uint32_t) a[0] << 24 | (uint32_t) a[1] << 16
                      | (uint32_t) a[2] << 8 | a[3];
            has_prefix = (t->base & ~t->mask) == 0;
            if (!has_prefix) {
                return false;
            }
        } else if (len > 9 && !strncmp(v, "endpoint=", 9)) {
            has_endpoint = parse_addr(v + 9, len - 9, t->endpoint);
            if (!has_endpoint) {
                return false;
            }
        } else if (len > 5 && !strncmp(v, "port=", 5)) {
            if (!parse_u32(v + 5, len - 5, 65535, &n)) {
                return false;
            }
            t->port = (int) n;
        } else {
            return false;
        }
        v += len;
    }
    t->used = has_prefix && has_endpoint;
    return t->used;
}

static int
vpn_fail(const char *key, const char *value, const char *why)
{
    fprintf(stderr, "vpngw: param %s=\"%s\": %s\n", key, value, why);
    return PLANE_EINVAL;
}

/*
 * Params:
 *   local: "192.0.2.1"        the gateway's tunnel source address (required)
 *   tenantN: "prefix=10.1.0.0/16 endpoint=198.51.100.1 port=2"
 *            N in 0..7 (the tenant's word in pkts); port optional (default:
 *            the port the packet came in on).  The first tenant (lowest N)
 *            whose prefix holds a flow's destination takes it.
 */
static int
vpn_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct vpn_state *st = state;
    bool any = false;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        uint32_t n;
        if (!strncmp(k, "tenant", 6)
            && parse_u32(k + 6, strlen(k + 6), VPN_MAX_TENANTS - 1, &n)) {
            if (!parse_tenant(v, &st->tenants[n])) {
                return vpn_fail(k, v, "want \"prefix=A.B.C.D/LEN "
                                "endpoint=A.B.C.D [port=N]\"");
            }
            any = true;
        } else if (!strcmp(k, "local")) {
            st->has_local = parse_addr(v, strlen(v), st->local);
            if (!st->has_local) {
                return vpn_fail(k, v, "not an IPv4 address");
            }
        } else {
            return vpn_fail(k, v, "unknown param");
        }
    }
    if (!st->has_local) {
        return vpn_fail("local", "", "the gateway's tunnel address is required");
    }
    if (!any) {
        return vpn_fail("tenant0", "", "no tenant configured");
    }
    return 0;
}

/* ---- Control logic ---- */

/*
 * The first packet of a flow to a tenant's addresses maps the flow to the
 * tenant's tunnel; a flow to no tenant is refused (dropped, and counted by
 * the runtime as new_flow_denied).
 */
static int
vpn_new_flow(struct plane_ctx *ctx, void *state)
{
    const struct vpn_state *st = state;
    const struct plane_flow_key *k = plane_ctx_flow_key(ctx);
    if (k->ip_version != 4) {
        return PLANE_EPERM;
    }
    const uint8_t *p = k->dst_addr + PLANE_FLOW_V4_OFF;
    uint32_t dst = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
                   | (uint32_t) p[2] << 8 | p[3];
    for (int t = 0; t < VPN_MAX_TENANTS; t++) {
        const struct vpn_tenant *tn = &st->tenants[t];
        if (!tn->used || (dst & tn->mask) != tn->base) {
            continue;
        }
        struct vpn_tunnel tun;
        memset(&tun, 0, sizeof tun);
        memcpy(tun.endpoint, tn->endpoint, 4);
        tun.tenant = (uint8_t) t;
        tun.has_port = tn->port >= 0;
        tun.port = tn->port >= 0 ? (uint16_t) tn->port : 0;
        uint8_t key[PLANE_OBJ_MAX_KEY];
        size_t klen = plane_ctx_obj_key(ctx, OBJ_TUNNELS, key);
        return plane_ctx_table_insert(ctx, OBJ_TUNNELS, key, klen, &tun);
    }
    return PLANE_EPERM;
}

/* ---- Data plane ---- */

static enum plane_verdict
vpn_process(struct plane_ctx *ctx, void *state)
{
    const struct vpn_state *st = state;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_TUNNELS, key);
    struct vpn_tunnel tun;
    if (plane_ctx_table_get(ctx, OBJ_TUNNELS, key, klen, &tun) != 0) {
        return PLANE_V_MISS;
    }
    if (plane_ctx_set_ipv4_src(ctx, st->local) != 0
        || plane_ctx_set_ipv4_dst(ctx, tun.endpoint) != 0) {
        return PLANE_V_DROP;
    }
    uint64_t operand[VPN_MAX_TENANTS] = { 0 };
    operand[tun.tenant & (VPN_MAX_TENANTS - 1)] = 1;
    klen = plane_ctx_obj_key(ctx, OBJ_PKTS, key);
    (void) plane_ctx_reg_merge(ctx, OBJ_PKTS, key, klen, operand);
    if (tun.has_port) {
        plane_ctx_forward(ctx, tun.port);
    }
    return PLANE_V_FORWARD;
}

static const struct plane_app_desc vpngw_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "vpngw",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = 0,
    .state_size = sizeof(struct vpn_state),
    .init = vpn_init,
    .process = vpn_process,
    .new_flow = vpn_new_flow,
};

const struct plane_app_desc *plane_app_register(void);

const struct plane_app_desc *
plane_app_register(void)
{
    return &vpngw_desc;
}
