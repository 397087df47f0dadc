/* What every Plane daemon shares: options, config, identity, signals, systemd, the loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct plane_config;
struct plane_udp;
struct plane_rpc;
struct plane_auth;
struct plane_fault;

/* Options common to switchd, nicd and serverd. */
struct plane_daemon_opts {
    const char *prog;            /* "switchd" */
    const char *config_path;     /* --config */
    const char *id;              /* --id (devices) */
    const char *log_level;       /* --log-level */
    const char *fault;           /* --fault SPEC (tests, benchmarks) */
    bool check_config;           /* --check-config: validate, print, exit */
};

/*
 * Parses argv for the common options (--config, --id, --log-level, --fault,
 * --check-config, --help, --version).  need_id: the daemon requires --id.
 * Returns 0 to go on, 1 when the program should exit with status 0 (--help,
 * --version printed), or PLANE_EINVAL after printing usage to stderr.
 */
int plane_daemon_parse_args(struct plane_daemon_opts *o, const char *prog,
                            bool need_id, int argc, char **argv);

/*
 * The parts every daemon owns.  Caller-owned storage: plane_daemon_init()
 * fills it, plane_daemon_uninit() tears it down after the loop has stopped.
 */
struct plane_daemon {
    struct plane_daemon_opts opts;
    uv_loop_t loop;
    struct plane_config *cfg;
    uint16_t self_id;            /* switch.id or the device's id */
    uint64_t incarnation;
    struct plane_auth *auth;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t watchdog;
    /* Called on SIGHUP after the config file re-validated; may be NULL. */
    void (*on_reload)(struct plane_daemon *d, const struct plane_config *new_cfg);
    /* Called once on SIGTERM/SIGINT: stop timers, close handles. */
    void (*on_stop)(struct plane_daemon *d);
    void *owner;                 /* the switch or device runtime */
    bool stopping;
    /* --fault model for the owner's endpoint (plane_udp_set_fault), or NULL. */
    struct plane_fault *fault;
    bool loop_inited;            /* uv_loop_init() succeeded */
    bool handles_inited;         /* signals and watchdog exist */
};

/*
 * Loads the config (errors printed with file:line:field), resolves self
 * from opts->id, sets log level/ident, creates the auth context, the loop,
 * and the signal and watchdog handles.  Returns 0 or a negative code
 * (PLANE_ECONFIG for a bad file or an unknown --id, PLANE_EINVAL for a bad
 * --log-level or --fault).  With opts->check_config it stops after the
 * load and the self lookup, prints the config (plane_config_dump) to stdout
 * and returns 1: the program exits 0.  Call plane_daemon_uninit() in every
 * case (it is safe on a partly initialised d).
 */
int plane_daemon_init(struct plane_daemon *d, const struct plane_daemon_opts *o);

/*
 * Tells systemd READY=1 (when NOTIFY_SOCKET is set), starts the watchdog
 * pets when systemd asks for them and runs the loop until every handle is
 * closed (after plane_daemon_stop() or a signal).  Returns 0 or a negative
 * libuv code.
 */
int plane_daemon_run(struct plane_daemon *d);

/*
 * What SIGTERM does: once, calls on_stop (which must close the owner's
 * handles) and closes the daemon's own, so plane_daemon_run() returns.
 */
void plane_daemon_stop(struct plane_daemon *d);

/* Sends "STATUS=<text>" to systemd (no-op without NOTIFY_SOCKET). */
void plane_daemon_status(struct plane_daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Closes what plane_daemon_init() opened; the loop must have stopped. */
void plane_daemon_uninit(struct plane_daemon *d);

/*
 * The process exit status for a return code of parse_args/init/run:
 * 0 for 0 and 1 (help, version, check-config), 2 for PLANE_EINVAL (usage),
 * 1 for anything else (configuration and runtime errors).
 */
int plane_daemon_exit_code(int rc);
