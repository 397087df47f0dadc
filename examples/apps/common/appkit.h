/* appkit: static inline helpers the example apps share (params, byte order, prefixes, frames, checksums, registers). */
#pragma once

/*
 * Example apps are loadable modules that see only the public headers
 * (plane/ *.h), so what they have in common cannot live in a library they
 * link: it lives here, as static inline functions an app includes with
 *
 *     #include "../common/appkit.h"
 *
 * Everything is prefixed appkit_ and is a pure function of its arguments
 * (the register helpers call the plane_ctx_* API the daemon resolves).
 * Nothing allocates; parsers never read past the length they are given.
 * The param parsers are meant for init() (they may call inet_pton(),
 * strtoull(), fprintf()); the rest is cheap enough per packet.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plane/app.h>
#include <plane/error.h>
#include <plane/flow.h>

/* ---- Byte order: big-endian (network order) reads and writes ---- */

static inline uint16_t
appkit_rd16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
appkit_rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static inline void
appkit_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
appkit_wr32(uint8_t *p, uint32_t v)
{
    appkit_wr16(p, (uint16_t) (v >> 16));
    appkit_wr16(p + 2, (uint16_t) v);
}

/* The IPv4 address (host order) of a flow key's 16-byte address field,
 * which stores IPv4 IPv4-mapped at PLANE_FLOW_V4_OFF (<plane/flow.h>). */
static inline uint32_t
appkit_v4_of(const uint8_t addr[16])
{
    return appkit_rd32(addr + PLANE_FLOW_V4_OFF);
}

/* Writes host-order IPv4 address a as 4 network-order bytes. */
static inline void
appkit_v4_bytes(uint32_t a, uint8_t out[4])
{
    appkit_wr32(out, a);
}

/* ---- Numbers ---- */

/*
 * Parses the len bytes at s as a decimal number (digits only, at most 10 of
 * them, no sign or spaces) no larger than max.  Returns true and sets *out,
 * or false leaving *out alone.  s need not be NUL-terminated.
 */
static inline bool
appkit_parse_u32(const char *s, size_t len, uint32_t max, uint32_t *out)
{
    if (len == 0 || len > 10) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t) (s[i] - '0');
    }
    if (v > max) {
        return false;
    }
    *out = (uint32_t) v;
    return true;
}

/* appkit_parse_u32() of a NUL-terminated string. */
static inline bool
appkit_parse_u32_str(const char *s, uint32_t max, uint32_t *out)
{
    return appkit_parse_u32(s, strlen(s), max, out);
}

/*
 * Parses NUL-terminated s as an unsigned number in C syntax (decimal, 0x
 * hex or 0 octal; strtoull() rules, so leading white space is skipped) no
 * larger than max.  Returns 0 and sets *out, or PLANE_EINVAL for an empty
 * string, a leading '-', trailing characters or a value above max.
 */
static inline int
appkit_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (*s == '-' || *s == '\0') {
        return PLANE_EINVAL;
    }
    unsigned long long v = strtoull(s, &end, 0);
    if (*end != '\0' || v > max) {
        return PLANE_EINVAL;
    }
    *out = v;
    return 0;
}

/*
 * Parses a port range "lo-hi" or a single port "p" (meaning p-p) of len
 * bytes, each bound decimal 0..65535.  Returns true with *lo and *hi set
 * when lo <= hi (a caller that forbids port 0 checks *lo itself).
 */
static inline bool
appkit_parse_range(const char *s, size_t len, uint16_t *lo, uint16_t *hi)
{
    const char *dash = memchr(s, '-', len);
    uint32_t a, b;
    if (dash) {
        if (!appkit_parse_u32(s, (size_t) (dash - s), 65535, &a)
            || !appkit_parse_u32(dash + 1, len - (size_t) (dash - s) - 1, 65535, &b)) {
            return false;
        }
    } else if (!appkit_parse_u32(s, len, 65535, &a)) {
        return false;
    } else {
        b = a;
    }
    if (a > b) {
        return false;
    }
    *lo = (uint16_t) a;
    *hi = (uint16_t) b;
    return true;
}

/* ---- IPv4 addresses and prefixes ---- */

