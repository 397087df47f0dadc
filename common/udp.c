/* UDP endpoint on a libuv loop: recvmmsg batches in, sendmmsg batches out, validation. */
#include "common/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/wire.h"
#include "plane/error.h"

PLANE_LOG_MODULE(udp);

/*
 * libuv's recvmmsg contract (1.40+, src/unix/udp.c): with UV_UDP_RECVMMSG the
 * alloc_cb buffer is cut into chunks of 64 KiB (UV__UDP_DGRAM_MAXSIZE), at
 * most 20 (UV__MMSG_MAXWIDTH); recv_cb then runs once per datagram with
 * UV_UDP_MMSG_CHUNK, and once more with UV_UDP_MMSG_FREE and nread 0 so the
 * batch buffer can be released.  Everything happens inside one uv__udp_io
 * call, so one buffer per endpoint, reused for every batch, is enough.
 */
#define UDP_CHUNK (64u * 1024u)
#define UDP_CHUNKS 20u
#define UDP_RX_BUF (UDP_CHUNK * UDP_CHUNKS)

#define UDP_DEFAULT_POOL 1024u
#define UDP_DEFAULT_BATCH 64u
#define UDP_MAX_BATCH 256u
#define UDP_DEFAULT_SOCKBUF (8 * 1024 * 1024)
#define UDP_NONE UINT32_MAX

static const char *const udp_counter_names[] = { PLANE_COUNTERS_NAMES(PLANE_UDP_COUNTERS) };

/* Per tx buffer bookkeeping, indexed like the pool's buffers. */
struct udp_tx {
    uint32_t len;
    uint32_t next;                  /* delayed list link */
    uint64_t due_ns;
    struct sockaddr_storage to;
    socklen_t tolen;
    uv_udp_send_t req;              /* slow path only */
    struct plane_udp *udp;
};

struct udp_peer {
    struct sockaddr_in6 key;        /* IPv4 stored as v4-mapped; scope/flow zeroed */
    uint16_t id;
    bool used;
};

struct plane_udp {
    uv_loop_t *loop;
    uv_udp_t handle;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_timer_t delay_timer;
    int fd;
    bool bound;
    bool closing;
    int open_handles;
    plane_udp_close_fn close_cb;
    void *close_arg;

    struct plane_udp_opts opts;
    plane_udp_data_fn data_fn;
    void *data_arg;
    plane_udp_ctl_fn ctl_fn;
    void *ctl_arg;
    struct plane_auth *auth;
    struct plane_fault *fault;

    uint8_t *rxbuf;

    struct plane_pool txpool;
    struct udp_tx *tx;              /* txpool.count entries */
    uint32_t *batch;                /* indices queued for the next sendmmsg */
    uint32_t nbatch;
    struct mmsghdr *msgs;
    struct iovec *iovs;
    uint32_t slow_inflight;         /* datagrams in libuv's send queue */
    uint32_t delayed_head;          /* sorted by due_ns */
    uint32_t held;                  /* reorder: waits for the next datagram */

    struct udp_peer *peers;
    uint32_t peers_cap;             /* power of two */
    uint32_t npeers;

    struct plane_udp_stats stats;
};

/* ---- addresses ---- */

socklen_t
plane_sockaddr_len(const struct sockaddr *sa)
{
    if (!sa) {
        return 0;
    }
    switch (sa->sa_family) {
    case AF_INET: return sizeof(struct sockaddr_in);
    case AF_INET6: return sizeof(struct sockaddr_in6);
    default: return 0;
    }
}

const char *
plane_sockaddr_str(const struct sockaddr *sa, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *) sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *) sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}

const char *
plane_udp_counter_name(size_t i)
{
    return i < sizeof udp_counter_names / sizeof udp_counter_names[0]
           ? udp_counter_names[i] : NULL;
}

/* ---- peer table: open addressing on a normalized address ---- */

static bool
peer_key(const struct sockaddr *sa, struct sockaddr_in6 *key)
{
    memset(key, 0, sizeof *key);
    key->sin6_family = AF_INET6;
    if (!sa) {
        return false;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *) sa;
        key->sin6_port = in->sin_port;
        key->sin6_addr.s6_addr[10] = 0xff;
        key->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&key->sin6_addr.s6_addr[12], &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *) sa;
        key->sin6_port = in6->sin6_port;
        key->sin6_addr = in6->sin6_addr;
        return true;
    }
    return false;
}

