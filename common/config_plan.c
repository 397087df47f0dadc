/* Applies the planner's YAML fragment (docs/planner.md) to a loaded rack config. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common/alloc.h"
#include "common/config.h"
#include "common/log.h"
#include "plane/error.h"

PLANE_LOG_MODULE(config);

/*
 * The fragment is the planner's output, so it is read leniently: only
 * plan.apps[].name, .flow_manager_entries and .objects.<device>.<object>
 * matter here; everything else (shares, shards, device loads) is for
 * people and is skipped.  What it names must exist in the rack, and sizes
 * must be positive integers: a plan for another rack is an error, not a
 * silent no-op.
 */
struct plan_ctx {
    yaml_document_t doc;
    const char *path;
    char *err;
    size_t err_len;
};

static int plan_err(struct plan_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
plan_err(struct plan_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->err && c->err_len) {
        snprintf(c->err, c->err_len, "%s:%zu: %s", c->path,
                 n ? n->start_mark.line + 1 : 0, msg);
    }
    return PLANE_ECONFIG;
}

/* The value node of key in mapping m, or NULL. */
static yaml_node_t *
plan_get(struct plan_ctx *c, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE) {
        return NULL;
    }
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(&c->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *) k->data.scalar.value, key)) {
            return yaml_document_get_node(&c->doc, p->value);
        }
    }
    return NULL;
}

