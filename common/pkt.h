/* Packet parsing (Ethernet/VLAN/IPv4/IPv6/TCP/UDP/ICMP), frame builders and checksum rewrites. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plane/flow.h>

#define PLANE_ETH_HLEN 14
#define PLANE_VLAN_HLEN 4
#define PLANE_PKT_MAX_VLANS 2
/* IPv6 extension headers walked before giving up with PLANE_EUNSUPP. */
#define PLANE_PKT_MAX_IPV6_EXT 8

#define PLANE_ETHERTYPE_IPV4 0x0800
#define PLANE_ETHERTYPE_ARP 0x0806
#define PLANE_ETHERTYPE_VLAN 0x8100     /* 802.1Q C-tag */
#define PLANE_ETHERTYPE_QINQ 0x88a8     /* 802.1ad S-tag */
#define PLANE_ETHERTYPE_IPV6 0x86dd

#define PLANE_IPPROTO_ICMP 1
#define PLANE_IPPROTO_TCP 6
#define PLANE_IPPROTO_UDP 17
#define PLANE_IPPROTO_ICMPV6 58

#define PLANE_TCP_FIN 0x01
#define PLANE_TCP_SYN 0x02
#define PLANE_TCP_RST 0x04
#define PLANE_TCP_PSH 0x08
#define PLANE_TCP_ACK 0x10
#define PLANE_TCP_URG 0x20
#define PLANE_TCP_ECE 0x40
#define PLANE_TCP_CWR 0x80

enum plane_pkt_flag {
    PLANE_PKT_F_L4         = 1u << 0, /* L4 header parsed: ports/TCP/ICMP fields valid */
    PLANE_PKT_F_FRAG       = 1u << 1, /* an IP fragment (first or not) */
    PLANE_PKT_F_FRAG_FIRST = 1u << 2, /* offset 0, more fragments follow */
    PLANE_PKT_F_FRAG_LATER = 1u << 3, /* offset > 0: carries no L4 header */
    PLANE_PKT_F_IP_DF      = 1u << 4, /* IPv4 don't-fragment bit */
    PLANE_PKT_F_IP_OPTS    = 1u << 5, /* IPv4 options present (IHL > 5) */
    PLANE_PKT_F_IPV6_EXT   = 1u << 6, /* IPv6 extension headers walked */
};

/*
 * One parsed frame.  Offsets are from the frame start and satisfy
 * l2_off (0) <= l3_off <= l4_off <= payload_off and
 * payload_off + payload_len <= frame length.
 *
 * l4_off is where the L4 header starts (after IPv4 options / IPv6 extension
 * headers).  When the L4 header was parsed (PLANE_PKT_F_L4), payload_off is
 * just past it; otherwise (unknown protocol, non-first fragment, first
 * fragment too short for its L4 header) payload_off == l4_off and the
 * payload is everything the IP packet carries there.  payload_len stops at
 * the end of the IP packet (Ethernet padding excluded) and, for UDP, at the
 * end given by the UDP length field.
 */
struct plane_pkt {
    uint32_t l2_off;
    uint32_t l3_off;
    uint32_t l4_off;
    uint32_t payload_off;
    uint32_t payload_len;
    uint32_t l3_len;            /* IP packet length per its header */
    uint32_t flags;             /* enum plane_pkt_flag */

    uint16_t ethertype;         /* innermost, after VLAN tags */
    uint8_t n_vlans;            /* 0..PLANE_PKT_MAX_VLANS, outermost first */
    uint16_t vlan_tci[PLANE_PKT_MAX_VLANS];
    uint16_t vlan_id[PLANE_PKT_MAX_VLANS];  /* tci & 0xfff */

    uint8_t ip_version;         /* 4 or 6 */
    uint8_t proto;              /* final protocol after extension headers */
    uint8_t ttl;                /* TTL or hop limit */
    uint8_t tcp_flags;          /* PLANE_TCP_* */
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint16_t icmp_id;           /* echo request/reply only, else 0 */
    uint32_t frag_id;           /* IPv4 id or IPv6 fragment id, when fragmented */
    uint16_t frag_off;          /* fragment offset in bytes */

    struct plane_flow_key key;  /* empty (ip_version 0) unless IP was parsed */
};

/*
 * Parses frame[0..len) into *out.  Reads nothing past len and allocates
 * nothing; checksums are not verified.  IPv4 and IPv6 are parsed after
 * Ethernet II with zero, one or two 802.1Q/802.1ad tags.
 *
 * Returns 0 when the frame is IP (out fully valid; see PLANE_PKT_F_L4 for
 * whether L4 fields are), or:
 *   PLANE_EUNSUPP  not IP (ARP, 802.3 length field, three+ VLAN tags), or
 *                  an IPv6 jumbogram / more than PLANE_PKT_MAX_IPV6_EXT
 *                  extension headers; L2 fields (and l3_off, ethertype) valid;
 *   PLANE_ETRUNC   the buffer ends before a header or before the IP length;
 *   PLANE_EBADMSG  header fields contradict each other (IP version, IHL < 5,
 *                  total length < header, TCP data offset < 5 or past the
 *                  packet, UDP length < 8 or past the packet, extension
 *                  header past the packet).
 * On error the fields not named above are zero or unspecified.
 */
