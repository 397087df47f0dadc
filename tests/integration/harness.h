/* What the integration tests share: clock and log, byte order, Zipf ranks, loopback sockets, a control client. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/auth.h"

struct plane_rpc;
struct plane_udp;

/* ---- clock and log ---- */

/* Names the program in it_say() lines ("rack_test"). */
void it_set_name(const char *name);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t it_now_ms(void);
void it_sleep_ms(unsigned ms);
/* One line "NAME: [secs.ms] text" on stdout, flushed. */
void it_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records a failure and returns -1 from the calling test function. */
#define IT_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            it_say("FAIL %s:%d: %s", __FILE__, __LINE__, #cond);               \
            it_say(__VA_ARGS__);                                               \
            return -1;                                                         \
        }                                                                      \
    } while (0)

/* getenv(name), or dflt when unset or empty. */
const char *it_env_or(const char *name, const char *dflt);

void it_put_be64(uint8_t *p, uint64_t v);
uint64_t it_get_be64(const uint8_t *p);

/* ---- Zipf ranks ---- */

/* Zipf(s) over ranks 0..n-1 (rank 0 the most popular) by inverse CDF. */
struct it_zipf {
    uint32_t n;
    double *cdf;
};

/* Returns 0 or -1 (no memory). */
int it_zipf_init(struct it_zipf *z, uint32_t n, double s);
/* The rank of uniform u in [0, 1). */
uint32_t it_zipf_rank(const struct it_zipf *z, double u);
void it_zipf_uninit(struct it_zipf *z);
/* A uniform double in [0, 1) from a 64-bit draw. */
double it_unit(uint64_t draw);

/* ---- loopback sockets ---- */

/* 127.0.0.1:port. */
void it_addr(struct sockaddr_in *sa, uint16_t port);
/*
 * A UDP socket bound on 127.0.0.1:port (0: any), its port stored in *bound
 * (may be NULL); bufsize > 0 asks for socket buffers that large (as large
 * as the kernel allows: a burst of egress must never overflow a sink while
 * the driver is busy).  Returns the fd or -1.
 */
int it_udp_open(uint16_t port, uint16_t *bound, int bufsize, bool nonblock);
/*
 * A port that was free a moment ago (a daemon binds it right after) and
 * that this process has not handed out before: the kernel may give a
 * closed port back at once.  0 when none was found.
 */
uint16_t it_free_port(void);

/* ---- daemons as child processes ---- */

#include <sys/types.h>

/*
 * Starts argv[0] with argv (NULL-terminated), stdout and stderr appended to
 * log_path, stdin from /dev/null, killed when this process dies (a driver
 * killed by ctest's timeout takes its daemons along).  Returns the pid or -1.
 */
pid_t it_spawn(const char *const *argv, const char *log_path);
/*
 * True while *pid runs; once it exited, reaps it, says how (naming it
 * name), stores its wait status in *status (may be NULL) and zeroes *pid.
 * False for *pid 0.
 */
bool it_alive(pid_t *pid, const char *name, int *status);
/*
 * Sends sig to *pid and reaps it, SIGKILLing it after 20 s; zeroes *pid and
 * stores the wait status in *status (may be NULL).  Returns 0 when it ended
 * the expected way (exit 0 after another signal, killed by SIGKILL), -1
 * otherwise (and says how).  0 for *pid 0.
 */
int it_stop(pid_t *pid, const char *name, int sig, int *status);
/* Prints the last cap bytes of the file at path between ---- lines, titled. */
void it_print_log(const char *title, const char *path, long cap);

/* ---- control client: authenticated RPCs to the rack's daemons ---- */

/* Parses a 64-hex-digit rack key.  Returns 0 or -1. */
int it_key_from_hex(const char *hex, uint8_t key[PLANE_AUTH_KEY_LEN]);

struct it_ctl {
    uv_loop_t loop;
    bool loop_ok;
    struct plane_udp *udp;
    struct plane_rpc *rpc;
    struct plane_auth auth;
    bool rpc_closed, udp_closed;
};

/*
 * Opens a client with id client_id, keyed with the 64-hex-digit key_hex,
 * and registers n daemons (ids[i] at 127.0.0.1:ports[i]).  Returns 0 or -1
 * (c is closed then).
 */
int it_ctl_open(struct it_ctl *c, const char *key_hex, uint16_t client_id, const uint16_t *ids,
                const uint16_t *ports, size_t n);
void it_ctl_close(struct it_ctl *c);
/*
 * Calls msg_type on daemon id with body and waits (100 ms timeout, 4
 * retries) for the answer, whose body lands in resp (*resp_len, may be
 * NULL).  Returns the peer's status (0 or the PLANE_E* it answered), or a
 * local error (PLANE_ETIMEDOUT when it never answered, PLANE_EMSGSIZE when
 * the body does not fit).
 */
int it_ctl_call(struct it_ctl *c, uint16_t id, uint16_t msg_type, const uint8_t *body,
                size_t len, uint8_t *resp, size_t resp_cap, size_t *resp_len);
