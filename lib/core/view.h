/* Views: what a renderer shows of a session. The caller (the Python layer,
 * which knows sys.prefix, globs and regexes) gives one flag byte per frame;
 * the view folds hidden frames into groups, collapses direct recursion and
 * applies the threshold. Text and HTML use the same view, so they always agree
 * on what is visible. */
#ifndef STROBE_VIEW_H
#define STROBE_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

enum {
    STROBE_FLAG_LIBRARY = 1, /* frame is library code (stdlib, site-packages) */
    STROBE_FLAG_HIDE = 2,    /* the user asked to hide it (--hide / --hide-regex) */
    STROBE_FLAG_SHOW = 4,    /* the user asked to show it (--show / --show-regex) */
    STROBE_FLAG_FOCUS = 8,   /* with strobe_view_options.focus: a top-level
                                node (a thread's root) to keep (--thread) */
};

typedef enum strobe_time_mode {
    STROBE_TIME_WALL = 0,
    STROBE_TIME_CPU = 1,
} strobe_time_mode;

typedef struct strobe_view_options {
    const uint8_t *frame_flags; /* one byte per frame id; may be NULL */
    size_t n_flags;             /* frames with id >= n_flags have flags 0 */
    double threshold;           /* fraction of the root total, e.g. 0.01 */
    int show_all;               /* no grouping of hidden frames, no threshold */
    int collapse_recursion;     /* fold runs of direct recursion */
    int focus;                  /* keep only the top-level nodes whose frame
                                   has STROBE_FLAG_FOCUS, and their subtrees */
    strobe_time_mode time_mode; /* what sorts and what the threshold measures */
} strobe_view_options;

#define STROBE_NO_NAME UINT32_MAX

/* A node of the view tree. A group node (hidden_count > 0) stands for a run of
 * hidden frames; `frame` is then the first of them. */
typedef struct strobe_view_node {
    uint32_t parent;
    uint32_t frame;
    int32_t line;
    uint32_t hidden_count;   /* > 0: "[N frames hidden]" */
    uint32_t recursion;      /* > 1: this node folds N levels of direct recursion */
    uint64_t total_wall_ns, self_wall_ns;
    uint64_t total_cpu_ns, self_cpu_ns;
    uint64_t total_samples;
    uint32_t first_child;    /* children sorted by the chosen time, largest first */
    uint32_t next_sibling;
    uint32_t group_names;    /* index into strobe_view.names for a group's
                                label; STROBE_NO_NAME for other nodes */
} strobe_view_node;

typedef struct strobe_view {
    strobe_view_node *nodes; /* nodes[0] is the root; ids are dense, in
                                pre-order (a parent before its children,
                                siblings largest first), only kept nodes */
    size_t count;
    char **names;            /* group labels, e.g. "json, re" */
    size_t n_names;
} strobe_view;

/* Builds the view; 0 / -1 on allocation failure. Never recursive. */
int strobe_view_build(const strobe_session *s, const strobe_view_options *opt,
                      strobe_view *out);
void strobe_view_free(strobe_view *v);

#endif