static uint32_t
peer_hash(const struct sockaddr_in6 *key)
{
    /* FNV-1a over address and port: cheap and good enough for a rack. */
    const uint8_t *p = key->sin6_addr.s6_addr;
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    h = (h ^ (key->sin6_port & 0xff)) * 16777619u;
    h = (h ^ (key->sin6_port >> 8)) * 16777619u;
    return h;
}

static bool
peer_key_eq(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b)
{
    return a->sin6_port == b->sin6_port
           && !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr);
}

static struct udp_peer *
peer_slot(struct udp_peer *tab, uint32_t cap, const struct sockaddr_in6 *key)
{
    uint32_t mask = cap - 1;
    for (uint32_t i = peer_hash(key) & mask;; i = (i + 1) & mask) {
        if (!tab[i].used || peer_key_eq(&tab[i].key, key)) {
            return &tab[i];
        }
    }
}

static int
peer_resize(struct plane_udp *udp, uint32_t cap)
{
    struct udp_peer *tab = plane_calloc(cap, sizeof *tab);
    if (!tab) {
        return PLANE_ENOMEM;
    }
    for (uint32_t i = 0; i < udp->peers_cap; i++) {
        if (udp->peers[i].used) {
            *peer_slot(tab, cap, &udp->peers[i].key) = udp->peers[i];
        }
    }
    plane_free(udp->peers);
    udp->peers = tab;
    udp->peers_cap = cap;
    return 0;
}

int
plane_udp_peer_add(struct plane_udp *udp, const struct sockaddr *addr, uint16_t id)
{
    struct sockaddr_in6 key;
    if (!peer_key(addr, &key)) {
        return PLANE_EINVAL;
    }
    if ((udp->npeers + 1) * 2 > udp->peers_cap) {
        int err = peer_resize(udp, udp->peers_cap ? udp->peers_cap * 2 : 16);
        if (err) {
            return err;
        }
    }
    struct udp_peer *p = peer_slot(udp->peers, udp->peers_cap, &key);
    if (!p->used) {
        udp->npeers++;
    }
    p->used = true;
    p->key = key;
    p->id = id;
    return 0;
}

int
plane_udp_peer_remove(struct plane_udp *udp, const struct sockaddr *addr)
{
    struct sockaddr_in6 key;
    if (!udp->peers_cap || !peer_key(addr, &key)) {
        return PLANE_ENOENT;
    }
    struct udp_peer *p = peer_slot(udp->peers, udp->peers_cap, &key);
    if (!p->used) {
        return PLANE_ENOENT;
    }
    p->used = false;
    udp->npeers--;
    /* Rehash so probe chains that ran through the freed slot stay intact. */
    return peer_resize(udp, udp->peers_cap);
}

bool
plane_udp_peer_lookup(const struct plane_udp *udp, const struct sockaddr *addr,
                      uint16_t *id)
{
    struct sockaddr_in6 key;
    if (!udp->npeers || !peer_key(addr, &key)) {
        return false;
    }
    const struct udp_peer *p = peer_slot(udp->peers, udp->peers_cap, &key);
    if (!p->used) {
        return false;
    }
    *id = p->id;
    return true;
}

/* ---- receive ---- */

static void
udp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct plane_udp *udp = h->data;
    buf->base = (char *) udp->rxbuf;
    buf->len = UDP_RX_BUF;
}

