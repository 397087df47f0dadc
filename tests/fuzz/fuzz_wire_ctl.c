/* Fuzz target: the CONTROL envelope decoder, then every body decoder with a zone. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <plane/error.h>

#include "common/mp.h"
#include "common/wire.h"
#include "common/wire_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct plane_mp_zone z;
    struct plane_wire_ctl c;
    union plane_body out;

    if (plane_mp_zone_init(&z, 0) != 0) {
        return 0;
    }
    /* The input as a whole datagram without its MAC ... */
    if (plane_wire_ctl_decode(data, size, &c) == 0) {
        if (c.body + c.body_len != data + size) {
            abort();
        }
        (void)plane_wire_body_decode_any(c.msg_type, c.kind == PLANE_CTL_RESPONSE,
                                         c.body, c.body_len, &z, &out);
        plane_mp_zone_clear(&z);
    }
    /* ... and as a bare body of every message type, both directions, so the
     * body decoders see the fuzzer's bytes directly. */
    for (int t = 1; t <= PLANE_MSG_APP_DEPLOY; t++) {
        for (int resp = 0; resp <= 1; resp++) {
            int rc = plane_wire_body_decode_any(t, resp, data, size, &z, &out);
            if (rc > 0) {
                abort();
            }
            plane_mp_zone_clear(&z);
        }
    }
    plane_mp_zone_uninit(&z);
    return 0;
}
