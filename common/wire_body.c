/* Encoders and strict zone decoders of every control-message body (layouts in docs/protocol.md). */
#include "common/wire_body.h"

#include <string.h>

#include <plane/error.h>

#include "common/mp.h"
#include "common/wire.h"

/* ---- shared helpers ---------------------------------------------------- */

static int
w_done(const struct plane_mp_writer *w)
{
    return w->overflow ? PLANE_EMSGSIZE : 0;
}

/* Packs a bin that may be NULL when empty. */
static void
w_bin(struct plane_mp_writer *w, const uint8_t *p, uint32_t n)
{
    plane_mp_write_bin(w, p, n);
}

/* Reads a list header, checks its count against the cap (the reader
 * already checked it against the bytes left), and allocates n items. */
static int
r_list(struct plane_mp_reader *r, struct plane_mp_zone *z, size_t item_size,
       uint32_t *n, void **items)
{
    int rc = plane_mp_read_array(r, n);
    if (rc) {
        return rc;
    }
    if (*n > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EBADMSG;
    }
    if (*n == 0) {
        *items = NULL;
        return 0;
    }
    *items = plane_mp_zone_calloc(z, *n, item_size);
    return *items ? 0 : PLANE_ENOMEM;
}

/* Reads a str into the zone as a C string; a NUL inside it is EBADMSG. */
static int
r_cstr(struct plane_mp_reader *r, struct plane_mp_zone *z, const char **out)
{
    const char *s;
    uint32_t n;
    int rc = plane_mp_read_str(r, &s, &n);
    if (rc) {
        return rc;
    }
    if (memchr(s, '\0', n)) {
        return PLANE_EBADMSG;
    }
    char *copy = plane_mp_zone_strndup(z, s, n);
    if (!copy) {
        return PLANE_ENOMEM;
    }
    *out = copy;
    return 0;
}

static int
r_u8_max(struct plane_mp_reader *r, uint8_t max, uint8_t *v)
{
    int rc = plane_mp_read_u8(r, v);
    if (!rc && *v > max) {
        rc = PLANE_EBADMSG;
    }
    return rc;
}

/* The body must have been consumed exactly. */
static int
r_end(const struct plane_mp_reader *r)
{
    return plane_mp_reader_done(r) ? 0 : PLANE_EBADMSG;
}

/* ---- empty ------------------------------------------------------------- */

int
plane_body_empty_encode(const struct plane_body_empty *v, struct plane_mp_writer *w)
{
    msgpack_pack_nil(&w->pk);
    return w_done(w);
}

int
plane_body_empty_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                        struct plane_body_empty *out)
{
    struct plane_mp_reader r;
    plane_mp_reader_init(&r, body, len);
    int rc = plane_mp_peek_byte(&r) == 0xc0 ? plane_mp_read_nil(&r)
                                            : plane_mp_read_array_n(&r, 0);
    if (rc) {
        return rc;
    }
    out->unused = 0;
    return r_end(&r);
}

/* ---- hello ------------------------------------------------------------- */

int
plane_body_hello_encode(const struct plane_body_hello *v, struct plane_mp_writer *w)
{
    msgpack_packer *pk = &w->pk;
    if (v->n_ports > PLANE_HELLO_MAX_PORTS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(pk, 7);
    msgpack_pack_uint16(pk, v->device_id);
    msgpack_pack_uint8(pk, v->role);
    plane_mp_write_cstr(w, v->name);
    msgpack_pack_uint64(pk, v->features);
    msgpack_pack_uint64(pk, v->incarnation);
    msgpack_pack_uint16(pk, v->proto_version);
    msgpack_pack_array(pk, v->n_ports);
    for (uint32_t i = 0; i < v->n_ports; i++) {
        msgpack_pack_uint16(pk, v->ports[i]);
    }
    return w_done(w);
}

int
plane_body_hello_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                        struct plane_body_hello *out)
{
    struct plane_mp_reader r;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 7))
        || (rc = plane_mp_read_u16(&r, &out->device_id))
        || (rc = r_u8_max(&r, PLANE_DEV_ROLE_MAX, &out->role))
        || (rc = r_cstr(&r, z, &out->name))
        || (rc = plane_mp_read_uint(&r, &out->features))
        || (rc = plane_mp_read_uint(&r, &out->incarnation))
        || (rc = plane_mp_read_u16(&r, &out->proto_version))
        || (rc = plane_mp_read_array(&r, &out->n_ports))) {
        return rc;
    }
    if (out->n_ports > PLANE_HELLO_MAX_PORTS) {
        return PLANE_EBADMSG;
    }
    uint16_t *ports = NULL;
    if (out->n_ports) {
        ports = plane_mp_zone_calloc(z, out->n_ports, sizeof *ports);
        if (!ports) {
            return PLANE_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < out->n_ports; i++) {
        if ((rc = plane_mp_read_u16(&r, &ports[i]))) {
            return rc;
        }
    }
    out->ports = ports;
    return r_end(&r);
}

