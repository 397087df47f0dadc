/* Fuzz target: plane_wire_peek and the DATA header decoder on arbitrary datagrams. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <plane/error.h>

#include "common/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum plane_wire_class cls;
    struct plane_wire_data d;
    int prc = plane_wire_peek(data, size, &cls);
    int rc = plane_wire_data_decode(data, size, &d);
    if (rc == 0) {
        /* A decoded header must have been peeked as DATA, and its frame must
         * be the tail of the input. */
        if (prc != 0 || cls != PLANE_WIRE_DATA || d.frame < data
            || d.frame + d.frame_len != data + size) {
            abort();
        }
        /* Re-encoding gives a datagram that decodes to the same header. */
        static uint8_t buf[PLANE_WIRE_MAX_DATAGRAM];
        struct plane_wire_data d2;
        int n = plane_wire_data_encode(&d, buf, sizeof buf);
        if (n > 0) {
            if (plane_wire_data_decode(buf, (size_t)n, &d2) != 0
                || d2.app_id != d.app_id || d2.key_hash != d.key_hash
                || d2.flags != d.flags || d2.frame_len != d.frame_len
                || memcmp(d2.frame, d.frame, d.frame_len) != 0) {
                abort();
            }
        }
    }
    return 0;
}
