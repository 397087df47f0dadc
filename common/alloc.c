/* Allocation wrapper over the process allocator (jemalloc when linked). */
#include "common/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Debian's libjemalloc exports the standard malloc family, so linking it
 * (PLANE_JEMALLOC) makes these calls jemalloc's; the sanitizer builds leave
 * it out so ASan keeps ownership of the heap.  Keeping one wrapper means the
 * choice is made in the build, not in every caller.
 */

void *
plane_malloc(size_t size)
{
    return malloc(size ? size : 1);
}

void *
plane_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0) {
        n = size = 1;
    }
    return calloc(n, size);
}

void *
plane_realloc(void *ptr, size_t size)
{
    return realloc(ptr, size ? size : 1);
}

void
plane_free(void *ptr)
{
    free(ptr);
}

char *
plane_strdup(const char *s)
{
    return plane_strndup(s, strlen(s));
}

char *
plane_strndup(const char *s, size_t n)
{
    char *p = plane_malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void *
plane_aligned_alloc(size_t align, size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, align, size ? size : 1) != 0) {
        return NULL;
    }
    return p;
}