int plane_pkt_parse(const uint8_t *frame, size_t len, struct plane_pkt *out);

/* ---- Frame builders (tests, apps, tools). ---- */

/*
 * What a builder writes.  Addresses and ports come from `key` (IPv4-mapped
 * addresses for the v4 builders; key.proto and key.ip_version are ignored).
 */
struct plane_pkt_spec {
    uint8_t dst_mac[6];
    uint8_t src_mac[6];
    uint16_t vlan_tci;          /* 0: untagged; else one 802.1Q tag */
    struct plane_flow_key key;
    uint8_t ttl;                /* 0 means 64 */
    uint16_t ip_id;             /* IPv4 identification */
    uint8_t tcp_flags;          /* TCP builders */
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    uint16_t tcp_window;        /* 0 means 65535 */
};

/*
 * Each builder writes an Ethernet frame carrying `payload` (payload_len
 * bytes, may be NULL when 0) into buf (cap bytes) with correct IPv4 header
 * and L4 checksums, and stores its length in *frame_len.  Frames are not
 * padded to the Ethernet minimum.  IPv4 builders set DF and no options.
 * Returns 0, PLANE_ENOSPC if cap is too small, PLANE_EMSGSIZE if the payload
 * does not fit one IP packet, PLANE_EINVAL on NULL arguments.
 */
int plane_pkt_build_udp4(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                         const void *payload, size_t payload_len, size_t *frame_len);
int plane_pkt_build_tcp4(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                         const void *payload, size_t payload_len, size_t *frame_len);
int plane_pkt_build_udp6(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                         const void *payload, size_t payload_len, size_t *frame_len);
int plane_pkt_build_tcp6(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                         const void *payload, size_t payload_len, size_t *frame_len);

/* ---- Internet checksums (RFC 1071) and incremental updates (RFC 1624). ---- */

/*
 * Checksum values and 16-bit words here are numbers read big-endian from the
 * packet (p[0] << 8 | p[1]), the way they appear on the wire.
 */

/* Adds len bytes at data to a running 32-bit ones-complement sum. */
uint32_t plane_pkt_csum_add(uint32_t sum, const void *data, size_t len);
/* Folds a running sum and complements it: the value to store in a header. */
uint16_t plane_pkt_csum_fold(uint32_t sum);
/* Returns checksum csum updated for a 16-bit word changing from old to new. */
uint16_t plane_pkt_csum_update16(uint16_t csum, uint16_t old, uint16_t new_);
/* Same for a 32-bit field (e.g. an IPv4 address read big-endian). */
uint16_t plane_pkt_csum_update32(uint16_t csum, uint32_t old, uint32_t new_);
/* Same for n bytes (n even) changing from old to new (e.g. IPv6 addresses). */
uint16_t plane_pkt_csum_update_bytes(uint16_t csum, const uint8_t *old,
                                     const uint8_t *new_, size_t n);

/*
 * In-place rewrites for NAT: frame is the buffer pkt was parsed from (by
 * plane_pkt_parse() returning 0).  Each updates the IPv4 header checksum,
 * the TCP/UDP checksum when the L4 header is present (a zero UDP checksum,
 * "none", stays zero), and pkt->key.
 *
 * plane_pkt_set_ipv4_src/dst: addr is 4 bytes in network order; returns 0 or
 * PLANE_EINVAL when pkt is not IPv4.
 * plane_pkt_set_l4_sport/dport: port in host order; returns 0 or
 * PLANE_EINVAL when pkt has no parsed TCP/UDP header.
 */
int plane_pkt_set_ipv4_src(uint8_t *frame, struct plane_pkt *pkt, const uint8_t addr[4]);
int plane_pkt_set_ipv4_dst(uint8_t *frame, struct plane_pkt *pkt, const uint8_t addr[4]);
int plane_pkt_set_l4_sport(uint8_t *frame, struct plane_pkt *pkt, uint16_t port);
int plane_pkt_set_l4_dport(uint8_t *frame, struct plane_pkt *pkt, uint16_t port);

/*
 * Recomputes from scratch the IPv4 header checksum and the TCP/UDP checksum
 * of a parsed frame (tests compare incremental updates against this; tools
 * use it after larger edits).  Returns 0 or PLANE_EINVAL as above.
 */
int plane_pkt_recompute_csums(uint8_t *frame, const struct plane_pkt *pkt);
