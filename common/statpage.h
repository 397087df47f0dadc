/* One page of a STATS answer: counters filtered by name prefix, paged to fit a datagram. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mp.h"
#include "common/wire_body.h"

/*
 * A STATS request body is a stats list (docs/protocol.md): every entry
 * whose name is not ".offset" is a prefix filter (a counter is answered when
 * its name starts with any of them; no filter: all counters), and
 * ".offset" = N skips the first N matching counters.  The answer holds the
 * matching counters from there while they fit `budget` encoded bytes and,
 * when more remain, a last entry ".next" = the offset to ask for next.
 * An empty request body is a request for everything from the start.
 *
 * Usage: plane_stat_page_init() with the decoded request (or NULL), then
 * plane_stat_page_add() for every counter in a stable order, then
 * plane_stat_page_finish().  Names are copied into the zone.
 */
#define PLANE_STAT_OFFSET ".offset"
#define PLANE_STAT_NEXT ".next"
/* Bytes of counters a page holds by default (a datagram with room to spare). */
#define PLANE_STAT_PAGE_BUDGET 7000

struct plane_stat_page {
    const struct plane_body_stats *req;
    struct plane_mp_zone *z;
    struct plane_body_stat *items;
    uint32_t n, cap;
    uint64_t offset;         /* matching counters to skip */
    uint64_t idx;            /* matching counters seen so far */
    uint64_t next;           /* 0, or where the next page starts */
    size_t bytes, budget;
    bool oom;
};

/*
 * Starts a page for request req (NULL or no entries: everything) with room
 * for cap items (allocated from z) and budget encoded bytes.  Returns 0 or
 * PLANE_ENOMEM.
 */
int plane_stat_page_init(struct plane_stat_page *p, const struct plane_body_stats *req,
                         struct plane_mp_zone *z, uint32_t cap, size_t budget);
/* Offers counter name = value (name is copied when taken). */
void plane_stat_page_add(struct plane_stat_page *p, const char *name, uint64_t value);
/* Offers counter "prefix.name" = value. */
void plane_stat_page_add2(struct plane_stat_page *p, const char *prefix, const char *name,
                          uint64_t value);
/*
 * Ends the page into out (items owned by the zone), appending ".next" when
 * counters were left out.  Returns 0 or PLANE_ENOMEM (a name did not fit
 * the zone).
 */
int plane_stat_page_finish(struct plane_stat_page *p, struct plane_body_stats *out);
