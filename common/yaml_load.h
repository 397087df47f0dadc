/* Shared YAML-loading machinery: bounded event scan, node helpers, file:line:field errors. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

/*
 * Both the rack config loader (common/config.c) and the planner's workload
 * loader (libplane/src/workload.c) walk libyaml's node graph with their own
 * field tables; what they share lives here.  The two loaders' messages differ
 * in a few details that tests pin down, so the differences are flags on the
 * context rather than two copies of the code.
 */

/* "Null" and "NULL" are YAML null too (else only "", "~" and "null"). */
#define PLANE_YAML_NULL_ANY_CASE   0x1u
/* Escape quotes and control bytes in quoted values and paths, cut with "..."
 * (else non-printable bytes become '?', path keys are cut at 64 bytes, and a
 * null value is described as "no value"). */
#define PLANE_YAML_ESCAPE_TEXT     0x2u
/* Syntax errors carry libyaml's context and reader errors their byte offset. */
#define PLANE_YAML_SYNTAX_DETAIL   0x4u
/* File reading: O_NONBLOCK open, separate "not a regular file" and "file too
 * large (N bytes ...)" messages, "out of memory" reported in the message. */
#define PLANE_YAML_FILE_DETAIL     0x8u

/* Feature names match the whole scalar and "unknown feature" lists the known
 * ones (else a name is read up to a NUL, at most 31 bytes, and not listed). */
#define PLANE_YAML_STRICT_FEATURES 0x10u

/* Unknown keys get a "did you mean" hint and duplicates the first one's line. */
#define PLANE_YAML_KEY_DETAIL      0x20u

/* One load's state: the document being walked, where errors go, the field path. */
struct plane_yaml_ctx {
    yaml_document_t *doc;
    const char *name;       /* file name for messages; borrowed */
    char *err;              /* caller's buffer, may be NULL */
    size_t err_len;
    unsigned flags;         /* PLANE_YAML_* */
    bool failed;            /* the first error wins */
    char path[256];         /* "devices[1].address" */
    size_t path_len;
};

/*
 * Records "name:line: path: message" (or "name:line: message" at the top
 * level) in the error buffer, unless an error was already recorded.
 * Returns PLANE_ECONFIG.
 */
int plane_yaml_vfail(struct plane_yaml_ctx *y, unsigned long line, const char *fmt,
                     va_list ap) __attribute__((format(printf, 3, 0)));
