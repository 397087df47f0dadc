/* acl: per-tenant access control list decided per flow by control logic, with dropped-packet counters. */
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
 * The rule list lives in control logic (new_flow(), from the params), as a
 * switch would keep it in its control plane or a TCAM: the first packet of
 * a flow is matched against the rules in order, first match wins, and the
 * decision (allow or deny) is stored in a per-flow exact-match table.  Every
 * later packet of the flow, on whichever device holds it, is decided by one
 * table lookup; denied packets are counted per tenant.  Denied flows get an
 * entry too, so their packets are dropped at the switch once the flow is
 * popular instead of going to an external device each time.
 */
enum {
    OBJ_VERDICTS,     /* table: 5-tuple -> decision */
    OBJ_DROPPED,      /* register (ADD): one entry, a word per tenant */
    OBJ_PASSED,       /* register (ADD): one entry, a word per tenant */
    N_OBJ
};

#define ACL_MAX_TENANTS 8     /* words of a 64-byte per-tenant register */
#define ACL_MAX_RULES 64
#define ACL_NO_TENANT 0xff
#define ACL_DEFAULT_RULE 0xff

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_VERDICTS] = { .name = "verdicts", .kind = PLANE_OBJ_TABLE,
                       .key_fields = PLANE_FLOW_ALL, .value_len = 8,
                       .size = 65536, .merge = PLANE_MERGE_NONE },
    /* key_fields 0: every flow shares the one entry; word t is tenant t's. */
    [OBJ_DROPPED] = { .name = "dropped", .kind = PLANE_OBJ_REGISTER,
                      .key_fields = 0, .value_len = 8 * ACL_MAX_TENANTS,
                      .size = 1, .merge = PLANE_MERGE_ADD },
    [OBJ_PASSED] = { .name = "passed", .kind = PLANE_OBJ_REGISTER,
                     .key_fields = 0, .value_len = 8 * ACL_MAX_TENANTS,
                     .size = 1, .merge = PLANE_MERGE_ADD },
};

/* A verdicts table value. */
struct acl_decision {
    uint8_t allow;            /* 1 allow, 0 deny */
    uint8_t tenant;           /* 0..7, or ACL_NO_TENANT */
    uint8_t rule;             /* matching rule index, or ACL_DEFAULT_RULE */
    uint8_t pad[5];
};
_Static_assert(sizeof(struct acl_decision) == 8, "decision value is 8 bytes");

struct acl_prefix {
    uint32_t base;            /* host order, host bits zero */
    uint32_t mask;
};

struct acl_range {
    uint16_t lo, hi;
};

struct acl_rule {
    bool used;
    bool allow;
    int proto;                /* -1: any */
    bool has_src, has_dst, has_sport, has_dport;
    struct acl_prefix src, dst;
    struct acl_range sport, dport;
    int tenant;               /* -1: any */
};

struct acl_state {
    struct acl_prefix tenants[ACL_MAX_TENANTS];
    bool has_tenant[ACL_MAX_TENANTS];
    struct acl_rule rules[ACL_MAX_RULES];
    bool default_allow;
    int out_port;             /* egress of allowed packets; -1: in port */
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

/* Parses "a.b.c.d/len" (host bits zero) or a bare address (/32). */
static bool
parse_prefix(const char *s, size_t len, struct acl_prefix *p)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t) (slash - s) : len;
    char addr[16];
    uint32_t plen = 32;
    if (alen >= sizeof addr
        || (slash && !parse_u32(slash + 1, len - alen - 1, 32, &plen))) {
        return false;
    }
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, addr, &a) != 1) {
        return false;
    }
    p->mask = plen ? ~0u << (32 - plen) : 0;
    p->base = ntohl(a.s_addr);
    return (p->base & ~p->mask) == 0;
}

/* Parses "lo-hi" or "port". */
static bool
parse_range(const char *s, size_t len, struct acl_range *r)
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
    r->lo = (uint16_t) a;
    r->hi = (uint16_t) b;
    return a <= b;
}

/* True when token tok (len bytes) is "name=..."; *val gets the rest. */
static bool
token_is(const char *tok, size_t len, const char *name, const char **val,
         size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n + 1 || strncmp(tok, name, n) != 0 || tok[n] != '=') {
        return false;
    }
    *val = tok + n + 1;
    *vlen = len - n - 1;
    return true;
}

