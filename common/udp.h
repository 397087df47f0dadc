/* UDP endpoint on a libuv loop: recvmmsg batches, sendmmsg batches, peer table, validation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/counters.h"

typedef struct uv_loop_s uv_loop_t;
struct plane_auth;
struct plane_fault;
struct plane_udp;
struct plane_wire_ctl;

/* Every reason a datagram is counted; each rejection is also logged rate-limited. */
#define PLANE_UDP_COUNTERS(X)                                                  \
    X(rx_datagrams)       /* datagrams read from the socket */                 \
    X(rx_bytes)                                                                \
    X(rx_batches)         /* recvmmsg calls that returned datagrams */         \
    X(rx_data)            /* DATA datagrams handed to the data handler */      \
    X(rx_ctl)             /* CONTROL datagrams handed to the ctl handler */    \
    X(rx_malformed)       /* header does not decode */                         \
    X(rx_bad_version)                                                          \
    X(rx_bad_mac)                                                              \
    X(rx_replay)          /* seq seen, too old, or an old incarnation */       \
    X(rx_unknown_peer)    /* source address not in the peer table */           \
    X(rx_sender_mismatch) /* envelope sender is not the peer's device id */    \
    X(rx_too_large)       /* longer than PLANE_WIRE_MAX_DATAGRAM */            \
    X(rx_truncated)       /* cut by the kernel (UV_UDP_PARTIAL) */             \
    X(rx_no_handler)      /* no handler set for its class */                   \
    X(rx_no_auth)         /* CONTROL received but no key configured */         \
    X(rx_errors)          /* socket errors on receive */                       \
    X(tx_datagrams)       /* datagrams the kernel accepted */                  \
    X(tx_bytes)                                                                \
    X(tx_batches)         /* sendmmsg calls that sent something */             \
    X(tx_eagain)          /* socket full: rest of a batch went to the slow path */ \
    X(tx_slow_path)       /* datagrams sent through uv_udp_send */             \
    X(tx_no_buffer)       /* tx pool empty: datagram dropped */                \
    X(tx_too_large)                                                            \
    X(tx_errors)          /* kernel refused a datagram */                      \
    X(tx_fault_dropped)   /* dropped by the fault hook */                      \
    X(tx_closing)         /* send attempted on a closing endpoint */

struct plane_udp_stats { PLANE_UDP_COUNTERS(PLANE_COUNTERS_FIELD_) };

/* Returns the name of counter i of struct plane_udp_stats, or NULL past the end. */
const char *plane_udp_counter_name(size_t i);

/* Options of plane_udp_new(); zeroed fields take the defaults. */
struct plane_udp_opts {
    uint32_t tx_pool;         /* tx buffers (default 1024) */
    uint32_t tx_batch;        /* datagrams per sendmmsg (default 64, max 256) */
    int sock_buf;             /* SO_RCVBUF/SO_SNDBUF bytes (default 8 MiB) */
    bool accept_any;          /* accept datagrams from addresses not in the peer table */
    bool ipv6_only;           /* with an IPv6 bind address: no IPv4-mapped traffic */
    /*
     * Raw mode (a switch port's ingress): every datagram goes to the data
     * handler as it is, with no header check and no CONTROL handling,
     * because what arrives there is a bare Ethernet frame.
     */
    bool raw;
};

/*
 * A DATA datagram from peer (PLANE_DEV_NONE for an unknown source in
 * accept_any mode).  buf is valid only during the call.
 */
typedef void (*plane_udp_data_fn)(void *arg, struct plane_udp *udp, uint16_t peer,
                                  const struct sockaddr *from,
                                  const uint8_t *buf, size_t len);
/*
 * A CONTROL datagram that passed the MAC, decode and replay checks (and, from
 * a known address, whose envelope sender is that address's device id).  peer
 * is the device id; from an unknown address in accept_any mode it is the
 * authenticated envelope sender.  ctl's body points into buf, valid only
 * during the call.
 */
typedef void (*plane_udp_ctl_fn)(void *arg, struct plane_udp *udp, uint16_t peer,
                                 const struct sockaddr *from,
                                 const struct plane_wire_ctl *ctl,
                                 const uint8_t *buf, size_t len);
