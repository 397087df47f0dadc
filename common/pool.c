/* Fixed-size buffer pool: one cache-line-aligned slab and a stack of free indices. */
#include "common/pool.h"

#include <string.h>

#include "common/alloc.h"
#include "common/wire.h"
#include "plane/error.h"

#define POOL_CACHE_LINE 64u

int
plane_pool_init(struct plane_pool *pool, uint32_t count, size_t buf_size)
{
    memset(pool, 0, sizeof *pool);
    if (buf_size == 0) {
        buf_size = PLANE_WIRE_MAX_DATAGRAM;
    }
    size_t stride = (buf_size + POOL_CACHE_LINE - 1) & ~(size_t) (POOL_CACHE_LINE - 1);
    /* Bound the slab so count * stride cannot overflow. */
    if (count == 0 || count > (1u << 24) || stride > (SIZE_MAX >> 1) / count) {
        return PLANE_EINVAL;
    }
    pool->slab = plane_aligned_alloc(POOL_CACHE_LINE, stride * count);
    pool->free_idx = plane_malloc(sizeof *pool->free_idx * count);
    pool->in_use = plane_calloc(count, 1);
    if (!pool->slab || !pool->free_idx || !pool->in_use) {
        plane_pool_uninit(pool);
        return PLANE_ENOMEM;
    }
    pool->buf_size = buf_size;
    pool->stride = stride;
    pool->count = count;
    /* Hand out low indices first so a lightly used pool stays cache-warm. */
    for (uint32_t i = 0; i < count; i++) {
        pool->free_idx[i] = count - 1 - i;
    }
    pool->nfree = count;
    return 0;
}

void
plane_pool_uninit(struct plane_pool *pool)
{
    plane_free(pool->slab);
    plane_free(pool->free_idx);
    plane_free(pool->in_use);
    memset(pool, 0, sizeof *pool);
}

void *
plane_pool_get(struct plane_pool *pool)
{
    if (pool->nfree == 0) {
        PLANE_CTR_INC(&pool->stats, exhausted);
        return NULL;
    }
    uint32_t i = pool->free_idx[--pool->nfree];
    pool->in_use[i] = 1;
    PLANE_CTR_INC(&pool->stats, gets);
    return pool->slab + (size_t) i * pool->stride;
}

int64_t
plane_pool_index(const struct plane_pool *pool, const void *buf)
{
    const uint8_t *p = buf;
    if (!pool->slab || p < pool->slab) {
        return -1;
    }
    size_t off = (size_t) (p - pool->slab);
    if (off % pool->stride != 0 || off / pool->stride >= pool->count) {
        return -1;
    }
    return (int64_t) (off / pool->stride);
}

void *
plane_pool_at(const struct plane_pool *pool, uint32_t i)
{
    return i < pool->count ? pool->slab + (size_t) i * pool->stride : NULL;
}

int
plane_pool_put(struct plane_pool *pool, void *buf)
{
    int64_t i = plane_pool_index(pool, buf);
    if (i < 0 || !pool->in_use[i]) {
        return PLANE_EINVAL;
    }
    pool->in_use[i] = 0;
    pool->free_idx[pool->nfree++] = (uint32_t) i;
    PLANE_CTR_INC(&pool->stats, puts);
    return 0;
}
