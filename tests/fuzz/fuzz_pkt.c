/* Fuzz target: the packet parser on arbitrary frames, with invariants on what it returns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <plane/error.h>
#include <plane/flow.h>

#include "common/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly-sized heap copy, so ASan flags any read past the end. */
    uint8_t *frame = malloc(size ? size : 1);
    struct plane_pkt p;
    char buf[PLANE_FLOW_KEY_STRLEN];

    if (!frame) {
        return 0;
    }
    memcpy(frame, data, size);
    int err = plane_pkt_parse(frame, size, &p);
    if (err == 0) {
        if (p.l3_off > p.l4_off || p.l4_off > p.payload_off
            || (size_t) p.payload_off + p.payload_len > size
            || (size_t) p.l3_off + p.l3_len > size
            || (size_t) p.payload_off + p.payload_len
                   > (size_t) p.l3_off + p.l3_len
            || (p.ip_version != 4 && p.ip_version != 6)
            || p.key.ip_version != p.ip_version || p.key.pad[0] || p.key.pad[1]) {
            abort();
        }
        plane_flow_key_format(&p.key, buf, sizeof buf);
        if (strlen(buf) >= sizeof buf - 1) {
            abort();            /* PLANE_FLOW_KEY_STRLEN must always suffice */
        }
        /* The rewrite helpers must stay in bounds on whatever parsed. */
        static const uint8_t a[4] = { 192, 0, 2, 1 };
        plane_pkt_set_ipv4_src(frame, &p, a);
        plane_pkt_set_l4_dport(frame, &p, 4242);
        plane_pkt_recompute_csums(frame, &p);
    } else if (err != PLANE_ETRUNC && err != PLANE_EBADMSG
               && err != PLANE_EUNSUPP) {
        abort();
    }
    free(frame);
    return 0;
}
