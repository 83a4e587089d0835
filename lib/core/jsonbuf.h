/* Writing jansson values into a strobe_buf, piece by piece: big documents
 * (the JSON report, the session file) are written row by row, so a large
 * tree never exists as jansson objects all at once. */
#ifndef STROBE_JSONBUF_H
#define STROBE_JSONBUF_H

#include <jansson.h>

#include "buf.h"

/* Dumps v with jansson's flags into out and drops it (steals v, also when v
 * is NULL, which fails). 0 / -1. */
int strobe_json_dump(json_t *v, size_t flags, strobe_buf *out);

/* The bytes as a JSON string of lowercase hex, two digits a byte (for bytes
 * that are not UTF-8). New reference, or NULL when memory ran out. */
json_t *strobe_json_hex(const char *s, size_t n);

#endif
