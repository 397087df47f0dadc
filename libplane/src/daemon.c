/* What every daemon shares: options, config, identity, signals, systemd readiness. */
#include "daemon.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include <plane/error.h>
#include <plane/version.h>

#include "common/alloc.h"
#include "common/auth.h"
#include "common/config.h"
#include "common/fault.h"
#include "common/log.h"

PLANE_LOG_MODULE(daemon);

static void
usage(FILE *f, const char *prog, bool need_id)
{
    fprintf(f,
            "usage: %s --config FILE%s [options]\n"
            "\n"
            "  -c, --config FILE       rack configuration (YAML)\n"
            "%s"
            "  -l, --log-level SPEC    \"info\" or \"info,udp=debug,rpc=warn\"\n"
            "                          (levels: off, err, warn, info, debug)\n"
            "  -f, --fault SPEC        fault injection on the daemon's endpoint,\n"
            "                          e.g. \"drop=0.1,dup=0.05,delay=2ms:5ms,seed=42\"\n"
            "      --check-config      validate the configuration, print it, exit\n"
            "  -h, --help              this text\n"
            "  -V, --version           print the version\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the timers.\n"
            "Exit status: 0 clean, 1 configuration or runtime error, 2 usage.\n",
            prog, need_id ? " --id NAME" : "",
            need_id ? "  -i, --id NAME           this device's name in the config\n" : "");
}

int
plane_daemon_parse_args(struct plane_daemon_opts *o, const char *prog,
                        bool need_id, int argc, char **argv)
{
    enum { OPT_CHECK = 0x100 };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "id", required_argument, NULL, 'i' },
        { "log-level", required_argument, NULL, 'l' },
        { "fault", required_argument, NULL, 'f' },
        { "check-config", no_argument, NULL, OPT_CHECK },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    o->prog = prog;
    optind = 1;               /* tests may parse several argv in one process */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:i:l:f:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 'i': o->id = optarg; break;
        case 'l': o->log_level = optarg; break;
        case 'f': o->fault = optarg; break;
        case OPT_CHECK: o->check_config = true; break;
        case 'h':
            usage(stdout, prog, need_id);
            return 1;
        case 'V':
            printf("%s %s\n", prog, plane_version_string());
            return 1;
        default:
            if (optopt) {
                fprintf(stderr, "%s: option -%c: missing argument or unknown\n",
                        prog, optopt);
            } else {
                fprintf(stderr, "%s: unknown option %s\n", prog, argv[optind - 1]);
            }
            usage(stderr, prog, need_id);
            return PLANE_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
        usage(stderr, prog, need_id);
        return PLANE_EINVAL;
    }
    if (!o->config_path) {
        fprintf(stderr, "%s: --config is required\n", prog);
        usage(stderr, prog, need_id);
        return PLANE_EINVAL;
    }
    if (need_id && !o->id) {
        fprintf(stderr, "%s: --id is required\n", prog);
        usage(stderr, prog, need_id);
        return PLANE_EINVAL;
    }
    return 0;
}

int
plane_daemon_exit_code(int rc)
{
    if (rc == 0 || rc == 1) {
        return 0;
    }
    return rc == PLANE_EINVAL ? 2 : 1;
}

static void
watchdog_cb(uv_timer_t *t)
{
    (void) t;
    sd_notify(0, "WATCHDOG=1");
}

static void
daemon_handle_closed(uv_handle_t *h)
{
    (void) h;
}

void
plane_daemon_stop(struct plane_daemon *d)
{
    if (d->stopping) {
        return;
    }
    d->stopping = true;
    PLANE_INFO("stopping");
    sd_notify(0, "STOPPING=1");
    if (d->on_stop) {
        d->on_stop(d);
    }
    if (d->handles_inited) {
        uv_close((uv_handle_t *) &d->sigterm, daemon_handle_closed);
        uv_close((uv_handle_t *) &d->sigint, daemon_handle_closed);
        uv_close((uv_handle_t *) &d->sighup, daemon_handle_closed);
        uv_close((uv_handle_t *) &d->watchdog, daemon_handle_closed);
        d->handles_inited = false;
    }
}

