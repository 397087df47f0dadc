/* Control-message authentication with crypto_auth and RFC 6479 replay windows. */
#include "common/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/wire.h"
#include "plane/error.h"

PLANE_LOG_MODULE(auth);

_Static_assert(crypto_auth_BYTES == PLANE_WIRE_MAC_LEN, "MAC length");
_Static_assert(crypto_auth_KEYBYTES == PLANE_AUTH_KEY_LEN, "key length");
/* crypto_auth() is HMAC-SHA-512-256: the precomputed state below gives the
 * same MACs, so peers with either code interoperate. */
_Static_assert(crypto_auth_hmacsha512256_BYTES == PLANE_WIRE_MAC_LEN, "HMAC length");

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status = -1;

static void
sodium_start(void)
{
    sodium_status = sodium_init() < 0 ? -1 : 0;
}

static int
sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_start);
    return sodium_status == 0 ? 0 : PLANE_EIO;
}

/* ---- replay window (RFC 6479) ---- */

void
plane_replay_reset(struct plane_replay *w)
{
    memset(w, 0, sizeof *w);
}

int
plane_replay_check(struct plane_replay *w, uint64_t seq)
{
    const uint64_t nbits = PLANE_REPLAY_WINDOW;
    if (!w->started) {
        memset(w->bits, 0, sizeof w->bits);
        w->started = true;
        w->top = seq;
        w->bits[(seq / 64) % PLANE_REPLAY_WORDS] |= 1ULL << (seq % 64);
        return 0;
    }
    if (seq > w->top) {
        /* Clear the words the window slides over, at most all of them. */
        uint64_t cur = w->top / 64, nxt = seq / 64;
        uint64_t diff = nxt - cur;
        if (diff > PLANE_REPLAY_WORDS) {
            diff = PLANE_REPLAY_WORDS;
        }
        for (uint64_t i = 1; i <= diff; i++) {
            w->bits[(cur + i) % PLANE_REPLAY_WORDS] = 0;
        }
        w->top = seq;
    } else if (w->top - seq >= nbits - 64) {
        return PLANE_EREPLAY;                   /* older than the window */
    }
    uint64_t *word = &w->bits[(seq / 64) % PLANE_REPLAY_WORDS];
    uint64_t bit = 1ULL << (seq % 64);
    if (*word & bit) {
        return PLANE_EREPLAY;
    }
    *word |= bit;
    return 0;
}

/* ---- key and MAC ---- */

int
plane_auth_init(struct plane_auth *auth, const uint8_t key[PLANE_AUTH_KEY_LEN],
                uint32_t max_peers)
{
    memset(auth, 0, sizeof *auth);
    if (!key) {
        return PLANE_EINVAL;
    }
    int err = sodium_ready();
    if (err) {
        PLANE_ERR("sodium_init failed");
        return err;
    }
    if (max_peers == 0) {
        max_peers = 1024;
    }
    if (max_peers > 65536) {
        max_peers = 65536;
    }
    /* Keep the open-addressing table at most half full. */
    uint32_t cap = 16;
    while (cap < 2 * max_peers) {
        cap <<= 1;
    }
    auth->peers = plane_calloc(cap, sizeof *auth->peers);
    if (!auth->peers) {
        return PLANE_ENOMEM;
    }
    auth->npeers_cap = cap;
    memcpy(auth->key, key, PLANE_AUTH_KEY_LEN);
    crypto_auth_hmacsha512256_init(&auth->keyed, key, PLANE_AUTH_KEY_LEN);
    return 0;
}

void
plane_auth_uninit(struct plane_auth *auth)
{
    plane_free(auth->peers);
    sodium_memzero(auth, sizeof *auth);
}

/* HMAC of buf[0..len) into mac, from the keyed state. */
static void
auth_mac(const struct plane_auth *auth, const uint8_t *buf, size_t len,
         uint8_t mac[PLANE_WIRE_MAC_LEN])
{
    crypto_auth_hmacsha512256_state st = auth->keyed;
    crypto_auth_hmacsha512256_update(&st, buf, len);
    crypto_auth_hmacsha512256_final(&st, mac);
}