static void
udp_rx_ctl(struct plane_udp *udp, uint16_t peer, bool known,
           const struct sockaddr *from, const uint8_t *buf, size_t len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    char a[64];

    if (!udp->auth) {
        PLANE_CTR_INC(&udp->stats, rx_no_auth);
        PLANE_WARN_RL(&rl, "control datagram from %s but no key",
                      plane_sockaddr_str(from, a, sizeof a));
        return;
    }
    /* MAC first: nothing of an unauthenticated datagram is decoded. */
    if (plane_auth_verify(udp->auth, buf, len)) {
        PLANE_CTR_INC(&udp->stats, rx_bad_mac);
        PLANE_WARN_RL(&rl, "bad MAC from %s", plane_sockaddr_str(from, a, sizeof a));
        return;
    }
    struct plane_wire_ctl ctl;
    int err = plane_wire_ctl_decode(buf, len - PLANE_WIRE_MAC_LEN, &ctl);
    if (err) {
        if (err == PLANE_EVERSION) {
            PLANE_CTR_INC(&udp->stats, rx_bad_version);
        } else {
            PLANE_CTR_INC(&udp->stats, rx_malformed);
        }
        PLANE_WARN_RL(&rl, "bad control envelope from %s: %s",
                      plane_sockaddr_str(from, a, sizeof a), plane_err_name(err));
        return;
    }
    if (known && ctl.sender != peer) {
        PLANE_CTR_INC(&udp->stats, rx_sender_mismatch);
        PLANE_WARN_RL(&rl, "sender %u from %s, which is device %u", ctl.sender,
                      plane_sockaddr_str(from, a, sizeof a), peer);
        return;
    }
    err = plane_auth_check_replay(udp->auth, ctl.sender, ctl.incarnation, ctl.seq);
    if (err) {
        PLANE_CTR_INC(&udp->stats, rx_replay);
        PLANE_WARN_RL(&rl, "replay from %s (sender %u seq %llu): %s",
                      plane_sockaddr_str(from, a, sizeof a), ctl.sender,
                      (unsigned long long) ctl.seq, plane_err_name(err));
        return;
    }
    if (!udp->ctl_fn) {
        PLANE_CTR_INC(&udp->stats, rx_no_handler);
        return;
    }
    PLANE_CTR_INC(&udp->stats, rx_ctl);
    udp->ctl_fn(udp->ctl_arg, udp, known ? peer : ctl.sender, from, &ctl, buf, len);
}

static void
udp_rx_one(struct plane_udp *udp, const uint8_t *buf, size_t len,
           const struct sockaddr *from, unsigned flags)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    char a[64];

    PLANE_CTR_INC(&udp->stats, rx_datagrams);
    PLANE_CTR_ADD(&udp->stats, rx_bytes, len);
    if (flags & UV_UDP_PARTIAL) {
        PLANE_CTR_INC(&udp->stats, rx_truncated);
        PLANE_WARN_RL(&rl, "truncated datagram from %s",
                      plane_sockaddr_str(from, a, sizeof a));
        return;
    }
    if (len > PLANE_WIRE_MAX_DATAGRAM) {
        PLANE_CTR_INC(&udp->stats, rx_too_large);
        PLANE_WARN_RL(&rl, "%zu-byte datagram from %s is too large", len,
                      plane_sockaddr_str(from, a, sizeof a));
        return;
    }
    uint16_t peer = PLANE_DEV_NONE;
    bool known = plane_udp_peer_lookup(udp, from, &peer);
    if (!known && !udp->opts.accept_any) {
        PLANE_CTR_INC(&udp->stats, rx_unknown_peer);
        PLANE_WARN_RL(&rl, "datagram from unknown peer %s",
                      plane_sockaddr_str(from, a, sizeof a));
        return;
    }
    if (udp->opts.raw) {
        if (!udp->data_fn) {
            PLANE_CTR_INC(&udp->stats, rx_no_handler);
            return;
        }
        PLANE_CTR_INC(&udp->stats, rx_data);
        udp->data_fn(udp->data_arg, udp, peer, from, buf, len);
        return;
    }
    enum plane_wire_class cls;
    int err = plane_wire_peek(buf, len, &cls);
    if (err) {
        if (err == PLANE_EVERSION) {
            PLANE_CTR_INC(&udp->stats, rx_bad_version);
        } else {
            PLANE_CTR_INC(&udp->stats, rx_malformed);
        }
        PLANE_WARN_RL(&rl, "bad header from %s: %s",
                      plane_sockaddr_str(from, a, sizeof a), plane_err_name(err));
        return;
    }
    if (cls == PLANE_WIRE_CONTROL) {
        udp_rx_ctl(udp, peer, known, from, buf, len);
    } else if (cls == PLANE_WIRE_DATA) {
        if (!udp->data_fn) {
            PLANE_CTR_INC(&udp->stats, rx_no_handler);
            return;
        }
        PLANE_CTR_INC(&udp->stats, rx_data);
        udp->data_fn(udp->data_arg, udp, peer, from, buf, len);
    } else {
        PLANE_CTR_INC(&udp->stats, rx_malformed);
    }
}