/* Called once from the last close callback, just before the endpoint is freed. */
typedef void (*plane_udp_close_fn)(void *arg, struct plane_udp *udp);

/*
 * Creates an unbound endpoint on loop (opts may be NULL).  Preallocates the
 * tx pool and the rx batch buffer; nothing is allocated per datagram.
 * Returns NULL on PLANE_ENOMEM or a libuv failure.
 */
struct plane_udp *plane_udp_new(uv_loop_t *loop, const struct plane_udp_opts *opts);

/*
 * Binds to addr (IPv4 or IPv6; port 0 picks one, see plane_udp_local_addr),
 * sizes the socket buffers and starts receiving.  Returns 0 or a negative
 * libuv/PLANE code (PLANE_EADDRINUSE, PLANE_ESTATE when already bound).
 */
int plane_udp_bind(struct plane_udp *udp, const struct sockaddr *addr);

/* Writes the bound address into *out.  Returns 0 or a negative code. */
int plane_udp_local_addr(struct plane_udp *udp, struct sockaddr_storage *out);

/*
 * Starts closing: drops anything still queued or delayed (after one last
 * flush attempt), closes the handles and frees udp from the last close
 * callback, calling cb(arg, udp) first (cb may be NULL).  No handler is
 * called after this returns.  No-op on NULL or on an endpoint already closing.
 */
void plane_udp_close(struct plane_udp *udp, plane_udp_close_fn cb, void *arg);

/* Sets the handlers (NULL: datagrams of that class are counted and dropped). */
void plane_udp_set_data_handler(struct plane_udp *udp, plane_udp_data_fn fn, void *arg);
void plane_udp_set_ctl_handler(struct plane_udp *udp, plane_udp_ctl_fn fn, void *arg);
/* Sets the key and replay state for CONTROL datagrams; not owned, must outlive udp. */
void plane_udp_set_auth(struct plane_udp *udp, struct plane_auth *auth);
/* Sets the fault model applied on send (NULL: none); not owned, must outlive udp. */
void plane_udp_set_fault(struct plane_udp *udp, struct plane_fault *fault);
void plane_udp_set_accept_any(struct plane_udp *udp, bool on);

/*
 * Adds addr -> device id to the peer table (replacing an existing mapping of
 * addr).  IPv4-mapped IPv6 addresses match their IPv4 form.  Returns 0,
 * PLANE_EINVAL or PLANE_ENOMEM.
 */
int plane_udp_peer_add(struct plane_udp *udp, const struct sockaddr *addr, uint16_t id);
/* Removes addr.  Returns 0 or PLANE_ENOENT. */
int plane_udp_peer_remove(struct plane_udp *udp, const struct sockaddr *addr);
/* Looks addr up.  Returns true and sets *id when known. */
bool plane_udp_peer_lookup(const struct plane_udp *udp, const struct sockaddr *addr,
                           uint16_t *id);

/*
 * Queues a copy of buf (len bytes) for to, through the fault hook.  The
 * batch goes out with one sendmmsg when it is full and at the end of each
 * loop iteration (uv_prepare + uv_check); when the socket is full the rest
 * goes through libuv's queue, which waits for writability.  Returns 0
 * (queued, or dropped by the fault hook), PLANE_EMSGSIZE, PLANE_EAGAIN (tx
 * pool empty: dropped and counted), PLANE_ESTATE (closing or unbound).
 */
int plane_udp_send(struct plane_udp *udp, const struct sockaddr *to,
                   const uint8_t *buf, size_t len);
/* Sends the queued batch now.  Returns the number of datagrams handed to the kernel. */
int plane_udp_flush(struct plane_udp *udp);

const struct plane_udp_stats *plane_udp_stats(const struct plane_udp *udp);
/* The endpoint's loop. */
uv_loop_t *plane_udp_loop(const struct plane_udp *udp);

/* Returns the length of a sockaddr of its family (0 for an unknown family). */
socklen_t plane_sockaddr_len(const struct sockaddr *sa);
/* Formats "1.2.3.4:5" or "[::1]:5" into buf.  Returns buf. */
const char *plane_sockaddr_str(const struct sockaddr *sa, char *buf, size_t size);
