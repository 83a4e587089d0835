/* Renderers: a session (through a view) to text, JSON or HTML. */
#ifndef STROBE_RENDER_H
#define STROBE_RENDER_H

#include "buf.h"
#include "session.h"
#include "view.h"

typedef struct strobe_text_options {
    int unicode; /* box-drawing characters instead of ASCII */
    int color;   /* ANSI colours */
} strobe_text_options;

/* The text report: a header, then the view's call tree. 0 / -1. */
int strobe_render_text(const strobe_session *s, const strobe_view_options *vopt,
                       const strobe_text_options *topt, strobe_buf *out);
/* The JSON report (schema in docs/json-format.md). 0 / -1. */
int strobe_render_json(const strobe_session *s, const strobe_view_options *vopt,
                       strobe_buf *out);

/* What the HTML page needs besides the session: which frames are library
 * code (one flag byte per frame, as in strobe_view_options.frame_flags; only
 * STROBE_FLAG_LIBRARY is read: the page applies hide/show patterns itself)
 * and the view options as a JSON object (docs/html-report.md). */
typedef struct strobe_html_options {
    const uint8_t *library;
    size_t n_library;
    const char *options_json; /* NULL: {}; written as given, so it must be
                                 a JSON object (the Python layer makes it) */
} strobe_html_options;

/* The self-contained HTML report (report_templates/ around the payload).
 * 0 / -1 when memory ran out. */
int strobe_render_html(const strobe_session *s, const strobe_html_options *hopt,
                       strobe_buf *out);

#endif
