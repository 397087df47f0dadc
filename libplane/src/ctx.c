/* The per-packet context apps see (plane_ctx_*) and the run loop around process()/new_flow(). */
#include "ctx.h"

#include <stddef.h>
#include <string.h>

#include <plane/error.h>

#include "app_internal.h"
#include "common/log.h"
#include "common/pkt.h"
#include "object.h"

PLANE_LOG_MODULE(ctx);

/*
 * One packet's context: lives on plane_app_inst_run()'s stack for the
 * duration of the callbacks.  `key` is the state key (the arriving packet's
 * key through the app's state_key()) and `pkt_key` the arriving packet's
 * own key, both kept apart from pkt.key (which NAT rewrites update) because
 * state is keyed, sharded and placed by the arriving packet.
 */
struct plane_ctx {
    struct plane_app_inst *inst;
    uint8_t *frame;
    size_t len;
    struct plane_pkt pkt;
    struct plane_flow_key key;
    struct plane_flow_key pkt_key;
    uint16_t in_port;
    uint16_t egress;
    uint64_t now_ns;
    bool control;                 /* inside new_flow(): tables writable */
    struct plane_run_result *out; /* where control-logic updates are logged */
};

static struct plane_log_rl misuse_rl = PLANE_LOG_RL_INIT(5, 1);

/* Object obj of the context's instance if it is of `kind`, else NULL (logged). */
static struct plane_object *
ctx_obj(const struct plane_ctx *ctx, uint16_t obj, enum plane_obj_kind kind,
        const char *what)
{
    const struct plane_app *app = ctx->inst->app;
    if (obj >= app->desc->n_objects) {
        PLANE_WARN_RL(&misuse_rl, "app \"%s\": %s on object #%u of %u",
                      app->desc->name, what, (unsigned) obj,
                      (unsigned) app->desc->n_objects);
        return NULL;
    }
    struct plane_object *o = ctx->inst->objects[obj];
    if (plane_object_kind(o) != kind) {
        PLANE_WARN_RL(&misuse_rl, "app \"%s\": %s on object \"%s\" of another kind",
                      app->desc->name, what, plane_object_name(o));
        return NULL;
    }
    return o;
}

/* ---- Packet access ---- */

const struct plane_flow_key *
plane_ctx_flow_key(const struct plane_ctx *ctx)
{
    return &ctx->key;
}

const struct plane_flow_key *
plane_ctx_packet_key(const struct plane_ctx *ctx)
{
    return &ctx->pkt_key;
}

uint8_t *
plane_ctx_frame(struct plane_ctx *ctx, size_t *len)
{
    if (len) {
        *len = ctx->len;
    }
    return ctx->frame;
}

uint16_t
plane_ctx_in_port(const struct plane_ctx *ctx)
{
    return ctx->in_port;
}

uint64_t
plane_ctx_now_ns(const struct plane_ctx *ctx)
{
    return ctx->now_ns;
}

uint16_t
plane_ctx_device(const struct plane_ctx *ctx)
{
    return ctx->inst->device_id;
}

bool
plane_ctx_is_external(const struct plane_ctx *ctx)
{
    return ctx->inst->external;
}

/* ---- Actions ---- */

void
plane_ctx_forward(struct plane_ctx *ctx, uint16_t port)
{
    ctx->egress = port;
}

int
plane_ctx_set_ipv4_src(struct plane_ctx *ctx, const uint8_t addr[4])
{
    return plane_pkt_set_ipv4_src(ctx->frame, &ctx->pkt, addr);
}

int
plane_ctx_set_ipv4_dst(struct plane_ctx *ctx, const uint8_t addr[4])
{
    return plane_pkt_set_ipv4_dst(ctx->frame, &ctx->pkt, addr);
}

int
plane_ctx_set_sport(struct plane_ctx *ctx, uint16_t port)
{
    return plane_pkt_set_l4_sport(ctx->frame, &ctx->pkt, port);
}

int
plane_ctx_set_dport(struct plane_ctx *ctx, uint16_t port)
{
    return plane_pkt_set_l4_dport(ctx->frame, &ctx->pkt, port);
}

/* ---- Objects ---- */

size_t
plane_ctx_obj_key(const struct plane_ctx *ctx, uint16_t obj, uint8_t *key)
{
    const struct plane_app *app = ctx->inst->app;
    if (obj >= app->desc->n_objects || !key) {
        return 0;
    }
    struct plane_flow_key k;
    plane_flow_key_mask(&ctx->key, app->objs[obj].key_fields, &k);
    memcpy(key, &k, sizeof k);
    return sizeof k;
}

