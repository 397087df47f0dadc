/* netcache: NetCache's in-network key-value cache with hot-key counting, misses to a backend. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

#include "../common/appkit.h"
#include "netcache_proto.h"

/*
 * NetCache [Jin et al., SOSP 2017] on Plane.  Clients send GET/PUT/DEL
 * requests (netcache_proto.h) to the service port with the key's bucket as
 * UDP source port, so the union key (source port, destination address,
 * destination port) names one bucket of one cache service, and replies
 * (mirrored 5-tuples) map to it through state_key().  Each bucket caches at
 * most one key:
 *
 *   cache     table, key = union key: the cached key, its value (<= 48 bytes)
 *   hot       CMS over keys: GET requests per key (the hot-key sketch)
 *   reported  Bloom filter over keys: hot keys already reported
 *   hot_keys  register, key = union key, CUSTOM merge keeping the hottest:
 *             the bucket's hottest reported key and its estimate
 *   stats     ADD register, key = union key: hits, misses, writes, fills
 *
 * GET: counted in `hot`; a hit (the bucket caches this key) is answered in
 * place (the request turned into its reply, back out the in port), a miss
 * goes to the backend port.  PUT/DEL of a cached key invalidates it first:
 * process() returns MISS, so the request reaches control logic (new_flow()
 * on the external device owning the bucket) which deletes the entry,
 * strongly consistent like every table update, before the write goes on to
 * the backend.  Cache fill, NetCache's controller role: a backend GET
 * reply for a key hot enough (CMS estimate >= hot_threshold) that the
 * bucket is free or caches a colder key is also a MISS, and new_flow()
 * inserts the key and value from the reply before it goes to the client.
 */
enum {
    OBJ_CACHE,
    OBJ_HOT,
    OBJ_REPORTED,
    OBJ_HOT_KEYS,
    OBJ_STATS,
    N_OBJ
};

#define NC_UNION (PLANE_FLOW_SRC_PORT | PLANE_FLOW_DST_IP | PLANE_FLOW_DST_PORT)

/* A cache entry: the table value (64 bytes). */
struct nc_entry {
    uint8_t key[NC_KEY_LEN];
    uint8_t vlen;
    uint8_t pad[7];
    uint8_t value[NC_VALUE_MAX];
};
_Static_assert(sizeof(struct nc_entry) == 64, "a cache entry is one 64-byte value");

/* A hot-key report: the key (big-endian number) and its CMS estimate. */
struct nc_report {
    uint64_t key;
    uint64_t est;
};

/* Words of the stats register. */
enum { NC_HITS, NC_MISSES, NC_WRITES, NC_FILLS, NC_N_STATS };

/* hot_keys' merge: keep the report with the larger estimate (idempotent). */
static void
nc_report_plus(void *out, const void *a, const void *b, size_t len)
{
    struct nc_report ra, rb;
    (void) len;
    memcpy(&ra, a, sizeof ra);
    memcpy(&rb, b, sizeof rb);
    memcpy(out, rb.est > ra.est ? &rb : &ra, sizeof ra);
}

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_CACHE] = { .name = "cache", .kind = PLANE_OBJ_TABLE,
                    .key_fields = NC_UNION, .value_len = sizeof(struct nc_entry),
                    .size = 4096, .merge = PLANE_MERGE_NONE },
    [OBJ_HOT] = { .name = "hot", .kind = PLANE_OBJ_CMS, .size = 4 * 4096,
                  .cms_depth = 4, .merge = PLANE_MERGE_ADD },
    [OBJ_REPORTED] = { .name = "reported", .kind = PLANE_OBJ_BLOOM,
                       .size = 65536, .bloom_hashes = 3, .merge = PLANE_MERGE_OR },
    [OBJ_HOT_KEYS] = { .name = "hot_keys", .kind = PLANE_OBJ_REGISTER,
                       .key_fields = NC_UNION, .value_len = sizeof(struct nc_report),
                       .size = 4096, .merge = PLANE_MERGE_CUSTOM,
                       .plus = nc_report_plus },
    [OBJ_STATS] = { .name = "stats", .kind = PLANE_OBJ_REGISTER,
                    .key_fields = NC_UNION, .value_len = 8 * NC_N_STATS,
                    .size = 4096, .merge = PLANE_MERGE_ADD },
};

