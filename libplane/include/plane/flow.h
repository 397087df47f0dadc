/* The flow key: a packet's 5-tuple as a fixed-size, byte-comparable value apps use as table keys. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A flow key names one direction of a flow.  It is meant to be hashed and
 * compared as raw bytes (memcmp, plane_hash_flow_key()), so it has no
 * implicit padding and every byte, the explicit pad included, is defined:
 * whoever fills one in starts from plane_flow_key_init() (or memset 0).
 *
 * Addresses are 16 bytes in network byte order.  An IPv4 address is stored
 * IPv4-mapped (RFC 4291 2.5.5.2: ::ffff:a.b.c.d), so the four IPv4 bytes sit
 * at offset 12 (PLANE_FLOW_V4_OFF) and a v4 key never equals a v6 key for a
 * different address.
 *
 * Ports are in host byte order.  They are 0 for protocols without ports.  For
 * ICMP and ICMPv6 echo request/reply both ports hold the echo identifier, so
 * a ping and its reply map to the same flow in both directions
 * (plane_flow_key_reverse()) and two pings from different processes are
 * different flows; for every other ICMP message both ports are 0 (the type
 * and code are in struct plane_pkt, not in the key).
 *
 * ip_version is 4 or 6; a zeroed key (ip_version 0) means "no flow".
 */
struct plane_flow_key {
    uint8_t src_addr[16];
    uint8_t dst_addr[16];
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t ip_version;         /* 4 or 6; 0 in an empty key */
    uint8_t proto;              /* IP protocol number: 6 TCP, 17 UDP, 1 ICMP... */
    uint8_t pad[2];             /* always 0, so the key can be hashed as bytes */
};

/* Where the IPv4 address sits inside a 16-byte IPv4-mapped address. */
#define PLANE_FLOW_V4_OFF 12

/* Enough for any key plane_flow_key_format() writes, NUL included. */
#define PLANE_FLOW_KEY_STRLEN 112

/*
 * Field selectors for plane_flow_key_mask(): an app whose table is keyed by
 * less than the full 5-tuple (say, per source address) builds its sub-key by
 * masking the full key.
 */
enum plane_flow_field {
    PLANE_FLOW_SRC_IP   = 1u << 0,
    PLANE_FLOW_DST_IP   = 1u << 1,
    PLANE_FLOW_SRC_PORT = 1u << 2,
    PLANE_FLOW_DST_PORT = 1u << 3,
    PLANE_FLOW_PROTO    = 1u << 4,
    PLANE_FLOW_ALL      = (1u << 5) - 1,
};

/* Zeroes *key (the empty key; padding defined). */
void plane_flow_key_init(struct plane_flow_key *key);

/*
 * Fills *key with an IPv4 flow: src/dst are the addresses in network byte
 * order (4 bytes each, stored IPv4-mapped), ports in host order.
 */
void plane_flow_key_set_v4(struct plane_flow_key *key, uint8_t proto,
                           const uint8_t src[4], uint16_t src_port,
                           const uint8_t dst[4], uint16_t dst_port);

/* Fills *key with an IPv6 flow: src/dst are 16-byte addresses. */
void plane_flow_key_set_v6(struct plane_flow_key *key, uint8_t proto,
                           const uint8_t src[16], uint16_t src_port,
                           const uint8_t dst[16], uint16_t dst_port);

/*
 * Writes the key of the reverse direction (source and destination swapped,
 * addresses and ports) to *out.  key and out may be the same object.
 */
void plane_flow_key_reverse(const struct plane_flow_key *key,
                            struct plane_flow_key *out);

/* Returns true when a and b are the same key (byte-wise). */
bool plane_flow_key_eq(const struct plane_flow_key *a,
                       const struct plane_flow_key *b);

/*
 * Writes to *out the sub-key of key made of the fields selected by `fields`
 * (a mask of enum plane_flow_field); the other fields are zero.  ip_version
 * is kept when an address is selected (so v4 and v6 sub-keys stay distinct)
 * and zeroed otherwise.  key and out may be the same object.
 */
void plane_flow_key_mask(const struct plane_flow_key *key, unsigned fields,
                         struct plane_flow_key *out);

/*
 * Formats key for logs into buf (len bytes, always NUL-terminated when
 * len > 0, truncated if short; PLANE_FLOW_KEY_STRLEN always suffices):
 *   "tcp 10.0.0.1:80 -> 10.0.0.2:5555"
 *   "udp [2001:db8::1]:53 -> [2001:db8::2]:5555"
 *   "icmp 10.0.0.1 -> 10.0.0.2 id 7"      (echo; other ICMP without "id")
 *   "proto 47 10.0.0.1 -> 10.0.0.2"
 *   "none"                                  (ip_version 0)
 * Returns buf, so the call can sit in a log line's arguments.
 */
char *plane_flow_key_format(const struct plane_flow_key *key, char *buf,
                            size_t len);

#ifdef __cplusplus
}
#endif
