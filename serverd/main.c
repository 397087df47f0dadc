/* serverd: the external-device runtime with the profile of a server (role from the rack config). */
#include "common/config.h"
#include "device.h"

int
main(int argc, char **argv)
{
    return plane_device_main("serverd", PLANE_ROLE_SERVER, argc, argv);
}