static void
udp_recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
            const struct sockaddr *addr, unsigned flags)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_udp *udp = h->data;

    if (flags & UV_UDP_MMSG_FREE) {
        /* End of one recvmmsg batch; the buffer is ours and reused. */
        PLANE_CTR_INC(&udp->stats, rx_batches);
        return;
    }
    if (nread < 0) {
        PLANE_CTR_INC(&udp->stats, rx_errors);
        PLANE_WARN_RL(&rl, "receive error: %s", uv_strerror((int) nread));
        return;
    }
    if (!addr) {
        return;                     /* nothing (more) to read */
    }
    if (udp->closing) {
        return;
    }
    if (!(flags & UV_UDP_MMSG_CHUNK)) {
        PLANE_CTR_INC(&udp->stats, rx_batches);   /* recvmsg fallback: batch of 1 */
    }
    udp_rx_one(udp, (const uint8_t *) buf->base, (size_t) nread, addr, flags);
}

/* ---- transmit ---- */

static void
tx_release(struct plane_udp *udp, uint32_t idx)
{
    plane_pool_put(&udp->txpool, plane_pool_at(&udp->txpool, idx));
}

static void
udp_slow_send_cb(uv_udp_send_t *req, int status)
{
    struct udp_tx *tx = req->data;
    struct plane_udp *udp = tx->udp;
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);

    udp->slow_inflight--;
    if (status == 0) {
        PLANE_CTR_INC(&udp->stats, tx_datagrams);
        PLANE_CTR_ADD(&udp->stats, tx_bytes, tx->len);
    } else if (status != UV_ECANCELED) {
        PLANE_CTR_INC(&udp->stats, tx_errors);
        PLANE_WARN_RL(&rl, "send failed: %s", uv_strerror(status));
    }
    tx_release(udp, (uint32_t) (tx - udp->tx));
}

/* Hands one datagram to libuv's queue, which waits for writability. */
static void
tx_slow(struct plane_udp *udp, uint32_t idx)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct udp_tx *tx = &udp->tx[idx];
    uv_buf_t b = uv_buf_init(plane_pool_at(&udp->txpool, idx), tx->len);

    tx->req.data = tx;
    int err = uv_udp_send(&tx->req, &udp->handle, &b, 1,
                          (const struct sockaddr *) &tx->to, udp_slow_send_cb);
    if (err) {
        PLANE_CTR_INC(&udp->stats, tx_errors);
        PLANE_WARN_RL(&rl, "uv_udp_send failed: %s", uv_strerror(err));
        tx_release(udp, idx);
        return;
    }
    udp->slow_inflight++;
    PLANE_CTR_INC(&udp->stats, tx_slow_path);
}

int
plane_udp_flush(struct plane_udp *udp)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    uint32_t n = udp->nbatch, i = 0;
    int sent = 0;

    if (n == 0) {
        return 0;
    }
    for (uint32_t k = 0; k < n; k++) {
        struct udp_tx *tx = &udp->tx[udp->batch[k]];
        udp->iovs[k].iov_base = plane_pool_at(&udp->txpool, udp->batch[k]);
        udp->iovs[k].iov_len = tx->len;
        memset(&udp->msgs[k], 0, sizeof udp->msgs[k]);
        udp->msgs[k].msg_hdr.msg_name = &tx->to;
        udp->msgs[k].msg_hdr.msg_namelen = tx->tolen;
        udp->msgs[k].msg_hdr.msg_iov = &udp->iovs[k];
        udp->msgs[k].msg_hdr.msg_iovlen = 1;
    }
    while (i < n) {
        int r = sendmmsg(udp->fd, &udp->msgs[i], n - i, MSG_DONTWAIT);
        if (r > 0) {
            PLANE_CTR_INC(&udp->stats, tx_batches);
            for (int k = 0; k < r; k++) {
                PLANE_CTR_INC(&udp->stats, tx_datagrams);
                PLANE_CTR_ADD(&udp->stats, tx_bytes, udp->tx[udp->batch[i]].len);
                tx_release(udp, udp->batch[i++]);
            }
            sent += r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            /* The socket is full: libuv's queue retries when it is writable. */
            PLANE_CTR_INC(&udp->stats, tx_eagain);
            while (i < n) {
                tx_slow(udp, udp->batch[i++]);
            }
        } else {
            /* sendmmsg reports the error of the first datagram only: drop it. */
            char a[64];
            PLANE_CTR_INC(&udp->stats, tx_errors);
            PLANE_WARN_RL(&rl, "sendmmsg to %s: %s",
                          plane_sockaddr_str((const void *) &udp->tx[udp->batch[i]].to,
                                             a, sizeof a),
                          r < 0 ? strerror(errno) : "sent nothing");
            tx_release(udp, udp->batch[i++]);
        }
    }
    udp->nbatch = 0;
    return sent;
}