/*
 * Parses "allow|deny [proto=tcp|udp|icmp|N] [src=P] [dst=P] [sport=R]
 * [dport=R] [tenant=T]" into r.
 */
static bool
parse_rule(const char *v, struct acl_rule *r)
{
    memset(r, 0, sizeof *r);
    r->proto = -1;
    r->tenant = -1;
    bool first = true;
    while (*v) {
        while (*v == ' ') {
            v++;
        }
        size_t len = strcspn(v, " ");
        if (len == 0) {
            break;
        }
        const char *val;
        size_t vlen;
        uint32_t n;
        if (first) {
            if (len == 5 && !strncmp(v, "allow", 5)) {
                r->allow = true;
            } else if (!(len == 4 && !strncmp(v, "deny", 4))) {
                return false;
            }
            first = false;
        } else if (token_is(v, len, "proto", &val, &vlen)) {
            if (vlen == 3 && !strncmp(val, "tcp", 3)) {
                r->proto = 6;
            } else if (vlen == 3 && !strncmp(val, "udp", 3)) {
                r->proto = 17;
            } else if (vlen == 4 && !strncmp(val, "icmp", 4)) {
                r->proto = 1;
            } else if (parse_u32(val, vlen, 255, &n)) {
                r->proto = (int) n;
            } else {
                return false;
            }
        } else if (token_is(v, len, "src", &val, &vlen)) {
            r->has_src = parse_prefix(val, vlen, &r->src);
            if (!r->has_src) {
                return false;
            }
        } else if (token_is(v, len, "dst", &val, &vlen)) {
            r->has_dst = parse_prefix(val, vlen, &r->dst);
            if (!r->has_dst) {
                return false;
            }
        } else if (token_is(v, len, "sport", &val, &vlen)) {
            r->has_sport = parse_range(val, vlen, &r->sport);
            if (!r->has_sport) {
                return false;
            }
        } else if (token_is(v, len, "dport", &val, &vlen)) {
            r->has_dport = parse_range(val, vlen, &r->dport);
            if (!r->has_dport) {
                return false;
            }
        } else if (token_is(v, len, "tenant", &val, &vlen)
                   && parse_u32(val, vlen, ACL_MAX_TENANTS - 1, &n)) {
            r->tenant = (int) n;
        } else {
            return false;
        }
        v += len;
    }
    r->used = !first;
    return r->used;
}

static int
acl_fail(const char *key, const char *value, const char *why)
{
    fprintf(stderr, "acl: param %s=\"%s\": %s\n", key, value, why);
    return PLANE_EINVAL;
}

/*
 * Params:
 *   tenantN: "10.1.0.0/16"   N in 0..7: tenant N's addresses
 *   ruleN: "deny proto=tcp dst=10.1.0.0/24 dport=22 tenant=0"
 *            N in 0..63, matched in increasing N, first match wins
 *   default: allow | deny    when no rule matches (default deny)
 *   out_port: egress of allowed packets (default: the in port)
 */
static int
acl_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct acl_state *st = state;
    st->out_port = -1;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        uint32_t n;
        if (!strncmp(k, "tenant", 6)
            && parse_u32(k + 6, strlen(k + 6), ACL_MAX_TENANTS - 1, &n)) {
            if (!parse_prefix(v, strlen(v), &st->tenants[n])) {
                return acl_fail(k, v, "want an A.B.C.D/LEN prefix");
            }
            st->has_tenant[n] = true;
        } else if (!strncmp(k, "rule", 4)
                   && parse_u32(k + 4, strlen(k + 4), ACL_MAX_RULES - 1, &n)) {
            if (!parse_rule(v, &st->rules[n])) {
                return acl_fail(k, v, "want \"allow|deny [proto=P] [src=PFX] "
                                "[dst=PFX] [sport=LO-HI] [dport=LO-HI] "
                                "[tenant=0..7]\"");
            }
        } else if (!strcmp(k, "default")) {
            if (strcmp(v, "allow") && strcmp(v, "deny")) {
                return acl_fail(k, v, "want allow or deny");
            }
            st->default_allow = !strcmp(v, "allow");
        } else if (!strcmp(k, "out_port")) {
            if (!parse_u32(v, strlen(v), 65535, &n)) {
                return acl_fail(k, v, "not a port number");
            }
            st->out_port = (int) n;
        } else {
            return acl_fail(k, v, "unknown param");
        }
    }
    return 0;
}

