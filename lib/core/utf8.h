/* UTF-8 validation for the renderers (private to lib/core). Names reach us
 * as raw bytes: lone surrogates in their surrogatepass form (ED A0 80..),
 * overlong forms and stray bytes are all invalid here. */
#ifndef STROBE_UTF8_H
#define STROBE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length (1 to 4) of the valid UTF-8 sequence at p, with its code point
 * in *cp, or 0 when the byte at p does not start one. */
static inline size_t strobe_utf8_next(const unsigned char *p, size_t n,
                                      uint32_t *cp)
{
    unsigned char c = p[0];
    size_t len, i;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        v = c & 0x1fu;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        v = c & 0x0fu;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        v = c & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

#endif
