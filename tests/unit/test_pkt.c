/* Tests of the packet parser, flow keys, frame builders and checksum rewrites. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/pkt.h"

/*
 * Frames here are assembled by hand with the helpers below, independently of
 * the library's builders, so a builder bug can't hide a parser bug.
 */

static const uint8_t V4_SRC[4] = { 10, 0, 0, 1 };
static const uint8_t V4_DST[4] = { 10, 0, 0, 2 };
static const uint8_t V6_SRC[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t V6_DST[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

static size_t
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
    return 2;
}

static size_t
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t) (v >> 16));
    put16(p + 2, (uint16_t) v);
    return 4;
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

/* A plain RFC 1071 checksum, written apart from the library's. */
static uint16_t
naive_csum(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint64_t s = 0;
    for (size_t i = 0; i < alen; i++) {
        s += (i & 1) ? a[i] : (uint32_t) a[i] << 8;
    }
    for (size_t i = 0; i < blen; i++) {
        s += (i & 1) ? b[i] : (uint32_t) b[i] << 8;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t) ~s;
}

/* Ethernet header with n_vlans tags (outer 802.1ad when two), then l3. */
static size_t
mk_frame(uint8_t *out, int n_vlans, const uint16_t *vids, uint16_t type,
         const uint8_t *l3, size_t l3len)
{
    size_t n = 0;
    static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };

    memcpy(out, macs, 12);
    n = 12;
    for (int i = 0; i < n_vlans; i++) {
        n += put16(out + n, (n_vlans == 2 && i == 0) ? 0x88a8 : 0x8100);
        n += put16(out + n, vids[i]);
    }
    n += put16(out + n, type);
    memcpy(out + n, l3, l3len);
    return n + l3len;
}

/* IPv4 header (with nopt_words of NOP options) + l4; valid header checksum. */
static size_t
mk_ipv4(uint8_t *out, uint8_t proto, uint16_t frag, size_t nopt_words,
        const uint8_t *l4, size_t l4len)
{
    size_t hl = 20 + 4 * nopt_words;

    memset(out, 0, hl);
    out[0] = (uint8_t) (0x40 | (hl / 4));
    put16(out + 2, (uint16_t) (hl + l4len));
    put16(out + 4, 0x1234);
    put16(out + 6, frag);
    out[8] = 63;
    out[9] = proto;
    memcpy(out + 12, V4_SRC, 4);
    memcpy(out + 16, V4_DST, 4);
    memset(out + 20, 1, 4 * nopt_words);
    put16(out + 10, naive_csum(out, hl, NULL, 0));
    memcpy(out + hl, l4, l4len);
    return hl + l4len;
}

static size_t
mk_ipv6(uint8_t *out, uint8_t nh, const uint8_t *rest, size_t restlen)
{
    memset(out, 0, 40);
    out[0] = 0x60;
    put16(out + 4, (uint16_t) restlen);
    out[6] = nh;
    out[7] = 17;
    memcpy(out + 8, V6_SRC, 16);
    memcpy(out + 24, V6_DST, 16);
    memcpy(out + 40, rest, restlen);
    return 40 + restlen;
}

/* TCP header with nopt_words of NOP options, then payload. */
static size_t
mk_tcp(uint8_t *out, uint16_t sp, uint16_t dp, size_t nopt_words,
       const char *payload)
{
    size_t hl = 20 + 4 * nopt_words, plen = strlen(payload);

    memset(out, 0, hl);
    put16(out, sp);
    put16(out + 2, dp);
    put32(out + 4, 1000);
    put32(out + 8, 2000);
    out[12] = (uint8_t) ((hl / 4) << 4);
    out[13] = PLANE_TCP_SYN | PLANE_TCP_ACK;
    put16(out + 14, 1024);
    memset(out + 20, 1, 4 * nopt_words);
    memcpy(out + hl, payload, plen);
    return hl + plen;
}

static size_t
mk_udp(uint8_t *out, uint16_t sp, uint16_t dp, const char *payload)
{
    size_t plen = strlen(payload);

    put16(out, sp);
    put16(out + 2, dp);
    put16(out + 4, (uint16_t) (8 + plen));
    put16(out + 6, 0);
    memcpy(out + 8, payload, plen);
    return 8 + plen;
}

static size_t
mk_icmp(uint8_t *out, uint8_t type, uint16_t id)
{
    memset(out, 0, 12);
    out[0] = type;
    put16(out + 4, id);
    put16(out + 6, 1);
    memcpy(out + 8, "ping", 4);
    return 12;
}

/* Parses a copy of frame in an exactly-sized heap buffer, so ASan catches
 * any read past len. */
static int
parse_exact(const uint8_t *frame, size_t len, struct plane_pkt *pkt)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, frame, len);
    int err = plane_pkt_parse(copy, len, pkt);
    free(copy);
    return err;
}

static void
check_invariants(const struct plane_pkt *p, size_t len)
{
    assert_true(p->l2_off <= p->l3_off);
    assert_true(p->l3_off <= p->l4_off);
    assert_true(p->l4_off <= p->payload_off);
    assert_true((size_t) p->payload_off + p->payload_len <= len);
    assert_true((size_t) p->l3_off + p->l3_len <= len);
}

