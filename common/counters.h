/* Named counters: a struct of uint64_t fields generated from an X-macro list. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * A module lists its counters once:
 *
 *     #define PLANE_UDP_COUNTERS(X) X(rx_datagrams) X(rx_bad_header)
 *     struct plane_udp_stats { PLANE_COUNTERS_FIELDS(PLANE_UDP_COUNTERS) };
 *     static const char *const udp_counter_names[] =
 *         { PLANE_COUNTERS_NAMES(PLANE_UDP_COUNTERS) };
 *
 * and bumps them with PLANE_CTR_INC(&stats, rx_bad_header).  A struct made
 * only of uint64_t fields has no padding, so plane_counters_get() can walk it
 * by index to print or export every counter by name (OVS coverage counters).
 */
#define PLANE_COUNTERS_FIELD_(name) uint64_t name;
#define PLANE_COUNTERS_NAME_(name) #name,
#define PLANE_COUNTERS_FIELDS(MAP) MAP(PLANE_COUNTERS_FIELD_)
#define PLANE_COUNTERS_NAMES(MAP) MAP(PLANE_COUNTERS_NAME_)

#define PLANE_CTR_INC(stats, name) ((stats)->name++)
#define PLANE_CTR_ADD(stats, name, n) ((stats)->name += (n))

/* Returns counter i of a counters struct viewed as n uint64_t values. */
static inline uint64_t
plane_counters_get(const void *stats, size_t i)
{
    return ((const uint64_t *) stats)[i];
}
