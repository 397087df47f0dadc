/* Keyed XXH3 hashing: secret derived from the rack key with XXH3_generateSecret. */
#include "common/hash.h"

#include <string.h>

/* XXH3_generateSecret and _withSecretandSeed are in the "experimental"
 * section of xxhash.h, shown only to static-linking users; libxxhash 0.8.1
 * exports them all the same. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <plane/error.h>
#include <plane/flow.h>

_Static_assert(PLANE_HASH_SECRET_SIZE == XXH3_SECRET_DEFAULT_SIZE,
               "secret size must match xxhash");
_Static_assert(PLANE_HASH_SECRET_SIZE >= XXH3_SECRET_SIZE_MIN,
               "secret too small for xxhash");
#if XXH_VERSION_NUMBER < 801
#error "xxhash >= 0.8.1 needed: XXH3_generateSecret's signature changed there"
#endif

int
plane_hasher_init(struct plane_hasher *h, const void *key, size_t key_len)
{
    if (!h || (!key && key_len)) {
        return PLANE_EINVAL;
    }
    if (XXH3_generateSecret(h->secret, sizeof h->secret, key, key_len)
        != XXH_OK) {
        return PLANE_EINVAL;
    }
    /* Short inputs (< 240 bytes, every flow key) are hashed with the seed
     * only, so the seed must depend on the whole key too: hash the secret,
     * as xxhash.h suggests for _withSecretandSeed. */
    h->seed = XXH3_64bits(h->secret, sizeof h->secret);
    return 0;
}

void
plane_hasher_uninit(struct plane_hasher *h)
{
    if (h) {
        explicit_bzero(h, sizeof *h);
    }
}

uint64_t
plane_hash64(const struct plane_hasher *h, const void *data, size_t len)
{
    return XXH3_64bits_withSecretandSeed(data, len, h->secret,
                                         sizeof h->secret, h->seed);
}

uint64_t
plane_hash_flow_key(const struct plane_hasher *h,
                    const struct plane_flow_key *key)
{
    return plane_hash64(h, key, sizeof *key);
}
