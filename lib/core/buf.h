/* strobe_buf: a growable byte buffer that renderers write into.
 * An allocation failure sets `failed`; later appends are no-ops, so a renderer
 * can write freely and check once at the end. */
#ifndef STROBE_BUF_H
#define STROBE_BUF_H

#include <stddef.h>

typedef struct strobe_buf {
    char *data; /* always NUL-terminated when len > 0 and !failed */
    size_t len;
    size_t cap;
    int failed;
} strobe_buf;

void strobe_buf_init(strobe_buf *b);
void strobe_buf_free(strobe_buf *b);
/* All return 0, or -1 (and set b->failed) when memory ran out. */
int strobe_buf_append(strobe_buf *b, const char *s, size_t n);
int strobe_buf_puts(strobe_buf *b, const char *s);
int strobe_buf_printf(strobe_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the bytes to the caller (who frees them with strobe_free) and resets
 * b; an empty buffer gives "". NULL (and b freed) if the buffer failed. */
char *strobe_buf_steal(strobe_buf *b, size_t *len);

#endif
