/* nat: per-tenant deterministic NAT (RFC 7422 style) whose two directions share one state key. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/features.h>
#include <plane/flow.h>

#include "../common/appkit.h"

/*
 * Packet-pinning finds a packet's state from the packet alone, on the
 * device owning its union key.  A classic NAT allocates the public port of
 * an outbound flow from a free list, and the reply (remote -> public) then
 * has no way to find the mapping without reading it.  This NAT makes the
 * public endpoint a pure function of the inside endpoint (RFC 7422,
 * deterministic NAT): each inside address owns a fixed block of public
 * (address, port) slots of its tenant's pool, and an inside port picks its
 * slot in the block.  So state_key() maps an outbound packet
 * inside -> remote to (remote -> public), which is exactly the key of the
 * reply, and both directions land on one shard, one flow-manager entry and
 * one session entry.
 *
 * What is allocated on the first outbound packet is the session: new_flow()
 * records which inside endpoint owns (remote, public, proto).  A second
 * inside endpoint of the same address whose port lands on the same slot,
 * talking to the same remote endpoint, finds the session owned by someone
 * else: that is this NAT's pool exhaustion, a counted drop.  A reply with
 * no session (unsolicited inbound traffic) is a counted drop too.
 */
enum {
    OBJ_SESSIONS,     /* table: (remote, public, proto) -> inside endpoint */
    OBJ_PKTS,         /* register (ADD): one entry, a word per tenant */
    OBJ_EXHAUSTED,    /* register (ADD): drops for a slot owned by another */
    OBJ_UNSOLICITED,  /* register (ADD): inbound drops without a session */
    N_OBJ
};

#define NAT_MAX_TENANTS 8    /* words of a 64-byte per-tenant register */

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_SESSIONS] = { .name = "sessions", .kind = PLANE_OBJ_TABLE,
                       .key_fields = PLANE_FLOW_ALL, .value_len = 8,
                       .size = 65536, .merge = PLANE_MERGE_NONE },
    /* key_fields 0: every flow shares the one entry (the zero key); word t
     * is tenant t's counter, merged word by word by ADD. */
    [OBJ_PKTS] = { .name = "pkts", .kind = PLANE_OBJ_REGISTER,
                   .key_fields = 0, .value_len = 8 * NAT_MAX_TENANTS,
                   .size = 1, .merge = PLANE_MERGE_ADD },
    [OBJ_EXHAUSTED] = { .name = "exhausted", .kind = PLANE_OBJ_REGISTER,
                        .key_fields = 0, .value_len = 8 * NAT_MAX_TENANTS,
                        .size = 1, .merge = PLANE_MERGE_ADD },
    [OBJ_UNSOLICITED] = { .name = "unsolicited", .kind = PLANE_OBJ_REGISTER,
                          .key_fields = 0, .value_len = 8 * NAT_MAX_TENANTS,
                          .size = 1, .merge = PLANE_MERGE_ADD },
};

/* A session table value: who owns the (remote, public, proto) slot. */
struct nat_session {
    uint8_t inside_ip[4];     /* network order */
    uint16_t inside_port;     /* host order */
    uint8_t tenant;
    uint8_t pad;
};
_Static_assert(sizeof(struct nat_session) == 8, "session value is 8 bytes");

struct nat_tenant {
    uint16_t port_lo;
    uint32_t n_ports;
    uint64_t block;           /* public slots per inside address */
};

/* Tenant t is entry t of every array (prefix arrays for appkit_prefix_find()). */
struct nat_state {
    bool used[NAT_MAX_TENANTS];
    struct appkit_prefix inside[NAT_MAX_TENANTS];
    struct appkit_prefix pool[NAT_MAX_TENANTS];
    struct nat_tenant tenants[NAT_MAX_TENANTS];
    int inside_port;          /* egress of inbound packets; -1: in port */
    int outside_port;         /* egress of outbound packets; -1: in port */
};

/* ---- Parsing params (init only) ---- */

/* Parses tenant t's "inside=P pool=P ports=LO-HI" into st. */
static bool
parse_tenant(const char *v, struct nat_state *st, uint32_t t)
{
    struct nat_tenant *tn = &st->tenants[t];
    bool has_inside = false, has_pool = false;
    uint16_t lo = 1024, hi = 65535;
    const char *tok, *val;
    size_t len, vlen;
    while ((tok = appkit_next_token(&v, &len))) {
        if (appkit_token_is(tok, len, "inside", &val, &vlen)) {
            has_inside = appkit_parse_prefix(val, vlen, false, &st->inside[t]);
            if (!has_inside) {
                return false;
            }
        } else if (appkit_token_is(tok, len, "pool", &val, &vlen)) {
            has_pool = appkit_parse_prefix(val, vlen, false, &st->pool[t]);
            if (!has_pool) {
                return false;
            }
        } else if (appkit_token_is(tok, len, "ports", &val, &vlen)) {
            if (!appkit_parse_range(val, vlen, &lo, &hi) || lo == 0) {
                return false;
            }
        } else {
            return false;
        }
    }
    if (!has_inside || !has_pool) {
        return false;
    }
    tn->port_lo = lo;
    tn->n_ports = (uint32_t) hi - lo + 1;
    /* Every inside address needs at least one public slot. */
    tn->block = appkit_prefix_size(&st->pool[t]) * tn->n_ports
                / appkit_prefix_size(&st->inside[t]);
    st->used[t] = tn->block > 0;
    return st->used[t];
}