static const char *
plan_str(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static int
plan_u64(struct plan_ctx *c, const yaml_node_t *n, const char *what, uint64_t max,
         uint64_t *out)
{
    const char *s = plan_str(n);
    char *end;
    if (!s || !*s || *s == '-') {
        return plan_err(c, n, "%s: want a positive integer", what);
    }
    unsigned long long v = strtoull(s, &end, 0);
    if (*end || v == 0 || v > max) {
        return plan_err(c, n, "%s: \"%s\" is not an integer in [1, %llu]", what, s,
                        (unsigned long long) max);
    }
    *out = v;
    return 0;
}

/* objects: {"dev": {"obj": N, ...}, ...} of one app. */
static int
plan_objects(struct plan_ctx *c, const struct plane_config *cfg, struct plane_config_app *app,
             yaml_node_t *objs)
{
    if (objs->type != YAML_MAPPING_NODE) {
        return plan_err(c, objs, "objects of app %s: want a mapping", app->name);
    }
    size_t n = 0;
    for (yaml_node_pair_t *p = objs->data.mapping.pairs.start; p < objs->data.mapping.pairs.top;
         p++) {
        yaml_node_t *v = yaml_document_get_node(&c->doc, p->value);
        n += v && v->type == YAML_MAPPING_NODE
                 ? (size_t) (v->data.mapping.pairs.top - v->data.mapping.pairs.start) : 0;
    }
    struct plane_config_plan_size *sizes = plane_calloc(n ? n : 1, sizeof *sizes);
    if (!sizes) {
        return plan_err(c, objs, "out of memory");
    }
    size_t k = 0;
    for (yaml_node_pair_t *p = objs->data.mapping.pairs.start; p < objs->data.mapping.pairs.top;
         p++) {
        yaml_node_t *dn = yaml_document_get_node(&c->doc, p->key);
        yaml_node_t *dv = yaml_document_get_node(&c->doc, p->value);
        const char *dname = plan_str(dn);
        uint16_t dev_id;
        const struct plane_config_device *d = dname ? plane_config_find_device(cfg, dname) : NULL;
        if (d) {
            dev_id = d->id;
        } else if (dname && !strcmp(dname, cfg->sw.name)) {
            dev_id = cfg->sw.id;
        } else {
            plane_free(sizes);
            return plan_err(c, dn, "app %s: device \"%s\" is not in rack %s", app->name,
                            dname ? dname : "?", cfg->rack.name);
        }
        if (!dv || dv->type != YAML_MAPPING_NODE) {
            plane_free(sizes);
            return plan_err(c, dv, "app %s, device %s: want {object: entries}", app->name,
                            dname);
        }
        for (yaml_node_pair_t *q = dv->data.mapping.pairs.start;
             q < dv->data.mapping.pairs.top; q++) {
            yaml_node_t *on = yaml_document_get_node(&c->doc, q->key);
            const char *oname = plan_str(on);
            uint64_t size;
            if (!oname || strlen(oname) >= sizeof sizes[k].object) {
                plane_free(sizes);
                return plan_err(c, on, "app %s: bad object name", app->name);
            }
            int rc = plan_u64(c, yaml_document_get_node(&c->doc, q->value), oname,
                              UINT64_C(1) << 32, &size);
            if (rc) {
                plane_free(sizes);
                return rc;
            }
            sizes[k].device_id = dev_id;
            snprintf(sizes[k].object, sizeof sizes[k].object, "%s", oname);
            sizes[k].size = size;
            k++;
        }
    }
    plane_free(app->plan_sizes);
    app->plan_sizes = sizes;
    app->n_plan_sizes = k;
    return 0;
}

static int
plan_apply_doc(struct plan_ctx *c, struct plane_config *cfg)
{
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);
    yaml_node_t *plan = plan_get(c, root, "plan");
    if (!plan) {
        return plan_err(c, root, "no top-level \"plan\" mapping (is this planectl plan --out "
                        "output?)");
    }
    const char *rack = plan_str(plan_get(c, plan, "rack"));
    if (rack && strcmp(rack, cfg->rack.name)) {
        return plan_err(c, plan_get(c, plan, "rack"), "a plan for rack \"%s\", not \"%s\"",
                        rack, cfg->rack.name);
    }
    yaml_node_t *apps = plan_get(c, plan, "apps");
    if (!apps || apps->type != YAML_SEQUENCE_NODE) {
        return plan_err(c, apps ? apps : plan, "plan.apps: want a list");
    }
    for (yaml_node_item_t *it = apps->data.sequence.items.start;
         it < apps->data.sequence.items.top; it++) {
        yaml_node_t *a = yaml_document_get_node(&c->doc, *it);
        const char *name = plan_str(plan_get(c, a, "name"));
        struct plane_config_app *app = NULL;
        for (size_t i = 0; name && i < cfg->n_apps; i++) {
            if (!strcmp(cfg->apps[i].name, name)) {
                app = &cfg->apps[i];
            }
        }
        if (!app) {
            return plan_err(c, a, "app \"%s\" is not in rack %s", name ? name : "?",
                            cfg->rack.name);
        }
        yaml_node_t *fm = plan_get(c, a, "flow_manager_entries");
        if (fm && !strcmp(plan_str(fm) ? plan_str(fm) : "", "0")) {
            /* The switch serves none of the app: the smallest flow manager. */
            app->flow_manager_entries = 1;
        } else if (fm) {
            uint64_t v;
            int rc = plan_u64(c, fm, "flow_manager_entries", 16777216, &v);
            if (rc) {
                return rc;
            }
            app->flow_manager_entries = (uint32_t) v;
        }
        yaml_node_t *objs = plan_get(c, a, "objects");
        if (objs) {
            int rc = plan_objects(c, cfg, app, objs);
            if (rc) {
                return rc;
            }
        }
        PLANE_DBG("plan %s: app %s: flow manager %u, %zu object sizes", c->path, name,
                  app->flow_manager_entries, app->n_plan_sizes);
    }
    return 0;
}

int
plane_config_apply_plan(struct plane_config *cfg, const char *path, char *err, size_t err_len)
{
    struct plan_ctx c = { .path = path, .err = err, .err_len = err_len };
    FILE *f = fopen(path, "rb");
    if (!f) {
        return plan_err(&c, NULL, "cannot open the plan fragment: %s", strerror(errno));
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return plan_err(&c, NULL, "out of memory");
    }
    yaml_parser_set_input_file(&parser, f);
    int rc;
    if (!yaml_parser_load(&parser, &c.doc)) {
        snprintf(err, err_len, "%s:%zu: YAML syntax error: %s", path,
                 parser.problem_mark.line + 1, parser.problem ? parser.problem : "?");
        rc = PLANE_ECONFIG;
    } else {
        rc = plan_apply_doc(&c, cfg);
        yaml_document_delete(&c.doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
