/* Tests of the two-phase update engine: each transition, then randomized property runs that check Invariant 1 at every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "flowmgr.h"
#include "update.h"

#define T_FLUSH 1000u

static struct plane_flow_key
mkkey(uint32_t i)
{
    struct plane_flow_key k;
    uint8_t src[4] = { 10, 0, (uint8_t) (i >> 8), (uint8_t) i };
    uint8_t dst[4] = { 10, 9, 9, 9 };
    plane_flow_key_set_v4(&k, 17, src, 4000, dst, 53);
    return k;
}

static uint32_t
keyid(const struct plane_flow_key *k)
{
    return ((uint32_t) k->src_addr[14] << 8) | k->src_addr[15];
}

/* ---- a recording fake for the step-by-step tests ---- */

enum { REC_MAX = 64 };

struct rec {
    uint64_t install_ticket[REC_MAX];   /* by key id; 0 = none outstanding */
    uint64_t collect_ticket[REC_MAX];
    int installs, removes, collects;
    bool removed[REC_MAX];
    int finished_promote, finished_demote;
    int last_status;
    uint32_t last_finished_key;
};

static void
rec_install(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct rec *r = arg;
    r->install_ticket[keyid(key)] = ticket;
    r->installs++;
}

static void
rec_remove(void *arg, const struct plane_flow_key *key)
{
    struct rec *r = arg;
    r->removed[keyid(key)] = true;
    r->removes++;
}

static void
rec_collect(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct rec *r = arg;
    r->collect_ticket[keyid(key)] = ticket;
    r->collects++;
}

static void
rec_finished(void *arg, const struct plane_flow_key *key,
             enum plane_update_kind kind, int status)
{
    struct rec *r = arg;
    if (kind == PLANE_UPDATE_PROMOTE) {
        r->finished_promote++;
    } else {
        r->finished_demote++;
    }
    r->last_status = status;
    r->last_finished_key = keyid(key);
}

static const struct plane_update_ops rec_ops = {
    .install_entries = rec_install,
    .remove_entries = rec_remove,
    .collect_deltas = rec_collect,
    .finished = rec_finished,
};

struct fixture {
    struct plane_flowmgr *fm;
    struct plane_update *eng;
    struct rec rec;
};

static void
fixture_init(struct fixture *f, uint32_t capacity, uint32_t max_in_flight,
             uint32_t max_retries)
{
    struct plane_update_config cfg = {
        .t_flush_ns = T_FLUSH, .max_in_flight = max_in_flight,
        .retry_ns = 300, .max_retries = max_retries,
    };
    memset(f, 0, sizeof *f);
    f->fm = plane_flowmgr_new(capacity, NULL);
    assert_non_null(f->fm);
    f->eng = plane_update_new(&cfg, f->fm, &rec_ops, &f->rec);
    assert_non_null(f->eng);
}

static void
fixture_uninit(struct fixture *f)
{
    plane_update_delete(f->eng);
    plane_flowmgr_delete(f->fm);
}

static void
test_new_bad_args(void **state)
{
    struct plane_flowmgr *fm = plane_flowmgr_new(4, NULL);
    struct plane_update_config cfg = { .t_flush_ns = 0 };
    struct plane_update_ops ops = rec_ops;

    assert_null(plane_update_new(&cfg, fm, &rec_ops, NULL));
    cfg.t_flush_ns = 10;
    assert_null(plane_update_new(&cfg, NULL, &rec_ops, NULL));
    ops.collect_deltas = NULL;
    assert_null(plane_update_new(&cfg, fm, &ops, NULL));
    struct plane_update *eng = plane_update_new(&cfg, fm, &rec_ops, NULL);
    assert_non_null(eng);
    assert_int_equal(plane_update_next_deadline(eng), UINT64_MAX);
    plane_update_delete(eng);
    plane_update_delete(NULL);
    plane_flowmgr_delete(fm);
    assert_int_equal(plane_update_n_counters,
                     sizeof(struct plane_update_stats) / sizeof(uint64_t));
}

