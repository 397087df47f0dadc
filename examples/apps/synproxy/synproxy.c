/* synproxy: SYN proxy answering SYNs with cookies and translating sequence numbers per flow. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

#include "../common/appkit.h"
#include "synproxy_cookie.h"

/*
 * A SYN proxy in front of a TCP service (IPv4 only), in the model of the
 * README ("Model"):
 *
 *   client SYN            -> answered in place: SYN-ACK, ISN = cookie,
 *                            back out the in port; no state anywhere.
 *   client ACK, no entry  -> cookie checked: bad = counted drop; good =
 *                            MISS, control logic inserts the connection
 *                            (SYN_SENT), and the ACK becomes the SYN to the
 *                            server (seq = client ISN), out the server port.
 *   server SYN-ACK        -> MISS, control logic learns the server's ISN
 *                            (delta = server ISN - cookie, ESTABLISHED), and
 *                            the SYN-ACK becomes the ACK that completes the
 *                            server's handshake, back out the in port.
 *   established           -> client->server: ack += delta; server->client:
 *                            seq -= delta; forwarded across.
 *
 * Both directions live under the client->server key (state_key()).  The
 * only per-flow state is the conn table, written by control logic and so
 * strongly consistent across the rack; cookies need only the secret, which
 * every device gets from the same params.
 */
enum {
    OBJ_CONN,
    OBJ_STATS,
    N_OBJ
};

enum sp_conn_state {
    SP_SYN_SENT = 1,          /* cookie valid, SYN sent to the server */
    SP_ESTABLISHED = 2,       /* server ISN known: translating */
};

/* The conn table's value (native words; all copies run the same build). */
struct sp_conn {
    uint64_t state;           /* enum sp_conn_state */
    uint64_t cookie;          /* our ISN toward the client */
    uint64_t client_isn;
    uint64_t delta;           /* server ISN - cookie (mod 2^32) */
};

/* Words of the per-service stats register. */
enum {
    SP_SYNS,                  /* SYNs answered with a cookie */
    SP_COOKIES_OK,            /* ACKs with a valid cookie (connections) */
    SP_COOKIES_BAD,           /* forged or stale ACKs dropped */
    SP_EARLY,                 /* client data before the server answered */
    SP_N_STATS
};

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_CONN] = { .name = "conn", .kind = PLANE_OBJ_TABLE,
                   .key_fields = PLANE_FLOW_ALL, .value_len = sizeof(struct sp_conn),
                   .size = 65536, .merge = PLANE_MERGE_NONE },
    [OBJ_STATS] = { .name = "stats", .kind = PLANE_OBJ_REGISTER,
                    .key_fields = PLANE_FLOW_DST_IP | PLANE_FLOW_DST_PORT,
                    .value_len = 8 * SP_N_STATS, .size = 1024,
                    .merge = PLANE_MERGE_ADD },
};

/* The flags that tell the handshake's segments apart. */
#define SP_HS_FLAGS (APPKIT_TCP_SYN | APPKIT_TCP_ACK | APPKIT_TCP_RST)
#define SP_SYNACK (APPKIT_TCP_SYN | APPKIT_TCP_ACK)

struct sp_state {
    uint64_t k0, k1;          /* the cookie secret */
    uint16_t port;            /* the protected service's TCP port */
    uint16_t client_port;     /* rack port toward clients */
    uint16_t server_port;     /* rack port toward servers */
    uint16_t mss;             /* MSS announced in our SYN-ACK */
    uint64_t slot_ns;         /* cookie time slot */
};

/* Where a parsed IPv4/TCP packet's parts are. */
struct sp_pkt {
    size_t l3, ihl, tot;      /* IPv4 header offset, its length, total length */
    size_t l4, doff;          /* TCP header offset and length */
    uint8_t flags;
    uint32_t seq, ack;
    size_t plen;              /* payload bytes */
};

