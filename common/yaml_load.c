/* Shared YAML-loading machinery for the config and workload loaders (see yaml_load.h). */
#include "common/yaml_load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/config.h"

/* ---------------------------------------------------------------------------
 * Errors and the field path.
 */

int
plane_yaml_vfail(struct plane_yaml_ctx *y, unsigned long line, const char *fmt, va_list ap)
{
    if (y->failed) {
        return PLANE_ECONFIG;
    }
    y->failed = true;
    if (!y->err || !y->err_len) {
        return PLANE_ECONFIG;
    }
    int n = y->path_len
            ? snprintf(y->err, y->err_len, "%s:%lu: %s: ", y->name, line, y->path)
            : snprintf(y->err, y->err_len, "%s:%lu: ", y->name, line);
    if (n >= 0 && (size_t)n < y->err_len) {
        vsnprintf(y->err + n, y->err_len - (size_t)n, fmt, ap);
    }
    return PLANE_ECONFIG;
}

int
plane_yaml_fail_line(struct plane_yaml_ctx *y, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = plane_yaml_vfail(y, line, fmt, ap);
    va_end(ap);
    return rc;
}

int
plane_yaml_fail(struct plane_yaml_ctx *y, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* libyaml counts lines from 0. */
    int rc = plane_yaml_vfail(y, node ? (unsigned long)node->start_mark.line + 1 : 1, fmt, ap);
    va_end(ap);
    return rc;
}

int
plane_yaml_fail_key(struct plane_yaml_ctx *y, yaml_node_t *map, const char *key,
                    const char *fmt, ...)
{
    yaml_node_t *at = plane_yaml_map_get(y, map, key);
    if (!at) {
        at = map;
    }
    size_t old = plane_yaml_path_push_key(y, key, strlen(key));
    va_list ap;
    va_start(ap, fmt);
    int rc = plane_yaml_vfail(y, at ? (unsigned long)at->start_mark.line + 1 : 1, fmt, ap);
    va_end(ap);
    plane_yaml_path_pop(y, old);
    return rc;
}

int
plane_yaml_nomem(struct plane_yaml_ctx *y)
{
    plane_yaml_fail_line(y, 1, "out of memory");
    return PLANE_ENOMEM;
}

int
plane_yaml_parser_fail(struct plane_yaml_ctx *y, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown";
    if (p->error == YAML_MEMORY_ERROR) {
        return plane_yaml_nomem(y);
    }
    if (!(y->flags & PLANE_YAML_SYNTAX_DETAIL)) {
        return plane_yaml_fail_line(y, (unsigned long)p->problem_mark.line + 1,
                                    "YAML syntax error: %s", problem);
    }
    if (p->error == YAML_READER_ERROR) {
        return plane_yaml_fail_line(y, 1, "not a valid YAML text: %s at byte %zu",
                                    p->problem ? p->problem : "unreadable", p->problem_offset);
    }
    if (p->context) {
        return plane_yaml_fail_line(y, (unsigned long)p->problem_mark.line + 1,
                                    "YAML syntax error: %s (%s at line %lu)", problem,
                                    p->context, (unsigned long)p->context_mark.line + 1);
    }
    return plane_yaml_fail_line(y, (unsigned long)p->problem_mark.line + 1,
                                "YAML syntax error: %s", problem);
}

void
plane_yaml_escape(char *buf, size_t buf_len, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char tmp[5];
        int tl;
        if (ch == '"' || ch == '\\') {
            tl = snprintf(tmp, sizeof tmp, "\\%c", ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            tl = snprintf(tmp, sizeof tmp, "\\x%02x", ch);
        } else {
            tmp[0] = (char)ch;
            tl = 1;
        }
        if (o + (size_t)tl + 4 > buf_len) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, tmp, (size_t)tl);
        o += (size_t)tl;
    }
    buf[o] = '\0';
}

