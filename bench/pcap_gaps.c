/* pcap_gaps: the largest inter-arrival gap (and where) in a pcap written by planegen sink, for the failover benchmark. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Usage: pcap_gaps FILE [FROM_NS [KILL_NS]]
 * Prints `max_gap_us GAP at_ns T packets N flow_gap_us F` where T is the
 * capture time (ns since the epoch, CLOCK_REALTIME as pcap stores it) of
 * the packet that ended the largest gap in the whole egress.  With FROM_NS
 * only gaps ending after FROM_NS count, so the start-up gap before traffic
 * does not.  F is, over the flows seen before KILL_NS, the longest from
 * KILL_NS to a flow's first packet after it: the outage of the flows the
 * killed device held (kill to first packet at the replica), which the
 * aggregate gap hides while the other flows keep flowing.  A flow that
 * never comes back does not count (the run's loss figure shows it).  Flows are told apart by planegen's stamp (flow id,
 * the first 8 bytes of the UDP payload).  Reads classic pcap in either byte
 * order, micro- or nanosecond timestamps.  Not a test: a bench helper.
 */

#define SLOTS 65536 /* flows tracked (open addressing); more are ignored */

static uint64_t flow_id[SLOTS];
static uint64_t flow_last[SLOTS];
static unsigned char flow_used[SLOTS];

/* The stamp's flow id of an Ethernet/IPv4/UDP frame, or false. */
static int
frame_flow(const unsigned char *f, uint32_t len, uint64_t *id)
{
    uint32_t off = 12;
    if (len < off + 2) {
        return 0;
    }
    uint16_t et = (uint16_t)(f[off] << 8 | f[off + 1]);
    off += 2;
    if (et == 0x8100) {
        if (len < off + 4) {
            return 0;
        }
        et = (uint16_t)(f[off + 2] << 8 | f[off + 3]);
        off += 4;
    }
    if (et != 0x0800 || len < off + 20 || f[off + 9] != 17) {
        return 0;
    }
    off += (uint32_t)(f[off] & 0x0f) * 4 + 8;
    if (len < off + 8) {
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | f[off + (uint32_t)i];
    }
    *id = v;
    return 1;
}

static uint32_t
rd32(const unsigned char *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pcap_gaps FILE [FROM_NS]\n");
        return 1;
    }
    uint64_t from = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    uint64_t kill_ns = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    uint64_t flow_gap = 0;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    unsigned char gh[24];
    if (fread(gh, 1, sizeof gh, f) != sizeof gh) {
        fprintf(stderr, "pcap_gaps: short header\n");
        fclose(f);
        return 2;
    }
    uint32_t magic;
    memcpy(&magic, gh, 4);
    int swap = 0;
    uint64_t unit = 1000; /* ns per sub-second tick */
    if (magic == 0xa1b2c3d4u) {
    } else if (magic == 0xd4c3b2a1u) {
        swap = 1;
    } else if (magic == 0xa1b23c4du) {
        unit = 1;
    } else if (magic == 0x4d3cb2a1u) {
        swap = 1;
        unit = 1;
    } else {
        fprintf(stderr, "pcap_gaps: not a pcap file\n");
        fclose(f);
        return 2;
    }
    unsigned char rh[16];
    static unsigned char buf[65536];
    uint64_t prev = 0, best = 0, best_at = 0, n = 0;
    while (fread(rh, 1, sizeof rh, f) == sizeof rh) {
        uint64_t t = (uint64_t)rd32(rh, swap) * 1000000000u + (uint64_t)rd32(rh + 4, swap) * unit;
        uint32_t caplen = rd32(rh + 8, swap);
        if (caplen > sizeof buf || fread(buf, 1, caplen, f) != caplen) {
            break;
        }
        if (n > 0 && t >= from && t > prev && t - prev > best) {
            best = t - prev;
            best_at = t;
        }
        uint64_t id;
        if (kill_ns && frame_flow(buf, caplen, &id)) {
            uint32_t h = (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 48) & (SLOTS - 1);
            for (uint32_t probe = 0; probe < SLOTS; probe++, h = (h + 1) & (SLOTS - 1)) {
                if (!flow_used[h]) {
                    flow_used[h] = 1;
                    flow_id[h] = id;
                    flow_last[h] = t;
                    break;
                }
                if (flow_id[h] == id) {
                    if (flow_last[h] <= kill_ns && t > kill_ns && t - kill_ns > flow_gap) {
                        flow_gap = t - kill_ns;
                    }
                    flow_last[h] = t;
                    break;
                }
            }
        }
        prev = t;
        n++;
    }
    fclose(f);
    printf("max_gap_us %" PRIu64 " at_ns %" PRIu64 " packets %" PRIu64 " flow_gap_us %" PRIu64 "\n",
           best / 1000, best_at, n, flow_gap / 1000);
    return 0;
}
