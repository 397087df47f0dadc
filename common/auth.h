/* Control-message authentication (libsodium crypto_auth) and per-peer replay windows. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "common/counters.h"

#define PLANE_AUTH_KEY_LEN 32

/*
 * Replay window size in sequence numbers.  RFC 6479 layout: a ring of 64-bit
 * words of which one is always being recycled, so the guaranteed window is
 * PLANE_REPLAY_WINDOW - 64.  It is much larger than IPsec's 64 because RPC
 * retransmissions under fault injection arrive far out of order.
 */
#define PLANE_REPLAY_WORDS 16u
#define PLANE_REPLAY_WINDOW (PLANE_REPLAY_WORDS * 64u)

/*
 * The sliding window of one sender.  Caller-owned; zero it (or call
 * plane_replay_reset()) to start.
 */
struct plane_replay {
    uint64_t incarnation;
    uint64_t top;                        /* highest seq accepted */
    uint64_t bits[PLANE_REPLAY_WORDS];
    bool started;
};

/*
 * Checks seq against w and, when accepted, marks it seen.  Returns 0, or
 * PLANE_EREPLAY when seq was seen or is older than the window.
 */
int plane_replay_check(struct plane_replay *w, uint64_t seq);
/* Empties w: the next seq it sees is accepted and becomes the top. */
void plane_replay_reset(struct plane_replay *w);

#define PLANE_AUTH_COUNTERS(X)                                                 \
    X(sealed)                                                                  \
    X(verified)                                                                \
    X(bad_mac)                                                                 \
    X(replay_dup)         /* seq already seen or older than the window */     \
    X(replay_old_incarnation) /* an incarnation older than the current one */ \
    X(new_incarnation)    /* a sender restarted (or was seen first) */        \
    X(peers_full)

struct plane_auth_stats { PLANE_AUTH_COUNTERS(PLANE_COUNTERS_FIELD_) };

/* One sender's replay state, in struct plane_auth's table. */
struct plane_auth_peer {
    uint16_t sender;
    bool used;
    struct plane_replay win;
};

/*
 * A shared key and the replay state of every sender seen with it.
 * Caller-owned (plane_auth_init / plane_auth_uninit); not thread-safe.
 *
 * Incarnations.  Each sender picks an incarnation at start that must be
 * larger than any it used before (plane_auth_new_incarnation() returns wall
 * clock nanoseconds with random low bits).  The receiver remembers the
 * current incarnation per sender: a larger one means the sender restarted
 * and resets its window; a smaller one is rejected as a replay.  So a
 * recorded message of an old incarnation cannot be replayed after a
 * restart of the sender.  The one gap: a receiver that itself restarted has
 * no state and accepts the first authentic incarnation it sees (trust on
 * first use), until the real sender's newer incarnation takes over.
 */
struct plane_auth {
    uint8_t key[PLANE_AUTH_KEY_LEN];
    /* HMAC state after the key's two blocks (inner and outer pad): every
     * MAC starts from a copy, which halves its cost (heartbeats every few
     * ms made the key set-up a tenth of an idle switchd's instructions). */
    crypto_auth_hmacsha512256_state keyed;
    struct plane_auth_peer *peers;       /* open addressing on sender */
    uint32_t npeers_cap;                 /* power of two */
    uint32_t npeers;
    struct plane_auth_stats stats;
};

/*
 * Initializes auth with a 32-byte key (copied) and a table for max_peers
 * senders (0 = 1024).  Calls sodium_init() once per process.  Returns 0,
 * PLANE_EINVAL, PLANE_ENOMEM, or PLANE_EIO when libsodium fails to start.
 */
int plane_auth_init(struct plane_auth *auth, const uint8_t key[PLANE_AUTH_KEY_LEN],
                    uint32_t max_peers);
/* Wipes the key and frees the table.  Safe on a zeroed struct. */
void plane_auth_uninit(struct plane_auth *auth);

/*
 * Writes the MAC of buf[0, len - PLANE_WIRE_MAC_LEN) into the last
 * PLANE_WIRE_MAC_LEN bytes of buf.  len is the whole datagram, MAC included,
 * as returned by plane_wire_ctl_encode().  Returns 0 or PLANE_EINVAL.
 */
int plane_auth_seal(struct plane_auth *auth, uint8_t *buf, size_t len);

/*
 * Verifies, in constant time, the MAC in the last PLANE_WIRE_MAC_LEN bytes
 * of buf over the bytes before it.  Returns 0 or PLANE_EAUTH (also for a
 * datagram too short to hold a MAC).
 */
int plane_auth_verify(struct plane_auth *auth, const uint8_t *buf, size_t len);

/*
 * The replay check of an authenticated control message from sender with
 * this incarnation and seq (see struct plane_auth about incarnations).
 * Returns 0 (accepted and recorded), PLANE_EREPLAY, or PLANE_ENOSPC when the
 * table of senders is full.
 */
int plane_auth_check_replay(struct plane_auth *auth, uint16_t sender,
                            uint64_t incarnation, uint64_t seq);

/* Forgets everything about sender (e.g. a peer removed from the rack). */
void plane_auth_forget(struct plane_auth *auth, uint16_t sender);

/* Returns a fresh incarnation: increasing across restarts, random low bits. */
uint64_t plane_auth_new_incarnation(void);

/* Fills buf with len cryptographically random bytes. */
void plane_auth_random(void *buf, size_t len);