static const char *
fmt(const struct plane_pkt *p)
{
    static char buf[PLANE_FLOW_KEY_STRLEN];
    return plane_flow_key_format(&p->key, buf, sizeof buf);
}

/* ---- Frames the tests (and the fuzz seeds) share. ---- */

static size_t
frame_v4_tcp(uint8_t *f)
{
    uint8_t l4[128], l3[256];
    size_t n4 = mk_tcp(l4, 80, 5555, 1, "hello");
    size_t n3 = mk_ipv4(l3, 6, 0x4000, 1, l4, n4);
    return mk_frame(f, 0, NULL, 0x0800, l3, n3);
}

static size_t
frame_v4_udp_vlan2(uint8_t *f)
{
    uint8_t l4[128], l3[256];
    static const uint16_t vids[2] = { 0x2064, 0x00c8 };
    size_t n4 = mk_udp(l4, 53, 5555, "dns!");
    size_t n3 = mk_ipv4(l3, 17, 0, 0, l4, n4);
    return mk_frame(f, 2, vids, 0x0800, l3, n3);
}

static size_t
frame_v4_icmp(uint8_t *f)
{
    uint8_t l4[128], l3[256];
    size_t n4 = mk_icmp(l4, 8, 7);
    size_t n3 = mk_ipv4(l3, 1, 0, 0, l4, n4);
    return mk_frame(f, 0, NULL, 0x0800, l3, n3);
}

/* IPv6: hop-by-hop (8 bytes) -> dest opts (16 bytes) -> TCP. */
static size_t
frame_v6_tcp_ext(uint8_t *f)
{
    uint8_t rest[256], l3[512];
    size_t n = 0;

    memset(rest, 0, sizeof rest);
    rest[0] = 60;               /* next: destination options */
    rest[1] = 0;                /* 8 bytes */
    rest[2] = 1;                /* PadN */
    rest[3] = 4;
    n = 8;
    rest[n] = 6;                /* next: TCP */
    rest[n + 1] = 1;            /* 16 bytes */
    rest[n + 2] = 1;
    rest[n + 3] = 12;
    n += 16;
    n += mk_tcp(rest + n, 443, 40000, 0, "v6data");
    size_t n3 = mk_ipv6(l3, 0, rest, n);
    return mk_frame(f, 0, NULL, 0x86dd, l3, n3);
}

static size_t
frame_v6_udp_vlan1(uint8_t *f)
{
    uint8_t rest[256], l3[512];
    static const uint16_t vid = 0x0005;
    size_t n = mk_udp(rest, 5353, 5354, "mdns");
    size_t n3 = mk_ipv6(l3, 17, rest, n);
    return mk_frame(f, 1, &vid, 0x86dd, l3, n3);
}

/* IPv6 first fragment (offset 0, M=1) carrying UDP. */
static size_t
frame_v6_frag_first(uint8_t *f)
{
    uint8_t rest[256], l3[512];
    size_t n;

    memset(rest, 0, 8);
    rest[0] = 17;
    put16(rest + 2, 0x0001);
    put32(rest + 4, 0xdeadbeef);
    n = 8 + mk_udp(rest + 8, 1000, 2000, "0123456789abcdef");
    put16(rest + 8 + 4, 500); /* the whole datagram is longer */
    size_t n3 = mk_ipv6(l3, 44, rest, n);
    return mk_frame(f, 0, NULL, 0x86dd, l3, n3);
}

static size_t
frame_arp(uint8_t *f)
{
    uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
    return mk_frame(f, 0, NULL, 0x0806, arp, sizeof arp);
}

/* ---- Parser tests. ---- */

static void
test_ipv4_tcp(void **state)
{
    uint8_t f[512];
    struct plane_pkt p;
    size_t len = frame_v4_tcp(f);

    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_int_equal(p.ethertype, 0x0800);
    assert_int_equal(p.n_vlans, 0);
    assert_int_equal(p.l3_off, 14);
    assert_int_equal(p.l4_off, 14 + 24);
    assert_int_equal(p.payload_off, 14 + 24 + 24);
    assert_int_equal(p.payload_len, 5);
    assert_memory_equal(f + p.payload_off, "hello", 5);
    assert_int_equal(p.ip_version, 4);
    assert_int_equal(p.proto, 6);
    assert_int_equal(p.ttl, 63);
    assert_int_equal(p.tcp_flags, PLANE_TCP_SYN | PLANE_TCP_ACK);
    assert_int_equal(p.tcp_seq, 1000);
    assert_int_equal(p.tcp_ack, 2000);
    assert_true(p.flags & PLANE_PKT_F_L4);
    assert_true(p.flags & PLANE_PKT_F_IP_DF);
    assert_true(p.flags & PLANE_PKT_F_IP_OPTS);
    assert_false(p.flags & PLANE_PKT_F_FRAG);
    assert_int_equal(p.l3_len, len - 14);
    assert_string_equal(fmt(&p), "tcp 10.0.0.1:80 -> 10.0.0.2:5555");

    struct plane_flow_key k;
    plane_flow_key_set_v4(&k, 6, V4_SRC, 80, V4_DST, 5555);
    assert_true(plane_flow_key_eq(&k, &p.key));
}

