/* The switch runtime of switchd: ports, flow managers, placement, liveness and two-phase updates on one loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct plane_config;
struct plane_daemon;
struct plane_switch;

/*
 * Lifecycle (the daemon's loop runs between start and delete):
 *
 *   plane_switch_new(d)     loads every app of d->cfg and builds the flow
 *                           managers, update engines and placement; opens
 *                           no handle.
 *   plane_switch_start(sw)  binds switch.control and every port, registers
 *                           the devices as peers, starts the heartbeat,
 *                           aging and update timers and says HELLO.
 *   plane_switch_stop(sw)   cancels every update and RPC and closes every
 *                           handle (also after a failed start).
 *   plane_switch_delete(sw) frees sw once the loop has run the close
 *                           callbacks (uv_run returned).
 *
 * See docs/runtime.md for what goes on the wire.
 */

/*
 * Creates the switch runtime for daemon d (borrowed: d's loop, cfg and auth
 * must outlive the runtime; d->self_id and d->incarnation are used as the
 * switch's identity).  Returns NULL on a module that does not load, a bad
 * object size, or out of memory (logged).
 */
struct plane_switch *plane_switch_new(struct plane_daemon *d);

/*
 * Opens the endpoints and starts the timers.  Returns 0 or a negative code
 * (a bind failing: PLANE_EADDRINUSE...).  On error call plane_switch_stop(),
 * run the loop and delete.
 */
int plane_switch_start(struct plane_switch *sw);

/* Closes everything (idempotent).  No callback of sw runs after the loop
 * has processed the close callbacks. */
void plane_switch_stop(struct plane_switch *sw);

/*
 * SIGHUP: applies new timers (nc's; the daemon copies them into the running
 * config afterwards): re-arms the heartbeat, aging and SYNC timers whose
 * periods changed, and gives the flow managers the new popularity interval
 * for their estimates.
 */
void plane_switch_reload(struct plane_switch *sw, const struct plane_config *nc);

/*
 * Frees sw.  Every handle must be closed (plane_switch_stop() and then the
 * loop run); otherwise PLANE_EBUSY-like misuse is logged and sw is leaked
 * rather than freed under a pending callback.  NULL is a no-op.
 */
void plane_switch_delete(struct plane_switch *sw);

/* True when every handle sw opened has finished closing. */
bool plane_switch_closed(const struct plane_switch *sw);

/*
 * Reads one named counter, as the STATS message reports it ("rx_frames",
 * "app.counter.hits", "dev.nic0.up", "udp.control.rx_data"...).  Returns 0
 * or PLANE_ENOENT.
 */
int plane_switch_stat(const struct plane_switch *sw, const char *name, uint64_t *value);

/*
 * Calls fn(arg, name, value) for every counter STATS reports, in a stable
 * order.  name is valid during the call only.
 */
typedef void (*plane_switch_stat_fn)(void *arg, const char *name, uint64_t value);
void plane_switch_stats_foreach(const struct plane_switch *sw, plane_switch_stat_fn fn,
                                void *arg);

/* The bound address of switch.control / of port index i (after start; for
 * tests that bind port 0).  Return 0 or a negative code. */
struct sockaddr_storage;
int plane_switch_control_addr(const struct plane_switch *sw, struct sockaddr_storage *out);
int plane_switch_port_addr(const struct plane_switch *sw, size_t i,
                           struct sockaddr_storage *out);