size_t
plane_yaml_path_push_key(struct plane_yaml_ctx *y, const char *key, size_t len)
{
    size_t old = y->path_len;
    if (!(y->flags & PLANE_YAML_ESCAPE_TEXT)) {
        snprintf(y->path + old, sizeof y->path - old, "%s%.*s", old ? "." : "",
                 (int)(len > 64 ? 64 : len), key);
        y->path_len = strnlen(y->path, sizeof y->path - 1);
        return old;
    }
    char esc[72];
    plane_yaml_escape(esc, sizeof esc, key, len);
    int n = snprintf(y->path + old, sizeof y->path - old, "%s%s", old ? "." : "", esc);
    y->path_len = n < 0 ? old : strnlen(y->path, sizeof y->path - 1);
    return old;
}

size_t
plane_yaml_path_push_index(struct plane_yaml_ctx *y, size_t index)
{
    size_t old = y->path_len;
    snprintf(y->path + old, sizeof y->path - old, "[%zu]", index);
    y->path_len = strnlen(y->path, sizeof y->path - 1);
    return old;
}

void
plane_yaml_path_pop(struct plane_yaml_ctx *y, size_t old)
{
    y->path_len = old;
    y->path[old] = '\0';
}

/* ---------------------------------------------------------------------------
 * Nodes.
 */

yaml_node_t *
plane_yaml_node(struct plane_yaml_ctx *y, int id)
{
    return yaml_document_get_node(y->doc, id);
}

yaml_node_t *
plane_yaml_map_get(struct plane_yaml_ctx *y, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        if (plane_yaml_scalar_eq(plane_yaml_node(y, p->key), key)) {
            return plane_yaml_node(y, p->value);
        }
    }
    return NULL;
}

bool
plane_yaml_is_scalar(const yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE;
}

bool
plane_yaml_is_null(const struct plane_yaml_ctx *y, const yaml_node_t *node)
{
    if (!plane_yaml_is_scalar(node) || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *s = (const char *)node->data.scalar.value;
    size_t n = node->data.scalar.length;
    bool any_case = y->flags & PLANE_YAML_NULL_ANY_CASE;
    return n == 0 || (n == 1 && s[0] == '~')
           || (n == 4 && (!memcmp(s, "null", 4)
                          || (any_case && (!memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)))));
}

bool
plane_yaml_scalar_eq(const yaml_node_t *node, const char *s)
{
    size_t n = strlen(s);
    return plane_yaml_is_scalar(node) && node->data.scalar.length == n
           && !memcmp(node->data.scalar.value, s, n);
}

const char *
plane_yaml_describe(const struct plane_yaml_ctx *y, const yaml_node_t *node, char *buf,
                    size_t len)
{
    if (!node) {
        return "nothing";
    }
    if (node->type == YAML_MAPPING_NODE) {
        return "a mapping";
    }
    if (node->type == YAML_SEQUENCE_NODE) {
        return "a list";
    }
    if (y->flags & PLANE_YAML_ESCAPE_TEXT) {
        if (node->type != YAML_SCALAR_NODE) {
            return "an empty node";
        }
        char esc[48];
        plane_yaml_escape(esc, sizeof esc, (const char *)node->data.scalar.value,
                    node->data.scalar.length);
        snprintf(buf, len, "\"%s\"", esc);
        return buf;
    }
    if (plane_yaml_is_null(y, node)) {
        return "no value";
    }
    size_t l = node->data.scalar.length;
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < l && o + 5 < len; i++) {
        unsigned char ch = node->data.scalar.value[i];
        buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* ---------------------------------------------------------------------------
 * Scalars.
 */

bool
plane_yaml_parse_u64(const char *s, size_t len, uint64_t *out)
{
    unsigned base = 10;
    size_t i = 0;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i >= len) {
        return false;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        unsigned d;
        if (ch >= '0' && ch <= '9') {
            d = ch - '0';
        } else if (base == 16 && ch >= 'a' && ch <= 'f') {
            d = ch - 'a' + 10;
        } else if (base == 16 && ch >= 'A' && ch <= 'F') {
            d = ch - 'A' + 10;
        } else {
            return false;
        }
        if (v > (UINT64_MAX - d) / base) {
            return false;
        }
        v = v * base + d;
    }
    *out = v;
    return true;
}