/* True when a and b differ in anything a reload cannot apply. */
static bool
config_needs_restart(const struct plane_config *a, const struct plane_config *b,
                     char *what, size_t len)
{
    if (strcmp(a->rack.name, b->rack.name)
        || memcmp(a->rack.auth_key, b->rack.auth_key, sizeof a->rack.auth_key)
        || a->rack.hash_seed != b->rack.hash_seed) {
        snprintf(what, len, "rack");
        return true;
    }
    if (a->sw.id != b->sw.id || !plane_config_addr_equal(&a->sw.control, &b->sw.control)
        || a->sw.n_ports != b->sw.n_ports) {
        snprintf(what, len, "switch");
        return true;
    }
    if (a->n_devices != b->n_devices) {
        snprintf(what, len, "devices");
        return true;
    }
    for (size_t i = 0; i < a->n_devices; i++) {
        const struct plane_config_device *x = &a->devices[i], *y = &b->devices[i];
        if (x->id != y->id || strcmp(x->name, y->name) || x->role != y->role
            || !plane_config_addr_equal(&x->address, &y->address)
            || x->rate_pps != y->rate_pps || x->features != y->features) {
            snprintf(what, len, "devices[%zu]", i);
            return true;
        }
    }
    if (a->shards.logical_devices != b->shards.logical_devices) {
        snprintf(what, len, "shards");
        return true;
    }
    if (a->n_apps != b->n_apps) {
        snprintf(what, len, "apps");
        return true;
    }
    for (size_t i = 0; i < a->n_apps; i++) {
        if (a->apps[i].id != b->apps[i].id || strcmp(a->apps[i].module, b->apps[i].module)) {
            snprintf(what, len, "apps[%zu]", i);
            return true;
        }
    }
    return false;
}

/*
 * SIGHUP: re-read and re-validate the file.  Only the timers change at run
 * time (the owner re-arms its timers in on_reload); the log level is the
 * command line's and is re-applied; everything else (addresses, devices,
 * shards, apps) needs a restart and is only reported.
 */
static void
daemon_reload(struct plane_daemon *d)
{
    char err[512];
    struct plane_config *nc = NULL;
    int rc = plane_config_load_file(d->opts.config_path, &nc, err, sizeof err);
    if (rc) {
        PLANE_ERR("reload: %s (keeping the running configuration)", err);
        return;
    }
    char what[64];
    if (config_needs_restart(d->cfg, nc, what, sizeof what)) {
        PLANE_WARN("reload: %s changed: not applied until a restart", what);
    }
    if (d->opts.log_level) {
        plane_log_configure(d->opts.log_level);
    }
    if (d->on_reload) {
        d->on_reload(d, nc);
    }
    /* Owners keep pointers into d->cfg, so the new timers are copied into
     * it rather than the config swapped. */
    d->cfg->timers = nc->timers;
    plane_config_delete(nc);
    PLANE_INFO("reload: timers applied");
    plane_daemon_status(d, "running (reloaded)");
}

static void
signal_cb(uv_signal_t *s, int signum)
{
    struct plane_daemon *d = s->data;
    if (signum == SIGHUP) {
        daemon_reload(d);
        return;
    }
    PLANE_INFO("signal %d", signum);
    plane_daemon_stop(d);
}

void
plane_daemon_status(struct plane_daemon *d, const char *fmt, ...)
{
    (void) d;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sd_notifyf(0, "STATUS=%s", buf);
}

