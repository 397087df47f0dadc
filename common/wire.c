/* The DATA header and CONTROL envelope of every datagram: encode and strict decode. */
#include "common/wire.h"

#include <string.h>

#include <plane/error.h>

#include "common/mp.h"

#define DATA_FIELDS 11
#define CTL_FIELDS 10

const char *
plane_msg_type_name(int type)
{
    switch (type) {
#define PLANE_MSG_NAME_(NAME, VAL, REQ, RESP) case VAL: return #NAME;
    PLANE_MSG_TYPES(PLANE_MSG_NAME_)
#undef PLANE_MSG_NAME_
    default:
        return NULL;
    }
}

/*
 * Reads the header array and its elements 0 (version) and 1 (class).
 * The array may have any size >= 2 here, so a datagram of a future version
 * with a different layout is reported as PLANE_EVERSION, not EBADMSG.
 */
static int
wire_head(struct plane_mp_reader *r, uint32_t *n, enum plane_wire_class *cls)
{
    uint64_t version, c;
    int rc = plane_mp_read_array(r, n);
    if (rc) {
        return rc;
    }
    if (*n < 2) {
        return PLANE_EBADMSG;
    }
    if ((rc = plane_mp_read_uint(r, &version))) {
        return rc;
    }
    if (version != PLANE_WIRE_VERSION) {
        return PLANE_EVERSION;
    }
    if ((rc = plane_mp_read_uint(r, &c))) {
        return rc;
    }
    if (c != PLANE_WIRE_DATA && c != PLANE_WIRE_CONTROL) {
        return PLANE_EBADMSG;
    }
    *cls = (enum plane_wire_class)c;
    return 0;
}

/*
 * Opens a datagram of class want whose header array has n_fields elements:
 * checks the size, reads elements 0 and 1, and leaves r at element 2.
 */
static int
wire_open(struct plane_mp_reader *r, const uint8_t *buf, size_t len,
          enum plane_wire_class want, uint32_t n_fields)
{
    enum plane_wire_class cls;
    uint32_t n;
    int rc;

    if (len > PLANE_WIRE_MAX_DATAGRAM) {
        return PLANE_EMSGSIZE;
    }
    plane_mp_reader_init(r, buf, len);
    if ((rc = wire_head(r, &n, &cls))) {
        return rc;
    }
    if (cls != want || n != n_fields) {
        return PLANE_EBADMSG;
    }
    return 0;
}

int
plane_wire_peek(const uint8_t *buf, size_t len, enum plane_wire_class *cls)
{
    struct plane_mp_reader r;
    uint32_t n;
    plane_mp_reader_init(&r, buf, len);
    return wire_head(&r, &n, cls);
}

int
plane_wire_data_encode(const struct plane_wire_data *d, uint8_t *buf, size_t cap)
{
    struct plane_mp_writer w;
    if (cap > PLANE_WIRE_MAX_DATAGRAM) {
        cap = PLANE_WIRE_MAX_DATAGRAM;
    }
    if (d->frame_len && !d->frame) {
        return PLANE_EINVAL;
    }
    plane_mp_writer_init(&w, buf, cap);
    msgpack_packer *pk = &w.pk;
    msgpack_pack_array(pk, DATA_FIELDS);
    msgpack_pack_uint8(pk, PLANE_WIRE_VERSION);
    msgpack_pack_uint8(pk, PLANE_WIRE_DATA);
    msgpack_pack_uint16(pk, d->app_id);
    msgpack_pack_uint64(pk, d->key_hash);
    msgpack_pack_uint16(pk, d->ldev);
    msgpack_pack_uint16(pk, d->pdev);
    msgpack_pack_uint32(pk, d->flags);
    msgpack_pack_uint64(pk, d->ingress_ns);
    msgpack_pack_uint16(pk, d->port);
    msgpack_pack_uint16(pk, d->processed_by);
    msgpack_pack_uint64(pk, d->processed_ns);
    plane_mp_write_raw(&w, d->frame, d->frame_len);
    if (w.overflow || w.len > INT32_MAX) {
        return PLANE_EMSGSIZE;
    }
    return (int)w.len;
}

