/* Packet parser (Ethernet/VLAN/IPv4/IPv6/TCP/UDP/ICMP), frame builders and checksum rewrites. */
#include "common/pkt.h"

#include <string.h>

#include <plane/error.h>

/*
 * The parser is a pure function on the packet path: it never logs (callers
 * count and rate-limit-log the error codes it returns) and never allocates.
 * Every read is preceded by a check of the bytes left, done as "len - off <
 * need" with off <= len already established, so no sum can overflow.
 */

static inline uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t) ((unsigned) p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static int
parse_l2(const uint8_t *f, size_t len, struct plane_pkt *out)
{
    uint32_t off = PLANE_ETH_HLEN;
    uint16_t type;

    if (len < PLANE_ETH_HLEN) {
        return PLANE_ETRUNC;
    }
    type = rd16(f + 12);
    while (type == PLANE_ETHERTYPE_VLAN || type == PLANE_ETHERTYPE_QINQ) {
        if (out->n_vlans == PLANE_PKT_MAX_VLANS) {
            break;              /* a third tag: reported below as EUNSUPP */
        }
        if (len - off < PLANE_VLAN_HLEN) {
            return PLANE_ETRUNC;
        }
        uint16_t tci = rd16(f + off);
        out->vlan_tci[out->n_vlans] = tci;
        out->vlan_id[out->n_vlans] = tci & 0x0fff;
        out->n_vlans++;
        type = rd16(f + off + 2);
        off += PLANE_VLAN_HLEN;
    }
    out->ethertype = type;
    out->l3_off = off;
    return 0;
}

static bool
is_echo(uint8_t proto, uint8_t type)
{
    if (proto == PLANE_IPPROTO_ICMP) {
        return type == 0 || type == 8;
    }
    return type == 128 || type == 129;
}

/*
 * Parses the L4 header at out->l4_off; the IP packet ends at `end`.  In a
 * first fragment the L4 header may be cut by the fragment boundary, which
 * is legal IP (if hostile): we then report no L4 instead of an error.
 */
static int
parse_l4(const uint8_t *f, uint32_t end, struct plane_pkt *out)
{
    uint32_t off = out->l4_off;
    uint32_t avail = end - off;
    bool frag = (out->flags & PLANE_PKT_F_FRAG) != 0;
    const uint8_t *p = f + off;

    out->payload_off = off;
    out->payload_len = avail;

    switch (out->proto) {
    case PLANE_IPPROTO_TCP: {
        if (avail < 20) {
            return frag ? 0 : PLANE_EBADMSG;
        }
        uint32_t doff = (uint32_t) (p[12] >> 4) * 4;
        if (doff < 20) {
            return PLANE_EBADMSG;
        }
        if (doff > avail) {
            return frag ? 0 : PLANE_EBADMSG;
        }
        out->key.src_port = rd16(p);
        out->key.dst_port = rd16(p + 2);
        out->tcp_seq = rd32(p + 4);
        out->tcp_ack = rd32(p + 8);
        out->tcp_flags = p[13];
        out->payload_off = off + doff;
        out->payload_len = avail - doff;
        break;
    }
    case PLANE_IPPROTO_UDP: {
        if (avail < 8) {
            return frag ? 0 : PLANE_EBADMSG;
        }
        uint32_t ulen = rd16(p + 4);
        if (ulen < 8) {
            return PLANE_EBADMSG;
        }
        /* The UDP length covers the whole datagram, so a fragment can't be
         * checked against it. */
        if (!frag && ulen > avail) {
            return PLANE_EBADMSG;
        }
        out->key.src_port = rd16(p);
        out->key.dst_port = rd16(p + 2);
        out->payload_off = off + 8;
        out->payload_len = frag ? avail - 8 : ulen - 8;
        break;
    }
    case PLANE_IPPROTO_ICMP:
    case PLANE_IPPROTO_ICMPV6:
        if (avail < 8) {
            return frag ? 0 : PLANE_EBADMSG;
        }
        out->icmp_type = p[0];
        out->icmp_code = p[1];
        if (is_echo(out->proto, p[0])) {
            out->icmp_id = rd16(p + 4);
            out->key.src_port = out->icmp_id;
            out->key.dst_port = out->icmp_id;
        }
        out->payload_off = off + 8;
        out->payload_len = avail - 8;
        break;
    default:
        return 0;
    }
    out->flags |= PLANE_PKT_F_L4;
    return 0;
}

static int
parse_ipv4(const uint8_t *f, size_t len, struct plane_pkt *out)
{
    uint32_t off = out->l3_off;
    const uint8_t *ip = f + off;

    if (len - off < 20) {
        return PLANE_ETRUNC;
    }
    if (ip[0] >> 4 != 4) {
        return PLANE_EBADMSG;
    }
    uint32_t ihl = (uint32_t) (ip[0] & 0x0f) * 4;
    uint32_t tot = rd16(ip + 2);
    if (ihl < 20 || tot < ihl) {
        return PLANE_EBADMSG;
    }
    if (len - off < tot) {
        return PLANE_ETRUNC;
    }

    out->ip_version = 4;
    out->l3_len = tot;
    out->ttl = ip[8];
    out->proto = ip[9];
    plane_flow_key_set_v4(&out->key, ip[9], ip + 12, 0, ip + 16, 0);
    if (ihl > 20) {
        out->flags |= PLANE_PKT_F_IP_OPTS;
    }

    uint16_t frag = rd16(ip + 6);
    if (frag & 0x4000) {
        out->flags |= PLANE_PKT_F_IP_DF;
    }
    out->l4_off = off + ihl;
    out->frag_off = (uint16_t) ((frag & 0x1fff) * 8);
    if ((frag & 0x2000) || out->frag_off) {
        out->flags |= PLANE_PKT_F_FRAG;
        out->frag_id = rd16(ip + 4);
        if (out->frag_off) {
            out->flags |= PLANE_PKT_F_FRAG_LATER;
            out->payload_off = out->l4_off;
            out->payload_len = off + tot - out->l4_off;
            return 0;
        }
        out->flags |= PLANE_PKT_F_FRAG_FIRST;
    }
    return parse_l4(f, off + tot, out);
}

static int
parse_ipv6(const uint8_t *f, size_t len, struct plane_pkt *out)
{
    uint32_t off = out->l3_off;
    const uint8_t *ip = f + off;

    if (len - off < 40) {
        return PLANE_ETRUNC;
    }
    if (ip[0] >> 4 != 6) {
        return PLANE_EBADMSG;
    }
    uint32_t plen = rd16(ip + 4);
    uint8_t nh = ip[6];

    out->ip_version = 6;
    out->ttl = ip[7];
    out->l3_len = 40 + plen;
    plane_flow_key_set_v6(&out->key, nh, ip + 8, 0, ip + 24, 0);
    if (plen == 0 && nh == 0) {
        return PLANE_EUNSUPP;   /* a jumbogram: its length is in hop-by-hop */
    }
    if (len - off - 40 < plen) {
        return PLANE_ETRUNC;
    }

    uint32_t end = off + 40 + plen;
    uint32_t cur = off + 40;
    for (unsigned n = 0;; n++) {
        uint32_t hlen;

        if (nh != 0 && nh != 43 && nh != 60 && nh != 51 && nh != 44) {
            break;              /* an upper-layer protocol (or ESP, no-next) */
        }
        if (n == PLANE_PKT_MAX_IPV6_EXT) {
            out->proto = nh;
            out->key.proto = nh;
            return PLANE_EUNSUPP;
        }
        /* Every extension header is at least 8 bytes. */
        if (end - cur < 8) {
            return PLANE_EBADMSG;
        }
        const uint8_t *h = f + cur;
        out->flags |= PLANE_PKT_F_IPV6_EXT;
        if (nh == 44) {
            uint16_t fo = rd16(h + 2);
            nh = h[0];
            cur += 8;
            /* Offset 0 without M is an "atomic fragment" (RFC 6946): a
             * whole packet, parsed as one. */
            if ((fo & 0xfff8) == 0 && !(fo & 1)) {
                continue;
            }
            out->flags |= PLANE_PKT_F_FRAG;
            out->frag_id = rd32(h + 4);
            out->frag_off = fo & 0xfff8;
            if (out->frag_off) {
                out->flags |= PLANE_PKT_F_FRAG_LATER;
                out->proto = nh;
                out->key.proto = nh;
                out->l4_off = cur;
                out->payload_off = cur;
                out->payload_len = end - cur;
                return 0;
            }
            out->flags |= PLANE_PKT_F_FRAG_FIRST;
            continue;
        }
        hlen = nh == 51 ? ((uint32_t) h[1] + 2) * 4 : ((uint32_t) h[1] + 1) * 8;
        if (end - cur < hlen) {
            return PLANE_EBADMSG;
        }
        nh = h[0];
        cur += hlen;
    }
    out->proto = nh;
    out->key.proto = nh;
    out->l4_off = cur;
    return parse_l4(f, end, out);
}

int
plane_pkt_parse(const uint8_t *frame, size_t len, struct plane_pkt *out)
{
    int err;

    memset(out, 0, sizeof *out);
    err = parse_l2(frame, len, out);
    if (err) {
        return err;
    }
    if (out->n_vlans == PLANE_PKT_MAX_VLANS
        && (out->ethertype == PLANE_ETHERTYPE_VLAN
            || out->ethertype == PLANE_ETHERTYPE_QINQ)) {
        return PLANE_EUNSUPP;
    }
    /* Offsets are 32-bit; an IP packet is at most 64 KiB past its header,
     * so only the frame length itself needs capping. */
    if (len > UINT32_MAX) {
        len = UINT32_MAX;
    }
    switch (out->ethertype) {
    case PLANE_ETHERTYPE_IPV4:
        return parse_ipv4(frame, len, out);
    case PLANE_ETHERTYPE_IPV6:
        return parse_ipv6(frame, len, out);
    default:
        return PLANE_EUNSUPP;
    }
}

/* ---- Checksums. ---- */

uint32_t
plane_pkt_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t s = sum;

    while (len >= 2) {
        s += rd16(p);
        p += 2;
        len -= 2;
    }
    if (len) {
        s += (uint32_t) p[0] << 8;
    }
    while (s >> 32) {
        s = (s & 0xffffffffu) + (s >> 32);
    }
    return (uint32_t) s;
}

