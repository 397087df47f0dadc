/* Keyed XXH3 hashing for flow tables and shard selection, seeded per rack against collision attacks. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct plane_flow_key;

/* XXH3_SECRET_DEFAULT_SIZE in xxhash 0.8.1 (hash.c checks they agree). */
#define PLANE_HASH_SECRET_SIZE 192

/*
 * A keyed hasher.  Packet sources choose flow keys, so a fixed hash would
 * let them aim every flow at one bucket or one shard; deriving the XXH3
 * secret and seed from the rack's secret key makes the mapping unknowable
 * outside the rack, yet identical on every device of the rack (all of them
 * must agree which shard owns a flow).
 *
 * Caller-owned, read-only after init: one hasher may be shared by threads.
 */
struct plane_hasher {
    uint8_t secret[PLANE_HASH_SECRET_SIZE];
    uint64_t seed;
};

/*
 * Derives h from key_len bytes of key (the rack's secret key; any length,
 * key may be NULL only when key_len is 0).  Returns 0 or PLANE_EINVAL.
 */
int plane_hasher_init(struct plane_hasher *h, const void *key, size_t key_len);

/* Wipes the secret material from h. */
void plane_hasher_uninit(struct plane_hasher *h);

/* Returns the 64-bit keyed hash of len bytes at data. */
uint64_t plane_hash64(const struct plane_hasher *h, const void *data, size_t len);

/* Returns the keyed hash of a flow key (all of its bytes, padding included). */
uint64_t plane_hash_flow_key(const struct plane_hasher *h,
                             const struct plane_flow_key *key);

/*
 * Maps a 64-bit hash to a shard in [0, n_shards) without the bias of
 * `hash % n`: the high 64 bits of hash * n (Lemire's multiply-shift), so
 * each shard gets an equal share of the hash space (to within 1 / 2^64).
 * Uses the hash's high bits; returns 0 when n_shards is 0.
 */
static inline uint32_t
plane_hash_shard(uint64_t hash, uint32_t n_shards)
{
#ifdef __SIZEOF_INT128__
    return (uint32_t) (((unsigned __int128) hash * n_shards) >> 64);
#else
    return (uint32_t) (((hash >> 32) * n_shards) >> 32);
#endif
}