static void
test_ipv4_udp_padding(void **state)
{
    uint8_t f[512], l4[64], l3[128];
    struct plane_pkt p;
    size_t n4 = mk_udp(l4, 53, 5555, "x");
    size_t n3 = mk_ipv4(l3, 17, 0, 0, l4, n4);
    size_t len = mk_frame(f, 0, NULL, 0x0800, l3, n3);

    /* Ethernet pads short frames to 60 bytes; the padding isn't payload. */
    memset(f + len, 0xee, 60 - len);
    len = 60;
    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_int_equal(p.payload_len, 1);
    assert_int_equal(p.l3_len, 29);
    assert_string_equal(fmt(&p), "udp 10.0.0.1:53 -> 10.0.0.2:5555");
}

static void
test_ipv4_icmp(void **state)
{
    uint8_t f[512], l4[64], l3[128];
    struct plane_pkt p;
    size_t len = frame_v4_icmp(f);

    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_int_equal(p.proto, 1);
    assert_int_equal(p.icmp_type, 8);
    assert_int_equal(p.icmp_id, 7);
    assert_int_equal(p.key.src_port, 7);
    assert_int_equal(p.key.dst_port, 7);
    assert_int_equal(p.payload_len, 4);
    assert_string_equal(fmt(&p), "icmp 10.0.0.1 -> 10.0.0.2 id 7");

    /* Destination unreachable: no id, no ports. */
    size_t n4 = mk_icmp(l4, 3, 7);
    l4[1] = 1;
    size_t n3 = mk_ipv4(l3, 1, 0, 0, l4, n4);
    len = mk_frame(f, 0, NULL, 0x0800, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), 0);
    assert_int_equal(p.icmp_type, 3);
    assert_int_equal(p.icmp_code, 1);
    assert_int_equal(p.icmp_id, 0);
    assert_int_equal(p.key.src_port, 0);
    assert_string_equal(fmt(&p), "icmp 10.0.0.1 -> 10.0.0.2");
}

static void
test_ipv4_other_proto(void **state)
{
    uint8_t f[512], l3[128];
    struct plane_pkt p;
    size_t n3 = mk_ipv4(l3, 47, 0, 0, (const uint8_t *) "grepayload", 10);
    size_t len = mk_frame(f, 0, NULL, 0x0800, l3, n3);

    assert_int_equal(parse_exact(f, len, &p), 0);
    assert_false(p.flags & PLANE_PKT_F_L4);
    assert_int_equal(p.l4_off, 34);
    assert_int_equal(p.payload_off, 34);
    assert_int_equal(p.payload_len, 10);
    assert_string_equal(fmt(&p), "proto 47 10.0.0.1 -> 10.0.0.2");
}

static void
test_ipv6_tcp_ext(void **state)
{
    uint8_t f[512];
    struct plane_pkt p;
    size_t len = frame_v6_tcp_ext(f);

    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_int_equal(p.ip_version, 6);
    assert_int_equal(p.proto, 6);
    assert_int_equal(p.ttl, 17);
    assert_true(p.flags & PLANE_PKT_F_IPV6_EXT);
    assert_true(p.flags & PLANE_PKT_F_L4);
    assert_int_equal(p.l4_off, 14 + 40 + 8 + 16);
    assert_int_equal(p.payload_len, 6);
    assert_memory_equal(f + p.payload_off, "v6data", 6);
    assert_string_equal(fmt(&p),
                        "tcp [2001:db8::1]:443 -> [2001:db8::2]:40000");
}

static void
test_ipv6_udp_vlan(void **state)
{
    uint8_t f[512];
    struct plane_pkt p;
    size_t len = frame_v6_udp_vlan1(f);

    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_int_equal(p.n_vlans, 1);
    assert_int_equal(p.vlan_id[0], 5);
    assert_int_equal(p.l3_off, 18);
    assert_int_equal(p.ethertype, 0x86dd);
    assert_false(p.flags & PLANE_PKT_F_IPV6_EXT);
    assert_int_equal(p.key.src_port, 5353);
    assert_int_equal(p.payload_len, 4);
}

static void
test_double_vlan(void **state)
{
    uint8_t f[512];
    struct plane_pkt p;
    size_t len = frame_v4_udp_vlan2(f);

    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_int_equal(p.n_vlans, 2);
    assert_int_equal(p.vlan_tci[0], 0x2064);
    assert_int_equal(p.vlan_id[0], 100);
    assert_int_equal(p.vlan_id[1], 200);
    assert_int_equal(p.l3_off, 22);
    assert_string_equal(fmt(&p), "udp 10.0.0.1:53 -> 10.0.0.2:5555");

    /* A third tag is more than we parse. */
    uint8_t g[512], l3[128], l4[64];
    static const uint16_t vids[2] = { 1, 2 };
    size_t n4 = mk_udp(l4, 1, 2, "");
    uint8_t tag3[4 + 64];
    put16(tag3, 3);
    put16(tag3 + 2, 0x0800);
    size_t n3 = mk_ipv4(l3, 17, 0, 0, l4, n4);
    memcpy(tag3 + 4, l3, n3);
    len = mk_frame(g, 2, vids, 0x8100, tag3, 4 + n3);
    assert_int_equal(parse_exact(g, len, &p), PLANE_EUNSUPP);
    assert_int_equal(p.n_vlans, 2);
}