uint16_t
plane_pkt_csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). */
uint16_t
plane_pkt_csum_update16(uint16_t csum, uint16_t old, uint16_t new_)
{
    uint32_t s = (uint16_t) ~csum + (uint32_t) (uint16_t) ~old + new_;
    return plane_pkt_csum_fold(s);
}

uint16_t
plane_pkt_csum_update32(uint16_t csum, uint32_t old, uint32_t new_)
{
    uint32_t s = (uint16_t) ~csum;

    s += (uint16_t) ~(old >> 16);
    s += (uint16_t) ~old;
    s += new_ >> 16;
    s += new_ & 0xffff;
    return plane_pkt_csum_fold(s);
}

uint16_t
plane_pkt_csum_update_bytes(uint16_t csum, const uint8_t *old,
                            const uint8_t *new_, size_t n)
{
    uint32_t s = (uint16_t) ~csum;

    for (size_t i = 0; i + 1 < n; i += 2) {
        s += (uint16_t) ~rd16(old + i);
        s += rd16(new_ + i);
        s = (s & 0xffff) + (s >> 16);
    }
    return plane_pkt_csum_fold(s);
}

/* The TCP/UDP checksum of l4_len bytes at l4 with the IP pseudo-header. */
static uint16_t
l4_csum(const uint8_t *l3, uint8_t ip_version, const uint8_t *l4,
        uint32_t l4_len, uint8_t proto)
{
    uint32_t s = 0;
    uint8_t tail[4];

    if (ip_version == 4) {
        s = plane_pkt_csum_add(s, l3 + 12, 8);
    } else {
        s = plane_pkt_csum_add(s, l3 + 8, 32);
    }
    /* Zero byte + protocol, then the length: the same words in both the
     * v4 (16-bit length) and v6 (32-bit length) pseudo-headers, since
     * ones-complement sums don't care where the zero words sit. */
    wr16(tail, proto);
    wr16(tail + 2, (uint16_t) l4_len);
    s = plane_pkt_csum_add(s, tail, 4);
    s += l4_len >> 16;
    s = plane_pkt_csum_add(s, l4, l4_len);
    uint16_t c = plane_pkt_csum_fold(s);
    /* UDP sends a computed 0 as 0xffff: 0 means "no checksum". */
    if (c == 0 && proto == PLANE_IPPROTO_UDP) {
        c = 0xffff;
    }
    return c;
}

