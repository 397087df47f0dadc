/* planegen gen: the synthetic Zipf source, pcap replay, and the paced sendmmsg loop that sends either. */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef PLANEGEN_HAVE_PCAP
#include <pcap/pcap.h>
#endif

#include <plane/error.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/pkt.h"
#include "flowtab.h"
#include "opt.h"
#include "stamp.h"

PLANE_LOG_MODULE(planegen_gen);

/* ---- options ---- */

void
planegen_gen_opts_default(struct planegen_gen_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->flows = 1000000;
    o->alpha = 0.99;
    o->seed = 0;
    static const uint16_t sizes[] = {64, 512, 1500};
    for (size_t i = 0; i < 3; i++) {
        o->sizes[i] = sizes[i];
        o->size_w[i] = 1.0;
    }
    o->n_sizes = 3;
    o->classes[0] = (struct planegen_class){.proto = PLANE_IPPROTO_UDP, .port_lo = 7000,
                                            .port_hi = 7999, .share = 1.0,
                                            .src_net = 10u << 24, .src_bits = 8,
                                            .dst_net = 0xac100000u, .dst_bits = 12};
    o->n_classes = 1;
    o->batch = 32;
}

void
planegen_gen_usage(FILE *f)
{
    fputs("usage: planegen gen --to HOST:PORT [--to ...] [options]\n"
          "\n"
          "Sends stamped UDP/TCP Ethernet frames (one per datagram, the format a\n"
          "switchd port's `listen` address takes) over a Zipf-popular key space.\n"
          "\n"
          "  --to HOST:PORT        destination (repeatable: each flow sticks to one)\n"
          "  --flows N             flows per class (default 1000000)\n"
          "  --alpha A             Zipf exponent (default 0.99; 0 = uniform)\n"
          "  --seed S              PRNG seed (default: from the clock; printed)\n"
          "  --sizes LIST          frame sizes SIZE[:WEIGHT],... or `imix`\n"
          "                        (default 64,512,1500; sizes below headers + the\n"
          "                        40-byte stamp, 82 B for UDP/IPv4, are raised to it)\n"
          "  --classes K           K UDP classes on ports 7000-7999, 8000-8999, ...\n"
          "  --class-ports LIST    classes as [udp:|tcp:]LO[-HI][@VLAN][~SRC/N][^DST/N],... (matching\n"
          "                        the rack apps' traffic_class)\n"
          "  --shares W,W,...      relative packet share of each class (default equal)\n"
          "  --count P             stop after P packets\n"
          "  --duration SEC        stop after SEC seconds\n"
          "  --rate PPS            pace to PPS packets per second (default: flat out)\n"
          "  --batch B             packets per sendmmsg (default 32)\n"
          "  --churn SEC           move the hot set every SEC seconds\n"
          "  --pcap FILE           replay an Ethernet pcap instead (UDP/TCP packets with\n"
          "                        40+ payload bytes are stamped, others sent as is)\n"
          "  --keep-timing         replay with the trace's inter-arrival times\n"
          "  --compress X          ... divided by X (implies --keep-timing)\n"
          "  --report FILE         write the JSON summary to FILE at the end\n"
          "                        (`planegen sink --gen-report FILE` reads it)\n"
          "  --json                print the JSON summary on stdout\n"
          "  --quiet               no progress line and no summary table\n", f);
}

/* Parses "SIZE[:WEIGHT],..." or "imix". */
static int
parse_sizes(struct planegen_gen_opts *o, const char *v, char *err, size_t err_len)
{
    if (!strcmp(v, "imix"))
        v = "64:7,576:4,1500:1";
    char buf[512];
    if (strlen(v) >= sizeof(buf)) {
        snprintf(err, err_len, "--sizes: list too long");
        return PLANE_EINVAL;
    }
    strcpy(buf, v);
    o->n_sizes = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_sizes == PLANEGEN_MAX_SIZES) {
            snprintf(err, err_len, "--sizes: at most %d sizes", PLANEGEN_MAX_SIZES);
            return PLANE_EINVAL;
        }
        char *colon = strchr(tok, ':');
        double w = 1.0;
        if (colon) {
            *colon = '\0';
            if (planegen_opt_double("--sizes weight", colon + 1, 0.0, 1e9, &w, err, err_len))
                return PLANE_EINVAL;
        }
        uint64_t sz;
        if (planegen_opt_u64("--sizes", tok, 1, PLANEGEN_MAX_FRAME, &sz, err, err_len))
            return PLANE_EINVAL;
        o->sizes[o->n_sizes] = (uint16_t)sz;
        o->size_w[o->n_sizes++] = w;
    }
    if (!o->n_sizes) {
        snprintf(err, err_len, "--sizes: empty list");
        return PLANE_EINVAL;
    }
    return 0;
}

