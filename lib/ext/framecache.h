/* Maps the objects seen on the hot path (code objects, C function
 * definitions) to interned frame ids, so a frame's strings are built once, the
 * first time it is seen. Keys are kept alive while they are keys (an address
 * must not be reused by another object while we remember it). */
#ifndef STROBE_FRAMECACHE_H
#define STROBE_FRAMECACHE_H

#include "compat.h"
#include <stdint.h>

enum {
    STROBE_CACHE_OWN = 1, /* stroboscope's own code: never shown */
};

typedef struct strobe_cache_entry {
    const void *k1;  /* code object, or PyMethodDef for C functions */
    const void *k2;  /* NULL, or the type a C method belongs to */
    PyObject *ref1;  /* strong references that keep the keys alive */
    PyObject *ref2;
    uint32_t frame;
    uint32_t flags;
} strobe_cache_entry;

typedef struct strobe_framecache {
    strobe_cache_entry *slots;
    size_t cap; /* power of two */
    size_t used;
} strobe_framecache;

void strobe_cache_init(strobe_framecache *c);
/* Drops every entry and its references. Needs the GIL. */
void strobe_cache_clear(strobe_framecache *c);
/* The entry for (k1, k2), or NULL. */
strobe_cache_entry *strobe_cache_find(strobe_framecache *c, const void *k1,
                                      const void *k2);
/* Adds an entry; steals ref1 and ref2 (even on failure). 0 / -1 (no memory). */
int strobe_cache_add(strobe_framecache *c, const void *k1, const void *k2,
                     PyObject *ref1, PyObject *ref2, uint32_t frame,
                     uint32_t flags);

#endif
