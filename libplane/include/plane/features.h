/* Device features an app may need and a device may offer (a leaf header). */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Device and switch features.  An app needing one can only be placed on a
 * device that lists it.  X(ENUM, name, description); bit i is the i-th entry.
 */
#define PLANE_FEATURE_MAP(X)                                                   \
    X(PAYLOAD,       payload,       "reads and writes payload beyond headers") \
    X(FLOAT,         float,         "floating-point arithmetic")               \
    X(RECIRCULATION, recirculation, "re-injects packets into the pipeline")    \
    X(CRYPTO,        crypto,        "cryptographic primitives")                \
    X(REGEX,         regex,         "regular-expression matching")             \
    X(TIMESTAMP,     timestamp,     "precise per-packet timestamps")           \
    X(MULTICAST,     multicast,     "replicates packets to several ports")     \
    X(HASH,          hash,          "hash units usable by apps")

enum plane_feature_index {
#define PLANE_FEATURE_IDX_(E, n, d) PLANE_FEATURE_IDX_##E,
    PLANE_FEATURE_MAP(PLANE_FEATURE_IDX_)
#undef PLANE_FEATURE_IDX_
    PLANE_FEATURE_COUNT
};

/* Feature bits, for the uint32_t `features` masks below. */
enum plane_feature {
#define PLANE_FEATURE_BIT_(E, n, d) PLANE_FEAT_##E = 1u << PLANE_FEATURE_IDX_##E,
    PLANE_FEATURE_MAP(PLANE_FEATURE_BIT_)
#undef PLANE_FEATURE_BIT_
};

/* Returns the schema name of a single feature bit ("payload"), or NULL. */
const char *plane_feature_name(uint32_t bit);
/* Returns the bit named `name`, or 0 when it is not a known feature. */
uint32_t plane_feature_from_name(const char *name);

#ifdef __cplusplus
}
#endif