static void
test_ipv4_fragments(void **state)
{
    uint8_t f[512], l4[64], l3[128];
    struct plane_pkt p;

    /* First fragment: MF set, offset 0, L4 parsed; UDP length is for the
     * whole datagram so it exceeds this fragment. */
    size_t n4 = mk_udp(l4, 1000, 2000, "01234567");
    put16(l4 + 4, 1400);
    size_t n3 = mk_ipv4(l3, 17, 0x2000, 0, l4, n4);
    size_t len = mk_frame(f, 0, NULL, 0x0800, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_true(p.flags & PLANE_PKT_F_FRAG);
    assert_true(p.flags & PLANE_PKT_F_FRAG_FIRST);
    assert_false(p.flags & PLANE_PKT_F_FRAG_LATER);
    assert_true(p.flags & PLANE_PKT_F_L4);
    assert_int_equal(p.key.dst_port, 2000);
    assert_int_equal(p.frag_id, 0x1234);
    assert_int_equal(p.payload_len, 8);

    /* Later fragment: offset 185*8, no L4, ports 0. */
    n3 = mk_ipv4(l3, 17, 185, 0, (const uint8_t *) "fragment-data", 13);
    len = mk_frame(f, 0, NULL, 0x0800, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_true(p.flags & PLANE_PKT_F_FRAG_LATER);
    assert_false(p.flags & PLANE_PKT_F_L4);
    assert_int_equal(p.frag_off, 185 * 8);
    assert_int_equal(p.key.src_port, 0);
    assert_int_equal(p.key.proto, 17);
    assert_int_equal(p.payload_off, 34);
    assert_int_equal(p.payload_len, 13);

    /* A first fragment too short for its TCP header: no L4, not an error. */
    n3 = mk_ipv4(l3, 6, 0x2000, 0, (const uint8_t *) "12345678", 8);
    len = mk_frame(f, 0, NULL, 0x0800, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), 0);
    assert_true(p.flags & PLANE_PKT_F_FRAG_FIRST);
    assert_false(p.flags & PLANE_PKT_F_L4);
}

static void
test_ipv6_fragments(void **state)
{
    uint8_t f[512], rest[128], l3[256];
    struct plane_pkt p;
    size_t len = frame_v6_frag_first(f);

    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_true(p.flags & PLANE_PKT_F_FRAG_FIRST);
    assert_true(p.flags & PLANE_PKT_F_L4);
    assert_int_equal(p.frag_id, 0xdeadbeef);
    assert_int_equal(p.key.src_port, 1000);
    assert_int_equal(p.payload_len, 16);

    /* Later fragment: offset 1448. */
    memset(rest, 0, 8);
    rest[0] = 17;
    put16(rest + 2, 1448);
    put32(rest + 4, 0xdeadbeef);
    memcpy(rest + 8, "tail", 4);
    size_t n3 = mk_ipv6(l3, 44, rest, 12);
    len = mk_frame(f, 0, NULL, 0x86dd, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), 0);
    check_invariants(&p, len);
    assert_true(p.flags & PLANE_PKT_F_FRAG_LATER);
    assert_false(p.flags & PLANE_PKT_F_L4);
    assert_int_equal(p.frag_off, 1448);
    assert_int_equal(p.proto, 17);
    assert_int_equal(p.payload_off, 14 + 48);
    assert_int_equal(p.payload_len, 4);

    /* Atomic fragment (offset 0, M=0): a whole packet. */
    put16(rest + 2, 0);
    n3 = mk_udp(rest + 8, 7, 9, "abc");
    n3 = mk_ipv6(l3, 44, rest, 8 + n3);
    len = mk_frame(f, 0, NULL, 0x86dd, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), 0);
    assert_false(p.flags & PLANE_PKT_F_FRAG);
    assert_true(p.flags & PLANE_PKT_F_L4);
    assert_int_equal(p.key.dst_port, 9);
}

