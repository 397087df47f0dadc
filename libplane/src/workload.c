/* Planner workload loader: libyaml's document API walked by one field table per section. */
#include "workload.h"
#include "trace.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/yaml_load.h"

PLANE_LOG_MODULE(workload);

/*
 * The same shape as common/config.c, on the same machinery
 * (common/yaml_load.h): an event pass bounds aliases, depth and node count,
 * then the node graph is walked with tables of {name, type, offset, bounds,
 * required}.  Sections parse in table order, so a section validator sees
 * every field parsed.  The workload keeps its own message style (flags 0:
 * unescaped text, lowercase null only, short syntax and file errors).
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
    WL_STR,         /* char[.max + 1]: any text of at most .max bytes */
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

/* plane_yaml_match_keys reads each row's name as its first member. */
_Static_assert(offsetof(struct wl_field, name) == 0, "name leads a wl_field");

struct wl_ctx {
    struct plane_yaml_ctx y;    /* document, errors, field path */
    const struct plane_config *rack;
    struct plane_workload *wl;
};

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
        int rc = plane_yaml_get_uint(&c->y, node, f->min, f->max, &v);
        if (!rc && f->type == WL_U32) {
            *(uint32_t *)p = (uint32_t)v;
        } else if (!rc) {
            *(uint64_t *)p = v;
        }
        return rc;
    }
    case WL_REAL: {
        double v;
        if (!plane_yaml_parse_real(s, len, &v)) {
            return plane_yaml_fail(&c->y, node, "expected a number, got %s",
                                   plane_yaml_describe(&c->y, node, got, sizeof got));
        }
        if (v < f->dmin || v > f->dmax) {
            return plane_yaml_fail(&c->y, node, "%g is out of range [%g, %g]", v, f->dmin, f->dmax);
        }
        *(double *)p = v;
        return 0;
    }
    case WL_BOOL:
        if (plane_yaml_scalar_eq(node, "true")) {
            *(bool *)p = true;
        } else if (plane_yaml_scalar_eq(node, "false")) {
            *(bool *)p = false;
        } else {
            return plane_yaml_fail(&c->y, node, "expected true or false, got %s",
                                   plane_yaml_describe(&c->y, node, got, sizeof got));
        }
        return 0;
    case WL_NAME:
        return plane_yaml_get_name(&c->y, node, p);
    case WL_STR:
        if (!len || len > f->max || memchr(s, '\0', len)) {
            return plane_yaml_fail(&c->y, node, "expected text of 1-%" PRIu64 " bytes",
                                   f->max);
        }
        memcpy(p, s, len);
        ((char *)p)[len] = '\0';
        return 0;
    case WL_ENUM:
        return plane_yaml_get_enum(&c->y, node, f->names, p);
    default:
        return plane_yaml_fail(&c->y, node, "internal error: bad field type");
    }
}

