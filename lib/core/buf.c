#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

void strobe_buf_init(strobe_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void strobe_buf_free(strobe_buf *b)
{
    strobe_free(b->data);
    strobe_buf_init(b);
}

/* Room for `extra` more bytes plus the terminating NUL. */
static int reserve(strobe_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra >= SIZE_MAX - b->len ||
        strobe_array_reserve(&b->data, &b->cap, b->len + extra + 1, 1) < 0) {
        b->failed = 1;
        return -1;
    }
    return 0;
}

int strobe_buf_append(strobe_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int strobe_buf_puts(strobe_buf *b, const char *s)
{
    return strobe_buf_append(b, s, strlen(s));
}

int strobe_buf_printf(strobe_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return -1;
    /* Most lines fit in what is left, so format in place first. */
    va_start(ap, fmt);
    n = vsnprintf(b->data ? b->data + b->len : NULL,
                  b->data ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if (b->data != NULL && (size_t)n < b->cap - b->len) {
        b->len += (size_t)n;
        return 0;
    }
    if (reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *strobe_buf_steal(strobe_buf *b, size_t *len)
{
    char *data;

    if (b->failed) {
        strobe_buf_free(b);
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    /* An empty buffer still hands out a string the caller can free. */
    if (b->data == NULL && reserve(b, 0) < 0) {
        strobe_buf_free(b);
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    b->data[b->len] = '\0';
    data = b->data;
    if (len != NULL)
        *len = b->len;
    strobe_buf_init(b);
    return data;
}