/* Parses a dotted-quad IPv4 address of len bytes into 4 network-order bytes. */
static inline bool
appkit_parse_addr(const char *s, size_t len, uint8_t out[4])
{
    char buf[16];
    if (len >= sizeof buf) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, out) == 1;
}

/* An IPv4 prefix: address a is in it when (a & mask) == base. */
struct appkit_prefix {
    uint32_t base;            /* host order, host bits zero */
    uint32_t mask;
};

/*
 * Parses "a.b.c.d/len" (len 0..32) of slen bytes; with bare_ok also a bare
 * address (a /32).  Returns true when it parses and its host bits are zero.
 * When only the host-bit check fails, *p is still set (so a caller can say
 * why); otherwise a failure leaves *p alone.
 */
static inline bool
appkit_parse_prefix(const char *s, size_t slen, bool bare_ok, struct appkit_prefix *p)
{
    const char *slash = memchr(s, '/', slen);
    size_t alen = slash ? (size_t) (slash - s) : slen;
    uint32_t plen = 32;
    uint8_t a[4];
    if ((!slash && !bare_ok)
        || (slash && !appkit_parse_u32(slash + 1, slen - alen - 1, 32, &plen))
        || !appkit_parse_addr(s, alen, a)) {
        return false;
    }
    p->mask = plen ? ~0u << (32 - plen) : 0;
    p->base = appkit_rd32(a);
    return (p->base & ~p->mask) == 0;
}

/* True when host-order address a is in prefix p. */
static inline bool
appkit_prefix_has(const struct appkit_prefix *p, uint32_t a)
{
    return (a & p->mask) == p->base;
}

/* The number of addresses in p (1 to 2^32). */
static inline uint64_t
appkit_prefix_size(const struct appkit_prefix *p)
{
    return (uint64_t) (uint32_t) ~p->mask + 1;
}

/* True when two prefixes share an address (one contains the other). */
static inline bool
appkit_prefixes_overlap(const struct appkit_prefix *a, const struct appkit_prefix *b)
{
    uint32_t m = a->mask & b->mask;   /* the shorter prefix's mask */
    return (a->base & m) == (b->base & m);
}

/*
 * The index of the first of the n prefixes that holds host-order address
 * a, or -1.  used (may be NULL: all are) says which entries are set: the
 * tenant lookup of per-tenant apps, whose tenant N is entry N.
 */
static inline int
appkit_prefix_find(const struct appkit_prefix *p, const bool *used, size_t n, uint32_t a)
{
    for (size_t i = 0; i < n; i++) {
        if ((!used || used[i]) && appkit_prefix_has(&p[i], a)) {
            return (int) i;
        }
    }
    return -1;
}

/* ---- Param values: lists and key=value tokens ---- */

/*
 * Steps through a space-separated list: skips spaces at *cur, then
 * returns the token there (its length in *len) and moves *cur past it.
 * Returns NULL at the end of the string.
 */
static inline const char *
appkit_next_token(const char **cur, size_t *len)
{
    const char *v = *cur;
    while (*v == ' ') {
        v++;
    }
    *len = strcspn(v, " ");
    *cur = v + *len;
    return *len ? v : NULL;
}

/*
 * Steps through a comma-separated list: returns the item at *cur with the
 * spaces around it trimmed (*len may be 0 for an empty item) and moves *cur
 * past it and its comma.  Returns NULL at the end of the string.
 */
static inline const char *
appkit_next_item(const char **cur, size_t *len)
{
    const char *p = *cur;
    if (*p == '\0') {
        return NULL;
    }
    size_t n = strcspn(p, ",");
    *cur = p + n + (p[n] == ',');
    while (n && *p == ' ') {
        p++;
        n--;
    }
    while (n && p[n - 1] == ' ') {
        n--;
    }
    *len = n;
    return p;
}

/*
 * True when token tok (len bytes) is "name=VALUE" with a non-empty VALUE;
 * *val and *vlen then give VALUE.
 */
static inline bool
appkit_token_is(const char *tok, size_t len, const char *name, const char **val,
                size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n + 1 || strncmp(tok, name, n) != 0 || tok[n] != '=') {
        return false;
    }
    *val = tok + n + 1;
    *vlen = len - n - 1;
    return true;
}