struct nc_state {
    uint16_t port;            /* the service's UDP port */
    uint16_t bucket_base;     /* first bucket source port */
    unsigned bucket_bits;
    uint16_t backend_port;
    uint16_t client_port;
    uint64_t hot_threshold;
    /*
     * Set by new_flow() when it could not make the update process() asked
     * for (cache table full): the re-run of process() right after, on this
     * device and this packet, forwards instead of asking again.
     */
    bool pass_once;
};

/* Where a parsed IPv4/UDP NetCache packet's parts are. */
struct nc_pkt {
    size_t l3;                /* IPv4 header */
    size_t l4;                /* UDP header */
    size_t msg;               /* NetCache message (UDP payload) */
    size_t udp_len;           /* UDP length field (header + payload) */
};

/*
 * Parses an untagged or VLAN-tagged IPv4/UDP frame whose payload holds a
 * whole NetCache message.  Returns false for anything else (IPv6 included:
 * this cache answers IPv4 only), fragments, or lengths that do not fit.
 */
static bool
nc_parse(const uint8_t *f, size_t len, struct nc_pkt *p)
{
    size_t off, ihl, tot;
    uint16_t et;
    if (!appkit_eth_l3(f, len, &off, &et) || et != APPKIT_ETH_IPV4
        || !appkit_ipv4_check(f, len, off, 17, 8, &ihl, &tot)) {
        return false;
    }
    p->l3 = off;
    p->l4 = off + ihl;
    p->udp_len = appkit_rd16(f + p->l4 + 4);
    if (p->udp_len < 8 + NC_MSG_LEN || p->udp_len > tot - ihl) {
        return false;
    }
    p->msg = p->l4 + 8;
    return true;
}

/* Recomputes the UDP checksum of the parsed packet from scratch. */
static void
nc_udp_csum(uint8_t *f, const struct nc_pkt *p)
{
    appkit_wr16(f + p->l4 + 6, 0);
    uint16_t c = appkit_csum_fold(appkit_csum_add(
        appkit_pseudo_sum_v4(f + p->l3, 17, p->udp_len), f + p->l4, p->udp_len));
    appkit_wr16(f + p->l4 + 6, c ? c : 0xffff);   /* 0 means "no checksum" */
}

/*
 * Turns the GET request into its reply from entry e, in place: MACs,
 * addresses and ports swapped (the IPv4 header checksum, a sum of words,
 * does not change), op, status, flags and value written, UDP checksum
 * recomputed.
 */
static void
nc_answer(uint8_t *f, const struct nc_pkt *p, const struct nc_entry *e)
{
    appkit_turn_around(f, p->l3, p->l4);
    uint8_t *m = f + p->msg;
    m[NC_OFF_OP] = NC_OP_GET_REPLY;
    m[NC_OFF_STATUS] = NC_ST_OK;
    m[NC_OFF_VLEN] = e->vlen;
    m[NC_OFF_FLAGS] |= NC_F_CACHED;
    memset(m + NC_OFF_VALUE, 0, NC_VALUE_MAX);
    memcpy(m + NC_OFF_VALUE, e->value, e->vlen);
    nc_udp_csum(f, p);
}

/* True when the reply in m should be cached in a bucket holding `e` (or
 * nothing, have == false). */
static bool
nc_should_fill(struct plane_ctx *ctx, const struct nc_state *st,
               const uint8_t *m, bool have, const struct nc_entry *e)
{
    if (m[NC_OFF_OP] != NC_OP_GET_REPLY || m[NC_OFF_STATUS] != NC_ST_OK
        || m[NC_OFF_VLEN] > NC_VALUE_MAX) {
        return false;
    }
    const uint8_t *k = m + NC_OFF_KEY;
    if (have && !memcmp(e->key, k, NC_KEY_LEN)) {
        return false;             /* cached already */
    }
    uint64_t est = plane_ctx_cms_estimate(ctx, OBJ_HOT, k, NC_KEY_LEN);
    if (est < st->hot_threshold) {
        return false;
    }
    return !have || est > plane_ctx_cms_estimate(ctx, OBJ_HOT, e->key, NC_KEY_LEN);
}

