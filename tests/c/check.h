/* Shared by the C unit tests: a CHECK that stays on in release builds, and
 * helpers that build sessions by hand. */
#ifndef STROBE_TEST_CHECK_H
#define STROBE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            abort();                                                         \
        }                                                                    \
    } while (0)

static inline uint32_t test_frame(strobe_session *s, const char *name,
                                  const char *file, int line, int kind)
{
    uint32_t id;

    CHECK(strobe_frames_intern(s->frames, name, strlen(name), file,
                               strlen(file), line, (uint8_t)kind, &id) == 0);
    return id;
}

/* One sample of `wall` ms wall time and `cpu` ms CPU time. */
static inline void test_sample(strobe_session *s, const uint32_t *frames,
                               size_t depth, unsigned wall_ms, unsigned cpu_ms)
{
    CHECK(strobe_tree_add_sample(s->tree, frames, NULL, depth,
                                 wall_ms * 1000000ull, cpu_ms * 1000000ull,
                                 NULL) == 0);
    s->sample_count++;
    s->duration_ns += wall_ms * 1000000ull;
    s->cpu_ns += cpu_ms * 1000000ull;
}

/* Occurrences of needle in haystack. By hand: ASan's strstr measures the
 * whole haystack on every call, which makes a counting loop quadratic. */
static inline size_t test_count(const char *haystack, const char *needle)
{
    size_t n = 0, i, len = strlen(haystack), nlen = strlen(needle);

    for (i = 0; nlen > 0 && i + nlen <= len; i++) {
        if (memcmp(haystack + i, needle, nlen) == 0) {
            n++;
            i += nlen - 1;
        }
    }
    return n;
}

#endif
