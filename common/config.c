/* Rack configuration loader: libyaml's document API walked by one field table per section. */
#include "common/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/yaml_load.h"

PLANE_LOG_MODULE(config);

/*
 * How it works (the machinery shared with the planner's workload loader
 * lives in common/yaml_load.c).  A first pass over libyaml's events rejects
 * what the document API cannot bound by itself: aliases (a "billion laughs" document
 * is tiny as a node graph but explodes when walked), nesting depth, node
 * count and extra documents.  Then yaml_parser_load() builds the node graph,
 * whose nodes carry their line numbers, and parse_mapping() walks it with the
 * tables below, redis standardConfig style: each section is a table of
 * {name, type, offset, default, bounds, required, validator}; adding a key is
 * adding a row.  Sections are parsed in table order, not file order, so a
 * validator can rely on everything above it (devices are checked against the
 * switch, shards against devices).  The first error stops the load.
 */

enum cfg_type {
    CFG_U16,
    CFG_U32,
    CFG_U64,
    CFG_NAME,       /* char[PLANE_CONFIG_NAME_MAX], [A-Za-z0-9_.-]+ */
    CFG_STR,        /* char *, at most .max bytes, no NUL */
    CFG_PATH,       /* char *, joined to the config file's directory */
    CFG_ADDR,       /* struct plane_config_addr; .min is the lowest port */
    CFG_HEXKEY,     /* uint8_t[PLANE_CONFIG_KEY_LEN] from 64 hex digits */
    CFG_FEATURES,   /* uint32_t mask from a list of feature names */
    CFG_ENUM,       /* an enum, from .names */
    CFG_RANGE16,    /* struct plane_config_range: "N" or "LO-HI" */
    CFG_SECTION,    /* an embedded struct described by .sub */
    CFG_LIST,       /* a sequence of mappings: pointer + size_t count */
    CFG_MAP,        /* a mapping NAME -> element: pointer + size_t count */
    CFG_NAMES,      /* a sequence of NAMEs: char (*)[NAME_MAX] + size_t count */
};

struct cfg_ctx;
struct cfg_field;

/* Runs after the field parsed; `field` points at it inside the struct. */
typedef int cfg_field_validate_fn(struct cfg_ctx *c, const struct cfg_field *f,
                                  void *field, yaml_node_t *node);
/* Runs after a whole section (or list/map element `index`) parsed. */
typedef int cfg_section_validate_fn(struct cfg_ctx *c, void *base,
                                    yaml_node_t *node, size_t index);

struct cfg_section {
    const struct cfg_field *fields;
    size_t n_fields;
    size_t size;                    /* element size, for LIST and MAP */
    const struct cfg_field *key;    /* MAP: parses the key into the element */
    const struct cfg_field *value;  /* MAP with scalar values: parses the value */
    cfg_section_validate_fn *validate;
};

struct cfg_field {
    const char *name;
    enum cfg_type type;
    size_t offset;
    size_t has;                     /* 1 + offset of a bool set when present; 0 = none */
    uint64_t def;                   /* integer/enum default; RANGE16: lo << 16 | hi */
    uint64_t min, max;              /* integer bounds; string length; ADDR: port; items */
    bool required;
    const char *const *names;       /* ENUM */
    const struct cfg_section *sub;  /* SECTION, LIST, MAP */
    size_t count_off;               /* LIST, MAP: offset of the size_t count */
    cfg_field_validate_fn *validate;
};

#define CFG_MAX_FIELDS 16

/* plane_yaml_match_keys reads each row's name as its first member. */
_Static_assert(offsetof(struct cfg_field, name) == 0, "name leads a cfg_field");

/* The shared walker state (document, errors, path; common/yaml_load.h) and the config. */
struct cfg_ctx {
    struct plane_yaml_ctx y;
    struct plane_config *cfg;
};

/* The config's messages: escaped text, any-case null, detailed syntax and file errors. */
#define CFG_YAML_FLAGS                                                          \
    (PLANE_YAML_NULL_ANY_CASE | PLANE_YAML_ESCAPE_TEXT | PLANE_YAML_SYNTAX_DETAIL \
     | PLANE_YAML_FILE_DETAIL | PLANE_YAML_STRICT_FEATURES | PLANE_YAML_KEY_DETAIL)

/* ---------------------------------------------------------------------------
 * Scalar helpers.
 */

static int
hex_digit(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* Decodes exactly 2 * PLANE_CONFIG_KEY_LEN hex digits. */
static bool
parse_hexkey(const char *s, size_t len, uint8_t key[PLANE_CONFIG_KEY_LEN])
{
    if (len != 2 * PLANE_CONFIG_KEY_LEN) {
        return false;
    }
    for (size_t i = 0; i < PLANE_CONFIG_KEY_LEN; i++) {
        int hi = hex_digit((unsigned char)s[2 * i]);
        int lo = hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/*
 * Parses a numeric "a.b.c.d:port" or "[v6]:port".  Numeric only, so loading a
 * config never waits on DNS; IPv4 goes through inet_pton so "127.1" and
 * other inet_aton shorthands are rejected.  Returns NULL or why it failed.
 */
static const char *
parse_addr(const char *s, size_t len, struct plane_config_addr *a)
{
    char buf[PLANE_CONFIG_ADDR_TEXT_MAX];
    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len)) {
        return "bad length";
    }
    memcpy(buf, s, len);
    buf[len] = '\0';

    char *host, *port;
    bool v6 = buf[0] == '[';
    if (v6) {
        char *close = strchr(buf, ']');
        if (!close || close[1] != ':') {
            return "IPv6 is written [addr]:port";
        }
        *close = '\0';
        host = buf + 1;
        port = close + 2;
    } else {
        char *colon = strrchr(buf, ':');
        if (!colon) {
            return "no port";
        }
        if (memchr(buf, ':', (size_t)(colon - buf))) {
            return "IPv6 is written [addr]:port";
        }
        *colon = '\0';
        host = buf;
        port = colon + 1;
    }
    uint64_t p;
    size_t plen = strlen(port);
    if (plen == 0 || plen > 5 || (plen > 1 && port[0] == '0')
        || !plane_yaml_parse_u64(port, plen, &p) || p > 65535) {
        return "bad port";
    }
    /* parse_u64 accepts 0x; a port is decimal only. */
    for (size_t i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9') {
            return "bad port";
        }
    }

    memset(a, 0, sizeof *a);
    if (!v6) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
            return "not a numeric IPv4 address";
        }
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)p);
        a->sa_len = sizeof *sin;
    } else {
        /* getaddrinfo, not inet_pton, so scoped addresses (fe80::1%eth0) work. */
        struct addrinfo hints = {
            .ai_family = AF_INET6,
            .ai_socktype = SOCK_DGRAM,
            .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
        };
        struct addrinfo *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
            return "not a numeric IPv6 address";
        }
        if (res->ai_addrlen > sizeof a->sa) {
            freeaddrinfo(res);
            return "not a numeric IPv6 address";
        }
        memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
        a->sa_len = (socklen_t)res->ai_addrlen;
        freeaddrinfo(res);
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((uint16_t)p);
    }
    a->port = (uint16_t)p;
    memcpy(a->text, s, len);
    a->text[len] = '\0';
    return NULL;
}

