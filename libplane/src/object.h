/* App objects on one device: fixed-capacity hash tables/registers and sketch wrappers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plane/app.h>

#include "common/counters.h"

struct plane_hasher;
struct plane_merge;

/*
 * One stateful object of one app instance on one device (ExoPlane's o_i).
 *
 * Tables and registers are a fixed-capacity open-addressing hash table:
 * linear probing over an array of 64-bit slot hashes (eight to a cache
 * line, so a probe sequence touches one or two lines before any key is
 * compared) with a parallel array of entries, each key then value, stride
 * rounded up to 8 bytes.  Deletion shifts the following cluster back
 * (no tombstones), so lookups never slow down after churn.  All memory is
 * allocated by plane_object_new(); nothing allocates afterwards, which is
 * what lets the per-packet path use objects.  At most `capacity` entries
 * are stored, exactly: the slot array is kept under 7/8 full by sizing it
 * from the capacity.
 *
 * Keys are PLANE_OBJECT_KEY_LEN bytes: the packet's struct plane_flow_key
 * masked with the object's key_fields (plane_flow_key_mask()), every byte
 * defined.  A fixed 40-byte key costs a little memory over a compact
 * encoding but lets apps, the two-phase update engine and sync build any
 * object's key from a flow key with one call and compare keys as bytes.
 *
 * CMS and BLOOM objects wrap struct plane_cms / plane_bloom.  Their
 * "entries", for sync, are their uint64_t words by index
 * (plane_object_words()); they have no keyed entries.
 *
 * Not thread-safe: one object is used by one loop.
 */
struct plane_object;

/* Bytes of a table/register key: a masked struct plane_flow_key. */
#define PLANE_OBJECT_KEY_LEN 40

/* Largest capacity (entries, or sketch counters/bits) an object accepts. */
#define PLANE_OBJECT_MAX_CAPACITY (1u << 28)

#define PLANE_OBJECT_COUNTERS(X)                                               \
    X(hits)          /* get/merge found the key */                             \
    X(misses)        /* get found nothing */                                   \
    X(inserts)       /* new entries created (insert or merge) */               \
    X(updates)       /* existing entries replaced or merged into */            \
    X(deletes)       /* entries removed */                                     \
    X(full_rejects)  /* new entries refused: table at capacity */

struct plane_object_stats {
    PLANE_COUNTERS_FIELDS(PLANE_OBJECT_COUNTERS)
};

/*
 * Creates an object from desc with room for `capacity` entries (tables,
 * registers) or counters (CMS: capacity / depth columns of cms_depth rows)
 * or bits (BLOOM).  desc must be valid for its kind (plane_app validates
 * descriptors; CMS must carry merge ADD, BLOOM merge OR) and, like hasher,
 * must outlive the object (the object keeps pointers to both: desc->name
 * and the merge callbacks, and the rack hasher that keys it).  Sketch
 * seeds derive from the hasher and the object's name, so every device of a
 * rack builds identically hashed sketches that sync can merge word by word.
 * Returns the object or NULL (invalid desc/capacity, or out of memory).
 */
struct plane_object *plane_object_new(const struct plane_obj_desc *desc,
                                      uint64_t capacity,
                                      const struct plane_hasher *hasher);
/* Frees obj.  NULL is a no-op. */
void plane_object_delete(struct plane_object *obj);

/* Accessors. */
const char *plane_object_name(const struct plane_object *obj);
enum plane_obj_kind plane_object_kind(const struct plane_object *obj);
const struct plane_obj_desc *plane_object_desc(const struct plane_object *obj);
/* The merge operator (op NONE for tables). */
const struct plane_merge *plane_object_merge_op(const struct plane_object *obj);
size_t plane_object_key_len(const struct plane_object *obj);
size_t plane_object_value_len(const struct plane_object *obj);
/* Entries stored (tables/registers; 0 for sketches). */
size_t plane_object_count(const struct plane_object *obj);
/* Entries allowed (tables/registers), or counters/bits (sketches). */
size_t plane_object_capacity(const struct plane_object *obj);
const struct plane_object_stats *plane_object_stats(const struct plane_object *obj);