static void
test_promote_then_demote(void **state)
{
    struct fixture f;
    struct plane_flow_key a = mkkey(1);

    fixture_init(&f, 4, 8, 0);
    assert_int_equal(plane_update_promote(f.eng, &a, 100), 0);
    /* Phase 1 only: entries being installed, the key is not findable yet. */
    assert_int_equal(f.rec.installs, 1);
    assert_false(plane_flowmgr_contains(f.fm, &a));
    assert_true(plane_update_busy(f.eng, &a));
    assert_int_equal(plane_update_in_flight(f.eng), 1);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[1], 0, 150), 0);
    assert_true(plane_flowmgr_contains(f.fm, &a));
    assert_false(plane_update_busy(f.eng, &a));
    assert_int_equal(f.rec.finished_promote, 1);
    assert_int_equal(f.rec.last_status, 0);
    assert_int_equal(plane_update_stats(f.eng)->promotions, 1);
    assert_int_equal(plane_update_in_flight(f.eng), 0);

    /* Demote: the fm entry goes at once, the entries after T_flush + deltas. */
    assert_int_equal(plane_update_demote(f.eng, &a, 200), 0);
    assert_false(plane_flowmgr_contains(f.fm, &a));
    assert_int_equal(plane_update_next_deadline(f.eng), 200 + T_FLUSH);
    plane_update_tick(f.eng, 200 + T_FLUSH - 1);
    assert_int_equal(f.rec.collects, 0);
    plane_update_tick(f.eng, 200 + T_FLUSH);
    assert_int_equal(f.rec.collects, 1);
    assert_int_equal(plane_update_next_deadline(f.eng), UINT64_MAX);
    assert_false(f.rec.removed[1]);
    assert_int_equal(plane_update_done(f.eng, f.rec.collect_ticket[1], 0, 1300), 0);
    assert_true(f.rec.removed[1]);
    assert_int_equal(f.rec.finished_demote, 1);
    assert_int_equal(plane_update_stats(f.eng)->demotions, 1);
    assert_int_equal(plane_update_in_flight(f.eng), 0);
    /* The same ticket again is stale. */
    assert_int_equal(plane_update_done(f.eng, f.rec.collect_ticket[1], 0, 1300),
                     PLANE_ENOENT);
    assert_int_equal(plane_update_done(f.eng, 0, 0, 1300), PLANE_ENOENT);
    assert_int_equal(plane_update_done(f.eng, UINT64_MAX, 0, 1300), PLANE_ENOENT);
    assert_int_equal(plane_update_stats(f.eng)->stale_done, 3);
    fixture_uninit(&f);
}

static void
test_refusals(void **state)
{
    struct fixture f;
    struct plane_flow_key a = mkkey(1), b = mkkey(2);

    fixture_init(&f, 4, 8, 0);
    assert_int_equal(plane_update_demote(f.eng, &a, 0), PLANE_ENOENT);
    assert_int_equal(plane_update_promote(f.eng, &a, 0), 0);
    assert_int_equal(plane_update_promote(f.eng, &a, 0), PLANE_EALREADY);
    assert_int_equal(plane_update_demote(f.eng, &a, 0), PLANE_EBUSY);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[1], 0, 1), 0);
    assert_int_equal(plane_update_promote(f.eng, &a, 2), PLANE_EEXIST);
    assert_int_equal(plane_update_demote(f.eng, &a, 3), 0);
    assert_int_equal(plane_update_demote(f.eng, &a, 3), PLANE_EALREADY);
    /* A promote of a key on its way out is refused, not queued. */
    assert_int_equal(plane_update_promote(f.eng, &a, 4), PLANE_EBUSY);
    assert_int_equal(plane_update_promote(f.eng, &b, 4), 0);
    assert_int_equal(plane_update_stats(f.eng)->refused, 5);
    fixture_uninit(&f);
}

