/* Per-module logging with levels, and rate-limited variants for per-packet paths. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum plane_log_level {
    PLANE_LOG_OFF = 0,
    PLANE_LOG_ERR,
    PLANE_LOG_WARN,
    PLANE_LOG_INFO,
    PLANE_LOG_DBG,
};

/*
 * A log module.  Each .c file that logs declares one with
 * PLANE_LOG_MODULE(name); modules register themselves on first use so
 * plane_log_set_level("udp", ...) can find them.
 */
struct plane_log_module {
    const char *name;
    int level;                      /* enum plane_log_level, or -1 = default */
    struct plane_log_module *next;
    bool registered;
};

/* A token bucket for per-packet log lines (OVS VLOG_RATE_LIMIT_INIT). */
struct plane_log_rl {
    uint32_t burst;                 /* messages allowed at once */
    uint64_t interval_ns;           /* one token per interval */
    uint64_t tokens;
    uint64_t last_ns;
    uint64_t suppressed;            /* dropped since the last printed line */
};

#define PLANE_LOG_RL_INIT(burst_, per_sec_)                                    \
    { .burst = (burst_), .interval_ns = 1000000000ULL / (per_sec_),            \
      .tokens = (burst_) }

#define PLANE_LOG_MODULE(NAME)                                                 \
    static struct plane_log_module plane_log_this_module_ = {                  \
        .name = #NAME, .level = -1 }

#define PLANE_LOG_(LVL, ...)                                                   \
    do {                                                                       \
        if (plane_log_enabled(&plane_log_this_module_, (LVL))) {               \
            plane_log_write(&plane_log_this_module_, (LVL), __VA_ARGS__);      \
        }                                                                      \
    } while (0)

#define PLANE_LOG_RL_(RL, LVL, ...)                                            \
    do {                                                                       \
        if (plane_log_enabled(&plane_log_this_module_, (LVL))                  \
            && plane_log_rl_allow(RL)) {                                       \
            plane_log_write_rl(&plane_log_this_module_, (LVL), (RL),           \
                               __VA_ARGS__);                                   \
        }                                                                      \
    } while (0)

#define PLANE_ERR(...)  PLANE_LOG_(PLANE_LOG_ERR, __VA_ARGS__)
#define PLANE_WARN(...) PLANE_LOG_(PLANE_LOG_WARN, __VA_ARGS__)
#define PLANE_INFO(...) PLANE_LOG_(PLANE_LOG_INFO, __VA_ARGS__)
#define PLANE_DBG(...)  PLANE_LOG_(PLANE_LOG_DBG, __VA_ARGS__)
/* Rate-limited variants: RL is a struct plane_log_rl *, usually a static. */
#define PLANE_ERR_RL(RL, ...)  PLANE_LOG_RL_(RL, PLANE_LOG_ERR, __VA_ARGS__)
#define PLANE_WARN_RL(RL, ...) PLANE_LOG_RL_(RL, PLANE_LOG_WARN, __VA_ARGS__)
#define PLANE_INFO_RL(RL, ...) PLANE_LOG_RL_(RL, PLANE_LOG_INFO, __VA_ARGS__)
#define PLANE_DBG_RL(RL, ...)  PLANE_LOG_RL_(RL, PLANE_LOG_DBG, __VA_ARGS__)

/* A sink receives every formatted line (without trailing newline). */
typedef void (*plane_log_sink_fn)(void *arg, const char *module,
                                  enum plane_log_level level, const char *line);

bool plane_log_enabled(struct plane_log_module *m, enum plane_log_level level);
bool plane_log_rl_allow(struct plane_log_rl *rl);
void plane_log_write(struct plane_log_module *m, enum plane_log_level level,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void plane_log_write_rl(struct plane_log_module *m, enum plane_log_level level,
                        struct plane_log_rl *rl, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets the default level for modules without their own. */
void plane_log_set_default_level(enum plane_log_level level);
/*
 * Sets the level of one module by name, or of every module when name is
 * "all".  Returns 0, or PLANE_ENOENT when no module of that name has logged
 * yet (its level is remembered and applied when it first logs).
 */
int plane_log_set_level(const char *name, enum plane_log_level level);
/* Parses "err", "warn", "info", "debug" or "off".  Returns the level or -1. */
int plane_log_level_parse(const char *s);
const char *plane_log_level_name(enum plane_log_level level);
/*
 * Parses a --log-level spec: "info" or "info,udp=debug,rpc=warn".
 * Returns 0 or PLANE_EINVAL.
 */
int plane_log_configure(const char *spec);
/* Replaces the stderr sink; NULL restores it. */
void plane_log_set_sink(plane_log_sink_fn fn, void *arg);
/* Prefixes every line with the process's identity ("switchd", "nic0"). */
void plane_log_set_ident(const char *ident);
