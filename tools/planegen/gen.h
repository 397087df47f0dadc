/* planegen gen: synthetic Zipf traffic (or pcap replay), stamped per packet and paced in batches. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "zipf.h"

struct plane_pkt_spec;

#define PLANEGEN_MAX_TO 16
#define PLANEGEN_MAX_SIZES 16
#define PLANEGEN_MAX_CLASSES 16
/* The largest frame planegen builds: a jumbo frame that fits one Plane datagram. */
#define PLANEGEN_MAX_FRAME 9000
/* Frames are never smaller than the headers plus the stamp (82 bytes for UDP/IPv4). */

/*
 * A traffic class: the destination ports (and protocol, VLAN) that a rack
 * app's traffic_class matches (common/config.h: proto, dst_port LO-HI, vlan).
 */
struct planegen_class {
    uint8_t proto;           /* PLANE_IPPROTO_UDP or _TCP */
    uint16_t port_lo, port_hi;
    uint16_t vlan;           /* 0: untagged */
    double share;            /* relative weight of its packets */
    uint32_t src_net;        /* source addresses: this IPv4 prefix (host order) */
    uint8_t src_bits;        /* ... of this length (default 10.0.0.0/8) */
    uint32_t dst_net;        /* destination addresses: this prefix ... */
    uint8_t dst_bits;        /* ... of this length (default 172.16.0.0/12) */
};

struct planegen_gen_opts {
    struct sockaddr_storage to[PLANEGEN_MAX_TO];
    socklen_t to_len[PLANEGEN_MAX_TO];
    size_t n_to;
    uint64_t flows;          /* per class */
    double alpha;
    uint64_t seed;
    uint16_t sizes[PLANEGEN_MAX_SIZES];   /* frame lengths */
    double size_w[PLANEGEN_MAX_SIZES];    /* their weights */
    size_t n_sizes;
    struct planegen_class classes[PLANEGEN_MAX_CLASSES];
    size_t n_classes;
    uint64_t count;          /* 0: no limit */
    double duration_s;       /* 0: no limit */
    uint64_t rate_pps;       /* 0: as fast as possible */
    double churn_s;          /* 0: a fixed hot set */
    size_t batch;            /* packets per sendmmsg */
    const char *pcap;        /* replay this trace instead of synthesising */
    bool keep_timing;        /* replay with the trace's inter-arrival times... */
    double compress;         /* ...divided by this (>= 1 speeds up; 0: no timing) */
    const char *report;      /* write the JSON summary here at the end */
    bool json;               /* print the JSON summary on stdout */
    bool quiet;
};

/* Fills o with the defaults (1M flows, alpha 0.99, one UDP class on 7000-7999, 64..1500 B mix). */
void planegen_gen_opts_default(struct planegen_gen_opts *o);

/*
 * Parses gen's arguments (argv[0] is the first option, not "gen") into *o,
 * starting from the defaults.  Returns 0, 1 when --help was asked (usage
 * printed to out), or PLANE_EINVAL with a message in err.
 */
int planegen_gen_parse(struct planegen_gen_opts *o, int argc, char **argv, FILE *out, char *err,
                       size_t err_len);
void planegen_gen_usage(FILE *f);

/*
 * The synthetic generator, apart from sockets so tests can drive it.  Per
 * packet: a class by its share, a rank by Zipf(alpha) over `flows`, the
 * rank shuffled to a flow by a keyed permutation (re-keyed every churn
 * epoch, so the hot set moves), and the flow's 5-tuple derived from a hash
 * of (seed, class, flow): nothing per flow is stored but its next sequence
 * number.
 */
struct planegen_gen {
    struct planegen_gen_opts opts;
    struct planegen_rng rng;
    struct planegen_zipf zipf;
    struct planegen_perm perm;
    uint64_t epoch;
    uint32_t *seq;            /* per flow id: the next sequence number */
    uint64_t n_flow_ids;      /* flows * classes */
    double size_cum[PLANEGEN_MAX_SIZES];
    double class_cum[PLANEGEN_MAX_CLASSES];
    uint8_t payload[PLANEGEN_MAX_FRAME];   /* scratch: the next packet's payload */
};

/* One packet's identity as the generator chose it. */
struct planegen_pkt_info {
    uint64_t flow;            /* class * flows + flow */
    uint64_t seq;
    size_t cls;
    size_t to;                /* index into opts.to: fixed per flow */
};

/* Prepares g from o (copied).  Returns 0, PLANE_EINVAL or PLANE_ENOMEM. */
int planegen_gen_init(struct planegen_gen *g, const struct planegen_gen_opts *o);
void planegen_gen_uninit(struct planegen_gen *g);
/* Moves the hot set: ranks map to other flows from now on (flows keep their sequences). */
void planegen_gen_set_epoch(struct planegen_gen *g, uint64_t epoch);
/*
 * Builds the next packet into buf (cap bytes, at least PLANEGEN_MAX_FRAME)
 * stamped with send time now_ns; stores its length and identity.  Returns
 * 0 or a negative PLANE_E* from the frame builder.
 */
int planegen_gen_next(struct planegen_gen *g, uint64_t now_ns, uint8_t *buf, size_t cap,
                      size_t *len, struct planegen_pkt_info *info);
/* Fills the frame spec (5-tuple, VLAN, MACs) of flow id `flow` (class * flows + flow). */
void planegen_gen_flow_spec(const struct planegen_gen *g, uint64_t flow,
                            struct plane_pkt_spec *spec);

/* Runs gen with o until its count, duration, end of trace or SIGINT/SIGTERM.  Returns 0 or PLANE_E*. */
int planegen_gen_run(const struct planegen_gen_opts *o);