/* Parses "A.B.C.D/N" into a host-order prefix.  Returns 0 or PLANE_EINVAL. */
static int
parse_src_net(const char *v, uint32_t *net, uint8_t *bits, char *err, size_t err_len)
{
    unsigned a, b, c, d, n;
    char tail;
    if (sscanf(v, "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &n, &tail) != 5 || a > 255 || b > 255
        || c > 255 || d > 255 || n > 32) {
        snprintf(err, err_len, "--class-ports: bad source or destination prefix \"%s\" (want A.B.C.D/N)", v);
        return PLANE_EINVAL;
    }
    uint32_t mask = n ? ~0u << (32 - n) : 0;
    *net = (a << 24 | b << 16 | c << 8 | d) & mask;
    *bits = (uint8_t)n;
    return 0;
}

/* Parses "[udp:|tcp:]LO[-HI][@VLAN][~A.B.C.D/N],...". */
static int
parse_class_ports(struct planegen_gen_opts *o, const char *v, char *err, size_t err_len)
{
    char buf[1024];
    if (strlen(v) >= sizeof(buf)) {
        snprintf(err, err_len, "--class-ports: list too long");
        return PLANE_EINVAL;
    }
    strcpy(buf, v);
    o->n_classes = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_classes == PLANEGEN_MAX_CLASSES) {
            snprintf(err, err_len, "--class-ports: at most %d classes", PLANEGEN_MAX_CLASSES);
            return PLANE_EINVAL;
        }
        struct planegen_class c = {.proto = PLANE_IPPROTO_UDP, .share = 1.0,
                                   .src_net = 10u << 24, .src_bits = 8,
                                   .dst_net = 0xac100000u, .dst_bits = 12};
        char *caret = strchr(tok, '^');
        if (caret) {
            *caret = '\0';
            if (parse_src_net(caret + 1, &c.dst_net, &c.dst_bits, err, err_len))
                return PLANE_EINVAL;
        }
        char *tilde = strchr(tok, '~');
        if (tilde) {
            *tilde = '\0';
            if (parse_src_net(tilde + 1, &c.src_net, &c.src_bits, err, err_len))
                return PLANE_EINVAL;
        }
        if (!strncmp(tok, "udp:", 4)) {
            tok += 4;
        } else if (!strncmp(tok, "tcp:", 4)) {
            c.proto = PLANE_IPPROTO_TCP;
            tok += 4;
        }
        char *at = strchr(tok, '@');
        if (at) {
            *at = '\0';
            uint64_t vlan;
            if (planegen_opt_u64("--class-ports vlan", at + 1, 1, 4094, &vlan, err, err_len))
                return PLANE_EINVAL;
            c.vlan = (uint16_t)vlan;
        }
        char *dash = strchr(tok, '-');
        uint64_t lo, hi;
        if (dash)
            *dash = '\0';
        if (planegen_opt_u64("--class-ports", tok, 0, 65535, &lo, err, err_len))
            return PLANE_EINVAL;
        hi = lo;
        if (dash && planegen_opt_u64("--class-ports", dash + 1, lo, 65535, &hi, err, err_len))
            return PLANE_EINVAL;
        c.port_lo = (uint16_t)lo;
        c.port_hi = (uint16_t)hi;
        o->classes[o->n_classes++] = c;
    }
    if (!o->n_classes) {
        snprintf(err, err_len, "--class-ports: empty list");
        return PLANE_EINVAL;
    }
    return 0;
}

static int
parse_shares(double *w, size_t *n, const char *v, char *err, size_t err_len)
{
    char buf[512];
    if (strlen(v) >= sizeof(buf)) {
        snprintf(err, err_len, "--shares: list too long");
        return PLANE_EINVAL;
    }
    strcpy(buf, v);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == PLANEGEN_MAX_CLASSES) {
            snprintf(err, err_len, "--shares: at most %d shares", PLANEGEN_MAX_CLASSES);
            return PLANE_EINVAL;
        }
        if (planegen_opt_double("--shares", tok, 0.0, 1e9, &w[*n], err, err_len))
            return PLANE_EINVAL;
        (*n)++;
    }
    return 0;
}

/* What planegen_gen_parse() collects besides the options, checked once every flag is read. */
struct gen_parse {
    struct planegen_gen_opts *o;
    uint64_t n_classes;
    bool have_ports, seed_set;
    double shares[PLANEGEN_MAX_CLASSES];
    size_t n_shares;
};

