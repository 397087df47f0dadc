/* App loading (dlopen), descriptor validation, feature checks and per-device instances. */
#include "app_internal.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <plane/error.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/log.h"
#include "merge.h"
#include "object.h"

PLANE_LOG_MODULE(app);

const char *const plane_app_inst_counter_names[] = {
    PLANE_COUNTERS_NAMES(PLANE_APP_INST_COUNTERS)
};

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static bool
name_ok(const char *name)
{
    if (!name || !name[0]) {
        return false;
    }
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok || n >= PLANE_APP_NAME_MAX) {
            return false;
        }
    }
    return true;
}

static const char *
kind_name(enum plane_obj_kind kind)
{
    switch (kind) {
    case PLANE_OBJ_TABLE:
        return "table";
    case PLANE_OBJ_REGISTER:
        return "register";
    case PLANE_OBJ_CMS:
        return "cms";
    case PLANE_OBJ_BLOOM:
        return "bloom";
    }
    return "?";
}

/*
 * Fills in an object's defaults (see struct plane_app.objs) and checks it.
 * Returns 0 or PLANE_EINVAL with a message after `prefix` in err.
 */
static int
resolve_object(const struct plane_app_desc *app, uint16_t i,
               struct plane_obj_desc *out, char *err, size_t err_len)
{
    const struct plane_obj_desc *o = &app->objects[i];
    *out = *o;
#define OBJ_ERR(...)                                                           \
    do {                                                                       \
        char msg_[192];                                                        \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                              \
        set_err(err, err_len, "app \"%s\": object \"%s\" (#%u): %s",           \
                app->name, o->name ? o->name : "(null)", (unsigned) i, msg_);  \
        return PLANE_EINVAL;                                                   \
    } while (0)

    if (!name_ok(o->name)) {
        OBJ_ERR("name must be 1..%d characters of [A-Za-z0-9_.-]",
                PLANE_APP_NAME_MAX);
    }
    for (uint16_t j = 0; j < i; j++) {
        if (!strcmp(app->objects[j].name, o->name)) {
            OBJ_ERR("duplicate name (also object #%u)", (unsigned) j);
        }
    }
    if (o->size == 0 || o->size > PLANE_OBJECT_MAX_CAPACITY) {
        OBJ_ERR("size %u not in [1, %u]", (unsigned) o->size,
                (unsigned) PLANE_OBJECT_MAX_CAPACITY);
    }
    switch (o->kind) {
    case PLANE_OBJ_TABLE:
    case PLANE_OBJ_REGISTER:
        if (o->key_fields & ~(uint32_t) PLANE_FLOW_ALL) {
            OBJ_ERR("key_fields 0x%x has unknown PLANE_FLOW_* bits",
                    (unsigned) o->key_fields);
        }
        if (o->key_fields & ~app->union_key_fields) {
            OBJ_ERR("key_fields 0x%x not within the union key fields 0x%x",
                    (unsigned) o->key_fields, (unsigned) app->union_key_fields);
        }
        if (o->value_len > PLANE_OBJ_MAX_VALUE) {
            OBJ_ERR("value_len %u over PLANE_OBJ_MAX_VALUE (%d)",
                    (unsigned) o->value_len, PLANE_OBJ_MAX_VALUE);
        }
        if (o->kind == PLANE_OBJ_REGISTER && o->value_len == 0) {
            OBJ_ERR("a register needs value_len > 0");
        }
        break;
    case PLANE_OBJ_CMS:
        if (o->merge != PLANE_MERGE_NONE && o->merge != PLANE_MERGE_ADD) {
            OBJ_ERR("a cms merges with ADD (merge %d given)", (int) o->merge);
        }
        out->merge = PLANE_MERGE_ADD;
        out->value_len = 8;
        out->key_fields = 0;
        out->cms_depth = o->cms_depth ? o->cms_depth : 4;
        if (o->size < out->cms_depth) {
            OBJ_ERR("size %u smaller than cms_depth %u", (unsigned) o->size,
                    (unsigned) out->cms_depth);
        }
        break;
    case PLANE_OBJ_BLOOM:
        if (o->merge != PLANE_MERGE_NONE && o->merge != PLANE_MERGE_OR) {
            OBJ_ERR("a bloom filter merges with OR (merge %d given)",
                    (int) o->merge);
        }
        out->merge = PLANE_MERGE_OR;
        out->value_len = 8;
        out->key_fields = 0;
        out->bloom_hashes = o->bloom_hashes ? o->bloom_hashes : 3;
        if (out->bloom_hashes > 32) {
            OBJ_ERR("bloom_hashes %u over 32", (unsigned) out->bloom_hashes);
        }
        break;
    default:
        OBJ_ERR("unknown kind %d", (int) o->kind);
    }
    struct plane_merge m;
    if (plane_merge_init(&m, out) != 0) {
        if (out->merge == PLANE_MERGE_CUSTOM && !out->plus) {
            OBJ_ERR("CUSTOM merge without a plus function");
        }
        if (out->kind == PLANE_OBJ_TABLE) {
            OBJ_ERR("a table takes merge NONE (merge %d given)", (int) out->merge);
        }
        if (out->merge == PLANE_MERGE_NONE) {
            OBJ_ERR("a %s needs a merge operator", kind_name(out->kind));
        }
        OBJ_ERR("merge %d invalid for a %s of value_len %u (built-in "
                "operators need a multiple of 8)", (int) out->merge,
                kind_name(out->kind), (unsigned) out->value_len);
    }
    return 0;
#undef OBJ_ERR
}

