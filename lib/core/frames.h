/* The frame table: every distinct code location seen is interned once and
 * named by a dense id. Names and files are arbitrary bytes (they may hold NUL,
 * control characters, or the surrogatepass UTF-8 of lone surrogates); the
 * renderers escape them. */
#ifndef STROBE_FRAMES_H
#define STROBE_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#define STROBE_NO_FRAME UINT32_MAX

typedef enum strobe_frame_kind {
    STROBE_FRAME_PYTHON = 0, /* a Python function, module or class body */
    STROBE_FRAME_C = 1,      /* a C function (builtin), seen on c_call/c_return */
    STROBE_FRAME_SYNTHETIC = 2, /* a label such as a thread root or [await] */
} strobe_frame_kind;

typedef struct strobe_frame {
    const char *name; /* qualified name, e.g. "Parser.parse" or "time.sleep" */
    size_t name_len;
    const char *file; /* file path, "" for C functions */
    size_t file_len;
    int32_t first_line; /* 0 when unknown */
    uint8_t kind;       /* strobe_frame_kind */
} strobe_frame;

typedef struct strobe_frames strobe_frames;

strobe_frames *strobe_frames_new(void);
void strobe_frames_free(strobe_frames *t);
/* Returns the id of (name, file, first_line, kind), adding it if new.
 * 0 on success, -1 on allocation failure. */
int strobe_frames_intern(strobe_frames *t, const char *name, size_t name_len,
                         const char *file, size_t file_len, int32_t first_line,
                         uint8_t kind, uint32_t *id_out);
size_t strobe_frames_count(const strobe_frames *t);
/* Pointers stay valid until strobe_frames_free. -1 if id is out of range. */
int strobe_frames_get(const strobe_frames *t, uint32_t id, strobe_frame *out);
/* Bytes held by the table, strings included. */
size_t strobe_frames_memory(const strobe_frames *t);

#endif
