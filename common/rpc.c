/* Request/response RPC over a plane_udp endpoint: retransmission, duplicate cache, async replies. */
#include "common/rpc.h"

#include <string.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/udp.h"
#include "common/wire.h"
#include "plane/error.h"

PLANE_LOG_MODULE(rpc);

#define RPC_DEFAULT_TIMEOUT (20 * PLANE_NS_PER_MS)
#define RPC_DEFAULT_BACKOFF (1 * PLANE_NS_PER_SEC)
#define RPC_DEFAULT_RETRIES 5u
#define RPC_DEFAULT_CACHE 4096u
#define RPC_MAX_CACHE (1u << 20)
#define RPC_CALL_BUCKETS 1024u
#define RPC_NONE UINT32_MAX

static const char *const rpc_counter_names[] = { PLANE_COUNTERS_NAMES(PLANE_RPC_COUNTERS) };

/*
 * A call in flight.  States:
 *
 *   plane_rpc_call() --send--> WAITING --response--> cb(status, resp), freed
 *                                 |  ^
 *                      deadline   |  | retransmit (fresh seq), backoff *= 2
 *                                 v  |
 *                         tries left? --no--> cb(ETIMEDOUT), freed
 *
 *   plane_rpc_close(): every WAITING call -> cb(ECANCELED), freed.
 */
struct rpc_call {
    uint64_t request_id;
    uint16_t peer;
    uint16_t msg_type;
    uint32_t tries_left;
    uint64_t backoff_ns;
    uint64_t max_backoff_ns;
    uint64_t deadline_ns;
    plane_rpc_cb cb;
    void *arg;
    struct rpc_call *hnext;          /* bucket chain by request_id */
    struct rpc_call *prev, *next;    /* list of all calls */
    size_t body_len;
    uint8_t body[];                  /* kept for retransmissions */
};

/*
 * A duplicate cache entry: one request seen from (sender, incarnation,
 * request_id).  EMPTY -> PENDING when handed to the handler -> DONE when
 * answered (reply kept to answer retransmissions) -> EMPTY when recycled
 * (the ring's oldest).  A PENDING entry is never recycled.
 */
enum rpc_dup_state { DUP_EMPTY, DUP_PENDING, DUP_DONE };

struct rpc_dup {
    uint8_t state;
    uint16_t sender;
    uint16_t msg_type;
    int32_t status;
    uint64_t incarnation;
    uint64_t request_id;
    uint64_t token;
    uint32_t hnext;                  /* bucket chain, RPC_NONE ends */
    struct sockaddr_storage from;
    uint8_t *reply;
    size_t reply_len;
};

struct rpc_peer {
    uint16_t id;
    struct sockaddr_storage addr;
};

struct rpc_handler {
    plane_rpc_handler_fn fn;
    void *arg;
};

struct plane_rpc {
    uv_loop_t *loop;
    struct plane_udp *udp;
    struct plane_auth *auth;
    uv_timer_t timer;
    bool closing;
    plane_rpc_close_fn close_cb;
    void *close_arg;

    uint16_t self_id;
    uint64_t incarnation;
    uint64_t seq;
    uint64_t next_request_id;
    struct plane_rpc_opts opts;
    struct plane_fault jitter;       /* only its PRNG */

    struct rpc_call *calls;          /* all calls in flight */
    size_t ncalls;
    struct rpc_call *buckets[RPC_CALL_BUCKETS];

    struct rpc_dup *dups;            /* ring of opts.dup_cache entries */
    uint32_t *dup_buckets;
    uint32_t dup_nbuckets;           /* power of two */
    uint32_t dup_next;               /* ring position to recycle next */
    uint64_t dup_serial;

    struct rpc_peer *peers;
    size_t npeers;

    struct rpc_handler handlers[PLANE_RPC_MAX_TYPE];
    uint8_t txbuf[PLANE_WIRE_MAX_DATAGRAM];
    struct plane_rpc_stats stats;
};

const char *
plane_rpc_counter_name(size_t i)
{
    return i < sizeof rpc_counter_names / sizeof rpc_counter_names[0]
           ? rpc_counter_names[i] : NULL;
}

