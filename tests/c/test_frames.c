#include <string.h>

#include "check.h"
#include "clock.h"
#include "frames.h"

int main(void)
{
    strobe_frames *t = strobe_frames_new();
    uint32_t a, b, c, d, e, id;
    strobe_frame f;
    char name[64];
    size_t mem_before, i;
    uint64_t t0, t1;

    CHECK(t != NULL);
    CHECK(strobe_frames_intern(t, "f", 1, "a.py", 4, 1, 0, &a) == 0);
    CHECK(strobe_frames_intern(t, "f", 1, "a.py", 4, 1, 0, &b) == 0);
    CHECK(a == 0 && b == 0);
    /* Each part of the key counts. */
    CHECK(strobe_frames_intern(t, "f", 1, "a.py", 4, 2, 0, &c) == 0 && c == 1);
    CHECK(strobe_frames_intern(t, "f", 1, "a.py", 4, 1, 1, &d) == 0 && d == 2);
    CHECK(strobe_frames_intern(t, "fa", 2, ".py", 3, 1, 0, &e) == 0 && e == 3);
    /* NUL inside a name is part of the name. */
    CHECK(strobe_frames_intern(t, "f\0x", 3, "a.py", 4, 1, 0, &id) == 0);
    CHECK(id == 4);
    CHECK(strobe_frames_intern(t, "f\0y", 3, "a.py", 4, 1, 0, &id) == 0);
    CHECK(id == 5);
    CHECK(strobe_frames_get(t, 4, &f) == 0);
    CHECK(f.name_len == 3 && memcmp(f.name, "f\0x", 3) == 0);
    CHECK(f.file_len == 4 && strcmp(f.file, "a.py") == 0);
    CHECK(f.first_line == 1 && f.kind == 0);
    CHECK(strobe_frames_get(t, 6, &f) == -1);
    CHECK(strobe_frames_get(t, UINT32_MAX, &f) == -1);
    /* NULL with length 0 is the empty string. */
    CHECK(strobe_frames_intern(t, "sleep", 5, NULL, 0, 0, 1, &id) == 0);
    CHECK(strobe_frames_get(t, id, &f) == 0 && f.file_len == 0 &&
          f.file[0] == '\0');
    CHECK(strobe_frames_count(t) == 7);

    /* Many frames sharing one long file path keep the path once, and ids
     * survive rehashing. */
    mem_before = strobe_frames_memory(t);
    for (i = 0; i < 100000; i++) {
        int n = snprintf(name, sizeof(name), "function_%zu", i);
        static const char path[] =
            "/home/someone/projects/a/rather/long/path/to/module.py";

        CHECK(strobe_frames_intern(t, name, (size_t)n, path, sizeof(path) - 1,
                                   (int32_t)i, 0, &id) == 0);
        CHECK(id == 7 + i);
    }
    printf("100000 frames: %zu bytes each\n", (strobe_frames_memory(t) - mem_before) / 100000);
    CHECK(strobe_frames_memory(t) - mem_before < 100000 * 160);
    t0 = strobe_clock_wall_ns();
    for (i = 0; i < 100000; i++) {
        int n = snprintf(name, sizeof(name), "function_%zu", i);
        static const char path[] =
            "/home/someone/projects/a/rather/long/path/to/module.py";

        CHECK(strobe_frames_intern(t, name, (size_t)n, path, sizeof(path) - 1,
                                   (int32_t)i, 0, &id) == 0);
        CHECK(id == 7 + i);
    }
    t1 = strobe_clock_wall_ns();
    printf("100000 lookups: %.1f ns each\n", (double)(t1 - t0) / 100000);
    CHECK(strobe_frames_get(t, 7 + 99999, &f) == 0);
    CHECK(strcmp(f.name, "function_99999") == 0 && f.first_line == 99999);
    strobe_frames_free(t);
    strobe_frames_free(NULL);
    CHECK(strobe_clock_thread_cpu_ns() > 0);
    CHECK(strobe_clock_unix_time() > 1e9);
    return 0;
}
