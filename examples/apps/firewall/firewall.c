/* firewall: stateful firewall (connections opened from inside) with a per-source packet counter. */
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
#define FW_TCP_SYN 0x02
#define FW_TCP_ACK 0x10
#define FW_CONN_TCP 1u        /* conns value: opened by a TCP SYN */
#define FW_CONN_OTHER 2u      /* conns value: opened by another protocol */

struct fw_prefix {
    uint32_t base;            /* host order, host bits zero */
    uint32_t mask;
};

struct fw_state {
    struct fw_prefix inside[FW_MAX_PREFIXES];
    unsigned n_inside;
    int inside_port;          /* egress of inbound packets; -1: in port */
    int outside_port;         /* egress of outbound packets; -1: in port */
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

/* Parses "a.b.c.d/len" (host bits zero). */
static bool
parse_prefix(const char *s, size_t len, struct fw_prefix *p)
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
    return (p->base & ~p->mask) == 0;
}

static int
fw_fail(const char *key, const char *value, const char *why)
{
    fprintf(stderr, "firewall: param %s=\"%s\": %s\n", key, value, why);
    return PLANE_EINVAL;
}

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
            for (const char *p = v; *p;) {
                size_t len = strcspn(p, ",");
                while (len && *p == ' ') {
                    p++;
                    len--;
                }
                while (len && p[len - 1] == ' ') {
                    len--;
                }
                if (st->n_inside == FW_MAX_PREFIXES
                    || !parse_prefix(p, len, &st->inside[st->n_inside])) {
                    return fw_fail(k, v, "want up to 16 comma-separated "
                                   "A.B.C.D/LEN prefixes");
                }
                st->n_inside++;
                p += strcspn(p, ",");
                if (*p == ',') {
                    p++;
                }
            }
        } else if (!strcmp(k, "inside_port") || !strcmp(k, "outside_port")) {
            if (!parse_u32(v, strlen(v), 65535, &n)) {
                return fw_fail(k, v, "not a port number");
            }
            *(k[0] == 'i' ? &st->inside_port : &st->outside_port) = (int) n;
        } else {
            return fw_fail(k, v, "unknown param");
        }
    }
    if (st->n_inside == 0) {
        return fw_fail("inside", "", "the inside network is required");
    }
    return 0;
}

/* ---- Per packet ---- */

static bool
is_inside(const struct fw_state *st, const uint8_t addr[16], uint8_t ip_version)
{
    if (ip_version != 4) {
        return false;
    }
    const uint8_t *p = addr + PLANE_FLOW_V4_OFF;
    uint32_t a = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
    for (unsigned i = 0; i < st->n_inside; i++) {
        if ((a & st->inside[i].mask) == st->inside[i].base) {
            return true;
        }
    }
    return false;
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

/* Adds 1 to the inside host's entry of a per-source register. */
static void
count_host(struct plane_ctx *ctx, uint16_t obj)
{
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, obj, key);
    (void) plane_ctx_reg_add(ctx, obj, key, klen, 1);
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
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_CONNS, key);
    uint64_t conn;
    if (plane_ctx_table_get(ctx, OBJ_CONNS, key, klen, &conn) != 0) {
        return PLANE_V_MISS;
    }
    count_host(ctx, OBJ_PER_SRC);
    int port = outbound ? st->outside_port : st->inside_port;
    if (port >= 0) {
        plane_ctx_forward(ctx, (uint16_t) port);
    }
    return PLANE_V_FORWARD;
}

/* TCP flags of the packet (0 when it is not TCP or too short). */
static uint8_t
tcp_flags(struct plane_ctx *ctx)
{
    size_t len;
    const uint8_t *f = plane_ctx_frame(ctx, &len);
    size_t off = 12;
    uint16_t et;
    for (int tags = 0;; tags++) {
        if (off + 2 > len) {
            return 0;
        }
        et = (uint16_t) (f[off] << 8 | f[off + 1]);
        off += 2;
        if ((et != 0x8100 && et != 0x88a8) || tags == 2) {
            break;
        }
        off += 2;
    }
    if (et != 0x0800 || off + 20 > len || f[off + 9] != 6) {
        return 0;
    }
    off += (size_t) (f[off] & 0x0f) * 4;
    return off + 14 <= len ? f[off + 13] : 0;
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
        uint8_t fl = tcp_flags(ctx);
        if ((fl & (FW_TCP_SYN | FW_TCP_ACK)) == FW_TCP_SYN) {
            conn = FW_CONN_TCP;
        }
    } else if (outbound) {
        conn = FW_CONN_OTHER;
    }
    if (conn == 0) {
        count_host(ctx, OBJ_BLOCKED);
        return PLANE_EPERM;
    }
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_CONNS, key);
    return plane_ctx_table_insert(ctx, OBJ_CONNS, key, klen, &conn);
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

const struct plane_app_desc *plane_app_register(void);

const struct plane_app_desc *
plane_app_register(void)
{
    return &firewall_desc;
}
