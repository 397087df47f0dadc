/* switchd: the top-of-rack switch daemon, a thin main() over libplane's switch runtime. */
#include <plane/error.h>

#include "daemon.h"
#include "switch.h"

/* SIGTERM/SIGINT: close the switch's handles so the loop can end. */
static void
switchd_on_stop(struct plane_daemon *d)
{
    plane_switch_stop(d->owner);
}

/* SIGHUP: the switch re-arms the timers whose periods changed. */
static void
switchd_on_reload(struct plane_daemon *d, const struct plane_config *nc)
{
    plane_switch_reload(d->owner, nc);
}

int
main(int argc, char **argv)
{
    struct plane_daemon_opts opts;
    struct plane_daemon d = { 0 };
    struct plane_switch *sw = NULL;

    int rc = plane_daemon_parse_args(&opts, "switchd", false, argc, argv);
    if (rc) {
        return plane_daemon_exit_code(rc);
    }
    rc = plane_daemon_init(&d, &opts);
    if (rc == 0) {
        sw = plane_switch_new(&d);
        rc = sw ? 0 : PLANE_EINVAL;
    }
    if (rc == 0) {
        d.owner = sw;
        d.on_stop = switchd_on_stop;
        d.on_reload = switchd_on_reload;
        rc = plane_switch_start(sw);
        if (rc) {
            plane_daemon_stop(&d);   /* closes what start opened, via on_stop */
        }
        int run = plane_daemon_run(&d);
        rc = rc ? rc : run;
    }

    plane_switch_delete(sw);
    plane_daemon_uninit(&d);
    return plane_daemon_exit_code(rc);
}
