#include "jsonbuf.h"

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
