/* Planner workload loader: libyaml's document API walked by one field table per section. */
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/log.h"

PLANE_LOG_MODULE(workload);

/*
 * The same shape as common/config.c (whose walker is private to it): an
 * event pass bounds aliases, depth and node count, then the node graph is
 * walked with tables of {name, type, offset, bounds, required}.  Sections
 * parse in table order, so a section validator sees every field parsed.
 */

enum wl_type {
    WL_U32,
    WL_U64,
    WL_REAL,        /* double in [.dmin, .dmax] */
    WL_BOOL,
    WL_NAME,
    WL_ENUM,
    WL_FEATURES,
    WL_REALS,       /* list of REAL: double * + size_t count */
    WL_SECTION,
    WL_LIST,        /* list of mappings */
    WL_MAP,         /* NAME -> mapping; the key goes to the element's first field */
};

struct wl_ctx;
typedef int wl_validate_fn(struct wl_ctx *c, void *base, yaml_node_t *node, size_t index);

struct wl_field;
struct wl_section {
    const struct wl_field *fields;
    size_t n_fields;
    size_t size;
    bool keyed;                 /* a MAP element: fields[0] is parsed from the key */
    wl_validate_fn *validate;
};

struct wl_field {
    const char *name;
    enum wl_type type;
    size_t offset;
    size_t has;                 /* 1 + offset of a bool set when present */
    uint64_t def, min, max;
    double ddef, dmin, dmax;
    bool required;
    const char *const *names;
    const struct wl_section *sub;
    size_t count_off;
};

#define WL_MAX_FIELDS 12

struct wl_ctx {
    yaml_document_t *doc;
    const struct plane_config *rack;
    struct plane_workload *wl;
    const char *name;
    char *err;
    size_t err_len;
    bool failed;
    char path[256];
    size_t path_len;
};

static int __attribute__((format(printf, 3, 0)))
wl_vfail(struct wl_ctx *c, unsigned long line, const char *fmt, va_list ap)
{
    if (c->failed) {
        return PLANE_ECONFIG;
    }
    c->failed = true;
    if (c->err && c->err_len) {
        int n = c->path_len
                ? snprintf(c->err, c->err_len, "%s:%lu: %s: ", c->name, line, c->path)
                : snprintf(c->err, c->err_len, "%s:%lu: ", c->name, line);
        if (n >= 0 && (size_t)n < c->err_len) {
            vsnprintf(c->err + n, c->err_len - (size_t)n, fmt, ap);
        }
    }
    return PLANE_ECONFIG;
}

static int __attribute__((format(printf, 3, 4)))
wl_fail_line(struct wl_ctx *c, unsigned long line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = wl_vfail(c, line, fmt, ap);
    va_end(ap);
    return rc;
}

/* Fails at node's line (libyaml counts from 0) under the current path. */
static int __attribute__((format(printf, 3, 4)))
wl_fail(struct wl_ctx *c, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = wl_vfail(c, node ? (unsigned long)node->start_mark.line + 1 : 1, fmt, ap);
    va_end(ap);
    return rc;
}

static int
wl_nomem(struct wl_ctx *c)
{
    wl_fail_line(c, 1, "out of memory");
    return PLANE_ENOMEM;
}

static size_t
path_push(struct wl_ctx *c, const char *key, size_t len)
{
    size_t old = c->path_len;
    snprintf(c->path + old, sizeof c->path - old, "%s%.*s", old ? "." : "",
             (int)(len > 64 ? 64 : len), key);
    c->path_len = strnlen(c->path, sizeof c->path - 1);
    return old;
}

static size_t
path_push_index(struct wl_ctx *c, size_t i)
{
    size_t old = c->path_len;
    snprintf(c->path + old, sizeof c->path - old, "[%zu]", i);
    c->path_len = strnlen(c->path, sizeof c->path - 1);
    return old;
}

static void
path_pop(struct wl_ctx *c, size_t old)
{
    c->path_len = old;
    c->path[old] = '\0';
}

