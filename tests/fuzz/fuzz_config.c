/* Fuzz target: the rack configuration loader on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /*
     * A name without a directory keeps relative paths (auth_key_file) inside
     * the working directory; the loader must survive whatever they point at.
     */
    struct plane_config *cfg = NULL;
    char err[256];
    if (plane_config_load_buf("fuzz.yaml", (const char *)data, size, &cfg, err,
                              sizeof err) == 0) {
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            plane_config_dump(cfg, devnull);
            fclose(devnull);
        }
    }
    plane_config_delete(cfg);
    return 0;
}
