/* A packet-rate cap as a token bucket in virtual time: emulates a device slower than the wire. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Each packet costs 1/rate seconds of a virtual clock that may run at most
 * `burst_ns` behind real time (the bucket's depth) and never ahead of it.
 * No allocation, no timer: one comparison and one add per packet.
 */
struct plane_rate {
    uint64_t cost_ns;       /* ns per packet; 0: unlimited */
    uint64_t burst_ns;
    uint64_t vt_ns;         /* virtual time of the bucket */
};

/* Caps r at pps packets per second (0: unlimited) with a burst of burst_ns. */
void plane_rate_init(struct plane_rate *r, uint64_t pps, uint64_t burst_ns);

/* True when a packet arriving at now_ns fits the cap (and charges it). */
bool plane_rate_allow(struct plane_rate *r, uint64_t now_ns);
