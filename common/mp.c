/* msgpack helpers: fixed-buffer packer, allocation-free checker and reader, bump zone. */
#include "common/mp.h"

#include <string.h>

#include <plane/error.h>

#include "common/alloc.h"

/* ---- writer ------------------------------------------------------------ */

static int
plane_mp_writer_cb(void *data, const char *p, size_t n)
{
    struct plane_mp_writer *w = data;
    /* Once overflowed, stay overflowed: a later small write that happens to
     * fit must not leave a hole in the output. */
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return -1;
    }
    if (n) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
    return 0;
}

void
plane_mp_writer_init(struct plane_mp_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->overflow = false;
    msgpack_packer_init(&w->pk, w, plane_mp_writer_cb);
}

int
plane_mp_write_raw(struct plane_mp_writer *w, const void *p, size_t n)
{
    return plane_mp_writer_cb(w, p, n) ? PLANE_EMSGSIZE : 0;
}

int
plane_mp_write_bin(struct plane_mp_writer *w, const void *p, size_t n)
{
    if (n > UINT32_MAX || msgpack_pack_bin(&w->pk, n)
        || (n && msgpack_pack_bin_body(&w->pk, p, n))) {
        w->overflow = true;
        return PLANE_EMSGSIZE;
    }
    return 0;
}

int
plane_mp_write_str(struct plane_mp_writer *w, const char *s, size_t n)
{
    if (n > UINT32_MAX || msgpack_pack_str(&w->pk, n)
        || (n && msgpack_pack_str_body(&w->pk, s, n))) {
        w->overflow = true;
        return PLANE_EMSGSIZE;
    }
    return 0;
}

int
plane_mp_write_cstr(struct plane_mp_writer *w, const char *s)
{
    return plane_mp_write_str(w, s ? s : "", s ? strlen(s) : 0);
}

/* ---- big-endian loads -------------------------------------------------- */

