/* App objects: a fixed-capacity linear-probing hash table and sketch wrappers. */
#include "object.h"

#include <string.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/hash.h"
#include "merge.h"
#include "sketch.h"

#define CACHE_LINE 64

struct plane_object {
    const struct plane_obj_desc *desc;
    enum plane_obj_kind kind;
    struct plane_merge merge;
    const struct plane_hasher *hasher;
    struct plane_object_stats stats;

    /* Tables and registers. */
    uint32_t key_len;
    uint32_t value_len;
    uint32_t stride;          /* bytes per entry: key, value, rounded to 8 */
    size_t capacity;          /* entries allowed */
    size_t count;             /* entries stored */
    size_t mask;              /* n_slots - 1 (n_slots a power of two) */
    uint64_t *hashes;         /* per slot: the key's hash, 0 = empty */
    uint8_t *entries;         /* n_slots * stride */

    /* Sketches. */
    struct plane_cms cms;
    struct plane_bloom bloom;
};

static bool
is_keyed(const struct plane_object *obj)
{
    return obj->kind == PLANE_OBJ_TABLE || obj->kind == PLANE_OBJ_REGISTER;
}

/* Slot hashes are never 0, which marks an empty slot. */
static uint64_t
key_hash(const struct plane_object *obj, const void *key)
{
    uint64_t h = plane_hash64(obj->hasher, key, obj->key_len);
    return h ? h : 1;
}

static uint8_t *
slot_key(const struct plane_object *obj, size_t slot)
{
    return obj->entries + slot * obj->stride;
}

static uint8_t *
slot_value(const struct plane_object *obj, size_t slot)
{
    return obj->entries + slot * obj->stride + obj->key_len;
}