bool
plane_yaml_parse_real(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        /* Reject hex floats, "inf" and "nan", which strtod would take. */
        if (!strchr("0123456789.eE+-", s[i])) {
            return false;
        }
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || errno || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

bool
plane_yaml_valid_name(const char *s, size_t len)
{
    if (len == 0 || len >= PLANE_CONFIG_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.')) {
            return false;
        }
    }
    return true;
}

int
plane_yaml_get_uint(struct plane_yaml_ctx *y, yaml_node_t *node, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    char got[80];
    uint64_t v;
    if (!plane_yaml_parse_u64((const char *)node->data.scalar.value, node->data.scalar.length,
                              &v)) {
        return plane_yaml_fail(y, node, "expected a non-negative integer, got %s",
                               plane_yaml_describe(y, node, got, sizeof got));
    }
    if (v < min || v > max) {
        return plane_yaml_fail(y, node, "%" PRIu64 " is out of range [%" PRIu64 ", %" PRIu64 "]",
                               v, min, max);
    }
    *out = v;
    return 0;
}

int
plane_yaml_get_name(struct plane_yaml_ctx *y, yaml_node_t *node, char *dst)
{
    char got[80];
    const char *s = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;
    if (!plane_yaml_valid_name(s, len)) {
        return plane_yaml_fail(y, node, "expected a name of 1-%d characters [A-Za-z0-9_.-], "
                               "got %s", PLANE_CONFIG_NAME_MAX - 1,
                               plane_yaml_describe(y, node, got, sizeof got));
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

int
plane_yaml_get_enum(struct plane_yaml_ctx *y, yaml_node_t *node, const char *const *names,
                    unsigned *out)
{
    char got[80], list[128] = "";
    for (unsigned i = 0; names[i]; i++) {
        if (plane_yaml_scalar_eq(node, names[i])) {
            *out = i;
            return 0;
        }
        size_t o = strlen(list);
        snprintf(list + o, sizeof list - o, "%s%s", i ? "|" : "", names[i]);
    }
    return plane_yaml_fail(y, node, "expected one of %s, got %s", list,
                           plane_yaml_describe(y, node, got, sizeof got));
}

static uint32_t
feature_from_node(const struct plane_yaml_ctx *y, const yaml_node_t *node)
{
    if (y->flags & PLANE_YAML_STRICT_FEATURES) {
        for (size_t i = 0; i < PLANE_FEATURE_COUNT; i++) {
            if (plane_yaml_scalar_eq(node, plane_feature_name(1u << i))) {
                return 1u << i;
            }
        }
        return 0;
    }
    char name[32] = "";
    if (plane_yaml_is_scalar(node) && node->data.scalar.length < sizeof name) {
        memcpy(name, node->data.scalar.value, node->data.scalar.length);
    }
    return plane_feature_from_name(name);
}

int
plane_yaml_get_features(struct plane_yaml_ctx *y, yaml_node_t *node, uint32_t *mask)
{
    char got[80];
    *mask = 0;
    if (plane_yaml_is_null(y, node)) {
        return 0;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        return plane_yaml_fail(y, node, "expected a list of features, got %s",
                               plane_yaml_describe(y, node, got, sizeof got));
    }
    size_t i = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++, i++) {
        yaml_node_t *item = plane_yaml_node(y, *it);
        uint32_t bit = feature_from_node(y, item);
        if (bit && !(*mask & bit)) {
            *mask |= bit;
            continue;
        }
        char list[160] = "";
        for (size_t k = 0; k < PLANE_FEATURE_COUNT; k++) {
            size_t o = strlen(list);
            snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "",
                     plane_feature_name(1u << k));
        }
        size_t old = plane_yaml_path_push_index(y, i);
        const char *what = plane_yaml_describe(y, item, got, sizeof got);
        int rc = bit ? plane_yaml_fail(y, item, "feature %s listed twice", what)
                 : y->flags & PLANE_YAML_STRICT_FEATURES
                     ? plane_yaml_fail(y, item, "unknown feature %s (known: %s)", what, list)
                     : plane_yaml_fail(y, item, "unknown feature %s", what);
        plane_yaml_path_pop(y, old);
        return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Mappings.
 */

/* Edit distance, for "did you mean" on a misspelt key. */
static size_t
edit_distance(const char *a, size_t al, const char *b)
{
    size_t bl = strlen(b), row[41];
    if (al > 40 || bl > 40) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= bl; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= al; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bl; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            best = up + 1 < best ? up + 1 : best;
            row[j] = best;
            diag = up;
        }
    }
    return row[bl];
}

