/* snat: CLIP's state-heavy source NAT: a per-flow mapping allocated by a handler (new_flow()). */
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
 * CLIP's example (appendix A): the switch looks the flow's 5-tuple up in
 * nat_table; on a miss the packet goes to a server whose remote handler
 * allocates a (source address, port) pair and installs the mapping; the
 * switch then rewrites the source of every packet of the flow.  Here the
 * handler is new_flow() and the allocator is a per-device cursor over a
 * slice of the configured port range (one slice per device id modulo
 * `slices`), so devices allocate without talking to each other.
 *
 * Unlike `nat`, the public port is chosen by a stateful allocator, not
 * computed from the packet, so a reply (remote -> public) cannot find the
 * mapping from its own fields: this app translates outbound packets only,
 * like CLIP's.
 */
enum {
    OBJ_MAPPING,      /* table: 5-tuple -> (address, port) */
    OBJ_EXHAUSTED,    /* register (ADD): flows refused, no port left */
    N_OBJ
};

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_MAPPING] = { .name = "mapping", .kind = PLANE_OBJ_TABLE,
                      .key_fields = PLANE_FLOW_ALL, .value_len = 8,
                      .size = 65536, .merge = PLANE_MERGE_NONE },
    /* key_fields 0: one entry shared by every flow. */
    [OBJ_EXHAUSTED] = { .name = "exhausted", .kind = PLANE_OBJ_REGISTER,
                        .key_fields = 0, .value_len = 8,
                        .size = 1, .merge = PLANE_MERGE_ADD },
};

/* A mapping table value. */
struct snat_map {
    uint8_t addr[4];          /* network order */
    uint16_t port;            /* host order */
    uint8_t pad[2];
};
_Static_assert(sizeof(struct snat_map) == 8, "mapping value is 8 bytes");

struct snat_state {
    uint8_t addr[4];          /* the public source address */
    bool has_addr;
    uint16_t port_lo;
    uint32_t n_ports;
    uint32_t slices;          /* the port range is cut into this many */
    struct appkit_prefix inside;  /* sources translated */
    int out_port;             /* egress; -1: the in port */
    uint32_t next;            /* ports this device has handed out */
};

/* ---- Params (init only) ---- */

/*
 * Params:
 *   address: "203.0.113.7"   the public source address (required)
 *   ports: "1024-65535"      the port range (default 1024-65535)
 *   slices: "16"             device d allocates from slice d % slices
 *                            (default 16; 1..n_ports)
 *   inside: "10.0.0.0/8"     sources that are translated (default: any);
 *                            flows from elsewhere are refused
 *   out_port: egress port (default: the port the packet came in on)
 */
static int
snat_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct snat_state *st = state;
    st->port_lo = 1024;
    st->n_ports = 65535 - 1024 + 1;
    st->slices = 16;
    st->out_port = -1;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        uint32_t n;
        if (!strcmp(k, "address")) {
            st->has_addr = appkit_parse_addr(v, strlen(v), st->addr);
            if (!st->has_addr) {
                return appkit_param_fail("snat", k, v, "not an IPv4 address");
            }
        } else if (!strcmp(k, "ports")) {
            uint16_t lo, hi;
            if (!strchr(v, '-') || !appkit_parse_range(v, strlen(v), &lo, &hi)
                || lo == 0) {
                return appkit_param_fail("snat", k, v, "want LO-HI within 1-65535");
            }
            st->port_lo = lo;
            st->n_ports = (uint32_t) hi - lo + 1;
        } else if (!strcmp(k, "slices")) {
            if (!appkit_parse_u32_str(v, 65535, &n) || n == 0) {
                return appkit_param_fail("snat", k, v, "want 1..65535");
            }
            st->slices = n;
        } else if (!strcmp(k, "inside")) {
            struct appkit_prefix in = { 0, 0 };
            if (!appkit_parse_prefix(v, strlen(v), false, &in)) {
                return appkit_param_fail("snat", k, v, (in.base & ~in.mask)
                                         ? "host bits set" : "want A.B.C.D/LEN");
            }
            st->inside = in;
        } else if (!strcmp(k, "out_port")) {
            if (!appkit_parse_u32_str(v, 65535, &n)) {
                return appkit_param_fail("snat", k, v, "not a port number");
            }
            st->out_port = (int) n;
        } else {
            return appkit_param_fail("snat", k, v, "unknown param");
        }
    }
    if (!st->has_addr) {
        return appkit_param_fail("snat", "address", "", "the public address is required");
    }
    if (st->slices > st->n_ports) {
        return appkit_param_fail("snat", "slices", "", "more slices than ports");
    }
    return 0;
}

/* ---- The handler ---- */

/*
 * Allocates the next port of this device's slice for the flow.  A bump
 * allocator: mappings are never released (the app API has no expiry), so a
 * slice serves n_ports / slices flows, after which new flows are refused
 * and counted in `exhausted`.
 */
static int
snat_new_flow(struct plane_ctx *ctx, void *state)
{
    struct snat_state *st = state;
    const struct plane_flow_key *k = plane_ctx_flow_key(ctx);
    uint32_t per_slice = st->n_ports / st->slices;
    if (k->ip_version != 4 || (k->proto != 6 && k->proto != 17)) {
        return PLANE_EPERM;   /* only IPv4 TCP/UDP sources are rewritten */
    }
    if (!appkit_prefix_has(&st->inside, appkit_v4_of(k->src_addr))) {
        return PLANE_EPERM;   /* not internal traffic (e.g. a reply) */
    }
    if (st->next >= per_slice) {
        appkit_reg_inc(ctx, OBJ_EXHAUSTED);
        return PLANE_EPERM;
    }
    uint32_t slice = plane_ctx_device(ctx) % st->slices;
    struct snat_map m;
    memset(&m, 0, sizeof m);
    memcpy(m.addr, st->addr, 4);
    m.port = (uint16_t) (st->port_lo + slice * per_slice + st->next);
    int rc = appkit_table_insert(ctx, OBJ_MAPPING, &m);
    if (rc == 0) {
        st->next++;
    }
    return rc;
}

/* ---- Data plane ---- */

static enum plane_verdict
snat_process(struct plane_ctx *ctx, void *state)
{
    const struct snat_state *st = state;
    struct snat_map m;
    if (appkit_table_get(ctx, OBJ_MAPPING, &m) != 0) {
        return PLANE_V_MISS;
    }
    if (plane_ctx_set_ipv4_src(ctx, m.addr) != 0
        || plane_ctx_set_sport(ctx, m.port) != 0) {
        return PLANE_V_DROP;
    }
    if (st->out_port >= 0) {
        plane_ctx_forward(ctx, (uint16_t) st->out_port);
    }
    return PLANE_V_FORWARD;
}

static const struct plane_app_desc snat_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "snat",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = 0,
    .state_size = sizeof(struct snat_state),
    .init = snat_init,
    .process = snat_process,
    .new_flow = snat_new_flow,
};

APPKIT_APP_REGISTER(snat_desc)