static size_t
round_up_pow2(size_t n)
{
    size_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

static int
table_init(struct plane_object *obj, uint64_t capacity)
{
    obj->key_len = PLANE_OBJECT_KEY_LEN;
    obj->value_len = obj->desc->value_len;
    obj->stride = (obj->key_len + obj->value_len + 7u) & ~7u;
    obj->capacity = (size_t) capacity;
    /* Under 7/8 full at capacity, and always one empty slot so probes end. */
    size_t n_slots = round_up_pow2((size_t) capacity + (size_t) capacity / 7 + 1);
    if (n_slots < 8) {
        n_slots = 8;
    }
    obj->mask = n_slots - 1;
    size_t hashes_bytes = (n_slots * sizeof(uint64_t) + CACHE_LINE - 1)
                          & ~(size_t) (CACHE_LINE - 1);
    size_t entries_bytes = (n_slots * obj->stride + CACHE_LINE - 1)
                           & ~(size_t) (CACHE_LINE - 1);
    obj->hashes = plane_aligned_alloc(CACHE_LINE, hashes_bytes);
    obj->entries = plane_aligned_alloc(CACHE_LINE, entries_bytes);
    if (!obj->hashes || !obj->entries) {
        return PLANE_ENOMEM;
    }
    memset(obj->hashes, 0, hashes_bytes);
    memset(obj->entries, 0, entries_bytes);
    return 0;
}

struct plane_object *
plane_object_new(const struct plane_obj_desc *desc, uint64_t capacity,
                 const struct plane_hasher *hasher)
{
    if (!desc || !hasher || capacity == 0
        || capacity > PLANE_OBJECT_MAX_CAPACITY
        || desc->value_len > PLANE_OBJ_MAX_VALUE) {
        return NULL;
    }
    struct plane_object *obj = plane_calloc(1, sizeof *obj);
    if (!obj) {
        return NULL;
    }
    obj->desc = desc;
    obj->kind = desc->kind;
    obj->hasher = hasher;
    if (plane_merge_init(&obj->merge, desc) != 0) {
        goto fail;
    }

    /* Rack-wide sketch seeds: same hasher and name give the same hashing on
     * every device, so sync can merge their words index by index. */
    const char *name = desc->name ? desc->name : "";
    uint64_t seed = plane_hash64(hasher, name, strlen(name));
    switch (desc->kind) {
    case PLANE_OBJ_TABLE:
    case PLANE_OBJ_REGISTER:
        if (table_init(obj, capacity) != 0) {
            goto fail;
        }
        break;
    case PLANE_OBJ_CMS: {
        if (desc->merge != PLANE_MERGE_ADD) {
            goto fail;
        }
        uint32_t depth = desc->cms_depth ? desc->cms_depth : 4;
        uint64_t width = capacity / depth;
        if (width == 0) {
            goto fail;
        }
        if (plane_cms_init(&obj->cms, (uint32_t) width, depth, seed) != 0) {
            goto fail;
        }
        break;
    }
    case PLANE_OBJ_BLOOM: {
        if (desc->merge != PLANE_MERGE_OR) {
            goto fail;
        }
        uint32_t k = desc->bloom_hashes ? desc->bloom_hashes : 3;
        if (plane_bloom_init(&obj->bloom, (uint32_t) capacity, k, seed) != 0) {
            goto fail;
        }
        break;
    }
    default:
        goto fail;
    }
    return obj;

fail:
    plane_object_delete(obj);
    return NULL;
}

void
plane_object_delete(struct plane_object *obj)
{
    if (!obj) {
        return;
    }
    plane_free(obj->hashes);
    plane_free(obj->entries);
    if (obj->kind == PLANE_OBJ_CMS && obj->cms.counters) {
        plane_cms_uninit(&obj->cms);
    }
    if (obj->kind == PLANE_OBJ_BLOOM && obj->bloom.words) {
        plane_bloom_uninit(&obj->bloom);
    }
    plane_free(obj);
}

const char *
plane_object_name(const struct plane_object *obj)
{
    return obj->desc->name;
}

enum plane_obj_kind
plane_object_kind(const struct plane_object *obj)
{
    return obj->kind;
}

const struct plane_obj_desc *
plane_object_desc(const struct plane_object *obj)
{
    return obj->desc;
}

const struct plane_merge *
plane_object_merge_op(const struct plane_object *obj)
{
    return &obj->merge;
}

size_t
plane_object_key_len(const struct plane_object *obj)
{
    return is_keyed(obj) ? obj->key_len : 0;
}

size_t
plane_object_value_len(const struct plane_object *obj)
{
    return is_keyed(obj) ? obj->value_len : sizeof(uint64_t);
}

size_t
plane_object_count(const struct plane_object *obj)
{
    return obj->count;
}

size_t
plane_object_capacity(const struct plane_object *obj)
{
    switch (obj->kind) {
    case PLANE_OBJ_CMS:
        return (size_t) obj->cms.width * obj->cms.depth;
    case PLANE_OBJ_BLOOM:
        return obj->bloom.n_bits;
    default:
        return obj->capacity;
    }
}

const struct plane_object_stats *
plane_object_stats(const struct plane_object *obj)
{
    return &obj->stats;
}

/*
 * Finds key's slot.  Returns true with *slot at the key, or false with
 * *slot at the empty slot ending its probe sequence (where it would go).
 */
static bool
find_slot(const struct plane_object *obj, const void *key, uint64_t h,
          size_t *slot)
{
    size_t i = (size_t) h & obj->mask;
    for (;;) {
        uint64_t s = obj->hashes[i];
        if (s == 0) {
            *slot = i;
            return false;
        }
        if (s == h && memcmp(slot_key(obj, i), key, obj->key_len) == 0) {
            *slot = i;
            return true;
        }
        i = (i + 1) & obj->mask;
    }
}

static bool
check_keyed(const struct plane_object *obj, const void *key, size_t klen)
{
    return obj && is_keyed(obj) && key && klen == obj->key_len;
}

int
plane_object_get(struct plane_object *obj, const void *key, size_t klen,
                 void *value)
{
    if (!check_keyed(obj, key, klen)) {
        return PLANE_EINVAL;
    }
    size_t slot;
    if (!find_slot(obj, key, key_hash(obj, key), &slot)) {
        PLANE_CTR_INC(&obj->stats, misses);
        return PLANE_ENOENT;
    }
    PLANE_CTR_INC(&obj->stats, hits);
    if (value && obj->value_len) {
        memcpy(value, slot_value(obj, slot), obj->value_len);
    }
    return 0;
}

const void *
plane_object_lookup(const struct plane_object *obj, const void *key, size_t klen)
{
    if (!check_keyed(obj, key, klen)) {
        return NULL;
    }
    size_t slot;
    if (!find_slot(obj, key, key_hash(obj, key), &slot)) {
        return NULL;
    }
    return slot_value(obj, slot);
}

/* Finds or creates key's slot.  *created says which.  0 or PLANE_ENOSPC. */
static int
upsert_slot(struct plane_object *obj, const void *key, size_t *slot,
            bool *created)
{
    uint64_t h = key_hash(obj, key);
    if (find_slot(obj, key, h, slot)) {
        *created = false;
        PLANE_CTR_INC(&obj->stats, updates);
        return 0;
    }
    if (obj->count >= obj->capacity) {
        PLANE_CTR_INC(&obj->stats, full_rejects);
        return PLANE_ENOSPC;
    }
    obj->hashes[*slot] = h;
    memcpy(slot_key(obj, *slot), key, obj->key_len);
    memset(slot_value(obj, *slot), 0, obj->value_len);
    obj->count++;
    *created = true;
    PLANE_CTR_INC(&obj->stats, inserts);
    return 0;
}

int
plane_object_insert(struct plane_object *obj, const void *key, size_t klen,
                    const void *value)
{
    if (!check_keyed(obj, key, klen) || (!value && obj->value_len)) {
        return PLANE_EINVAL;
    }
    size_t slot;
    bool created;
    int rc = upsert_slot(obj, key, &slot, &created);
    if (rc != 0) {
        return rc;
    }
    if (obj->value_len) {
        memcpy(slot_value(obj, slot), value, obj->value_len);
    }
    return 0;
}

/*
 * Backward-shift deletion: walk the cluster after the hole and move back
 * every entry whose home slot is not between the hole and its position, so
 * no probe sequence crosses an empty slot before reaching its key.
 */
static void
remove_slot(struct plane_object *obj, size_t hole)
{
    size_t j = hole;
    for (;;) {
        j = (j + 1) & obj->mask;
        uint64_t h = obj->hashes[j];
        if (h == 0) {
            break;
        }
        size_t home = (size_t) h & obj->mask;
        size_t dist_home = (j - home) & obj->mask;
        size_t dist_hole = (j - hole) & obj->mask;
        if (dist_home >= dist_hole) {
            obj->hashes[hole] = h;
            memcpy(slot_key(obj, hole), slot_key(obj, j), obj->stride);
            hole = j;
        }
    }
    obj->hashes[hole] = 0;
    memset(slot_key(obj, hole), 0, obj->stride);
    obj->count--;
}

int
plane_object_delete_entry(struct plane_object *obj, const void *key, size_t klen)
{
    if (!check_keyed(obj, key, klen)) {
        return PLANE_EINVAL;
    }
    size_t slot;
    if (!find_slot(obj, key, key_hash(obj, key), &slot)) {
        return PLANE_ENOENT;
    }
    remove_slot(obj, slot);
    PLANE_CTR_INC(&obj->stats, deletes);
    return 0;
}

int
plane_object_merge(struct plane_object *obj, const void *key, size_t klen,
                   const void *operand)
{
    if (!check_keyed(obj, key, klen) || obj->kind != PLANE_OBJ_REGISTER
        || !operand) {
        return PLANE_EINVAL;
    }
    size_t slot;
    bool created;
    int rc = upsert_slot(obj, key, &slot, &created);
    if (rc != 0) {
        return rc;
    }
    uint8_t *value = slot_value(obj, slot);
    if (created && obj->merge.op != PLANE_MERGE_CUSTOM) {
        /* The operand merged into the operator's identity is the operand. */
        memcpy(value, operand, obj->value_len);
    } else {
        if (!created) {
            PLANE_CTR_INC(&obj->stats, hits);
        }
        plane_merge_plus(&obj->merge, value, value, operand, obj->value_len);
    }
    return 0;
}

void
plane_object_clear(struct plane_object *obj)
{
    switch (obj->kind) {
    case PLANE_OBJ_CMS:
        plane_cms_clear(&obj->cms);
        break;
    case PLANE_OBJ_BLOOM:
        plane_bloom_clear(&obj->bloom);
        break;
    default:
        memset(obj->hashes, 0, (obj->mask + 1) * sizeof(uint64_t));
        memset(obj->entries, 0, (obj->mask + 1) * obj->stride);
        obj->count = 0;
        break;
    }
}

int
plane_object_foreach(struct plane_object *obj, plane_object_entry_fn cb,
                     void *arg)
{
    if (!is_keyed(obj)) {
        return 0;
    }
    for (size_t i = 0; i <= obj->mask; i++) {
        if (obj->hashes[i] != 0) {
            int rc = cb(arg, slot_key(obj, i), obj->key_len, slot_value(obj, i));
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

bool
plane_object_next(const struct plane_object *obj, size_t *cursor,
                  const void **key, const void **value)
{
    if (!is_keyed(obj)) {
        return false;
    }
    for (size_t i = *cursor; i <= obj->mask; i++) {
        if (obj->hashes[i] != 0) {
            *key = slot_key(obj, i);
            *value = slot_value(obj, i);
            *cursor = i + 1;
            return true;
        }
    }
    *cursor = obj->mask + 1;
    return false;
}

void
plane_object_cms_add(struct plane_object *obj, const void *item, size_t len,
                     uint64_t count)
{
    if (obj && obj->kind == PLANE_OBJ_CMS) {
        plane_cms_add(&obj->cms, item, len, count);
    }
}

uint64_t
plane_object_cms_estimate(const struct plane_object *obj, const void *item,
                          size_t len)
{
    if (!obj || obj->kind != PLANE_OBJ_CMS) {
        return 0;
    }
    return plane_cms_estimate(&obj->cms, item, len);
}

void
plane_object_bloom_add(struct plane_object *obj, const void *item, size_t len)
{
    if (obj && obj->kind == PLANE_OBJ_BLOOM) {
        plane_bloom_add(&obj->bloom, item, len);
    }
}

bool
plane_object_bloom_test(const struct plane_object *obj, const void *item,
                        size_t len)
{
    if (!obj || obj->kind != PLANE_OBJ_BLOOM) {
        return false;
    }
    return plane_bloom_test(&obj->bloom, item, len);
}

uint64_t *
plane_object_words(struct plane_object *obj, size_t *n)
{
    switch (obj->kind) {
    case PLANE_OBJ_CMS:
        *n = (size_t) obj->cms.width * obj->cms.depth;
        return obj->cms.counters;
    case PLANE_OBJ_BLOOM:
        *n = (obj->bloom.n_bits + 63) / 64;
        return obj->bloom.words;
    default:
        *n = 0;
        return NULL;
    }
}
