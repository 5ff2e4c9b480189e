/* SPDX-License-Identifier: MIT
 * alloc.h - allocation that aborts on OOM (like Redis zmalloc): error paths are kept for failures
 * that input or the network can cause, not for the allocator.
 */
#ifndef COJAM_ALLOC_H
#define COJAM_ALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every allocation goes through here: NULL means out of memory, which we do not survive. */
static inline void *alloc_checked(void *p)
{
    if (!p) {
        fputs("cojamd: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* Size 0 asks for 1 byte, so a successful call never returns NULL. */
static inline void *xmalloc(size_t n)
{
    return alloc_checked(malloc(n ? n : 1));
}

static inline void *xcalloc(size_t n, size_t size)
{
    return alloc_checked(calloc(n ? n : 1, size ? size : 1));
}

static inline void *xrealloc(void *p, size_t n)
{
    return alloc_checked(realloc(p, n ? n : 1));
}

static inline char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* A new copy of the 'n' bytes at 'p' with a NUL after them: binary payloads stay whole (they may
 * hold NULs) and can still be read as strings. */
static inline char *xmemdup(const void *p, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

#endif
