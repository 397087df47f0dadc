/* TAP ports of switchd: a Linux TAP interface read and written as raw Ethernet frames on the loop. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/counters.h"

/* Per-interface counters (STATS: tap.port.<name>.<counter>). */
#define PLANE_SWITCH_TAP_COUNTERS(X)                                           \
    X(rx_frames)          /* frames read from the interface */                 \
    X(tx_frames)          /* frames written to it */                           \
    X(tx_errors)          /* writes refused (queue full, interface down...) */

struct plane_switch_tap_stats {
    PLANE_COUNTERS_FIELDS(PLANE_SWITCH_TAP_COUNTERS)
};

struct plane_switch_tap;

/* Called for each frame read; frame is valid during the call only. */
typedef void (*plane_switch_tap_rx_fn)(void *arg, const uint8_t *frame, size_t len);
/* Called once the tap is closed and freed. */
typedef void (*plane_switch_tap_close_fn)(void *arg, struct plane_switch_tap *tap);

/*
 * Opens (creating it when it does not exist) the TAP interface `name`
 * (IFF_TAP | IFF_NO_PI: every read and write is one bare Ethernet frame) in
 * the calling thread's network namespace, non-blocking, and starts reading
 * it on loop: rx(arg, frame, len) runs for every frame.  The interface is not
 * brought up: that, its addresses and where it lives are the operator's (the
 * fd keeps working when the interface moves to another namespace).  A
 * created interface is not persistent: it goes away with the fd.
 *
 * On success stores the new tap in *out and returns 0; close it with
 * plane_switch_tap_close().  Errors (nothing to close): PLANE_EINVAL for a
 * name that does not fit IFNAMSIZ, PLANE_ENOMEM, or the negative errno of
 * open(/dev/net/tun) / TUNSETIFF (-EPERM without CAP_NET_ADMIN, -ENOENT
 * without the tun module, -EBUSY when another process holds the interface).
 */
int plane_switch_tap_open(uv_loop_t *loop, const char *name, plane_switch_tap_rx_fn rx,
                          void *arg, struct plane_switch_tap **out);

/*
 * Writes one bare Ethernet frame to the interface (the kernel receives it as
 * if it arrived on the wire).  Never blocks.  Returns 0, or a negative errno
 * (counted tx_errors): -EAGAIN when the kernel's queue is full, -EIO when the
 * interface is down...
 */
int plane_switch_tap_send(struct plane_switch_tap *tap, const uint8_t *frame, size_t len);

/* The tap's counters (valid until it is closed). */
const struct plane_switch_tap_stats *plane_switch_tap_stats(const struct plane_switch_tap *tap);

/* Name of counter i of struct plane_switch_tap_stats, or NULL past the end. */
const char *plane_switch_tap_counter_name(size_t i);

/*
 * Stops reading and closes the interface's fd; cb(arg, tap) runs from the
 * loop once the handle is closed, after which tap is freed.  No rx callback
 * runs after this call.  cb may be NULL.
 */
void plane_switch_tap_close(struct plane_switch_tap *tap, plane_switch_tap_close_fn cb,
                            void *arg);