/* What a parsed packet is, relative to the service. */
enum nc_dir { NC_OTHER, NC_REQUEST, NC_REPLY };

static enum nc_dir
nc_classify(struct plane_ctx *ctx, const struct nc_state *st, const uint8_t *f,
            const struct nc_pkt *p)
{
    const struct plane_flow_key *k = plane_ctx_flow_key(ctx);
    bool reply = !plane_flow_key_eq(k, plane_ctx_packet_key(ctx));
    if (k->dst_port != st->port || k->ip_version != 4) {
        return NC_OTHER;
    }
    /* The bucket port must be the key's, or the request would read and
     * invalidate another bucket's entry. */
    if (k->src_port != nc_bucket_port(f + p->msg + NC_OFF_KEY, st->bucket_base,
                                      st->bucket_bits)) {
        return NC_OTHER;
    }
    return reply ? NC_REPLY : NC_REQUEST;
}

static enum plane_verdict
nc_process(struct plane_ctx *ctx, void *state)
{
    struct nc_state *st = state;
    bool pass = st->pass_once;
    st->pass_once = false;
    size_t len;
    uint8_t *f = plane_ctx_frame(ctx, &len);
    bool from_client = plane_ctx_in_port(ctx) != st->backend_port;
    struct nc_pkt p;
    if (!nc_parse(f, len, &p)) {
        plane_ctx_forward(ctx, from_client ? st->backend_port : st->client_port);
        return PLANE_V_FORWARD;
    }
    enum nc_dir dir = nc_classify(ctx, st, f, &p);
    if (dir == NC_OTHER) {
        /* Not the cache's (another port, a bad bucket): the backend decides. */
        plane_ctx_forward(ctx, from_client ? st->backend_port : st->client_port);
        return PLANE_V_FORWARD;
    }
    const uint8_t *m = f + p.msg;
    const uint8_t *k = m + NC_OFF_KEY;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_CACHE, key);
    struct nc_entry e;
    bool have = plane_ctx_table_get(ctx, OBJ_CACHE, key, klen, &e) == 0;
    bool cached = have && !memcmp(e.key, k, NC_KEY_LEN);

    if (dir == NC_REPLY) {
        if (!pass && nc_should_fill(ctx, st, m, have, &e)) {
            return PLANE_V_MISS;
        }
        plane_ctx_forward(ctx, st->client_port);
        return PLANE_V_FORWARD;
    }
    switch (m[NC_OFF_OP]) {
    case NC_OP_GET: {
        plane_ctx_cms_add(ctx, OBJ_HOT, k, NC_KEY_LEN, 1);
        uint64_t est = plane_ctx_cms_estimate(ctx, OBJ_HOT, k, NC_KEY_LEN);
        if (est >= st->hot_threshold
            && !plane_ctx_bloom_test(ctx, OBJ_REPORTED, k, NC_KEY_LEN)) {
            /* Report each hot key once: the Bloom filter remembers. */
            plane_ctx_bloom_add(ctx, OBJ_REPORTED, k, NC_KEY_LEN);
            struct nc_report r = { .key = nc_key_u64(k), .est = est };
            (void) plane_ctx_reg_merge(ctx, OBJ_HOT_KEYS, key, klen, &r);
        }
        if (cached && e.vlen <= NC_VALUE_MAX) {
            appkit_reg_bump(ctx, OBJ_STATS, NC_HITS);
            nc_answer(f, &p, &e);
            plane_ctx_forward(ctx, plane_ctx_in_port(ctx));
            return PLANE_V_FORWARD;
        }
        appkit_reg_bump(ctx, OBJ_STATS, NC_MISSES);
        break;
    }
    case NC_OP_PUT:
    case NC_OP_DEL:
        if (cached && !pass) {
            return PLANE_V_MISS;      /* invalidate first (control logic) */
        }
        appkit_reg_bump(ctx, OBJ_STATS, NC_WRITES);
        break;
    default:
        break;
    }
    plane_ctx_forward(ctx, st->backend_port);
    return PLANE_V_FORWARD;
}