/* ---- Control logic: matching the rules ---- */

static uint32_t
v4_of(const uint8_t addr[16])
{
    const uint8_t *p = addr + PLANE_FLOW_V4_OFF;
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static bool
in_prefix(const struct acl_prefix *p, uint32_t a)
{
    return (a & p->mask) == p->base;
}

/* The tenant owning the flow: its destination's, else its source's. */
static int
tenant_of(const struct acl_state *st, const struct plane_flow_key *k)
{
    if (k->ip_version != 4) {
        return -1;
    }
    uint32_t addrs[2] = { v4_of(k->dst_addr), v4_of(k->src_addr) };
    for (int a = 0; a < 2; a++) {
        for (int t = 0; t < ACL_MAX_TENANTS; t++) {
            if (st->has_tenant[t] && in_prefix(&st->tenants[t], addrs[a])) {
                return t;
            }
        }
    }
    return -1;
}

static bool
rule_matches(const struct acl_rule *r, const struct plane_flow_key *k, int tenant)
{
    bool v4 = k->ip_version == 4;
    bool ports = k->proto == 6 || k->proto == 17;
    return r->used
           && (r->tenant < 0 || r->tenant == tenant)
           && (r->proto < 0 || r->proto == k->proto)
           && (!r->has_src || (v4 && in_prefix(&r->src, v4_of(k->src_addr))))
           && (!r->has_dst || (v4 && in_prefix(&r->dst, v4_of(k->dst_addr))))
           && (!r->has_sport || (ports && k->src_port >= r->sport.lo
                                 && k->src_port <= r->sport.hi))
           && (!r->has_dport || (ports && k->dst_port >= r->dport.lo
                                 && k->dst_port <= r->dport.hi));
}

static int
acl_new_flow(struct plane_ctx *ctx, void *state)
{
    const struct acl_state *st = state;
    const struct plane_flow_key *k = plane_ctx_flow_key(ctx);
    struct acl_decision d;
    memset(&d, 0, sizeof d);
    int t = tenant_of(st, k);
    d.tenant = t < 0 ? ACL_NO_TENANT : (uint8_t) t;
    d.rule = ACL_DEFAULT_RULE;
    d.allow = st->default_allow;
    if (t < 0) {
        d.allow = 0;          /* not a tenant's traffic */
    } else {
        for (int i = 0; i < ACL_MAX_RULES; i++) {
            if (rule_matches(&st->rules[i], k, t)) {
                d.allow = st->rules[i].allow;
                d.rule = (uint8_t) i;
                break;
            }
        }
    }
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_VERDICTS, key);
    return plane_ctx_table_insert(ctx, OBJ_VERDICTS, key, klen, &d);
}

/* ---- Data plane ---- */

/* Adds 1 to word t of a per-tenant register. */
static void
count_tenant(struct plane_ctx *ctx, uint16_t obj, uint8_t t)
{
    if (t >= ACL_MAX_TENANTS) {
        return;
    }
    uint64_t operand[ACL_MAX_TENANTS] = { 0 };
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, obj, key);
    operand[t] = 1;
    (void) plane_ctx_reg_merge(ctx, obj, key, klen, operand);
}

static enum plane_verdict
acl_process(struct plane_ctx *ctx, void *state)
{
    const struct acl_state *st = state;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_VERDICTS, key);
    struct acl_decision d;
    if (plane_ctx_table_get(ctx, OBJ_VERDICTS, key, klen, &d) != 0) {
        return PLANE_V_MISS;
    }
    if (!d.allow) {
        count_tenant(ctx, OBJ_DROPPED, d.tenant);
        return PLANE_V_DROP;
    }
    count_tenant(ctx, OBJ_PASSED, d.tenant);
    if (st->out_port >= 0) {
        plane_ctx_forward(ctx, (uint16_t) st->out_port);
    }
    return PLANE_V_FORWARD;
}

static const struct plane_app_desc acl_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "acl",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = 0,
    .state_size = sizeof(struct acl_state),
    .init = acl_init,
    .process = acl_process,
    .new_flow = acl_new_flow,
};

const struct plane_app_desc *plane_app_register(void);

const struct plane_app_desc *
plane_app_register(void)
{
    return &acl_desc;
}