int
plane_wire_data_decode(const uint8_t *buf, size_t len, struct plane_wire_data *d)
{
    struct plane_mp_reader r;
    int rc;

    if ((rc = wire_open(&r, buf, len, PLANE_WIRE_DATA, DATA_FIELDS))) {
        return rc;
    }
    if ((rc = plane_mp_read_u16(&r, &d->app_id))
        || (rc = plane_mp_read_uint(&r, &d->key_hash))
        || (rc = plane_mp_read_u16(&r, &d->ldev))
        || (rc = plane_mp_read_u16(&r, &d->pdev))
        || (rc = plane_mp_read_u32(&r, &d->flags))
        || (rc = plane_mp_read_uint(&r, &d->ingress_ns))
        || (rc = plane_mp_read_u16(&r, &d->port))
        || (rc = plane_mp_read_u16(&r, &d->processed_by))
        || (rc = plane_mp_read_uint(&r, &d->processed_ns))) {
        return rc;
    }
    d->frame = r.p;
    d->frame_len = r.left;
    return 0;
}

int
plane_wire_ctl_begin(const struct plane_wire_ctl *c, struct plane_mp_writer *w)
{
    msgpack_packer *pk = &w->pk;
    msgpack_pack_array(pk, CTL_FIELDS);
    msgpack_pack_uint8(pk, PLANE_WIRE_VERSION);
    msgpack_pack_uint8(pk, PLANE_WIRE_CONTROL);
    msgpack_pack_uint8(pk, c->kind);
    msgpack_pack_uint16(pk, c->sender);
    msgpack_pack_uint64(pk, c->incarnation);
    msgpack_pack_uint64(pk, c->seq);
    msgpack_pack_uint64(pk, c->request_id);
    msgpack_pack_uint16(pk, c->msg_type);
    msgpack_pack_int32(pk, c->status);
    return w->overflow ? PLANE_EMSGSIZE : 0;
}

int
plane_wire_ctl_end(struct plane_mp_writer *w)
{
    static const uint8_t zero_mac[PLANE_WIRE_MAC_LEN];
    plane_mp_write_raw(w, zero_mac, sizeof zero_mac);
    if (w->overflow || w->len > PLANE_WIRE_MAX_DATAGRAM) {
        return PLANE_EMSGSIZE;
    }
    return (int)w->len;
}

int
plane_wire_ctl_encode(const struct plane_wire_ctl *c, uint8_t *buf, size_t cap)
{
    struct plane_mp_writer w;
    if (c->body_len && !c->body) {
        return PLANE_EINVAL;
    }
    if (cap > PLANE_WIRE_MAX_DATAGRAM) {
        cap = PLANE_WIRE_MAX_DATAGRAM;
    }
    plane_mp_writer_init(&w, buf, cap);
    plane_wire_ctl_begin(c, &w);
    if (c->body_len) {
        plane_mp_write_raw(&w, c->body, c->body_len);
    } else {
        msgpack_pack_nil(&w.pk);    /* no body: nil, the "empty" body */
    }
    return plane_wire_ctl_end(&w);
}

int
plane_wire_ctl_decode(const uint8_t *buf, size_t len, struct plane_wire_ctl *c)
{
    struct plane_mp_reader r;
    size_t body_len;
    int rc;

    if ((rc = wire_open(&r, buf, len, PLANE_WIRE_CONTROL, CTL_FIELDS))) {
        return rc;
    }
    if ((rc = plane_mp_read_u8(&r, &c->kind))
        || (rc = plane_mp_read_u16(&r, &c->sender))
        || (rc = plane_mp_read_uint(&r, &c->incarnation))
        || (rc = plane_mp_read_uint(&r, &c->seq))
        || (rc = plane_mp_read_uint(&r, &c->request_id))
        || (rc = plane_mp_read_u16(&r, &c->msg_type))
        || (rc = plane_mp_read_i32(&r, &c->status))) {
        return rc;
    }
    if (c->kind != PLANE_CTL_REQUEST && c->kind != PLANE_CTL_RESPONSE) {
        return PLANE_EBADMSG;
    }
    rc = plane_mp_check(r.p, r.left, &body_len, PLANE_WIRE_BODY_MAX_DEPTH,
                        PLANE_WIRE_BODY_MAX_ELEMS);
    if (rc) {
        return rc;
    }
    if (body_len != r.left) {
        return PLANE_EBADMSG;       /* trailing bytes after the body */
    }
    c->body = r.p;
    c->body_len = body_len;
    return 0;
}
