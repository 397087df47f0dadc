/* plane_strerror() and plane_err_name(), generated from PLANE_ERRNO_MAP. */
#include <string.h>

#include <plane/error.h>

const char *
plane_strerror(int err)
{
    switch (err) {
#define PLANE_ERR_STR_(name, value, desc) case (value): return desc;
    PLANE_ERRNO_MAP(PLANE_ERR_STR_)
#undef PLANE_ERR_STR_
    case 0:
        return "success";
    default:
        break;
    }
    if (err < 0 && err > -4000) {
        return strerror(-err);
    }
    return "unknown error";
}

const char *
plane_err_name(int err)
{
    switch (err) {
#define PLANE_ERR_NAME_(name, value, desc) case (value): return #name;
    PLANE_ERRNO_MAP(PLANE_ERR_NAME_)
#undef PLANE_ERR_NAME_
    case 0:
        return "OK";
    default:
        return "UNKNOWN";
    }
}