/* Validates desc and resolves its objects into objs (may be NULL). */
static int
validate(const struct plane_app_desc *desc, struct plane_obj_desc *objs,
         char *err, size_t err_len)
{
    if (!desc) {
        set_err(err, err_len, "app descriptor is NULL");
        return PLANE_EINVAL;
    }
    if (desc->abi_version != PLANE_APP_ABI_VERSION) {
        set_err(err, err_len,
                "app \"%s\": abi_version %u, this runtime speaks %u (rebuild "
                "the app against this libplane)",
                name_ok(desc->name) ? desc->name : "?",
                (unsigned) desc->abi_version, (unsigned) PLANE_APP_ABI_VERSION);
        return PLANE_EVERSION;
    }
    if (!name_ok(desc->name)) {
        set_err(err, err_len,
                "app name must be 1..%d characters of [A-Za-z0-9_.-]",
                PLANE_APP_NAME_MAX);
        return PLANE_EINVAL;
    }
    const char *name = desc->name;
    if (!desc->process) {
        set_err(err, err_len, "app \"%s\": process() is NULL", name);
        return PLANE_EINVAL;
    }
    if (desc->union_key_fields == 0
        || (desc->union_key_fields & ~(uint32_t) PLANE_FLOW_ALL)) {
        set_err(err, err_len,
                "app \"%s\": union_key_fields 0x%x must be a non-empty set "
                "of PLANE_FLOW_* bits", name, (unsigned) desc->union_key_fields);
        return PLANE_EINVAL;
    }
    if (desc->n_objects > PLANE_APP_MAX_OBJECTS) {
        set_err(err, err_len, "app \"%s\": %u objects, at most %d", name,
                (unsigned) desc->n_objects, PLANE_APP_MAX_OBJECTS);
        return PLANE_EINVAL;
    }
    if (desc->n_objects > 0 && !desc->objects) {
        set_err(err, err_len, "app \"%s\": n_objects %u but objects is NULL",
                name, (unsigned) desc->n_objects);
        return PLANE_EINVAL;
    }
    if (desc->features & ~((1u << PLANE_FEATURE_COUNT) - 1)) {
        set_err(err, err_len, "app \"%s\": unknown feature bits 0x%x", name,
                (unsigned) (desc->features & ~((1u << PLANE_FEATURE_COUNT) - 1)));
        return PLANE_EINVAL;
    }
    if (desc->state_size > PLANE_APP_MAX_STATE) {
        set_err(err, err_len, "app \"%s\": state_size %zu over %u", name,
                desc->state_size, (unsigned) PLANE_APP_MAX_STATE);
        return PLANE_EINVAL;
    }
    struct plane_obj_desc scratch;
    for (uint16_t i = 0; i < desc->n_objects; i++) {
        int rc = resolve_object(desc, i, objs ? &objs[i] : &scratch, err,
                                err_len);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int
plane_app_validate(const struct plane_app_desc *desc, char *err, size_t err_len)
{
    return validate(desc, NULL, err, err_len);
}

static struct plane_app *
app_new(const struct plane_app_desc *desc, char *err, size_t err_len)
{
    struct plane_app *app = plane_calloc(1, sizeof *app);
    if (!app) {
        set_err(err, err_len, "out of memory");
        return NULL;
    }
    if (validate(desc, app->objs, err, err_len) != 0) {
        plane_free(app);
        return NULL;
    }
    app->desc = desc;
    return app;
}

struct plane_app *
plane_app_from_desc(const struct plane_app_desc *desc)
{
    char err[256];
    struct plane_app *app = app_new(desc, err, sizeof err);
    if (!app) {
        PLANE_ERR("%s", err);
    }
    return app;
}

struct plane_app *
plane_app_load(const char *path, char *err, size_t err_len)
{
    if (!path) {
        set_err(err, err_len, "app module path is NULL");
        return NULL;
    }
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        set_err(err, err_len, "%s: cannot load app module: %s", path,
                why ? why : "unknown error");
        return NULL;
    }
    /* dlsym returns void *; POSIX guarantees it converts to a function
     * pointer, which ISO C does not say, hence the memcpy. */
    dlerror();
    void *sym = dlsym(dl, PLANE_APP_ENTRY);
    if (!sym) {
        const char *why = dlerror();
        set_err(err, err_len, "%s: no %s() in the module: %s", path,
                PLANE_APP_ENTRY, why ? why : "symbol is NULL");
        dlclose(dl);
        return NULL;
    }
    plane_app_register_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const struct plane_app_desc *desc = entry();
    if (!desc) {
        set_err(err, err_len, "%s: %s() returned NULL", path, PLANE_APP_ENTRY);
        dlclose(dl);
        return NULL;
    }
    char why[256];
    struct plane_app *app = app_new(desc, why, sizeof why);
    if (!app) {
        set_err(err, err_len, "%s: %s", path, why);
        dlclose(dl);
        return NULL;
    }
    app->path = plane_strdup(path);
    if (!app->path) {
        set_err(err, err_len, "%s: out of memory", path);
        plane_free(app);
        dlclose(dl);
        return NULL;
    }
    app->dl = dl;
    PLANE_INFO("loaded app \"%s\" from %s (%u objects)", desc->name, path,
               (unsigned) desc->n_objects);
    return app;
}

void
plane_app_delete(struct plane_app *app)
{
    if (!app) {
        return;
    }
    if (app->dl) {
        dlclose(app->dl);
    }
    plane_free(app->path);
    plane_free(app);
}

const char *
plane_app_name(const struct plane_app *app)
{
    return app->desc->name;
}

uint16_t
plane_app_n_objects(const struct plane_app *app)
{
    return app->desc->n_objects;
}

const struct plane_obj_desc *
plane_app_object(const struct plane_app *app, uint16_t i)
{
    return i < app->desc->n_objects ? &app->objs[i] : NULL;
}

int
plane_app_find_object(const struct plane_app *app, const char *name)
{
    for (uint16_t i = 0; name && i < app->desc->n_objects; i++) {
        if (!strcmp(app->objs[i].name, name)) {
            return i;
        }
    }
    return -1;
}

uint32_t
plane_app_missing_features(const struct plane_app *app, uint32_t device_features)
{
    return app->desc->features & ~device_features;
}

int
plane_app_check_features(const struct plane_app *app, uint32_t device_features)
{
    uint32_t missing = plane_app_missing_features(app, device_features);
    if (missing == 0) {
        return 0;
    }
    uint32_t first = missing & -missing;
    const char *fname = plane_feature_name(first);
    PLANE_WARN("app \"%s\" needs feature \"%s\" the device lacks (missing "
               "0x%x)", app->desc->name, fname ? fname : "?",
               (unsigned) missing);
    return PLANE_EFEATURE;
}

/* ---- Instances ---- */

struct plane_app_inst *
plane_app_inst_new(const struct plane_app *app,
                   const struct plane_config_app *cfg, uint16_t device_id,
                   bool external, const struct plane_hasher *hasher)
{
    if (!app || !hasher) {
        return NULL;
    }
    const struct plane_app_desc *desc = app->desc;
    struct plane_app_inst *inst = plane_calloc(1, sizeof *inst);
    if (!inst) {
        return NULL;
    }
    inst->app = app;
    inst->device_id = device_id;
    inst->external = external;
    inst->hasher = hasher;
    for (uint16_t i = 0; i < desc->n_objects; i++) {
        const struct plane_obj_desc *od = &app->objs[i];
        uint64_t size = plane_config_app_object_size_on(cfg, device_id, od->name, od->size);
        if (size == 0 || size > PLANE_OBJECT_MAX_CAPACITY) {
            PLANE_ERR("app \"%s\": object \"%s\": size %llu not in [1, %u]",
                      desc->name, od->name, (unsigned long long) size,
                      (unsigned) PLANE_OBJECT_MAX_CAPACITY);
            goto fail;
        }
        inst->objects[i] = plane_object_new(od, size, hasher);
        if (!inst->objects[i]) {
            PLANE_ERR("app \"%s\": object \"%s\": cannot create with size "
                      "%llu (out of memory?)", desc->name, od->name,
                      (unsigned long long) size);
            goto fail;
        }
    }
    if (desc->state_size) {
        inst->state = plane_calloc(1, desc->state_size);
        if (!inst->state) {
            goto fail;
        }
    }
    if (desc->init) {
        size_t n_params = cfg ? cfg->n_params : 0;
        struct plane_app_param *params = NULL;
        if (n_params) {
            params = plane_calloc(n_params, sizeof *params);
            if (!params) {
                goto fail;
            }
            for (size_t i = 0; i < n_params; i++) {
                params[i].key = cfg->params[i].key;
                params[i].value = cfg->params[i].value;
            }
        }
        int rc = desc->init(inst->state, params, n_params);
        plane_free(params);
        if (rc != 0) {
            PLANE_ERR("app \"%s\": init() failed on device %u: %s", desc->name,
                      (unsigned) device_id, plane_strerror(rc));
            goto fail;
        }
        inst->inited = true;
    }
    return inst;

fail:
    plane_app_inst_delete(inst);
    return NULL;
}

void
plane_app_inst_delete(struct plane_app_inst *inst)
{
    if (!inst) {
        return;
    }
    if (inst->inited && inst->app->desc->fini) {
        inst->app->desc->fini(inst->state);
    }
    for (size_t i = 0; i < PLANE_APP_MAX_OBJECTS; i++) {
        plane_object_delete(inst->objects[i]);
    }
    plane_free(inst->state);
    plane_free(inst);
}

struct plane_object *
plane_app_inst_object(const struct plane_app_inst *inst, uint16_t i)
{
    return i < PLANE_APP_MAX_OBJECTS ? inst->objects[i] : NULL;
}

const struct plane_app_inst_stats *
plane_app_inst_stats(const struct plane_app_inst *inst)
{
    return &inst->stats;
}
