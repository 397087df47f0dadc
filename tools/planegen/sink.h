/* planegen sink: receives a rack's egress (or planegen's frames directly) and accounts for every stamped packet. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "flowtab.h"
#include "stats.h"

/* Devices tracked one by one; the rest share the last row ("other"). */
#define PLANEGEN_ACCT_MAX_DEVICES 64
/* The device row of packets that came without a DATA header (straight from planegen gen). */
#define PLANEGEN_DEV_DIRECT 0xffffu
#define PLANEGEN_DEV_OTHER 0xfffeu

/* Per processing device (processed_by of the DATA header). */
struct planegen_dev_stats {
    uint16_t id;
    uint64_t packets;
    struct planegen_hist e2e;    /* sink receive time - stamp send time */
    struct planegen_hist proc;   /* processed_ns - ingress_ns of the DATA header */
};

/*
 * Promotion tracking (--promotion-src): for each flow (egress 5-tuple) whose
 * IPv4 source lies in a prefix, the receive time of its first packet and of
 * its first packet processed at the switch; the difference is how long the
 * rack took to serve it at the switch.  At most PLANEGEN_PROMO_MAX_FLOWS
 * flows are tracked; the packets of later ones are counted as untracked.
 */
#define PLANEGEN_PROMO_MAX_FLOWS 4096
struct planegen_promo_flow;          /* private to sink.c */

/* What planegen_acct_promotion() reports; times in ns. */
struct planegen_promo_summary {
    uint64_t flows;            /* tracked flows (any packet seen) */
    uint64_t promoted;         /* of those, with a packet processed at the switch */
    uint64_t untracked;        /* packets of flows beyond PLANEGEN_PROMO_MAX_FLOWS */
    uint64_t min_ns, p50_ns, p90_ns, max_ns;   /* over promoted flows; 0 when none */
};

/*
 * The sink's accounting, kept apart from sockets so tests can feed it
 * datagrams.  Per flow it keeps the highest sequence seen and a 64-wide
 * window below it: a sequence inside the window seen before is a
 * duplicate; one below the highest, not seen before, is out of order; one
 * older than the window is counted out of order (a duplicate that old goes
 * undetected).  Lost is sent - unique when the sender's count is known,
 * else the sequence gaps never filled (a lower bound: it misses losses at
 * a flow's tail).
 */
struct planegen_acct {
    uint16_t switch_id;
    bool sent_known;
    uint64_t sent;
    /* every datagram */
    uint64_t datagrams, bytes;
    uint64_t not_stamped;      /* no stamp found: not IP/L4, short payload, wrong magic */
    uint64_t app_dropped;      /* DATA with the DROP flag: reported, not forwarded */
    uint64_t with_header;      /* came with a DATA header */
    /* stamped packets */
    uint64_t received, unique, duplicated, out_of_order;
    uint64_t at_switch;        /* processed_by == switch_id */
    uint64_t rewrite_errors;   /* packets whose rewritten fields differ from the flow's first */
    uint64_t inconsistent_flows;
    uint64_t sum_hi;           /* sum over flows of (1 + highest seq): for gap loss */
    uint64_t first_ns, last_ns;  /* receive times of the first/last stamped packet */
    struct planegen_flowtab flows;
    struct planegen_hist e2e;
    struct planegen_dev_stats *devs[PLANEGEN_ACCT_MAX_DEVICES];
    size_t n_devs;
    bool oom;                  /* a flow or device record could not be allocated */
    /* promotion tracking (off unless planegen_acct_track_promotion() was called) */
    bool promo_on;
    uint32_t promo_net;        /* host order, masked */
    unsigned promo_bits;
    struct planegen_promo_flow *promo;   /* open addressing, 2 * MAX_FLOWS slots */
    size_t promo_n;
    uint64_t promo_untracked;
};

/* Prepares a for a rack whose switch has id switch_id.  Allocates lazily. */
void planegen_acct_init(struct planegen_acct *a, uint16_t switch_id);
void planegen_acct_uninit(struct planegen_acct *a);
/* Tells a how many packets the generator sent (enables exact loss). */
void planegen_acct_set_sent(struct planegen_acct *a, uint64_t sent);

/*
 * Accounts one received datagram: a DATA datagram (common/wire.h) whose
 * frame carries a stamp, or a raw Ethernet frame carrying one.  now_ns is
 * the receive time on plane_clock_now_ns()'s clock.  When frame_out is
 * not NULL it receives the Ethernet frame inside (for the egress pcap).
 * Returns 0 for a stamped packet, PLANE_EBADMSG for anything else (counted
 * in not_stamped).
 */
int planegen_acct_datagram(struct planegen_acct *a, const uint8_t *buf, size_t len,
                           uint64_t now_ns, const uint8_t **frame_out, size_t *frame_len);

/*
 * Turns promotion tracking on for flows whose IPv4 source address lies in
 * net/bits (net in host order, bits <= 32).  The slot table is allocated
 * on the first tracked packet (failure sets a->oom).
 */
void planegen_acct_track_promotion(struct planegen_acct *a, uint32_t net, unsigned bits);

/*
 * Fills *s from the tracked flows.  Returns 0, PLANE_ENOENT when tracking
 * is off, or PLANE_ENOMEM.
 */
int planegen_acct_promotion(const struct planegen_acct *a, struct planegen_promo_summary *s);

/* Lost packets (see the struct comment). */
uint64_t planegen_acct_lost(const struct planegen_acct *a);
/* Unique packets per second between the first and the last stamped arrival. */
double planegen_acct_pps(const struct planegen_acct *a);

/* Writes the JSON summary (one object and a newline) to f. */
void planegen_acct_print_json(const struct planegen_acct *a, FILE *f);
/* Writes the human-readable final table to f. */
void planegen_acct_print_table(const struct planegen_acct *a, FILE *f);

/* ---- the command ---- */

#define PLANEGEN_SINK_MAX_LISTEN 16

struct planegen_sink_opts {
    struct sockaddr_storage listen[PLANEGEN_SINK_MAX_LISTEN];
    socklen_t listen_len[PLANEGEN_SINK_MAX_LISTEN];
    size_t n_listen;
    double duration_s;         /* 0: no limit */
    double idle_s;             /* stop after this long without a datagram; 0: never */
    uint64_t expect;           /* stop once this many unique packets arrived; 0: never */
    bool sent_set;
    uint64_t sent;             /* --sent */
    const char *gen_report;    /* --gen-report: read "sent" from the gen's --report file */
    uint16_t switch_id;
    bool json;
    const char *pcap;          /* write egress frames here */
    const char *ready_file;    /* write the bound addresses here once listening */
    bool quiet;                /* no table, no progress */
    bool promo_set;            /* --promotion-src NET/BITS */
    uint32_t promo_net;
    unsigned promo_bits;
};

/*
 * Parses the sink's arguments (argv[0] is the first option, not "sink")
 * into *o.  Returns 0, 1 when --help was asked (usage printed to out), or
 * PLANE_EINVAL with a message in err (err_len bytes).
 */
int planegen_sink_parse(struct planegen_sink_opts *o, int argc, char **argv, FILE *out,
                        char *err, size_t err_len);
/* Prints the sink's usage. */
void planegen_sink_usage(FILE *f);
/* Runs the sink until a stop condition or SIGINT/SIGTERM.  Returns 0 or a negative PLANE_E*. */
int planegen_sink_run(const struct planegen_sink_opts *o);