/* Queues idx for the next sendmmsg, keeping order behind libuv's queue. */
static void
tx_enqueue(struct plane_udp *udp, uint32_t idx)
{
    if (udp->slow_inflight > 0) {
        /* Older datagrams wait in libuv's queue: do not overtake them. */
        plane_udp_flush(udp);
        tx_slow(udp, idx);
        return;
    }
    udp->batch[udp->nbatch++] = idx;
    if (udp->nbatch == udp->opts.tx_batch) {
        plane_udp_flush(udp);
    }
}

static void udp_delay_cb(uv_timer_t *t);

static void
delay_arm(struct plane_udp *udp)
{
    if (udp->delayed_head == UDP_NONE || udp->closing) {
        uv_timer_stop(&udp->delay_timer);
        return;
    }
    uint64_t now = plane_clock_now_ns();
    uint64_t due = udp->tx[udp->delayed_head].due_ns;
    uint64_t ms = due > now ? (due - now + PLANE_NS_PER_MS - 1) / PLANE_NS_PER_MS : 0;
    uv_timer_start(&udp->delay_timer, udp_delay_cb, ms, 0);
}

static void
delay_insert(struct plane_udp *udp, uint32_t idx, uint64_t delay_ns)
{
    struct udp_tx *tx = &udp->tx[idx];
    tx->due_ns = plane_clock_now_ns() + delay_ns;
    uint32_t *link = &udp->delayed_head;
    while (*link != UDP_NONE && udp->tx[*link].due_ns <= tx->due_ns) {
        link = &udp->tx[*link].next;
    }
    tx->next = *link;
    *link = idx;
    delay_arm(udp);
}

static void
udp_delay_cb(uv_timer_t *t)
{
    struct plane_udp *udp = t->data;
    uint64_t now = plane_clock_now_ns();
    while (udp->delayed_head != UDP_NONE && udp->tx[udp->delayed_head].due_ns <= now) {
        uint32_t idx = udp->delayed_head;
        udp->delayed_head = udp->tx[idx].next;
        tx_enqueue(udp, idx);
    }
    plane_udp_flush(udp);
    delay_arm(udp);
}

static void
release_held(struct plane_udp *udp)
{
    if (udp->held != UDP_NONE) {
        uint32_t idx = udp->held;
        udp->held = UDP_NONE;
        tx_enqueue(udp, idx);
    }
}

int
plane_udp_send(struct plane_udp *udp, const struct sockaddr *to,
               const uint8_t *buf, size_t len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    socklen_t tolen = plane_sockaddr_len(to);

    if (udp->closing || !udp->bound) {
        PLANE_CTR_INC(&udp->stats, tx_closing);
        return PLANE_ESTATE;
    }
    if (tolen == 0) {
        return PLANE_EINVAL;
    }
    if (len > PLANE_WIRE_MAX_DATAGRAM) {
        PLANE_CTR_INC(&udp->stats, tx_too_large);
        return PLANE_EMSGSIZE;
    }
    unsigned action = PLANE_FAULT_PASS;
    uint64_t delay_ns = 0;
    if (udp->fault && plane_fault_active(udp->fault)) {
        plane_fault_decide(udp->fault, &action, &delay_ns);
        if (action & PLANE_FAULT_DROP) {
            PLANE_CTR_INC(&udp->stats, tx_fault_dropped);
            return 0;
        }
    }
    int copies = (action & PLANE_FAULT_DUP) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        uint8_t *b = plane_pool_get(&udp->txpool);
        if (!b) {
            PLANE_CTR_INC(&udp->stats, tx_no_buffer);
            PLANE_WARN_RL(&rl, "tx pool empty: datagram dropped");
            return PLANE_EAGAIN;
        }
        uint32_t idx = (uint32_t) plane_pool_index(&udp->txpool, b);
        struct udp_tx *tx = &udp->tx[idx];
        memcpy(b, buf, len);
        tx->len = (uint32_t) len;
        tx->tolen = tolen;
        tx->next = UDP_NONE;
        memcpy(&tx->to, to, tolen);
        if (action & PLANE_FAULT_DELAY) {
            delay_insert(udp, idx, delay_ns);
        } else if ((action & PLANE_FAULT_REORDER) && udp->held == UDP_NONE) {
            udp->held = idx;
        } else {
            tx_enqueue(udp, idx);
            release_held(udp);
        }
    }
    return 0;
}