/*
 * True when param key is `prefix` followed by a decimal index 0..max
 * ("tenant3", "rule12"); *idx gets the index.
 */
static inline bool
appkit_key_index(const char *key, const char *prefix, uint32_t max, uint32_t *idx)
{
    size_t n = strlen(prefix);
    return !strncmp(key, prefix, n) && appkit_parse_u32_str(key + n, max, idx);
}

/* Reports a bad param of app `app` on stderr; returns PLANE_EINVAL for init(). */
static inline int
appkit_param_fail(const char *app, const char *key, const char *value, const char *why)
{
    fprintf(stderr, "%s: param %s=\"%s\": %s\n", app, key, value, why);
    return PLANE_EINVAL;
}

/* ---- Frames: Ethernet, IPv4, TCP ---- */

#define APPKIT_TCP_FIN 0x01
#define APPKIT_TCP_SYN 0x02
#define APPKIT_TCP_RST 0x04
#define APPKIT_TCP_ACK 0x10

#define APPKIT_ETH_IPV4 0x0800
#define APPKIT_ETH_IPV6 0x86dd

/*
 * Skips frame f's Ethernet header and up to two VLAN tags (0x8100,
 * 0x88a8): sets *l3 to the offset of the L3 header and *ethertype to its
 * type.  Returns false when the frame ends first.
 */
static inline bool
appkit_eth_l3(const uint8_t *f, size_t len, size_t *l3, uint16_t *ethertype)
{
    size_t off = 12;
    uint16_t et;
    for (int tags = 0;; tags++) {
        if (off + 2 > len) {
            return false;
        }
        et = appkit_rd16(f + off);
        off += 2;
        if ((et != 0x8100 && et != 0x88a8) || tags == 2) {
            break;
        }
        off += 2;
    }
    *l3 = off;
    *ethertype = et;
    return true;
}

/*
 * Checks the IPv4 header at offset l3 of frame f (len bytes): a header of
 * at least 20 bytes, protocol `proto`, not a fragment, a total length that
 * fits the frame and leaves at least min_l4 bytes after the header.  Sets
 * *ihl (header bytes) and *tot (IPv4 total length).  Returns false for
 * anything else.
 */
static inline bool
appkit_ipv4_check(const uint8_t *f, size_t len, size_t l3, uint8_t proto,
                  size_t min_l4, size_t *ihl, size_t *tot)
{
    if (l3 + 20 > len) {
        return false;
    }
    size_t h = (size_t) (f[l3] & 0x0f) * 4;
    size_t t = appkit_rd16(f + l3 + 2);
    if (h < 20 || t < h + min_l4 || l3 + t > len || f[l3 + 9] != proto
        || (appkit_rd16(f + l3 + 6) & 0x3fff) != 0) {
        return false;
    }
    *ihl = h;
    *tot = t;
    return true;
}

/*
 * The TCP flags of an (optionally VLAN-tagged) IPv4 TCP frame; 0 when it
 * is not one or is too short to hold the flags.  Lenient on purpose (no
 * length or fragment checks beyond the bounds): control logic reads the
 * flags of a first packet to decide, not to forward it.
 */
static inline uint8_t
appkit_tcp_flags(const uint8_t *f, size_t len)
{
    size_t off;
    uint16_t et;
    if (!appkit_eth_l3(f, len, &off, &et) || et != APPKIT_ETH_IPV4 || off + 20 > len
        || f[off + 9] != 6) {
        return 0;
    }
    off += (size_t) (f[off] & 0x0f) * 4;
    return off + 14 <= len ? f[off + 13] : 0;
}

/*
 * Swaps the frame's MAC addresses, the IPv4 addresses of the header at l3
 * and the L4 ports at l4 (TCP or UDP): the packet goes back where it came
 * from.  Checksums are sums of 16-bit words, so swapping leaves them right.
 */
static inline void
appkit_turn_around(uint8_t *f, size_t l3, size_t l4)
{
    uint8_t tmp[6];
    memcpy(tmp, f, 6);
    memcpy(f, f + 6, 6);
    memcpy(f + 6, tmp, 6);
    uint8_t *ip = f + l3;
    memcpy(tmp, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, tmp, 4);
    uint8_t *t = f + l4;
    memcpy(tmp, t, 2);
    memcpy(t, t + 2, 2);
    memcpy(t + 2, tmp, 2);
}