/* Parses an untagged or VLAN-tagged IPv4/TCP frame (no fragments). */
static bool
sp_parse(const uint8_t *f, size_t len, struct sp_pkt *p)
{
    uint16_t et;
    if (!appkit_eth_l3(f, len, &p->l3, &et) || et != APPKIT_ETH_IPV4
        || !appkit_ipv4_check(f, len, p->l3, 6, 20, &p->ihl, &p->tot)) {
        return false;
    }
    p->l4 = p->l3 + p->ihl;
    const uint8_t *t = f + p->l4;
    p->doff = (size_t) (t[12] >> 4) * 4;
    if (p->doff < 20 || p->doff > p->tot - p->ihl) {
        return false;
    }
    p->flags = t[13];
    p->seq = appkit_rd32(t + 4);
    p->ack = appkit_rd32(t + 8);
    p->plen = p->tot - p->ihl - p->doff;
    return true;
}

/* Recomputes the IPv4 header and TCP checksums from scratch. */
static void
sp_fix_csums(uint8_t *f, const struct sp_pkt *p)
{
    uint8_t *ip = f + p->l3;
    appkit_ipv4_fix_csum(ip, p->ihl);
    size_t tcp_len = p->tot - p->ihl;
    appkit_wr16(f + p->l4 + 16, 0);
    appkit_wr16(f + p->l4 + 16, appkit_csum_fold(appkit_csum_add(
        appkit_pseudo_sum_v4(ip, 6, tcp_len), f + p->l4, tcp_len)));
}

/*
 * Makes the packet a bare control segment (no payload: the IP length is
 * cut to the headers, the bytes after it stay as link-layer padding), with
 * flags, seq and ack set and the TCP options replaced: an MSS option when
 * `mss` is non-zero and there is room, NOPs elsewhere (the client's
 * options mean nothing to the other side).  Checksums recomputed.
 */
static void
sp_make_control(uint8_t *f, struct sp_pkt *p, uint8_t flags, uint32_t seq,
                uint32_t ack, uint16_t mss)
{
    uint8_t *t = f + p->l4;
    p->tot = p->ihl + p->doff;
    p->plen = 0;
    appkit_wr16(f + p->l3 + 2, (uint16_t) p->tot);
    appkit_wr32(t + 4, seq);
    appkit_wr32(t + 8, ack);
    t[13] = flags;
    p->flags = flags;
    p->seq = seq;
    p->ack = ack;
    appkit_wr16(t + 18, 0);                  /* urgent pointer */
    size_t o = 20;
    if (mss && p->doff >= 24) {
        t[20] = 2;
        t[21] = 4;
        appkit_wr16(t + 22, mss);
        o = 24;
    }
    memset(t + o, 1, p->doff - o);
    sp_fix_csums(f, p);
}

/* The cookie check of a client ACK (state key = the packet's key). */
static bool
sp_ack_valid(struct plane_ctx *ctx, const struct sp_state *st, const struct sp_pkt *p)
{
    const struct plane_flow_key *k = plane_ctx_flow_key(ctx);
    return sp_cookie_ok(st->k0, st->k1, k->src_addr + PLANE_FLOW_V4_OFF,
                        k->dst_addr + PLANE_FLOW_V4_OFF, k->src_port, k->dst_port,
                        p->seq - 1, plane_ctx_now_ns(ctx) / st->slot_ns, p->ack - 1);
}

/* What kind of packet this is for the proxy. */
enum sp_dir { SP_OTHER, SP_C2S, SP_S2C };

static enum sp_dir
sp_classify(struct plane_ctx *ctx, const struct sp_state *st, const uint8_t *f,
            size_t len, struct sp_pkt *p)
{
    const struct plane_flow_key *k = plane_ctx_flow_key(ctx);
    if (!sp_parse(f, len, p) || k->dst_port != st->port || k->ip_version != 4) {
        return SP_OTHER;
    }
    return plane_flow_key_eq(k, plane_ctx_packet_key(ctx)) ? SP_C2S : SP_S2C;
}