/* planegen_opt_flag_fn for gen's own flags. */
static int
gen_flag(void *ctx, int argc, char **argv, int *i, char *err, size_t err_len)
{
    struct gen_parse *p = ctx;
    struct planegen_gen_opts *o = p->o;
    const char *v = NULL;
    int rc = 0;
    if (!strcmp(argv[*i], "--keep-timing")) {
        o->keep_timing = true;
        if (o->compress == 0)
            o->compress = 1.0;
        return 0;
    }
#define NEED(name) planegen_opt_need(name, argc, argv, i, &v, &rc, err, err_len)
    if (NEED("--to")) {
        if (!rc) {
            if (o->n_to == PLANEGEN_MAX_TO) {
                snprintf(err, err_len, "at most %d --to", PLANEGEN_MAX_TO);
                return PLANE_EINVAL;
            }
            rc = planegen_opt_addr("--to", v, &o->to[o->n_to], &o->to_len[o->n_to], err,
                                   err_len);
            o->n_to++;
        }
    } else if (NEED("--flows")) {
        if (!rc)
            rc = planegen_opt_u64("--flows", v, 1, 1ull << 40, &o->flows, err, err_len);
    } else if (NEED("--alpha")) {
        if (!rc)
            rc = planegen_opt_double("--alpha", v, 0.0, 100.0, &o->alpha, err, err_len);
    } else if (NEED("--seed")) {
        if (!rc)
            rc = planegen_opt_u64("--seed", v, 0, UINT64_MAX, &o->seed, err, err_len);
        p->seed_set = true;
    } else if (NEED("--sizes")) {
        if (!rc)
            rc = parse_sizes(o, v, err, err_len);
    } else if (NEED("--classes")) {
        if (!rc)
            rc = planegen_opt_u64("--classes", v, 1, PLANEGEN_MAX_CLASSES, &p->n_classes, err,
                                  err_len);
    } else if (NEED("--class-ports")) {
        if (!rc)
            rc = parse_class_ports(o, v, err, err_len);
        p->have_ports = true;
    } else if (NEED("--shares")) {
        if (!rc)
            rc = parse_shares(p->shares, &p->n_shares, v, err, err_len);
    } else if (NEED("--count")) {
        if (!rc)
            rc = planegen_opt_u64("--count", v, 1, UINT64_MAX, &o->count, err, err_len);
    } else if (NEED("--duration")) {
        if (!rc)
            rc = planegen_opt_double("--duration", v, 0.001, 1e7, &o->duration_s, err,
                                     err_len);
    } else if (NEED("--rate")) {
        if (!rc)
            rc = planegen_opt_u64("--rate", v, 1, 1000000000, &o->rate_pps, err, err_len);
    } else if (NEED("--batch")) {
        uint64_t b = 0;
        if (!rc)
            rc = planegen_opt_u64("--batch", v, 1, 1024, &b, err, err_len);
        o->batch = (size_t)b;
    } else if (NEED("--churn")) {
        if (!rc)
            rc = planegen_opt_double("--churn", v, 0.001, 1e7, &o->churn_s, err, err_len);
    } else if (NEED("--pcap")) {
        rc = planegen_opt_pcap(v, &o->pcap, rc, err, err_len);
    } else if (NEED("--compress")) {
        if (!rc)
            rc = planegen_opt_double("--compress", v, 1e-6, 1e9, &o->compress, err,
                                     err_len);
        o->keep_timing = true;
    } else if (NEED("--report")) {
        o->report = v;
    } else {
        return PLANEGEN_OPT_UNKNOWN;
    }
#undef NEED
    return rc;
}