/* ---- heartbeat --------------------------------------------------------- */

int
plane_body_heartbeat_encode(const struct plane_body_heartbeat *v,
                            struct plane_mp_writer *w)
{
    msgpack_pack_array(&w->pk, 3);
    msgpack_pack_uint64(&w->pk, v->sender_ns);
    msgpack_pack_uint64(&w->pk, v->echo_ns);
    msgpack_pack_uint8(&w->pk, v->state);
    return w_done(w);
}

int
plane_body_heartbeat_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                            struct plane_body_heartbeat *out)
{
    struct plane_mp_reader r;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 3))
        || (rc = plane_mp_read_uint(&r, &out->sender_ns))
        || (rc = plane_mp_read_uint(&r, &out->echo_ns))
        || (rc = r_u8_max(&r, PLANE_HB_UP, &out->state))) {
        return rc;
    }
    return r_end(&r);
}

/* ---- entries (shared by entries and update) ----------------------------- */

static void
w_entry_list(struct plane_mp_writer *w, const struct plane_body_entry *e, uint32_t n)
{
    msgpack_pack_array(&w->pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(&w->pk, 4);
        msgpack_pack_uint16(&w->pk, e[i].object_id);
        w_bin(w, e[i].key, e[i].key_len);
        w_bin(w, e[i].value, e[i].value_len);
        msgpack_pack_uint32(&w->pk, e[i].flags);
    }
}

static int
r_entry_list(struct plane_mp_reader *r, struct plane_mp_zone *z, uint32_t *n,
             const struct plane_body_entry **out)
{
    struct plane_body_entry *e;
    int rc = r_list(r, z, sizeof *e, n, (void **)&e);
    if (rc) {
        return rc;
    }
    for (uint32_t i = 0; i < *n; i++) {
        if ((rc = plane_mp_read_array_n(r, 4))
            || (rc = plane_mp_read_u16(r, &e[i].object_id))
            || (rc = plane_mp_read_bin(r, &e[i].key, &e[i].key_len))
            || (rc = plane_mp_read_bin(r, &e[i].value, &e[i].value_len))
            || (rc = plane_mp_read_u32(r, &e[i].flags))) {
            return rc;
        }
    }
    *out = e;
    return 0;
}

int
plane_body_entries_encode(const struct plane_body_entries *v, struct plane_mp_writer *w)
{
    if (v->n_entries > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(&w->pk, 2);
    msgpack_pack_uint16(&w->pk, v->app_id);
    w_entry_list(w, v->entries, v->n_entries);
    return w_done(w);
}

int
plane_body_entries_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                          struct plane_body_entries *out)
{
    struct plane_mp_reader r;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 2))
        || (rc = plane_mp_read_u16(&r, &out->app_id))
        || (rc = r_entry_list(&r, z, &out->n_entries, &out->entries))) {
        return rc;
    }
    return r_end(&r);
}

/* ---- update ------------------------------------------------------------ */