/*
 * Params:
 *   tenantN: "inside=10.1.0.0/24 pool=203.0.113.0/30 ports=1024-65535"
 *            N in 0..7 (the tenant's word in the per-tenant registers);
 *            ports defaults to 1024-65535.
 *   inside_port, outside_port: egress ports of inbound and outbound
 *            packets (default: the port the packet came in on).
 * Inside prefixes and pools must all be disjoint (the direction and the
 * tenant of a packet are read from its addresses).
 */
static int
nat_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct nat_state *st = state;
    st->inside_port = -1;
    st->outside_port = -1;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        uint32_t n;
        if (appkit_key_index(k, "tenant", NAT_MAX_TENANTS - 1, &n)) {
            if (!parse_tenant(v, st, n)) {
                return appkit_param_fail("nat", k, v, "want \"inside=A.B.C.D/L "
                                         "pool=A.B.C.D/L [ports=LO-HI]\" with at "
                                         "least one port per inside address");
            }
        } else if (!strcmp(k, "inside_port") || !strcmp(k, "outside_port")) {
            if (!appkit_parse_u32_str(v, 65535, &n)) {
                return appkit_param_fail("nat", k, v, "not a port number");
            }
            *(k[0] == 'i' ? &st->inside_port : &st->outside_port) = (int) n;
        } else {
            return appkit_param_fail("nat", k, v, "unknown param");
        }
    }
    bool any = false;
    for (int a = 0; a < NAT_MAX_TENANTS; a++) {
        if (!st->used[a]) {
            continue;
        }
        any = true;
        if (appkit_prefixes_overlap(&st->inside[a], &st->pool[a])) {
            fprintf(stderr, "nat: tenant%d: the inside prefix overlaps the pool\n", a);
            return PLANE_EINVAL;
        }
        for (int b = a + 1; b < NAT_MAX_TENANTS; b++) {
            if (st->used[b]
                && (appkit_prefixes_overlap(&st->inside[a], &st->inside[b])
                    || appkit_prefixes_overlap(&st->pool[a], &st->pool[b])
                    || appkit_prefixes_overlap(&st->inside[a], &st->pool[b])
                    || appkit_prefixes_overlap(&st->pool[a], &st->inside[b]))) {
                fprintf(stderr, "nat: tenant%d and tenant%d: prefixes overlap "
                        "(the direction and tenant of a packet are read from "
                        "its addresses)\n", a, b);
                return PLANE_EINVAL;
            }
        }
    }
    if (!any) {
        fprintf(stderr, "nat: no tenant configured (params tenant0..tenant7)\n");
        return PLANE_EINVAL;
    }
    return 0;
}

/* ---- The mapping (per packet: no allocation, a few integer ops) ---- */

/* True for the flows this NAT translates: IPv4 TCP and UDP. */
static bool
nat_handles(const struct plane_flow_key *k)
{
    return k->ip_version == 4 && (k->proto == 6 || k->proto == 17);
}

/* Index of the tenant whose pool holds addr, or -1. */
static int
tenant_of_pool(const struct nat_state *st, uint32_t addr)
{
    return appkit_prefix_find(st->pool, st->used, NAT_MAX_TENANTS, addr);
}

/*
 * The public endpoint of inside endpoint (addr, port) of tenant t: inside
 * address i of the prefix owns slots [i * block, (i + 1) * block) of the
 * pool's address x port space, and the port picks slot port % block, so
 * consecutive ephemeral ports of one host never collide before the block
 * is used up.
 */
static void
nat_map(const struct nat_state *st, int tenant, uint32_t addr, uint16_t port,
        uint32_t *pub_addr, uint16_t *pub_port)
{
    const struct nat_tenant *t = &st->tenants[tenant];
    uint64_t slot = (uint64_t) (addr - st->inside[tenant].base) * t->block
                    + port % t->block;
    *pub_addr = st->pool[tenant].base + (uint32_t) (slot / t->n_ports);
    *pub_port = (uint16_t) (t->port_lo + slot % t->n_ports);
}

/*
 * Both directions to (remote -> public, proto): an inbound packet already
 * is such a key (its destination is in a pool: left alone, which also makes
 * the function idempotent); an outbound packet (source in an inside prefix)
 * becomes its reply's key.  Anything else keeps its own key and is dropped.
 */