int
planegen_gen_parse(struct planegen_gen_opts *o, int argc, char **argv, FILE *out, char *err,
                   size_t err_len)
{
    static const struct planegen_opt_cmd cmd = {"gen", planegen_gen_usage, gen_flag};
    planegen_gen_opts_default(o);
    struct gen_parse p = {.o = o};
    int rc = planegen_opt_parse(&cmd, &p, &o->json, &o->quiet, argc, argv, out, err, err_len);
    if (rc)
        return rc;
    uint64_t n_classes = p.n_classes;
    bool have_ports = p.have_ports, seed_set = p.seed_set;
    const double *shares = p.shares;
    size_t n_shares = p.n_shares;
    if (!o->n_to) {
        snprintf(err, err_len, "--to HOST:PORT is required");
        return PLANE_EINVAL;
    }
    for (size_t i = 1; i < o->n_to; i++) {
        if (o->to[i].ss_family != o->to[0].ss_family) {
            snprintf(err, err_len, "--to: all destinations must be IPv4, or all IPv6");
            return PLANE_EINVAL;
        }
    }
    if (n_classes && have_ports && n_classes != o->n_classes) {
        snprintf(err, err_len, "--classes %" PRIu64 " but --class-ports lists %zu", n_classes,
                 o->n_classes);
        return PLANE_EINVAL;
    }
    if (n_classes && !have_ports) {
        o->n_classes = (size_t)n_classes;
        for (size_t i = 0; i < o->n_classes; i++)
            o->classes[i] = (struct planegen_class){
                .proto = PLANE_IPPROTO_UDP, .port_lo = (uint16_t)(7000 + 1000 * i),
                .port_hi = (uint16_t)(7999 + 1000 * i), .share = 1.0,
                .src_net = 10u << 24, .src_bits = 8,
                .dst_net = 0xac100000u, .dst_bits = 12};
    }
    if (n_shares) {
        if (n_shares != o->n_classes) {
            snprintf(err, err_len, "--shares lists %zu shares for %zu classes", n_shares,
                     o->n_classes);
            return PLANE_EINVAL;
        }
        for (size_t i = 0; i < n_shares; i++)
            o->classes[i].share = shares[i];
    }
    double total = 0;
    for (size_t i = 0; i < o->n_classes; i++)
        total += o->classes[i].share;
    if (!(total > 0)) {
        snprintf(err, err_len, "--shares: at least one share must be positive");
        return PLANE_EINVAL;
    }
    total = 0;
    for (size_t i = 0; i < o->n_sizes; i++)
        total += o->size_w[i];
    if (!(total > 0)) {
        snprintf(err, err_len, "--sizes: at least one weight must be positive");
        return PLANE_EINVAL;
    }
    if (o->pcap && (o->churn_s > 0 || n_classes || have_ports)) {
        snprintf(err, err_len, "--pcap replays a trace: --churn/--classes/--class-ports do not apply");
        return PLANE_EINVAL;
    }
    if (!o->pcap && o->keep_timing) {
        snprintf(err, err_len, "--keep-timing/--compress need --pcap");
        return PLANE_EINVAL;
    }
    if (!seed_set) {
        uint64_t t = plane_clock_wall_ns() ^ ((uint64_t)getpid() << 32);
        o->seed = planegen_mix64(&t);
    }
    return 0;
}

/* ---- the synthetic source ---- */

static const uint8_t gen_dmac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t gen_smac[6] = {0x02, 0, 0, 0, 0, 0x01};

static void
cumulate(double *cum, const double *w, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    double run = 0;
    for (size_t i = 0; i < n; i++) {
        run += w[i];
        cum[i] = run / total;
    }
    cum[n - 1] = 1.0;   /* rounding must never leave a draw unmatched */
}

static size_t
pick(const double *cum, size_t n, double u)
{
    for (size_t i = 0; i < n; i++)
        if (u < cum[i])
            return i;
    return n - 1;
}

int
planegen_gen_init(struct planegen_gen *g, const struct planegen_gen_opts *o)
{
    memset(g, 0, sizeof(*g));
    if (!o->n_classes || !o->n_sizes || !o->flows ||
        o->flows > UINT64_MAX / PLANEGEN_MAX_CLASSES)
        return PLANE_EINVAL;
    g->opts = *o;
    int rc = planegen_zipf_init(&g->zipf, o->flows, o->alpha);
    if (rc < 0)
        return rc;
    planegen_rng_seed(&g->rng, o->seed);
    planegen_gen_set_epoch(g, 0);
    g->n_flow_ids = o->flows * o->n_classes;
    if (g->n_flow_ids > SIZE_MAX / sizeof(*g->seq))
        return PLANE_ENOMEM;
    /* The only per-flow state: calloc'd pages stay untouched until a flow is hit. */
    g->seq = plane_calloc((size_t)g->n_flow_ids, sizeof(*g->seq));
    if (!g->seq)
        return PLANE_ENOMEM;
    cumulate(g->size_cum, o->size_w, o->n_sizes);
    double w[PLANEGEN_MAX_CLASSES];
    for (size_t i = 0; i < o->n_classes; i++)
        w[i] = o->classes[i].share;
    cumulate(g->class_cum, w, o->n_classes);
    return 0;
}

void
planegen_gen_uninit(struct planegen_gen *g)
{
    plane_free(g->seq);
    g->seq = NULL;
}

