/* switchd: placeholder main until the daemons issue wires the engines to the loop. */
#include <stdio.h>
#include <string.h>

#include <plane/version.h>

int
main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("switchd %s\n", plane_version_string());
        return 0;
    }
    fprintf(stderr, "switchd: not implemented yet (see the daemons issue)\n");
    return 1;
}