static void
test_ipv6_ext_bad(void **state)
{
    uint8_t f[512], rest[256], l3[512];
    struct plane_pkt p;

    /* Destination options claiming 16 bytes in an 8-byte packet. */
    memset(rest, 0, sizeof rest);
    rest[0] = 59;
    rest[1] = 1;
    size_t n3 = mk_ipv6(l3, 60, rest, 8);
    size_t len = mk_frame(f, 0, NULL, 0x86dd, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), PLANE_EBADMSG);

    /* No next header after a valid one: parsed, no L4. */
    rest[1] = 0;
    n3 = mk_ipv6(l3, 60, rest, 8);
    len = mk_frame(f, 0, NULL, 0x86dd, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), 0);
    assert_int_equal(p.proto, 59);
    assert_false(p.flags & PLANE_PKT_F_L4);

    /* A chain of more extension headers than we walk. */
    for (int i = 0; i < PLANE_PKT_MAX_IPV6_EXT + 1; i++) {
        rest[i * 8] = i == PLANE_PKT_MAX_IPV6_EXT ? 59 : 60;
        rest[i * 8 + 1] = 0;
    }
    n3 = mk_ipv6(l3, 60, rest, 8 * (PLANE_PKT_MAX_IPV6_EXT + 1));
    len = mk_frame(f, 0, NULL, 0x86dd, l3, n3);
    assert_int_equal(parse_exact(f, len, &p), PLANE_EUNSUPP);

    /* Jumbogram (payload length 0 with hop-by-hop). */
    n3 = mk_ipv6(l3, 0, rest, 0);
    len = mk_frame(f, 0, NULL, 0x86dd, l3, n3);
    memcpy(f + len, rest, 8);
    assert_int_equal(parse_exact(f, len + 8, &p), PLANE_EUNSUPP);

    /* IPv6 ethertype with a v4 header. */
    len = frame_v6_udp_vlan1(f);
    f[18] = 0x45;
    assert_int_equal(parse_exact(f, len, &p), PLANE_EBADMSG);
}

static void
test_ipv4_bad_headers(void **state)
{
    uint8_t f[512], g[512];
    struct plane_pkt p;
    size_t len = frame_v4_tcp(f);

    /* IHL 4. */
    memcpy(g, f, len);
    g[14] = 0x44;
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    /* Version 5. */
    memcpy(g, f, len);
    g[14] = 0x56;
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    /* Total length below the header length. */
    memcpy(g, f, len);
    put16(g + 16, 20);
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    /* Total length past the buffer. */
    memcpy(g, f, len);
    put16(g + 16, (uint16_t) (len - 14 + 1));
    assert_int_equal(parse_exact(g, len, &p), PLANE_ETRUNC);
    /* IHL larger than the total length. */
    memcpy(g, f, len);
    g[14] = 0x4f;
    put16(g + 16, 40);
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    /* TCP data offset 4. */
    memcpy(g, f, len);
    g[38 + 12] = 0x40;
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    /* TCP data offset past the packet. */
    memcpy(g, f, len);
    g[38 + 12] = 0xf0;
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    /* IP packet too short for a TCP header. */
    memcpy(g, f, len);
    put16(g + 16, 24 + 10);
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
}

static void
test_udp_length(void **state)
{
    uint8_t f[512], g[512];
    struct plane_pkt p;
    size_t len = frame_v4_udp_vlan2(f);
    size_t udp = 22 + 20;

    memcpy(g, f, len);
    put16(g + udp + 4, 7);
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    memcpy(g, f, len);
    put16(g + udp + 4, 13);
    assert_int_equal(parse_exact(g, len, &p), PLANE_EBADMSG);
    /* Shorter than the IP payload: the payload stops at the UDP length. */
    memcpy(g, f, len);
    put16(g + udp + 4, 10);
    assert_int_equal(parse_exact(g, len, &p), 0);
    assert_int_equal(p.payload_len, 2);
}

static void
test_non_ip(void **state)
{
    uint8_t f[512];
    struct plane_pkt p;
    size_t len = frame_arp(f);

    assert_int_equal(parse_exact(f, len, &p), PLANE_EUNSUPP);
    assert_int_equal(p.ethertype, 0x0806);
    assert_int_equal(p.l3_off, 14);
    assert_int_equal(p.key.ip_version, 0);
    assert_string_equal(fmt(&p), "none");

    /* 802.3 length field instead of an ethertype. */
    put16(f + 12, 46);
    assert_int_equal(parse_exact(f, len, &p), PLANE_EUNSUPP);
    assert_int_equal(parse_exact(f, 13, &p), PLANE_ETRUNC);
    assert_int_equal(parse_exact(f, 0, &p), PLANE_ETRUNC);
}

/* Every prefix of a valid frame either fails with ETRUNC (it ends before
 * the IP packet does) or, past the IP end, parses exactly as the whole. */
static void
truncate_all(const uint8_t *f, size_t len)
{
    struct plane_pkt full, p;
    int want = parse_exact(f, len, &full);

    for (size_t i = 0; i < len; i++) {
        int err = parse_exact(f, i, &p);
        bool ip_whole = full.l3_off && i >= (size_t) full.l3_off + full.l3_len
                        && full.l3_len;
        if (ip_whole) {
            assert_int_equal(err, want);
            assert_memory_equal(&p, &full, sizeof p);
        } else if (want == PLANE_EUNSUPP && i >= full.l3_off) {
            assert_int_equal(err, PLANE_EUNSUPP);
        } else {
            assert_int_equal(err, PLANE_ETRUNC);
        }
    }
}

static void
test_truncation(void **state)
{
    uint8_t f[512];
    size_t (*frames[])(uint8_t *) = {
        frame_v4_tcp, frame_v4_udp_vlan2, frame_v4_icmp, frame_v6_tcp_ext,
        frame_v6_udp_vlan1, frame_v6_frag_first, frame_arp,
    };

    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        size_t len = frames[i](f);
        /* Pad a few bytes like Ethernet does: prefixes past the IP end
         * still parse the same. */
        memset(f + len, 0, 6);
        truncate_all(f, len + 6);
    }
}

