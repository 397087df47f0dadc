/* An open-addressing table of per-flow records keyed by 64-bit flow id (sink accounting, pcap replay). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* What planegen keeps per flow: the sink's order/dup window and rewrite check, or the replayer's seq. */
struct planegen_flow {
    uint64_t flow;          /* the key */
    uint64_t window;        /* bit i set: seq (hi - 1 - i) was seen */
    uint64_t rewrite_hash;  /* hash of the first egress packet's rewritable fields */
    uint64_t hi;            /* 1 + highest seq seen; the replayer's next seq */
    uint32_t rx;            /* unique packets received */
    uint8_t used;
    uint8_t inconsistent;   /* its rewritten fields changed at least once */
};

struct planegen_flowtab {
    struct planegen_flow *slots;
    size_t cap;             /* power of two, or 0 before the first insert */
    size_t n;
};

/* Empties t (no allocation until the first insert). */
void planegen_flowtab_init(struct planegen_flowtab *t);
/* Frees t's slots. */
void planegen_flowtab_uninit(struct planegen_flowtab *t);
/*
 * Returns the record of flow, inserting a zeroed one (used = 1) when absent;
 * NULL when growing the table failed.  The pointer is valid until the next
 * call that inserts.
 */
struct planegen_flow *planegen_flowtab_get(struct planegen_flowtab *t, uint64_t flow);
