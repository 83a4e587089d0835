#include <string.h>

#include "alloc.h"
#include "render.h"
#include "utf8.h"

/* Beyond this many levels the indent stops growing and the line says its
 * depth instead, so a 50,000-deep tree prints in linear size. */
#define INDENT_CAP 48

#define ANSI_RESET "\x1b[0m"
#define ANSI_BOLD "\x1b[1m"
#define ANSI_DIM "\x1b[2m"
#define ANSI_RED "\x1b[31m"
#define ANSI_GREEN "\x1b[32m"
#define ANSI_YELLOW "\x1b[33m"
#define ANSI_CYAN "\x1b[36m"

typedef struct connectors {
    const char *branch, *last, *pipe, *space, *times;
} connectors;

static const connectors unicode_connectors = {
    "\xe2\x94\x9c\xe2\x94\x80 ", /* ├─ */
    "\xe2\x94\x94\xe2\x94\x80 ", /* └─ */
    "\xe2\x94\x82  ",            /* │ */
    "   ",
    "\xc3\x97", /* × */
};

static const connectors ascii_connectors = {"|- ", "`- ", "|  ", "   ", "x"};

/* Code points that pass UTF-8 validation but can still steer a terminal or
 * hide text: C1 controls (0x9b is a CSI of its own), line separators and the
 * bidirectional overrides. */
