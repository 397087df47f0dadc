/* nicd: the external-device runtime with the profile of a SmartNIC (role from the rack config). */
#include "common/config.h"
#include "device.h"

int
main(int argc, char **argv)
{
    return plane_device_main("nicd", PLANE_ROLE_NIC, argc, argv);
}