static void
test_install_failure_aborts(void **state)
{
    struct fixture f;
    struct plane_flow_key a = mkkey(3);

    fixture_init(&f, 4, 8, 0);
    assert_int_equal(plane_update_promote(f.eng, &a, 0), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[3], PLANE_ETIMEDOUT, 5), 0);
    assert_false(plane_flowmgr_contains(f.fm, &a));
    assert_true(f.rec.removed[3]);          /* partial installs cleaned up */
    assert_int_equal(f.rec.last_status, PLANE_ETIMEDOUT);
    assert_int_equal(plane_update_stats(f.eng)->aborts, 1);
    assert_int_equal(plane_update_stats(f.eng)->promotions, 0);
    assert_int_equal(plane_update_in_flight(f.eng), 0);
    /* And the key can be promoted again. */
    assert_int_equal(plane_update_promote(f.eng, &a, 6), 0);
    fixture_uninit(&f);
}

/*
 * plane_update_promote_est(): the promoted key starts with the estimate it
 * was admitted with (saturated), whether installed at once or after waiting
 * for a slot; plane_update_promote() starts it at 0.
 */
static void
test_promote_est_sets_estimate(void **state)
{
    struct fixture f;
    struct plane_flow_key a = mkkey(1), b = mkkey(2), c = mkkey(3);
    uint64_t est;

    (void) state;
    fixture_init(&f, 2, 8, 0);
    assert_int_equal(plane_update_promote_est(f.eng, &a, 40, 0), 0);
    assert_int_equal(plane_update_promote(f.eng, &b, 0), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[1], 0, 10), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[2], 0, 10), 0);
    assert_int_equal(plane_flowmgr_estimate(f.fm, &a, 10, &est), 0);
    assert_int_equal(est, 40);
    assert_int_equal(plane_flowmgr_estimate(f.fm, &b, 10, &est), 0);
    assert_int_equal(est, 0);
    /* Full: c evicts b (estimate 0, though hit later than a was installed)
     * and waits for its slot. */
    assert_true(plane_flowmgr_lookup(f.fm, &b, 50));
    assert_int_equal(plane_update_promote_est(f.eng, &c, UINT64_MAX, 100), 0);
    assert_false(plane_flowmgr_contains(f.fm, &b));
    assert_true(plane_flowmgr_contains(f.fm, &a));
    plane_update_tick(f.eng, 100 + T_FLUSH);
    assert_int_equal(plane_update_done(f.eng, f.rec.collect_ticket[2], 0, 1200), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[3], 0, 1300), 0);
    assert_int_equal(plane_flowmgr_estimate(f.fm, &c, 1300, &est), 0);
    assert_int_equal(est, PLANE_FLOWMGR_EST_MAX);
    fixture_uninit(&f);
}

static void
test_full_evicts_least_recently_hit(void **state)
{
    struct fixture f;
    struct plane_flow_key a = mkkey(1), b = mkkey(2), c = mkkey(3), d = mkkey(4);

    fixture_init(&f, 2, 8, 0);
    assert_int_equal(plane_update_promote(f.eng, &a, 0), 0);
    assert_int_equal(plane_update_promote(f.eng, &b, 0), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[1], 0, 10), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[2], 0, 10), 0);
    assert_true(plane_flowmgr_lookup(f.fm, &a, 50));   /* b is now the idler */

    /* Full: c evicts b and waits for b's entries to leave before installing. */
    assert_int_equal(plane_update_promote(f.eng, &c, 100), 0);
    assert_int_equal(plane_update_stats(f.eng)->evictions, 1);
    assert_false(plane_flowmgr_contains(f.fm, &b));
    assert_true(plane_flowmgr_contains(f.fm, &a));
    assert_int_equal(f.rec.installs, 2);
    assert_int_equal(plane_update_promote(f.eng, &c, 100), PLANE_EALREADY);
    /* d finds no spare demotion: it evicts a as well. */
    assert_int_equal(plane_update_promote(f.eng, &d, 120), 0);
    assert_int_equal(plane_update_stats(f.eng)->evictions, 2);
    assert_false(plane_flowmgr_contains(f.fm, &a));
    /* Nothing left to evict and no spare demotion: refused. */
    struct plane_flow_key e = mkkey(5);
    assert_int_equal(plane_update_promote(f.eng, &e, 130), PLANE_ENOSPC);

    plane_update_tick(f.eng, 100 + T_FLUSH);
    assert_int_equal(f.rec.collects, 1);
    assert_int_equal(plane_update_done(f.eng, f.rec.collect_ticket[2], 0, 1200), 0);
    assert_true(f.rec.removed[2]);
    /* b's slot went to c, the first waiter. */
    assert_int_equal(f.rec.installs, 3);
    assert_int_not_equal(f.rec.install_ticket[3], 0);
    assert_int_equal(f.rec.install_ticket[4], 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[3], 0, 1300), 0);
    assert_true(plane_flowmgr_contains(f.fm, &c));

    plane_update_tick(f.eng, 120 + T_FLUSH);
    assert_int_equal(plane_update_done(f.eng, f.rec.collect_ticket[1], 0, 1400), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[4], 0, 1500), 0);
    assert_true(plane_flowmgr_contains(f.fm, &d));
    assert_int_equal(plane_flowmgr_count(f.fm), 2);
    assert_int_equal(plane_update_in_flight(f.eng), 0);
    fixture_uninit(&f);
}

