/* planegen sink: per-flow accounting of stamped egress (loss, duplicates, order, latency, rewrites) and its socket loop. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef PLANEGEN_HAVE_PCAP
#include <pcap/pcap.h>
#endif

#include <plane/error.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/pkt.h"
#include "common/wire.h"
#include "opt.h"
#include "stamp.h"

PLANE_LOG_MODULE(planegen_sink);

/* ---- accounting ---- */

void
planegen_acct_init(struct planegen_acct *a, uint16_t switch_id)
{
    memset(a, 0, sizeof(*a));
    a->switch_id = switch_id;
    planegen_flowtab_init(&a->flows);
    planegen_hist_init(&a->e2e);
}

void
planegen_acct_uninit(struct planegen_acct *a)
{
    planegen_flowtab_uninit(&a->flows);
    plane_free(a->promo);
    a->promo = NULL;
    for (size_t i = 0; i < a->n_devs; i++)
        plane_free(a->devs[i]);
    a->n_devs = 0;
}

void
planegen_acct_set_sent(struct planegen_acct *a, uint64_t sent)
{
    a->sent_known = true;
    a->sent = sent;
}

static struct planegen_dev_stats *
acct_dev(struct planegen_acct *a, uint16_t id)
{
    for (size_t i = 0; i < a->n_devs; i++)
        if (a->devs[i]->id == id)
            return a->devs[i];
    if (a->n_devs == PLANEGEN_ACCT_MAX_DEVICES) {
        /* The last row absorbs every device beyond the table. */
        struct planegen_dev_stats *last = a->devs[a->n_devs - 1];
        last->id = PLANEGEN_DEV_OTHER;
        return last;
    }
    struct planegen_dev_stats *d = plane_malloc(sizeof(*d));
    if (!d) {
        a->oom = true;
        return NULL;
    }
    d->id = id;
    d->packets = 0;
    planegen_hist_init(&d->e2e);
    planegen_hist_init(&d->proc);
    a->devs[a->n_devs++] = d;
    return d;
}

/* ---- promotion tracking ---- */

struct planegen_promo_flow {
    struct plane_flow_key key;
    uint64_t first_ns;         /* 0: a free slot */
    uint64_t switch_ns;        /* 0 until a packet processed at the switch arrived */
};

/* Twice the flows tracked, so probes stay short. */
#define PROMO_SLOTS (2 * PLANEGEN_PROMO_MAX_FLOWS)

void
planegen_acct_track_promotion(struct planegen_acct *a, uint32_t net, unsigned bits)
{
    a->promo_on = true;
    a->promo_bits = bits > 32 ? 32 : bits;
    uint32_t mask = a->promo_bits ? ~0u << (32 - a->promo_bits) : 0;
    a->promo_net = net & mask;
}

static bool
promo_match(const struct planegen_acct *a, const struct plane_flow_key *k)
{
    if (k->ip_version != 4)
        return false;
    const uint8_t *s = k->src_addr + PLANE_FLOW_V4_OFF;
    uint32_t src = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
    uint32_t mask = a->promo_bits ? ~0u << (32 - a->promo_bits) : 0;
    return (src & mask) == a->promo_net;
}

/* Records one arrival of a flow of the prefix (now_ns > 0). */
static void
promo_note(struct planegen_acct *a, const struct plane_flow_key *k, bool at_switch,
           uint64_t now_ns)
{
    if (!a->promo) {
        a->promo = plane_calloc(PROMO_SLOTS, sizeof(*a->promo));
        if (!a->promo) {
            a->oom = true;
            a->promo_on = false;
            return;
        }
    }
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    now_ns = now_ns ? now_ns : 1;        /* 0 marks a free slot */
    for (size_t i = (size_t)h & (PROMO_SLOTS - 1);; i = (i + 1) & (PROMO_SLOTS - 1)) {
        struct planegen_promo_flow *f = &a->promo[i];
        if (!f->first_ns) {
            if (a->promo_n == PLANEGEN_PROMO_MAX_FLOWS) {
                a->promo_untracked++;    /* counted per packet: "beyond the table" */
                return;
            }
            f->key = *k;
            f->first_ns = now_ns;
            a->promo_n++;
        } else if (memcmp(&f->key, k, sizeof(*k))) {
            continue;
        }
        if (at_switch && !f->switch_ns)
            f->switch_ns = now_ns;
        return;
    }
}

