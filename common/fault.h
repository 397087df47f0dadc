/* Seeded fault injection for the UDP transport: drop, duplicate, delay, reorder. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/counters.h"

/* What to do with one datagram: a bitmask.  DROP excludes the others. */
enum plane_fault_action {
    PLANE_FAULT_PASS    = 0,
    PLANE_FAULT_DROP    = 1u << 0,   /* discard it */
    PLANE_FAULT_DUP     = 1u << 1,   /* send it twice */
    PLANE_FAULT_DELAY   = 1u << 2,   /* hold it for *delay_ns */
    PLANE_FAULT_REORDER = 1u << 3,   /* send it after the next datagram */
};

#define PLANE_FAULT_COUNTERS(X)                                                \
    X(decisions)                                                               \
    X(dropped)                                                                 \
    X(duplicated)                                                              \
    X(delayed)                                                                 \
    X(reordered)

struct plane_fault_stats { PLANE_FAULT_COUNTERS(PLANE_COUNTERS_FIELD_) };

/*
 * A fault model.  Probabilities are in [0, 1].  A delayed datagram waits
 * delay_min_ns plus a uniform random part up to delay_max_ns in total.  The
 * PRNG (xoshiro256**, seeded through splitmix64) is the model's own, so one
 * seed replays one sequence of decisions.  Caller-owned; no allocation.
 */
struct plane_fault {
    double drop;
    double dup;
    double delay;             /* probability that a datagram is delayed */
    double reorder;
    uint64_t delay_min_ns;
    uint64_t delay_max_ns;
    uint64_t seed;
    uint64_t s[4];            /* PRNG state */
    struct plane_fault_stats stats;
};

/* Initializes f with no faults and the PRNG seeded with seed. */
void plane_fault_init(struct plane_fault *f, uint64_t seed);

/*
 * Parses a spec such as "drop=0.1,dup=0.05,delay=2ms:5ms,reorder=0.01,seed=42"
 * into f (which it initializes first).  Keys: drop, dup, reorder, delay_p
 * (probabilities), delay=MIN[:MAX] (durations with unit ns, us, ms or s;
 * delay_p defaults to 1 when delay is given), seed (decimal or 0x hex).
 * Without seed= the seed comes from the wall clock; read it back with
 * plane_fault_seed() and print it so the run can be replayed.  An empty or
 * NULL spec means no faults.  Returns 0 or PLANE_EINVAL.
 */
int plane_fault_parse(struct plane_fault *f, const char *spec);

/* Returns the seed the PRNG started from. */
uint64_t plane_fault_seed(const struct plane_fault *f);

/* Returns true when any fault has a non-zero probability. */
bool plane_fault_active(const struct plane_fault *f);

/*
 * Draws the fate of one datagram: *action is a mask of enum
 * plane_fault_action and *delay_ns the delay when PLANE_FAULT_DELAY is set
 * (0 otherwise).  Updates the counters.
 */
void plane_fault_decide(struct plane_fault *f, unsigned *action, uint64_t *delay_ns);

/* Returns the next raw 64-bit PRNG value (also used for jitter by callers). */
uint64_t plane_fault_rand(struct plane_fault *f);
/* Returns a uniform double in [0, 1). */
double plane_fault_rand_double(struct plane_fault *f);

/*
 * The model's PRNG on its own, for other seeded code that wants the same
 * generator (planegen): xoshiro256** over a caller-owned 4-word state,
 * seeded through splitmix64.  Deterministic: one seed, one sequence.
 */
/* One splitmix64 step: advances *x and returns a well-mixed 64-bit value (also a cheap hash). */
uint64_t plane_fault_prng_mix(uint64_t *x);
/* Seeds the state s from seed (any value, 0 included). */
void plane_fault_prng_seed(uint64_t s[4], uint64_t seed);
/* Advances the state s and returns the next 64 random bits. */
uint64_t plane_fault_prng_next(uint64_t s[4]);

/* Writes a spec that plane_fault_parse() reads back into buf.  Returns buf. */
const char *plane_fault_format(const struct plane_fault *f, char *buf, unsigned size);
