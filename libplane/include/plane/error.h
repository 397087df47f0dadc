/* Plane's error codes: negative errno-style values and their descriptions. */
#pragma once

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every action in Plane returns 0 or one of these negative codes.  Codes that
 * have an errno equivalent use it, so libuv's negative codes (which are
 * -errno on Unix) pass through untranslated and plane_strerror() still names
 * them.  Plane-specific codes live above 4000, out of errno's range.
 *
 *  X(name, value, description)
 */
#define PLANE_ERRNO_MAP(X)                                                     \
    X(EPERM,      -EPERM,        "operation not permitted")                    \
    X(ENOENT,     -ENOENT,       "no such entry")                              \
    X(EIO,        -EIO,          "i/o error")                                  \
    X(EAGAIN,     -EAGAIN,       "resource temporarily unavailable")           \
    X(ENOMEM,     -ENOMEM,       "out of memory")                              \
    X(EACCES,     -EACCES,       "permission denied")                          \
    X(EBUSY,      -EBUSY,        "resource busy")                              \
    X(EEXIST,     -EEXIST,       "entry already exists")                       \
    X(EINVAL,     -EINVAL,       "invalid argument")                           \
    X(ENOSPC,     -ENOSPC,       "no space left (table full)")                 \
    X(ERANGE,     -ERANGE,       "value out of range")                         \
    X(ENOSYS,     -ENOSYS,       "not implemented")                            \
    X(EMSGSIZE,   -EMSGSIZE,     "message too long")                           \
    X(EPROTO,     -EPROTO,       "protocol error")                             \
    X(ENOTSUP,    -ENOTSUP,      "operation not supported")                    \
    X(EADDRINUSE, -EADDRINUSE,   "address already in use")                     \
    X(ECANCELED,  -ECANCELED,    "operation canceled")                         \
    X(ETIMEDOUT,  -ETIMEDOUT,    "timed out")                                  \
    X(ECONNREFUSED, -ECONNREFUSED, "connection refused")                       \
    X(EALREADY,   -EALREADY,     "operation already in progress")              \
    X(EBADMSG,    -EBADMSG,      "malformed message")                          \
    X(ETRUNC,     -4001,         "truncated input")                            \
    X(EVERSION,   -4002,         "unsupported protocol version")               \
    X(EAUTH,      -4003,         "authentication failed")                      \
    X(EREPLAY,    -4004,         "replayed message")                           \
    X(EPEER,      -4005,         "unknown peer")                               \
    X(ECONFIG,    -4006,         "invalid configuration")                      \
    X(EFRAG,      -4007,         "fragmented packet")                          \
    X(EUNSUPP,    -4008,         "unsupported packet type")                    \
    X(ESTATE,     -4009,         "invalid state for operation")                \
    X(EFEATURE,   -4010,         "device lacks a feature the app needs")

enum plane_errno {
#define PLANE_ERR_ENUM_(name, value, desc) PLANE_##name = (value),
    PLANE_ERRNO_MAP(PLANE_ERR_ENUM_)
#undef PLANE_ERR_ENUM_
};

/*
 * Returns a human-readable description of err (a negative code).  Unknown
 * codes are described by strerror() when they are errno values, otherwise as
 * "unknown error".  The string is static; never NULL.
 */
const char *plane_strerror(int err);

/* Returns the symbolic name of err ("EINVAL", "EAUTH", ...) or "UNKNOWN". */
const char *plane_err_name(int err);

#ifdef __cplusplus
}
#endif