int
planegen_acct_promotion(const struct planegen_acct *a, struct planegen_promo_summary *s)
{
    memset(s, 0, sizeof(*s));
    if (!a->promo_on && !a->promo)
        return PLANE_ENOENT;
    s->flows = a->promo_n;
    s->untracked = a->promo_untracked;
    if (!a->promo_n)
        return 0;
    uint64_t *v = plane_malloc(a->promo_n * sizeof(*v));
    if (!v)
        return PLANE_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < PROMO_SLOTS; i++) {
        const struct planegen_promo_flow *f = &a->promo[i];
        if (f->first_ns && f->switch_ns)
            v[n++] = f->switch_ns - f->first_ns;
    }
    s->promoted = n;
    if (n) {
        s->p50_ns = planegen_exact_percentile(v, n, 50);
        s->p90_ns = planegen_exact_percentile(v, n, 90);
        s->min_ns = v[0];
        s->max_ns = v[n - 1];
    }
    plane_free(v);
    return 0;
}

/* FNV-1a over the fields an app may rewrite: the egress 5-tuple and the stamp's app word. */
static uint64_t
rewrite_hash(const struct plane_flow_key *key, uint64_t app_word)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *p = (const uint8_t *)key;
    for (size_t i = 0; i < sizeof(*key); i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    for (int i = 0; i < 8; i++)
        h = (h ^ (uint8_t)(app_word >> (8 * i))) * 0x100000001b3ull;
    return h;
}

int
planegen_acct_datagram(struct planegen_acct *a, const uint8_t *buf, size_t len,
                       uint64_t now_ns, const uint8_t **frame_out, size_t *frame_len)
{
    a->datagrams++;
    a->bytes += len;
    struct plane_wire_data d;
    bool hdr = false;
    const uint8_t *frame = buf;
    size_t flen = len;
    /* A DATA header is a msgpack fixarray; a raw frame starts with a MAC. */
    if (len && plane_wire_data_decode(buf, len, &d) == 0) {
        hdr = true;
        frame = d.frame;
        flen = d.frame_len;
    }
    if (frame_out) {
        *frame_out = frame;
        *frame_len = flen;
    }
    struct plane_pkt pkt;
    struct planegen_stamp st;
    if (plane_pkt_parse(frame, flen, &pkt) != 0 || !(pkt.flags & PLANE_PKT_F_L4) ||
        planegen_stamp_decode(frame + pkt.payload_off, pkt.payload_len, &st) != 0) {
        a->not_stamped++;
        return PLANE_EBADMSG;
    }
    if (hdr) {
        a->with_header++;
        if (d.flags & PLANE_DATA_F_DROP) {
            a->app_dropped++;
            return 0;
        }
    }
    struct planegen_flow *f = planegen_flowtab_get(&a->flows, st.flow);
    if (!f) {
        a->oom = true;
        return 0;
    }
    a->received++;
    if (!a->first_ns)
        a->first_ns = now_ns;
    a->last_ns = now_ns;
    if (a->promo_on && promo_match(a, &pkt.key))
        promo_note(a, &pkt.key, hdr && d.processed_by == a->switch_id, now_ns);

    uint64_t s = st.seq;
    if (s >= f->hi) {
        uint64_t shift = s + 1 - f->hi;
        f->window = (shift >= 64 ? 0 : f->window << shift) | 1;
        a->sum_hi += shift;
        f->hi = s + 1;
    } else {
        uint64_t back = f->hi - 1 - s;
        if (back < 64) {
            if (f->window >> back & 1) {
                a->duplicated++;
                return 0;
            }
            f->window |= 1ull << back;
        }
        a->out_of_order++;
    }
    a->unique++;
    f->rx++;

    uint16_t dev_id = hdr ? d.processed_by : PLANEGEN_DEV_DIRECT;
    struct planegen_dev_stats *dev = acct_dev(a, dev_id);
    if (dev)
        dev->packets++;
    if (now_ns >= st.send_ns) {
        planegen_hist_add(&a->e2e, now_ns - st.send_ns);
        if (dev)
            planegen_hist_add(&dev->e2e, now_ns - st.send_ns);
    }
    if (hdr && dev && d.processed_by != PLANE_DEV_NONE && d.processed_ns >= d.ingress_ns &&
        d.ingress_ns)
        planegen_hist_add(&dev->proc, d.processed_ns - d.ingress_ns);
    if (hdr && d.processed_by == a->switch_id)
        a->at_switch++;

    uint64_t rh = rewrite_hash(&pkt.key, st.app_word);
    if (f->rx == 1) {
        f->rewrite_hash = rh;
    } else if (f->rewrite_hash != rh) {
        a->rewrite_errors++;
        if (!f->inconsistent) {
            f->inconsistent = 1;
            a->inconsistent_flows++;
        }
    }
    return 0;
}