int
plane_daemon_init(struct plane_daemon *d, const struct plane_daemon_opts *o)
{
    memset(d, 0, sizeof *d);
    d->opts = *o;
    const char *prog = o->prog ? o->prog : "plane";
    if (o->log_level && plane_log_configure(o->log_level)) {
        fprintf(stderr, "%s: bad --log-level \"%s\"\n", prog, o->log_level);
        return PLANE_EINVAL;
    }
    plane_log_set_ident(o->id ? o->id : prog);

    char err[512];
    int rc = plane_config_load_file(o->config_path, &d->cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return rc == PLANE_ENOMEM ? rc : PLANE_ECONFIG;
    }
    if (o->id) {
        const struct plane_config_device *dev = plane_config_find_device(d->cfg, o->id);
        if (!dev) {
            fprintf(stderr, "%s: %s: no device named \"%s\" in devices\n", prog,
                    o->config_path, o->id);
            return PLANE_ECONFIG;
        }
        d->self_id = dev->id;
    } else {
        d->self_id = d->cfg->sw.id;
    }
    if (o->check_config) {
        if (plane_config_dump(d->cfg, stdout)) {
            return PLANE_EIO;
        }
        return 1;
    }

    if (o->fault && *o->fault) {
        d->fault = plane_calloc(1, sizeof *d->fault);
        if (!d->fault) {
            return PLANE_ENOMEM;
        }
        if (plane_fault_parse(d->fault, o->fault)) {
            fprintf(stderr, "%s: bad --fault \"%s\"\n", prog, o->fault);
            return PLANE_EINVAL;
        }
        char spec[256];
        PLANE_INFO("fault injection: %s (replay with this seed)",
                   plane_fault_format(d->fault, spec, sizeof spec));
    }

    d->incarnation = plane_auth_new_incarnation();
    d->auth = plane_calloc(1, sizeof *d->auth);
    if (!d->auth) {
        return PLANE_ENOMEM;
    }
    rc = plane_auth_init(d->auth, d->cfg->rack.auth_key, 0);
    if (rc) {
        plane_free(d->auth);
        d->auth = NULL;
        return rc;
    }

    rc = uv_loop_init(&d->loop);
    if (rc) {
        return rc;
    }
    d->loop_inited = true;
    d->loop.data = d;
    uv_signal_init(&d->loop, &d->sigterm);
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sighup);
    uv_timer_init(&d->loop, &d->watchdog);
    d->sigterm.data = d->sigint.data = d->sighup.data = d->watchdog.data = d;
    d->handles_inited = true;
    if ((rc = uv_signal_start(&d->sigterm, signal_cb, SIGTERM))
        || (rc = uv_signal_start(&d->sigint, signal_cb, SIGINT))
        || (rc = uv_signal_start(&d->sighup, signal_cb, SIGHUP))) {
        return rc;
    }
    PLANE_INFO("%s %s: %s as device %u, incarnation %#llx", prog,
               plane_version_string(), o->config_path, d->self_id,
               (unsigned long long) d->incarnation);
    return 0;
}

int
plane_daemon_run(struct plane_daemon *d)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0 && d->handles_inited) {
        uint64_t ms = usec / 2000;
        if (ms == 0) {
            ms = 1;
        }
        uv_timer_start(&d->watchdog, watchdog_cb, ms, ms);
        PLANE_INFO("systemd watchdog: petting every %llu ms", (unsigned long long) ms);
    }
    sd_notify(0, "READY=1");
    plane_daemon_status(d, "running as device %u", d->self_id);
    return uv_run(&d->loop, UV_RUN_DEFAULT);
}

static void
walk_close_cb(uv_handle_t *h, void *arg)
{
    (void) arg;
    if (!uv_is_closing(h)) {
        PLANE_WARN("handle of type %s still open at exit: closing it",
                   uv_handle_type_name(uv_handle_get_type(h)));
        uv_close(h, NULL);
    }
}

void
plane_daemon_uninit(struct plane_daemon *d)
{
    if (d->loop_inited) {
        if (d->handles_inited) {
            /* init failed half way, or run was never called: close ours. */
            d->on_stop = NULL;
            d->stopping = false;
            plane_daemon_stop(d);
        }
        uv_run(&d->loop, UV_RUN_NOWAIT);
        if (uv_loop_close(&d->loop) == UV_EBUSY) {
            uv_walk(&d->loop, walk_close_cb, NULL);
            uv_run(&d->loop, UV_RUN_DEFAULT);
            if (uv_loop_close(&d->loop)) {
                PLANE_ERR("event loop still busy at exit");
            }
        }
        d->loop_inited = false;
    }
    if (d->auth) {
        plane_auth_uninit(d->auth);
        plane_free(d->auth);
        d->auth = NULL;
    }
    plane_free(d->fault);
    d->fault = NULL;
    plane_config_delete(d->cfg);
    d->cfg = NULL;
}
