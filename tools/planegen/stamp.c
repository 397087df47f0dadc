/* Encoding and decoding of planegen's per-packet stamp (flow, sequence, send time). */
#include "stamp.h"

#include <plane/error.h>

void
planegen_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t
planegen_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void
planegen_stamp_encode(const struct planegen_stamp *s, uint8_t *buf)
{
    planegen_put_be64(buf + 0, s->flow);
    planegen_put_be64(buf + 8, s->seq);
    planegen_put_be64(buf + 16, s->app_word);
    planegen_put_be64(buf + 24, s->send_ns);
    planegen_put_be64(buf + 32, PLANEGEN_STAMP_MAGIC);
}

int
planegen_stamp_decode(const uint8_t *buf, size_t len, struct planegen_stamp *s)
{
    if (!buf || len < PLANEGEN_STAMP_LEN)
        return PLANE_ETRUNC;
    if (planegen_get_be64(buf + 32) != PLANEGEN_STAMP_MAGIC)
        return PLANE_EBADMSG;
    s->flow = planegen_get_be64(buf + 0);
    s->seq = planegen_get_be64(buf + 8);
    s->app_word = planegen_get_be64(buf + 16);
    s->send_ns = planegen_get_be64(buf + 24);
    return 0;
}
