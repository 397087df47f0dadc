/* Key popularity measured from a packet trace (pcap), for the planner's workload. */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/alloc.h"
#include "common/pkt.h"

#ifdef PLANE_HAVE_PCAP
#include <pcap/pcap.h>

static int
key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct plane_flow_key));
}

static int
count_cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return (x < y) - (x > y);
}

int
plane_trace_popularity(const char *path, uint32_t quanta, double **fractions, size_t *n,
                       uint64_t *keys, char *err, size_t err_len)
{
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, perr);
    if (!p) {
        snprintf(err, err_len, "%s: %s", path, perr);
        return PLANE_EIO;
    }
    if (pcap_datalink(p) != DLT_EN10MB) {
        snprintf(err, err_len, "%s: not an Ethernet trace", path);
        pcap_close(p);
        return PLANE_EIO;
    }
    /* Every packet's key, sorted, gives the per-flow counts as runs: one
     * pass, no hash table, memory linear in the trace. */
    size_t cap = 1 << 16, len = 0;
    struct plane_flow_key *ks = plane_malloc(cap * sizeof *ks);
    int rc = ks ? 0 : PLANE_ENOMEM;
    struct pcap_pkthdr *h;
    const u_char *data;
    while (!rc && pcap_next_ex(p, &h, &data) == 1) {
        struct plane_pkt pkt;
        if (plane_pkt_parse(data, h->caplen, &pkt) || pkt.key.ip_version == 0) {
            continue;
        }
        if (len == cap) {
            struct plane_flow_key *nk = plane_realloc(ks, 2 * cap * sizeof *ks);
            if (!nk) {
                rc = PLANE_ENOMEM;
                break;
            }
            ks = nk;
            cap *= 2;
        }
        ks[len++] = pkt.key;
    }
    pcap_close(p);
    if (!rc && len == 0) {
        snprintf(err, err_len, "%s: no IP packet", path);
        rc = PLANE_ENOENT;
    }
    uint64_t *counts = rc ? NULL : plane_malloc(len * sizeof *counts);
    if (!rc && !counts) {
        rc = PLANE_ENOMEM;
    }
    size_t flows = 0;
    if (!rc) {
        qsort(ks, len, sizeof *ks, key_cmp);
        for (size_t i = 0; i < len;) {
            size_t j = i + 1;
            while (j < len && !key_cmp(&ks[i], &ks[j])) {
                j++;
            }
            counts[flows++] = j - i;
            i = j;
        }
        qsort(counts, flows, sizeof *counts, count_cmp_desc);
    }
    plane_free(ks);
    if (rc) {
        plane_free(counts);
        return rc;
    }
    size_t q = quanta < 1 ? 1 : quanta;
    q = q > flows ? flows : q;
    double *fr = plane_calloc(q, sizeof *fr);
    if (!fr) {
        plane_free(counts);
        return PLANE_ENOMEM;
    }
    for (size_t i = 0; i < q; i++) {
        size_t lo = i * flows / q, hi = (i + 1) * flows / q;
        uint64_t sum = 0;
        for (size_t r = lo; r < hi; r++) {
            sum += counts[r];
        }
        fr[i] = (double) sum / (double) len;
    }
    plane_free(counts);
    *fractions = fr;
    *n = q;
    *keys = flows;
    return 0;
}

#else

int
plane_trace_popularity(const char *path, uint32_t quanta, double **fractions, size_t *n,
                       uint64_t *keys, char *err, size_t err_len)
{
    (void) quanta;
    (void) fractions;
    (void) n;
    (void) keys;
    snprintf(err, err_len, "%s: this build has no libpcap", path);
    return PLANE_ENOTSUP;
}

#endif
