/* Allocation for the core. Everything in lib/core allocates through these
 * wrappers so that a test can fail the Nth allocation and check that every
 * path returns -1 without crashing or leaking (see tests/c/test_chaos.c). */
#ifndef STROBE_ALLOC_H
#define STROBE_ALLOC_H

#include <stddef.h>

void *strobe_malloc(size_t n);
void *strobe_calloc(size_t n, size_t size);
void *strobe_realloc(void *p, size_t n);
void strobe_free(void *p);
/* Copies n bytes and adds a NUL. */
char *strobe_memdup0(const char *s, size_t n);

/* Makes room for `need` elements of `size` bytes in *array (capacity *cap),
 * growing geometrically. 0, or -1 on overflow or allocation failure (the
 * array is then unchanged). */
int strobe_array_reserve(void *array, size_t *cap, size_t need, size_t size);

/* Test hook, not thread-safe: the nth allocation from now fails (1 = the
 * next one); 0 turns failures off. */
void strobe_alloc_fail_at(unsigned long n);
/* Allocations attempted since the last strobe_alloc_fail_at. */
unsigned long strobe_alloc_count(void);

#endif