bool
plane_config_addr_equal(const struct plane_config_addr *a,
                        const struct plane_config_addr *b)
{
    if (a->sa.ss_family != b->sa.ss_family || a->port != b->port) {
        return false;
    }
    if (a->sa.ss_family == AF_INET) {
        return ((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr
               == ((const struct sockaddr_in *)&b->sa)->sin_addr.s_addr;
    }
    if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->sa;
        return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr)
               && x->sin6_scope_id == y->sin6_scope_id;
    }
    return false;
}

/* Two addresses that would both be bound: port 0 (ephemeral) never clashes. */
static bool
addr_clash(const struct plane_config_addr *a, const struct plane_config_addr *b)
{
    return a->port != 0 && plane_config_addr_equal(a, b);
}

/* ---------------------------------------------------------------------------
 * Features.
 */

static const char *const feature_names[] = {
#define FEATURE_NAME_(E, n, d) #n,
    PLANE_FEATURE_MAP(FEATURE_NAME_)
#undef FEATURE_NAME_
};

const char *
plane_feature_name(uint32_t bit)
{
    for (size_t i = 0; i < PLANE_FEATURE_COUNT; i++) {
        if (bit == 1u << i) {
            return feature_names[i];
        }
    }
    return NULL;
}

uint32_t
plane_feature_from_name(const char *name)
{
    for (size_t i = 0; i < PLANE_FEATURE_COUNT; i++) {
        if (!strcmp(name, feature_names[i])) {
            return 1u << i;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Paths relative to the configuration file.
 */

static char *
dir_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    if (!slash) {
        return plane_strdup(".");
    }
    if (slash == name) {
        return plane_strdup("/");
    }
    return plane_strndup(name, (size_t)(slash - name));
}

/*
 * Joins a relative path to the config's directory.  A bare "app.so" becomes
 * "./app.so" on purpose: dlopen() would search the library path for a name
 * without a slash instead of the config's directory.
 */
static char *
path_join(const char *dir, const char *p)
{
    if (p[0] == '/') {
        return plane_strdup(p);
    }
    size_t dl = strlen(dir), pl = strlen(p);
    char *out = plane_malloc(dl + 1 + pl + 1);
    if (out) {
        memcpy(out, dir, dl);
        out[dl] = '/';
        memcpy(out + dl + 1, p, pl + 1);
    }
    return out;
}

/* ---------------------------------------------------------------------------
 * The walker.
 */

static int parse_mapping(struct cfg_ctx *c, const struct cfg_section *s,
                         void *base, yaml_node_t *node, size_t index);
static void field_default(const struct cfg_field *f, void *base);

static void
store_uint(const struct cfg_field *f, void *p, uint64_t v)
{
    switch (f->type) {
    case CFG_U16:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case CFG_U32:
        *(uint32_t *)p = (uint32_t)v;
        break;
    default:
        *(uint64_t *)p = v;
        break;
    }
}

/* A field's default when its key is absent (structs start zeroed). */
static void
field_default(const struct cfg_field *f, void *base)
{
    void *p = (char *)base + f->offset;
    switch (f->type) {
    case CFG_U16:
    case CFG_U32:
    case CFG_U64:
        store_uint(f, p, f->def);
        break;
    case CFG_ENUM:
        *(unsigned *)p = (unsigned)f->def;
        break;
    case CFG_RANGE16: {
        struct plane_config_range *r = p;
        r->lo = (uint16_t)(f->def >> 16);
        r->hi = (uint16_t)f->def;
        break;
    }
    case CFG_SECTION:
        for (size_t i = 0; i < f->sub->n_fields; i++) {
            field_default(&f->sub->fields[i], p);
        }
        break;
    default:
        break;
    }
}

static int
parse_scalar_field(struct cfg_ctx *c, const struct cfg_field *f, void *p,
                   yaml_node_t *node)
{
    char got[64];
    const char *s = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;

    switch (f->type) {
    case CFG_U16:
    case CFG_U32:
    case CFG_U64: {
        uint64_t v;
        int rc = plane_yaml_get_uint(&c->y, node, f->min, f->max, &v);
        if (!rc) {
            store_uint(f, p, v);
        }
        return rc;
    }
    case CFG_NAME:
        return plane_yaml_get_name(&c->y, node, p);
    case CFG_STR:
    case CFG_PATH: {
        if (memchr(s, '\0', len) || len > f->max || (f->type == CFG_PATH && !len)) {
            return plane_yaml_fail(
                &c->y, node, "expected a string of %s%" PRIu64 " bytes without NUL, got %zu bytes",
                f->type == CFG_PATH ? "1-" : "at most ", f->max, len);
        }
        char *v = plane_strndup(s, len);
        if (v && f->type == CFG_PATH) {
            char *joined = path_join(c->cfg->dir, v);
            plane_free(v);
            v = joined;
        }
        if (!v) {
            return plane_yaml_nomem(&c->y);
        }
        *(char **)p = v;
        return 0;
    }
    case CFG_ADDR: {
        struct plane_config_addr *a = p;
        const char *why = parse_addr(s, len, a);
        if (why) {
            return plane_yaml_fail(&c->y, node, "expected host:port, got %s (%s)",
                                   plane_yaml_describe(&c->y, node, got, sizeof got), why);
        }
        if (a->port < f->min) {
            return plane_yaml_fail(
                &c->y, node, "port %u is not allowed here (at least %" PRIu64 ")", a->port, f->min);
        }
        return 0;
    }
    case CFG_HEXKEY:
        /* Never echo the value: it is a secret. */
        if (!parse_hexkey(s, len, p)) {
            return plane_yaml_fail(&c->y, node,
                                   "expected %d hex digits (a %d-byte key), "
                                   "got %zu characters%s",
                                   2 * PLANE_CONFIG_KEY_LEN, PLANE_CONFIG_KEY_LEN, len,
                                   len == 2 * PLANE_CONFIG_KEY_LEN ? " with a non-hex digit" : "");
        }
        return 0;
    case CFG_ENUM:
        return plane_yaml_get_enum(&c->y, node, f->names, p);
    case CFG_RANGE16: {
        const char *dash = memchr(s, '-', len);
        uint64_t lo = 0, hi = 0;
        bool ok = dash ? plane_yaml_parse_u64(s, (size_t)(dash - s), &lo)
                             && plane_yaml_parse_u64(dash + 1, len - (size_t)(dash - s) - 1, &hi)
                       : plane_yaml_parse_u64(s, len, &lo);
        if (!dash) {
            hi = lo;
        }
        if (!ok || lo > hi || hi > f->max || lo < f->min) {
            return plane_yaml_fail(
                &c->y, node,
                "expected N or \"LO-HI\" with %" PRIu64 " <= LO <= HI <= %" PRIu64 ", got %s",
                f->min, f->max, plane_yaml_describe(&c->y, node, got, sizeof got));
        }
        struct plane_config_range *r = p;
        r->lo = (uint16_t)lo;
        r->hi = (uint16_t)hi;
        return 0;
    }
    default:
        return plane_yaml_fail(&c->y, node, "internal error: bad field type");
    }
}

static int
parse_list(struct cfg_ctx *c, const struct cfg_field *f, void *base,
           yaml_node_t *node)
{
    char got[64];
    void **items = (void **)((char *)base + f->offset);
    size_t *count = (size_t *)((char *)base + f->count_off);
    size_t n = 0;
    if (!plane_yaml_is_null(&c->y, node)) {
        if (node->type != YAML_SEQUENCE_NODE) {
            return plane_yaml_fail(&c->y, node, "expected a list, got %s",
                                   plane_yaml_describe(&c->y, node, got, sizeof got));
        }
        n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    }
    if (n > f->max) {
        return plane_yaml_fail(&c->y, node, "too many items (%zu, at most %" PRIu64 ")", n, f->max);
    }
    if (n < f->min) {
        return plane_yaml_fail(&c->y, node, "needs at least %" PRIu64 " item(s), got %zu", f->min,
                               n);
    }
    if (n == 0) {
        return 0;
    }
    /* The count is set before parsing so a failure part-way frees everything. */
    *items = plane_calloc(n, f->sub->size);
    if (!*items) {
        return plane_yaml_nomem(&c->y);
    }
    *count = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = plane_yaml_node(&c->y, node->data.sequence.items.start[i]);
        size_t old = plane_yaml_path_push_index(&c->y, i);
        int rc = parse_mapping(c, f->sub, (char *)*items + i * f->sub->size, item, i);
        plane_yaml_path_pop(&c->y, old);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int parse_field(struct cfg_ctx *c, const struct cfg_field *f, void *base,
                       yaml_node_t *node);

/* A list of NAMEs, [f->min, f->max] of them; a repeated one fails at its index. */
static int
parse_names(struct cfg_ctx *c, const struct cfg_field *f, void *base, yaml_node_t *node)
{
    char got[64];
    char(**items)[PLANE_CONFIG_NAME_MAX] = (void *)((char *)base + f->offset);
    size_t *count = (size_t *)((char *)base + f->count_off);
    if (node->type != YAML_SEQUENCE_NODE) {
        return plane_yaml_fail(&c->y, node, "expected a list of names, got %s",
                               plane_yaml_describe(&c->y, node, got, sizeof got));
    }
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > f->max || n < f->min) {
        return plane_yaml_fail(&c->y, node,
                               "expected %" PRIu64 " to %" PRIu64 " names, got %zu", f->min,
                               f->max, n);
    }
    /* Set before parsing so a failure part-way frees everything. */
    *items = plane_calloc(n, sizeof **items);
    if (!*items) {
        return plane_yaml_nomem(&c->y);
    }
    *count = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = plane_yaml_node(&c->y, node->data.sequence.items.start[i]);
        size_t old = plane_yaml_path_push_index(&c->y, i);
        int rc = plane_yaml_is_scalar(item) ? plane_yaml_get_name(&c->y, item, (*items)[i])
                 : plane_yaml_fail(&c->y, item, "expected a name, got %s",
                                   plane_yaml_describe(&c->y, item, got, sizeof got));
        for (size_t k = 0; k < i && !rc; k++) {
            if (!strcmp((*items)[k], (*items)[i])) {
                rc = plane_yaml_fail(&c->y, item, "\"%s\" listed twice", (*items)[i]);
            }
        }
        plane_yaml_path_pop(&c->y, old);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int
parse_map(struct cfg_ctx *c, const struct cfg_field *f, void *base,
          yaml_node_t *node)
{
    char got[64];
    void **items = (void **)((char *)base + f->offset);
    size_t *count = (size_t *)((char *)base + f->count_off);
    const struct cfg_section *s = f->sub;
    if (plane_yaml_is_null(&c->y, node)) {
        return 0;
    }
    if (node->type != YAML_MAPPING_NODE) {
        return plane_yaml_fail(&c->y, node, "expected a mapping, got %s",
                               plane_yaml_describe(&c->y, node, got, sizeof got));
    }
    yaml_node_pair_t *pairs = node->data.mapping.pairs.start;
    size_t n = (size_t)(node->data.mapping.pairs.top - pairs);
    if (n > f->max) {
        return plane_yaml_fail(&c->y, node, "too many entries (%zu, at most %" PRIu64 ")", n,
                               f->max);
    }
    if (n == 0) {
        return 0;
    }
    *items = plane_calloc(n, s->size);
    if (!*items) {
        return plane_yaml_nomem(&c->y);
    }
    *count = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *key = plane_yaml_node(&c->y, pairs[i].key);
        yaml_node_t *val = plane_yaml_node(&c->y, pairs[i].value);
        void *elem = (char *)*items + i * s->size;
        if (!plane_yaml_is_scalar(key)) {
            return plane_yaml_fail(&c->y, key, "keys must be scalars, got %s",
                                   plane_yaml_describe(&c->y, key, got, sizeof got));
        }
        size_t old = plane_yaml_path_push_key(&c->y, (const char *)key->data.scalar.value,
                                              key->data.scalar.length);
        int rc = 0;
        for (size_t k = 0; k < i && !rc; k++) {
            yaml_node_t *prev = plane_yaml_node(&c->y, pairs[k].key);
            if (plane_yaml_is_scalar(prev) && prev->data.scalar.length == key->data.scalar.length
                && !memcmp(prev->data.scalar.value, key->data.scalar.value,
                           key->data.scalar.length)) {
                rc = plane_yaml_fail(&c->y, key, "duplicate key (first at line %lu)",
                                     (unsigned long)prev->start_mark.line + 1);
            }
        }
        if (!rc) {
            rc = parse_field(c, s->key, elem, key);
        }
        if (!rc) {
            rc = s->value ? parse_field(c, s->value, elem, val)
                          : parse_mapping(c, s, elem, val, i);
        }
        plane_yaml_path_pop(&c->y, old);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int
parse_field(struct cfg_ctx *c, const struct cfg_field *f, void *base,
            yaml_node_t *node)
{
    char got[64];
    void *p = (char *)base + f->offset;
    int rc;
    switch (f->type) {
    case CFG_SECTION:
        rc = parse_mapping(c, f->sub, p, node, 0);
        break;
    case CFG_LIST:
        rc = parse_list(c, f, base, node);
        break;
    case CFG_MAP:
        rc = parse_map(c, f, base, node);
        break;
    case CFG_NAMES:
        rc = parse_names(c, f, base, node);
        break;
    case CFG_FEATURES:
        rc = plane_yaml_get_features(&c->y, node, p);
        break;
    default:
        if (!plane_yaml_is_scalar(node) || plane_yaml_is_null(&c->y, node)) {
            return plane_yaml_fail(&c->y, node, "expected a %s, got %s",
                                   f->type == CFG_ADDR  ? "host:port"
                                   : f->type <= CFG_U64 ? "number"
                                                        : "value",
                                   plane_yaml_is_null(&c->y, node)
                                       ? "no value"
                                       : plane_yaml_describe(&c->y, node, got, sizeof got));
        }
        rc = parse_scalar_field(c, f, p, node);
        break;
    }
    if (rc) {
        return rc;
    }
    if (f->has) {
        *((bool *)((char *)base + f->has - 1)) = true;
    }
    return f->validate ? f->validate(c, f, p, node) : 0;
}

static int
parse_mapping(struct cfg_ctx *c, const struct cfg_section *s, void *base,
              yaml_node_t *node, size_t index)
{
    yaml_node_t *found[CFG_MAX_FIELDS] = { 0 };
    yaml_node_t *found_key[CFG_MAX_FIELDS] = { 0 };
    int match = plane_yaml_match_keys(&c->y, node, s->fields, sizeof *s->fields, 0,
                                      s->n_fields, CFG_MAX_FIELDS, found, found_key);
    if (match) {
        return match;
    }
    for (size_t i = 0; i < s->n_fields; i++) {
        const struct cfg_field *f = &s->fields[i];
        size_t old = plane_yaml_path_push_key(&c->y, f->name, strlen(f->name));
        int rc = 0;
        /* "timers:" with every line commented out reads as absent. */
        bool empty_section =
            f->type == CFG_SECTION && !f->required && plane_yaml_is_null(&c->y, found[i]);
        if (found[i] && !empty_section) {
            rc = parse_field(c, f, base, found[i]);
        } else if (f->required) {
            rc = plane_yaml_fail(&c->y, node, "missing required field");
        } else {
            field_default(f, base);
            /* An absent section still gets its cross-checks (shards defaults). */
            if (f->type == CFG_SECTION && f->sub->validate) {
                rc = f->sub->validate(c, (char *)base + f->offset, node, 0);
            }
        }
        plane_yaml_path_pop(&c->y, old);
        if (rc) {
            return rc;
        }
    }
    return s->validate ? s->validate(c, base, node, index) : 0;
}

/* ---------------------------------------------------------------------------
 * Validators: what one field's type and bounds cannot say.
 */

static int
read_key_file(const char *path, uint8_t key[PLANE_CONFIG_KEY_LEN],
              const char **why)
{
    /* O_NONBLOCK and the S_ISREG check: a FIFO or device must not hang a load. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *why = strerror(errno);
        return -1;
    }
    struct stat st;
    char buf[256];
    ssize_t n = -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
    } else if ((n = read(fd, buf, sizeof buf)) < 0) {
        *why = strerror(errno);
    }
    close(fd);
    if (n < 0) {
        return -1;
    }
    size_t b = 0, e = (size_t)n;
    while (b < e && (buf[b] == ' ' || buf[b] == '\t' || buf[b] == '\n' || buf[b] == '\r')) {
        b++;
    }
    while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t' || buf[e - 1] == '\n'
                     || buf[e - 1] == '\r')) {
        e--;
    }
    if (!parse_hexkey(buf + b, e - b, key)) {
        *why = "does not hold exactly 64 hex digits";
        return -1;
    }
    return 0;
}

static int
validate_rack(struct cfg_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_config_rack *r = base;
    if (r->has_auth_key && r->auth_key_file) {
        return plane_yaml_fail_key(&c->y, node, "auth_key_file",
                                   "auth_key and auth_key_file are mutually exclusive");
    }
    if (!r->has_auth_key && !r->auth_key_file) {
        return plane_yaml_fail_key(&c->y, node, "auth_key",
                                   "missing required field (or auth_key_file)");
    }
    if (r->auth_key_file) {
        const char *why;
        if (read_key_file(r->auth_key_file, r->auth_key, &why) < 0) {
            char esc[128];
            plane_yaml_escape(esc, sizeof esc, r->auth_key_file, strlen(r->auth_key_file));
            return plane_yaml_fail_key(&c->y, node, "auth_key_file", "\"%s\": %s", esc, why);
        }
    }
    if (!r->has_hash_seed) {
        /*
         * Derive the hash secret from the shared key, so every daemon of the
         * rack agrees on flow placement without another setting.
         */
        static const char ctx_str[] = "plane hash seed v1";
        uint8_t out[crypto_generichash_BYTES_MIN];
        if (sodium_init() < 0
            || crypto_generichash(out, sizeof out, (const uint8_t *)ctx_str,
                                  sizeof ctx_str - 1, r->auth_key,
                                  sizeof r->auth_key) != 0) {
            return plane_yaml_fail_key(&c->y, node, "hash_seed", "cannot derive from auth_key");
        }
        uint64_t seed = 0;
        for (int i = 7; i >= 0; i--) {
            seed = seed << 8 | out[i];
        }
        r->hash_seed = seed;
        sodium_memzero(out, sizeof out);
    }
    return 0;
}

static int
validate_port(struct cfg_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_config_port *p = base, *ports = p - index;
    /* A port's frames come from one place: a UDP endpoint or a TAP device. */
    if (p->has_listen == p->has_tap) {
        return plane_yaml_fail_key(&c->y, node, p->has_tap ? "tap" : "listen",
                                   p->has_tap ? "listen and tap are mutually exclusive"
                                              : "missing required field (or tap)");
    }
    if (p->has_tap && p->has_peer) {
        return plane_yaml_fail_key(&c->y, node, "peer",
                                   "a tap port's egress goes to its interface: no peer");
    }
    /* The kernel's IFNAMSIZ (16) includes the NUL. */
    if (p->has_tap && strlen(p->tap) > 15) {
        return plane_yaml_fail_key(&c->y, node, "tap",
                                   "interface name \"%s\" is longer than 15 characters",
                                   p->tap);
    }
    if (addr_clash(&p->listen, &c->cfg->sw.control)) {
        return plane_yaml_fail_key(&c->y, node, "listen", "same address as switch.control");
    }
    for (size_t i = 0; i < index; i++) {
        if (ports[i].id == p->id) {
            return plane_yaml_fail_key(&c->y, node, "id", "duplicate id %u (also ports[%zu])",
                                       p->id, i);
        }
        if (!strcmp(ports[i].name, p->name)) {
            return plane_yaml_fail_key(&c->y, node, "name",
                                       "duplicate name \"%s\" (also "
                                       "ports[%zu])",
                                       p->name, i);
        }
        if (addr_clash(&ports[i].listen, &p->listen)) {
            return plane_yaml_fail_key(&c->y, node, "listen", "same address as ports[%zu]", i);
        }
        if (p->has_tap && ports[i].has_tap && !strcmp(ports[i].tap, p->tap)) {
            return plane_yaml_fail_key(&c->y, node, "tap",
                                       "same interface as ports[%zu]", i);
        }
    }
    return 0;
}

static int
validate_device(struct cfg_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_config_device *d = base, *devs = d - index;
    const struct plane_config_switch *sw = &c->cfg->sw;
    if (d->id == sw->id) {
        return plane_yaml_fail_key(&c->y, node, "id", "duplicate id %u (also switch.id)", d->id);
    }
    if (addr_clash(&d->address, &sw->control)) {
        return plane_yaml_fail_key(&c->y, node, "address", "same address as switch.control");
    }
    for (size_t i = 0; i < sw->n_ports; i++) {
        if (addr_clash(&d->address, &sw->ports[i].listen)) {
            return plane_yaml_fail_key(&c->y, node, "address",
                                       "same address as "
                                       "switch.ports[%zu].listen",
                                       i);
        }
    }
    for (size_t i = 0; i < index; i++) {
        if (devs[i].id == d->id) {
            return plane_yaml_fail_key(&c->y, node, "id", "duplicate id %u (also devices[%zu])",
                                       d->id, i);
        }
        if (!strcmp(devs[i].name, d->name)) {
            return plane_yaml_fail_key(&c->y, node, "name",
                                       "duplicate name \"%s\" (also "
                                       "devices[%zu])",
                                       d->name, i);
        }
        if (addr_clash(&devs[i].address, &d->address)) {
            return plane_yaml_fail_key(&c->y, node, "address", "same address as devices[%zu]", i);
        }
    }
    return 0;
}

static int
device_index(const struct plane_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_devices; i++) {
        if (!strcmp(cfg->devices[i].name, name)) {
            return (int)i;
        }
    }
    return -1;
}

static uint32_t
effective_logical(const struct plane_config *cfg)
{
    return cfg->shards.logical_devices ? cfg->shards.logical_devices
                                       : (uint32_t)cfg->n_devices;
}

static int
validate_shard(struct cfg_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_config_shard *s = base, *all = s - index;
    uint32_t n = effective_logical(c->cfg);
    if (s->logical >= n) {
        return plane_yaml_fail(&c->y, node, "logical device %u does not exist (there are %u)",
                               s->logical, n);
    }
    for (size_t i = 0; i < index; i++) {
        if (all[i].logical == s->logical) {
            return plane_yaml_fail(&c->y, node, "logical device %u mapped twice", s->logical);
        }
    }
    s->primary_idx = device_index(c->cfg, s->primary);
    if (s->primary_idx < 0) {
        return plane_yaml_fail_key(&c->y, node, "primary", "no device named \"%s\"", s->primary);
    }
    s->replica_idx = -1;
    if (s->has_replica) {
        s->replica_idx = device_index(c->cfg, s->replica);
        if (s->replica_idx < 0) {
            return plane_yaml_fail_key(&c->y, node, "replica", "no device named \"%s\"",
                                       s->replica);
        }
        if (s->replica_idx == s->primary_idx) {
            return plane_yaml_fail_key(&c->y, node, "replica", "must differ from primary \"%s\"",
                                       s->primary);
        }
    }
    return 0;
}

/*
 * Completes shards.map to one entry per logical device, in logical order:
 * explicit entries as written, the rest round robin (logical i on device
 * i % n, replica on the next one).
 */
static int
validate_shards(struct cfg_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_config *cfg = c->cfg;
    struct plane_config_shards *sh = base;
    uint32_t n = effective_logical(cfg);
    size_t nd = cfg->n_devices;
    if (n == 0 || nd == 0) {
        return plane_yaml_fail(&c->y, node, "no devices to place logical devices on");
    }
    struct plane_config_shard *full = plane_calloc(n, sizeof *full);
    if (!full) {
        return plane_yaml_nomem(&c->y);
    }
    for (uint32_t i = 0; i < n; i++) {
        struct plane_config_shard *e = &full[i];
        e->logical = i;
        e->primary_idx = (int)(i % nd);
        e->replica_idx = nd > 1 ? (int)((i + 1) % nd) : -1;
    }
    for (size_t k = 0; k < sh->n_map; k++) {
        full[sh->map[k].logical] = sh->map[k];
    }
    for (uint32_t i = 0; i < n; i++) {
        struct plane_config_shard *e = &full[i];
        memcpy(e->primary, cfg->devices[e->primary_idx].name, PLANE_CONFIG_NAME_MAX);
        e->has_replica = e->replica_idx >= 0;
        if (e->has_replica) {
            memcpy(e->replica, cfg->devices[e->replica_idx].name, PLANE_CONFIG_NAME_MAX);
        } else {
            e->replica[0] = '\0';
        }
    }
    plane_free(sh->map);
    sh->map = full;
    sh->n_map = n;
    sh->logical_devices = n;
    return 0;
}

static int
validate_app(struct cfg_ctx *c, void *base, yaml_node_t *node, size_t index)
{
    struct plane_config_app *a = base, *apps = a - index;
    for (size_t i = 0; i < index; i++) {
        if (apps[i].id == a->id) {
            return plane_yaml_fail_key(&c->y, node, "id", "duplicate id %u (also apps[%zu])", a->id,
                                       i);
        }
        if (!strcmp(apps[i].name, a->name)) {
            return plane_yaml_fail_key(&c->y, node, "name",
                                       "duplicate name \"%s\" (also "
                                       "apps[%zu])",
                                       a->name, i);
        }
    }
    /*
     * `devices:` names the switch or devices, and must leave the app's
     * misses a device to go to: a listed device that is the primary of some
     * logical device (shards are resolved before apps are parsed).
     */
    bool has_primary = false;
    for (size_t i = 0; i < a->n_devices; i++) {
        int d = device_index(c->cfg, a->devices[i]);
        if (d < 0 && strcmp(a->devices[i], c->cfg->sw.name) != 0) {
            return plane_yaml_fail_key(&c->y, node, "devices",
                                       "\"%s\" is neither the switch nor a device",
                                       a->devices[i]);
        }
        for (size_t l = 0; d >= 0 && l < c->cfg->shards.n_map; l++) {
            has_primary |= c->cfg->shards.map[l].primary_idx == d;
        }
    }
    if (a->n_devices && !has_primary) {
        return plane_yaml_fail_key(&c->y, node, "devices",
                                   "no listed device is the primary of a logical device: "
                                   "the app's misses would have nowhere to go");
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * The tables.
 */

#define OFF(st, m)  .offset = offsetof(st, m)
#define HAS(st, m)  .has = offsetof(st, m) + 1
#define COUNT(st, m) .count_off = offsetof(st, m)
#define SECTION_OF(arr) .fields = (arr), .n_fields = sizeof(arr) / sizeof((arr)[0])

static const char *const role_names[] = { "nic", "server", NULL };
static const char *const proto_names[] = { "any", "udp", "tcp", NULL };

static const struct cfg_field rack_fields[] = {
    { "name", CFG_NAME, OFF(struct plane_config_rack, name), .required = true },
    { "auth_key", CFG_HEXKEY, OFF(struct plane_config_rack, auth_key),
      HAS(struct plane_config_rack, has_auth_key) },
    { "auth_key_file", CFG_PATH, OFF(struct plane_config_rack, auth_key_file),
      .max = PLANE_CONFIG_STR_MAX },
    { "hash_seed", CFG_U64, OFF(struct plane_config_rack, hash_seed),
      HAS(struct plane_config_rack, has_hash_seed), .max = UINT64_MAX },
};
static const struct cfg_section rack_section = {
    SECTION_OF(rack_fields), .validate = validate_rack,
};

#define T_(name, d)                                                            \
    { #name, CFG_U32, OFF(struct plane_config_timers, name), .def = (d),       \
      .min = 1, .max = 3600000 }
static const struct cfg_field timer_fields[] = {
    T_(sync_interval_ms, 100),
    T_(flush_ms, 10),
    T_(idle_ms, 1000),
    T_(heartbeat_ms, 10),
    { "heartbeat_misses", CFG_U32, OFF(struct plane_config_timers, heartbeat_misses),
      .def = 3, .min = 1, .max = 1000 },
    T_(rpc_timeout_ms, 50),
    { "rpc_retries", CFG_U32, OFF(struct plane_config_timers, rpc_retries),
      .def = 8, .min = 0, .max = 1000 },
    T_(popularity_interval_ms, 100),
    { "popularity_threshold", CFG_U32, OFF(struct plane_config_timers, popularity_threshold),
      .def = 2, .min = 1, .max = 1u << 30 },
};
#undef T_
static const struct cfg_section timer_section = { SECTION_OF(timer_fields) };

static const struct cfg_field port_fields[] = {
    { "id", CFG_U16, OFF(struct plane_config_port, id), .max = UINT16_MAX,
      .required = true },
    { "name", CFG_NAME, OFF(struct plane_config_port, name), .required = true },
    { "listen", CFG_ADDR, OFF(struct plane_config_port, listen),
      HAS(struct plane_config_port, has_listen), .min = 0 },
    { "peer", CFG_ADDR, OFF(struct plane_config_port, peer),
      HAS(struct plane_config_port, has_peer), .min = 1 },
    { "tap", CFG_NAME, OFF(struct plane_config_port, tap),
      HAS(struct plane_config_port, has_tap) },
};
static const struct cfg_section port_section = {
    SECTION_OF(port_fields), .size = sizeof(struct plane_config_port),
    .validate = validate_port,
};

#define CAP_(name, d, mx)                                                      \
    { #name, CFG_U32, OFF(struct plane_config_capacities, name), .def = (d),   \
      .min = 0, .max = (mx) }
static const struct cfg_field capacity_fields[] = {
    CAP_(flow_entries, 65536, 1u << 26),
    CAP_(sram_kb, 16384, 1u << 24),
    CAP_(tcam_entries, 4096, 1u << 24),
    CAP_(hash_units, 8, 1024),
    CAP_(alus, 16, 1024),
};
#undef CAP_
static const struct cfg_section capacity_section = { SECTION_OF(capacity_fields) };

static const struct cfg_field switch_fields[] = {
    { "id", CFG_U16, OFF(struct plane_config_switch, id), .max = UINT16_MAX,
      .required = true },
    { "name", CFG_NAME, OFF(struct plane_config_switch, name), .required = true },
    { "control", CFG_ADDR, OFF(struct plane_config_switch, control), .min = 0,
      .required = true },
    { "ports", CFG_LIST, OFF(struct plane_config_switch, ports),
      COUNT(struct plane_config_switch, n_ports), .min = 1,
      .max = PLANE_CONFIG_MAX_PORTS, .sub = &port_section, .required = true },
    { "capacities", CFG_SECTION, OFF(struct plane_config_switch, capacities),
      .sub = &capacity_section },
    { "features", CFG_FEATURES, OFF(struct plane_config_switch, features) },
    { "rate_pps", CFG_U64, OFF(struct plane_config_switch, rate_pps),
      .max = UINT64_MAX },
};
static const struct cfg_section switch_section = { SECTION_OF(switch_fields) };

static const struct cfg_field device_fields[] = {
    { "id", CFG_U16, OFF(struct plane_config_device, id), .max = UINT16_MAX,
      .required = true },
    { "name", CFG_NAME, OFF(struct plane_config_device, name), .required = true },
    { "role", CFG_ENUM, OFF(struct plane_config_device, role), .names = role_names,
      .required = true },
    { "address", CFG_ADDR, OFF(struct plane_config_device, address), .min = 1,
      .required = true },
    { "memory_mb", CFG_U32, OFF(struct plane_config_device, memory_mb),
      .def = 1024, .min = 1, .max = 1u << 24 },
    { "rate_pps", CFG_U64, OFF(struct plane_config_device, rate_pps),
      .max = UINT64_MAX },
    { "cores", CFG_U16, OFF(struct plane_config_device, cores), .def = 1,
      .min = 1, .max = 4096 },
    { "features", CFG_FEATURES, OFF(struct plane_config_device, features) },
    { "latency_us", CFG_U32, OFF(struct plane_config_device, latency_us),
      .max = 10000000 },
};
static const struct cfg_section device_section = {
    SECTION_OF(device_fields), .size = sizeof(struct plane_config_device),
    .validate = validate_device,
};

static const struct cfg_field shard_key =
    { "logical", CFG_U32, OFF(struct plane_config_shard, logical),
      .max = PLANE_CONFIG_MAX_SHARDS - 1 };
static const struct cfg_field shard_fields[] = {
    { "primary", CFG_NAME, OFF(struct plane_config_shard, primary), .required = true },
    { "replica", CFG_NAME, OFF(struct plane_config_shard, replica),
      HAS(struct plane_config_shard, has_replica) },
};
static const struct cfg_section shard_section = {
    SECTION_OF(shard_fields), .size = sizeof(struct plane_config_shard),
    .key = &shard_key, .validate = validate_shard,
};
static const struct cfg_field shards_fields[] = {
    { "logical_devices", CFG_U32, OFF(struct plane_config_shards, logical_devices),
      .def = 0, .min = 0, .max = PLANE_CONFIG_MAX_SHARDS },
    { "map", CFG_MAP, OFF(struct plane_config_shards, map),
      COUNT(struct plane_config_shards, n_map), .max = PLANE_CONFIG_MAX_SHARDS,
      .sub = &shard_section },
};
static const struct cfg_section shards_section = {
    SECTION_OF(shards_fields), .validate = validate_shards,
};

static const struct cfg_field match_fields[] = {
    { "proto", CFG_ENUM, OFF(struct plane_config_match, proto), .names = proto_names,
      .def = PLANE_PROTO_ANY },
    { "dst_port", CFG_RANGE16, OFF(struct plane_config_match, dst_port),
      .def = 0xffff, .min = 0, .max = 65535 },
    { "vlan", CFG_U16, OFF(struct plane_config_match, vlan),
      HAS(struct plane_config_match, has_vlan), .min = 1, .max = 4094 },
};
static const struct cfg_section match_section = { SECTION_OF(match_fields) };

static const struct cfg_field object_key =
    { "name", CFG_NAME, OFF(struct plane_config_object, name) };
static const struct cfg_field object_fields[] = {
    { "size", CFG_U64, OFF(struct plane_config_object, size), .min = 1,
      .max = UINT64_C(1) << 40, .required = true },
};
static const struct cfg_section object_section = {
    SECTION_OF(object_fields), .size = sizeof(struct plane_config_object),
    .key = &object_key,
};

static const struct cfg_field param_key =
    { "key", CFG_NAME, OFF(struct plane_config_param, key) };
static const struct cfg_field param_value =
    { "value", CFG_STR, OFF(struct plane_config_param, value),
      .max = PLANE_CONFIG_STR_MAX };
static const struct cfg_section param_section = {
    .size = sizeof(struct plane_config_param), .key = &param_key,
    .value = &param_value,
};

static const struct cfg_field app_fields[] = {
    { "id", CFG_U16, OFF(struct plane_config_app, id), .max = UINT16_MAX,
      .required = true },
    { "name", CFG_NAME, OFF(struct plane_config_app, name), .required = true },
    { "module", CFG_PATH, OFF(struct plane_config_app, module),
      .max = PLANE_CONFIG_STR_MAX, .required = true },
    { "traffic_class", CFG_SECTION, OFF(struct plane_config_app, traffic_class),
      .sub = &match_section },
    { "flow_manager_entries", CFG_U32, OFF(struct plane_config_app, flow_manager_entries),
      .def = 4096, .min = 1, .max = 1u << 24 },
    { "objects", CFG_MAP, OFF(struct plane_config_app, objects),
      COUNT(struct plane_config_app, n_objects), .max = PLANE_CONFIG_MAX_OBJECTS,
      .sub = &object_section },
    { "params", CFG_MAP, OFF(struct plane_config_app, params),
      COUNT(struct plane_config_app, n_params), .max = PLANE_CONFIG_MAX_PARAMS,
      .sub = &param_section },
    { "devices", CFG_NAMES, OFF(struct plane_config_app, devices),
      COUNT(struct plane_config_app, n_devices), .min = 1,
      .max = PLANE_CONFIG_MAX_DEVICES + 1 },
};
static const struct cfg_section app_section = {
    SECTION_OF(app_fields), .size = sizeof(struct plane_config_app),
    .validate = validate_app,
};

static const struct cfg_field top_fields[] = {
    { "version", CFG_U32, OFF(struct plane_config, version), .def = 1, .min = 1,
      .max = 1 },
    { "rack", CFG_SECTION, OFF(struct plane_config, rack), .sub = &rack_section,
      .required = true },
    { "timers", CFG_SECTION, OFF(struct plane_config, timers), .sub = &timer_section },
    { "switch", CFG_SECTION, OFF(struct plane_config, sw), .sub = &switch_section,
      .required = true },
    { "devices", CFG_LIST, OFF(struct plane_config, devices),
      COUNT(struct plane_config, n_devices), .min = 1,
      .max = PLANE_CONFIG_MAX_DEVICES, .sub = &device_section, .required = true },
    { "shards", CFG_SECTION, OFF(struct plane_config, shards), .sub = &shards_section },
    { "plan", CFG_PATH, OFF(struct plane_config, plan_path), .max = PLANE_CONFIG_STR_MAX },
    { "apps", CFG_LIST, OFF(struct plane_config, apps),
      COUNT(struct plane_config, n_apps), .max = PLANE_CONFIG_MAX_APPS,
      .sub = &app_section },
};
static const struct cfg_section top_section = { SECTION_OF(top_fields) };

_Static_assert(sizeof(enum plane_device_role) == sizeof(unsigned),
               "CFG_ENUM stores enums as unsigned");
_Static_assert(sizeof(enum plane_config_proto) == sizeof(unsigned),
               "CFG_ENUM stores enums as unsigned");

/* ---------------------------------------------------------------------------
 * Freeing, generically from the tables.
 */

static void free_section(const struct cfg_section *s, void *base);

static void
free_field(const struct cfg_field *f, void *base)
{
    void *p = (char *)base + f->offset;
    switch (f->type) {
    case CFG_STR:
    case CFG_PATH:
        plane_free(*(char **)p);
        *(char **)p = NULL;
        break;
    case CFG_SECTION:
        free_section(f->sub, p);
        break;
    case CFG_NAMES:
        plane_free(*(void **)p);
        *(void **)p = NULL;
        *(size_t *)((char *)base + f->count_off) = 0;
        break;
    case CFG_LIST:
    case CFG_MAP: {
        char *items = *(void **)p;
        size_t *count = (size_t *)((char *)base + f->count_off);
        for (size_t i = 0; items && i < *count; i++) {
            free_section(f->sub, items + i * f->sub->size);
        }
        plane_free(items);
        *(void **)p = NULL;
        *count = 0;
        break;
    }
    default:
        break;
    }
}

static void
free_section(const struct cfg_section *s, void *base)
{
    for (size_t i = 0; i < s->n_fields; i++) {
        free_field(&s->fields[i], base);
    }
    if (s->key) {
        free_field(s->key, base);
    }
    if (s->value) {
        free_field(s->value, base);
    }
}

void
plane_config_delete(struct plane_config *cfg)
{
    if (!cfg) {
        return;
    }
    for (size_t i = 0; cfg->apps && i < cfg->n_apps; i++) {
        plane_free(cfg->apps[i].plan_sizes);
    }
    free_section(&top_section, cfg);
    sodium_memzero(cfg->rack.auth_key, sizeof cfg->rack.auth_key);
    plane_free(cfg->path);
    plane_free(cfg->dir);
    plane_free(cfg);
}

/* ---------------------------------------------------------------------------
 * Loading.
 */

static int
load_document(struct cfg_ctx *c, const char *buf, size_t len)
{
    yaml_document_t doc;
    int rc = plane_yaml_load(&c->y, buf, len, "configuration", &doc);
    if (rc) {
        return rc;
    }
    c->y.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || plane_yaml_is_null(&c->y, root)) {
        rc = plane_yaml_fail_line(&c->y, 1, "empty configuration");
    } else if (root->type != YAML_MAPPING_NODE) {
        char got[64];
        rc = plane_yaml_fail(&c->y, root, "expected a mapping at the top level, got %s",
                             plane_yaml_describe(&c->y, root, got, sizeof got));
    } else {
        rc = parse_mapping(c, &top_section, c->cfg, root, 0);
    }
    c->y.doc = NULL;
    yaml_document_delete(&doc);
    return rc;
}

int
plane_config_load_buf(const char *name, const char *buf, size_t len,
                      struct plane_config **out, char *err, size_t err_len)
{
    struct cfg_ctx c = {
        .y = {.name = name ? name : "<buffer>",
              .err = err,
              .err_len = err_len,
              .flags = CFG_YAML_FLAGS},
    };
    if (out) {
        *out = NULL;
    }
    int rc = plane_yaml_check_buf(&c.y, out != NULL, &buf, &len);
    if (rc) {
        return rc;
    }
    struct plane_config *cfg = plane_calloc(1, sizeof *cfg);
    if (!cfg) {
        return plane_yaml_nomem(&c.y);
    }
    cfg->path = plane_strdup(c.y.name);
    cfg->dir = dir_of(c.y.name);
    if (!cfg->path || !cfg->dir) {
        plane_config_delete(cfg);
        return plane_yaml_nomem(&c.y);
    }
    c.cfg = cfg;

    rc = load_document(&c, buf, len);
    if (!rc && cfg->plan_path) {
        rc = plane_config_apply_plan(cfg, cfg->plan_path, err, err_len);
    }
    if (rc) {
        plane_config_delete(cfg);
        return rc;
    }
    PLANE_DBG("loaded %s: rack %s, %zu devices, %zu apps", cfg->path,
              cfg->rack.name, cfg->n_devices, cfg->n_apps);
    *out = cfg;
    return 0;
}

int
plane_config_load_file(const char *path, struct plane_config **out, char *err,
                       size_t err_len)
{
    struct plane_yaml_ctx y = {
        .name = path, .err = err, .err_len = err_len, .flags = CFG_YAML_FLAGS};
    if (out) {
        *out = NULL;
    }
    char *buf;
    size_t n;
    int rc = plane_yaml_read_file(&y, out != NULL, path, &buf, &n);
    if (!rc) {
        rc = plane_config_load_buf(path, buf, n, out, err, err_len);
        plane_free(buf);
    }
    return rc;
}

/* ---------------------------------------------------------------------------
 * Lookups.
 */

const struct plane_config_device *
plane_config_find_device(const struct plane_config *cfg, const char *name)
{
    int i = cfg && name ? device_index(cfg, name) : -1;
    return i < 0 ? NULL : &cfg->devices[i];
}

const struct plane_config_device *
plane_config_find_device_by_id(const struct plane_config *cfg, uint16_t id)
{
    for (size_t i = 0; cfg && i < cfg->n_devices; i++) {
        if (cfg->devices[i].id == id) {
            return &cfg->devices[i];
        }
    }
    return NULL;
}

const struct plane_config_app *
plane_config_find_app(const struct plane_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->n_apps; i++) {
        if (!strcmp(cfg->apps[i].name, name)) {
            return &cfg->apps[i];
        }
    }
    return NULL;
}

const struct plane_config_app *
plane_config_find_app_by_id(const struct plane_config *cfg, uint16_t id)
{
    for (size_t i = 0; cfg && i < cfg->n_apps; i++) {
        if (cfg->apps[i].id == id) {
            return &cfg->apps[i];
        }
    }
    return NULL;
}

const char *
plane_config_app_param(const struct plane_config_app *app, const char *key)
{
    for (size_t i = 0; app && key && i < app->n_params; i++) {
        if (!strcmp(app->params[i].key, key)) {
            return app->params[i].value;
        }
    }
    return NULL;
}

bool
plane_config_app_allows(const struct plane_config_app *app, const char *name)
{
    if (!app || app->n_devices == 0) {
        return true;
    }
    for (size_t i = 0; name && i < app->n_devices; i++) {
        if (!strcmp(app->devices[i], name)) {
            return true;
        }
    }
    return false;
}

uint64_t
plane_config_app_object_size_on(const struct plane_config_app *app, uint16_t device_id,
                                const char *name, uint64_t dflt)
{
    for (size_t i = 0; app && name && i < app->n_plan_sizes; i++) {
        if (app->plan_sizes[i].device_id == device_id
            && !strcmp(app->plan_sizes[i].object, name)) {
            return app->plan_sizes[i].size;
        }
    }
    return plane_config_app_object_size(app, name, dflt);
}

uint64_t
plane_config_app_object_size(const struct plane_config_app *app,
                             const char *name, uint64_t dflt)
{
    for (size_t i = 0; app && name && i < app->n_objects; i++) {
        if (!strcmp(app->objects[i].name, name)) {
            return app->objects[i].size;
        }
    }
    return dflt;
}

/* ---------------------------------------------------------------------------
 * Dumping, generically from the tables.
 */

static void
dump_quoted(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            fprintf(o, "\\%c", ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(o, "\\x%02x", ch);
        } else {
            fputc(ch, o);
        }
    }
    fputc('"', o);
}

/* Prints a line's indentation; the first line of a list item gets "- ". */
static void
dump_indent(FILE *o, int indent, bool *dash)
{
    if (*dash) {
        fprintf(o, "%*s- ", indent - 2, "");
        *dash = false;
    } else {
        fprintf(o, "%*s", indent, "");
    }
}

static void dump_section(FILE *o, const struct cfg_section *s, const void *base,
                         int indent, bool *dash);

/* Prints a scalar field's value; returns false for a compound one. */
static bool
dump_scalar(FILE *o, const struct cfg_field *f, const void *p)
{
    switch (f->type) {
    case CFG_U16:
        fprintf(o, "%u", *(const uint16_t *)p);
        return true;
    case CFG_U32:
        fprintf(o, "%" PRIu32, *(const uint32_t *)p);
        return true;
    case CFG_U64:
        fprintf(o, "%" PRIu64, *(const uint64_t *)p);
        return true;
    case CFG_NAME:
        fputs((const char *)p, o);
        return true;
    case CFG_STR:
    case CFG_PATH:
        dump_quoted(o, *(char *const *)p ? *(char *const *)p : "");
        return true;
    case CFG_ADDR:
        dump_quoted(o, ((const struct plane_config_addr *)p)->text);
        return true;
    case CFG_HEXKEY:
        fputs("\"<redacted>\"", o);
        return true;
    case CFG_ENUM:
        fputs(f->names[*(const unsigned *)p], o);
        return true;
    case CFG_RANGE16: {
        const struct plane_config_range *r = p;
        if (r->lo == r->hi) {
            fprintf(o, "%u", r->lo);
        } else {
            fprintf(o, "\"%u-%u\"", r->lo, r->hi);
        }
        return true;
    }
    case CFG_FEATURES: {
        uint32_t mask = *(const uint32_t *)p;
        fputc('[', o);
        for (size_t i = 0, n = 0; i < PLANE_FEATURE_COUNT; i++) {
            if (mask & (1u << i)) {
                fprintf(o, "%s%s", n++ ? ", " : "", feature_names[i]);
            }
        }
        fputc(']', o);
        return true;
    }
    default:
        return false;
    }
}

static void
dump_field(FILE *o, const struct cfg_field *f, const void *base, int indent,
           bool *dash)
{
    const void *p = (const char *)base + f->offset;
    if (f->has && !*((const bool *)((const char *)base + f->has - 1))) {
        return;
    }
    if ((f->type == CFG_STR || f->type == CFG_PATH) && !*(char *const *)p) {
        return;
    }
    if (f->type == CFG_NAMES) {
        char(*const *names)[PLANE_CONFIG_NAME_MAX] = p;
        size_t n = *(const size_t *)((const char *)base + f->count_off);
        if (n == 0) {
            return;   /* absent: no restriction */
        }
        dump_indent(o, indent, dash);
        fprintf(o, "%s: [", f->name);
        for (size_t i = 0; i < n; i++) {
            fprintf(o, "%s%s", i ? ", " : "", (*names)[i]);
        }
        fputs("]\n", o);
        return;
    }
    dump_indent(o, indent, dash);
    fprintf(o, "%s:", f->name);
    if (f->type != CFG_SECTION && f->type != CFG_LIST && f->type != CFG_MAP) {
        fputc(' ', o);
        dump_scalar(o, f, p);
        fputc('\n', o);
        return;
    }
    if (f->type == CFG_SECTION) {
        fputc('\n', o);
        bool no_dash = false;
        dump_section(o, f->sub, p, indent + 2, &no_dash);
        return;
    }
    const char *items = *(char *const *)p;
    size_t n = *(const size_t *)((const char *)base + f->count_off);
    if (n == 0) {
        fputs(f->type == CFG_LIST ? " []\n" : " {}\n", o);
        return;
    }
    fputc('\n', o);
    for (size_t i = 0; i < n; i++) {
        const void *elem = items + i * f->sub->size;
        if (f->type == CFG_LIST) {
            bool item_dash = true;
            dump_section(o, f->sub, elem, indent + 4, &item_dash);
            continue;
        }
        fprintf(o, "%*s", indent + 2, "");
        dump_scalar(o, f->sub->key, (const char *)elem + f->sub->key->offset);
        fputc(':', o);
        if (f->sub->value) {
            fputc(' ', o);
            dump_scalar(o, f->sub->value, (const char *)elem + f->sub->value->offset);
            fputc('\n', o);
        } else {
            fputc('\n', o);
            bool no_dash = false;
            dump_section(o, f->sub, elem, indent + 4, &no_dash);
        }
    }
}

static void
dump_section(FILE *o, const struct cfg_section *s, const void *base, int indent,
             bool *dash)
{
    for (size_t i = 0; i < s->n_fields; i++) {
        dump_field(o, &s->fields[i], base, indent, dash);
    }
}

int
plane_config_dump(const struct plane_config *cfg, FILE *f)
{
    fprintf(f, "# %s, as loaded (defaults filled in, shards resolved)\n", cfg->path);
    bool no_dash = false;
    dump_section(f, &top_section, cfg, 0, &no_dash);
    return fflush(f) != 0 || ferror(f) ? PLANE_EIO : 0;
}
