/* Open-addressing (linear probing) flow table, doubled at 70% load so probes stay short. */
#include "flowtab.h"

#include <string.h>

#include "common/alloc.h"
#include "zipf.h"

void
planegen_flowtab_init(struct planegen_flowtab *t)
{
    memset(t, 0, sizeof(*t));
}

void
planegen_flowtab_uninit(struct planegen_flowtab *t)
{
    plane_free(t->slots);
    memset(t, 0, sizeof(*t));
}

static size_t
slot_of(uint64_t flow, size_t cap)
{
    uint64_t x = flow;
    return (size_t)planegen_mix64(&x) & (cap - 1);
}

static int
flowtab_grow(struct planegen_flowtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    struct planegen_flow *s = plane_calloc(cap, sizeof(*s));
    if (!s)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].used)
            continue;
        size_t j = slot_of(t->slots[i].flow, cap);
        while (s[j].used)
            j = (j + 1) & (cap - 1);
        s[j] = t->slots[i];
    }
    plane_free(t->slots);
    t->slots = s;
    t->cap = cap;
    return 0;
}

struct planegen_flow *
planegen_flowtab_get(struct planegen_flowtab *t, uint64_t flow)
{
    if (t->cap) {
        size_t j = slot_of(flow, t->cap);
        while (t->slots[j].used) {
            if (t->slots[j].flow == flow)
                return &t->slots[j];
            j = (j + 1) & (t->cap - 1);
        }
    }
    if ((t->n + 1) * 10 > t->cap * 7 && flowtab_grow(t) < 0)
        return NULL;
    size_t j = slot_of(flow, t->cap);
    while (t->slots[j].used)
        j = (j + 1) & (t->cap - 1);
    struct planegen_flow *f = &t->slots[j];
    memset(f, 0, sizeof(*f));
    f->flow = flow;
    f->used = 1;
    t->n++;
    return f;
}