static void
test_collect_retry_and_loss(void **state)
{
    struct fixture f;
    struct plane_flow_key a = mkkey(7);

    fixture_init(&f, 4, 8, 1);
    assert_int_equal(plane_update_promote(f.eng, &a, 0), 0);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[7], 0, 0), 0);
    assert_int_equal(plane_update_demote(f.eng, &a, 0), 0);
    plane_update_tick(f.eng, T_FLUSH);
    uint64_t t1 = f.rec.collect_ticket[7];
    assert_int_equal(plane_update_done(f.eng, t1, PLANE_EIO, T_FLUSH), 0);
    assert_false(f.rec.removed[7]);         /* the entries still hold the counts */
    assert_int_equal(plane_update_next_deadline(f.eng), T_FLUSH + 300);
    plane_update_tick(f.eng, T_FLUSH + 300);
    assert_int_equal(f.rec.collects, 2);
    assert_int_not_equal(f.rec.collect_ticket[7], t1);
    assert_int_equal(plane_update_done(f.eng, t1, 0, 1400), PLANE_ENOENT);
    /* Retries exhausted: the entries go, the loss is counted. */
    assert_int_equal(plane_update_done(f.eng, f.rec.collect_ticket[7], PLANE_EIO, 1400), 0);
    assert_true(f.rec.removed[7]);
    assert_int_equal(plane_update_stats(f.eng)->deltas_lost, 1);
    assert_int_equal(plane_update_stats(f.eng)->collect_retries, 1);
    assert_int_equal(f.rec.last_status, PLANE_EIO);
    fixture_uninit(&f);
}

static void
test_in_flight_limit_and_cancel(void **state)
{
    struct fixture f;
    struct plane_flow_key a = mkkey(1), b = mkkey(2), c = mkkey(3);

    fixture_init(&f, 8, 2, 0);
    assert_int_equal(plane_update_promote(f.eng, &a, 0), 0);
    assert_int_equal(plane_update_promote(f.eng, &b, 0), 0);
    assert_int_equal(plane_update_promote(f.eng, &c, 0), PLANE_EAGAIN);
    assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[1], 0, 0), 0);
    assert_int_equal(plane_update_demote(f.eng, &a, 0), 0);
    /* a FLUSHING, b INSTALLING: cancel removes both sets of entries. */
    uint64_t tb = f.rec.install_ticket[2];
    plane_update_cancel_all(f.eng);
    assert_true(f.rec.removed[1]);
    assert_true(f.rec.removed[2]);
    assert_int_equal(f.rec.last_status, PLANE_ECANCELED);
    assert_int_equal(plane_update_in_flight(f.eng), 0);
    assert_int_equal(plane_update_next_deadline(f.eng), UINT64_MAX);
    assert_int_equal(plane_update_done(f.eng, tb, 0, 5), PLANE_ENOENT);
    assert_false(plane_flowmgr_contains(f.fm, &b));
    plane_update_tick(f.eng, 10 * T_FLUSH);
    assert_int_equal(f.rec.collects, 0);
    fixture_uninit(&f);
}