static const struct sockaddr *
peer_addr(const struct plane_rpc *rpc, uint16_t id)
{
    for (size_t i = 0; i < rpc->npeers; i++) {
        if (rpc->peers[i].id == id) {
            return (const struct sockaddr *) &rpc->peers[i].addr;
        }
    }
    return NULL;
}

/* Encodes, seals and queues one envelope.  Every datagram takes a fresh seq. */
static int
rpc_send(struct plane_rpc *rpc, const struct sockaddr *to, uint8_t kind,
         uint64_t request_id, uint16_t msg_type, int32_t status,
         const uint8_t *body, size_t body_len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_wire_ctl c = {
        .kind = kind, .sender = rpc->self_id, .incarnation = rpc->incarnation,
        .seq = ++rpc->seq, .request_id = request_id, .msg_type = msg_type,
        .status = status, .body = body, .body_len = body_len,
    };
    int len = plane_wire_ctl_encode(&c, rpc->txbuf, sizeof rpc->txbuf);
    if (len < 0) {
        return len;
    }
    plane_auth_seal(rpc->auth, rpc->txbuf, (size_t) len);
    int err = plane_udp_send(rpc->udp, to, rpc->txbuf, (size_t) len);
    if (err) {
        /* The datagram is lost like any other: retransmission covers it. */
        PLANE_CTR_INC(&rpc->stats, tx_errors);
        PLANE_WARN_RL(&rl, "send of request %llu failed: %s",
                      (unsigned long long) request_id, plane_err_name(err));
    }
    return 0;
}

/* ---- calls ---- */

static uint64_t
rpc_jittered(struct plane_rpc *rpc, uint64_t backoff)
{
    /* Up to 25% extra, so peers that lost the same datagram do not retry in step. */
    uint64_t j = backoff / 4;
    return backoff + (j ? plane_fault_rand(&rpc->jitter) % (j + 1) : 0);
}

static void rpc_timer_cb(uv_timer_t *t);

static void
rpc_arm(struct plane_rpc *rpc)
{
    if (rpc->closing || !rpc->calls) {
        uv_timer_stop(&rpc->timer);
        return;
    }
    uint64_t first = UINT64_MAX;
    for (struct rpc_call *c = rpc->calls; c; c = c->next) {
        if (c->deadline_ns < first) {
            first = c->deadline_ns;
        }
    }
    uint64_t now = plane_clock_now_ns();
    uint64_t ms = first > now ? (first - now + PLANE_NS_PER_MS - 1) / PLANE_NS_PER_MS : 0;
    uv_timer_start(&rpc->timer, rpc_timer_cb, ms, 0);
}

static void
call_unlink(struct plane_rpc *rpc, struct rpc_call *c)
{
    struct rpc_call **link = &rpc->buckets[c->request_id % RPC_CALL_BUCKETS];
    while (*link != c) {
        link = &(*link)->hnext;
    }
    *link = c->hnext;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        rpc->calls = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    rpc->ncalls--;
}

static struct rpc_call *
call_find(struct plane_rpc *rpc, uint64_t request_id)
{
    struct rpc_call *c = rpc->buckets[request_id % RPC_CALL_BUCKETS];
    while (c && c->request_id != request_id) {
        c = c->hnext;
    }
    return c;
}