/* ---- Builders. ---- */

static int
build(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s, int ipv,
      uint8_t proto, const void *payload, size_t plen, size_t *frame_len)
{
    if (!buf || !s || !frame_len || (!payload && plen)) {
        return PLANE_EINVAL;
    }
    size_t l2 = PLANE_ETH_HLEN + (s->vlan_tci ? PLANE_VLAN_HLEN : 0);
    size_t l3h = ipv == 4 ? 20 : 40;
    size_t l4h = proto == PLANE_IPPROTO_TCP ? 20 : 8;
    /* v4 total length counts the IP header; v6 payload length doesn't. */
    if (plen > 65535 - l4h - (ipv == 4 ? l3h : 0)) {
        return PLANE_EMSGSIZE;
    }
    size_t total = l2 + l3h + l4h + plen;
    if (total > cap) {
        return PLANE_ENOSPC;
    }

    uint8_t *p = buf;
    /* The payload goes first: it may already sit in buf where it belongs. */
    if (plen) {
        memmove(buf + l2 + l3h + l4h, payload, plen);
    }
    memcpy(p, s->dst_mac, 6);
    memcpy(p + 6, s->src_mac, 6);
    p += 12;
    if (s->vlan_tci) {
        wr16(p, PLANE_ETHERTYPE_VLAN);
        wr16(p + 2, s->vlan_tci);
        p += 4;
    }
    wr16(p, ipv == 4 ? PLANE_ETHERTYPE_IPV4 : PLANE_ETHERTYPE_IPV6);
    p += 2;

    uint8_t *l3 = p;
    uint8_t ttl = s->ttl ? s->ttl : 64;
    uint32_t l4_len = (uint32_t) (l4h + plen);
    if (ipv == 4) {
        l3[0] = 0x45;
        l3[1] = 0;
        wr16(l3 + 2, (uint16_t) (l3h + l4_len));
        wr16(l3 + 4, s->ip_id);
        wr16(l3 + 6, 0x4000);
        l3[8] = ttl;
        l3[9] = proto;
        wr16(l3 + 10, 0);
        memcpy(l3 + 12, s->key.src_addr + PLANE_FLOW_V4_OFF, 4);
        memcpy(l3 + 16, s->key.dst_addr + PLANE_FLOW_V4_OFF, 4);
        wr16(l3 + 10, plane_pkt_csum_fold(plane_pkt_csum_add(0, l3, 20)));
    } else {
        wr32(l3, 0x60000000u);
        wr16(l3 + 4, (uint16_t) l4_len);
        l3[6] = proto;
        l3[7] = ttl;
        memcpy(l3 + 8, s->key.src_addr, 16);
        memcpy(l3 + 24, s->key.dst_addr, 16);
    }

    uint8_t *l4 = l3 + l3h;
    wr16(l4, s->key.src_port);
    wr16(l4 + 2, s->key.dst_port);
    if (proto == PLANE_IPPROTO_TCP) {
        wr32(l4 + 4, s->tcp_seq);
        wr32(l4 + 8, s->tcp_ack);
        l4[12] = 5 << 4;
        l4[13] = s->tcp_flags;
        wr16(l4 + 14, s->tcp_window ? s->tcp_window : 65535);
        wr16(l4 + 16, 0);
        wr16(l4 + 18, 0);
        wr16(l4 + 16, l4_csum(l3, (uint8_t) ipv, l4, l4_len, proto));
    } else {
        wr16(l4 + 4, (uint16_t) l4_len);
        wr16(l4 + 6, 0);
        wr16(l4 + 6, l4_csum(l3, (uint8_t) ipv, l4, l4_len, proto));
    }
    *frame_len = total;
    return 0;
}