static int unsafe_code_point(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Writes s so that nothing in it can act on the terminal: ASCII controls
 * (NUL and ESC included) and bytes that are not valid UTF-8 become \xNN,
 * unsafe code points \uNNNN; valid UTF-8 passes through. A backslash is
 * left alone (Windows paths), so the escaping is for reading, not reversal. */
static void put_escaped(strobe_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    while (i < n) {
        uint32_t cp;
        size_t len;

        if (p[i] >= 0x20 && p[i] < 0x7f) {
            i++;
            continue;
        }
        len = p[i] < 0x80 ? 0 : strobe_utf8_next(p + i, n - i, &cp);
        if (len > 0 && !unsafe_code_point(cp)) {
            i += len;
            continue;
        }
        strobe_buf_append(b, s + run, i - run);
        if (len > 0) {
            strobe_buf_printf(b, "\\u%04x", (unsigned)cp);
            i += len;
        } else {
            strobe_buf_printf(b, "\\x%02x", p[i]);
            i++;
        }
        run = i;
    }
    strobe_buf_append(b, s + run, n - run);
}

static void put_escaped_str(strobe_buf *b, const char *s)
{
    put_escaped(b, s, strlen(s));
}

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void render_header(const strobe_session *s,
                          const strobe_text_options *topt, strobe_buf *b)
{
    double duration = seconds(s->duration_ns);
    double interval_ms = (double)s->interval_ns / 1e6;
    size_t i;

    strobe_buf_puts(b, "stroboscope");
    if (s->target != NULL) {
        strobe_buf_puts(b, "  ");
        put_escaped_str(b, s->target);
    }
    strobe_buf_printf(b, "\nDuration %.3f s   Samples %llu", duration,
                      (unsigned long long)s->sample_count);
    if (duration > 0)
        strobe_buf_printf(b, " (%.0f/s)", (double)s->sample_count / duration);
    if (s->interval_ns >= 1000000)
        strobe_buf_printf(b, "   Interval %.1f ms", interval_ms);
    else if (s->interval_ns > 0)
        strobe_buf_printf(b, "   Interval %.0f %s", interval_ms * 1000,
                          topt->unicode ? "\xc2\xb5s" : "us");
    strobe_buf_printf(b, "   CPU %.3f s", seconds(s->cpu_ns));
    if (duration > 0)
        strobe_buf_printf(b, " (%.0f%%)", 100.0 * seconds(s->cpu_ns) / duration);
    strobe_buf_puts(b, "\n");
    if (s->python_version != NULL || s->mechanism != NULL) {
        if (s->python_version != NULL) {
            strobe_buf_puts(b, "Python ");
            put_escaped_str(b, s->python_version);
        }
        if (s->python_version != NULL && s->mechanism != NULL)
            strobe_buf_puts(b, "   ");
        if (s->mechanism != NULL) {
            strobe_buf_puts(b, "Re-arm: ");
            put_escaped_str(b, s->mechanism);
        }
        strobe_buf_puts(b, "\n");
    }
    for (i = 0; i < s->n_errors; i++) {
        strobe_buf_puts(b, "! ");
        put_escaped_str(b, s->errors[i]);
        strobe_buf_puts(b, "\n");
    }
    strobe_buf_puts(b, "\n");
}

static const char *share_color(double share)
{
    if (share >= 60.0)
        return ANSI_RED;
    if (share >= 30.0)
        return ANSI_YELLOW;
    if (share >= 10.0)
        return ANSI_GREEN;
    return ANSI_CYAN;
}

static uint64_t chosen_total(const strobe_view_node *v, strobe_time_mode mode)
{
    return mode == STROBE_TIME_CPU ? v->total_cpu_ns : v->total_wall_ns;
}

/* Function name, location and markers of one node. */
static void render_label(const strobe_session *s, const strobe_view *view,
                         const strobe_view_node *v,
                         const strobe_view_options *vopt,
                         const strobe_text_options *topt,
                         const connectors *con, strobe_buf *b)
{
    strobe_frame f;
    int known = strobe_frames_get(s->frames, v->frame, &f) == 0;
    int app;

    if (v->hidden_count > 0) {
        const char *names = v->group_names < view->n_names
                                ? view->names[v->group_names]
                                : "";

        if (topt->color)
            strobe_buf_puts(b, ANSI_DIM);
        strobe_buf_printf(b, "[%u frame%s hidden]", (unsigned)v->hidden_count,
                          v->hidden_count == 1 ? "" : "s");
        if (names[0] != '\0') {
            strobe_buf_puts(b, "  ");
            put_escaped_str(b, names);
        }
        /* The entry point tells sibling groups of one library apart. */
        if (known) {
            strobe_buf_puts(b, " (");
            put_escaped(b, f.name, f.name_len);
            strobe_buf_puts(b, ")");
        }
        if (topt->color)
            strobe_buf_puts(b, ANSI_RESET);
        return;
    }
    if (!known) {
        strobe_buf_puts(b, "?");
        return;
    }
    app = f.kind == STROBE_FRAME_PYTHON &&
          !(vopt->frame_flags != NULL && v->frame < vopt->n_flags &&
            (vopt->frame_flags[v->frame] & STROBE_FLAG_LIBRARY));
    if (topt->color && app)
        strobe_buf_puts(b, ANSI_BOLD);
    put_escaped(b, f.name, f.name_len);
    if (topt->color && app)
        strobe_buf_puts(b, ANSI_RESET);
    if (f.file_len > 0) {
        int32_t line = f.first_line ? f.first_line : v->line;

        strobe_buf_puts(b, topt->color ? "  " ANSI_DIM : "  ");
        put_escaped(b, f.file, f.file_len);
        if (line > 0)
            strobe_buf_printf(b, ":%d", (int)line);
        if (topt->color)
            strobe_buf_puts(b, ANSI_RESET);
    }
    if (v->recursion > 1)
        strobe_buf_printf(b, " (recursion %s%u)", con->times,
                          (unsigned)v->recursion);
}

/* "[73% waiting]" after a node that spent at least half its wall time
 * waiting itself, off the CPU (sleeping, blocked on I/O or a lock, waiting
 * for the GIL), so those stand out in the wall-time tree. The share is of
 * the node's own time; its callers, whose time it is part of, are not
 * marked. */
static void render_waiting(const strobe_view_node *v,
                           const strobe_view_options *vopt,
                           const strobe_text_options *topt, strobe_buf *b)
{
    double share;

    if (vopt->time_mode != STROBE_TIME_WALL || v->self_wall_ns == 0 ||
        v->self_cpu_ns >= v->self_wall_ns ||
        2 * (v->self_wall_ns - v->self_cpu_ns) < v->total_wall_ns)
        return;
    share = (double)(v->self_wall_ns - v->self_cpu_ns) / (double)v->self_wall_ns;
    strobe_buf_printf(b, "%s  [%.0f%% waiting]%s", topt->color ? ANSI_DIM : "",
                      share * 100.0, topt->color ? ANSI_RESET : "");
}

/* The view is in pre-order, so one pass over ids prints the tree; each
 * level's indent prefix is kept as a length into one prefix buffer. */
static int render_tree(const strobe_session *s, const strobe_view *view,
                       const strobe_view_options *vopt,
                       const strobe_text_options *topt, strobe_buf *b)
{
    const connectors *con = topt->unicode ? &unicode_connectors
                                          : &ascii_connectors;
    uint64_t root_total = chosen_total(&view->nodes[0], vopt->time_mode);
    size_t prefix_len[INDENT_CAP + 1];
    uint32_t *depth;
    strobe_buf prefix;
    size_t i;
    int rc = -1;

    depth = strobe_malloc(view->count * sizeof(uint32_t));
    if (depth == NULL)
        return -1;
    strobe_buf_init(&prefix);
    prefix_len[0] = 0;
    depth[0] = 0;
    for (i = 1; i < view->count; i++) {
        const strobe_view_node *v = &view->nodes[i];
        size_t level;
        double share;
        int last = v->next_sibling == STROBE_NO_NODE;

        depth[i] = depth[v->parent] + 1;
        level = depth[i] - 1; /* top-level nodes sit at level 0 */
        share = 100.0 * (double)chosen_total(v, vopt->time_mode) /
                (double)root_total;
        if (topt->color)
            strobe_buf_puts(b, share_color(share));
        strobe_buf_printf(b, "%8.3f %6.1f%%",
                          seconds(chosen_total(v, vopt->time_mode)), share);
        strobe_buf_puts(b, topt->color ? ANSI_RESET "  " : "  ");
        if (level > 0) {
            size_t shown = level < INDENT_CAP ? level : INDENT_CAP;

            strobe_buf_append(b, prefix.data, prefix_len[shown - 1]);
            strobe_buf_puts(b, last ? con->last : con->branch);
            if (level > INDENT_CAP)
                strobe_buf_printf(b, "[depth %u] ", (unsigned)depth[i]);
            if (level < INDENT_CAP) {
                const char *bar = last ? con->space : con->pipe;

                prefix.len = prefix_len[level - 1];
                strobe_buf_puts(&prefix, bar);
                prefix_len[level] = prefix.len;
            }
        }
        render_label(s, view, v, vopt, topt, con, b);
        render_waiting(v, vopt, topt, b);
        strobe_buf_puts(b, "\n");
    }
    if (!prefix.failed)
        rc = 0;
    strobe_buf_free(&prefix);
    strobe_free(depth);
    return rc;
}

int strobe_render_text(const strobe_session *s, const strobe_view_options *vopt,
                       const strobe_text_options *topt, strobe_buf *out)
{
    strobe_view view;
    int rc = -1;

    if (strobe_view_build(s, vopt, &view) < 0) {
        out->failed = 1;
        return -1;
    }
    render_header(s, topt, out);
    if (s->sample_count == 0 ||
        chosen_total(&view.nodes[0], vopt->time_mode) == 0)
        strobe_buf_puts(out, "no samples recorded\n");
    else if (render_tree(s, &view, vopt, topt, out) < 0)
        out->failed = 1;
    if (!out->failed)
        rc = 0;
    strobe_view_free(&view);
    return rc;
}
