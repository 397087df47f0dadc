/* A packet-rate cap as a token bucket in virtual time. */
#include "common/rate.h"

#include "common/clock.h"

void
plane_rate_init(struct plane_rate *r, uint64_t pps, uint64_t burst_ns)
{
    r->cost_ns = pps ? PLANE_NS_PER_SEC / pps : 0;
    if (pps && !r->cost_ns) {
        r->cost_ns = 1;      /* over 1e9 pps: as good as unlimited, but capped */
    }
    r->burst_ns = burst_ns;
    r->vt_ns = 0;
}

bool
plane_rate_allow(struct plane_rate *r, uint64_t now_ns)
{
    if (!r->cost_ns) {
        return true;
    }
    uint64_t floor_ns = now_ns > r->burst_ns ? now_ns - r->burst_ns : 0;
    if (r->vt_ns < floor_ns) {
        r->vt_ns = floor_ns;
    }
    if (r->vt_ns > now_ns) {
        return false;
    }
    r->vt_ns += r->cost_ns;
    return true;
}