int
plane_body_update_encode(const struct plane_body_update *v, struct plane_mp_writer *w)
{
    if (v->n_entries > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(&w->pk, 5);
    msgpack_pack_uint16(&w->pk, v->app_id);
    msgpack_pack_uint64(&w->pk, v->update_id);
    msgpack_pack_uint8(&w->pk, v->phase);
    w_bin(w, v->union_key, v->union_key_len);
    w_entry_list(w, v->entries, v->n_entries);
    return w_done(w);
}

int
plane_body_update_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                         struct plane_body_update *out)
{
    struct plane_mp_reader r;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 5))
        || (rc = plane_mp_read_u16(&r, &out->app_id))
        || (rc = plane_mp_read_uint(&r, &out->update_id))
        || (rc = r_u8_max(&r, PLANE_UPDATE_PHASE_MAX, &out->phase))
        || (rc = plane_mp_read_bin(&r, &out->union_key, &out->union_key_len))
        || (rc = r_entry_list(&r, z, &out->n_entries, &out->entries))) {
        return rc;
    }
    return r_end(&r);
}

/* ---- sync -------------------------------------------------------------- */

int
plane_body_sync_encode(const struct plane_body_sync *v, struct plane_mp_writer *w)
{
    if (v->n_items > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(&w->pk, 4);
    msgpack_pack_uint16(&w->pk, v->app_id);
    msgpack_pack_uint64(&w->pk, v->epoch);
    msgpack_pack_uint64(&w->pk, v->round);
    msgpack_pack_array(&w->pk, v->n_items);
    for (uint32_t i = 0; i < v->n_items; i++) {
        const struct plane_body_sync_item *it = &v->items[i];
        msgpack_pack_array(&w->pk, 4);
        msgpack_pack_uint16(&w->pk, it->object_id);
        w_bin(w, it->key, it->key_len);
        w_bin(w, it->snapshot, it->snapshot_len);
        w_bin(w, it->history, it->history_len);
    }
    return w_done(w);
}

int
plane_body_sync_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                       struct plane_body_sync *out)
{
    struct plane_mp_reader r;
    struct plane_body_sync_item *it;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 4))
        || (rc = plane_mp_read_u16(&r, &out->app_id))
        || (rc = plane_mp_read_uint(&r, &out->epoch))
        || (rc = plane_mp_read_uint(&r, &out->round))
        || (rc = r_list(&r, z, sizeof *it, &out->n_items, (void **)&it))) {
        return rc;
    }
    for (uint32_t i = 0; i < out->n_items; i++) {
        if ((rc = plane_mp_read_array_n(&r, 4))
            || (rc = plane_mp_read_u16(&r, &it[i].object_id))
            || (rc = plane_mp_read_bin(&r, &it[i].key, &it[i].key_len))
            || (rc = plane_mp_read_bin(&r, &it[i].snapshot, &it[i].snapshot_len))
            || (rc = plane_mp_read_bin(&r, &it[i].history, &it[i].history_len))) {
            return rc;
        }
    }
    out->items = it;
    return r_end(&r);
}

/* ---- pop --------------------------------------------------------------- */

int
plane_body_pop_encode(const struct plane_body_pop *v, struct plane_mp_writer *w)
{
    if (v->n_items > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(&w->pk, 2);
    msgpack_pack_uint16(&w->pk, v->app_id);
    msgpack_pack_array(&w->pk, v->n_items);
    for (uint32_t i = 0; i < v->n_items; i++) {
        msgpack_pack_array(&w->pk, 2);
        w_bin(w, v->items[i].union_key, v->items[i].union_key_len);
        msgpack_pack_uint64(&w->pk, v->items[i].count);
    }
    return w_done(w);
}

int
plane_body_pop_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                      struct plane_body_pop *out)
{
    struct plane_mp_reader r;
    struct plane_body_pop_item *it;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 2))
        || (rc = plane_mp_read_u16(&r, &out->app_id))
        || (rc = r_list(&r, z, sizeof *it, &out->n_items, (void **)&it))) {
        return rc;
    }
    for (uint32_t i = 0; i < out->n_items; i++) {
        if ((rc = plane_mp_read_array_n(&r, 2))
            || (rc = plane_mp_read_bin(&r, &it[i].union_key, &it[i].union_key_len))
            || (rc = plane_mp_read_uint(&r, &it[i].count))) {
            return rc;
        }
    }
    out->items = it;
    return r_end(&r);
}