int
plane_ctx_table_get(struct plane_ctx *ctx, uint16_t obj, const void *key,
                    size_t key_len, void *value)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_TABLE, "table_get");
    return o ? plane_object_get(o, key, key_len, value) : PLANE_EINVAL;
}

/* Reserves the next slot of the result's update log, or NULL when full. */
static struct plane_run_update *
log_update(struct plane_ctx *ctx)
{
    struct plane_run_result *out = ctx->out;
    if (out->n_updates >= PLANE_RUN_MAX_UPDATES) {
        PLANE_CTR_INC(&ctx->inst->stats, update_overflows);
        out->updates_lost = true;
        PLANE_WARN_RL(&misuse_rl, "app \"%s\": a packet made more than %d "
                      "updates to replicate; the rest are not replicated",
                      ctx->inst->app->desc->name, PLANE_RUN_MAX_UPDATES);
        return NULL;
    }
    return &out->updates[out->n_updates];
}

/* Fills the slot log_update() reserved and makes it part of the log. */
static void
log_commit(struct plane_ctx *ctx, struct plane_run_update *u, uint16_t obj,
           enum plane_run_update_op op, const void *key, size_t key_len,
           const void *value, size_t value_len)
{
    u->obj = obj;
    u->op = (uint8_t) op;
    u->key_len = (uint8_t) key_len;
    u->value_len = (uint8_t) value_len;
    memcpy(u->key, key, key_len);
    if (value_len) {
        memcpy(u->value, value, value_len);
    }
    ctx->out->n_updates++;
}

int
plane_ctx_table_insert(struct plane_ctx *ctx, uint16_t obj, const void *key,
                       size_t key_len, const void *value)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_TABLE, "table_insert");
    if (!o) {
        return PLANE_EINVAL;
    }
    if (!ctx->control) {
        return PLANE_EPERM;
    }
    struct plane_run_update *u = log_update(ctx);
    if (!u) {
        return PLANE_ENOSPC;
    }
    int rc = plane_object_insert(o, key, key_len, value);
    if (rc != 0) {
        return rc;
    }
    log_commit(ctx, u, obj, PLANE_RUN_INSERT, key, key_len, value, plane_object_value_len(o));
    return 0;
}

int
plane_ctx_table_delete(struct plane_ctx *ctx, uint16_t obj, const void *key,
                       size_t key_len)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_TABLE, "table_delete");
    if (!o) {
        return PLANE_EINVAL;
    }
    if (!ctx->control) {
        return PLANE_EPERM;
    }
    struct plane_run_update *u = log_update(ctx);
    if (!u) {
        return PLANE_ENOSPC;
    }
    int rc = plane_object_delete_entry(o, key, key_len);
    if (rc != 0) {
        return rc;
    }
    log_commit(ctx, u, obj, PLANE_RUN_DELETE, key, key_len, NULL, 0);
    return 0;
}

/* Merges operand into register o and logs it when the instance asks. */
static int
ctx_merge(struct plane_ctx *ctx, struct plane_object *o, uint16_t obj,
          const void *key, size_t key_len, const void *operand)
{
    int rc = plane_object_merge(o, key, key_len, operand);
    if (rc != 0 || !ctx->inst->log_merges || key_len > PLANE_OBJ_MAX_KEY) {
        return rc;
    }
    struct plane_run_update *u = log_update(ctx);
    if (u) {
        log_commit(ctx, u, obj, PLANE_RUN_MERGE, key, key_len, operand,
                   plane_object_value_len(o));
    }
    return 0;
}

/* Logs a sketch update for the other copy when the instance asks. */
static void
ctx_log_sketch(struct plane_ctx *ctx, uint16_t obj, const void *item, size_t len,
               const void *value, size_t vlen)
{
    if (!ctx->inst->log_merges) {
        return;
    }
    if (len > PLANE_OBJ_MAX_KEY) {
        ctx->out->updates_lost = true;   /* too long an item to replicate */
        return;
    }
    struct plane_run_update *u = log_update(ctx);
    if (u) {
        log_commit(ctx, u, obj, PLANE_RUN_SKETCH, item, len, value, vlen);
    }
}

int
plane_ctx_reg_merge(struct plane_ctx *ctx, uint16_t obj, const void *key,
                    size_t key_len, const void *operand)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_REGISTER, "reg_merge");
    return o ? ctx_merge(ctx, o, obj, key, key_len, operand) : PLANE_EINVAL;
}