int
plane_rpc_call(struct plane_rpc *rpc, uint16_t peer, uint16_t msg_type,
               const uint8_t *body, size_t body_len,
               const struct plane_rpc_call_opts *opts,
               plane_rpc_cb cb, void *arg, uint64_t *request_id)
{
    if (rpc->closing) {
        return PLANE_ESTATE;
    }
    const struct sockaddr *to = peer_addr(rpc, peer);
    if (!to) {
        return PLANE_EPEER;
    }
    if (body_len > PLANE_WIRE_MAX_DATAGRAM || (body_len && !body) || !cb) {
        return body_len > PLANE_WIRE_MAX_DATAGRAM ? PLANE_EMSGSIZE : PLANE_EINVAL;
    }
    struct rpc_call *c = plane_malloc(sizeof *c + body_len);
    if (!c) {
        return PLANE_ENOMEM;
    }
    memset(c, 0, sizeof *c);
    c->request_id = rpc->next_request_id++;
    c->peer = peer;
    c->msg_type = msg_type;
    c->cb = cb;
    c->arg = arg;
    c->backoff_ns = opts && opts->timeout_ns ? opts->timeout_ns : rpc->opts.timeout_ns;
    c->max_backoff_ns = opts && opts->max_backoff_ns ? opts->max_backoff_ns
                                                     : rpc->opts.max_backoff_ns;
    c->tries_left = opts && opts->retries ? opts->retries : rpc->opts.retries;
    c->body_len = body_len;
    if (body_len) {
        memcpy(c->body, body, body_len);
    }
    int err = rpc_send(rpc, to, PLANE_CTL_REQUEST, c->request_id, msg_type, 0,
                       c->body, body_len);
    if (err) {
        plane_free(c);
        return err;
    }
    c->deadline_ns = plane_clock_now_ns() + rpc_jittered(rpc, c->backoff_ns);
    struct rpc_call **b = &rpc->buckets[c->request_id % RPC_CALL_BUCKETS];
    c->hnext = *b;
    *b = c;
    c->next = rpc->calls;
    if (rpc->calls) {
        rpc->calls->prev = c;
    }
    rpc->calls = c;
    rpc->ncalls++;
    PLANE_CTR_INC(&rpc->stats, calls);
    PLANE_CTR_INC(&rpc->stats, tx_requests);
    if (request_id) {
        *request_id = c->request_id;
    }
    /* Re-arm only when this call is due before the timer would fire. */
    uint64_t due = uv_timer_get_due_in(&rpc->timer);
    if (!uv_is_active((uv_handle_t *) &rpc->timer)
        || due * PLANE_NS_PER_MS > c->deadline_ns - plane_clock_now_ns() + PLANE_NS_PER_MS) {
        rpc_arm(rpc);
    }
    return 0;
}

static void
rpc_timer_cb(uv_timer_t *t)
{
    struct plane_rpc *rpc = t->data;
    struct rpc_call *expired = NULL;
    uint64_t now = plane_clock_now_ns();

    for (struct rpc_call *c = rpc->calls, *next; c; c = next) {
        next = c->next;
        if (c->deadline_ns > now) {
            continue;
        }
        if (c->tries_left == 0) {
            call_unlink(rpc, c);
            c->next = expired;
            expired = c;
            continue;
        }
        c->tries_left--;
        c->backoff_ns *= 2;
        if (c->backoff_ns > c->max_backoff_ns) {
            c->backoff_ns = c->max_backoff_ns;
        }
        c->deadline_ns = now + rpc_jittered(rpc, c->backoff_ns);
        PLANE_CTR_INC(&rpc->stats, retransmits);
        rpc_send(rpc, peer_addr(rpc, c->peer), PLANE_CTL_REQUEST, c->request_id,
                 c->msg_type, 0, c->body, c->body_len);
    }
    /* Callbacks run after the walk: they may start calls or close the rpc. */
    while (expired) {
        struct rpc_call *c = expired;
        expired = c->next;
        int status = rpc->closing ? PLANE_ECANCELED : PLANE_ETIMEDOUT;
        if (status == PLANE_ETIMEDOUT) {
            PLANE_CTR_INC(&rpc->stats, timed_out);
            PLANE_DBG("request %llu to %u timed out", (unsigned long long) c->request_id,
                      c->peer);
        } else {
            PLANE_CTR_INC(&rpc->stats, canceled);
        }
        c->cb(c->arg, rpc, status, NULL);
        plane_free(c);
    }
    rpc_arm(rpc);
}

/* ---- duplicate cache ---- */

static uint32_t
dup_hash(const struct plane_rpc *rpc, uint16_t sender, uint64_t inc, uint64_t rid)
{
    uint64_t h = (rid * 0x9e3779b97f4a7c15ULL) ^ (inc * 0xc2b2ae3d27d4eb4fULL) ^ sender;
    h ^= h >> 29;
    return (uint32_t) h & (rpc->dup_nbuckets - 1);
}

