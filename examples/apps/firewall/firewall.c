/* firewall: stateful firewall (connections opened from inside) with a per-source packet counter. */
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
 * ExoPlane's running example (Fig. 1): a connection table that control
 * logic fills when an inside host opens a connection (a TCP SYN; the first
 * packet of any other protocol), through which the replies pass, while
 * inbound packets of unknown connections are dropped.  state_key() maps an
 * inbound packet to its outbound key (plane_flow_key_reverse()), so a
 * connection has one union key, one shard and one table entry for both
 * directions.  The per-source counter is keyed by the state key's source
 * address, which is the inside host for both directions: it counts every
 * packet of every connection of that host, a register entry shared by many
 * flows (merged by ADD across devices).
 */
enum {
    OBJ_CONNS,        /* table: outbound 5-tuple -> established */
    OBJ_PER_SRC,      /* register (ADD): inside host -> packets passed */
    OBJ_BLOCKED,      /* register (ADD): inside host -> packets dropped */
    N_OBJ
};

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_CONNS] = { .name = "conns", .kind = PLANE_OBJ_TABLE,
                    .key_fields = PLANE_FLOW_ALL, .value_len = 8,
                    .size = 65536, .merge = PLANE_MERGE_NONE },
    [OBJ_PER_SRC] = { .name = "per_src", .kind = PLANE_OBJ_REGISTER,
                      .key_fields = PLANE_FLOW_SRC_IP, .value_len = 8,
                      .size = 16384, .merge = PLANE_MERGE_ADD },
    [OBJ_BLOCKED] = { .name = "blocked", .kind = PLANE_OBJ_REGISTER,
                      .key_fields = PLANE_FLOW_SRC_IP, .value_len = 8,
                      .size = 16384, .merge = PLANE_MERGE_ADD },
};

#define FW_MAX_PREFIXES 16
#define FW_CONN_TCP 1u        /* conns value: opened by a TCP SYN */
#define FW_CONN_OTHER 2u      /* conns value: opened by another protocol */

struct fw_state {
    struct appkit_prefix inside[FW_MAX_PREFIXES];
    unsigned n_inside;
    int inside_port;          /* egress of inbound packets; -1: in port */
    int outside_port;         /* egress of outbound packets; -1: in port */
};

/* ---- Params (init only) ---- */

/*
 * Params:
 *   inside: "10.0.0.0/8,192.168.0.0/16"   the protected network (required,
 *            up to 16 IPv4 prefixes)
 *   inside_port, outside_port: egress ports of inbound and outbound packets
 *            (default: the port the packet came in on)
 */
static int
fw_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct fw_state *st = state;
    st->inside_port = -1;
    st->outside_port = -1;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        uint32_t n;
        if (!strcmp(k, "inside")) {
            const char *cur = v, *item;
            size_t len;
            while ((item = appkit_next_item(&cur, &len))) {
                if (st->n_inside == FW_MAX_PREFIXES
                    || !appkit_parse_prefix(item, len, false,
                                            &st->inside[st->n_inside])) {
                    return appkit_param_fail("firewall", k, v, "want up to 16 "
                                             "comma-separated A.B.C.D/LEN prefixes");
                }
                st->n_inside++;
            }
        } else if (!strcmp(k, "inside_port") || !strcmp(k, "outside_port")) {
            if (!appkit_parse_u32_str(v, 65535, &n)) {
                return appkit_param_fail("firewall", k, v, "not a port number");
            }
            *(k[0] == 'i' ? &st->inside_port : &st->outside_port) = (int) n;
        } else {
            return appkit_param_fail("firewall", k, v, "unknown param");
        }
    }
    if (st->n_inside == 0) {
        return appkit_param_fail("firewall", "inside", "",
                                 "the inside network is required");
    }
    return 0;
}

/* ---- Per packet ---- */

static bool
is_inside(const struct fw_state *st, const uint8_t addr[16], uint8_t ip_version)
{
    return ip_version == 4
           && appkit_prefix_find(st->inside, NULL, st->n_inside, appkit_v4_of(addr)) >= 0;
}

/*
 * A packet from inside keeps its key (so does one between two inside
 * hosts); a packet from outside to inside is keyed by its reverse, the
 * outbound direction.  Idempotent: a reversed key has an inside source.
 */
static void
fw_state_key(const struct plane_flow_key *pkt, struct plane_flow_key *out,
             const void *state)
{
    const struct fw_state *st = state;
    if (!is_inside(st, pkt->src_addr, pkt->ip_version)
        && is_inside(st, pkt->dst_addr, pkt->ip_version)) {
        plane_flow_key_reverse(pkt, out);
    } else {
        *out = *pkt;
    }
}

static enum plane_verdict
fw_process(struct plane_ctx *ctx, void *state)
{
    const struct fw_state *st = state;
    const struct plane_flow_key *sk = plane_ctx_flow_key(ctx);
    if (!is_inside(st, sk->src_addr, sk->ip_version)) {
        return PLANE_V_DROP;    /* transit traffic: neither end is inside */
    }
    bool outbound = is_inside(st, plane_ctx_packet_key(ctx)->src_addr,
                              sk->ip_version);
    uint64_t conn;
    if (appkit_table_get(ctx, OBJ_CONNS, &conn) != 0) {
        return PLANE_V_MISS;
    }
    appkit_reg_inc(ctx, OBJ_PER_SRC);     /* the inside host's entry */
    int port = outbound ? st->outside_port : st->inside_port;
    if (port >= 0) {
        plane_ctx_forward(ctx, (uint16_t) port);
    }
    return PLANE_V_FORWARD;
}

/*
 * Control logic: an inside host opening a connection (a TCP SYN without
 * ACK; the first outbound packet of another protocol) gets a conns entry;
 * anything else without one is dropped and counted against the inside host
 * it concerns.
 */
static int
fw_new_flow(struct plane_ctx *ctx, void *state)
{
    const struct fw_state *st = state;
    const struct plane_flow_key *pk = plane_ctx_packet_key(ctx);
    bool outbound = is_inside(st, pk->src_addr, pk->ip_version);
    uint64_t conn = 0;
    if (outbound && pk->proto == 6) {
        size_t len;
        const uint8_t *f = plane_ctx_frame(ctx, &len);
        uint8_t fl = appkit_tcp_flags(f, len);
        if ((fl & (APPKIT_TCP_SYN | APPKIT_TCP_ACK)) == APPKIT_TCP_SYN) {
            conn = FW_CONN_TCP;
        }
    } else if (outbound) {
        conn = FW_CONN_OTHER;
    }
    if (conn == 0) {
        appkit_reg_inc(ctx, OBJ_BLOCKED);
        return PLANE_EPERM;
    }
    return appkit_table_insert(ctx, OBJ_CONNS, &conn);
}

static const struct plane_app_desc firewall_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "firewall",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = 0,
    .state_size = sizeof(struct fw_state),
    .init = fw_init,
    .process = fw_process,
    .new_flow = fw_new_flow,
    .state_key = fw_state_key,
};

APPKIT_APP_REGISTER(firewall_desc)
