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

/* The most a DATA header takes: a fixarray, two fixints, nine uints of <= 9 bytes. */
#define DATA_HEADER_MAX (1 + 2 + 9 * 9)

/* Writes v at p as msgpack's shortest unsigned form, the bytes
 * msgpack_pack_uint8..64 write; returns the end. */
static inline uint8_t *
put_uint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p++ = (uint8_t) v;
        return p;
    }
    int n;
    if (v <= UINT8_MAX) {
        *p++ = 0xcc;
        n = 1;
    } else if (v <= UINT16_MAX) {
        *p++ = 0xcd;
        n = 2;
    } else if (v <= UINT32_MAX) {
        *p++ = 0xce;
        n = 4;
    } else {
        *p++ = 0xcf;
        n = 8;
    }
    for (int i = n - 1; i >= 0; i--) {
        *p++ = (uint8_t) (v >> (8 * i));
    }
    return p;
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
    if (cap >= DATA_HEADER_MAX && d->frame_len <= cap - DATA_HEADER_MAX) {
        /* Every packet takes this path: the same bytes as the packer below,
         * written directly (the packer's per-field callbacks were a fifth
         * of the hit path's instructions; docs/benchmarks.md). */
        uint8_t *p = buf;
        *p++ = 0x90 | DATA_FIELDS;
        *p++ = PLANE_WIRE_VERSION;
        *p++ = PLANE_WIRE_DATA;
        p = put_uint(p, d->app_id);
        p = put_uint(p, d->key_hash);
        p = put_uint(p, d->ldev);
        p = put_uint(p, d->pdev);
        p = put_uint(p, d->flags);
        p = put_uint(p, d->ingress_ns);
        p = put_uint(p, d->port);
        p = put_uint(p, d->processed_by);
        p = put_uint(p, d->processed_ns);
        if (d->frame_len) {
            memcpy(p, d->frame, d->frame_len);
        }
        return (int) ((size_t) (p - buf) + d->frame_len);
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
