/* The session file: a session saved as versioned JSON and loaded back with
 * strict validation (docs/session-format.md). A loaded session renders
 * byte for byte as the one that was saved. */
#ifndef STROBE_SESSION_FILE_H
#define STROBE_SESSION_FILE_H

#include <stddef.h>

#include "buf.h"
#include "session.h"

#define STROBE_SESSION_FORMAT "stroboscope-session"
#define STROBE_SESSION_VERSION 1
/* Larger inputs are refused before parsing: jansson's tree of a session
 * file takes about 10 to 20 times the bytes of the file. */
#define STROBE_SESSION_MAX_BYTES ((size_t)256 << 20)

/* Where loading failed: `field` is a path into the document such as
 * "nodes[3][0]" or "meta.duration_ns" ("" for the document as a whole, e.g.
 * a JSON syntax error), `message` says what is wrong with it. Both are
 * NUL-terminated, printable ASCII plus whatever UTF-8 jansson's message
 * quotes. */
typedef struct strobe_load_error {
    char field[128];
    char message[256];
} strobe_load_error;

/* Appends the session as one JSON document (one line and a newline) to out.
 * 0, or -1 (out->failed set) when memory ran out or the session holds what
 * the format cannot carry: a count or time above 2^63 - 1, a start_time that
 * is negative or not finite, a frame kind out of range, more than
 * STROBE_SESSION_MAX_LIST errors or library prefixes, or a timeline whose
 * stride is not a power of two. */
int strobe_session_save(const strobe_session *s, strobe_buf *out);

/* Parses and checks len bytes (no NUL needed) into a new session in *out.
 * 0, or -1 with *out NULL and err (may be NULL) saying which field is wrong
 * and why; nothing leaks either way. */
int strobe_session_load(const char *data, size_t len, strobe_session **out,
                        strobe_load_error *err);

#endif