static yaml_node_t *
node_get(struct wl_ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static bool
is_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE;
}

static bool
is_null(const yaml_node_t *n)
{
    if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        return false;
    }
    const char *s = (const char *)n->data.scalar.value;
    size_t l = n->data.scalar.length;
    return l == 0 || (l == 1 && s[0] == '~') || (l == 4 && !strncmp(s, "null", 4));
}

static bool
scalar_eq(const yaml_node_t *n, const char *s)
{
    size_t l = strlen(s);
    return is_scalar(n) && n->data.scalar.length == l && !memcmp(n->data.scalar.value, s, l);
}

/* A short quoted rendering of a node for "got X" messages. */
static const char *
describe(const yaml_node_t *n, char *buf, size_t len)
{
    if (!n) {
        return "nothing";
    }
    if (n->type == YAML_MAPPING_NODE) {
        return "a mapping";
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        return "a list";
    }
    if (is_null(n)) {
        return "no value";
    }
    size_t l = n->data.scalar.length;
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < l && o + 5 < len; i++) {
        unsigned char ch = n->data.scalar.value[i];
        buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static bool
parse_u64(const char *s, size_t len, uint64_t *out)
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

/* A finite decimal number; strtod on a NUL-terminated copy, all of it consumed. */
static bool
parse_real(const char *s, size_t len, double *out)
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

static bool
valid_name(const char *s, size_t len)
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

static int parse_mapping(struct wl_ctx *c, const struct wl_section *s, void *base,
                         yaml_node_t *node, size_t index);

static void
field_default(const struct wl_field *f, void *base)
{
    void *p = (char *)base + f->offset;
    switch (f->type) {
    case WL_U32:
        *(uint32_t *)p = (uint32_t)f->def;
        break;
    case WL_U64:
        *(uint64_t *)p = f->def;
        break;
    case WL_REAL:
        *(double *)p = f->ddef;
        break;
    case WL_ENUM:
        *(unsigned *)p = (unsigned)f->def;
        break;
    default:
        break;
    }
}

static int
parse_scalar(struct wl_ctx *c, const struct wl_field *f, void *p, yaml_node_t *node)
{
    char got[80];
    const char *s = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;
    switch (f->type) {
    case WL_U32:
    case WL_U64: {
        uint64_t v;
        if (!parse_u64(s, len, &v)) {
            return wl_fail(c, node, "expected a non-negative integer, got %s",
                           describe(node, got, sizeof got));
        }
        if (v < f->min || v > f->max) {
            return wl_fail(c, node, "%" PRIu64 " is out of range [%" PRIu64 ", %" PRIu64 "]",
                           v, f->min, f->max);
        }
        if (f->type == WL_U32) {
            *(uint32_t *)p = (uint32_t)v;
        } else {
            *(uint64_t *)p = v;
        }
        return 0;
    }
    case WL_REAL: {
        double v;
        if (!parse_real(s, len, &v)) {
            return wl_fail(c, node, "expected a number, got %s", describe(node, got, sizeof got));
        }
        if (v < f->dmin || v > f->dmax) {
            return wl_fail(c, node, "%g is out of range [%g, %g]", v, f->dmin, f->dmax);
        }
        *(double *)p = v;
        return 0;
    }
    case WL_BOOL:
        if (scalar_eq(node, "true")) {
            *(bool *)p = true;
        } else if (scalar_eq(node, "false")) {
            *(bool *)p = false;
        } else {
            return wl_fail(c, node, "expected true or false, got %s",
                           describe(node, got, sizeof got));
        }
        return 0;
    case WL_NAME:
        if (!valid_name(s, len)) {
            return wl_fail(c, node, "expected a name of 1-%d characters [A-Za-z0-9_.-], got %s",
                           PLANE_CONFIG_NAME_MAX - 1, describe(node, got, sizeof got));
        }
        memcpy(p, s, len);
        ((char *)p)[len] = '\0';
        return 0;
    case WL_ENUM: {
        char list[128] = "";
        for (unsigned i = 0; f->names[i]; i++) {
            if (scalar_eq(node, f->names[i])) {
                *(unsigned *)p = i;
                return 0;
            }
            size_t o = strlen(list);
            snprintf(list + o, sizeof list - o, "%s%s", i ? "|" : "", f->names[i]);
        }
        return wl_fail(c, node, "expected one of %s, got %s", list,
                       describe(node, got, sizeof got));
    }
    default:
        return wl_fail(c, node, "internal error: bad field type");
    }
}

static int
parse_features(struct wl_ctx *c, uint32_t *mask, yaml_node_t *node)
{
    char got[80];
    *mask = 0;
    if (is_null(node)) {
        return 0;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        return wl_fail(c, node, "expected a list of features, got %s",
                       describe(node, got, sizeof got));
    }
    size_t i = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++, i++) {
        yaml_node_t *item = node_get(c, *it);
        char name[32] = "";
        if (is_scalar(item) && item->data.scalar.length < sizeof name) {
            memcpy(name, item->data.scalar.value, item->data.scalar.length);
        }
        uint32_t bit = plane_feature_from_name(name);
        if (!bit || (*mask & bit)) {
            size_t old = path_push_index(c, i);
            int rc = wl_fail(c, item, bit ? "feature %s listed twice" : "unknown feature %s",
                             describe(item, got, sizeof got));
            path_pop(c, old);
            return rc;
        }
        *mask |= bit;
    }
    return 0;
}