/* ---- devmap ------------------------------------------------------------ */

int
plane_body_devmap_encode(const struct plane_body_devmap *v, struct plane_mp_writer *w)
{
    if (v->n_items > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(&w->pk, 2);
    msgpack_pack_uint64(&w->pk, v->epoch);
    msgpack_pack_array(&w->pk, v->n_items);
    for (uint32_t i = 0; i < v->n_items; i++) {
        const struct plane_body_devmap_item *it = &v->items[i];
        msgpack_pack_array(&w->pk, 4);
        msgpack_pack_uint16(&w->pk, it->logical);
        msgpack_pack_uint16(&w->pk, it->primary);
        msgpack_pack_uint16(&w->pk, it->replica);
        msgpack_pack_uint8(&w->pk, it->state);
    }
    return w_done(w);
}

int
plane_body_devmap_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                         struct plane_body_devmap *out)
{
    struct plane_mp_reader r;
    struct plane_body_devmap_item *it;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 2))
        || (rc = plane_mp_read_uint(&r, &out->epoch))
        || (rc = r_list(&r, z, sizeof *it, &out->n_items, (void **)&it))) {
        return rc;
    }
    for (uint32_t i = 0; i < out->n_items; i++) {
        if ((rc = plane_mp_read_array_n(&r, 4))
            || (rc = plane_mp_read_u16(&r, &it[i].logical))
            || (rc = plane_mp_read_u16(&r, &it[i].primary))
            || (rc = plane_mp_read_u16(&r, &it[i].replica))
            || (rc = r_u8_max(&r, PLANE_DEVMAP_STATE_MAX, &it[i].state))) {
            return rc;
        }
    }
    out->items = it;
    return r_end(&r);
}

/* ---- stats ------------------------------------------------------------- */

int
plane_body_stats_encode(const struct plane_body_stats *v, struct plane_mp_writer *w)
{
    if (v->n_stats > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(&w->pk, 1);
    msgpack_pack_array(&w->pk, v->n_stats);
    for (uint32_t i = 0; i < v->n_stats; i++) {
        msgpack_pack_array(&w->pk, 2);
        plane_mp_write_cstr(w, v->stats[i].name);
        msgpack_pack_uint64(&w->pk, v->stats[i].value);
    }
    return w_done(w);
}

int
plane_body_stats_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                        struct plane_body_stats *out)
{
    struct plane_mp_reader r;
    struct plane_body_stat *st;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 1))
        || (rc = r_list(&r, z, sizeof *st, &out->n_stats, (void **)&st))) {
        return rc;
    }
    for (uint32_t i = 0; i < out->n_stats; i++) {
        if ((rc = plane_mp_read_array_n(&r, 2))
            || (rc = r_cstr(&r, z, &st[i].name))
            || (rc = plane_mp_read_uint(&r, &st[i].value))) {
            return rc;
        }
    }
    out->stats = st;
    return r_end(&r);
}

/* ---- app_deploy -------------------------------------------------------- */

int
plane_body_app_deploy_encode(const struct plane_body_app_deploy *v,
                             struct plane_mp_writer *w)
{
    if (v->n_params > PLANE_BODY_MAX_ITEMS) {
        return PLANE_EINVAL;
    }
    msgpack_pack_array(&w->pk, 4);
    msgpack_pack_uint16(&w->pk, v->app_id);
    plane_mp_write_cstr(w, v->name);
    plane_mp_write_cstr(w, v->module);
    msgpack_pack_array(&w->pk, v->n_params);
    for (uint32_t i = 0; i < v->n_params; i++) {
        msgpack_pack_array(&w->pk, 2);
        plane_mp_write_cstr(w, v->params[i].key);
        plane_mp_write_cstr(w, v->params[i].value);
    }
    return w_done(w);
}