static int
parse_reals(struct wl_ctx *c, const struct wl_field *f, void *base, yaml_node_t *node)
{
    char got[80];
    if (node->type != YAML_SEQUENCE_NODE) {
        return plane_yaml_fail(&c->y, node, "expected a list of numbers, got %s",
                               plane_yaml_describe(&c->y, node, got, sizeof got));
    }
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n < f->min || n > f->max) {
        return plane_yaml_fail(&c->y, node, "expected %" PRIu64 "-%" PRIu64 " numbers, got %zu",
                               f->min, f->max, n);
    }
    double *v = plane_calloc(n, sizeof *v);
    if (!v) {
        return plane_yaml_nomem(&c->y);
    }
    *(double **)((char *)base + f->offset) = v;
    *(size_t *)((char *)base + f->count_off) = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = plane_yaml_node(&c->y, node->data.sequence.items.start[i]);
        if (!plane_yaml_is_scalar(item)
            || !plane_yaml_parse_real((const char *)item->data.scalar.value,
                                      item->data.scalar.length, &v[i])
            || v[i] < f->dmin || v[i] > f->dmax) {
            size_t old = plane_yaml_path_push_index(&c->y, i);
            int rc = plane_yaml_fail(&c->y, item, "expected a number in [%g, %g], got %s", f->dmin,
                                     f->dmax, plane_yaml_describe(&c->y, item, got, sizeof got));
            plane_yaml_path_pop(&c->y, old);
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
    if (!plane_yaml_is_null(&c->y, node)) {
        if (node->type != (is_map ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE)) {
            return plane_yaml_fail(&c->y, node, "expected a %s, got %s",
                                   is_map ? "mapping" : "list",
                                   plane_yaml_describe(&c->y, node, got, sizeof got));
        }
        n = is_map ? (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start)
                   : (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    }
    if (n < f->min || n > f->max) {
        return plane_yaml_fail(&c->y, node, "expected %" PRIu64 "-%" PRIu64 " items, got %zu",
                               f->min, f->max, n);
    }
    if (!n) {
        return 0;
    }
    char *items = plane_calloc(n, f->sub->size);
    if (!items) {
        return plane_yaml_nomem(&c->y);
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
            yaml_node_t *key = plane_yaml_node(&c->y, pair->key);
            val = plane_yaml_node(&c->y, pair->value);
            if (!plane_yaml_is_scalar(key)) {
                return plane_yaml_fail(&c->y, key, "keys must be scalars");
            }
            old = plane_yaml_path_push_key(&c->y, (const char *)key->data.scalar.value,
                                           key->data.scalar.length);
            rc = parse_scalar(c, &f->sub->fields[0], elem, key);
            for (size_t k = 0; k < i && !rc; k++) {
                if (!strcmp((const char *)elem + f->sub->fields[0].offset,
                            items + k * f->sub->size + f->sub->fields[0].offset)) {
                    rc = plane_yaml_fail(&c->y, key, "duplicate key");
                }
            }
        } else {
            val = plane_yaml_node(&c->y, node->data.sequence.items.start[i]);
            old = plane_yaml_path_push_index(&c->y, i);
        }
        if (!rc) {
            rc = parse_mapping(c, f->sub, elem, val, i);
        }
        plane_yaml_path_pop(&c->y, old);
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
        rc = plane_yaml_get_features(&c->y, node, p);
        break;
    case WL_REALS:
        rc = parse_reals(c, f, base, node);
        break;
    default:
        if (!plane_yaml_is_scalar(node) || plane_yaml_is_null(&c->y, node)) {
            return plane_yaml_fail(&c->y, node, "expected a value, got %s",
                                   plane_yaml_describe(&c->y, node, got, sizeof got));
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
    yaml_node_t *found[WL_MAX_FIELDS] = { 0 };
    yaml_node_t *found_key[WL_MAX_FIELDS] = { 0 };
    /* A MAP element's first field is its key, never written inside the mapping. */
    size_t first = s->keyed ? 1 : 0;
    int match = plane_yaml_match_keys(&c->y, node, s->fields, sizeof *s->fields, first,
                                      s->n_fields, WL_MAX_FIELDS, found, found_key);
    if (match) {
        return match;
    }
    for (size_t i = first; i < s->n_fields; i++) {
        const struct wl_field *f = &s->fields[i];
        size_t old = plane_yaml_path_push_key(&c->y, f->name, strlen(f->name));
        int rc = 0;
        if (found[i]) {
            rc = parse_field(c, f, base, found[i]);
        } else if (f->required) {
            rc = plane_yaml_fail(&c->y, node, "missing required field");
        } else {
            field_default(f, base);
        }
        plane_yaml_path_pop(&c->y, old);
        if (rc) {
            return rc;
        }
    }
    return s->validate ? s->validate(c, base, node, index) : 0;
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
            return plane_yaml_fail_key(&c->y, node, "name",
                                       "duplicate object \"%s\" (also objects[%zu])", o->name, i);
        }
    }
    bool per_flow = o->kind == PLANE_WL_OBJ_TABLE || o->kind == PLANE_WL_OBJ_REGISTER;
    if (per_flow && o->entries) {
        return plane_yaml_fail_key(&c->y, node, "entries",
                                   "a %s sizes itself per flow: use "
                                   "entries_per_flow",
                                   plane_wl_obj_kind_name(o->kind));
    }
    if (!per_flow && !o->entries) {
        return plane_yaml_fail_key(&c->y, node, "entries",
                                   "a %s needs a fixed entry count (entries > 0)",
                                   plane_wl_obj_kind_name(o->kind));
    }
    return 0;
}

static int wl_measure(struct wl_ctx *c, struct plane_workload_popularity *pop, uint32_t quanta,
                      yaml_node_t *node);