int
plane_ctx_reg_add(struct plane_ctx *ctx, uint16_t obj, const void *key,
                  size_t key_len, uint64_t delta)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_REGISTER, "reg_add");
    if (!o || ctx->inst->app->objs[obj].merge != PLANE_MERGE_ADD) {
        return PLANE_EINVAL;
    }
    uint8_t operand[PLANE_OBJ_MAX_VALUE] = { 0 };
    memcpy(operand, &delta, sizeof delta);
    return ctx_merge(ctx, o, obj, key, key_len, operand);
}

int
plane_ctx_reg_get(struct plane_ctx *ctx, uint16_t obj, const void *key,
                  size_t key_len, void *value)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_REGISTER, "reg_get");
    return o ? plane_object_get(o, key, key_len, value) : PLANE_EINVAL;
}

void
plane_ctx_cms_add(struct plane_ctx *ctx, uint16_t obj, const void *item,
                  size_t len, uint64_t count)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_CMS, "cms_add");
    if (o) {
        plane_object_cms_add(o, item, len, count);
        ctx_log_sketch(ctx, obj, item, len, &count, sizeof count);
    }
}

uint64_t
plane_ctx_cms_estimate(struct plane_ctx *ctx, uint16_t obj, const void *item,
                       size_t len)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_CMS, "cms_estimate");
    return o ? plane_object_cms_estimate(o, item, len) : 0;
}

void
plane_ctx_bloom_add(struct plane_ctx *ctx, uint16_t obj, const void *item,
                    size_t len)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_BLOOM, "bloom_add");
    if (o) {
        plane_object_bloom_add(o, item, len);
        ctx_log_sketch(ctx, obj, item, len, NULL, 0);
    }
}

bool
plane_ctx_bloom_test(struct plane_ctx *ctx, uint16_t obj, const void *item,
                     size_t len)
{
    struct plane_object *o = ctx_obj(ctx, obj, PLANE_OBJ_BLOOM, "bloom_test");
    return o ? plane_object_bloom_test(o, item, len) : false;
}

/* ---- Running a packet ---- */

static bool
verdict_ok(enum plane_verdict v)
{
    return v == PLANE_V_FORWARD || v == PLANE_V_DROP || v == PLANE_V_MISS;
}

static enum plane_verdict
call_process(struct plane_ctx *ctx)
{
    const struct plane_app_desc *desc = ctx->inst->app->desc;
    enum plane_verdict v = desc->process(ctx, ctx->inst->state);
    if (!verdict_ok(v)) {
        PLANE_CTR_INC(&ctx->inst->stats, bad_verdicts);
        PLANE_WARN_RL(&misuse_rl, "app \"%s\": process() returned verdict %d; "
                      "dropping", desc->name, (int) v);
        return PLANE_V_DROP;
    }
    return v;
}

/* Decides what to do with a first-pass MISS.  Returns the final verdict. */
static enum plane_verdict
handle_miss(struct plane_ctx *ctx)
{
    struct plane_app_inst *inst = ctx->inst;
    const struct plane_app_desc *desc = inst->app->desc;
    struct plane_run_result *out = ctx->out;

    PLANE_CTR_INC(&inst->stats, misses);
    if (!inst->external) {
        /* The switch has no control logic on the packet path: the daemon
         * sends the packet to the device owning its union key. */
        return PLANE_V_MISS;
    }
    if (!desc->new_flow) {
        PLANE_CTR_INC(&inst->stats, new_flow_denied);
        return PLANE_V_DROP;
    }
    ctx->control = true;
    int rc = desc->new_flow(ctx, inst->state);
    ctx->control = false;
    PLANE_CTR_INC(&inst->stats, new_flows);
    out->new_flow_ran = true;
    out->new_flow_rc = rc;
    if (rc != 0) {
        PLANE_CTR_INC(&inst->stats, new_flow_denied);
        return PLANE_V_DROP;
    }
    ctx->egress = ctx->in_port;
    enum plane_verdict v = call_process(ctx);
    if (v == PLANE_V_MISS) {
        PLANE_CTR_INC(&inst->stats, miss_after_new_flow);
        PLANE_WARN_RL(&misuse_rl, "app \"%s\": still a miss after new_flow(); "
                      "dropping", desc->name);
        return PLANE_V_DROP;
    }
    return v;
}

