/* msgpack helpers: a fixed-buffer packer, an allocation-free validator and cursor reader, and a decode zone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/*
 * A msgpack packer that writes into a caller-owned buffer and never
 * allocates.  Every msgpack_pack_*() call on w->pk works; a write that does
 * not fit sets w->overflow, writes nothing, and makes that pack call (and
 * every later one) return -1.  Check w->overflow once after packing.
 */
struct plane_mp_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool overflow;
    msgpack_packer pk;
};

/* Starts a writer over buf[0..cap).  The writer keeps a pointer to itself
 * in w->pk, so it must not be moved after init. */
void plane_mp_writer_init(struct plane_mp_writer *w, uint8_t *buf, size_t cap);

/* Appends n raw bytes (already-encoded msgpack, or a frame).  Returns 0, or
 * PLANE_EMSGSIZE (and sets overflow) when they do not fit. */
int plane_mp_write_raw(struct plane_mp_writer *w, const void *p, size_t n);

/* Packs a bin (header + bytes) / str (header + bytes).  Return 0 or
 * PLANE_EMSGSIZE.  p may be NULL when n is 0. */
int plane_mp_write_bin(struct plane_mp_writer *w, const void *p, size_t n);
int plane_mp_write_str(struct plane_mp_writer *w, const char *s, size_t n);
/* Packs a NUL-terminated string (NULL packs as the empty string). */
int plane_mp_write_cstr(struct plane_mp_writer *w, const char *s);

/* Limits used when a caller has no better ones (bodies of control messages). */
#define PLANE_MP_MAX_DEPTH 32          /* hard cap on max_depth */
#define PLANE_MP_DEFAULT_DEPTH 8
#define PLANE_MP_DEFAULT_ELEMS (1u << 20)

/*
 * Walks the one msgpack object at buf[0..len) without allocating.  Every
 * str/bin/ext length and every array/map count is checked against the bytes
 * left before anything trusts it (each element needs at least one byte, so
 * an array32 header asking for 2^32-1 elements in a 5-byte input is
 * rejected at once).  Nesting deeper than max_depth containers (capped at
 * PLANE_MP_MAX_DEPTH) or more than max_elems array/map elements in total
 * (map pairs count twice) is rejected.
 *
 * Returns 0 with *obj_len (may be NULL) set to the encoded length of the
 * object, which may be shorter than len.  Errors: PLANE_ETRUNC when the
 * object needs more bytes than len, PLANE_EBADMSG for the reserved byte
 * 0xc1, too deep nesting or too many elements.
 */
int plane_mp_check(const uint8_t *buf, size_t len, size_t *obj_len,
                   unsigned max_depth, size_t max_elems);

/*
 * A cursor over msgpack bytes for fixed layouts (headers, bodies).  No
 * allocation: bin and str values point into the input.  Every read checks
 * the bytes left first; on error the cursor does not advance.
 *
 * Errors of every read: PLANE_ETRUNC when the input ends inside the value,
 * PLANE_EBADMSG when the value has another type or is out of range.
 */
struct plane_mp_reader {
    const uint8_t *p;
    size_t left;
};

void plane_mp_reader_init(struct plane_mp_reader *r, const uint8_t *buf, size_t len);

/* Reads an array header.  *n is checked against the bytes left (every
 * element needs at least one byte). */
int plane_mp_read_array(struct plane_mp_reader *r, uint32_t *n);
/* Reads an array header and requires exactly n elements (EBADMSG otherwise). */
int plane_mp_read_array_n(struct plane_mp_reader *r, uint32_t n);
/* Reads a map header; *n pairs, checked as 2 * n bytes at least. */
int plane_mp_read_map(struct plane_mp_reader *r, uint32_t *n);
/* Reads a non-negative integer (any msgpack int encoding). */
int plane_mp_read_uint(struct plane_mp_reader *r, uint64_t *v);
/* Range-checked variants: a value above the type's maximum is EBADMSG. */
int plane_mp_read_u8(struct plane_mp_reader *r, uint8_t *v);
int plane_mp_read_u16(struct plane_mp_reader *r, uint16_t *v);
int plane_mp_read_u32(struct plane_mp_reader *r, uint32_t *v);
/* Reads a signed integer (any msgpack int encoding that fits int64_t). */
int plane_mp_read_int(struct plane_mp_reader *r, int64_t *v);
int plane_mp_read_i32(struct plane_mp_reader *r, int32_t *v);
int plane_mp_read_bool(struct plane_mp_reader *r, bool *v);
int plane_mp_read_nil(struct plane_mp_reader *r);
/* Reads a bin; *p points into the input (NULL-safe: a non-NULL pointer
 * even when *n is 0). */
int plane_mp_read_bin(struct plane_mp_reader *r, const uint8_t **p, uint32_t *n);
/* Reads a str; *s points into the input and is NOT NUL-terminated. */
int plane_mp_read_str(struct plane_mp_reader *r, const char **s, uint32_t *n);
/* Skips one whole object of any type (validated with plane_mp_check and
 * the default limits). */
int plane_mp_skip(struct plane_mp_reader *r);
/* Returns the next byte (the type tag) without consuming it, or -1 at the end. */
int plane_mp_peek_byte(const struct plane_mp_reader *r);
/* True when every byte was consumed. */
bool plane_mp_reader_done(const struct plane_mp_reader *r);

/*
 * A bump arena for decoded control-message bodies.  The first chunk is
 * allocated by init and reused by every clear; larger decodes chain extra
 * chunks that clear frees.  Everything allocated from the zone is freed at
 * once by clear/uninit.  A zone never hands out more than max_bytes in
 * total between clears (PLANE_ENOMEM past that), so hostile input cannot
 * make it grow without bound.
 */
struct plane_mp_zone_chunk;

struct plane_mp_zone {
    struct plane_mp_zone_chunk *first;   /* kept across clears */
    struct plane_mp_zone_chunk *cur;     /* the chunk being filled */
    size_t used;                         /* bytes used in cur */
    size_t total;                        /* bytes handed out since the last clear */
    size_t max_bytes;
};

#define PLANE_MP_ZONE_DEFAULT_CHUNK 16384
#define PLANE_MP_ZONE_DEFAULT_MAX (16u << 20)

/* Initialises z with a first chunk of first_chunk bytes (0 = default).
 * Returns 0 or PLANE_ENOMEM. */
int plane_mp_zone_init(struct plane_mp_zone *z, size_t first_chunk);
/* Frees everything allocated from z; keeps the first chunk. */
void plane_mp_zone_clear(struct plane_mp_zone *z);
/* Frees all of z's memory.  Safe on a zone whose init failed. */
void plane_mp_zone_uninit(struct plane_mp_zone *z);
/* Returns size bytes aligned to 16, or NULL (size 0 returns a valid
 * pointer).  The memory is not zeroed. */
void *plane_mp_zone_alloc(struct plane_mp_zone *z, size_t size);
/* Returns n * size zeroed bytes, or NULL on overflow or exhaustion. */
void *plane_mp_zone_calloc(struct plane_mp_zone *z, size_t n, size_t size);
/* Returns a NUL-terminated copy of s[0..n) in the zone, or NULL. */
char *plane_mp_zone_strndup(struct plane_mp_zone *z, const char *s, size_t n);
