/* Renderers: a session (through a view) to text or JSON. */
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

#endif