static void
test_age_demotes_idle(void **state)
{
    struct fixture f;

    fixture_init(&f, 16, 32, 0);
    for (uint32_t i = 0; i < 10; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_update_promote(f.eng, &k, 0), 0);
        assert_int_equal(plane_update_done(f.eng, f.rec.install_ticket[i], 0, 0), 0);
    }
    for (uint32_t i = 0; i < 10; i += 2) {
        struct plane_flow_key k = mkkey(i);
        assert_true(plane_flowmgr_lookup(f.fm, &k, 5000));
    }
    assert_int_equal(plane_update_age(f.eng, 6000, 2000, 0), 5);
    for (uint32_t i = 0; i < 10; i++) {
        struct plane_flow_key k = mkkey(i);
        assert_int_equal(plane_flowmgr_contains(f.fm, &k), i % 2 == 0);
    }
    fixture_uninit(&f);
}

/* ---- the property test: a simulated switch + external device ---- */

enum { NKEYS = 24, MAXEV = 8192 };

enum ev_type { EV_INSTALL, EV_COLLECT, EV_PIPE };

struct ev {
    uint64_t at;
    enum ev_type type;
    uint32_t key;
    uint64_t ticket;
    bool fail;
};

struct sim {
    struct plane_flowmgr *fm;
    struct plane_update *eng;
    uint64_t rng;
    uint64_t now;
    uint32_t capacity;

    /* The app objects at the switch: which keys have entries, and their counters. */
    bool entries[NKEYS];
    uint64_t sw[NKEYS];         /* switch-side counter not yet handed back */
    uint64_t ext[NKEYS];        /* external-device counter */
    uint64_t sent[NKEYS];       /* packets generated */
    uint64_t inpipe[NKEYS];     /* looked up at the switch, not yet processed */
    bool cancelling;

    struct ev ev[MAXEV];
    size_t n_ev;

    uint64_t pipe_max;          /* < T_flush: the switch pipeline's latency */
    uint64_t op_delay_max;
    unsigned p_install_fail, p_collect_fail, p_sync; /* percent */
    uint64_t hits, misses, pipe_done, finished_ok, finished_err;
};

static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
rnd(struct sim *s, uint64_t n)
{
    return n ? rng_next(&s->rng) % n : 0;
}

static bool
chance(struct sim *s, unsigned pct)
{
    return rnd(s, 100) < pct;
}

static void
ev_add(struct sim *s, struct ev e)
{
    assert_true(s->n_ev < MAXEV);
    s->ev[s->n_ev++] = e;
}

static void
apply_install(struct sim *s, uint32_t k, bool fail)
{
    assert_false(s->entries[k]);
    /* A failed install may have put some of the entries in. */
    s->entries[k] = fail ? chance(s, 50) : true;
    assert_int_equal(s->sw[k], 0);
}

static void
apply_collect(struct sim *s, uint32_t k)
{
    struct plane_flow_key key = mkkey(k);
    /* T_flush has passed: nothing of k is left in the switch pipeline. */
    assert_true(s->entries[k]);
    assert_int_equal(s->inpipe[k], 0);
    assert_false(plane_flowmgr_contains(s->fm, &key));
    s->ext[k] += s->sw[k];
    s->sw[k] = 0;
}

static void
sim_install(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct sim *s = arg;
    uint32_t k = keyid(key);
    bool fail = chance(s, s->p_install_fail);

    assert_true(k < NKEYS);
    assert_false(plane_flowmgr_contains(s->fm, key));
    if (chance(s, s->p_sync)) {
        apply_install(s, k, fail);
        assert_int_equal(plane_update_done(s->eng, ticket, fail ? PLANE_EIO : 0, s->now), 0);
        return;
    }
    ev_add(s, (struct ev) { .at = s->now + rnd(s, s->op_delay_max), .type = EV_INSTALL,
                            .key = k, .ticket = ticket, .fail = fail });
}

