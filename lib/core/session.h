/* A session: the frame table, the call tree and the metadata of one run.
 * A session loaded from a file renders exactly as a live one does. */
#ifndef STROBE_SESSION_H
#define STROBE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "calltree.h"
#include "frames.h"

typedef struct strobe_session {
    strobe_frames *frames;
    strobe_tree *tree;

    double start_time;     /* seconds since the epoch */
    uint64_t duration_ns;  /* wall time from start to stop */
    uint64_t cpu_ns;       /* CPU time of the profiled thread(s) */
    uint64_t sample_count;
    uint64_t interval_ns;  /* the requested interval */

    char *python_version;  /* owned strings, may be NULL */
    char *target;          /* command line / target description */
    char *mechanism;       /* how sampling was re-armed, e.g. "signal+setprofile" */

    char **errors;         /* things that went wrong while sampling (owned) */
    size_t n_errors;
} strobe_session;

/* Creates an empty session (with an empty frame table and tree). */
strobe_session *strobe_session_new(void);
void strobe_session_free(strobe_session *s);
/* Replace an owned string field with a copy of value (NULL clears it).
 * 0 / -1 on allocation failure. */
int strobe_session_set_string(char **field, const char *value);
/* Appends a copy of msg to errors, unless the same message is there already. */
int strobe_session_add_error(strobe_session *s, const char *msg);

#endif