uint64_t
planegen_acct_lost(const struct planegen_acct *a)
{
    if (a->sent_known)
        return a->sent > a->unique ? a->sent - a->unique : 0;
    return a->sum_hi > a->unique ? a->sum_hi - a->unique : 0;
}

double
planegen_acct_pps(const struct planegen_acct *a)
{
    if (a->unique < 2 || a->last_ns <= a->first_ns)
        return 0.0;
    return (double)(a->unique - 1) * 1e9 / (double)(a->last_ns - a->first_ns);
}

static const char *
dev_name(uint16_t id, char *buf, size_t len)
{
    if (id == PLANEGEN_DEV_DIRECT)
        return "none";
    if (id == PLANEGEN_DEV_OTHER)
        return "other";
    snprintf(buf, len, "%u", id);
    return buf;
}

static void
json_hist(FILE *f, const char *name, const struct planegen_hist *h)
{
    fprintf(f, "\"%s\":{\"count\":%" PRIu64 ",\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
            ",\"p99\":%" PRIu64 ",\"max\":%" PRIu64 ",\"mean\":%.0f}",
            name, h->count, planegen_hist_percentile(h, 50), planegen_hist_percentile(h, 90),
            planegen_hist_percentile(h, 99), h->max, planegen_hist_mean(h));
}

