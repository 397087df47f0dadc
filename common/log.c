/* Logging: module registry, level checks before formatting, token-bucket rate limits. */
#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <plane/error.h>

#include "common/clock.h"

#define LOG_MAX_PENDING 32

/* Levels set by name before the module first logged. */
struct pending_level {
    char name[32];
    int level;
};

static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct plane_log_module *modules;
static int default_level = PLANE_LOG_INFO;
static struct pending_level pending[LOG_MAX_PENDING];
static size_t n_pending;
static plane_log_sink_fn sink_fn;
static void *sink_arg;
static char ident[32];

static const char *const level_names[] = {
    [PLANE_LOG_OFF] = "off",   [PLANE_LOG_ERR] = "err",
    [PLANE_LOG_WARN] = "warn", [PLANE_LOG_INFO] = "info",
    [PLANE_LOG_DBG] = "debug",
};

/* Called with log_mutex held. */
static void
register_module(struct plane_log_module *m)
{
    if (m->registered) {
        return;
    }
    for (size_t i = 0; i < n_pending; i++) {
        if (!strcmp(pending[i].name, m->name) || !strcmp(pending[i].name, "all")) {
            m->level = pending[i].level;
        }
    }
    m->next = modules;
    modules = m;
    m->registered = true;
}

bool
plane_log_enabled(struct plane_log_module *m, enum plane_log_level level)
{
    if (!__atomic_load_n(&m->registered, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&log_mutex);
        register_module(m);
        pthread_mutex_unlock(&log_mutex);
    }
    int lvl = __atomic_load_n(&m->level, __ATOMIC_RELAXED);
    if (lvl < 0) {
        lvl = __atomic_load_n(&default_level, __ATOMIC_RELAXED);
    }
    return level != PLANE_LOG_OFF && (int) level <= lvl;
}

bool
plane_log_rl_allow(struct plane_log_rl *rl)
{
    uint64_t now = plane_clock_now_ns();
    if (rl->interval_ns == 0) {
        return true;
    }
    if (now > rl->last_ns) {
        uint64_t add = (now - rl->last_ns) / rl->interval_ns;
        if (add > 0) {
            rl->tokens = rl->tokens + add > rl->burst ? rl->burst : rl->tokens + add;
            rl->last_ns = now;
        }
    } else if (rl->last_ns == 0) {
        rl->last_ns = now;
    }
    if (rl->tokens == 0) {
        rl->suppressed++;
        return false;
    }
    rl->tokens--;
    return true;
}

static void
emit(struct plane_log_module *m, enum plane_log_level level, const char *line)
{
    pthread_mutex_lock(&log_mutex);
    if (sink_fn) {
        sink_fn(sink_arg, m->name, level, line);
    } else {
        struct timespec ts;
        struct tm tm;
        char tbuf[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(tbuf, sizeof tbuf, "%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ld %s%s%s|%s|%s\n", tbuf, ts.tv_nsec / 1000000,
                ident, ident[0] ? "|" : "", level_names[level], m->name, line);
    }
    pthread_mutex_unlock(&log_mutex);
}

static void __attribute__((format(printf, 4, 0)))
vwrite(struct plane_log_module *m, enum plane_log_level level,
       uint64_t suppressed, const char *fmt, va_list ap)
{
    char line[1024];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n >= 0 && suppressed && (size_t) n < sizeof line) {
        snprintf(line + n, sizeof line - (size_t) n,
                 " (%llu similar messages suppressed)",
                 (unsigned long long) suppressed);
    }
    emit(m, level, line);
}

void
plane_log_write(struct plane_log_module *m, enum plane_log_level level,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrite(m, level, 0, fmt, ap);
    va_end(ap);
}

void
plane_log_write_rl(struct plane_log_module *m, enum plane_log_level level,
                   struct plane_log_rl *rl, const char *fmt, ...)
{
    uint64_t suppressed = rl->suppressed;
    rl->suppressed = 0;
    va_list ap;
    va_start(ap, fmt);
    vwrite(m, level, suppressed, fmt, ap);
    va_end(ap);
}

void
plane_log_set_default_level(enum plane_log_level level)
{
    __atomic_store_n(&default_level, (int) level, __ATOMIC_RELAXED);
}

int
plane_log_set_level(const char *name, enum plane_log_level level)
{
    bool all = !strcmp(name, "all");
    bool found = false;
    pthread_mutex_lock(&log_mutex);
    for (struct plane_log_module *m = modules; m; m = m->next) {
        if (all || !strcmp(m->name, name)) {
            __atomic_store_n(&m->level, (int) level, __ATOMIC_RELAXED);
            found = true;
        }
    }
    if (!found || all) {
        size_t i;
        for (i = 0; i < n_pending; i++) {
            if (!strcmp(pending[i].name, name)) {
                break;
            }
        }
        if (i == n_pending && n_pending < LOG_MAX_PENDING) {
            n_pending++;
        }
        if (i < n_pending) {
            snprintf(pending[i].name, sizeof pending[i].name, "%s", name);
            pending[i].level = (int) level;
        }
    }
    pthread_mutex_unlock(&log_mutex);
    return found || all ? 0 : PLANE_ENOENT;
}

int
plane_log_level_parse(const char *s)
{
    static const struct { const char *name; int level; } names[] = {
        {"off", PLANE_LOG_OFF},   {"err", PLANE_LOG_ERR},
        {"error", PLANE_LOG_ERR}, {"warn", PLANE_LOG_WARN},
        {"warning", PLANE_LOG_WARN}, {"info", PLANE_LOG_INFO},
        {"debug", PLANE_LOG_DBG}, {"dbg", PLANE_LOG_DBG},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(s, names[i].name)) {
            return names[i].level;
        }
    }
    return -1;
}

const char *
plane_log_level_name(enum plane_log_level level)
{
    return level <= PLANE_LOG_DBG ? level_names[level] : "?";
}

int
plane_log_configure(const char *spec)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int) sizeof buf) {
        return PLANE_EINVAL;
    }
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int level = plane_log_level_parse(eq ? eq + 1 : tok);
        if (level < 0) {
            return PLANE_EINVAL;
        }
        if (eq) {
            *eq = '\0';
            plane_log_set_level(tok, (enum plane_log_level) level);
        } else {
            plane_log_set_default_level((enum plane_log_level) level);
        }
    }
    return 0;
}

void
plane_log_set_sink(plane_log_sink_fn fn, void *arg)
{
    pthread_mutex_lock(&log_mutex);
    sink_fn = fn;
    sink_arg = arg;
    pthread_mutex_unlock(&log_mutex);
}

void
plane_log_set_ident(const char *s)
{
    pthread_mutex_lock(&log_mutex);
    snprintf(ident, sizeof ident, "%s", s ? s : "");
    pthread_mutex_unlock(&log_mutex);
}