void
planegen_gen_set_epoch(struct planegen_gen *g, uint64_t epoch)
{
    uint64_t k = g->opts.seed ^ 0x686f742073657421ull;   /* "hot set!" */
    k += epoch * 0x9e3779b97f4a7c15ull;
    g->epoch = epoch;
    (void)planegen_perm_init(&g->perm, g->opts.flows, planegen_mix64(&k));
}

void
planegen_gen_flow_spec(const struct planegen_gen *g, uint64_t flow, struct plane_pkt_spec *s)
{
    const struct planegen_class *c = &g->opts.classes[flow / g->opts.flows];
    uint64_t x = g->opts.seed ^ 0x7475706c65732121ull;   /* "tuples!!" */
    x += flow * 0xd1b54a32d192ed03ull;
    uint64_t h1 = planegen_mix64(&x), h2 = planegen_mix64(&x);
    memset(s, 0, sizeof(*s));
    memcpy(s->dst_mac, gen_dmac, 6);
    memcpy(s->src_mac, gen_smac, 6);
    s->vlan_tci = c->vlan;
    uint32_t host = c->src_bits >= 32 ? 0 : (uint32_t)h1 & (~0u >> c->src_bits);
    uint32_t sa = c->src_net | host;
    uint8_t src[4] = {(uint8_t)(sa >> 24), (uint8_t)(sa >> 16), (uint8_t)(sa >> 8), (uint8_t)sa};
    uint32_t dhost = c->dst_bits >= 32 ? 0 : (uint32_t)h2 & (~0u >> c->dst_bits);
    uint32_t da = c->dst_net | dhost;
    uint8_t dst[4] = {(uint8_t)(da >> 24), (uint8_t)(da >> 16), (uint8_t)(da >> 8), (uint8_t)da};
    uint16_t sport = (uint16_t)(1024 + (h1 >> 24) % 64512);
    uint16_t dport = (uint16_t)(c->port_lo + (h2 >> 32) % ((uint32_t)c->port_hi - c->port_lo + 1));
    plane_flow_key_set_v4(&s->key, c->proto, src, sport, dst, dport);
}

/* Headers in front of the payload for a class's frames. */
static size_t
header_len(const struct planegen_class *c)
{
    return PLANE_ETH_HLEN + (c->vlan ? PLANE_VLAN_HLEN : 0) + 20 +
           (c->proto == PLANE_IPPROTO_TCP ? 20 : 8);
}

int
planegen_gen_next(struct planegen_gen *g, uint64_t now_ns, uint8_t *buf, size_t cap,
                  size_t *len, struct planegen_pkt_info *info)
{
    const struct planegen_gen_opts *o = &g->opts;
    size_t cls = o->n_classes > 1 ? pick(g->class_cum, o->n_classes, planegen_rng_unit(&g->rng))
                                  : 0;
    uint64_t rank = planegen_zipf_sample(&g->zipf, &g->rng);
    uint64_t flow = cls * o->flows + planegen_perm_apply(&g->perm, rank);
    uint64_t seq = g->seq[flow]++;
    size_t si = o->n_sizes > 1 ? pick(g->size_cum, o->n_sizes, planegen_rng_unit(&g->rng)) : 0;

    const struct planegen_class *c = &o->classes[cls];
    size_t hl = header_len(c);
    size_t pl = o->sizes[si] > hl + PLANEGEN_STAMP_LEN ? o->sizes[si] - hl : PLANEGEN_STAMP_LEN;
    if (pl + hl > cap)
        return PLANE_ENOSPC;
    /* The builders copy the payload in: stamp it in g's scratch first. */
    uint8_t *payload = g->payload;
    memset(payload, 0, pl);
    struct planegen_stamp st = {.flow = flow, .seq = seq, .send_ns = now_ns};
    planegen_stamp_encode(&st, payload);
    struct plane_pkt_spec s;
    planegen_gen_flow_spec(g, flow, &s);
    if (c->proto == PLANE_IPPROTO_TCP) {
        s.tcp_flags = PLANE_TCP_ACK | PLANE_TCP_PSH;
        s.tcp_seq = (uint32_t)(seq * 1460);
    }
    int rc = c->proto == PLANE_IPPROTO_TCP ? plane_pkt_build_tcp4(buf, cap, &s, payload, pl, len)
                                           : plane_pkt_build_udp4(buf, cap, &s, payload, pl, len);
    if (rc < 0)
        return rc;
    if (info) {
        info->flow = flow;
        info->seq = seq;
        info->cls = cls;
        info->to = o->n_to ? (size_t)(flow % o->n_to) : 0;
    }
    return 0;
}

/* ---- pcap replay ---- */

