#include "framecache.h"

#include <stdlib.h>

static size_t
hash_pair(const void *k1, const void *k2)
{
    uint64_t h = (uint64_t)(uintptr_t)k1 * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uintptr_t)k2 + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    return (size_t)(h ^ (h >> 29));
}

void
strobe_cache_init(strobe_framecache *c)
{
    c->slots = NULL;
    c->cap = 0;
    c->used = 0;
}

void
strobe_cache_clear(strobe_framecache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        Py_XDECREF(c->slots[i].ref1);
        Py_XDECREF(c->slots[i].ref2);
    }
    free(c->slots);
    strobe_cache_init(c);
}

strobe_cache_entry *
strobe_cache_find(strobe_framecache *c, const void *k1, const void *k2)
{
    if (c->cap == 0) {
        return NULL;
    }
    size_t mask = c->cap - 1;
    for (size_t i = hash_pair(k1, k2) & mask;; i = (i + 1) & mask) {
        strobe_cache_entry *e = &c->slots[i];
        if (e->k1 == NULL) {
            return NULL;
        }
        if (e->k1 == k1 && e->k2 == k2) {
            return e;
        }
    }
}

static int
grow(strobe_framecache *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 256;
    strobe_cache_entry *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL) {
        return -1;
    }
    for (size_t i = 0; i < c->cap; i++) {
        strobe_cache_entry *e = &c->slots[i];
        if (e->k1 == NULL) {
            continue;
        }
        size_t j = hash_pair(e->k1, e->k2) & (ncap - 1);
        while (ns[j].k1 != NULL) {
            j = (j + 1) & (ncap - 1);
        }
        ns[j] = *e;
    }
    free(c->slots);
    c->slots = ns;
    c->cap = ncap;
    return 0;
}

int
strobe_cache_add(strobe_framecache *c, const void *k1, const void *k2,
                 PyObject *ref1, PyObject *ref2, uint32_t frame, uint32_t flags)
{
    /* Keep the load under one half so probes stay short. */
    if ((c->used + 1) * 2 > c->cap && grow(c) < 0) {
        Py_XDECREF(ref1);
        Py_XDECREF(ref2);
        return -1;
    }
    size_t mask = c->cap - 1;
    size_t i = hash_pair(k1, k2) & mask;
    while (c->slots[i].k1 != NULL) {
        i = (i + 1) & mask;
    }
    c->slots[i] = (strobe_cache_entry){k1, k2, ref1, ref2, frame, flags};
    c->used++;
    return 0;
}