static double
share(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

void
planegen_acct_print_json(const struct planegen_acct *a, FILE *f)
{
    fputc('{', f);
    if (a->sent_known)
        fprintf(f, "\"sent\":%" PRIu64 ",", a->sent);
    else
        fputs("\"sent\":null,", f);
    fprintf(f, "\"datagrams\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"received\":%" PRIu64
            ",\"unique\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"lost_exact\":%s"
            ",\"duplicated\":%" PRIu64 ",\"out_of_order\":%" PRIu64
            ",\"not_stamped\":%" PRIu64 ",\"app_dropped\":%" PRIu64
            ",\"with_header\":%" PRIu64 ",\"flows\":%zu"
            ",\"rewrite_errors\":%" PRIu64 ",\"inconsistent_flows\":%" PRIu64
            ",\"switch_id\":%u,\"at_switch\":%" PRIu64 ",\"switch_share\":%.6f"
            ",\"duration_s\":%.6f,\"pps\":%.1f,\"oom\":%s,",
            a->datagrams, a->bytes, a->received, a->unique, planegen_acct_lost(a),
            a->sent_known ? "true" : "false", a->duplicated, a->out_of_order, a->not_stamped,
            a->app_dropped, a->with_header, a->flows.n, a->rewrite_errors,
            a->inconsistent_flows, a->switch_id, a->at_switch, share(a->at_switch, a->unique),
            a->last_ns > a->first_ns ? (double)(a->last_ns - a->first_ns) / 1e9 : 0.0,
            planegen_acct_pps(a), a->oom ? "true" : "false");
    json_hist(f, "latency_ns", &a->e2e);
    struct planegen_promo_summary ps;
    if (planegen_acct_promotion(a, &ps) == 0) {
        fprintf(f, ",\"promotion\":{\"src\":\"%u.%u.%u.%u/%u\",\"flows\":%" PRIu64
                ",\"promoted\":%" PRIu64 ",\"untracked\":%" PRIu64 ",\"min_ns\":%" PRIu64
                ",\"p50_ns\":%" PRIu64 ",\"p90_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 "}",
                a->promo_net >> 24, a->promo_net >> 16 & 255, a->promo_net >> 8 & 255,
                a->promo_net & 255, a->promo_bits, ps.flows, ps.promoted, ps.untracked,
                ps.min_ns, ps.p50_ns, ps.p90_ns, ps.max_ns);
    }
    fputs(",\"by_device\":[", f);
    for (size_t i = 0; i < a->n_devs; i++) {
        const struct planegen_dev_stats *d = a->devs[i];
        char nb[8];
        fprintf(f, "%s{\"device\":\"%s\",\"packets\":%" PRIu64 ",\"share\":%.6f,",
                i ? "," : "", dev_name(d->id, nb, sizeof(nb)), d->packets,
                share(d->packets, a->unique));
        json_hist(f, "latency_ns", &d->e2e);
        fputc(',', f);
        json_hist(f, "proc_ns", &d->proc);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

static double
us(uint64_t ns)
{
    return (double)ns / 1e3;
}

void
planegen_acct_print_table(const struct planegen_acct *a, FILE *f)
{
    char sent[32];
    if (a->sent_known)
        snprintf(sent, sizeof(sent), "%" PRIu64, a->sent);
    else
        snprintf(sent, sizeof(sent), "?");
    fprintf(f, "planegen sink: %" PRIu64 " datagrams, %" PRIu64 " flows\n", a->datagrams,
            (uint64_t)a->flows.n);
    fprintf(f, "  sent           %s\n", sent);
    fprintf(f, "  received       %" PRIu64 " (%" PRIu64 " unique)\n", a->received, a->unique);
    fprintf(f, "  lost           %" PRIu64 "%s\n", planegen_acct_lost(a),
            a->sent_known ? "" : " (sequence gaps; pass --sent or --gen-report for exact)");
    fprintf(f, "  duplicated     %" PRIu64 "\n", a->duplicated);
    fprintf(f, "  out of order   %" PRIu64 "\n", a->out_of_order);
    fprintf(f, "  not stamped    %" PRIu64 "\n", a->not_stamped);
    if (a->app_dropped)
        fprintf(f, "  app dropped    %" PRIu64 "\n", a->app_dropped);
    fprintf(f, "  rewrite errors %" PRIu64 " packets in %" PRIu64 " flows\n", a->rewrite_errors,
            a->inconsistent_flows);
    fprintf(f, "  rate           %.0f pps\n", planegen_acct_pps(a));
    fprintf(f, "  at the switch  %.1f%% (id %u)\n", 100.0 * share(a->at_switch, a->unique),
            a->switch_id);
    fprintf(f, "  latency (us)   p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
            us(planegen_hist_percentile(&a->e2e, 50)), us(planegen_hist_percentile(&a->e2e, 90)),
            us(planegen_hist_percentile(&a->e2e, 99)), us(a->e2e.max));
    struct planegen_promo_summary ps;
    if (planegen_acct_promotion(a, &ps) == 0)
        fprintf(f, "  promotion      %" PRIu64 " of %" PRIu64 " flows at the switch after"
                " p50 %.1f  p90 %.1f  max %.1f ms\n", ps.promoted, ps.flows,
                (double)ps.p50_ns / 1e6, (double)ps.p90_ns / 1e6, (double)ps.max_ns / 1e6);
    if (!a->n_devs)
        return;
    fprintf(f, "\n  %-7s %12s %7s %10s %10s %10s %10s %10s %10s\n", "device", "packets", "share",
            "p50 us", "p90 us", "p99 us", "max us", "proc p50", "proc p99");
    for (size_t i = 0; i < a->n_devs; i++) {
        const struct planegen_dev_stats *d = a->devs[i];
        char nb[8];
        fprintf(f, "  %-7s %12" PRIu64 " %6.1f%% %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n",
                dev_name(d->id, nb, sizeof(nb)), d->packets, 100.0 * share(d->packets, a->unique),
                us(planegen_hist_percentile(&d->e2e, 50)),
                us(planegen_hist_percentile(&d->e2e, 90)),
                us(planegen_hist_percentile(&d->e2e, 99)), us(d->e2e.max),
                us(planegen_hist_percentile(&d->proc, 50)),
                us(planegen_hist_percentile(&d->proc, 99)));
    }
}

/* ---- arguments ---- */

void
planegen_sink_usage(FILE *f)
{
    fputs("usage: planegen sink --listen HOST:PORT [--listen ...] [options]\n"
          "\n"
          "Receives a rack's egress (DATA datagrams) or planegen's frames directly and\n"
          "reports sent, received, lost, duplicated, out-of-order, pps, latency\n"
          "p50/p90/p99/max overall and per processing device, the share processed at\n"
          "the switch, and flows whose rewritten fields changed.\n"
          "\n"
          "  --listen HOST:PORT    where egress arrives (repeatable; port 0 = ephemeral)\n"
          "  --duration SEC        stop after SEC seconds\n"
          "  --idle SEC            stop after SEC seconds without a datagram\n"
          "  --expect N            stop once N unique stamped packets arrived\n"
          "  --sent N              the generator's packet count (exact loss); stop when\n"
          "                        every packet arrived\n"
          "  --gen-report FILE     read the count from `planegen gen --report FILE` once it\n"
          "                        exists, and stop when every packet arrived\n"
          "  --switch-id ID        the switch's device id (default 0)\n"
          "  --promotion-src A.B.C.D/N\n"
          "                        per flow (5-tuple) with its IPv4 source in the prefix,\n"
          "                        time from its first packet to its first one processed\n"
          "                        at the switch (JSON \"promotion\": p50/p90/max over flows)\n"
          "  --json                print the summary as one JSON object\n"
          "  --pcap FILE           write the egress frames to FILE (Ethernet pcap)\n"
          "  --ready-file FILE     write the bound addresses, one a line, once listening\n"
          "  --quiet               no progress line and no table\n"
          "Without a stop flag the sink runs until SIGINT/SIGTERM.\n", f);
}

/* Parses "A.B.C.D/N" into a host-order address and a length.  Returns 0 or PLANE_EINVAL. */
static int
parse_prefix(const char *flag, const char *v, uint32_t *net, unsigned *bits, char *err,
             size_t err_len)
{
    unsigned b[4], n;
    char tail;
    if (sscanf(v, "%u.%u.%u.%u/%u%c", &b[0], &b[1], &b[2], &b[3], &n, &tail) != 5 ||
        b[0] > 255 || b[1] > 255 || b[2] > 255 || b[3] > 255 || n > 32) {
        snprintf(err, err_len, "%s: bad prefix \"%s\" (want A.B.C.D/N)", flag, v);
        return PLANE_EINVAL;
    }
    *net = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    *bits = n;
    return 0;
}

/* planegen_opt_flag_fn for the sink's own flags. */
static int
sink_flag(void *ctx, int argc, char **argv, int *i, char *err, size_t err_len)
{
    struct planegen_sink_opts *o = ctx;
    const char *v = NULL;
    int rc = 0;
#define NEED(name) planegen_opt_need(name, argc, argv, i, &v, &rc, err, err_len)
    if (NEED("--listen")) {
        if (!rc) {
            if (o->n_listen == PLANEGEN_SINK_MAX_LISTEN) {
                snprintf(err, err_len, "at most %d --listen", PLANEGEN_SINK_MAX_LISTEN);
                return PLANE_EINVAL;
            }
            rc = planegen_opt_addr("--listen", v, &o->listen[o->n_listen],
                                   &o->listen_len[o->n_listen], err, err_len);
            o->n_listen++;
        }
    } else if (NEED("--duration")) {
        if (!rc)
            rc = planegen_opt_double("--duration", v, 0.001, 1e7, &o->duration_s, err,
                                     err_len);
    } else if (NEED("--idle")) {
        if (!rc)
            rc = planegen_opt_double("--idle", v, 0.001, 1e7, &o->idle_s, err, err_len);
    } else if (NEED("--expect")) {
        if (!rc)
            rc = planegen_opt_u64("--expect", v, 1, UINT64_MAX, &o->expect, err, err_len);
    } else if (NEED("--sent")) {
        if (!rc) {
            rc = planegen_opt_u64("--sent", v, 1, UINT64_MAX, &o->sent, err, err_len);
            o->sent_set = true;
        }
    } else if (NEED("--gen-report")) {
        o->gen_report = v;
    } else if (NEED("--switch-id")) {
        uint64_t id = 0;
        if (!rc)
            rc = planegen_opt_u64("--switch-id", v, 0, 65534, &id, err, err_len);
        o->switch_id = (uint16_t)id;
    } else if (NEED("--promotion-src")) {
        if (!rc)
            rc = parse_prefix("--promotion-src", v, &o->promo_net, &o->promo_bits, err, err_len);
        o->promo_set = !rc;
    } else if (NEED("--pcap")) {
        rc = planegen_opt_pcap(v, &o->pcap, rc, err, err_len);
    } else if (NEED("--ready-file")) {
        o->ready_file = v;
    } else {
        return PLANEGEN_OPT_UNKNOWN;
    }
#undef NEED
    return rc;
}

int
planegen_sink_parse(struct planegen_sink_opts *o, int argc, char **argv, FILE *out, char *err,
                    size_t err_len)
{
    static const struct planegen_opt_cmd cmd = {"sink", planegen_sink_usage, sink_flag};
    memset(o, 0, sizeof(*o));
    int rc = planegen_opt_parse(&cmd, o, &o->json, &o->quiet, argc, argv, out, err, err_len);
    if (rc)
        return rc;
    if (!o->n_listen) {
        snprintf(err, err_len, "--listen HOST:PORT is required");
        return PLANE_EINVAL;
    }
    return 0;
}

/* ---- the loop ---- */

static volatile sig_atomic_t sink_stop;

static void
on_signal(int sig)
{
    (void)sig;
    sink_stop = 1;
}

/* Reads "sent" from the generator's JSON report; false while it does not exist yet. */
static bool
read_gen_report(const char *path, uint64_t *sent)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "\"sent\":");
    if (!p)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p + 7, &end, 10);
    if (errno || end == p + 7)
        return false;
    *sent = v;
    return true;
}

