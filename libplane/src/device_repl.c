/* The device's replication streams: every state change reaches the other copy before its packet leaves. */
#include "device_internal.h"

#include <string.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/wire_body.h"

PLANE_LOG_MODULE(repl);

/*
 * Packet-pinning keeps a flow's state on two devices, the one serving its
 * shard and the other copy.  For the other copy to take over after a crash
 * with the same mappings and the same counts, every change the serving
 * device makes must be there before anything that depends on it is seen
 * outside: a new flow's table entries, and every register merge its packets
 * make (a packet counted on the dead device and delivered must be counted on
 * the replica too).  So each device keeps one ordered stream of changes per
 * other device:
 *
 *   - A processed packet becomes an item holding the changes it made
 *     (inserts, deletes, merges with their operands, in order).  It is
 *     released to the switch only when the other copy applied its item.
 *   - Items leave in order, in ENTRY_UPDATE messages of consecutive items
 *     of one app (the first item waits for nothing when the stream is idle;
 *     while a message is in flight the next items gather, so batching grows
 *     with load).  One message in flight per stream: the other copy applies
 *     messages in the order they were built, and the RPC layer's duplicate
 *     cache applies each at most once however often it is retransmitted.
 *   - A packet that changed nothing still queues behind a busy stream, so
 *     the packets of a flow leave in the order they came.
 *   - Control items ride the same order: a DEMOTE hand-back is answered once
 *     the other copy merged it too, and a scan page pushed to a recovering
 *     device (docs/runtime.md, Recovery) carries values read when it was
 *     queued, after every change already queued and before every later one,
 *     so the receiver may overwrite with them without counting anything
 *     twice or losing it.
 *
 *   idle --push--> in flight --acked (or failed)--> release the message's
 *                      ^                              items in order
 *                      +----- items queued meanwhile <-+
 *
 * A message that fails (the peer died) still releases its items: the other
 * copy is gone, and holding the traffic of a dead peer's shards helps
 * nobody.  Counted as replica_unacked.  When the heartbeats declare the
 * peer down, the message in flight is cancelled and everything queued is
 * released at once, so traffic waits for detection only, not for the RPC
 * retries to run out.
 */

/* Encoded bytes of the entries of one message (with header and MAC it fits). */
#define REPL_BUDGET 7200

static void repl_kick(struct plane_device *dev, struct dev_repl_stream *s);

void
plane_device__repl_ent(struct dev_repl_ent *r, uint16_t obj, uint8_t flags, const void *key,
                       size_t klen, const void *value, size_t vlen)
{
    r->obj = obj;
    r->flags = flags;
    r->key_len = (uint8_t) klen;
    r->value_len = (uint8_t) vlen;
    memcpy(r->key, key, klen);
    if (vlen) {
        memcpy(r->value, value, vlen);
    }
}

int
plane_device__repl_init(struct plane_device *dev)
{
    size_t n = dev->cfg->n_devices ? dev->cfg->n_devices : 1;
    dev->streams = plane_calloc(n, sizeof *dev->streams);
    dev->repl_buf = plane_calloc(DEV_REPL_MAX_ENTRIES, sizeof *dev->repl_buf);
    if (!dev->streams || !dev->repl_buf) {
        return PLANE_ENOMEM;
    }
    for (size_t i = 0; i < dev->cfg->n_devices; i++) {
        dev->streams[i].dev = dev;
        dev->streams[i].peer = dev->cfg->devices[i].id;
    }
    return 0;
}

static void
repl_item_free(struct plane_device *dev, struct dev_repl_item *it)
{
    if (it->h) {
        plane_pool_put(&dev->held, it->h);
    } else {
        plane_free(it->resp);
        plane_free(it);
    }
}

void
plane_device__repl_uninit(struct plane_device *dev)
{
    for (size_t i = 0; dev->streams && i < dev->cfg->n_devices; i++) {
        struct dev_repl_item *it = dev->streams[i].head;
        while (it) {
            struct dev_repl_item *next = it->next;
            repl_item_free(dev, it);
            it = next;
        }
    }
    plane_free(dev->streams);
    plane_free(dev->repl_buf);
    dev->streams = NULL;
    dev->repl_buf = NULL;
}

