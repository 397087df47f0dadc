/* nat: per-tenant deterministic NAT (RFC 7422 style) whose two directions share one state key. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/features.h>
#include <plane/flow.h>

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

struct nat_prefix {
    uint32_t base;            /* host order, host bits zero */
    uint32_t mask;
    uint64_t n;               /* addresses in the prefix */
};

struct nat_tenant {
    bool used;
    struct nat_prefix inside;
    struct nat_prefix pool;
    uint16_t port_lo;
    uint32_t n_ports;
    uint64_t block;           /* public slots per inside address */
};

struct nat_state {
    struct nat_tenant tenants[NAT_MAX_TENANTS];
    int inside_port;          /* egress of inbound packets; -1: in port */
    int outside_port;         /* egress of outbound packets; -1: in port */
};

/* ---- Parsing params (init only) ---- */

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

/* Parses "a.b.c.d/len" (len 0..32; host bits must be zero). */
static bool
parse_prefix(const char *s, size_t len, struct nat_prefix *p)
{
    const char *slash = memchr(s, '/', len);
    char addr[16];
    uint32_t plen;
    if (!slash || (size_t) (slash - s) >= sizeof addr
        || !parse_u32(slash + 1, len - (size_t) (slash - s) - 1, 32, &plen)) {
        return false;
    }
    memcpy(addr, s, (size_t) (slash - s));
    addr[slash - s] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, addr, &a) != 1) {
        return false;
    }
    p->mask = plen ? ~0u << (32 - plen) : 0;
    p->base = ntohl(a.s_addr);
    p->n = 1ull << (32 - plen);
    return (p->base & ~p->mask) == 0;
}

/* Parses "lo-hi" or "port" (1..65535). */
static bool
parse_ports(const char *s, size_t len, uint16_t *lo, uint32_t *n)
{
    const char *dash = memchr(s, '-', len);
    uint32_t a, b;
    if (dash) {
        if (!parse_u32(s, (size_t) (dash - s), 65535, &a)
            || !parse_u32(dash + 1, len - (size_t) (dash - s) - 1, 65535, &b)) {
            return false;
        }
    } else if (!parse_u32(s, len, 65535, &a)) {
        return false;
    } else {
        b = a;
    }
    if (a == 0 || b < a) {
        return false;
    }
    *lo = (uint16_t) a;
    *n = b - a + 1;
    return true;
}

static bool
prefixes_overlap(const struct nat_prefix *a, const struct nat_prefix *b)
{
    uint32_t m = a->mask & b->mask;   /* the shorter prefix's mask */
    return (a->base & m) == (b->base & m);
}

/* Parses "inside=P pool=P ports=LO-HI" into t. */
static bool
parse_tenant(const char *v, struct nat_tenant *t)
{
    bool has_inside = false, has_pool = false;
    t->port_lo = 1024;
    t->n_ports = 65535 - 1024 + 1;
    while (*v) {
        while (*v == ' ') {
            v++;
        }
        size_t len = strcspn(v, " ");
        if (len == 0) {
            break;
        }
        if (len > 7 && !strncmp(v, "inside=", 7)) {
            has_inside = parse_prefix(v + 7, len - 7, &t->inside);
            if (!has_inside) {
                return false;
            }
        } else if (len > 5 && !strncmp(v, "pool=", 5)) {
            has_pool = parse_prefix(v + 5, len - 5, &t->pool);
            if (!has_pool) {
                return false;
            }
        } else if (len > 6 && !strncmp(v, "ports=", 6)) {
            if (!parse_ports(v + 6, len - 6, &t->port_lo, &t->n_ports)) {
                return false;
            }
        } else {
            return false;
        }
        v += len;
    }
    if (!has_inside || !has_pool) {
        return false;
    }
    /* Every inside address needs at least one public slot. */
    t->block = t->pool.n * t->n_ports / t->inside.n;
    t->used = t->block > 0;
    return t->used;
}