static void
sim_remove(void *arg, const struct plane_flow_key *key)
{
    struct sim *s = arg;
    uint32_t k = keyid(key);

    /* Invariant 1 from the other side: entries never leave under an fm entry. */
    assert_false(plane_flowmgr_contains(s->fm, key));
    if (!s->cancelling) {
        /* Every switch-side count was handed back first. */
        assert_int_equal(s->sw[k], 0);
        assert_int_equal(s->inpipe[k], 0);
    }
    s->entries[k] = false;
}

static void
sim_collect(void *arg, const struct plane_flow_key *key, uint64_t ticket)
{
    struct sim *s = arg;
    uint32_t k = keyid(key);
    bool fail = chance(s, s->p_collect_fail);

    assert_true(s->entries[k]);
    assert_int_equal(s->inpipe[k], 0);
    if (chance(s, s->p_sync)) {
        if (!fail) {
            apply_collect(s, k);
        }
        assert_int_equal(plane_update_done(s->eng, ticket, fail ? PLANE_EIO : 0, s->now), 0);
        return;
    }
    ev_add(s, (struct ev) { .at = s->now + rnd(s, s->op_delay_max), .type = EV_COLLECT,
                            .key = k, .ticket = ticket, .fail = fail });
}

static void
sim_finished(void *arg, const struct plane_flow_key *key,
             enum plane_update_kind kind, int status)
{
    struct sim *s = arg;
    if (status == 0) {
        s->finished_ok++;
    } else {
        s->finished_err++;
    }
}

static const struct plane_update_ops sim_ops = {
    .install_entries = sim_install,
    .remove_entries = sim_remove,
    .collect_deltas = sim_collect,
    .finished = sim_finished,
};

/* Invariant 1 and the packet accounting, checked after every step. */
static void
check(struct sim *s)
{
    uint32_t with_entries = 0;
    for (uint32_t k = 0; k < NKEYS; k++) {
        struct plane_flow_key key = mkkey(k);
        if (plane_flowmgr_contains(s->fm, &key)) {
            assert_true(s->entries[k]);
            assert_false(plane_update_busy(s->eng, &key));
        }
        with_entries += s->entries[k];
        assert_int_equal(s->sent[k], s->ext[k] + s->sw[k] + s->inpipe[k]);
    }
    /* The objects never hold more flows than the switch was sized for. */
    assert_true(with_entries <= s->capacity);
}

static void
send_packet(struct sim *s, uint32_t k)
{
    struct plane_flow_key key = mkkey(k);

    s->sent[k]++;
    if (plane_flowmgr_lookup(s->fm, &key, s->now)) {
        /* A hit is processed at the switch: its entries must be there. */
        assert_true(s->entries[k]);
        s->inpipe[k]++;
        s->hits++;
        ev_add(s, (struct ev) { .at = s->now + rnd(s, s->pipe_max + 1),
                                .type = EV_PIPE, .key = k });
    } else {
        s->ext[k]++;
        s->misses++;
    }
}

/* A packet that hit in the flow manager finishes in the switch pipeline. */
static void
run_pipe(struct sim *s, uint32_t k)
{
    /* Within T_flush of any demotion the entries are still there. */
    if (!s->cancelling) {
        assert_true(s->entries[k]);
    }
    s->inpipe[k]--;
    s->sw[k]++;
    s->pipe_done++;
}

/* Delivers an op completion: apply its effect on the store, then report it. */
static void
deliver(struct sim *s, struct ev e)
{
    if (e.type == EV_PIPE) {
        run_pipe(s, e.key);
        return;
    }
    if (s->cancelling) {
        /* After cancel_all: the late completion carries a stale ticket. */
        assert_int_equal(plane_update_done(s->eng, e.ticket, 0, s->now), PLANE_ENOENT);
        return;
    }
    if (e.type == EV_INSTALL) {
        apply_install(s, e.key, e.fail);
    } else if (!e.fail) {
        apply_collect(s, e.key);
    }
    assert_int_equal(plane_update_done(s->eng, e.ticket, e.fail ? PLANE_EIO : 0, s->now), 0);
}