/* ---- Flow keys. ---- */

static void
test_flow_key_helpers(void **state)
{
    struct plane_flow_key k, r, m;
    char buf[PLANE_FLOW_KEY_STRLEN];

    plane_flow_key_set_v4(&k, 17, V4_SRC, 1234, V4_DST, 53);
    assert_int_equal(k.src_addr[10], 0xff);
    assert_int_equal(k.src_addr[11], 0xff);
    assert_memory_equal(k.src_addr + PLANE_FLOW_V4_OFF, V4_SRC, 4);

    plane_flow_key_reverse(&k, &r);
    assert_string_equal(plane_flow_key_format(&r, buf, sizeof buf),
                        "udp 10.0.0.2:53 -> 10.0.0.1:1234");
    assert_false(plane_flow_key_eq(&k, &r));
    plane_flow_key_reverse(&r, &r);     /* in place */
    assert_true(plane_flow_key_eq(&k, &r));

    plane_flow_key_mask(&k, PLANE_FLOW_SRC_IP, &m);
    assert_int_equal(m.ip_version, 4);
    assert_int_equal(m.proto, 0);
    assert_int_equal(m.src_port, 0);
    assert_int_equal(m.dst_port, 0);
    assert_memory_equal(m.src_addr, k.src_addr, 16);
    static const uint8_t zero[16];
    assert_memory_equal(m.dst_addr, zero, 16);

    plane_flow_key_mask(&k, PLANE_FLOW_PROTO | PLANE_FLOW_DST_PORT, &m);
    assert_int_equal(m.ip_version, 0);
    assert_int_equal(m.proto, 17);
    assert_int_equal(m.dst_port, 53);
    assert_int_equal(m.src_port, 0);

    plane_flow_key_mask(&k, PLANE_FLOW_ALL, &m);
    assert_true(plane_flow_key_eq(&k, &m));

    /* Two keys that differ only by source port mask to the same src-IP key. */
    struct plane_flow_key k2 = k, m2;
    k2.src_port = 999;
    plane_flow_key_mask(&k, PLANE_FLOW_SRC_IP, &m);
    plane_flow_key_mask(&k2, PLANE_FLOW_SRC_IP, &m2);
    assert_true(plane_flow_key_eq(&m, &m2));

    /* Truncating format still terminates. */
    char small[8];
    plane_flow_key_format(&k, small, sizeof small);
    assert_string_equal(small, "udp 10.");

    plane_flow_key_set_v6(&k, 58, V6_SRC, 0, V6_DST, 0);
    assert_string_equal(plane_flow_key_format(&k, buf, sizeof buf),
                        "icmp6 2001:db8::1 -> 2001:db8::2");

    /* The longest possible key fits PLANE_FLOW_KEY_STRLEN. */
    uint8_t big[16];
    memset(big, 0xab, sizeof big);
    plane_flow_key_set_v6(&k, 200, big, 65535, big, 65535);
    plane_flow_key_format(&k, buf, sizeof buf);
    k.proto = 6;
    plane_flow_key_format(&k, buf, sizeof buf);
    assert_true(strlen(buf) < sizeof buf - 1);
    assert_string_equal(buf, "tcp [abab:abab:abab:abab:abab:abab:abab:abab]:65535"
                             " -> [abab:abab:abab:abab:abab:abab:abab:abab]:65535");
}

/* ---- Builders and checksums. ---- */

static void
spec_init(struct plane_pkt_spec *s, int ipv)
{
    memset(s, 0, sizeof *s);
    memcpy(s->dst_mac, "\x02\x00\x00\x00\x00\x02", 6);
    memcpy(s->src_mac, "\x02\x00\x00\x00\x00\x01", 6);
    if (ipv == 4) {
        plane_flow_key_set_v4(&s->key, 0, V4_SRC, 4242, V4_DST, 80);
    } else {
        plane_flow_key_set_v6(&s->key, 0, V6_SRC, 4242, V6_DST, 80);
    }
    s->tcp_seq = 7;
    s->tcp_ack = 9;
    s->tcp_flags = PLANE_TCP_PSH | PLANE_TCP_ACK;
    s->ip_id = 77;
}

/* Checks the L4 checksum from scratch with the naive sum. */
static void
check_l4_csum(const uint8_t *f, const struct plane_pkt *p)
{
    uint8_t ph[40];
    size_t phlen;
    uint32_t l4len = p->l3_off + p->l3_len - p->l4_off;
    const uint8_t *l3 = f + p->l3_off;

    if (p->ip_version == 4) {
        memcpy(ph, l3 + 12, 8);
        ph[8] = 0;
        ph[9] = p->proto;
        put16(ph + 10, (uint16_t) l4len);
        phlen = 12;
        /* A valid IPv4 header sums to zero. */
        assert_int_equal(naive_csum(l3, 20, NULL, 0), 0);
    } else {
        memcpy(ph, l3 + 8, 32);
        put32(ph + 32, l4len);
        put32(ph + 36, p->proto);
        phlen = 40;
    }
    assert_int_equal(naive_csum(ph, phlen, f + p->l4_off, l4len), 0);
}