static int
nc_new_flow(struct plane_ctx *ctx, void *state)
{
    struct nc_state *st = state;
    size_t len;
    uint8_t *f = plane_ctx_frame(ctx, &len);
    struct nc_pkt p;
    if (!nc_parse(f, len, &p)) {
        return PLANE_EPROTO;          /* process() never misses on these */
    }
    enum nc_dir dir = nc_classify(ctx, st, f, &p);
    const uint8_t *m = f + p.msg;
    const uint8_t *k = m + NC_OFF_KEY;
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_CACHE, key);
    struct nc_entry e;
    bool have = plane_ctx_table_get(ctx, OBJ_CACHE, key, klen, &e) == 0;
    if (dir == NC_REQUEST) {
        if (have && !memcmp(e.key, k, NC_KEY_LEN)) {
            return plane_ctx_table_delete(ctx, OBJ_CACHE, key, klen);
        }
        return 0;
    }
    if (dir == NC_REPLY && nc_should_fill(ctx, st, m, have, &e)) {
        struct nc_entry n;
        memset(&n, 0, sizeof n);
        memcpy(n.key, k, NC_KEY_LEN);
        n.vlen = m[NC_OFF_VLEN];
        memcpy(n.value, m + NC_OFF_VALUE, n.vlen);
        if (plane_ctx_table_insert(ctx, OBJ_CACHE, key, klen, &n) != 0) {
            st->pass_once = true;     /* full: deliver the reply uncached */
            return 0;
        }
        appkit_reg_bump(ctx, OBJ_STATS, NC_FILLS);
    }
    return 0;
}

/* Replies (from the service port) live under their request's key. */
static void
nc_state_key(const struct plane_flow_key *pkt, struct plane_flow_key *out,
             const void *state)
{
    const struct nc_state *st = state;
    appkit_key_toward_port(pkt, out, st->port);
}

static int
nc_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct nc_state *st = state;
    uint64_t port = NC_DEFAULT_PORT, base = 0, bits = NC_DEFAULT_BUCKET_BITS;
    uint64_t backend = UINT64_MAX, client = UINT64_MAX, hot = 8;
    bool has_base = false;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        int rc;
        if (!strcmp(k, "port")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &port);
        } else if (!strcmp(k, "bucket_base")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &base);
            has_base = true;
        } else if (!strcmp(k, "bucket_bits")) {
            rc = appkit_parse_u64(v, 15, &bits);
        } else if (!strcmp(k, "backend_port")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &backend);
        } else if (!strcmp(k, "client_port")) {
            rc = appkit_parse_u64(v, UINT16_MAX, &client);
        } else if (!strcmp(k, "hot_threshold")) {
            rc = appkit_parse_u64(v, UINT64_MAX, &hot);
        } else {
            rc = PLANE_EINVAL;
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (!has_base) {
        base = port + 1;
    }
    /* Both ports are needed to steer misses and replies; the bucket ports
     * must fit in 16 bits and not include the service port (which is what
     * tells a reply from a request). */
    if (backend == UINT64_MAX || client == UINT64_MAX || bits == 0 || hot == 0
        || base + (1ULL << bits) - 1 > UINT16_MAX
        || (port >= base && port < base + (1ULL << bits))) {
        return PLANE_EINVAL;
    }
    st->port = (uint16_t) port;
    st->bucket_base = (uint16_t) base;
    st->bucket_bits = (unsigned) bits;
    st->backend_port = (uint16_t) backend;
    st->client_port = (uint16_t) client;
    st->hot_threshold = hot;
    return 0;
}

static const struct plane_app_desc netcache_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "netcache",
    .union_key_fields = NC_UNION,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = PLANE_FEAT_PAYLOAD | PLANE_FEAT_HASH,
    .state_size = sizeof(struct nc_state),
    .init = nc_init,
    .process = nc_process,
    .new_flow = nc_new_flow,
    .state_key = nc_state_key,
};

APPKIT_APP_REGISTER(netcache_desc)
