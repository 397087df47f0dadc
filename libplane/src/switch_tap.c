/* TAP ports of switchd: open a Linux TAP interface, read its frames from a uv_poll_t, write frames back. */
#include "switch_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/log.h"

PLANE_LOG_MODULE(switch_tap);

/*
 * One read buffer per tap, sized for the largest frame a TAP can hand out
 * (a 64 KiB MTU plus the Ethernet header): without IFF_VNET_HDR the kernel
 * does no segmentation offload towards us, so a read is at most one MTU, and
 * a buffer this size never truncates one.  Frames larger than what the
 * switch's ingress accepts are dropped (and counted) there.
 */
#define TAP_BUF_LEN (65536 + 64)

/*
 * Frames read per wakeup at most.  The poll is level-triggered, so frames
 * left in the queue wake us again on the next loop iteration; the budget
 * only keeps a flooded interface from starving the control endpoint (device
 * answers, heartbeats) that shares the loop.
 */
#define TAP_RX_BUDGET 256

static const char *const tap_counter_names[] = {
    PLANE_COUNTERS_NAMES(PLANE_SWITCH_TAP_COUNTERS)
};

struct plane_switch_tap {
    uv_poll_t poll;
    int fd;
    bool closing;
    char name[IFNAMSIZ];
    plane_switch_tap_rx_fn rx;
    void *rx_arg;
    plane_switch_tap_close_fn close_cb;
    void *close_arg;
    struct plane_switch_tap_stats stats;
    uint8_t buf[TAP_BUF_LEN];
};

static void
tap_poll_cb(uv_poll_t *h, int status, int events)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    struct plane_switch_tap *t = h->data;
    if (status < 0) {
        PLANE_WARN_RL(&rl, "tap %s: poll error %s", t->name, plane_err_name(status));
        return;
    }
    if (!(events & UV_READABLE)) {
        return;
    }
    for (int i = 0; i < TAP_RX_BUDGET && !t->closing; i++) {
        ssize_t n = read(t->fd, t->buf, sizeof t->buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* EAGAIN: drained.  EIO: the interface is down (no carrier),
             * nothing to read until it comes up. */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EIO) {
                PLANE_WARN_RL(&rl, "tap %s: read: %s", t->name, strerror(errno));
            }
            return;
        }
        if (n == 0) {
            return;
        }
        PLANE_CTR_INC(&t->stats, rx_frames);
        t->rx(t->rx_arg, t->buf, (size_t) n);
    }
}

int
plane_switch_tap_open(uv_loop_t *loop, const char *name, plane_switch_tap_rx_fn rx, void *arg,
                      struct plane_switch_tap **out)
{
    *out = NULL;
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen >= IFNAMSIZ) {
        return PLANE_EINVAL;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = -errno;
        PLANE_ERR("tap %s: cannot open /dev/net/tun: %s", name, strerror(errno));
        return err;
    }
    /* IFF_NO_PI: no 4-byte packet-information prefix, a read is the frame.
     * No IFF_VNET_HDR: the kernel finishes checksums and segmentation before
     * handing us a frame, so every frame is complete and at most one MTU. */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, nlen);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int err = -errno;
        PLANE_ERR("tap %s: TUNSETIFF: %s", name, strerror(errno));
        close(fd);
        return err;
    }
    struct plane_switch_tap *t = plane_calloc(1, sizeof *t);
    if (!t) {
        close(fd);
        return PLANE_ENOMEM;
    }
    t->fd = fd;
    memcpy(t->name, name, nlen);
    t->rx = rx;
    t->rx_arg = arg;
    int err = uv_poll_init(loop, &t->poll, fd);
    if (err) {
        /* uv_poll_init registers no handle when it fails. */
        PLANE_ERR("tap %s: uv_poll_init: %s", name, plane_err_name(err));
        close(fd);
        plane_free(t);
        return err;
    }
    t->poll.data = t;
    err = uv_poll_start(&t->poll, UV_READABLE, tap_poll_cb);
    if (err) {
        PLANE_ERR("tap %s: uv_poll_start: %s", name, plane_err_name(err));
        plane_switch_tap_close(t, NULL, NULL);
        return err;
    }
    PLANE_INFO("tap %s open", name);
    *out = t;
    return 0;
}

int
plane_switch_tap_send(struct plane_switch_tap *t, const uint8_t *frame, size_t len)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    if (t->closing) {
        PLANE_CTR_INC(&t->stats, tx_errors);
        return PLANE_ESTATE;
    }
    ssize_t n;
    do {
        n = write(t->fd, frame, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t) n != len) {
        int err = n < 0 ? -errno : PLANE_EIO;
        PLANE_CTR_INC(&t->stats, tx_errors);
        PLANE_DBG_RL(&rl, "tap %s: write of %zu bytes: %s", t->name, len, plane_err_name(err));
        return err;
    }
    PLANE_CTR_INC(&t->stats, tx_frames);
    return 0;
}

const struct plane_switch_tap_stats *
plane_switch_tap_stats(const struct plane_switch_tap *t)
{
    return &t->stats;
}

const char *
plane_switch_tap_counter_name(size_t i)
{
    return i < sizeof tap_counter_names / sizeof *tap_counter_names ? tap_counter_names[i]
                                                                    : NULL;
}

static void
tap_closed(uv_handle_t *h)
{
    struct plane_switch_tap *t = h->data;
    close(t->fd);
    if (t->close_cb) {
        t->close_cb(t->close_arg, t);
    }
    plane_free(t);
}

void
plane_switch_tap_close(struct plane_switch_tap *t, plane_switch_tap_close_fn cb, void *arg)
{
    if (t->closing) {
        return;
    }
    t->closing = true;
    t->close_cb = cb;
    t->close_arg = arg;
    /* uv_close stops the poll; the fd is closed only after libuv is done
     * with it (closing it first would leave a stale epoll registration). */
    uv_close((uv_handle_t *) &t->poll, tap_closed);
}
