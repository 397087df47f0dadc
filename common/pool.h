/* Fixed-size buffer pool: one preallocated slab, O(1) get/put, no allocation after init. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/counters.h"

/* Counters of one pool. */
#define PLANE_POOL_COUNTERS(X)                                                 \
    X(gets)           /* buffers handed out */                                 \
    X(puts)           /* buffers returned */                                   \
    X(exhausted)      /* plane_pool_get() found the pool empty */

struct plane_pool_stats { PLANE_POOL_COUNTERS(PLANE_COUNTERS_FIELD_) };

/*
 * A pool of count buffers of buf_size bytes each, carved from one slab whose
 * buffers start on cache-line boundaries.  Caller-owned storage; the free list
 * is an array of indices, so a buffer's bytes are never used for bookkeeping
 * and a double put is detected.  Not thread-safe: one pool per loop.
 */
struct plane_pool {
    uint8_t *slab;
    size_t buf_size;          /* requested size */
    size_t stride;            /* buf_size rounded up to a cache line */
    uint32_t count;
    uint32_t nfree;
    uint32_t *free_idx;       /* stack of free buffer indices */
    uint8_t *in_use;          /* 1 per handed-out buffer: catches double puts */
    struct plane_pool_stats stats;
};

/*
 * Allocates the slab of count buffers of buf_size bytes (buf_size 0 means
 * PLANE_WIRE_MAX_DATAGRAM).  Returns 0, PLANE_EINVAL (count 0 or too big) or
 * PLANE_ENOMEM.
 */
int plane_pool_init(struct plane_pool *pool, uint32_t count, size_t buf_size);
/* Frees the slab.  Buffers still out become invalid.  Safe on a zeroed pool. */
void plane_pool_uninit(struct plane_pool *pool);

/* Returns a free buffer of pool->buf_size bytes, or NULL (counted) when empty. */
void *plane_pool_get(struct plane_pool *pool);
/*
 * Returns buf, which came from plane_pool_get() of this pool, to the pool.
 * A pointer not from this pool or already free is ignored and returns
 * PLANE_EINVAL; otherwise 0.
 */
int plane_pool_put(struct plane_pool *pool, void *buf);

/* Returns the index in [0, count) of buf, a buffer of this pool, or -1. */
int64_t plane_pool_index(const struct plane_pool *pool, const void *buf);
/* Returns buffer i of the pool (whether free or not), or NULL if i >= count. */
void *plane_pool_at(const struct plane_pool *pool, uint32_t i);

static inline uint32_t plane_pool_avail(const struct plane_pool *pool) { return pool->nfree; }
static inline size_t plane_pool_buf_size(const struct plane_pool *pool) { return pool->buf_size; }