static const char *
row_name(const void *rows, size_t stride, size_t i)
{
    const char *const *name = (const void *)((const char *)rows + i * stride);
    return *name;
}

/* Records an unknown (i == n) or repeated key; returns PLANE_ECONFIG. */
static int
key_fail(struct plane_yaml_ctx *y, yaml_node_t *key, const void *rows, size_t stride, size_t i,
         size_t n, yaml_node_t *first_key)
{
    const char *ks = (const char *)key->data.scalar.value;
    size_t kl = key->data.scalar.length;
    size_t old = plane_yaml_path_push_key(y, ks, kl);
    if (!(y->flags & PLANE_YAML_KEY_DETAIL)) {
        plane_yaml_fail(y, key, i == n ? "unknown key" : "duplicate key");
    } else if (i < n) {
        plane_yaml_fail(y, key, "duplicate key (first at line %lu)",
                        (unsigned long)first_key->start_mark.line + 1);
    } else {
        const char *hint = NULL;
        size_t best = 3;
        for (size_t k = 0; k < n; k++) {
            size_t d = edit_distance(ks, kl, row_name(rows, stride, k));
            if (d < best) {
                best = d;
                hint = row_name(rows, stride, k);
            }
        }
        plane_yaml_fail(y, key, "unknown key%s%s%s", hint ? " (did you mean \"" : "",
                        hint ? hint : "", hint ? "\"?)" : "");
    }
    plane_yaml_path_pop(y, old);
    return PLANE_ECONFIG;
}

int
plane_yaml_match_keys(struct plane_yaml_ctx *y, yaml_node_t *node, const void *rows,
                      size_t stride, size_t first, size_t n, size_t cap, yaml_node_t **found,
                      yaml_node_t **found_key)
{
    char got[80];
    if (!node || node->type != YAML_MAPPING_NODE) {
        return plane_yaml_fail(y, node, "expected a mapping, got %s",
                               plane_yaml_is_null(y, node)
                                   ? "no value"
                                   : plane_yaml_describe(y, node, got, sizeof got));
    }
    if (n > cap) {
        return plane_yaml_fail(y, node, "internal error: section table too long");
    }
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = plane_yaml_node(y, pair->key);
        if (!plane_yaml_is_scalar(key)) {
            return plane_yaml_fail(y, key, "keys must be scalars, got %s",
                                   plane_yaml_describe(y, key, got, sizeof got));
        }
        size_t i;
        for (i = first; i < n; i++) {
            if (plane_yaml_scalar_eq(key, row_name(rows, stride, i))) {
                break;
            }
        }
        if (i == n || found[i]) {
            return key_fail(y, key, rows, stride, i, n, i < n ? found_key[i] : NULL);
        }
        found[i] = plane_yaml_node(y, pair->value);
        found_key[i] = key;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Loading.
 */

/* The event pass: see plane_yaml_load. */
static int
scan_events(struct plane_yaml_ctx *y, const char *buf, size_t len, const char *what)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        return plane_yaml_nomem(y);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    int depth = 0, rc = 0;
    size_t nodes = 0, docs = 0;
    for (bool done = false; !done && !rc;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = plane_yaml_parser_fail(y, &parser);
            break;
        }
        unsigned long line = (unsigned long)ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_ALIAS_EVENT:
            /* A "billion laughs" document is tiny as a graph but explodes when walked. */
            rc = plane_yaml_fail_line(y, line, "YAML aliases (*name) are not supported");
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                rc = plane_yaml_fail_line(y, line, "only one YAML document is allowed");
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > PLANE_CONFIG_MAX_DEPTH) {
                rc = plane_yaml_fail_line(y, line, "nested deeper than %d levels",
                                          PLANE_CONFIG_MAX_DEPTH);
            }
            /* fall through */
        case YAML_SCALAR_EVENT:
            if (!rc && ++nodes > PLANE_CONFIG_MAX_NODES) {
                rc = plane_yaml_fail_line(y, line, "more than %d YAML nodes",
                                          PLANE_CONFIG_MAX_NODES);
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (!rc && docs == 0) {
        rc = plane_yaml_fail_line(y, 1, "empty %s", what);
    }
    return rc;
}