static int
validate_app(struct wl_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_workload_app *a = base, *all = a - index;
    struct plane_workload_popularity *pop = &a->popularity;
    for (size_t i = 0; i < index; i++) {
        if (!strcmp(all[i].name, a->name)) {
            return plane_yaml_fail_key(&c->y, node, "name", "duplicate app \"%s\" (also apps[%zu])",
                                       a->name, i);
        }
    }
    if (c->rack && !a->standalone && !plane_config_find_app(c->rack, a->name)) {
        return plane_yaml_fail_key(&c->y, node, "name",
                                   "app \"%s\" is not in rack %s (add it there, "
                                   "or set standalone: true)",
                                   a->name, c->rack->rack.name);
    }
    yaml_node_t *popn = plane_yaml_map_get(&c->y, node, "popularity");
    if (!popn) {
        popn = node;
    }
    size_t old = plane_yaml_path_push_key(&c->y, "popularity", 10);
    int rc = 0;
    if (pop->pcap[0] && (pop->has_zipf || pop->n_fractions || pop->has_keys)) {
        rc = plane_yaml_fail_key(&c->y, popn, "pcap", "a measured trace replaces zipf, "
                                 "fractions and keys");
    } else if (pop->pcap[0]) {
        rc = wl_measure(c, pop, a->quanta, popn);
    }
    if (rc) {
        /* reported */
    } else if (pop->has_zipf == (pop->n_fractions > 0)) {
        rc = plane_yaml_fail(&c->y, popn, "give exactly one of zipf and fractions");
    } else if (pop->has_zipf && pop->has_keys) {
        rc = plane_yaml_fail_key(&c->y, popn, "keys", "with zipf, the key count is zipf.keys");
    } else if (!pop->has_zipf && !pop->has_keys) {
        rc = plane_yaml_fail_key(&c->y, popn, "keys", "fractions need keys: the key count");
    }
    if (!rc) {
        a->keys = pop->has_zipf ? pop->zipf.keys : pop->keys;
        if (pop->n_fractions) {
            double sum = 0;
            for (size_t i = 0; i < pop->n_fractions; i++) {
                sum += pop->fractions[i];
            }
            if (pop->n_fractions > a->keys) {
                rc = plane_yaml_fail_key(&c->y, popn, "fractions",
                                         "%zu quanta but only %" PRIu64 " keys", pop->n_fractions,
                                         a->keys);
            } else if (fabs(sum - 1.0) > 1e-3) {
                rc = plane_yaml_fail_key(&c->y, popn, "fractions", "fractions sum to %g, not 1",
                                         sum);
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
    plane_yaml_path_pop(&c->y, old);
    return rc;
}

/*
 * popularity.pcap: per-quantum fractions and the key count measured from a
 * trace, as if the user had written `fractions` and `keys`.
 */
static int
wl_measure(struct wl_ctx *c, struct plane_workload_popularity *pop, uint32_t quanta,
           yaml_node_t *node)
{
    char path[2048];
    const char *name = c->y.name;
    const char *slash = strrchr(name, '/');
    if (pop->pcap[0] == '/' || !slash) {
        snprintf(path, sizeof path, "%s", pop->pcap);
    } else {
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - name), name, pop->pcap);
    }
    char err[512] = "";
    uint64_t keys = 0;
    int rc = plane_trace_popularity(path, quanta ? quanta : 16, &pop->fractions,
                                    &pop->n_fractions, &keys, err, sizeof err);
    if (rc) {
        return plane_yaml_fail_key(&c->y, node, "pcap", "%s", err);
    }
    pop->keys = keys;
    pop->has_keys = true;
    return 0;
}

static int
validate_device(struct wl_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    (void)node;
    (void)index;
    struct plane_workload_device *d = base;
    if (c->rack && !plane_config_find_device(c->rack, d->name)
        && strcmp(c->rack->sw.name, d->name) != 0) {
        return plane_yaml_fail(&c->y, node, "no device or switch named \"%s\" in rack %s", d->name,
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
        return plane_yaml_fail_key(&c->y, node, "apps",
                                   "the apps' weights sum to %g: W_p are shares of "
                                   "the rack's traffic and sum to at most 1",
                                   sum);
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
    { "pcap", WL_STR, OFF(struct plane_workload_popularity, pcap), .max = 1023 },
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

int
plane_workload_load_buf(const char *name, const char *buf, size_t len,
                        const struct plane_config *rack, struct plane_workload **out,
                        char *err, size_t err_len)
{
    struct wl_ctx c = {.y = {.name = name ? name : "<buffer>", .err = err, .err_len = err_len},
                       .rack = rack};
    if (out) {
        *out = NULL;
    }
    int rc = plane_yaml_check_buf(&c.y, out != NULL, &buf, &len);
    if (rc) {
        return rc;
    }
    struct plane_workload *wl = plane_calloc(1, sizeof *wl);
    if (!wl || !(wl->path = plane_strdup(c.y.name))) {
        plane_workload_delete(wl);
        return plane_yaml_nomem(&c.y);
    }
    c.wl = wl;
    yaml_document_t doc;
    rc = plane_yaml_load(&c.y, buf, len, "workload", &doc);
    if (!rc) {
        c.y.doc = &doc;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        rc = !root || plane_yaml_is_null(&c.y, root)
                 ? plane_yaml_fail_line(&c.y, 1, "empty workload")
                 : parse_mapping(&c, &top_section, wl, root, 0);
        c.y.doc = NULL;
        yaml_document_delete(&doc);
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
    struct plane_yaml_ctx y = {.name = path, .err = err, .err_len = err_len};
    if (out) {
        *out = NULL;
    }
    char *buf;
    size_t n;
    int rc = plane_yaml_read_file(&y, out != NULL, path, &buf, &n);
    if (!rc) {
        rc = plane_workload_load_buf(path, buf, n, rack, out, err, err_len);
        plane_free(buf);
    }
    return rc;
}
