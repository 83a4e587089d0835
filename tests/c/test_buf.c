#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "check.h"

int main(void)
{
    strobe_buf b;
    char big[5000];
    char *s;
    size_t len;
    int i;

    strobe_buf_init(&b);
    s = strobe_buf_steal(&b, &len);
    CHECK(s != NULL && len == 0 && s[0] == '\0');
    strobe_free(s);

    CHECK(strobe_buf_append(&b, "a\0b", 3) == 0);
    CHECK(b.len == 3 && memcmp(b.data, "a\0b", 4) == 0);
    CHECK(strobe_buf_puts(&b, "cd") == 0);
    for (i = 0; i < 1000; i++)
        CHECK(strobe_buf_printf(&b, "%d,", i) == 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(strobe_buf_printf(&b, "[%s]", big) == 0);
    CHECK(b.data[b.len] == '\0');
    CHECK(b.len == 5 + 3890 + 5001);
    CHECK(memcmp(b.data + 5, "0,1,2,", 6) == 0);
    s = strobe_buf_steal(&b, &len);
    CHECK(len == 5 + 3890 + 5001 && s[len - 1] == ']');
    CHECK(b.data == NULL && b.len == 0);
    strobe_free(s);

    /* A failure sticks: later appends do nothing, steal gives NULL. */
    strobe_buf_init(&b);
    strobe_alloc_fail_at(1);
    CHECK(strobe_buf_puts(&b, "x") == -1 && b.failed);
    strobe_alloc_fail_at(0);
    CHECK(strobe_buf_puts(&b, "y") == -1);
    CHECK(strobe_buf_printf(&b, "%d", 1) == -1);
    CHECK(strobe_buf_steal(&b, &len) == NULL && len == 0);
    CHECK(b.failed == 0);
    strobe_buf_free(&b);
    return 0;
}