/* planegen_write_atomic()'s filler for a plain string. */
static void
put_text(FILE *f, const void *text)
{
    fputs(text, f);
}

#define SINK_BATCH 64
#define SINK_BUF (PLANE_WIRE_MAX_DATAGRAM + 64)

struct sink_state {
    struct planegen_acct acct;
    int fds[PLANEGEN_SINK_MAX_LISTEN];
    size_t n_fds;
    uint8_t (*bufs)[SINK_BUF];
#ifdef PLANEGEN_HAVE_PCAP
    pcap_t *pcap;
    pcap_dumper_t *dumper;
#endif
};

static int
sink_open(struct sink_state *s, const struct planegen_sink_opts *o)
{
    char text[PLANEGEN_SINK_MAX_LISTEN * 64 + 1] = "";
    size_t used = 0;
    for (size_t i = 0; i < o->n_listen; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&o->listen[i];
        int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        s->fds[s->n_fds++] = fd;
        /* As large as allowed: a burst must not overflow while we account. */
        int rcvbuf = 64 << 20;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        char as[80];
        if (bind(fd, sa, o->listen_len[i]) < 0) {
            int e = -errno;
            PLANE_ERR("cannot listen on %s: %s", planegen_addr_str(sa, as, sizeof(as)),
                      strerror(errno));
            return e;
        }
        struct sockaddr_storage bound;
        socklen_t blen = sizeof(bound);
        if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
            return -errno;
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s\n",
                                 planegen_addr_str((struct sockaddr *)&bound, as, sizeof(as)));
    }
    if (o->ready_file) {
        /* Written atomically: a script polling for it never sees half of it. */
        int rc = planegen_write_atomic(o->ready_file, put_text, text);
        if (rc < 0) {
            PLANE_ERR("cannot write %s: %s", o->ready_file, plane_strerror(rc));
            return rc;
        }
    }