struct dev_repl_stream *
plane_device__repl_stream(struct plane_device *dev, uint16_t peer)
{
    for (size_t i = 0; dev->streams && i < dev->cfg->n_devices; i++) {
        if (dev->streams[i].peer == peer) {
            return &dev->streams[i];
        }
    }
    return NULL;
}

bool
plane_device__repl_busy(const struct dev_repl_stream *s)
{
    return s->head != NULL;
}

void
plane_device__repl_push(struct plane_device *dev, struct dev_repl_stream *s,
                        struct dev_repl_item *item)
{
    item->next = NULL;
    if (s->tail) {
        s->tail->next = item;
    } else {
        s->head = item;
    }
    s->tail = item;
    if (!s->inflight) {
        repl_kick(dev, s);
    }
}

int
plane_device__repl_push_ctl(struct plane_device *dev, uint16_t peer, uint16_t app_id,
                            const struct dev_repl_ent *ents, uint32_t n,
                            struct plane_rpc *rpc, uint64_t token,
                            const uint8_t *resp, size_t resp_len)
{
    struct dev_repl_stream *s = plane_device__repl_stream(dev, peer);
    if (!s) {
        return PLANE_EPEER;
    }
    if (n > DEV_REPL_MAX_ENTRIES) {
        return PLANE_EMSGSIZE;   /* more than one message carries */
    }
    struct dev_repl_item *it = plane_calloc(1, sizeof *it + (size_t) n * sizeof *ents);
    if (!it) {
        return PLANE_ENOMEM;
    }
    if (resp_len) {
        it->resp = plane_malloc(resp_len);
        if (!it->resp) {
            plane_free(it);
            return PLANE_ENOMEM;
        }
        memcpy(it->resp, resp, resp_len);
        it->resp_len = resp_len;
    }
    it->app_id = app_id;
    it->n_ents = n;
    it->ents = (struct dev_repl_ent *) (it + 1);
    if (n) {
        memcpy(it->ents, ents, (size_t) n * sizeof *ents);
    }
    it->rpc = rpc;
    it->token = token;
    plane_device__repl_push(dev, s, it);
    return 0;
}

void
plane_device__repl_set_down(struct plane_device *dev, uint16_t peer, bool down)
{
    struct dev_repl_stream *s = plane_device__repl_stream(dev, peer);
    if (!s || s->down == down) {
        return;
    }
    s->down = down;
    if (down && s->inflight) {
        /* repl_done() runs now and releases what the message carried;
         * repl_kick() then releases the rest, since s is down. */
        plane_rpc_cancel(dev->rpc, s->call_id);
    } else if (down) {
        repl_kick(dev, s);
    }
}

/* Completes the first n items of s: packets leave, control items are answered. */
static void
repl_complete(struct plane_device *dev, struct dev_repl_stream *s, uint32_t n, int status)
{
    while (n-- && s->head) {
        struct dev_repl_item *it = s->head;
        s->head = it->next;
        if (!s->head) {
            s->tail = NULL;
        }
        if (it->h) {
            plane_device__release(it->h);
        } else {
            if (it->rpc && !dev->closing) {
                plane_rpc_respond(it->rpc, it->token, status,
                                  status ? NULL : it->resp, status ? 0 : it->resp_len);
            }
            repl_item_free(dev, it);
        }
    }
}