static void
udp_prepare_cb(uv_prepare_t *p)
{
    struct plane_udp *udp = p->data;
    /* Sends queued by timers and close callbacks, plus a datagram held back
     * for reordering since the previous iteration. */
    plane_udp_flush(udp);
    release_held(udp);
    plane_udp_flush(udp);
}

static void
udp_check_cb(uv_check_t *c)
{
    plane_udp_flush(c->data);        /* sends queued by this iteration's I/O */
}

/* ---- lifecycle ---- */

struct plane_udp *
plane_udp_new(uv_loop_t *loop, const struct plane_udp_opts *opts)
{
    struct plane_udp *udp = plane_calloc(1, sizeof *udp);
    if (!udp) {
        return NULL;
    }
    if (opts) {
        udp->opts = *opts;
    }
    if (!udp->opts.tx_pool) {
        udp->opts.tx_pool = UDP_DEFAULT_POOL;
    }
    if (!udp->opts.tx_batch) {
        udp->opts.tx_batch = UDP_DEFAULT_BATCH;
    }
    if (udp->opts.tx_batch > UDP_MAX_BATCH) {
        udp->opts.tx_batch = UDP_MAX_BATCH;
    }
    if (udp->opts.sock_buf <= 0) {
        udp->opts.sock_buf = UDP_DEFAULT_SOCKBUF;
    }
    udp->loop = loop;
    udp->fd = -1;
    udp->delayed_head = UDP_NONE;
    udp->held = UDP_NONE;
    udp->rxbuf = plane_aligned_alloc(64, UDP_RX_BUF);
    udp->batch = plane_calloc(udp->opts.tx_batch, sizeof *udp->batch);
    udp->msgs = plane_calloc(udp->opts.tx_batch, sizeof *udp->msgs);
    udp->iovs = plane_calloc(udp->opts.tx_batch, sizeof *udp->iovs);
    udp->tx = plane_calloc(udp->opts.tx_pool, sizeof *udp->tx);
    if (!udp->rxbuf || !udp->batch || !udp->msgs || !udp->iovs || !udp->tx
        || plane_pool_init(&udp->txpool, udp->opts.tx_pool, PLANE_WIRE_MAX_DATAGRAM)) {
        goto fail;
    }
    for (uint32_t i = 0; i < udp->opts.tx_pool; i++) {
        udp->tx[i].udp = udp;
    }
    /* AF_UNSPEC: the socket is created by uv_udp_bind with the address's family. */
    if (uv_udp_init_ex(loop, &udp->handle, AF_UNSPEC | UV_UDP_RECVMMSG)) {
        goto fail;
    }
    udp->handle.data = udp;
    uv_prepare_init(loop, &udp->prepare);
    uv_check_init(loop, &udp->check);
    uv_timer_init(loop, &udp->delay_timer);
    udp->prepare.data = udp->check.data = udp->delay_timer.data = udp;
    /* The flush hooks run every iteration but must not keep the loop alive. */
    uv_prepare_start(&udp->prepare, udp_prepare_cb);
    uv_check_start(&udp->check, udp_check_cb);
    uv_unref((uv_handle_t *) &udp->prepare);
    uv_unref((uv_handle_t *) &udp->check);
    udp->open_handles = 4;
    return udp;

fail:
    plane_pool_uninit(&udp->txpool);
    plane_free(udp->rxbuf);
    plane_free(udp->batch);
    plane_free(udp->msgs);
    plane_free(udp->iovs);
    plane_free(udp->tx);
    plane_free(udp);
    return NULL;
}