/* ---- Internet checksums (RFC 1071), recomputed from scratch ---- */

/* Adds the n bytes at d to a one's complement sum as big-endian words
 * (an odd last byte is padded with zero). */
static inline uint32_t
appkit_csum_add(uint32_t sum, const uint8_t *d, size_t n)
{
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        sum += appkit_rd16(d + i);
    }
    if (i < n) {
        sum += (uint32_t) d[i] << 8;
    }
    return sum;
}

/* Folds a sum to 16 bits and complements it: the checksum field's value. */
static inline uint16_t
appkit_csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

/* The sum of the IPv4 pseudo-header of the header at ip, for an L4
 * segment of protocol proto and l4_len bytes. */
static inline uint32_t
appkit_pseudo_sum_v4(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
    return appkit_csum_add(0, ip + 12, 8) + proto + (uint32_t) l4_len;
}

/* Recomputes the checksum of the IPv4 header at ip (ihl bytes). */
static inline void
appkit_ipv4_fix_csum(uint8_t *ip, size_t ihl)
{
    appkit_wr16(ip + 10, 0);
    appkit_wr16(ip + 10, appkit_csum_fold(appkit_csum_add(0, ip, ihl)));
}

/* ---- The packet's entries of tables and registers ---- */

/*
 * Looks the packet's entry of table obj up (the key plane_ctx_obj_key()
 * builds) and copies its value to value.  Returns 0 or PLANE_ENOENT, as
 * plane_ctx_table_get().
 */
static inline int
appkit_table_get(struct plane_ctx *ctx, uint16_t obj, void *value)
{
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, obj, key);
    return plane_ctx_table_get(ctx, obj, key, klen, value);
}

/*
 * Inserts or replaces the packet's entry of table obj (control logic only).
 * Returns what plane_ctx_table_insert() returns.
 */
static inline int
appkit_table_insert(struct plane_ctx *ctx, uint16_t obj, const void *value)
{
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, obj, key);
    return plane_ctx_table_insert(ctx, obj, key, klen, value);
}


/*
 * Adds 1 to word w (0..7) of the packet's entry of register obj, a
 * word-wise ADD register of up to PLANE_OBJ_MAX_VALUE bytes: per-tenant and
 * per-service counters.  A full register loses the count (as any register
 * update of the data path may).
 */
static inline void
appkit_reg_bump(struct plane_ctx *ctx, uint16_t obj, unsigned w)
{
    uint64_t op[PLANE_OBJ_MAX_VALUE / 8] = { 0 };
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, obj, key);
    op[w % (PLANE_OBJ_MAX_VALUE / 8)] = 1;
    (void) plane_ctx_reg_merge(ctx, obj, key, klen, op);
}

/* Adds 1 to the packet's entry of counter register obj (word 0). */
static inline void
appkit_reg_inc(struct plane_ctx *ctx, uint16_t obj)
{
    uint8_t key[PLANE_OBJ_MAX_KEY];
    size_t klen = plane_ctx_obj_key(ctx, obj, key);
    (void) plane_ctx_reg_add(ctx, obj, key, klen, 1);
}

/* ---- State keys and registration ---- */

/*
 * state_key() of an app in front of a service on port `port`: a packet
 * from the service (source port `port`, destination port not) lives under
 * its reverse, the request's key; everything else under its own key.
 */
static inline void
appkit_key_toward_port(const struct plane_flow_key *pkt, struct plane_flow_key *out,
                       uint16_t port)
{
    if (pkt->src_port == port && pkt->dst_port != port) {
        plane_flow_key_reverse(pkt, out);
    } else {
        *out = *pkt;
    }
}

/*
 * Defines the module's entry point, plane_app_register(), returning the
 * app's static descriptor `desc` (a struct plane_app_desc variable).
 */
#define APPKIT_APP_REGISTER(desc)                                             \
    const struct plane_app_desc *plane_app_register(void);                    \
    const struct plane_app_desc *                                             \
    plane_app_register(void)                                                  \
    {                                                                         \
        return &(desc);                                                       \
    }