static void
repl_done(void *arg, struct plane_rpc *rpc, int status, const struct plane_wire_ctl *resp)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    (void) rpc;
    (void) resp;
    struct dev_repl_stream *s = arg;
    struct plane_device *dev = s->dev;
    if (status) {
        PLANE_CTR_INC(&dev->stats, replica_unacked);
        if (!dev->closing) {
            PLANE_WARN_RL(&rl, "replication to device %u failed: %s (%u items released "
                          "anyway)", s->peer, plane_strerror(status), s->n_inflight);
        }
    } else {
        PLANE_CTR_INC(&dev->stats, replicated);
    }
    s->inflight = false;
    uint32_t n = s->n_inflight;
    s->n_inflight = 0;
    repl_complete(dev, s, n, status);
    if (status && !s->down && !dev->closing) {
        /* The peer may be alive and merely slow: it lacks what the message
         * carried, so it must re-learn; being marked down tells it so. */
        plane_device__peer_lost(dev, s->peer, "replication failed");
    }
    if (!dev->closing) {
        repl_kick(dev, s);
    }
}

/*
 * Builds the next message from the items at the head of s and sends it.
 * Items that carry no change complete at once when nothing precedes them.
 */
static void
repl_kick(struct plane_device *dev, struct dev_repl_stream *s)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    while (!s->inflight && s->head) {
        if (s->down) {
            PLANE_CTR_INC(&dev->stats, replica_down);
            repl_complete(dev, s, 1, PLANE_EPEER);
            continue;
        }
        if (s->head->n_ents == 0) {
            repl_complete(dev, s, 1, 0);
            continue;
        }
        uint16_t app_id = s->head->app_id;
        uint32_t n_items = 0, n = 0;
        size_t bytes = 0;
        for (struct dev_repl_item *it = s->head; it; it = it->next) {
            size_t b = 0;
            for (uint32_t i = 0; i < it->n_ents; i++) {
                b += 16 + it->ents[i].key_len + it->ents[i].value_len;
            }
            /* The first item always goes: pushes hold an item to
             * DEV_REPL_MAX_ENTRIES, and a scan page is sized to fit. */
            if (n_items && (it->app_id != app_id || bytes + b > REPL_BUDGET
                            || n + it->n_ents > DEV_REPL_MAX_ENTRIES)) {
                break;
            }
            for (uint32_t i = 0; i < it->n_ents; i++) {
                const struct dev_repl_ent *e = &it->ents[i];
                dev->repl_buf[n++] = (struct plane_body_entry) {
                    .object_id = e->obj, .flags = e->flags,
                    .key = e->key, .key_len = e->key_len,
                    .value = e->value, .value_len = e->value_len,
                };
            }
            bytes += b;
            n_items++;
        }
        struct plane_body_entries body = { .app_id = app_id, .n_entries = n,
                                           .entries = dev->repl_buf };
        struct plane_mp_writer w;
        plane_mp_writer_init(&w, dev->tx, sizeof dev->tx);
        int rc = plane_body_entries_encode(&body, &w);
        if (!rc && w.overflow) {
            rc = PLANE_EMSGSIZE;
        }
        if (!rc) {
            /* Packets wait for this, and the whole stream behind it: resend
             * at a fifth of the RPC timeout (at least 2 ms) without backing
             * off, so one lost datagram stalls the stream briefly (a
             * spurious resend is answered from the duplicate cache), and a
             * peer that died holds it only until the heartbeats tell. */
            uint64_t t = (uint64_t) dev->cfg->timers.rpc_timeout_ms * PLANE_NS_PER_MS / 5;
            t = t < 2 * PLANE_NS_PER_MS ? 2 * PLANE_NS_PER_MS : t;
            struct plane_rpc_call_opts o = { .timeout_ns = t, .max_backoff_ns = t };
            rc = plane_rpc_call(dev->rpc, s->peer, PLANE_MSG_ENTRY_UPDATE, w.buf, w.len, &o,
                                repl_done, s, &s->call_id);
        }
        if (rc) {
            PLANE_CTR_INC(&dev->stats, replica_unacked);
            PLANE_WARN_RL(&rl, "replication to device %u: %s (%u items released "
                          "unreplicated)", s->peer, plane_strerror(rc), n_items);
            repl_complete(dev, s, n_items, rc);
            continue;
        }
        s->inflight = true;
        s->n_inflight = n_items;
    }
}