#ifdef PLANEGEN_HAVE_PCAP
    if (o->pcap) {
        s->pcap = pcap_open_dead(DLT_EN10MB, 65535);
        s->dumper = s->pcap ? pcap_dump_open(s->pcap, o->pcap) : NULL;
        if (!s->dumper) {
            PLANE_ERR("cannot write %s: %s", o->pcap, s->pcap ? pcap_geterr(s->pcap) : "?");
            return PLANE_EIO;
        }
    }
#endif
    return 0;
}

static void
sink_close(struct sink_state *s)
{
    for (size_t i = 0; i < s->n_fds; i++)
        close(s->fds[i]);
#ifdef PLANEGEN_HAVE_PCAP
    if (s->dumper)
        pcap_dump_close(s->dumper);
    if (s->pcap)
        pcap_close(s->pcap);
#endif
    plane_free(s->bufs);
}

/* Drains one socket (bounded, so one busy port cannot starve the stop checks). */
static void
sink_drain(struct sink_state *s, int fd)
{
    struct mmsghdr msgs[SINK_BATCH];
    struct iovec iov[SINK_BATCH];
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < SINK_BATCH; i++) {
            iov[i].iov_base = s->bufs[i];
            iov[i].iov_len = SINK_BUF;
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs, SINK_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        uint64_t now = plane_clock_now_ns();
        for (int i = 0; i < n; i++) {
            const uint8_t *frame = NULL;
            size_t flen = 0;
            (void)planegen_acct_datagram(&s->acct, s->bufs[i], msgs[i].msg_len, now, &frame,
                                         &flen);
#ifdef PLANEGEN_HAVE_PCAP
            if (s->dumper && frame) {
                struct pcap_pkthdr ph;
                uint64_t wall = plane_clock_wall_ns();
                ph.ts.tv_sec = (time_t)(wall / PLANE_NS_PER_SEC);
                ph.ts.tv_usec = (suseconds_t)(wall % PLANE_NS_PER_SEC / 1000);
                ph.caplen = ph.len = (bpf_u_int32)flen;
                pcap_dump((u_char *)s->dumper, &ph, frame);
            }
#endif
        }
        if (n < SINK_BATCH)
            return;
    }
}

