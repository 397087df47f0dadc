/* vpngw: per-tenant VPN gateway (external-to-internal tunnel mapping) with per-tenant packet counters. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

#include "../common/appkit.h"

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
    uint8_t endpoint[4];
    int port;                 /* -1: the in port */
};

/* Tenant t is entry t of every array (prefix arrays for appkit_prefix_find()). */
struct vpn_state {
    bool used[VPN_MAX_TENANTS];
    struct appkit_prefix prefix[VPN_MAX_TENANTS];
    struct vpn_tenant tenants[VPN_MAX_TENANTS];
    uint8_t local[4];         /* the gateway's tunnel source address */
    bool has_local;
};

/* ---- Params (init only) ---- */

/* Parses tenant t's "prefix=P endpoint=A [port=N]" into st. */
static bool
parse_tenant(const char *v, struct vpn_state *st, uint32_t t)
{
    struct vpn_tenant *tn = &st->tenants[t];
    bool has_prefix = false, has_endpoint = false;
    const char *tok, *val;
    size_t len, vlen;
    tn->port = -1;
    while ((tok = appkit_next_token(&v, &len))) {
        uint32_t n;
        if (appkit_token_is(tok, len, "prefix", &val, &vlen)) {
            has_prefix = appkit_parse_prefix(val, vlen, false, &st->prefix[t]);
            if (!has_prefix) {
                return false;
            }
        } else if (appkit_token_is(tok, len, "endpoint", &val, &vlen)) {
            has_endpoint = appkit_parse_addr(val, vlen, tn->endpoint);
            if (!has_endpoint) {
                return false;
            }
        } else if (appkit_token_is(tok, len, "port", &val, &vlen)) {
            if (!appkit_parse_u32(val, vlen, 65535, &n)) {
                return false;
            }
            tn->port = (int) n;
        } else {
            return false;
        }
    }
    st->used[t] = has_prefix && has_endpoint;
    return st->used[t];
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
        if (appkit_key_index(k, "tenant", VPN_MAX_TENANTS - 1, &n)) {
            if (!parse_tenant(v, st, n)) {
                return appkit_param_fail("vpngw", k, v, "want \"prefix=A.B.C.D/LEN "
                                         "endpoint=A.B.C.D [port=N]\"");
            }
            any = true;
        } else if (!strcmp(k, "local")) {
            st->has_local = appkit_parse_addr(v, strlen(v), st->local);
            if (!st->has_local) {
                return appkit_param_fail("vpngw", k, v, "not an IPv4 address");
            }
        } else {
            return appkit_param_fail("vpngw", k, v, "unknown param");
        }
    }
    if (!st->has_local) {
        return appkit_param_fail("vpngw", "local", "",
                                 "the gateway's tunnel address is required");
    }
    if (!any) {
        return appkit_param_fail("vpngw", "tenant0", "", "no tenant configured");
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
    int t = appkit_prefix_find(st->prefix, st->used, VPN_MAX_TENANTS,
                               appkit_v4_of(k->dst_addr));
    if (t < 0) {
        return PLANE_EPERM;
    }
    const struct vpn_tenant *tn = &st->tenants[t];
    struct vpn_tunnel tun;
    memset(&tun, 0, sizeof tun);
    memcpy(tun.endpoint, tn->endpoint, 4);
    tun.tenant = (uint8_t) t;
    tun.has_port = tn->port >= 0;
    tun.port = tn->port >= 0 ? (uint16_t) tn->port : 0;
    return appkit_table_insert(ctx, OBJ_TUNNELS, &tun);
}

/* ---- Data plane ---- */

static enum plane_verdict
vpn_process(struct plane_ctx *ctx, void *state)
{
    const struct vpn_state *st = state;
    struct vpn_tunnel tun;
    if (appkit_table_get(ctx, OBJ_TUNNELS, &tun) != 0) {
        return PLANE_V_MISS;
    }
    if (plane_ctx_set_ipv4_src(ctx, st->local) != 0
        || plane_ctx_set_ipv4_dst(ctx, tun.endpoint) != 0) {
        return PLANE_V_DROP;
    }
    appkit_reg_bump(ctx, OBJ_PKTS, tun.tenant);   /* < 8: from a table value */
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

APPKIT_APP_REGISTER(vpngw_desc)