static struct rpc_dup *
dup_find(struct plane_rpc *rpc, uint16_t sender, uint64_t inc, uint64_t rid)
{
    for (uint32_t i = rpc->dup_buckets[dup_hash(rpc, sender, inc, rid)]; i != RPC_NONE;
         i = rpc->dups[i].hnext) {
        struct rpc_dup *d = &rpc->dups[i];
        if (d->request_id == rid && d->sender == sender && d->incarnation == inc) {
            return d;
        }
    }
    return NULL;
}

static void
dup_evict(struct plane_rpc *rpc, uint32_t idx)
{
    struct rpc_dup *d = &rpc->dups[idx];
    if (d->state == DUP_EMPTY) {
        return;
    }
    uint32_t *link = &rpc->dup_buckets[dup_hash(rpc, d->sender, d->incarnation,
                                                d->request_id)];
    while (*link != idx) {
        link = &rpc->dups[*link].hnext;
    }
    *link = d->hnext;
    plane_free(d->reply);
    d->reply = NULL;
    d->state = DUP_EMPTY;
}

/* Takes the ring's next slot for a new request, or NULL when it is still pending. */
static struct rpc_dup *
dup_insert(struct plane_rpc *rpc, const struct plane_wire_ctl *ctl,
           const struct sockaddr *from)
{
    uint32_t idx = rpc->dup_next;
    struct rpc_dup *d = &rpc->dups[idx];
    if (d->state == DUP_PENDING) {
        return NULL;
    }
    dup_evict(rpc, idx);
    rpc->dup_next = (idx + 1) % rpc->opts.dup_cache;
    d->state = DUP_PENDING;
    d->sender = ctl->sender;
    d->incarnation = ctl->incarnation;
    d->request_id = ctl->request_id;
    d->msg_type = ctl->msg_type;
    d->token = (++rpc->dup_serial << 20) | idx;
    memset(&d->from, 0, sizeof d->from);
    memcpy(&d->from, from, plane_sockaddr_len(from));
    uint32_t *b = &rpc->dup_buckets[dup_hash(rpc, d->sender, d->incarnation,
                                             d->request_id)];
    d->hnext = *b;
    *b = idx;
    return d;
}

int
plane_rpc_respond(struct plane_rpc *rpc, uint64_t token, int32_t status,
                  const uint8_t *body, size_t body_len)
{
    uint32_t idx = (uint32_t) (token & ((1u << 20) - 1));
    if (rpc->closing || idx >= rpc->opts.dup_cache || rpc->dups[idx].token != token
        || rpc->dups[idx].state != DUP_PENDING) {
        PLANE_CTR_INC(&rpc->stats, stale_replies);
        return PLANE_ENOENT;
    }
    if (body_len > PLANE_WIRE_MAX_DATAGRAM || (body_len && !body)) {
        return body_len ? PLANE_EMSGSIZE : PLANE_EINVAL;
    }
    struct rpc_dup *d = &rpc->dups[idx];
    if (body_len) {
        d->reply = plane_malloc(body_len);
        if (!d->reply) {
            return PLANE_ENOMEM;
        }
        memcpy(d->reply, body, body_len);
    }
    d->reply_len = body_len;
    d->status = status;
    d->state = DUP_DONE;
    int err = rpc_send(rpc, (const struct sockaddr *) &d->from, PLANE_CTL_RESPONSE,
                       d->request_id, d->msg_type, status, d->reply, d->reply_len);
    if (!err) {
        PLANE_CTR_INC(&rpc->stats, tx_responses);
    }
    return err;
}

/* ---- receive ---- */