/* Runs events and engine timers in time order up to target. */
static void
advance(struct sim *s, uint64_t target)
{
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < s->n_ev; i++) {
            if (best == SIZE_MAX || s->ev[i].at < s->ev[best].at) {
                best = i;
            }
        }
        uint64_t t_ev = best == SIZE_MAX ? UINT64_MAX : s->ev[best].at;
        uint64_t t_dl = plane_update_next_deadline(s->eng);
        uint64_t t = t_ev < t_dl ? t_ev : t_dl;
        if (t > target) {
            break;
        }
        if (t > s->now) {
            s->now = t;
        }
        if (t_dl <= s->now && t_dl <= t_ev) {
            plane_update_tick(s->eng, s->now);
        } else {
            struct ev e = s->ev[best];
            s->ev[best] = s->ev[--s->n_ev];
            deliver(s, e);
        }
        check(s);
    }
    if (target > s->now) {
        s->now = target;
    }
}

static uint32_t
pick_key(struct sim *s)
{
    /* Skewed: low keys are the popular ones. */
    uint64_t r = rnd(s, NKEYS * NKEYS);
    uint32_t k = 0;
    while ((uint64_t) (k + 1) * (k + 1) <= r) {
        k++;
    }
    return NKEYS - 1 - k;
}

/* Totals over all runs, printed so a reader can see what the runs exercised. */
static struct {
    uint64_t hits, misses, promotions, evictions, aborts, retries, refused;
} agg;

static void
run_sim(uint64_t seed, uint32_t capacity, uint32_t max_in_flight, int steps,
        bool end_with_cancel)
{
    struct sim *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->rng = seed;
    s->now = 1000;
    s->capacity = capacity;
    s->pipe_max = T_FLUSH - 1 - rnd(s, T_FLUSH / 2);
    s->op_delay_max = 1 + rnd(s, 3 * T_FLUSH);
    s->p_install_fail = (unsigned) rnd(s, 30);
    s->p_collect_fail = (unsigned) rnd(s, 30);
    s->p_sync = (unsigned) rnd(s, 40);

    struct plane_update_config cfg = {
        .t_flush_ns = T_FLUSH, .max_in_flight = max_in_flight,
        .retry_ns = 1 + rnd(s, 500), .max_retries = 64,
    };
    s->fm = plane_flowmgr_new(capacity, NULL);
    assert_non_null(s->fm);
    plane_flowmgr_set_victim_samples(s->fm, 1 + (uint32_t) rnd(s, 8));
    s->eng = plane_update_new(&cfg, s->fm, &sim_ops, s);
    assert_non_null(s->eng);

    for (int step = 0; step < steps; step++) {
        uint64_t r = rnd(s, 100);
        uint32_t k = pick_key(s);
        struct plane_flow_key key = mkkey(k);
        if (r < 50) {
            send_packet(s, k);
        } else if (r < 62) {
            bool in_fm = plane_flowmgr_contains(s->fm, &key);
            bool busy = plane_update_busy(s->eng, &key);
            int rc = plane_update_promote(s->eng, &key, s->now);
            if (in_fm) {
                assert_int_equal(rc, PLANE_EEXIST);
            } else if (busy) {
                assert_true(rc == PLANE_EALREADY || rc == PLANE_EBUSY);
            } else {
                assert_true(rc == 0 || rc == PLANE_EAGAIN || rc == PLANE_ENOSPC);
            }
        } else if (r < 68) {
            bool in_fm = plane_flowmgr_contains(s->fm, &key);
            bool busy = plane_update_busy(s->eng, &key);
            int rc = plane_update_demote(s->eng, &key, s->now);
            if (in_fm) {
                assert_true(rc == 0 || rc == PLANE_EAGAIN);
            } else if (busy) {
                assert_true(rc == PLANE_EALREADY || rc == PLANE_EBUSY);
            } else {
                assert_int_equal(rc, PLANE_ENOENT);
            }
        } else if (r < 70) {
            plane_update_age(s->eng, s->now, rnd(s, 4 * T_FLUSH), 2);
        } else {
            advance(s, s->now + rnd(s, T_FLUSH / 2));
        }
        check(s);
    }

    if (end_with_cancel) {
        s->cancelling = true;
        plane_update_cancel_all(s->eng);
        check(s);
        assert_int_equal(plane_update_in_flight(s->eng), 0);
        /* Late completions are ignored; pipeline packets still find entries. */
        advance(s, s->now + 10 * T_FLUSH);
        for (uint32_t k = 0; k < NKEYS; k++) {
            struct plane_flow_key key = mkkey(k);
            if (!plane_flowmgr_contains(s->fm, &key)) {
                assert_false(s->entries[k]);
            }
        }
    } else {
        /* Drain: demote everything and let every update finish. */
        int rounds = 0;
        while (plane_flowmgr_count(s->fm) || plane_update_in_flight(s->eng) || s->n_ev) {
            assert_true(++rounds < 10000);
            for (uint32_t k = 0; k < NKEYS; k++) {
                struct plane_flow_key key = mkkey(k);
                (void) plane_update_demote(s->eng, &key, s->now);
            }
            advance(s, s->now + T_FLUSH);
        }
        const struct plane_update_stats *st = plane_update_stats(s->eng);
        assert_int_equal(st->deltas_lost, 0);
        assert_int_equal(st->in_flight, 0);
        assert_int_equal(st->promotions + st->demotions, s->finished_ok);
        assert_int_equal(st->aborts, s->finished_err);
        assert_int_equal(st->promotions, st->demotions);
        /* Every packet counted exactly once, all of it handed back. */
        for (uint32_t k = 0; k < NKEYS; k++) {
            assert_false(s->entries[k]);
            assert_int_equal(s->sw[k], 0);
            assert_int_equal(s->inpipe[k], 0);
            assert_int_equal(s->ext[k], s->sent[k]);
        }
    }
    const struct plane_update_stats *st = plane_update_stats(s->eng);
    agg.hits += s->hits;
    agg.misses += s->misses;
    agg.promotions += st->promotions;
    agg.evictions += st->evictions;
    agg.aborts += st->aborts;
    agg.retries += st->collect_retries;
    agg.refused += st->refused;
    plane_update_delete(s->eng);
    plane_flowmgr_delete(s->fm);
    free(s);
}

