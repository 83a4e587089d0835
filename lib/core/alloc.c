#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Plain globals: the hook is for single-threaded tests only, and the counter
 * costs nothing next to a malloc call. */
static unsigned long fail_at;
static unsigned long alloc_count;

static int should_fail(void)
{
    alloc_count++;
    return fail_at != 0 && alloc_count == fail_at;
}

void strobe_alloc_fail_at(unsigned long n)
{
    fail_at = n;
    alloc_count = 0;
}

unsigned long strobe_alloc_count(void)
{
    return alloc_count;
}

void *strobe_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *strobe_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *strobe_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void strobe_free(void *p)
{
    free(p);
}

char *strobe_memdup0(const char *s, size_t n)
{
    char *copy;

    if (n == SIZE_MAX)
        return NULL;
    copy = strobe_malloc(n + 1);
    if (copy == NULL)
        return NULL;
    if (n > 0)
        memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

int strobe_array_reserve(void *array, size_t *cap, size_t need, size_t size)
{
    void **slot = array;
    size_t new_cap;
    void *grown;

    if (need <= *cap)
        return 0;
    new_cap = *cap ? *cap : 16;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2)
            return -1;
        new_cap *= 2;
    }
    if (new_cap > SIZE_MAX / size)
        return -1;
    grown = strobe_realloc(*slot, new_cap * size);
    if (grown == NULL)
        return -1;
    *slot = grown;
    *cap = new_cap;
    return 0;
}
