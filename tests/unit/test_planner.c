/* Tests of the planner: Zipf quanta, the workload loader, ILP optimality against brute force, constraints and output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef PLANE_TEST_HAVE_PCAP
#include <pcap/pcap.h>
#endif
#include <math.h>
#include <time.h>

#include <cmocka.h>
#include <yaml.h>

#include <plane/error.h>

#include "common/config.h"
#include "common/pkt.h"
#include "planner.h"
#include "workload.h"

#define FIXTURE(f) PLANE_PLANNER_FIXTURES "/" f

static struct plane_config *
rack_load(void)
{
    char err[512];
    struct plane_config *rack = NULL;
    int rc = plane_config_load_file(FIXTURE("rack.yaml"), &rack, err, sizeof err);
    if (rc) {
        print_message("rack: %s\n", err);
    }
    assert_int_equal(rc, 0);
    return rack;
}

static struct plane_workload *
wl_load(const struct plane_config *rack)
{
    char err[512];
    struct plane_workload *wl = NULL;
    int rc = plane_workload_load_file(FIXTURE("workload.yaml"), rack, &wl, err, sizeof err);
    if (rc) {
        print_message("workload: %s\n", err);
    }
    assert_int_equal(rc, 0);
    return wl;
}

/* ---------------------------------------------------------------------------
 * Zipf.
 */

static void
test_harmonic(void **state)
{
    (void)state;
    const double alphas[] = { 0.0, 0.5, 0.99, 1.0, 1.2, 2.0 };
    const uint64_t ns[] = { 1, 10, 256, 257, 1000, 123457, 1000000 };
    for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
            double exact = 0;
            for (uint64_t k = ns[i]; k >= 1; k--) {
                exact += pow((double)k, -alphas[a]);
            }
            double h = plane_planner_harmonic(ns[i], alphas[a]);
            assert_true(fabs(h - exact) <= 1e-10 * exact);
        }
    }
    /* Quantum fractions cover all traffic and fall with rank. */
    double sum = 0, prev = 1;
    for (uint64_t q = 0; q < 16; q++) {
        double f = plane_planner_zipf_fraction(0.99, 10000000, q * 625000, (q + 1) * 625000);
        assert_true(f <= prev);
        prev = f;
        sum += f;
    }
    assert_true(fabs(sum - 1) < 1e-9);
    /* Uniform: each of 4 quanta a quarter. */
    assert_true(fabs(plane_planner_zipf_fraction(0, 1000, 250, 500) - 0.25) < 1e-12);
}

/* ---------------------------------------------------------------------------
 * Loader.
 */