#ifdef PLANEGEN_HAVE_PCAP
struct replay {
    pcap_t *p;
    bool have, eof;            /* a record is waiting in frame/len/ts_ns */
    uint8_t frame[PLANEGEN_MAX_FRAME];
    size_t len;
    uint64_t ts_ns, ts0_ns;
    bool ts0_set;
    struct planegen_flowtab seqs;   /* per 5-tuple hash: next sequence */
    uint64_t unstamped, skipped;
};

static int
replay_open(struct replay *r, const char *path)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    memset(r, 0, sizeof(*r));
    planegen_flowtab_init(&r->seqs);
    r->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!r->p) {
        PLANE_ERR("cannot open %s: %s", path, errbuf);
        return PLANE_EIO;
    }
    if (pcap_datalink(r->p) != DLT_EN10MB) {
        PLANE_ERR("%s: link type %s, only Ethernet (EN10MB) traces can be replayed", path,
                  pcap_datalink_val_to_name(pcap_datalink(r->p)));
        return PLANE_EINVAL;
    }
    return 0;
}

static void
replay_close(struct replay *r)
{
    if (r->p)
        pcap_close(r->p);
    planegen_flowtab_uninit(&r->seqs);
}

/* Reads the next whole record into r (skipping truncated or oversized ones); false at the end. */
static bool
replay_peek(struct replay *r)
{
    while (!r->have && !r->eof) {
        struct pcap_pkthdr *h;
        const u_char *d;
        int rc = pcap_next_ex(r->p, &h, &d);
        if (rc != 1) {
            if (rc == PCAP_ERROR)
                PLANE_ERR("reading the trace: %s", pcap_geterr(r->p));
            r->eof = true;
            break;
        }
        if (h->caplen != h->len || h->caplen > sizeof(r->frame) || h->caplen == 0) {
            r->skipped++;
            continue;
        }
        memcpy(r->frame, d, h->caplen);
        r->len = h->caplen;
        /* Opened with nanosecond precision: tv_usec holds nanoseconds. */
        r->ts_ns = (uint64_t)h->ts.tv_sec * PLANE_NS_PER_SEC + (uint64_t)h->ts.tv_usec;
        if (!r->ts0_set) {
            r->ts0_ns = r->ts_ns;
            r->ts0_set = true;
        }
        r->have = true;
    }
    return r->have;
}

/*
 * Stamps the waiting record in place when it has room (UDP/TCP, 40+ payload
 * bytes).  Returns the hash of its 5-tuple (its flow id), 0 when unstamped.
 */
static uint64_t
replay_stamp(struct replay *r, uint64_t now_ns)
{
    struct plane_pkt pkt;
    if (plane_pkt_parse(r->frame, r->len, &pkt) != 0 || !(pkt.flags & PLANE_PKT_F_L4) ||
        (pkt.proto != PLANE_IPPROTO_UDP && pkt.proto != PLANE_IPPROTO_TCP) ||
        pkt.payload_len < PLANEGEN_STAMP_LEN) {
        r->unstamped++;
        return 0;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *k = (const uint8_t *)&pkt.key;
    for (size_t i = 0; i < sizeof(pkt.key); i++)
        h = (h ^ k[i]) * 0x100000001b3ull;
    struct planegen_flow *f = planegen_flowtab_get(&r->seqs, h);
    if (!f) {
        r->unstamped++;
        return 0;
    }
    struct planegen_stamp st = {.flow = h, .seq = f->hi++, .send_ns = now_ns};
    planegen_stamp_encode(&st, r->frame + pkt.payload_off);
    (void)plane_pkt_recompute_csums(r->frame, &pkt);
    return h;
}
#endif

/* ---- the send loop ---- */

static volatile sig_atomic_t gen_stop;

static void
gen_on_signal(int sig)
{
    (void)sig;
    gen_stop = 1;
}

struct gen_run {
    const struct planegen_gen_opts *o;
    struct planegen_gen gen;
#ifdef PLANEGEN_HAVE_PCAP
    struct replay replay;
#endif
    int fd;
    uint8_t (*bufs)[PLANEGEN_MAX_FRAME];
    struct mmsghdr *msgs;
    struct iovec *iov;
    uint64_t sent, bytes, send_errors, start_ns, end_ns;
};

/* Sends msgs[0..n) completely: retries a full socket buffer, skips (and counts) hard errors. */
static void
gen_send(struct gen_run *r, size_t n)
{
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    size_t done = 0;
    while (done < n && !gen_stop) {
        int k = sendmmsg(r->fd, r->msgs + done, (unsigned)(n - done), 0);
        if (k > 0) {
            for (int i = 0; i < k; i++)
                r->bytes += r->msgs[done + (size_t)i].msg_len;
            r->sent += (uint64_t)k;
            done += (size_t)k;
            continue;
        }
        if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
            struct pollfd p = {.fd = r->fd, .events = POLLOUT};
            (void)poll(&p, 1, 10);
            continue;
        }
        PLANE_WARN_RL(&rl, "send failed: %s", strerror(errno));
        r->send_errors++;
        done++;
    }
}

