/* A tiny Plane app for tests and the app guide: per-flow forwarding table, counters, sketches, NAT. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>

/*
 * The app keeps one forwarding decision per flow (a table filled by control
 * logic on a flow's first packet) and per-packet statistics in
 * data-plane-updatable objects.  Its union key is the full 5-tuple: every
 * object is keyed by a subset of it, so the 5-tuple finds all of a packet's
 * state on whichever device the packet is pinned to.
 */
enum {
    OBJ_FLOWS,      /* table: 5-tuple -> egress port */
    OBJ_PKTS,       /* register (ADD): source address -> packets */
    OBJ_MAXLEN,     /* register (MAX): 5-tuple -> largest frame seen */
    OBJ_HEAVY,      /* count-min sketch of bytes per source address */
    OBJ_SEEN,       /* Bloom filter of destination ports seen */
    N_OBJ
};

static const struct plane_obj_desc objects[N_OBJ] = {
    [OBJ_FLOWS] = { .name = "flows", .kind = PLANE_OBJ_TABLE,
                    .key_fields = PLANE_FLOW_ALL, .value_len = 8, .size = 1024,
                    .merge = PLANE_MERGE_NONE },
    [OBJ_PKTS] = { .name = "pkts", .kind = PLANE_OBJ_REGISTER,
                   .key_fields = PLANE_FLOW_SRC_IP, .value_len = 8, .size = 1024,
                   .merge = PLANE_MERGE_ADD },
    [OBJ_MAXLEN] = { .name = "maxlen", .kind = PLANE_OBJ_REGISTER,
                     .key_fields = PLANE_FLOW_ALL, .value_len = 8, .size = 1024,
                     .merge = PLANE_MERGE_MAX },
    [OBJ_HEAVY] = { .name = "heavy", .kind = PLANE_OBJ_CMS, .size = 4 * 256,
                    .cms_depth = 4, .merge = PLANE_MERGE_ADD },
    [OBJ_SEEN] = { .name = "seen", .kind = PLANE_OBJ_BLOOM, .size = 4096,
                   .bloom_hashes = 3, .merge = PLANE_MERGE_OR },
};

/* Per-device private state, zeroed by the runtime, filled by init(). */
struct counter_state {
    uint64_t egress;          /* param "egress_port": where flows go */
    int nat;                  /* param "nat": rewrite sources to nat_addr */
    uint8_t nat_addr[4];
    uint16_t nat_port;
    int symmetric;            /* param "symmetric": both directions, one state */
};

/* Tests read this to check fini() ran. */
int test_counter_app_fini_calls;

static int
counter_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct counter_state *st = state;
    st->egress = 7;
    st->nat_addr[0] = 192;
    st->nat_addr[1] = 0;
    st->nat_addr[2] = 2;
    st->nat_addr[3] = 1;
    st->nat_port = 40000;
    for (size_t i = 0; i < n_params; i++) {
        char *end;
        unsigned long v = strtoul(params[i].value, &end, 10);
        if (!strcmp(params[i].key, "egress_port")) {
            if (*end || v > 65535) {
                return PLANE_EINVAL;
            }
            st->egress = v;
        } else if (!strcmp(params[i].key, "symmetric")) {
            st->symmetric = !strcmp(params[i].value, "1");
        } else if (!strcmp(params[i].key, "nat")) {
            st->nat = !strcmp(params[i].value, "1");
        } else {
            return PLANE_EINVAL;   /* unknown parameter: fail the load */
        }
    }
    return 0;
}

static void
counter_fini(void *state)
{
    (void) state;
    test_counter_app_fini_calls++;
}

/*
 * Data-plane logic: a flow without a table entry is a miss (reported
 * before touching any state, because the packet is processed again after
 * new_flow()); otherwise count it and forward it to its port.
 */
static enum plane_verdict
counter_process(struct plane_ctx *ctx, void *state)
{
    struct counter_state *st = state;
    const struct plane_flow_key *fk = plane_ctx_flow_key(ctx);
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_FLOWS, key);

    uint64_t port;
    if (plane_ctx_table_get(ctx, OBJ_FLOWS, key, klen, &port) != 0) {
        return PLANE_V_MISS;
    }
    if (fk->dst_port == 9) {
        return PLANE_V_DROP;   /* the discard service */
    }

    size_t frame_len;
    (void) plane_ctx_frame(ctx, &frame_len);
    klen = plane_ctx_obj_key(ctx, OBJ_PKTS, key);
    plane_ctx_reg_add(ctx, OBJ_PKTS, key, klen, 1);
    klen = plane_ctx_obj_key(ctx, OBJ_MAXLEN, key);
    uint64_t len64 = frame_len;
    plane_ctx_reg_merge(ctx, OBJ_MAXLEN, key, klen, &len64);
    plane_ctx_cms_add(ctx, OBJ_HEAVY, fk->src_addr, sizeof fk->src_addr, frame_len);
    plane_ctx_bloom_add(ctx, OBJ_SEEN, &fk->dst_port, sizeof fk->dst_port);

    if (st->nat && fk->ip_version == 4) {
        plane_ctx_set_ipv4_src(ctx, st->nat_addr);
        plane_ctx_set_sport(ctx, st->nat_port);
    }
    plane_ctx_forward(ctx, (uint16_t) port);
    return PLANE_V_FORWARD;
}

/* Control logic, on the external device only: admit the flow (not telnet). */
static int
counter_new_flow(struct plane_ctx *ctx, void *state)
{
    struct counter_state *st = state;
    if (plane_ctx_flow_key(ctx)->dst_port == 23) {
        return PLANE_EPERM;
    }
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, OBJ_FLOWS, key);
    return plane_ctx_table_insert(ctx, OBJ_FLOWS, key, klen, &st->egress);
}

/*
 * With "symmetric", both directions of a flow share one state key: the
 * direction whose (address, port) source sorts lower.  Idempotent, as the
 * runtime requires.
 */
static void
counter_state_key(const struct plane_flow_key *pkt, struct plane_flow_key *out,
                  const void *state)
{
    const struct counter_state *st = state;
    *out = *pkt;
    if (!st->symmetric) {
        return;
    }
    int c = memcmp(pkt->src_addr, pkt->dst_addr, sizeof pkt->src_addr);
    if (c > 0 || (c == 0 && pkt->src_port > pkt->dst_port)) {
        plane_flow_key_reverse(pkt, out);
    }
}

/* tests/app.cmake also builds this file as broken modules: one speaking
 * another ABI version, one without the entry symbol. */
#ifndef TEST_APP_ABI
#define TEST_APP_ABI PLANE_APP_ABI_VERSION
#endif

static const struct plane_app_desc counter_app = {
    .abi_version = TEST_APP_ABI,
    .name = "counter",
    .union_key_fields = PLANE_FLOW_ALL,
    .objects = objects,
    .n_objects = N_OBJ,
    .features = PLANE_FEAT_HASH,
    .state_size = sizeof(struct counter_state),
    .init = counter_init,
    .fini = counter_fini,
    .process = counter_process,
    .new_flow = counter_new_flow,
    .state_key = counter_state_key,
};

#ifndef TEST_APP_NO_ENTRY
/* The one symbol the runtime looks up. */
const struct plane_app_desc *plane_app_register(void);

const struct plane_app_desc *
plane_app_register(void)
{
    return &counter_app;
}
#else
/* Keeps the descriptor referenced when the entry is compiled out. */
const struct plane_app_desc *test_counter_app_desc(void);

const struct plane_app_desc *
test_counter_app_desc(void)
{
    return &counter_app;
}
#endif