static enum plane_verdict
sp_process(struct plane_ctx *ctx, void *state)
{
    const struct sp_state *st = state;
    size_t len;
    uint8_t *f = plane_ctx_frame(ctx, &len);
    struct sp_pkt p;
    enum sp_dir dir = sp_classify(ctx, st, f, len, &p);
    if (dir == SP_OTHER) {
        /* Not the service's: across, untouched. */
        plane_ctx_forward(ctx, plane_ctx_in_port(ctx) == st->server_port
                                   ? st->client_port : st->server_port);
        return PLANE_V_FORWARD;
    }
    uint8_t *t = f + p.l4;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_CONN, key);
    struct sp_conn c;
    bool have = plane_ctx_table_get(ctx, OBJ_CONN, key, klen, &c) == 0;

    if (dir == SP_C2S) {
        if ((p.flags & SP_HS_FLAGS) == APPKIT_TCP_SYN) {
            /* Any SYN gets a cookie, even for a known flow: a client whose
             * SYN-ACK was lost resends it, and we keep no record of it. */
            const struct plane_flow_key *k = plane_ctx_flow_key(ctx);
            uint32_t cookie = sp_cookie(st->k0, st->k1, k->src_addr + PLANE_FLOW_V4_OFF,
                                        k->dst_addr + PLANE_FLOW_V4_OFF, k->src_port,
                                        k->dst_port, p.seq,
                                        plane_ctx_now_ns(ctx) / st->slot_ns);
            appkit_turn_around(f, p.l3, p.l4);
            sp_make_control(f, &p, SP_SYNACK, cookie, p.seq + 1, st->mss);
            appkit_reg_bump(ctx, OBJ_STATS, SP_SYNS);
            plane_ctx_forward(ctx, plane_ctx_in_port(ctx));
            return PLANE_V_FORWARD;
        }
        if (!have) {
            if ((p.flags & SP_HS_FLAGS) == APPKIT_TCP_ACK
                && sp_ack_valid(ctx, st, &p)) {
                return PLANE_V_MISS;      /* control logic opens the flow */
            }
            appkit_reg_bump(ctx, OBJ_STATS, SP_COOKIES_BAD);
            return PLANE_V_DROP;
        }
        if (c.state == SP_SYN_SENT) {
            if ((p.flags & SP_HS_FLAGS) == APPKIT_TCP_ACK
                && p.seq == (uint32_t) (c.client_isn + 1)
                && p.ack == (uint32_t) (c.cookie + 1)) {
                /* The handshake's ACK (first or resent): SYN to the server. */
                sp_make_control(f, &p, APPKIT_TCP_SYN, (uint32_t) c.client_isn, 0, 0);
                plane_ctx_forward(ctx, st->server_port);
                return PLANE_V_FORWARD;
            }
            appkit_reg_bump(ctx, OBJ_STATS, SP_EARLY);   /* the client will retransmit */
            return PLANE_V_DROP;
        }
        if (p.flags & APPKIT_TCP_ACK) {
            appkit_wr32(t + 8, p.ack + (uint32_t) c.delta);
            sp_fix_csums(f, &p);
        }
        plane_ctx_forward(ctx, st->server_port);
        return PLANE_V_FORWARD;
    }

    /* Server -> client. */
    if (!have) {
        plane_ctx_forward(ctx, st->client_port);
        return PLANE_V_FORWARD;
    }
    bool synack = (p.flags & SP_HS_FLAGS) == SP_SYNACK
                  && p.ack == (uint32_t) (c.client_isn + 1);
    if (c.state == SP_SYN_SENT) {
        if (synack) {
            return PLANE_V_MISS;          /* control logic learns the delta */
        }
        if (p.flags & APPKIT_TCP_RST) {
            /* Refused: tell the client in its own sequence space. */
            appkit_wr32(t + 4, (uint32_t) (c.cookie + 1));
            sp_fix_csums(f, &p);
            plane_ctx_forward(ctx, st->client_port);
            return PLANE_V_FORWARD;
        }
        appkit_reg_bump(ctx, OBJ_STATS, SP_EARLY);
        return PLANE_V_DROP;
    }
    if (synack && p.seq == (uint32_t) (c.cookie + c.delta)) {
        /* The server's SYN-ACK (first or resent): complete its handshake;
         * the client got our SYN-ACK long ago. */
        uint32_t server_isn = p.seq;
        appkit_turn_around(f, p.l3, p.l4);
        sp_make_control(f, &p, APPKIT_TCP_ACK, (uint32_t) (c.client_isn + 1),
                        server_isn + 1, 0);
        plane_ctx_forward(ctx, plane_ctx_in_port(ctx));
        return PLANE_V_FORWARD;
    }
    appkit_wr32(t + 4, p.seq - (uint32_t) c.delta);
    sp_fix_csums(f, &p);
    plane_ctx_forward(ctx, st->client_port);
    return PLANE_V_FORWARD;
}