int
plane_auth_seal(struct plane_auth *auth, uint8_t *buf, size_t len)
{
    if (len < PLANE_WIRE_MAC_LEN) {
        return PLANE_EINVAL;
    }
    size_t body = len - PLANE_WIRE_MAC_LEN;
    auth_mac(auth, buf, body, buf + body);
    PLANE_CTR_INC(&auth->stats, sealed);
    return 0;
}

int
plane_auth_verify(struct plane_auth *auth, const uint8_t *buf, size_t len)
{
    uint8_t mac[PLANE_WIRE_MAC_LEN];
    if (len >= PLANE_WIRE_MAC_LEN) {
        auth_mac(auth, buf, len - PLANE_WIRE_MAC_LEN, mac);
    }
    if (len < PLANE_WIRE_MAC_LEN
        || sodium_memcmp(mac, buf + len - PLANE_WIRE_MAC_LEN, PLANE_WIRE_MAC_LEN) != 0) {
        PLANE_CTR_INC(&auth->stats, bad_mac);
        return PLANE_EAUTH;
    }
    PLANE_CTR_INC(&auth->stats, verified);
    return 0;
}

/* ---- per-sender state ---- */

static struct plane_auth_peer *
peer_find(struct plane_auth *auth, uint16_t sender, bool create)
{
    uint32_t mask = auth->npeers_cap - 1;
    uint32_t i = ((uint32_t) sender * 2654435761u) & mask;
    for (uint32_t n = 0; n < auth->npeers_cap; n++, i = (i + 1) & mask) {
        struct plane_auth_peer *p = &auth->peers[i];
        if (p->used && p->sender == sender) {
            return p;
        }
        if (!p->used) {
            if (!create || auth->npeers >= auth->npeers_cap / 2) {
                return NULL;
            }
            memset(p, 0, sizeof *p);
            p->used = true;
            p->sender = sender;
            auth->npeers++;
            return p;
        }
    }
    return NULL;
}

int
plane_auth_check_replay(struct plane_auth *auth, uint16_t sender,
                        uint64_t incarnation, uint64_t seq)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_auth_peer *p = peer_find(auth, sender, true);
    if (!p) {
        PLANE_CTR_INC(&auth->stats, peers_full);
        return PLANE_ENOSPC;
    }
    if (!p->win.started || incarnation > p->win.incarnation) {
        if (p->win.started && sender != PLANE_CLIENT_ID) {
            PLANE_INFO("sender %u restarted: incarnation %#llx -> %#llx", sender,
                       (unsigned long long) p->win.incarnation,
                       (unsigned long long) incarnation);
        }
        plane_replay_reset(&p->win);
        p->win.incarnation = incarnation;
        PLANE_CTR_INC(&auth->stats, new_incarnation);
    } else if (incarnation < p->win.incarnation) {
        PLANE_CTR_INC(&auth->stats, replay_old_incarnation);
        PLANE_WARN_RL(&rl, "sender %u: old incarnation %#llx (current %#llx)",
                      sender, (unsigned long long) incarnation,
                      (unsigned long long) p->win.incarnation);
        return PLANE_EREPLAY;
    }
    if (plane_replay_check(&p->win, seq)) {
        PLANE_CTR_INC(&auth->stats, replay_dup);
        return PLANE_EREPLAY;
    }
    return 0;
}

void
plane_auth_forget(struct plane_auth *auth, uint16_t sender)
{
    struct plane_auth_peer *p = peer_find(auth, sender, false);
    if (p) {
        /* Keep the slot (tombstone-free): a forgotten sender starts afresh. */
        plane_replay_reset(&p->win);
    }
}

uint64_t
plane_auth_new_incarnation(void)
{
    uint16_t r = 0;
    if (sodium_ready() == 0) {
        randombytes_buf(&r, sizeof r);
    }
    return (plane_clock_wall_ns() & ~0xffffULL) | r;
}

void
plane_auth_random(void *buf, size_t len)
{
    if (sodium_ready() == 0) {
        randombytes_buf(buf, len);
    } else {
        memset(buf, 0, len);
    }
}