static int
parse_reals(struct wl_ctx *c, const struct wl_field *f, void *base, yaml_node_t *node)
{
    char got[80];
    if (node->type != YAML_SEQUENCE_NODE) {
        return wl_fail(c, node, "expected a list of numbers, got %s",
                       describe(node, got, sizeof got));
    }
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n < f->min || n > f->max) {
        return wl_fail(c, node, "expected %" PRIu64 "-%" PRIu64 " numbers, got %zu",
                       f->min, f->max, n);
    }
    double *v = plane_calloc(n, sizeof *v);
    if (!v) {
        return wl_nomem(c);
    }
    *(double **)((char *)base + f->offset) = v;
    *(size_t *)((char *)base + f->count_off) = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node_get(c, node->data.sequence.items.start[i]);
        if (!is_scalar(item) || !parse_real((const char *)item->data.scalar.value,
                                            item->data.scalar.length, &v[i])
            || v[i] < f->dmin || v[i] > f->dmax) {
            size_t old = path_push_index(c, i);
            int rc = wl_fail(c, item, "expected a number in [%g, %g], got %s", f->dmin,
                             f->dmax, describe(item, got, sizeof got));
            path_pop(c, old);
            return rc;
        }
    }
    return 0;
}

/* LIST (sequence of mappings) and MAP (NAME -> mapping, key into field 0). */
static int
parse_items(struct wl_ctx *c, const struct wl_field *f, void *base, yaml_node_t *node)
{
    char got[80];
    bool is_map = f->type == WL_MAP;
    size_t n = 0;
    if (!is_null(node)) {
        if (node->type != (is_map ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE)) {
            return wl_fail(c, node, "expected a %s, got %s", is_map ? "mapping" : "list",
                           describe(node, got, sizeof got));
        }
        n = is_map ? (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start)
                   : (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    }
    if (n < f->min || n > f->max) {
        return wl_fail(c, node, "expected %" PRIu64 "-%" PRIu64 " items, got %zu",
                       f->min, f->max, n);
    }
    if (!n) {
        return 0;
    }
    char *items = plane_calloc(n, f->sub->size);
    if (!items) {
        return wl_nomem(c);
    }
    /* Stored before parsing, so a failure part-way frees what was built. */
    *(void **)((char *)base + f->offset) = items;
    *(size_t *)((char *)base + f->count_off) = n;
    for (size_t i = 0; i < n; i++) {
        void *elem = items + i * f->sub->size;
        yaml_node_t *val;
        size_t old;
        int rc = 0;
        if (is_map) {
            yaml_node_pair_t *pair = &node->data.mapping.pairs.start[i];
            yaml_node_t *key = node_get(c, pair->key);
            val = node_get(c, pair->value);
            if (!is_scalar(key)) {
                return wl_fail(c, key, "keys must be scalars");
            }
            old = path_push(c, (const char *)key->data.scalar.value, key->data.scalar.length);
            rc = parse_scalar(c, &f->sub->fields[0], elem, key);
            for (size_t k = 0; k < i && !rc; k++) {
                if (!strcmp((const char *)elem + f->sub->fields[0].offset,
                            items + k * f->sub->size + f->sub->fields[0].offset)) {
                    rc = wl_fail(c, key, "duplicate key");
                }
            }
        } else {
            val = node_get(c, node->data.sequence.items.start[i]);
            old = path_push_index(c, i);
        }
        if (!rc) {
            rc = parse_mapping(c, f->sub, elem, val, i);
        }
        path_pop(c, old);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int
parse_field(struct wl_ctx *c, const struct wl_field *f, void *base, yaml_node_t *node)
{
    char got[80];
    void *p = (char *)base + f->offset;
    int rc;
    switch (f->type) {
    case WL_SECTION:
        rc = parse_mapping(c, f->sub, p, node, 0);
        break;
    case WL_LIST:
    case WL_MAP:
        rc = parse_items(c, f, base, node);
        break;
    case WL_FEATURES:
        rc = parse_features(c, p, node);
        break;
    case WL_REALS:
        rc = parse_reals(c, f, base, node);
        break;
    default:
        if (!is_scalar(node) || is_null(node)) {
            return wl_fail(c, node, "expected a value, got %s", describe(node, got, sizeof got));
        }
        rc = parse_scalar(c, f, p, node);
        break;
    }
    if (!rc && f->has) {
        *(bool *)((char *)base + f->has - 1) = true;
    }
    return rc;
}

static int
parse_mapping(struct wl_ctx *c, const struct wl_section *s, void *base, yaml_node_t *node,
              size_t index)
{
    char got[80];
    yaml_node_t *found[WL_MAX_FIELDS] = { 0 };
    if (!node || node->type != YAML_MAPPING_NODE) {
        return wl_fail(c, node, "expected a mapping, got %s", describe(node, got, sizeof got));
    }
    /* A MAP element's first field is its key, never written inside the mapping. */
    size_t first = s->keyed ? 1 : 0;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = node_get(c, pair->key);
        if (!is_scalar(key)) {
            return wl_fail(c, key, "keys must be scalars, got %s", describe(key, got, sizeof got));
        }
        size_t i;
        for (i = first; i < s->n_fields; i++) {
            if (scalar_eq(key, s->fields[i].name)) {
                break;
            }
        }
        if (i == s->n_fields || found[i]) {
            size_t old = path_push(c, (const char *)key->data.scalar.value,
                                   key->data.scalar.length);
            int rc = wl_fail(c, key, i == s->n_fields ? "unknown key" : "duplicate key");
            path_pop(c, old);
            return rc;
        }
        found[i] = node_get(c, pair->value);
    }
    for (size_t i = first; i < s->n_fields; i++) {
        const struct wl_field *f = &s->fields[i];
        size_t old = path_push(c, f->name, strlen(f->name));
        int rc = 0;
        if (found[i]) {
            rc = parse_field(c, f, base, found[i]);
        } else if (f->required) {
            rc = wl_fail(c, node, "missing required field");
        } else {
            field_default(f, base);
        }
        path_pop(c, old);
        if (rc) {
            return rc;
        }
    }
    return s->validate ? s->validate(c, base, node, index) : 0;
}

/* The value node of `key` in `map`, for a validator's line number. */
static yaml_node_t *
map_get(struct wl_ctx *c, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (scalar_eq(node_get(c, p->key), key)) {
            return node_get(c, p->value);
        }
    }
    return map;
}

static int __attribute__((format(printf, 4, 5)))
wl_fail_key(struct wl_ctx *c, yaml_node_t *map, const char *key, const char *fmt, ...)
{
    size_t old = path_push(c, key, strlen(key));
    yaml_node_t *at = map_get(c, map, key);
    va_list ap;
    va_start(ap, fmt);
    int rc = wl_vfail(c, (unsigned long)at->start_mark.line + 1, fmt, ap);
    va_end(ap);
    path_pop(c, old);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Validators.
 */

static int
validate_object(struct wl_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_workload_object *o = base, *all = o - index;
    for (size_t i = 0; i < index; i++) {
        if (!strcmp(all[i].name, o->name)) {
            return wl_fail_key(c, node, "name", "duplicate object \"%s\" (also objects[%zu])",
                               o->name, i);
        }
    }
    bool per_flow = o->kind == PLANE_WL_OBJ_TABLE || o->kind == PLANE_WL_OBJ_REGISTER;
    if (per_flow && o->entries) {
        return wl_fail_key(c, node, "entries", "a %s sizes itself per flow: use "
                           "entries_per_flow", plane_wl_obj_kind_name(o->kind));
    }
    if (!per_flow && !o->entries) {
        return wl_fail_key(c, node, "entries", "a %s needs a fixed entry count (entries > 0)",
                           plane_wl_obj_kind_name(o->kind));
    }
    return 0;
}

static int
validate_app(struct wl_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_workload_app *a = base, *all = a - index;
    struct plane_workload_popularity *pop = &a->popularity;
    for (size_t i = 0; i < index; i++) {
        if (!strcmp(all[i].name, a->name)) {
            return wl_fail_key(c, node, "name", "duplicate app \"%s\" (also apps[%zu])",
                               a->name, i);
        }
    }
    if (c->rack && !a->standalone && !plane_config_find_app(c->rack, a->name)) {
        return wl_fail_key(c, node, "name", "app \"%s\" is not in rack %s (add it there, "
                           "or set standalone: true)", a->name, c->rack->rack.name);
    }
    yaml_node_t *popn = map_get(c, node, "popularity");
    size_t old = path_push(c, "popularity", 10);
    int rc = 0;
    if (pop->has_zipf == (pop->n_fractions > 0)) {
        rc = wl_fail(c, popn, "give exactly one of zipf and fractions");
    } else if (pop->has_zipf && pop->has_keys) {
        rc = wl_fail_key(c, popn, "keys", "with zipf, the key count is zipf.keys");
    } else if (!pop->has_zipf && !pop->has_keys) {
        rc = wl_fail_key(c, popn, "keys", "fractions need keys: the key count");
    }
    if (!rc) {
        a->keys = pop->has_zipf ? pop->zipf.keys : pop->keys;
        if (pop->n_fractions) {
            double sum = 0;
            for (size_t i = 0; i < pop->n_fractions; i++) {
                sum += pop->fractions[i];
            }
            if (pop->n_fractions > a->keys) {
                rc = wl_fail_key(c, popn, "fractions", "%zu quanta but only %" PRIu64 " keys",
                                 pop->n_fractions, a->keys);
            } else if (fabs(sum - 1.0) > 1e-3) {
                rc = wl_fail_key(c, popn, "fractions", "fractions sum to %g, not 1", sum);
            } else {
                /* Normalise away rounding so the quanta cover all traffic exactly. */
                for (size_t i = 0; i < pop->n_fractions; i++) {
                    pop->fractions[i] /= sum;
                }
                a->quanta = (uint32_t)pop->n_fractions;
            }
        } else if (a->quanta > a->keys) {
            a->quanta = (uint32_t)a->keys;
        }
    }
    path_pop(c, old);
    return rc;
}

static int
validate_device(struct wl_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    (void)node;
    (void)index;
    struct plane_workload_device *d = base;
    if (c->rack && !plane_config_find_device(c->rack, d->name)
        && strcmp(c->rack->sw.name, d->name) != 0) {
        return wl_fail(c, node, "no device or switch named \"%s\" in rack %s", d->name,
                       c->rack->rack.name);
    }
    return 0;
}

static int
validate_top(struct wl_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    (void)index;
    struct plane_workload *wl = base;
    double sum = 0;
    for (size_t i = 0; i < wl->n_apps; i++) {
        sum += wl->apps[i].weight;
    }
    if (sum > 1.0 + 1e-6) {
        return wl_fail_key(c, node, "apps", "the apps' weights sum to %g: W_p are shares of "
                           "the rack's traffic and sum to at most 1", sum);
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Tables.
 */

#define OFF(st, m)   .offset = offsetof(st, m)
#define HAS(st, m)   .has = offsetof(st, m) + 1
#define COUNT(st, m) .count_off = offsetof(st, m)
#define SECTION_OF(arr) .fields = (arr), .n_fields = sizeof(arr) / sizeof((arr)[0])

static const char *const affinity_names[] = { "medium", "high", "low", NULL };
static const char *const kind_names[] = { "table", "register", "sketch", "ternary", NULL };

static const struct wl_field object_fields[] = {
    { "name", WL_NAME, OFF(struct plane_workload_object, name), .required = true },
    { "kind", WL_ENUM, OFF(struct plane_workload_object, kind), .names = kind_names,
      .required = true },
    { "key_bytes", WL_U32, OFF(struct plane_workload_object, key_bytes), .def = 16,
      .max = 4096 },
    { "value_bytes", WL_U32, OFF(struct plane_workload_object, value_bytes), .def = 8,
      .max = 65536 },
    { "entries_per_flow", WL_U32, OFF(struct plane_workload_object, entries_per_flow),
      .def = 1, .max = 1024 },
    { "entries", WL_U64, OFF(struct plane_workload_object, entries), .max = UINT64_C(1) << 40 },
};
static const struct wl_section object_section = {
    SECTION_OF(object_fields), .size = sizeof(struct plane_workload_object),
    .validate = validate_object,
};

static const struct wl_field zipf_fields[] = {
    { "alpha", WL_REAL, OFF(struct plane_workload_zipf, alpha), .dmin = 0, .dmax = 10,
      .required = true },
    { "keys", WL_U64, OFF(struct plane_workload_zipf, keys), .min = 1,
      .max = UINT64_C(1) << 40, .required = true },
};
static const struct wl_section zipf_section = { SECTION_OF(zipf_fields) };

static const struct wl_field popularity_fields[] = {
    { "zipf", WL_SECTION, OFF(struct plane_workload_popularity, zipf), .sub = &zipf_section,
      HAS(struct plane_workload_popularity, has_zipf) },
    { "fractions", WL_REALS, OFF(struct plane_workload_popularity, fractions),
      COUNT(struct plane_workload_popularity, n_fractions), .min = 1,
      .max = PLANE_WORKLOAD_MAX_QUANTA, .dmin = 0, .dmax = 1 },
    { "keys", WL_U64, OFF(struct plane_workload_popularity, keys), .min = 1,
      .max = UINT64_C(1) << 40, HAS(struct plane_workload_popularity, has_keys) },
};
static const struct wl_section popularity_section = { SECTION_OF(popularity_fields) };

static const struct wl_field app_fields[] = {
    { "name", WL_NAME, OFF(struct plane_workload_app, name), .required = true },
    { "standalone", WL_BOOL, OFF(struct plane_workload_app, standalone) },
    { "affinity", WL_ENUM, OFF(struct plane_workload_app, affinity), .names = affinity_names,
      .def = PLANE_AFFINITY_MEDIUM },
    { "features", WL_FEATURES, OFF(struct plane_workload_app, features) },
    { "weight", WL_REAL, OFF(struct plane_workload_app, weight), .dmin = 0, .dmax = 1,
      .required = true },
    { "quanta", WL_U32, OFF(struct plane_workload_app, quanta), .def = 16, .min = 1,
      .max = PLANE_WORKLOAD_MAX_QUANTA },
    { "popularity", WL_SECTION, OFF(struct plane_workload_app, popularity),
      .sub = &popularity_section, .required = true },
    { "objects", WL_LIST, OFF(struct plane_workload_app, objects),
      COUNT(struct plane_workload_app, n_objects), .max = PLANE_WORKLOAD_MAX_OBJECTS,
      .sub = &object_section },
};
static const struct wl_section app_section = {
    SECTION_OF(app_fields), .size = sizeof(struct plane_workload_app),
    .validate = validate_app,
};

/* A keyed section: the MAP key fills fields[0] (see parse_items). */
static const struct wl_field device_fields[] = {
    { "name", WL_NAME, OFF(struct plane_workload_device, name) },
    { "latency_us", WL_REAL, OFF(struct plane_workload_device, latency_us), .dmin = 0,
      .dmax = 1e6, HAS(struct plane_workload_device, has_latency) },
};
static const struct wl_section device_section = {
    SECTION_OF(device_fields), .size = sizeof(struct plane_workload_device), .keyed = true,
    .validate = validate_device,
};

static const struct wl_field top_fields[] = {
    { "version", WL_U32, OFF(struct plane_workload, version), .def = 1, .min = 1, .max = 1 },
    { "rate_pps", WL_U64, OFF(struct plane_workload, rate_pps), .max = UINT64_C(1) << 40 },
    { "switch_latency_us", WL_REAL, OFF(struct plane_workload, switch_latency_us),
      .ddef = 0.4, .dmin = 0, .dmax = 1e6 },
    { "devices", WL_MAP, OFF(struct plane_workload, devices),
      COUNT(struct plane_workload, n_devices), .max = PLANE_WORKLOAD_MAX_DEVICES,
      .sub = &device_section },
    { "apps", WL_LIST, OFF(struct plane_workload, apps), COUNT(struct plane_workload, n_apps),
      .min = 1, .max = PLANE_WORKLOAD_MAX_APPS, .sub = &app_section, .required = true },
};
static const struct wl_section top_section = {
    SECTION_OF(top_fields), .validate = validate_top,
};

_Static_assert(sizeof(enum plane_affinity) == sizeof(unsigned), "WL_ENUM stores unsigned");
_Static_assert(sizeof(enum plane_wl_obj_kind) == sizeof(unsigned), "WL_ENUM stores unsigned");

const char *
plane_affinity_name(enum plane_affinity a)
{
    return (unsigned)a < 3 ? affinity_names[a] : "?";
}

const char *
plane_wl_obj_kind_name(enum plane_wl_obj_kind k)
{
    return (unsigned)k < 4 ? kind_names[k] : "?";
}

/* ---------------------------------------------------------------------------
 * Loading and freeing.
 */

void
plane_workload_delete(struct plane_workload *wl)
{
    if (!wl) {
        return;
    }
    for (size_t i = 0; wl->apps && i < wl->n_apps; i++) {
        plane_free(wl->apps[i].popularity.fractions);
        plane_free(wl->apps[i].objects);
    }
    plane_free(wl->apps);
    plane_free(wl->devices);
    plane_free(wl->path);
    plane_free(wl);
}

static int
yaml_fail(struct wl_ctx *c, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) {
        return wl_nomem(c);
    }
    return wl_fail_line(c, (unsigned long)p->problem_mark.line + 1, "YAML syntax error: %s",
                        p->problem ? p->problem : "unknown");
}

/* Rejects aliases, deep nesting, too many nodes and extra documents first. */
static int
scan_events(struct wl_ctx *c, const char *buf, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        return wl_nomem(c);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    int depth = 0, rc = 0;
    size_t nodes = 0, docs = 0;
    for (bool done = false; !done && !rc;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = yaml_fail(c, &parser);
            break;
        }
        unsigned long line = (unsigned long)ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_ALIAS_EVENT:
            rc = wl_fail_line(c, line, "YAML aliases (*name) are not supported");
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                rc = wl_fail_line(c, line, "only one YAML document is allowed");
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > PLANE_CONFIG_MAX_DEPTH) {
                rc = wl_fail_line(c, line, "nested deeper than %d levels", PLANE_CONFIG_MAX_DEPTH);
            }
            /* fall through */
        case YAML_SCALAR_EVENT:
            if (!rc && ++nodes > PLANE_CONFIG_MAX_NODES) {
                rc = wl_fail_line(c, line, "more than %d YAML nodes", PLANE_CONFIG_MAX_NODES);
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
        rc = wl_fail_line(c, 1, "empty workload");
    }
    return rc;
}

int
plane_workload_load_buf(const char *name, const char *buf, size_t len,
                        const struct plane_config *rack, struct plane_workload **out,
                        char *err, size_t err_len)
{
    struct wl_ctx c = { .name = name ? name : "<buffer>", .err = err, .err_len = err_len,
                        .rack = rack };
    if (err && err_len) {
        err[0] = '\0';
    }
    if (!out) {
        return PLANE_EINVAL;
    }
    *out = NULL;
    if (len > PLANE_CONFIG_MAX_BYTES) {
        return wl_fail_line(&c, 1, "file too large (%zu bytes, at most %u)", len,
                            PLANE_CONFIG_MAX_BYTES);
    }
    if (!buf) {
        buf = "";
        len = 0;
    }
    struct plane_workload *wl = plane_calloc(1, sizeof *wl);
    if (!wl || !(wl->path = plane_strdup(c.name))) {
        plane_workload_delete(wl);
        return wl_nomem(&c);
    }
    c.wl = wl;
    int rc = scan_events(&c, buf, len);
    if (!rc) {
        yaml_parser_t parser;
        yaml_document_t doc;
        if (!yaml_parser_initialize(&parser)) {
            rc = wl_nomem(&c);
        } else {
            yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
            if (!yaml_parser_load(&parser, &doc)) {
                rc = yaml_fail(&c, &parser);
            } else {
                c.doc = &doc;
                yaml_node_t *root = yaml_document_get_root_node(&doc);
                rc = !root || is_null(root) ? wl_fail_line(&c, 1, "empty workload")
                                            : parse_mapping(&c, &top_section, wl, root, 0);
                c.doc = NULL;
                yaml_document_delete(&doc);
            }
            yaml_parser_delete(&parser);
        }
    }
    if (rc) {
        plane_workload_delete(wl);
        return rc;
    }
    PLANE_DBG("loaded workload %s: %zu apps", wl->path, wl->n_apps);
    *out = wl;
    return 0;
}

int
plane_workload_load_file(const char *path, const struct plane_config *rack,
                         struct plane_workload **out, char *err, size_t err_len)
{
    if (err && err_len) {
        err[0] = '\0';
    }
    if (!out || !path) {
        return PLANE_EINVAL;
    }
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int rc = -errno;
        if (err && err_len) {
            snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        }
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PLANE_CONFIG_MAX_BYTES) {
        close(fd);
        if (err && err_len) {
            snprintf(err, err_len, "%s:1: not a regular file of at most %u bytes", path,
                     PLANE_CONFIG_MAX_BYTES);
        }
        return PLANE_ECONFIG;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = plane_malloc(cap);
    if (!buf) {
        close(fd);
        return PLANE_ENOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int rc = -errno;
            if (err && err_len) {
                snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
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
    int rc;
    if (n == cap) {
        if (err && err_len) {
            snprintf(err, err_len, "%s:1: file changed while being read", path);
        }
        rc = PLANE_ECONFIG;
    } else {
        rc = plane_workload_load_buf(path, buf, n, rack, out, err, err_len);
    }
    plane_free(buf);
    return rc;
}