static int
sp_new_flow(struct plane_ctx *ctx, void *state)
{
    const struct sp_state *st = state;
    size_t len;
    uint8_t *f = plane_ctx_frame(ctx, &len);
    struct sp_pkt p;
    enum sp_dir dir = sp_classify(ctx, st, f, len, &p);
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_CONN, key);
    struct sp_conn c;
    bool have = plane_ctx_table_get(ctx, OBJ_CONN, key, klen, &c) == 0;
    if (dir == SP_C2S && !have && sp_ack_valid(ctx, st, &p)) {
        memset(&c, 0, sizeof c);
        c.state = SP_SYN_SENT;
        c.cookie = (uint32_t) (p.ack - 1);
        c.client_isn = (uint32_t) (p.seq - 1);
        int rc = plane_ctx_table_insert(ctx, OBJ_CONN, key, klen, &c);
        if (rc == 0) {
            appkit_reg_bump(ctx, OBJ_STATS, SP_COOKIES_OK);
        }
        return rc;
    }
    if (dir == SP_S2C && have && c.state == SP_SYN_SENT
        && (p.flags & SP_HS_FLAGS) == SP_SYNACK
        && p.ack == (uint32_t) (c.client_isn + 1)) {
        c.state = SP_ESTABLISHED;
        c.delta = (uint32_t) (p.seq - (uint32_t) c.cookie);
        return plane_ctx_table_insert(ctx, OBJ_CONN, key, klen, &c);
    }
    /* process() asks only for those two; anything else raced a change. */
    return PLANE_EPERM;
}

/* Server->client packets live under the client->server key. */
static void
sp_state_key(const struct plane_flow_key *pkt, struct plane_flow_key *out,
             const void *state)
{
    const struct sp_state *st = state;
    appkit_key_toward_port(pkt, out, st->port);
}

static int
sp_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* The secret: 32 hex digits, the SipHash key's 16 bytes in order. */
static int
sp_parse_secret(const char *s, uint64_t *k0, uint64_t *k1)
{
    uint8_t b[16];
    if (strlen(s) != 32) {
        return PLANE_EINVAL;
    }
    for (int i = 0; i < 16; i++) {
        int hi = sp_hex(s[2 * i]), lo = sp_hex(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return PLANE_EINVAL;
        }
        b[i] = (uint8_t) (hi << 4 | lo);
    }
    *k0 = sp_le64(b);
    *k1 = sp_le64(b + 8);
    return 0;
}

static int
sp_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct sp_state *st = state;
    uint64_t port = 80, client = UINT64_MAX, server = UINT64_MAX, mss = 1460;
    uint64_t slot_s = 64;
    bool secret = false;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        int rc;
        if (!strcmp(k, "secret")) {
            rc = sp_parse_secret(v, &st->k0, &st->k1);
            secret = rc == 0;
        } else if (!strcmp(k, "port")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &port);
        } else if (!strcmp(k, "client_port")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &client);
        } else if (!strcmp(k, "server_port")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &server);
        } else if (!strcmp(k, "mss")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &mss);
        } else if (!strcmp(k, "slot_s")) {
            rc = appkit_parse_u64(v, 86400, &slot_s);
        } else {
            rc = PLANE_EINVAL;
        }
        if (rc != 0) {
            return rc;
        }
    }
    /* No default secret: a known one would make cookies forgeable. */
    if (!secret || client == UINT64_MAX || server == UINT64_MAX || port == 0
        || slot_s == 0 || mss < 536) {
        return PLANE_EINVAL;
    }
    st->port = (uint16_t) port;
    st->client_port = (uint16_t) client;
    st->server_port = (uint16_t) server;
    st->mss = (uint16_t) mss;
    st->slot_ns = slot_s * 1000000000ULL;
    return 0;
}

static const struct plane_app_desc synproxy_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "synproxy",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = PLANE_FEAT_HASH,
    .state_size = sizeof(struct sp_state),
    .init = sp_init,
    .process = sp_process,
    .new_flow = sp_new_flow,
    .state_key = sp_state_key,
};

APPKIT_APP_REGISTER(synproxy_desc)