/* ---- Tables and registers.  Every call checks klen == key length and the
 * kind: PLANE_EINVAL otherwise. ---- */

/*
 * Copies key's value (value_len bytes) to value (may be NULL to test
 * presence).  Returns 0 or PLANE_ENOENT.  Counts a hit or a miss.
 */
int plane_object_get(struct plane_object *obj, const void *key, size_t klen,
                     void *value);
/*
 * Returns a pointer to key's value inside the object, or NULL.  Valid until
 * the next insert/delete/merge.  Counts nothing (sync and tests use it).
 */
const void *plane_object_lookup(const struct plane_object *obj, const void *key,
                                size_t klen);
/*
 * Inserts key -> value or replaces the value of an existing key (value may
 * be NULL for value_len 0).  Returns 0, or PLANE_ENOSPC when key is new and
 * the object already holds `capacity` entries (counted in full_rejects).
 */
int plane_object_insert(struct plane_object *obj, const void *key, size_t klen,
                        const void *value);
/* Removes key.  Returns 0 or PLANE_ENOENT. */
int plane_object_delete_entry(struct plane_object *obj, const void *key,
                              size_t klen);
/*
 * Merges operand into key's value with the object's plus operator
 * (registers only: PLANE_EINVAL on tables).  An absent key is created
 * first: with the operand itself for the built-in operators (the operand
 * merged into the operator's identity: 0 for ADD/OR/MAX, all ones for MIN,
 * so a MIN register starts at its first sample, not at 0), and with
 * plus(zero, operand) for CUSTOM.  Returns 0 or PLANE_ENOSPC (full).
 */
int plane_object_merge(struct plane_object *obj, const void *key, size_t klen,
                       const void *operand);
/* Removes every entry (or zeroes every sketch word). */
void plane_object_clear(struct plane_object *obj);

/*
 * Calls cb(arg, key, klen, value) once for every entry of a table or
 * register, in slot order.  cb must not insert or delete; it may modify
 * the value in place (value_len bytes).  A non-zero return from cb stops
 * the walk and is returned; otherwise returns 0.  Sketches have no entries.
 */
typedef int (*plane_object_entry_fn)(void *arg, const void *key, size_t klen,
                                     void *value);
int plane_object_foreach(struct plane_object *obj, plane_object_entry_fn cb,
                         void *arg);

/*
 * Cursor iteration for work spread over several loop turns (sync rounds):
 * start with *cursor = 0; each call stores the next entry's key and value
 * pointers and returns true, or returns false at the end.  Between calls
 * the object may change: an entry present for the whole walk and not moved
 * by a delete's backward shift is seen exactly once; entries inserted or
 * deleted meanwhile may be seen or not, and a delete may shift one entry
 * back past the cursor (missed this walk) — callers needing an exact set
 * must not delete during the walk.
 */
bool plane_object_next(const struct plane_object *obj, size_t *cursor,
                       const void **key, const void **value);

/* ---- Sketches (PLANE_OBJ_CMS / PLANE_OBJ_BLOOM); no-ops / 0 / false on
 * objects of another kind. ---- */

void plane_object_cms_add(struct plane_object *obj, const void *item, size_t len,
                          uint64_t count);
uint64_t plane_object_cms_estimate(const struct plane_object *obj,
                                   const void *item, size_t len);
void plane_object_bloom_add(struct plane_object *obj, const void *item,
                            size_t len);
bool plane_object_bloom_test(const struct plane_object *obj, const void *item,
                             size_t len);
/*
 * Returns the sketch's word array (CMS counters row-major, Bloom bit words)
 * and stores its length in *n: the sketch's entries by index, merged by
 * the object's operator (ADD for CMS, OR for Bloom).  NULL and *n = 0 for
 * tables and registers.
 */
uint64_t *plane_object_words(struct plane_object *obj, size_t *n);