typedef int (*builder_fn)(uint8_t *, size_t, const struct plane_pkt_spec *,
                          const void *, size_t, size_t *);

static void
test_builders_round_trip(void **state)
{
    struct {
        builder_fn fn;
        int ipv;
        uint8_t proto;
    } cases[] = {
        { plane_pkt_build_udp4, 4, 17 }, { plane_pkt_build_tcp4, 4, 6 },
        { plane_pkt_build_udp6, 6, 17 }, { plane_pkt_build_tcp6, 6, 6 },
    };
    uint8_t f[2048];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int vlan = 0; vlan < 2; vlan++) {
            struct plane_pkt_spec s;
            struct plane_pkt p;
            size_t len = 0;

            spec_init(&s, cases[i].ipv);
            s.vlan_tci = vlan ? 0x0123 : 0;
            assert_int_equal(cases[i].fn(f, sizeof f, &s, "payload!", 8, &len),
                             0);
            assert_int_equal(parse_exact(f, len, &p), 0);
            check_invariants(&p, len);
            assert_int_equal(p.n_vlans, vlan);
            assert_int_equal(p.ip_version, cases[i].ipv);
            assert_int_equal(p.proto, cases[i].proto);
            assert_int_equal(p.ttl, 64);
            assert_int_equal(p.payload_len, 8);
            assert_memory_equal(f + p.payload_off, "payload!", 8);
            assert_int_equal(p.key.src_port, 4242);
            assert_int_equal(p.key.dst_port, 80);
            struct plane_flow_key want = s.key;
            want.proto = cases[i].proto;
            want.ip_version = (uint8_t) cases[i].ipv;
            assert_true(plane_flow_key_eq(&want, &p.key));
            if (cases[i].proto == 6) {
                assert_int_equal(p.tcp_seq, 7);
                assert_int_equal(p.tcp_ack, 9);
                assert_int_equal(p.tcp_flags, PLANE_TCP_PSH | PLANE_TCP_ACK);
            }
            check_l4_csum(f, &p);

            /* Exactly the right capacity works; one byte less doesn't. */
            size_t len2;
            assert_int_equal(cases[i].fn(f, len, &s, "payload!", 8, &len2), 0);
            assert_int_equal(len2, len);
            assert_int_equal(cases[i].fn(f, len - 1, &s, "payload!", 8, &len2),
                             PLANE_ENOSPC);
        }
    }

    struct plane_pkt_spec s;
    size_t len;
    static uint8_t big[70000];
    static uint8_t out[70100];
    spec_init(&s, 4);
    assert_int_equal(plane_pkt_build_udp4(out, sizeof out, &s, big, 65535 - 28,
                                          &len), 0);
    assert_int_equal(plane_pkt_build_udp4(out, sizeof out, &s, big, 65535 - 27,
                                          &len), PLANE_EMSGSIZE);
    assert_int_equal(plane_pkt_build_udp4(out, sizeof out, &s, NULL, 1, &len),
                     PLANE_EINVAL);
}

static void
test_csum_helpers(void **state)
{
    /* RFC 1071's example words sum to 0xddf2 (before complement). */
    static const uint8_t words[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5,
                                     0xf6, 0xf7 };
    assert_int_equal(plane_pkt_csum_fold(plane_pkt_csum_add(0, words, 8)),
                     (uint16_t) ~0xddf2);
    assert_int_equal(plane_pkt_csum_fold(plane_pkt_csum_add(0, words, 8)),
                     naive_csum(words, 8, NULL, 0));
    /* Odd length: the last byte is the high half of a word. */
    assert_int_equal(plane_pkt_csum_fold(plane_pkt_csum_add(0, words, 7)),
                     naive_csum(words, 7, NULL, 0));

    /* Incremental update of a word equals a full recompute. */
    uint8_t data[8];
    memcpy(data, words, 8);
    uint16_t c = naive_csum(data, 8, NULL, 0);
    uint16_t old = get16(data + 2);
    put16(data + 2, 0x1234);
    assert_int_equal(plane_pkt_csum_update16(c, old, 0x1234),
                     naive_csum(data, 8, NULL, 0));
    uint8_t before[8];
    memcpy(before, data, 8);
    memcpy(data + 4, "\xaa\xbb\xcc\xdd", 4);
    c = naive_csum(before, 8, NULL, 0);
    assert_int_equal(plane_pkt_csum_update_bytes(c, before, data, 8),
                     naive_csum(data, 8, NULL, 0));
}

