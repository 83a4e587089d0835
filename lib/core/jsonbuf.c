#include "jsonbuf.h"

#include <stdint.h>

#include "alloc.h"

static int append_cb(const char *buffer, size_t size, void *data)
{
    return strobe_buf_append(data, buffer, size);
}

int strobe_json_dump(json_t *v, size_t flags, strobe_buf *out)
{
    int rc;

    if (v == NULL)
        return -1;
    rc = json_dump_callback(v, append_cb, out, flags);
    json_decref(v);
    return rc;
}

json_t *strobe_json_hex(const char *s, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *hex;
    json_t *v;
    size_t i;

    if (n > (SIZE_MAX - 1) / 2)
        return NULL;
    hex = strobe_malloc(2 * n + 1);
    if (hex == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[(unsigned char)s[i] >> 4];
        hex[2 * i + 1] = digits[(unsigned char)s[i] & 15];
    }
    v = json_stringn(hex, 2 * n);
    strobe_free(hex);
    return v;
}
