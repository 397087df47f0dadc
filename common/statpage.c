/* One page of a STATS answer: counters filtered by name prefix, paged to fit a datagram. */
#include "common/statpage.h"

#include <stdio.h>
#include <string.h>

#include "plane/error.h"

int
plane_stat_page_init(struct plane_stat_page *p, const struct plane_body_stats *req,
                     struct plane_mp_zone *z, uint32_t cap, size_t budget)
{
    memset(p, 0, sizeof *p);
    p->req = req;
    p->z = z;
    p->cap = cap;
    p->budget = budget;
    p->items = plane_mp_zone_calloc(z, (size_t) cap + 1, sizeof *p->items);
    if (!p->items) {
        return PLANE_ENOMEM;
    }
    for (uint32_t i = 0; req && i < req->n_stats; i++) {
        if (req->stats[i].name && !strcmp(req->stats[i].name, PLANE_STAT_OFFSET)) {
            p->offset = req->stats[i].value;
        }
    }
    return 0;
}

static bool
stat_wanted(const struct plane_stat_page *p, const char *name)
{
    bool any_filter = false;
    for (uint32_t i = 0; p->req && i < p->req->n_stats; i++) {
        const char *f = p->req->stats[i].name;
        if (!f || !strcmp(f, PLANE_STAT_OFFSET)) {
            continue;
        }
        any_filter = true;
        if (!strncmp(name, f, strlen(f))) {
            return true;
        }
    }
    return !any_filter;
}

void
plane_stat_page_add(struct plane_stat_page *p, const char *name, uint64_t value)
{
    if (!name || !stat_wanted(p, name)) {
        return;
    }
    uint64_t i = p->idx++;
    if (i < p->offset || p->next) {
        return;
    }
    size_t len = strlen(name);
    /* msgpack: array header, str header (<= 3), the bytes, a uint (<= 9). */
    size_t cost = 1 + 3 + len + 9;
    if (p->n == p->cap || p->bytes + cost > p->budget) {
        p->next = i;
        return;
    }
    const char *s = plane_mp_zone_strndup(p->z, name, len);
    if (!s) {
        p->oom = true;
        return;
    }
    p->items[p->n++] = (struct plane_body_stat) { .name = s, .value = value };
    p->bytes += cost;
}

void
plane_stat_page_add2(struct plane_stat_page *p, const char *prefix, const char *name,
                     uint64_t value)
{
    char buf[160];
    if (!name) {
        return;
    }
    int len = snprintf(buf, sizeof buf, "%s.%s", prefix, name);
    if (len > 0 && (size_t) len < sizeof buf) {
        plane_stat_page_add(p, buf, value);
    }
}

int
plane_stat_page_finish(struct plane_stat_page *p, struct plane_body_stats *out)
{
    if (p->oom) {
        return PLANE_ENOMEM;
    }
    if (p->next) {
        /* items has cap + 1 slots: room for the marker. */
        p->items[p->n++] = (struct plane_body_stat) { .name = PLANE_STAT_NEXT,
                                                      .value = p->next };
    }
    out->n_stats = p->n;
    out->stats = p->items;
    return 0;
}