static void
test_property_random(void **state)
{
    const char *env = getenv("PLANE_TEST_SEED");
    if (env) {
        uint64_t seed = strtoull(env, NULL, 0);
        printf("update property test: replaying PLANE_TEST_SEED=%llu\n",
               (unsigned long long) seed);
        run_sim(seed, 1 + (uint32_t) (seed % 8), 2 + (uint32_t) (seed % 13), 4000,
                seed % 5 == 0);
        return;
    }
    uint64_t base = 0xe7011a4eULL;
    int runs = 200;
    printf("update property test: seeds %llu..%llu (replay one with PLANE_TEST_SEED)\n",
           (unsigned long long) base, (unsigned long long) (base + runs - 1));
    for (int i = 0; i < runs; i++) {
        uint64_t seed = base + (uint64_t) i;
        /* Print before running, so a failure names its seed. */
        printf("  seed %llu\n", (unsigned long long) seed);
        fflush(stdout);
        run_sim(seed, 1 + (uint32_t) (seed % 8), 2 + (uint32_t) (seed % 13), 4000,
                seed % 5 == 0);
    }
    printf("update property test: %llu hits, %llu misses, %llu promotions, "
           "%llu evictions, %llu aborts, %llu collect retries, %llu refused\n",
           (unsigned long long) agg.hits, (unsigned long long) agg.misses,
           (unsigned long long) agg.promotions, (unsigned long long) agg.evictions,
           (unsigned long long) agg.aborts, (unsigned long long) agg.retries,
           (unsigned long long) agg.refused);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_bad_args),
        cmocka_unit_test(test_promote_then_demote),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_install_failure_aborts),
        cmocka_unit_test(test_full_evicts_least_recently_hit),
        cmocka_unit_test(test_promote_est_sets_estimate),
        cmocka_unit_test(test_collect_retry_and_loss),
        cmocka_unit_test(test_in_flight_limit_and_cancel),
        cmocka_unit_test(test_age_demotes_idle),
        cmocka_unit_test(test_property_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
