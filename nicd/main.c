/* nicd: the external-device runtime with the profile of a SmartNIC (role from the rack config). */
#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include <plane/error.h>

#include "common/config.h"
#include "daemon.h"
#include "device.h"

int
main(int argc, char **argv)
{
    struct plane_daemon_opts opts;
    int rc = plane_daemon_parse_args(&opts, "nicd", true, argc, argv);
    if (rc) {
        return plane_daemon_exit_code(rc);
    }
    struct plane_daemon d;
    struct plane_device *dev = NULL;
    rc = plane_daemon_init(&d, &opts);
    if (rc == 0) {
        rc = plane_device_check_role(&d, PLANE_ROLE_NIC);
    }
    if (rc == 0) {
        dev = plane_device_new(&d);
        rc = dev ? plane_device_start(dev) : PLANE_ECONFIG;
        if (rc == 0) {
            rc = plane_daemon_run(&d);
        } else {
            /* Close whatever start opened before freeing the device. */
            plane_daemon_stop(&d);
            uv_run(&d.loop, UV_RUN_DEFAULT);
            rc = rc == PLANE_EINVAL ? PLANE_ECONFIG : rc;
        }
    }
    plane_device_delete(dev);
    plane_daemon_uninit(&d);
    return plane_daemon_exit_code(rc);
}
