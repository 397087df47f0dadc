/* The stamp planegen writes at the start of every packet's L4 payload, and its decoder. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Layout (all big-endian), the first PLANEGEN_STAMP_LEN bytes of the L4 payload:
 *   [0, 8)   flow id: class * flows_per_class + flow (pcap replay: a hash of the 5-tuple)
 *   [8, 16)  the flow's sequence number, 0 for its first packet
 *   [16, 24) zero when sent: left to apps to rewrite (flowcheck writes its
 *            mapping id here), and checked by the sink like a rewritten header
 *   [24, 32) send time, plane_clock_now_ns() (CLOCK_MONOTONIC) of the sender
 *   [32, 40) the magic "PLANEGN1"
 * The flow/seq/app-word offsets are the ones tests/integration/rack_test.c
 * uses, so the flowcheck app works on planegen traffic unchanged.
 */
#define PLANEGEN_STAMP_LEN 40
#define PLANEGEN_STAMP_MAGIC 0x504c414e45474e31ull   /* "PLANEGN1" */

struct planegen_stamp {
    uint64_t flow;
    uint64_t seq;
    uint64_t app_word;   /* [16, 24): 0 on send */
    uint64_t send_ns;
};

/* Writes s into buf, which must hold PLANEGEN_STAMP_LEN bytes. */
void planegen_stamp_encode(const struct planegen_stamp *s, uint8_t *buf);

/*
 * Reads a stamp from the len bytes at buf.  Returns 0, PLANE_ETRUNC when
 * len < PLANEGEN_STAMP_LEN, PLANE_EBADMSG when the magic is wrong.
 */
int planegen_stamp_decode(const uint8_t *buf, size_t len, struct planegen_stamp *s);

/* Big-endian helpers shared by planegen's modules. */
void planegen_put_be64(uint8_t *p, uint64_t v);
uint64_t planegen_get_be64(const uint8_t *p);
