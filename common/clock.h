/* The clock every Plane timer reads: monotonic nanoseconds that tests can drive. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PLANE_NS_PER_US 1000ULL
#define PLANE_NS_PER_MS 1000000ULL
#define PLANE_NS_PER_SEC 1000000000ULL

/*
 * Returns the current monotonic time in nanoseconds.  Normally
 * CLOCK_MONOTONIC; after plane_clock_warp_enable() a value that only moves
 * when a test calls plane_clock_warp() (OVS "time/warp").
 */
uint64_t plane_clock_now_ns(void);

/* Returns CLOCK_REALTIME in nanoseconds, for log lines and reports only. */
uint64_t plane_clock_wall_ns(void);

/* Freezes the clock at start_ns; it then advances only by plane_clock_warp(). */
void plane_clock_warp_enable(uint64_t start_ns);
/* Advances a frozen clock by delta_ns.  No-op when the clock is not frozen. */
void plane_clock_warp(uint64_t delta_ns);
/* Returns the clock to CLOCK_MONOTONIC. */
void plane_clock_warp_disable(void);
bool plane_clock_is_warped(void);