int
plane_pkt_build_udp4(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                     const void *payload, size_t payload_len, size_t *frame_len)
{
    return build(buf, cap, s, 4, PLANE_IPPROTO_UDP, payload, payload_len,
                 frame_len);
}

int
plane_pkt_build_tcp4(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                     const void *payload, size_t payload_len, size_t *frame_len)
{
    return build(buf, cap, s, 4, PLANE_IPPROTO_TCP, payload, payload_len,
                 frame_len);
}

int
plane_pkt_build_udp6(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                     const void *payload, size_t payload_len, size_t *frame_len)
{
    return build(buf, cap, s, 6, PLANE_IPPROTO_UDP, payload, payload_len,
                 frame_len);
}

int
plane_pkt_build_tcp6(uint8_t *buf, size_t cap, const struct plane_pkt_spec *s,
                     const void *payload, size_t payload_len, size_t *frame_len)
{
    return build(buf, cap, s, 6, PLANE_IPPROTO_TCP, payload, payload_len,
                 frame_len);
}

/* ---- In-place rewrites. ---- */

/* Where the TCP/UDP checksum of a parsed packet is, or NULL if none. */
static uint8_t *
l4_csum_field(uint8_t *frame, const struct plane_pkt *pkt)
{
    if (!(pkt->flags & PLANE_PKT_F_L4)) {
        return NULL;
    }
    if (pkt->proto == PLANE_IPPROTO_TCP) {
        return frame + pkt->l4_off + 16;
    }
    if (pkt->proto == PLANE_IPPROTO_UDP) {
        return frame + pkt->l4_off + 6;
    }
    return NULL;
}