static void
test_workload_example(void **state)
{
    (void)state;
    char err[512];
    struct plane_config *rack = NULL;
    struct plane_workload *wl = NULL;
    assert_int_equal(plane_config_load_file(PLANE_SOURCE_DIR "/examples/racks/local.yaml",
                                            &rack, err, sizeof err), 0);
    int rc = plane_workload_load_file(PLANE_SOURCE_DIR "/examples/racks/workload-local.yaml",
                                      rack, &wl, err, sizeof err);
    if (rc) {
        print_message("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(wl->n_apps, 4);
    assert_string_equal(wl->apps[0].name, "counter");
    assert_int_equal(wl->apps[0].keys, 1000000);
    assert_int_equal(wl->apps[2].affinity, PLANE_AFFINITY_HIGH);
    assert_int_equal(wl->apps[3].quanta, 4);
    assert_int_equal(wl->apps[3].features, PLANE_FEAT_PAYLOAD | PLANE_FEAT_REGEX);
    assert_true(wl->apps[1].objects[0].kind == PLANE_WL_OBJ_TABLE);
    assert_int_equal(wl->rate_pps, 600000);

    struct plane_plan *plan = NULL;
    rc = plane_planner_solve(rack, wl, NULL, &plan, err, sizeof err);
    if (rc) {
        print_message("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_true(plan->optimal);
    plane_plan_delete(plan);
    plane_workload_delete(wl);
    plane_config_delete(rack);
}

static void
expect_wl_err(const struct plane_config *rack, const char *yaml, const char *want)
{
    char err[512];
    struct plane_workload *wl = (struct plane_workload *)err;
    int rc = plane_workload_load_buf("w.yaml", yaml, strlen(yaml), rack, &wl, err, sizeof err);
    if (rc != PLANE_ECONFIG || !strstr(err, want)) {
        print_message("got %d \"%s\", want \"%s\"\n", rc, err, want);
    }
    assert_int_equal(rc, PLANE_ECONFIG);
    assert_null(wl);
    assert_non_null(strstr(err, want));
}

#define APP0 "apps:\n  - name: a1\n    weight: 0.5\n"
#define POP0 "    popularity: {zipf: {alpha: 1, keys: 10}}\n"

static void
test_workload_errors(void **state)
{
    (void)state;
    struct plane_config *rack = rack_load();
    expect_wl_err(rack, "apps: []\n", "w.yaml:1: apps: expected 1-256 items, got 0");
    expect_wl_err(rack, APP0 POP0 "    wieght: 1\n", "w.yaml:5: apps[0].wieght: unknown key");
    expect_wl_err(rack, "apps:\n  - name: a1\n    weight: lots\n" POP0,
                  "w.yaml:3: apps[0].weight: expected a number, got \"lots\"");
    expect_wl_err(rack, "apps:\n  - name: a1\n    weight: 1.5\n" POP0,
                  "w.yaml:3: apps[0].weight: 1.5 is out of range [0, 1]");
    expect_wl_err(rack, "apps:\n  - name: nope\n    weight: 0.5\n" POP0,
                  "w.yaml:2: apps[0].name: app \"nope\" is not in rack ptest");
    expect_wl_err(rack, APP0 "    popularity: {fractions: [0.5, 0.2], keys: 10}\n",
                  "w.yaml:4: apps[0].popularity.fractions: fractions sum to 0.7, not 1");
    expect_wl_err(rack, APP0 "    popularity: {keys: 10}\n",
                  "w.yaml:4: apps[0].popularity: give exactly one of zipf and fractions");
    expect_wl_err(rack, APP0, "w.yaml:2: apps[0].popularity: missing required field");
    expect_wl_err(rack, APP0 POP0 "    affinity: max\n",
                  "w.yaml:5: apps[0].affinity: expected one of medium|high|low, got \"max\"");
    expect_wl_err(rack, APP0 POP0 "    features: [warp]\n",
                  "w.yaml:5: apps[0].features[0]: unknown feature \"warp\"");
    expect_wl_err(rack, APP0 POP0 "    objects:\n      - {name: s, kind: sketch}\n",
                  "w.yaml:6: apps[0].objects[0].entries: a sketch needs a fixed entry count");
    expect_wl_err(rack, APP0 POP0 "  - name: a2\n    weight: 0.6\n" POP0,
                  "w.yaml:2: apps: the apps' weights sum to 1.1");
    expect_wl_err(rack, "devices:\n  nicZ: {latency_us: 1}\n" APP0 POP0,
                  "w.yaml:2: devices.nicZ: no device or switch named \"nicZ\"");
    expect_wl_err(rack, APP0 POP0 "x: *a\n", "aliases");
    plane_config_delete(rack);
}

/* ---------------------------------------------------------------------------
 * Optimality against brute force.
 */

/* Enumerates every assignment; returns the best feasible objective (NAN if none). */
static double
brute_force(const struct plane_plan_profile *prof, enum plane_plan_objective obj)
{
    size_t n = 0;
    for (size_t p = 0; p < prof->n_apps; p++) {
        n += prof->apps[p].n_quanta;
    }
    uint32_t assign[32] = { 0 };
    assert_true(n <= 32);
    double best = NAN;
    for (;;) {
        double v;
        if (plane_planner_evaluate(prof, obj, assign, &v)) {
            bool better = obj == PLANE_PLAN_LATENCY ? v < best : v > best;
            if (isnan(best) || better) {
                best = v;
            }
        }
        size_t i = 0;
        while (i < n && ++assign[i] == prof->n_targets) {
            assign[i++] = 0;
        }
        if (i == n) {
            break;
        }
    }
    return best;
}

static void
check_optimal(struct plane_config *rack, struct plane_workload *wl,
              enum plane_plan_objective obj)
{
    char err[1024];
    struct plane_plan_opts opts = { .objective = obj, .no_aggregate = true };
    struct plane_plan *plan = NULL;
    int rc = plane_planner_solve(rack, wl, &opts, &plan, err, sizeof err);
    struct plane_plan_profile *prof = NULL;
    assert_int_equal(plane_plan_profile_new(rack, wl, false, &prof, NULL, 0), 0);
    double best = brute_force(prof, obj);
    if (isnan(best)) {
        assert_int_equal(rc, PLANE_ENOSPC);
        assert_non_null(strstr(err, "infeasible"));
    } else {
        if (rc) {
            print_message("solve: %s\n", err);
        }
        assert_int_equal(rc, 0);
        assert_true(plan->optimal);
        if (fabs(plan->objective_value - best) > 1e-6 * fmax(1, fabs(best))) {
            print_message("ilp %.9g brute force %.9g\n", plan->objective_value, best);
        }
        assert_true(fabs(plan->objective_value - best) <= 1e-6 * fmax(1, fabs(best)));
        /* The ILP's own assignment is feasible by the independent check. */
        uint32_t assign[32];
        size_t k = 0;
        for (size_t p = 0; p < prof->n_apps; p++) {
            for (size_t q = 0; q < prof->apps[p].n_quanta; q++) {
                assign[k++] = plan->apps[p].assign[q];
            }
        }
        double v;
        assert_true(plane_planner_evaluate(prof, obj, assign, &v));
    }
    plane_plan_profile_delete(prof);
    plane_plan_delete(plan);
}

static void
test_brute_force(void **state)
{
    (void)state;
    struct plane_config *rack = rack_load();
    struct plane_workload *wl = wl_load(rack);
    check_optimal(rack, wl, PLANE_PLAN_LATENCY);
    check_optimal(rack, wl, PLANE_PLAN_THROUGHPUT);

    /* Random capacities, weights and rates, replayable by seed. */
    const char *env = getenv("PLANE_TEST_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 0) : (unsigned)time(NULL);
    print_message("test_brute_force seed %u (PLANE_TEST_SEED to replay)\n", seed);
    srand(seed);
    for (int round = 0; round < 6; round++) {
        rack->sw.capacities.flow_entries = 50 + (uint32_t)(rand() % 600);
        rack->sw.capacities.sram_kb = 4 + (uint32_t)(rand() % 40);
        rack->sw.capacities.hash_units = (uint32_t)(rand() % 4);
        rack->sw.capacities.alus = (uint32_t)(rand() % 2);
        rack->devices[0].rate_pps = 500 + (uint64_t)(rand() % 6000);
        rack->devices[1].rate_pps = 500 + (uint64_t)(rand() % 6000);
        wl->rate_pps = 1000 + (uint64_t)(rand() % 20000);
        double w = 0;
        for (size_t p = 0; p < wl->n_apps; p++) {
            wl->apps[p].weight = (double)(rand() % 100) / 300.0;
            wl->apps[p].affinity = (enum plane_affinity)(rand() % 4 == 0 ? rand() % 3 : 0);
            w += wl->apps[p].weight;
        }
        assert_true(w <= 1);
        check_optimal(rack, wl, round % 2 ? PLANE_PLAN_THROUGHPUT : PLANE_PLAN_LATENCY);
    }
    plane_workload_delete(wl);
    plane_config_delete(rack);
}

/* ---------------------------------------------------------------------------
 * Constraints.
 */

static struct plane_plan *
solve_ok(struct plane_config *rack, struct plane_workload *wl, bool aggregate)
{
    char err[1024];
    struct plane_plan_opts opts = { .no_aggregate = !aggregate };
    struct plane_plan *plan = NULL;
    int rc = plane_planner_solve(rack, wl, &opts, &plan, err, sizeof err);
    if (rc) {
        print_message("solve: %s\n", err);
    }
    assert_int_equal(rc, 0);
    return plan;
}

static void
test_affinity_and_compat(void **state)
{
    (void)state;
    struct plane_config *rack = rack_load();
    struct plane_workload *wl = wl_load(rack);
    wl->apps[0].affinity = PLANE_AFFINITY_LOW;
    wl->apps[1].affinity = PLANE_AFFINITY_HIGH;
    wl->apps[2].features = PLANE_FEAT_PAYLOAD;    /* only srv has it */
    wl->apps[1].objects[0].value_bytes = 4;       /* so a2 fits the switch */
    for (int agg = 0; agg < 2; agg++) {
        struct plane_plan *plan = solve_ok(rack, wl, agg);
        const struct plane_plan_profile *prof = plan->prof;
        for (size_t q = 0; q < 3; q++) {
            assert_false(prof->targets[plan->apps[0].assign[q]].is_switch);
            assert_true(prof->targets[plan->apps[1].assign[q]].is_switch);
            assert_string_equal(prof->targets[plan->apps[2].assign[q]].name, "srv");
        }
        assert_true(plan->apps[1].switch_share == 1.0);
        assert_true(plan->apps[0].switch_share == 0.0);
        assert_int_equal(plan->apps[0].fm_entries, 0);
        plane_plan_delete(plan);
    }
    plane_workload_delete(wl);
    plane_config_delete(rack);
}

static void
test_rate_constraint(void **state)
{
    (void)state;
    struct plane_config *rack = rack_load();
    struct plane_workload *wl = wl_load(rack);
    /* The switch holds nothing, the NICs are fast and close, the server slow. */
    rack->sw.capacities.flow_entries = 0;
    wl->rate_pps = 20000;
    struct plane_plan *plan = solve_ok(rack, wl, false);
    const struct plane_plan_profile *prof = plan->prof;
    double srv = 0;
    for (size_t t = 0; t < prof->n_targets; t++) {
        if (prof->targets[t].cap[PLANE_RES_RATE] >= 0) {
            assert_true(plan->use[t].load_pps <= prof->targets[t].cap[PLANE_RES_RATE] + 1e-6);
        }
        if (!strcmp(prof->targets[t].name, "srv")) {
            srv = plan->use[t].load_pps;
        }
    }
    /* 20000 pps cannot fit the NICs' 8000: the rest spilled to the server. */
    assert_true(srv >= 12000 - 1e-6);
    plane_plan_delete(plan);
    plane_workload_delete(wl);
    plane_config_delete(rack);
}

static void
test_infeasible(void **state)
{
    (void)state;
    char err[2048];
    struct plane_config *rack = rack_load();
    struct plane_workload *wl = wl_load(rack);
    struct plane_plan *plan = NULL;
    /* Both rack apps pinned to the switch: its SRAM cannot hold their tables. */
    wl->apps[0].affinity = PLANE_AFFINITY_HIGH;
    wl->apps[1].affinity = PLANE_AFFINITY_HIGH;
    rack->sw.capacities.sram_kb = 20;   /* a1 needs 18.75 KB, a2 15 KB */
    int rc = plane_planner_solve(rack, wl, NULL, &plan, err, sizeof err);
    print_message("%s\n", err);
    assert_int_equal(rc, PLANE_ENOSPC);
    assert_null(plan);
    assert_non_null(strstr(err, "sram_kb switch on sw"));
    assert_non_null(strstr(err, "a1 (high"));
    assert_non_null(strstr(err, "a2 (high"));
    assert_non_null(strstr(err, "relax: raise sram_kb of sw to at least"));

    /* Packet rate: no switch, 20000 pps offered, NICs only (no server). */
    wl->apps[0].affinity = PLANE_AFFINITY_LOW;
    wl->apps[1].affinity = PLANE_AFFINITY_LOW;
    wl->apps[2].affinity = PLANE_AFFINITY_LOW;
    rack->n_devices = 2;
    wl->rate_pps = 20000;
    rc = plane_planner_solve(rack, wl, NULL, &plan, err, sizeof err);
    print_message("%s\n", err);
    assert_int_equal(rc, PLANE_ENOSPC);
    assert_non_null(strstr(err, "rate_pps device on nicB: needs 17000, has 5000"));

    /* Features nobody has. */
    rack->n_devices = 3;
    wl->apps[2].features = PLANE_FEAT_CRYPTO;
    rc = plane_planner_solve(rack, wl, NULL, &plan, err, sizeof err);
    print_message("%s\n", err);
    assert_int_equal(rc, PLANE_ENOSPC);
    assert_non_null(strstr(err, "app a3"));
    assert_non_null(strstr(err, "srv lacks [crypto]"));
    plane_workload_delete(wl);
    plane_config_delete(rack);
}

/* Aggregating identical devices never does worse than placing on each. */
static void
test_aggregate(void **state)
{
    (void)state;
    struct plane_config *rack = rack_load();
    /* Make the NICs identical so they aggregate. */
    rack->devices[1] = rack->devices[0];
    snprintf(rack->devices[1].name, sizeof rack->devices[1].name, "nicB");
    struct plane_workload *wl = wl_load(rack);
    struct plane_plan *a = solve_ok(rack, wl, true), *b = solve_ok(rack, wl, false);
    assert_int_equal(a->prof->n_targets, 3);
    assert_int_equal(b->prof->n_targets, 4);
    assert_true(a->objective_value <= b->objective_value + 1e-9);
    plane_plan_delete(a);
    plane_plan_delete(b);
    plane_workload_delete(wl);
    plane_config_delete(rack);
}

/* ---------------------------------------------------------------------------
 * Output.
 */

static yaml_node_t *
map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    assert_int_equal(map->type, YAML_MAPPING_NODE);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key)) {
            return yaml_document_get_node(doc, p->value);
        }
    }
    return NULL;
}

static void
test_output_reparses(void **state)
{
    (void)state;
    struct plane_config *rack = rack_load();
    struct plane_workload *wl = wl_load(rack);
    struct plane_plan *plan = solve_ok(rack, wl, true);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(plane_plan_write_yaml(plan, f), 0);
    fclose(f);

    yaml_parser_t parser;
    yaml_document_t doc;
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    assert_true(yaml_parser_load(&parser, &doc));
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    assert_non_null(root);
    yaml_node_t *p = map_get(&doc, root, "plan");
    assert_non_null(p);
    yaml_node_t *apps = map_get(&doc, p, "apps");
    assert_non_null(apps);
    assert_int_equal(apps->type, YAML_SEQUENCE_NODE);
    assert_int_equal(apps->data.sequence.items.top - apps->data.sequence.items.start, 3);
    yaml_node_t *a0 = yaml_document_get_node(&doc, apps->data.sequence.items.start[0]);
    yaml_node_t *name = map_get(&doc, a0, "name");
    assert_string_equal((char *)name->data.scalar.value, "a1");
    assert_non_null(map_get(&doc, a0, "shards"));
    assert_non_null(map_get(&doc, a0, "flow_manager_entries"));
    assert_non_null(map_get(&doc, p, "devices"));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(buf);

    /* JSON and the table are written without error. */
    f = open_memstream(&buf, &len);
    assert_int_equal(plane_plan_write_json(plan, f), 0);
    assert_int_equal(plane_plan_print_table(plan, f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\"apps\":[{\"name\":\"a1\""));
    free(buf);
    plane_plan_delete(plan);
    plane_workload_delete(wl);
    plane_config_delete(rack);
}

#ifdef PLANE_TEST_HAVE_PCAP
/* popularity.pcap: flows of 60, 30 and 10 packets make fractions 0.6/0.3/0.1. */
static void
test_workload_pcap(void **state)
{
    (void)state;
    char path[] = "/tmp/plane-trace-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(dead, path);
    assert_non_null(d);
    static const int per_flow[3] = {10, 60, 30};
    for (int f = 0; f < 3; f++) {
        for (int k = 0; k < per_flow[f]; k++) {
            struct plane_pkt_spec sp;
            memset(&sp, 0, sizeof sp);
            uint8_t src[4] = {10, 0, 0, (uint8_t)(1 + f)}, dst[4] = {10, 9, 9, 9};
            plane_flow_key_set_v4(&sp.key, PLANE_IPPROTO_UDP, src, 1000, dst, 53);
            uint8_t frame[128];
            size_t len = 0;
            assert_int_equal(plane_pkt_build_udp4(frame, sizeof frame, &sp, "x", 1, &len), 0);
            struct pcap_pkthdr h = {.caplen = (bpf_u_int32)len, .len = (bpf_u_int32)len};
            pcap_dump((u_char *)d, &h, frame);
        }
    }
    uint8_t arp[60] = {0};
    arp[12] = 0x08;
    arp[13] = 0x06;
    struct pcap_pkthdr ha = {.caplen = sizeof arp, .len = sizeof arp};
    pcap_dump((u_char *)d, &ha, arp);   /* not IP: skipped */
    pcap_dump_close(d);
    pcap_close(dead);

    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "apps:\n  - name: a1\n    standalone: true\n    weight: 0.5\n    quanta: 3\n"
             "    popularity: {pcap: \"%s\"}\n", path);
    struct plane_workload *wl = NULL;
    char err[512] = "";
    int rc = plane_workload_load_buf("w.yaml", yaml, strlen(yaml), NULL, &wl, err, sizeof err);
    if (rc) {
        fail_msg("%s", err);
    }
    const struct plane_workload_app *a = &wl->apps[0];
    assert_int_equal(a->keys, 3);
    assert_int_equal(a->quanta, 3);
    assert_int_equal(a->popularity.n_fractions, 3);
    assert_true(fabs(a->popularity.fractions[0] - 0.6) < 1e-9);
    assert_true(fabs(a->popularity.fractions[1] - 0.3) < 1e-9);
    assert_true(fabs(a->popularity.fractions[2] - 0.1) < 1e-9);
    plane_workload_delete(wl);
    unlink(path);
    expect_wl_err(NULL, "apps:\n  - name: a1\n    standalone: true\n    weight: 0.5\n"
                        "    popularity: {pcap: /nonexistent.pcap}\n", "nonexistent");
    expect_wl_err(NULL, "apps:\n  - name: a1\n    standalone: true\n    weight: 0.5\n"
                        "    popularity: {pcap: x.pcap, keys: 4}\n", "replaces");
}
#endif

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harmonic),
        cmocka_unit_test(test_workload_example),
#ifdef PLANE_TEST_HAVE_PCAP
        cmocka_unit_test(test_workload_pcap),
#endif
        cmocka_unit_test(test_workload_errors),
        cmocka_unit_test(test_brute_force),
        cmocka_unit_test(test_affinity_and_compat),
        cmocka_unit_test(test_rate_constraint),
        cmocka_unit_test(test_infeasible),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_output_reparses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