static void
sink_progress(const struct planegen_acct *a, double elapsed)
{
    fprintf(stderr, "\r\033[K%6.1fs  rx %" PRIu64 "  %.0f pps  lost %" PRIu64 "  dup %" PRIu64
            "  ooo %" PRIu64 "  p99 %.1f us  switch %.1f%%  rewrite err %" PRIu64,
            elapsed, a->unique, planegen_acct_pps(a), planegen_acct_lost(a), a->duplicated,
            a->out_of_order, (double)planegen_hist_percentile(&a->e2e, 99) / 1e3,
            100.0 * share(a->at_switch, a->unique), a->rewrite_errors);
    fflush(stderr);
}

int
planegen_sink_run(const struct planegen_sink_opts *o)
{
    struct sink_state s;
    memset(&s, 0, sizeof(s));
    planegen_acct_init(&s.acct, o->switch_id);
    if (o->sent_set)
        planegen_acct_set_sent(&s.acct, o->sent);
    if (o->promo_set)
        planegen_acct_track_promotion(&s.acct, o->promo_net, o->promo_bits);
    s.bufs = plane_malloc(SINK_BATCH * sizeof(*s.bufs));
    int rc = s.bufs ? sink_open(&s, o) : PLANE_ENOMEM;
    if (rc < 0) {
        sink_close(&s);
        planegen_acct_uninit(&s.acct);
        return rc;
    }
    planegen_catch_stop(on_signal);
    sink_stop = 0;

    bool tty = !o->quiet && isatty(STDERR_FILENO);
    uint64_t start = plane_clock_now_ns(), last_rx = start;
    uint64_t next_progress = start + 500 * PLANE_NS_PER_MS;
    uint64_t last_datagrams = 0;
    struct pollfd pfd[PLANEGEN_SINK_MAX_LISTEN];
    for (size_t i = 0; i < s.n_fds; i++)
        pfd[i] = (struct pollfd){.fd = s.fds[i], .events = POLLIN};
    while (!sink_stop) {
        int n = poll(pfd, s.n_fds, 100);
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        for (size_t i = 0; n > 0 && i < s.n_fds; i++)
            if (pfd[i].revents & POLLIN)
                sink_drain(&s, s.fds[i]);
        uint64_t now = plane_clock_now_ns();
        if (s.acct.datagrams != last_datagrams) {
            last_datagrams = s.acct.datagrams;
            last_rx = now;
        }
        if (o->gen_report && !s.acct.sent_known) {
            uint64_t sent;
            if (read_gen_report(o->gen_report, &sent))
                planegen_acct_set_sent(&s.acct, sent);
        }
        if (s.acct.sent_known && s.acct.unique >= s.acct.sent)
            break;
        if (o->expect && s.acct.unique >= o->expect)
            break;
        if (o->duration_s > 0 && now - start >= (uint64_t)(o->duration_s * 1e9))
            break;
        if (o->idle_s > 0 && now - last_rx >= (uint64_t)(o->idle_s * 1e9))
            break;
        if (tty && now >= next_progress) {
            sink_progress(&s.acct, (double)(now - start) / 1e9);
            next_progress = now + 500 * PLANE_NS_PER_MS;
        }
    }
    /* Whatever is already queued belongs to the run. */
    for (size_t i = 0; i < s.n_fds; i++)
        sink_drain(&s, s.fds[i]);
    if (tty)
        fputs("\r\033[K", stderr);
    if (o->json)
        planegen_acct_print_json(&s.acct, stdout);
    else if (!o->quiet)
        planegen_acct_print_table(&s.acct, stdout);
    fflush(stdout);
    sink_close(&s);
    planegen_acct_uninit(&s.acct);
    return rc < 0 ? rc : 0;
}
