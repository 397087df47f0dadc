/* tcpretx: CLIP's TCP retransmission detection with per-connection MAX and ADD registers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

#include "../common/appkit.h"

/*
 * CLIP section IV ("Overlay Network TCP Retransmission Detection"): keep the
 * highest sequence number each connection has sent and count the segments
 * that do not go beyond it.  Both directions of a connection share one
 * union key (state_key() orders the endpoints), and each register entry
 * holds one 64-bit word per direction:
 *
 *   hiseq  MAX register: word d = highest end sequence sent in direction d,
 *          unwrapped to 64 bits so that MAX stays right across the 2^32 wrap;
 *   retx   ADD register: word d = retransmissions seen in direction d.
 *
 * Direction 0 is the state key's own direction (its lower endpoint is the
 * source), direction 1 the reverse.  Word-wise MAX and ADD are exactly the
 * built-in merges, so copies on several devices merge without custom code.
 */
enum {
    OBJ_HISEQ,
    OBJ_RETX,
    N_OBJ
};

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_HISEQ] = { .name = "hiseq", .kind = PLANE_OBJ_REGISTER,
                    .key_fields = PLANE_FLOW_ALL, .value_len = 16,
                    .size = 65536, .merge = PLANE_MERGE_MAX },
    [OBJ_RETX] = { .name = "retx", .kind = PLANE_OBJ_REGISTER,
                   .key_fields = PLANE_FLOW_ALL, .value_len = 16,
                   .size = 65536, .merge = PLANE_MERGE_ADD },
};

/* Where an unwrapped sequence space starts: room below for old segments. */
#define TR_BASE (1ULL << 32)

struct tr_state {
    bool has_out_port;
    uint16_t out_port;
};

/*
 * Finds the TCP header of an untagged or VLAN-tagged IPv4 or IPv6 (no
 * extension headers) frame and the segment's sequence-space length
 * (payload bytes per the IP length, plus one each for SYN and FIN).
 * Returns false for anything else or a truncated frame.
 */
static bool
tr_tcp(const uint8_t *f, size_t len, uint32_t *seq, uint32_t *seglen)
{
    size_t off;
    uint16_t et;
    if (!appkit_eth_l3(f, len, &off, &et)) {
        return false;
    }
    size_t l4_len;
    if (et == APPKIT_ETH_IPV4) {
        size_t ihl, tot;
        if (!appkit_ipv4_check(f, len, off, 6, 0, &ihl, &tot)) {
            return false;     /* not TCP, bad lengths, or a fragment */
        }
        l4_len = tot - ihl;
        off += ihl;
    } else if (et == APPKIT_ETH_IPV6) {
        if (off + 40 > len || f[off + 6] != 6) {
            return false;
        }
        l4_len = appkit_rd16(f + off + 4);
        off += 40;
        if (off + l4_len > len) {
            return false;
        }
    } else {
        return false;
    }
    if (l4_len < 20) {
        return false;
    }
    size_t doff = (size_t) (f[off + 12] >> 4) * 4;
    if (doff < 20 || doff > l4_len) {
        return false;
    }
    uint8_t flags = f[off + 13];
    *seq = appkit_rd32(f + off + 4);
    *seglen = (uint32_t) (l4_len - doff) + ((flags & APPKIT_TCP_SYN) ? 1 : 0)
              + ((flags & APPKIT_TCP_FIN) ? 1 : 0);
    return true;
}

/*
 * Unwraps a 32-bit sequence number to the 64-bit value nearest to hi (the
 * highest unwrapped end seen so far; 0 when nothing was seen yet).
 */
static uint64_t
tr_unwrap(uint32_t seq, uint64_t hi)
{
    if (hi == 0) {
        return TR_BASE + seq;
    }
    uint64_t cand = (hi & ~0xffffffffULL) | seq;
    if (cand + (1ULL << 31) < hi) {
        cand += 1ULL << 32;
    } else if (cand > hi + (1ULL << 31) && cand >= (1ULL << 32)) {
        cand -= 1ULL << 32;
    }
    return cand;
}

/* Compares endpoints (address, port) of a key: <0 when src is the lower. */
static int
tr_cmp_endpoints(const struct plane_flow_key *k)
{
    int c = memcmp(k->src_addr, k->dst_addr, sizeof k->src_addr);
    if (c != 0) {
        return c;
    }
    return (int) k->src_port - (int) k->dst_port;
}

/* Both directions of a connection live under the key whose source is the
 * lower endpoint; that key maps to itself. */
static void
tr_state_key(const struct plane_flow_key *pkt, struct plane_flow_key *out,
             const void *state)
{
    (void) state;
    if (tr_cmp_endpoints(pkt) > 0) {
        plane_flow_key_reverse(pkt, out);
    } else {
        *out = *pkt;
    }
}

static enum plane_verdict
tr_process(struct plane_ctx *ctx, void *state)
{
    const struct tr_state *st = state;
    plane_ctx_forward(ctx, st->has_out_port ? st->out_port : plane_ctx_in_port(ctx));
    size_t len;
    const uint8_t *f = plane_ctx_frame(ctx, &len);
    uint32_t seq, seglen;
    if (!tr_tcp(f, len, &seq, &seglen) || seglen == 0) {
        return PLANE_V_FORWARD;   /* not TCP, or a pure ACK/RST: nothing sent */
    }
    /* The packet's direction relative to the state key picks the word. */
    unsigned d = plane_flow_key_eq(plane_ctx_packet_key(ctx),
                                   plane_ctx_flow_key(ctx)) ? 0 : 1;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_HISEQ, key);
    uint64_t hi[2] = { 0, 0 };
    if (plane_ctx_reg_get(ctx, OBJ_HISEQ, key, klen, hi) != 0) {
        hi[0] = hi[1] = 0;
    }
    uint64_t end = tr_unwrap(seq, hi[d]) + seglen;
    uint64_t op[2] = { 0, 0 };
    if (hi[d] != 0 && end <= hi[d]) {
        op[d] = 1;
        (void) plane_ctx_reg_merge(ctx, OBJ_RETX, key, klen, op);
    } else {
        op[d] = end;              /* MAX leaves the other direction's word */
        (void) plane_ctx_reg_merge(ctx, OBJ_HISEQ, key, klen, op);
    }
    return PLANE_V_FORWARD;
}

static int
tr_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct tr_state *st = state;
    for (size_t i = 0; i < n_params; i++) {
        uint64_t v;
        if (!strcmp(params[i].key, "out_port")) {
            if (appkit_parse_u64(params[i].value, UINT16_MAX, &v) != 0) {
                return PLANE_EINVAL;
            }
            st->out_port = (uint16_t) v;
            st->has_out_port = true;
        } else {
            return PLANE_EINVAL;
        }
    }
    return 0;
}

static const struct plane_app_desc tcpretx_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "tcpretx",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = 0,
    .state_size = sizeof(struct tr_state),
    .init = tr_init,
    .process = tr_process,
    .state_key = tr_state_key,
};

APPKIT_APP_REGISTER(tcpretx_desc)
