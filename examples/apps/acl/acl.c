/* acl: per-tenant access control list decided per flow by control logic, with dropped-packet counters. */
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

struct acl_range {
    uint16_t lo, hi;
};

struct acl_rule {
    bool used;
    bool allow;
    int proto;                /* -1: any */
    bool has_src, has_dst, has_sport, has_dport;
    struct appkit_prefix src, dst;
    struct acl_range sport, dport;
    int tenant;               /* -1: any */
};

struct acl_state {
    struct appkit_prefix tenants[ACL_MAX_TENANTS];
    bool has_tenant[ACL_MAX_TENANTS];
    struct acl_rule rules[ACL_MAX_RULES];
    bool default_allow;
    int out_port;             /* egress of allowed packets; -1: in port */
};

/* ---- Params (init only) ---- */

/*
 * Parses "allow|deny [proto=tcp|udp|icmp|N] [src=P] [dst=P] [sport=R]
 * [dport=R] [tenant=T]" into r.
 */
static bool
parse_rule(const char *cur, struct acl_rule *r)
{
    memset(r, 0, sizeof *r);
    r->proto = -1;
    r->tenant = -1;
    bool first = true;
    const char *v;
    size_t len;
    while ((v = appkit_next_token(&cur, &len))) {
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
        } else if (appkit_token_is(v, len, "proto", &val, &vlen)) {
            if (vlen == 3 && !strncmp(val, "tcp", 3)) {
                r->proto = 6;
            } else if (vlen == 3 && !strncmp(val, "udp", 3)) {
                r->proto = 17;
            } else if (vlen == 4 && !strncmp(val, "icmp", 4)) {
                r->proto = 1;
            } else if (appkit_parse_u32(val, vlen, 255, &n)) {
                r->proto = (int) n;
            } else {
                return false;
            }
        } else if (appkit_token_is(v, len, "src", &val, &vlen)) {
            r->has_src = appkit_parse_prefix(val, vlen, true, &r->src);
            if (!r->has_src) {
                return false;
            }
        } else if (appkit_token_is(v, len, "dst", &val, &vlen)) {
            r->has_dst = appkit_parse_prefix(val, vlen, true, &r->dst);
            if (!r->has_dst) {
                return false;
            }
        } else if (appkit_token_is(v, len, "sport", &val, &vlen)) {
            r->has_sport = appkit_parse_range(val, vlen, &r->sport.lo, &r->sport.hi);
            if (!r->has_sport) {
                return false;
            }
        } else if (appkit_token_is(v, len, "dport", &val, &vlen)) {
            r->has_dport = appkit_parse_range(val, vlen, &r->dport.lo, &r->dport.hi);
            if (!r->has_dport) {
                return false;
            }
        } else if (appkit_token_is(v, len, "tenant", &val, &vlen)
                   && appkit_parse_u32(val, vlen, ACL_MAX_TENANTS - 1, &n)) {
            r->tenant = (int) n;
        } else {
            return false;
        }
    }
    r->used = !first;
    return r->used;
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
        if (appkit_key_index(k, "tenant", ACL_MAX_TENANTS - 1, &n)) {
            if (!appkit_parse_prefix(v, strlen(v), true, &st->tenants[n])) {
                return appkit_param_fail("acl", k, v, "want an A.B.C.D/LEN prefix");
            }
            st->has_tenant[n] = true;
        } else if (appkit_key_index(k, "rule", ACL_MAX_RULES - 1, &n)) {
            if (!parse_rule(v, &st->rules[n])) {
                return appkit_param_fail("acl", k, v, "want \"allow|deny [proto=P] "
                                         "[src=PFX] [dst=PFX] [sport=LO-HI] "
                                         "[dport=LO-HI] [tenant=0..7]\"");
            }
        } else if (!strcmp(k, "default")) {
            if (strcmp(v, "allow") && strcmp(v, "deny")) {
                return appkit_param_fail("acl", k, v, "want allow or deny");
            }
            st->default_allow = !strcmp(v, "allow");
        } else if (!strcmp(k, "out_port")) {
            if (!appkit_parse_u32_str(v, 65535, &n)) {
                return appkit_param_fail("acl", k, v, "not a port number");
            }
            st->out_port = (int) n;
        } else {
            return appkit_param_fail("acl", k, v, "unknown param");
        }
    }
    return 0;
}

/* ---- Control logic: matching the rules ---- */

/* The tenant owning the flow: its destination's, else its source's. */
static int
tenant_of(const struct acl_state *st, const struct plane_flow_key *k)
{
    if (k->ip_version != 4) {
        return -1;
    }
    int t = appkit_prefix_find(st->tenants, st->has_tenant, ACL_MAX_TENANTS,
                               appkit_v4_of(k->dst_addr));
    return t >= 0 ? t : appkit_prefix_find(st->tenants, st->has_tenant, ACL_MAX_TENANTS,
                                           appkit_v4_of(k->src_addr));
}

static bool
rule_matches(const struct acl_rule *r, const struct plane_flow_key *k, int tenant)
{
    bool v4 = k->ip_version == 4;
    uint32_t src = appkit_v4_of(k->src_addr), dst = appkit_v4_of(k->dst_addr);
    bool ports = k->proto == 6 || k->proto == 17;
    return r->used
           && (r->tenant < 0 || r->tenant == tenant)
           && (r->proto < 0 || r->proto == k->proto)
           && (!r->has_src || (v4 && appkit_prefix_has(&r->src, src)))
           && (!r->has_dst || (v4 && appkit_prefix_has(&r->dst, dst)))
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
    return appkit_table_insert(ctx, OBJ_VERDICTS, &d);
}

/* ---- Data plane ---- */

/* Adds 1 to word t of a per-tenant register (nothing for ACL_NO_TENANT). */
static void
count_tenant(struct plane_ctx *ctx, uint16_t obj, uint8_t t)
{
    if (t < ACL_MAX_TENANTS) {
        appkit_reg_bump(ctx, obj, t);
    }
}

static enum plane_verdict
acl_process(struct plane_ctx *ctx, void *state)
{
    const struct acl_state *st = state;
    struct acl_decision d;
    if (appkit_table_get(ctx, OBJ_VERDICTS, &d) != 0) {
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

APPKIT_APP_REGISTER(acl_desc)
