/* flowcheck: per-flow mapping from control logic, per-flow and per-source packet counters. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>

/*
 * The app the integration tests drive: a NAT-like per-flow mapping that only
 * control logic creates (so "the mapping never changes" checks strong
 * consistency of tables across failover), a per-flow packet counter (checks
 * that no packet is counted twice or lost by sync) and a per-source counter
 * shared by many flows (checks merging of shared register entries).
 */
enum {
    OBJ_MAPPING,    /* table: 5-tuple -> 64-bit id */
    OBJ_PKTS,       /* register (ADD): 5-tuple -> packets */
    OBJ_PER_SRC,    /* register (ADD): source address -> packets */
    N_OBJ
};

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_MAPPING] = { .name = "mapping", .kind = PLANE_OBJ_TABLE,
                      .key_fields = PLANE_FLOW_ALL, .value_len = 8,
                      .size = 65536, .merge = PLANE_MERGE_NONE },
    [OBJ_PKTS] = { .name = "pkts", .kind = PLANE_OBJ_REGISTER,
                   .key_fields = PLANE_FLOW_ALL, .value_len = 8,
                   .size = 65536, .merge = PLANE_MERGE_ADD },
    [OBJ_PER_SRC] = { .name = "per_src", .kind = PLANE_OBJ_REGISTER,
                      .key_fields = PLANE_FLOW_SRC_IP, .value_len = 8,
                      .size = 65536, .merge = PLANE_MERGE_ADD },
};

/* Where the mapping id goes in the L4 payload (the driver owns [0, 16)). */
#define FC_ID_OFF 16
#define FC_ID_LEN 8

struct fc_state {
    uint64_t next;            /* ids allocated on this device */
};

static uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

/* RFC 1624 eqn. 3: the checksum after one 16-bit word changed. */
static uint16_t
csum_update16(uint16_t csum, uint16_t old, uint16_t new_)
{
    uint32_t sum = (uint16_t) ~csum;
    sum += (uint16_t) ~old;
    sum += new_;
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

/*
 * Finds the L4 payload of an untagged or VLAN-tagged IPv4/IPv6 UDP or TCP
 * frame.  Stores the payload offset and the L4 checksum offset (0 when the
 * checksum is absent: IPv4 UDP with checksum 0).  Returns false when the
 * frame is anything else or too short.
 */
static bool
fc_payload(const uint8_t *f, size_t len, size_t *pay, size_t *csum_off,
           bool *udp)
{
    size_t off = 12;
    uint16_t et;
    for (int tags = 0;; tags++) {
        if (off + 2 > len) {
            return false;
        }
        et = rd16(f + off);
        off += 2;
        if ((et != 0x8100 && et != 0x88a8) || tags == 2) {
            break;
        }
        off += 2;             /* the tag's TCI */
    }
    uint8_t proto;
    bool v4;
    if (et == 0x0800) {
        if (off + 20 > len) {
            return false;
        }
        size_t ihl = (size_t) (f[off] & 0x0f) * 4;
        if (ihl < 20 || off + ihl > len || (rd16(f + off + 6) & 0x3fff) != 0) {
            return false;     /* bad header, or a fragment */
        }
        proto = f[off + 9];
        off += ihl;
        v4 = true;
    } else if (et == 0x86dd) {
        if (off + 40 > len) {
            return false;
        }
        proto = f[off + 6];   /* no extension headers: the driver sends none */
        off += 40;
        v4 = false;
    } else {
        return false;
    }
    if (proto == 17) {
        if (off + 8 > len) {
            return false;
        }
        *csum_off = (v4 && rd16(f + off + 6) == 0) ? 0 : off + 6;
        *udp = true;
        *pay = off + 8;
    } else if (proto == 6) {
        if (off + 20 > len) {
            return false;
        }
        size_t doff = (size_t) (f[off + 12] >> 4) * 4;
        if (doff < 20 || off + doff > len) {
            return false;
        }
        *csum_off = off + 16;
        *udp = false;
        *pay = off + doff;
    } else {
        return false;
    }
    return true;
}

/* Writes id big-endian at payload [16, 24), keeping the L4 checksum right. */
static void
fc_stamp(struct plane_ctx *ctx, uint64_t id)
{
    size_t len, pay, csum_off;
    bool udp;
    uint8_t *f = plane_ctx_frame(ctx, &len);
    if (!fc_payload(f, len, &pay, &csum_off, &udp)
        || pay + FC_ID_OFF + FC_ID_LEN > len) {
        return;
    }
    uint8_t *p = f + pay + FC_ID_OFF;
    /* UDP and TCP headers have even lengths, so the id covers four whole
     * 16-bit words of the checksum: one RFC 1624 update per word. */
    uint16_t c = csum_off ? rd16(f + csum_off) : 0;
    for (int i = 0; i < FC_ID_LEN; i += 2) {
        uint16_t old = rd16(p + i);
        uint16_t new_ = (uint16_t) (id >> (48 - 8 * i));
        p[i] = (uint8_t) (new_ >> 8);
        p[i + 1] = (uint8_t) new_;
        c = csum_update16(c, old, new_);
    }
    if (csum_off) {
        if (udp && c == 0) {
            c = 0xffff;       /* UDP sends a computed 0 as all ones */
        }
        f[csum_off] = (uint8_t) (c >> 8);
        f[csum_off + 1] = (uint8_t) c;
    }
}

static enum plane_verdict
fc_process(struct plane_ctx *ctx, void *state)
{
    (void) state;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    uint64_t id;
    size_t klen = plane_ctx_obj_key(ctx, OBJ_MAPPING, key);
    if (plane_ctx_table_get(ctx, OBJ_MAPPING, key, klen, &id) != 0) {
        return PLANE_V_MISS;
    }
    /* pkts has the same key fields as mapping: the same key. */
    if (plane_ctx_reg_add(ctx, OBJ_PKTS, key, klen, 1) != 0) {
        return PLANE_V_DROP;
    }
    uint8_t skey[PLANE_OBJ_MAX_KEY];
    size_t slen = plane_ctx_obj_key(ctx, OBJ_PER_SRC, skey);
    if (plane_ctx_reg_add(ctx, OBJ_PER_SRC, skey, slen, 1) != 0) {
        return PLANE_V_DROP;
    }
    fc_stamp(ctx, id);
    plane_ctx_forward(ctx, plane_ctx_in_port(ctx));
    return PLANE_V_FORWARD;
}

static int
fc_new_flow(struct plane_ctx *ctx, void *state)
{
    struct fc_state *st = state;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_MAPPING, key);
    /* The device id in the top bits makes ids unique across the rack
     * without coordination; 48 bits of counter never wrap in a test. */
    uint64_t id = (uint64_t) plane_ctx_device(ctx) << 48
                  | ((st->next + 1) & 0xffffffffffffULL);
    int rc = plane_ctx_table_insert(ctx, OBJ_MAPPING, key, klen, &id);
    if (rc == 0) {
        st->next++;
    }
    return rc;
}

static const struct plane_app_desc flowcheck_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "flowcheck",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = 0,
    .state_size = sizeof(struct fc_state),
    .process = fc_process,
    .new_flow = fc_new_flow,
};

const struct plane_app_desc *plane_app_register(void);

const struct plane_app_desc *
plane_app_register(void)
{
    return &flowcheck_desc;
}