static int
nat_fail(const char *key, const char *value, const char *why)
{
    fprintf(stderr, "nat: param %s=\"%s\": %s\n", key, value, why);
    return PLANE_EINVAL;
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
        if (!strncmp(k, "tenant", 6)
            && parse_u32(k + 6, strlen(k + 6), NAT_MAX_TENANTS - 1, &n)) {
            if (!parse_tenant(v, &st->tenants[n])) {
                return nat_fail(k, v, "want \"inside=A.B.C.D/L pool=A.B.C.D/L "
                                "[ports=LO-HI]\" with at least one port per "
                                "inside address");
            }
        } else if (!strcmp(k, "inside_port") || !strcmp(k, "outside_port")) {
            if (!parse_u32(v, strlen(v), 65535, &n)) {
                return nat_fail(k, v, "not a port number");
            }
            *(k[0] == 'i' ? &st->inside_port : &st->outside_port) = (int) n;
        } else {
            return nat_fail(k, v, "unknown param");
        }
    }
    bool any = false;
    for (int a = 0; a < NAT_MAX_TENANTS; a++) {
        const struct nat_tenant *ta = &st->tenants[a];
        if (!ta->used) {
            continue;
        }
        any = true;
        if (prefixes_overlap(&ta->inside, &ta->pool)) {
            fprintf(stderr, "nat: tenant%d: the inside prefix overlaps the pool\n", a);
            return PLANE_EINVAL;
        }
        for (int b = a + 1; b < NAT_MAX_TENANTS; b++) {
            const struct nat_tenant *tb = &st->tenants[b];
            if (tb->used && (prefixes_overlap(&ta->inside, &tb->inside)
                             || prefixes_overlap(&ta->pool, &tb->pool)
                             || prefixes_overlap(&ta->inside, &tb->pool)
                             || prefixes_overlap(&ta->pool, &tb->inside))) {
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

static uint32_t
v4_of(const uint8_t addr[16])
{
    const uint8_t *p = addr + PLANE_FLOW_V4_OFF;
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void
v4_bytes(uint32_t a, uint8_t out[4])
{
    out[0] = (uint8_t) (a >> 24);
    out[1] = (uint8_t) (a >> 16);
    out[2] = (uint8_t) (a >> 8);
    out[3] = (uint8_t) a;
}

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
    for (int t = 0; t < NAT_MAX_TENANTS; t++) {
        const struct nat_tenant *tn = &st->tenants[t];
        if (tn->used && (addr & tn->pool.mask) == tn->pool.base) {
            return t;
        }
    }
    return -1;
}

/* Index of the tenant whose inside prefix holds addr, or -1. */
static int
tenant_of_inside(const struct nat_state *st, uint32_t addr)
{
    for (int t = 0; t < NAT_MAX_TENANTS; t++) {
        const struct nat_tenant *tn = &st->tenants[t];
        if (tn->used && (addr & tn->inside.mask) == tn->inside.base) {
            return t;
        }
    }
    return -1;
}

/*
 * The public endpoint of inside endpoint (addr, port) of tenant t: inside
 * address i of the prefix owns slots [i * block, (i + 1) * block) of the
 * pool's address x port space, and the port picks slot port % block, so
 * consecutive ephemeral ports of one host never collide before the block
 * is used up.
 */
static void
nat_map(const struct nat_tenant *t, uint32_t addr, uint16_t port,
        uint32_t *pub_addr, uint16_t *pub_port)
{
    uint64_t slot = (uint64_t) (addr - t->inside.base) * t->block + port % t->block;
    *pub_addr = t->pool.base + (uint32_t) (slot / t->n_ports);
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
    if (!nat_handles(pkt) || tenant_of_pool(st, v4_of(pkt->dst_addr)) >= 0) {
        return;
    }
    uint32_t src = v4_of(pkt->src_addr);
    int t = tenant_of_inside(st, src);
    if (t < 0) {
        return;
    }
    uint32_t pub;
    uint16_t pub_port;
    nat_map(&st->tenants[t], src, pkt->src_port, &pub, &pub_port);
    uint8_t remote[4], pub_b[4];
    memcpy(remote, pkt->dst_addr + PLANE_FLOW_V4_OFF, 4);
    v4_bytes(pub, pub_b);
    plane_flow_key_set_v4(out, pkt->proto, remote, pkt->dst_port, pub_b, pub_port);
}

/* Adds 1 to word t of a per-tenant register. */
static void
count_tenant(struct plane_ctx *ctx, uint16_t obj, int t)
{
    uint64_t operand[NAT_MAX_TENANTS] = { 0 };
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, obj, key);
    operand[t & (NAT_MAX_TENANTS - 1)] = 1;   /* t comes from a table value */
    (void) plane_ctx_reg_merge(ctx, obj, key, klen, operand);
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
    if (!nat_handles(sk) || tenant_of_pool(st, v4_of(sk->dst_addr)) < 0) {
        return PLANE_V_DROP;    /* neither direction of a tenant's flow */
    }
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_SESSIONS, key);
    struct nat_session s;
    if (plane_ctx_table_get(ctx, OBJ_SESSIONS, key, klen, &s) != 0) {
        return PLANE_V_MISS;
    }
    if (is_outbound(ctx)) {
        if (memcmp(s.inside_ip, pk->src_addr + PLANE_FLOW_V4_OFF, 4) != 0
            || s.inside_port != pk->src_port) {
            /* The slot belongs to another inside endpoint. */
            count_tenant(ctx, OBJ_EXHAUSTED, s.tenant);
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
    count_tenant(ctx, OBJ_PKTS, s.tenant);
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
    int t = tenant_of_pool(st, v4_of(sk->dst_addr));
    if (t < 0) {
        return PLANE_EPERM;
    }
    if (!is_outbound(ctx)) {
        count_tenant(ctx, OBJ_UNSOLICITED, t);
        return PLANE_EPERM;
    }
    struct nat_session s;
    memset(&s, 0, sizeof s);
    memcpy(s.inside_ip, pk->src_addr + PLANE_FLOW_V4_OFF, 4);
    s.inside_port = pk->src_port;
    s.tenant = (uint8_t) t;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_SESSIONS, key);
    return plane_ctx_table_insert(ctx, OBJ_SESSIONS, key, klen, &s);
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

const struct plane_app_desc *plane_app_register(void);

const struct plane_app_desc *
plane_app_register(void)
{
    return &nat_desc;
}
