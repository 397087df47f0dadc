/* Monotonic clock with a test-driven "warp" mode. */
#include "common/clock.h"

#include <stdatomic.h>
#include <time.h>

/* Atomics so a test thread may warp the clock a loop thread reads. */
static atomic_bool warped;
static _Atomic uint64_t warp_now;

static uint64_t
read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t) ts.tv_sec * PLANE_NS_PER_SEC + (uint64_t) ts.tv_nsec;
}

uint64_t
plane_clock_now_ns(void)
{
    if (atomic_load_explicit(&warped, memory_order_relaxed)) {
        return atomic_load(&warp_now);
    }
    return read_clock(CLOCK_MONOTONIC);
}

uint64_t
plane_clock_wall_ns(void)
{
    return read_clock(CLOCK_REALTIME);
}

void
plane_clock_warp_enable(uint64_t start_ns)
{
    atomic_store(&warp_now, start_ns);
    atomic_store(&warped, true);
}

void
plane_clock_warp(uint64_t delta_ns)
{
    if (atomic_load(&warped)) {
        atomic_fetch_add(&warp_now, delta_ns);
    }
}

void
plane_clock_warp_disable(void)
{
    atomic_store(&warped, false);
}

bool
plane_clock_is_warped(void)
{
    return atomic_load(&warped);
}