static void
set_sock_buf(struct plane_udp *udp)
{
    int want = udp->opts.sock_buf, got = 0;
    socklen_t sl = sizeof got;
    /* SO_*BUFFORCE passes net.core.[rw]mem_max when we are privileged. */
    if (setsockopt(udp->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want)) {
        setsockopt(udp->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }
    if (setsockopt(udp->fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want)) {
        setsockopt(udp->fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    }
    getsockopt(udp->fd, SOL_SOCKET, SO_RCVBUF, &got, &sl);
    if (got < want) {
        PLANE_INFO("SO_RCVBUF is %d bytes, asked for %d (raise net.core.rmem_max)",
                   got, want);
    }
}

int
plane_udp_bind(struct plane_udp *udp, const struct sockaddr *addr)
{
    if (udp->bound || udp->closing) {
        return PLANE_ESTATE;
    }
    if (!plane_sockaddr_len(addr)) {
        return PLANE_EINVAL;
    }
    unsigned flags = (addr->sa_family == AF_INET6 && udp->opts.ipv6_only)
                     ? UV_UDP_IPV6ONLY : 0;
    int err = uv_udp_bind(&udp->handle, addr, flags);
    if (err) {
        return err;
    }
    uv_os_fd_t fd;
    err = uv_fileno((uv_handle_t *) &udp->handle, &fd);
    if (err) {
        return err;
    }
    udp->fd = fd;
    set_sock_buf(udp);
    err = uv_udp_recv_start(&udp->handle, udp_alloc_cb, udp_recv_cb);
    if (err) {
        return err;
    }
    udp->bound = true;
    return 0;
}

int
plane_udp_local_addr(struct plane_udp *udp, struct sockaddr_storage *out)
{
    int len = sizeof *out;
    return uv_udp_getsockname(&udp->handle, (struct sockaddr *) out, &len);
}

static void
udp_handle_closed(uv_handle_t *h)
{
    struct plane_udp *udp = h->data;
    if (--udp->open_handles > 0) {
        return;
    }
    if (udp->close_cb) {
        udp->close_cb(udp->close_arg, udp);
    }
    plane_pool_uninit(&udp->txpool);
    plane_free(udp->rxbuf);
    plane_free(udp->batch);
    plane_free(udp->msgs);
    plane_free(udp->iovs);
    plane_free(udp->tx);
    plane_free(udp->peers);
    plane_free(udp);
}

void
plane_udp_close(struct plane_udp *udp, plane_udp_close_fn cb, void *arg)
{
    if (!udp || udp->closing) {
        return;
    }
    if (udp->bound) {
        release_held(udp);
        plane_udp_flush(udp);
    }
    udp->closing = true;
    udp->close_cb = cb;
    udp->close_arg = arg;
    udp->data_fn = NULL;
    udp->ctl_fn = NULL;
    /* Delayed datagrams are dropped; their buffers go with the pool. */
    udp->delayed_head = UDP_NONE;
    udp->held = UDP_NONE;
    uv_udp_recv_stop(&udp->handle);
    uv_close((uv_handle_t *) &udp->handle, udp_handle_closed);
    uv_close((uv_handle_t *) &udp->prepare, udp_handle_closed);
    uv_close((uv_handle_t *) &udp->check, udp_handle_closed);
    uv_close((uv_handle_t *) &udp->delay_timer, udp_handle_closed);
}

void
plane_udp_set_data_handler(struct plane_udp *udp, plane_udp_data_fn fn, void *arg)
{
    udp->data_fn = fn;
    udp->data_arg = arg;
}

void
plane_udp_set_ctl_handler(struct plane_udp *udp, plane_udp_ctl_fn fn, void *arg)
{
    udp->ctl_fn = fn;
    udp->ctl_arg = arg;
}

void
plane_udp_set_auth(struct plane_udp *udp, struct plane_auth *auth)
{
    udp->auth = auth;
}

void
plane_udp_set_fault(struct plane_udp *udp, struct plane_fault *fault)
{
    udp->fault = fault;
}

void
plane_udp_set_accept_any(struct plane_udp *udp, bool on)
{
    udp->opts.accept_any = on;
}

const struct plane_udp_stats *
plane_udp_stats(const struct plane_udp *udp)
{
    return &udp->stats;
}

uv_loop_t *
plane_udp_loop(const struct plane_udp *udp)
{
    return udp->loop;
}