/* When the next packet is due: UINT64_MAX at the end of the input. */
static uint64_t
gen_due(struct gen_run *r, uint64_t queued)
{
    const struct planegen_gen_opts *o = r->o;
    uint64_t idx = r->sent + r->send_errors + queued;
    if (o->count && idx >= o->count)
        return UINT64_MAX;
#ifdef PLANEGEN_HAVE_PCAP
    if (o->pcap) {
        if (!replay_peek(&r->replay))
            return UINT64_MAX;
        if (o->keep_timing)
            return r->start_ns +
                   (uint64_t)((double)(r->replay.ts_ns - r->replay.ts0_ns) / o->compress);
    }
#endif
    if (!o->rate_pps)
        return 0;
    return r->start_ns + (uint64_t)((double)idx * 1e9 / (double)o->rate_pps);
}

/* Builds the next packet into slot i; returns its destination index or -1. */
static int
gen_build(struct gen_run *r, size_t i, uint64_t now)
{
#ifdef PLANEGEN_HAVE_PCAP
    if (r->o->pcap) {
        struct replay *rp = &r->replay;
        uint64_t flow = replay_stamp(rp, now);
        memcpy(r->bufs[i], rp->frame, rp->len);
        r->iov[i].iov_len = rp->len;
        rp->have = false;
        /* A flow sticks to one destination, as in synthetic mode. */
        return (int)(flow % r->o->n_to);
    }
#endif
    size_t len;
    struct planegen_pkt_info info;
    static struct plane_log_rl rl = PLANE_LOG_RL_INIT(5, 1);
    int rc = planegen_gen_next(&r->gen, now, r->bufs[i], PLANEGEN_MAX_FRAME, &len, &info);
    if (rc < 0) {
        PLANE_WARN_RL(&rl, "cannot build a frame: %s", plane_strerror(rc));
        return -1;
    }
    r->iov[i].iov_len = len;
    return (int)info.to;
}

static void
gen_print(const struct gen_run *r, FILE *f, bool json)
{
    const struct planegen_gen_opts *o = r->o;
    double secs = r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0.0;
    double pps = secs > 0 ? (double)r->sent / secs : 0.0;
    double gbps = secs > 0 ? (double)r->bytes * 8 / secs / 1e9 : 0.0;
    uint64_t unstamped = 0, skipped = 0;
#ifdef PLANEGEN_HAVE_PCAP
    unstamped = r->replay.unstamped;
    skipped = r->replay.skipped;
#endif
    if (json) {
        fprintf(f, "{\"sent\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"send_errors\":%" PRIu64
                ",\"duration_s\":%.6f,\"pps\":%.1f,\"gbps\":%.6f,\"seed\":%" PRIu64
                ",\"flows\":%" PRIu64 ",\"classes\":%zu,\"alpha\":%g,\"churn_epochs\":%" PRIu64
                ",\"pcap\":%s,\"unstamped\":%" PRIu64 ",\"skipped\":%" PRIu64 "}\n",
                r->sent, r->bytes, r->send_errors, secs, pps, gbps, o->seed,
                o->pcap ? 0 : o->flows, o->pcap ? (size_t)0 : o->n_classes, o->alpha,
                r->gen.epoch + 1, o->pcap ? "true" : "false", unstamped, skipped);
        return;
    }
    fprintf(f, "planegen gen: sent %" PRIu64 " packets (%" PRIu64 " bytes) in %.2f s: "
            "%.0f pps, %.3f Gb/s; send errors %" PRIu64 "; seed %" PRIu64 "\n",
            r->sent, r->bytes, secs, pps, gbps, r->send_errors, o->seed);
    if (o->pcap)
        fprintf(f, "  trace %s: %" PRIu64 " sent unstamped, %" PRIu64 " truncated records skipped\n",
                o->pcap, unstamped, skipped);
}

static void
gen_print_report(FILE *f, const void *arg)
{
    gen_print((const struct gen_run *)arg, f, true);
}

/* Written atomically so a sink polling for it never reads half a file. */
static int
gen_write_report(struct gen_run *r, const char *path)
{
    return planegen_write_atomic(path, gen_print_report, r);
}