static inline uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
be64(const uint8_t *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* ---- one header -------------------------------------------------------- */

enum mp_kind {
    MP_SCALAR,      /* fully described by the header (+ payload bytes) */
    MP_ARRAY,
    MP_MAP,
};

/*
 * Decodes the header at p[0..left): its size, the payload bytes that follow
 * it (str/bin/ext/fixed-width numbers), and for containers the element
 * count.  Checks only that the header itself fits; callers check payloads
 * and counts against what is left.
 */
struct mp_head {
    enum mp_kind kind;
    size_t hlen;        /* header bytes, including the tag */
    uint64_t payload;   /* bytes after the header (scalars) */
    uint32_t count;     /* elements (arrays) or pairs (maps) */
};

static int
mp_head(const uint8_t *p, size_t left, struct mp_head *h)
{
    if (left < 1) {
        return PLANE_ETRUNC;
    }
    uint8_t t = p[0];
    h->kind = MP_SCALAR;
    h->hlen = 1;
    h->payload = 0;
    h->count = 0;
    if (t <= 0x7f || t >= 0xe0) {           /* positive / negative fixint */
        return 0;
    }
    if (t >= 0x80 && t <= 0x8f) {
        h->kind = MP_MAP;
        h->count = t & 0x0f;
        return 0;
    }
    if (t >= 0x90 && t <= 0x9f) {
        h->kind = MP_ARRAY;
        h->count = t & 0x0f;
        return 0;
    }
    if (t >= 0xa0 && t <= 0xbf) {           /* fixstr */
        h->payload = t & 0x1f;
        return 0;
    }
    size_t lenbytes = 0;        /* width of a length/count field after the tag */
    size_t extra = 0;           /* ext: the type byte */
    switch (t) {
    case 0xc0: case 0xc2: case 0xc3:        /* nil, false, true */
        return 0;
    case 0xc1:
        return PLANE_EBADMSG;
    case 0xc4: case 0xd9: lenbytes = 1; break;      /* bin8, str8 */
    case 0xc5: case 0xda: lenbytes = 2; break;      /* bin16, str16 */
    case 0xc6: case 0xdb: lenbytes = 4; break;      /* bin32, str32 */
    case 0xc7: lenbytes = 1; extra = 1; break;      /* ext8 */
    case 0xc8: lenbytes = 2; extra = 1; break;      /* ext16 */
    case 0xc9: lenbytes = 4; extra = 1; break;      /* ext32 */
    case 0xca: h->payload = 4; return 0;            /* float32 */
    case 0xcb: h->payload = 8; return 0;            /* float64 */
    case 0xcc: case 0xd0: h->payload = 1; return 0; /* (u)int8 */
    case 0xcd: case 0xd1: h->payload = 2; return 0;
    case 0xce: case 0xd2: h->payload = 4; return 0;
    case 0xcf: case 0xd3: h->payload = 8; return 0;
    case 0xd4: h->payload = 2; return 0;            /* fixext1: type + 1 */
    case 0xd5: h->payload = 3; return 0;
    case 0xd6: h->payload = 5; return 0;
    case 0xd7: h->payload = 9; return 0;
    case 0xd8: h->payload = 17; return 0;
    case 0xdc: case 0xde:                           /* array16, map16 */
        if (left < 3) {
            return PLANE_ETRUNC;
        }
        h->kind = t == 0xdc ? MP_ARRAY : MP_MAP;
        h->hlen = 3;
        h->count = be16(p + 1);
        return 0;
    case 0xdd: case 0xdf:                           /* array32, map32 */
        if (left < 5) {
            return PLANE_ETRUNC;
        }
        h->kind = t == 0xdd ? MP_ARRAY : MP_MAP;
        h->hlen = 5;
        h->count = be32(p + 1);
        return 0;
    default:
        return PLANE_EBADMSG;   /* unreachable: every byte is covered above */
    }
    if (left < 1 + lenbytes) {
        return PLANE_ETRUNC;
    }
    uint64_t n = lenbytes == 1 ? p[1] : lenbytes == 2 ? be16(p + 1) : be32(p + 1);
    h->hlen = 1 + lenbytes;
    h->payload = n + extra;
    return 0;
}

/* ---- checker ----------------------------------------------------------- */

int
plane_mp_check(const uint8_t *buf, size_t len, size_t *obj_len,
               unsigned max_depth, size_t max_elems)
{
    /* need[d] = objects still to walk at depth d; need[0] is the top level.
     * An explicit stack keeps hostile nesting from using the C stack. */
    uint64_t need[PLANE_MP_MAX_DEPTH + 1];
    unsigned d = 0;
    size_t pos = 0;
    uint64_t elems = 0;

    if (!buf || !len) {
        return PLANE_ETRUNC;
    }
    if (max_depth > PLANE_MP_MAX_DEPTH) {
        max_depth = PLANE_MP_MAX_DEPTH;
    }
    need[0] = 1;
    for (;;) {
        struct mp_head h;
        int rc = mp_head(buf + pos, len - pos, &h);
        if (rc) {
            return rc;
        }
        if (len - pos < h.hlen) {
            return PLANE_ETRUNC;
        }
        pos += h.hlen;
        size_t left = len - pos;
        if (h.kind == MP_SCALAR) {
            if (h.payload > left) {
                return PLANE_ETRUNC;
            }
            pos += (size_t)h.payload;
        } else {
            uint64_t n = h.kind == MP_MAP ? 2 * (uint64_t)h.count : h.count;
            /* Each element takes at least one byte: reject before anyone
             * could size an allocation from n. */
            if (n > left) {
                return PLANE_ETRUNC;
            }
            if (d + 1 > max_depth) {
                return PLANE_EBADMSG;
            }
            elems += n;
            if (elems > max_elems) {
                return PLANE_EBADMSG;
            }
            if (n > 0) {
                need[++d] = n;
                continue;
            }
        }
        /* One object finished: pop every container it completes. */
        for (;;) {
            if (--need[d] > 0) {
                break;
            }
            if (d == 0) {
                if (obj_len) {
                    *obj_len = pos;
                }
                return 0;
            }
            d--;
        }
    }
}

/* ---- reader ------------------------------------------------------------ */

void
plane_mp_reader_init(struct plane_mp_reader *r, const uint8_t *buf, size_t len)
{
    r->p = buf;
    r->left = buf ? len : 0;
}

int
plane_mp_peek_byte(const struct plane_mp_reader *r)
{
    return r->left ? r->p[0] : -1;
}

bool
plane_mp_reader_done(const struct plane_mp_reader *r)
{
    return r->left == 0;
}

static inline void
mp_advance(struct plane_mp_reader *r, size_t n)
{
    r->p += n;
    r->left -= n;
}

static int
mp_read_container(struct plane_mp_reader *r, enum mp_kind kind, uint32_t *n)
{
    struct mp_head h;
    int rc = mp_head(r->p, r->left, &h);
    if (rc) {
        return rc;
    }
    if (h.kind != kind) {
        return PLANE_EBADMSG;
    }
    uint64_t need = kind == MP_MAP ? 2 * (uint64_t)h.count : h.count;
    if (need > r->left - h.hlen) {
        return PLANE_ETRUNC;
    }
    mp_advance(r, h.hlen);
    *n = h.count;
    return 0;
}

int
plane_mp_read_array(struct plane_mp_reader *r, uint32_t *n)
{
    return mp_read_container(r, MP_ARRAY, n);
}

int
plane_mp_read_array_n(struct plane_mp_reader *r, uint32_t n)
{
    struct plane_mp_reader save = *r;
    uint32_t got;
    int rc = plane_mp_read_array(r, &got);
    if (rc) {
        return rc;
    }
    if (got != n) {
        *r = save;
        return PLANE_EBADMSG;
    }
    return 0;
}

int
plane_mp_read_map(struct plane_mp_reader *r, uint32_t *n)
{
    return mp_read_container(r, MP_MAP, n);
}

/*
 * Reads any integer encoding.  *neg tells whether the value is negative
 * (then *mag holds it as a two's-complement int64 cast), else *mag is the
 * unsigned value.
 */
static int
mp_read_integer(struct plane_mp_reader *r, uint64_t *mag, bool *neg)
{
    if (r->left < 1) {
        return PLANE_ETRUNC;
    }
    uint8_t t = r->p[0];
    size_t w;
    bool sign;
    if (t <= 0x7f) {
        *mag = t;
        *neg = false;
        mp_advance(r, 1);
        return 0;
    }
    if (t >= 0xe0) {
        *mag = (uint64_t)(int64_t)(int8_t)t;
        *neg = true;
        mp_advance(r, 1);
        return 0;
    }
    switch (t) {
    case 0xcc: w = 1; sign = false; break;
    case 0xcd: w = 2; sign = false; break;
    case 0xce: w = 4; sign = false; break;
    case 0xcf: w = 8; sign = false; break;
    case 0xd0: w = 1; sign = true; break;
    case 0xd1: w = 2; sign = true; break;
    case 0xd2: w = 4; sign = true; break;
    case 0xd3: w = 8; sign = true; break;
    default:
        return PLANE_EBADMSG;
    }
    if (r->left < 1 + w) {
        return PLANE_ETRUNC;
    }
    const uint8_t *p = r->p + 1;
    uint64_t u = w == 1 ? p[0] : w == 2 ? be16(p) : w == 4 ? be32(p) : be64(p);
    if (sign) {
        int64_t s = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u
                  : w == 4 ? (int32_t)u : (int64_t)u;
        *neg = s < 0;
        *mag = (uint64_t)s;
    } else {
        *neg = false;
        *mag = u;
    }
    mp_advance(r, 1 + w);
    return 0;
}

int
plane_mp_read_uint(struct plane_mp_reader *r, uint64_t *v)
{
    struct plane_mp_reader save = *r;
    bool neg;
    int rc = mp_read_integer(r, v, &neg);
    if (rc) {
        return rc;
    }
    if (neg) {
        *r = save;
        return PLANE_EBADMSG;
    }
    return 0;
}

static int
mp_read_uint_max(struct plane_mp_reader *r, uint64_t max, uint64_t *v)
{
    struct plane_mp_reader save = *r;
    int rc = plane_mp_read_uint(r, v);
    if (rc) {
        return rc;
    }
    if (*v > max) {
        *r = save;
        return PLANE_EBADMSG;
    }
    return 0;
}

int
plane_mp_read_u8(struct plane_mp_reader *r, uint8_t *v)
{
    uint64_t u;
    int rc = mp_read_uint_max(r, UINT8_MAX, &u);
    if (!rc) {
        *v = (uint8_t)u;
    }
    return rc;
}

int
plane_mp_read_u16(struct plane_mp_reader *r, uint16_t *v)
{
    uint64_t u;
    int rc = mp_read_uint_max(r, UINT16_MAX, &u);
    if (!rc) {
        *v = (uint16_t)u;
    }
    return rc;
}

int
plane_mp_read_u32(struct plane_mp_reader *r, uint32_t *v)
{
    uint64_t u;
    int rc = mp_read_uint_max(r, UINT32_MAX, &u);
    if (!rc) {
        *v = (uint32_t)u;
    }
    return rc;
}

int
plane_mp_read_int(struct plane_mp_reader *r, int64_t *v)
{
    struct plane_mp_reader save = *r;
    uint64_t mag;
    bool neg;
    int rc = mp_read_integer(r, &mag, &neg);
    if (rc) {
        return rc;
    }
    if (!neg && mag > (uint64_t)INT64_MAX) {
        *r = save;
        return PLANE_EBADMSG;
    }
    *v = (int64_t)mag;
    return 0;
}

int
plane_mp_read_i32(struct plane_mp_reader *r, int32_t *v)
{
    struct plane_mp_reader save = *r;
    int64_t s;
    int rc = plane_mp_read_int(r, &s);
    if (rc) {
        return rc;
    }
    if (s < INT32_MIN || s > INT32_MAX) {
        *r = save;
        return PLANE_EBADMSG;
    }
    *v = (int32_t)s;
    return 0;
}

int
plane_mp_read_bool(struct plane_mp_reader *r, bool *v)
{
    if (r->left < 1) {
        return PLANE_ETRUNC;
    }
    if (r->p[0] != 0xc2 && r->p[0] != 0xc3) {
        return PLANE_EBADMSG;
    }
    *v = r->p[0] == 0xc3;
    mp_advance(r, 1);
    return 0;
}

int
plane_mp_read_nil(struct plane_mp_reader *r)
{
    if (r->left < 1) {
        return PLANE_ETRUNC;
    }
    if (r->p[0] != 0xc0) {
        return PLANE_EBADMSG;
    }
    mp_advance(r, 1);
    return 0;
}

/* Reads a str (want_str) or bin header and checks its payload fits. */
static int
mp_read_blob(struct plane_mp_reader *r, bool want_str, const uint8_t **p, uint32_t *n)
{
    if (r->left < 1) {
        return PLANE_ETRUNC;
    }
    uint8_t t = r->p[0];
    bool is_str = (t >= 0xa0 && t <= 0xbf) || t == 0xd9 || t == 0xda || t == 0xdb;
    bool is_bin = t == 0xc4 || t == 0xc5 || t == 0xc6;
    if (want_str ? !is_str : !is_bin) {
        return PLANE_EBADMSG;
    }
    struct mp_head h;
    int rc = mp_head(r->p, r->left, &h);
    if (rc) {
        return rc;
    }
    if (h.payload > r->left - h.hlen) {
        return PLANE_ETRUNC;
    }
    *p = r->p + h.hlen;
    *n = (uint32_t)h.payload;
    mp_advance(r, h.hlen + (size_t)h.payload);
    return 0;
}

int
plane_mp_read_bin(struct plane_mp_reader *r, const uint8_t **p, uint32_t *n)
{
    return mp_read_blob(r, false, p, n);
}

int
plane_mp_read_str(struct plane_mp_reader *r, const char **s, uint32_t *n)
{
    const uint8_t *p;
    int rc = mp_read_blob(r, true, &p, n);
    if (!rc) {
        *s = (const char *)p;
    }
    return rc;
}

int
plane_mp_skip(struct plane_mp_reader *r)
{
    size_t n;
    int rc = plane_mp_check(r->p, r->left, &n, PLANE_MP_DEFAULT_DEPTH,
                            PLANE_MP_DEFAULT_ELEMS);
    if (!rc) {
        mp_advance(r, n);
    }
    return rc;
}

/* ---- zone -------------------------------------------------------------- */

struct plane_mp_zone_chunk {
    struct plane_mp_zone_chunk *next;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

#define ZONE_ALIGN 16u

int
plane_mp_zone_init(struct plane_mp_zone *z, size_t first_chunk)
{
    memset(z, 0, sizeof *z);
    z->max_bytes = PLANE_MP_ZONE_DEFAULT_MAX;
    if (!first_chunk) {
        first_chunk = PLANE_MP_ZONE_DEFAULT_CHUNK;
    }
    struct plane_mp_zone_chunk *c = plane_aligned_alloc(ZONE_ALIGN,
                                                        sizeof *c + first_chunk);
    if (!c) {
        return PLANE_ENOMEM;
    }
    c->next = NULL;
    c->cap = first_chunk;
    z->first = z->cur = c;
    return 0;
}

void
plane_mp_zone_clear(struct plane_mp_zone *z)
{
    if (!z->first) {
        return;
    }
    struct plane_mp_zone_chunk *c = z->first->next;
    while (c) {
        struct plane_mp_zone_chunk *next = c->next;
        plane_free(c);
        c = next;
    }
    z->first->next = NULL;
    z->cur = z->first;
    z->used = 0;
    z->total = 0;
}

void
plane_mp_zone_uninit(struct plane_mp_zone *z)
{
    plane_mp_zone_clear(z);
    plane_free(z->first);
    z->first = z->cur = NULL;
}

void *
plane_mp_zone_alloc(struct plane_mp_zone *z, size_t size)
{
    if (!z->cur) {
        return NULL;
    }
    size_t need = (size + ZONE_ALIGN - 1) & ~(size_t)(ZONE_ALIGN - 1);
    if (need < size || need > z->max_bytes - z->total) {
        return NULL;
    }
    if (need > z->cur->cap - z->used) {
        size_t cap = z->first->cap > need ? z->first->cap : need;
        struct plane_mp_zone_chunk *c = plane_aligned_alloc(ZONE_ALIGN,
                                                            sizeof *c + cap);
        if (!c) {
            return NULL;
        }
        c->next = NULL;
        c->cap = cap;
        z->cur->next = c;
        z->cur = c;
        z->used = 0;
    }
    void *p = z->cur->data + z->used;
    z->used += need;
    z->total += need;
    return p;
}

void *
plane_mp_zone_calloc(struct plane_mp_zone *z, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        return NULL;
    }
    void *p = plane_mp_zone_alloc(z, n * size);
    if (p && n * size != 0) {
        memset(p, 0, n * size);
    }
    return p;
}

char *
plane_mp_zone_strndup(struct plane_mp_zone *z, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        return NULL;
    }
    char *p = plane_mp_zone_alloc(z, n + 1);
    if (p) {
        if (n) {
            memcpy(p, s, n);
        }
        p[n] = '\0';
    }
    return p;
}