/* Starts out for one frame: no verdict or updates yet, egress = in_port; counted. */
static void
run_begin(struct plane_app_inst *inst, uint16_t in_port, struct plane_run_result *out)
{
    /* The update log is written entry by entry; zeroing only the header
     * keeps a 2 KiB memset off the packet path. */
    memset(out, 0, offsetof(struct plane_run_result, updates));
    out->egress_port = in_port;
    PLANE_CTR_INC(&inst->stats, processed);
}

int
plane_app_inst_run(struct plane_app_inst *inst, uint8_t *frame, size_t len,
                   uint16_t in_port, uint64_t now_ns,
                   struct plane_run_result *out)
{
    struct plane_pkt pkt;
    if (!inst || !frame || !out) {
        return PLANE_EINVAL;
    }
    if (plane_pkt_parse(frame, len, &pkt) != 0) {
        static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
        run_begin(inst, in_port, out);
        PLANE_CTR_INC(&inst->stats, parse_errors);
        PLANE_CTR_INC(&inst->stats, dropped);
        PLANE_DBG_RL(&rl, "app \"%s\": dropping an unparseable frame of %zu "
                     "bytes", inst->app->desc->name, len);
        out->verdict = PLANE_V_DROP;
        out->parse_error = true;
        return 0;
    }
    return plane_app_inst_run_parsed(inst, frame, len, &pkt, in_port, now_ns, out);
}

int
plane_app_inst_run_parsed(struct plane_app_inst *inst, uint8_t *frame, size_t len,
                          const struct plane_pkt *pkt, uint16_t in_port, uint64_t now_ns,
                          struct plane_run_result *out)
{
    if (!inst || !frame || !pkt || !out) {
        return PLANE_EINVAL;
    }
    run_begin(inst, in_port, out);

    struct plane_ctx ctx;
    ctx.inst = inst;
    ctx.frame = frame;
    ctx.len = len;
    ctx.in_port = in_port;
    ctx.egress = in_port;
    ctx.now_ns = now_ns;
    ctx.control = false;
    ctx.out = out;
    ctx.pkt = *pkt;
    ctx.pkt_key = ctx.pkt.key;
    plane_app_inst_state_key(inst, &ctx.pkt.key, &ctx.key);
    plane_flow_key_mask(&ctx.key, inst->app->desc->union_key_fields,
                        &out->union_key);

    enum plane_verdict v = call_process(&ctx);
    if (v == PLANE_V_MISS) {
        v = handle_miss(&ctx);
    }
    out->verdict = v;
    out->egress_port = ctx.egress;
    if (v == PLANE_V_FORWARD) {
        PLANE_CTR_INC(&inst->stats, forwarded);
    } else if (v == PLANE_V_DROP) {
        PLANE_CTR_INC(&inst->stats, dropped);
    }
    return 0;
}

void
plane_app_inst_log_merges(struct plane_app_inst *inst, bool on)
{
    inst->log_merges = on;
}

void
plane_app_inst_state_key(const struct plane_app_inst *inst,
                         const struct plane_flow_key *flow,
                         struct plane_flow_key *out)
{
    const struct plane_app_desc *desc = inst->app->desc;
    if (!desc->state_key) {
        *out = *flow;
        return;
    }
    struct plane_flow_key k;
    plane_flow_key_init(&k);
    desc->state_key(flow, &k, inst->state);
    /* The result is hashed and compared as bytes: keep the pad defined
     * whatever the app wrote. */
    memset(k.pad, 0, sizeof k.pad);
    *out = k;
}

void
plane_app_inst_union_key(const struct plane_app_inst *inst,
                         const struct plane_flow_key *flow,
                         struct plane_flow_key *out)
{
    struct plane_flow_key k;
    plane_app_inst_state_key(inst, flow, &k);
    plane_flow_key_mask(&k, inst->app->desc->union_key_fields, out);
}

int
plane_app_inst_entry_keys(const struct plane_app_inst *inst,
                          const struct plane_flow_key *union_key,
                          plane_app_entry_fn cb, void *arg)
{
    const struct plane_app *app = inst->app;
    for (uint16_t i = 0; i < app->desc->n_objects; i++) {
        enum plane_obj_kind kind = app->objs[i].kind;
        if (kind != PLANE_OBJ_TABLE && kind != PLANE_OBJ_REGISTER) {
            continue;
        }
        struct plane_flow_key k;
        plane_flow_key_mask(union_key, app->objs[i].key_fields, &k);
        const void *value = plane_object_lookup(inst->objects[i], &k, sizeof k);
        int rc = cb(arg, i, &k, sizeof k, value);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
