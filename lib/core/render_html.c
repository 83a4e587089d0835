/* The HTML report: the page from report_templates/ (embedded at build time
 * by embed.py as report_page.h) around one payload, the session file plus
 * what the page needs to build the same view as the text report. Every byte
 * from the profiled program reaches the page inside that JSON, escaped for a
 * script block; the page's script inserts names as text only. */
#include <string.h>

#include "render.h"
#include "report_page.h"
#include "session_file.h"

/* Appends JSON text escaped for a <script type="application/json"> block:
 * '<', '>' and '&' (no "</script", no "<!--") and U+2028/U+2029 become JSON
 * escapes. They only occur inside JSON strings, so the text stays the same
 * JSON value. */
static void append_script_safe(strobe_buf *out, const char *s, size_t n)
{
    size_t i, run = 0;

    for (i = 0; i < n; i++) {
        const char *esc = NULL;
        size_t skip = 1;

        switch ((unsigned char)s[i]) {
        case '<': esc = "\\u003c"; break;
        case '>': esc = "\\u003e"; break;
        case '&': esc = "\\u0026"; break;
        case 0xe2:
            if (i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
                esc = (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
                skip = 3;
            }
            break;
        default: break;
        }
        if (esc == NULL)
            continue;
        strobe_buf_append(out, s + run, i - run);
        strobe_buf_puts(out, esc);
        i += skip - 1;
        run = i + 1;
    }
    strobe_buf_append(out, s + run, n - run);
}

int strobe_render_html(const strobe_session *s, const strobe_html_options *hopt,
                       strobe_buf *out)
{
    strobe_buf part;
    size_t i, n_frames = strobe_frames_count(s->frames);
    int rc = -1;

    strobe_buf_init(&part);
    strobe_buf_append(out, (const char *)strobe_page_head, STROBE_PAGE_HEAD_LEN);

    strobe_buf_puts(&part, "{\"format\":\"stroboscope-report\",\"version\":1,\"library\":\"");
    for (i = 0; i < n_frames; i++) {
        int lib = i < hopt->n_library && (hopt->library[i] & STROBE_FLAG_LIBRARY);

        strobe_buf_append(&part, lib ? "1" : "0", 1);
    }
    strobe_buf_puts(&part, "\",\"options\":");
    strobe_buf_puts(&part, hopt->options_json ? hopt->options_json : "{}");
    strobe_buf_puts(&part, ",\"session\":");
    if (strobe_session_save(s, &part) < 0)
        goto done;
    /* the session file ends with a newline */
    if (part.len > 0 && part.data[part.len - 1] == '\n')
        part.len--;
    strobe_buf_puts(&part, "}");
    if (part.failed)
        goto done;
    append_script_safe(out, part.data, part.len);
    strobe_buf_append(out, (const char *)strobe_page_tail, STROBE_PAGE_TAIL_LEN);
    rc = out->failed ? -1 : 0;
done:
    strobe_buf_free(&part);
    if (rc < 0)
        out->failed = 1;
    return rc;
}
