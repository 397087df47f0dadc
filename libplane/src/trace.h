/* Key popularity measured from a packet trace (pcap), for the planner's workload. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Reads the Ethernet pcap at path, counts packets per flow (the full 5-tuple
 * of plane_pkt_parse(); non-IP frames are skipped), ranks flows by count and
 * cuts the ranks into `quanta` equal ranges (fewer when there are fewer
 * flows), hottest first.  On success *fractions (plane_malloc'ed, *n
 * entries summing to 1) holds each range's share of the packets and *keys
 * the number of flows.  Returns 0, PLANE_ENOTSUP (built without libpcap),
 * PLANE_EIO (unreadable trace), PLANE_ENOENT (no IP packet in it) or
 * PLANE_ENOMEM; err (when not NULL) says what.
 */
int plane_trace_popularity(const char *path, uint32_t quanta, double **fractions, size_t *n,
                           uint64_t *keys, char *err, size_t err_len);
