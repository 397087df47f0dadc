/* netcache: the wire format of cache requests/replies and the key -> bucket hash clients use. */
#pragma once

#include <stdint.h>

/*
 * Every NetCache message is one UDP payload of exactly NC_MSG_LEN bytes
 * (longer payloads are allowed; the rest is ignored and kept):
 *
 *   0      op      NC_OP_*
 *   1      status  NC_ST_* (replies; 0 in requests)
 *   2      vlen    bytes of value used, 0..NC_VALUE_MAX
 *   3      flags   NC_F_* (set by the cache)
 *   4..11  key     8 bytes, opaque
 *   12..59 value   NC_VALUE_MAX bytes, the first vlen meaningful
 *
 * Requests carry the whole value area even for a GET (zeroes), so the
 * cache can turn a request into its reply in place: the data plane cannot
 * grow a packet.  Requests go to the service's UDP port; the client's
 * source port is the key's bucket (nc_bucket_port()), which is how the
 * runtime finds the cache entry of a key from the packet's 5-tuple alone.
 */
#define NC_MSG_LEN 60
#define NC_VALUE_MAX 48
#define NC_OFF_OP 0
#define NC_OFF_STATUS 1
#define NC_OFF_VLEN 2
#define NC_OFF_FLAGS 3
#define NC_OFF_KEY 4
#define NC_OFF_VALUE 12
#define NC_KEY_LEN 8

enum nc_op {
    NC_OP_GET = 1,
    NC_OP_PUT = 2,
    NC_OP_DEL = 3,
    NC_OP_GET_REPLY = 0x81,
    NC_OP_PUT_REPLY = 0x82,
    NC_OP_DEL_REPLY = 0x83,
};

enum nc_status {
    NC_ST_OK = 0,
    NC_ST_NOT_FOUND = 1,
};

enum nc_flag {
    NC_F_CACHED = 0x01,       /* answered by the in-network cache */
};

/* Defaults of the app's params (README). */
#define NC_DEFAULT_PORT 40000
#define NC_DEFAULT_BUCKET_BITS 12

/* Reads the 8-byte key as a big-endian number (independent of the host). */
static inline uint64_t
nc_key_u64(const uint8_t key[NC_KEY_LEN])
{
    uint64_t k = 0;
    for (int i = 0; i < NC_KEY_LEN; i++) {
        k = k << 8 | key[i];
    }
    return k;
}

/* The key's bucket in [0, 2^bits): the low bits of a 64-bit mix of it. */
static inline uint32_t
nc_bucket(const uint8_t key[NC_KEY_LEN], unsigned bits)
{
    uint64_t x = nc_key_u64(key) ^ 0x6e65746361636865ULL;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t) (x & ((1ULL << bits) - 1));
}

/* The UDP source port a client must use for key. */
static inline uint16_t
nc_bucket_port(const uint8_t key[NC_KEY_LEN], uint16_t base, unsigned bits)
{
    return (uint16_t) (base + nc_bucket(key, bits));
}
