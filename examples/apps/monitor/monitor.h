/* monitor: what the module and its queries share (levels, object layout, the level hash). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * A UnivMon universal sketch of the stream of source addresses: level l
 * (0 <= l < MON_LEVELS) sketches the substream of items whose level hash
 * has at least l leading zero bits, so level 0 sees everything, level 1
 * about half the distinct items, level l about 2^-l of them, each item
 * with its full count.  Objects 0..MON_LEVELS-1 are the levels' count-min
 * sketches, named "level0".."level11"; object MON_OBJ_CAND is the candidate
 * register (keyed by source address, OR-merged bitmask of the levels in
 * which the item's estimate crossed the candidate threshold).
 */
#define MON_LEVELS 12
#define MON_OBJ_CAND MON_LEVELS
#define MON_N_OBJ (MON_LEVELS + 1)

/* An item is a source address: 16 bytes, IPv4 stored IPv4-mapped (flow.h). */
#define MON_ITEM_LEN 16

/* The default level-hash seed (param "seed"); every device must agree. */
#define MON_DEFAULT_SEED 0x6d6f6e69746f7231ULL

/* Murmur3's 64-bit finaliser: a bijection that spreads every input bit. */
static inline uint64_t
mon_fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/*
 * The level hash of an item (MON_ITEM_LEN bytes): a seeded mix of its two
 * 64-bit words.  Independent of the runtime's sketch hashing, so the
 * sampling does not correlate with the sketches' column choice.
 */
static inline uint64_t
mon_level_hash(uint64_t seed, const uint8_t item[MON_ITEM_LEN])
{
    uint64_t w0, w1;
    memcpy(&w0, item, 8);
    memcpy(&w1, item + 8, 8);
    uint64_t h = mon_fmix64(seed ^ 0x9e3779b97f4a7c15ULL);
    h = mon_fmix64(h ^ w0);
    h = mon_fmix64(h ^ (w1 + 0x632be59bd9b4e019ULL));
    return h;
}

/*
 * The deepest level an item belongs to: the leading zero bits of its level
 * hash, capped at MON_LEVELS - 1.  The item is in levels 0..depth.
 */
static inline unsigned
mon_item_depth(uint64_t seed, const uint8_t item[MON_ITEM_LEN])
{
    uint64_t h = mon_level_hash(seed, item);
    unsigned lz = h ? (unsigned) __builtin_clzll(h) : 64;
    return lz < MON_LEVELS - 1 ? lz : MON_LEVELS - 1;
}
