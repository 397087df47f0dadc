/* The one allocation wrapper: jemalloc in production, libc under sanitizers. */
#pragma once

#include <stddef.h>

/*
 * All heap memory in Plane goes through these.  They never abort: callers
 * check for NULL and return PLANE_ENOMEM.  plane_free(NULL) is a no-op.
 * Per-packet paths must not call them; they take buffers from pools.
 */
void *plane_malloc(size_t size);
void *plane_calloc(size_t n, size_t size);
void *plane_realloc(void *ptr, size_t size);
void plane_free(void *ptr);
/* Returns a copy of s that the caller frees with plane_free(), or NULL. */
char *plane_strdup(const char *s);
/* Returns a NUL-terminated copy of the first n bytes of s, or NULL. */
char *plane_strndup(const char *s, size_t n);
/* Allocates size bytes aligned to align (a power of two, >= sizeof(void *)). */
void *plane_aligned_alloc(size_t align, size_t size);