static void
nat_state_key(const struct plane_flow_key *pkt, struct plane_flow_key *out,
              const void *state)
{
    const struct nat_state *st = state;
    *out = *pkt;
    if (!nat_handles(pkt) || tenant_of_pool(st, appkit_v4_of(pkt->dst_addr)) >= 0) {
        return;
    }
    uint32_t src = appkit_v4_of(pkt->src_addr);
    int t = appkit_prefix_find(st->inside, st->used, NAT_MAX_TENANTS, src);
    if (t < 0) {
        return;
    }
    uint32_t pub;
    uint16_t pub_port;
    nat_map(st, t, src, pkt->src_port, &pub, &pub_port);
    uint8_t remote[4], pub_b[4];
    memcpy(remote, pkt->dst_addr + PLANE_FLOW_V4_OFF, 4);
    appkit_v4_bytes(pub, pub_b);
    plane_flow_key_set_v4(out, pkt->proto, remote, pkt->dst_port, pub_b, pub_port);
}

/* True when the packet (not the state key) goes from inside to outside. */
static bool
is_outbound(const struct plane_ctx *ctx)
{
    const struct plane_flow_key *sk = plane_ctx_flow_key(ctx);
    const struct plane_flow_key *pk = plane_ctx_packet_key(ctx);
    /* The state key is remote -> public: an inbound packet is it. */
    return !plane_flow_key_eq(sk, pk);
}

static enum plane_verdict
nat_process(struct plane_ctx *ctx, void *state)
{
    const struct nat_state *st = state;
    const struct plane_flow_key *sk = plane_ctx_flow_key(ctx);
    const struct plane_flow_key *pk = plane_ctx_packet_key(ctx);
    if (!nat_handles(sk) || tenant_of_pool(st, appkit_v4_of(sk->dst_addr)) < 0) {
        return PLANE_V_DROP;    /* neither direction of a tenant's flow */
    }
    struct nat_session s;
    if (appkit_table_get(ctx, OBJ_SESSIONS, &s) != 0) {
        return PLANE_V_MISS;
    }
    if (is_outbound(ctx)) {
        if (memcmp(s.inside_ip, pk->src_addr + PLANE_FLOW_V4_OFF, 4) != 0
            || s.inside_port != pk->src_port) {
            /* The slot belongs to another inside endpoint. */
            appkit_reg_bump(ctx, OBJ_EXHAUSTED, s.tenant);
            return PLANE_V_DROP;
        }
        if (plane_ctx_set_ipv4_src(ctx, sk->dst_addr + PLANE_FLOW_V4_OFF) != 0
            || plane_ctx_set_sport(ctx, sk->dst_port) != 0) {
            return PLANE_V_DROP;
        }
        if (st->outside_port >= 0) {
            plane_ctx_forward(ctx, (uint16_t) st->outside_port);
        }
    } else {
        if (plane_ctx_set_ipv4_dst(ctx, s.inside_ip) != 0
            || plane_ctx_set_dport(ctx, s.inside_port) != 0) {
            return PLANE_V_DROP;
        }
        if (st->inside_port >= 0) {
            plane_ctx_forward(ctx, (uint16_t) st->inside_port);
        }
    }
    appkit_reg_bump(ctx, OBJ_PKTS, s.tenant);
    return PLANE_V_FORWARD;
}

/*
 * Control logic: the first outbound packet of a session records its owner;
 * an inbound packet without a session is refused (and counted).
 */
static int
nat_new_flow(struct plane_ctx *ctx, void *state)
{
    const struct nat_state *st = state;
    const struct plane_flow_key *sk = plane_ctx_flow_key(ctx);
    const struct plane_flow_key *pk = plane_ctx_packet_key(ctx);
    int t = tenant_of_pool(st, appkit_v4_of(sk->dst_addr));
    if (t < 0) {
        return PLANE_EPERM;
    }
    if (!is_outbound(ctx)) {
        appkit_reg_bump(ctx, OBJ_UNSOLICITED, (unsigned) t);
        return PLANE_EPERM;
    }
    struct nat_session s;
    memset(&s, 0, sizeof s);
    memcpy(s.inside_ip, pk->src_addr + PLANE_FLOW_V4_OFF, 4);
    s.inside_port = pk->src_port;
    s.tenant = (uint8_t) t;
    return appkit_table_insert(ctx, OBJ_SESSIONS, &s);
}

static const struct plane_app_desc nat_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "nat",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    /* The per-packet mapping is a hash-unit computation on a switch. */
    .features = PLANE_FEAT_HASH,
    .state_size = sizeof(struct nat_state),
    .init = nat_init,
    .process = nat_process,
    .new_flow = nat_new_flow,
    .state_key = nat_state_key,
};

APPKIT_APP_REGISTER(nat_desc)