static int
gen_setup(struct gen_run *r)
{
    const struct planegen_gen_opts *o = r->o;
    size_t b = o->batch;
    r->bufs = plane_malloc(b * sizeof(*r->bufs));
    r->msgs = plane_calloc(b, sizeof(*r->msgs));
    r->iov = plane_calloc(b, sizeof(*r->iov));
    if (!r->bufs || !r->msgs || !r->iov)
        return PLANE_ENOMEM;
    for (size_t i = 0; i < b; i++) {
        r->iov[i].iov_base = r->bufs[i];
        r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
        r->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int rc;
#ifdef PLANEGEN_HAVE_PCAP
    if (o->pcap) {
        if ((rc = replay_open(&r->replay, o->pcap)) < 0)
            return rc;
    } else
#endif
    if ((rc = planegen_gen_init(&r->gen, o)) < 0)
        return rc;
    r->fd = socket(o->to[0].ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (r->fd < 0)
        return -errno;
    int sndbuf = 8 << 20;
    (void)setsockopt(r->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
    (void)setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    return 0;
}

static void
gen_teardown(struct gen_run *r)
{
    if (r->fd >= 0)
        close(r->fd);
#ifdef PLANEGEN_HAVE_PCAP
    replay_close(&r->replay);
#endif
    planegen_gen_uninit(&r->gen);
    plane_free(r->bufs);
    plane_free(r->msgs);
    plane_free(r->iov);
}

int
planegen_gen_run(const struct planegen_gen_opts *o)
{
    struct gen_run r;
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.fd = -1;
    int rc = gen_setup(&r);
    if (rc < 0) {
        gen_teardown(&r);
        return rc;
    }
    planegen_catch_stop(gen_on_signal);
    gen_stop = 0;

    bool tty = !o->quiet && isatty(STDERR_FILENO);
    if (!o->quiet && !o->json && !o->pcap)
        fprintf(stderr, "planegen gen: seed %" PRIu64 "\n", o->seed);
    r.start_ns = plane_clock_now_ns();
    uint64_t next_progress = r.start_ns + 500 * PLANE_NS_PER_MS;
    uint64_t churn_ns = (uint64_t)(o->churn_s * 1e9);
    uint64_t end_ns = o->duration_s > 0 ? r.start_ns + (uint64_t)(o->duration_s * 1e9)
                                        : UINT64_MAX;
    while (!gen_stop) {
        uint64_t now = plane_clock_now_ns();
        if (now >= end_ns)
            break;
        if (churn_ns && !o->pcap) {
            uint64_t epoch = (now - r.start_ns) / churn_ns;
            if (epoch != r.gen.epoch)
                planegen_gen_set_epoch(&r.gen, epoch);
        }
        size_t n = 0;
        uint64_t due = 0;
        while (n < o->batch) {
            due = gen_due(&r, n);
            if (due > now)
                break;
            int to = gen_build(&r, n, now);
            if (to < 0) {
                r.send_errors++;
                continue;
            }
            r.msgs[n].msg_hdr.msg_name = (void *)&o->to[to];
            r.msgs[n].msg_hdr.msg_namelen = o->to_len[to];
            n++;
        }
        if (n)
            gen_send(&r, n);
        if (tty && now >= next_progress) {
            double secs = (double)(now - r.start_ns) / 1e9;
            fprintf(stderr, "\r\033[K%6.1fs  sent %" PRIu64 "  %.0f pps  epoch %" PRIu64, secs,
                    r.sent, secs > 0 ? (double)r.sent / secs : 0.0, r.gen.epoch);
            fflush(stderr);
            next_progress = now + 500 * PLANE_NS_PER_MS;
        }
        if (due == UINT64_MAX)
            break;
        if (!n && due > now) {
            /* Sleep until the next packet is due, but wake for stop checks. */
            uint64_t wait = due - now;
            if (wait > 50 * PLANE_NS_PER_MS)
                wait = 50 * PLANE_NS_PER_MS;
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait};
            nanosleep(&ts, NULL);
        }
    }
    r.end_ns = plane_clock_now_ns();
    if (tty)
        fputs("\r\033[K", stderr);
    if (o->json)
        gen_print(&r, stdout, true);
    else if (!o->quiet)
        gen_print(&r, stderr, false);
    fflush(stdout);
    if (o->report) {
        rc = gen_write_report(&r, o->report);
        if (rc < 0)
            PLANE_ERR("cannot write %s: %s", o->report, plane_strerror(rc));
    }
    gen_teardown(&r);
    return rc;
}