static void
l4_csum_update32(uint8_t *frame, const struct plane_pkt *pkt, uint32_t old,
                 uint32_t new_)
{
    uint8_t *c = l4_csum_field(frame, pkt);

    if (!c || (pkt->proto == PLANE_IPPROTO_UDP && rd16(c) == 0)) {
        return;
    }
    uint16_t v = plane_pkt_csum_update32(rd16(c), old, new_);
    if (v == 0 && pkt->proto == PLANE_IPPROTO_UDP) {
        v = 0xffff;
    }
    wr16(c, v);
}

static int
set_ipv4_addr(uint8_t *frame, struct plane_pkt *pkt, const uint8_t addr[4],
              bool src)
{
    if (!frame || !pkt || !addr || pkt->ip_version != 4) {
        return PLANE_EINVAL;
    }
    uint8_t *ip = frame + pkt->l3_off;
    uint8_t *field = ip + (src ? 12 : 16);
    uint32_t old = rd32(field), new_ = rd32(addr);

    wr16(ip + 10, plane_pkt_csum_update32(rd16(ip + 10), old, new_));
    l4_csum_update32(frame, pkt, old, new_);
    memcpy(field, addr, 4);
    memcpy((src ? pkt->key.src_addr : pkt->key.dst_addr) + PLANE_FLOW_V4_OFF,
           addr, 4);
    return 0;
}

int
plane_pkt_set_ipv4_src(uint8_t *frame, struct plane_pkt *pkt, const uint8_t addr[4])
{
    return set_ipv4_addr(frame, pkt, addr, true);
}

int
plane_pkt_set_ipv4_dst(uint8_t *frame, struct plane_pkt *pkt, const uint8_t addr[4])
{
    return set_ipv4_addr(frame, pkt, addr, false);
}

static int
set_port(uint8_t *frame, struct plane_pkt *pkt, uint16_t port, bool src)
{
    if (!frame || !pkt) {
        return PLANE_EINVAL;
    }
    uint8_t *c = l4_csum_field(frame, pkt);
    if (!c) {
        return PLANE_EINVAL;
    }
    uint8_t *field = frame + pkt->l4_off + (src ? 0 : 2);
    uint16_t old = rd16(field);

    if (!(pkt->proto == PLANE_IPPROTO_UDP && rd16(c) == 0)) {
        uint16_t v = plane_pkt_csum_update16(rd16(c), old, port);
        if (v == 0 && pkt->proto == PLANE_IPPROTO_UDP) {
            v = 0xffff;
        }
        wr16(c, v);
    }
    wr16(field, port);
    if (src) {
        pkt->key.src_port = port;
    } else {
        pkt->key.dst_port = port;
    }
    return 0;
}

int
plane_pkt_set_l4_sport(uint8_t *frame, struct plane_pkt *pkt, uint16_t port)
{
    return set_port(frame, pkt, port, true);
}

int
plane_pkt_set_l4_dport(uint8_t *frame, struct plane_pkt *pkt, uint16_t port)
{
    return set_port(frame, pkt, port, false);
}

int
plane_pkt_recompute_csums(uint8_t *frame, const struct plane_pkt *pkt)
{
    if (!frame || !pkt || (pkt->ip_version != 4 && pkt->ip_version != 6)) {
        return PLANE_EINVAL;
    }
    uint8_t *l3 = frame + pkt->l3_off;
    if (pkt->ip_version == 4) {
        uint32_t ihl = (uint32_t) (l3[0] & 0x0f) * 4;
        wr16(l3 + 10, 0);
        wr16(l3 + 10, plane_pkt_csum_fold(plane_pkt_csum_add(0, l3, ihl)));
    }
    /* A fragment's L4 checksum covers bytes this frame doesn't hold. */
    uint8_t *c = l4_csum_field(frame, pkt);
    if (!c || (pkt->flags & PLANE_PKT_F_FRAG)) {
        return 0;
    }
    uint32_t l4_len = pkt->l3_off + pkt->l3_len - pkt->l4_off;
    if (pkt->proto == PLANE_IPPROTO_UDP) {
        if (pkt->ip_version == 4 && rd16(c) == 0) {
            return 0;           /* sender chose no checksum */
        }
        l4_len = rd16(frame + pkt->l4_off + 4);
    }
    wr16(c, 0);
    wr16(c, l4_csum(l3, pkt->ip_version, frame + pkt->l4_off, l4_len,
                    pkt->proto));
    return 0;
}