static void
rpc_rx_request(struct plane_rpc *rpc, uint16_t peer, const struct sockaddr *from,
               const struct plane_wire_ctl *ctl)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct rpc_dup *d = dup_find(rpc, ctl->sender, ctl->incarnation, ctl->request_id);
    if (d) {
        if (d->state == DUP_PENDING) {
            PLANE_CTR_INC(&rpc->stats, dup_in_progress);
            return;
        }
        PLANE_CTR_INC(&rpc->stats, dup_replied);
        if (!rpc_send(rpc, from, PLANE_CTL_RESPONSE, d->request_id, d->msg_type,
                      d->status, d->reply, d->reply_len)) {
            PLANE_CTR_INC(&rpc->stats, tx_responses);
        }
        return;
    }
    d = dup_insert(rpc, ctl, from);
    if (!d) {
        PLANE_CTR_INC(&rpc->stats, cache_busy);
        PLANE_WARN_RL(&rl, "duplicate cache full of pending requests: request dropped");
        return;
    }
    const struct rpc_handler *h = ctl->msg_type < PLANE_RPC_MAX_TYPE
                                  ? &rpc->handlers[ctl->msg_type] : NULL;
    if (!h || !h->fn) {
        PLANE_CTR_INC(&rpc->stats, no_handler);
        PLANE_WARN_RL(&rl, "no handler for message type %u from %u", ctl->msg_type,
                      ctl->sender);
        plane_rpc_respond(rpc, d->token, PLANE_ENOSYS, NULL, 0);
        return;
    }
    PLANE_CTR_INC(&rpc->stats, rx_requests);
    struct plane_rpc_req req = { .token = d->token, .peer = peer, .from = from, .ctl = ctl };
    h->fn(h->arg, rpc, &req);
}

static void
rpc_rx_response(struct plane_rpc *rpc, const struct plane_wire_ctl *ctl)
{
    struct rpc_call *c = call_find(rpc, ctl->request_id);
    if (!c) {
        PLANE_CTR_INC(&rpc->stats, late_responses);
        return;
    }
    if (c->peer != ctl->sender || c->msg_type != ctl->msg_type) {
        PLANE_CTR_INC(&rpc->stats, mismatched_responses);
        return;
    }
    call_unlink(rpc, c);
    PLANE_CTR_INC(&rpc->stats, rx_responses);
    PLANE_CTR_INC(&rpc->stats, completed);
    c->cb(c->arg, rpc, ctl->status, ctl);
    plane_free(c);
}

static void
rpc_ctl_cb(void *arg, struct plane_udp *udp, uint16_t peer, const struct sockaddr *from,
           const struct plane_wire_ctl *ctl, const uint8_t *buf, size_t len)
{
    struct plane_rpc *rpc = arg;
    if (rpc->closing) {
        return;
    }
    if (ctl->kind == PLANE_CTL_REQUEST) {
        rpc_rx_request(rpc, peer, from, ctl);
    } else {
        rpc_rx_response(rpc, ctl);
    }
}

/* ---- lifecycle ---- */

struct plane_rpc *
plane_rpc_new(uv_loop_t *loop, struct plane_udp *udp, uint16_t self_id,
              uint64_t incarnation, struct plane_auth *auth,
              const struct plane_rpc_opts *opts)
{
    struct plane_rpc *rpc = plane_calloc(1, sizeof *rpc);
    if (!rpc || !udp || !auth) {
        plane_free(rpc);
        return NULL;
    }
    if (opts) {
        rpc->opts = *opts;
    }
    if (!rpc->opts.timeout_ns) {
        rpc->opts.timeout_ns = RPC_DEFAULT_TIMEOUT;
    }
    if (!rpc->opts.max_backoff_ns) {
        rpc->opts.max_backoff_ns = RPC_DEFAULT_BACKOFF;
    }
    if (!rpc->opts.retries) {
        rpc->opts.retries = RPC_DEFAULT_RETRIES;
    }
    if (!rpc->opts.dup_cache) {
        rpc->opts.dup_cache = RPC_DEFAULT_CACHE;
    }
    if (rpc->opts.dup_cache > RPC_MAX_CACHE) {
        rpc->opts.dup_cache = RPC_MAX_CACHE;
    }
    uint64_t seed = rpc->opts.jitter_seed;
    if (!seed) {
        plane_auth_random(&seed, sizeof seed);
    }
    plane_fault_init(&rpc->jitter, seed);
    rpc->dup_nbuckets = 16;
    while (rpc->dup_nbuckets < rpc->opts.dup_cache * 2) {
        rpc->dup_nbuckets <<= 1;
    }
    rpc->dups = plane_calloc(rpc->opts.dup_cache, sizeof *rpc->dups);
    rpc->dup_buckets = plane_malloc(rpc->dup_nbuckets * sizeof *rpc->dup_buckets);
    if (!rpc->dups || !rpc->dup_buckets) {
        plane_free(rpc->dups);
        plane_free(rpc->dup_buckets);
        plane_free(rpc);
        return NULL;
    }
    memset(rpc->dup_buckets, 0xff, rpc->dup_nbuckets * sizeof *rpc->dup_buckets);
    rpc->loop = loop;
    rpc->udp = udp;
    rpc->auth = auth;
    rpc->self_id = self_id;
    rpc->incarnation = incarnation;
    rpc->next_request_id = 1;
    uv_timer_init(loop, &rpc->timer);
    rpc->timer.data = rpc;
    plane_udp_set_auth(udp, auth);
    plane_udp_set_ctl_handler(udp, rpc_ctl_cb, rpc);
    return rpc;
}

