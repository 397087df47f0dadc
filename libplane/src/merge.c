/* Built-in and custom merge operators over word arrays. */
#include "merge.h"

#include <stdint.h>
#include <string.h>

#include <plane/error.h>

/* Word-wise operators go through memcpy: values in objects are not aligned. */
#define WORD_LOOP(out, a, b, len, EXPR)                                        \
    do {                                                                       \
        const uint8_t *pa_ = (a), *pb_ = (b);                                  \
        uint8_t *po_ = (out);                                                  \
        for (size_t i_ = 0; i_ + 8 <= (len); i_ += 8) {                        \
            uint64_t x, y, r;                                                  \
            memcpy(&x, pa_ + i_, 8);                                           \
            memcpy(&y, pb_ + i_, 8);                                           \
            r = (EXPR);                                                        \
            memcpy(po_ + i_, &r, 8);                                           \
        }                                                                      \
    } while (0)

static void
merge_add(void *out, const void *a, const void *b, size_t len)
{
    WORD_LOOP(out, a, b, len, x + y);
}

static void
merge_sub(void *out, const void *a, const void *b, size_t len)
{
    WORD_LOOP(out, a, b, len, x - y);
}

static void
merge_or(void *out, const void *a, const void *b, size_t len)
{
    WORD_LOOP(out, a, b, len, x | y);
}

static void
merge_max(void *out, const void *a, const void *b, size_t len)
{
    WORD_LOOP(out, a, b, len, x > y ? x : y);
}

static void
merge_min(void *out, const void *a, const void *b, size_t len)
{
    WORD_LOOP(out, a, b, len, x < y ? x : y);
}

int
plane_merge_init(struct plane_merge *m, const struct plane_obj_desc *desc)
{
    memset(m, 0, sizeof *m);
    m->op = desc->merge;
    bool table = desc->kind == PLANE_OBJ_TABLE;
    if ((unsigned) desc->kind > PLANE_OBJ_BLOOM
        || table != (desc->merge == PLANE_MERGE_NONE)) {
        return PLANE_EINVAL;
    }
    /*
     * Sync keeps snapshots and histories in fixed PLANE_OBJ_MAX_VALUE slots.
     * CMS and Bloom objects merge fixed 8-byte words whatever value_len says.
     */
    if (!table && (desc->value_len > PLANE_OBJ_MAX_VALUE
                   || (desc->kind == PLANE_OBJ_REGISTER && desc->value_len == 0))) {
        return PLANE_EINVAL;
    }
    if (desc->merge != PLANE_MERGE_CUSTOM && desc->merge != PLANE_MERGE_NONE
        && desc->value_len % 8 != 0) {
        return PLANE_EINVAL;
    }
    switch (desc->merge) {
    case PLANE_MERGE_NONE:
        return 0;
    case PLANE_MERGE_ADD:
        m->plus = merge_add;
        m->minus = merge_sub;
        return 0;
    case PLANE_MERGE_OR:
        m->plus = merge_or;
        return 0;
    case PLANE_MERGE_MAX:
        m->plus = merge_max;
        return 0;
    case PLANE_MERGE_MIN:
        m->plus = merge_min;
        return 0;
    case PLANE_MERGE_CUSTOM:
        if (!desc->plus) {
            return PLANE_EINVAL;
        }
        m->plus = desc->plus;
        m->minus = desc->minus;
        return 0;
    }
    return PLANE_EINVAL;
}

void
plane_merge_plus(const struct plane_merge *m, void *out, const void *a,
                 const void *b, size_t len)
{
    m->plus(out, a, b, len);
}

bool
plane_merge_has_minus(const struct plane_merge *m)
{
    return m->minus != NULL;
}

void
plane_merge_minus(const struct plane_merge *m, void *out, const void *a,
                  const void *b, size_t len)
{
    m->minus(out, a, b, len);
}
