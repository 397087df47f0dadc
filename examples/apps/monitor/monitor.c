/* monitor: a UnivMon universal sketch of source addresses (levels of add-merged count-min sketches). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

#include "../common/appkit.h"
#include "monitor.h"

/*
 * ExoPlane's front-end scenario runs UnivMon [Liu et al., SIGCOMM 2016] on
 * the traffic the other apps do not claim.  Each packet adds its count
 * (1, or its frame length) to the count-min sketch of every level its
 * source address is sampled into (monitor.h); the sketches are whole-object
 * arrays that the runtime keeps on every device and merges by adding, so
 * the rack as a whole sketches the whole stream.  Queries (heavy hitters,
 * entropy by UnivMon's recursive G-sum) run off the data path over the
 * merged arrays: monitor_query.h.
 *
 * Count-min sketches answer "how many" for a given item but cannot list
 * items, so the app also keeps the candidate register: an item whose
 * estimate at level l reaches cand_min >> l (at least 1) gets bit l ORed
 * into its entry.  Heavy items of the shallow levels and every item of the
 * deep (sparse) levels become candidates, which is what the G-sum needs.
 * The register is keyed by source address, the union key, so a packet
 * touches only its own union key's entry.
 */
#define CMS_COLS 1024
#define CMS_ROWS 4

#define LEVEL(n) [n] = { .name = "level" #n, .kind = PLANE_OBJ_CMS,            \
                         .size = CMS_COLS * CMS_ROWS, .cms_depth = CMS_ROWS,   \
                         .merge = PLANE_MERGE_ADD }

static const struct plane_obj_desc objects[MON_N_OBJ] = {
    LEVEL(0), LEVEL(1), LEVEL(2), LEVEL(3), LEVEL(4), LEVEL(5),
    LEVEL(6), LEVEL(7), LEVEL(8), LEVEL(9), LEVEL(10), LEVEL(11),
    [MON_OBJ_CAND] = { .name = "cand", .kind = PLANE_OBJ_REGISTER,
                       .key_fields = PLANE_FLOW_SRC_IP, .value_len = 8,
                       .size = 65536, .merge = PLANE_MERGE_OR },
};

_Static_assert(MON_LEVELS == 12, "the LEVEL() list above has 12 entries");

struct mon_state {
    uint64_t seed;            /* level hash seed (rack-wide param) */
    uint64_t cand_min;        /* candidate threshold at level 0 */
    bool bytes;               /* count bytes instead of packets */
    bool has_out_port;
    uint16_t out_port;
};

static enum plane_verdict
mon_process(struct plane_ctx *ctx, void *state)
{
    const struct mon_state *st = state;
    plane_ctx_forward(ctx, st->has_out_port ? st->out_port : plane_ctx_in_port(ctx));
    const uint8_t *item = plane_ctx_flow_key(ctx)->src_addr;
    uint64_t count = 1;
    if (st->bytes) {
        size_t len;
        (void) plane_ctx_frame(ctx, &len);
        count = len;
    }
    unsigned depth = mon_item_depth(st->seed, item);
    uint64_t levels = 0;
    for (unsigned l = 0; l <= depth; l++) {
        plane_ctx_cms_add(ctx, (uint16_t) l, item, MON_ITEM_LEN, count);
        uint64_t thr = st->cand_min >> l;
        if (plane_ctx_cms_estimate(ctx, (uint16_t) l, item, MON_ITEM_LEN)
            >= (thr ? thr : 1)) {
            levels |= 1ULL << l;
        }
    }
    if (levels) {
        uint8_t key[PLANE_OBJ_MAX_KEY];
        size_t klen = plane_ctx_obj_key(ctx, MON_OBJ_CAND, key);
        /* A full register loses candidates, not counts: the sketches still
         * hold the item, only listing it is lost (the object counts it). */
        (void) plane_ctx_reg_merge(ctx, MON_OBJ_CAND, key, klen, &levels);
    }
    return PLANE_V_FORWARD;
}

static int
mon_init(void *state, const struct plane_app_param *params, size_t n_params)
{
    struct mon_state *st = state;
    st->seed = MON_DEFAULT_SEED;
    st->cand_min = 64;
    for (size_t i = 0; i < n_params; i++) {
        const char *k = params[i].key, *v = params[i].value;
        uint64_t x;
        if (!strcmp(k, "seed")) {
            if (appkit_parse_u64(v, UINT64_MAX, &st->seed) != 0) {
                return PLANE_EINVAL;
            }
        } else if (!strcmp(k, "cand_min")) {
            if (appkit_parse_u64(v, UINT64_MAX, &st->cand_min) != 0) {
                return PLANE_EINVAL;
            }
        } else if (!strcmp(k, "count")) {
            if (!strcmp(v, "bytes")) {
                st->bytes = true;
            } else if (!strcmp(v, "packets")) {
                st->bytes = false;
            } else {
                return PLANE_EINVAL;
            }
        } else if (!strcmp(k, "out_port")) {
            if (appkit_parse_u64(v, UINT16_MAX, &x) != 0) {
                return PLANE_EINVAL;
            }
            st->out_port = (uint16_t) x;
            st->has_out_port = true;
        } else {
            return PLANE_EINVAL;
        }
    }
    return 0;
}

static const struct plane_app_desc monitor_desc = {
    .abi_version = PLANE_APP_ABI_VERSION,
    .name = "monitor",
    .union_key_fields = PLANE_FLOW_SRC_IP,
    .objects = objects,
    .n_objects = MON_N_OBJ,
    .features = PLANE_FEAT_HASH,
    .state_size = sizeof(struct mon_state),
    .init = mon_init,
    .process = mon_process,
};

APPKIT_APP_REGISTER(monitor_desc)
