/* Hash helpers shared by the frame table, the call tree and the views
 * (private to lib/core). */
#ifndef STROBE_HASH_H
#define STROBE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define STROBE_FNV_OFFSET 0xcbf29ce484222325ULL

/* FNV-1a: short keys (function names, paths) and no setup cost. */
static inline uint64_t strobe_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64 finaliser: integer keys such as (parent, frame) are dense and
 * would cluster in an open-addressing table without mixing. */
static inline uint64_t strobe_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

#endif