static uint32_t
xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Rewrites (NAT) keep checksums equal to a full recompute. */
static void
test_rewrite_csums(void **state)
{
    uint32_t seed = (uint32_t) time(NULL) | 1;
    const char *env = getenv("PLANE_TEST_SEED");
    if (env) {
        seed = (uint32_t) strtoul(env, NULL, 0) | 1;
    }
    printf("test_rewrite_csums seed=%u (PLANE_TEST_SEED to replay)\n", seed);

    builder_fn fns[] = { plane_pkt_build_udp4, plane_pkt_build_tcp4,
                         plane_pkt_build_udp6, plane_pkt_build_tcp6 };
    uint8_t f[256], g[256], payload[64];
    for (int iter = 0; iter < 2000; iter++) {
        struct plane_pkt_spec s;
        struct plane_pkt p, q;
        size_t len, plen = xorshift(&seed) % sizeof payload;
        int which = (int) (xorshift(&seed) % 4);

        for (size_t i = 0; i < plen; i++) {
            payload[i] = (uint8_t) xorshift(&seed);
        }
        spec_init(&s, which < 2 ? 4 : 6);
        s.key.src_port = (uint16_t) xorshift(&seed);
        s.key.dst_port = (uint16_t) xorshift(&seed);
        assert_int_equal(fns[which](f, sizeof f, &s, payload, plen, &len), 0);
        assert_int_equal(plane_pkt_parse(f, len, &p), 0);

        uint8_t a[4];
        put32(a, xorshift(&seed));
        if (p.ip_version == 4) {
            assert_int_equal(plane_pkt_set_ipv4_src(f, &p, a), 0);
            put32(a, xorshift(&seed));
            assert_int_equal(plane_pkt_set_ipv4_dst(f, &p, a), 0);
        } else {
            assert_int_equal(plane_pkt_set_ipv4_src(f, &p, a), PLANE_EINVAL);
        }
        assert_int_equal(plane_pkt_set_l4_sport(f, &p, (uint16_t) xorshift(&seed)), 0);
        assert_int_equal(plane_pkt_set_l4_dport(f, &p, (uint16_t) xorshift(&seed)), 0);

        memcpy(g, f, len);
        assert_int_equal(plane_pkt_recompute_csums(g, &p), 0);
        assert_memory_equal(f, g, len);
        /* And the rewritten frame parses to the updated key. */
        assert_int_equal(plane_pkt_parse(f, len, &q), 0);
        assert_true(plane_flow_key_eq(&p.key, &q.key));
        check_l4_csum(f, &q);
    }

    /* A UDP/IPv4 checksum of 0 ("none") stays 0. */
    struct plane_pkt_spec s;
    struct plane_pkt p;
    size_t len;
    spec_init(&s, 4);
    assert_int_equal(plane_pkt_build_udp4(f, sizeof f, &s, "x", 1, &len), 0);
    put16(f + 14 + 20 + 6, 0);
    assert_int_equal(plane_pkt_parse(f, len, &p), 0);
    assert_int_equal(plane_pkt_set_l4_dport(f, &p, 99), 0);
    assert_int_equal(plane_pkt_set_ipv4_dst(f, &p, V4_SRC), 0);
    assert_int_equal(get16(f + 14 + 20 + 6), 0);
    assert_int_equal(naive_csum(f + 14, 20, NULL, 0), 0);

    /* Port rewrites need a TCP/UDP header. */
    len = frame_v4_icmp(f);
    assert_int_equal(plane_pkt_parse(f, len, &p), 0);
    assert_int_equal(plane_pkt_set_l4_sport(f, &p, 1), PLANE_EINVAL);
    assert_int_equal(plane_pkt_set_ipv4_src(f, &p, V4_DST), 0);
    assert_int_equal(naive_csum(f + 14, 20, NULL, 0), 0);
}

/* `test_pkt --write-seeds DIR` writes the fuzz seed corpus. */
static int
write_seeds(const char *dir)
{
    struct {
        const char *name;
        size_t (*fn)(uint8_t *);
    } seeds[] = {
        { "v4_tcp", frame_v4_tcp }, { "v4_udp_vlan2", frame_v4_udp_vlan2 },
        { "v4_icmp", frame_v4_icmp }, { "v6_tcp_ext", frame_v6_tcp_ext },
        { "v6_udp_vlan1", frame_v6_udp_vlan1 },
        { "v6_frag_first", frame_v6_frag_first }, { "arp", frame_arp },
    };
    uint8_t f[512];

    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[1024];
        size_t len = seeds[i].fn(f);
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(f, 1, len, fp) != len) {
            perror(path);
            return 1;
        }
        fclose(fp);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        return write_seeds(argv[2]);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_tcp),
        cmocka_unit_test(test_ipv4_udp_padding),
        cmocka_unit_test(test_ipv4_icmp),
        cmocka_unit_test(test_ipv4_other_proto),
        cmocka_unit_test(test_ipv6_tcp_ext),
        cmocka_unit_test(test_ipv6_udp_vlan),
        cmocka_unit_test(test_double_vlan),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv6_fragments),
        cmocka_unit_test(test_ipv6_ext_bad),
        cmocka_unit_test(test_ipv4_bad_headers),
        cmocka_unit_test(test_udp_length),
        cmocka_unit_test(test_non_ip),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_flow_key_helpers),
        cmocka_unit_test(test_builders_round_trip),
        cmocka_unit_test(test_csum_helpers),
        cmocka_unit_test(test_rewrite_csums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
