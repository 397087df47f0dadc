/* Request/response RPC over a plane_udp endpoint: retransmission, duplicate cache, async replies. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/counters.h"

typedef struct uv_loop_s uv_loop_t;
struct plane_auth;
struct plane_rpc;
struct plane_udp;
struct plane_wire_ctl;

#define PLANE_RPC_COUNTERS(X)                                                  \
    X(calls)              /* plane_rpc_call() accepted */                      \
    X(completed)          /* calls answered */                                 \
    X(timed_out)                                                               \
    X(canceled)                                                                \
    X(tx_requests)        /* request datagrams, first sends */                 \
    X(retransmits)                                                             \
    X(tx_responses)       /* response datagrams, cached resends included */    \
    X(tx_errors)          /* plane_udp_send() refused a datagram */            \
    X(rx_requests)        /* new requests handed to a handler */               \
    X(rx_responses)       /* responses matched to a call */                    \
    X(late_responses)     /* responses for no call in flight (late or dup) */  \
    X(mismatched_responses) /* response from the wrong peer or of the wrong type */ \
    X(dup_replied)        /* retransmitted request answered from the cache */  \
    X(dup_in_progress)    /* retransmitted request still being handled: dropped */ \
    X(no_handler)         /* request of a type without handler: ENOSYS reply */ \
    X(cache_busy)         /* cache slot to recycle still pending: request dropped */ \
    X(stale_replies)      /* plane_rpc_respond() for an evicted or closed token */

struct plane_rpc_stats { PLANE_RPC_COUNTERS(PLANE_COUNTERS_FIELD_) };

/* Options of plane_rpc_new(); zeroed fields take the defaults. */
struct plane_rpc_opts {
    uint64_t timeout_ns;      /* first retransmission timeout (default 20 ms) */
    uint64_t max_backoff_ns;  /* backoff cap (default 1 s) */
    uint32_t retries;         /* retransmissions before ETIMEDOUT (default 5) */
    uint32_t dup_cache;       /* duplicate cache entries (default 4096, max 1 << 20) */
    uint64_t jitter_seed;     /* PRNG seed of the jitter (0: random) */
};

/* Per-call overrides of the timing options; NULL or zero fields: the rpc's. */
struct plane_rpc_call_opts {
    uint64_t timeout_ns;
    uint64_t max_backoff_ns;
    uint32_t retries;
};

/*
 * The end of a call.  status is 0 or the handler's status when the peer
 * answered (then resp is the response envelope, body valid during the call
 * only), or a local error with resp NULL: PLANE_ETIMEDOUT after the last
 * retransmission, PLANE_ECANCELED when the rpc closes.
 */
typedef void (*plane_rpc_cb)(void *arg, struct plane_rpc *rpc, int status,
                             const struct plane_wire_ctl *resp);

/* A request handed to a handler; valid during the handler call only. */
struct plane_rpc_req {
    uint64_t token;                     /* for plane_rpc_respond() */
    uint16_t peer;                      /* sender's device id */
    const struct sockaddr *from;
    const struct plane_wire_ctl *ctl;   /* envelope; ctl->body is the body */
};

/*
 * Handles one new request (never a retransmission of one already handled
 * or in progress).  It answers with plane_rpc_respond(rpc, req->token, ...),
 * either before returning or later (async: e.g. after a replica acked); the
 * token stays valid until answered or the rpc closes.
 */
typedef void (*plane_rpc_handler_fn)(void *arg, struct plane_rpc *rpc,
                                     const struct plane_rpc_req *req);
typedef void (*plane_rpc_close_fn)(void *arg, struct plane_rpc *rpc);

/* Message types with handlers are below this. */
#define PLANE_RPC_MAX_TYPE 256

/*
 * Creates an RPC endpoint for device self_id with this incarnation
 * (plane_auth_new_incarnation()) on udp, and installs itself as udp's
 * control handler and auth as udp's key (neither is owned; both must
 * outlive the rpc).  One rpc per device id: it owns the sender's seq space.
 * opts may be NULL.  Returns NULL on PLANE_ENOMEM.
 */
struct plane_rpc *plane_rpc_new(uv_loop_t *loop, struct plane_udp *udp, uint16_t self_id,
                                uint64_t incarnation, struct plane_auth *auth,
                                const struct plane_rpc_opts *opts);

/*
 * Cancels every call in flight (their callbacks run with PLANE_ECANCELED
 * before this returns), forgets pending async requests, detaches from udp
 * and frees rpc from its timer's close callback, calling cb(arg, rpc) first.
 * No-op on NULL or when already closing.
 */
void plane_rpc_close(struct plane_rpc *rpc, plane_rpc_close_fn cb, void *arg);

/*
 * Registers peer id at addr, in the rpc and in udp's peer table.  Returns 0,
 * PLANE_EINVAL or PLANE_ENOMEM.  Re-adding an id moves it.
 */
int plane_rpc_peer_add(struct plane_rpc *rpc, uint16_t id, const struct sockaddr *addr);

/* Sets the handler of msg_type (NULL removes it).  Returns 0 or PLANE_EINVAL. */
int plane_rpc_set_handler(struct plane_rpc *rpc, uint16_t msg_type,
                          plane_rpc_handler_fn fn, void *arg);

/*
 * Sends a request of msg_type with body (body_len msgpack bytes, copied) to
 * peer and calls cb exactly once with the outcome.  Retransmits after
 * timeout, doubling up to max_backoff, plus up to 25% random jitter; every
 * datagram gets a fresh seq, the request id stays.  Writes the request id
 * to *request_id when not NULL.  Returns 0, PLANE_EPEER (unknown peer),
 * PLANE_EMSGSIZE, PLANE_ENOMEM or PLANE_ESTATE (closing); cb is not called
 * on error.
 */
int plane_rpc_call(struct plane_rpc *rpc, uint16_t peer, uint16_t msg_type,
                   const uint8_t *body, size_t body_len,
                   const struct plane_rpc_call_opts *opts,
                   plane_rpc_cb cb, void *arg, uint64_t *request_id);

/*
 * Gives up the call request_id now: its cb runs (before this returns) with
 * PLANE_ECANCELED, and a late response is ignored.  Returns 0 or
 * PLANE_ENOENT (unknown or finished call).
 */
int plane_rpc_cancel(struct plane_rpc *rpc, uint64_t request_id);

/*
 * Answers the request of token with status and body (copied; kept in the
 * duplicate cache to answer retransmissions).  Returns 0, PLANE_ENOENT when
 * the token is unknown, already answered or evicted, PLANE_EMSGSIZE.
 */
int plane_rpc_respond(struct plane_rpc *rpc, uint64_t token, int32_t status,
                      const uint8_t *body, size_t body_len);

/* Number of calls in flight. */
size_t plane_rpc_inflight(const struct plane_rpc *rpc);
const struct plane_rpc_stats *plane_rpc_stats(const struct plane_rpc *rpc);
/* Returns the name of counter i of struct plane_rpc_stats, or NULL past the end. */
const char *plane_rpc_counter_name(size_t i);