int
plane_yaml_load(struct plane_yaml_ctx *y, const char *buf, size_t len, const char *what,
                yaml_document_t *doc)
{
    int rc = scan_events(y, buf, len, what);
    if (rc) {
        return rc;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        return plane_yaml_nomem(y);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    rc = yaml_parser_load(&parser, doc) ? 0 : plane_yaml_parser_fail(y, &parser);
    yaml_parser_delete(&parser);
    return rc;
}

int
plane_yaml_check_buf(struct plane_yaml_ctx *y, bool have_out, const char **buf, size_t *len)
{
    if (y->err && y->err_len) {
        y->err[0] = '\0';
    }
    if (!have_out) {
        return PLANE_EINVAL;
    }
    if (*len > PLANE_CONFIG_MAX_BYTES) {
        return plane_yaml_fail_line(y, 1, "file too large (%zu bytes, at most %u)", *len,
                                    PLANE_CONFIG_MAX_BYTES);
    }
    if (!*buf) {
        *buf = "";
        *len = 0;
    }
    return 0;
}

int
plane_yaml_read_file(struct plane_yaml_ctx *y, bool have_out, const char *path, char **out,
                     size_t *len)
{
    bool detail = y->flags & PLANE_YAML_FILE_DETAIL;
    *out = NULL;
    *len = 0;
    if (y->err && y->err_len) {
        y->err[0] = '\0';
    }
    if (!have_out || !path) {
        return PLANE_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (detail ? O_NONBLOCK : 0));
    if (fd < 0) {
        int rc = -errno;
        if (y->err && y->err_len) {
            snprintf(y->err, y->err_len, "%s: cannot open: %s", path, strerror(errno));
        }
        return rc;
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (!regular || st.st_size > (off_t)PLANE_CONFIG_MAX_BYTES) {
        close(fd);
        if (!detail) {
            return plane_yaml_fail_line(y, 1, "not a regular file of at most %u bytes",
                                        PLANE_CONFIG_MAX_BYTES);
        }
        return !regular ? plane_yaml_fail_line(y, 1, "not a regular file")
                        : plane_yaml_fail_line(y, 1, "file too large (%lld bytes, at most %u)",
                                               (long long)st.st_size, PLANE_CONFIG_MAX_BYTES);
    }
    /* Read one byte more than allowed, to notice a file that grew meanwhile. */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = plane_malloc(cap);
    if (!buf) {
        close(fd);
        return detail ? plane_yaml_nomem(y) : PLANE_ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int rc = -errno;
            if (y->err && y->err_len) {
                snprintf(y->err, y->err_len, "%s: cannot read: %s", path, strerror(errno));
            }
            close(fd);
            plane_free(buf);
            return rc;
        }
        n += (size_t)r;
        if (r == 0 || n == cap) {
            break;
        }
    }
    close(fd);
    if (n == cap) {
        plane_free(buf);
        return plane_yaml_fail_line(y, 1, "file changed while being read");
    }
    *out = buf;
    *len = n;
    return 0;
}