int
plane_body_app_deploy_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                             struct plane_body_app_deploy *out)
{
    struct plane_mp_reader r;
    struct plane_body_param *pa;
    int rc;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 4))
        || (rc = plane_mp_read_u16(&r, &out->app_id))
        || (rc = r_cstr(&r, z, &out->name))
        || (rc = r_cstr(&r, z, &out->module))
        || (rc = r_list(&r, z, sizeof *pa, &out->n_params, (void **)&pa))) {
        return rc;
    }
    for (uint32_t i = 0; i < out->n_params; i++) {
        if ((rc = plane_mp_read_array_n(&r, 2))
            || (rc = r_cstr(&r, z, &pa[i].key))
            || (rc = r_cstr(&r, z, &pa[i].value))) {
            return rc;
        }
    }
    out->params = pa;
    return r_end(&r);
}

/* ---- admin ------------------------------------------------------------- */

int
plane_body_admin_encode(const struct plane_body_admin *v, struct plane_mp_writer *w)
{
    msgpack_pack_array(&w->pk, 4);
    msgpack_pack_uint8(&w->pk, v->op);
    msgpack_pack_uint16(&w->pk, v->app_id);
    msgpack_pack_uint16(&w->pk, v->device);
    w_bin(w, v->key, v->key_len);
    return w_done(w);
}

int
plane_body_admin_decode(const uint8_t *body, size_t len, struct plane_mp_zone *z,
                        struct plane_body_admin *out)
{
    struct plane_mp_reader r;
    int rc;
    (void) z;
    plane_mp_reader_init(&r, body, len);
    if ((rc = plane_mp_read_array_n(&r, 4))
        || (rc = r_u8_max(&r, PLANE_ADMIN_OP_MAX, &out->op))
        || (rc = plane_mp_read_u16(&r, &out->app_id))
        || (rc = plane_mp_read_u16(&r, &out->device))
        || (rc = plane_mp_read_bin(&r, &out->key, &out->key_len))) {
        return rc;
    }
    return r_end(&r);
}

/* ---- dispatch ---------------------------------------------------------- */

int
plane_wire_body_kind(int msg_type, bool is_response)
{
    switch (msg_type) {
#define PLANE_BODY_KIND_CASE_(NAME, VAL, REQ, RESP)                            \
    case VAL: return is_response ? PLANE_BODY_##RESP : PLANE_BODY_##REQ;
    PLANE_MSG_TYPES(PLANE_BODY_KIND_CASE_)
#undef PLANE_BODY_KIND_CASE_
    default:
        return -1;
    }
}

const char *
plane_body_kind_name(int kind)
{
    switch (kind) {
#define PLANE_BODY_NAME_CASE_(K) case PLANE_BODY_##K: return #K;
    PLANE_BODY_KINDS(PLANE_BODY_NAME_CASE_)
#undef PLANE_BODY_NAME_CASE_
    default:
        return NULL;
    }
}

int
plane_wire_body_decode_any(int msg_type, bool is_response, const uint8_t *body,
                           size_t len, struct plane_mp_zone *z, union plane_body *out)
{
    if (msg_type == PLANE_MSG_STATS && !is_response
        && (len == 0 || (len == 1 && body[0] == 0xc0))) {
        /* A STATS request without a body (none, or nil as an empty body
         * is sent) asks for every counter (common/statpage.h). */
        out->stats.n_stats = 0;
        out->stats.stats = NULL;
        return 0;
    }
    switch (plane_wire_body_kind(msg_type, is_response)) {
#define PLANE_BODY_DECODE_CASE_(K)                                             \
    case PLANE_BODY_##K:                                                       \
        return plane_body_##K##_decode(body, len, z, &out->K);
    PLANE_BODY_KINDS(PLANE_BODY_DECODE_CASE_)
#undef PLANE_BODY_DECODE_CASE_
    default:
        return PLANE_ENOTSUP;
    }
}
