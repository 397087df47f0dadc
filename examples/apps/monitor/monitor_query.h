/* monitor: off-path queries over the sketch arrays (heavy hitters, UnivMon G-sum entropy). */
#pragma once

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "monitor.h"

/*
 * These run where the merged sketches are read (a tool, a test), never in
 * the module: they use floating point and XXH3, which the data plane has
 * neither of.  Pure functions of their arguments, no allocation.
 *
 * A level's count-min sketch is read as the runtime stores it
 * (libplane/src/object.h, sketch.h): the object's words are `depth` rows of
 * `width` uint64_t counters, row-major (width = words / depth, depth =
 * the descriptor's cms_depth, 4); row r puts an item in column
 * reduce(XXH3_64bits_withSeed(item, len, seed_mix(seed ^ (r << 32 | r))))
 * where seed = plane_hash64(rack hasher, object name) and reduce is a
 * multiply-shift onto [0, width).  mon_cms_view_estimate() repeats that
 * computation; test_app_monitor checks it against the runtime's own.
 * Counters of copies on several devices merge by adding, word by word.
 */
struct mon_cms_view {
    const uint64_t *counters;   /* depth * width, row-major */
    uint32_t width;
    uint32_t depth;
    uint64_t seed;              /* plane_hash64(hasher, "levelN") */
};

/* The whole universal sketch: every level, and the level-hash seed param. */
struct mon_sketch_view {
    struct mon_cms_view level[MON_LEVELS];
    uint64_t level_seed;        /* the app's "seed" param */
};

/* A reported heavy hitter: the item and its level-0 estimate. */
struct mon_hh {
    uint8_t item[MON_ITEM_LEN];
    uint64_t count;
};

/* The runtime's per-row seed derivation (sketch.c seed_mix). */
static inline uint64_t
mon_q_seed_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Returns the sketch's estimate of item's count (the runtime's estimate). */
static inline uint64_t
mon_cms_view_estimate(const struct mon_cms_view *v, const void *item, size_t len)
{
    if (!v->counters || v->depth == 0 || v->width == 0) {
        return 0;
    }
    uint64_t best = UINT64_MAX;
    for (uint32_t r = 0; r < v->depth; r++) {
        uint64_t h = XXH3_64bits_withSeed(item, len,
                                          mon_q_seed_mix(v->seed ^ ((uint64_t) r << 32 | r)));
        uint32_t col = (uint32_t) (((unsigned __int128) h * v->width) >> 64);
        uint64_t c = v->counters[(size_t) r * v->width + col];
        if (c < best) {
            best = c;
        }
    }
    return best;
}

/* Returns the level's total count: every add lands once in each row. */
static inline uint64_t
mon_cms_view_total(const struct mon_cms_view *v)
{
    uint64_t sum = 0;
    if (v->counters) {
        for (uint32_t c = 0; c < v->width; c++) {
            sum += v->counters[c];
        }
    }
    return sum;
}

/*
 * Writes to out (room for max_out) the candidates whose level-0 estimate is
 * at least phi times the total count, largest first, and returns how many
 * there are (may exceed max_out: only max_out are written).  cands are
 * n_cands distinct items (MON_ITEM_LEN bytes each), e.g. the keys of the
 * "cand" register.  Estimates never undercount, so no true heavy hitter
 * among the candidates is missed; an item whose estimate is inflated by
 * collisions may be reported (count-min error: about e/width of the total).
 */
static inline size_t
mon_heavy_hitters(const struct mon_sketch_view *s,
                  const uint8_t (*cands)[MON_ITEM_LEN], size_t n_cands,
                  double phi, struct mon_hh *out, size_t max_out)
{
    double thr = phi * (double) mon_cms_view_total(&s->level[0]);
    size_t n = 0, kept = 0;
    for (size_t i = 0; i < n_cands; i++) {
        uint64_t est = mon_cms_view_estimate(&s->level[0], cands[i], MON_ITEM_LEN);
        if (est == 0 || (double) est < thr) {
            continue;
        }
        n++;
        if (kept < max_out) {
            kept++;                   /* a free slot at the end */
        } else if (max_out == 0 || out[max_out - 1].count >= est) {
            continue;                 /* lighter than every kept one */
        }
        /* The last slot is free (or holds the evicted lightest): insert
         * into the sorted prefix. */
        size_t pos = kept - 1;
        while (pos > 0 && out[pos - 1].count < est) {
            out[pos] = out[pos - 1];
            pos--;
        }
        memcpy(out[pos].item, cands[i], MON_ITEM_LEN);
        out[pos].count = est;
    }
    return n;
}

/*
 * UnivMon's recursive G-sum estimate of sum over items of g(count):
 *   Y_{L-1} = sum_{w in Q_{L-1}} g(f_w)
 *   Y_j = 2 Y_{j+1} + sum_{w in Q_j} (1 - 2 h_{j+1}(w)) g(f_w)
 * where Q_j are level j's heavy hitters (candidates in level j whose
 * level-j estimate is at least phi times level j's total), f_w their
 * level-j estimates, and h_{j+1}(w) is 1 when w is also sampled into level
 * j+1.  Returns Y_0.  Level j+1 stands in for the light items of level j
 * (each sampled with probability 1/2, hence the factor 2), so the estimate
 * is exact when every level's items are all in Q and counted exactly, and
 * unbiased otherwise.
 */
static inline double
mon_gsum(const struct mon_sketch_view *s, const uint8_t (*cands)[MON_ITEM_LEN],
         size_t n_cands, double phi, double (*g)(double))
{
    double y = 0.0;
    for (int j = MON_LEVELS - 1; j >= 0; j--) {
        const struct mon_cms_view *v = &s->level[j];
        double thr = phi * (double) mon_cms_view_total(v);
        double sum = 0.0;
        for (size_t i = 0; i < n_cands; i++) {
            unsigned depth = mon_item_depth(s->level_seed, cands[i]);
            if (depth < (unsigned) j) {
                continue;             /* not sampled into level j */
            }
            uint64_t est = mon_cms_view_estimate(v, cands[i], MON_ITEM_LEN);
            if (est == 0 || (double) est < thr) {
                continue;
            }
            bool next = j + 1 < MON_LEVELS && depth >= (unsigned) j + 1;
            sum += (next ? -1.0 : 1.0) * g((double) est);
        }
        y = 2.0 * y + sum;
    }
    return y;
}

/* g(f) = f log2 f, the G-sum behind the entropy. */
static inline double
mon_g_flogf(double f)
{
    return f > 0.0 ? f * log2(f) : 0.0;
}

/*
 * Returns the estimated empirical entropy (bits) of the item distribution:
 * H = log2 m - (1/m) sum f log2 f with m the total count (level 0) and the
 * sum by mon_gsum().  Clamped to [0, log2 m]; 0 for an empty sketch.
 */
static inline double
mon_entropy(const struct mon_sketch_view *s, const uint8_t (*cands)[MON_ITEM_LEN],
            size_t n_cands, double phi)
{
    double m = (double) mon_cms_view_total(&s->level[0]);
    if (m <= 0.0) {
        return 0.0;
    }
    double h = log2(m) - mon_gsum(s, cands, n_cands, phi, mon_g_flogf) / m;
    if (h < 0.0) {
        h = 0.0;
    }
    if (h > log2(m)) {
        h = log2(m);
    }
    return h;
}
