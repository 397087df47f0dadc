/* Reports the running libplane's version. */
#include <plane/version.h>

const char *
plane_version_string(void)
{
    return PLANE_VERSION_STRING;
}