static void
rpc_closed(uv_handle_t *h)
{
    struct plane_rpc *rpc = h->data;
    if (rpc->close_cb) {
        rpc->close_cb(rpc->close_arg, rpc);
    }
    for (uint32_t i = 0; i < rpc->opts.dup_cache; i++) {
        plane_free(rpc->dups[i].reply);
    }
    plane_free(rpc->dups);
    plane_free(rpc->dup_buckets);
    plane_free(rpc->peers);
    plane_free(rpc);
}

void
plane_rpc_close(struct plane_rpc *rpc, plane_rpc_close_fn cb, void *arg)
{
    if (!rpc || rpc->closing) {
        return;
    }
    rpc->closing = true;
    rpc->close_cb = cb;
    rpc->close_arg = arg;
    plane_udp_set_ctl_handler(rpc->udp, NULL, NULL);
    while (rpc->calls) {
        struct rpc_call *c = rpc->calls;
        call_unlink(rpc, c);
        PLANE_CTR_INC(&rpc->stats, canceled);
        c->cb(c->arg, rpc, PLANE_ECANCELED, NULL);
        plane_free(c);
    }
    uv_timer_stop(&rpc->timer);
    uv_close((uv_handle_t *) &rpc->timer, rpc_closed);
}

int
plane_rpc_cancel(struct plane_rpc *rpc, uint64_t request_id)
{
    struct rpc_call *c = rpc ? call_find(rpc, request_id) : NULL;
    if (!c) {
        return PLANE_ENOENT;
    }
    call_unlink(rpc, c);
    PLANE_CTR_INC(&rpc->stats, canceled);
    c->cb(c->arg, rpc, PLANE_ECANCELED, NULL);
    plane_free(c);
    rpc_arm(rpc);
    return 0;
}

int
plane_rpc_peer_add(struct plane_rpc *rpc, uint16_t id, const struct sockaddr *addr)
{
    socklen_t len = plane_sockaddr_len(addr);
    if (!len) {
        return PLANE_EINVAL;
    }
    struct rpc_peer *p = NULL;
    for (size_t i = 0; i < rpc->npeers; i++) {
        if (rpc->peers[i].id == id) {
            p = &rpc->peers[i];
            plane_udp_peer_remove(rpc->udp, (const struct sockaddr *) &p->addr);
        }
    }
    if (!p) {
        struct rpc_peer *np = plane_realloc(rpc->peers, (rpc->npeers + 1) * sizeof *np);
        if (!np) {
            return PLANE_ENOMEM;
        }
        rpc->peers = np;
        p = &rpc->peers[rpc->npeers++];
    }
    memset(p, 0, sizeof *p);
    p->id = id;
    memcpy(&p->addr, addr, len);
    return plane_udp_peer_add(rpc->udp, addr, id);
}

int
plane_rpc_set_handler(struct plane_rpc *rpc, uint16_t msg_type,
                      plane_rpc_handler_fn fn, void *arg)
{
    if (msg_type >= PLANE_RPC_MAX_TYPE) {
        return PLANE_EINVAL;
    }
    rpc->handlers[msg_type].fn = fn;
    rpc->handlers[msg_type].arg = arg;
    return 0;
}

size_t
plane_rpc_inflight(const struct plane_rpc *rpc)
{
    return rpc->ncalls;
}

const struct plane_rpc_stats *
plane_rpc_stats(const struct plane_rpc *rpc)
{
    return &rpc->stats;
}