int plane_yaml_fail_line(struct plane_yaml_ctx *y, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As fail_line at node's line (1 for NULL). */
int plane_yaml_fail(struct plane_yaml_ctx *y, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As fail at the value of `key` in mapping `map` (or at map), path extended by key. */
int plane_yaml_fail_key(struct plane_yaml_ctx *y, yaml_node_t *map, const char *key,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records "out of memory" at line 1; returns PLANE_ENOMEM. */
int plane_yaml_nomem(struct plane_yaml_ctx *y);
/* Records libyaml's parser error; returns PLANE_ECONFIG or PLANE_ENOMEM. */
int plane_yaml_parser_fail(struct plane_yaml_ctx *y, const yaml_parser_t *p);

/* Path: push returns the old length to give to pop. */
size_t plane_yaml_path_push_key(struct plane_yaml_ctx *y, const char *key, size_t len);
size_t plane_yaml_path_push_index(struct plane_yaml_ctx *y, size_t index);
void plane_yaml_path_pop(struct plane_yaml_ctx *y, size_t old);

/* Nodes. */
yaml_node_t *plane_yaml_node(struct plane_yaml_ctx *y, int id);
/* The value of `key` in mapping `map`, or NULL (also when map is no mapping). */
yaml_node_t *plane_yaml_map_get(struct plane_yaml_ctx *y, yaml_node_t *map, const char *key);
bool plane_yaml_is_scalar(const yaml_node_t *node);
/* An unquoted YAML null ("", "~", "null"; see PLANE_YAML_NULL_ANY_CASE). */
bool plane_yaml_is_null(const struct plane_yaml_ctx *y, const yaml_node_t *node);
bool plane_yaml_scalar_eq(const yaml_node_t *node, const char *s);
/* What a node is, for "got X" messages: "a mapping", "a list", or the quoted
 * value written into buf.  Returns buf or a static string. */
const char *plane_yaml_describe(const struct plane_yaml_ctx *y, const yaml_node_t *node,
                                char *buf, size_t len);

/* Copies the n bytes at s into buf (buf_len >= 8) for a message: quotes and
 * control bytes escaped, cut with "..." when too long. */
void plane_yaml_escape(char *buf, size_t buf_len, const char *s, size_t n);

/* Text parsers on (s, len), not NUL-terminated; false when malformed. */
bool plane_yaml_parse_u64(const char *s, size_t len, uint64_t *out);   /* decimal or 0x */
bool plane_yaml_parse_real(const char *s, size_t len, double *out);    /* finite decimal */
bool plane_yaml_valid_name(const char *s, size_t len);  /* 1..63 of [A-Za-z0-9_.-] */

/* Scalar node readers: each records its error (file:line:path) and returns
 * PLANE_ECONFIG, or stores the value and returns 0.  node must be a scalar. */
int plane_yaml_get_uint(struct plane_yaml_ctx *y, yaml_node_t *node, uint64_t min,
                        uint64_t max, uint64_t *out);
/* dst holds PLANE_CONFIG_NAME_MAX bytes. */
int plane_yaml_get_name(struct plane_yaml_ctx *y, yaml_node_t *node, char *dst);
/* names is NULL-terminated; *out is the index of the match. */
int plane_yaml_get_enum(struct plane_yaml_ctx *y, yaml_node_t *node,
                        const char *const *names, unsigned *out);
/* A list of PLANE_FEATURE_MAP names (or null: none) into a mask; an unknown
 * or repeated name fails at its index. */
int plane_yaml_get_features(struct plane_yaml_ctx *y, yaml_node_t *node, uint32_t *mask);

/*
 * Matches the keys of mapping `node` to the rows [first, n) of a field table:
 * `rows` points at row 0, rows are `stride` bytes apart and each starts with
 * its `const char *name`.  Stores each key's value node in found[i] (found
 * has room for `cap` rows and starts zeroed; found_key likewise gets the key
 * nodes).  Fails when node is no mapping, or on a non-scalar, unknown or
 * repeated key (the path extended by the key).  Returns 0 or PLANE_ECONFIG.
 */
int plane_yaml_match_keys(struct plane_yaml_ctx *y, yaml_node_t *node, const void *rows,
                          size_t stride, size_t first, size_t n, size_t cap, yaml_node_t **found,
                          yaml_node_t **found_key);

/*
 * Loads buf's one document into *doc (the caller deletes it on 0).  An event
 * pass first, before the document API builds anything, rejects aliases,
 * nesting deeper than PLANE_CONFIG_MAX_DEPTH, more than PLANE_CONFIG_MAX_NODES
 * nodes and extra documents; no document at all is "empty <what>".
 * Returns 0, PLANE_ECONFIG (message recorded) or PLANE_ENOMEM.
 */
int plane_yaml_load(struct plane_yaml_ctx *y, const char *buf, size_t len, const char *what,
                    yaml_document_t *doc);
/*
 * A loader's first step on a buffer: clears y->err, then returns PLANE_EINVAL
 * without an output (!have_out), PLANE_ECONFIG for more than
 * PLANE_CONFIG_MAX_BYTES, else 0 with a NULL *buf made "" (and *len 0).
 */
int plane_yaml_check_buf(struct plane_yaml_ctx *y, bool have_out, const char **buf,
                         size_t *len);
/*
 * A loader's first step on a file: clears y->err (PLANE_EINVAL without an
 * output or path), then reads regular file `path` (y->name) of at most
 * PLANE_CONFIG_MAX_BYTES into a new buffer (*buf, plane_free it).  Returns 0,
 * a negative errno (cannot open/read, message set), PLANE_ECONFIG (not
 * regular, too large, changed while read) or PLANE_ENOMEM.
 */
int plane_yaml_read_file(struct plane_yaml_ctx *y, bool have_out, const char *path, char **buf,
                         size_t *len);
