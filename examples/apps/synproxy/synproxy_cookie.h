/* synproxy: SipHash-2-4 and the SYN cookie the proxy sends as its ISN (shared with tests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012), written from the paper's
 * description: a 128-bit key (k0, k1 little-endian halves), 64-bit output.
 * A keyed PRF is what keeps cookies unforgeable by anyone who does not know
 * the secret; it is cheap enough per packet (a few dozen adds and
 * rotations over 24 bytes).
 */
static inline uint64_t
sp_rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static inline void
sp_sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = sp_rotl(v[1], 13);
    v[1] ^= v[0];
    v[0] = sp_rotl(v[0], 32);
    v[2] += v[3];
    v[3] = sp_rotl(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = sp_rotl(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = sp_rotl(v[1], 17);
    v[1] ^= v[2];
    v[2] = sp_rotl(v[2], 32);
}

static inline uint64_t
sp_le64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) {
        x = x << 8 | p[i];
    }
    return x;
}

static inline uint64_t
sp_siphash24(uint64_t k0, uint64_t k1, const uint8_t *m, size_t len)
{
    uint64_t v[4] = {
        k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
        k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL,
    };
    size_t full = len & ~(size_t) 7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t w = sp_le64(m + i);
        v[3] ^= w;
        sp_sipround(v);
        sp_sipround(v);
        v[0] ^= w;
    }
    /* The last block: the remaining bytes, the length's low byte on top. */
    uint64_t b = (uint64_t) (len & 0xff) << 56;
    for (size_t i = 0; i < (len & 7); i++) {
        b |= (uint64_t) m[full + i] << (8 * i);
    }
    v[3] ^= b;
    sp_sipround(v);
    sp_sipround(v);
    v[0] ^= b;
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++) {
        sp_sipround(v);
    }
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * The cookie: 32 bits = the time slot's low SP_SLOT_BITS bits on top, then
 * SipHash(secret; client addr, server addr, client port, server port,
 * client ISN, slot) truncated to the rest.  Binding the client's ISN means
 * the ACK must also carry seq = ISN + 1; binding the slot makes a cookie
 * expire after one to two slots.  IPv4 addresses (4 bytes each, network
 * order), ports in host order.
 */
#define SP_SLOT_BITS 5
#define SP_HASH_MASK ((1u << (32 - SP_SLOT_BITS)) - 1)

static inline uint32_t
sp_cookie(uint64_t k0, uint64_t k1, const uint8_t caddr[4], const uint8_t saddr[4],
          uint16_t cport, uint16_t sport, uint32_t client_isn, uint64_t slot)
{
    uint8_t m[24];
    for (int i = 0; i < 4; i++) {
        m[i] = caddr[i];
        m[4 + i] = saddr[i];
    }
    m[8] = (uint8_t) (cport >> 8);
    m[9] = (uint8_t) cport;
    m[10] = (uint8_t) (sport >> 8);
    m[11] = (uint8_t) sport;
    for (int i = 0; i < 4; i++) {
        m[12 + i] = (uint8_t) (client_isn >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++) {
        m[16 + i] = (uint8_t) (slot >> (56 - 8 * i));
    }
    uint64_t h = sp_siphash24(k0, k1, m, sizeof m);
    return (uint32_t) (slot & ((1u << SP_SLOT_BITS) - 1)) << (32 - SP_SLOT_BITS)
           | ((uint32_t) h & SP_HASH_MASK);
}

/* True when cookie is valid now (slot `now_slot`) or one slot ago. */
static inline bool
sp_cookie_ok(uint64_t k0, uint64_t k1, const uint8_t caddr[4], const uint8_t saddr[4],
             uint16_t cport, uint16_t sport, uint32_t client_isn, uint64_t now_slot,
             uint32_t cookie)
{
    for (uint64_t age = 0; age < 2 && age <= now_slot; age++) {
        uint64_t slot = now_slot - age;
        if (sp_cookie(k0, k1, caddr, saddr, cport, sport, client_isn, slot) == cookie) {
            return true;
        }
    }
    return false;
}
