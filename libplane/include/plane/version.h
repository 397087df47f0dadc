/* Plane's library version and wire-protocol version. */
#pragma once

#define PLANE_VERSION_MAJOR 0
#define PLANE_VERSION_MINOR 1
#define PLANE_VERSION_PATCH 0
#define PLANE_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the version of the libplane the program is running with. */
const char *plane_version_string(void);

#ifdef __cplusplus
}
#endif
